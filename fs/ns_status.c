/*
 * .aidata/status: what an operator checks before launching a job, as
 * JSON (aidata status prints it): the origin and revision, the cache
 * (size, bound), and per dataset its files and bytes and how much of it
 * is cached. Generated when opened.
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "origin.h"
#include "units.h"
#include "xalloc.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

/* t as RFC 3339 UTC, or null beyond what gmtime represents */
static json_t *time_json(int64_t t)
{
	char s[UNITS_UTC_LEN];

	return units_format_utc(t, s) ? json_null() : json_string(s);
}

/*
 * The bytes of s's distinct chunks, and of those present in the cache,
 * if its catalog is here (a dataset not yet used is not fetched for a
 * status). Returns false when it is not.
 */
static bool dataset_cached(ns_t *ns, struct ns_slot *s, uint64_t *chunk_bytes,
			   uint64_t *cached)
{
	repo_catalog_t *cat;
	uint32_t count = 0;

	*chunk_bytes = *cached = 0;
	if (!cache_catalog_present(ns->cache, &s->d.catalog) ||
	    ns_slot_catalog(ns, s, &cat) != 0 ||
	    repo_catalog_chunk_count(cat, &count) != 0)
		return false;
	for (uint32_t id = 0; id < count; id++) {
		struct repo_chunk ch;

		if (repo_catalog_chunk(cat, id, &ch) != 0)
			continue;
		*chunk_bytes += ch.size;
		if (cache_chunk_present(ns->cache, &ch))
			*cached += ch.size;
	}
	return true;
}

char *ns_origin_shown(ns_t *ns)
{
	return origin_redact_url(cache_origin(ns->cache));
}

char *ns_status_render(ns_t *ns)
{
	struct ns_rev *r = ns_rev_get(ns);
	struct cache_stats cs;
	json_t *root, *cache, *list;
	char *origin, *text;

	cache_stats_get(ns->cache, &cs);
	origin = ns_origin_shown(ns);
	cache = json_pack("{s:s, s:I, s:I, s:I}", "dir", cache_dir(ns->cache),
			  "bytes", (json_int_t)cs.cache_bytes, "max_bytes",
			  (json_int_t)cs.max_bytes, "chunks",
			  (json_int_t)cs.chunks_cached);
	list = json_array();
	for (size_t i = 0; i < r->n; i++) {
		struct ns_slot *s = ns_slot_at(ns, r->slots[i]);
		uint64_t chunk_bytes, cached;
		bool here = dataset_cached(ns, s, &chunk_bytes, &cached);

		json_array_append_new(
		    list,
		    json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "name",
			s->d.name, "tier", repo_tier_name(s->d.tier), "license",
			s->d.license, "industry", s->d.industry, "modality",
			s->d.modality, "files", (json_int_t)s->d.files, "bytes",
			(json_int_t)s->d.bytes, "chunk_bytes",
			here ? json_integer((json_int_t)chunk_bytes)
			     : json_null(),
			"cached",
			here ? json_integer((json_int_t)cached) : json_null()));
	}
	root = json_pack("{s:s, s:I, s:o, s:I, s:o, s:o}", "origin", origin,
			 "revision", (json_int_t)r->m.revision, "created",
			 time_json(r->m.created), "ttl", (json_int_t)r->m.ttl,
			 "cache", cache, "datasets", list);
	ns_rev_put(ns, r);
	free(origin);
	text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (!text)
		return xstrdup("{}\n");
	{
		char *with_newline = xasprintf("%s\n", text);

		free(text);
		return with_newline;
	}
}

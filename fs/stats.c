#include "stats.h"
#include "buf.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

static void metric(struct buf *b, const char *name, const char *type,
		   const char *help, const char *labels, uint64_t value)
{
	char line[512];
	int n;

	if (help) {
		n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n",
			     name, help, name, type);
		buf_append(b, line, (size_t)n);
	}
	n = snprintf(line, sizeof(line), "%s%s %" PRIu64 "\n", name,
		     labels ? labels : "", value);
	buf_append(b, line, (size_t)n);
}

#define SECONDS_(n) #n
#define SECONDS(n) SECONDS_(n)

/* One exposed value: metrics of one name follow each other, the first
 * with its help text. */
struct metric_def {
	const char *name, *type, *help, *labels;
	uint64_t value;
};

/* Per mirror of the origin, labelled with its URL (no userinfo). */
static void mirrors_render(struct buf *b, const struct cache_stats *cs)
{
	static const char *const names[] = {
	    "aidatafs_mirror_requests_total",
	    "aidatafs_mirror_bytes_total",
	    "aidatafs_mirror_failures_total",
	    "aidatafs_mirror_avoided_total",
	};
	static const char *const helps[] = {
	    "Requests sent to each mirror.",
	    "Body bytes received from each mirror.",
	    "Failed requests and refused answers (digest mismatch, older or "
	    "foreign manifest) per mirror.",
	    "Times each mirror was passed over after a failure.",
	};

	for (size_t k = 0; k < 4; k++) {
		for (size_t i = 0; i < cs->mirrors; i++) {
			const struct cache_mirror_stats *m = &cs->mirror[i];
			const uint64_t v[] = {m->requests, m->bytes,
					      m->failures, m->avoided};
			char labels[300], url[256];
			size_t j = 0;

			for (const char *p = m->url; *p && j < sizeof(url) - 1;
			     p++)
				url[j++] = (*p == '"' || *p == '\\') ? '_' : *p;
			url[j] = '\0';
			snprintf(labels, sizeof(labels), "{mirror=\"%s\"}",
				 url);
			metric(b, names[k], "counter", i ? NULL : helps[k],
			       labels, v[k]);
		}
	}
}

char *stats_render(const struct cache_stats *cs, const struct fs_counters *fc)
{
	const struct metric_def defs[] = {
	    {"aidatafs_revision", "gauge", "Repository revision being served.",
	     NULL, fc->revision},
	    {"aidatafs_datasets", "gauge", "Datasets in the current revision.",
	     NULL, fc->datasets},
	    {"aidatafs_cache_hits_total", "counter",
	     "Chunk reads served from the local cache.", NULL, cs->hits},
	    {"aidatafs_cache_misses_total", "counter",
	     "Chunk reads that had to fetch from the origin.", NULL,
	     cs->misses},
	    {"aidatafs_prefetches_total", "counter",
	     "Chunks fetched ahead of readers (readahead, aidata prefetch).",
	     NULL, cs->prefetches},
	    {"aidatafs_warm_readahead_total", "counter",
	     "Cached chunks read from the cache's disk into the page cache "
	     "ahead of readers.",
	     NULL, cs->warmed_ahead},
	    {"aidatafs_early_reads_total", "counter",
	     "Cache misses of a random reader answered once its bytes were "
	     "verified and decoded, before the rest of the chunk was "
	     "decoded and stored.",
	     NULL, cs->early_reads},
	    {"aidatafs_bytes_fetched_total", "counter",
	     "Bytes received from the origin for catalogs and chunks, all of "
	     "them (from a server that ignores Range, the bytes before a "
	     "chunk too).",
	     NULL, cs->bytes_fetched},
	    {"aidatafs_bytes_served_total", "counter",
	     "File bytes returned to readers.", NULL, fc->bytes_served},
	    {"aidatafs_reads_total", "counter", "Read requests answered.", NULL,
	     fc->reads},
	    {"aidatafs_opens_total", "counter", "Files opened.", NULL,
	     fc->opens},
	    {"aidatafs_fuse_ring_requests_total", "counter",
	     "FUSE requests taken from io_uring rings (the others came "
	     "through /dev/fuse).",
	     NULL, fc->ring_requests},
	    {"aidatafs_chunks_cached", "gauge", "Chunks in the cache index.",
	     NULL, cs->chunks_cached},
	    {"aidatafs_cache_bytes", "gauge", "Bytes of chunks in the cache.",
	     NULL, cs->cache_bytes},
	    {"aidatafs_cache_max_bytes", "gauge",
	     "Configured cache_size (0: unlimited).", NULL, cs->max_bytes},
	    {"aidatafs_cache_evictions_total", "counter",
	     "Chunks evicted to keep the cache under cache_size.", NULL,
	     cs->evictions},
	    {"aidatafs_origin_requests_total", "counter",
	     "Requests sent to the origin.", NULL, cs->origin_requests},
	    {"aidatafs_origin_retries_total", "counter",
	     "Origin requests retried after a failure.", NULL,
	     cs->origin_retries},
	    {"aidatafs_secure_decryptions_total", "counter",
	     "Secure chunks decrypted into memory (once per chunk while any "
	     "reader holds it).",
	     NULL, cs->decryptions},
	    {"aidatafs_failed_from_memory_total", "counter",
	     "Chunk and catalog reads failed at once, without asking the "
	     "origin, because the same object's fetch failed less "
	     "than " SECONDS(CACHE_FAILED_SEC) " seconds before.",
	     NULL, cs->failed_from_memory},
	    {"aidatafs_errors_total", "counter", "Errors by kind.",
	     "{kind=\"verify\"}", cs->err_verify},
	    {"aidatafs_errors_total", "counter", NULL,
	     "{kind=\"origin_timeout\"}", cs->err_origin_timeout},
	    {"aidatafs_errors_total", "counter", NULL, "{kind=\"origin_io\"}",
	     cs->err_origin_io},
	    {"aidatafs_errors_total", "counter", NULL, "{kind=\"cache_full\"}",
	     cs->err_cache_full},
	    {"aidatafs_errors_total", "counter", NULL, "{kind=\"read\"}",
	     fc->read_errors},
	    {"aidatafs_errors_total", "counter", NULL, "{kind=\"refresh\"}",
	     fc->refresh_errors},
	    {"aidatafs_errors_total", "counter", NULL,
	     "{kind=\"rollback_refused\"}", fc->rollbacks_refused},
	};
	struct buf b;
	char *text;
	size_t len;

	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		metric(&b, defs[i].name, defs[i].type, defs[i].help,
		       defs[i].labels, defs[i].value);
	metric(&b, "aidatafs_proxy_failovers_total", "counter",
	       "Moves to the next entry of the proxy= list.", NULL,
	       cs->proxy_failovers);
	mirrors_render(&b, cs);
	if (buf_take_string(&b, &text, &len) != 0)
		return xstrdup(""); /* cannot happen: 64 KiB is ample */
	return text;
}

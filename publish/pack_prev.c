/*
 * The revision a pack extends: its manifest, its root catalog and, on
 * demand, its dataset catalogs, read from the local repository and
 * verified like any reader does (manifest signature, catalog digests).
 * The dedup index learns every chunk it stores, and datasets keep their
 * ids (FORMAT.md §9.3).
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

struct pack_prev {
	char *repo;
	char *scratch; /* unpacked catalogs, <hex>.mdb */
	struct repo_manifest manifest;
	repo_catalog_t *root;
};

/* Verify, unpack (once) and open the catalog object with digest d. */
static int catalog_open(struct pack_prev *p, const struct digest *d,
			repo_catalog_t **out)
{
	char rel[128], hex[DIGEST_HEX_LEN + 1];
	char *object, *path;
	int rc = 0;

	repo_catalog_object_path(d, rel, sizeof(rel));
	digest_to_hex(d, hex);
	object = xasprintf("%s/%s", p->repo, rel);
	path = xasprintf("%s/%s.mdb", p->scratch, hex);
	if (access(path, F_OK) != 0)
		rc = repo_catalog_unpack(object, d, path);
	if (!rc)
		rc = repo_catalog_open(path, out);
	if (rc == -EBADMSG)
		log_error("catalog '%s': digest mismatch", object);
	else if (rc)
		log_error("catalog '%s': %s", object, strerror(-rc));
	free(object);
	free(path);
	/* a missing catalog is a broken revision, not "no revision" */
	return rc == -ENOENT ? -EIO : rc;
}

int pack_prev_open(publish_lock_t *lock, const repo_key_t *key,
		   const char *scratch, struct pack_prev **out)
{
	struct pack_prev *p = xcalloc(1, sizeof(*p));
	int rc;

	p->repo = xstrdup(publish_lock_repo(lock));
	p->scratch = xstrdup(scratch);
	rc = publish_manifest_read(lock, key, &p->manifest);
	if (!rc)
		rc = catalog_open(p, &p->manifest.root_catalog, &p->root);
	if (rc) {
		pack_prev_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void pack_prev_free(struct pack_prev *p)
{
	if (!p)
		return;
	repo_catalog_free(p->root);
	repo_manifest_release(&p->manifest);
	free(p->repo);
	free(p->scratch);
	free(p);
}

const struct repo_manifest *pack_prev_manifest(const struct pack_prev *p)
{
	return &p->manifest;
}

struct seed_ctx {
	struct pack_prev *prev;
	struct pack_index *ix;
	struct pack_spec *spec;
	uint32_t next_id;
};

/* Index every chunk of dataset d; a dataset packed again keeps its id. */
static int seed_dataset(void *arg, const struct repo_dataset *d)
{
	struct seed_ctx *ctx = arg;
	repo_catalog_t *cat = NULL;
	uint32_t count = 0;
	int rc;

	if (d->id >= ctx->next_id)
		ctx->next_id = d->id + 1;
	for (size_t i = 0; i < ctx->spec->count; i++)
		if (!strcmp(ctx->spec->entries[i].d.name, d->name))
			ctx->spec->entries[i].d.id = d->id + 1; /* +1: set */
	rc = catalog_open(ctx->prev, &d->catalog, &cat);
	if (!rc)
		rc = repo_catalog_chunk_count(cat, &count);
	for (uint32_t id = 0; !rc && id < count; id++) {
		struct pack_location loc = {.shard_seq = PACK_SHARD_FINAL};
		struct digest key;

		rc = repo_catalog_chunk(cat, id, &loc.chunk);
		if (rc)
			break;
		if (loc.chunk.flags & REPO_CHUNK_ENCRYPTED)
			pack_secure_index_key(d->name, &loc.chunk.digest, &key);
		else
			key = loc.chunk.digest;
		rc = pack_index_put(ctx->ix, &key, &loc);
	}
	repo_catalog_free(cat);
	return rc;
}

int pack_prev_seed(struct pack_prev *p, struct pack_index *ix,
		   struct pack_spec *spec, uint32_t *next_id)
{
	struct seed_ctx ctx = {p, ix, spec, 0};
	char *next = NULL;
	int rc;

	rc = repo_catalog_datasets(p->root, seed_dataset, &ctx);
	if (rc) {
		log_error("cannot read the previous revision of '%s': %s",
			  p->repo, strerror(-rc));
		return rc;
	}
	/* ids of removed datasets are never handed out again */
	if (repo_catalog_meta(p->root, "next-dataset-id", &next) == 0) {
		uint32_t n = (uint32_t)strtoul(next, NULL, 10);

		if (n > ctx.next_id)
			ctx.next_id = n;
	}
	free(next);
	for (size_t i = 0; i < spec->count; i++) {
		if (spec->entries[i].d.id)
			spec->entries[i].d.id--;
		else
			spec->entries[i].d.id = ctx.next_id++;
	}
	*next_id = ctx.next_id;
	return 0;
}

int pack_prev_dataset(struct pack_prev *p, const char *name,
		      struct repo_dataset *d, repo_catalog_t **cat)
{
	int rc = repo_catalog_dataset(p->root, name, d);

	if (rc)
		return rc;
	rc = catalog_open(p, &d->catalog, cat);
	if (rc)
		repo_dataset_release(d);
	return rc;
}

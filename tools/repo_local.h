/* Reading a repository that is a local directory, for the tools. */
#ifndef AIDATA_REPO_LOCAL_H
#define AIDATA_REPO_LOCAL_H

#include "cache.h"
#include "repo.h"

struct local_repo {
	char *root;	/* the repository directory, or NULL for a URL */
	cache_t *cache; /* URL repositories: fetched through cache/ */
	char *scratch;	/* private temp dir for unpacked catalogs */
	struct repo_manifest manifest;
	repo_catalog_t *root_catalog;
};

/*
 * Open the repository in dir (a local directory, or a file://, http:// or
 * https:// URL, fetched with the mount's own code into a temporary cache):
 * read and verify the manifest with key (a
 * public key, or a private key whose public half is used), fetch and
 * verify the root catalog. Unpacked catalogs go to a new directory under
 * $TMPDIR, removed by local_repo_free. Errors are printed, naming the
 * object. Returns 0, -ENOENT (no manifest), -EBADMSG, -EINVAL or -errno.
 */
int local_repo_open(const char *dir, const repo_key_t *key,
		    struct local_repo **out);
void local_repo_free(struct local_repo *r);
/* Verify, unpack and open dataset d's catalog; free with
 * repo_catalog_free. */
int local_repo_dataset_catalog(struct local_repo *r,
			       const struct repo_dataset *d,
			       repo_catalog_t **out);
/* Read chunk c from its shard, decompress and verify into out (c->size
 * bytes). -EBADMSG/-EINVAL name the chunk in an error message. */
int local_repo_read_chunk(struct local_repo *r, const struct repo_chunk *c,
			  uint8_t *out);

/* The stored bytes of chunk c (c->stored_size), unverified: for chunks
 * only their dataset key can check. Local repositories only. */
int local_repo_read_stored(struct local_repo *r, const struct repo_chunk *c,
			   uint8_t *stored);

/* Resolve "dataset/some/path" to its dataset, catalog and inode.
 * Empty path or "/" gives ino 0 (the repository root). */
struct local_path {
	struct repo_dataset dataset; /* valid when ino != 0 */
	repo_catalog_t *catalog;     /* valid when ino != 0 */
	uint64_t ino;
};
int local_repo_resolve(struct local_repo *r, const char *path,
		       struct local_path *out);
void local_path_release(struct local_path *p);

#endif

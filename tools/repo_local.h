/*
 * Reading a repository for the tools: a local directory or a URL, either
 * way through cache/ (a transient cache in a scratch directory, with the
 * mount's own origin code), so the tools and the mount read and verify
 * chunks with one implementation.
 */
#ifndef AIDATA_REPO_LOCAL_H
#define AIDATA_REPO_LOCAL_H

#include "cache.h"
#include "repo.h"

struct local_repo {
	cache_t *cache; /* the repository, fetched through cache/ */
	char *scratch;	/* private temp dir: the cache's directory */
	struct repo_manifest manifest;
	repo_catalog_t *root_catalog;
};

/*
 * Open the repository in dir (a local directory, or a file://, http:// or
 * https:// URL): read and verify the manifest with key (a public key, or
 * a private key whose public half is used), fetch and verify the root
 * catalog. Unpacked catalogs go to a new directory under $TMPDIR,
 * removed by local_repo_free; chunks are never stored. Errors are
 * printed, naming the object. Returns 0, -ENOENT (no manifest),
 * -EBADMSG, -EINVAL or -errno. Free *out with local_repo_free.
 */
int local_repo_open(const char *dir, const repo_key_t *key,
		    struct local_repo **out);
void local_repo_free(struct local_repo *r);
/* Verify, unpack and open dataset d's catalog into *out; free it with
 * repo_catalog_free before local_repo_free. */
int local_repo_dataset_catalog(struct local_repo *r,
			       const struct repo_dataset *d,
			       repo_catalog_t **out);
/*
 * Read chunk c, decompress and verify into out (c->size bytes); key is
 * the dataset key of an encrypted chunk (NULL otherwise, and an
 * encrypted chunk then gives -ENOKEY). Returns 0 or -errno; the error
 * is printed, naming the chunk (and its shard: the cache's log line).
 */
int local_repo_read_chunk(struct local_repo *r, const struct repo_chunk *c,
			  const uint8_t *key, uint8_t *out);

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

#define _GNU_SOURCE
#include "repo_local.h"
#include "origin.h"
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

static int unpack_catalog(struct local_repo *r, const struct digest *d,
			  uint64_t size, char **out_path)
{
	char rel[128], why[CACHE_WHY_MAX];
	int rc = cache_catalog_path(r->cache, d, size, out_path, why);

	/* -ENOENT means "no manifest" to callers; a catalog is just bad */
	if (rc == -ENOENT)
		rc = -EIO;
	if (rc) {
		repo_catalog_object_path(d, rel, sizeof(rel));
		fprintf(stderr, "aidata: catalog '%s': %s\n", rel,
			why[0] ? why : strerror(-rc));
	}
	return rc;
}

int local_repo_open(const char *dir, const repo_key_t *key,
		    struct local_repo **out)
{
	struct local_repo *r = xcalloc(1, sizeof(*r));
	const char *tmp = getenv("TMPDIR");
	char *mpath, *data = NULL, *cat_path = NULL, why[CACHE_WHY_MAX];
	char *url = cache_origin_url(dir);
	struct cache_options co = {
	    .origin_url = url,
	    .timeout_sec = 20,
	    .retries = 3,
	    .prefetch_threads = 1,
	    .transient = true,
	};
	size_t len;
	int rc;

	r->scratch = xasprintf("%s/aidata.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	co.dir = r->scratch;
	if (!mkdtemp(r->scratch)) {
		rc = -errno;
		fprintf(stderr, "aidata: cannot create '%s': %s\n", r->scratch,
			strerror(errno));
		free(r->scratch);
		r->scratch = NULL;
		goto out;
	}
	{
		/* for messages: never a password or key from the URL */
		char *shown = origin_redact_url(dir);

		mpath = xasprintf("%s/manifest", shown);
		free(shown);
	}
	/* a directory without a manifest is a new repository, not an error
	 * worth the origin's warning */
	if (!strstr(dir, "://") && access(mpath, F_OK) != 0 &&
	    errno == ENOENT) {
		rc = -ENOENT;
		free(mpath);
		goto out;
	}
	rc = cache_new(&co, &r->cache);
	if (rc) {
		fprintf(stderr, "aidata: '%.*s': cannot use this origin\n",
			(int)(strlen(mpath) - strlen("/manifest")), mpath);
		free(mpath);
		goto out;
	}
	rc = cache_manifest_fetch(r->cache, &data, &len, why);
	if (rc) {
		if (rc != -ENOENT)
			fprintf(stderr, "aidata: manifest '%s': %s\n", mpath,
				why);
		free(mpath);
		goto out;
	}
	rc = repo_manifest_decode_reason(data, len, key, &r->manifest, why,
					 sizeof(why));
	if (rc)
		fprintf(stderr, "aidata: manifest '%s': %s\n", mpath, why);
	free(mpath);
	if (rc)
		goto out;
	rc = unpack_catalog(r, &r->manifest.root_catalog,
			    r->manifest.root_catalog_size, &cat_path);
	if (rc)
		goto out;
	rc = repo_catalog_open(cat_path, &r->root_catalog);
	if (rc)
		fprintf(stderr, "aidata: root catalog: cannot open: %s\n",
			strerror(-rc));
out:
	free(url);
	free(data);
	free(cat_path);
	if (rc)
		local_repo_free(r);
	else
		*out = r;
	return rc;
}

void local_repo_free(struct local_repo *r)
{
	if (!r)
		return;
	repo_catalog_free(r->root_catalog);
	cache_free(r->cache);
	repo_manifest_release(&r->manifest);
	if (r->scratch)
		fs_remove_tree(r->scratch);
	free(r->scratch);
	free(r);
}

int local_repo_dataset_catalog(struct local_repo *r,
			       const struct repo_dataset *d,
			       repo_catalog_t **out)
{
	char *path = NULL;
	int rc = unpack_catalog(r, &d->catalog, d->catalog_size, &path);

	if (rc)
		return rc;
	rc = repo_catalog_open(path, out);
	if (rc)
		fprintf(stderr, "aidata: catalog of dataset '%s': %s\n",
			d->name, strerror(-rc));
	free(path);
	return rc;
}

int local_repo_read_chunk(struct local_repo *r, const struct repo_chunk *c,
			  const uint8_t *key, uint8_t *out)
{
	char hex[DIGEST_HEX_LEN + 1], rel[128];
	struct cache_chunk_ref ref;
	int rc;

	rc = cache_chunk_acquire(r->cache, c, key, &ref);
	if (rc) {
		/* the cache logged why; name the chunk and where it lives */
		digest_to_hex(&c->digest, hex);
		repo_shard_object_path(&c->shard, rel, sizeof(rel));
		fprintf(stderr, "aidata: chunk '%s' in shard '%s': %s\n", hex,
			rel,
			rc == -EIO ? "unavailable, corrupt or does not verify"
				   : strerror(-rc));
		return rc;
	}
	if (ref.fd >= 0)
		rc = fs_pread_all(ref.fd, out, c->size, 0);
	else
		memcpy(out, ref.mem, c->size);
	cache_chunk_release(r->cache, &ref);
	return rc;
}

/* The next '/'-separated component of *p (empty ones skipped) into a
 * new string, or NULL at the end. */
static char *next_component(const char **p)
{
	const char *start = *p, *end;

	while (*start == '/')
		start++;
	if (!*start)
		return NULL;
	end = strchrnul(start, '/');
	*p = end;
	return xstrndup(start, (size_t)(end - start));
}

int local_repo_resolve(struct local_repo *r, const char *path,
		       struct local_path *out)
{
	char *part;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	part = next_component(&path);
	if (!part)
		return 0;
	rc = repo_catalog_dataset(r->root_catalog, part, &out->dataset);
	free(part);
	if (rc)
		goto done;
	rc = local_repo_dataset_catalog(r, &out->dataset, &out->catalog);
	if (rc)
		goto done;
	out->ino = REPO_ROOT_INO;
	while ((part = next_component(&path))) {
		uint32_t type;

		rc = repo_catalog_lookup(out->catalog, out->ino, part,
					 strlen(part), &out->ino, &type);
		free(part);
		if (rc)
			break;
	}
done:
	if (rc)
		local_path_release(out);
	return rc;
}

void local_path_release(struct local_path *p)
{
	repo_catalog_free(p->catalog);
	repo_dataset_release(&p->dataset);
	memset(p, 0, sizeof(*p));
}

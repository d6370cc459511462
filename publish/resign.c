/*
 * The manifest, as publishers write it: read and verify the current one,
 * build the next (revision + 1, revoked ids accumulated), sign it and
 * replace it atomically. publish_pack and publish_manifest_resign share
 * all of it.
 */
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

int publish_manifest_read(publish_lock_t *lock, const repo_key_t *key,
			  struct repo_manifest *m)
{
	char *path = publish_object_name(lock, "manifest"), *data = NULL;
	char why[REPO_MANIFEST_WHY_MAX];
	size_t len;
	int rc;

	rc = publish_object_read(lock, "manifest", REPO_MANIFEST_MAX, &data,
				 &len);
	if (rc)
		goto out;
	rc = repo_manifest_decode_reason(data, len, key, m, why, sizeof(why));
	if (rc == -EBADMSG)
		log_error("'%s' was signed by a different platform key",
			  publish_lock_repo(lock));
	else if (rc)
		log_error("manifest '%s': %s", path, why);
out:
	free(path);
	free(data);
	return rc;
}

void publish_manifest_next(const struct repo_manifest *prev,
			   const struct digest *root, uint64_t root_size,
			   uint32_t ttl, const char *const *revoke,
			   size_t revoke_count, struct repo_manifest *next)
{
	size_t cap = revoke_count + (prev ? prev->revoked_count : 0);

	memset(next, 0, sizeof(*next));
	next->format = REPO_MANIFEST_FORMAT;
	next->revision = prev ? prev->revision + 1 : 1;
	next->root_catalog = *root;
	next->root_catalog_size = root_size;
	next->created = (int64_t)time(NULL);
	next->ttl = ttl;
	next->revoked = xcalloc(cap ? cap : 1, sizeof(char *));
	for (size_t i = 0; prev && i < prev->revoked_count; i++)
		next->revoked[next->revoked_count++] =
		    xstrdup(prev->revoked[i]);
	for (size_t i = 0; i < revoke_count; i++) {
		bool dup = false;

		for (size_t k = 0; k < next->revoked_count; k++)
			dup |= !strcmp(next->revoked[k], revoke[i]);
		if (!dup)
			next->revoked[next->revoked_count++] =
			    xstrdup(revoke[i]);
	}
}

int publish_manifest_sign(const struct repo_manifest *m, const repo_key_t *key,
			  char **out, size_t *len)
{
	int rc;

	for (size_t i = 0; i < m->revoked_count; i++) {
		if (!repo_jti_valid(m->revoked[i], strlen(m->revoked[i]))) {
			char *e = log_escape(m->revoked[i]);

			log_error("credential id '%s': may only hold letters, "
				  "digits, '.', '_' and '-' (1 to 128)",
				  e);
			free(e);
			return -EINVAL;
		}
	}
	rc = repo_manifest_encode(m, key, out, len);
	if (rc)
		log_error("cannot sign the manifest: %s", strerror(-rc));
	return rc;
}

int publish_manifest_replace(publish_lock_t *lock, const char *data, size_t len)
{
	return publish_object_write(lock, "manifest", data, len);
}

/*
 * The size of the locked repository's root catalog d, for a manifest of
 * format 1, which does not say it: the object is read whole and must be
 * the one d names, since the size is about to be signed. (Readers cap a
 * format-1 root catalog at 64 MiB; so does this.)
 */
static int root_catalog_measure(publish_lock_t *lock, const struct digest *d,
				uint64_t *size)
{
	char rel[128], *name;
	struct digest got;
	int rc;

	repo_catalog_object_path(d, rel, sizeof(rel));
	rc = publish_object_digest(lock, rel, 64u << 20, &got, size);
	if (!rc && !digest_equal(&got, d)) {
		name = publish_object_name(lock, rel);
		log_error("root catalog '%s' does not match its digest: "
			  "refusing to sign its size",
			  name);
		free(name);
		rc = -EBADMSG;
	}
	return rc;
}

int publish_manifest_resign(publish_lock_t *lock, const repo_key_t *key,
			    const char *const *revoke, size_t revoke_count,
			    uint64_t *revision, size_t *revoked_count)
{
	struct repo_manifest cur = {0}, next = {0};
	uint64_t root_size;
	char *data = NULL;
	size_t len;
	int rc;

	rc = publish_manifest_read(lock, key, &cur);
	if (rc == -ENOENT)
		log_error("'%s' has no manifest: not an aidata repository",
			  publish_lock_repo(lock));
	if (rc)
		goto out;
	/* a format-1 manifest is upgraded: the next one says the size */
	root_size = cur.root_catalog_size;
	if (!root_size)
		rc = root_catalog_measure(lock, &cur.root_catalog, &root_size);
	if (rc)
		goto out;
	publish_manifest_next(&cur, &cur.root_catalog, root_size, cur.ttl,
			      revoke, revoke_count, &next);
	rc = publish_manifest_sign(&next, key, &data, &len);
	if (!rc)
		rc = publish_manifest_replace(lock, data, len);
	if (rc)
		goto out;
	if (revision)
		*revision = next.revision;
	if (revoked_count)
		*revoked_count = next.revoked_count;
out:
	repo_manifest_release(&cur);
	repo_manifest_release(&next);
	free(data);
	return rc;
}

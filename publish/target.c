/*
 * Single objects of the locked repository, wherever it is: a directory
 * (files replaced by an atomic rename) or a bucket (objects replaced by
 * one PUT). The manifest and the sealed keys are written through here,
 * so aidata revoke and grant-node work on both; publish_pack and
 * publish_push move whole trees of objects and have their own loops.
 */
#include "publish_int.h"
#include "digest.h"
#include "fsutil.h"
#include "log.h"
#include "origin.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

char *publish_object_name(const publish_lock_t *lock, const char *rel)
{
	return xasprintf(
	    "%s%s%s", lock->repo,
	    lock->repo[0] && lock->repo[strlen(lock->repo) - 1] == '/' ? ""
								       : "/",
	    rel);
}

int publish_object_read(publish_lock_t *lock, const char *rel, size_t max,
			char **data, size_t *len)
{
	struct origin_req req;
	struct buf b;
	int rc;

	if (!lock->origin) {
		char *path = publish_object_name(lock, rel);

		rc = fs_read_file(path, max, data, len);
		if (rc && rc != -ENOENT)
			log_error("'%s': %s", path, strerror(-rc));
		free(path);
		return rc;
	}
	buf_init(&b, max + 1);
	origin_req_init(&req, rel, max, 0);
	rc = origin_get(lock->origin, &req, &b);
	if (!rc)
		rc = buf_take_string(&b, data, len);
	else if (rc != -ENOENT)
		log_error("%s", req.why);
	buf_release(&b);
	return rc;
}

int publish_object_write(publish_lock_t *lock, const char *rel,
			 const void *data, size_t len)
{
	struct origin_req req;
	char *path, *slash;
	int rc = 0;

	if (lock->origin) {
		origin_req_init(&req, rel, 0, 0);
		rc = origin_put(lock->origin, &req, data, len);
		if (rc)
			log_error("%s", req.why);
		return rc;
	}
	path = publish_object_name(lock, rel);
	slash = strrchr(path, '/');
	if (strchr(rel, '/')) {
		/* keys/ etc. are published like catalog/ and data/:
		 * world-readable */
		*slash = '\0';
		rc = fs_mkdir_p(path, 0755);
		*slash = '/';
	}
	if (!rc)
		rc = fs_write_atomic(path, data, len, 0644);
	if (rc)
		log_error("cannot write '%s': %s", path, strerror(-rc));
	free(path);
	return rc;
}

int publish_object_digest(publish_lock_t *lock, const char *rel, size_t max,
			  struct digest *d, uint64_t *size)
{
	struct origin_req req;
	struct buf b;
	int rc;

	if (!lock->origin) {
		char *path = publish_object_name(lock, rel);

		rc = sha256_file(path, d, size);
		if (rc)
			log_error("'%s': %s", path, strerror(-rc));
		free(path);
		return rc;
	}
	buf_init(&b, max);
	origin_req_init(&req, rel, max, 0);
	rc = origin_get(lock->origin, &req, &b);
	if (rc) {
		log_error("%s", req.why);
	} else {
		sha256_buffer(b.data, b.len, d);
		*size = b.len;
	}
	buf_release(&b);
	return rc;
}

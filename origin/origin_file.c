/* file:// origins: objects are files under a local directory. */
#define _GNU_SOURCE
#include "origin_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* One log line and req->why: "'<path>': <why>". */
static void file_fail(origin_t *o, struct origin_req *req, const char *why)
{
	log_warn("fetch '%s%s' failed: %s", o->log_base, req->rel, why);
	origin_req_why(req, "'%s%s': %s", o->log_base, req->rel, why);
}

static int file_open(origin_t *o, struct origin_req *req, int *fdp,
		     uint64_t *size)
{
	char *path = xasprintf("%s%s", o->base, req->rel);
	struct stat st;
	int fd, rc = 0;

	stat_add(&o->requests, 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EIO;
		file_fail(o, req, strerror(errno));
		if (rc != -ENOENT)
			stat_add(&o->other_errors, 1);
		goto out;
	}
	errno = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		file_fail(o, req,
			  errno ? strerror(errno) : "not a regular file");
		close(fd);
		stat_add(&o->other_errors, 1);
		rc = -EIO;
		goto out;
	}
	*fdp = fd;
	*size = (uint64_t)st.st_size;
out:
	free(path);
	return rc;
}

/* The size check of a whole object: 0, or an error said in req. */
static int file_check_size(origin_t *o, struct origin_req *req, uint64_t size)
{
	char why[128];

	if ((req->flags & ORIGIN_EXACT) && size != req->size) {
		snprintf(why, sizeof(why),
			 "%" PRIu64 " bytes, expected %" PRIu64, size,
			 req->size);
		file_fail(o, req, why);
		return -EIO;
	}
	if (size > req->size) {
		snprintf(why, sizeof(why),
			 "%" PRIu64 " bytes, over the cap of %" PRIu64, size,
			 req->size);
		file_fail(o, req, why);
		return -EFBIG;
	}
	return 0;
}

/*
 * Whole object into out (fd < 0) or into fd. Read until EOF rather than
 * trusting the size from fstat, so a file that grows or shrinks meanwhile
 * is still held to the size.
 */
int origin_file_get(origin_t *o, struct origin_req *req, struct buf *out,
		    int out_fd)
{
	uint8_t *chunk = NULL;
	uint64_t size, got = 0;
	int fd = -1, rc;

	rc = file_open(o, req, &fd, &size);
	if (rc)
		return rc;
	rc = file_check_size(o, req, size);
	if (rc)
		goto out;
	chunk = xmalloc(ORIGIN_FILE_CHUNK);
	for (;;) {
		ssize_t r = read(fd, chunk, ORIGIN_FILE_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			file_fail(o, req, strerror(errno));
			rc = -EIO;
			goto out;
		}
		if (r == 0)
			break;
		got += (uint64_t)r;
		req->received += (uint64_t)r;
		stat_add(&o->bytes, (uint64_t)r);
		if (got > req->size) {
			rc = file_check_size(o, req, got);
			goto out;
		}
		if (out_fd < 0) {
			rc = buf_append(out, chunk, (size_t)r);
			if (rc) {
				file_fail(o, req,
					  "larger than the buffer's cap");
				goto out;
			}
		} else if (fs_write_all(out_fd, chunk, (size_t)r) != 0) {
			file_fail(o, req, strerror(errno));
			rc = -EIO;
			goto out;
		}
	}
	if ((req->flags & ORIGIN_EXACT) && got != req->size)
		rc = file_check_size(o, req, got);
out:
	if (rc)
		stat_add(&o->other_errors, 1);
	free(chunk);
	close(fd);
	return rc;
}

int origin_file_get_range(origin_t *o, struct origin_req *req, uint64_t off,
			  struct buf *out)
{
	size_t len = (size_t)req->size;
	uint64_t size;
	int fd = -1, rc;

	rc = file_open(o, req, &fd, &size);
	if (rc)
		return rc;
	if (off > size || len > size - off) {
		char why[96];

		snprintf(why, sizeof(why),
			 "range %" PRIu64 "+%zu is past the end (%" PRIu64
			 " bytes)",
			 off, len, size);
		file_fail(o, req, why);
		rc = -EIO;
		goto out;
	}
	rc = buf_reserve(out, len);
	if (rc) {
		file_fail(o, req, "range is larger than the buffer's cap");
		goto out;
	}
	rc = fs_pread_all(fd, out->data + out->len, len, (off_t)off);
	if (rc) {
		file_fail(o, req, rc == -EIO ? "short read" : strerror(-rc));
		rc = -EIO;
		goto out;
	}
	out->len += len;
	req->received += len;
	stat_add(&o->bytes, len);
out:
	if (rc)
		stat_add(&o->other_errors, 1);
	close(fd);
	return rc;
}

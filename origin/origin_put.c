/*
 * Writes to an s3:// origin, for the publisher: HEAD, PUT (conditional
 * with If-None-Match: * for the lock), multipart upload for large
 * objects, DELETE. Each request is signed (SigV4) over the SHA-256 of
 * its body; transient failures (connection errors, timeouts, 5xx, 429)
 * are retried with backoff like reads (origin_http.c), every other
 * answer is final. Bodies are sent from memory (a part at a time for a
 * multipart upload), so curl hashes exactly what it sends.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "digest.h"
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

#define PUT_RESPONSE_MAX (64 * 1024) /* XML answers: UploadId, errors */
#define PUT_PARTS_MAX 10000	     /* S3's limit on parts */
#define PUT_PART_MIN (5u << 20)	     /* S3's minimum (but the last) */

struct put_call {
	origin_t *o;
	struct origin_req *req;
	const char *method; /* "PUT", "POST", "HEAD", "DELETE" */
	const char *query;  /* "" or "?uploads=", sorted parameters */
	const void *body;   /* NULL: no body */
	size_t len;
	bool if_absent;	  /* If-None-Match: * */
	const char *what; /* " (part 3 of 7)", for messages */
	/* the answer */
	long status;
	int64_t length; /* Content-Length, -1 when none */
	char etag[160];
	struct buf resp;
};

static size_t put_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct put_call *c = arg;
	size_t n = size * nmemb, k, i;

	if (n >= 5 && !strncasecmp(p, "HTTP/", 5)) {
		c->etag[0] = '\0';
		c->length = -1;
	} else if (n > 5 && !strncasecmp(p, "etag:", 5)) {
		for (i = 5; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		k = n - i;
		while (k && (p[i + k - 1] == '\r' || p[i + k - 1] == '\n' ||
			     p[i + k - 1] == ' '))
			k--;
		if (k < sizeof(c->etag)) {
			memcpy(c->etag, p + i, k);
			c->etag[k] = '\0';
		}
	} else if (n > 15 && !strncasecmp(p, "content-length:", 15)) {
		char v[32];
		char *end;

		k = n - 15 < sizeof(v) - 1 ? n - 15 : sizeof(v) - 1;
		memcpy(v, p + 15, k);
		v[k] = '\0';
		errno = 0;
		c->length = (int64_t)strtoll(v, &end, 10);
		if (errno || end == v || c->length < 0)
			c->length = -1;
	}
	return n;
}

static size_t put_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct put_call *c = arg;
	size_t n = size * nmemb;

	stat_add(&c->o->bytes, n);
	if (buf_append(&c->resp, p, n) != 0)
		return 0; /* an answer this long is not S3's */
	return n;
}

/* One attempt; 0 once an HTTP answer came (c->status), else -errno with
 * why set and *retry. */
static int put_attempt(struct put_call *c, const char *url, char *why,
		       size_t why_len, bool *retry)
{
	origin_t *o = c->o;
	char errbuf[CURL_ERROR_SIZE] = "", hex[DIGEST_HEX_LEN + 1];
	struct curl_slist *headers = NULL, *l;
	CURLcode res = CURLE_OK;
	CURL *h;
	int rc = 0;

	*retry = false;
	c->status = 0;
	c->length = -1;
	c->etag[0] = '\0';
	buf_reset(&c->resp);
	stat_add(&o->requests, 1);
	h = origin_http_handle_get(o, NULL);
	if (!h) {
		snprintf(why, why_len, "curl_easy_init failed");
		return -EIO;
	}
	if (c->body) {
		struct digest d;

		sha256_buffer(c->body, c->len, &d);
		digest_to_hex(&d, hex);
	}
	res = origin_curl_defaults(o, h, url, errbuf);
	ORIGIN_SET(CURLOPT_HEADERFUNCTION, put_header);
	ORIGIN_SET(CURLOPT_HEADERDATA, c);
	ORIGIN_SET(CURLOPT_WRITEFUNCTION, put_body);
	ORIGIN_SET(CURLOPT_WRITEDATA, c);
	if (!strcmp(c->method, "HEAD")) {
		ORIGIN_SET(CURLOPT_NOBODY, 1L);
	} else {
		ORIGIN_SET(CURLOPT_CUSTOMREQUEST, c->method);
		if (c->body || !strcmp(c->method, "POST")) {
			ORIGIN_SET(CURLOPT_POSTFIELDS, c->body ? c->body : "");
			ORIGIN_SET(CURLOPT_POSTFIELDSIZE_LARGE,
				   (curl_off_t)(c->body ? c->len : 0));
		}
	}
	if (res == CURLE_OK)
		res = origin_s3_sign(o, h, c->body ? hex : NULL, &headers);
	if (res == CURLE_OK && c->body) {
		l = curl_slist_append(headers,
				      "Content-Type: application/octet-stream");
		res = l ? CURLE_OK : CURLE_OUT_OF_MEMORY;
		headers = l ? l : headers;
	}
	if (res == CURLE_OK && c->if_absent) {
		l = curl_slist_append(headers, "If-None-Match: *");
		res = l ? CURLE_OK : CURLE_OUT_OF_MEMORY;
		headers = l ? l : headers;
	}
	if (headers)
		ORIGIN_SET(CURLOPT_HTTPHEADER, headers);
	if (res != CURLE_OK) {
		snprintf(why, why_len, "setting curl options: %s",
			 curl_easy_strerror(res));
		rc = -EIO;
		goto out;
	}
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	if (res != CURLE_OK || !c->status) {
		snprintf(why, why_len, "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(res));
		if (res == CURLE_OPERATION_TIMEDOUT)
			stat_add(&o->timeouts, 1);
		else
			stat_add(&o->other_errors, 1);
		*retry = true;
		rc = res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		c->status = 0;
	} else if (c->status == 429 || c->status >= 500) {
		stat_add(&o->http_errors, 1);
		snprintf(why, why_len, "HTTP %ld", c->status);
		*retry = true;
		rc = -EIO;
	}
out:
	curl_slist_free_all(headers);
	/* its sockets are unknown: no CURLOPT_SOCKOPTFUNCTION here */
	origin_http_handle_put(o, h, CURL_SOCKET_BAD);
	return rc;
}

static void put_backoff(unsigned attempt)
{
	unsigned ms = ORIGIN_BACKOFF_MS << (attempt < 5 ? attempt : 5);
	struct timespec ts;

	if (ms > ORIGIN_BACKOFF_MAX_MS)
		ms = ORIGIN_BACKOFF_MAX_MS;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Run c with retries. Returns 0 for a 2xx answer, else a negative errno
 * with req->why naming the object and the store's answer: -ENOENT (404),
 * -EACCES (401, 403), -EEXIST (412 to If-None-Match), -ETIMEDOUT, -EIO.
 */
static int put_run(struct put_call *c)
{
	origin_t *o = c->o;
	char *url = xasprintf("%s%s%s", o->base, c->req->rel, c->query);
	char why[CURL_ERROR_SIZE + 64] = "", code[64] = "";
	unsigned attempts = o->retries + 1, attempt;
	bool retry = false;
	int rc = 0;

	for (attempt = 1; attempt <= attempts; attempt++) {
		if (attempt > 1) {
			put_backoff(attempt - 2);
			stat_add(&o->retried, 1);
		}
		why[0] = '\0';
		rc = put_attempt(c, url, why, sizeof(why), &retry);
		if (!rc || !retry)
			break;
		log_warn("%s '%s%s'%s failed (attempt %u/%u): %s", c->method,
			 o->log_base, c->req->rel, c->what, attempt, attempts,
			 why);
	}
	if (!rc && c->status >= 200 && c->status < 300)
		goto out;
	if (!rc) {
		stat_add(&o->http_errors, 1);
		origin_s3_error_code((const char *)c->resp.data, c->resp.len,
				     code, sizeof(code));
		if (code[0])
			snprintf(why, sizeof(why), "HTTP %ld (%s)", c->status,
				 code);
		else
			snprintf(why, sizeof(why), "HTTP %ld", c->status);
		rc = c->status == 404			    ? -ENOENT
		     : c->status == 401 || c->status == 403 ? -EACCES
		     : c->status == 412 && c->if_absent	    ? -EEXIST
							    : -EIO;
	}
	origin_req_why(c->req, "%s '%s%s'%s: %s%s", c->method, o->log_base,
		       c->req->rel, c->what, why,
		       attempt > 1 && retry ? " (after retries)" : "");
out:
	free(url);
	return rc;
}

static void call_init(struct put_call *c, origin_t *o, struct origin_req *req,
		      const char *method)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->req = req;
	c->method = method;
	c->query = "";
	c->what = "";
	c->length = -1;
	buf_init(&c->resp, PUT_RESPONSE_MAX);
}

/* Writes go to an object store only: not to file:// or a web server. */
static int writable(origin_t *o, struct origin_req *req)
{
	req->received = 0;
	req->why[0] = '\0';
	if (!o->mirrors[0].s3 || o->nmirrors != 1) {
		origin_req_why(req,
			       "'%s': only one s3:// repository (not a mirror "
			       "list) can be written through the origin",
			       o->log_base);
		return -EINVAL;
	}
	if (!req->rel || !*req->rel || !origin_s3_rel_ok(req->rel) ||
	    req->rel[0] == '/') {
		origin_req_why(req, "'%s' is not a plain object name",
			       req->rel ? req->rel : "(null)");
		return -EINVAL;
	}
	return 0;
}

int origin_head(origin_t *o, struct origin_req *req, uint64_t *size)
{
	struct put_call c;
	int rc = writable(o, req);

	if (rc)
		return rc;
	call_init(&c, o, req, "HEAD");
	rc = put_run(&c);
	if (!rc && size)
		*size = c.length >= 0 ? (uint64_t)c.length : 0;
	buf_release(&c.resp);
	return rc;
}

int origin_put(origin_t *o, struct origin_req *req, const void *data,
	       size_t len)
{
	struct put_call c;
	int rc = writable(o, req);

	if (rc)
		return rc;
	call_init(&c, o, req, "PUT");
	c.body = data ? data : "";
	c.len = len;
	c.if_absent = (req->flags & ORIGIN_PUT_IF_ABSENT) != 0;
	rc = put_run(&c);
	buf_release(&c.resp);
	return rc;
}

int origin_delete(origin_t *o, struct origin_req *req)
{
	struct put_call c;
	int rc = writable(o, req);

	if (rc)
		return rc;
	call_init(&c, o, req, "DELETE");
	rc = put_run(&c);
	buf_release(&c.resp);
	return rc;
}

/* The text of the first <name> element of an S3 XML answer (a token:
 * UploadId), or NULL. Caller frees. */
static char *xml_token(const struct buf *b, const char *name)
{
	char open[64], close[64];
	const char *s, *e;

	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	s = memmem(b->data, b->len, open, strlen(open));
	if (!s)
		return NULL;
	s += strlen(open);
	e = memmem(s, b->len - (size_t)(s - (const char *)b->data), close,
		   strlen(close));
	if (!e || e == s)
		return NULL;
	for (const char *p = s; p < e; p++)
		if (*p == '<' || *p == '&' || *p == '"' ||
		    (unsigned char)*p <= ' ')
			return NULL;
	return xstrndup(s, (size_t)(e - s));
}

/* Abort a multipart upload (best effort: its parts would otherwise stay
 * billed until a lifecycle rule removes them). */
static void multipart_abort(origin_t *o, const char *rel, const char *id)
{
	struct origin_req req;
	struct put_call c;
	char *query = xasprintf("?uploadId=%s", id);

	origin_req_init(&req, rel, 0, 0);
	call_init(&c, o, &req, "DELETE");
	c.query = query;
	if (put_run(&c))
		log_warn("%s", req.why);
	buf_release(&c.resp);
	free(query);
}

static int multipart(origin_t *o, struct origin_req *req, int fd, uint64_t size,
		     uint64_t part)
{
	struct put_call c;
	struct buf body, done;
	char *id = NULL, *query = NULL, what[64];
	uint64_t parts = (size + part - 1) / part, off = 0;
	int rc;

	buf_init(&body, (size_t)part);
	buf_init(&done, (size_t)parts * 256 + 256);
	call_init(&c, o, req, "POST");
	c.query = "?uploads=";
	rc = put_run(&c);
	if (rc)
		goto out;
	id = xml_token(&c.resp, "UploadId");
	if (!id || !origin_s3_rel_ok(id)) {
		origin_req_why(req,
			       "POST '%s%s?uploads': no usable UploadId in "
			       "the answer",
			       o->log_base, req->rel);
		rc = -EIO;
		goto out;
	}
	buf_append(&done, "<CompleteMultipartUpload>", 25);
	for (uint64_t n = 1; n <= parts; n++, off += part) {
		size_t len = (size_t)(size - off < part ? size - off : part);
		char entry[256];
		int m;

		buf_reset(&body);
		rc = buf_reserve(&body, len);
		if (!rc)
			rc = fs_pread_all(fd, body.data, len, (off_t)off);
		if (rc) {
			origin_req_why(req,
				       "reading part %" PRIu64 " of '%s': %s",
				       n, req->rel, strerror(-rc));
			goto abort;
		}
		body.len = len;
		free(query);
		query = xasprintf("?partNumber=%" PRIu64 "&uploadId=%s", n, id);
		snprintf(what, sizeof(what),
			 " (part %" PRIu64 " of %" PRIu64 ")", n, parts);
		buf_release(&c.resp);
		call_init(&c, o, req, "PUT");
		c.query = query;
		c.what = what;
		c.body = body.data;
		c.len = len;
		rc = put_run(&c);
		if (rc)
			goto abort;
		if (!c.etag[0] || strchr(c.etag, '<') || strchr(c.etag, '&')) {
			origin_req_why(req, "PUT '%s%s'%s: no usable ETag",
				       o->log_base, req->rel, what);
			rc = -EIO;
			goto abort;
		}
		m = snprintf(entry, sizeof(entry),
			     "<Part><PartNumber>%" PRIu64
			     "</PartNumber><ETag>%s</ETag></Part>",
			     n, c.etag);
		buf_append(&done, entry, (size_t)m);
	}
	buf_append(&done, "</CompleteMultipartUpload>", 26);
	free(query);
	query = xasprintf("?uploadId=%s", id);
	buf_release(&c.resp);
	call_init(&c, o, req, "POST");
	c.query = query;
	c.what = " (completing the multipart upload)";
	c.body = done.data;
	c.len = done.len;
	rc = put_run(&c);
	/* S3 may answer 200 with an <Error> body */
	if (!rc && memmem(c.resp.data, c.resp.len, "<Error>", 7)) {
		char code[64];

		origin_s3_error_code((const char *)c.resp.data, c.resp.len,
				     code, sizeof(code));
		origin_req_why(req, "POST '%s%s'%s: %s", o->log_base, req->rel,
			       c.what, code[0] ? code : "error");
		rc = -EIO;
	}
	if (!rc)
		goto out;
abort:
	multipart_abort(o, req->rel, id);
out:
	buf_release(&c.resp);
	buf_release(&body);
	buf_release(&done);
	free(id);
	free(query);
	return rc;
}

int origin_put_file(origin_t *o, struct origin_req *req, const char *path,
		    uint64_t part_size)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd, rc = writable(o, req);

	if (rc)
		return rc;
	if (part_size < PUT_PART_MIN)
		part_size = PUT_PART_MIN;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		origin_req_why(req, "'%s': %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > part_size) {
		if ((uint64_t)st.st_size / part_size >= PUT_PARTS_MAX) {
			origin_req_why(req,
				       "'%s': more than %d parts of %" PRIu64
				       " bytes",
				       path, PUT_PARTS_MAX, part_size);
			rc = -EFBIG;
			goto out;
		}
		rc = multipart(o, req, fd, (uint64_t)st.st_size, part_size);
		goto out;
	}
	close(fd);
	fd = -1;
	rc = fs_read_file(path, (size_t)part_size + 1, &data, &len);
	if (rc) {
		origin_req_why(req, "'%s': %s", path, strerror(-rc));
		goto out;
	}
	rc = origin_put(o, req, data, len);
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}

/*
 * The answer to one http(s) fetch, as libcurl hands it over: headers and
 * body pieces (origin_http.c sets the transfer up and runs it). Sizes are
 * checked twice: at the end of the headers of the response that carries
 * the object (Content-Length, Content-Range), and on every piece of the
 * body, which is never kept past the size.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "fsutil.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "banned.h"

bool origin_xfer_status_wanted(const struct origin_xfer *x, long status)
{
	return status == 200 || (x->mode == XFER_RANGE && status == 206);
}

/* "bytes a-b/total" names exactly the range we asked for. */
static bool content_range_matches(const struct origin_xfer *x)
{
	const char *p = x->range_hdr;
	unsigned long long a, b;
	char *end;

	if (strncasecmp(p, "bytes", 5) != 0)
		return false;
	p += 5;
	while (*p == ' ')
		p++;
	errno = 0;
	a = strtoull(p, &end, 10);
	if (end == p || *end != '-' || errno)
		return false;
	p = end + 1;
	b = strtoull(p, &end, 10);
	if (end == p || *end != '/' || errno)
		return false;
	return a == x->off && b == x->off + x->len - 1;
}

__attribute__((format(printf, 3, 4))) static size_t
xfer_fail(struct origin_xfer *x, int err, const char *fmt, ...)
{
	va_list ap;

	x->err = err;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	return 0; /* not the size handed in: curl aborts the transfer */
}

/* The value of header `name:` in the header line p (n bytes) into out
 * (capped, trimmed), or false if p is another header. */
static bool header_value(const char *p, size_t n, const char *name, char *out,
			 size_t out_len)
{
	size_t k = strlen(name), i, j = n;

	if (n <= k || strncasecmp(p, name, k) != 0)
		return false;
	i = k;
	while (i < j && (p[i] == ' ' || p[i] == '\t'))
		i++;
	while (j > i &&
	       (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' '))
		j--;
	if (j - i >= out_len)
		j = i + out_len - 1;
	memcpy(out, p + i, j - i);
	out[j - i] = '\0';
	return true;
}

/*
 * The headers of the response carrying the body are complete: refuse it
 * now if it announces another size than the one known. Returns false
 * (with x->err set) to abort.
 */
static bool xfer_headers_done(struct origin_xfer *x, long status)
{
	uint64_t length = (uint64_t)x->length;

	x->status = status;
	if (x->mode == XFER_RANGE && status == 206) {
		if (!content_range_matches(x))
			return xfer_fail(x, -EIO,
					 "206 with Content-Range '%s' for "
					 "bytes %" PRIu64 "-%" PRIu64,
					 x->range_hdr, x->off,
					 x->off + x->len - 1);
		if (x->length >= 0 && length != x->len)
			return xfer_fail(x, -EIO,
					 "206 of %" PRIu64
					 " bytes (Content-Length) for a "
					 "range of %" PRIu64,
					 length, x->len);
		return true;
	}
	if (x->length < 0)
		return true; /* no length given: the body is counted */
	if (x->mode == XFER_RANGE) {
		/* 200: the whole object; it must hold the range */
		if (length < x->off + x->len)
			return xfer_fail(x, -EIO,
					 "object is %" PRIu64
					 " bytes (Content-Length), shorter "
					 "than byte %" PRIu64,
					 length, x->off + x->len);
		return true;
	}
	if (x->exact && length != x->len)
		return xfer_fail(x, -EIO,
				 "%" PRIu64 " bytes (Content-Length), "
				 "expected %" PRIu64,
				 length, x->len);
	if (length > x->len)
		return xfer_fail(x, -EFBIG,
				 "%" PRIu64 " bytes (Content-Length), over "
				 "the cap of %" PRIu64,
				 length, x->len);
	return true;
}

size_t origin_xfer_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct origin_xfer *x = arg;
	size_t n = size * nmemb;
	char value[32];

	if (n >= 5 && strncasecmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, or a redirect). */
		x->range_hdr[0] = '\0';
		x->length = -1;
	} else if (header_value(p, n, "content-range:", x->range_hdr,
				sizeof(x->range_hdr))) {
	} else if (header_value(p, n, "content-length:", value,
				sizeof(value))) {
		char *end;

		errno = 0;
		x->length = (int64_t)strtoll(value, &end, 10);
		if (errno || end == value || *end || x->length < 0)
			x->length = -1;
	} else if ((n == 2 && p[0] == '\r') || (n == 1 && p[0] == '\n')) {
		long status = 0;

		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		/* informational and followed redirects carry no body of
		 * ours; error pages are classified after the transfer */
		if (origin_xfer_status_wanted(x, status) &&
		    !xfer_headers_done(x, status))
			return 0;
	}
	return n;
}

static size_t xfer_range_body(struct origin_xfer *x, const char *p, size_t n)
{
	uint64_t skip = 0, keep;

	if (x->status == 206) {
		if (n > x->len - x->kept)
			return xfer_fail(x, -EIO,
					 "206 body longer than the "
					 "requested range");
	} else if (x->seen < x->off) {
		/* 200: the server ignored Range; drop what precedes it. */
		skip = x->off - x->seen;
		if (skip > n)
			skip = n;
	}
	x->seen += n;
	keep = n - skip;
	if (keep > x->len - x->kept)
		keep = x->len - x->kept;
	if (keep) {
		if (buf_append(x->out, p + skip, (size_t)keep) != 0)
			return xfer_fail(x, -EFBIG,
					 "range is larger than "
					 "the buffer's cap");
		x->kept += keep;
	}
	if (x->kept == x->len && x->status == 200) {
		x->done = true;
		/* Stop the download: the rest of the object is not wanted. */
		if (skip + keep < n)
			return 0;
	}
	return n;
}

/* A piece of a whole object: never past its size or cap. */
static size_t xfer_whole_body(struct origin_xfer *x, const char *p, size_t n)
{
	if (n > x->len - x->seen) {
		if (x->exact)
			return xfer_fail(x, -EIO,
					 "body runs past the %" PRIu64
					 " bytes expected",
					 x->len);
		return xfer_fail(x, -EFBIG,
				 "body runs past the cap of %" PRIu64 " bytes",
				 x->len);
	}
	x->seen += n;
	if (x->mode == XFER_BUF) {
		if (buf_append(x->out, p, n) != 0)
			return xfer_fail(x, -EFBIG,
					 "object is larger than "
					 "the buffer's cap");
	} else {
		x->wrote = true;
		if (fs_write_all(x->fd, p, n) != 0)
			return xfer_fail(x, -EIO, "writing the body: %s",
					 strerror(errno));
	}
	x->kept += n;
	return n;
}

/*
 * Acknowledge what arrived at once. A keep-alive connection that goes
 * request, answer, request looks interactive to Linux, which then delays
 * its ACKs (40 ms) to send them with the next data; a server that holds
 * the short tail of an answer until the previous segment is acknowledged
 * (Nagle, or nginx's sendfile with tcp_nopush) then waits those 40 ms.
 * On loopback nginx this cost 44 ms on nearly every range of a few
 * hundred KiB after the third on a connection; with it, under 1 ms.
 * TCP_QUICKACK does not stick, so it is set again on every piece.
 */
static void ack_now(struct origin_xfer *x)
{
#ifdef TCP_QUICKACK
	int one = 1;

	/* x->sock is the socket this handle last opened (libcurl has no
	 * getter for the one in use before the transfer ends): on a reused
	 * connection, that one; at worst another socket of ours gets an
	 * early ACK, or a number since reused for a file gets ENOTSOCK */
	if (x->sock != CURL_SOCKET_BAD)
		(void)setsockopt(x->sock, IPPROTO_TCP, TCP_QUICKACK, &one,
				 sizeof(one));
#else
	(void)x;
#endif
}

int origin_xfer_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct origin_xfer *x = arg;

	if (purpose == CURLSOCKTYPE_IPCXN)
		x->sock = fd;
	return CURL_SOCKOPT_OK;
}

size_t origin_xfer_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct origin_xfer *x = arg;
	size_t n = size * nmemb;

	if (n == 0)
		return 0;
	ack_now(x);
	stat_add(&x->o->bytes, n);
	stat_add(&x->m->bytes, n);
	x->req->received += n;
	if (x->done || x->err)
		return 0;
	if (!x->status) {
		long status = 0;

		/* no end of headers seen (should not happen): check now */
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		if (origin_xfer_status_wanted(x, status) &&
		    !xfer_headers_done(x, status))
			return 0;
		x->status = status;
	}
	if (!origin_xfer_status_wanted(x, x->status)) {
		/* An error page: classified by its status after the
		 * transfer; only a bounded amount of it is read, and
		 * its start kept for an S3 error code. */
		size_t room = sizeof(x->error_body) - 1 - x->error_len;

		if (room) {
			size_t k = n < room ? n : room;

			memcpy(x->error_body + x->error_len, p, k);
			x->error_len += k;
			x->error_body[x->error_len] = '\0';
		}
		x->seen += n;
		return x->seen > ORIGIN_ERROR_BODY_MAX ? 0 : n;
	}
	if (x->mode == XFER_RANGE)
		return xfer_range_body(x, p, n);
	return xfer_whole_body(x, p, n);
}

/*
 * http(s):// origins through libcurl's easy API. Each origin keeps a small
 * stack of easy handles; a handle keeps its connections alive, so taking
 * the most recently returned one (LIFO) lets sequential calls reuse one
 * TCP/TLS connection. Handles are reset before every attempt:
 * curl_easy_reset keeps live connections and the DNS cache, and
 * per-request options then never leak from one call into the next.
 */
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Syntax checks curl itself would only report at the first fetch. */
static int check_http_url(const char *url, const char *log_url)
{
	CURLU *u = NULL;
	char *host = NULL;
	CURLUcode uc;
	int rc = 0;

	for (const char *p = url; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f) {
			log_error("origin url '%s' contains a space or control "
				  "character",
				  log_url);
			return -EINVAL;
		}
		/* The object path is appended to the URL. */
		if (c == '?' || c == '#') {
			log_error("origin url '%s' must not have a query or "
				  "fragment",
				  log_url);
			return -EINVAL;
		}
	}
	/* curl reads "http:///x" as host "x"; we want it spelled out. */
	if (strstr(url, "://")[3] == '/') {
		log_error("origin url '%s' has no host", log_url);
		return -EINVAL;
	}
	u = curl_url();
	if (!u) {
		rc = -ENOMEM;
		goto out;
	}
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (uc != CURLUE_OK || !host || !*host) {
		log_error("origin url '%s' is malformed: %s", log_url,
			  uc != CURLUE_OK ? curl_url_strerror(uc) : "no host");
		rc = -EINVAL;
	}
out:
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int origin_http_check(const char *url, const char *log_url)
{
	int rc = check_http_url(url, log_url);

	if (rc)
		return rc;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		log_error("origin '%s': curl_global_init failed: %s", log_url,
			  curl_easy_strerror(curl_init_result));
		return -EIO;
	}
	return 0;
}

enum xfer_mode {
	XFER_BUF,   /* whole object into out */
	XFER_FD,    /* whole object into fd */
	XFER_RANGE, /* [off, off+len) into out */
};

/* One fetch: what it wants, and the state of the current attempt. */
struct xfer {
	origin_t *o;
	const char *rel;
	enum xfer_mode mode;
	struct buf *out;
	size_t out_start; /* out->len before the fetch */
	int fd;
	off_t fd_start; /* -1: fd cannot seek, so cannot retry */
	uint64_t max;	/* XFER_BUF, XFER_FD */
	uint64_t off;	/* XFER_RANGE */
	uint64_t len;

	/* Reset for every attempt. */
	CURL *h;
	long status;   /* 0 until the first body byte */
	uint64_t seen; /* body bytes received */
	uint64_t kept; /* bytes stored */
	bool done;     /* range complete; the abort is ours */
	bool wrote;    /* XFER_FD: something was written to fd */
	int err;       /* fatal error found by a callback */
	char why[CURL_ERROR_SIZE + 64]; /* reason for err */
	char range_hdr[96]; /* Content-Range of the last response, capped */
};

static bool status_wanted(const struct xfer *x, long status)
{
	return status == 200 || (x->mode == XFER_RANGE && status == 206);
}

/* "bytes a-b/total" names exactly the range we asked for. */
static bool content_range_matches(const struct xfer *x)
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

static size_t xfer_fail(struct xfer *x, int err, const char *why)
{
	x->err = err;
	snprintf(x->why, sizeof(x->why), "%s", why);
	return 0; /* not the size handed in: curl aborts the transfer */
}

static size_t xfer_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	static const char name[] = "content-range:";

	/* A new status line starts a new response (after 100 Continue). */
	if (n >= 5 && strncasecmp(p, "HTTP/", 5) == 0) {
		x->range_hdr[0] = '\0';
	} else if (n > sizeof(name) - 1 &&
		   strncasecmp(p, name, sizeof(name) - 1) == 0) {
		size_t i = sizeof(name) - 1, j = n;

		while (i < j && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' ||
				 p[j - 1] == ' '))
			j--;
		if (j - i >= sizeof(x->range_hdr))
			j = i + sizeof(x->range_hdr) - 1;
		memcpy(x->range_hdr, p + i, j - i);
		x->range_hdr[j - i] = '\0';
	}
	return n;
}

static size_t xfer_range_body(struct xfer *x, const char *p, size_t n)
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

static size_t xfer_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n == 0)
		return 0;
	stat_add(&x->o->bytes, n);
	if (x->done)
		return 0;
	if (!x->status) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->mode == XFER_RANGE && x->status == 206 &&
		    !content_range_matches(x)) {
			char why[sizeof(x->why)];

			snprintf(why, sizeof(why),
				 "206 with Content-Range '%s' for bytes "
				 "%" PRIu64 "-%" PRIu64,
				 x->range_hdr, x->off, x->off + x->len - 1);
			return xfer_fail(x, -EIO, why);
		}
	}
	if (!status_wanted(x, x->status)) {
		/* An error page: classified by its status after the
		 * transfer; only a bounded amount of it is read. */
		x->seen += n;
		return x->seen > ORIGIN_ERROR_BODY_MAX ? 0 : n;
	}
	switch (x->mode) {
	case XFER_RANGE:
		return xfer_range_body(x, p, n);
	case XFER_BUF:
		if (n > x->max - x->seen)
			return xfer_fail(x, -EFBIG,
					 "object is larger than the cap");
		x->seen += n;
		if (buf_append(x->out, p, n) != 0)
			return xfer_fail(x, -EFBIG,
					 "object is larger than "
					 "the buffer's cap");
		x->kept += n;
		return n;
	case XFER_FD:
		if (n > x->max - x->seen)
			return xfer_fail(x, -EFBIG,
					 "object is larger than the cap");
		x->seen += n;
		x->wrote = true;
		if (fs_write_all(x->fd, p, n) != 0) {
			char why[sizeof(x->why)];

			snprintf(why, sizeof(why), "writing the body: %s",
				 strerror(errno));
			return xfer_fail(x, -EIO, why);
		}
		x->kept += n;
		return n;
	}
	return 0;
}

static CURL *pool_get(origin_t *o)
{
	CURL *h = NULL;

	pthread_mutex_lock(&o->pool_lock);
	if (o->pool_len)
		h = o->pool[--o->pool_len];
	pthread_mutex_unlock(&o->pool_lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void pool_put(origin_t *o, CURL *h)
{
	pthread_mutex_lock(&o->pool_lock);
	if (o->pool_len < ORIGIN_POOL_MAX) {
		o->pool[o->pool_len++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&o->pool_lock);
	curl_easy_cleanup(h);
}

static CURLcode xfer_setup(struct xfer *x, const char *url, char *errbuf)
{
	origin_t *o = x->o;
	CURL *h = x->h;
	long timeout = (long)o->timeout_sec;
	char range[48];
	CURLcode res = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (res == CURLE_OK)                                           \
			res = curl_easy_setopt(h, opt, val);                   \
	} while (0)
	SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, timeout);
	SET(CURLOPT_LOW_SPEED_LIMIT, (long)ORIGIN_MIN_RATE);
	SET(CURLOPT_LOW_SPEED_TIME, timeout);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_FAILONERROR, 0L);
	SET(CURLOPT_USERAGENT, "aidatafs/" AIDATA_VERSION);
	if (o->ca_file)
		SET(CURLOPT_CAINFO, o->ca_file);
	SET(CURLOPT_HEADERFUNCTION, xfer_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, xfer_write);
	SET(CURLOPT_WRITEDATA, x);
	if (x->mode == XFER_RANGE) {
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, x->off,
			 x->off + x->len - 1);
		SET(CURLOPT_RANGE, range);
	} else if (x->max <= INT64_MAX) {
		/* Refuses early when Content-Length says too big; the
		 * write callback enforces the cap without one. */
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	}
#undef SET
	return res;
}

/* Forget what a failed attempt stored: out and fd back to the start. */
static int xfer_rewind(struct xfer *x)
{
	if (x->mode != XFER_FD) {
		x->out->len = x->out_start;
		return 0;
	}
	if (!x->wrote)
		return 0;
	if (x->fd_start < 0 || ftruncate(x->fd, x->fd_start) != 0 ||
	    lseek(x->fd, x->fd_start, SEEK_SET) != x->fd_start) {
		snprintf(x->why, sizeof(x->why),
			 "cannot rewind the output after a partial body: %s",
			 x->fd_start < 0 ? "not seekable" : strerror(errno));
		return -EIO;
	}
	return 0;
}

static bool curl_error_retryable(CURLcode res)
{
	switch (res) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_FAILED_INIT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_LOGIN_DENIED:
	case CURLE_TOO_MANY_REDIRECTS:
		return false;
	default:
		return true;
	}
}

/*
 * One attempt. Returns 0 or a negative errno, with x->why saying why, and
 * *retry telling whether another attempt could do better.
 */
static int xfer_attempt(struct xfer *x, const char *url, bool *retry,
			bool *timed_out)
{
	origin_t *o = x->o;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode res;
	long status = 0;
	int rc = 0;

	*retry = false;
	*timed_out = false;
	x->status = 0;
	x->seen = x->kept = 0;
	x->done = x->wrote = false;
	x->err = 0;
	x->why[0] = x->range_hdr[0] = errbuf[0] = '\0';

	stat_add(&o->requests, 1);
	x->h = pool_get(o);
	if (!x->h) {
		snprintf(x->why, sizeof(x->why), "curl_easy_init failed");
		stat_add(&o->other_errors, 1);
		return -EIO;
	}
	res = xfer_setup(x, url, errbuf);
	if (res != CURLE_OK) {
		snprintf(x->why, sizeof(x->why), "setting curl options: %s",
			 curl_easy_strerror(res));
		stat_add(&o->other_errors, 1);
		rc = -EIO;
		goto out;
	}
	res = curl_easy_perform(x->h);
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);

	if (x->err) {
		/* A callback refused the body: cap, bad range, local I/O. */
		rc = x->err;
		stat_add(&o->other_errors, 1);
	} else if (x->done) {
		/* Our own abort once an ignored Range was satisfied. */
		rc = 0;
	} else if (status && !status_wanted(x, status)) {
		stat_add(&o->http_errors, 1);
		snprintf(x->why, sizeof(x->why), "HTTP %ld", status);
		if (status == 404) {
			rc = -ENOENT;
		} else if (status == 429 || (status >= 500 && status < 600)) {
			rc = -EIO;
			*retry = true;
		} else {
			if (status == 416)
				snprintf(x->why, sizeof(x->why),
					 "HTTP 416 (object shorter than "
					 "byte %" PRIu64 ")",
					 x->off + x->len);
			else if (status >= 300 && status < 400)
				snprintf(x->why, sizeof(x->why),
					 "HTTP %ld (redirects are not "
					 "followed)",
					 status);
			rc = -EIO;
		}
	} else if (res == CURLE_FILESIZE_EXCEEDED) {
		snprintf(x->why, sizeof(x->why),
			 "object is larger than the cap (Content-Length)");
		stat_add(&o->other_errors, 1);
		rc = -EFBIG;
	} else if (res != CURLE_OK) {
		snprintf(x->why, sizeof(x->why), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(res));
		if (res == CURLE_OPERATION_TIMEDOUT) {
			stat_add(&o->timeouts, 1);
			*timed_out = true;
		} else {
			stat_add(&o->other_errors, 1);
		}
		*retry = curl_error_retryable(res);
		rc = res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	} else if (!status) {
		snprintf(x->why, sizeof(x->why), "no HTTP status");
		stat_add(&o->other_errors, 1);
		*retry = true;
		rc = -EIO;
	} else if (x->mode == XFER_RANGE && x->kept != x->len) {
		stat_add(&o->other_errors, 1);
		rc = -EIO;
		if (status == 200) {
			/* A complete 200 body: the object really is short. */
			snprintf(x->why, sizeof(x->why),
				 "object is %" PRIu64 " bytes, shorter than "
				 "byte %" PRIu64,
				 x->seen, x->off + x->len);
		} else {
			snprintf(x->why, sizeof(x->why),
				 "short body: %" PRIu64 " of %" PRIu64 " bytes",
				 x->kept, x->len);
			*retry = true;
		}
	}
out:
	pool_put(o, x->h);
	x->h = NULL;
	return rc;
}

/* Sleep before retry number retry + 1: 100 ms, 200 ms, ... at most 2 s. */
static void backoff(uint64_t retry)
{
	unsigned ms = ORIGIN_BACKOFF_MAX_MS;
	struct timespec ts;

	if (retry < 5 && (ORIGIN_BACKOFF_MS << retry) < ORIGIN_BACKOFF_MAX_MS)
		ms = ORIGIN_BACKOFF_MS << retry;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int http_fetch(struct xfer *x)
{
	origin_t *o = x->o;
	uint64_t attempts = (uint64_t)o->retries + 1;
	char *url = xasprintf("%s%s", o->base, x->rel);
	char what[64] = "";
	bool all_timeouts = true;
	int rc = -EIO;

	if (x->mode == XFER_RANGE)
		snprintf(what, sizeof(what), " bytes %" PRIu64 "-%" PRIu64,
			 x->off, x->off + x->len - 1);
	for (uint64_t attempt = 1;; attempt++) {
		bool retry, timed_out;
		int rew;

		if (attempt > 1) {
			backoff(attempt - 2);
			stat_add(&o->retried, 1);
		}
		rc = xfer_attempt(x, url, &retry, &timed_out);
		if (rc == 0)
			break;
		all_timeouts = all_timeouts && timed_out;
		rew = xfer_rewind(x);
		if (rew) {
			/* Not retryable: the output cannot be taken back. */
			rc = rew;
			retry = false;
		}
		if (!retry) {
			log_warn("fetch '%s%s'%s failed: %s", o->log_base,
				 x->rel, what, x->why);
			break;
		}
		log_warn("fetch '%s%s'%s failed (attempt %" PRIu64 "/%" PRIu64
			 "): %s",
			 o->log_base, x->rel, what, attempt, attempts, x->why);
		if (attempt >= attempts) {
			rc = all_timeouts ? -ETIMEDOUT : -EIO;
			break;
		}
	}
	free(url);
	return rc;
}

/* A fetch of rel in mode; the caller sets the mode's own fields. */
static void xfer_init(struct xfer *x, origin_t *o, const char *rel,
		      enum xfer_mode mode)
{
	memset(x, 0, sizeof(*x));
	x->o = o;
	x->rel = rel;
	x->mode = mode;
	x->fd = -1;
}

int origin_http_get(origin_t *o, const char *rel, size_t max, struct buf *out)
{
	struct xfer x;

	xfer_init(&x, o, rel, XFER_BUF);
	x.out = out;
	x.out_start = out->len;
	x.max = max;
	return http_fetch(&x);
}

int origin_http_get_to_fd(origin_t *o, const char *rel, uint64_t max, int fd)
{
	struct xfer x;

	xfer_init(&x, o, rel, XFER_FD);
	x.fd = fd;
	/* A pipe cannot be rewound: such a fetch fails instead of retrying
	 * once part of a body was written. */
	x.fd_start = lseek(fd, 0, SEEK_CUR);
	x.max = max;
	return http_fetch(&x);
}

int origin_http_get_range(origin_t *o, const char *rel, uint64_t off,
			  size_t len, struct buf *out)
{
	struct xfer x;
	int rc;

	/* Allocate once; the write callback then only copies. */
	rc = buf_reserve(out, len);
	if (rc) {
		log_warn("fetch '%s%s' failed: %zu bytes exceed the buffer's "
			 "cap",
			 o->log_base, rel, len);
		return rc;
	}
	xfer_init(&x, o, rel, XFER_RANGE);
	x.out = out;
	x.out_start = out->len;
	x.off = off;
	x.len = len;
	return http_fetch(&x);
}

void origin_http_release(origin_t *o)
{
	for (size_t i = 0; i < o->pool_len; i++)
		curl_easy_cleanup(o->pool[i]);
	o->pool_len = 0;
}

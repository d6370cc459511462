/*
 * http(s):// origins through libcurl's easy API. Each origin keeps a small
 * stack of easy handles; a handle keeps its connections alive, so taking
 * the most recently returned one (LIFO) lets sequential calls reuse one
 * TCP/TLS connection. Handles are reset before every attempt:
 * curl_easy_reset keeps live connections and the DNS cache, and
 * per-request options then never leak from one call into the next.
 *
 * This file runs the attempts (options, retries, errors); what comes back
 * is taken by origin_xfer.c's callbacks.
 */
#define _GNU_SOURCE
#include "origin_int.h"
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

CURL *origin_http_handle_get(origin_t *o, curl_socket_t *sock)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	CURL *h = NULL;

	pthread_mutex_lock(&o->pool_lock);
	if (o->pool_len) {
		h = o->pool[--o->pool_len];
		s = o->pool_sock[o->pool_len];
	}
	pthread_mutex_unlock(&o->pool_lock);
	if (sock)
		*sock = s;
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

void origin_http_handle_put(origin_t *o, CURL *h, curl_socket_t sock)
{
	pthread_mutex_lock(&o->pool_lock);
	if (o->pool_len < ORIGIN_POOL_MAX) {
		o->pool_sock[o->pool_len] = sock;
		o->pool[o->pool_len++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&o->pool_lock);
	curl_easy_cleanup(h);
}

CURLcode origin_curl_defaults(const origin_t *o, CURL *h, const char *url,
			      char *errbuf)
{
	long timeout = (long)o->timeout_sec;
	CURLcode res = CURLE_OK;

	ORIGIN_SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	ORIGIN_SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	ORIGIN_SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	ORIGIN_SET(CURLOPT_ERRORBUFFER, errbuf);
	ORIGIN_SET(CURLOPT_NOSIGNAL, 1L);
	ORIGIN_SET(CURLOPT_CONNECTTIMEOUT, timeout);
	ORIGIN_SET(CURLOPT_LOW_SPEED_LIMIT, (long)ORIGIN_MIN_RATE);
	ORIGIN_SET(CURLOPT_LOW_SPEED_TIME, timeout);
	ORIGIN_SET(CURLOPT_TCP_KEEPALIVE, 1L);
	ORIGIN_SET(CURLOPT_FAILONERROR, 0L);
	ORIGIN_SET(CURLOPT_USERAGENT, "aidatafs/" AIDATA_VERSION);
	/* a 1 MiB piece in 4 receives, not 64 (PERFORMANCE.md, stop 21) */
	ORIGIN_SET(CURLOPT_BUFFERSIZE, ORIGIN_RECV_BUFFER);
	if (o->ca_file)
		ORIGIN_SET(CURLOPT_CAINFO, o->ca_file);
	return res;
}

static CURLcode xfer_setup(struct origin_xfer *x, const char *url, char *errbuf)
{
	origin_t *o = x->o;
	CURL *h = x->h;
	char range[48];
	CURLcode res = CURLE_OK;

	res = origin_curl_defaults(o, h, url, errbuf);
	/* CDNs and object stores redirect; the bytes are verified against
	 * signed digests wherever they come from. Never down to http. */
	ORIGIN_SET(CURLOPT_FOLLOWLOCATION, 1L);
	ORIGIN_SET(CURLOPT_MAXREDIRS, (long)ORIGIN_REDIRECTS_MAX);
#if LIBCURL_VERSION_NUM >= 0x075500
	ORIGIN_SET(CURLOPT_REDIR_PROTOCOLS_STR,
		   x->m->https ? "https" : "http,https");
#else
	ORIGIN_SET(CURLOPT_REDIR_PROTOCOLS,
		   (long)(x->m->https ? CURLPROTO_HTTPS
				      : CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	ORIGIN_SET(CURLOPT_HEADERFUNCTION, origin_xfer_header);
	ORIGIN_SET(CURLOPT_HEADERDATA, x);
	ORIGIN_SET(CURLOPT_WRITEFUNCTION, origin_xfer_write);
	ORIGIN_SET(CURLOPT_WRITEDATA, x);
	ORIGIN_SET(CURLOPT_SOCKOPTFUNCTION, origin_xfer_sockopt);
	ORIGIN_SET(CURLOPT_SOCKOPTDATA, x);
	if (x->mode == XFER_RANGE) {
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, x->off,
			 x->off + x->len - 1);
		ORIGIN_SET(CURLOPT_RANGE, range);
	}
	if (o->nproxies) {
		const char *proxy;

		x->proxy = origin_proxy_pick(o, &proxy);
		/* "" = no proxy at all, not even from http_proxy */
		ORIGIN_SET(CURLOPT_PROXY, proxy ? proxy : "");
	}
	if (res == CURLE_OK && !(x->req->flags & ORIGIN_EXACT) &&
	    x->mode != XFER_RANGE) {
		/* a mutable object: no shared cache may answer from a copy */
		struct curl_slist *l =
		    curl_slist_append(x->headers, "Cache-Control: no-cache");

		if (l)
			l = curl_slist_append(x->headers = l,
					      "Pragma: no-cache");
		if (l)
			x->headers = l;
		else
			res = CURLE_OUT_OF_MEMORY;
	}
	if (res == CURLE_OK && x->m->s3)
		res = origin_s3_sign(o, h, NULL, &x->headers);
	if (x->headers)
		ORIGIN_SET(CURLOPT_HTTPHEADER, x->headers);
	return res;
}

/* Forget what a failed attempt stored: out and fd back to the start. */
static int xfer_rewind(struct origin_xfer *x)
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

/* Whether res says the proxy in use, not the origin behind it, failed. */
static bool proxy_unreachable(CURLcode res)
{
	return res == CURLE_COULDNT_RESOLVE_PROXY ||
	       res == CURLE_COULDNT_CONNECT || res == CURLE_GOT_NOTHING ||
	       res == CURLE_SEND_ERROR || res == CURLE_RECV_ERROR ||
	       res == CURLE_OPERATION_TIMEDOUT;
}

/* x->why for a transfer curl itself gave up on. */
static void curl_failure_why(struct origin_xfer *x, CURLcode res,
			     const char *errbuf)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(res);
	long os_errno = 0;

	curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &os_errno);
	if (res == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED)
		snprintf(x->why, sizeof(x->why), "connection refused");
	else if (res == CURLE_OPERATION_TIMEDOUT)
		snprintf(x->why, sizeof(x->why), "timed out after %u s (%s)",
			 x->o->timeout_sec, detail);
	else if (res == CURLE_TOO_MANY_REDIRECTS)
		snprintf(x->why, sizeof(x->why), "more than %d redirects",
			 ORIGIN_REDIRECTS_MAX);
	else if (res == CURLE_UNSUPPORTED_PROTOCOL && x->m->https)
		snprintf(x->why, sizeof(x->why),
			 "redirected away from https (refused): %s", detail);
	else
		snprintf(x->why, sizeof(x->why), "%s", detail);
}

/* Where the last attempt's redirects led, at debug level. */
static void log_redirects(struct origin_xfer *x)
{
	long count = 0;
	char *where = NULL, *shown;

	if (curl_easy_getinfo(x->h, CURLINFO_REDIRECT_COUNT, &count) !=
		CURLE_OK ||
	    count == 0)
		return;
	curl_easy_getinfo(x->h, CURLINFO_EFFECTIVE_URL, &where);
	shown = origin_redact_url(where ? where : "?");
	log_debug("fetch '%s%s': %ld redirect(s) to '%s'", x->m->log_base,
		  x->req->rel, count, shown);
	free(shown);
}

/*
 * One attempt. Returns 0 or a negative errno, with x->why saying why, and
 * *retry telling whether another attempt could do better.
 */
static int xfer_attempt(struct origin_xfer *x, const char *url, bool *retry,
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
	x->length = -1;
	x->seen = x->kept = 0;
	x->done = x->wrote = false;
	x->err = 0;
	x->why[0] = x->range_hdr[0] = errbuf[0] = '\0';
	x->error_len = 0;

	stat_add(&o->requests, 1);
	x->h = origin_http_handle_get(o, &x->sock);
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
	log_redirects(x);

	if (x->err) {
		/* A callback refused the answer: its size, a bad range,
		 * local I/O. The same question would get the same answer. */
		rc = x->err;
		stat_add(&o->other_errors, 1);
	} else if (x->done) {
		/* Our own abort once an ignored Range was satisfied. */
		rc = 0;
	} else if (res != CURLE_OK && status >= 300 && status < 400) {
		/* a redirect curl would not follow: a loop, or to http */
		curl_failure_why(x, res, errbuf);
		stat_add(&o->other_errors, 1);
		*retry = curl_error_retryable(res);
		rc = -EIO;
	} else if (status && !origin_xfer_status_wanted(x, status)) {
		char code[64] = "";

		stat_add(&o->http_errors, 1);
		if (x->m->s3)
			origin_s3_error_code(x->error_body, x->error_len, code,
					     sizeof(code));
		if (code[0])
			snprintf(x->why, sizeof(x->why), "HTTP %ld (%s)",
				 status, code);
		else
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
					 "HTTP %ld (a redirect without a "
					 "usable Location)",
					 status);
			rc = -EIO;
		}
	} else if (res != CURLE_OK) {
		curl_failure_why(x, res, errbuf);
		/* the next attempt goes through the next proxy */
		if (o->nproxies && proxy_unreachable(res))
			origin_proxy_failed(o, x->proxy, x->why);
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
	} else if (x->mode != XFER_RANGE && x->exact && x->kept != x->len) {
		/* A complete body without a length, ending early: the
		 * object is not the one the record describes. */
		stat_add(&o->other_errors, 1);
		snprintf(x->why, sizeof(x->why),
			 "%" PRIu64 " bytes, expected %" PRIu64, x->kept,
			 x->len);
		rc = -EIO;
	}
out:
	origin_http_handle_put(o, x->h, x->sock);
	x->h = NULL;
	curl_slist_free_all(x->headers);
	x->headers = NULL;
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

/* req->why from the last attempt's x->why: what, where, how often. */
static void http_why(struct origin_xfer *x, const char *what, uint64_t attempts)
{
	char times[48] = "";

	if (attempts > 1)
		snprintf(times, sizeof(times), " (%" PRIu64 " attempts)",
			 attempts);
	if (!strncmp(x->why, "HTTP ", 5))
		origin_req_why(x->req, "%s from '%s%s'%s%s", x->why,
			       x->m->log_base, x->req->rel, what, times);
	else
		origin_req_why(x->req, "'%s%s'%s: %s%s", x->m->log_base,
			       x->req->rel, what, x->why, times);
}

/*
 * The attempts of one fetch. With one mirror: retries + 1 attempts of
 * the transient failures, with backoff. With several: a failure of any
 * kind (but a body that cannot be taken back) passes over that mirror
 * and the next attempt asks the next one at once; backoff only once
 * every mirror was tried. A 404 is final only when every mirror said so.
 */
static int http_fetch(struct origin_xfer *x)
{
	origin_t *o = x->o;
	uint64_t attempts = (uint64_t)o->retries + o->nmirrors, attempt;
	uint64_t tried = 0, same = 0;
	char what[64] = "";
	bool all_timeouts = true, all_missing = true;
	int rc = -EIO;

	if (x->mode == XFER_RANGE)
		snprintf(what, sizeof(what), " bytes %" PRIu64 "-%" PRIu64,
			 x->off, x->off + x->len - 1);
	for (attempt = 1;; attempt++) {
		struct origin_mirror *m = origin_mirror_pick(o, tried);
		size_t mi = (size_t)(m - o->mirrors);
		bool retry, timed_out,
		    fresh = mi >= 64 || !(tried & (1ull << mi));
		char *url = xasprintf("%s%s", m->base, x->req->rel);
		int rew;

		if (attempt > 1) {
			/* a mirror not yet asked is asked at once */
			if (!fresh || o->nmirrors == 1)
				backoff(same++);
			stat_add(&o->retried, 1);
		}
		x->m = m;
		x->req->mirror = (int)mi;
		stat_add(&m->requests, 1);
		rc = xfer_attempt(x, url, &retry, &timed_out);
		free(url);
		if (rc == 0)
			break;
		stat_add(&m->failures, 1);
		all_timeouts = all_timeouts && timed_out;
		all_missing = all_missing && rc == -ENOENT;
		rew = xfer_rewind(x);
		if (rew) {
			/* Not retryable: the output cannot be taken back. */
			rc = rew;
			retry = false;
		} else if (o->nmirrors > 1) {
			if (mi < 64)
				tried |= 1ull << mi;
			origin_mirror_avoid(o, m, x->why);
			/* another mirror may have it, or be up */
			retry = retry || tried != (1ull << o->nmirrors) - 1;
		}
		if (!retry) {
			log_warn("fetch '%s%s'%s failed: %s", m->log_base,
				 x->req->rel, what, x->why);
			break;
		}
		log_warn("fetch '%s%s'%s failed (attempt %" PRIu64 "/%" PRIu64
			 "): %s",
			 m->log_base, x->req->rel, what, attempt, attempts,
			 x->why);
		if (attempt >= attempts) {
			rc = all_timeouts  ? -ETIMEDOUT
			     : all_missing ? -ENOENT
					   : -EIO;
			break;
		}
	}
	if (rc)
		http_why(x, what, attempt);
	return rc;
}

/* A fetch of req in mode; the caller sets the mode's own fields. */
static void xfer_init(struct origin_xfer *x, origin_t *o,
		      struct origin_req *req, enum origin_xfer_mode mode)
{
	memset(x, 0, sizeof(*x));
	x->o = o;
	x->req = req;
	x->mode = mode;
	x->fd = -1;
	x->len = req->size;
	x->exact = mode == XFER_RANGE || (req->flags & ORIGIN_EXACT);
}

int origin_http_get(origin_t *o, struct origin_req *req, struct buf *out)
{
	struct origin_xfer x;

	xfer_init(&x, o, req, XFER_BUF);
	x.out = out;
	x.out_start = out->len;
	return http_fetch(&x);
}

int origin_http_get_to_fd(origin_t *o, struct origin_req *req, int fd)
{
	struct origin_xfer x;

	xfer_init(&x, o, req, XFER_FD);
	x.fd = fd;
	/* A pipe cannot be rewound: such a fetch fails instead of retrying
	 * once part of a body was written. */
	x.fd_start = lseek(fd, 0, SEEK_CUR);
	return http_fetch(&x);
}

int origin_http_get_range(origin_t *o, struct origin_req *req, uint64_t off,
			  struct buf *out)
{
	struct origin_xfer x;
	int rc;

	/* Allocate once; the write callback then only copies. */
	rc = buf_reserve(out, (size_t)req->size);
	if (rc) {
		log_warn("fetch '%s%s' failed: %" PRIu64 " bytes exceed the "
			 "buffer's cap",
			 o->log_base, req->rel, req->size);
		origin_req_why(req,
			       "'%s%s': %" PRIu64 " bytes exceed the "
			       "buffer's cap",
			       o->log_base, req->rel, req->size);
		return rc;
	}
	xfer_init(&x, o, req, XFER_RANGE);
	x.out = out;
	x.out_start = out->len;
	x.off = off;
	return http_fetch(&x);
}

void origin_http_release(origin_t *o)
{
	for (size_t i = 0; i < o->pool_len; i++)
		curl_easy_cleanup(o->pool[i]);
	o->pool_len = 0;
}

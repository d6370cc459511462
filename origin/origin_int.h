/*
 * Private to origin/: the state of an origin and what its files
 * share. origin.c: URLs, life cycle and the fetch entry points;
 * origin_file.c: file://; origin_http.c: http(s):// through libcurl,
 * whose answers origin_xfer.c takes.
 */
#ifndef AIDATA_ORIGIN_INT_H
#define AIDATA_ORIGIN_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "origin.h"

#ifndef AIDATA_VERSION
#define AIDATA_VERSION "dev"
#endif

#define ORIGIN_DEFAULT_TIMEOUT 20	 /* seconds, when the caller says 0 */
#define ORIGIN_POOL_MAX 16		 /* idle easy handles kept per origin */
#define ORIGIN_RECV_BUFFER (256L * 1024) /* libcurl's, per handle */
#define ORIGIN_BACKOFF_MS 100 /* first retry delay, doubled each time */
#define ORIGIN_BACKOFF_MAX_MS 2000
/*
 * Slower than this for timeout_sec seconds counts as a timeout. A pure
 * stall check (1 byte/s) would let an origin that trickles a few bytes a
 * second hold a FUSE read for hours; no useful origin is this slow.
 */
#define ORIGIN_MIN_RATE 4096 /* bytes per second */
/* Error bodies (404 pages, ...) are discarded, and only this much is read
 * before giving up on the connection. */
#define ORIGIN_ERROR_BODY_MAX (64 * 1024)
#define ORIGIN_FILE_CHUNK (64 * 1024)
/* A mirror that failed is passed over for this long (CVMFS's host
 * reset after failover). */
#define ORIGIN_MIRROR_AVOID_SEC 60

enum origin_kind {
	ORIGIN_FILE,
	ORIGIN_HTTP,
};

struct origin {
	enum origin_kind kind;
	char *base;	/* "/root/" or "http://host/path/" (with userinfo) */
	char *log_base; /* base for log lines: the URL without userinfo */
	char *ca_file;
	unsigned timeout_sec;
	unsigned retries;
	bool https; /* redirects may not leave https */

	/* mirrors (URL1|URL2|...): the same repository at several http(s)
	 * or s3:// URLs, in order of preference; mirrors[0] is
	 * base/log_base */
	struct origin_mirror {
		char *base;	/* with userinfo, trailing '/' */
		char *log_base; /* for messages */
		bool https;
		bool s3; /* a bucket of o's store: requests signed */
		_Atomic int64_t avoid_until; /* monotonic s; 0 = usable */
		_Atomic uint64_t requests, bytes, failures, avoided;
	} * mirrors;
	size_t nmirrors;

	/* proxy= (origin_proxy.c): the list in order, and the one in use */
	struct origin_proxy {
		char *url; /* NULL: DIRECT */
		unsigned group;
	} * proxies;
	size_t nproxies;
	size_t proxy_first;   /* the random start in the first group */
	size_t proxy_current; /* protected by pool_lock */
	time_t proxy_since;   /* when it left the first; pool_lock */
	_Atomic uint64_t proxy_failovers;

	/* s3:// (origin_s3.c): the store of every s3:// mirror; the
	 * secrets are wiped at origin_free */
	bool s3;	       /* some mirror is an s3:// bucket */
	char *s3_endpoint;     /* "https://host[:port]", no '/' at the end */
	bool s3_virtual_host;  /* BUCKET.host/KEY rather than host/BUCKET/KEY */
	char *s3_sigv4;	       /* "aws:amz:REGION:s3" */
	char *s3_userpwd;      /* "KEY:SECRET" (secret), NULL: anonymous */
	char *s3_token_header; /* "x-amz-security-token: ..." (secret) */

	pthread_mutex_t pool_lock;
	CURL *pool[ORIGIN_POOL_MAX]; /* idle handles, protected by pool_lock */
	/* the socket each one last opened (origin_xfer.c, ack_now) */
	curl_socket_t pool_sock[ORIGIN_POOL_MAX];
	size_t pool_len;

	_Atomic uint64_t requests;
	_Atomic uint64_t bytes;
	_Atomic uint64_t retried;
	_Atomic uint64_t timeouts;
	_Atomic uint64_t http_errors;
	_Atomic uint64_t other_errors;
};

static inline void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Say in req->why what went wrong (printf format). */
void origin_req_why(struct origin_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* file://: the whole object into out (out_fd < 0) or into out_fd; a
 * byte range into out. */
int origin_file_get(origin_t *o, struct origin_req *req, struct buf *out,
		    int out_fd);
int origin_file_get_range(origin_t *o, struct origin_req *req, uint64_t off,
			  struct buf *out);

enum origin_xfer_mode {
	XFER_BUF,   /* whole object into out */
	XFER_FD,    /* whole object into fd */
	XFER_RANGE, /* [off, off+len) into out */
};

/* One http(s) fetch: what it wants, and the state of the current
 * attempt (origin_http.c runs it, origin_xfer.c takes its answer). */
struct origin_xfer {
	origin_t *o;
	struct origin_req *req;
	enum origin_xfer_mode mode;
	bool exact; /* len is the object's size (or the range's) */
	struct buf *out;
	size_t out_start; /* out->len before the fetch */
	int fd;
	off_t fd_start; /* -1: fd cannot seek, so cannot retry */
	uint64_t off;	/* XFER_RANGE */
	uint64_t len;	/* the size (exact) or cap of what is kept */

	/* Reset for every attempt. */
	CURL *h;
	curl_socket_t sock; /* the socket h last opened, or CURL_SOCKET_BAD */
	long status;	    /* of the response carrying the body; 0 before */
	int64_t length;	    /* its Content-Length, -1 when it has none */
	uint64_t seen;	    /* body bytes received */
	uint64_t kept;	    /* bytes stored */
	bool done;	    /* range complete; the abort is ours */
	bool wrote;	    /* XFER_FD: something was written to fd */
	int err;	    /* fatal error found by a callback */
	char why[CURL_ERROR_SIZE + 96]; /* reason for err */
	char range_hdr[96]; /* Content-Range of the last response, capped */
	struct curl_slist *headers; /* request headers, freed per attempt */
	size_t proxy;		    /* index into o->proxies when used */
	struct origin_mirror *m;    /* the mirror of this attempt */
	char error_body[512];	    /* the start of an error page (S3 <Code>) */
	size_t error_len;
};

/* Whether status is the answer x wants (200, or 206 for a range). */
bool origin_xfer_status_wanted(const struct origin_xfer *x, long status);
/* libcurl's CURLOPT_HEADERFUNCTION and CURLOPT_WRITEFUNCTION for x: they
 * refuse (return 0, x->err and x->why set) an answer of the wrong size. */
size_t origin_xfer_header(char *p, size_t size, size_t nmemb, void *arg);
size_t origin_xfer_write(char *p, size_t size, size_t nmemb, void *arg);

/* http(s)://: check url (log_url is what to log of it) and initialise
 * libcurl once. 0, -EINVAL or -EIO (logged). */
int origin_http_check(const char *url, const char *log_url);
/* The three fetches of origin.h, for an http(s) origin. */
int origin_http_get(origin_t *o, struct origin_req *req, struct buf *out);
int origin_http_get_to_fd(origin_t *o, struct origin_req *req, int fd);
int origin_http_get_range(origin_t *o, struct origin_req *req, uint64_t off,
			  struct buf *out);
/* An easy handle from o's pool (reset), or a new one; NULL without
 * memory. *sock (if sock is not NULL) gets the socket the handle last
 * opened, CURL_SOCKET_BAD if none is known. Give it back with
 * origin_http_handle_put, with the socket it last opened. */
CURL *origin_http_handle_get(origin_t *o, curl_socket_t *sock);
void origin_http_handle_put(origin_t *o, CURL *h, curl_socket_t sock);
/* CURLOPT_SOCKOPTFUNCTION with a struct origin_xfer: notes the socket. */
int origin_xfer_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose);
/* curl_easy_setopt(h, opt, val) unless an earlier one failed: res and h
 * are the caller's CURLcode and handle. */
#define ORIGIN_SET(opt, val)                                                   \
	do {                                                                   \
		if (res == CURLE_OK)                                           \
			res = curl_easy_setopt(h, opt, val);                   \
	} while (0)

/* What every request of o sets on h, fetch or write alike: url, http(s)
 * only, errbuf, no signals, o's connect and stall limits, keep-alive,
 * our user agent, o's CA file. Returns the first failing setopt's code. */
CURLcode origin_curl_defaults(const origin_t *o, CURL *h, const char *url,
			      char *errbuf);
/* The mirror to ask now: the first not being avoided, else the one
 * whose avoidance ends first, never one in tried (a bit per index) if
 * another is left. */
struct origin_mirror *origin_mirror_pick(origin_t *o, uint64_t tried);
/* Pass over mirror m for ORIGIN_MIRROR_AVOID_SEC (logged, with why). */
void origin_mirror_avoid(origin_t *o, struct origin_mirror *m, const char *why);
/* Free the idle connection handles. */
void origin_http_release(origin_t *o);

/* proxy=: parse spec (NULL or "" = none: curl's http_proxy rules).
 * 0 or -EINVAL (logged). */
int origin_proxy_setup(origin_t *o, const char *spec);
/* The proxy to use now (*url NULL: DIRECT), and its index. */
size_t origin_proxy_pick(origin_t *o, const char **url);
/* Proxy i could not be reached: move on to the next (logged once). */
void origin_proxy_failed(origin_t *o, size_t i, const char *why);
void origin_proxy_release(origin_t *o);

/* s3://BUCKET/PREFIX as mirror m: the store's endpoint, region and
 * credentials resolved from opt (may be NULL) at o's first s3:// URL,
 * then m's base URLs and flags. 0, or -EINVAL (logged, never with a
 * secret). */
int origin_s3_setup(origin_t *o, const char *url,
		    const struct origin_s3_options *opt,
		    struct origin_mirror *m);
/* Sign the request on h (SigV4, when o has credentials) whose body has
 * the SHA-256 payload_hex (NULL: empty body), adding its headers to
 * *headers (the caller sets CURLOPT_HTTPHEADER and frees them). */
CURLcode origin_s3_sign(origin_t *o, CURL *h, const char *payload_hex,
			struct curl_slist **headers);
/* Whether rel can be sent to an S3 store as is: SigV4 signs the path
 * as written, so only unreserved characters and '/'. */
bool origin_s3_rel_ok(const char *rel);
/* The S3 error code of an error page ("SignatureDoesNotMatch") into
 * out, or "" when there is none. */
void origin_s3_error_code(const char *body, size_t len, char *out,
			  size_t out_len);
/* Wipe and free o's credentials. */
void origin_s3_release(origin_t *o);

#endif

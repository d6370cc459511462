/*
 * origin: fetching repository objects from where they are published:
 * file:///path, http://host/path, https://host/path or an S3 bucket,
 * s3://BUCKET/PREFIX (libcurl; requests signed with AWS SigV4 when
 * there are credentials, anonymous otherwise; see struct
 * origin_s3_options). Used
 * by cache/ (reads) and publish/ (writes to an object store); the only
 * library that includes curl. Thread-safe: any number of threads may
 * fetch at once; HTTP connections are kept alive and reused across
 * calls.
 *
 * Every fetch says how big the object is (struct origin_req): exactly
 * (ORIGIN_EXACT: a signed record gives its size, FORMAT.md §1), or at
 * most (a cap: the manifest, sealed keys). A response that declares
 * another length is refused at its headers, a body that runs past the
 * size is cut off and refused, and a body that ends short is refused:
 * nothing beyond the size is ever read.
 *
 * Objects fetched without ORIGIN_EXACT (the manifest, sealed keys) may
 * change: they are asked for with "Cache-Control: no-cache" and
 * "Pragma: no-cache", so no shared cache serves a stale one. Everything
 * else is immutable and fetched with stable URLs and ranges a cache can
 * keep.
 *
 * Redirects (http, https) are followed, at most ORIGIN_REDIRECTS_MAX of
 * them, never from https to http; every byte read is verified by the
 * caller against a signed digest wherever it came from.
 *
 * Errors (negative errno), with req->why saying what and where:
 *   -ENOENT     the object does not exist (HTTP 404, missing file)
 *   -EFBIG      the object is larger than the caller's cap
 *   -ETIMEDOUT  every attempt timed out
 *   -EIO        every attempt failed otherwise (refused, 5xx, a size
 *               other than the known one, short body, TLS error,
 *               too many redirects, ...); one log line says which.
 *               An S3 store's refusal carries its error code in why:
 *               "HTTP 403 (SignatureDoesNotMatch)", "(AccessDenied)".
 *   -EINVAL     bad URL or scheme (origin_new), bad object path or range,
 *               unusable s3 credentials (origin_new, logged)
 * Transient failures (timeouts, 5xx, 429, connection errors, bodies cut
 * short by the connection) are retried with exponential backoff; 4xx
 * other than 429, and answers of the wrong size, are not. URLs are
 * logged without any userinfo.
 */
#ifndef AIDATA_ORIGIN_H
#define AIDATA_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct origin origin_t;

/*
 * How to reach an s3:// origin. Every field may be NULL (or false); the
 * AWS SDKs' environment variables then decide, and last the defaults:
 *   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else
 *                https://s3.REGION.amazonaws.com
 *   region       AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
 *   credentials  a shared credentials file (INI: [profile] sections with
 *                aws_access_key_id, aws_secret_access_key and optionally
 *                aws_session_token). Without it: AWS_ACCESS_KEY_ID and
 *                AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); else
 *                AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials if
 *                it exists; else anonymous (unsigned) requests.
 *   profile      AWS_PROFILE, else "default"
 *   virtual_host BUCKET.host/KEY URLs instead of host/BUCKET/KEY
 * Secrets are kept in memory only, wiped at origin_free, and never
 * logged nor put in req->why.
 */
struct origin_s3_options {
	const char *endpoint;
	const char *region;
	const char *credentials;
	const char *profile;
	bool virtual_host;
};

struct origin_options {
	/* repository root URL; trailing '/' optional. Mirrors: several
	 * http(s) URLs of the same repository separated by '|', in order
	 * of preference. A fetch moves to the next mirror on a connection
	 * error, a timeout, a 5xx or 429, or a 404 (a mirror behind), and
	 * the failing one is passed over for 60 s; origin_report_bad does
	 * the same for bytes that did not verify. */
	const char *url;
	unsigned timeout_sec; /* per attempt: connect + stall limit; 0 = 20 */
	unsigned retries;     /* extra attempts after the first; */
	const char *ca_file;  /* PEM bundle for https, NULL = system */
	const struct origin_s3_options *s3; /* s3:// only; NULL = defaults */
	/* HTTP proxies for fetches, CVMFS's syntax: "A|B;C;DIRECT" ('|'
	 * shares the load, ';' fails over, DIRECT = none); NULL: the
	 * http_proxy, https_proxy and no_proxy variables */
	const char *proxy;
};

/* 0 and *out, or -EINVAL (unsupported scheme, malformed URL). */
int origin_new(const struct origin_options *o, origin_t **out);
void origin_free(origin_t *o);

#define ORIGIN_REDIRECTS_MAX 5
#define ORIGIN_WHY_MAX 384

enum origin_flags {
	/* size is the object's size, known from a signed record; without
	 * it, size is only a cap */
	ORIGIN_EXACT = 1 << 0,
};

/* One fetch: what it asks for, and what came of it. */
struct origin_req {
	const char *rel; /* object path: "manifest", "catalog/<hex>", ... */
	uint64_t size;	 /* ORIGIN_EXACT: the object's size; else a cap */
	unsigned flags;	 /* enum origin_flags */
	/* filled in by the fetch: */
	uint64_t received;	  /* body bytes received, every attempt */
	int mirror;		  /* index of the mirror that answered */
	char why[ORIGIN_WHY_MAX]; /* after an error: what, and where */
};

/* A request for rel (which must outlive it) of size bytes, as flags say. */
void origin_req_init(struct origin_req *r, const char *rel, uint64_t size,
		     unsigned flags);

/* Append the whole object req->rel to out. On error out is as before. */
int origin_get(origin_t *o, struct origin_req *req, struct buf *out);

/* Stream the whole object req->rel into fd (at its current position).
 * On error fd may hold a partial body: the caller discards it. */
int origin_get_to_fd(origin_t *o, struct origin_req *req, int fd);

/*
 * Append exactly the req->size bytes at off of object req->rel to out
 * (ORIGIN_EXACT is implied: a range always has a known length). A server
 * that ignores Range (200 instead of 206) still works: bytes before the
 * range are received and discarded (counted in req->received), and the
 * transfer stops once the range is read. An object shorter than
 * off + size gives -EIO.
 */
int origin_get_range(origin_t *o, struct origin_req *req, uint64_t off,
		     struct buf *out);

/*
 * Writes, for the publisher; s3:// origins only (-EINVAL otherwise).
 * Each signs its body's SHA-256, retries transient failures like a
 * fetch, and on error says in req->why which request on which object
 * got which answer ("PUT 's3://b/p/data/ab/…' (part 3 of 7): HTTP 403
 * (AccessDenied)"). Errors: -ENOENT (404: no such object or bucket),
 * -EACCES (401, 403), -EEXIST (ORIGIN_PUT_IF_ABSENT and the object
 * exists), -ETIMEDOUT, -EIO.
 */
enum origin_put_flags {
	/* origin_put: only if no object has that name (If-None-Match: *),
	 * else -EEXIST */
	ORIGIN_PUT_IF_ABSENT = 1 << 1,
};
/* Whether object req->rel exists: 0 and its size, or -ENOENT. */
int origin_head(origin_t *o, struct origin_req *req, uint64_t *size);
/* Store len bytes at data as object req->rel (flags: origin_put_flags). */
int origin_put(origin_t *o, struct origin_req *req, const void *data,
	       size_t len);
/* Store the file at path as object req->rel: one PUT up to part_size
 * bytes (at least 5 MiB, S3's minimum part), else a multipart upload of
 * part_size parts (aborted on error), one part in memory at a time. */
int origin_put_file(origin_t *o, struct origin_req *req, const char *path,
		    uint64_t part_size);
/* Remove object req->rel (removing a missing object succeeds). */
int origin_delete(origin_t *o, struct origin_req *req);

/*
 * The bytes of req (a fetch that succeeded) did not verify: pass over
 * the mirror that sent them, so the next fetch asks another. Returns
 * whether a mirror not passed over is left to ask.
 */
bool origin_report_bad(origin_t *o, const struct origin_req *req,
		       const char *why);

/* Per mirror: its URL (without userinfo; valid until origin_free) and
 * counts. i < origin_mirror_count(o); 0 or -ENOENT. */
struct origin_mirror_stats {
	const char *url;
	uint64_t requests, bytes, failures, avoided;
	bool avoided_now;
};
size_t origin_mirror_count(origin_t *o);
int origin_mirror_stats_get(origin_t *o, size_t i,
			    struct origin_mirror_stats *out);

struct origin_stats {
	uint64_t requests;	  /* attempts made */
	uint64_t bytes;		  /* body bytes received */
	uint64_t retries;	  /* attempts after a failure */
	uint64_t timeouts;	  /* attempts that timed out */
	uint64_t http_errors;	  /* attempts answered with an error status */
	uint64_t other_errors;	  /* connection, TLS, short body, I/O */
	uint64_t proxy_failovers; /* moves to the next proxy= entry */
};
void origin_stats_get(origin_t *o, struct origin_stats *out);

/* "http://host/path" with any userinfo removed, for log lines; caller
 * frees. */
char *origin_redact_url(const char *url);

#endif

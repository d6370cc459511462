/*
 * origin: fetching repository objects from where they are published:
 * file:///path, http://host/path or https://host/path (libcurl).
 * Private to cache/. Thread-safe: any number of threads may fetch at
 * once; HTTP connections are kept alive and reused across calls.
 *
 * Errors (negative errno):
 *   -ENOENT     the object does not exist (HTTP 404, missing file)
 *   -EFBIG      the object is larger than the caller's cap
 *   -ETIMEDOUT  every attempt timed out
 *   -EIO        every attempt failed otherwise (refused, 5xx, short body,
 *               TLS error, ...); one log line says which and why
 *   -EINVAL     bad URL or scheme (origin_new only)
 * Transient failures (timeouts, 5xx, 429, connection errors, short
 * bodies) are retried with exponential backoff; 4xx other than 404/429
 * are not. URLs are logged without any userinfo.
 */
#ifndef AIDATA_ORIGIN_H
#define AIDATA_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct origin origin_t;

struct origin_options {
	const char *url;      /* repository root URL; trailing '/' optional */
	unsigned timeout_sec; /* per attempt: connect + stall limit; 0 = 20 */
	unsigned retries;     /* extra attempts after the first; */
	const char *ca_file;  /* PEM bundle for https, NULL = system */
};

/* 0 and *out, or -EINVAL (unsupported scheme, malformed URL). */
int origin_new(const struct origin_options *o, origin_t **out);
void origin_free(origin_t *o);

/* Append the whole object at rel ("manifest", "catalog/<hex>") to out,
 * refusing objects over max bytes with -EFBIG. */
int origin_get(origin_t *o, const char *rel, size_t max, struct buf *out);

/* Stream the whole object at rel into fd (at its current position),
 * at most max bytes. On error fd may hold a partial body: the caller
 * discards it. */
int origin_get_to_fd(origin_t *o, const char *rel, uint64_t max, int fd);

/* Append exactly bytes [off, off+len) of object rel to out. A server
 * that ignores Range (200 instead of 206) still works: bytes outside the
 * range are discarded and the transfer stops once the range is read.
 * An object shorter than off+len gives -EIO. */
int origin_get_range(origin_t *o, const char *rel, uint64_t off, size_t len,
		     struct buf *out);

struct origin_stats {
	uint64_t requests;     /* attempts made */
	uint64_t bytes;	       /* body bytes received */
	uint64_t retries;      /* attempts after a failure */
	uint64_t timeouts;     /* attempts that timed out */
	uint64_t http_errors;  /* attempts answered with an error status */
	uint64_t other_errors; /* connection, TLS, short body, I/O */
};
void origin_stats_get(origin_t *o, struct origin_stats *out);

/* "http://host/path" with any userinfo removed, for log lines; caller
 * frees. */
char *origin_redact_url(const char *url);

#endif

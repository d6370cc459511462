/*
 * origin: fetching repository objects from file://, http://, https:// and
 * s3:// origins. See origin.h for the contract. This file: URLs, object paths,
 * life cycle, and the fetches, which go to origin_file.c or
 * origin_http.c.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* ------------------------------------------------------------- helpers -- */

char *origin_redact_url(const char *url)
{
	const char *sep, *auth, *at;
	size_t auth_len;

	if (!url)
		return NULL;
	sep = strstr(url, "://");
	/* Only a real "scheme://": not a "://" inside a path or query. */
	if (!sep || sep == url || strcspn(url, "/?#@") < (size_t)(sep - url))
		return xstrdup(url);
	auth = sep + 3;
	auth_len = strcspn(auth, "/?#");
	at = memrchr(auth, '@', auth_len);
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static char *with_slash(const char *s)
{
	size_t n = strlen(s);

	return xasprintf("%s%s", s, n && s[n - 1] == '/' ? "" : "/");
}

/*
 * An object path as the cache names it ("manifest", "data/ab/<hex>"):
 * relative, no "." or ".." components, and only characters that mean the
 * same thing in a URL path and a file name, so neither percent-encoding
 * nor -decoding is ever needed.
 */
static int check_rel(const origin_t *o, const char *rel)
{
	const char *p;

	if (!rel || !*rel || rel[0] == '/')
		goto bad;
	for (p = rel; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("?#%\\", c))
			goto bad;
	}
	if (o->s3 && !origin_s3_rel_ok(rel))
		goto bad;
	for (p = rel; *p;) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
bad:
	log_warn("refusing object path '%s' under '%s': not a plain relative "
		 "path",
		 rel ? rel : "(null)", o->log_base);
	return -EINVAL;
}

/* ---------------------------------------------------------- lifecycle -- */

#define ORIGIN_MIRRORS_MAX 16

/* "URL1|URL2|...": http(s) and s3:// mirrors of one repository (one
 * URL is a list of one). */
static int mirrors_setup(origin_t *o, const char *list,
			 const struct origin_s3_options *s3)
{
	const char *p = list;

	o->kind = ORIGIN_HTTP;
	while (*p) {
		size_t n = strcspn(p, "|");
		char *url = xstrndup(p, n), *shown = origin_redact_url(url);
		struct origin_mirror m = {0};
		int rc = 0;

		if (o->nmirrors == ORIGIN_MIRRORS_MAX) {
			log_error("more than %d mirrors", ORIGIN_MIRRORS_MAX);
			rc = -EINVAL;
		} else if (has_prefix_ci(url, "s3://")) {
			rc = origin_s3_setup(o, url, s3, &m);
		} else if (has_prefix_ci(url, "http://") ||
			   has_prefix_ci(url, "https://")) {
			rc = origin_http_check(url, shown);
			if (!rc) {
				m.base = with_slash(url);
				m.log_base = with_slash(shown);
				m.https = has_prefix_ci(url, "https://");
			}
		} else {
			log_error("mirror '%s': a mirror list holds http://, "
				  "https:// and s3:// URLs only",
				  n ? shown : "(empty)");
			rc = -EINVAL;
		}
		free(url);
		free(shown);
		if (rc)
			return rc;
		o->mirrors = xrealloc(o->mirrors,
				      (o->nmirrors + 1) * sizeof(*o->mirrors));
		o->mirrors[o->nmirrors++] = m;
		p += n;
		if (*p == '|')
			p++;
	}
	o->base = xstrdup(o->mirrors[0].base);
	o->log_base = xstrdup(o->mirrors[0].log_base);
	o->https = o->mirrors[0].https;
	return 0;
}

int origin_new(const struct origin_options *opt, origin_t **out)
{
	origin_t *o = NULL;
	char *log_url = NULL;
	const char *url;
	int rc = 0;

	*out = NULL;
	if (!opt || !opt->url || !*opt->url) {
		log_error("origin url is empty");
		return -EINVAL;
	}
	url = opt->url;
	log_url = origin_redact_url(url);
	o = xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->pool_lock, NULL);
	o->timeout_sec =
	    opt->timeout_sec ? opt->timeout_sec : ORIGIN_DEFAULT_TIMEOUT;
	o->retries = opt->retries;
	o->ca_file = opt->ca_file ? xstrdup(opt->ca_file) : NULL;

	if (strchr(url, '|') || has_prefix_ci(url, "s3://")) {
		rc = mirrors_setup(o, url, opt->s3);
		if (rc)
			goto out;
	} else if (has_prefix_ci(url, "file://")) {
		const char *path = url + strlen("file://");

		if (has_prefix_ci(path, "localhost/"))
			path += strlen("localhost");
		if (path[0] != '/') {
			log_error(
			    "origin url '%s' is not file:///absolute/path",
			    log_url);
			rc = -EINVAL;
			goto out;
		}
		o->kind = ORIGIN_FILE;
		o->base = with_slash(path);
	} else if (has_prefix_ci(url, "http://") ||
		   has_prefix_ci(url, "https://")) {
		rc = origin_http_check(url, log_url);
		if (rc)
			goto out;
		o->kind = ORIGIN_HTTP;
		o->https = has_prefix_ci(url, "https://");
		o->base = with_slash(url);
	} else {
		log_error("origin url '%s' has an unsupported scheme (want "
			  "file, http, https or s3)",
			  log_url);
		rc = -EINVAL;
		goto out;
	}
	if (!o->log_base)
		o->log_base = with_slash(log_url);
	if (!o->nmirrors) {
		o->mirrors = xcalloc(1, sizeof(*o->mirrors));
		o->mirrors[0].base = xstrdup(o->base);
		o->mirrors[0].log_base = xstrdup(o->log_base);
		o->mirrors[0].https = o->https;
		o->nmirrors = 1;
	}
	if (o->kind == ORIGIN_HTTP) {
		rc = origin_proxy_setup(o, opt->proxy);
		if (rc)
			goto out;
	}
	*out = o;
	o = NULL;
out:
	origin_free(o);
	free(log_url);
	return rc;
}

void origin_free(origin_t *o)
{
	if (!o)
		return;
	origin_http_release(o);
	origin_s3_release(o);
	origin_proxy_release(o);
	pthread_mutex_destroy(&o->pool_lock);
	for (size_t i = 0; i < o->nmirrors; i++) {
		free(o->mirrors[i].base);
		free(o->mirrors[i].log_base);
	}
	free(o->mirrors);
	free(o->base);
	free(o->log_base);
	free(o->ca_file);
	free(o);
}

void origin_stats_get(origin_t *o, struct origin_stats *out)
{
	out->requests = atomic_load(&o->requests);
	out->bytes = atomic_load(&o->bytes);
	out->retries = atomic_load(&o->retried);
	out->timeouts = atomic_load(&o->timeouts);
	out->http_errors = atomic_load(&o->http_errors);
	out->other_errors = atomic_load(&o->other_errors);
	out->proxy_failovers = atomic_load(&o->proxy_failovers);
}

/* ------------------------------------------------------------ fetching -- */

void origin_req_init(struct origin_req *r, const char *rel, uint64_t size,
		     unsigned flags)
{
	memset(r, 0, sizeof(*r));
	r->mirror = -1;
	r->rel = rel;
	r->size = size;
	r->flags = flags;
}

void origin_req_why(struct origin_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->why, sizeof(req->why), fmt, ap);
	va_end(ap);
}

/* The checks every fetch shares; 0 to go on. */
static int req_start(origin_t *o, struct origin_req *req)
{
	req->received = 0;
	req->why[0] = '\0';
	if (check_rel(o, req->rel)) {
		origin_req_why(req, "'%s' is not a plain relative path",
			       req->rel ? req->rel : "(null)");
		return -EINVAL;
	}
	return 0;
}

int origin_get(origin_t *o, struct origin_req *req, struct buf *out)
{
	size_t start = out->len;
	int rc;

	rc = req_start(o, req);
	if (rc)
		return rc;
	if (o->kind == ORIGIN_HTTP)
		return origin_http_get(o, req, out);
	rc = origin_file_get(o, req, out, -1);
	if (rc)
		out->len = start;
	return rc;
}

int origin_get_to_fd(origin_t *o, struct origin_req *req, int fd)
{
	int rc;

	rc = req_start(o, req);
	if (rc)
		return rc;
	if (o->kind == ORIGIN_HTTP)
		return origin_http_get_to_fd(o, req, fd);
	return origin_file_get(o, req, NULL, fd);
}

int origin_get_range(origin_t *o, struct origin_req *req, uint64_t off,
		     struct buf *out)
{
	size_t start = out->len;
	uint64_t len = req->size;
	int rc;

	rc = req_start(o, req);
	if (rc)
		return rc;
	req->flags |= ORIGIN_EXACT;
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off ||
	    len > SIZE_MAX) {
		log_warn("fetch '%s%s' failed: range %" PRIu64 "+%" PRIu64
			 " is out of bounds",
			 o->log_base, req->rel, off, len);
		origin_req_why(req,
			       "range %" PRIu64 "+%" PRIu64
			       " of '%s' is out of bounds",
			       off, len, req->rel);
		return -EINVAL;
	}
	/* "bytes=a-(a-1)" is not a valid range; nothing to fetch anyway. */
	if (len == 0)
		return 0;
	if (o->kind == ORIGIN_HTTP)
		return origin_http_get_range(o, req, off, out);
	rc = origin_file_get_range(o, req, off, out);
	if (rc)
		out->len = start;
	return rc;
}

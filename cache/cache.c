/* The cache's life cycle, and the objects it fetches besides chunks:
 * manifests, sealed keys, catalogs; the revision state. */
#define _GNU_SOURCE
#include "cache_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define CATALOG_MAX ((uint64_t)8 << 30)

/* ------------------------------------------------- catalogs, manifest -- */

static void why_set(char *why, const char *text)
{
	if (why)
		snprintf(why, CACHE_WHY_MAX, "%s", text);
}

int cache_manifest_fetch(cache_t *c, char **data, size_t *len, char *why)
{
	struct origin_req req;
	struct buf b;
	int rc;

	origin_req_init(&req, "manifest", REPO_MANIFEST_MAX, 0);
	buf_init(&b, REPO_MANIFEST_MAX + 1);
	rc = origin_get(c->origin, &req, &b);
	c->manifest_req = req;
	if (rc) {
		why_set(why, req.why);
		buf_release(&b);
		return rc;
	}
	return buf_take_string(&b, data, len);
}

bool cache_manifest_refuse(cache_t *c, const char *why)
{
	return origin_report_bad(c->origin, &c->manifest_req, why);
}

int cache_object_fetch(cache_t *c, const char *rel, size_t max, char **data,
		       size_t *len)
{
	struct origin_req req;
	struct buf b;
	int rc;

	origin_req_init(&req, rel, max, 0);
	buf_init(&b, max + 1);
	rc = origin_get(c->origin, &req, &b);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	return buf_take_string(&b, data, len);
}

/* One log line about catalog rel, and the same words in why. */
static void catalog_fail(char *why, const char *rel, const char *what)
{
	log_error("catalog '%s': %s", rel, what);
	if (why)
		snprintf(why, CACHE_WHY_MAX, "'%s': %s", rel, what);
}

/* Fetch catalog d (rel) into the temp file tmp and unpack it to path:
 * its SHA-256 first, then zstd (repo_catalog_unpack). */
static int catalog_fetch(cache_t *c, const struct digest *d, uint64_t size,
			 const char *rel, const char *tmp, const char *path,
			 char *why)
{
	struct origin_req req;
	char what[128];
	int fd, rc;

	if (size)
		origin_req_init(&req, rel, size, ORIGIN_EXACT);
	else
		origin_req_init(&req, rel, CACHE_ROOT_CATALOG_MAX_V1, 0);
	if (size > CATALOG_MAX) {
		snprintf(what, sizeof(what),
			 "%" PRIu64 " bytes, over the cap of %" PRIu64, size,
			 CATALOG_MAX);
		catalog_fail(why, rel, what);
		return -EFBIG;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(what, sizeof(what), "cannot create '%s': %s", tmp,
			 strerror(-rc));
		catalog_fail(why, rel, what);
		return rc;
	}
	rc = origin_get_to_fd(c->origin, &req, fd);
	STAT_ADD(c->stats.bytes_fetched, req.received);
	close(fd);
	if (rc) {
		if (rc == -ETIMEDOUT)
			STAT_ADD(c->stats.err_origin_timeout, 1);
		else
			STAT_ADD(c->stats.err_origin_io, 1);
		log_error("catalog '%s': cannot fetch from the origin: %s", rel,
			  req.why);
		why_set(why, req.why);
		cache_failed_note(c, CACHE_OBJECT_CATALOG, d, rc, req.why);
		return rc;
	}
	rc = repo_catalog_unpack(tmp, d, path);
	if (rc) {
		if (rc == -EBADMSG)
			STAT_ADD(c->stats.err_verify, 1);
		/* the next fetch of it goes to another mirror, if any */
		origin_report_bad(c->origin, &req, "catalog digest mismatch");
		catalog_fail(why, rel,
			     rc == -EBADMSG  ? "digest mismatch"
			     : rc == -EINVAL ? "not a catalog (corrupt frame)"
					     : strerror(-rc));
		rc = rc == -EBADMSG || rc == -EINVAL ? -EIO : rc;
	}
	return rc;
}

int cache_catalog_path(cache_t *c, const struct digest *d, uint64_t size,
		       char **path_out, char *why)
{
	char hex[DIGEST_HEX_LEN + 1], rel[128];
	char *path, *tmp = NULL;
	int rc = 0;

	if (why)
		why[0] = '\0';
	digest_to_hex(d, hex);
	path = xasprintf("%s/%s.mdb", c->catalogs_dir, hex);
	if (access(path, F_OK) == 0)
		goto out;
	pthread_mutex_lock(&c->catalog_lock);
	if (access(path, F_OK) == 0)
		goto unlock;
	repo_catalog_object_path(d, rel, sizeof(rel));
	/* the origin failed on it a moment ago: fail at once (cache.h) */
	if (cache_failed_recent(c, CACHE_OBJECT_CATALOG, d, &rc, why)) {
		STAT_ADD(c->stats.failed_from_memory, 1);
		log_debug("catalog '%s': %s", rel, why ? why : "failed");
		goto unlock;
	}
	pthread_mutex_lock(&c->lock);
	tmp = xasprintf("%s/%d.%" PRIu64, c->tmp_dir, (int)getpid(),
			c->tmp_counter++);
	pthread_mutex_unlock(&c->lock);
	rc = catalog_fetch(c, d, size, rel, tmp, path, why);
	if (!rc)
		cache_failed_forget(c, CACHE_OBJECT_CATALOG, d);
unlock:
	pthread_mutex_unlock(&c->catalog_lock);
out:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (rc)
		free(path);
	else
		*path_out = path;
	return rc;
}

static char *revision_path(cache_t *c, const uint8_t key_id[32])
{
	char hex[DIGEST_HEX_LEN + 1];
	sha256_ctx_t *sha = sha256_new();
	struct digest d;

	sha256_update(sha, c->origin_url, strlen(c->origin_url));
	sha256_update(sha, key_id, 32);
	sha256_final(sha, &d);
	sha256_free(sha);
	digest_to_hex(&d, hex);
	return xasprintf("%s/%s.revision", c->state_dir, hex);
}

int cache_revision_load(cache_t *c, const uint8_t key_id[32], uint64_t *rev)
{
	char *path = revision_path(c, key_id), *data = NULL, *end;
	size_t len;
	int rc = fs_read_file(path, 64, &data, &len);

	*rev = 0;
	if (rc == -ENOENT)
		rc = 0;
	else if (!rc) {
		*rev = strtoull(data, &end, 10);
		if (end == data)
			*rev = 0;
	}
	free(data);
	free(path);
	return rc;
}

int cache_revision_store(cache_t *c, const uint8_t key_id[32], uint64_t rev)
{
	char *path = revision_path(c, key_id);
	char *text = xasprintf("%" PRIu64 "\n", rev);
	uint64_t old = 0;
	int rc;

	/* never move backwards, even if two mounts race */
	cache_revision_load(c, key_id, &old);
	rc = old >= rev ? 0 : fs_write_atomic(path, text, strlen(text), 0600);
	free(text);
	free(path);
	return rc;
}

/* ------------------------------------------------------ life cycle -- */

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/* Remove what killed processes left half-written: "<pid>.<n>" in tmp/
 * and "<name>.tmp.<pid>.<tid>" beside catalogs. */
static void reclaim(const char *dir, bool catalog_style)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *p = de->d_name;
		long pid;

		if (p[0] == '.')
			continue;
		if (catalog_style) {
			p = strstr(p, ".tmp.");
			if (!p)
				continue;
			p += 5;
		}
		pid = strtol(p, NULL, 10);
		if (!pid_alive(pid)) {
			char *path = xasprintf("%s/%s", dir, de->d_name);

			unlink(path);
			free(path);
		}
	}
	closedir(d);
}

int cache_new(const struct cache_options *o, cache_t **out)
{
	cache_t *c = xcalloc(1, sizeof(*c));
	struct origin_options oo = {
	    .url = o->origin_url,
	    .timeout_sec = o->timeout_sec,
	    .retries = o->retries,
	    .ca_file = o->ca_file,
	    .s3 = o->s3,
	    .proxy = o->proxy,
	};
	int rc;

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->catalog_lock, NULL);
	pthread_mutex_init(&c->failed_lock, NULL);
	pthread_mutex_init(&c->room_lock, NULL);
	cache_fd_pool_init(c);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->flush_wake, NULL);
	pthread_cond_init(&c->early_wake, NULL);
	c->dir = xstrdup(o->dir);
	c->origin_url = xstrdup(o->origin_url);
	c->chunks_dir = xasprintf("%s/chunks", o->dir);
	c->tmp_dir = xasprintf("%s/tmp", o->dir);
	c->catalogs_dir = xasprintf("%s/catalogs", o->dir);
	c->state_dir = xasprintf("%s/state", o->dir);
	c->index_dir = xasprintf("%s/index", o->dir);
	c->max_bytes = o->max_bytes;
	c->transient = o->transient;
	c->stats.max_bytes = o->max_bytes;
	c->touched = xcalloc(CACHE_TOUCH_MAX, sizeof(*c->touched));
	{
		const char *dirs[] = {c->chunks_dir, c->tmp_dir,
				      c->catalogs_dir, c->state_dir};

		for (unsigned i = 0; i < 4; i++) {
			rc = fs_mkdir_p(dirs[i], 0700);
			if (rc) {
				log_error("cache '%s': cannot create '%s': %s",
					  o->dir, dirs[i], strerror(-rc));
				goto fail;
			}
		}
	}
	reclaim(c->tmp_dir, false);
	reclaim(c->catalogs_dir, true);
	rc = cache_index_open(c->index_dir, &c->ix);
	if (rc == -EBADMSG) {
		/* a cache is disposable: start afresh rather than not mount */
		log_warn(
		    "cache '%s': index is corrupt; starting an empty cache",
		    o->dir);
		fs_remove_tree(c->index_dir);
		fs_remove_tree(c->chunks_dir);
		fs_mkdir_p(c->chunks_dir, 0700);
		rc = cache_index_open(c->index_dir, &c->ix);
	}
	if (rc) {
		log_error("cache '%s': cannot open the index: %s", o->dir,
			  strerror(-rc));
		goto fail;
	}
	rc = origin_new(&oo, &c->origin);
	if (rc) {
		char *shown = origin_redact_url(o->origin_url);

		log_error("origin '%s': unsupported or malformed URL", shown);
		free(shown);
		goto fail;
	}
	c->npf = o->prefetch_threads ? o->prefetch_threads : 4;
	c->pf_threads = xcalloc(c->npf, sizeof(*c->pf_threads));
	for (unsigned i = 0; i < c->npf; i++) {
		rc = -pthread_create(&c->pf_threads[i], NULL,
				     cache_prefetch_main, c);
		if (rc) {
			c->npf = i;
			goto fail;
		}
	}
	rc = -pthread_create(&c->early_thread, NULL, cache_early_main, c);
	if (rc)
		goto fail;
	c->early_started = true;
	rc = -pthread_create(&c->flusher, NULL, cache_flusher_main, c);
	if (rc)
		goto fail;
	c->flusher_started = true;
	*out = c;
	return 0;
fail:
	cache_free(c);
	return rc;
}

void cache_free(cache_t *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_cond_broadcast(&c->flush_wake);
	pthread_cond_broadcast(&c->early_wake);
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < c->npf; i++)
		pthread_join(c->pf_threads[i], NULL);
	if (c->early_started)
		pthread_join(c->early_thread, NULL);
	if (c->flusher_started)
		pthread_join(c->flusher, NULL);
	if (c->ix) {
		cache_touched_flush(c);
		cache_index_close(c->ix);
	}
	cache_plain_free_all(c);
	cache_held_free_all(c);
	cache_fd_pool_free(c);
	origin_free(c->origin);
	free(c->pf_threads);
	free(c->pins);
	free(c->touched);
	free(c->dir);
	free(c->origin_url);
	free(c->chunks_dir);
	free(c->tmp_dir);
	free(c->catalogs_dir);
	free(c->state_dir);
	free(c->index_dir);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->catalog_lock);
	pthread_mutex_destroy(&c->failed_lock);
	pthread_mutex_destroy(&c->room_lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->flush_wake);
	pthread_cond_destroy(&c->early_wake);
	free(c);
}

void cache_stats_get(cache_t *c, struct cache_stats *out)
{
	struct origin_stats os;
	uint64_t bytes = 0, count = 0;

	out->hits = STAT_GET(c->stats.hits);
	out->misses = STAT_GET(c->stats.misses);
	out->prefetches = STAT_GET(c->stats.prefetches);
	out->warmed_ahead = STAT_GET(c->stats.warmed_ahead);
	out->early_reads = STAT_GET(c->stats.early_reads);
	out->bytes_fetched = STAT_GET(c->stats.bytes_fetched);
	out->evictions = STAT_GET(c->stats.evictions);
	out->err_verify = STAT_GET(c->stats.err_verify);
	out->err_origin_timeout = STAT_GET(c->stats.err_origin_timeout);
	out->err_origin_io = STAT_GET(c->stats.err_origin_io);
	out->err_cache_full = STAT_GET(c->stats.err_cache_full);
	out->decryptions = STAT_GET(c->stats.decryptions);
	out->max_bytes = c->max_bytes;
	cache_index_totals(c->ix, &bytes, &count);
	out->cache_bytes = bytes;
	out->chunks_cached = count;
	origin_stats_get(c->origin, &os);
	out->origin_requests = os.requests;
	out->origin_retries = os.retries;
	out->failed_from_memory = STAT_GET(c->stats.failed_from_memory);
	out->proxy_failovers = os.proxy_failovers;
	out->mirrors = 0;
	for (size_t i = 0; i < CACHE_MIRRORS_MAX; i++) {
		struct origin_mirror_stats ms;

		if (origin_mirror_stats_get(c->origin, i, &ms))
			break;
		out->mirror[i].url = ms.url;
		out->mirror[i].requests = ms.requests;
		out->mirror[i].bytes = ms.bytes;
		out->mirror[i].failures = ms.failures;
		out->mirror[i].avoided = ms.avoided;
		out->mirrors = i + 1;
	}
}

/* --------------------------------------------------------- the origin -- */

char *cache_origin_url(const char *where)
{
	const char *path = where;
	char cwd[4096];

	if (strstr(where, "://")) {
		if (strncasecmp(where, "file://", 7) != 0)
			return xstrdup(where);
		path = where + 7;
		/* file:///abs and file://localhost/abs: origin_new's business
		 */
		if (path[0] == '/' || strncasecmp(path, "localhost/", 10) == 0)
			return xstrdup(where);
	}
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xasprintf("file://%s", path);
	return xasprintf("file://%s/%s", cwd, path);
}

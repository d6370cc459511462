/* The chunk cache: pins, in-flight fetches, storing, eviction, readahead. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"
#include "origin.h"
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define TOUCH_MAX 8192 /* LRU updates batched between flushes */
#define TOUCH_INTERVAL_SEC 2
#define PREFETCH_QUEUE 64
#define CATALOG_MAX ((uint64_t)8 << 30)
/* evict down to this fraction of max_bytes once it would be exceeded */
#define LOW_WATERMARK(max) ((max) / 10 * 9)

#define STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct pin {
	struct digest d;
	unsigned count;
};

/* What a cache_chunk_ref keeps to release itself. */
struct ref_priv {
	struct digest d;
	uint8_t *mem;
};

struct inflight {
	struct digest d;
	struct inflight *next;
	unsigned refs;
	bool done;
	int rc;
};

struct cache {
	char *dir, *chunks_dir, *tmp_dir, *catalogs_dir, *state_dir, *index_dir;
	char *origin_url;
	uint64_t max_bytes;
	origin_t *origin;
	struct cache_index *ix;

	pthread_mutex_t lock;
	pthread_cond_t cond;	   /* an in-flight fetch finished */
	struct pin *pins;	   /* protected by lock */
	size_t npins, apins;	   /* protected by lock */
	struct inflight *inflight; /* protected by lock */
	struct digest *touched;	   /* protected by lock */
	size_t ntouched;	   /* protected by lock */
	uint64_t tmp_counter;	   /* protected by lock */
	bool stop;		   /* protected by lock */

	pthread_cond_t work;			    /* prefetch queue or stop */
	struct repo_chunk pf_queue[PREFETCH_QUEUE]; /* protected by lock */
	size_t pf_head, pf_count;		    /* protected by lock */
	pthread_t *pf_threads;
	unsigned npf;
	pthread_t flusher;
	bool flusher_started;
	pthread_mutex_t catalog_lock; /* one catalog fetch at a time */

	struct cache_stats stats; /* atomics */
};

static uint64_t now_sec(void)
{
	return (uint64_t)time(NULL);
}

static char *chunk_path(cache_t *c, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	return xasprintf("%s/%.2s/%s", c->chunks_dir, hex, hex);
}

/*
 * The name of a chunk in this cache: its digest, or for an encrypted
 * chunk a digest of where its ciphertext lives, so that ciphertext and a
 * plaintext chunk with the same content never share a file.
 */
static void cache_key(const struct repo_chunk *ch, struct digest *key)
{
	sha256_ctx_t *sha;
	uint8_t off[8];

	if (!(ch->flags & REPO_CHUNK_ENCRYPTED)) {
		*key = ch->digest;
		return;
	}
	store_be64(off, ch->offset);
	sha = sha256_new();
	sha256_update(sha, "aidata-encrypted-chunk", 22);
	sha256_update(sha, ch->digest.b, DIGEST_LEN);
	sha256_update(sha, ch->shard.b, DIGEST_LEN);
	sha256_update(sha, off, sizeof(off));
	sha256_final(sha, key);
	sha256_free(sha);
}

/* ------------------------------------------------------------- pins -- */

static void pin(cache_t *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->npins; i++) {
		if (digest_equal(&c->pins[i].d, d)) {
			c->pins[i].count++;
			pthread_mutex_unlock(&c->lock);
			return;
		}
	}
	if (c->npins == c->apins) {
		c->apins = c->apins ? 2 * c->apins : 64;
		c->pins = xrealloc(c->pins, c->apins * sizeof(*c->pins));
	}
	c->pins[c->npins].d = *d;
	c->pins[c->npins].count = 1;
	c->npins++;
	pthread_mutex_unlock(&c->lock);
}

static void unpin(cache_t *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->npins; i++) {
		if (digest_equal(&c->pins[i].d, d)) {
			if (--c->pins[i].count == 0)
				c->pins[i] = c->pins[--c->npins];
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Called by the index with c->lock NOT held (eviction takes it). */
static bool is_pinned(void *ctx, const struct digest *d)
{
	cache_t *c = ctx;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->npins && !found; i++)
		found = digest_equal(&c->pins[i].d, d);
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void drop_file(void *ctx, const struct digest *d)
{
	cache_t *c = ctx;
	char *path = chunk_path(c, d);

	unlink(path);
	free(path);
	STAT_ADD(c->stats.evictions, 1);
}

static void touch(cache_t *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
	if (c->ntouched < TOUCH_MAX)
		c->touched[c->ntouched++] = *d;
	pthread_mutex_unlock(&c->lock);
}

static void flush_touched(cache_t *c)
{
	struct digest *list;
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->ntouched;
	list = xmalloc((n ? n : 1) * sizeof(*list));
	memcpy(list, c->touched, n * sizeof(*list));
	c->ntouched = 0;
	pthread_mutex_unlock(&c->lock);
	if (n)
		cache_index_touch(c->ix, list, n, now_sec());
	free(list);
}

static void *flusher_main(void *arg)
{
	cache_t *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += TOUCH_INTERVAL_SEC;
		pthread_cond_timedwait(&c->work, &c->lock, &ts);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		flush_touched(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* --------------------------------------------------------- storing -- */

/* Open the cached file of d if the index has it and it is whole. */
static int open_cached(cache_t *c, const struct digest *key, int *fd_out)
{
	char *path = NULL;
	struct stat st;
	uint64_t size;
	int fd, rc;

	rc = cache_index_lookup(c->ix, key, &size);
	if (rc)
		return rc;
	path = chunk_path(c, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
		/* evicted by another process, or damaged: forget it */
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		cache_index_remove(c->ix, key);
		free(path);
		return -ENOENT;
	}
	free(path);
	*fd_out = fd;
	return 0;
}

static int make_room(cache_t *c, uint64_t incoming)
{
	uint64_t bytes, count, evicted = 0;
	int rc;

	if (!c->max_bytes)
		return 0;
	rc = cache_index_totals(c->ix, &bytes, &count);
	if (rc)
		return rc;
	if (bytes + incoming <= c->max_bytes)
		return 0;
	rc = cache_index_evict(c->ix,
			       LOW_WATERMARK(c->max_bytes) > incoming
				   ? LOW_WATERMARK(c->max_bytes) - incoming
				   : 0,
			       is_pinned, drop_file, c, &evicted);
	if (rc)
		return rc;
	rc = cache_index_totals(c->ix, &bytes, &count);
	if (rc)
		return rc;
	return bytes + incoming <= c->max_bytes ? 0 : -ENOSPC;
}

/* Write bytes to a temp file and rename it into the store. */
static int store_file(cache_t *c, const struct digest *d, const void *p,
		      size_t n)
{
	char *tmp, *path = chunk_path(c, d), *dir;
	uint64_t seq;
	int fd, rc;

	pthread_mutex_lock(&c->lock);
	seq = c->tmp_counter++;
	pthread_mutex_unlock(&c->lock);
	tmp = xasprintf("%s/%d.%" PRIu64, c->tmp_dir, (int)getpid(), seq);
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_all(fd, p, n);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0) {
		rc = -errno;
		if (rc == -ENOENT && mkdir(dir, 0700) == 0)
			rc = rename(tmp, path) == 0 ? 0 : -errno;
	}
	if (!rc)
		rc = cache_index_insert(c->ix, d, n, now_sec());
	if (rc)
		unlink(tmp);
out:
	free(tmp);
	free(path);
	free(dir);
	return rc;
}

/*
 * Fetch ch from the origin and verify it. *data (malloc'd) gets the bytes
 * to keep: plaintext, or ciphertext for encrypted chunks.
 */
static int fetch_chunk(cache_t *c, const struct repo_chunk *ch, uint8_t **data,
		       size_t *len)
{
	char rel[128], hex[DIGEST_HEX_LEN + 1];
	struct buf b;
	uint8_t *out = NULL;
	int rc;

	repo_shard_object_path(&ch->shard, rel, sizeof(rel));
	digest_to_hex(&ch->digest, hex);
	buf_init(&b, (size_t)ch->stored_size);
	rc = origin_get_range(c->origin, rel, ch->offset, ch->stored_size, &b);
	if (rc) {
		if (rc == -ETIMEDOUT)
			STAT_ADD(c->stats.err_origin_timeout, 1);
		else
			STAT_ADD(c->stats.err_origin_io, 1);
		log_error("chunk '%s' from shard '%s': %s", hex, rel,
			  rc == -ETIMEDOUT ? "origin timed out"
			  : rc == -ENOENT  ? "shard missing on the origin"
					   : "origin failed");
		/* readers see EIO; the log line says timeout or failure */
		rc = -EIO;
		goto out;
	}
	STAT_ADD(c->stats.bytes_fetched, b.len);
	if (ch->flags & REPO_CHUNK_ENCRYPTED) {
		/* verified (AES-GCM) when decrypted, in memory, for a reader */
		*data = b.data;
		*len = b.len;
		b.data = NULL;
		goto out;
	}
	out = xmalloc(ch->size ? ch->size : 1);
	rc = repo_chunk_decode(b.data, b.len, ch, NULL, out);
	if (rc) {
		STAT_ADD(c->stats.err_verify, 1);
		log_error("chunk '%s' from shard '%s': %s; refusing the bytes",
			  hex, rel,
			  rc == -EBADMSG ? "digest mismatch" : "corrupt frame");
		free(out);
		rc = -EIO;
		goto out;
	}
	*data = out;
	*len = ch->size;
out:
	buf_release(&b);
	return rc;
}

/* Fetch, verify, store. On success either *fd is the stored file, or
 * the cache could not take it and *mem holds the bytes. */
static int fetch_and_store(cache_t *c, const struct repo_chunk *ch,
			   const struct digest *key, int *fd, uint8_t **mem)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = fetch_chunk(c, ch, &data, &len);

	if (rc)
		return rc;
	rc = make_room(c, len);
	if (!rc)
		rc = store_file(c, key, data, len);
	if (rc == -ENOSPC || rc == -EDQUOT) {
		uint64_t evicted;

		/* the disk is fuller than cache_size assumed: shrink */
		cache_index_evict(c->ix, 0, is_pinned, drop_file, c, &evicted);
		rc = store_file(c, key, data, len);
	}
	if (!rc) {
		char *path = chunk_path(c, key);

		*fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		if (*fd >= 0) {
			free(data);
			return 0;
		}
	}
	STAT_ADD(c->stats.err_cache_full, 1);
	log_warn("cache '%s' cannot take a chunk (%s): serving it from memory",
		 c->dir, strerror(rc ? -rc : errno));
	*mem = data;
	return 0;
}

int cache_chunk_acquire(cache_t *c, const struct repo_chunk *ch,
			struct cache_chunk_ref *out)
{
	struct inflight *f;
	uint8_t *mem = NULL;
	struct digest key;
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	cache_key(ch, &key);
	pin(c, &key);
	for (;;) {
		rc = open_cached(c, &key, &fd);
		if (rc == 0) {
			STAT_ADD(c->stats.hits, 1);
			touch(c, &key);
			break;
		}
		if (rc != -ENOENT)
			goto fail;
		pthread_mutex_lock(&c->lock);
		for (f = c->inflight; f; f = f->next)
			if (digest_equal(&f->d, &key))
				break;
		if (f) {
			/* someone is fetching it: wait for their result */
			f->refs++;
			while (!f->done)
				pthread_cond_wait(&c->cond, &c->lock);
			rc = f->rc;
			if (--f->refs == 0)
				free(f);
			pthread_mutex_unlock(&c->lock);
			if (rc)
				goto fail;
			continue;
		}
		f = xcalloc(1, sizeof(*f));
		f->d = key;
		f->refs = 1;
		f->next = c->inflight;
		c->inflight = f;
		pthread_mutex_unlock(&c->lock);

		STAT_ADD(c->stats.misses, 1);
		rc = fetch_and_store(c, ch, &key, &fd, &mem);

		pthread_mutex_lock(&c->lock);
		for (struct inflight **p = &c->inflight; *p; p = &(*p)->next) {
			if (*p == f) {
				*p = f->next;
				break;
			}
		}
		f->done = true;
		f->rc = rc;
		pthread_cond_broadcast(&c->cond);
		if (--f->refs == 0)
			free(f);
		pthread_mutex_unlock(&c->lock);
		if (rc)
			goto fail;
		break;
	}
	{
		struct ref_priv *rp = xmalloc(sizeof(*rp));

		rp->d = key;
		rp->mem = mem;
		out->priv = rp;
	}
	out->fd = fd;
	out->mem = mem;
	out->size =
	    (ch->flags & REPO_CHUNK_ENCRYPTED) ? ch->stored_size : ch->size;
	return 0;
fail:
	unpin(c, &key);
	return rc;
}

void cache_chunk_release(cache_t *c, struct cache_chunk_ref *ref)
{
	struct ref_priv *rp = ref->priv;

	if (!rp)
		return;
	if (ref->fd >= 0)
		close(ref->fd);
	unpin(c, &rp->d);
	free(rp->mem);
	free(rp);
	memset(ref, 0, sizeof(*ref));
	ref->fd = -1;
}

void cache_chunk_discard(cache_t *c, const struct repo_chunk *ch)
{
	struct digest key;
	char *path;

	cache_key(ch, &key);
	path = chunk_path(c, &key);
	if (cache_index_remove(c->ix, &key) == 0 || access(path, F_OK) == 0)
		log_warn("cache '%s': dropped a chunk that failed verification",
			 c->dir);
	unlink(path);
	free(path);
}

bool cache_chunk_present(cache_t *c, const struct repo_chunk *ch)
{
	struct digest key;
	uint64_t size;

	cache_key(ch, &key);
	return cache_index_lookup(c->ix, &key, &size) == 0;
}

/* ------------------------------------------------------------ prefetch -- */

void cache_chunk_prefetch(cache_t *c, const struct repo_chunk *ch)
{
	if (cache_chunk_present(c, ch))
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->pf_count; i++) {
		if (digest_equal(
			&c->pf_queue[(c->pf_head + i) % PREFETCH_QUEUE].digest,
			&ch->digest)) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
	}
	if (c->pf_count < PREFETCH_QUEUE && !c->stop) {
		c->pf_queue[(c->pf_head + c->pf_count) % PREFETCH_QUEUE] = *ch;
		c->pf_count++;
		pthread_cond_signal(&c->work);
	}
	pthread_mutex_unlock(&c->lock);
}

static void *prefetch_main(void *arg)
{
	cache_t *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct cache_chunk_ref ref;
		struct repo_chunk ch;

		while (!c->stop && c->pf_count == 0)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stop)
			break;
		ch = c->pf_queue[c->pf_head];
		c->pf_head = (c->pf_head + 1) % PREFETCH_QUEUE;
		c->pf_count--;
		pthread_mutex_unlock(&c->lock);
		if (!cache_chunk_present(c, &ch) &&
		    cache_chunk_acquire(c, &ch, &ref) == 0) {
			STAT_ADD(c->stats.prefetches, 1);
			cache_chunk_release(c, &ref);
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ------------------------------------------------- catalogs, manifest -- */

int cache_manifest_fetch(cache_t *c, char **data, size_t *len)
{
	return cache_object_fetch(c, "manifest", REPO_MANIFEST_MAX, data, len);
}

int cache_object_fetch(cache_t *c, const char *rel, size_t max, char **data,
		       size_t *len)
{
	struct buf b;
	int rc;

	buf_init(&b, max + 1);
	rc = origin_get(c->origin, rel, max, &b);
	if (!rc)
		rc = buf_put_u8(&b, 0);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	*data = (char *)b.data;
	*len = b.len - 1;
	return 0;
}

int cache_catalog_path(cache_t *c, const struct digest *d, char **path_out)
{
	char hex[DIGEST_HEX_LEN + 1], rel[128];
	char *path, *tmp = NULL;
	int fd = -1, rc = 0;

	digest_to_hex(d, hex);
	path = xasprintf("%s/%s.mdb", c->catalogs_dir, hex);
	if (access(path, F_OK) == 0)
		goto out;
	pthread_mutex_lock(&c->catalog_lock);
	if (access(path, F_OK) == 0)
		goto unlock;
	repo_catalog_object_path(d, rel, sizeof(rel));
	pthread_mutex_lock(&c->lock);
	tmp = xasprintf("%s/%d.%" PRIu64, c->tmp_dir, (int)getpid(),
			c->tmp_counter++);
	pthread_mutex_unlock(&c->lock);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_error("cache '%s': cannot create '%s': %s", c->dir, tmp,
			  strerror(errno));
		goto unlock;
	}
	rc = origin_get_to_fd(c->origin, rel, CATALOG_MAX, fd);
	close(fd);
	if (rc) {
		log_error("catalog '%s': cannot fetch from the origin: %s", rel,
			  strerror(-rc));
		goto unlock;
	}
	rc = repo_catalog_unpack(tmp, d, path);
	if (rc) {
		if (rc == -EBADMSG)
			STAT_ADD(c->stats.err_verify, 1);
		log_error("catalog '%s': %s", rel,
			  rc == -EBADMSG ? "digest mismatch" : strerror(-rc));
		rc = rc == -EBADMSG || rc == -EINVAL ? -EIO : rc;
	}
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
	};
	int rc;

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->catalog_lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->work, NULL);
	c->dir = xstrdup(o->dir);
	c->origin_url = xstrdup(o->origin_url);
	c->chunks_dir = xasprintf("%s/chunks", o->dir);
	c->tmp_dir = xasprintf("%s/tmp", o->dir);
	c->catalogs_dir = xasprintf("%s/catalogs", o->dir);
	c->state_dir = xasprintf("%s/state", o->dir);
	c->index_dir = xasprintf("%s/index", o->dir);
	c->max_bytes = o->max_bytes;
	c->stats.max_bytes = o->max_bytes;
	c->touched = xcalloc(TOUCH_MAX, sizeof(*c->touched));
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
		log_error("origin '%s': unsupported or malformed URL",
			  o->origin_url);
		goto fail;
	}
	c->npf = o->prefetch_threads ? o->prefetch_threads : 2;
	c->pf_threads = xcalloc(c->npf, sizeof(*c->pf_threads));
	for (unsigned i = 0; i < c->npf; i++) {
		rc = -pthread_create(&c->pf_threads[i], NULL, prefetch_main, c);
		if (rc) {
			c->npf = i;
			goto fail;
		}
	}
	rc = -pthread_create(&c->flusher, NULL, flusher_main, c);
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
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < c->npf; i++)
		pthread_join(c->pf_threads[i], NULL);
	if (c->flusher_started)
		pthread_join(c->flusher, NULL);
	if (c->ix) {
		flush_touched(c);
		cache_index_close(c->ix);
	}
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
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->work);
	free(c);
}

void cache_stats_get(cache_t *c, struct cache_stats *out)
{
	struct origin_stats os;
	uint64_t bytes = 0, count = 0;

	out->hits = STAT_GET(c->stats.hits);
	out->misses = STAT_GET(c->stats.misses);
	out->prefetches = STAT_GET(c->stats.prefetches);
	out->bytes_fetched = STAT_GET(c->stats.bytes_fetched);
	out->evictions = STAT_GET(c->stats.evictions);
	out->err_verify = STAT_GET(c->stats.err_verify);
	out->err_origin_timeout = STAT_GET(c->stats.err_origin_timeout);
	out->err_origin_io = STAT_GET(c->stats.err_origin_io);
	out->err_cache_full = STAT_GET(c->stats.err_cache_full);
	out->max_bytes = c->max_bytes;
	cache_index_totals(c->ix, &bytes, &count);
	out->cache_bytes = bytes;
	out->chunks_cached = count;
	origin_stats_get(c->origin, &os);
	out->origin_requests = os.requests;
	out->origin_retries = os.retries;
}

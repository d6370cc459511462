/* The chunk store: pins, in-flight fetches, storing, eviction, readahead. */
#define _GNU_SOURCE
#include "cache_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define TOUCH_INTERVAL_SEC 2
/* evict down to this fraction of max_bytes once it would be exceeded */
#define LOW_WATERMARK(max) ((max) / 10 * 9)

struct cache_pin {
	struct digest d;
	unsigned count;
};

/* What a cache_chunk_ref keeps to release itself. */
struct ref_priv {
	struct digest d;
	struct cache_fd *pooled;   /* the file's descriptor, from the pool */
	struct cache_held *held;   /* bytes served from memory, shared */
	struct cache_plain *plain; /* a secure chunk's shared plaintext */
};

/*
 * Stored bytes the cache could not take (cache_size full of chunks being
 * read, a full disk, a transient cache): kept in memory while anyone
 * holds a reference, so that the other readers of the chunk, and the
 * next reads of a file holding it, do not fetch it again.
 */
struct cache_held {
	struct digest d;
	struct cache_held *next;
	unsigned refs; /* protected by c->lock */
	uint8_t *data;
};

/* Bytes of the chunks answered early and not yet finished (each holds
 * its frame and its decoded bytes), at most; one chunk always may */
#define CACHE_EARLY_MAX_BYTES (8u << 20)
/* the nice value of the thread that finishes them (cache_early_main) */
#define CACHE_EARLY_NICE 10

/* Readahead stays off this long after the cache refused a chunk. */
#define CACHE_PREFETCH_PAUSE_SEC 5

struct cache_inflight {
	struct digest d;
	struct cache_inflight *next;
	unsigned refs;
	bool done;
	int rc;
	struct cache_held *held; /* served from memory: a reference for
				  * each waiter */
};

static uint64_t now_sec(void)
{
	return (uint64_t)time(NULL);
}

/* ----------------------------------------------- bytes held in memory -- */

static struct cache_held **held_bucket(cache_t *c, const struct digest *d)
{
	return &c->held[d->b[0] % CACHE_PLAIN_BUCKETS];
}

/* A new reference to d's bytes in memory, or NULL. Caller holds lock. */
static struct cache_held *held_ref(cache_t *c, const struct digest *d)
{
	for (struct cache_held *h = *held_bucket(c, d); h; h = h->next) {
		if (digest_equal(&h->d, d)) {
			h->refs++;
			return h;
		}
	}
	return NULL;
}

/* Keep data (malloc'd, now owned) as d's bytes; one reference. Caller
 * holds lock. */
static struct cache_held *held_add(cache_t *c, const struct digest *d,
				   uint8_t *data)
{
	struct cache_held *h = xcalloc(1, sizeof(*h)), **head;

	head = held_bucket(c, d);
	h->d = *d;
	h->refs = 1;
	h->data = data;
	h->next = *head;
	*head = h;
	return h;
}

static void held_release(cache_t *c, struct cache_held *h)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --h->refs == 0;
	if (last) {
		for (struct cache_held **p = held_bucket(c, &h->d); *p;
		     p = &(*p)->next) {
			if (*p == h) {
				*p = h->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (last) {
		free(h->data);
		free(h);
	}
}

void cache_held_free_all(cache_t *c)
{
	for (size_t b = 0; b < CACHE_PLAIN_BUCKETS; b++) {
		while (c->held[b]) {
			struct cache_held *h = c->held[b];

			c->held[b] = h->next;
			free(h->data);
			free(h);
		}
	}
}

static char *chunk_path(cache_t *c, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	return xasprintf("%s/%.2s/%s", c->chunks_dir, hex, hex);
}

/*
 * The name of ch's file in the cache. Its content digest when that is
 * what verified it. For a chunk checked by its stored digest instead
 * (FORMAT.md §5.9) a digest of that: the decoded bytes are then only
 * known to be what that frame decodes to, and another repository sharing
 * the cache could claim the same content digest for another frame. For
 * an encrypted chunk a digest of where its ciphertext lives, so that
 * ciphertext and a plaintext chunk with the same content never share a
 * file.
 */
void cache_chunk_key(const struct repo_chunk *ch, struct digest *key)
{
	sha256_ctx_t *sha;
	uint8_t off[8];

	if (repo_chunk_frame_checked(ch)) {
		sha = sha256_new();
		sha256_update(sha, "aidata-stored-chunk", 19);
		sha256_update(sha, ch->stored_digest.b, DIGEST_LEN);
		sha256_final(sha, key);
		sha256_free(sha);
		return;
	}
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
	cache_fd_forget(c, d);
	STAT_ADD(c->stats.evictions, 1);
}

static void touch(cache_t *c, const struct digest *d)
{
	pthread_mutex_lock(&c->lock);
	if (c->ntouched < CACHE_TOUCH_MAX)
		c->touched[c->ntouched++] = *d;
	pthread_mutex_unlock(&c->lock);
}

void cache_touched_flush(cache_t *c)
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

void *cache_flusher_main(void *arg)
{
	cache_t *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += TOUCH_INTERVAL_SEC;
		pthread_cond_timedwait(&c->flush_wake, &c->lock, &ts);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		cache_touched_flush(c);
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

/*
 * Make room under the bound for incoming bytes and reserve them, so that
 * stores running at once in this process cannot pass it together; give
 * them back with room_release once stored (or not). -ENOSPC when the
 * cache is full of chunks being read.
 */
static int make_room(cache_t *c, uint64_t incoming)
{
	uint64_t bytes, count, evicted = 0, need;
	int rc;

	if (!c->max_bytes)
		return 0;
	pthread_mutex_lock(&c->room_lock);
	rc = cache_index_totals(c->ix, &bytes, &count);
	need = incoming + c->reserved;
	if (rc || bytes + need <= c->max_bytes)
		goto out;
	rc = cache_index_evict(c->ix,
			       LOW_WATERMARK(c->max_bytes) > need
				   ? LOW_WATERMARK(c->max_bytes) - need
				   : 0,
			       is_pinned, drop_file, c, &evicted);
	if (!rc)
		rc = cache_index_totals(c->ix, &bytes, &count);
	if (!rc && bytes + need > c->max_bytes)
		rc = -ENOSPC;
out:
	if (!rc)
		c->reserved += incoming;
	pthread_mutex_unlock(&c->room_lock);
	return rc;
}

static void room_release(cache_t *c, uint64_t n)
{
	if (!c->max_bytes)
		return;
	pthread_mutex_lock(&c->room_lock);
	c->reserved -= n;
	pthread_mutex_unlock(&c->room_lock);
}

/* Write bytes to a temp file and rename it into the store; *fd_out
 * (NULL: closed) is the stored file, open for reading. */
static int store_file(cache_t *c, const struct digest *d, const void *p,
		      size_t n, int *fd_out)
{
	char *tmp, *path = chunk_path(c, d), *dir;
	uint64_t seq;
	int fd, rc;

	pthread_mutex_lock(&c->lock);
	seq = c->tmp_counter++;
	pthread_mutex_unlock(&c->lock);
	tmp = xasprintf("%s/%d.%" PRIu64, c->tmp_dir, (int)getpid(), seq);
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	/* kept open to serve it: no second open of what was just written */
	fd = open(tmp,
		  (fd_out ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_all(fd, p, n);
	if (!fd_out || rc) {
		if (close(fd) != 0 && !rc)
			rc = -errno;
		fd = -1;
	}
	if (!rc && rename(tmp, path) != 0) {
		rc = -errno;
		/* the first chunk of its chunks/aa/: make the directory (a
		 * concurrent store may make it first: EEXIST is success) */
		if (rc == -ENOENT && (mkdir(dir, 0700) == 0 || errno == EEXIST))
			rc = rename(tmp, path) == 0 ? 0 : -errno;
	}
	if (!rc)
		rc = cache_index_insert(c->ix, d, n, now_sec());
	if (rc)
		unlink(tmp);
	if (fd >= 0) {
		if (rc)
			close(fd);
		else
			*fd_out = fd;
	}
out:
	free(tmp);
	free(path);
	free(dir);
	return rc;
}

/*
 * A chunk whose first bytes went to the reader that asked for them
 * (cache_chunk_read_early) before the rest was decoded: the finishing
 * thread (cache_early_main) decodes the rest (a raw chunk has none) and
 * stores it. Its readers meanwhile wait on its inflight entry, as for
 * any fetch.
 */
struct early_job {
	struct early_job *next;
	struct repo_chunk ch;
	struct digest key;
	struct cache_inflight *f;
	uint32_t off, len; /* what the reader wants, into dst */
	void *dst;
	struct repo_chunk_stream st;
	uint8_t *stored; /* the verified frame st decodes */
	uint8_t *out;	 /* the chunk, decoded as far as st has gone */
	uint64_t room;	 /* its part of c->early_bytes, until decoded */
};

/* Verify the chunk and decode the reader's bytes. On success j keeps
 * the frame (the caller's) until the rest is decoded, or, for a raw
 * chunk (verified whole, in place: out is stored), its bytes. */
static int early_begin(struct early_job *j, uint8_t *stored, size_t len,
		       const struct repo_chunk *ch, uint8_t *out)
{
	int rc;

	if (!repo_chunk_frame_checked(ch)) {
		rc = repo_chunk_decode(stored, len, ch, NULL, out);
		if (rc)
			return rc;
		memcpy(j->dst, out + j->off, j->len);
		j->out = out;
		return 0;
	}
	rc = repo_chunk_stream_begin(&j->st, stored, len, ch, out);
	if (rc)
		return rc;
	rc = repo_chunk_stream_to(&j->st, (size_t)j->off + j->len);
	if (rc) {
		repo_chunk_stream_end(&j->st);
		return rc;
	}
	memcpy(j->dst, out + j->off, j->len);
	j->stored = stored;
	j->out = out;
	return 0;
}

/*
 * Fetch ch from the origin and verify it. *data (malloc'd) gets the bytes
 * to keep: plaintext, or for an encrypted chunk the ciphertext, which only
 * its dataset key verifies (cache_plain.c, when it is read).
 */
static int fetch_chunk(cache_t *c, const struct repo_chunk *ch,
		       const struct digest *key, uint8_t **data, size_t *len,
		       struct early_job *early)
{
	char rel[128], hex[DIGEST_HEX_LEN + 1];
	struct origin_req req;
	struct buf b;
	uint8_t *out = NULL;
	bool again = false;
	int rc;

	repo_shard_object_path(&ch->shard, rel, sizeof(rel));
	digest_to_hex(&ch->digest, hex);
	buf_init(&b, (size_t)ch->stored_size);
fetch:
	/* its whole size at once: no copy as the buffer grows */
	buf_reserve(&b, (size_t)ch->stored_size);
	origin_req_init(&req, rel, ch->stored_size, ORIGIN_EXACT);
	rc = origin_get_range(c->origin, &req, ch->offset, &b);
	/* what came over the wire: a server that ignores Range sends the
	 * bytes before the chunk too */
	STAT_ADD(c->stats.bytes_fetched, req.received);
	if (rc) {
		if (rc == -ETIMEDOUT)
			STAT_ADD(c->stats.err_origin_timeout, 1);
		else
			STAT_ADD(c->stats.err_origin_io, 1);
		log_error("chunk '%s' from shard '%s': %s: %s", hex, rel,
			  rc == -ETIMEDOUT ? "origin timed out"
			  : rc == -ENOENT  ? "shard missing on the origin"
					   : "origin failed",
			  req.why);
		/* readers see EIO; the log line says timeout or failure */
		rc = -EIO;
		cache_failed_note(c, CACHE_OBJECT_CHUNK, key, rc, req.why);
		goto out;
	}
	if (ch->flags & REPO_CHUNK_ENCRYPTED) {
		*data = b.data;
		*len = b.len;
		b.data = NULL;
		goto out;
	}
	/* stored as it is (incompressible): verified in place, not copied */
	out = ch->flags == 0 && b.data ? b.data
				       : xmalloc(ch->size ? ch->size : 1);
	rc = early ? early_begin(early, b.data, b.len, ch, out)
		   : repo_chunk_decode(b.data, b.len, ch, NULL, out);
	if (rc) {
		STAT_ADD(c->stats.err_verify, 1);
		/* a mirror sent bad bytes: once more, from another one */
		if (!again && origin_report_bad(c->origin, &req,
						"chunk digest mismatch")) {
			log_warn("chunk '%s' from shard '%s': does not "
				 "verify; asking another mirror",
				 hex, rel);
			again = true;
			/* out may be b's own bytes (verified in place) */
			if (out != b.data)
				free(out);
			out = NULL;
			buf_reset(&b);
			goto fetch;
		}
		log_error("chunk '%s' from shard '%s': %s; refusing the bytes",
			  hex, rel,
			  rc == -EBADMSG ? "digest mismatch" : "corrupt frame");
		if (out != b.data)
			free(out);
		rc = -EIO;
		goto out;
	}
	if (out == b.data || early)
		b.data = NULL; /* early: the frame is still being decoded */
	*data = out;
	*len = ch->size;
out:
	buf_release(&b);
	return rc;
}

/* Store verified bytes (data, which this takes): *fd the stored file,
 * or *mem the bytes when the cache cannot (or, transient, does not)
 * take them. */
static int keep_chunk(cache_t *c, const struct digest *key, uint8_t *data,
		      size_t len, int *fd, uint8_t **mem)
{
	int rc;

	if (c->transient) {
		*mem = data;
		return 0;
	}
	/* a refusal of make_room (the bound is full of chunks being read)
	 * is final: the chunk is served from memory, never stored past
	 * cache_size */
	rc = make_room(c, len);
	if (!rc) {
		rc = store_file(c, key, data, len, fd);
		room_release(c, len);
		if (rc == -ENOSPC || rc == -EDQUOT) {
			uint64_t evicted;

			/* the disk is fuller than cache_size assumed:
			 * shrink, and try once more within the bound */
			cache_index_evict(c->ix, 0, is_pinned, drop_file, c,
					  &evicted);
			rc = make_room(c, len);
			if (!rc) {
				rc = store_file(c, key, data, len, fd);
				room_release(c, len);
			}
		}
	}
	if (!rc) {
		free(data);
		return 0;
	}
	STAT_ADD(c->stats.err_cache_full, 1);
	__atomic_store_n(&c->pf_paused_until,
			 cache_mono_ms() + CACHE_PREFETCH_PAUSE_SEC * 1000,
			 __ATOMIC_RELAXED);
	log_warn("cache '%s' cannot take a chunk (%s): serving it from memory",
		 c->dir, strerror(rc ? -rc : errno));
	*mem = data;
	return 0;
}

/* Fetch, verify, store. On success either *fd is the stored file, or
 * the cache could not (or, transient, does not) take it and *mem holds
 * the bytes. */
static int fetch_and_store(cache_t *c, const struct repo_chunk *ch,
			   const struct digest *key, int *fd, uint8_t **mem)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = fetch_chunk(c, ch, key, &data, &len, NULL);

	if (rc)
		return rc;
	return keep_chunk(c, key, data, len, fd, mem);
}

/*
 * The fetch f ended with rc; mem (or NULL) the bytes the cache could not
 * take, which the waiters and the caller then share. Returns the caller's
 * reference to them, or NULL.
 */
static struct cache_held *inflight_done(cache_t *c, struct cache_inflight *f,
					int rc, uint8_t *mem)
{
	struct cache_held *h = NULL;

	pthread_mutex_lock(&c->lock);
	/* the waiters get the bytes too: one reference each */
	if (!rc && mem) {
		h = held_add(c, &f->d, mem);
		h->refs += f->refs - 1;
		f->held = h;
	}
	for (struct cache_inflight **p = &c->inflight; *p; p = &(*p)->next) {
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
	return h;
}

/*
 * The stored bytes under key: the cached file, or one fetch shared by
 * every concurrent caller. The caller has pinned key.
 */
static int stored_get(cache_t *c, const struct repo_chunk *ch,
		      const struct digest *key, int *fd,
		      struct cache_held **held, struct cache_fd **pooled)
{
	char why[CACHE_WHY_MAX];
	struct cache_inflight *f;
	uint8_t *mem = NULL;
	int rc;

	for (;;) {
		if (!c->transient) {
			*pooled = cache_fd_get(c, key, fd);
			if (*pooled) {
				STAT_ADD(c->stats.hits, 1);
				touch(c, key);
				return 0;
			}
		}
		/* a transient cache stores nothing: no need to look */
		rc = c->transient ? -ENOENT : open_cached(c, key, fd);
		if (rc == 0) {
			STAT_ADD(c->stats.hits, 1);
			touch(c, key);
			*pooled = cache_fd_add(c, key, fd);
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		pthread_mutex_lock(&c->lock);
		/* served from memory to another reader, and still held */
		*held = held_ref(c, key);
		if (*held) {
			pthread_mutex_unlock(&c->lock);
			STAT_ADD(c->stats.hits, 1);
			return 0;
		}
		for (f = c->inflight; f; f = f->next)
			if (digest_equal(&f->d, key))
				break;
		if (f) {
			/* someone is fetching it: wait for their result */
			f->refs++;
			while (!f->done)
				pthread_cond_wait(&c->cond, &c->lock);
			rc = f->rc;
			*held = f->held;
			if (--f->refs == 0)
				free(f);
			pthread_mutex_unlock(&c->lock);
			if (rc)
				return rc;
			if (*held) {
				STAT_ADD(c->stats.hits, 1);
				return 0;
			}
			continue;
		}
		/* the origin failed on it a moment ago: EIO at once, no new
		 * fetch cycle (cache_failed.c) */
		if (cache_failed_recent(c, CACHE_OBJECT_CHUNK, key, &rc, why)) {
			char hex[DIGEST_HEX_LEN + 1];

			pthread_mutex_unlock(&c->lock);
			STAT_ADD(c->stats.failed_from_memory, 1);
			digest_to_hex(&ch->digest, hex);
			log_debug("chunk '%s': %s", hex, why);
			return rc;
		}
		f = xcalloc(1, sizeof(*f));
		f->d = *key;
		f->refs = 1;
		f->next = c->inflight;
		c->inflight = f;
		pthread_mutex_unlock(&c->lock);

		STAT_ADD(c->stats.misses, 1);
		rc = fetch_and_store(c, ch, key, fd, &mem);
		if (!rc)
			cache_failed_forget(c, CACHE_OBJECT_CHUNK, key);
		if (!rc && *fd >= 0)
			*pooled = cache_fd_add(c, key, fd);

		*held = inflight_done(c, f, rc, mem);
		return rc;
	}
}

/* What an early chunk holds until it is finished. */
static uint64_t early_size(const struct repo_chunk *ch)
{
	return (uint64_t)ch->size + ch->stored_size;
}

/* j no longer counts against CACHE_EARLY_MAX_BYTES: decoded (or failed),
 * before its store makes it visible to readers, who may then answer
 * another read early */
static void early_unroom(cache_t *c, struct early_job *j)
{
	pthread_mutex_lock(&c->lock);
	c->early_bytes -= j->room;
	j->room = 0;
	pthread_mutex_unlock(&c->lock);
}

/* An early chunk's end: its waiters told, its pin and place let go. */
static void early_done(cache_t *c, struct early_job *j, int rc, uint8_t *mem)
{
	struct cache_held *h;

	early_unroom(c, j);
	h = inflight_done(c, j->f, rc, mem);
	/* nobody reads through this reference: the waiters have theirs */
	if (h)
		held_release(c, h);
	unpin(c, &j->key);
	free(j);
}

int cache_chunk_read_early(cache_t *c, const struct repo_chunk *ch,
			   uint32_t off, uint32_t len, void *dst)
{
	struct cache_inflight *f;
	struct early_job *j;
	struct digest key;
	size_t n = 0;
	bool busy;
	int rc;

	/* a zstd chunk checked by its frame, or a raw one: an encrypted
	 * chunk is decrypted whole, and a zstd chunk without a stored
	 * digest is checked by the digest of all its decoded bytes */
	if (c->transient || !(repo_chunk_frame_checked(ch) || ch->flags == 0) ||
	    len == 0 || (uint64_t)off + len > ch->size)
		return -EAGAIN;
	cache_chunk_key(ch, &key);
	/* cached: its file serves the reader (cache_chunk_acquire); the
	 * pool answers for most cached chunks without the index */
	if (cache_fd_known(c, &key))
		return -EAGAIN;
	pin(c, &key);
	if (cache_chunk_present(c, ch)) {
		unpin(c, &key);
		return -EAGAIN;
	}
	pthread_mutex_lock(&c->lock);
	/* the workers are behind: decode it whole in the reader's thread,
	 * so that chunks decoded in part do not pile up in memory */
	busy = (c->early_bytes &&
		c->early_bytes + early_size(ch) > CACHE_EARLY_MAX_BYTES) ||
	       cache_failed_recent(c, CACHE_OBJECT_CHUNK, &key, NULL, NULL);
	for (struct cache_held *h = *held_bucket(c, &key); h && !busy;
	     h = h->next)
		busy = digest_equal(&h->d, &key);
	for (f = c->inflight; f && !busy; f = f->next)
		busy = digest_equal(&f->d, &key);
	if (busy) {
		/* in memory, being fetched, or just failed: as any read */
		pthread_mutex_unlock(&c->lock);
		unpin(c, &key);
		return -EAGAIN;
	}
	f = xcalloc(1, sizeof(*f));
	f->d = key;
	f->refs = 1;
	f->next = c->inflight;
	c->inflight = f;
	c->early_bytes += early_size(ch);
	pthread_mutex_unlock(&c->lock);

	STAT_ADD(c->stats.misses, 1);
	j = xcalloc(1, sizeof(*j));
	j->room = early_size(ch);
	j->ch = *ch;
	j->key = key;
	j->f = f;
	j->off = off;
	j->len = len;
	j->dst = dst;
	rc = fetch_chunk(c, ch, &key, &j->out, &n, j);
	if (rc) {
		early_done(c, j, rc, NULL);
		return rc;
	}
	STAT_ADD(c->stats.early_reads, 1);
	j->dst = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->early_tail)
		c->early_tail->next = j;
	else
		c->early_head = j;
	c->early_tail = j;
	pthread_cond_signal(&c->early_wake);
	pthread_mutex_unlock(&c->lock);
	return (int)len;
}

/* The rest of an early chunk: decode, store, and tell its waiters. */
static void early_finish(cache_t *c, struct early_job *j)
{
	uint8_t *mem = NULL;
	int fd = -1;
	/* a raw chunk was verified whole: only its store is left */
	int rc = j->st.dctx ? repo_chunk_stream_finish(&j->st) : 0;

	repo_chunk_stream_end(&j->st);
	free(j->stored);
	early_unroom(c, j);
	if (rc) {
		char hex[DIGEST_HEX_LEN + 1];

		/* the frame matched its signed digest yet does not decode:
		 * a publisher's fault; the reader's bytes were the frame's */
		STAT_ADD(c->stats.err_verify, 1);
		digest_to_hex(&j->ch.digest, hex);
		log_error("chunk '%s': corrupt frame; refusing the bytes", hex);
		free(j->out);
		rc = -EIO;
	} else {
		rc = keep_chunk(c, &j->key, j->out, j->ch.size, &fd, &mem);
	}
	if (!rc)
		cache_failed_forget(c, CACHE_OBJECT_CHUNK, &j->key);
	if (fd >= 0) {
		/* pooled for the next reads, as a fetch's file is */
		struct cache_fd *pooled = cache_fd_add(c, &j->key, &fd);

		if (pooled)
			cache_fd_put(c, pooled);
		else
			close(fd);
	}
	early_done(c, j, rc, mem);
}

/*
 * The thread that finishes early chunks, at a lower priority than the
 * readers: on a busy machine the next reader's miss goes first, and the
 * rest of a chunk nobody waits for yet comes after. Before stopping it
 * finishes what is queued: readers may wait on it.
 */
void *cache_early_main(void *arg)
{
	cache_t *c = arg;

	/* raising one's own nice value needs no privilege; if it fails,
	 * the thread runs at the readers' priority, which is only slower */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), CACHE_EARLY_NICE);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct early_job *j;

		while (!c->stop && !c->early_head)
			pthread_cond_wait(&c->early_wake, &c->lock);
		j = c->early_head;
		if (!j)
			break;
		c->early_head = j->next;
		if (!c->early_head)
			c->early_tail = NULL;
		pthread_mutex_unlock(&c->lock);
		early_finish(c, j);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int cache_stored_acquire(cache_t *c, const struct repo_chunk *ch,
			 struct cache_chunk_ref *out)
{
	struct cache_fd *pooled = NULL;
	struct cache_held *held = NULL;
	struct ref_priv *rp;
	struct digest key;
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	cache_chunk_key(ch, &key);
	pin(c, &key);
	rc = stored_get(c, ch, &key, &fd, &held, &pooled);
	if (rc) {
		unpin(c, &key);
		return rc;
	}
	rp = xcalloc(1, sizeof(*rp));
	rp->d = key;
	rp->pooled = pooled;
	rp->held = held;
	out->priv = rp;
	out->fd = fd;
	out->mem = held ? held->data : NULL;
	out->size =
	    (ch->flags & REPO_CHUNK_ENCRYPTED) ? ch->stored_size : ch->size;
	return 0;
}

int cache_chunk_acquire(cache_t *c, const struct repo_chunk *ch,
			const uint8_t *key, struct cache_chunk_ref *out)
{
	if (!(ch->flags & REPO_CHUNK_ENCRYPTED))
		return cache_stored_acquire(c, ch, out);
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!key)
		return -ENOKEY;
	return cache_plain_acquire(c, ch, key, out);
}

void cache_chunk_release(cache_t *c, struct cache_chunk_ref *ref)
{
	struct ref_priv *rp = ref->priv;

	if (!rp)
		return;
	if (rp->plain) {
		cache_plain_release(c, rp->plain);
	} else {
		if (rp->pooled)
			cache_fd_put(c, rp->pooled);
		else if (ref->fd >= 0)
			close(ref->fd);
		unpin(c, &rp->d);
		if (rp->held)
			held_release(c, rp->held);
	}
	free(rp);
	memset(ref, 0, sizeof(*ref));
	ref->fd = -1;
}

/* cache_plain.c hands out its references through the same release. */
void cache_plain_ref_init(struct cache_chunk_ref *ref, struct cache_plain *p,
			  const uint8_t *mem, uint32_t size)
{
	struct ref_priv *rp = xcalloc(1, sizeof(*rp));

	rp->plain = p;
	ref->priv = rp;
	ref->fd = -1;
	ref->mem = mem;
	ref->size = size;
}

bool cache_stored_forget(cache_t *c, const struct repo_chunk *ch)
{
	struct digest key;
	bool had;
	char *path;

	cache_chunk_key(ch, &key);
	path = chunk_path(c, &key);
	had = cache_index_remove(c->ix, &key) == 0 || access(path, F_OK) == 0;
	unlink(path);
	free(path);
	cache_fd_forget(c, &key);
	return had;
}

bool cache_chunk_present(cache_t *c, const struct repo_chunk *ch)
{
	struct digest key;
	uint64_t size;

	cache_chunk_key(ch, &key);
	return cache_index_lookup(c->ix, &key, &size) == 0;
}

/* ------------------------------------------------------------ prefetch -- */

/* Whether readahead should leave ch alone: it just failed, or the cache
 * refuses to store what it would fetch. (A cached chunk is not left
 * alone: warm_ahead reads its file ahead of the reader.) */
static bool prefetch_skip(cache_t *c, const struct repo_chunk *ch)
{
	struct digest key;

	if (cache_mono_ms() <
	    __atomic_load_n(&c->pf_paused_until, __ATOMIC_RELAXED))
		return true;
	cache_chunk_key(ch, &key);
	return cache_failed_recent(c, CACHE_OBJECT_CHUNK, &key, NULL, NULL);
}

/*
 * Readahead of a cached chunk: have the kernel read its file into the
 * page cache now, asynchronously, so that a sequential reader of a warm
 * file finds each chunk there instead of waiting for the disk request by
 * request. false if ch is not cached.
 */
static bool warm_ahead(cache_t *c, const struct repo_chunk *ch)
{
	struct cache_fd *pooled;
	struct digest key;
	int fd = -1;

	if (c->transient)
		return false;
	cache_chunk_key(ch, &key);
	pooled = cache_fd_get(c, &key, &fd);
	if (!pooled) {
		/* the index lookup: not cached (or gone) is -ENOENT */
		if (open_cached(c, &key, &fd) != 0)
			return false;
		pooled = cache_fd_add(c, &key, &fd);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	if (pooled)
		cache_fd_put(c, pooled);
	else
		close(fd);
	STAT_ADD(c->stats.warmed_ahead, 1);
	return true;
}

bool cache_chunk_prefetch(cache_t *c, const struct repo_chunk *ch)
{
	bool queued = true;

	if (prefetch_skip(c, ch))
		return true;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->pf_count; i++) {
		if (digest_equal(
			&c->pf_queue[(c->pf_head + i) % CACHE_PREFETCH_QUEUE]
			     .digest,
			&ch->digest)) {
			pthread_mutex_unlock(&c->lock);
			return true;
		}
	}
	if (c->pf_count < CACHE_PREFETCH_QUEUE && !c->stop) {
		c->pf_queue[(c->pf_head + c->pf_count) % CACHE_PREFETCH_QUEUE] =
		    *ch;
		c->pf_count++;
		pthread_cond_signal(&c->work);
	} else {
		queued = false;
	}
	pthread_mutex_unlock(&c->lock);
	return queued;
}

void *cache_prefetch_main(void *arg)
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
		c->pf_head = (c->pf_head + 1) % CACHE_PREFETCH_QUEUE;
		c->pf_count--;
		pthread_mutex_unlock(&c->lock);
		/* stored bytes only: a secure chunk is decrypted when read */
		if (!prefetch_skip(c, &ch) && !warm_ahead(c, &ch) &&
		    cache_stored_acquire(c, &ch, &ref) == 0) {
			STAT_ADD(c->stats.prefetches, 1);
			cache_chunk_release(c, &ref);
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

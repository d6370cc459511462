/*
 * Private to cache/: the cache's state shared by its files (cache.c: life
 * cycle, catalogs, manifests; cache_chunk.c: the chunk store; cache_plain.c:
 * decrypted secure chunks in memory) and the LMDB index of the chunk store
 * (cache_index.c).
 */
#ifndef AIDATA_CACHE_INT_H
#define AIDATA_CACHE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cache.h"
#include "digest.h"
#include "origin.h"

#define CACHE_PREFETCH_QUEUE 64
#define CACHE_TOUCH_MAX 8192 /* LRU updates batched between flushes */
#define CACHE_PLAIN_BUCKETS 256

#define STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Milliseconds of the monotonic clock (timeouts and pauses). */
static inline uint64_t cache_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct cache_pin;
struct cache_fd;
struct cache_inflight;
struct cache_held;
struct early_job;
struct cache_plain;
struct cache_warming;

/* How long a failed fetch is remembered (cache_failed.c), and how many. */
#define CACHE_FAILED_WINDOW_MS (CACHE_FAILED_SEC * 1000)
#define CACHE_FAILED_MAX 128

enum cache_object_kind {
	CACHE_OBJECT_CHUNK,   /* keyed by cache_chunk_key */
	CACHE_OBJECT_CATALOG, /* keyed by the catalog's digest */
};

/* One remembered failure; when_ms 0 is a free slot. */
struct cache_failure {
	struct digest key;
	enum cache_object_kind kind;
	int rc;		  /* what the fetch returned */
	uint64_t when_ms; /* CLOCK_MONOTONIC */
	char why[200];	  /* what went wrong, for the next log line */
};

struct cache {
	char *dir, *chunks_dir, *tmp_dir, *catalogs_dir, *state_dir, *index_dir;
	char *origin_url;
	uint64_t max_bytes;
	bool transient; /* cache_options.transient: no chunk is stored */
	origin_t *origin;
	/* the last manifest fetch, for cache_manifest_refuse (the refresh
	 * thread and mount time only fetch it) */
	struct origin_req manifest_req;
	struct cache_index *ix;

	pthread_mutex_t lock;
	pthread_cond_t cond;		 /* a fetch or a decryption finished */
	struct cache_pin *pins;		 /* protected by lock */
	size_t npins, apins;		 /* protected by lock */
	struct cache_inflight *inflight; /* protected by lock */
	struct cache_warming *warming;	 /* cache_warm.c; protected by lock */
	struct digest *touched;		 /* protected by lock */
	size_t ntouched;		 /* protected by lock */
	uint64_t tmp_counter;		 /* protected by lock */
	bool stop;			 /* protected by lock */
	/* decrypted secure chunks, by cache key; protected by lock */
	struct cache_plain *plain[CACHE_PLAIN_BUCKETS];
	/* stored bytes the cache could not take, served from memory and
	 * shared while referenced (cache_chunk.c); protected by lock */
	struct cache_held *held[CACHE_PLAIN_BUCKETS];
	/* readahead pauses until then (cache_mono_ms()) after the cache
	 * refused to store a chunk: what it fetched would be thrown away;
	 * read and written atomically */
	uint64_t pf_paused_until;

	pthread_cond_t work;	   /* prefetch queue or stop */
	pthread_cond_t flush_wake; /* stop, for the flusher (its own: a
				    * signal for the queue must reach a
				    * readahead worker) */
	struct repo_chunk
	    pf_queue[CACHE_PREFETCH_QUEUE]; /* protected by lock */
	size_t pf_head, pf_count;	    /* protected by lock */
	/* chunks answered early whose rest the finishing thread decodes
	 * and stores (cache_chunk.c); protected by lock */
	struct early_job *early_head, *early_tail;
	uint64_t early_bytes;	   /* what they hold, queued or being finished;
				    * protected by lock */
	pthread_cond_t early_wake; /* early_head or stop */
	pthread_t early_thread;
	bool early_started;
	pthread_t *pf_threads;
	unsigned npf;
	pthread_t flusher;
	bool flusher_started;
	pthread_mutex_t failed_lock; /* protects failed[] */
	struct cache_failure failed[CACHE_FAILED_MAX];
	pthread_mutex_t catalog_lock; /* one catalog fetch at a time */
	pthread_mutex_t room_lock;    /* one make_room at a time */
	uint64_t reserved; /* bytes being stored; protected by room_lock */

	/* cache_fdpool.c: open chunk files kept between reads */
	pthread_mutex_t fd_lock;
	struct cache_fd **fd_buckets;		      /* protected by fd_lock */
	struct cache_fd *fd_idle_head, *fd_idle_tail; /* protected by fd_lock */
	unsigned nfds;				      /* protected by fd_lock */
	unsigned fd_max;

	struct cache_stats stats; /* atomics */
};

/* ------------------------------------------------- cache_chunk.c -- */

/*
 * The stored bytes of ch (plaintext, or ciphertext for an encrypted
 * chunk) pinned in *ref: the cache's file, or fetched and stored, or in
 * memory when the cache cannot take it. Concurrent calls for one chunk
 * fetch it once. ref->size is ch->stored_size for an encrypted chunk.
 * Release with cache_chunk_release.
 */
int cache_stored_acquire(cache_t *c, const struct repo_chunk *ch,
			 struct cache_chunk_ref *ref);
/* Forget the stored copy of ch (index entry and file), so the next
 * acquire refetches it. True if there was one. */
bool cache_stored_forget(cache_t *c, const struct repo_chunk *ch);
/* The name of ch in this cache (FORMAT.md §6.4 for encrypted chunks). */
void cache_chunk_key(const struct repo_chunk *ch, struct digest *key);
/* Background threads: readahead workers, the thread finishing chunks
 * answered early, and the LRU flusher. */
void *cache_prefetch_main(void *arg);
void *cache_early_main(void *arg);
void *cache_flusher_main(void *arg);
/* Write the batched LRU updates to the index. */
void cache_touched_flush(cache_t *c);
/* Make ref a reference to the shared plaintext p (mem, size bytes), to be
 * released through cache_chunk_release. */
void cache_plain_ref_init(struct cache_chunk_ref *ref, struct cache_plain *p,
			  const uint8_t *mem, uint32_t size);

/* ------------------------------------------------ cache_fdpool.c -- */

/* The pool of open chunk files: its size follows RLIMIT_NOFILE (whose
 * soft limit it raises towards the hard one), at most 1024. */
void cache_fd_pool_init(cache_t *c);
/* Close the descriptors no reference holds (every one, when all were
 * released) and free the pool. */
void cache_fd_pool_free(cache_t *c);
/*
 * The pooled descriptor of the chunk file of key, for one more user:
 * returns its entry and *fd (valid until cache_fd_put of that entry), or
 * NULL when it is not pooled (or its file was unlinked meanwhile).
 */
struct cache_fd *cache_fd_get(cache_t *c, const struct digest *key, int *fd);
/*
 * Pool *fd, just opened on the chunk file of key, with one user. If the
 * chunk is pooled already, *fd is closed and replaced by the pooled one.
 * NULL when the pool is full of descriptors in use: the caller keeps
 * *fd and closes it itself.
 */
struct cache_fd *cache_fd_add(cache_t *c, const struct digest *key, int *fd);
/* Whether the chunk file of key is pooled (no check that it still is
 * linked: cache_fd_get makes that). */
bool cache_fd_known(cache_t *c, const struct digest *key);
/* One user less; a forgotten entry's descriptor is closed by its last. */
void cache_fd_put(cache_t *c, struct cache_fd *e);
/* The chunk file of key is gone (evicted, forgotten): no new user gets
 * its descriptor, which is closed now or by the last user. */
void cache_fd_forget(cache_t *c, const struct digest *key);
/* How many descriptors the pool holds now (for tests and status). */
unsigned cache_fd_pool_count(cache_t *c);

/* ------------------------------------------------ cache_failed.c -- */

/* Remember that the origin could not deliver object key (of kind): the
 * fetch returned rc, for the reason why (may be NULL). */
void cache_failed_note(cache_t *c, enum cache_object_kind kind,
		       const struct digest *key, int rc, const char *why);
/*
 * Whether a fetch of key failed less than CACHE_FAILED_WINDOW_MS ago:
 * then *rc is what it returned (rc may be NULL) and why (NULL or
 * CACHE_WHY_MAX bytes) says what went wrong and how long ago.
 */
bool cache_failed_recent(cache_t *c, enum cache_object_kind kind,
			 const struct digest *key, int *rc, char *why);
/* Forget a failure of key: it was fetched since. */
void cache_failed_forget(cache_t *c, enum cache_object_kind kind,
			 const struct digest *key);

/* ------------------------------------------------- cache_plain.c -- */

/*
 * Secure chunks: the plaintext of encrypted chunk ch, decrypted with key
 * once and shared, in memory only, by every holder of a reference. Fills
 * ref (fd -1, mem, size ch->size). A chunk whose stored bytes fail to
 * decrypt or verify is forgotten (logged once) and -EIO returned.
 */
int cache_plain_acquire(cache_t *c, const struct repo_chunk *ch,
			const uint8_t key[REPO_CHUNK_KEY_LEN],
			struct cache_chunk_ref *ref);
/* Drop one reference; the last wipes and unmaps the plaintext. */
void cache_plain_release(cache_t *c, struct cache_plain *p);
/* At cache_free: wipe and unmap what holders that never released (files
 * still open when the daemon stops) left behind. */
void cache_plain_free_all(cache_t *c);
/* At cache_free: free the bytes held in memory that holders left. */
void cache_held_free_all(cache_t *c);

/* ------------------------------------------------- cache_index.c -- */

struct cache_index;

/* Open or create the index environment in dir. A corrupt index is
 * reported as -EBADMSG so the caller can start afresh. */
int cache_index_open(const char *dir, struct cache_index **out);
/* Flush to disk and close. */
void cache_index_close(struct cache_index *ix);
/* 0 and the recorded size, or -ENOENT. */
int cache_index_lookup(struct cache_index *ix, const struct digest *d,
		       uint64_t *size);
/* Record a stored chunk (idempotent). */
int cache_index_insert(struct cache_index *ix, const struct digest *d,
		       uint64_t size, uint64_t now);
/* Forget a chunk whose file is gone. -ENOENT if absent. */
int cache_index_remove(struct cache_index *ix, const struct digest *d);
/* Move chunks to the young end of the LRU order (one transaction). */
int cache_index_touch(struct cache_index *ix, const struct digest *list,
		      size_t n, uint64_t now);

typedef bool (*cache_pinned_fn)(void *ctx, const struct digest *d);
typedef void (*cache_drop_fn)(void *ctx, const struct digest *d);
/*
 * Evict least recently used chunks, skipping pinned ones, until the
 * total is at most target bytes. drop is called for each evicted chunk
 * (to unlink its file) inside the transaction. *evicted counts them.
 */
int cache_index_evict(struct cache_index *ix, uint64_t target,
		      cache_pinned_fn pinned, cache_drop_fn drop, void *ctx,
		      uint64_t *evicted);
/* Totals across every process sharing the index. */
int cache_index_totals(struct cache_index *ix, uint64_t *bytes,
		       uint64_t *count);

#endif

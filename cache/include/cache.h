/*
 * cache: "give me chunk D" -> a local file of verified bytes. Hit: the
 * chunk file in the cache directory. Miss: a ranged fetch of just that
 * chunk from its shard on the origin, decompress, verify the SHA-256,
 * store, index in LMDB. Knows nothing of FUSE.
 *
 * The cache directory holds:
 *   index/       LMDB environment: chunk -> size and last use, the LRU
 *                order and the total; shared by every process using DIR
 *   chunks/aa/<hex>   one file per chunk (uncompressed, verified bytes)
 *   catalogs/<hex>.mdb  unpacked, verified catalogs
 *   tmp/         files being written, named by the writer's pid
 *   state/       last accepted revision per origin and key
 *
 * Unless said otherwise functions return 0 or a negative errno. A chunk
 * the origin cannot deliver (unreachable after retries, timed out,
 * missing) or delivers with bytes that do not match its digest is -EIO,
 * with one log line saying which; unverified bytes are never returned.
 */
#ifndef AIDATA_CACHE_H
#define AIDATA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo.h"

typedef struct cache cache_t;

struct cache_options {
	const char *dir;	   /* created if absent */
	uint64_t max_bytes;	   /* chunk bytes kept; 0 = no limit */
	const char *origin_url;	   /* file:///..., http://..., https://... */
	unsigned timeout_sec;	   /* per origin attempt (origin.h) */
	unsigned retries;	   /* extra attempts */
	const char *ca_file;	   /* https CA bundle, NULL = system */
	unsigned prefetch_threads; /* background readahead workers; 0 = 2 */
};

/*
 * Open (creating if needed) the cache directory and the origin. Reclaims
 * what a killed process left half-written. Logs and returns -EINVAL for a
 * bad origin URL, -errno for an unusable directory.
 */
int cache_new(const struct cache_options *o, cache_t **out);
/* Stop background work, flush the index, free. */
void cache_free(cache_t *c);

/* The manifest, fresh from the origin (never cached): *data is a new
 * NUL-terminated buffer of *len bytes the caller frees. */
int cache_manifest_fetch(cache_t *c, char **data, size_t *len);

/*
 * Rollback protection: the highest revision accepted so far from this
 * origin under the key whose raw public bytes are key_id (32 bytes).
 * load gives 0 when none is recorded.
 */
int cache_revision_load(cache_t *c, const uint8_t key_id[32], uint64_t *rev);
int cache_revision_store(cache_t *c, const uint8_t key_id[32], uint64_t rev);

/*
 * The unpacked catalog with object digest d: fetched and verified on
 * first use, then kept. *path is new (caller frees) and stays valid
 * while the cache exists.
 */
int cache_catalog_path(cache_t *c, const struct digest *d, char **path);

/* A pinned chunk: while held, the bytes stay readable. */
struct cache_chunk_ref {
	int fd;		    /* >= 0: a file holding the chunk at offset 0 */
	const uint8_t *mem; /* else: the bytes in memory (cache full) */
	uint32_t size;	    /* bytes of the chunk */
	void *priv;
};

/*
 * Get chunk ch (its record from a dataset catalog): from the cache, or
 * fetched, verified and stored. Concurrent calls for one chunk fetch it
 * once. Encrypted chunks are stored and returned as fetched (ciphertext).
 * When the cache cannot take the chunk (full of pinned chunks, disk
 * full) the bytes are returned in memory instead and a warning is logged.
 * Release with cache_chunk_release.
 */
int cache_chunk_acquire(cache_t *c, const struct repo_chunk *ch,
			struct cache_chunk_ref *out);
void cache_chunk_release(cache_t *c, struct cache_chunk_ref *ref);

/*
 * Forget a cached chunk that turned out bad where only the reader can
 * tell (an encrypted chunk whose tag fails): the next acquire refetches.
 */
void cache_chunk_discard(cache_t *c, const struct repo_chunk *ch);

/* Whether the chunk is in the cache now (no fetch). */
bool cache_chunk_present(cache_t *c, const struct repo_chunk *ch);

/*
 * A small object (e.g. "keys/<dataset>/<node>") fresh from the origin,
 * at most max bytes: *data is new and NUL-terminated; caller frees.
 */
int cache_object_fetch(cache_t *c, const char *rel, size_t max, char **data,
		       size_t *len);

/* Best-effort background fetch of ch (readahead). Never blocks on the
 * network; silently dropped if the queue is full or it is cached. */
void cache_chunk_prefetch(cache_t *c, const struct repo_chunk *ch);

struct cache_stats {
	uint64_t hits, misses;
	uint64_t prefetches;	/* chunks fetched ahead of readers */
	uint64_t bytes_fetched; /* from the origin */
	uint64_t chunks_cached; /* in the index now */
	uint64_t cache_bytes;	/* chunk bytes in the index now */
	uint64_t max_bytes;
	uint64_t evictions;
	uint64_t err_verify; /* digest or frame mismatch from origin */
	uint64_t err_origin_timeout;
	uint64_t err_origin_io;	 /* other origin failures */
	uint64_t err_cache_full; /* served from memory, not stored */
	uint64_t origin_requests;
	uint64_t origin_retries;
};
void cache_stats_get(cache_t *c, struct cache_stats *out);

#endif

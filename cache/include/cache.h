/*
 * cache: "give me chunk D" -> its verified plaintext. Hit: the chunk file
 * in the cache directory. Miss: a ranged fetch of just that chunk from
 * its shard on the origin, decompress, verify the SHA-256, store, index
 * in LMDB. A secure-tier chunk is stored as fetched (ciphertext) and
 * decrypted, with the dataset key its reader passes, into memory shared
 * by every reader of that chunk; its plaintext never touches disk. Knows
 * nothing of FUSE.
 *
 * The cache directory holds:
 *   index/       LMDB environment: chunk -> size and last use, the LRU
 *                order and the total; shared by every process using DIR
 *   chunks/aa/<hex>   one file per chunk: uncompressed, verified bytes,
 *                or the ciphertext of a secure chunk (FORMAT.md §6.4)
 *   catalogs/<hex>.mdb  unpacked, verified catalogs
 *   tmp/         files being written, named by the writer's pid
 *   state/       last accepted revision per origin and key
 *
 * Unless said otherwise functions return 0 or a negative errno. A chunk
 * the origin cannot deliver (unreachable after retries, timed out,
 * missing) or delivers with bytes that do not match its digest is -EIO,
 * with one log line saying which; unverified bytes are never returned.
 *
 * Failure memory: when the origin could not deliver a chunk or catalog,
 * the same object fails at once, without asking the origin again, for
 * CACHE_FAILED_SEC seconds, and readahead does not queue it. Bytes that
 * came but did not verify are not remembered.
 */
#define CACHE_FAILED_SEC 5
#ifndef AIDATA_CACHE_H
#define AIDATA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo.h"

struct origin_s3_options; /* origin.h */

#define CACHE_MIRRORS_MAX 16 /* mirrors shown in cache_stats */

typedef struct cache cache_t;

struct cache_options {
	const char *dir;	/* created if absent */
	uint64_t max_bytes;	/* chunk bytes kept; 0 = no limit */
	const char *origin_url; /* file:///..., http(s)://..., s3://B/P */
	unsigned timeout_sec;	/* per origin attempt (origin.h) */
	unsigned retries;	/* extra attempts */
	const char *ca_file;	/* https CA bundle, NULL = system */
	/* s3:// origins: endpoint, region, credentials (origin.h); NULL =
	 * the AWS environment variables and defaults */
	const struct origin_s3_options *s3;
	const char *proxy; /* proxy list (origin.h); NULL = http_proxy */
	unsigned prefetch_threads; /* background readahead workers; 0 = 4 */
	/* one-shot readers (aidata get, verify): chunks are fetched,
	 * verified and returned in memory, never stored */
	bool transient;
};

/*
 * Open (creating if needed) the cache directory and the origin. Reclaims
 * what a killed process left half-written. Logs and returns -EINVAL for a
 * bad origin URL, -errno for an unusable directory.
 */
int cache_new(const struct cache_options *o, cache_t **out);
/* Stop background work, flush the index, free. Every chunk reference
 * must have been released before (plaintext still held is wiped). */
void cache_free(cache_t *c);

/*
 * The origin URL a user gave, as cache_options wants it: a plain path
 * (no "scheme://") or a file:// URL with a relative path becomes
 * file:///absolute/path, made absolute against the working directory
 * now (a daemon changes to "/" later); any other URL is returned as it
 * is, for cache_new to check. A new string the caller frees.
 */
char *cache_origin_url(const char *where);

/*
 * Why a fetch failed, in words for the one line an operator reads, when
 * the caller passes a buffer of this size: "HTTP 503 from
 * 'https://host/repo/manifest' (4 attempts)", "'http://host/repo/manifest':
 * connection refused", "'…/catalog/<hex>': 17179869184 bytes
 * (Content-Length), expected 803", "digest mismatch".
 */
#define CACHE_WHY_MAX 512

/* The manifest, fresh from the origin (never cached), at most
 * REPO_MANIFEST_MAX bytes: *data is a new NUL-terminated buffer of *len
 * bytes the caller frees. On error why (NULL or CACHE_WHY_MAX bytes)
 * says what went wrong; -ENOENT: the origin has no manifest. */
int cache_manifest_fetch(cache_t *c, char **data, size_t *len, char *why);

/*
 * Rollback protection: the highest revision accepted so far from this
 * origin under the key whose raw public bytes are key_id (32 bytes).
 * load gives 0 when none is recorded.
 */
int cache_revision_load(cache_t *c, const uint8_t key_id[32], uint64_t *rev);
int cache_revision_store(cache_t *c, const uint8_t key_id[32], uint64_t rev);

/*
 * The unpacked catalog with object digest d, of size bytes as its signed
 * record says (the root catalog's size in the manifest, a dataset's
 * catalog_size): fetched (exactly size bytes, nothing past them), its
 * SHA-256 checked, and only then decompressed, on first use; then kept.
 * size 0 is unknown (a format-1 manifest's root catalog): fetched under a
 * cap of CACHE_ROOT_CATALOG_MAX_V1. *path is new (caller frees) and
 * stays valid while the cache exists. Errors: -EIO (does not verify, or
 * the origin failed; -ETIMEDOUT after timeouts), -ENOENT (not on the
 * origin), -EFBIG (over the cap), -errno; why (NULL or CACHE_WHY_MAX
 * bytes) says what.
 */
#define CACHE_ROOT_CATALOG_MAX_V1 (64u << 20)
int cache_catalog_path(cache_t *c, const struct digest *d, uint64_t size,
		       char **path, char *why);

/* A held chunk: while held, its plaintext stays readable. */
struct cache_chunk_ref {
	int fd;		    /* >= 0: a file holding the chunk at offset 0 */
	const uint8_t *mem; /* else: the bytes in memory */
	uint32_t size;	    /* bytes of the chunk (its record's size) */
	void *priv;
};

/*
 * Get the verified plaintext of chunk ch (its record from a dataset
 * catalog): from the cache, or fetched, verified and stored; concurrent
 * calls for one chunk fetch it once. A plain chunk comes as its cache
 * file, pinned (never evicted while held); when the cache cannot take
 * it (full of pinned chunks, disk full) in memory instead, with a
 * warning logged. An encrypted chunk (REPO_CHUNK_ENCRYPTED) needs key,
 * its dataset key (ignored for other chunks): the ciphertext is stored,
 * and the plaintext is decrypted once into memory shared by every
 * holder of a reference to that chunk, wiped when the last is released;
 * keep a reference to avoid decrypting again. A stored ciphertext that
 * does not decrypt or verify is forgotten (one log line), so the next
 * call refetches it.
 *
 * Returns 0 and *out, which stays valid until cache_chunk_release;
 * -EIO when the origin cannot deliver the chunk or it does not verify
 * (logged); -ENOKEY for an encrypted chunk without a key; -EACCES when
 * the plaintext held was decrypted with another key.
 */
int cache_chunk_acquire(cache_t *c, const struct repo_chunk *ch,
			const uint8_t *key, struct cache_chunk_ref *out);
/*
 * For a reader that wants len bytes at off of plain chunk ch and should
 * not wait for the whole chunk: when ch is neither cached nor being
 * fetched, fetch it, verify its frame (a zstd chunk with a stored
 * digest, FORMAT.md §5.9) and decode it as far as off + len, or verify
 * it whole (a raw chunk), copy those bytes to dst and return len. A
 * background thread of lower priority then decodes the rest and stores
 * the chunk; other readers of ch wait for that as for any fetch.
 * -EAGAIN where this does not apply (cached, being fetched, held in
 * memory, failed a moment ago, encrypted, zstd without a stored digest,
 * a transient cache, or 8 MiB of chunks already waiting to be
 * finished): cache_chunk_acquire then. Other errors as there.
 */
int cache_chunk_read_early(cache_t *c, const struct repo_chunk *ch,
			   uint32_t off, uint32_t len, void *dst);
/* Release a reference from cache_chunk_acquire (a zeroed ref is a no-op). */
void cache_chunk_release(cache_t *c, struct cache_chunk_ref *ref);

/* Whether the chunk is in the cache now (no fetch). */
bool cache_chunk_present(cache_t *c, const struct repo_chunk *ch);

/*
 * The manifest cache_manifest_fetch just returned was refused (another
 * key's, malformed, older than one already seen): pass over the mirror
 * that served it for a while, so the next fetch asks another. Returns
 * whether there is another mirror to ask.
 */
bool cache_manifest_refuse(cache_t *c, const char *why);

/*
 * A small object (e.g. "keys/<dataset>/<node>") fresh from the origin,
 * at most max bytes: *data is new and NUL-terminated; caller frees.
 */
int cache_object_fetch(cache_t *c, const char *rel, size_t max, char **data,
		       size_t *len);

/* Best-effort background fetch of ch (readahead) into the store; a
 * secure chunk is fetched, not decrypted; a chunk already stored has its
 * file read into the page cache instead. Never blocks on the network.
 * false: the queue is full and ch was dropped (true if queued, already
 * queued, cached, or left alone on purpose). */
bool cache_chunk_prefetch(cache_t *c, const struct repo_chunk *ch);

/*
 * Fetch chunk ch into the store now unless it is there (aidata
 * prefetch): its stored bytes, ciphertext for an encrypted chunk, which
 * is never decrypted here. A chunk already present is moved to the
 * young end of the LRU order. *fetched says whether this call fetched
 * it. Returns 0; -EIO when the origin cannot deliver it or it does not
 * verify (logged); -ENOSPC when the cache cannot keep it (full of chunks
 * being read, or its disk full); -EINVAL for a transient cache.
 */
int cache_chunk_fetch(cache_t *c, const struct repo_chunk *ch, bool *fetched);

/* Whether the catalog with object digest d is unpacked in the cache
 * (cache_catalog_path would not fetch it). */
bool cache_catalog_present(cache_t *c, const struct digest *d);

/* The cache directory and the origin URL, as given to cache_new; valid
 * as long as c. */
const char *cache_dir(cache_t *c);
const char *cache_origin(cache_t *c);

struct cache_stats {
	uint64_t hits, misses;
	uint64_t prefetches;	/* chunks fetched ahead of readers, or
				 * on request (cache_chunk_fetch) */
	uint64_t warmed_ahead;	/* cached chunks read into the page cache
				 * ahead of readers */
	uint64_t early_reads;	/* misses answered before the whole chunk
				 * was decoded (cache_chunk_read_early) */
	uint64_t bytes_fetched; /* received for chunks and catalogs */
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
	uint64_t decryptions; /* secure chunks decrypted into memory */
	/* chunk and catalog reads failed at once: the same object's fetch
	 * failed less than CACHE_FAILED_SEC ago */
	uint64_t failed_from_memory;
	uint64_t proxy_failovers; /* moves to the next proxy= entry */
	/* the origin's mirrors (one unless a mirror list); url valid
	 * while the cache lives */
	size_t mirrors;
	struct cache_mirror_stats {
		const char *url;
		uint64_t requests, bytes, failures, avoided;
	} mirror[CACHE_MIRRORS_MAX];
};
void cache_stats_get(cache_t *c, struct cache_stats *out);

#endif

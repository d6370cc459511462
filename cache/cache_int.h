/* Private to cache/: the LMDB index of the chunk store. */
#ifndef AIDATA_CACHE_INT_H
#define AIDATA_CACHE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

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

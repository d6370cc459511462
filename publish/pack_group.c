/*
 * Grouping small files into chunks (docs/FORMAT.md §9.2), streaming.
 *
 * The rule: every small file has a key (the SHA-256 of its path inside
 * the dataset); the gap after a file has that file's key. The range of a
 * gap is the run of files around it in which no gap has a lower key. A
 * gap is a boundary iff its range holds more than max_bytes bytes or
 * more than max_files files. Chunks are the runs between boundaries.
 *
 * Decided here as files come, with a deque of the undecided gaps whose
 * keys increase from bottom to top (the previous-smaller-element stack):
 * a new gap pops the higher keys above it (their range ends at its file,
 * and fits, or they would have been decided already: not boundaries);
 * the bottom gap has the widest range so far, and becomes a boundary as
 * soon as that range no longer fits. An undecided gap's range so far
 * always reaches back to the last boundary, so at most max_bytes bytes
 * and max_files files wait.
 */
#include "publish_int.h"
#include "xalloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct gap {
	struct digest key;
	uint64_t seq;	      /* the file it follows */
	uint64_t start;	      /* the first file of its range */
	uint64_t start_bytes; /* bytes pushed before that file */
	uint64_t end_bytes;   /* bytes pushed up to and with file seq */
};

struct pack_group {
	uint64_t max_bytes;
	uint32_t max_files;
	uint64_t pushed;  /* files */
	uint64_t bytes;	  /* their bytes */
	uint64_t taken;	  /* files handed out in groups */
	struct gap *gaps; /* undecided: gaps[lo .. hi-1], keys increasing */
	size_t lo, hi, gaps_alloc;
	uint64_t *bounds; /* decided boundaries not yet taken */
	size_t blo, bhi, bounds_alloc;
	bool have_last; /* the last boundary decided */
	struct digest last_key;
	uint64_t last_seq, last_end_bytes;
};

struct pack_group *pack_group_new(uint64_t max_bytes, uint32_t max_files)
{
	struct pack_group *g = xcalloc(1, sizeof(*g));

	g->max_bytes = max_bytes;
	g->max_files = max_files;
	return g;
}

void pack_group_free(struct pack_group *g)
{
	if (!g)
		return;
	free(g->gaps);
	free(g->bounds);
	free(g);
}

void pack_group_key(const char *path, struct digest *key)
{
	sha256_buffer(path, strlen(path), key);
}

static int key_cmp(const struct digest *a, const struct digest *b)
{
	return memcmp(a->b, b->b, DIGEST_LEN);
}

/*
 * Room for one more element at the end of the deque a[*lo .. *hi) of
 * elements of size bytes: slide it to the front, or grow it.
 */
static void *deque_room(void *a, size_t size, size_t *lo, size_t *hi,
			size_t *alloc)
{
	if (*hi < *alloc)
		return a;
	if (*lo > 0) {
		memmove(a, (char *)a + *lo * size, (*hi - *lo) * size);
		*hi -= *lo;
		*lo = 0;
		return a;
	}
	*alloc = *alloc ? 2 * *alloc : 64;
	return xrealloc(a, *alloc * size);
}

static void boundary(struct pack_group *g, uint64_t seq,
		     const struct digest *key, uint64_t end_bytes)
{
	g->bounds = deque_room(g->bounds, sizeof(*g->bounds), &g->blo, &g->bhi,
			       &g->bounds_alloc);
	g->bounds[g->bhi++] = seq;
	g->have_last = true;
	g->last_key = *key;
	g->last_seq = seq;
	g->last_end_bytes = end_bytes;
}

/* The bottom gap's range so far is the widest: decide while it overflows. */
static void decide_overflows(struct pack_group *g)
{
	while (g->lo < g->hi) {
		const struct gap *b = &g->gaps[g->lo];

		if (g->bytes - b->start_bytes <= g->max_bytes &&
		    g->pushed - b->start <= g->max_files)
			break;
		boundary(g, b->seq, &b->key, b->end_bytes);
		g->lo++;
	}
}

static struct gap *gap_push(struct pack_group *g)
{
	g->gaps = deque_room(g->gaps, sizeof(*g->gaps), &g->lo, &g->hi,
			     &g->gaps_alloc);
	return &g->gaps[g->hi++];
}

void pack_group_push(struct pack_group *g, const struct digest *key,
		     uint64_t size)
{
	uint64_t seq = g->pushed;
	struct gap *gap;

	g->pushed++;
	g->bytes += size;
	/* every undecided range reaches this file: it may now overflow */
	decide_overflows(g);
	/* higher gaps' ranges end at this file, and fit: not boundaries */
	while (g->hi > g->lo && key_cmp(&g->gaps[g->hi - 1].key, key) > 0)
		g->hi--;
	if (g->hi == g->lo && g->have_last && key_cmp(key, &g->last_key) < 0) {
		/* its range holds the last boundary's, which overflowed */
		boundary(g, seq, key, g->bytes);
		return;
	}
	gap = gap_push(g);
	gap->key = *key;
	gap->seq = seq;
	gap->end_bytes = g->bytes;
	if (g->hi - 1 > g->lo) {
		const struct gap *below = &g->gaps[g->hi - 2];

		gap->start = below->seq + 1;
		gap->start_bytes = below->end_bytes;
	} else {
		gap->start = g->have_last ? g->last_seq + 1 : 0;
		gap->start_bytes = g->have_last ? g->last_end_bytes : 0;
	}
	decide_overflows(g);
}

bool pack_group_take(struct pack_group *g, size_t *count)
{
	uint64_t end;

	if (g->blo == g->bhi)
		return false;
	end = g->bounds[g->blo++];
	*count = (size_t)(end + 1 - g->taken);
	g->taken = end + 1;
	return true;
}

size_t pack_group_finish(struct pack_group *g)
{
	size_t count;

	/* the caller takes every complete group before the last */
	assert(g->blo == g->bhi);
	count = (size_t)(g->pushed - g->taken);
	g->taken = g->pushed;
	g->lo = g->hi = 0;
	return count;
}

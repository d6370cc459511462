/*
 * Grouping small files into chunks (docs/FORMAT.md §9.2), as files come.
 *
 * Every small file has a key, the SHA-256 of its path inside the
 * dataset, and a weight, its size but at least C/65536 (so that a chunk
 * of weight <= C holds at most C bytes and 65,536 files).
 *
 * 1. A file ends a group when the first 4 bytes of its key, read as a
 *    number u < 2^32, satisfy u * C < weight * 2^35: with probability
 *    8 * weight / C, as if each byte could end it with probability 8/C.
 *    That depends on the file alone, so an edit moves at most the end of
 *    its own group; groups weigh C/8 on average.
 * 2. A group weighing more than C (rare: e^-8 of them) is split where
 *    its keys say: the gap after a file has that file's key, the range of
 *    a gap is the run of the group's files around it in which no gap has
 *    a lower key, and a gap whose range weighs more than C is a boundary.
 *    That too depends only on the files near the gap (within C on either
 *    side).
 *
 * Step 2 runs as files come, with a deque of the undecided gaps whose
 * keys increase from bottom to top (the previous-smaller-element stack):
 * a new gap pops the higher keys above it (their range ends at its file,
 * and fits, or they would have been decided already: not boundaries);
 * the bottom gap has the widest range so far, and becomes a boundary as
 * soon as that range no longer fits. An undecided gap's range always
 * reaches back to the last boundary, so at most C of weight waits.
 */
#include "publish_int.h"
#include "buf.h"
#include "xalloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct gap {
	struct digest key;
	uint64_t seq;	       /* the file it follows */
	uint64_t start_weight; /* weight pushed before its range */
	uint64_t end_weight;   /* weight pushed up to and with file seq */
};

struct pack_group {
	uint64_t max_weight; /* C */
	uint64_t min_weight; /* ceil(C / 65536) */
	uint64_t pushed;     /* files */
	uint64_t weight;     /* their weight */
	uint64_t taken;	     /* files handed out in groups */
	struct gap *gaps;    /* undecided: gaps[lo .. hi-1], keys increasing */
	size_t lo, hi, gaps_alloc;
	uint64_t *bounds; /* decided boundaries not yet taken */
	size_t blo, bhi, bounds_alloc;
	uint64_t start, start_weight; /* the run after the last boundary */
	bool have_split;	      /* the last boundary was a split (2.) */
	struct digest split_key;      /* and its key */
};

struct pack_group *pack_group_new(uint32_t chunk_size)
{
	struct pack_group *g = xcalloc(1, sizeof(*g));

	g->max_weight = chunk_size;
	g->min_weight =
	    (chunk_size + PACK_GROUP_FILES_MAX - 1) / PACK_GROUP_FILES_MAX;
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

bool pack_group_ends(const struct digest *key, uint64_t weight,
		     uint32_t chunk_size)
{
	uint64_t u = load_be32(key->b);

	/* u * C < weight * 2^35, both sides below 2^59 */
	return u * chunk_size < weight << 35;
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

/* A group ends after file seq; key: a split's, NULL for a group's end. */
static void boundary(struct pack_group *g, uint64_t seq,
		     const struct digest *key, uint64_t end_weight)
{
	g->bounds = deque_room(g->bounds, sizeof(*g->bounds), &g->blo, &g->bhi,
			       &g->bounds_alloc);
	g->bounds[g->bhi++] = seq;
	g->start = seq + 1;
	g->start_weight = end_weight;
	g->have_split = key != NULL;
	if (key)
		g->split_key = *key;
}

/* The bottom gap's range so far is the widest: decide while it overflows. */
static void decide_overflows(struct pack_group *g)
{
	while (g->lo < g->hi) {
		const struct gap *b = &g->gaps[g->lo];

		if (g->weight - b->start_weight <= g->max_weight)
			break;
		boundary(g, b->seq, &b->key, b->end_weight);
		g->lo++;
	}
}

/* Step 2 for the gap after file seq. */
static void split_push(struct pack_group *g, const struct digest *key,
		       uint64_t seq)
{
	struct gap *gap;

	/* every undecided range reaches this file: it may now overflow */
	decide_overflows(g);
	/* higher gaps' ranges end at this file, and fit: not boundaries */
	while (g->hi > g->lo && key_cmp(&g->gaps[g->hi - 1].key, key) > 0)
		g->hi--;
	if (g->hi == g->lo && g->have_split &&
	    key_cmp(key, &g->split_key) < 0) {
		/* its range holds the last split's, which overflowed */
		boundary(g, seq, key, g->weight);
		return;
	}
	g->gaps = deque_room(g->gaps, sizeof(*g->gaps), &g->lo, &g->hi,
			     &g->gaps_alloc);
	gap = &g->gaps[g->hi++];
	gap->key = *key;
	gap->seq = seq;
	gap->end_weight = g->weight;
	/* its range starts after the gap below, or after the last boundary */
	gap->start_weight =
	    g->hi - 1 > g->lo ? g->gaps[g->hi - 2].end_weight : g->start_weight;
	decide_overflows(g);
}

void pack_group_push(struct pack_group *g, const struct digest *key,
		     uint64_t size)
{
	uint64_t seq = g->pushed;
	uint64_t w = size > g->min_weight ? size : g->min_weight;

	g->pushed++;
	g->weight += w;
	split_push(g, key, seq);
	if (pack_group_ends(key, w, (uint32_t)g->max_weight)) {
		/* the group's end is -infinity to its gaps: none overflows
		 * any more, none is a boundary */
		if (g->start <= seq)
			boundary(g, seq, NULL, g->weight);
		g->have_split = false;
		g->lo = g->hi = 0;
	}
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
	g->start = g->pushed;
	g->start_weight = g->weight;
	g->have_split = false;
	g->lo = g->hi = 0;
	return count;
}

/*
 * Readahead: chunks queued for the cache's background workers ahead of
 * the readers that will want them, within a file read sequentially and
 * across the files of a directory read in listing order. A chunk already
 * cached is read from the cache's disk into the page cache instead
 * (cache/).
 */
#define _GNU_SOURCE
#include "ns_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

#define READAHEAD_BYTES (32u << 20)

/* Within a file: the next READAHEAD_BYTES after a sequential read. */
static void readahead_file(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
			   uint64_t off, uint64_t end)
{
	uint32_t from, to;
	bool sequential;

	pthread_mutex_lock(&f->lock);
	sequential = off == f->next_off;
	f->next_off = end;
	if (!sequential || end >= f->inode.size) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	from = ns_file_extent_at(f, end);
	if (from < f->prefetched_to)
		from = f->prefetched_to;
	to = from;
	while (to < f->inode.extent_count &&
	       f->starts[to] < end + READAHEAD_BYTES)
		to++;
	if (to > f->prefetched_to)
		f->prefetched_to = to;
	pthread_mutex_unlock(&f->lock);
	for (uint32_t k = from; k < to; k++) {
		struct repo_chunk ch;

		if (k > from &&
		    f->inode.extents[k].chunk == f->inode.extents[k - 1].chunk)
			continue;
		if (repo_catalog_chunk(cat, f->inode.extents[k].chunk, &ch) ==
		    0)
			cache_chunk_prefetch(ns->cache, &ch);
	}
}

/*
 * Readahead across files. A reader that goes through a directory's files
 * in listing order (cp -r, tar, a training epoch over a sorted list)
 * makes one read per small file, so the per-file readahead above never
 * starts, and each file's chunk would be a cold fetch in turn. So when
 * files of one directory finish one after another in listing order
 * (several readers of neighbouring files count too), the chunks of the
 * next files of the directory are queued, READAHEAD_BYTES ahead. Each
 * dataset follows NS_RA_STREAMS such directories at once (data loader
 * workers, each on its own directory). A shuffled reader jumps around
 * and queues nothing.
 */
/* inodes apart that still count as in order (siblings are numbered in
 * name order) */
#define RA_NEAR 16
/* files finished in order before readahead starts */
#define RA_RUN 2
/* files looked at per call */
#define RA_FILES 64

struct ra_list {
	uint64_t ino[RA_FILES];
	size_t n;
};

static int ra_collect(void *ctx, const char *name, size_t name_len,
		      uint64_t ino, uint32_t mode_type)
{
	struct ra_list *l = ctx;

	(void)name;
	(void)name_len;
	if (mode_type == S_IFREG)
		l->ino[l->n++] = ino;
	return l->n == RA_FILES;
}

/* Queue the chunks of the files after st->queued in st->dir until
 * st->ahead bytes reach READAHEAD_BYTES. Called with s->ra_lock. */
static void ra_queue_files(ns_t *ns, struct ns_ra_stream *st,
			   repo_catalog_t *cat)
{
	struct ra_list l = {.n = 0};
	uint32_t last_chunk = UINT32_MAX;

	if (repo_catalog_readdir(cat, st->dir, st->queued, ra_collect, &l) < 0)
		return;
	for (size_t i = 0; i < l.n && st->ahead < READAHEAD_BYTES; i++) {
		struct repo_inode in;

		if (repo_catalog_inode(cat, l.ino[i], &in) != 0)
			return;
		for (uint32_t k = 0;
		     k < in.extent_count && st->ahead < READAHEAD_BYTES; k++) {
			struct repo_chunk ch;

			if (in.extents[k].chunk != last_chunk &&
			    repo_catalog_chunk(cat, in.extents[k].chunk, &ch) ==
				0 &&
			    !cache_chunk_prefetch(ns->cache, &ch)) {
				/* the queue is full: this file again next
				 * time */
				repo_inode_release(&in);
				return;
			}
			last_chunk = in.extents[k].chunk;
			st->ahead += in.extents[k].length;
		}
		st->queued = l.ino[i];
		repo_inode_release(&in);
	}
}

/* The stream f continues (same directory, near the file it last
 * finished), or the least recently used one, started afresh for f. */
static struct ns_ra_stream *ra_stream(struct ns_slot *s,
				      const struct ns_file *f, bool *near)
{
	struct ns_ra_stream *lru = &s->ra[0];
	uint64_t ino = f->inode.ino;

	for (size_t i = 0; i < NS_RA_STREAMS; i++) {
		struct ns_ra_stream *st = &s->ra[i];

		if (st->used && st->dir == f->inode.parent &&
		    ino + RA_NEAR >= st->ino && ino <= st->ino + RA_NEAR) {
			*near = true;
			return st;
		}
		if (st->used < lru->used)
			lru = st;
	}
	*near = false;
	return lru;
}

static void readahead_files(ns_t *ns, struct ns_file *f, repo_catalog_t *cat)
{
	struct ns_slot *s = f->slot;
	uint64_t ino = f->inode.ino;
	struct ns_ra_stream *st;
	bool near;

	pthread_mutex_lock(&s->ra_lock);
	st = ra_stream(s, f, &near);
	if (!near) {
		/* a new directory, or a jump: start counting again */
		memset(st, 0, sizeof(*st));
		st->dir = f->inode.parent;
		st->queued = ino;
	} else {
		st->run++;
		if (ino <= st->queued)
			st->ahead = st->ahead > f->inode.size
					? st->ahead - f->inode.size
					: 0;
	}
	st->used = ++s->ra_clock;
	if (ino > st->ino || !near)
		st->ino = ino;
	if (st->queued < ino)
		st->queued = ino;
	if (st->run >= RA_RUN && st->ahead < READAHEAD_BYTES / 2)
		ra_queue_files(ns, st, cat);
	pthread_mutex_unlock(&s->ra_lock);
}

void ns_readahead(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
		  uint64_t off, uint64_t end)
{
	readahead_file(ns, f, cat, off, end);
	if (end >= f->inode.size)
		readahead_files(ns, f, cat);
}

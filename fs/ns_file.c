/*
 * Files of dataset trees: open (the tier decides, audited), access(),
 * and reads planned as lists of held chunk pieces, with readahead for
 * sequential readers. Chunks come verified (and, secure, decrypted) from
 * cache/.
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define READAHEAD_BYTES (32u << 20)

/* "/datasets/<dataset>/a/b" for the audit and the receipts, walking up
 * the catalog. */
char *ns_tree_path(repo_catalog_t *cat, const struct ns_slot *s, uint64_t local)
{
	char *path = xstrdup("");

	for (int depth = 0; local != REPO_ROOT_INO && depth < 512; depth++) {
		struct repo_inode i;
		char *next;

		if (repo_catalog_inode(cat, local, &i) != 0)
			break;
		next = xasprintf("/%s%s", i.name, path);
		free(path);
		path = next;
		local = i.parent;
		repo_inode_release(&i);
	}
	{
		char *full = xasprintf("/datasets/%s%s", s->d.name, path);

		free(path);
		return full;
	}
}

void ns_auth_request_init(ns_t *ns, struct auth_request *r,
			  const struct ns_caller *who, struct ns_slot *s,
			  const char *path)
{
	uint8_t key[AUTH_DATASET_KEY_LEN];

	memset(r, 0, sizeof(*r));
	r->uid = who->uid;
	r->pid = who->pid;
	r->path = path;
	r->dataset = s->d.name;
	r->tier = s->d.tier;
	r->dataset_key_ok = s->d.tier == REPO_TIER_SECURE &&
			    ns_slot_dataset_key(ns, s, key) == 0;
	explicit_bzero(key, sizeof(key));
}

int ns_open(ns_t *ns, uint64_t ino, const struct ns_caller *who, bool write,
	    struct ns_file **out, bool *direct_io)
{
	struct auth_request ar;
	enum auth_reason reason;
	struct ns_file *f;
	struct ns_slot *s;
	repo_catalog_t *cat;
	char *path;
	int rc;

	*direct_io = false;
	if (ns_control_is_file(ino))
		return ns_control_open(ns, ino, who, write, out, direct_io);
	if (INO_KIND(ino) != INO_KIND_TREE)
		return -EISDIR;
	if (TREE_LOCAL(ino) == REPO_ROOT_INO)
		return -EISDIR;
	rc = ns_tree_resolve(ns, ino, &s, &cat);
	if (rc)
		return rc;
	f = xcalloc(1, sizeof(*f));
	f->kind = FILE_TREE;
	f->slot = s;
	rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &f->inode);
	if (rc) {
		free(f);
		return ns_catalog_errno(rc);
	}
	if (!S_ISREG(f->inode.mode)) {
		rc = S_ISDIR(f->inode.mode) ? -EISDIR : -ELOOP;
		repo_inode_release(&f->inode);
		free(f);
		return rc;
	}
	/* the tier decides here, once per open, and is audited */
	path = ns_tree_path(cat, s, TREE_LOCAL(ino));
	ns_auth_request_init(ns, &ar, who, s, path);
	/* a read-only mount refuses writes in the kernel; one that reaches
	 * us anyway is refused here and, for shared and secure files,
	 * audited like any other refusal */
	ar.write = write;
	rc = auth_check_open(ns->auth, &ar, &reason);
	free(path);
	if (rc && reason == AUTH_READ_ONLY)
		rc = -EROFS;
	if (rc) {
		repo_inode_release(&f->inode);
		free(f);
		return rc;
	}
	f->starts = xmalloc((f->inode.extent_count + 1) * sizeof(uint64_t));
	f->starts[0] = 0;
	for (uint32_t k = 0; k < f->inode.extent_count; k++)
		f->starts[k + 1] = f->starts[k] + f->inode.extents[k].length;
	pthread_mutex_init(&f->lock, NULL);
	COUNT_ADD(ns->counters.opens, 1);
	ns_receipt_opened(ns, f, who, ino);
	*out = f;
	return 0;
}

int ns_access(ns_t *ns, uint64_t ino, const struct ns_caller *who, int mask)
{
	struct auth_request ar;
	struct ns_slot *s;
	struct stat st;
	double timeout;
	int rc = ns_getattr(ns, ino, &st, &timeout);

	if (rc)
		return rc;
	if (mask & W_OK)
		return -EROFS;
	if (INO_KIND(ino) != INO_KIND_TREE || !S_ISREG(st.st_mode) ||
	    !(mask & R_OK))
		return 0;
	rc = ns_tree_resolve(ns, ino, &s, NULL);
	if (rc)
		return rc;
	if (s->d.tier == REPO_TIER_OPEN)
		return 0;
	ns_auth_request_init(ns, &ar, who, s, "");
	return auth_decide(ns->auth, &ar) == AUTH_GRANTED ? 0 : -EACCES;
}

void ns_release(ns_t *ns, struct ns_file *f)
{
	if (!f)
		return;
	repo_inode_release(&f->inode);
	cache_chunk_release(ns->cache, &f->held);
	free(f->starts);
	free(f->text);
	for (size_t i = 0; i < f->nretired; i++)
		free(f->retired[i]);
	free(f->retired);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Index of the extent holding byte off (off < size). */
static uint32_t extent_at(const struct ns_file *f, uint64_t off)
{
	uint32_t lo = 0, hi = f->inode.extent_count;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (f->starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void readahead(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
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
	from = extent_at(f, end);
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

/*
 * Keep a reference to chunk id for f (the one just read), so that its
 * bytes in memory (a secure chunk's plaintext, or a chunk the cache
 * could not take) stay there between reads.
 */
static void hold_chunk(ns_t *ns, struct ns_file *f, uint32_t id,
		       const struct repo_chunk *ch, const uint8_t *key)
{
	struct cache_chunk_ref ref, old;

	pthread_mutex_lock(&f->lock);
	if (f->held.priv && f->held_id == id) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	pthread_mutex_unlock(&f->lock);
	/* held by this read: found in memory, not decrypted again */
	if (cache_chunk_acquire(ns->cache, ch, key, &ref) != 0)
		return;
	pthread_mutex_lock(&f->lock);
	old = f->held;
	f->held = ref;
	f->held_id = id;
	pthread_mutex_unlock(&f->lock);
	cache_chunk_release(ns->cache, &old);
}

/* One extent's chunk for a read: verified plaintext, held in *ref. */
static int read_chunk(ns_t *ns, struct ns_file *f, uint32_t id,
		      const struct repo_chunk *ch, struct cache_chunk_ref *ref)
{
	uint8_t key[AUTH_DATASET_KEY_LEN];
	int rc;

	if (!(ch->flags & REPO_CHUNK_ENCRYPTED)) {
		rc = cache_chunk_acquire(ns->cache, ch, NULL, ref);
		/* the cache could not take it (full, disk full): hold it
		 * in memory for the next reads of this file, which would
		 * fetch it again otherwise */
		if (!rc && ref->fd < 0)
			hold_chunk(ns, f, id, ch, NULL);
		return rc;
	}
	rc = ns_slot_dataset_key(ns, f->slot, key);
	if (rc) {
		log_error("dataset '%s': cannot decrypt: this node holds no "
			  "key for it",
			  f->slot->d.name);
		return -EACCES;
	}
	rc = cache_chunk_acquire(ns->cache, ch, key, ref);
	if (!rc)
		hold_chunk(ns, f, id, ch, key);
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* Add the piece [off, end) of extent k to the read: one held chunk. */
static int plan_extent(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
		       uint32_t k, uint64_t off, uint64_t end,
		       struct ns_read *out)
{
	const struct repo_extent *e = &f->inode.extents[k];
	uint64_t a = off > f->starts[k] ? off : f->starts[k];
	uint64_t b = end < f->starts[k + 1] ? end : f->starts[k + 1];
	struct cache_chunk_ref *ref = &out->refs[out->nrefs];
	struct ns_segment *sg = &out->seg[out->nseg];
	struct repo_chunk ch;
	int rc;

	rc = repo_catalog_chunk(cat, e->chunk, &ch);
	if (rc) {
		log_error("dataset '%s': chunk record %u missing",
			  f->slot->d.name, e->chunk);
		return -EIO;
	}
	if ((uint64_t)e->offset + e->length > ch.size)
		return -EIO;
	rc = read_chunk(ns, f, e->chunk, &ch, ref);
	if (rc)
		return rc;
	out->nrefs++;
	sg->fd = ref->fd;
	sg->mem = ref->mem;
	sg->pos = e->offset + (a - f->starts[k]);
	sg->len = (size_t)(b - a);
	out->nseg++;
	out->total += sg->len;
	return 0;
}

int ns_read(ns_t *ns, struct ns_file *f, uint64_t off, size_t size,
	    struct ns_read *out)
{
	repo_catalog_t *cat = NULL;
	uint32_t first, last;
	uint64_t end;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	COUNT_ADD(ns->counters.reads, 1);
	if (f->kind != FILE_TREE)
		return ns_control_read(f, off, size, out);
	if (off >= f->inode.size || size == 0)
		return 0;
	end = off + size < f->inode.size ? off + size : f->inode.size;
	rc = ns_slot_catalog(ns, f->slot, &cat);
	if (rc)
		goto out;
	first = extent_at(f, off);
	last = extent_at(f, end - 1);
	out->seg = xcalloc(last - first + 1, sizeof(*out->seg));
	out->refs = xcalloc(last - first + 1, sizeof(*out->refs));
	for (uint32_t k = first; !rc && k <= last; k++)
		rc = plan_extent(ns, f, cat, k, off, end, out);
	if (!rc) {
		COUNT_ADD(ns->counters.bytes_served, out->total);
		ns_receipt_served(ns, f, out->total);
		readahead(ns, f, cat, off, end);
		if (end >= f->inode.size)
			readahead_files(ns, f, cat);
	}
out:
	if (rc) {
		COUNT_ADD(ns->counters.read_errors, 1);
		ns_read_done(ns, out);
	}
	return rc;
}

void ns_read_done(ns_t *ns, struct ns_read *r)
{
	for (size_t i = 0; i < r->nrefs; i++)
		cache_chunk_release(ns->cache, &r->refs[i]);
	free(r->refs);
	free(r->seg);
	memset(r, 0, sizeof(*r));
}

int ns_prefetch(ns_t *ns, struct ns_file *f, uint64_t off, uint64_t len,
		struct ns_prefetch_result *out)
{
	repo_catalog_t *cat = NULL;
	uint32_t first, last;
	uint64_t end;
	bool fetched = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (f->kind != FILE_TREE)
		return -ENOTTY;
	if (off >= f->inode.size || len == 0)
		return 0;
	end = len < f->inode.size - off ? off + len : f->inode.size;
	rc = ns_slot_catalog(ns, f->slot, &cat);
	if (rc)
		return rc;
	first = extent_at(f, off);
	last = extent_at(f, end - 1);
	for (uint32_t k = first; k <= last; k++) {
		const struct repo_extent *e = &f->inode.extents[k];
		uint64_t a = off > f->starts[k] ? off : f->starts[k];
		uint64_t b = end < f->starts[k + 1] ? end : f->starts[k + 1];
		struct repo_chunk ch;

		/* consecutive extents of one chunk: decided once */
		if (k == first || e->chunk != f->inode.extents[k - 1].chunk) {
			rc = repo_catalog_chunk(cat, e->chunk, &ch);
			if (rc) {
				log_error("dataset '%s': chunk record %u "
					  "missing",
					  f->slot->d.name, e->chunk);
				return -EIO;
			}
			rc = cache_chunk_fetch(ns->cache, &ch, &fetched);
			if (rc)
				return rc;
			if (fetched) {
				out->chunks_fetched++;
				out->origin_bytes += ch.stored_size;
			} else {
				out->chunks_cached++;
			}
		}
		if (fetched)
			out->bytes_fetched += b - a;
		else
			out->bytes_cached += b - a;
	}
	return 0;
}

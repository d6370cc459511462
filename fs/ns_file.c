/*
 * Files of dataset trees: open (the tier decides, audited), access(),
 * and reads planned as lists of held chunk pieces (readahead:
 * ns_readahead.c). Chunks come verified (and, secure, decrypted) from
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
#include <unistd.h>

#include "banned.h"

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

static void files_add(ns_t *ns, struct ns_file *f)
{
	pthread_mutex_lock(&ns->files_lock);
	f->prev = NULL;
	f->next = ns->files;
	if (ns->files)
		ns->files->prev = f;
	ns->files = f;
	pthread_mutex_unlock(&ns->files_lock);
}

static void files_remove(ns_t *ns, struct ns_file *f)
{
	pthread_mutex_lock(&ns->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else if (ns->files == f)
		ns->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	pthread_mutex_unlock(&ns->files_lock);
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
	if (ns_control_is_file(ino)) {
		rc = ns_control_open(ns, ino, who, write, out, direct_io);
		if (!rc)
			files_add(ns, *out);
		return rc;
	}
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
	files_add(ns, f);
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
	files_remove(ns, f);
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

void ns_files_release_all(ns_t *ns)
{
	while (ns->files)
		ns_release(ns, ns->files);
}

uint32_t ns_file_extent_at(const struct ns_file *f, uint64_t off)
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

/*
 * A random reader's small read within one extent of a plain chunk that
 * is not cached: answered as soon as its bytes are verified and decoded,
 * the rest of the chunk decoded and stored behind it
 * (cache_chunk_read_early). A sequential reader is better served by the
 * stored file, which the readahead fetched already. sg holds the piece
 * of ch to read; on success it is out->own. -EAGAIN: read it the
 * ordinary way.
 */
#define NS_EARLY_MAX (128u << 10)

static int read_early(ns_t *ns, struct ns_file *f, const struct repo_chunk *ch,
		      uint64_t off, struct ns_segment *sg, struct ns_read *out)
{
	bool sequential;
	int rc;

	pthread_mutex_lock(&f->lock);
	sequential = off == f->next_off;
	pthread_mutex_unlock(&f->lock);
	if (sequential || sg->len > NS_EARLY_MAX ||
	    (ch->flags & REPO_CHUNK_ENCRYPTED))
		return -EAGAIN;
	out->own = xmalloc(sg->len);
	rc = cache_chunk_read_early(ns->cache, ch, (uint32_t)sg->pos,
				    (uint32_t)sg->len, out->own);
	if (rc < 0) {
		free(out->own);
		out->own = NULL;
		return rc;
	}
	sg->fd = -1;
	sg->mem = out->own;
	sg->pos = 0;
	return 0;
}

/* Add the piece [off, end) of extent k to the read: one held chunk, or,
 * for a read of one extent (early), the bytes read_early got. */
static int plan_extent(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
		       uint32_t k, uint64_t off, uint64_t end, bool early,
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
	sg->pos = e->offset + (a - f->starts[k]);
	sg->len = (size_t)(b - a);
	rc = early ? read_early(ns, f, &ch, off, sg, out) : -EAGAIN;
	if (rc == -EAGAIN) {
		rc = read_chunk(ns, f, e->chunk, &ch, ref);
		if (rc)
			return rc;
		out->nrefs++;
		sg->fd = ref->fd;
		sg->mem = ref->mem;
	} else if (rc) {
		return rc;
	}
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
	first = ns_file_extent_at(f, off);
	last = ns_file_extent_at(f, end - 1);
	out->seg = xcalloc(last - first + 1, sizeof(*out->seg));
	out->refs = xcalloc(last - first + 1, sizeof(*out->refs));
	for (uint32_t k = first; !rc && k <= last; k++)
		rc = plan_extent(ns, f, cat, k, off, end, first == last, out);
	if (!rc) {
		COUNT_ADD(ns->counters.bytes_served, out->total);
		ns_receipt_served(ns, f, out->total);
		ns_readahead(ns, f, cat, off, end);
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
	free(r->own);
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
	first = ns_file_extent_at(f, off);
	last = ns_file_extent_at(f, end - 1);
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

/*
 * A dataset's inode and directory-entry records, written to its catalog
 * in the order the walk makes them, though a file's inode waits for its
 * chunks' ids (and its digest) from the pipeline, and every record after
 * it waits behind it. The order matters: the catalog's bytes (its LMDB
 * pages, down to what their free space holds) follow the order of the
 * puts, and the same tree must give the same catalog whether files were
 * read or skipped as unchanged, and however many workers ran (FORMAT.md
 * §9.3).
 */
#include "publish_int.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct pack_record {
	struct pack_record *next;
	struct pack_records *q;
	bool dirent; /* else an inode */
	uint64_t parent, ino;
	uint32_t type;
	struct repo_inode inode; /* owns name, target and extents; a
				  * dirent's name is inode.name */
	uint32_t waiting;	 /* chunk ids to come, +1 while building */
	uint32_t resolved;	 /* extents whose id came */
	uint32_t group;		 /* entries (this one first) one chunk fills */
	sha256_ctx_t *sha;	 /* the file's digest, fed by the pipeline */
	struct pack_span *spans; /* a group's files, digested by a worker */
	bool file;
	bool unchanged;
};

/* Records queued at most (about a MiB), however large a directory: then
 * the pipeline is drained, which writes them all. */
#define RECORDS_QUEUED_MAX 4096

struct pack_records {
	struct pack_dataset_ctx *c;
	struct pack_record *head, **tail;
	size_t queued;
};

struct pack_records *pack_records_new(struct pack_dataset_ctx *c)
{
	struct pack_records *q = xcalloc(1, sizeof(*q));

	q->c = c;
	q->tail = &q->head;
	return q;
}

static void entry_free(struct pack_record *e)
{
	repo_inode_release(&e->inode);
	if (e->sha)
		sha256_free(e->sha);
	free(e->spans);
	free(e);
}

void pack_records_free(struct pack_records *q)
{
	if (!q)
		return;
	while (q->head) {
		struct pack_record *e = q->head;

		q->head = e->next;
		entry_free(e);
	}
	free(q);
}

/* Write the records at the head that are complete. */
static int flush(struct pack_records *q)
{
	int rc = 0;

	while (!rc && q->head && !q->head->waiting) {
		struct pack_record *e = q->head;

		if (e->sha)
			sha256_final(e->sha, &e->inode.sha256);
		if (e->dirent)
			rc = repo_catalog_writer_dirent(
			    q->c->w, e->parent, e->inode.name,
			    strlen(e->inode.name), e->ino, e->type);
		else
			rc = repo_catalog_writer_inode(q->c->w, &e->inode);
		if (!rc && e->file)
			pack_file_done(q->c, e->inode.size, e->unchanged);
		q->head = e->next;
		if (!q->head)
			q->tail = &q->head;
		q->queued--;
		entry_free(e);
	}
	return rc;
}

/* Room for one more record: a long queue waits for the pipeline. */
static int make_room(struct pack_records *q)
{
	if (q->queued < RECORDS_QUEUED_MAX)
		return 0;
	/* every chunk's id is known after this, so all but a file still
	 * being read is written */
	return pack_pipeline_settle(q->c->pp);
}

static void enqueue(struct pack_records *q, struct pack_record *e)
{
	e->q = q;
	e->group = 1;
	*q->tail = e;
	q->tail = &e->next;
	q->queued++;
}

static struct pack_record *entry_new(struct pack_records *q,
				     const struct repo_inode *i)
{
	struct pack_record *e = xcalloc(1, sizeof(*e));

	e->inode = *i;
	e->inode.name = xstrdup(i->name);
	e->inode.target = i->target ? xstrdup(i->target) : NULL;
	e->inode.extents = NULL;
	e->inode.extent_count = 0;
	enqueue(q, e);
	return e;
}

int pack_records_put(struct pack_records *q, const struct repo_inode *i)
{
	int rc = make_room(q);

	if (rc)
		return rc;
	if (!q->head)
		return repo_catalog_writer_inode(q->c->w, i);
	entry_new(q, i);
	return 0;
}

int pack_records_dirent(struct pack_records *q, uint64_t parent,
			const char *name, uint64_t ino, uint32_t type)
{
	struct pack_record *e;
	int rc = make_room(q);

	if (rc)
		return rc;
	if (!q->head)
		return repo_catalog_writer_dirent(q->c->w, parent, name,
						  strlen(name), ino, type);
	e = xcalloc(1, sizeof(*e));
	e->dirent = true;
	e->parent = parent;
	e->ino = ino;
	e->type = type;
	e->inode.name = xstrdup(name);
	enqueue(q, e);
	return 0;
}

int pack_records_file(struct pack_records *q, const struct repo_inode *i,
		      uint32_t extents, bool unchanged,
		      struct pack_record **out)
{
	struct pack_record *e;
	size_t n = extents ? extents : 1;
	int rc = make_room(q);

	if (rc)
		return rc;
	e = entry_new(q, i);
	e->file = true;
	e->unchanged = unchanged;
	e->waiting = 1; /* until pack_records_built */
	e->inode.extents = xcalloc(n, sizeof(*e->inode.extents));
	if (i->extents)
		memcpy(e->inode.extents, i->extents,
		       extents * sizeof(*e->inode.extents));
	e->inode.extent_count = extents;
	*out = e;
	return 0;
}

struct repo_extent *pack_record_extents(struct pack_record *e)
{
	return e->inode.extents;
}

void pack_records_running(struct pack_record *e)
{
	e->sha = sha256_new();
}

void pack_records_group(struct pack_record *first, uint32_t n, bool digests)
{
	struct pack_record *e = first;

	first->group = n;
	if (!digests)
		return;
	first->spans = xcalloc(n, sizeof(*first->spans));
	for (uint32_t k = 0; k < n; k++, e = e->next) {
		first->spans[k].offset = e->inode.extents[0].offset;
		first->spans[k].len = e->inode.extents[0].length;
		first->spans[k].digest = &e->inode.sha256;
	}
}

/* A chunk's id: the next extent of each entry it fills. */
static int chunk_done(void *arg, int status, uint32_t id)
{
	struct pack_record *first = arg, *e = first;

	if (status)
		return 0; /* dropped: the entries go with their queue */
	for (uint32_t k = 0; k < first->group; k++, e = e->next) {
		if (e->resolved >= e->inode.extent_count || e->waiting < 1)
			return -EIO;
		e->inode.extents[e->resolved++].chunk = id;
		e->waiting--;
	}
	return flush(first->q);
}

void pack_records_sink(struct pack_record *first, struct pack_chunk_sink *sink)
{
	struct pack_record *e = first;

	for (uint32_t k = 0; k < first->group; k++, e = e->next)
		e->waiting++;
	memset(sink, 0, sizeof(*sink));
	sink->done = chunk_done;
	sink->arg = first;
	sink->running = first->sha;
	sink->spans = first->spans;
	sink->span_count = first->spans ? first->group : 0;
}

int pack_records_built(struct pack_record *first)
{
	struct pack_record *e = first;

	for (uint32_t k = 0; k < first->group; k++, e = e->next)
		e->waiting--;
	return flush(first->q);
}

int pack_records_finish(struct pack_records *q)
{
	int rc = flush(q);

	/* every chunk was settled by now */
	return rc ? rc : q->head ? -EIO : 0;
}

/*
 * Packing one dataset's source tree: directories, symlinks and large
 * files here, small files handed to pack_small.c. A file the pack state
 * says is unchanged since the revision being extended is not read: its
 * chunks and digest come from that revision's catalog.
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

/* Drop the mapped pages of the previous catalog every so many files, so
 * a walk over a huge dataset does not keep it resident. */
#define PREV_TRIM_EVERY 16384

struct walk {
	struct pack_dataset_ctx *c;
	struct pack_small *small;
	uint8_t *readbuf;
	uint64_t next_ino;
	uint64_t since_trim;
	int depth; /* of the directory being packed, below the dataset */
};

void pack_file_done(struct pack_dataset_ctx *c, uint64_t size, bool unchanged)
{
	c->stats->files++;
	c->d->files++;
	c->d->bytes += size;
	if (unchanged) {
		c->stats->files_unchanged++;
		c->stats->bytes_unchanged += size;
		c->stats->bytes_in += size;
	}
	pack_report_tick(c->report, c->stats, false);
}

int pack_file_open(int dirfd, const char *name, const char *path,
		   const struct stat *listed, int *out)
{
	struct stat st;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_error("'%s': cannot read: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		log_error("'%s': %s", path, strerror(errno));
	} else if (st.st_dev != listed->st_dev || st.st_ino != listed->st_ino) {
		/* never read another file than the one listed and checked */
		log_error("'%s': replaced while being packed", path);
		rc = -EIO;
	} else if (st.st_size < listed->st_size) {
		log_error("'%s': file shrank while being packed", path);
		rc = -EIO;
	} else if (st.st_size > listed->st_size) {
		log_error("'%s': file grew while being packed", path);
		rc = -EIO;
	}
	if (rc)
		close(fd);
	else
		*out = fd;
	return rc;
}

int pack_file_read(int fd, uint8_t *p, size_t n, const char *path)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			log_error("'%s': read error: %s", path,
				  strerror(errno));
			return rc;
		}
		if (r == 0) {
			log_error("'%s': file shrank while being packed", path);
			return -EIO;
		}
		got += (size_t)r;
	}
	return 0;
}

int pack_file_end(int fd, const char *path)
{
	uint8_t probe;

	if (read(fd, &probe, 1) != 0) {
		log_error("'%s': file grew while being packed", path);
		return -EIO;
	}
	return 0;
}

static void inode_from_stat(struct repo_inode *i, uint64_t ino, uint64_t parent,
			    const char *name, const struct stat *st)
{
	memset(i, 0, sizeof(*i));
	i->ino = ino;
	i->parent = parent;
	i->name = (char *)name;
	i->mode = st->st_mode & (S_IFMT | 07777);
	i->nlink = 1;
	i->mtime_sec = st->st_mtim.tv_sec;
	i->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
}

static bool time_at_or_after(const struct timespec *t,
			     const struct timespec *limit)
{
	return t->tv_sec > limit->tv_sec ||
	       (t->tv_sec == limit->tv_sec && t->tv_nsec >= limit->tv_nsec);
}

/* What the next pack's state says of a listed entry. */
static void state_record(const struct pack_dataset_ctx *c,
			 const struct stat *st, struct pack_state_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (!S_ISREG(st->st_mode))
		return;
	rec->dev = (uint64_t)st->st_dev;
	rec->ino = (uint64_t)st->st_ino;
	rec->ctime_sec = st->st_ctim.tv_sec;
	rec->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	rec->flags = PACK_STATE_FILE;
	/* a change within the same timestamp tick would go unseen */
	if (time_at_or_after(&st->st_mtim, &c->racy_after) ||
	    time_at_or_after(&st->st_ctim, &c->racy_after))
		rec->flags |= PACK_STATE_RACY;
}

/*
 * Whether the file st, at prev_ino in the previous catalog, is what was
 * packed there: the state recorded the same identity and the catalog the
 * same size and mtime. Then *prev is its old record (release it).
 */
static bool file_unchanged(struct walk *wk, const struct stat *st,
			   uint64_t prev_ino, struct repo_inode *prev)
{
	struct pack_dataset_ctx *c = wk->c;
	struct pack_state_record rec;

	if (!c->state || !prev_ino ||
	    !pack_state_lookup(c->state, prev_ino, &rec))
		return false;
	if (!(rec.flags & PACK_STATE_FILE) || (rec.flags & PACK_STATE_RACY) ||
	    rec.dev != (uint64_t)st->st_dev ||
	    rec.ino != (uint64_t)st->st_ino ||
	    rec.ctime_sec != st->st_ctim.tv_sec ||
	    rec.ctime_nsec != (uint32_t)st->st_ctim.tv_nsec)
		return false;
	if (repo_catalog_inode(c->prev, prev_ino, prev) != 0)
		return false;
	if (S_ISREG(prev->mode) && prev->size == (uint64_t)st->st_size &&
	    prev->mtime_sec == st->st_mtim.tv_sec &&
	    prev->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec)
		return true;
	repo_inode_release(prev);
	return false;
}

/*
 * The chunk records of an unchanged large file's extents, if they are
 * what reading it would give: whole pieces of piece_size, in order.
 */
static bool large_extents_reusable(struct walk *wk,
				   const struct repo_inode *prev,
				   struct repo_chunk *recs)
{
	uint64_t left = prev->size;
	uint32_t ps = wk->c->piece_size;

	if (prev->extent_count != (prev->size + ps - 1) / ps)
		return false;
	for (uint32_t k = 0; k < prev->extent_count; k++) {
		const struct repo_extent *e = &prev->extents[k];
		uint32_t want = left < ps ? (uint32_t)left : ps;

		if (e->offset != 0 || e->length != want ||
		    repo_catalog_chunk(wk->c->prev, e->chunk, &recs[k]) != 0 ||
		    recs[k].size != want)
			return false;
		left -= want;
	}
	return true;
}

/* An unchanged large file: its old chunks, none of its bytes. */
static int large_reuse(struct walk *wk, struct repo_inode *inode,
		       const struct repo_inode *prev, bool *done)
{
	struct pack_record *e;
	struct repo_chunk *recs;
	int rc = 0;

	*done = false;
	recs =
	    xcalloc(prev->extent_count ? prev->extent_count : 1, sizeof(*recs));
	if (!large_extents_reusable(wk, prev, recs))
		goto out;
	inode->sha256 = prev->sha256;
	inode->extents = prev->extents;
	inode->extent_count = prev->extent_count;
	rc = pack_records_file(wk->c->records, inode, prev->extent_count, true,
			       &e);
	inode->extents = NULL;
	inode->extent_count = 0;
	for (uint32_t k = 0; !rc && k < prev->extent_count; k++) {
		struct pack_chunk_sink sink;

		pack_records_sink(e, &sink);
		rc = pack_pipeline_reuse(wk->c->pp, &recs[k], &sink);
	}
	if (!rc)
		rc = pack_records_built(e);
	*done = !rc;
out:
	free(recs);
	return rc;
}

/* A large file read: cut into pieces of piece_size from offset 0. */
static int large_read(struct walk *wk, int dirfd, const char *path,
		      const struct pack_entry *e, struct repo_inode *inode)
{
	struct pack_dataset_ctx *c = wk->c;
	uint64_t size = (uint64_t)e->st.st_size, done = 0;
	uint64_t count = (size + c->piece_size - 1) / c->piece_size;
	struct pack_record *pe;
	struct repo_extent *ext;
	int fd = -1, rc;

	if (count > UINT32_MAX)
		return -EFBIG;
	rc = pack_records_file(c->records, inode, (uint32_t)count, false, &pe);
	if (rc)
		return rc;
	/* digested on the workers, in order, as its pieces go by */
	pack_records_running(pe);
	ext = pack_record_extents(pe);
	rc = pack_file_open(dirfd, e->name, path, &e->st, &fd);
	for (uint32_t k = 0; !rc && done < size; k++) {
		size_t n = size - done < c->piece_size ? (size_t)(size - done)
						       : c->piece_size;
		struct pack_chunk_sink sink;

		rc = pack_file_read(fd, wk->readbuf, n, path);
		if (rc)
			break;
		ext[k] = (struct repo_extent){0, 0, (uint32_t)n};
		pack_records_sink(pe, &sink);
		rc = pack_pipeline_add(c->pp, &wk->readbuf, n, &sink);
		if (rc)
			break;
		done += n;
		c->stats->bytes_in += n;
		pack_report_tick(c->report, c->stats, false);
	}
	if (!rc)
		rc = pack_file_end(fd, path);
	if (fd >= 0)
		close(fd);
	if (!rc)
		rc = pack_records_built(pe);
	return rc;
}

static int pack_file(struct walk *wk, int dirfd, const char *path,
		     const char *rel, const struct pack_entry *e, uint64_t ino,
		     uint64_t parent, uint64_t prev_ino)
{
	struct pack_dataset_ctx *c = wk->c;
	uint64_t size = (uint64_t)e->st.st_size;
	struct repo_inode inode, prev;
	bool unchanged, reused = false;
	int rc = 0;

	inode_from_stat(&inode, ino, parent, e->name, &e->st);
	inode.size = size;
	unchanged = file_unchanged(wk, &e->st, prev_ino, &prev);
	if (size > 0 && size <= c->small_max) {
		struct pack_small_file f = {
		    .path = xstrdup(rel),
		    .inode = inode,
		    .dev = e->st.st_dev,
		    .ino = e->st.st_ino,
		};

		if (unchanged && prev.extent_count == 1 &&
		    prev.extents[0].length == size) {
			f.unchanged = true;
			f.prev_chunk = prev.extents[0].chunk;
			f.prev_offset = prev.extents[0].offset;
			f.inode.sha256 = prev.sha256;
		}
		if (unchanged)
			repo_inode_release(&prev);
		return pack_small_add(wk->small, &f);
	}
	if (unchanged) {
		rc = large_reuse(wk, &inode, &prev, &reused);
		repo_inode_release(&prev);
	}
	if (!rc && !reused)
		rc = large_read(wk, dirfd, path, e, &inode);
	return rc;
}

static int pack_symlink(struct walk *wk, int dirfd, const char *path,
			const struct pack_entry *e, uint64_t ino,
			uint64_t parent)
{
	struct repo_inode li;
	char *target = NULL;
	const char *why;
	int rc;

	rc = pack_symlink_read(dirfd, e->name, path, &target);
	if (rc)
		return rc;
	/* the tree may have changed since it was checked */
	why = pack_symlink_escape_reason(target, wk->depth);
	if (why) {
		log_error("'%s': symlink to '%s' refused: %s", path, target,
			  why);
		rc = -EINVAL;
	} else {
		inode_from_stat(&li, ino, parent, e->name, &e->st);
		li.target = target;
		li.size = strlen(target);
		rc = pack_records_put(wk->c->records, &li);
		wk->c->stats->symlinks++;
	}
	free(target);
	return rc;
}

/* The child name of prev_dir in the previous catalog, if of type. */
static uint64_t prev_child(struct walk *wk, uint64_t prev_dir, const char *name,
			   mode_t type)
{
	uint64_t ino;
	uint32_t t;

	if (!prev_dir || !wk->c->prev ||
	    repo_catalog_lookup(wk->c->prev, prev_dir, name, strlen(name), &ino,
				&t) != 0 ||
	    t != (uint32_t)type)
		return 0;
	return ino;
}

static int pack_dir(struct walk *wk, int fd, const char *path, const char *rel,
		    uint64_t ino, uint64_t parent, const char *name,
		    const struct stat *st, uint64_t prev_ino);

/* Entry i of a directory: child inode cino, its path and rel built. */
static int pack_child(struct walk *wk, int fd, const char *path,
		      const char *rel, const struct pack_entry *e,
		      uint64_t cino, uint64_t ino, uint64_t prev_ino)
{
	char *child = xasprintf("%s/%s", path, e->name);
	char *crel = *rel ? xasprintf("%s/%s", rel, e->name) : xstrdup(e->name);
	mode_t type = e->st.st_mode & S_IFMT;
	uint64_t pino = prev_child(wk, prev_ino, e->name, type);
	int sub, rc;

	if (++wk->since_trim >= PREV_TRIM_EVERY && wk->c->prev) {
		repo_catalog_trim(wk->c->prev);
		wk->since_trim = 0;
	}
	if (S_ISREG(e->st.st_mode)) {
		rc = pack_file(wk, fd, child, crel, e, cino, ino, pino);
	} else if (S_ISLNK(e->st.st_mode)) {
		rc = pack_symlink(wk, fd, child, e, cino, ino);
	} else if (S_ISDIR(e->st.st_mode)) {
		sub = openat(fd, e->name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = -errno;
			log_error("'%s': cannot open directory: %s", child,
				  strerror(errno));
		} else {
			wk->depth++;
			rc = pack_dir(wk, sub, child, crel, cino, ino, e->name,
				      &e->st, pino);
			wk->depth--;
			close(sub);
		}
	} else {
		log_error("'%s': special file refused", child);
		rc = -EINVAL;
	}
	free(child);
	free(crel);
	return rc;
}

/* The directory's own inode and its entries' dirents and state records. */
static int dir_records(struct walk *wk, uint64_t ino, uint64_t parent,
		       const char *name, const struct stat *st,
		       const struct pack_entry *e, size_t n, uint64_t first)
{
	struct pack_dataset_ctx *c = wk->c;
	struct pack_state_record *recs = xcalloc(n ? n : 1, sizeof(*recs));
	struct repo_inode inode;
	uint32_t subdirs = 0;
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++) {
		rc = pack_records_dirent(c->records, ino, e[i].name, first + i,
					 e[i].st.st_mode & S_IFMT);
		subdirs += S_ISDIR(e[i].st.st_mode);
		state_record(c, &e[i].st, &recs[i]);
	}
	if (c->state_out && n)
		pack_state_writer_records(c->state_out, first, recs, n);
	free(recs);
	inode_from_stat(&inode, ino, parent, name, st);
	inode.nlink = 2 + subdirs;
	inode.size = (uint64_t)st->st_size;
	if (ino == REPO_ROOT_INO) {
		c->d->root_size = inode.size;
		c->d->root_mode = inode.mode;
		c->d->root_nlink = inode.nlink;
		c->d->mtime_sec = inode.mtime_sec;
		c->d->mtime_nsec = inode.mtime_nsec;
	}
	if (!rc)
		rc = pack_records_put(c->records, &inode);
	c->stats->dirs++;
	return rc;
}

static int pack_dir(struct walk *wk, int fd, const char *path, const char *rel,
		    uint64_t ino, uint64_t parent, const char *name,
		    const struct stat *st, uint64_t prev_ino)
{
	struct pack_entry *e = NULL;
	uint64_t first;
	size_t n = 0;
	int rc;

	rc = pack_dir_list(fd, path, &e, &n);
	if (rc)
		return rc;
	/* children get consecutive inodes in name order (FORMAT.md §9.3) */
	first = wk->next_ino;
	wk->next_ino += n;
	rc = dir_records(wk, ino, parent, name, st, e, n, first);
	for (size_t i = 0; !rc && i < n; i++)
		rc = pack_child(wk, fd, path, rel, &e[i], first + i, ino,
				prev_ino);
	pack_entries_free(e, n);
	return rc;
}

int pack_dataset_walk(const char *src_dir, struct pack_dataset_ctx *c)
{
	struct walk wk = {
	    .c = c,
	    .next_ino = REPO_ROOT_INO + 1,
	};
	struct stat st;
	int fd, rc;

	fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		log_error("'%s': %s", src_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* the pipeline's buffers hold chunk_size; pieces are no larger */
	wk.readbuf = xmalloc(c->chunk_size);
	wk.small = pack_small_new(c, fd, src_dir);
	rc = pack_dir(&wk, fd, src_dir, "", REPO_ROOT_INO, REPO_ROOT_INO, "",
		      &st, c->prev ? REPO_ROOT_INO : 0);
	if (!rc)
		rc = pack_small_finish(wk.small);
	c->inodes = wk.next_ino - 1;
	pack_small_free(wk.small);
	free(wk.readbuf);
	close(fd);
	return rc;
}

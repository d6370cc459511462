/* Walking one dataset's source tree for `aidata pack`. */
#define _GNU_SOURCE
#include "pack_int.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define TREE_DEPTH_MAX 256
#define SYMLINK_TARGET_MAX 4096

struct entry {
	char *name;
	struct stat st;
};

struct pending_small {
	struct repo_inode inode;
	uint32_t offset;
};

struct walk {
	const struct pack_tree_options *o;
	struct pack_pipeline *pp;
	repo_catalog_writer_t *w;
	struct repo_dataset *d;
	struct pack_stats *stats;
	struct pack_progress *progress;
	uint64_t next_ino;
	uint8_t *readbuf;
	uint8_t *shared; /* small files packed into one chunk */
	size_t shared_len;
	struct pending_small *pending;
	size_t npending, apending;
	int depth; /* of the directory being packed, below the dataset */
};

double pack_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void pack_progress_draw(struct pack_progress *p, const struct pack_stats *s,
			bool final)
{
	char done[32], total[32], rate[32];
	double now = pack_now(), elapsed, bps, frac;
	int width = 30, filled;

	if (!p->tty || (!final && now - p->last_draw < 0.2))
		return;
	p->last_draw = now;
	elapsed = now - p->started;
	bps = elapsed > 0 ? s->bytes_in / elapsed : 0;
	frac = p->total_bytes ? (double)s->bytes_in / p->total_bytes : 1;
	if (frac > 1)
		frac = 1;
	filled = (int)(frac * width);
	units_format_size((double)s->bytes_in, done, sizeof(done));
	units_format_size((double)p->total_bytes, total, sizeof(total));
	units_format_size(bps, rate, sizeof(rate));
	fprintf(stderr, "\r[%.*s%*s] %s / %s  %s/s  ", filled,
		"##############################", width - filled, "", done,
		total, rate);
	if (!final && bps > 0)
		fprintf(stderr, "ETA %.0fs   ",
			(p->total_bytes - s->bytes_in) / bps);
	else
		fprintf(stderr, "%.1fs        ", elapsed);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

static void entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* Read, validate and sort one directory's entries. */
static int list_dir(int fd, const char *path, struct entry **out, size_t *count)
{
	struct entry *e = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int rc = 0, dup_fd = dup(fd);
	DIR *dir;

	if (dup_fd < 0)
		return -errno;
	dir = fdopendir(dup_fd);
	if (!dir) {
		rc = -errno;
		close(dup_fd);
		return rc;
	}
	for (;;) {
		const char *why;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				rc = -errno;
				fprintf(stderr,
					"aidata pack: '%s': cannot read "
					"directory: %s\n",
					path, strerror(errno));
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		why = repo_name_invalid_reason(de->d_name, strlen(de->d_name));
		if (why) {
			/* never print raw control bytes to a terminal */
			char *en = log_escape(de->d_name);

			fprintf(stderr,
				"aidata pack: '%s/%s': invalid name: %s\n",
				path, en, why);
			free(en);
			rc = -EINVAL;
			break;
		}
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			e = xrealloc(e, alloc * sizeof(*e));
		}
		e[n].name = xstrdup(de->d_name);
		if (fstatat(fd, de->d_name, &e[n].st, AT_SYMLINK_NOFOLLOW)) {
			rc = -errno;
			fprintf(stderr, "aidata pack: '%s/%s': %s\n", path,
				de->d_name, strerror(errno));
			free(e[n].name);
			break;
		}
		n++;
	}
	closedir(dir);
	if (rc) {
		entries_free(e, n);
		return rc;
	}
	qsort(e, n, sizeof(*e), entry_cmp);
	*out = e;
	*count = n;
	return 0;
}

/*
 * A symlink is kept only if its target stays inside the dataset: relative,
 * with ".." only as leading components, never climbing above the root.
 * Every symlink is checked, so a chain of them stays inside as well.
 */
static const char *symlink_escape_reason(const char *target, int depth)
{
	const char *p = target;
	bool seen_normal = false;

	if (target[0] == '/')
		return "absolute target leaves the dataset";
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (seen_normal)
				return "'..' after a directory name";
			if (--depth < 0)
				return "target leaves the dataset";
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			seen_normal = true;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return NULL;
}

static int read_symlink(int dirfd, const char *name, const char *path,
			const struct stat *st, char **out)
{
	char *buf = xmalloc(SYMLINK_TARGET_MAX + 1);
	ssize_t n = readlinkat(dirfd, name, buf, SYMLINK_TARGET_MAX + 1);

	if (n < 0) {
		int rc = -errno;

		fprintf(stderr, "aidata pack: '%s': cannot read symlink: %s\n",
			path, strerror(errno));
		free(buf);
		return rc;
	}
	if (n == 0 || n > SYMLINK_TARGET_MAX) {
		fprintf(stderr,
			"aidata pack: '%s': symlink target empty or "
			"too long\n",
			path);
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	(void)st;
	*out = buf;
	return 0;
}

static int check_entry(int dirfd, const char *path, const struct entry *e,
		       int depth)
{
	char *target = NULL;
	const char *why;
	int rc;

	switch (e->st.st_mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
		return 0;
	case S_IFLNK:
		rc = read_symlink(dirfd, e->name, path, &e->st, &target);
		if (rc)
			return rc;
		why = symlink_escape_reason(target, depth);
		if (why)
			fprintf(stderr,
				"aidata pack: '%s': symlink to '%s' refused: "
				"%s\n",
				path, target, why);
		free(target);
		return why ? -EINVAL : 0;
	default:
		fprintf(stderr,
			"aidata pack: '%s': special file (device, fifo or "
			"socket) refused: only regular files, directories "
			"and symlinks are packed\n",
			path);
		return -EINVAL;
	}
}

static int check_dir(int fd, const char *path, int depth,
		     struct pack_progress *progress)
{
	struct entry *e = NULL;
	size_t n = 0;
	int rc;

	if (depth > TREE_DEPTH_MAX) {
		fprintf(stderr, "aidata pack: '%s': tree deeper than %d\n",
			path, TREE_DEPTH_MAX);
		return -ELOOP;
	}
	rc = list_dir(fd, path, &e, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		char *child = xasprintf("%s/%s", path, e[i].name);

		rc = check_entry(fd, child, &e[i], depth);
		if (!rc && S_ISREG(e[i].st.st_mode)) {
			progress->total_files++;
			progress->total_bytes += (uint64_t)e[i].st.st_size;
		}
		if (!rc && S_ISDIR(e[i].st.st_mode)) {
			int sub = openat(fd, e[i].name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub < 0) {
				rc = -errno;
				fprintf(stderr,
					"aidata pack: '%s': cannot open "
					"directory: %s\n",
					child, strerror(errno));
			} else {
				rc = check_dir(sub, child, depth + 1, progress);
				close(sub);
			}
		}
		free(child);
	}
	entries_free(e, n);
	return rc;
}

int pack_tree_check(const char *src_dir, struct pack_progress *progress)
{
	int fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "aidata pack: '%s': %s\n", src_dir,
			strerror(errno));
		return rc;
	}
	rc = check_dir(fd, src_dir, 0, progress);
	close(fd);
	return rc;
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

static int flush_shared(struct walk *wk)
{
	uint32_t id;
	int rc = 0;

	if (wk->shared_len == 0)
		goto out;
	rc = pack_pipeline_add(wk->pp, wk->shared, wk->shared_len, &id);
	for (size_t i = 0; !rc && i < wk->npending; i++) {
		struct pending_small *ps = &wk->pending[i];
		struct repo_extent ext = {id, ps->offset,
					  (uint32_t)ps->inode.size};

		ps->inode.extent_count = 1;
		ps->inode.extents = &ext;
		rc = repo_catalog_writer_inode(wk->w, &ps->inode);
		ps->inode.extents = NULL;
	}
out:
	for (size_t i = 0; i < wk->npending; i++)
		free(wk->pending[i].inode.name);
	wk->npending = 0;
	wk->shared_len = 0;
	return rc;
}

/* Read exactly n bytes or report that the file changed under us. */
static int read_exact(int fd, uint8_t *p, size_t n, const char *path)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			fprintf(stderr, "aidata pack: '%s': read error: %s\n",
				path, strerror(errno));
			return rc;
		}
		if (r == 0) {
			fprintf(stderr,
				"aidata pack: '%s': file shrank while being "
				"packed\n",
				path);
			return -EIO;
		}
		got += (size_t)r;
	}
	return 0;
}

static int pack_file(struct walk *wk, int dirfd, const char *path,
		     const struct entry *e, uint64_t ino, uint64_t parent)
{
	uint64_t size = (uint64_t)e->st.st_size, done = 0;
	sha256_ctx_t *sha = sha256_new();
	struct repo_extent *ext = NULL;
	size_t next = 0, ext_alloc = 0;
	struct repo_inode inode;
	uint8_t probe;
	int fd, rc = 0;

	inode_from_stat(&inode, ino, parent, e->name, &e->st);
	inode.size = size;
	fd = openat(dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "aidata pack: '%s': cannot read: %s\n", path,
			strerror(errno));
		goto out;
	}
	if (size > 0 && size <= wk->o->small_max) {
		struct pending_small *ps;

		if (wk->shared_len + size > wk->o->chunk_size) {
			rc = flush_shared(wk);
			if (rc)
				goto out;
		}
		rc = read_exact(fd, wk->shared + wk->shared_len, (size_t)size,
				path);
		if (rc)
			goto out;
		sha256_update(sha, wk->shared + wk->shared_len, (size_t)size);
		if (wk->npending == wk->apending) {
			wk->apending = wk->apending ? 2 * wk->apending : 256;
			wk->pending = xrealloc(
			    wk->pending, wk->apending * sizeof(*wk->pending));
		}
		ps = &wk->pending[wk->npending++];
		ps->inode = inode;
		ps->inode.name = xstrdup(e->name);
		ps->offset = (uint32_t)wk->shared_len;
		wk->shared_len += (size_t)size;
		done = size;
	}
	while (done < size) {
		size_t n = size - done < wk->o->chunk_size
			       ? (size_t)(size - done)
			       : wk->o->chunk_size;
		uint32_t id;

		rc = read_exact(fd, wk->readbuf, n, path);
		if (rc)
			goto out;
		sha256_update(sha, wk->readbuf, n);
		rc = pack_pipeline_add(wk->pp, wk->readbuf, n, &id);
		if (rc)
			goto out;
		if (next == ext_alloc) {
			ext_alloc = ext_alloc ? 2 * ext_alloc : 16;
			ext = xrealloc(ext, ext_alloc * sizeof(*ext));
		}
		ext[next++] = (struct repo_extent){id, 0, (uint32_t)n};
		done += n;
		wk->stats->bytes_in += n;
		pack_progress_draw(wk->progress, wk->stats, false);
	}
	if (read(fd, &probe, 1) != 0) {
		fprintf(stderr,
			"aidata pack: '%s': file grew while being "
			"packed\n",
			path);
		rc = -EIO;
		goto out;
	}
	if (size <= wk->o->small_max && size > 0) {
		sha256_final(sha, &wk->pending[wk->npending - 1].inode.sha256);
		wk->stats->bytes_in += size;
	} else {
		sha256_final(sha, &inode.sha256);
		inode.extents = ext;
		inode.extent_count = (uint32_t)next;
		rc = repo_catalog_writer_inode(wk->w, &inode);
	}
	wk->stats->files++;
	wk->d->files++;
	wk->d->bytes += size;
out:
	if (fd >= 0)
		close(fd);
	free(ext);
	sha256_free(sha);
	return rc;
}

static int pack_dir(struct walk *wk, int fd, const char *path, uint64_t ino,
		    uint64_t parent, const char *name, const struct stat *st)
{
	struct entry *e = NULL;
	struct repo_inode inode;
	uint64_t first;
	size_t n = 0;
	uint32_t subdirs = 0;
	int rc;

	rc = list_dir(fd, path, &e, &n);
	if (rc)
		return rc;
	/* children get consecutive inodes in name order (FORMAT.md) */
	first = wk->next_ino;
	wk->next_ino += n;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = repo_catalog_writer_dirent(wk->w, ino, e[i].name,
						strlen(e[i].name), first + i,
						e[i].st.st_mode & S_IFMT);
		subdirs += S_ISDIR(e[i].st.st_mode);
	}
	inode_from_stat(&inode, ino, parent, name, st);
	inode.nlink = 2 + subdirs;
	inode.size = (uint64_t)st->st_size;
	if (ino == REPO_ROOT_INO) {
		wk->d->root_size = inode.size;
		wk->d->root_mode = inode.mode;
		wk->d->root_nlink = inode.nlink;
		wk->d->mtime_sec = inode.mtime_sec;
		wk->d->mtime_nsec = inode.mtime_nsec;
	}
	if (!rc)
		rc = repo_catalog_writer_inode(wk->w, &inode);
	wk->stats->dirs++;
	for (size_t i = 0; !rc && i < n; i++) {
		char *child = xasprintf("%s/%s", path, e[i].name);
		uint64_t cino = first + i;

		if (S_ISREG(e[i].st.st_mode)) {
			rc = pack_file(wk, fd, child, &e[i], cino, ino);
		} else if (S_ISLNK(e[i].st.st_mode)) {
			struct repo_inode li;
			char *target = NULL;

			rc = read_symlink(fd, e[i].name, child, &e[i].st,
					  &target);
			/* the tree may have changed since it was checked */
			if (!rc && symlink_escape_reason(target, wk->depth)) {
				fprintf(
				    stderr,
				    "aidata pack: '%s': symlink to '%s' "
				    "refused: %s\n",
				    child, target,
				    symlink_escape_reason(target, wk->depth));
				rc = -EINVAL;
			}
			if (!rc) {
				inode_from_stat(&li, cino, ino, e[i].name,
						&e[i].st);
				li.target = target;
				li.size = strlen(target);
				rc = repo_catalog_writer_inode(wk->w, &li);
				wk->stats->symlinks++;
			}
			free(target);
		} else if (S_ISDIR(e[i].st.st_mode)) {
			int sub = openat(fd, e[i].name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub < 0) {
				rc = -errno;
				fprintf(stderr,
					"aidata pack: '%s': cannot open "
					"directory: %s\n",
					child, strerror(errno));
			} else {
				wk->depth++;
				rc = pack_dir(wk, sub, child, cino, ino,
					      e[i].name, &e[i].st);
				wk->depth--;
				close(sub);
			}
		} else {
			fprintf(stderr,
				"aidata pack: '%s': special file "
				"refused\n",
				child);
			rc = -EINVAL;
		}
		free(child);
	}
	entries_free(e, n);
	return rc;
}

int pack_tree_dataset(const char *src_dir, const struct pack_tree_options *o,
		      struct pack_pipeline *pp, repo_catalog_writer_t *w,
		      struct repo_dataset *d, struct pack_stats *stats,
		      struct pack_progress *progress)
{
	struct walk wk = {
	    .o = o,
	    .pp = pp,
	    .w = w,
	    .d = d,
	    .stats = stats,
	    .progress = progress,
	    .next_ino = REPO_ROOT_INO + 1,
	};
	struct stat st;
	int fd, rc;

	fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		fprintf(stderr, "aidata pack: '%s': %s\n", src_dir,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	wk.readbuf = xmalloc(o->chunk_size);
	wk.shared = xmalloc(o->chunk_size);
	rc = pack_dir(&wk, fd, src_dir, REPO_ROOT_INO, REPO_ROOT_INO, "", &st);
	if (!rc)
		rc = flush_shared(&wk);
	for (size_t i = 0; i < wk.npending; i++)
		free(wk.pending[i].inode.name);
	free(wk.pending);
	free(wk.readbuf);
	free(wk.shared);
	close(fd);
	return rc;
}

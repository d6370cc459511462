/*
 * Small files (1 .. chunk_size/4 bytes) are packed together: they wait in
 * traversal order until pack_group.c closes their group, then the group
 * becomes one chunk. A group whose files are all unchanged and were, in
 * the same order, exactly one chunk of the revision being extended keeps
 * that chunk without a byte being read; any other group is read.
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

struct pack_small {
	struct pack_dataset_ctx *c;
	int root_fd;
	const char *root_path;
	struct pack_group *group;
	struct pack_small_file *files; /* waiting: files[head .. head+count) */
	size_t head, count, alloc;
	uint8_t *buf; /* one chunk */
};

struct pack_small *pack_small_new(struct pack_dataset_ctx *c, int root_fd,
				  const char *root_path)
{
	struct pack_small *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->root_fd = root_fd;
	s->root_path = root_path;
	s->group = pack_group_new(c->chunk_size);
	s->buf = xmalloc(c->chunk_size);
	return s;
}

static void file_release(struct pack_small_file *f)
{
	free(f->path);
	f->path = NULL;
}

void pack_small_free(struct pack_small *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++)
		file_release(&s->files[s->head + i]);
	pack_group_free(s->group);
	free(s->files);
	free(s->buf);
	free(s);
}

/*
 * Whether files (n, total bytes) were, in this order, exactly the old
 * chunk they all point to; then *rec is that chunk's record.
 */
static bool group_unchanged(struct pack_small *s,
			    const struct pack_small_file *files, size_t n,
			    uint64_t total, struct repo_chunk *rec)
{
	uint64_t offset = 0;

	for (size_t i = 0; i < n; i++) {
		if (!files[i].unchanged ||
		    files[i].prev_chunk != files[0].prev_chunk ||
		    files[i].prev_offset != offset)
			return false;
		offset += files[i].inode.size;
	}
	return repo_catalog_chunk(s->c->prev, files[0].prev_chunk, rec) == 0 &&
	       rec->size == total;
}

/* Read one waiting file into p (its size), checking it is the one listed. */
static int file_read(struct pack_small *s, struct pack_small_file *f,
		     uint8_t *p)
{
	char *path = xasprintf("%s/%s", s->root_path, f->path);
	struct stat listed = {
	    .st_dev = f->dev,
	    .st_ino = f->ino,
	    .st_size = (off_t)f->inode.size,
	};
	int fd = -1, rc;

	rc = pack_file_open(s->root_fd, f->path, path, &listed, &fd);
	if (!rc)
		rc = pack_file_read(fd, p, (size_t)f->inode.size, path);
	if (!rc)
		rc = pack_file_end(fd, path);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* The first n waiting files are a group: make it one chunk. */
static int group_pack(struct pack_small *s, size_t n)
{
	struct pack_dataset_ctx *c = s->c;
	struct pack_small_file *files = &s->files[s->head];
	struct pack_record *first = NULL;
	struct pack_chunk_sink sink;
	struct repo_chunk rec;
	uint64_t total = 0, offset = 0;
	bool unchanged;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		total += files[i].inode.size;
	unchanged = c->prev && group_unchanged(s, files, n, total, &rec);
	for (size_t i = 0; !unchanged && !rc && i < n; i++) {
		rc = file_read(s, &files[i], s->buf + offset);
		offset += files[i].inode.size;
		c->stats->bytes_in += files[i].inode.size;
	}
	offset = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		struct pack_record *e;

		rc = pack_records_file(c->records, &files[i].inode, 1,
				       unchanged, &e);
		if (rc)
			break;
		pack_record_extents(e)[0] = (struct repo_extent){
		    0, (uint32_t)offset, (uint32_t)files[i].inode.size};
		offset += files[i].inode.size;
		if (!first)
			first = e;
	}
	if (!rc) {
		/* a read group's digests are made on the workers */
		pack_records_group(first, (uint32_t)n, !unchanged);
		pack_records_sink(first, &sink);
		rc = unchanged ? pack_pipeline_reuse(c->pp, &rec, &sink)
			       : pack_pipeline_add(c->pp, &s->buf,
						   (size_t)total, &sink);
	}
	if (!rc)
		rc = pack_records_built(first);
	for (size_t i = 0; i < n; i++)
		file_release(&files[i]);
	s->head += n;
	s->count -= n;
	return rc;
}

int pack_small_add(struct pack_small *s, struct pack_small_file *f)
{
	struct pack_small_file *slot;
	const char *slash;
	struct digest key;
	size_t n;
	int rc = 0;

	if (s->head + s->count == s->alloc) {
		if (s->head > 0) {
			memmove(s->files, s->files + s->head,
				s->count * sizeof(*s->files));
			s->head = 0;
		}
		if (s->count == s->alloc) {
			s->alloc = s->alloc ? 2 * s->alloc : 256;
			s->files =
			    xrealloc(s->files, s->alloc * sizeof(*s->files));
		}
	}
	slot = &s->files[s->head + s->count++];
	*slot = *f;
	/* the listing that named it is gone by the time the group closes */
	slash = strrchr(slot->path, '/');
	slot->inode.name = slash ? (char *)slash + 1 : slot->path;
	pack_group_key(slot->path, &key);
	pack_group_push(s->group, &key, slot->inode.size);
	while (!rc && pack_group_take(s->group, &n))
		rc = group_pack(s, n);
	return rc;
}

int pack_small_finish(struct pack_small *s)
{
	size_t n = pack_group_finish(s->group);

	return n ? group_pack(s, n) : 0;
}

/*
 * The pack state: what the publisher remembers of its source files, so
 * that a re-pack need not read a file that did not change (git's index,
 * restic's parent snapshot). It is local to the publisher, never part of
 * the repository (host inode numbers are nobody else's business), and
 * losing it only costs the next pack a full read.
 *
 * One file, <dir>/pack-state, describing exactly one revision: the root
 * catalog digest and chunk size it was packed with, then per dataset (its
 * catalog digest, tier and a fingerprint of its key) one 32-byte record
 * per inode number of that catalog: the device, inode number and ctime
 * the file had when it was listed. Size and mtime are in the catalog.
 * All integers little-endian:
 *
 *   header (96 bytes): magic "aidata-pack-state 1\n" (24 bytes, zero
 *     padded), u32 chunk size, u32 dataset count, u64 directory offset,
 *     root catalog digest (32), 24 reserved zero bytes
 *   records: u64 dev, u64 ino, i64 ctime_sec, u32 ctime_nsec, u32 flags
 *   directory: per dataset u32 name length, name, catalog digest (32),
 *     u32 tier, key fingerprint (32), u64 records offset, u64 count
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "banned.h"

#define STATE_FILE "pack-state"
#define STATE_MAGIC "aidata-pack-state 1\n"
#define MAGIC_LEN 24
#define HEADER_LEN 96
#define RECORD_LEN 32
#define DIRECTORY_MAX (64u << 20)
#define WINDOW_RECORDS 2048 /* records read at once */

struct section {
	char *name;
	struct digest catalog;
	uint32_t tier;
	struct digest fingerprint;
	uint64_t offset, count;
};

struct pack_state {
	int fd;
	char *path;
	struct section *sections;
	size_t count;
	const struct section *selected;
	uint8_t *window; /* records [window_first, window_first + window_n) */
	uint64_t window_first, window_n;
};

struct pack_state_writer {
	int fd;	     /* -1 once failed or committed */
	bool failed; /* and said so */
	char *dir, *tmp, *path;
	uint32_t chunk_size;
	struct section *sections;
	size_t count;
	uint64_t end; /* where the current dataset's records start */
	bool open;    /* a dataset begun */
};

void pack_state_key_fingerprint(const uint8_t key[PUBLISH_DATASET_KEY_LEN],
				struct digest *out)
{
	sha256_ctx_t *sha = sha256_new();

	sha256_update(sha, "aidata-pack-state-key", 22);
	sha256_update(sha, key, PUBLISH_DATASET_KEY_LEN);
	sha256_final(sha, out);
	sha256_free(sha);
}

static void sections_free(struct section *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].name);
	free(s);
}

/* ---------------------------------------------------------- reading -- */

static int read_at(int fd, void *p, size_t n, uint64_t off)
{
	return fs_pread_all(fd, p, n, (off_t)off);
}

/* Parse the directory: 0, or -EINVAL when malformed. */
static int directory_parse(struct pack_state *s, const uint8_t *p, size_t len,
			   uint32_t count, uint64_t records_end)
{
	size_t at = 0;

	/* an entry takes at least 89 bytes: a corrupt count allocates nothing
	 */
	if (count > len / (4 + 1 + 2 * DIGEST_LEN + 4 + 16))
		return -EINVAL;
	s->sections = xcalloc(count ? count : 1, sizeof(*s->sections));
	for (uint32_t i = 0; i < count; i++) {
		struct section *sec = &s->sections[i];
		uint32_t n;

		if (len - at < 4)
			return -EINVAL;
		n = load_le32(p + at);
		at += 4;
		if (n == 0 || n > REPO_NAME_MAX ||
		    len - at < (size_t)n + 2 * DIGEST_LEN + 4 + 16)
			return -EINVAL;
		sec->name = xstrndup((const char *)p + at, n);
		at += n;
		memcpy(sec->catalog.b, p + at, DIGEST_LEN);
		at += DIGEST_LEN;
		sec->tier = load_le32(p + at);
		at += 4;
		memcpy(sec->fingerprint.b, p + at, DIGEST_LEN);
		at += DIGEST_LEN;
		sec->offset = load_le64(p + at);
		sec->count = load_le64(p + at + 8);
		at += 16;
		s->count++;
		if (sec->offset < HEADER_LEN || sec->offset > records_end ||
		    sec->count > (records_end - sec->offset) / RECORD_LEN)
			return -EINVAL;
	}
	return at == len ? 0 : -EINVAL;
}

/* 0 and the state, or a reason it is not the state of this revision. */
static const char *state_load(struct pack_state *s, const struct digest *root,
			      uint32_t chunk_size)
{
	uint8_t h[HEADER_LEN], *dir = NULL;
	struct stat st;
	uint64_t dir_off;
	const char *why = NULL;

	if (fstat(s->fd, &st) != 0 || read_at(s->fd, h, HEADER_LEN, 0) != 0 ||
	    memcmp(h, STATE_MAGIC, sizeof(STATE_MAGIC) - 1) != 0)
		return "not a pack state file";
	if (load_le32(h + 24) != chunk_size)
		return "packed with another chunk size";
	if (memcmp(h + 40, root->b, DIGEST_LEN) != 0)
		return "describes another revision";
	dir_off = load_le64(h + 32);
	if (dir_off < HEADER_LEN || dir_off > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - dir_off > DIRECTORY_MAX)
		return "malformed";
	dir = xmalloc((size_t)((uint64_t)st.st_size - dir_off) + 1);
	if (read_at(s->fd, dir, (size_t)((uint64_t)st.st_size - dir_off),
		    dir_off) != 0 ||
	    directory_parse(s, dir, (size_t)((uint64_t)st.st_size - dir_off),
			    load_le32(h + 28), dir_off) != 0)
		why = "malformed";
	free(dir);
	return why;
}

struct pack_state *pack_state_open(const char *dir, const struct digest *root,
				   uint32_t chunk_size)
{
	struct pack_state *s = xcalloc(1, sizeof(*s));
	const char *why;

	s->path = xasprintf("%s/%s", dir, STATE_FILE);
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		if (errno == ENOENT)
			log_info("no pack state '%s' for this repository: "
				 "every file is read",
				 s->path);
		else
			log_warn("pack state '%s': %s: every file is read",
				 s->path, strerror(errno));
		pack_state_free(s);
		return NULL;
	}
	why = state_load(s, root, chunk_size);
	if (why) {
		log_info("pack state '%s' %s: every file is read", s->path,
			 why);
		pack_state_free(s);
		return NULL;
	}
	s->window = xmalloc(WINDOW_RECORDS * RECORD_LEN);
	return s;
}

void pack_state_free(struct pack_state *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	sections_free(s->sections, s->count);
	free(s->window);
	free(s->path);
	free(s);
}

bool pack_state_dataset(struct pack_state *s,
			const struct pack_state_dataset_key *key)
{
	s->selected = NULL;
	s->window_n = 0;
	for (size_t i = 0; i < s->count; i++) {
		const struct section *sec = &s->sections[i];

		if (!strcmp(sec->name, key->name) &&
		    digest_equal(&sec->catalog, &key->catalog) &&
		    sec->tier == key->tier &&
		    digest_equal(&sec->fingerprint, &key->fingerprint))
			s->selected = sec;
	}
	return s->selected != NULL;
}

bool pack_state_lookup(struct pack_state *s, uint64_t ino,
		       struct pack_state_record *rec)
{
	const struct section *sec = s->selected;
	const uint8_t *p;

	if (!sec || ino == 0 || ino > sec->count)
		return false;
	if (ino < s->window_first || ino >= s->window_first + s->window_n) {
		/* inodes are looked up roughly in order: read ahead */
		uint64_t n = sec->count - (ino - 1);

		if (n > WINDOW_RECORDS)
			n = WINDOW_RECORDS;
		s->window_n = 0;
		if (read_at(s->fd, s->window, (size_t)n * RECORD_LEN,
			    sec->offset + (ino - 1) * RECORD_LEN) != 0)
			return false;
		s->window_first = ino;
		s->window_n = n;
	}
	p = s->window + (ino - s->window_first) * RECORD_LEN;
	rec->dev = load_le64(p);
	rec->ino = load_le64(p + 8);
	rec->ctime_sec = (int64_t)load_le64(p + 16);
	rec->ctime_nsec = load_le32(p + 24);
	rec->flags = load_le32(p + 28);
	return true;
}

/* ---------------------------------------------------------- writing -- */

static int write_at(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t r = pwrite(fd, c, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static void writer_fail(struct pack_state_writer *w, const char *what, int rc)
{
	if (w->failed)
		return;
	w->failed = true;
	log_warn("pack state '%s': %s: %s; the next pack will read every "
		 "file",
		 w->path, what, strerror(-rc));
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
		w->fd = -1;
	}
}

/*
 * Remove the temporaries of packs that died before their commit. Each
 * writer holds an exclusive flock on its own temporary for as long as it
 * lives (the kernel drops it with the process), so one that can be locked
 * is a dead pack's.
 */
static void remove_stale_temps(const char *dir)
{
	static const char prefix[] = "." STATE_FILE ".";
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd;

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

void pack_state_writer_new(const char *dir, uint32_t chunk_size,
			   struct pack_state_writer **out)
{
	struct pack_state_writer *w = xcalloc(1, sizeof(*w));
	int rc;

	w->fd = -1;
	w->dir = xstrdup(dir);
	w->path = xasprintf("%s/%s", dir, STATE_FILE);
	w->tmp = xasprintf("%s/.%s.XXXXXX", dir, STATE_FILE);
	w->chunk_size = chunk_size;
	w->end = HEADER_LEN;
	rc = fs_mkdir_p(dir, 0700);
	if (rc) {
		writer_fail(w, "cannot create the directory", rc);
	} else {
		w->fd = mkostemp(w->tmp, O_CLOEXEC);
		if (w->fd < 0) {
			writer_fail(w, "cannot create", -errno);
		} else if (flock(w->fd, LOCK_EX | LOCK_NB) == 0) {
			/* without flock (some network filesystems) no
			 * temporary is removed: none can be told dead */
			remove_stale_temps(dir);
		}
	}
	*out = w;
}

void pack_state_writer_dataset_begin(struct pack_state_writer *w,
				     const struct pack_state_dataset_key *key)
{
	struct section *sec;

	if (!w)
		return;
	w->sections = xrealloc(w->sections, (w->count + 1) * sizeof(*sec));
	sec = &w->sections[w->count++];
	memset(sec, 0, sizeof(*sec));
	sec->name = xstrdup(key->name);
	sec->tier = key->tier;
	sec->fingerprint = key->fingerprint;
	sec->offset = w->end;
	w->open = true;
}

void pack_state_writer_records(struct pack_state_writer *w, uint64_t first,
			       const struct pack_state_record *recs, size_t n)
{
	struct buf b;
	int rc = 0;

	if (!w || w->failed || w->fd < 0 || !w->open || first == 0)
		return;
	buf_init(&b, n * RECORD_LEN);
	for (size_t i = 0; i < n; i++) {
		buf_put_le64(&b, recs[i].dev);
		buf_put_le64(&b, recs[i].ino);
		buf_put_le64(&b, (uint64_t)recs[i].ctime_sec);
		buf_put_le32(&b, recs[i].ctime_nsec);
		buf_put_le32(&b, recs[i].flags);
	}
	rc = write_at(w->fd, b.data, b.len,
		      w->sections[w->count - 1].offset +
			  (first - 1) * RECORD_LEN);
	buf_release(&b);
	if (rc)
		writer_fail(w, "cannot write", rc);
}

void pack_state_writer_dataset_end(struct pack_state_writer *w,
				   uint64_t inode_count)
{
	struct section *sec;

	if (!w || !w->open)
		return;
	sec = &w->sections[w->count - 1];
	sec->count = inode_count;
	w->end = sec->offset + inode_count * RECORD_LEN;
	w->open = false;
}

void pack_state_writer_catalog(struct pack_state_writer *w, const char *name,
			       const struct digest *catalog)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->count; i++)
		if (!strcmp(w->sections[i].name, name))
			w->sections[i].catalog = *catalog;
}

void pack_state_writer_commit(struct pack_state_writer *w,
			      const struct digest *root)
{
	static const uint8_t zero[HEADER_LEN];
	struct buf dir, h;
	int rc = 0;

	if (!w || w->failed || w->fd < 0)
		return;
	buf_init(&dir, DIRECTORY_MAX);
	for (size_t i = 0; !rc && i < w->count; i++) {
		const struct section *sec = &w->sections[i];

		rc = buf_put_lstring(&dir, sec->name, strlen(sec->name));
		rc = rc ? rc : buf_append(&dir, sec->catalog.b, DIGEST_LEN);
		rc = rc ? rc : buf_put_le32(&dir, sec->tier);
		rc = rc ? rc : buf_append(&dir, sec->fingerprint.b, DIGEST_LEN);
		rc = rc ? rc : buf_put_le64(&dir, sec->offset);
		rc = rc ? rc : buf_put_le64(&dir, sec->count);
	}
	buf_init(&h, HEADER_LEN);
	buf_append(&h, STATE_MAGIC, sizeof(STATE_MAGIC) - 1);
	buf_append(&h, zero, MAGIC_LEN - (sizeof(STATE_MAGIC) - 1));
	buf_put_le32(&h, w->chunk_size);
	buf_put_le32(&h, (uint32_t)w->count);
	buf_put_le64(&h, w->end);
	buf_append(&h, root->b, DIGEST_LEN);
	buf_append(&h, zero, HEADER_LEN - h.len);
	if (!rc)
		rc = write_at(w->fd, dir.data, dir.len, w->end);
	if (!rc)
		rc = write_at(w->fd, h.data, h.len, 0);
	if (!rc && fsync(w->fd) != 0)
		rc = -errno;
	if (!rc && rename(w->tmp, w->path) != 0)
		rc = -errno;
	buf_release(&dir);
	buf_release(&h);
	if (rc) {
		writer_fail(w, "cannot write", rc);
		return;
	}
	fs_fsync_dir(w->dir);
	close(w->fd);
	w->fd = -1;
}

void pack_state_writer_free(struct pack_state_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	sections_free(w->sections, w->count);
	free(w->dir);
	free(w->tmp);
	free(w->path);
	free(w);
}

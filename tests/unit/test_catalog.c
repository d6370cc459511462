/* Unit tests: catalog writing, unpacking and reading (repo/catalog.c,
 * repo/catalog_write.c). */
#define _GNU_SOURCE
#include "repo.h"
#include "unit.h"

#include <dirent.h>
#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zstd.h>

#include "banned.h"

#define BIG_DIR_ENTRIES 60000 /* more than WRITER_BATCH (50,000) puts */
#define BIG_FIRST_INO 100

static char *tmp;

/* --------------------------------------------------------------- helpers */

static struct digest digest_of(const char *s)
{
	struct digest d;

	sha256_buffer(s, strlen(s), &d);
	return d;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void read_whole(const char *path, char **data, size_t *len)
{
	REQUIRE_RC(fs_read_file(path, (size_t)1 << 30, data, len), 0);
}

/* A new file each time: rewriting through O_TRUNC makes ext4 flush it. */
static void write_whole(const char *path, const void *p, size_t n)
{
	int fd;

	REQUIRE(unlink(path) == 0 || errno == ENOENT);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(fs_write_all(fd, p, n) == 0);
	REQUIRE(close(fd) == 0);
}

/* Names in dir other than those listed; the count of them. */
static int stray_files(const char *dir, const char *const *expected,
		       size_t n_expected)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int stray = 0;

	REQUIRE(d);
	while ((e = readdir(d))) {
		bool known =
		    !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (size_t k = 0; !known && k < n_expected; k++)
			known = !strcmp(e->d_name, expected[k]);
		if (!known) {
			UNIT_FAIL("unexpected file '%s' in %s", e->d_name, dir);
			stray++;
		}
	}
	closedir(d);
	return stray;
}

/*
 * Put key = value (any bytes) into table of the LMDB file at path, going
 * around the catalog writer as a broken publisher could. db_flags:
 * MDB_CREATE, or 0 when the table must be there already. The result of
 * mdb_put (an LMDB error code); the rest must succeed.
 */
static int lmdb_put(const char *path, const char *table, unsigned db_flags,
		    const void *key, size_t key_len, const void *value,
		    size_t value_len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {key_len, (void *)key};
	MDB_val v = {value_len, (void *)value};
	int rc;

	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 4) == 0);
	REQUIRE(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, table, db_flags, &dbi) == 0);
	rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc == 0)
		REQUIRE(mdb_txn_commit(txn) == 0);
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

/* An LMDB file with one table holding key = value. */
static void write_plain_lmdb(const char *path, const char *table,
			     const char *key, const char *value)
{
	REQUIRE(lmdb_put(path, table, MDB_CREATE, key, strlen(key), value,
			 strlen(value)) == 0);
}

/* ------------------------------------------------------ a dataset tree */

struct node {
	uint64_t ino, parent;
	const char *name;
	uint32_t type;
	uint64_t size;
	const char *target;
	uint32_t nlink;
};

/*
 * Children's inodes increase with their names (bytewise), as FORMAT.md
 * requires for readdir resumption.
 */
static const struct node tree[] = {
    {1, 1, "", S_IFDIR, 4096, NULL, 5},
    {2, 1, "docs", S_IFDIR, 4096, NULL, 3},
    {3, 1, "empty", S_IFDIR, 4096, NULL, 2},
    {4, 1, "latest", S_IFLNK, 10, "docs/a.txt", 1},
    {5, 1, "readme.txt", S_IFREG, 0, NULL, 1},
    {6, 1, "\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6", S_IFDIR, 4096,
     NULL, 2},
    {7, 2, "a.txt", S_IFREG, 1000, NULL, 1},
    {8, 2, "b.bin", S_IFREG, 3000, NULL, 1},
    {9, 2, "c link", S_IFLNK, 5, "a.txt", 1},
    {10, 2, "d", S_IFDIR, 4096, NULL, 2},
    {11, 6, "\xe5\x88\xa4\xe5\x86\xb3\xe4\xb9\xa6.txt", S_IFREG, 2048, NULL, 1},
};
#define TREE_LEN (sizeof(tree) / sizeof(tree[0]))
#define CHUNKS 3

static void chunk_of(uint32_t id, struct repo_chunk *c)
{
	char s[32];

	memset(c, 0, sizeof(*c));
	snprintf(s, sizeof(s), "chunk %u", id);
	c->digest = digest_of(s);
	c->shard = digest_of("shard 0");
	c->offset = (uint64_t)id * 4096 + ((uint64_t)1 << 33);
	c->size = 2048 + id;
	c->stored_size = 1000 + id;
	c->flags = id == 1 ? 0 : REPO_CHUNK_ZSTD;
	/* a stored digest for the zstd chunk 2, and for the raw chunk 1,
	 * where the writer leaves it out (FORMAT.md §5.9) */
	if (id >= 1) {
		snprintf(s, sizeof(s), "stored %u", id);
		c->stored_digest = digest_of(s);
		c->has_stored_digest = true;
	}
}

/* The inode of tree node n; extents point into extents_buf. */
static void inode_of(const struct node *n, struct repo_inode *i,
		     struct repo_extent extents_buf[2])
{
	memset(i, 0, sizeof(*i));
	i->ino = n->ino;
	i->parent = n->parent;
	i->name = (char *)n->name;
	i->mode = n->type | (n->type == S_IFLNK ? 0777 : 0644);
	i->nlink = n->nlink;
	i->size = n->size;
	i->mtime_sec = 1700000000 + (int64_t)n->ino;
	i->mtime_nsec = (uint32_t)n->ino * 1000;
	if (n->type == S_IFREG) {
		i->sha256 = digest_of(n->name);
		if (n->size > 2048) { /* spans two chunks */
			extents_buf[0] = (struct repo_extent){0, 0, 2048};
			extents_buf[1] = (struct repo_extent){
			    1, 0, (uint32_t)n->size - 2048};
			i->extent_count = 2;
		} else if (n->size) {
			extents_buf[0] =
			    (struct repo_extent){2, 100, (uint32_t)n->size};
			i->extent_count = 1;
		}
		i->extents = extents_buf;
	}
	if (n->type == S_IFLNK)
		i->target = (char *)n->target;
}

/* Write the tree (in a scrambled order) as a dataset catalog object. */
static void write_dataset_catalog(const char *work, const char *object,
				  struct digest *digest, uint64_t *size)
{
	repo_catalog_writer_t *w = NULL;

	REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
	REQUIRE_RC(repo_catalog_writer_meta(w, "dataset", "legal"), 0);
	for (size_t j = 0; j < TREE_LEN; j++) {
		const struct node *n = &tree[(j * 7 + 3) % TREE_LEN];
		struct repo_extent ext[2];
		struct repo_inode i;

		inode_of(n, &i, ext);
		REQUIRE_RC(repo_catalog_writer_inode(w, &i), 0);
		if (n->ino != REPO_ROOT_INO)
			REQUIRE_RC(repo_catalog_writer_dirent(
				       w, n->parent, n->name, strlen(n->name),
				       n->ino, n->type),
				   0);
	}
	for (uint32_t id = CHUNKS; id-- > 0;) {
		struct repo_chunk c;

		chunk_of(id, &c);
		REQUIRE_RC(repo_catalog_writer_chunk(w, id, &c), 0);
	}
	REQUIRE_RC(repo_catalog_writer_finish(w, object, digest, size), 0);
	repo_catalog_writer_free(w);
	CHECK(!file_exists(work));
}

/* Write, unpack and open a dataset catalog under tmp/name. */
static repo_catalog_t *dataset_catalog(const char *name)
{
	char *dir = unit_path(tmp, name);
	char *work = unit_path(dir, "work"), *object = unit_path(dir, "object");
	char *file = unit_path(dir, "catalog.mdb");
	repo_catalog_t *cat = NULL;
	struct digest d;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	write_dataset_catalog(work, object, &d, &size);
	REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	free(dir);
	free(work);
	free(object);
	free(file);
	return cat;
}

/* -------------------------------------------------------- readdir help */

struct entry {
	char name[REPO_NAME_MAX + 1];
	size_t len;
	uint64_t ino;
	uint32_t type;
};

struct listing {
	struct entry *e;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
	int stop_rc;
};

static int collect(void *ctx, const char *name, size_t name_len, uint64_t ino,
		   uint32_t mode_type)
{
	struct listing *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		REQUIRE(l->e);
	}
	CHECK(name_len > 0 && name_len <= REPO_NAME_MAX);
	if (name_len > REPO_NAME_MAX)
		name_len = REPO_NAME_MAX;
	memcpy(l->e[l->n].name, name, name_len);
	l->e[l->n].name[name_len] = '\0';
	l->e[l->n].len = name_len;
	l->e[l->n].ino = ino;
	l->e[l->n].type = mode_type;
	l->n++;
	if (l->stop_after && l->n == l->stop_after)
		return l->stop_rc;
	return 0;
}

static int list(repo_catalog_t *cat, uint64_t parent, uint64_t after,
		struct listing *l)
{
	memset(l, 0, sizeof(*l));
	return repo_catalog_readdir(cat, parent, after, collect, l);
}

/* The children of parent in the tree, in name (= inode) order. */
static size_t tree_children(uint64_t parent, const struct node **out)
{
	size_t n = 0;

	for (size_t k = 0; k < TREE_LEN; k++)
		if (tree[k].parent == parent && tree[k].ino != REPO_ROOT_INO)
			out[n++] = &tree[k];
	return n; /* the table is in inode order already */
}

/* ------------------------------------------------------ dataset catalog */

static int count_cb(void *ctx, const struct repo_dataset *d)
{
	(void)d;
	(*(uint32_t *)ctx)++;
	return 0;
}

static void test_writer_output(void)
{
	char *dir = unit_path(tmp, "writer");
	char *work = unit_path(dir, "deeper/work");
	char *object = unit_path(dir, "object"), *data;
	repo_catalog_writer_t *w = NULL;
	struct digest d, file_digest;
	struct repo_chunk c;
	struct stat st;
	uint64_t size = 0;
	size_t len;
	mode_t old = umask(022);

	REQUIRE(mkdir(dir, 0700) == 0);
	/* the work directory is created, parents and all */
	REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
	CHECK(file_exists(work));
	/* dirent names: 1..255 bytes */
	CHECK_RC(repo_catalog_writer_dirent(w, 1, "", 0, 2, S_IFREG), -EINVAL);
	{
		char name[REPO_NAME_MAX + 1];

		memset(name, 'x', sizeof(name));
		CHECK_RC(repo_catalog_writer_dirent(
			     w, 1, name, REPO_NAME_MAX + 1, 2, S_IFREG),
			 -EINVAL);
		CHECK_RC(repo_catalog_writer_dirent(w, 1, name, REPO_NAME_MAX,
						    2, S_IFREG),
			 0);
	}
	chunk_of(0, &c);
	CHECK_RC(repo_catalog_writer_chunk(w, 0, &c), 0);

	/* an existing object is never overwritten */
	write_whole(object, "keep", 4);
	CHECK_RC(repo_catalog_writer_finish(w, object, &d, &size), -EEXIST);
	read_whole(object, &data, &len);
	CHECK(len == 4 && memcmp(data, "keep", 4) == 0);
	free(data);
	/* the writer is done, successful or not */
	CHECK_RC(repo_catalog_writer_chunk(w, 1, &c), -EINVAL);
	repo_catalog_writer_free(w);
	CHECK(!file_exists(work));
	REQUIRE(unlink(object) == 0);

	/* the object: 0644, the returned size, named by its SHA-256 */
	REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
	CHECK_RC(repo_catalog_writer_chunk(w, 0, &c), 0);
	CHECK_RC(repo_catalog_writer_finish(w, object, &d, &size), 0);
	CHECK(stat(object, &st) == 0 && (st.st_mode & 07777) == 0644 &&
	      S_ISREG(st.st_mode));
	read_whole(object, &data, &len);
	CHECK_U64(len, size);
	sha256_buffer(data, len, &file_digest);
	CHECK(digest_equal(&file_digest, &d));
	/* one zstd frame */
	CHECK(len > 4 && ZSTD_findFrameCompressedSize(data, len) == len);
	free(data);
	/* finish once, then nothing */
	CHECK_RC(repo_catalog_writer_finish(w, object, &d, &size), -EINVAL);
	CHECK_RC(repo_catalog_writer_meta(w, "k", "v"), -EINVAL);
	CHECK_RC(repo_catalog_writer_chunk(w, 1, &c), -EINVAL);
	CHECK_RC(repo_catalog_writer_dirent(w, 1, "x", 1, 2, S_IFREG), -EINVAL);
	repo_catalog_writer_free(w);
	CHECK(!file_exists(work));

	/* freeing an unfinished writer discards it */
	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	CHECK_RC(repo_catalog_writer_meta(w, "k", "v"), 0);
	repo_catalog_writer_free(w);
	CHECK(!file_exists(work));
	repo_catalog_writer_free(NULL);

	umask(old);
	free(dir);
	free(work);
	free(object);
}

static void check_inodes(repo_catalog_t *cat)
{
	struct repo_inode got;

	for (size_t k = 0; k < TREE_LEN; k++) {
		struct repo_extent ext[2];
		struct repo_inode want;

		inode_of(&tree[k], &want, ext);
		CHECK_RC(repo_catalog_inode(cat, tree[k].ino, &got), 0);
		CHECK_U64(got.ino, want.ino);
		CHECK_U64(got.parent, want.parent);
		CHECK_STR(got.name, want.name);
		CHECK_U64(got.mode, want.mode);
		CHECK_U64(got.nlink, want.nlink);
		CHECK_U64(got.size, want.size);
		CHECK_INT(got.mtime_sec, want.mtime_sec);
		CHECK_U64(got.mtime_nsec, want.mtime_nsec);
		CHECK_U64(got.extent_count, want.extent_count);
		if (tree[k].type == S_IFREG) {
			CHECK(digest_equal(&got.sha256, &want.sha256));
			for (uint32_t e = 0;
			     e < want.extent_count && e < got.extent_count;
			     e++) {
				CHECK_U64(got.extents[e].chunk,
					  want.extents[e].chunk);
				CHECK_U64(got.extents[e].offset,
					  want.extents[e].offset);
				CHECK_U64(got.extents[e].length,
					  want.extents[e].length);
			}
		}
		if (tree[k].type == S_IFLNK)
			CHECK_STR(got.target, want.target);
		else
			CHECK(got.target == NULL);
		repo_inode_release(&got);
	}
	CHECK_RC(repo_catalog_inode(cat, 0, &got), -ENOENT);
	CHECK_RC(repo_catalog_inode(cat, 12, &got), -ENOENT);
	CHECK_RC(repo_catalog_inode(cat, UINT64_MAX, &got), -ENOENT);
	CHECK_RC(repo_catalog_inode(cat, (uint64_t)1 << 56, &got), -ENOENT);
}

static void check_lookups(repo_catalog_t *cat)
{
	uint64_t ino;
	uint32_t type;

	for (size_t k = 0; k < TREE_LEN; k++) {
		const struct node *n = &tree[k];

		if (n->ino == REPO_ROOT_INO)
			continue;
		ino = 0;
		type = 0;
		CHECK_RC(repo_catalog_lookup(cat, n->parent, n->name,
					     strlen(n->name), &ino, &type),
			 0);
		CHECK_U64(ino, n->ino);
		CHECK_U64(type, n->type);
		/* the same name under another parent */
		CHECK_RC(repo_catalog_lookup(cat, n->parent + 100, n->name,
					     strlen(n->name), &ino, &type),
			 -ENOENT);
	}
	/* the name is exactly name_len bytes */
	CHECK_RC(repo_catalog_lookup(cat, 1, "docsXYZ", 4, &ino, &type), 0);
	CHECK_U64(ino, 2);
	CHECK_RC(repo_catalog_lookup(cat, 1, "doc", 3, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, "docs ", 5, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, "DOCS", 4, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, "missing", 7, &ino, &type),
		 -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, "", 0, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, ".", 1, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 1, "..", 2, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 3, "a.txt", 5, &ino, &type), -ENOENT);
	CHECK_RC(repo_catalog_lookup(cat, 7, "a.txt", 5, &ino, &type), -ENOENT);
	{
		char name[REPO_NAME_MAX + 2];

		memset(name, 'd', sizeof(name));
		CHECK_RC(repo_catalog_lookup(cat, 1, name, REPO_NAME_MAX + 1,
					     &ino, &type),
			 -ENOENT);
	}
}

static void check_listing(repo_catalog_t *cat, uint64_t parent)
{
	const struct node *want[TREE_LEN];
	size_t n = tree_children(parent, want);
	struct listing l;

	CHECK_RC(list(cat, parent, 0, &l), 0);
	CHECK_U64(l.n, n);
	for (size_t k = 0; k < n && k < l.n; k++) {
		CHECK_STR(l.e[k].name, want[k]->name);
		CHECK_U64(l.e[k].len, strlen(want[k]->name));
		CHECK_U64(l.e[k].ino, want[k]->ino);
		CHECK_U64(l.e[k].type, want[k]->type);
		/* strictly increasing names, bytewise */
		if (k > 0)
			CHECK(strcmp(l.e[k - 1].name, l.e[k].name) < 0);
	}
	free(l.e);

	/* resuming after each entry yields exactly the rest */
	for (size_t at = 0; at < n; at++) {
		CHECK_RC(list(cat, parent, want[at]->ino, &l), 0);
		if (l.n != n - at - 1)
			UNIT_FAIL("readdir(%" PRIu64 ", after %" PRIu64
				  ") gave %zu entries, expected %zu",
				  parent, want[at]->ino, l.n, n - at - 1);
		for (size_t k = 0; k < l.n && at + 1 + k < n; k++)
			CHECK_U64(l.e[k].ino, want[at + 1 + k]->ino);
		free(l.e);
	}
}

static void test_dataset_catalog(void)
{
	repo_catalog_t *cat = dataset_catalog("dataset");
	struct repo_dataset ds;
	struct listing l;
	uint32_t count = 0;
	char *value = NULL;

	/* meta */
	CHECK_RC(repo_catalog_meta(cat, "kind", &value), 0);
	CHECK_STR(value, "dataset");
	free(value);
	CHECK_RC(repo_catalog_meta(cat, "format", &value), 0);
	CHECK_STR(value, "1");
	free(value);
	CHECK_RC(repo_catalog_meta(cat, "dataset", &value), 0);
	CHECK_STR(value, "legal");
	free(value);
	value = NULL;
	CHECK_RC(repo_catalog_meta(cat, "missing", &value), -ENOENT);
	CHECK(value == NULL);

	check_inodes(cat);
	check_lookups(cat);

	/* every directory, including the empty ones */
	for (size_t k = 0; k < TREE_LEN; k++)
		if (tree[k].type == S_IFDIR)
			check_listing(cat, tree[k].ino);
	CHECK_RC(list(cat, 3, 0, &l), 0);
	CHECK_U64(l.n, 0);
	free(l.e);
	CHECK_RC(list(cat, 10, 0, &l), 0);
	CHECK_U64(l.n, 0);
	free(l.e);
	/* a file or an unknown inode has no entries */
	CHECK_RC(list(cat, 7, 0, &l), 0);
	CHECK_U64(l.n, 0);
	free(l.e);
	CHECK_RC(list(cat, 999, 0, &l), 0);
	CHECK_U64(l.n, 0);
	free(l.e);
	/* resuming after an entry of another directory, or a missing one */
	CHECK_RC(list(cat, 1, 7, &l), -EINVAL);
	free(l.e);
	CHECK_RC(list(cat, 1, 999, &l), -ENOENT);
	free(l.e);

	/* the callback's non-zero result stops the scan and is returned */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_rc = 42;
	CHECK_RC(repo_catalog_readdir(cat, 1, 0, collect, &l), 42);
	CHECK_U64(l.n, 2);
	free(l.e);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_rc = -EINTR;
	CHECK_RC(repo_catalog_readdir(cat, 2, 0, collect, &l), -EINTR);
	CHECK_U64(l.n, 1);
	free(l.e);

	/* chunks */
	CHECK_RC(repo_catalog_chunk_count(cat, &count), 0);
	CHECK_U64(count, CHUNKS);
	for (uint32_t id = 0; id < CHUNKS; id++) {
		struct repo_chunk got, want;

		chunk_of(id, &want);
		CHECK_RC(repo_catalog_chunk(cat, id, &got), 0);
		CHECK(digest_equal(&got.digest, &want.digest));
		CHECK(digest_equal(&got.shard, &want.shard));
		CHECK_U64(got.offset, want.offset);
		CHECK_U64(got.size, want.size);
		CHECK_U64(got.stored_size, want.stored_size);
		CHECK_U64(got.flags, want.flags);
		CHECK(got.has_stored_digest == (want.has_stored_digest &&
						want.flags == REPO_CHUNK_ZSTD));
		if (got.has_stored_digest)
			CHECK(digest_equal(&got.stored_digest,
					   &want.stored_digest));
	}
	{
		struct repo_chunk got;

		CHECK_RC(repo_catalog_chunk(cat, CHUNKS, &got), -ENOENT);
		CHECK_RC(repo_catalog_chunk(cat, UINT32_MAX, &got), -ENOENT);
		CHECK_RC(repo_catalog_chunk(cat, 1u << 24, &got), -ENOENT);
	}

	/* no datasets in a dataset catalog */
	CHECK_RC(repo_catalog_dataset(cat, "legal", &ds), -ENOENT);
	CHECK(repo_catalog_datasets(cat, count_cb, &count) < 0);

	repo_catalog_free(cat);
	repo_catalog_free(NULL);
}

/* One catalog, many readers at once. */
struct reader_arg {
	repo_catalog_t *cat;
	int failures;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;

	for (int round = 0; round < 200; round++) {
		for (size_t k = 1; k < TREE_LEN; k++) {
			const struct node *n =
			    &tree[(k + (size_t)round) % TREE_LEN];
			struct repo_inode i;
			uint64_t ino;
			uint32_t type;

			if (n->ino == REPO_ROOT_INO)
				continue;
			if (repo_catalog_lookup(a->cat, n->parent, n->name,
						strlen(n->name), &ino,
						&type) != 0 ||
			    ino != n->ino)
				a->failures++;
			if (repo_catalog_inode(a->cat, n->ino, &i) != 0 ||
			    strcmp(i.name, n->name) != 0)
				a->failures++;
			repo_inode_release(&i);
		}
		{
			struct listing l;

			if (list(a->cat, 1, 0, &l) != 0 || l.n != 5)
				a->failures++;
			free(l.e);
		}
	}
	return NULL;
}

static volatile int trimming;

static void *trim_thread(void *p)
{
	while (trimming)
		repo_catalog_trim(p);
	return NULL;
}

/* Four readers at once, while a fifth thread keeps dropping the pages. */
static void test_concurrent_readers(void)
{
	repo_catalog_t *cat = dataset_catalog("threads");
	struct reader_arg args[4];
	pthread_t th[4], trimmer;

	trimming = 1;
	REQUIRE(pthread_create(&trimmer, NULL, trim_thread, cat) == 0);
	for (int k = 0; k < 4; k++) {
		args[k].cat = cat;
		args[k].failures = 0;
		REQUIRE(pthread_create(&th[k], NULL, reader_thread, &args[k]) ==
			0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		CHECK_INT(args[k].failures, 0);
	}
	trimming = 0;
	pthread_join(trimmer, NULL);
	/* and after a trim, everything reads back the same */
	repo_catalog_trim(cat);
	check_inodes(cat);
	check_lookups(cat);
	check_listing(cat, 1);
	repo_catalog_free(cat);
}

/* A reader refuses a catalog of another format, or of none. */
static void test_catalog_format(void)
{
	static const char *const formats[] = {"2", "10", "", "1.0", "01"};
	char *dir = unit_path(tmp, "format");
	char *work = unit_path(dir, "work"), *object = unit_path(dir, "object");
	char *file = unit_path(dir, "catalog.mdb");
	repo_catalog_writer_t *w = NULL;
	repo_catalog_t *cat = NULL;
	struct digest d;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	unit_quiet(true);
	for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
		REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
		REQUIRE_RC(repo_catalog_writer_meta(w, "format", formats[k]),
			   0);
		REQUIRE_RC(repo_catalog_writer_finish(w, object, &d, &size), 0);
		repo_catalog_writer_free(w);
		REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
		cat = NULL;
		CHECK_RC(repo_catalog_open(file, &cat), -EPROTONOSUPPORT);
		CHECK(cat == NULL);
		REQUIRE(unlink(object) == 0 && unlink(file) == 0);
	}
	/* a meta table without a format */
	write_plain_lmdb(file, "meta", "kind", "dataset");
	CHECK_RC(repo_catalog_open(file, &cat), -EPROTONOSUPPORT);
	unit_quiet(false);
	free(dir);
	free(work);
	free(object);
	free(file);
}

/* A writer takes only its kind's records. */
static void test_writer_kinds(void)
{
	char *work = unit_path(tmp, "kinds");
	repo_catalog_writer_t *w = NULL;
	struct repo_extent ext[2];
	struct repo_dataset ds;
	struct repo_inode i;
	struct repo_chunk c;

	memset(&ds, 0, sizeof(ds));
	ds.name = (char *)"legal";
	ds.root_mode = S_IFDIR | 0755;
	inode_of(&tree[1], &i, ext);
	chunk_of(0, &c);

	REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
	CHECK(repo_catalog_writer_dataset(w, &ds) < 0);
	CHECK_RC(repo_catalog_writer_inode(w, &i), 0);
	repo_catalog_writer_free(w);

	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	CHECK(repo_catalog_writer_inode(w, &i) < 0);
	CHECK(repo_catalog_writer_dirent(w, 1, "docs", 4, 2, S_IFDIR) < 0);
	CHECK(repo_catalog_writer_chunk(w, 0, &c) < 0);
	CHECK_RC(repo_catalog_writer_dataset(w, &ds), 0);
	repo_catalog_writer_free(w);
	CHECK(!file_exists(work));
	free(work);
}

/* --------------------------------------------------------- root catalog */

static void dataset_of(const char *name, uint32_t id, struct repo_dataset *d)
{
	static char industry[] = "legal", modality[] = "text";
	static char license[] = "proprietary", description[] = "rulings";

	memset(d, 0, sizeof(*d));
	d->name = (char *)name;
	d->industry = industry;
	d->modality = modality;
	d->license = license;
	d->description = description;
	d->id = id;
	d->tier = (enum repo_tier)(id % 3);
	d->files = 1000 * id;
	d->bytes = ((uint64_t)1 << 40) + id;
	d->catalog = digest_of(name);
	d->catalog_size = 12345 + id;
	d->root_mode = S_IFDIR | 0755;
	d->root_nlink = 2 + id;
	d->root_size = 4096 * id;
	d->mtime_sec = 1600000000 + id;
	d->mtime_nsec = id;
}

static const char *const root_names[] = {
    "medical", "finance", "\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6"};
static const char *const root_sorted[] = {
    "finance", "medical", "\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6"};

static uint32_t root_id(const char *name)
{
	for (uint32_t k = 0; k < 3; k++)
		if (!strcmp(root_names[k], name))
			return k + 1;
	return 0;
}

static void check_dataset(const struct repo_dataset *got, const char *name)
{
	struct repo_dataset want;

	dataset_of(name, root_id(name), &want);
	CHECK_STR(got->name, want.name);
	CHECK_STR(got->industry, want.industry);
	CHECK_STR(got->modality, want.modality);
	CHECK_STR(got->license, want.license);
	CHECK_STR(got->description, want.description);
	CHECK_U64(got->id, want.id);
	CHECK_INT(got->tier, want.tier);
	CHECK_U64(got->files, want.files);
	CHECK_U64(got->bytes, want.bytes);
	CHECK(digest_equal(&got->catalog, &want.catalog));
	CHECK_U64(got->catalog_size, want.catalog_size);
	CHECK_U64(got->root_mode, want.root_mode);
	CHECK_U64(got->root_nlink, want.root_nlink);
	CHECK_U64(got->root_size, want.root_size);
	CHECK_INT(got->mtime_sec, want.mtime_sec);
	CHECK_U64(got->mtime_nsec, want.mtime_nsec);
}

struct seen {
	char names[8][REPO_NAME_MAX + 1];
	size_t n;
	size_t stop_after;
};

static int seen_cb(void *ctx, const struct repo_dataset *d)
{
	struct seen *s = ctx;

	if (s->n < 8)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", d->name);
	s->n++;
	check_dataset(d, d->name);
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static void test_root_catalog(void)
{
	char *dir = unit_path(tmp, "root"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *file = unit_path(dir, "root.mdb");
	repo_catalog_writer_t *w = NULL;
	repo_catalog_t *cat = NULL;
	struct repo_dataset got;
	struct digest d;
	struct seen s;
	uint64_t size;
	uint32_t count = 99;
	char *value;

	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	for (uint32_t k = 0; k < 3; k++) {
		struct repo_dataset ds;

		dataset_of(root_names[k], k + 1, &ds);
		REQUIRE_RC(repo_catalog_writer_dataset(w, &ds), 0);
	}
	REQUIRE_RC(repo_catalog_writer_finish(w, object, &d, &size), 0);
	repo_catalog_writer_free(w);

	/* unpack without a digest to check, too */
	REQUIRE_RC(repo_catalog_unpack(object, NULL, file), 0);
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);

	CHECK_RC(repo_catalog_meta(cat, "kind", &value), 0);
	CHECK_STR(value, "root");
	free(value);
	CHECK_RC(repo_catalog_meta(cat, "format", &value), 0);
	CHECK_STR(value, "1");
	free(value);

	for (uint32_t k = 0; k < 3; k++) {
		CHECK_RC(repo_catalog_dataset(cat, root_names[k], &got), 0);
		check_dataset(&got, root_names[k]);
		repo_dataset_release(&got);
	}
	CHECK_RC(repo_catalog_dataset(cat, "missing", &got), -ENOENT);
	CHECK_RC(repo_catalog_dataset(cat, "", &got), -ENOENT);
	CHECK_RC(repo_catalog_dataset(cat, "medica", &got), -ENOENT);
	CHECK_RC(repo_catalog_dataset(cat, "medicalx", &got), -ENOENT);
	CHECK_RC(repo_catalog_dataset(cat, "Medical", &got), -ENOENT);

	/* all of them, in name order */
	memset(&s, 0, sizeof(s));
	CHECK_RC(repo_catalog_datasets(cat, seen_cb, &s), 0);
	CHECK_U64(s.n, 3);
	for (size_t k = 0; k < 3 && k < s.n; k++)
		CHECK_STR(s.names[k], root_sorted[k]);
	/* stopped by the callback */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	CHECK_RC(repo_catalog_datasets(cat, seen_cb, &s), 7);
	CHECK_U64(s.n, 2);

	/* no tree in a root catalog */
	{
		struct repo_inode i;
		struct repo_chunk c;
		struct listing l;
		uint64_t ino;
		uint32_t type;

		CHECK_RC(repo_catalog_inode(cat, 1, &i), -ENOENT);
		CHECK_RC(repo_catalog_lookup(cat, 1, "finance", 7, &ino, &type),
			 -ENOENT);
		CHECK(list(cat, 1, 0, &l) < 0);
		free(l.e);
		CHECK_RC(repo_catalog_chunk(cat, 0, &c), -ENOENT);
		CHECK_RC(repo_catalog_chunk_count(cat, &count), 0);
		CHECK_U64(count, 0);
	}
	repo_catalog_free(cat);
	free(dir);
	free(work);
	free(object);
	free(file);
}

/* Whether the LMDB file at path has a named table called name. */
static bool has_table(const char *path, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
	REQUIRE(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_RDONLY,
			     0644) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc == 0;
}

struct contributors_seen {
	char line[256];
};

static int contributors_cb(void *ctx, const struct repo_dataset *d)
{
	struct contributors_seen *s = ctx;
	size_t n = strlen(s->line);

	snprintf(s->line + n, sizeof(s->line) - n, "%s=%s ", d->name,
		 d->contributor ? d->contributor : "-");
	return 0;
}

/*
 * The contributors table (FORMAT.md §5.8): written only when a dataset
 * has a contributor, read back with the record; a catalog without it
 * reads as "no contributor"; a bad label is a malformed catalog.
 */
static void test_root_contributors(void)
{
	static const char org_utf8[] = "\xe5\x8d\x8f\xe4\xbc\x9a"; /* 协会 */
	char *dir = unit_path(tmp, "contrib"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *file = unit_path(dir, "root.mdb");
	repo_catalog_writer_t *w = NULL;
	repo_catalog_t *cat = NULL;
	struct contributors_seen seen = {""};
	struct repo_dataset ds, got;
	struct digest d, d_plain;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	/* with contributors: two of three datasets */
	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	for (uint32_t k = 0; k < 3; k++) {
		dataset_of(root_names[k], k + 1, &ds);
		ds.contributor = k == 0	  ? (char *)"acme"
				 : k == 2 ? (char *)org_utf8
					  : NULL;
		REQUIRE_RC(repo_catalog_writer_dataset(w, &ds), 0);
	}
	REQUIRE_RC(repo_catalog_writer_finish(w, object, &d, &size), 0);
	repo_catalog_writer_free(w);
	REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
	CHECK(has_table(file, "contributors"));
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	CHECK_RC(repo_catalog_dataset(cat, "medical", &got), 0);
	check_dataset(&got, "medical");
	CHECK_STR(got.contributor, "acme");
	repo_dataset_release(&got);
	CHECK_RC(repo_catalog_dataset(cat, "finance", &got), 0);
	CHECK(got.contributor == NULL);
	repo_dataset_release(&got);
	CHECK_RC(repo_catalog_datasets(cat, contributors_cb, &seen), 0);
	{
		char want[256];

		snprintf(want, sizeof(want), "finance=- medical=acme %s=%s ",
			 root_names[2], org_utf8);
		CHECK_STR(seen.line, want);
	}
	repo_catalog_free(cat);

	/* a bad label in the table: the record does not read */
	write_plain_lmdb(file, "contributors", "medical", "a/b");
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	unit_quiet(true);
	CHECK_RC(repo_catalog_dataset(cat, "medical", &got), -EINVAL);
	seen.line[0] = '\0';
	CHECK_RC(repo_catalog_datasets(cat, contributors_cb, &seen), -EINVAL);
	unit_quiet(false);
	CHECK_RC(repo_catalog_dataset(cat, "finance", &got), 0);
	repo_dataset_release(&got);
	repo_catalog_free(cat);
	REQUIRE(unlink(file) == 0 && unlink(object) == 0);

	/* without any: no table, as format-1 writers always wrote */
	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	for (uint32_t k = 0; k < 3; k++) {
		dataset_of(root_names[k], k + 1, &ds);
		REQUIRE_RC(repo_catalog_writer_dataset(w, &ds), 0);
	}
	REQUIRE_RC(repo_catalog_writer_finish(w, object, &d_plain, &size), 0);
	repo_catalog_writer_free(w);
	CHECK(!digest_equal(&d, &d_plain));
	REQUIRE_RC(repo_catalog_unpack(object, &d_plain, file), 0);
	CHECK(!has_table(file, "contributors"));
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	CHECK_RC(repo_catalog_dataset(cat, "medical", &got), 0);
	CHECK(got.contributor == NULL);
	repo_dataset_release(&got);
	repo_catalog_free(cat);

	/* an invalid label is refused by the writer */
	REQUIRE_RC(repo_catalog_writer_new(work, "root", &w), 0);
	dataset_of("medical", 1, &ds);
	ds.contributor = (char *)"..";
	CHECK_RC(repo_catalog_writer_dataset(w, &ds), -EINVAL);
	ds.contributor = (char *)"";
	CHECK_RC(repo_catalog_writer_dataset(w, &ds), -EINVAL);
	repo_catalog_writer_free(w);
	free(dir);
	free(work);
	free(object);
	free(file);
}

/* ------------------------------------------------------ stored digests */

/*
 * FORMAT.md §5.9: a stored digest is exactly 32 bytes, and any other
 * length makes that chunk's record malformed (-EINVAL): never a digest
 * cut short or read past the value's end. The other chunks still read.
 */
static void test_stored_digest_length(void)
{
	static const size_t bad_lengths[] = {0, 1, 31, 33, 64};
	const uint32_t victim = 2; /* zstd, with a stored digest */
	char *dir = unit_path(tmp, "stored"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *file = unit_path(dir, "catalog.mdb");
	uint8_t key[4], value[2 * DIGEST_LEN];
	struct repo_chunk want, other, got;
	repo_catalog_t *cat = NULL;
	struct digest d, replaced;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	write_dataset_catalog(work, object, &d, &size);
	chunk_of(victim, &want);
	REQUIRE(want.flags == REPO_CHUNK_ZSTD && want.has_stored_digest);
	store_be32(key, victim);

	/* as written, the entry reads back */
	REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	CHECK_RC(repo_catalog_chunk(cat, victim, &got), 0);
	CHECK(got.has_stored_digest);
	CHECK(digest_equal(&got.stored_digest, &want.stored_digest));
	CHECK(digest_equal(&got.digest, &want.digest));
	repo_catalog_free(cat);

	/* other 32 bytes put under the key are what the reader returns: the
	 * puts below reach the entry it uses */
	replaced = digest_of("another frame");
	REQUIRE(lmdb_put(file, "stored-digests", 0, key, sizeof(key),
			 replaced.b, DIGEST_LEN) == 0);
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);
	CHECK_RC(repo_catalog_chunk(cat, victim, &got), 0);
	CHECK(got.has_stored_digest);
	CHECK(digest_equal(&got.stored_digest, &replaced));
	repo_catalog_free(cat);
	REQUIRE(unlink(file) == 0);

	/* the right digest, then more of it */
	memcpy(value, want.stored_digest.b, DIGEST_LEN);
	memcpy(value + DIGEST_LEN, want.stored_digest.b, DIGEST_LEN);
	for (size_t k = 0; k < sizeof(bad_lengths) / sizeof(bad_lengths[0]);
	     k++) {
		size_t n = bad_lengths[k];
		int rc;

		REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
		rc = lmdb_put(file, "stored-digests", 0, key, sizeof(key),
			      value, n);
		if (rc) {
			UNIT_FAIL("a %zu-byte stored digest: mdb_put: %s", n,
				  mdb_strerror(rc));
			REQUIRE(unlink(file) == 0);
			continue;
		}
		REQUIRE_RC(repo_catalog_open(file, &cat), 0);
		rc = repo_catalog_chunk(cat, victim, &got);
		if (rc != -EINVAL)
			UNIT_FAIL("a %zu-byte stored digest: "
				  "repo_catalog_chunk returned %d, expected "
				  "%d (-EINVAL)",
				  n, rc, -EINVAL);
		/* the damage is that chunk's: the others (without an entry)
		 * read as written */
		for (uint32_t id = 0; id < victim; id++) {
			chunk_of(id, &other);
			CHECK_RC(repo_catalog_chunk(cat, id, &got), 0);
			CHECK(digest_equal(&got.digest, &other.digest));
			CHECK(!got.has_stored_digest);
		}
		repo_catalog_free(cat);
		REQUIRE(unlink(file) == 0);
	}

	/* an entry for the raw chunk 1 is ignored, whatever its length */
	store_be32(key, 1);
	chunk_of(1, &other);
	for (size_t n = DIGEST_LEN - 1; n <= DIGEST_LEN; n++) {
		REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
		REQUIRE(lmdb_put(file, "stored-digests", 0, key, sizeof(key),
				 value, n) == 0);
		REQUIRE_RC(repo_catalog_open(file, &cat), 0);
		CHECK_RC(repo_catalog_chunk(cat, 1, &got), 0);
		CHECK(digest_equal(&got.digest, &other.digest));
		CHECK(!got.has_stored_digest);
		repo_catalog_free(cat);
		REQUIRE(unlink(file) == 0);
	}
	free(dir);
	free(work);
	free(object);
	free(file);
}

/* ------------------------------------------------ one large directory */

struct big_check {
	uint64_t next_ino;
	size_t n;
	bool order_ok;
};

static int big_cb(void *ctx, const char *name, size_t name_len, uint64_t ino,
		  uint32_t mode_type)
{
	struct big_check *b = ctx;
	char want[16];

	snprintf(want, sizeof(want), "f%06" PRIu64, ino - BIG_FIRST_INO);
	if (ino != b->next_ino || name_len != strlen(want) ||
	    memcmp(name, want, name_len) != 0 || mode_type != S_IFREG)
		b->order_ok = false;
	b->next_ino = ino + 1;
	b->n++;
	return 0;
}

static void test_big_directory(void)
{
	char *dir = unit_path(tmp, "big"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *file = unit_path(dir, "big.mdb");
	repo_catalog_writer_t *w = NULL;
	repo_catalog_t *cat = NULL;
	struct repo_inode i;
	struct digest d;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	REQUIRE_RC(repo_catalog_writer_new(work, "dataset", &w), 0);
	memset(&i, 0, sizeof(i));
	i.ino = REPO_ROOT_INO;
	i.parent = REPO_ROOT_INO;
	i.name = (char *)"";
	i.mode = S_IFDIR | 0755;
	i.nlink = 2;
	REQUIRE_RC(repo_catalog_writer_inode(w, &i), 0);
	/* the dirents and their inodes: 120,000 puts, in three batches */
	for (uint32_t k = 0; k < BIG_DIR_ENTRIES; k++) {
		char name[16];

		snprintf(name, sizeof(name), "f%06u", k);
		REQUIRE_RC(repo_catalog_writer_dirent(
			       w, REPO_ROOT_INO, name, strlen(name),
			       BIG_FIRST_INO + k, S_IFREG),
			   0);
	}
	for (uint32_t k = 0; k < BIG_DIR_ENTRIES; k++) {
		char name[16];

		snprintf(name, sizeof(name), "f%06u", k);
		memset(&i, 0, sizeof(i));
		i.ino = BIG_FIRST_INO + k;
		i.parent = REPO_ROOT_INO;
		i.name = name;
		i.mode = S_IFREG | 0644;
		i.nlink = 1;
		REQUIRE_RC(repo_catalog_writer_inode(w, &i), 0);
	}
	REQUIRE_RC(repo_catalog_writer_finish(w, object, &d, &size), 0);
	repo_catalog_writer_free(w);
	REQUIRE_RC(repo_catalog_unpack(object, &d, file), 0);
	REQUIRE_RC(repo_catalog_open(file, &cat), 0);

	{
		struct big_check b = {BIG_FIRST_INO, 0, true};

		CHECK_RC(
		    repo_catalog_readdir(cat, REPO_ROOT_INO, 0, big_cb, &b), 0);
		CHECK_U64(b.n, BIG_DIR_ENTRIES);
		CHECK(b.order_ok);
	}
	/* resuming around the batch boundaries and at the end */
	{
		static const uint32_t at[] = {
		    0,	   1,	  49997,
		    49998, 49999, 50000,
		    50001, 59998, BIG_DIR_ENTRIES - 1};

		for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
			struct big_check b = {BIG_FIRST_INO + at[k] + 1, 0,
					      true};

			CHECK_RC(repo_catalog_readdir(cat, REPO_ROOT_INO,
						      BIG_FIRST_INO + at[k],
						      big_cb, &b),
				 0);
			CHECK_U64(b.n, BIG_DIR_ENTRIES - at[k] - 1);
			CHECK(b.order_ok);
		}
	}
	/* the first, middle and last can be looked up */
	{
		static const uint32_t at[] = {0, 49999, 50000,
					      BIG_DIR_ENTRIES - 1};

		for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
			char name[16];
			uint64_t ino = 0;
			uint32_t type = 0;

			snprintf(name, sizeof(name), "f%06u", at[k]);
			CHECK_RC(repo_catalog_lookup(cat, REPO_ROOT_INO, name,
						     strlen(name), &ino, &type),
				 0);
			CHECK_U64(ino, BIG_FIRST_INO + at[k]);
			CHECK_RC(repo_catalog_inode(cat, ino, &i), 0);
			CHECK_STR(i.name, name);
			repo_inode_release(&i);
		}
	}
	repo_catalog_free(cat);
	free(dir);
	free(work);
	free(object);
	free(file);
}

/* -------------------------------------------------------- unpack errors */

static void test_unpack_errors(void)
{
	char *dir = unit_path(tmp, "unpack"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *bad = unit_path(dir, "bad");
	char *out = unit_path(dir, "out.mdb");
	static const char *const expected[] = {"object", "bad"};
	char *data;
	size_t len, flip_errors = 0;
	struct digest d, wrong, bad_digest;
	uint64_t size;
	int rc;

	REQUIRE(mkdir(dir, 0700) == 0);
	write_dataset_catalog(work, object, &d, &size);
	read_whole(object, &data, &len);
	unit_quiet(true);

	/* a digest mismatch */
	wrong = d;
	wrong.b[31] ^= 1;
	CHECK_RC(repo_catalog_unpack(object, &wrong, out), -EBADMSG);
	CHECK(!file_exists(out));
	CHECK_RC(repo_catalog_unpack(object, &d, out), 0);
	CHECK(file_exists(out));
	REQUIRE(unlink(out) == 0);

	/* a missing object */
	CHECK_RC(repo_catalog_unpack(bad, &d, out), -ENOENT);
	CHECK(!file_exists(out));

	/* bytes flipped, one at a time (all in the frame header and the
	 * last block's end, a sample between): with the digest, always an
	 * error, and never an out file */
	for (size_t i = 0; i < len; i += i < 32 || i + 32 >= len ? 1 : 23) {
		data[i] ^= 0x20;
		write_whole(bad, data, len);
		data[i] ^= 0x20;
		rc = repo_catalog_unpack(bad, &d, out);
		if (rc != -EBADMSG && rc != -EINVAL)
			UNIT_FAIL("object byte %zu flipped: unpack returned %d",
				  i, rc);
		if (file_exists(out)) {
			UNIT_FAIL("object byte %zu flipped: out file exists",
				  i);
			unlink(out);
		}
	}
	/* without a digest, zstd's checksum still catches damage to the
	 * blocks (sampled: header bits may be benign) */
	for (size_t i = len / 4; i < len - 4; i += 13) {
		data[i] ^= 0x01;
		write_whole(bad, data, len);
		data[i] ^= 0x01;
		rc = repo_catalog_unpack(bad, NULL, out);
		if (rc == 0) {
			unlink(out);
			continue;
		}
		flip_errors++;
		CHECK(rc == -EINVAL);
		CHECK(!file_exists(out));
	}
	CHECK(flip_errors > 0);

	/* truncations: every length near the ends, a sample between */
	for (size_t n = 0; n < len; n += n < 32 || n + 32 >= len ? 1 : 23) {
		write_whole(bad, data, n);
		sha256_buffer(data, n, &bad_digest);
		rc = repo_catalog_unpack(bad, NULL, out);
		if (rc != -EINVAL)
			UNIT_FAIL("object truncated to %zu of %zu: unpack "
				  "without digest returned %d",
				  n, len, rc);
		if (n % 3 != 0 && n + 1 != len)
			goto next; /* the rest on a sample: unpack is slow */
		/* even when the digest matches the truncated bytes */
		rc = repo_catalog_unpack(bad, &bad_digest, out);
		if (rc != -EINVAL)
			UNIT_FAIL("object truncated to %zu of %zu: unpack "
				  "with its digest returned %d",
				  n, len, rc);
		rc = repo_catalog_unpack(bad, &d, out);
		if (rc != -EBADMSG && rc != -EINVAL)
			UNIT_FAIL("object truncated to %zu: unpack returned "
				  "%d",
				  n, rc);
	next:
		if (file_exists(out)) {
			UNIT_FAIL("object truncated to %zu: out file exists",
				  n);
			unlink(out);
		}
	}

	/* trailing bytes after the frame */
	{
		char *more = malloc(len + 4);

		REQUIRE(more);
		memcpy(more, data, len);
		for (size_t extra = 1; extra <= 4; extra++) {
			memset(more + len, 0, extra);
			write_whole(bad, more, len + extra);
			CHECK_RC(repo_catalog_unpack(bad, NULL, out), -EINVAL);
			CHECK(!file_exists(out));
		}
		free(more);
	}

	/* not zstd at all; empty */
	{
		static const char text[] = "this is not a zstd frame\n";

		write_whole(bad, text, sizeof(text) - 1);
		sha256_buffer(text, sizeof(text) - 1, &bad_digest);
		CHECK_RC(repo_catalog_unpack(bad, NULL, out), -EINVAL);
		CHECK_RC(repo_catalog_unpack(bad, &bad_digest, out), -EINVAL);
		CHECK(!file_exists(out));
		/* FORMAT §1: the digest is checked before zstd parses a
		 * byte, so bytes that are not the object are refused as
		 * such (-EBADMSG), not as a bad frame (-EINVAL) */
		CHECK_RC(repo_catalog_unpack(bad, &d, out), -EBADMSG);
		CHECK(!file_exists(out));
		write_whole(bad, "", 0);
		sha256_buffer("", 0, &bad_digest);
		CHECK_RC(repo_catalog_unpack(bad, NULL, out), -EINVAL);
		CHECK_RC(repo_catalog_unpack(bad, &bad_digest, out), -EINVAL);
		CHECK(!file_exists(out));
	}

	/* a directory that cannot take the out file */
	{
		char *nowhere = unit_path(dir, "no/such/dir/out.mdb");

		CHECK(repo_catalog_unpack(object, &d, nowhere) < 0);
		free(nowhere);
	}

	unit_quiet(false);
	/* no temporary files left behind */
	stray_files(dir, expected, 2);
	free(data);
	free(dir);
	free(work);
	free(object);
	free(bad);
	free(out);
}

/* Compress p with or without a checksum into path; its digest. */
static void write_frame(const char *path, const void *p, size_t n, int checksum,
			bool sized, struct digest *d)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n), fn;
	uint8_t *frame = malloc(cap);

	REQUIRE(cctx && frame);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
	if (sized) {
		/* one call: the header declares the content size */
		fn = ZSTD_compress2(cctx, frame, cap, p, n);
	} else {
		/* streamed, as writers before the size was pledged did */
		ZSTD_inBuffer ib = {p, n, 0};
		ZSTD_outBuffer ob = {frame, cap, 0};

		/* input first, then the end: the size is never pledged */
		fn = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue);
		REQUIRE(!ZSTD_isError(fn) && ib.pos == n);
		fn = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
		REQUIRE(fn == 0);
		fn = ob.pos;
		REQUIRE(ZSTD_getFrameContentSize(frame, fn) ==
			ZSTD_CONTENTSIZE_UNKNOWN);
	}
	REQUIRE(!ZSTD_isError(fn));
	write_whole(path, frame, fn);
	sha256_buffer(frame, fn, d);
	free(frame);
	ZSTD_freeCCtx(cctx);
}

/*
 * Unpack is a plain streaming decompression: a payload of several MiB in
 * many blocks, with and without a content checksum, comes back intact.
 */
static void test_unpack_large(void)
{
	char *dir = unit_path(tmp, "large");
	char *object = unit_path(dir, "object");
	char *out = unit_path(dir, "out.mdb");
	const size_t n = 3 * 1024 * 1024 + 12345;
	uint8_t *raw = malloc(n);
	uint64_t seed = 1;
	char *back;
	size_t back_len;
	struct digest d;

	REQUIRE(raw && mkdir(dir, 0700) == 0);
	/* LMDB-like: pages of mostly zeros with some low-entropy data */
	for (size_t i = 0; i < n; i++)
		raw[i] = i % 4096 < 3000 ? 0 : (uint8_t)(unit_rand(&seed) % 5);
	for (int checksum = 0; checksum <= 1; checksum++) {
		write_frame(object, raw, n, checksum, checksum == 1, &d);
		CHECK_RC(repo_catalog_unpack(object, &d, out), 0);
		read_whole(out, &back, &back_len);
		CHECK(back_len == n && memcmp(back, raw, n) == 0);
		free(back);
		REQUIRE(unlink(out) == 0);
	}
	free(raw);
	free(dir);
	free(object);
	free(out);
}

/*
 * Another compressor's frame of the same LMDB file: no content checksum,
 * default parameters. A valid zstd frame must unpack to the same bytes.
 */
static void test_unpack_foreign_frames(void)
{
	char *dir = unit_path(tmp, "foreign"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *mdb = unit_path(dir, "catalog.mdb");
	char *other = unit_path(dir, "other");
	char *out = unit_path(dir, "out.mdb");
	char *raw, *back;
	size_t raw_len, back_len;
	struct digest d;
	uint64_t size;

	REQUIRE(mkdir(dir, 0700) == 0);
	write_dataset_catalog(work, object, &d, &size);
	REQUIRE_RC(repo_catalog_unpack(object, &d, mdb), 0);
	read_whole(mdb, &raw, &raw_len);

	/* the writer's frame declares its size (FORMAT.md §5.1) */
	read_whole(object, &back, &back_len);
	CHECK(ZSTD_getFrameContentSize(back, back_len) == raw_len);
	free(back);

	for (int k = 0; k < 4; k++) {
		int checksum = k & 1, rc;
		bool sized = k & 2;

		write_frame(other, raw, raw_len, checksum, sized, &d);
		rc = repo_catalog_unpack(other, &d, out);
		if (rc != 0) {
			UNIT_FAIL("a valid frame (checksum %d, %s) of a "
				  "%zu-byte catalog: unpack returned %d",
				  checksum, sized ? "sized" : "size unknown",
				  raw_len, rc);
			continue;
		}
		read_whole(out, &back, &back_len);
		CHECK(back_len == raw_len && memcmp(back, raw, raw_len) == 0);
		free(back);
		REQUIRE(unlink(out) == 0);
	}
	free(raw);
	free(dir);
	free(work);
	free(object);
	free(mdb);
	free(other);
	free(out);
}

/* ------------------------------------------------------- garbage files */

/*
 * Open path as a catalog and use it in a child process: the parent
 * checks that the child neither crashed nor saw success from open when
 * must_fail. Returns false on a crash.
 */
static bool open_survives(const char *path, bool must_fail, int *open_rc)
{
	int status, pipefd[2];
	pid_t pid;

	REQUIRE(pipe(pipefd) == 0);
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		repo_catalog_t *cat = NULL;
		int rc = repo_catalog_open(path, &cat);

		(void)!write(pipefd[1], &rc, sizeof(rc));
		if (rc == 0) {
			struct repo_inode i;
			struct repo_dataset ds;
			struct listing l;
			uint32_t count;
			uint64_t ino;
			uint32_t type;
			char *value;

			if (repo_catalog_meta(cat, "kind", &value) == 0)
				free(value);
			if (repo_catalog_inode(cat, 1, &i) == 0)
				repo_inode_release(&i);
			repo_catalog_lookup(cat, 1, "docs", 4, &ino, &type);
			list(cat, 1, 0, &l);
			free(l.e);
			list(cat, 2, 8, &l);
			free(l.e);
			repo_catalog_chunk_count(cat, &count);
			if (repo_catalog_dataset(cat, "x", &ds) == 0)
				repo_dataset_release(&ds);
			repo_catalog_free(cat);
		}
		_exit(0);
	}
	close(pipefd[1]);
	*open_rc = 1;
	(void)!read(pipefd[0], open_rc, sizeof(*open_rc));
	close(pipefd[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		UNIT_FAIL("catalog '%s': the reader crashed (%s %d)", path,
			  WIFSIGNALED(status) ? "signal" : "exit",
			  WIFSIGNALED(status) ? WTERMSIG(status)
					      : WEXITSTATUS(status));
		return false;
	}
	if (must_fail && *open_rc == 0)
		UNIT_FAIL("catalog '%s': garbage opened successfully", path);
	if (*open_rc > 0)
		UNIT_FAIL("catalog '%s': open returned %d", path, *open_rc);
	return true;
}

static void test_open_garbage(void)
{
	char *dir = unit_path(tmp, "garbage"), *work = unit_path(dir, "work");
	char *object = unit_path(dir, "object");
	char *good = unit_path(dir, "good.mdb");
	char *file = unit_path(dir, "file");
	char *plain = unit_path(dir, "plain.mdb");
	char *data;
	size_t len;
	uint64_t seed = 77, size;
	uint8_t noise[65536];
	struct digest d;
	repo_catalog_t *cat = NULL;
	int rc;

	REQUIRE(mkdir(dir, 0700) == 0);
	write_dataset_catalog(work, object, &d, &size);
	REQUIRE_RC(repo_catalog_unpack(object, &d, good), 0);
	unit_quiet(true);

	/* missing, a directory */
	CHECK_RC(repo_catalog_open(file, &cat), -ENOENT);
	CHECK(cat == NULL);
	open_survives(dir, true, &rc);

	/* random bytes, text, empty, the compressed object */
	unit_rand_fill(&seed, noise, sizeof(noise));
	write_whole(file, noise, sizeof(noise));
	open_survives(file, true, &rc);
	write_whole(file, noise, 4096);
	open_survives(file, true, &rc);
	write_whole(file, "not a catalog\n", 14);
	open_survives(file, true, &rc);
	write_whole(file, "", 0);
	open_survives(file, true, &rc);
	open_survives(object, true, &rc);

	/* a valid LMDB file that is not a catalog */
	write_plain_lmdb(plain, "other", "k", "v");
	open_survives(plain, true, &rc);
	CHECK_RC(rc, -EINVAL);

	/* the real catalog, cut short: must not crash the reader */
	read_whole(good, &data, &len);
	for (size_t n = 0; n < len; n += 4096) {
		write_whole(file, data, n);
		if (!open_survives(file, false, &rc))
			dprintf(unit_fd(),
				"  (truncated to %zu of %zu bytes, open "
				"returned %d)\n",
				n, len, rc);
	}
	/* and with its meta pages damaged */
	for (size_t n = 0; n < 2 * 4096 && n < len; n += 512) {
		char saved = data[n + 16];

		data[n + 16] = (char)~saved;
		write_whole(file, data, len);
		data[n + 16] = saved;
		open_survives(file, false, &rc);
	}
	free(data);
	unit_quiet(false);

	/* the good one opens in the parent too */
	CHECK_RC(repo_catalog_open(good, &cat), 0);
	repo_catalog_free(cat);

	free(dir);
	free(work);
	free(object);
	free(good);
	free(file);
	free(plain);
}

int main(void)
{
	tmp = unit_tmpdir();
	RUN(test_writer_output);
	RUN(test_dataset_catalog);
	RUN(test_concurrent_readers);
	RUN(test_writer_kinds);
	RUN(test_catalog_format);
	RUN(test_root_catalog);
	RUN(test_root_contributors);
	RUN(test_stored_digest_length);
	RUN(test_big_directory);
	RUN(test_unpack_errors);
	RUN(test_unpack_foreign_frames);
	RUN(test_unpack_large);
	RUN(test_open_garbage);
	unit_rmtree(tmp);
	return unit_result();
}

/* Writing catalogs: build an LMDB environment in scratch space, then
 * publish a compacted, zstd-compressed copy named by its digest. */
#include "repo.h"
#include "catalog_int.h"
#include "fsutil.h"
#include "log.h"
#include "lmdb_env.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "banned.h"

/* Commit every this many puts so dirty pages stay bounded. */
#define WRITER_BATCH 20000
#define WRITER_MAPSIZE ((size_t)256 << 30) /* virtual; the file grows */
#define CATALOG_ZSTD_LEVEL 9

struct repo_catalog_writer {
	char *dir;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, datasets, inodes, dirents, chunks;
	MDB_dbi contributors; /* created with the first contributor */
	bool has_contributors;
	MDB_dbi stored_digests; /* created with the first stored digest */
	bool has_stored_digests;
	size_t pending;
	bool sealed, finished;
	struct buf scratch;
};

/*
 * Drop this process's mapped pages of the environment: they stay in the
 * page cache, but a catalog of millions of entries must not show up as
 * resident memory of the packer. Only for a read-only map (no WRITEMAP).
 */
static void env_trim(MDB_env *env)
{
	catalog_lmdb_trim(env);
}

static int writer_txn(repo_catalog_writer_t *w)
{
	int rc;

	if (w->txn && w->pending < WRITER_BATCH)
		return 0;
	if (w->txn) {
		rc = mdb_txn_commit(w->txn);
		w->txn = NULL;
		if (rc)
			return lmdb_errno(rc, "catalog commit");
		env_trim(w->env);
	}
	w->pending = 0;
	rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
	return rc ? lmdb_errno(rc, "catalog transaction") : 0;
}

int repo_catalog_writer_new(const char *work_dir, const char *kind,
			    repo_catalog_writer_t **out)
{
	repo_catalog_writer_t *w = xcalloc(1, sizeof(*w));
	const char *tables[] = {CATALOG_DB_META, CATALOG_DB_DATASETS,
				CATALOG_DB_INODES, CATALOG_DB_DIRENTS,
				CATALOG_DB_CHUNKS};
	MDB_dbi *dbis[] = {&w->meta, &w->datasets, &w->inodes, &w->dirents,
			   &w->chunks};
	bool root = !strcmp(kind, "root");
	int rc;

	buf_init(&w->scratch, REPO_CHUNK_MAX);
	w->dir = xstrdup(work_dir);
	/* scratch data: durability comes from the published copy's fsync */
	rc = lmdb_env_open(work_dir, CATALOG_MAX_DBS, WRITER_MAPSIZE,
			   MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600,
			   &w->env);
	if (rc) {
		rc = lmdb_errno(rc, "catalog scratch environment");
		goto fail;
	}
	rc = writer_txn(w);
	for (unsigned i = 0; !rc && i < 5; i++) {
		/* a root catalog has datasets; a dataset catalog the rest */
		if (i > 0 && (i == 1) != root)
			continue;
		rc = mdb_dbi_open(w->txn, tables[i], MDB_CREATE, dbis[i]);
		if (rc)
			rc = lmdb_errno(rc, "catalog table");
	}
	if (!rc)
		rc = repo_catalog_writer_meta(w, "format", "1");
	if (!rc)
		rc = repo_catalog_writer_meta(w, "kind", kind);
	if (rc)
		goto fail;
	*out = w;
	return 0;
fail:
	repo_catalog_writer_free(w);
	return rc;
}

static int put(repo_catalog_writer_t *w, MDB_dbi dbi, const void *key,
	       size_t key_len, const void *val, size_t val_len)
{
	MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
	int rc;

	if (w->sealed)
		return -EINVAL;
	rc = writer_txn(w);
	if (rc)
		return rc;
	rc = mdb_put(w->txn, dbi, &k, &v, 0);
	if (rc)
		return lmdb_errno(rc, "catalog write");
	w->pending++;
	return 0;
}

int repo_catalog_writer_meta(repo_catalog_writer_t *w, const char *key,
			     const char *value)
{
	return put(w, w->meta, key, strlen(key), value, strlen(value));
}

/*
 * The contributors table, created on first use: a root catalog with no
 * contributor has none, byte for byte what writers before FORMAT.md
 * §5.8 wrote, so repacking an old repository keeps its digests.
 */
static int optional_table(repo_catalog_writer_t *w, const char *name,
			  MDB_dbi *dbi, bool *has)
{
	int rc;

	if (*has)
		return 0;
	if (w->sealed)
		return -EINVAL;
	rc = writer_txn(w);
	if (rc)
		return rc;
	rc = mdb_dbi_open(w->txn, name, MDB_CREATE, dbi);
	if (rc)
		return lmdb_errno(rc, "catalog table");
	*has = true;
	return 0;
}

static int contributors_table(repo_catalog_writer_t *w)
{
	return optional_table(w, CATALOG_DB_CONTRIBUTORS, &w->contributors,
			      &w->has_contributors);
}

int repo_catalog_writer_dataset(repo_catalog_writer_t *w,
				const struct repo_dataset *d)
{
	int rc;

	if (d->contributor &&
	    repo_name_invalid_reason(d->contributor, strlen(d->contributor)))
		return -EINVAL;
	buf_reset(&w->scratch);
	rc = repo_dataset_encode(d, &w->scratch);
	if (!rc)
		rc = put(w, w->datasets, d->name, strlen(d->name),
			 w->scratch.data, w->scratch.len);
	if (!rc && d->contributor)
		rc = contributors_table(w);
	if (!rc && d->contributor)
		rc = put(w, w->contributors, d->name, strlen(d->name),
			 d->contributor, strlen(d->contributor));
	return rc;
}

int repo_catalog_writer_inode(repo_catalog_writer_t *w,
			      const struct repo_inode *i)
{
	uint8_t key[8];
	int rc;

	store_be64(key, i->ino);
	buf_reset(&w->scratch);
	rc = repo_inode_encode(i, &w->scratch);
	return rc ? rc
		  : put(w, w->inodes, key, sizeof(key), w->scratch.data,
			w->scratch.len);
}

int repo_catalog_writer_dirent(repo_catalog_writer_t *w, uint64_t parent,
			       const char *name, size_t name_len, uint64_t ino,
			       uint32_t mode_type)
{
	uint8_t key[8 + REPO_NAME_MAX], val[12];
	size_t key_len;

	if (name_len == 0 || name_len > REPO_NAME_MAX)
		return -EINVAL;
	key_len = repo_dirent_key(parent, name, name_len, key);
	for (int i = 0; i < 8; i++)
		val[i] = ino >> (8 * i);
	for (int i = 0; i < 4; i++)
		val[8 + i] = mode_type >> (8 * i);
	return put(w, w->dirents, key, key_len, val, sizeof(val));
}

int repo_catalog_writer_chunk(repo_catalog_writer_t *w, uint32_t id,
			      const struct repo_chunk *c)
{
	uint8_t key[4];
	int rc;

	store_be32(key, id);
	buf_reset(&w->scratch);
	rc = repo_chunk_record_encode(c, &w->scratch);
	if (!rc)
		rc = put(w, w->chunks, key, sizeof(key), w->scratch.data,
			 w->scratch.len);
	/* a zstd frame only: a raw chunk's stored bytes are its bytes, and
	 * an encrypted one has its tag */
	if (!rc && repo_chunk_frame_checked(c)) {
		rc = optional_table(w, CATALOG_DB_STORED_DIGESTS,
				    &w->stored_digests, &w->has_stored_digests);
		if (!rc)
			rc = put(w, w->stored_digests, key, sizeof(key),
				 c->stored_digest.b, DIGEST_LEN);
	}
	return rc;
}

/* Compress the file at in_fd into the new file object_path, hashing the
 * compressed bytes as they are written. */
static int compress_file(int in_fd, const char *object_path,
			 struct digest *digest, uint64_t *size)
{
	size_t in_cap = ZSTD_CStreamInSize(), out_cap = ZSTD_CStreamOutSize();
	uint8_t *in = xmalloc(in_cap), *outb = xmalloc(out_cap);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	sha256_ctx_t *sha = sha256_new();
	uint64_t total = 0;
	int out_fd, rc = 0;
	bool done = false;
	struct stat st;

	out_fd =
	    open(object_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		rc = -errno;
		goto out;
	}
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
			       CATALOG_ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (lseek(in_fd, 0, SEEK_SET) < 0 || fstat(in_fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	/* sized to the catalog: level 9's tables for an unknown size are
	 * tens of MiB, cleared per catalog (8 % of a pack's CPU) */
	ZSTD_CCtx_setPledgedSrcSize(cctx, (unsigned long long)st.st_size);
	while (!done) {
		ssize_t n = read(in_fd, in, in_cap);
		ZSTD_EndDirective mode = ZSTD_e_continue;
		ZSTD_inBuffer ib = {in, 0, 0};
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			mode = ZSTD_e_end;
			done = true;
		}
		ib.size = (size_t)n;
		do {
			ZSTD_outBuffer ob = {outb, out_cap, 0};

			left = ZSTD_compressStream2(cctx, &ob, &ib, mode);
			if (ZSTD_isError(left)) {
				log_error("catalog compression failed: %s",
					  ZSTD_getErrorName(left));
				rc = -EIO;
				goto out;
			}
			sha256_update(sha, outb, ob.pos);
			total += ob.pos;
			rc = fs_write_all(out_fd, outb, ob.pos);
			if (rc)
				goto out;
		} while (mode == ZSTD_e_end ? left != 0 : ib.pos < ib.size);
	}
	if (fsync(out_fd) != 0)
		rc = -errno;
	sha256_final(sha, digest);
	*size = total;
out:
	if (out_fd >= 0 && close(out_fd) != 0 && !rc)
		rc = -errno;
	if (rc && out_fd >= 0)
		unlink(object_path);
	free(in);
	free(outb);
	ZSTD_freeCCtx(cctx);
	sha256_free(sha);
	return rc;
}

struct trimmer {
	MDB_env *env;
	void *addr;
	size_t len;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop; /* protected by lock */
};

/* Keeps trimming while the compacting copy walks the whole map. */
static void *trimmer_main(void *arg)
{
	struct trimmer *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* the copy reads ~1 GB/s: this bounds what it keeps mapped */
		ts.tv_nsec += 5 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
		madvise(t->addr, t->len, MADV_DONTNEED);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int compact_copy(MDB_env *env, int fd)
{
	struct trimmer t = {.env = env};
	pthread_t thread;
	bool started;
	int rc;

	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.cond, NULL);
	started = catalog_lmdb_map(env, &t.addr, &t.len) == 0 &&
		  pthread_create(&thread, NULL, trimmer_main, &t) == 0;
	rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
	if (started) {
		pthread_mutex_lock(&t.lock);
		t.stop = true;
		pthread_cond_signal(&t.cond);
		pthread_mutex_unlock(&t.lock);
		pthread_join(thread, NULL);
	}
	pthread_mutex_destroy(&t.lock);
	pthread_cond_destroy(&t.cond);
	env_trim(env);
	return rc;
}

int repo_catalog_writer_seal(repo_catalog_writer_t *w)
{
	int rc;

	if (w->sealed)
		return -EINVAL;
	w->sealed = true;
	rc = mdb_txn_commit(w->txn);
	w->txn = NULL;
	return rc ? lmdb_errno(rc, "catalog commit") : 0;
}

int repo_catalog_writer_finish(repo_catalog_writer_t *w,
			       const char *object_path, struct digest *digest,
			       uint64_t *size)
{
	char *copy = xasprintf("%s/compact.mdb", w->dir);
	int fd = -1, rc = 0;

	if (w->finished) {
		rc = -EINVAL;
		goto out;
	}
	w->finished = true;
	if (!w->sealed)
		rc = repo_catalog_writer_seal(w);
	if (rc)
		goto out;
	fd = open(copy, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = compact_copy(w->env, fd);
	if (rc) {
		rc = lmdb_errno(rc, "catalog compaction");
		goto out;
	}
	rc = compress_file(fd, object_path, digest, size);
out:
	if (fd >= 0)
		close(fd);
	unlink(copy);
	free(copy);
	return rc;
}

void repo_catalog_writer_free(repo_catalog_writer_t *w)
{
	if (!w)
		return;
	if (w->txn)
		mdb_txn_abort(w->txn);
	if (w->env)
		mdb_env_close(w->env);
	fs_remove_tree(w->dir);
	free(w->dir);
	buf_release(&w->scratch);
	free(w);
}

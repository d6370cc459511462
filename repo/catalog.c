/* Reading catalogs: LMDB files mapped read-only, never loaded. */
#include "repo.h"
#include "catalog_int.h"
#include "log.h"
#include "lmdb_env.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <pthread.h>

#include "fsutil.h"

#include "banned.h"

struct repo_catalog {
	MDB_env *env;
	void *map_addr; /* found on first trim; the map never moves */
	size_t map_len;
	MDB_dbi meta, datasets, inodes, dirents, chunks, contributors;
	bool has_datasets, has_inodes, has_dirents, has_chunks;
	bool has_contributors; /* absent before FORMAT.md §5.8 */
	MDB_dbi stored_digests;
	bool has_stored_digests; /* absent before FORMAT.md §5.9 */
};

static bool open_dbi(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
	return mdb_dbi_open(txn, name, 0, dbi) == 0;
}

int repo_catalog_open(const char *path, repo_catalog_t **out)
{
	repo_catalog_t *cat = xcalloc(1, sizeof(*cat));
	MDB_txn *txn = NULL;
	struct stat st;
	int rc;

	if (stat(path, &st) != 0) {
		rc = -errno;
		free(cat);
		return rc;
	}
	/* immutable file: no lock file, no writer, readers need no slots;
	 * kernel readahead on: a directory walk reads the file in order */
	rc = lmdb_env_open(path, CATALOG_MAX_DBS, (size_t)st.st_size,
			   MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS,
			   0444, &cat->env);
	if (!rc) {
		/* a short file would fault (SIGBUS) when its pages are read */
		MDB_envinfo info;
		MDB_stat est;

		if (mdb_env_info(cat->env, &info) == 0 &&
		    mdb_env_stat(cat->env, &est) == 0 &&
		    ((uint64_t)info.me_last_pgno + 1) * est.ms_psize >
			(uint64_t)st.st_size) {
			log_error("catalog '%s': truncated", path);
			rc = -EINVAL;
			goto fail;
		}
		rc = mdb_txn_begin(cat->env, NULL, MDB_RDONLY, &txn);
	}
	if (rc) {
		log_error("catalog '%s': %s", path, mdb_strerror(rc));
		rc = rc == ENOENT ? -ENOENT : -EINVAL;
		goto fail;
	}
	if (!open_dbi(txn, CATALOG_DB_META, &cat->meta)) {
		log_error("catalog '%s': no meta table", path);
		rc = -EINVAL;
		goto fail;
	}
	{
		/* refuse a catalog of a format this reader does not know */
		MDB_val k = {6, (void *)"format"}, v;

		if (mdb_get(txn, cat->meta, &k, &v) || v.mv_size != 1 ||
		    *(const char *)v.mv_data != '1') {
			log_error("catalog '%s': unsupported format", path);
			rc = -EPROTONOSUPPORT;
			goto fail;
		}
	}
	cat->has_datasets = open_dbi(txn, CATALOG_DB_DATASETS, &cat->datasets);
	cat->has_inodes = open_dbi(txn, CATALOG_DB_INODES, &cat->inodes);
	cat->has_dirents = open_dbi(txn, CATALOG_DB_DIRENTS, &cat->dirents);
	cat->has_chunks = open_dbi(txn, CATALOG_DB_CHUNKS, &cat->chunks);
	cat->has_contributors =
	    open_dbi(txn, CATALOG_DB_CONTRIBUTORS, &cat->contributors);
	cat->has_stored_digests =
	    open_dbi(txn, CATALOG_DB_STORED_DIGESTS, &cat->stored_digests);
	/* handles opened in a transaction survive only if it commits */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		rc = lmdb_errno(rc, "catalog open");
		goto fail;
	}
	*out = cat;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(cat->env);
	free(cat);
	return rc;
}

int catalog_lmdb_map(MDB_env *env, void **addr, size_t *len)
{
	unsigned long start, end, inode;
	unsigned dev_major, dev_minor;
	mdb_filehandle_t fd;
	struct stat st;
	char line[512];
	int rc = -ENOENT;
	FILE *f;

	if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0)
		return -ENOENT;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &start, &end,
			   &dev_major, &dev_minor, &inode) != 5)
			continue;
		if (inode == (unsigned long)st.st_ino &&
		    makedev(dev_major, dev_minor) == st.st_dev) {
			*addr = (void *)start;
			*len = end - start;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

void catalog_lmdb_trim(MDB_env *env)
{
	void *addr;
	size_t len;

	if (catalog_lmdb_map(env, &addr, &len) == 0)
		madvise(addr, len, MADV_DONTNEED);
}

void repo_catalog_trim(repo_catalog_t *cat)
{
	if (!cat->map_len &&
	    catalog_lmdb_map(cat->env, &cat->map_addr, &cat->map_len) != 0)
		return;
	madvise(cat->map_addr, cat->map_len, MADV_DONTNEED);
}

void repo_catalog_free(repo_catalog_t *cat)
{
	if (!cat)
		return;
	mdb_env_close(cat->env);
	free(cat);
}

static int get(repo_catalog_t *cat, MDB_dbi dbi, bool present, void *key,
	       size_t key_len, MDB_txn **txn, MDB_val *val)
{
	MDB_val k = {key_len, key};
	int rc;

	if (!present)
		return -ENOENT;
	rc = mdb_txn_begin(cat->env, NULL, MDB_RDONLY, txn);
	if (rc)
		return lmdb_errno(rc, "catalog read");
	rc = mdb_get(*txn, dbi, &k, val);
	if (rc) {
		mdb_txn_abort(*txn);
		*txn = NULL;
		return lmdb_errno(rc, "catalog read");
	}
	return 0;
}

int repo_catalog_meta(repo_catalog_t *cat, const char *key, char **out)
{
	MDB_txn *txn;
	MDB_val v;
	int rc = get(cat, cat->meta, true, (void *)key, strlen(key), &txn, &v);

	if (rc)
		return rc;
	*out = xstrndup(v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	return 0;
}

/*
 * The contributor of dataset d (decoded) into d->contributor, read in
 * txn: NULL when the catalog has no contributors table or no entry for
 * d. A label that breaks FORMAT.md §7 makes the record malformed.
 */
static int contributor_get(repo_catalog_t *cat, MDB_txn *txn,
			   struct repo_dataset *d)
{
	MDB_val k = {strlen(d->name), d->name}, v;
	int rc;

	if (!cat->has_contributors)
		return 0;
	rc = mdb_get(txn, cat->contributors, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_errno(rc, "catalog read");
	if (repo_name_invalid_reason(v.mv_data, v.mv_size)) {
		char *en = log_escape(d->name);

		log_error("catalog: dataset '%s': invalid contributor label",
			  en);
		free(en);
		return -EINVAL;
	}
	d->contributor = xstrndup(v.mv_data, v.mv_size);
	return 0;
}

int repo_catalog_dataset(repo_catalog_t *cat, const char *name,
			 struct repo_dataset *out)
{
	MDB_txn *txn;
	MDB_val v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(name) > REPO_NAME_MAX || !*name)
		return -ENOENT;
	rc = get(cat, cat->datasets, cat->has_datasets, (void *)name,
		 strlen(name), &txn, &v);
	if (rc)
		return rc;
	rc = repo_dataset_decode(name, strlen(name), v.mv_data, v.mv_size, out);
	if (!rc) {
		rc = contributor_get(cat, txn, out);
		if (rc)
			repo_dataset_release(out);
	}
	mdb_txn_abort(txn);
	return rc;
}

int repo_catalog_datasets(repo_catalog_t *cat, repo_dataset_cb cb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	if (!cat->has_datasets)
		return -EINVAL;
	rc = mdb_txn_begin(cat->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(rc, "catalog read");
	rc = mdb_cursor_open(txn, cat->datasets, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_errno(rc, "catalog cursor");
	}
	for (;;) {
		struct repo_dataset d;

		rc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			rc = lmdb_errno(rc, "catalog scan");
			break;
		}
		rc = repo_dataset_decode(k.mv_data, k.mv_size, v.mv_data,
					 v.mv_size, &d);
		if (rc)
			break;
		rc = contributor_get(cat, txn, &d);
		if (!rc)
			rc = cb(ctx, &d);
		repo_dataset_release(&d);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int repo_catalog_inode(repo_catalog_t *cat, uint64_t ino,
		       struct repo_inode *out)
{
	uint8_t key[8];
	MDB_txn *txn;
	MDB_val v;
	int rc;

	memset(out, 0, sizeof(*out));
	store_be64(key, ino);
	rc = get(cat, cat->inodes, cat->has_inodes, key, sizeof(key), &txn, &v);
	if (rc)
		return rc;
	rc = repo_inode_decode(ino, v.mv_data, v.mv_size, out);
	mdb_txn_abort(txn);
	return rc;
}

static int dirent_value(const MDB_val *v, uint64_t *ino, uint32_t *type)
{
	if (v->mv_size != 12)
		return -EINVAL;
	*ino = load_le64(v->mv_data);
	*type = load_le32((const uint8_t *)v->mv_data + 8);
	return 0;
}

int repo_catalog_lookup(repo_catalog_t *cat, uint64_t parent, const char *name,
			size_t name_len, uint64_t *ino, uint32_t *mode_type)
{
	uint8_t key[8 + REPO_NAME_MAX];
	size_t key_len;
	MDB_txn *txn;
	MDB_val v;
	int rc;

	if (name_len == 0 || name_len > REPO_NAME_MAX)
		return -ENOENT;
	key_len = repo_dirent_key(parent, name, name_len, key);
	rc = get(cat, cat->dirents, cat->has_dirents, key, key_len, &txn, &v);
	if (rc)
		return rc;
	rc = dirent_value(&v, ino, mode_type);
	mdb_txn_abort(txn);
	return rc;
}

int repo_catalog_readdir(repo_catalog_t *cat, uint64_t parent,
			 uint64_t after_ino, repo_dirent_cb cb, void *ctx)
{
	uint8_t key[8 + REPO_NAME_MAX];
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if (!cat->has_dirents)
		return -EINVAL;
	k.mv_data = key;
	k.mv_size = 8;
	store_be64(key, parent);
	if (after_ino) {
		struct repo_inode prev;

		rc = repo_catalog_inode(cat, after_ino, &prev);
		if (rc)
			return rc;
		if (prev.parent != parent) {
			repo_inode_release(&prev);
			return -EINVAL;
		}
		k.mv_size =
		    repo_dirent_key(parent, prev.name, strlen(prev.name), key);
		repo_inode_release(&prev);
	}
	rc = mdb_txn_begin(cat->env, NULL, MDB_RDONLY, &txn);
	if (!rc)
		rc = mdb_cursor_open(txn, cat->dirents, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	/* resuming: skip the entry we stopped after */
	if (!rc && after_ino && k.mv_size >= 8 &&
	    load_be64(k.mv_data) == parent) {
		uint64_t ino;
		uint32_t type;

		if (dirent_value(&v, &ino, &type) == 0 && ino == after_ino)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	while (!rc) {
		uint64_t ino;
		uint32_t type;

		if (k.mv_size <= 8 || load_be64(k.mv_data) != parent)
			break;
		rc = dirent_value(&v, &ino, &type);
		if (rc)
			break;
		rc = cb(ctx, (const char *)k.mv_data + 8, k.mv_size - 8, ino,
			type);
		if (rc)
			goto out;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc > 0)
		rc = lmdb_errno(rc, "catalog readdir");
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int repo_catalog_chunk(repo_catalog_t *cat, uint32_t id, struct repo_chunk *out)
{
	uint8_t key[4];
	MDB_txn *txn;
	MDB_val v;
	int rc;

	store_be32(key, id);
	rc = get(cat, cat->chunks, cat->has_chunks, key, sizeof(key), &txn, &v);
	if (rc)
		return rc;
	rc = repo_chunk_record_decode(v.mv_data, v.mv_size, out);
	/* an entry for a chunk that is not a plain zstd frame is ignored,
	 * whatever it holds (FORMAT.md §5.9) */
	if (!rc && cat->has_stored_digests && out->flags == REPO_CHUNK_ZSTD) {
		MDB_val k = {sizeof(key), key};

		rc = mdb_get(txn, cat->stored_digests, &k, &v);
		if (rc == MDB_NOTFOUND) {
			rc = 0; /* verified by its decoded bytes */
		} else if (rc) {
			rc = lmdb_errno(rc, "catalog read");
		} else if (v.mv_size != DIGEST_LEN) {
			rc = -EINVAL;
		} else {
			memcpy(out->stored_digest.b, v.mv_data, DIGEST_LEN);
			out->has_stored_digest = true;
		}
	}
	mdb_txn_abort(txn);
	return rc;
}

int repo_catalog_chunk_count(repo_catalog_t *cat, uint32_t *count)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	*count = 0;
	if (!cat->has_chunks)
		return 0;
	rc = mdb_txn_begin(cat->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(rc, "catalog read");
	rc = mdb_stat(txn, cat->chunks, &st);
	mdb_txn_abort(txn);
	if (rc)
		return lmdb_errno(rc, "catalog stat");
	*count = (uint32_t)st.ms_entries;
	return 0;
}

/*
 * FORMAT.md §1: nothing is parsed before its digest verifies, and zstd
 * parses. So the object is read twice: hashed whole, then decompressed
 * (a catalog is on local disk by now, and small next to its dataset).
 */
int repo_catalog_unpack(const char *object_path, const struct digest *expect,
			const char *out_path)
{
	char *tmp = xasprintf("%s.tmp.%d.%lx", out_path, (int)getpid(),
			      (unsigned long)pthread_self());
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
	uint8_t *in = xmalloc(in_cap), *outb = xmalloc(out_cap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int fd_in = -1, fd_out = -1, rc = 0;
	size_t last = 1;
	struct digest got;
	bool any = false;

	fd_in = open(object_path, O_RDONLY | O_CLOEXEC);
	if (fd_in < 0) {
		rc = -errno;
		goto out;
	}
	if (expect) {
		rc = sha256_fd(fd_in, &got, NULL);
		if (rc)
			goto out;
		if (!digest_equal(&got, expect)) {
			rc = -EBADMSG;
			goto out;
		}
		if (lseek(fd_in, 0, SEEK_SET) != 0) {
			rc = -errno;
			goto out;
		}
	}
	fd_out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd_out < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd_in, in, in_cap);
		ZSTD_inBuffer ib = {in, 0, 0};

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		any = true;
		ib.size = (size_t)n;
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {outb, out_cap, 0};

			last = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(last)) {
				log_error("catalog object '%s': %s",
					  object_path, ZSTD_getErrorName(last));
				rc = -EINVAL;
				goto out;
			}
			rc = fs_write_all(fd_out, outb, ob.pos);
			if (rc)
				goto out;
		}
	}
	if (!any || last != 0) {
		log_error("catalog object '%s': truncated zstd frame",
			  object_path);
		rc = -EINVAL;
		goto out;
	}
	if (fsync(fd_out) != 0) {
		rc = -errno;
		goto out;
	}
	if (close(fd_out) != 0) {
		fd_out = -1;
		rc = -errno;
		goto out;
	}
	fd_out = -1;
	if (rename(tmp, out_path) != 0)
		rc = -errno;
out:
	if (fd_in >= 0)
		close(fd_in);
	if (fd_out >= 0)
		close(fd_out);
	if (rc)
		unlink(tmp);
	free(tmp);
	free(in);
	free(outb);
	ZSTD_freeDCtx(dctx);
	return rc;
}

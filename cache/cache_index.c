/*
 * The chunk index: an LMDB environment shared by every process that uses
 * the cache directory (LMDB's own lock file serialises writers).
 *   chunks: digest(32) -> size u64 LE, atime u64 LE
 *   lru:    atime u64 BE ++ digest(32) -> (empty)    oldest first
 *   meta:   "bytes" -> u64 LE total of sizes
 * The environment is opened with MDB_NOSYNC: a crashed process never
 * corrupts it (LMDB is copy-on-write); a power loss may lose recent
 * entries, whose files are then re-indexed or refetched.
 */
#include "cache_int.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "lmdb_env.h"
#include "xalloc.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define INDEX_MAPSIZE ((size_t)16 << 30)

struct cache_index {
	MDB_env *env;
	MDB_dbi chunks, lru, meta;
};

static int index_error(const char *what, int rc)
{
	char label[64];

	snprintf(label, sizeof(label), "cache index: %s", what);
	return lmdb_errno(rc, label);
}

int cache_index_open(const char *dir, struct cache_index **out)
{
	struct cache_index *ix = xcalloc(1, sizeof(*ix));
	MDB_txn *txn = NULL;
	int rc;

	rc = lmdb_env_open(dir, 4, INDEX_MAPSIZE,
			   MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD, 0600,
			   &ix->env);
	if (!rc)
		rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &ix->chunks);
	if (!rc)
		rc = mdb_dbi_open(txn, "lru", MDB_CREATE, &ix->lru);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta);
	if (!rc) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc) {
		rc = index_error("open", rc);
		goto fail;
	}
	*out = ix;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	cache_index_close(ix);
	return rc;
}

void cache_index_close(struct cache_index *ix)
{
	if (!ix)
		return;
	if (ix->env) {
		mdb_env_sync(ix->env, 1);
		mdb_env_close(ix->env);
	}
	free(ix);
}

static uint64_t get_total(MDB_txn *txn, struct cache_index *ix)
{
	MDB_val k = {5, (void *)"bytes"}, v;

	if (mdb_get(txn, ix->meta, &k, &v) || v.mv_size != 8)
		return 0;
	return load_le64(v.mv_data);
}

static int put_total(MDB_txn *txn, struct cache_index *ix, uint64_t total)
{
	uint8_t b[8];
	MDB_val k = {5, (void *)"bytes"}, v = {8, b};

	for (int i = 0; i < 8; i++)
		b[i] = total >> (8 * i);
	return mdb_put(txn, ix->meta, &k, &v, 0);
}

static void lru_key(uint8_t key[40], uint64_t atime, const struct digest *d)
{
	store_be64(key, atime);
	memcpy(key + 8, d->b, DIGEST_LEN);
}

int cache_index_lookup(struct cache_index *ix, const struct digest *d,
		       uint64_t *size)
{
	MDB_val k = {DIGEST_LEN, (void *)d->b}, v;
	MDB_txn *txn;
	int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);

	if (rc)
		return index_error("read", rc);
	rc = mdb_get(txn, ix->chunks, &k, &v);
	if (!rc && v.mv_size == 16)
		*size = load_le64(v.mv_data);
	else if (!rc)
		rc = MDB_CORRUPTED;
	mdb_txn_abort(txn);
	return rc ? index_error("lookup", rc) : 0;
}

int cache_index_insert(struct cache_index *ix, const struct digest *d,
		       uint64_t size, uint64_t now)
{
	MDB_val k = {DIGEST_LEN, (void *)d->b}, v, lk;
	uint8_t val[16], lkey[40];
	MDB_txn *txn;
	int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);

	if (rc)
		return index_error("write", rc);
	rc = mdb_get(txn, ix->chunks, &k, &v);
	if (rc == 0) { /* another process stored it first */
		mdb_txn_abort(txn);
		return 0;
	}
	for (int i = 0; i < 8; i++) {
		val[i] = size >> (8 * i);
		val[8 + i] = now >> (8 * i);
	}
	v.mv_size = sizeof(val);
	v.mv_data = val;
	lru_key(lkey, now, d);
	lk.mv_size = sizeof(lkey);
	lk.mv_data = lkey;
	rc = mdb_put(txn, ix->chunks, &k, &v, 0);
	if (!rc) {
		MDB_val empty = {0, (void *)""};

		rc = mdb_put(txn, ix->lru, &lk, &empty, 0);
	}
	if (!rc)
		rc = put_total(txn, ix, get_total(txn, ix) + size);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	return rc ? index_error("insert", rc) : 0;
}

/* Delete d from chunks and lru inside txn; *size gets its size. */
static int remove_in(MDB_txn *txn, struct cache_index *ix,
		     const struct digest *d, uint64_t *size)
{
	MDB_val k = {DIGEST_LEN, (void *)d->b}, v, lk;
	uint8_t lkey[40];
	int rc = mdb_get(txn, ix->chunks, &k, &v);

	if (rc)
		return rc;
	if (v.mv_size != 16)
		return MDB_CORRUPTED;
	*size = load_le64(v.mv_data);
	lru_key(lkey, load_le64((const uint8_t *)v.mv_data + 8), d);
	lk.mv_size = sizeof(lkey);
	lk.mv_data = lkey;
	rc = mdb_del(txn, ix->chunks, &k, NULL);
	if (!rc) {
		rc = mdb_del(txn, ix->lru, &lk, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (!rc) {
		uint64_t total = get_total(txn, ix);

		rc = put_total(txn, ix, total > *size ? total - *size : 0);
	}
	return rc;
}

int cache_index_remove(struct cache_index *ix, const struct digest *d)
{
	MDB_txn *txn;
	uint64_t size;
	int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);

	if (rc)
		return index_error("write", rc);
	rc = remove_in(txn, ix, d, &size);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	return rc ? index_error("remove", rc) : 0;
}

int cache_index_touch(struct cache_index *ix, const struct digest *list,
		      size_t n, uint64_t now)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ix->env, NULL, 0, &txn);

	if (rc)
		return index_error("write", rc);
	for (size_t i = 0; !rc && i < n; i++) {
		MDB_val k = {DIGEST_LEN, (void *)list[i].b}, v, lk;
		uint8_t val[16], lkey[40];
		MDB_val empty = {0, (void *)""};
		uint64_t old;

		if (mdb_get(txn, ix->chunks, &k, &v) || v.mv_size != 16)
			continue; /* evicted meanwhile */
		old = load_le64((const uint8_t *)v.mv_data + 8);
		if (old >= now)
			continue;
		memcpy(val, v.mv_data, 8);
		for (int b = 0; b < 8; b++)
			val[8 + b] = now >> (8 * b);
		lru_key(lkey, old, &list[i]);
		lk.mv_size = sizeof(lkey);
		lk.mv_data = lkey;
		mdb_del(txn, ix->lru, &lk, NULL);
		lru_key(lkey, now, &list[i]);
		v.mv_size = sizeof(val);
		v.mv_data = val;
		rc = mdb_put(txn, ix->chunks, &k, &v, 0);
		if (!rc)
			rc = mdb_put(txn, ix->lru, &lk, &empty, 0);
	}
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	return rc ? index_error("touch", rc) : 0;
}

int cache_index_evict(struct cache_index *ix, uint64_t target,
		      cache_pinned_fn pinned, cache_drop_fn drop, void *ctx,
		      uint64_t *evicted)
{
	struct digest *victims = NULL;
	size_t nvictims = 0, alloc = 0;
	MDB_cursor *cur = NULL;
	uint64_t total, freed = 0;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*evicted = 0;
	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		return index_error("write", rc);
	total = get_total(txn, ix);
	rc = mdb_cursor_open(txn, ix->lru, &cur);
	/* oldest first: choose victims, then delete them */
	while (!rc && total - freed > target) {
		MDB_val ck, cv;
		struct digest d;

		rc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (rc)
			break;
		if (k.mv_size != 40)
			continue;
		memcpy(d.b, (const uint8_t *)k.mv_data + 8, DIGEST_LEN);
		if (pinned(ctx, &d))
			continue;
		ck.mv_size = DIGEST_LEN;
		ck.mv_data = d.b;
		if (mdb_get(txn, ix->chunks, &ck, &cv) || cv.mv_size != 16)
			continue;
		freed += load_le64(cv.mv_data);
		if (nvictims == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			victims = xrealloc(victims, alloc * sizeof(*victims));
		}
		victims[nvictims++] = d;
	}
	if (cur)
		mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0; /* everything left is pinned */
	for (size_t i = 0; !rc && i < nvictims; i++) {
		uint64_t size;

		rc = remove_in(txn, ix, &victims[i], &size);
		if (!rc)
			drop(ctx, &victims[i]);
	}
	if (!rc) {
		rc = mdb_txn_commit(txn);
		if (!rc)
			*evicted = nvictims;
	} else {
		mdb_txn_abort(txn);
	}
	free(victims);
	return rc ? index_error("evict", rc) : 0;
}

int cache_index_totals(struct cache_index *ix, uint64_t *bytes, uint64_t *count)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);

	if (rc)
		return index_error("read", rc);
	*bytes = get_total(txn, ix);
	rc = mdb_stat(txn, ix->chunks, &st);
	*count = rc ? 0 : st.ms_entries;
	mdb_txn_abort(txn);
	return rc ? index_error("stat", rc) : 0;
}

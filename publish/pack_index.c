/* The packer's dedup index: an LMDB environment in scratch space, so
 * memory stays bounded however many chunks the repository holds. */
#include "publish_int.h"
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

#define INDEX_BATCH 20000

struct pack_index {
	MDB_env *env;
	MDB_txn *txn; /* one long write transaction, committed in batches */
	MDB_dbi global, local, ids;
	size_t pending;
	uint32_t local_count;
};

static int index_error(const char *what, int rc)
{
	char label[64];

	snprintf(label, sizeof(label), "pack index: %s", what);
	return lmdb_errno(rc, label);
}

static int index_txn(struct pack_index *ix)
{
	int rc;

	if (ix->txn && ix->pending < INDEX_BATCH)
		return 0;
	if (ix->txn) {
		rc = mdb_txn_commit(ix->txn);
		ix->txn = NULL;
		if (rc)
			return index_error("commit", rc);
	}
	ix->pending = 0;
	rc = mdb_txn_begin(ix->env, NULL, 0, &ix->txn);
	return rc ? index_error("transaction", rc) : 0;
}

int pack_index_new(const char *dir, struct pack_index **out)
{
	struct pack_index *ix = xcalloc(1, sizeof(*ix));
	int rc;

	rc = lmdb_env_open(dir, 4, (size_t)256 << 30,
			   MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600,
			   &ix->env);
	if (rc) {
		rc = index_error("open", rc);
		goto fail;
	}
	rc = index_txn(ix);
	if (!rc)
		rc = mdb_dbi_open(ix->txn, "global", MDB_CREATE, &ix->global);
	if (!rc)
		rc = mdb_dbi_open(ix->txn, "local", MDB_CREATE, &ix->local);
	if (!rc)
		rc = mdb_dbi_open(ix->txn, "ids", MDB_CREATE, &ix->ids);
	if (rc) {
		rc = rc < 0 ? rc : index_error("tables", rc);
		goto fail;
	}
	*out = ix;
	return 0;
fail:
	pack_index_free(ix);
	return rc;
}

void pack_index_free(struct pack_index *ix)
{
	if (!ix)
		return;
	if (ix->txn)
		mdb_txn_abort(ix->txn);
	if (ix->env)
		mdb_env_close(ix->env);
	free(ix);
}

void pack_secure_index_key(const char *dataset, const struct digest *d,
			   struct digest *key)
{
	sha256_ctx_t *sha = sha256_new();

	sha256_update(sha, "aidata-secure-chunk", 20);
	sha256_update(sha, dataset, strlen(dataset) + 1);
	sha256_update(sha, d->b, DIGEST_LEN);
	sha256_final(sha, key);
	sha256_free(sha);
}

int pack_index_get(struct pack_index *ix, const struct digest *key,
		   struct pack_location *loc)
{
	MDB_val k = {DIGEST_LEN, (void *)key->b}, v;
	int rc = index_txn(ix);

	if (rc)
		return rc;
	rc = mdb_get(ix->txn, ix->global, &k, &v);
	if (rc)
		return index_error("lookup", rc);
	/* the chunk record, shard_seq (8), this_run (1), and the stored
	 * digest (32) if the chunk has one */
	if (v.mv_size < 9)
		return -EIO;
	{
		const uint8_t *p = v.mv_data;
		size_t n = v.mv_size - 9, tail = 0;

		if (n > REPO_CHUNK_RECORD_LEN)
			tail = DIGEST_LEN;
		rc = repo_chunk_record_decode(p, n - tail, &loc->chunk);
		if (rc || (tail && n != REPO_CHUNK_RECORD_LEN + tail))
			return -EIO;
		if (tail) {
			memcpy(loc->chunk.stored_digest.b, p + n - tail,
			       DIGEST_LEN);
			loc->chunk.has_stored_digest = true;
		}
		loc->shard_seq = load_le64(p + n);
		loc->this_run = p[n + 8] != 0;
	}
	return 0;
}

int pack_index_put(struct pack_index *ix, const struct digest *key,
		   const struct pack_location *loc)
{
	MDB_val k = {DIGEST_LEN, (void *)key->b}, v;
	struct buf b;
	int rc;

	buf_init(&b, 4096);
	rc = repo_chunk_record_encode(&loc->chunk, &b);
	if (!rc && loc->chunk.has_stored_digest)
		rc = buf_append(&b, loc->chunk.stored_digest.b, DIGEST_LEN);
	rc = rc ? rc : buf_put_le64(&b, loc->shard_seq);
	rc = rc ? rc : buf_put_u8(&b, loc->this_run);
	if (!rc)
		rc = index_txn(ix);
	if (!rc) {
		v.mv_size = b.len;
		v.mv_data = b.data;
		rc = mdb_put(ix->txn, ix->global, &k, &v, 0);
		rc = rc ? index_error("insert", rc) : 0;
		ix->pending++;
	}
	buf_release(&b);
	return rc;
}

int pack_index_local_id(struct pack_index *ix, const struct digest *d,
			uint32_t *id, bool *created)
{
	MDB_val k = {DIGEST_LEN, (void *)d->b}, v;
	uint8_t idkey[4];
	int rc = index_txn(ix);

	if (rc)
		return rc;
	*created = false;
	rc = mdb_get(ix->txn, ix->local, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		*id = load_le32(v.mv_data);
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return index_error("local lookup", rc ? rc : MDB_CORRUPTED);
	*id = ix->local_count;
	{
		uint8_t val[4] = {*id, *id >> 8, *id >> 16, *id >> 24};
		MDB_val vv = {4, val}, ik = {4, idkey},
			dv = {DIGEST_LEN, (void *)d->b};

		store_be32(idkey, *id);
		rc = mdb_put(ix->txn, ix->local, &k, &vv, 0);
		if (!rc)
			rc = mdb_put(ix->txn, ix->ids, &ik, &dv, 0);
		if (rc)
			return index_error("local insert", rc);
	}
	ix->pending += 2;
	ix->local_count++;
	*created = true;
	return 0;
}

int pack_index_local_digest(struct pack_index *ix, uint32_t id,
			    struct digest *d)
{
	uint8_t idkey[4];
	MDB_val k = {4, idkey}, v;
	int rc = index_txn(ix);

	if (rc)
		return rc;
	store_be32(idkey, id);
	rc = mdb_get(ix->txn, ix->ids, &k, &v);
	if (rc)
		return index_error("id lookup", rc);
	if (v.mv_size != DIGEST_LEN)
		return -EIO;
	memcpy(d->b, v.mv_data, DIGEST_LEN);
	return 0;
}

uint32_t pack_index_local_count(struct pack_index *ix)
{
	return ix->local_count;
}

int pack_index_dataset_reset(struct pack_index *ix)
{
	int rc = index_txn(ix);

	if (rc)
		return rc;
	rc = mdb_drop(ix->txn, ix->local, 0);
	if (!rc)
		rc = mdb_drop(ix->txn, ix->ids, 0);
	if (rc)
		return index_error("reset", rc);
	ix->local_count = 0;
	return 0;
}

int pack_index_commit(struct pack_index *ix)
{
	int rc;

	if (!ix->txn)
		return 0;
	rc = mdb_txn_commit(ix->txn);
	ix->txn = NULL;
	ix->pending = 0;
	return rc ? index_error("commit", rc) : 0;
}

struct pack_index_reader {
	MDB_txn *txn; /* reset between lookups, so each sees the last commit */
	MDB_dbi global;
};

int pack_index_reader_new(struct pack_index *ix, struct pack_index_reader **out)
{
	struct pack_index_reader *r = xcalloc(1, sizeof(*r));
	int rc;

	/* MDB_NOTLS: a read transaction may live on any thread */
	rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &r->txn);
	if (rc) {
		free(r);
		return index_error("reader", rc);
	}
	mdb_txn_reset(r->txn);
	r->global = ix->global;
	*out = r;
	return 0;
}

bool pack_index_reader_has(struct pack_index_reader *r,
			   const struct digest *key)
{
	MDB_val k = {DIGEST_LEN, (void *)key->b}, v;
	bool found;

	if (mdb_txn_renew(r->txn) != 0)
		return false;
	found = mdb_get(r->txn, r->global, &k, &v) == 0;
	mdb_txn_reset(r->txn);
	return found;
}

void pack_index_reader_free(struct pack_index_reader *r)
{
	if (!r)
		return;
	mdb_txn_abort(r->txn);
	free(r);
}

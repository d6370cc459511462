/*
 * The packer's data path: chunks are hashed by the caller's thread,
 * compressed by worker threads, and appended to shards in submission
 * order (so a pack is deterministic) by the caller's thread; a closed
 * shard is fsynced and moved into place by the finisher.
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "auth.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define SHARD_IN_FLIGHT (UINT64_MAX - 1)

enum job_state { JOB_FREE, JOB_QUEUED, JOB_BUSY, JOB_DONE };

struct job {
	uint8_t *raw;
	size_t len;
	struct digest digest;
	struct digest ikey; /* index key */
	bool encrypt;
	uint8_t key[AUTH_DATASET_KEY_LEN];
	struct buf framed;
	struct buf out;
	uint32_t flags;
	struct digest stored; /* of out, for a zstd frame (FORMAT.md §5.9) */
	int rc;
	enum job_state state; /* protected by pp->lock */
};

struct pack_pipeline {
	char *objects_dir;
	struct pack_index *ix;
	int level;
	uint64_t shard_size;
	size_t chunk_cap; /* size of every chunk buffer (job->raw) */
	struct pack_stats *stats;
	struct pack_finisher *fin; /* puts closed shards in place */
	char *dataset;
	bool encrypt;
	uint8_t key[AUTH_DATASET_KEY_LEN];

	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job finished */
	pthread_t *threads;
	unsigned workers;
	struct job *ring;
	unsigned ring_size;
	uint64_t head; /* next sequence to submit */
	uint64_t take; /* next sequence for a worker; protected by lock */
	uint64_t tail; /* next sequence to retire */
	bool stop;     /* protected by lock */

	int shard_fd;
	char *shard_tmp;
	uint64_t shard_len;
	uint64_t shard_seq;
	sha256_ctx_t *shard_sha;
	struct digest *closed; /* shard digest by sequence */
	size_t closed_alloc;
};

static void *worker_main(void *arg)
{
	struct pack_pipeline *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct job *job;

		while (!pp->stop && pp->take == pp->head)
			pthread_cond_wait(&pp->work, &pp->lock);
		if (pp->take == pp->head)
			break;
		job = &pp->ring[pp->take % pp->ring_size];
		pp->take++;
		job->state = JOB_BUSY;
		pthread_mutex_unlock(&pp->lock);

		buf_reset(&job->out);
		if (!job->encrypt) {
			job->rc =
			    repo_chunk_encode(job->raw, job->len, pp->level,
					      &job->out, &job->flags);
			/* hashed here, on the workers: readers check it
			 * instead of hashing what it decodes to */
			if (!job->rc && job->flags == REPO_CHUNK_ZSTD)
				sha256_buffer(job->out.data, job->out.len,
					      &job->stored);
		} else {
			/* frame (compress or not), then encrypt the frame */
			buf_reset(&job->framed);
			job->rc =
			    repo_chunk_encode(job->raw, job->len, pp->level,
					      &job->framed, &job->flags);
			if (!job->rc)
				job->rc = repo_chunk_encrypt(
				    job->key, &job->digest, job->framed.data,
				    job->framed.len, &job->out);
			job->flags |= REPO_CHUNK_ENCRYPTED;
		}

		pthread_mutex_lock(&pp->lock);
		job->state = JOB_DONE;
		pthread_cond_broadcast(&pp->done);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

int pack_pipeline_new(const char *objects_dir, struct pack_index *ix,
		      unsigned workers, int level, uint64_t shard_size,
		      size_t chunk_cap, struct pack_stats *stats,
		      struct pack_finisher *fin, struct pack_pipeline **out)
{
	struct pack_pipeline *pp = xcalloc(1, sizeof(*pp));

	pp->chunk_cap = chunk_cap;

	pp->objects_dir = xstrdup(objects_dir);
	pp->ix = ix;
	pp->level = level;
	pp->shard_size = shard_size;
	pp->stats = stats;
	pp->fin = fin;
	pp->shard_fd = -1;
	pp->shard_sha = sha256_new();
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->work, NULL);
	pthread_cond_init(&pp->done, NULL);
	pp->workers = workers ? workers : 1;
	/* one job per worker plus the one being filled: bounded memory */
	pp->ring_size = pp->workers + 2;
	pp->ring = xcalloc(pp->ring_size, sizeof(*pp->ring));
	for (unsigned i = 0; i < pp->ring_size; i++) {
		buf_init(&pp->ring[i].out, REPO_CHUNK_MAX * 2);
		buf_init(&pp->ring[i].framed, REPO_CHUNK_MAX * 2);
	}
	pp->threads = xcalloc(pp->workers, sizeof(*pp->threads));
	for (unsigned i = 0; i < pp->workers; i++) {
		int rc = pthread_create(&pp->threads[i], NULL, worker_main, pp);

		if (rc) {
			pp->workers = i;
			pack_pipeline_free(pp);
			return -rc;
		}
	}
	*out = pp;
	return 0;
}

static int shard_open(struct pack_pipeline *pp)
{
	free(pp->shard_tmp);
	pp->shard_tmp = xasprintf("%s/shard.%" PRIu64 ".tmp", pp->objects_dir,
				  pp->shard_seq);
	pp->shard_fd =
	    open(pp->shard_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (pp->shard_fd < 0) {
		int rc = -errno;

		log_error("shard '%s': %s", pp->shard_tmp, strerror(errno));
		return rc;
	}
	pp->shard_len = 0;
	return 0;
}

/* A closed shard on its way into place (run by the finisher). */
struct shard_sync {
	int fd;
	char *tmp, *path;
};

static int shard_sync_run(void *arg)
{
	struct shard_sync *s = arg;
	char *dir =
	    xstrndup(s->path, (size_t)(strrchr(s->path, '/') - s->path));
	int rc = 0;

	if (fsync(s->fd) != 0)
		rc = -errno;
	if (close(s->fd) != 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = fs_mkdir_p(dir, 0755);
	if (!rc && rename(s->tmp, s->path) != 0)
		rc = -errno;
	if (rc) {
		log_error("shard '%s': %s", s->tmp, strerror(-rc));
		unlink(s->tmp);
	}
	free(dir);
	free(s->tmp);
	free(s->path);
	free(s);
	return rc;
}

/*
 * Close the open shard: its digest (the name it gets) is known now; the
 * finisher writes it out and moves it there.
 */
static int shard_close(struct pack_pipeline *pp)
{
	struct shard_sync *s;
	char rel[128];
	struct digest d;

	if (pp->shard_fd < 0)
		return 0;
	sha256_final(pp->shard_sha, &d);
	repo_shard_object_path(&d, rel, sizeof(rel));
	s = xcalloc(1, sizeof(*s));
	s->fd = pp->shard_fd;
	s->tmp = xstrdup(pp->shard_tmp);
	s->path = xasprintf("%s/%s", pp->objects_dir, rel);
	pp->shard_fd = -1;
	if (pp->shard_seq >= pp->closed_alloc) {
		pp->closed_alloc = pp->closed_alloc ? 2 * pp->closed_alloc : 16;
		pp->closed = xrealloc(pp->closed,
				      pp->closed_alloc * sizeof(*pp->closed));
	}
	pp->closed[pp->shard_seq] = d;
	pp->shard_seq++;
	pp->stats->shards_new++;
	return pack_finisher_submit(pp->fin, shard_sync_run, s);
}

/* Wait for the oldest job, append its bytes to the shard, index it. */
static int retire_one(struct pack_pipeline *pp)
{
	struct job *job = &pp->ring[pp->tail % pp->ring_size];
	struct pack_location loc;
	int rc;

	pthread_mutex_lock(&pp->lock);
	while (job->state != JOB_DONE)
		pthread_cond_wait(&pp->done, &pp->lock);
	pthread_mutex_unlock(&pp->lock);
	pp->tail++;
	job->state = JOB_FREE;
	rc = job->rc;
	if (rc)
		return rc;
	if (pp->shard_fd >= 0 && pp->shard_len > 0 &&
	    pp->shard_len + job->out.len > pp->shard_size) {
		rc = shard_close(pp);
		if (rc)
			return rc;
	}
	if (pp->shard_fd < 0) {
		rc = shard_open(pp);
		if (rc)
			return rc;
	}
	rc = fs_write_all(pp->shard_fd, job->out.data, job->out.len);
	if (rc) {
		log_error("shard '%s': %s", pp->shard_tmp, strerror(-rc));
		return rc;
	}
	sha256_update(pp->shard_sha, job->out.data, job->out.len);
	memset(&loc, 0, sizeof(loc));
	loc.chunk.digest = job->digest;
	loc.chunk.offset = pp->shard_len;
	loc.chunk.stored_size = (uint32_t)job->out.len;
	loc.chunk.size = (uint32_t)job->len;
	loc.chunk.flags = job->flags;
	if (job->flags == REPO_CHUNK_ZSTD) {
		loc.chunk.has_stored_digest = true;
		loc.chunk.stored_digest = job->stored;
	}
	loc.shard_seq = pp->shard_seq;
	loc.this_run = true;
	pp->shard_len += job->out.len;
	pp->stats->stored_new += job->out.len;
	return pack_index_put(pp->ix, &job->ikey, &loc);
}

static int retire_all(struct pack_pipeline *pp)
{
	int rc = 0;

	while (pp->tail < pp->head) {
		int r = retire_one(pp);

		rc = rc ? rc : r;
	}
	return rc;
}

void pack_pipeline_dataset_begin(struct pack_pipeline *pp, const char *dataset,
				 const uint8_t *key)
{
	free(pp->dataset);
	pp->dataset = xstrdup(dataset);
	pp->encrypt = key != NULL;
	if (key)
		memcpy(pp->key, key, AUTH_DATASET_KEY_LEN);
	else
		explicit_bzero(pp->key, sizeof(pp->key));
}

static void index_key(struct pack_pipeline *pp, const struct digest *d,
		      struct digest *key)
{
	if (pp->encrypt)
		pack_secure_index_key(pp->dataset, d, key);
	else
		*key = *d;
}

int pack_pipeline_add(struct pack_pipeline *pp, uint8_t **raw, size_t len,
		      uint32_t *id)
{
	uint8_t *mine;
	struct pack_location loc;
	struct digest d, ikey;
	struct job *job;
	bool created;
	int rc;

	if (len > REPO_CHUNK_MAX || len > pp->chunk_cap)
		return -EINVAL;
	sha256_buffer(*raw, len, &d);
	rc = pack_index_local_id(pp->ix, &d, id, &created);
	if (rc)
		return rc;
	pp->stats->chunks++;
	if (!created)
		return 0;
	index_key(pp, &d, &ikey);
	rc = pack_index_get(pp->ix, &ikey, &loc);
	if (rc == 0) {
		/* stored by an earlier revision or dataset */
		if (!loc.this_run) {
			pp->stats->unique_bytes += len;
			loc.this_run = true;
			rc = pack_index_put(pp->ix, &ikey, &loc);
		}
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	pp->stats->unique_bytes += len;

	memset(&loc, 0, sizeof(loc));
	loc.chunk.digest = d;
	loc.chunk.size = (uint32_t)len;
	loc.shard_seq = SHARD_IN_FLIGHT;
	loc.this_run = true;
	rc = pack_index_put(pp->ix, &ikey, &loc);
	if (rc)
		return rc;
	if (pp->head - pp->tail == pp->ring_size) {
		rc = retire_one(pp);
		if (rc)
			return rc;
	}
	job = &pp->ring[pp->head % pp->ring_size];
	/* the caller's buffer becomes the job's, and the caller gets the
	 * job's last one back: the bytes are not copied (on a two-core
	 * machine the copy was an eighth of this thread's time) */
	mine = job->raw ? job->raw : xmalloc(pp->chunk_cap);
	job->raw = *raw;
	*raw = mine;
	job->len = len;
	job->digest = d;
	job->ikey = ikey;
	job->encrypt = pp->encrypt;
	memcpy(job->key, pp->key, sizeof(job->key));
	pp->stats->chunks_new++;
	pp->stats->chunk_bytes_new += len;
	pthread_mutex_lock(&pp->lock);
	job->state = JOB_QUEUED;
	pp->head++;
	pthread_cond_signal(&pp->work);
	pthread_mutex_unlock(&pp->lock);
	return 0;
}

int pack_pipeline_reuse(struct pack_pipeline *pp, const struct repo_chunk *c,
			uint32_t *id)
{
	struct pack_location loc;
	struct digest ikey;
	bool created;
	int rc;

	if (!(c->flags & REPO_CHUNK_ENCRYPTED) != !pp->encrypt)
		return -EINVAL;
	rc = pack_index_local_id(pp->ix, &c->digest, id, &created);
	if (rc)
		return rc;
	pp->stats->chunks++;
	if (!created)
		return 0;
	index_key(pp, &c->digest, &ikey);
	rc = pack_index_get(pp->ix, &ikey, &loc);
	if (rc == -ENOENT) {
		/* every chunk of the previous revision is indexed */
		memset(&loc, 0, sizeof(loc));
		loc.chunk = *c;
		loc.shard_seq = PACK_SHARD_FINAL;
	} else if (rc) {
		return rc;
	}
	if (loc.this_run)
		return 0;
	pp->stats->unique_bytes += c->size;
	loc.this_run = true;
	return pack_index_put(pp->ix, &ikey, &loc);
}

int pack_pipeline_dataset_end(struct pack_pipeline *pp,
			      repo_catalog_writer_t *w)
{
	uint32_t count = pack_index_local_count(pp->ix);
	int rc = retire_all(pp);

	if (!rc)
		rc = shard_close(pp);
	for (uint32_t id = 0; !rc && id < count; id++) {
		struct pack_location loc;
		struct digest d, ikey;

		rc = pack_index_local_digest(pp->ix, id, &d);
		index_key(pp, &d, &ikey);
		if (!rc)
			rc = pack_index_get(pp->ix, &ikey, &loc);
		if (rc)
			break;
		if (loc.shard_seq != PACK_SHARD_FINAL) {
			/* every shard of this dataset is closed by now */
			if (loc.shard_seq >= pp->shard_seq) {
				rc = -EIO;
				break;
			}
			loc.chunk.shard = pp->closed[loc.shard_seq];
			loc.shard_seq = PACK_SHARD_FINAL;
			rc = pack_index_put(pp->ix, &ikey, &loc);
			if (rc)
				break;
		}
		rc = repo_catalog_writer_chunk(w, id, &loc.chunk);
	}
	if (!rc)
		rc = pack_index_dataset_reset(pp->ix);
	return rc;
}

void pack_pipeline_free(struct pack_pipeline *pp)
{
	if (!pp)
		return;
	/* let workers finish what they hold, then stop */
	pthread_mutex_lock(&pp->lock);
	pp->stop = true;
	pthread_cond_broadcast(&pp->work);
	pthread_mutex_unlock(&pp->lock);
	for (unsigned i = 0; i < pp->workers; i++)
		pthread_join(pp->threads[i], NULL);
	if (pp->shard_fd >= 0) {
		close(pp->shard_fd);
		unlink(pp->shard_tmp);
	}
	for (unsigned i = 0; i < pp->ring_size; i++) {
		free(pp->ring[i].raw);
		buf_release(&pp->ring[i].out);
		buf_release(&pp->ring[i].framed);
		explicit_bzero(pp->ring[i].key, sizeof(pp->ring[i].key));
	}
	explicit_bzero(pp->key, sizeof(pp->key));
	free(pp->dataset);
	free(pp->ring);
	free(pp->threads);
	free(pp->closed);
	free(pp->shard_tmp);
	free(pp->objects_dir);
	sha256_free(pp->shard_sha);
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->work);
	pthread_cond_destroy(&pp->done);
	free(pp);
}

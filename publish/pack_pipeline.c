/*
 * The packer's data path: chunks are hashed and compressed by worker
 * threads (which also feed a file's running digest, in order), then, in
 * submission order (so a pack is deterministic), deduplicated, appended
 * to shards and given their ids by the caller's thread; a closed shard
 * is fsynced and moved into place by the finisher.
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

enum job_state { JOB_FREE, JOB_QUEUED, JOB_BUSY, JOB_DONE };

struct job {
	bool reuse; /* an old chunk (rec), no bytes: nothing for workers */
	struct repo_chunk rec;
	uint8_t *raw;
	size_t len;
	struct pack_chunk_sink sink;
	uint64_t ticket; /* its turn at sink.running */
	struct digest digest;
	struct digest ikey; /* index key */
	bool known;	    /* in the index already: not compressed */
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
	pthread_cond_t turn; /* a job fed its running digest */
	pthread_t *threads;
	unsigned workers;
	struct job *ring;
	unsigned ring_size;
	uint64_t head;	  /* next sequence to submit */
	uint64_t take;	  /* next sequence for a worker; protected by lock */
	uint64_t tail;	  /* next sequence to retire */
	uint64_t tickets; /* next running-digest ticket to hand out */
	uint64_t turn_at; /* ticket whose turn it is; protected by lock */
	bool committed;	  /* the index was committed: readers may look */
	bool stop;	  /* protected by lock */

	int shard_fd;
	char *shard_tmp;
	uint64_t shard_len;
	uint64_t shard_seq;
	sha256_ctx_t *shard_sha;
	struct digest *closed; /* shard digest by sequence */
	size_t closed_alloc;
};

static void index_key(const char *dataset, bool encrypt, const struct digest *d,
		      struct digest *key)
{
	if (encrypt)
		pack_secure_index_key(dataset, d, key);
	else
		*key = *d;
}

/* A worker's share of a chunk: digests, then (if new) the stored form. */
static void job_work(struct pack_pipeline *pp, struct job *job,
		     struct pack_index_reader *rd)
{
	const struct pack_chunk_sink *sk = &job->sink;

	for (size_t i = 0; i < sk->span_count; i++)
		sha256_buffer(job->raw + sk->spans[i].offset, sk->spans[i].len,
			      sk->spans[i].digest);
	sha256_buffer(job->raw, job->len, &job->digest);
	index_key(pp->dataset, job->encrypt, &job->digest, &job->ikey);
	job->known = rd && pack_index_reader_has(rd, &job->ikey);
	if (job->known)
		return;
	buf_reset(&job->out);
	if (!job->encrypt) {
		job->rc = repo_chunk_encode(job->raw, job->len, pp->level,
					    &job->out, &job->flags);
		/* hashed here, on the workers: readers check it instead of
		 * hashing what it decodes to */
		if (!job->rc && job->flags == REPO_CHUNK_ZSTD)
			sha256_buffer(job->out.data, job->out.len,
				      &job->stored);
	} else {
		/* frame (compress or not), then encrypt the frame */
		buf_reset(&job->framed);
		job->rc = repo_chunk_encode(job->raw, job->len, pp->level,
					    &job->framed, &job->flags);
		if (!job->rc)
			job->rc = repo_chunk_encrypt(
			    job->key, &job->digest, job->framed.data,
			    job->framed.len, &job->out);
		job->flags |= REPO_CHUNK_ENCRYPTED;
	}
}

static void *worker_main(void *arg)
{
	struct pack_pipeline *pp = arg;
	struct pack_index_reader *rd = NULL;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct job *job;

		while (!pp->stop && pp->take == pp->head)
			pthread_cond_wait(&pp->work, &pp->lock);
		if (pp->take == pp->head)
			break;
		job = &pp->ring[pp->take++ % pp->ring_size];
		/* an old chunk's job needs no worker (done, or retired
		 * already: next_slot keeps its slot from being refilled
		 * before take has passed it) */
		if (job->state != JOB_QUEUED)
			continue;
		job->state = JOB_BUSY;
		if (!rd && pp->committed && pack_index_reader_new(pp->ix, &rd))
			rd = NULL;
		if (job->sink.running) {
			/* a file's digest takes its chunks in order: first
			 * thing, so a worker waits at most for one chunk's
			 * hashing, never for its compression */
			while (pp->turn_at != job->ticket)
				pthread_cond_wait(&pp->turn, &pp->lock);
			pthread_mutex_unlock(&pp->lock);
			sha256_update(job->sink.running, job->raw, job->len);
			pthread_mutex_lock(&pp->lock);
			pp->turn_at++;
			pthread_cond_broadcast(&pp->turn);
		}
		pthread_mutex_unlock(&pp->lock);

		job_work(pp, job, rd);

		pthread_mutex_lock(&pp->lock);
		job->state = JOB_DONE;
		pthread_cond_broadcast(&pp->done);
	}
	pthread_mutex_unlock(&pp->lock);
	pack_index_reader_free(rd);
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
	pthread_cond_init(&pp->turn, NULL);
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

/* Append a new chunk's stored bytes to the open shard; index them. */
static int store(struct pack_pipeline *pp, struct job *job)
{
	struct pack_location loc;
	int rc;

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
	pp->stats->chunks_new++;
	pp->stats->chunk_bytes_new += job->len;
	return pack_index_put(pp->ix, &job->ikey, &loc);
}

/* The dataset's id for digest d; *created if the dataset had not got it. */
static int local_id(struct pack_pipeline *pp, const struct digest *d,
		    uint32_t *id, bool *created)
{
	int rc = pack_index_local_id(pp->ix, d, id, created);

	if (!rc)
		pp->stats->chunks++;
	return rc;
}

/* A stored chunk (key, loc: size bytes) used by this run: counted once. */
static int mark_used(struct pack_pipeline *pp, const struct digest *key,
		     struct pack_location *loc, uint64_t size)
{
	if (loc->this_run)
		return 0;
	pp->stats->unique_bytes += size;
	loc->this_run = true;
	return pack_index_put(pp->ix, key, loc);
}

/* A hashed chunk's local id: dedup against the index, store if new. */
static int settle_new(struct pack_pipeline *pp, struct job *job, uint32_t *id)
{
	struct pack_location loc;
	bool created;
	int rc;

	rc = local_id(pp, &job->digest, id, &created);
	if (rc || !created)
		return rc;
	rc = pack_index_get(pp->ix, &job->ikey, &loc);
	if (rc == 0) /* stored by an earlier revision or dataset */
		return mark_used(pp, &job->ikey, &loc, job->len);
	if (rc != -ENOENT)
		return rc;
	if (job->known) {
		/* a worker saw it in the index: it cannot have gone */
		log_error("pack index: a chunk seen by a worker is gone");
		return -EIO;
	}
	pp->stats->unique_bytes += job->len;
	return store(pp, job);
}

/* An old chunk's local id (the catalog record c). */
static int settle_reuse(struct pack_pipeline *pp, const struct repo_chunk *c,
			uint32_t *id)
{
	struct pack_location loc;
	struct digest ikey;
	bool created;
	int rc;

	rc = local_id(pp, &c->digest, id, &created);
	if (rc || !created)
		return rc;
	index_key(pp->dataset, pp->encrypt, &c->digest, &ikey);
	rc = pack_index_get(pp->ix, &ikey, &loc);
	if (rc == -ENOENT) {
		/* every chunk of the previous revision is indexed */
		memset(&loc, 0, sizeof(loc));
		loc.chunk = *c;
		loc.shard_seq = PACK_SHARD_FINAL;
	} else if (rc) {
		return rc;
	}
	return mark_used(pp, &ikey, &loc, c->size);
}

/* Wait for the oldest job, settle it, and tell its sink. */
static int retire_one(struct pack_pipeline *pp)
{
	struct job *job = &pp->ring[pp->tail % pp->ring_size];
	uint32_t id = 0;
	int rc, r;

	pthread_mutex_lock(&pp->lock);
	while (job->state != JOB_DONE)
		pthread_cond_wait(&pp->done, &pp->lock);
	pthread_mutex_unlock(&pp->lock);
	pp->tail++;
	job->state = JOB_FREE;
	if (job->reuse) {
		rc = settle_reuse(pp, &job->rec, &id);
	} else {
		rc = job->rc ? job->rc : settle_new(pp, job, &id);
		pp->stats->chunks_known += job->known;
	}
	r = job->sink.done(job->sink.arg, rc, id);
	return rc ? rc : r;
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
	/* the workers skip compressing what the index had by now (the
	 * previous revision, the datasets before): a failed commit only
	 * costs that */
	if (pack_index_commit(pp->ix) == 0) {
		pthread_mutex_lock(&pp->lock);
		pp->committed = true;
		pthread_mutex_unlock(&pp->lock);
	}
}

/*
 * The slot for the next job, once there is room: the oldest job is
 * retired if the ring is full.
 */
static int next_slot(struct pack_pipeline *pp, struct job **out)
{
	if (pp->head - pp->tail == pp->ring_size) {
		int rc = retire_one(pp);

		if (rc)
			return rc;
	}
	pthread_mutex_lock(&pp->lock);
	/* old chunks' jobs retired before a worker came by: skip them, so
	 * no worker looks at the slot being filled */
	if (pp->take < pp->tail)
		pp->take = pp->tail;
	pthread_mutex_unlock(&pp->lock);
	*out = &pp->ring[pp->head % pp->ring_size];
	return 0;
}

static void submit(struct pack_pipeline *pp, struct job *job,
		   enum job_state state)
{
	pthread_mutex_lock(&pp->lock);
	job->state = state;
	pp->head++;
	if (state == JOB_QUEUED)
		pthread_cond_signal(&pp->work);
	pthread_mutex_unlock(&pp->lock);
}

int pack_pipeline_add(struct pack_pipeline *pp, uint8_t **raw, size_t len,
		      const struct pack_chunk_sink *sink)
{
	struct job *job;
	uint8_t *mine;
	int rc;

	if (len > REPO_CHUNK_MAX || len > pp->chunk_cap)
		rc = -EINVAL;
	else
		rc = next_slot(pp, &job);
	if (rc) {
		sink->done(sink->arg, rc, 0);
		return rc;
	}
	/* the caller's buffer becomes the job's, and the caller gets the
	 * job's last one back: the bytes are not copied (on a two-core
	 * machine the copy was an eighth of this thread's time) */
	mine = job->raw ? job->raw : xmalloc(pp->chunk_cap);
	job->raw = *raw;
	*raw = mine;
	job->len = len;
	job->reuse = false;
	job->sink = *sink;
	if (sink->running)
		job->ticket = pp->tickets++;
	job->known = false;
	job->rc = 0;
	job->encrypt = pp->encrypt;
	memcpy(job->key, pp->key, sizeof(job->key));
	submit(pp, job, JOB_QUEUED);
	return 0;
}

int pack_pipeline_reuse(struct pack_pipeline *pp, const struct repo_chunk *c,
			const struct pack_chunk_sink *sink)
{
	struct job *job;
	int rc;

	if (!(c->flags & REPO_CHUNK_ENCRYPTED) != !pp->encrypt)
		rc = -EINVAL;
	else
		rc = next_slot(pp, &job);
	if (rc) {
		sink->done(sink->arg, rc, 0);
		return rc;
	}
	/* in the ring all the same, so ids keep the order chunks came in */
	job->reuse = true;
	job->rec = *c;
	job->sink = *sink;
	job->sink.running = NULL;
	job->sink.span_count = 0;
	job->rc = 0;
	submit(pp, job, JOB_DONE);
	return 0;
}

int pack_pipeline_settle(struct pack_pipeline *pp)
{
	return retire_all(pp);
}

void pack_pipeline_drop(struct pack_pipeline *pp)
{
	while (pp->tail < pp->head) {
		struct job *job = &pp->ring[pp->tail % pp->ring_size];

		pthread_mutex_lock(&pp->lock);
		while (job->state != JOB_DONE)
			pthread_cond_wait(&pp->done, &pp->lock);
		pthread_mutex_unlock(&pp->lock);
		pp->tail++;
		job->state = JOB_FREE;
		job->sink.done(job->sink.arg, -ECANCELED, 0);
	}
}

int pack_pipeline_dataset_end(struct pack_pipeline *pp,
			      repo_catalog_writer_t *w)
{
	int rc = retire_all(pp);
	/* read after the last ids were given */
	uint32_t count = pack_index_local_count(pp->ix);

	if (!rc)
		rc = shard_close(pp);
	for (uint32_t id = 0; !rc && id < count; id++) {
		struct pack_location loc;
		struct digest d, ikey;

		rc = pack_index_local_digest(pp->ix, id, &d);
		index_key(pp->dataset, pp->encrypt, &d, &ikey);
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
	pack_pipeline_drop(pp);
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
	pthread_cond_destroy(&pp->turn);
	free(pp);
}

/*
 * publish_pack: the orchestration of one pack, one step per function.
 * Everything new is written under a staging directory inside REPO, then
 * moved into place (objects are never rewritten), and the signed manifest
 * is replaced last, atomically. Any failure before that removes the
 * staging directory and leaves REPO as it was (FORMAT.md §9.4).
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "fsutil.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define REPORT_INTERVAL 0.1 /* seconds between progress calls */

/* Everything one publish_pack call holds. */
struct pack_run {
	const struct publish_pack_options *o;
	struct pack_spec spec;
	struct pack_stats stats;
	struct pack_report report;
	repo_key_t *key;
	publish_lock_t *lock;
	bool created; /* this run created the repository directory */
	char *staging, *objects, *scratch;
	struct pack_prev *prev; /* NULL for a new repository */
	struct pack_index *ix;
	struct pack_finisher *fin; /* ends shards and dataset catalogs */
	struct pack_pipeline *pp;
	struct pack_state *state; /* trusted state of prev, or NULL */
	struct pack_state_writer *state_out;
	struct timespec racy_after;
	uint32_t next_id;
	struct digest root;
	uint64_t root_size; /* bytes of the root catalog object */
	char *manifest;
	size_t manifest_len;
	uint64_t revision;
	struct pack_published pub;
};

double pack_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void pack_report_tick(struct pack_report *r, const struct pack_stats *s,
		      bool final)
{
	struct publish_progress p;
	double now;

	if (!r->fn)
		return;
	now = pack_now();
	if (!final && now - r->last < REPORT_INTERVAL)
		return;
	r->last = now;
	memset(&p, 0, sizeof(p));
	p.files_total = r->files_total;
	p.bytes_total = r->bytes_total;
	p.files_done = s->files;
	p.bytes_done = s->bytes_in;
	p.files_unchanged = s->files_unchanged;
	p.bytes_unchanged = s->bytes_unchanged;
	p.bytes_stored = s->stored_new;
	p.seconds = now - r->started;
	p.final = final;
	r->fn(r->ctx, &p);
}

int publish_state_dir(const char *repo, char **out)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *abs = realpath(repo, NULL), hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	if (!abs)
		return -errno;
	sha256_buffer(abs, strlen(abs), &d);
	digest_to_hex(&d, hex);
	free(abs);
	/* XDG: a relative XDG_CACHE_HOME is to be ignored */
	if (xdg && xdg[0] == '/')
		*out = xasprintf("%s/aidata/pack/%s", xdg, hex);
	else if (home && home[0])
		*out = xasprintf("%s/.cache/aidata/pack/%s", home, hex);
	else
		return -ENOENT;
	return 0;
}

/* The key, the datasets file and every source tree, before any write. */
static int run_check_inputs(struct pack_run *r)
{
	const struct publish_pack_options *o = r->o;
	int rc;

	rc = repo_key_load_private(o->key_file, &r->key);
	if (rc) {
		log_error("key '%s': %s", o->key_file,
			  rc == -EINVAL ? "not a PEM Ed25519 private key"
					: strerror(-rc));
		return rc;
	}
	rc = pack_spec_load(o->datasets_file, o->src, &r->spec);
	for (size_t i = 0; !rc && i < r->spec.count; i++) {
		char *path =
		    xasprintf("%s/%s", o->src, r->spec.entries[i].d.name);

		rc = pack_tree_check(path, &r->report.files_total,
				     &r->report.bytes_total);
		free(path);
	}
	return rc;
}

/* Create the repository if absent, take its lock, open its revision. */
static int run_open_repo(struct pack_run *r)
{
	const char *repo = r->o->repo;
	bool exists, has_manifest;
	int rc;

	rc = pack_repo_inspect(repo, &exists, &has_manifest);
	if (rc)
		return rc;
	if (!exists) {
		if (mkdir(repo, 0755) != 0) {
			rc = -errno;
			log_error("cannot create '%s': %s", repo,
				  strerror(errno));
			return rc;
		}
		r->created = true;
	}
	rc = publish_lock_acquire(repo, &r->lock);
	if (rc) {
		if (rc == -ENOENT || rc == -ENOTDIR)
			log_error("'%s': %s", repo, strerror(-rc));
		return rc;
	}
	pack_staging_remove_stale(repo);
	r->staging = xasprintf("%s/.staging.%d", repo, (int)getpid());
	r->objects = xasprintf("%s/objects", r->staging);
	r->scratch = xasprintf("%s/scratch", r->staging);
	rc = fs_mkdir_p(r->scratch, 0700);
	if (rc) {
		log_error("cannot set up '%s': %s", r->staging, strerror(-rc));
		return rc;
	}
	if (!has_manifest)
		return 0;
	rc = pack_prev_open(r->lock, r->key, r->scratch, &r->prev);
	if (rc == -ENOENT) /* removed since it was inspected */
		log_error("'%s': manifest vanished", repo);
	return rc;
}

/* The dedup index (seeded with the revision's chunks), dataset ids, the
 * compression pipeline. */
static int run_stage(struct pack_run *r)
{
	char *catalogs = xasprintf("%s/catalog", r->objects);
	char *index = xasprintf("%s/index", r->scratch);
	int rc;

	rc = fs_mkdir_p(catalogs, 0755);
	if (!rc)
		rc = pack_index_new(index, &r->ix);
	if (rc)
		log_error("cannot set up '%s': %s", r->staging, strerror(-rc));
	free(catalogs);
	free(index);
	if (rc)
		return rc;
	if (r->prev) {
		rc = pack_prev_seed(r->prev, r->ix, &r->spec, &r->next_id);
		if (rc)
			return rc;
	} else {
		for (size_t i = 0; i < r->spec.count; i++)
			r->spec.entries[i].d.id = (uint32_t)i;
		r->next_id = (uint32_t)r->spec.count;
	}
	rc = pack_finisher_new(&r->fin);
	if (rc) {
		log_error("cannot start a thread: %s", strerror(-rc));
		return rc;
	}
	return pack_pipeline_new(r->objects, r->ix, r->o->jobs, r->o->level,
				 r->o->shard_size, r->o->chunk_size, &r->stats,
				 r->fin, &r->pp);
}

/* The pack state of the revision extended, and the writer of the next. */
static void run_open_state(struct pack_run *r)
{
	const struct publish_pack_options *o = r->o;
	char *dir = NULL;
	int rc;

	if (o->flags & PUBLISH_PACK_NO_STATE)
		return;
	if (o->state_dir) {
		dir = xstrdup(o->state_dir);
	} else {
		rc = publish_state_dir(o->repo, &dir);
		if (rc) {
			log_warn("no directory for the pack state (set HOME or "
				 "XDG_CACHE_HOME): every file is read");
			return;
		}
	}
	if (r->prev && !(o->flags & PUBLISH_PACK_REHASH))
		r->state = pack_state_open(
		    dir, &pack_prev_manifest(r->prev)->root_catalog,
		    o->chunk_size);
	pack_state_writer_new(dir, o->chunk_size, &r->state_out);
	/* a file changed in the last second may change again unseen */
	clock_gettime(CLOCK_REALTIME, &r->racy_after);
	r->racy_after.tv_sec -= 1;
	free(dir);
}

/* Write catalog w as an object under objects/catalog/ (objects: the
 * staging objects directory). */
static int catalog_write(const char *objects, repo_catalog_writer_t *w,
			 struct digest *d, uint64_t *size)
{
	char *tmp = xasprintf("%s/catalog.tmp", objects);
	char rel[128], *dest = NULL;
	int rc;

	unlink(tmp);
	rc = repo_catalog_writer_finish(w, tmp, d, size);
	if (!rc) {
		repo_catalog_object_path(d, rel, sizeof(rel));
		dest = xasprintf("%s/%s", objects, rel);
		if (rename(tmp, dest) != 0)
			rc = -errno;
	}
	if (rc) {
		log_error("cannot write a catalog into '%s': %s", objects,
			  strerror(-rc));
		unlink(tmp);
	}
	free(tmp);
	free(dest);
	return rc;
}

/* A dataset's sealed catalog on its way into place (run by the
 * finisher, one at a time: they share catalog.tmp). */
struct catalog_task {
	char *objects;
	repo_catalog_writer_t *w;
	struct repo_dataset *d; /* catalog and catalog_size are set */
};

static int catalog_task_run(void *arg)
{
	struct catalog_task *t = arg;
	int rc;

	rc = catalog_write(t->objects, t->w, &t->d->catalog,
			   &t->d->catalog_size);
	repo_catalog_writer_free(t->w);
	free(t->objects);
	free(t);
	return rc;
}

/* Seal d's catalog w and hand it to the finisher, which frees it. */
static int catalog_submit(struct pack_run *r, repo_catalog_writer_t *w,
			  struct repo_dataset *d)
{
	struct catalog_task *t;
	int rc = repo_catalog_writer_seal(w);

	if (rc) {
		log_error("dataset '%s': cannot write its catalog: %s", d->name,
			  strerror(-rc));
		repo_catalog_writer_free(w);
		return rc;
	}
	t = xcalloc(1, sizeof(*t));
	t->objects = xstrdup(r->objects);
	t->w = w;
	t->d = d;
	return pack_finisher_submit(r->fin, catalog_task_run, t);
}

/*
 * The secure tier: the dataset's key (created on its first pack) goes to
 * the pipeline, and its fingerprint to the state.
 */
static int dataset_key(struct pack_run *r, const struct repo_dataset *d,
		       uint8_t key[PUBLISH_DATASET_KEY_LEN],
		       struct pack_state_dataset_key *sk)
{
	int rc;

	memset(sk, 0, sizeof(*sk));
	sk->name = d->name;
	sk->tier = d->tier;
	if (d->tier != REPO_TIER_SECURE)
		return 0;
	/* the origin never holds a secure dataset's plaintext */
	rc = publish_dataset_key_get(r->o->key_file, d->name, true, key);
	if (rc) {
		log_error("dataset '%s': cannot get or create its key: %s",
			  d->name, strerror(-rc));
		return rc;
	}
	pack_state_key_fingerprint(key, &sk->fingerprint);
	return 0;
}

/*
 * The size of the pieces d's large files are cut into: --piece-size, else
 * what its previous revision used (its catalog's "piece-size" key; without
 * one, made before the key or with pieces of the chunk size: the chunk
 * size), else the default. Never above the chunk size. Keeping the
 * previous size keeps unchanged large files' chunks.
 */
static uint32_t dataset_piece_size(const struct pack_run *r,
				   const struct repo_dataset *d,
				   repo_catalog_t *prev)
{
	uint32_t cs = r->o->chunk_size;
	uint64_t p = PUBLISH_PIECE_SIZE_DEFAULT;
	char *v = NULL;

	if (r->o->piece_size) {
		p = r->o->piece_size;
	} else if (prev) {
		p = cs;
		if (repo_catalog_meta(prev, "piece-size", &v) == 0 &&
		    units_parse_uint(v, 64u << 10, 64u << 20, &p) != 0) {
			log_warn(
			    "dataset '%s': previous catalog's piece-size "
			    "'%s' is not a size of 64K..64M; cutting large "
			    "files at the chunk size",
			    d->name, v);
			p = cs;
		}
		free(v);
	}
	return p < cs ? (uint32_t)p : cs;
}

/* Pack dataset d into its catalog, with what the previous revision and
 * the state know of it. */
static int run_pack_dataset(struct pack_run *r, size_t i)
{
	struct repo_dataset *d = &r->spec.entries[i].d, prev_d = {0};
	struct pack_dataset_ctx c = {
	    .chunk_size = r->o->chunk_size,
	    .small_max = r->o->chunk_size / 4,
	    .pp = r->pp,
	    .d = d,
	    .stats = &r->stats,
	    .report = &r->report,
	    .racy_after = r->racy_after,
	};
	uint8_t key[PUBLISH_DATASET_KEY_LEN];
	struct pack_state_dataset_key sk;
	char *path = NULL;
	int rc;

	rc = dataset_key(r, d, key, &sk);
	if (rc)
		return rc;
	pack_pipeline_dataset_begin(r->pp, d->name,
				    d->tier == REPO_TIER_SECURE ? key : NULL);
	explicit_bzero(key, sizeof(key));
	if (r->prev) {
		rc = pack_prev_dataset(r->prev, d->name, &prev_d, &c.prev);
		if (rc && rc != -ENOENT)
			goto out;
		rc = 0;
	}
	if (r->state && c.prev) {
		sk.catalog = prev_d.catalog;
		if (pack_state_dataset(r->state, &sk))
			c.state = r->state;
	}
	c.state_out = r->state_out;
	pack_state_writer_dataset_begin(r->state_out, &sk);
	c.piece_size = dataset_piece_size(r, d, c.prev);
	path = xasprintf("%s/cat-%zu", r->scratch, i);
	rc = repo_catalog_writer_new(path, "dataset", &c.w);
	free(path);
	path = xasprintf("%s/%s", r->o->src, d->name);
	if (!rc)
		rc = repo_catalog_writer_meta(c.w, "dataset", d->name);
	/* only when it differs: catalogs cut at the chunk size keep their
	 * bytes (and digests) */
	if (!rc && c.piece_size != c.chunk_size) {
		char num[16];

		snprintf(num, sizeof(num), "%" PRIu32, c.piece_size);
		rc = repo_catalog_writer_meta(c.w, "piece-size", num);
	}
	if (!rc) {
		c.records = pack_records_new(&c);
		rc = pack_dataset_walk(path, &c);
	}
	if (!rc)
		rc = pack_pipeline_dataset_end(r->pp, c.w);
	if (!rc)
		rc = pack_records_finish(c.records);
	if (!rc) {
		/* written out while the next dataset packs */
		rc = catalog_submit(r, c.w, d);
		c.w = NULL;
	}
	if (!rc)
		pack_state_writer_dataset_end(r->state_out, c.inodes);
out:
	/* the chunks still in the pipeline point into c.records */
	if (rc)
		pack_pipeline_drop(r->pp);
	pack_records_free(c.records);
	repo_catalog_writer_free(c.w);
	repo_catalog_free(c.prev);
	repo_dataset_release(&prev_d);
	free(path);
	return rc;
}

/* Wait for the datasets' shards and catalogs to be written out. */
static int run_finish_datasets(struct pack_run *r)
{
	int rc = pack_finisher_wait(r->fin);

	for (size_t i = 0; !rc && i < r->spec.count; i++) {
		const struct repo_dataset *d = &r->spec.entries[i].d;

		pack_state_writer_catalog(r->state_out, d->name, &d->catalog);
	}
	return rc;
}

/* The root catalog: every dataset's record. */
static int run_write_root(struct pack_run *r)
{
	repo_catalog_writer_t *w = NULL;
	char *path = xasprintf("%s/root", r->scratch), num[16];
	int rc;

	rc = repo_catalog_writer_new(path, "root", &w);
	free(path);
	snprintf(num, sizeof(num), "%u", r->next_id);
	if (!rc)
		rc = repo_catalog_writer_meta(w, "next-dataset-id", num);
	for (size_t i = 0; !rc && i < r->spec.count; i++)
		rc = repo_catalog_writer_dataset(w, &r->spec.entries[i].d);
	if (!rc)
		rc = catalog_write(r->objects, w, &r->root, &r->root_size);
	repo_catalog_writer_free(w);
	return rc;
}

/* Sign the next manifest, move the objects in, replace the manifest. */
static int run_publish(struct pack_run *r)
{
	struct repo_manifest m;
	int rc;

	publish_manifest_next(r->prev ? pack_prev_manifest(r->prev) : NULL,
			      &r->root, r->root_size, r->o->ttl, r->o->revoke,
			      r->o->revoke_count, &m);
	r->revision = m.revision;
	rc = publish_manifest_sign(&m, r->key, &r->manifest, &r->manifest_len);
	repo_manifest_release(&m);
	if (rc)
		return rc;
	rc = pack_objects_publish(r->objects, r->o->repo, &r->pub);
	if (rc)
		log_error("cannot publish into '%s': %s", r->o->repo,
			  strerror(-rc));
	if (!rc)
		rc = publish_manifest_replace(r->lock, r->manifest,
					      r->manifest_len);
	if (rc)
		pack_objects_unpublish(&r->pub);
	return rc;
}

static void run_result(const struct pack_run *r,
		       struct publish_pack_result *res)
{
	const struct pack_stats *s = &r->stats;

	memset(res, 0, sizeof(*res));
	res->revision = r->revision;
	res->datasets = r->spec.count;
	res->files = s->files;
	res->dirs = s->dirs;
	res->symlinks = s->symlinks;
	res->files_unchanged = s->files_unchanged;
	res->bytes_unchanged = s->bytes_unchanged;
	res->bytes_in = s->bytes_in;
	res->chunks = s->chunks;
	res->chunks_new = s->chunks_new;
	res->chunk_bytes_new = s->chunk_bytes_new;
	res->stored_new = s->stored_new;
	res->shards_new = s->shards_new;
	res->catalogs_new = r->pub.catalogs;
	res->unique_bytes = s->unique_bytes;
	res->seconds = pack_now() - r->report.started;
}

/* Free everything; after a failure, leave the repository as it was. */
static void run_release(struct pack_run *r, int rc)
{
	pack_pipeline_free(r->pp);
	/* what it still holds lands in staging, removed below */
	pack_finisher_free(r->fin);
	pack_index_free(r->ix);
	pack_state_free(r->state);
	pack_state_writer_free(r->state_out);
	pack_prev_free(r->prev);
	if (r->staging)
		fs_remove_tree(r->staging);
	if (rc && r->created)
		fs_remove_tree(r->o->repo);
	publish_lock_release(r->lock);
	pack_spec_release(&r->spec);
	repo_key_free(r->key);
	pack_published_release(&r->pub);
	free(r->manifest);
	free(r->staging);
	free(r->objects);
	free(r->scratch);
}

int publish_pack(const struct publish_pack_options *o,
		 struct publish_pack_result *res)
{
	struct pack_run r = {.o = o};
	int rc;

	r.report.fn = o->progress;
	r.report.ctx = o->progress_ctx;
	r.report.started = pack_now();
	rc = run_check_inputs(&r);
	if (!rc)
		rc = run_open_repo(&r);
	if (!rc)
		rc = run_stage(&r);
	if (!rc)
		run_open_state(&r);
	for (size_t i = 0; !rc && i < r.spec.count; i++)
		rc = run_pack_dataset(&r, i);
	if (!rc)
		rc = run_finish_datasets(&r);
	if (!rc) {
		pack_report_tick(&r.report, &r.stats, true);
		rc = run_write_root(&r);
	}
	if (!rc)
		rc = run_publish(&r);
	if (!rc) {
		pack_state_writer_commit(r.state_out, &r.root);
		if (res)
			run_result(&r, res);
	}
	run_release(&r, rc);
	return rc;
}

/*
 * `aidata pack`: the orchestration. Everything new is written under a
 * staging directory inside REPO, then moved into place (objects are never
 * rewritten), and the signed manifest is replaced last, atomically. Any
 * failure before that removes the staging directory and leaves REPO as
 * it was.
 */
#define _GNU_SOURCE
#include "pack.h"
#include "pack_int.h"
#include "auth.h"
#include "dataset_keys.h"
#include "repo_local.h"
#include "fsutil.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

struct published {
	char **paths; /* objects moved into REPO by this run */
	size_t count;
	size_t catalogs;
};

/* Make the dedup index know every chunk of the previous revision, and
 * give datasets that existed before their old ids. */
struct prev_ctx {
	struct local_repo *prev;
	struct pack_index *ix;
	struct pack_spec *spec;
	uint32_t max_id;
	int rc;
};

static int prev_dataset(void *arg, const struct repo_dataset *d)
{
	struct prev_ctx *ctx = arg;
	repo_catalog_t *cat = NULL;
	uint32_t count = 0;
	int rc;

	if (d->id >= ctx->max_id)
		ctx->max_id = d->id + 1;
	for (size_t i = 0; i < ctx->spec->count; i++)
		if (!strcmp(ctx->spec->entries[i].d.name, d->name))
			ctx->spec->entries[i].d.id = d->id + 1; /* +1: set */
	rc = local_repo_dataset_catalog(ctx->prev, d, &cat);
	if (!rc)
		rc = repo_catalog_chunk_count(cat, &count);
	for (uint32_t id = 0; !rc && id < count; id++) {
		struct pack_location loc = {.shard_seq = PACK_SHARD_FINAL};
		struct digest key;

		rc = repo_catalog_chunk(cat, id, &loc.chunk);
		if (rc)
			break;
		if (loc.chunk.flags & REPO_CHUNK_ENCRYPTED)
			pack_secure_index_key(d->name, &loc.chunk.digest, &key);
		else
			key = loc.chunk.digest;
		rc = pack_index_put(ctx->ix, &key, &loc);
	}
	repo_catalog_free(cat);
	return rc;
}

static int move_object(const char *from, const char *repo, const char *rel,
		       struct published *pub)
{
	char *dest = xasprintf("%s/%s", repo, rel);
	char *dir = xstrndup(dest, (size_t)(strrchr(dest, '/') - dest));
	struct stat st;
	int rc = 0;

	if (lstat(dest, &st) == 0) {
		/* content-addressed: an existing object is never rewritten */
		unlink(from);
		goto out;
	}
	rc = fs_mkdir_p(dir, 0755);
	if (!rc && rename(from, dest) != 0)
		rc = -errno;
	if (rc) {
		fprintf(stderr, "aidata pack: cannot publish '%s': %s\n", dest,
			strerror(-rc));
		goto out;
	}
	pub->paths =
	    xrealloc(pub->paths, (pub->count + 1) * sizeof(*pub->paths));
	pub->paths[pub->count++] = dest;
	dest = NULL;
	if (!strncmp(rel, "catalog/", 8))
		pub->catalogs++;
out:
	free(dest);
	free(dir);
	return rc;
}

/* Move every file under objects/<sub>/ (depth levels deep) into repo. */
static int publish_dir(const char *objects, const char *repo, const char *sub,
		       int depth, struct published *pub)
{
	char *path = xasprintf("%s/%s", objects, sub);
	DIR *dir = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = errno == ENOENT ? 0 : -errno;
		free(path);
		return rc;
	}
	while (!rc && (de = readdir(dir))) {
		char *rel, *from;

		if (de->d_name[0] == '.')
			continue;
		rel = xasprintf("%s/%s", sub, de->d_name);
		from = xasprintf("%s/%s", objects, rel);
		if (depth > 1)
			rc = publish_dir(objects, repo, rel, depth - 1, pub);
		else
			rc = move_object(from, repo, rel, pub);
		free(rel);
		free(from);
	}
	closedir(dir);
	free(path);
	return rc;
}

static void unpublish(struct published *pub)
{
	for (size_t i = 0; i < pub->count; i++)
		unlink(pub->paths[i]);
}

static void published_release(struct published *pub)
{
	for (size_t i = 0; i < pub->count; i++)
		free(pub->paths[i]);
	free(pub->paths);
}

static int sync_repo_dirs(const char *repo, const struct published *pub)
{
	int rc = 0;

	for (size_t i = 0; i < pub->count; i++) {
		char *dir = xstrndup(
		    pub->paths[i],
		    (size_t)(strrchr(pub->paths[i], '/') - pub->paths[i]));
		int r = fs_fsync_dir(dir);

		rc = rc ? rc : r;
		free(dir);
	}
	{
		char *data = xasprintf("%s/data", repo);

		fs_fsync_dir(data);
		free(data);
	}
	return rc ? rc : fs_fsync_dir(repo);
}

/* An existing directory that is neither empty nor a repository is not
 * ours to write into. */
static int repo_state(const char *repo, bool *exists, bool *has_manifest)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	bool other = false;
	char *m;

	*exists = stat(repo, &st) == 0;
	*has_manifest = false;
	if (!*exists)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "aidata pack: '%s' is not a directory\n", repo);
		return -ENOTDIR;
	}
	m = xasprintf("%s/manifest", repo);
	*has_manifest = access(m, F_OK) == 0;
	free(m);
	dir = opendir(repo);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strncmp(de->d_name, ".staging.", 9))
			other = true;
	closedir(dir);
	if (other && !*has_manifest) {
		fprintf(stderr,
			"aidata pack: '%s' is not empty and has no manifest: "
			"not an aidata repository\n",
			repo);
		return -EINVAL;
	}
	return 0;
}

static void remove_stale_staging(const char *repo)
{
	DIR *dir = opendir(repo);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, ".staging.", 9)) {
			char *p = xasprintf("%s/%s", repo, de->d_name);

			fs_remove_tree(p);
			free(p);
		}
	}
	closedir(dir);
}

static void print_summary(const struct pack_options *o, uint64_t revision,
			  size_t datasets, const struct pack_stats *s,
			  const struct published *pub, double seconds)
{
	char in[32], stored[32], rate[32];

	units_format_size((double)s->bytes_in, in, sizeof(in));
	units_format_size((double)s->stored_new, stored, sizeof(stored));
	units_format_size(seconds > 0 ? s->bytes_in / seconds : 0, rate,
			  sizeof(rate));
	printf("packed revision %" PRIu64 " into '%s'\n", revision, o->repo);
	printf("  datasets     %zu\n", datasets);
	printf("  files        %" PRIu64 " (%" PRIu64 " directories, %" PRIu64
	       " symlinks)\n",
	       s->files, s->dirs, s->symlinks);
	printf("  bytes in     %s (%" PRIu64 ")\n", in, s->bytes_in);
	printf("  chunks       %" PRIu64 " referenced, %" PRIu64 " new\n",
	       s->chunks, s->chunks_new);
	printf("  stored       %s (%" PRIu64 ") in %" PRIu64
	       " new shards, %zu new catalogs\n",
	       stored, s->stored_new, s->shards_new, pub->catalogs);
	printf("  compression  %.2fx (new chunk bytes / stored bytes)\n",
	       s->stored_new ? (double)s->chunk_bytes_new / s->stored_new
			     : 1.0);
	printf("  dedup        %.2fx (file bytes / distinct chunk bytes)\n",
	       s->unique_bytes ? (double)s->bytes_in / s->unique_bytes : 1.0);
	printf("  time         %.1fs (%s/s)\n", seconds, rate);
}

static int build_revoked(const struct local_repo *prev,
			 const struct pack_options *o, struct repo_manifest *m)
{
	size_t cap =
	    o->revoke_count + (prev ? prev->manifest.revoked_count : 0);

	m->revoked = xcalloc(cap ? cap : 1, sizeof(char *));
	for (size_t i = 0; prev && i < prev->manifest.revoked_count; i++)
		m->revoked[m->revoked_count++] =
		    xstrdup(prev->manifest.revoked[i]);
	for (size_t i = 0; i < o->revoke_count; i++) {
		bool dup = false;

		for (size_t k = 0; k < m->revoked_count; k++)
			dup |= !strcmp(m->revoked[k], o->revoke[i]);
		if (!dup)
			m->revoked[m->revoked_count++] = xstrdup(o->revoke[i]);
	}
	return 0;
}

static int finish_catalog(repo_catalog_writer_t *w, const char *objects,
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
	if (rc)
		unlink(tmp);
	free(tmp);
	free(dest);
	return rc;
}

int pack_run(const struct pack_options *o)
{
	struct pack_spec spec = {0};
	struct pack_progress progress = {0};
	struct pack_stats stats = {0};
	struct published pub = {0};
	struct repo_manifest m = {0};
	struct local_repo *prev = NULL;
	struct pack_index *ix = NULL;
	struct pack_pipeline *pp = NULL;
	repo_key_t *key = NULL;
	repo_catalog_writer_t *w = NULL;
	char *staging = NULL, *objects = NULL, *scratch = NULL, *path = NULL;
	char *manifest = NULL;
	size_t manifest_len = 0;
	bool exists = false, has_manifest = false, created = false;
	struct pack_tree_options topt = {
	    .chunk_size = o->chunk_size,
	    .small_max = o->chunk_size / 4,
	};
	uint32_t next_id = 0;
	int lock_fd = -1, rc;

	progress.started = pack_now();
	progress.tty = !o->quiet && isatty(STDERR_FILENO);

	rc = repo_key_load_private(o->key_file, &key);
	if (rc) {
		fprintf(stderr, "aidata pack: key '%s': %s\n", o->key_file,
			rc == -EINVAL ? "not a PEM Ed25519 private key"
				      : strerror(-rc));
		goto out;
	}
	rc = pack_spec_load(o->datasets_file, o->src, &spec);
	if (rc)
		goto out;
	for (size_t i = 0; !rc && i < spec.count; i++) {
		path = xasprintf("%s/%s", o->src, spec.entries[i].d.name);
		rc = pack_tree_check(path, &progress);
		free(path);
		path = NULL;
	}
	if (rc)
		goto out;

	rc = repo_state(o->repo, &exists, &has_manifest);
	if (rc)
		goto out;
	if (!exists) {
		if (mkdir(o->repo, 0755) != 0) {
			rc = -errno;
			fprintf(stderr, "aidata pack: cannot create '%s': %s\n",
				o->repo, strerror(errno));
			goto out;
		}
		created = true;
	}
	lock_fd = open(o->repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		fprintf(stderr, "aidata pack: '%s': %s\n", o->repo,
			errno == EWOULDBLOCK ? "another pack is running"
					     : strerror(errno));
		goto out;
	}
	remove_stale_staging(o->repo);
	if (has_manifest) {
		rc = local_repo_open(o->repo, key, &prev);
		if (rc == -EBADMSG) {
			fprintf(stderr,
				"aidata pack: '%s' was signed by a different "
				"platform key: wrong --key?\n",
				o->repo);
		}
		if (rc)
			goto out;
	}

	staging = xasprintf("%s/.staging.%d", o->repo, (int)getpid());
	objects = xasprintf("%s/objects", staging);
	scratch = xasprintf("%s/scratch", staging);
	path = xasprintf("%s/catalog", objects);
	rc = fs_mkdir_p(path, 0755);
	free(path);
	path = xasprintf("%s/index", scratch);
	if (!rc)
		rc = pack_index_new(path, &ix);
	free(path);
	path = NULL;
	if (rc) {
		fprintf(stderr, "aidata pack: cannot set up '%s': %s\n",
			staging, strerror(-rc));
		goto out;
	}

	if (prev) {
		struct prev_ctx ctx = {prev, ix, &spec, 0, 0};

		rc = repo_catalog_datasets(prev->root_catalog, prev_dataset,
					   &ctx);
		if (rc) {
			fprintf(stderr,
				"aidata pack: cannot read the previous "
				"revision of '%s': %s\n",
				o->repo, strerror(-rc));
			goto out;
		}
		{
			/* ids of removed datasets are never handed out again */
			char *next = NULL;

			if (repo_catalog_meta(prev->root_catalog,
					      "next-dataset-id", &next) == 0) {
				uint32_t n = (uint32_t)strtoul(next, NULL, 10);

				if (n > ctx.max_id)
					ctx.max_id = n;
			}
			free(next);
		}
		for (size_t i = 0; i < spec.count; i++) {
			if (spec.entries[i].d.id)
				spec.entries[i].d.id--;
			else
				spec.entries[i].d.id = ctx.max_id++;
		}
		next_id = ctx.max_id;
	} else {
		for (size_t i = 0; i < spec.count; i++)
			spec.entries[i].d.id = (uint32_t)i;
		next_id = (uint32_t)spec.count;
	}

	rc = pack_pipeline_new(objects, ix, o->jobs, o->level, o->shard_size,
			       &stats, &pp);
	if (rc)
		goto out;
	for (size_t i = 0; i < spec.count; i++) {
		struct repo_dataset *d = &spec.entries[i].d;

		uint8_t dkey[AUTH_DATASET_KEY_LEN];

		if (d->tier == REPO_TIER_SECURE) {
			/* the origin never holds a secure dataset's plaintext
			 */
			rc = dataset_key_get(o->key_file, d->name, true, dkey);
			if (rc) {
				fprintf(stderr,
					"aidata pack: dataset '%s': cannot get "
					"or create its key: %s\n",
					d->name, strerror(-rc));
				goto out;
			}
		}
		pack_pipeline_dataset_begin(
		    pp, d->name, d->tier == REPO_TIER_SECURE ? dkey : NULL);
		explicit_bzero(dkey, sizeof(dkey));
		path = xasprintf("%s/cat-%zu", scratch, i);
		rc = repo_catalog_writer_new(path, "dataset", &w);
		free(path);
		path = xasprintf("%s/%s", o->src, d->name);
		if (!rc)
			rc = repo_catalog_writer_meta(w, "dataset", d->name);
		if (!rc)
			rc = pack_tree_dataset(path, &topt, pp, w, d, &stats,
					       &progress);
		free(path);
		path = NULL;
		if (!rc)
			rc = pack_pipeline_dataset_end(pp, w);
		if (!rc)
			rc = finish_catalog(w, objects, &d->catalog,
					    &d->catalog_size);
		repo_catalog_writer_free(w);
		w = NULL;
		if (rc)
			goto out;
	}
	pack_progress_draw(&progress, &stats, true);

	path = xasprintf("%s/root", scratch);
	rc = repo_catalog_writer_new(path, "root", &w);
	free(path);
	path = NULL;
	if (!rc) {
		char num[16];

		snprintf(num, sizeof(num), "%u", next_id);
		rc = repo_catalog_writer_meta(w, "next-dataset-id", num);
	}
	for (size_t i = 0; !rc && i < spec.count; i++)
		rc = repo_catalog_writer_dataset(w, &spec.entries[i].d);
	if (!rc) {
		uint64_t size;

		rc = finish_catalog(w, objects, &m.root_catalog, &size);
	}
	if (rc)
		goto out;

	m.format = REPO_FORMAT_VERSION;
	m.revision = prev ? prev->manifest.revision + 1 : 1;
	m.created = (int64_t)time(NULL);
	m.ttl = o->ttl;
	build_revoked(prev, o, &m);
	rc = repo_manifest_encode(&m, key, &manifest, &manifest_len);
	if (rc) {
		fprintf(stderr, "aidata pack: cannot sign the manifest: %s\n",
			strerror(-rc));
		goto out;
	}

	rc = publish_dir(objects, o->repo, "catalog", 1, &pub);
	if (!rc)
		rc = publish_dir(objects, o->repo, "data", 2, &pub);
	if (!rc)
		rc = sync_repo_dirs(o->repo, &pub);
	path = xasprintf("%s/manifest", o->repo);
	if (!rc)
		rc = fs_write_atomic(path, manifest, manifest_len, 0644);
	if (rc) {
		fprintf(stderr, "aidata pack: cannot publish into '%s': %s\n",
			o->repo, strerror(-rc));
		unpublish(&pub);
		goto out;
	}
	if (!o->quiet)
		print_summary(o, m.revision, spec.count, &stats, &pub,
			      pack_now() - progress.started);
out:
	if (rc && progress.tty)
		fputc('\n', stderr);
	repo_catalog_writer_free(w);
	pack_pipeline_free(pp);
	pack_index_free(ix);
	if (staging)
		fs_remove_tree(staging);
	if (rc && created)
		fs_remove_tree(o->repo);
	if (rc && rc != -EINVAL)
		fprintf(stderr,
			"aidata pack: failed: %s; '%s' left as it was\n",
			strerror(-rc), o->repo);
	else if (rc)
		fprintf(stderr, "aidata pack: failed; '%s' left as it was\n",
			o->repo);
	if (lock_fd >= 0)
		close(lock_fd);
	local_repo_free(prev);
	repo_manifest_release(&m);
	pack_spec_release(&spec);
	repo_key_free(key);
	published_release(&pub);
	free(manifest);
	free(path);
	free(staging);
	free(objects);
	free(scratch);
	return rc;
}

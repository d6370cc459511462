/*
 * Internals of the publish library, shared by its files only (not
 * exported: publish.h is the library's interface). Like the public
 * functions, these return 0 or a negative errno and log what failed
 * (log_error) naming the file, unless a comment says otherwise.
 */
#ifndef AIDATA_PUBLISH_INT_H
#define AIDATA_PUBLISH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "publish.h"
#include "repo.h"

/* ------------------------------- the locked repository (lock.c, target.c) --
 */

struct origin;
struct publish_lock {
	int fd;		       /* a directory's flock, or -1 */
	char *repo;	       /* the directory, or the bucket's URL */
	struct origin *origin; /* a bucket's store, or NULL */
};

/*
 * Single objects of the locked repository, a directory or a bucket alike
 * (rel: "manifest", "keys/<dataset>/<id>", ...). Reading: the whole
 * object, at most max bytes, into *data (NUL-terminated, caller frees);
 * -ENOENT when there is none (not logged). Writing: replaces the object
 * atomically (a directory: a rename, parents made 0755, the file 0644;
 * a bucket: one PUT). Digest: the object's SHA-256 and size, read whole
 * (a bucket's: at most max bytes).
 */
int publish_object_read(publish_lock_t *lock, const char *rel, size_t max,
			char **data, size_t *len);
int publish_object_write(publish_lock_t *lock, const char *rel,
			 const void *data, size_t len);
int publish_object_digest(publish_lock_t *lock, const char *rel, size_t max,
			  struct digest *d, uint64_t *size);
/* The object's name for messages: a path, or the URL of the object. */
char *publish_object_name(const publish_lock_t *lock, const char *rel);

/* --------------------------------------------- manifest (resign.c) -- */

/*
 * Read and verify the manifest of the locked repository with key (its
 * public half). Fills m (repo_manifest_release). -ENOENT when there is
 * no manifest (not logged), -EBADMSG, -EPROTONOSUPPORT, -EINVAL or -errno
 * (logged).
 */
int publish_manifest_read(publish_lock_t *lock, const repo_key_t *key,
			  struct repo_manifest *m);
/*
 * The manifest that follows prev (NULL: the first revision), in the
 * format publishers write (REPO_MANIFEST_FORMAT, whatever prev's was):
 * revision + 1, created now, root catalog root of root_size bytes, ttl,
 * prev's revoked ids followed by those of revoke not already present.
 * Release next with repo_manifest_release.
 */
void publish_manifest_next(const struct repo_manifest *prev,
			   const struct digest *root, uint64_t root_size,
			   uint32_t ttl, const char *const *revoke,
			   size_t revoke_count, struct repo_manifest *next);
/* Sign m into *out (*len bytes, caller frees). -EINVAL: an invalid id. */
int publish_manifest_sign(const struct repo_manifest *m, const repo_key_t *key,
			  char **out, size_t *len);
/* Replace the locked repository's manifest with data, atomically. */
int publish_manifest_replace(publish_lock_t *lock, const char *data,
			     size_t len);

/* ------------------------------------ the datasets file (pack_spec.c) -- */

struct pack_spec_entry {
	struct repo_dataset d; /* name, industry, modality, tier, license,
				* description and contributor (or NULL)
				* filled from the file */
};

struct pack_spec {
	struct pack_spec_entry *entries; /* sorted by name */
	size_t count;
};

/*
 * Parse the datasets JSON file and check it against SRC: every entry
 * valid and unique, every top-level directory of src described and every
 * described dataset present. 0 or -EINVAL/-errno, logged naming the file
 * and the reason. Release with pack_spec_release.
 */
int pack_spec_load(const char *path, const char *src, struct pack_spec *out);
/* The same for the file's len bytes at text (name says what it is in the
 * log); the fuzz target's way in. */
int pack_spec_parse(const char *name, const char *text, size_t len,
		    const char *src, struct pack_spec *out);
void pack_spec_release(struct pack_spec *spec);

/* ------------------------------------- the dedup index (pack_index.c) -- */

/*
 * Chunk digest -> where it is stored, for every chunk of the previous
 * revision and every chunk this run stores; plus the per-dataset chunk id
 * table. An LMDB environment in scratch space, written by one thread;
 * other threads may look keys up in its last committed state.
 */
struct pack_index;

#define PACK_SHARD_FINAL UINT64_MAX /* location has a shard digest */

struct pack_location {
	struct repo_chunk chunk; /* shard digest valid if shard_seq is FINAL */
	uint64_t shard_seq;	 /* this run's shard sequence, while open */
	bool this_run;		 /* referenced by this pack already */
};

/* A new index in the directory dir (created); free with pack_index_free. */
int pack_index_new(const char *dir, struct pack_index **out);
void pack_index_free(struct pack_index *ix);
/*
 * key: the chunk's digest, or for a secure dataset's chunk
 * pack_secure_index_key() of it, so that ciphertext and plaintext of the
 * same content are never taken for one another. get: 0 and *loc, or
 * -ENOENT (not logged).
 */
int pack_index_get(struct pack_index *ix, const struct digest *key,
		   struct pack_location *loc);
int pack_index_put(struct pack_index *ix, const struct digest *key,
		   const struct pack_location *loc);
void pack_secure_index_key(const char *dataset, const struct digest *d,
			   struct digest *key);
/* Per-dataset ids: 0 and the id of d, creating the next id if new
 * (*created set). Ids restart at 0 after pack_index_dataset_reset. */
int pack_index_local_id(struct pack_index *ix, const struct digest *d,
			uint32_t *id, bool *created);
/* The digest of local id. */
int pack_index_local_digest(struct pack_index *ix, uint32_t id,
			    struct digest *d);
uint32_t pack_index_local_count(struct pack_index *ix);
int pack_index_dataset_reset(struct pack_index *ix);
/* Commit what was put so far, so that readers (below) see it. */
int pack_index_commit(struct pack_index *ix);
/*
 * A read-only view of the index as last committed, for another thread
 * than the index's own (one reader per thread): whether key is there.
 * A chunk found may be taken as stored; one not found may be all the
 * same (put since the last commit): only the index's thread decides.
 */
struct pack_index_reader;
int pack_index_reader_new(struct pack_index *ix,
			  struct pack_index_reader **out);
bool pack_index_reader_has(struct pack_index_reader *r,
			   const struct digest *key);
void pack_index_reader_free(struct pack_index_reader *r);

/* --------------------------------------------- counting and progress -- */

struct pack_stats {
	uint64_t files, dirs, symlinks;
	uint64_t bytes_in; /* bytes of files packed, read or unchanged */
	uint64_t files_unchanged, bytes_unchanged; /* not read */
	uint64_t chunks, chunks_new;
	uint64_t chunk_bytes_new; /* uncompressed bytes of new chunks */
	uint64_t stored_new;	  /* bytes written to new shards */
	uint64_t shards_new;
	uint64_t unique_bytes; /* uncompressed bytes of distinct chunks */
	/* read chunks a worker found stored already, so did not compress */
	uint64_t chunks_known;
};

/* Calls the caller's progress callback at a bounded rate. */
struct pack_report {
	publish_progress_fn fn; /* NULL: nothing to report */
	void *ctx;
	uint64_t files_total, bytes_total;
	double started, last;
};

/* Seconds on the monotonic clock. */
double pack_now(void);
/* Report s to the callback: always when final, else at most every 100 ms. */
void pack_report_tick(struct pack_report *r, const struct pack_stats *s,
		      bool final);

/* ------------------------- finishing in the background (pack_finisher.c) -- */

/*
 * One thread that runs tasks in the order they are queued: the fsync,
 * compaction and rename that end a shard or a catalog, while the packing
 * thread goes on. A task runs even after an earlier one failed (so each
 * cleans up after itself); the first error is kept.
 */
struct pack_finisher;

/* A task: does its work, logs what failed, frees arg; 0 or -errno. */
typedef int (*pack_finisher_fn)(void *arg);

int pack_finisher_new(struct pack_finisher **out);
/*
 * Queue fn(arg), which then owns arg; blocks while the queue is full.
 * Returns the first error of a task run so far (fn is queued all the
 * same), so a failure stops the pack at its next shard or dataset.
 */
int pack_finisher_submit(struct pack_finisher *f, pack_finisher_fn fn,
			 void *arg);
/* Wait until every queued task has run: 0, or the first task's error. */
int pack_finisher_wait(struct pack_finisher *f);
/* Run what is queued, stop the thread, free. NULL is a no-op. */
void pack_finisher_free(struct pack_finisher *f);

/* ------------------- compression and shard writing (pack_pipeline.c) -- */

struct pack_pipeline;

/*
 * objects_dir: staging root ("<objects_dir>/data/aa/<hex>" are created,
 * by fin: a shard is in place once pack_finisher_wait returned 0).
 * workers: compression threads. level: zstd level. shard_size: target.
 * chunk_cap: the size of every chunk buffer handed to pack_pipeline_add
 * (the largest chunk). stats is updated as chunks are added and stored.
 */
int pack_pipeline_new(const char *objects_dir, struct pack_index *ix,
		      unsigned workers, int level, uint64_t shard_size,
		      size_t chunk_cap, struct pack_stats *stats,
		      struct pack_finisher *fin, struct pack_pipeline **out);
/*
 * Chunks added from now on belong to dataset; a non-NULL key (secure
 * tier) makes them encrypted with it.
 */
void pack_pipeline_dataset_begin(struct pack_pipeline *pp, const char *dataset,
				 const uint8_t *key);
/* A part of a chunk whose digest the pipeline computes (a small file). */
struct pack_span {
	uint32_t offset, len;
	struct digest *digest; /* written by a worker before done is called */
};

/*
 * Where a chunk's outcome goes. done is called exactly once for every
 * chunk added or reused, on the caller's thread and in the order they
 * were added: status 0 and the chunk's local id, or a negative status
 * when the chunk was dropped (an error, or the pipeline stopped), when
 * it must not touch what the pack has freed. A nonzero return fails the
 * pack. While the chunk is in the pipeline, workers write its spans'
 * digests and feed its bytes to running (a file's digest: the chunks
 * given one running context are fed to it in the order they were
 * added).
 */
struct pack_chunk_sink {
	int (*done)(void *arg, int status, uint32_t id);
	void *arg;
	sha256_ctx_t *running;	       /* or NULL */
	const struct pack_span *spans; /* span_count of them, or NULL */
	size_t span_count;
};

/*
 * Add a chunk of this dataset, the first len bytes of *raw (a buffer of
 * chunk_cap bytes from xmalloc): the workers hash it and, unless the
 * index already has it, compress it; in submission order the caller's
 * thread dedups it, appends new bytes to a shard and tells sink its
 * local id. New bytes are not copied: the pipeline keeps *raw and puts
 * another buffer of chunk_cap bytes in its place for the caller's next
 * chunk. Returns the first error of this or an earlier chunk.
 */
int pack_pipeline_add(struct pack_pipeline *pp, uint8_t **raw, size_t len,
		      const struct pack_chunk_sink *sink);
/*
 * Add a chunk already stored (c: its record in the catalog of the
 * revision being extended) without its bytes: the same local id and
 * record pack_pipeline_add of its bytes would give. -EINVAL if c is
 * encrypted and the dataset is not, or the other way round. sink's
 * spans and running are not used.
 */
int pack_pipeline_reuse(struct pack_pipeline *pp, const struct repo_chunk *c,
			const struct pack_chunk_sink *sink);
/* Settle every chunk added so far (their sinks are told): 0 or the
 * first error. */
int pack_pipeline_settle(struct pack_pipeline *pp);
/*
 * Wait for the chunks in the pipeline and drop them (their sinks get
 * -ECANCELED): after a failed dataset, before what their sinks point to
 * is freed.
 */
void pack_pipeline_drop(struct pack_pipeline *pp);
/*
 * Finish the dataset: store everything scheduled, close the open shard
 * and write every chunk record of the dataset to w.
 */
int pack_pipeline_dataset_end(struct pack_pipeline *pp,
			      repo_catalog_writer_t *w);
void pack_pipeline_free(struct pack_pipeline *pp);

/* ------------------------------- listing and checking (pack_check.c) -- */

#define PACK_TREE_DEPTH_MAX 256
#define PACK_SYMLINK_TARGET_MAX 4096

struct pack_entry {
	char *name;
	struct stat st; /* lstat */
};

/* Read, validate (names) and sort by name one directory's entries. path
 * names the directory in messages. Free with pack_entries_free. */
int pack_dir_list(int fd, const char *path, struct pack_entry **out,
		  size_t *count);
void pack_entries_free(struct pack_entry *e, size_t n);
/* Why a symlink target leaves the dataset from a directory at depth
 * (0: the dataset's top), or NULL if it stays inside. */
const char *pack_symlink_escape_reason(const char *target, int depth);
/* The target of symlink name in dirfd (1..4096 bytes), a new string. */
int pack_symlink_read(int dirfd, const char *name, const char *path,
		      char **out);
/*
 * Check a dataset tree before anything is written: names, file types,
 * symlinks that leave the dataset, readable directories, depth. Adds its
 * regular files and their bytes to *files and *bytes.
 */
int pack_tree_check(const char *src_dir, uint64_t *files, uint64_t *bytes);

/* --------------------------------- pack state (pack_state.c) -- */

/*
 * The identity of one source file when it was packed (publisher-local:
 * never published). Indexed by the file's inode number in the dataset
 * catalog it was packed into.
 */
enum pack_state_record_flags {
	PACK_STATE_FILE = 1 << 0, /* a regular file: the record is valid */
	PACK_STATE_RACY = 1 << 1, /* changed too close to its pack to trust */
};

struct pack_state_record {
	uint64_t dev, ino;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t flags; /* enum pack_state_record_flags */
};

/* What a dataset section must match to be trusted. */
struct pack_state_dataset_key {
	const char *name;
	struct digest catalog;	   /* the dataset catalog it describes */
	uint32_t tier;		   /* enum repo_tier */
	struct digest fingerprint; /* of the secure tier's key; else zero */
};

struct pack_state;	  /* the state of the revision being extended */
struct pack_state_writer; /* the state of the revision being packed */

/*
 * Open the state file in dir if it describes exactly root catalog root
 * packed with chunk_size; else NULL (logged at info level, or as a
 * warning for an unreadable file: every file is then read).
 */
struct pack_state *pack_state_open(const char *dir, const struct digest *root,
				   uint32_t chunk_size);
void pack_state_free(struct pack_state *s);
/* Select the section matching key; false (and no section) if none. */
bool pack_state_dataset(struct pack_state *s,
			const struct pack_state_dataset_key *key);
/* The selected section's record of inode ino: true, or false if none. */
bool pack_state_lookup(struct pack_state *s, uint64_t ino,
		       struct pack_state_record *rec);

/*
 * The writer never fails the pack: its first error is logged as a
 * warning and turns it off (the next pack then reads every file).
 * Creates dir (mode 0700) and a temporary file in it. Every writer
 * function accepts NULL (no state written) and does nothing then.
 */
void pack_state_writer_new(const char *dir, uint32_t chunk_size,
			   struct pack_state_writer **out);
void pack_state_writer_dataset_begin(struct pack_state_writer *w,
				     const struct pack_state_dataset_key *key);
/* Records of inodes first .. first + n - 1 of the current dataset. */
void pack_state_writer_records(struct pack_state_writer *w, uint64_t first,
			       const struct pack_state_record *recs, size_t n);
/* The dataset's walk is done: its last inode number. */
void pack_state_writer_dataset_end(struct pack_state_writer *w,
				   uint64_t inode_count);
/* The catalog of dataset name (begun before), once it is written. */
void pack_state_writer_catalog(struct pack_state_writer *w, const char *name,
			       const struct digest *catalog);
/* The revision is published with root catalog root: install the file. */
void pack_state_writer_commit(struct pack_state_writer *w,
			      const struct digest *root);
/* Free; removes the temporary file unless committed. NULL is a no-op. */
void pack_state_writer_free(struct pack_state_writer *w);
/* SHA-256 of a domain string and key: what a state records of a key. */
void pack_state_key_fingerprint(const uint8_t key[PUBLISH_DATASET_KEY_LEN],
				struct digest *out);

/* ---------------------------- the revision extended (pack_prev.c) -- */

struct pack_prev;

/*
 * Open the revision of the locked repository: verify its manifest with
 * key, unpack its root catalog under scratch (a private directory).
 * -ENOENT: no manifest (not logged).
 */
int pack_prev_open(publish_lock_t *lock, const repo_key_t *key,
		   const char *scratch, struct pack_prev **out);
void pack_prev_free(struct pack_prev *p);
const struct repo_manifest *pack_prev_manifest(const struct pack_prev *p);
/*
 * Put every chunk of every dataset of the revision into ix, give the
 * datasets of spec that existed their old ids and new ones the next
 * (never one handed out before). *next_id: the root catalog's
 * next-dataset-id.
 */
int pack_prev_seed(struct pack_prev *p, struct pack_index *ix,
		   struct pack_spec *spec, uint32_t *next_id);
/*
 * The record and the opened catalog (repo_catalog_free) of dataset name
 * in the revision; -ENOENT (not logged) if it has no such dataset.
 */
int pack_prev_dataset(struct pack_prev *p, const char *name,
		      struct repo_dataset *d, repo_catalog_t **cat);

/* ----------------------------- grouping small files (pack_group.c) -- */

/*
 * The small-file grouping rule (docs/FORMAT.md §9.2), computed as files
 * come: where a group ends depends only on the keys and sizes of the
 * files near it, so an edit moves at most the boundaries next to it.
 * Files are pushed in order; the caller keeps their data in the same
 * order and takes whole groups from the front.
 */
struct pack_group;

/* A file weighs at least chunk_size / this: a chunk holds at most this
 * many files. */
#define PACK_GROUP_FILES_MAX 65536

struct pack_group *pack_group_new(uint32_t chunk_size);
void pack_group_free(struct pack_group *g);
/* The next small file: its key (pack_group_key) and size (1..C/4). */
void pack_group_push(struct pack_group *g, const struct digest *key,
		     uint64_t size);
/* If a group is complete at the front: true and its number of files,
 * which are dropped from g. */
bool pack_group_take(struct pack_group *g, size_t *count);
/* At the end: the remaining files form the last group; its size, or 0.
 * Every complete group must have been taken before. */
size_t pack_group_finish(struct pack_group *g);
/* Whether a file of this key and weight ends its group (rule 1). */
bool pack_group_ends(const struct digest *key, uint64_t weight,
		     uint32_t chunk_size);
/* The key of a small file: SHA-256 of its path inside the dataset. */
void pack_group_key(const char *path, struct digest *key);

/* --------------------------------------- packing a dataset (walk) -- */

struct pack_small;
struct pack_records;

/* Everything one dataset's walk needs; owned by the caller. */
struct pack_dataset_ctx {
	uint32_t chunk_size;
	uint32_t small_max;  /* files up to this go into shared chunks */
	uint32_t piece_size; /* larger files are cut into pieces of this */
	struct pack_pipeline *pp;
	repo_catalog_writer_t *w;
	struct pack_records *records; /* the order w gets inodes, dirents */
	struct repo_dataset *d;	      /* files, bytes, root_* filled */
	struct pack_stats *stats;
	struct pack_report *report;
	/* the dataset in the revision extended, or NULL */
	repo_catalog_t *prev;
	/* its trusted pack state section, or NULL: read every file */
	struct pack_state *state;
	struct pack_state_writer *state_out; /* may be NULL */
	/* files changed at or after this are not trusted by the next pack */
	struct timespec racy_after;
	uint64_t inodes; /* set by the walk: the catalog's inode count */
};

/*
 * Walk src_dir (a dataset), write its inodes and dirents to c->w and feed
 * file bytes (or unchanged files' chunks) to c->pp. Errors name the file.
 */
int pack_dataset_walk(const char *src_dir, struct pack_dataset_ctx *c);

/*
 * Open name in dirfd for reading and check it is still the file listed
 * (device, inode and size of the listing's lstat): a file replaced,
 * shrunk or grown since is -EIO, so no other file is ever read.
 */
int pack_file_open(int dirfd, const char *name, const char *path,
		   const struct stat *listed, int *fd);
/* Read exactly n bytes; a short file is -EIO ("shrank"). */
int pack_file_read(int fd, uint8_t *p, size_t n, const char *path);
/* At the listed size, the file must end there: -EIO ("grew") if not. */
int pack_file_end(int fd, const char *path);

/* A small file waiting for its group (pack_small.c). */
struct pack_small_file {
	char *path;		 /* inside the dataset; owned */
	struct repo_inode inode; /* name points into path; no extents */
	dev_t dev;
	ino_t ino;
	bool unchanged; /* as packed before: prev_* and inode.sha256 valid */
	uint32_t prev_chunk, prev_offset;
};

/* root_fd: the dataset's top directory, kept open by the caller. */
struct pack_small *pack_small_new(struct pack_dataset_ctx *c, int root_fd,
				  const char *root_path);
void pack_small_free(struct pack_small *s);
/* Queue a small file (takes f's path); packs the groups it completes. */
int pack_small_add(struct pack_small *s, struct pack_small_file *f);
/* Pack what remains: the dataset's last group. */
int pack_small_finish(struct pack_small *s);
/* Report a file done (read or unchanged) to stats and progress. */
void pack_file_done(struct pack_dataset_ctx *c, uint64_t size, bool unchanged);

/* ------------------- catalog records in walk order (pack_records.c) -- */

/*
 * The walk's inode and directory-entry records go to c->w in the order
 * the walk makes them; a file's inode waits there until the pipeline has
 * given its chunks' ids (and its digest), and the records after it wait
 * behind it.
 */
struct pack_record;

struct pack_records *pack_records_new(struct pack_dataset_ctx *c);
/* Frees what still waits (after a failure: pack_pipeline_drop first). */
void pack_records_free(struct pack_records *q);
/* A complete inode (directory, symlink): written now or queued (copied). */
int pack_records_put(struct pack_records *q, const struct repo_inode *i);
/* A directory entry: written now or queued (copied). */
int pack_records_dirent(struct pack_records *q, uint64_t parent,
			const char *name, uint64_t ino, uint32_t type);
/*
 * A file's record (copied; with extents extents, copied from i's if it
 * has them), waiting for a chunk id per extent, in order, and for
 * pack_records_built. unchanged: for pack_file_done once written.
 * A long queue is first written out (the pipeline settled), so what
 * waits stays bounded: the records of one small-file group beyond a
 * fixed number.
 */
int pack_records_file(struct pack_records *q, const struct repo_inode *i,
		      uint32_t extents, bool unchanged,
		      struct pack_record **out);
/* The entry's extents, for the caller to fill all but the chunk ids. */
struct repo_extent *pack_record_extents(struct pack_record *e);
/* The file's digest is made by the pipeline from its chunks, in order. */
void pack_records_running(struct pack_record *e);
/*
 * first and the n-1 files queued after it are small files that share
 * each chunk (each one extent, set); digests: a worker computes each
 * one's digest from the chunk's bytes at its extent.
 */
void pack_records_group(struct pack_record *first, uint32_t n, bool digests);
/* The sink for first's (or its group's) next chunk. */
void pack_records_sink(struct pack_record *first, struct pack_chunk_sink *sink);
/* Every chunk of first (or its group) was submitted. */
int pack_records_built(struct pack_record *first);
/* After the pipeline's dataset end: every record written, else -EIO. */
int pack_records_finish(struct pack_records *q);

/* ------------------------------ moving objects in (pack_objects.c) -- */

/* Objects moved into the repository by this pack, to undo on failure. */
struct pack_published {
	char **paths;
	size_t count;
	size_t catalogs;
};

/*
 * Check repo before it is locked: *exists, *has_manifest; -ENOTDIR or
 * -EINVAL (a non-empty directory without a manifest) logged.
 */
int pack_repo_inspect(const char *repo, bool *exists, bool *has_manifest);
/* Remove staging directories a crashed pack left (under the lock). */
void pack_staging_remove_stale(const char *repo);
/* Move every object under objects/ into repo (never replacing one) and
 * fsync the directories. */
int pack_objects_publish(const char *objects, const char *repo,
			 struct pack_published *pub);
/* Remove what pack_objects_publish moved. */
void pack_objects_unpublish(struct pack_published *pub);
void pack_published_release(struct pack_published *pub);

#endif

/* Internals of `aidata pack`, shared by its files only. */
#ifndef AIDATA_PACK_INT_H
#define AIDATA_PACK_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <lmdb.h>

#include "repo.h"

/* ------------------------------------------------ the datasets file -- */

struct pack_spec_entry {
	struct repo_dataset d; /* name, industry, modality, tier, license,
				* description filled from the file */
};

struct pack_spec {
	struct pack_spec_entry *entries; /* sorted by name */
	size_t count;
};

/*
 * Parse the datasets JSON file and check it against SRC: every entry
 * valid and unique, every top-level directory of src described and every
 * described dataset present. Errors are printed naming the file and the
 * reason. 0 or -EINVAL/-errno.
 */
int pack_spec_load(const char *path, const char *src, struct pack_spec *out);
void pack_spec_release(struct pack_spec *spec);

/* ------------------------------------------------- the dedup index -- */

/*
 * Chunk digest -> where it is stored, for every chunk of the previous
 * revision and every chunk this run stores; plus the per-dataset chunk id
 * table. An LMDB environment in scratch space; main thread only.
 */
struct pack_index;

#define PACK_SHARD_FINAL UINT64_MAX /* location has a shard digest */

struct pack_location {
	struct repo_chunk chunk; /* shard digest valid if shard_seq is FINAL */
	uint64_t shard_seq;	 /* this run's shard sequence, while open */
	bool this_run;		 /* referenced by this pack already */
};

int pack_index_new(const char *dir, struct pack_index **out);
void pack_index_free(struct pack_index *ix);
/* 0 and *loc, or -ENOENT. */
/* key: the chunk's digest, or for a secure dataset's chunk
 * pack_secure_index_key() of it, so that ciphertext and plaintext of the
 * same content are never taken for one another. */
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

/* ------------------------------------ compression and shard writing -- */

struct pack_stats {
	uint64_t files, dirs, symlinks;
	uint64_t bytes_in; /* file bytes read */
	uint64_t chunks, chunks_new;
	uint64_t chunk_bytes_new; /* uncompressed bytes of new chunks */
	uint64_t stored_new;	  /* bytes written to new shards */
	uint64_t shards_new;
	uint64_t unique_bytes; /* uncompressed bytes of distinct chunks */
};

struct pack_pipeline;

/*
 * objects_dir: staging root ("<objects_dir>/data/aa/<hex>" are created).
 * workers: compression threads. level: zstd level. shard_size: target.
 */
int pack_pipeline_new(const char *objects_dir, struct pack_index *ix,
		      unsigned workers, int level, uint64_t shard_size,
		      struct pack_stats *stats, struct pack_pipeline **out);
/*
 * Chunks added from now on belong to dataset; a non-NULL key (secure
 * tier) makes them encrypted with it.
 */
void pack_pipeline_dataset_begin(struct pack_pipeline *pp, const char *dataset,
				 const uint8_t *key);
/*
 * Add a chunk of this dataset: dedups against the index, schedules new
 * bytes for compression and storage, and returns its local id.
 * raw is copied.
 */
int pack_pipeline_add(struct pack_pipeline *pp, const void *raw, size_t len,
		      uint32_t *id);
/*
 * Finish the dataset: store everything scheduled, close the open shard
 * and write every chunk record of the dataset to w.
 */
int pack_pipeline_dataset_end(struct pack_pipeline *pp,
			      repo_catalog_writer_t *w);
void pack_pipeline_free(struct pack_pipeline *pp);

/* --------------------------------------------------- the tree walker -- */

struct pack_progress {
	uint64_t total_bytes;
	uint64_t total_files;
	bool tty;
	double started;
	double last_draw;
};

struct pack_tree_options {
	uint32_t chunk_size;
	uint32_t small_max; /* files up to this go into shared chunks */
};

/*
 * Walk src_dir (a dataset), write its inodes and dirents to w, feed file
 * bytes to pp. Fills d->files, d->bytes. Errors name the file.
 */
int pack_tree_dataset(const char *src_dir, const struct pack_tree_options *o,
		      struct pack_pipeline *pp, repo_catalog_writer_t *w,
		      struct repo_dataset *d, struct pack_stats *stats,
		      struct pack_progress *progress);
/*
 * Check a dataset tree before anything is written: names, file types,
 * symlinks that leave the dataset, readable directories. Adds its files
 * and bytes to progress totals.
 */
int pack_tree_check(const char *src_dir, struct pack_progress *progress);

void pack_progress_draw(struct pack_progress *p, const struct pack_stats *s,
			bool final);
double pack_now(void);

#endif

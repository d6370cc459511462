/*
 * The per-job accounts behind the data receipts (docs/RECEIPT.md),
 * without FUSE or catalogs: for each cgroup that opened files on the
 * mount, per dataset (a slot: one catalog of one dataset) the files
 * opened (by their catalog inode) and how often, and the bytes served
 * through those opens. fs/ns_receipt.c feeds it from ns_open and
 * ns_read and renders its snapshots.
 *
 * Memory is bounded by the limits below. Beyond them nothing stops and
 * no count becomes wrong: a dataset's opens and bytes stay exact, its
 * list of files stops growing and says so (truncated); a cgroup beyond
 * the last one kept replaces the one idle longest, preferring a cgroup
 * that no longer exists.
 *
 * Thread-safe. Functions return 0 or a negative errno.
 */
#ifndef AIDATA_RECEIPT_H
#define AIDATA_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The limits. At most 32 MiB go to file lists (16 bytes a file, in
 * tables kept at least a quarter full) and 10 MiB to datasets (about 72
 * bytes each); a rendered receipt lists at most RECEIPT_FILES_MAX files.
 */
#define RECEIPT_CGROUPS_MAX 1024   /* accounts kept */
#define RECEIPT_DATASETS_MAX 128   /* datasets listed per account */
#define RECEIPT_FILES_MAX 100000   /* files listed per account ... */
#define RECEIPT_FILES_TOTAL 500000 /* ... and over all accounts */

struct receipt_limits {
	unsigned cgroups, datasets, files, files_total;
};

typedef struct receipt_book receipt_book_t;

/*
 * A new, empty book in *out (free with receipt_book_free). lim NULL:
 * the RECEIPT_*_MAX limits. gone(ctx, cgroup, id), if given, says
 * whether a cgroup no longer exists, to choose which account to drop.
 */
int receipt_book_new(const struct receipt_limits *lim,
		     bool (*gone)(void *ctx, const char *cgroup, uint64_t id),
		     void *ctx, receipt_book_t **out);
void receipt_book_free(receipt_book_t *b);

/* Where the bytes read through one open file are counted. */
struct receipt_tag {
	uint32_t account; /* index + 1; 0: not counted */
	uint32_t dataset;
	uint64_t generation;
};

/*
 * A granted open of file (its catalog inode) of dataset (its slot) by
 * a process of cgroup (path, id; id 0: unknown, the account last used
 * under that path) owned by uid owner, at unix time now, while revision
 * was served: counted in that cgroup's account, created if needed.
 * *tag, for receipt_record_bytes, says where reads through this open
 * count.
 */
void receipt_record_open(receipt_book_t *b, const char *cgroup, uint64_t id,
			 uint32_t owner, uint32_t dataset, uint64_t revision,
			 uint64_t file, int64_t now, struct receipt_tag *tag);
/* n bytes served through an open tagged tag (nothing once its account
 * was reset or dropped). */
void receipt_record_bytes(receipt_book_t *b, const struct receipt_tag *tag,
			  uint64_t n);

/* A copy of an account, owned by the caller (receipt_account_release). */
struct receipt_file {
	uint64_t file;
	uint64_t opens;
};

struct receipt_dataset {
	uint32_t dataset;
	uint64_t revision;	    /* served at its first open */
	uint64_t opens;		    /* exact */
	uint64_t bytes;		    /* exact: served through those opens */
	uint64_t opens_unlisted;    /* opens of files not in the list */
	bool truncated;		    /* the list stopped at a limit */
	struct receipt_file *files; /* by file, ascending */
	size_t nfiles;
};

struct receipt_account {
	char *cgroup;
	uint64_t id;
	uint32_t owner;	 /* uid owning the cgroup when it was first seen */
	int64_t started; /* first open, or the last reset */
	uint64_t resets; /* how many accounts of it came before */
	uint64_t opens_unlisted; /* opens of datasets past the limit ... */
	uint64_t bytes_unlisted; /* ... and the bytes served through them */
	struct receipt_dataset *datasets; /* in order of first open */
	size_t ndatasets;
};

/*
 * A copy of the account of cgroup (path, id; id 0: the one last used
 * under that path) into *out; with reset, the
 * account then starts afresh at now (what it held is in *out, and
 * reads through files opened before no longer count). -ENOENT (and an
 * empty *out naming the cgroup) when it has none.
 */
int receipt_snapshot(receipt_book_t *b, const char *cgroup, uint64_t id,
		     bool reset, int64_t now, struct receipt_account *out);
void receipt_account_release(struct receipt_account *a);

/* Accounts dropped to stay within the limit of cgroups, and listed
 * files held now (over all accounts). */
void receipt_book_counts(receipt_book_t *b, uint64_t *dropped,
			 uint64_t *files_held);

#endif

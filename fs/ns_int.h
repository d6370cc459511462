/*
 * Private to the namespace (fs/ns_*.c): its state, the inode number
 * layout, and the helpers its files share. ns.h is the interface.
 *
 *   ns_inode.c    inode numbers and attributes
 *   ns_rev.c      revisions: manifest, root catalog, datasets, labels
 *   ns_slot.c     a dataset's slot: its catalog and (secure) its key
 *   ns_dir.c      directories and the three views: lookup, readdir
 *   ns_file.c     files: open, tier checks, read planning
 *   ns_readahead.c  readahead within a file and across a directory
 *   ns_xattr.c    user.aidata.* attributes
 *   ns_control.c  the .aidata/ control files
 *   ns_status.c   .aidata/status
 *   ns_receipt.c  per-job data receipts (.aidata/receipt), on receipt.c
 */
#ifndef AIDATA_NS_INT_H
#define AIDATA_NS_INT_H

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "ns.h"
#include "receipt.h"
#include "stats.h"

/* ------------------------------------------------------ inode numbers -- */

#define SLOT_BITS 20
#define SLOT_MAX (1u << SLOT_BITS)
#define SLOT_HIGH_START (1u << (SLOT_BITS - 1))
#define LOCAL_MASK ((1ULL << 40) - 1)
#define INO_KIND_FIXED 0
#define INO_KIND_LABEL 1
#define INO_KIND_TREE 2
#define TREE_INO(view, slot, local)                                            \
	(((uint64_t)INO_KIND_TREE << 62) | ((uint64_t)(view) << 60) |          \
	 ((uint64_t)(slot) << 40) | (local))
#define LABEL_INO(which, i)                                                    \
	(((uint64_t)INO_KIND_LABEL << 62) | ((uint64_t)(which) << 40) | (i))
#define INO_KIND(ino) ((ino) >> 62)
#define TREE_VIEW(ino) ((unsigned)(((ino) >> 60) & 3))
#define TREE_SLOT(ino) ((uint32_t)(((ino) >> 40) & (SLOT_MAX - 1)))
#define TREE_LOCAL(ino) ((ino)&LOCAL_MASK)
#define LABEL_WHICH(ino) ((unsigned)(((ino) >> 40) & 3))
#define LABEL_INDEX(ino) ((uint32_t)((ino)&0xffffffffu))

/* Attribute timeout of what a revision switch may change. */
#define SYNTHETIC_TIMEOUT 1.0

#define COUNT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define COUNT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* The label kinds, each a view: by-industry/, by-modality/,
 * by-contributor/ (tree view which + 1). */
enum { LABEL_INDUSTRY = 0, LABEL_MODALITY = 1, LABEL_CONTRIBUTOR = 2 };
#define LABEL_KINDS 3
/* A slot's label of a kind it does not carry (no contributor). */
#define LABEL_NONE UINT32_MAX

/* The top directory of label kind which, and the other way round. */
static inline uint64_t ns_label_top(unsigned which)
{
	return which == LABEL_INDUSTRY	 ? NS_INO_BY_INDUSTRY
	       : which == LABEL_MODALITY ? NS_INO_BY_MODALITY
					 : NS_INO_BY_CONTRIBUTOR;
}

static inline bool ns_label_kind_of(uint64_t top, unsigned *which)
{
	for (unsigned w = 0; w < LABEL_KINDS; w++) {
		if (ns_label_top(w) == top) {
			*which = w;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- state -- */

/* One reader (or several, of neighbouring files) going through a
 * directory's files in listing order (ns_readahead.c). */
#define NS_RA_STREAMS 4
struct ns_ra_stream {
	uint64_t dir;	 /* the directory */
	uint64_t ino;	 /* the file last finished in it */
	uint32_t run;	 /* files finished in a row in listing order */
	uint64_t queued; /* files up to this inode are queued */
	uint64_t ahead;	 /* bytes queued past what readers finished */
	uint64_t used;	 /* ra_clock when last used */
};

/* One catalog of one dataset; never freed while the mount lives, so an
 * inode number stays meaningful for as long as the kernel holds it. */
struct ns_slot {
	struct repo_dataset d;
	uint32_t label[LABEL_KINDS]; /* LABEL_NONE: not carried */
	pthread_mutex_t lock;
	repo_catalog_t *cat; /* opened on first use; protected by lock */
	/* secure tier: the dataset key, unsealed in memory only */
	int key_state; /* 0 unknown, 1 held, <0 -errno; protected by lock */
	time_t key_checked;		   /* protected by lock */
	uint8_t key[AUTH_DATASET_KEY_LEN]; /* protected by lock */
	/* readahead across the files of directories (ns_readahead.c), one
	 * stream per directory being read in order; protected by ra_lock */
	pthread_mutex_t ra_lock;
	struct ns_ra_stream ra[NS_RA_STREAMS];
	uint64_t ra_clock; /* ticks at every finished file (LRU) */
};

/* One revision: its manifest, root catalog and datasets by name. */
struct ns_rev {
	unsigned refs; /* protected by ns->lock */
	struct repo_manifest m;
	repo_catalog_t *root;
	uint32_t *slots; /* dataset slots in name order */
	size_t n;
	uint32_t *labels[LABEL_KINDS]; /* label indices present, name order */
	size_t nlabels[LABEL_KINDS];
};

struct ns {
	cache_t *cache;
	const repo_key_t *pub;
	auth_t *auth;
	uint8_t key_id[32];
	pthread_mutex_t lock;
	struct ns_rev *rev;	    /* protected by lock */
	struct ns_slot **slots;	    /* SLOT_MAX pointers; protected by lock */
	uint32_t next_high_slot;    /* protected by lock */
	char **labels[LABEL_KINDS]; /* append-only; protected by lock */
	uint32_t nlabels[LABEL_KINDS]; /* protected by lock */
	struct ns_slot **open_slots;   /* slots with a catalog open; lock */
	size_t nopen;		       /* protected by lock */
	uint64_t catalog_ops;	     /* atomic: lookups/readdirs since a trim */
	struct fs_counters counters; /* atomics */
	struct ns_receipts *receipts; /* ns_receipt.c; NULL: not kept */
	/* the files open now, released by ns_free if the kernel never
	 * does (a daemon stopped while readers hold files) */
	pthread_mutex_t files_lock;
	struct ns_file *files;
};

enum ns_file_kind { FILE_TREE, FILE_GENERATED, FILE_LOGIN, FILE_RECEIPT };

struct ns_file {
	enum ns_file_kind kind;
	struct ns_slot *slot;
	struct repo_inode inode;
	uint64_t *starts; /* starts[k]: file offset of extent k; [count]=size */
	char *text;	  /* generated content */
	size_t text_len;
	pthread_mutex_t lock;
	uint64_t next_off; /* protected by lock: where a sequential reader
			    * continues */
	/* secure files: the last chunk read stays held, so its shared
	 * plaintext outlives a read and a sequential reader of this file
	 * does not decrypt it again; protected by lock */
	struct cache_chunk_ref held;
	uint32_t held_id;
	uint32_t prefetched_to;	    /* protected by lock: extents queued */
	struct receipt_tag receipt; /* FILE_TREE: the account reads count in */
	/* FILE_RECEIPT: texts a request replaced, kept until release (a
	 * read may still use them); protected by lock */
	char **retired;
	size_t nretired;
	struct ns_file *prev, *next; /* ns->files; protected by files_lock */
};

/*
 * What a reader sees of a catalog failure: a record that does not decode
 * (-EINVAL from repo/) is an I/O error; other errors (-ENOENT of a
 * lookup, -EIO) stay as they are.
 */
static inline int ns_catalog_errno(int rc)
{
	return rc == -EINVAL ? -EIO : rc;
}

/* ------------------------------------------------------------ ns_rev.c -- */

/* The current revision, referenced until ns_rev_put. */
struct ns_rev *ns_rev_get(ns_t *ns);
void ns_rev_put(ns_t *ns, struct ns_rev *r);
/* The slot of dataset name (len bytes) in r and its index, or NULL. */
struct ns_slot *ns_rev_find(ns_t *ns, struct ns_rev *r, const char *name,
			    size_t len, uint32_t *slot_index);
/* Datasets of r carrying label i of kind which (industry, modality,
 * contributor). */
size_t ns_label_count(ns_t *ns, struct ns_rev *r, unsigned which, uint32_t i);
/* Name of label i (lives as long as ns), or NULL. */
const char *ns_label_name(ns_t *ns, unsigned which, uint32_t i);

/* ----------------------------------------------------------- ns_slot.c -- */

/* Slot i, or NULL; slots live as long as ns. */
struct ns_slot *ns_slot_at(ns_t *ns, uint32_t i);
/* The slot's catalog, fetched and opened on first use; lives as long as
 * ns. -EIO when it cannot be had (logged). */
int ns_slot_catalog(ns_t *ns, struct ns_slot *s, repo_catalog_t **out);
/*
 * The secure tier: this node's copy of the dataset key, unsealed in
 * memory from keys/<dataset>/<node id> on first use (a failure is
 * retried after a while). 0 and key (the caller wipes it), -ENOKEY.
 */
int ns_slot_dataset_key(ns_t *ns, struct ns_slot *s,
			uint8_t key[AUTH_DATASET_KEY_LEN]);
/* Count a lookup or listing; every so many, trim the catalog mappings. */
void ns_catalog_op(ns_t *ns);
/* Free the slots (at ns_free). */
void ns_slots_free(ns_t *ns);

/* ---------------------------------------------------------- ns_inode.c -- */

/* The slot of a tree inode and, unless cat is NULL, its catalog. */
int ns_tree_resolve(ns_t *ns, uint64_t ino, struct ns_slot **slot,
		    repo_catalog_t **cat);
/* Attributes of catalog inode i, seen as ino (read-only modes). */
void ns_stat_inode(struct stat *st, uint64_t ino, const struct repo_inode *i);
/* Attributes of a synthetic directory. */
mode_t ns_mode_bits(uint32_t mode);
void ns_stat_dir(struct stat *st, uint64_t ino, uint32_t nlink, int64_t mtime);

/* ----------------------------------------------------------- ns_file.c -- */

/* The request auth/ decides on for who opening a file of slot s. */
void ns_auth_request_init(ns_t *ns, struct auth_request *r,
			  const struct ns_caller *who, struct ns_slot *s,
			  const char *path);

/* -------------------------------------------------------- ns_control.c -- */

/* Whether ino is one of the .aidata/ files. */
bool ns_control_is_file(uint64_t ino);
/* Attributes of the .aidata/ file ino, in revision r. */
void ns_control_stat(ns_t *ns, struct ns_rev *r, uint64_t ino, struct stat *st);
/* Entry i of .aidata/ (name order): 0, or -ENOENT past the last. */
int ns_control_entry(size_t i, const char **name, uint64_t *ino);
/* The .aidata/ file named name: 0, or -ENOENT. */
int ns_control_lookup(const char *name, uint64_t *ino);
/* Open the .aidata/ file ino (ns_open's contract). */
int ns_control_open(ns_t *ns, uint64_t ino, const struct ns_caller *who,
		    bool write, struct ns_file **out, bool *direct_io);
/* Read a generated file (ns_read's contract). */
int ns_control_read(struct ns_file *f, uint64_t off, size_t size,
		    struct ns_read *out);

/* --------------------------------------------------------- ns_status.c -- */

/* The text of .aidata/status (JSON); a new string the caller frees. */
char *ns_status_render(ns_t *ns);
/* The origin URL without the user information a URL may carry; a new
 * string the caller frees. */
char *ns_origin_shown(ns_t *ns);

/* -------------------------------------------------------- ns_receipt.c -- */

/* A granted open of tree inode ino as f by who: counted in the account
 * of who's cgroup (f->receipt says where f's reads count). */
void ns_receipt_opened(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
		       uint64_t ino);
/* n bytes served through f. */
void ns_receipt_served(ns_t *ns, struct ns_file *f, uint64_t n);
/* Open .aidata/receipt for who: the receipt of who's own cgroup.
 * -EOPNOTSUPP when receipts are not kept. */
int ns_receipt_file_open(ns_t *ns, const struct ns_caller *who,
			 struct ns_file **out);
/* At ns_free. */
void ns_receipts_free(ns_t *ns);

/* ----------------------------------------------------------- ns_file.c -- */

/* "/datasets/<dataset>/a/b" of catalog inode local of slot s (the
 * canonical view): a new string the caller frees. */
char *ns_tree_path(repo_catalog_t *cat, const struct ns_slot *s,
		   uint64_t local);
/* The index of the extent of f holding byte off (off < size). */
uint32_t ns_file_extent_at(const struct ns_file *f, uint64_t off);
/* ns_free: releases the files still open (the kernel released none). */
void ns_files_release_all(ns_t *ns);

/* ------------------------------------------------------ ns_readahead.c -- */

/* After a read of [off, end) of f: queue what its reader (or the reader
 * of the next files of its directory) will want next. */
void ns_readahead(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
		  uint64_t off, uint64_t end);

#endif

/*
 * ns: the namespace the mount shows, with no FUSE in it (squashfuse keeps
 * fs.c apart from ll.c the same way). It maps inode numbers to catalog
 * entries, builds the views, plans reads as lists of cached chunk pieces,
 * and switches revisions. fs/ll.c turns its answers into FUSE replies.
 *
 * Inode numbers are computed, not stored, so nothing here grows with the
 * size of the tree:
 *   1..15                 fixed: /, datasets, by-industry, by-modality,
 *                         by-contributor, .aidata and its files (login 8,
 *                         whoami 9, status 12, receipt 13, ...)
 *   1<<62 | which<<40 | i the directory of label i of kind `which` (2
 *                         bits): industry 0, modality 1, contributor 2
 *   2<<62 | view<<60 | slot<<40 | local
 *                         entry `local` of a dataset catalog, seen through
 *                         view 0 (datasets/), 1 (by-industry/), 2
 *                         (by-modality/) or 3 (by-contributor/). A
 *                         dataset without a contributor has no entry in
 *                         by-contributor/. A slot is one catalog of one
 *                         dataset: a dataset that changes in a new
 *                         revision gets a new slot, so the kernel never
 *                         mixes cached pages of two revisions.
 */
#ifndef AIDATA_NS_H
#define AIDATA_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "repo.h"

#define NS_INO_ROOT 1
#define NS_INO_DATASETS 2
#define NS_INO_BY_INDUSTRY 3
#define NS_INO_BY_MODALITY 4
#define NS_INO_CONTROL 5
#define NS_INO_STATS 6
#define NS_INO_REVISION 7
#define NS_INO_LOGIN 8
#define NS_INO_WHOAMI 9
#define NS_INO_STATUS 12
#define NS_INO_RECEIPT 13
/* the third label view came after the .aidata/ files, which grow from 6 */
#define NS_INO_BY_CONTRIBUTOR 15

/* Attribute and entry timeout for immutable catalog entries. */
#define NS_TIMEOUT_IMMUTABLE 86400.0

typedef struct ns ns_t;
struct ns_file;

/* Who is asking (from the FUSE request). */
struct ns_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/*
 * Fetch and verify the manifest with pub, refuse a revision older than
 * the newest this cache has accepted from the origin, fetch and verify
 * the root catalog. Errors are logged, one line with the reason, and
 * the same line is in why (NULL or NS_WHY_MAX bytes) for the mount's
 * refusal: "manifest: origin unreachable: HTTP 503 from '…' (4
 * attempts)", "manifest: not an aidata manifest (starts with '<html>')",
 * "manifest: unsupported format version 9 (…)", "manifest: malformed
 * line 3", "manifest: signature does not verify with the pinned key
 * (…)", "manifest: revision 3 is older than revision 5 already seen:
 * refusing a rollback", "revision 5: root catalog '<hex>': …". Returns
 * -ENOENT (no manifest), -EIO or -ETIMEDOUT (origin), -EINVAL (not a
 * manifest, malformed), -EPROTONOSUPPORT (format), -EBADMSG (signature),
 * -ESTALE (rollback), or the root catalog's error. cache, pub and auth
 * stay the caller's and must outlive *out, which is freed with ns_free
 * once every file it opened is released.
 */
#define NS_WHY_MAX 768
int ns_new(cache_t *cache, const repo_key_t *pub, auth_t *auth, ns_t **out,
	   char *why);
void ns_free(ns_t *ns);

/* The revision being served. */
uint64_t ns_revision(ns_t *ns);
/* The current revision's regular files and the sum of their sizes,
 * over every dataset (what df shows). */
void ns_totals(ns_t *ns, uint64_t *bytes, uint64_t *files);
/* One FUSE request taken from an io_uring ring (.aidata/stats). */
void ns_count_ring_request(ns_t *ns);
/* Seconds until the manifest should be checked again. */
uint32_t ns_ttl(ns_t *ns);

/* Told about every name and directory whose meaning changed. */
struct ns_notify {
	void (*entry)(void *ctx, uint64_t parent, const char *name);
	void (*inode)(void *ctx, uint64_t ino);
	void *ctx;
};

/*
 * Check the manifest now. Returns 1 after switching to a newer revision,
 * 0 if there is none, or a negative errno (logged; the current revision
 * stays). Open files keep reading the revision they opened.
 */
int ns_refresh(ns_t *ns, const struct ns_notify *notify);

/* Drop mapped catalog pages from this process's resident set. */
void ns_trim(ns_t *ns);

/*
 * Whether ino is an entry of a dataset catalog: its attributes, listing
 * and content never change (a new revision gives changed datasets new
 * inode numbers), so the kernel may cache them for NS_TIMEOUT_IMMUTABLE.
 */
bool ns_ino_immutable(uint64_t ino);

/* Attributes; *timeout is how long the kernel may cache them. */
int ns_getattr(ns_t *ns, uint64_t ino, struct stat *st, double *timeout);
int ns_lookup(ns_t *ns, uint64_t parent, const char *name, uint64_t *ino,
	      struct stat *st, double *timeout);

/*
 * List directory ino from cookie off (0 = start). fill gets each entry
 * with the cookie that resumes after it and returns non-zero when its
 * buffer is full (the entry was not taken; listing stops). Without plus
 * only st_ino and the file type in st_mode are filled.
 */
typedef int (*ns_fill_fn)(void *ctx, const char *name, size_t name_len,
			  const struct stat *st, uint64_t next_off);
int ns_readdir(ns_t *ns, uint64_t ino, uint64_t off, bool plus, ns_fill_fn fill,
	       void *ctx);

/* Symlink target: *target is a new string the caller frees. -EINVAL for
 * what is not a symlink. */
int ns_readlink(ns_t *ns, uint64_t ino, char **target);

/*
 * Open a regular file for the caller: *out, released with ns_release.
 * *direct_io is set for generated control files (their size is not known
 * in advance). -EISDIR for directories; -EACCES when the tier refuses
 * the caller (audited). write is always refused: -EROFS (audited for
 * shared and secure files).
 */
int ns_open(ns_t *ns, uint64_t ino, const struct ns_caller *who, bool write,
	    struct ns_file **out, bool *direct_io);
/* access(2): -EACCES when a read would be refused to the caller. */
int ns_access(ns_t *ns, uint64_t ino, const struct ns_caller *who, int mask);
/*
 * The login requests on an open .aidata/login (fs/uapi/aidatafs_ioctl.h):
 * bind the credential token (len bytes) to the caller's uid, or drop the
 * caller's binding. -ENOTTY for any other file. ns_login returns 0, or
 * -EACCES/-EINVAL with *reason saying why (auth_login).
 */
int ns_login(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
	     const char *token, size_t len, enum auth_reason *reason);
int ns_logout(ns_t *ns, struct ns_file *f, const struct ns_caller *who);
void ns_release(ns_t *ns, struct ns_file *f);

/* What ns_prefetch did for a range of a file. */
struct ns_prefetch_result {
	uint64_t bytes_fetched;	 /* file bytes whose chunks it fetched */
	uint64_t bytes_cached;	 /* file bytes whose chunks were cached */
	uint64_t origin_bytes;	 /* bytes received from the origin */
	uint32_t chunks_fetched; /* distinct chunks: fetched ... */
	uint32_t chunks_cached;	 /* ... and found in the cache */
};

/*
 * Fetch the chunks that bytes [off, off+len) of open file f need into
 * the cache, in their stored form (a secure chunk stays ciphertext and
 * is not decrypted): the AIDATAFS_IOC_PREFETCH request. Nothing is read
 * into the page cache or served, so a prefetch does not count as a read
 * of the file. The range is clamped to the file. Returns 0 and *out;
 * -ENOTTY when f is not a dataset file; the first error of
 * cache_chunk_fetch (-EIO, -ENOSPC: logged), with *out counting what
 * was done before it.
 */
int ns_prefetch(ns_t *ns, struct ns_file *f, uint64_t off, uint64_t len,
		struct ns_prefetch_result *out);

/*
 * Keep per-job data receipts (docs/RECEIPT.md): from now on every
 * granted open of a dataset file is counted in the account of the
 * opener's cgroup, and .aidata/receipt gives the caller's. key, if not
 * NULL, signs them (an Ed25519 private key, borrowed: it must outlive
 * ns). 0, or -ENOENT when the system has no cgroup v2 hierarchy
 * (logged; receipts then name no cgroup and only root may read them).
 */
int ns_receipts_enable(ns_t *ns, const repo_key_t *key);
/*
 * The AIDATAFS_IOC_RECEIPT request on an open .aidata/receipt: make it
 * read the receipt of cgroup (a path as in /proc/PID/cgroup; "" or NULL:
 * the caller's own), and with reset start that cgroup's account afresh
 * (the file then reads the account it closed). The caller may name its
 * own cgroup (but "/", the whole system), a cgroup whose directory it
 * owns, and root any. -ENOTTY for another file, -EINVAL for a malformed
 * path, -EACCES for a cgroup that is not the caller's.
 */
int ns_receipt_select(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
		      const char *cgroup, bool reset);

/* One piece of a read reply: bytes [pos, pos+len) of fd, or of mem
 * (fd -1); both valid until ns_read_done. */
struct ns_segment {
	int fd;
	const uint8_t *mem;
	uint64_t pos;
	size_t len;
};

struct ns_read {
	struct ns_segment *seg;
	size_t nseg;
	struct cache_chunk_ref *refs; /* pinned until ns_read_done */
	size_t nrefs;
	size_t total;
	uint8_t *own; /* bytes decoded for this read alone, or NULL */
};

/*
 * Plan a read of size bytes at off into *out: holds the chunks it needs
 * (fetched and verified if missing; secure chunks decrypted in memory)
 * and starts readahead for sequential readers. out->nseg is 0 at or past
 * the end. On error nothing is held. Call ns_read_done after replying.
 */
int ns_read(ns_t *ns, struct ns_file *f, uint64_t off, size_t size,
	    struct ns_read *out);
void ns_read_done(ns_t *ns, struct ns_read *r);

/* "user.aidata.*" attribute names of files and dataset directories,
 * each NUL-terminated, appended to names. */
int ns_listxattr(ns_t *ns, uint64_t ino, struct buf *names);
/* Value into *value (caller frees) of *len bytes; -ENODATA if absent,
 * -EOPNOTSUPP for any name outside user.* (security.*, system.*,
 * trusted.*: no such namespace here). "user.aidata.access" answers for
 * the caller. */
int ns_getxattr(ns_t *ns, uint64_t ino, const struct ns_caller *who,
		const char *name, char **value, size_t *len);

#endif

/*
 * repo: the aidata repository format, shared by the publisher (tools/) and
 * the mount (cache/, fs/). docs/FORMAT.md is the byte-level specification;
 * this header is its C interface. Nothing here does I/O with an origin:
 * callers hand in bytes or local file paths.
 *
 * Errors: every function returning int returns 0 or a negative errno.
 *   -EINVAL    malformed input (bad syntax, bad record)
 *   -EBADMSG   well-formed but does not verify (signature, digest)
 *   -ENOENT    not found (lookup)
 *   -EIO       the underlying LMDB or zstd call failed (logged once)
 */
#ifndef AIDATA_REPO_H
#define AIDATA_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "digest.h"

/* The manifest format publishers write, and the oldest readers accept
 * (FORMAT.md §3, §8): format 2 added root-catalog-size. */
#define REPO_MANIFEST_FORMAT 2
#define REPO_MANIFEST_FORMAT_MIN 1
/* Caps on what a reader accepts from an origin. */
#define REPO_MANIFEST_MAX (1024 * 1024)
#define REPO_CHUNK_MAX (64u * 1024 * 1024)
/* stored bytes of a chunk: a zstd frame's worst case, plus room for the
 * secure tier's encryption envelope */
#define REPO_STORED_MAX (REPO_CHUNK_MAX + REPO_CHUNK_MAX / 8 + 64)
#define REPO_NAME_MAX 255
#define REPO_ROOT_INO 1 /* the dataset's top directory in its catalog */

/* ---------------------------------------------------------------- keys -- */

/* An Ed25519 key: private (can sign) or public only. Opaque. */
typedef struct repo_key repo_key_t;

/* Generate a new Ed25519 key pair. 0 or -EIO. Free with repo_key_free. */
int repo_key_generate(repo_key_t **out);
/*
 * Load a PEM private key (PKCS#8) or public key (SubjectPublicKeyInfo).
 * Returns 0, -errno for I/O, -EINVAL if the file is not an Ed25519 key of
 * that kind.
 */
int repo_key_load_private(const char *path, repo_key_t **out);
int repo_key_load_public(const char *path, repo_key_t **out);
/* Write the private key (mode 0600) or public key (0644) as PEM. */
int repo_key_write_private(const repo_key_t *key, const char *path);
int repo_key_write_public(const repo_key_t *key, const char *path);
/* The 32 raw public key bytes. */
int repo_key_public_raw(const repo_key_t *key, uint8_t out[32]);
/* Sign n bytes (private key only); sig is 64 bytes. 0 or -EINVAL/-EIO. */
int repo_key_sign(const repo_key_t *key, const void *p, size_t n,
		  uint8_t sig[64]);
/* 0 if sig is a valid signature of p by key, else -EBADMSG. */
int repo_key_verify(const repo_key_t *key, const void *p, size_t n,
		    const uint8_t sig[64]);
void repo_key_free(repo_key_t *key);

/* ------------------------------------------------------------ manifest -- */

struct repo_manifest {
	uint32_t format;	    /* REPO_MANIFEST_FORMAT_MIN .. _FORMAT */
	uint64_t revision;	    /* 1, 2, ... strictly increasing */
	struct digest root_catalog; /* digest of the root catalog object */
	/* its size in bytes; format 2 on (>= 1), 0 in format 1: unknown */
	uint64_t root_catalog_size;
	int64_t created; /* unix seconds, UTC */
	uint32_t ttl;	 /* seconds a client may use it unchecked */
	char **revoked;	 /* revoked credential ids (jti) */
	size_t revoked_count;
};

/*
 * Serialise and sign m with key, in format m->format (1 without the
 * root-catalog-size line, 2 and on with it). *out is a new buffer
 * (caller frees) of *out_len bytes, the exact bytes of the manifest
 * object. m stays the caller's. -EINVAL for an invalid revoked id, a bad
 * time, or format 2 without a root catalog size.
 */
int repo_manifest_encode(const struct repo_manifest *m, const repo_key_t *key,
			 char **out, size_t *out_len);
/*
 * Parse a manifest object of len bytes and verify its signature with pub.
 * Fills m (release with repo_manifest_release). -EINVAL when malformed
 * or not a manifest at all, -EPROTONOSUPPORT for a format version other
 * than REPO_MANIFEST_FORMAT_MIN .. REPO_MANIFEST_FORMAT, -EBADMSG for a
 * bad signature. On error m is empty.
 */
int repo_manifest_decode(const char *data, size_t len, const repo_key_t *pub,
			 struct repo_manifest *m);
/*
 * repo_manifest_decode, and on error why (why_len bytes, NUL-terminated,
 * may be NULL) says what is wrong, for the one line an operator reads:
 * "not an aidata manifest (starts with '<!DOCTYPE html>')", "unsupported
 * format version 9 (this version reads 1 to 2)", "malformed line 3",
 * "signature does not verify with the pinned key". Lines count from 1.
 */
#define REPO_MANIFEST_WHY_MAX 128
int repo_manifest_decode_reason(const char *data, size_t len,
				const repo_key_t *pub, struct repo_manifest *m,
				char *why, size_t why_len);
void repo_manifest_release(struct repo_manifest *m);
/* A credential id the manifest can revoke: 1..128 of [A-Za-z0-9._-]. */
bool repo_jti_valid(const char *s, size_t n);

/* ------------------------------------------------------- chunk framing -- */

enum repo_chunk_flags {
	REPO_CHUNK_ZSTD = 1 << 0,      /* stored bytes are one zstd frame */
	REPO_CHUNK_ENCRYPTED = 1 << 1, /* AES-256-GCM envelope (secure tier) */
};

/* Where one chunk lives. */
struct repo_chunk {
	struct digest digest; /* SHA-256 of the uncompressed bytes */
	struct digest shard;  /* the shard object holding it */
	uint64_t offset;      /* byte offset of the stored bytes in the shard */
	uint32_t stored_size; /* bytes in the shard */
	uint32_t size;	      /* uncompressed bytes */
	uint32_t flags;	      /* enum repo_chunk_flags */
	/* SHA-256 of the stored bytes (a zstd frame), when the catalog has
	 * it (FORMAT.md §5.9): the decoder checks it instead of hashing
	 * the decoded bytes */
	bool has_stored_digest;
	struct digest stored_digest;
};

/* Whether c is checked by its stored digest (FORMAT.md §5.9): a zstd
 * frame, not encrypted, whose catalog records the frame's SHA-256. */
static inline bool repo_chunk_frame_checked(const struct repo_chunk *c)
{
	return c->flags == REPO_CHUNK_ZSTD && c->has_stored_digest;
}

/*
 * Encode raw chunk bytes for storage: a zstd frame at level, or the raw
 * bytes when compression saves less than REPO_CHUNK_MIN_SAVING percent.
 * Appends the stored bytes to out and sets *flags. 0, -EFBIG or -EIO.
 */
#define REPO_CHUNK_MIN_SAVING 3
int repo_chunk_encode(const void *raw, size_t len, int level, struct buf *out,
		      uint32_t *flags);
/*
 * The secure tier's envelope (docs/FORMAT.md §6.4): the framed bytes
 * (as repo_chunk_encode left them) encrypted with AES-256-GCM under the
 * dataset's key, the chunk's digest as associated data, nonce = the
 * first 12 bytes of HMAC-SHA256(key, digest) (unique per distinct chunk,
 * and deterministic so an unchanged dataset re-packs to identical
 * objects). Appends nonce(12) || ciphertext || tag(16) to out. 0,
 * -EFBIG (len over REPO_CHUNK_MAX, or past out's cap) or -EIO.
 */
#define REPO_CHUNK_KEY_LEN 32
#define REPO_CHUNK_ENVELOPE 28 /* stored_size - framed size */
int repo_chunk_encrypt(const uint8_t key[REPO_CHUNK_KEY_LEN],
		       const struct digest *digest, const void *framed,
		       size_t len, struct buf *out);
/*
 * Decode the stored bytes of chunk c (stored_len == c->stored_size) into
 * out, which has room for c->size bytes, and check the SHA-256 against
 * c->digest: the one decoder of stored chunks, plain, zstd or encrypted.
 * A zstd chunk (flags 1) with c->has_stored_digest is checked by the
 * SHA-256 of its stored bytes instead, before it is decompressed
 * (FORMAT.md §5.9): a quarter of the bytes to hash for text.
 * key is the dataset key for an encrypted chunk and is ignored for the
 * others. Returns 0; -EINVAL if the framing or a size is wrong; -EBADMSG
 * on a digest mismatch or, for an encrypted chunk, a tag that does not
 * verify (wrong key, damaged bytes); -ENOKEY for an encrypted chunk
 * without a key; -EIO if OpenSSL fails (logged). On error the contents
 * of out are unspecified and must not be used (cleared for an encrypted
 * chunk, so no unverified plaintext is left behind). A raw chunk (flags
 * 0: stored as it is) may be decoded in place, out == stored: then it is
 * only verified, no byte is copied.
 */
int repo_chunk_decode(const void *stored, size_t stored_len,
		      const struct repo_chunk *c, const uint8_t *key,
		      void *out);

/*
 * A chunk decoded in steps, for a reader that wants a few bytes of a chunk
 * fetched for it and should not wait for the rest: only a chunk checked
 * by its stored digest (repo_chunk_frame_checked), whose frame is
 * verified against the catalog before anything is decoded.
 *
 *   begin   verify stored (stored_len bytes) against c and check its
 *           frame header; out (c->size bytes) receives what is decoded.
 *           -ENOTSUP if c is not frame-checked (decode it whole with
 *           repo_chunk_decode), -EBADMSG for a digest mismatch, -EINVAL
 *           for a frame that is not c's.
 *   to      decode until at least want bytes are in out (or all)
 *   finish  decode the rest; -EINVAL unless the frame decodes to exactly
 *           c->size bytes
 *   end     free what begin took (always, after a successful begin)
 *
 * stored and out must stay in place from begin to end. The bytes in out
 * are verified ones: they come from a frame the catalog signed.
 */
struct repo_chunk_stream {
	void *dctx; /* ZSTD_DCtx */
	const uint8_t *in;
	size_t in_len, in_pos;
	uint8_t *out;
	size_t size, out_pos;
	bool done; /* the frame ended */
};
int repo_chunk_stream_begin(struct repo_chunk_stream *s, const void *stored,
			    size_t stored_len, const struct repo_chunk *c,
			    void *out);
int repo_chunk_stream_to(struct repo_chunk_stream *s, size_t want);
int repo_chunk_stream_finish(struct repo_chunk_stream *s);
void repo_chunk_stream_end(struct repo_chunk_stream *s);

/* ------------------------------------------------------ catalog records -- */

enum repo_tier {
	REPO_TIER_OPEN = 0,
	REPO_TIER_SHARED = 1,
	REPO_TIER_SECURE = 2,
};
/* "open"/"shared"/"secure"; NULL for an out-of-range value. */
const char *repo_tier_name(enum repo_tier t);
/* 0 and *out, or -EINVAL for an unknown name. */
int repo_tier_parse(const char *name, enum repo_tier *out);

/* A dataset, as the root catalog lists it. */
struct repo_dataset {
	char *name;
	char *industry;
	char *modality;
	char *license;
	char *description;
	uint32_t id; /* stable across revisions; inode numbering */
	enum repo_tier tier;
	uint64_t files;	       /* regular files */
	uint64_t bytes;	       /* sum of their sizes */
	struct digest catalog; /* digest of its catalog object */
	uint64_t catalog_size; /* bytes of the catalog object */
	/* the dataset's top directory, so listings need no dataset catalog */
	uint32_t root_mode;
	uint32_t root_nlink;
	uint64_t root_size; /* st_size the publisher's directory had */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	/*
	 * The organisation that contributed the dataset, or NULL: a label
	 * (valid per repo_name_invalid_reason) kept in the root catalog's
	 * `contributors` table (docs/FORMAT.md §5.8), not in the dataset
	 * record: repo_dataset_encode and repo_dataset_decode ignore it
	 * (decode leaves it NULL); repo_catalog_dataset,
	 * repo_catalog_datasets and repo_catalog_writer_dataset carry it.
	 * Owned like the other strings (repo_dataset_release).
	 */
	char *contributor;
};

int repo_dataset_encode(const struct repo_dataset *d, struct buf *out);
/* name is the key; the record owns copies (repo_dataset_release). */
int repo_dataset_decode(const char *name, size_t name_len, const void *val,
			size_t len, struct repo_dataset *d);
void repo_dataset_release(struct repo_dataset *d);

/* A slice of one chunk that belongs to a file, in file order. */
struct repo_extent {
	uint32_t chunk;	 /* chunk id in this dataset's catalog */
	uint32_t offset; /* first byte within the chunk's uncompressed data */
	uint32_t length; /* bytes */
};

struct repo_inode {
	uint64_t ino;
	uint64_t parent; /* REPO_ROOT_INO for the root itself */
	char *name;	 /* "" for the root */
	uint32_t mode;	 /* S_IFREG/S_IFDIR/S_IFLNK | permission bits */
	uint32_t nlink;
	uint64_t size; /* exact; symlink: target length; directory:
			* the publisher's st_size, so du -b agrees */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	struct digest sha256;  /* regular files: digest of the content */
	uint32_t extent_count; /* regular files */
	struct repo_extent *extents;
	char *target; /* symlinks: NUL-terminated target */
};

int repo_inode_encode(const struct repo_inode *i, struct buf *out);
/* Fills i (owning copies); release with repo_inode_release. */
int repo_inode_decode(uint64_t ino, const void *val, size_t len,
		      struct repo_inode *i);
void repo_inode_release(struct repo_inode *i);

/* The chunks table's value (FORMAT.md §5.7), without the stored digest */
#define REPO_CHUNK_RECORD_LEN 84
int repo_chunk_record_encode(const struct repo_chunk *c, struct buf *out);
int repo_chunk_record_decode(const void *val, size_t len, struct repo_chunk *c);

/* Dirent key: parent (u64 BE) then the name bytes. Returns key length. */
size_t repo_dirent_key(uint64_t parent, const char *name, size_t name_len,
		       uint8_t out[8 + REPO_NAME_MAX]);

/*
 * Names the packer accepts (docs/FORMAT.md "names"): 1..255 bytes of
 * valid UTF-8, no '/', no NUL, no C0/C1 control character or DEL, not "."
 * or "..". Returns NULL if valid, else a static reason string.
 */
const char *repo_name_invalid_reason(const char *name, size_t len);

/* ------------------------------------------------------------- catalogs -- */

/* A read-only catalog: an uncompressed LMDB file, mapped, not loaded. */
typedef struct repo_catalog repo_catalog_t;

/*
 * Turn a catalog object (zstd-compressed LMDB file at object_path) into
 * an LMDB file at out_path, checking the object's SHA-256 against expect
 * (unless expect is NULL) before anything decompresses it (FORMAT.md
 * §1). Writes out_path via a temp file + rename so a reader never sees a
 * partial file. -EBADMSG on digest mismatch, -EINVAL for a malformed
 * frame; on error out_path does not exist.
 */
int repo_catalog_unpack(const char *object_path, const struct digest *expect,
			const char *out_path);

/*
 * Open an unpacked catalog file read-only (mapped, not loaded): *out,
 * freed with repo_catalog_free; the file must stay in place while open.
 * Thread-safe once open: any number of threads may read it at once.
 * Errors (logged): -ENOENT if path does not exist, -EINVAL if it is not
 * a catalog (not LMDB, truncated), -EPROTONOSUPPORT for a catalog of
 * another format version, -EIO.
 * What the functions below hand back is copied out of the map: records
 * own their strings (release them as said), and nothing stays tied to
 * the catalog once a call returns.
 */
int repo_catalog_open(const char *path, repo_catalog_t **out);
void repo_catalog_free(repo_catalog_t *cat);

/*
 * Drop this process's mapped pages of the catalog (they stay in the page
 * cache and fault back in on use), so a scan over a huge catalog does not
 * show up as resident memory. Safe while other threads read.
 */
void repo_catalog_trim(repo_catalog_t *cat);

/* Value of meta key (e.g. "format", "kind", "dataset"): *out is a new
 * string the caller frees. -ENOENT if absent. */
int repo_catalog_meta(repo_catalog_t *cat, const char *key, char **out);

/* Root catalog: the named dataset into *out (owning copies; release with
 * repo_dataset_release), its contributor included (NULL when the
 * catalog names none, as in a catalog without a contributors table).
 * -ENOENT if absent, -EINVAL for a bad record or contributor label. */
int repo_catalog_dataset(repo_catalog_t *cat, const char *name,
			 struct repo_dataset *out);
/*
 * Root catalog: call cb for every dataset in name order, each with its
 * contributor (or NULL) as repo_catalog_dataset gives it; cb returning
 * non-zero stops the scan and that value is returned. The record passed
 * to cb is valid only during the call.
 */
typedef int (*repo_dataset_cb)(void *ctx, const struct repo_dataset *d);
int repo_catalog_datasets(repo_catalog_t *cat, repo_dataset_cb cb, void *ctx);

/* Dataset catalog: the inode record into *out (owning copies; release
 * with repo_inode_release). -ENOENT if absent, -EINVAL for a bad record. */
int repo_catalog_inode(repo_catalog_t *cat, uint64_t ino,
		       struct repo_inode *out);
/* Dataset catalog: the inode number and S_IFMT type of the child named
 * name of parent. -ENOENT if absent. */
int repo_catalog_lookup(repo_catalog_t *cat, uint64_t parent, const char *name,
			size_t name_len, uint64_t *ino, uint32_t *mode_type);
/*
 * Dataset catalog: list parent's entries in name order, starting after
 * the entry whose inode is after_ino (0: from the start; inodes of one
 * directory's children increase with their names, see FORMAT.md). name
 * is not NUL-terminated and valid only during the call. cb returning
 * non-zero stops the scan and that value is returned.
 */
typedef int (*repo_dirent_cb)(void *ctx, const char *name, size_t name_len,
			      uint64_t ino, uint32_t mode_type);
int repo_catalog_readdir(repo_catalog_t *cat, uint64_t parent,
			 uint64_t after_ino, repo_dirent_cb cb, void *ctx);
/* Dataset catalog: the chunk record of chunk id (a plain struct, nothing
 * to free), with its stored digest if the catalog has one (§5.9).
 * -ENOENT if absent, -EINVAL for a bad record. */
int repo_catalog_chunk(repo_catalog_t *cat, uint32_t id,
		       struct repo_chunk *out);
/* Dataset catalog: number of chunk records (ids are 0..count-1). */
int repo_catalog_chunk_count(repo_catalog_t *cat, uint32_t *count);

/* --------------------------------------------------- catalog writing -- */

typedef struct repo_catalog_writer repo_catalog_writer_t;

/*
 * Start a new catalog in the empty-or-absent directory work_dir (scratch
 * space; removed by repo_catalog_writer_free). kind is "root" or
 * "dataset". Writes are batched in transactions of bounded size. *out is
 * freed with repo_catalog_writer_free, whether or not it was finished.
 * The record functions below copy what they are given (the caller keeps
 * its records) and return 0, -EINVAL for a record that does not encode,
 * or -EIO (LMDB, logged); after an error the writer can only be freed.
 */
int repo_catalog_writer_new(const char *work_dir, const char *kind,
			    repo_catalog_writer_t **out);
int repo_catalog_writer_meta(repo_catalog_writer_t *w, const char *key,
			     const char *value);
/* The dataset record of d, and d->contributor (when not NULL) in the
 * contributors table, which exists only if some dataset has one: a root
 * catalog without contributors is what format-1 writers always wrote.
 * -EINVAL for an invalid contributor label. */
int repo_catalog_writer_dataset(repo_catalog_writer_t *w,
				const struct repo_dataset *d);
int repo_catalog_writer_inode(repo_catalog_writer_t *w,
			      const struct repo_inode *i);
int repo_catalog_writer_dirent(repo_catalog_writer_t *w, uint64_t parent,
			       const char *name, size_t name_len, uint64_t ino,
			       uint32_t mode_type);
/* The chunk record, and c's stored digest if it has one (the
 * stored-digests table is created with the first). */
int repo_catalog_writer_chunk(repo_catalog_writer_t *w, uint32_t id,
			      const struct repo_chunk *c);
/*
 * Commit what was written; nothing can be added afterwards. A writer is
 * used by one thread at a time, and until it is sealed by the thread
 * that created it (LMDB's write transaction is that thread's); a sealed
 * writer may be finished and freed by another.
 */
int repo_catalog_writer_seal(repo_catalog_writer_t *w);
/*
 * Seal unless sealed, write a compacted copy, compress it with zstd into
 * the new file object_path (mode 0644, fsynced) and return the object's
 * digest and size. The writer can only be freed afterwards.
 */
int repo_catalog_writer_finish(repo_catalog_writer_t *w,
			       const char *object_path, struct digest *digest,
			       uint64_t *size);
void repo_catalog_writer_free(repo_catalog_writer_t *w);

/* ------------------------------------------------------ object naming -- */

/* "catalog/<hex>" and "data/<aa>/<hex>"; write into out (>= 80 bytes). */
void repo_catalog_object_path(const struct digest *d, char *out, size_t n);
void repo_shard_object_path(const struct digest *d, char *out, size_t n);
/*
 * "keys/<dataset>/<node id>": dataset's key sealed to one secure node
 * (docs/FORMAT.md, the secure tier). dataset is a valid name and node_id
 * a node id (auth_node_id_valid); a new string the caller frees.
 */
char *repo_sealed_key_object_path(const char *dataset, const char *node_id);

#endif

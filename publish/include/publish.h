/*
 * publish: writing an aidata repository (the publisher as a library).
 * docs/FORMAT.md §9 is the publisher's specification; this header is its
 * C interface, used by `aidata pack`, `aidata revoke` and
 * `aidata grant-node` and by anything else that publishes.
 *
 * Nothing here prints. A failure is logged once through common/log.h
 * (log_error), naming the file or object and the reason, and returned as
 * a negative errno; the caller decides how to show it (the aidata command
 * logs to stderr in its own name). Progress is reported through a
 * callback, never drawn.
 *
 * Every writer of a repository holds its lock (publish_lock_acquire) for
 * as long as it writes, so one publisher at a time changes it. Readers
 * (mounts, aidata verify/ls/get) never take the lock: every write is an
 * atomic rename, and the manifest is replaced last.
 *
 * Errors common to every function returning int:
 *   -EWOULDBLOCK  another publisher holds the repository's lock
 *   -EINVAL       bad input (logged with the file and the reason)
 *   -EBADMSG      the repository was signed by a different platform key
 *   -ENOMEM is never returned: allocation failure aborts (common/xalloc)
 *   other         -errno of the system call that failed (logged)
 */
#ifndef AIDATA_PUBLISH_H
#define AIDATA_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "repo.h"

/* ------------------------------------------------ the repository lock -- */

/* A held repository lock. Opaque. */
typedef struct publish_lock publish_lock_t;

/*
 * Take the publisher's lock of the repository directory repo: an
 * exclusive flock(2) on the directory itself, never waiting. It is the
 * lock of publish_pack, publish_manifest_resign and
 * publish_sealed_key_write alike, and is released by
 * publish_lock_release or when the process exits (also by a crash).
 * Returns 0 and *out; -EWOULDBLOCK if another publisher holds it;
 * -ENOENT or -ENOTDIR if repo is not a directory; or -errno. Only
 * -EWOULDBLOCK and unexpected errors are logged (the caller can say "not
 * a repository directory" better).
 */
int publish_lock_acquire(const char *repo, publish_lock_t **out);

struct origin_s3_options; /* origin.h */

/* A repository in an object store, as a publisher reaches it. */
struct publish_bucket {
	const char *url;		    /* s3://BUCKET/PREFIX */
	const struct origin_s3_options *s3; /* NULL: the AWS variables */
	unsigned timeout_sec;		    /* per request; 0 = 20 */
	unsigned retries;		    /* extra attempts per request */
	const char *ca_file;		    /* https, NULL = system */
	bool force_unlock;   /* remove another publisher's lock object */
	const char *command; /* named in the lock object: "revoke", ... */
};

/* Whether repo names a bucket (s3://...) rather than a directory. */
bool publish_repo_is_bucket(const char *repo);
/*
 * Take the lock of the repository in a bucket: the object PREFIX/lock,
 * created only if absent (a conditional PUT, FORMAT.md §9.6); lock.c
 * says how a lock left by a crash is taken over. publish_manifest_resign
 * and publish_sealed_key_write then write the bucket's objects directly.
 * publish_pack does not: it packs into a directory, which publish_push
 * uploads. Returns 0 and *out; -EWOULDBLOCK (another publisher's lock
 * object, logged with its text), -EACCES, -ENOENT (no such bucket),
 * -ETIMEDOUT, -EIO or -EINVAL (not an s3:// URL); all logged.
 */
int publish_lock_acquire_bucket(const struct publish_bucket *b,
				publish_lock_t **out);
/* The repository the lock is on (a directory, or the bucket's URL);
 * valid until the release. */
const char *publish_lock_repo(const publish_lock_t *lock);
/* Release the lock (a bucket's: remove the lock object) and free it.
 * NULL is a no-op. */
void publish_lock_release(publish_lock_t *lock);

/* ---------------------------------------------------- the manifest -- */

/*
 * Re-sign the locked repository's manifest as the next revision, with the
 * same root catalog (no data or catalog changes): revision + 1, created
 * = now, the same ttl, and the revoked credential ids extended by revoke
 * (revoke_count ids, each 1..128 of [A-Za-z0-9._-]; ids already revoked
 * are not repeated; the list stays in publication order, FORMAT.md
 * §3.5). The manifest is verified with key first and replaced atomically
 * (temp file, fsync, rename). pack uses the same code for its manifest.
 * The new manifest is of format REPO_MANIFEST_FORMAT: a format-1 one is
 * upgraded, with the size of its root catalog read from the repository
 * (whose SHA-256 must match the digest it is signed under).
 * On success *revision and *revoked_count (either may be NULL) are the
 * new manifest's. Returns 0; -ENOENT when the repository has no
 * manifest; -EBADMSG when it does not verify with key, or a format-1
 * manifest's root catalog does not match its digest; -EPROTONOSUPPORT
 * for another format version; -EINVAL when it is malformed or an id is
 * invalid; or -errno. Every error is logged. On error the manifest is
 * unchanged.
 */
int publish_manifest_resign(publish_lock_t *lock, const repo_key_t *key,
			    const char *const *revoke, size_t revoke_count,
			    uint64_t *revision, size_t *revoked_count);

/* ----------------------------------------------- secure-tier keys -- */

#define PUBLISH_DATASET_KEY_LEN 32 /* == AUTH_DATASET_KEY_LEN */

/*
 * The publisher's store of secure datasets' keys (AES-256, one per
 * dataset), kept beside the platform key because whoever holds one holds
 * the other:
 *
 *   <directory of platform_key_file>/dataset-keys/              mode 0700
 *   <directory of platform_key_file>/dataset-keys/<name>.key    mode 0600
 *
 * A key file holds exactly 64 lowercase hex characters and a "\n". A
 * dataset name longer than 251 bytes (so "<name>.key" would pass
 * NAME_MAX) has the file "sha256-<64 hex of SHA-256 of the name>.key"
 * instead. Losing a key makes the dataset's encrypted chunks unreadable
 * by any new node (nodes already granted keep their sealed copy); back
 * it up with the platform key. Key bytes are never logged.
 *
 * Get the key of dataset (a valid name, repo_name_invalid_reason) into
 * key. With create, a missing key is generated and written (temp file,
 * fsync, atomic no-replace rename, so two concurrent packs agree on one
 * key and an existing key is never replaced); without it a missing key
 * is -ENOENT. Returns 0, -ENOENT, -EINVAL (an invalid name, or a key file
 * that is not exactly the format above) or -errno. Nothing is logged but
 * a warning about a key file other users can read. On error key is
 * zeroed.
 */
int publish_dataset_key_get(const char *platform_key_file, const char *dataset,
			    bool create, uint8_t key[PUBLISH_DATASET_KEY_LEN]);

/*
 * Seal dataset_key (the key of dataset, a valid name) to the secure node
 * whose public key is node, sign it with the platform key and write it
 * as keys/<dataset>/<node id> (FORMAT.md §6.5) of the locked repository,
 * world-readable like every object, replacing an earlier grant
 * atomically. The manifest is not re-signed: mounts fetch keys/ objects
 * when a secure file is opened. *object_path (if not NULL) is the path
 * written, a new string the caller frees. Returns 0, -EINVAL (invalid
 * name), or -errno, logged; on error no object under keys/ changed (the
 * directory keys/<dataset>/ may have been created).
 */
int publish_sealed_key_write(publish_lock_t *lock, const repo_key_t *platform,
			     const char *dataset, const auth_node_key_t *node,
			     const uint8_t dataset_key[PUBLISH_DATASET_KEY_LEN],
			     char **object_path);

/* ------------------------------------------------------- packing -- */

enum publish_pack_flags {
	/* read every file even when the pack state says it is unchanged */
	PUBLISH_PACK_REHASH = 1 << 0,
	/* neither read nor write pack state (every file is read) */
	PUBLISH_PACK_NO_STATE = 1 << 1,
};

/* Counts so far, handed to the progress callback. */
struct publish_progress {
	uint64_t files_total; /* regular files in the source */
	uint64_t bytes_total; /* their bytes */
	uint64_t files_done;  /* packed so far, read or unchanged */
	uint64_t bytes_done;
	uint64_t files_unchanged; /* of files_done: not read (pack state) */
	uint64_t bytes_unchanged;
	uint64_t bytes_stored; /* written to new shards */
	double seconds;	       /* since publish_pack was called */
	bool final;	       /* the last call, when every file is packed */
};

/*
 * Called from publish_pack's thread, at most every 100 ms while files are
 * packed and once more with final set. p is valid during the call only.
 */
typedef void (*publish_progress_fn)(void *ctx,
				    const struct publish_progress *p);

/* The piece size of a new dataset's large files, capped at chunk_size. */
#define PUBLISH_PIECE_SIZE_DEFAULT (1u << 20)

struct publish_pack_options {
	const char *src;	   /* SRC: SRC/<dataset>/... */
	const char *datasets_file; /* JSON description of every dataset */
	const char *key_file;	   /* the platform's Ed25519 private key */
	const char *repo;	   /* repository directory, created if absent */
	uint32_t chunk_size;	   /* 64 KiB .. 64 MiB */
	/*
	 * Large files are cut into pieces of this many bytes (64 KiB ..
	 * chunk_size); 0: a dataset keeps what its previous revision used,
	 * a new one gets PUBLISH_PIECE_SIZE_DEFAULT (docs/FORMAT.md §9.2)
	 */
	uint32_t piece_size;
	uint64_t shard_size;	   /* target shard size, >= 1 MiB */
	int level;		   /* zstd level, 1 .. 19 */
	unsigned jobs;		   /* compression threads, >= 1 */
	uint32_t ttl;		   /* manifest TTL, seconds */
	const char *const *revoke; /* credential ids to revoke */
	size_t revoke_count;
	/*
	 * Where the pack state lives (the source files' identities, so a
	 * re-pack need not read unchanged files; see publish_state_dir);
	 * NULL: publish_state_dir's default.
	 */
	const char *state_dir;
	unsigned flags;		      /* enum publish_pack_flags */
	publish_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};

/* What a pack did, for the summary. */
struct publish_pack_result {
	uint64_t revision; /* the revision published */
	size_t datasets;
	uint64_t files, dirs, symlinks;
	uint64_t files_unchanged; /* not read: unchanged since the last pack */
	uint64_t bytes_unchanged;
	uint64_t bytes_in;	  /* bytes of all files packed, read or not */
	uint64_t chunks;	  /* chunk references in the catalogs */
	uint64_t chunks_new;	  /* chunks stored by this pack */
	uint64_t chunk_bytes_new; /* their uncompressed bytes */
	uint64_t stored_new;	  /* bytes written to new shards */
	uint64_t shards_new;
	uint64_t catalogs_new;
	uint64_t unique_bytes; /* uncompressed bytes of distinct chunks */
	double seconds;
};

/*
 * Pack o->src into the next revision of o->repo (FORMAT.md §9): check
 * the datasets file and every source tree, then take the repository's
 * lock (creating the directory if absent), write the new objects under
 * a staging directory, move them into place and replace the manifest
 * last, atomically. Chunks already stored are never stored again.
 *
 * A file whose size, mtime, ctime, inode and device are what the pack
 * state recorded for the revision being extended is not read: its
 * chunks are taken from that revision's catalog (small files: a group
 * whose members are all unchanged keeps its chunk; a group with a
 * change is read again). The state is trusted only if it describes
 * exactly that revision's root catalog, chunk size and each dataset's
 * catalog, tier and key. PUBLISH_PACK_REHASH reads everything.
 * After a successful pack the state is rewritten for the new revision;
 * failing to read or write it is a warning, never an error (it costs the
 * next pack a full read).
 *
 * On success fills *res (if not NULL) and returns 0. On any error the
 * repository is left exactly as it was (the previous revision still
 * verifies; a repository directory this call created is removed), the
 * reason has been logged naming the file, and a negative errno is
 * returned: -EINVAL for bad input (datasets file, names, file types,
 * symlinks leaving their dataset, a non-repository --out, a key that is
 * not an Ed25519 private key), -EBADMSG for a repository signed by
 * another key, -EWOULDBLOCK when another publisher holds the lock, -EIO
 * for a file that changed while it was packed, or the -errno of the
 * failed system call (-ENOSPC, -EACCES ...).
 */
int publish_pack(const struct publish_pack_options *o,
		 struct publish_pack_result *res);

/*
 * The default pack state directory of repository repo (an existing
 * directory): $XDG_CACHE_HOME/aidata/pack/<hex> or, without
 * XDG_CACHE_HOME, $HOME/.cache/aidata/pack/<hex>, where <hex> is the
 * SHA-256 of the repository's absolute path (realpath). *out is a new
 * string the caller frees. Returns 0, -ENOENT when neither variable is
 * set, or the -errno of realpath.
 */
int publish_state_dir(const char *repo, char **out);

/* ------------------------------------------- push to an object store -- */

struct publish_push_result;

struct publish_push_options {
	const char *repo;	  /* the local repository (aidata pack --out) */
	const char *url;	  /* s3://BUCKET/PREFIX */
	const repo_key_t *pubkey; /* the platform key both manifests verify
				    with */
	const struct origin_s3_options *s3; /* NULL: the AWS variables */
	unsigned timeout_sec;		    /* per request; 0 = 20 */
	unsigned retries;		    /* extra attempts per request */
	const char *ca_file;		    /* https, NULL = system */
	uint64_t part_size; /* multipart above this; 0 = 64 MiB (>= 5 MiB) */
	bool force_unlock;  /* remove another publisher's lock object */
	/* called after each object with the counts so far; may be NULL */
	void (*progress)(void *ctx, const struct publish_push_result *r);
	void *progress_ctx;
};

struct publish_push_result {
	uint64_t revision;	  /* the local manifest's, now the bucket's */
	uint64_t remote_revision; /* the bucket's before, 0 = none */
	uint64_t objects;	  /* objects in the local repository */
	uint64_t uploaded;	  /* objects uploaded (the manifest too) */
	uint64_t skipped;	  /* already in the bucket, not uploaded */
	uint64_t bytes_uploaded;
};

/*
 * Make the bucket prefix o->url hold the local repository o->repo's
 * revision (push.c says how: the lock object, only missing objects, the
 * manifest last). Holds the local repository's lock meanwhile. Re-run
 * after any failure to resume: objects already uploaded are skipped.
 * Returns 0; -EWOULDBLOCK (another publisher's lock object, or the local
 * lock), -ESTALE (the bucket holds a later revision), -EBADMSG (a
 * manifest under another key, local or in the bucket), -EACCES (the
 * store refused: credentials, permissions), -ENOENT (no such bucket, or
 * no local manifest), -ETIMEDOUT or -EIO (the store or the network
 * failed); each logged once, naming the object.
 */
int publish_push(const struct publish_push_options *o,
		 struct publish_push_result *res);

/* --------------------------------------------- the alliance pool -- */

/*
 * The ledger of a revision: who contributed what (docs/POLICY.md). It is
 * computed from the catalogs alone, so it reads any copy of a repository
 * (the caller opens the catalogs, locally or through an origin).
 *
 * Every dataset counts its files and bytes (the root catalog's figures:
 * regular files and the sum of their sizes) and its distinct chunks and
 * their stored bytes (the chunk records' stored_size: what reading all
 * of it costs). A chunk is credited once, to the dataset with the lowest
 * id that references it (ids are stable across revisions, FORMAT.md §9.3,
 * so what was contributed first keeps its credit), and through it to
 * that dataset's contributor; chunks are the same chunk when their
 * digests are (content, whatever the tier or framing). So an
 * organisation re-contributing bytes the pool already held from another
 * organisation, or from a dataset of the platform's own (no
 * contributor), earns nothing for them, and bytes it repeats across its
 * own datasets count once.
 */
struct publish_ledger_dataset {
	char *name;
	char *contributor; /* NULL: the platform's own */
	uint32_t id;
	enum repo_tier tier;
	uint64_t files, bytes;	  /* from the root catalog */
	uint64_t chunks, stored;  /* its distinct chunks, their stored bytes */
	uint64_t credited_chunks; /* of them: no lower id references them */
	uint64_t credited;	  /* their stored bytes */
};

struct publish_ledger_org {
	char *name;
	size_t *datasets; /* indices into the ledger's datasets, id order */
	size_t ndatasets;
	uint64_t files, bytes; /* sums over its datasets */
	uint64_t stored;       /* sum of its datasets' stored bytes */
	uint64_t contributed;  /* stored bytes credited to it */
};

/* Everything in a ledger (names, arrays) is owned by it and valid until
 * publish_ledger_free. */
struct publish_ledger {
	struct publish_ledger_dataset *datasets; /* in id order */
	size_t ndatasets;
	struct publish_ledger_org *orgs; /* in name order (byte-wise) */
	size_t norgs;
	uint64_t pool_chunks,
	    pool_stored;       /* distinct chunks of every dataset */
	uint64_t unattributed; /* of pool_stored: credited to no org */
};

/*
 * Open the catalog of dataset d (verified, as a reader does) into *out,
 * freed with repo_catalog_free by the caller of the callback. 0 or a
 * negative errno, which publish_ledger_build returns as it is (the
 * callback reports its own errors).
 */
typedef int (*publish_catalog_open_fn)(void *ctx, const struct repo_dataset *d,
				       repo_catalog_t **out);

/*
 * Build the ledger of the revision whose root catalog is root, opening
 * each dataset's catalog with open_catalog (one at a time, in id order).
 * Memory: at most 128 bytes per distinct chunk of the revision. *out is
 * freed with publish_ledger_free. Returns 0; -EINVAL for a catalog that
 * does not read (two datasets with one id, a chunk record that does not
 * decode: logged); or the callback's error.
 */
int publish_ledger_build(repo_catalog_t *root,
			 publish_catalog_open_fn open_catalog, void *ctx,
			 struct publish_ledger **out);
void publish_ledger_free(struct publish_ledger *l);
/* The organisation named org, or NULL if no dataset names it as its
 * contributor. Valid as long as l. */
const struct publish_ledger_org *
publish_ledger_org_find(const struct publish_ledger *l, const char *org);
/* The dataset named name (its index in l->datasets), or -1. */
ssize_t publish_ledger_dataset_find(const struct publish_ledger *l,
				    const char *name);

/*
 * The exchange: a policy file (JSON, docs/POLICY.md) kept with the
 * platform key, never in the repository, says what contributions earn:
 * an organisation may read the shared datasets it contributed, those the
 * policy lists for it, and others up to ratio × the stored bytes credited
 * to it, never those their contributor excludes it from. Opaque.
 */
typedef struct publish_policy publish_policy_t;

/*
 * Load the policy file at path and check it against the ledger l: every
 * key known, every value of its type, every organisation one that
 * contributed to the repository, every dataset one of its shared
 * datasets. *out is freed with publish_policy_free and must not outlive
 * l. Returns 0; -EINVAL for a policy that is malformed or does not fit
 * the repository (logged, naming the file and the key); or -errno of
 * reading it (logged).
 */
int publish_policy_load(const char *path, const struct publish_ledger *l,
			publish_policy_t **out);
void publish_policy_free(publish_policy_t *p);
/* The policy's ratio and min_contribution (0 when it sets none). */
double publish_policy_ratio(const publish_policy_t *p);
uint64_t publish_policy_min_contribution(const publish_policy_t *p);

enum publish_grant_reason {
	PUBLISH_GRANT_OWN,	/* granted: the organisation contributed it */
	PUBLISH_GRANT_LISTED,	/* granted: the policy lists it for it */
	PUBLISH_GRANT_EARNED,	/* granted: it fit in what is earned */
	PUBLISH_GRANT_EXCLUDED, /* not granted: its contributor excludes */
	PUBLISH_GRANT_OVER_BUDGET, /* not granted: costs more than is left */
};

/* The decision on one shared dataset. */
struct publish_grant_entry {
	size_t dataset; /* index into the ledger's datasets */
	enum publish_grant_reason reason;
	bool granted;
	uint64_t cost; /* its stored bytes (charged only when EARNED) */
	uint64_t left; /* EARNED, OVER_BUDGET: budget left before it */
};

/* What the policy grants one organisation. */
struct publish_grant {
	char *org;
	uint64_t contributed; /* stored bytes credited to it (the ledger) */
	bool below_minimum;   /* contributed < min_contribution: earns 0 */
	uint64_t earned;      /* floor(ratio × contributed), or 0 */
	uint64_t used;	      /* stored bytes of the datasets EARNED */
	uint64_t available;   /* earned - used */
	/* every shared dataset, in the order decided: its own, listed and
	 * excluded ones (id order), then the others in the order the
	 * budget considered them */
	struct publish_grant_entry *entries;
	size_t nentries;
	char **datasets; /* the names granted, in id order: the credential's */
	size_t ndatasets;
};

/*
 * Decide what policy p grants organisation org from the ledger l (the
 * one p was loaded against): its own shared datasets and those listed
 * for it, free; then, with the budget floor(ratio × contributed) (0 when
 * contributed is below min_contribution), the other shared datasets not
 * excluded for it, those of the policy's "order" first in that order,
 * then the rest cheapest first (stored bytes, then name): each one that
 * fits in what is left is granted and charged. Deterministic. Fills
 * *out (publish_grant_release). Returns 0, or -ENOENT when no dataset of
 * the repository names org as its contributor (it contributed nothing:
 * logged).
 */
int publish_policy_grant(const publish_policy_t *p,
			 const struct publish_ledger *l, const char *org,
			 struct publish_grant *out);
void publish_grant_release(struct publish_grant *g);
/* "own contribution", "listed for it by the policy", ...: static text. */
const char *publish_grant_reason_text(enum publish_grant_reason r);

/*
 * The publisher's record of the credentials it issued (docs/POLICY.md),
 * since the repository records none: kept beside the platform key, as
 * the dataset keys are,
 *
 *   <directory of platform_key_file>/issued-credentials.jsonl  mode 0600
 *
 * one line per credential, its claims as JSON (auth_claims_json: sub,
 * org, jti, iat, nbf, exp, scope, datasets, node), never the token
 * itself. `aidata token issue` appends before it prints a token;
 * `aidata ledger` shows what is outstanding (not expired, not revoked).
 */
#define PUBLISH_ISSUED_FILE "issued-credentials.jsonl"

/* The record's path for the platform key file key_file: a new string. */
char *publish_issued_path(const char *key_file);
/*
 * Append the claims c to the record at path (created 0600 if absent),
 * under an exclusive flock, in one write, fsynced. Returns 0; -EINVAL
 * for claims that do not encode; or -errno (logged, naming the file).
 */
int publish_issued_append(const char *path, const struct auth_claims *c);
/*
 * Read every record at path into *out (*n claims, each released with
 * auth_claims_release, the array freed with free), in the order issued.
 * Returns 0; -ENOENT if there is no record (not logged: nothing was
 * issued); -EINVAL for a line that is not a record (logged with its
 * number); or -errno (logged).
 */
int publish_issued_load(const char *path, struct auth_claims **out, size_t *n);

#endif

/*
 * auth: "may uid U (pid P) open this file of dataset S, tier T?" -> yes, or
 * a precise reason. Credentials (JWT, EdDSA), per-user login bindings,
 * the audit log, and the secure tier's keys. Knows nothing of FUSE.
 *
 * Functions return 0 or a negative errno unless said otherwise. Tokens
 * and keys are never logged.
 */
#ifndef AIDATA_AUTH_H
#define AIDATA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "repo.h"

/* ------------------------------------------------ credentials (JWT) -- */

enum auth_scope {
	AUTH_SCOPE_SHARED = 1 << 0,
	AUTH_SCOPE_SECURE = 1 << 1,
};

#define AUTH_TOKEN_MAX 16384 /* bytes; longer tokens are refused */

/*
 * The claims of a credential (RFC 7519 names). Filled by
 * auth_token_verify, the struct owns every string and array in it: free
 * them with auth_claims_release. Filled by a caller (for
 * auth_token_issue), they stay the caller's.
 */
struct auth_claims {
	char *sub;	 /* member (user) */
	char *org;	 /* member organisation */
	char *jti;	 /* credential id, for revocation */
	int64_t iat;	 /* issued at, unix seconds */
	int64_t nbf;	 /* not before, unix seconds; 0: no such claim */
	int64_t exp;	 /* expires at, unix seconds */
	uint32_t scope;	 /* enum auth_scope */
	char **datasets; /* shared and secure datasets granted */
	size_t ndatasets;
	char *node; /* optional: the one secure node it is bound to */
};

/*
 * Sign claims with the platform key as a compact JWS (RFC 7515) with
 * {"alg":"EdDSA","typ":"JWT"} (RFC 8037). *token is new (caller frees),
 * NUL-terminated. -EINVAL if a claim is missing or malformed.
 */
int auth_token_issue(const repo_key_t *key, const struct auth_claims *c,
		     char **token);

enum auth_token_error {
	AUTH_TOKEN_OK = 0,
	AUTH_TOKEN_MALFORMED,	  /* not three base64url parts, bad JSON */
	AUTH_TOKEN_BAD_ALG,	  /* alg other than EdDSA (none, HS256...) */
	AUTH_TOKEN_BAD_SIGNATURE, /* missing or not by the platform key */
	AUTH_TOKEN_BAD_CLAIMS,	  /* a required claim missing or mistyped */
	AUTH_TOKEN_EXPIRED,	  /* exp <= now */
	AUTH_TOKEN_NOT_YET_VALID, /* nbf > now + AUTH_CLOCK_LEEWAY */
};

/*
 * Clock skew allowed between the issuer and a node, for nbf only: a
 * credential issued "valid from now" works on a node whose clock is up to
 * this many seconds behind. exp has no leeway (fail closed).
 */
#define AUTH_CLOCK_LEEWAY 60
/* now for auth_token_verify: check everything but the time claims. */
#define AUTH_NOW_ANY INT64_MIN

/*
 * Verify token (len bytes, surrounding whitespace allowed) with the
 * platform public key at time now and fill *out (release with
 * auth_claims_release; its strings are owned by *out and live until
 * then). Checks, in order: form, alg, signature, claims, expiry, not
 * before (none of the last two when now is AUTH_NOW_ANY); *why says
 * which failed. Returns 0, or -EINVAL (malformed, bad alg or claims),
 * -EBADMSG (signature), -EKEYEXPIRED (expired), -EKEYREJECTED (not yet
 * valid); on error *out is empty. Revocation is the caller's business
 * (the manifest).
 */
int auth_token_verify(const repo_key_t *pub, const char *token, size_t len,
		      int64_t now, struct auth_claims *out,
		      enum auth_token_error *why);
/* A static string naming e. */
const char *auth_token_error_text(enum auth_token_error e);
/* Free what auth_token_verify put in c and zero it; c itself stays the
 * caller's. A zeroed struct is a no-op. */
void auth_claims_release(struct auth_claims *c);
/* The claims as a JSON object text (no token); a new string the caller
 * frees. */
char *auth_claims_json(const struct auth_claims *c);
/* Whether c grants dataset (it is in c->datasets). */
bool auth_claims_grants(const struct auth_claims *c, const char *dataset);
/* Whether c's nbf (if any) has been reached at now, with the leeway. */
bool auth_claims_valid_yet(const struct auth_claims *c, int64_t now);

/* --------------------------------------------------- the secure tier -- */

#define AUTH_DATASET_KEY_LEN REPO_CHUNK_KEY_LEN
#define AUTH_SEALED_KEY_MAX 4096 /* bytes of a keys/<dataset>/<node> object */
#define AUTH_NODE_ID_LEN 16	 /* hex characters */

/* A secure-domain node's X25519 key pair (private) or public key. */
typedef struct auth_node_key auth_node_key_t;

/* A new key pair in *out (free with auth_node_key_free). 0 or -EIO. */
int auth_node_key_generate(auth_node_key_t **out);
/* PEM (PKCS#8 private / SubjectPublicKeyInfo public) X25519 keys. load
 * gives *out (free with auth_node_key_free), -EINVAL for a file that is
 * not such a key, -errno; write never overwrites (-EEXIST). */
int auth_node_key_load_private(const char *path, auth_node_key_t **out);
int auth_node_key_load_public(const char *path, auth_node_key_t **out);
int auth_node_key_write_private(const auth_node_key_t *k, const char *path);
int auth_node_key_write_public(const auth_node_key_t *k, const char *path);
/* The node id: the first 16 hex characters of SHA-256 of the raw public
 * key; out has room for AUTH_NODE_ID_LEN + 1. */
void auth_node_key_id(const auth_node_key_t *k, char *out);
/* Whether s (len bytes, not necessarily NUL-terminated) is a node id:
 * exactly AUTH_NODE_ID_LEN lowercase hex characters (ids are compared as
 * strings, so "AB" and "ab" would be two nodes). */
bool auth_node_id_valid(const char *s, size_t len);
void auth_node_key_free(auth_node_key_t *k);

/* 32 random bytes. */
int auth_dataset_key_generate(uint8_t key[AUTH_DATASET_KEY_LEN]);

/*
 * Seal a dataset key to a node: X25519 with an ephemeral key, HKDF-SHA256,
 * AES-256-GCM, the whole signed with the platform key. *out (caller
 * frees) is the text object published at keys/<dataset>/<node id>.
 */
int auth_seal_dataset_key(const repo_key_t *platform, const char *dataset,
			  const auth_node_key_t *node_pub,
			  const uint8_t key[AUTH_DATASET_KEY_LEN], char **out,
			  size_t *out_len);
/*
 * Check the platform's signature on a sealed key object, that it names
 * this dataset and this node, and unseal it with the node's private key.
 * -EBADMSG when the signature or the AEAD tag does not verify, -EINVAL
 * when malformed or for another dataset/node.
 */
int auth_unseal_dataset_key(const repo_key_t *platform_pub, const char *dataset,
			    const auth_node_key_t *node_priv, const char *data,
			    size_t len, uint8_t key[AUTH_DATASET_KEY_LEN]);

/* --------------------------------------------------- job receipts -- */

#define AUTH_KEY_ID_LEN 16 /* hex characters */

/* The id of an Ed25519 key: the first 16 hex characters of the SHA-256
 * of its raw public key, into out (17 bytes). 0 or -EIO. */
int auth_key_id(const repo_key_t *key, char out[AUTH_KEY_ID_LEN + 1]);

/*
 * Sign a job's data receipt (docs/RECEIPT.md): body is the text of a
 * JSON object; *out (new, caller frees) is the text of
 *   {"receipt": BODY, "signature": {"alg": "Ed25519", "key_id": ID,
 *                                   "value": BASE64}}
 * where value is key's signature of BODY's canonical form (jansson's
 * compact encoding, object keys sorted), or "signature": null when key
 * is NULL. Returns 0, -EINVAL when body is not a JSON object (or has a
 * duplicate key), -EIO.
 */
int auth_receipt_seal(const repo_key_t *key, const char *body, char **out);

/*
 * Check a receipt (text, len bytes) against pub: 0 when its signature
 * verifies, and then *body (unless NULL; new, caller frees) is the
 * canonical form of what it signs. -EINVAL when it is not a receipt
 * (malformed JSON, a duplicate key, other members), -ENOKEY when it is
 * unsigned, -EKEYREJECTED when signed by another key (key_id), -EBADMSG
 * when the signature does not verify (forged, or edited since).
 */
int auth_receipt_verify(const repo_key_t *pub, const char *text, size_t len,
			char **body);

/* ------------------------------------------------- decisions, audit -- */

typedef struct auth auth_t;

struct auth_options {
	const repo_key_t *platform_pub;
	const char *default_token_file; /* -o token=FILE, or NULL */
	const char *state_dir;		/* login bindings live here */
	const char *audit_log;		/* JSON lines; opened for append */
	const char *node_key_file;	/* -o node_key=FILE, or NULL */
};

/* Open the audit log, load the default credential, the node key and the
 * persisted login bindings. Errors are logged with the reason. The
 * strings of o are copied; o->platform_pub is not, and must outlive *out.
 * Free with auth_free. */
int auth_new(const struct auth_options *o, auth_t **out);
void auth_free(auth_t *a);

/* Replace the revoked credential ids (from each new manifest). */
void auth_set_revoked(auth_t *a, char *const *jtis, size_t n);

/* The node id of this node's key, or NULL when it has none; valid as
 * long as a. */
const char *auth_node_id(auth_t *a);
/* This node's key pair (-o node_key), or NULL; owned by a, valid as long
 * as a. */
const auth_node_key_t *auth_node_key(auth_t *a);

enum auth_reason {
	AUTH_GRANTED = 0,
	AUTH_NO_CREDENTIAL,
	AUTH_EXPIRED,
	AUTH_REVOKED,
	AUTH_BAD_SIGNATURE,
	AUTH_MALFORMED,
	AUTH_NOT_GRANTED,
	AUTH_NO_SECURE_SCOPE,
	AUTH_NOT_SECURE_NODE,
	AUTH_WRONG_NODE,
	AUTH_AUDIT_UNAVAILABLE,
	AUTH_NOT_YET_VALID, /* the credential's nbf is in the future */
	AUTH_READ_ONLY,	    /* an open for writing (EROFS, audited) */
};
/* "granted", "no credential", "expired", ... (static, stable strings). */
const char *auth_reason_text(enum auth_reason r);

struct auth_request {
	uid_t uid;
	pid_t pid;
	const char *path; /* as seen in the mount, for the audit */
	const char *dataset;
	enum repo_tier tier;
	bool dataset_key_ok; /* secure: this node unsealed the key */
	bool write;	     /* an open for writing: always refused */
};

/* The decision for r, without side effects (access(), getxattr). */
enum auth_reason auth_decide(auth_t *a, const struct auth_request *r);

/*
 * The decision at open(): for shared and secure files, appends one audit
 * record (and, for a refusal, logs one line). Fails closed: if the record
 * cannot be written the open is refused with AUTH_AUDIT_UNAVAILABLE, and
 * auth_decide says the same whenever a record could not be written (no
 * log, not a regular file, removed or renamed since opened, its
 * filesystem full). Returns 0 or -EACCES (*reason says why; the caller
 * maps AUTH_READ_ONLY to EROFS).
 */
int auth_check_open(auth_t *a, const struct auth_request *r,
		    enum auth_reason *reason);

/*
 * Bind token to uid (verified first; persisted in state_dir). -EACCES
 * with *reason for a token that does not verify or is revoked.
 */
int auth_login(auth_t *a, uid_t uid, const char *token, size_t len,
	       enum auth_reason *reason);
/*
 * Reopen the audit log at its path (SIGHUP, after logrotate renamed or
 * removed it; until then shared and secure opens are refused). 0 or the
 * -errno of the open, logged.
 */
int auth_audit_reopen(auth_t *a);

/* Drop uid's binding. 0 even if there was none. */
int auth_logout(auth_t *a, uid_t uid);
/*
 * What uid's credential is, as JSON text (claims, source "login" or
 * "default", status): never the token. Caller frees.
 */
char *auth_whoami(auth_t *a, uid_t uid);

#endif

/*
 * The secure tier's cryptography: node key pairs (X25519), dataset keys
 * sealed to a node (X25519 + HKDF-SHA256 + AES-256-GCM, signed with the
 * platform's Ed25519 key). Everything goes through OpenSSL 3's EVP
 * interface; secrets are cleansed before their memory is released and are
 * never logged.
 */
#define _GNU_SOURCE
#include "auth.h"
#include "aead.h"
#include "fsutil.h"
#include "lines.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define X25519_LEN 32
#define SIG_LEN 64

/* A PEM X25519 key is about 120 bytes; anything this big is not one. */
#define NODE_KEY_FILE_MAX (16 * 1024)

#define SEALED_MAGIC "aidata-sealed-key 1"
#define SEALED_INFO "aidata sealed dataset key v1"
/* Longest valid object is about 550 bytes (a 255-byte dataset name). */
#define SEALED_MAX 4096
#define SEALED_LEN (AEAD_NONCE_LEN + AUTH_DATASET_KEY_LEN + AEAD_TAG_LEN)
/* Base64 lengths of the fixed-size fields, with padding. */
#define B64_LEN(n) (4 * (((n) + 2) / 3))

struct auth_node_key {
	EVP_PKEY *pkey;
	bool has_private;
	uint8_t pub[X25519_LEN]; /* raw public key, for ids and HKDF salt */
};

/* ----------------------------------------------------------- node keys -- */

static int node_key_wrap(EVP_PKEY *pkey, bool has_private,
			 auth_node_key_t **out)
{
	auth_node_key_t *k;
	size_t len = X25519_LEN;

	if (EVP_PKEY_id(pkey) != EVP_PKEY_X25519) {
		EVP_PKEY_free(pkey);
		return -EINVAL;
	}
	k = xcalloc(1, sizeof(*k));
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) <= 0 ||
	    len != X25519_LEN) {
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		free(k);
		return -EINVAL;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	*out = k;
	return 0;
}

int auth_node_key_generate(auth_node_key_t **out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		log_openssl_error("x25519 key generation failed");
		EVP_PKEY_CTX_free(ctx);
		return -EIO;
	}
	EVP_PKEY_CTX_free(ctx);
	return node_key_wrap(pkey, true, out) ? -EIO : 0;
}

static int node_key_load(const char *path, bool private, auth_node_key_t **out)
{
	EVP_PKEY *pkey;
	char *data = NULL;
	size_t len = 0;
	BIO *bio;
	int rc;

	/* read through a capped buffer: a key path may name anything */
	rc = fs_read_file(path, NODE_KEY_FILE_MAX, &data, &len);
	if (rc)
		return rc == -EFBIG ? -EINVAL : rc;
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		rc = -ENOMEM;
		goto out;
	}
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
		       : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey) {
		rc = -EINVAL;
		goto out;
	}
	rc = node_key_wrap(pkey, private, out);
out:
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

int auth_node_key_load_private(const char *path, auth_node_key_t **out)
{
	return node_key_load(path, true, out);
}

int auth_node_key_load_public(const char *path, auth_node_key_t **out)
{
	return node_key_load(path, false, out);
}

/* Never overwrite (O_EXCL): a lost node key orphans every sealed key. */
static int node_key_write(const auth_node_key_t *k, const char *path,
			  bool private)
{
	mode_t mode = private ? 0600 : 0644;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pem_len = 0;
	int fd = -1, rc = 0;

	if (!bio)
		return -ENOMEM;
	if (private && !k->has_private) {
		rc = -EINVAL;
		goto out;
	}
	if (private ? !PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0,
						NULL, NULL)
		    : !PEM_write_bio_PUBKEY(bio, k->pkey)) {
		log_openssl_error("cannot encode node key");
		rc = -EIO;
		goto out;
	}
	pem_len = BIO_get_mem_data(bio, &pem);
	if (pem_len <= 0 || !pem) {
		rc = -EIO;
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* the mode given to open() is masked by the umask; be exact */
	if (fchmod(fd, mode) != 0)
		rc = -errno;
	if (!rc)
		rc = fs_write_all(fd, pem, (size_t)pem_len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		unlink(path);
out:
	/* a memory BIO does not cleanse on free */
	if (pem && pem_len > 0)
		OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	return rc;
}

int auth_node_key_write_private(const auth_node_key_t *k, const char *path)
{
	return node_key_write(k, path, true);
}

int auth_node_key_write_public(const auth_node_key_t *k, const char *path)
{
	return node_key_write(k, path, false);
}

static void node_id_of(const uint8_t pub[X25519_LEN], char *out)
{
	struct digest d;

	sha256_buffer(pub, X25519_LEN, &d);
	hex_encode(d.b, AUTH_NODE_ID_LEN / 2, out);
}

void auth_node_key_id(const auth_node_key_t *k, char *out)
{
	node_id_of(k->pub, out);
}

void auth_node_key_free(auth_node_key_t *k)
{
	if (!k)
		return;
	/* OpenSSL cleanses the X25519 private key when the EVP_PKEY goes */
	EVP_PKEY_free(k->pkey);
	free(k);
}

int auth_dataset_key_generate(uint8_t key[AUTH_DATASET_KEY_LEN])
{
	if (RAND_bytes(key, AUTH_DATASET_KEY_LEN) != 1) {
		log_openssl_error("no randomness for a dataset key");
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------ the primitives -- */

/* X25519(priv, peer) into shared. -EBADMSG when the peer is a low-order
 * point (OpenSSL refuses an all-zero result), -EIO otherwise. */
static int x25519(EVP_PKEY *priv, const uint8_t peer_raw[X25519_LEN],
		  uint8_t shared[X25519_LEN])
{
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = X25519_LEN;
	int rc = -EIO;

	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_raw,
					   X25519_LEN);
	ctx = EVP_PKEY_CTX_new(priv, NULL);
	if (!peer || !ctx || EVP_PKEY_derive_init(ctx) <= 0)
		goto out;
	if (EVP_PKEY_derive_set_peer(ctx, peer) <= 0 ||
	    EVP_PKEY_derive(ctx, shared, &len) <= 0 || len != X25519_LEN) {
		rc = -EBADMSG;
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return rc;
}

/* HKDF-SHA256(ikm = shared, salt = eph || node, info) -> 32-byte KEK. */
static int derive_kek(const uint8_t shared[X25519_LEN],
		      const uint8_t eph_pub[X25519_LEN],
		      const uint8_t node_pub[X25519_LEN],
		      uint8_t kek[AUTH_DATASET_KEY_LEN])
{
	char md[] = "SHA256";
	char info[] = SEALED_INFO;
	uint8_t ikm[X25519_LEN], salt[2 * X25519_LEN];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];
	int rc = 0;

	memcpy(ikm, shared, X25519_LEN);
	memcpy(salt, eph_pub, X25519_LEN);
	memcpy(salt + X25519_LEN, node_pub, X25519_LEN);
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm,
						      sizeof(ikm));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt,
						      sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
						      strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	if (!kctx ||
	    EVP_KDF_derive(kctx, kek, AUTH_DATASET_KEY_LEN, params) <= 0) {
		log_openssl_error("hkdf-sha256 failed");
		rc = -EIO;
	}
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return rc;
}

/* ---------------------------------------------------- sealed dataset keys --
 */

/* The AEAD's associated data: the first three lines of the object. */
static char *sealed_header(const char *dataset, const char *node_id)
{
	return xasprintf(SEALED_MAGIC "\ndataset %s\nnode %s\n", dataset,
			 node_id);
}

static int append_b64_line(struct buf *b, const char *key, const uint8_t *p,
			   size_t n)
{
	char *s = base64_encode(p, n);
	int rc;

	rc = buf_append(b, key, strlen(key));
	rc = rc ? rc : buf_append(b, " ", 1);
	rc = rc ? rc : buf_append(b, s, strlen(s));
	rc = rc ? rc : buf_append(b, "\n", 1);
	free(s);
	return rc;
}

int auth_seal_dataset_key(const repo_key_t *platform, const char *dataset,
			  const auth_node_key_t *node_pub,
			  const uint8_t key[AUTH_DATASET_KEY_LEN], char **out,
			  size_t *out_len)
{
	char node_id[AUTH_NODE_ID_LEN + 1];
	uint8_t eph_pub[X25519_LEN], shared[X25519_LEN];
	uint8_t kek[AUTH_DATASET_KEY_LEN], sealed[SEALED_LEN], sig[SIG_LEN];
	auth_node_key_t *eph = NULL;
	char *header = NULL;
	struct buf b;
	int rc;

	buf_init(&b, SEALED_MAX);
	if (!dataset || repo_name_invalid_reason(dataset, strlen(dataset))) {
		rc = -EINVAL;
		goto out;
	}
	auth_node_key_id(node_pub, node_id);
	header = sealed_header(dataset, node_id);

	/* a fresh ephemeral key per object: only the node can derive the KEK */
	rc = auth_node_key_generate(&eph);
	if (rc)
		goto out;
	memcpy(eph_pub, eph->pub, X25519_LEN);
	rc = x25519(eph->pkey, node_pub->pub, shared);
	if (rc == -EBADMSG)
		rc = -EINVAL; /* the node's public key is a low-order point */
	if (!rc)
		rc = derive_kek(shared, eph_pub, node_pub->pub, kek);
	if (rc)
		goto out;
	if (RAND_bytes(sealed, AEAD_NONCE_LEN) != 1) {
		log_openssl_error("no randomness for a nonce");
		rc = -EIO;
		goto out;
	}
	rc = aead_seal(kek, sealed, header, strlen(header), key,
		       AUTH_DATASET_KEY_LEN, sealed + AEAD_NONCE_LEN,
		       sealed + AEAD_NONCE_LEN + AUTH_DATASET_KEY_LEN);
	if (rc)
		goto out;

	rc = buf_append(&b, header, strlen(header));
	rc = rc ? rc : append_b64_line(&b, "ephemeral", eph_pub, X25519_LEN);
	rc = rc ? rc : append_b64_line(&b, "sealed", sealed, SEALED_LEN);
	rc = rc ? rc : repo_key_sign(platform, b.data, b.len, sig);
	rc = rc ? rc : append_b64_line(&b, "signature", sig, SIG_LEN);
	rc = rc ? rc : buf_take_string(&b, out, out_len);
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(kek, sizeof(kek));
	auth_node_key_free(eph);
	free(header);
	buf_release(&b);
	return rc;
}

/* "key value": the value (not NUL-terminated) and its length, or NULL. */
static const char *line_value(const char *line, size_t len, const char *key,
			      size_t *vlen)
{
	size_t klen = strlen(key);

	if (len <= klen + 1 || memcmp(line, key, klen) != 0 ||
	    line[klen] != ' ')
		return NULL;
	*vlen = len - klen - 1;
	return line + klen + 1;
}

/*
 * Exactly n bytes from canonical base64: the one spelling base64_encode
 * produces, so no two texts decode to the same field (a changed unused
 * bit would otherwise slip past the signature check of its own line).
 */
static bool b64_field(const char *s, size_t len, uint8_t *out, size_t n)
{
	char *again;
	bool ok;

	if (len != B64_LEN(n) || base64_decode(s, len, out, n) != (long)n)
		return false;
	again = base64_encode(out, n);
	ok = strlen(again) == len && !memcmp(again, s, len);
	free(again);
	return ok;
}

bool auth_node_id_valid(const char *s, size_t len)
{
	if (len != AUTH_NODE_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int auth_unseal_dataset_key(const repo_key_t *platform_pub, const char *dataset,
			    const auth_node_key_t *node_priv, const char *data,
			    size_t len, uint8_t key[AUTH_DATASET_KEY_LEN])
{
	const char *p = data, *end = data + len, *line, *v;
	const char *name, *id, *signed_end;
	size_t n, vlen, name_len = 0, id_len = 0, header_len;
	char my_id[AUTH_NODE_ID_LEN + 1];
	uint8_t eph_pub[X25519_LEN], sealed[SEALED_LEN], sig[SIG_LEN];
	uint8_t shared[X25519_LEN], kek[AUTH_DATASET_KEY_LEN];
	uint8_t plain[AUTH_DATASET_KEY_LEN];
	int rc = -EINVAL;

	if (!data || len > SEALED_MAX || !node_priv->has_private)
		goto out;
	/* strict syntax: these six lines in this order, nothing else */
	line = line_next(&p, end, &n);
	if (!line || n != strlen(SEALED_MAGIC) || memcmp(line, SEALED_MAGIC, n))
		goto out;
	line = line_next(&p, end, &n);
	name = line ? line_value(line, n, "dataset", &name_len) : NULL;
	if (!name || repo_name_invalid_reason(name, name_len))
		goto out;
	line = line_next(&p, end, &n);
	id = line ? line_value(line, n, "node", &id_len) : NULL;
	if (!id || !auth_node_id_valid(id, id_len))
		goto out;
	header_len = (size_t)(p - data);
	line = line_next(&p, end, &n);
	v = line ? line_value(line, n, "ephemeral", &vlen) : NULL;
	if (!v || !b64_field(v, vlen, eph_pub, X25519_LEN))
		goto out;
	line = line_next(&p, end, &n);
	v = line ? line_value(line, n, "sealed", &vlen) : NULL;
	if (!v || !b64_field(v, vlen, sealed, SEALED_LEN))
		goto out;
	signed_end = p;
	line = line_next(&p, end, &n);
	v = line ? line_value(line, n, "signature", &vlen) : NULL;
	if (!v || !b64_field(v, vlen, sig, SIG_LEN) || p != end)
		goto out;

	/* nothing in it is believed before the platform's signature is */
	rc = repo_key_verify(platform_pub, data, (size_t)(signed_end - data),
			     sig);
	if (rc)
		goto out;

	rc = -EINVAL;
	auth_node_key_id(node_priv, my_id);
	if (!dataset || strlen(dataset) != name_len ||
	    memcmp(dataset, name, name_len) != 0 ||
	    memcmp(my_id, id, AUTH_NODE_ID_LEN) != 0)
		goto out;

	rc = x25519(node_priv->pkey, eph_pub, shared);
	if (!rc)
		rc = derive_kek(shared, eph_pub, node_priv->pub, kek);
	if (!rc)
		rc = aead_open(kek, sealed, data, header_len,
			       sealed + AEAD_NONCE_LEN, AUTH_DATASET_KEY_LEN,
			       sealed + AEAD_NONCE_LEN + AUTH_DATASET_KEY_LEN,
			       plain);
	if (!rc)
		memcpy(key, plain, AUTH_DATASET_KEY_LEN);
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

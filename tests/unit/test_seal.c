/*
 * The secure tier's cryptography (auth/seal.c): node keys, sealed dataset
 * keys, including an independent re-derivation of the construction from
 * its documented definition (the chunk envelope is tested with repo/ in
 * test_chunk.c).
 */
#define _GNU_SOURCE
#include "auth.h"
#include "log.h"
#include "unit.h"
#include "xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "banned.h"

static repo_key_t *platform, *platform_pub, *other_platform;
static auth_node_key_t *node_a, *node_b;
static char id_a[AUTH_NODE_ID_LEN + 1], id_b[AUTH_NODE_ID_LEN + 1];
static uint8_t dkey[AUTH_DATASET_KEY_LEN];

static const char dataset[] = "medical-imaging-ct";

static int unseal(const char *ds, const auth_node_key_t *node,
		  const repo_key_t *pub, const char *data, size_t len,
		  uint8_t out[AUTH_DATASET_KEY_LEN])
{
	/* through a guard page, so an over-read is a fault, not luck */
	char *g = unit_guarded(data, len);

	return auth_unseal_dataset_key(pub, ds, node, g, len, out);
}

/* Raw 32-byte public key of a PEM public key file, via OpenSSL alone. */
static void raw_pub_of_file(const char *path, uint8_t raw[32])
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;
	size_t len = 32;

	REQUIRE(f);
	pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	REQUIRE(pk);
	CHECK_INT(EVP_PKEY_id(pk), EVP_PKEY_X25519);
	REQUIRE(EVP_PKEY_get_raw_public_key(pk, raw, &len) == 1 && len == 32);
	EVP_PKEY_free(pk);
}

static void test_node_keys(void)
{
	char *dir = unit_tmpdir();
	char *priv = unit_path(dir, "node.key"),
	     *pub = unit_path(dir, "node.pub");
	char *plat = unit_path(dir, "platform.pub");
	char *other = unit_path(dir, "x"), *missing = unit_path(dir, "missing");
	char id[AUTH_NODE_ID_LEN + 1], id2[AUTH_NODE_ID_LEN + 1];
	char want[DIGEST_HEX_LEN + 1];
	auth_node_key_t *k = NULL, *lp = NULL, *lq = NULL, *bad = NULL;
	uint8_t raw[32];
	struct digest d;
	struct stat st;

	REQUIRE_RC(auth_node_key_generate(&k), 0);
	memset(id, 'x', sizeof(id));
	auth_node_key_id(k, id);
	CHECK_INT(strlen(id), AUTH_NODE_ID_LEN);
	for (size_t i = 0; i < AUTH_NODE_ID_LEN; i++)
		CHECK((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f'));
	auth_node_key_id(k, id2);
	CHECK_STR(id2, id); /* stable */

	REQUIRE_RC(auth_node_key_write_private(k, priv), 0);
	REQUIRE_RC(auth_node_key_write_public(k, pub), 0);
	REQUIRE(stat(priv, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	REQUIRE(stat(pub, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	/* never overwrite */
	CHECK_RC(auth_node_key_write_private(k, priv), -EEXIST);
	CHECK_RC(auth_node_key_write_public(k, pub), -EEXIST);

	/* the id is SHA-256 of the raw key, as OpenSSL itself reads it */
	raw_pub_of_file(pub, raw);
	sha256_buffer(raw, sizeof(raw), &d);
	digest_to_hex(&d, want);
	CHECK(memcmp(id, want, AUTH_NODE_ID_LEN) == 0);

	REQUIRE_RC(auth_node_key_load_private(priv, &lp), 0);
	auth_node_key_id(lp, id2);
	CHECK_STR(id2, id);
	REQUIRE_RC(auth_node_key_load_public(pub, &lq), 0);
	auth_node_key_id(lq, id2);
	CHECK_STR(id2, id);
	/* a public key cannot be written as a private one */
	CHECK_RC(auth_node_key_write_private(lq, other), -EINVAL);

	/* wrong kinds and types are refused */
	CHECK_RC(auth_node_key_load_private(pub, &bad), -EINVAL);
	CHECK_RC(auth_node_key_load_public(priv, &bad), -EINVAL);
	REQUIRE_RC(repo_key_write_public(platform_pub, plat), 0);
	CHECK_RC(auth_node_key_load_public(plat, &bad), -EINVAL);
	CHECK_RC(auth_node_key_load_public(missing, &bad), -ENOENT);
	CHECK(bad == NULL);

	/* a key loaded from disk seals and unseals like the original */
	{
		char *obj = NULL;
		size_t len = 0;
		uint8_t got[AUTH_DATASET_KEY_LEN];

		REQUIRE_RC(auth_seal_dataset_key(platform, dataset, lq, dkey,
						 &obj, &len),
			   0);
		CHECK_RC(unseal(dataset, lp, platform_pub, obj, len, got), 0);
		CHECK_MEM(got, dkey, sizeof(got));
		CHECK_RC(unseal(dataset, lq, platform_pub, obj, len, got),
			 -EINVAL); /* public key only */
		free(obj);
	}

	/* two keys, two ids */
	auth_node_key_id(node_b, id2);
	CHECK(strcmp(id, id2) != 0);

	auth_node_key_free(k);
	auth_node_key_free(lp);
	auth_node_key_free(lq);
	free(priv);
	free(pub);
	free(plat);
	free(other);
	free(missing);
	unit_rmtree(dir);
}

static void test_dataset_key(void)
{
	uint8_t a[AUTH_DATASET_KEY_LEN], b[AUTH_DATASET_KEY_LEN];

	REQUIRE_RC(auth_dataset_key_generate(a), 0);
	REQUIRE_RC(auth_dataset_key_generate(b), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

/* Split an object into its six lines; false if it does not have six. */
static bool six_lines(const char *obj, size_t len, const char *line[6],
		      size_t n[6])
{
	const char *p = obj, *end = obj + len;

	for (int i = 0; i < 6; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			return false;
		line[i] = p;
		n[i] = (size_t)(nl - p);
		p = nl + 1;
	}
	return p == end;
}

static void test_seal_layout(void)
{
	static const char *const keys[6] = {
	    "aidata-sealed-key 1", "dataset ", "node ",
	    "ephemeral ",	   "sealed ",  "signature ",
	};
	const char *line[6];
	size_t n[6];
	char *obj = NULL, *obj2 = NULL, *expect;
	size_t len = 0, len2 = 0;
	uint8_t got[AUTH_DATASET_KEY_LEN];

	REQUIRE_RC(
	    auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj, &len),
	    0);
	CHECK_INT(strlen(obj), len); /* NUL-terminated, no NUL inside */
	REQUIRE(six_lines(obj, len, line, n));
	for (int i = 0; i < 6; i++)
		CHECK(n[i] >= strlen(keys[i]) &&
		      !memcmp(line[i], keys[i], strlen(keys[i])));
	CHECK_INT(n[0], strlen(keys[0]));
	expect = xasprintf("aidata-sealed-key 1\ndataset %s\nnode %s\n",
			   dataset, id_a);
	CHECK(!strncmp(obj, expect, strlen(expect)));
	free(expect);
	CHECK_INT(n[3], strlen("ephemeral ") + 44);
	CHECK_INT(n[4], strlen("sealed ") + 80);
	CHECK_INT(n[5], strlen("signature ") + 88);
	/* the key itself does not appear, in hex or raw */
	{
		char hex[2 * AUTH_DATASET_KEY_LEN + 1];

		hex_encode(dkey, sizeof(dkey), hex);
		CHECK(!memmem(obj, len, hex, strlen(hex)));
		CHECK(!memmem(obj, len, dkey, sizeof(dkey)));
	}

	CHECK_RC(unseal(dataset, node_a, platform_pub, obj, len, got), 0);
	CHECK_MEM(got, dkey, sizeof(got));
	/* the private key's object also works as the verifying key */
	CHECK_RC(unseal(dataset, node_a, platform, obj, len, got), 0);

	/* fresh ephemeral key and nonce each time */
	REQUIRE_RC(auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj2,
					 &len2),
		   0);
	CHECK(len2 == len && memcmp(obj, obj2, len) != 0);
	CHECK_RC(unseal(dataset, node_a, platform_pub, obj2, len2, got), 0);
	free(obj2);

	/* sealing needs the private platform key and a valid name */
	CHECK_RC(auth_seal_dataset_key(platform_pub, dataset, node_a, dkey,
				       &obj2, &len2),
		 -EINVAL);
	CHECK_RC(
	    auth_seal_dataset_key(platform, "a/b", node_a, dkey, &obj2, &len2),
	    -EINVAL);
	CHECK_RC(
	    auth_seal_dataset_key(platform, "", node_a, dkey, &obj2, &len2),
	    -EINVAL);
	free(obj);
}

static void test_unseal_refusals(void)
{
	char *obj = NULL;
	size_t len = 0;
	uint8_t got[AUTH_DATASET_KEY_LEN];

	REQUIRE_RC(
	    auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj, &len),
	    0);
	/* another node: it is not named in the object */
	memset(got, 0xa5, sizeof(got));
	CHECK_RC(unseal(dataset, node_b, platform_pub, obj, len, got), -EINVAL);
	/* another platform key: signature first */
	CHECK_RC(unseal(dataset, node_a, other_platform, obj, len, got),
		 -EBADMSG);
	CHECK_RC(unseal(dataset, node_b, other_platform, obj, len, got),
		 -EBADMSG);
	CHECK_RC(unseal("other-dataset", node_a, other_platform, obj, len, got),
		 -EBADMSG);
	/* another dataset name */
	CHECK_RC(unseal("other-dataset", node_a, platform_pub, obj, len, got),
		 -EINVAL);
	CHECK_RC(
	    unseal("medical-imaging-c", node_a, platform_pub, obj, len, got),
	    -EINVAL);
	CHECK_RC(
	    unseal("medical-imaging-ctx", node_a, platform_pub, obj, len, got),
	    -EINVAL);
	/* key untouched on every failure */
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK_INT(got[i], 0xa5);

	/* truncated at every length, and one byte too many */
	for (size_t cut = 0; cut < len; cut++) {
		int rc = unseal(dataset, node_a, platform_pub, obj, cut, got);

		if (rc != -EINVAL)
			UNIT_FAIL("truncated to %zu bytes: rc %d", cut, rc);
	}
	{
		char *more = xmalloc(len + 2);

		memcpy(more, obj, len);
		more[len] = '\n';
		more[len + 1] = '\0';
		CHECK_RC(
		    unseal(dataset, node_a, platform_pub, more, len + 1, got),
		    -EINVAL);
		more[len] = 'x';
		CHECK_RC(
		    unseal(dataset, node_a, platform_pub, more, len + 1, got),
		    -EINVAL);
		free(more);
	}
	CHECK_RC(unseal(dataset, node_a, platform_pub, "", 0, got), -EINVAL);
	free(obj);
}

static void test_unseal_every_byte(void)
{
	static const uint8_t flips[] = {0x01, 0x02, 0x04, 0x08,
					0x10, 0x20, 0x40, 0x80};
	char *obj = NULL, *copy;
	size_t len = 0, tried = 0;
	uint8_t got[AUTH_DATASET_KEY_LEN];

	REQUIRE_RC(
	    auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj, &len),
	    0);
	copy = xmalloc(len);
	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			int rc;

			memcpy(copy, obj, len);
			copy[i] = (char)(copy[i] ^ flips[f]);
			rc = unseal(dataset, node_a, platform_pub, copy, len,
				    got);
			tried++;
			if (rc != -EINVAL && rc != -EBADMSG)
				UNIT_FAIL("byte %zu ^ 0x%02x: rc %d", i,
					  flips[f], rc);
		}
	}
	CHECK(tried == len * sizeof(flips));
	/* and the original still opens */
	CHECK_RC(unseal(dataset, node_a, platform_pub, obj, len, got), 0);
	free(copy);
	free(obj);
}

/* Replace line idx of obj with text and re-sign with the platform key. */
static char *resign(const char *obj, size_t len, int idx, const char *text,
		    size_t *out_len)
{
	const char *line[6];
	size_t n[6];
	struct buf b;
	uint8_t sig[64];
	char *s;

	REQUIRE(six_lines(obj, len, line, n));
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 5; i++) {
		if (i == idx)
			REQUIRE(buf_append(&b, text, strlen(text)) == 0);
		else
			REQUIRE(buf_append(&b, line[i], n[i]) == 0);
		REQUIRE(buf_append(&b, "\n", 1) == 0);
	}
	REQUIRE_RC(repo_key_sign(platform, b.data, b.len, sig), 0);
	s = base64_encode(sig, sizeof(sig));
	REQUIRE(buf_append(&b, "signature ", 10) == 0);
	REQUIRE(buf_append(&b, s, strlen(s)) == 0);
	REQUIRE(buf_append(&b, "\n", 1) == 0);
	free(s);
	*out_len = b.len;
	return (char *)b.data;
}

/* A correctly signed object whose AEAD binding is wrong still fails. */
static void test_unseal_aead_binding(void)
{
	char *obj = NULL, *x, *line;
	size_t len = 0, xlen = 0;
	uint8_t got[AUTH_DATASET_KEY_LEN];

	REQUIRE_RC(
	    auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj, &len),
	    0);
	/* re-signed unchanged: opens */
	x = resign(obj, len, -1, NULL, &xlen);
	CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got), 0);
	free(x);
	/* addressed to node b, but sealed for a: b derives another KEK */
	line = xasprintf("node %s", id_b);
	x = resign(obj, len, 2, line, &xlen);
	CHECK_RC(unseal(dataset, node_b, platform_pub, x, xlen, got), -EBADMSG);
	CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got), -EINVAL);
	free(line);
	free(x);
	/* renamed dataset: the associated data no longer matches */
	x = resign(obj, len, 1, "dataset other", &xlen);
	CHECK_RC(unseal("other", node_a, platform_pub, x, xlen, got), -EBADMSG);
	free(x);
	/* another ephemeral key (node b's public key) */
	{
		char *e64;
		uint8_t raw[32];
		char *dir = unit_tmpdir(), *pub = unit_path(dir, "b.pub");

		REQUIRE_RC(auth_node_key_write_public(node_b, pub), 0);
		raw_pub_of_file(pub, raw);
		e64 = base64_encode(raw, sizeof(raw));
		line = xasprintf("ephemeral %s", e64);
		x = resign(obj, len, 3, line, &xlen);
		CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got),
			 -EBADMSG);
		free(x);
		free(line);
		/* a low-order point (all zero) as ephemeral key */
		memset(raw, 0, sizeof(raw));
		free(e64);
		e64 = base64_encode(raw, sizeof(raw));
		line = xasprintf("ephemeral %s", e64);
		x = resign(obj, len, 3, line, &xlen);
		CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got),
			 -EBADMSG);
		free(x);
		free(line);
		free(e64);
		free(pub);
		unit_rmtree(dir);
	}
	/* syntax the signature cannot excuse */
	x = resign(obj, len, 2, "node 0123456789ABCDEF", &xlen);
	CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got), -EINVAL);
	free(x);
	x = resign(obj, len, 1, "dataset a/b", &xlen);
	CHECK_RC(unseal("a/b", node_a, platform_pub, x, xlen, got), -EINVAL);
	free(x);
	x = resign(obj, len, 0, "aidata-sealed-key 2", &xlen);
	CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got), -EINVAL);
	free(x);
	x = resign(obj, len, 4, "sealed AAAA", &xlen);
	CHECK_RC(unseal(dataset, node_a, platform_pub, x, xlen, got), -EINVAL);
	free(x);
	free(obj);
}

/*
 * The construction, re-derived from its definition with OpenSSL calls
 * seal.c does not use (EVP_PKEY HKDF): X25519(node, ephemeral), HKDF with
 * salt ephemeral || node and the documented info, AES-256-GCM with the
 * first three lines as associated data.
 */
static void test_seal_independent(void)
{
	char *dir = unit_tmpdir();
	char *priv = unit_path(dir, "a.key"), *pub = unit_path(dir, "a.pub");
	const char *line[6];
	size_t n[6], hdr_len, klen = 32, slen = 32;
	uint8_t eph[32], sealed[60], node_raw[32], shared[32], kek[32];
	uint8_t salt[64], plain[32];
	const char info[] = "aidata sealed dataset key v1";
	char *obj = NULL;
	size_t len = 0;
	EVP_PKEY *nk, *ek;
	EVP_PKEY_CTX *ctx;
	EVP_CIPHER_CTX *c;
	FILE *f;
	int outl;

	REQUIRE_RC(auth_node_key_write_private(node_a, priv), 0);
	REQUIRE_RC(auth_node_key_write_public(node_a, pub), 0);
	raw_pub_of_file(pub, node_raw);
	REQUIRE_RC(
	    auth_seal_dataset_key(platform, dataset, node_a, dkey, &obj, &len),
	    0);
	REQUIRE(six_lines(obj, len, line, n));
	hdr_len = (size_t)(line[3] - obj);
	REQUIRE(base64_decode(line[3] + 10, n[3] - 10, eph, 32) == 32);
	REQUIRE(base64_decode(line[4] + 7, n[4] - 7, sealed, 60) == 60);

	f = fopen(priv, "r");
	REQUIRE(f);
	nk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	REQUIRE(nk);
	ek = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, eph, 32);
	REQUIRE(ek);
	ctx = EVP_PKEY_CTX_new(nk, NULL);
	REQUIRE(ctx && EVP_PKEY_derive_init(ctx) == 1 &&
		EVP_PKEY_derive_set_peer(ctx, ek) == 1 &&
		EVP_PKEY_derive(ctx, shared, &slen) == 1 && slen == 32);
	EVP_PKEY_CTX_free(ctx);

	memcpy(salt, eph, 32);
	memcpy(salt + 32, node_raw, 32);
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	REQUIRE(ctx && EVP_PKEY_derive_init(ctx) == 1 &&
		EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
		EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, 64) == 1 &&
		EVP_PKEY_CTX_set1_hkdf_key(ctx, shared, 32) == 1 &&
		EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info,
					    (int)strlen(info)) == 1 &&
		EVP_PKEY_derive(ctx, kek, &klen) == 1 && klen == 32);
	EVP_PKEY_CTX_free(ctx);

	c = EVP_CIPHER_CTX_new();
	REQUIRE(c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, kek,
					sealed) == 1);
	REQUIRE(EVP_DecryptUpdate(c, NULL, &outl, (const uint8_t *)obj,
				  (int)hdr_len) == 1);
	REQUIRE(EVP_DecryptUpdate(c, plain, &outl, sealed + 12, 32) == 1);
	REQUIRE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, sealed + 44) ==
		1);
	CHECK(EVP_DecryptFinal_ex(c, plain + 32, &outl) == 1);
	CHECK_MEM(plain, dkey, 32);
	EVP_CIPHER_CTX_free(c);

	/* and the signature covers exactly the first five lines */
	{
		uint8_t sig[64];

		REQUIRE(base64_decode(line[5] + 10, n[5] - 10, sig, 64) == 64);
		CHECK_RC(repo_key_verify(platform_pub, obj,
					 (size_t)(line[5] - obj), sig),
			 0);
	}
	EVP_PKEY_free(nk);
	EVP_PKEY_free(ek);
	free(obj);
	free(priv);
	free(pub);
	unit_rmtree(dir);
}

int main(void)
{
	log_init("test_seal", LOG_LEVEL_ERROR, false);
	umask(022);
	REQUIRE_RC(repo_key_generate(&platform), 0);
	REQUIRE_RC(repo_key_generate(&other_platform), 0);
	{
		char *dir = unit_tmpdir(), *p = unit_path(dir, "platform.pub");

		REQUIRE_RC(repo_key_write_public(platform, p), 0);
		REQUIRE_RC(repo_key_load_public(p, &platform_pub), 0);
		free(p);
		unit_rmtree(dir);
	}
	REQUIRE_RC(auth_node_key_generate(&node_a), 0);
	REQUIRE_RC(auth_node_key_generate(&node_b), 0);
	auth_node_key_id(node_a, id_a);
	auth_node_key_id(node_b, id_b);
	REQUIRE(strcmp(id_a, id_b) != 0);
	REQUIRE_RC(auth_dataset_key_generate(dkey), 0);

	unit_quiet(true);
	RUN(test_node_keys);
	RUN(test_dataset_key);
	RUN(test_seal_layout);
	RUN(test_unseal_refusals);
	RUN(test_unseal_every_byte);
	RUN(test_unseal_aead_binding);
	RUN(test_seal_independent);
	unit_quiet(false);

	auth_node_key_free(node_a);
	auth_node_key_free(node_b);
	repo_key_free(platform);
	repo_key_free(platform_pub);
	repo_key_free(other_platform);
	return unit_result();
}

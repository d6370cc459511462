/* Unit tests: Ed25519 keys and the signed manifest (repo/keys.c,
 * repo/manifest.c). */
#define _GNU_SOURCE
#include "repo.h"
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "banned.h"

#define SAMPLE_CREATED 1700000000 /* 2023-11-14T22:13:20Z */
#define SAMPLE_HEX                                                             \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static repo_key_t *key_a, *key_b;

static void sample_manifest(struct repo_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->format = REPO_MANIFEST_FORMAT;
	m->root_catalog_size = 803;
	m->revision = 42;
	REQUIRE(digest_from_hex(SAMPLE_HEX, &m->root_catalog) == 0);
	m->created = SAMPLE_CREATED;
	m->ttl = 300;
}

/* A heap copy of exactly n bytes, so ASan sees any over-read. */
static char *dup_bytes(const char *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	REQUIRE(c != NULL);
	memcpy(c, p, n);
	return c;
}

static int decode_bytes(const char *p, size_t n, const repo_key_t *pub,
			struct repo_manifest *m)
{
	char *c = dup_bytes(p, n);
	int rc = repo_manifest_decode(c, n, pub, m);

	free(c);
	return rc;
}

static bool manifest_is_empty(const struct repo_manifest *m)
{
	static const struct repo_manifest zero;

	return memcmp(m, &zero, sizeof(zero)) == 0;
}

/*
 * A manifest object made of body (the signed text, which must end in a
 * newline) and a valid signature over it by key. Lets each malformed case
 * be correctly signed, so only the syntax is wrong.
 */
static char *signed_text(const repo_key_t *key, const char *body, size_t *len)
{
	uint8_t sig[64];
	char *sig64, *out;

	REQUIRE_RC(repo_key_sign(key, body, strlen(body), sig), 0);
	sig64 = base64_encode(sig, sizeof(sig));
	REQUIRE(asprintf(&out, "%ssignature %s\n", body, sig64) > 0);
	free(sig64);
	*len = strlen(out);
	return out;
}

/* The standard header lines with one or more replaced. */
static char *body_with(const char *magic, const char *revision,
		       const char *root, const char *created, const char *ttl,
		       const char *extra)
{
	char *body;

	REQUIRE(asprintf(&body,
			 "%s\nrevision %s\nroot-catalog %s\ncreated %s\n"
			 "ttl %s\n%s",
			 magic ? magic : "aidata-manifest 1",
			 revision ? revision : "42", root ? root : SAMPLE_HEX,
			 created ? created : "2023-11-14T22:13:20Z",
			 ttl ? ttl : "300", extra ? extra : "") > 0);
	return body;
}

/* Sign body with key_a and decode with key_a; returns the result. */
static int decode_body(const char *body, struct repo_manifest *m)
{
	size_t len;
	char *text = signed_text(key_a, body, &len);
	int rc = decode_bytes(text, len, key_a, m);

	free(text);
	return rc;
}

#define CHECK_BODY(body, want)                                                 \
	do {                                                                   \
		struct repo_manifest m_;                                       \
		char *b_ = (body);                                             \
		CHECK_RC(decode_body(b_, &m_), (want));                        \
		if (want)                                                      \
			CHECK(manifest_is_empty(&m_));                         \
		repo_manifest_release(&m_);                                    \
		free(b_);                                                      \
	} while (0)

/* ------------------------------------------------------------------ keys */

static void test_key_generate_sign_verify(void)
{
	static const char msg[] = "the quick brown fox";
	uint8_t sig[64], raw_a[32], raw_b[32];

	CHECK_RC(repo_key_public_raw(key_a, raw_a), 0);
	CHECK_RC(repo_key_public_raw(key_b, raw_b), 0);
	CHECK(memcmp(raw_a, raw_b, 32) != 0);

	CHECK_RC(repo_key_sign(key_a, msg, sizeof(msg), sig), 0);
	CHECK_RC(repo_key_verify(key_a, msg, sizeof(msg), sig), 0);
	CHECK_RC(repo_key_verify(key_b, msg, sizeof(msg), sig), -EBADMSG);
	CHECK_RC(repo_key_verify(key_a, msg, sizeof(msg) - 1, sig), -EBADMSG);
	sig[10] ^= 1;
	CHECK_RC(repo_key_verify(key_a, msg, sizeof(msg), sig), -EBADMSG);
	/* Ed25519 signatures are deterministic */
	{
		uint8_t s1[64], s2[64];

		CHECK_RC(repo_key_sign(key_a, "", 0, s1), 0);
		CHECK_RC(repo_key_sign(key_a, "", 0, s2), 0);
		CHECK_MEM(s1, s2, 64);
		CHECK_RC(repo_key_verify(key_a, "", 0, s1), 0);
	}
}

static void write_file(const char *path, const char *text)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(fs_write_all(fd, text, n) == 0);
	close(fd);
}

/* Write an X25519 key (right family, wrong algorithm) as PEM files. */
static void write_x25519(const char *priv_path, const char *pub_path)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *pkey = NULL;
	FILE *f;

	REQUIRE(ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
		EVP_PKEY_keygen(ctx, &pkey) > 0);
	f = fopen(priv_path, "w");
	REQUIRE(f);
	REQUIRE(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	f = fopen(pub_path, "w");
	REQUIRE(f);
	REQUIRE(PEM_write_PUBKEY(f, pkey));
	fclose(f);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
}

static void test_key_files(void)
{
	char *dir = unit_tmpdir();
	char *priv = unit_path(dir, "platform.key");
	char *pub = unit_path(dir, "platform.pub");
	char *garbage = unit_path(dir, "garbage.pem");
	char *empty = unit_path(dir, "empty.pem");
	char *xpriv = unit_path(dir, "x25519.key");
	char *xpub = unit_path(dir, "x25519.pub");
	char *missing = unit_path(dir, "missing.pem");
	char *pub_only_priv = unit_path(dir, "pubonly.key");
	repo_key_t *loaded_priv = NULL, *loaded_pub = NULL, *k = NULL;
	uint8_t raw_a[32], raw[32], sig[64];
	struct stat st;
	mode_t old_umask = umask(022);

	CHECK_RC(repo_key_write_private(key_a, priv), 0);
	CHECK_RC(repo_key_write_public(key_a, pub), 0);
	CHECK(stat(priv, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(stat(pub, &st) == 0 && (st.st_mode & 07777) == 0644);
	/* never overwrites */
	CHECK_RC(repo_key_write_private(key_a, priv), -EEXIST);
	CHECK_RC(repo_key_write_public(key_a, pub), -EEXIST);

	CHECK_RC(repo_key_load_private(priv, &loaded_priv), 0);
	CHECK_RC(repo_key_load_public(pub, &loaded_pub), 0);
	REQUIRE(loaded_priv && loaded_pub);
	CHECK_RC(repo_key_public_raw(key_a, raw_a), 0);
	CHECK_RC(repo_key_public_raw(loaded_priv, raw), 0);
	CHECK_MEM(raw, raw_a, 32);
	CHECK_RC(repo_key_public_raw(loaded_pub, raw), 0);
	CHECK_MEM(raw, raw_a, 32);

	/* the loaded private key signs, the loaded public key verifies */
	CHECK_RC(repo_key_sign(loaded_priv, "x", 1, sig), 0);
	CHECK_RC(repo_key_verify(loaded_pub, "x", 1, sig), 0);
	CHECK_RC(repo_key_verify(key_a, "x", 1, sig), 0);
	/* a public key cannot sign or be written as a private key */
	CHECK_RC(repo_key_sign(loaded_pub, "x", 1, sig), -EINVAL);
	CHECK_RC(repo_key_write_private(loaded_pub, pub_only_priv), -EINVAL);
	CHECK(access(pub_only_priv, F_OK) != 0);

	/* the wrong kind of PEM */
	k = NULL;
	CHECK_RC(repo_key_load_private(pub, &k), -EINVAL);
	CHECK(k == NULL);
	CHECK_RC(repo_key_load_public(priv, &k), -EINVAL);
	CHECK(k == NULL);

	/* garbage, empty, missing */
	write_file(garbage, "-----BEGIN PRIVATE KEY-----\nnot base64!\n"
			    "-----END PRIVATE KEY-----\n");
	write_file(empty, "");
	CHECK_RC(repo_key_load_private(garbage, &k), -EINVAL);
	CHECK_RC(repo_key_load_public(garbage, &k), -EINVAL);
	CHECK_RC(repo_key_load_private(empty, &k), -EINVAL);
	CHECK_RC(repo_key_load_public(empty, &k), -EINVAL);
	CHECK_RC(repo_key_load_private(missing, &k), -ENOENT);
	CHECK_RC(repo_key_load_public(missing, &k), -ENOENT);
	CHECK(k == NULL);

	/* a valid PEM key that is not Ed25519 */
	write_x25519(xpriv, xpub);
	CHECK_RC(repo_key_load_private(xpriv, &k), -EINVAL);
	CHECK_RC(repo_key_load_public(xpub, &k), -EINVAL);
	CHECK(k == NULL);

	/* a manifest signed by the loaded key verifies with the original */
	{
		struct repo_manifest m, got;
		char *text;
		size_t len;

		sample_manifest(&m);
		CHECK_RC(repo_manifest_encode(&m, loaded_priv, &text, &len), 0);
		CHECK_RC(repo_manifest_decode(text, len, key_a, &got), 0);
		repo_manifest_release(&got);
		CHECK_RC(repo_manifest_decode(text, len, loaded_pub, &got), 0);
		repo_manifest_release(&got);
		free(text);
	}

	repo_key_free(loaded_priv);
	repo_key_free(loaded_pub);
	repo_key_free(NULL);
	umask(old_umask);
	free(priv);
	free(pub);
	free(garbage);
	free(empty);
	free(xpriv);
	free(xpub);
	free(missing);
	free(pub_only_priv);
	unit_rmtree(dir);
}

/* -------------------------------------------------------------- encoding */

static void check_manifest_equal(const struct repo_manifest *got,
				 const struct repo_manifest *want)
{
	CHECK_INT(got->format, want->format);
	CHECK_U64(got->revision, want->revision);
	CHECK(digest_equal(&got->root_catalog, &want->root_catalog));
	CHECK_U64(got->root_catalog_size, want->root_catalog_size);
	CHECK_INT(got->created, want->created);
	CHECK_INT(got->ttl, want->ttl);
	CHECK_U64(got->revoked_count, want->revoked_count);
	if (got->revoked_count != want->revoked_count)
		return;
	for (size_t i = 0; i < want->revoked_count; i++)
		CHECK_STR(got->revoked[i], want->revoked[i]);
}

static void test_roundtrip_plain(void)
{
	struct repo_manifest m, got;
	repo_key_t *pub = NULL;
	char *text = NULL, *pub_path;
	char *dir = unit_tmpdir();
	size_t len = 0;
	static const char want_head[] =
	    "aidata-manifest 2\nrevision 42\nroot-catalog " SAMPLE_HEX
	    "\nroot-catalog-size 803\ncreated 2023-11-14T22:13:20Z\nttl "
	    "300\nsignature ";

	sample_manifest(&m);
	CHECK_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	REQUIRE(text != NULL);
	/* the exact bytes: header lines, then a 64-byte base64 signature */
	CHECK_U64(len, sizeof(want_head) - 1 + 88 + 1);
	CHECK_U64(strlen(text), len);
	CHECK(len > sizeof(want_head) &&
	      memcmp(text, want_head, sizeof(want_head) - 1) == 0);
	CHECK(text[len - 1] == '\n');
	CHECK(len >= 3 && text[len - 2] == '=' && text[len - 3] == '=');

	/* with the key itself and with its public half from a PEM file */
	CHECK_RC(repo_manifest_decode(text, len, key_a, &got), 0);
	check_manifest_equal(&got, &m);
	CHECK(got.revoked == NULL);
	repo_manifest_release(&got);
	CHECK(manifest_is_empty(&got));

	pub_path = unit_path(dir, "pub.pem");
	REQUIRE_RC(repo_key_write_public(key_a, pub_path), 0);
	REQUIRE_RC(repo_key_load_public(pub_path, &pub), 0);
	CHECK_RC(decode_bytes(text, len, pub, &got), 0);
	check_manifest_equal(&got, &m);
	repo_manifest_release(&got);

	/* the wrong key */
	CHECK_RC(decode_bytes(text, len, key_b, &got), -EBADMSG);
	CHECK(manifest_is_empty(&got));

	/* deterministic: same input, same bytes */
	{
		char *again;
		size_t again_len;

		CHECK_RC(repo_manifest_encode(&m, key_a, &again, &again_len),
			 0);
		CHECK(again_len == len && memcmp(again, text, len) == 0);
		free(again);
	}
	repo_key_free(pub);
	free(pub_path);
	free(text);
	unit_rmtree(dir);
}

static void test_roundtrip_revoked(void)
{
	static char j1[] = "jti-1", j2[] = "A.b_c-9";
	char long_jti[129];
	char *revoked[] = {j1, j2, long_jti, j1};
	struct repo_manifest m, got;
	char *text = NULL;
	size_t len = 0;

	memset(long_jti, 'x', 128);
	long_jti[128] = '\0';
	sample_manifest(&m);
	m.revision = UINT64_MAX;
	m.ttl = UINT32_MAX;
	m.created = 0;
	m.revoked = revoked;
	m.revoked_count = 4;
	CHECK_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	REQUIRE(text != NULL);
	CHECK(strstr(text, "\nrevoked jti-1\nrevoked A.b_c-9\nrevoked xxx") !=
	      NULL);
	CHECK(strstr(text, "created 1970-01-01T00:00:00Z\n") != NULL);
	CHECK_RC(decode_bytes(text, len, key_a, &got), 0);
	check_manifest_equal(&got, &m);
	repo_manifest_release(&got);
	CHECK_RC(decode_bytes(text, len, key_b, &got), -EBADMSG);
	free(text);

	/* a date before 1970 */
	m.revoked_count = 1;
	m.created = -86400;
	CHECK_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	CHECK(strstr(text, "created 1969-12-31T00:00:00Z\n") != NULL);
	CHECK_RC(decode_bytes(text, len, key_a, &got), 0);
	check_manifest_equal(&got, &m);
	repo_manifest_release(&got);
	free(text);
}

static void test_encode_rejects(void)
{
	static char bad[][130] = {"", "a b", "a/b", "caf\xc3\xa9", "", "a\nb"};
	static char ok[] = "ok";
	struct repo_manifest m;
	repo_key_t *pub = NULL;
	char *dir = unit_tmpdir(), *path = unit_path(dir, "pub.pem");
	char *text = NULL;
	size_t len = 0;

	memset(bad[4], 'y', 129); /* one longer than the maximum */
	bad[4][129] = '\0';
	sample_manifest(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *one[] = {ok, bad[i]};

		m.revoked = one;
		m.revoked_count = 2;
		text = NULL;
		CHECK_RC(repo_manifest_encode(&m, key_a, &text, &len), -EINVAL);
		CHECK(text == NULL);
	}
	m.revoked = NULL;
	m.revoked_count = 0;

	/* only a private key signs */
	REQUIRE_RC(repo_key_write_public(key_a, path), 0);
	REQUIRE_RC(repo_key_load_public(path, &pub), 0);
	CHECK_RC(repo_manifest_encode(&m, pub, &text, &len), -EINVAL);
	CHECK(text == NULL);
	repo_key_free(pub);
	free(path);
	unit_rmtree(dir);
}

/* ------------------------------------------------------------ decoding */

static bool manifest_error(int rc)
{
	return rc == -EINVAL || rc == -EBADMSG || rc == -EPROTONOSUPPORT;
}

/* Every single-bit flip and every byte inverted: never accepted. */
static void test_every_flip_rejected(void)
{
	static char j1[] = "jti-1", j2[] = "jti-2";
	char *revoked[] = {j1, j2};
	struct repo_manifest m, got;
	char *text, *copy;
	size_t len;

	sample_manifest(&m);
	m.revoked = revoked;
	m.revoked_count = 2;
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	copy = malloc(len);
	REQUIRE(copy);
	for (size_t i = 0; i < len; i++) {
		static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
						0x20, 0x40, 0x80, 0xff};

		for (size_t b = 0; b < sizeof(masks); b++) {
			int rc;

			memcpy(copy, text, len);
			copy[i] = (char)(copy[i] ^ masks[b]);
			rc = repo_manifest_decode(copy, len, key_a, &got);
			if (rc == 0 || !manifest_error(rc))
				UNIT_FAIL("byte %zu ('%c' -> 0x%02x) flipped: "
					  "decode returned %d",
					  i, text[i], (uint8_t)copy[i], rc);
			if (rc == 0)
				repo_manifest_release(&got);
			else if (!manifest_is_empty(&got))
				UNIT_FAIL("byte %zu flipped: manifest not "
					  "empty after error",
					  i);
		}
	}
	free(copy);
	free(text);
}

struct decode_call {
	const char *data;
	size_t len;
	struct repo_manifest *m;
	int rc;
};

static void decode_thunk(void *p)
{
	struct decode_call *c = p;

	c->rc = repo_manifest_decode(c->data, c->len, key_a, c->m);
}

static void test_every_truncation_rejected(void)
{
	static char j1[] = "jti-1";
	char *revoked[] = {j1};
	struct repo_manifest m, got;
	char *text;
	size_t len;

	sample_manifest(&m);
	m.revoked = revoked;
	m.revoked_count = 1;
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	for (size_t n = 0; n < len; n++) {
		int rc = decode_bytes(text, n, key_a, &got);

		if (rc != -EINVAL)
			UNIT_FAIL("truncated to %zu of %zu bytes: decode "
				  "returned %d, expected -EINVAL",
				  n, len, rc);
		if (rc == 0)
			repo_manifest_release(&got);
	}
	/* the same through a guard page: no read past len */
	for (size_t n = 0; n <= len; n++) {
		struct decode_call call = {unit_guarded(text, n), n, &got, 1};

		if (unit_guarded_call(decode_thunk, &call))
			UNIT_FAIL("truncated to %zu of %zu bytes: decode read "
				  "past the end",
				  n, len);
		else
			CHECK(n == len ? call.rc == 0 : call.rc == -EINVAL);
		repo_manifest_release(&got);
	}
	free(text);
}

/* The root-catalog line of a format-2 body: the digest, then the size. */
#define ROOT_V2 SAMPLE_HEX "\nroot-catalog-size 803"

static void test_format_version(void)
{
	struct repo_manifest m, got;
	char *text;
	size_t len;

	/* format 2 is written and read back with the root catalog's size */
	sample_manifest(&m);
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	CHECK(strncmp(text, "aidata-manifest 2\n", 18) == 0);
	CHECK(strstr(text, "\nroot-catalog-size 803\ncreated ") != NULL);
	CHECK_RC(decode_bytes(text, len, key_a, &got), 0);
	CHECK_INT(got.format, 2);
	CHECK_U64(got.root_catalog_size, 803);
	repo_manifest_release(&got);
	free(text);
	/* format 2 needs the size */
	m.root_catalog_size = 0;
	CHECK_RC(repo_manifest_encode(&m, key_a, &text, &len), -EINVAL);

	/* format 1 (existing repositories) still reads: no size, 0 */
	m.format = 1;
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	CHECK(strncmp(text, "aidata-manifest 1\n", 18) == 0);
	CHECK(strstr(text, "root-catalog-size") == NULL);
	CHECK_RC(decode_bytes(text, len, key_a, &got), 0);
	CHECK_INT(got.format, 1);
	CHECK_U64(got.root_catalog_size, 0);
	repo_manifest_release(&got);
	free(text);

	/* a correctly signed manifest of a future format */
	sample_manifest(&m);
	m.format = 3;
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);
	CHECK(strncmp(text, "aidata-manifest 3\n", 18) == 0);
	CHECK_RC(decode_bytes(text, len, key_a, &got), -EPROTONOSUPPORT);
	CHECK(manifest_is_empty(&got));
	free(text);

	CHECK_BODY(body_with("aidata-manifest 2", 0, ROOT_V2, 0, 0, 0), 0);
	CHECK_BODY(body_with("aidata-manifest 3", 0, ROOT_V2, 0, 0, 0),
		   -EPROTONOSUPPORT);
	CHECK_BODY(body_with("aidata-manifest 0", 0, 0, 0, 0, 0),
		   -EPROTONOSUPPORT);
	/* the size line belongs to format 2, and format 2 needs it */
	CHECK_BODY(body_with("aidata-manifest 1", 0, ROOT_V2, 0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0,
			     SAMPLE_HEX "\nroot-catalog-size 0", 0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0,
			     SAMPLE_HEX "\nroot-catalog-size 0803", 0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0,
			     SAMPLE_HEX "\nroot-catalog-size -1", 0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0,
			     SAMPLE_HEX
			     "\nroot-catalog-size 18446744073709551616",
			     0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 2", 0,
			     SAMPLE_HEX "\nroot-catalog-size  803", 0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 01", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest +1", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest  1", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest ", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifesto 1", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("AIDATA-MANIFEST 1", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with("aidata-manifest 1\r", 0, 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(
	    body_with("aidata-manifest 99999999999999999999", 0, 0, 0, 0, 0),
	    -EINVAL);
}

/* decode_reason's words for a signed body (key_a) checked with pub. */
static void check_reason(const char *body, const repo_key_t *pub, int want_rc,
			 const char *want_why)
{
	struct repo_manifest got;
	char why[REPO_MANIFEST_WHY_MAX];
	size_t len;
	char *text = signed_text(key_a, body, &len);

	memset(why, 'x', sizeof(why));
	CHECK_RC(
	    repo_manifest_decode_reason(text, len, pub, &got, why, sizeof(why)),
	    want_rc);
	CHECK_STR(why, want_why);
	repo_manifest_release(&got);
	free(text);
}

/* Each refusal says which (#8 §4): not a manifest, which format, which
 * line, or the signature. */
static void test_reasons(void)
{
	struct repo_manifest got;
	char why[REPO_MANIFEST_WHY_MAX], *body;
	static const char html[] =
	    "<!DOCTYPE html>\n<html><body>Service Unavailable</body></html>\n";

	body = body_with(0, 0, 0, 0, 0, 0);
	check_reason(body, key_a, 0, "");
	check_reason(body, key_b, -EBADMSG,
		     "signature does not verify with the pinned key");
	free(body);

	CHECK_RC(repo_manifest_decode_reason(html, sizeof(html) - 1, key_a,
					     &got, why, sizeof(why)),
		 -EINVAL);
	CHECK_STR(why, "not an aidata manifest (starts with '<!DOCTYPE "
		       "html>')");
	CHECK_RC(
	    repo_manifest_decode_reason("", 0, key_a, &got, why, sizeof(why)),
	    -EINVAL);
	CHECK_STR(why, "not an aidata manifest (empty)");
	CHECK_RC(repo_manifest_decode_reason("\x1f\x8b\x08\x00\x01\x02", 6,
					     key_a, &got, why, sizeof(why)),
		 -EINVAL);
	CHECK_STR(why, "not an aidata manifest (starts with "
		       "'\\x1f\\x8b\\x08...')");
	/* a long first line is cut */
	CHECK_RC(repo_manifest_decode_reason(
		     "0123456789012345678901234567890123456789\n", 41, key_a,
		     &got, why, sizeof(why)),
		 -EINVAL);
	CHECK_STR(why, "not an aidata manifest (starts with "
		       "'01234567890123456789012345678901...')");
	CHECK_RC(repo_manifest_decode_reason("a", (size_t)REPO_MANIFEST_MAX + 1,
					     key_a, &got, why, sizeof(why)),
		 -EINVAL);
	CHECK_STR(why, "not an aidata manifest (1048577 bytes, over the "
		       "1048576 allowed)");

	body = body_with("aidata-manifest 9", 0, 0, 0, 0, 0);
	check_reason(body, key_a, -EPROTONOSUPPORT,
		     "unsupported format version 9 (this version reads 1 to "
		     "2)");
	free(body);
	body = body_with("aidata-manifest x", 0, 0, 0, 0, 0);
	check_reason(body, key_a, -EINVAL, "malformed line 1");
	free(body);
	body = body_with(0, 0, "abc", 0, 0, 0);
	check_reason(body, key_a, -EINVAL, "malformed line 3");
	free(body);
	body = body_with("aidata-manifest 2", 0, 0, 0, 0, 0);
	check_reason(body, key_a, -EINVAL, "malformed line 4");
	free(body);
	body = body_with("aidata-manifest 2", 0, ROOT_V2, 0, "x", 0);
	check_reason(body, key_a, -EINVAL, "malformed line 6");
	free(body);
	body = body_with(0, 0, 0, 0, 0, "revoked a\nrevoked !\n");
	check_reason(body, key_a, -EINVAL, "malformed line 7");
	free(body);
	/* after the signature: the line that follows it */
	{
		size_t len;
		char *text, *more;

		body = body_with(0, 0, 0, 0, 0, 0);
		text = signed_text(key_a, body, &len);
		REQUIRE(asprintf(&more, "%sx\n", text) > 0);
		CHECK_RC(repo_manifest_decode_reason(more, len + 2, key_a, &got,
						     why, sizeof(why)),
			 -EINVAL);
		CHECK_STR(why, "malformed line 7");
		free(more);
		free(text);
		free(body);
	}
	/* why may be NULL, as repo_manifest_decode passes it */
	CHECK_RC(repo_manifest_decode_reason(html, sizeof(html) - 1, key_a,
					     &got, NULL, 0),
		 -EINVAL);
}

static void test_fields_rejected(void)
{
	char upper[DIGEST_HEX_LEN + 1];

	/* the baseline is accepted */
	CHECK_BODY(body_with(0, 0, 0, 0, 0, 0), 0);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a\nrevoked b\n"), 0);

	/* root-catalog: lowercase hex only, exactly 64 digits */
	memcpy(upper, SAMPLE_HEX, sizeof(upper));
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	CHECK_BODY(body_with(0, 0, upper, 0, 0, 0), -EINVAL);
	memcpy(upper, SAMPLE_HEX, sizeof(upper)); /* a single uppercase digit */
	upper[20] = 'A';
	CHECK_BODY(body_with(0, 0, upper, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, SAMPLE_HEX "0", 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, SAMPLE_HEX "00", 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, "0011", 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0,
			     "g0112233445566778899aabbccddeeff0011223344556677"
			     "8899aabbccddeeff",
			     0, 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with(0, 0,
			     " 0112233445566778899aabbccddeeff0011223344556677"
			     "8899aabbccddeeff",
			     0, 0, 0),
		   -EINVAL);

	/* revision: 1.. without leading zeros, signs or spaces */
	CHECK_BODY(body_with(0, "0", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "00", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "042", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "+42", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "-42", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, " 42", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "42 ", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "4 2", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "0x2a", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "18446744073709551615", 0, 0, 0, 0), 0);
	CHECK_BODY(body_with(0, "18446744073709551616", 0, 0, 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, "99999999999999999999999", 0, 0, 0, 0),
		   -EINVAL);

	/* ttl: a u32 */
	CHECK_BODY(body_with(0, 0, 0, 0, "0", 0), 0);
	CHECK_BODY(body_with(0, 0, 0, 0, "4294967295", 0), 0);
	CHECK_BODY(body_with(0, 0, 0, 0, "4294967296", 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, "0300", 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, "-1", 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, "", 0), -EINVAL);

	/* created: YYYY-MM-DDTHH:MM:SSZ */
	CHECK_BODY(body_with(0, 0, 0, "2023-11-14 22:13:20Z", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "2023-11-14T22:13:20", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "2023-11-14T22:13:20z", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "2023-11-14T22:13:20+00:00", 0, 0),
		   -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "2023-13-14T22:13:20Z", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "2023-11-14T25:13:20Z", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "1700000000", 0, 0), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, "", 0, 0), -EINVAL);

	/* field names, separators, order, duplicates */
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a\nttl 5\n"), -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision 42\nrevision 42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision 42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision 42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\naidata-manifest 1\n"
			  "revision 42\nroot-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nroot-catalog " SAMPLE_HEX "\n"
			  "revision 42\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision 42\n"
			  "root-catalog " SAMPLE_HEX "\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision  42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\nrevision\t42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(strdup("aidata-manifest 1\r\nrevision 42\r\n"
			  "root-catalog " SAMPLE_HEX "\r\n"
			  "created 2023-11-14T22:13:20Z\r\nttl 300\r\n"),
		   -EINVAL);
	CHECK_BODY(strdup("\naidata-manifest 1\nrevision 42\n"
			  "root-catalog " SAMPLE_HEX "\n"
			  "created 2023-11-14T22:13:20Z\nttl 300\n"),
		   -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "comment x\n"), -EINVAL);
}

static void test_revoked_rejected(void)
{
	char line[160];

	/* jti: 1..128 of [A-Za-z0-9._-] */
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a b\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a/b\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked caf\xc3\xa9\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a+b\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a\tb\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a\rb\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked \n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked  a\n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked a \n"), -EINVAL);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, "revoked ok\nrevoked a;b\n"),
		   -EINVAL);
	memcpy(line, "revoked ", 8);
	memset(line + 8, 'z', 128);
	memcpy(line + 136, "\n", 2);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, line), 0);
	memset(line + 8, 'z', 129);
	memcpy(line + 137, "\n", 2);
	CHECK_BODY(body_with(0, 0, 0, 0, 0, line), -EINVAL);
	/* a revoked line after the signature is trailing garbage */
	{
		struct repo_manifest got;
		char *body = body_with(0, 0, 0, 0, 0, 0), *text, *more;
		size_t len;

		text = signed_text(key_a, body, &len);
		REQUIRE(asprintf(&more, "%srevoked late\n", text) > 0);
		CHECK_RC(decode_bytes(more, strlen(more), key_a, &got),
			 -EINVAL);
		free(more);
		free(text);
		free(body);
	}
}

/* Replace the signature line of a valid manifest by sig_line. */
static int decode_with_signature_line(const char *sig_line)
{
	struct repo_manifest got;
	char *body = body_with(0, 0, 0, 0, 0, 0), *text;
	int rc;

	REQUIRE(asprintf(&text, "%s%s", body, sig_line) > 0);
	rc = decode_bytes(text, strlen(text), key_a, &got);
	if (rc == 0)
		repo_manifest_release(&got);
	else
		CHECK(manifest_is_empty(&got));
	free(text);
	free(body);
	return rc;
}

static void test_signature_rejected(void)
{
	char *body = body_with(0, 0, 0, 0, 0, 0), *sig64, *line;
	uint8_t sig[66], raw[70];
	size_t len;
	char *text = signed_text(key_a, body, &len);

	/* the valid line works through this helper */
	REQUIRE(asprintf(&line, "%s", strstr(text, "signature ")) > 0);
	CHECK_RC(decode_with_signature_line(line), 0);

	/* bad base64 characters: '!' and the URL-safe alphabet */
	line[20] = '!';
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	line[20] = '-';
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	line[20] = '_';
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	line[20] = ' ';
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);

	/* missing padding (86 characters), padding in the middle */
	REQUIRE_RC(repo_key_sign(key_a, body, strlen(body), sig), 0);
	sig64 = base64_encode(sig, 64);
	REQUIRE(strlen(sig64) == 88);
	sig64[86] = '\0';
	REQUIRE(asprintf(&line, "signature %s\n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	sig64[86] = '=';
	sig64[40] = '=';
	REQUIRE(asprintf(&line, "signature %s\n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	free(sig64);

	/* a signature of the wrong length: 63, 65 and 66 bytes */
	for (size_t n = 63; n <= 66; n++) {
		if (n == 64)
			continue;
		memset(raw, 0, sizeof(raw));
		memcpy(raw, sig, 64);
		sig64 = base64_encode(raw, n);
		REQUIRE(asprintf(&line, "signature %s\n", sig64) > 0);
		if (decode_with_signature_line(line) != -EINVAL)
			UNIT_FAIL("a %zu-byte signature was not rejected "
				  "with -EINVAL",
				  n);
		free(line);
		free(sig64);
	}

	/* all zeros: well-formed, does not verify */
	memset(raw, 0, sizeof(raw));
	sig64 = base64_encode(raw, 64);
	REQUIRE(asprintf(&line, "signature %s\n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EBADMSG);
	free(line);
	free(sig64);

	/* no signature line, an empty one, a misspelt one */
	CHECK_RC(decode_with_signature_line(""), -EINVAL);
	CHECK_RC(decode_with_signature_line("signature \n"), -EINVAL);
	CHECK_RC(decode_with_signature_line("signature\n"), -EINVAL);
	sig64 = base64_encode(sig, 64);
	REQUIRE(asprintf(&line, "Signature %s\n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	REQUIRE(asprintf(&line, "signature  %s\n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	REQUIRE(asprintf(&line, "signature %s \n", sig64) > 0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	/* a signature line twice */
	REQUIRE(asprintf(&line, "signature %s\nsignature %s\n", sig64, sig64) >
		0);
	CHECK_RC(decode_with_signature_line(line), -EINVAL);
	free(line);
	free(sig64);

	free(text);
	free(body);
}

/*
 * The base64 of a 64-byte signature ends in one significant character,
 * then "==": only the top two of that character's six bits carry data.
 * Another spelling of the same bytes must not verify, or the manifest
 * bytes are malleable without the key.
 */
static void test_signature_canonical_base64(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *body = body_with(0, 0, 0, 0, 0, 0), *line;
	size_t len;
	char *text = signed_text(key_a, body, &len);
	const char *sig = strstr(text, "signature ") + 10;
	int orig = (int)(strchr(alphabet, sig[85]) - alphabet);

	for (int v = 0; v < 64; v++) {
		int rc;

		if (v == orig || (v >> 4) != (orig >> 4))
			continue; /* only the spellings of the same bytes */
		REQUIRE(asprintf(&line, "signature %.85s%c==\n", sig,
				 alphabet[v]) > 0);
		rc = decode_with_signature_line(line);
		if (rc != -EINVAL)
			UNIT_FAIL("non-canonical base64 '%c' for '%c' before "
				  "\"==\": decode returned %d, expected "
				  "-EINVAL",
				  alphabet[v], sig[85], rc);
		free(line);
	}
	free(text);
	free(body);
}

/*
 * The timestamp has one spelling: the one the encoder writes. strptime
 * alone accepts space-padded numbers and impossible dates.
 */
static void test_created_canonical(void)
{
	static const char *const bad[] = {
	    "2023-11-14T22:13: 0Z", "2023-11-14T 2:13:20Z",
	    "2023-11- 4T22:13:20Z", " 999-11-14T22:13:20Z",
	    "2023-02-31T00:00:00Z", "2023-11-14T22:13:61Z",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct repo_manifest got;
		char *body = body_with(0, 0, 0, bad[i], 0, 0);
		int rc = decode_body(body, &got);

		if (rc != -EINVAL)
			UNIT_FAIL("created \"%s\": decode returned %d (created "
				  "%" PRId64 "), expected -EINVAL",
				  bad[i], rc, got.created);
		repo_manifest_release(&got);
		free(body);
	}
}

static void test_framing_rejected(void)
{
	struct repo_manifest m, got;
	char *text, *more;
	size_t len;

	sample_manifest(&m);
	REQUIRE_RC(repo_manifest_encode(&m, key_a, &text, &len), 0);

	/* missing the final newline */
	CHECK_RC(decode_bytes(text, len - 1, key_a, &got), -EINVAL);
	/* extra bytes after the signature line */
	more = malloc(len + 8);
	REQUIRE(more);
	memcpy(more, text, len);
	memcpy(more + len, "\n", 1);
	CHECK_RC(decode_bytes(more, len + 1, key_a, &got), -EINVAL);
	memcpy(more + len, "x", 1);
	CHECK_RC(decode_bytes(more, len + 1, key_a, &got), -EINVAL);
	memcpy(more + len, "\0", 1);
	CHECK_RC(decode_bytes(more, len + 1, key_a, &got), -EINVAL);
	memcpy(more + len, "x\n", 2);
	CHECK_RC(decode_bytes(more, len + 2, key_a, &got), -EINVAL);
	CHECK(manifest_is_empty(&got));
	/* a NUL in place of the last newline */
	memcpy(more, text, len);
	more[len - 1] = '\0';
	CHECK_RC(decode_bytes(more, len, key_a, &got), -EINVAL);
	/* a NUL inside a value */
	memcpy(more, text, len);
	more[strstr(text, "ttl 300") - text + 5] = '\0';
	CHECK_RC(decode_bytes(more, len, key_a, &got), -EINVAL);
	free(more);

	/* empty input */
	CHECK_RC(repo_manifest_decode("", 0, key_a, &got), -EINVAL);
	CHECK(manifest_is_empty(&got));
	CHECK_RC(repo_manifest_decode("\n", 1, key_a, &got), -EINVAL);
	free(text);
}

/* A correctly signed manifest of exactly total bytes, padded with revoked
 * lines; NULL if total is too small. */
static char *manifest_of_size(size_t total)
{
	const size_t sig_line = 10 + 88 + 1, line_max = 8 + 128 + 1;
	char *body = body_with(0, 0, 0, 0, 0, 0), *out;
	size_t head = strlen(body), need, cap;
	struct buf b;

	if (total < head + sig_line)
		return NULL;
	need = total - head - sig_line;
	cap = total + 1;
	buf_init(&b, cap);
	REQUIRE(buf_append(&b, body, head) == 0);
	for (unsigned long i = 0; need > 0; i++) {
		char jti[129];
		size_t n = need > line_max ? line_max : need;

		/* keep the last line at least "revoked x\n" long */
		if (need > line_max && need - line_max < 10)
			n = line_max - 10;
		if (n < 10) {
			buf_release(&b);
			free(body);
			return NULL;
		}
		memset(jti, 'a' + (char)(i % 26), n - 9);
		REQUIRE(buf_append(&b, "revoked ", 8) == 0);
		REQUIRE(buf_append(&b, jti, n - 9) == 0);
		REQUIRE(buf_append(&b, "\n", 1) == 0);
		need -= n;
	}
	REQUIRE(buf_put_u8(&b, 0) == 0);
	{
		size_t len;

		out = signed_text(key_a, (const char *)b.data, &len);
		REQUIRE(len == total);
	}
	buf_release(&b);
	free(body);
	return out;
}

static void test_size_limit(void)
{
	struct repo_manifest got;
	char *text;

	text = manifest_of_size(REPO_MANIFEST_MAX);
	REQUIRE(text);
	CHECK_RC(decode_bytes(text, REPO_MANIFEST_MAX, key_a, &got), 0);
	CHECK(got.revoked_count > 7000);
	repo_manifest_release(&got);
	free(text);

	text = manifest_of_size(REPO_MANIFEST_MAX + 1);
	REQUIRE(text);
	CHECK_RC(decode_bytes(text, REPO_MANIFEST_MAX + 1, key_a, &got),
		 -EINVAL);
	CHECK(manifest_is_empty(&got));
	free(text);

	/* a huge length is refused before anything is read */
	CHECK_RC(repo_manifest_decode("a", (size_t)REPO_MANIFEST_MAX * 4, key_a,
				      &got),
		 -EINVAL);
}

int main(void)
{
	REQUIRE_RC(repo_key_generate(&key_a), 0);
	REQUIRE_RC(repo_key_generate(&key_b), 0);

	RUN(test_key_generate_sign_verify);
	RUN(test_key_files);
	RUN(test_roundtrip_plain);
	RUN(test_roundtrip_revoked);
	RUN(test_encode_rejects);
	RUN(test_every_flip_rejected);
	RUN(test_every_truncation_rejected);
	RUN(test_format_version);
	RUN(test_reasons);
	RUN(test_fields_rejected);
	RUN(test_revoked_rejected);
	RUN(test_signature_rejected);
	RUN(test_signature_canonical_base64);
	RUN(test_created_canonical);
	RUN(test_framing_rejected);
	RUN(test_size_limit);

	repo_key_free(key_a);
	repo_key_free(key_b);
	return unit_result();
}

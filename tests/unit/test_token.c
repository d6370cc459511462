/*
 * Unit tests: credentials (auth/token.c) and base64url (common/digest.c).
 * Every token handed to the verifier is a heap copy of exactly its bytes
 * with no NUL after it, so ASan reports any read past the end.
 */
#define _GNU_SOURCE
#include "auth.h"
#include "digest.h"
#include "unit.h"
#include "xalloc.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "banned.h"

#define NOW0 1700000000 /* 2023-11-14T22:13:20Z */
#define HEADER "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"
/* base64url of HEADER: every token this issuer writes starts so */
#define HEADER64 "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9"
#define B64URL                                                                 \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
/* struct auth_claims holds char *; the tests fill it with literals */
#define MUT(s) ((char *)(s))

static repo_key_t *key_a, *key_b; /* private: the platform, an impostor */
static repo_key_t *pub_a;	  /* key_a's public half, loaded from PEM */
static char *pub_a_pem;		  /* the PEM text of pub_a */

static char *dup_bytes(const char *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	REQUIRE(c != NULL);
	memcpy(c, p, n);
	return c;
}

/* Verify the first n bytes of tok with pub_a at now. */
static int verify_n(const char *tok, size_t n, int64_t now,
		    struct auth_claims *c, enum auth_token_error *why)
{
	char *copy = dup_bytes(tok, n);
	int rc = auth_token_verify(pub_a, copy, n, now, c, why);

	free(copy);
	return rc;
}

static bool claims_empty(const struct auth_claims *c)
{
	static const struct auth_claims zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* The rc that goes with each verdict (auth.h). */
static int rc_of(enum auth_token_error e)
{
	switch (e) {
	case AUTH_TOKEN_OK:
		return 0;
	case AUTH_TOKEN_BAD_SIGNATURE:
		return -EBADMSG;
	case AUTH_TOKEN_EXPIRED:
		return -EKEYEXPIRED;
	case AUTH_TOKEN_NOT_YET_VALID:
		return -EKEYREJECTED;
	default:
		return -EINVAL;
	}
}

/* tok (NUL-terminated) verifies at now with verdict want. */
#define EXPECT(tok, now, want)                                                 \
	expect_at(__FILE__, __LINE__, #tok, (tok), (now), (want))

static void expect_at(const char *file, int line, const char *what,
		      const char *tok, int64_t now, enum auth_token_error want)
{
	struct auth_claims c;
	enum auth_token_error why = (enum auth_token_error) - 1;
	int rc = verify_n(tok, strlen(tok), now, &c, &why);

	if (why != want || rc != rc_of(want)) {
		dprintf(unit_fd(),
			"%s:%d: %s: verdict \"%s\" rc %d, expected "
			"\"%s\" rc %d\n",
			file, line, what, auth_token_error_text(why), rc,
			auth_token_error_text(want), rc_of(want));
		unit_failures++;
	}
	if (rc && !claims_empty(&c)) {
		dprintf(unit_fd(), "%s:%d: %s: claims not empty on error\n",
			file, line, what);
		unit_failures++;
	}
	auth_claims_release(&c);
}

/* "<b64url(header)>.<b64url(payload)>" as a new string. */
static char *signing_input(const char *header, const char *payload)
{
	char *h = base64url_encode((const uint8_t *)header, strlen(header));
	char *p = base64url_encode((const uint8_t *)payload, strlen(payload));
	char *s = xasprintf("%s.%s", h, p);

	free(h);
	free(p);
	return s;
}

/* input + "." + b64url(Ed25519 signature of input by key). */
static char *sign_input(const repo_key_t *key, const char *input)
{
	uint8_t sig[64];
	char *s64, *tok;

	REQUIRE_RC(repo_key_sign(key, input, strlen(input), sig), 0);
	s64 = base64url_encode(sig, sizeof(sig));
	tok = xasprintf("%s.%s", input, s64);
	free(s64);
	return tok;
}

/* A compact JWS of exactly these header and payload texts by key. */
static char *jws(const repo_key_t *key, const char *header, const char *payload)
{
	char *in = signing_input(header, payload);
	char *tok = sign_input(key, in);

	free(in);
	return tok;
}

/*
 * A claims object with the given raw JSON values; NULL leaves a claim
 * out, extra (raw, starting with ',') is appended.
 */
static char *payload_of(const char *sub, const char *org, const char *jti,
			const char *iat, const char *exp, const char *scope,
			const char *datasets, const char *extra)
{
	const char *names[] = {"sub", "org",   "jti",	  "iat",
			       "exp", "scope", "datasets"};
	const char *vals[] = {sub, org, jti, iat, exp, scope, datasets};
	char *s = xstrdup("{"), *t;
	const char *sep = "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!vals[i])
			continue;
		t = xasprintf("%s%s\"%s\":%s", s, sep, names[i], vals[i]);
		free(s);
		s = t;
		sep = ",";
	}
	t = xasprintf("%s%s}", s, extra ? extra : "");
	free(s);
	return t;
}

/* The well-formed payload with defaults for every claim. */
#define P_SUB "\"alice\""
#define P_ORG "\"acme\""
#define P_JTI "\"cred-0001\""
#define P_IAT "1700000000"
#define P_EXP "1700003600"
#define P_SCOPE "[\"shared\"]"
#define P_DS "[\"med-images\"]"

static char *good_payload(const char *extra)
{
	return payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS,
			  extra);
}

static void sample_claims(struct auth_claims *c)
{
	static char *datasets[] = {MUT("med-images"), MUT("legal-text")};

	memset(c, 0, sizeof(*c));
	c->sub = MUT("alice@example.org");
	c->org = MUT("acme");
	c->jti = MUT("cred-0001");
	c->iat = NOW0;
	c->exp = NOW0 + 3600;
	c->scope = AUTH_SCOPE_SHARED | AUTH_SCOPE_SECURE;
	c->datasets = datasets;
	c->ndatasets = 2;
	c->node = MUT("0123456789abcdef");
}

static char *issue(const struct auth_claims *c)
{
	char *tok = NULL;

	REQUIRE_RC(auth_token_issue(key_a, c, &tok), 0);
	REQUIRE(tok != NULL);
	return tok;
}

static void check_claims_equal(const struct auth_claims *got,
			       const struct auth_claims *want)
{
	CHECK_STR(got->sub, want->sub);
	CHECK_STR(got->org, want->org);
	CHECK_STR(got->jti, want->jti);
	CHECK_INT(got->iat, want->iat);
	CHECK_INT(got->nbf, want->nbf);
	CHECK_INT(got->exp, want->exp);
	CHECK_INT(got->scope, want->scope);
	CHECK_INT(got->ndatasets, want->ndatasets);
	for (size_t i = 0; i < got->ndatasets && i < want->ndatasets; i++)
		CHECK_STR(got->datasets[i], want->datasets[i]);
	if (want->node)
		CHECK_STR(got->node, want->node);
	else
		CHECK(got->node == NULL);
}

/* ---------------------------------------------------------- base64url -- */

static long decode_str(const char *s, uint8_t *out, size_t out_max)
{
	size_t n = strlen(s);
	char *copy = dup_bytes(s, n);
	long rc = base64url_decode(copy, n, out, out_max);

	free(copy);
	return rc;
}

static void test_base64url(void)
{
	static const struct {
		const char *raw, *enc;
	} vec[] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"\xfb\xff", "-_8"},
	    {"\xff\xff\xfe", "___-"},
	};
	static const char *const bad[] =
	    {
		"Zg==", "Zg=",	"Zm8=",	 "=",	  "Z",	    "Zm9vY",
		"+_8",	"-/8",	"Zm 9v", " Zm9v", "Zm9v\n", "Zm9v\t",
		"Zm.9", "Zm9*", "Zh", /* 'h' sets the unused low bits:
					 non-canonical */
		"Zm9",		      /* '9' likewise */
		"AB",	"AAB",
	    };
	uint64_t seed = 42;
	uint8_t raw[80], out[80];

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i].raw);
		char *e = base64url_encode((const uint8_t *)vec[i].raw, n);

		CHECK_STR(e, vec[i].enc);
		free(e);
		CHECK_INT(decode_str(vec[i].enc, out, sizeof(out)), (long)n);
		CHECK_MEM(out, vec[i].raw, n);
	}
	for (size_t n = 0; n <= 70; n++) {
		char *e;

		unit_rand_fill(&seed, raw, n);
		e = base64url_encode(raw, n);
		CHECK(strpbrk(e, "+/=") == NULL);
		CHECK_INT(strlen(e), (4 * n + 2) / 3);
		CHECK_INT(decode_str(e, out, sizeof(out)), (long)n);
		CHECK_MEM(out, raw, n);
		/* one byte short of room */
		if (n)
			CHECK_INT(decode_str(e, out, n - 1), -EINVAL);
		free(e);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long rc = decode_str(bad[i], out, sizeof(out));

		if (rc != -EINVAL)
			UNIT_FAIL("base64url_decode(\"%s\") = %ld, expected "
				  "-EINVAL",
				  bad[i], rc);
	}
	/* a NUL inside the given length is a character like any other */
	CHECK_INT(base64url_decode("Zm\0v", 4, out, sizeof(out)), -EINVAL);
}

/* ------------------------------------------------------ issue, verify -- */

static void test_roundtrip(void)
{
	struct auth_claims in, got;
	enum auth_token_error why;
	char *tok, *padded;

	sample_claims(&in);
	tok = issue(&in);
	CHECK(!strncmp(tok, HEADER64 ".", strlen(HEADER64) + 1));
	CHECK(strspn(tok, B64URL ".") == strlen(tok));
	CHECK_RC(verify_n(tok, strlen(tok), NOW0, &got, &why), 0);
	CHECK_INT(why, AUTH_TOKEN_OK);
	check_claims_equal(&got, &in);
	auth_claims_release(&got);
	CHECK(claims_empty(&got));
	/* surrounding whitespace, as in a token file */
	padded = xasprintf(" \t\r\n%s\r\n", tok);
	CHECK_RC(verify_n(padded, strlen(padded), NOW0 + 3599, &got, &why), 0);
	check_claims_equal(&got, &in);
	auth_claims_release(&got);
	free(padded);
	/* why may be NULL */
	CHECK_RC(verify_n(tok, strlen(tok), NOW0, &got, NULL), 0);
	auth_claims_release(&got);
	free(tok);

	/* no node, no scope, no datasets: an open-only credential */
	in.node = NULL;
	in.scope = 0;
	in.ndatasets = 0;
	in.datasets = NULL;
	in.org = MUT("");
	tok = issue(&in);
	CHECK_RC(verify_n(tok, strlen(tok), NOW0, &got, &why), 0);
	check_claims_equal(&got, &in);
	auth_claims_release(&got);
	free(tok);

	/* the header may be any object that says EdDSA, in any order */
	padded = good_payload(NULL);
	tok = jws(key_a, "{\"typ\":\"JWT\",\"alg\":\"EdDSA\"}", padded);
	EXPECT(tok, NOW0, AUTH_TOKEN_OK);
	free(tok);
	tok =
	    jws(key_a, " { \"alg\" : \"EdDSA\" , \"kid\" : \"k1\" } ", padded);
	EXPECT(tok, NOW0, AUTH_TOKEN_OK);
	free(tok);
	free(padded);
}

static void test_issue_rejects(void)
{
	struct auth_claims c;
	char *tok = (char *)"sentinel";
	char long_jti[130];

	memset(long_jti, 'j', 129);
	long_jti[129] = '\0';
#define ISSUE_BAD(field, value)                                                \
	do {                                                                   \
		sample_claims(&c);                                             \
		c.field = (value);                                             \
		tok = (char *)"sentinel";                                      \
		CHECK_RC(auth_token_issue(key_a, &c, &tok), -EINVAL);          \
		CHECK(tok == NULL);                                            \
	} while (0)
	ISSUE_BAD(sub, NULL);
	ISSUE_BAD(sub, MUT(""));
	ISSUE_BAD(org, NULL);
	ISSUE_BAD(jti, NULL);
	ISSUE_BAD(jti, MUT(""));
	ISSUE_BAD(jti, MUT("a b"));
	ISSUE_BAD(jti, MUT("a/b"));
	ISSUE_BAD(jti, long_jti);
	ISSUE_BAD(exp, NOW0);
	ISSUE_BAD(exp, NOW0 - 1);
	ISSUE_BAD(scope, 1u << 5);
	ISSUE_BAD(node, MUT("0123456789ABCDEF"));
	ISSUE_BAD(node, MUT("0123456789abcde"));
	ISSUE_BAD(node, MUT("0123456789abcdef0"));
	ISSUE_BAD(node, MUT(""));
	ISSUE_BAD(sub, MUT("\xff\xfe not utf-8"));
	{
		char *empty[] = {MUT("ok"), MUT("")};

		ISSUE_BAD(datasets, empty);
	}
	/* claims too long for any verifier */
	{
		char *big = malloc(AUTH_TOKEN_MAX);

		REQUIRE(big != NULL);
		memset(big, 'x', AUTH_TOKEN_MAX - 1);
		big[AUTH_TOKEN_MAX - 1] = '\0';
		ISSUE_BAD(sub, big);
		free(big);
	}
#undef ISSUE_BAD
	/* a public key cannot sign */
	sample_claims(&c);
	tok = NULL;
	unit_quiet(true);
	CHECK(auth_token_issue(pub_a, &c, &tok) < 0);
	unit_quiet(false);
	CHECK(tok == NULL);
	/* 128 characters is the most a jti may have */
	long_jti[128] = '\0';
	sample_claims(&c);
	c.jti = long_jti;
	tok = issue(&c);
	EXPECT(tok, NOW0, AUTH_TOKEN_OK);
	free(tok);
}

/*
 * Change every character of every segment to every other base64url
 * character (and to some that are not): never accepted. Also every
 * deletion and every truncation.
 */
static void test_every_change(void)
{
	static const char extra[] = "=+/. \t\n*\0\x80";
	struct auth_claims in, got;
	enum auth_token_error why;
	char *tok, *m;
	size_t n, tried = 0;

	sample_claims(&in);
	tok = issue(&in);
	n = strlen(tok);
	m = dup_bytes(tok, n);
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '.')
			continue;
		for (size_t k = 0; k < 64 + sizeof(extra) - 1; k++) {
			char ch = k < 64 ? B64URL[k] : extra[k - 64];
			int rc;

			if (ch == tok[i])
				continue;
			m[i] = ch;
			why = AUTH_TOKEN_OK;
			rc = auth_token_verify(pub_a, m, n, NOW0, &got, &why);
			tried++;
			if (rc == 0 || why == AUTH_TOKEN_OK) {
				UNIT_FAIL("position %zu changed to 0x%02x "
					  "accepted",
					  i, (unsigned char)ch);
				auth_claims_release(&got);
			} else if (!claims_empty(&got)) {
				UNIT_FAIL("claims not empty on error");
			}
		}
		m[i] = tok[i];
	}
	CHECK(tried > 60 * (n - 2));
	free(m);

	for (size_t i = 0; i < n; i++) {
		/* delete character i */
		char *d = xmalloc(n);

		memcpy(d, tok, i);
		memcpy(d + i, tok + i + 1, n - i - 1);
		if (auth_token_verify(pub_a, d, n - 1, NOW0, &got, &why) == 0) {
			UNIT_FAIL("deleting position %zu accepted", i);
			auth_claims_release(&got);
		}
		free(d);
		/* the first i bytes only */
		if (verify_n(tok, i, NOW0, &got, &why) == 0) {
			UNIT_FAIL("prefix of %zu bytes accepted", i);
			auth_claims_release(&got);
		}
	}
	free(tok);
}

static void test_other_key(void)
{
	struct auth_claims in;
	char *tok, *p = good_payload(NULL);

	tok = jws(key_b, HEADER, p);
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(tok);
	/* an impostor naming its own key in the header gains nothing */
	tok = jws(key_b, "{\"alg\":\"EdDSA\",\"kid\":\"impostor\",\"jwk\":{}}",
		  p);
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(tok);
	/* the platform's own token, checked with another public key */
	sample_claims(&in);
	tok = issue(&in);
	{
		struct auth_claims got;
		enum auth_token_error why;
		char *copy = dup_bytes(tok, strlen(tok));

		CHECK_RC(auth_token_verify(key_b, copy, strlen(tok), NOW0, &got,
					   &why),
			 -EBADMSG);
		CHECK_INT(why, AUTH_TOKEN_BAD_SIGNATURE);
		CHECK(claims_empty(&got));
		free(copy);
	}
	free(tok);
	free(p);
}

/* input + "." + b64url(HMAC-SHA256(secret, input)). */
static char *hmac_token(const char *input, const void *secret, size_t n)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *m64, *tok;

	REQUIRE(HMAC(EVP_sha256(), secret, (int)n, (const uint8_t *)input,
		     strlen(input), mac, &mac_len) != NULL);
	REQUIRE(mac_len == 32);
	m64 = base64url_encode(mac, mac_len);
	tok = xasprintf("%s.%s", input, m64);
	free(m64);
	return tok;
}

static void test_alg(void)
{
	static const char *const bad_alg[] = {
	    "{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"none\"}",
	    "{\"alg\":\"None\"}",
	    "{\"alg\":\"NONE\"}",
	    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"RS256\"}",
	    "{\"alg\":\"ES256\"}",
	    "{\"alg\":\"Ed25519\"}",
	    "{\"alg\":\"eddsa\"}",
	    "{\"alg\":\"EdDSA \"}",
	    "{\"alg\":\"\"}",
	    "{\"alg\":null}",
	    "{\"alg\":1}",
	    "{\"alg\":[\"EdDSA\"]}",
	    "{\"alg\":{\"EdDSA\":true}}",
	    "{\"typ\":\"JWT\"}",
	    "{}",
	};
	static const char *const bad_header[] = {
	    "{\"alg\":\"EdDSA\",\"typ\":\"JWS\"}",
	    "{\"alg\":\"EdDSA\",\"typ\":\"jwt\"}",
	    "{\"alg\":\"EdDSA\",\"typ\":1}",
	    "{\"alg\":\"EdDSA\",\"typ\":null}",
	    "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}",
	    "{\"alg\":\"EdDSA\",\"crit\":[]}",
	};
	char *p = good_payload(NULL), *in, *tok, *fake, *good;
	uint8_t raw[32];

	/* a real signature to paste onto forgeries */
	good = jws(key_a, HEADER, p);
	fake = strrchr(good, '.') + 1;
	for (size_t i = 0; i < sizeof(bad_alg) / sizeof(bad_alg[0]); i++) {
		in = signing_input(bad_alg[i], p);
		/* "alg":"none" style: no signature at all */
		tok = xasprintf("%s.", in);
		EXPECT(tok, NOW0, AUTH_TOKEN_BAD_ALG);
		free(tok);
		/* a pasted 64-byte signature */
		tok = xasprintf("%s.%s", in, fake);
		EXPECT(tok, NOW0, AUTH_TOKEN_BAD_ALG);
		free(tok);
		/* even correctly signed: the algorithm is not negotiable */
		tok = sign_input(key_a, in);
		EXPECT(tok, NOW0, AUTH_TOKEN_BAD_ALG);
		free(tok);
		free(in);
	}
	for (size_t i = 0; i < sizeof(bad_header) / sizeof(bad_header[0]);
	     i++) {
		tok = jws(key_a, bad_header[i], p);
		EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
		free(tok);
	}

	/*
	 * The key confusion attack: HS256 with the public key (which anyone
	 * has) as the HMAC secret, raw or as the PEM text.
	 */
	REQUIRE_RC(repo_key_public_raw(pub_a, raw), 0);
	in = signing_input("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p);
	tok = hmac_token(in, raw, sizeof(raw));
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_ALG);
	free(tok);
	tok = hmac_token(in, pub_a_pem, strlen(pub_a_pem));
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_ALG);
	free(tok);
	free(in);
	/* an HMAC under an EdDSA header: 32 bytes, not a signature */
	in = signing_input(HEADER, p);
	tok = hmac_token(in, raw, sizeof(raw));
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(tok);
	free(in);

	free(good);
	free(p);
}

static void test_form(void)
{
	char *p = good_payload(NULL), *good = jws(key_a, HEADER, p);
	char *h64 = xstrndup(good, strchr(good, '.') - good);
	char *in = xstrndup(good, strrchr(good, '.') - good);
	const char *s64 = strrchr(good, '.') + 1;
	char *p64 = xstrdup(strchr(good, '.') + 1), *tok, *big;

	*strchr(p64, '.') = '\0';
	EXPECT(good, NOW0, AUTH_TOKEN_OK);

	/* the signature segment missing or empty */
	tok = xasprintf("%s.", in);
	EXPECT(tok, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(tok);
	/* a signature one byte short or longer, the 64 bytes intact */
	{
		uint8_t sig[67];
		char *s;

		REQUIRE(base64url_decode(s64, strlen(s64), sig, sizeof(sig)) ==
			64);
		memset(sig + 64, 0, 3);
		for (size_t n = 63; n <= 67; n++) {
			if (n == 64)
				continue;
			s = base64url_encode(sig, n);
			tok = xasprintf("%s.%s", in, s);
			EXPECT(tok, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
			free(tok);
			free(s);
		}
	}
	/* one or two segments */
	EXPECT(in, NOW0, AUTH_TOKEN_MALFORMED);
	EXPECT(h64, NOW0, AUTH_TOKEN_MALFORMED);
	/* four segments, however the fourth looks */
	tok = xasprintf("%s.%s", good, s64);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	tok = xasprintf("%s.", good);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	tok = xasprintf("%s..%s", in, s64);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	/* empty header or payload */
	tok = xasprintf(".%s.%s", p64, s64);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	tok = xasprintf("%s..%s", h64, s64);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	EXPECT("", NOW0, AUTH_TOKEN_MALFORMED);
	EXPECT("..", NOW0, AUTH_TOKEN_MALFORMED);
	EXPECT("   \n", NOW0, AUTH_TOKEN_MALFORMED);
	EXPECT("not a token", NOW0, AUTH_TOKEN_MALFORMED);

	/* padding, where base64 would have it (signature: 64 bytes) */
	tok = xasprintf("%s==", good);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	/* a padded header, correctly signed over the padded text */
	{
		const char *hdr = "{\"alg\":\"EdDSA\", \"typ\":\"JWT\"}";
		char *hb = base64_encode((const uint8_t *)hdr, strlen(hdr));
		char *input = xasprintf("%s.%s", hb, p64);

		REQUIRE(strchr(hb, '=') != NULL);
		tok = sign_input(key_a, input);
		EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
		free(tok);
		free(input);
		free(hb);
	}
	/* the standard alphabet, correctly signed */
	{
		char *pl = good_payload(",\"x\":\">>>>>>??????\"");
		char *input = signing_input(HEADER, pl);

		REQUIRE(strchr(input, '-') && strchr(input, '_'));
		for (char *c = input; *c; c++)
			*c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
		tok = sign_input(key_a, input);
		EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
		free(tok);
		free(input);
		free(pl);
	}
	/* whitespace or other characters inside, correctly signed */
	for (const char *c = " \t\n*%~!\x7f\x80"; *c; c++) {
		char *input = xasprintf("%s.%.8s%c%s", h64, p64, *c, p64 + 8);

		tok = sign_input(key_a, input);
		EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
		free(tok);
		free(input);
	}
	/* a NUL inside the given length */
	{
		struct auth_claims c;
		enum auth_token_error why;
		size_t n = strlen(good);
		char *z = xmalloc(n + 1);

		memcpy(z, good, n);
		z[n] = '\0';
		CHECK_RC(verify_n(z, n + 1, NOW0, &c, &why), -EINVAL);
		CHECK_INT(why, AUTH_TOKEN_MALFORMED);
		z[10] = '\0';
		CHECK_RC(verify_n(z, n, NOW0, &c, &why), -EINVAL);
		CHECK_INT(why, AUTH_TOKEN_MALFORMED);
		free(z);
	}

	/* the size cap counts every byte given, whitespace too */
	{
		struct auth_claims c;
		enum auth_token_error why;
		size_t n = strlen(good);

		big = xmalloc(AUTH_TOKEN_MAX + 2);
		memcpy(big, good, n);
		memset(big + n, ' ', AUTH_TOKEN_MAX + 1 - n);
		CHECK_RC(verify_n(big, AUTH_TOKEN_MAX, NOW0, &c, &why), 0);
		auth_claims_release(&c);
		CHECK_RC(verify_n(big, AUTH_TOKEN_MAX + 1, NOW0, &c, &why),
			 -EINVAL);
		CHECK_INT(why, AUTH_TOKEN_MALFORMED);
		free(big);
	}
	/*
	 * Correctly signed tokens just under and just over the cap (a claim
	 * grows until the token passes it; each step adds one or two bytes).
	 */
	{
		size_t pad = AUTH_TOKEN_MAX - strlen(good) + 1, have;
		char *filler = xmalloc(pad + 1), *prev = NULL;

		memset(filler, 'a', pad);
		for (have = pad * 3 / 4 - 20; have < pad; have++) {
			char *x, *pl;

			filler[have] = '\0';
			x = xasprintf(",\"x\":\"%s\"", filler);
			pl = good_payload(x);
			tok = jws(key_a, HEADER, pl);
			filler[have] = 'a';
			free(x);
			free(pl);
			if (strlen(tok) > AUTH_TOKEN_MAX)
				break;
			free(prev);
			prev = tok;
			tok = NULL;
		}
		REQUIRE(tok != NULL && prev != NULL);
		CHECK(strlen(tok) <= AUTH_TOKEN_MAX + 2);
		CHECK(strlen(prev) >= AUTH_TOKEN_MAX - 1);
		EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
		EXPECT(prev, NOW0, AUTH_TOKEN_OK);
		free(tok);
		free(prev);
		free(filler);
	}

	/* headers that are not a JSON object */
	{
		static const char *const not_obj[] = {
		    "",
		    "[]",
		    "\"EdDSA\"",
		    "1",
		    "null",
		    "true",
		    "not json",
		    "{",
		    "{\"alg\":\"EdDSA\"} x",
		    "{\"alg\":\"EdDSA\"}{}",
		    "{\"alg\":\"EdDSA\",}",
		};

		for (size_t i = 0; i < sizeof(not_obj) / sizeof(not_obj[0]);
		     i++) {
			tok = jws(key_a, not_obj[i], p);
			EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
			free(tok);
		}
	}
	/* duplicate keys in the header, either way round */
	tok = jws(key_a, "{\"alg\":\"EdDSA\",\"alg\":\"none\"}", p);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	tok = jws(key_a, "{\"alg\":\"none\",\"alg\":\"EdDSA\"}", p);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);
	tok = jws(key_a, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"typ\":\"JWT\"}",
		  p);
	EXPECT(tok, NOW0, AUTH_TOKEN_MALFORMED);
	free(tok);

	free(h64);
	free(p64);
	free(in);
	free(good);
	free(p);
}

/* A payload signed by the platform must verify with verdict want. */
#define EXPECT_PAYLOAD(payload, want)                                          \
	do {                                                                   \
		char *pl_ = (payload);                                         \
		char *t_ = jws(key_a, HEADER, pl_);                            \
		expect_at(__FILE__, __LINE__, #payload, t_, NOW0, (want));     \
		free(t_);                                                      \
		free(pl_);                                                     \
	} while (0)

static void test_claims(void)
{
	const enum auth_token_error BAD = AUTH_TOKEN_BAD_CLAIMS;
	const enum auth_token_error OK = AUTH_TOKEN_OK;
	char jti128[129], jti129[130], *x;

	EXPECT_PAYLOAD(good_payload(NULL), OK);
	/* each required claim missing */
	EXPECT_PAYLOAD(
	    payload_of(NULL, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, NULL, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, NULL, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, NULL, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, NULL, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, NULL, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, NULL, NULL),
	    BAD);
	/* sub, org */
	EXPECT_PAYLOAD(
	    payload_of("\"\"", P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of("1", P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of("null", P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, "[]", P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, "\"\"", P_JTI, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    OK);
	/* jti: the manifest's revoked-list charset, 1..128 */
	memset(jti128, 'a', 128);
	jti128[128] = '\0';
	memset(jti129, 'a', 129);
	jti129[129] = '\0';
	x = xasprintf("\"%s\"", jti128);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, x, P_IAT, P_EXP, P_SCOPE, P_DS, NULL), OK);
	free(x);
	x = xasprintf("\"%s\"", jti129);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, x, P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	free(x);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, "\"A.z_0-9\"", P_IAT, P_EXP,
				  P_SCOPE, P_DS, NULL),
		       OK);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, "\"\"", P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, "\"a b\"", P_IAT, P_EXP,
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, "\"a\\nb\"", P_IAT, P_EXP,
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, "\"a/b\"", P_IAT, P_EXP,
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, "42", P_IAT, P_EXP, P_SCOPE, P_DS, NULL),
	    BAD);
	/* iat, exp: integers, exp > iat */
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, "\"1700000000\"", P_EXP,
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, "1700000000.5", P_EXP,
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, "1700003600.0",
				  P_SCOPE, P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, "null", P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_IAT, P_SCOPE, P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, "1699999999",
				  P_SCOPE, P_DS, NULL),
		       BAD);
	/* beyond int64: not a claim this verifier can hold */
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT,
				  "99999999999999999999", P_SCOPE, P_DS, NULL),
		       AUTH_TOKEN_MALFORMED);
	/* scope */
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP,
				  "\"shared\"", P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP,
				  "[\"admin\"]", P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP,
				  "[\"shared\",\"open\"]", P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP,
				  "[\"Shared\"]", P_DS, NULL),
		       BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, "[1]", P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, "{}", P_DS, NULL),
	    BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, "[]", P_DS, NULL),
	    OK);
	/* datasets */
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE,
				  "\"med-images\"", NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE,
				  "{\"med-images\":true}", NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE,
				  "null", NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE,
				  "[\"a\",\"\"]", NULL),
		       BAD);
	EXPECT_PAYLOAD(payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE,
				  "[\"a\",7]", NULL),
		       BAD);
	EXPECT_PAYLOAD(
	    payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, P_SCOPE, "[]", NULL),
	    OK);
	/* node */
	EXPECT_PAYLOAD(good_payload(",\"node\":\"0123456789abcdef\""), OK);
	EXPECT_PAYLOAD(good_payload(",\"node\":\"0123456789ABCDEF\""), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":\"0123456789abcde\""), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":\"0123456789abcdef0\""), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":\"0123456789abcdeg\""), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":\"\""), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":null"), BAD);
	EXPECT_PAYLOAD(good_payload(",\"node\":1234567890123456"), BAD);
	/* unknown claims are ignored */
	EXPECT_PAYLOAD(good_payload(",\"aud\":\"x\",\"nbf\":5,\"foo\":"
				    "{\"bar\":[1,null]}"),
		       OK);
	/* the payload is not a JSON object, or repeats a key */
	EXPECT_PAYLOAD(xstrdup("[]"), AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(xstrdup("\"alice\""), AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(xstrdup("{"), AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(xstrdup(""), AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(good_payload(",\"sub\":\"mallory\""),
		       AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(good_payload(",\"exp\":9999999999"),
		       AUTH_TOKEN_MALFORMED);
	EXPECT_PAYLOAD(good_payload(" trailing"), AUTH_TOKEN_MALFORMED);
	/* a NUL escaped in a string */
	EXPECT_PAYLOAD(payload_of("\"al\\u0000ice\"", P_ORG, P_JTI, P_IAT,
				  P_EXP, P_SCOPE, P_DS, NULL),
		       AUTH_TOKEN_MALFORMED);
}

static void test_expiry_and_order(void)
{
	struct auth_claims in;
	char *tok, *forged, *pl;

	sample_claims(&in);
	tok = issue(&in);
	EXPECT(tok, NOW0 - 100000, AUTH_TOKEN_OK); /* before iat: no nbf */
	EXPECT(tok, in.exp - 1, AUTH_TOKEN_OK);
	EXPECT(tok, in.exp, AUTH_TOKEN_EXPIRED);
	EXPECT(tok, in.exp + 1, AUTH_TOKEN_EXPIRED);
	EXPECT(tok, INT64_MAX, AUTH_TOKEN_EXPIRED);
	EXPECT(tok, INT64_MIN, AUTH_TOKEN_OK);
	/* a forged expired token: the signature is what fails */
	pl = good_payload(NULL);
	forged = jws(key_b, HEADER, pl);
	EXPECT(forged, in.exp + 1, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	free(pl);
	/* a forged token with bad claims never reaches the claims */
	forged = jws(key_b, HEADER, "{\"sub\":1,\"sub\":2}");
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	forged = jws(key_b, HEADER, "{\"sub\":1}");
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	pl = payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, "[\"root\"]", P_DS,
			NULL);
	forged = jws(key_b, HEADER, pl);
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	free(pl);
	forged = jws(key_b, HEADER, "[]");
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	forged = jws(key_b, HEADER, "not json at all");
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_SIGNATURE);
	free(forged);
	/* bad alg wins over a bad signature */
	forged = jws(key_b, "{\"alg\":\"none\"}", "{}");
	EXPECT(forged, NOW0, AUTH_TOKEN_BAD_ALG);
	free(forged);
	/* bad claims win over expiry */
	pl = payload_of(P_SUB, P_ORG, P_JTI, P_IAT, P_EXP, "[\"root\"]", P_DS,
			NULL);
	forged = jws(key_a, HEADER, pl);
	EXPECT(forged, INT64_MAX, AUTH_TOKEN_BAD_CLAIMS);
	free(forged);
	free(pl);
	free(tok);
}

/* nbf (RFC 7519 section 4.1.5): refused until then, with the leeway */
static void test_not_before(void)
{
	struct auth_claims in, got;
	enum auth_token_error why;
	char *tok, *pl, *forged;
	char *bad;

	sample_claims(&in);
	in.nbf = NOW0 + 600;
	tok = issue(&in);
	CHECK_RC(verify_n(tok, strlen(tok), in.nbf, &got, &why), 0);
	check_claims_equal(&got, &in);
	auth_claims_release(&got);
	EXPECT(tok, NOW0, AUTH_TOKEN_NOT_YET_VALID);
	EXPECT(tok, in.nbf - AUTH_CLOCK_LEEWAY - 1, AUTH_TOKEN_NOT_YET_VALID);
	EXPECT(tok, in.nbf - AUTH_CLOCK_LEEWAY, AUTH_TOKEN_OK);
	EXPECT(tok, in.exp - 1, AUTH_TOKEN_OK);
	EXPECT(tok, in.exp, AUTH_TOKEN_EXPIRED); /* no leeway on exp */
	EXPECT(tok, INT64_MIN, AUTH_TOKEN_OK);	 /* AUTH_NOW_ANY */
	EXPECT(tok, INT64_MAX, AUTH_TOKEN_EXPIRED);
	CHECK(!auth_claims_valid_yet(&in, NOW0));
	CHECK(auth_claims_valid_yet(&in, in.nbf - AUTH_CLOCK_LEEWAY));
	CHECK(auth_claims_valid_yet(&in, AUTH_NOW_ANY));
	CHECK(auth_claims_valid_yet(&in, INT64_MAX));
	free(tok);

	/* the issuer refuses what the verifier would */
	in.nbf = in.exp;
	CHECK_RC(auth_token_issue(key_a, &in, &bad), -EINVAL);
	in.nbf = -5;
	CHECK_RC(auth_token_issue(key_a, &in, &bad), -EINVAL);

	/* malformed nbf claims, correctly signed */
	static const char *const bad_nbf[] = {
	    ",\"nbf\":\"1700000600\"",
	    ",\"nbf\":1700000600.5",
	    ",\"nbf\":0",
	    ",\"nbf\":-1",
	    ",\"nbf\":1700003600",
	    ",\"nbf\":null",
	    ",\"nbf\":true",
	};
	for (size_t i = 0; i < sizeof(bad_nbf) / sizeof(bad_nbf[0]); i++) {
		pl = good_payload(bad_nbf[i]);
		forged = jws(key_a, HEADER, pl);
		EXPECT(forged, NOW0 + 1000, AUTH_TOKEN_BAD_CLAIMS);
		free(forged);
		free(pl);
	}
	/* a well-formed one from another issuer's payload */
	pl = good_payload(",\"nbf\":1700000600");
	forged = jws(key_a, HEADER, pl);
	EXPECT(forged, 1700000600 - AUTH_CLOCK_LEEWAY - 1,
	       AUTH_TOKEN_NOT_YET_VALID);
	EXPECT(forged, 1700000600, AUTH_TOKEN_OK);
	free(forged);
	free(pl);
}

static void test_grants(void)
{
	struct auth_claims in, got, none;
	enum auth_token_error why;
	char *tok;

	sample_claims(&in);
	tok = issue(&in);
	REQUIRE_RC(verify_n(tok, strlen(tok), NOW0, &got, &why), 0);
	CHECK(auth_claims_grants(&got, "med-images"));
	CHECK(auth_claims_grants(&got, "legal-text"));
	CHECK(!auth_claims_grants(&got, "med-image"));
	CHECK(!auth_claims_grants(&got, "med-images "));
	CHECK(!auth_claims_grants(&got, "MED-IMAGES"));
	CHECK(!auth_claims_grants(&got, ""));
	CHECK(!auth_claims_grants(&got, NULL));
	CHECK(!auth_claims_grants(NULL, "med-images"));
	memset(&none, 0, sizeof(none));
	CHECK(!auth_claims_grants(&none, "med-images"));
	auth_claims_release(&got);
	CHECK(!auth_claims_grants(&got, "med-images"));
	free(tok);
}

static void test_claims_json(void)
{
	struct auth_claims in, got;
	enum auth_token_error why;
	json_error_t err;
	json_t *o, *v;
	char *tok, *text, *sig;
	size_t i;

	sample_claims(&in);
	tok = issue(&in);
	REQUIRE_RC(verify_n(tok, strlen(tok), NOW0, &got, &why), 0);
	text = auth_claims_json(&got);
	REQUIRE(text != NULL);
	/* no part of the token in it */
	sig = strrchr(tok, '.') + 1;
	CHECK(strstr(text, sig) == NULL);
	CHECK(strstr(text, HEADER64) == NULL);
	CHECK(strstr(text, "signature") == NULL);
	CHECK(strchr(text, '\n') == NULL);
	o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	REQUIRE(o != NULL && json_is_object(o));
	CHECK_INT(json_object_size(o), 8);
	CHECK_STR(json_string_value(json_object_get(o, "sub")), in.sub);
	CHECK_STR(json_string_value(json_object_get(o, "org")), in.org);
	CHECK_STR(json_string_value(json_object_get(o, "jti")), in.jti);
	CHECK_STR(json_string_value(json_object_get(o, "node")), in.node);
	CHECK_INT(json_integer_value(json_object_get(o, "iat")), in.iat);
	CHECK_INT(json_integer_value(json_object_get(o, "exp")), in.exp);
	v = json_object_get(o, "scope");
	CHECK_INT(json_array_size(v), 2);
	CHECK_STR(json_string_value(json_array_get(v, 0)), "shared");
	CHECK_STR(json_string_value(json_array_get(v, 1)), "secure");
	v = json_object_get(o, "datasets");
	CHECK_INT(json_array_size(v), 2);
	for (i = 0; i < 2; i++)
		CHECK_STR(json_string_value(json_array_get(v, i)),
			  in.datasets[i]);
	json_decref(o);
	free(text);
	auth_claims_release(&got);
	free(tok);

	/* without a node: no node key; no scope: [] */
	in.node = NULL;
	in.scope = 0;
	text = auth_claims_json(&in);
	REQUIRE(text != NULL);
	o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	REQUIRE(o != NULL);
	CHECK(json_object_get(o, "node") == NULL);
	CHECK(json_is_array(json_object_get(o, "scope")));
	CHECK_INT(json_array_size(json_object_get(o, "scope")), 0);
	json_decref(o);
	free(text);
}

static void test_error_text(void)
{
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_OK), "ok");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_MALFORMED), "malformed");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_BAD_ALG),
		  "algorithm not EdDSA");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_BAD_SIGNATURE),
		  "bad signature");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_BAD_CLAIMS), "bad claims");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_EXPIRED), "expired");
	CHECK_STR(auth_token_error_text(AUTH_TOKEN_NOT_YET_VALID),
		  "not yet valid");
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = xcalloc(1, 4096);
	size_t n;

	REQUIRE(f != NULL);
	n = fread(s, 1, 4095, f);
	fclose(f);
	REQUIRE(n > 0);
	return s;
}

int main(void)
{
	char *dir = unit_tmpdir(), *path = unit_path(dir, "platform.pub");

	REQUIRE_RC(repo_key_generate(&key_a), 0);
	REQUIRE_RC(repo_key_generate(&key_b), 0);
	REQUIRE_RC(repo_key_write_public(key_a, path), 0);
	REQUIRE_RC(repo_key_load_public(path, &pub_a), 0);
	pub_a_pem = read_text(path);
	free(path);
	unit_rmtree(dir);

	RUN(test_base64url);
	RUN(test_roundtrip);
	RUN(test_issue_rejects);
	RUN(test_every_change);
	RUN(test_other_key);
	RUN(test_alg);
	RUN(test_form);
	RUN(test_claims);
	RUN(test_expiry_and_order);
	RUN(test_not_before);
	RUN(test_grants);
	RUN(test_claims_json);
	RUN(test_error_text);

	repo_key_free(key_a);
	repo_key_free(key_b);
	repo_key_free(pub_a);
	free(pub_a_pem);
	return unit_result();
}

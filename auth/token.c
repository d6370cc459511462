/*
 * Credentials: compact JWS (RFC 7515) JSON Web Tokens (RFC 7519) signed
 * with the platform's Ed25519 key, "alg":"EdDSA" (RFC 8037).
 *
 * Verification follows RFC 8725 (JWT best current practice): the
 * algorithm is fixed, never taken from the token, and nothing in the
 * header (kid, jku, jwk, x5u...) can pick the key. The checks run in the
 * order form, alg, signature, claims, expiry, so the payload of a token
 * whose signature does not verify is never parsed.
 *
 * No token, and no part of one, is ever logged or copied into a message.
 */
#include "auth.h"
#include "digest.h"
#include "xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* The one header this issuer writes, byte for byte. */
#define TOKEN_HEADER "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"
#define TOKEN_SIG_LEN 64
/* Same limit and charset as the manifest's revoked list (FORMAT.md). */

static const char *const scope_names[] = {"shared", "secure"};
static const uint32_t scope_bits[] = {AUTH_SCOPE_SHARED, AUTH_SCOPE_SECURE};
#define NSCOPES (sizeof(scope_names) / sizeof(scope_names[0]))
#define SCOPE_ALL (AUTH_SCOPE_SHARED | AUTH_SCOPE_SECURE)

/* ------------------------------------------------------------ claims -- */

/* What auth_token_issue accepts is exactly what verify would accept. */
static bool claims_valid(const struct auth_claims *c)
{
	if (!c->sub || !*c->sub || !c->org || !c->jti ||
	    !repo_jti_valid(c->jti, strlen(c->jti)))
		return false;
	if (c->exp <= c->iat || (c->scope & ~(uint32_t)SCOPE_ALL))
		return false;
	if (c->nbf && (c->nbf < 0 || c->nbf >= c->exp))
		return false;
	if (c->ndatasets && !c->datasets)
		return false;
	for (size_t i = 0; i < c->ndatasets; i++)
		if (!c->datasets[i] || !*c->datasets[i])
			return false;
	return !c->node || auth_node_id_valid(c->node, strlen(c->node));
}

/* The claims as a JSON object; NULL only if jansson fails (memory). */
static json_t *claims_to_json(const struct auth_claims *c)
{
	json_t *o = json_object(), *scope = json_array(), *ds = json_array();
	bool ok = o && scope && ds;

	for (size_t i = 0; ok && i < NSCOPES; i++)
		if (c->scope & scope_bits[i])
			ok = !json_array_append_new(
			    scope, json_string(scope_names[i]));
	for (size_t i = 0; ok && i < c->ndatasets; i++)
		ok = !json_array_append_new(ds, json_string(c->datasets[i]));
	/* a json_string of invalid UTF-8 is NULL, and *_set_new fails */
	ok = ok && !json_object_set_new(o, "sub", json_string(c->sub));
	ok = ok && !json_object_set_new(o, "org", json_string(c->org));
	ok = ok && !json_object_set_new(o, "jti", json_string(c->jti));
	ok = ok && !json_object_set_new(o, "iat", json_integer(c->iat));
	if (ok && c->nbf)
		ok = !json_object_set_new(o, "nbf", json_integer(c->nbf));
	ok = ok && !json_object_set_new(o, "exp", json_integer(c->exp));
	ok = ok && !json_object_set(o, "scope", scope);
	ok = ok && !json_object_set(o, "datasets", ds);
	if (ok && c->node)
		ok = !json_object_set_new(o, "node", json_string(c->node));
	json_decref(scope);
	json_decref(ds);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A required non-empty (or possibly empty) string claim, copied. */
static bool take_string(json_t *o, const char *name, bool nonempty, char **out)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		return false;
	if (nonempty && json_string_length(v) == 0)
		return false;
	/* jansson refuses \u0000 unless asked, so the copy is the string */
	*out = xstrdup(json_string_value(v));
	return true;
}

static bool take_int(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);

	/* 1.5 or "1" is not a NumericDate this issuer writes */
	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* Fill c from a verified payload; false if any claim is missing or
 * mistyped. Unknown claims are ignored (RFC 7519 section 4). */
static bool claims_from_json(json_t *o, struct auth_claims *c)
{
	json_t *scope, *ds, *v, *node;
	size_t i;

	if (!take_string(o, "sub", true, &c->sub) ||
	    !take_string(o, "org", false, &c->org) ||
	    !take_string(o, "jti", true, &c->jti) ||
	    !repo_jti_valid(c->jti, strlen(c->jti)) ||
	    !take_int(o, "iat", &c->iat) || !take_int(o, "exp", &c->exp) ||
	    c->exp <= c->iat)
		return false;
	/* optional (RFC 7519 section 4.1.5); 0 would mean "none" here */
	if (json_object_get(o, "nbf") &&
	    (!take_int(o, "nbf", &c->nbf) || c->nbf <= 0 || c->nbf >= c->exp))
		return false;

	scope = json_object_get(o, "scope");
	if (!json_is_array(scope))
		return false;
	json_array_foreach(scope, i, v)
	{
		size_t k;

		if (!json_is_string(v))
			return false;
		for (k = 0; k < NSCOPES; k++)
			if (!strcmp(json_string_value(v), scope_names[k]))
				break;
		if (k == NSCOPES)
			return false;
		c->scope |= scope_bits[k];
	}

	ds = json_object_get(o, "datasets");
	if (!json_is_array(ds))
		return false;
	c->datasets = xcalloc(json_array_size(ds) + 1, sizeof(char *));
	json_array_foreach(ds, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0)
			return false;
		c->datasets[c->ndatasets++] = xstrdup(json_string_value(v));
	}

	node = json_object_get(o, "node");
	if (node) {
		if (!json_is_string(node) ||
		    !auth_node_id_valid(json_string_value(node),
					json_string_length(node)))
			return false;
		c->node = xstrdup(json_string_value(node));
	}
	return true;
}

void auth_claims_release(struct auth_claims *c)
{
	if (!c)
		return;
	free(c->sub);
	free(c->org);
	free(c->jti);
	for (size_t i = 0; i < c->ndatasets; i++)
		free(c->datasets[i]);
	free(c->datasets);
	free(c->node);
	memset(c, 0, sizeof(*c));
}

char *auth_claims_json(const struct auth_claims *c)
{
	json_t *o = claims_to_json(c);
	char *text;

	if (!o)
		return NULL;
	/* compact, one line: it can go into a JSON-lines record as is */
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

bool auth_claims_valid_yet(const struct auth_claims *c, int64_t now)
{
	return c->nbf == 0 || now == AUTH_NOW_ANY ||
	       now > INT64_MAX - AUTH_CLOCK_LEEWAY ||
	       c->nbf <= now + AUTH_CLOCK_LEEWAY;
}

bool auth_claims_grants(const struct auth_claims *c, const char *dataset)
{
	if (!c || !dataset)
		return false;
	for (size_t i = 0; i < c->ndatasets; i++)
		if (!strcmp(c->datasets[i], dataset))
			return true;
	return false;
}

/* ------------------------------------------------------------- issue -- */

int auth_token_issue(const repo_key_t *key, const struct auth_claims *c,
		     char **token)
{
	char *h64 = NULL, *p64 = NULL, *s64 = NULL, *payload = NULL;
	char *signing = NULL;
	uint8_t sig[TOKEN_SIG_LEN];
	json_t *o = NULL;
	int rc = -EINVAL;

	*token = NULL;
	if (!key || !c || !claims_valid(c))
		goto out;
	o = claims_to_json(c);
	if (!o)
		goto out; /* a string that is not UTF-8 */
	payload = json_dumps(o, JSON_COMPACT);
	if (!payload)
		goto out;
	h64 = base64url_encode((const uint8_t *)TOKEN_HEADER,
			       strlen(TOKEN_HEADER));
	p64 = base64url_encode((const uint8_t *)payload, strlen(payload));
	signing = xasprintf("%s.%s", h64, p64);
	rc = repo_key_sign(key, signing, strlen(signing), sig);
	if (rc)
		goto out;
	s64 = base64url_encode(sig, sizeof(sig));
	*token = xasprintf("%s.%s", signing, s64);
	/*
	 * Never hand out a token that every verifier would refuse, even
	 * when it is stored with a CRLF line end (the cap includes it).
	 */
	if (strlen(*token) > AUTH_TOKEN_MAX - 2) {
		free(*token);
		*token = NULL;
		rc = -EINVAL;
	}
out:
	json_decref(o);
	free(payload);
	free(h64);
	free(p64);
	free(s64);
	free(signing);
	return rc;
}

/* ------------------------------------------------------------ verify -- */

const char *auth_token_error_text(enum auth_token_error e)
{
	switch (e) {
	case AUTH_TOKEN_OK:
		return "ok";
	case AUTH_TOKEN_MALFORMED:
		return "malformed";
	case AUTH_TOKEN_BAD_ALG:
		return "algorithm not EdDSA";
	case AUTH_TOKEN_BAD_SIGNATURE:
		return "bad signature";
	case AUTH_TOKEN_BAD_CLAIMS:
		return "bad claims";
	case AUTH_TOKEN_EXPIRED:
		return "expired";
	case AUTH_TOKEN_NOT_YET_VALID:
		return "not yet valid";
	}
	return "unknown";
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Decode one base64url segment to a new buffer; NULL if malformed. */
static uint8_t *segment_decode(const char *s, size_t n, size_t *out_len)
{
	/* n <= AUTH_TOKEN_MAX, so this cannot overflow */
	size_t cap = n / 4 * 3 + 3;
	uint8_t *buf = xmalloc(cap);
	long got = base64url_decode(s, n, buf, cap);

	if (got < 0) {
		free(buf);
		return NULL;
	}
	*out_len = (size_t)got;
	return buf;
}

/* A JSON object from n bytes: no duplicate keys, nothing after it. */
static json_t *object_load(const uint8_t *p, size_t n)
{
	json_error_t err;
	json_t *o =
	    json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &err);

	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* The header's verdict: AUTH_TOKEN_OK, MALFORMED or BAD_ALG. */
static enum auth_token_error header_check(json_t *h)
{
	json_t *typ = json_object_get(h, "typ");
	json_t *alg = json_object_get(h, "alg");

	/*
	 * crit names extensions the verifier MUST understand (RFC 7515
	 * 4.1.11); this one understands none.
	 */
	if (json_object_get(h, "crit"))
		return AUTH_TOKEN_MALFORMED;
	if (typ && (!json_is_string(typ) ||
		    strcmp(json_string_value(typ), "JWT") != 0))
		return AUTH_TOKEN_MALFORMED;
	/* the key decides the algorithm, never the token (RFC 8725 2.1) */
	if (!json_is_string(alg) ||
	    strcmp(json_string_value(alg), "EdDSA") != 0)
		return AUTH_TOKEN_BAD_ALG;
	return AUTH_TOKEN_OK;
}

int auth_token_verify(const repo_key_t *pub, const char *token, size_t len,
		      int64_t now, struct auth_claims *out,
		      enum auth_token_error *why)
{
	enum auth_token_error e = AUTH_TOKEN_MALFORMED;
	const char *start = token, *end, *dot1, *dot2;
	uint8_t *header = NULL, *payload = NULL, *sig = NULL;
	size_t header_len = 0, payload_len = 0, sig_len = 0;
	json_t *h = NULL, *p = NULL;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	/* the cap comes first: nothing below looks at more than this */
	if (!pub || !token || len > AUTH_TOKEN_MAX)
		goto out;

	/* form: three base64url segments, the first two non-empty */
	end = token + len;
	while (start < end && is_space(*start))
		start++;
	while (end > start && is_space(end[-1]))
		end--;
	dot1 = memchr(start, '.', (size_t)(end - start));
	dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) ||
	    dot1 == start || dot2 == dot1 + 1)
		goto out;
	header = segment_decode(start, (size_t)(dot1 - start), &header_len);
	payload =
	    segment_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload_len);
	sig = segment_decode(dot2 + 1, (size_t)(end - dot2 - 1), &sig_len);
	if (!header || !payload || !sig)
		goto out;
	h = object_load(header, header_len);
	if (!h)
		goto out;

	/* alg (and the rest of the header) */
	e = header_check(h);
	if (e != AUTH_TOKEN_OK)
		goto out;

	/* signature, over the ASCII of "<header64>.<payload64>" */
	e = AUTH_TOKEN_BAD_SIGNATURE;
	rc = -EBADMSG;
	if (sig_len != TOKEN_SIG_LEN ||
	    repo_key_verify(pub, start, (size_t)(dot2 - start), sig) != 0)
		goto out;

	/* claims: only now is the payload worth parsing */
	e = AUTH_TOKEN_MALFORMED;
	rc = -EINVAL;
	p = object_load(payload, payload_len);
	if (!p)
		goto out;
	e = AUTH_TOKEN_BAD_CLAIMS;
	if (!claims_from_json(p, out))
		goto out;

	/* expiry, then not before */
	e = AUTH_TOKEN_EXPIRED;
	rc = -EKEYEXPIRED;
	if (now != AUTH_NOW_ANY && out->exp <= now)
		goto out;
	e = AUTH_TOKEN_NOT_YET_VALID;
	rc = -EKEYREJECTED;
	if (now != AUTH_NOW_ANY && !auth_claims_valid_yet(out, now))
		goto out;

	e = AUTH_TOKEN_OK;
	rc = 0;
out:
	if (rc)
		auth_claims_release(out);
	if (why)
		*why = e;
	json_decref(h);
	json_decref(p);
	free(header);
	free(payload);
	free(sig);
	return rc;
}

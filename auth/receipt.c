/*
 * Job data receipts, signed (auth.h): the signature covers the
 * canonical form of the receipt's body, jansson's compact encoding with
 * object keys sorted, so any JSON tool may re-indent the file and it
 * still verifies, while any change to a value does not.
 */
#define _GNU_SOURCE
#include "auth.h"
#include "digest.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define CANONICAL (JSON_SORT_KEYS | JSON_COMPACT)

int auth_key_id(const repo_key_t *key, char out[AUTH_KEY_ID_LEN + 1])
{
	uint8_t raw[32];
	struct digest d;
	int rc = repo_key_public_raw(key, raw);

	if (rc)
		return rc;
	sha256_buffer(raw, sizeof(raw), &d);
	hex_encode(d.b, AUTH_KEY_ID_LEN / 2, out);
	return 0;
}

int auth_receipt_seal(const repo_key_t *key, const char *body, char **out)
{
	json_error_t err;
	json_t *b = json_loads(body, JSON_REJECT_DUPLICATES, &err), *doc = NULL;
	json_t *sig = NULL;
	char *canon = NULL, *b64 = NULL, id[AUTH_KEY_ID_LEN + 1];
	uint8_t s[64];
	int rc = 0;

	if (!json_is_object(b)) {
		rc = -EINVAL;
		goto out;
	}
	if (key) {
		canon = json_dumps(b, CANONICAL);
		rc = canon ? repo_key_sign(key, canon, strlen(canon), s) : -EIO;
		if (!rc)
			rc = auth_key_id(key, id);
		if (rc)
			goto out;
		b64 = base64_encode(s, sizeof(s));
		sig = json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "key_id",
				id, "value", b64);
	} else {
		sig = json_null();
	}
	doc = json_pack("{s:O, s:o}", "receipt", b, "signature", sig);
	*out = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	rc = *out ? 0 : -EIO;
out:
	json_decref(doc);
	json_decref(b);
	free(canon);
	free(b64);
	return rc;
}

int auth_receipt_verify(const repo_key_t *pub, const char *text, size_t len,
			char **body)
{
	json_error_t err;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	json_t *b, *sig;
	const char *alg, *id, *value;
	char *canon = NULL, want[AUTH_KEY_ID_LEN + 1];
	uint8_t s[64];
	long n;
	int rc = -EINVAL;

	b = json_object_get(doc, "receipt");
	sig = json_object_get(doc, "signature");
	if (!json_is_object(doc) || json_object_size(doc) != 2 ||
	    !json_is_object(b) || !sig)
		goto out;
	if (json_is_null(sig)) {
		rc = -ENOKEY;
		goto out;
	}
	alg = json_string_value(json_object_get(sig, "alg"));
	id = json_string_value(json_object_get(sig, "key_id"));
	value = json_string_value(json_object_get(sig, "value"));
	if (!json_is_object(sig) || json_object_size(sig) != 3 || !alg ||
	    strcmp(alg, "Ed25519") || !id || !value)
		goto out;
	n = base64_decode(value, strlen(value), s, sizeof(s));
	if (n != (long)sizeof(s))
		goto out;
	rc = auth_key_id(pub, want);
	if (rc)
		goto out;
	if (strcmp(id, want)) {
		rc = -EKEYREJECTED;
		goto out;
	}
	canon = json_dumps(b, CANONICAL);
	rc = canon ? repo_key_verify(pub, canon, strlen(canon), s) : -EIO;
	if (!rc && body) {
		*body = canon;
		canon = NULL;
	}
out:
	json_decref(doc);
	free(canon);
	return rc;
}

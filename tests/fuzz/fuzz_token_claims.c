/*
 * The claims parser behind the signature: the input is a token's payload
 * (the JSON claims), signed here with the fixed platform key under the
 * standard header, so every input reaches claims_from_json and the time
 * checks (fuzz_token stops at the signature for almost all inputs).
 * Verified once (a signature check costs more than the rest), at a time
 * inside typical claims; the time rules are then applied to the claims.
 */
#include "fuzz.h"
#include "fuzz_keys.h"
#include "digest.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* base64url of {"alg":"EdDSA","typ":"JWT"}, the header issue writes */
#define HEADER64 "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *payload64 = base64url_encode(data, size);
	char *input = xasprintf("%s.%s", HEADER64, payload64);
	uint8_t sig[64];
	char *sig64 = NULL, *token = NULL;

	if (repo_key_sign(fuzz_platform_key(), input, strlen(input), sig) != 0)
		abort();
	sig64 = base64url_encode(sig, sizeof(sig));
	token = xasprintf("%s.%s", input, sig64);
	{
		struct auth_claims c;
		enum auth_token_error why;

		if (auth_token_verify(fuzz_platform_key(), token, strlen(token),
				      1700000000, &c, &why) == 0) {
			char *json = auth_claims_json(&c);

			free(json);
			(void)auth_claims_grants(&c, "medical-imaging-ct");
			(void)auth_claims_valid_yet(&c, 0);
			(void)auth_claims_valid_yet(&c, INT64_MAX);
			auth_claims_release(&c);
		}
	}
	free(payload64);
	free(input);
	free(sig64);
	free(token);
	return 0;
}

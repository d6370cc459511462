/*
 * auth_token_verify with the fixed platform key, at now = 0 (valid seeds
 * pass) and now = INT64_MAX / 2 (everything has expired).
 */
#include "fuzz.h"
#include "fuzz_keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t nows[] = {0, INT64_MAX / 2};

	for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++) {
		struct auth_claims c;
		enum auth_token_error why;

		if (auth_token_verify(fuzz_platform_key(), (const char *)data,
				      size, nows[k], &c, &why) == 0)
			auth_claims_release(&c);
	}
	return 0;
}

/*
 * A sealed key object past its signature: the input is the signed part
 * (the lines before "signature"), to which the fixed platform key's
 * signature line is appended here, so every input that parses reaches
 * the dataset/node checks, the X25519 agreement and the AEAD open
 * (fuzz_sealed stops at the signature for almost all inputs).
 */
#include "fuzz.h"
#include "fuzz_keys.h"
#include "digest.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[AUTH_DATASET_KEY_LEN], sig[64];
	char *sig64, *object;
	size_t len;

	if (repo_key_sign(fuzz_platform_key(), data, size, sig) != 0)
		abort();
	sig64 = base64_encode(sig, sizeof(sig));
	len = size + strlen("signature \n") + strlen(sig64);
	object = xmalloc(len + 1);
	memcpy(object, data, size);
	snprintf(object + size, len + 1 - size, "signature %s\n", sig64);
	(void)auth_unseal_dataset_key(fuzz_platform_key(), FUZZ_DATASET,
				      fuzz_node_key(), object, len, key);
	free(sig64);
	free(object);
	return 0;
}

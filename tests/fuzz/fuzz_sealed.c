/*
 * auth_unseal_dataset_key: a keys/<dataset>/<node> object, checked with
 * the fixed platform key and unsealed with the fixed node key, for
 * FUZZ_DATASET.
 */
#include "fuzz.h"
#include "fuzz_keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[AUTH_DATASET_KEY_LEN];

	(void)auth_unseal_dataset_key(fuzz_platform_key(), FUZZ_DATASET,
				      fuzz_node_key(), (const char *)data, size,
				      key);
	return 0;
}

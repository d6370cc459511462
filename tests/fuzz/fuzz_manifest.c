/* repo_manifest_decode: any bytes, checked with the fixed platform key. */
#include "fuzz.h"
#include "fuzz_keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_manifest m;

	if (repo_manifest_decode((const char *)data, size, fuzz_platform_key(),
				 &m) == 0)
		repo_manifest_release(&m);
	return 0;
}

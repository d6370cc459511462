/* repo_manifest_decode_reason: any bytes, checked with the fixed platform
 * key; the reason is always a terminated string. */
#include "fuzz.h"
#include "fuzz_keys.h"

#include <string.h>

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_manifest m;
	char why[REPO_MANIFEST_WHY_MAX];
	int rc;

	rc = repo_manifest_decode_reason((const char *)data, size,
					 fuzz_platform_key(), &m, why,
					 sizeof(why));
	if (rc == 0)
		repo_manifest_release(&m);
	else if (!memchr(why, '\0', sizeof(why)) || !why[0])
		__builtin_trap();
	return 0;
}

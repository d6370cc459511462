/*
 * repo_chunk_decode. Input: a 12-byte header, then the stored bytes s.
 * Header (little-endian u32s): size, flags, and stored_size XOR |s|, so
 * that 0 means "the recorded size matches" and the fuzzer can still try
 * mismatches. size is reduced modulo 1 MiB + 1 to keep memory small. The
 * digest is zero, so the best outcome is -EBADMSG after a full decode.
 * Encrypted inputs are opened with a fixed key.
 */
#include "fuzz.h"
#include "repo.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define FUZZ_CHUNK_CAP (1024u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a fixed key: encrypted inputs reach the envelope and its tag */
	static const uint8_t key[REPO_CHUNK_KEY_LEN] = {1};
	struct repo_chunk c;
	void *out;

	if (size < 12)
		return 0;
	memset(&c, 0, sizeof(c));
	c.size = load_le32(data) % (FUZZ_CHUNK_CAP + 1);
	c.flags = load_le32(data + 4);
	c.stored_size = load_le32(data + 8) ^ (uint32_t)(size - 12);
	out = malloc(c.size ? c.size : 1);
	if (!out)
		abort();
	(void)repo_chunk_decode(data + 12, size - 12, &c, key, out);
	free(out);
	return 0;
}

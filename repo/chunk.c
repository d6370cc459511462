/* Chunk framing: one independent zstd frame, or the raw bytes. */
#include "repo.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <zstd.h>

#include "banned.h"

int repo_chunk_encode(const void *raw, size_t len, int level, struct buf *out,
		      uint32_t *flags)
{
	size_t bound = ZSTD_compressBound(len), n;
	size_t start = out->len;
	int rc;

	rc = buf_reserve(out, bound > len ? bound : len);
	if (rc)
		return rc;
	n = ZSTD_compress(out->data + start, bound, raw, len, level);
	if (ZSTD_isError(n)) {
		log_error("zstd compression failed: %s", ZSTD_getErrorName(n));
		return -EIO;
	}
	/* keep it raw unless compression saves at least the minimum */
	if (n * 100 > len * (100 - REPO_CHUNK_MIN_SAVING)) {
		memcpy(out->data + start, raw, len);
		out->len = start + len;
		*flags = 0;
		return 0;
	}
	out->len = start + n;
	*flags = REPO_CHUNK_ZSTD;
	return 0;
}

int repo_chunk_decode(const void *stored, size_t stored_len,
		      const struct repo_chunk *c, void *out)
{
	struct digest d;

	if (stored_len != c->stored_size || c->size > REPO_CHUNK_MAX)
		return -EINVAL;
	if (c->flags & REPO_CHUNK_ENCRYPTED)
		return -ENOTSUP;
	if (c->flags & ~(uint32_t)REPO_CHUNK_ZSTD)
		return -EINVAL;
	if (c->flags & REPO_CHUNK_ZSTD) {
		unsigned long long content =
		    ZSTD_getFrameContentSize(stored, stored_len);
		size_t frame = ZSTD_findFrameCompressedSize(stored, stored_len);
		size_t n;

		/* exactly one frame, declaring exactly the recorded size */
		if (content != c->size || ZSTD_isError(frame) ||
		    frame != stored_len)
			return -EINVAL;
		n = ZSTD_decompress(out, c->size, stored, stored_len);
		if (ZSTD_isError(n) || n != c->size)
			return -EINVAL;
	} else {
		if (stored_len != c->size)
			return -EINVAL;
		memcpy(out, stored, stored_len);
	}
	sha256_buffer(out, c->size, &d);
	return digest_equal(&d, &c->digest) ? 0 : -EBADMSG;
}

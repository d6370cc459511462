/*
 * Chunk encoding (docs/FORMAT.md §6.1, §6.4): one independent zstd frame
 * or the raw bytes, and for the secure tier that framing inside an
 * AES-256-GCM envelope. Every reader decodes through repo_chunk_decode.
 */
#define _GNU_SOURCE
#include "repo.h"
#include "aead.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "banned.h"

_Static_assert(REPO_CHUNK_KEY_LEN == AEAD_KEY_LEN, "a dataset key is an "
						   "AES-256 key");
_Static_assert(REPO_CHUNK_ENVELOPE == AEAD_NONCE_LEN + AEAD_TAG_LEN,
	       "the envelope is nonce and tag");

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

/* Deterministic per (key, digest): the first 12 bytes of HMAC-SHA256. */
static int chunk_nonce(const uint8_t key[REPO_CHUNK_KEY_LEN],
		       const struct digest *digest,
		       uint8_t nonce[AEAD_NONCE_LEN])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int rc = 0;

	if (!HMAC(EVP_sha256(), key, REPO_CHUNK_KEY_LEN, digest->b, DIGEST_LEN,
		  mac, &mac_len) ||
	    mac_len != 32) {
		log_openssl_error("hmac-sha256 failed");
		rc = -EIO;
	} else {
		memcpy(nonce, mac, AEAD_NONCE_LEN);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int repo_chunk_encrypt(const uint8_t key[REPO_CHUNK_KEY_LEN],
		       const struct digest *digest, const void *framed,
		       size_t len, struct buf *out)
{
	uint8_t *dst;
	int rc;

	/* framed bytes of one chunk; the GCM calls take an int length */
	if (len > REPO_CHUNK_MAX)
		return -EFBIG;
	rc = buf_reserve(out, len + REPO_CHUNK_ENVELOPE);
	if (rc)
		return rc;
	dst = out->data + out->len;
	rc = chunk_nonce(key, digest, dst);
	if (!rc)
		rc =
		    aead_seal(key, dst, digest->b, DIGEST_LEN, framed, len,
			      dst + AEAD_NONCE_LEN, dst + AEAD_NONCE_LEN + len);
	if (!rc)
		out->len += len + REPO_CHUNK_ENVELOPE;
	return rc;
}

/* Framed bytes (flags 0 or 1) into out, c->size bytes, unverified. */
static int chunk_unframe(const uint8_t *framed, size_t len, uint32_t flags,
			 const struct repo_chunk *c, void *out)
{
	if (flags & REPO_CHUNK_ZSTD) {
		unsigned long long content =
		    ZSTD_getFrameContentSize(framed, len);
		size_t frame = ZSTD_findFrameCompressedSize(framed, len);
		size_t n;

		/* exactly one frame, declaring exactly the recorded size */
		if (content != c->size || ZSTD_isError(frame) || frame != len)
			return -EINVAL;
		n = ZSTD_decompress(out, c->size, framed, len);
		if (ZSTD_isError(n) || n != c->size)
			return -EINVAL;
		return 0;
	}
	if (len != c->size)
		return -EINVAL;
	/* a raw chunk may be decoded in place (repo_chunk_decode) */
	if (out != framed)
		memcpy(out, framed, len);
	return 0;
}

/* The envelope: decrypt, then unframe. A raw framing decrypts straight
 * into out; a zstd frame goes through a cleansed scratch buffer. */
static int chunk_open(const uint8_t *stored, size_t len,
		      const struct repo_chunk *c,
		      const uint8_t key[REPO_CHUNK_KEY_LEN], void *out)
{
	size_t n = len - REPO_CHUNK_ENVELOPE;
	const uint8_t *ct = stored + AEAD_NONCE_LEN, *tag = ct + n;
	uint8_t *framed;
	int rc;

	if (!(c->flags & REPO_CHUNK_ZSTD)) {
		if (n != c->size)
			return -EINVAL;
		/* the stored nonce is used as is: a forged one fails the tag */
		return aead_open(key, stored, c->digest.b, DIGEST_LEN, ct, n,
				 tag, out);
	}
	framed = xmalloc(n ? n : 1);
	rc =
	    aead_open(key, stored, c->digest.b, DIGEST_LEN, ct, n, tag, framed);
	if (!rc)
		rc = chunk_unframe(framed, n, REPO_CHUNK_ZSTD, c, out);
	OPENSSL_cleanse(framed, n);
	free(framed);
	return rc;
}

int repo_chunk_decode(const void *stored, size_t stored_len,
		      const struct repo_chunk *c, const uint8_t *key, void *out)
{
	struct digest d;
	int rc;

	if (stored_len != c->stored_size || c->size > REPO_CHUNK_MAX)
		return -EINVAL;
	if (c->flags & ~(uint32_t)(REPO_CHUNK_ZSTD | REPO_CHUNK_ENCRYPTED))
		return -EINVAL;
	if (c->flags & REPO_CHUNK_ENCRYPTED) {
		if (!key)
			return -ENOKEY;
		if (stored_len < REPO_CHUNK_ENVELOPE ||
		    stored_len - REPO_CHUNK_ENVELOPE > REPO_CHUNK_MAX)
			return -EINVAL;
		rc = chunk_open(stored, stored_len, c, key, out);
	} else if (repo_chunk_frame_checked(c)) {
		/* the frame is the catalog's: what it decodes to is too */
		sha256_buffer(stored, stored_len, &d);
		if (!digest_equal(&d, &c->stored_digest))
			return -EBADMSG;
		return chunk_unframe(stored, stored_len, c->flags, c, out);
	} else {
		rc = chunk_unframe(stored, stored_len, c->flags, c, out);
	}
	if (!rc) {
		sha256_buffer(out, c->size, &d);
		rc = digest_equal(&d, &c->digest) ? 0 : -EBADMSG;
	}
	/* no plaintext of a secure chunk that did not verify stays around */
	if (rc && (c->flags & REPO_CHUNK_ENCRYPTED))
		OPENSSL_cleanse(out, c->size);
	return rc;
}

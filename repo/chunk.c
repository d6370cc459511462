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
#include <pthread.h>
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

/* Decoding contexts kept for the next stream: a new one's window buffer
 * would be new memory every time, which costs more than decoding a
 * reader's few bytes (fresh pages are slow to touch in a VM). */
#define STREAM_DCTX_KEPT 4
static pthread_mutex_t dctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *dctx_kept[STREAM_DCTX_KEPT];
static size_t dctx_nkept;

static ZSTD_DCtx *dctx_get(void)
{
	ZSTD_DCtx *d = NULL;

	pthread_mutex_lock(&dctx_lock);
	if (dctx_nkept)
		d = dctx_kept[--dctx_nkept];
	pthread_mutex_unlock(&dctx_lock);
	if (d)
		ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	else
		d = ZSTD_createDCtx();
	return d;
}

static void dctx_put(ZSTD_DCtx *d)
{
	pthread_mutex_lock(&dctx_lock);
	if (dctx_nkept < STREAM_DCTX_KEPT) {
		dctx_kept[dctx_nkept++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&dctx_lock);
	ZSTD_freeDCtx(d);
}

int repo_chunk_stream_begin(struct repo_chunk_stream *s, const void *stored,
			    size_t stored_len, const struct repo_chunk *c,
			    void *out)
{
	struct digest d;

	memset(s, 0, sizeof(*s));
	if (!repo_chunk_frame_checked(c))
		return -ENOTSUP;
	if (stored_len != c->stored_size || c->size > REPO_CHUNK_MAX)
		return -EINVAL;
	sha256_buffer(stored, stored_len, &d);
	if (!digest_equal(&d, &c->stored_digest))
		return -EBADMSG;
	/* exactly one frame, declaring exactly the recorded size */
	if (ZSTD_getFrameContentSize(stored, stored_len) != c->size ||
	    ZSTD_findFrameCompressedSize(stored, stored_len) != stored_len)
		return -EINVAL;
	s->dctx = dctx_get();
	if (!s->dctx)
		return -ENOMEM;
	s->in = stored;
	s->in_len = stored_len;
	s->out = out;
	s->size = c->size;
	return 0;
}

int repo_chunk_stream_to(struct repo_chunk_stream *s, size_t want)
{
	if (want > s->size)
		want = s->size;
	while (!s->done && s->out_pos < want) {
		ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
		/* at most what is wanted: zstd stops there, mid-block */
		ZSTD_outBuffer out = {s->out, want, s->out_pos};
		size_t r = ZSTD_decompressStream(s->dctx, &out, &in);

		if (ZSTD_isError(r))
			return -EINVAL;
		/* no progress with input left: a frame cut short */
		if (in.pos == s->in_pos && out.pos == s->out_pos)
			return -EINVAL;
		s->in_pos = in.pos;
		s->out_pos = out.pos;
		s->done = r == 0;
	}
	return 0;
}

int repo_chunk_stream_finish(struct repo_chunk_stream *s)
{
	int rc = repo_chunk_stream_to(s, s->size);

	if (!rc && !s->done) {
		/* every byte is out: the frame's epilogue (checksum) is left */
		ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
		ZSTD_outBuffer out = {s->out, s->size, s->out_pos};
		size_t r = ZSTD_decompressStream(s->dctx, &out, &in);

		if (ZSTD_isError(r) || r != 0 || out.pos != s->size)
			return -EINVAL;
		s->in_pos = in.pos;
		s->done = true;
	}
	if (!rc && (s->out_pos != s->size || s->in_pos != s->in_len))
		rc = -EINVAL;
	return rc;
}

void repo_chunk_stream_end(struct repo_chunk_stream *s)
{
	if (s->dctx)
		dctx_put(s->dctx);
	s->dctx = NULL;
}

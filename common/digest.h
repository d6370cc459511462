/* SHA-256 and the textual encodings of digests and signatures, all through
 * OpenSSL. */
#ifndef AIDATA_DIGEST_H
#define AIDATA_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32
#define DIGEST_HEX_LEN 64

struct digest {
	uint8_t b[DIGEST_LEN];
};

/* Streaming SHA-256; opaque, heap allocated. */
typedef struct sha256_ctx sha256_ctx_t;

sha256_ctx_t *sha256_new(void);
void sha256_update(sha256_ctx_t *ctx, const void *p, size_t n);
/* Write the digest and reset ctx for reuse. */
void sha256_final(sha256_ctx_t *ctx, struct digest *out);
void sha256_free(sha256_ctx_t *ctx);
/* One-shot SHA-256 of a buffer. */
void sha256_buffer(const void *p, size_t n, struct digest *out);
/*
 * SHA-256 of what fd holds from its current position to its end (left
 * there), and how many bytes that was (size may be NULL). 0 or -errno.
 */
int sha256_fd(int fd, struct digest *out, uint64_t *size);
/* SHA-256 and size of a whole file. 0 or -errno. */
int sha256_file(const char *path, struct digest *out, uint64_t *size);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Parse exactly 2n lowercase or uppercase hex digits. 0 or -EINVAL. */
int hex_decode(const char *in, size_t in_len, uint8_t *out, size_t n);
/* Digest as 64 hex characters plus NUL into out[65]. */
void digest_to_hex(const struct digest *d, char out[DIGEST_HEX_LEN + 1]);
/* Parse 64 hex characters (a NUL or end of string must follow). */
int digest_from_hex(const char *hex, struct digest *out);
bool digest_equal(const struct digest *a, const struct digest *b);

/*
 * Standard base64 (RFC 4648 section 4, with padding) of n bytes.
 * Returns a NUL-terminated string the caller frees.
 */
char *base64_encode(const uint8_t *in, size_t n);
/*
 * Decode standard base64 with padding into out (cap out_max bytes).
 * Returns the decoded length, or -EINVAL on malformed input or overflow.
 */
long base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max);

/*
 * base64url (RFC 4648 section 5) without padding, as JWS (RFC 7515) uses.
 * Returns a NUL-terminated string the caller frees.
 */
char *base64url_encode(const uint8_t *in, size_t n);
/*
 * Decode unpadded base64url into out (cap out_max bytes). Rejects '='
 * padding, '+', '/', whitespace, any other character and non-canonical
 * input (unused bits of the last character set), so that every byte
 * string has exactly one accepted spelling. Returns the decoded length,
 * or -EINVAL.
 */
long base64url_decode(const char *in, size_t in_len, uint8_t *out,
		      size_t out_max);

#endif

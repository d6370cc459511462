/*
 * AES-256-GCM with a 12-byte nonce and a 16-byte tag, through OpenSSL's
 * EVP interface: the one authenticated cipher of the format, used by the
 * chunk envelope (repo/) and by sealed dataset keys (auth/).
 */
#ifndef AIDATA_AEAD_H
#define AIDATA_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16

/*
 * Encrypt n bytes of in (n <= INT_MAX; may be 0) with associated data ad:
 * ct gets n bytes (ct may not overlap in), tag 16. 0, or -EIO (logged
 * with OpenSSL's message).
 */
int aead_seal(const uint8_t key[AEAD_KEY_LEN],
	      const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	      size_t ad_len, const void *in, size_t n, uint8_t *ct,
	      uint8_t tag[AEAD_TAG_LEN]);
/*
 * The inverse: out gets n bytes. 0; -EBADMSG when the tag does not
 * verify, and then out is cleared (unauthenticated plaintext must not be
 * used); -EIO (logged).
 */
int aead_open(const uint8_t key[AEAD_KEY_LEN],
	      const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	      size_t ad_len, const uint8_t *ct, size_t n,
	      const uint8_t tag[AEAD_TAG_LEN], uint8_t *out);

#endif

/* AES-256-GCM through OpenSSL 3's EVP interface. */
#include "aead.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "banned.h"

/* A GCM context for key and nonce with the associated data absorbed,
 * encrypting (enc 1) or decrypting (0); NULL on failure. */
static EVP_CIPHER_CTX *gcm_begin(int enc, const uint8_t key[AEAD_KEY_LEN],
				 const uint8_t nonce[AEAD_NONCE_LEN],
				 const void *ad, size_t ad_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len;

	if (!ctx || ad_len > INT_MAX ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) !=
		1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN,
				NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &len, ad, (int)ad_len) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int aead_seal(const uint8_t key[AEAD_KEY_LEN],
	      const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	      size_t ad_len, const void *in, size_t n, uint8_t *ct,
	      uint8_t tag[AEAD_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t fin[AEAD_TAG_LEN]; /* GCM's final step outputs nothing */
	int len, rc = -EIO;

	if (n > INT_MAX)
		goto out;
	ctx = gcm_begin(1, key, nonce, ad, ad_len);
	if (!ctx)
		goto out;
	if (n && (EVP_EncryptUpdate(ctx, ct, &len, in, (int)n) != 1 ||
		  (size_t)len != n))
		goto out;
	if (EVP_EncryptFinal_ex(ctx, fin, &len) != 1 || len != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, tag) !=
		1)
		goto out;
	rc = 0;
out:
	if (rc)
		log_openssl_error("aes-256-gcm encryption failed");
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	return rc;
}

int aead_open(const uint8_t key[AEAD_KEY_LEN],
	      const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	      size_t ad_len, const uint8_t *ct, size_t n,
	      const uint8_t tag[AEAD_TAG_LEN], uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag_copy[AEAD_TAG_LEN], fin[AEAD_TAG_LEN];
	int len, rc = -EIO;

	memcpy(tag_copy, tag, AEAD_TAG_LEN);
	if (n > INT_MAX)
		goto out;
	ctx = gcm_begin(0, key, nonce, ad, ad_len);
	if (!ctx)
		goto out;
	if (n && (EVP_DecryptUpdate(ctx, out, &len, ct, (int)n) != 1 ||
		  (size_t)len != n))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN,
				tag_copy) != 1)
		goto out;
	rc = EVP_DecryptFinal_ex(ctx, fin, &len) == 1 ? 0 : -EBADMSG;
out:
	if (rc == -EIO)
		log_openssl_error("aes-256-gcm decryption failed");
	ERR_clear_error();
	if (rc && n && n <= INT_MAX)
		OPENSSL_cleanse(out, n);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

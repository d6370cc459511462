/* Ed25519 platform keys through OpenSSL's EVP interface. */
#include "repo.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

struct repo_key {
	EVP_PKEY *pkey;
	bool has_private;
};

int repo_key_generate(repo_key_t **out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		log_openssl_error("ed25519 key generation failed");
		EVP_PKEY_CTX_free(ctx);
		return -EIO;
	}
	EVP_PKEY_CTX_free(ctx);
	*out = xcalloc(1, sizeof(**out));
	(*out)->pkey = pkey;
	(*out)->has_private = true;
	return 0;
}

static int key_load(const char *path, bool private, repo_key_t **out)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pkey;

	if (!f)
		return -errno;
	pkey = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
		       : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!pkey)
		return -EINVAL;
	if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return -EINVAL;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->pkey = pkey;
	(*out)->has_private = private;
	return 0;
}

int repo_key_load_private(const char *path, repo_key_t **out)
{
	return key_load(path, true, out);
}

int repo_key_load_public(const char *path, repo_key_t **out)
{
	return key_load(path, false, out);
}

static int key_write(const repo_key_t *key, const char *path, bool private)
{
	mode_t mode = private ? 0600 : 0644;
	int fd, rc = 0;
	FILE *f;

	if (private && !key->has_private)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(path);
		return rc;
	}
	if (private
		? !PEM_write_PrivateKey(f, key->pkey, NULL, NULL, 0, NULL, NULL)
		: !PEM_write_PUBKEY(f, key->pkey)) {
		log_openssl_error("cannot encode key");
		rc = -EIO;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ? rc : -errno;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	if (rc)
		unlink(path);
	return rc;
}

int repo_key_write_private(const repo_key_t *key, const char *path)
{
	return key_write(key, path, true);
}

int repo_key_write_public(const repo_key_t *key, const char *path)
{
	return key_write(key, path, false);
}

int repo_key_public_raw(const repo_key_t *key, uint8_t out[32])
{
	size_t len = 32;

	if (EVP_PKEY_get_raw_public_key(key->pkey, out, &len) <= 0 ||
	    len != 32) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int repo_key_sign(const repo_key_t *key, const void *p, size_t n,
		  uint8_t sig[64])
{
	EVP_MD_CTX *ctx;
	size_t sig_len = 64;
	int rc = 0;

	if (!key->has_private)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) <= 0 ||
	    EVP_DigestSign(ctx, sig, &sig_len, p, n) <= 0 || sig_len != 64) {
		log_openssl_error("ed25519 signing failed");
		rc = -EIO;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

int repo_key_verify(const repo_key_t *key, const void *p, size_t n,
		    const uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EBADMSG;

	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) > 0 &&
	    EVP_DigestVerify(ctx, sig, 64, p, n) == 1)
		rc = 0;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

void repo_key_free(repo_key_t *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

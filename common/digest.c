#include "digest.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

struct sha256_ctx {
	EVP_MD_CTX *md;
};

sha256_ctx_t *sha256_new(void)
{
	sha256_ctx_t *ctx = xcalloc(1, sizeof(*ctx));

	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || !EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL))
		abort(); /* only fails when out of memory */
	return ctx;
}

void sha256_update(sha256_ctx_t *ctx, const void *p, size_t n)
{
	EVP_DigestUpdate(ctx->md, p, n);
}

void sha256_final(sha256_ctx_t *ctx, struct digest *out)
{
	unsigned int len = DIGEST_LEN;

	EVP_DigestFinal_ex(ctx->md, out->b, &len);
	EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL);
}

void sha256_free(sha256_ctx_t *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void sha256_buffer(const void *p, size_t n, struct digest *out)
{
	unsigned int len = DIGEST_LEN;

	EVP_Digest(p, n, out->b, &len, EVP_sha256(), NULL);
}

int sha256_fd(int fd, struct digest *out, uint64_t *size)
{
	enum { BLOCK = 64 * 1024 };
	uint8_t *block = xmalloc(BLOCK);
	sha256_ctx_t *sha = sha256_new();
	uint64_t total = 0;
	int rc = 0;

	for (;;) {
		ssize_t n = read(fd, block, BLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		sha256_update(sha, block, (size_t)n);
		total += (uint64_t)n;
	}
	if (!rc) {
		sha256_final(sha, out);
		if (size)
			*size = total;
	}
	sha256_free(sha);
	free(block);
	return rc;
}

int sha256_file(const char *path, struct digest *out, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = sha256_fd(fd, out, size);
	close(fd);
	return rc;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	size_t written = 0;

	/* separator '\0' means none (OpenSSL 3.0) */
	OPENSSL_buf2hexstr_ex(out, 2 * n + 1, &written, in, n, '\0');
	for (size_t i = 0; i < 2 * n; i++)
		if (out[i] >= 'A' && out[i] <= 'F')
			out[i] = out[i] - 'A' + 'a';
}

int hex_decode(const char *in, size_t in_len, uint8_t *out, size_t n)
{
	char tmp[2 * 512 + 1];
	size_t got = 0;

	if (in_len != 2 * n || in_len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, in, in_len);
	tmp[in_len] = '\0';
	if (!OPENSSL_hexstr2buf_ex(out, n, &got, tmp, '\0') || got != n)
		return -EINVAL;
	return 0;
}

void digest_to_hex(const struct digest *d, char out[DIGEST_HEX_LEN + 1])
{
	hex_encode(d->b, DIGEST_LEN, out);
}

int digest_from_hex(const char *hex, struct digest *out)
{
	size_t len = strnlen(hex, DIGEST_HEX_LEN + 1);

	if (len != DIGEST_HEX_LEN)
		return -EINVAL;
	return hex_decode(hex, len, out->b, DIGEST_LEN);
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
	return memcmp(a->b, b->b, DIGEST_LEN) == 0;
}

char *base64_encode(const uint8_t *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

long base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max)
{
	size_t pad = 0;
	uint8_t *tmp;
	int n;

	if (in_len == 0)
		return 0;
	if (in_len % 4 != 0 || in_len > (size_t)1 << 30)
		return -EINVAL;
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/' ||
			  (c == '=' && i >= in_len - 2);

		if (!ok)
			return -EINVAL;
	}
	if (in[in_len - 1] == '=')
		pad++;
	if (in[in_len - 2] == '=')
		pad++;
	if (pad == 1 && in[in_len - 2] == '=')
		return -EINVAL;
	tmp = xmalloc(in_len / 4 * 3);
	/* EVP_DecodeBlock keeps the padding bytes as zeros; strip them */
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)in_len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > out_max) {
		free(tmp);
		return -EINVAL;
	}
	memcpy(out, tmp, (size_t)n - pad);
	free(tmp);
	return (long)((size_t)n - pad);
}

char *base64url_encode(const uint8_t *in, size_t n)
{
	char *out = base64_encode(in, n);
	size_t len = strlen(out);

	while (len > 0 && out[len - 1] == '=')
		out[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

long base64url_decode(const char *in, size_t in_len, uint8_t *out,
		      size_t out_max)
{
	char *tmp = NULL, *again = NULL;
	size_t padded;
	long n = -EINVAL;

	/* a lone last character holds 6 bits, never a whole byte */
	if (in_len % 4 == 1 || in_len > (size_t)1 << 30)
		return -EINVAL;
	padded = (in_len + 3) / 4 * 4;
	tmp = xmalloc(padded + 1);
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];

		/* the standard alphabet's characters are foreign here, and
		 * padding is ours to add */
		if (c == '+' || c == '/' || c == '=')
			goto out;
		tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	memset(tmp + in_len, '=', padded - in_len);
	/* base64_decode rejects every other character */
	n = base64_decode(tmp, padded, out, out_max);
	if (n < 0)
		goto out;
	/*
	 * EVP_DecodeBlock ignores the unused low bits of the last character,
	 * so "AB" and "AC" would both decode; only the canonical spelling
	 * is accepted, or a signature could be altered and still verify.
	 */
	again = base64url_encode(out, (size_t)n);
	if (strlen(again) != in_len || memcmp(again, in, in_len) != 0)
		n = -EINVAL;
out:
	free(tmp);
	free(again);
	return n;
}

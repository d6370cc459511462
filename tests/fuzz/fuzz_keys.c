/*
 * Fixed keys for the fuzz targets. The libraries load keys only from PEM
 * files, so the key is derived from a constant seed with OpenSSL, written
 * as PEM into an anonymous memory file and loaded from /proc/self/fd. If
 * that fails (no memfd, no /proc), a fresh random key is used instead: the
 * targets still run, but the corpus's valid seeds then fail their
 * signature check, which is reported once on stderr.
 */
#define _GNU_SOURCE
#include "fuzz_keys.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "banned.h"

static const uint8_t platform_seed[32] = "aidatafs fuzz platform key 0001";
static const uint8_t node_seed[32] = "aidatafs fuzz secure node 00001";

/* An fd of an anonymous file holding the PEM private key, or -1. */
static int pem_memfd(int type, const uint8_t seed[32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(type, NULL, seed, 32);
	BIO *bio = NULL;
	char *pem = NULL;
	long n;
	int fd = -1;

	if (!pk)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (!bio ||
	    !PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	n = BIO_get_mem_data(bio, &pem);
	if (n <= 0)
		goto out;
	fd = memfd_create("aidata-fuzz-key", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, pem, (size_t)n) != (ssize_t)n) {
		close(fd);
		fd = -1;
	}
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return fd;
}

static void fixed_key_failed(const char *what)
{
	fprintf(stderr,
		"fuzz: cannot make the fixed %s key; using a random one "
		"(valid seeds will not verify)\n",
		what);
}

const repo_key_t *fuzz_platform_key(void)
{
	static repo_key_t *key;
	char path[64];
	int fd;

	if (key)
		return key;
	fd = pem_memfd(EVP_PKEY_ED25519, platform_seed);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (repo_key_load_private(path, &key) != 0)
			key = NULL;
		close(fd);
	}
	if (!key) {
		fixed_key_failed("platform");
		if (repo_key_generate(&key) != 0)
			abort();
	}
	return key;
}

const auth_node_key_t *fuzz_node_key(void)
{
	static auth_node_key_t *key;
	char path[64];
	int fd;

	if (key)
		return key;
	fd = pem_memfd(EVP_PKEY_X25519, node_seed);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (auth_node_key_load_private(path, &key) != 0)
			key = NULL;
		close(fd);
	}
	if (!key) {
		fixed_key_failed("node");
		if (auth_node_key_generate(&key) != 0)
			abort();
	}
	return key;
}

/* The publisher's per-dataset keys, stored beside the platform key
 * (publish.h says where and in which format). */
#define _GNU_SOURCE
#include "publish.h"
#include "digest.h"
#include "auth.h"
#include "fsutil.h"
#include "log.h"
#include "repo.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define KEY_HEX_LEN (2 * PUBLISH_DATASET_KEY_LEN)
#define KEY_FILE_LEN (KEY_HEX_LEN + 1)

_Static_assert(PUBLISH_DATASET_KEY_LEN == AUTH_DATASET_KEY_LEN, "one key size");

/* "<dir of platform_key_path>/dataset-keys" */
static char *keys_dir(const char *platform_key_path)
{
	const char *slash = strrchr(platform_key_path, '/');

	if (!slash)
		return xstrdup("dataset-keys");
	return xasprintf("%.*s/dataset-keys", (int)(slash - platform_key_path),
			 platform_key_path);
}

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Read and check one key file: 0, -ENOENT, -EINVAL or -errno. */
static int key_read(const char *path, uint8_t key[PUBLISH_DATASET_KEY_LEN])
{
	char text[KEY_FILE_LEN + 1];
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	/* the exact size first, so a huge or odd file is never read */
	if (!S_ISREG(st.st_mode) || st.st_size != KEY_FILE_LEN) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077)
		log_warn("dataset key '%s' is accessible to other users; "
			 "run chmod 600 on it",
			 path);
	rc = fs_pread_all(fd, text, KEY_FILE_LEN, 0);
	if (rc == -EIO)
		rc = -EINVAL; /* shrank while we read it */
	if (rc)
		goto out;
	if (text[KEY_HEX_LEN] != '\n' || !lower_hex(text, KEY_HEX_LEN) ||
	    hex_decode(text, KEY_HEX_LEN, key, PUBLISH_DATASET_KEY_LEN) != 0)
		rc = -EINVAL;
out:
	OPENSSL_cleanse(text, sizeof(text));
	close(fd);
	return rc;
}

/*
 * Move tmp to path unless path exists: -EEXIST then, and tmp is left for
 * the caller. RENAME_NOREPLACE where the file system has it, else link().
 */
static int install_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (link(tmp, path) != 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/* Generate a key and install it at path; -EEXIST if one appeared. */
static int key_create(const char *dir, const char *path,
		      uint8_t key[PUBLISH_DATASET_KEY_LEN])
{
	char text[KEY_FILE_LEN + 1];
	char *tmp = xasprintf("%s/.new-key.XXXXXX", dir);
	int fd, rc;

	rc = auth_dataset_key_generate(key);
	if (rc)
		goto out;
	hex_encode(key, PUBLISH_DATASET_KEY_LEN, text);
	text[KEY_HEX_LEN] = '\n';
	/* mkstemp: O_EXCL and mode 0600 */
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_all(fd, text, KEY_FILE_LEN);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = install_noreplace(tmp, path);
	if (rc)
		unlink(tmp);
	else
		rc = fs_fsync_dir(dir);
out:
	OPENSSL_cleanse(text, sizeof(text));
	free(tmp);
	return rc;
}

int publish_dataset_key_get(const char *platform_key_file, const char *dataset,
			    bool create, uint8_t key[PUBLISH_DATASET_KEY_LEN])
{
	char *dir = NULL, *path = NULL;
	int rc;

	if (!dataset || repo_name_invalid_reason(dataset, strlen(dataset))) {
		rc = -EINVAL;
		goto out;
	}
	dir = keys_dir(platform_key_file);
	if (strlen(dataset) + 4 <= 255) {
		path = xasprintf("%s/%s.key", dir, dataset);
	} else {
		/* "<name>.key" would pass NAME_MAX: name it by a digest */
		char hex[DIGEST_HEX_LEN + 1];
		struct digest d;

		sha256_buffer(dataset, strlen(dataset), &d);
		digest_to_hex(&d, hex);
		path = xasprintf("%s/sha256-%s.key", dir, hex);
	}
	rc = key_read(path, key);
	if (rc != -ENOENT || !create)
		goto out;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	rc = key_create(dir, path, key);
	if (rc == -EEXIST) /* a concurrent pack won: use its key */
		rc = key_read(path, key);
out:
	if (rc)
		OPENSSL_cleanse(key, PUBLISH_DATASET_KEY_LEN);
	free(dir);
	free(path);
	return rc;
}

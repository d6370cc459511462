#define _GNU_SOURCE
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return rc;
}

int fs_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int fs_pread_all(int fd, void *p, size_t n, off_t off)
{
	uint8_t *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int fs_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0, alloc;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	/* read to the end, not to st_size: generated files report 0 */
	alloc = (size_t)st.st_size + 1 > 4096 ? (size_t)st.st_size + 1 : 4096;
	data = xmalloc(alloc);
	for (;;) {
		ssize_t r;

		if (got + 1 == alloc) {
			if (got >= max + 1) {
				rc = -EFBIG;
				goto out;
			}
			alloc = alloc * 2 > max + 2 ? max + 2 : alloc * 2;
			data = xrealloc(data, alloc);
		}
		r = read(fd, data + got, alloc - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		rc = -EFBIG;
		goto out;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int fs_write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd, rc;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_all(fd, p, n);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		goto out;
	}
	if (slash) {
		*slash = '\0';
		fs_fsync_dir(slash == dir ? "/" : dir);
	}
out:
	free(tmp);
	free(dir);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) != 0 ? -errno : 0;
	return unlink(path) != 0 ? -errno : 0;
}

int fs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

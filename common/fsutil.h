/* Small file helpers shared by the tools, the cache and the tests. */
#ifndef AIDATA_FSUTIL_H
#define AIDATA_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p with mode for created directories. 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Write all n bytes, retrying on EINTR and short writes. 0 or -errno. */
int fs_write_all(int fd, const void *p, size_t n);
/* pread exactly n bytes at off. 0, -EIO on a short file, or -errno. */
int fs_pread_all(int fd, void *p, size_t n, off_t off);
/*
 * Read a whole file (to its end, whatever st_size says, so generated
 * files work too) of at most max bytes into a new NUL-terminated buffer
 * (*out, freed by the caller) and its length (*len).
 * Returns 0, -EFBIG if larger than max, or -errno.
 */
int fs_read_file(const char *path, size_t max, char **out, size_t *len);
/*
 * Write a file atomically: temp file in the same directory, fsync, rename
 * over path, fsync the directory. 0 or -errno; on failure path is untouched.
 */
int fs_write_atomic(const char *path, const void *p, size_t n, mode_t mode);
/* rm -rf; 0 or -errno of the first failure. Missing path is 0. */
int fs_remove_tree(const char *path);
/* fsync a directory by path. 0 or -errno. */
int fs_fsync_dir(const char *path);

#endif

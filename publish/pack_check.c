/*
 * Listing and checking a dataset's source tree: the rules of FORMAT.md
 * §9.5 (names, file types, symlinks that leave the dataset, depth),
 * applied to the whole tree before anything is written, and the listing
 * the packing walk uses again.
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pack_entry *)a)->name,
		      ((const struct pack_entry *)b)->name);
}

void pack_entries_free(struct pack_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

int pack_dir_list(int fd, const char *path, struct pack_entry **out,
		  size_t *count)
{
	struct pack_entry *e = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int rc = 0, dup_fd = dup(fd);
	DIR *dir;

	if (dup_fd < 0)
		return -errno;
	dir = fdopendir(dup_fd);
	if (!dir) {
		rc = -errno;
		close(dup_fd);
		return rc;
	}
	for (;;) {
		const char *why;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				rc = -errno;
				log_error("'%s': cannot read "
					  "directory: %s",
					  path, strerror(errno));
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		why = repo_name_invalid_reason(de->d_name, strlen(de->d_name));
		if (why) {
			/* never print raw control bytes to a terminal */
			char *en = log_escape(de->d_name);

			log_error("'%s/%s': invalid name: %s", path, en, why);
			free(en);
			rc = -EINVAL;
			break;
		}
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			e = xrealloc(e, alloc * sizeof(*e));
		}
		e[n].name = xstrdup(de->d_name);
		if (fstatat(fd, de->d_name, &e[n].st, AT_SYMLINK_NOFOLLOW)) {
			rc = -errno;
			log_error("'%s/%s': %s", path, de->d_name,
				  strerror(errno));
			free(e[n].name);
			break;
		}
		n++;
	}
	closedir(dir);
	if (rc) {
		pack_entries_free(e, n);
		return rc;
	}
	qsort(e, n, sizeof(*e), entry_cmp);
	*out = e;
	*count = n;
	return 0;
}

/*
 * A symlink is kept only if its target stays inside the dataset: relative,
 * with ".." only as leading components, never climbing above the root.
 * Every symlink is checked, so a chain of them stays inside as well.
 */
const char *pack_symlink_escape_reason(const char *target, int depth)
{
	const char *p = target;
	bool seen_normal = false;

	if (target[0] == '/')
		return "absolute target leaves the dataset";
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (seen_normal)
				return "'..' after a directory name";
			if (--depth < 0)
				return "target leaves the dataset";
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			seen_normal = true;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return NULL;
}

int pack_symlink_read(int dirfd, const char *name, const char *path, char **out)
{
	char *buf = xmalloc(PACK_SYMLINK_TARGET_MAX + 1);
	ssize_t n = readlinkat(dirfd, name, buf, PACK_SYMLINK_TARGET_MAX + 1);

	if (n < 0) {
		int rc = -errno;

		log_error("'%s': cannot read symlink: %s", path,
			  strerror(errno));
		free(buf);
		return rc;
	}
	if (n == 0 || n > PACK_SYMLINK_TARGET_MAX) {
		log_error("'%s': symlink target empty or "
			  "too long",
			  path);
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int check_entry(int dirfd, const char *path, const struct pack_entry *e,
		       int depth)
{
	char *target = NULL;
	const char *why;
	int rc;

	switch (e->st.st_mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
		return 0;
	case S_IFLNK:
		rc = pack_symlink_read(dirfd, e->name, path, &target);
		if (rc)
			return rc;
		why = pack_symlink_escape_reason(target, depth);
		if (why)
			log_error("'%s': symlink to '%s' refused: "
				  "%s",
				  path, target, why);
		free(target);
		return why ? -EINVAL : 0;
	default:
		log_error("'%s': special file (device, fifo or "
			  "socket) refused: only regular files, directories "
			  "and symlinks are packed",
			  path);
		return -EINVAL;
	}
}

static int check_dir(int fd, const char *path, int depth, uint64_t *files,
		     uint64_t *bytes)
{
	struct pack_entry *e = NULL;
	size_t n = 0;
	int rc;

	if (depth > PACK_TREE_DEPTH_MAX) {
		log_error("'%s': tree deeper than %d", path,
			  PACK_TREE_DEPTH_MAX);
		return -ELOOP;
	}
	rc = pack_dir_list(fd, path, &e, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		char *child = xasprintf("%s/%s", path, e[i].name);

		rc = check_entry(fd, child, &e[i], depth);
		if (!rc && S_ISREG(e[i].st.st_mode)) {
			(*files)++;
			*bytes += (uint64_t)e[i].st.st_size;
		}
		if (!rc && S_ISDIR(e[i].st.st_mode)) {
			int sub = openat(fd, e[i].name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub < 0) {
				rc = -errno;
				log_error("'%s': cannot open "
					  "directory: %s",
					  child, strerror(errno));
			} else {
				rc = check_dir(sub, child, depth + 1, files,
					       bytes);
				close(sub);
			}
		}
		free(child);
	}
	pack_entries_free(e, n);
	return rc;
}

int pack_tree_check(const char *src_dir, uint64_t *files, uint64_t *bytes)
{
	int fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		log_error("'%s': %s", src_dir, strerror(errno));
		return rc;
	}
	rc = check_dir(fd, src_dir, 0, files, bytes);
	close(fd);
	return rc;
}

/* Files under paths of an aidatafs mount (mount_walk.h). */
#define _GNU_SOURCE
#include "mount_walk.h"
#include "fsutil.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define CONTROL_MAX (256u << 20) /* a receipt may list many files */

int mount_root(const char *mnt, char **root)
{
	char *real = realpath(mnt, NULL), *probe;
	struct stat st;
	int rc = 0;

	if (!real) {
		rc = -errno;
		fprintf(stderr, "aidata: mount '%s': %s\n", mnt,
			strerror(errno));
		return rc;
	}
	probe = xasprintf("%s/.aidata/revision", real);
	if (stat(probe, &st) != 0) {
		fprintf(stderr,
			"aidata: '%s' is not an aidatafs mount (no "
			".aidata/revision)\n",
			real);
		free(real);
		rc = -ENOENT;
	} else {
		*root = real;
	}
	free(probe);
	return rc;
}

int mount_resolve(const char *root, const char *path, char **out)
{
	char *real = NULL, *joined = NULL;
	size_t n = strlen(root);
	struct stat st;

	if (path[0] == '/' || lstat(path, &st) == 0) {
		real = realpath(path, NULL);
	} else {
		joined = xasprintf("%s/%s", root, path);
		real = realpath(joined, NULL);
	}
	if (!real || strncmp(real, root, n) != 0 ||
	    (real[n] != '\0' && real[n] != '/')) {
		fprintf(stderr, "aidata: '%s': %s\n", path,
			real ? "not on the mount" : strerror(errno));
		free(real);
		free(joined);
		return -ENOENT;
	}
	free(joined);
	if (!strncmp(real + n, "/.aidata", 8) &&
	    (real[n + 8] == '\0' || real[n + 8] == '/')) {
		fprintf(stderr,
			"aidata: '%s': the mount's control files, not "
			"data\n",
			path);
		free(real);
		return -ENOENT;
	}
	if (real[n] == '\0') {
		*out = xasprintf("%s/datasets", real);
		free(real);
	} else {
		*out = real;
	}
	return 0;
}

static void add_file(struct mount_files *out, const char *path, uint64_t size)
{
	if (out->n == out->alloc) {
		out->alloc = out->alloc ? 2 * out->alloc : 256;
		out->v = xrealloc(out->v, out->alloc * sizeof(*out->v));
	}
	out->v[out->n].path = xstrdup(path);
	out->v[out->n].size = size;
	out->n++;
	out->bytes += size;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(const char *path, struct mount_files *out, int depth)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;

	if (depth > 256) {
		fprintf(stderr, "aidata: '%s': too deep\n", path);
		out->errors++;
		return;
	}
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "aidata: '%s': %s\n", path, strerror(errno));
		out->errors++;
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".aidata"))
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			names = xrealloc(names, alloc * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *child = xasprintf("%s/%s", path, names[i]);
		struct stat st;

		if (lstat(child, &st) != 0) {
			fprintf(stderr, "aidata: '%s': %s\n", child,
				strerror(errno));
			out->errors++;
		} else if (S_ISDIR(st.st_mode)) {
			walk_dir(child, out, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			add_file(out, child, (uint64_t)st.st_size);
		}
		free(child);
		free(names[i]);
	}
	free(names);
}

int mount_walk(const char *path, struct mount_files *out)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		fprintf(stderr, "aidata: '%s': %s\n", path, strerror(errno));
		out->errors++;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		walk_dir(path, out, 0);
	else if (S_ISREG(st.st_mode))
		add_file(out, path, (uint64_t)st.st_size);
	return 0;
}

void mount_files_release(struct mount_files *out)
{
	for (size_t i = 0; i < out->n; i++)
		free(out->v[i].path);
	free(out->v);
	memset(out, 0, sizeof(*out));
}

int mount_control_read(const char *root, const char *name, char **text)
{
	char *path = xasprintf("%s/.aidata/%s", root, name);
	size_t len;
	int rc = fs_read_file(path, CONTROL_MAX, text, &len);

	if (rc)
		fprintf(stderr, "aidata: '%s': %s\n", path, strerror(-rc));
	free(path);
	return rc;
}

/* Control groups v2 (cgroup.h). */
#define _GNU_SOURCE
#include "cgroup.h"
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

/* mountinfo writes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 +
				      (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

char *cgroup_v2_root(void)
{
	char line[8192], mnt[4096];
	char *found = NULL;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - ");

		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape_octal(mnt);
		found = xstrdup(mnt);
	}
	fclose(f);
	return found;
}

/* The "0::" line of a /proc/PID/cgroup text (NUL-terminated). */
static int v2_line(const char *text, char **path)
{
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');

		if (strncmp(p, "0::", 3) == 0) {
			*path = xstrndup(p + 3, end ? (size_t)(end - p - 3)
						    : strlen(p + 3));
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int cgroup_of_pid(pid_t pid, char **path)
{
	char proc[64], small[4096], *text = NULL;
	ssize_t n = 0;
	size_t len;
	int fd, rc;

	snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	/* once per open of a dataset file: one read into the stack, the
	 * whole file only on a host with many hierarchies or long paths */
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	do
		n = read(fd, small, sizeof(small) - 1);
	while (n < 0 && errno == EINTR);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc == -ESRCH ? -ENOENT : rc;
	if ((size_t)n < sizeof(small) - 1) {
		small[n] = '\0';
		return v2_line(small, path);
	}
	rc = fs_read_file(proc, 1 << 20, &text, &len);
	if (rc)
		return rc == -ESRCH ? -ENOENT : rc;
	rc = v2_line(text, path);
	free(text);
	return rc;
}

int cgroup_stat(const char *root, const char *path, uint64_t *id, uid_t *owner)
{
	char *full;
	struct stat st;
	int rc = 0;

	if (!cgroup_path_valid(path))
		return -EINVAL;
	full = xasprintf("%s%s", root, strcmp(path, "/") ? path : "");
	if (stat(full, &st) != 0)
		rc = -errno;
	else if (!S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	free(full);
	if (rc)
		return rc;
	*id = (uint64_t)st.st_ino;
	*owner = st.st_uid;
	return 0;
}

bool cgroup_path_valid(const char *path)
{
	const char *p = path;

	if (path[0] != '/')
		return false;
	if (!strcmp(path, "/"))
		return true;
	while (*p == '/') {
		const char *next = strchrnul(p + 1, '/');
		size_t n = (size_t)(next - p - 1);

		if (n == 0 || (n == 1 && p[1] == '.') ||
		    (n == 2 && p[1] == '.' && p[2] == '.'))
			return false;
		p = next;
	}
	return *p == '\0';
}

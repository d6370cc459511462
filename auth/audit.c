/*
 * The audit log (auth_int.h): append-only JSON lines of shared and secure
 * opens. Every record is written whole or not at all, and every question
 * "could a record be written now?" is answered by one predicate, so that
 * open(), access() and user.aidata.access agree in every state.
 */
#define _GNU_SOURCE
#include "auth_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "banned.h"

/* Refuse (fail closed) below this much room on the log's filesystem: a
 * record is at most a few KiB, and a write that finds no room mid-record
 * is undone anyway. */
#define AUDIT_MIN_FREE (64u * 1024)

struct audit_log {
	char *path;
	pthread_mutex_t lock; /* one record at a time; guards fd, dev, ino */
	int fd;		      /* -1: not open */
	dev_t dev;	      /* of the file fd refers to */
	ino_t ino;
};

/* Caller holds l->lock. */
static int open_locked(struct audit_log *l)
{
	char *dir = NULL, *slash = strrchr(l->path, '/');
	struct stat st;
	int fd, rc = 0;

	if (slash && slash != l->path) {
		dir = xstrndup(l->path, (size_t)(slash - l->path));
		fs_mkdir_p(dir, 0750);
		free(dir);
	}
	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
		log_error("audit log '%s': %s; shared and secure opens will "
			  "be refused",
			  l->path, strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		log_error("audit log '%s': not a regular file; shared and "
			  "secure opens will be refused",
			  l->path);
		rc = -EINVAL;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	if (fd >= 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	return rc;
}

struct audit_log *audit_log_open(const char *path)
{
	struct audit_log *l = xcalloc(1, sizeof(*l));

	l->path = xstrdup(path);
	l->fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_lock(&l->lock);
	open_locked(l);
	pthread_mutex_unlock(&l->lock);
	return l;
}

void audit_log_free(struct audit_log *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->lock);
	free(l->path);
	free(l);
}

int audit_log_reopen(struct audit_log *l)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = open_locked(l);
	pthread_mutex_unlock(&l->lock);
	if (!rc)
		log_info("audit log '%s' reopened", l->path);
	return rc;
}

/* Caller holds l->lock. */
static int check_locked(struct audit_log *l)
{
	struct stat fst, pst;
	struct statvfs vfs;
	uint64_t room;

	if (l->fd < 0)
		return -EBADF;
	if (fstat(l->fd, &fst) != 0 || !S_ISREG(fst.st_mode))
		return -EINVAL;
	/* removed, or renamed away (logrotate without a reload yet):
	 * records would go to a file nobody reads */
	if (fst.st_nlink == 0 || stat(l->path, &pst) != 0 ||
	    pst.st_dev != l->dev || pst.st_ino != l->ino)
		return -ESTALE;
	if (fstatvfs(l->fd, &vfs) != 0)
		return -errno;
	/* root writes into the reserved blocks too */
	room = (uint64_t)(geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) *
	       vfs.f_frsize;
	if (room < AUDIT_MIN_FREE)
		return -ENOSPC;
	return 0;
}

int audit_log_check(struct audit_log *l)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = check_locked(l);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

const char *audit_log_strerror(int rc)
{
	switch (rc) {
	case -EBADF:
		return "not open";
	case -EINVAL:
		return "not a regular file";
	case -ESTALE:
		return "removed or renamed since it was opened; reload "
		       "(SIGHUP) to reopen it";
	case -ENOSPC:
		return "no space left on its filesystem";
	default:
		return strerror(-rc);
	}
}

int audit_log_append(struct audit_log *l, const char *line, size_t len)
{
	off_t end;
	ssize_t w;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = check_locked(l);
	if (rc)
		goto out;
	end = lseek(l->fd, 0, SEEK_END);
	if (end < 0) {
		rc = -errno;
		goto out;
	}
	w = write(l->fd, line, len);
	if (w == (ssize_t)len)
		goto out;
	rc = w < 0 ? -errno : -ENOSPC;
	/* a partial record would corrupt the next one: undo it (shrinking
	 * needs no free space) */
	if (w > 0 && ftruncate(l->fd, end) != 0)
		log_error("audit log '%s': cannot remove a partial record: %s",
			  l->path, strerror(errno));
out:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

const char *audit_log_path(const struct audit_log *l)
{
	return l->path;
}

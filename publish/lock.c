/*
 * The repository lock: one publisher at a time writes a repository. An
 * exclusive flock(2) on the repository directory, which the kernel drops
 * when the process ends however it ends, so a crashed publisher never
 * leaves a stale lock.
 */
#include "publish.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "banned.h"

struct publish_lock {
	int fd;
	char *repo;
};

int publish_lock_acquire(const char *repo, publish_lock_t **out)
{
	int fd, rc;

	fd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT && rc != -ENOTDIR)
			log_error("'%s': %s", repo, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		if (rc == -EWOULDBLOCK)
			log_error("'%s': another publisher (aidata pack, "
				  "revoke or grant-node) is writing it",
				  repo);
		else
			log_error("'%s': cannot lock: %s", repo,
				  strerror(errno));
		close(fd);
		return rc;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->fd = fd;
	(*out)->repo = xstrdup(repo);
	return 0;
}

const char *publish_lock_repo(const publish_lock_t *lock)
{
	return lock->repo;
}

void publish_lock_release(publish_lock_t *lock)
{
	if (!lock)
		return;
	close(lock->fd); /* drops the flock */
	free(lock->repo);
	free(lock);
}

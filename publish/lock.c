/*
 * The repository lock: one publisher at a time writes a repository.
 *
 * A directory: an exclusive flock(2) on the directory itself, which the
 * kernel drops when the process ends however it ends, so a crashed
 * publisher never leaves a stale lock; the next one to take it removes
 * the manifest temporary a crashed one may have left.
 *
 * A bucket (s3://BUCKET/PREFIX): the object PREFIX/lock, created with a
 * conditional PUT (If-None-Match: *), so of two publishers exactly one
 * creates it (FORMAT.md §9.6). Its text says who holds it ("aidata
 * revoke on HOST pid PID since TIME"). A crash leaves it behind: a lock
 * left by a publisher that died on this host (its pid gone) is taken
 * over; one from another host is reported with its text, and
 * force_unlock removes it.
 */
#include "publish_int.h"
#include "log.h"
#include "origin.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define LOCK_OBJECT_MAX 4096

/*
 * Remove the manifest temporaries (fs_write_atomic's "manifest.tmp.PID")
 * of publishers killed while they replaced the manifest: only a holder
 * of the lock writes one, so under the lock any is a dead one's.
 */
static void remove_manifest_temps(int repo_fd)
{
	int fd = openat(repo_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "manifest.tmp.", 13))
			unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
}

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
	remove_manifest_temps(fd);
	*out = xcalloc(1, sizeof(**out));
	(*out)->fd = fd;
	(*out)->repo = xstrdup(repo);
	return 0;
}

bool publish_repo_is_bucket(const char *repo)
{
	return !strncmp(repo, "s3://", 5);
}

/* "aidata CMD on HOST pid PID since TIME": from a dead process here? */
static bool lock_stale(const char *host, const char *text)
{
	char held_host[256];
	long pid;

	if (sscanf(text, "aidata %*s on %255s pid %ld", held_host, &pid) != 2)
		return false;
	return !strcmp(held_host, host) && pid > 0 &&
	       kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The text of the lock object, its first line only; NULL if unreadable. */
static char *lock_text(origin_t *o)
{
	struct origin_req req;
	struct buf held;
	char *shown = NULL;
	size_t len;

	buf_init(&held, LOCK_OBJECT_MAX);
	origin_req_init(&req, "lock", LOCK_OBJECT_MAX, 0);
	if (origin_get(o, &req, &held) == 0 &&
	    buf_take_string(&held, &shown, &len) == 0)
		shown[strcspn(shown, "\n")] = '\0';
	buf_release(&held);
	return shown;
}

static int lock_object_take(origin_t *o, const struct publish_bucket *b)
{
	char host[256], text[512];
	struct origin_req req;
	int rc, n;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	for (char *c = host; *c; c++)
		if (*c == ' ')
			*c = '_';
	n = snprintf(text, sizeof(text), "aidata %s on %s pid %ld since %ld\n",
		     b->command ? b->command : "publish", host, (long)getpid(),
		     (long)time(NULL));
	for (int attempt = 0; attempt < 2; attempt++) {
		char *shown;

		origin_req_init(&req, "lock", 0, ORIGIN_PUT_IF_ABSENT);
		rc = origin_put(o, &req, text, (size_t)n);
		if (rc != -EEXIST) {
			if (rc)
				log_error("cannot take the repository lock: %s",
					  req.why);
			return rc;
		}
		shown = lock_text(o);
		if (attempt == 0 &&
		    (b->force_unlock || (shown && lock_stale(host, shown)))) {
			log_warn("removing the lock of '%s' (%s)%s", b->url,
				 shown ? shown : "unreadable",
				 b->force_unlock
				     ? ""
				     : ": that publisher died on this host");
			free(shown);
			origin_req_init(&req, "lock", 0, 0);
			rc = origin_delete(o, &req);
			if (rc) {
				log_error("cannot remove the lock: %s",
					  req.why);
				return rc;
			}
			continue;
		}
		log_error("'%s' is locked by another publisher (object "
			  "'lock': %s); if none is running, run again with "
			  "--force-unlock",
			  b->url, shown ? shown : "unreadable");
		free(shown);
		return -EWOULDBLOCK;
	}
	return -EWOULDBLOCK;
}

int publish_lock_acquire_bucket(const struct publish_bucket *b,
				publish_lock_t **out)
{
	struct origin_options oo = {
	    .url = b->url,
	    .timeout_sec = b->timeout_sec,
	    .retries = b->retries,
	    .ca_file = b->ca_file,
	    .s3 = b->s3,
	};
	origin_t *o = NULL;
	int rc;

	if (!publish_repo_is_bucket(b->url)) {
		log_error("'%s': not an s3://BUCKET/PREFIX URL", b->url);
		return -EINVAL;
	}
	rc = origin_new(&oo, &o);
	if (rc) {
		log_error("'%s': malformed s3:// URL", b->url);
		return rc;
	}
	rc = lock_object_take(o, b);
	if (rc) {
		origin_free(o);
		return rc;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->fd = -1;
	(*out)->repo = origin_redact_url(b->url);
	(*out)->origin = o;
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
	if (lock->origin) {
		struct origin_req req;

		origin_req_init(&req, "lock", 0, 0);
		if (origin_delete(lock->origin, &req))
			log_warn("cannot remove the lock: %s (the next "
				 "publisher on this host takes it over; "
				 "elsewhere, --force-unlock removes it)",
				 req.why);
		origin_free(lock->origin);
	}
	if (lock->fd >= 0)
		close(lock->fd); /* drops the flock */
	free(lock->repo);
	free(lock);
}

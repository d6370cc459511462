/*
 * Open chunk files kept between reads, so that a read of a cached chunk
 * costs no index lookup, open or close (a warm 4 KiB read was mostly
 * those). One descriptor per chunk, shared by every reader of it: the
 * reads are positioned (pread, splice with an offset), never through the
 * file offset. The pool is bounded; the least recently used descriptor
 * that no reader holds is closed to make room.
 *
 * Eviction stays safe: when the store drops a chunk (cache_fd_forget),
 * its descriptor leaves the pool at once, so no new reader gets it, and
 * is closed when its last reader lets it go. A chunk file unlinked by
 * another process sharing the cache directory is noticed on the next
 * get (no links left) and its descriptor dropped, as if it were not
 * pooled.
 */
#define _GNU_SOURCE
#include "cache_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define FD_BUCKETS 1024 /* a power of two */
#define FD_POOL_MAX 1024
#define FD_POOL_MIN 16
#define NOFILE_WANTED 8192

struct cache_fd {
	struct digest d;
	int fd;
	unsigned users;
	bool pooled;		      /* in the hash; false once forgotten */
	struct cache_fd *hnext;	      /* hash chain */
	struct cache_fd *prev, *next; /* idle list (users == 0), LRU first */
};

static size_t bucket_of(const struct digest *d)
{
	size_t h;

	memcpy(&h, d->b, sizeof(h));
	return h & (FD_BUCKETS - 1);
}

static void idle_unlink(cache_t *c, struct cache_fd *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->fd_idle_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->fd_idle_tail = e->prev;
	e->prev = e->next = NULL;
}

static void idle_append(cache_t *c, struct cache_fd *e)
{
	e->next = NULL;
	e->prev = c->fd_idle_tail;
	if (c->fd_idle_tail)
		c->fd_idle_tail->next = e;
	else
		c->fd_idle_head = e;
	c->fd_idle_tail = e;
}

/* Take e out of the hash; the caller holds fd_lock. */
static void hash_unlink(cache_t *c, struct cache_fd *e)
{
	struct cache_fd **p = &c->fd_buckets[bucket_of(&e->d)];

	while (*p && *p != e)
		p = &(*p)->hnext;
	if (*p)
		*p = e->hnext;
	e->hnext = NULL;
	e->pooled = false;
	c->nfds--;
}

static struct cache_fd *hash_find(cache_t *c, const struct digest *d)
{
	struct cache_fd *e = c->fd_buckets[bucket_of(d)];

	while (e && !digest_equal(&e->d, d))
		e = e->hnext;
	return e;
}

void cache_fd_pool_init(cache_t *c)
{
	struct rlimit rl;
	rlim_t n = 1024;

	pthread_mutex_init(&c->fd_lock, NULL);
	c->fd_buckets = xcalloc(FD_BUCKETS, sizeof(*c->fd_buckets));
	/* a daemon keeping files open: use the hard limit it may have */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < NOFILE_WANTED && rl.rlim_cur < rl.rlim_max) {
			rlim_t cur = rl.rlim_cur;

			rl.rlim_cur = rl.rlim_max < NOFILE_WANTED
					  ? rl.rlim_max
					  : NOFILE_WANTED;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				rl.rlim_cur = cur;
		}
		n = rl.rlim_cur;
	}
	/* leave most descriptors to FUSE, curl, LMDB and catalogs */
	n /= 4;
	c->fd_max = n > FD_POOL_MAX   ? FD_POOL_MAX
		    : n < FD_POOL_MIN ? FD_POOL_MIN
				      : (unsigned)n;
}

void cache_fd_pool_free(cache_t *c)
{
	if (!c->fd_buckets)
		return;
	for (size_t i = 0; i < FD_BUCKETS; i++) {
		struct cache_fd *e = c->fd_buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			/* a reference never released keeps its entry */
			if (e->users == 0) {
				close(e->fd);
				free(e);
			} else {
				e->pooled = false;
			}
		}
	}
	free(c->fd_buckets);
	c->fd_buckets = NULL;
	pthread_mutex_destroy(&c->fd_lock);
}

struct cache_fd *cache_fd_get(cache_t *c, const struct digest *key, int *fd)
{
	struct cache_fd *e;
	struct stat st;

	pthread_mutex_lock(&c->fd_lock);
	e = hash_find(c, key);
	if (e) {
		if (e->users++ == 0)
			idle_unlink(c, e);
	}
	pthread_mutex_unlock(&c->fd_lock);
	if (!e)
		return NULL;
	/* unlinked by another process (aidata cache prune, a second
	 * mount of the directory): look it up again as the store has it */
	if (fstat(e->fd, &st) != 0 || st.st_nlink == 0) {
		cache_fd_forget(c, key);
		cache_fd_put(c, e);
		return NULL;
	}
	*fd = e->fd;
	return e;
}

bool cache_fd_known(cache_t *c, const struct digest *key)
{
	bool known;

	pthread_mutex_lock(&c->fd_lock);
	known = hash_find(c, key) != NULL;
	pthread_mutex_unlock(&c->fd_lock);
	return known;
}

struct cache_fd *cache_fd_add(cache_t *c, const struct digest *key, int *fd)
{
	struct cache_fd *e, *victim = NULL;

	pthread_mutex_lock(&c->fd_lock);
	e = hash_find(c, key);
	if (e) {
		/* opened by two readers at once: keep the pooled one */
		if (e->users++ == 0)
			idle_unlink(c, e);
		pthread_mutex_unlock(&c->fd_lock);
		close(*fd);
		*fd = e->fd;
		return e;
	}
	if (c->nfds >= c->fd_max) {
		victim = c->fd_idle_head;
		if (!victim) {
			/* every pooled file is being read: not pooled */
			pthread_mutex_unlock(&c->fd_lock);
			return NULL;
		}
		idle_unlink(c, victim);
		hash_unlink(c, victim);
	}
	e = xcalloc(1, sizeof(*e));
	e->d = *key;
	e->fd = *fd;
	e->users = 1;
	e->pooled = true;
	e->hnext = c->fd_buckets[bucket_of(key)];
	c->fd_buckets[bucket_of(key)] = e;
	c->nfds++;
	pthread_mutex_unlock(&c->fd_lock);
	if (victim) {
		close(victim->fd);
		free(victim);
	}
	return e;
}

void cache_fd_put(cache_t *c, struct cache_fd *e)
{
	bool gone;

	pthread_mutex_lock(&c->fd_lock);
	gone = --e->users == 0 && !e->pooled;
	if (e->users == 0 && e->pooled)
		idle_append(c, e);
	pthread_mutex_unlock(&c->fd_lock);
	if (gone) {
		close(e->fd);
		free(e);
	}
}

void cache_fd_forget(cache_t *c, const struct digest *key)
{
	struct cache_fd *e;
	bool gone = false;

	pthread_mutex_lock(&c->fd_lock);
	e = hash_find(c, key);
	if (e) {
		hash_unlink(c, e);
		if (e->users == 0) {
			idle_unlink(c, e);
			gone = true;
		}
	}
	pthread_mutex_unlock(&c->fd_lock);
	if (gone) {
		close(e->fd);
		free(e);
	}
}

unsigned cache_fd_pool_count(cache_t *c)
{
	unsigned n;

	pthread_mutex_lock(&c->fd_lock);
	n = c->nfds;
	pthread_mutex_unlock(&c->fd_lock);
	return n;
}

/*
 * Warming the cache on request (aidata prefetch, through the mount):
 * fetch a chunk into the store now, synchronously, in its stored form;
 * and what a status report needs to know of the cache.
 */
#define _GNU_SOURCE
#include "cache_int.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* A chunk being fetched by cache_chunk_fetch, so that concurrent
 * requests for it (aidata prefetch's workers) count one fetch. */
struct cache_warming {
	struct digest key;
	struct cache_warming *next;
};

static bool warming(cache_t *c, const struct digest *key)
{
	for (struct cache_warming *w = c->warming; w; w = w->next)
		if (digest_equal(&w->key, key))
			return true;
	return false;
}

/* Fetch and store ch unless present; *fetched if this call fetched it. */
static int fetch_stored(cache_t *c, const struct repo_chunk *ch,
			const struct digest *key, bool *fetched)
{
	struct cache_chunk_ref ref;
	bool stored;
	int rc;

	if (cache_chunk_present(c, ch)) {
		/* young again: a job is about to read it, and chunks
		 * fetched next must not evict it first */
		cache_index_touch(c->ix, key, 1, (uint64_t)time(NULL));
		return 0;
	}
	/* stored bytes only: a secure chunk stays ciphertext */
	rc = cache_stored_acquire(c, ch, &ref);
	if (rc)
		return rc;
	/* in memory instead of a file: the cache could not keep it */
	stored = ref.fd >= 0;
	cache_chunk_release(c, &ref);
	if (!stored)
		return -ENOSPC;
	STAT_ADD(c->stats.prefetches, 1);
	*fetched = true;
	return 0;
}

int cache_chunk_fetch(cache_t *c, const struct repo_chunk *ch, bool *fetched)
{
	struct cache_warming self;
	int rc;

	*fetched = false;
	if (c->transient)
		return -EINVAL;
	cache_chunk_key(ch, &self.key);
	pthread_mutex_lock(&c->lock);
	while (warming(c, &self.key))
		pthread_cond_wait(&c->cond, &c->lock);
	self.next = c->warming;
	c->warming = &self;
	pthread_mutex_unlock(&c->lock);

	rc = fetch_stored(c, ch, &self.key, fetched);

	pthread_mutex_lock(&c->lock);
	for (struct cache_warming **p = &c->warming; *p; p = &(*p)->next) {
		if (*p == &self) {
			*p = self.next;
			break;
		}
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

bool cache_catalog_present(cache_t *c, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	char *path;
	bool present;

	digest_to_hex(d, hex);
	path = xasprintf("%s/%s.mdb", c->catalogs_dir, hex);
	present = access(path, F_OK) == 0;
	free(path);
	return present;
}

const char *cache_dir(cache_t *c)
{
	return c->dir;
}

const char *cache_origin(cache_t *c)
{
	return c->origin_url;
}

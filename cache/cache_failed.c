/*
 * Failure memory: a fetch of a chunk or catalog that the origin could not
 * deliver (unreachable, timed out, an error status, the wrong size) is
 * remembered for CACHE_FAILED_WINDOW_MS. Within that window the same
 * object fails at once, without asking the origin: the kernel asks again
 * for the page of a failed readahead, and that must not cost a second
 * fetch cycle (timeout x attempts) against an origin that is already
 * failing; readahead does not queue it either. A fetch that came back but
 * did not verify is not remembered (it cost one request, and a repaired
 * object is then served at once). The memory is small and per process:
 * an entry is replaced by a newer failure when the table is full.
 */
#define _GNU_SOURCE
#include "cache_int.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banned.h"

/* The entry for (kind, key), or NULL. Caller holds c->failed_lock. */
static struct cache_failure *find(cache_t *c, enum cache_object_kind kind,
				  const struct digest *key)
{
	for (size_t i = 0; i < CACHE_FAILED_MAX; i++) {
		struct cache_failure *f = &c->failed[i];

		if (f->when_ms && f->kind == kind && digest_equal(&f->key, key))
			return f;
	}
	return NULL;
}

void cache_failed_note(cache_t *c, enum cache_object_kind kind,
		       const struct digest *key, int rc, const char *why)
{
	uint64_t now = cache_mono_ms();
	struct cache_failure *f;

	pthread_mutex_lock(&c->failed_lock);
	f = find(c, kind, key);
	for (size_t i = 0; !f && i < CACHE_FAILED_MAX; i++)
		if (!c->failed[i].when_ms ||
		    now - c->failed[i].when_ms >= CACHE_FAILED_WINDOW_MS)
			f = &c->failed[i];
	if (!f) {
		/* full of recent failures: the oldest goes */
		f = &c->failed[0];
		for (size_t i = 1; i < CACHE_FAILED_MAX; i++)
			if (c->failed[i].when_ms < f->when_ms)
				f = &c->failed[i];
	}
	f->key = *key;
	f->kind = kind;
	f->rc = rc;
	f->when_ms = now ? now : 1;
	snprintf(f->why, sizeof(f->why), "%s", why ? why : "");
	pthread_mutex_unlock(&c->failed_lock);
}

bool cache_failed_recent(cache_t *c, enum cache_object_kind kind,
			 const struct digest *key, int *rc, char *why)
{
	uint64_t now = cache_mono_ms(), age = 0;
	struct cache_failure *f;
	bool recent = false;

	pthread_mutex_lock(&c->failed_lock);
	f = find(c, kind, key);
	if (f) {
		age = now - f->when_ms;
		if (age < CACHE_FAILED_WINDOW_MS) {
			recent = true;
			if (rc)
				*rc = f->rc;
			if (why)
				snprintf(why, CACHE_WHY_MAX,
					 "%s (failed %.1f s ago; not asked "
					 "again for %.1f s)",
					 f->why, age / 1000.0,
					 (CACHE_FAILED_WINDOW_MS - age) /
					     1000.0);
		} else {
			f->when_ms = 0;
		}
	}
	pthread_mutex_unlock(&c->failed_lock);
	return recent;
}

void cache_failed_forget(cache_t *c, enum cache_object_kind kind,
			 const struct digest *key)
{
	struct cache_failure *f;

	pthread_mutex_lock(&c->failed_lock);
	f = find(c, kind, key);
	if (f)
		f->when_ms = 0;
	pthread_mutex_unlock(&c->failed_lock);
}

/*
 * A dataset's slot: one catalog of one dataset, opened on first use and
 * kept for the life of the mount, and for the secure tier this node's
 * copy of the dataset key, fetched and unsealed on first use.
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define KEY_RETRY_SEC 30 /* before asking the origin again for a key */

struct ns_slot *ns_slot_at(ns_t *ns, uint32_t i)
{
	struct ns_slot *s;

	pthread_mutex_lock(&ns->lock);
	s = i < SLOT_MAX ? ns->slots[i] : NULL;
	pthread_mutex_unlock(&ns->lock);
	return s;
}

int ns_slot_catalog(ns_t *ns, struct ns_slot *s, repo_catalog_t **out)
{
	char *path = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->cat) {
		rc = cache_catalog_path(ns->cache, &s->d.catalog,
					s->d.catalog_size, &path, NULL);
		if (!rc)
			rc = repo_catalog_open(path, &s->cat);
		if (rc) {
			log_error("dataset '%s': catalog unavailable: %s",
				  s->d.name, strerror(-rc));
		} else {
			COUNT_ADD(ns->counters.catalogs_open, 1);
			pthread_mutex_lock(&ns->lock);
			ns->open_slots =
			    xrealloc(ns->open_slots,
				     (ns->nopen + 1) * sizeof(*ns->open_slots));
			ns->open_slots[ns->nopen++] = s;
			pthread_mutex_unlock(&ns->lock);
		}
		free(path);
	}
	*out = s->cat;
	pthread_mutex_unlock(&s->lock);
	/* a catalog the cache cannot give is an I/O error to a reader */
	return ns_catalog_errno(rc == -ENOENT ? -EIO : rc);
}

/*
 * The secure tier: this node's copy of the dataset key, unsealed in memory
 * from keys/<dataset>/<node id> on first use. 0 when held.
 */
int ns_slot_dataset_key(ns_t *ns, struct ns_slot *s,
			uint8_t key[AUTH_DATASET_KEY_LEN])
{
	const auth_node_key_t *nk = auth_node_key(ns->auth);
	char *rel = NULL, *data = NULL;
	time_t now = time(NULL);
	size_t len;
	int rc;

	if (s->d.tier != REPO_TIER_SECURE || !nk)
		return -ENOKEY;
	pthread_mutex_lock(&s->lock);
	if (s->key_state == 1 ||
	    (s->key_state < 0 && now - s->key_checked < KEY_RETRY_SEC)) {
		rc = s->key_state == 1 ? 0 : s->key_state;
		goto out;
	}
	rel = repo_sealed_key_object_path(s->d.name, auth_node_id(ns->auth));
	rc = cache_object_fetch(ns->cache, rel, AUTH_SEALED_KEY_MAX, &data,
				&len);
	if (rc == 0) {
		rc = auth_unseal_dataset_key(ns->pub, s->d.name, nk, data, len,
					     s->key);
		if (rc)
			log_error("dataset '%s': sealed key '%s' does not "
				  "verify or unseal with this node's key",
				  s->d.name, rel);
	} else if (rc == -ENOENT) {
		log_warn("dataset '%s': no sealed key for node '%s' at '%s'",
			 s->d.name, auth_node_id(ns->auth), rel);
		rc = -ENOKEY;
	}
	s->key_state = rc ? rc : 1;
	s->key_checked = now;
out:
	if (rc == 0)
		memcpy(key, s->key, AUTH_DATASET_KEY_LEN);
	pthread_mutex_unlock(&s->lock);
	free(rel);
	free(data);
	return rc;
}

void ns_trim(ns_t *ns)
{
	size_t n;

	pthread_mutex_lock(&ns->lock);
	n = ns->nopen;
	pthread_mutex_unlock(&ns->lock);
	for (size_t i = 0; i < n; i++) {
		struct ns_slot *s;

		pthread_mutex_lock(&ns->lock);
		s = ns->open_slots[i];
		pthread_mutex_unlock(&ns->lock);
		/* the catalog stays open once opened: no need for s->lock */
		repo_catalog_trim(s->cat);
	}
}

/*
 * A walk over millions of entries maps a whole catalog: drop the mapped
 * pages every so many operations, not only on a timer, so the daemon's
 * resident set stays bounded however fast the walk goes.
 */
#define TRIM_EVERY_OPS 256

void ns_catalog_op(ns_t *ns)
{
	if (__atomic_add_fetch(&ns->catalog_ops, 1, __ATOMIC_RELAXED) %
		TRIM_EVERY_OPS ==
	    0)
		ns_trim(ns);
}

void ns_slots_free(ns_t *ns)
{
	for (uint32_t i = 0; ns->slots && i < SLOT_MAX; i++) {
		struct ns_slot *s = ns->slots[i];

		if (!s)
			continue;
		repo_catalog_free(s->cat);
		explicit_bzero(s->key, sizeof(s->key));
		repo_dataset_release(&s->d);
		pthread_mutex_destroy(&s->lock);
		pthread_mutex_destroy(&s->ra_lock);
		free(s);
	}
	free(ns->slots);
	free(ns->open_slots);
	ns->slots = NULL;
	ns->open_slots = NULL;
}

/*
 * Revisions: the signed manifest (no rollback), the root catalog, the
 * datasets in name order with their slots, and the industry, modality
 * and contributor labels the views group them by. A new revision is loaded
 * beside the current one and switched to atomically; open files keep
 * the slots they opened.
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

struct ns_rev *ns_rev_get(ns_t *ns)
{
	struct ns_rev *r;

	pthread_mutex_lock(&ns->lock);
	r = ns->rev;
	r->refs++;
	pthread_mutex_unlock(&ns->lock);
	return r;
}

static void rev_free(struct ns_rev *r)
{
	repo_manifest_release(&r->m);
	repo_catalog_free(r->root);
	free(r->slots);
	for (unsigned w = 0; w < LABEL_KINDS; w++)
		free(r->labels[w]);
	free(r);
}

void ns_rev_put(ns_t *ns, struct ns_rev *r)
{
	bool last;

	pthread_mutex_lock(&ns->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&ns->lock);
	if (last)
		rev_free(r);
}

const char *ns_label_name(ns_t *ns, unsigned which, uint32_t i)
{
	const char *name = NULL;

	if (which >= LABEL_KINDS) /* LABEL_WHICH of a made-up inode */
		return NULL;
	pthread_mutex_lock(&ns->lock);
	if (i < ns->nlabels[which])
		name = ns->labels[which][i];
	pthread_mutex_unlock(&ns->lock);
	return name;
}

/* Caller holds ns->lock. */
static uint32_t label_intern(ns_t *ns, unsigned which, const char *name)
{
	for (uint32_t i = 0; i < ns->nlabels[which]; i++)
		if (!strcmp(ns->labels[which][i], name))
			return i;
	ns->labels[which] = xrealloc(ns->labels[which],
				     (ns->nlabels[which] + 1) * sizeof(char *));
	ns->labels[which][ns->nlabels[which]] = xstrdup(name);
	return ns->nlabels[which]++;
}

/* The slot of dataset `name` in revision r, or NULL. */
struct ns_slot *ns_rev_find(ns_t *ns, struct ns_rev *r, const char *name,
			    size_t len, uint32_t *slot_index)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct ns_slot *s = ns_slot_at(ns, r->slots[mid]);
		int c = strncmp(s->d.name, name, len);

		if (c == 0 && s->d.name[len] != '\0')
			c = 1;
		if (c == 0) {
			if (slot_index)
				*slot_index = r->slots[mid];
			return s;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool rev_has_label(struct ns_rev *r, unsigned which, uint32_t i)
{
	for (size_t k = 0; k < r->nlabels[which]; k++)
		if (r->labels[which][k] == i)
			return true;
	return false;
}

size_t ns_label_count(ns_t *ns, struct ns_rev *r, unsigned which,
		      uint32_t label)
{
	size_t n = 0;

	if (label == LABEL_NONE)
		return 0;
	for (size_t i = 0; i < r->n; i++)
		n += ns_slot_at(ns, r->slots[i])->label[which] == label;
	return n;
}

struct load_ctx {
	ns_t *ns;
	struct ns_rev *old;
	struct ns_rev *r;
	size_t alloc;
	int rc;
};

/* Equal strings, or both NULL. */
static bool same_text(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/*
 * Whether a slot of a (the previous revision) can serve d: the same
 * catalog is not enough, since the root catalog alone holds the tier,
 * the labels and the texts (a dataset made shared, or given to another
 * contributor, with the same files keeps its catalog digest).
 */
static bool slot_serves(const struct repo_dataset *a,
			const struct repo_dataset *d)
{
	return digest_equal(&a->catalog, &d->catalog) && a->tier == d->tier &&
	       a->root_mode == d->root_mode && a->root_nlink == d->root_nlink &&
	       a->root_size == d->root_size && a->mtime_sec == d->mtime_sec &&
	       a->mtime_nsec == d->mtime_nsec && a->files == d->files &&
	       a->bytes == d->bytes && same_text(a->industry, d->industry) &&
	       same_text(a->modality, d->modality) &&
	       same_text(a->license, d->license) &&
	       same_text(a->description, d->description) &&
	       same_text(a->contributor, d->contributor);
}

static int load_dataset(void *arg, const struct repo_dataset *d)
{
	struct load_ctx *lc = arg;
	ns_t *ns = lc->ns;
	struct ns_slot *s = NULL;
	uint32_t index = 0;

	/* unchanged since the previous revision: keep its slot and inodes */
	if (lc->old) {
		s = ns_rev_find(ns, lc->old, d->name, strlen(d->name), &index);
		if (s && !slot_serves(&s->d, d))
			s = NULL;
	}
	if (!s) {
		pthread_mutex_lock(&ns->lock);
		if (d->id < SLOT_HIGH_START && !ns->slots[d->id])
			index = d->id;
		else if (ns->next_high_slot < SLOT_MAX)
			index = ns->next_high_slot++;
		else
			index = SLOT_MAX;
		if (index < SLOT_MAX) {
			s = xcalloc(1, sizeof(*s));
			s->d = *d;
			s->d.name = xstrdup(d->name);
			s->d.industry = xstrdup(d->industry);
			s->d.modality = xstrdup(d->modality);
			s->d.license = xstrdup(d->license);
			s->d.description = xstrdup(d->description);
			s->d.contributor =
			    d->contributor ? xstrdup(d->contributor) : NULL;
			s->label[LABEL_INDUSTRY] =
			    label_intern(ns, LABEL_INDUSTRY, d->industry);
			s->label[LABEL_MODALITY] =
			    label_intern(ns, LABEL_MODALITY, d->modality);
			s->label[LABEL_CONTRIBUTOR] =
			    d->contributor ? label_intern(ns, LABEL_CONTRIBUTOR,
							  d->contributor)
					   : LABEL_NONE;
			pthread_mutex_init(&s->lock, NULL);
			pthread_mutex_init(&s->ra_lock, NULL);
			ns->slots[index] = s;
		}
		pthread_mutex_unlock(&ns->lock);
		if (!s) {
			log_error("too many dataset revisions in one mount; "
				  "remount to reclaim inode slots");
			return -ENOSPC;
		}
	}
	if (lc->r->n == lc->alloc) {
		lc->alloc = lc->alloc ? 2 * lc->alloc : 32;
		lc->r->slots =
		    xrealloc(lc->r->slots, lc->alloc * sizeof(*lc->r->slots));
	}
	lc->r->slots[lc->r->n++] = index;
	for (unsigned w = 0; w < LABEL_KINDS; w++) {
		if (s->label[w] != LABEL_NONE &&
		    !rev_has_label(lc->r, w, s->label[w])) {
			lc->r->labels[w] =
			    xrealloc(lc->r->labels[w], (lc->r->nlabels[w] + 1) *
							   sizeof(uint32_t));
			lc->r->labels[w][lc->r->nlabels[w]++] = s->label[w];
		}
	}
	return 0;
}

/* qsort_r order of label indices by name; caller holds ns->lock. */
struct label_sort {
	ns_t *ns;
	unsigned which;
};

static int label_cmp(const void *a, const void *b, void *arg)
{
	const struct label_sort *ls = arg;
	char **names = ls->ns->labels[ls->which];

	return strcmp(names[*(const uint32_t *)a], names[*(const uint32_t *)b]);
}

/*
 * Log why the revision cannot be served (one line) and keep the same
 * words in why (NULL or NS_WHY_MAX bytes) for the mount's refusal.
 * Returns rc.
 */
__attribute__((format(printf, 3, 4))) static int refuse(char *why, int rc,
							const char *fmt, ...)
{
	char text[NS_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_error("%s", text);
	if (why)
		snprintf(why, NS_WHY_MAX, "%s", text);
	return rc;
}

/* Fetch, verify and index the revision m names. */
static int rev_load(ns_t *ns, struct repo_manifest *m, struct ns_rev *old,
		    struct ns_rev **out, char *why)
{
	struct ns_rev *r = xcalloc(1, sizeof(*r));
	struct load_ctx lc = {ns, old, r, 0, 0};
	char *path = NULL, hex[DIGEST_HEX_LEN + 1], cwhy[CACHE_WHY_MAX];
	int rc;

	digest_to_hex(&m->root_catalog, hex);
	rc = cache_catalog_path(ns->cache, &m->root_catalog,
				m->root_catalog_size, &path, cwhy);
	if (rc) {
		refuse(why, rc, "revision %" PRIu64 ": root catalog '%s': %s",
		       m->revision, hex, cwhy[0] ? cwhy : strerror(-rc));
		goto fail;
	}
	rc = repo_catalog_open(path, &r->root);
	free(path);
	if (rc) {
		refuse(why, rc,
		       "revision %" PRIu64 ": root catalog '%s': cannot "
		       "open it: %s",
		       m->revision, hex, strerror(-rc));
		goto fail;
	}
	rc = repo_catalog_datasets(r->root, load_dataset, &lc);
	if (rc) {
		refuse(why, rc,
		       "revision %" PRIu64 ": root catalog '%s': "
		       "unreadable: %s",
		       m->revision, hex, strerror(-rc));
		goto fail;
	}
	pthread_mutex_lock(&ns->lock);
	for (unsigned w = 0; w < LABEL_KINDS; w++) {
		struct label_sort ls = {ns, w};

		/* none of a kind (no contributor): a NULL array qsort_r
		 * may not be given */
		if (r->nlabels[w] > 1)
			qsort_r(r->labels[w], r->nlabels[w], sizeof(uint32_t),
				label_cmp, &ls);
	}
	pthread_mutex_unlock(&ns->lock);
	r->m = *m;
	memset(m, 0, sizeof(*m));
	r->refs = 1;
	*out = r;
	return 0;
fail:
	rev_free(r);
	return rc;
}

/*
 * Fetch and verify the manifest; refuse rollbacks. Each refusal says
 * which (#8 §4): the origin's answer, not a manifest, its format, a
 * malformed line, the signature, a rollback.
 */
static int manifest_get_one(ns_t *ns, struct repo_manifest *m, char *why,
			    bool *refused)
{
	char *data = NULL, cwhy[CACHE_WHY_MAX], mwhy[REPO_MANIFEST_WHY_MAX];
	uint64_t seen = 0;
	size_t len;
	int rc = cache_manifest_fetch(ns->cache, &data, &len, cwhy);

	*refused = false;
	if (rc == -ENOENT)
		return refuse(why, rc,
			      "manifest: the origin has none (%s): is this "
			      "the repository's URL?",
			      cwhy);
	if (rc)
		return refuse(why, rc, "manifest: origin unreachable: %s",
			      cwhy[0] ? cwhy : strerror(-rc));
	rc = repo_manifest_decode_reason(data, len, ns->pub, m, mwhy,
					 sizeof(mwhy));
	free(data);
	*refused = rc != 0;
	if (rc == -EBADMSG)
		return refuse(why, rc,
			      "manifest: %s (wrong pubkey, or a forged "
			      "manifest)",
			      mwhy);
	if (rc)
		return refuse(why, rc, "manifest: %s", mwhy);
	cache_revision_load(ns->cache, ns->key_id, &seen);
	if (m->revision < seen) {
		COUNT_ADD(ns->counters.rollbacks_refused, 1);
		refuse(why, -ESTALE,
		       "manifest: revision %" PRIu64 " is older than "
		       "revision %" PRIu64 " already seen: refusing a "
		       "rollback",
		       m->revision, seen);
		repo_manifest_release(m);
		*refused = true;
		return -ESTALE;
	}
	return 0;
}

/* With mirrors, a refused manifest (another key's, malformed, older)
 * passes that mirror over and the next one is asked. */
#define MANIFEST_MIRRORS_MAX 16

static int manifest_get(ns_t *ns, struct repo_manifest *m, char *why)
{
	bool refused;
	int rc;

	for (int i = 0;; i++) {
		rc = manifest_get_one(ns, m, why, &refused);
		if (!rc || !refused || i + 1 >= MANIFEST_MIRRORS_MAX ||
		    !cache_manifest_refuse(ns->cache, why ? why : "refused"))
			return rc;
		log_warn("%s; asking another mirror",
			 why ? why : "manifest refused");
	}
}

int ns_new(cache_t *cache, const repo_key_t *pub, auth_t *auth, ns_t **out,
	   char *why)
{
	ns_t *ns = xcalloc(1, sizeof(*ns));
	struct repo_manifest m;
	int rc;

	ns->cache = cache;
	ns->pub = pub;
	ns->auth = auth;
	pthread_mutex_init(&ns->lock, NULL);
	pthread_mutex_init(&ns->files_lock, NULL);
	ns->slots = xcalloc(SLOT_MAX, sizeof(*ns->slots));
	ns->next_high_slot = SLOT_HIGH_START;
	if (why)
		why[0] = '\0';
	rc = repo_key_public_raw(pub, ns->key_id);
	if (!rc)
		rc = manifest_get(ns, &m, why);
	if (rc)
		goto fail;
	rc = rev_load(ns, &m, NULL, &ns->rev, why);
	repo_manifest_release(&m);
	if (rc)
		goto fail;
	auth_set_revoked(auth, ns->rev->m.revoked, ns->rev->m.revoked_count);
	cache_revision_store(cache, ns->key_id, ns->rev->m.revision);
	ns->counters.revision = ns->rev->m.revision;
	*out = ns;
	return 0;
fail:
	ns_free(ns);
	return rc;
}

void ns_free(ns_t *ns)
{
	if (!ns)
		return;
	ns_files_release_all(ns);
	ns_receipts_free(ns);
	if (ns->rev)
		rev_free(ns->rev);
	ns_slots_free(ns);
	for (unsigned w = 0; w < LABEL_KINDS; w++) {
		for (uint32_t i = 0; i < ns->nlabels[w]; i++)
			free(ns->labels[w][i]);
		free(ns->labels[w]);
	}
	pthread_mutex_destroy(&ns->files_lock);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

uint64_t ns_revision(ns_t *ns)
{
	struct ns_rev *r = ns_rev_get(ns);
	uint64_t v = r->m.revision;

	ns_rev_put(ns, r);
	return v;
}

void ns_totals(ns_t *ns, uint64_t *bytes, uint64_t *files)
{
	struct ns_rev *r = ns_rev_get(ns);

	*bytes = *files = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct repo_dataset *d = &ns_slot_at(ns, r->slots[i])->d;

		*bytes += d->bytes;
		*files += d->files;
	}
	ns_rev_put(ns, r);
}

uint32_t ns_ttl(ns_t *ns)
{
	struct ns_rev *r = ns_rev_get(ns);
	uint32_t v = r->m.ttl;

	ns_rev_put(ns, r);
	return v ? v : 1;
}

/* Tell the kernel about a dataset whose entry changed meaning. */
static void notify_dataset(ns_t *ns, const struct ns_notify *nf,
			   const struct ns_slot *s)
{
	nf->entry(nf->ctx, NS_INO_DATASETS, s->d.name);
	for (unsigned w = 0; w < LABEL_KINDS; w++) {
		if (s->label[w] == LABEL_NONE)
			continue;
		nf->entry(nf->ctx, LABEL_INO(w, s->label[w]), s->d.name);
		nf->inode(nf->ctx, LABEL_INO(w, s->label[w]));
	}
	(void)ns;
}

int ns_refresh(ns_t *ns, const struct ns_notify *nf)
{
	struct repo_manifest m;
	struct ns_rev *old = ns_rev_get(ns), *r = NULL;
	int rc = manifest_get(ns, &m, NULL);

	if (rc) {
		COUNT_ADD(ns->counters.refresh_errors, 1);
		goto out;
	}
	if (m.revision <= old->m.revision) {
		if (m.revision < old->m.revision) {
			log_error("manifest: revision %" PRIu64 " is older "
				  "than the mounted revision %" PRIu64
				  ": refusing a rollback",
				  m.revision, old->m.revision);
			COUNT_ADD(ns->counters.rollbacks_refused, 1);
		}
		repo_manifest_release(&m);
		goto out;
	}
	rc = rev_load(ns, &m, old, &r, NULL);
	repo_manifest_release(&m);
	if (rc) {
		COUNT_ADD(ns->counters.refresh_errors, 1);
		goto out;
	}
	cache_revision_store(ns->cache, ns->key_id, r->m.revision);
	/* revoked credentials stop working with the revision that says so */
	auth_set_revoked(ns->auth, r->m.revoked, r->m.revoked_count);
	pthread_mutex_lock(&ns->lock);
	ns->rev = r;
	old->refs--; /* the reference ns->rev held */
	pthread_mutex_unlock(&ns->lock);
	__atomic_store_n(&ns->counters.revision, r->m.revision,
			 __ATOMIC_RELAXED);
	log_info("switched to revision %" PRIu64, r->m.revision);

	/* names whose slot changed, appeared or disappeared */
	if (nf) {
		for (size_t i = 0; i < old->n; i++) {
			uint32_t ni = 0;
			struct ns_slot *s = ns_slot_at(ns, old->slots[i]);

			if (!ns_rev_find(ns, r, s->d.name, strlen(s->d.name),
					 &ni) ||
			    ni != old->slots[i])
				notify_dataset(ns, nf, s);
		}
		for (size_t i = 0; i < r->n; i++) {
			struct ns_slot *s = ns_slot_at(ns, r->slots[i]);

			if (!ns_rev_find(ns, old, s->d.name, strlen(s->d.name),
					 NULL))
				notify_dataset(ns, nf, s);
		}
		for (unsigned w = 0; w < LABEL_KINDS; w++) {
			uint64_t top = ns_label_top(w);

			for (size_t i = 0; i < old->nlabels[w]; i++)
				if (!rev_has_label(r, w, old->labels[w][i]))
					nf->entry(
					    nf->ctx, top,
					    ns_label_name(ns, w,
							  old->labels[w][i]));
			nf->inode(nf->ctx, top);
		}
		nf->inode(nf->ctx, NS_INO_DATASETS);
		nf->inode(nf->ctx, NS_INO_ROOT);
	}
	rc = 1;
out:
	ns_rev_put(ns, old);
	return rc;
}

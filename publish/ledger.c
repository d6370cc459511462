/*
 * The ledger of the alliance pool: per organisation, what it contributed
 * to a revision and what of it the pool did not already hold
 * (docs/POLICY.md). Datasets are visited in id order, and a chunk is
 * credited to the first dataset that references it: a set of the
 * digests seen so far decides.
 */
#include "publish.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Open addressing over digests; a zero slot is empty (the SHA-256 of
 * anything is all zeros with negligible probability, and such a digest
 * is counted apart). */
struct digest_set {
	struct digest *slots;
	size_t cap, count; /* cap: a power of two */
	bool has_zero;
};

static size_t slot_of(const struct digest_set *s, const struct digest *d)
{
	uint64_t h;

	memcpy(&h, d->b, sizeof(h)); /* a digest's bytes are uniform */
	return (size_t)h & (s->cap - 1);
}

static bool digest_zero(const struct digest *d)
{
	static const struct digest zero;

	return !memcmp(d->b, zero.b, sizeof(zero.b));
}

/* Add d; true if it was not there yet. */
static bool set_add(struct digest_set *s, const struct digest *d)
{
	size_t i;

	if (digest_zero(d)) {
		bool added = !s->has_zero;

		s->has_zero = true;
		return added;
	}
	if (2 * (s->count + 1) > s->cap) {
		struct digest_set bigger = {NULL, s->cap ? 2 * s->cap : 1024, 0,
					    s->has_zero};

		bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
		for (size_t k = 0; k < s->cap; k++)
			if (!digest_zero(&s->slots[k]))
				set_add(&bigger, &s->slots[k]);
		free(s->slots);
		*s = bigger;
	}
	for (i = slot_of(s, d); !digest_zero(&s->slots[i]);
	     i = (i + 1) & (s->cap - 1))
		if (digest_equal(&s->slots[i], d))
			return false;
	s->slots[i] = *d;
	s->count++;
	return true;
}

struct collect {
	struct publish_ledger *l;
	size_t alloc;
};

static int collect_dataset(void *arg, const struct repo_dataset *d)
{
	struct collect *c = arg;
	struct publish_ledger_dataset *x;

	if (c->l->ndatasets == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 32;
		c->l->datasets = xrealloc(c->l->datasets,
					  c->alloc * sizeof(*c->l->datasets));
	}
	x = &c->l->datasets[c->l->ndatasets++];
	memset(x, 0, sizeof(*x));
	x->name = xstrdup(d->name);
	x->contributor = d->contributor ? xstrdup(d->contributor) : NULL;
	x->id = d->id;
	x->tier = d->tier;
	x->files = d->files;
	x->bytes = d->bytes;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct publish_ledger_dataset *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Count dataset x's chunks, crediting those no earlier dataset has. */
static int count_chunks(struct publish_ledger_dataset *x, repo_catalog_t *cat,
			struct digest_set *seen)
{
	uint32_t count;
	int rc = repo_catalog_chunk_count(cat, &count);

	for (uint32_t id = 0; !rc && id < count; id++) {
		struct repo_chunk ch;

		rc = repo_catalog_chunk(cat, id, &ch);
		if (rc) {
			log_error("dataset '%s': chunk %u: unreadable record",
				  x->name, id);
			return rc == -ENOENT ? -EINVAL : rc;
		}
		x->chunks++;
		x->stored += ch.stored_size;
		if (set_add(seen, &ch.digest)) {
			x->credited_chunks++;
			x->credited += ch.stored_size;
		}
		if ((id & 0xffff) == 0xffff) /* a huge catalog stays unmapped */
			repo_catalog_trim(cat);
	}
	return rc;
}

static int org_cmp(const void *a, const void *b)
{
	const struct publish_ledger_org *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Group the datasets by contributor. */
static void build_orgs(struct publish_ledger *l)
{
	for (size_t i = 0; i < l->ndatasets; i++) {
		const struct publish_ledger_dataset *x = &l->datasets[i];
		struct publish_ledger_org *o = NULL;

		if (!x->contributor) {
			l->unattributed += x->credited;
			continue;
		}
		for (size_t k = 0; k < l->norgs && !o; k++)
			if (!strcmp(l->orgs[k].name, x->contributor))
				o = &l->orgs[k];
		if (!o) {
			l->orgs = xrealloc(l->orgs,
					   (l->norgs + 1) * sizeof(*l->orgs));
			o = &l->orgs[l->norgs++];
			memset(o, 0, sizeof(*o));
			o->name = xstrdup(x->contributor);
		}
		o->datasets = xrealloc(o->datasets, (o->ndatasets + 1) *
							sizeof(*o->datasets));
		o->datasets[o->ndatasets++] = i;
		o->files += x->files;
		o->bytes += x->bytes;
		o->stored += x->stored;
		o->contributed += x->credited;
	}
	qsort(l->orgs, l->norgs, sizeof(*l->orgs), org_cmp);
}

int publish_ledger_build(repo_catalog_t *root,
			 publish_catalog_open_fn open_catalog, void *ctx,
			 struct publish_ledger **out)
{
	struct publish_ledger *l = xcalloc(1, sizeof(*l));
	struct collect c = {l, 0};
	struct digest_set seen = {NULL, 0, 0, false};
	int rc;

	rc = repo_catalog_datasets(root, collect_dataset, &c);
	if (rc) {
		log_error("root catalog: unreadable: %s", strerror(-rc));
		goto out;
	}
	qsort(l->datasets, l->ndatasets, sizeof(*l->datasets), by_id);
	for (size_t i = 0; i < l->ndatasets; i++) {
		struct publish_ledger_dataset *x = &l->datasets[i];
		struct repo_dataset d;
		repo_catalog_t *cat = NULL;

		if (i > 0 && x->id == l->datasets[i - 1].id) {
			log_error("root catalog: datasets '%s' and '%s' have "
				  "the same id %u",
				  l->datasets[i - 1].name, x->name, x->id);
			rc = -EINVAL;
			goto out;
		}
		rc = repo_catalog_dataset(root, x->name, &d);
		if (!rc)
			rc = open_catalog(ctx, &d, &cat);
		repo_dataset_release(&d);
		if (!rc)
			rc = count_chunks(x, cat, &seen);
		repo_catalog_free(cat);
		if (rc)
			goto out;
		l->pool_chunks += x->credited_chunks;
		l->pool_stored += x->credited;
	}
	build_orgs(l);
out:
	free(seen.slots);
	if (rc) {
		publish_ledger_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void publish_ledger_free(struct publish_ledger *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->ndatasets; i++) {
		free(l->datasets[i].name);
		free(l->datasets[i].contributor);
	}
	for (size_t i = 0; i < l->norgs; i++) {
		free(l->orgs[i].name);
		free(l->orgs[i].datasets);
	}
	free(l->datasets);
	free(l->orgs);
	free(l);
}

const struct publish_ledger_org *
publish_ledger_org_find(const struct publish_ledger *l, const char *org)
{
	struct publish_ledger_org key = {.name = (char *)org};

	return bsearch(&key, l->orgs, l->norgs, sizeof(key), org_cmp);
}

ssize_t publish_ledger_dataset_find(const struct publish_ledger *l,
				    const char *name)
{
	for (size_t i = 0; i < l->ndatasets; i++)
		if (!strcmp(l->datasets[i].name, name))
			return (ssize_t)i;
	return -1;
}

/* The per-job accounts behind the data receipts (receipt.h). */
#define _GNU_SOURCE
#include "receipt.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* A listed file: an open-addressing table entry (opens 0: empty). */
struct file_entry {
	uint64_t file;
	uint64_t opens;
};

struct dataset_account {
	uint32_t dataset;
	uint64_t revision, opens, bytes, opens_unlisted;
	bool truncated;
	struct file_entry *table; /* cap entries, a power of two */
	size_t cap, n;
};

struct account {
	bool used;
	char *cgroup;
	uint64_t hash, id;
	uint32_t owner;
	uint64_t generation; /* changes at a reset or a drop */
	int64_t started;
	uint64_t resets;
	uint64_t last_use; /* the book's clock at its last open */
	uint64_t opens_unlisted, bytes_unlisted;
	struct dataset_account *ds;
	size_t nds, ads;
	size_t nfiles; /* listed, over its datasets */
};

struct receipt_book {
	pthread_mutex_t lock;
	struct receipt_limits lim;
	bool (*gone)(void *ctx, const char *cgroup, uint64_t id);
	void *ctx;
	struct account *acc; /* lim.cgroups of them */
	/* protected by lock: */
	uint64_t generations, clock, dropped, files_held;
};

/* tag.dataset of an open counted in its account only (past the limit
 * of datasets) */
#define DATASET_UNLISTED UINT32_MAX

static uint64_t path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int receipt_book_new(const struct receipt_limits *lim,
		     bool (*gone)(void *ctx, const char *cgroup, uint64_t id),
		     void *ctx, receipt_book_t **out)
{
	receipt_book_t *b = xcalloc(1, sizeof(*b));
	struct receipt_limits def = {RECEIPT_CGROUPS_MAX, RECEIPT_DATASETS_MAX,
				     RECEIPT_FILES_MAX, RECEIPT_FILES_TOTAL};

	b->lim = lim ? *lim : def;
	if (!b->lim.cgroups || !b->lim.datasets) {
		free(b);
		return -EINVAL;
	}
	b->gone = gone;
	b->ctx = ctx;
	b->acc = xcalloc(b->lim.cgroups, sizeof(*b->acc));
	pthread_mutex_init(&b->lock, NULL);
	*out = b;
	return 0;
}

/* Empty a's datasets; caller holds the lock. */
static void account_clear(receipt_book_t *b, struct account *a)
{
	for (size_t i = 0; i < a->nds; i++) {
		b->files_held -= a->ds[i].n;
		free(a->ds[i].table);
	}
	free(a->ds);
	a->ds = NULL;
	a->nds = a->ads = 0;
	a->nfiles = 0;
	a->opens_unlisted = a->bytes_unlisted = 0;
	a->generation = ++b->generations;
}

void receipt_book_free(receipt_book_t *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->lim.cgroups; i++) {
		account_clear(b, &b->acc[i]);
		free(b->acc[i].cgroup);
	}
	free(b->acc);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* The account of (cgroup, id); id 0 matches the one used last. Caller
 * holds the lock. */
static struct account *account_find(receipt_book_t *b, const char *cgroup,
				    uint64_t id)
{
	uint64_t h = path_hash(cgroup);
	struct account *best = NULL;

	for (unsigned i = 0; i < b->lim.cgroups; i++) {
		struct account *a = &b->acc[i];

		if (!a->used || a->hash != h || strcmp(a->cgroup, cgroup) ||
		    (id && a->id != id))
			continue;
		if (!best || a->last_use > best->last_use)
			best = a;
	}
	return best;
}

/* A slot for a new account: a free one, else drop one (a cgroup that is
 * gone first, else the one idle longest). Caller holds the lock. */
static struct account *account_slot(receipt_book_t *b)
{
	struct account *victim = NULL;

	for (unsigned i = 0; i < b->lim.cgroups; i++)
		if (!b->acc[i].used)
			return &b->acc[i];
	for (unsigned i = 0; b->gone && !victim && i < b->lim.cgroups; i++)
		if (b->gone(b->ctx, b->acc[i].cgroup, b->acc[i].id))
			victim = &b->acc[i];
	if (!victim) {
		victim = &b->acc[0];
		for (unsigned i = 1; i < b->lim.cgroups; i++)
			if (b->acc[i].last_use < victim->last_use)
				victim = &b->acc[i];
	}
	log_warn("receipts: more than %u cgroups: dropping the account of "
		 "cgroup '%s'",
		 b->lim.cgroups, victim->cgroup);
	b->dropped++;
	account_clear(b, victim);
	free(victim->cgroup);
	victim->cgroup = NULL;
	victim->used = false;
	return victim;
}

/* Insert or count file in d's table (d of a). Caller holds the lock. */
static void file_count(receipt_book_t *b, struct account *a,
		       struct dataset_account *d, uint64_t file)
{
	size_t mask, i;

	if (d->cap) {
		mask = d->cap - 1;
		for (i = (size_t)(file * 11400714819323198485ull) & mask;
		     d->table[i].opens; i = (i + 1) & mask) {
			if (d->table[i].file == file) {
				d->table[i].opens++;
				return;
			}
		}
	}
	if (a->nfiles >= b->lim.files || b->files_held >= b->lim.files_total) {
		d->truncated = true;
		d->opens_unlisted++;
		return;
	}
	if (2 * (d->n + 1) > d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct file_entry *t = xcalloc(cap, sizeof(*t));

		for (size_t k = 0; k < d->cap; k++) {
			if (!d->table[k].opens)
				continue;
			for (i = (size_t)(d->table[k].file *
					  11400714819323198485ull) &
				 (cap - 1);
			     t[i].opens; i = (i + 1) & (cap - 1))
				;
			t[i] = d->table[k];
		}
		free(d->table);
		d->table = t;
		d->cap = cap;
	}
	mask = d->cap - 1;
	for (i = (size_t)(file * 11400714819323198485ull) & mask;
	     d->table[i].opens; i = (i + 1) & mask)
		;
	d->table[i].file = file;
	d->table[i].opens = 1;
	d->n++;
	a->nfiles++;
	b->files_held++;
}

void receipt_record_open(receipt_book_t *b, const char *cgroup, uint64_t id,
			 uint32_t owner, uint32_t dataset, uint64_t revision,
			 uint64_t file, int64_t now, struct receipt_tag *tag)
{
	struct account *a;
	struct dataset_account *d = NULL;

	memset(tag, 0, sizeof(*tag));
	pthread_mutex_lock(&b->lock);
	a = account_find(b, cgroup, id);
	if (!a) {
		a = account_slot(b);
		a->used = true;
		a->cgroup = xstrdup(cgroup);
		a->hash = path_hash(cgroup);
		a->id = id;
		a->owner = owner;
		a->started = now;
		a->resets = 0;
		a->generation = ++b->generations;
	}
	a->last_use = ++b->clock;
	tag->account = (uint32_t)(a - b->acc) + 1;
	tag->generation = a->generation;
	for (size_t i = 0; i < a->nds; i++) {
		if (a->ds[i].dataset == dataset) {
			d = &a->ds[i];
			break;
		}
	}
	if (!d && a->nds >= b->lim.datasets) {
		a->opens_unlisted++;
		tag->dataset = DATASET_UNLISTED;
		goto out;
	}
	if (!d) {
		if (a->nds == a->ads) {
			a->ads = a->ads ? 2 * a->ads : 4;
			a->ds = xrealloc(a->ds, a->ads * sizeof(*a->ds));
		}
		d = &a->ds[a->nds++];
		memset(d, 0, sizeof(*d));
		d->dataset = dataset;
		d->revision = revision;
	}
	d->opens++;
	file_count(b, a, d, file);
	tag->dataset = (uint32_t)(d - a->ds);
out:
	pthread_mutex_unlock(&b->lock);
}

void receipt_record_bytes(receipt_book_t *b, const struct receipt_tag *tag,
			  uint64_t n)
{
	struct account *a;

	if (!tag->account || !n)
		return;
	pthread_mutex_lock(&b->lock);
	a = &b->acc[tag->account - 1];
	if (a->used && a->generation == tag->generation) {
		if (tag->dataset == DATASET_UNLISTED)
			a->bytes_unlisted += n;
		else if (tag->dataset < a->nds)
			a->ds[tag->dataset].bytes += n;
	}
	pthread_mutex_unlock(&b->lock);
}

static int file_cmp(const void *x, const void *y)
{
	const struct receipt_file *a = x, *b = y;

	return a->file < b->file ? -1 : a->file > b->file;
}

int receipt_snapshot(receipt_book_t *b, const char *cgroup, uint64_t id,
		     bool reset, int64_t now, struct receipt_account *out)
{
	struct account *a;

	memset(out, 0, sizeof(*out));
	out->cgroup = xstrdup(cgroup);
	out->id = id;
	out->started = now;
	pthread_mutex_lock(&b->lock);
	a = account_find(b, cgroup, id);
	if (!a) {
		pthread_mutex_unlock(&b->lock);
		return -ENOENT;
	}
	out->id = a->id;
	out->owner = a->owner;
	out->started = a->started;
	out->resets = a->resets;
	out->opens_unlisted = a->opens_unlisted;
	out->bytes_unlisted = a->bytes_unlisted;
	out->ndatasets = a->nds;
	out->datasets = xcalloc(a->nds ? a->nds : 1, sizeof(*out->datasets));
	for (size_t i = 0; i < a->nds; i++) {
		const struct dataset_account *d = &a->ds[i];
		struct receipt_dataset *o = &out->datasets[i];
		size_t k = 0;

		o->dataset = d->dataset;
		o->revision = d->revision;
		o->opens = d->opens;
		o->bytes = d->bytes;
		o->opens_unlisted = d->opens_unlisted;
		o->truncated = d->truncated;
		o->nfiles = d->n;
		o->files = xcalloc(d->n ? d->n : 1, sizeof(*o->files));
		for (size_t t = 0; t < d->cap; t++) {
			if (!d->table[t].opens)
				continue;
			o->files[k].file = d->table[t].file;
			o->files[k].opens = d->table[t].opens;
			k++;
		}
	}
	if (reset) {
		account_clear(b, a);
		a->started = now;
		a->resets++;
	}
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < out->ndatasets; i++)
		qsort(out->datasets[i].files, out->datasets[i].nfiles,
		      sizeof(struct receipt_file), file_cmp);
	return 0;
}

void receipt_account_release(struct receipt_account *a)
{
	for (size_t i = 0; i < a->ndatasets; i++)
		free(a->datasets[i].files);
	free(a->datasets);
	free(a->cgroup);
	memset(a, 0, sizeof(*a));
}

void receipt_book_counts(receipt_book_t *b, uint64_t *dropped,
			 uint64_t *files_held)
{
	pthread_mutex_lock(&b->lock);
	*dropped = b->dropped;
	*files_held = b->files_held;
	pthread_mutex_unlock(&b->lock);
}

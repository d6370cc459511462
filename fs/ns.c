/* The mount's namespace: views, inode numbers, reads, revisions. */
#define _GNU_SOURCE
#include "ns.h"
#include "stats.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define SLOT_BITS 20
#define KEY_RETRY_SEC 30
#define SLOT_MAX (1u << SLOT_BITS)
#define SLOT_HIGH_START (1u << (SLOT_BITS - 1))
#define LOCAL_MASK ((1ULL << 40) - 1)
#define TREE_INO(view, slot, local)                                            \
	((2ULL << 62) | ((uint64_t)(view) << 60) | ((uint64_t)(slot) << 40) |  \
	 (local))
#define LABEL_INO(which, i) ((1ULL << 62) | ((uint64_t)(which) << 40) | (i))
#define INO_KIND(ino) ((ino) >> 62)
#define TREE_VIEW(ino) ((unsigned)(((ino) >> 60) & 3))
#define TREE_SLOT(ino) ((uint32_t)(((ino) >> 40) & (SLOT_MAX - 1)))
#define TREE_LOCAL(ino) ((ino)&LOCAL_MASK)
#define LABEL_WHICH(ino) ((unsigned)(((ino) >> 40) & 1))
#define LABEL_INDEX(ino) ((uint32_t)((ino)&0xffffffffu))

#define READAHEAD_BYTES (32u << 20)
#define SYNTHETIC_TIMEOUT 1.0

#define COUNT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define COUNT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

enum { LABEL_INDUSTRY = 0, LABEL_MODALITY = 1 };

/* One catalog of one dataset; never freed while the mount lives, so an
 * inode number stays meaningful for as long as the kernel holds it. */
struct ns_slot {
	struct repo_dataset d;
	uint32_t label[2];
	pthread_mutex_t lock;
	repo_catalog_t *cat; /* opened on first use; protected by lock */
	/* secure tier: the dataset key, unsealed in memory only */
	int key_state; /* 0 unknown, 1 held, <0 -errno; protected by lock */
	time_t key_checked;		   /* protected by lock */
	uint8_t key[AUTH_DATASET_KEY_LEN]; /* protected by lock */
};

/* One revision: its manifest, root catalog and datasets by name. */
struct ns_rev {
	unsigned refs; /* protected by ns->lock */
	struct repo_manifest m;
	repo_catalog_t *root;
	uint32_t *slots; /* dataset slots in name order */
	size_t n;
	uint32_t *labels[2]; /* label indices present, in name order */
	size_t nlabels[2];
};

struct ns {
	cache_t *cache;
	const repo_key_t *pub;
	auth_t *auth;
	uint8_t key_id[32];
	pthread_mutex_t lock;
	struct ns_rev *rev;	     /* protected by lock */
	struct ns_slot **slots;	     /* SLOT_MAX pointers; protected by lock */
	uint32_t next_high_slot;     /* protected by lock */
	char **labels[2];	     /* append-only; protected by lock */
	uint32_t nlabels[2];	     /* protected by lock */
	struct ns_slot **open_slots; /* slots with a catalog open; lock */
	size_t nopen;		     /* protected by lock */
	uint64_t catalog_ops;	     /* atomic: lookups/readdirs since a trim */
	struct fs_counters counters; /* atomics */
};

enum ns_file_kind { FILE_TREE, FILE_GENERATED, FILE_LOGIN };

struct ns_file {
	enum ns_file_kind kind;
	struct ns_slot *slot;
	struct repo_inode inode;
	uint64_t *starts; /* starts[k]: file offset of extent k; [count]=size */
	char *text;	  /* generated content */
	size_t text_len;
	pthread_mutex_t lock;
	uint64_t next_off; /* protected by lock: where a sequential reader
			    * continues */
	/* secure files: the last chunk read stays held, so its shared
	 * plaintext outlives a read and a sequential reader of this file
	 * does not decrypt it again; protected by lock */
	struct cache_chunk_ref held;
	uint32_t held_id;
	uint32_t prefetched_to; /* protected by lock: extents queued */
};

/* ------------------------------------------------------------ helpers -- */

static struct ns_rev *rev_get(ns_t *ns)
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
	free(r->labels[0]);
	free(r->labels[1]);
	free(r);
}

static void rev_put(ns_t *ns, struct ns_rev *r)
{
	bool last;

	pthread_mutex_lock(&ns->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&ns->lock);
	if (last)
		rev_free(r);
}

static struct ns_slot *slot_get(ns_t *ns, uint32_t i)
{
	struct ns_slot *s;

	pthread_mutex_lock(&ns->lock);
	s = i < SLOT_MAX ? ns->slots[i] : NULL;
	pthread_mutex_unlock(&ns->lock);
	return s;
}

static const char *label_name(ns_t *ns, unsigned which, uint32_t i)
{
	const char *name = NULL;

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
static struct ns_slot *rev_find(ns_t *ns, struct ns_rev *r, const char *name,
				size_t len, uint32_t *slot_index)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct ns_slot *s = slot_get(ns, r->slots[mid]);
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

static int slot_catalog(ns_t *ns, struct ns_slot *s, repo_catalog_t **out)
{
	char *path = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->cat) {
		rc = cache_catalog_path(ns->cache, &s->d.catalog, &path);
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
	return rc == -ENOENT ? -EIO : rc;
}

static void fill_dir(struct stat *st, uint64_t ino, uint32_t nlink,
		     int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = nlink;
	st->st_mtim.tv_sec = mtime;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blksize = 4096;
	st->st_size = 4096;
}

static void fill_inode(struct stat *st, uint64_t ino,
		       const struct repo_inode *i)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	/* read-only: no write bits, whatever the publisher had */
	st->st_mode = (i->mode & S_IFMT) | (i->mode & 0555);
	st->st_nlink = i->nlink;
	st->st_size = (off_t)i->size;
	st->st_blocks = (blkcnt_t)((i->size + 511) / 512);
	st->st_blksize = 1 << 20;
	st->st_mtim.tv_sec = i->mtime_sec;
	st->st_mtim.tv_nsec = i->mtime_nsec;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static void fill_dataset_root(struct stat *st, uint64_t ino,
			      const struct ns_slot *s)
{
	fill_dir(st, ino, s->d.root_nlink ? s->d.root_nlink : 2,
		 s->d.mtime_sec);
	st->st_mode = S_IFDIR | (s->d.root_mode & 0555);
	st->st_size = (off_t)s->d.root_size;
	st->st_mtim.tv_nsec = s->d.mtime_nsec;
	st->st_ctim = st->st_atim = st->st_mtim;
}

static size_t label_count(ns_t *ns, struct ns_rev *r, unsigned which,
			  uint32_t label)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += slot_get(ns, r->slots[i])->label[which] == label;
	return n;
}

/* ---------------------------------------------------------- revisions -- */

struct load_ctx {
	ns_t *ns;
	struct ns_rev *old;
	struct ns_rev *r;
	size_t alloc;
	int rc;
};

static int load_dataset(void *arg, const struct repo_dataset *d)
{
	struct load_ctx *lc = arg;
	ns_t *ns = lc->ns;
	struct ns_slot *s = NULL;
	uint32_t index = 0;

	/* unchanged since the previous revision: keep its slot and inodes */
	if (lc->old) {
		s = rev_find(ns, lc->old, d->name, strlen(d->name), &index);
		if (s && !digest_equal(&s->d.catalog, &d->catalog))
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
			s->label[LABEL_INDUSTRY] =
			    label_intern(ns, LABEL_INDUSTRY, d->industry);
			s->label[LABEL_MODALITY] =
			    label_intern(ns, LABEL_MODALITY, d->modality);
			pthread_mutex_init(&s->lock, NULL);
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
	for (unsigned w = 0; w < 2; w++) {
		if (!rev_has_label(lc->r, w, s->label[w])) {
			lc->r->labels[w] =
			    xrealloc(lc->r->labels[w], (lc->r->nlabels[w] + 1) *
							   sizeof(uint32_t));
			lc->r->labels[w][lc->r->nlabels[w]++] = s->label[w];
		}
	}
	return 0;
}

static ns_t *label_sort_ns; /* qsort has no context; set under refresh */

static int label_cmp_industry(const void *a, const void *b)
{
	return strcmp(label_sort_ns->labels[0][*(const uint32_t *)a],
		      label_sort_ns->labels[0][*(const uint32_t *)b]);
}

static int label_cmp_modality(const void *a, const void *b)
{
	return strcmp(label_sort_ns->labels[1][*(const uint32_t *)a],
		      label_sort_ns->labels[1][*(const uint32_t *)b]);
}

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fetch, verify and index the revision m names. */
static int rev_load(ns_t *ns, struct repo_manifest *m, struct ns_rev *old,
		    struct ns_rev **out)
{
	struct ns_rev *r = xcalloc(1, sizeof(*r));
	struct load_ctx lc = {ns, old, r, 0, 0};
	char *path = NULL;
	int rc;

	rc = cache_catalog_path(ns->cache, &m->root_catalog, &path);
	if (rc) {
		log_error("revision %" PRIu64 ": root catalog unavailable: %s",
			  m->revision, strerror(-rc));
		goto fail;
	}
	rc = repo_catalog_open(path, &r->root);
	free(path);
	if (rc)
		goto fail;
	rc = repo_catalog_datasets(r->root, load_dataset, &lc);
	if (rc) {
		log_error("revision %" PRIu64 ": unreadable root catalog: %s",
			  m->revision, strerror(-rc));
		goto fail;
	}
	pthread_mutex_lock(&load_lock);
	pthread_mutex_lock(&ns->lock);
	label_sort_ns = ns;
	qsort(r->labels[0], r->nlabels[0], sizeof(uint32_t),
	      label_cmp_industry);
	qsort(r->labels[1], r->nlabels[1], sizeof(uint32_t),
	      label_cmp_modality);
	pthread_mutex_unlock(&ns->lock);
	pthread_mutex_unlock(&load_lock);
	r->m = *m;
	memset(m, 0, sizeof(*m));
	r->refs = 1;
	*out = r;
	return 0;
fail:
	rev_free(r);
	return rc;
}

/* Fetch and verify the manifest; refuse rollbacks. */
static int manifest_get(ns_t *ns, struct repo_manifest *m)
{
	char *data = NULL;
	uint64_t seen = 0;
	size_t len;
	int rc = cache_manifest_fetch(ns->cache, &data, &len);

	if (rc) {
		log_error("manifest: cannot fetch from the origin: %s",
			  strerror(-rc));
		return rc;
	}
	rc = repo_manifest_decode(data, len, ns->pub, m);
	free(data);
	if (rc == -EBADMSG) {
		log_error("manifest: signature does not verify with the "
			  "pinned platform key (wrong key or forged manifest)");
		return rc;
	}
	if (rc) {
		log_error("manifest: malformed or unsupported format");
		return -EBADMSG;
	}
	cache_revision_load(ns->cache, ns->key_id, &seen);
	if (m->revision < seen) {
		log_error("manifest: revision %" PRIu64 " is older than "
			  "revision %" PRIu64 " already seen: refusing a "
			  "rollback",
			  m->revision, seen);
		COUNT_ADD(ns->counters.rollbacks_refused, 1);
		repo_manifest_release(m);
		return -ESTALE;
	}
	return 0;
}

int ns_new(cache_t *cache, const repo_key_t *pub, auth_t *auth, ns_t **out)
{
	ns_t *ns = xcalloc(1, sizeof(*ns));
	struct repo_manifest m;
	int rc;

	ns->cache = cache;
	ns->pub = pub;
	ns->auth = auth;
	pthread_mutex_init(&ns->lock, NULL);
	ns->slots = xcalloc(SLOT_MAX, sizeof(*ns->slots));
	ns->next_high_slot = SLOT_HIGH_START;
	rc = repo_key_public_raw(pub, ns->key_id);
	if (!rc)
		rc = manifest_get(ns, &m);
	if (rc)
		goto fail;
	rc = rev_load(ns, &m, NULL, &ns->rev);
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
	if (ns->rev)
		rev_free(ns->rev);
	for (uint32_t i = 0; ns->slots && i < SLOT_MAX; i++) {
		struct ns_slot *s = ns->slots[i];

		if (!s)
			continue;
		repo_catalog_free(s->cat);
		explicit_bzero(s->key, sizeof(s->key));
		repo_dataset_release(&s->d);
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
	for (unsigned w = 0; w < 2; w++) {
		for (uint32_t i = 0; i < ns->nlabels[w]; i++)
			free(ns->labels[w][i]);
		free(ns->labels[w]);
	}
	free(ns->slots);
	free(ns->open_slots);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

uint64_t ns_revision(ns_t *ns)
{
	struct ns_rev *r = rev_get(ns);
	uint64_t v = r->m.revision;

	rev_put(ns, r);
	return v;
}

uint32_t ns_ttl(ns_t *ns)
{
	struct ns_rev *r = rev_get(ns);
	uint32_t v = r->m.ttl;

	rev_put(ns, r);
	return v ? v : 1;
}

/* Tell the kernel about a dataset whose entry changed meaning. */
static void notify_dataset(ns_t *ns, const struct ns_notify *nf,
			   const struct ns_slot *s)
{
	nf->entry(nf->ctx, NS_INO_DATASETS, s->d.name);
	nf->entry(nf->ctx, LABEL_INO(0, s->label[0]), s->d.name);
	nf->entry(nf->ctx, LABEL_INO(1, s->label[1]), s->d.name);
	nf->inode(nf->ctx, LABEL_INO(0, s->label[0]));
	nf->inode(nf->ctx, LABEL_INO(1, s->label[1]));
	(void)ns;
}

int ns_refresh(ns_t *ns, const struct ns_notify *nf)
{
	struct repo_manifest m;
	struct ns_rev *old = rev_get(ns), *r = NULL;
	int rc = manifest_get(ns, &m);

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
	rc = rev_load(ns, &m, old, &r);
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
			struct ns_slot *s = slot_get(ns, old->slots[i]);

			if (!rev_find(ns, r, s->d.name, strlen(s->d.name),
				      &ni) ||
			    ni != old->slots[i])
				notify_dataset(ns, nf, s);
		}
		for (size_t i = 0; i < r->n; i++) {
			struct ns_slot *s = slot_get(ns, r->slots[i]);

			if (!rev_find(ns, old, s->d.name, strlen(s->d.name),
				      NULL))
				notify_dataset(ns, nf, s);
		}
		for (unsigned w = 0; w < 2; w++) {
			uint64_t top =
			    w ? NS_INO_BY_MODALITY : NS_INO_BY_INDUSTRY;

			for (size_t i = 0; i < old->nlabels[w]; i++)
				if (!rev_has_label(r, w, old->labels[w][i]))
					nf->entry(
					    nf->ctx, top,
					    label_name(ns, w,
						       old->labels[w][i]));
			nf->inode(nf->ctx, top);
		}
		nf->inode(nf->ctx, NS_INO_DATASETS);
		nf->inode(nf->ctx, NS_INO_ROOT);
	}
	rc = 1;
out:
	rev_put(ns, old);
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

static void count_catalog_op(ns_t *ns)
{
	if (__atomic_add_fetch(&ns->catalog_ops, 1, __ATOMIC_RELAXED) %
		TRIM_EVERY_OPS ==
	    0)
		ns_trim(ns);
}

/* --------------------------------------------------------- attributes -- */

static int tree_resolve(ns_t *ns, uint64_t ino, struct ns_slot **slot,
			repo_catalog_t **cat)
{
	struct ns_slot *s = slot_get(ns, TREE_SLOT(ino));

	if (!s || TREE_VIEW(ino) > 2 || TREE_LOCAL(ino) == 0)
		return -ENOENT;
	*slot = s;
	return cat ? slot_catalog(ns, s, cat) : 0;
}

int ns_getattr(ns_t *ns, uint64_t ino, struct stat *st, double *timeout)
{
	struct ns_rev *r;
	int rc = 0;

	*timeout = SYNTHETIC_TIMEOUT;
	if (INO_KIND(ino) == 2) {
		struct ns_slot *s;
		repo_catalog_t *cat;
		struct repo_inode i;

		*timeout = NS_TIMEOUT_IMMUTABLE;
		if (TREE_LOCAL(ino) == REPO_ROOT_INO) {
			rc = tree_resolve(ns, ino, &s, NULL);
			if (!rc)
				fill_dataset_root(st, ino, s);
			return rc;
		}
		rc = tree_resolve(ns, ino, &s, &cat);
		if (!rc)
			rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
		if (rc)
			return rc == -EINVAL ? -EIO : rc;
		fill_inode(st, ino, &i);
		repo_inode_release(&i);
		return 0;
	}
	r = rev_get(ns);
	if (INO_KIND(ino) == 1) {
		unsigned w = LABEL_WHICH(ino);

		if (!label_name(ns, w, LABEL_INDEX(ino)))
			rc = -ENOENT;
		else
			fill_dir(st, ino,
				 2 + (uint32_t)label_count(ns, r, w,
							   LABEL_INDEX(ino)),
				 r->m.created);
		goto out;
	}
	switch (ino) {
	case NS_INO_ROOT:
		fill_dir(st, ino, 6, r->m.created);
		break;
	case NS_INO_DATASETS:
		fill_dir(st, ino, 2 + (uint32_t)r->n, r->m.created);
		break;
	case NS_INO_BY_INDUSTRY:
	case NS_INO_BY_MODALITY:
		fill_dir(st, ino,
			 2 + (uint32_t)r->nlabels[ino == NS_INO_BY_MODALITY],
			 r->m.created);
		break;
	case NS_INO_CONTROL:
		fill_dir(st, ino, 2, r->m.created);
		break;
	case NS_INO_STATS:
	case NS_INO_REVISION:
	case NS_INO_WHOAMI:
	case NS_INO_LOGIN:
		memset(st, 0, sizeof(*st));
		st->st_ino = ino;
		st->st_mode = S_IFREG | (ino == NS_INO_LOGIN ? 0222 : 0444);
		st->st_nlink = 1;
		st->st_mtim.tv_sec = r->m.created;
		*timeout = 0;
		break;
	default:
		rc = -ENOENT;
	}
out:
	rev_put(ns, r);
	return rc;
}

static const char *const root_names[] = {"datasets", "by-industry",
					 "by-modality", ".aidata"};
static const uint64_t root_inos[] = {NS_INO_DATASETS, NS_INO_BY_INDUSTRY,
				     NS_INO_BY_MODALITY, NS_INO_CONTROL};
static const char *const control_names[] = {"login", "revision", "stats",
					    "whoami"};
static const uint64_t control_inos[] = {NS_INO_LOGIN, NS_INO_REVISION,
					NS_INO_STATS, NS_INO_WHOAMI};
#define CONTROL_COUNT 4

int ns_lookup(ns_t *ns, uint64_t parent, const char *name, uint64_t *ino,
	      struct stat *st, double *timeout)
{
	size_t len = strlen(name);
	struct ns_rev *r;
	int rc = -ENOENT;

	if (INO_KIND(parent) == 2) {
		struct ns_slot *s;
		repo_catalog_t *cat;
		uint32_t type;
		uint64_t child;

		count_catalog_op(ns);
		rc = tree_resolve(ns, parent, &s, &cat);
		if (!rc)
			rc = repo_catalog_lookup(cat, TREE_LOCAL(parent), name,
						 len, &child, &type);
		if (rc)
			return rc == -EINVAL ? -EIO : rc;
		if (child == 0 || child > LOCAL_MASK)
			return -EIO;
		*ino = TREE_INO(TREE_VIEW(parent), TREE_SLOT(parent), child);
		return ns_getattr(ns, *ino, st, timeout);
	}
	r = rev_get(ns);
	if (INO_KIND(parent) == 1) {
		unsigned w = LABEL_WHICH(parent);
		uint32_t index;
		struct ns_slot *s = rev_find(ns, r, name, len, &index);

		if (s && s->label[w] == LABEL_INDEX(parent)) {
			*ino = TREE_INO(w + 1, index, REPO_ROOT_INO);
			rc = 0;
		}
	} else if (parent == NS_INO_ROOT) {
		for (unsigned i = 0; i < 4; i++)
			if (!strcmp(name, root_names[i])) {
				*ino = root_inos[i];
				rc = 0;
			}
	} else if (parent == NS_INO_CONTROL) {
		for (unsigned i = 0; i < CONTROL_COUNT; i++)
			if (!strcmp(name, control_names[i])) {
				*ino = control_inos[i];
				rc = 0;
			}
	} else if (parent == NS_INO_DATASETS) {
		uint32_t index;

		if (rev_find(ns, r, name, len, &index)) {
			*ino = TREE_INO(0, index, REPO_ROOT_INO);
			rc = 0;
		}
	} else if (parent == NS_INO_BY_INDUSTRY ||
		   parent == NS_INO_BY_MODALITY) {
		unsigned w = parent == NS_INO_BY_MODALITY;

		for (size_t i = 0; i < r->nlabels[w]; i++) {
			if (!strcmp(label_name(ns, w, r->labels[w][i]), name)) {
				*ino = LABEL_INO(w, r->labels[w][i]);
				rc = 0;
			}
		}
	}
	rev_put(ns, r);
	if (rc)
		return rc;
	rc = ns_getattr(ns, *ino, st, timeout);
	/* names chosen by the current revision; a switch invalidates them */
	if (!rc && INO_KIND(*ino) == 2)
		*timeout = NS_TIMEOUT_IMMUTABLE;
	return rc;
}

/* ----------------------------------------------------------- listings -- */

static void type_only(struct stat *st, uint64_t ino, mode_t type)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = type;
}

struct tree_fill {
	ns_t *ns;
	uint64_t dir;
	repo_catalog_t *cat;
	bool plus;
	ns_fill_fn fill;
	void *ctx;
	int rc;
};

static int tree_entry(void *arg, const char *name, size_t len, uint64_t local,
		      uint32_t type)
{
	struct tree_fill *tf = arg;
	uint64_t ino = TREE_INO(TREE_VIEW(tf->dir), TREE_SLOT(tf->dir), local);
	struct stat st;

	if (local == 0 || local > LOCAL_MASK) {
		tf->rc = -EIO;
		return 1;
	}
	if (tf->plus) {
		struct repo_inode i;
		int rc = repo_catalog_inode(tf->cat, local, &i);

		if (rc) {
			tf->rc = rc == -EINVAL ? -EIO : rc;
			return 1;
		}
		fill_inode(&st, ino, &i);
		repo_inode_release(&i);
	} else {
		type_only(&st, ino, type);
	}
	return tf->fill(tf->ctx, name, len, &st, local + 2) ? 1 : 0;
}

int ns_readdir(ns_t *ns, uint64_t ino, uint64_t off, bool plus, ns_fill_fn fill,
	       void *ctx)
{
	struct stat st;
	double timeout;
	struct ns_rev *r;
	int rc;

	/* "." and ".." take cookies 1 and 2 in every directory */
	rc = ns_getattr(ns, ino, &st, &timeout);
	if (rc)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (off < 1 && fill(ctx, ".", 1, &st, 1))
		return 0;
	if (off < 2) {
		type_only(&st, NS_INO_ROOT, S_IFDIR);
		if (fill(ctx, "..", 2, &st, 2))
			return 0;
	}
	if (INO_KIND(ino) == 2) {
		struct tree_fill tf = {ns, ino, NULL, plus, fill, ctx, 0};
		struct ns_slot *s;

		count_catalog_op(ns);
		rc = tree_resolve(ns, ino, &s, &tf.cat);
		if (!rc)
			rc = repo_catalog_readdir(tf.cat, TREE_LOCAL(ino),
						  off > 2 ? off - 2 : 0,
						  tree_entry, &tf);
		if (rc == 1)
			rc = 0;
		rc = rc ? rc : tf.rc;
		return rc == -EINVAL ? -EIO : rc;
	}

	/* synthetic directories: cookie 3 + i resumes after entry i */
	r = rev_get(ns);
	rc = 0;
	for (uint64_t i = off > 2 ? off - 2 : 0;; i++) {
		const char *name = NULL;
		uint64_t child = 0;

		if (ino == NS_INO_ROOT && i < 4) {
			name = root_names[i];
			child = root_inos[i];
		} else if (ino == NS_INO_CONTROL && i < CONTROL_COUNT) {
			name = control_names[i];
			child = control_inos[i];
		} else if (ino == NS_INO_DATASETS && i < r->n) {
			name = slot_get(ns, r->slots[i])->d.name;
			child = TREE_INO(0, r->slots[i], REPO_ROOT_INO);
		} else if ((ino == NS_INO_BY_INDUSTRY ||
			    ino == NS_INO_BY_MODALITY)) {
			unsigned w = ino == NS_INO_BY_MODALITY;

			if (i < r->nlabels[w]) {
				name = label_name(ns, w, r->labels[w][i]);
				child = LABEL_INO(w, r->labels[w][i]);
			}
		} else if (INO_KIND(ino) == 1) {
			unsigned w = LABEL_WHICH(ino);
			uint64_t seen = 0;

			/* the i-th dataset carrying this label */
			for (size_t k = 0; k < r->n; k++) {
				struct ns_slot *s = slot_get(ns, r->slots[k]);

				if (s->label[w] != LABEL_INDEX(ino))
					continue;
				if (seen++ == i) {
					name = s->d.name;
					child = TREE_INO(w + 1, r->slots[k],
							 REPO_ROOT_INO);
					break;
				}
			}
		}
		if (!name)
			break;
		if (plus) {
			rc = ns_getattr(ns, child, &st, &timeout);
			if (rc)
				break;
		} else {
			type_only(&st, child,
				  child >= NS_INO_STATS &&
					  child <= NS_INO_WHOAMI
				      ? S_IFREG
				      : S_IFDIR);
		}
		if (fill(ctx, name, strlen(name), &st, i + 3))
			break;
	}
	rev_put(ns, r);
	return rc;
}

int ns_readlink(ns_t *ns, uint64_t ino, char **target)
{
	struct ns_slot *s;
	repo_catalog_t *cat;
	struct repo_inode i;
	int rc;

	if (INO_KIND(ino) != 2)
		return -EINVAL;
	rc = tree_resolve(ns, ino, &s, &cat);
	if (!rc)
		rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
	if (rc)
		return rc == -EINVAL ? -EIO : rc;
	if (!S_ISLNK(i.mode)) {
		repo_inode_release(&i);
		return -EINVAL;
	}
	*target = i.target;
	i.target = NULL;
	repo_inode_release(&i);
	return 0;
}

/* -------------------------------------------------------------- files -- */

static char *render_stats(ns_t *ns)
{
	struct cache_stats cs;
	struct fs_counters fc;
	struct ns_rev *r = rev_get(ns);

	cache_stats_get(ns->cache, &cs);
	fc.revision = r->m.revision;
	fc.datasets = r->n;
	fc.bytes_served = COUNT_GET(ns->counters.bytes_served);
	fc.reads = COUNT_GET(ns->counters.reads);
	fc.opens = COUNT_GET(ns->counters.opens);
	fc.read_errors = COUNT_GET(ns->counters.read_errors);
	fc.refresh_errors = COUNT_GET(ns->counters.refresh_errors);
	fc.rollbacks_refused = COUNT_GET(ns->counters.rollbacks_refused);
	fc.catalogs_open = COUNT_GET(ns->counters.catalogs_open);
	rev_put(ns, r);
	return stats_render(&cs, &fc);
}

/*
 * The secure tier: this node's copy of the dataset key, unsealed in memory
 * from keys/<dataset>/<node id> on first use. 0 when held.
 */
static int slot_dataset_key(ns_t *ns, struct ns_slot *s,
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

/* "/datasets/<dataset>/a/b" for the audit, walking up the catalog. */
static char *tree_path(repo_catalog_t *cat, const struct ns_slot *s,
		       uint64_t local)
{
	char *path = xstrdup("");

	for (int depth = 0; local != REPO_ROOT_INO && depth < 512; depth++) {
		struct repo_inode i;
		char *next;

		if (repo_catalog_inode(cat, local, &i) != 0)
			break;
		next = xasprintf("/%s%s", i.name, path);
		free(path);
		path = next;
		local = i.parent;
		repo_inode_release(&i);
	}
	{
		char *full = xasprintf("/datasets/%s%s", s->d.name, path);

		free(path);
		return full;
	}
}

static void auth_request_init(ns_t *ns, struct auth_request *r,
			      const struct ns_caller *who, struct ns_slot *s,
			      const char *path)
{
	uint8_t key[AUTH_DATASET_KEY_LEN];

	memset(r, 0, sizeof(*r));
	r->uid = who->uid;
	r->pid = who->pid;
	r->path = path;
	r->dataset = s->d.name;
	r->tier = s->d.tier;
	r->dataset_key_ok =
	    s->d.tier == REPO_TIER_SECURE && slot_dataset_key(ns, s, key) == 0;
	explicit_bzero(key, sizeof(key));
}

static struct ns_file *generated(char *text)
{
	struct ns_file *f = xcalloc(1, sizeof(*f));

	f->kind = FILE_GENERATED;
	f->text = text;
	f->text_len = strlen(text);
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

int ns_open(ns_t *ns, uint64_t ino, const struct ns_caller *who, bool write,
	    struct ns_file **out, bool *direct_io)
{
	struct auth_request ar;
	enum auth_reason reason;
	struct ns_file *f;
	struct ns_slot *s;
	repo_catalog_t *cat;
	char *path;
	int rc;

	*direct_io = false;
	if (ino == NS_INO_LOGIN) {
		if (!write)
			return -EACCES;
		f = xcalloc(1, sizeof(*f));
		f->kind = FILE_LOGIN;
		pthread_mutex_init(&f->lock, NULL);
		*direct_io = true;
		*out = f;
		return 0;
	}
	if (write)
		return -EROFS;
	if (ino == NS_INO_STATS || ino == NS_INO_REVISION ||
	    ino == NS_INO_WHOAMI) {
		if (ino == NS_INO_STATS)
			f = generated(render_stats(ns));
		else if (ino == NS_INO_REVISION)
			f = generated(
			    xasprintf("%" PRIu64 "\n", ns_revision(ns)));
		else
			f = generated(auth_whoami(ns->auth, who->uid));
		*direct_io = true;
		*out = f;
		return 0;
	}
	if (INO_KIND(ino) != 2)
		return -EISDIR;
	if (TREE_LOCAL(ino) == REPO_ROOT_INO)
		return -EISDIR;
	rc = tree_resolve(ns, ino, &s, &cat);
	if (rc)
		return rc;
	f = xcalloc(1, sizeof(*f));
	f->kind = FILE_TREE;
	f->slot = s;
	rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &f->inode);
	if (rc) {
		free(f);
		return rc == -EINVAL ? -EIO : rc;
	}
	if (!S_ISREG(f->inode.mode)) {
		rc = S_ISDIR(f->inode.mode) ? -EISDIR : -ELOOP;
		repo_inode_release(&f->inode);
		free(f);
		return rc;
	}
	/* the tier decides here, once per open, and is audited */
	path = tree_path(cat, s, TREE_LOCAL(ino));
	auth_request_init(ns, &ar, who, s, path);
	rc = auth_check_open(ns->auth, &ar, &reason);
	free(path);
	if (rc) {
		repo_inode_release(&f->inode);
		free(f);
		return rc;
	}
	f->starts = xmalloc((f->inode.extent_count + 1) * sizeof(uint64_t));
	f->starts[0] = 0;
	for (uint32_t k = 0; k < f->inode.extent_count; k++)
		f->starts[k + 1] = f->starts[k] + f->inode.extents[k].length;
	pthread_mutex_init(&f->lock, NULL);
	COUNT_ADD(ns->counters.opens, 1);
	*out = f;
	return 0;
}

int ns_access(ns_t *ns, uint64_t ino, const struct ns_caller *who, int mask)
{
	struct auth_request ar;
	struct ns_slot *s;
	struct stat st;
	double timeout;
	int rc = ns_getattr(ns, ino, &st, &timeout);

	if (rc)
		return rc;
	if (mask & W_OK)
		return ino == NS_INO_LOGIN ? 0 : -EROFS;
	if (INO_KIND(ino) != 2 || !S_ISREG(st.st_mode) || !(mask & R_OK))
		return 0;
	rc = tree_resolve(ns, ino, &s, NULL);
	if (rc)
		return rc;
	if (s->d.tier == REPO_TIER_OPEN)
		return 0;
	auth_request_init(ns, &ar, who, s, "");
	return auth_decide(ns->auth, &ar) == AUTH_GRANTED ? 0 : -EACCES;
}

int ns_write(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
	     const char *data, size_t len)
{
	enum auth_reason reason;
	size_t n = len;
	int rc;

	if (f->kind != FILE_LOGIN)
		return -EBADF;
	while (n && (data[n - 1] == '\n' || data[n - 1] == ' '))
		n--;
	if (n == 6 && !memcmp(data, "logout", 6))
		rc = auth_logout(ns->auth, who->uid);
	else
		rc = auth_login(ns->auth, who->uid, data, n, &reason);
	return rc ? rc : (int)len;
}

void ns_release(ns_t *ns, struct ns_file *f)
{
	if (!f)
		return;
	repo_inode_release(&f->inode);
	cache_chunk_release(ns->cache, &f->held);
	free(f->starts);
	free(f->text);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Index of the extent holding byte off (off < size). */
static uint32_t extent_at(const struct ns_file *f, uint64_t off)
{
	uint32_t lo = 0, hi = f->inode.extent_count;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (f->starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void readahead(ns_t *ns, struct ns_file *f, repo_catalog_t *cat,
		      uint64_t off, uint64_t end)
{
	uint32_t from, to;
	bool sequential;

	pthread_mutex_lock(&f->lock);
	sequential = off == f->next_off;
	f->next_off = end;
	if (!sequential || end >= f->inode.size) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	from = extent_at(f, end);
	if (from < f->prefetched_to)
		from = f->prefetched_to;
	to = from;
	while (to < f->inode.extent_count &&
	       f->starts[to] < end + READAHEAD_BYTES)
		to++;
	if (to > f->prefetched_to)
		f->prefetched_to = to;
	pthread_mutex_unlock(&f->lock);
	for (uint32_t k = from; k < to; k++) {
		struct repo_chunk ch;

		if (k > from &&
		    f->inode.extents[k].chunk == f->inode.extents[k - 1].chunk)
			continue;
		if (repo_catalog_chunk(cat, f->inode.extents[k].chunk, &ch) ==
		    0)
			cache_chunk_prefetch(ns->cache, &ch);
	}
}

/*
 * Keep a reference to secure chunk id for f (the one just read), so its
 * plaintext stays in memory between reads.
 */
static void hold_chunk(ns_t *ns, struct ns_file *f, uint32_t id,
		       const struct repo_chunk *ch, const uint8_t *key)
{
	struct cache_chunk_ref ref, old;

	pthread_mutex_lock(&f->lock);
	if (f->held.priv && f->held_id == id) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	pthread_mutex_unlock(&f->lock);
	/* held by this read: found in memory, not decrypted again */
	if (cache_chunk_acquire(ns->cache, ch, key, &ref) != 0)
		return;
	pthread_mutex_lock(&f->lock);
	old = f->held;
	f->held = ref;
	f->held_id = id;
	pthread_mutex_unlock(&f->lock);
	cache_chunk_release(ns->cache, &old);
}

/* One extent's chunk for a read: verified plaintext, held in *ref. */
static int read_chunk(ns_t *ns, struct ns_file *f, uint32_t id,
		      const struct repo_chunk *ch, struct cache_chunk_ref *ref)
{
	uint8_t key[AUTH_DATASET_KEY_LEN];
	int rc;

	if (!(ch->flags & REPO_CHUNK_ENCRYPTED))
		return cache_chunk_acquire(ns->cache, ch, NULL, ref);
	rc = slot_dataset_key(ns, f->slot, key);
	if (rc) {
		log_error("dataset '%s': cannot decrypt: this node holds no "
			  "key for it",
			  f->slot->d.name);
		return -EACCES;
	}
	rc = cache_chunk_acquire(ns->cache, ch, key, ref);
	if (!rc)
		hold_chunk(ns, f, id, ch, key);
	explicit_bzero(key, sizeof(key));
	return rc;
}

int ns_read(ns_t *ns, struct ns_file *f, uint64_t off, size_t size,
	    struct ns_read *out)
{
	repo_catalog_t *cat = NULL;
	uint64_t end;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	COUNT_ADD(ns->counters.reads, 1);
	if (f->kind == FILE_GENERATED) {
		if (off >= f->text_len)
			return 0;
		out->seg = xcalloc(1, sizeof(*out->seg));
		out->seg[0].fd = -1;
		out->seg[0].mem = (const uint8_t *)f->text + off;
		out->seg[0].len =
		    f->text_len - off < size ? f->text_len - (size_t)off : size;
		out->nseg = 1;
		out->total = out->seg[0].len;
		return 0;
	}
	if (off >= f->inode.size || size == 0)
		return 0;
	end = off + size < f->inode.size ? off + size : f->inode.size;
	rc = slot_catalog(ns, f->slot, &cat);
	if (rc)
		goto fail;
	{
		uint32_t first = extent_at(f, off),
			 last = extent_at(f, end - 1);
		size_t n = last - first + 1;

		out->seg = xcalloc(n, sizeof(*out->seg));
		out->refs = xcalloc(n, sizeof(*out->refs));
		for (uint32_t k = first; k <= last; k++) {
			const struct repo_extent *e = &f->inode.extents[k];
			uint64_t a = off > f->starts[k] ? off : f->starts[k];
			uint64_t b =
			    end < f->starts[k + 1] ? end : f->starts[k + 1];
			struct cache_chunk_ref *ref = &out->refs[out->nrefs];
			struct ns_segment *sg = &out->seg[out->nseg];
			struct repo_chunk ch;

			rc = repo_catalog_chunk(cat, e->chunk, &ch);
			if (rc) {
				rc = -EIO;
				log_error("dataset '%s': chunk record %u "
					  "missing",
					  f->slot->d.name, e->chunk);
				goto fail;
			}
			if ((uint64_t)e->offset + e->length > ch.size) {
				rc = -EIO;
				goto fail;
			}
			rc = read_chunk(ns, f, e->chunk, &ch, ref);
			if (rc)
				goto fail;
			out->nrefs++;
			sg->fd = ref->fd;
			sg->mem = ref->mem;
			sg->pos = e->offset + (a - f->starts[k]);
			sg->len = (size_t)(b - a);
			out->nseg++;
			out->total += sg->len;
		}
	}
	COUNT_ADD(ns->counters.bytes_served, out->total);
	readahead(ns, f, cat, off, end);
	return 0;
fail:
	COUNT_ADD(ns->counters.read_errors, 1);
	ns_read_done(ns, out);
	return rc;
}

void ns_read_done(ns_t *ns, struct ns_read *r)
{
	for (size_t i = 0; i < r->nrefs; i++)
		cache_chunk_release(ns->cache, &r->refs[i]);
	free(r->refs);
	free(r->seg);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------- xattrs -- */

#define XATTR_PREFIX "user.aidata."

static const char *const xattr_common[] = {"dataset", "industry", "modality",
					   "tier", "license"};

int ns_listxattr(ns_t *ns, uint64_t ino, struct buf *names)
{
	struct ns_slot *s;
	struct stat st;
	double timeout;
	int rc;

	if (INO_KIND(ino) != 2)
		return 0;
	rc = tree_resolve(ns, ino, &s, NULL);
	if (!rc)
		rc = ns_getattr(ns, ino, &st, &timeout);
	if (rc)
		return rc;
	for (unsigned i = 0; i < 5; i++) {
		char *n = xasprintf(XATTR_PREFIX "%s", xattr_common[i]);

		buf_append(names, n, strlen(n) + 1);
		free(n);
	}
	buf_append(names, XATTR_PREFIX "access", sizeof(XATTR_PREFIX "access"));
	if (TREE_LOCAL(ino) == REPO_ROOT_INO)
		buf_append(names, XATTR_PREFIX "description",
			   sizeof(XATTR_PREFIX "description"));
	if (S_ISREG(st.st_mode))
		buf_append(names, XATTR_PREFIX "sha256",
			   sizeof(XATTR_PREFIX "sha256"));
	if (S_ISREG(st.st_mode) || TREE_LOCAL(ino) == REPO_ROOT_INO)
		buf_append(names, XATTR_PREFIX "cached",
			   sizeof(XATTR_PREFIX "cached"));
	return 0;
}

/* Bytes of a file, or of a whole dataset, present in the cache. */
static int cached_bytes(ns_t *ns, struct ns_slot *s, repo_catalog_t *cat,
			uint64_t local, uint64_t *out)
{
	struct repo_inode i;
	int rc;

	*out = 0;
	if (local == REPO_ROOT_INO) {
		uint32_t count;

		rc = repo_catalog_chunk_count(cat, &count);
		for (uint32_t id = 0; !rc && id < count; id++) {
			struct repo_chunk ch;

			if (repo_catalog_chunk(cat, id, &ch) == 0 &&
			    cache_chunk_present(ns->cache, &ch))
				*out += ch.size;
		}
		return rc;
	}
	rc = repo_catalog_inode(cat, local, &i);
	if (rc)
		return rc;
	for (uint32_t k = 0; k < i.extent_count; k++) {
		struct repo_chunk ch;

		if (repo_catalog_chunk(cat, i.extents[k].chunk, &ch) == 0 &&
		    cache_chunk_present(ns->cache, &ch))
			*out += i.extents[k].length;
	}
	repo_inode_release(&i);
	(void)s;
	return 0;
}

int ns_getxattr(ns_t *ns, uint64_t ino, const struct ns_caller *who,
		const char *name, char **value, size_t *len)
{
	const char *key = name + strlen(XATTR_PREFIX);
	struct ns_slot *s;
	repo_catalog_t *cat = NULL;
	char *v = NULL;
	int rc;

	if (INO_KIND(ino) != 2 ||
	    strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)))
		return -ENODATA;
	rc = tree_resolve(ns, ino, &s, NULL);
	if (rc)
		return rc;
	if (!strcmp(key, "dataset"))
		v = xstrdup(s->d.name);
	else if (!strcmp(key, "industry"))
		v = xstrdup(s->d.industry);
	else if (!strcmp(key, "modality"))
		v = xstrdup(s->d.modality);
	else if (!strcmp(key, "tier"))
		v = xstrdup(repo_tier_name(s->d.tier));
	else if (!strcmp(key, "license"))
		v = xstrdup(s->d.license);
	else if (!strcmp(key, "description") &&
		 TREE_LOCAL(ino) == REPO_ROOT_INO)
		v = xstrdup(s->d.description);
	else if (!strcmp(key, "access")) {
		struct auth_request ar;

		/* what open() would say to this caller, without auditing */
		auth_request_init(ns, &ar, who, s, "");
		v = xstrdup(auth_reason_text(auth_decide(ns->auth, &ar)));
	} else if (!strcmp(key, "sha256") || !strcmp(key, "cached")) {
		struct repo_inode i;
		uint64_t bytes;

		rc = slot_catalog(ns, s, &cat);
		if (rc)
			return rc;
		if (!strcmp(key, "sha256")) {
			char hex[DIGEST_HEX_LEN + 1];

			rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
			if (rc)
				return rc == -EINVAL ? -EIO : rc;
			if (S_ISREG(i.mode)) {
				digest_to_hex(&i.sha256, hex);
				v = xstrdup(hex);
			}
			repo_inode_release(&i);
		} else {
			struct stat st;
			double t;

			rc = ns_getattr(ns, ino, &st, &t);
			if (rc)
				return rc;
			if (S_ISREG(st.st_mode) ||
			    TREE_LOCAL(ino) == REPO_ROOT_INO) {
				rc = cached_bytes(ns, s, cat, TREE_LOCAL(ino),
						  &bytes);
				if (rc)
					return rc == -EINVAL ? -EIO : rc;
				v = xasprintf("%" PRIu64, bytes);
			}
		}
	}
	if (!v)
		return -ENODATA;
	*value = v;
	*len = strlen(v);
	return 0;
}

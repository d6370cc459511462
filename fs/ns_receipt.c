/*
 * Per-job data receipts (docs/RECEIPT.md): which datasets, files and
 * licenses a job used. A job is its cgroup. Every granted open of a
 * dataset file is counted in the account of the opener's cgroup
 * (receipt.c keeps them, bounded), with the bytes served through that
 * open; .aidata/receipt renders an account as JSON with each dataset's
 * name, revision, catalog, tier and license and each file's path,
 * SHA-256 and size from the catalog, signed with the node's receipt key
 * (auth_receipt_seal) when the mount has one.
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "cgroup.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define FORMAT "aidatafs-receipt/1"
#define UNKNOWN_CGROUP "(unknown)" /* a process we could not place */

struct ns_receipts {
	receipt_book_t *book;
	const repo_key_t *key; /* signs; NULL: unsigned */
	char *cgroup_root;     /* the cgroup v2 mount, or NULL */
	char node[256];	       /* host name */
};

static bool cgroup_gone(void *ctx, const char *cgroup, uint64_t id)
{
	struct ns_receipts *r = ctx;
	uint64_t now_id;
	uid_t owner;

	if (!r->cgroup_root || !strcmp(cgroup, UNKNOWN_CGROUP))
		return true;
	return cgroup_stat(r->cgroup_root, cgroup, &now_id, &owner) != 0 ||
	       now_id != id;
}

int ns_receipts_enable(ns_t *ns, const repo_key_t *key)
{
	struct ns_receipts *r = xcalloc(1, sizeof(*r));
	int rc;

	r->key = key;
	r->cgroup_root = cgroup_v2_root();
	if (gethostname(r->node, sizeof(r->node) - 1) != 0)
		snprintf(r->node, sizeof(r->node), "unknown");
	rc = receipt_book_new(NULL, cgroup_gone, r, &r->book);
	if (rc) {
		free(r->cgroup_root);
		free(r);
		return rc;
	}
	ns->receipts = r;
	if (!r->cgroup_root) {
		log_warn("receipts: no cgroup v2 hierarchy mounted: opens are "
			 "counted under cgroup '%s'",
			 UNKNOWN_CGROUP);
		return -ENOENT;
	}
	return 0;
}

void ns_receipts_free(ns_t *ns)
{
	struct ns_receipts *r = ns->receipts;

	if (!r)
		return;
	receipt_book_free(r->book);
	free(r->cgroup_root);
	free(r);
	ns->receipts = NULL;
}

/* The cgroup of pid, its id and owner; UNKNOWN_CGROUP (id 0, root's)
 * when it cannot be told. *path is new. */
static void cgroup_of(struct ns_receipts *r, pid_t pid, char **path,
		      uint64_t *id, uid_t *owner)
{
	*id = 0;
	*owner = 0;
	if (!r->cgroup_root || pid <= 0 || cgroup_of_pid(pid, path) != 0) {
		*path = xstrdup(UNKNOWN_CGROUP);
		return;
	}
	if (cgroup_stat(r->cgroup_root, *path, id, owner) != 0) {
		*id = 0;
		*owner = 0;
	}
}

void ns_receipt_opened(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
		       uint64_t ino)
{
	struct ns_receipts *r = ns->receipts;
	uint64_t id;
	uid_t owner;
	char *cgroup;

	if (!r)
		return;
	cgroup_of(r, who->pid, &cgroup, &id, &owner);
	receipt_record_open(r->book, cgroup, id, owner, TREE_SLOT(ino),
			    ns_revision(ns), TREE_LOCAL(ino),
			    (int64_t)time(NULL), &f->receipt);
	free(cgroup);
}

void ns_receipt_served(ns_t *ns, struct ns_file *f, uint64_t n)
{
	if (ns->receipts)
		receipt_record_bytes(ns->receipts->book, &f->receipt, n);
}

/* t as RFC 3339 UTC, or null beyond what gmtime represents */
static json_t *iso_time(int64_t t)
{
	char s[UNITS_UTC_LEN];

	return units_format_utc(t, s) ? json_null() : json_string(s);
}

/* The files of d listed, each with its path, SHA-256 and size. */
static json_t *files_json(ns_t *ns, struct ns_slot *s,
			  const struct receipt_dataset *d)
{
	json_t *list = json_array();
	repo_catalog_t *cat = NULL;

	if (d->nfiles && ns_slot_catalog(ns, s, &cat) != 0)
		return list; /* logged; the counts still stand */
	for (size_t i = 0; i < d->nfiles; i++) {
		struct repo_inode in;
		char hex[DIGEST_HEX_LEN + 1], *path;

		if (repo_catalog_inode(cat, d->files[i].file, &in) != 0)
			continue;
		digest_to_hex(&in.sha256, hex);
		path = ns_tree_path(cat, s, d->files[i].file);
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:I, s:I}", "path", path,
				    "sha256", hex, "size", (json_int_t)in.size,
				    "opens", (json_int_t)d->files[i].opens));
		free(path);
		repo_inode_release(&in);
		if (i % 4096 == 4095)
			ns_catalog_op(ns); /* keep the mapping trimmed */
	}
	return list;
}

static json_t *dataset_json(ns_t *ns, const struct receipt_dataset *d)
{
	struct ns_slot *s = ns_slot_at(ns, d->dataset);
	char hex[DIGEST_HEX_LEN + 1];

	if (!s)
		return NULL;
	digest_to_hex(&s->d.catalog, hex);
	return json_pack(
	    "{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:I, "
	    "s:o}",
	    "name", s->d.name, "revision", (json_int_t)d->revision, "catalog",
	    hex, "tier", repo_tier_name(s->d.tier), "license", s->d.license,
	    "industry", s->d.industry, "modality", s->d.modality, "opens",
	    (json_int_t)d->opens, "bytes_served", (json_int_t)d->bytes,
	    "files_listed", (json_int_t)d->nfiles, "files_truncated",
	    d->truncated, "opens_of_unlisted_files",
	    (json_int_t)d->opens_unlisted, "files", files_json(ns, s, d));
}

/* The receipt of account a, issued now: signed text, new. */
static char *render(ns_t *ns, const struct receipt_account *a, int64_t now)
{
	struct ns_receipts *r = ns->receipts;
	json_t *body, *list = json_array();
	char *origin = ns_origin_shown(ns), *text = NULL, *sealed = NULL;
	int rc;

	for (size_t i = 0; i < a->ndatasets; i++) {
		json_t *d = dataset_json(ns, &a->datasets[i]);

		if (d)
			json_array_append_new(list, d);
	}
	body = json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:{s:I, s:I, s:I}, "
	    "s:s, s:o, s:{s:I, s:I}}",
	    "format", FORMAT, "node", r->node, "origin", origin, "cgroup",
	    a->cgroup, "cgroup_id", (json_int_t)a->id, "started",
	    iso_time(a->started), "issued", iso_time(now), "revision",
	    (json_int_t)ns_revision(ns), "resets", (json_int_t)a->resets,
	    "limits", "cgroups", (json_int_t)RECEIPT_CGROUPS_MAX, "datasets",
	    (json_int_t)RECEIPT_DATASETS_MAX, "files",
	    (json_int_t)RECEIPT_FILES_MAX, "about_bytes_served",
	    "bytes this daemon returned for reads of the files this cgroup "
	    "opened since it started; reads the kernel answered from its "
	    "page cache never reach the daemon and are not counted, so a job "
	    "may have read more",
	    "datasets", list, "unlisted_datasets", "opens",
	    (json_int_t)a->opens_unlisted, "bytes_served",
	    (json_int_t)a->bytes_unlisted);
	free(origin);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rc = text ? auth_receipt_seal(r->key, text, &sealed) : -EIO;
	free(text);
	if (rc) {
		log_error("receipts: cannot render the receipt of cgroup '%s': "
			  "%s",
			  a->cgroup, strerror(-rc));
		return xstrdup("{}\n");
	}
	text = xasprintf("%s\n", sealed);
	free(sealed);
	return text;
}

/*
 * Whether who may read or reset the account of cgroup: its own (but
 * the root cgroup, the whole system), one whose directory it owns (or
 * owned, for a cgroup since removed), anything for root.
 */
static int may_read(ns_t *ns, const struct ns_caller *who, const char *cgroup,
		    uint64_t *id)
{
	struct ns_receipts *r = ns->receipts;
	struct receipt_account a;
	char *own = NULL;
	uid_t owner = 0;
	bool ok = who->uid == 0;
	uint64_t own_id;
	uid_t own_owner;

	*id = 0;
	if (r->cgroup_root &&
	    cgroup_stat(r->cgroup_root, cgroup, id, &owner) == 0) {
		ok = ok || owner == who->uid;
	} else {
		/* gone: who owned it when its account began */
		*id = 0;
		if (receipt_snapshot(r->book, cgroup, 0, false, 0, &a) == 0)
			ok = ok || (uid_t)a.owner == who->uid;
		receipt_account_release(&a);
	}
	if (!ok) {
		cgroup_of(r, who->pid, &own, &own_id, &own_owner);
		ok = strcmp(cgroup, "/") && strcmp(cgroup, UNKNOWN_CGROUP) &&
		     !strcmp(own, cgroup);
		free(own);
	}
	return ok ? 0 : -EACCES;
}

/* The text of cgroup's receipt (id 0: the account last used under that
 * path), reset afterwards if asked. */
static char *receipt_text(ns_t *ns, const char *cgroup, uint64_t id, bool reset)
{
	struct receipt_account a;
	int64_t now = (int64_t)time(NULL);
	char *text;

	receipt_snapshot(ns->receipts->book, cgroup, id, reset, now, &a);
	text = render(ns, &a, now);
	receipt_account_release(&a);
	return text;
}

int ns_receipt_file_open(ns_t *ns, const struct ns_caller *who,
			 struct ns_file **out)
{
	struct ns_receipts *r = ns->receipts;
	struct ns_file *f;
	uid_t owner;
	uint64_t id;
	char *cgroup;

	if (!r)
		return -EOPNOTSUPP;
	cgroup_of(r, who->pid, &cgroup, &id, &owner);
	f = xcalloc(1, sizeof(*f));
	f->kind = FILE_RECEIPT;
	pthread_mutex_init(&f->lock, NULL);
	/* the root cgroup is the whole system's: root only */
	if (who->uid != 0 &&
	    (!strcmp(cgroup, "/") || !strcmp(cgroup, UNKNOWN_CGROUP)))
		f->text = xasprintf("{\"error\": \"the cgroup '%s' is not a "
				    "job's: only root reads its receipt\"}\n",
				    cgroup);
	else
		f->text = receipt_text(ns, cgroup, id, false);
	f->text_len = strlen(f->text);
	free(cgroup);
	*out = f;
	return 0;
}

int ns_receipt_select(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
		      const char *cgroup, bool reset)
{
	struct ns_receipts *r = ns->receipts;
	char *own = NULL, *text;
	uid_t owner;
	uint64_t id;
	int rc;

	if (f->kind != FILE_RECEIPT || !r)
		return -ENOTTY;
	if (!cgroup || !*cgroup) {
		cgroup_of(r, who->pid, &own, &id, &owner);
		cgroup = own;
	}
	if (strcmp(cgroup, UNKNOWN_CGROUP) && !cgroup_path_valid(cgroup)) {
		free(own);
		return -EINVAL;
	}
	rc = may_read(ns, who, cgroup, &id);
	if (rc) {
		free(own);
		return rc;
	}
	if (reset)
		log_info("receipts: account of cgroup '%s' reset by uid %u",
			 cgroup, (unsigned)who->uid);
	text = receipt_text(ns, cgroup, id, reset);
	free(own);
	pthread_mutex_lock(&f->lock);
	f->retired =
	    xrealloc(f->retired, (f->nretired + 1) * sizeof(*f->retired));
	f->retired[f->nretired++] = f->text;
	f->text = text;
	f->text_len = strlen(text);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/*
 * `aidata ledger`: who contributed what to the alliance pool, and, with
 * a policy, what each organisation has earned, used and has left
 * (docs/POLICY.md). A front end: the figures come from publish/.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "log.h"
#include "pool.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static const char usage[] =
    "usage: aidata ledger REPO (--pubkey platform.pub | --key platform.key)\n"
    "                     [--policy FILE] [--issued FILE] [--json]\n";

static const char help[] =
    "\n"
    "Print, per organisation, the datasets it contributed to REPO's "
    "current\nrevision (the datasets file's \"contributor\"): their "
    "files and bytes, the\nbytes they take in the repository (stored: "
    "compressed, each distinct\nchunk once) and how many of those are "
    "credited to it: a chunk counts\nonly for the dataset with the lowest "
    "id that has it, so bytes the pool\nalready held (from another "
    "organisation, or the platform's own\ndatasets) earn nothing, and an "
    "organisation's own repeats count once.\n"
    "\n"
    "--policy FILE adds each organisation's balance under that policy "
    "(JSON,\nkept with the platform key; docs/POLICY.md): earned "
    "(ratio x credited,\nnothing below min_contribution), used (stored "
    "bytes of the shared\ndatasets granted on top of its own and of those "
    "the policy lists for it),\navailable, and the datasets granted, with "
    "why. What the policy grants\nnow is what `aidata token issue --policy` "
    "would put in a credential.\n"
    "\n"
    "Credentials outstanding (issued by aidata token issue, not expired, "
    "not\nrevoked in REPO's manifest) come from the publisher's record "
    "beside the\nkey (--issued FILE; default: issued-credentials.jsonl in "
    "the directory\nof --key or --pubkey). REPO is a directory or a "
    "file://, http:// or\nhttps:// URL; every catalog is fetched and "
    "verified. --json prints the\nsame figures, exact, as one JSON "
    "object.\n";

static char *size_text(uint64_t bytes)
{
	char buf[32];

	units_format_size((double)bytes, buf, sizeof(buf));
	return xstrdup(buf);
}

struct ledger_view {
	const char *repo;
	struct pool pool;
	publish_policy_t *policy; /* NULL without --policy */
	const char *policy_path;
	struct auth_claims *issued; /* outstanding */
	size_t nissued;
	bool have_record;
};

static const char *reason_key(enum publish_grant_reason r)
{
	static const char *const keys[] = {"own", "listed", "earned",
					   "excluded", "over_budget"};

	return keys[r];
}

/* ---------------------------------------------------------------- json -- */

static json_t *dataset_json(const struct publish_ledger_dataset *d)
{
	return json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "name", d->name, "id", (json_int_t)d->id, "tier",
			 repo_tier_name(d->tier), "files", (json_int_t)d->files,
			 "bytes", (json_int_t)d->bytes, "chunks",
			 (json_int_t)d->chunks, "stored", (json_int_t)d->stored,
			 "credited_chunks", (json_int_t)d->credited_chunks,
			 "credited", (json_int_t)d->credited);
}

static json_t *claims_json(const struct auth_claims *c)
{
	json_t *ds = json_array();

	for (size_t i = 0; i < c->ndatasets; i++)
		json_array_append_new(ds, json_string(c->datasets[i]));
	return json_pack("{s:s, s:s, s:I, s:o}", "jti", c->jti, "sub", c->sub,
			 "exp", (json_int_t)c->exp, "datasets", ds);
}

static json_t *grant_json(const struct ledger_view *v,
			  const struct publish_grant *g)
{
	const struct publish_ledger *l = v->pool.ledger;
	json_t *granted = json_array(), *refused = json_array();

	for (size_t i = 0; i < g->nentries; i++) {
		const struct publish_grant_entry *e = &g->entries[i];
		json_t *o = json_pack("{s:s, s:s, s:I}", "dataset",
				      l->datasets[e->dataset].name, "reason",
				      reason_key(e->reason), "cost",
				      (json_int_t)e->cost);

		if (e->reason == PUBLISH_GRANT_EARNED ||
		    e->reason == PUBLISH_GRANT_OVER_BUDGET)
			json_object_set_new(o, "left",
					    json_integer((json_int_t)e->left));
		json_array_append_new(e->granted ? granted : refused, o);
	}
	return json_pack("{s:I, s:b, s:I, s:I, s:I, s:o, s:o}", "contributed",
			 (json_int_t)g->contributed, "below_minimum",
			 g->below_minimum, "earned", (json_int_t)g->earned,
			 "used", (json_int_t)g->used, "available",
			 (json_int_t)g->available, "granted", granted,
			 "not_granted", refused);
}

static json_t *issued_json(const struct ledger_view *v, const char *org)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->nissued; i++)
		if (org ? !strcmp(v->issued[i].org, org)
			: !publish_ledger_org_find(v->pool.ledger,
						   v->issued[i].org))
			json_array_append_new(a, claims_json(&v->issued[i]));
	return a;
}

static int print_json(const struct ledger_view *v)
{
	const struct publish_ledger *l = v->pool.ledger;
	json_t *orgs = json_array(), *own = json_array(), *root;
	char *text;
	int rc = 0;

	for (size_t i = 0; i < l->norgs; i++) {
		const struct publish_ledger_org *o = &l->orgs[i];
		json_t *ds = json_array(), *jo;

		for (size_t k = 0; k < o->ndatasets; k++)
			json_array_append_new(
			    ds, dataset_json(&l->datasets[o->datasets[k]]));
		jo = json_pack(
		    "{s:s, s:o, s:I, s:I, s:I, s:I}", "name", o->name,
		    "datasets", ds, "files", (json_int_t)o->files, "bytes",
		    (json_int_t)o->bytes, "stored", (json_int_t)o->stored,
		    "contributed", (json_int_t)o->contributed);
		if (v->policy) {
			struct publish_grant g;

			rc = publish_policy_grant(v->policy, l, o->name, &g);
			if (rc) {
				json_decref(jo);
				goto out;
			}
			json_object_set_new(jo, "balance", grant_json(v, &g));
			publish_grant_release(&g);
		}
		if (v->have_record)
			json_object_set_new(jo, "issued",
					    issued_json(v, o->name));
		json_array_append_new(orgs, jo);
	}
	for (size_t i = 0; i < l->ndatasets; i++)
		if (!l->datasets[i].contributor)
			json_array_append_new(own,
					      dataset_json(&l->datasets[i]));
	root = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}, s:o, s:o}",
			 "repository", v->repo, "revision",
			 (json_int_t)v->pool.repo->manifest.revision, "pool",
			 "chunks", (json_int_t)l->pool_chunks, "stored",
			 (json_int_t)l->pool_stored, "unattributed",
			 (json_int_t)l->unattributed, "organisations", orgs,
			 "no_contributor", own);
	orgs = own = NULL;
	if (v->policy)
		json_object_set_new(
		    root, "policy",
		    json_pack("{s:s, s:f, s:I}", "file", v->policy_path,
			      "ratio", publish_policy_ratio(v->policy),
			      "min_contribution",
			      (json_int_t)publish_policy_min_contribution(
				  v->policy)));
	if (v->have_record)
		json_object_set_new(root, "issued_to_others",
				    issued_json(v, NULL));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text || printf("%s\n", text) < 0)
		rc = -EIO;
	free(text);
out:
	json_decref(orgs);
	json_decref(own);
	return rc;
}

/* ---------------------------------------------------------------- text -- */

static void print_dataset(const struct publish_ledger_dataset *d)
{
	char *b = size_text(d->bytes), *s = size_text(d->stored);
	char *c = size_text(d->credited);

	printf("    %-24s %-6s %6" PRIu64 " files %10s  stored %10s  "
	       "credited %10s%s\n",
	       d->name, repo_tier_name(d->tier), d->files, b, s, c,
	       d->credited < d->stored ? " (the rest was in the pool)" : "");
	free(b);
	free(s);
	free(c);
}

static void print_claims(const struct auth_claims *c)
{
	char when[UNITS_UTC_LEN];

	units_format_utc(c->exp, when);
	printf("    '%s' for '%s' until %s:", c->jti, c->sub, when);
	for (size_t i = 0; i < c->ndatasets; i++)
		printf("%s%s", i ? ", " : " ", c->datasets[i]);
	printf("%s\n", c->ndatasets ? "" : " no dataset");
}

static int print_grant(const struct ledger_view *v, const char *org)
{
	const struct publish_ledger *l = v->pool.ledger;
	struct publish_grant g;
	char *e, *u, *a, *c;
	int rc = publish_policy_grant(v->policy, l, org, &g);

	if (rc)
		return rc;
	e = size_text(g.earned);
	u = size_text(g.used);
	a = size_text(g.available);
	c = size_text(g.contributed);
	if (g.below_minimum)
		printf("  balance: earned %s (the %s credited is below "
		       "min_contribution), used %s, available %s\n",
		       e, c, u, a);
	else
		printf("  balance: earned %s (%g x %s credited), used %s, "
		       "available %s\n",
		       e, publish_policy_ratio(v->policy), c, u, a);
	for (size_t i = 0; i < g.nentries; i++) {
		const struct publish_grant_entry *en = &g.entries[i];
		char *cost = size_text(en->cost), *left = size_text(en->left);

		printf("    %s %-24s %s", en->granted ? "+" : "-",
		       l->datasets[en->dataset].name,
		       publish_grant_reason_text(en->reason));
		if (en->reason == PUBLISH_GRANT_EARNED ||
		    en->reason == PUBLISH_GRANT_OVER_BUDGET)
			printf(" (costs %s, %s left)", cost, left);
		printf("\n");
		free(cost);
		free(left);
	}
	free(e);
	free(u);
	free(a);
	free(c);
	publish_grant_release(&g);
	return 0;
}

static int print_text(const struct ledger_view *v)
{
	const struct publish_ledger *l = v->pool.ledger;
	char *pool = size_text(l->pool_stored),
	     *un = size_text(l->unattributed);
	bool any = false;

	printf("ledger of '%s', revision %" PRIu64 ": %zu dataset%s, %zu "
	       "organisation%s; %s stored in the pool, %s of it credited to "
	       "no organisation\n",
	       v->repo, v->pool.repo->manifest.revision, l->ndatasets,
	       l->ndatasets == 1 ? "" : "s", l->norgs, l->norgs == 1 ? "" : "s",
	       pool, un);
	free(pool);
	free(un);
	if (v->policy)
		printf("policy '%s': ratio %g, min_contribution %" PRIu64
		       " bytes\n",
		       v->policy_path, publish_policy_ratio(v->policy),
		       publish_policy_min_contribution(v->policy));
	for (size_t i = 0; i < l->norgs; i++) {
		const struct publish_ledger_org *o = &l->orgs[i];
		char *b = size_text(o->bytes), *s = size_text(o->stored);
		char *c = size_text(o->contributed);
		int rc;

		printf("\n%s: %zu dataset%s, %" PRIu64 " files, %s; stored %s, "
		       "credited %s\n",
		       o->name, o->ndatasets, o->ndatasets == 1 ? "" : "s",
		       o->files, b, s, c);
		free(b);
		free(s);
		free(c);
		for (size_t k = 0; k < o->ndatasets; k++)
			print_dataset(&l->datasets[o->datasets[k]]);
		if (v->policy) {
			rc = print_grant(v, o->name);
			if (rc)
				return rc;
		}
		if (!v->have_record)
			continue;
		printf("  credentials outstanding:");
		any = false;
		for (size_t k = 0; k < v->nissued; k++)
			if (!strcmp(v->issued[k].org, o->name))
				any = true;
		printf("%s\n", any ? "" : " none");
		for (size_t k = 0; k < v->nissued; k++)
			if (!strcmp(v->issued[k].org, o->name))
				print_claims(&v->issued[k]);
	}
	any = false;
	for (size_t i = 0; i < l->ndatasets; i++) {
		if (l->datasets[i].contributor)
			continue;
		if (!any)
			printf("\nno contributor (the platform's own):\n");
		any = true;
		print_dataset(&l->datasets[i]);
	}
	any = false;
	for (size_t k = 0; k < v->nissued; k++) {
		if (publish_ledger_org_find(l, v->issued[k].org))
			continue;
		if (!any)
			printf("\ncredentials outstanding for organisations "
			       "that contributed nothing:\n");
		any = true;
		printf("    org '%s':", v->issued[k].org);
		print_claims(&v->issued[k]);
	}
	return fflush(stdout) == 0 ? 0 : -errno;
}

/* ------------------------------------------------------------- command -- */

int cmd_ledger(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"key", required_argument, NULL, 'k'},
	    {"policy", required_argument, NULL, 'P'},
	    {"issued", required_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *pub_path = NULL, *key_path = NULL, *issued_arg = NULL;
	struct ledger_view v = {0};
	char *record = NULL;
	repo_key_t *key = NULL;
	int64_t now = (int64_t)time(NULL); /* what is outstanding now */
	bool json = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pub_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'P':
			v.policy_path = optarg;
			break;
		case 'i':
			issued_arg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("%s%s", usage, help);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (argc - optind != 1 || !pub_path == !key_path) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	log_init("aidata ledger", LOG_LEVEL_INFO, false);
	v.repo = argv[optind];
	rc = key_path ? repo_key_load_private(key_path, &key)
		      : repo_key_load_public(pub_path, &key);
	if (rc) {
		fprintf(stderr, "aidata ledger: key '%s': %s\n",
			key_path ? key_path : pub_path,
			rc == -EINVAL ? "not a PEM Ed25519 key of that kind"
				      : strerror(-rc));
		goto out;
	}
	rc = pool_open(v.repo, key, &v.pool);
	if (rc)
		goto out;
	if (v.policy_path) {
		rc = publish_policy_load(v.policy_path, v.pool.ledger,
					 &v.policy);
		if (rc)
			goto out;
	}
	record = issued_arg
		     ? xstrdup(issued_arg)
		     : publish_issued_path(key_path ? key_path : pub_path);
	v.have_record = access(record, F_OK) == 0;
	if (issued_arg && !v.have_record) {
		fprintf(stderr,
			"aidata ledger: record of issued credentials '%s': "
			"%s\n",
			record, strerror(errno));
		rc = -errno;
		goto out;
	}
	rc = pool_outstanding(&v.pool, record, now, &v.issued, &v.nissued);
	if (!rc)
		rc = json ? print_json(&v) : print_text(&v);
	if (rc == -EIO || rc == -EPIPE)
		fprintf(stderr, "aidata ledger: cannot write to stdout\n");
out:
	pool_claims_free(v.issued, v.nissued);
	publish_policy_free(v.policy);
	pool_release(&v.pool);
	repo_key_free(key);
	free(record);
	return rc ? 1 : 0;
}

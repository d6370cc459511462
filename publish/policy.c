/*
 * The exchange of the alliance pool: a policy file (docs/POLICY.md)
 * checked against a revision's ledger, and what it grants one
 * organisation. JSON through jansson, strictly: every key known, every
 * value of its type, every name one the repository has.
 */
#include "publish.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Datasets listed for one organisation ("grants"). */
struct policy_grants {
	const char *org; /* the ledger's */
	size_t *datasets;
	size_t n;
};

/* Organisations a dataset's contributor excludes ("exclusions"). */
struct policy_exclusion {
	size_t dataset;
	const char **orgs; /* the ledger's */
	size_t n;
};

struct publish_policy {
	const struct publish_ledger *l;
	double ratio;
	uint64_t min_contribution;
	size_t *order; /* datasets the budget considers first */
	size_t norder;
	struct policy_grants *grants;
	size_t ngrants;
	struct policy_exclusion *exclusions;
	size_t nexclusions;
};

static const char *const policy_keys[] = {"ratio", "min_contribution", "order",
					  "grants", "exclusions"};

/* Log "policy 'path': where: what" with the names escaped. */
static int bad(const char *path, const char *where, const char *what)
{
	char *ew = log_escape(where), *et = log_escape(what);

	log_error("policy '%s': %s: %s", path, ew, et);
	free(ew);
	free(et);
	return -EINVAL;
}

/* The shared dataset name, as its index in the ledger; where names the
 * key in messages. */
static int shared_dataset(const struct publish_ledger *l, const char *path,
			  const char *where, json_t *v, size_t *out)
{
	char *msg;
	ssize_t i;
	int rc;

	if (!json_is_string(v) || !json_string_length(v))
		return bad(path, where, "expected a dataset name (a string)");
	i = publish_ledger_dataset_find(l, json_string_value(v));
	if (i < 0) {
		msg = xasprintf("unknown dataset '%s'", json_string_value(v));
		rc = bad(path, where, msg);
		free(msg);
		return rc;
	}
	if (l->datasets[i].tier != REPO_TIER_SHARED) {
		msg = xasprintf(
		    "dataset '%s' is %s: only shared datasets are exchanged "
		    "(open ones need no grant; secure ones need a secure "
		    "node and a credential with the secure scope)",
		    l->datasets[i].name, repo_tier_name(l->datasets[i].tier));
		rc = bad(path, where, msg);
		free(msg);
		return rc;
	}
	*out = (size_t)i;
	return 0;
}

/* The organisation name, as the ledger's string. */
static int known_org(const struct publish_ledger *l, const char *path,
		     const char *where, const char *name, const char **out)
{
	const struct publish_ledger_org *o = publish_ledger_org_find(l, name);
	char *msg;
	int rc;

	if (!o) {
		msg = xasprintf("unknown organisation '%s' (no dataset of the "
				"repository names it as its contributor)",
				name);
		rc = bad(path, where, msg);
		free(msg);
		return rc;
	}
	*out = o->name;
	return 0;
}

static bool has_index(const size_t *v, size_t n, size_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool has_org(const char *const *v, size_t n, const char *org)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == org) /* the ledger's strings: one per org */
			return true;
	return false;
}

/* An array of shared dataset names into *out (no duplicates). */
static int dataset_list(const struct publish_ledger *l, const char *path,
			const char *where, json_t *arr, size_t **out, size_t *n)
{
	size_t i;
	json_t *v;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return bad(path, where, "expected an array of dataset names");
	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	json_array_foreach(arr, i, v)
	{
		char *at = xasprintf("%s[%zu]", where, i);
		size_t d;

		rc = shared_dataset(l, path, at, v, &d);
		if (!rc && has_index(*out, *n, d))
			rc = bad(path, at, "listed twice");
		free(at);
		if (rc)
			return rc;
		(*out)[(*n)++] = d;
	}
	return 0;
}

static int parse_ratio(publish_policy_t *p, const char *path, json_t *v)
{
	if (!v)
		return bad(path, "ratio",
			   "missing (what 1 byte contributed "
			   "earns, e.g. 1.5)");
	if (!json_is_number(v) || json_number_value(v) < 0 ||
	    !isfinite(json_number_value(v)))
		return bad(path, "ratio", "expected a number >= 0");
	p->ratio = json_number_value(v);
	return 0;
}

static int parse_minimum(publish_policy_t *p, const char *path, json_t *v)
{
	const char *s;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		p->min_contribution = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_is_string(v) ? json_string_value(v) : "";
	if (s[0] >= '0' && s[0] <= '9' &&
	    units_parse_size(s, &p->min_contribution) == 0)
		return 0;
	return bad(path, "min_contribution",
		   "expected a byte count: an integer >= 0, or a size such "
		   "as \"64M\"");
}

static int parse_grants(publish_policy_t *p, const char *path, json_t *obj)
{
	const char *org;
	json_t *v;
	int rc = 0;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return bad(path, "grants",
			   "expected an object: organisation -> datasets");
	p->grants = xcalloc(json_object_size(obj) + 1, sizeof(*p->grants));
	json_object_foreach(obj, org, v)
	{
		struct policy_grants *g = &p->grants[p->ngrants];
		char *at = xasprintf("grants.%s", org);

		rc = known_org(p->l, path, "grants", org, &g->org);
		if (!rc) {
			p->ngrants++;
			rc = dataset_list(p->l, path, at, v, &g->datasets,
					  &g->n);
		}
		for (size_t i = 0; !rc && i < g->n; i++) {
			const struct publish_ledger_dataset *d =
			    &p->l->datasets[g->datasets[i]];

			if (d->contributor && !strcmp(d->contributor, org)) {
				char *msg = xasprintf(
				    "'%s' is its own contribution (always "
				    "granted; do not list it)",
				    d->name);

				rc = bad(path, at, msg);
				free(msg);
			}
		}
		free(at);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_exclusions(publish_policy_t *p, const char *path, json_t *obj)
{
	const char *name;
	json_t *arr;
	int rc = 0;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return bad(path, "exclusions",
			   "expected an object: dataset -> organisations");
	p->exclusions =
	    xcalloc(json_object_size(obj) + 1, sizeof(*p->exclusions));
	json_object_foreach(obj, name, arr)
	{
		struct policy_exclusion *e = &p->exclusions[p->nexclusions];
		char *at = xasprintf("exclusions.%s", name);
		json_t *key = json_string(name);
		size_t i;
		json_t *v;

		rc = shared_dataset(p->l, path, "exclusions", key, &e->dataset);
		json_decref(key);
		if (!rc) {
			p->nexclusions++;
			if (!json_is_array(arr))
				rc = bad(path, at,
					 "expected an array of organisations");
		}
		if (rc) {
			free(at);
			return rc;
		}
		e->orgs = xcalloc(json_array_size(arr) + 1, sizeof(*e->orgs));
		json_array_foreach(arr, i, v)
		{
			const char *contributor =
			    p->l->datasets[e->dataset].contributor;
			char *ati = xasprintf("%s[%zu]", at, i);
			const char *org = NULL;

			if (!json_is_string(v) || !json_string_length(v))
				rc = bad(path, ati,
					 "expected an organisation (a string)");
			else
				rc = known_org(p->l, path, ati,
					       json_string_value(v), &org);
			if (!rc && has_org(e->orgs, e->n, org))
				rc = bad(path, ati, "listed twice");
			if (!rc && contributor && !strcmp(contributor, org))
				rc = bad(path, ati,
					 "the dataset's own contributor "
					 "cannot be excluded from it");
			if (!rc)
				e->orgs[e->n++] = org;
			free(ati);
			if (rc)
				break;
		}
		free(at);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct policy_exclusion *exclusion_of(const publish_policy_t *p,
						   size_t dataset)
{
	for (size_t i = 0; i < p->nexclusions; i++)
		if (p->exclusions[i].dataset == dataset)
			return &p->exclusions[i];
	return NULL;
}

static const struct policy_grants *grants_of(const publish_policy_t *p,
					     const char *org)
{
	for (size_t i = 0; i < p->ngrants; i++)
		if (!strcmp(p->grants[i].org, org))
			return &p->grants[i];
	return NULL;
}

/* A dataset both listed for an organisation and excluded for it. */
static int check_conflicts(const publish_policy_t *p, const char *path)
{
	for (size_t i = 0; i < p->ngrants; i++) {
		const struct policy_grants *g = &p->grants[i];

		for (size_t k = 0; k < g->n; k++) {
			const struct policy_exclusion *e =
			    exclusion_of(p, g->datasets[k]);
			char *at, *msg;

			if (!e || !has_org(e->orgs, e->n, g->org))
				continue;
			at = xasprintf("grants.%s", g->org);
			msg = xasprintf("lists '%s', whose contributor "
					"excludes '%s' from it "
					"(exclusions.%s)",
					p->l->datasets[g->datasets[k]].name,
					g->org,
					p->l->datasets[g->datasets[k]].name);
			bad(path, at, msg);
			free(at);
			free(msg);
			return -EINVAL;
		}
	}
	return 0;
}

int publish_policy_load(const char *path, const struct publish_ledger *l,
			publish_policy_t **out)
{
	publish_policy_t *p = xcalloc(1, sizeof(*p));
	json_error_t err;
	const char *key;
	json_t *root, *v;
	int rc = 0;

	p->l = l;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		/* jansson says "unable to open ...: <strerror>" itself */
		log_error("policy '%s': line %d: %s", path, err.line, err.text);
		rc = -EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		rc = bad(path, "top level", "expected a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		bool known = false;

		for (size_t i = 0; i < sizeof(policy_keys) / sizeof(char *);
		     i++)
			known |= !strcmp(key, policy_keys[i]);
		if (!known) {
			char *msg = xasprintf("unknown key '%s' (known: ratio, "
					      "min_contribution, order, "
					      "grants, exclusions)",
					      key);

			rc = bad(path, "top level", msg);
			free(msg);
			goto out;
		}
	}
	rc = parse_ratio(p, path, json_object_get(root, "ratio"));
	if (!rc)
		rc = parse_minimum(p, path,
				   json_object_get(root, "min_contribution"));
	if (!rc && json_object_get(root, "order"))
		rc = dataset_list(l, path, "order",
				  json_object_get(root, "order"), &p->order,
				  &p->norder);
	if (!rc)
		rc = parse_grants(p, path, json_object_get(root, "grants"));
	if (!rc)
		rc = parse_exclusions(p, path,
				      json_object_get(root, "exclusions"));
	if (!rc)
		rc = check_conflicts(p, path);
out:
	json_decref(root);
	if (rc) {
		publish_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void publish_policy_free(publish_policy_t *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ngrants; i++)
		free(p->grants[i].datasets);
	for (size_t i = 0; i < p->nexclusions; i++)
		free(p->exclusions[i].orgs);
	free(p->grants);
	free(p->exclusions);
	free(p->order);
	free(p);
}

double publish_policy_ratio(const publish_policy_t *p)
{
	return p->ratio;
}

uint64_t publish_policy_min_contribution(const publish_policy_t *p)
{
	return p->min_contribution;
}

/* floor(ratio × bytes), saturating. */
static uint64_t earn(double ratio, uint64_t bytes)
{
	long double e = (long double)ratio * (long double)bytes;

	return e >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)e;
}

/* The budget's order: the policy's "order" first, then cheapest first
 * (stored bytes, then name). */
struct candidate {
	size_t dataset;
	size_t rank; /* position in "order", or SIZE_MAX */
	uint64_t cost;
	const char *name;
};

static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void entry_add(struct publish_grant *g,
		      const struct publish_grant_entry *e)
{
	g->entries[g->nentries++] = *e;
}

int publish_policy_grant(const publish_policy_t *p,
			 const struct publish_ledger *l, const char *org,
			 struct publish_grant *out)
{
	const struct publish_ledger_org *o = publish_ledger_org_find(l, org);
	const struct policy_grants *listed;
	struct candidate *cand;
	size_t ncand = 0;
	uint64_t left;

	memset(out, 0, sizeof(*out));
	if (!o) {
		char *eo = log_escape(org);

		log_error("organisation '%s' has contributed nothing: no "
			  "dataset of the repository names it as its "
			  "contributor, so the policy grants it nothing",
			  eo);
		free(eo);
		return -ENOENT;
	}
	listed = grants_of(p, o->name);
	out->org = xstrdup(o->name);
	out->contributed = o->contributed;
	out->below_minimum = o->contributed < p->min_contribution;
	out->earned = out->below_minimum ? 0 : earn(p->ratio, o->contributed);
	out->entries = xcalloc(l->ndatasets + 1, sizeof(*out->entries));
	cand = xcalloc(l->ndatasets + 1, sizeof(*cand));
	for (size_t i = 0; i < l->ndatasets; i++) {
		const struct publish_ledger_dataset *d = &l->datasets[i];
		const struct policy_exclusion *e = exclusion_of(p, i);
		struct publish_grant_entry en = {i, PUBLISH_GRANT_OWN, true,
						 d->stored, 0};

		if (d->tier != REPO_TIER_SHARED)
			continue;
		if (d->contributor && !strcmp(d->contributor, o->name)) {
			entry_add(out, &en);
		} else if (e && has_org(e->orgs, e->n, o->name)) {
			en.reason = PUBLISH_GRANT_EXCLUDED;
			en.granted = false;
			entry_add(out, &en);
		} else if (listed &&
			   has_index(listed->datasets, listed->n, i)) {
			en.reason = PUBLISH_GRANT_LISTED;
			entry_add(out, &en);
		} else {
			struct candidate *c = &cand[ncand++];

			c->dataset = i;
			c->cost = d->stored;
			c->name = d->name;
			c->rank = SIZE_MAX;
			for (size_t k = 0; k < p->norder; k++)
				if (p->order[k] == i)
					c->rank = k;
		}
	}
	qsort(cand, ncand, sizeof(*cand), candidate_cmp);
	left = out->earned;
	for (size_t k = 0; k < ncand; k++) {
		struct publish_grant_entry en = {cand[k].dataset,
						 PUBLISH_GRANT_EARNED, true,
						 cand[k].cost, left};

		if (cand[k].cost <= left) {
			left -= cand[k].cost;
		} else {
			en.reason = PUBLISH_GRANT_OVER_BUDGET;
			en.granted = false;
		}
		entry_add(out, &en);
	}
	free(cand);
	out->used = out->earned - left;
	out->available = left;
	out->datasets = xcalloc(out->nentries + 1, sizeof(char *));
	for (size_t i = 0; i < l->ndatasets; i++)
		for (size_t k = 0; k < out->nentries; k++)
			if (out->entries[k].dataset == i &&
			    out->entries[k].granted)
				out->datasets[out->ndatasets++] =
				    xstrdup(l->datasets[i].name);
	return 0;
}

void publish_grant_release(struct publish_grant *g)
{
	for (size_t i = 0; i < g->ndatasets; i++)
		free(g->datasets[i]);
	free(g->datasets);
	free(g->entries);
	free(g->org);
	memset(g, 0, sizeof(*g));
}

const char *publish_grant_reason_text(enum publish_grant_reason r)
{
	switch (r) {
	case PUBLISH_GRANT_OWN:
		return "its own contribution";
	case PUBLISH_GRANT_LISTED:
		return "listed for it by the policy";
	case PUBLISH_GRANT_EARNED:
		return "earned: fits in what is left";
	case PUBLISH_GRANT_EXCLUDED:
		return "excluded by its contributor";
	case PUBLISH_GRANT_OVER_BUDGET:
		return "not earned: costs more than is left";
	}
	return "unknown";
}

/*
 * Unit tests of the alliance pool (publish/ledger.c, publish/policy.c):
 * a repository packed by publish_pack with three organisations, one of
 * them re-contributing another's bytes and one the platform's, a secure
 * contribution and an open one; the ledger's figures against what the
 * source files make them by hand (random data: every chunk is stored
 * raw, 64 KiB pieces of files over 16 KiB), policies that grant by
 * ratio, order, listing and exclusion, and every kind of bad policy,
 * refused naming its key; the publisher's record of issued credentials.
 */
#define _GNU_SOURCE
#include "publish.h"
#include "log.h"
#include "unit.h"
#include "xalloc.h"

#include <sys/stat.h>

#include "banned.h"

#define C (64 << 10) /* the chunk size */

static char *tmp, *src, *repo, *key_file, *policy_file;
static repo_key_t *key;
static struct publish_ledger *ledger;

/* ------------------------------------------------------------ helpers -- */

static void write_file(const char *rel, const void *p, size_t n)
{
	char *path = unit_path(src, rel), *dir = xstrdup(path);

	*strrchr(dir, '/') = '\0';
	REQUIRE_RC(fs_mkdir_p(dir, 0755), 0);
	REQUIRE_RC(fs_write_atomic(path, p, n, 0644), 0);
	free(dir);
	free(path);
}

/* n random bytes, from seed: the same seed, the same bytes. */
static void write_random(const char *rel, size_t n, uint64_t seed)
{
	uint8_t *b = malloc(n);

	REQUIRE(b);
	unit_rand_fill(&seed, b, n);
	write_file(rel, b, n);
	free(b);
}

/*
 * Datasets get ids in name order (a new repository), so the names say
 * which came first:
 *   a-law    acme  shared  R1 (100000 B: 2 chunks), R2 (65536 B: 1)
 *   b-news   beta  shared  R3 (70000 B: 2), a copy of R1 (acme's bytes)
 *   c-open   -     open    R4 (30000 B: 1), the platform's own
 *   d-gamma  gamma shared  a copy of R4 (the platform's), R5 (20000 B)
 *   e-acme2  acme  shared  a copy of R2 (its own bytes again), R6 (40000)
 *   f-open   beta  open    R7 (50000 B)
 *   g-vault  gamma secure  R8 (10000 B: a small file, encrypted +28 B)
 */
static void make_source(void)
{
	static const char json[] =
	    "{\"datasets\": ["
	    "{\"name\": \"a-law\", \"industry\": \"law\", \"modality\": "
	    "\"text\", \"tier\": \"shared\", \"license\": \"x\", "
	    "\"description\": \"\", \"contributor\": \"acme\"},"
	    "{\"name\": \"b-news\", \"industry\": \"news\", \"modality\": "
	    "\"text\", \"tier\": \"shared\", \"license\": \"x\", "
	    "\"description\": \"\", \"contributor\": \"beta\"},"
	    "{\"name\": \"c-open\", \"industry\": \"news\", \"modality\": "
	    "\"text\", \"tier\": \"open\", \"license\": \"x\", "
	    "\"description\": \"\"},"
	    "{\"name\": \"d-gamma\", \"industry\": \"law\", \"modality\": "
	    "\"text\", \"tier\": \"shared\", \"license\": \"x\", "
	    "\"description\": \"\", \"contributor\": \"gamma\"},"
	    "{\"name\": \"e-acme2\", \"industry\": \"law\", \"modality\": "
	    "\"text\", \"tier\": \"shared\", \"license\": \"x\", "
	    "\"description\": \"\", \"contributor\": \"acme\"},"
	    "{\"name\": \"f-open\", \"industry\": \"news\", \"modality\": "
	    "\"text\", \"tier\": \"open\", \"license\": \"x\", "
	    "\"description\": \"\", \"contributor\": \"beta\"},"
	    "{\"name\": \"g-vault\", \"industry\": \"medicine\", "
	    "\"modality\": \"text\", \"tier\": \"secure\", \"license\": "
	    "\"x\", \"description\": \"\", \"contributor\": \"gamma\"}]}";

	write_file("datasets.json", json, strlen(json));
	write_random("a-law/r1.bin", 100000, 1);
	write_random("a-law/r2.bin", 65536, 2);
	write_random("b-news/r3.bin", 70000, 3);
	write_random("b-news/copy-of-r1.bin", 100000, 1);
	write_random("c-open/r4.bin", 30000, 4);
	write_random("d-gamma/copy-of-r4.bin", 30000, 4);
	write_random("d-gamma/r5.bin", 20000, 5);
	write_random("e-acme2/copy-of-r2.bin", 65536, 2);
	write_random("e-acme2/r6.bin", 40000, 6);
	write_random("f-open/r7.bin", 50000, 7);
	write_random("g-vault/r8.bin", 10000, 8);
}

/* The catalog of d, from the repository directory, checked. */
static int open_catalog(void *ctx, const struct repo_dataset *d,
			repo_catalog_t **out)
{
	char rel[128], *object, *file;
	int rc;

	(void)ctx;
	repo_catalog_object_path(&d->catalog, rel, sizeof(rel));
	object = unit_path(repo, rel);
	file = xasprintf("%s/cat-%s.mdb", tmp, d->name);
	rc = repo_catalog_unpack(object, &d->catalog, file);
	if (!rc)
		rc = repo_catalog_open(file, out);
	free(object);
	free(file);
	return rc;
}

static struct publish_ledger *build(void)
{
	char *path = unit_path(repo, "manifest"), *data, rel[128], *object;
	char *file = unit_path(tmp, "root.mdb");
	struct publish_ledger *l = NULL;
	struct repo_manifest m;
	repo_catalog_t *root;
	size_t len;

	REQUIRE_RC(fs_read_file(path, REPO_MANIFEST_MAX, &data, &len), 0);
	REQUIRE_RC(repo_manifest_decode(data, len, key, &m), 0);
	repo_catalog_object_path(&m.root_catalog, rel, sizeof(rel));
	object = unit_path(repo, rel);
	unlink(file);
	REQUIRE_RC(repo_catalog_unpack(object, &m.root_catalog, file), 0);
	REQUIRE_RC(repo_catalog_open(file, &root), 0);
	REQUIRE_RC(publish_ledger_build(root, open_catalog, NULL, &l), 0);
	repo_catalog_free(root);
	repo_manifest_release(&m);
	free(data);
	free(path);
	free(object);
	free(file);
	return l;
}

static void setup(void)
{
	struct publish_pack_options o = {
	    .chunk_size = C,
	    .shard_size = 1 << 20,
	    .level = 3,
	    .jobs = 2,
	    .ttl = 300,
	    .flags = PUBLISH_PACK_NO_STATE,
	};
	char *json;

	tmp = unit_tmpdir();
	src = unit_path(tmp, "src");
	repo = unit_path(tmp, "repo");
	key_file = unit_path(tmp, "platform.key");
	policy_file = unit_path(tmp, "policy.json");
	REQUIRE_RC(repo_key_generate(&key), 0);
	REQUIRE_RC(repo_key_write_private(key, key_file), 0);
	make_source();
	json = unit_path(src, "datasets.json");
	o.src = src;
	o.datasets_file = json;
	o.key_file = key_file;
	o.repo = repo;
	REQUIRE_RC(publish_pack(&o, NULL), 0);
	free(json);
	ledger = build();
}

/* ------------------------------------------------------------ ledger -- */

struct want_dataset {
	const char *name, *org;
	uint64_t files, bytes, chunks, stored, credited_chunks, credited;
};

static const struct want_dataset want[] = {
    {"a-law", "acme", 2, 165536, 3, 165536, 3, 165536},
    /* R1's two chunks were acme's first */
    {"b-news", "beta", 2, 170000, 4, 170000, 2, 70000},
    {"c-open", NULL, 1, 30000, 1, 30000, 1, 30000},
    /* R4 is the platform's (c-open, a lower id) */
    {"d-gamma", "gamma", 2, 50000, 2, 50000, 1, 20000},
    /* R2 again: acme counts it once */
    {"e-acme2", "acme", 2, 105536, 2, 105536, 1, 40000},
    {"f-open", "beta", 1, 50000, 1, 50000, 1, 50000},
    {"g-vault", "gamma", 1, 10000, 1, 10028, 1, 10028},
};

static void test_ledger_figures(void)
{
	const struct publish_ledger_org *o;

	REQUIRE(ledger->ndatasets == 7);
	for (size_t i = 0; i < 7; i++) {
		const struct publish_ledger_dataset *d = &ledger->datasets[i];
		const struct want_dataset *w = &want[i];

		CHECK_STR(d->name, w->name);
		CHECK_U64(d->id, i);
		if (w->org)
			CHECK_STR(d->contributor, w->org);
		else
			CHECK(d->contributor == NULL);
		CHECK_U64(d->files, w->files);
		CHECK_U64(d->bytes, w->bytes);
		CHECK_U64(d->chunks, w->chunks);
		CHECK_U64(d->stored, w->stored);
		CHECK_U64(d->credited_chunks, w->credited_chunks);
		CHECK_U64(d->credited, w->credited);
	}
	REQUIRE(ledger->norgs == 3);
	CHECK_STR(ledger->orgs[0].name, "acme");
	CHECK_STR(ledger->orgs[1].name, "beta");
	CHECK_STR(ledger->orgs[2].name, "gamma");
	o = publish_ledger_org_find(ledger, "acme");
	REQUIRE(o);
	CHECK_U64(o->ndatasets, 2);
	CHECK_U64(o->datasets[0], 0);
	CHECK_U64(o->datasets[1], 4);
	CHECK_U64(o->files, 4);
	CHECK_U64(o->bytes, 271072);
	CHECK_U64(o->stored, 271072);
	CHECK_U64(o->contributed, 205536);
	o = publish_ledger_org_find(ledger, "beta");
	REQUIRE(o);
	CHECK_U64(o->files, 3);
	CHECK_U64(o->bytes, 220000);
	CHECK_U64(o->contributed, 120000);
	o = publish_ledger_org_find(ledger, "gamma");
	REQUIRE(o);
	CHECK_U64(o->files, 3);
	CHECK_U64(o->bytes, 60000);
	CHECK_U64(o->stored, 60028);
	CHECK_U64(o->contributed, 30028);
	CHECK(publish_ledger_org_find(ledger, "nobody") == NULL);
	CHECK(publish_ledger_org_find(ledger, "acm") == NULL);
	/* every distinct chunk credited once: to an org or to nobody */
	CHECK_U64(ledger->pool_chunks, 10);
	CHECK_U64(ledger->pool_stored, 385564);
	CHECK_U64(ledger->unattributed, 30000);
	CHECK_U64(ledger->pool_stored - ledger->unattributed,
		  205536 + 120000 + 30028);
	CHECK(publish_ledger_dataset_find(ledger, "e-acme2") == 4);
	CHECK(publish_ledger_dataset_find(ledger, "e-acme") == -1);
}

/* The same revision, the same ledger. */
static void test_ledger_deterministic(void)
{
	struct publish_ledger *again = build();

	REQUIRE(again->ndatasets == ledger->ndatasets);
	for (size_t i = 0; i < again->ndatasets; i++) {
		CHECK_STR(again->datasets[i].name, ledger->datasets[i].name);
		CHECK_U64(again->datasets[i].credited,
			  ledger->datasets[i].credited);
	}
	CHECK_U64(again->pool_stored, ledger->pool_stored);
	publish_ledger_free(again);
}

/* ------------------------------------------------------------ policy -- */

static publish_policy_t *policy(const char *json)
{
	publish_policy_t *p = NULL;
	char *path = xstrdup(policy_file);

	unlink(path);
	REQUIRE_RC(fs_write_atomic(path, json, strlen(json), 0600), 0);
	REQUIRE_RC(publish_policy_load(path, ledger, &p), 0);
	free(path);
	return p;
}

/* The names granted, space-separated. */
static char *granted(const struct publish_grant *g)
{
	struct buf b;

	buf_init(&b, 4096);
	for (size_t i = 0; i < g->ndatasets; i++) {
		if (b.len)
			buf_append(&b, " ", 1);
		buf_append(&b, g->datasets[i], strlen(g->datasets[i]));
	}
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

static void check_grant(const char *json, const char *org, const char *names,
			uint64_t earned, uint64_t used)
{
	publish_policy_t *p = policy(json);
	struct publish_grant g;
	char *s;

	REQUIRE_RC(publish_policy_grant(p, ledger, org, &g), 0);
	s = granted(&g);
	if (strcmp(s, names))
		UNIT_FAIL("%s for %s: granted '%s', expected '%s'", json, org,
			  s, names);
	CHECK_U64(g.earned, earned);
	CHECK_U64(g.used, used);
	CHECK_U64(g.available, earned - used);
	CHECK_U64(g.contributed,
		  publish_ledger_org_find(ledger, org)->contributed);
	free(s);
	publish_grant_release(&g);
	publish_policy_free(p);
}

static void test_policy_grants(void)
{
	/* beta earned 120000: d-gamma (50000) fits, e-acme2 (105536)
	 * then does not, a-law (165536) neither */
	check_grant("{\"ratio\": 1}", "beta", "b-news d-gamma", 120000, 50000);
	/* own datasets are free: gamma earns 30028, and nothing fits */
	check_grant("{\"ratio\": 1}", "gamma", "d-gamma", 30028, 0);
	/* ratio 0.5 of 205536: 102768, e-acme2 ... acme's own anyway */
	check_grant("{\"ratio\": 0.5}", "acme", "a-law d-gamma e-acme2", 102768,
		    50000);
	check_grant("{\"ratio\": 2.5}", "acme", "a-law b-news d-gamma e-acme2",
		    513840, 220000);
	check_grant("{\"ratio\": 0}", "beta", "b-news", 0, 0);
	/* "order" first: e-acme2 takes 105536, then d-gamma does not fit */
	check_grant("{\"ratio\": 1, \"order\": [\"e-acme2\"]}", "beta",
		    "b-news e-acme2", 120000, 105536);
	/* a dataset of "order" that does not fit is passed over */
	check_grant("{\"ratio\": 1, \"order\": [\"a-law\", \"e-acme2\"]}",
		    "beta", "b-news e-acme2", 120000, 105536);
	/* excluded by its contributor: e-acme2 fits after all */
	check_grant("{\"ratio\": 1, \"exclusions\": {\"d-gamma\": [\"beta\"]}}",
		    "beta", "b-news e-acme2", 120000, 105536);
	check_grant("{\"ratio\": 100, \"exclusions\": {\"a-law\": [\"beta\", "
		    "\"gamma\"]}}",
		    "gamma", "b-news d-gamma e-acme2", 3002800, 275536);
	/* listed: free, on top of what is earned */
	check_grant("{\"ratio\": 1, \"grants\": {\"gamma\": [\"a-law\"]}}",
		    "gamma", "a-law d-gamma", 30028, 0);
	check_grant("{\"ratio\": 1, \"grants\": {\"beta\": [\"e-acme2\"]}}",
		    "beta", "b-news d-gamma e-acme2", 120000, 50000);
	/* under the minimum: nothing earned */
	check_grant("{\"ratio\": 10, \"min_contribution\": 40000}", "gamma",
		    "d-gamma", 0, 0);
	check_grant("{\"ratio\": 1, \"min_contribution\": \"29K\"}", "gamma",
		    "d-gamma", 30028, 0);
	check_grant("{\"ratio\": 1, \"min_contribution\": 30028}", "gamma",
		    "d-gamma", 30028, 0);

	/* the decisions, in order, with their reasons */
	{
		publish_policy_t *p =
		    policy("{\"ratio\": 1, \"grants\": {\"beta\": "
			   "[\"a-law\"]}, \"exclusions\": {\"d-gamma\": "
			   "[\"beta\"]}}");
		struct publish_grant g;
		static const struct {
			const char *name;
			enum publish_grant_reason why;
			uint64_t left;
		} steps[] = {
		    {"a-law", PUBLISH_GRANT_LISTED, 0},
		    {"b-news", PUBLISH_GRANT_OWN, 0},
		    {"d-gamma", PUBLISH_GRANT_EXCLUDED, 0},
		    {"e-acme2", PUBLISH_GRANT_EARNED, 120000},
		};

		REQUIRE_RC(publish_policy_grant(p, ledger, "beta", &g), 0);
		REQUIRE(g.nentries == 4);
		for (size_t i = 0; i < 4; i++) {
			const struct publish_grant_entry *e = &g.entries[i];

			CHECK_STR(ledger->datasets[e->dataset].name,
				  steps[i].name);
			CHECK_INT(e->reason, steps[i].why);
			CHECK(e->granted ==
			      (steps[i].why != PUBLISH_GRANT_EXCLUDED));
			CHECK_U64(e->cost, ledger->datasets[e->dataset].stored);
			if (steps[i].why == PUBLISH_GRANT_EARNED)
				CHECK_U64(e->left, steps[i].left);
		}
		CHECK_U64(g.available, 120000 - 105536);
		publish_grant_release(&g);
		unit_quiet(true);
		CHECK_RC(publish_policy_grant(p, ledger, "nobody", &g),
			 -ENOENT);
		CHECK_RC(publish_policy_grant(p, ledger, "", &g), -ENOENT);
		unit_quiet(false);
		CHECK(g.ndatasets == 0 && g.entries == NULL);
		publish_policy_free(p);
	}
	CHECK_STR(publish_grant_reason_text(PUBLISH_GRANT_EXCLUDED),
		  "excluded by its contributor");
}

/* Every bad policy is refused, and the message names the key. */
static void test_policy_refused(void)
{
	static const struct {
		const char *json, *message;
	} cases[] = {
	    {"", "line "},
	    {"{\"ratio\": 1", "line 1"},
	    {"[1]", "top level: expected a JSON object"},
	    {"{\"ratio\": 1, \"ratio\": 2}", "duplicate"},
	    {"{}", "ratio: missing"},
	    {"{\"ratio\": -1}", "ratio: expected a number >= 0"},
	    {"{\"ratio\": \"2\"}", "ratio: expected a number >= 0"},
	    {"{\"ratio\": 1, \"bonus\": 2}", "unknown key 'bonus'"},
	    {"{\"ratio\": 1, \"min_contribution\": -5}", "min_contribution"},
	    {"{\"ratio\": 1, \"min_contribution\": \"lots\"}",
	     "min_contribution: expected a byte count"},
	    {"{\"ratio\": 1, \"min_contribution\": 1.5}", "min_contribution"},
	    {"{\"ratio\": 1, \"order\": \"a-law\"}",
	     "order: expected an array of dataset names"},
	    {"{\"ratio\": 1, \"order\": [\"zzz\"]}",
	     "order[0]: unknown dataset 'zzz'"},
	    {"{\"ratio\": 1, \"order\": [\"a-law\", 3]}",
	     "order[1]: expected a dataset name"},
	    {"{\"ratio\": 1, \"order\": [\"a-law\", \"a-law\"]}",
	     "order[1]: listed twice"},
	    {"{\"ratio\": 1, \"order\": [\"f-open\"]}",
	     "order[0]: dataset 'f-open' is open: only shared datasets"},
	    {"{\"ratio\": 1, \"order\": [\"g-vault\"]}",
	     "dataset 'g-vault' is secure: only shared datasets are "
	     "exchanged"},
	    {"{\"ratio\": 1, \"grants\": []}", "grants: expected an object"},
	    {"{\"ratio\": 1, \"grants\": {\"nobody\": [\"a-law\"]}}",
	     "grants: unknown organisation 'nobody' (no dataset of the "
	     "repository names it as its contributor)"},
	    {"{\"ratio\": 1, \"grants\": {\"beta\": \"a-law\"}}",
	     "grants.beta: expected an array"},
	    {"{\"ratio\": 1, \"grants\": {\"beta\": [\"c-open\"]}}",
	     "grants.beta[0]: dataset 'c-open' is open"},
	    {"{\"ratio\": 1, \"grants\": {\"beta\": [\"b-news\"]}}",
	     "grants.beta: 'b-news' is its own contribution"},
	    {"{\"ratio\": 1, \"exclusions\": {\"zzz\": [\"beta\"]}}",
	     "exclusions: unknown dataset 'zzz'"},
	    {"{\"ratio\": 1, \"exclusions\": {\"a-law\": \"beta\"}}",
	     "exclusions.a-law: expected an array of organisations"},
	    {"{\"ratio\": 1, \"exclusions\": {\"a-law\": [\"acme\"]}}",
	     "exclusions.a-law[0]: the dataset's own contributor"},
	    {"{\"ratio\": 1, \"exclusions\": {\"a-law\": [\"nobody\"]}}",
	     "exclusions.a-law[0]: unknown organisation 'nobody'"},
	    {"{\"ratio\": 1, \"exclusions\": {\"a-law\": [\"beta\", "
	     "\"beta\"]}}",
	     "exclusions.a-law[1]: listed twice"},
	    {"{\"ratio\": 1, \"exclusions\": {\"a-law\": [7]}}",
	     "exclusions.a-law[0]: expected an organisation"},
	    {"{\"ratio\": 1, \"grants\": {\"beta\": [\"a-law\"]}, "
	     "\"exclusions\": {\"a-law\": [\"beta\"]}}",
	     "grants.beta: lists 'a-law', whose contributor excludes 'beta' "
	     "from it (exclusions.a-law)"},
	};
	char *log = unit_path(tmp, "policy.log");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		publish_policy_t *p = NULL;
		char *text = NULL;
		size_t len;
		int fd, saved = dup(STDERR_FILENO);

		unlink(policy_file);
		REQUIRE_RC(fs_write_atomic(policy_file, cases[i].json,
					   strlen(cases[i].json), 0600),
			   0);
		/* the message goes to the log (stderr): catch it */
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		REQUIRE(fd >= 0 && saved >= 0);
		REQUIRE(dup2(fd, STDERR_FILENO) >= 0);
		CHECK_RC(publish_policy_load(policy_file, ledger, &p), -EINVAL);
		REQUIRE(dup2(saved, STDERR_FILENO) >= 0);
		close(fd);
		close(saved);
		CHECK(p == NULL);
		REQUIRE_RC(fs_read_file(log, 1 << 20, &text, &len), 0);
		if (!strstr(text, cases[i].message) ||
		    !strstr(text, policy_file))
			UNIT_FAIL("policy %s: message '%s' lacks '%s'",
				  cases[i].json, text, cases[i].message);
		free(text);
	}
	/* no such file */
	unit_quiet(true);
	{
		publish_policy_t *p = NULL;
		char *missing = unit_path(tmp, "no-such-policy.json");

		CHECK_RC(publish_policy_load(missing, ledger, &p), -EINVAL);
		CHECK(p == NULL);
		free(missing);
	}
	unit_quiet(false);
	free(log);
}

/* The record of issued credentials: appended, read back in order. */
static void test_issued_record(void)
{
	char *path = publish_issued_path(key_file), *expect;
	char *ds1[] = {(char *)"a-law", (char *)"d-gamma"};
	struct auth_claims c = {
	    .sub = (char *)"alice",
	    .org = (char *)"beta",
	    .jti = (char *)"j-1",
	    .iat = 1000,
	    .exp = 2000,
	    .scope = AUTH_SCOPE_SHARED,
	    .datasets = ds1,
	    .ndatasets = 2,
	};
	struct auth_claims *got = NULL;
	struct stat st;
	size_t n = 9;

	expect = unit_path(tmp, PUBLISH_ISSUED_FILE);
	CHECK_STR(path, expect);
	free(expect);
	expect = publish_issued_path("platform.key");
	CHECK_STR(expect, PUBLISH_ISSUED_FILE);
	free(expect);
	CHECK_RC(publish_issued_load(path, &got, &n), -ENOENT);
	CHECK(got == NULL && n == 0);
	CHECK_RC(publish_issued_append(path, &c), 0);
	c.jti = (char *)"j-2";
	c.sub = (char *)"bob";
	c.nbf = 1500;
	c.ndatasets = 0;
	c.scope = AUTH_SCOPE_SHARED | AUTH_SCOPE_SECURE;
	c.node = (char *)"0123456789abcdef";
	CHECK_RC(publish_issued_append(path, &c), 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	REQUIRE_RC(publish_issued_load(path, &got, &n), 0);
	REQUIRE(n == 2);
	CHECK_STR(got[0].jti, "j-1");
	CHECK_STR(got[0].sub, "alice");
	CHECK_STR(got[0].org, "beta");
	CHECK_U64(got[0].iat, 1000);
	CHECK_U64(got[0].exp, 2000);
	CHECK_U64(got[0].nbf, 0);
	CHECK_INT(got[0].scope, AUTH_SCOPE_SHARED);
	REQUIRE(got[0].ndatasets == 2);
	CHECK_STR(got[0].datasets[1], "d-gamma");
	CHECK(got[0].node == NULL);
	CHECK_STR(got[1].jti, "j-2");
	CHECK_U64(got[1].nbf, 1500);
	CHECK_U64(got[1].ndatasets, 0);
	CHECK_INT(got[1].scope, AUTH_SCOPE_SHARED | AUTH_SCOPE_SECURE);
	CHECK_STR(got[1].node, "0123456789abcdef");
	for (size_t i = 0; i < n; i++)
		auth_claims_release(&got[i]);
	free(got);

	/* a line that is not a record: refused, naming it */
	{
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

		REQUIRE(fd >= 0);
		REQUIRE_RC(fs_write_all(fd, "{\"sub\": 1}\n", 12), 0);
		close(fd);
	}
	unit_quiet(true);
	CHECK_RC(publish_issued_load(path, &got, &n), -EINVAL);
	unit_quiet(false);
	CHECK(got == NULL && n == 0);
	unlink(path);
	free(path);
}

int main(void)
{
	log_init("test_ledger", LOG_LEVEL_WARN, false);
	umask(022);
	setup();
	RUN(test_ledger_figures);
	RUN(test_ledger_deterministic);
	RUN(test_policy_grants);
	RUN(test_policy_refused);
	RUN(test_issued_record);
	publish_ledger_free(ledger);
	repo_key_free(key);
	free(src);
	free(repo);
	free(key_file);
	free(policy_file);
	unit_rmtree(tmp);
	return unit_result();
}

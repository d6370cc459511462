/*
 * aidata token: issue a credential (a JWT signed with the platform key)
 * and show what a credential grants after verifying it. The datasets a
 * credential grants are listed by hand (--datasets) or computed from a
 * repository's ledger and a policy (--policy, docs/POLICY.md); either
 * way the claims (never the token) go to the publisher's record of
 * issued credentials beside the key before the token is printed.
 *
 * A token is a bearer secret: it goes to stdout on issue and is read from
 * stdin on show (never from argv, where ps would see it), and no message
 * ever quotes it.
 */
#include "auth.h"
#include "commands.h"
#include "digest.h"
#include "log.h"
#include "pool.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define JTI_RANDOM_BYTES 16

/* Hidden options: only for tests, which need a fixed clock. */
enum { OPT_NOW = 256, OPT_NOT_BEFORE };

static const char issue_usage[] =
    "usage: aidata token issue --key FILE --sub USER --org ORG "
    "--scope SCOPES\n"
    "                          --datasets LIST --ttl DURATION [--node ID] "
    "[--jti ID]\n"
    "                          [--not-before TIME]\n"
    "       aidata token issue --key FILE --sub USER --org ORG "
    "--policy FILE\n"
    "                          --repo REPO --ttl DURATION [--scope shared] "
    "[--jti ID]\n"
    "                          [--not-before TIME]\n";
static const char show_usage[] = "usage: aidata token show --pubkey FILE\n";

static void usage(FILE *f)
{
	fprintf(f, "%s%s", issue_usage, show_usage);
}

/* A whole decimal int64; false on junk, overflow or an empty string. */
static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* "90", "90s", "15m", "12h", "30d": seconds, at least 1. */
static bool parse_ttl(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	int64_t mult = 1, v;
	char *num;
	bool ok;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return false;
	switch (s[n - 1]) {
	case 's':
		mult = 1;
		n--;
		break;
	case 'm':
		mult = 60;
		n--;
		break;
	case 'h':
		mult = 3600;
		n--;
		break;
	case 'd':
		mult = 86400;
		n--;
		break;
	}
	num = xstrndup(s, n);
	ok = parse_i64(num, &v) && v > 0 && v <= INT64_MAX / mult;
	free(num);
	if (ok)
		*out = v * mult;
	return ok;
}

/*
 * Split a comma-separated list. "" is the empty list; an empty item
 * ("a,,b", "a,") is an error rather than silently dropped.
 */
static bool split_list(const char *s, char ***items, size_t *n)
{
	const char *p = s;

	*items = NULL;
	*n = 0;
	if (!*s)
		return true;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0)
			return false;
		*items = xrealloc(*items, (*n + 1) * sizeof(char *));
		(*items)[(*n)++] = xstrndup(p, len);
		if (!comma)
			return true;
		p = comma + 1;
	}
}

static void free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* "shared", "secure", "shared,secure"; "" or "open" is no scope. */
static bool parse_scope(const char *s, uint32_t *scope)
{
	char **items;
	size_t n;
	bool ok;

	*scope = 0;
	if (!strcmp(s, "open"))
		return true;
	ok = split_list(s, &items, &n);
	for (size_t i = 0; ok && i < n; i++) {
		if (!strcmp(items[i], "shared"))
			*scope |= AUTH_SCOPE_SHARED;
		else if (!strcmp(items[i], "secure"))
			*scope |= AUTH_SCOPE_SECURE;
		else
			ok = false;
	}
	free_list(items, n);
	return ok;
}

/*
 * What policy_path grants org from the ledger of repo (verified with
 * key): the granted names into *datasets (*n; free_list), and why, per
 * shared dataset, on stderr. 0, or 1 (said why): an unreadable
 * repository or policy, an organisation that contributed nothing, or
 * nothing granted.
 */
static int policy_datasets(const repo_key_t *key, const char *repo,
			   const char *policy_path, const char *org,
			   char ***datasets, size_t *n)
{
	publish_policy_t *policy = NULL;
	struct publish_grant g = {0};
	struct pool pool;
	int rc;

	*datasets = NULL;
	*n = 0;
	log_init("aidata token", LOG_LEVEL_INFO, false);
	rc = pool_open(repo, key, &pool);
	if (rc)
		return 1;
	rc = publish_policy_load(policy_path, pool.ledger, &policy);
	if (!rc)
		rc = publish_policy_grant(policy, pool.ledger, org, &g);
	if (rc)
		goto out;
	fprintf(stderr,
		"aidata token: '%s' is credited %" PRIu64 " stored bytes in "
		"'%s' (revision %" PRIu64 "); policy '%s' (ratio %g) earns "
		"it %" PRIu64 " bytes%s\n",
		g.org, g.contributed, repo, pool.repo->manifest.revision,
		policy_path, publish_policy_ratio(policy), g.earned,
		g.below_minimum ? " (below min_contribution: nothing earned)"
				: "");
	for (size_t i = 0; i < g.nentries; i++) {
		const struct publish_grant_entry *e = &g.entries[i];

		fprintf(stderr, "aidata token: %s '%s': %s",
			e->granted ? "granted" : "not granted",
			pool.ledger->datasets[e->dataset].name,
			publish_grant_reason_text(e->reason));
		if (e->reason == PUBLISH_GRANT_EARNED ||
		    e->reason == PUBLISH_GRANT_OVER_BUDGET)
			fprintf(stderr,
				" (costs %" PRIu64 " bytes, %" PRIu64 " left)",
				e->cost, e->left);
		fprintf(stderr, "\n");
	}
	fprintf(stderr,
		"aidata token: used %" PRIu64 " of %" PRIu64 " bytes earned, "
		"%" PRIu64 " available\n",
		g.used, g.earned, g.available);
	if (!g.ndatasets) {
		fprintf(stderr,
			"aidata token: policy '%s' grants '%s' no "
			"shared dataset: no credential issued\n",
			policy_path, g.org);
		rc = -ENOENT;
		goto out;
	}
	*datasets = g.datasets;
	*n = g.ndatasets;
	g.datasets = NULL;
	g.ndatasets = 0;
out:
	if (rc && !g.org) /* the reason is logged above */
		fprintf(stderr, "aidata token: no credential issued\n");
	publish_grant_release(&g);
	publish_policy_free(policy);
	pool_release(&pool);
	return rc ? 1 : 0;
}

/* text and a newline on stdout: 0, or 1 (said why) if it cannot be
 * written (a closed pipe, a full disk). */
static int print_line(const char *text)
{
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "aidata token: cannot write to stdout: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

static int token_issue(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"sub", required_argument, NULL, 's'},
	    {"org", required_argument, NULL, 'o'},
	    {"scope", required_argument, NULL, 'S'},
	    {"datasets", required_argument, NULL, 'd'},
	    {"ttl", required_argument, NULL, 't'},
	    {"node", required_argument, NULL, 'n'},
	    {"jti", required_argument, NULL, 'j'},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"not-before", required_argument, NULL, OPT_NOT_BEFORE},
	    {"policy", required_argument, NULL, 'P'},
	    {"repo", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key_path = NULL, *scope_arg = NULL, *ds_arg = NULL;
	const char *ttl_arg = NULL, *now_arg = NULL, *nbf_arg = NULL;
	const char *policy_arg = NULL, *repo_arg = NULL;
	char *record = NULL;
	struct auth_claims claims = {0};
	char jti_buf[2 * JTI_RANDOM_BYTES + 1];
	char *token = NULL;
	repo_key_t *key = NULL;
	int64_t now, ttl;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_path = optarg;
			break;
		case 's':
			claims.sub = optarg;
			break;
		case 'o':
			claims.org = optarg;
			break;
		case 'S':
			scope_arg = optarg;
			break;
		case 'd':
			ds_arg = optarg;
			break;
		case 't':
			ttl_arg = optarg;
			break;
		case 'n':
			claims.node = optarg;
			break;
		case 'j':
			claims.jti = optarg;
			break;
		case OPT_NOW:
			now_arg = optarg;
			break;
		case OPT_NOT_BEFORE:
			nbf_arg = optarg;
			break;
		case 'P':
			policy_arg = optarg;
			break;
		case 'r':
			repo_arg = optarg;
			break;
		case 'h':
			printf(
			    "%s\n"
			    "Print a credential for member USER of ORG, "
			    "signed with the platform key\nFILE, on stdout. "
			    "SCOPES is shared, secure or shared,secure (\"\" "
			    "or\n\"open\": open data only); LIST names the "
			    "shared and secure datasets it\ngrants, comma-"
			    "separated. DURATION is seconds, or a number "
			    "with an s, m,\nh or d suffix. --node binds it "
			    "to one secure node (16 hex characters);\n--jti "
			    "sets the credential id that revocation names "
			    "(default: random).\n--not-before makes it valid "
			    "only from TIME (unix seconds, or +DURATION\nfrom "
			    "now; the nbf claim): mounts refuse it until then, "
			    "allowing 60 s of\nclock skew. The validity "
			    "(--ttl) counts from TIME.\n"
			    "\n"
			    "--policy FILE, instead of --datasets, grants what "
			    "ORG has earned by its\ncontributions to REPO (a "
			    "directory or a file://, http:// or https://\nURL, "
			    "verified with the key): the shared datasets it "
			    "contributed, those\nthe policy lists for it, and "
			    "others up to the policy's ratio x the\nstored "
			    "bytes "
			    "credited to it, never those their contributor "
			    "excludes it\nfrom (docs/POLICY.md; `aidata ledger "
			    "--policy` shows the balances). Each\nshared "
			    "dataset's decision and its reason go to stderr. "
			    "An organisation\nthat contributed nothing, or is "
			    "granted nothing, gets no credential.\nThe scope "
			    "is shared: secure datasets are not part of the "
			    "exchange.\n"
			    "\n"
			    "Before the token is printed, its claims (never "
			    "the "
			    "token) are appended to\nthe publisher's record, "
			    "issued-credentials.jsonl beside the key, which\n"
			    "`aidata ledger` reads; if that fails, no token is "
			    "printed.\n",
			    issue_usage);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || !key_path || !claims.sub || !claims.org ||
	    !ttl_arg)
		goto usage;
	if (policy_arg && ds_arg) {
		fprintf(stderr, "aidata token: --policy and --datasets: give "
				"one (the policy computes the datasets)\n");
		return 2;
	}
	if (policy_arg && !repo_arg) {
		fprintf(stderr, "aidata token: --policy needs --repo REPO (the "
				"contributions are read from it)\n");
		return 2;
	}
	if (!policy_arg && (repo_arg || !scope_arg || !ds_arg))
		goto usage;
	if (policy_arg && scope_arg && strcmp(scope_arg, "shared")) {
		fprintf(stderr,
			"aidata token: --policy grants shared datasets only "
			"(secure datasets are not part of the exchange): "
			"--scope '%s' refused\n",
			scope_arg);
		return 2;
	}
	if (policy_arg)
		scope_arg = "shared";
	if (!*claims.sub) {
		fprintf(stderr, "aidata token: --sub must not be empty\n");
		return 2;
	}
	if (!parse_scope(scope_arg, &claims.scope)) {
		fprintf(stderr,
			"aidata token: invalid --scope '%s' (shared, secure, "
			"shared,secure or open)\n",
			scope_arg);
		return 2;
	}
	if (!parse_ttl(ttl_arg, &ttl)) {
		fprintf(stderr,
			"aidata token: invalid --ttl '%s' (e.g. 3600, 90m, "
			"12h, 30d)\n",
			ttl_arg);
		return 2;
	}
	if (now_arg) {
		if (!parse_i64(now_arg, &now)) {
			fprintf(stderr, "aidata token: invalid --now '%s'\n",
				now_arg);
			return 2;
		}
	} else {
		now = (int64_t)time(NULL);
	}
	if (now > INT64_MAX - ttl) {
		fprintf(stderr, "aidata token: --ttl '%s' is too long\n",
			ttl_arg);
		return 2;
	}
	if (claims.node &&
	    !auth_node_id_valid(claims.node, strlen(claims.node))) {
		fprintf(stderr,
			"aidata token: invalid --node '%s' (16 lowercase hex "
			"characters)\n",
			claims.node);
		return 2;
	}
	if (claims.jti && !repo_jti_valid(claims.jti, strlen(claims.jti))) {
		fprintf(stderr,
			"aidata token: invalid --jti '%s' (1-128 characters "
			"of A-Z a-z 0-9 . _ -)\n",
			claims.jti);
		return 2;
	}
	if (ds_arg &&
	    !split_list(ds_arg, &claims.datasets, &claims.ndatasets)) {
		fprintf(stderr,
			"aidata token: invalid --datasets '%s' (an empty "
			"name)\n",
			ds_arg);
		rc = 2;
		goto out;
	}
	if (!claims.jti) {
		uint8_t r[JTI_RANDOM_BYTES];

		if (RAND_bytes(r, sizeof(r)) != 1) {
			fprintf(stderr, "aidata token: no random bytes for "
					"the credential id\n");
			rc = 1;
			goto out;
		}
		hex_encode(r, sizeof(r), jti_buf);
		claims.jti = jti_buf;
	}
	claims.iat = now;
	claims.exp = now + ttl;
	if (nbf_arg) {
		int64_t nbf = 0, d = 0;
		bool ok;

		if (nbf_arg[0] == '+') {
			ok = parse_ttl(nbf_arg + 1, &d) &&
			     now <= INT64_MAX - d - ttl;
			nbf = ok ? now + d : 0;
		} else {
			ok = parse_i64(nbf_arg, &nbf) && nbf > 0 &&
			     nbf <= INT64_MAX - ttl;
		}
		if (!ok) {
			fprintf(stderr,
				"aidata token: invalid --not-before '%s' (unix "
				"seconds, or +DURATION such as +1h)\n",
				nbf_arg);
			rc = 2;
			goto out;
		}
		claims.nbf = nbf;
		claims.exp = nbf + ttl;
	}

	rc = repo_key_load_private(key_path, &key);
	if (rc) {
		fprintf(stderr,
			"aidata token: cannot load private key '%s': %s\n",
			key_path,
			rc == -EINVAL ? "not an Ed25519 private key"
				      : strerror(-rc));
		rc = 1;
		goto out;
	}
	if (policy_arg) {
		rc = policy_datasets(key, repo_arg, policy_arg, claims.org,
				     &claims.datasets, &claims.ndatasets);
		if (rc)
			goto out;
	}
	rc = auth_token_issue(key, &claims, &token);
	if (rc) {
		/* the options were checked above: a name that is not UTF-8,
		 * or claims too long for AUTH_TOKEN_MAX */
		fprintf(stderr, "aidata token: cannot issue: %s\n",
			rc == -EINVAL
			    ? "invalid claims (not UTF-8, or too long)"
			    : strerror(-rc));
		rc = 1;
		goto out;
	}
	/* the record first: a credential the publisher cannot account
	 * for is not handed out */
	record = publish_issued_path(key_path);
	log_init("aidata token", LOG_LEVEL_INFO, false);
	if (publish_issued_append(record, &claims) != 0) {
		fprintf(stderr, "aidata token: no credential issued: it "
				"could not be recorded\n");
		rc = 1;
		goto out;
	}
	rc = print_line(token);
out:
	free(record);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	repo_key_free(key);
	free_list(claims.datasets, claims.ndatasets);
	return rc;
usage:
	fprintf(stderr, "%s", issue_usage);
	return 2;
}

/*
 * Read all of stdin, at most AUTH_TOKEN_MAX + 1 bytes: one more than any
 * token, so an oversized input reaches the verifier and is refused there.
 */
static int read_stdin(char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t got = read(STDIN_FILENO, buf + n, cap - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*len = n;
	return 0;
}

static int token_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"now", required_argument, NULL, OPT_NOW},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *pub_path = NULL, *now_arg = NULL;
	enum auth_token_error why = AUTH_TOKEN_OK;
	struct auth_claims claims = {0};
	char *buf = NULL, *cj = NULL, *text = NULL;
	repo_key_t *pub = NULL;
	json_t *o = NULL;
	size_t len = 0;
	int64_t now;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'p') {
			pub_path = optarg;
		} else if (c == OPT_NOW) {
			now_arg = optarg;
		} else if (c == 'h') {
			printf("%s\n"
			       "Read a credential on stdin, verify it with "
			       "the platform public key FILE\nat the current "
			       "time and print its claims as JSON. Exit 1, "
			       "with the\nreason, if it does not verify.\n",
			       show_usage);
			return 0;
		} else {
			goto usage;
		}
	}
	if (optind != argc || !pub_path)
		goto usage;
	if (now_arg) {
		if (!parse_i64(now_arg, &now)) {
			fprintf(stderr, "aidata token: invalid --now '%s'\n",
				now_arg);
			return 2;
		}
	} else {
		now = (int64_t)time(NULL);
	}
	rc = repo_key_load_public(pub_path, &pub);
	if (rc) {
		fprintf(stderr,
			"aidata token: cannot load public key '%s': %s\n",
			pub_path,
			rc == -EINVAL ? "not an Ed25519 public key"
				      : strerror(-rc));
		rc = 1;
		goto out;
	}
	buf = xmalloc(AUTH_TOKEN_MAX + 1);
	rc = read_stdin(buf, AUTH_TOKEN_MAX + 1, &len);
	if (rc) {
		fprintf(stderr, "aidata token: cannot read stdin: %s\n",
			strerror(-rc));
		rc = 1;
		goto out;
	}
	rc = auth_token_verify(pub, buf, len, now, &claims, &why);
	if (rc) {
		fprintf(stderr, "aidata token: rejected: %s\n",
			auth_token_error_text(why));
		rc = 1;
		goto out;
	}
	/* auth_claims_json is one line, for logs; people get it indented */
	cj = auth_claims_json(&claims);
	o = cj ? json_loads(cj, 0, NULL) : NULL;
	text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		fprintf(stderr, "aidata token: cannot format the claims\n");
		rc = 1;
		goto out;
	}
	rc = print_line(text);
out:
	if (buf) {
		explicit_bzero(buf, AUTH_TOKEN_MAX + 1);
		free(buf);
	}
	auth_claims_release(&claims);
	json_decref(o);
	free(cj);
	free(text);
	repo_key_free(pub);
	return rc;
usage:
	fprintf(stderr, "%s", show_usage);
	return 2;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		printf("\n'aidata token issue --help' and 'aidata token show "
		       "--help' say more.\n");
		return 0;
	}
	if (!strcmp(argv[1], "issue"))
		return token_issue(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return token_show(argc - 1, argv + 1);
	fprintf(stderr, "aidata token: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

/*
 * Unit tests: decisions and the audit log (auth/auth.c, auth/audit.c)
 * through the public auth API, with a real file in a temp dir:
 *  - a record is written whole or not at all (a short write, forced with
 *    RLIMIT_FSIZE, is undone, so the log stays valid JSON lines);
 *  - a log removed or renamed under the daemon refuses shared and secure
 *    opens until auth_audit_reopen, and auth_decide says so too;
 *  - a log that is not a regular file refuses from the start;
 *  - open for writing is refused (AUTH_READ_ONLY) and audited;
 *  - a credential whose nbf is in the future is refused with its reason.
 */
#define _GNU_SOURCE
#include "auth.h"
#include "unit.h"
#include "xalloc.h"

#include <jansson.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "banned.h"

static repo_key_t *platform, *platform_pub;
static char *dir;

static char *make_token(const char *jti, int64_t nbf)
{
	static char *datasets[] = {(char *)"fin-shared"};
	struct auth_claims c = {0};
	char *tok = NULL;

	c.sub = (char *)"alice";
	c.org = (char *)"acme";
	c.jti = (char *)jti;
	c.iat = (int64_t)time(NULL) - 10;
	c.nbf = nbf;
	c.exp = (nbf ? nbf : c.iat) + 3600;
	c.scope = AUTH_SCOPE_SHARED;
	c.datasets = datasets;
	c.ndatasets = 1;
	REQUIRE_RC(auth_token_issue(platform, &c, &tok), 0);
	return tok;
}

/* An auth_t whose default credential is tok, logging to audit. */
static auth_t *new_auth(const char *tok, const char *audit)
{
	char *tokfile = unit_path(dir, "default.jwt");
	char *state = unit_path(dir, "state");
	struct auth_options o = {0};
	auth_t *a = NULL;

	REQUIRE_RC(fs_write_atomic(tokfile, tok, strlen(tok), 0600), 0);
	o.platform_pub = platform_pub;
	o.default_token_file = tokfile;
	o.state_dir = state;
	o.audit_log = audit;
	REQUIRE_RC(auth_new(&o, &a), 0);
	free(tokfile);
	free(state);
	return a;
}

static struct auth_request shared_request(void)
{
	struct auth_request r = {0};

	r.uid = getuid();
	r.pid = getpid();
	r.path = "/datasets/fin-shared/a.txt";
	r.dataset = "fin-shared";
	r.tier = REPO_TIER_SHARED;
	return r;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Every line of path is a JSON object; returns how many, -1 if not. */
static int json_lines(const char *path)
{
	char *data = NULL, *p, *nl;
	size_t len;
	int n = 0;

	if (fs_read_file(path, 1 << 20, &data, &len) != 0)
		return -1;
	for (p = data; p < data + len; p = nl + 1) {
		json_t *o;

		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (!nl) {
			n = -1; /* an unterminated record */
			break;
		}
		o = json_loadb(p, (size_t)(nl - p), 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			n = -1;
			break;
		}
		json_decref(o);
		n++;
	}
	free(data);
	return n;
}

static void test_short_write_undone(void)
{
	char *audit = unit_path(dir, "short.log");
	char *tok = make_token("short-1", 0);
	auth_t *a = new_auth(tok, audit);
	struct auth_request r = shared_request();
	enum auth_reason why;
	struct rlimit old, lim;
	off_t before;

	CHECK_RC(auth_check_open(a, &r, &why), 0);
	CHECK_INT(why, AUTH_GRANTED);
	CHECK_RC(auth_check_open(a, &r, &why), 0);
	before = file_size(audit);
	CHECK(before > 0);
	CHECK_INT(json_lines(audit), 2);

	/* room for part of a record only: write() stops short (EFBIG past
	 * the limit; SIGXFSZ ignored as the daemon does) */
	REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 20;
	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	unit_quiet(true);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_AUDIT_UNAVAILABLE);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
	/* nothing of the refused record is left */
	CHECK_INT(file_size(audit), before);
	CHECK_INT(json_lines(audit), 2);

	/* and the next record is whole */
	CHECK_RC(auth_check_open(a, &r, &why), 0);
	CHECK_INT(json_lines(audit), 3);
	auth_free(a);
	free(tok);
	free(audit);
}

static void test_removed_and_renamed(void)
{
	char *audit = unit_path(dir, "rot.log");
	char *moved = unit_path(dir, "rot.log.1");
	char *tok = make_token("rot-1", 0);
	auth_t *a = new_auth(tok, audit);
	struct auth_request r = shared_request();
	enum auth_reason why;

	CHECK_INT(auth_decide(a, &r), AUTH_GRANTED);
	CHECK_RC(auth_check_open(a, &r, &why), 0);

	/* renamed away (logrotate's default): refused, and decide agrees */
	REQUIRE(rename(audit, moved) == 0);
	CHECK_INT(auth_decide(a, &r), AUTH_AUDIT_UNAVAILABLE);
	unit_quiet(true);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_AUDIT_UNAVAILABLE);
	/* a new file at the path (logrotate's "create") is not ours yet */
	REQUIRE_RC(fs_write_atomic(audit, "", 0, 0600), 0);
	CHECK_INT(auth_decide(a, &r), AUTH_AUDIT_UNAVAILABLE);
	CHECK_INT(json_lines(moved), 1);
	unit_quiet(true);
	CHECK_RC(auth_audit_reopen(a), 0);
	unit_quiet(false);
	CHECK_INT(auth_decide(a, &r), AUTH_GRANTED);
	CHECK_RC(auth_check_open(a, &r, &why), 0);
	CHECK_INT(json_lines(audit), 1);
	CHECK_INT(json_lines(moved), 1); /* nothing went to the old file */

	/* removed */
	REQUIRE(unlink(audit) == 0);
	CHECK_INT(auth_decide(a, &r), AUTH_AUDIT_UNAVAILABLE);
	unit_quiet(true);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	CHECK_RC(auth_audit_reopen(a), 0);
	unit_quiet(false);
	CHECK_RC(auth_check_open(a, &r, &why), 0);
	CHECK_INT(json_lines(audit), 1);

	/* open-tier files never need the log */
	REQUIRE(unlink(audit) == 0);
	r.tier = REPO_TIER_OPEN;
	CHECK_INT(auth_decide(a, &r), AUTH_GRANTED);
	CHECK_RC(auth_check_open(a, &r, &why), 0);
	auth_free(a);
	free(tok);
	free(audit);
	free(moved);
}

static void test_not_regular(void)
{
	char *tok = make_token("devnull-1", 0);
	auth_t *a;
	struct auth_request r = shared_request();
	enum auth_reason why;

	unit_quiet(true);
	a = new_auth(tok, "/dev/null");
	CHECK_INT(auth_decide(a, &r), AUTH_AUDIT_UNAVAILABLE);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_AUDIT_UNAVAILABLE);
	auth_free(a);
	free(tok);
}

static void test_write_refused_and_audited(void)
{
	char *audit = unit_path(dir, "write.log");
	char *tok = make_token("write-1", 0);
	auth_t *a = new_auth(tok, audit);
	struct auth_request r = shared_request();
	enum auth_reason why;
	char *data = NULL;
	size_t len;

	r.write = true;
	CHECK_INT(auth_decide(a, &r), AUTH_READ_ONLY);
	unit_quiet(true);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_READ_ONLY);
	CHECK_INT(json_lines(audit), 1);
	REQUIRE_RC(fs_read_file(audit, 1 << 20, &data, &len), 0);
	CHECK(strstr(data, "\"decision\":\"denied\"") != NULL);
	CHECK(strstr(data, "\"reason\":\"read-only file system\"") != NULL);
	free(data);
	/* open tier: refused, not audited */
	r.tier = REPO_TIER_OPEN;
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	CHECK_INT(why, AUTH_READ_ONLY);
	CHECK_INT(json_lines(audit), 1);
	CHECK_STR(auth_reason_text(AUTH_READ_ONLY), "read-only file system");
	auth_free(a);
	free(tok);
	free(audit);
}

static void test_not_yet_valid(void)
{
	char *audit = unit_path(dir, "nbf.log");
	int64_t now = (int64_t)time(NULL);
	char *later = make_token("nbf-later", now + 3600);
	char *soon = make_token("nbf-soon", now + AUTH_CLOCK_LEEWAY / 2);
	auth_t *a = new_auth(later, audit);
	struct auth_request r = shared_request();
	enum auth_reason why;
	char *who;

	CHECK_INT(auth_decide(a, &r), AUTH_NOT_YET_VALID);
	unit_quiet(true);
	CHECK_RC(auth_check_open(a, &r, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_NOT_YET_VALID);
	CHECK_STR(auth_reason_text(AUTH_NOT_YET_VALID),
		  "credential not yet valid");
	who = auth_whoami(a, getuid());
	CHECK(strstr(who, "\"credential not yet valid\"") != NULL);
	CHECK(strstr(who, "\"valid\": false") != NULL);
	free(who);
	/* login refuses it too, with the reason */
	unit_quiet(true);
	CHECK_RC(auth_login(a, 4242, later, strlen(later), &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_NOT_YET_VALID);
	/* within the clock-skew leeway it is valid */
	unit_quiet(true);
	CHECK_RC(auth_login(a, getuid(), soon, strlen(soon), &why), 0);
	unit_quiet(false);
	CHECK_INT(auth_decide(a, &r), AUTH_GRANTED);
	auth_free(a);
	free(later);
	free(soon);
	free(audit);
}

int main(void)
{
	char *path;

	dir = unit_tmpdir();
	path = unit_path(dir, "platform.pub");
	REQUIRE_RC(repo_key_generate(&platform), 0);
	REQUIRE_RC(repo_key_write_public(platform, path), 0);
	REQUIRE_RC(repo_key_load_public(path, &platform_pub), 0);
	free(path);

	RUN(test_short_write_undone);
	RUN(test_removed_and_renamed);
	RUN(test_not_regular);
	RUN(test_write_refused_and_audited);
	RUN(test_not_yet_valid);

	repo_key_free(platform);
	repo_key_free(platform_pub);
	unit_rmtree(dir);
	return unit_result();
}

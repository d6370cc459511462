/* Unit tests: origin/origin.c without a network: file:// origins, URL and
 * object path checks, and log redaction. HTTP is covered by
 * tests/integration/test_origin_http.sh against a real nginx. */
#define _GNU_SOURCE
#include "origin.h"
#include "unit.h"

#include <sys/stat.h>

#include "banned.h"

#define OBJ_SIZE (300 * 1000 + 7) /* not a multiple of any read chunk */

static char *root;     /* temp dir served as the origin */
static char *root_url; /* "file://<root>" */
static uint8_t *obj;   /* contents of <root>/data/ab/obj */

static void setup(void)
{
	uint64_t seed = 0x6f726967696e;
	char *dir, *path;

	root = unit_tmpdir();
	root_url = unit_path("file:/", root);
	obj = malloc(OBJ_SIZE);
	REQUIRE(obj);
	unit_rand_fill(&seed, obj, OBJ_SIZE);

	dir = unit_path(root, "data/ab");
	REQUIRE_RC(fs_mkdir_p(dir, 0755), 0);
	path = unit_path(dir, "obj");
	REQUIRE_RC(fs_write_atomic(path, obj, OBJ_SIZE, 0644), 0);
	free(path);
	path = unit_path(root, "empty");
	REQUIRE_RC(fs_write_atomic(path, "", 0, 0644), 0);
	free(path);
	path = unit_path(root, "manifest");
	REQUIRE_RC(fs_write_atomic(path, "hello\n", 6, 0644), 0);
	free(path);
	free(dir);
}

static origin_t *open_root(const char *url)
{
	struct origin_options opt = {.url = url, .timeout_sec = 1};
	origin_t *o = NULL;

	REQUIRE_RC(origin_new(&opt, &o), 0);
	REQUIRE(o);
	return o;
}

/* The fetches with a cap (whole objects) or a length (ranges), as the
 * tests before struct origin_req called them. */
static int get_capped(origin_t *o, const char *rel, uint64_t max, struct buf *b)
{
	struct origin_req r;

	origin_req_init(&r, rel, max, 0);
	return origin_get(o, &r, b);
}

static int get_fd(origin_t *o, const char *rel, uint64_t max, int fd)
{
	struct origin_req r;

	origin_req_init(&r, rel, max, 0);
	return origin_get_to_fd(o, &r, fd);
}

static int get_range(origin_t *o, const char *rel, uint64_t off, size_t len,
		     struct buf *b)
{
	struct origin_req r;

	origin_req_init(&r, rel, len, 0);
	return origin_get_range(o, &r, off, b);
}

/* ------------------------------------------------------------ whole -- */

static void test_get_whole(void)
{
	origin_t *o = open_root(root_url);
	struct origin_stats st;
	struct buf b;

	buf_init(&b, 16u << 20);
	CHECK_RC(get_capped(o, "data/ab/obj", OBJ_SIZE, &b), 0);
	CHECK_U64(b.len, OBJ_SIZE);
	if (b.len == OBJ_SIZE)
		CHECK_MEM(b.data, obj, OBJ_SIZE);

	/* Appends after what is already there. */
	CHECK_RC(get_capped(o, "manifest", 100, &b), 0);
	CHECK_U64(b.len, OBJ_SIZE + 6);
	if (b.len == OBJ_SIZE + 6)
		CHECK_MEM(b.data + OBJ_SIZE, "hello\n", 6);

	buf_reset(&b);
	CHECK_RC(get_capped(o, "empty", 0, &b), 0);
	CHECK_U64(b.len, 0);

	origin_stats_get(o, &st);
	CHECK_U64(st.requests, 3);
	CHECK_U64(st.bytes, OBJ_SIZE + 6);
	CHECK_U64(st.retries, 0);
	buf_release(&b);
	origin_free(o);
}

/* file://localhost/... and a trailing slash name the same root. */
static void test_url_forms(void)
{
	char *url = unit_path("file://localhost", root);
	char *slash = unit_path(root_url, "");
	origin_t *o;
	struct buf b;

	buf_init(&b, 1024);
	o = open_root(url);
	CHECK_RC(get_capped(o, "manifest", 100, &b), 0);
	CHECK_U64(b.len, 6);
	origin_free(o);
	o = open_root(slash);
	CHECK_RC(get_capped(o, "manifest", 100, &b), 0);
	CHECK_U64(b.len, 12);
	origin_free(o);
	buf_release(&b);
	free(url);
	free(slash);
}

static void test_get_cap(void)
{
	origin_t *o = open_root(root_url);
	struct buf b;

	buf_init(&b, 16u << 20);
	CHECK_RC(buf_append(&b, "keep", 4), 0);
	unit_quiet(true);
	CHECK_RC(get_capped(o, "data/ab/obj", OBJ_SIZE - 1, &b), -EFBIG);
	CHECK_RC(get_capped(o, "manifest", 5, &b), -EFBIG);
	unit_quiet(false);
	/* Nothing partial is left behind. */
	CHECK_U64(b.len, 4);
	CHECK_MEM(b.data, "keep", 4);
	/* Exactly at the cap is fine. */
	CHECK_RC(get_capped(o, "manifest", 6, &b), 0);
	CHECK_U64(b.len, 10);
	buf_release(&b);

	/* The buffer's own cap counts too. */
	buf_init(&b, 1000);
	unit_quiet(true);
	CHECK_RC(get_capped(o, "data/ab/obj", OBJ_SIZE, &b), -EFBIG);
	unit_quiet(false);
	CHECK_U64(b.len, 0);
	buf_release(&b);
	origin_free(o);
}

static void test_get_missing(void)
{
	origin_t *o = open_root(root_url);
	struct buf b;

	buf_init(&b, 1024);
	unit_quiet(true);
	CHECK_RC(get_capped(o, "nope", 100, &b), -ENOENT);
	CHECK_RC(get_capped(o, "data/zz/nope", 100, &b), -ENOENT);
	CHECK_RC(get_capped(o, "manifest/below-a-file", 100, &b), -ENOENT);
	CHECK_RC(get_range(o, "nope", 0, 1, &b), -ENOENT);
	/* A directory is not an object. */
	CHECK_RC(get_capped(o, "data", 100, &b), -EIO);
	unit_quiet(false);
	CHECK_U64(b.len, 0);
	buf_release(&b);
	origin_free(o);
}

/* Known sizes (ORIGIN_EXACT): only an object of exactly that size, and
 * req->why says what came instead. */
static void test_get_exact(void)
{
	origin_t *o = open_root(root_url);
	struct origin_req r;
	char *want, *out = unit_path(root, "exact.out");
	struct buf b;
	int fd;

	buf_init(&b, 16u << 20);
	origin_req_init(&r, "data/ab/obj", OBJ_SIZE, ORIGIN_EXACT);
	CHECK_RC(origin_get(o, &r, &b), 0);
	CHECK_U64(b.len, OBJ_SIZE);
	CHECK_U64(r.received, OBJ_SIZE);
	CHECK_STR(r.why, "");

	buf_reset(&b);
	unit_quiet(true);
	origin_req_init(&r, "data/ab/obj", OBJ_SIZE + 1, ORIGIN_EXACT);
	CHECK_RC(origin_get(o, &r, &b), -EIO);
	want = unit_path(root, "data/ab/obj': 300007 bytes, expected 300008");
	CHECK(strstr(r.why, want + 1) != NULL);
	free(want);
	CHECK_U64(r.received, 0); /* refused before reading */
	origin_req_init(&r, "manifest", 5, ORIGIN_EXACT);
	CHECK_RC(origin_get(o, &r, &b), -EIO);
	CHECK_U64(b.len, 0);
	/* the same to a file */
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	origin_req_init(&r, "manifest", 7, ORIGIN_EXACT);
	CHECK_RC(origin_get_to_fd(o, &r, fd), -EIO);
	origin_req_init(&r, "manifest", 6, ORIGIN_EXACT);
	CHECK_RC(origin_get_to_fd(o, &r, fd), 0);
	unit_quiet(false);
	close(fd);
	free(out);
	buf_release(&b);
	origin_free(o);
}

/* ------------------------------------------------------------ range -- */

static void test_get_range(void)
{
	static const struct {
		uint64_t off;
		size_t len;
	} cases[] = {
	    {0, 1},
	    {0, 4096},
	    {1, 65536},
	    {65535, 65537},
	    {123457, 100000},
	    {OBJ_SIZE - 1, 1},
	    {OBJ_SIZE - 1000, 1000},
	    {0, OBJ_SIZE},
	};
	origin_t *o = open_root(root_url);
	struct buf b;

	buf_init(&b, 16u << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		CHECK_RC(buf_append(&b, "x", 1), 0);
		CHECK_RC(
		    get_range(o, "data/ab/obj", cases[i].off, cases[i].len, &b),
		    0);
		CHECK_U64(b.len, 1 + cases[i].len);
		if (b.len == 1 + cases[i].len)
			CHECK_MEM(b.data + 1, obj + cases[i].off, cases[i].len);
	}
	/* An empty range is trivially satisfied. */
	buf_reset(&b);
	CHECK_RC(get_range(o, "data/ab/obj", 5, 0, &b), 0);
	CHECK_U64(b.len, 0);
	buf_release(&b);
	origin_free(o);
}

static void test_range_past_end(void)
{
	origin_t *o = open_root(root_url);
	struct buf b;

	buf_init(&b, 16u << 20);
	CHECK_RC(buf_append(&b, "keep", 4), 0);
	unit_quiet(true);
	CHECK_RC(get_range(o, "data/ab/obj", OBJ_SIZE, 1, &b), -EIO);
	CHECK_RC(get_range(o, "data/ab/obj", OBJ_SIZE - 10, 11, &b), -EIO);
	CHECK_RC(get_range(o, "data/ab/obj", 1u << 30, 10, &b), -EIO);
	CHECK_RC(get_range(o, "empty", 0, 1, &b), -EIO);
	CHECK_RC(get_range(o, "data/ab/obj", UINT64_MAX - 1, 10, &b), -EINVAL);
	unit_quiet(false);
	CHECK_U64(b.len, 4);
	buf_release(&b);

	/* A range bigger than the buffer's cap is refused up front. */
	buf_init(&b, 100);
	unit_quiet(true);
	CHECK_RC(get_range(o, "data/ab/obj", 0, 101, &b), -EFBIG);
	unit_quiet(false);
	CHECK_U64(b.len, 0);
	buf_release(&b);
	origin_free(o);
}

/* ------------------------------------------------------------ to fd -- */

static void test_get_to_fd(void)
{
	origin_t *o = open_root(root_url);
	char *path = unit_path(root, "out");
	uint8_t *back = malloc(OBJ_SIZE + 3);
	int fd;

	REQUIRE(back);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE_RC(fs_write_all(fd, "pre", 3), 0);
	CHECK_RC(get_fd(o, "data/ab/obj", OBJ_SIZE, fd), 0);
	CHECK_INT(lseek(fd, 0, SEEK_END), OBJ_SIZE + 3);
	CHECK_RC(fs_pread_all(fd, back, OBJ_SIZE + 3, 0), 0);
	CHECK_MEM(back, "pre", 3);
	CHECK_MEM(back + 3, obj, OBJ_SIZE);

	unit_quiet(true);
	CHECK_RC(get_fd(o, "data/ab/obj", OBJ_SIZE - 1, fd), -EFBIG);
	CHECK_RC(get_fd(o, "nope", 10, fd), -ENOENT);
	unit_quiet(false);
	close(fd);
	free(back);
	free(path);
	origin_free(o);
}

/* -------------------------------------------------------- bad input -- */

static void test_bad_rel(void)
{
	static const char *const bad[] = {
	    "",		  "/etc/passwd",   "..",
	    "../x",	  "data/../../x",  "data/..",
	    "./manifest", "data/./ab/obj", "a b",
	    "a?b",	  "a#b",	   "a%2e",
	    "a\\b",	  "a\nb",	   "caf\xc3\xa9",
	};
	origin_t *o = open_root(root_url);
	struct buf b;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	REQUIRE(fd >= 0);
	buf_init(&b, 1024);
	unit_quiet(true);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = get_capped(o, bad[i], 100, &b);

		if (rc != -EINVAL)
			UNIT_FAIL("get_capped('%s') returned %d, expected "
				  "-EINVAL",
				  bad[i], rc);
		CHECK_RC(get_range(o, bad[i], 0, 1, &b), -EINVAL);
		CHECK_RC(get_fd(o, bad[i], 100, fd), -EINVAL);
	}
	CHECK_RC(get_capped(o, NULL, 100, &b), -EINVAL);
	/* Names that merely contain dots are fine. */
	CHECK_RC(get_capped(o, "data/ab/..obj", 100, &b), -ENOENT);
	unit_quiet(false);
	CHECK_U64(b.len, 0);
	close(fd);
	buf_release(&b);
	origin_free(o);
}

static void test_bad_url(void)
{
	static const char *const bad[] = {
	    "",
	    "ftp://example.com/repo",
	    "gopher://example.com/",
	    "/srv/repo",
	    "srv/repo",
	    "file://",
	    "file://relative/path",
	    "file://otherhost/srv",
	    "http://",
	    "https://",
	    "http:///path",
	    "http://host/repo?x=1",
	    "http://host/repo#frag",
	    "http://host/re po",
	    "http:/host/repo",
	    "mailto:someone@example.com",
	};
	struct origin_options opt = {0};
	origin_t *o = (origin_t *)&opt; /* must be reset to NULL */

	unit_quiet(true);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		opt.url = bad[i];
		rc = origin_new(&opt, &o);
		if (rc != -EINVAL)
			UNIT_FAIL("origin_new('%s') returned %d, expected "
				  "-EINVAL",
				  bad[i], rc);
		CHECK(o == NULL);
		if (!rc)
			origin_free(o);
	}
	opt.url = NULL;
	CHECK_RC(origin_new(&opt, &o), -EINVAL);
	unit_quiet(false);
}

/* Creating an HTTP origin does not touch the network. */
static void test_http_new(void)
{
	static const char *const good[] = {
	    "http://127.0.0.1:1",
	    "http://127.0.0.1:1/",
	    "https://user:secret@example.invalid:8443/repo/",
	    "HTTP://EXAMPLE.INVALID/Repo",
	    "http://[::1]:8080/repo",
	};
	struct origin_options opt = {.retries = 3};
	struct origin_stats st;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		origin_t *o = NULL;

		opt.url = good[i];
		CHECK_RC(origin_new(&opt, &o), 0);
		if (!o)
			continue;
		origin_stats_get(o, &st);
		CHECK_U64(st.requests, 0);
		origin_free(o);
	}
	origin_free(NULL);
}

/* ----------------------------------------------------------- redact -- */

static void check_redact(const char *in, const char *want)
{
	char *got = origin_redact_url(in);

	CHECK_STR(got, want);
	free(got);
}

static void test_redact(void)
{
	check_redact("http://host/path", "http://host/path");
	check_redact("http://user:pass@host/path", "http://host/path");
	check_redact("https://token@host:8443/repo/",
		     "https://host:8443/repo/");
	check_redact("http://user:p%40ss@host", "http://host");
	check_redact("http://a@b@host/x", "http://host/x");
	check_redact("HTTPS://U:P@Host/", "HTTPS://Host/");
	check_redact("http://user:pass@[::1]:80/r", "http://[::1]:80/r");
	/* An '@' after the authority is not userinfo. */
	check_redact("http://host/a@b", "http://host/a@b");
	check_redact("http://host?x=a@b", "http://host?x=a@b");
	check_redact("http://host#a@b", "http://host#a@b");
	check_redact("file:///srv/a@b", "file:///srv/a@b");
	/* Nothing that looks like a scheme: left alone. */
	check_redact("user@host/path", "user@host/path");
	check_redact("/path/x://u@h/", "/path/x://u@h/");
	check_redact("://u@h/", "://u@h/");
	check_redact("", "");
	CHECK(origin_redact_url(NULL) == NULL);
}

int main(void)
{
	setup();
	RUN(test_get_whole);
	RUN(test_url_forms);
	RUN(test_get_cap);
	RUN(test_get_exact);
	RUN(test_get_missing);
	RUN(test_get_range);
	RUN(test_range_past_end);
	RUN(test_get_to_fd);
	RUN(test_bad_rel);
	RUN(test_bad_url);
	RUN(test_http_new);
	RUN(test_redact);
	unit_rmtree(root);
	free(root_url);
	free(obj);
	return unit_result();
}

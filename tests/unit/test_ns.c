/*
 * Unit tests: the namespace (fs/ns_*.c) without FUSE, over a small
 * repository that the real packer ($AIDATA) builds in a temp dir, opened
 * through a file:// cache: inode numbering, the four views, listings
 * resumed from cookies, file reads, tiers at open, xattrs, the .aidata/
 * control files, prefetch requests, receipts, and switches to new
 * revisions (changed files; a dataset's tier and contributor changed
 * without its files).
 */
#define _GNU_SOURCE
#include "ns.h"
#include "cgroup.h"
#include "log.h"
#include "unit.h"
#include "xalloc.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "banned.h"

static char *T;	  /* the temp dir: src/, keys/, repo/, cache/, state/ */
static char *src; /* the source tree the packer reads */
static repo_key_t *pub;
static repo_key_t *receipt_key; /* signs receipts; outlives ns */
static cache_t *cache;
static auth_t *auth;
static ns_t *ns;
static const struct ns_caller me = {1000, 1000, 1};

/* Run a shell command built from fmt; require that it succeeds. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		exit(1);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
		UNIT_FAIL("command failed: %s", cmd);
		exit(1);
	}
	free(cmd);
}

static void write_file(const char *rel, const void *data, size_t len)
{
	char *path = unit_path(src, rel), *dir = xstrdup(path);

	*strrchr(dir, '/') = '\0';
	REQUIRE_RC(fs_mkdir_p(dir, 0755), 0);
	REQUIRE_RC(fs_write_atomic(path, data, len, 0644), 0);
	free(dir);
	free(path);
}

static uint8_t big[300 * 1000 + 7]; /* law-cases/sub/b.bin: many chunks */

static void pack(void)
{
	const char *aidata = getenv("AIDATA");

	REQUIRE(aidata);
	sh("'%s' pack '%s' --datasets '%s/datasets.json' --key "
	   "'%s/keys/platform.key' --out '%s/repo' --chunk-size 64K "
	   "--quiet",
	   aidata, src, src, T, T);
}

/* The datasets file, law-audio's tier (and contributor) from audio. */
static void write_datasets(const char *audio)
{
	char *text = xasprintf(
	    "{\"datasets\": [\n"
	    "{\"name\": \"law-cases\", \"industry\": \"law\", \"modality\": "
	    "\"text\", \"tier\": \"open\", \"license\": \"CC-BY-4.0\", "
	    "\"description\": \"court cases\", \"contributor\": \"lawfirm\"},\n"
	    "{\"name\": \"law-audio\", \"industry\": \"law\", \"modality\": "
	    "\"audio\", %s, \"license\": \"CC0-1.0\", "
	    "\"description\": \"hearings\"},\n"
	    "{\"name\": \"med-scans\", \"industry\": \"medicine\", "
	    "\"modality\": \"image-text\", \"tier\": \"shared\", \"license\": "
	    "\"proprietary\", \"description\": \"scans\", "
	    "\"contributor\": \"medlab\"}\n"
	    "]}\n",
	    audio);

	write_file("datasets.json", text, strlen(text));
	free(text);
}

static void setup(void)
{
	uint64_t seed = 0x6e73;
	struct cache_options co = {.timeout_sec = 2, .prefetch_threads = 1};
	struct auth_options ao = {0};
	char *path;

	T = unit_tmpdir();
	src = unit_path(T, "src");
	unit_rand_fill(&seed, big, sizeof(big));
	write_datasets("\"tier\": \"open\"");
	write_file("law-cases/a.txt", "the court finds\n", 16);
	write_file("law-cases/sub/b.bin", big, sizeof(big));
	write_file("law-audio/c.wav", "RIFF....WAVE", 12);
	write_file("med-scans/x.jpg", "\xff\xd8\xff\xe0 jpeg", 9);
	path = unit_path(src, "law-cases/link");
	REQUIRE(symlink("a.txt", path) == 0);
	free(path);
	sh("'%s' keygen --out '%s/keys' >/dev/null", getenv("AIDATA"), T);
	pack();

	path = unit_path(T, "keys/platform.pub");
	REQUIRE_RC(repo_key_load_public(path, &pub), 0);
	free(path);
	co.dir = unit_path(T, "cache");
	co.origin_url = unit_path("file:/", T);
	{
		char *url = unit_path(co.origin_url, "repo");

		free((char *)co.origin_url);
		co.origin_url = url;
	}
	REQUIRE_RC(cache_new(&co, &cache), 0);
	free((char *)co.dir);
	free((char *)co.origin_url);
	ao.platform_pub = pub;
	ao.state_dir = unit_path(T, "state");
	ao.audit_log = unit_path(T, "audit.log");
	REQUIRE_RC(auth_new(&ao, &auth), 0);
	free((char *)ao.state_dir);
	free((char *)ao.audit_log);
	REQUIRE_RC(ns_new(cache, pub, auth, &ns, NULL), 0);
}

static uint64_t lookup(uint64_t parent, const char *name, struct stat *st)
{
	uint64_t ino = 0;
	double timeout;
	struct stat tmp;

	CHECK_RC(ns_lookup(ns, parent, name, &ino, st ? st : &tmp, &timeout),
		 0);
	return ino;
}

/* Resolve "a/b/c" from the root; 0 if a component is missing. */
static uint64_t walk(const char *path, struct stat *st)
{
	uint64_t ino = NS_INO_ROOT;
	struct stat tmp;
	double timeout;

	while (*path && ino) {
		size_t n = strcspn(path, "/");
		char *name = xstrndup(path, n);

		if (ns_lookup(ns, ino, name, &ino, st ? st : &tmp, &timeout))
			ino = 0;
		free(name);
		path += n;
		path += *path == '/';
	}
	return ino;
}

/* ------------------------------------------------------------ listing -- */

struct listing {
	char names[64][64];
	uint64_t inos[64];
	uint64_t cookies[64];
	size_t n;
	size_t room; /* entries taken before "full" */
};

static int collect(void *ctx, const char *name, size_t len,
		   const struct stat *st, uint64_t next_off)
{
	struct listing *l = ctx;

	if (l->n >= l->room || l->n >= 64 || len >= 64)
		return 1;
	memcpy(l->names[l->n], name, len);
	l->names[l->n][len] = '\0';
	l->inos[l->n] = st->st_ino;
	l->cookies[l->n] = next_off;
	l->n++;
	return 0;
}

/* The names of directory ino, "." and ".." left out, space-separated. */
static char *list(uint64_t ino, bool plus)
{
	struct listing l = {.room = 64};
	struct buf b;

	buf_init(&b, 4096);
	CHECK_RC(ns_readdir(ns, ino, 0, plus, collect, &l), 0);
	for (size_t i = 0; i < l.n; i++) {
		if (!strcmp(l.names[i], ".") || !strcmp(l.names[i], ".."))
			continue;
		if (b.len)
			buf_append(&b, " ", 1);
		buf_append(&b, l.names[i], strlen(l.names[i]));
	}
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

/* ---------------------------------------------------------------- read -- */

/* Bytes [off, off+size) of an open file through ns_read. */
static int read_at(struct ns_file *f, uint64_t off, size_t size, uint8_t *out,
		   size_t *got)
{
	struct ns_read r;
	int rc = ns_read(ns, f, off, size, &r);

	*got = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < r.nseg; i++) {
		const struct ns_segment *sg = &r.seg[i];

		if (sg->fd >= 0)
			REQUIRE_RC(fs_pread_all(sg->fd, out + *got, sg->len,
						(off_t)sg->pos),
				   0);
		else
			memcpy(out + *got, sg->mem + sg->pos, sg->len);
		*got += sg->len;
	}
	CHECK_U64(*got, r.total);
	ns_read_done(ns, &r);
	return 0;
}

static char *read_all_as(uint64_t ino, const struct ns_caller *who, size_t *len)
{
	struct ns_file *f = NULL;
	bool direct;
	uint8_t *buf = malloc(1 << 20);
	int rc;

	REQUIRE(buf);
	REQUIRE_RC(ns_open(ns, ino, who, false, &f, &direct), 0);
	rc = read_at(f, 0, (1 << 20) - 1, buf, len);
	CHECK_RC(rc, 0);
	buf[*len] = '\0';
	ns_release(ns, f);
	return (char *)buf;
}

static char *read_all(uint64_t ino, size_t *len)
{
	return read_all_as(ino, &me, len);
}

/* -------------------------------------------------------------- tests -- */

static void test_inode_numbering(void)
{
	struct stat st, st2;
	uint64_t ds, ind, ind_ds, a1, a2;
	double timeout;

	CHECK_RC(ns_getattr(ns, NS_INO_ROOT, &st, &timeout), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_U64(lookup(NS_INO_ROOT, "datasets", NULL), NS_INO_DATASETS);
	CHECK_U64(lookup(NS_INO_ROOT, "by-industry", NULL), NS_INO_BY_INDUSTRY);
	CHECK_U64(lookup(NS_INO_ROOT, "by-modality", NULL), NS_INO_BY_MODALITY);
	CHECK_U64(lookup(NS_INO_ROOT, ".aidata", NULL), NS_INO_CONTROL);
	CHECK_U64(lookup(NS_INO_ROOT, "by-contributor", NULL),
		  NS_INO_BY_CONTRIBUTOR);
	/* the fourth view: its own inode numbers for the same entries */
	{
		uint64_t org = lookup(NS_INO_BY_CONTRIBUTOR, "lawfirm", NULL);
		uint64_t via = walk("by-contributor/lawfirm/law-cases", &st2);
		uint64_t a3 =
		    walk("by-contributor/lawfirm/law-cases/a.txt", &st);

		CHECK(org != 0 && !ns_ino_immutable(org));
		CHECK(via != 0 && ns_ino_immutable(via));
		CHECK(via != walk("datasets/law-cases", NULL));
		CHECK(via != walk("by-industry/law/law-cases", NULL));
		CHECK(via != walk("by-modality/text/law-cases", NULL));
		CHECK(S_ISDIR(st2.st_mode));
		CHECK(a3 != 0 && a3 != walk("datasets/law-cases/a.txt", NULL));
		CHECK_U64(st.st_size, 16);
		CHECK_RC(ns_getattr(ns, org, &st, &timeout), 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK_U64(st.st_nlink, 3);
	}
	CHECK_RC(ns_getattr(ns, NS_INO_ROOT, &st, &timeout), 0);
	CHECK_U64(st.st_nlink, 7);

	/* one dataset through two views: two inode numbers, same entry */
	ds = lookup(NS_INO_DATASETS, "law-cases", &st);
	ind = lookup(NS_INO_BY_INDUSTRY, "law", NULL);
	ind_ds = lookup(ind, "law-cases", &st2);
	CHECK(ns_ino_immutable(ds) && ns_ino_immutable(ind_ds));
	CHECK(!ns_ino_immutable(ind) && !ns_ino_immutable(NS_INO_DATASETS));
	CHECK(ds != ind_ds && ds != ind);
	CHECK(S_ISDIR(st.st_mode) && st.st_mode == st2.st_mode);
	a1 = lookup(ds, "a.txt", &st);
	a2 = lookup(ind_ds, "a.txt", &st2);
	CHECK(a1 != a2);
	CHECK(S_ISREG(st.st_mode) && !(st.st_mode & 0222));
	CHECK_U64(st.st_size, 16);
	CHECK_U64(st2.st_size, 16);
	CHECK(st.st_mtim.tv_sec == st2.st_mtim.tv_sec);
	/* computed, so stable: the same number every time */
	CHECK_U64(lookup(ds, "a.txt", NULL), a1);
	CHECK_U64(walk("by-modality/text/law-cases/a.txt", NULL) != 0, 1);
	CHECK(walk("by-modality/text/law-cases/a.txt", NULL) != a1);
	CHECK_U64(walk("datasets/law-cases/sub/b.bin", &st),
		  lookup(lookup(ds, "sub", NULL), "b.bin", NULL));
	CHECK_U64(st.st_size, sizeof(big));
	CHECK_RC(ns_getattr(ns, a1, &st, &timeout), 0);
	CHECK(timeout == NS_TIMEOUT_IMMUTABLE);

	/* what is not there */
	{
		uint64_t ino;

		CHECK_RC(ns_lookup(ns, ds, "nope", &ino, &st, &timeout),
			 -ENOENT);
		CHECK_RC(
		    ns_lookup(ns, NS_INO_DATASETS, "law", &ino, &st, &timeout),
		    -ENOENT);
		/* a dataset under a label it does not carry */
		CHECK_RC(ns_lookup(ns, ind, "med-scans", &ino, &st, &timeout),
			 -ENOENT);
		CHECK_RC(ns_getattr(ns, 12345, &st, &timeout), -ENOENT);
		CHECK_RC(ns_getattr(ns, ds + (1ULL << 40) * 999, &st, &timeout),
			 -ENOENT);
		/* a dataset without a contributor is in no contributor's
		 * directory */
		CHECK_RC(ns_lookup(
			     ns, lookup(NS_INO_BY_CONTRIBUTOR, "lawfirm", NULL),
			     "law-audio", &ino, &st, &timeout),
			 -ENOENT);
		/* label inodes this mount never handed out: a fourth kind,
		 * the "no label" index, an index past the last */
		for (uint64_t bad = 0; bad < 3; bad++) {
			uint64_t lab = (1ULL << 62) |
				       (bad == 0   ? 3ULL << 40 | 0
					: bad == 1 ? 2ULL << 40 | 0xffffffffULL
						   : 2ULL << 40 | 77);

			CHECK_RC(ns_getattr(ns, lab, &st, &timeout), -ENOENT);
			CHECK_RC(ns_lookup(ns, lab, "law-audio", &ino, &st,
					   &timeout),
				 -ENOENT);
			CHECK_RC(ns_readdir(ns, lab, 0, false, collect,
					    &(struct listing){.room = 64}),
				 -ENOENT);
		}
	}
}

static void test_views(void)
{
	uint64_t law = lookup(NS_INO_BY_INDUSTRY, "law", NULL);
	char *s;

	s = list(NS_INO_ROOT, false);
	CHECK_STR(s, "datasets by-industry by-modality by-contributor .aidata");
	free(s);
	s = list(NS_INO_BY_CONTRIBUTOR, true);
	CHECK_STR(s, "lawfirm medlab");
	free(s);
	s = list(walk("by-contributor/medlab", NULL), true);
	CHECK_STR(s, "med-scans");
	free(s);
	s = list(walk("by-contributor/lawfirm/law-cases/sub", NULL), false);
	CHECK_STR(s, "b.bin");
	free(s);
	s = list(NS_INO_DATASETS, false);
	CHECK_STR(s, "law-audio law-cases med-scans");
	free(s);
	s = list(NS_INO_BY_INDUSTRY, false);
	CHECK_STR(s, "law medicine");
	free(s);
	s = list(NS_INO_BY_MODALITY, true);
	CHECK_STR(s, "audio image-text text");
	free(s);
	s = list(law, false);
	CHECK_STR(s, "law-audio law-cases");
	free(s);
	s = list(walk("by-modality/audio", NULL), false);
	CHECK_STR(s, "law-audio");
	free(s);
	s = list(walk("by-industry/law/law-cases", NULL), true);
	CHECK_STR(s, "a.txt link sub");
	free(s);
	CHECK_RC(ns_readdir(ns, walk("datasets/law-cases/a.txt", NULL), 0,
			    false, collect, &(struct listing){.room = 64}),
		 -ENOTDIR);

	/* a listing resumed from each cookie sees every entry once */
	{
		uint64_t dirs[] = {NS_INO_DATASETS,
				   walk("datasets/law-cases", NULL), law,
				   NS_INO_BY_CONTRIBUTOR, NS_INO_ROOT};

		for (size_t d = 0; d < 5; d++) {
			struct listing all = {.room = 64}, part;
			uint64_t off = 0;
			size_t seen = 0;

			CHECK_RC(
			    ns_readdir(ns, dirs[d], 0, false, collect, &all),
			    0);
			do {
				memset(&part, 0, sizeof(part));
				part.room = 2;
				CHECK_RC(ns_readdir(ns, dirs[d], off, false,
						    collect, &part),
					 0);
				for (size_t i = 0; i < part.n; i++, seen++)
					if (seen >= all.n ||
					    strcmp(part.names[i],
						   all.names[seen]))
						UNIT_FAIL("dir %zu: entry %zu "
							  "is '%s'",
							  d, seen,
							  part.names[i]);
				if (part.n)
					off = part.cookies[part.n - 1];
			} while (part.n == 2);
			CHECK_U64(seen, all.n);
		}
	}
}

static void test_files(void)
{
	uint64_t a = walk("datasets/law-cases/a.txt", NULL);
	uint64_t b = walk("by-industry/law/law-cases/sub/b.bin", NULL);
	uint64_t dir = walk("datasets/law-cases/sub", NULL);
	struct ns_file *f = NULL;
	uint8_t *buf = malloc(sizeof(big));
	char *text, *target = NULL;
	bool direct = true;
	size_t len;

	REQUIRE(buf);
	text = read_all(a, &len);
	CHECK_STR(text, "the court finds\n");
	free(text);

	/* reads at any offset, across chunk boundaries (64 KiB chunks) */
	REQUIRE_RC(ns_open(ns, b, &me, false, &f, &direct), 0);
	CHECK(!direct);
	{
		const uint64_t offs[] = {0, 65535, 65536, 100000, 299000};
		const size_t sizes[] = {70000, 2, 131072 + 5, 1, 10000};

		for (size_t i = 0; i < 5; i++) {
			CHECK_RC(read_at(f, offs[i], sizes[i], buf, &len), 0);
			CHECK_U64(len, offs[i] + sizes[i] > sizeof(big)
					   ? sizeof(big) - offs[i]
					   : sizes[i]);
			CHECK_MEM(buf, big + offs[i], len);
		}
		CHECK_RC(read_at(f, sizeof(big), 10, buf, &len), 0);
		CHECK_U64(len, 0);
		/* a sequential reader, to its end */
		for (uint64_t off = 0; off < sizeof(big); off += len) {
			CHECK_RC(read_at(f, off, 32768, buf + off, &len), 0);
			if (!len)
				break;
		}
		CHECK_MEM(buf, big, sizeof(big));
	}
	ns_release(ns, f);

	CHECK_RC(
	    ns_readlink(ns, walk("datasets/law-cases/link", NULL), &target), 0);
	CHECK_STR(target, "a.txt");
	free(target);
	CHECK_RC(ns_readlink(ns, a, &target), -EINVAL);
	CHECK_RC(ns_open(ns, dir, &me, false, &f, &direct), -EISDIR);
	CHECK_RC(ns_open(ns, NS_INO_DATASETS, &me, false, &f, &direct),
		 -EISDIR);
	CHECK_RC(ns_open(ns, a, &me, true, &f, &direct), -EROFS);
	CHECK_RC(ns_access(ns, a, &me, R_OK), 0);
	CHECK_RC(ns_access(ns, a, &me, W_OK), -EROFS);
	free(buf);
}

/*
 * ns_prefetch (AIDATAFS_IOC_PREFETCH): a file's chunks into the cache,
 * counted once, in ranges, without serving a byte; then all cached.
 * Generated files refuse it.
 */
static void test_prefetch(void)
{
	uint64_t b = walk("datasets/law-cases/sub/b.bin", NULL);
	struct ns_prefetch_result r;
	struct ns_file *f = NULL;
	struct cache_stats before, after;
	bool direct;
	uint64_t fetched = 0, cached = 0;

	REQUIRE_RC(ns_open(ns, b, &me, false, &f, &direct), 0);
	cache_stats_get(cache, &before);
	/* two ranges that share the chunk at 64 KiB */
	CHECK_RC(ns_prefetch(ns, f, 0, 70000, &r), 0);
	fetched += r.bytes_fetched;
	cached += r.bytes_cached;
	CHECK_U64(r.bytes_fetched, 70000);
	CHECK_U64(r.chunks_fetched, 2);
	CHECK(r.origin_bytes > 0);
	CHECK_RC(ns_prefetch(ns, f, 70000, 1 << 30, &r), 0);
	CHECK_U64(r.bytes_fetched + r.bytes_cached, sizeof(big) - 70000);
	CHECK_U64(r.chunks_cached, 1); /* the one both ranges need */
	fetched += r.bytes_fetched;
	cached += r.bytes_cached;
	CHECK_U64(fetched + cached, sizeof(big));
	/* everything now cached, and nothing fetched twice */
	CHECK_RC(ns_prefetch(ns, f, 0, sizeof(big), &r), 0);
	CHECK_U64(r.bytes_cached, sizeof(big));
	CHECK_U64(r.bytes_fetched, 0);
	CHECK_U64(r.chunks_fetched, 0);
	CHECK_U64(r.origin_bytes, 0);
	cache_stats_get(cache, &after);
	CHECK_U64(after.prefetches - before.prefetches,
		  after.misses - before.misses);
	/* past the end: nothing */
	CHECK_RC(ns_prefetch(ns, f, sizeof(big), 10, &r), 0);
	CHECK_U64(r.bytes_fetched + r.bytes_cached, 0);
	ns_release(ns, f);
	REQUIRE_RC(ns_open(ns, NS_INO_STATS, &me, false, &f, &direct), 0);
	CHECK_RC(ns_prefetch(ns, f, 0, 10, &r), -ENOTTY);
	ns_release(ns, f);
}

/* A shared dataset without a credential: listed, not readable. */
static void test_tiers(void)
{
	uint64_t x = walk("datasets/med-scans/x.jpg", NULL);
	struct ns_file *f = NULL;
	char *value = NULL;
	struct stat st;
	double timeout;
	bool direct;
	size_t len;

	REQUIRE(x);
	CHECK_RC(ns_getattr(ns, x, &st, &timeout), 0);
	CHECK_U64(st.st_size, 9);
	unit_quiet(true); /* the refusal is logged, as it should be */
	CHECK_RC(ns_open(ns, x, &me, false, &f, &direct), -EACCES);
	unit_quiet(false);
	CHECK_RC(ns_access(ns, x, &me, R_OK), -EACCES);
	CHECK_RC(ns_getxattr(ns, x, &me, "user.aidata.access", &value, &len),
		 0);
	CHECK_STR(value, "no credential");
	free(value);
}

/* Whether the NUL-separated list names (len bytes) holds name. */
static bool has_name(const struct buf *names, const char *name)
{
	for (size_t i = 0; i < names->len;
	     i += strlen((const char *)names->data + i) + 1)
		if (!strcmp((const char *)names->data + i, name))
			return true;
	return false;
}

static void test_xattrs(void)
{
	uint64_t a = walk("datasets/law-cases/a.txt", NULL);
	uint64_t ds = walk("by-modality/text/law-cases", NULL);
	char hex[DIGEST_HEX_LEN + 1], *v = NULL;
	struct digest d;
	struct buf names;
	size_t len;

	buf_init(&names, 4096);
	CHECK_RC(ns_listxattr(ns, a, &names), 0);
	CHECK(has_name(&names, "user.aidata.dataset"));
	CHECK(has_name(&names, "user.aidata.sha256"));
	/* volatile: answered by name, never listed (cp -a copies lists) */
	CHECK(!has_name(&names, "user.aidata.cached"));
	CHECK(!has_name(&names, "user.aidata.access"));
	CHECK(!has_name(&names, "user.aidata.description"));
	buf_reset(&names);
	CHECK_RC(ns_listxattr(ns, ds, &names), 0);
	CHECK(has_name(&names, "user.aidata.description"));
	CHECK(!has_name(&names, "user.aidata.sha256"));
	CHECK(!has_name(&names, "user.aidata.cached"));
	buf_reset(&names);
	CHECK_RC(ns_listxattr(ns, NS_INO_DATASETS, &names), 0);
	CHECK_U64(names.len, 0);
	/* the contributor: stable, so listed, where there is one */
	buf_reset(&names);
	CHECK_RC(ns_listxattr(ns, a, &names), 0);
	CHECK(has_name(&names, "user.aidata.contributor"));
	buf_reset(&names);
	CHECK_RC(
	    ns_listxattr(ns, walk("by-contributor/lawfirm/law-cases/sub", NULL),
			 &names),
	    0);
	CHECK(has_name(&names, "user.aidata.contributor"));
	buf_reset(&names);
	CHECK_RC(
	    ns_listxattr(ns, walk("datasets/law-audio/c.wav", NULL), &names),
	    0);
	CHECK(has_name(&names, "user.aidata.dataset"));
	CHECK(!has_name(&names, "user.aidata.contributor"));
	buf_reset(&names);
	CHECK_RC(ns_listxattr(ns, NS_INO_BY_CONTRIBUTOR, &names), 0);
	CHECK_U64(names.len, 0);
	buf_release(&names);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.contributor", &v, &len),
		 0);
	CHECK_STR(v, "lawfirm");
	CHECK_U64(len, 7);
	free(v);
	CHECK_RC(ns_getxattr(ns, walk("by-contributor/medlab/med-scans", NULL),
			     &me, "user.aidata.contributor", &v, &len),
		 0);
	CHECK_STR(v, "medlab");
	free(v);
	CHECK_RC(ns_getxattr(ns, walk("by-modality/audio/law-audio", NULL), &me,
			     "user.aidata.contributor", &v, &len),
		 -ENODATA);

	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.dataset", &v, &len), 0);
	CHECK_STR(v, "law-cases");
	free(v);
	CHECK_RC(ns_getxattr(ns, ds, &me, "user.aidata.industry", &v, &len), 0);
	CHECK_STR(v, "law");
	free(v);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.tier", &v, &len), 0);
	CHECK_STR(v, "open");
	free(v);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.access", &v, &len), 0);
	CHECK_STR(v, "granted");
	free(v);
	sha256_buffer("the court finds\n", 16, &d);
	digest_to_hex(&d, hex);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.sha256", &v, &len), 0);
	CHECK_STR(v, hex);
	free(v);
	/* read by test_files: all of it cached */
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.cached", &v, &len), 0);
	CHECK_STR(v, "16");
	free(v);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.aidata.nope", &v, &len),
		 -ENODATA);
	CHECK_RC(ns_getxattr(ns, a, &me, "user.other", &v, &len), -ENODATA);
	/* other namespaces: unsupported, on every inode, so that ls stops
	 * asking after the first file */
	CHECK_RC(ns_getxattr(ns, a, &me, "trusted.x", &v, &len), -EOPNOTSUPP);
	CHECK_RC(ns_getxattr(ns, a, &me, "security.selinux", &v, &len),
		 -EOPNOTSUPP);
	CHECK_RC(ns_getxattr(ns, a, &me, "system.posix_acl_access", &v, &len),
		 -EOPNOTSUPP);
	CHECK_RC(ns_getxattr(ns, ds, &me, "system.posix_acl_default", &v, &len),
		 -EOPNOTSUPP);
	CHECK_RC(
	    ns_getxattr(ns, NS_INO_ROOT, &me, "security.selinux", &v, &len),
	    -EOPNOTSUPP);
}

static void test_control(void)
{
	struct ns_file *f = NULL;
	struct stat st;
	double timeout;
	uint64_t ino;
	bool direct = false;
	char *s;
	size_t len;
	enum auth_reason why;

	s = list(NS_INO_CONTROL, true);
	CHECK_STR(s, "login receipt revision stats status whoami");
	free(s);
	ino = lookup(NS_INO_CONTROL, "revision", &st);
	CHECK_U64(ino, NS_INO_REVISION);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0444);
	CHECK_RC(ns_getattr(ns, NS_INO_LOGIN, &st, &timeout), 0);
	CHECK((st.st_mode & 0777) == 0444);
	CHECK(timeout == 0);

	s = read_all(NS_INO_REVISION, &len);
	CHECK_STR(s, "1\n");
	free(s);
	s = read_all(NS_INO_STATS, &len);
	CHECK(strstr(s, "aidatafs_revision 1\n") != NULL);
	CHECK(strstr(s, "aidatafs_datasets 3\n") != NULL);
	free(s);
	s = read_all(NS_INO_WHOAMI, &len);
	CHECK(strstr(s, "\"uid\": 1000") != NULL);
	free(s);
	s = read_all(NS_INO_STATUS, &len);
	CHECK(strstr(s, "\"revision\": 1,") != NULL);
	CHECK(strstr(s, "\"name\": \"law-audio\"") != NULL);
	CHECK(strstr(s, "\"name\": \"med-scans\"") != NULL);
	CHECK(strstr(s, "\"max_bytes\": 0") != NULL);
	free(s);

	REQUIRE_RC(ns_open(ns, NS_INO_STATS, &me, false, &f, &direct), 0);
	CHECK(direct); /* generated: its size is not known in advance */
	CHECK_RC(ns_login(ns, f, &me, "x", 1, &why), -ENOTTY);
	CHECK_RC(ns_logout(ns, f, &me), -ENOTTY);
	ns_release(ns, f);
	CHECK_RC(ns_open(ns, NS_INO_STATS, &me, true, &f, &direct), -EROFS);
	CHECK_RC(ns_open(ns, NS_INO_LOGIN, &me, true, &f, &direct), -EROFS);
	REQUIRE_RC(ns_open(ns, NS_INO_LOGIN, &me, false, &f, &direct), 0);
	unit_quiet(true);
	CHECK_RC(ns_login(ns, f, &me, "not-a-token", 11, &why), -EACCES);
	unit_quiet(false);
	CHECK_INT(why, AUTH_MALFORMED);
	CHECK_RC(ns_logout(ns, f, &me), 0);
	ns_release(ns, f);
	CHECK_RC(ns_open(ns, NS_INO_CONTROL, &me, false, &f, &direct), -EISDIR);
}

/*
 * Receipts: a granted open and its reads are counted in the opener's
 * cgroup; .aidata/receipt renders them with the catalog's path, digest
 * and size, signed; a request selects a cgroup (the root cgroup is
 * root's only) and resets.
 */
static void test_receipts(void)
{
	uint64_t a = walk("datasets/law-cases/a.txt", NULL);
	struct ns_caller self = {0, 0, getpid()};
	struct ns_caller user = {1000, 1000, getpid()};
	struct ns_file *f = NULL;
	repo_key_t *key = NULL;
	char *own = NULL, *s, *body = NULL, *want;
	bool direct;
	size_t len;
	uint8_t buf[64];

	REQUIRE_RC(repo_key_generate(&key), 0);
	CHECK_RC(ns_open(ns, NS_INO_RECEIPT, &self, false, &f, &direct),
		 -EOPNOTSUPP);
	REQUIRE_RC(ns_receipts_enable(ns, key), 0);
	REQUIRE_RC(cgroup_of_pid(getpid(), &own), 0);
	REQUIRE_RC(ns_open(ns, a, &self, false, &f, &direct), 0);
	CHECK_RC(read_at(f, 0, sizeof(buf), buf, &len), 0);
	ns_release(ns, f);
	s = read_all_as(NS_INO_RECEIPT, &self, &len);
	REQUIRE_RC(auth_receipt_verify(key, s, len, &body), 0);
	want = xasprintf("\"cgroup\":\"%s\"", own);
	CHECK(strstr(body, want) != NULL);
	free(want);
	CHECK(strstr(body, "\"path\":\"/datasets/law-cases/a.txt\"") != NULL);
	CHECK(strstr(body, "\"bytes_served\":16,") != NULL);
	CHECK(strstr(body, "\"license\":\"CC-BY-4.0\"") != NULL);
	{
		struct digest d;
		char hex[DIGEST_HEX_LEN + 1];

		sha256_buffer("the court finds\n", 16, &d);
		digest_to_hex(&d, hex);
		CHECK(strstr(body, hex) != NULL);
	}
	free(body);
	free(s);
	/* requests on the open receipt file */
	REQUIRE_RC(ns_open(ns, NS_INO_RECEIPT, &self, false, &f, &direct), 0);
	CHECK_RC(ns_receipt_select(ns, f, &self, "/a/../b", false), -EINVAL);
	CHECK_RC(ns_receipt_select(ns, f, &user, "/", false), -EACCES);
	CHECK_RC(ns_receipt_select(ns, f, &self, own, true), 0);
	ns_release(ns, f);
	s = read_all_as(NS_INO_RECEIPT, &self, &len);
	CHECK(strstr(s, "\"resets\": 1,") != NULL);
	CHECK(strstr(s, "law-cases") == NULL);
	free(s);
	REQUIRE_RC(ns_open(ns, NS_INO_STATS, &self, false, &f, &direct), 0);
	CHECK_RC(ns_receipt_select(ns, f, &self, "", false), -ENOTTY);
	ns_release(ns, f);
	free(own);
	/* ns_free frees the receipts; the key must outlive ns */
	receipt_key = key;
}

struct notified {
	char entries[32][64];
	size_t nentries;
	uint64_t inodes[32];
	size_t ninodes;
};

static void on_entry(void *ctx, uint64_t parent, const char *name)
{
	struct notified *n = ctx;

	(void)parent;
	if (n->nentries < 32 && name)
		snprintf(n->entries[n->nentries++], 64, "%s", name);
}

static void on_inode(void *ctx, uint64_t ino)
{
	struct notified *n = ctx;

	if (n->ninodes < 32)
		n->inodes[n->ninodes++] = ino;
}

/* A new revision: changed datasets get new inodes, the others keep
 * theirs, and an open file keeps reading the revision it opened. */
static void test_revision_switch(void)
{
	uint64_t a_old = walk("datasets/law-cases/a.txt", NULL);
	uint64_t c_old = walk("datasets/law-audio/c.wav", NULL);
	uint64_t a_new;
	struct notified n = {0};
	struct ns_notify nf = {on_entry, on_inode, &n};
	struct ns_file *f = NULL;
	uint8_t buf[64];
	bool direct;
	size_t len;
	char *s;

	REQUIRE_RC(ns_open(ns, a_old, &me, false, &f, &direct), 0);
	CHECK_RC(ns_refresh(ns, &nf), 0); /* nothing new yet */
	write_file("law-cases/a.txt", "the court reverses\n", 19);
	pack();
	CHECK_RC(ns_refresh(ns, &nf), 1);
	CHECK_U64(ns_revision(ns), 2);
	s = read_all(NS_INO_REVISION, &len);
	CHECK_STR(s, "2\n");
	free(s);

	/* the kernel is told about the changed name, not the others */
	{
		bool cases = false, audio = false;

		for (size_t i = 0; i < n.nentries; i++) {
			cases |= !strcmp(n.entries[i], "law-cases");
			audio |= !strcmp(n.entries[i], "law-audio");
		}
		CHECK(cases);
		CHECK(!audio);
	}
	a_new = walk("datasets/law-cases/a.txt", NULL);
	CHECK(a_new != 0 && a_new != a_old);
	CHECK_U64(walk("datasets/law-audio/c.wav", NULL), c_old);
	s = read_all(a_new, &len);
	CHECK_STR(s, "the court reverses\n");
	free(s);
	/* the file opened before the switch reads what it opened */
	CHECK_RC(read_at(f, 0, sizeof(buf), buf, &len), 0);
	CHECK_U64(len, 16);
	CHECK_MEM(buf, "the court finds\n", 16);
	ns_release(ns, f);
}

/*
 * A dataset's record changes but its files do not (the catalog digest
 * stays): made shared and given to a contributor. The mount must not
 * keep serving the old record: new slot, new tier at open, the view and
 * the attribute follow.
 */
static void test_record_only_change(void)
{
	uint64_t c_old = walk("datasets/law-audio/c.wav", NULL), c_new;
	struct notified n = {0};
	struct ns_notify nf = {on_entry, on_inode, &n};
	struct ns_file *f = NULL;
	bool direct, audio = false;
	char *s, *v = NULL;
	size_t len;

	REQUIRE(c_old);
	CHECK_RC(ns_access(ns, c_old, &me, R_OK), 0);
	write_datasets("\"tier\": \"shared\", \"contributor\": \"studio\"");
	pack();
	CHECK_RC(ns_refresh(ns, &nf), 1);
	for (size_t i = 0; i < n.nentries; i++)
		audio |= !strcmp(n.entries[i], "law-audio");
	CHECK(audio);
	c_new = walk("datasets/law-audio/c.wav", NULL);
	CHECK(c_new != 0 && c_new != c_old);
	CHECK_RC(ns_access(ns, c_new, &me, R_OK), -EACCES);
	unit_quiet(true);
	CHECK_RC(ns_open(ns, c_new, &me, false, &f, &direct), -EACCES);
	unit_quiet(false);
	if (f) /* opened after all: the failure is reported above */
		ns_release(ns, f);
	CHECK_RC(ns_getxattr(ns, c_new, &me, "user.aidata.tier", &v, &len), 0);
	CHECK_STR(v, "shared");
	free(v);
	v = NULL;
	CHECK_RC(
	    ns_getxattr(ns, c_new, &me, "user.aidata.contributor", &v, &len),
	    0);
	CHECK_STR(v, "studio");
	free(v);
	s = list(NS_INO_BY_CONTRIBUTOR, false);
	CHECK_STR(s, "lawfirm medlab studio");
	free(s);
	CHECK(walk("by-contributor/studio/law-audio/c.wav", NULL) != 0);
}

/*
 * A revision where no dataset names a contributor: by-contributor is
 * empty. Loading it sorts no contributor labels; a NULL array given to
 * qsort_r there was undefined behaviour (UBSan's nonnull check). Then
 * ns_free with files still open.
 */
static void test_no_contributor(void)
{
	struct cache_options co = {.timeout_sec = 2, .prefetch_threads = 1};
	char *keep_src = src, *dir = unit_path(T, "solo");
	const char *json = "{\"datasets\": [{\"name\": \"solo\", "
			   "\"industry\": \"news\", \"modality\": \"text\", "
			   "\"tier\": \"open\", \"license\": \"CC0-1.0\", "
			   "\"description\": \"one file\"}]}\n";
	ns_t *keep_ns = ns, *solo = NULL;
	struct ns_file *f;
	cache_t *c = NULL;
	bool direct;
	char *s;

	src = unit_path(dir, "src");
	write_file("datasets.json", json, strlen(json));
	write_file("solo/a.txt", "news\n", 5);
	sh("'%s' pack '%s' --datasets '%s/datasets.json' --key "
	   "'%s/keys/platform.key' --out '%s/repo' --quiet",
	   getenv("AIDATA"), src, src, T, dir);
	co.dir = unit_path(dir, "cache");
	co.origin_url = xasprintf("file://%s/repo", dir);
	CHECK_RC(cache_new(&co, &c), 0);
	if (c)
		CHECK_RC(ns_new(c, pub, auth, &solo, NULL), 0);
	if (solo) {
		ns = solo;
		s = list(walk("by-contributor", NULL), false);
		CHECK_STR(s, "");
		free(s);
		s = list(walk("datasets", NULL), false);
		CHECK_STR(s, "solo");
		free(s);
		/* a file and a control file left open, as by a daemon stopped
		 * while readers hold them: ns_free releases them (LSan in the
		 * ASan+UBSan suite) */
		CHECK_RC(ns_open(solo, walk("datasets/solo/a.txt", NULL), &me,
				 false, &f, &direct),
			 0);
		CHECK_RC(ns_open(solo, walk(".aidata/stats", NULL), &me, false,
				 &f, &direct),
			 0);
		ns = keep_ns;
		ns_free(solo);
	}
	cache_free(c);
	free((char *)co.dir);
	free((char *)co.origin_url);
	free(src);
	src = keep_src;
	free(dir);
}

int main(void)
{
	if (!getenv("AIDATA")) {
		fprintf(stderr, "test_ns: AIDATA (the packer) is not set\n");
		return 77;
	}
	log_init("test_ns", LOG_LEVEL_WARN, false);
	umask(022);
	setup();
	RUN(test_inode_numbering);
	RUN(test_views);
	RUN(test_prefetch); /* before test_files reads b.bin */
	RUN(test_files);
	RUN(test_tiers);
	RUN(test_xattrs);
	RUN(test_control);
	RUN(test_receipts);
	RUN(test_revision_switch);
	RUN(test_record_only_change);
	RUN(test_no_contributor);
	ns_free(ns);
	cache_free(cache);
	auth_free(auth);
	repo_key_free(pub);
	repo_key_free(receipt_key);
	free(src);
	unit_rmtree(T);
	return unit_result();
}

/*
 * Unit tests of the publish library, driven through its API (no CLI):
 * packing and re-packing (unchanged files not read, the same catalogs
 * as a full read), the pack state's ties to a revision, the lock, the
 * manifest's re-signing, keys/ under the lock, error paths that leave
 * the repository unchanged; and, through the private header, the
 * small-file grouping rule against its definition.
 */
#define _GNU_SOURCE
#include "publish.h"
#include "publish_int.h"
#include "log.h"
#include "unit.h"
#include "xalloc.h"

#include <dirent.h>
#include <sys/stat.h>

#include "banned.h"

static char *tmp;

/* ------------------------------------------------------------ helpers -- */

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(fs_write_all(fd, p, n) == 0);
	REQUIRE(close(fd) == 0);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char *path = unit_path(dir, name);

	write_file(path, text, strlen(text));
	free(path);
}

static void mkdir_in(const char *dir, const char *name)
{
	char *path = unit_path(dir, name);

	REQUIRE(mkdir(path, 0755) == 0);
	free(path);
}

/* A digest of every file under dir: names, sizes and contents. */
static void tree_hash(sha256_ctx_t *sha, const char *dir)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);

	REQUIRE(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		char *path = unit_path(dir, name);
		struct stat st;

		if (strcmp(name, ".") && strcmp(name, "..") &&
		    lstat(path, &st) == 0) {
			sha256_update(sha, name, strlen(name) + 1);
			sha256_update(sha, &st.st_mode, sizeof(st.st_mode));
			if (S_ISDIR(st.st_mode)) {
				tree_hash(sha, path);
			} else if (S_ISREG(st.st_mode)) {
				char *data;
				size_t len;

				REQUIRE(fs_read_file(path, (size_t)1 << 30,
						     &data, &len) == 0);
				sha256_update(sha, data, len);
				free(data);
			}
		}
		free(path);
		free(list[i]);
	}
	free(list);
}

static struct digest tree_digest(const char *dir)
{
	sha256_ctx_t *sha = sha256_new();
	struct digest d;

	tree_hash(sha, dir);
	sha256_final(sha, &d);
	sha256_free(sha);
	return d;
}

/* The root catalog digest the repository's manifest names. */
static struct digest manifest_root(const char *repo, const repo_key_t *key)
{
	char *path = unit_path(repo, "manifest"), *data;
	struct repo_manifest m;
	struct digest d;
	size_t len;

	REQUIRE(fs_read_file(path, REPO_MANIFEST_MAX, &data, &len) == 0);
	REQUIRE(repo_manifest_decode(data, len, key, &m) == 0);
	d = m.root_catalog;
	repo_manifest_release(&m);
	free(data);
	free(path);
	return d;
}

/* A test platform: keys, a source tree, a repository, a state dir. */
struct platform {
	char *dir, *key_file, *src, *json, *repo, *state;
	repo_key_t *key;
};

static void datasets_json(struct platform *p, const char *tier_alpha)
{
	char *json;

	REQUIRE(asprintf(&json,
			 "{\"datasets\": ["
			 "{\"name\": \"alpha\", \"industry\": \"law\", "
			 "\"modality\": \"text\", \"tier\": \"%s\", "
			 "\"license\": \"CC0\", \"description\": \"\"},"
			 "{\"name\": \"beta\", \"industry\": \"news\", "
			 "\"modality\": \"text\", \"tier\": \"open\", "
			 "\"license\": \"CC0\", \"description\": \"b\"}]}",
			 tier_alpha) > 0);
	write_file(p->json, json, strlen(json));
	free(json);
}

static void platform_init(struct platform *p, const char *name)
{
	uint64_t seed = 42;
	uint8_t big[300000];
	char *d;

	memset(p, 0, sizeof(*p));
	p->dir = unit_path(tmp, name);
	REQUIRE(mkdir(p->dir, 0755) == 0);
	p->key_file = unit_path(p->dir, "platform.key");
	REQUIRE(repo_key_generate(&p->key) == 0);
	REQUIRE(repo_key_write_private(p->key, p->key_file) == 0);
	p->src = unit_path(p->dir, "src");
	p->json = unit_path(p->dir, "datasets.json");
	p->repo = unit_path(p->dir, "repo");
	p->state = unit_path(p->dir, "state");
	REQUIRE(mkdir(p->src, 0755) == 0);
	mkdir_in(p->src, "alpha");
	mkdir_in(p->src, "beta");
	d = unit_path(p->src, "alpha");
	mkdir_in(d, "sub");
	for (int i = 0; i < 40; i++) {
		char fname[32], text[64];

		snprintf(fname, sizeof(fname), "small%02d.txt", i);
		snprintf(text, sizeof(text), "alpha small file %d\n", i);
		write_text(d, fname, text);
	}
	unit_rand_fill(&seed, big, sizeof(big));
	free(d);
	d = unit_path(p->src, "alpha/sub/big.bin");
	write_file(d, big, sizeof(big));
	free(d);
	d = unit_path(p->src, "beta");
	write_text(d, "one.txt", "beta one\n");
	free(d);
	datasets_json(p, "open");
}

static void platform_release(struct platform *p)
{
	repo_key_free(p->key);
	free(p->dir);
	free(p->key_file);
	free(p->src);
	free(p->json);
	free(p->repo);
	free(p->state);
}

static struct publish_pack_options pack_options(const struct platform *p)
{
	struct publish_pack_options o = {
	    .src = p->src,
	    .datasets_file = p->json,
	    .key_file = p->key_file,
	    .repo = p->repo,
	    .chunk_size = 64 << 10,
	    .shard_size = 1 << 20,
	    .level = 3,
	    .jobs = 2,
	    .ttl = 300,
	    .state_dir = p->state,
	};
	return o;
}

static int pack(const struct platform *p, unsigned flags,
		struct publish_pack_result *res)
{
	struct publish_pack_options o = pack_options(p);

	o.flags = flags;
	return publish_pack(&o, res);
}

/* Files written just now are "racy" (FORMAT.md §9.2): let a second pass. */
static void settle(void)
{
	usleep(1100 * 1000);
}

/* -------------------------------------------------------- grouping -- */

/* Rule 2's definition: the boundaries inside group lo..hi (weights w). */
static size_t reference_splits(const struct digest *keys, const uint64_t *w,
			       size_t lo, size_t hi, uint64_t max_weight,
			       size_t *ends)
{
	size_t gaps = hi - lo, count = 0;
	long *prev = calloc(gaps + 1, sizeof(long));
	long *next = calloc(gaps + 1, sizeof(long));
	long *stack = calloc(gaps + 1, sizeof(long));
	uint64_t *before = calloc(gaps + 2, sizeof(uint64_t));
	const struct digest *k = keys + lo;
	long top = 0;

	for (size_t i = 0; i <= gaps; i++)
		before[i + 1] = before[i] + w[lo + i];
	for (size_t i = 0; i < gaps; i++) {
		while (top &&
		       memcmp(k[stack[top - 1]].b, k[i].b, DIGEST_LEN) > 0)
			top--;
		prev[i] = top ? stack[top - 1] : -1;
		stack[top++] = (long)i;
	}
	top = 0;
	for (size_t i = gaps; i-- > 0;) {
		while (top &&
		       memcmp(k[stack[top - 1]].b, k[i].b, DIGEST_LEN) > 0)
			top--;
		next[i] = top ? stack[top - 1] : (long)gaps;
		stack[top++] = (long)i;
	}
	for (size_t i = 0; i < gaps; i++) {
		/* the range of gap i: files prev+1 .. next */
		size_t a = (size_t)(prev[i] + 1), b = (size_t)next[i];

		if (before[b + 1] - before[a] > max_weight)
			ends[count++] = lo + i;
	}
	free(prev);
	free(next);
	free(stack);
	free(before);
	return count;
}

/* The rule's definition, over all n files at once (FORMAT.md §9.2). */
static size_t reference_groups(const struct digest *keys, const uint64_t *sizes,
			       size_t n, uint32_t chunk_size, size_t *ends)
{
	uint64_t min_w = (chunk_size + 65535) / 65536, total = 0;
	uint64_t *w = calloc(n + 1, sizeof(*w));
	size_t count = 0, start = 0;

	for (size_t i = 0; i < n; i++) {
		w[i] = sizes[i] > min_w ? sizes[i] : min_w;
		total += w[i];
		if (!pack_group_ends(&keys[i], w[i], chunk_size) && i + 1 < n)
			continue;
		if (total > chunk_size)
			count += reference_splits(keys, w, start, i, chunk_size,
						  ends + count);
		ends[count++] = i;
		start = i + 1;
		total = 0;
	}
	free(w);
	return count;
}

/* The streaming implementation's groups, as ends. */
static size_t streamed_groups(const struct digest *keys, const uint64_t *sizes,
			      size_t n, uint32_t chunk_size, size_t *ends)
{
	struct pack_group *g = pack_group_new(chunk_size);
	size_t count = 0, taken = 0, k;

	for (size_t i = 0; i < n; i++) {
		pack_group_push(g, &keys[i], sizes[i]);
		while (pack_group_take(g, &k)) {
			taken += k;
			ends[count++] = taken - 1;
			CHECK(taken <= i + 1);
		}
	}
	k = pack_group_finish(g);
	if (k) {
		taken += k;
		ends[count++] = taken - 1;
	}
	CHECK_U64(taken, n);
	pack_group_free(g);
	return count;
}

static void test_group_matches_definition(void)
{
	enum { N = 5000 };
	struct digest *keys = calloc(N, sizeof(*keys));
	uint64_t *sizes = calloc(N, sizeof(*sizes)), seed = 7;
	size_t *a = calloc(N, sizeof(*a)), *b = calloc(N, sizeof(*b));
	size_t splits = 0;
	/* sizes 1..size_max; endless: per mille of keys that never end a
	 * group (first byte 0xff), so that rule 2 has work */
	const struct {
		uint32_t chunk_size, size_max, endless;
	} cases[] = {
	    {65536, 1024, 0},	   {65536, 4096, 990},	{65536, 16384, 0},
	    {65536, 100, 1000},	   {65536, 16384, 500}, {4u << 20, 64, 500},
	    {4u << 20, 1024, 999}, {100000, 10, 1000},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t cs = cases[c].chunk_size;

		for (int round = 0; round < 4; round++) {
			size_t n = round == 0 ? 1 : N / (size_t)(4 - round);
			size_t na, nb;

			for (size_t i = 0; i < n; i++) {
				unit_rand_fill(&seed, keys[i].b, DIGEST_LEN);
				if (unit_rand(&seed) % 1000 < cases[c].endless)
					keys[i].b[0] = 0xff;
				sizes[i] =
				    1 + unit_rand(&seed) % cases[c].size_max;
			}
			na = reference_groups(keys, sizes, n, cs, a);
			nb = streamed_groups(keys, sizes, n, cs, b);
			CHECK_U64(nb, na);
			if (na == nb)
				CHECK_MEM(b, a, na * sizeof(*a));
			/* every group within the caps */
			for (size_t i = 0, start = 0; i < nb; i++) {
				uint64_t bytes = 0;

				for (size_t f = start; f <= b[i]; f++)
					bytes += sizes[f];
				CHECK(bytes <= cs);
				CHECK(b[i] + 1 - start <= 65536);
				splits += !pack_group_ends(
				    &keys[b[i]],
				    sizes[b[i]] > (cs + 65535) / 65536
					? sizes[b[i]]
					: (cs + 65535) / 65536,
				    cs);
				start = b[i] + 1;
			}
		}
	}
	CHECK(splits > 100); /* rule 2 was exercised */
	free(keys);
	free(sizes);
	free(a);
	free(b);
}

/*
 * A dataset of 50,000 files of about 1 KiB: each single edit (a file
 * grows by 400 bytes, shrinks by half, is added or removed) changes at
 * most 2 groups, for several chunk sizes and places in the dataset.
 */
struct file_list {
	struct digest *keys;
	uint64_t *sizes;
	uint32_t *version; /* bumped by an edit: the content changed */
	size_t n;
};

static uint64_t group_hash(const struct file_list *f, size_t lo, size_t hi)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = lo; i <= hi; i++) {
		h = (h ^ load_le64(f->keys[i].b)) * 1099511628211ull;
		h = (h ^ f->sizes[i] ^ ((uint64_t)f->version[i] << 40)) *
		    1099511628211ull;
	}
	return h;
}

static size_t groups_of(const struct file_list *f, uint64_t max_bytes,
			uint64_t *hashes)
{
	size_t *ends = calloc(f->n, sizeof(*ends)), count, start = 0;

	count =
	    streamed_groups(f->keys, f->sizes, f->n, (uint32_t)max_bytes, ends);
	for (size_t i = 0; i < count; i++) {
		hashes[i] = group_hash(f, start, ends[i]);
		start = ends[i] + 1;
	}
	free(ends);
	return count;
}

static size_t new_groups(const uint64_t *old, size_t n_old, const uint64_t *now,
			 size_t n_now)
{
	size_t fresh = 0;

	for (size_t i = 0; i < n_now; i++) {
		bool seen = false;

		for (size_t k = 0; k < n_old && !seen; k++)
			seen = old[k] == now[i];
		fresh += !seen;
	}
	return fresh;
}

static void test_group_edits_stay_local(void)
{
	enum { N = 50000 };
	struct file_list base = {
	    .keys = calloc(N + 1, sizeof(struct digest)),
	    .sizes = calloc(N + 1, sizeof(uint64_t)),
	    .version = calloc(N + 1, sizeof(uint32_t)),
	    .n = N,
	};
	struct file_list ed = {
	    .keys = calloc(N + 1, sizeof(struct digest)),
	    .sizes = calloc(N + 1, sizeof(uint64_t)),
	    .version = calloc(N + 1, sizeof(uint32_t)),
	};
	uint64_t *old = calloc(N + 1, 8), *now = calloc(N + 1, 8), seed = 3;
	const uint64_t chunk_sizes[] = {4u << 20, 1u << 20, 256u << 10};
	size_t worst = 0;

	for (size_t i = 0; i < N; i++) {
		char path[64];

		snprintf(path, sizeof(path), "d%03zu/f%06zu.txt", i / 1000, i);
		pack_group_key(path, &base.keys[i]);
		base.sizes[i] = 700 + unit_rand(&seed) % 600;
	}
	for (size_t c = 0; c < 3; c++) {
		size_t n_old = groups_of(&base, chunk_sizes[c], old);

		for (int edit = 0; edit < 4; edit++) {
			for (int t = 0; t < 25; t++) {
				size_t at = unit_rand(&seed) % N, n_now, fresh;
				char path[64];

				memcpy(ed.keys, base.keys,
				       N * sizeof(*ed.keys));
				memcpy(ed.sizes, base.sizes, N * 8);
				memset(ed.version, 0, (N + 1) * 4);
				ed.n = N;
				if (edit == 0) { /* append 400 bytes */
					ed.sizes[at] += 400;
					ed.version[at] = 1;
				} else if (edit == 1) { /* shrink */
					ed.sizes[at] /= 2;
					ed.version[at] = 1;
				} else if (edit == 2) { /* add after at */
					memmove(ed.keys + at + 1, ed.keys + at,
						(N - at) * sizeof(*ed.keys));
					memmove(ed.sizes + at + 1,
						ed.sizes + at, (N - at) * 8);
					snprintf(path, sizeof(path),
						 "d%03zu/new%06zu.txt",
						 at / 1000, at);
					pack_group_key(path, &ed.keys[at]);
					ed.sizes[at] = 1000;
					ed.version[at] = 1;
					ed.n = N + 1;
				} else { /* remove */
					memmove(ed.keys + at, ed.keys + at + 1,
						(N - at - 1) *
						    sizeof(*ed.keys));
					memmove(ed.sizes + at,
						ed.sizes + at + 1,
						(N - at - 1) * 8);
					ed.n = N - 1;
				}
				n_now = groups_of(&ed, chunk_sizes[c], now);
				fresh = new_groups(old, n_old, now, n_now);
				CHECK(fresh <= 2);
				if (fresh > worst)
					worst = fresh;
			}
		}
	}
	CHECK(worst >= 1);
	free(base.keys);
	free(base.sizes);
	free(base.version);
	free(ed.keys);
	free(ed.sizes);
	free(ed.version);
	free(old);
	free(now);
}

/* ------------------------------------------------------------ packing -- */

struct progress_seen {
	int calls, finals;
	struct publish_progress last;
};

static void progress_cb(void *ctx, const struct publish_progress *p)
{
	struct progress_seen *s = ctx;

	s->calls++;
	s->finals += p->final;
	s->last = *p;
}

static void test_pack_then_repack_unchanged(void)
{
	struct platform p;
	struct publish_pack_options o;
	struct publish_pack_result r1, r2, r3;
	struct progress_seen seen = {0};
	struct digest root1, root2, root3;

	platform_init(&p, "repack");
	o = pack_options(&p);
	o.progress = progress_cb;
	o.progress_ctx = &seen;
	REQUIRE_RC(publish_pack(&o, &r1), 0);
	CHECK_U64(r1.revision, 1);
	CHECK_U64(r1.datasets, 2);
	CHECK_U64(r1.files, 42);
	CHECK_U64(r1.files_unchanged, 0);
	CHECK(r1.chunks_new > 0);
	CHECK_U64(r1.catalogs_new, 3);
	CHECK_INT(seen.finals, 1);
	CHECK(seen.last.final);
	CHECK_U64(seen.last.files_done, 42);
	CHECK_U64(seen.last.files_total, 42);
	CHECK_U64(seen.last.bytes_done, seen.last.bytes_total);
	root1 = manifest_root(p.repo, p.key);

	/* written just now: the next pack does not trust them yet */
	REQUIRE_RC(pack(&p, 0, &r2), 0);
	CHECK_U64(r2.revision, 2);
	CHECK_U64(r2.files_unchanged, 0);
	CHECK_U64(r2.chunks_new, 0);
	CHECK_U64(r2.catalogs_new, 0);
	root2 = manifest_root(p.repo, p.key);
	CHECK(digest_equal(&root1, &root2));

	settle();
	REQUIRE_RC(pack(&p, 0, &r2), 0); /* records them as settled */
	REQUIRE_RC(pack(&p, 0, &r3), 0);
	CHECK_U64(r3.revision, 4);
	CHECK_U64(r3.files_unchanged, 42);
	CHECK_U64(r3.bytes_unchanged, r3.bytes_in);
	CHECK_U64(r3.chunks_new, 0);
	CHECK_U64(r3.catalogs_new, 0);
	CHECK_U64(r3.chunks, r1.chunks);
	root3 = manifest_root(p.repo, p.key);
	CHECK(digest_equal(&root1, &root3));

	/* --rehash reads everything and comes to the same catalogs */
	REQUIRE_RC(pack(&p, PUBLISH_PACK_REHASH, &r3), 0);
	CHECK_U64(r3.files_unchanged, 0);
	CHECK_U64(r3.catalogs_new, 0);
	root3 = manifest_root(p.repo, p.key);
	CHECK(digest_equal(&root1, &root3));
	platform_release(&p);
}

static void test_repack_reads_only_changes(void)
{
	struct platform p;
	struct publish_pack_result r, full;
	struct digest skipped_root;
	char *path;

	platform_init(&p, "changes");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	settle();
	REQUIRE_RC(pack(&p, 0, &r), 0);

	/* one small file grows: its group is read again, nothing else */
	path = unit_path(p.src, "alpha/small07.txt");
	write_file(path, "alpha small file 7, longer now\n", 31);
	free(path);
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK(r.files_unchanged >= 2); /* the big file and beta's */
	CHECK(r.files_unchanged < 42);
	CHECK(r.chunks_new >= 1 && r.chunks_new <= 2);
	CHECK_U64(r.catalogs_new, 2); /* alpha's and the root */
	skipped_root = manifest_root(p.repo, p.key);
	/* a full read of the same tree gives the very same catalogs */
	REQUIRE_RC(pack(&p, PUBLISH_PACK_REHASH, &full), 0);
	CHECK_U64(full.catalogs_new, 0);
	CHECK_U64(full.chunks_new, 0);
	{
		struct digest root = manifest_root(p.repo, p.key);

		CHECK(digest_equal(&root, &skipped_root));
	}

	/* same size and mtime, new content: ctime tells */
	settle();
	REQUIRE_RC(pack(&p, 0, &r), 0);
	{
		struct stat st;
		struct timespec times[2];
		uint8_t big[300000];
		uint64_t seed = 99;

		path = unit_path(p.src, "alpha/sub/big.bin");
		REQUIRE(stat(path, &st) == 0);
		unit_rand_fill(&seed, big, sizeof(big));
		write_file(path, big, sizeof(big));
		times[0] = st.st_atim;
		times[1] = st.st_mtim;
		REQUIRE(utimensat(AT_FDCWD, path, times, 0) == 0);
		free(path);
	}
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK(r.chunks_new >= 4); /* 300000 random bytes, 64 KiB chunks */
	CHECK_U64(r.files_unchanged, 41);
	platform_release(&p);
}

static void test_state_tied_to_revision(void)
{
	struct platform p;
	struct publish_pack_result r;
	char *other, *path;

	platform_init(&p, "state");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	settle();
	REQUIRE_RC(pack(&p, 0, &r), 0);

	/* another publisher (another state) advances the repository */
	other = unit_path(p.dir, "other-state");
	path = unit_path(p.src, "beta/two.txt");
	write_file(path, "beta two\n", 9);
	free(path);
	{
		struct publish_pack_options o = pack_options(&p);

		o.state_dir = other;
		REQUIRE_RC(publish_pack(&o, &r), 0);
	}
	/* our state describes the revision before: not trusted */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.files_unchanged, 0);
	/* and now it describes this one again */
	settle();
	REQUIRE_RC(pack(&p, 0, &r), 0);
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.files_unchanged, 43);

	/* another chunk size: not trusted */
	{
		struct publish_pack_options o = pack_options(&p);

		o.chunk_size = 128 << 10;
		REQUIRE_RC(publish_pack(&o, &r), 0);
		CHECK_U64(r.files_unchanged, 0);
	}
	/* no state at all: everything read, nothing written */
	REQUIRE_RC(pack(&p, PUBLISH_PACK_NO_STATE, &r), 0);
	CHECK_U64(r.files_unchanged, 0);

	/* a damaged state is not trusted, and not fatal */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	{
		char *file = unit_path(p.state, "pack-state"), *data;
		size_t len;

		REQUIRE(fs_read_file(file, (size_t)1 << 30, &data, &len) == 0);
		REQUIRE(len > 100);
		/* a dataset count of 2^32 - 1 */
		memset(data + 28, 0xff, 4);
		write_file(file, data, len);
		CHECK_RC(pack(&p, 0, &r), 0);
		CHECK_U64(r.files_unchanged, 0);
		/* cut short */
		free(data);
		REQUIRE(fs_read_file(file, (size_t)1 << 30, &data, &len) == 0);
		write_file(file, data, len / 2);
		CHECK_RC(pack(&p, 0, &r), 0);
		CHECK_U64(r.files_unchanged, 0);
		free(data);
		free(file);
	}

	/* a dataset turned secure never reuses its plaintext chunks */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.files_unchanged, 43);
	datasets_json(&p, "secure");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.files_unchanged, 2); /* beta only */
	CHECK(r.chunks_new >= 5);	 /* alpha, encrypted */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.files_unchanged, 43); /* and secure ones reuse theirs */
	CHECK_U64(r.chunks_new, 0);
	free(other);
	platform_release(&p);
}

/* ---------------------------------------------- the lock, re-signing -- */

static void test_lock_contention(void)
{
	struct platform p;
	struct publish_pack_result r;
	publish_lock_t *lock = NULL, *second = NULL;
	struct digest before;
	uint64_t rev = 0;
	size_t revoked = 0;
	const char *ids[] = {"tok-1"};

	platform_init(&p, "lock");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	REQUIRE_RC(publish_lock_acquire(p.repo, &lock), 0);
	CHECK_STR(publish_lock_repo(lock), p.repo);
	before = tree_digest(p.repo);
	unit_quiet(true);
	CHECK_RC(publish_lock_acquire(p.repo, &second), -EWOULDBLOCK);
	CHECK_RC(pack(&p, 0, &r), -EWOULDBLOCK);
	unit_quiet(false);
	{
		struct digest after = tree_digest(p.repo);

		CHECK(digest_equal(&before, &after));
	}
	/* the holder re-signs under its lock */
	REQUIRE_RC(publish_manifest_resign(lock, p.key, ids, 1, &rev, &revoked),
		   0);
	CHECK_U64(rev, 2);
	CHECK_U64(revoked, 1);
	publish_lock_release(lock);
	/* released: a pack goes through */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.revision, 3);
	unit_quiet(true);
	CHECK_RC(publish_lock_acquire("/nonexistent/repo", &second), -ENOENT);
	CHECK_RC(publish_lock_acquire(p.json, &second), -ENOTDIR);
	unit_quiet(false);
	platform_release(&p);
}

static void test_manifest_resign(void)
{
	struct platform p;
	struct publish_pack_result r;
	publish_lock_t *lock = NULL;
	repo_key_t *other = NULL;
	struct repo_manifest m;
	struct digest before, root;
	const char *ids[] = {"tok-1", "tok.2", "tok-1"};
	const char *bad[] = {"no spaces"};
	uint64_t rev;
	size_t revoked;
	char *path, *data;
	size_t len;

	platform_init(&p, "resign");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	root = manifest_root(p.repo, p.key);
	REQUIRE_RC(publish_lock_acquire(p.repo, &lock), 0);
	REQUIRE_RC(publish_manifest_resign(lock, p.key, ids, 3, &rev, &revoked),
		   0);
	CHECK_U64(rev, 2);
	CHECK_U64(revoked, 2); /* no duplicates */
	REQUIRE_RC(
	    publish_manifest_resign(lock, p.key, ids + 1, 1, &rev, &revoked),
	    0);
	CHECK_U64(rev, 3);
	CHECK_U64(revoked, 2);
	path = unit_path(p.repo, "manifest");
	REQUIRE(fs_read_file(path, REPO_MANIFEST_MAX, &data, &len) == 0);
	REQUIRE_RC(repo_manifest_decode(data, len, p.key, &m), 0);
	CHECK(digest_equal(&m.root_catalog, &root));
	CHECK_U64(m.ttl, 300);
	REQUIRE(m.revoked_count == 2);
	CHECK_STR(m.revoked[0], "tok-1");
	CHECK_STR(m.revoked[1], "tok.2");
	repo_manifest_release(&m);
	free(data);

	/* refused, and the manifest stays as it was */
	before = tree_digest(p.repo);
	REQUIRE_RC(repo_key_generate(&other), 0);
	unit_quiet(true);
	CHECK_RC(publish_manifest_resign(lock, other, ids, 1, NULL, NULL),
		 -EBADMSG);
	CHECK_RC(publish_manifest_resign(lock, p.key, bad, 1, NULL, NULL),
		 -EINVAL);
	unit_quiet(false);
	{
		struct digest after = tree_digest(p.repo);

		CHECK(digest_equal(&before, &after));
	}
	publish_lock_release(lock);
	/* a directory without a manifest */
	REQUIRE_RC(publish_lock_acquire(p.src, &lock), 0);
	unit_quiet(true);
	CHECK_RC(publish_manifest_resign(lock, p.key, ids, 1, NULL, NULL),
		 -ENOENT);
	unit_quiet(false);
	publish_lock_release(lock);
	repo_key_free(other);
	free(path);
	platform_release(&p);
}

/* The repository's manifest, decoded (release it). */
static void manifest_read(const char *repo, const repo_key_t *key,
			  struct repo_manifest *m)
{
	char *path = unit_path(repo, "manifest"), *data;
	size_t len;

	REQUIRE(fs_read_file(path, REPO_MANIFEST_MAX, &data, &len) == 0);
	REQUIRE_RC(repo_manifest_decode(data, len, key, m), 0);
	free(data);
	free(path);
}

/* Replace the repository's manifest with m signed by key. */
static void manifest_write(const char *repo, const repo_key_t *key,
			   const struct repo_manifest *m)
{
	char *path = unit_path(repo, "manifest"), *text;
	size_t len;

	REQUIRE_RC(repo_manifest_encode(m, key, &text, &len), 0);
	REQUIRE_RC(fs_write_atomic(path, text, len, 0644), 0);
	free(text);
	free(path);
}

/* The size of the catalog object d in repo, from the file system. */
static uint64_t catalog_file_size(const char *repo, const struct digest *d)
{
	char rel[128], *path;
	struct stat st;

	repo_catalog_object_path(d, rel, sizeof(rel));
	path = unit_path(repo, rel);
	REQUIRE(stat(path, &st) == 0);
	free(path);
	return (uint64_t)st.st_size;
}

/*
 * Format 2 (#8 §3): pack and resign write the root catalog's size; a
 * format-1 manifest (what older publishers wrote) is upgraded by the
 * next resign or pack, and its size is measured from a root catalog that
 * matches its digest only.
 */
static void test_manifest_format_2(void)
{
	struct platform p;
	struct publish_pack_result r;
	publish_lock_t *lock = NULL;
	struct repo_manifest m, v1;
	uint64_t size;

	platform_init(&p, "format2");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	manifest_read(p.repo, p.key, &m);
	CHECK_INT(m.format, REPO_MANIFEST_FORMAT);
	size = catalog_file_size(p.repo, &m.root_catalog);
	CHECK_U64(m.root_catalog_size, size);

	/* the same revision as format 1, as an old publisher wrote it */
	v1 = m;
	v1.format = 1;
	v1.root_catalog_size = 0;
	manifest_write(p.repo, p.key, &v1);
	repo_manifest_release(&m);
	manifest_read(p.repo, p.key, &m);
	CHECK_INT(m.format, 1);
	CHECK_U64(m.root_catalog_size, 0);
	repo_manifest_release(&m);

	REQUIRE_RC(publish_lock_acquire(p.repo, &lock), 0);
	REQUIRE_RC(publish_manifest_resign(lock, p.key, NULL, 0, NULL, NULL),
		   0);
	manifest_read(p.repo, p.key, &m);
	CHECK_INT(m.format, 2);
	CHECK_U64(m.revision, 2);
	CHECK_U64(m.root_catalog_size, size);

	/* a format-1 manifest whose root catalog is damaged: refused, not
	 * signed with a size nobody checked */
	{
		char rel[128], *path;
		struct digest before, after;
		int fd;

		v1 = m;
		v1.format = 1;
		v1.root_catalog_size = 0;
		manifest_write(p.repo, p.key, &v1);
		repo_catalog_object_path(&m.root_catalog, rel, sizeof(rel));
		path = unit_path(p.repo, rel);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		REQUIRE(fd >= 0);
		REQUIRE_RC(fs_write_all(fd, "x", 1), 0);
		close(fd);
		before = tree_digest(p.repo);
		unit_quiet(true);
		CHECK_RC(
		    publish_manifest_resign(lock, p.key, NULL, 0, NULL, NULL),
		    -EBADMSG);
		unit_quiet(false);
		after = tree_digest(p.repo);
		CHECK(digest_equal(&before, &after));
		REQUIRE(truncate(path, (off_t)size) == 0);
		free(path);
	}
	publish_lock_release(lock);

	/* pack extends a format-1 revision into a format-2 one */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	repo_manifest_release(&m);
	manifest_read(p.repo, p.key, &m);
	CHECK_INT(m.format, 2);
	CHECK_U64(m.revision, 3);
	CHECK_U64(m.root_catalog_size,
		  catalog_file_size(p.repo, &m.root_catalog));
	repo_manifest_release(&m);
	platform_release(&p);
}

/* ---------------------------------------------------------- keys/ -- */

static void test_sealed_key_under_lock(void)
{
	struct platform p;
	struct publish_pack_result r;
	uint8_t key[PUBLISH_DATASET_KEY_LEN], again[PUBLISH_DATASET_KEY_LEN];
	uint8_t unsealed[AUTH_DATASET_KEY_LEN];
	auth_node_key_t *node = NULL;
	publish_lock_t *lock = NULL, *second = NULL;
	char id[AUTH_NODE_ID_LEN + 1], *obj = NULL, *rel, *want, *data;
	size_t len;

	platform_init(&p, "keys");
	datasets_json(&p, "secure");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	/* pack made the key; it is there without create now */
	REQUIRE_RC(publish_dataset_key_get(p.key_file, "alpha", false, key), 0);
	REQUIRE_RC(publish_dataset_key_get(p.key_file, "alpha", true, again),
		   0);
	CHECK_MEM(again, key, sizeof(key));
	CHECK_RC(publish_dataset_key_get(p.key_file, "beta", false, again),
		 -ENOENT);
	CHECK_RC(publish_dataset_key_get(p.key_file, "a/b", true, again),
		 -EINVAL);

	REQUIRE_RC(auth_node_key_generate(&node), 0);
	auth_node_key_id(node, id);
	REQUIRE_RC(publish_lock_acquire(p.repo, &lock), 0);
	REQUIRE_RC(
	    publish_sealed_key_write(lock, p.key, "alpha", node, key, &obj), 0);
	/* nobody else could take the lock meanwhile */
	unit_quiet(true);
	CHECK_RC(publish_lock_acquire(p.repo, &second), -EWOULDBLOCK);
	CHECK_RC(publish_sealed_key_write(lock, p.key, "..", node, key, NULL),
		 -EINVAL);
	unit_quiet(false);
	publish_lock_release(lock);
	rel = repo_sealed_key_object_path("alpha", id);
	want = unit_path(p.repo, rel);
	CHECK_STR(obj, want);
	REQUIRE(fs_read_file(want, AUTH_SEALED_KEY_MAX, &data, &len) == 0);
	/* the platform's private key verifies as its public key would */
	CHECK_RC(
	    auth_unseal_dataset_key(p.key, "alpha", node, data, len, unsealed),
	    0);
	CHECK_MEM(unsealed, key, sizeof(key));
	free(data);
	free(rel);
	free(want);
	free(obj);
	auth_node_key_free(node);
	platform_release(&p);
}

/* ------------------------------------------------------ error paths -- */

static void test_errors_leave_repository_unchanged(void)
{
	struct platform p;
	struct publish_pack_result r;
	struct publish_pack_options o;
	struct digest before, after;
	repo_key_t *other = NULL;
	char *path, *other_key, *fresh;

	platform_init(&p, "errors");
	REQUIRE_RC(pack(&p, 0, &r), 0);
	before = tree_digest(p.repo);
	unit_quiet(true);

	/* a special file in a dataset */
	path = unit_path(p.src, "beta/fifo");
	REQUIRE(mkfifo(path, 0644) == 0);
	CHECK_RC(pack(&p, 0, &r), -EINVAL);
	unlink(path);
	free(path);
	/* a name with a control character */
	path = unit_path(p.src, "alpha/bad\x01name");
	write_file(path, "x", 1);
	CHECK_RC(pack(&p, 0, &r), -EINVAL);
	unlink(path);
	free(path);
	/* a symlink leaving its dataset */
	path = unit_path(p.src, "alpha/escape");
	REQUIRE(symlink("../beta/one.txt", path) == 0);
	CHECK_RC(pack(&p, 0, &r), -EINVAL);
	unlink(path);
	free(path);
	/* a datasets file that is not JSON */
	o = pack_options(&p);
	o.datasets_file = p.key_file;
	CHECK_RC(publish_pack(&o, &r), -EINVAL);
	/* another platform key */
	REQUIRE_RC(repo_key_generate(&other), 0);
	other_key = unit_path(p.dir, "other.key");
	REQUIRE_RC(repo_key_write_private(other, other_key), 0);
	o = pack_options(&p);
	o.key_file = other_key;
	CHECK_RC(publish_pack(&o, &r), -EBADMSG);
	/* a key file that is no key */
	o.key_file = p.json;
	CHECK_RC(publish_pack(&o, &r), -EINVAL);
	/* a repository directory that is not one */
	o = pack_options(&p);
	o.repo = p.src;
	CHECK_RC(publish_pack(&o, &r), -EINVAL);
	unit_quiet(false);

	after = tree_digest(p.repo);
	CHECK(digest_equal(&before, &after));
	/* and still good: the next pack is revision 2 */
	REQUIRE_RC(pack(&p, 0, &r), 0);
	CHECK_U64(r.revision, 2);

	/* a failed pack into a new directory leaves nothing */
	fresh = unit_path(p.dir, "fresh");
	o = pack_options(&p);
	o.repo = fresh;
	o.datasets_file = p.key_file;
	unit_quiet(true);
	CHECK_RC(publish_pack(&o, &r), -EINVAL);
	path = unit_path(p.src, "beta/fifo");
	REQUIRE(mkfifo(path, 0644) == 0);
	o.datasets_file = p.json;
	CHECK_RC(publish_pack(&o, &r), -EINVAL);
	unit_quiet(false);
	unlink(path);
	free(path);
	CHECK(access(fresh, F_OK) != 0);
	repo_key_free(other);
	free(other_key);
	free(fresh);
	platform_release(&p);
}

/* Number of entries of dir whose names start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	REQUIRE(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/*
 * A pack-state writer removes the temporaries of dead packs (no one holds
 * their lock), never that of a writer alive.
 */
static void test_state_stale_temporaries(void)
{
	char *dir = unit_path(tmp, "state-temps"), *dead, *state;
	struct pack_state_writer *a = NULL, *b = NULL;
	struct pack_state_dataset_key key = {.name = "d"};
	struct digest root = {{1}};

	REQUIRE(mkdir(dir, 0700) == 0);
	dead = unit_path(dir, ".pack-state.dead01");
	write_file(dead, "x", 1);
	pack_state_writer_new(dir, 1u << 20, &a);
	CHECK(access(dead, F_OK) != 0);
	CHECK_INT(count_prefixed(dir, ".pack-state."), 1);
	/* a second writer leaves the first one's alone */
	pack_state_writer_new(dir, 1u << 20, &b);
	CHECK_INT(count_prefixed(dir, ".pack-state."), 2);
	pack_state_writer_free(b);
	CHECK_INT(count_prefixed(dir, ".pack-state."), 1);
	pack_state_writer_dataset_begin(a, &key);
	pack_state_writer_dataset_end(a, 0);
	pack_state_writer_commit(a, &root);
	pack_state_writer_free(a);
	state = unit_path(dir, "pack-state");
	CHECK(access(state, F_OK) == 0);
	CHECK_INT(count_prefixed(dir, ".pack-state."), 0);
	free(state);
	free(dead);
	free(dir);
}

/* ------------------------------------------------------ the finisher -- */

#define FIN_TASKS 40 /* several times the finisher's queue */

struct fin_log {
	int ran[FIN_TASKS + 8];
	int count; /* written by the finisher's thread only */
};

struct fin_task {
	struct fin_log *log;
	int id, rc;
};

static int fin_task_run(void *arg)
{
	struct fin_task *t = arg;
	int rc = t->rc;

	t->log->ran[t->log->count++] = t->id;
	free(t);
	return rc;
}

static int fin_submit(struct pack_finisher *f, struct fin_log *log, int id,
		      int rc)
{
	struct fin_task *t = calloc(1, sizeof(*t));

	REQUIRE(t != NULL);
	t->log = log;
	t->id = id;
	t->rc = rc;
	return pack_finisher_submit(f, fin_task_run, t);
}

/*
 * Tasks run in the order queued, each one even after another failed; the
 * first failure is what wait (and every later submit) returns; freeing
 * runs what is still queued.
 */
static void test_finisher(void)
{
	struct pack_finisher *f = NULL;
	struct fin_log log = {0};
	int rc;

	REQUIRE_RC(pack_finisher_new(&f), 0);
	CHECK_RC(pack_finisher_wait(f), 0);
	for (int i = 0; i < FIN_TASKS; i++) {
		rc = fin_submit(f, &log, i,
				i == 7	  ? -EIO
				: i == 20 ? -ENOSPC
					  : 0);
		/* an error is seen once task 7 ran, never before */
		CHECK(rc == 0 || rc == -EIO);
		if (i <= 7)
			CHECK_RC(rc, 0);
	}
	CHECK_RC(pack_finisher_wait(f), -EIO);
	CHECK_INT(log.count, FIN_TASKS);
	for (int i = 0; i < log.count; i++)
		CHECK_INT(log.ran[i], i);
	/* after a failure, submits still run and still report it */
	CHECK_RC(fin_submit(f, &log, FIN_TASKS, 0), -EIO);
	CHECK_RC(pack_finisher_wait(f), -EIO);
	CHECK_INT(log.count, FIN_TASKS + 1);
	pack_finisher_free(f);

	/* freed with tasks queued: they run before it returns */
	memset(&log, 0, sizeof(log));
	REQUIRE_RC(pack_finisher_new(&f), 0);
	for (int i = 0; i < 5; i++)
		CHECK_RC(fin_submit(f, &log, i, 0), 0);
	pack_finisher_free(f);
	CHECK_INT(log.count, 5);
	for (int i = 0; i < log.count; i++)
		CHECK_INT(log.ran[i], i);
	pack_finisher_free(NULL);
}

/* ------------------------------------------- the pipeline, directly -- */

#define PIPE_CHUNKS 48
#define PIPE_CHUNK (64 * 1024)

struct sink_log {
	int count;
	int seen[PIPE_CHUNKS * 2]; /* tag of each call, in call order */
	int status[PIPE_CHUNKS * 2];
	uint32_t id[PIPE_CHUNKS * 2];
};

struct sink_tag {
	struct sink_log *log;
	int tag;
};

static int sink_done(void *arg, int status, uint32_t id)
{
	struct sink_tag *t = arg;
	struct sink_log *l = t->log;

	l->seen[l->count] = t->tag;
	l->status[l->count] = status;
	l->id[l->count] = id;
	l->count++;
	return 0;
}

/* Chunk i's bytes: random or runs of one byte, so workers finish them
 * out of order; chunks 10 and 30 are chunk 3 again. */
static void pipe_chunk(int i, uint8_t *p)
{
	uint64_t seed = 1000 + (uint64_t)(i == 10 || i == 30 ? 3 : i);
	int src = i == 10 || i == 30 ? 3 : i;

	if (src % 3 == 0)
		unit_rand_fill(&seed, p, PIPE_CHUNK);
	else
		memset(p, 'a' + src % 26, PIPE_CHUNK);
	p[0] = (uint8_t)src;
}

static void test_pipeline(void)
{
	char *dir = unit_path(tmp, "pipeline"), *objects, *index, *cat;
	struct pack_index *ix = NULL;
	struct pack_finisher *fin = NULL;
	struct pack_pipeline *pp = NULL;
	repo_catalog_writer_t *w = NULL;
	struct pack_stats stats = {0};
	struct sink_tag tags[PIPE_CHUNKS * 2];
	struct sink_log log = {0};
	sha256_ctx_t *file = sha256_new(), *want = sha256_new();
	struct digest got_file, want_file, half[2], want_half[2], d3;
	struct pack_span spans[2];
	struct pack_location loc;
	uint8_t *buf = xmalloc(PIPE_CHUNK);

	REQUIRE(mkdir(dir, 0755) == 0);
	objects = unit_path(dir, "objects");
	index = unit_path(dir, "index");
	cat = unit_path(dir, "cat");
	REQUIRE(mkdir(objects, 0755) == 0);
	REQUIRE_RC(pack_index_new(index, &ix), 0);
	REQUIRE_RC(pack_finisher_new(&fin), 0);
	REQUIRE_RC(pack_pipeline_new(objects, ix, 2, 3, 1 << 20, PIPE_CHUNK,
				     &stats, fin, &pp),
		   0);

	/* dataset a: chunks 0..PIPE_CHUNKS-1 feed one running digest;
	 * chunk 7's two halves get their own digests */
	pack_pipeline_dataset_begin(pp, "a", NULL);
	for (int i = 0; i < PIPE_CHUNKS; i++) {
		struct pack_chunk_sink sink = {sink_done, &tags[i], file, NULL,
					       0};

		tags[i] = (struct sink_tag){&log, i};
		pipe_chunk(i, buf);
		sha256_update(want, buf, PIPE_CHUNK);
		if (i == 7) {
			spans[0] = (struct pack_span){0, 1000, &half[0]};
			spans[1] = (struct pack_span){1000, PIPE_CHUNK - 1000,
						      &half[1]};
			sha256_buffer(buf, 1000, &want_half[0]);
			sha256_buffer(buf + 1000, PIPE_CHUNK - 1000,
				      &want_half[1]);
			sink.spans = spans;
			sink.span_count = 2;
		}
		if (i == 3)
			sha256_buffer(buf, PIPE_CHUNK, &d3);
		/* the pipeline keeps buf and gives another one back */
		CHECK_RC(pack_pipeline_add(pp, &buf, PIPE_CHUNK, &sink), 0);
	}
	REQUIRE_RC(repo_catalog_writer_new(cat, "dataset", &w), 0);
	CHECK_RC(pack_pipeline_dataset_end(pp, w), 0);
	repo_catalog_writer_free(w);
	w = NULL;
	/* every sink told, in order; a repeated chunk has the first's id */
	CHECK_INT(log.count, PIPE_CHUNKS);
	for (int i = 0, next = 0; i < log.count && i < PIPE_CHUNKS; i++) {
		CHECK_INT(log.seen[i], i);
		CHECK_RC(log.status[i], 0);
		if (i == 10 || i == 30)
			CHECK_U64(log.id[i], log.id[3]);
		else
			CHECK_U64(log.id[i], (uint64_t)next++);
	}
	sha256_final(file, &got_file);
	sha256_final(want, &want_file);
	CHECK(digest_equal(&got_file, &want_file));
	CHECK(digest_equal(&half[0], &want_half[0]));
	CHECK(digest_equal(&half[1], &want_half[1]));
	CHECK_U64(stats.chunks, PIPE_CHUNKS);
	CHECK_U64(stats.chunks_new, PIPE_CHUNKS - 2);
	CHECK_U64(stats.chunks_known, 0);

	/* dataset b: chunk 3's stored record reused, then its bytes read
	 * again: the workers find it stored and do not compress it; a new
	 * chunk between keeps its place in the ids */
	REQUIRE_RC(pack_index_get(ix, &d3, &loc), 0);
	memset(&log, 0, sizeof(log));
	pack_pipeline_dataset_begin(pp, "b", NULL);
	{
		struct pack_chunk_sink s0 = {sink_done, &tags[0], NULL, NULL,
					     0};
		struct pack_chunk_sink s1 = {sink_done, &tags[1], NULL, NULL,
					     0};
		struct pack_chunk_sink s2 = {sink_done, &tags[2], NULL, NULL,
					     0};

		pipe_chunk(PIPE_CHUNKS, buf);
		CHECK_RC(pack_pipeline_add(pp, &buf, PIPE_CHUNK, &s0), 0);
		CHECK_RC(pack_pipeline_reuse(pp, &loc.chunk, &s1), 0);
		pipe_chunk(3, buf);
		CHECK_RC(pack_pipeline_add(pp, &buf, PIPE_CHUNK, &s2), 0);
	}
	REQUIRE_RC(repo_catalog_writer_new(cat, "dataset", &w), 0);
	CHECK_RC(pack_pipeline_dataset_end(pp, w), 0);
	repo_catalog_writer_free(w);
	w = NULL;
	CHECK_INT(log.count, 3);
	CHECK_INT(log.seen[0], 0);
	CHECK_INT(log.seen[1], 1);
	CHECK_INT(log.seen[2], 2);
	CHECK_U64(log.id[0], 0);
	CHECK_U64(log.id[1], 1);
	CHECK_U64(log.id[2], 1);
	CHECK_U64(stats.chunks_known, 1);
	CHECK_U64(stats.chunks_new, PIPE_CHUNKS - 1);

	/* dropped: every sink hears -ECANCELED, in order */
	memset(&log, 0, sizeof(log));
	pack_pipeline_dataset_begin(pp, "c", NULL);
	for (int i = 0; i < 4; i++) {
		struct pack_chunk_sink sink = {sink_done, &tags[i], NULL, NULL,
					       0};

		pipe_chunk(PIPE_CHUNKS + 1 + i, buf);
		CHECK_RC(pack_pipeline_add(pp, &buf, PIPE_CHUNK, &sink), 0);
	}
	pack_pipeline_drop(pp);
	CHECK_INT(log.count, 4);
	for (int i = 0; i < log.count; i++) {
		CHECK_INT(log.seen[i], i);
		CHECK_RC(log.status[i], -ECANCELED);
	}
	/* a chunk too big is refused, and its sink told */
	{
		struct pack_chunk_sink sink = {sink_done, &tags[0], NULL, NULL,
					       0};

		CHECK_RC(pack_pipeline_add(pp, &buf, PIPE_CHUNK + 1, &sink),
			 -EINVAL);
		CHECK_INT(log.count, 5);
		CHECK_RC(log.status[4], -EINVAL);
	}
	pack_pipeline_free(pp);
	pack_finisher_free(fin);
	pack_index_free(ix);
	sha256_free(file);
	sha256_free(want);
	free(buf);
	free(objects);
	free(index);
	free(cat);
	free(dir);
}

int main(void)
{
	log_init("test_publish", LOG_LEVEL_WARN, false);
	tmp = unit_tmpdir();
	RUN(test_group_matches_definition);
	RUN(test_group_edits_stay_local);
	RUN(test_pack_then_repack_unchanged);
	RUN(test_repack_reads_only_changes);
	RUN(test_state_tied_to_revision);
	RUN(test_lock_contention);
	RUN(test_manifest_resign);
	RUN(test_manifest_format_2);
	RUN(test_sealed_key_under_lock);
	RUN(test_errors_leave_repository_unchanged);
	RUN(test_finisher);
	RUN(test_pipeline);
	RUN(test_state_stale_temporaries);
	unit_rmtree(tmp);
	return unit_result();
}

/*
 * Unit tests: cache/ against a file:// origin built in a temp dir (shards
 * written with repo/'s own chunk encoder and envelope): hits and misses,
 * pins, one fetch for concurrent readers, the LRU order (through the
 * index, with explicit times), the size bound, transient caches, and
 * the secure path (ciphertext on disk, plaintext in shared memory, a
 * damaged stored copy forgotten and refetched), and fetching on request
 * (aidata prefetch), and the pool of open chunk files (reuse, bound,
 * eviction with descriptors held).
 */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"
#include "log.h"
#include "unit.h"
#include "xalloc.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "banned.h"

#define CHUNK_SIZE (64 * 1024)
#define NCHUNKS 24
#define BIG_SIZE (8u << 20)

static char *root;     /* the origin: a repository directory */
static char *root_url; /* "file://<root>" */
static uint8_t key[REPO_CHUNK_KEY_LEN];

/* A chunk in the origin, and the bytes it decodes to. */
struct fixture {
	struct repo_chunk ch;
	uint8_t *plain;
};

static struct fixture plain_chunks[NCHUNKS];
static struct fixture big_chunk; /* large: a fetch takes a while */
static struct fixture text_big;	 /* 2 MiB of text: a zstd frame of blocks */
/* a frame one byte short of the size its header declares, its stored
 * digest its own: it verifies, and its end does not decode */
static struct fixture short_frame;
static struct fixture secure_chunk; /* flags ZSTD | ENCRYPTED */
static struct fixture raw_secure;   /* flags ENCRYPTED only */
#define NPREFIX 8
static struct fixture prefix_chunks[NPREFIX]; /* digests all 0xab... */

/* Append stored to shard file path; describe it as *ch. */
static void shard_append(const char *path, const struct digest *shard_id,
			 const struct buf *stored, struct repo_chunk *ch)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(fstat(fd, &st) == 0);
	ch->shard = *shard_id;
	ch->offset = (uint64_t)st.st_size;
	ch->stored_size = (uint32_t)stored->len;
	REQUIRE_RC(fs_write_all(fd, stored->data, stored->len), 0);
	close(fd);
}

/* size bytes (text when text, else random) framed, maybe encrypted;
 * prefix >= 0: drawn until the digest's first byte is prefix. */
static void make_chunk_prefixed(struct fixture *fx, size_t size, bool text,
				bool encrypt, int prefix, uint64_t *seed,
				const char *shard_path,
				const struct digest *shard_id)
{
	struct buf framed, stored;
	uint32_t flags;

	fx->plain = malloc(size);
	REQUIRE(fx->plain);
	memset(&fx->ch, 0, sizeof(fx->ch));
	do {
		unit_rand_fill(seed, fx->plain, size);
		if (text)
			for (size_t i = 0; i < size; i++)
				fx->plain[i] =
				    (uint8_t)('a' + fx->plain[i] % 4);
		sha256_buffer(fx->plain, size, &fx->ch.digest);
	} while (prefix >= 0 && fx->ch.digest.b[0] != prefix);
	fx->ch.size = (uint32_t)size;
	buf_init(&framed, REPO_STORED_MAX);
	buf_init(&stored, REPO_STORED_MAX);
	REQUIRE_RC(repo_chunk_encode(fx->plain, size, 3, &framed, &flags), 0);
	if (encrypt) {
		REQUIRE_RC(repo_chunk_encrypt(key, &fx->ch.digest, framed.data,
					      framed.len, &stored),
			   0);
		flags |= REPO_CHUNK_ENCRYPTED;
	} else {
		REQUIRE_RC(buf_append(&stored, framed.data, framed.len), 0);
	}
	fx->ch.flags = flags;
	shard_append(shard_path, shard_id, &stored, &fx->ch);
	buf_release(&framed);
	buf_release(&stored);
}

static void make_chunk(struct fixture *fx, size_t size, bool text, bool encrypt,
		       uint64_t *seed, const char *shard_path,
		       const struct digest *shard_id)
{
	make_chunk_prefixed(fx, size, text, encrypt, -1, seed, shard_path,
			    shard_id);
}

static void make_short_frame(struct fixture *fx, const uint8_t *plain, size_t n,
			     const char *shard_path,
			     const struct digest *shard_id)
{
	struct buf frame;
	uint32_t flags;
	unsigned fhd;
	size_t at;

	buf_init(&frame, REPO_STORED_MAX);
	REQUIRE_RC(repo_chunk_encode(plain, n - 1, 3, &frame, &flags), 0);
	REQUIRE(flags == REPO_CHUNK_ZSTD);
	/* its frame content size field (RFC 8878 3.1.1.1), 4 bytes, says n */
	fhd = frame.data[4];
	REQUIRE((fhd >> 6) == 2 && (fhd & 3) == 0);
	at = 5 + (((fhd >> 5) & 1) ? 0 : 1);
	for (int i = 0; i < 4; i++)
		frame.data[at + (size_t)i] = (uint8_t)(n >> (8 * i));
	memset(&fx->ch, 0, sizeof(fx->ch));
	fx->plain = malloc(n);
	REQUIRE(fx->plain);
	memcpy(fx->plain, plain, n);
	sha256_buffer(plain, n, &fx->ch.digest);
	fx->ch.size = (uint32_t)n;
	fx->ch.flags = REPO_CHUNK_ZSTD;
	sha256_buffer(frame.data, frame.len, &fx->ch.stored_digest);
	fx->ch.has_stored_digest = true;
	shard_append(shard_path, shard_id, &frame, &fx->ch);
	buf_release(&frame);
}

static void setup(void)
{
	uint64_t seed = 0xcac4e;
	struct digest shard_id;
	char rel[128], *dir, *path;

	root = unit_tmpdir();
	root_url = unit_path("file:/", root);
	unit_rand_fill(&seed, key, sizeof(key));
	/* the shard's name only has to be a digest: the cache trusts the
	 * chunk records, which verify every chunk */
	sha256_buffer("test shard", 10, &shard_id);
	repo_shard_object_path(&shard_id, rel, sizeof(rel));
	path = unit_path(root, rel);
	dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	REQUIRE_RC(fs_mkdir_p(dir, 0755), 0);
	for (int i = 0; i < NCHUNKS; i++)
		make_chunk(&plain_chunks[i], CHUNK_SIZE, i % 2, false, &seed,
			   path, &shard_id);
	make_chunk(&big_chunk, BIG_SIZE, false, false, &seed, path, &shard_id);
	make_chunk(&text_big, 2u << 20, true, false, &seed, path, &shard_id);
	make_short_frame(&short_frame, text_big.plain, 1u << 20, path,
			 &shard_id);
	make_chunk(&secure_chunk, CHUNK_SIZE, true, true, &seed, path,
		   &shard_id);
	make_chunk(&raw_secure, CHUNK_SIZE, false, true, &seed, path,
		   &shard_id);
	for (int i = 0; i < NPREFIX; i++)
		make_chunk_prefixed(&prefix_chunks[i], 4096, false, false, 0xab,
				    &seed, path, &shard_id);
	REQUIRE(secure_chunk.ch.flags & REPO_CHUNK_ZSTD);
	REQUIRE(!(raw_secure.ch.flags & REPO_CHUNK_ZSTD));
	free(dir);
	free(path);
}

static cache_t *cache_open(const char *dir, uint64_t max_bytes, bool transient)
{
	struct cache_options o = {
	    .dir = dir,
	    .max_bytes = max_bytes,
	    .origin_url = root_url,
	    .timeout_sec = 2,
	    .prefetch_threads = 1,
	    .transient = transient,
	};
	cache_t *c = NULL;

	REQUIRE_RC(cache_new(&o, &c), 0);
	return c;
}

/* The bytes a reference holds, into a new buffer. */
static uint8_t *ref_bytes(const struct cache_chunk_ref *ref)
{
	uint8_t *p = malloc(ref->size ? ref->size : 1);

	REQUIRE(p);
	if (ref->fd >= 0)
		REQUIRE_RC(fs_pread_all(ref->fd, p, ref->size, 0), 0);
	else
		memcpy(p, ref->mem, ref->size);
	return p;
}

/* The bytes the cache gives for record ch are want. */
static void check_record(cache_t *c, const struct repo_chunk *ch, const void *k,
			 const uint8_t *want)
{
	struct cache_chunk_ref ref;
	uint8_t *p;

	REQUIRE_RC(cache_chunk_acquire(c, ch, k, &ref), 0);
	CHECK_INT(ref.size, ch->size);
	p = ref_bytes(&ref);
	CHECK_MEM(p, want, ch->size);
	free(p);
	cache_chunk_release(c, &ref);
}

static void check_chunk(cache_t *c, const struct fixture *fx, const void *k)
{
	check_record(c, &fx->ch, k, fx->plain);
}

static uint64_t origin_requests(cache_t *c)
{
	struct cache_stats st;

	cache_stats_get(c, &st);
	return st.origin_requests;
}

/* Whether any regular file under dir holds needle (n bytes). */
static bool tree_contains(const char *dir, const uint8_t *needle, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char *path;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path = unit_path(dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			found = tree_contains(path, needle, n);
		} else if (S_ISREG(st.st_mode) && st.st_size > 0) {
			char *data = NULL;
			size_t len;

			if (fs_read_file(path, (size_t)st.st_size, &data,
					 &len) == 0)
				found = memmem(data, len, needle, n) != NULL;
			free(data);
		}
		free(path);
	}
	closedir(d);
	return found;
}

/* ------------------------------------------------------------- plain -- */

static void test_miss_then_hit(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct cache_stats st;

	check_chunk(c, &plain_chunks[0], NULL);
	check_chunk(c, &plain_chunks[1], NULL);
	CHECK_U64(origin_requests(c), 2);
	CHECK(cache_chunk_present(c, &plain_chunks[0].ch));
	/* hits: no origin request */
	check_chunk(c, &plain_chunks[0], NULL);
	check_chunk(c, &plain_chunks[1], NULL);
	cache_stats_get(c, &st);
	CHECK_U64(st.origin_requests, 2);
	CHECK_U64(st.misses, 2);
	CHECK_U64(st.hits, 2);
	CHECK_U64(st.chunks_cached, 2);
	CHECK_U64(st.cache_bytes, 2 * CHUNK_SIZE);
	cache_free(c);

	/* another process (a new cache on the same directory) finds them */
	c = cache_open(dir, 0, false);
	check_chunk(c, &plain_chunks[0], NULL);
	CHECK_U64(origin_requests(c), 0);
	cache_free(c);
	unit_rmtree(dir);
}

/*
 * A record with a stored digest is checked by its frame, not by its
 * content digest, so the cache must not file what the frame decodes to
 * under that content digest: another repository sharing the cache could
 * claim the same content digest for another frame. A forged record here
 * claims chunk 5's content digest for chunk 7's frame (with that frame's
 * stored digest): it is served as what the frame holds, chunk 7's bytes,
 * and the genuine record of chunk 5 read afterwards still gets chunk 5's
 * bytes, from the origin. The genuine record of chunk 7 with its stored
 * digest is a hit on what the forged one fetched.
 */
static void test_stored_digest_key(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	const struct fixture *a = &plain_chunks[5], *b = &plain_chunks[7];
	struct repo_chunk forged = b->ch, genuine = b->ch;
	struct buf frame;
	uint32_t flags;

	REQUIRE(a->ch.flags == REPO_CHUNK_ZSTD &&
		b->ch.flags == REPO_CHUNK_ZSTD);
	/* the frame as it lies in the shard: encoding is deterministic */
	buf_init(&frame, REPO_STORED_MAX);
	REQUIRE_RC(repo_chunk_encode(b->plain, b->ch.size, 3, &frame, &flags),
		   0);
	REQUIRE(frame.len == b->ch.stored_size);
	sha256_buffer(frame.data, frame.len, &genuine.stored_digest);
	genuine.has_stored_digest = true;
	forged.stored_digest = genuine.stored_digest;
	forged.has_stored_digest = true;
	forged.digest = a->ch.digest;

	check_record(c, &forged, NULL, b->plain);
	CHECK_U64(origin_requests(c), 1);
	CHECK(!cache_chunk_present(c, &a->ch));

	check_chunk(c, a, NULL);
	CHECK_U64(origin_requests(c), 2);
	check_record(c, &genuine, NULL, b->plain);
	CHECK_U64(origin_requests(c), 2);
	buf_release(&frame);
	cache_free(c);
	unit_rmtree(dir);
}

/* A record whose digest does not match what the origin serves. */
static void test_verify_failure(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk bad = plain_chunks[2].ch;
	struct cache_chunk_ref ref;
	struct cache_stats st;

	bad.digest.b[0] ^= 1;
	unit_quiet(true);
	CHECK_RC(cache_chunk_acquire(c, &bad, NULL, &ref), -EIO);
	unit_quiet(false);
	CHECK(!cache_chunk_present(c, &bad));
	cache_stats_get(c, &st);
	CHECK_U64(st.err_verify, 1);
	CHECK_U64(st.chunks_cached, 0);
	cache_free(c);
	unit_rmtree(dir);
}

struct racer {
	cache_t *c;
	const struct fixture *fx;
	pthread_barrier_t *start;
	int rc;
	bool same;
};

static void *race_main(void *arg)
{
	struct racer *r = arg;
	struct cache_chunk_ref ref;

	pthread_barrier_wait(r->start);
	r->rc = cache_chunk_acquire(r->c, &r->fx->ch, key, &ref);
	if (!r->rc) {
		uint8_t *p = ref_bytes(&ref);

		r->same = !memcmp(p, r->fx->plain, r->fx->ch.size);
		free(p);
		cache_chunk_release(r->c, &ref);
	}
	return NULL;
}

/* N readers of one chunk at once: the fetches between them (checked
 * against want). */
static void race_on(cache_t *c, const struct fixture *fx, uint64_t want)
{
	enum { N = 8 };
	uint64_t before = origin_requests(c);
	pthread_barrier_t start;
	pthread_t t[N];
	struct racer r[N];

	pthread_barrier_init(&start, NULL, N);
	for (int i = 0; i < N; i++) {
		r[i] = (struct racer){c, fx, &start, -1, false};
		REQUIRE(pthread_create(&t[i], NULL, race_main, &r[i]) == 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		CHECK_RC(r[i].rc, 0);
		CHECK(r[i].same);
	}
	CHECK_U64(origin_requests(c) - before, want);
	pthread_barrier_destroy(&start);
}

static void race(const struct fixture *fx)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);

	race_on(c, fx, 1);
	cache_free(c);
	unit_rmtree(dir);
}

static void test_one_fetch_for_concurrent_readers(void)
{
	race(&big_chunk);
	race(&secure_chunk);
}

static bool never_pinned(void *ctx, const struct digest *d)
{
	(void)ctx;
	(void)d;
	return false;
}

static void no_drop(void *ctx, const struct digest *d)
{
	(void)ctx;
	(void)d;
}

/* The LRU order of the index: oldest use first, a touch makes young. */
static void test_lru_order(void)
{
	char *dir = unit_tmpdir();
	struct cache_index *ix;
	struct digest d[4];
	uint64_t evicted, bytes, count, size;

	REQUIRE_RC(cache_index_open(dir, &ix), 0);
	for (int i = 0; i < 4; i++)
		d[i] = plain_chunks[i].ch.digest;
	for (int i = 0; i < 4; i++) {
		/* inserted in order 3, 2, 1, 0 at times 100..103 */
		REQUIRE_RC(
		    cache_index_insert(ix, &d[3 - i], 10, 100 + (uint64_t)i),
		    0);
	}
	/* d[3] was the oldest; using it makes d[2] the oldest */
	REQUIRE_RC(cache_index_touch(ix, &d[3], 1, 200), 0);
	REQUIRE_RC(
	    cache_index_evict(ix, 30, never_pinned, no_drop, NULL, &evicted),
	    0);
	CHECK_U64(evicted, 1);
	CHECK_RC(cache_index_lookup(ix, &d[2], &size), -ENOENT);
	CHECK_RC(cache_index_lookup(ix, &d[3], &size), 0);
	REQUIRE_RC(
	    cache_index_evict(ix, 10, never_pinned, no_drop, NULL, &evicted),
	    0);
	CHECK_U64(evicted, 2);
	CHECK_RC(cache_index_lookup(ix, &d[1], &size), -ENOENT);
	CHECK_RC(cache_index_lookup(ix, &d[0], &size), -ENOENT);
	CHECK_RC(cache_index_lookup(ix, &d[3], &size), 0);
	REQUIRE_RC(cache_index_totals(ix, &bytes, &count), 0);
	CHECK_U64(bytes, 10);
	CHECK_U64(count, 1);
	cache_index_close(ix);
	unit_rmtree(dir);
}

/* The bound holds however many chunks pass through; a pinned chunk is
 * never evicted, however old. */
static void test_size_bound_and_pins(void)
{
	const uint64_t max = 6 * CHUNK_SIZE;
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, max, false);
	struct cache_chunk_ref pinned;
	struct cache_stats st;
	uint8_t *p;

	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[0].ch, NULL, &pinned),
		   0);
	for (int round = 0; round < 3; round++) {
		for (int i = 1; i < NCHUNKS; i++) {
			check_chunk(c, &plain_chunks[i], NULL);
			cache_stats_get(c, &st);
			if (st.cache_bytes > max)
				UNIT_FAIL("round %d chunk %d: %" PRIu64
					  " bytes cached, bound %" PRIu64,
					  round, i, st.cache_bytes, max);
			if (!cache_chunk_present(c, &plain_chunks[0].ch))
				UNIT_FAIL("round %d chunk %d: the pinned "
					  "chunk was evicted",
					  round, i);
		}
	}
	cache_stats_get(c, &st);
	CHECK(st.evictions > 0);
	CHECK_U64(st.err_cache_full, 0);
	/* still readable through the pin */
	p = ref_bytes(&pinned);
	CHECK_MEM(p, plain_chunks[0].plain, CHUNK_SIZE);
	free(p);
	cache_chunk_release(c, &pinned);
	/* unpinned, it goes like any other */
	for (int i = 1; i < NCHUNKS; i++)
		check_chunk(c, &plain_chunks[i], NULL);
	CHECK(!cache_chunk_present(c, &plain_chunks[0].ch));
	cache_free(c);
	unit_rmtree(dir);
}

/*
 * A bound full of chunks being read: the next chunk is served from
 * memory, and not stored past the bound (#8 §1; a refusal of the room
 * check used to fall into the disk-full retry, which stored it anyway).
 */
static void test_size_bound_all_pinned(void)
{
	const uint64_t max = 2 * CHUNK_SIZE;
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, max, false);
	struct cache_chunk_ref pins[2];
	struct cache_stats st;

	unit_quiet(true);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[0].ch, NULL, &pins[0]),
		   0);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[1].ch, NULL, &pins[1]),
		   0);
	check_chunk(c, &plain_chunks[2], NULL);
	cache_stats_get(c, &st);
	if (st.cache_bytes > max)
		UNIT_FAIL("%" PRIu64 " bytes cached, bound %" PRIu64,
			  st.cache_bytes, max);
	CHECK(!cache_chunk_present(c, &plain_chunks[2].ch));
	CHECK_U64(st.err_cache_full, 1);
	cache_chunk_release(c, &pins[0]);
	cache_chunk_release(c, &pins[1]);
	/* with a pin gone there is room again */
	check_chunk(c, &plain_chunks[2], NULL);
	CHECK(cache_chunk_present(c, &plain_chunks[2].ch));
	unit_quiet(false);
	cache_free(c);
	unit_rmtree(dir);
}

/*
 * A chunk the cache cannot take (cache_size full of chunks being read) is
 * served from memory, and shared: concurrent readers, and readers while
 * someone holds it, get the same bytes without another fetch; once the
 * last holder lets go it is gone (fetched again, not kept past the
 * bound).
 */
static void test_memory_shared(void)
{
	const uint64_t max = 2 * CHUNK_SIZE;
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, max, false);
	struct cache_chunk_ref pins[2], a, b;
	uint64_t r0;

	unit_quiet(true);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[0].ch, NULL, &pins[0]),
		   0);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[1].ch, NULL, &pins[1]),
		   0);
	r0 = origin_requests(c);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[4].ch, NULL, &a), 0);
	CHECK_INT(a.fd, -1);
	REQUIRE(a.mem);
	CHECK_U64(origin_requests(c), r0 + 1);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[4].ch, NULL, &b), 0);
	CHECK_U64(origin_requests(c), r0 + 1);
	CHECK(b.mem == a.mem);
	CHECK_MEM(b.mem, plain_chunks[4].plain, plain_chunks[4].ch.size);
	/* eight readers at once while it is held: no fetch at all */
	race_on(c, &plain_chunks[4], 0);
	cache_chunk_release(c, &a);
	check_chunk(c, &plain_chunks[4], NULL);
	CHECK_U64(origin_requests(c), r0 + 1);
	CHECK(!cache_chunk_present(c, &plain_chunks[4].ch));
	cache_chunk_release(c, &b);
	check_chunk(c, &plain_chunks[4], NULL);
	CHECK_U64(origin_requests(c), r0 + 2);

	cache_chunk_release(c, &pins[0]);
	cache_chunk_release(c, &pins[1]);
	unit_quiet(false);
	cache_free(c);
	unit_rmtree(dir);
}

struct filler {
	cache_t *c;
	int first;
	uint64_t max;
	int over; /* times the index held more than max */
};

static void *fill_main(void *arg)
{
	struct filler *f = arg;

	for (int round = 0; round < 4; round++) {
		for (int i = f->first; i < NCHUNKS; i += 4) {
			struct cache_stats st;

			check_chunk(f->c, &plain_chunks[i], NULL);
			cache_stats_get(f->c, &st);
			f->over += st.cache_bytes > f->max;
		}
	}
	return NULL;
}

/* Readers storing at once cannot pass the bound together. */
static void test_size_bound_concurrent(void)
{
	const uint64_t max = 5 * CHUNK_SIZE;
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, max, false);
	struct filler f[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		f[i] = (struct filler){c, i, max, 0};
		REQUIRE(pthread_create(&t[i], NULL, fill_main, &f[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(f[i].over, 0);
	}
	cache_free(c);
	unit_rmtree(dir);
}

struct storer {
	cache_t *c;
	const struct fixture *fx;
	pthread_barrier_t *go;
};

static void *store_main(void *arg)
{
	struct storer *s = arg;

	pthread_barrier_wait(s->go);
	check_chunk(s->c, s->fx, NULL);
	return NULL;
}

/*
 * Chunks whose names share a directory (chunks/ab/), stored at once into
 * a cache where that directory does not exist yet: every store must
 * succeed (one mkdir wins; the others find it made), none may fall back
 * to memory. Many rounds, each from a fresh cache, to meet the race.
 */
static void test_concurrent_store_same_directory(void)
{
	int failures = 0;

	for (int round = 0; round < 40; round++) {
		char *dir = unit_tmpdir();
		cache_t *c = cache_open(dir, 0, false);
		struct storer s[NPREFIX];
		pthread_t t[NPREFIX];
		pthread_barrier_t go;
		struct cache_stats st;

		pthread_barrier_init(&go, NULL, NPREFIX);
		unit_quiet(true);
		for (int i = 0; i < NPREFIX; i++) {
			s[i] = (struct storer){c, &prefix_chunks[i], &go};
			REQUIRE(pthread_create(&t[i], NULL, store_main,
					       &s[i]) == 0);
		}
		for (int i = 0; i < NPREFIX; i++)
			pthread_join(t[i], NULL);
		unit_quiet(false);
		pthread_barrier_destroy(&go);
		cache_stats_get(c, &st);
		failures += st.err_cache_full != 0;
		for (int i = 0; i < NPREFIX; i++)
			failures +=
			    !cache_chunk_present(c, &prefix_chunks[i].ch);
		cache_free(c);
		unit_rmtree(dir);
	}
	CHECK_INT(failures, 0);
}

/* aidata get and verify: nothing is stored, everything verified. */
static void test_transient(void)
{
	char *dir = unit_tmpdir(), *chunks = unit_path(dir, "chunks");
	cache_t *c = cache_open(dir, 0, true);
	struct cache_stats st;

	check_chunk(c, &plain_chunks[3], NULL);
	check_chunk(c, &plain_chunks[3], NULL);
	check_chunk(c, &secure_chunk, key);
	cache_stats_get(c, &st);
	CHECK_U64(st.chunks_cached, 0);
	CHECK_U64(st.err_cache_full, 0);
	CHECK(!tree_contains(chunks, plain_chunks[3].plain, 4096));
	cache_free(c);
	free(chunks);
	unit_rmtree(dir);
}

/* ----------------------------------------------------- failure memory -- */

/* ch moved to a shard the origin does not have (yet): named by tag. */
static struct repo_chunk chunk_in_missing_shard(int i, const char *tag)
{
	struct repo_chunk ch = plain_chunks[i].ch;

	sha256_buffer(tag, strlen(tag), &ch.shard);
	return ch;
}

/* Put the real shard where ch says its shard is. */
static void shard_provide(const struct repo_chunk *ch)
{
	char rel[128], *from, *to, *data, *dir;
	size_t len;

	repo_shard_object_path(&plain_chunks[0].ch.shard, rel, sizeof(rel));
	from = unit_path(root, rel);
	repo_shard_object_path(&ch->shard, rel, sizeof(rel));
	to = unit_path(root, rel);
	dir = xstrndup(to, (size_t)(strrchr(to, '/') - to));
	REQUIRE_RC(fs_mkdir_p(dir, 0755), 0);
	REQUIRE_RC(fs_read_file(from, 64u << 20, &data, &len), 0);
	REQUIRE_RC(fs_write_atomic(to, data, len, 0644), 0);
	free(data);
	free(dir);
	free(from);
	free(to);
}

static uint64_t failed_from_memory(cache_t *c)
{
	struct cache_stats st;

	cache_stats_get(c, &st);
	return st.failed_from_memory;
}

/*
 * #8 §2: a chunk the origin could not deliver fails again at once, with
 * no request, for CACHE_FAILED_SEC; readahead does not queue it; once
 * the window is over it is fetched again, so a recovered origin serves
 * it. Bytes that came but did not verify are not remembered.
 */
static void test_failure_memory(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk gone = chunk_in_missing_shard(5, "gone shard");
	struct repo_chunk later = chunk_in_missing_shard(6, "later shard");
	struct repo_chunk bad = plain_chunks[7].ch;
	struct cache_chunk_ref ref;
	uint64_t n;
	double t0, waited;
	int rc;

	unit_quiet(true);
	t0 = unit_now();
	CHECK_RC(cache_chunk_acquire(c, &later, NULL, &ref), -EIO);
	CHECK_U64(origin_requests(c), 1);
	/* the origin has it now, but it failed a moment ago: EIO, no
	 * request (what the kernel's re-read of a failed readahead gets) */
	shard_provide(&later);
	CHECK_RC(cache_chunk_acquire(c, &later, NULL, &ref), -EIO);
	CHECK_U64(origin_requests(c), 1);
	CHECK_U64(failed_from_memory(c), 1);

	/* readahead leaves it alone: queued behind it, a good chunk is
	 * fetched, and only that one */
	CHECK_RC(cache_chunk_acquire(c, &gone, NULL, &ref), -EIO);
	CHECK_U64(origin_requests(c), 2);
	cache_chunk_prefetch(c, &gone);
	cache_chunk_prefetch(c, &plain_chunks[8].ch);
	for (int i = 0;
	     i < 1000 && !cache_chunk_present(c, &plain_chunks[8].ch); i++)
		usleep(10000);
	CHECK(cache_chunk_present(c, &plain_chunks[8].ch));
	CHECK_U64(origin_requests(c), 3);

	/* a failure that is not the origin's is not remembered */
	bad.digest.b[0] ^= 1;
	n = origin_requests(c);
	CHECK_RC(cache_chunk_acquire(c, &bad, NULL, &ref), -EIO);
	CHECK_RC(cache_chunk_acquire(c, &bad, NULL, &ref), -EIO);
	CHECK_U64(origin_requests(c), n + 2);

	/* the origin recovered: within the window and a bit, it serves */
	waited = unit_now() - t0;
	CHECK(waited < CACHE_FAILED_SEC); /* the memory was tested above */
	for (;;) {
		rc = cache_chunk_acquire(c, &later, NULL, &ref);
		if (rc != -EIO || unit_now() - t0 > CACHE_FAILED_SEC + 5)
			break;
		usleep(50000);
	}
	unit_quiet(false);
	CHECK_RC(rc, 0);
	waited = unit_now() - t0;
	CHECK(waited >= CACHE_FAILED_SEC - 0.1);
	if (rc == 0)
		cache_chunk_release(c, &ref);
	cache_free(c);
	unit_rmtree(dir);
}

/* The same for catalogs: one request until the window is over. */
static void test_failure_memory_catalog(void)
{
	char *dir = unit_tmpdir(), *path = NULL, why[CACHE_WHY_MAX];
	cache_t *c = cache_open(dir, 0, false);
	struct digest d;

	sha256_buffer("no such catalog", 15, &d);
	unit_quiet(true);
	CHECK_RC(cache_catalog_path(c, &d, 100, &path, why), -ENOENT);
	CHECK(strstr(why, "No such file or directory") != NULL);
	CHECK_RC(cache_catalog_path(c, &d, 100, &path, why), -ENOENT);
	unit_quiet(false);
	CHECK(strstr(why, "failed 0.") != NULL);
	CHECK_U64(origin_requests(c), 1);
	CHECK_U64(failed_from_memory(c), 1);
	cache_free(c);
	unit_rmtree(dir);
}

/* ------------------------------------------------------------ secure -- */

/* The cache's file of an encrypted chunk (FORMAT.md §6.4's name). */
static char *stored_path(const char *dir, const struct repo_chunk *ch)
{
	char hex[DIGEST_HEX_LEN + 1], *path;
	struct digest k;

	cache_chunk_key(ch, &k);
	digest_to_hex(&k, hex);
	if (asprintf(&path, "%s/chunks/%.2s/%s", dir, hex, hex) < 0)
		exit(1);
	return path;
}

static void test_secure(void)
{
	const struct fixture *fxs[] = {&secure_chunk, &raw_secure};
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);

	for (size_t i = 0; i < 2; i++) {
		const struct fixture *fx = fxs[i];
		struct cache_chunk_ref a, b;
		uint8_t wrong[REPO_CHUNK_KEY_LEN] = {0};
		char *path = stored_path(dir, &fx->ch), *data = NULL;
		uint64_t before = origin_requests(c);
		size_t len = 0;

		/* no key, no plaintext (and nothing fetched) */
		CHECK_RC(cache_chunk_acquire(c, &fx->ch, NULL, &a), -ENOKEY);
		CHECK_U64(origin_requests(c), before);

		REQUIRE_RC(cache_chunk_acquire(c, &fx->ch, key, &a), 0);
		CHECK_INT(a.fd, -1);
		CHECK_INT(a.size, fx->ch.size);
		CHECK_MEM(a.mem, fx->plain, fx->ch.size);
		/* a second holder shares the one decrypted copy */
		REQUIRE_RC(cache_chunk_acquire(c, &fx->ch, key, &b), 0);
		CHECK(b.mem == a.mem);
		/* another key does not get at it */
		{
			struct cache_chunk_ref w;

			CHECK_RC(cache_chunk_acquire(c, &fx->ch, wrong, &w),
				 -EACCES);
		}
		CHECK_U64(origin_requests(c), before + 1);

		/* on disk: the ciphertext exactly, never the plaintext */
		REQUIRE_RC(fs_read_file(path, REPO_STORED_MAX, &data, &len), 0);
		CHECK_U64(len, fx->ch.stored_size);
		CHECK(!tree_contains(dir, fx->plain, 4096));
		cache_chunk_release(c, &a);
		cache_chunk_release(c, &b);
		CHECK(cache_chunk_present(c, &fx->ch));

		/* damage the stored copy: refused, forgotten, refetched */
		data[len / 2] ^= 0x40;
		REQUIRE_RC(fs_write_atomic(path, data, len, 0600), 0);
		unit_quiet(true);
		CHECK_RC(cache_chunk_acquire(c, &fx->ch, key, &a), -EIO);
		unit_quiet(false);
		CHECK(!cache_chunk_present(c, &fx->ch));
		CHECK(access(path, F_OK) != 0);
		check_chunk(c, fx, key);
		CHECK_U64(origin_requests(c), before + 2);
		free(data);
		free(path);
	}
	cache_free(c);
	unit_rmtree(dir);
}

/* A wrong key at the first decryption: refused, nothing left in memory. */
static void test_secure_wrong_key(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	uint8_t wrong[REPO_CHUNK_KEY_LEN];
	struct cache_chunk_ref ref;

	memcpy(wrong, key, sizeof(wrong));
	wrong[0] ^= 1;
	unit_quiet(true);
	CHECK_RC(cache_chunk_acquire(c, &secure_chunk.ch, wrong, &ref), -EIO);
	unit_quiet(false);
	/* the right key then works (after a refetch) */
	check_chunk(c, &secure_chunk, key);
	cache_free(c);
	unit_rmtree(dir);
}

/* ----------------------------------------------- fetching on request -- */

struct fetch_arg {
	cache_t *c;
	const struct repo_chunk *ch;
	int rc;
	bool fetched;
};

static void *fetch_main(void *arg)
{
	struct fetch_arg *a = arg;

	a->rc = cache_chunk_fetch(a->c, a->ch, &a->fetched);
	return NULL;
}

/*
 * cache_chunk_fetch (aidata prefetch): fetched once, then present and
 * free; a secure chunk is stored as ciphertext without a key and read
 * later with one; an unverifiable chunk is -EIO and not stored; a
 * transient cache refuses. A present chunk is made young: it survives
 * the eviction that storing other chunks causes. Concurrent requests
 * for one chunk count one fetch.
 */
static void test_fetch_on_request(void)
{
	char *dir = unit_tmpdir(), *path;
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk bad = plain_chunks[5].ch;
	struct cache_stats st;
	bool fetched = true;
	uint64_t before;

	CHECK_RC(cache_chunk_fetch(c, &plain_chunks[4].ch, &fetched), 0);
	CHECK(fetched);
	CHECK(cache_chunk_present(c, &plain_chunks[4].ch));
	before = origin_requests(c);
	CHECK_RC(cache_chunk_fetch(c, &plain_chunks[4].ch, &fetched), 0);
	CHECK(!fetched);
	CHECK_U64(origin_requests(c), before);
	check_chunk(c, &plain_chunks[4], NULL);
	CHECK_U64(origin_requests(c), before);

	/* secure: ciphertext on disk, no key needed to fetch it */
	CHECK_RC(cache_chunk_fetch(c, &secure_chunk.ch, &fetched), 0);
	CHECK(fetched);
	path = stored_path(dir, &secure_chunk.ch);
	{
		struct stat sb;

		CHECK(stat(path, &sb) == 0 &&
		      (uint64_t)sb.st_size == secure_chunk.ch.stored_size);
	}
	CHECK(!tree_contains(dir, secure_chunk.plain, 4096));
	before = origin_requests(c);
	check_chunk(c, &secure_chunk, key);
	CHECK_U64(origin_requests(c), before);

	/* a digest the origin's bytes do not match */
	bad.digest.b[0] ^= 1;
	unit_quiet(true);
	CHECK_RC(cache_chunk_fetch(c, &bad, &fetched), -EIO);
	unit_quiet(false);
	CHECK(!fetched);
	CHECK(!cache_chunk_present(c, &bad));
	cache_stats_get(c, &st);
	CHECK_U64(st.prefetches, 2);
	cache_free(c);
	free(path);
	unit_rmtree(dir);

	/* bound: 4 chunks. 0..3 fetched, 0 fetched again (young), then 4:
	 * the eviction takes 1, not 0 */
	dir = unit_tmpdir();
	c = cache_open(dir, 4 * CHUNK_SIZE, false);
	for (int i = 0; i < 4; i++) {
		CHECK_RC(cache_chunk_fetch(c, &plain_chunks[i].ch, &fetched),
			 0);
		/* distinct old LRU times (the index orders by seconds) */
		REQUIRE_RC(
		    cache_index_remove(c->ix, &plain_chunks[i].ch.digest), 0);
		REQUIRE_RC(cache_index_insert(c->ix, &plain_chunks[i].ch.digest,
					      CHUNK_SIZE, 100 + (uint64_t)i),
			   0);
	}
	CHECK_RC(cache_chunk_fetch(c, &plain_chunks[0].ch, &fetched), 0);
	CHECK(!fetched);
	CHECK_RC(cache_chunk_fetch(c, &plain_chunks[4].ch, &fetched), 0);
	CHECK(fetched);
	CHECK(cache_chunk_present(c, &plain_chunks[0].ch));
	CHECK(!cache_chunk_present(c, &plain_chunks[1].ch));
	cache_free(c);
	unit_rmtree(dir);

	/* requests at once for one (large) chunk: one says it fetched */
	dir = unit_tmpdir();
	c = cache_open(dir, 0, false);
	{
		struct fetch_arg args[6];
		pthread_t th[6];
		int nfetched = 0;

		for (int i = 0; i < 6; i++) {
			args[i] = (struct fetch_arg){c, &big_chunk.ch, 1, 0};
			REQUIRE(pthread_create(&th[i], NULL, fetch_main,
					       &args[i]) == 0);
		}
		for (int i = 0; i < 6; i++) {
			pthread_join(th[i], NULL);
			CHECK_RC(args[i].rc, 0);
			nfetched += args[i].fetched;
		}
		CHECK_INT(nfetched, 1);
		CHECK_U64(origin_requests(c), 1);
	}
	cache_free(c);
	unit_rmtree(dir);

	dir = unit_tmpdir();
	c = cache_open(dir, 0, true);
	CHECK_RC(cache_chunk_fetch(c, &plain_chunks[4].ch, &fetched), -EINVAL);
	cache_free(c);
	unit_rmtree(dir);
}

/* The origin URL a user gives, normalised once. */
static void test_origin_url(void)
{
	char cwd[4096], *want, *got;

	REQUIRE(getcwd(cwd, sizeof(cwd)));
	got = cache_origin_url("/srv/repo");
	CHECK_STR(got, "file:///srv/repo");
	free(got);
	got = cache_origin_url("file:///srv/repo");
	CHECK_STR(got, "file:///srv/repo");
	free(got);
	got = cache_origin_url("file://localhost/srv/repo");
	CHECK_STR(got, "file://localhost/srv/repo");
	free(got);
	got = cache_origin_url("https://u:p@example.org/repo");
	CHECK_STR(got, "https://u:p@example.org/repo");
	free(got);
	if (asprintf(&want, "file://%s/rel/repo", cwd) < 0)
		exit(1);
	got = cache_origin_url("rel/repo");
	CHECK_STR(got, want);
	free(got);
	got = cache_origin_url("file://rel/repo");
	CHECK_STR(got, want);
	free(got);
	free(want);
}

/* ---------------------------------------------------------- fd pool -- */

/* Descriptors of this process open on files under dir: all of them, and
 * those whose file was unlinked. */
static void open_files_under(const char *dir, int *all, int *deleted)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t n = strlen(dir);

	*all = *deleted = 0;
	REQUIRE(d);
	while ((de = readdir(d))) {
		char link[PATH_MAX + 32], target[PATH_MAX + 32];
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, dir, n) != 0 || !strstr(target, "/chunks/"))
			continue;
		(*all)++;
		if (strstr(target, " (deleted)"))
			(*deleted)++;
	}
	closedir(d);
}

/* A cached chunk read again costs no open: the same descriptor serves
 * it, shared by readers at once, and stays open between reads. */
static void test_fd_pool_reuse(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct cache_chunk_ref a, b;
	int all, deleted, fd;

	check_chunk(c, &plain_chunks[0], NULL);
	CHECK_INT(cache_fd_pool_count(c), 1);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[0].ch, NULL, &a), 0);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[0].ch, NULL, &b), 0);
	CHECK(a.fd >= 0);
	CHECK_INT(a.fd, b.fd);
	fd = a.fd;
	cache_chunk_release(c, &a);
	cache_chunk_release(c, &b);
	/* idle in the pool, still open */
	CHECK(fcntl(fd, F_GETFD) >= 0);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 1);
	CHECK_INT(deleted, 0);
	check_chunk(c, &plain_chunks[0], NULL);
	CHECK_INT(cache_fd_pool_count(c), 1);
	CHECK_U64(origin_requests(c), 1);
	cache_free(c);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 0);
	unit_rmtree(dir);
}

/* The pool is bounded: idle descriptors go, least recently used first;
 * with every pooled file in use, a new one is served unpooled and closed
 * at release. Nothing leaks. */
static void test_fd_pool_bound(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct cache_chunk_ref held[6];
	int all, deleted;

	c->fd_max = 4;
	for (int i = 0; i < 10; i++)
		check_chunk(c, &plain_chunks[i], NULL);
	CHECK_INT(cache_fd_pool_count(c), 4);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 4);
	for (int i = 0; i < 6; i++) {
		uint8_t *p;

		REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[10 + i].ch,
					       NULL, &held[i]),
			   0);
		p = ref_bytes(&held[i]);
		CHECK_MEM(p, plain_chunks[10 + i].plain, CHUNK_SIZE);
		free(p);
	}
	CHECK_INT(cache_fd_pool_count(c), 4);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 6);
	for (int i = 0; i < 6; i++)
		cache_chunk_release(c, &held[i]);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 4);
	cache_free(c);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 0);
	unit_rmtree(dir);
}

/* Eviction stays safe with open descriptors: an evicted idle chunk's
 * descriptor is closed at once; one evicted or forgotten while a reader
 * holds it keeps serving the right bytes to that reader, is not handed
 * to new readers (they fetch again) and is closed at the last release. */
static void test_fd_pool_eviction(void)
{
	const uint64_t max = 6 * CHUNK_SIZE;
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, max, false);
	struct cache_chunk_ref held, again;
	int all, deleted;
	uint64_t reqs;
	uint8_t *p;

	/* idle pooled chunks evicted by newer ones: nothing deleted open */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < NCHUNKS; i++)
			check_chunk(c, &plain_chunks[i], NULL);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(deleted, 0);
	CHECK(all <= 6);

	/* forgotten while held (as a secure chunk that fails to decrypt) */
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[1].ch, NULL, &held), 0);
	CHECK(cache_stored_forget(c, &plain_chunks[1].ch));
	p = ref_bytes(&held);
	CHECK_MEM(p, plain_chunks[1].plain, CHUNK_SIZE);
	free(p);
	reqs = origin_requests(c);
	REQUIRE_RC(cache_chunk_acquire(c, &plain_chunks[1].ch, NULL, &again),
		   0);
	CHECK_U64(origin_requests(c), reqs + 1);
	CHECK(again.fd != held.fd);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(deleted, 1);
	cache_chunk_release(c, &held);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(deleted, 0);
	cache_chunk_release(c, &again);

	/* unlinked by another process sharing the directory: the next
	 * read fetches it again instead of serving the unlinked file */
	{
		cache_t *other = cache_open(dir, max, false);

		check_chunk(c, &plain_chunks[2], NULL);
		CHECK(cache_stored_forget(other, &plain_chunks[2].ch));
		reqs = origin_requests(c);
		check_chunk(c, &plain_chunks[2], NULL);
		CHECK_U64(origin_requests(c), reqs + 1);
		open_files_under(dir, &all, &deleted);
		CHECK_INT(deleted, 0);
		cache_free(other);
	}
	cache_free(c);
	open_files_under(dir, &all, &deleted);
	CHECK_INT(all, 0);
	unit_rmtree(dir);
}

/* fx's record with its frame's digest, as a catalog of FORMAT.md §5.9
 * gives it (encoding is deterministic: the frame is the shard's) */
static struct repo_chunk frame_checked(const struct fixture *fx)
{
	struct repo_chunk ch = fx->ch;
	struct buf frame;
	uint32_t flags;

	buf_init(&frame, REPO_STORED_MAX);
	REQUIRE_RC(repo_chunk_encode(fx->plain, fx->ch.size, 3, &frame, &flags),
		   0);
	REQUIRE(flags == REPO_CHUNK_ZSTD && frame.len == fx->ch.stored_size);
	sha256_buffer(frame.data, frame.len, &ch.stored_digest);
	ch.has_stored_digest = true;
	buf_release(&frame);
	return ch;
}

/* A reader's few bytes of a chunk nobody has: answered from the frame
 * decoded that far; the rest decoded and stored behind it, one fetch. */
static void test_read_early(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk ch = frame_checked(&text_big);
	struct repo_chunk unchecked = plain_chunks[1].ch;
	uint32_t off = (3u << 19) + 123; /* in the frame's later blocks */
	uint8_t got[4096], big[4096];
	struct cache_stats st;

	REQUIRE(unchecked.flags == REPO_CHUNK_ZSTD);
	memset(got, 0, sizeof(got));
	CHECK_INT(cache_chunk_read_early(c, &ch, off, sizeof(got), got),
		  (int)sizeof(got));
	CHECK_MEM(got, text_big.plain + off, sizeof(got));
	/* the whole chunk, waited for while a worker finishes it */
	check_record(c, &ch, NULL, text_big.plain);
	CHECK(cache_chunk_present(c, &ch));
	CHECK_U64(origin_requests(c), 1);
	/* stored now: its file serves the next readers */
	CHECK_RC(cache_chunk_read_early(c, &ch, 0, 16, got), -EAGAIN);
	/* what it does not apply to */
	CHECK_RC(cache_chunk_read_early(c, &unchecked, 0, 16, got), -EAGAIN);
	CHECK_RC(cache_chunk_read_early(c, &secure_chunk.ch, 0, 16, got),
		 -EAGAIN);
	CHECK_RC(cache_chunk_read_early(c, &raw_secure.ch, 0, 16, got),
		 -EAGAIN);
	ch = frame_checked(&plain_chunks[3]);
	CHECK_RC(cache_chunk_read_early(c, &ch, ch.size - 8, 16, got), -EAGAIN);
	/* the last bytes of a chunk: the frame decoded to its end */
	CHECK_INT(cache_chunk_read_early(c, &ch, ch.size - 16, 16, got), 16);
	CHECK_MEM(got, plain_chunks[3].plain + ch.size - 16, 16);
	check_record(c, &ch, NULL, plain_chunks[3].plain);
	/* a raw chunk: verified whole, its store left behind the reader;
	 * 8 MiB, past the bound of chunks waiting to be finished, which
	 * one chunk may always pass (the last one is finished: its reader
	 * above waited for it) */
	REQUIRE(big_chunk.ch.flags == 0);
	CHECK_INT(cache_chunk_read_early(c, &big_chunk.ch, BIG_SIZE - 4096,
					 4096, big),
		  4096);
	CHECK_MEM(big, big_chunk.plain + BIG_SIZE - 4096, 4096);
	check_chunk(c, &big_chunk, NULL);
	CHECK(cache_chunk_present(c, &big_chunk.ch));
	cache_stats_get(c, &st);
	CHECK_U64(st.early_reads, 3);
	CHECK_U64(st.misses, 3);
	CHECK_U64(st.origin_requests, 3);
	cache_free(c);
	unit_rmtree(dir);
}

/* An early read of record ch, whose bytes do not verify: EIO, no byte
 * given, nothing kept; the verify errors come to want. */
static void check_early_refused(cache_t *c, const struct repo_chunk *ch,
				uint64_t want)
{
	uint8_t got[64];
	struct cache_stats st;

	memset(got, 0, sizeof(got));
	unit_quiet(true);
	CHECK_RC(cache_chunk_read_early(c, ch, 100, sizeof(got), got), -EIO);
	unit_quiet(false);
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK_INT(got[i], 0);
	CHECK(!cache_chunk_present(c, ch));
	cache_stats_get(c, &st);
	CHECK_U64(st.err_verify, want);
	CHECK_U64(st.early_reads, 0);
}

/* A frame that is not the catalog's, a raw chunk whose bytes are not
 * the record's: no byte returned, nothing stored. */
static void test_read_early_bad_frame(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk ch = frame_checked(&text_big);

	ch.stored_digest.b[7] ^= 1;
	check_early_refused(c, &ch, 1);
	/* the genuine record still reads (the failure is not remembered) */
	ch = frame_checked(&text_big);
	check_record(c, &ch, NULL, text_big.plain);
	ch = big_chunk.ch;
	ch.digest.b[9] ^= 1;
	check_early_refused(c, &ch, 2);
	cache_free(c);
	unit_rmtree(dir);
}

/* Stopping with the rest of an early chunk still to decode: the
 * finishing thread finishes it first, and the next process finds it
 * stored. */
static void test_read_early_then_free(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	struct repo_chunk ch = frame_checked(&text_big);
	uint8_t got[8];

	CHECK_INT(cache_chunk_read_early(c, &ch, 5, sizeof(got), got),
		  (int)sizeof(got));
	CHECK_MEM(got, text_big.plain + 5, sizeof(got));
	cache_free(c);
	c = cache_open(dir, 0, false);
	CHECK(cache_chunk_present(c, &ch));
	check_record(c, &ch, NULL, text_big.plain);
	CHECK_U64(origin_requests(c), 0);
	cache_free(c);
	unit_rmtree(dir);
}

/* A frame that verifies but whose end does not decode (only a faulty
 * publisher can sign one): its first bytes reach the reader that asked,
 * then the chunk is refused, kept nowhere, and its waiters get EIO. */
static void test_read_early_short_frame(void)
{
	char *dir = unit_tmpdir();
	cache_t *c = cache_open(dir, 0, false);
	const struct repo_chunk *ch = &short_frame.ch;
	struct cache_chunk_ref ref;
	struct cache_stats st;
	uint8_t got[16];

	CHECK_INT(cache_chunk_read_early(c, ch, 0, sizeof(got), got),
		  (int)sizeof(got));
	CHECK_MEM(got, short_frame.plain, sizeof(got));
	unit_quiet(true);
	CHECK_RC(cache_chunk_acquire(c, ch, NULL, &ref), -EIO);
	unit_quiet(false);
	CHECK(!cache_chunk_present(c, ch));
	CHECK(!tree_contains(dir, short_frame.plain + 4096, 4096));
	/* 1 if the acquire waited for the finisher, 2 if that was done and
	 * the acquire fetched the chunk again: both refuse it */
	cache_stats_get(c, &st);
	CHECK(st.err_verify >= 1 && st.err_verify <= 2);
	cache_free(c);
	unit_rmtree(dir);
}

int main(void)
{
	log_init("test_cache", LOG_LEVEL_WARN, false);
	setup();
	RUN(test_miss_then_hit);
	RUN(test_verify_failure);
	RUN(test_stored_digest_key);
	RUN(test_one_fetch_for_concurrent_readers);
	RUN(test_lru_order);
	RUN(test_size_bound_and_pins);
	RUN(test_size_bound_all_pinned);
	RUN(test_memory_shared);
	RUN(test_size_bound_concurrent);
	RUN(test_concurrent_store_same_directory);
	RUN(test_transient);
	RUN(test_failure_memory);
	RUN(test_failure_memory_catalog);
	RUN(test_secure);
	RUN(test_secure_wrong_key);
	RUN(test_fetch_on_request);
	RUN(test_origin_url);
	RUN(test_fd_pool_reuse);
	RUN(test_fd_pool_bound);
	RUN(test_fd_pool_eviction);
	RUN(test_read_early);
	RUN(test_read_early_bad_frame);
	RUN(test_read_early_then_free);
	RUN(test_read_early_short_frame);
	for (int i = 0; i < NCHUNKS; i++)
		free(plain_chunks[i].plain);
	free(big_chunk.plain);
	free(text_big.plain);
	free(short_frame.plain);
	free(secure_chunk.plain);
	free(raw_secure.plain);
	free(root_url);
	unit_rmtree(root);
	return unit_result();
}

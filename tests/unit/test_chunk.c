/* Unit tests: chunk framing, one zstd frame or the raw bytes, and the
 * secure tier's AES-256-GCM envelope (repo/chunk.c). */
#define _GNU_SOURCE
#include "repo.h"
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zstd.h>

#include "banned.h"

#define LEVEL 3

static uint8_t *text_data(size_t n)
{
	static const char line[] = "Article 12. The court finds that the "
				   "contract was void ab initio.\n";
	uint8_t *p = malloc(n ? n : 1);

	REQUIRE(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)line[i % (sizeof(line) - 1)];
	return p;
}

static uint8_t *random_data(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	REQUIRE(p);
	unit_rand_fill(&seed, p, n);
	return p;
}

/* Encode raw into a fresh buffer; describe it as chunk *c. */
static void encode(const void *raw, size_t len, struct buf *out,
		   struct repo_chunk *c)
{
	uint32_t flags = 0xdead;

	buf_init(out, REPO_CHUNK_MAX + REPO_CHUNK_MAX / 8);
	REQUIRE_RC(repo_chunk_encode(raw, len, LEVEL, out, &flags), 0);
	memset(c, 0, sizeof(*c));
	sha256_buffer(raw, len, &c->digest);
	c->stored_size = (uint32_t)out->len;
	c->size = (uint32_t)len;
	c->flags = flags;
}

/*
 * Decode stored bytes that end at a guard page into a heap buffer of
 * exactly c->size bytes (so ASan sees an overrun).
 */
struct decode_call {
	const void *stored;
	size_t stored_len;
	const struct repo_chunk *c;
	void *out;
	int rc;
};

static void decode_thunk(void *p)
{
	struct decode_call *d = p;

	d->rc = repo_chunk_decode(d->stored, d->stored_len, d->c, NULL, d->out);
}

static int decode_into(const void *stored, size_t stored_len,
		       const struct repo_chunk *c, uint8_t **out)
{
	struct decode_call call = {stored, stored_len, c, NULL, 1};

	if (stored_len <= UNIT_GUARD_MAX)
		call.stored = unit_guarded(stored, stored_len);
	*out = malloc(c->size ? c->size : 1);
	REQUIRE(*out);
	call.out = *out;
	return unit_guarded_call(decode_thunk, &call) ? UNIT_FAULT_RC : call.rc;
}

static int decode(const void *stored, size_t stored_len,
		  const struct repo_chunk *c)
{
	uint8_t *out;
	int rc = decode_into(stored, stored_len, c, &out);

	free(out);
	return rc;
}

static bool decode_error(int rc)
{
	return rc == -EINVAL || rc == -EBADMSG;
}

static void test_compressible(void)
{
	const size_t n = 256 * 1024;
	uint8_t *raw = text_data(n), *out;
	struct repo_chunk c;
	struct buf b;

	encode(raw, n, &b, &c);
	CHECK_U64(c.flags, REPO_CHUNK_ZSTD);
	CHECK(b.len < n / 10);
	/* one zstd frame that declares its size */
	CHECK(ZSTD_getFrameContentSize(b.data, b.len) == n);
	CHECK(ZSTD_findFrameCompressedSize(b.data, b.len) == b.len);
	CHECK_RC(decode_into(b.data, b.len, &c, &out), 0);
	CHECK_MEM(out, raw, n);
	free(out);
	buf_release(&b);
	free(raw);
}

static void test_incompressible(void)
{
	const size_t n = 200 * 1000;
	uint8_t *raw = random_data(n, 42), *out;
	struct repo_chunk c;
	struct buf b;

	encode(raw, n, &b, &c);
	CHECK_U64(c.flags, 0);
	CHECK_U64(b.len, n);
	CHECK(b.len == n && memcmp(b.data, raw, n) == 0);
	CHECK_RC(decode_into(b.data, b.len, &c, &out), 0);
	CHECK_MEM(out, raw, n);
	free(out);
	/* in place (the cache verifies fetched raw chunks so): checked,
	 * the bytes untouched, and a flipped byte still refused */
	CHECK_RC(repo_chunk_decode(b.data, b.len, &c, NULL, b.data), 0);
	CHECK_MEM(b.data, raw, n);
	b.data[n / 2] ^= 1;
	CHECK_RC(repo_chunk_decode(b.data, b.len, &c, NULL, b.data), -EBADMSG);
	buf_release(&b);
	free(raw);
}

/* encode appends: what the buffer held stays in front. */
static void test_encode_appends(void)
{
	static const char prefix[] = "PREFIX";
	const size_t n = 10000;
	uint8_t *text = text_data(n), *rnd = random_data(n, 7);
	uint32_t flags;
	struct repo_chunk c;
	struct buf b;
	size_t first;

	buf_init(&b, 1 << 20);
	REQUIRE_RC(buf_append(&b, prefix, 6), 0);
	CHECK_RC(repo_chunk_encode(text, n, LEVEL, &b, &flags), 0);
	CHECK_U64(flags, REPO_CHUNK_ZSTD);
	CHECK_MEM(b.data, prefix, 6);
	first = b.len;
	memset(&c, 0, sizeof(c));
	sha256_buffer(text, n, &c.digest);
	c.size = (uint32_t)n;
	c.stored_size = (uint32_t)(first - 6);
	c.flags = flags;
	CHECK_RC(decode(b.data + 6, first - 6, &c), 0);

	CHECK_RC(repo_chunk_encode(rnd, n, LEVEL, &b, &flags), 0);
	CHECK_U64(flags, 0);
	CHECK_U64(b.len, first + n);
	CHECK_MEM(b.data, prefix, 6);
	CHECK(b.len == first + n && memcmp(b.data + first, rnd, n) == 0);

	/* a cap too small for the output: -EFBIG */
	{
		struct buf small;

		buf_init(&small, 100);
		CHECK_RC(repo_chunk_encode(rnd, n, LEVEL, &small, &flags),
			 -EFBIG);
		buf_release(&small);
	}
	buf_release(&b);
	free(text);
	free(rnd);
}

/*
 * The choice between zstd and raw follows REPO_CHUNK_MIN_SAVING: keep the
 * frame only if it is at most 97% of the input. Sweep inputs of
 * increasing compressibility and compare with our own compression.
 */
static void test_min_saving(void)
{
	const size_t n = 64 * 1024;
	uint8_t *raw = random_data(n, 99), *frame;
	size_t bound = ZSTD_compressBound(n);
	bool saw_raw = false, saw_zstd = false;

	frame = malloc(bound);
	REQUIRE(frame);
	for (size_t zeros = 0; zeros <= n / 8; zeros += 256) {
		struct repo_chunk c;
		struct buf b;
		size_t fn;
		bool want_zstd;

		memset(raw, 0, zeros);
		fn = ZSTD_compress(frame, bound, raw, n, LEVEL);
		REQUIRE(!ZSTD_isError(fn));
		want_zstd = fn * 100 <= n * (100 - REPO_CHUNK_MIN_SAVING);
		encode(raw, n, &b, &c);
		if ((c.flags == REPO_CHUNK_ZSTD) != want_zstd)
			UNIT_FAIL("%zu leading zeros: frame of %zu of %zu "
				  "bytes, flags %u",
				  zeros, fn, n, c.flags);
		if (c.flags == REPO_CHUNK_ZSTD)
			CHECK(b.len == fn && memcmp(b.data, frame, fn) == 0);
		else
			CHECK(b.len == n && memcmp(b.data, raw, n) == 0);
		CHECK_RC(decode(b.data, b.len, &c), 0);
		saw_raw |= c.flags == 0;
		saw_zstd |= c.flags == REPO_CHUNK_ZSTD;
		buf_release(&b);
	}
	CHECK(saw_raw && saw_zstd);
	free(frame);
	free(raw);
}

static void test_zero_length(void)
{
	struct repo_chunk c;
	uint32_t flags = 0xdead;
	uint8_t frame[64];
	struct buf b;
	size_t fn;

	buf_init(&b, 1024);
	CHECK_RC(repo_chunk_encode("", 0, LEVEL, &b, &flags), 0);
	CHECK_U64(flags, 0);
	CHECK_U64(b.len, 0);
	memset(&c, 0, sizeof(c));
	sha256_buffer("", 0, &c.digest);
	CHECK_RC(decode("", 0, &c), 0);
	/* the digest still counts */
	c.digest.b[0] ^= 1;
	CHECK_RC(decode("", 0, &c), -EBADMSG);
	c.digest.b[0] ^= 1;
	/* an empty zstd frame is a valid stored form too */
	fn = ZSTD_compress(frame, sizeof(frame), "", 0, LEVEL);
	REQUIRE(!ZSTD_isError(fn));
	c.flags = REPO_CHUNK_ZSTD;
	c.stored_size = (uint32_t)fn;
	CHECK_RC(decode(frame, fn, &c), 0);
	/* zero bytes claimed as a zstd frame: malformed */
	c.stored_size = 0;
	CHECK_RC(decode("", 0, &c), -EINVAL);
	/* zero bytes stored for one raw byte */
	c.flags = 0;
	c.size = 1;
	CHECK_RC(decode("", 0, &c), -EINVAL);
	buf_release(&b);
}

static void test_digest_mismatch(void)
{
	const size_t n = 50000;
	uint8_t *text = text_data(n), *rnd = random_data(n, 5);
	struct repo_chunk c;
	struct buf b;

	encode(text, n, &b, &c);
	REQUIRE(c.flags == REPO_CHUNK_ZSTD);
	for (int k = 0; k < DIGEST_LEN; k += 7) {
		c.digest.b[k] ^= 0x80;
		CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
		c.digest.b[k] ^= 0x80;
	}
	CHECK_RC(decode(b.data, b.len, &c), 0);
	buf_release(&b);

	encode(rnd, n, &b, &c);
	REQUIRE(c.flags == 0);
	c.digest.b[31] ^= 1;
	CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
	c.digest.b[31] ^= 1;
	/* one stored byte changed in a raw chunk */
	b.data[n / 2] ^= 0x10;
	CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
	buf_release(&b);
	free(text);
	free(rnd);
}

/*
 * A zstd chunk with a stored digest (FORMAT.md §5.9) is checked by the
 * SHA-256 of its frame: any changed byte of the frame, or of that digest,
 * is refused before anything is decompressed. A raw chunk's stored digest
 * is not used (no table entry is written for one): its content digest
 * still decides.
 */
static void test_stored_digest(void)
{
	const size_t n = 300000;
	uint8_t *text = text_data(n), *rnd = random_data(n, 9), *out;
	struct repo_chunk c;
	struct buf b;

	encode(text, n, &b, &c);
	REQUIRE(c.flags == REPO_CHUNK_ZSTD);
	sha256_buffer(b.data, b.len, &c.stored_digest);
	c.has_stored_digest = true;
	CHECK_RC(decode_into(b.data, b.len, &c, &out), 0);
	CHECK_MEM(out, text, n);
	free(out);
	/* every byte of the frame counts, even those zstd would ignore */
	for (size_t k = 0; k < b.len; k += b.len / 97 + 1) {
		b.data[k] ^= 0x01;
		CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
		b.data[k] ^= 0x01;
	}
	for (int k = 0; k < DIGEST_LEN; k += 5) {
		c.stored_digest.b[k] ^= 0x40;
		CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
		c.stored_digest.b[k] ^= 0x40;
	}
	/* the right frame under a stored digest of the right length but of
	 * other bytes: refused, even though the content digest matches */
	sha256_buffer(text, n, &c.stored_digest);
	CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
	buf_release(&b);

	encode(rnd, n, &b, &c);
	REQUIRE(c.flags == 0);
	sha256_buffer(b.data, b.len, &c.stored_digest);
	c.has_stored_digest = true;
	c.digest.b[0] ^= 1;
	CHECK_RC(decode(b.data, b.len, &c), -EBADMSG);
	c.digest.b[0] ^= 1;
	CHECK_RC(decode(b.data, b.len, &c), 0);
	buf_release(&b);
	free(text);
	free(rnd);
}

/* The frame of n - 1 bytes of raw whose header declares n: a frame no
 * publisher writes, checked as if one had (its stored digest its own). */
static void short_frame(const uint8_t *raw, size_t n, struct buf *b,
			struct repo_chunk *c)
{
	unsigned fhd;
	size_t at;

	encode(raw, n - 1, b, c);
	REQUIRE(c->flags == REPO_CHUNK_ZSTD);
	/* the frame content size field (RFC 8878 3.1.1.1): 4 bytes here */
	fhd = b->data[4];
	REQUIRE((fhd >> 6) == 2 && (fhd & 3) == 0);
	at = 5 + (((fhd >> 5) & 1) ? 0 : 1);
	for (int i = 0; i < 4; i++)
		b->data[at + (size_t)i] = (uint8_t)(n >> (8 * i));
	REQUIRE(ZSTD_getFrameContentSize(b->data, b->len) == n);
	c->size = (uint32_t)n;
	sha256_buffer(b->data, b->len, &c->stored_digest);
	c->has_stored_digest = true;
}

/* A frame decoded in steps: the bytes as far as asked, then the rest. */
static void test_stream(void)
{
	const size_t n = 600000; /* several zstd blocks */
	uint8_t *text = text_data(n), *rnd = random_data(n, 11);
	uint8_t *out = calloc(1, n);
	struct repo_chunk_stream st;
	struct repo_chunk c;
	struct buf b;

	REQUIRE(out);
	encode(text, n, &b, &c);
	sha256_buffer(b.data, b.len, &c.stored_digest);
	c.has_stored_digest = true;
	REQUIRE_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out), 0);
	CHECK_RC(repo_chunk_stream_to(&st, 100), 0);
	CHECK(st.out_pos >= 100 && st.out_pos < n);
	CHECK_MEM(out, text, 100);
	CHECK_RC(repo_chunk_stream_to(&st, 400000), 0);
	CHECK(st.out_pos >= 400000 && st.out_pos < n);
	CHECK_MEM(out, text, 400000);
	CHECK_RC(repo_chunk_stream_finish(&st), 0);
	CHECK_MEM(out, text, n);
	repo_chunk_stream_end(&st);

	/* a frame that is not the catalog's: nothing decoded */
	c.stored_digest.b[3] ^= 1;
	memset(out, 0, n);
	CHECK_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out),
		 -EBADMSG);
	CHECK(out[0] == 0);
	c.stored_digest.b[3] ^= 1;
	/* not for a chunk checked by its content digest */
	c.has_stored_digest = false;
	CHECK_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out),
		 -ENOTSUP);
	c.has_stored_digest = true;
	/* the recorded size is the frame's, or nothing */
	c.size--;
	CHECK_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out), -EINVAL);
	buf_release(&b);

	/* a frame one byte short of what its header declares: its first
	 * bytes come, its end is refused */
	short_frame(text, n, &b, &c);
	REQUIRE_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out), 0);
	CHECK_RC(repo_chunk_stream_to(&st, 1000), 0);
	CHECK_MEM(out, text, 1000);
	CHECK_RC(repo_chunk_stream_finish(&st), -EINVAL);
	repo_chunk_stream_end(&st);
	CHECK(decode_error(decode(b.data, b.len, &c)));
	buf_release(&b);

	/* a raw chunk has no frame to check */
	encode(rnd, n, &b, &c);
	REQUIRE(c.flags == 0);
	sha256_buffer(b.data, b.len, &c.stored_digest);
	c.has_stored_digest = true;
	CHECK_RC(repo_chunk_stream_begin(&st, b.data, b.len, &c, out),
		 -ENOTSUP);
	buf_release(&b);
	free(out);
	free(text);
	free(rnd);
}

/*
 * Damage to a frame is an error, or else the frame still decodes to the
 * very same bytes: zstd ignores a few bits (the header's unused bit, some
 * table bits), and the SHA-256 of the output is what makes a chunk
 * trustworthy. Never wrong bytes with success.
 */
static void test_frame_flips(void)
{
	const size_t n = 20000;
	uint8_t *text = text_data(n), *copy;
	size_t bad = 0, errors = 0, same = 0;
	struct repo_chunk c;
	struct buf b;

	/* mix in some random bytes so the frame has literals of all kinds */
	{
		uint64_t seed = 3;

		for (size_t i = 0; i < n; i += 97)
			text[i] = (uint8_t)unit_rand(&seed);
	}
	encode(text, n, &b, &c);
	REQUIRE(c.flags == REPO_CHUNK_ZSTD);
	copy = malloc(b.len);
	REQUIRE(copy);
	for (size_t i = 0; i < b.len; i++) {
		static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
						0x20, 0x40, 0x80, 0xff};

		for (size_t m = 0; m < sizeof(masks); m++) {
			uint8_t *out;
			int rc;

			memcpy(copy, b.data, b.len);
			copy[i] ^= masks[m];
			rc = decode_into(copy, b.len, &c, &out);
			if (decode_error(rc)) {
				errors++;
			} else if (rc == 0 && memcmp(out, text, n) == 0) {
				same++;
			} else if (bad++ < 10) {
				UNIT_FAIL("frame byte %zu of %zu ^ 0x%02x: "
					  "decode returned %d%s",
					  i, b.len, masks[m], rc,
					  rc ? "" : " with wrong bytes");
			}
			free(out);
		}
	}
	CHECK_U64(bad, 0);
	/* nearly every flip is detected */
	CHECK(errors > 50 * same);
	free(copy);
	buf_release(&b);
	free(text);
}

static void test_frame_malformed(void)
{
	const size_t n = 30000;
	uint8_t *text = text_data(n), *two, *out;
	struct repo_chunk c, c2;
	struct buf b;
	size_t bad = 0;

	encode(text, n, &b, &c);
	REQUIRE(c.flags == REPO_CHUNK_ZSTD);

	/* every truncation, with the record agreeing on the length */
	for (size_t len = 0; len < b.len; len++) {
		int rc;

		c2 = c;
		c2.stored_size = (uint32_t)len;
		rc = decode(b.data, len, &c2);
		if (rc != -EINVAL && bad++ < 10)
			UNIT_FAIL("frame truncated to %zu of %zu: decode "
				  "returned %d",
				  len, b.len, rc);
	}

	/* stored_len must equal stored_size */
	c2 = c;
	c2.stored_size = c.stored_size + 1;
	CHECK_RC(decode(b.data, b.len, &c2), -EINVAL);
	c2.stored_size = c.stored_size - 1;
	CHECK_RC(decode(b.data, b.len, &c2), -EINVAL);
	CHECK_RC(decode(b.data, b.len - 1, &c), -EINVAL);

	/* the frame declares a size other than the record's */
	c2 = c;
	c2.size = c.size - 1;
	CHECK_RC(decode(b.data, b.len, &c2), -EINVAL);
	c2.size = c.size + 1;
	CHECK_RC(decode(b.data, b.len, &c2), -EINVAL);
	c2.size = 0;
	CHECK_RC(decode(b.data, b.len, &c2), -EINVAL);
	CHECK_RC(decode(b.data, b.len, &c), 0);

	/* two frames back to back; a frame with a trailing byte */
	two = malloc(2 * b.len + 1);
	REQUIRE(two);
	memcpy(two, b.data, b.len);
	memcpy(two + b.len, b.data, b.len);
	c2 = c;
	c2.stored_size = (uint32_t)(2 * b.len);
	CHECK_RC(decode(two, 2 * b.len, &c2), -EINVAL);
	c2.size = 2 * c.size;
	{
		uint8_t *both = malloc(2 * n);

		REQUIRE(both);
		memcpy(both, text, n);
		memcpy(both + n, text, n);
		sha256_buffer(both, 2 * n, &c2.digest);
		free(both);
	}
	CHECK_RC(decode(two, 2 * b.len, &c2), -EINVAL);
	two[b.len] = 0;
	c2 = c;
	c2.stored_size = (uint32_t)(b.len + 1);
	CHECK_RC(decode(two, b.len + 1, &c2), -EINVAL);
	free(two);

	/* raw bytes called a zstd frame, a frame called raw */
	c2 = c;
	c2.flags = REPO_CHUNK_ZSTD;
	c2.stored_size = c2.size = (uint32_t)n;
	CHECK(decode_error(decode(text, n, &c2)));
	c2 = c;
	c2.flags = 0;
	CHECK(decode_error(decode(b.data, b.len, &c2)));

	/* raw chunks: stored bytes must be exactly size */
	c2.flags = 0;
	c2.digest = c.digest;
	c2.size = (uint32_t)n;
	c2.stored_size = (uint32_t)n;
	CHECK_RC(decode_into(text, n, &c2, &out), 0);
	CHECK_MEM(out, text, n);
	free(out);
	c2.size = (uint32_t)n + 1;
	CHECK_RC(decode(text, n, &c2), -EINVAL);
	c2.size = (uint32_t)n - 1;
	CHECK_RC(decode(text, n, &c2), -EINVAL);
	c2.size = (uint32_t)n;
	c2.stored_size = (uint32_t)n - 1;
	CHECK_RC(decode(text, n - 1, &c2), -EINVAL);

	/* sizes past REPO_CHUNK_MAX */
	c2.flags = 0;
	c2.size = REPO_CHUNK_MAX + 1;
	c2.stored_size = (uint32_t)n;
	out = malloc(1);
	REQUIRE(out);
	CHECK_RC(repo_chunk_decode(text, n, &c2, NULL, out), -EINVAL);
	free(out);

	buf_release(&b);
	free(text);
}

/* A frame made by the streaming API without a pledged size. */
static void test_frame_variants(void)
{
	const size_t n = 40000;
	uint8_t *text = text_data(n), *frame, *out;
	size_t cap = ZSTD_compressBound(n) + 64, fn;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct repo_chunk c;

	REQUIRE(cctx);
	frame = malloc(cap);
	REQUIRE(frame);
	memset(&c, 0, sizeof(c));
	sha256_buffer(text, n, &c.digest);
	c.size = (uint32_t)n;
	c.flags = REPO_CHUNK_ZSTD;

	/* with a content checksum: still one frame of the right size */
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	fn = ZSTD_compress2(cctx, frame, cap, text, n);
	REQUIRE(!ZSTD_isError(fn));
	c.stored_size = (uint32_t)fn;
	CHECK_RC(decode_into(frame, fn, &c, &out), 0);
	CHECK_MEM(out, text, n);
	free(out);
	/* a bad checksum is caught by zstd or by the digest */
	frame[fn - 1] ^= 1;
	CHECK(decode_error(decode(frame, fn, &c)));

	/* without the content size in the header: refused */
	{
		ZSTD_inBuffer in = {text, n, 0};
		ZSTD_outBuffer ob = {frame, cap, 0};
		size_t left;

		ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
		do {
			left = ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_end);
			REQUIRE(!ZSTD_isError(left));
		} while (left);
		REQUIRE(ZSTD_getFrameContentSize(frame, ob.pos) ==
			ZSTD_CONTENTSIZE_UNKNOWN);
		c.stored_size = (uint32_t)ob.pos;
		CHECK_RC(decode(frame, ob.pos, &c), -EINVAL);
	}

	/* a skippable frame is not a chunk */
	{
		uint8_t skip[8 + 4] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0};
		struct repo_chunk z;

		memset(&z, 0, sizeof(z));
		z.flags = REPO_CHUNK_ZSTD;
		z.size = 4;
		z.stored_size = sizeof(skip);
		sha256_buffer(skip + 8, 4, &z.digest);
		CHECK(decode_error(decode(skip, sizeof(skip), &z)));
	}

	ZSTD_freeCCtx(cctx);
	free(frame);
	free(text);
}

static void test_flags(void)
{
	const size_t n = 1000;
	uint8_t *text = text_data(n);
	struct repo_chunk c;
	struct buf b;

	encode(text, n, &b, &c);
	REQUIRE(c.flags == REPO_CHUNK_ZSTD);
	c.flags = REPO_CHUNK_ENCRYPTED;
	CHECK_RC(decode(b.data, b.len, &c), -ENOKEY);
	c.flags = REPO_CHUNK_ENCRYPTED | REPO_CHUNK_ZSTD;
	CHECK_RC(decode(b.data, b.len, &c), -ENOKEY);
	for (unsigned bit = 2; bit < 32; bit++) {
		c.flags = REPO_CHUNK_ZSTD | (1u << bit);
		if (decode(b.data, b.len, &c) != -EINVAL)
			UNIT_FAIL("unknown flag bit %u not -EINVAL", bit);
		c.flags = 1u << bit;
		if (decode(b.data, b.len, &c) != -EINVAL)
			UNIT_FAIL("unknown flag bit %u alone not -EINVAL", bit);
	}
	c.flags = REPO_CHUNK_ZSTD;
	CHECK_RC(decode(b.data, b.len, &c), 0);
	buf_release(&b);
	free(text);
}

/* A chunk of several MiB, text and random, through both paths. */
static void test_large(void)
{
	const size_t n = 6 * 1024 * 1024 + 17;
	uint8_t *text = text_data(n), *rnd = random_data(n, 11), *out;
	struct repo_chunk c;
	struct buf b;
	int rc;

	encode(text, n, &b, &c);
	CHECK_U64(c.flags, REPO_CHUNK_ZSTD);
	out = malloc(n);
	REQUIRE(out);
	CHECK_RC(repo_chunk_decode(b.data, b.len, &c, NULL, out), 0);
	CHECK_MEM(out, text, n);
	buf_release(&b);

	encode(rnd, n, &b, &c);
	CHECK_U64(c.flags, 0);
	rc = repo_chunk_decode(b.data, b.len, &c, NULL, out);
	CHECK_RC(rc, 0);
	CHECK_MEM(out, rnd, n);
	buf_release(&b);
	free(out);
	free(text);
	free(rnd);
}

/* Frame and encrypt raw as the packer does; describe it as chunk *c. */
static void encrypt_chunk(const uint8_t *key, const void *raw, size_t len,
			  struct buf *out, struct repo_chunk *c)
{
	struct buf framed;

	encode(raw, len, &framed, c);
	buf_init(out, REPO_STORED_MAX);
	REQUIRE_RC(
	    repo_chunk_encrypt(key, &c->digest, framed.data, framed.len, out),
	    0);
	c->flags |= REPO_CHUNK_ENCRYPTED;
	c->stored_size = (uint32_t)out->len;
	buf_release(&framed);
}

/* The envelope (§6.4): layout, round trip, determinism, and refusal of
 * every tampered byte, wrong key or digest, without leaving plaintext. */
static void test_encrypted(void)
{
	uint64_t seed = 0x5eed;
	size_t sizes[] = {0, 1, 15, 16, 17, 4096, 65536 + 3};
	uint8_t key[REPO_CHUNK_KEY_LEN], key2[REPO_CHUNK_KEY_LEN];

	unit_rand_fill(&seed, key, sizeof(key));
	unit_rand_fill(&seed, key2, sizeof(key2));
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s];
		uint8_t *in = malloc(len + 1), *plain = malloc(len + 1);
		uint8_t mac[32];
		unsigned int mac_len = 0;
		struct repo_chunk c, c2;
		struct buf a, b;

		REQUIRE(in && plain);
		/* text compresses (zstd inside), random does not (raw) */
		if (s % 2) {
			uint8_t *t = text_data(len);

			memcpy(in, t, len);
			free(t);
		} else {
			unit_rand_fill(&seed, in, len);
		}
		encrypt_chunk(key, in, len, &a, &c);
		CHECK(c.flags & REPO_CHUNK_ENCRYPTED);
		/* nonce = HMAC-SHA256(key, digest)[0..12) */
		REQUIRE(
		    HMAC(EVP_sha256(), key, 32, c.digest.b, 32, mac, &mac_len));
		CHECK_MEM(a.data, mac, 12);
		if (len >= 16 && !(c.flags & REPO_CHUNK_ZSTD))
			CHECK(memcmp(a.data + 12, in, 16) != 0);

		/* round trip: exactly size bytes written */
		memset(plain, 0xee, len + 1);
		CHECK_RC(repo_chunk_decode(a.data, a.len, &c, key, plain), 0);
		CHECK_MEM(plain, in, len);
		CHECK_INT(plain[len], 0xee);
		/* no key: refused before anything is read */
		CHECK_RC(repo_chunk_decode(a.data, a.len, &c, NULL, plain),
			 -ENOKEY);

		/* deterministic; another key gives another nonce */
		encrypt_chunk(key, in, len, &b, &c2);
		CHECK(b.len == a.len && !memcmp(b.data, a.data, b.len));
		buf_release(&b);
		encrypt_chunk(key2, in, len, &b, &c2);
		CHECK(memcmp(b.data, a.data, 12) != 0);
		buf_release(&b);

		/* wrong key; wrong digest (the associated data) */
		CHECK_RC(repo_chunk_decode(a.data, a.len, &c, key2, plain),
			 -EBADMSG);
		c2 = c;
		c2.digest.b[31] ^= 1;
		CHECK_RC(repo_chunk_decode(a.data, a.len, &c2, key, plain),
			 -EBADMSG);
		/* tamper with nonce, ciphertext, tag: every byte for the
		 * small sizes, a spread of them for the large ones */
		for (size_t i = 0; i < a.len; i += (a.len > 256 ? 97 : 1)) {
			uint8_t *t = malloc(a.len);
			int rc;

			REQUIRE(t);
			memcpy(t, a.data, a.len);
			t[i] ^= 0x40;
			rc = repo_chunk_decode(t, a.len, &c, key, plain);
			if (rc != -EBADMSG)
				UNIT_FAIL("size %zu byte %zu: rc %d", len, i,
					  rc);
			/* unauthenticated plaintext is not left behind */
			if (len >= 16 && !memcmp(plain, in, 16))
				UNIT_FAIL("size %zu byte %zu: plaintext left",
					  len, i);
			free(t);
		}
		/* truncated: the recorded size no longer matches */
		CHECK_RC(repo_chunk_decode(a.data, a.len - 1, &c, key, plain),
			 -EINVAL);
		c2 = c;
		c2.stored_size--;
		CHECK_RC(repo_chunk_decode(a.data, a.len - 1, &c2, key, plain),
			 (c.flags & REPO_CHUNK_ZSTD) ? -EBADMSG : -EINVAL);
		buf_release(&a);
		free(in);
		free(plain);
	}
	/* too short to hold nonce and tag */
	{
		uint8_t tiny[REPO_CHUNK_ENVELOPE - 1] = {0}, out[1];
		struct repo_chunk c;

		memset(&c, 0, sizeof(c));
		c.flags = REPO_CHUNK_ENCRYPTED;
		for (size_t n = 0; n < sizeof(tiny); n++) {
			c.stored_size = (uint32_t)n;
			CHECK_RC(repo_chunk_decode(tiny, n, &c, key, out),
				 -EINVAL);
		}
	}
	/* the envelope respects the buffer's cap */
	{
		struct buf small;
		uint8_t in[64] = {0};
		struct digest dg;

		buf_init(&small, 64);
		sha256_buffer(in, sizeof(in), &dg);
		CHECK_RC(repo_chunk_encrypt(key, &dg, in, sizeof(in), &small),
			 -EFBIG);
		CHECK_INT(small.len, 0);
		buf_release(&small);
	}
}

int main(void)
{
	RUN(test_compressible);
	RUN(test_incompressible);
	RUN(test_encode_appends);
	RUN(test_min_saving);
	RUN(test_zero_length);
	RUN(test_digest_mismatch);
	RUN(test_stored_digest);
	RUN(test_stream);
	RUN(test_frame_flips);
	RUN(test_frame_malformed);
	RUN(test_frame_variants);
	RUN(test_flags);
	RUN(test_large);
	RUN(test_encrypted);
	return unit_result();
}

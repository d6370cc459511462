/* Unit tests: catalog record encodings, names, tiers and object paths
 * (repo/records.c). */
#define _GNU_SOURCE
#include "repo.h"
#include "unit.h"

#include <sys/stat.h>

#include "banned.h"

#define TEXT_MAX (64u * 1024) /* records.c: cap on a dataset's texts */

/* Offsets in a dataset record (FORMAT.md "catalog records"). */
#define DATASET_TIER_OFF 4
#define DATASET_ROOT_MODE_OFF (4 + 1 + 8 + 8 + 32 + 8)
#define DATASET_NSEC_OFF (DATASET_ROOT_MODE_OFF + 4 + 4 + 8 + 8)
#define DATASET_FIXED (DATASET_NSEC_OFF + 4)

/* Offsets in an inode record (FORMAT.md "catalog records"). */
#define INODE_NAME_LEN_OFF 8
#define INODE_FIXED_AFTER_NAME (4 + 4 + 8 + 8 + 4)

static struct digest digest_of(const char *s)
{
	struct digest d;

	sha256_buffer(s, strlen(s), &d);
	return d;
}

static void le32(uint8_t *out, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		out[k] = (uint8_t)(v >> (8 * k));
}

/* ------------------------------------------------------------- datasets */

static void sample_dataset(struct repo_dataset *d)
{
	static char name[] = "\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6";
	static char industry[] = "legal", modality[] = "text";
	static char license[] = "CC-BY-4.0";
	static char description[] = "court rulings, 2001\xe2\x80\x93"
				    "2023\nsecond line";

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->industry = industry;
	d->modality = modality;
	d->license = license;
	d->description = description;
	d->id = 0xdeadbeef;
	d->tier = REPO_TIER_SECURE;
	d->files = 1234567890123ull;
	d->bytes = UINT64_MAX - 1;
	d->catalog = digest_of("catalog");
	d->catalog_size = 987654321;
	d->root_mode = S_IFDIR | 0755;
	d->root_nlink = 7;
	d->root_size = 0x1122334455667788ull;
	d->mtime_sec = -1700000000;
	d->mtime_nsec = 999999999;
}

static void check_dataset_equal(const struct repo_dataset *got,
				const struct repo_dataset *want)
{
	CHECK_STR(got->name, want->name);
	CHECK_STR(got->industry, want->industry ? want->industry : "");
	CHECK_STR(got->modality, want->modality ? want->modality : "");
	CHECK_STR(got->license, want->license ? want->license : "");
	CHECK_STR(got->description, want->description ? want->description : "");
	CHECK_U64(got->id, want->id);
	CHECK_INT(got->tier, want->tier);
	CHECK_U64(got->files, want->files);
	CHECK_U64(got->bytes, want->bytes);
	CHECK(digest_equal(&got->catalog, &want->catalog));
	CHECK_U64(got->catalog_size, want->catalog_size);
	CHECK_U64(got->root_mode, want->root_mode);
	CHECK_U64(got->root_nlink, want->root_nlink);
	CHECK_U64(got->root_size, want->root_size);
	CHECK_INT(got->mtime_sec, want->mtime_sec);
	CHECK_U64(got->mtime_nsec, want->mtime_nsec);
}

static bool dataset_is_empty(const struct repo_dataset *d)
{
	static const struct repo_dataset zero;

	return memcmp(d, &zero, sizeof(zero)) == 0;
}

struct dataset_call {
	const char *name;
	const void *val;
	size_t len;
	struct repo_dataset *d;
	int rc;
};

static void dataset_thunk(void *p)
{
	struct dataset_call *c = p;

	c->rc =
	    repo_dataset_decode(c->name, strlen(c->name), c->val, c->len, c->d);
}

/* Decode from a copy that ends at a guard page. */
static int dataset_decode_guarded(const char *name, const void *val, size_t len,
				  struct repo_dataset *d)
{
	struct dataset_call call = {name, unit_guarded(val, len), len, d, 1};

	memset(d, 0, sizeof(*d));
	if (unit_guarded_call(dataset_thunk, &call)) {
		UNIT_FAIL("dataset decode read past the end of a %zu-byte "
			  "record",
			  len);
		memset(d, 0, sizeof(*d));
		return UNIT_FAULT_RC;
	}
	return call.rc;
}

static void test_dataset_roundtrip(void)
{
	struct repo_dataset d, got;
	struct buf b;

	buf_init(&b, 1 << 20);
	sample_dataset(&d);
	CHECK_RC(repo_dataset_encode(&d, &b), 0);
	/* fixed part, then four u32-length-prefixed strings */
	CHECK_U64(b.len, DATASET_FIXED + 4 * 4 + strlen(d.industry) +
			     strlen(d.modality) + strlen(d.license) +
			     strlen(d.description));
	CHECK(b.len > DATASET_FIXED && load_le32(b.data) == 0xdeadbeef &&
	      b.data[DATASET_TIER_OFF] == REPO_TIER_SECURE &&
	      load_le32(b.data + DATASET_ROOT_MODE_OFF) == (S_IFDIR | 0755) &&
	      load_le64(b.data + DATASET_ROOT_MODE_OFF + 8) == d.root_size &&
	      load_le32(b.data + DATASET_NSEC_OFF) == 999999999);
	CHECK_RC(dataset_decode_guarded(d.name, b.data, b.len, &got), 0);
	check_dataset_equal(&got, &d);
	repo_dataset_release(&got);
	CHECK(dataset_is_empty(&got));

	/* the name is the key: decode takes it from the caller */
	CHECK_RC(repo_dataset_decode("other", 5, b.data, b.len, &got), 0);
	CHECK_STR(got.name, "other");
	repo_dataset_release(&got);
	/* the name is exactly name_len bytes */
	CHECK_RC(repo_dataset_decode("abcdef", 3, b.data, b.len, &got), 0);
	CHECK_STR(got.name, "abc");
	repo_dataset_release(&got);

	/* missing texts are encoded as empty strings */
	buf_reset(&b);
	d.industry = d.modality = d.license = d.description = NULL;
	d.tier = REPO_TIER_OPEN;
	d.id = 0;
	CHECK_RC(repo_dataset_encode(&d, &b), 0);
	CHECK_RC(dataset_decode_guarded(d.name, b.data, b.len, &got), 0);
	check_dataset_equal(&got, &d);
	repo_dataset_release(&got);
	buf_release(&b);
}

static void test_dataset_rejects(void)
{
	static char one_too_many[TEXT_MAX + 2];
	struct repo_dataset d, got;
	struct buf b;
	uint8_t *copy;

	buf_init(&b, 1 << 20);
	sample_dataset(&d);
	REQUIRE_RC(repo_dataset_encode(&d, &b), 0);
	copy = malloc(b.len + 1);
	REQUIRE(copy);

	/* every truncation */
	for (size_t n = 0; n < b.len; n++) {
		int rc = dataset_decode_guarded(d.name, b.data, n, &got);

		if (rc != -EINVAL)
			UNIT_FAIL("dataset record truncated to %zu of %zu: "
				  "decode returned %d",
				  n, b.len, rc);
		if (!dataset_is_empty(&got))
			UNIT_FAIL("dataset truncated to %zu: not empty", n);
		if (rc == 0)
			repo_dataset_release(&got);
	}
	/* a trailing byte */
	memcpy(copy, b.data, b.len);
	copy[b.len] = 0;
	CHECK_RC(dataset_decode_guarded(d.name, copy, b.len + 1, &got),
		 -EINVAL);
	CHECK(dataset_is_empty(&got));

	/* tiers past "secure" */
	for (unsigned t = 3; t < 256; t++) {
		memcpy(copy, b.data, b.len);
		copy[DATASET_TIER_OFF] = (uint8_t)t;
		if (dataset_decode_guarded(d.name, copy, b.len, &got) !=
		    -EINVAL)
			UNIT_FAIL("tier %u accepted", t);
	}
	for (unsigned t = 0; t < 3; t++) {
		memcpy(copy, b.data, b.len);
		copy[DATASET_TIER_OFF] = (uint8_t)t;
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got), 0);
		CHECK_INT(got.tier, t);
		repo_dataset_release(&got);
	}

	/* a NUL inside a text; a text longer than the record */
	{
		size_t text0 = DATASET_FIXED; /* industry's length */

		memcpy(copy, b.data, b.len);
		copy[text0 + 4 + 2] = '\0'; /* "le\0al" */
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got),
			 -EINVAL);
		memcpy(copy, b.data, b.len);
		copy[text0] = 200;
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got),
			 -EINVAL);
		memcpy(copy, b.data, b.len);
		copy[text0 + 3] = 0x80; /* 2 GiB */
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got),
			 -EINVAL);
	}

	/* the top directory must be a directory; nanoseconds < 1e9 */
	{
		static const uint32_t modes[] = {S_IFREG | 0755, S_IFLNK | 0777,
						 0755, S_IFCHR | 0600};
		uint8_t v[4];

		for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
			memcpy(copy, b.data, b.len);
			le32(copy + DATASET_ROOT_MODE_OFF, modes[k]);
			CHECK_RC(
			    dataset_decode_guarded(d.name, copy, b.len, &got),
			    -EINVAL);
		}
		memcpy(copy, b.data, b.len);
		le32(v, 1000000000);
		memcpy(copy + DATASET_NSEC_OFF, v, 4);
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got),
			 -EINVAL);
		le32(v, UINT32_MAX);
		memcpy(copy + DATASET_NSEC_OFF, v, 4);
		CHECK_RC(dataset_decode_guarded(d.name, copy, b.len, &got),
			 -EINVAL);
		CHECK(dataset_is_empty(&got));
	}

	/* the key must be a valid name */
	CHECK_RC(repo_dataset_decode("", 0, b.data, b.len, &got), -EINVAL);
	CHECK_RC(repo_dataset_decode("a/b", 3, b.data, b.len, &got), -EINVAL);
	CHECK_RC(repo_dataset_decode("..", 2, b.data, b.len, &got), -EINVAL);
	CHECK_RC(repo_dataset_decode("a\0b", 3, b.data, b.len, &got), -EINVAL);
	CHECK(dataset_is_empty(&got));

	/* texts are capped at 64 KiB */
	memset(one_too_many, 'x', TEXT_MAX + 1);
	d.description = one_too_many;
	buf_reset(&b);
	CHECK_RC(repo_dataset_encode(&d, &b), -EINVAL);
	one_too_many[TEXT_MAX] = '\0';
	buf_reset(&b);
	CHECK_RC(repo_dataset_encode(&d, &b), 0);
	CHECK_RC(dataset_decode_guarded(d.name, b.data, b.len, &got), 0);
	CHECK_U64(got.description ? strlen(got.description) : 0, TEXT_MAX);
	repo_dataset_release(&got);

	free(copy);
	buf_release(&b);
}

/* --------------------------------------------------------------- inodes */

static bool inode_is_empty(const struct repo_inode *i)
{
	static const struct repo_inode zero;

	return memcmp(i, &zero, sizeof(zero)) == 0;
}

struct inode_call {
	uint64_t ino;
	const void *val;
	size_t len;
	struct repo_inode *i;
	int rc;
};

static void inode_thunk(void *p)
{
	struct inode_call *c = p;

	c->rc = repo_inode_decode(c->ino, c->val, c->len, c->i);
}

static int inode_decode_guarded(uint64_t ino, const void *val, size_t len,
				struct repo_inode *i)
{
	struct inode_call call = {ino, unit_guarded(val, len), len, i, 1};

	memset(i, 0, sizeof(*i));
	if (unit_guarded_call(inode_thunk, &call)) {
		/* what the abandoned decode allocated is lost */
		memset(i, 0, sizeof(*i));
		return UNIT_FAULT_RC;
	}
	return call.rc;
}

static void check_inode_equal(const struct repo_inode *got,
			      const struct repo_inode *want)
{
	CHECK_U64(got->ino, want->ino);
	CHECK_U64(got->parent, want->parent);
	CHECK_STR(got->name, want->name ? want->name : "");
	CHECK_U64(got->mode, want->mode);
	CHECK_U64(got->nlink, want->nlink);
	CHECK_U64(got->size, want->size);
	CHECK_INT(got->mtime_sec, want->mtime_sec);
	CHECK_U64(got->mtime_nsec, want->mtime_nsec);
	if ((want->mode & S_IFMT) == S_IFREG) {
		CHECK(digest_equal(&got->sha256, &want->sha256));
		CHECK_U64(got->extent_count, want->extent_count);
		CHECK(got->extents != NULL);
		for (uint32_t k = 0; got->extents && k < want->extent_count &&
				     k < got->extent_count;
		     k++) {
			CHECK_U64(got->extents[k].chunk,
				  want->extents[k].chunk);
			CHECK_U64(got->extents[k].offset,
				  want->extents[k].offset);
			CHECK_U64(got->extents[k].length,
				  want->extents[k].length);
		}
	} else {
		CHECK_U64(got->extent_count, 0);
	}
	if ((want->mode & S_IFMT) == S_IFLNK)
		CHECK_STR(got->target, want->target);
	else
		CHECK(got->target == NULL);
}

static struct repo_extent sample_extents[] = {
    {7, 0, 1000},
    {8, 4096, 65536},
    {UINT32_MAX, UINT32_MAX - 5, 5},
};

static void sample_file(struct repo_inode *i)
{
	static char name[] = "ruling-2023-0001.txt";

	memset(i, 0, sizeof(*i));
	i->ino = 0x0100000000000042ull;
	i->parent = 0x0100000000000002ull;
	i->name = name;
	i->mode = S_IFREG | 0644;
	i->nlink = 1;
	i->size = 1000 + 65536 + 5;
	i->mtime_sec = 1700000000;
	i->mtime_nsec = 999999999;
	i->sha256 = digest_of("file");
	i->extent_count = 3;
	i->extents = sample_extents;
}

static void sample_symlink(struct repo_inode *i)
{
	static char name[] = "latest", target[] = "../2023/ruling.txt";

	memset(i, 0, sizeof(*i));
	i->ino = 9;
	i->parent = REPO_ROOT_INO;
	i->name = name;
	i->mode = S_IFLNK | 0777;
	i->nlink = 1;
	i->size = strlen(target);
	i->mtime_sec = -1; /* before 1970 */
	i->mtime_nsec = 5;
	i->target = target;
}

static void roundtrip_inode(const struct repo_inode *i, size_t want_len)
{
	struct repo_inode got;
	struct buf b;

	buf_init(&b, 1 << 20);
	CHECK_RC(repo_inode_encode(i, &b), 0);
	CHECK_U64(b.len, want_len);
	CHECK_RC(inode_decode_guarded(i->ino, b.data, b.len, &got), 0);
	check_inode_equal(&got, i);
	repo_inode_release(&got);
	CHECK(inode_is_empty(&got));
	buf_release(&b);
}

static size_t inode_fixed(const struct repo_inode *i)
{
	return 8 + 4 + (i->name ? strlen(i->name) : 0) + INODE_FIXED_AFTER_NAME;
}

static void test_inode_roundtrip(void)
{
	static char docs[] = "\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6";
	static char empty[] = "";
	static char longest[REPO_NAME_MAX + 1];
	struct repo_inode i;

	sample_file(&i);
	roundtrip_inode(&i, inode_fixed(&i) + 32 + 4 + 3 * 12);

	/* an empty regular file has no extents */
	i.size = 0;
	i.extent_count = 0;
	i.extents = NULL;
	roundtrip_inode(&i, inode_fixed(&i) + 32 + 4);

	/* directories: the root (name "", its own parent) and a child */
	memset(&i, 0, sizeof(i));
	i.ino = REPO_ROOT_INO;
	i.parent = REPO_ROOT_INO;
	i.name = empty;
	i.mode = S_IFDIR | 0755;
	i.nlink = 5;
	i.size = 4096;
	i.mtime_sec = INT64_MIN;
	roundtrip_inode(&i, inode_fixed(&i));
	i.name = NULL; /* NULL encodes as "" */
	roundtrip_inode(&i, inode_fixed(&i));
	i.ino = 2;
	i.name = docs;
	i.mtime_sec = INT64_MAX;
	roundtrip_inode(&i, inode_fixed(&i));
	memset(longest, 'n', REPO_NAME_MAX);
	i.name = longest;
	roundtrip_inode(&i, inode_fixed(&i));

	sample_symlink(&i);
	roundtrip_inode(&i, inode_fixed(&i) + strlen(i.target));
}

/* Every strict prefix of rec fails with -EINVAL and leaves i empty. */
static void check_truncations(const char *what, const struct buf *rec)
{
	size_t faults = 0, first_fault = 0;
	struct repo_inode got;

	for (size_t n = 0; n < rec->len; n++) {
		int rc = inode_decode_guarded(3, rec->data, n, &got);

		if (rc == UNIT_FAULT_RC) {
			if (!faults++)
				first_fault = n;
			continue;
		}
		if (rc != -EINVAL)
			UNIT_FAIL("%s truncated to %zu of %zu: decode "
				  "returned %d",
				  what, n, rec->len, rc);
		if (rc == 0)
			repo_inode_release(&got);
		else if (rc < 0 && !inode_is_empty(&got))
			UNIT_FAIL("%s truncated to %zu: inode not empty", what,
				  n);
	}
	if (faults)
		UNIT_FAIL(
		    "%s truncated to %zu.. of %zu bytes: decode read past "
		    "the end of the record (%zu prefix lengths)",
		    what, first_fault, rec->len, faults);
}

static void test_inode_truncated(void)
{
	struct repo_inode i;
	struct buf b;

	buf_init(&b, 1 << 20);
	sample_file(&i);
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	check_truncations("regular file", &b);

	buf_reset(&b);
	i.mode = S_IFDIR | 0755;
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	check_truncations("directory", &b);

	buf_reset(&b);
	sample_symlink(&i);
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	check_truncations("symlink", &b);
	buf_release(&b);
}

/* Encode i, let patch change the bytes, decode: expect want. */
static void check_patched(const char *what, const struct repo_inode *i,
			  size_t off, const void *bytes, size_t n, int want)
{
	struct repo_inode got;
	struct buf b;
	int rc;

	buf_init(&b, 1 << 20);
	REQUIRE_RC(repo_inode_encode(i, &b), 0);
	REQUIRE(off + n <= b.len);
	memcpy(b.data + off, bytes, n);
	rc = inode_decode_guarded(i->ino, b.data, b.len, &got);
	if (rc == UNIT_FAULT_RC)
		UNIT_FAIL("%s: decode read past the end of the %zu-byte "
			  "record",
			  what, b.len);
	else if (rc != want)
		UNIT_FAIL("%s: decode returned %d, expected %d", what, rc,
			  want);
	if (rc == 0)
		repo_inode_release(&got);
	else if (rc < 0 && !inode_is_empty(&got))
		UNIT_FAIL("%s: inode not empty after error", what);
	buf_release(&b);
}

static void test_inode_rejects(void)
{
	struct repo_inode i, got;
	struct buf b;
	uint8_t v[4];
	size_t name_off = 8 + 4, mode_off, nsec_off, after;

	buf_init(&b, 1 << 20);
	sample_file(&i);
	mode_off = name_off + strlen(i.name);
	nsec_off = mode_off + 4 + 4 + 8 + 8;
	after = nsec_off + 4;

	/* trailing bytes, for each type */
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	REQUIRE_RC(buf_put_u8(&b, 0), 0);
	CHECK_RC(inode_decode_guarded(i.ino, b.data, b.len, &got), -EINVAL);
	buf_reset(&b);
	i.mode = S_IFDIR | 0755;
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	REQUIRE_RC(buf_put_u8(&b, 'x'), 0);
	CHECK_RC(inode_decode_guarded(i.ino, b.data, b.len, &got), -EINVAL);
	/* a symlink's target runs to the end of the record: a trailing
	 * byte makes it longer than its size */
	buf_reset(&b);
	sample_symlink(&i);
	REQUIRE_RC(repo_inode_encode(&i, &b), 0);
	REQUIRE_RC(buf_put_u8(&b, 'x'), 0);
	CHECK_RC(inode_decode_guarded(i.ino, b.data, b.len, &got), -EINVAL);

	/* extents that do not add up to the size */
	sample_file(&i);
	i.size += 1;
	check_patched("extents short of size", &i, 0, "", 0, -EINVAL);
	i.size -= 2;
	check_patched("extents past size", &i, 0, "", 0, -EINVAL);
	i.size = 0;
	i.extent_count = 1;
	check_patched("one extent, size 0", &i, 0, "", 0, -EINVAL);
	i.extent_count = 0;
	i.size = 1;
	check_patched("no extents, size 1", &i, 0, "", 0, -EINVAL);
	/* extents whose lengths wrap a u32 still sum exactly in u64 */
	{
		struct repo_extent big[] = {
		    {0, 0, UINT32_MAX}, {1, 0, UINT32_MAX}, {2, 0, 2}};

		sample_file(&i);
		i.extents = big;
		i.extent_count = 3;
		i.size = 2ull * UINT32_MAX + 2;
		check_patched("extents over 4 GiB", &i, 0, "", 0, 0);
		i.size = 0;
		check_patched("extents summing to 0 mod 2^32", &i, 0, "", 0,
			      -EINVAL);
	}
	/* an extent count larger than the record */
	sample_file(&i);
	le32(v, 4);
	check_patched("extent count 4 of 3", &i, after + 32, v, 4, -EINVAL);
	le32(v, UINT32_MAX);
	check_patched("extent count 2^32-1", &i, after + 32, v, 4, -EINVAL);
	le32(v, 2);
	check_patched("extent count 2 of 3", &i, after + 32, v, 4, -EINVAL);

	/* mtime_nsec must be < 1e9 */
	le32(v, 1000000000);
	check_patched("mtime_nsec 1e9", &i, nsec_off, v, 4, -EINVAL);
	le32(v, UINT32_MAX);
	check_patched("mtime_nsec 2^32-1", &i, nsec_off, v, 4, -EINVAL);
	le32(v, 999999999);
	check_patched("mtime_nsec 999999999", &i, nsec_off, v, 4, 0);

	/* file types other than regular, directory, symlink */
	{
		static const uint32_t types[] = {0,	  S_IFCHR,  S_IFBLK,
						 S_IFIFO, S_IFSOCK, 0170000};

		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
			struct repo_inode odd;

			sample_file(&i);
			le32(v, types[k] | 0644);
			check_patched("unknown file type", &i, mode_off, v, 4,
				      -EINVAL);
			odd = i;
			odd.mode = types[k] | 0644;
			buf_reset(&b);
			CHECK_RC(repo_inode_encode(&odd, &b), -EINVAL);
		}
	}

	/* names: NUL inside, longer than 255, longer than the record */
	sample_file(&i);
	check_patched("NUL in name", &i, name_off + 3, "", 1, -EINVAL);
	le32(v, REPO_NAME_MAX + 1);
	check_patched("name length 256", &i, 8, v, 4, -EINVAL);
	le32(v, UINT32_MAX);
	check_patched("name length 2^32-1", &i, 8, v, 4, -EINVAL);
	{
		char long_name[REPO_NAME_MAX + 2];

		memset(long_name, 'n', REPO_NAME_MAX + 1);
		long_name[REPO_NAME_MAX + 1] = '\0';
		i.name = long_name;
		buf_reset(&b);
		CHECK_RC(repo_inode_encode(&i, &b), -EINVAL);
	}
	buf_release(&b);
}

static void test_symlink_rejects(void)
{
	static char with_nul[] = "abc";
	struct repo_inode i;
	struct buf b;
	uint8_t v[8];
	size_t size_off, target_off;

	buf_init(&b, 1 << 20);
	sample_symlink(&i);
	size_off = 8 + 4 + strlen(i.name) + 4 + 4;
	target_off = size_off + 8 + 8 + 4;

	/* a NUL inside the target */
	check_patched("NUL in symlink target", &i, target_off + 2, "", 1,
		      -EINVAL);
	check_patched("NUL at end of symlink target", &i,
		      target_off + strlen(i.target) - 1, "", 1, -EINVAL);
	check_patched("NUL at start of symlink target", &i, target_off, "", 1,
		      -EINVAL);

	/* the size must be the target's length: 0, smaller, larger, huge */
	{
		const uint64_t len = strlen(i.target);
		const uint64_t sizes[] = {0,	1,    len - 1,	  len + 1,   64,
					  4096, 4097, 1ull << 32, UINT64_MAX};

		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			char what[80];

			for (int j = 0; j < 8; j++)
				v[j] = (uint8_t)(sizes[k] >> (8 * j));
			snprintf(what, sizeof(what),
				 "symlink size %" PRIu64 " with a %" PRIu64
				 "-byte target",
				 sizes[k], len);
			check_patched(what, &i, size_off, v, 8, -EINVAL);
		}
	}

	/* encode refuses a target that disagrees with the size */
	i.size += 1;
	CHECK_RC(repo_inode_encode(&i, &b), -EINVAL);
	i.size = 3;
	i.target = with_nul;
	with_nul[1] = '\0';
	buf_reset(&b);
	CHECK_RC(repo_inode_encode(&i, &b), -EINVAL);
	i.target = NULL;
	buf_reset(&b);
	CHECK_RC(repo_inode_encode(&i, &b), -EINVAL);
	buf_release(&b);
}

/* --------------------------------------------------------------- chunks */

static void sample_chunk(struct repo_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->digest = digest_of("chunk");
	c->shard = digest_of("shard");
	c->offset = 0x0123456789abcdefull;
	c->stored_size = REPO_CHUNK_MAX + REPO_CHUNK_MAX / 8;
	c->size = REPO_CHUNK_MAX;
	c->flags = REPO_CHUNK_ZSTD | REPO_CHUNK_ENCRYPTED;
}

struct chunk_call {
	const void *val;
	size_t len;
	struct repo_chunk *c;
	int rc;
};

static void chunk_thunk(void *p)
{
	struct chunk_call *c = p;

	c->rc = repo_chunk_record_decode(c->val, c->len, c->c);
}

static int chunk_decode_guarded(const void *val, size_t len,
				struct repo_chunk *c)
{
	struct chunk_call call = {unit_guarded(val, len), len, c, 1};

	if (unit_guarded_call(chunk_thunk, &call)) {
		UNIT_FAIL("chunk record decode read past the end of %zu bytes",
			  len);
		return UNIT_FAULT_RC;
	}
	return call.rc;
}

static void test_chunk_record(void)
{
	struct repo_chunk c, got;
	struct buf b;
	uint8_t *copy;

	buf_init(&b, 1 << 20);
	sample_chunk(&c);
	CHECK_RC(repo_chunk_record_encode(&c, &b), 0);
	CHECK_U64(b.len, 32 + 32 + 8 + 4 + 4 + 4);
	CHECK_RC(chunk_decode_guarded(b.data, b.len, &got), 0);
	CHECK(digest_equal(&got.digest, &c.digest));
	CHECK(digest_equal(&got.shard, &c.shard));
	CHECK_U64(got.offset, c.offset);
	CHECK_U64(got.stored_size, c.stored_size);
	CHECK_U64(got.size, c.size);
	CHECK_U64(got.flags, c.flags);
	/* field layout: little-endian after the two digests */
	CHECK(b.len == 84 && load_le64(b.data + 64) == c.offset &&
	      load_le32(b.data + 72) == c.stored_size &&
	      load_le32(b.data + 76) == c.size &&
	      load_le32(b.data + 80) == c.flags);

	copy = malloc(b.len + 1);
	REQUIRE(copy);
	for (size_t n = 0; n < b.len; n++)
		if (chunk_decode_guarded(b.data, n, &got) != -EINVAL)
			UNIT_FAIL("chunk record truncated to %zu accepted", n);
	memcpy(copy, b.data, b.len);
	copy[b.len] = 0;
	CHECK_RC(chunk_decode_guarded(copy, b.len + 1, &got), -EINVAL);

	/* flags: only ZSTD and ENCRYPTED are known */
	for (unsigned bit = 2; bit < 32; bit++) {
		memcpy(copy, b.data, b.len);
		store_be32(copy + 80, 0); /* clear, then set LE */
		copy[80 + bit / 8] = (uint8_t)(1u << (bit % 8));
		if (chunk_decode_guarded(copy, b.len, &got) != -EINVAL)
			UNIT_FAIL("chunk flag bit %u accepted", bit);
	}
	for (uint32_t f = 0; f < 4; f++) {
		memcpy(copy, b.data, b.len);
		le32(copy + 80, f);
		CHECK_RC(chunk_decode_guarded(copy, b.len, &got), 0);
		CHECK_U64(got.flags, f);
	}

	/* sizes past the caps */
	memcpy(copy, b.data, b.len);
	le32(copy + 76, REPO_CHUNK_MAX + 1);
	CHECK_RC(chunk_decode_guarded(copy, b.len, &got), -EINVAL);
	memcpy(copy, b.data, b.len);
	le32(copy + 72, REPO_STORED_MAX + 1);
	CHECK_RC(chunk_decode_guarded(copy, b.len, &got), -EINVAL);
	memcpy(copy, b.data, b.len);
	le32(copy + 72, 0);
	le32(copy + 76, 0);
	CHECK_RC(chunk_decode_guarded(copy, b.len, &got), 0);

	free(copy);
	buf_release(&b);
}

/* ---------------------------------------------------------------- names */

struct name_case {
	const char *s;
	size_t len; /* 0: strlen(s) */
	bool valid;
};

#define OK(str)                                                                \
	{                                                                      \
		str, sizeof(str) - 1, true                                     \
	}
#define BAD(str)                                                               \
	{                                                                      \
		str, sizeof(str) - 1, false                                    \
	}

static const struct name_case name_cases[] = {
    OK("a"),
    OK("readme.txt"),
    OK(".hidden"),
    OK("..."),
    OK(".a"),
    OK("a b"),
    OK("~!@#$%^&*()_+-=[]{};':\",.<>?\\|`"),
    OK("\xe6\xb3\x95\xe5\xbe\x8b\xe6\x96\x87\xe4\xb9\xa6"), /* 法律文书 */
    OK("\xf0\x9f\x98\x80"),				    /* U+1F600 */
    OK("caf\xc3\xa9"),
    OK("\xc2\xa0"),	    /* U+00A0, first after C1 */
    OK("\xed\x9f\xbf"),	    /* U+D7FF */
    OK("\xee\x80\x80"),	    /* U+E000 */
    OK("\xef\xbf\xbd"),	    /* U+FFFD */
    OK("\xf0\x90\x80\x80"), /* U+10000 */
    OK("\xf4\x8f\xbf\xbf"), /* U+10FFFF */
    OK("\xdf\xbf"),	    /* U+07FF */
    OK("\xe0\xa0\x80"),	    /* U+0800 */
    OK(" "),
    BAD(""),
    BAD("."),
    BAD(".."),
    BAD("a/b"),
    BAD("/"),
    BAD("a/"),
    BAD("a\nb"),
    BAD("a\tb"),
    BAD("\r"),
    BAD("\x01"),
    BAD("\x1f"),
    BAD("a\x7f"),
    BAD("a\0b"),
    BAD("\0"),
    BAD("\xc2\x80"), /* U+0080, C1 */
    BAD("\xc2\x85"), /* U+0085, NEL */
    BAD("\xc2\x9f"), /* U+009F, C1 */
    BAD("\xc0\xaf"), /* overlong '/' */
    BAD("\xc0\x80"), /* overlong NUL */
    BAD("\xc1\xbf"),
    BAD("\xe0\x80\xaf"),     /* overlong '/' */
    BAD("\xe0\x9f\xbf"),     /* overlong U+07FF */
    BAD("\xf0\x80\x80\xaf"), /* overlong '/' */
    BAD("\xf0\x8f\xbf\xbf"), /* overlong U+FFFF */
    BAD("\xed\xa0\x80"),     /* U+D800 */
    BAD("\xed\xbf\xbf"),     /* U+DFFF */
    BAD("\xf4\x90\x80\x80"), /* U+110000 */
    BAD("\xf5\x80\x80\x80"),
    BAD("\xf7\xbf\xbf\xbf"),
    BAD("\xf8\x88\x80\x80\x80"),
    BAD("\xfc\x84\x80\x80\x80\x80"),
    BAD("\xfe"),
    BAD("\xff"),
    BAD("\x80"),     /* lone continuation */
    BAD("a\xbf"),    /* lone continuation */
    BAD("\xc3"),     /* truncated 2-byte */
    BAD("\xe6\xb3"), /* truncated 3-byte */
    BAD("\xe6"),
    BAD("\xf0\x9f\x98"), /* truncated 4-byte */
    BAD("\xe6\xb3"
	"a"),
    BAD("\xc3"
	"a"),
    BAD("\xf0\x9f\x98"
	"a"),
    BAD("\xe6\xb3\x95\xc3"),
    BAD("\xc3\xc3\xa9"),
};

struct name_call {
	const char *name;
	size_t len;
	const char *why;
};

static void name_thunk(void *p)
{
	struct name_call *c = p;

	c->why = repo_name_invalid_reason(c->name, c->len);
}

static void test_names(void)
{
	char name[REPO_NAME_MAX + 2];

	for (size_t k = 0; k < sizeof(name_cases) / sizeof(name_cases[0]);
	     k++) {
		const struct name_case *nc = &name_cases[k];
		struct name_call call = {unit_guarded(nc->s, nc->len), nc->len,
					 ""};
		const char *why;

		if (unit_guarded_call(name_thunk, &call)) {
			UNIT_FAIL("name case %zu: read past the end", k);
			continue;
		}
		why = call.why;
		if (nc->valid && why)
			UNIT_FAIL("name case %zu (%zu bytes) rejected: %s", k,
				  nc->len, why);
		if (!nc->valid && !why)
			UNIT_FAIL("name case %zu (%zu bytes) accepted", k,
				  nc->len);
	}

	/* length: 255 bytes yes, 256 no, for ASCII and for 3-byte UTF-8 */
	memset(name, 'a', sizeof(name));
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX) == NULL);
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX + 1) != NULL);
	for (int k = 0; k < REPO_NAME_MAX / 3; k++)
		memcpy(name + 3 * k, "\xe6\xb3\x95", 3);
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX) == NULL);
	memcpy(name + REPO_NAME_MAX, "x", 1);
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX + 1) != NULL);
	/* the length cut inside a character */
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX - 1) != NULL);
	CHECK(repo_name_invalid_reason(name, REPO_NAME_MAX - 2) != NULL);

	/* every single byte: valid iff printable ASCII other than '/' */
	for (unsigned c = 0; c < 256; c++) {
		char s[1] = {(char)c};
		bool want = c >= 0x20 && c < 0x7f && c != '/' && c != '.';

		if ((repo_name_invalid_reason(s, 1) == NULL) != want)
			UNIT_FAIL("one-byte name 0x%02x: wrong verdict", c);
	}

	/* every two-byte sequence: agrees with a reference decoder */
	for (unsigned c0 = 0x80; c0 < 256; c0++) {
		for (unsigned c1 = 0; c1 < 256; c1++) {
			char s[2] = {(char)c0, (char)c1};
			unsigned cp = (c0 & 0x1f) << 6 | (c1 & 0x3f);
			bool want = c0 >= 0xc2 && c0 <= 0xdf &&
				    (c1 & 0xc0) == 0x80 && cp >= 0xa0;

			if ((repo_name_invalid_reason(s, 2) == NULL) != want)
				UNIT_FAIL("name \\x%02x\\x%02x: wrong verdict",
					  c0, c1);
		}
	}

	/* the reason is a readable string */
	CHECK(repo_name_invalid_reason("a/b", 3) != NULL &&
	      strlen(repo_name_invalid_reason("a/b", 3)) > 0);
}

/* ------------------------------------------------------ tiers and paths */

static void test_tiers(void)
{
	static const char *const names[] = {"open", "shared", "secure"};
	enum repo_tier t;

	for (int k = 0; k < 3; k++) {
		CHECK_STR(repo_tier_name((enum repo_tier)k), names[k]);
		t = (enum repo_tier)99;
		CHECK_RC(repo_tier_parse(names[k], &t), 0);
		CHECK_INT(t, k);
	}
	CHECK_INT(REPO_TIER_OPEN, 0);
	CHECK_INT(REPO_TIER_SHARED, 1);
	CHECK_INT(REPO_TIER_SECURE, 2);
	CHECK(repo_tier_name((enum repo_tier)3) == NULL);
	CHECK(repo_tier_name((enum repo_tier)255) == NULL);
	CHECK(repo_tier_name((enum repo_tier) - 1) == NULL);
	t = REPO_TIER_SHARED;
	CHECK_RC(repo_tier_parse("", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("Open", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("OPEN", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("opens", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("ope", &t), -EINVAL);
	CHECK_RC(repo_tier_parse(" open", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("private", &t), -EINVAL);
	CHECK_RC(repo_tier_parse("0", &t), -EINVAL);
	CHECK_INT(t, REPO_TIER_SHARED); /* untouched on error */
}

static void test_object_paths(void)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1], want[128], out[128];

	for (int k = 0; k < DIGEST_LEN; k++)
		d.b[k] = (uint8_t)(0xab + 17 * k);
	digest_to_hex(&d, hex);
	CHECK_U64(strlen(hex), 64);

	memset(out, '#', sizeof(out));
	repo_shard_object_path(&d, out, 80);
	snprintf(want, sizeof(want), "data/ab/%s", hex);
	CHECK_STR(out, want);
	CHECK_U64(strlen(out), 5 + 3 + 64);
	CHECK(out[73] == '#'); /* nothing past the NUL */

	memset(out, '#', sizeof(out));
	repo_catalog_object_path(&d, out, 80);
	snprintf(want, sizeof(want), "catalog/%s", hex);
	CHECK_STR(out, want);
	CHECK_U64(strlen(out), 8 + 64);
	CHECK(out[73] == '#');

	/* lowercase hex, leading zero digits kept */
	memset(&d, 0, sizeof(d));
	d.b[0] = 0x0f;
	d.b[31] = 0xa0;
	memset(hex, '0', 2 * DIGEST_LEN);
	hex[1] = 'f';
	hex[2 * DIGEST_LEN - 2] = 'a';
	hex[2 * DIGEST_LEN] = '\0';
	repo_shard_object_path(&d, out, sizeof(out));
	snprintf(want, sizeof(want), "data/0f/%s", hex);
	CHECK_STR(out, want);
	repo_catalog_object_path(&d, out, sizeof(out));
	snprintf(want, sizeof(want), "catalog/%s", hex);
	CHECK_STR(out, want);

	/* a short buffer is truncated, NUL-terminated, not overrun */
	memset(out, '#', sizeof(out));
	repo_shard_object_path(&d, out, 10);
	CHECK_STR(out, "data/0f/0");
	CHECK(out[10] == '#');
	memset(out, '#', sizeof(out));
	repo_catalog_object_path(&d, out, 5);
	CHECK_STR(out, "cata");
	CHECK(out[5] == '#');
}

static void test_dirent_key(void)
{
	uint8_t key[8 + REPO_NAME_MAX], other[8 + REPO_NAME_MAX];
	char name[REPO_NAME_MAX + 10];
	size_t n, m;

	memset(key, 0xee, sizeof(key));
	n = repo_dirent_key(0x0102030405060708ull, "abc", 3, key);
	CHECK_U64(n, 11);
	CHECK_MEM(key,
		  "\x01\x02\x03\x04\x05\x06\x07\x08"
		  "abc",
		  11);
	CHECK(key[11] == 0xee);

	n = repo_dirent_key(REPO_ROOT_INO, "", 0, key);
	CHECK_U64(n, 8);
	CHECK_MEM(key, "\0\0\0\0\0\0\0\x01", 8);

	/* the name is taken as bytes, NULs and all */
	n = repo_dirent_key(UINT64_MAX, "a\0b", 3, key);
	CHECK_U64(n, 11);
	CHECK_MEM(key,
		  "\xff\xff\xff\xff\xff\xff\xff\xff"
		  "a\0b",
		  11);

	memset(name, 'q', sizeof(name));
	n = repo_dirent_key(7, name, REPO_NAME_MAX, key);
	CHECK_U64(n, 8 + REPO_NAME_MAX);
	CHECK(key[8 + REPO_NAME_MAX - 1] == 'q');

	/* big-endian parents sort numerically under memcmp */
	n = repo_dirent_key(255, "z", 1, key);
	m = repo_dirent_key(256, "a", 1, other);
	CHECK(n == m && memcmp(key, other, n) < 0);
	n = repo_dirent_key(1ull << 32, "a", 1, key);
	m = repo_dirent_key((1ull << 32) - 1, "zzz", 3, other);
	CHECK(memcmp(key, other, 8) > 0);
	/* within a parent, names sort bytewise and prefixes first */
	n = repo_dirent_key(5, "ab", 2, key);
	m = repo_dirent_key(5, "abc", 3, other);
	CHECK(memcmp(key, other, n < m ? n : m) == 0 && n < m);
}

int main(void)
{
	RUN(test_dataset_roundtrip);
	RUN(test_dataset_rejects);
	RUN(test_inode_roundtrip);
	RUN(test_inode_truncated);
	RUN(test_inode_rejects);
	RUN(test_symlink_rejects);
	RUN(test_chunk_record);
	RUN(test_names);
	RUN(test_tiers);
	RUN(test_object_paths);
	RUN(test_dirent_key);
	return unit_result();
}

/* Catalog record encodings (docs/FORMAT.md "catalog records"). */
#include "repo.h"
#include "utf8.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

#define RECORD_MAX (64u * 1024 * 1024)
#define TEXT_MAX (64u * 1024)

static const char *const tier_names[] = {"open", "shared", "secure"};

const char *repo_tier_name(enum repo_tier t)
{
	if ((unsigned)t >= sizeof(tier_names) / sizeof(tier_names[0]))
		return NULL;
	return tier_names[t];
}

int repo_tier_parse(const char *name, enum repo_tier *out)
{
	for (unsigned i = 0; i < sizeof(tier_names) / sizeof(tier_names[0]);
	     i++) {
		if (!strcmp(name, tier_names[i])) {
			*out = (enum repo_tier)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A bounds-checked reader over one record. */
struct reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t take_le32(struct reader *r)
{
	const uint8_t *p = take(r, 4);

	return p ? load_le32(p) : 0;
}

static uint64_t take_le64(struct reader *r)
{
	const uint8_t *p = take(r, 8);

	return p ? load_le64(p) : 0;
}

static uint8_t take_u8(struct reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

static void take_digest(struct reader *r, struct digest *d)
{
	const uint8_t *p = take(r, DIGEST_LEN);

	if (p)
		memcpy(d->b, p, DIGEST_LEN);
}

/* A u32-length-prefixed string without NUL bytes, as a new C string. */
static char *take_lstring(struct reader *r, size_t max)
{
	uint32_t n = take_le32(r);
	const uint8_t *p;

	if (n > max) {
		r->bad = true;
		return NULL;
	}
	p = take(r, n);
	if (!p || memchr(p, '\0', n)) {
		r->bad = true;
		return NULL;
	}
	return xstrndup((const char *)p, n);
}

static int put_digest(struct buf *b, const struct digest *d)
{
	return buf_append(b, d->b, DIGEST_LEN);
}

int repo_dataset_encode(const struct repo_dataset *d, struct buf *out)
{
	const char *texts[] = {d->industry, d->modality, d->license,
			       d->description};
	int rc = buf_put_le32(out, d->id);

	rc = rc ? rc : buf_put_u8(out, (uint8_t)d->tier);
	rc = rc ? rc : buf_put_le64(out, d->files);
	rc = rc ? rc : buf_put_le64(out, d->bytes);
	rc = rc ? rc : put_digest(out, &d->catalog);
	rc = rc ? rc : buf_put_le64(out, d->catalog_size);
	rc = rc ? rc : buf_put_le32(out, d->root_mode);
	rc = rc ? rc : buf_put_le32(out, d->root_nlink);
	rc = rc ? rc : buf_put_le64(out, d->root_size);
	rc = rc ? rc : buf_put_le64(out, (uint64_t)d->mtime_sec);
	rc = rc ? rc : buf_put_le32(out, d->mtime_nsec);
	for (unsigned i = 0; !rc && i < 4; i++) {
		const char *s = texts[i] ? texts[i] : "";

		if (strlen(s) > TEXT_MAX)
			return -EINVAL;
		rc = buf_put_lstring(out, s, strlen(s));
	}
	return rc;
}

int repo_dataset_decode(const char *name, size_t name_len, const void *val,
			size_t len, struct repo_dataset *d)
{
	struct reader r = {val, len, false};

	memset(d, 0, sizeof(*d));
	if (repo_name_invalid_reason(name, name_len))
		return -EINVAL;
	d->id = take_le32(&r);
	d->tier = (enum repo_tier)take_u8(&r);
	d->files = take_le64(&r);
	d->bytes = take_le64(&r);
	take_digest(&r, &d->catalog);
	d->catalog_size = take_le64(&r);
	d->root_mode = take_le32(&r);
	d->root_nlink = take_le32(&r);
	d->root_size = take_le64(&r);
	d->mtime_sec = (int64_t)take_le64(&r);
	d->mtime_nsec = take_le32(&r);
	d->industry = take_lstring(&r, TEXT_MAX);
	d->modality = take_lstring(&r, TEXT_MAX);
	d->license = take_lstring(&r, TEXT_MAX);
	d->description = take_lstring(&r, TEXT_MAX);
	d->name = xstrndup(name, name_len);
	if (r.bad || r.left != 0 || !repo_tier_name(d->tier) ||
	    (d->root_mode & S_IFMT) != S_IFDIR ||
	    d->mtime_nsec >= 1000000000u) {
		repo_dataset_release(d);
		return -EINVAL;
	}
	return 0;
}

void repo_dataset_release(struct repo_dataset *d)
{
	free(d->name);
	free(d->industry);
	free(d->modality);
	free(d->license);
	free(d->description);
	free(d->contributor);
	memset(d, 0, sizeof(*d));
}

int repo_inode_encode(const struct repo_inode *i, struct buf *out)
{
	size_t name_len = i->name ? strlen(i->name) : 0;
	int rc;

	if (name_len > REPO_NAME_MAX)
		return -EINVAL;
	rc = buf_put_le64(out, i->parent);
	rc = rc ? rc : buf_put_lstring(out, i->name ? i->name : "", name_len);
	rc = rc ? rc : buf_put_le32(out, i->mode);
	rc = rc ? rc : buf_put_le32(out, i->nlink);
	rc = rc ? rc : buf_put_le64(out, i->size);
	rc = rc ? rc : buf_put_le64(out, (uint64_t)i->mtime_sec);
	rc = rc ? rc : buf_put_le32(out, i->mtime_nsec);
	if (rc)
		return rc;
	switch (i->mode & S_IFMT) {
	case S_IFREG:
		rc = put_digest(out, &i->sha256);
		rc = rc ? rc : buf_put_le32(out, i->extent_count);
		for (uint32_t k = 0; !rc && k < i->extent_count; k++) {
			rc = buf_put_le32(out, i->extents[k].chunk);
			rc = rc ? rc : buf_put_le32(out, i->extents[k].offset);
			rc = rc ? rc : buf_put_le32(out, i->extents[k].length);
		}
		return rc;
	case S_IFLNK:
		if (!i->target || strlen(i->target) != i->size)
			return -EINVAL;
		return buf_append(out, i->target, i->size);
	case S_IFDIR:
		return 0;
	default:
		return -EINVAL;
	}
}

int repo_inode_decode(uint64_t ino, const void *val, size_t len,
		      struct repo_inode *i)
{
	struct reader r = {val, len, false};
	uint64_t total = 0;

	memset(i, 0, sizeof(*i));
	i->ino = ino;
	i->parent = take_le64(&r);
	i->name = take_lstring(&r, REPO_NAME_MAX);
	i->mode = take_le32(&r);
	i->nlink = take_le32(&r);
	i->size = take_le64(&r);
	i->mtime_sec = (int64_t)take_le64(&r);
	i->mtime_nsec = take_le32(&r);
	if (r.bad || i->mtime_nsec >= 1000000000u)
		goto bad;
	switch (i->mode & S_IFMT) {
	case S_IFREG:
		take_digest(&r, &i->sha256);
		i->extent_count = take_le32(&r);
		if (r.bad || i->extent_count > r.left / 12)
			goto bad;
		i->extents = xcalloc(i->extent_count ? i->extent_count : 1,
				     sizeof(*i->extents));
		for (uint32_t k = 0; k < i->extent_count; k++) {
			i->extents[k].chunk = take_le32(&r);
			i->extents[k].offset = take_le32(&r);
			i->extents[k].length = take_le32(&r);
			total += i->extents[k].length;
		}
		if (total != i->size)
			goto bad;
		break;
	case S_IFLNK: {
		const uint8_t *t = take(&r, r.left);

		/* the target is the rest of the record: sizes must agree
		 * before its bytes are looked at */
		if (!t || r.left != 0 || i->size == 0 || i->size > 4096 ||
		    (size_t)(r.p - t) != i->size ||
		    memchr(t, '\0', (size_t)i->size))
			goto bad;
		i->target = xstrndup((const char *)t, (size_t)i->size);
		break;
	}
	case S_IFDIR:
		break;
	default:
		goto bad;
	}
	if (r.bad || r.left != 0)
		goto bad;
	return 0;
bad:
	repo_inode_release(i);
	return -EINVAL;
}

void repo_inode_release(struct repo_inode *i)
{
	free(i->name);
	free(i->extents);
	free(i->target);
	memset(i, 0, sizeof(*i));
}

int repo_chunk_record_encode(const struct repo_chunk *c, struct buf *out)
{
	int rc = put_digest(out, &c->digest);

	rc = rc ? rc : put_digest(out, &c->shard);
	rc = rc ? rc : buf_put_le64(out, c->offset);
	rc = rc ? rc : buf_put_le32(out, c->stored_size);
	rc = rc ? rc : buf_put_le32(out, c->size);
	rc = rc ? rc : buf_put_le32(out, c->flags);
	return rc;
}

int repo_chunk_record_decode(const void *val, size_t len, struct repo_chunk *c)
{
	struct reader r = {val, len, false};

	memset(c, 0, sizeof(*c));
	take_digest(&r, &c->digest);
	take_digest(&r, &c->shard);
	c->offset = take_le64(&r);
	c->stored_size = take_le32(&r);
	c->size = take_le32(&r);
	c->flags = take_le32(&r);
	if (r.bad || r.left != 0 || c->size > REPO_CHUNK_MAX ||
	    c->stored_size > REPO_STORED_MAX ||
	    (c->flags & ~(uint32_t)(REPO_CHUNK_ZSTD | REPO_CHUNK_ENCRYPTED)))
		return -EINVAL;
	return 0;
}

size_t repo_dirent_key(uint64_t parent, const char *name, size_t name_len,
		       uint8_t out[8 + REPO_NAME_MAX])
{
	store_be64(out, parent);
	if (name_len > REPO_NAME_MAX)
		name_len = REPO_NAME_MAX;
	memcpy(out + 8, name, name_len);
	return 8 + name_len;
}

const char *repo_name_invalid_reason(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0;

	if (len == 0)
		return "empty name";
	if (len > REPO_NAME_MAX)
		return "name longer than 255 bytes";
	if ((len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return "name is '.' or '..'";
	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			return "name is not valid UTF-8";
		if (cp == '/')
			return "name contains '/'";
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return "name contains a control character";
		i += n;
	}
	return NULL;
}

void repo_catalog_object_path(const struct digest *d, char *out, size_t n)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	snprintf(out, n, "catalog/%s", hex);
}

void repo_shard_object_path(const struct digest *d, char *out, size_t n)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	snprintf(out, n, "data/%.2s/%s", hex, hex);
}

char *repo_sealed_key_object_path(const char *dataset, const char *node_id)
{
	return xasprintf("keys/%s/%s", dataset, node_id);
}

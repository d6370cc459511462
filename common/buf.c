#include "buf.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t want;

	if (n > b->max || b->len > b->max - n)
		return -EFBIG;
	want = b->len + n;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	if (want > b->max)
		want = b->max;
	b->data = xrealloc(b->data, want);
	b->alloc = want;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_put_le32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = {v, v >> 8, v >> 16, v >> 24};

	return buf_append(b, p, sizeof(p));
}

int buf_put_le64(struct buf *b, uint64_t v)
{
	uint8_t p[8];

	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
	return buf_append(b, p, sizeof(p));
}

int buf_put_lstring(struct buf *b, const char *s, size_t n)
{
	int rc;

	if (n > UINT32_MAX)
		return -EFBIG;
	rc = buf_put_le32(b, (uint32_t)n);
	return rc ? rc : buf_append(b, s, n);
}

int buf_take_string(struct buf *b, char **out, size_t *len)
{
	int rc = buf_put_u8(b, 0);

	if (rc) {
		buf_release(b);
		return rc;
	}
	*out = (char *)b->data;
	*len = b->len - 1;
	b->data = NULL;
	buf_release(b);
	return 0;
}

uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[0] << 24;
}

uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | (uint64_t)load_be32(p + 4);
}

void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (56 - 8 * i);
}

void store_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (24 - 8 * i);
}

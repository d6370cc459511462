/* A growable byte buffer with a hard size cap (curl's dynbuf with toobig). */
#ifndef AIDATA_BUF_H
#define AIDATA_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t alloc;
	size_t max; /* appending past this fails with -EFBIG */
};

/* Initialise caller storage; max is the cap on len. */
void buf_init(struct buf *b, size_t max);
/* Free the contents; b may be reused after buf_init. */
void buf_release(struct buf *b);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);
/* Append n bytes. Returns 0 or -EFBIG when the cap would be passed. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Make room for n more bytes; returns 0 or -EFBIG. */
int buf_reserve(struct buf *b, size_t n);
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_le32(struct buf *b, uint32_t v);
int buf_put_le64(struct buf *b, uint64_t v);
/* Append a u32 little-endian length followed by the bytes. */
int buf_put_lstring(struct buf *b, const char *s, size_t n);
/*
 * Hand the contents over as a NUL-terminated string: *out (the caller
 * frees it) of *len bytes before the NUL. b is then empty (released).
 * 0, or -EFBIG when the NUL does not fit under the cap (b is released
 * and *out untouched).
 */
int buf_take_string(struct buf *b, char **out, size_t *len);

/* Little/big-endian loads from unaligned memory. */
uint32_t load_le32(const uint8_t *p);
uint64_t load_le64(const uint8_t *p);
uint64_t load_be64(const uint8_t *p);
uint32_t load_be32(const uint8_t *p);
void store_be64(uint8_t *p, uint64_t v);
void store_be32(uint8_t *p, uint32_t v);

#endif

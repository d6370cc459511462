/* Strict UTF-8, as names and log lines need it. */
#ifndef AIDATA_UTF8_H
#define AIDATA_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode the sequence at s (left bytes available): its length (1..4) and
 * *cp, or 0 when it is not valid UTF-8 (stray continuation byte, overlong
 * form, surrogate, above U+10FFFF, truncated).
 */
size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp);

#endif

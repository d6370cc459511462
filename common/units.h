/* Sizes as people write and read them. */
#ifndef AIDATA_UNITS_H
#define AIDATA_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse "20G", "512M", "64k", "4MiB", "1000000" (powers of 1024) into
 * bytes. 0, or -EINVAL for anything else (including overflow).
 */
int units_parse_size(const char *s, uint64_t *out);
/*
 * Parse a decimal integer in [min, max] (no sign, no suffix, nothing
 * after it). 0, or -EINVAL for anything else.
 */
int units_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "1.5 GiB", "12 B" ... into out (n bytes). */
void units_format_size(double bytes, char *out, size_t n);

/* Unix time t as RFC 3339 UTC, "2026-11-30T05:02:49Z", into out. 0, or -EINVAL
 * when t is beyond what gmtime represents. */
#define UNITS_UTC_LEN 32
int units_format_utc(int64_t t, char out[UNITS_UTC_LEN]);

#endif

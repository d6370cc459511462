/* Line-oriented text objects (the manifest, sealed keys). */
#ifndef AIDATA_LINES_H
#define AIDATA_LINES_H

#include <stddef.h>

/*
 * The next '\n'-terminated line of [*p, end): returns its start, sets
 * *len to its length without the '\n' and advances *p past it. NULL at
 * the end or when the rest is not terminated by '\n' (a truncated
 * object); *p is then unchanged.
 */
const char *line_next(const char **p, const char *end, size_t *len);

#endif

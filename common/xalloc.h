/* Allocation helpers that never return NULL: out of memory is an invariant
 * failure we cannot report usefully, so they abort with a message. */
#ifndef AIDATA_XALLOC_H
#define AIDATA_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that never fails; the caller frees the result. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

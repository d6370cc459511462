/* Line-oriented text objects (lines.h). */
#include "lines.h"

#include <string.h>

const char *line_next(const char **p, const char *end, size_t *len)
{
	const char *start = *p;
	const char *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	if (!nl)
		return NULL;
	*len = (size_t)(nl - start);
	*p = nl + 1;
	return start;
}

#include "utf8.h"

#include "banned.h"

size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
	unsigned c, need;
	uint32_t v;

	if (left == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, v = c & 0x07;
	else
		return 0;
	if (left < need + 1)
		return 0;
	for (unsigned k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3f);
	}
	if ((need == 2 && v < 0x800) || (need == 3 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return need + 1;
}

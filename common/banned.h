/*
 * Functions this project does not use, in the manner of git's banned.h:
 * each has a bounded or checked replacement, and a call to one fails to
 * compile. Include it after every other header of a .c file.
 *
 *   sprintf, vsprintf      -> snprintf, xasprintf (no bound on the output)
 *   strcpy, strcat         -> memcpy with a known length, xasprintf
 *   strncpy, strncat       -> the same (silent truncation, no NUL)
 *   strtok, strtok_r       -> strchr/strchrnul loops (they write into
 *                             their input and merge empty fields)
 *   atoi, atol, atoll      -> units_parse_uint (no error reporting)
 *   gmtime, localtime,
 *   ctime, asctime         -> the _r variants (shared static buffer)
 */
#ifndef AIDATA_BANNED_H
#define AIDATA_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef strtok_r
#define strtok_r(x, y, z) BANNED(strtok_r)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)

#endif

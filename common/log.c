#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[32] = "aidata"; /* protected by log_lock */
static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_to_syslog;

void log_init(const char *ident, enum log_level level, bool use_syslog)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_threshold = level;
	if (log_to_syslog && !use_syslog)
		closelog();
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
	pthread_mutex_unlock(&log_lock);
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					 LOG_DEBUG};
	char line[2048];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	if (log_to_syslog) {
		syslog(priorities[level], "%s", line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s: %s: %s\n", stamp,
			ts.tv_nsec / 1000000, log_ident, names[level], line);
	}
	pthread_mutex_unlock(&log_lock);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], need, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07;
	else
		return 0;
	for (unsigned k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return need + 1;
}

char *log_escape(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(4 * n + 1);
	const unsigned char *p = (const unsigned char *)s;

	if (!out)
		abort();
	while (*p) {
		size_t len = utf8_len(p);

		if (len == 1 && *p >= 0x20 && *p != 0x7f) {
			out[o++] = (char)*p++;
		} else if (len > 1) {
			memcpy(out + o, p, len);
			o += len;
			p += len;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", *p++);
		}
	}
	out[o] = '\0';
	return out;
}

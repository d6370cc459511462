#define _GNU_SOURCE
#include "log.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[32] = "aidata"; /* protected by log_lock */
static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_to_syslog;
static bool log_plain; /* protected by log_lock */
static FILE *log_file; /* -o log=FILE; protected by log_lock */
static char *log_path; /* protected by log_lock */

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

void log_set_plain(bool plain)
{
	pthread_mutex_lock(&log_lock);
	log_plain = plain;
	pthread_mutex_unlock(&log_lock);
}

static int open_log_file(const char *path, FILE **out)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	*out = fdopen(fd, "a");
	if (!*out) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

int log_set_file(const char *path)
{
	FILE *f;
	char *copy = strdup(path);
	int rc;

	if (!copy)
		return -ENOMEM;
	rc = open_log_file(path, &f);
	if (rc) {
		free(copy);
		return rc;
	}
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	free(log_path);
	log_file = f;
	log_path = copy;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int log_reopen(void)
{
	FILE *f = NULL;
	int rc = 0;

	pthread_mutex_lock(&log_lock);
	if (log_path) {
		rc = open_log_file(log_path, &f);
		if (!rc) {
			fclose(log_file);
			log_file = f;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return rc;
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
	if (log_to_syslog && !log_file) {
		syslog(priorities[level], "%s", line);
	} else if (log_plain && !log_file) {
		if (level == LOG_LEVEL_ERROR || level == LOG_LEVEL_INFO)
			fprintf(stderr, "%s: %s\n", log_ident, line);
		else
			fprintf(stderr, "%s: %s: %s\n", log_ident, names[level],
				line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(log_file ? log_file : stderr, "%s.%03ldZ %s: %s: %s\n",
			stamp, ts.tv_nsec / 1000000, log_ident, names[level],
			line);
	}
	pthread_mutex_unlock(&log_lock);
}

char *log_escape(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(4 * n + 1);
	const unsigned char *p = (const unsigned char *)s, *start = p;

	if (!out)
		abort();
	while (*p) {
		uint32_t cp = 0;
		size_t len = utf8_decode(p, n - (size_t)(p - start), &cp);

		/* printable ASCII and non-control characters pass */
		if (len && cp >= 0x20 && cp != 0x7f &&
		    !(cp >= 0x80 && cp <= 0x9f)) {
			memcpy(out + o, p, len);
			o += len;
			p += len;
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", *p++);
		}
	}
	out[o] = '\0';
	return out;
}

void log_openssl_error(const char *what)
{
	char msg[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, msg, sizeof(msg));
	log_error("%s: %s", what, e ? msg : "unknown openssl error");
	ERR_clear_error();
}

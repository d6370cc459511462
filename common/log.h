/* One logger for every module: levels, stderr or syslog, printf format. */
#ifndef AIDATA_LOG_H
#define AIDATA_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/*
 * Configure the logger. ident prefixes every stderr line and names the
 * syslog identity. May be called again (e.g. after daemonizing).
 */
void log_init(const char *ident, enum log_level level, bool use_syslog);

/*
 * Command-line style for stderr (what a tool's user reads): errors and
 * informational lines as "<ident>: <message>", warnings and debug lines
 * as "<ident>: warning: <message>" and "<ident>: debug: <message>", without the
 * timestamp a daemon's log carries. Off by default; syslog lines are
 * unaffected.
 */
void log_set_plain(bool plain);

/*
 * Send every line to the file at path instead (appended, created 0640
 * if missing), in the daemon's format whatever log_init said: for a
 * daemon run with -o log=FILE. The path is kept for log_reopen. 0 or
 * -errno (the previous destination stays).
 */
int log_set_file(const char *path);
/*
 * Reopen the log file at its path (after logrotate renamed or removed
 * it; SIGHUP). 0 when there is no log file; else 0 or -errno, and the
 * old file stays in use.
 */
int log_reopen(void);

/*
 * Log one line. Messages are lowercase and quote the object they are about;
 * they never contain a token or a key. Thread-safe.
 */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A copy of s that is safe to print: control characters (C0, DEL, C1)
 * and bytes that are not valid UTF-8 become \xNN. Caller frees.
 */
char *log_escape(const char *s);

/* Log what failed with OpenSSL's own message, once, and clear its queue. */
void log_openssl_error(const char *what);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif

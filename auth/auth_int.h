/* Private to auth/: the audit log, kept apart from the decisions. */
#ifndef AIDATA_AUTH_INT_H
#define AIDATA_AUTH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

struct audit_log;

/*
 * Open (creating, mode 0600, and its directory, 0750) the audit log at
 * path for appending. Never fails: a log that cannot be opened is kept
 * as unusable (logged once here), so opens that need it fail closed.
 * Free with audit_log_free.
 */
struct audit_log *audit_log_open(const char *path);
void audit_log_free(struct audit_log *l);

/*
 * Close and open the path again (SIGHUP, after logrotate). 0, or the
 * -errno of the failed open (logged; the log is then unusable).
 */
int audit_log_reopen(struct audit_log *l);

/*
 * Whether a record can be appended now: the log is open, a regular
 * file, still the file at its path (not removed or renamed since it was
 * opened), and its filesystem has room (AUDIT_MIN_FREE). 0, or a
 * negative errno saying why not (-EBADF not open, -EINVAL not a regular
 * file, -ESTALE removed or replaced, -ENOSPC no room).
 */
int audit_log_check(struct audit_log *l);

/* What audit_log_check's error means, for log lines. */
const char *audit_log_strerror(int rc);

/*
 * Append one record (a line ending in '\n') whole or not at all: after a
 * short or failed write the file is truncated back to where it was, so
 * the log stays valid JSON lines. 0 or -errno.
 */
int audit_log_append(struct audit_log *l, const char *line, size_t len);

/* The path given at open (for log lines); valid while l lives. */
const char *audit_log_path(const struct audit_log *l);

#endif

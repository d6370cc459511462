/*
 * The publisher's record of issued credentials: JSON lines beside the
 * platform key, appended under a lock, read back for the ledger.
 */
#define _GNU_SOURCE
#include "publish.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "banned.h"

#define ISSUED_MAX ((size_t)1 << 30) /* bytes of record read at most */

char *publish_issued_path(const char *key_file)
{
	const char *slash = strrchr(key_file, '/');

	if (!slash)
		return xstrdup(PUBLISH_ISSUED_FILE);
	return xasprintf("%.*s/%s", (int)(slash - key_file), key_file,
			 PUBLISH_ISSUED_FILE);
}

int publish_issued_append(const char *path, const struct auth_claims *c)
{
	char *json = auth_claims_json(c), *line = NULL;
	int fd = -1, rc = 0;

	if (!json)
		return -EINVAL;
	line = xasprintf("%s\n", json);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_all(fd, line, strlen(line));
	if (!rc && fsync(fd) != 0)
		rc = -errno;
out:
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		log_error("record of issued credentials '%s': %s", path,
			  strerror(-rc));
	free(json);
	free(line);
	return rc;
}

static bool take_string(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return false;
	*out = xstrdup(json_string_value(v));
	return true;
}

static bool take_int(json_t *o, const char *key, bool required, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required)
		return true;
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

/* One line's claims; false for anything else. */
static bool parse_record(const char *text, size_t len, struct auth_claims *c)
{
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *scope, *ds, *v;
	bool ok;
	size_t i;

	memset(c, 0, sizeof(*c));
	ok = json_is_object(o) && take_string(o, "sub", &c->sub) &&
	     take_string(o, "org", &c->org) && take_string(o, "jti", &c->jti) &&
	     take_int(o, "iat", true, &c->iat) &&
	     take_int(o, "nbf", false, &c->nbf) &&
	     take_int(o, "exp", true, &c->exp);
	scope = json_object_get(o, "scope");
	ds = json_object_get(o, "datasets");
	ok = ok && json_is_array(scope) && json_is_array(ds);
	for (i = 0; ok && i < json_array_size(scope); i++) {
		const char *name = json_string_value(json_array_get(scope, i));

		if (name && !strcmp(name, "shared"))
			c->scope |= AUTH_SCOPE_SHARED;
		else if (name && !strcmp(name, "secure"))
			c->scope |= AUTH_SCOPE_SECURE;
		else
			ok = false;
	}
	if (ok) {
		c->datasets = xcalloc(json_array_size(ds) + 1, sizeof(char *));
		json_array_foreach(ds, i, v)
		{
			if (!json_is_string(v)) {
				ok = false;
				break;
			}
			c->datasets[c->ndatasets++] =
			    xstrdup(json_string_value(v));
		}
	}
	if (ok && json_object_get(o, "node"))
		ok = take_string(o, "node", &c->node);
	json_decref(o);
	if (!ok)
		auth_claims_release(c);
	return ok;
}

int publish_issued_load(const char *path, struct auth_claims **out, size_t *n)
{
	char *data = NULL, *p, *end;
	size_t len, alloc = 0, line = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = fs_read_file(path, ISSUED_MAX, &data, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc) {
		log_error("record of issued credentials '%s': %s", path,
			  strerror(-rc));
		return rc;
	}
	for (p = data, end = data + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n_line = nl ? (size_t)(nl - p) : (size_t)(end - p);

		line++;
		if (n_line) {
			if (*n == alloc) {
				alloc = alloc ? 2 * alloc : 16;
				*out = xrealloc(*out, alloc * sizeof(**out));
			}
			if (!nl || !parse_record(p, n_line, &(*out)[*n])) {
				log_error("record of issued credentials '%s': "
					  "line %zu is not a credential's "
					  "claims",
					  path, line);
				rc = -EINVAL;
				break;
			}
			(*n)++;
		}
		p += n_line + 1;
	}
	free(data);
	if (rc) {
		for (size_t i = 0; i < *n; i++)
			auth_claims_release(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

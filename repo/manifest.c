/* The signed manifest: a short text object (docs/FORMAT.md "manifest"). */
#define _GNU_SOURCE
#include "repo.h"
#include "lines.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

#define MANIFEST_MAGIC "aidata-manifest"
#define JTI_MAX 128

bool repo_jti_valid(const char *s, size_t n)
{
	if (n == 0 || n > JTI_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

int repo_manifest_encode(const struct repo_manifest *m, const repo_key_t *key,
			 char **out, size_t *out_len)
{
	char root[DIGEST_HEX_LEN + 1], stamp[UNITS_UTC_LEN], size[48];
	struct buf b;
	uint8_t sig[64];
	char *line, *sig64;
	int rc;

	buf_init(&b, REPO_MANIFEST_MAX);
	digest_to_hex(&m->root_catalog, root);
	if (units_format_utc(m->created, stamp))
		return -EINVAL;
	/* format 2 added the root catalog's size, so that every object a
	 * reader fetches has a known size */
	if (m->format >= 2 && m->root_catalog_size == 0)
		return -EINVAL;
	if (m->format >= 2)
		snprintf(size, sizeof(size), "root-catalog-size %" PRIu64 "\n",
			 m->root_catalog_size);
	else
		size[0] = '\0';
	line = xasprintf("%s %u\nrevision %" PRIu64 "\nroot-catalog %s\n"
			 "%screated %s\nttl %u\n",
			 MANIFEST_MAGIC, m->format, m->revision, root, size,
			 stamp, m->ttl);
	rc = buf_append(&b, line, strlen(line));
	free(line);
	for (size_t i = 0; !rc && i < m->revoked_count; i++) {
		const char *j = m->revoked[i];

		if (!repo_jti_valid(j, strlen(j))) {
			rc = -EINVAL;
			break;
		}
		rc = buf_append(&b, "revoked ", 8);
		rc = rc ? rc : buf_append(&b, j, strlen(j));
		rc = rc ? rc : buf_append(&b, "\n", 1);
	}
	if (!rc)
		rc = repo_key_sign(key, b.data, b.len, sig);
	if (!rc) {
		sig64 = base64_encode(sig, sizeof(sig));
		rc = buf_append(&b, "signature ", 10);
		rc = rc ? rc : buf_append(&b, sig64, strlen(sig64));
		rc = rc ? rc : buf_append(&b, "\n", 1);
		free(sig64);
	}
	if (rc) {
		buf_release(&b);
		return rc;
	}
	return buf_take_string(&b, out, out_len);
}

/* Split "key value" with exactly one space; value must be non-empty. */
static bool field(const char *line, size_t len, const char *key, char *value,
		  size_t value_max)
{
	size_t klen = strlen(key);

	if (len <= klen + 1 || memcmp(line, key, klen) != 0 ||
	    line[klen] != ' ' || len - klen - 1 >= value_max)
		return false;
	memcpy(value, line + klen + 1, len - klen - 1);
	value[len - klen - 1] = '\0';
	return memchr(value, '\0', len - klen - 1) == NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* What the first line of a refused object looks like, escaped, short. */
static void describe_start(const char *data, size_t len, char *out, size_t n)
{
	char head[33];
	size_t k = 0;
	char *e;

	while (k < len && k < sizeof(head) - 1 && data[k] != '\n' &&
	       data[k] != '\0')
		k++;
	memcpy(head, data, k);
	head[k] = '\0';
	e = log_escape(head);
	if (len == 0)
		snprintf(out, n, "empty");
	else
		snprintf(out, n, "starts with '%s%s'", e,
			 k < len && data[k] != '\n' ? "..." : "");
	free(e);
}

/* Say why (when the caller wants to know) and return rc. */
__attribute__((format(printf, 4, 5))) static int
refuse(char *why, size_t why_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int repo_manifest_decode(const char *data, size_t len, const repo_key_t *pub,
			 struct repo_manifest *m)
{
	return repo_manifest_decode_reason(data, len, pub, m, NULL, 0);
}

int repo_manifest_decode_reason(const char *data, size_t len,
				const repo_key_t *pub, struct repo_manifest *m,
				char *why, size_t why_len)
{
	const char *p = data, *end = data + len, *line, *signed_end;
	char value[256], start[64];
	uint8_t sig[64 + 2];
	uint64_t num;
	unsigned k = 1; /* the line being read, from 1 */
	size_t n;
	struct tm tm;
	int rc = -EINVAL;

	memset(m, 0, sizeof(*m));
	if (why && why_len)
		why[0] = '\0';
	if (len > REPO_MANIFEST_MAX)
		return refuse(why, why_len, -EINVAL,
			      "not an aidata manifest (%zu bytes, over the "
			      "%d allowed)",
			      len, REPO_MANIFEST_MAX);
	if (len < sizeof(MANIFEST_MAGIC) ||
	    memcmp(data, MANIFEST_MAGIC " ", sizeof(MANIFEST_MAGIC)) != 0) {
		describe_start(data, len, start, sizeof(start));
		return refuse(why, why_len, -EINVAL,
			      "not an aidata manifest (%s)", start);
	}

	line = line_next(&p, end, &n);
	if (!line || !field(line, n, MANIFEST_MAGIC, value, sizeof(value)) ||
	    !parse_u64(value, &num))
		goto malformed;
	if (num < REPO_MANIFEST_FORMAT_MIN || num > REPO_MANIFEST_FORMAT) {
		rc =
		    refuse(why, why_len, -EPROTONOSUPPORT,
			   "unsupported format version %" PRIu64
			   " (this version reads %d to %d)",
			   num, REPO_MANIFEST_FORMAT_MIN, REPO_MANIFEST_FORMAT);
		goto out;
	}
	m->format = (uint32_t)num;

	k++;
	line = line_next(&p, end, &n);
	if (!line || !field(line, n, "revision", value, sizeof(value)) ||
	    !parse_u64(value, &m->revision) || m->revision == 0)
		goto malformed;
	k++;
	line = line_next(&p, end, &n);
	if (!line || !field(line, n, "root-catalog", value, sizeof(value)) ||
	    strlen(value) != DIGEST_HEX_LEN ||
	    digest_from_hex(value, &m->root_catalog) != 0)
		goto malformed;
	for (size_t i = 0; i < DIGEST_HEX_LEN; i++)
		if (value[i] >= 'A' && value[i] <= 'F')
			goto malformed; /* lowercase only: one spelling */
	if (m->format >= 2) {
		k++;
		line = line_next(&p, end, &n);
		if (!line ||
		    !field(line, n, "root-catalog-size", value,
			   sizeof(value)) ||
		    !parse_u64(value, &m->root_catalog_size) ||
		    m->root_catalog_size == 0)
			goto malformed;
	}
	k++;
	line = line_next(&p, end, &n);
	memset(&tm, 0, sizeof(tm));
	if (!line || !field(line, n, "created", value, sizeof(value)) ||
	    strlen(value) != 20)
		goto malformed;
	{
		const char *rest = strptime(value, "%Y-%m-%dT%H:%M:%SZ", &tm);

		if (!rest || *rest != '\0')
			goto malformed;
	}
	m->created = (int64_t)timegm(&tm);
	{
		/* one spelling per instant: reject 2024-02-31, 60 s, ... */
		char canon[32];
		time_t t = (time_t)m->created;
		struct tm back;

		gmtime_r(&t, &back);
		strftime(canon, sizeof(canon), "%Y-%m-%dT%H:%M:%SZ", &back);
		if (strcmp(canon, value))
			goto malformed;
	}
	k++;
	line = line_next(&p, end, &n);
	if (!line || !field(line, n, "ttl", value, sizeof(value)) ||
	    !parse_u64(value, &num) || num > UINT32_MAX)
		goto malformed;
	m->ttl = (uint32_t)num;

	for (;;) {
		signed_end = p;
		k++;
		line = line_next(&p, end, &n);
		if (!line)
			goto malformed;
		if (n > 8 && !memcmp(line, "revoked ", 8)) {
			if (!repo_jti_valid(line + 8, n - 8))
				goto malformed;
			m->revoked =
			    xrealloc(m->revoked,
				     (m->revoked_count + 1) * sizeof(char *));
			m->revoked[m->revoked_count++] =
			    xstrndup(line + 8, n - 8);
			continue;
		}
		break;
	}
	if (!field(line, n, "signature", value, sizeof(value)) ||
	    strlen(value) != 88)
		goto malformed;
	if (base64_decode(value, 88, sig, sizeof(sig)) != 64)
		goto malformed;
	{
		/* canonical base64 only, so one signature has one spelling */
		char *canon = base64_encode(sig, 64);
		bool same = !strcmp(canon, value);

		free(canon);
		if (!same)
			goto malformed;
	}
	if (p != end) {
		k++; /* something after the signature */
		goto malformed;
	}
	rc = repo_key_verify(pub, data, (size_t)(signed_end - data), sig);
	if (rc)
		refuse(why, why_len, rc,
		       "signature does not verify with the pinned key");
	goto out;
malformed:
	rc = refuse(why, why_len, -EINVAL, "malformed line %u", k);
out:
	if (rc)
		repo_manifest_release(m);
	return rc;
}

void repo_manifest_release(struct repo_manifest *m)
{
	for (size_t i = 0; i < m->revoked_count; i++)
		free(m->revoked[i]);
	free(m->revoked);
	memset(m, 0, sizeof(*m));
}

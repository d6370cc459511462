/*
 * s3://BUCKET/PREFIX origins: an S3-compatible object store (AWS S3,
 * Ceph RGW, ...) reached over http(s) and, with credentials, signed with
 * AWS SigV4 by libcurl (CURLOPT_AWS_SIGV4). This file resolves where
 * the store is and who we are (the AWS SDKs' variables and shared
 * credentials file) and signs requests; the transfers themselves are
 * origin_http.c's.
 *
 * Secrets (the secret key and the session token) live only in
 * o->s3_userpwd and o->s3_token_header. No log line and no why string
 * ever holds them: messages name the credentials' source (a file and
 * profile, or "environment"), and the access key id at most.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "fsutil.h"
#include "lines.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define S3_DEFAULT_REGION "us-east-1"
#define S3_CREDENTIALS_MAX (64 * 1024)
#define S3_KEY_MAX 1024 /* session tokens run to about 1 KiB */
/* SHA-256 of the empty string: the payload hash of a body-less request */
#define S3_EMPTY_SHA256                                                        \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The first non-empty of the environment variables names, or NULL. */
static const char *env_first(const char *const *names)
{
	for (; *names; names++) {
		const char *v = getenv(*names);

		if (v && *v)
			return v;
	}
	return NULL;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

bool origin_s3_rel_ok(const char *rel)
{
	for (const char *p = rel; *p; p++)
		if (!unreserved((unsigned char)*p) && *p != '/')
			return false;
	return true;
}

/* S3's rules (3 to 63 of a-z 0-9 . -, starting and ending with a letter
 * or digit), with '_' allowed as Ceph and old AWS buckets do. */
static bool bucket_ok(const char *b, size_t n)
{
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && ((i == 0 || i == n - 1) ||
			       (c != '.' && c != '-' && c != '_')))
			return false;
	}
	return true;
}

/* ------------------------------------------------- credentials file -- */

struct s3_keys {
	char *id, *secret, *token;
};

static void keys_wipe(struct s3_keys *k)
{
	if (k->secret)
		explicit_bzero(k->secret, strlen(k->secret));
	if (k->token)
		explicit_bzero(k->token, strlen(k->token));
	free(k->id);
	free(k->secret);
	free(k->token);
	memset(k, 0, sizeof(*k));
}

static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t'))
		(*p)++, (*n)--;
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' ||
		      (*p)[*n - 1] == '\r'))
		(*n)--;
}

static bool word_is(const char *p, size_t n, const char *word)
{
	return n == strlen(word) && !memcmp(p, word, n);
}

/*
 * Profile `profile` of the shared credentials file at path into *k. The
 * format is the AWS CLI's: "[name]" sections ("[profile name]" too, as
 * in ~/.aws/config), "key = value" lines, '#' and ';' comments. Values
 * are never shown in a message. 0, or -EINVAL (logged).
 */
static int credentials_read(const char *path, const char *profile,
			    struct s3_keys *k)
{
	char *text = NULL;
	const char *p, *end, *line;
	size_t len = 0, n, lineno = 0;
	bool in_profile = false, found = false;
	struct stat st;
	int rc;

	rc = fs_read_file(path, S3_CREDENTIALS_MAX, &text, &len);
	if (rc) {
		log_error("s3 credentials '%s': %s", path,
			  rc == -EFBIG ? "larger than 64 KiB" : strerror(-rc));
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn("s3 credentials '%s' can be read by other users "
			 "(mode %03o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
	rc = 0;
	p = text;
	end = text + len;
	while (p < end && !rc) {
		const char *eq;
		char **slot = NULL;

		line = line_next(&p, end, &n);
		if (!line) {
			line = p;
			n = (size_t)(end - p);
			p = end;
		}
		lineno++;
		trim(&line, &n);
		if (!n || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			const char *name = line + 1;
			size_t m = n - 1;

			if (line[n - 1] != ']') {
				log_error("s3 credentials '%s' line %zu: a "
					  "section header without ']'",
					  path, lineno);
				rc = -EINVAL;
				break;
			}
			m--;
			trim(&name, &m);
			if (m > 8 && !strncmp(name, "profile ", 8)) {
				name += 8;
				m -= 8;
				trim(&name, &m);
			}
			in_profile = word_is(name, m, profile);
			found = found || in_profile;
			continue;
		}
		eq = memchr(line, '=', n);
		if (!eq) {
			log_error("s3 credentials '%s' line %zu: not 'key = "
				  "value'",
				  path, lineno);
			rc = -EINVAL;
			break;
		}
		if (!in_profile)
			continue;
		{
			const char *key = line, *val = eq + 1;
			size_t kn = (size_t)(eq - line),
			       vn = n - (size_t)(eq + 1 - line);

			trim(&key, &kn);
			trim(&val, &vn);
			if (word_is(key, kn, "aws_access_key_id"))
				slot = &k->id;
			else if (word_is(key, kn, "aws_secret_access_key"))
				slot = &k->secret;
			else if (word_is(key, kn, "aws_session_token"))
				slot = &k->token;
			if (!slot)
				continue;
			if (!vn || vn > S3_KEY_MAX || memchr(val, '\0', vn)) {
				log_error("s3 credentials '%s' line %zu: "
					  "%.*s is empty or too long",
					  path, lineno, (int)kn, key);
				rc = -EINVAL;
				break;
			}
			if (*slot) {
				explicit_bzero(*slot, strlen(*slot));
				free(*slot);
			}
			*slot = xstrndup(val, vn);
		}
	}
	explicit_bzero(text, len);
	free(text);
	if (!rc && !found) {
		log_error("s3 credentials '%s': no profile [%s]", path,
			  profile);
		rc = -EINVAL;
	} else if (!rc && (!k->id || !k->secret)) {
		log_error(
		    "s3 credentials '%s': profile [%s] lacks %s", path, profile,
		    !k->id ? "aws_access_key_id" : "aws_secret_access_key");
		rc = -EINVAL;
	}
	if (rc)
		keys_wipe(k);
	return rc;
}

/*
 * Who we are, the AWS way (origin.h, struct origin_s3_options). *source
 * says where the keys came from, for the log; no keys: anonymous.
 */
static int credentials_resolve(const struct origin_s3_options *opt,
			       struct s3_keys *k, char **source)
{
	static const char *const profile_env[] = {"AWS_PROFILE", NULL};
	static const char *const file_env[] = {"AWS_SHARED_CREDENTIALS_FILE",
					       NULL};
	const char *profile =
	    opt->profile ? opt->profile : env_first(profile_env);
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	const char *file = opt->credentials;
	char *home_file = NULL;
	int rc;

	memset(k, 0, sizeof(*k));
	*source = NULL;
	if (!file && id && *id && secret && *secret) {
		k->id = xstrdup(id);
		k->secret = xstrdup(secret);
		if (token && *token)
			k->token = xstrdup(token);
		*source = xstrdup("the environment (AWS_ACCESS_KEY_ID)");
		return 0;
	}
	if (!file && ((id && *id) || (secret && *secret))) {
		log_error(
		    "s3 credentials: %s is set but %s is not",
		    id && *id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    id && *id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EINVAL;
	}
	if (!file)
		file = env_first(file_env);
	if (!file) {
		const char *home = getenv("HOME");

		if (home && *home) {
			home_file = xasprintf("%s/.aws/credentials", home);
			if (access(home_file, F_OK) == 0)
				file = home_file;
		}
	}
	if (!file) {
		if (profile)
			log_warn("s3 profile '%s' given but no credentials "
				 "file: anonymous requests",
				 profile);
		free(home_file);
		*source = xstrdup("none (anonymous)");
		return 0;
	}
	if (!profile)
		profile = "default";
	rc = credentials_read(file, profile, k);
	if (!rc)
		*source = xasprintf("'%s' profile [%s]", file, profile);
	free(home_file);
	return rc;
}

/* ---------------------------------------------------------- the URLs -- */

/* endpoint is http(s)://host[:port] with at most a '/' after it. */
static int endpoint_check(const char *endpoint)
{
	const char *host, *path;
	char *shown = origin_redact_url(endpoint);
	int rc = 0;

	if (strncasecmp(endpoint, "http://", 7) &&
	    strncasecmp(endpoint, "https://", 8)) {
		log_error("s3 endpoint '%s' is not http://HOST[:PORT] or "
			  "https://HOST[:PORT]",
			  shown);
		rc = -EINVAL;
		goto out;
	}
	host = strstr(endpoint, "://") + 3;
	path = host + strcspn(host, "/");
	if (memchr(host, '@', (size_t)(path - host))) {
		log_error("s3 endpoint '%s': credentials do not go in the "
			  "URL (use s3_credentials= or AWS_ACCESS_KEY_ID)",
			  shown);
		rc = -EINVAL;
		goto out;
	}
	if (*path && strcmp(path, "/")) {
		log_error("s3 endpoint '%s' has a path; give the bucket and "
			  "prefix in s3://BUCKET/PREFIX",
			  shown);
		rc = -EINVAL;
		goto out;
	}
	rc = origin_http_check(endpoint, shown);
out:
	free(shown);
	return rc;
}

/*
 * The store every s3:// URL of o is in: region, endpoint and
 * credentials, resolved once per origin (a mirror list's s3:// URLs
 * are buckets of one store, signed with one set of credentials).
 */
static int s3_store_setup(origin_t *o, const struct origin_s3_options *opt)
{
	static const char *const endpoint_env[] = {"AWS_ENDPOINT_URL_S3",
						   "AWS_ENDPOINT_URL", NULL};
	static const char *const region_env[] = {"AWS_REGION",
						 "AWS_DEFAULT_REGION", NULL};
	const char *endpoint, *region;
	char *default_endpoint = NULL, *source = NULL;
	struct s3_keys k;
	size_t elen;
	int rc;

	region = opt->region ? opt->region : env_first(region_env);
	if (!region)
		region = S3_DEFAULT_REGION;
	for (const char *p = region; *p; p++) {
		if (!unreserved((unsigned char)*p) || *p == '~') {
			log_error("s3 region '%s' is not a region name",
				  region);
			return -EINVAL;
		}
	}
	if (!*region) {
		log_error("s3 region is empty");
		return -EINVAL;
	}
	endpoint = opt->endpoint ? opt->endpoint : env_first(endpoint_env);
	if (!endpoint) {
		default_endpoint =
		    xasprintf("https://s3.%s.amazonaws.com", region);
		endpoint = default_endpoint;
	}
	rc = endpoint_check(endpoint);
	if (rc)
		goto out;
	elen = strlen(endpoint);
	if (elen && endpoint[elen - 1] == '/')
		elen--;
	o->s3_endpoint = xstrndup(endpoint, elen);
	o->s3_virtual_host = opt->virtual_host;
	o->s3 = true;
	o->s3_sigv4 = xasprintf("aws:amz:%s:s3", region);

	rc = credentials_resolve(opt, &k, &source);
	if (rc)
		goto out;
	if (k.id) {
		if (strchr(k.id, ':')) {
			log_error("s3 credentials from %s: the access key id "
				  "has a ':'",
				  source);
			keys_wipe(&k);
			rc = -EINVAL;
			goto out;
		}
		o->s3_userpwd = xasprintf("%s:%s", k.id, k.secret);
		if (k.token)
			o->s3_token_header =
			    xasprintf("x-amz-security-token: %s", k.token);
	}
	log_info("s3 store at '%s' (%s style, region %s), credentials: %s",
		 o->s3_endpoint, opt->virtual_host ? "virtual-host" : "path",
		 region, source);
	keys_wipe(&k);
out:
	free(source);
	free(default_endpoint);
	return rc;
}

int origin_s3_setup(origin_t *o, const char *url,
		    const struct origin_s3_options *opt,
		    struct origin_mirror *m)
{
	static const struct origin_s3_options none = {0};
	const char *rest = url + strlen("s3://"), *prefix;
	const char *ep, *host;
	char *prefix_slash;
	size_t blen, plen;
	int rc;

	if (!opt)
		opt = &none;
	blen = strcspn(rest, "/");
	if (memchr(rest, '@', blen)) {
		log_error("origin url 's3://…': credentials do not go in the "
			  "URL (use s3_credentials= or AWS_ACCESS_KEY_ID)");
		return -EINVAL;
	}
	if (!bucket_ok(rest, blen)) {
		log_error("origin url '%s': '%.*s' is not a bucket name (3 to "
			  "63 of a-z 0-9 . - _)",
			  url, (int)blen, rest);
		return -EINVAL;
	}
	prefix = rest + blen;
	while (*prefix == '/')
		prefix++;
	plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	for (size_t i = 0; i < plen; i++) {
		if (!unreserved((unsigned char)prefix[i]) && prefix[i] != '/') {
			log_error("origin url '%s': the prefix may hold only "
				  "A-Z a-z 0-9 - . _ ~ and '/'",
				  url);
			return -EINVAL;
		}
	}
	if (strstr(prefix, "//")) {
		log_error("origin url '%s': empty component in the prefix",
			  url);
		return -EINVAL;
	}
	if (!o->s3) {
		rc = s3_store_setup(o, opt);
		if (rc)
			return rc;
	}
	prefix_slash =
	    plen ? xasprintf("%.*s/", (int)plen, prefix) : xstrdup("");
	ep = o->s3_endpoint;
	host = strstr(ep, "://") + 3;
	if (o->s3_virtual_host)
		m->base = xasprintf("%.*s%.*s.%s/%s", (int)(host - ep), ep,
				    (int)blen, rest, host, prefix_slash);
	else
		m->base =
		    xasprintf("%s/%.*s/%s", ep, (int)blen, rest, prefix_slash);
	m->log_base = xasprintf("s3://%.*s/%s", (int)blen, rest, prefix_slash);
	m->https = !strncasecmp(ep, "https://", 8);
	m->s3 = true;
	free(prefix_slash);
	return 0;
}

CURLcode origin_s3_sign(origin_t *o, CURL *h, const char *payload_hex,
			struct curl_slist **headers)
{
	CURLcode res = CURLE_OK;
	struct curl_slist *l;
	char hdr[128];

	if (!o->s3_userpwd)
		return CURLE_OK; /* anonymous: nothing to sign */
#if LIBCURL_VERSION_NUM >= 0x074b00
	res = curl_easy_setopt(h, CURLOPT_AWS_SIGV4, o->s3_sigv4);
	if (res == CURLE_OK)
		res = curl_easy_setopt(h, CURLOPT_USERPWD, o->s3_userpwd);
#else
#error "s3:// origins need libcurl 7.75 or later (CURLOPT_AWS_SIGV4)"
#endif
	if (res != CURLE_OK)
		return res;
	/* S3 wants the payload's hash as a header, and curl (7.88) does not
	 * add it; it signs what it hashes itself, which must agree. */
	snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s",
		 payload_hex ? payload_hex : S3_EMPTY_SHA256);
	l = curl_slist_append(*headers, hdr);
	if (!l)
		return CURLE_OUT_OF_MEMORY;
	*headers = l;
	if (o->s3_token_header) {
		l = curl_slist_append(*headers, o->s3_token_header);
		if (!l)
			return CURLE_OUT_OF_MEMORY;
		*headers = l;
	}
	return CURLE_OK;
}

void origin_s3_error_code(const char *body, size_t len, char *out,
			  size_t out_len)
{
	const char *start, *end;
	size_t n;

	out[0] = '\0';
	start = memmem(body, len, "<Code>", 6);
	if (!start)
		return;
	start += 6;
	end = memmem(start, len - (size_t)(start - body), "</Code>", 7);
	if (!end)
		return;
	n = (size_t)(end - start);
	/* an error code is a word; anything else is not shown */
	for (size_t i = 0; i < n; i++)
		if (!unreserved((unsigned char)start[i]))
			return;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, start, n);
	out[n] = '\0';
}

void origin_s3_release(origin_t *o)
{
	if (o->s3_userpwd)
		explicit_bzero(o->s3_userpwd, strlen(o->s3_userpwd));
	if (o->s3_token_header)
		explicit_bzero(o->s3_token_header, strlen(o->s3_token_header));
	free(o->s3_userpwd);
	free(o->s3_token_header);
	free(o->s3_sigv4);
	free(o->s3_endpoint);
	o->s3_userpwd = o->s3_token_header = o->s3_sigv4 = NULL;
	o->s3_endpoint = NULL;
}

/* Decisions at open(), login bindings, and the audit log. */
#define _GNU_SOURCE
#include "auth.h"
#include "auth_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* A user's credential: its verified claims, or why it does not verify. */
struct credential {
	char *token;
	struct auth_claims claims;
	enum auth_reason status; /* from verification (not expiry/revocation) */
};

struct binding {
	uid_t uid;
	struct credential cred;
};

struct auth {
	const repo_key_t *pub;
	char *logins_dir;
	struct audit_log *audit; /* thread-safe on its own */
	auth_node_key_t *node_key;
	char node_id[AUTH_NODE_ID_LEN + 1];

	pthread_mutex_t lock;
	bool has_default;
	struct credential def;	  /* protected by lock */
	struct binding *bindings; /* protected by lock */
	size_t nbindings;	  /* protected by lock */
	char **revoked;		  /* protected by lock */
	size_t nrevoked;	  /* protected by lock */
};

static const char *const reason_texts[] = {
    [AUTH_GRANTED] = "granted",
    [AUTH_NO_CREDENTIAL] = "no credential",
    [AUTH_EXPIRED] = "credential expired",
    [AUTH_REVOKED] = "credential revoked",
    [AUTH_BAD_SIGNATURE] = "credential has a bad signature",
    [AUTH_MALFORMED] = "credential malformed",
    [AUTH_NOT_GRANTED] = "dataset not granted",
    [AUTH_NO_SECURE_SCOPE] = "credential lacks the secure scope",
    [AUTH_NOT_SECURE_NODE] = "not a secure node for this dataset",
    [AUTH_WRONG_NODE] = "credential bound to another node",
    [AUTH_AUDIT_UNAVAILABLE] = "audit log unavailable",
    [AUTH_NOT_YET_VALID] = "credential not yet valid",
    [AUTH_READ_ONLY] = "read-only file system",
};

const char *auth_reason_text(enum auth_reason r)
{
	if ((unsigned)r >= sizeof(reason_texts) / sizeof(reason_texts[0]))
		return "unknown";
	return reason_texts[r];
}

static int64_t now_sec(void)
{
	return (int64_t)time(NULL);
}

static void credential_release(struct credential *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	auth_claims_release(&c->claims);
	memset(c, 0, sizeof(*c));
}

/* Verify once; expiry and revocation are checked at each decision. */
static void credential_load(auth_t *a, struct credential *c, const char *token,
			    size_t len)
{
	enum auth_token_error why = AUTH_TOKEN_OK;
	int rc;

	memset(c, 0, sizeof(*c));
	c->token = xstrndup(token, len);
	/* expiry and nbf are judged per decision */
	rc = auth_token_verify(a->pub, token, len, AUTH_NOW_ANY, &c->claims,
			       &why);
	if (!rc)
		c->status = AUTH_GRANTED;
	else if (why == AUTH_TOKEN_BAD_SIGNATURE)
		c->status = AUTH_BAD_SIGNATURE;
	else
		c->status = AUTH_MALFORMED;
}

/* Valid right now? Caller holds a->lock. */
static enum auth_reason credential_state(auth_t *a, const struct credential *c)
{
	if (c->status != AUTH_GRANTED)
		return c->status;
	if (c->claims.exp <= now_sec())
		return AUTH_EXPIRED;
	if (!auth_claims_valid_yet(&c->claims, now_sec()))
		return AUTH_NOT_YET_VALID;
	for (size_t i = 0; i < a->nrevoked; i++)
		if (!strcmp(a->revoked[i], c->claims.jti))
			return AUTH_REVOKED;
	return AUTH_GRANTED;
}

/* The credential uid uses, or NULL. Caller holds a->lock. */
static const struct credential *credential_of(auth_t *a, uid_t uid,
					      const char **source)
{
	for (size_t i = 0; i < a->nbindings; i++) {
		if (a->bindings[i].uid == uid) {
			*source = "login";
			return &a->bindings[i].cred;
		}
	}
	if (a->has_default) {
		*source = "default";
		return &a->def;
	}
	*source = "none";
	return NULL;
}

static char *binding_path(auth_t *a, uid_t uid)
{
	return xasprintf("%s/%u.token", a->logins_dir, (unsigned)uid);
}

/* Caller holds a->lock. */
static void binding_drop(auth_t *a, uid_t uid)
{
	char *path = binding_path(a, uid);

	for (size_t i = 0; i < a->nbindings; i++) {
		if (a->bindings[i].uid == uid) {
			credential_release(&a->bindings[i].cred);
			a->bindings[i] = a->bindings[--a->nbindings];
			break;
		}
	}
	unlink(path);
	free(path);
}

/* Caller holds a->lock; takes over cred. */
static void binding_set(auth_t *a, uid_t uid, struct credential *cred)
{
	for (size_t i = 0; i < a->nbindings; i++) {
		if (a->bindings[i].uid == uid) {
			credential_release(&a->bindings[i].cred);
			a->bindings[i].cred = *cred;
			return;
		}
	}
	a->bindings =
	    xrealloc(a->bindings, (a->nbindings + 1) * sizeof(*a->bindings));
	a->bindings[a->nbindings].uid = uid;
	a->bindings[a->nbindings].cred = *cred;
	a->nbindings++;
}

static void load_bindings(auth_t *a)
{
	DIR *dir = opendir(a->logins_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char *end, *path, *data = NULL;
		unsigned long uid = strtoul(de->d_name, &end, 10);
		struct credential cred;
		size_t len;

		if (end == de->d_name || strcmp(end, ".token"))
			continue;
		path = xasprintf("%s/%s", a->logins_dir, de->d_name);
		if (fs_read_file(path, AUTH_TOKEN_MAX, &data, &len) == 0) {
			credential_load(a, &cred, data, len);
			if (cred.status != AUTH_GRANTED ||
			    cred.claims.exp <= now_sec()) {
				/* (not yet valid is kept: it will be) */
				/* expired or damaged: the binding ends */
				credential_release(&cred);
				unlink(path);
			} else {
				binding_set(a, (uid_t)uid, &cred);
			}
			explicit_bzero(data, len);
		}
		free(data);
		free(path);
	}
	closedir(dir);
}

int auth_new(const struct auth_options *o, auth_t **out)
{
	auth_t *a = xcalloc(1, sizeof(*a));
	int rc = 0;

	a->pub = o->platform_pub;
	pthread_mutex_init(&a->lock, NULL);
	a->logins_dir = xasprintf("%s/logins", o->state_dir);
	rc = fs_mkdir_p(a->logins_dir, 0700);
	if (rc) {
		log_error("login state '%s': %s", a->logins_dir, strerror(-rc));
		goto fail;
	}
	chmod(a->logins_dir, 0700);
	if (o->default_token_file) {
		char *data = NULL;
		size_t len;

		rc = fs_read_file(o->default_token_file, AUTH_TOKEN_MAX, &data,
				  &len);
		if (rc) {
			log_error("token file '%s': %s", o->default_token_file,
				  rc == -EFBIG ? "too large" : strerror(-rc));
			goto fail;
		}
		credential_load(a, &a->def, data, len);
		explicit_bzero(data, len);
		free(data);
		a->has_default = true;
		if (a->def.status != AUTH_GRANTED)
			log_warn("token file '%s': %s; shared and secure "
				 "files will be refused",
				 o->default_token_file,
				 auth_reason_text(a->def.status));
	}
	if (o->node_key_file) {
		rc = auth_node_key_load_private(o->node_key_file, &a->node_key);
		if (rc) {
			log_error("node key '%s': %s", o->node_key_file,
				  rc == -EINVAL ? "not a PEM X25519 private key"
						: strerror(-rc));
			goto fail;
		}
		auth_node_key_id(a->node_key, a->node_id);
	}
	a->audit = audit_log_open(o->audit_log);
	load_bindings(a);
	*out = a;
	return 0;
fail:
	auth_free(a);
	return rc;
}

void auth_free(auth_t *a)
{
	if (!a)
		return;
	credential_release(&a->def);
	for (size_t i = 0; i < a->nbindings; i++)
		credential_release(&a->bindings[i].cred);
	free(a->bindings);
	for (size_t i = 0; i < a->nrevoked; i++)
		free(a->revoked[i]);
	free(a->revoked);
	audit_log_free(a->audit);
	auth_node_key_free(a->node_key);
	free(a->logins_dir);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void auth_set_revoked(auth_t *a, char *const *jtis, size_t n)
{
	char **list = xcalloc(n ? n : 1, sizeof(char *));
	char **old;
	size_t nold;

	for (size_t i = 0; i < n; i++)
		list[i] = xstrdup(jtis[i]);
	pthread_mutex_lock(&a->lock);
	old = a->revoked;
	nold = a->nrevoked;
	a->revoked = list;
	a->nrevoked = n;
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; i < nold; i++)
		free(old[i]);
	free(old);
}

const char *auth_node_id(auth_t *a)
{
	return a->node_key ? a->node_id : NULL;
}

const auth_node_key_t *auth_node_key(auth_t *a)
{
	return a->node_key;
}

/* Caller holds a->lock. *jti points into the credential. */
static enum auth_reason decide_locked(auth_t *a, const struct auth_request *r,
				      const char **jti)
{
	const char *source;
	const struct credential *c = credential_of(a, r->uid, &source);
	enum auth_reason st;

	*jti = NULL;
	if (r->write)
		return AUTH_READ_ONLY;
	if (r->tier == REPO_TIER_OPEN)
		return AUTH_GRANTED;
	if (!c)
		return AUTH_NO_CREDENTIAL;
	if (c->status == AUTH_GRANTED)
		*jti = c->claims.jti;
	st = credential_state(a, c);
	if (st != AUTH_GRANTED)
		return st;
	if (r->tier == REPO_TIER_SHARED) {
		if (!(c->claims.scope &
		      (AUTH_SCOPE_SHARED | AUTH_SCOPE_SECURE)) ||
		    !auth_claims_grants(&c->claims, r->dataset))
			return AUTH_NOT_GRANTED;
		return AUTH_GRANTED;
	}
	if (!(c->claims.scope & AUTH_SCOPE_SECURE))
		return AUTH_NO_SECURE_SCOPE;
	if (!auth_claims_grants(&c->claims, r->dataset))
		return AUTH_NOT_GRANTED;
	if (!a->node_key || !r->dataset_key_ok)
		return AUTH_NOT_SECURE_NODE;
	if (c->claims.node && strcmp(c->claims.node, a->node_id))
		return AUTH_WRONG_NODE;
	return AUTH_GRANTED;
}

enum auth_reason auth_decide(auth_t *a, const struct auth_request *r)
{
	enum auth_reason d;
	const char *jti;

	pthread_mutex_lock(&a->lock);
	d = decide_locked(a, r, &jti);
	pthread_mutex_unlock(&a->lock);
	/* an open would fail closed: say so rather than "granted" (the
	 * same predicate auth_check_open's append checks first) */
	if (d == AUTH_GRANTED && r->tier != REPO_TIER_OPEN &&
	    audit_log_check(a->audit) != 0)
		d = AUTH_AUDIT_UNAVAILABLE;
	return d;
}

static void process_name(pid_t pid, char *out, size_t n)
{
	char path[64], *nl;
	int fd;
	ssize_t got;

	snprintf(out, n, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	got = read(fd, out, n - 1);
	close(fd);
	if (got <= 0) {
		snprintf(out, n, "?");
		return;
	}
	out[got] = '\0';
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
}

/* One JSON line per decision, written with one write() on O_APPEND. */
static int audit_write(auth_t *a, const struct auth_request *r,
		       enum auth_reason d, const char *jti, const char *comm)
{
	char stamp[40];
	struct timespec ts;
	struct tm tm;
	json_t *o;
	char *line;
	size_t len;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp),
		 ".%03ldZ", ts.tv_nsec / 1000000);
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
		      "time", stamp, "uid", (json_int_t)r->uid, "pid",
		      (json_int_t)r->pid, "process", comm, "path", r->path,
		      "dataset", r->dataset, "tier", repo_tier_name(r->tier),
		      "decision", d == AUTH_GRANTED ? "granted" : "denied",
		      "reason", auth_reason_text(d), "jti",
		      jti ? json_string(jti) : json_null());
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!line)
		return -EIO;
	len = strlen(line);
	line[len++] = '\n'; /* json_dumps's NUL becomes the newline */
	rc = audit_log_append(a->audit, line, len);
	free(line);
	return rc;
}

int auth_check_open(auth_t *a, const struct auth_request *r,
		    enum auth_reason *reason)
{
	char comm[64], jti[160] = "";
	const char *j;
	enum auth_reason d;
	int rc;

	pthread_mutex_lock(&a->lock);
	d = decide_locked(a, r, &j);
	if (j)
		snprintf(jti, sizeof(jti), "%s", j);
	pthread_mutex_unlock(&a->lock);
	if (r->tier == REPO_TIER_OPEN) {
		*reason = d;
		return d == AUTH_GRANTED ? 0 : -EACCES;
	}
	process_name(r->pid, comm, sizeof(comm));
	rc = audit_write(a, r, d, *jti ? jti : NULL, comm);
	if (rc) {
		log_error("audit log '%s' cannot be written (%s): refusing "
			  "open of '%s' by uid %u",
			  audit_log_path(a->audit), audit_log_strerror(rc),
			  r->path, (unsigned)r->uid);
		d = AUTH_AUDIT_UNAVAILABLE;
	} else if (d != AUTH_GRANTED) {
		log_warn(
		    "open of '%s' (%s tier) by uid %u pid %d (%s) refused: "
		    "%s",
		    r->path, repo_tier_name(r->tier), (unsigned)r->uid,
		    (int)r->pid, comm, auth_reason_text(d));
	}
	*reason = d;
	return d == AUTH_GRANTED ? 0 : -EACCES;
}

int auth_login(auth_t *a, uid_t uid, const char *token, size_t len,
	       enum auth_reason *reason)
{
	struct credential cred;
	char *path, *tmp = NULL;
	int rc;

	while (len && (token[len - 1] == '\n' || token[len - 1] == ' ' ||
		       token[len - 1] == '\r'))
		len--;
	if (len == 0 || len > AUTH_TOKEN_MAX) {
		*reason = AUTH_MALFORMED;
		return -EINVAL;
	}
	credential_load(a, &cred, token, len);
	pthread_mutex_lock(&a->lock);
	*reason = credential_state(a, &cred);
	pthread_mutex_unlock(&a->lock);
	if (*reason != AUTH_GRANTED) {
		log_warn("login by uid %u refused: %s", (unsigned)uid,
			 auth_reason_text(*reason));
		credential_release(&cred);
		return -EACCES;
	}
	path = binding_path(a, uid);
	rc = fs_write_atomic(path, token, len, 0600);
	free(tmp);
	free(path);
	if (rc) {
		log_error("login by uid %u: cannot persist the binding: %s",
			  (unsigned)uid, strerror(-rc));
		credential_release(&cred);
		return rc;
	}
	log_info("uid %u logged in as '%s' of '%s' (credential '%s')",
		 (unsigned)uid, cred.claims.sub, cred.claims.org,
		 cred.claims.jti);
	pthread_mutex_lock(&a->lock);
	binding_set(a, uid, &cred);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int auth_logout(auth_t *a, uid_t uid)
{
	pthread_mutex_lock(&a->lock);
	binding_drop(a, uid);
	pthread_mutex_unlock(&a->lock);
	log_info("uid %u logged out", (unsigned)uid);
	return 0;
}

char *auth_whoami(auth_t *a, uid_t uid)
{
	const char *source;
	const struct credential *c;
	json_t *o = json_object(), *claims = NULL;
	enum auth_reason st = AUTH_NO_CREDENTIAL;
	char *text;

	pthread_mutex_lock(&a->lock);
	c = credential_of(a, uid, &source);
	if (c) {
		st = credential_state(a, c);
		if (c->status == AUTH_GRANTED) {
			char *cj = auth_claims_json(&c->claims);

			claims = cj ? json_loads(cj, 0, NULL) : NULL;
			free(cj);
		}
	}
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(o, "uid", json_integer((json_int_t)uid));
	json_object_set_new(o, "source", json_string(source));
	json_object_set_new(
	    o, "status",
	    json_string(auth_reason_text(st == AUTH_GRANTED ? st : st)));
	json_object_set_new(o, "valid", json_boolean(st == AUTH_GRANTED));
	json_object_set_new(o, "claims", claims ? claims : json_null());
	if (a->node_key)
		json_object_set_new(o, "node", json_string(a->node_id));
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (text) {
		size_t n = strlen(text);

		text = xrealloc(text, n + 2);
		text[n] = '\n';
		text[n + 1] = '\0';
	}
	return text;
}

int auth_audit_reopen(auth_t *a)
{
	return audit_log_reopen(a->audit);
}

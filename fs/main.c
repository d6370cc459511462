/* aidatafs: mount an aidata platform repository read-only. */
#define _GNU_SOURCE
#include "ll.h"
#include "ring.h"
#include "auth.h"
#include "cache.h"
#include "origin.h"
#include "log.h"
#include "ns.h"
#include "units.h"
#include "xalloc.h"
#include "fsutil.h"
#include "lines.h"
#include "systemd_notify.h"

#include <inttypes.h>

#include <errno.h>
#include <limits.h>
#include <fuse_opt.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "banned.h"

#define DEFAULT_CACHE_DIR "/var/cache/aidatafs"
#define DEFAULT_STATE_DIR "/var/lib/aidatafs"
#define DEFAULT_AUDIT_LOG "/var/log/aidatafs/audit.log"

struct options {
	char *origin; /* the ORIGIN argument, else origin= */
	char *origin_opt;
	char *mountpoint;
	unsigned nargs; /* ORIGIN and MOUNTPOINT arguments seen */
	unsigned config_depth;
	char *pubkey;
	char *cache_dir;
	char *cache_size;
	char *ca;
	char *token;
	char *node_key;
	char *audit_log;
	char *state_dir;
	char *log_file;
	char *receipt_key;
	unsigned timeout;
	unsigned retries;
	char *endpoint; /* s3:// origins (origin.h, origin_s3_options) */
	char *region;
	char *s3_credentials;
	char *s3_profile;
	int s3_virtual_host;
	char *proxy;
	char *mirrors; /* mirror=, repeated: "URL|URL" */
	int readdirplus;
	int io_uring;
	int help;
	int version;
};

enum { KEY_HELP, KEY_VERSION, KEY_CONFIG, KEY_MIRROR };

#define OPT(t, p)                                                              \
	{                                                                      \
		t, offsetof(struct options, p), 1                              \
	}
static const struct fuse_opt option_spec[] = {
    OPT("pubkey=%s", pubkey),
    OPT("cache=%s", cache_dir),
    OPT("cache_size=%s", cache_size),
    OPT("ca=%s", ca),
    OPT("token=%s", token),
    OPT("node_key=%s", node_key),
    OPT("audit_log=%s", audit_log),
    OPT("state=%s", state_dir),
    OPT("timeout=%u", timeout),
    OPT("retries=%u", retries),
    OPT("readdirplus", readdirplus),
    OPT("io_uring", io_uring),
    OPT("origin=%s", origin_opt),
    OPT("log=%s", log_file),
    OPT("receipt_key=%s", receipt_key),
    OPT("endpoint=%s", endpoint),
    OPT("region=%s", region),
    OPT("s3_credentials=%s", s3_credentials),
    OPT("s3_profile=%s", s3_profile),
    OPT("s3_virtual_host", s3_virtual_host),
    OPT("proxy=%s", proxy),
    FUSE_OPT_KEY("config=%s", KEY_CONFIG),
    FUSE_OPT_KEY("mirror=%s", KEY_MIRROR),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf(
	    "usage: %s ORIGIN MOUNTPOINT -o pubkey=FILE [options]\n"
	    "       %s MOUNTPOINT -o config=FILE   (FILE says origin=...)\n"
	    "\n"
	    "Mount the aidata platform published at ORIGIN (file:///path, "
	    "http://...,\nhttps://... or s3://BUCKET/PREFIX) read-only at "
	    "MOUNTPOINT.\n"
	    "\n"
	    "aidatafs options:\n"
	    "    -o config=FILE       more options, one per line "
	    "(key=value; # comments)\n"
	    "    -o origin=URL        ORIGIN, when not given as an "
	    "argument\n"
	    "    -o pubkey=FILE       pinned platform public key (required)\n"
	    "    -o cache=DIR         cache directory (default %s)\n"
	    "    -o cache_size=SIZE   cache bound, e.g. 20G (default: half "
	    "the cache filesystem)\n"
	    "    -o timeout=SECONDS   per-attempt origin timeout (default "
	    "20)\n"
	    "    -o retries=N         extra attempts per origin request "
	    "(default 3)\n"
	    "    -o ca=FILE           CA bundle for https origins\n"
	    "    -o endpoint=URL      s3:// origins: the store, "
	    "http(s)://HOST[:PORT]\n"
	    "                         (default $AWS_ENDPOINT_URL, else "
	    "AWS S3)\n"
	    "    -o region=NAME       s3:// origins: SigV4 region (default "
	    "$AWS_REGION,\n"
	    "                         else us-east-1)\n"
	    "    -o s3_credentials=FILE  s3:// origins: shared credentials "
	    "file (default:\n"
	    "                         $AWS_ACCESS_KEY_ID..., else "
	    "~/.aws/credentials,\n"
	    "                         else anonymous)\n"
	    "    -o s3_profile=NAME   its profile (default $AWS_PROFILE, else "
	    "default)\n"
	    "    -o s3_virtual_host   BUCKET.HOST/KEY URLs (default "
	    "HOST/BUCKET/KEY)\n"
	    "    -o mirror=URL        another http(s) or s3:// URL of the "
	    "same repository\n"
	    "                         (repeat it; or ORIGIN as URL1|URL2): "
	    "failover\n"
	    "    -o proxy=LIST        HTTP proxies, A|B;C;DIRECT ('|' "
	    "shares the load, ';'\n"
	    "                         fails over; default $http_proxy, "
	    "$https_proxy, $no_proxy)\n"
	    "    -o token=FILE        default credential (JWT) for every "
	    "local user\n"
	    "    -o node_key=FILE     this secure-domain node's X25519 key\n"
	    "    -o audit_log=FILE    audit of shared/secure opens "
	    "(default %s)\n"
	    "    -o state=DIR         login bindings (default %s)\n"
	    "    -o log=FILE          log to FILE (reopened on SIGHUP); "
	    "default: stderr\n"
	    "                         with -f, else syslog\n"
	    "    -o receipt_key=FILE  sign job data receipts with this "
	    "Ed25519 key\n"
	    "                         (aidata keygen --name receipt)\n"
	    "    -o allow_other       let every local user see the mount\n"
	    "    -o readdirplus       attributes with listings: faster ls -l "
	    "and du,\n"
	    "                         slower find on huge trees (default "
	    "off)\n"
	    "    -o io_uring          FUSE over io_uring where the kernel "
	    "offers "
	    "it (6.14+,\n"
	    "                         fuse.enable_uring=1): faster small files "
	    "and listings\n"
	    "\n"
	    "general options:\n"
	    "    -f                   stay in the foreground, log to stderr\n"
	    "    -d                   debug output (implies -f)\n"
	    "    -s                   single-threaded\n"
	    "    -h, --help           this help\n"
	    "    -V, --version        version\n"
	    "\n"
	    "Accepted and ignored, for fstab and mount(8): _netdev, nofail, "
	    "auto,\nnoauto, user, users, nouser, defaults, rw (the mount is "
	    "always read-only),\nx-* and comment=*.\n"
	    "\n"
	    "Unmount with: fusermount3 -u MOUNTPOINT (or umount as root).\n"
	    "The manual: aidatafs(8).\n",
	    prog, prog, DEFAULT_CACHE_DIR, DEFAULT_AUDIT_LOG,
	    DEFAULT_STATE_DIR);
}

/*
 * Options that fstab, mount(8) and systemd write for their own use and
 * pass on to the helper: accepted and dropped, as mount.fuse3 does with
 * some of them (it passes the x-* ones through).
 */
static bool option_ignored(const char *arg)
{
	static const char *const names[] = {
	    "_netdev", "nofail", "auto",     "noauto", "user",
	    "users",   "nouser", "defaults", "rw",
	};

	if (!strncmp(arg, "x-", 2) || !strncmp(arg, "comment=", 8))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i]))
			return true;
	return false;
}

#define CONFIG_MAX (64 * 1024)

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs);

/* Line n bytes at line, "key = value" written "key=value": a new
 * string the caller frees. */
static char *config_option(const char *line, size_t n)
{
	const char *eq = memchr(line, '=', n), *v;
	size_t k;

	if (!eq)
		return xstrndup(line, n);
	for (k = (size_t)(eq - line);
	     k && (line[k - 1] == ' ' || line[k - 1] == '\t');)
		k--;
	for (v = eq + 1; v < line + n && (*v == ' ' || *v == '\t');)
		v++;
	return xasprintf("%.*s=%.*s", (int)k, line, (int)(line + n - v), v);
}

/*
 * -o config=FILE: every non-blank line not starting with '#' is one
 * option, key=value or a flag, parsed as if given with -o where
 * config= stands (later options override earlier ones). Options that
 * are not aidatafs's own go on to libfuse through outargs. 0 or -1
 * (reported).
 */
static int config_read(struct options *o, const char *path,
		       struct fuse_args *outargs)
{
	char *text = NULL, *opts = NULL;
	const char *p, *end, *line;
	size_t len, n;
	int rc;

	if (o->config_depth > 0) {
		fprintf(stderr,
			"aidatafs: config '%s': config= inside a "
			"config file is not allowed\n",
			path);
		return -1;
	}
	rc = fs_read_file(path, CONFIG_MAX, &text, &len);
	if (rc) {
		fprintf(stderr, "aidatafs: config '%s': %s\n", path,
			rc == -EFBIG ? "larger than 64 KiB" : strerror(-rc));
		return -1;
	}
	p = text;
	end = text + len;
	/* the last line may lack its newline */
	while (p < end) {
		line = line_next(&p, end, &n);
		if (!line) {
			line = p;
			n = (size_t)(end - p);
			p = end;
		}
		while (n && (*line == ' ' || *line == '\t'))
			line++, n--;
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
			     line[n - 1] == '\r'))
			n--;
		if (n == 0 || *line == '#')
			continue;
		if (*line == '-' || memchr(line, '\0', n)) {
			fprintf(stderr,
				"aidatafs: config '%s': '%.*s' is not an "
				"option (key=value or a flag)\n",
				path, (int)n, line);
			rc = -1;
			goto out;
		}
		{
			char *one = config_option(line, n);

			rc = fuse_opt_add_opt_escaped(&opts, one);
			free(one);
			if (rc)
				goto out;
		}
	}
	if (opts) {
		char *argv[] = {(char *)"aidatafs", (char *)"-o", opts, NULL};
		struct fuse_args fa = FUSE_ARGS_INIT(3, argv);

		o->config_depth++;
		rc = fuse_opt_parse(&fa, o, option_spec, option_proc);
		o->config_depth--;
		/* what libfuse must see: fa.argv[0] is the program name */
		for (int i = 1; !rc && i < fa.argc; i++)
			rc = fuse_opt_add_arg(outargs, fa.argv[i]);
		if (fa.allocated)
			fuse_opt_free_args(&fa);
	}
out:
	free(opts);
	free(text);
	return rc ? -1 : 0;
}

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct options *o = data;

	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case KEY_CONFIG:
		return config_read(o, arg + strlen("config="), outargs);
	case KEY_MIRROR: {
		const char *url = arg + strlen("mirror=");
		char *all = o->mirrors ? xasprintf("%s|%s", o->mirrors, url)
				       : xstrdup(url);

		free(o->mirrors);
		o->mirrors = all;
		return 0;
	}
	case FUSE_OPT_KEY_NONOPT:
		/* ORIGIN MOUNTPOINT, or MOUNTPOINT alone (origin=) */
		if (o->nargs == 0)
			o->origin = xstrdup(arg);
		else if (o->nargs == 1)
			o->mountpoint = xstrdup(arg);
		o->nargs++;
		return 0;
	case FUSE_OPT_KEY_OPT:
		return arg[0] != '-' && option_ignored(arg) ? 0 : 1;
	default:
		return 1;
	}
}

/*
 * fuse_daemonize() changes to "/" even in the foreground: every path the
 * daemon keeps must be absolute by then. Replaces *path in place.
 */
static void make_absolute(char **path)
{
	char cwd[4096];

	if (!*path || (*path)[0] == '/')
		return;
	if (!getcwd(cwd, sizeof(cwd)))
		return;
	{
		char *abs = xasprintf("%s/%s", cwd, *path);

		free(*path);
		*path = abs;
	}
}

/*
 * The kernel gives a FUSE mount 128 KiB of readahead whatever max_readahead
 * says; sequential readers then cost eight requests per MiB. Raise it to
 * READ_AHEAD_KB through the mount's bdi (root only; otherwise a no-op).
 * Found via /proc/self/mountinfo: a stat() of the mount point would ask
 * this very daemon, which is not serving requests yet.
 */
#define READ_AHEAD_KB (LL_READAHEAD >> 10)

static void raise_readahead(const char *mountpoint)
{
	char real[4096], line[8192], path[128];
	unsigned major, minor;
	FILE *f;

	if (!realpath(mountpoint, real))
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[4096], *dash = strstr(line, " - ");

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor,
			   mnt) != 3 ||
		    strcmp(mnt, real) || !dash ||
		    strncmp(dash + 3, "fuse.aidatafs", 13))
			continue;
		snprintf(path, sizeof(path),
			 "/sys/class/bdi/%u:%u/read_ahead_kb", major, minor);
		{
			FILE *ra = fopen(path, "we");

			if (ra) {
				fprintf(ra, "%u\n", READ_AHEAD_KB);
				if (fclose(ra) == 0)
					log_debug("readahead of '%s' set to %u "
						  "KiB",
						  real, READ_AHEAD_KB);
			}
		}
	}
	fclose(f);
}

/* Everything main() sets up, so each step is a function of it. */
struct mount {
	struct options o;
	struct fuse_args args;
	struct fuse_cmdline_opts cmd;
	char *origin;	    /* normalised */
	char *origin_shown; /* in messages: without any userinfo */
	struct cache_options co;
	struct origin_s3_options s3;
	struct auth_options ao;
	repo_key_t *key;
	repo_key_t *receipt_key; /* signs receipts, or NULL */
	cache_t *cache;
	auth_t *auth;
	struct ll_ctx ctx;
	struct fuse_session *se;
	struct ring *ring;  /* FUSE over io_uring, or NULL */
	pthread_t reloader; /* SIGHUP: reopen the audit log */
	bool reloader_started;
	volatile sig_atomic_t stopping;
};

/*
 * Parse the command line into m. Returns -1 to go on, or the exit status
 * (0 after --help or --version, 2 for a usage error).
 */
static int parse_command_line(struct mount *m, char *argv0)
{
	if (fuse_opt_parse(&m->args, &m->o, option_spec, option_proc) != 0)
		return 2;
	if (m->o.help) {
		usage(argv0);
		fuse_lowlevel_help();
		return 0;
	}
	if (m->o.version) {
		printf("aidatafs %s (libfuse %s)\n", AIDATA_VERSION,
		       fuse_pkgversion());
		return 0;
	}
	/* MOUNTPOINT alone: the origin comes from origin= */
	if (m->o.nargs == 1 && m->o.origin_opt) {
		m->o.mountpoint = m->o.origin;
		m->o.origin = xstrdup(m->o.origin_opt);
	} else if (m->o.nargs != 2) {
		fprintf(stderr, "aidatafs: need ORIGIN (or -o origin=URL) and "
				"MOUNTPOINT (see --help)\n");
		return 2;
	}
	/* for fuse_parse_cmdline, which takes it from the arguments */
	if (fuse_opt_add_arg(&m->args, m->o.mountpoint) != 0 ||
	    fuse_parse_cmdline(&m->args, &m->cmd) != 0)
		return 2;
	if (!m->cmd.mountpoint || !m->o.pubkey) {
		fprintf(stderr, "aidatafs: need ORIGIN, MOUNTPOINT and "
				"-o pubkey=FILE (see --help)\n");
		return 2;
	}
	if (m->cmd.debug)
		log_init("aidatafs", LOG_LEVEL_DEBUG, false);
	make_absolute(&m->o.pubkey);
	make_absolute(&m->o.cache_dir);
	make_absolute(&m->o.ca);
	make_absolute(&m->o.token);
	make_absolute(&m->o.node_key);
	make_absolute(&m->o.audit_log);
	make_absolute(&m->o.state_dir);
	make_absolute(&m->o.log_file);
	make_absolute(&m->o.receipt_key);
	make_absolute(&m->o.s3_credentials);
	m->origin = cache_origin_url(m->o.origin);
	if (m->o.mirrors) {
		char *all = xasprintf("%s|%s", m->origin, m->o.mirrors);

		free(m->origin);
		m->origin = all;
	}
	m->origin_shown = origin_redact_url(m->origin);
	return -1;
}

/*
 * A secure node holds plaintext in memory: a crash must not write it to
 * a core file. Not dumpable (which also keeps other processes of the
 * same uid out of /proc/PID/mem), and no core even where
 * fs.suid_dumpable=2 would still dump a non-dumpable process.
 */
static void no_core_dumps(void)
{
	struct rlimit none = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    setrlimit(RLIMIT_CORE, &none) != 0)
		log_warn("cannot turn core dumps off: %s", strerror(errno));
}

/* Half of the cache's filesystem, the default cache_size. */
static uint64_t default_cache_size(const char *dir)
{
	struct statvfs sv;

	if (fs_mkdir_p(dir, 0700) == 0 && statvfs(dir, &sv) == 0)
		return (uint64_t)sv.f_blocks * sv.f_frsize / 2;
	return 0;
}

/* The pinned key, and the options of cache/ and auth/. Returns -1 to go
 * on, or the exit status. */
static int configure(struct mount *m)
{
	struct options *o = &m->o;
	uint64_t cache_size = 0;
	int rc = repo_key_load_public(o->pubkey, &m->key);

	if (rc) {
		fprintf(stderr, "aidatafs: public key '%s': %s\n", o->pubkey,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		return 1;
	}
	if (o->log_file) {
		rc = log_set_file(o->log_file);
		if (rc) {
			fprintf(stderr, "aidatafs: log '%s': %s\n", o->log_file,
				strerror(-rc));
			return 1;
		}
	}
	if (o->receipt_key) {
		rc = repo_key_load_private(o->receipt_key, &m->receipt_key);
		if (rc) {
			fprintf(stderr, "aidatafs: receipt key '%s': %s\n",
				o->receipt_key,
				rc == -EINVAL ? "not a PEM Ed25519 private key"
					      : strerror(-rc));
			return 1;
		}
	}
	if (o->cache_size && units_parse_size(o->cache_size, &cache_size)) {
		fprintf(stderr,
			"aidatafs: cache_size '%s': expected a size "
			"such as 20G or 512M\n",
			o->cache_size);
		return 2;
	}
	m->co.dir = o->cache_dir ? o->cache_dir : DEFAULT_CACHE_DIR;
	m->co.origin_url = m->origin;
	m->co.timeout_sec = o->timeout;
	m->co.retries = o->retries;
	m->co.ca_file = o->ca;
	m->s3.endpoint = o->endpoint;
	m->s3.region = o->region;
	m->s3.credentials = o->s3_credentials;
	m->s3.profile = o->s3_profile;
	m->s3.virtual_host = o->s3_virtual_host != 0;
	m->co.s3 = &m->s3;
	m->co.proxy = o->proxy;
	m->co.max_bytes =
	    o->cache_size ? cache_size : default_cache_size(m->co.dir);
	m->ctx.readdirplus = o->readdirplus != 0;
	m->ao.platform_pub = m->key;
	m->ao.default_token_file = o->token;
	m->ao.node_key_file = o->node_key;
	m->ao.audit_log = o->audit_log ? o->audit_log : DEFAULT_AUDIT_LOG;
	m->ao.state_dir = o->state_dir ? o->state_dir : DEFAULT_STATE_DIR;
	if (o->node_key)
		no_core_dumps();
	return -1;
}

static void close_platform(struct mount *m)
{
	ns_free(m->ctx.ns);
	cache_free(m->cache);
	auth_free(m->auth);
	m->ctx.ns = NULL;
	m->cache = NULL;
	m->auth = NULL;
}

/* auth/, cache/ and the namespace: the manifest and root catalog are
 * fetched and verified here; why (NS_WHY_MAX bytes) says what failed. */
static int open_platform(struct mount *m, char *why)
{
	int rc = auth_new(&m->ao, &m->auth);

	why[0] = '\0';
	if (!rc)
		rc = cache_new(&m->co, &m->cache);
	if (!rc)
		rc = ns_new(m->cache, m->key, m->auth, &m->ctx.ns, why);
	/* without a cgroup v2 hierarchy receipts still count (logged) */
	if (!rc)
		ns_receipts_enable(m->ctx.ns, m->receipt_key);
	if (rc)
		close_platform(m);
	return rc;
}

/* Open the platform once before mounting, so errors reach the terminal. */
static int check_platform(struct mount *m)
{
	char why[NS_WHY_MAX];
	int rc = open_platform(m, why);

	if (rc) {
		/* what ns_new found, in its words: the origin's answer, not
		 * a manifest, its format, a line, the key, a rollback */
		fprintf(stderr, "aidatafs: cannot mount '%s': %s\n",
			m->origin_shown, why[0] ? why : strerror(-rc));
		return rc;
	}
	/* fork() keeps only this thread: start afresh after daemonizing */
	if (!m->cmd.foreground)
		close_platform(m);
	return 0;
}

/*
 * Read-only ("ro" in /proc/mounts; the kernel refuses every change, and
 * logins go as ioctls, fs/uapi/aidatafs_ioctl.h), listed as
 * fuse.aidatafs. Not default_permissions: the kernel would then answer
 * access() from the mode bits (every file is world-readable) and never
 * ask us about tiers.
 */
static int session_new(struct mount *m)
{
	char opts[128];

	m->ctx.read_max = ll_read_max();
	snprintf(opts, sizeof(opts),
		 "-oro,fsname=aidatafs,subtype=aidatafs,nosuid,nodev,"
		 "max_read=%zu",
		 m->ctx.read_max);
	fuse_opt_add_arg(&m->args, opts);
	m->se = fuse_session_new(&m->args, &ll_ops, sizeof(ll_ops), &m->ctx);
	if (!m->se)
		return -EIO;
	m->ctx.se = m->se;
	if (fuse_set_signal_handlers(m->se) != 0) {
		fuse_session_destroy(m->se);
		m->se = NULL;
		return -EIO;
	}
	return 0;
}

/*
 * SIGHUP (systemctl reload, logrotate's postrotate) reopens the log
 * file (-o log=FILE) and the audit log. It is blocked in every thread
 * and taken here by sigwait, since libfuse's handler would end the
 * session on it.
 */
static void *reload_main(void *arg)
{
	struct mount *m = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	while (sigwait(&set, &sig) == 0 && !m->stopping) {
		int rc = log_reopen();

		if (rc)
			log_error("reload (SIGHUP): cannot reopen the log "
				  "'%s': %s",
				  m->o.log_file, strerror(-rc));
		else if (m->o.log_file)
			log_info("reload (SIGHUP): reopened the log '%s'",
				 m->o.log_file);
		log_info("reload (SIGHUP): reopening the audit log");
		auth_audit_reopen(m->auth);
	}
	return NULL;
}

/* Before any thread starts (cache/ starts some), so all inherit it. */
static void block_sighup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void reloader_start(struct mount *m)
{
	m->reloader_started =
	    pthread_create(&m->reloader, NULL, reload_main, m) == 0;
}

static void reloader_stop(struct mount *m)
{
	if (!m->reloader_started)
		return;
	m->stopping = 1;
	pthread_kill(m->reloader, SIGHUP);
	pthread_join(m->reloader, NULL);
	m->reloader_started = false;
}

/* libfuse's loop: at most this many threads handle requests at once */
#define LOOP_THREADS 16

/* Serve requests until unmounted or signalled. 0 or 1. */
static int serve(struct mount *m)
{
	struct fuse_loop_config *loop;
	int ret;

	reloader_start(m);
	ll_background_start(&m->ctx);
	if (m->cmd.singlethread) {
		ret = fuse_session_loop(m->se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, m->cmd.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, LOOP_THREADS);
		if (m->cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       m->cmd.max_idle_threads);
		ret = fuse_session_loop_mt(m->se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	ll_background_stop(&m->ctx);
	reloader_stop(m);
	/* libfuse's loop returns the signal that ended it: SIGTERM and
	 * SIGINT ask for a stop, which is a clean end (aidatafs(8), EXIT
	 * STATUS), not an error for systemctl stop to report */
	if (ret == SIGTERM || ret == SIGINT) {
		log_info("signal %d: unmounting", ret);
		ret = 0;
	}
	return ret ? 1 : 0;
}

static void count_ring_request(void *arg)
{
	struct ll_ctx *c = arg;

	if (c->ns)
		ns_count_ring_request(c->ns);
}

/*
 * -o io_uring: FUSE over io_uring where the kernel offers it (ring.h):
 * requests of a CPU's processes are handled on that CPU, a reply and
 * the wait for the next request one system call. Each ring thread holds
 * one request at a time, as each thread of libfuse's loop does, and
 * there are as many (at least two a CPU). Opt-in, as in libfuse 3.18:
 * a reply's bytes are copied once more than a splice through /dev/fuse
 * copies them, which costs sequential reads (docs/PERFORMANCE.md).
 */
static void ring_setup(struct mount *m)
{
	struct ring_config rc = {0};
	int err;

	if (!m->o.io_uring)
		return;
	if (m->cmd.singlethread) {
		log_warn("-o io_uring: not with -s (single-threaded); "
			 "requests through /dev/fuse");
		return;
	}
	rc.threads = LOOP_THREADS;
	rc.payload = m->ctx.read_max;
	rc.counted = count_ring_request;
	rc.arg = &m->ctx;
	err = ring_attach(m->se, &rc, &m->ring);
	if (err)
		log_error("FUSE over io_uring not set up (%s); requests "
			  "through /dev/fuse",
			  strerror(-err));
}

/* Mount, daemonize, (re)open the platform and serve. The exit status. */
static int run(struct mount *m)
{
	int rc, ret = 1;

	if (fuse_session_mount(m->se, m->cmd.mountpoint) != 0)
		return 1;
	ring_setup(m);
	raise_readahead(m->cmd.mountpoint);
	fuse_daemonize(m->cmd.foreground);
	if (!m->cmd.foreground) {
		char why[NS_WHY_MAX];

		log_init("aidatafs", LOG_LEVEL_INFO, true);
		rc = open_platform(m, why);
		if (rc) {
			log_error("cannot mount '%s': %s", m->origin_shown,
				  why[0] ? why : strerror(-rc));
			goto out;
		}
	}
	log_info("mounted '%s' revision %" PRIu64 " at '%s' (cache '%s')",
		 m->origin_shown, ns_revision(m->ctx.ns), m->cmd.mountpoint,
		 m->co.dir);
	if (m->ctx.read_max < (1u << 20))
		log_info("read requests of %zu KiB: a pipe of this process "
			 "cannot hold a 1 MiB reply (fs.pipe-max-size, no "
			 "CAP_SYS_RESOURCE), and libfuse splices a reply "
			 "from the cache only through one",
			 m->ctx.read_max >> 10);
	/* systemd's Type=notify: mounted and about to serve */
	systemd_notify("READY=1");
	ret = serve(m);
	if (ring_failed(m->ring))
		ret = 1;
	log_info("unmounted '%s'", m->cmd.mountpoint);
out:
	ring_free(m->ring);
	m->ring = NULL;
	fuse_session_unmount(m->se);
	return ret;
}

static void mount_release(struct mount *m)
{
	if (m->se) {
		fuse_remove_signal_handlers(m->se);
		fuse_session_destroy(m->se);
	}
	close_platform(m);
	repo_key_free(m->key);
	repo_key_free(m->receipt_key);
	free(m->origin);
	free(m->origin_shown);
	free(m->cmd.mountpoint);
	free(m->o.origin);
	free(m->o.origin_opt);
	free(m->o.mountpoint);
	free(m->o.log_file);
	free(m->o.receipt_key);
	free(m->o.pubkey);
	free(m->o.cache_dir);
	free(m->o.cache_size);
	free(m->o.ca);
	free(m->o.token);
	free(m->o.node_key);
	free(m->o.audit_log);
	free(m->o.state_dir);
	free(m->o.endpoint);
	free(m->o.region);
	free(m->o.s3_credentials);
	free(m->o.s3_profile);
	free(m->o.proxy);
	free(m->o.mirrors);
	fuse_opt_free_args(&m->args);
}

int main(int argc, char **argv)
{
	struct mount m = {
	    .o = {.timeout = 20, .retries = 3},
	    .args = FUSE_ARGS_INIT(argc, argv),
	};
	int ret;

	log_init("aidatafs", LOG_LEVEL_INFO, false);
	/* a file past RLIMIT_FSIZE (audit log, cache) fails its write with
	 * EFBIG, which is handled; the default action would kill the mount */
	signal(SIGXFSZ, SIG_IGN);
	block_sighup();
	ret = parse_command_line(&m, argv[0]);
	if (ret < 0)
		ret = configure(&m);
	if (ret < 0)
		ret = check_platform(&m) ? 1 : -1;
	if (ret < 0)
		ret = session_new(&m) ? 1 : run(&m);
	mount_release(&m);
	return ret;
}

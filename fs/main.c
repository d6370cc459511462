/* aidatafs: mount an aidata platform repository read-only. */
#define _GNU_SOURCE
#include "ll.h"
#include "auth.h"
#include "cache.h"
#include "log.h"
#include "ns.h"
#include "units.h"
#include "xalloc.h"
#include "fsutil.h"

#include <inttypes.h>

#include <errno.h>
#include <limits.h>
#include <fuse_opt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "banned.h"

#define DEFAULT_CACHE_DIR "/var/cache/aidatafs"
#define DEFAULT_STATE_DIR "/var/lib/aidatafs"
#define DEFAULT_AUDIT_LOG "/var/log/aidatafs/audit.log"

struct options {
	char *origin;
	char *pubkey;
	char *cache_dir;
	char *cache_size;
	char *ca;
	char *token;
	char *node_key;
	char *audit_log;
	char *state_dir;
	unsigned timeout;
	unsigned retries;
	int readdirplus;
	int help;
	int version;
};

enum { KEY_HELP, KEY_VERSION };

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
	    "\n"
	    "Mount the aidata platform published at ORIGIN (file:///path, "
	    "http://... or\nhttps://...) read-only at MOUNTPOINT.\n"
	    "\n"
	    "aidatafs options:\n"
	    "    -o pubkey=FILE       pinned platform public key (required)\n"
	    "    -o cache=DIR         cache directory (default %s)\n"
	    "    -o cache_size=SIZE   cache bound, e.g. 20G (default: half "
	    "the cache filesystem)\n"
	    "    -o timeout=SECONDS   per-attempt origin timeout (default "
	    "20)\n"
	    "    -o retries=N         extra attempts per origin request "
	    "(default 3)\n"
	    "    -o ca=FILE           CA bundle for https origins\n"
	    "    -o token=FILE        default credential (JWT) for every "
	    "local user\n"
	    "    -o node_key=FILE     this secure-domain node's X25519 key\n"
	    "    -o audit_log=FILE    audit of shared/secure opens "
	    "(default %s)\n"
	    "    -o state=DIR         login bindings (default %s)\n"
	    "    -o allow_other       let every local user see the mount\n"
	    "    -o readdirplus       attributes with listings: faster ls -l "
	    "and du,\n"
	    "                         slower find on huge trees (default "
	    "off)\n"
	    "\n"
	    "general options:\n"
	    "    -f                   stay in the foreground, log to stderr\n"
	    "    -d                   debug output (implies -f)\n"
	    "    -s                   single-threaded\n"
	    "    -h, --help           this help\n"
	    "    -V, --version        version\n"
	    "\n"
	    "Unmount with: fusermount3 -u MOUNTPOINT (or umount as root).\n",
	    prog, DEFAULT_CACHE_DIR, DEFAULT_AUDIT_LOG, DEFAULT_STATE_DIR);
}

static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (!o->origin) {
			o->origin = xstrdup(arg);
			return 0;
		}
		return 1; /* the mountpoint, for fuse_parse_cmdline */
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
#define READ_AHEAD_KB 1024

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
				fprintf(ra, "%d\n", READ_AHEAD_KB);
				if (fclose(ra) == 0)
					log_debug("readahead of '%s' set to %d "
						  "KiB",
						  real, READ_AHEAD_KB);
			}
		}
	}
	fclose(f);
}

static int open_platform(const struct cache_options *co,
			 const struct auth_options *ao, repo_key_t *key,
			 cache_t **cache, auth_t **auth, ns_t **ns)
{
	int rc = auth_new(ao, auth);

	if (rc)
		return rc;
	rc = cache_new(co, cache);
	if (!rc)
		rc = ns_new(*cache, key, *auth, ns);
	if (rc) {
		cache_free(*cache);
		auth_free(*auth);
		*cache = NULL;
		*auth = NULL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct options o = {.timeout = 20, .retries = 3};
	struct cache_options co = {0};
	struct auth_options ao = {0};
	auth_t *auth = NULL;
	struct fuse_loop_config *loop = NULL;
	struct ll_ctx ctx = {0};
	struct fuse_session *se = NULL;
	repo_key_t *key = NULL;
	cache_t *cache = NULL;
	char *origin = NULL;
	uint64_t cache_size = 0;
	int rc, ret = 1;

	log_init("aidatafs", LOG_LEVEL_INFO, false);
	if (fuse_opt_parse(&args, &o, option_spec, option_proc) != 0)
		return 2;
	if (o.help) {
		usage(argv[0]);
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (o.version) {
		printf("aidatafs %s (libfuse %s)\n", AIDATA_VERSION,
		       fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &cmd) != 0) {
		ret = 2;
		goto out;
	}
	if (!o.origin || !cmd.mountpoint || !o.pubkey) {
		fprintf(stderr, "aidatafs: need ORIGIN, MOUNTPOINT and "
				"-o pubkey=FILE (see --help)\n");
		ret = 2;
		goto out;
	}
	if (cmd.debug)
		log_init("aidatafs", LOG_LEVEL_DEBUG, false);
	make_absolute(&o.pubkey);
	make_absolute(&o.cache_dir);
	make_absolute(&o.ca);
	make_absolute(&o.token);
	make_absolute(&o.node_key);
	make_absolute(&o.audit_log);
	make_absolute(&o.state_dir);
	rc = repo_key_load_public(o.pubkey, &key);
	if (rc) {
		fprintf(stderr, "aidatafs: public key '%s': %s\n", o.pubkey,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		goto out;
	}
	if (o.cache_size && units_parse_size(o.cache_size, &cache_size) != 0) {
		fprintf(stderr,
			"aidatafs: cache_size '%s': expected a size "
			"such as 20G or 512M\n",
			o.cache_size);
		ret = 2;
		goto out;
	}
	origin = cache_origin_url(o.origin);
	co.dir = o.cache_dir ? o.cache_dir : DEFAULT_CACHE_DIR;
	co.origin_url = origin;
	co.timeout_sec = o.timeout;
	co.retries = o.retries;
	co.ca_file = o.ca;
	if (!o.cache_size) {
		struct statvfs sv;

		if (fs_mkdir_p(co.dir, 0700) == 0 && statvfs(co.dir, &sv) == 0)
			cache_size = (uint64_t)sv.f_blocks * sv.f_frsize / 2;
	}
	co.max_bytes = cache_size;
	ctx.readdirplus = o.readdirplus != 0;
	ao.platform_pub = key;
	ao.default_token_file = o.token;
	ao.node_key_file = o.node_key;
	ao.audit_log = o.audit_log ? o.audit_log : DEFAULT_AUDIT_LOG;
	ao.state_dir = o.state_dir ? o.state_dir : DEFAULT_STATE_DIR;

	/* check everything before mounting, so errors reach the terminal */
	rc = open_platform(&co, &ao, key, &cache, &auth, &ctx.ns);
	if (rc) {
		fprintf(stderr, "aidatafs: cannot mount '%s': %s\n", origin,
			rc == -EBADMSG	? "the manifest or a catalog does not "
					  "verify with the pinned key"
			: rc == -ESTALE ? "the origin serves an older revision "
					  "than already seen (rollback)"
					: strerror(-rc));
		goto out;
	}
	if (!cmd.foreground) {
		/* fork() keeps only this thread: start afresh afterwards */
		ns_free(ctx.ns);
		cache_free(cache);
		auth_free(auth);
		ctx.ns = NULL;
		cache = NULL;
		auth = NULL;
	}

	/*
	 * Not "ro": .aidata/login takes writes; every other change is refused
	 * by the handlers with EROFS. Not default_permissions: the kernel
	 * would then answer access() from the mode bits (every file is
	 * world-readable) and never ask us about tiers.
	 */
	fuse_opt_add_arg(&args, "-ofsname=aidatafs,subtype=aidatafs,nosuid,"
				"nodev,max_read=1048576");
	se = fuse_session_new(&args, &ll_ops, sizeof(ll_ops), &ctx);
	if (!se)
		goto out;
	ctx.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	raise_readahead(cmd.mountpoint);
	fuse_daemonize(cmd.foreground);
	if (!cmd.foreground) {
		log_init("aidatafs", LOG_LEVEL_INFO, true);
		rc = open_platform(&co, &ao, key, &cache, &auth, &ctx.ns);
		if (rc) {
			log_error("cannot mount '%s': %s", origin,
				  strerror(-rc));
			goto out_unmount;
		}
	}
	log_info("mounted '%s' revision %" PRIu64 " at '%s' (cache '%s')",
		 origin, ns_revision(ctx.ns), cmd.mountpoint, co.dir);
	ll_background_start(&ctx);
	if (cmd.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, 16);
		if (cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       cmd.max_idle_threads);
		ret = fuse_session_loop_mt(se, loop);
	}
	ll_background_stop(&ctx);
	ret = ret ? 1 : 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	if (loop)
		fuse_loop_cfg_destroy(loop);
	ns_free(ctx.ns);
	cache_free(cache);
	auth_free(auth);
	repo_key_free(key);
	free(origin);
	free(cmd.mountpoint);
	free(o.origin);
	free(o.pubkey);
	free(o.cache_dir);
	free(o.cache_size);
	free(o.ca);
	free(o.token);
	free(o.node_key);
	free(o.audit_log);
	free(o.state_dir);
	fuse_opt_free_args(&args);
	return ret;
}

/*
 * The .aidata/ control files: stats (Prometheus text), revision, status
 * (JSON, ns_status.c), receipt (JSON, ns_receipt.c), whoami (generated
 * when opened) and login (an open
 * descriptor takes the login and logout requests of fs/uapi/aidatafs_ioctl.h).
 */
#define _GNU_SOURCE
#include "ns_int.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

/* In name order, as listed. */
static const char *const control_names[] = {"login", "receipt", "revision",
					    "stats", "status",	"whoami"};
static const uint64_t control_inos[] = {NS_INO_LOGIN,	 NS_INO_RECEIPT,
					NS_INO_REVISION, NS_INO_STATS,
					NS_INO_STATUS,	 NS_INO_WHOAMI};
#define CONTROL_COUNT 6

bool ns_control_is_file(uint64_t ino)
{
	return (ino >= NS_INO_STATS && ino <= NS_INO_WHOAMI) ||
	       ino == NS_INO_STATUS || ino == NS_INO_RECEIPT;
}

void ns_control_stat(ns_t *ns, struct ns_rev *r, uint64_t ino, struct stat *st)
{
	(void)ns;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_mtim.tv_sec = r->m.created;
}

int ns_control_entry(size_t i, const char **name, uint64_t *ino)
{
	if (i >= CONTROL_COUNT)
		return -ENOENT;
	*name = control_names[i];
	*ino = control_inos[i];
	return 0;
}

int ns_control_lookup(const char *name, uint64_t *ino)
{
	for (unsigned i = 0; i < CONTROL_COUNT; i++) {
		if (!strcmp(name, control_names[i])) {
			*ino = control_inos[i];
			return 0;
		}
	}
	return -ENOENT;
}

void ns_count_ring_request(ns_t *ns)
{
	COUNT_ADD(ns->counters.ring_requests, 1);
}

static char *render_stats(ns_t *ns)
{
	struct cache_stats cs;
	struct fs_counters fc;
	struct ns_rev *r = ns_rev_get(ns);

	cache_stats_get(ns->cache, &cs);
	fc.revision = r->m.revision;
	fc.datasets = r->n;
	fc.bytes_served = COUNT_GET(ns->counters.bytes_served);
	fc.reads = COUNT_GET(ns->counters.reads);
	fc.opens = COUNT_GET(ns->counters.opens);
	fc.read_errors = COUNT_GET(ns->counters.read_errors);
	fc.refresh_errors = COUNT_GET(ns->counters.refresh_errors);
	fc.rollbacks_refused = COUNT_GET(ns->counters.rollbacks_refused);
	fc.catalogs_open = COUNT_GET(ns->counters.catalogs_open);
	fc.ring_requests = COUNT_GET(ns->counters.ring_requests);
	ns_rev_put(ns, r);
	return stats_render(&cs, &fc);
}

static struct ns_file *generated(char *text)
{
	struct ns_file *f = xcalloc(1, sizeof(*f));

	f->kind = FILE_GENERATED;
	f->text = text;
	f->text_len = strlen(text);
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

int ns_login(ns_t *ns, struct ns_file *f, const struct ns_caller *who,
	     const char *token, size_t len, enum auth_reason *reason)
{
	if (f->kind != FILE_LOGIN)
		return -ENOTTY;
	*reason = AUTH_MALFORMED;
	return auth_login(ns->auth, who->uid, token, len, reason);
}

int ns_logout(ns_t *ns, struct ns_file *f, const struct ns_caller *who)
{
	if (f->kind != FILE_LOGIN)
		return -ENOTTY;
	return auth_logout(ns->auth, who->uid);
}

int ns_control_open(ns_t *ns, uint64_t ino, const struct ns_caller *who,
		    bool write, struct ns_file **out, bool *direct_io)
{
	struct ns_file *f;

	/* sizes are not known in advance: no page cache, no readahead */
	*direct_io = true;
	if (write)
		return -EROFS;
	if (ino == NS_INO_LOGIN) {
		f = xcalloc(1, sizeof(*f));
		f->kind = FILE_LOGIN;
		pthread_mutex_init(&f->lock, NULL);
		*out = f;
		return 0;
	}
	if (ino == NS_INO_RECEIPT)
		return ns_receipt_file_open(ns, who, out);
	if (ino == NS_INO_STATS)
		f = generated(render_stats(ns));
	else if (ino == NS_INO_REVISION)
		f = generated(xasprintf("%" PRIu64 "\n", ns_revision(ns)));
	else if (ino == NS_INO_STATUS)
		f = generated(ns_status_render(ns));
	else
		f = generated(auth_whoami(ns->auth, who->uid));
	*out = f;
	return 0;
}

int ns_control_read(struct ns_file *f, uint64_t off, size_t size,
		    struct ns_read *out)
{
	const char *text;
	size_t len;

	/* a receipt request may replace the text (the old one stays
	 * allocated until release) */
	pthread_mutex_lock(&f->lock);
	text = f->text;
	len = f->text_len;
	pthread_mutex_unlock(&f->lock);
	if (off >= len)
		return 0;
	out->seg = xcalloc(1, sizeof(*out->seg));
	out->seg[0].fd = -1;
	out->seg[0].mem = (const uint8_t *)text + off;
	out->seg[0].len = len - off < size ? len - (size_t)off : size;
	out->nseg = 1;
	out->total = out->seg[0].len;
	return 0;
}

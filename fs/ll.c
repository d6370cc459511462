/* FUSE low-level glue: the only place that calls fuse_reply_*. */
#define _GNU_SOURCE
#include "ll.h"
#include "aidatafs_ioctl.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define READ_MAX (1u << 20)
/* the smallest read request ll_read_max settles for; where not even
 * that fits, requests stay 1 MiB and libfuse copies their replies */
#define READ_MIN (128u << 10)
/* segments of a reply sized for: a read across two chunks */
#define REPLY_SEGMENTS 2
/* struct fuse_out_header, which libfuse's public headers do not have */
#define REPLY_HEADER 16

/*
 * The largest read request, up to 1 MiB, whose reply libfuse can splice
 * from a cache file. libfuse 3.14 splices a reply through a pipe of at
 * least pagesize * (segments + 2) + header + data bytes, and copies it
 * instead (pread into a new buffer, then writev) when it cannot grow its
 * pipe that far. Without CAP_SYS_RESOURCE a pipe stops at
 * fs.pipe-max-size (1 MiB by default), so every 1 MiB reply would be
 * copied, which cost cold reads a third of their speed
 * (docs/PERFORMANCE.md). So the kernel is asked for requests whose
 * replies fit the pipe this process can have: 1 MiB where a pipe grows
 * to hold one (root with CAP_SYS_RESOURCE, or a raised pipe-max-size),
 * else the largest power of two that fits, down to READ_MIN.
 */
size_t ll_read_max(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size;
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		return READ_MAX;
	for (size = READ_MAX; size >= READ_MIN; size /= 2) {
		size_t need = page * (REPLY_SEGMENTS + 2) + REPLY_HEADER + size;

		if (fcntl(p[0], F_SETPIPE_SZ, (int)need) >= (int)need)
			break;
	}
	close(p[0]);
	close(p[1]);
	return size >= READ_MIN ? size : READ_MAX;
}

static ns_t *ll_ns(fuse_req_t req)
{
	return ((struct ll_ctx *)fuse_req_userdata(req))->ns;
}

static struct ns_caller ll_caller(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct ns_caller who = {c->uid, c->gid, c->pid};

	return who;
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ll_ctx *ctx = userdata;

	/* immutable content: let the kernel cache and splice freely */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	/*
	 * readdirplus makes the kernel build an inode for every entry: on a
	 * 1,000,000-file tree `find` costs 5x more kernel time than plain
	 * readdir (which `find` needs), while `ls -l` and `du` gain. Off by
	 * default, as in mountpoint-s3 and gcsfuse; -o readdirplus opts in.
	 */
	if (ctx->readdirplus) {
		if (conn->capable & FUSE_CAP_READDIRPLUS)
			conn->want |= FUSE_CAP_READDIRPLUS;
		if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
			conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	} else {
		conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS |
					  FUSE_CAP_READDIRPLUS_AUTO);
	}
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* max_write also sizes max_pages, which bounds read requests */
	conn->max_write = (unsigned)ctx->read_max;
	conn->max_read = (unsigned)ctx->read_max;
	/* not read_max: the kernel would cap the mount's readahead to it */
	conn->max_readahead = LL_READAHEAD;
	conn->max_background = 64;
}

static void reply_entry(fuse_req_t req, uint64_t ino, const struct stat *st,
			double timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.generation = 1;
	e.attr = *st;
	e.attr_timeout = timeout;
	e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct stat st;
	uint64_t ino;
	double timeout;
	int rc = ns_lookup(ll_ns(req), parent, name, &ino, &st, &timeout);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, ino, &st, timeout);
}

/* Inode numbers are computed from catalogs; there is nothing to forget. */
static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	int rc = ns_getattr(ll_ns(req), ino, &st, &timeout);

	(void)fi;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target = NULL;
	int rc = ns_readlink(ll_ns(req), ino, &target);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ns_file *f = NULL;
	ns_t *ns = ll_ns(req);
	struct ns_caller who = ll_caller(req);
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY ||
		     (fi->flags & (O_TRUNC | O_APPEND));
	bool direct_io;
	int rc;

	/* the mount is read-only: the kernel refuses writes before they
	 * reach us; ns_open refuses (and audits) any that do */
	rc = ns_open(ns, ino, &who, write, &f, &direct_io);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = direct_io;
	fi->keep_cache = !direct_io; /* an inode's bytes never change */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		ns_release(ns, f); /* the opener was interrupted */
}

static void ll_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	ns_t *ns = ll_ns(req);

	(void)ino;
	fuse_reply_err(req, 0);
	ns_release(ns, (struct ns_file *)(uintptr_t)fi->fh);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ns_file *f = (struct ns_file *)(uintptr_t)fi->fh;
	ns_t *ns = ll_ns(req); /* req is gone once replied to */
	struct fuse_bufvec *bv;
	struct ns_read r;
	int rc;

	(void)ino;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = ns_read(ns, f, (uint64_t)off, size, &r);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (r.nseg == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	bv = xcalloc(1, sizeof(*bv) + r.nseg * sizeof(struct fuse_buf));
	bv->count = r.nseg;
	for (size_t i = 0; i < r.nseg; i++) {
		struct fuse_buf *b = &bv->buf[i];

		b->size = r.seg[i].len;
		if (r.seg[i].fd >= 0) {
			/* zero-copy: libfuse splices from the cache file */
			b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			b->fd = r.seg[i].fd;
			b->pos = (off_t)r.seg[i].pos;
		} else {
			b->mem = (void *)(r.seg[i].mem + r.seg[i].pos);
		}
	}
	fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
	free(bv);
	ns_read_done(ns, &r);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	int rc = ns_getattr(ll_ns(req), ino, &st, &timeout);

	if (!rc && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->cache_readdir = 1; /* listings are immutable per inode too */
	fi->keep_cache = ns_ino_immutable(ino);
	fuse_reply_open(req, fi);
}

struct dir_buf {
	fuse_req_t req;
	char *data;
	size_t len, cap;
	bool plus;
};

static int dir_fill(void *ctx, const char *name, size_t name_len,
		    const struct stat *st, uint64_t next_off)
{
	struct dir_buf *d = ctx;
	char tmp[REPO_NAME_MAX + 1];
	size_t n;

	if (name_len > REPO_NAME_MAX)
		return 0; /* cannot happen: names are checked by the packer */
	memcpy(tmp, name, name_len);
	tmp[name_len] = '\0';
	if (d->plus) {
		struct fuse_entry_param e;
		bool dot = !strcmp(tmp, ".") || !strcmp(tmp, "..");

		memset(&e, 0, sizeof(e));
		e.attr = *st;
		/* "." and "..": no lookup count, the kernel knows them */
		e.ino = dot ? 0 : st->st_ino;
		e.generation = 1;
		e.attr_timeout = e.entry_timeout =
		    ns_ino_immutable(st->st_ino) ? NS_TIMEOUT_IMMUTABLE : 1.0;
		n = fuse_add_direntry_plus(d->req, d->data + d->len,
					   d->cap - d->len, tmp, &e,
					   (off_t)next_off);
	} else {
		n = fuse_add_direntry(d->req, d->data + d->len, d->cap - d->len,
				      tmp, st, (off_t)next_off);
	}
	if (n > d->cap - d->len)
		return 1;
	d->len += n;
	return 0;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, bool plus)
{
	struct dir_buf d = {req, NULL, 0, size, plus};
	int rc;

	if (size > READ_MAX)
		d.cap = size = READ_MAX;
	d.data = xmalloc(size ? size : 1);
	rc = ns_readdir(ll_ns(req), ino, (uint64_t)off, plus, dir_fill, &d);
	if (rc && d.len == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.data, d.len);
	free(d.data);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, false);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, true);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* df: the platform's size (all of it, full: nothing can be added) and
 * its file count, so a plain df lists the mount */
static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	uint64_t bytes, files;

	(void)ino;
	ns_totals(ll_ns(req), &bytes, &files);
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((bytes + 4095) / 4096);
	sv.f_files = (fsfilcnt_t)files;
	sv.f_namemax = REPO_NAME_MAX;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *value = NULL;
	size_t len = 0;
	struct ns_caller who = ll_caller(req);
	int rc = ns_getxattr(ll_ns(req), ino, &who, name, &value, &len);

	if (rc)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
	free(value);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct buf names;
	int rc;

	buf_init(&names, 64 * 1024);
	rc = ns_listxattr(ll_ns(req), ino, &names);
	if (rc)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, names.len);
	else if (size < names.len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)names.data, names.len);
	buf_release(&names);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct ns_caller who = ll_caller(req);

	fuse_reply_err(req, -ns_access(ll_ns(req), ino, &who, mask));
}

/* AIDATAFS_IOC_PREFETCH on an open dataset file. */
static void ll_ioctl_prefetch(fuse_req_t req, struct ns_file *f,
			      const void *in_buf, size_t in_bufsz,
			      size_t out_bufsz)
{
	struct aidatafs_ioc_prefetch io;
	struct ns_prefetch_result r;
	int rc;

	if (in_bufsz != sizeof(io) || out_bufsz != sizeof(io)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memcpy(&io, in_buf, sizeof(io));
	rc = ns_prefetch(ll_ns(req), f, io.offset, io.length, &r);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	io.bytes_fetched = r.bytes_fetched;
	io.bytes_cached = r.bytes_cached;
	io.origin_bytes = r.origin_bytes;
	io.chunks_fetched = r.chunks_fetched;
	io.chunks_cached = r.chunks_cached;
	fuse_reply_ioctl(req, 0, &io, sizeof(io));
}

/* AIDATAFS_IOC_RECEIPT on an open .aidata/receipt. */
static void ll_ioctl_receipt(fuse_req_t req, struct ns_file *f,
			     const void *in_buf, size_t in_bufsz)
{
	const struct aidatafs_ioc_receipt *io = in_buf;
	struct ns_caller who = ll_caller(req);
	int rc;

	if (in_bufsz != sizeof(*io) ||
	    strnlen(io->cgroup, sizeof(io->cgroup)) == sizeof(io->cgroup) ||
	    (io->flags & ~AIDATAFS_RECEIPT_RESET)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = ns_receipt_select(ll_ns(req), f, &who, io->cgroup,
			       io->flags & AIDATAFS_RECEIPT_RESET);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_ioctl(req, 0, NULL, 0);
}

/* The control requests of fs/uapi/aidatafs_ioctl.h. */
static void ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		     void *arg, struct fuse_file_info *fi, unsigned flags,
		     const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct ns_file *f = (struct ns_file *)(uintptr_t)fi->fh;
	struct ns_caller who = ll_caller(req);
	enum auth_reason reason;
	const char *token = in_buf, *text;
	size_t len;
	int rc;

	(void)arg;
	/* directories (FUSE_IOCTL_DIR) have no ns_file */
	if ((flags & (FUSE_IOCTL_COMPAT | FUSE_IOCTL_DIR)) || !f) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (cmd == AIDATAFS_IOC_PREFETCH) {
		ll_ioctl_prefetch(req, f, in_buf, in_bufsz, out_bufsz);
		return;
	}
	if (cmd == AIDATAFS_IOC_RECEIPT) {
		ll_ioctl_receipt(req, f, in_buf, in_bufsz);
		return;
	}
	if (ino != NS_INO_LOGIN) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (cmd == AIDATAFS_IOC_LOGOUT) {
		rc = ns_logout(ll_ns(req), f, &who);
		if (rc)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	if (cmd != AIDATAFS_IOC_LOGIN ||
	    in_bufsz != sizeof(struct aidatafs_ioc_data) ||
	    out_bufsz != sizeof(struct aidatafs_ioc_data)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	len = strnlen(token, in_bufsz);
	if (len == in_bufsz) {
		fuse_reply_err(req, EINVAL); /* not NUL-terminated */
		return;
	}
	rc = ns_login(ll_ns(req), f, &who, token, len, &reason);
	/* the reason goes back either way; the result carries the errno */
	text = auth_reason_text(reason);
	fuse_reply_ioctl(req, rc, text, strlen(text) + 1);
}

/* A read-only filesystem: every change is refused. */
static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, EROFS);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EROFS);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, EROFS);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EROFS);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	fuse_reply_err(req, EROFS);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EROFS);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops ll_ops = {
    .init = ll_init,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .readlink = ll_readlink,
    .open = ll_open,
    .read = ll_read,
    .release = ll_release,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .readdirplus = ll_readdirplus,
    .releasedir = ll_releasedir,
    .statfs = ll_statfs,
    .getxattr = ll_getxattr,
    .listxattr = ll_listxattr,
    .setxattr = ll_setxattr,
    .removexattr = ll_removexattr,
    .access = ll_access,
    .ioctl = ll_ioctl,
    .setattr = ll_setattr,
    .mknod = ll_mknod,
    .mkdir = ll_mkdir,
    .unlink = ll_unlink,
    .rmdir = ll_unlink,
    .symlink = ll_symlink,
    .rename = ll_rename,
    .link = ll_link,
    .create = ll_create,
};

/* ------------------------------------------------------- notifications -- */

static void notify_entry(void *ctx, uint64_t parent, const char *name)
{
	struct ll_ctx *c = ctx;

	if (name)
		fuse_lowlevel_notify_inval_entry(c->se, parent, name,
						 strlen(name));
}

static void notify_inode(void *ctx, uint64_t ino)
{
	struct ll_ctx *c = ctx;

	fuse_lowlevel_notify_inval_inode(c->se, ino, 0, 0);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Re-check the manifest every TTL; trim catalog mappings meanwhile. */
static void *refresh_main(void *arg)
{
	struct ll_ctx *c = arg;
	struct ns_notify nf = {notify_entry, notify_inode, c};
	double last = now_mono();

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		uint32_t ttl = ns_ttl(c->ns);
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ttl < 5 ? ttl : 5;
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		if (now_mono() - last >= ttl) {
			ns_refresh(c->ns, &nf);
			last = now_mono();
		}
		ns_trim(c->ns);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int ll_background_start(struct ll_ctx *c)
{
	int rc;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	rc = pthread_create(&c->refresher, NULL, refresh_main, c);
	c->refresher_started = rc == 0;
	return -rc;
}

void ll_background_stop(struct ll_ctx *c)
{
	if (!c->refresher_started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->refresher, NULL);
	c->refresher_started = false;
}

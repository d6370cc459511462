/* FUSE low-level glue (ll.c) and what main.c needs of it. */
#ifndef AIDATA_LL_H
#define AIDATA_LL_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>

#include "ns.h"

/* The mount's readahead window (main.c raises the kernel's 128 KiB to it;
 * the INIT reply's max_readahead must not cap it): a few read requests. */
#define LL_READAHEAD (1u << 20)

/* The session's userdata. */
struct ll_ctx {
	ns_t *ns;
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t refresher;
	bool refresher_started;
	bool stop;	  /* protected by lock */
	bool readdirplus; /* -o readdirplus: attributes with listings */
	size_t read_max;  /* bytes per read request: ll_read_max() */
};

extern const struct fuse_lowlevel_ops ll_ops;

/* The largest read request (up to 1 MiB) whose reply libfuse can splice
 * through a pipe this process may have; the mount's max_read. */
size_t ll_read_max(void);

/* Start/stop the thread that follows new revisions. */
int ll_background_start(struct ll_ctx *c);
void ll_background_stop(struct ll_ctx *c);

#endif

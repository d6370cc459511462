/*
 * FUSE over io_uring (kernel 6.14+ with fuse.enable_uring=1): the
 * kernel hands requests to per-CPU rings of entries the daemon
 * registered, and a reply and the wait for the next request are one
 * io_uring submission. A request then wakes a thread on the CPU of the
 * process that made it, where /dev/fuse wakes any thread reading it;
 * on this project's VMs that round trip is 2-6x shorter
 * (docs/PERFORMANCE.md, "Stop 23").
 *
 * libfuse 3.14 knows nothing of it: ring.c takes over the session's
 * I/O (fuse_session_custom_io), asks for io_uring in the INIT reply
 * when the kernel offers it, and hands each request from a ring to
 * fuse_session_process_buf() in /dev/fuse's layout, taking the reply
 * into the ring entry. Requests the kernel does not put on rings (INIT,
 * FORGET, INTERRUPT) keep coming through /dev/fuse and libfuse's loop.
 * Once the INIT reply asked for rings, the kernel holds every other
 * request until each CPU's queue has an entry: so rings are asked for
 * only when a thread of each queue is ready, and a ring the kernel
 * refuses after that ends the mount (ring_failed).
 */
#ifndef AIDATA_RING_H
#define AIDATA_RING_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring_config {
	/* ring threads in all, each with one entry, shared out over the
	 * queues, at least two a queue (a handler may block on the
	 * origin; the others of its queue go on) */
	unsigned threads;
	/* bytes of the largest reply: the mount's max_read/max_write */
	size_t payload;
	/* called with each request taken from a ring (may be NULL) */
	void (*counted)(void *arg);
	void *arg;
};

struct ring;

/* Takes over se's I/O, after fuse_session_mount(). The rings start
 * after the INIT reply if the kernel offered io_uring; else nothing
 * changes. 0 (*out NULL where rings cannot work: under valgrind) or
 * -errno. One per process. */
int ring_attach(struct fuse_session *se, const struct ring_config *cfg,
		struct ring **out);

/* Whether the kernel refused a ring entry after the INIT reply asked for
 * rings, which ends the mount (then an error, not a stop). */
bool ring_failed(const struct ring *r);

/* Stops the ring threads (after the session loop ended) and frees. */
void ring_free(struct ring *r);

#endif

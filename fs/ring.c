/*
 * FUSE over io_uring for libfuse 3.14 (ring.h). The protocol is the
 * kernel's (Documentation/filesystems/fuse-io-uring.rst, uapi fuse.h
 * 7.42); libfuse ≥ 3.18 has its own implementation, which this one
 * follows where 3.14 lets it: one io_uring per thread, with one entry,
 * so a handler that waits for the origin holds only its own entry.
 */
#define _GNU_SOURCE
#include "ring.h"
#include "ring_abi.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

/* valgrind (3.19) keeps its lock while a thread waits in io_uring_enter,
 * so every other thread of the daemon would stop */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#include "banned.h"

/* user_data of the stop eventfd's poll; entries use their thread */
#define STOP_TAG 1

struct ring_thread {
	struct ring *r;
	pthread_t tid;
	unsigned qid;
	struct io_uring uring;
	struct fuse_uring_req_header *hdr; /* page-aligned, mapped */
	char *payload;			   /* r->payload bytes, mapped */
	struct iovec iov[2];
	/* the request being handled, and whether libfuse replied */
	uint64_t unique;
	bool replied;
	/* the request in /dev/fuse's layout, for libfuse */
	char *req;
	size_t req_cap;
};

struct ring {
	struct fuse_session *se;
	struct ring_config cfg;
	int stop_fd; /* eventfd: written once to stop every thread */
	unsigned nqueues;
	unsigned nthreads;
	struct ring_thread *threads;
	/* INIT, seen by io_read: its unique, and whether the kernel
	 * offered io_uring in it */
	_Atomic uint64_t init_unique;
	atomic_bool offered;
	/* the threads wait until the INIT reply is written: 1 go, -1 stop */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	int gate;
	/* a ring entry refused after the INIT reply: the mount must end */
	atomic_bool failed;
};

/* The thread's own, while it hands a request to libfuse. */
static __thread struct ring_thread *current;

/* Queues a command of the thread's one entry (its ring has room for it
 * and the stop poll, all it ever has in flight). */
static void prep_cmd(struct ring_thread *t, uint32_t cmd, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->uring);
	struct fuse_uring_cmd_req *req;

	if (!sqe)
		return;
	req = (void *)&sqe->cmd[0];
	/* an SQE128 entry: the 64 bytes of io_uring_sqe and 64 of cmd */
	memset((void *)sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_session_fd(t->r->se);
	sqe->cmd_op = cmd;
	io_uring_sqe_set_data(sqe, t);
	req->qid = (uint16_t)t->qid;
	req->commit_id = commit_id;
	if (cmd == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)t->iov;
		sqe->len = 2;
	}
}

/* The reply in the entry: the header and payload_sz bytes of payload. */
static void reply_header(struct ring_thread *t, int error, size_t len)
{
	struct fuse_out_header *oh = (void *)t->hdr->in_out;

	oh->unique = t->unique;
	oh->error = error;
	oh->len = (uint32_t)(sizeof(*oh) + len);
	t->hdr->ring_ent_in_out.payload_sz = (uint32_t)len;
	t->replied = true;
}

/* One request from the ring: to libfuse in /dev/fuse's layout. */
static void handle(struct ring_thread *t)
{
	const struct fuse_in_header *in = (const void *)t->hdr->in_out;
	size_t payload = t->hdr->ring_ent_in_out.payload_sz;
	ssize_t op = ring_op_in_size(in->opcode);
	struct fuse_in_header *h;
	struct fuse_buf buf;
	size_t need;

	t->unique = in->unique;
	t->replied = false;
	if (t->r->cfg.counted)
		t->r->cfg.counted(t->r->cfg.arg);
	if (op < 0 || (size_t)op > sizeof(t->hdr->op_in) ||
	    payload > t->r->cfg.payload) {
		reply_header(t, -ENOSYS, 0);
		return;
	}
	need = sizeof(*in) + (size_t)op + payload;
	if (need > t->req_cap) {
		free(t->req);
		t->req = xmalloc(need);
		t->req_cap = need;
	}
	memcpy(t->req, in, sizeof(*in));
	memcpy(t->req + sizeof(*in), t->hdr->op_in, (size_t)op);
	memcpy(t->req + sizeof(*in) + op, t->payload, payload);
	h = (void *)t->req;
	h->len = (uint32_t)need;
	memset(&buf, 0, sizeof(buf));
	buf.mem = t->req;
	buf.size = need;
	current = t;
	fuse_session_process_buf(t->r->se, &buf);
	current = NULL;
	/* no reply (libfuse's fuse_reply_none): commit an empty one, so
	 * the entry goes back to the kernel */
	if (!t->replied)
		reply_header(t, 0, 0);
}

/* Pins the thread to its queue's CPU, where its requests come from. */
static void pin(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The kernel refused a ring entry after the INIT reply asked for rings.
 * It then takes requests only from rings (and waits until every queue
 * has an entry), so the mount cannot go on through /dev/fuse: it ends,
 * with an error, rather than leave readers waiting.
 */
static void fail(struct ring *r, int err)
{
	if (atomic_exchange(&r->failed, true))
		return;
	log_error("io_uring: the kernel refused a ring entry: %s; the mount "
		  "ends (mount without -o io_uring)",
		  strerror(err));
	kill(getpid(), SIGTERM); /* ends libfuse's loop, as a stop does */
}

static void *thread_main(void *arg)
{
	struct ring_thread *t = arg;
	struct io_uring_sqe *sqe;
	bool stop = false;

	pin(t->qid);
	pthread_mutex_lock(&t->r->gate_lock);
	while (t->r->gate == 0)
		pthread_cond_wait(&t->r->gate_cond, &t->r->gate_lock);
	stop = t->r->gate < 0;
	pthread_mutex_unlock(&t->r->gate_lock);
	if (stop)
		return NULL;
	prep_cmd(t, FUSE_IO_URING_CMD_REGISTER, 0);
	sqe = io_uring_get_sqe(&t->uring);
	io_uring_prep_poll_add(sqe, t->r->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, STOP_TAG);
	while (!stop) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int rc = io_uring_submit_and_wait(&t->uring, 1);

		if (rc < 0 && rc != -EINTR) {
			fail(t->r, -rc);
			break;
		}
		io_uring_for_each_cqe(&t->uring, head, cqe)
		{
			seen++;
			if (io_uring_cqe_get_data64(cqe) == STOP_TAG) {
				stop = true;
			} else if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
				/* not taken: the same command again */
				uint64_t id = t->hdr->ring_ent_in_out.commit_id;

				prep_cmd(
				    t,
				    t->replied
					? FUSE_IO_URING_CMD_COMMIT_AND_FETCH
					: FUSE_IO_URING_CMD_REGISTER,
				    t->replied ? id : 0);
			} else if (cqe->res < 0) {
				/* ENOTCONN: unmounted; others: refused */
				if (cqe->res != -ENOTCONN)
					fail(t->r, -cqe->res);
				stop = true;
			} else {
				handle(t);
				prep_cmd(t, FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
					 t->hdr->ring_ent_in_out.commit_id);
			}
		}
		io_uring_cq_advance(&t->uring, seen);
	}
	/* the reply to a request taken with the stop, if any */
	io_uring_submit(&t->uring);
	return NULL;
}

/* What thread_init made (either map may have failed). */
static void thread_free(struct ring_thread *t)
{
	io_uring_queue_exit(&t->uring);
	if (t->hdr && t->hdr != MAP_FAILED)
		munmap(t->hdr, sizeof(*t->hdr));
	if (t->payload && t->payload != MAP_FAILED)
		munmap(t->payload, t->r->cfg.payload);
	free(t->req);
	t->hdr = NULL;
	t->payload = NULL;
	t->req = NULL;
}

static int thread_init(struct ring *r, struct ring_thread *t, unsigned qid)
{
	struct io_uring_params p;
	int rc;

	t->r = r;
	t->qid = qid;
	memset(&p, 0, sizeof(p));
	/* fuse's commands need 128-byte entries */
	p.flags = IORING_SETUP_SQE128;
	rc = io_uring_queue_init_params(4, &t->uring, &p);
	if (rc)
		return rc;
	t->hdr = mmap(NULL, sizeof(*t->hdr), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->payload = mmap(NULL, r->cfg.payload, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->hdr == MAP_FAILED || t->payload == MAP_FAILED) {
		rc = -errno;
		thread_free(t);
		return rc;
	}
	t->iov[0].iov_base = t->hdr;
	t->iov[0].iov_len = sizeof(*t->hdr);
	t->iov[1].iov_base = t->payload;
	t->iov[1].iov_len = r->cfg.payload;
	return 0;
}

/* Opens the gate (1: register, -1: stop), unless it is open already. */
static void open_gate(struct ring *r, int how)
{
	pthread_mutex_lock(&r->gate_lock);
	if (r->gate == 0)
		r->gate = how;
	pthread_cond_broadcast(&r->gate_cond);
	pthread_mutex_unlock(&r->gate_lock);
}

/* Stops and frees the threads, waiting at the gate or not. */
static void stop_threads(struct ring *r)
{
	uint64_t one = 1;

	open_gate(r, -1);
	if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("io_uring: cannot stop the ring threads: %s",
			  strerror(errno));
	for (unsigned i = 0; i < r->nthreads; i++) {
		pthread_join(r->threads[i].tid, NULL);
		thread_free(&r->threads[i]);
	}
	free(r->threads);
	r->threads = NULL;
	r->nthreads = 0;
}

/*
 * Before the INIT reply asks for rings: a thread per entry, each with
 * its io_uring and buffers, waiting at the gate. Once the reply has
 * asked for them, the kernel takes requests only from rings, and only
 * once each queue has an entry, so rings are asked for only if every
 * queue has a thread ready. A round over the queues at a time, so that a
 * failure (io_uring turned off by kernel.io_uring_disabled, no memory)
 * leaves every queue some threads or none. true if ready.
 */
static bool prepare(struct ring *r)
{
	unsigned n = 0, want = r->nqueues * r->cfg.threads;
	int err = 0;

	r->threads = xcalloc(want, sizeof(*r->threads));
	for (unsigned i = 0; i < r->cfg.threads && !err; i++) {
		for (unsigned q = 0; q < r->nqueues && !err; q++) {
			struct ring_thread *t = &r->threads[n];

			err = thread_init(r, t, q);
			if (err)
				break;
			err = -pthread_create(&t->tid, NULL, thread_main, t);
			if (err) {
				thread_free(t);
				break;
			}
			n++;
		}
	}
	r->nthreads = n;
	if (n < r->nqueues) {
		log_warn("-o io_uring: cannot set up the rings (%s); requests "
			 "through /dev/fuse",
			 strerror(-err));
		stop_threads(r);
		return false;
	}
	if (err)
		log_warn("-o io_uring: %u ring threads of %u (%s)", n, want,
			 strerror(-err));
	return true;
}

static struct ring *the_ring; /* one session per process */

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ring *r = the_ring;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *ii = (const void *)(in + 1);
		uint64_t flags = ii->flags;

		if (flags & FUSE_INIT_EXT)
			flags |= (uint64_t)ii->flags2 << 32;
		atomic_store(&r->offered, (flags & FUSE_OVER_IO_URING) != 0);
		atomic_store(&r->init_unique, in->unique);
	}
	return n;
}

/* Copies a reply for the current ring request into its entry. */
static ssize_t take_reply(struct ring_thread *t, const struct iovec *iov,
			  int count)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	size_t len = 0;

	for (int i = 1; i < count; i++) {
		if (len + iov[i].iov_len > t->r->cfg.payload) {
			reply_header(t, -EIO, 0);
			log_error("io_uring: a reply of more than %zu bytes",
				  t->r->cfg.payload);
			errno = EIO;
			return -1;
		}
		memcpy(t->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	reply_header(t, oh->error, len);
	return (ssize_t)(sizeof(*oh) + len);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ring *r = the_ring;
	struct fuse_out_header *oh = iov[0].iov_base;
	struct ring_thread *t = current;
	bool init, rings;
	ssize_t n;

	(void)userdata;
	if (t && !t->replied && oh->unique == t->unique)
		return take_reply(t, iov, count);
	init = oh->unique && oh->unique == atomic_load(&r->init_unique) &&
	       oh->error == 0 && count >= 2 &&
	       iov[1].iov_len >=
		   offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t);
	rings = init && atomic_load(&r->offered) && prepare(r);
	if (rings) {
		struct fuse_init_out *o = iov[1].iov_base;

		o->flags |= FUSE_INIT_EXT;
		o->flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
	}
	n = writev(fd, iov, count);
	if (!init)
		return n;
	atomic_store(&r->init_unique, 0);
	if (rings && n > 0) {
		open_gate(r, 1);
		log_info("FUSE requests over io_uring: %u queues, %u threads",
			 r->nqueues, r->nthreads);
	} else if (rings) {
		stop_threads(r);
	} else if (!atomic_load(&r->offered)) {
		log_warn("-o io_uring: the kernel does not offer it (it needs "
			 "Linux 6.14+ with the fuse module's enable_uring on, "
			 "README); requests through /dev/fuse");
	}
	return n;
}

/*
 * libfuse splices a reply of file data through its pipe: the header it
 * wrote there, then the data. For a ring request both are read out of
 * the pipe into the entry.
 */
static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	struct ring_thread *t = current;
	struct fuse_out_header oh;
	size_t got = 0;

	(void)userdata;
	if (!t || t->replied)
		return splice(fdin, offin, fdout, offout, len, flags);
	if (len < sizeof(oh) || len - sizeof(oh) > t->r->cfg.payload ||
	    read(fdin, &oh, sizeof(oh)) != (ssize_t)sizeof(oh) ||
	    oh.unique != t->unique) {
		errno = EIO;
		return -1;
	}
	while (got < len - sizeof(oh)) {
		ssize_t n =
		    read(fdin, t->payload + got, len - sizeof(oh) - got);

		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return -1;
		}
		got += (size_t)n;
	}
	reply_header(t, oh.error, got);
	return (ssize_t)len;
}

/*
 * The kernel has a queue for each possible CPU (nr_cpu_ids): from
 * /sys/devices/system/cpu/possible ("0-7", "0,2-3"), its highest + 1;
 * else the CPUs configured.
 */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char line[256];
	unsigned long top = 0;
	bool any = false;

	if (f) {
		if (fgets(line, sizeof(line), f)) {
			for (char *p = line; *p;) {
				char *end;
				unsigned long v = strtoul(p, &end, 10);

				if (end == p)
					break;
				any = true;
				if (v > top)
					top = v;
				p = end;
				while (*p == '-' || *p == ',' || *p == '\n')
					p++;
			}
		}
		fclose(f);
	}
	if (any && top < 65536)
		return (unsigned)top + 1;
	return (unsigned)get_nprocs_conf();
}

int ring_attach(struct fuse_session *se, const struct ring_config *cfg,
		struct ring **out)
{
	static const struct fuse_custom_io io = {
	    .read = io_read,
	    .writev = io_writev,
	    .splice_send = io_splice_send,
	};
	struct ring *r;
	int rc;

	*out = NULL;
	if (the_ring)
		return -EBUSY;
	if (UNDER_VALGRIND()) {
		log_warn("-o io_uring: not under valgrind, which cannot "
			 "run the rings; requests through /dev/fuse");
		return 0;
	}
	r = xcalloc(1, sizeof(*r));
	r->se = se;
	r->cfg = *cfg;
	r->nqueues = possible_cpus();
	/* from here on, per queue */
	r->cfg.threads = (r->cfg.threads + r->nqueues - 1) / r->nqueues;
	if (r->cfg.threads < 2)
		r->cfg.threads = 2;
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0) {
		rc = -errno;
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->gate_lock, NULL);
	pthread_cond_init(&r->gate_cond, NULL);
	the_ring = r;
	rc = fuse_session_custom_io(se, &io, fuse_session_fd(se));
	if (rc) {
		pthread_mutex_destroy(&r->gate_lock);
		pthread_cond_destroy(&r->gate_cond);
		close(r->stop_fd);
		free(r);
		the_ring = NULL;
		return rc;
	}
	*out = r;
	return 0;
}

bool ring_failed(const struct ring *r)
{
	return r && atomic_load(&r->failed);
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	stop_threads(r);
	pthread_mutex_destroy(&r->gate_lock);
	pthread_cond_destroy(&r->gate_cond);
	close(r->stop_fd);
	the_ring = NULL;
	free(r);
}

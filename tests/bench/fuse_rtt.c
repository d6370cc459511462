/*
 * fuse_rtt: what a FUSE request costs on this machine, through /dev/fuse
 * and through io_uring rings (kernel 6.14+ with the fuse module's
 * enable_uring on): a physical limit of the rows that are one request
 * after another (small files, listings, random reads of a warm cache;
 * docs/PERFORMANCE.md). A server on the kernel's protocol that does no
 * work (files f<N> and d<N> of 4 KiB, d<N> opened with direct I/O so
 * that each read is a request; entry and attribute timeouts 0) and
 * clients in forked processes:
 *   pread   4 KiB preads of one d<N> file: one READ each
 *   stat    stat() of one file: LOOKUP and GETATTR
 *   small   open, read, close of a new file each time: LOOKUP, OPEN,
 *           READ, RELEASE
 * with 1 and 8 clients. Prints operations/s, the median and p99 latency
 * and the requests per operation the server saw. Ring mode uses, as
 * fs/ring.c does, one queue per CPU, its threads pinned to it.
 *
 *   fuse_rtt dev|uring MNT [COUNT]      (as root; MNT an empty directory)
 *
 * Not a test: it asserts nothing but that each operation works.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring_abi.h"

#define MAXPAY (1024 * 1024)
#define BUFSZ (MAXPAY + 4096)
#define QDEPTH 8
#define FSIZE 4096

static int fusefd;
static atomic_ulong nreq;

static void fill_attr(uint64_t ino, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	if (ino == 1) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0444;
		a->nlink = 1;
		a->size = FSIZE;
		a->blocks = FSIZE / 512;
	}
	a->blksize = 4096;
}

/* where a request's arguments after the first start (-1: one we do not
 * know, whose arguments we do not read) */
static size_t op_hdr_size(uint32_t op)
{
	ssize_t n = ring_op_in_size(op);

	return n < 0 ? 0 : (size_t)n;
}

/*
 * One request: returns the reply's payload length (>= 0) into out, or a
 * negative errno; 1 << 30 means "no reply".
 */
#define NOREPLY (1 << 30)
static int handle(const struct fuse_in_header *in, const void *op,
		  const char *payload, char *out)
{
	atomic_fetch_add_explicit(&nreq, 1, memory_order_relaxed);
	switch (in->opcode) {
	case FUSE_LOOKUP: {
		struct fuse_entry_out *e = (void *)out;
		unsigned long n;
		char *end;

		if (in->nodeid != 1 || (payload[0] != 'f' && payload[0] != 'd'))
			return -ENOENT;
		n = strtoul(payload + 1, &end, 10);
		if (*end)
			return -ENOENT;
		n = 2 + n * 2 + (payload[0] == 'd'); /* out may be payload */
		memset(e, 0, sizeof(*e));
		e->nodeid = n;
		e->generation = 1;
		e->entry_valid = 0;
		e->attr_valid = 0;
		fill_attr(e->nodeid, &e->attr);
		return sizeof(*e);
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out *a = (void *)out;

		memset(a, 0, sizeof(*a));
		a->attr_valid = 0;
		fill_attr(in->nodeid, &a->attr);
		return sizeof(*a);
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		struct fuse_open_out *o = (void *)out;

		memset(o, 0, sizeof(*o));
		o->fh = in->nodeid;
		/* odd inodes ("dN") are direct: every read a request */
		if (in->opcode == FUSE_OPEN && (in->nodeid & 1))
			o->open_flags = FOPEN_DIRECT_IO;
		return sizeof(*o);
	}
	case FUSE_READ: {
		const struct fuse_read_in *r = op;
		size_t n = r->size;

		if (r->offset >= FSIZE)
			return 0;
		if (n > FSIZE - r->offset)
			n = FSIZE - r->offset;
		memset(out, 'a', n);
		return (int)n;
	}
	case FUSE_READDIR:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_DESTROY:
		return 0;
	case FUSE_STATFS: {
		struct fuse_statfs_out *s = (void *)out;

		memset(s, 0, sizeof(*s));
		s->st.bsize = 4096;
		s->st.namelen = 255;
		return sizeof(*s);
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		return NOREPLY;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return -EOPNOTSUPP;
	default:
		return -ENOSYS;
	}
}

static void dev_reply(uint64_t unique, int rc, const char *data)
{
	struct fuse_out_header oh;
	struct iovec iov[2];

	if (rc == NOREPLY)
		return;
	oh.unique = unique;
	oh.error = rc < 0 ? rc : 0;
	oh.len = sizeof(oh) + (rc > 0 ? (uint32_t)rc : 0);
	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = rc > 0 ? (size_t)rc : 0;
	if (writev(fusefd, iov, 2) < 0 && errno != ENOENT)
		perror("writev");
}

static void *dev_loop(void *arg)
{
	char *buf = malloc(BUFSZ), *out = malloc(BUFSZ);

	(void)arg;
	for (;;) {
		ssize_t n = read(fusefd, buf, BUFSZ);
		struct fuse_in_header *in = (void *)buf;
		const char *op = buf + sizeof(*in);
		int rc;

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ENOENT)
				continue;
			return NULL; /* ENODEV: unmounted */
		}
		rc = handle(in, op, op + op_hdr_size(in->opcode), out);
		dev_reply(in->unique, rc, out);
	}
}

struct ent {
	struct fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
};

static void prep_cmd(struct io_uring *ring, struct ent *e, uint32_t cmd,
		     int qid, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct fuse_uring_cmd_req *req;

	if (!sqe) { /* the ring has an entry for each */
		fprintf(stderr, "fuse_rtt: no free SQE\n");
		exit(1);
	}
	memset((void *)sqe, 0, 2 * sizeof(*sqe)); /* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fusefd;
	sqe->cmd_op = cmd;
	io_uring_sqe_set_data(sqe, e);
	req = (void *)&sqe->cmd[0];
	req->qid = (uint16_t)qid;
	req->commit_id = commit_id;
	if (cmd == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
}

static atomic_int rings_up;

static void *uring_loop(void *arg)
{
	int qid = (int)(intptr_t)arg;
	struct io_uring ring;
	struct io_uring_params p;
	struct ent ents[QDEPTH];
	cpu_set_t set;
	int rc;

	CPU_ZERO(&set);
	CPU_SET(qid, &set);
	sched_setaffinity(0, sizeof(set), &set);
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
	p.cq_entries = QDEPTH * 2;
	rc = io_uring_queue_init_params(QDEPTH, &ring, &p);
	if (rc) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
		exit(1);
	}
	for (int i = 0; i < QDEPTH; i++) {
		struct ent *e = &ents[i];

		e->hdr =
		    mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		e->payload =
		    mmap(NULL, MAXPAY, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		e->iov[0].iov_base = e->hdr;
		e->iov[0].iov_len = sizeof(*e->hdr);
		e->iov[1].iov_base = e->payload;
		e->iov[1].iov_len = MAXPAY;
		prep_cmd(&ring, e, FUSE_IO_URING_CMD_REGISTER, qid, 0);
	}
	rc = io_uring_submit(&ring);
	if (rc != QDEPTH) {
		fprintf(stderr, "register: %d\n", rc);
		exit(1);
	}
	atomic_fetch_add(&rings_up, 1);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "submit_and_wait: %s\n", strerror(-rc));
			return NULL;
		}
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			struct ent *e = io_uring_cqe_get_data(cqe);
			struct fuse_in_header *in = (void *)e->hdr->in_out;
			struct fuse_out_header *oh = (void *)e->hdr->in_out;
			uint64_t commit = e->hdr->ring_ent_in_out.commit_id;
			uint64_t unique;

			seen++;
			if (cqe->res < 0) {
				if (cqe->res != -ENOTCONN)
					fprintf(stderr, "cqe: %s\n",
						strerror(-cqe->res));
				return NULL;
			}
			unique = in->unique;
			rc = handle(in, e->hdr->op_in, e->payload, e->payload);
			if (rc == NOREPLY)
				rc = 0;
			oh->unique = unique;
			oh->error = rc < 0 ? rc : 0;
			oh->len = 0;
			e->hdr->ring_ent_in_out.payload_sz =
			    rc > 0 ? (uint32_t)rc : 0;
			prep_cmd(&ring, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
				 qid, commit);
		}
		io_uring_cq_advance(&ring, seen);
	}
}

static void do_init(int uring)
{
	char *buf = malloc(BUFSZ);
	struct fuse_in_header *in = (void *)buf;
	struct fuse_init_in *ii = (void *)(in + 1);
	struct fuse_init_out o;
	uint64_t flags;
	ssize_t n = read(fusefd, buf, BUFSZ);

	if (n < 0 || in->opcode != FUSE_INIT) {
		fprintf(stderr, "no INIT\n");
		exit(1);
	}
	memset(&o, 0, sizeof(o));
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FUSE_KERNEL_MINOR_VERSION;
	flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES |
		FUSE_INIT_EXT | FUSE_PARALLEL_DIROPS;
	if (uring)
		flags |= FUSE_OVER_IO_URING;
	flags &= (uint64_t)ii->flags | ((uint64_t)ii->flags2 << 32);
	if (uring && !(flags & FUSE_OVER_IO_URING)) {
		fprintf(stderr, "kernel does not offer io_uring\n");
		exit(1);
	}
	o.flags = (uint32_t)flags;
	o.flags2 = (uint32_t)(flags >> 32);
	o.max_readahead = ii->max_readahead;
	o.max_write = MAXPAY;
	o.max_pages = MAXPAY / 4096;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.time_gran = 1;
	dev_reply(in->unique, sizeof(o), (char *)&o);
	free(buf);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* one client thread's share of a test; lat gets each op's seconds */
static void client(const char *mnt, const char *test, int id, long count,
		   double *lat)
{
	char path[4096], buf[FSIZE];
	int fd = -1;

	if (!strcmp(test, "pread")) {
		snprintf(path, sizeof(path), "%s/d%d", mnt, id);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror(path);
			exit(1);
		}
	}
	for (long i = 0; i < count; i++) {
		double t0 = now();

		if (!strcmp(test, "pread")) {
			if (pread(fd, buf, sizeof(buf), 0) != FSIZE)
				exit(2);
		} else if (!strcmp(test, "stat")) {
			struct stat st;

			snprintf(path, sizeof(path), "%s/f%d", mnt, id);
			if (stat(path, &st))
				exit(3);
		} else { /* small: a new file each time */
			snprintf(path, sizeof(path), "%s/f%ld", mnt,
				 1000000L * (id + 1) + i);
			fd = open(path, O_RDONLY);
			if (fd < 0 || read(fd, buf, sizeof(buf)) != FSIZE)
				exit(4);
			close(fd);
		}
		lat[i] = now() - t0;
	}
}

static int run_test(const char *mnt, const char *test, int threads, long count)
{
	double *lat =
	    mmap(NULL, sizeof(double) * (size_t)(threads * count),
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long r0 = atomic_load(&nreq);
	double t0 = now(), wall;
	long all = threads * count;

	for (int t = 0; t < threads; t++) {
		if (fork() == 0) {
			client(mnt, test, t, count, lat + t * count);
			_exit(0);
		}
	}
	for (int t = 0; t < threads; t++) {
		int st;

		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "client failed %d\n", st);
			return 1;
		}
	}
	wall = now() - t0;
	qsort(lat, (size_t)all, sizeof(double), cmpd);
	printf("%-6s threads %d: %8.0f ops/s  median %6.1f us  p99 %6.1f us  "
	       "%.2f requests/op\n",
	       test, threads, (double)all / wall, lat[all / 2] * 1e6,
	       lat[all * 99 / 100] * 1e6,
	       (double)(atomic_load(&nreq) - r0) / (double)all);
	fflush(stdout);
	munmap(lat, sizeof(double) * (size_t)all);
	return 0;
}

int main(int argc, char **argv)
{
	int uring, nq = get_nprocs_conf();
	char opts[256];
	pthread_t th;
	const char *mnt;

	if (argc < 3) {
		fprintf(stderr, "usage: fuse_rtt dev|uring MNT [COUNT]\n");
		return 2;
	}
	uring = !strcmp(argv[1], "uring");
	mnt = argv[2];
	fusefd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fusefd < 0) {
		perror("/dev/fuse");
		return 1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40755,user_id=0,group_id=0,allow_other",
		 fusefd);
	if (mount("rtt", mnt, "fuse.rtt", MS_NOSUID | MS_NODEV | MS_RDONLY,
		  opts)) {
		perror("mount");
		return 1;
	}
	do_init(uring);
	/* /dev/fuse threads: all requests, or those not on the ring */
	for (int i = 0; i < (uring ? 1 : 4); i++)
		pthread_create(&th, NULL, dev_loop, NULL);
	if (uring) {
		for (int q = 0; q < nq; q++)
			pthread_create(&th, NULL, uring_loop,
				       (void *)(intptr_t)q);
		while (atomic_load(&rings_up) < nq)
			usleep(1000);
	}
	{
		long n = argc > 3 ? atol(argv[3]) : 20000;

		run_test(mnt, "pread", 1, n);
		run_test(mnt, "stat", 1, n);
		run_test(mnt, "small", 1, n / 4);
		run_test(mnt, "pread", 8, n / 4);
		run_test(mnt, "small", 8, n / 16);
	}
	umount2(mnt, MNT_DETACH);
	return 0;
}

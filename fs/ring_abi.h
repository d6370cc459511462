/*
 * The kernel's side of FUSE over io_uring (uapi fuse.h 7.42), which
 * Debian 12's <linux/fuse.h> (7.38) lacks, and where a request's first
 * argument goes: for fs/ring.c and tests/bench/fuse_rtt.c.
 */
#ifndef AIDATA_RING_ABI_H
#define AIDATA_RING_ABI_H

#include <linux/fuse.h>
#include <stdint.h>
#include <sys/types.h>

/* Debian 12's <linux/fuse.h> is 7.38; these are 7.42's. */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};
struct fuse_uring_req_header {
	char in_out[128]; /* struct fuse_in_header / fuse_out_header */
	char op_in[128];  /* the request's first argument */
	struct fuse_uring_ent_in_out ring_ent_in_out;
};
enum {
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif

/*
 * The first argument of each request libfuse 3.14 has a handler for,
 * which the kernel puts in op_in and /dev/fuse in front of the rest;
 * -1 for those we answer ENOSYS ourselves (libfuse would too: we have
 * no handler, or the mount is read-only and the kernel refuses them).
 */
static inline ssize_t ring_op_in_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_READLINK:
	case FUSE_STATFS:
	case FUSE_DESTROY:
		return 0;
	case FUSE_GETATTR:
		return sizeof(struct fuse_getattr_in);
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		return sizeof(struct fuse_open_in);
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return sizeof(struct fuse_read_in);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return sizeof(struct fuse_release_in);
	case FUSE_FLUSH:
		return sizeof(struct fuse_flush_in);
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return sizeof(struct fuse_getxattr_in);
	case FUSE_ACCESS:
		return sizeof(struct fuse_access_in);
	case FUSE_IOCTL:
		return sizeof(struct fuse_ioctl_in);
	case FUSE_POLL:
		return sizeof(struct fuse_poll_in);
	case FUSE_LSEEK:
		return sizeof(struct fuse_lseek_in);
	case FUSE_SETATTR:
		return sizeof(struct fuse_setattr_in);
	default:
		return -1;
	}
}

#endif

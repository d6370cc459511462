/*
 * The mount's control requests, for programs such as `aidata login`: the
 * only interface besides ordinary reads, and the one a read-only mount
 * leaves (the kernel refuses every write to it before the daemon sees
 * one). Requests are ioctls on an open file descriptor of
 * MOUNT/.aidata/login (opened read-only); the daemon takes the caller's
 * uid from the request, so a user can only act for themselves.
 *
 *   AIDATAFS_IOC_LOGIN   in: a credential (JWT text), NUL-terminated, in
 *                        data; out: data holds the decision's reason
 *                        ("granted", "credential expired", ...),
 *                        NUL-terminated. Returns 0, or -1 with errno
 *                        EACCES (refused: see the reason), EINVAL
 *                        (malformed or too long).
 *   AIDATAFS_IOC_LOGOUT  drops the caller's binding; always 0.
 *
 * On an open file descriptor of any dataset file (the open decided the
 * tier for the caller, and was audited):
 *
 *   AIDATAFS_IOC_PREFETCH  in: offset and length of a range of the
 *                        file; out: what the daemon did to have the
 *                        chunks of that range in its cache, in their
 *                        stored form (secure chunks stay encrypted; no
 *                        page cache, no bytes served). 0, or -1 with
 *                        errno EIO (the origin failed or served bad
 *                        data; see the daemon's log), ENOSPC (the
 *                        cache cannot keep it).
 *
 * On an open file descriptor of MOUNT/.aidata/receipt, which reads the
 * data receipt of the opener's cgroup:
 *
 *   AIDATAFS_IOC_RECEIPT in: a cgroup path as /proc/PID/cgroup writes it
 *                        ("" for the caller's own) and flags; the file
 *                        then reads that cgroup's receipt (from offset
 *                        0; read it anew). With AIDATAFS_RECEIPT_RESET
 *                        the account starts afresh and the file reads
 *                        the one it closed. 0, or -1 with errno EACCES
 *                        (not the caller's cgroup: its own, one whose
 *                        directory it owns, any for root), EINVAL
 *                        (malformed path).
 *
 * Other files, or other requests, give ENOTTY.
 */
#ifndef AIDATAFS_IOCTL_H
#define AIDATAFS_IOCTL_H

#include <stdint.h>
#include <sys/ioctl.h>

/* The largest argument an ioctl number can describe (14 size bits). */
#define AIDATAFS_IOC_DATA_MAX 16383

struct aidatafs_ioc_data {
	char data[AIDATAFS_IOC_DATA_MAX];
};

#define AIDATAFS_IOC_LOGIN _IOWR('A', 1, struct aidatafs_ioc_data)
#define AIDATAFS_IOC_LOGOUT _IO('A', 2)

struct aidatafs_ioc_prefetch {
	uint64_t offset;	 /* in: first byte of the range */
	uint64_t length;	 /* in: bytes; clamped to the file */
	uint64_t bytes_fetched;	 /* out: range bytes whose chunks it fetched */
	uint64_t bytes_cached;	 /* out: range bytes already cached */
	uint64_t origin_bytes;	 /* out: bytes received from the origin */
	uint32_t chunks_fetched; /* out: distinct chunks fetched ... */
	uint32_t chunks_cached;	 /* out: ... and found cached */
};

#define AIDATAFS_IOC_PREFETCH _IOWR('A', 3, struct aidatafs_ioc_prefetch)

#define AIDATAFS_RECEIPT_RESET (1u << 0)
#define AIDATAFS_CGROUP_MAX 4096 /* bytes of a path, with its NUL */

struct aidatafs_ioc_receipt {
	uint32_t flags;			  /* AIDATAFS_RECEIPT_* */
	char cgroup[AIDATAFS_CGROUP_MAX]; /* NUL-terminated; "" = own */
};

#define AIDATAFS_IOC_RECEIPT _IOW('A', 4, struct aidatafs_ioc_receipt)

#endif

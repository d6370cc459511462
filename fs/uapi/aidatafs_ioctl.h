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
 * Other files, or other requests, give ENOTTY.
 */
#ifndef AIDATAFS_IOCTL_H
#define AIDATAFS_IOCTL_H

#include <sys/ioctl.h>

/* The largest argument an ioctl number can describe (14 size bits). */
#define AIDATAFS_IOC_DATA_MAX 16383

struct aidatafs_ioc_data {
	char data[AIDATAFS_IOC_DATA_MAX];
};

#define AIDATAFS_IOC_LOGIN _IOWR('A', 1, struct aidatafs_ioc_data)
#define AIDATAFS_IOC_LOGOUT _IO('A', 2)

#endif

/*
 * Control groups (cgroup v2), which name a job: Slurm, systemd and
 * Kubernetes give each job or pod its own. For the per-job data
 * receipts of the mount and the aidata command that reads them.
 */
#ifndef AIDATA_CGROUP_H
#define AIDATA_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Where the cgroup v2 hierarchy is mounted: the "cgroup2" entry of
 * /proc/self/mountinfo (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
 * hybrid host). A new string the caller frees, or NULL when there is
 * none.
 */
char *cgroup_v2_root(void);

/*
 * The cgroup v2 path of process (or thread) pid, as the "0::" line of
 * /proc/PID/cgroup says it ("/", "/system.slice/x.service"): a new
 * string in *path the caller frees. 0, -ENOENT when the process is gone
 * or has no v2 line, or -errno.
 */
int cgroup_of_pid(pid_t pid, char **path);

/*
 * The cgroup at path (as cgroup_of_pid gives it) under root (from
 * cgroup_v2_root): *id, its number (the inode number of its directory,
 * unique while the system runs; a cgroup removed and made again gets a
 * new one), and *owner, the uid owning its directory (a delegated
 * subtree's user, else root). 0 or -errno (-ENOENT: no such cgroup).
 */
int cgroup_stat(const char *root, const char *path, uint64_t *id, uid_t *owner);

/*
 * Whether path is a cgroup path as cgroup_of_pid gives them: absolute,
 * no "." or ".." component, no empty component but for "/" itself.
 */
bool cgroup_path_valid(const char *path);

#endif

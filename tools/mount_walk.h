/*
 * The regular files under paths of an aidatafs mount, for the commands
 * that work through a mount (aidata prefetch, aidata status). Errors
 * are printed (this is a tool), naming the path.
 */
#ifndef AIDATA_MOUNT_WALK_H
#define AIDATA_MOUNT_WALK_H

#include <stddef.h>
#include <stdint.h>

struct mount_file {
	char *path; /* absolute */
	uint64_t size;
};

struct mount_files {
	struct mount_file *v;
	size_t n, alloc;
	uint64_t bytes;	 /* sum of the sizes */
	uint64_t errors; /* entries that could not be listed or stat'ed */
};

/*
 * The aidatafs mount at mnt: *root is its absolute path (new, caller
 * frees). 0, or -ENOENT when mnt is not one (printed).
 */
int mount_root(const char *mnt, char **root);

/*
 * path as a path on the mount at root: as given if it exists (relative
 * to the working directory), else relative to root. *out is absolute
 * and new (caller frees); the mount's root itself stands for its
 * datasets/ directory. -ENOENT (printed) when it does not exist, is
 * not on the mount, or is in its .aidata/.
 */
int mount_resolve(const char *root, const char *path, char **out);

/*
 * Append the regular files at or below path (a file or a directory;
 * symbolic links are not followed, .aidata/ is skipped) to out, in
 * name order. 0; what could not be listed is printed and counted in
 * out->errors.
 */
int mount_walk(const char *path, struct mount_files *out);

/* Free what out holds and empty it. */
void mount_files_release(struct mount_files *out);

/*
 * The text of the control file MNT/.aidata/NAME (new, caller frees).
 * 0 or -errno (printed).
 */
int mount_control_read(const char *root, const char *name, char **text);

#endif

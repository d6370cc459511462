/* LMDB for every module that keeps an environment (catalogs, the cache
 * index, the packer's dedup index): one way to open one, and one
 * translation of its return codes into negative errnos. */
#ifndef AIDATA_LMDB_ENV_H
#define AIDATA_LMDB_ENV_H

#include <lmdb.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * rc is an LMDB return code (not 0). Returns:
 *   -ENOENT    MDB_NOTFOUND (not logged: a lookup miss is not an error)
 *   -rc        a system errno LMDB passed through (not logged)
 *   -ENOSPC    MDB_MAP_FULL
 *   -EBADMSG   the environment is corrupt or of another LMDB version
 *              (MDB_CORRUPTED, MDB_INVALID, MDB_VERSION_MISMATCH,
 *              MDB_PAGE_NOTFOUND)
 *   -EIO       anything else
 * Every case but the first two is logged once as "WHAT: <LMDB's message>".
 */
int lmdb_errno(int rc, const char *what);

/*
 * Create and open an environment at path (a directory, created with
 * mode 0700 if missing, unless flags has MDB_NOSUBDIR) with room for
 * maxdbs named databases, a map of mapsize bytes and 512 reader slots
 * (processes sharing it, a reader per thread), opened with flags
 * and mode. *out is closed with mdb_env_close. 0, or an LMDB or system
 * return code (positive errno, or LMDB's negative codes: pass it to
 * lmdb_errno); on error *out is NULL.
 */
int lmdb_env_open(const char *path, unsigned maxdbs, size_t mapsize,
		  unsigned flags, mode_t mode, MDB_env **out);

#endif

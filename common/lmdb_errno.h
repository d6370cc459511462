/* One translation of LMDB return codes into this project's negative
 * errno convention, for every module that keeps an LMDB environment
 * (catalogs, the cache index, the packer's dedup index). */
#ifndef AIDATA_LMDB_ERRNO_H
#define AIDATA_LMDB_ERRNO_H

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

#endif

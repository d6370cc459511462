/* LMDB return codes as negative errnos (lmdb_errno.h). */
#include "lmdb_errno.h"
#include "log.h"

#include <errno.h>
#include <lmdb.h>

int lmdb_errno(int rc, const char *what)
{
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	/* LMDB returns system errors as they are; its own codes are
	 * negative (MDB_KEYEXIST = -30799 ... MDB_LAST_ERRCODE) */
	if (rc > 0)
		return -rc;
	log_error("%s: %s", what, mdb_strerror(rc));
	switch (rc) {
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_PAGE_NOTFOUND:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

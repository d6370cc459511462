/* LMDB environments and return codes (lmdb_env.h). */
#include "lmdb_env.h"
#include "fsutil.h"
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

int lmdb_env_open(const char *path, unsigned maxdbs, size_t mapsize,
		  unsigned flags, mode_t mode, MDB_env **out)
{
	MDB_env *env = NULL;
	int rc = 0;

	*out = NULL;
	if (!(flags & MDB_NOSUBDIR)) {
		rc = fs_mkdir_p(path, 0700);
		if (rc)
			return -rc;
	}
	rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_maxdbs(env, maxdbs);
	if (!rc)
		rc = mdb_env_set_mapsize(env, mapsize);
	/* several processes may share one (mounts sharing a cache), each
	 * with a reader per thread */
	if (!rc)
		rc = mdb_env_set_maxreaders(env, 512);
	if (!rc)
		rc = mdb_env_open(env, path, flags, mode);
	if (rc) {
		mdb_env_close(env);
		return rc;
	}
	*out = env;
	return 0;
}

/* The user.aidata.* attributes of dataset files and directories. */
#define _GNU_SOURCE
#include "ns_int.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define XATTR_PREFIX "user.aidata."

static const char *const xattr_common[] = {"dataset", "industry", "modality",
					   "tier", "license"};

int ns_listxattr(ns_t *ns, uint64_t ino, struct buf *names)
{
	struct ns_slot *s;
	struct stat st;
	double timeout;
	int rc;

	if (INO_KIND(ino) != INO_KIND_TREE)
		return 0;
	rc = ns_tree_resolve(ns, ino, &s, NULL);
	if (!rc)
		rc = ns_getattr(ns, ino, &st, &timeout);
	if (rc)
		return rc;
	for (unsigned i = 0; i < 5; i++) {
		char *n = xasprintf(XATTR_PREFIX "%s", xattr_common[i]);

		buf_append(names, n, strlen(n) + 1);
		free(n);
	}
	/* stable too: the root catalog's record of who contributed it */
	if (s->d.contributor)
		buf_append(names, XATTR_PREFIX "contributor",
			   sizeof(XATTR_PREFIX "contributor"));
	/*
	 * Only what stays true of a copy: cp -a and rsync -X copy every
	 * listed attribute. "access" (for the caller, now) and "cached"
	 * (this node's cache, now) are answered to getxattr but not
	 * listed, as CVMFS does with its magic attributes.
	 */
	if (TREE_LOCAL(ino) == REPO_ROOT_INO)
		buf_append(names, XATTR_PREFIX "description",
			   sizeof(XATTR_PREFIX "description"));
	if (S_ISREG(st.st_mode))
		buf_append(names, XATTR_PREFIX "sha256",
			   sizeof(XATTR_PREFIX "sha256"));
	return 0;
}

/* Bytes of a file, or of a whole dataset, present in the cache. */
static int cached_bytes(ns_t *ns, struct ns_slot *s, repo_catalog_t *cat,
			uint64_t local, uint64_t *out)
{
	struct repo_inode i;
	int rc;

	*out = 0;
	if (local == REPO_ROOT_INO) {
		uint32_t count;

		rc = repo_catalog_chunk_count(cat, &count);
		for (uint32_t id = 0; !rc && id < count; id++) {
			struct repo_chunk ch;

			if (repo_catalog_chunk(cat, id, &ch) == 0 &&
			    cache_chunk_present(ns->cache, &ch))
				*out += ch.size;
		}
		return rc;
	}
	rc = repo_catalog_inode(cat, local, &i);
	if (rc)
		return rc;
	for (uint32_t k = 0; k < i.extent_count; k++) {
		struct repo_chunk ch;

		if (repo_catalog_chunk(cat, i.extents[k].chunk, &ch) == 0 &&
		    cache_chunk_present(ns->cache, &ch))
			*out += i.extents[k].length;
	}
	repo_inode_release(&i);
	(void)s;
	return 0;
}

int ns_getxattr(ns_t *ns, uint64_t ino, const struct ns_caller *who,
		const char *name, char **value, size_t *len)
{
	const char *key = name + strlen(XATTR_PREFIX);
	struct ns_slot *s;
	repo_catalog_t *cat = NULL;
	char *v = NULL;
	int rc;

	/*
	 * Only user.* attributes exist here. For another namespace
	 * (security.selinux, system.posix_acl_access, trusted.*) "not
	 * supported": ls -l, cp and gnulib remember that per filesystem and
	 * stop asking, where ENODATA makes ls ask two questions per file, each
	 * a round trip (the kernel keeps no xattr answer of a FUSE
	 * filesystem; the one it keeps, ENOSYS, would hide user.aidata.*).
	 */
	if (strncmp(name, "user.", 5) != 0)
		return -EOPNOTSUPP;
	if (INO_KIND(ino) != INO_KIND_TREE ||
	    strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)))
		return -ENODATA;
	rc = ns_tree_resolve(ns, ino, &s, NULL);
	if (rc)
		return rc;
	if (!strcmp(key, "dataset"))
		v = xstrdup(s->d.name);
	else if (!strcmp(key, "industry"))
		v = xstrdup(s->d.industry);
	else if (!strcmp(key, "modality"))
		v = xstrdup(s->d.modality);
	else if (!strcmp(key, "tier"))
		v = xstrdup(repo_tier_name(s->d.tier));
	else if (!strcmp(key, "license"))
		v = xstrdup(s->d.license);
	else if (!strcmp(key, "contributor") && s->d.contributor)
		v = xstrdup(s->d.contributor);
	else if (!strcmp(key, "description") &&
		 TREE_LOCAL(ino) == REPO_ROOT_INO)
		v = xstrdup(s->d.description);
	else if (!strcmp(key, "access")) {
		struct auth_request ar;

		/* what open() would say to this caller, without auditing */
		ns_auth_request_init(ns, &ar, who, s, "");
		v = xstrdup(auth_reason_text(auth_decide(ns->auth, &ar)));
	} else if (!strcmp(key, "sha256") || !strcmp(key, "cached")) {
		struct repo_inode i;
		uint64_t bytes;

		rc = ns_slot_catalog(ns, s, &cat);
		if (rc)
			return rc;
		if (!strcmp(key, "sha256")) {
			char hex[DIGEST_HEX_LEN + 1];

			rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
			if (rc)
				return ns_catalog_errno(rc);
			if (S_ISREG(i.mode)) {
				digest_to_hex(&i.sha256, hex);
				v = xstrdup(hex);
			}
			repo_inode_release(&i);
		} else {
			struct stat st;
			double t;

			rc = ns_getattr(ns, ino, &st, &t);
			if (rc)
				return rc;
			if (S_ISREG(st.st_mode) ||
			    TREE_LOCAL(ino) == REPO_ROOT_INO) {
				rc = cached_bytes(ns, s, cat, TREE_LOCAL(ino),
						  &bytes);
				if (rc)
					return ns_catalog_errno(rc);
				v = xasprintf("%" PRIu64, bytes);
			}
		}
	}
	if (!v)
		return -ENODATA;
	*value = v;
	*len = strlen(v);
	return 0;
}

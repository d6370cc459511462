/* Inode numbers (computed, see ns.h) and the attributes behind them. */
#define _GNU_SOURCE
#include "ns_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

/*
 * The permission bits the mount shows: what anyone may try, since the
 * tier, not the mode, decides at open who reads (docs: "modes"). Files
 * r--r--r-- (r-xr-xr-x when the publisher made them executable),
 * directories r-xr-xr-x, symlinks rwxrwxrwx; never a write bit, never
 * the publisher's owner-only bits, which would be a lie on a mount every
 * user reads through.
 */
mode_t ns_mode_bits(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return 0555;
	case S_IFLNK:
		return 0777;
	default:
		return mode & 0111 ? 0555 : 0444;
	}
}

void ns_stat_dir(struct stat *st, uint64_t ino, uint32_t nlink, int64_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = nlink;
	st->st_mtim.tv_sec = mtime;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blksize = 4096;
	st->st_size = 4096;
}

void ns_stat_inode(struct stat *st, uint64_t ino, const struct repo_inode *i)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = (i->mode & S_IFMT) | ns_mode_bits(i->mode);
	st->st_nlink = i->nlink;
	st->st_size = (off_t)i->size;
	st->st_blocks = (blkcnt_t)((i->size + 511) / 512);
	st->st_blksize = 1 << 20;
	st->st_mtim.tv_sec = i->mtime_sec;
	st->st_mtim.tv_nsec = i->mtime_nsec;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static void fill_dataset_root(struct stat *st, uint64_t ino,
			      const struct ns_slot *s)
{
	ns_stat_dir(st, ino, s->d.root_nlink ? s->d.root_nlink : 2,
		    s->d.mtime_sec);
	st->st_mode = S_IFDIR | ns_mode_bits(S_IFDIR | s->d.root_mode);
	st->st_size = (off_t)s->d.root_size;
	st->st_mtim.tv_nsec = s->d.mtime_nsec;
	st->st_ctim = st->st_atim = st->st_mtim;
}

int ns_tree_resolve(ns_t *ns, uint64_t ino, struct ns_slot **slot,
		    repo_catalog_t **cat)
{
	struct ns_slot *s = ns_slot_at(ns, TREE_SLOT(ino));

	/* every view (2 bits: datasets/ and the three label views) exists */
	if (!s || TREE_LOCAL(ino) == 0)
		return -ENOENT;
	*slot = s;
	return cat ? ns_slot_catalog(ns, s, cat) : 0;
}

bool ns_ino_immutable(uint64_t ino)
{
	return INO_KIND(ino) == INO_KIND_TREE;
}

int ns_getattr(ns_t *ns, uint64_t ino, struct stat *st, double *timeout)
{
	struct ns_rev *r;
	int rc = 0;

	*timeout = SYNTHETIC_TIMEOUT;
	if (INO_KIND(ino) == INO_KIND_TREE) {
		struct ns_slot *s;
		repo_catalog_t *cat;
		struct repo_inode i;

		*timeout = NS_TIMEOUT_IMMUTABLE;
		if (TREE_LOCAL(ino) == REPO_ROOT_INO) {
			rc = ns_tree_resolve(ns, ino, &s, NULL);
			if (!rc)
				fill_dataset_root(st, ino, s);
			return rc;
		}
		rc = ns_tree_resolve(ns, ino, &s, &cat);
		if (!rc)
			rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
		if (rc)
			return ns_catalog_errno(rc);
		ns_stat_inode(st, ino, &i);
		repo_inode_release(&i);
		return 0;
	}
	r = ns_rev_get(ns);
	if (INO_KIND(ino) == INO_KIND_LABEL) {
		unsigned w = LABEL_WHICH(ino);

		if (!ns_label_name(ns, w, LABEL_INDEX(ino)))
			rc = -ENOENT;
		else
			ns_stat_dir(st, ino,
				    2 + (uint32_t)ns_label_count(
					    ns, r, w, LABEL_INDEX(ino)),
				    r->m.created);
		goto out;
	}
	switch (ino) {
	case NS_INO_ROOT:
		ns_stat_dir(st, ino, 2 + 5, r->m.created); /* 5 directories */
		break;
	case NS_INO_DATASETS:
		ns_stat_dir(st, ino, 2 + (uint32_t)r->n, r->m.created);
		break;
	case NS_INO_BY_INDUSTRY:
	case NS_INO_BY_MODALITY:
	case NS_INO_BY_CONTRIBUTOR: {
		unsigned w = 0;

		ns_label_kind_of(ino, &w);
		ns_stat_dir(st, ino, 2 + (uint32_t)r->nlabels[w], r->m.created);
		break;
	}
	case NS_INO_CONTROL:
		ns_stat_dir(st, ino, 2, r->m.created);
		break;
	default:
		if (ns_control_is_file(ino)) {
			ns_control_stat(ns, r, ino, st);
			*timeout = 0; /* generated: never cached */
		} else {
			rc = -ENOENT;
		}
	}
out:
	ns_rev_put(ns, r);
	return rc;
}

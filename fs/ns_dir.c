/*
 * Directories and the four views: the root, datasets/,
 * by-industry/<label>/, by-modality/<label>/ and by-contributor/<org>/
 * (synthetic, from the revision), and the trees of dataset catalogs under
 * each. Lookups, listings, symlinks.
 */
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

static const char *const root_names[] = {
    "datasets", "by-industry", "by-modality", "by-contributor", ".aidata"};
static const uint64_t root_inos[] = {NS_INO_DATASETS, NS_INO_BY_INDUSTRY,
				     NS_INO_BY_MODALITY, NS_INO_BY_CONTRIBUTOR,
				     NS_INO_CONTROL};
#define ROOT_COUNT 5

int ns_lookup(ns_t *ns, uint64_t parent, const char *name, uint64_t *ino,
	      struct stat *st, double *timeout)
{
	size_t len = strlen(name);
	struct ns_rev *r;
	int rc = -ENOENT;
	unsigned w;

	if (INO_KIND(parent) == INO_KIND_TREE) {
		struct ns_slot *s;
		repo_catalog_t *cat;
		uint32_t type;
		uint64_t child;

		ns_catalog_op(ns);
		rc = ns_tree_resolve(ns, parent, &s, &cat);
		if (!rc)
			rc = repo_catalog_lookup(cat, TREE_LOCAL(parent), name,
						 len, &child, &type);
		if (rc)
			return ns_catalog_errno(rc);
		if (child == 0 || child > LOCAL_MASK)
			return -EIO;
		*ino = TREE_INO(TREE_VIEW(parent), TREE_SLOT(parent), child);
		return ns_getattr(ns, *ino, st, timeout);
	}
	r = ns_rev_get(ns);
	if (INO_KIND(parent) == INO_KIND_LABEL) {
		uint32_t index;
		struct ns_slot *s = ns_rev_find(ns, r, name, len, &index);

		w = LABEL_WHICH(parent);
		/* a label this mount named (so w and the index are in range) */
		if (s && ns_label_name(ns, w, LABEL_INDEX(parent)) &&
		    s->label[w] == LABEL_INDEX(parent)) {
			*ino = TREE_INO(w + 1, index, REPO_ROOT_INO);
			rc = 0;
		}
	} else if (parent == NS_INO_ROOT) {
		for (unsigned i = 0; i < ROOT_COUNT; i++)
			if (!strcmp(name, root_names[i])) {
				*ino = root_inos[i];
				rc = 0;
			}
	} else if (parent == NS_INO_CONTROL) {
		rc = ns_control_lookup(name, ino);
	} else if (parent == NS_INO_DATASETS) {
		uint32_t index;

		if (ns_rev_find(ns, r, name, len, &index)) {
			*ino = TREE_INO(0, index, REPO_ROOT_INO);
			rc = 0;
		}
	} else if (ns_label_kind_of(parent, &w)) {
		for (size_t i = 0; i < r->nlabels[w]; i++) {
			if (!strcmp(ns_label_name(ns, w, r->labels[w][i]),
				    name)) {
				*ino = LABEL_INO(w, r->labels[w][i]);
				rc = 0;
			}
		}
	}
	ns_rev_put(ns, r);
	if (rc)
		return rc;
	rc = ns_getattr(ns, *ino, st, timeout);
	/* names chosen by the current revision; a switch invalidates them */
	if (!rc && INO_KIND(*ino) == INO_KIND_TREE)
		*timeout = NS_TIMEOUT_IMMUTABLE;
	return rc;
}

static void type_only(struct stat *st, uint64_t ino, mode_t type)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = type;
}

struct tree_fill {
	ns_t *ns;
	uint64_t dir;
	repo_catalog_t *cat;
	bool plus;
	ns_fill_fn fill;
	void *ctx;
	int rc;
};

static int tree_entry(void *arg, const char *name, size_t len, uint64_t local,
		      uint32_t type)
{
	struct tree_fill *tf = arg;
	uint64_t ino = TREE_INO(TREE_VIEW(tf->dir), TREE_SLOT(tf->dir), local);
	struct stat st;

	if (local == 0 || local > LOCAL_MASK) {
		tf->rc = -EIO;
		return 1;
	}
	if (tf->plus) {
		struct repo_inode i;
		int rc = repo_catalog_inode(tf->cat, local, &i);

		if (rc) {
			tf->rc = ns_catalog_errno(rc);
			return 1;
		}
		ns_stat_inode(&st, ino, &i);
		repo_inode_release(&i);
	} else {
		type_only(&st, ino, type);
	}
	return tf->fill(tf->ctx, name, len, &st, local + 2) ? 1 : 0;
}

/* Entry i of the synthetic directory ino in revision r; *name stays
 * NULL past the last. */
static void synthetic_entry(ns_t *ns, struct ns_rev *r, uint64_t ino,
			    uint64_t i, const char **name, uint64_t *child)
{
	unsigned w;

	if (ino == NS_INO_ROOT) {
		if (i < ROOT_COUNT) {
			*name = root_names[i];
			*child = root_inos[i];
		}
	} else if (ino == NS_INO_CONTROL) {
		ns_control_entry(i, name, child);
	} else if (ino == NS_INO_DATASETS) {
		if (i < r->n) {
			*name = ns_slot_at(ns, r->slots[i])->d.name;
			*child = TREE_INO(0, r->slots[i], REPO_ROOT_INO);
		}
	} else if (ns_label_kind_of(ino, &w)) {
		if (i < r->nlabels[w]) {
			*name = ns_label_name(ns, w, r->labels[w][i]);
			*child = LABEL_INO(w, r->labels[w][i]);
		}
	} else if (INO_KIND(ino) == INO_KIND_LABEL &&
		   ns_label_name(ns, LABEL_WHICH(ino), LABEL_INDEX(ino))) {
		uint64_t seen = 0;

		w = LABEL_WHICH(ino);
		/* the i-th dataset carrying this label */
		for (size_t k = 0; k < r->n; k++) {
			struct ns_slot *s = ns_slot_at(ns, r->slots[k]);

			if (s->label[w] != LABEL_INDEX(ino))
				continue;
			if (seen++ == i) {
				*name = s->d.name;
				*child =
				    TREE_INO(w + 1, r->slots[k], REPO_ROOT_INO);
				return;
			}
		}
	}
}

int ns_readdir(ns_t *ns, uint64_t ino, uint64_t off, bool plus, ns_fill_fn fill,
	       void *ctx)
{
	struct stat st;
	double timeout;
	struct ns_rev *r;
	int rc;

	/* "." and ".." take cookies 1 and 2 in every directory */
	rc = ns_getattr(ns, ino, &st, &timeout);
	if (rc)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (off < 1 && fill(ctx, ".", 1, &st, 1))
		return 0;
	if (off < 2) {
		type_only(&st, NS_INO_ROOT, S_IFDIR);
		if (fill(ctx, "..", 2, &st, 2))
			return 0;
	}
	if (INO_KIND(ino) == INO_KIND_TREE) {
		struct tree_fill tf = {ns, ino, NULL, plus, fill, ctx, 0};
		struct ns_slot *s;

		ns_catalog_op(ns);
		rc = ns_tree_resolve(ns, ino, &s, &tf.cat);
		if (!rc)
			rc = repo_catalog_readdir(tf.cat, TREE_LOCAL(ino),
						  off > 2 ? off - 2 : 0,
						  tree_entry, &tf);
		if (rc == 1)
			rc = 0;
		rc = rc ? rc : tf.rc;
		return ns_catalog_errno(rc);
	}

	/* synthetic directories: cookie 3 + i resumes after entry i */
	r = ns_rev_get(ns);
	rc = 0;
	for (uint64_t i = off > 2 ? off - 2 : 0;; i++) {
		const char *name = NULL;
		uint64_t child = 0;

		synthetic_entry(ns, r, ino, i, &name, &child);
		if (!name)
			break;
		if (plus) {
			rc = ns_getattr(ns, child, &st, &timeout);
			if (rc)
				break;
		} else {
			type_only(&st, child,
				  ns_control_is_file(child) ? S_IFREG
							    : S_IFDIR);
		}
		if (fill(ctx, name, strlen(name), &st, i + 3))
			break;
	}
	ns_rev_put(ns, r);
	return rc;
}

int ns_readlink(ns_t *ns, uint64_t ino, char **target)
{
	struct ns_slot *s;
	repo_catalog_t *cat;
	struct repo_inode i;
	int rc;

	if (INO_KIND(ino) != INO_KIND_TREE)
		return -EINVAL;
	rc = ns_tree_resolve(ns, ino, &s, &cat);
	if (!rc)
		rc = repo_catalog_inode(cat, TREE_LOCAL(ino), &i);
	if (rc)
		return ns_catalog_errno(rc);
	if (!S_ISLNK(i.mode)) {
		repo_inode_release(&i);
		return -EINVAL;
	}
	*target = i.target;
	i.target = NULL;
	repo_inode_release(&i);
	return 0;
}

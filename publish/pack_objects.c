/*
 * Publishing a pack's objects: everything new was written under
 * REPO/.staging.<pid>/objects/ and is moved into REPO/catalog/ and
 * REPO/data/<aa>/ (an object already there is never rewritten), then the
 * directories are fsynced; on a later failure the moved objects are
 * removed again (FORMAT.md §9.4).
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static int move_object(const char *from, const char *repo, const char *rel,
		       struct pack_published *pub)
{
	char *dest = xasprintf("%s/%s", repo, rel);
	char *dir = xstrndup(dest, (size_t)(strrchr(dest, '/') - dest));
	struct stat st;
	int rc = 0;

	if (lstat(dest, &st) == 0) {
		/* content-addressed: an existing object is never rewritten */
		unlink(from);
		goto out;
	}
	rc = fs_mkdir_p(dir, 0755);
	if (!rc && rename(from, dest) != 0)
		rc = -errno;
	if (rc) {
		log_error("cannot publish '%s': %s", dest, strerror(-rc));
		goto out;
	}
	pub->paths =
	    xrealloc(pub->paths, (pub->count + 1) * sizeof(*pub->paths));
	pub->paths[pub->count++] = dest;
	dest = NULL;
	if (!strncmp(rel, "catalog/", 8))
		pub->catalogs++;
out:
	free(dest);
	free(dir);
	return rc;
}

/* Move every file under objects/<sub>/ (depth levels deep) into repo. */
static int publish_dir(const char *objects, const char *repo, const char *sub,
		       int depth, struct pack_published *pub)
{
	char *path = xasprintf("%s/%s", objects, sub);
	DIR *dir = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = errno == ENOENT ? 0 : -errno;
		free(path);
		return rc;
	}
	while (!rc && (de = readdir(dir))) {
		char *rel, *from;

		if (de->d_name[0] == '.')
			continue;
		rel = xasprintf("%s/%s", sub, de->d_name);
		from = xasprintf("%s/%s", objects, rel);
		if (depth > 1)
			rc = publish_dir(objects, repo, rel, depth - 1, pub);
		else
			rc = move_object(from, repo, rel, pub);
		free(rel);
		free(from);
	}
	closedir(dir);
	free(path);
	return rc;
}

void pack_objects_unpublish(struct pack_published *pub)
{
	for (size_t i = 0; i < pub->count; i++)
		unlink(pub->paths[i]);
}

void pack_published_release(struct pack_published *pub)
{
	for (size_t i = 0; i < pub->count; i++)
		free(pub->paths[i]);
	free(pub->paths);
}

static int sync_repo_dirs(const char *repo, const struct pack_published *pub)
{
	int rc = 0;

	for (size_t i = 0; i < pub->count; i++) {
		char *dir = xstrndup(
		    pub->paths[i],
		    (size_t)(strrchr(pub->paths[i], '/') - pub->paths[i]));
		int r = fs_fsync_dir(dir);

		rc = rc ? rc : r;
		free(dir);
	}
	{
		char *data = xasprintf("%s/data", repo);

		fs_fsync_dir(data);
		free(data);
	}
	return rc ? rc : fs_fsync_dir(repo);
}

/*
 * Whether entry de of a directory without a manifest is one a first pack
 * writes before its manifest (so a first pack that was killed left it):
 * staging, a manifest's temporary, the object directories.
 */
static bool first_pack_entry(DIR *dir, const struct dirent *de)
{
	struct stat st;

	if (!strncmp(de->d_name, ".staging.", 9) ||
	    !strncmp(de->d_name, "manifest.tmp.", 13))
		return true;
	if (strcmp(de->d_name, "catalog") && strcmp(de->d_name, "data"))
		return false;
	return fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/*
 * An existing directory that is neither empty nor a repository is not
 * ours to write into. What a first pack killed before its manifest left
 * (staging, objects moved in, a manifest's temporary) is ours: the next
 * pack packs into it as into a new repository.
 */
int pack_repo_inspect(const char *repo, bool *exists, bool *has_manifest)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	bool other = false;
	char *m;

	*exists = stat(repo, &st) == 0;
	*has_manifest = false;
	if (!*exists)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode)) {
		log_error("'%s' is not a directory", repo);
		return -ENOTDIR;
	}
	m = xasprintf("%s/manifest", repo);
	*has_manifest = access(m, F_OK) == 0;
	free(m);
	dir = opendir(repo);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !first_pack_entry(dir, de))
			other = true;
	closedir(dir);
	if (other && !*has_manifest) {
		log_error("'%s' is not empty and has no manifest: "
			  "not an aidata repository",
			  repo);
		return -EINVAL;
	}
	return 0;
}

void pack_staging_remove_stale(const char *repo)
{
	DIR *dir = opendir(repo);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, ".staging.", 9)) {
			char *p = xasprintf("%s/%s", repo, de->d_name);

			fs_remove_tree(p);
			free(p);
		}
	}
	closedir(dir);
}

int pack_objects_publish(const char *objects, const char *repo,
			 struct pack_published *pub)
{
	int rc = publish_dir(objects, repo, "catalog", 1, pub);

	if (!rc)
		rc = publish_dir(objects, repo, "data", 2, pub);
	if (!rc)
		rc = sync_repo_dirs(repo, pub);
	return rc;
}

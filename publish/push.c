/*
 * Publishing a local repository into an object store (s3://BUCKET/PREFIX):
 * the second target of the publisher. aidata pack (and revoke,
 * grant-node) write the local repository, the publisher's master copy;
 * publish_push makes the bucket hold the same revision:
 *
 *   1. the local repository's flock (no pack writes it meanwhile), its
 *      manifest verified with the platform key;
 *   2. the bucket's lock: the object "lock", created with a conditional
 *      PUT (If-None-Match: *), so two publishers never write one prefix
 *      at once (FORMAT.md §9.6; lock.c);
 *   3. the bucket's manifest, if any: same key, not a later revision
 *      than the local one (a push never rolls a bucket back), and not
 *      revoking a credential the local one accepts (aidata revoke run
 *      on the bucket directly: the local copy must catch up first);
 *   4. every other object: content-addressed ones (catalog/, data/) are
 *      uploaded only when the bucket lacks them (HEAD; same size), large
 *      ones with a multipart upload; keys/ objects always (small, and a
 *      re-grant rewrites them in place);
 *   5. the manifest, last: a reader never sees a manifest whose objects
 *      are missing, and an interrupted push leaves the previous revision
 *      whole and served;
 *   6. the lock removed.
 *
 * A push that stopped half-way (an error, a crash) is resumed by running
 * it again: what is already there is not uploaded again.
 */
#define _GNU_SOURCE
#include "publish_int.h"
#include "fsutil.h"
#include "log.h"
#include "origin.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define PUSH_MANIFEST_MAX (1 << 20)
#define PUSH_DEFAULT_PART (64ull << 20)

struct push {
	const struct publish_push_options *opt;
	struct publish_push_result *res;
	origin_t *origin; /* the bucket lock's */
	char **names;	  /* object names, manifest excluded */
	size_t count, alloc;
};

static void names_add(struct push *p, const char *rel)
{
	if (p->count == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 64;
		p->names = xrealloc(p->names, p->alloc * sizeof(char *));
	}
	p->names[p->count++] = xstrdup(rel);
}

/* Every regular file under dir/rel, as object names. */
static int walk(struct push *p, const char *dir, const char *rel)
{
	char *path = rel[0] ? xasprintf("%s/%s", dir, rel) : xstrdup(dir);
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = -errno;
		log_error("'%s': %s", path, strerror(errno));
		free(path);
		return rc;
	}
	while (!rc && (de = readdir(d))) {
		char *sub, *full;
		struct stat st;

		/* dot files: temporaries and locks of the local publisher */
		if (de->d_name[0] == '.')
			continue;
		sub = rel[0] ? xasprintf("%s/%s", rel, de->d_name)
			     : xstrdup(de->d_name);
		full = xasprintf("%s/%s", dir, sub);
		if (lstat(full, &st) != 0) {
			rc = -errno;
			log_error("'%s': %s", full, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk(p, dir, sub);
		} else if (S_ISREG(st.st_mode) && strcmp(sub, "manifest") &&
			   strcmp(sub, "lock")) {
			names_add(p, sub);
		}
		free(sub);
		free(full);
	}
	closedir(d);
	free(path);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Content-addressed objects never change under their name. */
static bool immutable(const char *rel)
{
	return !strncmp(rel, "catalog/", 8) || !strncmp(rel, "data/", 5);
}

static void progress(struct push *p)
{
	if (p->opt->progress)
		p->opt->progress(p->opt->progress_ctx, p->res);
}

/* -------------------------------------------------------- manifests -- */

/* Whether m revokes id. */
static bool revokes(const struct repo_manifest *m, const char *id)
{
	for (size_t i = 0; i < m->revoked_count; i++)
		if (!strcmp(m->revoked[i], id))
			return true;
	return false;
}

/*
 * The bucket's manifest: same key, revision not after the local one's,
 * the same bytes at the same revision, and nothing it revokes missing
 * from the local one. The last two catch a bucket changed behind the
 * local copy (aidata revoke s3://...): pushing over it would un-revoke
 * credentials.
 */
static int check_remote_manifest(struct push *p,
				 const struct repo_manifest *local,
				 const char *ltext, size_t llen)
{
	struct origin_req req;
	struct repo_manifest remote;
	struct buf b;
	char why[REPO_MANIFEST_WHY_MAX];
	int rc;

	buf_init(&b, PUSH_MANIFEST_MAX);
	origin_req_init(&req, "manifest", PUSH_MANIFEST_MAX, 0);
	rc = origin_get(p->origin, &req, &b);
	if (rc == -ENOENT) {
		rc = 0; /* a new repository */
		goto out;
	}
	if (rc) {
		log_error("cannot read the bucket's manifest: %s", req.why);
		goto out;
	}
	rc = repo_manifest_decode_reason((const char *)b.data, b.len,
					 p->opt->pubkey, &remote, why,
					 sizeof(why));
	if (rc) {
		log_error("'%s' already holds a manifest that is not this "
			  "platform's: %s; refusing to overwrite it",
			  p->opt->url, why);
		rc = -EBADMSG;
		goto out;
	}
	p->res->remote_revision = remote.revision;
	if (remote.revision > local->revision) {
		log_error("'%s' holds revision %" PRIu64
			  ", later than the local %" PRIu64
			  "; a push never rolls a repository back",
			  p->opt->url, remote.revision, local->revision);
		rc = -ESTALE;
	} else if (remote.revision == local->revision &&
		   (b.len != llen || memcmp(b.data, ltext, llen))) {
		log_error("'%s' holds another manifest of revision %" PRIu64
			  " than the local one (re-signed in the bucket); "
			  "make the local repository's next revision first",
			  p->opt->url, remote.revision);
		rc = -ESTALE;
	}
	for (size_t i = 0; !rc && i < remote.revoked_count; i++) {
		if (revokes(local, remote.revoked[i]))
			continue;
		log_error("'%s' revokes credential '%s', which the local "
			  "repository does not: pushing would accept it "
			  "again; run aidata revoke on '%s' with it first",
			  p->opt->url, remote.revoked[i], p->opt->repo);
		rc = -ESTALE;
	}
	repo_manifest_release(&remote);
out:
	buf_release(&b);
	return rc;
}

/* ---------------------------------------------------------- objects -- */

static int push_object(struct push *p, const char *rel)
{
	char *path = xasprintf("%s/%s", p->opt->repo, rel);
	struct origin_req req;
	struct stat st;
	uint64_t size = 0;
	int rc;

	if (stat(path, &st) != 0) {
		rc = -errno;
		log_error("'%s': %s", path, strerror(errno));
		goto out;
	}
	if (immutable(rel)) {
		origin_req_init(&req, rel, 0, 0);
		rc = origin_head(p->origin, &req, &size);
		if (rc == 0 && size == (uint64_t)st.st_size) {
			p->res->skipped++;
			goto out;
		}
		if (rc && rc != -ENOENT) {
			log_error("%s", req.why);
			goto out;
		}
	}
	origin_req_init(&req, rel, 0, 0);
	rc = origin_put_file(p->origin, &req, path,
			     p->opt->part_size ? p->opt->part_size
					       : PUSH_DEFAULT_PART);
	if (rc) {
		log_error("%s", req.why);
		goto out;
	}
	p->res->uploaded++;
	p->res->bytes_uploaded += (uint64_t)st.st_size;
out:
	free(path);
	return rc;
}

int publish_push(const struct publish_push_options *o,
		 struct publish_push_result *res)
{
	struct push p = {.opt = o, .res = res};
	struct publish_bucket bucket = {
	    .url = o->url,
	    .s3 = o->s3,
	    .timeout_sec = o->timeout_sec,
	    .retries = o->retries,
	    .ca_file = o->ca_file,
	    .force_unlock = o->force_unlock,
	    .command = "push",
	};
	struct repo_manifest local = {0};
	publish_lock_t *local_lock = NULL, *bucket_lock = NULL;
	char *mpath = xasprintf("%s/manifest", o->repo), *mtext = NULL,
	     why[REPO_MANIFEST_WHY_MAX];
	size_t mlen = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!publish_repo_is_bucket(o->url)) {
		log_error("'%s': push writes to s3://BUCKET/PREFIX only",
			  o->url);
		rc = -EINVAL;
		goto out;
	}
	rc = publish_lock_acquire(o->repo, &local_lock);
	if (rc) {
		if (rc == -ENOENT || rc == -ENOTDIR)
			log_error("'%s' is not a repository directory",
				  o->repo);
		goto out;
	}
	rc = fs_read_file(mpath, PUSH_MANIFEST_MAX, &mtext, &mlen);
	if (rc) {
		log_error("'%s': %s", mpath,
			  rc == -ENOENT ? "no manifest: not a repository "
					  "(aidata pack writes one)"
					: strerror(-rc));
		goto out;
	}
	rc = repo_manifest_decode_reason(mtext, mlen, o->pubkey, &local, why,
					 sizeof(why));
	if (rc) {
		log_error("'%s': %s", mpath, why);
		goto out;
	}
	res->revision = local.revision;
	rc = walk(&p, o->repo, "");
	if (rc)
		goto out;
	qsort(p.names, p.count, sizeof(char *), cmp_names);
	res->objects = p.count + 1;
	rc = publish_lock_acquire_bucket(&bucket, &bucket_lock);
	if (rc)
		goto out;
	p.origin = bucket_lock->origin;
	rc = check_remote_manifest(&p, &local, mtext, mlen);
	if (rc)
		goto out;
	for (size_t i = 0; i < p.count && !rc; i++) {
		rc = push_object(&p, p.names[i]);
		progress(&p);
	}
	if (rc)
		goto out;
	/* last: the revision becomes visible only now */
	{
		struct origin_req req;

		origin_req_init(&req, "manifest", 0, 0);
		rc = origin_put(p.origin, &req, mtext, mlen);
		if (rc) {
			log_error("%s", req.why);
			goto out;
		}
		res->uploaded++;
		res->bytes_uploaded += mlen;
		progress(&p);
	}
out:
	publish_lock_release(bucket_lock);
	publish_lock_release(local_lock);
	repo_manifest_release(&local);
	for (size_t i = 0; i < p.count; i++)
		free(p.names[i]);
	free(p.names);
	free(mtext);
	free(mpath);
	return rc;
}

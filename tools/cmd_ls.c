/* `aidata ls` and `aidata get`: browse and extract without mounting. */
#define _GNU_SOURCE
#include "commands.h"
#include "fsutil.h"
#include "repo_local.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

struct tool_args {
	const char *pubkey;
	int first; /* index of the first positional argument */
};

static int parse_common(int argc, char **argv, const char *usage,
			struct tool_args *a)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'p') {
			a->pubkey = optarg;
		} else if (c == 'h') {
			printf("%s", usage);
			return 1;
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (!a->pubkey) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	a->first = optind;
	return 0;
}

static int open_repo(const char *dir, const char *pubkey,
		     struct local_repo **out)
{
	repo_key_t *key = NULL;
	int rc = repo_key_load_public(pubkey, &key);

	if (rc) {
		fprintf(stderr, "aidata: public key '%s': %s\n", pubkey,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		return rc;
	}
	rc = local_repo_open(dir, key, out);
	if (rc == -ENOENT)
		fprintf(stderr, "aidata: '%s': no manifest; not a repository\n",
			dir);
	repo_key_free(key);
	return rc;
}

/* ------------------------------------------------------------------ ls -- */

static int ls_dataset(void *arg, const struct repo_dataset *d)
{
	(void)arg;
	printf("%-28s %-7s %-14s %-12s %8" PRIu64 " files %14" PRIu64
	       " bytes\n",
	       d->name, repo_tier_name(d->tier), d->industry, d->modality,
	       d->files, d->bytes);
	return 0;
}

static void print_inode(const struct repo_inode *i, const char *name)
{
	char when[32];
	time_t t = (time_t)i->mtime_sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%c%04o %12" PRIu64 " %s %s",
	       S_ISDIR(i->mode)	  ? 'd'
	       : S_ISLNK(i->mode) ? 'l'
				  : '-',
	       i->mode & 07777, i->size, when, name);
	if (S_ISLNK(i->mode))
		printf(" -> %s", i->target);
	putchar('\n');
}

static int ls_entry(void *arg, const char *name, size_t len, uint64_t ino,
		    uint32_t type)
{
	repo_catalog_t *cat = arg;
	struct repo_inode i;
	char *n = xstrndup(name, len);
	int rc = repo_catalog_inode(cat, ino, &i);

	(void)type;
	if (!rc) {
		print_inode(&i, n);
		repo_inode_release(&i);
	}
	free(n);
	return rc;
}

int cmd_ls(int argc, char **argv)
{
	static const char usage[] =
	    "usage: aidata ls REPO [PATH] --pubkey platform.pub\n\n"
	    "List the datasets of REPO, or the entries at PATH "
	    "(dataset/dir/...).\n";
	struct tool_args a = {0};
	struct local_repo *r = NULL;
	struct local_path p;
	const char *path;
	int rc = parse_common(argc, argv, usage, &a);

	if (rc)
		return rc == 1 ? 0 : 2;
	if (argc - a.first < 1 || argc - a.first > 2) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	path = argc - a.first == 2 ? argv[a.first + 1] : "";
	if (open_repo(argv[a.first], a.pubkey, &r))
		return 1;
	rc = local_repo_resolve(r, path, &p);
	if (rc) {
		fprintf(stderr, "aidata ls: '%s': %s\n", path,
			rc == -ENOENT ? "no such file or directory"
				      : strerror(-rc));
		local_repo_free(r);
		return 1;
	}
	if (!p.ino) {
		rc = repo_catalog_datasets(r->root_catalog, ls_dataset, NULL);
	} else {
		struct repo_inode i;

		rc = repo_catalog_inode(p.catalog, p.ino, &i);
		if (!rc && S_ISDIR(i.mode))
			rc = repo_catalog_readdir(p.catalog, p.ino, 0, ls_entry,
						  p.catalog);
		else if (!rc)
			print_inode(&i, path);
		if (!rc || i.name)
			repo_inode_release(&i);
	}
	if (rc)
		fprintf(stderr, "aidata ls: '%s': %s\n", path, strerror(-rc));
	local_path_release(&p);
	local_repo_free(r);
	return rc ? 1 : 0;
}

/* ----------------------------------------------------------------- get -- */

struct get_ctx {
	struct local_repo *r;
	repo_catalog_t *cat;
	const char *dataset;
	uint8_t *chunk; /* the last chunk decoded, reused by neighbours */
	uint32_t chunk_id;
	bool chunk_valid;
	uint64_t files, bytes;
	int problems;
};

static void set_times(const char *out, const struct repo_inode *i)
{
	struct timespec ts[2] = {
	    {i->mtime_sec, i->mtime_nsec},
	    {i->mtime_sec, i->mtime_nsec},
	};

	utimensat(AT_FDCWD, out, ts, AT_SYMLINK_NOFOLLOW);
}

static int get_file(struct get_ctx *g, const struct repo_inode *i,
		    const char *out)
{
	sha256_ctx_t *sha = sha256_new();
	struct digest d;
	int fd, rc = 0;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "aidata get: cannot create '%s': %s\n", out,
			strerror(errno));
		goto out;
	}
	for (uint32_t k = 0; !rc && k < i->extent_count; k++) {
		const struct repo_extent *e = &i->extents[k];

		if (!g->chunk_valid || g->chunk_id != e->chunk) {
			struct repo_chunk c;

			g->chunk_valid = false;
			rc = repo_catalog_chunk(g->cat, e->chunk, &c);
			if (!rc && (uint64_t)e->offset + e->length > c.size)
				rc = -EINVAL;
			if (!rc && (c.flags & REPO_CHUNK_ENCRYPTED))
				rc = -ENOTSUP;
			if (!rc)
				rc = local_repo_read_chunk(g->r, &c, NULL,
							   g->chunk);
			if (rc)
				break;
			g->chunk_valid = true;
			g->chunk_id = e->chunk;
		}
		sha256_update(sha, g->chunk + e->offset, e->length);
		rc = fs_write_all(fd, g->chunk + e->offset, e->length);
	}
	sha256_final(sha, &d);
	if (!rc && !digest_equal(&d, &i->sha256)) {
		fprintf(stderr, "aidata get: '%s': content digest mismatch\n",
			out);
		rc = -EBADMSG;
	}
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = -errno;
	if (rc) {
		if (rc != -EBADMSG)
			fprintf(stderr, "aidata get: '%s': %s\n", out,
				strerror(-rc));
		unlink(out);
		goto out;
	}
	chmod(out, i->mode & 07777);
	set_times(out, i);
	g->files++;
	g->bytes += i->size;
out:
	sha256_free(sha);
	return rc;
}

static int get_inode(struct get_ctx *g, uint64_t ino, const char *out);

struct get_dir_ctx {
	struct get_ctx *g;
	const char *out;
	int rc;
};

static int get_child(void *arg, const char *name, size_t len, uint64_t ino,
		     uint32_t type)
{
	struct get_dir_ctx *dc = arg;
	char *child = xasprintf("%s/%.*s", dc->out, (int)len, name);
	int rc = get_inode(dc->g, ino, child);

	(void)type;
	free(child);
	if (rc && !dc->rc)
		dc->rc = rc;
	return 0; /* keep going: name every problem */
}

static int get_inode(struct get_ctx *g, uint64_t ino, const char *out)
{
	struct repo_inode i;
	int rc = repo_catalog_inode(g->cat, ino, &i);

	if (rc) {
		fprintf(stderr, "aidata get: inode %" PRIu64 ": %s\n", ino,
			strerror(-rc));
		return rc;
	}
	if (S_ISREG(i.mode)) {
		rc = get_file(g, &i, out);
	} else if (S_ISLNK(i.mode)) {
		unlink(out);
		if (symlink(i.target, out) != 0) {
			rc = -errno;
			fprintf(stderr, "aidata get: '%s': %s\n", out,
				strerror(errno));
		} else {
			set_times(out, &i);
		}
	} else {
		struct get_dir_ctx dc = {g, out, 0};

		if (mkdir(out, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			fprintf(stderr, "aidata get: cannot create '%s': %s\n",
				out, strerror(errno));
		} else {
			rc = repo_catalog_readdir(g->cat, ino, 0, get_child,
						  &dc);
			rc = rc ? rc : dc.rc;
			chmod(out, i.mode & 07777);
			set_times(out, &i);
		}
	}
	repo_inode_release(&i);
	return rc;
}

struct get_all_ctx {
	struct get_ctx *g;
	const char *out;
	int rc;
};

static int get_dataset(void *arg, const struct repo_dataset *d)
{
	struct get_all_ctx *a = arg;
	char *dir = xasprintf("%s/%s", a->out, d->name);
	int rc = local_repo_dataset_catalog(a->g->r, d, &a->g->cat);

	if (!rc) {
		a->g->chunk_valid = false;
		rc = get_inode(a->g, REPO_ROOT_INO, dir);
		repo_catalog_free(a->g->cat);
		a->g->cat = NULL;
	}
	if (rc && !a->rc)
		a->rc = rc;
	free(dir);
	return 0;
}

int cmd_get(int argc, char **argv)
{
	static const char usage[] =
	    "usage: aidata get REPO PATH OUT --pubkey platform.pub\n\n"
	    "Extract PATH (a file, directory, dataset, or / for "
	    "everything) to OUT,\nverifying every chunk and every file's "
	    "SHA-256.\n";
	struct tool_args a = {0};
	struct get_ctx g = {0};
	struct local_path p = {0};
	int rc = parse_common(argc, argv, usage, &a);

	if (rc)
		return rc == 1 ? 0 : 2;
	if (argc - a.first != 3) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (open_repo(argv[a.first], a.pubkey, &g.r))
		return 1;
	g.chunk = xmalloc(REPO_CHUNK_MAX);
	rc = local_repo_resolve(g.r, argv[a.first + 1], &p);
	if (rc) {
		fprintf(stderr, "aidata get: '%s': %s\n", argv[a.first + 1],
			rc == -ENOENT ? "no such file or directory"
				      : strerror(-rc));
		goto out;
	}
	if (!p.ino) {
		struct get_all_ctx all = {&g, argv[a.first + 2], 0};

		if (mkdir(all.out, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			fprintf(stderr, "aidata get: cannot create '%s': %s\n",
				all.out, strerror(errno));
			goto out;
		}
		rc =
		    repo_catalog_datasets(g.r->root_catalog, get_dataset, &all);
		rc = rc ? rc : all.rc;
	} else {
		g.cat = p.catalog;
		rc = get_inode(&g, p.ino, argv[a.first + 2]);
		g.cat = NULL;
	}
	if (!rc)
		printf("extracted %" PRIu64 " files, %" PRIu64 " bytes\n",
		       g.files, g.bytes);
out:
	local_path_release(&p);
	local_repo_free(g.r);
	free(g.chunk);
	return rc ? 1 : 0;
}

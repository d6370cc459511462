/*
 * `aidata status`: what an operator checks before launching a job. The
 * mount's .aidata/status (origin, revision, cache size and bound, and
 * per dataset its size and how much of it is cached) and, for paths,
 * their files' sizes and the bytes of them cached (user.aidata.cached).
 */
#define _GNU_SOURCE
#include "commands.h"
#include "mount_walk.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "banned.h"

static const char usage_text[] =
    "usage: aidata status [--mount DIR] [--json] [PATH...]\n"
    "\n"
    "Show the mount at DIR (default /mnt/aidata): its origin and "
    "revision, its\ncache (bytes cached, cache_size), and per dataset "
    "its files, size and the\npart of it in the cache. With PATH... "
    "(files or directories on the mount,\nor paths relative to DIR), "
    "the files, size and bytes cached of each.\n"
    "\n"
    "  --mount DIR   the aidatafs mount (default /mnt/aidata)\n"
    "  --json        one JSON object: {\"mount\", \"status\", \"paths\"}\n"
    "\n"
    "A dataset whose catalog this node has not fetched yet shows '-' "
    "as cached\n(nothing of it was read here). Cached bytes of a dataset "
    "count its distinct\nchunks (shared chunks once); of a path, the "
    "bytes of its files.\n"
    "\n"
    "Exit status: 0, 1 if DIR is not an aidatafs mount or a path cannot "
    "be\nread, 2 for a usage error.\n";

static void size_text(uint64_t n, char *out, size_t len)
{
	units_format_size((double)n, out, len);
}

static uint64_t get_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static const char *get_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "?";
}

static void print_status(const char *root, json_t *st)
{
	json_t *cache = json_object_get(st, "cache");
	json_t *list = json_object_get(st, "datasets"), *d;
	uint64_t max = get_u64(cache, "max_bytes");
	char a[32], b[32];
	size_t i;

	printf("mount      %s\n", root);
	printf("origin     %s\n", get_str(st, "origin"));
	printf("revision   %" PRIu64 " (published %s, checked every %" PRIu64
	       " s)\n",
	       get_u64(st, "revision"), get_str(st, "created"),
	       get_u64(st, "ttl"));
	size_text(get_u64(cache, "bytes"), a, sizeof(a));
	if (max) {
		size_text(max, b, sizeof(b));
		printf("cache      %s: %s of %s (%.0f%%), %" PRIu64 " chunks\n",
		       get_str(cache, "dir"), a, b,
		       100.0 * (double)get_u64(cache, "bytes") / (double)max,
		       get_u64(cache, "chunks"));
	} else {
		printf("cache      %s: %s (no bound), %" PRIu64 " chunks\n",
		       get_str(cache, "dir"), a, get_u64(cache, "chunks"));
	}
	printf("\n%-28s %-7s %9s %11s %8s\n", "dataset", "tier", "files",
	       "size", "cached");
	json_array_foreach(list, i, d)
	{
		json_t *cached = json_object_get(d, "cached");
		uint64_t chunk_bytes = get_u64(d, "chunk_bytes");
		char pct[16];

		size_text(get_u64(d, "bytes"), a, sizeof(a));
		if (!json_is_integer(cached))
			snprintf(pct, sizeof(pct), "-");
		else
			snprintf(pct, sizeof(pct), "%.0f%%",
				 chunk_bytes
				     ? 100.0 *
					   (double)json_integer_value(cached) /
					   (double)chunk_bytes
				     : 100.0);
		printf("%-28s %-7s %9" PRIu64 " %11s %8s\n", get_str(d, "name"),
		       get_str(d, "tier"), get_u64(d, "files"), a, pct);
	}
}

/* Bytes of path cached, from user.aidata.cached. */
static int file_cached(const char *path, uint64_t *out)
{
	char v[32];
	ssize_t n = getxattr(path, "user.aidata.cached", v, sizeof(v) - 1);

	if (n < 0)
		return -errno;
	v[n] = '\0';
	return units_parse_uint(v, 0, UINT64_MAX, out) ? -EPROTO : 0;
}

/* One path's files, size and cached bytes, as a JSON object. */
static json_t *path_status(const char *path, int *errors)
{
	struct mount_files mf = {0};
	uint64_t cached = 0;
	json_t *o;

	mount_walk(path, &mf);
	for (size_t i = 0; i < mf.n; i++) {
		uint64_t c;
		int rc = file_cached(mf.v[i].path, &c);

		if (rc) {
			fprintf(stderr, "aidata status: '%s': %s\n",
				mf.v[i].path, strerror(-rc));
			mf.errors++;
			continue;
		}
		cached += c;
	}
	*errors += (int)mf.errors;
	o = json_pack("{s:s, s:I, s:I, s:I}", "path", path, "files",
		      (json_int_t)mf.n, "bytes", (json_int_t)mf.bytes, "cached",
		      (json_int_t)cached);
	mount_files_release(&mf);
	return o;
}

static void print_paths(json_t *paths)
{
	json_t *p;
	size_t i;

	printf("\n%-44s %9s %11s %11s\n", "path", "files", "size", "cached");
	json_array_foreach(paths, i, p)
	{
		uint64_t bytes = get_u64(p, "bytes"), c = get_u64(p, "cached");
		char a[32], b[32];

		size_text(bytes, a, sizeof(a));
		size_text(c, b, sizeof(b));
		printf("%-44s %9" PRIu64 " %11s %11s (%.0f%%)\n",
		       get_str(p, "path"), get_u64(p, "files"), a, b,
		       bytes ? 100.0 * (double)c / (double)bytes : 100.0);
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mount", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mnt = "/mnt/aidata";
	json_t *st = NULL, *paths = NULL;
	json_error_t err;
	char *root = NULL, *text = NULL;
	bool as_json = false;
	int c, errors = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'm') {
			mnt = optarg;
		} else if (c == 'j') {
			as_json = true;
		} else if (c == 'h') {
			printf("%s", usage_text);
			return 0;
		} else {
			fprintf(stderr, "%s", usage_text);
			return 2;
		}
	}
	if (mount_root(mnt, &root) || mount_control_read(root, "status", &text))
		goto out;
	st = json_loads(text, 0, &err);
	if (!json_is_object(st)) {
		fprintf(stderr,
			"aidata status: '%s/.aidata/status' is not JSON: %s\n",
			root, err.text);
		goto out;
	}
	paths = json_array();
	for (int i = optind; i < argc; i++) {
		char *path;

		if (mount_resolve(root, argv[i], &path)) {
			errors++;
			continue;
		}
		json_array_append_new(paths, path_status(path, &errors));
		free(path);
	}
	if (as_json) {
		json_t *all = json_pack("{s:s, s:O, s:O}", "mount", root,
					"status", st, "paths", paths);
		char *out = json_dumps(all, JSON_INDENT(2));

		printf("%s\n", out ? out : "{}");
		free(out);
		json_decref(all);
	} else {
		print_status(root, st);
		if (json_array_size(paths))
			print_paths(paths);
	}
	rc = errors ? 1 : 0;
out:
	json_decref(st);
	json_decref(paths);
	free(text);
	free(root);
	return rc;
}

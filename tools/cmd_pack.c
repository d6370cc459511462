/* `aidata pack`: the command-line front end of publish_pack. */
#include "commands.h"
#include "log.h"
#include "publish.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

static void pack_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: aidata pack SRC --datasets FILE --key platform.key "
	    "--out REPO [options]\n"
	    "\n"
	    "Pack SRC/<dataset>/... into the next revision of REPO.\n"
	    "\n"
	    "  --datasets FILE     JSON description of every dataset\n"
	    "  --key FILE          the platform's Ed25519 private key\n"
	    "  --out REPO          repository directory (created if absent)\n"
	    "  --chunk-size SIZE   chunk size (default 4M; 64K..64M)\n"
	    "  --piece-size SIZE   cut larger files into pieces of SIZE "
	    "(64K..chunk size;\n"
	    "                      default: what the dataset used before, "
	    "1M if new)\n"
	    "  --shard-size SIZE   target shard size (default 64M)\n"
	    "  --level N           zstd level (default 3)\n"
	    "  --jobs N            threads that hash and compress (default: "
	    "cores)\n"
	    "  --ttl SECONDS       manifest TTL for clients (default 300)\n"
	    "  --revoke JTI        add a revoked credential id (repeatable)\n"
	    "  --state DIR         pack state directory (default below)\n"
	    "  --rehash            read every file, even unchanged ones\n"
	    "  --quiet             no progress bar or summary\n"
	    "\n"
	    "Files up to a quarter of the chunk size share chunks, grouped "
	    "by their paths\nso that editing, adding or removing one changes "
	    "one or two chunks. Larger\nfiles are cut into pieces of the "
	    "piece size, one chunk each: smaller pieces\nmean less to fetch "
	    "for a random read and more overlap for a sequential one.\n"
	    "A dataset keeps its piece size unless --piece-size says "
	    "otherwise, so\nunchanged files keep their chunks.\n"
	    "\n"
	    "A re-pack does not read a file whose size, mtime, ctime, inode "
	    "and device\nare what they were when the revision being "
	    "extended was packed: its\nchunks are taken from that "
	    "revision (files changed in the second before a\npack are read "
	    "again next time). The identities are kept in the pack state,\n"
	    "local to this machine and never published: by default\n"
	    "$XDG_CACHE_HOME/aidata/pack/<sha256 of REPO's absolute path> "
	    "(or\n~/.cache/aidata/pack/...). It is used only if it "
	    "describes exactly the\nrevision being extended; losing it "
	    "costs one full read.\n");
}

/* The terminal's progress bar, on stderr. */
static void bar_draw(void *ctx, const struct publish_progress *p)
{
	char done[32], total[32], rate[32];
	double bps, frac;
	int width = 30, filled;

	(void)ctx;
	bps = p->seconds > 0 ? p->bytes_done / p->seconds : 0;
	frac = p->bytes_total ? (double)p->bytes_done / p->bytes_total : 1;
	if (frac > 1)
		frac = 1;
	filled = (int)(frac * width);
	units_format_size((double)p->bytes_done, done, sizeof(done));
	units_format_size((double)p->bytes_total, total, sizeof(total));
	units_format_size(bps, rate, sizeof(rate));
	fprintf(stderr, "\r[%.*s%*s] %s / %s  %s/s  ", filled,
		"##############################", width - filled, "", done,
		total, rate);
	if (!p->final && bps > 0 && p->bytes_total > p->bytes_done)
		fprintf(stderr, "ETA %.0fs   ",
			(p->bytes_total - p->bytes_done) / bps);
	else
		fprintf(stderr, "%.1fs        ", p->seconds);
	if (p->final)
		fputc('\n', stderr);
	fflush(stderr);
}

static void print_summary(const char *repo, const struct publish_pack_result *s)
{
	char in[32], stored[32], rate[32], same[32];

	units_format_size((double)s->bytes_in, in, sizeof(in));
	units_format_size((double)s->stored_new, stored, sizeof(stored));
	units_format_size(s->seconds > 0 ? s->bytes_in / s->seconds : 0, rate,
			  sizeof(rate));
	units_format_size((double)s->bytes_unchanged, same, sizeof(same));
	printf("packed revision %" PRIu64 " into '%s'\n", s->revision, repo);
	printf("  datasets     %zu\n", s->datasets);
	printf("  files        %" PRIu64 " (%" PRIu64 " directories, %" PRIu64
	       " symlinks)\n",
	       s->files, s->dirs, s->symlinks);
	printf("  skipped      %" PRIu64 " files unchanged (not re-read), %s\n",
	       s->files_unchanged, same);
	printf("  bytes in     %s (%" PRIu64 ")\n", in, s->bytes_in);
	printf("  chunks       %" PRIu64 " referenced, %" PRIu64 " new\n",
	       s->chunks, s->chunks_new);
	printf("  stored       %s (%" PRIu64 ") in %" PRIu64
	       " new shards, %" PRIu64 " new catalogs\n",
	       stored, s->stored_new, s->shards_new, s->catalogs_new);
	printf("  compression  %.2fx (new chunk bytes / stored bytes)\n",
	       s->stored_new ? (double)s->chunk_bytes_new / s->stored_new
			     : 1.0);
	printf("  dedup        %.2fx (file bytes / distinct chunk bytes)\n",
	       s->unique_bytes ? (double)s->bytes_in / s->unique_bytes : 1.0);
	printf("  time         %.1fs (%s/s)\n", s->seconds, rate);
}

/* A chunk or piece size, 64K..64M, into *out; -1 (said) if it is not. */
static int chunk_size_arg(const char *opt, const char *arg, uint32_t *out)
{
	uint64_t v;

	if (units_parse_size(arg, &v) || v < (64u << 10) || v > (64u << 20)) {
		fprintf(stderr, "aidata pack: %s must be 64K..64M\n", opt);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int cmd_pack(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"datasets", required_argument, NULL, 'd'},
	    {"key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"chunk-size", required_argument, NULL, 'c'},
	    {"piece-size", required_argument, NULL, 'p'},
	    {"shard-size", required_argument, NULL, 's'},
	    {"level", required_argument, NULL, 'l'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"ttl", required_argument, NULL, 't'},
	    {"revoke", required_argument, NULL, 'r'},
	    {"state", required_argument, NULL, 'S'},
	    {"rehash", no_argument, NULL, 'R'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct publish_pack_options o = {
	    .chunk_size = 4u << 20,
	    .shard_size = 64u << 20,
	    .level = 3,
	    .ttl = 300,
	};
	struct publish_pack_result res;
	const char **revoke = xcalloc((size_t)argc, sizeof(*revoke));
	bool quiet = false;
	uint64_t v;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.datasets_file = optarg;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case 'o':
			o.repo = optarg;
			break;
		case 'c':
			if (chunk_size_arg("--chunk-size", optarg,
					   &o.chunk_size))
				goto usage;
			break;
		case 'p':
			/* checked against --chunk-size once both are known */
			if (chunk_size_arg("--piece-size", optarg,
					   &o.piece_size))
				goto usage;
			break;
		case 's':
			if (units_parse_size(optarg, &v) || v < (1u << 20)) {
				fprintf(stderr, "aidata pack: --shard-size "
						"must be at least 1M\n");
				goto usage;
			}
			o.shard_size = v;
			break;
		case 'l':
			if (units_parse_uint(optarg, 1, 19, &v)) {
				fprintf(stderr, "aidata pack: --level must be "
						"1..19\n");
				goto usage;
			}
			o.level = (int)v;
			break;
		case 'j':
			if (units_parse_uint(optarg, 1, 1024, &v)) {
				fprintf(stderr, "aidata pack: --jobs must be "
						"1..1024\n");
				goto usage;
			}
			o.jobs = (unsigned)v;
			break;
		case 't':
			if (units_parse_uint(optarg, 0, UINT32_MAX, &v)) {
				fprintf(stderr,
					"aidata pack: --ttl takes whole "
					"seconds\n");
				goto usage;
			}
			o.ttl = (uint32_t)v;
			break;
		case 'r':
			revoke[o.revoke_count++] = optarg;
			break;
		case 'S':
			o.state_dir = optarg;
			break;
		case 'R':
			o.flags |= PUBLISH_PACK_REHASH;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			pack_usage(stdout);
			free(revoke);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !o.datasets_file || !o.key_file || !o.repo)
		goto usage;
	if (o.piece_size > o.chunk_size) {
		fprintf(stderr, "aidata pack: --piece-size must not exceed "
				"the chunk size\n");
		goto usage;
	}
	o.src = argv[optind];
	o.revoke = revoke;
	if (!o.jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o.jobs = n > 0 ? (unsigned)n : 1;
	}
	log_init("aidata pack", quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, false);
	if (!quiet && isatty(STDERR_FILENO))
		o.progress = bar_draw;
	rc = publish_pack(&o, &res);
	if (rc && o.progress)
		fputc('\n', stderr);
	if (rc == -EINVAL)
		fprintf(stderr, "aidata pack: failed; '%s' left as it was\n",
			o.repo);
	else if (rc)
		fprintf(stderr,
			"aidata pack: failed: %s; '%s' left as it was\n",
			strerror(-rc), o.repo);
	else if (!quiet)
		print_summary(o.repo, &res);
	free(revoke);
	return rc ? 1 : 0;
usage:
	pack_usage(stderr);
	free(revoke);
	return 2;
}

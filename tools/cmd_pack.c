#include "commands.h"
#include "pack.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
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
	    "  --shard-size SIZE   target shard size (default 64M)\n"
	    "  --level N           zstd level (default 3)\n"
	    "  --jobs N            compression threads (default: cores)\n"
	    "  --ttl SECONDS       manifest TTL for clients (default 300)\n"
	    "  --revoke JTI        add a revoked credential id (repeatable)\n"
	    "  --quiet             no progress bar or summary\n");
}

int cmd_pack(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"datasets", required_argument, NULL, 'd'},
	    {"key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"chunk-size", required_argument, NULL, 'c'},
	    {"shard-size", required_argument, NULL, 's'},
	    {"level", required_argument, NULL, 'l'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"ttl", required_argument, NULL, 't'},
	    {"revoke", required_argument, NULL, 'r'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pack_options o = {
	    .chunk_size = 4u << 20,
	    .shard_size = 64u << 20,
	    .level = 3,
	    .ttl = 300,
	};
	uint64_t v;
	int c, rc;

	o.revoke = xcalloc((size_t)argc, sizeof(*o.revoke));
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
			if (units_parse_size(optarg, &v) || v < (64u << 10) ||
			    v > (64u << 20)) {
				fprintf(stderr, "aidata pack: --chunk-size "
						"must be 64K..64M\n");
				goto usage;
			}
			o.chunk_size = (uint32_t)v;
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
		case 't': {
			char *end;
			unsigned long t;

			errno = 0;
			t = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || t > UINT32_MAX ||
			    *optarg == '-') {
				fprintf(stderr,
					"aidata pack: --ttl takes whole "
					"seconds\n");
				goto usage;
			}
			o.ttl = (uint32_t)t;
			break;
		}
		case 'r':
			o.revoke[o.revoke_count++] = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			pack_usage(stdout);
			free(o.revoke);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !o.datasets_file || !o.key_file || !o.repo)
		goto usage;
	o.src = argv[optind];
	if (!o.jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o.jobs = n > 0 ? (unsigned)n : 1;
	}
	rc = pack_run(&o);
	free(o.revoke);
	return rc ? 1 : 0;
usage:
	pack_usage(stderr);
	free(o.revoke);
	return 2;
}

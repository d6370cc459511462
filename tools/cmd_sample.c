/* aidata sample: generate the bundled sample platform. */
#include "commands.h"
#include "log.h"
#include "sample.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: aidata sample --out DIR [--seed N]\n"
	    "\n"
	    "Generate the sample AI-data platform (60-150 MiB of datasets\n"
	    "plus datasets.json) into DIR, which must be missing or empty.\n"
	    "\n"
	    "  --out DIR   directory to create the source tree in (required)\n"
	    "  --seed N    PRNG seed; the same seed gives a byte-identical\n"
	    "              tree, mtimes included (default 1)\n"
	    "  --help      show this help\n");
}

static int parse_seed(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts a sign and wraps negatives; refuse them. */
	if (*s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Match "--name VALUE" or "--name=VALUE"; on a match store the value and
 * advance *i past what was consumed. Returns 1 on a match, 0 if arg is some
 * other option, -1 if the value is missing.
 */
static int option_value(int argc, char **argv, int *i, const char *name,
			const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*i += 1;
	*value = argv[*i];
	return 1;
}

int cmd_sample(int argc, char **argv)
{
	const char *out_dir = NULL;
	const char *seed_arg = NULL;
	uint64_t seed = 1;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int m;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			return 0;
		}
		m = option_value(argc, argv, &i, "--out", &out_dir);
		if (m == 0)
			m = option_value(argc, argv, &i, "--seed", &seed_arg);
		if (m < 0) {
			fprintf(stderr,
				"aidata sample: option '%s' needs a "
				"value\n",
				arg);
			usage(stderr);
			return 2;
		}
		if (m == 0) {
			fprintf(stderr,
				"aidata sample: unknown argument '%s'\n", arg);
			usage(stderr);
			return 2;
		}
	}
	if (!out_dir || !*out_dir) {
		fprintf(stderr, "aidata sample: --out DIR is required\n");
		usage(stderr);
		return 2;
	}
	if (seed_arg && parse_seed(seed_arg, &seed) != 0) {
		fprintf(stderr,
			"aidata sample: invalid seed '%s' (want an unsigned "
			"integer)\n",
			seed_arg);
		return 2;
	}

	rc = sample_generate(out_dir, seed);
	if (rc) {
		log_error("cannot generate sample platform in '%s': %s",
			  out_dir, strerror(-rc));
		return 1;
	}
	return 0;
}

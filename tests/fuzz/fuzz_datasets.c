/*
 * The datasets file of `aidata pack` (publish/pack_spec.c): the input is
 * the file's bytes, parsed and checked against a source tree made once
 * in a temporary directory, so the checks of names, labels, tiers and
 * contributors, duplicates and the tree's directories are all reached.
 * Its error lines go to /dev/null (they are formatted all the same).
 */
#include "fuzz.h"
#include "log.h"
#include "publish_int.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

/* The datasets the seed corpus names, as the source tree's directories. */
static const char *const src_dirs[] = {"news-crawl", "law-cases",
				       "medical-imaging-ct", "a"};

static char *src;

static void remove_tree(void)
{
	for (size_t i = 0; i < sizeof(src_dirs) / sizeof(src_dirs[0]); i++) {
		char *d = xasprintf("%s/%s", src, src_dirs[i]);

		rmdir(d);
		free(d);
	}
	rmdir(src);
}

static const char *source_tree(void)
{
	if (src)
		return src;
	if (log_set_file("/dev/null") != 0)
		abort();
	src = xstrdup("/tmp/fuzz-datasets-XXXXXX");
	if (!mkdtemp(src))
		abort();
	for (size_t i = 0; i < sizeof(src_dirs) / sizeof(src_dirs[0]); i++) {
		char *d = xasprintf("%s/%s", src, src_dirs[i]);

		if (mkdir(d, 0755) != 0)
			abort();
		free(d);
	}
	atexit(remove_tree);
	return src;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pack_spec spec;

	if (pack_spec_parse("datasets.json", (const char *)data, size,
			    source_tree(), &spec) == 0)
		pack_spec_release(&spec);
	return 0;
}

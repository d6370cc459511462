/* `aidata pack`: publish a new revision of a repository. */
#ifndef AIDATA_PACK_H
#define AIDATA_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pack_options {
	const char *src;
	const char *datasets_file;
	const char *key_file;
	const char *repo;
	uint32_t chunk_size;
	uint64_t shard_size;
	int level;
	unsigned jobs;
	uint32_t ttl;
	const char **revoke;
	size_t revoke_count;
	bool quiet;
};

/*
 * Pack opts->src into a new revision of opts->repo. On any error the
 * repository is left as it was (the previous revision still verifies)
 * and a message naming the file and the reason has been printed.
 * Returns 0 or a negative errno.
 */
int pack_run(const struct pack_options *opts);

#endif

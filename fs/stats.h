/* The .aidata/stats file: Prometheus text exposition format, so
 * node_exporter's textfile collector can read a copy of it. */
#ifndef AIDATA_STATS_H
#define AIDATA_STATS_H

#include <stdint.h>

#include "cache.h"

struct fs_counters {
	uint64_t revision;
	uint64_t bytes_served;
	uint64_t reads;
	uint64_t opens;
	uint64_t read_errors;
	uint64_t refresh_errors;
	uint64_t rollbacks_refused;
	uint64_t datasets;
	uint64_t catalogs_open;
	uint64_t ring_requests; /* FUSE requests taken from io_uring */
};

/* A new NUL-terminated text (caller frees). */
char *stats_render(const struct cache_stats *cs, const struct fs_counters *fc);

#endif

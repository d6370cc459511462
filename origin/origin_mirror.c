/*
 * Mirror lists: which mirror a fetch asks, and passing over one that
 * failed (origin.h, struct origin_options). Preference is the order of
 * the list, as CVMFS orders its Stratum-1 servers: a mirror that fails
 * is avoided for ORIGIN_MIRROR_AVOID_SEC, then preferred again.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "banned.h"

static int64_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

struct origin_mirror *origin_mirror_pick(origin_t *o, uint64_t tried)
{
	int64_t now = mono_sec(), soonest = INT64_MAX;
	struct origin_mirror *best = NULL, *fallback = NULL;

	for (size_t i = 0; i < o->nmirrors; i++) {
		struct origin_mirror *m = &o->mirrors[i];
		int64_t until = atomic_load(&m->avoid_until);

		if (i < 64 && (tried & (1ull << i)))
			continue;
		if (until <= now)
			return m;
		if (until < soonest) {
			soonest = until;
			best = m;
		}
	}
	if (best)
		return best;
	/* every mirror was tried in this fetch: the least recently
	 * avoided, from the top */
	soonest = INT64_MAX;
	for (size_t i = 0; i < o->nmirrors; i++) {
		int64_t until = atomic_load(&o->mirrors[i].avoid_until);

		if (until <= now)
			return &o->mirrors[i];
		if (until < soonest) {
			soonest = until;
			fallback = &o->mirrors[i];
		}
	}
	return fallback ? fallback : &o->mirrors[0];
}

void origin_mirror_avoid(origin_t *o, struct origin_mirror *m, const char *why)
{
	int64_t until = mono_sec() + ORIGIN_MIRROR_AVOID_SEC,
		was = atomic_exchange(&m->avoid_until, until);

	if (o->nmirrors < 2)
		return;
	stat_add(&m->avoided, 1);
	if (was <= mono_sec())
		log_warn("mirror '%s' passed over for %d s: %s", m->log_base,
			 ORIGIN_MIRROR_AVOID_SEC, why);
}

bool origin_report_bad(origin_t *o, const struct origin_req *req,
		       const char *why)
{
	struct origin_mirror *m;

	if (o->nmirrors < 2 || req->mirror < 0 ||
	    (size_t)req->mirror >= o->nmirrors)
		return false;
	m = &o->mirrors[req->mirror];
	stat_add(&m->failures, 1);
	origin_mirror_avoid(o, m, why);
	for (size_t i = 0; i < o->nmirrors; i++)
		if (atomic_load(&o->mirrors[i].avoid_until) <= mono_sec())
			return true;
	return false;
}

size_t origin_mirror_count(origin_t *o)
{
	return o->nmirrors;
}

int origin_mirror_stats_get(origin_t *o, size_t i,
			    struct origin_mirror_stats *out)
{
	struct origin_mirror *m;

	if (i >= o->nmirrors)
		return -ENOENT;
	m = &o->mirrors[i];
	out->url = m->log_base;
	out->requests = atomic_load(&m->requests);
	out->bytes = atomic_load(&m->bytes);
	out->failures = atomic_load(&m->failures);
	out->avoided = atomic_load(&m->avoided);
	out->avoided_now = atomic_load(&m->avoid_until) > mono_sec();
	return 0;
}

/*
 * `aidata prefetch`: warm a mount's cache before a job. Walks the paths
 * through the mount, opens each file read-only as the caller (the tier
 * decides, and the open is audited, as for any reader), and asks the
 * daemon with AIDATAFS_IOC_PREFETCH (fs/uapi/aidatafs_ioctl.h) to fetch
 * the chunks of one range of it into its cache at a time: large files
 * in steps, so progress moves and several workers share one file.
 * Cached chunks cost nothing, so an interrupted run resumes where it
 * stopped.
 */
#define _GNU_SOURCE
#include "aidatafs_ioctl.h"
#include "commands.h"
#include "mount_walk.h"
#include "units.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define STEP (32ull << 20) /* bytes of a file per request */
#define JOBS_DEFAULT 8
#define JOBS_MAX 64
#define FAILURES_SHOWN 20

static const char usage_text[] =
    "usage: aidata prefetch [--mount DIR] [--jobs N] [--force] [--quiet] "
    "PATH...\n"
    "\n"
    "Fetch the chunks the files under PATH... need into the cache of the "
    "mount at\nDIR (default /mnt/aidata), so that a job does not wait "
    "for the origin. PATH\nis a file or a directory on the mount (a "
    "dataset, a view, a subtree), or a\npath relative to DIR; DIR itself "
    "means every dataset.\n"
    "\n"
    "  --mount DIR   the aidatafs mount (default /mnt/aidata)\n"
    "  --jobs N      requests in flight (default 8, at most 64)\n"
    "  --force       prefetch even if the paths do not fit in the cache\n"
    "  --quiet       no progress bar, no summary (errors only)\n"
    "\n"
    "Each file is opened as you: the tier decides and the open is "
    "audited, as for\nany reader. Chunks are cached as stored (secure "
    "ones stay encrypted); no\nbytes enter the page cache. Chunks "
    "already cached cost nothing, so an\ninterrupted prefetch resumes "
    "where it stopped. If the files are larger than\nthe mount's "
    "cache_size it says so and fetches nothing (--force fetches\n"
    "anyway). On a terminal a progress bar shows bytes, files, rate and "
    "ETA;\nelse one summary line is printed.\n"
    "\n"
    "Exit status: 0 when every file is in the cache, 1 if any could not "
    "be\nprefetched (each is named), 2 for a usage error.\n";

/* One file: opened by the first worker that needs it. */
struct pf_file {
	const struct mount_file *mf;
	pthread_mutex_t lock;
	int fd;		     /* protected by lock */
	int error;	     /* protected by lock: first errno */
	unsigned remaining;  /* protected by lock: items not done */
	bool opened, failed; /* protected by lock */
};

/* A range of a file: one request. */
struct pf_item {
	struct pf_file *file;
	uint64_t off, len;
};

struct pf_run {
	struct pf_file *files;
	size_t nfiles;
	struct pf_item *items;
	size_t nitems;
	size_t next; /* protected by lock */
	bool fatal;  /* protected by lock: the daemon refuses requests */
	pthread_mutex_t lock;
	pthread_cond_t tick; /* the progress thread's timer, and done */
	unsigned running;    /* protected by lock: workers still going */
	uint64_t total;
	/* atomics */
	uint64_t bytes_fetched, bytes_cached, origin_bytes;
	uint64_t chunks_fetched, chunks_cached;
	uint64_t files_done, files_failed;
	struct timespec start;
};

static double elapsed(const struct pf_run *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->start.tv_sec) +
	       (now.tv_nsec - r->start.tv_nsec) / 1e9;
}

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Open f for a worker: -1 when it failed (now or before). */
static int file_fd(struct pf_file *f)
{
	int fd;

	pthread_mutex_lock(&f->lock);
	if (!f->opened) {
		f->opened = true;
		f->fd = open(f->mf->path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0) {
			f->error = errno;
			f->failed = true;
		}
	}
	fd = f->failed ? -1 : f->fd;
	pthread_mutex_unlock(&f->lock);
	return fd;
}

/* An item of f is done (error: its errno, or 0). */
static void file_item_done(struct pf_run *r, struct pf_file *f, int error)
{
	bool last;

	pthread_mutex_lock(&f->lock);
	if (error && !f->failed) {
		f->failed = true;
		f->error = error;
	}
	last = --f->remaining == 0;
	if (last && f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	pthread_mutex_unlock(&f->lock);
	if (!last)
		return;
	if (f->failed)
		ADD(r->files_failed, 1);
	else
		ADD(r->files_done, 1);
}

static void *worker_main(void *arg)
{
	struct pf_run *r = arg;

	for (;;) {
		struct aidatafs_ioc_prefetch io;
		struct pf_item *it;
		int fd, error = 0;

		pthread_mutex_lock(&r->lock);
		it = r->next < r->nitems && !r->fatal ? &r->items[r->next++]
						      : NULL;
		pthread_mutex_unlock(&r->lock);
		if (!it)
			break;
		fd = file_fd(it->file);
		if (fd < 0) {
			file_item_done(r, it->file, 0);
			continue;
		}
		memset(&io, 0, sizeof(io));
		io.offset = it->off;
		io.length = it->len;
		if (ioctl(fd, AIDATAFS_IOC_PREFETCH, &io) != 0) {
			error = errno;
			if (error == ENOTTY) {
				/* every request would fail the same way */
				pthread_mutex_lock(&r->lock);
				r->fatal = true;
				pthread_mutex_unlock(&r->lock);
			}
		} else {
			ADD(r->bytes_fetched, io.bytes_fetched);
			ADD(r->bytes_cached, io.bytes_cached);
			ADD(r->origin_bytes, io.origin_bytes);
			ADD(r->chunks_fetched, io.chunks_fetched);
			ADD(r->chunks_cached, io.chunks_cached);
		}
		file_item_done(r, it->file, error);
	}
	pthread_mutex_lock(&r->lock);
	if (--r->running == 0)
		pthread_cond_broadcast(&r->tick);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* The progress line on stderr (a terminal). */
static void bar_draw(struct pf_run *r, bool final)
{
	uint64_t done = GET(r->bytes_fetched) + GET(r->bytes_cached);
	uint64_t files = GET(r->files_done) + GET(r->files_failed);
	double secs = elapsed(r), bps = secs > 0 ? done / secs : 0;
	double frac = r->total ? (double)done / r->total : 1;
	char d[32], t[32], rate[32];
	int width = 24, filled;

	if (frac > 1)
		frac = 1;
	filled = (int)(frac * width);
	units_format_size((double)done, d, sizeof(d));
	units_format_size((double)r->total, t, sizeof(t));
	units_format_size(bps, rate, sizeof(rate));
	fprintf(stderr, "\r[%.*s%*s] %s / %s  %" PRIu64 "/%zu files  %s/s  ",
		filled, "########################", width - filled, "", d, t,
		files, r->nfiles, rate);
	if (!final && bps > 0 && r->total > done)
		fprintf(stderr, "ETA %.0fs   ", (r->total - done) / bps);
	else
		fprintf(stderr, "%.1fs        ", secs);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* Redraw every 200 ms until the workers are done. */
static void progress_loop(struct pf_run *r, bool bar)
{
	pthread_mutex_lock(&r->lock);
	while (r->running > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->tick, &r->lock, &ts);
		if (bar && r->running > 0) {
			pthread_mutex_unlock(&r->lock);
			bar_draw(r, false);
			pthread_mutex_lock(&r->lock);
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (bar)
		bar_draw(r, true);
}

/* The cache bound of the mount, from .aidata/status (0: none). */
static int cache_bound(const char *root, uint64_t *max, uint64_t *used)
{
	json_error_t err;
	json_t *j, *cache;
	char *text = NULL;
	int rc = mount_control_read(root, "status", &text);

	if (rc)
		return rc;
	j = json_loads(text, 0, &err);
	free(text);
	cache = j ? json_object_get(j, "cache") : NULL;
	if (!json_is_integer(json_object_get(cache, "max_bytes"))) {
		fprintf(stderr,
			"aidata prefetch: '%s/.aidata/status' is not "
			"what this aidata expects\n",
			root);
		json_decref(j);
		return -EPROTO;
	}
	*max =
	    (uint64_t)json_integer_value(json_object_get(cache, "max_bytes"));
	*used = (uint64_t)json_integer_value(json_object_get(cache, "bytes"));
	json_decref(j);
	return 0;
}

static void plan(struct pf_run *r, const struct mount_files *mf)
{
	size_t k = 0;

	r->nfiles = mf->n;
	r->files = xcalloc(mf->n ? mf->n : 1, sizeof(*r->files));
	r->total = mf->bytes;
	for (size_t i = 0; i < mf->n; i++) {
		uint64_t size = mf->v[i].size;

		r->nitems += size ? (size + STEP - 1) / STEP : 1;
	}
	r->items = xcalloc(r->nitems ? r->nitems : 1, sizeof(*r->items));
	for (size_t i = 0; i < mf->n; i++) {
		struct pf_file *f = &r->files[i];
		uint64_t size = mf->v[i].size, off = 0;

		f->mf = &mf->v[i];
		f->fd = -1;
		pthread_mutex_init(&f->lock, NULL);
		do {
			r->items[k].file = f;
			r->items[k].off = off;
			r->items[k].len = size - off < STEP ? size - off : STEP;
			k++;
			f->remaining++;
			off += STEP;
		} while (off < size);
	}
}

static const char *failure_text(int error)
{
	switch (error) {
	case EACCES:
		return "permission denied (the tier refuses you: getfattr -n "
		       "user.aidata.access)";
	case EIO:
		return "input/output error (the origin failed or served bad "
		       "data: see the daemon's log)";
	case ENOSPC:
		return "the cache cannot keep it (cache_size, or its disk is "
		       "full)";
	case ENOTTY:
		return "the mount does not take prefetch requests (not "
		       "aidatafs, or too old)";
	default:
		return strerror(error);
	}
}

/* A dataset whose tier refused the caller, and how many of its files. */
struct refusal {
	char dataset[256];
	char reason[128];
	unsigned files;
};

/* Count a refused file under its dataset (user.aidata.dataset). */
static void refusal_add(struct refusal **v, size_t *n, const char *path)
{
	char dataset[256] = "?";
	ssize_t len =
	    getxattr(path, "user.aidata.dataset", dataset, sizeof(dataset) - 1);

	dataset[len > 0 ? len : 1] = '\0';
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp((*v)[i].dataset, dataset)) {
			(*v)[i].files++;
			return;
		}
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy((*v)[*n].dataset, dataset, strlen(dataset) + 1);
	/* why, for the caller: the mount answers per user */
	len = getxattr(path, "user.aidata.access", (*v)[*n].reason,
		       sizeof((*v)[*n].reason) - 1);
	(*v)[*n].reason[len > 0 ? len : 0] = '\0';
	(*v)[*n].files = 1;
	(*n)++;
}

/* Name what failed: tier refusals once per dataset with the reason,
 * other failures per file (the first FAILURES_SHOWN). The count. */
static int report_failures(struct pf_run *r)
{
	struct refusal *refused = NULL;
	size_t nrefused = 0;
	int failed = 0, shown = 0;

	for (size_t i = 0; i < r->nfiles; i++) {
		struct pf_file *f = &r->files[i];
		int error = f->failed ? f->error : ENOTTY;

		if (!f->failed && !(r->fatal && f->remaining))
			continue;
		failed++;
		if (error == EACCES) {
			refusal_add(&refused, &nrefused, f->mf->path);
			continue;
		}
		if (shown++ < FAILURES_SHOWN)
			fprintf(stderr, "aidata prefetch: '%s': %s\n",
				f->mf->path, failure_text(error));
	}
	if (shown > FAILURES_SHOWN)
		fprintf(stderr, "aidata prefetch: ... and %d more files\n",
			shown - FAILURES_SHOWN);
	for (size_t i = 0; i < nrefused; i++)
		fprintf(stderr,
			"aidata prefetch: dataset '%s': %u files refused to "
			"you: %s\n",
			refused[i].dataset, refused[i].files,
			refused[i].reason[0] ? refused[i].reason
					     : "permission denied");
	free(refused);
	return failed;
}

static void summary(struct pf_run *r, const char *root)
{
	char total[32], fetched[32], cached[32], rate[32];
	double secs = elapsed(r);

	units_format_size((double)r->total, total, sizeof(total));
	units_format_size((double)GET(r->origin_bytes), fetched,
			  sizeof(fetched));
	units_format_size((double)GET(r->bytes_cached), cached, sizeof(cached));
	units_format_size(secs > 0 ? GET(r->origin_bytes) / secs : 0, rate,
			  sizeof(rate));
	printf("prefetched %" PRIu64 " of %zu files (%s) into '%s': %s "
	       "fetched (%" PRIu64 " chunks, %s/s), %s already cached "
	       "(%" PRIu64 " chunks), %" PRIu64 " failed, %.1fs\n",
	       GET(r->files_done), r->nfiles, total, root, fetched,
	       GET(r->chunks_fetched), rate, cached, GET(r->chunks_cached),
	       GET(r->files_failed), secs);
}

int cmd_prefetch(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mount", required_argument, NULL, 'm'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"force", no_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mnt = "/mnt/aidata";
	struct mount_files mf = {0};
	struct pf_run r;
	pthread_t *threads = NULL;
	uint64_t jobs = JOBS_DEFAULT, max = 0, used = 0;
	char *root = NULL;
	bool force = false, quiet = false;
	int c, rc = 1, shown = 0, terr = 0;

	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mnt = optarg;
			break;
		case 'j':
			if (units_parse_uint(optarg, 1, JOBS_MAX, &jobs)) {
				fprintf(stderr,
					"aidata prefetch: --jobs: a number "
					"from 1 to %d\n",
					JOBS_MAX);
				return 2;
			}
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("%s", usage_text);
			return 0;
		default:
			fprintf(stderr, "%s", usage_text);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	if (mount_root(mnt, &root))
		return 1;
	for (int i = optind; i < argc; i++) {
		char *path;

		if (mount_resolve(root, argv[i], &path))
			goto out;
		mount_walk(path, &mf);
		free(path);
	}
	if (mf.errors)
		goto out;
	if (cache_bound(root, &max, &used))
		goto out;
	if (max && mf.bytes > max && !force) {
		char need[32], bound[32];

		units_format_size((double)mf.bytes, need, sizeof(need));
		units_format_size((double)max, bound, sizeof(bound));
		fprintf(stderr,
			"aidata prefetch: the files need %s, more than the "
			"cache of '%s' keeps\n(cache_size %s): the last "
			"chunks fetched would evict the first. Prefetch\n"
			"fewer paths, mount with a larger cache_size, or "
			"use --force. Nothing fetched.\n",
			need, root, bound);
		goto out;
	}
	plan(&r, &mf);
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.tick, NULL);
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	threads = xcalloc(jobs, sizeof(*threads));
	for (uint64_t i = 0; i < jobs; i++) {
		pthread_mutex_lock(&r.lock);
		terr = pthread_create(&threads[i], NULL, worker_main, &r);
		if (terr == 0)
			r.running++;
		else
			threads[i] = 0;
		pthread_mutex_unlock(&r.lock);
	}
	if (r.running == 0) {
		/* no thread to be had (a pids or memory limit): the same
		 * work, one request at a time, in this thread */
		fprintf(stderr,
			"aidata prefetch: warning: cannot start a thread "
			"(%s): prefetching without workers\n",
			strerror(terr));
		r.running = 1;
		worker_main(&r);
	}
	progress_loop(&r, !quiet && isatty(STDERR_FILENO));
	for (uint64_t i = 0; i < jobs; i++)
		if (threads[i])
			pthread_join(threads[i], NULL);
	shown = report_failures(&r);
	if (!quiet)
		summary(&r, root);
	rc = shown ? 1 : 0;
out:
	for (size_t i = 0; i < r.nfiles; i++)
		pthread_mutex_destroy(&r.files[i].lock);
	free(threads);
	free(r.items);
	free(r.files);
	mount_files_release(&mf);
	free(root);
	return rc;
}

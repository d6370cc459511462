/*
 * origin_fetch: a small driver for origin/origin.c, used by
 * test_origin_http.sh against a real nginx.
 *
 *   origin_fetch URL REL [OFF LEN] [--timeout S] [--retries N]
 *                [--repeat N] [--threads T] [--max BYTES | --exact BYTES]
 *                [--ca FILE] [--fd] [--stats] [--debug]
 *
 * Fetches REL (the whole object, at most --max bytes or exactly --exact
 * bytes; or LEN bytes at OFF) REPEAT times in each of THREADS threads
 * through one origin, so keep-alive and the handle pool are exercised.
 * Prints "<sha256 hex> <length>" when every fetch returned the same
 * bytes, or the errno name (ENOENT, EIO, ETIMEDOUT, EFBIG, ...) of the
 * first failure and exits 1. To stderr: the elapsed time as
 * "elapsed_ms N", the body bytes every fetch received as "received N",
 * the first failure's reason as "why ...", and with --stats the origin's
 * counters as "stats requests=N ...". --debug logs at debug level.
 */
#define _GNU_SOURCE
#include "digest.h"
#include "fsutil.h"
#include "log.h"
#include "origin.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define MAX_THREADS 64

struct job {
	origin_t *origin;
	const char *rel;
	bool range, to_fd;
	unsigned flags; /* ORIGIN_EXACT: max is the size */
	uint64_t off, len, max;
	unsigned long repeat;

	/* Results: the first failure, or the digest all fetches agreed on. */
	int rc;
	char why[ORIGIN_WHY_MAX];
	uint64_t received;
	bool mismatch;
	struct digest digest;
	uint64_t size;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: origin_fetch URL REL [OFF LEN] [--timeout S] "
		"[--retries N] [--repeat N] [--threads T] [--max BYTES | "
		"--exact BYTES] [--ca FILE] [--fd] [--stats] [--debug]\n");
}

static const char *errno_name(int err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT";
	case EIO:
		return "EIO";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EFBIG:
		return "EFBIG";
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	default:
		return "EOTHER";
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return -EINVAL;
	return 0;
}

/* The object through origin_get_to_fd into an unlinked temp file. */
static int fetch_to_fd(struct job *j, struct origin_req *req, struct digest *d,
		       uint64_t *size)
{
	char path[] = "/tmp/origin_fetch.XXXXXX";
	sha256_ctx_t *ctx = NULL;
	uint8_t chunk[64 * 1024];
	off_t end, pos = 0;
	int fd, rc;

	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);
	rc = origin_get_to_fd(j->origin, req, fd);
	if (rc)
		goto out;
	end = lseek(fd, 0, SEEK_CUR);
	ctx = sha256_new();
	while (pos < end) {
		size_t n = (size_t)(end - pos) < sizeof(chunk)
			       ? (size_t)(end - pos)
			       : sizeof(chunk);

		rc = fs_pread_all(fd, chunk, n, pos);
		if (rc)
			goto out;
		sha256_update(ctx, chunk, n);
		pos += (off_t)n;
	}
	sha256_final(ctx, d);
	*size = (uint64_t)end;
out:
	sha256_free(ctx);
	close(fd);
	return rc;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct buf b;

	buf_init(&b, SIZE_MAX);
	for (unsigned long i = 0; i < j->repeat; i++) {
		struct origin_req req;
		struct digest d;
		uint64_t size;
		int rc;

		buf_reset(&b);
		if (j->range)
			origin_req_init(&req, j->rel, j->len, 0);
		else
			origin_req_init(&req, j->rel, j->max, j->flags);
		if (j->to_fd) {
			rc = fetch_to_fd(j, &req, &d, &size);
		} else {
			rc = j->range
				 ? origin_get_range(j->origin, &req, j->off, &b)
				 : origin_get(j->origin, &req, &b);
			sha256_buffer(b.data, b.len, &d);
			size = b.len;
		}
		j->received += req.received;
		if (rc) {
			j->rc = rc;
			snprintf(j->why, sizeof(j->why), "%s", req.why);
			break;
		}
		if (i == 0) {
			j->digest = d;
			j->size = size;
		} else if (!digest_equal(&d, &j->digest) || size != j->size) {
			j->mismatch = true;
			break;
		}
	}
	buf_release(&b);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"retries", required_argument, NULL, 'r'},
	    {"repeat", required_argument, NULL, 'n'},
	    {"threads", required_argument, NULL, 'j'},
	    {"max", required_argument, NULL, 'm'},
	    {"exact", required_argument, NULL, 'e'},
	    {"ca", required_argument, NULL, 'c'},
	    {"fd", no_argument, NULL, 'f'},
	    {"stats", no_argument, NULL, 's'},
	    {"debug", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	struct origin_options opt = {0};
	struct job jobs[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	struct job proto = {.repeat = 1, .max = 1ull << 30};
	uint64_t v, threads = 1;
	bool stats = false, debug = false;
	uint64_t received = 0;
	struct timespec t0, t1;
	char hex[DIGEST_HEX_LEN + 1];
	int c, npos, rc = 0, status = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'f' || c == 's' || c == 'd') {
			if (c == 'f')
				proto.to_fd = true;
			else if (c == 's')
				stats = true;
			else
				debug = true;
			continue;
		}
		if (c == 'c') {
			opt.ca_file = optarg;
			continue;
		}
		if (c == '?' || parse_u64(optarg, &v) != 0) {
			usage();
			return 2;
		}
		if (c == 't')
			opt.timeout_sec = (unsigned)v;
		else if (c == 'r')
			opt.retries = (unsigned)v;
		else if (c == 'n')
			proto.repeat = (unsigned long)v;
		else if (c == 'j')
			threads = v;
		else if (c == 'm')
			proto.max = v;
		else if (c == 'e') {
			proto.max = v;
			proto.flags = ORIGIN_EXACT;
		}
	}
	npos = argc - optind;
	if ((npos != 2 && npos != 4) || threads < 1 || threads > MAX_THREADS ||
	    proto.repeat < 1 || (npos == 4 && proto.to_fd)) {
		usage();
		return 2;
	}
	opt.url = argv[optind];
	proto.rel = argv[optind + 1];
	if (npos == 4) {
		proto.range = true;
		if (parse_u64(argv[optind + 2], &proto.off) != 0 ||
		    parse_u64(argv[optind + 3], &proto.len) != 0 ||
		    proto.len > SIZE_MAX) {
			usage();
			return 2;
		}
	}

	log_init("origin_fetch", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
		 false);
	rc = origin_new(&opt, &proto.origin);
	if (rc) {
		printf("%s\n", errno_name(-rc));
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < threads; i++) {
		jobs[i] = proto;
		if (pthread_create(&tids[i], NULL, run_job, &jobs[i]) != 0) {
			fprintf(stderr, "origin_fetch: cannot start thread\n");
			threads = i;
			rc = -EAGAIN;
			break;
		}
	}
	for (uint64_t i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "elapsed_ms %lld\n",
		(long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);

	if (stats) {
		struct origin_stats st;

		origin_stats_get(proto.origin, &st);
		fprintf(stderr,
			"stats requests=%" PRIu64 " bytes=%" PRIu64
			" retries=%" PRIu64 " timeouts=%" PRIu64
			" http_errors=%" PRIu64 " other_errors=%" PRIu64 "\n",
			st.requests, st.bytes, st.retries, st.timeouts,
			st.http_errors, st.other_errors);
	}

	for (uint64_t i = 0; i < threads; i++)
		received += jobs[i].received;
	fprintf(stderr, "received %" PRIu64 "\n", received);
	for (uint64_t i = 0; i < threads && !rc; i++) {
		if (jobs[i].rc) {
			rc = jobs[i].rc;
			fprintf(stderr, "why %s\n", jobs[i].why);
		} else if (jobs[i].mismatch ||
			   !digest_equal(&jobs[i].digest, &jobs[0].digest) ||
			   jobs[i].size != jobs[0].size)
			rc = -EBADMSG;
	}
	if (rc == -EBADMSG) {
		printf("MISMATCH\n");
	} else if (rc) {
		printf("%s\n", errno_name(-rc));
	} else {
		digest_to_hex(&jobs[0].digest, hex);
		printf("%s %" PRIu64 "\n", hex, jobs[0].size);
		status = 0;
	}
	origin_free(proto.origin);
	return status;
}

/*
 * A minimal unit test harness: non-fatal checks that report file:line and
 * count failures, fatal REQUIREs for setup steps, a fixed-seed PRNG,
 * guard-page buffers that turn an over-read into a reported failure, and
 * temporary directories.
 *
 * Every helper is static inline so each test program uses only what it
 * needs without unused-function warnings.
 */
#ifndef AIDATA_UNIT_H
#define AIDATA_UNIT_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

static int unit_failures __attribute__((unused));
static int unit_stderr_fd __attribute__((unused)) = -1; /* while quiet */

/* Where check failures go: the real stderr even while quiet. */
static inline int unit_fd(void)
{
	return unit_stderr_fd >= 0 ? unit_stderr_fd : STDERR_FILENO;
}

#define UNIT_FAIL(...)                                                         \
	do {                                                                   \
		dprintf(unit_fd(), "%s:%d: ", __FILE__, __LINE__);             \
		dprintf(unit_fd(), __VA_ARGS__);                               \
		dprintf(unit_fd(), "\n");                                      \
		unit_failures++;                                               \
	} while (0)

/* Non-fatal: report and go on. Each evaluates its arguments once. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			UNIT_FAIL("check failed: %s", #cond);                  \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long unit_g_ = (long long)(got);                          \
		long long unit_w_ = (long long)(want);                         \
		if (unit_g_ != unit_w_)                                        \
			UNIT_FAIL("%s is %lld, expected %s (%lld)", #got,      \
				  unit_g_, #want, unit_w_);                    \
	} while (0)

#define CHECK_U64(got, want)                                                   \
	do {                                                                   \
		uint64_t unit_g_ = (uint64_t)(got);                            \
		uint64_t unit_w_ = (uint64_t)(want);                           \
		if (unit_g_ != unit_w_)                                        \
			UNIT_FAIL("%s is %" PRIu64 ", expected %s (%" PRIu64   \
				  ")",                                         \
				  #got, unit_g_, #want, unit_w_);              \
	} while (0)

/* An errno-style result: 0 or a negative errno. */
#define CHECK_RC(got, want)                                                    \
	do {                                                                   \
		int unit_g_ = (got);                                           \
		int unit_w_ = (want);                                          \
		if (unit_g_ != unit_w_)                                        \
			UNIT_FAIL("%s returned %d (%s), expected %d (%s)",     \
				  #got, unit_g_, strerror(-unit_g_), unit_w_,  \
				  strerror(-unit_w_));                         \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *unit_g_ = (got);                                   \
		const char *unit_w_ = (want);                                  \
		if (!unit_g_ || !unit_w_ || strcmp(unit_g_, unit_w_) != 0)     \
			UNIT_FAIL("%s is \"%s\", expected \"%s\"", #got,       \
				  unit_g_ ? unit_g_ : "(null)",                \
				  unit_w_ ? unit_w_ : "(null)");               \
	} while (0)

#define CHECK_MEM(got, want, n)                                                \
	do {                                                                   \
		if (memcmp((got), (want), (n)) != 0)                           \
			UNIT_FAIL("%s differs from %s over %zu bytes", #got,   \
				  #want, (size_t)(n));                         \
	} while (0)

/* Fatal: for setup steps the rest of the program depends on. */
#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			UNIT_FAIL("requirement failed: %s", #cond);            \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define REQUIRE_RC(got, want)                                                  \
	do {                                                                   \
		int unit_before_ = unit_failures;                              \
		CHECK_RC(got, want);                                           \
		if (unit_failures != unit_before_)                             \
			exit(1);                                               \
	} while (0)

static inline double unit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one test function and say how it went. */
#define RUN(fn)                                                                \
	do {                                                                   \
		int unit_before_ = unit_failures;                              \
		double unit_start_ = unit_now();                               \
		fn();                                                          \
		dprintf(unit_fd(), "%s %s (%.2fs)\n",                          \
			unit_failures == unit_before_ ? "ok  " : "FAIL", #fn,  \
			unit_now() - unit_start_);                             \
	} while (0)

static inline int unit_result(void)
{
	if (unit_failures)
		dprintf(unit_fd(), "%d check(s) failed\n", unit_failures);
	return unit_failures ? 1 : 0;
}

/*
 * Send the library's own log lines (expected errors in negative tests) to
 * /dev/null while check failures still reach stderr. UNIT_VERBOSE=1 in
 * the environment keeps them.
 */
static inline void unit_quiet(bool on)
{
	if (getenv("UNIT_VERBOSE"))
		return;
	fflush(stderr);
	if (on && unit_stderr_fd < 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		unit_stderr_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (null >= 0 && unit_stderr_fd >= 0)
			dup2(null, STDERR_FILENO);
		if (null >= 0)
			close(null);
	} else if (!on && unit_stderr_fd >= 0) {
		dup2(unit_stderr_fd, STDERR_FILENO);
		close(unit_stderr_fd);
		unit_stderr_fd = -1;
	}
}

/* xorshift64*: a fixed-seed PRNG so every run sees the same bytes. */
static inline uint64_t unit_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline void unit_rand_fill(uint64_t *state, void *p, size_t n)
{
	uint8_t *c = p;

	for (size_t i = 0; i < n; i++)
		c[i] = (uint8_t)(unit_rand(state) >> 56);
}

/*
 * Guarded buffers: n bytes placed so that they end exactly where an
 * inaccessible page begins. Reading past the end faults;
 * unit_guarded_call turns that fault into a result instead of a crash
 * (the call is abandoned, so what it allocated may leak).
 */
#define UNIT_GUARD_MAX (1024 * 1024)

static uint8_t *unit_guard_area __attribute__((unused));
static size_t unit_guard_size __attribute__((unused));
static sigjmp_buf unit_guard_jmp __attribute__((unused));
static volatile sig_atomic_t unit_guard_armed __attribute__((unused));

static inline void unit_guard_fault(int sig)
{
	if (unit_guard_armed)
		siglongjmp(unit_guard_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Copy n bytes (n <= UNIT_GUARD_MAX) in front of a guard page. */
static inline void *unit_guarded(const void *p, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!unit_guard_area) {
		struct sigaction sa;

		unit_guard_size = UNIT_GUARD_MAX + (size_t)page;
		unit_guard_area = mmap(NULL, unit_guard_size + (size_t)page,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (unit_guard_area == MAP_FAILED ||
		    mprotect(unit_guard_area + unit_guard_size, (size_t)page,
			     PROT_NONE) != 0) {
			dprintf(unit_fd(), "unit.h: cannot map guard pages\n");
			exit(1);
		}
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = unit_guard_fault;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_NODEFER;
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	if (n > UNIT_GUARD_MAX) {
		dprintf(unit_fd(), "unit.h: guarded buffer too large\n");
		exit(1);
	}
	if (n)
		memcpy(unit_guard_area + unit_guard_size - n, p, n);
	return unit_guard_area + unit_guard_size - n;
}

static void (*unit_guard_fn)(void *) __attribute__((unused));
static void *unit_guard_arg __attribute__((unused));

/*
 * Call fn(arg); true if it faulted (and was abandoned). The state lives
 * in statics, so nothing in a register is live across the sigsetjmp.
 */
static __attribute__((noinline, unused)) bool
unit_guarded_call(void (*fn)(void *), void *arg)
{
	unit_guard_fn = fn;
	unit_guard_arg = arg;
	if (sigsetjmp(unit_guard_jmp, 1) != 0) {
		unit_guard_armed = 0;
		return true;
	}
	unit_guard_armed = 1;
	unit_guard_fn(unit_guard_arg);
	unit_guard_armed = 0;
	return false;
}

/* What a guarded decode helper returns when the decoder faulted. */
#define UNIT_FAULT_RC INT_MIN

/* A new empty directory under $TMPDIR or /tmp; free with unit_rmtree. */
static inline char *unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/aidata-unit-XXXXXX", base) < 0)
		exit(1);
	if (!mkdtemp(path)) {
		dprintf(unit_fd(), "mkdtemp under %s: %s\n", base,
			strerror(errno));
		exit(1);
	}
	return path;
}

static inline void unit_rmtree(char *path)
{
	if (path && fs_remove_tree(path) != 0)
		dprintf(unit_fd(), "warning: cannot remove %s\n", path);
	free(path);
}

/* "dir/name" as a new string. */
static inline char *unit_path(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		exit(1);
	return path;
}

#endif

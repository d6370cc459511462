#!/bin/sh
# The second quick-start command, and what CI runs: install, build with
# warnings as errors, run every test; then build with ASan+UBSan and run
# the unit tests there.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
meson test -C build --print-errorlogs --num-processes 2
# Object stores (a real Ceph RADOS Gateway on loopback), outside the
# default run: tests/integration/meson.build, suite 's3'.
meson test -C build --print-errorlogs --num-processes 2 --setup s3 --suite s3
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dintegration=false >/dev/null
fi
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --suite unit
# The daemon's io_uring rings cannot run under valgrind
# (test_mount_valgrind), so test_mount_ring runs again with the
# ASan+UBSan aidatafs: a report ends the daemon with an error, which
# fails the test. (aidata stays the plain build: test_prefetch runs it
# under a ulimit -v that ASan's shadow memory does not fit.) 77: a
# kernel without FUSE over io_uring (skipped, as in the suite above).
rc=0
BUILDDIR=$PWD/build-asan AIDATA=$PWD/build/tools/aidata \
	AIDATAFS=$PWD/build-asan/fs/aidatafs \
	XDG_CACHE_HOME=$PWD/build-asan/xdg-cache \
	ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	bash tests/integration/test_mount_ring.sh || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit "$rc"

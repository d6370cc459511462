#!/bin/bash
# The soak suite: the whole integration suite, SOAK_RUNS times (default 3),
# while stress-ng loads every CPU, the disk and memory. Every run must
# pass: a test that fails only when the machine is busy depends on timing
# and is a bug. Prints one line per run and the count of clean runs.
#
#   meson test -C build --setup soak --suite soak
#
# Environment: BUILDDIR (set by meson), SOAK_RUNS, SOAK_TIMEOUT_MULTIPLIER
# (default 5), SOAK_HOG (stress-ng
# arguments, default: a CPU hog per core, one I/O and one disk writer,
# one 256 MiB memory thrasher).
set -euo pipefail
: "${BUILDDIR:?BUILDDIR must name the build tree}"
RUNS=${SOAK_RUNS:-3}
# meson's per-test timeouts guard against hangs, not slowness: under the
# hog (and whatever else the machine runs) a test may take several times
# its idle duration (test_mount_views: 74 s idle, 445 s at load 30)
TMULT=${SOAK_TIMEOUT_MULTIPLIER:-5}
HOG=${SOAK_HOG:-"--cpu 0 --io 1 --hdd 1 --hdd-bytes 256M --vm 1 --vm-bytes 256M"}
command -v stress-ng >/dev/null ||
	{ echo "FAIL: stress-ng is not installed (scripts/install-deps.sh)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/aidata-soak.XXXXXX")
hog=
finish() {
	local rc=$?
	[ -n "$hog" ] && kill "$hog" 2>/dev/null && wait "$hog" 2>/dev/null
	rm -rf "$WORK"
	exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM INT HUP

# shellcheck disable=SC2086
(cd "$WORK" && exec stress-ng $HOG --timeout 0 --quiet) &
hog=$!
sleep 1
kill -0 "$hog" 2>/dev/null || { echo "FAIL: stress-ng did not start" >&2; exit 1; }

clean=0
for ((i = 1; i <= RUNS; i++)); do
	start=$(date +%s)
	if meson test -C "$BUILDDIR" --suite integration --num-processes 2 \
		--timeout-multiplier "$TMULT" \
		--logbase "soak-$i" --print-errorlogs >"$WORK/run-$i.log" 2>&1; then
		clean=$((clean + 1))
		result=ok
	else
		result=FAILED
		grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' "$WORK/run-$i.log" >&2 || true
		cp "$WORK/run-$i.log" "$BUILDDIR/meson-logs/soak-$i.console.log"
	fi
	echo "soak run $i of $RUNS under load: $result ($(($(date +%s) - start)) s;" \
		"load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "soak: $clean of $RUNS runs clean under load"
[ "$clean" -eq "$RUNS" ]

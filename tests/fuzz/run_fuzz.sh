#!/bin/sh
# Run every fuzz target under libFuzzer for RUNS executions each (default
# 10,000,000) with ASan+UBSan, starting from its seed corpus. Not part of
# `meson test`: it takes minutes per target. Prints, per target, the
# executions done and whether it crashed; exits 1 on the first crash
# (the crashing input is left in WORK/crashes/).
#
# usage: tests/fuzz/run_fuzz.sh [RUNS] [TARGET...]
#   WORK (default /var/tmp/aidata-fuzz) holds the build and the corpora.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-10000000}
[ $# -gt 0 ] && shift
TARGETS=${*:-"manifest records chunk token sealed token_claims sealed_signed datasets"}
WORK=${WORK:-/var/tmp/aidata-fuzz}
BUILD=$WORK/build
mkdir -p "$WORK/crashes"
if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" -Dintegration=false -Db_lundef=false \
		-Db_sanitize=address,undefined \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
ninja -C "$BUILD" >/dev/null
for t in $TARGETS; do
	exe=$BUILD/tests/fuzz/fuzz_$t
	[ -x "$exe" ] || { echo "no fuzz target '$t'"; exit 2; }
	corpus=$WORK/corpus-$t
	mkdir -p "$corpus"
	log=$WORK/$t.log
	start=$(date +%s)
	if ! "$exe" -runs="$RUNS" -artifact_prefix="$WORK/crashes/$t-" \
		-print_final_stats=1 "$corpus" "tests/fuzz/corpus/$t" \
		>"$log" 2>&1; then
		tail -40 "$log"
		echo "fuzz_$t: CRASH (see $log and $WORK/crashes/)"
		exit 1
	fi
	done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	echo "fuzz_$t: $done_runs executions, $cov, no crash," \
		"$(($(date +%s) - start)) s"
done

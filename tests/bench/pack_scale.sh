#!/bin/bash
# Pack at scale: 1,000,000 small files and 10 GiB in total, in bounded
# memory. Prints the time, throughput and peak RSS of `aidata pack` and of
# a re-pack of the unchanged tree, and how many files the re-pack did not
# read (its summary's "skipped" line; "n/a" from an aidata without one).
# Needs ~25 GiB of free disk under WORK.
#
# usage: tests/bench/pack_scale.sh [WORK] [SMALL_FILES] [BIG_FILES]
# AIDATA=path/to/aidata compares another build (e.g. an older commit's).
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
AIDATA=${AIDATA:-$SRCDIR/build/tools/aidata}
WORK=${1:-/var/tmp/aidata-pack-scale}
SMALL=${2:-1000000}
BIG=${3:-9}
mkdir -p "$WORK"
if [ ! -f "$WORK/src/datasets.json" ]; then
	echo "generating $SMALL small files and $BIG x 1 GiB in $WORK/src ..."
	python3 "$SRCDIR/tests/bench/gen_tree.py" "$WORK/src" --small "$SMALL" \
		--big-files "$BIG" --big-size $((1 << 30))
fi
[ -f "$WORK/keys/platform.key" ] || "$AIDATA" keygen --out "$WORK/keys" >/dev/null
# the pack state (default location) lives with the benchmark, not in ~
export XDG_CACHE_HOME=$WORK/xdg-cache
rm -rf "$WORK/repo" "$XDG_CACHE_HOME"
files=$(find "$WORK/src/bench" -type f | wc -l)
bytes=$(du -sb --apparent-size "$WORK/src/bench" | cut -f1)
echo "aidata: $AIDATA"
echo "source: $files files, $bytes bytes"
for run in first re-pack; do
	/usr/bin/time -f "%e %M" -o "$WORK/time.txt" \
		"$AIDATA" pack "$WORK/src" --datasets "$WORK/src/datasets.json" \
		--key "$WORK/keys/platform.key" --out "$WORK/repo" \
		>"$WORK/summary.txt" 2>"$WORK/stderr.txt" ||
		{ cat "$WORK/stderr.txt" >&2; exit 1; }
	read -r secs kb <"$WORK/time.txt"
	skipped=$(sed -n 's/^  skipped *\([0-9]*\) files.*/\1/p' "$WORK/summary.txt")
	printf '%-8s pack: %8.1f s  peak RSS %6.1f MiB  %7.1f MiB/s  %s files not re-read\n' \
		"$run" "$secs" "$(echo "$kb / 1024" | bc -l)" \
		"$(echo "$bytes / 1048576 / $secs" | bc -l)" "${skipped:-n/a}"
done
"$AIDATA" verify "$WORK/repo" --pubkey "$WORK/keys/platform.pub" | tail -1

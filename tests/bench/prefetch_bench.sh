#!/bin/bash
# What `aidata prefetch` buys a job. One generated dataset, "epoch":
#   SMALL small text files (64..2047 bytes, default 5,000) and BIG
#   incompressible files of BIG_SIZE (default 4 x 128 MiB),
# packed once, served by nginx on 127.0.0.1 (optionally throttled per
# connection with --rate, as an object store limits each stream), and
# mounted with a fresh cache for every measurement. Prints:
#   - the first epoch (open, read to the end and close every file once,
#     sorted, one process; tests/bench/bench_read.py) on a cold mount,
#     against the same epoch after `aidata prefetch --jobs J` of the
#     dataset (page cache dropped before each epoch), with the prefetch
#     time and prefetch + epoch;
#   - prefetch throughput (MB/s of file bytes) of one big file and of the
#     whole dataset, against a cold sequential read of that big file
#     (bench_read.py seq, 1 MiB blocks, the mount's readahead working).
# Each figure is the median of RUNS runs (default 3); every value is
# listed under the table. MB is 10^6 bytes. The epoch after a prefetch
# must not fetch anything from the origin (checked: cache misses stay
# 0), and every epoch's bytes and digest must be the source's.
#
# usage: tests/bench/prefetch_bench.sh [WORK] [--runs R] [--jobs J]
#            [--rate RATE] [--small N] [--big K] [--big-size BYTES]
#
# RATE is nginx's limit_rate per connection (e.g. 25m: 25 MB/s per
# stream); default: none. Needs root (mount, drop_caches: it drops the
# whole machine's page cache), /dev/fuse, nginx. WORK (default
# /var/tmp/aidata-prefetch-bench) keeps the source and repository between
# runs; the results also go to WORK/results.md.
set -euo pipefail
export LC_ALL=C

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
AIDATA=${AIDATA:-$BUILDDIR/tools/aidata}
AIDATAFS=${AIDATAFS:-$BUILDDIR/fs/aidatafs}
BENCH=$SRCDIR/tests/bench

WORK=/var/tmp/aidata-prefetch-bench
RUNS=3 JOBS=8 RATE= SMALL=5000 BIG=4 BIG_SIZE=$((128 << 20))
usage() {
	sed -n 's/^# usage: /usage: /p; s/^#            \[/            [/p' "$0"
	exit "${1:-2}"
}
while (($#)); do
	case $1 in
	--runs) RUNS=${2:?}; shift 2 ;;
	--jobs) JOBS=${2:?}; shift 2 ;;
	--rate) RATE=${2:?}; shift 2 ;;
	--small) SMALL=${2:?}; shift 2 ;;
	--big) BIG=${2:?}; shift 2 ;;
	--big-size) BIG_SIZE=${2:?}; shift 2 ;;
	-h | --help) usage 0 ;;
	-*) echo "prefetch_bench.sh: unknown option $1" >&2; usage ;;
	*) WORK=$1; shift ;;
	esac
done
for v in RUNS JOBS SMALL BIG BIG_SIZE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "prefetch_bench.sh: $v wants a positive number" >&2; exit 2; }
done

say() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'prefetch_bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (mounting, drop_caches)"
[ -c /dev/fuse ] || die "/dev/fuse is missing"
[ -x "$AIDATA" ] && [ -x "$AIDATAFS" ] || die "build first (AIDATA, AIDATAFS)"
PY=$(python3 -S -c 'import sys; print(sys.executable)')
py() { "$PY" -S "$@"; }
bench_read() { py "$BENCH/bench_read.py" "$@"; }
# shellcheck source=tests/integration/nginx.sh
. "$SRCDIR/tests/integration/nginx.sh"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TAG=s$SMALL-b$BIG-$BIG_SIZE
SRC=$WORK/src-$TAG
REPO=$WORK/repo-$TAG
KEYS=$WORK/keys
RUN=$WORK/run
MNT=$RUN/mnt
FS_PID=

mounted() {
	awk -v m="$MNT" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}
cleanup() {
	local rc=$? n
	set +e
	if mounted; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	if [ -n "$FS_PID" ]; then
		for ((n = 100; n > 0; n--)); do
			kill -0 "$FS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$FS_PID" 2>/dev/null
		wait "$FS_PID" 2>/dev/null
	fi
	nginx_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
fmt() { awk -v d="$1" -v v="$2" 'BEGIN { printf "%.*f", d, v }'; }
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fs_stat() { awk -v k="$1" '$1 == k { print $2 }' "$MNT/.aidata/stats"; }
timed() {
	local t0=$EPOCHREALTIME
	"$@" >"$RUN/timed.out" 2>&1 || { cat "$RUN/timed.out" >&2; die "failed: $*"; }
	TIMED_SECS=$(calc "$EPOCHREALTIME - $t0")
}

make_src() {
	[ -d "$SRC" ] && return 0
	say "generating $SRC ($SMALL small files, $BIG x $BIG_SIZE bytes)"
	rm -rf "$SRC.tmp"
	py "$BENCH/gen_tree.py" "$SRC.tmp" --dataset epoch --small "$SMALL" \
		--dirs 50 --big-files "$BIG" --big-size "$BIG_SIZE"
	py - "$SRC.tmp/datasets.json" <<'EOF'
import json, sys
json.dump({"datasets": [{"name": "epoch", "industry": "science",
    "modality": "text", "tier": "open", "license": "CC0-1.0",
    "description": "a training set read once per epoch"}]},
    open(sys.argv[1], "w"), indent=1)
EOF
	mv "$SRC.tmp" "$SRC"
}

make_repo() {
	[ -f "$KEYS/platform.key" ] || "$AIDATA" keygen --out "$KEYS" >/dev/null
	[ -f "$REPO/manifest" ] && return 0
	say "packing $SRC"
	rm -rf "$REPO"
	"$AIDATA" pack "$SRC" --datasets "$SRC/datasets.json" \
		--key "$KEYS/platform.key" --out "$REPO" --quiet
}

# mount_fs: a new mount of the nginx origin with an empty cache
mount_fs() {
	local n
	rm -rf "$RUN/cache" "$RUN/state"
	mkdir -p "$MNT"
	"$AIDATAFS" "$NGINX_URL/" "$MNT" -f \
		-o "pubkey=$KEYS/platform.pub,cache=$RUN/cache,cache_size=16G" \
		-o "audit_log=$RUN/audit.log,state=$RUN/state" \
		>"$RUN/aidatafs.log" 2>&1 &
	FS_PID=$!
	for ((n = 600; n > 0; n--)); do
		kill -0 "$FS_PID" 2>/dev/null || { cat "$RUN/aidatafs.log" >&2; die "aidatafs exited"; }
		mountpoint -q "$MNT" && stat "$MNT/.aidata/revision" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "aidatafs did not get ready"
}
umount_fs() {
	local n
	fusermount3 -u "$MNT"
	for ((n = 300; n > 0; n--)); do
		kill -0 "$FS_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$FS_PID" || die "aidatafs exited with an error (log: $RUN/aidatafs.log)"
	FS_PID=
}

# epoch: read every file once (sets EPOCH_SECS); bytes and digest must
# be the source's
epoch() {
	local files bytes secs digest
	read -r files bytes secs digest < <(bench_read small "$MNT/datasets/epoch" "$WORK/list-$TAG") ||
		die "the epoch failed"
	[ "$files $bytes $digest" = "$EPOCH_REF" ] ||
		die "epoch read '$files $bytes $digest', the source is '$EPOCH_REF'"
	EPOCH_SECS=$secs
}

declare -A R=()
add() { R[$1]="${R[$1]:-} $2"; }

# ---------------------------------------------------------------- main --
make_src
make_repo
rm -rf "$RUN"
mkdir -p "$RUN"
bench_read list "$SRC/epoch" "$WORK/list-$TAG" >/dev/null
read -r nfiles EPOCH_BYTES _ digest < <(bench_read small "$SRC/epoch" "$WORK/list-$TAG")
EPOCH_REF="$nfiles $EPOCH_BYTES $digest"
BIG_FILE=big/big0.bin
extra=
[ -n "$RATE" ] && extra="limit_rate $RATE;"
nginx_start "$REPO" "$extra"
say "origin $NGINX_URL${RATE:+ (limit_rate $RATE per connection)}, $EPOCH_BYTES bytes in $(wc -l <"$WORK/list-$TAG") files, jobs $JOBS, runs $RUNS"

for ((run = 1; run <= RUNS; run++)); do
	say "run $run: cold epoch"
	mount_fs
	drop_caches
	epoch
	add cold_epoch "$EPOCH_SECS"
	umount_fs

	say "run $run: prefetch, then the epoch"
	mount_fs
	drop_caches
	timed "$AIDATA" prefetch --mount "$MNT" --jobs "$JOBS" --quiet datasets/epoch
	add prefetch_all "$TIMED_SECS"
	drop_caches
	misses=$(fs_stat aidatafs_cache_misses_total)
	epoch
	[ "$(fs_stat aidatafs_cache_misses_total)" = "$misses" ] ||
		die "the epoch after a prefetch fetched from the origin"
	add warm_epoch "$EPOCH_SECS"
	umount_fs

	say "run $run: one big file: prefetch, cold sequential read"
	mount_fs
	drop_caches
	timed "$AIDATA" prefetch --mount "$MNT" --jobs "$JOBS" --quiet "datasets/epoch/$BIG_FILE"
	add prefetch_big "$TIMED_SECS"
	umount_fs
	mount_fs
	drop_caches
	read -r bytes secs < <(bench_read seq "$MNT/datasets/epoch/$BIG_FILE") || die "seq read failed"
	[ "$bytes" -eq "$BIG_SIZE" ] || die "read $bytes bytes of $BIG_FILE"
	add cold_seq "$secs"
	umount_fs
done

m() { median ${R[$1]}; }
mbs() { calc "$1 / 1e6 / $2"; }
cold=$(m cold_epoch) warm=$(m warm_epoch) pf=$(m prefetch_all)
pfbig=$(m prefetch_big) seq=$(m cold_seq)
{
	echo "## aidata prefetch: $(wc -l <"$WORK/list-$TAG") files, $(fmt 1 "$(calc "$EPOCH_BYTES / 1e6")") MB; origin nginx on 127.0.0.1${RATE:+, limit_rate $RATE per connection}; --jobs $JOBS; median of $RUNS"
	echo
	echo "| measurement | seconds | MB/s |"
	echo "| --- | ---: | ---: |"
	echo "| first epoch, cold cache | $(fmt 2 "$cold") | $(fmt 1 "$(mbs "$EPOCH_BYTES" "$cold")") |"
	echo "| prefetch of the dataset | $(fmt 2 "$pf") | $(fmt 1 "$(mbs "$EPOCH_BYTES" "$pf")") |"
	echo "| first epoch after the prefetch | $(fmt 2 "$warm") | $(fmt 1 "$(mbs "$EPOCH_BYTES" "$warm")") |"
	echo "| prefetch + epoch | $(fmt 2 "$(calc "$pf + $warm")") | |"
	echo "| prefetch of one $((BIG_SIZE >> 20)) MiB file | $(fmt 2 "$pfbig") | $(fmt 1 "$(mbs "$BIG_SIZE" "$pfbig")") |"
	echo "| cold sequential read of that file | $(fmt 2 "$seq") | $(fmt 1 "$(mbs "$BIG_SIZE" "$seq")") |"
	echo
	echo "first epoch: $(fmt 2 "$(calc "$cold / $warm")")x faster after a prefetch;" \
		"prefetch of one file: $(fmt 2 "$(calc "$seq / $pfbig")")x a cold sequential read"
	echo
	for k in cold_epoch prefetch_all warm_epoch prefetch_big cold_seq; do
		echo "- $k (s):${R[$k]}"
	done
} | tee "$WORK/results.md"

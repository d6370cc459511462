#!/bin/bash
# The read path of aidatafs against a native read of the same bytes from
# local disk. A generated platform of three datasets,
#   seq      one 1 GiB incompressible file
#   small    10,000 small text files (64..2047 bytes, 100 directories)
#   catalog  N small files over 1000 directories (default 1,000,000)
# is packed once, served by nginx on 127.0.0.1 and mounted with a fresh
# cache. Prints, for aidatafs and for the source tree on local disk:
#   - sequential MB/s of the 1 GiB file: cold (empty aidatafs cache,
#     page cache dropped), warm (in the aidatafs cache, page cache
#     dropped) and hot (page cache);
#   - small files/s over the 10,000 files (open, read, close each, sorted,
#     one process), cold (a new mount with an empty cache) and warm
#     (cache populated), page cache dropped;
#   - the time of `find DIR | wc -l` over the N-file catalog, page cache
#     dropped (aidatafs: its catalog already fetched by one `ls`; that
#     first touch is printed too), and again hot;
#   - random 4 KiB preads (RAND_N, default 1000, at seeded 4 KiB-aligned
#     offsets of the 1 GiB file): cold (empty cache) and warm (cache
#     populated, page cache dropped), ops/s and p99 latency; and with
#     O_DIRECT, each read a request to the daemon with its chunk files
#     in the page cache, against native preads from the page cache;
#   - the daemon's CPU seconds (utime + stime) per GiB read, cold and warm
#     sequential;
#   - the daemon's peak RSS (VmHWM, the max over all mounts);
#   - for information, the warm sequential read again with the mount's
#     read-ahead (/sys/class/bdi/MAJ:MIN/read_ahead_kb) raised from the
#     kernel's FUSE default of 128 KiB to 1 MiB;
# then one Markdown table, aidatafs and native side by side with their
# ratios and the targets of the read-path issues (warm sequential >= 0.8 x
# native, random 4 KiB warm >= 0.8 x native and cold p99 <= 2 ms, find
# <= 2 x native, peak RSS <= 64 MiB). The targets are informational: the exit status is 0 unless
# something failed (a mount, a read, a wrong byte count or digest).
#
# Each figure is the median of RUNS runs (default 3); every run uses two
# new mounts with an empty cache (one for the sequential figures, one for
# the small files and find). The values of every run are listed under
# the table: on a shared VM they spread widely.
#
# MB is 10^6 bytes. The page cache is dropped (sync; drop_caches) before
# every native read and every cold or warm read through the mount; only
# the hot reads follow a read without a drop. Native reads go to WORK/src-N
# on the same filesystem as the aidatafs cache (WORK/run/cache), and the
# sequential and random ones also to a copy of the 1 GiB file written in
# the same run (WORK/run/native-seq.bin, "native, fresh copy"): on a VM
# the host may still cache recently written blocks, which the aidatafs
# cache files are, so reading them can beat reading an old file of the
# same disk. Ratios for warm reads are against the fresh copy. Reads are
# single-process: python3 in 1 MiB blocks (tests/bench/bench_read.py).
#
# usage: tests/bench/mount_bench.sh [WORK] [--files N] [--runs R]
#
# Needs root (mount, drop_caches: it drops the whole machine's page
# cache), /dev/fuse, nginx. The source tree (WORK/common, WORK/src-N),
# keys (WORK/keys) and repository (WORK/repo-N) are made once and reused;
# WORK/run is redone on each run. Disk: about N x 5 KiB + 4 GiB. The
# figures are also saved to WORK/results-N.md.
#
# Environment: AIDATA, AIDATAFS (binaries; default BUILDDIR=build),
# CATALOG_FROM (an existing gen_tree.py `small/` tree of exactly N files
# over 1000 directories to hard-link as the catalog instead of
# generating it; default: the one of tests/bench/pack_scale.sh when N is
# 1,000,000 and it is complete. It is only read, never modified).
set -euo pipefail
export LC_ALL=C

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
AIDATA=${AIDATA:-$BUILDDIR/tools/aidata}
AIDATAFS=${AIDATAFS:-$BUILDDIR/fs/aidatafs}
BENCH=$SRCDIR/tests/bench

WORK=/var/tmp/aidata-mount-bench
N=1000000
RUNS=3
RAND_N=${RAND_N:-1000}
RAND_SEED=9
usage() {
	sed -n 's/^# usage: /usage: /p' "$0"
	exit "${1:-2}"
}
while (($#)); do
	case $1 in
	--files) N=${2:?--files needs a number}; shift 2 ;;
	--files=*) N=${1#--files=}; shift ;;
	--runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
	--runs=*) RUNS=${1#--runs=}; shift ;;
	-h | --help) usage 0 ;;
	-*) echo "mount_bench.sh: unknown option $1" >&2; usage ;;
	*) WORK=$1; shift ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "mount_bench.sh: --files wants a positive number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "mount_bench.sh: --runs wants a positive number" >&2; exit 2; }

SEQ_SIZE=$((1 << 30))
SMALL_FILES=10000
SMALL_DIRS=100
CATALOG_DIRS=1000
PACK_SCALE_TREE=/var/tmp/aidata-pack-scale/src/bench/small
if [[ -z ${CATALOG_FROM+x} && $N == 1000000 ]]; then
	CATALOG_FROM=$PACK_SCALE_TREE
fi
CATALOG_FROM=${CATALOG_FROM:-}

# target figures of the issue
TARGET_WARM_SEQ=0.8  # warm sequential >= 0.8 x native
TARGET_FIND=2        # find time <= 2 x native
TARGET_RSS_MIB=64    # daemon peak RSS <= 64 MiB (issue 9)
TARGET_RAND_P99=2    # random 4 KiB cold p99 <= 2 ms
TARGET_RAND_WARM=0.8 # random 4 KiB warm >= 0.8 x native
RA_KB=1024           # read-ahead of the extra warm sequential row

say() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'mount_bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (mounting, drop_caches)"
[ -c /dev/fuse ] || die "/dev/fuse is missing"
[ -x "$AIDATA" ] || die "AIDATA=$AIDATA is not an executable (build first)"
[ -x "$AIDATAFS" ] || die "AIDATAFS=$AIDATAFS is not an executable (build first)"
[ -x /usr/bin/time ] || die "/usr/bin/time is not installed (package time)"
for tool in python3 fusermount3 mountpoint sha256sum timeout find; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
# the real interpreter without site-packages (a pyenv shim costs seconds)
PY=$(python3 -S -c 'import sys; print(sys.executable)')
py() { "$PY" -S "$@"; }
bench_read() { py "$BENCH/bench_read.py" "$@"; }

# shellcheck source=tests/integration/nginx.sh
. "$SRCDIR/tests/integration/nginx.sh"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
COMMON=$WORK/common    # seq/ and small/, shared by every N
SRC=$WORK/src-$N       # the three datasets (hard links to COMMON)
REPO=$WORK/repo-$N
KEYS=$WORK/keys
RUN=$WORK/run          # cache, mount point, logs of this run
MNT=$RUN/mnt
FS_PID=
SAMPLER_PID=
RESULTS=$WORK/results-$N.md

# ------------------------------------------------------------ cleanup --

mounted() {
	awk -v m="$MNT" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

cleanup() {
	local rc=$? n
	set +e
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
	if mounted; then
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null ||
			umount -l "$MNT" 2>/dev/null
	fi
	if [ -n "$FS_PID" ]; then
		for ((n = 100; n > 0; n--)); do
			kill -0 "$FS_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$FS_PID" 2>/dev/null; then
			kill -TERM "$FS_PID" 2>/dev/null
			sleep 1
			kill -KILL "$FS_PID" 2>/dev/null
		fi
		wait "$FS_PID" 2>/dev/null
		FS_PID=
	fi
	nginx_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ------------------------------------------------------------ helpers --

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# calc EXPR: floating point arithmetic (awk), e.g. calc "2 * 3.5"
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
# fmt DIGITS VALUE
fmt() { awk -v d="$1" -v v="$2" 'BEGIN { printf "%.*f", d, v }'; }

free_gib() { df -P -B1G "$1" | awk 'NR == 2 { print $4 }'; }

# seq_read FILE: sets SEQ_MBS; the byte count must be the file's size
seq_read() {
	local bytes secs
	read -r bytes secs < <(bench_read seq "$1") || die "cannot read $1"
	[ "$bytes" -eq "$SEQ_SIZE" ] ||
		die "read $bytes bytes from $1, expected $SEQ_SIZE"
	SEQ_MBS=$(calc "$bytes / 1e6 / $secs")
}

# small_read ROOT: sets SMALL_FPS; count, bytes and digest must be the
# native ones (SMALL_REF, set by the first, native, call)
small_read() {
	local files bytes secs digest
	read -r files bytes secs digest < <(bench_read small "$1" "$WORK/small.list") ||
		die "cannot read the small files under $1"
	if [ -z "${SMALL_REF:-}" ]; then
		SMALL_REF="$files $bytes $digest"
	elif [ "$files $bytes $digest" != "$SMALL_REF" ]; then
		die "small files under $1: got '$files $bytes $digest', native '$SMALL_REF'"
	fi
	[ "$files" -eq "$SMALL_FILES" ] || die "read $files small files, expected $SMALL_FILES"
	SMALL_FPS=$(calc "$files / $secs")
}

# rand_read FILE: sets RAND_OPS and RAND_P99 (ms); the digest of the
# bytes read must be the native one (RAND_REF, set by the first call)
rand_read() {
	local ops secs p99 digest
	read -r ops secs p99 digest < <(bench_read "${RAND_MODE:-rand}" "$1" "$RAND_N" "$RAND_SEED") ||
		die "cannot read $1 at random"
	if [ -z "${RAND_REF:-}" ]; then
		RAND_REF=$digest
	elif [ "$digest" != "$RAND_REF" ]; then
		die "random reads of $1 gave other bytes than the native file"
	fi
	RAND_OPS=$(calc "$ops / $secs")
	RAND_P99=$p99
}

# cpu_secs PID: the process's CPU time so far (utime + stime), seconds
cpu_secs() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# find_count DIR: sets FIND_SECS and FIND_COUNT
find_count() {
	local t0 t1
	t0=$EPOCHREALTIME
	FIND_COUNT=$(find "$1" | wc -l)
	t1=$EPOCHREALTIME
	FIND_SECS=$(calc "$t1 - $t0")
}

# timed CMD...: run CMD (output discarded), set TIMED_SECS
timed() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >/dev/null
	t1=$EPOCHREALTIME
	TIMED_SECS=$(calc "$t1 - $t0")
}

# median VALUES...
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# last KEY: the latest value of measurement KEY
last() { echo "${R[$1]##* }"; }

majflt() { awk '{ print $12 }' "/proc/$1/stat"; }

status_kib() { # PID FIELD: a /proc/PID/status value in KiB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# fs_stat METRIC: a counter of MNT/.aidata/stats
fs_stat() {
	awk -v k="$1" '$1 == k { print $2 }' "$MNT/.aidata/stats"
}

# ------------------------------------------------------------ sources --

# The shared datasets: seq (1 GiB) and small (10,000 files).
make_common() {
	[ -d "$COMMON" ] && return 0
	say "generating $COMMON (1 GiB file, $SMALL_FILES small files)"
	rm -rf "$COMMON.tmp"
	py "$BENCH/gen_tree.py" "$COMMON.tmp" --dataset seq \
		--big-files 1 --big-size "$SEQ_SIZE"
	py "$BENCH/gen_tree.py" "$COMMON.tmp" --dataset small \
		--small "$SMALL_FILES" --dirs "$SMALL_DIRS"
	rm -f "$COMMON.tmp/datasets.json"
	sha256sum <"$COMMON.tmp/seq/big/big0.bin" | cut -c1-64 >"$COMMON.tmp/seq.sha256"
	mv "$COMMON.tmp" "$COMMON"
}

# Is $1 a complete gen_tree.py small/ tree of N files over CATALOG_DIRS
# directories? (Checks the first and last names and the count.)
catalog_tree_ok() {
	local dir=$1 per last count
	per=$(((N + CATALOG_DIRS - 1) / CATALOG_DIRS))
	last=$(printf 'd%04d/f%07d.txt' $(((N - 1) / per)) $((N - 1)))
	[ -f "$dir/d0000/f0000000.txt" ] && [ -f "$dir/$last" ] || return 1
	[ ! -e "$dir/$(printf 'd%04d/f%07d.txt' $((N / per)) "$N")" ] || return 1
	count=$(find "$dir" -type f | wc -l)
	[ "$count" -eq "$N" ]
}

make_src() {
	[ -d "$SRC" ] && return 0
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	cp -al "$COMMON/seq" "$COMMON/small" "$SRC.tmp/"
	if [ -n "$CATALOG_FROM" ] && catalog_tree_ok "$CATALOG_FROM"; then
		say "hard-linking the $N-file catalog from $CATALOG_FROM"
		mkdir -p "$SRC.tmp/catalog"
		cp -al "$CATALOG_FROM" "$SRC.tmp/catalog/small"
		catalog_tree_ok "$SRC.tmp/catalog/small" ||
			die "the hard-linked catalog in $SRC.tmp is incomplete"
	else
		say "generating the $N-file catalog (about 8 min per million)"
		py "$BENCH/gen_tree.py" "$SRC.tmp" --dataset catalog \
			--small "$N" --dirs "$CATALOG_DIRS"
	fi
	py - "$SRC.tmp/datasets.json" <<'EOF'
import json, sys
ds = [
    ("seq", "one 1 GiB incompressible file"),
    ("small", "10,000 small text files"),
    ("catalog", "many small text files, for tree walks"),
]
json.dump({"datasets": [{
    "name": n, "industry": "science", "modality": "text", "tier": "open",
    "license": "CC0-1.0", "description": d} for n, d in ds]},
    open(sys.argv[1], "w"), indent=1)
EOF
	mv "$SRC.tmp" "$SRC"
}

make_repo() {
	local secs kb
	if [ ! -f "$KEYS/platform.key" ]; then
		rm -rf "$KEYS" "$WORK"/repo-*
		"$AIDATA" keygen --out "$KEYS" >/dev/null
	fi
	[ -f "$REPO/manifest" ] && return 0
	say "packing $SRC into $REPO"
	rm -rf "$REPO"
	/usr/bin/time -f "%e %M" -o "$WORK/pack-time-$N.txt" \
		"$AIDATA" pack "$SRC" --datasets "$SRC/datasets.json" \
		--key "$KEYS/platform.key" --out "$REPO" --quiet
	read -r secs kb <"$WORK/pack-time-$N.txt"
	say "packed in ${secs} s, pack peak RSS $((kb / 1024)) MiB"
}

# ------------------------------------------------------------- mounts --

# rss_sampler PID OUT: every 0.2 s, the largest RssAnon and RssFile (KiB)
# seen so far in /proc/PID/status, written to OUT as "ANON FILE"; VmHWM
# does not say which kind of page made the peak
rss_sampler() {
	local pid=$1 out=$2 k v a f anon=0 file=0
	while kill -0 "$pid" 2>/dev/null; do
		a=0 f=0
		while read -r k v _; do
			case $k in
			RssAnon:) a=$v ;;
			RssFile:) f=$v ;;
			esac
		done <"/proc/$pid/status" || break
		if ((a > anon || f > file)); then
			((a > anon)) && anon=$a
			((f > file)) && file=$f
			echo "$anon $file" >"$out"
		fi
		sleep 0.2
	done
}

# mount_fs: mount the nginx origin at MNT with an empty cache; sets FS_PID
mount_fs() {
	local n
	rm -rf "$RUN/cache" "$RUN/state"
	mkdir -p "$MNT"
	MOUNTS=$((${MOUNTS:-0} + 1))
	"$AIDATAFS" "$NGINX_URL/" "$MNT" -f \
		-o "pubkey=$KEYS/platform.pub,cache=$RUN/cache,cache_size=16G" \
		-o "audit_log=$RUN/audit.log,state=$RUN/state" \
		>"$RUN/aidatafs-$MOUNTS.log" 2>&1 &
	FS_PID=$!
	for ((n = 600; n > 0; n--)); do
		kill -0 "$FS_PID" 2>/dev/null || {
			cat "$RUN/aidatafs-$MOUNTS.log" >&2
			die "aidatafs exited before the mount was ready"
		}
		if mountpoint -q "$MNT" &&
			timeout -s KILL 10 stat "$MNT/.aidata/revision" >/dev/null 2>&1; then
			echo "0 0" >"$RUN/rss-$MOUNTS.txt"
			rss_sampler "$FS_PID" "$RUN/rss-$MOUNTS.txt" 2>/dev/null &
			SAMPLER_PID=$!
			return 0
		fi
		sleep 0.1
	done
	die "aidatafs did not get ready within 60 s (log: $RUN/aidatafs-$MOUNTS.log)"
}

# umount_fs: record the daemon's VmHWM (PEAK_KIB = max over mounts), the
# stats file (RUN/stats-M.txt) and unmount; the daemon must exit 0
umount_fs() {
	local hwm rc=0 n anon file
	hwm=$(status_kib "$FS_PID" VmHWM)
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=
	read -r anon file <"$RUN/rss-$MOUNTS.txt"
	say "mount $MOUNTS: peak RSS $((hwm / 1024)) MiB (sampled peaks: anon $((anon / 1024)) MiB, file-backed $((file / 1024)) MiB)"
	HWM[MOUNTS]=$hwm
	((anon > PEAK_ANON)) && PEAK_ANON=$anon
	((file > PEAK_FILE)) && PEAK_FILE=$file
	((hwm > PEAK_KIB)) && PEAK_KIB=$hwm
	cp "$MNT/.aidata/stats" "$RUN/stats-$MOUNTS.txt"
	fusermount3 -u "$MNT"
	for ((n = 300; n > 0; n--)); do
		kill -0 "$FS_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$FS_PID" || rc=$?
	FS_PID=
	[ "$rc" -eq 0 ] || die "aidatafs exited with $rc after unmount (log: $RUN/aidatafs-$MOUNTS.log)"
}

# catalog_mib: size of the largest unpacked catalog in the last cache
catalog_mib() {
	find "$RUN/cache" -name '*.mdb' -printf '%s\n' 2>/dev/null |
		sort -n | tail -1 | awk '{ printf "%d", $1 / 1048576 }'
}

# stats_line M: the origin traffic of mount M, for the details section
stats_line() {
	awk '$1 ~ /^aidatafs_(origin_requests|bytes_fetched|prefetches|cache_hits|cache_misses)_total$/ {
		sub(/^aidatafs_/, "", $1); sub(/_total$/, "", $1); printf "%s %s, ", $1, $2 }' \
		"$RUN/stats-$1.txt" | sed 's/, $//'
}

# ---------------------------------------------------------------- main --

avail=$(free_gib "$WORK")
say "WORK=$WORK N=$N runs=$RUNS, ${avail} GiB free"
need=$((4 + N * 5 / 1048576))
[ -d "$SRC" ] && [ -f "$REPO/manifest" ] && need=2
((avail >= need)) || die "need about $need GiB free in $WORK, have $avail"

make_common
make_src
make_repo
seq_file=seq/big/big0.bin
seq_sha=$(cat "$COMMON/seq.sha256")
if [ ! -f "$WORK/small.list" ] ||
	[ "$(wc -l <"$WORK/small.list")" -ne "$SMALL_FILES" ]; then
	bench_read list "$SRC/small" "$WORK/small.list" >/dev/null
fi
cat_dirs=$(find "$SRC/catalog" -mindepth 2 -maxdepth 2 -type d | wc -l)
expect=$((N + cat_dirs + 2)) # files, dirs, catalog/ and catalog/small/

rm -rf "$RUN"
mkdir -p "$RUN"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
nginx_start "$REPO"
say "nginx serves $REPO at $NGINX_URL"
declare -A R=() # measurement -> its values, one per run
declare -a HWM=()
PEAK_KIB=0
PEAK_ANON=0
PEAK_FILE=0
add() { R[$1]="${R[$1]:-} $2"; }

FRESH=$RUN/native-seq.bin
gib=$(calc "$SEQ_SIZE / 1073741824")
for ((run = 1; run <= RUNS; run++)); do
	# --- sequential: a mount with an empty cache
	mount_fs
	# a copy written now, as the aidatafs cache files will be
	rm -f "$FRESH"
	cp "$SRC/$seq_file" "$FRESH"
	drop_caches
	seq_read "$SRC/$seq_file"; add seq_cold_native "$SEQ_MBS"
	seq_read "$SRC/$seq_file"; add seq_hot_native "$SEQ_MBS"
	drop_caches
	seq_read "$FRESH"; add seq_fresh_native "$SEQ_MBS"
	drop_caches
	rand_read "$FRESH"; add rand_native "$RAND_OPS"; add rand_p99_native "$RAND_P99"
	rand_read "$FRESH"; add rand_hot_native "$RAND_OPS"
	say "run $run/$RUNS sequential native: cold $(fmt 0 "$(last seq_cold_native)"), fresh copy $(fmt 0 "$(last seq_fresh_native)"), hot $(fmt 0 "$(last seq_hot_native)") MB/s; random 4 KiB $(fmt 0 "$RAND_OPS") ops/s (p99 $RAND_P99 ms)"
	drop_caches
	cpu0=$(cpu_secs "$FS_PID")
	seq_read "$MNT/datasets/$seq_file"; add seq_cold_fs "$SEQ_MBS"
	add cpu_cold_fs "$(calc "($(cpu_secs "$FS_PID") - $cpu0) / $gib")"
	[ "$run" = 1 ] && cp "$MNT/.aidata/stats" "$RUN/stats-seq-cold.txt"
	drop_caches
	reqs0=$(fs_stat aidatafs_reads_total)
	cpu0=$(cpu_secs "$FS_PID")
	seq_read "$MNT/datasets/$seq_file"; add seq_warm_fs "$SEQ_MBS"
	add cpu_warm_fs "$(calc "($(cpu_secs "$FS_PID") - $cpu0) / $gib")"
	warm_reqs=$(($(fs_stat aidatafs_reads_total) - reqs0))
	seq_read "$MNT/datasets/$seq_file"; add seq_hot_fs "$SEQ_MBS"
	say "run $run/$RUNS sequential aidatafs: cold $(fmt 0 "$(last seq_cold_fs)") ($(last cpu_cold_fs) CPU s/GiB), warm $(fmt 0 "$(last seq_warm_fs)") ($warm_reqs read requests, $(last cpu_warm_fs) CPU s/GiB), hot $(fmt 0 "$SEQ_MBS") MB/s"
	if [ "$run" = 1 ]; then
		got=$(sha256sum <"$MNT/datasets/$seq_file" | cut -c1-64)
		[ "$got" = "$seq_sha" ] ||
			die "sha256 of $seq_file through the mount is $got, expected $seq_sha"
	fi
	# the same warm read with the mount's read-ahead raised from the
	# kernel's default for FUSE (128 KiB): an experiment, not a target
	bdi=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
	RA_DEFAULT_KB=$(cat "/sys/class/bdi/$bdi/read_ahead_kb")
	echo "$RA_KB" >"/sys/class/bdi/$bdi/read_ahead_kb"
	drop_caches
	reqs0=$(fs_stat aidatafs_reads_total)
	seq_read "$MNT/datasets/$seq_file"; add seq_warm_ra_fs "$SEQ_MBS"
	warm_ra_reqs=$(($(fs_stat aidatafs_reads_total) - reqs0))
	say "run $run/$RUNS sequential aidatafs: warm with read_ahead_kb=$RA_KB $(fmt 0 "$SEQ_MBS") MB/s ($warm_ra_reqs read requests)"
	umount_fs

	# --- random 4 KiB, small files and find: a new mount, empty cache again
	mount_fs
	drop_caches
	rand_read "$MNT/datasets/$seq_file"; add rand_cold_fs "$RAND_OPS"; add rand_p99_cold_fs "$RAND_P99"
	drop_caches
	rand_read "$MNT/datasets/$seq_file"; add rand_warm_fs "$RAND_OPS"; add rand_p99_warm_fs "$RAND_P99"
	# O_DIRECT: every read a request to the daemon, whose chunk files
	# the previous reads left in the page cache: the cost of a request
	RAND_MODE=rand-direct rand_read "$MNT/datasets/$seq_file"
	RAND_MODE=rand-direct rand_read "$MNT/datasets/$seq_file"; add rand_direct_fs "$RAND_OPS"
	say "run $run/$RUNS random 4 KiB ops/s: aidatafs cold $(fmt 0 "$(last rand_cold_fs)") (p99 $(last rand_p99_cold_fs) ms), warm $(fmt 0 "$RAND_OPS") (p99 $RAND_P99 ms)"
	drop_caches
	small_read "$SRC/small"; add small_native "$SMALL_FPS"
	drop_caches
	small_read "$MNT/datasets/small"; add small_cold_fs "$SMALL_FPS"
	drop_caches
	small_read "$MNT/datasets/small"; add small_warm_fs "$SMALL_FPS"
	say "run $run/$RUNS small files/s: native $(fmt 0 "$(last small_native)"), aidatafs cold $(fmt 0 "$(last small_cold_fs)"), warm $(fmt 0 "$SMALL_FPS")"

	drop_caches
	find_count "$SRC/catalog"; add find_native "$FIND_SECS"
	[ "$FIND_COUNT" -eq "$expect" ] ||
		die "find over the source catalog counted $FIND_COUNT, expected $expect"
	find_count "$SRC/catalog"; add find_hot_native "$FIND_SECS"
	drop_caches
	timed ls "$MNT/datasets/catalog"; add catalog_first_touch "$TIMED_SECS"
	drop_caches
	flt0=$(majflt "$FS_PID")
	find_count "$MNT/datasets/catalog"; add find_fs "$FIND_SECS"
	[ "$FIND_COUNT" -eq "$expect" ] ||
		die "find over the mounted catalog counted $FIND_COUNT, expected $expect"
	find_faults=$(($(majflt "$FS_PID") - flt0))
	find_count "$MNT/datasets/catalog"; add find_hot_fs "$FIND_SECS"
	say "run $run/$RUNS find over $FIND_COUNT entries: native $(fmt 2 "$(last find_native)") s (hot $(fmt 2 "$(last find_hot_native)")), aidatafs first touch $(fmt 2 "$TIMED_SECS") s, find $(fmt 2 "$(last find_fs)") s ($find_faults major faults in the daemon; hot $(fmt 2 "$FIND_SECS"))"
	umount_fs
done

# ------------------------------------------------------------- report --

ratio() { calc "$1 / $2"; }
mark() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi; }
declare -A M=()
for k in "${!R[@]}"; do
	# shellcheck disable=SC2086 # the values are words
	M[$k]=$(median ${R[$k]})
done
r_warm=$(ratio "${M[seq_warm_fs]}" "${M[seq_fresh_native]}")
r_find=$(ratio "${M[find_fs]}" "${M[find_native]}")
peak_mib=$(calc "$PEAK_KIB / 1024")
seq_stats=$(awk '$1 ~ /^aidatafs_(origin_requests|bytes_fetched|prefetches|cache_misses)_total$/ {
	sub(/^aidatafs_/, "", $1); sub(/_total$/, "", $1); printf "%s %s, ", $1, $2 }' \
	"$RUN/stats-seq-cold.txt" | sed 's/, $//')
pack_line=
[ -f "$WORK/pack-time-$N.txt" ] && pack_line=$(awk '{ printf "%s s, peak RSS %d MiB", $1, $2 / 1024 }' "$WORK/pack-time-$N.txt")

row() { # LABEL FS NATIVE RATIO TARGET RESULT
	printf '| %s | %s | %s | %s | %s | %s |\n' "$@"
}
# line KEY DIGITS: one measurement's values over the runs
values() {
	local v out=
	for v in ${R[$1]}; do
		out="$out${out:+, }$(fmt "$2" "$v")"
	done
	echo "$out"
}
{
	echo "## aidatafs read path: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "aidatafs $("$AIDATAFS" --version | sed 's/^aidatafs //'), git $(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo '?')$([ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$SRCDIR" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo '+dirty'), kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, origin nginx on 127.0.0.1 (HTTP, sendfile), cache and native tree on $(df -P "$WORK" | awk 'NR == 2 { print $1 }'); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo
	echo "Catalog: $N files over $cat_dirs directories; small files: $SMALL_FILES over $SMALL_DIRS directories; sequential: one 1 GiB file. Median of $RUNS runs, each with fresh mounts and an empty cache. MB = 10^6 bytes; ratio = aidatafs / native (for times, > 1 is slower)."
	echo
	row "measurement" "aidatafs" "native" "ratio" "target" "result"
	row "---" "---:" "---:" "---:" "---" "---"
	row "cold sequential MB/s (empty cache, page cache dropped)" \
		"$(fmt 0 "${M[seq_cold_fs]}")" "$(fmt 0 "${M[seq_cold_native]}")" \
		"$(fmt 2 "$(ratio "${M[seq_cold_fs]}" "${M[seq_cold_native]}")")" "" ""
	row "warm sequential MB/s (aidatafs cache, page cache dropped; native: fresh copy)" \
		"$(fmt 0 "${M[seq_warm_fs]}")" "$(fmt 0 "${M[seq_fresh_native]}")" \
		"$(fmt 2 "$r_warm")" "≥ $TARGET_WARM_SEQ × native" \
		"$(mark "$r_warm >= $TARGET_WARM_SEQ")"
	row "hot sequential MB/s (page cache)" \
		"$(fmt 0 "${M[seq_hot_fs]}")" "$(fmt 0 "${M[seq_hot_native]}")" \
		"$(fmt 2 "$(ratio "${M[seq_hot_fs]}" "${M[seq_hot_native]}")")" "" ""
	row "random 4 KiB cold ops/s (empty cache; native: fresh copy, page cache dropped)" \
		"$(fmt 0 "${M[rand_cold_fs]}")" "$(fmt 0 "${M[rand_native]}")" \
		"$(fmt 2 "$(ratio "${M[rand_cold_fs]}" "${M[rand_native]}")")" "" ""
	row "random 4 KiB cold p99 ms" \
		"$(fmt 2 "${M[rand_p99_cold_fs]}")" "$(fmt 2 "${M[rand_p99_native]}")" \
		"$(fmt 2 "$(ratio "${M[rand_p99_cold_fs]}" "${M[rand_p99_native]}")")" "≤ $TARGET_RAND_P99 ms" \
		"$(mark "${M[rand_p99_cold_fs]} <= $TARGET_RAND_P99")"
	r_rand=$(ratio "${M[rand_warm_fs]}" "${M[rand_native]}")
	row "random 4 KiB warm ops/s (aidatafs cache, page cache dropped; native: fresh copy)" \
		"$(fmt 0 "${M[rand_warm_fs]}")" "$(fmt 0 "${M[rand_native]}")" \
		"$(fmt 2 "$r_rand")" "≥ $TARGET_RAND_WARM × native" \
		"$(mark "$r_rand >= $TARGET_RAND_WARM")"
	row "*more:* random 4 KiB O_DIRECT ops/s (each read a request, chunk files hot; native: page cache)" \
		"$(fmt 0 "${M[rand_direct_fs]}")" "$(fmt 0 "${M[rand_hot_native]}")" \
		"$(fmt 2 "$(ratio "${M[rand_direct_fs]}" "${M[rand_hot_native]}")")" "" ""
	row "daemon CPU s per GiB read, cold / warm sequential" \
		"$(fmt 2 "${M[cpu_cold_fs]}") / $(fmt 2 "${M[cpu_warm_fs]}")" "—" "—" "" ""
	row "cold small files/s (empty cache, page cache dropped)" \
		"$(fmt 0 "${M[small_cold_fs]}")" "$(fmt 0 "${M[small_native]}")" \
		"$(fmt 2 "$(ratio "${M[small_cold_fs]}" "${M[small_native]}")")" "" ""
	row "warm small files/s (aidatafs cache, page cache dropped)" \
		"$(fmt 0 "${M[small_warm_fs]}")" "$(fmt 0 "${M[small_native]}")" \
		"$(fmt 2 "$(ratio "${M[small_warm_fs]}" "${M[small_native]}")")" "" ""
	row "\`find | wc -l\` s over $expect entries (page cache dropped)" \
		"$(fmt 2 "${M[find_fs]}")" "$(fmt 2 "${M[find_native]}")" \
		"$(fmt 2 "$r_find")" "≤ $TARGET_FIND × native" \
		"$(mark "$r_find <= $TARGET_FIND")"
	row "daemon peak RSS MiB (VmHWM, max of ${#HWM[@]} mounts)" \
		"$(fmt 1 "$peak_mib")" "—" "—" "≤ $TARGET_RSS_MIB MiB" \
		"$(mark "$peak_mib <= $TARGET_RSS_MIB")"
	row "*more:* first touch of the catalog dataset s (\`ls\`: fetch, verify, unpack the catalog)" \
		"$(fmt 2 "${M[catalog_first_touch]}")" "—" "—" "" ""
	row "*more:* \`find | wc -l\` s, hot (dentries cached)" \
		"$(fmt 2 "${M[find_hot_fs]}")" "$(fmt 2 "${M[find_hot_native]}")" \
		"$(fmt 2 "$(ratio "${M[find_hot_fs]}" "${M[find_hot_native]}")")" "" ""
	row "*more:* cold sequential MB/s native, source tree (old file)" \
		"—" "$(fmt 0 "${M[seq_cold_native]}")" "—" "" ""
	row "*more:* warm sequential MB/s, mount read_ahead_kb $RA_KB (default $RA_DEFAULT_KB)" \
		"$(fmt 0 "${M[seq_warm_ra_fs]}")" "$(fmt 0 "${M[seq_cold_native]}")" \
		"$(fmt 2 "$(ratio "${M[seq_warm_ra_fs]}" "${M[seq_cold_native]}")")" "" ""
	echo
	echo "Checks: \`find\` printed $expect lines through the mount and natively ($N files + $cat_dirs directories + catalog/ + catalog/small/); the 1 GiB file read back with the source's sha256 (${seq_sha:0:16}…); the small files' bytes matched the source in every run."
	echo
	echo "Every run (MB/s, files/s or s):"
	echo
	echo "- cold sequential: aidatafs $(values seq_cold_fs 0); native $(values seq_cold_native 0); native fresh copy $(values seq_fresh_native 0)"
	echo "- random 4 KiB ops/s: aidatafs cold $(values rand_cold_fs 0) (p99 ms $(values rand_p99_cold_fs 2)), warm $(values rand_warm_fs 0) (p99 ms $(values rand_p99_warm_fs 2)), O_DIRECT $(values rand_direct_fs 0); native hot $(values rand_hot_native 0); native $(values rand_native 0) (p99 ms $(values rand_p99_native 2))"
	echo "- daemon CPU s per GiB: cold $(values cpu_cold_fs 2), warm $(values cpu_warm_fs 2)"
	echo "- warm sequential: aidatafs $(values seq_warm_fs 0) ($warm_reqs FUSE reads per GiB); read_ahead_kb $RA_KB: $(values seq_warm_ra_fs 0) ($warm_ra_reqs reads)"
	echo "- hot sequential: aidatafs $(values seq_hot_fs 0); native $(values seq_hot_native 0)"
	echo "- small files: aidatafs cold $(values small_cold_fs 0), warm $(values small_warm_fs 0); native $(values small_native 0)"
	echo "- find: aidatafs $(values find_fs 2) (last run: $find_faults major page faults in the daemon); native $(values find_native 2); hot: aidatafs $(values find_hot_fs 2), native $(values find_hot_native 2)"
	echo "- catalog first touch: $(values catalog_first_touch 2)"
	echo "- daemon peak RSS MiB per mount (sequential, small + find, ...): $(for m in "${!HWM[@]}"; do printf '%d ' $((HWM[m] / 1024)); done)"
	echo "- daemon RSS by kind, largest seen sampling every 0.2 s over all mounts: anonymous $((PEAK_ANON / 1024)) MiB, file-backed (shared libraries + mmapped catalogs) $((PEAK_FILE / 1024)) MiB; uncompressed catalog of the $N-file dataset: $(catalog_mib) MiB"
	echo
	echo "Cold sequential origin traffic (run 1): $seq_stats. Last small-files + find mount: $(stats_line "$MOUNTS")."
	echo "Repository: $(du -sh "$REPO" | cut -f1) in $REPO, catalog objects $(du -ch "$REPO"/catalog/* | tail -1 | cut -f1)${pack_line:+; pack: $pack_line}."
} | tee "$RESULTS"
say "saved to $RESULTS"

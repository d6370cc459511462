#!/bin/bash
# `ls -l` and `ls -lR` over one directory of N files (default 50,000),
# natively and through aidatafs, without and with -o readdirplus.
#
# A flat dataset (gen_tree.py: N small text files in one directory) is
# packed once, served by nginx on 127.0.0.1 and mounted. For each run and
# each mode (default, -o readdirplus) a new mount with an empty cache:
#   first    `ls -l DIR` right after the dataset's catalog was fetched
#            (`stat DIR`), page cache dropped: every entry looked up;
#   again    the same `ls -l` at once (attributes and entries cached by
#            the kernel for the mount's timeouts);
#   lsR      `ls -lR` of the dataset, page cache dropped.
# Native: the same commands over the source tree, page cache dropped
# before `first` and `lsR`. Also counted (strace -c, untimed): the xattr
# system calls of one more `ls -l`, each a FUSE round trip (the kernel
# caches no xattr answer of a FUSE filesystem).
#
# usage: tests/bench/ls_bench.sh [WORK] [--files N] [--runs R]
#
# Prints every run and a Markdown table of the medians. Needs root
# (drop_caches, mount), /dev/fuse, nginx. Environment: AIDATA, AIDATAFS
# (binaries; default BUILDDIR=build). The exit status is 0 unless
# something failed; nothing is judged against a target.
set -euo pipefail
export LC_ALL=C

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
AIDATA=${AIDATA:-$BUILDDIR/tools/aidata}
AIDATAFS=${AIDATAFS:-$BUILDDIR/fs/aidatafs}

WORK=/var/tmp/aidata-ls-bench
N=50000
RUNS=3
while (($#)); do
	case $1 in
	--files) N=${2:?}; shift 2 ;;
	--runs) RUNS=${2:?}; shift 2 ;;
	-h | --help) sed -n 's/^# usage: /usage: /p' "$0"; exit 0 ;;
	-*) echo "ls_bench.sh: unknown option $1" >&2; exit 2 ;;
	*) WORK=$1; shift ;;
	esac
done

say() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'ls_bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (mounting, drop_caches)"
[ -x "$AIDATAFS" ] || die "AIDATAFS=$AIDATAFS is not an executable"
command -v strace >/dev/null || die "strace is not installed"

# shellcheck source=tests/integration/nginx.sh
. "$SRCDIR/tests/integration/nginx.sh"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SRC=$WORK/src-$N
REPO=$WORK/repo-$N
RUN=$WORK/run
MNT=$RUN/mnt
FS_PID=

mounted() { awk -v m="$MNT" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
umount_fs() {
	[ -n "$FS_PID" ] || return 0
	mounted && fusermount3 -u "$MNT"
	wait "$FS_PID" || true
	FS_PID=
}
cleanup() {
	local rc=$?
	set +e
	mounted && { fusermount3 -u "$MNT" || umount -l "$MNT"; }
	[ -n "$FS_PID" ] && wait "$FS_PID"
	nginx_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# timed CMD...: TIMED (seconds); the output is discarded
timed() {
	local t0=$EPOCHREALTIME
	"$@" >/dev/null
	TIMED=$(calc "$EPOCHREALTIME - $t0")
}
# xattr_calls DIR: the xattr system calls of `ls -l DIR` (strace)
xattr_calls() {
	strace -qq -f -c -e trace=getxattr,lgetxattr,listxattr,llistxattr \
		-o "$RUN/strace.txt" ls -l "$1" >/dev/null
	awk '$NF ~ /xattr$/ && $4 ~ /^[0-9]+$/ { n += $4 } END { print n + 0 }' "$RUN/strace.txt"
}

if [ ! -d "$SRC" ]; then
	say "generating $N files in one directory"
	rm -rf "$SRC.tmp"
	python3 -S "$SRCDIR/tests/bench/gen_tree.py" "$SRC.tmp" --dataset flat \
		--small "$N" --dirs 1 >/dev/null
	mv "$SRC.tmp" "$SRC"
fi
if [ ! -f "$REPO/manifest" ]; then
	[ -f "$WORK/keys/platform.key" ] || "$AIDATA" keygen --out "$WORK/keys" >/dev/null
	say "packing"
	rm -rf "$REPO"
	"$AIDATA" pack "$SRC" --datasets "$SRC/datasets.json" \
		--key "$WORK/keys/platform.key" --out "$REPO" --quiet \
		--state "$WORK/pack-state"
fi
DIR=flat/small/d0000
nginx_start "$REPO"

mount_fs() { # EXTRA_OPTS...
	local n
	rm -rf "$RUN"
	mkdir -p "$MNT"
	"$AIDATAFS" "$NGINX_URL/" "$MNT" -f \
		-o "pubkey=$WORK/keys/platform.pub,cache=$RUN/cache" \
		-o "audit_log=$RUN/audit.log,state=$RUN/state" "$@" \
		>"$RUN/aidatafs.log" 2>&1 &
	FS_PID=$!
	for ((n = 600; n > 0; n--)); do
		kill -0 "$FS_PID" 2>/dev/null || die "aidatafs exited: $(cat "$RUN/aidatafs.log")"
		mountpoint -q "$MNT" && stat "$MNT/.aidata/revision" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "aidatafs did not get ready"
}

declare -A R=()
add() { R[$1]="${R[$1]:-} $2"; }
count=
for ((run = 1; run <= RUNS; run++)); do
	drop_caches
	timed ls -l "$SRC/$DIR"; add native_first "$TIMED"
	timed ls -l "$SRC/$DIR"; add native_again "$TIMED"
	drop_caches
	timed ls -lR "$SRC/flat"; add native_lsR "$TIMED"
	say "run $run native: ls -l ${R[native_first]##* } s, again ${R[native_again]##* } s, ls -lR ${R[native_lsR]##* } s"
	for mode in plain rdplus; do
		if [ $mode = rdplus ]; then mount_fs -o readdirplus; else mount_fs; fi
		stat "$MNT/datasets/$DIR" >/dev/null # the catalog: fetched here
		drop_caches
		timed ls -l "$MNT/datasets/$DIR"; add "${mode}_first" "$TIMED"
		got=$(ls "$MNT/datasets/$DIR" | wc -l)
		[ "$got" -eq "$N" ] || die "ls listed $got entries, expected $N"
		timed ls -l "$MNT/datasets/$DIR"; add "${mode}_again" "$TIMED"
		calls=$(xattr_calls "$MNT/datasets/$DIR")
		umount_fs
		if [ $mode = rdplus ]; then mount_fs -o readdirplus; else mount_fs; fi
		stat "$MNT/datasets/$DIR" >/dev/null
		drop_caches
		timed ls -lR "$MNT/datasets/flat"; add "${mode}_lsR" "$TIMED"
		umount_fs
		say "run $run aidatafs $mode: ls -l ${R[${mode}_first]##* } s ($calls xattr calls per ls -l), again ${R[${mode}_again]##* } s, ls -lR ${R[${mode}_lsR]##* } s"
	done
done

declare -A M=()
for k in "${!R[@]}"; do
	# shellcheck disable=SC2086
	M[$k]=$(median ${R[$k]})
done
f() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }
r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "## ls over $N files in one directory: $(date -u +%Y-%m-%dT%H:%M:%SZ), aidatafs $("$AIDATAFS" --version | sed 's/^aidatafs //'), median of $RUNS runs (s; ratio = / native)"
echo
echo "| | native | aidatafs | ratio | aidatafs -o readdirplus | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
for k in first again lsR; do
	case $k in
	first) label="\`ls -l\` (page cache dropped)" ;;
	again) label="\`ls -l\` again" ;;
	lsR) label="\`ls -lR\` (page cache dropped)" ;;
	esac
	echo "| $label | $(f "${M[native_$k]}") | $(f "${M[plain_$k]}") | $(r "${M[plain_$k]}" "${M[native_$k]}") | $(f "${M[rdplus_$k]}") | $(r "${M[rdplus_$k]}" "${M[native_$k]}") |"
done
echo
for k in native_first native_again native_lsR plain_first plain_again plain_lsR rdplus_first rdplus_again rdplus_lsR; do
	echo "- $k:${R[$k]}"
done

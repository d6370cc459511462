#!/bin/bash
# Two mounts on one node share one cache directory at the same time: the
# same repository twice, and a second repository, all reading in
# parallel; every byte checked, the cache index stays consistent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
# a second, different repository using the same cache
mkdir -p "$T/q/src/other"
head -c $((6 << 20)) /dev/urandom >"$T/q/src/other/blob.bin"
seq 1 200000 >"$T/q/src/other/nums.txt"
mk_dataset_json "$T/q/datasets.json" other:science:text:open
run_ok "$AIDATA" keygen --out "$T/q/keys"
pack_into "$T/q/src" "$T/q/datasets.json" "$T/q/keys/platform.key" "$T/q/repo"

C=$T/cache
mount_start "file://$PLAT_REPO" "$T/m1" "$T/m1.log" \
	"pubkey=$PLAT_PUB,cache=$C,$PLAT_AUTH"
mount_start "file://$PLAT_REPO" "$T/m2" "$T/m2.log" \
	"pubkey=$PLAT_PUB,cache=$C,$PLAT_AUTH"
mount_start "file://$T/q/repo" "$T/m3" "$T/m3.log" \
	"pubkey=$T/q/keys/platform.pub,cache=$C"

step "three mounts on one cache: reading everything in parallel"
pids=()
for m in m1 m2; do
	(cd "$PLAT_SRC" && find . -type f | sort | while read -r f; do
		cmp -s "$f" "$T/$m/datasets/$f" || echo "$m: $f differs"
	done) >"$T/$m.diff" 2>&1 &
	pids+=($!)
done
(cd "$T/q/src" && find . -type f | while read -r f; do
	cmp -s "$f" "$T/m3/datasets/$f" || echo "m3: $f differs"
done) >"$T/m3.diff" 2>&1 &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
for m in m1 m2 m3; do
	[ ! -s "$T/$m.diff" ] || { cat "$T/$m.diff"; fail "$m read wrong bytes"; }
	mount_alive "$T/$m" || fail "daemon of $m died"
done

step "one index for all: chunks counted once, files and index agree"
c1=$(stat_value "$T/m1" aidatafs_chunks_cached)
c3=$(stat_value "$T/m3" aidatafs_chunks_cached)
[ "$c1" = "$c3" ] || fail "mounts disagree on the shared index: $c1 vs $c3"
files=$(find "$C/chunks" -type f | wc -l)
[ "$files" = "$c1" ] || fail "$files chunk files but $c1 in the index"
bytes=$(stat_value "$T/m2" aidatafs_cache_bytes)
disk=$(find "$C/chunks" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
[ "$bytes" = "$disk" ] || fail "index says $bytes bytes, files hold $disk"

step "what one mount fetched, the other serves without the origin"
mount_stop "$T/m2"
mount_stop "$T/m1"
mv "$PLAT_REPO/data" "$PLAT_REPO/data.away"
mount_start "file://$PLAT_REPO" "$T/m1" "$T/m1b.log" \
	"pubkey=$PLAT_PUB,cache=$C,$PLAT_AUTH,retries=0,timeout=2"
(cd "$PLAT_SRC" && find . -type f | sort | while read -r f; do
	cmp -s "$f" "$T/m1/datasets/$f" || echo "$f differs"
done) >"$T/m1b.diff" 2>&1
mv "$PLAT_REPO/data.away" "$PLAT_REPO/data"
[ ! -s "$T/m1b.diff" ] || { cat "$T/m1b.diff"; fail "cached data not served"; }
note "ok"

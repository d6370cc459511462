#!/bin/bash
# Readahead across the files of a directory (fs/ns_file.c): a reader that
# goes through a directory's small files in listing order gets the next
# files' chunks fetched ahead of it; a reader that jumps around does not
# make the mount fetch what it did not ask for.
#  1. shuffled reads of d/ (files far apart): no readahead;
#  2. files of other/ read in order: the rest of other/ is fetched ahead
#     (status shows it wholly cached without anyone reading it), and none
#     of d/ beyond what was read, nor of third/;
#  3. reading all of other/ afterwards fetches nothing more, and every
#     byte is right;
#  4. a cached file read in order (O_DIRECT, so every read reaches the
#     daemon): its next chunks are read from the cache's disk into the
#     page cache ahead of the reader (warm readahead);
#  5. two readers, each going through its own directory in order, their
#     reads interleaved: both directories are read ahead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

# 64 KiB chunks: files of 10 KiB are small files (at most a quarter of a
# chunk), a few to a chunk at most (the packer's grouping, FORMAT.md
# §9.2, decides); 120 such files per directory
for dir in d other third x y; do
	mkdir -p "$T/src/ds/$dir"
	for i in $(seq -w 0 119); do
		random_file "$T/src/ds/$dir/f$i" 10240
	done
done
mkdir -p "$T/src/ds/big"
random_file "$T/src/ds/big/file" $((1 << 20)) # 16 chunks
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
pack_into "$T/src" "$T/datasets.json" "$T/keys/platform.key" "$T/repo" \
	--chunk-size 64K

M=$T/mnt
mount_start "file://$T/repo" "$M" "$T/fs.log" \
	"pubkey=$T/keys/platform.pub,cache=$T/cache"

# cached DIR: bytes of DIR's chunks in the cache (aidata status)
cached() {
	run_ok "$AIDATA" status --mount "$M" --json "datasets/ds/$1"
	py -c 'import json, sys
print(json.load(open(sys.argv[1]))["paths"][0]["cached"])' "$LAST_OUT"
}

# fully_cached DIR: every chunk of DIR is in the cache
fully_cached() {
	run_ok "$AIDATA" status --mount "$M" --json "datasets/ds/$1"
	py -c 'import json, sys
p = json.load(open(sys.argv[1]))["paths"][0]
sys.exit(0 if p["cached"] == p["bytes"] > 0 else 1)' "$LAST_OUT"
}

step "1. shuffled reads: nothing fetched ahead"
for i in 100 007 053 118 021 076; do
	cmp "$T/src/ds/d/f$i" "$M/datasets/ds/d/f$i" || fail "d/f$i wrong"
done
[ "$(stat_value "$M" aidatafs_prefetches_total)" = 0 ] ||
	fail "shuffled reads started readahead"

step "2. in listing order: the rest of the directory is fetched ahead"
for i in 000 001 002 003; do
	cmp "$T/src/ds/other/f$i" "$M/datasets/ds/other/f$i" ||
		fail "other/f$i wrong"
done
# asynchronous: wait for the workers (bounded generously; no timing is
# asserted, only what ends up cached)
wait_for 60 fully_cached other || {
	show "$LAST_OUT" status
	fail "the rest of other/ was not fetched ahead"
}
pf=$(stat_value "$M" aidatafs_prefetches_total)
[ "$pf" -ge 10 ] || fail "only $pf chunks prefetched for 116 files"
# d/: only the six chunks of step 1, and one it may share with other/
d_cached=$(cached d)
[ "$d_cached" -le $((7 * 65536)) ] ||
	fail "d/ has $d_cached bytes cached: readahead fetched files nobody read"
# third/ comes after other/ in the tree, but readahead stays in other/:
# at most the one chunk other/'s last files share with it
t_cached=$(cached third)
[ "$t_cached" -le 65536 ] ||
	fail "third/ has $t_cached bytes cached: readahead left the directory"
note "prefetched $pf chunks; d/ $d_cached bytes, third/ $t_cached bytes cached"

step "3. reading the rest of other/: nothing more fetched, bytes right"
misses=$(stat_value "$M" aidatafs_cache_misses_total)
for f in "$T/src/ds/other/"*; do
	cmp "$f" "$M/datasets/ds/other/${f##*/}" || fail "other/${f##*/} wrong"
done
[ "$(stat_value "$M" aidatafs_cache_misses_total)" = "$misses" ] ||
	fail "reading other/ after its readahead still fetched chunks"

step "4. a cached file read in order: read ahead from the cache's disk"
cmp "$T/src/ds/big/file" "$M/datasets/ds/big/file" || fail "big/file wrong"
wait_for 60 fully_cached big || fail "big/file not cached after a read"
warm0=$(stat_value "$M" aidatafs_warm_readahead_total)
misses=$(stat_value "$M" aidatafs_cache_misses_total)
dd if="$M/datasets/ds/big/file" of="$T/head" iflag=direct bs=64k count=4 \
	status=none || fail "O_DIRECT read of big/file failed"
cmp -n $((256 << 10)) "$T/head" "$T/src/ds/big/file" || fail "big/file head wrong"
warmed() {
	[ "$(stat_value "$M" aidatafs_warm_readahead_total)" -gt "$warm0" ]
}
wait_for 60 warmed || fail "no chunk of the cached file was read ahead"
[ "$(stat_value "$M" aidatafs_cache_misses_total)" = "$misses" ] ||
	fail "the warm read fetched from the origin"
note "warm readahead: $(($(stat_value "$M" aidatafs_warm_readahead_total) - warm0)) chunks"

step "5. two directories read in order, interleaved: both read ahead"
for i in 000 001 002 003; do
	for dir in x y; do
		cmp "$T/src/ds/$dir/f$i" "$M/datasets/ds/$dir/f$i" ||
			fail "$dir/f$i wrong"
	done
done
for dir in x y; do
	wait_for 60 fully_cached "$dir" || {
		show "$LAST_OUT" status
		fail "$dir/ was not read ahead while another directory was read"
	}
done
mount_stop "$M"
note "ok"

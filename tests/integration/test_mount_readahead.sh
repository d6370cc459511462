#!/bin/bash
# Readahead across the files of a directory (fs/ns_file.c): a reader that
# goes through a directory's small files in listing order gets the next
# files' chunks fetched ahead of it; a reader that jumps around does not
# make the mount fetch what it did not ask for.
#  1. shuffled reads of d/ (files far apart): no readahead;
#  2. files of other/ read in order: the next 32 files of other/ get
#     cached without anyone reading them (what the first readahead call
#     queues, whatever the machine's speed), and nothing of d/ beyond
#     what was read, nor of third/;
#  3. reading all of other/ afterwards gives every byte right and fetches
#     no chunk twice;
#  4. a cached file read in order (O_DIRECT, so every read reaches the
#     daemon): its next chunks are read from the cache's disk into the
#     page cache ahead of the reader (warm readahead);
#  5. two readers, each going through its own directory in order, their
#     reads interleaved: files of both directories are cached before they
#     are read (one chunk per file there, so only readahead does that).
# No step times anything: asynchronous work is waited for (bounded) and
# only its outcome is checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

# 64 KiB chunks: files of 10 KiB are small files (at most a quarter of a
# chunk), a few to a chunk at most (the packer's grouping, FORMAT.md
# §9.2, decides); 120 such files per directory
for dir in d other third; do
	mkdir -p "$T/src/ds/$dir"
	for i in $(seq -w 0 119); do
		random_file "$T/src/ds/$dir/f$i" 10240
	done
done
# 40 KiB: more than a quarter of a chunk, so each file is a chunk of its
# own (no neighbour is cached along with it)
for dir in x y; do
	mkdir -p "$T/src/ds/$dir"
	for i in $(seq -w 0 119); do
		random_file "$T/src/ds/$dir/f$i" 40960
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

# all_cached PATH...: every named path (under datasets/ds/) wholly cached
all_cached() {
	run_ok "$AIDATA" status --mount "$M" --json "${@/#/datasets/ds/}"
	py -c 'import json, sys
ps = json.load(open(sys.argv[1]))["paths"]
sys.exit(0 if ps and all(p["cached"] == p["bytes"] > 0 for p in ps) else 1)' "$LAST_OUT"
}

step "1. shuffled reads: nothing fetched ahead"
for i in 100 007 053 118 021 076; do
	cmp "$T/src/ds/d/f$i" "$M/datasets/ds/d/f$i" || fail "d/f$i wrong"
done
[ "$(stat_value "$M" aidatafs_prefetches_total)" = 0 ] ||
	fail "shuffled reads started readahead"

step "2. in listing order: the next files of the directory are fetched ahead"
misses0=$(stat_value "$M" aidatafs_cache_misses_total)
pf0=$(stat_value "$M" aidatafs_prefetches_total)
for i in 000 001 002 003; do
	cmp "$T/src/ds/other/f$i" "$M/datasets/ds/other/f$i" ||
		fail "other/f$i wrong"
done
next=()
for i in $(seq -w 4 35); do next+=("other/f0$i"); done
# asynchronous: wait for the workers (bounded generously; no timing is
# asserted, only what ends up cached)
wait_for 60 all_cached "${next[@]}" || {
	show "$LAST_OUT" status
	fail "the next 32 files of other/ were not fetched ahead"
}
pf=$(($(stat_value "$M" aidatafs_prefetches_total) - pf0))
[ "$pf" -ge 30 ] || fail "only $pf chunks prefetched for 32 files"
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

step "3. reading all of other/: bytes right, no chunk fetched twice"
for f in "$T/src/ds/other/"*; do
	cmp "$f" "$M/datasets/ds/other/${f##*/}" || fail "other/${f##*/} wrong"
done
fully_cached other || fail "other/ not cached after reading it all"
# other/ is at most 120 chunks (one, two or three small files to a
# chunk); readahead and readers share every fetch
fetched=$(($(stat_value "$M" aidatafs_cache_misses_total) - misses0))
[ "$fetched" -le 120 ] ||
	fail "$fetched chunk fetches for other/'s at most 120 chunks"
note "other/: $fetched chunk fetches"

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
# a file found cached before its first read was fetched ahead (its chunk
# holds nothing else); go on until each directory has had 3 such files
ahead_x=0 ahead_y=0
for i in $(seq -w 0 119); do
	if [ "$i" -ge 3 ]; then
		all_cached "x/f$i" && ahead_x=$((ahead_x + 1))
		all_cached "y/f$i" && ahead_y=$((ahead_y + 1))
		[ "$ahead_x" -ge 3 ] && [ "$ahead_y" -ge 3 ] && break
	fi
	for dir in x y; do
		cmp "$T/src/ds/$dir/f$i" "$M/datasets/ds/$dir/f$i" ||
			fail "$dir/f$i wrong"
	done
done
[ "$ahead_x" -ge 3 ] && [ "$ahead_y" -ge 3 ] ||
	fail "files read ahead: x/ $ahead_x, y/ $ahead_y (want 3 each)"
note "read ahead before their read: x/ $ahead_x, y/ $ahead_y files (by f$i)"
mount_stop "$M"
note "ok"

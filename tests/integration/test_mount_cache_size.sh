#!/bin/bash
# cache_size bounds the chunk cache: ~60 MiB of random data in 40 files,
# mounted with cache_size=16M, read in full (bytes checked): the chunk
# files under CACHE/chunks never add up to more than 16 MiB, the stats
# agree (aidatafs_cache_bytes <= 16 MiB, evictions > 0), and reading
# again after evictions still gives the right bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

LIMIT=$((16 << 20))
S=$T/s
step "40 random files, ~60 MiB, 1 MiB chunks"
mkdir -p "$S/src/bulk/a" "$S/src/bulk/b"
total=0
for i in $(seq 1 40); do
	# 0.5 .. 2.5 MiB, not chunk-aligned
	size=$(((512 << 10) + (i * 53 % 41) * 51200 + i * 1000))
	dir=a
	((i % 2)) && dir=b
	random_file "$S/src/bulk/$dir/file$i.bin" "$size"
	total=$((total + size))
done
step "$total bytes of data"
[ "$total" -gt $((50 << 20)) ] || fail "only $total bytes of data"
mk_dataset_json "$S/datasets.json" bulk:science:binary:open
run_ok "$AIDATA" keygen --out "$S/keys"
pack_into "$S/src" "$S/datasets.json" "$S/keys/platform.key" "$S/repo" --chunk-size 1M

CACHE=$T/cache
mount_start "file://$S/repo" "$T/mnt" "$T/fs.log" \
	"pubkey=$S/keys/platform.pub,cache=$CACHE,cache_size=16M"
[ "$(stat_value "$T/mnt" aidatafs_cache_max_bytes)" = "$LIMIT" ] ||
	fail "aidatafs_cache_max_bytes is $(stat_value "$T/mnt" aidatafs_cache_max_bytes), want $LIMIT"

# chunk_bytes: the chunk files' total size, from a listing that did not
# change while it was taken; empty if none settled in 20 tries. find walks
# the directories one after another, so a single listing taken while
# chunks are stored and evicted can count both an evicted file (in a
# directory already walked) and the one that replaced it: a sum no
# instant of the cache ever had.
chunk_listing() { find "$CACHE/chunks" -type f -printf '%P %s\n' | sort; }
chunk_bytes() {
	local a b
	for _ in $(seq 20); do
		a=$(chunk_listing)
		b=$(chunk_listing)
		if [ "$a" = "$b" ]; then
			awk '{ s += $2 } END { print s + 0 }' <<<"$a"
			return 0
		fi
	done
}
# check_bound WHEN: the chunk files (when a listing settles; UNSETTLED
# counts the samples where none did) and the daemon's own count are
# within the bound.
UNSETTLED=0
check_bound() {
	local files stat_bytes
	files=$(chunk_bytes)
	if [ -n "$files" ]; then
		[ "$files" -le "$LIMIT" ] ||
			fail "$1: chunk files under $CACHE/chunks hold $files bytes > $LIMIT"
		MAX_SEEN=$((files > MAX_SEEN ? files : MAX_SEEN))
	else
		UNSETTLED=$((UNSETTLED + 1))
	fi
	stat_bytes=$(stat_value "$T/mnt" aidatafs_cache_bytes)
	[ "$stat_bytes" -le "$LIMIT" ] ||
		fail "$1: aidatafs_cache_bytes is $stat_bytes > $LIMIT"
}
# settled_bound WHEN: as check_bound, once readahead has stopped storing
settled() { [ -n "$(chunk_bytes)" ]; }
settled_bound() {
	wait_for 60 settled ||
		fail "$1: the chunk files never stopped changing"
	check_bound "$1"
}

step "read every file, one at a time, checking the bound after each"
MAX_SEEN=0
(cd "$S/src/bulk" && find . -type f -printf '%P\n' | sort) >"$T/files"
while read -r f; do
	echo "$f" >"$T/one"
	run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets/bulk" "$S/src/bulk" --files "$T/one"
	check_bound "after $f"
done <"$T/files"
step "largest chunk total seen: $MAX_SEEN bytes"
# du -sb counts the directories too; the chunk files alone are the bound
step "du -sb $CACHE/chunks: $(du -sb "$CACHE/chunks" | cut -f1)"
ev=$(stat_value "$T/mnt" aidatafs_cache_evictions_total)
[ "$ev" -gt 0 ] || fail "no evictions after reading $total bytes through a 16M cache"
step "$ev evictions"
[ "$MAX_SEEN" -gt $((8 << 20)) ] ||
	fail "the cache never held more than $MAX_SEEN bytes: is it used at all?"
[ "$(stat_value "$T/mnt" aidatafs_chunks_cached)" = "$(find "$CACHE/chunks" -type f | wc -l)" ] ||
	fail "aidatafs_chunks_cached $(stat_value "$T/mnt" aidatafs_chunks_cached) != $(find "$CACHE/chunks" -type f | wc -l) chunk files"

step "parallel rereads (4 readers) after evictions, sampling the bound meanwhile"
py "$PYHELP/mount_read.py" "$T/mnt/datasets/bulk" "$S/src/bulk" --jobs 4 \
	--drop-cache >"$T/par.out" 2>&1 &
reader=$!
samples=0
while kill -0 "$reader" 2>/dev/null; do
	check_bound "during the parallel reread"
	samples=$((samples + 1))
	sleep 0.05
done
rc=0
wait "$reader" || rc=$?
cat "$T/par.out"
[ "$rc" -eq 0 ] || fail "parallel reread failed"
step "$samples samples of the chunk bytes during the reread ($UNSETTLED of all so far unsettled)"
settled_bound "after the parallel reread"
step "sequential reread"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets/bulk" "$S/src/bulk" --drop-cache
settled_bound "after the sequential reread"
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="verify"}')" = 0 ] ||
	fail "verify errors"
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"
# and the bound holds for a new mount of the same cache
files=$(chunk_bytes)
[ -n "$files" ] && [ "$files" -le "$LIMIT" ] ||
	fail "chunk files hold ${files:-changing} bytes after unmounting"
echo "test_mount_cache_size: ok"

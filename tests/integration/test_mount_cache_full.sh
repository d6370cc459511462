#!/bin/bash
# The cache's filesystem is smaller than cache_size says: a full disk must
# mean eviction (or bytes served from memory with a clear log line),
# never a wedged mount or wrong bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
mount_test_init

mkdir -p "$T/src/big"
for i in $(seq 1 12); do
	head -c $((3 << 20)) /dev/urandom >"$T/src/big/f$i.bin"
done
mk_dataset_json "$T/datasets.json" big:science:audio:open
run_ok "$AIDATA" keygen --out "$T/keys"
pack_into "$T/src" "$T/datasets.json" "$T/keys/platform.key" "$T/repo" \
	--chunk-size 1M

# 12 MiB of tmpfs for a cache told it may hold 1 GiB
mkdir -p "$T/cache"
mount -t tmpfs -o size=12m tmpfs "$T/cache"
trap 'umount -l "$T/cache" 2>/dev/null || true; mount_cleanup' EXIT

mount_start "file://$T/repo" "$T/mnt" "$T/fs.log" \
	"pubkey=$T/keys/platform.pub,cache=$T/cache,cache_size=1G"
step "reading 36 MiB through a 12 MiB disk"
for round in 1 2; do
	for i in $(seq 1 12); do
		timeout 60 cmp "$T/src/big/f$i.bin" "$T/mnt/datasets/big/f$i.bin" ||
			fail "round $round: f$i.bin wrong or unreadable"
	done
done
mount_alive || fail "daemon died on a full disk"
used=$(df --output=used -B1 "$T/cache" | tail -1)
[ "$used" -le $((12 << 20)) ] || fail "tmpfs over its size?"
grep -Eq "cannot take a chunk|No space left" "$T/fs.log" ||
	note "(the disk never filled: eviction kept up)"
ev=$(stat_value "$T/mnt" aidatafs_cache_evictions_total)
full=$(stat_value "$T/mnt" aidatafs_errors_total '{kind="cache_full"}')
[ $((ev + full)) -gt 0 ] || fail "neither evictions nor cache_full recorded"
note "evictions $ev, served from memory $full"
mount_stop "$T/mnt"

step "a cache that takes nothing: each chunk fetched once, held while read"
# cache_size below one chunk: every chunk is served from memory. The
# file's handle holds the chunk it reads, so its next reads (64 KiB at a
# time here; FUSE requests of up to 1 MiB) do not fetch it again, and
# readahead stops fetching what the cache would throw away.
mount_start "file://$T/repo" "$T/m0" "$T/m0.log" \
	"pubkey=$T/keys/platform.pub,cache=$T/c0,cache_size=64K"
f0=$(stat_value "$T/m0" aidatafs_bytes_fetched_total)
for i in 1 2 3; do
	dd if="$T/m0/datasets/big/f$i.bin" bs=64k status=none |
		cmp - "$T/src/big/f$i.bin" || fail "f$i.bin wrong from memory"
done
got=$(($(stat_value "$T/m0" aidatafs_bytes_fetched_total) - f0))
size=$((3 * (3 << 20)))
note "fetched $got bytes for $size bytes read"
[ "$got" -le $((size * 2)) ] ||
	fail "fetched $got bytes for $size bytes read: chunks fetched again per read"
grep -q "cannot take a chunk" "$T/m0.log" || fail "the chunks were stored?"
mount_stop "$T/m0"

# -o readdirplus (attributes with listings) shows the same tree
mkdir -p "$T/sub/a/b"
cp "$T/src/big/f1.bin" "$T/sub/a/b/x.bin"
ln -s b/x.bin "$T/sub/a/link"
mk_dataset_json "$T/sub.json" a:science:text:open
pack_into "$T/sub" "$T/sub.json" "$T/keys/platform.key" "$T/subrepo"
mount_start "file://$T/subrepo" "$T/m1" "$T/m1.log" \
	"pubkey=$T/keys/platform.pub,cache=$T/c1"
mount_start "file://$T/subrepo" "$T/m2" "$T/m2.log" \
	"pubkey=$T/keys/platform.pub,cache=$T/c2" readdirplus
(cd "$T/m1" && ls -lRn --time-style=+%s datasets) >"$T/plain.txt"
(cd "$T/m2" && ls -lRn --time-style=+%s datasets) >"$T/plus.txt"
grep -q "x.bin" "$T/plain.txt" || fail "listing lacks x.bin"
diff "$T/plain.txt" "$T/plus.txt" || fail "readdirplus listing differs"
mount_stop "$T/m1"
mount_stop "$T/m2"
note "ok"

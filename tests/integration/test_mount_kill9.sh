#!/bin/bash
# kill -9 of the daemon in the middle of parallel reads (over nginx, cold
# cache) leaves a cache that the next mount can use: after unmounting the
# dead mount and remounting with the same cache directory, every file
# reads correctly, and what a killed process left in CACHE/tmp (and the
# catalogs' temporary files) is reclaimed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
# 4 MB/s per connection: the reads take long enough to be cut short
nginx_start "$PLAT_REPO" '		location / { limit_rate 4m; }'
CACHE=$T/cache
OPTS="pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$CACHE"
stored=$(find "$PLAT_REPO/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

mount_start "$NGINX_URL/" "$T/mnt" "$T/fs1.log" "$OPTS"
pid1=$MOUNT_PID
step "8 parallel readers of every file, then kill -9 of aidatafs ($pid1)"
py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 8 \
	--expect no-wrong-bytes --report "$T/read1" >"$T/read1.out" 2>&1 &
reader=$!
# wait (bounded) until a good part, but not all, has been fetched
fetched=0
for ((n = 600; n > 0; n--)); do
	fetched=$(stat_value "$T/mnt" aidatafs_bytes_fetched_total)
	[ "$fetched" -ge $((6 << 20)) ] && break
	kill -0 "$reader" 2>/dev/null || break
	sleep 0.05
done
kill -KILL "$pid1"
step "killed after $fetched of $stored stored bytes were fetched"
[ "$fetched" -ge $((6 << 20)) ] || fail "reading did not get going (fetched $fetched bytes)"
[ "$fetched" -lt "$stored" ] || fail "everything was fetched before the kill: not mid-way"
rc=0
wait "$reader" || rc=$?
cat "$T/read1.out"
# the readers see errors (the connection is gone), never wrong bytes
[ "$rc" -eq 0 ] || fail "a reader got wrong bytes from the killed mount"
grep -q '^error ' "$T/read1" || fail "no reader noticed the daemon was killed"
if timeout -s KILL 5 cat "$T/mnt/.aidata/revision" >/dev/null 2>"$T/dead.err"; then
	fail "the killed mount still answers"
fi
step "the dead mount: $(cat "$T/dead.err")"
mount_stop "$T/mnt" any
[ "$MOUNT_EXIT" = 137 ] || fail "aidatafs exit status $MOUNT_EXIT, want 137 (SIGKILL)"

step "left behind: $(find "$CACHE/tmp" -type f | wc -l) file(s) in tmp/"
# what a killed writer leaves, named as the cache names its temp files
echo partial >"$CACHE/tmp/$pid1.9999"
echo partial >"$CACHE/catalogs/$(printf '%064d' 0).mdb.tmp.$pid1.$pid1"
# and a live process's temp file must not be touched
echo live >"$CACHE/tmp/$$.1"

step "remount with the same cache"
mark=$(nginx_log_mark)
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs2.log" "$OPTS"
find "$CACHE/tmp" -type f -printf '%f\n' | sort >"$T/tmp.left"
echo "$$.1" >"$T/tmp.want"
same_text "files in CACHE/tmp after the remount" "$T/tmp.want" "$T/tmp.left"
rm -f "$CACHE/tmp/$$.1"
find "$CACHE/catalogs" -name '*.tmp.*' >"$T/cat.left"
[ ! -s "$T/cat.left" ] || { show "$T/cat.left" "catalog temp files"; fail "catalog temp files not reclaimed"; }

step "every file, 4 readers"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 --report "$T/read2"
cat "$LAST_OUT"
hits=$(stat_value "$T/mnt" aidatafs_cache_hits_total)
[ "$hits" -gt 0 ] || fail "the remount used nothing of the cache filled before the kill"
step "$hits cache hits, $(stat_value "$T/mnt" aidatafs_cache_misses_total) misses after the remount"
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="verify"}')" = 0 ] ||
	fail "verify errors after the remount"
# a plaintext chunk file is named by the digest of its bytes; encrypted
# (secure tier) chunks are kept as ciphertext under another name, and
# zstd chunks with a frame digest (FORMAT.md §5.9) under a digest of that
# (their bytes were compared with the source by the reads above, from
# the cache): at most as many files as there are such chunks may not
# hash to their names
run_ok "$AIDATA" verify "$PLAT_REPO" --pubkey "$PLAT_PUB"
enc=$(awk '$1 == "dataset" && $3 == "secure" { for (i = 1; i < NF; i++) if ($(i + 1) == "chunks") n += $i } END { print n + 0 }' "$LAST_OUT")
framed=$(awk '$1 == "dataset" && $3 != "secure" { for (i = 1; i < NF; i++) if ($(i + 1) == "with" && $(i + 3) == "frame") n += substr($i, 2) } END { print n + 0 }' "$LAST_OUT")
[ "$framed" -gt 0 ] || { show "$LAST_OUT" "aidata verify"; fail "no chunk with a frame digest in the sample platform"; }
nfiles=0 other=0
while read -r name path; do
	nfiles=$((nfiles + 1))
	[ "$(sha256sum <"$path" | cut -c1-64)" = "$name" ] || other=$((other + 1))
done < <(find "$CACHE/chunks" -type f -printf '%f %p\n')
step "$nfiles chunk files, $other not named by their digest (secure chunks in the repository: $enc, with a frame digest: $framed)"
[ "$other" -le $((enc + framed)) ] ||
	fail "$other chunk files do not hash to their names (only $enc are encrypted, $framed have a frame digest)"
find "$CACHE/tmp" -type f >"$T/tmp.left"
[ ! -s "$T/tmp.left" ] || { show "$T/tmp.left" "tmp"; fail "files left in CACHE/tmp after the reads"; }
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"
nginx_stop
echo "test_mount_kill9: ok"

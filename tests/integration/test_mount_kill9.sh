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
# every chunk file must have the name the daemon gives its chunk
# (cache_chunk_key(), cache/cache_chunk.c), worked out here from the
# repository's catalogs: a plaintext chunk file is named by the digest of
# its bytes; encrypted (secure tier) chunks are kept as ciphertext under
# a digest of where that lies, and zstd chunks with a frame digest
# (FORMAT.md §5.9) under a digest of that (their bytes were compared
# with the source by the reads above, from the cache). Each kind must be
# there, or the test could not tell that kind is filed right.
kinds="digest frame encrypted"
run_ok py "$PYHELP/cache_names.py" "$PLAT_REPO"
declare -A kind_of=() kind_names=() kind_files=()
while read -r kind name; do
	[ -n "${kind_of[$name]-}" ] ||
		kind_names[$kind]=$((${kind_names[$kind]-0} + 1))
	kind_of[$name]=$kind
done <"$LAST_OUT"
for kind in $kinds; do
	[ -n "${kind_names[$kind]-}" ] ||
		{ show "$LAST_OUT" "cache_names.py"; fail "test bug: the sample platform has no chunk of kind $kind"; }
	kind_files[$kind]=0
done
nfiles=0
: >"$T/misnamed"
: >"$T/mismatched"
while read -r rel path; do
	nfiles=$((nfiles + 1))
	name=${rel##*/}
	kind=${kind_of[$name]-}
	# chunks/<first two hex digits>/<name>, as the daemon files them
	if [ -z "$kind" ] || [ "$rel" != "${name:0:2}/$name" ]; then
		echo "$rel" >>"$T/misnamed"
		continue
	fi
	kind_files[$kind]=$((kind_files[$kind] + 1))
	if [ "$kind" = digest ] && [ "$(sha256sum <"$path" | cut -c1-64)" != "$name" ]; then
		echo "$rel" >>"$T/mismatched"
	fi
done < <(find "$CACHE/chunks" -type f -printf '%P %p\n' | sort)
step "$nfiles chunk files: ${kind_files[digest]} named by their content digest, ${kind_files[frame]} by their frame digest, ${kind_files[encrypted]} encrypted, $(wc -l <"$T/misnamed") by no chunk (names in the repository: ${kind_names[digest]}, ${kind_names[frame]}, ${kind_names[encrypted]})"
[ ! -s "$T/misnamed" ] ||
	{ show "$T/misnamed" "chunk files named by no chunk of the repository"; fail "$(wc -l <"$T/misnamed") chunk files have a name the daemon gives no chunk"; }
[ ! -s "$T/mismatched" ] ||
	{ show "$T/mismatched" "chunk files named by a content digest"; fail "$(wc -l <"$T/mismatched") chunk files do not hash to their names"; }
for kind in $kinds; do
	[ "${kind_files[$kind]}" -gt 0 ] || fail "no chunk file of kind $kind in the cache"
done
find "$CACHE/tmp" -type f >"$T/tmp.left"
[ ! -s "$T/tmp.left" ] || { show "$T/tmp.left" "tmp"; fail "files left in CACHE/tmp after the reads"; }
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"
nginx_stop
echo "test_mount_kill9: ok"

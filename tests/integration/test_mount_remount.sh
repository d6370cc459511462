#!/bin/bash
# A warm cache survives a remount: over nginx, read every file, unmount,
# remount with the same cache directory, read every file again: the same
# bytes, and no catalog or data request reaches the origin the second
# time (only the manifest, which is always checked, and the small sealed
# keys of secure datasets).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
nginx_start "$PLAT_REPO"
CACHE=$T/cache
OPTS="pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$CACHE"

step "first mount: read everything (cold cache)"
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs1.log" "$OPTS"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 \
	--report "$T/read1"
cat "$LAST_OUT"
nginx_log_since 0 >"$T/req1"
ncat=$(awk '$5 ~ /^\/catalog\// { n++ } END { print n + 0 }' "$T/req1")
ndata=$(awk '$5 ~ /^\/data\// { n++ } END { print n + 0 }' "$T/req1")
[ "$ncat" -eq $(($(ls "$PLAT_REPO/catalog" | wc -l))) ] ||
	fail "the first mount fetched $ncat catalogs, the repository has $(ls "$PLAT_REPO/catalog" | wc -l)"
[ "$ndata" -gt 0 ] || fail "the first mount fetched no data"
misses1=$(stat_value "$T/mnt" aidatafs_cache_misses_total)
[ "$misses1" -gt 0 ] || fail "no cache misses on a cold cache"
mount_stop "$T/mnt"

step "second mount, same cache: read everything again"
mark=$(nginx_log_mark)
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs2.log" "$OPTS"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 \
	--report "$T/read2"
cat "$LAST_OUT"
same_text "what the two mounts read" "$T/read1" "$T/read2"
# the other views, whose inodes are new to this mount as well
for d in $(dataset_names "$PLAT_JSON"); do
	ind=$(dataset_field "$PLAT_JSON" "$d" industry)
	mod=$(dataset_field "$PLAT_JSON" "$d" modality)
	run_ok py "$PYHELP/mount_read.py" "$T/mnt/by-industry/$ind/$d" "$PLAT_SRC/$d"
	run_ok py "$PYHELP/mount_read.py" "$T/mnt/by-modality/$mod/$d" "$PLAT_SRC/$d"
done
[ "$(stat_value "$T/mnt" aidatafs_cache_misses_total)" = 0 ] ||
	fail "cache misses after a remount: $(stat_value "$T/mnt" aidatafs_cache_misses_total)"
[ "$(stat_value "$T/mnt" aidatafs_bytes_fetched_total)" = 0 ] ||
	fail "bytes fetched after a remount: $(stat_value "$T/mnt" aidatafs_bytes_fetched_total)"
[ "$(stat_value "$T/mnt" aidatafs_cache_hits_total)" -gt 0 ] ||
	fail "no cache hits after a remount"
# a sentinel request: every earlier request is in the log by then
curl -s --noproxy '*' -o /dev/null "$NGINX_URL/__sentinel" || true
nginx_log_wait "$mark" 1 5 || fail "nginx logged nothing"
wait_for 120 grep -q ' /__sentinel ' "$NGINX_ACCESS_LOG" || fail "no sentinel in the log"
nginx_log_since "$mark" | grep -v ' /__sentinel ' >"$T/req2" || true
# (sealed secure-dataset keys, keys/<dataset>/<node>, are tiny and may
# be fetched again; catalogs and chunk data must not)
if grep -E ' GET /(catalog|data)/' "$T/req2" >"$T/req2.bad"; then
	show "$T/req2.bad" "requests after the remount"
	fail "the remounted cache still fetched from the origin"
fi
if grep -Ev ' GET /(manifest|keys/[^ ]+) ' "$T/req2" >"$T/req2.bad"; then
	show "$T/req2.bad" "requests after the remount"
	fail "unexpected requests after the remount"
fi
[ "$(grep -c ' GET /manifest ' "$T/req2")" -ge 1 ] ||
	fail "the remount did not check the manifest"
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"
for log in "$T/fs1.log" "$T/fs2.log"; do
	if grep -Eq ': (error|warn)' "$log"; then
		show "$log" "aidatafs log"
		fail "aidatafs logged errors or warnings"
	fi
done
nginx_stop
echo "test_mount_remount: ok"

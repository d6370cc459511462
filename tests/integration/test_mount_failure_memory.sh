#!/bin/bash
# Failure memory (#8 §2), over nginx with timeout=2,retries=1: a read from
# an origin that stalls on shards costs one fetch cycle (retries + 1
# requests for the chunk), not one for the kernel's readahead and another
# for its re-read of the same page: the re-read fails at once, counted in
# aidatafs_failed_from_memory_total. Once the origin is back, the same
# read works again within the memory's 5 seconds and a bit, without a
# remount. Requests are counted in nginx's access log, not timed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

WINDOW=5 # CACHE_FAILED_SEC
make_platform "$T/p"
# shards trickle at 1 KiB/s, slower than the 4 KiB/s a transfer needs
nginx_start "$PLAT_REPO" "
		location /data/ { limit_rate 1k; }"
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs.log" \
	"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache,timeout=2,retries=1"
M=$T/mnt/datasets
read -r _ BIG < <(cd "$PLAT_SRC" && find . -type f -printf '%s %P\n' | sort -n | tail -n 1)
step "BIG=$BIG ($(stat -c %s "$PLAT_SRC/$BIG") bytes), nothing of it cached"

# data_requests MARK: the shard requests nginx logged after MARK, once
# every request in flight has been logged (a sentinel comes last).
data_requests() {
	curl -s --noproxy '*' -o /dev/null "$NGINX_URL/__sentinel" || true
	wait_for 10 grep -q ' /__sentinel ' <(nginx_log_since "$1") ||
		fail "nginx did not log the sentinel"
	nginx_log_since "$1" | grep -c ' GET /data/' || true
}

step "read it while shards stall"
mark=$(nginx_log_mark)
out=$(py "$PYHELP/mount_tryread.py" "$M/$BIG" "$PLAT_SRC/$BIG") &&
	fail "reading $BIG succeeded although shards stall: $out"
[[ $out == "errno 5 EIO "* ]] || fail "reading $BIG: $out (want EIO)"
# the transfers the daemon gave up on end on nginx's side within a
# second or two (its next write fails)
sleep 3
n=$(data_requests "$mark")
step "$out; $n shard request(s)"
nginx_log_since "$mark" | grep ' GET /data/' || true
[ "$n" = 2 ] || fail "$n shard requests for one failed read, want 2 (one cycle of retries=1)"
remembered=$(stat_value "$T/mnt" aidatafs_failed_from_memory_total)
[ "$remembered" -ge 1 ] || fail "aidatafs_failed_from_memory_total is $remembered: the re-read was not answered from memory"
grep -q "origin timed out" "$T/fs.log" || { show "$T/fs.log" "aidatafs log"; fail "the log does not say the origin timed out"; }
mount_alive || fail "aidatafs died"

step "the origin is back: the read works again within ${WINDOW} s and a bit"
nginx_reload ""
back=$SECONDS
until out=$(py "$PYHELP/mount_tryread.py" "$M/$BIG" "$PLAT_SRC/$BIG"); do
	[[ $out == "errno 5 EIO "* ]] || fail "reading $BIG after the origin came back: $out"
	((SECONDS - back <= WINDOW + 5)) ||
		fail "reading $BIG still fails $((SECONDS - back)) s after the origin came back"
	sleep 0.2
done
step "read $BIG $((SECONDS - back)) s after the origin came back"
mount_stop "$T/mnt"
nginx_stop
echo "test_mount_failure_memory: ok"

#!/bin/bash
# The origin goes away (over nginx, timeout=2,retries=1): cached files
# still read correctly; an uncached chunk or catalog fails with EIO within
# a bounded time while the daemon stays up; an origin that accepts
# connections but never answers fails reads within a bounded time too;
# once nginx is back on the same port the same reads succeed without a
# remount.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

BOUND=15 # seconds an origin failure may take to reach the reader
make_platform "$T/p"
nginx_start "$PLAT_REPO"
PORT=$NGINX_PORT
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs.log" \
	"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache,timeout=2,retries=1"
M=$T/mnt/datasets

# Y: the dataset of the biggest file (several chunks); its smallest file
# is read while online, the big one is not. X: read in full while online.
# Z: never touched (its catalog is not fetched either).
read -r _ BIG < <(cd "$PLAT_SRC" && find . -type f -printf '%s %P\n' | sort -n | tail -n 1)
Y=${BIG%%/*}
read -r _ YSMALL < <(cd "$PLAT_SRC" && find "$Y" -type f -printf '%s %p\n' | sort -n | sed -n 1p)
X= Z=
for d in $(dataset_names "$PLAT_JSON"); do
	[ "$d" = "$Y" ] && continue
	if [ -z "$X" ]; then X=$d; elif [ -z "$Z" ]; then Z=$d; fi
done
ZFILE=$(cd "$PLAT_SRC" && find "$Z" -type f | sort | sed -n 1p)
step "X=$X (cached), Y=$Y ($YSMALL cached, $BIG not), Z=$Z (untouched)"

step "online: read $X and $YSMALL"
run_ok py "$PYHELP/mount_read.py" "$M/$X" "$PLAT_SRC/$X"
run_ok py "$PYHELP/mount_tryread.py" "$M/$YSMALL" "$PLAT_SRC/$YSMALL"
big_size=$(stat -c %s "$PLAT_SRC/$BIG")
big_cached=$(getfattr --absolute-names --only-values -n user.aidata.cached "$M/$BIG")
[ "$big_cached" -lt "$big_size" ] || fail "$BIG is already fully cached ($big_cached bytes)"

# try_read PATH SRC WANT: read PATH; WANT is "ok" or a list of errno names.
# The outcome and its time are checked.
try_read() {
	local path=$1 src=$2 want=$3 out kind took
	out=$(py "$PYHELP/mount_tryread.py" "$path" "$src") || true
	kind=${out%% *}
	took=${out##* }
	if [ "$want" = ok ]; then
		[ "$kind" = ok ] || fail "reading $path: $out (want ok)"
	else
		[ "$kind" = errno ] || fail "reading $path: $out (want an error: $want)"
		local name
		name=$(echo "$out" | cut -d' ' -f3)
		[[ " $want " == *" $name "* ]] || fail "reading $path: $out (want $want)"
	fi
	awk -v t="$took" -v b="$BOUND" 'BEGIN { exit !(t < b) }' ||
		fail "reading $path took $took s (bound $BOUND s)"
	step "$path: $out"
}

step "nginx stopped (connections refused)"
nginx_stop
try_read "$M/$BIG" "$PLAT_SRC/$BIG" EIO
# a dataset whose catalog was never fetched: listing and reading fail
out=$(timeout -s KILL $BOUND ls "$M/$Z" 2>&1) && fail "ls of $Z succeeded offline: $out"
[[ $out == *"Input/output error"* ]] || fail "ls of $Z offline: $out (want Input/output error)"
try_read "$T/mnt/datasets/$ZFILE" "$PLAT_SRC/$ZFILE" EIO
mount_alive || { show "$T/fs.log" "aidatafs log"; fail "aidatafs died while the origin was away"; }
step "cached files still read, from the daemon (page cache dropped)"
run_ok py "$PYHELP/mount_read.py" "$M/$X" "$PLAT_SRC/$X" --drop-cache
try_read "$M/$YSMALL" "$PLAT_SRC/$YSMALL" ok
# the same cached data through another view (new inodes, same chunks)
ind=$(dataset_field "$PLAT_JSON" "$X" industry)
run_ok py "$PYHELP/mount_read.py" "$T/mnt/by-industry/$ind/$X" "$PLAT_SRC/$X" --drop-cache
[ "$(cat "$T/mnt/.aidata/revision")" = 1 ] || fail ".aidata/revision unreadable offline"
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="origin_io"}')" -gt 0 ] ||
	fail "no origin_io errors counted"
grep -q "Couldn't connect\|connect" "$T/fs.log" || fail "the log does not say the origin is unreachable"

step "an origin that accepts connections and never answers"
# (the interpreter itself in the background, so that $! is its pid)
"$PY" -S - "$PORT" "$T/blackhole.ready" >"$T/blackhole.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
open(sys.argv[2], "w").close()
s.settimeout(0.5)
held = []
end = time.monotonic() + 120  # bounded, whatever happens
while time.monotonic() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
EOF
blackhole=$!
wait_for 120 test -e "$T/blackhole.ready" || fail "the silent listener did not start"
# within the bound, and as EIO (README: "Input/output error on read: the
# origin is unreachable (after retries attempts of timeout seconds)")
silent_origin_eio() {
	try_read "$M/$BIG" "$PLAT_SRC/$BIG" EIO
}
independent silent_origin_eio
try_read "$M/$YSMALL" "$PLAT_SRC/$YSMALL" ok
mount_alive || { show "$T/fs.log" "aidatafs log"; fail "aidatafs died with a silent origin"; }
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="origin_timeout"}')" -gt 0 ] ||
	fail "no origin_timeout errors counted"
kill "$blackhole"
wait "$blackhole" 2>/dev/null || true

step "nginx back on port $PORT"
nginx_start "$PLAT_REPO"
[ "$NGINX_PORT" = "$PORT" ] || fail "nginx came back on port $NGINX_PORT, not $PORT"
try_read "$M/$BIG" "$PLAT_SRC/$BIG" ok
ls "$M/$Z" >/dev/null || fail "ls of $Z fails after the origin came back"
try_read "$T/mnt/datasets/$ZFILE" "$PLAT_SRC/$ZFILE" ok
run_ok py "$PYHELP/mount_read.py" "$M" "$PLAT_SRC" --jobs 4
cat "$LAST_OUT"
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"
nginx_stop
independent_done
echo "test_mount_offline: ok"

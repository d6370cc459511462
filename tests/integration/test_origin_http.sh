#!/bin/bash
# Integration: origin/origin.c over real HTTP against nginx (nginx.sh):
# whole objects and ranges byte-exact, keep-alive (one connection for many
# requests), 404 without retries, 5xx/429 with retries, a server that
# ignores Range (bytes counted as received, transfer stopped early), a
# stalling origin, a short body, known sizes (a Content-Length other than
# the size refused at the headers, an endless or short body without one
# cut off and refused), redirects (followed, at most 5, never from https
# to http), a stopped and restarted origin, and URLs with credentials
# kept out of the log.
#
# Needs ORIGIN_FETCH (the tests/integration/origin_fetch driver), SRCDIR,
# nginx, python3 and curl; runs as root (nginx.sh's nginx runs as root).
set -euo pipefail

: "${ORIGIN_FETCH:?set ORIGIN_FETCH to the origin_fetch driver}"
: "${SRCDIR:?set SRCDIR to the source tree}"
# shellcheck source=nginx.sh
. "$SRCDIR/tests/integration/nginx.sh"

# Everything here is on 127.0.0.1: no proxy, whatever the environment says.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aidata-origin-XXXXXX")
# https too, for the redirect checks (nginx.sh makes the certificate)
export NGINX_TLS=1
short_pid=""
cleanup() {
	nginx_stop
	if [[ -n $short_pid ]]; then
		kill "$short_pid" 2>/dev/null || true
		wait "$short_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
ok() {
	echo "ok   $*"
}

root=$tmp/root
mkdir -p "$root/data/ab"
big=$root/data/ab/big
size=$((5 * 1024 * 1024))
head -c "$size" /dev/urandom >"$big"
big_sum=$(sha256sum "$big" | cut -d' ' -f1)

# sha256 of LEN bytes of $big at OFF, the way the test expects them.
range_sum() {
	dd if="$big" bs=64K iflag=skip_bytes,count_bytes skip="$1" \
		count="$2" status=none | sha256sum | cut -d' ' -f1
}

# Run the driver: sets out (stdout), err (stderr), rc, ms, received (body
# bytes the fetches received) and why (the reason of a failure).
fetch() {
	rc=0
	out=$("$ORIGIN_FETCH" "$@" 2>"$tmp/stderr") || rc=$?
	err=$(cat "$tmp/stderr")
	ms=$(sed -n 's/^elapsed_ms //p' "$tmp/stderr")
	ms=${ms:-0}
	received=$(sed -n 's/^received //p' "$tmp/stderr")
	received=${received:-0}
	why=$(sed -n 's/^why //p' "$tmp/stderr")
}

# expect_ok WHAT WANT_SUM WANT_LEN DRIVER_ARGS...
expect_ok() {
	local what=$1 sum=$2 len=$3
	shift 3
	fetch "$@"
	if [[ $rc == 0 && $out == "$sum $len" ]]; then
		ok "$what"
	else
		fail "$what: got '$out' (exit $rc), want '$sum $len'; stderr: $err"
	fi
}

# expect_err WHAT ERRNO DRIVER_ARGS...
expect_err() {
	local what=$1 want=$2
	shift 2
	fetch "$@"
	if [[ $rc == 1 && $out == "$want" ]]; then
		ok "$what ($want in ${ms} ms)"
	else
		fail "$what: got '$out' (exit $rc), want $want; stderr: $err"
	fi
}

# expect_requests WHAT MARK N [STATUS]: exactly N access log lines after
# MARK (each with STATUS if given).
expect_requests() {
	local what=$1 mark=$2 n=$3 status=${4:-} got lines
	nginx_log_wait "$mark" "$n" 30 || true
	# A request too many would have been logged by now as well; give a
	# straggler a moment to show up before counting.
	sleep 0.3
	lines=$(nginx_log_since "$mark")
	got=$(printf '%s' "$lines" | grep -c . || true)
	if [[ $got != "$n" ]]; then
		fail "$what: $got requests in the access log, want $n:"$'\n'"$lines"
		return
	fi
	if [[ -n $status ]] &&
		printf '%s\n' "$lines" | awk -v s="$status" '$3 != s { bad = 1 }
			END { exit !bad }'; then
		fail "$what: want status $status on every line:"$'\n'"$lines"
		return
	fi
	ok "$what: $n request(s) logged${status:+ with status $status}"
}

nginx_start "$root" "$(nginx_fault_conf "$root")"
url=$NGINX_URL
echo "nginx on $url"

# --------------------------------------------------------- whole object
expect_ok "whole object" "$big_sum" "$size" "$url" data/ab/big
expect_ok "whole object, trailing slash" "$big_sum" "$size" "$url/" data/ab/big
expect_ok "whole object to fd" "$big_sum" "$size" "$url" data/ab/big --fd
expect_ok "whole object at exactly the cap" "$big_sum" "$size" \
	"$url" data/ab/big --max "$size"

# ------------------------------------------------ ACKs not delayed
# A keep-alive connection doing request, answer, request looks
# interactive to Linux, which then delays ACKs by 40 ms; a server that
# holds an answer's short tail until its previous segment is acknowledged
# (nginx with sendfile and tcp_nopush) waits that long on every range.
# The client sets TCP_QUICKACK on its connection as the body arrives:
# strace shows it on the socket that connected, for every fetch of a
# keep-alive connection, including fetches that reuse the connection.
# It also receives into libcurl's 256 KiB buffer, not the default 16.
strace -f -qq -e trace=connect,setsockopt,recvfrom -o "$tmp/strace" \
	"$ORIGIN_FETCH" "$url" data/ab/big 12345 67000 --repeat 6 \
	>"$tmp/qa.out" 2>"$tmp/qa.err" || fail "quickack: fetch failed: $(cat "$tmp/qa.err")"
[[ $(cat "$tmp/qa.out") == "$(range_sum 12345 67000) 67000" ]] ||
	fail "quickack: wrong bytes: $(cat "$tmp/qa.out")"
conn_fds=$(sed -n 's/^[0-9]* *connect(\([0-9]*\), {sa_family=AF_INET, sin_port=htons('"$NGINX_PORT"').*/\1/p' "$tmp/strace" | sort -u)
connects=$(grep -c "connect(.*htons($NGINX_PORT)" "$tmp/strace" || true)
acked=0
for fd in $conn_fds; do
	n=$(grep -c "setsockopt($fd, SOL_TCP, TCP_QUICKACK, \[1\]" "$tmp/strace" || true)
	acked=$((acked + n))
done
if [[ -n $conn_fds && $connects -lt 6 && $acked -ge 6 ]]; then
	ok "quickack: $acked TCP_QUICKACK on the connection ($connects connect(s), 6 fetches)"
else
	fail "quickack: $acked TCP_QUICKACK on socket(s) '$conn_fds' over $connects connect(s), 6 fetches"
	grep -E "connect|QUICKACK" "$tmp/strace" | head -20 >&2
fi
big_recvs=0
for fd in $conn_fds; do
	n=$(grep -c "recvfrom($fd, .*, 262144, " "$tmp/strace" || true)
	big_recvs=$((big_recvs + n))
done
if [[ $big_recvs -ge 6 ]]; then
	ok "receive buffer: $big_recvs receives of 262144 bytes asked"
else
	fail "receive buffer: $big_recvs receives of 262144 bytes on '$conn_fds'"
	grep -E "recvfrom" "$tmp/strace" | head -5 >&2
fi

mark=$(nginx_log_mark)
expect_err "object over the cap" EFBIG "$url" data/ab/big --max 1000 \
	--retries 3
expect_err "object over the cap, to fd" EFBIG "$url" data/ab/big \
	--max 1000 --retries 3 --fd
expect_requests "cap refused without retries" "$mark" 2

# ------------------------------------------------------------- ranges
for r in "0 1" "0 65536" "1 1" "12345 100000" "1000000 1048576" \
	"$((size - 1)) 1" "$((size - 4096)) 4096" "0 $size"; do
	# shellcheck disable=SC2086 # two numbers
	set -- $r
	expect_ok "range $1+$2" "$(range_sum "$1" "$2")" "$2" \
		"$url" data/ab/big "$1" "$2"
done

mark=$(nginx_log_mark)
expect_err "range starting at the end (416)" EIO "$url" data/ab/big \
	"$size" 1 --retries 3
expect_err "range running past the end" EIO "$url" data/ab/big \
	"$((size - 100))" 200 --retries 3
expect_requests "ranges past the end not retried" "$mark" 2

# --------------------------------------------------------- keep-alive
mark=$(nginx_log_mark)
expect_ok "50 ranges in one run" "$(range_sum 100000 4096)" 4096 \
	"$url" data/ab/big 100000 4096 --repeat 50
expect_requests "50 ranges" "$mark" 50 206
conns=$(nginx_log_since "$mark" | awk '{ print $1 }' | sort -u | wc -l)
if [[ $conns == 1 ]]; then
	ok "50 ranges over one connection"
else
	fail "50 ranges used $conns connections:"$'\n'"$(nginx_log_since "$mark")"
fi

mark=$(nginx_log_mark)
expect_ok "4 threads x 25 ranges" "$(range_sum 4000000 65536)" 65536 \
	"$url" data/ab/big 4000000 65536 --repeat 25 --threads 4
expect_requests "4 threads x 25 ranges" "$mark" 100 206
conns=$(nginx_log_since "$mark" | awk '{ print $1 }' | sort -u | wc -l)
if ((conns <= 4)); then
	ok "4 threads used $conns connection(s)"
else
	fail "4 threads used $conns connections"
fi

# ------------------------------------------------------------ 404
mark=$(nginx_log_mark)
expect_err "missing object" ENOENT "$url" data/ab/missing --retries 3
# (not retried: one request, counted below; no timing asserted)
expect_requests "404 not retried" "$mark" 1 404

# Credentials in the origin URL are used but never logged.
authed="http://user:s3cret@127.0.0.1:$NGINX_PORT/repo"
expect_err "missing object, URL with userinfo" ENOENT "$authed" nope
if [[ $err == *s3cret* || $err == *user:* ]]; then
	fail "userinfo in the log: $err"
elif [[ $err != *"fetch 'http://127.0.0.1:$NGINX_PORT/repo/nope' failed"* ]]; then
	fail "unexpected log line: $err"
else
	ok "log line without userinfo"
fi

# --------------------------------------------------- transient errors
mark=$(nginx_log_mark)
expect_err "503 with 2 retries" EIO "$url/fault/503" data/ab/big \
	--retries 2 --stats
expect_requests "503" "$mark" 3 503
[[ $err == *"requests=3 "*"retries=2 "*"http_errors=3 "* ]] ||
	fail "503 stats: $err"
[[ $err == *"(attempt 3/3): HTTP 503"* ]] || fail "503 log: $err"

mark=$(nginx_log_mark)
expect_err "429 with 1 retry" EIO "$url/fault/429" data/ab/big 0 10 \
	--retries 1
expect_requests "429" "$mark" 2 429

mark=$(nginx_log_mark)
expect_err "500 to fd with 1 retry" EIO "$url/fault/500" data/ab/big \
	--retries 1 --fd
expect_requests "500" "$mark" 2 500

mark=$(nginx_log_mark)
expect_err "403" EIO "$url/fault/403" data/ab/big --retries 3
expect_requests "403 not retried" "$mark" 1
[[ $why == "HTTP 403 from '$url/fault/403/data/ab/big' (1 attempts)" ||
	$why == "HTTP 403 from '$url/fault/403/data/ab/big'" ]] ||
	fail "403: why '$why'"

# ---------------------------------------------------------- known sizes
# A Content-Length other than the known size is refused at the headers:
# one request (not retried), next to nothing of the body read.
mark=$(nginx_log_mark)
expect_err "Content-Length other than the size" EIO "$url" data/ab/big \
	--exact 1000 --retries 3
expect_requests "wrong Content-Length not retried" "$mark" 1
((received <= 65536)) || fail "wrong Content-Length: $received body bytes read"
[[ $err == *"fetch '$url/data/ab/big' failed: $size bytes (Content-Length), expected 1000"* ]] ||
	fail "wrong Content-Length log: $err"
expect_ok "Content-Length equal to the size" "$big_sum" "$size" "$url" \
	data/ab/big --exact "$size"
expect_ok "exact size, to fd" "$big_sum" "$size" "$url" data/ab/big \
	--exact "$size" --fd
expect_err "Content-Length other than the size, to fd" EIO "$url" \
	data/ab/big --exact "$((size + 1))" --fd

# ------------------------------------------------------------ redirects
# Followed (a CDN's 302 to where the object is): the same bytes, ranges
# through the redirect are still ranges.
mark=$(nginx_log_mark)
expect_ok "redirect followed" "$big_sum" "$size" "$url/fault/redirect" \
	data/ab/big --exact "$size"
expect_ok "range through a redirect" "$(range_sum 12345 100000)" 100000 \
	"$url/fault/redirect" data/ab/big 12345 100000
expect_requests "two objects through redirects" "$mark" 4
[[ $(nginx_log_since "$mark" | awk '{ print $3 }' | tr '\n' ' ') == "302 200 302 206 " ]] ||
	fail "redirects: $(nginx_log_since "$mark")"
fetch "$url/fault/redirect" data/ab/big 0 10 --debug
[[ $err == *"fetch '$url/fault/redirect/data/ab/big': 1 redirect(s) to '$url/data/ab/big'"* ]] ||
	fail "the final URL is not logged at debug level: $err"
# A loop: 5 redirects followed, then refused, not retried.
mark=$(nginx_log_mark)
expect_err "redirect loop" EIO "$url/fault/loop" data/ab/big --retries 3
expect_requests "redirect loop: the first request and 5 redirects" "$mark" 6 302
[[ $why == *"more than 5 redirects"* ]] || fail "redirect loop: why '$why'"
# Between http and https: up is fine, down is refused.
tls=$NGINX_TLS_URL
expect_ok "https" "$(range_sum 1 4096)" 4096 "$tls" data/ab/big 1 4096 \
	--ca "$NGINX_TLS_CA"
expect_ok "http redirected to https" "$(range_sum 1 4096)" 4096 \
	"$url/fault/to-https" data/ab/big 1 4096 --ca "$NGINX_TLS_CA"
expect_ok "https redirected within https" "$big_sum" "$size" \
	"$tls/fault/redirect" data/ab/big --ca "$NGINX_TLS_CA"
mark=$(nginx_log_mark)
expect_err "https redirected to http" EIO "$tls/fault/to-http" data/ab/big \
	--ca "$NGINX_TLS_CA" --retries 3
expect_requests "https to http: never followed, not retried" "$mark" 1 302
[[ $why == *"redirected away from https (refused)"* ]] ||
	fail "https to http: why '$why'"

# ------------------------------------------------- Range ignored (200)
mark=$(nginx_log_mark)
for r in "0 100" "4096 65536" "$((size - 100)) 100" "0 $size"; do
	# shellcheck disable=SC2086 # two numbers
	set -- $r
	expect_ok "range $1+$2, Range ignored" "$(range_sum "$1" "$2")" "$2" \
		"$url/fault/norange" data/ab/big "$1" "$2"
done
expect_requests "Range ignored" "$mark" 4 200
# The transfer stops once the range is read: the first range cannot have
# needed the whole 5 MiB body.
first=$(nginx_log_since "$mark" | sed -n 1p | awk '{ print $7 }')
if ((first < size)); then
	ok "ignored Range: transfer stopped early ($first bytes sent)"
else
	fail "ignored Range: the whole object was sent ($first bytes)"
fi
# What came over the wire is counted: the bytes before the range too,
# and not much past its end.
off=$((2 * 1024 * 1024))
expect_ok "range at 2 MiB, Range ignored" "$(range_sum "$off" 4096)" 4096 \
	"$url/fault/norange" data/ab/big "$off" 4096
if ((received >= off + 4096 && received < size)); then
	ok "ignored Range: $received bytes received, counted"
else
	fail "ignored Range: received $received, want $((off + 4096))..$size"
fi
expect_err "range past the end, Range ignored" EIO "$url/fault/norange" \
	data/ab/big "$((size - 100))" 200 --retries 3

# ------------------------------------------------------- slow origin
# 1 MiB at 1 KiB/s with a 2 s timeout: each attempt must wait out the
# 2 s stall limit (so at least 3 s for two attempts) and then give up; the
# upper bound only catches a hang, whatever the machine's load.
expect_err "slow origin" ETIMEDOUT "$url/fault/slow" data/ab/big 0 1048576 \
	--timeout 2 --retries 1 --stats
bound=120000
if ((ms >= 3000 && ms < bound)); then
	ok "slow origin gave up after $ms ms (bound $bound)"
else
	fail "slow origin took $ms ms (want 3000..$bound)"
fi
[[ $err == *"timeouts=2 "* ]] || fail "slow origin stats: $err"

# ------------------------------------------------------- short body
# A server that, by path: /obj promises 1000 bytes, sends 100 and hangs
# up; /endless sends bytes for ever without a Content-Length;
# /short-close sends 100 bytes without a Content-Length and closes.
cat >"$tmp/short.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\r\n")[0].decode()
    log.write(line + "\n")
    path = line.split(" ")[1] if " " in line else ""
    try:
        if path.endswith("/endless"):
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            while True:
                c.sendall(b"y" * 65536)
        elif path.endswith("/short-close"):
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" +
                      b"z" * 100)
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
                      b"x" * 100)
    except OSError:
        pass
    c.close()
EOF
python3 "$tmp/short.py" "$tmp/short.port" "$tmp/short.log" &
short_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $tmp/short.port ]] && break
	sleep 0.1
done
short_url=http://127.0.0.1:$(cat "$tmp/short.port")
expect_err "short body with 2 retries" EIO "$short_url" obj --retries 2
n=$(wc -l <"$tmp/short.log")
if [[ $n == 3 ]]; then
	ok "short body retried: $n requests"
else
	fail "short body: $n requests, want 3"
fi
expect_err "short body, range" EIO "$short_url" obj 0 500 --retries 0
# No Content-Length and no end: read up to the size, then refused; not
# retried. A cap (the manifest's case) is held the same way.
: >"$tmp/short.log"
expect_err "endless body, known size" EIO "$short_url" endless \
	--exact 1000 --retries 2
((received <= 1000 + 65536)) || fail "endless body: $received bytes read"
[[ $err == *"body runs past the 1000 bytes expected"* ]] ||
	fail "endless body log: $err"
expect_err "endless body, capped" EFBIG "$short_url" endless \
	--max 1000 --retries 2 --fd
((received <= 1000 + 65536)) || fail "endless body, capped: $received bytes read"
expect_err "body without a length, short of the size" EIO "$short_url" \
	short-close --exact 1000 --retries 2
[[ $err == *"100 bytes, expected 1000"* ]] || fail "short-close log: $err"
n=$(wc -l <"$tmp/short.log")
if [[ $n == 3 ]]; then
	ok "wrong sizes not retried: $n requests"
else
	fail "wrong sizes: $n requests, want 3"
fi
kill "$short_pid"
wait "$short_pid" 2>/dev/null || true
short_pid=""

# --------------------------------------------------------- reload
nginx_reload "$(nginx_fault_conf "$root")
		location /reloaded/ { alias $root/; }"
expect_ok "after reload" "$(range_sum 7 77)" 77 \
	"$url/reloaded" data/ab/big 7 77

# ---------------------------------------------------- stop, restart
port=$NGINX_PORT
nginx_stop
expect_err "origin down" EIO "$url" data/ab/big 0 10 --retries 2 --stats
# refused at once, not waited out: no attempt counted as a timeout
[[ $err == *"timeouts=0 "* ]] ||
	fail "origin down: refused connections were waited out as timeouts: $err"
[[ $why == "'$url/data/ab/big' bytes 0-9: connection refused (3 attempts)" ]] ||
	fail "origin down: why '$why'"

nginx_start "$root"
if [[ $NGINX_PORT != "$port" ]]; then
	echo "note: port $port was taken; restarted on $NGINX_PORT"
	url=$NGINX_URL
fi
expect_ok "origin back" "$(range_sum 42 4242)" 4242 "$url" data/ab/big 42 4242
nginx_stop

if ((failures)); then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all origin HTTP checks passed"

#!/bin/bash
# Errors say what is wrong (#8 §4): a refused mount names the cause, not
# the key, for each of: an HTML page served as the manifest (not an
# aidata manifest), a manifest of format 9 (unsupported format version),
# a malformed line, a manifest signed by another key (signature), an older
# revision than the cache accepted (rollback), an origin answering 503
# (HTTP 503 and the URL), a dead origin (connection refused), a silent
# one (timed out), no manifest at all (HTTP 404). README's troubleshooting
# section lists each of them. Over nginx on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
W=$T/www
mkdir -p "$W"
# a repository per case, each a copy of the platform's with its own
# manifest, served under /<case>/
variant() {
	cp -a "$PLAT_REPO" "$W/$1"
}
signed_body() {
	head -n -1 "$PLAT_REPO/manifest"
}

variant html
cat >"$W/html/manifest" <<'HTML'
<!DOCTYPE html>
<html><head><title>Service Unavailable</title></head>
<body>The service is down for maintenance.</body></html>
HTML
variant format9
signed_body | sed 's/^aidata-manifest 2$/aidata-manifest 9/' >"$T/f9.body"
manifest_sign "$T/f9.body" "$PLAT_KEY" "$W/format9/manifest"
variant badline
signed_body | sed 's/^root-catalog \(.*\)$/root-catalog \U\1/' >"$T/bad.body"
manifest_sign "$T/bad.body" "$PLAT_KEY" "$W/badline/manifest"
variant nomanifest
rm "$W/nomanifest/manifest"
variant rollback
run_ok "$AIDATA" keygen --out "$T/other"

nginx_start "$W" "
		location /x503/ { return 503; }"
U=$NGINX_URL
OPTS="pubkey=$PLAT_PUB,timeout=1,retries=1"

# refused CASE PATTERN ORIGIN [OPTIONS...]: the mount is refused, and its
# summary line ("aidatafs: cannot mount 'ORIGIN': ...") matches PATTERN.
refused() {
	local case=$1 pattern=$2 origin=$3 line
	shift 3
	mount_expect_fail "cannot mount '[^']*': $pattern" "$origin" "$T/mnt" \
		"$T/$case.log" "cache=$T/cache-$case" "$@"
	line=$(grep -m1 'cannot mount' "$T/$case.log")
	if [[ $line == *"pinned key"* && $case != wrongkey ]]; then
		show "$T/$case.log" "aidatafs log"
		fail "$case: the refusal blames the key: $line"
	fi
	step "$case: $line"
}

refused html "manifest: not an aidata manifest \\(starts with '<!DOCTYPE html>'\\)" \
	"$U/html/" "$OPTS"
refused format9 "manifest: unsupported format version 9 \\(this version reads 1 to 2\\)" \
	"$U/format9/" "$OPTS"
refused badline "manifest: malformed line 3" "$U/badline/" "$OPTS"
refused wrongkey "manifest: signature does not verify with the pinned key" \
	"$U/rollback/" "pubkey=$T/other/platform.pub"
refused nomanifest "manifest: the origin has none \\(HTTP 404 from '$U/nomanifest/manifest'\\)" \
	"$U/nomanifest/" "$OPTS"
refused http503 "manifest: origin unreachable: HTTP 503 from '$U/x503/manifest' \\(2 attempts\\)" \
	"$U/x503/" "$OPTS"

step "rollback: revision 2 accepted, then revision 1 served again"
cp "$W/rollback/manifest" "$T/manifest.r1"
run_ok "$AIDATA" revoke "$W/rollback" --key "$PLAT_KEY" some-jti
[ "$(manifest_revision "$W/rollback")" = 2 ] || fail "aidata revoke did not make revision 2"
mount_start "$U/rollback/" "$T/mnt" "$T/r2.log" "$OPTS,cache=$T/cache-rollback"
mount_stop "$T/mnt"
cp "$T/manifest.r1" "$W/rollback/manifest"
refused rollback "manifest: revision 1 is older than revision 2 already seen: refusing a rollback" \
	"$U/rollback/" "$OPTS"

step "a silent origin (accepts, never answers) and a dead one"
"$PY" -S - "$T/silent.port" >"$T/silent.out" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(0.5)
held = []
end = time.monotonic() + 120  # bounded, whatever happens
while time.monotonic() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
PYEOF
silent=$!
wait_for 10 test -s "$T/silent.port" || fail "the silent listener did not start"
S=http://127.0.0.1:$(cat "$T/silent.port")
refused silent "manifest: origin unreachable: '$S/manifest': timed out after 1 s" "$S/" "$OPTS"
kill "$silent"
wait "$silent" 2>/dev/null || true
nginx_stop
refused dead "manifest: origin unreachable: '$U/rollback/manifest': connection refused \\(2 attempts\\)" \
	"$U/rollback/" "$OPTS"
echo "test_mount_errors: ok"

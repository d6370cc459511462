#!/bin/bash
# Redirects (#8 §4; README "Mounting"): an origin whose every object
# answers 302 to where it is stored (a CDN in front of an object store)
# mounts and reads byte-exact, over http and over https; a shard
# redirected to a damaged copy is refused like any bytes that do not
# verify, and only its files fail; a redirect loop and a redirect from
# https down to http refuse the mount, saying so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
py "$PYHELP/mount_tree.py" repomap "$PLAT_REPO" >"$T/repomap"
# DS: a dataset whose first shard is its own; that shard is damaged
# behind its redirect
DS= SHARD=
while read -r d _ shards; do
	s=${shards%%,*}
	if [ "$(grep -c "$s" "$T/repomap")" = 1 ] &&
		[ "$(dataset_field "$PLAT_JSON" "$d" tier)" = open ]; then
		DS=$d SHARD=$s
		break
	fi
done <"$T/repomap"
[ -n "$DS" ] || fail "no open dataset with a shard of its own"
BAD=$T/bad
mkdir -p "$BAD/data/${SHARD:0:2}"
cp "$PLAT_REPO/data/${SHARD:0:2}/$SHARD" "$BAD/data/${SHARD:0:2}/"
f=$BAD/data/${SHARD:0:2}/$SHARD
py - "$f" <<'PYEOF'
import os, sys
with open(sys.argv[1], "r+b") as f:
    n = os.path.getsize(sys.argv[1])
    for at in range(0, n, 4096):
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
PYEOF
step "DS=$DS: shard $SHARD redirected to a damaged copy"

export NGINX_TLS=1
nginx_start "$PLAT_REPO" "
		location /cdn/ { rewrite ^/cdn/(.*)\$ /store/\$1 redirect; }
		location /store/ { alias $PLAT_REPO/; }
		location = /bad-cdn/data/${SHARD:0:2}/$SHARD {
			return 302 /bad/data/${SHARD:0:2}/$SHARD;
		}
		location /bad-cdn/ { rewrite ^/bad-cdn/(.*)\$ /store/\$1 redirect; }
		location /bad/ { alias $BAD/; }
		location /loop/ { return 302 \$uri; }
		location /down/ {
			rewrite ^/down/(.*)\$ http://127.0.0.1:@NGINX_PORT@/store/\$1 redirect;
		}"
U=$NGINX_URL

step "every object behind a 302: mounts and reads byte-exact"
mark=$(nginx_log_mark)
mount_start "$U/cdn/" "$T/mnt" "$T/cdn.log" "pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-cdn"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4
mount_stop "$T/mnt"
nginx_log_since "$mark" >"$T/cdn.req"
grep -q ' 302 GET /cdn/manifest ' "$T/cdn.req" || fail "the manifest was not redirected"
grep -q ' 200 GET /store/manifest ' "$T/cdn.req" || fail "the redirected manifest was not fetched"
grep -q ' 206 GET /store/data/' "$T/cdn.req" || fail "no ranged shard request after a redirect"
grep -q ' /data/' <(grep -v ' /store/data/\| /cdn/data/' "$T/cdn.req") &&
	fail "shards fetched outside the redirect: $(cat "$T/cdn.req")"

step "the same over https (a redirect within https)"
mount_start "$NGINX_TLS_URL/cdn/" "$T/mnt" "$T/tls.log" \
	"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-tls,ca=$NGINX_TLS_CA"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets/$DS" "$PLAT_SRC/$DS"
mount_stop "$T/mnt"

step "a shard redirected to damaged bytes: refused, only its files fail"
mount_start "$U/bad-cdn/" "$T/mnt" "$T/bad.log" "pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-bad"
py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 \
	--expect no-mismatch --report "$T/read" >"$T/read.out" 2>&1 ||
	{ show "$T/read.out" mount_read; fail "wrong bytes or an unexpected error behind a redirect"; }
grep '^eio ' "$T/read" | cut -d' ' -f2 | cut -d/ -f1 | sort -u >"$T/failed.ds"
[ "$(cat "$T/failed.ds")" = "$DS" ] || fail "files failed in: $(tr '\n' ' ' <"$T/failed.ds") (want $DS only)"
grep -Eq "chunk '[0-9a-f]{64}' from shard '[^']*$SHARD'.*(digest mismatch|corrupt frame)" "$T/bad.log" ||
	{ show "$T/bad.log" "aidatafs log"; fail "no log line names a chunk of $SHARD that does not verify"; }
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="verify"}')" -gt 0 ] ||
	fail "aidatafs_errors_total{kind=\"verify\"} is 0"
mount_stop "$T/mnt"

step "a redirect loop, and https redirected to http, refuse the mount"
mount_expect_fail "cannot mount '[^']*': manifest: origin unreachable: '[^']*/loop/manifest': more than 5 redirects" \
	"$U/loop/" "$T/mnt" "$T/loop.log" "pubkey=$PLAT_PUB,cache=$T/cache-loop,retries=0"
step "$(grep -m1 'cannot mount' "$T/loop.log")"
mount_expect_fail "cannot mount '[^']*': manifest: origin unreachable: '[^']*/down/manifest': redirected away from https \\(refused\\)" \
	"$NGINX_TLS_URL/down/" "$T/mnt" "$T/down.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache-down,ca=$NGINX_TLS_CA,retries=0"
step "$(grep -m1 'cannot mount' "$T/down.log")"
nginx_stop
echo "test_mount_redirects: ok"

#!/bin/bash
# Mirror lists against real engines: nginx serving the repository as
# files, and a Ceph RGW public bucket holding a copy (its plain http
# path-style URL). One mirror stopped in the middle of a large read: no
# EIO, the bytes right. A mirror serving corrupt bytes, a mirror serving
# an older manifest (no rollback), a mirror serving another platform's
# manifest: each passed over for the other. Per-mirror stats. An s3://
# bucket in the list: signed requests, mixed with http mirrors.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init
SECRET=mirror-secret-31337

step "repository: revision 1 and 2, and another platform's"
mkdir -p "$T/src/ds"
head -c $((48 << 20)) /dev/urandom >"$T/src/ds/big.bin"
seq 1 1000 >"$T/src/ds/small.txt"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key PUB=$T/keys/platform.pub
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo" --chunk-size 1M
cp -a "$T/repo" "$T/repo-r1"
seq 1 500 >"$T/src/ds/r2.txt"
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo" --chunk-size 1M
run_ok "$AIDATA" keygen --out "$T/other"
pack_into "$T/src" "$T/datasets.json" "$T/other/platform.key" "$T/other-repo"

step "rgw holds revision 2; nginx serves the same repository"
rgw_start || fail "radosgw does not start"
rgw_user alice AKALICE "$SECRET"
rgw_s3 AKALICE "$SECRET" PUT /pub >/dev/null
rgw_public_bucket AKALICE "$SECRET" pub
run_ok env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/repo" s3://pub/plat \
	--pubkey "$PUB"
RGW_MIRROR=$RGW_URL/pub/plat
nginx_start "$T/repo"
NGX=$NGINX_URL

step "a mirror stopped in the middle of a large read"
mount_start "$NGX|$RGW_MIRROR" "$T/m1" "$T/fs1.log" \
	"pubkey=$PUB,cache=$T/c1,timeout=5,retries=1"
py - "$T/m1/datasets/ds/big.bin" "$T/half" "$T/go" "$T/digest" <<'EOF' &
import hashlib, os, sys, time
path, half, go, out = sys.argv[1:]
h = hashlib.sha256()
with open(path, "rb", buffering=0) as f:
    for _ in range(8):
        h.update(f.read(1 << 20))
    open(half, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        h.update(b)
open(out, "w").write(h.hexdigest() + "\n")
EOF
reader=$!
wait_for 120 test -e "$T/half" || fail "the reader did not get going"
grep -q "GET /data/" "$NGINX_ACCESS_LOG" || fail "the first mirror served nothing"
nginx_stop
touch "$T/go"
wait "$reader" || fail "the read failed after the first mirror stopped"
[ "$(cat "$T/digest")" = "$(sha256sum <"$T/src/ds/big.bin" | cut -c1-64)" ] ||
	fail "wrong bytes after the failover"
grep -q "mirror '$NGX/' passed over" "$T/fs1.log" || {
	show "$T/fs1.log" log
	fail "the log does not say the mirror was passed over"
}
v=$(stat_value "$T/m1" aidatafs_mirror_requests_total "{mirror=\"$RGW_MIRROR/\"}")
[ "$v" -gt 0 ] || fail "no requests counted for the second mirror"
v=$(stat_value "$T/m1" aidatafs_mirror_failures_total "{mirror=\"$NGX/\"}")
[ "$v" -gt 0 ] || fail "no failures counted for the stopped mirror"
mount_alive "$T/m1" || fail "the daemon died"
mount_stop "$T/m1"

step "a mirror serving corrupt bytes"
cp -a "$T/repo" "$T/bad"
shard=$(find "$T/bad/data" -type f -size +40M | head -n 1)
[ -n "$shard" ] || fail "no large shard"
printf 'XXXXXXXX' | dd of="$shard" bs=1 seek=$((5 << 20)) conv=notrunc status=none
nginx_start "$T/bad"
mount_start "$NGINX_URL|$RGW_MIRROR" "$T/m2" "$T/fs2.log" \
	"pubkey=$PUB,cache=$T/c2"
cmp "$T/src/ds/big.bin" "$T/m2/datasets/ds/big.bin" ||
	fail "wrong bytes with a corrupt mirror"
grep -q "asking another mirror" "$T/fs2.log" || {
	show "$T/fs2.log" log
	fail "the corrupt chunk was not fetched again from the other mirror"
}
mount_stop "$T/m2"

step "a mirror serving an older manifest is skipped (no rollback)"
nginx_start "$T/repo"
mount_start "$NGINX_URL|$RGW_MIRROR" "$T/m3" "$T/fs3.log" "pubkey=$PUB,cache=$T/c3"
[ "$(cat "$T/m3/.aidata/revision")" = 2 ] || fail "not at revision 2"
mount_stop "$T/m3"
nginx_start "$T/repo-r1"
mount_start "$NGINX_URL|$RGW_MIRROR" "$T/m3" "$T/fs3b.log" "pubkey=$PUB,cache=$T/c3"
[ "$(cat "$T/m3/.aidata/revision")" = 2 ] ||
	fail "rolled back to revision $(cat "$T/m3/.aidata/revision")"
grep -q "older than revision 2 already seen.*asking another mirror" "$T/fs3b.log" || {
	show "$T/fs3b.log" log
	fail "the older mirror was not reported and skipped"
}
cmp "$T/src/ds/r2.txt" "$T/m3/datasets/ds/r2.txt" || fail "revision 2 reads wrong"
mount_stop "$T/m3"

step "a mirror serving another platform's manifest is refused"
nginx_start "$T/other-repo"
mount_start "$NGINX_URL|$RGW_MIRROR" "$T/m4" "$T/fs4.log" "pubkey=$PUB,cache=$T/c4"
[ "$(cat "$T/m4/.aidata/revision")" = 2 ] || fail "not at revision 2"
grep -q "signature does not verify.*asking another mirror" "$T/fs4.log" || {
	show "$T/fs4.log" log
	fail "the foreign manifest was not refused"
}
cmp "$T/src/ds/r2.txt" "$T/m4/datasets/ds/r2.txt" || fail "revision 2 reads wrong"
mount_stop "$T/m4"

step "-o mirror= and bad lists"
mount_start "$NGINX_URL" "$T/m5" "$T/fs5.log" "pubkey=$PUB,cache=$T/c5" \
	"mirror=$RGW_MIRROR"
v=$(stat_value "$T/m5" aidatafs_mirror_requests_total "{mirror=\"$RGW_MIRROR/\"}")
[ -n "$v" ] || fail "mirror= is not in the list"
mount_stop "$T/m5"
mount_expect_fail "a mirror list holds http://, https:// and s3:// URLs only" \
	"$NGINX_URL|file:///x" "$T/m6" "$T/fs6.log" "pubkey=$PUB,cache=$T/c6"
mount_expect_fail "a mirror list holds http://, https:// and s3:// URLs only" \
	"$NGINX_URL||$RGW_MIRROR" "$T/m6" "$T/fs7.log" "pubkey=$PUB,cache=$T/c6"
mount_expect_fail "'Bad_Bucket' is not a bucket name" \
	"$NGINX_URL|s3://Bad_Bucket/x" "$T/m6" "$T/fs8.log" "pubkey=$PUB,cache=$T/c6"
nginx_stop

step "an s3:// mirror: a private bucket, its requests signed"
rgw_s3 AKALICE "$SECRET" PUT /priv >/dev/null
run_ok env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/repo" s3://priv/plat \
	--pubkey "$PUB"
s3_credentials_file "$T/credentials" AKALICE "$SECRET"
DEAD=http://127.0.0.1:$(_nginx_free_port)
S3OPTS="endpoint=$RGW_URL,s3_credentials=$T/credentials"
mount_start "$DEAD|s3://priv/plat" "$T/m7" "$T/fs9.log" \
	"pubkey=$PUB,cache=$T/c7,timeout=5,retries=0,$S3OPTS"
cmp "$T/src/ds/big.bin" "$T/m7/datasets/ds/big.bin" ||
	fail "wrong bytes from the s3:// mirror"
v=$(stat_value "$T/m7" aidatafs_mirror_requests_total '{mirror="s3://priv/plat/"}')
[ "${v:-0}" -gt 0 ] || fail "no requests counted for the s3:// mirror"
! grep -qF "$SECRET" /proc/mounts "$T/fs9.log" "$T/m7/.aidata/stats" ||
	fail "the secret is shown"
mount_stop "$T/m7"
# the s3:// mirror first, a plain http mirror (the public bucket) second:
# a bucket without the objects (404: a mirror behind) passes to the next
mount_start "s3://priv/nothing|$RGW_MIRROR" "$T/m8" "$T/fs10.log" \
	"pubkey=$PUB,cache=$T/c8,$S3OPTS"
cmp "$T/src/ds/r2.txt" "$T/m8/datasets/ds/r2.txt" ||
	fail "wrong bytes from the http mirror after an s3:// one"
mount_stop "$T/m8"
# without credentials the private bucket refuses: the requests were signed
mount_expect_fail "HTTP 403 \(AccessDenied\)" "s3://priv/plat|$DEAD" "$T/m9" \
	"$T/fs11.log" "pubkey=$PUB,cache=$T/c9,endpoint=$RGW_URL,timeout=5,retries=0"
echo ok

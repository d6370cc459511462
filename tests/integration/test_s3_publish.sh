#!/bin/bash
# aidata push into a real Ceph RGW bucket: publish then mount; only the
# missing objects uploaded, multipart for a large shard, the manifest
# last; bad credentials, a missing bucket, permission denied, another
# platform's bucket, a rollback, the lock object; and a push that fails
# in the middle (the connection to the store dropped during a multipart
# upload, through an nginx in front of RGW): a clear error naming the
# object, the previous revision intact and served, and a re-run that
# resumes without uploading again what is there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init

SECRET=alice-secret-4f9d2c7e

step "repository, revision 1"
mkdir -p "$T/src/ds/sub"
head -c $((12 << 20)) /dev/urandom >"$T/src/ds/sub/big.bin"
seq 1 20000 >"$T/src/ds/nums.txt"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key PUB=$T/keys/platform.pub
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo"
cp -a "$T/repo" "$T/repo-r1"

step "rgw"
rgw_start || fail "radosgw does not start"
rgw_user alice AKALICE "$SECRET"
rgw_user bob AKBOB bob-secret
rgw_s3 AKALICE "$SECRET" PUT /pub >/dev/null
s3_credentials_file "$T/credentials" AKALICE "$SECRET"
as_alice() {
	env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
		AWS_ENDPOINT_URL="$RGW_URL" "$@"
}
push() {
	as_alice "$AIDATA" push "$@" --pubkey "$PUB" --part-size 5M
}
# the objects radosgw stored (a PUT without a query, or the POST that
# completes a multipart upload) since line $1 of its log
puts_since() {
	tail -n +"$(($1 + 1))" "$RGW_LOG" |
		sed -n -e 's/.*beast: .*"PUT \/pub\/plat\/\([^ ?]*\) HTTP[^"]*" 2.*/\1/p' \
			-e 's/.*beast: .*"POST \/pub\/plat\/\([^ ?]*\)?uploadId=[^ ]* HTTP[^"]*" 2.*/\1/p' |
		sort -u
}
log_lines() { wc -l <"$RGW_LOG"; }

step "push revision 1, then mount it"
mark=$(log_lines)
run_ok push "$T/repo" s3://pub/plat
grep -q "pushed revision 1 (bucket had 0)" "$LAST_OUT" ||
	fail "push says: $(cat "$LAST_OUT")"
grep -q "partNumber=2&uploadId=" "$RGW_LOG" ||
	fail "the 12 MiB shard was not sent as a multipart upload"
# the manifest is the last object written
last=$(tail -n +"$((mark + 1))" "$RGW_LOG" |
	sed -n 's/.*beast: .*"PUT \/pub\/plat\/\([^ ?]*\)[ ?].*" 2.*/\1/p' |
	grep -v '^lock$' | tail -n 1)
[ "$last" = manifest ] || fail "the last object written was '$last', not the manifest"
run_ok as_alice "$AIDATA" verify s3://pub/plat --pubkey "$PUB"
mount_start s3://pub/plat "$T/mnt" "$T/fs.log" \
	"pubkey=$PUB,cache=$T/cache,endpoint=$RGW_URL,s3_credentials=$T/credentials"
cmp "$T/src/ds/sub/big.bin" "$T/mnt/datasets/ds/sub/big.bin" ||
	fail "bytes read from the pushed bucket differ"

step "a second push uploads only the manifest"
mark=$(log_lines)
run_ok push "$T/repo" s3://pub/plat
grep -q "1 uploaded (.*), 3 already there" "$LAST_OUT" ||
	fail "push says: $(cat "$LAST_OUT")"
[ "$(puts_since "$mark" | grep -v '^lock$')" = manifest ] ||
	fail "objects uploaded again: $(puts_since "$mark" | paste -sd' ')"

step "bad credentials, permission denied, missing bucket"
expect_fail_with "PUT 's3://pub/plat/lock'.*HTTP 403 \(SignatureDoesNotMatch\)" \
	env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY=wrong \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/repo" s3://pub/plat \
	--pubkey "$PUB"
expect_fail_with "PUT 's3://pub/plat/lock'.*HTTP 403 \(AccessDenied\)" \
	env AWS_ACCESS_KEY_ID=AKBOB AWS_SECRET_ACCESS_KEY=bob-secret \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/repo" s3://pub/plat \
	--pubkey "$PUB"
! grep -q bob-secret "$LAST_ERR" || fail "a secret is in the error"
expect_fail_with "HTTP 404 \(NoSuchBucket\)" \
	push "$T/repo" s3://nobucket/plat
expect_fail_with "no manifest: not a repository" push "$T/src" s3://pub/x
expect_fail_with "push writes to s3://BUCKET/PREFIX only" \
	push "$T/repo" "file://$T/elsewhere"
expect_fail_with "expected a size of at least 5M" \
	"$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB" --part-size 1M

step "another platform's bucket, and a rollback, are refused"
run_ok "$AIDATA" keygen --out "$T/other"
pack_into "$T/src" "$T/datasets.json" "$T/other/platform.key" "$T/other-repo"
expect_fail_with "not this platform's: signature does not verify" \
	env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/other-repo" \
	s3://pub/plat --pubkey "$T/other/platform.pub"

step "the lock object"
printf 'aidata push on elsewhere.example pid 1 since 0\n' >"$T/lock"
rgw_s3_body AKALICE "$SECRET" PUT /pub/plat/lock "$T/lock" >/dev/null
expect_fail_with "locked by another publisher \(object 'lock': aidata push on elsewhere.example pid 1" \
	push "$T/repo" s3://pub/plat
run_ok push "$T/repo" s3://pub/plat --force-unlock
# a lock left by a push that died on this host is taken over
printf 'aidata push on %s pid 999999999 since 0\n' "$(hostname)" >"$T/lock"
rgw_s3_body AKALICE "$SECRET" PUT /pub/plat/lock "$T/lock" >/dev/null
run_ok push "$T/repo" s3://pub/plat
grep -q "that publisher died on this host" "$LAST_ERR" ||
	fail "the stale lock was not reported"
rgw_s3 AKALICE "$SECRET" GET /pub/plat/lock >/dev/null 2>&1 &&
	fail "the lock object is left behind"

step "revision 2, pushed through a connection that drops during the upload"
head -c $((16 << 20)) /dev/urandom >"$T/src/ds/sub/big2.bin"
seq 1 3000 >"$T/src/ds/new.txt"
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo"
[ "$(manifest_revision "$T/repo")" = 2 ] || fail "no revision 2"
# nginx in front of radosgw closes the connection (444) on part 2 of any
# multipart upload, every time: the network failing mid-upload
nginx_start "$T" "location /pub/ {
	if (\$arg_partNumber = 2) { return 444; }
	proxy_pass $RGW_URL;
	proxy_set_header Host \$http_host;
	proxy_http_version 1.1;
	proxy_request_buffering off;
	client_max_body_size 0;
}"
mark=$(log_lines)
expect_fail_with "PUT 's3://pub/plat/data/[0-9a-f/]*' \(part 2 of [0-9]+\)" \
	env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	AWS_ENDPOINT_URL="$NGINX_URL" "$AIDATA" push "$T/repo" s3://pub/plat \
	--pubkey "$PUB" --part-size 5M
first=$(puts_since "$mark" | grep -v -e '^lock$' -e '^manifest$' || true)
[ -n "$first" ] || fail "nothing was uploaded before the failure"
puts_since "$mark" | grep -qx manifest &&
	fail "the manifest was written although objects are missing"
nginx_stop

step "the previous revision is intact and served"
run_ok as_alice "$AIDATA" verify s3://pub/plat --pubkey "$PUB"
grep -q "manifest revision 1" "$LAST_OUT" || fail "the bucket is not at revision 1"
cmp "$T/src/ds/nums.txt" "$T/mnt/datasets/ds/nums.txt" ||
	fail "the mounted revision 1 reads wrong"
mount_start s3://pub/plat "$T/mnt2" "$T/fs2.log" \
	"pubkey=$PUB,cache=$T/cache2,endpoint=$RGW_URL,s3_credentials=$T/credentials"
[ "$(cat "$T/mnt2/.aidata/revision")" = 1 ] || fail "a new mount is not at revision 1"
[ -e "$T/mnt2/datasets/ds/new.txt" ] && fail "revision 2's file is visible"
cmp "$T/src/ds/sub/big.bin" "$T/mnt2/datasets/ds/sub/big.bin" ||
	fail "revision 1 reads wrong after the failed push"
mount_stop "$T/mnt2"

step "re-run: resumes without uploading again"
mark=$(log_lines)
run_ok push "$T/repo" s3://pub/plat
grep -q "pushed revision 2 (bucket had 1)" "$LAST_OUT" ||
	fail "push says: $(cat "$LAST_OUT")"
again=$(comm -12 <(echo "$first") <(puts_since "$mark"))
[ -z "$again" ] || fail "uploaded again: $again"
run_ok as_alice "$AIDATA" verify s3://pub/plat --pubkey "$PUB"
grep -q "manifest revision 2" "$LAST_OUT" || fail "the bucket is not at revision 2"
mount_start s3://pub/plat "$T/mnt3" "$T/fs3.log" \
	"pubkey=$PUB,cache=$T/cache3,endpoint=$RGW_URL,s3_credentials=$T/credentials"
cmp "$T/src/ds/sub/big2.bin" "$T/mnt3/datasets/ds/sub/big2.bin" ||
	fail "revision 2 reads wrong"
mount_stop "$T/mnt3"

step "rollback refused"
expect_fail_with "holds revision 2, later than the local 1; a push never rolls" \
	push "$T/repo-r1" s3://pub/plat
mount_stop "$T/mnt"
echo ok

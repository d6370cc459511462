#!/bin/bash
# Temporary credentials (AWS_SESSION_TOKEN, aws_session_token) against a
# real Ceph RGW with its STS: credentials from AssumeRole read a private
# bucket through aidata and through a mount (the token sent as
# x-amz-security-token, signed); the same keys without the token, or
# with an altered token, are refused with the object named; neither the
# temporary secret nor the token appears in any output, log,
# /proc/mounts, .aidata/stats or .aidata/status. And aidata revoke
# writes the bucket with them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init

SECRET=erin-secret-2c94aa1f

step "repository in a private bucket"
mkdir -p "$T/src/ds/sub"
head -c $((2 << 20)) /dev/urandom >"$T/src/ds/sub/blob.bin"
seq 1 30000 >"$T/src/ds/nums.txt"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key PUB=$T/keys/platform.pub
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo" --chunk-size 64K
RGW_STS=1 rgw_start || fail "radosgw does not start"
rgw_user erin AKERIN "$SECRET"
rgw_s3 AKERIN "$SECRET" PUT /priv >/dev/null
rgw_put_tree AKERIN "$SECRET" "$T/repo" /priv/plat

step "temporary credentials from STS"
rgw_sts_credentials erin AKERIN "$SECRET" || fail "no STS credentials from radosgw"
[ "$STS_AK" != AKERIN ] || fail "STS gave back the long-term key"
hidden() {
	! grep -qF -e "$STS_SK" -e "${STS_TOKEN:0:40}" -e "$SECRET" "$@" ||
		fail "a secret or the session token is in $*"
}
s3tmp() {
	env HOME="$T/home" AWS_ENDPOINT_URL="$RGW_URL" AWS_REGION=us-east-1 \
		AWS_ACCESS_KEY_ID="$STS_AK" AWS_SECRET_ACCESS_KEY="$STS_SK" "$@"
}

step "AWS_SESSION_TOKEN: aidata get and verify read the private bucket"
run_ok s3tmp AWS_SESSION_TOKEN="$STS_TOKEN" \
	"$AIDATA" get s3://priv/plat ds "$T/got" --pubkey "$PUB"
diff -r "$T/src/ds" "$T/got" || fail "aidata get with a session token differs"
run_ok s3tmp AWS_SESSION_TOKEN="$STS_TOKEN" \
	"$AIDATA" verify s3://priv/plat --pubkey "$PUB"
hidden "$LAST_OUT" "$LAST_ERR"

step "the same keys without the token, or with an altered one, are refused"
expect_fail_with "'s3://priv/plat/manifest'.*HTTP 403" \
	s3tmp "$AIDATA" ls s3://priv/plat --pubkey "$PUB"
hidden "$LAST_ERR"
# radosgw cannot decrypt it: 400 (InvalidArgument); AWS says 403
expect_fail_with "'s3://priv/plat/manifest'.*HTTP 40[03]" \
	s3tmp AWS_SESSION_TOKEN="${STS_TOKEN%????????}AAAAAAAA" \
	"$AIDATA" ls s3://priv/plat --pubkey "$PUB"
hidden "$LAST_ERR"

step "aws_session_token in a credentials file: a mount reads through it"
s3_credentials_file "$T/credentials" "$STS_AK" "$STS_SK" "$STS_TOKEN"
mount_start s3://priv/plat "$T/mnt" "$T/fs.log" \
	"pubkey=$PUB,cache=$T/cache,endpoint=$RGW_URL,s3_credentials=$T/credentials"
cmp "$T/src/ds/sub/blob.bin" "$T/mnt/datasets/ds/sub/blob.bin" ||
	fail "bytes read with a session token differ"
cmp "$T/src/ds/nums.txt" "$T/mnt/datasets/ds/nums.txt" ||
	fail "nums.txt read with a session token differs"
hidden /proc/mounts "$T/fs.log" "$T/mnt/.aidata/stats" "$T/mnt/.aidata/status"
tr '\0' ' ' <"/proc/$(mount_pid "$T/mnt")/cmdline" >"$T/cmdline"
hidden "$T/cmdline"
mount_stop "$T/mnt"
s3_credentials_file "$T/credentials-notoken" "$STS_AK" "$STS_SK"
mount_expect_fail "HTTP 403 \([A-Za-z]*\) from 's3://priv/plat/manifest'" \
	s3://priv/plat "$T/mnt" "$T/fs2.log" \
	"pubkey=$PUB,cache=$T/cache2,endpoint=$RGW_URL,s3_credentials=$T/credentials-notoken"
hidden "$T/fs2.log"

step "aidata revoke writes the bucket with temporary credentials"
run_ok s3tmp AWS_SESSION_TOKEN="$STS_TOKEN" \
	"$AIDATA" revoke s3://priv/plat --key "$KEY" leaked-1
grep -q "published revision 2" "$LAST_OUT" || fail "revoke says: $(cat "$LAST_OUT")"
hidden "$LAST_OUT" "$LAST_ERR"
hidden "$RGW_LOG"
echo ok

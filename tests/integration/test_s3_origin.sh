#!/bin/bash
# s3:// origins against a real Ceph RADOS Gateway on loopback: SigV4 with
# the right and wrong keys, a private bucket refused without credentials,
# an anonymous public bucket, a mount from RGW reading exact bytes, bad
# s3 settings refused clearly, and the secret key in no log, no error,
# not in /proc/mounts and not in .aidata/stats.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init

SECRET=s3cr3t-Alice-0123456789abcdefXYZ
BOB_SECRET=s3cr3t-Bob-9876543210
step "repository"
mkdir -p "$T/src/ds/sub"
head -c $((3 << 20)) /dev/urandom >"$T/src/ds/sub/blob.bin"
seq 1 50000 >"$T/src/ds/nums.txt"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
pack_into "$T/src" "$T/datasets.json" "$T/keys/platform.key" "$T/repo" \
	--chunk-size 64K
PUB=$T/keys/platform.pub

step "rgw"
rgw_start || fail "radosgw does not start"
rgw_user alice AKALICE "$SECRET"
rgw_user bob AKBOB "$BOB_SECRET"
rgw_s3 AKALICE "$SECRET" PUT /priv >/dev/null
rgw_s3 AKALICE "$SECRET" PUT /pub >/dev/null
rgw_public_bucket AKALICE "$SECRET" pub
rgw_put_tree AKALICE "$SECRET" "$T/repo" /priv/plat/v1
rgw_put_tree AKALICE "$SECRET" "$T/repo" /pub/plat
cat >"$T/credentials" <<EOF
# a comment
[default]
aws_access_key_id = AKBOB
aws_secret_access_key = $BOB_SECRET

[profile alice]
aws_access_key_id=AKALICE
aws_secret_access_key = $SECRET
[broken]
aws_access_key_id = AKALICE
EOF
chmod 600 "$T/credentials"

# aidata with the AWS variables only
s3env() {
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		-u AWS_PROFILE -u AWS_SHARED_CREDENTIALS_FILE \
		HOME="$T/home" AWS_ENDPOINT_URL="$RGW_URL" AWS_REGION=us-east-1 "$@"
}
mkdir -p "$T/home"
no_secret() {
	! grep -qF -e "$SECRET" -e "$BOB_SECRET" "$@" ||
		fail "a secret key is in $*"
}

step "signed requests: right key"
run_ok s3env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	"$AIDATA" get s3://priv/plat/v1 ds "$T/got" --pubkey "$PUB"
diff -r "$T/src/ds" "$T/got" || fail "aidata get s3:// differs from the source"
run_ok s3env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	"$AIDATA" verify s3://priv/plat/v1 --pubkey "$PUB"
no_secret "$LAST_OUT" "$LAST_ERR"

step "signed requests: wrong secret, other user, no credentials"
expect_fail_with "SignatureDoesNotMatch" \
	s3env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY=not-the-secret \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
grep -q "s3://priv/plat/v1/manifest" "$LAST_ERR" ||
	fail "the error does not name the object"
! grep -q not-the-secret "$LAST_ERR" || fail "the wrong secret is shown"
expect_fail_with "InvalidAccessKeyId" \
	s3env AWS_ACCESS_KEY_ID=AKNOBODY AWS_SECRET_ACCESS_KEY=x \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "AccessDenied" \
	s3env AWS_ACCESS_KEY_ID=AKBOB AWS_SECRET_ACCESS_KEY="$BOB_SECRET" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
no_secret "$LAST_ERR"
expect_fail_with "HTTP 403 \(AccessDenied\)" \
	s3env "$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "NoSuchBucket" \
	s3env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
	"$AIDATA" ls s3://nosuchbucket/plat --pubkey "$PUB"

step "anonymous: a public bucket"
run_ok s3env "$AIDATA" ls s3://pub/plat ds --pubkey "$PUB"
grep -q nums.txt "$LAST_OUT" || fail "anonymous ls of s3://pub/plat lacks nums.txt"

step "credentials file and profile (the variables aidata reads)"
run_ok s3env AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=alice \
	"$AIDATA" ls s3://priv/plat/v1 ds --pubkey "$PUB"
grep -q nums.txt "$LAST_OUT" || fail "ls with profile alice lacks nums.txt"
expect_fail_with "AccessDenied" \
	s3env AWS_SHARED_CREDENTIALS_FILE="$T/credentials" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
mkdir -p "$T/home/.aws"
cp "$T/credentials" "$T/home/.aws/credentials"
run_ok s3env AWS_PROFILE=alice "$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"

step "bad s3 settings"
expect_fail_with "no profile \[carol\]" \
	s3env AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=carol \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "profile \[broken\] lacks aws_secret_access_key" \
	s3env AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=broken \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "s3 credentials '$T/nofile': No such file" \
	s3env AWS_SHARED_CREDENTIALS_FILE="$T/nofile" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
printf '[alice\naws_access_key_id = A\n' >"$T/badini"
expect_fail_with "line 1: a section header without" \
	s3env AWS_SHARED_CREDENTIALS_FILE="$T/badini" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not" \
	s3env AWS_ACCESS_KEY_ID=AKALICE \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "'Bad_Bucket' is not a bucket name" \
	s3env "$AIDATA" ls s3://Bad_Bucket/plat --pubkey "$PUB"
expect_fail_with "credentials do not go in the URL" \
	s3env "$AIDATA" ls "s3://AKALICE:$SECRET@priv/plat" --pubkey "$PUB"
no_secret "$LAST_ERR"
expect_fail_with "has a path" \
	env AWS_ENDPOINT_URL="$RGW_URL/x" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "is not http://HOST" \
	env AWS_ENDPOINT_URL="ftp://127.0.0.1" \
	"$AIDATA" ls s3://priv/plat/v1 --pubkey "$PUB"
expect_fail_with "the prefix may hold only" \
	s3env "$AIDATA" ls 's3://priv/pl at' --pubkey "$PUB"

step "mount from rgw with a credentials file and a profile"
# the daemon sees no AWS variables: only its options
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
	AWS_ENDPOINT_URL_S3 AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_REGION
export HOME=$T/home
rm -f "$T/home/.aws/credentials"
mount_start s3://priv/plat/v1 "$T/mnt" "$T/fs.log" \
	"pubkey=$PUB,cache=$T/cache,endpoint=$RGW_URL,region=us-east-1" \
	"s3_credentials=$T/credentials,s3_profile=alice"
cmp "$T/src/ds/sub/blob.bin" "$T/mnt/datasets/ds/sub/blob.bin" ||
	fail "bytes read through the mount differ"
cmp "$T/src/ds/nums.txt" "$T/mnt/datasets/ds/nums.txt" ||
	fail "nums.txt read through the mount differs"
grep -q "credentials: '$T/credentials' profile \[alice\]" "$T/fs.log" ||
	fail "the log does not say where the credentials came from"
no_secret /proc/mounts /proc/self/mountinfo "$T/fs.log" \
	"$T/mnt/.aidata/stats" "$T/mnt/.aidata/status"
grep -q AKALICE /proc/mounts && fail "the access key is in /proc/mounts"
tr '\0' ' ' <"/proc/$(mount_pid "$T/mnt")/cmdline" >"$T/cmdline"
no_secret "$T/cmdline"
mount_stop "$T/mnt"

step "virtual-host style: BUCKET.localhost (radosgw's dns name), signed"
mount_start s3://priv/plat/v1 "$T/mnt" "$T/fs-vh.log" \
	"pubkey=$PUB,cache=$T/cache-vh,endpoint=http://localhost:$RGW_PORT" \
	"s3_credentials=$T/credentials,s3_profile=alice,s3_virtual_host"
cmp "$T/src/ds/sub/blob.bin" "$T/mnt/datasets/ds/sub/blob.bin" ||
	fail "bytes read virtual-host style differ"
grep -q "virtual-host style" "$T/fs-vh.log" || fail "the log does not say the style"
# the bucket is in the host name, not in the path
grep -q '"GET /plat/v1/manifest HTTP' "$RGW_LOG" ||
	fail "radosgw saw no virtual-host style request"
mount_stop "$T/mnt"

step "mount refused: wrong profile, no credentials"
mount_expect_fail "no profile \[carol\]" s3://priv/plat/v1 "$T/mnt" \
	"$T/fs2.log" "pubkey=$PUB,cache=$T/cache2,endpoint=$RGW_URL" \
	"s3_credentials=$T/credentials,s3_profile=carol"
mount_expect_fail "HTTP 403 \(AccessDenied\) from 's3://priv/plat/v1/manifest'" \
	s3://priv/plat/v1 "$T/mnt" "$T/fs3.log" \
	"pubkey=$PUB,cache=$T/cache3,endpoint=$RGW_URL"

step "mount of a public bucket, anonymous"
mount_start s3://pub/plat "$T/mnt" "$T/fs4.log" \
	"pubkey=$PUB,cache=$T/cache4,endpoint=$RGW_URL"
cmp "$T/src/ds/sub/blob.bin" "$T/mnt/datasets/ds/sub/blob.bin" ||
	fail "bytes read anonymously differ"
grep -q "credentials: none (anonymous)" "$T/fs4.log" ||
	fail "the log does not say the requests are anonymous"
mount_stop "$T/mnt"
no_secret "$RGW_LOG"
echo ok

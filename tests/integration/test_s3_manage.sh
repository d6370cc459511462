#!/bin/bash
# aidata revoke and grant-node directly on an s3:// repository (a real
# Ceph RGW on loopback): the sealed key and the next manifest are written
# into the bucket under its lock object, and a mount from the bucket
# honours both; aidata verify reads the new revision. Refused with the
# repository unchanged and no lock left behind: another publisher's lock
# (and --force-unlock), wrong credentials, a missing bucket, an empty
# prefix, another platform's key. A format-1 manifest in the bucket is
# upgraded (its root catalog measured from the bucket). And aidata push
# from the local copy refuses to undo a revocation made in the bucket
# until the local repository revokes the same credential.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init

SECRET=carol-secret-7b1e55d0

step "repository: an open and a secure dataset, pushed to the bucket"
mkdir -p "$T/src/ds" "$T/src/vault"
seq 1 20000 >"$T/src/ds/nums.txt"
head -c $((1 << 20)) /dev/urandom >"$T/src/vault/scan.bin"
mk_dataset_json "$T/datasets.json" ds:science:text:open \
	vault:medicine:binary:secure
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key PUB=$T/keys/platform.pub
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo"
run_ok "$AIDATA" node-keygen --out "$T/node"
NODE_ID=$(sed -n 's/^node id \([0-9a-f]*\)$/\1/p' "$LAST_OUT")
[ -n "$NODE_ID" ] || fail "node-keygen printed no node id"
run_ok "$AIDATA" token issue --key "$KEY" --sub job --org tests \
	--jti "job-$$" --scope shared,secure --datasets ds,vault --ttl 1d
cp "$LAST_OUT" "$T/token"

rgw_start || fail "radosgw does not start"
rgw_user carol AKCAROL "$SECRET"
rgw_user dave AKDAVE dave-secret
rgw_s3 AKCAROL "$SECRET" PUT /pub >/dev/null
s3_credentials_file "$T/credentials" AKCAROL "$SECRET"
as_carol() {
	env AWS_ACCESS_KEY_ID=AKCAROL AWS_SECRET_ACCESS_KEY="$SECRET" \
		AWS_ENDPOINT_URL="$RGW_URL" "$@"
}
run_ok as_carol "$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB"
bucket_get() { rgw_s3 AKCAROL "$SECRET" GET "/pub/plat/$1"; }
no_lock() {
	! bucket_get lock >/dev/null 2>&1 || fail "the lock object is left behind"
}
MOUNT_OPTS="pubkey=$PUB,endpoint=$RGW_URL,s3_credentials=$T/credentials"
MOUNT_OPTS+=",token=$T/token,node_key=$T/node/node.key"

step "without a grant, the node cannot read the secure dataset"
mount_start s3://pub/plat "$T/mnt0" "$T/fs0.log" "$MOUNT_OPTS,cache=$T/cache0"
cmp "$T/src/ds/nums.txt" "$T/mnt0/datasets/ds/nums.txt" ||
	fail "the open dataset reads wrong"
! cat "$T/mnt0/datasets/vault/scan.bin" >/dev/null 2>"$T/err0" ||
	fail "a secure file opened without its key sealed to the node"
mount_stop "$T/mnt0"

step "grant-node on s3://: the sealed key is written into the bucket"
run_ok as_carol "$AIDATA" grant-node s3://pub/plat --key "$KEY" \
	--dataset vault --node-pub "$T/node/node.pub"
grep -qF "granted dataset 'vault' to node $NODE_ID: wrote 's3://pub/plat/keys/vault/$NODE_ID'" \
	"$LAST_OUT" || fail "grant-node says: $(cat "$LAST_OUT")"
bucket_get "keys/vault/$NODE_ID" >"$T/sealed" || fail "no sealed key in the bucket"
[ -s "$T/sealed" ] || fail "the sealed key object is empty"
[ ! -e "$T/repo/keys/vault/$NODE_ID" ] || fail "the local repository was written"
no_lock
mount_start s3://pub/plat "$T/mnt1" "$T/fs1.log" "$MOUNT_OPTS,cache=$T/cache1"
cmp "$T/src/vault/scan.bin" "$T/mnt1/datasets/vault/scan.bin" ||
	fail "the secure file does not read through the grant made in the bucket"
mount_stop "$T/mnt1"

step "revoke on s3://: the next revision, in the bucket"
run_ok as_carol "$AIDATA" revoke s3://pub/plat --key "$KEY" "job-$$"
grep -q "published revision 2 with 1 revoked credentials" "$LAST_OUT" ||
	fail "revoke says: $(cat "$LAST_OUT")"
no_lock
run_ok as_carol "$AIDATA" verify s3://pub/plat --pubkey "$PUB"
grep -q "manifest revision 2" "$LAST_OUT" || fail "the bucket is not at revision 2"
bucket_get manifest | grep -qx "revoked job-$$" ||
	fail "the bucket's manifest does not revoke the credential"
[ "$(manifest_revision "$T/repo")" = 1 ] || fail "the local repository changed"
mount_start s3://pub/plat "$T/mnt2" "$T/fs2.log" "$MOUNT_OPTS,cache=$T/cache2"
[ "$(cat "$T/mnt2/.aidata/revision")" = 2 ] || fail "the mount is not at revision 2"
! cat "$T/mnt2/datasets/vault/scan.bin" >/dev/null 2>&1 ||
	fail "a revoked credential still opens the secure dataset"
getfattr --only-values -n user.aidata.access "$T/mnt2/datasets/vault/scan.bin" \
	>"$T/access" 2>/dev/null || true
grep -q "revoked" "$T/access" ||
	fail "user.aidata.access says '$(cat "$T/access")', not revoked"
cmp "$T/src/ds/nums.txt" "$T/mnt2/datasets/ds/nums.txt" ||
	fail "the open dataset reads wrong at revision 2"
mount_stop "$T/mnt2"

step "push from the local copy refuses to undo the revocation"
expect_fail_with "holds revision 2, later than the local 1" \
	as_carol "$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB"
run_ok "$AIDATA" revoke "$T/repo" --key "$KEY" other-1
expect_fail_with "holds another manifest of revision 2 than the local one" \
	as_carol "$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB"
run_ok "$AIDATA" revoke "$T/repo" --key "$KEY" other-2
expect_fail_with "revokes credential 'job-$$', which the local repository does not" \
	as_carol "$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB"
bucket_get manifest | grep -qx "revoked job-$$" ||
	fail "a refused push changed the bucket's manifest"
no_lock
run_ok "$AIDATA" revoke "$T/repo" --key "$KEY" "job-$$"
run_ok as_carol "$AIDATA" push "$T/repo" s3://pub/plat --pubkey "$PUB"
grep -q "pushed revision 4 (bucket had 2)" "$LAST_OUT" ||
	fail "push says: $(cat "$LAST_OUT")"
bucket_get "keys/vault/$NODE_ID" | cmp -s - "$T/sealed" ||
	fail "the push removed or changed the grant made in the bucket"

step "refusals leave the bucket as it was, and no lock"
bucket_get manifest >"$T/m-before"
printf 'aidata push on elsewhere.example pid 1 since 0\n' >"$T/lock"
rgw_s3_body AKCAROL "$SECRET" PUT /pub/plat/lock "$T/lock" >/dev/null
expect_fail_with "locked by another publisher \(object 'lock': aidata push on elsewhere.example pid 1" \
	as_carol "$AIDATA" revoke s3://pub/plat --key "$KEY" late-1
expect_fail_with "locked by another publisher" \
	as_carol "$AIDATA" grant-node s3://pub/plat --key "$KEY" \
	--dataset vault --node-pub "$T/node/node.pub"
bucket_get manifest | cmp -s - "$T/m-before" ||
	fail "a locked bucket's manifest changed"
run_ok as_carol "$AIDATA" revoke s3://pub/plat --key "$KEY" --force-unlock late-1
grep -q "published revision 5" "$LAST_OUT" || fail "revoke says: $(cat "$LAST_OUT")"
no_lock
bucket_get manifest >"$T/m-before"
expect_fail_with "PUT 's3://pub/plat/lock'.*HTTP 403 \(SignatureDoesNotMatch\)" \
	env AWS_ACCESS_KEY_ID=AKCAROL AWS_SECRET_ACCESS_KEY=wrong \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" revoke s3://pub/plat --key "$KEY" x
! grep -q "$SECRET" "$LAST_ERR" || fail "a secret is in the error"
expect_fail_with "PUT 's3://pub/plat/lock'.*HTTP 403 \(AccessDenied\)" \
	env AWS_ACCESS_KEY_ID=AKDAVE AWS_SECRET_ACCESS_KEY=dave-secret \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" grant-node s3://pub/plat \
	--key "$KEY" --dataset vault --node-pub "$T/node/node.pub"
! grep -q dave-secret "$LAST_ERR" || fail "a secret is in the error"
expect_fail_with "HTTP 404 \(NoSuchBucket\)" \
	as_carol "$AIDATA" revoke s3://nobucket/plat --key "$KEY" x
expect_fail_with "'s3://pub/empty' has no manifest: not an aidata repository" \
	as_carol "$AIDATA" revoke s3://pub/empty --key "$KEY" x
rgw_s3 AKCAROL "$SECRET" GET /pub/empty/lock >/dev/null 2>&1 &&
	fail "a failed revoke left its lock object"
run_ok "$AIDATA" keygen --out "$T/other"
expect_fail_with "'s3://pub/plat' was signed by a different platform key" \
	as_carol "$AIDATA" revoke s3://pub/plat --key "$T/other/platform.key" x
expect_fail_with "is for s3:// repositories" \
	"$AIDATA" revoke "$T/repo" --key "$KEY" --force-unlock x
bucket_get manifest | cmp -s - "$T/m-before" || fail "a refused revoke changed the bucket"
no_lock

step "a format-1 manifest in the bucket is upgraded: its root catalog measured there"
bucket_get manifest | head -n -1 |
	sed -e 's/^aidata-manifest 2$/aidata-manifest 1/' -e '/^root-catalog-size /d' \
		>"$T/v1.body"
grep -q '^aidata-manifest 1$' "$T/v1.body" || fail "cannot make a format-1 manifest"
manifest_sign "$T/v1.body" "$KEY" "$T/v1.manifest"
rgw_s3_body AKCAROL "$SECRET" PUT /pub/plat/manifest "$T/v1.manifest" >/dev/null
run_ok as_carol "$AIDATA" revoke s3://pub/plat --key "$KEY" late-2
bucket_get manifest >"$T/m6"
grep -qx 'aidata-manifest 2' "$T/m6" || fail "not upgraded to format 2"
ROOT=$(sed -n 's/^root-catalog \([0-9a-f]*\)$/\1/p' "$T/m6")
[ -n "$ROOT" ] || fail "no root catalog in the new manifest"
size=$(rgw_s3 AKCAROL "$SECRET" GET "/pub/plat/catalog/$ROOT" | wc -c)
grep -qx "root-catalog-size $size" "$T/m6" ||
	fail "the signed root catalog size is not the bucket's object's ($size)"
run_ok as_carol "$AIDATA" verify s3://pub/plat --pubkey "$PUB"
no_lock
echo ok

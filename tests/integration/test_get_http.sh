#!/bin/bash
# aidata ls/get on file:// and http:// repositories use the mount's fetch
# code (cache/): byte-identical extraction, and clear failures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/nginx.sh"
: "${AIDATA:=$SRCDIR/build/tools/aidata}"
T=$(mktemp -d)
trap 'nginx_stop; rm -rf "$T"' EXIT

mkdir -p "$T/src/ds/sub"
head -c $((3 << 20)) /dev/urandom >"$T/src/ds/sub/blob.bin"
seq 1 50000 >"$T/src/ds/nums.txt"
ln -s sub/blob.bin "$T/src/ds/link"
mk_dataset_json "$T/datasets.json" ds:science:text:open
"$AIDATA" keygen --out "$T/keys" >/dev/null
"$AIDATA" pack "$T/src" --datasets "$T/datasets.json" \
	--key "$T/keys/platform.key" --out "$T/repo" --quiet --chunk-size 64K

nginx_start "$T/repo"
for url in "file://$T/repo" "$NGINX_URL"; do
	rm -rf "$T/out"
	"$AIDATA" ls "$url" ds --pubkey "$T/keys/platform.pub" >"$T/ls.txt"
	grep -q "nums.txt" "$T/ls.txt" || fail "ls $url lacks nums.txt"
	"$AIDATA" get "$url" ds "$T/out" --pubkey "$T/keys/platform.pub" \
		>/dev/null
	diff -r "$T/src/ds" "$T/out" || fail "get $url differs from the source"
	[ "$(readlink "$T/out/link")" = sub/blob.bin ] || fail "symlink lost"
done
expect_fail_with "not a PEM Ed25519 public key" \
	"$AIDATA" ls "$NGINX_URL" --pubkey "$SRCDIR/tests/integration/lib.sh"
"$AIDATA" keygen --out "$T/other" >/dev/null
expect_fail_with "signature does not verify" \
	"$AIDATA" ls "$NGINX_URL" --pubkey "$T/other/platform.pub"
nginx_stop
expect_fail_with "manifest" \
	"$AIDATA" ls "$NGINX_URL" --pubkey "$T/keys/platform.pub"
echo ok

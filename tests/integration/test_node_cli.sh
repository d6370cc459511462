#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The secure tier's publisher commands: `aidata node-keygen` makes a
# node's X25519 key pair (and never overwrites one), `aidata grant-node`
# seals a dataset's key to a node as REPO/keys/<dataset>/<node id> (six
# signed lines), refuses a dataset without a key with a clear message,
# and no command prints key material. When the openssl command is
# installed, the node id and the platform's signature are also checked
# with it, independently of aidata's code.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
umask 022

# Every byte any command printed, checked for key material at the end.
ALL_OUT=$T/all-output
: >"$ALL_OUT"
keep() {
	cat -- "$LAST_OUT" "$LAST_ERR" >>"$ALL_OUT"
}

# exit_code CODE cmd...: the command exits with exactly CODE.
exit_code() {
	local want=$1 rc=0
	shift
	LAST_OUT="$T/last.out"
	LAST_ERR="$T/last.err"
	"$@" >"$LAST_OUT" 2>"$LAST_ERR" || rc=$?
	keep
	if [ "$rc" -ne "$want" ]; then
		show "$LAST_OUT" stdout
		show "$LAST_ERR" stderr
		fail "exit $rc, expected $want, from: $*"
	fi
}

mode_of() {
	stat -c %a -- "$1"
}

have_openssl=
command -v openssl >/dev/null 2>&1 && have_openssl=1

run_ok "$AIDATA" keygen --out "$T/platform"
keep
KEY=$T/platform/platform.key
PUB=$T/platform/platform.pub

note "node-keygen"
exit_code 0 "$AIDATA" node-keygen --help
grep -q 'node-keygen --out DIR' "$LAST_OUT" || fail "node-keygen --help"
exit_code 2 "$AIDATA" node-keygen
exit_code 2 "$AIDATA" node-keygen --out "$T/x" extra
run_ok "$AIDATA" node-keygen --out "$T/node"
keep
NODE_KEY=$T/node/node.key
NODE_PUB=$T/node/node.pub
[ -f "$NODE_KEY" ] || fail "node.key missing"
[ -f "$NODE_PUB" ] || fail "node.pub missing"
[ "$(mode_of "$NODE_KEY")" = 600 ] ||
	fail "node.key has mode $(mode_of "$NODE_KEY"), expected 600"
[ "$(mode_of "$NODE_PUB")" = 644 ] ||
	fail "node.pub has mode $(mode_of "$NODE_PUB"), expected 644"
grep -q -- '-----BEGIN PRIVATE KEY-----' "$NODE_KEY" || fail "node.key PEM"
grep -q -- '-----BEGIN PUBLIC KEY-----' "$NODE_PUB" || fail "node.pub PEM"
ID=$(sed -n 's/^node id \([0-9a-f]\{16\}\)$/\1/p' "$LAST_OUT")
[ -n "$ID" ] || {
	show "$LAST_OUT" stdout
	fail "node-keygen did not print 'node id <16 hex>'"
}
if [ -n "$have_openssl" ]; then
	# SHA-256 of the 32 raw bytes ending the SubjectPublicKeyInfo DER
	want=$(openssl pkey -pubin -in "$NODE_PUB" -outform DER |
		tail -c 32 | sha256sum | cut -c1-16)
	[ "$ID" = "$want" ] || fail "node id $ID, openssl says $want"
	openssl pkey -in "$NODE_KEY" -noout -text 2>/dev/null |
		grep -q X25519 || fail "node.key is not an X25519 key"
fi

# never overwrite: the second run fails and changes nothing
sum_before=$(sha256sum "$NODE_KEY" "$NODE_PUB")
expect_fail_with 'already exists' "$AIDATA" node-keygen --out "$T/node"
keep
[ "$(sha256sum "$NODE_KEY" "$NODE_PUB")" = "$sum_before" ] ||
	fail "node-keygen overwrote a key"
# only one of the two files there is enough to refuse
mkdir "$T/half"
cp "$NODE_PUB" "$T/half/node.pub"
expect_fail_with 'already exists' "$AIDATA" node-keygen --out "$T/half"
keep
[ ! -e "$T/half/node.key" ] || fail "node-keygen wrote beside a node.pub"

run_ok "$AIDATA" node-keygen --out "$T/node2"
keep
ID2=$(sed -n 's/^node id //p' "$LAST_OUT")
[ "$ID2" != "$ID" ] || fail "two node keys, one id"

note "grant-node"
REPO=$T/repo
mkdir "$REPO"
DS=chest-xray
exit_code 0 "$AIDATA" grant-node --help
grep -q 'grant-node REPO' "$LAST_OUT" || fail "grant-node --help"
exit_code 2 "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS"
exit_code 2 "$AIDATA" grant-node --key "$KEY" --dataset "$DS" \
	--node-pub "$NODE_PUB"
for bad in 'a/b' '..' '.' ''; do
	exit_code 2 "$AIDATA" grant-node "$REPO" --key "$KEY" \
		--dataset "$bad" --node-pub "$NODE_PUB"
	stderr_has 'invalid dataset name'
done

# no key for the dataset yet: the clear message, nothing written
expect_fail_with "no key for dataset '$DS' \(is it a secure dataset packed with this platform key\?\)" \
	"$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS" \
	--node-pub "$NODE_PUB"
keep
[ ! -e "$REPO/keys" ] || fail "grant-node without a key wrote keys/"

# The dataset key where aidata pack keeps it (made by hand here).
mkdir -m 0700 "$T/platform/dataset-keys"
DKEY_HEX=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
[ ${#DKEY_HEX} -eq 64 ] || fail "cannot make a test key"
(
	umask 077
	printf '%s\n' "$DKEY_HEX" >"$T/platform/dataset-keys/$DS.key"
)

# wrong kinds of keys are named
expect_fail_with 'not an X25519 public key' "$AIDATA" grant-node "$REPO" \
	--key "$KEY" --dataset "$DS" --node-pub "$PUB"
keep
expect_fail_with 'not an Ed25519 private key' "$AIDATA" grant-node "$REPO" \
	--key "$NODE_KEY" --dataset "$DS" --node-pub "$NODE_PUB"
keep
expect_fail_with 'not a repository directory' "$AIDATA" grant-node \
	"$T/missing" --key "$KEY" --dataset "$DS" --node-pub "$NODE_PUB"
keep

run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS" \
	--node-pub "$NODE_PUB"
keep
OBJ=$REPO/keys/$DS/$ID
[ -f "$OBJ" ] || fail "grant-node did not write keys/$DS/$ID"
grep -qF -- "$OBJ" "$LAST_OUT" || fail "grant-node did not print the path"
[ "$(mode_of "$OBJ")" = 644 ] || fail "sealed key mode $(mode_of "$OBJ")"

# check_object FILE DATASET ID: the six lines, in order, nothing else.
check_object() {
	local f=$1 ds=$2 id=$3 n
	n=$(wc -l <"$f")
	[ "$n" -eq 6 ] || fail "$f has $n lines, expected 6"
	[ "$(tail -c 1 "$f" | od -An -tx1 | tr -d ' ')" = 0a ] ||
		fail "$f does not end with a newline"
	local b64='[A-Za-z0-9+/]'
	local -a want=(
		'^aidata-sealed-key 1$'
		"^dataset $ds\$"
		"^node $id\$"
		"^ephemeral ${b64}{43}=\$"
		"^sealed ${b64}{80}\$"
		"^signature ${b64}{86}==\$"
	)
	local i=0 line
	while IFS= read -r line; do
		[[ $line =~ ${want[i]} ]] ||
			fail "$f line $((i + 1)) '$line' !~ /${want[i]}/"
		i=$((i + 1))
	done <"$f"
	[ "$i" -eq 6 ] || fail "$f: read $i lines"
}
check_object "$OBJ" "$DS" "$ID"

# verify_signature FILE: the platform's Ed25519 signature over the first
# five lines, checked by openssl.
verify_signature() {
	[ -n "$have_openssl" ] || return 0
	head -n 5 "$1" >"$T/signed"
	sed -n 's/^signature //p' "$1" | base64 -d >"$T/sig"
	openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$T/signed" \
		-sigfile "$T/sig" >/dev/null ||
		fail "openssl does not verify the signature of $1"
	# and a changed byte does not verify
	sed 's/^dataset /dataset x/' "$T/signed" >"$T/signed.bad"
	if openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin \
		-in "$T/signed.bad" -sigfile "$T/sig" >/dev/null 2>&1; then
		fail "openssl verifies a changed object"
	fi
}
verify_signature "$OBJ"

# again: replaced atomically (a fresh ephemeral key), no temp files left
cp "$OBJ" "$T/first"
run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS" \
	--node-pub "$NODE_PUB"
keep
check_object "$OBJ" "$DS" "$ID"
verify_signature "$OBJ"
cmp -s "$OBJ" "$T/first" && fail "re-granting wrote identical bytes"
[ "$(find "$REPO/keys" -type f | wc -l)" -eq 1 ] || {
	find "$REPO/keys" >&2
	fail "stray files under keys/"
}

# a second node gets its own object; a name with a space and UTF-8 works
run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS" \
	--node-pub "$T/node2/node.pub"
keep
check_object "$REPO/keys/$DS/$ID2" "$DS" "$ID2"
DS2='Radiologie – Thorax'
(
	umask 077
	printf '%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
		>"$T/platform/dataset-keys/$DS2.key"
)
run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset "$DS2" \
	--node-pub "$NODE_PUB"
keep
check_object "$REPO/keys/$DS2/$ID" "$DS2" "$ID"
verify_signature "$REPO/keys/$DS2/$ID"

# malformed key files are refused, not used
for bad in "${DKEY_HEX^^}" "${DKEY_HEX:0:63}" "${DKEY_HEX}0"; do
	(
		umask 077
		printf '%s\n' "$bad" >"$T/platform/dataset-keys/bad.key"
	)
	expect_fail_with "key of dataset 'bad': malformed key file" \
		"$AIDATA" grant-node "$REPO" --key "$KEY" --dataset bad \
		--node-pub "$NODE_PUB"
	keep
done
printf '%s' "$DKEY_HEX" >"$T/platform/dataset-keys/bad.key"
expect_fail_with "malformed key file" "$AIDATA" grant-node "$REPO" \
	--key "$KEY" --dataset bad --node-pub "$NODE_PUB"
keep
[ ! -e "$REPO/keys/bad" ] || fail "grant-node with a bad key wrote keys/bad"

note "no key material in any output"
# secrets: the dataset key (hex, base64) and the private keys' PEM bodies
secrets=("$DKEY_HEX" "${DKEY_HEX^^}")
esc=
for ((i = 0; i < 64; i += 2)); do
	esc+="\\x${DKEY_HEX:i:2}"
done
# shellcheck disable=SC2059 # the format is the \xHH escapes
secrets+=("$(printf "$esc" | base64 -w0)")
while IFS= read -r line; do
	case $line in
	-----*) ;;
	*) secrets+=("$line") ;;
	esac
done < <(cat "$NODE_KEY" "$T/node2/node.key" "$KEY")
[ -s "$ALL_OUT" ] || fail "no output collected?"
for s in "${secrets[@]}"; do
	[ -n "$s" ] || continue
	if grep -qF -- "$s" "$ALL_OUT"; then
		fail "key material appears in a command's output"
	fi
	# and not in the published objects either
	if grep -rqF -- "$s" "$REPO"; then
		fail "key material appears in the repository"
	fi
done
echo "ok"

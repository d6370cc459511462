#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# verify finds every kind of damage and names the damaged object: a byte
# changed in a shard (stored raw or zstd-compressed), in a catalog, in the
# manifest's signature or its revision line; a truncated or deleted shard;
# a deleted catalog. get never writes wrong bytes from a damaged shard.
# The undamaged original keeps verifying.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
test_keys
S=$T/src
GOOD=$T/good

# Three revisions, one dataset added each time, so the shards of each
# dataset are known: rand (incompressible, stored raw, several shards),
# text (compressible: zstd frames), misc (small files in a shared chunk).
mkdir -p "$S/rand" "$S/text/sub" "$S/misc/d"
random_file "$S/rand/victim.bin" $((3 * 1024 * 1024))
random_file "$S/rand/bystander.bin" 300000
for i in $(seq 1 4); do
	for j in $(seq 1 4000); do
		printf 'line %d of text file %d: the quick brown fox\n' "$j" "$i"
	done >"$S/text/sub/t$i.txt"
done
for i in $(seq 1 20); do printf 'misc %d\n' "$i" >"$S/misc/d/m$i"; done
ln -s d/m1 "$S/misc/link"

objs_before=$T/objs.before
: >"$objs_before"
ds_specs=()
for ds in rand:test:binary:open text:test:text:open misc:test:mixed:shared; do
	ds_specs+=("$ds")
	rm -rf "$T/stage"
	mkdir "$T/stage"
	for d in "${ds_specs[@]}"; do cp -a "$S/${d%%:*}" "$T/stage/"; done
	mk_dataset_json "$T/datasets.json" "${ds_specs[@]}"
	run_ok "$AIDATA" pack "$T/stage" --datasets "$T/datasets.json" \
		--key "$KEY" --out "$GOOD" --chunk-size 64K --shard-size 1M --quiet
	objects "$GOOD" >"$T/objs.after"
	comm -13 "$objs_before" "$T/objs.after" | sed -n 's|^data/../||p' \
		>"$T/shards.${ds%%:*}"
	cp "$T/objs.after" "$objs_before"
	[ -s "$T/shards.${ds%%:*}" ] || fail "no shard for dataset ${ds%%:*}"
done
[ "$(wc -l <"$T/shards.rand")" -ge 3 ] ||
	fail "3 MiB random in 1M shards should give >= 3 shards"
verify_ok "$GOOD" "$PUB"
ROOT=$(manifest_root "$GOOD")
# dataset name -> first 16 hex digits of its catalog (verify's report)
cat_prefix() {
	sed -nE "s/^dataset +$1 +[a-z]+ +catalog ([0-9a-f]{16}).*/\\1/p" \
		"$T/good.verify"
}
cp "$LAST_OUT" "$T/good.verify"
TEXT_CAT=$(cd "$GOOD/catalog" && ls "$(cat_prefix text)"*)
MISC_CAT=$(cd "$GOOD/catalog" && ls "$(cat_prefix misc)"*)
if [ "${#TEXT_CAT}" -ne 64 ] || [ "${#MISC_CAT}" -ne 64 ]; then
	fail "cannot find the catalogs of text and misc"
fi
tree_digest "$GOOD" >"$T/good.digest"

# shard_path REPO HEX: the path of shard HEX in REPO
shard_path() {
	printf '%s/data/%s/%s' "$1" "${2:0:2}" "$2"
}

# flip_byte FILE OFFSET: invert every bit of one byte.
flip_byte() {
	local v
	v=$(od -An -tu1 -j "$2" -N1 -- "$1" | tr -d ' ')
	[ -n "$v" ] || fail "test bug: $1 has no byte at $2"
	# shellcheck disable=SC2059
	printf "\\$(printf %03o $((v ^ 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
	[ "$(od -An -tu1 -j "$2" -N1 -- "$1" | tr -d ' ')" -eq $((v ^ 255)) ] ||
		fail "test bug: flipping byte $2 of $1 failed"
}

# fresh NAME: a new copy of the good repository.
fresh() {
	rm -rf "${T:?}/$1"
	cp -a "$GOOD" "$T/$1"
	printf '%s' "$T/$1"
}

# expect_verify_fails REPO PATTERN WHAT
expect_verify_fails() {
	expect_fail_with "$2" "$AIDATA" verify "$1" --pubkey "$PUB"
	if grep -q ": ok, " "$LAST_OUT"; then
		show "$LAST_OUT" stdout
		fail "$3: verify printed an ok summary"
	fi
	note "$3: verify failed and named it"
}

# ---------------------------------------------------------------- shards
RAND_SHARD=$(head -n1 "$T/shards.rand")
R=$(fresh shard-byte)
f=$(shard_path "$R" "$RAND_SHARD")
flip_byte "$f" $(($(stat -c %s "$f") / 2))
expect_verify_fails "$R" "$RAND_SHARD" "one byte in the middle of a raw shard"

note "get from the damaged shard"
expect_fail_with "$RAND_SHARD" \
	"$AIDATA" get "$R" rand/victim.bin "$T/victim.out" --pubkey "$PUB"
[ ! -e "$T/victim.out" ] || fail "get left a damaged rand/victim.bin behind"
expect_fail_with "$RAND_SHARD" \
	"$AIDATA" get "$R" / "$T/all.out" --pubkey "$PUB"
[ ! -e "$T/all.out/rand/victim.bin" ] ||
	fail "get / left a damaged rand/victim.bin behind"
no_wrong_bytes "$T/all.out" "$S"
# what was not damaged is still extracted, correctly
cmp "$S/text/sub/t3.txt" "$T/all.out/text/sub/t3.txt" ||
	fail "get / skipped undamaged text/sub/t3.txt"
expect_fail_with "$RAND_SHARD" \
	"$AIDATA" get "$R" rand "$T/rand.out" --pubkey "$PUB"
[ ! -e "$T/rand.out/victim.bin" ] || fail "get rand left victim.bin behind"
no_wrong_bytes "$T/rand.out" "$S/rand"

TEXT_SHARD=$(head -n1 "$T/shards.text")
R=$(fresh text-shard-byte)
f=$(shard_path "$R" "$TEXT_SHARD")
flip_byte "$f" $(($(stat -c %s "$f") / 2))
expect_verify_fails "$R" "$TEXT_SHARD" "one byte in the middle of a zstd shard"
expect_fail_with "$TEXT_SHARD" \
	"$AIDATA" get "$R" text "$T/text.out" --pubkey "$PUB"
no_wrong_bytes "$T/text.out" "$S/text"
[ "$(find "$T/text.out" -type f | wc -l)" -lt 4 ] ||
	fail "get of text extracted all 4 files from a damaged shard"

R=$(fresh shard-truncated)
f=$(shard_path "$R" "$RAND_SHARD")
truncate -s $(($(stat -c %s "$f") / 2)) "$f"
expect_verify_fails "$R" "$RAND_SHARD" "a truncated shard"
expect_fail_with "$RAND_SHARD" \
	"$AIDATA" get "$R" rand/victim.bin "$T/victim2.out" --pubkey "$PUB"
[ ! -e "$T/victim2.out" ] || fail "get left a truncated rand/victim.bin"

R=$(fresh shard-last-byte)
MISC_SHARD=$(head -n1 "$T/shards.misc")
f=$(shard_path "$R" "$MISC_SHARD")
flip_byte "$f" $(($(stat -c %s "$f") - 1))
expect_verify_fails "$R" "$MISC_SHARD" "the last byte of a shard"

R=$(fresh shard-deleted)
rm "$(shard_path "$R" "$RAND_SHARD")"
expect_verify_fails "$R" "$RAND_SHARD" "a deleted shard"

# -------------------------------------------------------------- catalogs
R=$(fresh catalog-byte)
f=$R/catalog/$TEXT_CAT
flip_byte "$f" $(($(stat -c %s "$f") / 2))
expect_verify_fails "$R" "$TEXT_CAT" "one byte of a dataset catalog"
expect_fail_with "$TEXT_CAT" \
	"$AIDATA" get "$R" text "$T/textcat.out" --pubkey "$PUB"
[ ! -e "$T/textcat.out" ] || no_wrong_bytes "$T/textcat.out" "$S/text"

R=$(fresh root-catalog-byte)
f=$R/catalog/$ROOT
flip_byte "$f" $(($(stat -c %s "$f") / 2))
expect_verify_fails "$R" "$ROOT" "one byte of the root catalog"

R=$(fresh catalog-deleted)
rm "$R/catalog/$MISC_CAT"
expect_verify_fails "$R" "$MISC_CAT" "a deleted dataset catalog"

# -------------------------------------------------------------- manifest
sig_line=$(grep -n '^signature ' "$GOOD/manifest" | cut -d: -f1)
[ -n "$sig_line" ] || fail "the manifest has no signature line"

# set_manifest_char REPO OFFSET CHAR: replace one byte of the manifest.
set_manifest_char() {
	printf '%s' "$3" | dd of="$1/manifest" bs=1 seek="$2" conv=notrunc \
		status=none
}
sig_off=$(grep -bo '^signature ' "$GOOD/manifest" | cut -d: -f1)
# byte 20 of the base64 signature: mid-signature, no padding bits
off=$((sig_off + 10 + 20))
old=$(dd if="$GOOD/manifest" bs=1 skip="$off" count=1 status=none)
new=A
[ "$old" = A ] && new=B
R=$(fresh manifest-signature)
set_manifest_char "$R" "$off" "$new"
cmp -s "$R/manifest" "$GOOD/manifest" && fail "test bug: manifest unchanged"
expect_verify_fails "$R" "manifest.*signature" \
	"one base64 character of the manifest's signature"
expect_fail_with "manifest" "$AIDATA" ls "$R" --pubkey "$PUB"

R=$(fresh manifest-signature-bits)
flip_byte "$R/manifest" "$off"
expect_verify_fails "$R" "manifest" "one byte of the signature flipped to garbage"

rev_off=$(grep -bo '^revision ' "$GOOD/manifest" | cut -d: -f1)
rev=$(manifest_revision "$GOOD")
[ "$rev" = 3 ] || fail "the good repository should be at revision 3"
R=$(fresh manifest-revision)
set_manifest_char "$R" $((rev_off + 9)) 4
[ "$(manifest_revision "$R")" = 4 ] || fail "test bug: revision not changed"
expect_verify_fails "$R" "manifest.*signature" "the manifest's revision line"
expect_fail_with "manifest" "$AIDATA" get "$R" / "$T/rev.out" --pubkey "$PUB"
[ -z "$(find "$T/rev.out" -type f 2>/dev/null)" ] ||
	fail "get extracted files from a repository whose manifest fails"

R=$(fresh manifest-root-catalog)
root_off=$(grep -bo '^root-catalog ' "$GOOD/manifest" | cut -d: -f1)
c=$(dd if="$GOOD/manifest" bs=1 skip=$((root_off + 13 + 5)) count=1 status=none)
new=0
[ "$c" = 0 ] && new=1
set_manifest_char "$R" $((root_off + 13 + 5)) "$new"
expect_verify_fails "$R" "manifest" "the manifest's root-catalog line"

R=$(fresh manifest-deleted)
rm "$R/manifest"
expect_verify_fails "$R" "manifest" "a deleted manifest"

# a different key's public half must not accept the good repository
run_ok "$AIDATA" keygen --out "$T/keys2"
expect_fail_with "manifest.*signature" \
	"$AIDATA" verify "$GOOD" --pubkey "$T/keys2/platform.pub"

# ------------------------------------------------------------- original
note "the original is untouched and still verifies"
verify_ok "$GOOD" "$PUB"
tree_digest "$GOOD" >"$T/good.digest.after"
same_text "the original repository" "$T/good.digest" "$T/good.digest.after"
run_ok "$AIDATA" get "$GOOD" / "$T/good.out" --pubkey "$PUB"
tree_digest "$S" >"$T/src.digest"
tree_digest "$T/good.out" >"$T/out.digest"
same_text "get / of the original" "$T/src.digest" "$T/out.digest"

# The last checks are independent of each other: each runs in its own
# subshell so that one failing does not hide the others.

# A missing root catalog is named as such; the manifest is there, and
# saying it is missing sends the operator astray.
root_catalog_deleted() {
	local R
	R=$(fresh root-catalog-deleted)
	rm "$R/catalog/$ROOT"
	expect_verify_fails "$R" "$ROOT" "a deleted root catalog"
	if grep -Eq "manifest'?: missing|no manifest" "$LAST_ERR"; then
		show "$LAST_ERR" stderr
		fail "verify with a missing root catalog says the manifest is missing"
	fi
	expect_fail_with "$ROOT" "$AIDATA" ls "$R" --pubkey "$PUB"
	if grep -Eq "manifest'?: missing|no manifest" "$LAST_ERR"; then
		show "$LAST_ERR" stderr
		fail "ls with a missing root catalog says there is no manifest"
	fi
}

# Every byte of the signature counts, including the 4 padding bits of
# its last base64 character before "==". A decoder that ignores them
# accepts 16 spellings of one manifest: that byte can change unnoticed.
signature_padding_bits() {
	local B64 off old new idx R
	B64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
	off=$((sig_off + 10 + 85))
	old=$(dd if="$GOOD/manifest" bs=1 skip="$off" count=1 status=none)
	[ "$(dd if="$GOOD/manifest" bs=1 skip=$((off + 1)) count=2 \
		status=none)" = "==" ] ||
		fail "test bug: the signature should end in 'X=='"
	idx=${B64%%"$old"*}
	idx=${#idx}
	new=${B64:$((idx ^ 1)):1}
	R=$(fresh manifest-signature-padding)
	set_manifest_char "$R" "$off" "$new"
	expect_verify_fails "$R" "manifest.*(signature|malformed)" \
		"a padding bit of the signature's last base64 character ($old -> $new)"
}

independent root_catalog_deleted
independent signature_padding_bits

leftover=$(find "$TMPDIR" -mindepth 1 -maxdepth 1)
[ -z "$leftover" ] || fail "aidata left scratch files in TMPDIR: $leftover"
independent_done
note "PASS"

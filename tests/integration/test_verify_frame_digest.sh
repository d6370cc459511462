#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# verify checks a zstd chunk that has a frame digest (FORMAT.md §5.9)
# against its content digest too. A dataset catalog whose frame digest
# matches the frame but whose content digest is not the SHA-256 of what
# the frame decodes to has a bad chunk: verify names it and exits 1.
#
# Such a catalog is what a publisher with a bug would sign: the test
# rewrites the chunk record with the LMDB tools, recompresses the
# dataset and root catalogs and re-signs the manifest with openssl
# (§3.2). The same rewrite without the damage must still verify, so the
# failure is the digest's and not the rewriting's.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

for tool in mdb_dump mdb_load zstd openssl; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done

test_tmpdir
test_keys
S=$T/src
GOOD=$T/good

# text compresses: zstd chunks, each with a frame digest
mkdir -p "$S/text"
for i in 1 2; do
	for j in $(seq 1 3000); do
		printf 'line %d of text file %d: the quick brown fox\n' "$j" "$i"
	done >"$S/text/t$i.txt"
done
mk_dataset_json "$T/datasets.json" text:test:text:open
run_ok "$AIDATA" pack "$S" --datasets "$T/datasets.json" --key "$KEY" \
	--out "$GOOD" --chunk-size 64K --quiet
verify_ok "$GOOD" "$PUB"
grep -Eq 'with a frame digest: both digests checked' "$LAST_OUT" ||
	{ show "$LAST_OUT" stdout; fail "no chunk has a frame digest"; }

# table_keys MDB TABLE: the keys of TABLE (hex, one a line).
# table_value MDB TABLE KEY: the value (hex) of KEY (hex) in TABLE.
# mdb_dump's data lines alternate key, value, each after one space.
table_keys() {
	mdb_dump -n -s "$2" "$1" | awk '
		/^HEADER=END$/ { data = 1; n = 0; next }
		/^DATA=END$/ { data = 0 }
		data && n++ % 2 == 0 { print $1 }'
}
table_value() {
	mdb_dump -n -s "$2" "$1" | awk -v want="$3" '
		/^HEADER=END$/ { data = 1; n = 0; next }
		/^DATA=END$/ { data = 0 }
		data && n++ % 2 == 0 { key = $1; next }
		data && key == want { print $1; exit }'
}

# table_set MDB TABLE KEY VALUE: set KEY of TABLE to VALUE (both hex),
# which must be there already. (mdb_load 0.9 does not know mdb_dump's
# db_pagesize line; the file has its page size already.)
table_set() {
	mdb_dump -n -s "$2" "$1" | awk -v want="$3" -v value="$4" '
		/^db_pagesize=/ { next }
		/^HEADER=END$/ { data = 1; n = 0; print; next }
		/^DATA=END$/ { data = 0 }
		data && n++ % 2 == 0 { key = $1; print; next }
		data && key == want { print " " value; hit = 1; next }
		{ print }
		END { exit !hit }' >"$T/table.dump" ||
		fail "test bug: no key $3 in table $2 of $1"
	mdb_load -n -s "$2" -f "$T/table.dump" "$1" ||
		fail "mdb_load cannot rewrite table $2 of $1"
	rm -f -- "$1-lock"
	[ "$(table_value "$1" "$2" "$3")" = "$4" ] ||
		fail "test bug: table $2 of $1 did not take the new value"
}

# le64 N: N as a little-endian u64, in hex.
le64() {
	local be i out=
	be=$(printf '%016x' "$1")
	for ((i = 14; i >= 0; i -= 2)); do out+=${be:i:2}; done
	printf '%s' "$out"
}

# put_catalog REPO MDB: MDB compressed into a catalog object of REPO;
# sets OBJ_HEX and OBJ_SIZE.
put_catalog() {
	zstd -q -c -- "$2" >"$T/object" || fail "zstd cannot compress $2"
	OBJ_HEX=$(sha256sum <"$T/object" | cut -c1-64)
	OBJ_SIZE=$(stat -c %s -- "$T/object")
	mv -- "$T/object" "$1/catalog/$OBJ_HEX"
}

# The dataset's record in the root catalog (key "text"): its catalog
# digest at byte 21, its size at byte 53 (FORMAT.md §5.4).
DS_KEY=74657874
ROOT=$(manifest_root "$GOOD")
zstd -qdc -- "$GOOD/catalog/$ROOT" >"$T/root.mdb"
DS_CAT=$(table_value "$T/root.mdb" datasets "$DS_KEY")
DS_CAT=${DS_CAT:42:64}
[ -f "$GOOD/catalog/$DS_CAT" ] || fail "test bug: no catalog of dataset text"

# The victim: the first chunk with a frame digest. Its record (§5.7):
# the content digest first, the flags (u32 LE, 1 = zstd) last.
zstd -qdc -- "$GOOD/catalog/$DS_CAT" >"$T/ds.mdb"
CHUNK_KEY=$(table_keys "$T/ds.mdb" stored-digests | head -n1)
[ -n "$CHUNK_KEY" ] || fail "the catalog of text has no stored digests"
CHUNK_REC=$(table_value "$T/ds.mdb" chunks "$CHUNK_KEY")
if [ "${#CHUNK_REC}" -ne 168 ] || [ "${CHUNK_REC:160}" != 01000000 ]; then
	fail "chunk $CHUNK_KEY: not an 84-byte zstd record: $CHUNK_REC"
fi

# rewrite NAME DAMAGE: R=$T/NAME, a copy of GOOD whose dataset catalog
# has the victim's record written again, with the first byte of its
# content digest inverted when DAMAGE is 1; new dataset and root catalog
# objects (the old ones removed) and a manifest naming the new root,
# signed with $KEY. Sets NEW_DIGEST to the record's content digest.
rewrite() {
	local rec=$CHUNK_REC
	R=$T/$1
	rm -rf -- "$R"
	cp -a -- "$GOOD" "$R"
	if [ "$2" = 1 ]; then
		rec=$(printf '%02x' $((0x${rec:0:2} ^ 255)))${rec:2}
	fi
	NEW_DIGEST=${rec:0:64}
	zstd -qdc -- "$R/catalog/$DS_CAT" >"$T/ds.mdb"
	rm -- "$R/catalog/$DS_CAT"
	table_set "$T/ds.mdb" chunks "$CHUNK_KEY" "$rec"
	put_catalog "$R" "$T/ds.mdb"

	zstd -qdc -- "$R/catalog/$ROOT" >"$T/root.mdb"
	rm -- "$R/catalog/$ROOT"
	rec=$(table_value "$T/root.mdb" datasets "$DS_KEY")
	table_set "$T/root.mdb" datasets "$DS_KEY" \
		"${rec:0:42}$OBJ_HEX$(le64 "$OBJ_SIZE")${rec:122}"
	put_catalog "$R" "$T/root.mdb"

	sed -e "s/^root-catalog .*/root-catalog $OBJ_HEX/" \
		-e "s/^root-catalog-size .*/root-catalog-size $OBJ_SIZE/" \
		-e '/^signature /d' "$GOOD/manifest" >"$T/signed"
	openssl pkeyutl -sign -inkey "$KEY" -rawin -in "$T/signed" \
		-out "$T/signature" || fail "openssl cannot sign the manifest"
	{
		cat "$T/signed"
		printf 'signature %s\n' "$(base64 -w0 "$T/signature")"
	} >"$R/manifest"
}

note "the rewrite alone: verify passes"
rewrite same 0
[ "$(manifest_root "$R")" != "$ROOT" ] ||
	fail "test bug: the rewrite left the root catalog as it was"
verify_ok "$R" "$PUB"

note "a content digest its frame does not decode to: verify fails"
rewrite damaged 1
rc=0
"$AIDATA" verify "$R" --pubkey "$PUB" >"$T/verify.out" 2>"$T/verify.err" ||
	rc=$?
LAST_OUT=$T/verify.out
LAST_ERR=$T/verify.err
if [ "$rc" -ne 1 ]; then
	show "$LAST_OUT" stdout
	show "$LAST_ERR" stderr
	fail "verify of a bad content digest exited $rc, not 1"
fi
# the chunk named by its (recorded) digest, and why
stderr_has "^verify: dataset 'text': chunk '$NEW_DIGEST' decodes to other bytes than its digest says$"
stderr_has "^verify: '.*': FAILED, 1 problems$"
# its frame did verify: the read itself did not fail
if grep -Eq "does not verify|malformed|missing" "$LAST_ERR"; then
	show "$LAST_ERR" stderr
	fail "verify refused the chunk's frame, not its content digest"
fi
grep -Eq '^dataset text .* PROBLEMS' "$LAST_OUT" ||
	{ show "$LAST_OUT" stdout; fail "verify did not mark dataset text"; }
if grep -q ": ok, " "$LAST_OUT"; then
	show "$LAST_OUT" stdout
	fail "verify printed an ok summary"
fi

note "the original still verifies"
verify_ok "$GOOD" "$PUB"
note "PASS"

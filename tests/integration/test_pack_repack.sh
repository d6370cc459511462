#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Repacking publishes only what changed: an unchanged source adds no
# object; changing one chunk of one file adds one shard with that chunk
# and two catalogs (the dataset's and the root); touching a file adds
# catalogs but no chunk; a new dataset adds its own catalog and the root.
# Existing objects are never rewritten, the revision increases by one
# each time, and every revision verifies and extracts to its source.
# Packing the same tree with 1 or 4 threads gives the same objects.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
test_keys
S=$T/src
R=$T/repo
CH=65536

mkdir -p "$S/alpha/sub" "$S/beta" "$S/gamma/deep/er"
random_file "$S/alpha/big.bin" $((3 * CH)) # exactly 3 chunks
random_file "$S/alpha/sub/other.bin" 100000
for i in 1 2 3 4 5; do printf 'alpha small %d\n' "$i" >"$S/alpha/small$i.txt"; done
random_file "$S/beta/x.bin" 150000 # 64K + 64K + 18928 (own chunk)
printf 'beta text %s\n' {1..3000} >"$S/beta/text.txt"
random_file "$S/gamma/deep/er/g.bin" 200000
ln -s deep/er/g.bin "$S/gamma/link"
DS_ALL=(alpha:science:mixed:open beta:finance:text:shared
	gamma:law:binary:open)
mk_dataset_json "$T/datasets.json" "${DS_ALL[@]}"

# pack_rev N: pack S into R, expect revision N, keep the summary.
pack_rev() {
	pack_revision "$1" --chunk-size 64K
	[ "$(manifest_revision "$R")" = "$1" ] ||
		fail "manifest revision is $(manifest_revision "$R"), expected $1"
	no_staging "$R"
}

# expect_summary N NEW_CHUNKS NEW_SHARDS NEW_CATALOGS
expect_summary() {
	grep -Eq "^  chunks +[0-9]+ referenced, $2 new$" "$T/summary.$1" ||
		{ show "$T/summary.$1" summary; fail "revision $1: expected $2 new chunks"; }
	grep -Eq "^  stored .* in $3 new shards, $4 new catalogs$" \
		"$T/summary.$1" ||
		{ show "$T/summary.$1" summary; fail "revision $1: expected $3 new shards, $4 new catalogs"; }
}

# state N: snapshot the objects of R after revision N: path, inode, size
# and mtime of every object (a rewrite changes them), and the sha256s.
state() {
	(cd "$R" && find catalog data -type f -printf '%p %i %s %T@\n' | sort) \
		>"$T/state.$1"
	objects "$R" >"$T/objects.$1"
	(cd "$R" && xargs -r sha256sum -- <"$T/objects.$1") >"$T/sums.$1"
}

# untouched A B: every object of state A is still there, unmodified.
untouched() {
	local missing
	missing=$(comm -23 "$T/state.$1" "$T/state.$2")
	[ -z "$missing" ] ||
		fail "objects of revision $1 changed or vanished by $2: $missing"
	(cd "$R" && sha256sum --quiet -c "$T/sums.$1") >"$T/check.out" 2>&1 ||
		{ show "$T/check.out" sha256sum; fail "object contents of revision $1 changed"; }
}

# new_objects A B SUBDIR: objects under SUBDIR added between A and B.
new_objects() {
	comm -13 "$T/objects.$1" "$T/objects.$2" | grep "^$3/" || true
}

# catalogs_by_dataset: "NAME HEX16" per dataset, from verify's report.
catalogs_by_dataset() {
	verify_ok "$R" "$PUB"
	sed -nE 's/^dataset +([^ ]+) +[a-z]+ +catalog ([0-9a-f]{16}).*/\1 \2/p' \
		"$LAST_OUT" | sort
}

# roundtrip: get / of the current revision equals the source.
roundtrip() {
	rm -rf "$T/out"
	run_ok "$AIDATA" get "$R" / "$T/out" --pubkey "$PUB"
	tree_digest "$S" >"$T/src.digest"
	tree_digest "$T/out" >"$T/out.digest"
	same_text "get / of revision $(manifest_revision "$R") (content)" \
		"$T/src.digest" "$T/out.digest"
	tree_meta "$S" >"$T/src.meta"
	tree_meta "$T/out" >"$T/out.meta"
	same_text "get / of revision $(manifest_revision "$R") (mtimes)" \
		"$T/src.meta" "$T/out.meta"
}

# ---------------------------------------------------------------------
note "revision 1"
pack_rev 1
expect_summary 1 '[0-9]+' '[1-9][0-9]*' 4
state 1
catalogs_by_dataset >"$T/cats.1"
[ "$(wc -l <"$T/cats.1")" -eq 3 ] ||
	{ show "$T/cats.1" catalogs; fail "verify must report 3 datasets"; }
roundtrip

note "revision 2: nothing changed, nothing new"
pack_rev 2
expect_summary 2 0 0 0
state 2
same_text "objects after an unchanged repack" "$T/objects.1" "$T/objects.2"
untouched 1 2
catalogs_by_dataset >"$T/cats.2"
same_text "dataset catalogs after an unchanged repack" "$T/cats.1" "$T/cats.2"
roundtrip

note "revision 3: one chunk in the middle of alpha/big.bin changes"
printf 'MIDDLE-CHUNK-CHANGED' |
	dd of="$S/alpha/big.bin" bs=1 seek=$((CH + 5000)) conv=notrunc status=none
[ "$(stat -c %s "$S/alpha/big.bin")" -eq $((3 * CH)) ] ||
	fail "test bug: big.bin changed size"
pack_rev 3
expect_summary 3 1 1 2
state 3
untouched 2 3
new_data=$(new_objects 2 3 data)
new_cats=$(new_objects 2 3 catalog)
[ "$(printf '%s\n' "$new_data" | grep -c .)" -eq 1 ] ||
	fail "expected exactly one new shard, got: $new_data"
[ "$(stat -c %s "$R/$new_data")" -eq "$CH" ] ||
	fail "the new shard must hold just the changed 64K chunk (stored raw: random data), it has $(stat -c %s "$R/$new_data") bytes"
[ "$(printf '%s\n' "$new_cats" | grep -c .)" -eq 2 ] ||
	fail "expected exactly two new catalogs, got: $new_cats"
[ -z "$(comm -23 "$T/objects.2" "$T/objects.3")" ] ||
	fail "objects disappeared in revision 3"
root3=$(manifest_root "$R")
printf '%s\n' "$new_cats" | grep -qx "catalog/$root3" ||
	fail "the new root catalog $root3 is not among the new catalogs"
catalogs_by_dataset >"$T/cats.3"
grep -v '^alpha ' "$T/cats.2" >"$T/cats.2.others"
grep -v '^alpha ' "$T/cats.3" >"$T/cats.3.others"
same_text "beta and gamma catalogs after changing alpha" \
	"$T/cats.2.others" "$T/cats.3.others"
alpha3=$(sed -n 's/^alpha //p' "$T/cats.3")
if [ -z "$alpha3" ] || [ "$alpha3" = "$(sed -n 's/^alpha //p' "$T/cats.2")" ]; then
	fail "alpha's catalog did not change"
fi
printf '%s\n' "$new_cats" | grep -q "^catalog/$alpha3" ||
	fail "alpha's new catalog $alpha3… is not among the new catalogs: $new_cats"
roundtrip

note "revision 4: only an mtime changes"
touch -d '2020-01-02 03:04:05.678 UTC' "$S/beta/x.bin"
pack_rev 4
expect_summary 4 0 0 2
state 4
untouched 3 4
catalogs_by_dataset >"$T/cats.4"
grep -v '^beta ' "$T/cats.3" >"$T/cats.3.others"
grep -v '^beta ' "$T/cats.4" >"$T/cats.4.others"
same_text "alpha and gamma catalogs after touching beta" \
	"$T/cats.3.others" "$T/cats.4.others"
[ -z "$(new_objects 3 4 data)" ] || fail "a touch added shards"
roundtrip

note "revision 5: a new dataset delta"
mkdir "$S/delta"
random_file "$S/delta/new.bin" 100000                   # 2 new chunks
cp -p "$S/beta/x.bin" "$S/delta/copy-of-beta-x.bin"   # deduplicated
mk_dataset_json "$T/datasets.json" "${DS_ALL[@]}" delta:media:binary:open
pack_rev 5
expect_summary 5 2 1 2
state 5
untouched 4 5
new_cats=$(new_objects 4 5 catalog)
[ "$(printf '%s\n' "$new_cats" | grep -c .)" -eq 2 ] ||
	fail "adding a dataset must add exactly 2 catalogs, got: $new_cats"
printf '%s\n' "$new_cats" | grep -qx "catalog/$(manifest_root "$R")" ||
	fail "the new root catalog is not among the new catalogs"
catalogs_by_dataset >"$T/cats.5"
grep -v '^delta ' "$T/cats.5" >"$T/cats.5.others"
same_text "existing catalogs after adding delta" "$T/cats.4" "$T/cats.5.others"
delta5=$(sed -n 's/^delta //p' "$T/cats.5")
if [ -z "$delta5" ] || ! printf '%s\n' "$new_cats" | grep -q "^catalog/$delta5"; then
	fail "delta's catalog $delta5… is not among the new catalogs"
fi
roundtrip

note "revision 6: dataset gamma removed"
rm -rf "$S/gamma"
mk_dataset_json "$T/datasets.json" alpha:science:mixed:open \
	beta:finance:text:shared delta:media:binary:open
pack_rev 6
expect_summary 6 0 0 1
state 6
untouched 5 6
catalogs_by_dataset >"$T/cats.6"
grep -v '^gamma ' "$T/cats.5" >"$T/cats.5.nogamma"
same_text "catalogs after removing gamma" "$T/cats.5.nogamma" "$T/cats.6"
roundtrip

note "the same objects with 1 and 4 packing threads"
# a file's inode waits for its chunks; what the walk lists after it (b*,
# c/) must still be put after it, however many chunks are in flight
S2=$T/src2
mkdir -p "$S2/ds/c"
random_file "$S2/ds/a.bin" $((10 * CH))
for i in 1 2 3 4; do random_file "$S2/ds/b$i.bin" 40000; done
printf 'c small\n' >"$S2/ds/c/s.txt"
random_file "$S2/ds/c/d.bin" 70000
mk_dataset_json "$T/datasets2.json" ds:science:binary:open
for jobs in 1 4; do
	run_ok "$AIDATA" pack "$S2" --datasets "$T/datasets2.json" \
		--key "$KEY" --out "$T/repo.j$jobs" --chunk-size 64K \
		--jobs "$jobs"
	objects "$T/repo.j$jobs" >"$T/objects.j$jobs"
done
same_text "objects packed with --jobs 1 and --jobs 4" "$T/objects.j1" \
	"$T/objects.j4"
note "PASS"

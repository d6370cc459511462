#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Large files are cut into pieces of the piece size (FORMAT.md §9.2),
# 1 MiB for a new dataset, while small files still share chunks of up
# to the chunk size:
# - a new dataset's catalog says "piece-size" in its meta, and its large
#   file is cut into 1 MiB chunks; it reads back byte-identical;
# - a dataset cut at the chunk size (as every dataset was before piece
#   sizes) has no "piece-size" key, and a re-pack, even one that reads
#   every file, keeps its cut: no new chunk, the same catalog;
# - --piece-size re-cuts a dataset, and later packs keep the new size;
# - a piece size above the chunk size, or below 64K, is refused; with a
#   chunk size under 1M, a new dataset is cut at the chunk size.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
test_keys
S=$T/src
R=$T/repo
STATE=$T/state
SIZE=$((9 * 1024 * 1024 + 4321))

mkdir -p "$S/old/sub"
random_file "$S/old/sub/large.bin" "$SIZE"
printf 'a small file\n' >"$S/old/small.txt"
mk_dataset_json "$T/old.json" old:science:text:open
mk_dataset_json "$T/both.json" old:science:text:open new:law:text:open

# pack_rev REV DATASETS_JSON [options]: pack S into R; summary kept.
pack_rev() {
	local rev=$1 json=$2
	shift 2
	DATASETS=$json pack_revision "$rev" --state "$STATE" "$@"
}

# chunks REV referenced|new: the chunk counts of revision REV's summary.
chunks() {
	local n
	case $2 in
	referenced) n=$(sed -nE 's/^  chunks +([0-9]+) referenced, [0-9]+ new$/\1/p' "$T/summary.$1") ;;
	new) n=$(sed -nE 's/^  chunks +[0-9]+ referenced, ([0-9]+) new$/\1/p' "$T/summary.$1") ;;
	esac
	[ -n "$n" ] || { show "$T/summary.$1" summary; fail "no chunk count in the summary of revision $1"; }
	echo "$n"
}

# catalog_of DATASET: the object path of DATASET's catalog in R's
# current revision (the catalog whose meta names it and that the root
# catalog references: objects of older revisions stay in the repository,
# so the newest file with that name is not enough).
catalog_of() {
	local root c
	root=$(manifest_root "$R")
	zstd -qdc "$R/catalog/$root" >"$T/root.mdb"
	for c in "$R"/catalog/*; do
		case $c in *-lock) continue ;; esac
		grep -q "$(basename "$c")" \
			<(mdb_dump -n -s datasets "$T/root.mdb" | tr -d ' \n') || continue
		zstd -qdc "$c" >"$T/cat.mdb"
		if [ "$(meta_of "$T/cat.mdb" dataset)" = "$1" ]; then
			echo "$c"
			return
		fi
	done
	fail "no catalog of dataset '$1' in revision $(manifest_revision "$R")"
}

# meta_of MDB KEY: the value of KEY in the catalog's meta, "" if none.
meta_of() {
	mdb_dump -n -p -s meta "$1" | sed -n '/^HEADER=END$/,/^DATA=END$/p' |
		sed -n "/^ $2\$/{n;s/^ //p;q}"
}

# piece_key DATASET: its catalog's "piece-size" ("" when absent).
piece_key() {
	zstd -qdc "$(catalog_of "$1")" >"$T/cat.mdb"
	meta_of "$T/cat.mdb" piece-size
}

# reads_back DATASET: aidata get gives the source's bytes.
reads_back() {
	rm -rf "$T/out"
	run_ok "$AIDATA" get "$R" "$1" "$T/out" --pubkey "$PUB"
	cmp -s "$S/$1/sub/large.bin" "$T/out/sub/large.bin" 2>/dev/null ||
		cmp -s "$S/$1/large.bin" "$T/out/large.bin" ||
		fail "$1: large.bin does not read back"
}

pieces() { echo $(((SIZE + $1 - 1) / $1)); }

note "a dataset cut at the chunk size, as before piece sizes"
pack_rev 1 "$T/old.json" --piece-size 4M
[ "$(chunks 1 referenced)" -eq $(($(pieces $((4 << 20))) + 1)) ] ||
	fail "revision 1: $(chunks 1 referenced) chunks, expected $(($(pieces $((4 << 20))) + 1))"
[ -z "$(piece_key old)" ] ||
	fail "a dataset cut at the chunk size has a piece-size key: $(piece_key old)"
old_cat=$(catalog_of old)
reads_back old

note "re-pack reading every file: the old dataset keeps its cut; a new one gets 1 MiB pieces"
mkdir "$S/new"
random_file "$S/new/large.bin" "$SIZE"
printf 'another small file\n' >"$S/new/small.txt"
sleep 1.1
pack_rev 2 "$T/both.json" --rehash
want_new=$(($(pieces $((1 << 20))) + 1))
[ "$(chunks 2 new)" -eq "$want_new" ] ||
	fail "revision 2: $(chunks 2 new) new chunks, expected $want_new (the new dataset's only)"
[ "$(catalog_of old)" = "$old_cat" ] ||
	fail "the old dataset's catalog changed: $old_cat -> $(catalog_of old)"
[ "$(piece_key new)" = $((1 << 20)) ] ||
	fail "the new dataset's piece-size key is '$(piece_key new)', expected $((1 << 20))"
reads_back new

note "--piece-size 512K re-cuts both; the next pack keeps 512K"
pack_rev 3 "$T/both.json" --piece-size 512K
# every piece is new but one: the new dataset's last one (SIZE is 9 MiB
# and 4321 bytes, so its 1 MiB cut ended with the same 4321 bytes)
want_new=$((2 * $(pieces $((512 << 10))) - 1))
[ "$(chunks 3 new)" -eq "$want_new" ] ||
	fail "revision 3: $(chunks 3 new) new chunks, expected $want_new"
for d in old new; do
	[ "$(piece_key $d)" = $((512 << 10)) ] ||
		fail "$d: piece-size key '$(piece_key $d)' after --piece-size 512K"
	reads_back $d
done
sleep 1.1
pack_rev 4 "$T/both.json" --rehash
[ "$(chunks 4 new)" -eq 0 ] ||
	fail "revision 4: $(chunks 4 new) new chunks: the 512K cut was not kept"
[ "$(piece_key new)" = $((512 << 10)) ] ||
	fail "new: piece-size key '$(piece_key new)' after a pack without --piece-size"
run_ok "$AIDATA" verify "$R" --pubkey "$PUB"

note "bad piece sizes are refused, and nothing is packed"
before=$(cat "$R/manifest")
expect_fail_with "--piece-size must not exceed the chunk size" \
	"$AIDATA" pack "$S" --datasets "$T/both.json" --key "$KEY" \
	--out "$R" --state "$STATE" --piece-size 8M
expect_fail_with "--piece-size must be 64K\.\.64M" \
	"$AIDATA" pack "$S" --datasets "$T/both.json" --key "$KEY" \
	--out "$R" --state "$STATE" --piece-size 32K
expect_fail_with "--piece-size must be 64K\.\.64M" \
	"$AIDATA" pack "$S" --datasets "$T/both.json" --key "$KEY" \
	--out "$R" --state "$STATE" --piece-size lots
[ "$(cat "$R/manifest")" = "$before" ] || fail "a refused pack changed the manifest"

note "chunk size 256K: a new dataset is cut at the chunk size, no key"
R=$T/repo256
STATE=$T/state256
pack_rev 1 "$T/both.json" --chunk-size 256K
[ "$(chunks 1 referenced)" -eq $((2 * $(pieces $((256 << 10))) + 2)) ] ||
	fail "chunk size 256K: $(chunks 1 referenced) chunks"
[ -z "$(piece_key new)" ] || fail "chunk size 256K: piece-size key '$(piece_key new)'"
reads_back new

note "all piece-size checks passed"

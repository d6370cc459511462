#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# pack -> verify -> get gives back every byte, name, symlink, mode and
# mtime of the source: first on a hand-made tree of edge cases (chunk-size
# boundaries, empty file, non-ASCII names, many chunks and shards, deep
# directories, symlinks), then on the bundled sample platform.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
test_keys

# expected_ls DIR: what `aidata ls` prints for the entries of DIR.
expected_ls() {
	local type mode size when target name
	# fields split by US (\x1f): not IFS whitespace, so empty ones count
	while IFS=$'\x1f' read -r -d '' type mode size when target name; do
		[ "$type" = f ] && type=-
		printf '%s%04o %12s %s %s' "$type" "0$mode" "$size" "$when" \
			"$name"
		[ "$type" = l ] && printf ' -> %s' "$target"
		printf '\n'
	done < <(TZ=UTC0 find "$1" -mindepth 1 -maxdepth 1 \
		-printf '%y\037%m\037%s\037%TY-%Tm-%Td %TH:%TM\037%l\037%f\0' |
		sort -z -t $'\x1f' -k6)
}

# A directory's size is not part of the format: mask it on both sides.
mask_dir_size() {
	sed -E 's/^(d[0-7]{4}) +[0-9]+ /\1 <dirsize> /' "$1"
}

# check_ls REPO PATH SRCDIR: `aidata ls REPO PATH` lists SRCDIR's entries.
check_ls() {
	run_ok "$AIDATA" ls "$1" "$2" --pubkey "$PUB"
	mask_dir_size "$LAST_OUT" >"$T/ls.actual"
	expected_ls "$3" >"$T/ls.raw"
	mask_dir_size "$T/ls.raw" >"$T/ls.expected"
	[ -s "$T/ls.expected" ] || fail "nothing expected from $3?"
	same_text "aidata ls $2" "$T/ls.expected" "$T/ls.actual"
}

# self_meta PATH: type, mode, mtime of PATH itself.
self_meta() {
	find "$1" -maxdepth 0 -printf '%y %m %T@\n'
}

# same_tree WHAT A B: same content digest and same modes and mtimes.
same_tree() {
	tree_digest "$2" >"$T/digest.a"
	tree_digest "$3" >"$T/digest.b"
	[ -s "$T/digest.a" ] || fail "$1: $2 is empty?"
	same_text "$1 (content)" "$T/digest.a" "$T/digest.b"
	tree_meta "$2" >"$T/meta.a"
	tree_meta "$3" >"$T/meta.b"
	same_text "$1 (modes and mtimes)" "$T/meta.a" "$T/meta.b"
}

# --------------------------------------------------------------------
note "hand-made tree: chunk boundaries, names, symlinks, many shards"
S=$T/hand-src
mkdir -p "$S/hand/a/b/c/d/e" "$S/other/sub"
CH=65536
random_file "$S/hand/exact.bin" "$CH"
random_file "$S/hand/plus1.bin" $((CH + 1))
random_file "$S/hand/minus1.bin" $((CH - 1))
random_file "$S/hand/two-chunks.bin" $((2 * CH))
: >"$S/hand/empty"
printf '中文内容，用于测试。\n%.0s' {1..50} >"$S/hand/中文文件名.txt"
random_file "$S/hand/表情🎉📦.bin" 70000
random_file "$S/hand/big.bin" $((10 * 1024 * 1024))
printf 'five levels down\n' >"$S/hand/a/b/c/d/e/deep.txt"
ln -s ../../../../../exact.bin "$S/hand/a/b/c/d/e/up-to-exact"
ln -s exact.bin "$S/hand/link-to-exact"
ln -s a/b "$S/hand/dir-link"
ln -s ./a/b/c/d/e/deep.txt "$S/hand/dot-link"
for i in $(seq 1 40); do
	printf 'small file %d\n' "$i" >"$S/hand/a/b/small-$i.txt"
done
: >"$S/hand/a/b/c/empty-too"
printf '#!/bin/sh\necho hi\n' >"$S/hand/script.sh"
chmod 0755 "$S/hand/script.sh"
printf 'secret-ish\n' >"$S/hand/private.txt"
chmod 0600 "$S/hand/private.txt"
chmod 0750 "$S/hand/a/b"
touch -h -d '2001-02-03 04:05:06.123456789 UTC' "$S/hand/link-to-exact"
touch -d '2001-02-03 04:05:06.123456789 UTC' "$S/hand/plus1.bin"
touch -d '1999-12-31 23:59:59.5 UTC' "$S/hand/a/b/c/d"
# files up to chunk-size/4 share chunks: five of exactly 16K fill one
# chunk and spill into the next; 16K+1 gets a chunk of its own
mkdir "$S/hand/smalls"
for i in 1 2 3 4 5; do random_file "$S/hand/smalls/q$i" $((CH / 4)); done
random_file "$S/hand/smalls/q-plus1" $((CH / 4 + 1))
mkdir -p "$S/hand/empty-dir/empty-sub"
# the longest name: 85 three-byte characters, 255 bytes
long=$(printf '中%.0s' {1..85})
printf 'long name\n' >"$S/hand/$long"
# mtimes before 1970 and after 2038
printf 'old\n' >"$S/hand/old.txt"
touch -d '1960-06-15 12:00:00.25 UTC' "$S/hand/old.txt"
printf 'future\n' >"$S/hand/future.txt"
touch -d '2100-01-01 00:00:00 UTC' "$S/hand/future.txt"
# the second dataset shares a chunk with the first
cp -p "$S/hand/exact.bin" "$S/other/same-as-exact.bin"
printf 'other %s\n' {1..1000} >"$S/other/sub/spaces in name.txt"
# top-level non-directories are not datasets and are ignored
printf 'not a dataset\n' >"$S/README.txt"
mkdir "$S/nothing" # a dataset with no entries at all
mk_dataset_json "$T/hand.json" hand:testing:mixed:open \
	other:testing:text:shared nothing:testing:none:open

R=$T/hand-repo
run_ok "$AIDATA" pack "$S" --datasets "$T/hand.json" --key "$KEY" \
	--out "$R" --chunk-size 64K --shard-size 1M
cp "$LAST_OUT" "$T/pack1.out"
grep -q "^packed revision 1 into '$R'$" "$T/pack1.out" ||
	{ show "$T/pack1.out" summary; fail "no 'packed revision 1' line"; }
grep -Eq '^  datasets +3$' "$T/pack1.out" ||
	{ show "$T/pack1.out" summary; fail "summary does not say 3 datasets"; }
chunks=$(sed -nE 's/^  chunks +([0-9]+) referenced.*/\1/p' "$T/pack1.out")
[ "${chunks:-0}" -ge 160 ] ||
	fail "10 MiB in 64K chunks must reference >= 160 chunks, got '$chunks'"
shards=$(find "$R/data" -type f | wc -l)
[ "$shards" -ge 10 ] ||
	fail "10 MiB of random data with --shard-size 1M made $shards shards"
# a shard closes before a chunk would take it past 1M
while read -r sz f; do
	[ "$sz" -le $((1024 * 1024)) ] ||
		fail "shard $f is $sz bytes, above --shard-size 1M"
done < <(find "$R/data" -type f -printf '%s %p\n')
[ "$(manifest_revision "$R")" = 1 ] || fail "manifest revision is not 1"
[ -f "$R/catalog/$(manifest_root "$R")" ] ||
	fail "root catalog named by the manifest is missing"
[ "$(find "$R/catalog" -type f | wc -l)" -eq 4 ] ||
	fail "expected 4 catalogs (root + 3 datasets)"
no_staging "$R"

verify_ok "$R" "$PUB"

note "get / of the hand-made repository"
run_ok "$AIDATA" get "$R" / "$T/hand-out" --pubkey "$PUB"
nfiles=$(find "$S/hand" "$S/other" -type f | wc -l)
nbytes=$(find "$S/hand" "$S/other" -type f -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
grep -qx "extracted $nfiles files, $nbytes bytes" "$LAST_OUT" ||
	{ show "$LAST_OUT" stdout; fail "get did not extract $nfiles files, $nbytes bytes"; }
[ ! -e "$T/hand-out/README.txt" ] || fail "top-level file became a dataset"
rm "$S/README.txt"
same_tree "get / of the hand-made tree" "$S" "$T/hand-out"
cmp "$S/hand/big.bin" "$T/hand-out/hand/big.bin" ||
	fail "big.bin differs"
[ "$(stat -c %s "$T/hand-out/hand/empty")" -eq 0 ] || fail "empty not empty"
[ "$(readlink "$T/hand-out/hand/a/b/c/d/e/up-to-exact")" = \
	../../../../../exact.bin ] || fail "relative symlink target changed"
cmp "$S/hand/exact.bin" "$T/hand-out/hand/a/b/c/d/e/up-to-exact" ||
	fail "relative symlink does not resolve to exact.bin after get"

note "get of single files, a symlink and a subdirectory"
for p in a/b/c/d/e/deep.txt big.bin plus1.bin empty '表情🎉📦.bin' \
	'中文文件名.txt' "$long" old.txt future.txt smalls/q5; do
	out="$T/single-$(printf '%s' "$p" | tr '/' '_' | cut -c1-100)"
	run_ok "$AIDATA" get "$R" "hand/$p" "$out" --pubkey "$PUB"
	cmp "$S/hand/$p" "$out" || fail "get of hand/$p differs"
	[ "$(self_meta "$S/hand/$p")" = "$(self_meta "$out")" ] ||
		fail "get of hand/$p: mode/mtime $(self_meta "$out"), expected $(self_meta "$S/hand/$p")"
done
run_ok "$AIDATA" get "$R" hand/link-to-exact "$T/single-link" --pubkey "$PUB"
if [ ! -L "$T/single-link" ] || [ "$(readlink "$T/single-link")" != exact.bin ]; then
	fail "get of a symlink did not make the symlink"
fi
run_ok "$AIDATA" get "$R" hand/a "$T/sub-a" --pubkey "$PUB"
same_tree "get of subdirectory hand/a" "$S/hand/a" "$T/sub-a"
[ "$(self_meta "$S/hand/a")" = "$(self_meta "$T/sub-a")" ] ||
	fail "get of hand/a: the directory's own mode/mtime differ"
run_ok "$AIDATA" get "$R" other/sub/ "$T/sub-other" --pubkey "$PUB"
same_tree "get of subdirectory other/sub/" "$S/other/sub" "$T/sub-other"
run_ok "$AIDATA" get "$R" hand "$T/whole-hand" --pubkey "$PUB"
same_tree "get of dataset hand" "$S/hand" "$T/whole-hand"
expect_fail_with "no such file or directory" \
	"$AIDATA" get "$R" hand/no-such-file "$T/missing.out" --pubkey "$PUB"
[ ! -e "$T/missing.out" ] || fail "get of a missing path created OUT"

note "ls of the repository, datasets, directories and a file"
run_ok "$AIDATA" ls "$R" --pubkey "$PUB"
[ "$(wc -l <"$LAST_OUT")" -eq 3 ] ||
	{ show "$LAST_OUT" ls; fail "ls REPO must list exactly 3 datasets"; }
grep -Eq "^nothing +open +testing +none +0 files +0 bytes$" "$LAST_OUT" ||
	{ show "$LAST_OUT" ls; fail "ls REPO: dataset 'nothing' not listed as empty"; }
for ds in hand other; do
	f=$(find "$S/$ds" -type f | wc -l)
	b=$(find "$S/$ds" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	tier=open
	modality=mixed
	[ "$ds" = other ] && { tier=shared; modality=text; }
	grep -Eq "^$ds +$tier +testing +$modality +$f files +$b bytes$" \
		"$LAST_OUT" ||
		{ show "$LAST_OUT" ls; fail "ls REPO: no line '$ds $tier testing $modality $f files $b bytes'"; }
done
check_ls "$R" hand "$S/hand"
check_ls "$R" hand/a/b "$S/hand/a/b"
check_ls "$R" hand/a/b/c/d/e "$S/hand/a/b/c/d/e"
check_ls "$R" other/sub "$S/other/sub"
check_ls "$R" hand/smalls "$S/hand/smalls"
run_ok "$AIDATA" ls "$R" nothing --pubkey "$PUB"
[ ! -s "$LAST_OUT" ] || { show "$LAST_OUT" ls; fail "ls of an empty dataset"; }
run_ok "$AIDATA" ls "$R" hand/empty-dir --pubkey "$PUB"
grep -Eq '^d0755 +[0-9]+ [0-9-]+ [0-9:]+ empty-sub$' "$LAST_OUT" ||
	{ show "$LAST_OUT" ls; fail "ls of hand/empty-dir"; }
run_ok "$AIDATA" ls "$R" hand/big.bin --pubkey "$PUB"
grep -Eq "^-0644 +10485760 [0-9-]+ [0-9:]+ hand/big.bin$" "$LAST_OUT" ||
	{ show "$LAST_OUT" ls; fail "ls of hand/big.bin"; }
run_ok "$AIDATA" ls "$R" hand/plus1.bin --pubkey "$PUB"
grep -Eq "^-0644 +65537 2001-02-03 04:05 hand/plus1.bin$" "$LAST_OUT" ||
	{ show "$LAST_OUT" ls; fail "ls of hand/plus1.bin"; }
expect_fail_with "no such file or directory" \
	"$AIDATA" ls "$R" hand/nope --pubkey "$PUB"

# --------------------------------------------------------------------
note "secure tier: encrypted in the repository, never extracted as plaintext"
# A marker inside random data: zstd cannot shrink the chunk, so it is
# stored as it is and the marker shows in the shard unless encrypted.
VS=$T/vault-src
mkdir -p "$VS/pub" "$VS/vault/sub"
mk_marked() { # FILE MARKER
	{
		head -c 30000 /dev/urandom
		printf '%s' "$2"
		head -c 30000 /dev/urandom
	} >"$1"
}
mk_marked "$VS/pub/open.bin" AIDATA-TEST-OPEN-MARKER-7f3e9a1c
mk_marked "$VS/vault/secret.bin" AIDATA-TEST-SECRET-MARKER-c4d2b8e6
printf 'confidential note\n' >"$VS/vault/sub/note.txt"
: >"$VS/vault/empty"
mk_dataset_json "$T/vault.json" pub:testing:binary:open \
	vault:testing:binary:secure
VR=$T/vault-repo
run_ok "$AIDATA" pack "$VS" --datasets "$T/vault.json" --key "$KEY" \
	--out "$VR" --chunk-size 64K
verify_ok "$VR" "$PUB"
# the grep finds a marker stored in clear (control), not the secret one
grep -rqaF AIDATA-TEST-OPEN-MARKER-7f3e9a1c "$VR/data" ||
	fail "test bug: the open marker is not found in the shards"
if grep -rqaF AIDATA-TEST-SECRET-MARKER-c4d2b8e6 "$VR"; then
	fail "a secure dataset's plaintext is in the repository"
fi
vbytes=$(find "$VS/vault" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
run_ok "$AIDATA" ls "$VR" --pubkey "$PUB"
grep -Eq "^vault +secure +testing +binary +3 files +$vbytes bytes$" \
	"$LAST_OUT" || { show "$LAST_OUT" ls; fail "ls REPO: vault"; }
check_ls "$VR" vault "$VS/vault"
expect_fail_with "'$T/vault-secret.out': .*(not supported|encrypted|secure)" \
	"$AIDATA" get "$VR" vault/secret.bin "$T/vault-secret.out" --pubkey "$PUB"
[ ! -e "$T/vault-secret.out" ] || fail "get of a secure file wrote something"
expect_fail_with "(not supported|encrypted|secure)" \
	"$AIDATA" get "$VR" / "$T/vault-out" --pubkey "$PUB"
same_tree "get / of the open dataset next to a secure one" \
	"$VS/pub" "$T/vault-out/pub"
no_wrong_bytes "$T/vault-out/vault" "$VS/vault"
[ -z "$(find "$T/vault-out/vault" -type f -size +0 2>/dev/null)" ] ||
	fail "get extracted content from a secure dataset"

# --------------------------------------------------------------------
note "the sample platform: sample/make_sample.py -> pack -> verify -> get /"
: "${SAMPLE:=$SRCDIR/sample/make_sample.py}"
SS=$T/sample-src
rc=0
python3 -S "$SAMPLE" --out "$SS" >"$T/sample.out" 2>"$T/sample.err" || rc=$?
if [ "$rc" -ne 0 ] || [ ! -f "$SS/datasets.json" ]; then
	show "$T/sample.out" "sample stdout"
	show "$T/sample.err" "sample stderr"
	fail "'$SAMPLE --out DIR' failed (exit $rc) or wrote no datasets.json: the sample generator is missing or broken"
fi
ndatasets=$(find "$SS" -mindepth 1 -maxdepth 1 -type d | wc -l)
sfiles=$(find "$SS" -mindepth 2 -type f | wc -l)
sbytes=$(find "$SS" -mindepth 2 -type f -printf '%s\n' |
	awk '{ s += $1 } END { print s + 0 }')
if [ "$ndatasets" -lt 2 ] || [ "$sfiles" -lt 10 ] ||
	[ "$sbytes" -lt $((1024 * 1024)) ]; then
	fail "the sample is too small to test anything: $ndatasets datasets, $sfiles files, $sbytes bytes"
fi
note "sample: $ndatasets datasets, $sfiles files, $sbytes bytes"

SR=$T/sample-repo
run_ok "$AIDATA" pack "$SS" --datasets "$SS/datasets.json" --key "$KEY" \
	--out "$SR"
grep -Eq "^  datasets +$ndatasets$" "$LAST_OUT" ||
	{ show "$LAST_OUT" summary; fail "pack did not pack $ndatasets datasets"; }
grep -Eq "^  bytes in .*\($sbytes\)$" "$LAST_OUT" ||
	{ show "$LAST_OUT" summary; fail "pack did not read $sbytes bytes"; }
no_staging "$SR"
verify_ok "$SR" "$PUB"

# Secure datasets are encrypted for their nodes: get extracts every
# other dataset byte for byte, and never a secure file's content.
run_ok "$AIDATA" ls "$SR" --pubkey "$PUB"
awk '$2 == "secure" { print $1 }' "$LAST_OUT" >"$T/secure.list"
awk '$2 != "secure" { print $1 }' "$LAST_OUT" >"$T/clear.list"
[ "$(wc -l <"$LAST_OUT")" -eq "$ndatasets" ] ||
	{ show "$LAST_OUT" ls; fail "ls REPO does not list $ndatasets datasets"; }
[ -s "$T/clear.list" ] || fail "the sample has no open or shared dataset"
note "sample: secure datasets: $(tr '\n' ' ' <"$T/secure.list")"
if [ -s "$T/secure.list" ]; then
	expect_fail_with "(not supported|encrypted|secure)" \
		"$AIDATA" get "$SR" / "$T/sample-out" --pubkey "$PUB"
else
	run_ok "$AIDATA" get "$SR" / "$T/sample-out" --pubkey "$PUB"
	grep -qx "extracted $sfiles files, $sbytes bytes" "$LAST_OUT" ||
		{ show "$LAST_OUT" stdout; fail "get did not extract $sfiles files, $sbytes bytes"; }
fi
# exactly the datasets, nothing else (datasets.json is not one)
find "$T/sample-out" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort \
	>"$T/out.list"
find "$SS" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort >"$T/src.list"
same_text "datasets extracted by get /" "$T/src.list" "$T/out.list"
while read -r ds; do
	same_tree "sample dataset $ds" "$SS/$ds" "$T/sample-out/$ds"
	[ "$(self_meta "$SS/$ds")" = "$(self_meta "$T/sample-out/$ds")" ] ||
		fail "sample dataset $ds: the top directory's mode/mtime differ"
	f=$(find "$SS/$ds" -type f | wc -l)
	run_ok "$AIDATA" get "$SR" "$ds" "$T/sample-one" --pubkey "$PUB"
	grep -qx "extracted $f files, [0-9]* bytes" "$LAST_OUT" ||
		{ show "$LAST_OUT" stdout; fail "get of $ds did not extract $f files"; }
	rm -rf "$T/sample-one"
done <"$T/clear.list"
while read -r ds; do
	no_wrong_bytes "$T/sample-out/$ds" "$SS/$ds"
	[ -z "$(find "$T/sample-out/$ds" -type f -size +0)" ] ||
		fail "get extracted content from secure dataset $ds"
done <"$T/secure.list"

leftover=$(find "$TMPDIR" -mindepth 1 -maxdepth 1)
[ -z "$leftover" ] || fail "aidata left scratch files in TMPDIR: $leftover"
note "PASS"

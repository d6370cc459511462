#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Re-packing is incremental (issue #7, FORMAT.md §9.2):
# - in a dataset of 50,000 files of about 1 KiB, one small file that
#   grows, shrinks, is added or is removed adds at most 2 new chunks (the
#   greedy packer used to re-store every chunk after the edit);
# - files unchanged since the last pack (size, mtime, ctime, inode,
#   device in the pack state) are not read: the summary counts them, and
#   --rehash, which reads everything, comes to the same catalogs;
# - a file rewritten with its old size and mtime is still read (ctime);
# - the result reads back byte-identical.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
test_keys
S=$T/src
R=$T/repo
STATE=$T/state
N=50000
CHUNK=$((4 << 20))

note "generating $N small files and one large one"
mkdir -p "$S/corpus"
python3 - "$S/corpus" "$N" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = [("w%03d" % i).encode() for i in range(500)]
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    size = rng.randrange(700, 1300)
    body = b" ".join(rng.choice(words) for _ in range(size // 4 + 1))[:size]
    with open(os.path.join(d, "f%06d.txt" % i), "wb") as f:
        f.write(body)
EOF
random_file "$S/corpus/large.bin" $((5 * 1024 * 1024 + 12345))
mk_dataset_json "$T/datasets.json" corpus:science:text:open
FILES=$((N + 1))
# files written in the second before a pack are re-read by the next one
sleep 1.1

# pack_rev N [options]: pack S into R as revision N; the summary is kept.
pack_rev() {
	local rev=$1
	shift
	pack_revision "$rev" --state "$STATE" "$@"
}

# field REV WHAT: a number from the summary of revision REV.
field() {
	local s=$T/summary.$1
	case $2 in
	new) sed -nE 's/^  chunks +[0-9]+ referenced, ([0-9]+) new$/\1/p' "$s" ;;
	stored) sed -nE 's/^  stored +.* \(([0-9]+)\) in .*/\1/p' "$s" ;;
	skipped) sed -nE 's/^  skipped +([0-9]+) files unchanged .*/\1/p' "$s" ;;
	files) sed -nE 's/^  files +([0-9]+) .*/\1/p' "$s" ;;
	esac
}

# at_most_two_new REV WHAT: one edit added 1 or 2 chunks, no more bytes.
at_most_two_new() {
	local new stored
	new=$(field "$1" new)
	stored=$(field "$1" stored)
	if [ -z "$new" ] || [ "$new" -lt 1 ] || [ "$new" -gt 2 ]; then
		show "$T/summary.$1" summary
		fail "$2: $new new chunks, expected 1 or 2"
	fi
	[ "$stored" -le $((2 * CHUNK)) ] ||
		fail "$2: $stored new bytes stored, more than two chunks"
	note "$2: $new new chunk(s), $stored bytes stored"
}

# roundtrip: get / of the current revision equals the source, byte for byte.
roundtrip() {
	rm -rf "$T/out"
	run_ok "$AIDATA" get "$R" / "$T/out" --pubkey "$PUB"
	diff -r --no-dereference "$S" "$T/out" >"$T/diff" 2>&1 ||
		{ show "$T/diff" diff; fail "revision $(manifest_revision "$R") does not read back as its source"; }
}

# ---------------------------------------------------------------------
note "revision 1: everything read"
pack_rev 1
[ "$(field 1 files)" -eq "$FILES" ] || fail "revision 1 packed $(field 1 files) files"
[ "$(field 1 skipped)" -eq 0 ] || fail "a first pack skipped files"
[ -f "$STATE/pack-state" ] || fail "no pack state written in $STATE"
chunks1=$(field 1 new)
note "revision 1: $chunks1 chunks"

note "revision 2: nothing changed, nothing read"
pack_rev 2
[ "$(field 2 skipped)" -eq "$FILES" ] ||
	{ show "$T/summary.2" summary; fail "an unchanged re-pack read files"; }
[ "$(field 2 new)" -eq 0 ] || fail "an unchanged re-pack stored chunks"
root2=$(manifest_root "$R")

note "revision 3: one small file grows by 400 bytes"
head -c 400 /dev/zero | tr '\0' 'x' >>"$S/corpus/d021/f021345.txt"
pack_rev 3
at_most_two_new 3 "append"
skipped=$(field 3 skipped)
[ "$skipped" -ge $((FILES - 2 * CHUNK / 700)) ] && [ "$skipped" -lt "$FILES" ] ||
	{ show "$T/summary.3" summary; fail "append: $skipped files not re-read"; }

note "revision 4: one small file shrinks"
head -c 100 "$S/corpus/d007/f007777.txt" >"$T/short"
cat "$T/short" >"$S/corpus/d007/f007777.txt"
pack_rev 4
at_most_two_new 4 "shrink"

note "revision 5: one small file added"
printf 'a new file in the middle of the corpus\n' >"$S/corpus/d030/f030500a.txt"
pack_rev 5
at_most_two_new 5 "add"

note "revision 6: one small file removed"
rm "$S/corpus/d044/f044044.txt"
pack_rev 6
at_most_two_new 6 "remove"

note "revision 7: --rehash reads everything, to the same catalogs"
root6=$(manifest_root "$R")
pack_rev 7 --rehash
[ "$(field 7 skipped)" -eq 0 ] || fail "--rehash skipped files"
[ "$(field 7 new)" -eq 0 ] || fail "--rehash of an unchanged tree stored chunks"
[ "$(manifest_root "$R")" = "$root6" ] ||
	fail "--rehash packed other catalogs than the incremental pack"
[ "$root6" != "$root2" ] || fail "test bug: the edits changed nothing"

note "revision 8: same size, same mtime, new content: still read"
sleep 1.1
pack_rev 8 # every file settled in the state
big=$S/corpus/large.bin
mtime=$(stat -c %y "$big")
printf 'CHANGED' | dd of="$big" bs=1 seek=$((CHUNK + 100)) conv=notrunc status=none
touch -d "$mtime" "$big"
[ "$(stat -c %y "$big")" = "$mtime" ] || fail "test bug: mtime not restored"
pack_rev 9
[ "$(field 9 new)" -eq 1 ] ||
	{ show "$T/summary.9" summary; fail "the rewritten large file's changed chunk was not stored"; }
[ "$(field 9 skipped)" -eq $(($(field 9 files) - 1)) ] ||
	{ show "$T/summary.9" summary; fail "expected every file but large.bin to be skipped"; }
# the last revision holds every edit above, reused and read chunks alike
roundtrip
verify_ok "$R" "$PUB"

note "a lost pack state costs a full read, nothing else"
rm -rf "$STATE"
pack_rev 10
[ "$(field 10 skipped)" -eq 0 ] || fail "skipped files without a state"
[ "$(field 10 new)" -eq 0 ] || fail "a full re-read stored chunks"
note "PASS"

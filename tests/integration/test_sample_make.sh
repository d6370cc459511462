#!/bin/bash
# The sample generator, sample/make_sample.py ($SAMPLE): the same seed gives
# a byte-identical tree, mtimes and modes included (the default seed is 1);
# another seed gives other data; the tree has what the sample promises
# (sample_check.py coverage: datasets, industries, tiers, modalities, contributors,
# well-formed PNG/WAV/AVI/PLY/OBJ/jsonl, canaries in every secure file and
# nowhere else); bad arguments and a non-empty DIR are refused, clearly.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
: "${SAMPLE:=$SRCDIR/sample/make_sample.py}"
[ -f "$SAMPLE" ] || fail "SAMPLE=$SAMPLE (the sample generator) is missing"
# the real interpreter (a pyenv shim costs seconds per call), no site-packages
PY=$(python3 -S -c 'import sys; print(sys.executable)') || fail "python3 does not run"
CHECK=$SRCDIR/tests/integration/sample_check.py
gen() { # DIR [ARGS...]: generate, timed
	local t0=$SECONDS
	run_ok "$PY" -S "$SAMPLE" --out "$@"
	note "$(cat "$LAST_OUT") ($((SECONDS - t0)) s)"
}

note "seed 1 twice (once by default), seed 2 into an existing empty directory"
gen "$T/a"
gen "$T/b" --seed 1
mkdir "$T/c"
gen "$T/c" --seed=2

# digest DIR: names, types, sizes, contents, symlink targets, modes and
# mtimes of DIR and everything below it
digest() {
	tree_digest "$1"
	tree_meta "$1"
	stat -c '. %a %Y' "$1"
}

note "same seed: identical trees, metadata included"
digest "$T/a" >"$T/a.digest"
digest "$T/b" >"$T/b.digest"
same_text "digest of two runs with seed 1" "$T/a.digest" "$T/b.digest"
# control: the digest sees metadata
touch -h -d @1000000000 "$T/b/datasets.json"
digest "$T/b" | cmp -s "$T/a.digest" - && fail "control: the digest misses an mtime change"

note "another seed: the same names, other data (every file of 64 KiB or more differs)"
tree_digest "$T/a" >"$T/a.files"
tree_digest "$T/c" >"$T/c.files"
same_text "names and types with seeds 1 and 2" <(awk '{ print $1, $2 }' "$T/a.files") \
	<(awk '{ print $1, $2 }' "$T/c.files")
# "path f SIZE SHA256": the same hash for a big file is a failure
join <(awk '$2 == "f" && $3 >= 65536 { print $1, $4 }' "$T/a.files" | sort) \
	<(awk '$2 == "f" { print $1, $4 }' "$T/c.files" | sort) | awk '$2 == $3' >"$T/same"
[ ! -s "$T/same" ] || { show "$T/same" "files"; fail "files with the same bytes for seeds 1 and 2"; }
[ "$(awk '$2 == "f" && $3 >= 65536' "$T/a.files" | wc -l)" -ge 20 ] ||
	fail "control: fewer than 20 files of 64 KiB or more"

note "coverage"
run_ok "$PY" -S "$CHECK" coverage "$T/a"
note "$(cat "$LAST_OUT")"
bytes=$(find "$T/a" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
read -r big _ < <(find "$T/a" -type f -printf '%s %p\n' | sort -n | tail -n 1)
note "$bytes bytes, largest file $big bytes"
# the size the tests are tuned for; a file over two 4 MiB chunks
[ "$bytes" -ge $((60 << 20)) ] && [ "$bytes" -le $((150 << 20)) ] ||
	fail "the sample has $bytes bytes (want 60..150 MiB)"
[ "$big" -gt $((8 << 20)) ] || fail "the largest file has only $big bytes (want > 8 MiB)"

note "refusals"
digest "$T/a" >"$T/a.before"
expect_fail_with "refusing to generate into '$T/a': directory is not empty" \
	"$PY" -S "$SAMPLE" --out "$T/a"
digest "$T/a" >"$T/a.after"
same_text "the refused run left the tree alone" "$T/a.before" "$T/a.after"
: >"$T/file"
expect_fail_with "cannot generate into '$T/file': not a directory" \
	"$PY" -S "$SAMPLE" --out "$T/file"
for bad in -1 abc 1.5 '' 18446744073709551616; do
	expect_fail_with "invalid seed '$bad'" "$PY" -S "$SAMPLE" --out "$T/d" --seed "$bad"
	[ ! -e "$T/d" ] || fail "--seed '$bad' was refused but created $T/d"
done
expect_fail_with "the following arguments are required: --out" "$PY" -S "$SAMPLE"
expect_fail_with "unrecognized arguments: --bogus" "$PY" -S "$SAMPLE" --out "$T/d" --bogus
run_ok "$PY" -S "$SAMPLE" --help
grep -q -- "--out DIR" "$LAST_OUT" || { show "$LAST_OUT" help; fail "--help does not show --out DIR"; }
note "PASS"

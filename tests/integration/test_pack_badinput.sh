#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# pack refuses bad input and leaves the repository exactly as it was: for
# each bad source tree, datasets file, key or full disk, the pack fails
# with a message naming the culprit and the reason, the repository's
# files are unchanged, it still verifies, and no .staging.* is left. A
# failing pack into a repository that did not exist leaves nothing.
#
# Needs root: an unprivileged user (useradd/runuser) for unreadable files,
# and a small tmpfs (mount) for the full disk.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] ||
	fail "test_pack_badinput.sh must run as root (it creates a user and mounts a tmpfs)"

T=$(mktemp -d)
chmod 0711 "$T" # the test user reaches its own files below
MNT=$T/mnt
TUSER=aidata-t-$$
user_made=
cleanup() {
	local rc=$?
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" || umount -l "$MNT" || true
	fi
	if [ -n "$user_made" ]; then
		userdel "$TUSER" >/dev/null 2>&1 || true
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
export TMPDIR="$T/tmp"
mkdir "$TMPDIR"

run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key
PUB=$T/keys/platform.pub

# The good source and its first revision.
S=$T/src
mkdir -p "$S/alpha/sub" "$S/beta"
printf 'alpha text\n' >"$S/alpha/a.txt"
random_file "$S/alpha/sub/b.bin" 100000
printf 'sub text %s\n' {1..100} >"$S/alpha/sub/c.txt"
ln -s ../a.txt "$S/alpha/sub/to-a"
random_file "$S/beta/x.bin" 70000
GOOD_DS=(alpha:science:text:open beta:finance:binary:shared)
mk_dataset_json "$T/good.json" "${GOOD_DS[@]}"
R=$T/repo
run_ok "$AIDATA" pack "$S" --datasets "$T/good.json" --key "$KEY" \
	--out "$R" --chunk-size 64K
verify_ok "$R" "$PUB"
tree_digest "$R" >"$T/repo.digest"

# repo_unchanged REPO DIGEST WHAT: same files as before, still verifies
# at revision 1, no staging left.
repo_unchanged() {
	tree_digest "$1" >"$T/now.digest"
	same_text "$3: the repository after a failed pack" "$2" "$T/now.digest"
	no_staging "$1"
	verify_ok "$1" "$PUB"
	[ "$(manifest_revision "$1")" = 1 ] || fail "$3: revision changed"
}

# bad_pack WHAT PATTERN SRC JSON [KEY]: pack into R must fail with stderr
# matching PATTERN and leave R as it was.
bad_pack() {
	local what=$1 pattern=$2 src=$3 json=$4 key=${5:-$KEY}
	expect_fail_with "$pattern" "$AIDATA" pack "$src" --datasets "$json" \
		--key "$key" --out "$R" --chunk-size 64K
	cp "$LAST_OUT" "$T/bad.out"
	cp "$LAST_ERR" "$T/bad.err"
	repo_unchanged "$R" "$T/repo.digest" "$what"
	# stderr_has after bad_pack looks at the pack, not at the verify
	LAST_OUT=$T/bad.out
	LAST_ERR=$T/bad.err
	note "refused: $what"
}

# no_raw_controls WHAT: the last stderr holds no raw control character
# (a name is shown escaped: raw bytes could drive the terminal) and no
# raw newline (every line is a message of its own).
no_raw_controls() {
	if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$LAST_ERR" ||
		LC_ALL=C grep -qv '^aidata pack: ' "$LAST_ERR"; then
		show "$LAST_ERR" stderr
		fail "$1: raw control character in the message"
	fi
}

# new_src NAME: a fresh copy of the good source, printed.
new_src() {
	cp -a "$S" "$T/$1"
	printf '%s' "$T/$1"
}

# ------------------------------------------------ the datasets file --
note "datasets file"
src=$(new_src src-extra)
mkdir "$src/gamma"
printf 'g\n' >"$src/gamma/g.txt"
bad_pack "dataset directory not described" \
	"'$src/gamma': dataset directory is not described in '$T/good.json'" \
	"$src" "$T/good.json"

mk_dataset_json "$T/ghost.json" "${GOOD_DS[@]}" ghost:law:text:open
bad_pack "described dataset missing from the source" \
	"dataset 'ghost' is described in '$T/ghost.json' but is not a directory" \
	"$S" "$T/ghost.json"
src=$(new_src src-ghost-file)
printf 'a file, not a dataset directory\n' >"$src/ghost"
bad_pack "described dataset is a file in the source" \
	"dataset 'ghost' is described in .* but is not a directory" \
	"$src" "$T/ghost.json"

mk_dataset_json "$T/tier.json" alpha:science:text:public \
	beta:finance:binary:shared
bad_pack "unknown tier" \
	"'$T/tier.json': dataset 'alpha': unknown tier 'public'" \
	"$S" "$T/tier.json"

mk_dataset_json "$T/dup.json" "${GOOD_DS[@]}" alpha:other:text:open
bad_pack "duplicate dataset name" \
	"'$T/dup.json': duplicate dataset name 'alpha'" "$S" "$T/dup.json"

head -c -20 "$T/good.json" >"$T/trunc.json"
bad_pack "malformed JSON (truncated)" "'$T/trunc.json': line [0-9]+: " \
	"$S" "$T/trunc.json"
printf '{"datasets": [{"name": "alpha",}]}\n' >"$T/comma.json"
bad_pack "malformed JSON (trailing comma)" "'$T/comma.json': line 1: " \
	"$S" "$T/comma.json"
printf '[]\n' >"$T/array.json"
bad_pack "JSON that is not an object" \
	"'$T/array.json': expected an object with a non-empty \"datasets\" array" \
	"$S" "$T/array.json"
printf '{"datasets": []}\n' >"$T/empty.json"
bad_pack "no datasets" \
	"'$T/empty.json': expected an object with a non-empty \"datasets\" array" \
	"$S" "$T/empty.json"
bad_pack "datasets file missing" "'$T/no-such.json'.*No such file" \
	"$S" "$T/no-such.json"

sed 's/"license": "CC-BY-4.0", //' "$T/good.json" >"$T/nolicense.json"
grep -q license "$T/nolicense.json" && fail "test bug: license still there"
bad_pack "missing field" \
	"'$T/nolicense.json': datasets\[0\]: field 'license' missing" \
	"$S" "$T/nolicense.json"
sed '0,/"tier": "open"/s//"tier": 3/' "$T/good.json" >"$T/tiernum.json"
bad_pack "field of the wrong type" \
	"datasets\[0\]: field 'tier' missing or not a non-empty string" \
	"$S" "$T/tiernum.json"
sed '0,/"tier": "open"/s//"tier": "open", "owner": "x"/' "$T/good.json" \
	>"$T/unknown.json"
bad_pack "unknown field" "datasets\[0\]: unknown field 'owner'" \
	"$S" "$T/unknown.json"

# names: control characters (shown escaped by the JSON writer), invalid
# UTF-8 (rejected by the JSON parser), '/', '..', C1 controls
mk_dataset_json "$T/nl.json" "${GOOD_DS[@]}" $'bad\nname:law:text:open'
bad_pack "dataset name with a newline" \
	"name contains a control character" "$S" "$T/nl.json"
stderr_has "'$T/nl.json': datasets\[2\]: invalid dataset name"
mk_dataset_json "$T/tab.json" "${GOOD_DS[@]}" $'bad\tname:law:text:open'
bad_pack "dataset name with a tab" \
	"invalid dataset name 'bad\\\\x09name': name contains a control character" \
	"$S" "$T/tab.json"
mk_dataset_json "$T/c1.json" "${GOOD_DS[@]}" $'bad\xc2\x85name:law:text:open'
bad_pack "dataset name with a C1 control (U+0085)" \
	"invalid dataset name .*: name contains a control character" \
	"$S" "$T/c1.json"
mk_dataset_json "$T/utf8.json" "${GOOD_DS[@]}" $'bad\xff:law:text:open'
bad_pack "dataset name with invalid UTF-8" \
	"'$T/utf8.json': line [0-9]+: .*(decode|UTF|utf)" "$S" "$T/utf8.json"
mk_dataset_json "$T/slash.json" "${GOOD_DS[@]}" a/b:law:text:open
bad_pack "dataset name with '/'" \
	"invalid dataset name 'a/b': name contains '/'" "$S" "$T/slash.json"
mk_dataset_json "$T/dotdot.json" "${GOOD_DS[@]}" ..:law:text:open
bad_pack "dataset name '..'" "invalid dataset name '\.\.'" \
	"$S" "$T/dotdot.json"
mk_dataset_json "$T/industry.json" alpha:sci/ence:text:open \
	beta:finance:binary:shared
bad_pack "industry with '/'" \
	"dataset 'alpha': industry 'sci/ence': name contains '/'" \
	"$S" "$T/industry.json"

# contributors (the alliance pool): required for shared datasets, a label
sed 's/"contributor": "tests", //' "$T/good.json" >"$T/nocontrib.json"
grep -q contributor "$T/nocontrib.json" && fail "test bug: contributor still there"
bad_pack "shared dataset without a contributor" \
	"'$T/nocontrib.json': dataset 'beta': a shared dataset needs a \"contributor\"" \
	"$S" "$T/nocontrib.json"
mk_dataset_json "$T/orgslash.json" alpha:science:text:open \
	beta:finance:binary:shared:acme/eu
bad_pack "contributor with '/'" \
	"dataset 'beta': contributor 'acme/eu': name contains '/'" \
	"$S" "$T/orgslash.json"
mk_dataset_json "$T/orgnl.json" alpha:science:text:open:$'ac\nme' \
	beta:finance:binary:shared
bad_pack "contributor with a newline" \
	"dataset 'alpha': contributor 'ac\\\\x0ame': name contains a control character" \
	"$S" "$T/orgnl.json"
sed 's/"contributor": "tests"/"contributor": ""/' "$T/good.json" >"$T/orgempty.json"
bad_pack "empty contributor" \
	"datasets\[1\]: field 'contributor' missing or not a non-empty string" \
	"$S" "$T/orgempty.json"
sed 's/"contributor": "tests"/"contributor": 7/' "$T/good.json" >"$T/orgnum.json"
bad_pack "contributor that is not a string" \
	"datasets\[1\]: field 'contributor' missing or not a non-empty string" \
	"$S" "$T/orgnum.json"

# ------------------------------------------------- the source tree --
note "source trees"
for name in $'new\nline' $'tab\tname' $'bad\xff' $'c1\xc2\x85' $'del\x7f'; do
	src=$(new_src "src-name-$RANDOM")
	printf 'x\n' >"$src/alpha/sub/$name"
	bad_pack "file name $(printf '%q' "$name")" \
		"'$src/alpha/sub/.*': invalid name: name (contains a control character|is not valid UTF-8)" \
		"$src" "$T/good.json"
	no_raw_controls "file name $(printf '%q' "$name")"
done
src=$(new_src src-name-dir)
mkdir "$src/beta/"$'dir\nname'
bad_pack "directory name with a newline" \
	"'$src/beta/dir\\\\x0aname': invalid name" "$src" "$T/good.json"

src=$(new_src src-escape-rel)
ln -s ../../etc/passwd "$src/alpha/evil"
bad_pack "symlink ../../etc/passwd" \
	"'$src/alpha/evil': symlink to '../../etc/passwd' refused: target leaves the dataset" \
	"$src" "$T/good.json"
src=$(new_src src-escape-abs)
ln -s /etc/passwd "$src/alpha/sub/abs"
bad_pack "symlink /etc/passwd" \
	"'$src/alpha/sub/abs': symlink to '/etc/passwd' refused: absolute target" \
	"$src" "$T/good.json"
src=$(new_src src-escape-sibling)
ln -s ../../beta/x.bin "$src/alpha/sub/sibling"
bad_pack "symlink into another dataset" \
	"'$src/alpha/sub/sibling': symlink to '../../beta/x.bin' refused" \
	"$src" "$T/good.json"
src=$(new_src src-escape-middle)
ln -s sub/../../beta "$src/alpha/middle"
bad_pack "symlink with '..' after a name" \
	"'$src/alpha/middle': symlink to 'sub/../../beta' refused" \
	"$src" "$T/good.json"

src=$(new_src src-fifo)
mkfifo "$src/alpha/sub/fifo"
bad_pack "FIFO" \
	"'$src/alpha/sub/fifo': special file .*refused" "$src" "$T/good.json"
src=$(new_src src-device)
mknod "$src/beta/null" c 1 3
bad_pack "character device" \
	"'$src/beta/null': special file .*refused" "$src" "$T/good.json"
bad_pack "source directory missing" "'$T/no-such-src'.*No such file" \
	"$T/no-such-src" "$T/good.json"

# ------------------------------------------------------------- keys --
note "keys"
run_ok "$AIDATA" keygen --out "$T/other-keys"
bad_pack "a different platform key" \
	"'$R' was signed by a different platform key" \
	"$S" "$T/good.json" "$T/other-keys/platform.key"
printf 'this is not a key\n' >"$T/not-a-key"
bad_pack "a key file that is not a key" \
	"key '$T/not-a-key': not a PEM Ed25519 private key" \
	"$S" "$T/good.json" "$T/not-a-key"
: >"$T/empty-key"
bad_pack "an empty key file" \
	"key '$T/empty-key': not a PEM Ed25519 private key" \
	"$S" "$T/good.json" "$T/empty-key"
bad_pack "the public key instead of the private key" \
	"key '$PUB': not a PEM Ed25519 private key" "$S" "$T/good.json" "$PUB"
bad_pack "a missing key file" "key '$T/no-such-key': No such file" \
	"$S" "$T/good.json" "$T/no-such-key"

# ------------------------------------------------ the --out argument --
note "--out"
mkdir "$T/not-a-repo"
printf 'precious\n' >"$T/not-a-repo/file"
expect_fail_with "'$T/not-a-repo' is not empty and has no manifest" \
	"$AIDATA" pack "$S" --datasets "$T/good.json" --key "$KEY" \
	--out "$T/not-a-repo"
[ "$(ls -A "$T/not-a-repo")" = file ] || fail "pack wrote into a non-repository"
printf 'x\n' >"$T/plain-file"
expect_fail_with "'$T/plain-file' is not a directory" \
	"$AIDATA" pack "$S" --datasets "$T/good.json" --key "$KEY" \
	--out "$T/plain-file"

note "fresh repository: nothing left behind on failure"
for json in "$T/trunc.json" "$T/ghost.json"; do
	expect_fail_with "$json" "$AIDATA" pack "$S" --datasets "$json" \
		--key "$KEY" --out "$T/fresh-repo"
	[ ! -e "$T/fresh-repo" ] || fail "failed pack left $T/fresh-repo behind"
done
expect_fail_with "special file" "$AIDATA" pack "$T/src-fifo" \
	--datasets "$T/good.json" --key "$KEY" --out "$T/fresh-repo"
[ ! -e "$T/fresh-repo" ] || fail "failed pack left $T/fresh-repo behind"

# ------------------------------------- unreadable files, as a user --
note "unreadable files and directories (as user $TUSER)"
useradd -M -r -d /nonexistent -s /usr/sbin/nologin "$TUSER" ||
	fail "cannot create the test user $TUSER"
user_made=1
UB=$T/user-bin
mkdir "$UB"
cp "$AIDATA" "$UB/aidata" # the build tree may not be reachable by the user
chmod 0755 "$UB" "$UB/aidata"
UH=$T/user-home
mkdir -p "$UH/tmp" "$UH/keys"
cp "$KEY" "$UH/keys/platform.key"
cp "$T/good.json" "$UH/good.json"
cp -a "$S" "$UH/src"
cp -a "$R" "$UH/repo"
chown -R "$TUSER:" "$UH"
as_user() {
	runuser -u "$TUSER" -- env TMPDIR="$UH/tmp" "$@"
}
user_pack() {
	as_user "$UB/aidata" pack "$1" --datasets "$UH/good.json" \
		--key "$UH/keys/platform.key" --out "$2" --chunk-size 64K
}
# the user can pack at all: a good pack into a scratch copy succeeds
cp -a "$UH/repo" "$UH/repo-check"
chown -R "$TUSER:" "$UH/repo-check"
run_ok user_pack "$UH/src" "$UH/repo-check"
[ "$(manifest_revision "$UH/repo-check")" = 2 ] ||
	fail "the test user cannot pack a good tree: the checks below mean nothing"
rm -rf "$UH/repo-check"

printf 'top secret\n' >"$UH/src/alpha/sub/secret.txt"
chown "$TUSER:" "$UH/src/alpha/sub/secret.txt"
chmod 000 "$UH/src/alpha/sub/secret.txt"
as_user cat "$UH/src/alpha/sub/secret.txt" >/dev/null 2>&1 &&
	fail "test bug: the test user can read a mode 000 file"
expect_fail_with "'$UH/src/alpha/sub/secret.txt': .*Permission denied" \
	user_pack "$UH/src" "$UH/repo"
repo_unchanged "$UH/repo" "$T/repo.digest" "unreadable file"
note "refused: unreadable file"

expect_fail_with "'$UH/src/alpha/sub/secret.txt': .*Permission denied" \
	user_pack "$UH/src" "$UH/new-repo"
[ ! -e "$UH/new-repo" ] ||
	fail "a pack failing on an unreadable file left the new $UH/new-repo"
note "refused: unreadable file, fresh repository left nothing"
chmod 0644 "$UH/src/alpha/sub/secret.txt"

chmod 000 "$UH/src/alpha/sub"
expect_fail_with "'$UH/src/alpha/sub': cannot open directory: Permission denied" \
	user_pack "$UH/src" "$UH/repo"
repo_unchanged "$UH/repo" "$T/repo.digest" "unreadable directory"
note "refused: unreadable directory (mode 000)"
chmod 0600 "$UH/src/alpha/sub" # readable, not searchable
expect_fail_with "'$UH/src/alpha/sub/[^']*': Permission denied" \
	user_pack "$UH/src" "$UH/repo"
repo_unchanged "$UH/repo" "$T/repo.digest" "unsearchable directory"
note "refused: unsearchable directory (mode 0600)"
chmod 0755 "$UH/src/alpha/sub"
chmod 000 "$UH/src/beta"
expect_fail_with "'$UH/src/beta': .*Permission denied" \
	user_pack "$UH/src" "$UH/repo"
repo_unchanged "$UH/repo" "$T/repo.digest" "unreadable dataset directory"
note "refused: unreadable dataset directory"
chmod 0755 "$UH/src/beta"
leftover=$(find "$UH/tmp" -mindepth 1 -maxdepth 1)
[ -z "$leftover" ] || fail "aidata left scratch files in TMPDIR: $leftover"

# ------------------------------------------------------- full disk --
note "disk full (3 MiB tmpfs)"
mkdir "$MNT"
mount -t tmpfs -o size=3M,mode=0755 tmpfs "$MNT" ||
	fail "cannot mount a tmpfs on $MNT"
run_ok "$AIDATA" pack "$S" --datasets "$T/good.json" --key "$KEY" \
	--out "$MNT/repo" --chunk-size 64K
verify_ok "$MNT/repo" "$PUB"
tree_digest "$MNT/repo" >"$T/mnt.digest"
used_before=$(df -k --output=used "$MNT" | tail -n1)
big=$(new_src src-big)
random_file "$big/alpha/sub/big.bin" $((10 * 1024 * 1024))
expect_fail_with "No space left on device" \
	"$AIDATA" pack "$big" --datasets "$T/good.json" --key "$KEY" \
	--out "$MNT/repo" --chunk-size 64K
repo_unchanged "$MNT/repo" "$T/mnt.digest" "disk full"
used_after=$(df -k --output=used "$MNT" | tail -n1)
[ "$used_after" -le "$used_before" ] ||
	fail "disk full: ${used_before}K used before, ${used_after}K after the failed pack"
note "refused: disk full"
expect_fail_with "No space left on device" \
	"$AIDATA" pack "$big" --datasets "$T/good.json" --key "$KEY" \
	--out "$MNT/fresh" --chunk-size 64K
[ ! -e "$MNT/fresh" ] || fail "disk full: the new $MNT/fresh was left behind"
repo_unchanged "$MNT/repo" "$T/mnt.digest" "disk full, fresh repository"
note "refused: disk full, fresh repository left nothing"
# The disk fills in the second dataset, with 1 MiB shards: the first
# dataset's shard and catalog, and the second's first shards, are by then
# with the finisher thread (fsync, compaction, rename), which is either
# still at them or the one that hits the full disk.
big2=$(new_src src-big2)
random_file "$big2/beta/big.bin" $((10 * 1024 * 1024))
expect_fail_with "No space left on device" \
	"$AIDATA" pack "$big2" --datasets "$T/good.json" --key "$KEY" \
	--out "$MNT/repo" --chunk-size 64K --shard-size 1M
repo_unchanged "$MNT/repo" "$T/mnt.digest" "disk full in the second dataset"
used_after=$(df -k --output=used "$MNT" | tail -n1)
[ "$used_after" -le "$used_before" ] ||
	fail "disk full in the second dataset: ${used_before}K used before, ${used_after}K after"
note "refused: disk full in the second dataset, nothing left behind"

# ------------------------------------------------ independent checks --
# Names from the datasets file are shown escaped, as names from the tree
# are: an escape sequence or newline in datasets.json must not reach the
# terminal raw.
json_name_newline_escaped() {
	mk_dataset_json "$T/nl2.json" "${GOOD_DS[@]}" $'bad\nname:law:text:open'
	bad_pack "dataset name with a newline, message on one line" \
		"invalid dataset name" "$S" "$T/nl2.json"
	no_raw_controls "dataset name with a newline"
}
json_name_escape_escaped() {
	mk_dataset_json "$T/esc.json" "${GOOD_DS[@]}" \
		$'bad\e[2Jname:law:text:open'
	bad_pack "dataset name with an ESC sequence" \
		"invalid dataset name" "$S" "$T/esc.json"
	no_raw_controls "dataset name with an ESC sequence"
}
independent json_name_newline_escaped
independent json_name_escape_escaped

# ------------------------------------------------------------- end --
note "the good repository still packs"
repo_unchanged "$R" "$T/repo.digest" "all of the above"
run_ok "$AIDATA" pack "$S" --datasets "$T/good.json" --key "$KEY" \
	--out "$R" --chunk-size 64K
[ "$(manifest_revision "$R")" = 2 ] || fail "a good pack after all that failed"
verify_ok "$R" "$PUB"
leftover=$(find "$TMPDIR" -mindepth 1 -maxdepth 1)
[ -z "$leftover" ] || fail "aidata left scratch files in TMPDIR: $leftover"
independent_done
note "PASS"

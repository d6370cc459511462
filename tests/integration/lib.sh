# shellcheck shell=bash
# Shared helpers of the integration tests. Source it after `set -euo
# pipefail`:
#
#   . "$SRCDIR/tests/integration/lib.sh"
#
# The environment (set by tests/integration/meson.build): AIDATA is the
# aidata binary, SRCDIR the source tree, BUILDDIR the build tree.
#
# Every test makes its own temp dir and removes it on exit (test_tmpdir
# below does it, with TMPDIR inside):
#
#   T=$(mktemp -d)
#   trap 'rm -rf "$T"' EXIT
#
# The helpers below keep captured output and diffs in $T.

: "${AIDATA:?AIDATA must name the aidata binary}"
: "${SRCDIR:?SRCDIR must name the source tree}"
[ -x "$AIDATA" ] || {
	printf 'FAIL: AIDATA=%s is not an executable\n' "$AIDATA" >&2
	exit 1
}
export LC_ALL=C
# A test's EXIT trap (its cleanup) must also run when it is interrupted
# or killed by meson's timeout: turn those signals into an exit.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# test_tmpdir: the test's temp dir $T, removed on exit, with TMPDIR (for
# everything the test runs) inside it. Call it at the top level of the
# test: the EXIT trap it sets is the test's.
test_tmpdir() {
	T=$(mktemp -d)
	trap 'rm -rf "$T"' EXIT
	export TMPDIR="$T/tmp"
	mkdir "$TMPDIR"
}

# pack_revision REV [options...]: `aidata pack $S --datasets $DATASETS
# (default $T/datasets.json) --key $KEY --out $R [options]` must succeed
# and report revision REV; its summary is kept as $T/summary.REV.
pack_revision() {
	local rev=$1
	shift
	run_ok "$AIDATA" pack "$S" --datasets "${DATASETS:-$T/datasets.json}" \
		--key "$KEY" --out "$R" "$@"
	cp "$LAST_OUT" "$T/summary.$rev"
	grep -qx "packed revision $rev into '$R'" "$T/summary.$rev" ||
		{ show "$T/summary.$rev" summary; fail "pack did not report revision $rev"; }
}

# test_keys: a platform key pair in $T/keys, as $KEY and $PUB.
test_keys() {
	run_ok "$AIDATA" keygen --out "$T/keys"
	KEY=$T/keys/platform.key
	PUB=$T/keys/platform.pub
}

# fail MSG...: print and stop the test.
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# note MSG...: progress line on stdout (meson keeps it in the log).
note() {
	printf '== %s\n' "$*"
}

# show FILE LABEL: print a captured output file, for failure reports.
show() {
	printf -- '--- %s ---\n' "$2" >&2
	# raw control characters (other than tab and newline) made visible
	if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$1" 2>/dev/null; then
		cat -v -- "$1" >&2 || true
	else
		cat -- "$1" >&2 || true
	fi
	printf -- '--- end of %s ---\n' "$2" >&2
}

# run_ok cmd...: run a command that must succeed. Its stdout is kept in
# $LAST_OUT (a file) and stderr in $LAST_ERR; on failure both are shown.
LAST_OUT=
LAST_ERR=
run_ok() {
	local rc=0
	LAST_OUT="$T/last.out"
	LAST_ERR="$T/last.err"
	"$@" >"$LAST_OUT" 2>"$LAST_ERR" || rc=$?
	if [ "$rc" -ne 0 ]; then
		show "$LAST_OUT" stdout
		show "$LAST_ERR" stderr
		fail "exit $rc from: $*"
	fi
}

# expect_fail_with PATTERN cmd...: the command must exit non-zero (but not
# by a signal: a crash is never an acceptable way to refuse input) and its
# stderr must match the extended regular expression PATTERN. Output kept
# in $LAST_OUT / $LAST_ERR.
expect_fail_with() {
	local pattern=$1 rc=0
	shift
	LAST_OUT="$T/last.out"
	LAST_ERR="$T/last.err"
	"$@" >"$LAST_OUT" 2>"$LAST_ERR" || rc=$?
	if [ "$rc" -eq 0 ]; then
		show "$LAST_OUT" stdout
		show "$LAST_ERR" stderr
		fail "expected failure, got exit 0 from: $*"
	fi
	if [ "$rc" -gt 125 ]; then
		show "$LAST_OUT" stdout
		show "$LAST_ERR" stderr
		fail "exit $rc (killed by a signal / crashed) from: $*"
	fi
	if ! grep -Eq -- "$pattern" "$LAST_ERR"; then
		show "$LAST_OUT" stdout
		show "$LAST_ERR" stderr
		fail "stderr does not match /$pattern/ (exit $rc) from: $*"
	fi
}

# independent FUNCTION ARGS...: run a self-contained check in a subshell
# (with errexit on) so that its failure is counted in INDEPENDENT_FAILED
# but does not hide the checks after it. End the test with
# `independent_done`.
INDEPENDENT_FAILED=0
independent() {
	local r
	set +e
	(
		set -e
		"$@"
	)
	r=$?
	set -e
	[ "$r" -eq 0 ] || INDEPENDENT_FAILED=$((INDEPENDENT_FAILED + 1))
}
independent_done() {
	[ "$INDEPENDENT_FAILED" -eq 0 ] ||
		fail "$INDEPENDENT_FAILED independent check(s) failed (see above)"
}

# stderr_has PATTERN: the last run_ok/expect_fail_with stderr also
# matches the extended regular expression PATTERN.
stderr_has() {
	if ! grep -Eq -- "$1" "$LAST_ERR"; then
		show "$LAST_ERR" stderr
		fail "stderr does not match /$1/"
	fi
}

# tree_digest DIR: one line per entry below DIR, sorted by path:
#   path d                        directory
#   path f SIZE SHA256            regular file
#   path l TARGET                 symlink
#   path o                        anything else
# Paths and targets are shell-quoted (%q) so any byte is visible. Two
# trees with equal digests have the same names, types, contents and
# symlink targets. Modes and times are not included (see tree_meta).
tree_digest() {
	local dir=$1
	(
		cd -- "$dir" || exit 1
		declare -A sum=() tgt=()
		local rec hash type size path link
		# "HASH  ./NAME\0": -z also turns off name escaping
		while IFS= read -r -d '' rec; do
			hash=${rec:0:64}
			sum[${rec:66}]=$hash
		done < <(find . -type f -print0 | xargs -0r sha256sum -z --)
		while IFS= read -r -d '' path && IFS= read -r -d '' link; do
			tgt[$path]=$link
		done < <(find . -type l -printf '%P\0%l\0')
		# "TYPE SIZE PATH", sorted by PATH (field 3 to the end)
		while IFS= read -r -d '' rec; do
			type=${rec%% *}
			rec=${rec#* }
			size=${rec%% *}
			path=${rec#* }
			case $type in
			d) printf '%q d\n' "$path" ;;
			f) printf '%q f %s %s\n' "$path" "$size" \
				"${sum[./$path]:?no digest for $path}" ;;
			l) printf '%q l %q\n' "$path" "${tgt[$path]}" ;;
			*) printf '%q %s\n' "$path" "$type" ;;
			esac
		done < <(find . -mindepth 1 -printf '%y %s %P\0' |
			sort -z -t ' ' -k3)
	)
}

# tree_meta DIR: one line per entry below DIR, sorted by path: path, type,
# permission bits (symlinks: -) and mtime with nanoseconds. For comparing
# what `aidata get` restores beyond the content.
tree_meta() {
	local dir=$1
	(
		cd -- "$dir" || exit 1
		local rec type mode mtime
		while IFS= read -r -d '' rec; do
			type=${rec%% *}
			rec=${rec#* }
			mode=${rec%% *}
			rec=${rec#* }
			mtime=${rec%% *}
			[ "$type" = l ] && mode=-
			printf '%q %s %s %s\n' "${rec#* }" "$type" "$mode" "$mtime"
		done < <(find . -mindepth 1 -printf '%y %m %T@ %P\0' |
			sort -z -t ' ' -k4)
	)
}

# json_str S: S as a JSON string literal (control characters escaped;
# other bytes, valid UTF-8 or not, copied as they are).
json_str() {
	local s=$1 out='"' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		'"') out+='\"' ;;
		\\) out+=\\\\ ;;
		*)
			if [[ $c < ' ' ]]; then
				out+=$(printf '\\u%04x' "'$c")
			else
				out+=$c
			fi
			;;
		esac
	done
	printf '%s"' "$out"
}

# mk_dataset_json FILE name:industry:modality:tier[:contributor] ...:
# write a datasets description with one entry per argument (license and
# description are filled in; a shared dataset without a contributor gets
# "tests", since the packer requires one). A name containing ':' cannot
# be given this way.
mk_dataset_json() {
	local file=$1 spec name industry modality tier contributor sep=''
	shift
	{
		printf '{"datasets": [\n'
		for spec in "$@"; do
			name=${spec%%:*}
			spec=${spec#*:}
			industry=${spec%%:*}
			spec=${spec#*:}
			modality=${spec%%:*}
			spec=${spec#*:}
			tier=${spec%%:*}
			contributor=
			[ "$tier" = "$spec" ] || contributor=${spec#*:}
			[ -n "$contributor" ] || [ "$tier" != shared ] ||
				contributor=tests
			printf '%s  {"name": %s, "industry": %s, "modality": %s, ' \
				"$sep" "$(json_str "$name")" \
				"$(json_str "$industry")" "$(json_str "$modality")"
			[ -z "$contributor" ] ||
				printf '"contributor": %s, ' "$(json_str "$contributor")"
			printf '"tier": %s, "license": "CC-BY-4.0", ' \
				"$(json_str "$tier")"
			printf '"description": %s}' \
				"$(json_str "test dataset $name")"
			sep=$',\n'
		done
		printf '\n]}\n'
	} >"$file"
}

# random_file PATH BYTES: BYTES of incompressible data.
random_file() {
	head -c "$2" /dev/urandom >"$1"
	[ "$(stat -c %s -- "$1")" -eq "$2" ] || fail "cannot write $1"
}

# manifest_revision REPO: the revision number of REPO's manifest.
manifest_revision() {
	sed -n 's/^revision \([0-9][0-9]*\)$/\1/p' "$1/manifest"
}

# manifest_root REPO: the root catalog digest named by REPO's manifest.
manifest_root() {
	sed -n 's/^root-catalog \([0-9a-f]\{64\}\)$/\1/p' "$1/manifest"
}

# objects REPO: the sorted object paths (catalog/..., data/aa/...).
objects() {
	(cd -- "$1" && find catalog data -type f 2>/dev/null | sort)
}

# no_staging REPO: fail if a pack left a .staging.* directory behind.
no_staging() {
	local left
	left=$(find "$1" -maxdepth 1 -name '.staging.*' -print)
	[ -z "$left" ] || fail "staging left behind in $1: $left"
}

# verify_ok REPO PUB: `aidata verify` passes (exit 0, "ok" summary).
verify_ok() {
	run_ok "$AIDATA" verify "$1" --pubkey "$2"
	grep -q "^verify: '.*': ok, " "$LAST_OUT" ||
		{ show "$LAST_OUT" stdout; fail "verify of $1 printed no ok"; }
}

# no_wrong_bytes OUT SRC: every regular file that a (failed) `aidata get`
# left in OUT is byte-identical to its source in SRC.
no_wrong_bytes() {
	local f
	if [ ! -e "$1" ]; then
		return 0
	fi
	while IFS= read -r -d '' f; do
		cmp -s -- "$1/$f" "$2/$f" ||
			fail "get wrote wrong bytes to $1/$f"
	done < <(cd -- "$1" && find . -type f -printf '%P\0')
}

# same_text WHAT A B: fail showing a diff if files A and B differ.
same_text() {
	if ! diff -u -- "$2" "$3" >"$T/diff.out" 2>&1; then
		show "$T/diff.out" "diff of $1"
		fail "$1 differs"
	fi
}

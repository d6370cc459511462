#!/bin/bash
# The manual pages man/aidatafs.8 and man/aidata.1: groff and man render
# them without a warning, and they cannot drift from the programs: every
# command `aidata --help` lists has its section (and no section names a
# command that does not exist), every option of every command's --help
# (in its usage lines and option list) has an entry in that command's
# section, every -o option and general option of `aidatafs --help` has an
# entry in aidatafs(8), and both pages have the sections a manual page
# owes (SYNOPSIS, FILES, EXIT STATUS, SEE ALSO). A bare mention does not
# count as an entry.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
: "${AIDATAFS:?AIDATAFS must name the aidatafs binary}"
for tool in groff man; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
MAN1=$SRCDIR/man/aidata.1
MAN8=$SRCDIR/man/aidatafs.8

# render PAGE: plain ASCII, no hyphenation, lines as long as they come
render() {
	groff -t -man -Tascii -rLL=400n -rHY=0 -P-cbou "$1" 2>"$T/render.err"
	[ ! -s "$T/render.err" ] || { show "$T/render.err" groff; fail "groff warns on $1"; }
}

for page in "$MAN1" "$MAN8"; do
	note "$(basename "$page"): groff -ww and man -l --warnings are quiet"
	groff -t -man -ww -z "$page" 2>"$T/groff.err" ||
		fail "groff fails on $page"
	[ ! -s "$T/groff.err" ] || { show "$T/groff.err" groff; fail "groff warns on $page"; }
	MANWIDTH=80 man -l --warnings "$page" >"$T/man.out" 2>"$T/man.err" ||
		{ show "$T/man.err" man; fail "man -l fails on $page"; }
	[ ! -s "$T/man.err" ] || { show "$T/man.err" man; fail "man warns on $page"; }
	[ "$(wc -l <"$T/man.out")" -gt 50 ] || fail "man -l renders little of $page"
	render "$page" >"$T/page.txt"
	for section in NAME SYNOPSIS DESCRIPTION FILES 'EXIT STATUS' 'SEE ALSO'; do
		grep -qx "$section" "$T/page.txt" || fail "$page has no $section section"
	done
done

render "$MAN1" >"$T/aidata.txt"
render "$MAN8" >"$T/aidatafs.txt"

note "every aidata command has its section, and every section a command"
"$AIDATA" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' >"$T/commands"
[ "$(wc -l <"$T/commands")" -ge 15 ] || { show "$T/commands" commands; fail "too few commands in aidata --help"; }
sed -n 's/^   aidata \([a-z][a-z-]*\).*/\1/p' "$T/aidata.txt" | sort -u >"$T/sections"
sort -u "$T/commands" >"$T/commands.sorted"
if ! diff -u "$T/commands.sorted" "$T/sections" >"$T/diff"; then
	show "$T/diff" "commands (aidata --help) vs sections (aidata.1)"
	fail "aidata.1 and aidata --help do not list the same commands"
fi

# section_of CMD...: the text of the sections whose heading starts
# "aidata CMD" (e.g. "token" gives "token issue" and "token show").
section_of() {
	awk -v h="   aidata $*" '
		/^   [^ ]/ || /^[A-Z]/ { inside = (index($0, h) == 1) }
		inside { print }' "$T/aidata.txt"
}

# options_of HELPFILE: the long options of a --help text's usage lines
# (up to the first blank line) and option list (lines "  --opt ...");
# not the other commands' options its prose may mention
options_of() {
	awk '/^usage:/ { u = 1 } u && /^$/ { u = 0 } u || /^ +--[a-z]/' "$1" |
		grep -o -- '--[a-z][a-z-]*' | grep -vx -- '--help' | sort -u || true
}

check_options() {
	local label=$1 helpfile=$2 section=$3 o missing=0
	for o in $(options_of "$helpfile"); do
		# a definition of its own (.TP), not just a mention
		grep -Eq -- "^       $o( |,|\$)" "$section" && continue
		echo "aidata.1: $label: option $o of --help has no entry" >&2
		missing=1
	done
	return "$missing"
}

note "every option of every command's --help is in its section"
bad=0
while read -r cmd; do
	"$AIDATA" "$cmd" --help >"$T/help" 2>&1 || fail "aidata $cmd --help fails"
	section_of "$cmd" >"$T/section"
	[ -s "$T/section" ] || fail "no section for aidata $cmd"
	check_options "$cmd" "$T/help" "$T/section" || bad=1
done <"$T/commands"
for sub in "token issue" "token show" "receipt verify"; do
	# shellcheck disable=SC2086
	"$AIDATA" $sub --help >"$T/help" 2>&1 || fail "aidata $sub --help fails"
	section_of "$sub" >"$T/section"
	[ -s "$T/section" ] || fail "no section for aidata $sub"
	check_options "$sub" "$T/help" "$T/section" || bad=1
done
[ "$bad" = 0 ] || fail "aidata.1 lacks options (see above)"

note "every option of aidatafs --help is in aidatafs(8)"
"$AIDATAFS" --help >"$T/fshelp" 2>&1 || fail "aidatafs --help fails"
# ours: up to libfuse's own list, which follows "Unmount with:"
sed -n '1,/^Unmount with/p' "$T/fshelp" >"$T/fshelp.ours"
sed -n 's/^    -o \([a-z0-9_]*=\{0,1\}\).*/\1/p' "$T/fshelp.ours" >"$T/fsopts"
[ "$(wc -l <"$T/fsopts")" -ge 15 ] || { show "$T/fsopts" options; fail "too few -o options in aidatafs --help"; }
bad=0
while read -r o; do
	# a definition of its own (.TP), not just a mention
	grep -Eq -- "^       $o( |,|[A-Z]|\$)" "$T/aidatafs.txt" && continue
	echo "aidatafs.8: -o $o of --help has no entry" >&2
	bad=1
done <"$T/fsopts"
for o in -f -d -s -h --help -V --version; do
	grep -Eq -- "^       $o( |,|$)|, $o( |$)" "$T/aidatafs.txt" && continue
	echo "aidatafs.8: general option $o is not documented" >&2
	bad=1
done
# the options fstab and mount(8) write, accepted and ignored
for o in _netdev nofail noauto defaults 'x-\*'; do
	grep -q -- "$o" "$T/aidatafs.txt" || { echo "aidatafs.8: ignored option $o not documented" >&2; bad=1; }
done
[ "$bad" = 0 ] || fail "aidatafs.8 lacks options (see above)"
note "PASS"

#!/bin/bash
# `aidata pack` killed with SIGKILL at points all through a pack (files
# read, shards written and then fsynced and moved by the finisher thread,
# catalogs compacted, objects moved in, the manifest replaced) leaves the
# repository at the revision it had or at the next one, complete: it
# verifies, and its manifest is the old one byte for byte or a new one of
# the next revision. Dead packs leave no temporary files for good: the
# next pack that runs to its end removes their staging directories and
# pack-state temporaries, and packs the changes they did not publish.
#
# Where each kill lands depends on the machine's speed; what is checked
# after it does not.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"
test_tmpdir
test_keys

S=$T/src
R=$T/repo
export XDG_CACHE_HOME=$T/xdg
DS=(alpha:science:text:open beta:finance:binary:open gamma:law:text:open)
mkdir -p "$S/alpha/docs" "$S/beta" "$S/gamma/cases"
# compressible and random data, large files and small ones, so that a
# pack of the three takes many shards of 1 MiB
for i in 1 2 3; do
	seq -f "alpha line %g of a text file that compresses" 1 60000 \
		>"$S/alpha/docs/big$i.txt"
	random_file "$S/beta/blob$i.bin" $((2 * 1024 * 1024))
done
for i in $(seq 1 150); do
	printf 'case %s\n' "$i" >"$S/gamma/cases/c$i.txt"
	seq 1 $((i * 40)) >>"$S/gamma/cases/c$i.txt"
done
mk_dataset_json "$T/datasets.json" "${DS[@]}"

# edit: something new in every large file and one small one, so that
# each pack has a revision to make and reads most of the bytes again
edit() {
	local f
	for f in alpha/docs/big1.txt alpha/docs/big2.txt alpha/docs/big3.txt \
		beta/blob1.bin beta/blob2.bin beta/blob3.bin gamma/cases/c7.txt; do
		printf 'edit %s\n' "$1" >>"$S/$f"
	done
}

# pack_killed PCT: a pack of $S into $R, sent SIGKILL after PCT % of
# $ms. Sets pid, delay and rc (0: it ended first; 137: killed); any other
# exit fails the test.
pack_killed() {
	delay=$(printf '%d.%03d' $((ms * $1 / 100000)) $((ms * $1 / 100 % 1000)))
	rc=0
	"$AIDATA" pack "$S" --datasets "$T/datasets.json" --key "$KEY" \
		--out "$R" --shard-size 1M >"$T/kill.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 137 ] ||
		{ show "$T/kill.out" output; fail "pack killed after $delay s: exit $rc, not 0 or 137"; }
}

pack_revision 1 --shard-size 1M
verify_ok "$R" "$PUB"
# how long a pack of the edits takes here, to spread the kills over it
edit timing
t0=$(date +%s%N)
pack_revision 2 --shard-size 1M
ms=$((($(date +%s%N) - t0) / 1000000))
note "a pack of the edits took $ms ms"
rev=2
killed=0
for pct in 0 5 10 15 20 30 40 50 60 70 80 90 95; do
	edit "$pct"
	cp "$R/manifest" "$T/manifest.before"
	pack_killed "$pct"
	[ "$rc" = 0 ] || killed=$((killed + 1))
	# what the dead pack had staged
	staged=$(find "$R" -path "$R/.staging.$pid/objects/*" -type f | wc -l)
	now=$(manifest_revision "$R")
	if [ "$now" = "$rev" ]; then
		cmp -s "$T/manifest.before" "$R/manifest" ||
			fail "killed after $delay s: the manifest of revision $rev changed"
	elif [ "$now" = $((rev + 1)) ]; then
		rev=$now
	else
		fail "killed after $delay s: revision $now after $rev"
	fi
	verify_ok "$R" "$PUB"
	note "killed after $delay s (exit $rc, $staged files staged): revision $rev, verifies"
done
[ "$killed" -gt 0 ] || fail "no pack was killed before its end: nothing was tested"

# The next pack runs to its end: it cleans up after the dead ones (and
# after a publisher killed while it wrote the manifest's temporary, left
# here by hand) and publishes what they did not.
printf 'half a manifest' >"$R/manifest.tmp.99999"
mkdir -p "$R/.staging.99999/objects/data"
pack_revision $((rev + 1)) --shard-size 1M
verify_ok "$R" "$PUB"
no_staging "$R"
[ ! -e "$R/manifest.tmp.99999" ] || fail "a dead publisher's manifest.tmp left"
left=$(find "$XDG_CACHE_HOME" -name '.pack-state.*' -print)
[ -z "$left" ] || fail "pack-state temporaries of dead packs left: $left"
# the repository holds the last edits
rm -rf "$T/out"
run_ok "$AIDATA" get "$R" / "$T/out" --pubkey "$PUB"
diff -r --no-dereference "$S" "$T/out" >"$T/diff" 2>&1 ||
	{ show "$T/diff" diff; fail "the last revision does not read back as its source"; }
note "$killed of 13 packs killed; revision $((rev + 1)) holds every edit"

# Any publisher removes a manifest temporary a dead one left: here
# `aidata revoke`, which writes a manifest too.
printf 'half a manifest' >"$R/manifest.tmp.99998"
run_ok "$AIDATA" revoke "$R" --key "$KEY" "kill9-$$"
[ ! -e "$R/manifest.tmp.99998" ] || fail "revoke left a dead publisher's manifest.tmp"
[ "$(manifest_revision "$R")" = $((rev + 2)) ] || fail "revoke did not publish a revision"
verify_ok "$R" "$PUB"
note "revoke removed a dead publisher's manifest.tmp"

# A first pack killed: what it leaves (nothing, staging, objects moved in
# without a manifest) is packed into by the next one as a new repository.
R=$T/fresh
for pct in 0 10 20 30 40 50 60 70 80 90 95 98; do
	rm -rf "$R"
	pack_killed "$pct"
	left=$(find "$R" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null || true)
	if [ -e "$R/manifest" ]; then
		verify_ok "$R" "$PUB"
		next=2
	else
		next=1
	fi
	pack_revision "$next" --shard-size 1M
	verify_ok "$R" "$PUB"
	no_staging "$R"
	note "first pack killed after $delay s (exit $rc, left: ${left:-nothing}): revision $next packed into it"
done

# The narrow window no kill above is sure to hit: a first pack killed
# after its objects were moved in and before its manifest was (step 3 of
# FORMAT.md 9.4), left here by hand from a complete first pack.
rm -rf "$R"
pack_revision 1 --shard-size 1M
mv "$R/manifest" "$R/manifest.tmp.99999"
mkdir "$R/.staging.99999"
pack_revision 1 --shard-size 1M
verify_ok "$R" "$PUB"
no_staging "$R"
[ ! -e "$R/manifest.tmp.99999" ] || fail "a dead first pack's manifest.tmp left"
note "objects moved in without a manifest: packed into as a new repository"
# ...but a directory holding anything else is still refused
rm "$R/manifest"
printf 'x\n' >"$R/notes.txt"
expect_fail_with "is not empty and has no manifest" \
	"$AIDATA" pack "$S" --datasets "$T/datasets.json" --key "$KEY" --out "$R"
note "refused: objects and another file, no manifest"

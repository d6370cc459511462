#!/bin/bash
# Secure plaintext never reaches a disk: mount the sample platform on a
# secure node (its node key holds every secure dataset's key), log in with
# a secure credential, read every file of every secure dataset (all bytes
# checked against the source), then look for the plaintext in everything
# the node wrote: the cache dir, the audit log, the daemon log and the
# login state. Searched: the marker prefix AIDATA-SECURE-PLAINTEXT (grep),
# and random 32-byte windows of every secure file (grep -F for the
# text-safe ones, a byte search for all; only secret windows: none that
# also occurs in public data, names or dataset descriptions, which the
# catalogs rightly carry, and none of low entropy; TIERS_SEED=N repeats a
# run's choice). Controls: the same searches find every marker file and
# every window in the source tree. The repository (origin) holds no
# marker and no window either.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

MARKER="AIDATA-SECURE-PLAINTEXT"
SEED=${TIERS_SEED:-$RANDOM}

step "sample platform (seed $SEED for the windows)"
make_platform "$T/p"
SECURE=()
for d in $(dataset_names "$PLAT_JSON"); do
	[ "$(dataset_field "$PLAT_JSON" "$d" tier)" = secure ] && SECURE+=("$d")
done
[ "${#SECURE[@]}" -ge 2 ] || fail "the sample has ${#SECURE[@]} secure datasets, expected 2 or more"
note "secure datasets: ${SECURE[*]}"
mapfile -t SECFILES < <(for d in "${SECURE[@]}"; do
	find "$PLAT_SRC/$d" -type f
done | sort)
[ "${#SECFILES[@]}" -ge 4 ] || fail "only ${#SECFILES[@]} secure files"
SECBYTES=$(cat "${SECFILES[@]}" | wc -c)

step "controls: the source has the marker in every secure file"
for f in "${SECFILES[@]}"; do
	grep -qaF "$MARKER-" "$f" || fail "source file $f has no $MARKER marker"
done
# and only the secure datasets have it
others=$({ grep -rlaF "$MARKER" "$PLAT_SRC" || true; } | sort | comm -23 - <(printf '%s\n' "${SECFILES[@]}"))
[ -z "$others" ] || fail "marker outside the secure datasets: $others"

step "secret 32-byte windows of every secure file"
py "$here/tiers_probe.py" windows "$T/win" 8 "$SEED" --public "$PLAT_JSON" \
	"$PLAT_SRC" "${SECFILES[@]}"
[ -s "$T/win/grep.pat" ] || fail "no text-safe window for grep"
# control: each file's own windows are found in it, by grep and by bytes
for i in "${!SECFILES[@]}"; do
	[ -s "$T/win/grep-$i.pat" ] || continue
	grep -qaF -f "$T/win/grep-$i.pat" "${SECFILES[$i]}" ||
		fail "control: grep -F does not find ${SECFILES[$i]}'s windows in it"
done
n=$(grep -rlaF -f "$T/win/grep.pat" "${SECFILES[@]}" | wc -l)
note "control: grep -F finds windows in $n of ${#SECFILES[@]} secure source files"
py "$here/tiers_probe.py" search "$T/win/windows.hex" --expect-all "${SECFILES[@]}"

step "the repository holds no secure plaintext"
if grep -rlaF "$MARKER" "$PLAT_REPO" >"$T/repo.hits"; then
	show "$T/repo.hits" "repository files with the marker"
	fail "the repository holds secure plaintext (marker)"
fi
if grep -rlaF -f "$T/win/grep.pat" "$PLAT_REPO" >"$T/repo.hits"; then
	show "$T/repo.hits" "repository files with a window"
	fail "the repository holds secure plaintext (32-byte window)"
fi
py "$here/tiers_probe.py" search "$T/win/windows.hex" "$PLAT_REPO" ||
	fail "the repository holds secure plaintext (32-byte window)"

step "mount the secure node, log in with a secure credential"
M=$T/mnt
LOG=$T/fs.log
AUDIT=$T/audit.log
STATE=$T/state
CACHE=$T/cache
mount_start "file://$PLAT_REPO" "$M" "$LOG" \
	"pubkey=$PLAT_PUB,cache=$CACHE,node_key=$PLAT_NODE_KEY,audit_log=$AUDIT,state=$STATE"
"$AIDATA" login --mount "$M" <"$PLAT_TOKEN" >"$T/login.out" 2>&1 ||
	{ show "$T/login.out" login; fail "login with the secure credential failed"; }
grep -q '"valid": true' "$T/login.out" || { show "$T/login.out" login; fail "login not valid"; }
[ -n "$(find "$STATE" -type f)" ] || fail "the login left no binding in $STATE"
cache_before=$(du -sb "$CACHE" | cut -f1)

step "read every secure file ($SECBYTES bytes) and compare"
for d in "${SECURE[@]}"; do
	[ "$(getfattr --absolute-names --only-values -n user.aidata.access "$M/datasets/$d/README.md")" = granted ] ||
		fail "secure dataset $d is not granted on this node"
	tree_digest "$PLAT_SRC/$d" >"$T/src-$d.digest"
	tree_digest "$M/datasets/$d" >"$T/mnt-$d.digest"
	same_text "secure dataset $d through the mount" "$T/src-$d.digest" \
		"$T/mnt-$d.digest"
done
# every file was opened and audited as granted
for f in "${SECFILES[@]}"; do
	rel=${f#"$PLAT_SRC"/}
	grep -qF "\"path\":\"/datasets/$rel\"" "$AUDIT" ||
		fail "no audit record for /datasets/$rel"
done
if grep -q '"decision":"denied"' "$AUDIT"; then
	show "$AUDIT" "audit log"
	fail "a secure read was denied"
fi
cache_after=$(du -sb "$CACHE" | cut -f1)
note "cache grew from $cache_before to $cache_after bytes"
# the ciphertext is cached: a quarter of the plaintext at least (the
# audio compresses little)
[ $((cache_after - cache_before)) -gt $((SECBYTES / 4)) ] ||
	fail "the cache grew by only $((cache_after - cache_before)) bytes for $SECBYTES bytes read"

step "no secure plaintext under the cache, the logs or the state"
TARGETS=("$CACHE" "$AUDIT" "$LOG" "$STATE")
search_targets() {
	local what=$1
	if grep -rlaF "$MARKER" "${TARGETS[@]}" >"$T/hits"; then
		show "$T/hits" "files with the marker ($what)"
		fail "secure plaintext (the marker) found $what"
	fi
	if grep -rlaF -f "$T/win/grep.pat" "${TARGETS[@]}" >"$T/hits"; then
		show "$T/hits" "files with a window ($what)"
		fail "secure plaintext (a 32-byte window) found $what"
	fi
	py "$here/tiers_probe.py" search "$T/win/windows.hex" "${TARGETS[@]}" ||
		fail "secure plaintext (a 32-byte window) found $what"
}
search_targets "while mounted"
# the marker does appear in the mount itself (the control of the target
# grep: the same command finds it where the plaintext is meant to be)
grep -rlaF "$MARKER" "$M/datasets/${SECURE[0]}" >"$T/mnt.hits" ||
	fail "control: the marker grep finds nothing in the mount"

step "and after the unmount (everything flushed)"
mount_stop "$M"
search_targets "after unmount"
note "searched $(find "${TARGETS[@]}" -type f | wc -l) files, $(du -sbc "${TARGETS[@]}" | tail -n 1 | cut -f1) bytes"
step "ok"

#!/bin/bash
# Revisions on a live mount (file://, --ttl 2): a re-pack is picked up
# within a bounded time without remounting (.aidata/revision, new file,
# new content of a changed file) while a file opened before keeps reading
# the old revision to its end. Restoring the old manifest (a rollback) is
# refused: the mount keeps revision 2 and logs it, and a new mount with
# the same cache refuses to mount.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p" --ttl 2
cp "$PLAT_REPO/manifest" "$T/manifest.r1"
[ "$(manifest_revision "$PLAT_REPO")" = 1 ] || fail "first pack is not revision 1"
# F: the biggest file (several chunks), changed in revision 2
read -r _ F < <(cd "$PLAT_SRC" && find . -type f -printf '%s %P\n' | sort -n | tail -n 1)
DS=${F%%/*}
IND=$(dataset_field "$PLAT_JSON" "$DS" industry)
NEW=$DS/added-in-revision-2.txt
cp "$PLAT_SRC/$F" "$T/F.old"
step "F=$F ($(stat -c %s "$T/F.old") bytes)"

CACHE=$T/cache
OPTS="pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$CACHE"
mount_start "file://$PLAT_REPO" "$T/mnt" "$T/fs.log" "$OPTS"
M=$T/mnt
[ "$(cat "$M/.aidata/revision")" = 1 ] || fail "not at revision 1"
[ ! -e "$M/datasets/$NEW" ] || fail "$NEW exists in revision 1"

step "open F and read its first MiB; keep it open"
py "$PYHELP/mount_hold.py" "$M/datasets/$F" "$T/F.old" "$T/hold.ready" \
	"$T/hold.go" "$T/hold.result" >"$T/hold.out" 2>&1 &
holder=$!
wait_for 120 test -e "$T/hold.ready" || fail "the holder did not open $F"
[ ! -s "$T/hold.result" ] || { cat "$T/hold.result"; fail "the holder failed before the switch"; }
# the kernel knows F and the dataset now (entries and attributes cached)
stat "$M/datasets/$F" "$M/by-industry/$IND/$DS/$F" >/dev/null 2>&1 ||
	stat "$M/datasets/$F" >/dev/null
ls "$M/datasets/$DS" >/dev/null

step "revision 2: change F, add $NEW"
py - "$PLAT_SRC/$F" <<'EOF'
import os, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "r+b") as f:
    f.seek(size // 2)
    f.write(os.urandom(8192))  # new bytes in the middle
    f.seek(0, 2)
    f.write(b"appended in revision 2\n" * 100)
EOF
printf 'this file is new in revision 2\n' >"$PLAT_SRC/$NEW"
cmp -s "$PLAT_SRC/$F" "$T/F.old" && fail "F did not change"
pack_into "$PLAT_SRC" "$PLAT_JSON" "$PLAT_KEY" "$PLAT_REPO" --ttl 2
[ "$(manifest_revision "$PLAT_REPO")" = 2 ] || fail "second pack is not revision 2"
t0=$SECONDS

rev_is() {
	[ "$(cat "$M/.aidata/revision" 2>/dev/null)" = "$1" ]
}
# (ttl 2: a bound many times that, for a loaded machine)
wait_for 120 rev_is 2 || fail ".aidata/revision is still '$(cat "$M/.aidata/revision")' 120 s after the re-pack"
step "revision 2 served after $((SECONDS - t0)) s"
[ "$(stat_value "$M" aidatafs_revision)" = 2 ] || fail "aidatafs_revision is not 2"
wait_for 120 test -f "$M/datasets/$NEW" || fail "$NEW does not appear"
cmp -- "$M/datasets/$NEW" "$PLAT_SRC/$NEW" || fail "$NEW has the wrong content"
cmp -- "$M/by-industry/$IND/$NEW" "$PLAT_SRC/$NEW" || fail "by-industry/$IND/$NEW has the wrong content"
wait_for 120 test "$(stat -c %s "$M/datasets/$F")" -eq "$(stat -c %s "$PLAT_SRC/$F")" ||
	fail "the size of $F is $(stat -c %s "$M/datasets/$F"), not the new $(stat -c %s "$PLAT_SRC/$F")"
cmp -- "$M/datasets/$F" "$PLAT_SRC/$F" || fail "a fresh read of $F does not give the new content"
cmp -- "$M/by-industry/$IND/$F" "$PLAT_SRC/$F" || fail "by-industry: $F does not give the new content"
ls "$M/datasets/$DS" | grep -qx "${NEW#*/}" || fail "ls $DS does not list the new file"

step "the handle opened in revision 1 reads the old content to its end"
touch "$T/hold.go"
rc=0
wait "$holder" || rc=$?
cat "$T/hold.out"
[ "$rc" -eq 0 ] || fail "held handle: $(cat "$T/hold.result" 2>/dev/null)"
step "held handle: $(cat "$T/hold.result")"
# and the whole mount is revision 2
tree_digest "$M/datasets" >"$T/mnt.digest"
tree_digest "$PLAT_SRC" >"$T/src.digest"
same_text "datasets/ at revision 2" "$T/src.digest" "$T/mnt.digest"

step "rollback: the revision-1 manifest put back"
cp "$PLAT_REPO/manifest" "$T/manifest.r2"
cp "$T/manifest.r1" "$PLAT_REPO/manifest"
refused() {
	grep -qi 'rollback' "$T/fs.log"
}
wait_for 120 refused || { show "$T/fs.log" "aidatafs log"; fail "no rollback refusal logged within 120 s"; }
step "logged: $(grep -i rollback "$T/fs.log" | sed -n 1p)"
rev_is 2 || fail ".aidata/revision went to '$(cat "$M/.aidata/revision")' after a rollback"
[ "$(stat_value "$M" aidatafs_errors_total '{kind="rollback_refused"}')" -gt 0 ] ||
	fail "rollbacks refused is not counted"
cmp -- "$M/datasets/$F" "$PLAT_SRC/$F" || fail "$F is not revision 2's after the rollback"
test -f "$M/datasets/$NEW" || fail "$NEW vanished after the rollback"
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"

step "a new mount with the same cache refuses the older revision"
mount_expect_fail 'rollback|older' "file://$PLAT_REPO" "$T/mnt" "$T/fs-rollback.log" "$OPTS"
step "refused: $(grep -i 'cannot mount' "$T/fs-rollback.log" || sed -n 1p "$T/fs-rollback.log")"
# (a cache that never saw revision 2 mounts it: the refusal is the cache's
# memory, not a broken repository)
mount_start "file://$PLAT_REPO" "$T/mnt" "$T/fs-fresh.log" "pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-fresh"
rev_is 1 || fail "a fresh cache does not mount revision 1"
cmp -- "$M/datasets/$F" "$T/F.old" || fail "revision 1 of $F is not the old content"
mount_stop "$T/mnt"
echo "test_mount_revision: ok"

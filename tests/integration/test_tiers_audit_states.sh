#!/bin/bash
# The tiers tell the truth in every state of the audit log (issue #8 §5):
# user.aidata.access, access() and open() agree while the log's filesystem
# is full, after the log is renamed away (logrotate) or removed, and after
# a SIGHUP reopens it; the log stays valid JSON lines throughout, and the
# daemon survives SIGHUP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init
command -v getfattr >/dev/null || fail "getfattr (package attr) is not installed"

# (mount_cleanup unmounts the tmpfs below $T too)

step "platform, and an audit log on a 1 MiB tmpfs"
make_platform "$T/p"
SHARED=$(py - "$PLAT_JSON" <<'EOF'
import json, sys
print(next(d["name"] for d in json.load(open(sys.argv[1]))["datasets"]
           if d["tier"] == "shared"))
EOF
)
REL=$(cd "$PLAT_SRC/$SHARED" && find . -type f -printf '%P\n' | sort | sed -n 1p)
[ -n "$REL" ] || fail "shared dataset $SHARED has no file"
mkdir -p "$T/auditfs"
mount -t tmpfs -o size=1m,mode=0755 aidatafs-test-audit "$T/auditfs" ||
	fail "cannot mount a tmpfs for the audit log"
AFS=$T/auditfs
AUDIT=$AFS/audit.log
M=$T/mnt
mount_start "file://$PLAT_REPO" "$M" "$T/fs.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache,state=$T/state,audit_log=$AUDIT,$PLAT_AUTH"
F=$M/datasets/$SHARED/$REL

# state WANT: the attribute, access() and open() all say WANT
# ("granted" or "audit log unavailable").
state() {
	local want=$1 v
	v=$(getfattr --absolute-names --only-values -n user.aidata.access -- "$F")
	[ "$v" = "$want" ] || fail "user.aidata.access is '$v', expected '$want'"
	py - "$F" "$want" <<'EOF' || fail "access()/open() disagree with '$want'"
import errno, os, sys
path, want = sys.argv[1], sys.argv[2]
ok = os.access(path, os.R_OK)
try:
    os.close(os.open(path, os.O_RDONLY))
    opened = True
except OSError as e:
    if e.errno != errno.EACCES:
        sys.exit("open: %s" % e)
    opened = False
if (want == "granted") != ok or ok != opened:
    sys.exit("access() %s, open() %s, expected %s" % (ok, opened, want))
EOF
}

# records FILE: the number of records; every line must be a JSON object.
records() {
	py - "$1" <<'EOF'
import json, sys
n = 0
data = open(sys.argv[1], "rb").read()
if data and not data.endswith(b"\n"):
    sys.exit("unterminated record at the end")
for line in data.splitlines():
    if not isinstance(json.loads(line), dict):
        sys.exit("not a JSON object: %r" % line)
    n += 1
print(n)
EOF
}

step "granted: the attribute, access() and open() agree"
state granted
n0=$(records "$AUDIT")
[ "$n0" -ge 1 ] || fail "the granted open wrote no audit record"

step "the log's filesystem full: all three say unavailable"
dd if=/dev/zero of="$AFS/filler" bs=4k 2>/dev/null || true
state "audit log unavailable"
grep -q "audit log '$AUDIT' cannot be written (no space left on its filesystem)" "$T/fs.log" ||
	{ show "$T/fs.log" "aidatafs log"; fail "the daemon log does not say the audit log's filesystem is full"; }
[ "$(records "$AUDIT")" -eq "$n0" ] || fail "records changed while the log was full"
rm -f "$AFS/filler"
state granted
n1=$(records "$AUDIT")
[ "$n1" -eq $((n0 + 1)) ] || fail "after the disk was freed: $n1 records, expected $((n0 + 1))"

step "renamed away (logrotate): refused until SIGHUP reopens it"
mv "$AUDIT" "$AUDIT.1"
state "audit log unavailable"
: >"$AUDIT" # logrotate's "create": a new file, not the daemon's yet
state "audit log unavailable"
grep -q "removed or renamed since it was opened" "$T/fs.log" ||
	{ show "$T/fs.log" "aidatafs log"; fail "the daemon log does not say the log was renamed"; }
kill -HUP "$MOUNT_PID"
wait_for 120 bash -c '[ "$(getfattr --absolute-names --only-values -n user.aidata.access -- "$1")" = granted ]' _ "$F"
mount_alive || fail "the daemon died of SIGHUP"
state granted
[ "$(records "$AUDIT")" -eq 1 ] || fail "the reopened log does not hold exactly the new open"
[ "$(records "$AUDIT.1")" -eq "$n1" ] || fail "records went to the rotated file"
grep -q "reload (SIGHUP): reopening the audit log" "$T/fs.log" ||
	fail "the daemon log does not mention the reload"

step "removed: refused until SIGHUP recreates it"
rm -f "$AUDIT"
state "audit log unavailable"
kill -HUP "$MOUNT_PID"
wait_for 120 test -f "$AUDIT"
wait_for 120 bash -c '[ "$(getfattr --absolute-names --only-values -n user.aidata.access -- "$1")" = granted ]' _ "$F"
state granted
[ "$(records "$AUDIT")" -eq 1 ] || fail "the recreated log does not hold exactly the new open"
[ "$(stat -c %a "$AUDIT")" = 600 ] || fail "the recreated log has mode $(stat -c %a "$AUDIT")"

step "open-tier files never needed the log"
OPEN=$(py - "$PLAT_JSON" <<'EOF'
import json, sys
print(next(d["name"] for d in json.load(open(sys.argv[1]))["datasets"]
           if d["tier"] == "open"))
EOF
)
rm -f "$AUDIT"
OREL=$(cd "$PLAT_SRC/$OPEN" && find . -type f -printf '%P\n' | sort | sed -n 1p)
cmp -- "$M/datasets/$OPEN/$OREL" "$PLAT_SRC/$OPEN/$OREL" ||
	fail "an open-tier file did not read without an audit log"
mount_stop "$M"

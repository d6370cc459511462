#!/bin/bash
# A crash of a secure node's daemon leaves no core file (issue #8 §5): on
# a mount with node_key the daemon is not dumpable and has no core limit,
# so a SIGSEGV while a secure file is open and read writes nothing. The
# control: the same crash of a mount without node_key does write a core
# (so this machine's core settings would have caught a dump).
#
# The kernel's core_pattern is set to a file in the test's directory for
# the test and restored on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

PATTERN_FILE=/proc/sys/kernel/core_pattern
OLD_PATTERN=$(cat "$PATTERN_FILE")
OLD_DUMPABLE=$(cat /proc/sys/fs/suid_dumpable)
core_exit() {
	local rc=$?
	mount_cleanup
	printf '%s\n' "$OLD_PATTERN" >"$PATTERN_FILE"
	printf '%s\n' "$OLD_DUMPABLE" >/proc/sys/fs/suid_dumpable
	exit "$rc"
}
trap core_exit EXIT

step "platform; cores go to the test's directory"
make_platform "$T/p"
mkdir -p "$T/cores"
chmod 1777 "$T/cores"
printf '%s\n' "$T/cores/core.%p" >"$PATTERN_FILE"
# the setting that dumps even non-dumpable processes (root-readable):
# the daemon must not rely on it being off
printf '2\n' >/proc/sys/fs/suid_dumpable
ulimit -c unlimited

SECURE=$(py - "$PLAT_JSON" <<'EOF'
import json, sys
print(next(d["name"] for d in json.load(open(sys.argv[1]))["datasets"]
           if d["tier"] == "secure"))
EOF
)
REL=$(cd "$PLAT_SRC/$SECURE" && find . -type f -size +64k -printf '%P\n' | sort | sed -n 1p)
[ -n "$REL" ] || fail "secure dataset $SECURE has no file over 64 KiB"

# crash MNT: SIGSEGV the daemon of MNT and wait for it to be gone.
crash() {
	local pid
	pid=$(mount_pid "$1")
	kill -SEGV "$pid"
	wait "$pid" 2>/dev/null || true
	mount_stop "$1" any
}

step "control: without node_key a crash dumps core"
mount_start "file://$PLAT_REPO" "$T/m0" "$T/fs0.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache0"
cat "$T/m0/.aidata/revision" >/dev/null
pid0=$(mount_pid "$T/m0")
crash "$T/m0"
[ -s "$T/cores/core.$pid0" ] ||
	fail "no core from the control daemon (pid $pid0): this machine would not show a dump; cores: $(ls "$T/cores")"
rm -f "$T/cores"/core.*

step "secure node: a crash while plaintext is in memory dumps nothing"
mount_start "file://$PLAT_REPO" "$T/m1" "$T/fs1.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache1,$PLAT_AUTH"
pid1=$(mount_pid "$T/m1")
exec 7<"$T/m1/datasets/$SECURE/$REL"
head -c 65536 <&7 >"$T/first.bin"
cmp -n 65536 "$T/first.bin" "$PLAT_SRC/$SECURE/$REL" ||
	fail "the secure file did not read right before the crash"
grep -q 'AIDATA-SECURE-PLAINTEXT' "$PLAT_SRC/$SECURE/$REL" ||
	fail "the secure file has no canary to look for"
crash "$T/m1"
exec 7<&-
if [ -n "$(ls -A "$T/cores")" ]; then
	ls -la "$T/cores" >&2
	grep -l 'AIDATA-SECURE-PLAINTEXT' "$T/cores"/* >&2 &&
		echo "(the core holds the secure canary)" >&2
	fail "the secure node's daemon (pid $pid1) left a core"
fi
note "no core from pid $pid1; the control dumped one"

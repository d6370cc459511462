#!/bin/bash
# `meson install` (into a DESTDIR) installs what operators need:
# aidatafs in sbin (mount.fuse3 runs it from the PATH), aidata in bin,
# the manual pages aidata(1) and aidatafs(8), the systemd unit
# aidatafs@.service and an example configuration; the unit passes
# `systemd-analyze verify` (its commands exist, its settings parse, its
# Documentation= page is installed), and the example configuration is
# accepted by aidatafs.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

DEST=$T/dest
run_ok meson install -C "$BUILDDIR" --destdir "$DEST" --no-rebuild --quiet
# meson introspect is JSON: read the prefix and directories from it
read -r PREFIX SBINDIR BINDIR DATADIR MANDIR < <(meson introspect "$BUILDDIR" \
	--buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["sbindir"], o["bindir"], o["datadir"], o["mandir"])')
ROOT=$DEST$PREFIX

for f in "$SBINDIR/aidatafs" "$BINDIR/aidata"; do
	[ -x "$ROOT/$f" ] || fail "$PREFIX/$f is not installed"
done
for f in "$MANDIR/man1/aidata.1" "$MANDIR/man8/aidatafs.8"; do
	[ -f "$ROOT/$f" ] || fail "$PREFIX/$f is not installed"
done
MANPATH=$ROOT/$MANDIR man -w aidatafs >/dev/null ||
	fail "man does not find the installed aidatafs(8)"
UNIT=$(find "$DEST" -name 'aidatafs@.service')
[ -n "$UNIT" ] || fail "aidatafs@.service is not installed"
EXAMPLE=$ROOT/$DATADIR/doc/aidatafs/aidatafs.conf.example
[ -f "$EXAMPLE" ] || fail "the example configuration is not installed"

note "the unit runs the installed aidatafs, after the network, restarted on failure"
grep -qx "ExecStart=$PREFIX/$SBINDIR/aidatafs %f -f -o config=/etc/aidatafs/%i.conf" "$UNIT" ||
	{ show "$UNIT" unit; fail "ExecStart does not run the installed aidatafs"; }
for line in Type=notify After=network-online.target Wants=network-online.target \
	Restart=on-failure 'ExecReload=.* -HUP \$MAINPID' WantedBy=remote-fs.target; do
	grep -Eqx "$line" "$UNIT" || { show "$UNIT" unit; fail "the unit lacks $line"; }
done

if command -v systemd-analyze >/dev/null; then
	note "systemd-analyze verify (commands pointed into DESTDIR)"
	mkdir "$T/units"
	sed "s#$PREFIX/$SBINDIR/aidatafs#$ROOT/$SBINDIR/aidatafs#" "$UNIT" \
		>"$T/units/aidatafs@.service"
	ln -s aidatafs@.service "$T/units/aidatafs@mnt-aidata.service"
	rc=0
	(cd "$T/units" && MANPATH=$ROOT/$MANDIR \
		systemd-analyze verify ./aidatafs@mnt-aidata.service) \
		>"$T/verify.out" 2>&1 || rc=$?
	# only lines about our unit count (the host's own units may warn)
	if [ "$rc" -ne 0 ] || grep -q 'aidatafs' "$T/verify.out"; then
		show "$T/verify.out" "systemd-analyze verify"
		fail "systemd-analyze verify refuses the unit ($rc)"
	fi
else
	note "systemd-analyze is not installed: unit not verified"
fi

note "the example configuration parses (aidatafs reads it, then needs a key)"
mkdir "$T/mnt"
sed -e "s#^pubkey=.*#pubkey=$T/missing.pub#" "$EXAMPLE" >"$T/example.conf"
expect_fail_with "public key '$T/missing.pub'" \
	"$ROOT/$SBINDIR/aidatafs" "$T/mnt" -f -o "config=$T/example.conf"

note "PASS"

#!/bin/bash
# Mounting the way operators mount (issue #11):
#  1. an /etc/fstab line (a temporary fstab, `mount -T`) mounts through
#     mount(8) and mount.fuse3, which find `aidatafs` on the default PATH
#     (here /usr/local/sbin, bound over in a private mount namespace) and
#     pass fstab's own options (rw, _netdev, nofail, noauto, x-systemd.*,
#     comment=, dev, suid): the mount is ro, nosuid, nodev, fuse.aidatafs,
#     reads the right bytes, logs to -o log=FILE, reopens it on SIGHUP,
#     and `umount` ends the daemon;
#  2. an fstab line whose options come from -o config=FILE (comments,
#     blank lines, "key = value", CRLF, a flag, a value with a comma, no
#     final newline);
#  3. the systemd unit's form: `aidatafs MOUNTPOINT -f -o config=FILE`
#     with origin= in the file, the options fstab and systemd write
#     given directly, and readiness told on $NOTIFY_SOCKET (Type=notify)
#     only once the mount answers;
#  4. refusals with a message: a config line that is not an option, a
#     missing config file, config= inside a config file, no origin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"

# Everything runs in a private mount namespace: /usr/local/sbin (on the
# PATH mount.fuse3's shell searches: mount(8) drops the caller's PATH)
# gets this build's aidatafs without touching the host.
if [ -z "${AIDATAFS_FSTAB_NS:-}" ]; then
	AIDATAFS_FSTAB_NS=1 exec unshare --mount --propagation private -- \
		"$0" "$@"
fi
mount_test_init
for tool in mount umount mount.fuse3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
mkdir -p "$T/sbin"
ln -s "$AIDATAFS" "$T/sbin/aidatafs"
mount --bind "$T/sbin" /usr/local/sbin
[ "$(sh -c 'command -v aidatafs')" = /usr/local/sbin/aidatafs ] ||
	fail "sh does not find aidatafs in /usr/local/sbin"

make_platform "$T/p"
for d in $(dataset_names "$PLAT_JSON"); do
	[ "$(dataset_field "$PLAT_JSON" "$d" tier)" = open ] && break
done
SMALL=$(cd "$PLAT_SRC" && find "$d" -type f -size -64k | sort | sed -n 1p)
[ -n "$SMALL" ] || fail "no small file in an open dataset of the sample"

# daemon_of MNT: the pid of the aidatafs serving MNT (started by mount(8),
# so not a child of this shell), from /proc.
daemon_of() {
	local mnt=$1 p
	for p in /proc/[0-9]*; do
		{ tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null |
			awk -v m="$mnt" 'NR == 1 && $0 !~ /aidatafs$/ { exit 1 }
				$0 == m { f = 1 } END { exit !f }' ||
			continue
		echo "${p#/proc/}"
		return 0
	done
	return 1
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# fstab_mount MNT: mount MNT from $T/fstab, check it is ours and
# read-only, register its daemon for cleanup and set DPID.
fstab_mount() {
	local mnt=$1
	run_ok mount -T "$T/fstab" "$mnt"
	DPID=$(daemon_of "$mnt") || fail "no aidatafs daemon serves $mnt"
	_mount_pids[$mnt]=$DPID
	awk -v m="$mnt" '$2 == m' /proc/mounts >"$T/mounts"
	grep -Eq '^aidatafs [^ ]+ fuse\.aidatafs ro,nosuid,nodev,' "$T/mounts" ||
		{ show "$T/mounts" "/proc/mounts"; fail "$mnt is not a ro,nosuid,nodev fuse.aidatafs mount"; }
	cmp -- "$mnt/datasets/$SMALL" "$PLAT_SRC/$SMALL" ||
		fail "$SMALL read through the fstab mount differs"
}

# fstab_umount MNT: umount(8), and the daemon exits.
fstab_umount() {
	local mnt=$1
	run_ok umount "$mnt"
	wait_for 30 gone "$DPID" || fail "aidatafs ($DPID) still runs 30 s after umount"
	unset "_mount_pids[$mnt]"
	_is_mounted "$mnt" && fail "$mnt is still mounted after umount"
	return 0
}

step "1. an fstab line with fstab's and systemd's own options"
M1=$T/mnt1
mkdir -p "$M1"
OPTS="pubkey=$PLAT_PUB,cache=$T/cache1,audit_log=$T/audit1.log,state=$T/state1"
OPTS+=",log=$T/fs1.log,allow_other,_netdev,nofail,noauto,x-systemd.automount"
OPTS+=",x-systemd.mount-timeout=30,comment=aidata,dev,suid"
printf '# a temporary fstab\nfile://%s %s fuse.aidatafs %s 0 0\n' \
	"$PLAT_REPO" "$M1" "$OPTS" >"$T/fstab"
fstab_mount "$M1"
grep -q 'allow_other' "$T/mounts" || fail "allow_other did not reach the mount"
grep -q "info: mounted 'file://$PLAT_REPO' revision 1 at '$M1'" "$T/fs1.log" ||
	{ show "$T/fs1.log" log; fail "-o log=FILE does not say it mounted"; }
step "SIGHUP reopens the log file"
mv "$T/fs1.log" "$T/fs1.log.1"
kill -HUP "$DPID"
wait_for 30 grep -q "reload (SIGHUP): reopened the log '$T/fs1.log'" "$T/fs1.log" ||
	fail "no new log file with the reload line after SIGHUP"
grep -q 'reload' "$T/fs1.log.1" && fail "the reload line went to the renamed log"
fstab_umount "$M1"
grep -q "unmounted '$M1'" "$T/fs1.log" || { show "$T/fs1.log" log; fail "the log does not say it unmounted"; }

step "2. an fstab line with -o config=FILE"
M2=$T/mnt2
mkdir -p "$M2"
# a cache directory with a comma in its name: escaped for libfuse
{
	printf '# aidatafs options, one per line\n\n'
	printf 'pubkey = %s\n' "$PLAT_PUB"
	printf '   cache=%s\r\n' "$T/cache,two"
	printf 'audit_log=%s\n' "$T/audit2.log"
	printf '\t# indented comment\nstate=%s\n' "$T/state2"
	printf 'timeout = 7\nretries=1\nallow_other\n'
	printf 'log=%s' "$T/fs2.log"
} >"$T/aidatafs.conf"
printf 'file://%s %s fuse.aidatafs config=%s,_netdev 0 0\n' \
	"$PLAT_REPO" "$M2" "$T/aidatafs.conf" >"$T/fstab"
fstab_mount "$M2"
grep -q 'allow_other' "$T/mounts" || fail "allow_other from the config file did not reach the mount"
[ -d "$T/cache,two/chunks" ] || fail "cache= from the config file (with a comma) was not used"
[ -s "$T/audit2.log" ] || [ -f "$T/audit2.log" ] || fail "audit_log= from the config file was not used"
grep -q "mounted 'file://$PLAT_REPO'" "$T/fs2.log" || fail "log= on the config file's last line (no newline) was not used"
fstab_umount "$M2"

step "3. the systemd unit's form: MOUNTPOINT alone, origin= in the file, READY=1"
M3=$T/mnt3
mkdir -p "$M3"
{
	printf 'origin=file://%s\n' "$PLAT_REPO"
	printf 'pubkey=%s\ncache=%s\naudit_log=%s\nstate=%s\n' "$PLAT_PUB" \
		"$T/cache3" "$T/audit3.log" "$T/state3"
} >"$T/unit.conf"
cat >"$T/notify.py" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
msg = s.recv(4096).decode()
# the mount must answer by the time it says it is ready
ok = os.path.exists(os.path.join(sys.argv[2], ".aidata", "revision"))
print(msg, "answering" if ok else "not-answering")
EOF
py "$T/notify.py" "$T/notify.sock" "$M3" >"$T/notify.out" 2>&1 &
NPID=$!
wait_for 30 test -S "$T/notify.sock" || fail "the notify listener did not start"
NOTIFY_SOCKET=$T/notify.sock "$AIDATAFS" "$M3" -f -o "config=$T/unit.conf" \
	-o _netdev,nofail,noauto,defaults,rw,x-systemd.requires=network-online.target \
	>"$T/fs3.log" 2>&1 &
_mount_pids[$M3]=$!
_mount_last=$M3
wait "$NPID" || { show "$T/notify.out" notify; show "$T/fs3.log" log; fail "no readiness message within 60 s"; }
[ "$(cat "$T/notify.out")" = "READY=1 answering" ] ||
	{ show "$T/notify.out" notify; fail "expected READY=1 once the mount answers"; }
grep -Eq "^aidatafs $M3 fuse\.aidatafs ro," /proc/mounts || fail "$M3 (rw asked) is not mounted ro"
cmp -- "$M3/datasets/$SMALL" "$PLAT_SRC/$SMALL" || fail "$SMALL differs on $M3"
mount_stop "$M3"

step "4. refusals"
printf 'pubkey=%s\n-f\n' "$PLAT_PUB" >"$T/bad.conf"
mount_expect_fail "config '$T/bad.conf': '-f' is not an option" \
	"file://$PLAT_REPO" "$T/mnt4" "$T/fs4.log" "config=$T/bad.conf"
mount_expect_fail "config '$T/missing.conf': No such file" \
	"file://$PLAT_REPO" "$T/mnt4" "$T/fs4.log" "config=$T/missing.conf"
printf 'config=%s\n' "$T/unit.conf" >"$T/nested.conf"
mount_expect_fail "config= inside a config file is not allowed" \
	"file://$PLAT_REPO" "$T/mnt4" "$T/fs4.log" "config=$T/nested.conf"
mkdir -p "$T/mnt4"
expect_fail_with 'need ORIGIN \(or -o origin=URL\) and MOUNTPOINT' \
	"$AIDATAFS" "$T/mnt4" -f -o "pubkey=$PLAT_PUB"
_is_mounted "$T/mnt4" && fail "$T/mnt4 got mounted"

note "PASS"

#!/bin/bash
# FUSE over io_uring (fs/ring.c). The kernel offers it where its fuse
# module has enable_uring on (kernel 6.14+; this test turns the parameter
# on, and puts it back as it found it). Then:
#  1. a mount with -o io_uring says its requests come on io_uring rings,
#     one queue per CPU, and counts them in .aidata/stats; every file of
#     the sample platform (all tiers) read through it by 8 parallel
#     readers, every byte compared; names, sizes, modes, times, xattrs and
#     statfs the same as through a mount without the option, which takes
#     no request from a ring;
#  2. SIGTERM while 8 readers wait for a slow origin, on rings and on
#     /dev/fuse: the daemon stops (its rings), unmounts and exits 0
#     (aidatafs(8)), and no reader got a wrong byte;
#  3. the read, tier, kill -9, prefetch and receipt (ioctls) and revision
#     tests run again with every mount on the rings
#     (MOUNT_TRANSPORT=io_uring, checked by mount_lib.sh);
#  4. with enable_uring off, a mount with -o io_uring warns that the
#     kernel does not offer it and takes no request from a ring; so with
#     kernel.io_uring_disabled=2 (no io_uring for any process), with its
#     own warning; with -s it warns that a single-threaded mount does not
#     use it.
# A kernel without the parameter (before 6.14, or without
# CONFIG_FUSE_IO_URING) cannot run it: skipped, with a message.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

PARAM=/sys/module/fuse/parameters/enable_uring
if [ ! -e "$PARAM" ]; then
	note "SKIP: this kernel has no FUSE over io_uring ($PARAM)"
	exit 77
fi
old_param=$(cat "$PARAM")
# kernel.io_uring_disabled (6.6+): 2 refuses io_uring to every process
URING_OFF=/proc/sys/kernel/io_uring_disabled
old_uring_off=$(cat "$URING_OFF" 2>/dev/null || true)
ring_exit() {
	local rc=$?
	echo "$old_param" >"$PARAM" 2>/dev/null || true
	[ -z "$old_uring_off" ] || echo "$old_uring_off" >"$URING_OFF" 2>/dev/null || true
	(exit "$rc")
	_mount_exit_trap
}
trap ring_exit EXIT
echo Y >"$PARAM" || fail "cannot turn on $PARAM"

make_platform "$T/p"
OPTS="pubkey=$PLAT_PUB,$PLAT_AUTH"
cpus=$(getconf _NPROCESSORS_CONF)
nfiles=$(find "$PLAT_SRC" -type f | wc -l)

no_errors() { # LOG: no error or warning logged
	if grep -Eq ': (error|warn)' "$1"; then
		show "$1" "aidatafs log"
		fail "aidatafs logged errors or warnings"
	fi
}

step "1. a mount on the rings ($cpus CPUs), $nfiles files by 8 readers"
mount_start "file://$PLAT_REPO" "$T/mr" "$T/fs-r.log" "$OPTS,cache=$T/cache-r,io_uring"
wait_for 10 grep -q "FUSE requests over io_uring: $cpus queues" "$T/fs-r.log" || {
	show "$T/fs-r.log" "aidatafs log"
	fail "the mount does not say it takes requests from $cpus rings"
}
run_ok py "$PYHELP/mount_read.py" "$T/mr/datasets" "$PLAT_SRC" --jobs 8 --drop-cache
ring=$(stat_value "$T/mr" aidatafs_fuse_ring_requests_total)
# at least an open, a read and a release a file
[ "$ring" -ge $((3 * nfiles)) ] ||
	fail "$ring requests from the rings for $nfiles files (want $((3 * nfiles)) or more)"
step "$ring requests from the rings"

mount_start "file://$PLAT_REPO" "$T/md" "$T/fs-d.log" "$OPTS,cache=$T/cache-d"
run_ok py "$PYHELP/mount_read.py" "$T/md/datasets" "$PLAT_SRC" --jobs 8
[ "$(stat_value "$T/md" aidatafs_fuse_ring_requests_total)" -eq 0 ] ||
	fail "without -o io_uring: requests came from rings"
! grep -q io_uring "$T/fs-d.log" || fail "without -o io_uring, the log speaks of it"
step "the same metadata through both"
for m in mr md; do
	(cd "$T/$m" && find . -path ./.aidata -prune -o -printf '%p %y %s %m %U %G %T@ %l\n' |
		sort) >"$T/meta.$m"
	(cd "$T/$m" && getfattr -R -d -m - datasets 2>/dev/null) >"$T/xattr.$m"
	stat -f -c '%b %a %c %s %l' "$T/$m" >"$T/statfs.$m"
done
for f in meta xattr statfs; do
	[ -s "$T/$f.mr" ] || fail "nothing listed ($f)"
	cmp -s "$T/$f.mr" "$T/$f.md" || {
		diff "$T/$f.mr" "$T/$f.md" | head -20
		fail "$f differs between the rings and /dev/fuse"
	}
done
grep -q 'user.aidata.tier=' "$T/xattr.mr" || fail "no user.aidata.tier in the xattrs"
mount_stop "$T/mr"
mount_stop "$T/md"
no_errors "$T/fs-r.log"
no_errors "$T/fs-d.log"

# term_mid_read TAG [OPTION]: SIGTERM while 8 readers wait for the slow
# origin; the daemon exits 0 within 30 s, unmounted, no wrong byte read
term_mid_read() {
	local tag=$1 extra=${2:+,$2} pid reader rc n
	mount_start "$NGINX_URL/" "$T/m$tag" "$T/fs-$tag.log" "$OPTS,cache=$T/cache-$tag$extra"
	pid=$MOUNT_PID
	py "$PYHELP/mount_read.py" "$T/m$tag/datasets" "$PLAT_SRC" --jobs 8 \
		--expect no-wrong-bytes --report "$T/read-$tag" >"$T/read-$tag.out" 2>&1 &
	reader=$!
	fetched_at_least() {
		[ "$(stat_value "$T/m$tag" aidatafs_bytes_fetched_total)" -ge "$1" ]
	}
	wait_for 60 fetched_at_least $((4 << 20)) || fail "[$tag] reading did not get going"
	kill -0 "$reader" 2>/dev/null || fail "[$tag] the readers were done before the signal"
	kill -TERM "$pid"
	for ((n = 300; n > 0; n--)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	((n > 0)) || fail "[$tag] aidatafs did not exit within 30 s of SIGTERM"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "[$tag] aidatafs exited with $rc after SIGTERM"
	grep -q "info: unmounted" "$T/fs-$tag.log" || fail "[$tag] aidatafs did not unmount after SIGTERM"
	rc=0
	wait "$reader" || rc=$?
	cat "$T/read-$tag.out"
	[ "$rc" -eq 0 ] || fail "[$tag] a reader got wrong bytes (or could not run)"
	mount_stop "$T/m$tag" any
}

step "2. SIGTERM while 8 readers wait for a slow origin"
# 4 MB/s per connection: readers are still waiting when the signal comes
nginx_start "$PLAT_REPO" '		location / { limit_rate 4m; }'
term_mid_read s io_uring
grep -q 'FUSE requests over io_uring' "$T/fs-s.log" || fail "the slow mount was not on the rings"
term_mid_read t
nginx_stop

step "3. the read, tier, kill -9, ioctl and revision tests, every mount on the rings"
for t in test_mount_reads test_tiers test_mount_kill9 test_prefetch test_mount_receipt \
	test_mount_revision; do
	MOUNT_TRANSPORT=io_uring bash "$here/$t.sh" >"$T/$t.out" 2>&1 || {
		show "$T/$t.out" "$t"
		fail "$t failed with its mounts on the rings"
	}
	step "$t: ok"
done

step "4. -o io_uring where it cannot be used"
# only_warning LOG TEXT: the log has TEXT as a warning, and no other
only_warning() {
	wait_for 10 grep -q "warning: .*$2" "$1" || {
		show "$1" "aidatafs log"
		fail "no warning '$2'"
	}
	if grep -E ': (error|warn)' "$1" | grep -vq "$2"; then
		show "$1" "aidatafs log"
		fail "other errors or warnings than '$2'"
	fi
}
real=$AIDATAFS
printf '#!/bin/sh\nexec "%s" "$@" -s\n' "$real" >"$T/aidatafs-s"
chmod +x "$T/aidatafs-s"
AIDATAFS=$T/aidatafs-s
mount_start "file://$PLAT_REPO" "$T/m1" "$T/fs-1.log" "$OPTS,cache=$T/cache-1,io_uring"
AIDATAFS=$real
only_warning "$T/fs-1.log" 'not with -s'
mounts="m1"
if [ -n "$old_uring_off" ]; then
	echo 2 >"$URING_OFF" || fail "cannot set $URING_OFF"
	mount_start "file://$PLAT_REPO" "$T/mu" "$T/fs-u.log" "$OPTS,cache=$T/cache-u,io_uring"
	echo "$old_uring_off" >"$URING_OFF"
	only_warning "$T/fs-u.log" 'cannot set up the rings'
	mounts+=" mu"
fi
echo N >"$PARAM" || fail "cannot turn off $PARAM"
mount_start "file://$PLAT_REPO" "$T/mn" "$T/fs-n.log" "$OPTS,cache=$T/cache-n,io_uring"
only_warning "$T/fs-n.log" 'the kernel does not offer it'
mounts+=" mn"
for m in $mounts; do
	run_ok py "$PYHELP/mount_read.py" "$T/$m/datasets" "$PLAT_SRC" --jobs 2
	[ "$(stat_value "$T/$m" aidatafs_fuse_ring_requests_total)" -eq 0 ] ||
		fail "$m: requests came from rings"
	mount_stop "$T/$m"
done
note "ok"

#!/bin/bash
# Read replies go from the cache files to the kernel by splice, never by a
# copy through the daemon's memory (fs/ll.c, ll_read_max), on /dev/fuse
# (without -o io_uring; test_mount_ring.sh has the rings). libfuse 3.14
# splices a reply through a pipe that must hold all of it, and copies the
# reply (pread of the cache file into a new buffer, then writev) when it
# cannot grow its pipe that far; without CAP_SYS_RESOURCE a pipe stops at
# fs.pipe-max-size. The daemon runs under strace (-y: descriptors with
# their paths; -ff: a file per thread, so no call is split in two) while a 16 MiB file is read with O_DIRECT (every read a
# request to the daemon, of the mount's max_read at most):
#  1. without CAP_SYS_RESOURCE (setpriv), fs.pipe-max-size 1 MiB: smaller
#     requests, said in the log, every one spliced;
#  2. the same with fs.pipe-max-size raised to 4 MiB: 1 MiB requests,
#     spliced, and no such log line.
# Each time: the mount's readahead window is 1 MiB (smaller requests do
# not shrink it), the bytes are the source's, no read of 64 KiB or more
# from a cache file, and at least one splice into /dev/fuse per MiB read.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

for tool in strace setpriv; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done
PIPE_MAX=/proc/sys/fs/pipe-max-size
old_pipe_max=$(cat "$PIPE_MAX")
restore_pipe_max() {
	echo "$old_pipe_max" >"$PIPE_MAX" 2>/dev/null || true
}
# the sysctl back, then mount_lib's cleanup with the test's status
splice_exit() {
	local rc=$?
	restore_pipe_max
	(exit "$rc")
	_mount_exit_trap
}
trap splice_exit EXIT

SIZE=$((16 << 20))
mkdir -p "$T/src/ds"
random_file "$T/src/ds/big" "$SIZE"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
# 1 MiB pieces (the default), so each request reads one or two chunks
pack_into "$T/src" "$T/datasets.json" "$T/keys/platform.key" "$T/repo"

REAL_AIDATAFS=$AIDATAFS
# the daemon as this run's mode wants it, under strace
cat >"$T/aidatafs-traced" <<EOF
#!/bin/bash
exec setpriv --bounding-set=-sys_resource -- \\
	strace -ff -qq -y -e trace=read,pread64,preadv,preadv2,splice \\
	-o "\$TRACE" "$REAL_AIDATAFS" "\$@"
EOF
chmod +x "$T/aidatafs-traced"

# read_run TAG: mount, read the file with O_DIRECT, unmount; checks the
# bytes and the trace
read_run() {
	local tag=$1 M=$T/mnt-$1 preads splices ra
	export TRACE=$T/strace.$tag
	rm -f "$TRACE".*
	AIDATAFS=$T/aidatafs-traced
	mount_start "file://$T/repo" "$M" "$T/fs.$tag.log" \
		"pubkey=$T/keys/platform.pub,cache=$T/cache-$tag"
	AIDATAFS=$REAL_AIDATAFS
	# the readahead window stays 1 MiB whatever the request size
	ra=$(cat "/sys/class/bdi/$(mountpoint -d "$M")/read_ahead_kb")
	[ "$ra" -eq 1024 ] || fail "[$tag] the mount's read_ahead_kb is $ra, expected 1024"
	dd if="$M/datasets/ds/big" of="$T/out.$tag" bs=4M iflag=direct status=none ||
		fail "[$tag] dd of the file failed"
	mount_stop "$M"
	cat "$TRACE".* >"$TRACE"
	cmp "$T/src/ds/big" "$T/out.$tag" || fail "[$tag] the bytes read differ from the source"
	# a copied reply: the cache file read into memory
	preads=$(awk '/^(read|pread64|preadv2?)\([0-9]+<[^>]*\/chunks\// &&
		$NF ~ /^[0-9]+$/ && $NF >= 65536 { n++ } END { print n + 0 }' "$TRACE")
	splices=$(awk '/^splice\(/ && /<\/dev\/fuse>/ && $NF ~ /^[0-9]+$/ &&
		$NF >= 65536 { n++ } END { print n + 0 }' "$TRACE")
	step "[$tag] $splices splices into /dev/fuse, $preads large reads of cache files"
	if [ "$preads" -ne 0 ] || [ "$splices" -lt $((SIZE >> 20)) ]; then
		grep -E '/chunks/|/dev/fuse' "$TRACE" | head -20 >&2
		fail "[$tag] replies copied: $preads reads of cache files of 64 KiB or more, $splices splices (want 0, and at least $((SIZE >> 20)))"
	fi
}

step "fs.pipe-max-size 1 MiB, no CAP_SYS_RESOURCE"
echo $((1 << 20)) >"$PIPE_MAX" || fail "cannot set $PIPE_MAX (run as root)"
read_run small
grep -q 'read requests of 512 KiB' "$T/fs.small.log" ||
	{ show "$T/fs.small.log" "aidatafs log"; fail "no 'read requests of 512 KiB' in the log"; }

step "fs.pipe-max-size 4 MiB"
echo $((4 << 20)) >"$PIPE_MAX"
read_run large
restore_pipe_max
if grep -q 'read requests of' "$T/fs.large.log"; then
	show "$T/fs.large.log" "aidatafs log"
	fail "smaller read requests although a pipe may hold 4 MiB"
fi
# 1 MiB replies: 16 MiB in 16 requests
big=$(awk '/^splice\(/ && /<\/dev\/fuse>/ && $NF ~ /^[0-9]+$/ &&
	$NF > 1048576 { n++ } END { print n + 0 }' "$T/strace.large")
[ "$big" -ge 16 ] || fail "only $big replies over 1 MiB with a 4 MiB pipe-max-size"

step "ok"

#!/bin/bash
# The daemon under valgrind's memcheck through a real workload: listing,
# reads of every tier (a secure node with a credential), xattrs, stats, a
# login, a revision switch, an unmount. Any invalid access, use of
# uninitialised memory, or definite leak fails the test. Mounted with
# -o io_uring, which it refuses under valgrind with a warning.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
mount_test_init
command -v valgrind >/dev/null || fail "valgrind is not installed"

make_platform "$T/p" --ttl 2
real=$AIDATAFS
cat >"$T/vg-aidatafs" <<SH
#!/bin/sh
exec valgrind --quiet --error-exitcode=99 --leak-check=full \\
	--errors-for-leak-kinds=definite --track-origins=yes \\
	--log-file="$T/valgrind.log" "$real" "\$@"
SH
chmod +x "$T/vg-aidatafs"
AIDATAFS=$T/vg-aidatafs

# -o io_uring: valgrind cannot run the rings (fs/ring.c), so the mount
# says so and goes through /dev/fuse, which memcheck then checks
mount_start "file://$PLAT_REPO" "$T/mnt" "$T/fs.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache,node_key=$PLAT_NODE_KEY,io_uring"
grep -q 'warning: -o io_uring: not under valgrind' "$T/fs.log" || {
	show "$T/fs.log" "aidatafs log"
	fail "-o io_uring under valgrind: no warning"
}
# it must really be memcheck serving the mount
[ -e "$T/valgrind.log" ] || fail "valgrind did not start (no log file)"
tr '\0' ' ' </proc/"$MOUNT_PID"/cmdline | grep -q valgrind ||
	grep -q memcheck /proc/"$MOUNT_PID"/maps ||
	fail "the daemon does not run under valgrind"
step "workload under memcheck"
"$AIDATA" login --mount "$T/mnt" <"$PLAT_TOKEN" >/dev/null
ls -laR "$T/mnt/by-industry" >/dev/null
for d in $(dataset_names "$PLAT_JSON"); do
	# sed reads to the end: head would leave sort to die of SIGPIPE (pipefail)
	f=$(cd "$PLAT_SRC/$d" && find . -type f | sort | sed -n 1,2p)
	for x in $f; do
		cmp "$PLAT_SRC/$d/$x" "$T/mnt/datasets/$d/$x" ||
			fail "$d/$x differs under valgrind"
		getfattr --absolute-names -d -m user.aidata \
			"$T/mnt/datasets/$d/$x" >/dev/null
	done
done
cat "$T/mnt/.aidata/stats" "$T/mnt/.aidata/whoami" >/dev/null
# a new revision while mounted
echo "valgrind revision" >"$PLAT_SRC/news-crawl/VALGRIND.txt"
pack_into "$PLAT_SRC" "$PLAT_JSON" "$PLAT_KEY" "$PLAT_REPO" --ttl 2
wait_for 60 grep -qx 2 "$T/mnt/.aidata/revision"
cmp "$PLAT_SRC/news-crawl/VALGRIND.txt" "$T/mnt/datasets/news-crawl/VALGRIND.txt"
"$AIDATA" logout --mount "$T/mnt" >/dev/null
mount_stop "$T/mnt" any
if [ "$MOUNT_EXIT" -ne 0 ] || [ -s "$T/valgrind.log" ]; then
	show "$T/valgrind.log" "valgrind"
	fail "memcheck reported errors (daemon exit $MOUNT_EXIT)"
fi
note "memcheck clean"

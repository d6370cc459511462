# shellcheck shell=bash
# Real users (and cgroups) for the tests of who may read what, on top of
# mount_lib.sh (source it after mount_test_init):
#   users_init          $T reachable by other users, the working
#                       directory; on exit mounts, test cgroups and
#                       users are removed (mount_cleanup, then these)
#   add_user NAME       useradd a system user without home or shell
#   add_cgroup PATH     mkdir $CG2$PATH (CG2: the cgroup v2 mount)
#   as USER CMD...      run CMD as USER (runuser: its uid, gid, groups)
#   users_tools USER    UPY: a python3 USER can run; UAIDATA: an aidata
#                       USER can run (a copy when the build tree is not
#                       theirs to read)
TEST_USERS=()
TEST_CGROUPS=()

users_exit() {
	local rc=$? u n cg
	mount_cleanup
	for cg in "${TEST_CGROUPS[@]}"; do
		for ((n = 0; n < 50; n++)); do
			[ -d "$CG2$cg" ] || break
			rmdir "$CG2$cg" 2>/dev/null && break
			sleep 0.1 # a job's last process is still exiting
		done
	done
	for u in "${TEST_USERS[@]}"; do
		for ((n = 0; n < 50; n++)); do
			getent passwd "$u" >/dev/null || break
			userdel "$u" >/dev/null 2>&1 && break
			sleep 0.2 # /etc/passwd locked by a parallel useradd
		done
	done
	exit "$rc"
}

users_init() {
	local t
	for t in runuser useradd userdel; do
		command -v "$t" >/dev/null || fail "$t is not installed"
	done
	trap users_exit EXIT
	chmod 755 "$T" # the users reach the mount points below $T
	cd "$T" || fail "cannot enter $T"
}

add_user() {
	local u=$1 n
	TEST_USERS+=("$u")
	for ((n = 0; n < 50; n++)); do
		useradd -M -r -d /nonexistent -s /usr/sbin/nologin "$u" \
			2>"$T/useradd.err" && return 0
		sleep 0.2 # /etc/passwd locked by a parallel useradd
	done
	show "$T/useradd.err" useradd
	fail "cannot create user $u"
}

add_cgroup() {
	TEST_CGROUPS+=("$1")
	mkdir "$CG2$1" || fail "cannot create cgroup $CG2$1"
}

as() {
	local u=$1
	shift
	runuser -u "$u" -- "$@"
}

users_tools() {
	local u=$1 c
	UPY=
	for c in "$PY" /usr/bin/python3 /usr/local/bin/python3; do
		if [ -x "$c" ] && as "$u" "$c" -S -c pass 2>/dev/null; then
			UPY=$c
			break
		fi
	done
	[ -n "$UPY" ] || fail "no python3 that user $u can run"
	UAIDATA=$AIDATA
	if ! as "$u" "$AIDATA" --help >/dev/null 2>&1; then
		mkdir -p "$T/bin"
		cp "$AIDATA" "$T/bin/aidata"
		chmod 755 "$T/bin" "$T/bin/aidata"
		UAIDATA=$T/bin/aidata
	fi
}

# shellcheck shell=bash
#
# mount_lib.sh: helpers for the tests that mount aidatafs for real. Source
# it first thing after `set -euo pipefail`; it sources lib.sh and nginx.sh
# itself:
#
#	here=$(cd "$(dirname "$0")" && pwd)
#	. "$here/mount_lib.sh"
#	mount_test_init              # T=temp dir, EXIT trap that cleans up
#	make_platform "$T/p"         # sample + keygen + pack
#	mount_start "file://$PLAT_REPO" "$T/mnt" "$T/fs.log" \
#		"pubkey=$PLAT_PUB,cache=$T/cache"
#	...
#	mount_stop "$T/mnt"
#
# Skips (exit 77) only when /dev/fuse is missing or we are not root.
#
# Functions:
#   mount_test_init
#	T=$(mktemp -d) and an EXIT trap running mount_cleanup (keeps the
#	test's exit status; set KEEP=1 to keep $T for a post-mortem).
#   mount_start ORIGIN MNT LOG [OPTIONS...]
#	Start "$AIDATAFS ORIGIN MNT -f -o OPTIONS" in the background (each
#	OPTIONS argument is one -o), stdout and stderr to LOG. Waits (bounded,
#	by polling) until MNT is a mount point and MNT/.aidata/revision
#	exists; fails showing LOG if the daemon exits first or never gets
#	ready. Sets MOUNT_PID and remembers MNT for mount_cleanup. Unless
#	OPTIONS name them, audit_log=$T/audit.log and state=$T/state are
#	added (the daemon's defaults are system paths).
#   mount_stop MNT [any]
#	Unmount (fusermount3 -u, else umount, else umount -l) and wait
#	(bounded) for the daemon to exit. Sets MOUNT_EXIT to its exit status
#	and fails unless it is 0, unless "any" is given (a killed daemon).
#   mount_alive [MNT]
#	The daemon of MNT (default: the last mount_start) still runs.
#   mount_pid MNT
#	Print the daemon pid of MNT.
#   mount_expect_fail PATTERN ORIGIN MNT LOG [OPTIONS...]
#	The daemon must refuse to mount: exit non-zero (not by a signal)
#	within a bounded time, leave MNT unmounted, and LOG must match the
#	extended regular expression PATTERN.
#   mount_cleanup
#	Unmount everything mount_start mounted, end those daemons, stop
#	nginx, remove $T. Idempotent.
#   make_platform DIR [pack options...]
#	DIR/src (a copy of the sample platform, datasets only),
#	DIR/datasets.json, DIR/keys/platform.{key,pub}, DIR/repo (revision
#	1 of DIR/src), DIR/node/ and DIR/token (platform_credentials: every
#	tier readable). Sets PLAT_SRC, PLAT_JSON, PLAT_KEY, PLAT_PUB,
#	PLAT_REPO, PLAT_AUTH ("token=...,node_key=..." for mount_start).
#	The generated sample is kept in $BUILDDIR/test-sample (regenerated
#	when the generator, $SAMPLE, changes).
#   pack_into SRC JSON KEY REPO [pack options...]
#	aidata pack --quiet, failing with its output shown.
#   dataset_names JSON / dataset_field JSON NAME FIELD
#	Names of the datasets in a datasets.json; one field of one of them.
#   py ARGS...
#	python3 (the real interpreter, without site-packages).
#   manifest_sign BODY KEY OUT
#	Sign the manifest text in file BODY (every line but the signature)
#	with the Ed25519 key KEY using openssl, as FORMAT.md §3.2 says, and
#	write the manifest to OUT: for manifests aidata would not write
#	(format 1, format 9, an older revision).
#   stat_value MNT METRIC [LABELS]
#	The value of METRIC (e.g. aidatafs_bytes_served_total, or
#	aidatafs_errors_total '{kind="verify"}') in MNT/.aidata/stats.
#   step MSG...
#	note MSG with the seconds elapsed since the test started.
#   wait_for SECONDS CMD...
#	Poll CMD every 0.1 s until it succeeds; fails after SECONDS.

_mount_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SRCDIR:=$(cd "$_mount_lib_dir/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
: "${AIDATA:=$BUILDDIR/tools/aidata}"
: "${AIDATAFS:=$BUILDDIR/fs/aidatafs}"
: "${SAMPLE:=$SRCDIR/sample/make_sample.py}"
export SRCDIR BUILDDIR AIDATA AIDATAFS SAMPLE

# Skip only for what CI always has: /dev/fuse and root.
if [ ! -c /dev/fuse ]; then
	echo "SKIP: /dev/fuse is missing"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: mounting needs root"
	exit 77
fi

# shellcheck source=lib.sh
. "$_mount_lib_dir/lib.sh"
# shellcheck source=nginx.sh
. "$_mount_lib_dir/nginx.sh"

[ -x "$AIDATAFS" ] || fail "AIDATAFS=$AIDATAFS is not an executable"
[ -f "$SAMPLE" ] || fail "SAMPLE=$SAMPLE (the sample generator) is missing"
for _tool in mountpoint python3 timeout; do
	command -v "$_tool" >/dev/null || fail "$_tool is not installed"
done
unset _tool

# Helpers in python (standard library only) beside this file. The real
# interpreter, resolved once: a pyenv shim costs seconds per call, and so
# does site-packages setup, which -S skips (only the stdlib is used).
PYHELP=$_mount_lib_dir
PY=$(python3 -S -c 'import sys; print(sys.executable)') ||
	fail "python3 does not run"
py() {
	"$PY" -S "$@"
}

declare -A _mount_pids=() # mount point -> daemon pid
MOUNT_PID=
MOUNT_EXIT=
_mount_last=

mount_test_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/aidatafs-test.XXXXXX")
	trap '_mount_exit_trap' EXIT
}

_mount_exit_trap() {
	local rc=$?
	mount_cleanup
	exit "$rc"
}

# step MSG...: a progress line with the seconds since the test started.
step() {
	note "[${SECONDS}s] $*"
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local secs=$1 n
	shift
	n=$((secs * 10))
	while ! "$@"; do
		((n-- > 0)) || return 1
		sleep 0.1
	done
	return 0
}

_is_mounted() {
	# /proc/self/mountinfo: field 5 is the mount point (octal escapes)
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

_mount_ready() {
	local mnt=$1 pid=$2
	kill -0 "$pid" 2>/dev/null || return 2
	mountpoint -q "$mnt" 2>/dev/null || return 1
	# through FUSE: bounded even if the daemon hangs
	timeout -s KILL 10 stat -- "$mnt/.aidata/revision" >/dev/null 2>&1 ||
		return 1
	return 0
}

# _mount_hermetic_args ARRAY OPTIONS...: the audit log and login state go
# to $T unless the options name them (the defaults are system paths).
_mount_hermetic_args() {
	local -n _arr=$1
	local all
	shift
	all=",$(IFS=,; echo "$*"),"
	[[ $all == *,audit_log=* ]] || _arr+=(-o "audit_log=$T/audit.log")
	[[ $all == *,state=* ]] || _arr+=(-o "state=$T/state")
}

# MOUNT_TRANSPORT=io_uring (test_mount_ring.sh runs tests with it): every
# mount gets -o io_uring and must say that its requests come on rings.
_mount_transport() {
	local log=$1
	[ "${MOUNT_TRANSPORT:-}" = io_uring ] || return 0
	wait_for 10 grep -q 'FUSE requests over io_uring' "$log" || {
		show "$log" "aidatafs log"
		fail "MOUNT_TRANSPORT=io_uring, and this mount does not use it"
	}
}

mount_start() {
	local origin=${1:?mount_start ORIGIN MNT LOG [OPTIONS...]}
	local mnt=${2:?} log=${3:?} o n rc
	local -a args=()
	shift 3
	for o in "$@"; do
		args+=(-o "$o")
	done
	mkdir -p "$mnt"
	mnt=$(cd "$mnt" && pwd)
	_is_mounted "$mnt" && fail "mount_start: $mnt is already a mount point"
	_mount_hermetic_args args "$@"
	[ "${MOUNT_TRANSPORT:-}" != io_uring ] || args+=(-o io_uring)
	"$AIDATAFS" "$origin" "$mnt" -f "${args[@]}" >"$log" 2>&1 &
	MOUNT_PID=$!
	_mount_pids[$mnt]=$MOUNT_PID
	_mount_last=$mnt
	# ready within 60 s (it fetches the manifest and root catalog first)
	for ((n = 600; n > 0; n--)); do
		rc=0
		_mount_ready "$mnt" "$MOUNT_PID" || rc=$?
		if [ "$rc" -eq 0 ]; then
			_mount_transport "$log"
			return 0
		fi
		if [ "$rc" -eq 2 ]; then
			rc=0
			wait "$MOUNT_PID" || rc=$?
			unset "_mount_pids[$mnt]"
			show "$log" "aidatafs log"
			fail "aidatafs exited ($rc) before $mnt was ready: $origin"
		fi
		sleep 0.1
	done
	show "$log" "aidatafs log"
	fail "aidatafs did not get ready at $mnt within 60 s"
}

mount_pid() {
	local mnt
	mnt=$(cd "${1:?}" 2>/dev/null && pwd) || mnt=$1
	echo "${_mount_pids[$mnt]:-}"
}

mount_alive() {
	local mnt=${1:-$_mount_last} pid
	pid=${_mount_pids[$mnt]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

_mount_umount() {
	local mnt=$1
	_is_mounted "$mnt" || return 0
	fusermount3 -u "$mnt" 2>/dev/null && return 0
	umount "$mnt" 2>/dev/null && return 0
	umount -l "$mnt" 2>/dev/null && return 0
	fusermount3 -u -z "$mnt" 2>/dev/null && return 0
	return 1
}

mount_stop() {
	local mnt=${1:?mount_stop MNT [any]} mode=${2:-} pid n
	mnt=$(cd "$mnt" 2>/dev/null && pwd) || mnt=$1
	pid=${_mount_pids[$mnt]:-}
	_mount_umount "$mnt" || fail "cannot unmount $mnt"
	MOUNT_EXIT=
	if [ -n "$pid" ]; then
		for ((n = 300; n > 0; n--)); do
			kill -0 "$pid" 2>/dev/null || break
			# a zombie child has exited too
			grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null &&
				break
			sleep 0.1
		done
		if ((n == 0)); then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			unset "_mount_pids[$mnt]"
			fail "aidatafs ($pid) did not exit within 30 s of unmounting $mnt"
		fi
		MOUNT_EXIT=0
		wait "$pid" 2>/dev/null || MOUNT_EXIT=$?
		unset "_mount_pids[$mnt]"
		if [ "$mode" != any ] && [ "$MOUNT_EXIT" -ne 0 ]; then
			fail "aidatafs of $mnt exited with $MOUNT_EXIT after unmount"
		fi
	fi
	_is_mounted "$mnt" && fail "$mnt is still mounted after mount_stop"
	return 0
}

mount_expect_fail() {
	local pattern=${1:?mount_expect_fail PATTERN ORIGIN MNT LOG [OPTIONS...]}
	local origin=${2:?} mnt=${3:?} log=${4:?} o n pid rc=0
	local -a args=()
	shift 4
	for o in "$@"; do
		args+=(-o "$o")
	done
	mkdir -p "$mnt"
	mnt=$(cd "$mnt" && pwd)
	_mount_hermetic_args args "$@"
	"$AIDATAFS" "$origin" "$mnt" -f "${args[@]}" >"$log" 2>&1 &
	pid=$!
	_mount_pids[$mnt]=$pid
	for ((n = 600; n > 0; n--)); do
		kill -0 "$pid" 2>/dev/null || break
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && break
		_is_mounted "$mnt" && break
		sleep 0.1
	done
	if _is_mounted "$mnt" || ((n == 0)); then
		show "$log" "aidatafs log"
		mount_stop "$mnt" any || true
		fail "aidatafs mounted $origin although it should refuse"
	fi
	wait "$pid" || rc=$?
	unset "_mount_pids[$mnt]"
	MOUNT_EXIT=$rc
	if [ "$rc" -eq 0 ] || [ "$rc" -gt 125 ]; then
		show "$log" "aidatafs log"
		fail "aidatafs exited with $rc; expected a refusal (non-zero, no signal)"
	fi
	if ! grep -Eq -- "$pattern" "$log"; then
		show "$log" "aidatafs log"
		fail "aidatafs log does not match /$pattern/"
	fi
	return 0
}

mount_cleanup() {
	local mnt pid n
	for mnt in "${!_mount_pids[@]}"; do
		pid=${_mount_pids[$mnt]}
		_mount_umount "$mnt" || true
		for ((n = 100; n > 0; n--)); do
			kill -0 "$pid" 2>/dev/null || break
			grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null &&
				break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null &&
			! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 0.5
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		unset "_mount_pids[$mnt]"
	done
	# anything still mounted below $T (a mount this shell lost track of)
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		awk -v t="$T/" 'index($5, t) == 1 { print $5 }' \
			/proc/self/mountinfo | sort -r | while read -r mnt; do
			_mount_umount "$mnt" || true
		done
	fi
	nginx_stop || true
	if [ -n "${T:-}" ] && [ -d "$T" ] && [ -z "${KEEP:-}" ]; then
		rm -rf --one-file-system "$T" || true
	elif [ -n "${T:-}" ] && [ -d "$T" ]; then
		echo "kept $T" >&2
	fi
	return 0
}

# ------------------------------------------------------------ platforms --

pack_into() {
	local src=$1 json=$2 key=$3 repo=$4
	shift 4
	run_ok "$AIDATA" pack "$src" --datasets "$json" --key "$key" \
		--out "$repo" --quiet "$@"
}

# The sample source tree, generated once per version of the generator
# (keyed on the script's content: same script, same tree).
_sample_dir() {
	local base=$BUILDDIR/test-sample want have tmp
	want=$(sha256sum <"$SAMPLE" | cut -c1-64)
	if [ -d "$BUILDDIR" ] && [ -w "$BUILDDIR" ]; then
		have=$(cat "$base/make_sample.sha256" 2>/dev/null || true)
		if [ "$have" != "$want" ] || [ ! -d "$base/src" ]; then
			tmp=$(mktemp -d "$BUILDDIR/test-sample.tmp.XXXXXX")
			run_ok py "$SAMPLE" --out "$tmp/src"
			echo "$want" >"$tmp/make_sample.sha256"
			rm -rf "$base"
			mv "$tmp" "$base"
		fi
		echo "$base/src"
	else
		[ -d "$T/sample/src" ] || run_ok py "$SAMPLE" --out "$T/sample/src"
		echo "$T/sample/src"
	fi
}

make_platform() {
	local dir=${1:?make_platform DIR [pack options...]} sample
	shift
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	sample=$(_sample_dir)
	cp -a "$sample" "$dir/src"
	mv "$dir/src/datasets.json" "$dir/datasets.json"
	run_ok "$AIDATA" keygen --out "$dir/keys"
	PLAT_SRC=$dir/src
	PLAT_JSON=$dir/datasets.json
	PLAT_KEY=$dir/keys/platform.key
	PLAT_PUB=$dir/keys/platform.pub
	PLAT_REPO=$dir/repo
	pack_into "$PLAT_SRC" "$PLAT_JSON" "$PLAT_KEY" "$PLAT_REPO" "$@"
	platform_credentials "$dir" "$PLAT_JSON" "$PLAT_KEY" "$PLAT_REPO"
}

# platform_credentials DIR JSON KEY REPO: what a node needs to read every
# tier: DIR/node/node.{key,pub} (a secure-domain node key), every secure
# dataset's key sealed to it in REPO/keys/, and DIR/token, a credential
# with scopes shared,secure granting every dataset. Sets PLAT_TOKEN,
# PLAT_NODE_KEY, PLAT_NODE_ID and PLAT_AUTH (the -o options for them).
platform_credentials() {
	local dir=$1 json=$2 key=$3 repo=$4 d all
	if [ ! -f "$dir/node/node.key" ]; then
		run_ok "$AIDATA" node-keygen --out "$dir/node"
		sed -n 's/^node id \([0-9a-f]*\)$/\1/p' "$LAST_OUT" >"$dir/node/id"
	fi
	PLAT_NODE_KEY=$dir/node/node.key
	PLAT_NODE_ID=$(cat "$dir/node/id")
	[ -n "$PLAT_NODE_ID" ] || fail "aidata node-keygen printed no node id"
	for d in $(dataset_names "$json"); do
		[ "$(dataset_field "$json" "$d" tier)" = secure ] || continue
		run_ok "$AIDATA" grant-node "$repo" --key "$key" --dataset "$d" \
			--node-pub "$dir/node/node.pub"
	done
	all=$(dataset_names "$json" | paste -sd, -)
	run_ok "$AIDATA" token issue --key "$key" --sub integration \
		--org aidatafs-tests --scope shared,secure --datasets "$all" \
		--ttl 1d
	cp "$LAST_OUT" "$dir/token"
	PLAT_TOKEN=$dir/token
	PLAT_AUTH="token=$PLAT_TOKEN,node_key=$PLAT_NODE_KEY"
}

dataset_names() {
	py -c 'import json, sys
for d in json.load(open(sys.argv[1]))["datasets"]:
    print(d["name"])' "$1"
}

dataset_field() {
	py -c 'import json, sys
for d in json.load(open(sys.argv[1]))["datasets"]:
    if d["name"] == sys.argv[2]:
        print(d[sys.argv[3]])' "$1" "$2" "$3"
}

manifest_sign() {
	local body=$1 key=$2 out=$3
	openssl pkeyutl -sign -inkey "$key" -rawin -in "$body" \
		-out "$out.sig" || fail "openssl cannot sign $body"
	{
		cat "$body"
		printf 'signature %s\n' "$(base64 -w0 "$out.sig")"
	} >"$out.tmp"
	rm -f "$out.sig"
	mv "$out.tmp" "$out"
}

stat_value() {
	local mnt=$1 metric=$2 labels=${3:-} v
	v=$(awk -v k="$metric$labels" '$1 == k { print $2 }' \
		"$mnt/.aidata/stats")
	[ -n "$v" ] || fail "no metric $metric$labels in $mnt/.aidata/stats"
	echo "$v"
}

#!/bin/bash
# Tier enforcement, the matrix: for every credential kind (none, open-only,
# shared granting / not granting a dataset, secure on a secure node, on a
# node without the dataset key, without any node key, bound to another or
# to this node, expired, forged, revoked, default token) and two real
# users (A logs in with the credential, B never does), every file of an
# open, two shared and a secure dataset is checked as that user: open()
# succeeds with the source's bytes or fails with EACCES, the xattr
# user.aidata.access (python and getfattr) names the expected reason, and
# access(R_OK) agrees. Logins with forged, expired or revoked tokens are
# refused by `aidata login`; a default token (-o token=) serves B too.
#
# All mismatches of a matrix are listed before the test fails, so one bug
# does not hide the others.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init
command -v getfattr >/dev/null || fail "getfattr (package attr) is not installed"
for _t in runuser useradd userdel; do
	command -v "$_t" >/dev/null || fail "$_t is not installed"
done

# ------------------------------------------------------------- users --
UA=aidt-a-$$
UB=aidt-b-$$
# shellcheck source=users_lib.sh
. "$here/users_lib.sh"
users_init
add_user "$UA"
add_user "$UB"
UID_A=$(id -u "$UA")
UID_B=$(id -u "$UB")

# A python and the helpers the users can run (root's pyenv is private).
cp "$here/tiers_probe.py" "$T/tiers_probe.py"
chmod 644 "$T/tiers_probe.py"
users_tools "$UA"
mkdir -p "$T/out" "$T/tok"
chmod 700 "$T/tok"

# ---------------------------------------------------------- platform --
step "platform: one open, two shared, one secure dataset"
py "$here/tiers_probe.py" mksrc "$T/p"
SRC=$T/p/src
JSON=$T/p/datasets.json
DATASETS=(open-text shared-granted shared-other secure-med)
run_ok "$AIDATA" keygen --out "$T/p/keys"
KEY=$T/p/keys/platform.key
PUB=$T/p/keys/platform.pub
REPO=$T/repo
ORIGIN=file://$REPO
# a 2 s manifest TTL: mounts see a revocation within seconds
pack_into "$SRC" "$JSON" "$KEY" "$REPO" --ttl 2
run_ok "$AIDATA" keygen --out "$T/other" # a platform that is not ours

declare -A NODE_ID=()
for n in n1 n2 n3; do
	run_ok "$AIDATA" node-keygen --out "$T/$n"
	NODE_ID[$n]=$(sed -n 's/^node id \([0-9a-f]\{16\}\)$/\1/p' "$LAST_OUT")
	[ -n "${NODE_ID[$n]}" ] || fail "node-keygen printed no node id"
done
# N1 holds the secure dataset's key; N2 and N3 have keys but no grant
run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset secure-med \
	--node-pub "$T/n1/node.pub"
[ -f "$REPO/keys/secure-med/${NODE_ID[n1]}" ] || fail "no sealed key for N1"
[ ! -e "$REPO/keys/secure-med/${NODE_ID[n2]}" ] || fail "N2 has a sealed key"

# ------------------------------------------------------- credentials --
# tok NAME KEY ARGS...: issue a credential into $T/tok/NAME.
tok() {
	local name=$1 key=$2
	shift 2
	run_ok "$AIDATA" token issue --key "$key" --sub "user-$name" \
		--org tiers-test --jti "tiers-$name-$$" "$@"
	cp "$LAST_OUT" "$T/tok/$name"
	chmod 600 "$T/tok/$name"
}
ALL=shared-granted,shared-other,secure-med
tok open-only "$KEY" --scope open --datasets '' --ttl 1h
tok shared "$KEY" --scope shared --datasets shared-granted,secure-med --ttl 1h
tok shared-other "$KEY" --scope shared --datasets shared-other --ttl 1h
tok secure "$KEY" --scope shared,secure --datasets shared-granted,secure-med \
	--ttl 1h
tok secure-nogrant "$KEY" --scope shared,secure \
	--datasets shared-granted,shared-other --ttl 1h
tok bound-n3 "$KEY" --scope shared,secure \
	--datasets shared-granted,secure-med --ttl 1h --node "${NODE_ID[n3]}"
tok bound-n1 "$KEY" --scope shared,secure \
	--datasets shared-granted,secure-med --ttl 1h --node "${NODE_ID[n1]}"
tok expired "$KEY" --scope shared,secure --datasets "$ALL" --ttl 60 \
	--now $(($(date +%s) - 7200))
tok forged "$T/other/platform.key" --scope shared,secure --datasets "$ALL" \
	--ttl 1h
tok revoked "$KEY" --scope shared,secure --datasets "$ALL" --ttl 1h
tok default-shared "$KEY" --scope shared --datasets shared-granted --ttl 1h
printf 'not-a-jwt\n' >"$T/tok/malformed"
# the control: forged really is signed by another key, expired is expired
expect_fail_with 'rejected' "$AIDATA" token show --pubkey "$PUB" \
	<"$T/tok/forged"
expect_fail_with 'expired' "$AIDATA" token show --pubkey "$PUB" \
	<"$T/tok/expired"
run_ok "$AIDATA" token show --pubkey "$PUB" <"$T/tok/revoked"

# ------------------------------------------------------------ checks --
# E SHARED_GRANTED SHARED_OTHER SECURE: the expected reasons per dataset
# (the open dataset is always granted).
E() {
	printf '{"open-text": "granted", "shared-granted": "%s", ' "$1"
	printf '"shared-other": "%s", "secure-med": "%s"}' "$2" "$3"
}
NOCRED=$(E "no credential" "no credential" "no credential")
MISMATCHED=0

# cells LABEL USER MNT EXPECT: every file of every dataset, as USER.
cells() {
	local label=$1 user=$2 mnt=$3 expect=$4 base rc=0 ds f
	local -a files=()
	base=$T/out/$label-$user
	as "$user" "$UPY" -S "$T/tiers_probe.py" probe "$mnt" "${DATASETS[@]}" \
		>"$base.probe" 2>"$base.probe.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		show "$base.probe.err" "probe stderr"
		fail "$label: the probe as $user exited $rc"
	fi
	# getfattr on every file in one run (its output parsed by verify)
	for ds in "${DATASETS[@]}"; do
		while IFS= read -r -d '' f; do
			files+=("$mnt/datasets/$ds/$f")
		done < <(cd "$SRC/$ds" && find . -type f -printf '%P\0' | sort -z)
	done
	as "$user" getfattr --absolute-names -n user.aidata.access \
		"${files[@]}" >"$base.getfattr" 2>"$base.getfattr.err" || true
	rc=0
	py "$here/tiers_probe.py" verify "$base.probe" "$SRC" "$expect" \
		"$label" "$base.getfattr" "$mnt" 2>"$base.verify.err" || rc=$?
	cat "$base.verify.err" >&2
	cat "$base.verify.err" >>"$T/out/mismatches"
	if [ "$rc" -ne 0 ]; then
		MISMATCHED=$((MISMATCHED + 1))
		if [ -s "$base.getfattr.err" ]; then
			show "$base.getfattr.err" "getfattr stderr"
		fi
	fi
	return 0
}

# login_ok USER MNT TOKEN JTI: `aidata login` as USER succeeds and prints
# the whoami of that credential.
login_ok() {
	local user=$1 mnt=$2 name=$3 rc=0
	as "$user" "$UAIDATA" login --mount "$mnt" <"$T/tok/$name" \
		>"$T/out/login-$name-$user.out" 2>"$T/out/login-$name-$user.err" ||
		rc=$?
	if [ "$rc" -ne 0 ]; then
		show "$T/out/login-$name-$user.err" "aidata login stderr"
		fail "login of $user with the $name credential: exit $rc"
	fi
	whoami_is "$T/out/login-$name-$user.out" "$(id -u "$user")" login \
		"tiers-$name-$$" granted
}

# whoami_is FILE UID SOURCE JTI|- STATUS: a whoami JSON says so.
whoami_is() {
	py -c 'import json, sys
f, uid, source, jti, status = sys.argv[1:]
w = json.load(open(f))
want_jti = None if jti == "-" else jti
got_jti = (w.get("claims") or {}).get("jti")
bad = []
if w.get("uid") != int(uid): bad.append("uid %r" % w.get("uid"))
if w.get("source") != source: bad.append("source %r" % w.get("source"))
if w.get("status") != status: bad.append("status %r" % w.get("status"))
if w.get("valid") != (status == "granted"): bad.append("valid %r" % w.get("valid"))
if got_jti != want_jti: bad.append("jti %r" % got_jti)
if bad:
    sys.exit("whoami %s: %s (expected uid %s source %s jti %s status %s)"
             % (f, ", ".join(bad), uid, source, jti, status))' "$@" ||
		{ show "$1" whoami; fail "whoami does not match"; }
}

# login_refused USER MNT TOKEN REASON LOG: refused (non-zero exit, a
# "refused" message), the daemon says why, and the binding is unchanged.
login_refused() {
	local user=$1 mnt=$2 name=$3 reason=$4 log=$5 rc=0 uid
	uid=$(id -u "$user")
	as "$user" "$UAIDATA" login --mount "$mnt" <"$T/tok/$name" \
		>"$T/out/login-$name-$user.out" 2>"$T/out/login-$name-$user.err" ||
		rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -gt 125 ]; then
		show "$T/out/login-$name-$user.out" stdout
		fail "login of $user with the $name credential: exit $rc, expected a refusal"
	fi
	grep -q 'refused' "$T/out/login-$name-$user.err" || {
		show "$T/out/login-$name-$user.err" stderr
		fail "login with the $name credential: no 'refused' message"
	}
	grep -q "login by uid $uid refused: $reason\$" "$log" || {
		show "$log" "aidatafs log"
		fail "the daemon did not log 'login by uid $uid refused: $reason'"
	}
}

logout() {
	as "$1" "$UAIDATA" logout --mount "$2" >"$T/out/logout.out" 2>&1 || {
		show "$T/out/logout.out" "aidata logout"
		fail "logout of $1 failed"
	}
}

whoami_of() {
	as "$1" "$UAIDATA" whoami --mount "$2" >"$T/out/whoami-$1.json" \
		2>"$T/out/whoami-$1.err" || {
		show "$T/out/whoami-$1.err" stderr
		fail "aidata whoami as $1 failed"
	}
	echo "$T/out/whoami-$1.json"
}

# mnt_opts NAME [MORE]: -o options of a mount with its own cache, state
# and audit log.
mnt_opts() {
	local o="pubkey=$PUB,cache=$T/cache-$1,state=$T/state-$1"
	o+=",audit_log=$T/audit-$1.log,allow_other"
	[ -n "${2:-}" ] && o+=",$2"
	echo "$o"
}

# ------------------------------------------------------- node N1 ----
step "mount N1 (holds the secure dataset key)"
M=$T/m1
LOG=$T/fs-n1.log
mount_start "$ORIGIN" "$M" "$LOG" "$(mnt_opts n1 "node_key=$T/n1/node.key")"
for d in "${DATASETS[@]}"; do
	[ -d "$M/datasets/$d" ] || fail "dataset $d not in the mount"
done

# column COLUMN EXPECT_A: A's cells and B's (never logged in).
column() {
	cells "$1" "$UA" "$M" "$2"
	cells "$1" "$UB" "$M" "${3:-$NOCRED}"
}

step "no credential"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" none - "no credential"
column none "$NOCRED"

step "open-only credential (no scope, no datasets)"
login_ok "$UA" "$M" open-only
column open-only "$(E "dataset not granted" "dataset not granted" \
	"credential lacks the secure scope")"

step "shared credential granting shared-granted"
login_ok "$UA" "$M" shared
column shared "$(E granted "dataset not granted" \
	"credential lacks the secure scope")"

step "shared credential granting only shared-other"
login_ok "$UA" "$M" shared-other
column shared-other "$(E "dataset not granted" granted \
	"credential lacks the secure scope")"

step "secure credential on the secure node N1"
login_ok "$UA" "$M" secure
column secure-n1 "$(E granted "dataset not granted" granted)"

step "secure credential not granting the secure dataset"
login_ok "$UA" "$M" secure-nogrant
column secure-nogrant "$(E granted granted "dataset not granted")"

step "secure credential bound to N3, used on N1"
login_ok "$UA" "$M" bound-n3
column bound-n3 "$(E granted "dataset not granted" \
	"credential bound to another node")"

step "secure credential bound to N1, used on N1"
login_ok "$UA" "$M" bound-n1
column bound-n1 "$(E granted "dataset not granted" granted)"

step "forged credential: login refused, A has none"
logout "$UA" "$M"
login_refused "$UA" "$M" forged "credential has a bad signature" "$LOG"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" none - "no credential"
column forged "$NOCRED"

step "expired credential: login refused"
login_refused "$UA" "$M" expired "credential expired" "$LOG"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" none - "no credential"

step "a credential that expires while bound"
tok expiring "$KEY" --scope shared,secure --datasets "$ALL" --ttl 15
EXP=$(py -c 'import base64, json, sys
p = open(sys.argv[1]).read().split(".")[1]
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["exp"])' \
	"$T/tok/expiring")
login_ok "$UA" "$M" expiring
while [ "$(date +%s)" -le "$EXP" ]; do sleep 0.2; done
column expired "$(E "credential expired" "credential expired" \
	"credential expired")"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" login "tiers-expiring-$$" \
	"credential expired"

step "revoked credential"
login_ok "$UA" "$M" revoked
column before-revocation "$(E granted granted granted)"
REV0=$(cat "$M/.aidata/revision")
run_ok "$AIDATA" revoke "$REPO" --key "$KEY" "tiers-revoked-$$"
[ "$(manifest_revision "$REPO")" -gt "$REV0" ] ||
	fail "aidata revoke did not publish a new revision"
rev_moved() { [ "$(cat "$M/.aidata/revision")" -gt "$REV0" ]; }
wait_for 120 rev_moved || fail "the mount did not see revision > $REV0 in 120 s"
column revoked "$(E "credential revoked" "credential revoked" \
	"credential revoked")"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" login "tiers-revoked-$$" \
	"credential revoked"
login_refused "$UA" "$M" revoked "credential revoked" "$LOG"
# B saw nothing of all this
whoami_is "$(whoami_of "$UB" "$M")" "$UID_B" none - "no credential"
mount_stop "$M"

# ------------------------------------------- N2, and no node key ----
step "mount N2 (a node key, but no sealed dataset key)"
M=$T/m2
LOG=$T/fs-n2.log
mount_start "$ORIGIN" "$M" "$LOG" "$(mnt_opts n2 "node_key=$T/n2/node.key")"
login_ok "$UA" "$M" secure
column secure-n2 "$(E granted "dataset not granted" \
	"not a secure node for this dataset")"
grep -q "no sealed key for node '${NODE_ID[n2]}'" "$LOG" || {
	show "$LOG" "aidatafs log"
	fail "N2's log does not say it has no sealed key"
}
mount_stop "$M"

step "mount without a node key"
M=$T/m0
LOG=$T/fs-n0.log
mount_start "$ORIGIN" "$M" "$LOG" "$(mnt_opts n0)"
login_ok "$UA" "$M" secure
column secure-nokey "$(E granted "dataset not granted" \
	"not a secure node for this dataset")"
mount_stop "$M"

# ------------------------------------------------- default tokens ----
step "default shared token (-o token=): B is served too"
M=$T/md
LOG=$T/fs-default.log
mount_start "$ORIGIN" "$M" "$LOG" \
	"$(mnt_opts default "node_key=$T/n1/node.key,token=$T/tok/default-shared")"
DEF=$(E granted "dataset not granted" "credential lacks the secure scope")
whoami_is "$(whoami_of "$UB" "$M")" "$UID_B" default \
	"tiers-default-shared-$$" granted
column default "$DEF" "$DEF"
# A's own login takes precedence for A only, until A logs out
login_ok "$UA" "$M" secure
column default-a-login "$(E granted "dataset not granted" granted)" "$DEF"
logout "$UA" "$M"
whoami_is "$(whoami_of "$UA" "$M")" "$UID_A" default \
	"tiers-default-shared-$$" granted
column default-a-logout "$DEF" "$DEF"
mount_stop "$M"

# bad default tokens: every user gets the token's fault
for bad in forged:"credential has a bad signature" \
	expired:"credential expired" malformed:"credential malformed"; do
	name=${bad%%:*}
	reason=${bad#*:}
	step "default $name token"
	M=$T/md-$name
	LOG=$T/fs-default-$name.log
	mount_start "$ORIGIN" "$M" "$LOG" \
		"$(mnt_opts "default-$name" "node_key=$T/n1/node.key,token=$T/tok/$name")"
	BAD=$(E "$reason" "$reason" "$reason")
	column "default-$name" "$BAD" "$BAD"
	mount_stop "$M"
done

if [ "$MISMATCHED" -ne 0 ]; then
	note "mismatches by kind:"
	sed -E -e 's/^MISMATCH [^:]*: uid [0-9]+ [^:]*: //' \
		-e "s/'[^']*'/'...'/g" -e 's/\([^)]*\)$/(...)/' \
		"$T/out/mismatches" | sort | uniq -c
	fail "$MISMATCHED probe(s) of the matrix had mismatches (MISMATCH lines above)"
fi
step "all cells as expected"

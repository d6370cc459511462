#!/bin/bash
# Tier enforcement between users, the audit log, failing closed, and
# secrecy of tokens:
#  - one user's login never grants another user anything: A logs in, B is
#    still refused; B's whoami shows B's own status; B's logout and login
#    leave A's binding alone; the login state is root-only (dirs 0700,
#    files 0600) and B cannot read A's binding file;
#  - every shared/secure open (granted or denied, by either user, by
#    python and by cat) wrote exactly one JSON line to audit_log with the
#    right time, uid, pid, process name, path, dataset, tier, decision,
#    reason and jti (null without a credential); open-tier opens,
#    getxattr, access() and whoami wrote nothing;
#  - with audit_log=/dev/full, or an audit log whose directory cannot be
#    created, shared and secure opens are refused (EACCES) and the daemon
#    log says the audit log cannot be written; open-tier files still read;
#  - no token (nor its signature segment) appears in the daemon logs, the
#    audit log, the state dir listing, whoami output or any stderr.
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

cp "$here/tiers_probe.py" "$T/tiers_probe.py"
chmod 644 "$T/tiers_probe.py"
users_tools "$UA"
# $T/out: every output and stderr captured (searched for tokens at the
# end); $T/tok: the tokens themselves.
mkdir -p "$T/out" "$T/tok"
chmod 700 "$T/tok"

# ---------------------------------------------------------- platform --
step "platform and credentials"
py "$here/tiers_probe.py" mksrc "$T/p"
SRC=$T/p/src
JSON=$T/p/datasets.json
run_ok "$AIDATA" keygen --out "$T/p/keys"
KEY=$T/p/keys/platform.key
PUB=$T/p/keys/platform.pub
REPO=$T/repo
ORIGIN=file://$REPO
pack_into "$SRC" "$JSON" "$KEY" "$REPO" --ttl 2
run_ok "$AIDATA" node-keygen --out "$T/n1"
run_ok "$AIDATA" grant-node "$REPO" --key "$KEY" --dataset secure-med \
	--node-pub "$T/n1/node.pub"
JTI_A=tiers-audit-a-$$
JTI_B=tiers-audit-b-$$
run_ok "$AIDATA" token issue --key "$KEY" --sub alice --org tiers-audit \
	--scope shared,secure --datasets shared-granted,secure-med --ttl 1h \
	--jti "$JTI_A"
cp "$LAST_OUT" "$T/tok/a"
run_ok "$AIDATA" token issue --key "$KEY" --sub bob --org tiers-audit \
	--scope shared --datasets shared-other --ttl 1h --jti "$JTI_B"
cp "$LAST_OUT" "$T/tok/b"
chmod 600 "$T/tok/a" "$T/tok/b"

OPTS="pubkey=$PUB,allow_other,node_key=$T/n1/node.key"

# E SHARED_GRANTED SHARED_OTHER SECURE: expected reasons per dataset.
E() {
	printf '{"open-text": "granted", "shared-granted": "%s", ' "$1"
	printf '"shared-other": "%s", "secure-med": "%s"}' "$2" "$3"
}
EXP_A=$(E granted "dataset not granted" granted)
EXP_NONE=$(E "no credential" "no credential" "no credential")
EXP_B=$(E "dataset not granted" granted "credential lacks the secure scope")
FILES=(datasets/open-text/README.md datasets/shared-granted/README.md
	datasets/shared-other/part/data-0001.jsonl datasets/secure-med/README.md
	datasets/secure-med/part/deep/data-0002.txt)

# opens RUN USER JTI|- EXPECT RELPATH...: open the files as USER in one
# python process; its output is checked now (each open succeeds exactly
# when EXPECT says granted) and later against the audit log.
RUNS=$T/runs
: >"$RUNS"
NRUN=0
opens() {
	local user=$1 jti=$2 expect=$3 out rc=0
	shift 3
	NRUN=$((NRUN + 1))
	out=$T/out/open-$NRUN-$user
	as "$user" "$UPY" -S "$T/tiers_probe.py" open "$M" "$@" >"$out" \
		2>"$out.err" || rc=$?
	[ "$rc" -eq 0 ] || { show "$out.err" stderr; fail "open helper: exit $rc"; }
	printf '%s\t%s\t%s\t%s\n' "$out" "$(id -u "$user")" "$jti" "$expect" \
		>>"$RUNS"
	py -c 'import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
expect = json.loads(sys.argv[2])
bad = 0
for r in lines[1:]:
    want = expect[r["path"].split("/")[2]]
    if r["ok"] != (want == "granted") or (not r["ok"] and r["errno"] != "EACCES"):
        print("open of %s by uid %s: ok=%s errno=%s, expected %s"
              % (r["path"], lines[0]["uid"], r["ok"], r["errno"], want),
              file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)' "$out" "$expect" || fail "open results differ"
}

# cat_open USER JTI|- EXPECT RELPATH: the same for one `cat` of the file
# (the audit must name the process "cat" and its pid).
cat_open() {
	local user=$1 jti=$2 expect=$3 rel=$4 out rc=0 pid
	NRUN=$((NRUN + 1))
	out=$T/out/open-$NRUN-$user-cat
	# shellcheck disable=SC2016 # expanded by that sh
	as "$user" sh -c 'echo $$; exec cat "$1" >/dev/null' sh "$M/$rel" \
		>"$out.raw" 2>"$out.err" || rc=$?
	pid=$(head -n 1 "$out.raw")
	py -c 'import json, sys
pid, uid, rel, rc, err = sys.argv[1:]
print(json.dumps({"pid": int(pid), "uid": int(uid), "comm": "cat"}))
ok = rc == "0"
print(json.dumps({"path": "/" + rel, "ok": ok,
                  "errno": None if ok else
                  ("EACCES" if "Permission denied" in err else err)}))' \
		"$pid" "$(id -u "$user")" "$rel" "$rc" "$(cat "$out.err")" >"$out"
	printf '%s\t%s\t%s\t%s\n' "$out" "$(id -u "$user")" "$jti" "$expect" \
		>>"$RUNS"
}

# whoami_is USER UID SOURCE JTI|- STATUS: `aidata whoami` as USER says so.
NWHO=0
whoami_is() {
	local user=$1 out
	shift
	NWHO=$((NWHO + 1))
	out=$T/out/whoami-$NWHO-$user
	as "$user" "$UAIDATA" whoami --mount "$M" >"$out" 2>"$out.err" ||
		{ show "$out.err" stderr; fail "whoami as $user failed"; }
	py -c 'import json, sys
f, uid, source, jti, status = sys.argv[1:]
w = json.load(open(f))
want_jti = None if jti == "-" else jti
got_jti = (w.get("claims") or {}).get("jti")
bad = []
if w.get("uid") != int(uid): bad.append("uid %r" % w.get("uid"))
if w.get("source") != source: bad.append("source %r" % w.get("source"))
if w.get("status") != status: bad.append("status %r" % w.get("status"))
if got_jti != want_jti: bad.append("jti %r" % got_jti)
if bad:
    sys.exit("whoami %s: %s (expected uid %s source %s jti %s status %s)"
             % (f, ", ".join(bad), uid, source, jti, status))' \
		"$out" "$@" || { show "$out" whoami; fail "whoami does not match"; }
	WHOAMI_OUT=$out
}

login() {
	local user=$1 tok=$2 out=$T/out/login-$1-$2 rc=0
	as "$user" "$UAIDATA" login --mount "$M" <"$T/tok/$tok" >"$out" \
		2>"$out.err" || rc=$?
	[ "$rc" -eq 0 ] || { show "$out.err" stderr; fail "login of $user: exit $rc"; }
}

# ------------------------------------------------------ two users ----
step "mount N1; A logs in, B does not"
M=$T/m
LOG=$T/fs.log
AUDIT=$T/audit.log
T0=$(date +%s.%N)
mount_start "$ORIGIN" "$M" "$LOG" "$OPTS,cache=$T/cache,state=$T/state,audit_log=$AUDIT"
login "$UA" a
whoami_is "$UA" "$UID_A" login "$JTI_A" granted
whoami_is "$UB" "$UID_B" none - "no credential"
WHO_B=$WHOAMI_OUT
# B's whoami tells nothing of A's credential
if grep -Eq "$JTI_A|alice" "$WHO_B"; then
	show "$WHO_B" "B's whoami"
	fail "B's whoami mentions A's credential"
fi

opens "$UA" "$JTI_A" "$EXP_A" "${FILES[@]}"
opens "$UB" - "$EXP_NONE" "${FILES[@]}"
cat_open "$UB" - "$EXP_NONE" datasets/secure-med/README.md
cat_open "$UA" "$JTI_A" "$EXP_A" datasets/secure-med/README.md
cat_open "$UB" - "$EXP_NONE" datasets/open-text/README.md

# neither getxattr nor access() nor whoami is audited
for u in "$UA" "$UB"; do
	as "$u" getfattr -n user.aidata.access "$M/datasets/shared-granted/README.md" \
		"$M/datasets/secure-med/README.md" >"$T/out/getfattr-$u" 2>&1
	as "$u" test -r "$M/datasets/secure-med/README.md" || true
done
grep -q 'user.aidata.access="granted"' "$T/out/getfattr-$UA" ||
	{ show "$T/out/getfattr-$UA" getfattr; fail "A's access xattr is not granted"; }
grep -q 'user.aidata.access="no credential"' "$T/out/getfattr-$UB" ||
	{ show "$T/out/getfattr-$UB" getfattr; fail "B's access xattr"; }

step "the login state is root-only"
find "$T/state" -printf '%M %u %g %P\n' | sort -k4 >"$T/out/state.listing"
[ -f "$T/state/logins/$UID_A.token" ] || {
	show "$T/out/state.listing" "state dir"
	fail "no binding file logins/$UID_A.token for A"
}
py -c 'import sys
bad = []
for line in open(sys.argv[1]):
    mode, user, group, path = (line.rstrip("\n").split(" ", 3) + [""])[:4]
    want = "drwx------" if mode.startswith("d") else "-rw-------"
    if mode != want or user != "root":
        bad.append(line.strip())
if bad:
    sys.exit("state entries not root-only (dirs 0700, files 0600): %s" % bad)' \
	"$T/out/state.listing" || { show "$T/out/state.listing" state; fail "state dir modes"; }
# the positive control of the token grep below: the binding is the token
grep -qF -- "$(cat "$T/tok/a")" "$T/state/logins/$UID_A.token" ||
	fail "A's binding file does not hold A's token"
rc=0
as "$UB" cat "$T/state/logins/$UID_A.token" >"$T/out/b-cat-binding" \
	2>"$T/out/b-cat-binding.err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$T/out/b-cat-binding" ] ||
	fail "B could read A's binding file"
grep -q 'Permission denied' "$T/out/b-cat-binding.err" ||
	{ show "$T/out/b-cat-binding.err" stderr; fail "B's read of the binding: no EACCES"; }
rc=0
as "$UB" ls "$T/state/logins" >"$T/out/b-ls-logins" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { show "$T/out/b-ls-logins" ls; fail "B could list the logins"; }

step "B's logout and login leave A alone"
as "$UB" "$UAIDATA" logout --mount "$M" >"$T/out/b-logout" 2>&1 ||
	{ show "$T/out/b-logout" logout; fail "B's logout failed"; }
whoami_is "$UA" "$UID_A" login "$JTI_A" granted
login "$UB" b
whoami_is "$UB" "$UID_B" login "$JTI_B" granted
if grep -Eq "$JTI_A|alice" "$WHOAMI_OUT"; then
	show "$WHOAMI_OUT" "B's whoami"
	fail "B's whoami mentions A's credential"
fi
whoami_is "$UA" "$UID_A" login "$JTI_A" granted
opens "$UB" "$JTI_B" "$EXP_B" "${FILES[@]}"
opens "$UA" "$JTI_A" "$EXP_A" "${FILES[@]}"
cat_open "$UB" "$JTI_B" "$EXP_B" datasets/shared-other/README.md
# A logs out: A has nothing, B keeps B's
as "$UA" "$UAIDATA" logout --mount "$M" >"$T/out/a-logout" 2>&1 ||
	{ show "$T/out/a-logout" logout; fail "A's logout failed"; }
[ ! -e "$T/state/logins/$UID_A.token" ] || fail "A's binding file outlived the logout"
whoami_is "$UA" "$UID_A" none - "no credential"
opens "$UA" - "$EXP_NONE" "${FILES[@]}"
opens "$UB" "$JTI_B" "$EXP_B" "${FILES[@]}"
T1=$(date +%s.%N)

step "audit log: one record per shared/secure open"
[ "$(stat -c %a "$AUDIT")" = 600 ] || fail "audit log mode $(stat -c %a "$AUDIT"), expected 600"
cp "$AUDIT" "$T/out/audit.copy"
py "$here/tiers_probe.py" audit-check "$AUDIT" 0 "$JSON" "$RUNS" "$T0" "$T1" ||
	{ show "$AUDIT" "audit log"; fail "audit log does not match the opens"; }
# every refusal is also one line of the daemon log, with its reason
denied=$(grep -c '"decision":"denied"' "$AUDIT" || true)
logged=$(grep -c "^.* warning: open of '/datasets/.*' (\(shared\|secure\) tier) by uid [0-9]* pid [0-9]* (.*) refused: " "$LOG" || true)
[ "$denied" -gt 0 ] && [ "$denied" -eq "$logged" ] ||
	{ show "$LOG" "aidatafs log"; fail "$denied denied opens audited, $logged refusals in the daemon log"; }
grep -q "open of '/datasets/secure-med/README.md' (secure tier) by uid $UID_B pid [0-9]* (cat) refused: no credential" "$LOG" ||
	{ show "$LOG" "aidatafs log"; fail "the daemon log lacks B's refused cat"; }
mount_stop "$M"

# ------------------------------------------------------ fail closed ---
# fail_closed NAME AUDIT_LOG: A (valid secure credential) is refused the
# shared and secure files, not the open ones, and the log says why.
fail_closed() {
	local name=$1 audit=$2 f rc
	M=$T/m-$name
	LOG=$T/fs-$name.log
	mount_start "$ORIGIN" "$M" "$LOG" \
		"$OPTS,cache=$T/cache-$name,state=$T/state-$name,audit_log=$audit"
	login "$UA" a
	whoami_is "$UA" "$UID_A" login "$JTI_A" granted
	# A's credential grants these: only the audit stands in the way
	for f in datasets/shared-granted/README.md datasets/secure-med/README.md; do
		rc=0
		as "$UA" cat "$M/$f" >"$T/out/fc-$name.out" 2>"$T/out/fc-$name.err" ||
			rc=$?
		[ "$rc" -ne 0 ] && grep -q 'Permission denied' "$T/out/fc-$name.err" ||
			{ show "$T/out/fc-$name.err" stderr; fail "$name: A read $f without an audit log"; }
		[ ! -s "$T/out/fc-$name.out" ] || fail "$name: bytes of $f served"
		grep -q "audit log '$audit' cannot be written (.*): refusing open of '/$f' by uid $UID_A" "$LOG" ||
			{ show "$LOG" "aidatafs log"; fail "$name: the daemon log does not say the audit log cannot be written for /$f"; }
	done
	for u in "$UA" "$UB"; do
		as "$u" cat "$M/datasets/open-text/README.md" >"$T/out/fc-$name-open" ||
			fail "$name: $u cannot read an open-tier file"
		cmp -s "$T/out/fc-$name-open" "$SRC/open-text/README.md" ||
			fail "$name: open-tier bytes differ"
	done
}

step "fail closed: audit_log=/dev/full"
fail_closed full /dev/full
mount_stop "$M"

step "fail closed: the audit log's directory cannot be created"
: >"$T/not-a-dir"
fail_closed nodir "$T/not-a-dir/sub/audit.log"
grep -q "audit log '$T/not-a-dir/sub/audit.log': Not a directory; shared and secure opens will be refused" "$LOG" ||
	{ show "$LOG" "aidatafs log"; fail "no startup error about the audit log"; }
[ -f "$T/not-a-dir" ] && [ ! -s "$T/not-a-dir" ] || fail "the daemon changed $T/not-a-dir"
# what open() will say, getxattr says too (nothing can be audited)
NODIR_XATTR_OK=1
v=$(as "$UA" getfattr --only-values -n user.aidata.access \
	"$M/datasets/secure-med/README.md" 2>"$T/out/fc-xattr.err") || v="error"
if [ "$v" != "audit log unavailable" ]; then
	printf 'FAIL(independent): without an audit log, user.aidata.access of a granted secure file is %q; open() refuses it with "audit log unavailable"\n' "$v" >&2
	NODIR_XATTR_OK=0
fi
mount_stop "$M"

# ----------------------------------------------------- token secrecy --
step "no token in logs, audit, state listing, whoami or stderr"
: >"$T/tokpat"
for t in a b; do
	tr -d '\n' <"$T/tok/$t" >>"$T/tokpat"
	echo >>"$T/tokpat"
	# the signature segment alone, and the payload (claims) segment
	cut -d. -f3 <"$T/tok/$t" >>"$T/tokpat"
	cut -d. -f2 <"$T/tok/$t" >>"$T/tokpat"
done
[ "$(grep -c . "$T/tokpat")" -eq 6 ] || fail "cannot split the tokens"
grep -qF -f "$T/tokpat" "$T/tok/a" || fail "token grep control failed"
ls -laR "$T/state" "$T/state-full" "$T/state-nodir" >"$T/out/state.ls" 2>&1
leaks=$(grep -rlF -f "$T/tokpat" "$T/out" "$T"/fs*.log "$AUDIT" || true)
if [ -n "$leaks" ]; then
	printf 'token found in: %s\n' "$leaks" >&2
	fail "a token leaked"
fi
note "searched $(find "$T/out" -type f | wc -l) captured outputs, $(ls "$T"/fs*.log | wc -l) daemon logs and the audit log"

[ "$NODIR_XATTR_OK" -eq 1 ] || fail "user.aidata.access disagrees with open() when the audit log is unavailable (see above)"
step "ok"

#!/bin/bash
# Job data receipts (issue #11) with real cgroups (cgroup v2, one per
# simulated job) and real users:
#  1. job A (an open and a secure dataset) and job B (another open
#     dataset) read different files: each job's `aidata receipt` (its
#     own cgroup by default) lists exactly its datasets and files, with
#     the source files' SHA-256 and sizes, tiers and licenses, and the
#     bytes served (a cold mount: every byte reached the daemon);
#  2. both verify with the node's receipt key; re-indented they still
#     do; edited (a digest, a license, a count, a file dropped), with
#     another receipt's signature, or checked with another key, they do
#     not; a mount without receipt_key gives unsigned receipts;
#  3. who may read: a user reads its own cgroup's receipt; another user
#     may not, until the cgroup's directory is delegated (chowned) to
#     it; a user may not read root's job; root reads every one;
#     --cgroup takes the cgroup's directory too;
#  4. --reset prints the account it closes and starts a new one, and
#     reads through a file opened before the reset do not count in it;
#  5. a job's receipt outlives its cgroup (removed after the job).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init
for _t in runuser useradd userdel; do
	command -v "$_t" >/dev/null || fail "$_t is not installed"
done

CG2=$(awk -F ' - ' '{ split($1, a, " "); split($2, b, " ");
	if (b[1] == "cgroup2") { print a[5]; exit } }' /proc/self/mountinfo)
if [ -z "$CG2" ]; then
	echo "SKIP: no cgroup v2 hierarchy is mounted"
	exit 77
fi

# ------------------------------------------------ users and cgroups --
UA=aidt-ra-$$
UB=aidt-rb-$$
# shellcheck source=users_lib.sh
. "$here/users_lib.sh"
users_init
add_user "$UA"
add_user "$UB"
JA=/aidt-$$-job-a
JB=/aidt-$$-job-b
JC=/aidt-$$-job-c
for cg in "$JA" "$JB" "$JC"; do
	add_cgroup "$cg"
done
# the users run this copy (the build tree may not be theirs to read)
cp "$AIDATA" "$T/aidata"
chmod 755 "$T/aidata"

# in_job CGROUP [USER] -- CMD...: run CMD in CGROUP (moved there by root,
# then as USER if given).
in_job() {
	local cg=$1 user=
	shift
	if [ "$1" != -- ]; then
		user=$1
		shift
	fi
	shift
	if [ -n "$user" ]; then
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec runuser -u "$@"' \
			sh "$CG2$cg" "$user" -- "$@"
	else
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' \
			sh "$CG2$cg" "$@"
	fi
}

make_platform "$T/p"
run_ok "$AIDATA" keygen --out "$T/rk" --name receipt
run_ok "$AIDATA" keygen --out "$T/other" --name receipt
OPENS=() SECURE_DS=
for d in $(dataset_names "$PLAT_JSON"); do
	case $(dataset_field "$PLAT_JSON" "$d" tier) in
	open) OPENS+=("$d") ;;
	secure) [ -n "$SECURE_DS" ] || SECURE_DS=$d ;;
	esac
done
[ "${#OPENS[@]}" -ge 2 ] && [ -n "$SECURE_DS" ] ||
	fail "the sample lacks two open datasets and a secure one"
DA=${OPENS[0]} DB=${OPENS[1]}
mapfile -t FA < <(cd "$PLAT_SRC" && find "$DA" -type f | sort | sed -n 1,4p)
mapfile -t FS < <(cd "$PLAT_SRC" && find "$SECURE_DS" -type f | sort | sed -n 1,2p)
mapfile -t FB < <(cd "$PLAT_SRC" && find "$DB" -type f | sort | sed -n 1,3p)
note "job A reads ${FA[*]} ${FS[*]}; job B reads ${FB[*]}"

M=$T/mnt
mount_start "file://$PLAT_REPO" "$M" "$T/fs.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache,$PLAT_AUTH,allow_other,receipt_key=$T/rk/receipt.key"

# check RECEIPT CGROUP [options] REL...: receipt_check.py
check() {
	py "$here/receipt_check.py" "$1" "$PLAT_SRC" "$PLAT_JSON" "${@:2}" ||
		{ show "$1" receipt; fail "receipt $1 is not what the job did"; }
}

step "1. two jobs read different datasets; each receipt says what its job read"
in_job "$JA" -- sh -c 'cd "$1" && shift && cat -- "$@" >/dev/null' sh \
	"$M/datasets" "${FA[@]}" "${FS[@]}"
in_job "$JA" -- "$AIDATA" receipt --mount "$M" --out "$T/a.json"
in_job "$JB" -- sh -c 'cd "$1" && shift && cat -- "$@" >/dev/null' sh \
	"$M/datasets" "${FB[@]}"
in_job "$JB" -- "$AIDATA" receipt --mount "$M" >"$T/b.json"
check "$T/a.json" "$JA" --bytes-exact --resets 0 "${FA[@]}" "${FS[@]}"
check "$T/b.json" "$JB" --bytes-exact "${FB[@]}"
grep -q "$DB" "$T/a.json" && fail "job A's receipt names job B's dataset"

step "2. signatures: valid, re-indented valid; edited, swapped, wrong key: not"
run_ok "$AIDATA" receipt verify "$T/a.json" --pubkey "$T/rk/receipt.pub"
grep -q "valid receipt of cgroup '$JA'" "$LAST_OUT" || { show "$LAST_OUT" verify; fail "verify says nothing of $JA"; }
run_ok "$AIDATA" receipt verify - --pubkey "$T/rk/receipt.pub" <"$T/b.json"
py -c 'import json, sys
d = json.load(open(sys.argv[1]))
json.dump(d, open(sys.argv[2], "w"), indent=7, sort_keys=True)' "$T/a.json" "$T/a-reindented.json"
run_ok "$AIDATA" receipt verify "$T/a-reindented.json" --pubkey "$T/rk/receipt.pub"
# forge EDIT: a python statement on r (the receipt) or d (the document)
forge() {
	local name=$1 edit=$2
	py -c 'import json, sys
d = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
r = d["receipt"]
exec(sys.argv[4])
json.dump(d, open(sys.argv[3], "w"), indent=2)' "$T/a.json" "$T/b.json" "$T/forged-$name.json" "$edit"
	expect_fail_with "DOES NOT VERIFY|signed by another key|not a receipt" \
		"$AIDATA" receipt verify "$T/forged-$name.json" --pubkey "$T/rk/receipt.pub"
}
forge digest 'f = r["datasets"][0]["files"][0]; f["sha256"] = ("0" if f["sha256"][0] != "0" else "1") + f["sha256"][1:]'
forge license 'r["datasets"][0]["license"] = "CC0-1.0" if r["datasets"][0]["license"] != "CC0-1.0" else "MIT"'
forge count 'r["datasets"][0]["opens"] += 1'
forge dropped 'r["datasets"][0]["files"].pop(); r["datasets"][0]["files_listed"] -= 1'
forge dataset 'r["datasets"].pop()'
forge swapped 'd["signature"] = b["signature"]'
forge extra 'd["note"] = "approved"'
expect_fail_with "signed by another key" \
	"$AIDATA" receipt verify "$T/a.json" --pubkey "$T/other/receipt.pub"
mount_start "file://$PLAT_REPO" "$T/mnt2" "$T/fs2.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache,$PLAT_AUTH,audit_log=$T/audit2.log,state=$T/state2"
in_job "$JC" -- sh -c 'cat -- "$1" >/dev/null && "$2" receipt --mount "$3"' sh \
	"$T/mnt2/datasets/${FB[0]}" "$AIDATA" "$T/mnt2" >"$T/unsigned.json"
grep -q '"signature": null' "$T/unsigned.json" || { show "$T/unsigned.json" receipt; fail "a mount without receipt_key signed"; }
check "$T/unsigned.json" "$JC" "${FB[0]}"
expect_fail_with "unsigned" "$AIDATA" receipt verify "$T/unsigned.json" --pubkey "$T/rk/receipt.pub"
mount_stop "$T/mnt2"

step "3. who may read a receipt"
in_job "$JC" "$UA" -- sh -c 'cat -- "$1" >/dev/null && "$2" receipt --mount "$3"' sh \
	"$M/datasets/${FB[1]}" "$T/aidata" "$M" >"$T/c.json" 2>"$T/c.err" ||
	{ show "$T/c.err" stderr; fail "$UA cannot read its own job's receipt"; }
check "$T/c.json" "$JC" "${FB[1]}"
expect_fail_with "cgroup '$JC': not yours" runuser -u "$UB" -- "$T/aidata" receipt --mount "$M" --cgroup "$JC"
expect_fail_with "cgroup '$JA': not yours" runuser -u "$UA" -- "$T/aidata" receipt --mount "$M" --cgroup "$JA"
expect_fail_with "not yours" runuser -u "$UA" -- "$T/aidata" receipt --mount "$M" --cgroup /
# delegated: the cgroup's directory belongs to UB now
chown "$UB" "$CG2$JC"
run_ok runuser -u "$UB" -- "$T/aidata" receipt --mount "$M" --cgroup "$CG2$JC"
check "$LAST_OUT" "$JC" "${FB[1]}"
run_ok "$AIDATA" receipt --mount "$M" --cgroup "$JC"
check "$LAST_OUT" "$JC" "${FB[1]}"
expect_fail_with "not a cgroup path" "$AIDATA" receipt --mount "$M" --cgroup "$JA/../x"

step "4. --reset closes the account; a file opened before it no longer counts"
in_job "$JA" -- sh -c '
	exec 3<"$1" || exit 1
	"$2" receipt --mount "$3" --reset --out "$4" || exit 1
	cat <&3 >/dev/null || exit 1
	"$2" receipt --mount "$3" --out "$5"' sh \
	"$M/datasets/${FB[2]}" "$AIDATA" "$M" "$T/a-closed.json" "$T/a-new.json"
check "$T/a-closed.json" "$JA" --resets 0 "${FA[@]}" "${FS[@]}" "${FB[2]}"
check "$T/a-new.json" "$JA" --empty --resets 1
run_ok "$AIDATA" receipt verify "$T/a-closed.json" --pubkey "$T/rk/receipt.pub"

step "5. the receipt outlives its cgroup"
rmdir "$CG2$JB"
run_ok "$AIDATA" receipt --mount "$M" --cgroup "$JB"
check "$LAST_OUT" "$JB" --bytes-exact "${FB[@]}"

mount_stop "$M"
note "PASS"

#!/bin/bash
# The alliance pool (#12), end to end: a pool of three organisations with
# different contributions (acme, beta, gamma; beta re-contributes acme's
# bytes, gamma the platform's, acme its own; gamma also contributes a
# secure dataset, beta an open one), a fourth (delta) that contributed
# only open data, and the platform's own dataset (pool_check.py POOL).
#
# - the ledger (aidata ledger --json, over the directory and over nginx)
#   equals, figure for figure, the one pool_check.py computes from the
#   source files and the catalogs' raw records; the text output agrees;
# - tokens issued by a policy grant exactly what the policy allows, with
#   the reason per dataset; an organisation that contributed nothing gets
#   none; the ledger's balances and outstanding credentials agree;
# - three real users holding those tokens open exactly the granted shared
#   datasets through a real mount (every other shared or secure one:
#   EACCES), and a revoked policy token stops working;
# - by-contributor/ and user.aidata.contributor match datasets.json;
# - a repository without contributors (what every repository published
#   before them is) has no contributors table, an empty ledger and an
#   empty by-contributor/;
# - bad input (a shared dataset without a contributor, an unknown
#   organisation, malformed policies, conflicting options) is refused
#   with a clear message and leaves the repository, and the record of
#   issued credentials, unchanged.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init
command -v getfattr >/dev/null || fail "getfattr (package attr) is not installed"
for _t in runuser useradd userdel curl; do
	command -v "$_t" >/dev/null || fail "$_t is not installed"
done

# ------------------------------------------------------------- users --
# shellcheck source=users_lib.sh
. "$here/users_lib.sh"
users_init
declare -A USER_OF=([acme]=aidp-a-$$ [beta]=aidp-b-$$ [gamma]=aidp-g-$$)
for org in acme beta gamma; do
	add_user "${USER_OF[$org]}"
done
U0=${USER_OF[acme]}
cp "$here/pool_check.py" "$here/mount_tree.py" "$T/"
chmod 644 "$T/pool_check.py" "$T/mount_tree.py"
users_tools "$U0"
mkdir -p "$T/tok" "$T/out"
chmod 755 "$T/tok"

# ----------------------------------------------------------- the pool --
step "the pool: 8 datasets of acme, beta, gamma, delta and the platform"
py "$T/pool_check.py" mksrc "$T/p"
SRC=$T/p/src
JSON=$T/p/datasets.json
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key
PUB=$T/keys/platform.pub
REPO=$T/repo
RECORD=$T/keys/issued-credentials.jsonl
# a 2 s manifest TTL: mounts see a revocation within seconds
pack_into "$SRC" "$JSON" "$KEY" "$REPO" --chunk-size 64K --ttl 2
mapfile -t DATASETS < <(dataset_names "$JSON")
[ "${#DATASETS[@]}" -eq 8 ] || fail "the pool has ${#DATASETS[@]} datasets, not 8"

# ------------------------------------------------------------ ledger --
step "the ledger's figures, computed independently"
run_ok py "$T/pool_check.py" expect "$REPO" "$SRC" "$JSON"
cp "$LAST_OUT" "$T/ledger.want"
run_ok "$AIDATA" ledger "$REPO" --pubkey "$PUB" --json
cp "$LAST_OUT" "$T/ledger.got"
run_ok py "$T/pool_check.py" compare "$T/ledger.want" "$T/ledger.got"
# the figures the test was designed around (pool_check.py POOL): beta's
# copy of acme's r1.bin, gamma's of the platform's r4.bin and acme's own
# repeat of r2.bin are credited to nobody new
py - "$T/ledger.got" <<'EOF' || fail "the ledger's figures are not the designed ones"
import json, sys
l = json.load(open(sys.argv[1]))
org = {o["name"]: o for o in l["organisations"]}
ds = {d["name"]: d for o in l["organisations"] for d in o["datasets"]}
ds.update({d["name"]: d for d in l["no_contributor"]})
assert sorted(org) == ["acme", "beta", "delta", "gamma"], sorted(org)
notes = ds["a-law"]["stored"] - 165536          # notes.txt, compressed
assert 0 < notes < 14464, notes                 # the policy below relies on it
assert ds["a-law"]["credited"] == ds["a-law"]["stored"]
assert (ds["b-news"]["stored"], ds["b-news"]["credited"]) == (170000, 70000)
assert (ds["d-gamma"]["stored"], ds["d-gamma"]["credited"]) == (50000, 20000)
assert (ds["e-acme2"]["stored"], ds["e-acme2"]["credited"]) == (105536, 40000)
assert ds["g-vault"]["credited"] == 30000 + 28  # encrypted: 28 B envelope
assert org["acme"]["contributed"] == 165536 + notes + 40000
assert org["beta"]["contributed"] == 120000
assert org["gamma"]["contributed"] == 50028
assert org["acme"]["files"] == 5 and org["beta"]["files"] == 3
assert l["pool"]["unattributed"] == 30000
assert l["pool"]["stored"] == sum(o["contributed"] for o in l["organisations"]) + 30000
EOF
# the text form says the same, in people's units
run_ok "$AIDATA" ledger "$REPO" --pubkey "$PUB"
cp "$LAST_OUT" "$T/ledger.txt"
grep -q "^ledger of '$REPO', revision 1: 8 datasets, 4 organisations;" "$T/ledger.txt" ||
	{ show "$T/ledger.txt" ledger; fail "ledger text: no summary line"; }
grep -Eq '^beta: 2 datasets, 3 files, .*credited 117\.2 KiB$' "$T/ledger.txt" ||
	{ show "$T/ledger.txt" ledger; fail "ledger text: beta's line"; }
grep -Eq '^ +b-news +shared +2 files .*credited +68\.4 KiB \(the rest was in the pool\)$' "$T/ledger.txt" ||
	{ show "$T/ledger.txt" ledger; fail "ledger text: b-news's line"; }
grep -q '^no contributor (the platform.s own):$' "$T/ledger.txt" ||
	{ show "$T/ledger.txt" ledger; fail "ledger text: no platform section"; }
[ ! -e "$RECORD" ] || fail "the ledger wrote a record of issued credentials"

step "the same ledger over nginx"
nginx_start "$REPO"
run_ok "$AIDATA" ledger "$NGINX_URL/" --pubkey "$PUB" --json
cp "$LAST_OUT" "$T/ledger.http"
run_ok py "$T/pool_check.py" compare "$T/ledger.want" "$T/ledger.http"
nginx_stop

# ------------------------------------------------------------ policy --
# Derived by hand from the figures above (notes < 14464 B):
#   acme  earns 205536+notes: own a-law, e-acme2; d-gamma (50000) fits,
#         then b-news (170000) does not
#   beta  earns 120000: own b-news; d-gamma fits (70000 left), e-acme2
#         (105536) and a-law do not
#   gamma earns 50028: own d-gamma; b-news listed for it; e-acme2
#         excluded by acme; a-law does not fit
#   delta earns 20000, and no shared dataset costs so little: no token
cat >"$T/keys/policy.json" <<'EOF'
{
  "ratio": 1,
  "min_contribution": "16K",
  "grants": {"gamma": ["b-news"]},
  "exclusions": {"e-acme2": ["gamma"]}
}
EOF
POLICY=$T/keys/policy.json
declare -A GRANT=([acme]="a-law,d-gamma,e-acme2" [beta]="b-news,d-gamma"
	[gamma]="b-news,d-gamma")

# claims_of TOKEN FIELD: a claim of a credential, as JSON
claims_of() {
	"$AIDATA" token show --pubkey "$PUB" <"$1" |
		py -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[sys.argv[1]]))' "$2"
}

step "tokens issued by the policy grant exactly what it allows"
for org in acme beta gamma; do
	run_ok "$AIDATA" token issue --key "$KEY" --sub "${USER_OF[$org]}" \
		--org "$org" --policy "$POLICY" --repo "$REPO" --ttl 1h \
		--jti "pool-$org-$$"
	cp "$LAST_OUT" "$T/tok/$org"
	cp "$LAST_ERR" "$T/out/issue-$org.err"
	chmod 644 "$T/tok/$org"
	got=$(claims_of "$T/tok/$org" datasets | tr -d '[] "')
	[ "$got" = "${GRANT[$org]}" ] ||
		{ show "$T/out/issue-$org.err" stderr; fail "$org was granted '$got', expected '${GRANT[$org]}'"; }
	[ "$(claims_of "$T/tok/$org" scope)" = '["shared"]' ] ||
		fail "$org's policy token has scope $(claims_of "$T/tok/$org" scope)"
	[ "$(claims_of "$T/tok/$org" org)" = "\"$org\"" ] || fail "$org's token names another org"
done
# and it says why, per shared dataset
for line in \
	"acme:granted 'd-gamma': earned: fits in what is left (costs 50000 bytes, " \
	"acme:not granted 'b-news': not earned: costs more than is left (costs 170000 bytes, " \
	"acme:granted 'e-acme2': its own contribution" \
	"beta:granted 'd-gamma': earned: fits in what is left (costs 50000 bytes, 120000 left)" \
	"beta:not granted 'e-acme2': not earned: costs more than is left (costs 105536 bytes, 70000 left)" \
	"beta:used 50000 of 120000 bytes earned, 70000 available" \
	"gamma:granted 'b-news': listed for it by the policy" \
	"gamma:not granted 'e-acme2': excluded by its contributor" \
	"gamma:'gamma' is credited 50028 stored bytes in '$REPO' (revision 1); policy '$POLICY' (ratio 1) earns it 50028 bytes"; do
	org=${line%%:*}
	grep -qF -- "aidata token: ${line#*:}" "$T/out/issue-$org.err" ||
		{ show "$T/out/issue-$org.err" "issue $org"; fail "issue for $org does not say: ${line#*:}"; }
done
[ "$(wc -l <"$RECORD")" -eq 3 ] || fail "the record does not hold the 3 credentials"

step "the ledger's balances under the policy"
run_ok "$AIDATA" ledger "$REPO" --key "$KEY" --policy "$POLICY" --json
py - "$LAST_OUT" "$$" <<'EOF' || fail "ledger --policy disagrees"
import json, sys
l, pid = json.load(open(sys.argv[1])), sys.argv[2]
org = {o["name"]: o for o in l["organisations"]}
notes = 165536 + 40000
notes = org["acme"]["contributed"] - notes
want = {"acme": (205536 + notes, 50000, ["a-law", "e-acme2", "d-gamma"]),
        "beta": (120000, 50000, ["b-news", "d-gamma"]),
        "gamma": (50028, 0, ["d-gamma", "b-news"])}
for name, (earned, used, granted) in want.items():
    b = org[name]["balance"]
    assert (b["earned"], b["used"], b["available"]) == (earned, used, earned - used), (name, b)
    assert sorted(g["dataset"] for g in b["granted"]) == sorted(granted), (name, b["granted"])
    issued = org[name]["issued"]
    assert [i["jti"] for i in issued] == ["pool-%s-%s" % (name, pid)], issued
assert [(g["dataset"], g["reason"]) for g in org["gamma"]["balance"]["not_granted"]] == \
    [("e-acme2", "excluded"), ("a-law", "over_budget")], org["gamma"]["balance"]
assert l["policy"]["min_contribution"] == 16384
EOF

# --------------------------------------------------- the mount, users --
step "mount; each organisation's user logs in with its policy token"
M=$T/mnt
LOG=$T/fs.log
mount_start "file://$REPO" "$M" "$LOG" \
	"pubkey=$PUB,cache=$T/cache,state=$T/state,audit_log=$T/audit.log,allow_other"
for org in acme beta gamma; do
	as "${USER_OF[$org]}" "$UAIDATA" login --mount "$M" <"$T/tok/$org" \
		>"$T/out/login-$org.out" 2>&1 ||
		{ show "$T/out/login-$org.out" login; fail "login of $org's user failed"; }
done

# probe_all ORG: what ORG's user can open, against what the policy grants
probe_all() {
	local org=$1 u=${USER_OF[$1]} d want
	as "$u" "$UPY" -S "$T/pool_check.py" probe "$M" "${DATASETS[@]}" \
		>"$T/out/probe-$org" 2>&1 || { show "$T/out/probe-$org" probe; fail "probe as $org failed"; }
	for d in "${DATASETS[@]}"; do
		case "$(dataset_field "$JSON" "$d" tier),${GRANT[$org]}," in
		open,*) want=ok ;;
		shared,*",$d,"* | shared,"$d,"*) want=ok ;;
		*) want=EACCES ;;
		esac
		grep -qx "$d $want" "$T/out/probe-$org" ||
			{ show "$T/out/probe-$org" "probe as $org"; fail "$org's user: $d is not '$want'"; }
	done
	# the mount tells each why not
	for d in "${DATASETS[@]}"; do
		want=granted
		[ "$(dataset_field "$JSON" "$d" tier)" = open ] ||
			[[ ,${GRANT[$org]}, == *",$d,"* ]] || want="dataset not granted"
		[ "$(dataset_field "$JSON" "$d" tier)" = secure ] &&
			want="credential lacks the secure scope"
		[ "$(as "$u" getfattr --absolute-names --only-values -n user.aidata.access "$M/datasets/$d")" = "$want" ] ||
			fail "$org's user: user.aidata.access of $d is not '$want'"
	done
}
for org in acme beta gamma; do
	probe_all "$org"
done

step "by-contributor/ and user.aidata.contributor match datasets.json"
py -c 'import json, sys
for d in json.load(open(sys.argv[1]))["datasets"]:
    if "contributor" in d:
        print("%s/%s" % (d["contributor"], d["name"]))' "$JSON" | sort >"$T/view.want"
(cd "$M/by-contributor" && find . -mindepth 2 -maxdepth 2 -printf '%P\n' | sort) >"$T/view.got"
same_text "by-contributor/<org>/<dataset>" "$T/view.want" "$T/view.got"
ls "$M/by-contributor" >"$T/orgs.got"
printf '%s\n' acme beta delta gamma >"$T/orgs.want"
same_text "ls by-contributor" "$T/orgs.want" "$T/orgs.got"
for d in "${DATASETS[@]}"; do
	org=$(py -c 'import json, sys
print(next(d for d in json.load(open(sys.argv[1]))["datasets"] if d["name"] == sys.argv[2]).get("contributor", ""))' "$JSON" "$d")
	while IFS= read -r -d '' f; do
		for path in "$M/datasets/$d/$f" "$M/datasets/$d"; do
			if [ -n "$org" ]; then
				[ "$(getfattr --absolute-names --only-values -n user.aidata.contributor "$path")" = "$org" ] ||
					fail "user.aidata.contributor of $path is not '$org'"
				getfattr --absolute-names -d -m - "$path" | grep -qx "user.aidata.contributor=\"$org\"" ||
					fail "user.aidata.contributor of $path is not listed"
			else
				getfattr --absolute-names -n user.aidata.contributor "$path" >/dev/null 2>&1 &&
					fail "$path (no contributor) answers user.aidata.contributor"
				getfattr --absolute-names -d -m - "$path" | grep -q contributor &&
					fail "$path (no contributor) lists user.aidata.contributor"
			fi
		done
	done < <(cd "$SRC/$d" && find . -type f -printf '%P\0')
	# the view holds the dataset's tree (names, types, file sizes)
	if [ -n "$org" ]; then
		same_text "by-contributor/$org/$d" \
			<(cd "$SRC/$d" && find . -mindepth 1 -printf '%P %y\n' | sort) \
			<(cd "$M/by-contributor/$org/$d" && find . -mindepth 1 -printf '%P %y\n' | sort)
		same_text "file sizes in by-contributor/$org/$d" \
			<(cd "$SRC/$d" && find . -type f -printf '%P %s\n' | sort) \
			<(cd "$M/by-contributor/$org/$d" && find . -type f -printf '%P %s\n' | sort)
	fi
done
# and a user reads a granted dataset through it, byte for byte
as "${USER_OF[gamma]}" cat "$M/by-contributor/beta/b-news/mirror/r1.bin" >"$T/out/via-view" ||
	fail "gamma's user cannot read b-news through by-contributor/"
cmp -s "$T/out/via-view" "$SRC/b-news/mirror/r1.bin" || fail "by-contributor/beta/b-news/mirror/r1.bin differs"
as "${USER_OF[gamma]}" cat "$M/by-contributor/acme/e-acme2/r6.bin" >/dev/null 2>"$T/out/via-view.err" &&
	fail "gamma's user read e-acme2 (excluded) through by-contributor/"
grep -q 'Permission denied' "$T/out/via-view.err" || fail "e-acme2 through the view: not EACCES"

step "a revoked policy token stops working; the ledger no longer counts it"
REV0=$(cat "$M/.aidata/revision")
run_ok "$AIDATA" revoke "$REPO" --key "$KEY" "pool-beta-$$"
rev_moved() { [ "$(cat "$M/.aidata/revision")" -gt "$REV0" ]; }
wait_for 120 rev_moved || fail "the mount did not see revision > $REV0 in 120 s"
as "${USER_OF[beta]}" "$UPY" -S "$T/pool_check.py" probe "$M" b-news d-gamma c-open \
	>"$T/out/probe-revoked" 2>&1
printf '%s\n' "b-news EACCES" "d-gamma EACCES" "c-open ok" >"$T/out/probe-revoked.want"
same_text "beta's user after the revocation" "$T/out/probe-revoked.want" "$T/out/probe-revoked"
probe_all acme
run_ok "$AIDATA" ledger "$REPO" --pubkey "$PUB" --json
py - "$LAST_OUT" <<'EOF' || fail "the ledger still counts the revoked credential"
import json, sys
org = {o["name"]: o for o in json.load(open(sys.argv[1]))["organisations"]}
assert org["beta"]["issued"] == [], org["beta"]["issued"]
assert len(org["acme"]["issued"]) == 1
EOF
mount_stop "$M"
grep -Eq ' error: ' "$LOG" && { show "$LOG" "aidatafs log"; fail "aidatafs logged errors"; }

step "a repository without contributors (as every one before them)"
mkdir -p "$T/old/src/plain"
printf 'plain text\n' >"$T/old/src/plain/a.txt"
mk_dataset_json "$T/old/datasets.json" plain:law:text:open
pack_into "$T/old/src" "$T/old/datasets.json" "$KEY" "$T/old/repo"
py -c 'import sys
sys.path.insert(0, sys.argv[1])
from mount_tree import catalog_dump
from pool_check import root_digest
dbs = catalog_dump(sys.argv[2], root_digest(sys.argv[2]))
if "contributors" in dbs or "datasets" not in dbs:
    sys.exit("root catalog tables: %s" % sorted(dbs))' "$T" "$T/old/repo" ||
	fail "a root catalog without contributors has a contributors table"
run_ok "$AIDATA" ledger "$T/old/repo" --pubkey "$PUB" --issued /dev/null
grep -q "^ledger of '$T/old/repo', revision 1: 1 dataset, 0 organisations;" "$LAST_OUT" ||
	{ show "$LAST_OUT" ledger; fail "the ledger of a repository without contributors"; }
mount_start "file://$T/old/repo" "$T/mnt-old" "$T/fs-old.log" "pubkey=$PUB,cache=$T/cache-old"
[ -z "$(ls -A "$T/mnt-old/by-contributor")" ] || fail "by-contributor/ of an old repository is not empty"
getfattr --absolute-names -n user.aidata.contributor "$T/mnt-old/datasets/plain/a.txt" >/dev/null 2>&1 &&
	fail "a dataset of an old repository answers user.aidata.contributor"
[ "$(cat "$T/mnt-old/datasets/plain/a.txt")" = "plain text" ] || fail "cannot read the old repository"
mount_stop "$T/mnt-old"

# ------------------------------------------------------------ refusals --
# refused WHAT PATTERN CMD...: fails with stderr matching PATTERN, prints
# no token, and leaves the repository and the record as they were.
tree_digest "$REPO" >"$T/repo.before"
cp "$RECORD" "$T/record.before"
refused() {
	local what=$1 pattern=$2
	shift 2
	expect_fail_with "$pattern" "$@"
	[ ! -s "$LAST_OUT" ] || { show "$LAST_OUT" stdout; fail "$what: something on stdout"; }
	tree_digest "$REPO" >"$T/repo.after"
	same_text "$what: the repository" "$T/repo.before" "$T/repo.after"
	cmp -s "$RECORD" "$T/record.before" || fail "$what: the record of issued credentials changed"
	note "refused: $what"
}
issue() { # ORG POLICY [more]: a policy token for ORG
	local org=$1 policy=$2
	shift 2
	"$AIDATA" token issue --key "$KEY" --sub someone --org "$org" \
		--policy "$policy" --repo "$REPO" --ttl 1h "$@"
}

step "bad input: clear errors, nothing changed"
py -c 'import json, sys
d = json.load(open(sys.argv[1]))
for e in d["datasets"]:
    if e["name"] == "b-news":
        del e["contributor"]
json.dump(d, open(sys.argv[2], "w"))' "$JSON" "$T/nocontrib.json"
refused "a shared dataset without a contributor" \
	"dataset 'b-news': a shared dataset needs a \"contributor\"" \
	"$AIDATA" pack "$SRC" --datasets "$T/nocontrib.json" --key "$KEY" \
	--out "$REPO" --chunk-size 64K --quiet
refused "an organisation that contributed nothing" \
	"organisation 'zeta' has contributed nothing: no dataset of the repository names it as its contributor" \
	issue zeta "$POLICY"
stderr_has "no credential issued"
refused "an organisation granted no shared dataset" \
	"policy '$POLICY' grants 'delta' no shared dataset: no credential issued" \
	issue delta "$POLICY"
stderr_has "aidata token: not granted 'd-gamma': not earned: costs more than is left \(costs 50000 bytes, 20000 left\)"
bad_policy() { # WHAT JSON PATTERN
	printf '%s\n' "$2" >"$T/keys/bad.json"
	refused "policy: $1" "policy '$T/keys/bad.json': $3" issue acme "$T/keys/bad.json"
	refused "ledger --policy: $1" "policy '$T/keys/bad.json': $3" \
		"$AIDATA" ledger "$REPO" --pubkey "$PUB" --policy "$T/keys/bad.json"
}
bad_policy "not JSON" '{"ratio": 1,' 'line [0-9]+'
bad_policy "an unknown key" '{"ratio": 1, "bonus": 3}' "top level: unknown key 'bonus'"
bad_policy "a negative ratio" '{"ratio": -0.5}' 'ratio: expected a number >= 0'
bad_policy "no ratio" '{"grants": {}}' 'ratio: missing'
bad_policy "an unknown organisation" '{"ratio": 1, "grants": {"zeta": ["a-law"]}}' \
	"grants: unknown organisation 'zeta'"
bad_policy "an unknown dataset" '{"ratio": 1, "exclusions": {"z-none": ["beta"]}}' \
	"exclusions: unknown dataset 'z-none'"
bad_policy "a secure dataset" '{"ratio": 1, "order": ["g-vault"]}' \
	"order\[0\]: dataset 'g-vault' is secure: only shared datasets are exchanged"
bad_policy "a wrong type" '{"ratio": 1, "min_contribution": true}' \
	'min_contribution: expected a byte count'
refused "--policy with --datasets" "--policy and --datasets: give one" \
	issue acme "$POLICY" --datasets a-law
refused "--policy without --repo" "--policy needs --repo REPO" \
	"$AIDATA" token issue --key "$KEY" --sub s --org acme --policy "$POLICY" --ttl 1h
refused "--policy with the secure scope" "secure datasets are not part of the exchange" \
	issue acme "$POLICY" --scope shared,secure
refused "a policy that does not exist" "policy '$T/keys/none.json'" \
	issue acme "$T/keys/none.json"
echo "test_pool: ok"

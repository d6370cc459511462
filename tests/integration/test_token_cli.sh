#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# aidata token: issue prints a credential that show verifies and decodes;
# show refuses, with the reason, a token whose payload or signature was
# changed, alg "none", HS256 keyed with the public key, a missing
# signature, another platform's signature and an expired token. No
# message ever contains the token or a part of it.
set -euo pipefail
# shellcheck source=lib.sh
. "$SRCDIR/tests/integration/lib.sh"

test_tmpdir
command -v python3 >/dev/null || fail "python3 is needed to forge tokens"

run_ok "$AIDATA" keygen --out "$T/keys"
run_ok "$AIDATA" keygen --out "$T/other"
KEY=$T/keys/platform.key
PUB=$T/keys/platform.pub

# no_leak TOKEN: the last command's stdout and stderr hold neither the
# token nor any of its parts (those of 16 characters or more: a shorter
# one could match a word of a message by chance).
no_leak() {
	local part
	for part in "$1" ${1//./ }; do
		[ "${#part}" -ge 16 ] || continue
		if grep -qF -- "$part" "$LAST_ERR" "$LAST_OUT"; then
			show "$LAST_ERR" stderr
			fail "a token (or part of one) was printed"
		fi
	done
}

# rejected REASON TOKEN [show options...]: show exits 1 with that reason.
rejected() {
	local reason=$1 tok=$2
	shift 2
	printf '%s\n' "$tok" >"$T/tok.in"
	expect_fail_with "^aidata token: rejected: $reason\$" \
		"$AIDATA" token show --pubkey "$PUB" "$@" <"$T/tok.in"
	[ ! -s "$LAST_OUT" ] || { show "$LAST_OUT" stdout; fail "output on rejection"; }
	no_leak "$tok"
}

# forge MODE TOKEN: a token made from TOKEN's payload by python3.
#   none-empty  {"alg":"none"}, empty signature
#   none-fake   {"alg":"none"}, TOKEN's signature pasted on
#   hs256-pem   HS256, HMAC keyed with the public key's PEM text
#   hs256-raw   HS256, HMAC keyed with the 32 raw public key bytes
#   flip-N      TOKEN with one character of segment N (0..2) changed
#   nosig       TOKEN without its signature (two dots kept)
#   two         header.payload only
forge() {
	python3 - "$1" "$2" "$PUB" <<'EOF'
import base64, hashlib, hmac, json, sys
mode, tok, pub = sys.argv[1], sys.argv[2], sys.argv[3]
h, p, s = tok.split(".")
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
hdr = lambda d: b64(json.dumps(d, separators=(",", ":")).encode())
if mode.startswith("none"):
    h2 = hdr({"alg": "none", "typ": "JWT"})
    print(f"{h2}.{p}." + (s if mode == "none-fake" else ""))
elif mode.startswith("hs256"):
    pem = open(pub, "rb").read()
    if mode == "hs256-pem":
        secret = pem
    else:
        body = b"".join(l for l in pem.splitlines() if not l.startswith(b"-"))
        secret = base64.b64decode(body)[-32:]
    h2 = hdr({"alg": "HS256", "typ": "JWT"})
    mac = hmac.new(secret, f"{h2}.{p}".encode(), hashlib.sha256).digest()
    print(f"{h2}.{p}.{b64(mac)}")
elif mode.startswith("flip-"):
    parts = [h, p, s]
    seg = parts[int(mode[5:])]
    i = len(seg) // 2
    parts[int(mode[5:])] = seg[:i] + ("B" if seg[i] == "A" else "A") + seg[i + 1:]
    print(".".join(parts))
elif mode == "nosig":
    print(f"{h}.{p}.")
elif mode == "two":
    print(f"{h}.{p}")
else:
    sys.exit(f"forge: unknown mode {mode}")
EOF
}

note "issue and show"
run_ok "$AIDATA" token issue --key "$KEY" --sub alice --org acme \
	--scope shared,secure --datasets med-images,legal-text --ttl 30d \
	--node 0123456789abcdef --jti cred-0001
[ ! -s "$LAST_ERR" ] || { show "$LAST_ERR" stderr; fail "issue wrote to stderr"; }
TOK=$(cat "$LAST_OUT")
[ "$(wc -l <"$LAST_OUT")" -eq 1 ] || fail "issue printed more than one line"
[[ $TOK =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$ ]] ||
	fail "issue did not print a compact JWS"
printf '%s\n' "$TOK" >"$T/tok.in"
run_ok "$AIDATA" token show --pubkey "$PUB" <"$T/tok.in"
[ ! -s "$LAST_ERR" ] || { show "$LAST_ERR" stderr; fail "show wrote to stderr"; }
no_leak "$TOK"
python3 - "$LAST_OUT" <<'EOF' || { show "$LAST_OUT" stdout; fail "wrong claims"; }
import json, sys, time
c = json.load(open(sys.argv[1]))
assert c["sub"] == "alice" and c["org"] == "acme", c
assert c["jti"] == "cred-0001", c
assert c["scope"] == ["shared", "secure"], c
assert c["datasets"] == ["med-images", "legal-text"], c
assert c["node"] == "0123456789abcdef", c
assert c["exp"] - c["iat"] == 30 * 86400, c
assert abs(c["iat"] - time.time()) < 600, c
EOF

note "open-only credential, default jti, token without a newline"
run_ok "$AIDATA" token issue --key "$KEY" --sub bob --org "" --scope open \
	--datasets "" --ttl 90m
OPEN=$(cat "$LAST_OUT")
printf '%s' "$OPEN" >"$T/tok.in"
run_ok "$AIDATA" token show --pubkey "$PUB" <"$T/tok.in"
python3 - "$LAST_OUT" <<'EOF' || { show "$LAST_OUT" stdout; fail "wrong claims"; }
import json, re, sys
c = json.load(open(sys.argv[1]))
assert c["scope"] == [] and c["datasets"] == [] and "node" not in c, c
assert re.fullmatch(r"[0-9a-f]{32}", c["jti"]), c
assert c["exp"] - c["iat"] == 90 * 60, c
EOF
run_ok "$AIDATA" token issue --key "$KEY" --sub bob --org o --scope "" \
	--datasets "" --ttl 60
[ "$(cat "$LAST_OUT")" != "$OPEN" ] || fail "two tokens are the same"

note "changed, forged and foreign tokens"
rejected "bad signature" "$(forge flip-1 "$TOK")"
rejected "bad signature" "$(forge flip-2 "$TOK")"
# the header is read before the signature is checked: here it stops
# being JSON ({"alg":"EdDSA ,"typ":"JWT"})
rejected "malformed" "$(forge flip-0 "$TOK")"
rejected "algorithm not EdDSA" "$(forge none-empty "$TOK")"
rejected "algorithm not EdDSA" "$(forge none-fake "$TOK")"
rejected "algorithm not EdDSA" "$(forge hs256-pem "$TOK")"
rejected "algorithm not EdDSA" "$(forge hs256-raw "$TOK")"
rejected "bad signature" "$(forge nosig "$TOK")"
rejected "malformed" "$(forge two "$TOK")"
rejected "malformed" "$TOK.$TOK"
rejected "malformed" "${TOK}=="
rejected "malformed" "not a token"
rejected "malformed" ""
run_ok "$AIDATA" token issue --key "$T/other/platform.key" --sub alice \
	--org acme --scope shared --datasets med-images --ttl 30d
OTHER=$(cat "$LAST_OUT")
rejected "bad signature" "$OTHER"
# what is refused for one platform verifies for its own
printf '%s\n' "$OTHER" >"$T/tok.in"
run_ok "$AIDATA" token show --pubkey "$T/other/platform.pub" <"$T/tok.in"
# more than AUTH_TOKEN_MAX (16384) bytes
head -c 20000 /dev/zero | tr '\0' 'A' >"$T/big.in"
expect_fail_with '^aidata token: rejected: malformed$' \
	"$AIDATA" token show --pubkey "$PUB" <"$T/big.in"

note "expiry"
run_ok "$AIDATA" token issue --key "$KEY" --sub carol --org acme \
	--scope shared --datasets med-images --ttl 1s --now 1700000000
SHORT=$(cat "$LAST_OUT")
printf '%s\n' "$SHORT" >"$T/tok.in"
run_ok "$AIDATA" token show --pubkey "$PUB" --now 1700000000 <"$T/tok.in"
rejected "expired" "$SHORT" --now 1700000001
rejected "expired" "$SHORT" --now 1800000000
rejected "expired" "$SHORT" # at the real time
run_ok "$AIDATA" token issue --key "$KEY" --sub carol --org acme \
	--scope shared --datasets med-images --ttl 2h --now 1000
rejected "expired" "$(cat "$LAST_OUT")"
# a forged token is refused for its signature, expired or not
rejected "bad signature" "$(forge flip-1 "$SHORT")" --now 1800000000

note "usage"
expect_fail_with '^aidata token: invalid --scope' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope admin --datasets x --ttl 1d
rc=0
"$AIDATA" token issue --key "$KEY" --sub a --org o --scope admin \
	--datasets x --ttl 1d >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a bad --scope exits $rc, not 2 (usage)"
expect_fail_with '^aidata token: invalid --ttl' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope shared --datasets x --ttl 5w
expect_fail_with '^aidata token: invalid --node' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope secure --datasets x --ttl 1d \
	--node 0123456789ABCDEF
expect_fail_with '^aidata token: invalid --jti' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope secure --datasets x --ttl 1d \
	--jti 'a b'
expect_fail_with '^aidata token: invalid --datasets' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope secure --datasets x,,y --ttl 1d
expect_fail_with '^usage: aidata token issue' "$AIDATA" token issue \
	--key "$KEY" --sub a --org o --scope secure --ttl 1d
expect_fail_with "^aidata token: cannot load private key '$PUB'" \
	"$AIDATA" token issue --key "$PUB" --sub a --org o --scope shared \
	--datasets x --ttl 1d
printf '%s\n' "$TOK" >"$T/tok.in"
expect_fail_with "^aidata token: cannot load public key '$T/nope'" \
	"$AIDATA" token show --pubkey "$T/nope" <"$T/tok.in"
no_leak "$TOK"
expect_fail_with '^usage: aidata token show' "$AIDATA" token show <"$T/tok.in"
no_leak "$TOK"
expect_fail_with "unknown subcommand 'frobnicate'" "$AIDATA" token frobnicate
expect_fail_with '^usage: aidata token issue' "$AIDATA" token
run_ok "$AIDATA" token --help
run_ok "$AIDATA" token issue --help
run_ok "$AIDATA" token show --help
note "ok"

#!/bin/bash
# A real caching proxy (nginx, proxy_cache + slice, as a forward proxy)
# between mounts and a real Ceph RGW bucket: a second node's reads cost
# the origin nothing; -o proxy= fails over past dead proxies ('|' and
# ';' lists); http_proxy and no_proxy are honoured without proxy=; and
# the manifest is never served stale by the proxy, so a new revision is
# seen through it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount_lib.sh"
. "$here/rgw.sh"
s3_test_init

SECRET=alice-secret-proxy-77

step "repository and rgw"
mkdir -p "$T/src/ds"
head -c $((8 << 20)) /dev/urandom >"$T/src/ds/big.bin"
seq 1 1000 >"$T/src/ds/small.txt"
mk_dataset_json "$T/datasets.json" ds:science:text:open
run_ok "$AIDATA" keygen --out "$T/keys"
KEY=$T/keys/platform.key PUB=$T/keys/platform.pub
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo" --chunk-size 256K
rgw_start || fail "radosgw does not start"
rgw_user alice AKALICE "$SECRET"
rgw_s3 AKALICE "$SECRET" PUT /pub >/dev/null
rgw_public_bucket AKALICE "$SECRET" pub
push() {
	run_ok env AWS_ACCESS_KEY_ID=AKALICE AWS_SECRET_ACCESS_KEY="$SECRET" \
		AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$T/repo" s3://pub/plat \
		--pubkey "$PUB"
}
push

# body bytes radosgw sent for data/ objects after line $1 of its log
data_bytes_since() {
	tail -n +"$(($1 + 1))" "$RGW_LOG" | awk '/beast: .*"GET \/pub\/plat\/data\// {
		for (i = 1; i < NF; i++)
			if ($i ~ /^HTTP\/1\.[01]"$/) { s += $(i + 2); break }
	} END { printf "%.0f\n", s }'
}
log_lines() { wc -l <"$RGW_LOG"; }

step "nginx: a forward caching proxy (slice 1m, cache lock)"
mkdir -p "$T/www" "$T/pcache"
NGINX_HTTP_CONF="proxy_cache_path $T/pcache levels=1:2 keys_zone=c:10m max_size=1g inactive=1h use_temp_path=off;"
export NGINX_HTTP_CONF
nginx_start "$T/www" "location / {
	proxy_pass http://\$http_host;
	proxy_http_version 1.1;
	proxy_set_header Connection \"\";
	proxy_cache c;
	slice 1m;
	proxy_cache_key \$http_host\$uri\$slice_range;
	proxy_set_header Range \$slice_range;
	proxy_cache_valid 200 206 1h;
	proxy_cache_lock on;
	# what a client marks as not to be served from a copy (the manifest)
	proxy_cache_bypass \$http_pragma \$http_cache_control;
}"
PROXY=http://127.0.0.1:$NGINX_PORT

step "node 1 reads through the proxy"
mount_start s3://pub/plat "$T/m1" "$T/fs1.log" \
	"pubkey=$PUB,cache=$T/c1,endpoint=$RGW_URL,proxy=$PROXY"
cmp "$T/src/ds/big.bin" "$T/m1/datasets/ds/big.bin" || fail "node 1 reads wrong bytes"
grep -q "GET /pub/plat/data/" "$NGINX_ACCESS_LOG" ||
	fail "node 1's reads did not go through the proxy"
grep -q "GET /pub/plat/manifest" "$NGINX_ACCESS_LOG" ||
	fail "node 1's manifest did not go through the proxy"

step "node 2 reads the same file: the proxy serves it, the origin does not"
mark=$(log_lines)
mount_start s3://pub/plat "$T/m2" "$T/fs2.log" \
	"pubkey=$PUB,cache=$T/c2,endpoint=$RGW_URL,proxy=$PROXY"
cmp "$T/src/ds/big.bin" "$T/m2/datasets/ds/big.bin" || fail "node 2 reads wrong bytes"
served=$(data_bytes_since "$mark")
[ "$served" -eq 0 ] || fail "the origin served $served bytes of data/ to node 2"
mount_stop "$T/m2"

step "failover: a dead group, then a dead member, then the proxy"
mount_start s3://pub/plat "$T/m3" "$T/fs3.log" \
	"pubkey=$PUB,cache=$T/c3,endpoint=$RGW_URL,retries=4" \
	"proxy=http://127.0.0.1:1|127.0.0.1:2;http://127.0.0.1:3;$PROXY"
cmp "$T/src/ds/small.txt" "$T/m3/datasets/ds/small.txt" || fail "failover reads wrong bytes"
grep -q "now using '$PROXY'" "$T/fs3.log" || {
	show "$T/fs3.log" log
	fail "no failover to the working proxy in the log"
}
mount_stop "$T/m3"

step "http_proxy without proxy=, and no_proxy"
mark_ng=$(wc -l <"$NGINX_ACCESS_LOG")
export http_proxy=$PROXY
mount_start s3://pub/plat "$T/m4" "$T/fs4.log" \
	"pubkey=$PUB,cache=$T/c4,endpoint=$RGW_URL"
cmp "$T/src/ds/small.txt" "$T/m4/datasets/ds/small.txt" || fail "m4 reads wrong bytes"
mount_stop "$T/m4"
[ "$(tail -n +"$((mark_ng + 1))" "$NGINX_ACCESS_LOG" | grep -c 'GET /pub/plat/manifest')" -ge 1 ] ||
	fail "http_proxy was not used"
mark_ng=$(wc -l <"$NGINX_ACCESS_LOG")
export no_proxy=127.0.0.1
mount_start s3://pub/plat "$T/m5" "$T/fs5.log" \
	"pubkey=$PUB,cache=$T/c5,endpoint=$RGW_URL"
cmp "$T/src/ds/small.txt" "$T/m5/datasets/ds/small.txt" || fail "m5 reads wrong bytes"
mount_stop "$T/m5"
[ "$(tail -n +"$((mark_ng + 1))" "$NGINX_ACCESS_LOG" | grep -c 'GET /pub/plat/')" -eq 0 ] ||
	fail "no_proxy was not honoured"
unset http_proxy no_proxy

step "a new revision is seen through the proxy (no stale manifest)"
seq 1 2000 >"$T/src/ds/new.txt"
pack_into "$T/src" "$T/datasets.json" "$KEY" "$T/repo" --chunk-size 256K
push
mount_start s3://pub/plat "$T/m6" "$T/fs6.log" \
	"pubkey=$PUB,cache=$T/c6,endpoint=$RGW_URL,proxy=$PROXY"
[ "$(cat "$T/m6/.aidata/revision")" = 2 ] ||
	fail "the proxy served a stale manifest: revision $(cat "$T/m6/.aidata/revision")"
cmp "$T/src/ds/new.txt" "$T/m6/datasets/ds/new.txt" || fail "revision 2 reads wrong"
mount_stop "$T/m6"

step "bad proxy lists"
mount_expect_fail "proxy 'ftp://x:1' is not http" s3://pub/plat "$T/m7" \
	"$T/fs7.log" "pubkey=$PUB,cache=$T/c7,endpoint=$RGW_URL,proxy=ftp://x:1"
mount_expect_fail "empty or malformed entry" s3://pub/plat "$T/m7" \
	"$T/fs8.log" "pubkey=$PUB,cache=$T/c7,endpoint=$RGW_URL,proxy=$PROXY||x"
mount_stop "$T/m1"
echo ok

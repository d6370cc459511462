#!/bin/bash
# Every object has a known size and nothing beyond it is read (#8 §3),
# over nginx: a dataset catalog answered with a 64 MiB body although its
# record says a few hundred bytes is refused at the headers; one answered
# with an endless body (no Content-Length) is cut off just past its size;
# neither leaves anything in CACHE/tmp, and the log names the catalog,
# what was expected and what came. A root catalog of the wrong size
# refuses the mount. A repository with a format-1 manifest (no root
# catalog size) still mounts and reads, its root catalog held to 64 MiB. A server that ignores Range: the
# bytes read are right and aidatafs_bytes_fetched_total counts what came
# over the wire (the bytes before each chunk too).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
py "$PYHELP/mount_tree.py" repomap "$PLAT_REPO" >"$T/repomap"
read -r DZ CATZ _ < <(sed -n 1p "$T/repomap")
read -r DW CATW _ < <(sed -n 2p "$T/repomap")
read -r DX _ < <(sed -n 3p "$T/repomap")
SIZEZ=$(stat -c %s "$PLAT_REPO/catalog/$CATZ")
SIZEW=$(stat -c %s "$PLAT_REPO/catalog/$CATW")
ROOT=$(manifest_root "$PLAT_REPO")
step "Z=$DZ (catalog $SIZEZ bytes, served as 64 MiB), W=$DW (catalog $SIZEW bytes, served endless), X=$DX"

# The endless body: a server that answers with bytes for ever, without a
# Content-Length; nginx passes it through (chunked).
"$PY" -S - "$T/endless.port" "$T/endless.log" >"$T/endless.out" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
s.settimeout(0.5)
end = time.monotonic() + 240  # bounded, whatever happens
sent = 0
while time.monotonic() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(5)
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        while time.monotonic() < end:
            c.sendall(b"e" * 65536)
            sent += 65536
    except OSError:
        pass
    log.write("request sent=%d\n" % sent)
    sent = 0
    c.close()
PYEOF
endless=$!
wait_for 10 test -s "$T/endless.port" || fail "the endless server did not start"
EPORT=$(cat "$T/endless.port")
truncate -s 64M "$T/filler"

nginx_start "$PLAT_REPO" "
		location = /catalog/$CATZ { alias $T/filler; }
		location = /catalog/$CATW {
			proxy_pass http://127.0.0.1:$EPORT;
			proxy_buffering off;
		}"
CACHE=$T/cache
mount_start "$NGINX_URL/" "$T/mnt" "$T/fs.log" \
	"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$CACHE,timeout=5,retries=1"
M=$T/mnt/datasets
before=$(stat_value "$T/mnt" aidatafs_bytes_fetched_total)

step "Z's catalog: 64 MiB where its record says $SIZEZ bytes"
mark=$(nginx_log_mark)
out=$(timeout -s KILL 60 ls "$M/$DZ" 2>&1) && fail "ls of $DZ succeeded: $out"
[[ $out == *"Input/output error"* ]] || fail "ls of $DZ: $out (want Input/output error)"
grep -q "catalog/$CATZ' failed: 67108864 bytes (Content-Length), expected $SIZEZ" "$T/fs.log" ||
	{ show "$T/fs.log" "aidatafs log"; fail "no log line names catalog $CATZ, its size and the 64 MiB"; }
# one request: refused at once (not retried), and the lookups of the
# same ls that follow fail from memory (#8 §2)
nginx_log_wait "$mark" 1 5 || true
sleep 0.3
n=$(nginx_log_since "$mark" | grep -c " /catalog/$CATZ " || true)
[ "$n" = 1 ] || fail "$n requests for catalog $CATZ, want 1: $(nginx_log_since "$mark")"

step "W's catalog: an endless body where its record says $SIZEW bytes"
out=$(timeout -s KILL 60 ls "$M/$DW" 2>&1) && fail "ls of $DW succeeded: $out"
[[ $out == *"Input/output error"* ]] || fail "ls of $DW: $out (want Input/output error)"
grep -q "catalog/$CATW' failed: body runs past the $SIZEW bytes expected" "$T/fs.log" ||
	{ show "$T/fs.log" "aidatafs log"; fail "no log line says catalog $CATW ran past $SIZEW bytes"; }

fetched=$(($(stat_value "$T/mnt" aidatafs_bytes_fetched_total) - before))
step "received for both: $fetched bytes"
# what curl hands over in one piece, at most, per request (two each)
((fetched < 4 * (SIZEW + 256 * 1024))) ||
	fail "$fetched bytes received for two catalogs of $SIZEZ and $SIZEW bytes"
left=$(find "$CACHE/tmp" -type f | wc -l)
[ "$left" = 0 ] || fail "$left file(s) left in $CACHE/tmp"
mount_alive || fail "aidatafs died"
run_ok py "$PYHELP/mount_read.py" "$M/$DX" "$PLAT_SRC/$DX"
mount_stop "$T/mnt"
kill "$endless" 2>/dev/null || true
wait "$endless" 2>/dev/null || true

step "a root catalog other than the manifest's size refuses the mount"
nginx_reload "
		location = /catalog/$ROOT { alias $T/filler; }"
mount_expect_fail "cannot mount '[^']*': revision 1: root catalog '$ROOT': '[^']*/catalog/$ROOT': 67108864 bytes \\(Content-Length\\), expected $(stat -c %s "$PLAT_REPO/catalog/$ROOT")" \
	"$NGINX_URL/" "$T/mnt" "$T/root.log" "pubkey=$PLAT_PUB,cache=$T/cache-root"
step "refused: $(grep -m1 'cannot mount' "$T/root.log" || true)"

step "a format-1 manifest (no root catalog size, as before version 2) mounts and reads"
V1=$T/v1
cp -a "$PLAT_REPO" "$V1"
head -n -1 "$PLAT_REPO/manifest" |
	sed -e 's/^aidata-manifest 2$/aidata-manifest 1/' -e '/^root-catalog-size /d' >"$T/v1.body"
grep -q '^aidata-manifest 1$' "$T/v1.body" || fail "cannot make a format-1 manifest"
manifest_sign "$T/v1.body" "$PLAT_KEY" "$V1/manifest"
nginx_reload "
		location /v1/ { alias $V1/; }"
mount_start "$NGINX_URL/v1/" "$T/mnt" "$T/v1.log" \
	"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-v1"
run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4
mount_stop "$T/mnt"
# without a size, its root catalog is held to a cap (64 MiB, FORMAT.md)
truncate -s 65M "$T/filler65"
nginx_reload "
		location = /v1/catalog/$ROOT { alias $T/filler65; }
		location /v1/ { alias $V1/; }"
mount_expect_fail "cannot mount '[^']*': revision 1: root catalog '$ROOT': '[^']*/catalog/$ROOT': 68157440 bytes \\(Content-Length\\), over the cap of 67108864" \
	"$NGINX_URL/v1/" "$T/mnt" "$T/v1cap.log" "pubkey=$PLAT_PUB,cache=$T/cache-v1cap"
step "refused: $(grep -m1 'cannot mount' "$T/v1cap.log" || true)"

step "Range ignored: right bytes, and every byte received is counted"
# one dataset, two files of 256 KiB of random bytes, 64 KiB chunks: one
# shard of 8 raw chunks, b.bin's at 256..512 KiB
S=$T/small
mkdir -p "$S/src/d"
head -c 262144 /dev/urandom >"$S/src/d/a.bin"
head -c 262144 /dev/urandom >"$S/src/d/b.bin"
cat >"$S/datasets.json" <<'JSON'
{"datasets": [{"name": "d", "industry": "test", "modality": "binary",
  "tier": "open", "license": "none", "description": ""}]}
JSON
pack_into "$S/src" "$S/datasets.json" "$PLAT_KEY" "$S/repo" --chunk-size 64K
shards=$(find "$S/repo/data" -type f | wc -l)
[ "$shards" = 1 ] || fail "the small repository has $shards shards, want 1"
nginx_reload "
		location /norange/ { alias $S/repo/; max_ranges 0; }"
mark=$(nginx_log_mark)
mount_start "$NGINX_URL/norange/" "$T/mnt" "$T/norange.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache-norange"
run_ok py "$PYHELP/mount_tryread.py" "$T/mnt/datasets/d/b.bin" "$S/src/d/b.bin"
fetched=$(stat_value "$T/mnt" aidatafs_bytes_fetched_total)
mount_stop "$T/mnt"
nginx_log_wait "$mark" 1 5 || true
sleep 0.3
nginx_log_since "$mark" >"$T/norange.req"
grep -q ' 206 ' "$T/norange.req" && fail "Range was not ignored: $(cat "$T/norange.req")"
sent=$(awk '{ s += $7 } END { print s + 0 }' "$T/norange.req")
# b.bin's chunks k = 4..7 each need the shard's first (k+1) * 64 KiB
want=$(((5 + 6 + 7 + 8) * 65536))
step "fetched $fetched bytes (at least $want; nginx sent $sent)"
((fetched >= want)) || fail "aidatafs_bytes_fetched_total is $fetched: the bytes before each chunk are not counted (want >= $want)"
((fetched <= sent)) || fail "aidatafs_bytes_fetched_total is $fetched, more than the $sent bytes nginx sent"
nginx_stop
echo "test_mount_known_sizes: ok"

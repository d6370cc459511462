#!/bin/bash
# Corrupted and forged repositories, over file://: a flipped byte in a
# shard makes reads of the affected files fail with EIO and never return
# wrong bytes; the daemon logs the chunk, stays up, serves every other
# file, and serves the repaired shard without a remount. A wrong public
# key, a tampered manifest or a bad key file refuse to mount, clearly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

make_platform "$T/p"
py "$PYHELP/mount_tree.py" repomap "$PLAT_REPO" >"$T/repomap"

# flip_byte FILE OFFSET: invert the bits of one byte in place.
flip_byte() {
	py - "$1" "$2" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

# pick_shard open|shared|secure: the biggest shard used by exactly one
# dataset of that tier, as "DATASET SHARD".
pick_shard() {
	local tier=$1 d cat shards best='' size bestsize=0
	while read -r d cat shards; do
		[ "$(dataset_field "$PLAT_JSON" "$d" tier)" = "$tier" ] || continue
		for s in ${shards//,/ }; do
			# used by this dataset only
			[ "$(grep -c "$s" "$T/repomap")" -eq 1 ] || continue
			size=$(stat -c %s "$PLAT_REPO/data/${s:0:2}/$s")
			if [ "$size" -gt "$bestsize" ]; then
				best="$d $s"
				bestsize=$size
			fi
		done
	done <"$T/repomap"
	[ -n "$best" ] || fail "no shard of a $tier dataset used by it alone"
	echo "$best"
}

BAD=$T/bad
cp -a "$PLAT_REPO" "$BAD"
read -r DS SHARD < <(pick_shard shared)
read -r SDS SSHARD < <(pick_shard secure)
for s in "$SHARD" "$SSHARD"; do
	f=$BAD/data/${s:0:2}/$s
	flip_byte "$f" $(($(stat -c %s "$f") / 2))
done
step "flipped the middle byte of shard $SHARD ($DS, shared) and $SSHARD ($SDS, secure)"
# what aidata verify names: the corrupted chunks
"$AIDATA" verify "$BAD" --pubkey "$PLAT_PUB" >"$T/verify.out" 2>&1 &&
	fail "aidata verify accepts the corrupted repository"
grep -o "chunk '[0-9a-f]\{64\}' in shard '[^']*$SHARD'" "$T/verify.out" |
	cut -d"'" -f2 >"$T/bad.chunk"
[ "$(wc -l <"$T/bad.chunk")" -eq 1 ] ||
	{ show "$T/verify.out" "aidata verify"; fail "aidata verify does not name one bad chunk in $SHARD"; }
CHUNK=$(cat "$T/bad.chunk")
step "aidata verify names chunk $CHUNK"

mount_start "file://$BAD" "$T/mnt" "$T/fs.log" "pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache"
step "read every file: each one either fails with EIO or is right"
py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 \
	--expect no-mismatch --report "$T/read1" >"$T/read1.out" 2>&1 ||
	{ show "$T/read1.out" mount_read; fail "wrong bytes or an unexpected error from a corrupted repository"; }
cat "$T/read1.out"
mount_alive || { show "$T/fs.log" "aidatafs log"; fail "aidatafs died reading a corrupted shard"; }
grep '^eio ' "$T/read1" | cut -d' ' -f2 >"$T/failed"
[ -s "$T/failed" ] || fail "no read failed although two shards are corrupted"
cut -d/ -f1 "$T/failed" | sort -u >"$T/failed.ds"
printf '%s\n' "$DS" "$SDS" | sort >"$T/failed.ds.want"
same_text "datasets with failing files" "$T/failed.ds.want" "$T/failed.ds"
step "$(wc -l <"$T/failed") files failed, all in $DS or $SDS; every other file read right"

step "the log names the chunk"
grep -E "chunk '$CHUNK' from shard '[^']*$SHARD'.*(digest mismatch|corrupt frame)" "$T/fs.log" >/dev/null ||
	{ show "$T/fs.log" "aidatafs log"; fail "the log has no line naming chunk $CHUNK and the reason"; }
# (aidata verify cannot check encrypted chunks: no key; the log names it)
grep -E "chunk '[0-9a-f]{64}' (from shard '[^']*$SSHARD'|of dataset '$SDS').*(decrypt|verify|digest mismatch|corrupt frame)" \
	"$T/fs.log" >/dev/null ||
	{ show "$T/fs.log" "aidatafs log"; fail "the log has no line naming the bad chunk of the secure shard $SSHARD"; }
[ "$(stat_value "$T/mnt" aidatafs_errors_total '{kind="verify"}')" -gt 0 ] ||
	fail "aidatafs_errors_total{kind=\"verify\"} is 0"
[ ! -e "$T/cache/chunks/${CHUNK:0:2}/$CHUNK" ] || fail "the corrupted chunk was stored in the cache"

step "failing again, never cached wrong; repaired shard served without a remount"
first=$(grep "^$DS/" "$T/failed" | sed -n 1p)
sfirst=$(grep "^$SDS/" "$T/failed" | sed -n 1p)
out=$(py "$PYHELP/mount_tryread.py" "$T/mnt/datasets/$first" "$PLAT_SRC/$first") &&
	fail "$first reads although its chunk is corrupted"
[[ $out == "errno 5 EIO "* ]] || fail "rereading $first: $out (want EIO)"
cp "$PLAT_REPO/data/${SHARD:0:2}/$SHARD" "$BAD/data/${SHARD:0:2}/$SHARD"
cp "$PLAT_REPO/data/${SSHARD:0:2}/$SSHARD" "$BAD/data/${SSHARD:0:2}/$SSHARD"
run_ok py "$PYHELP/mount_tryread.py" "$T/mnt/datasets/$first" "$PLAT_SRC/$first"
# the secure file too: its corrupted ciphertext must not have been kept
repaired_secure() {
	local out
	out=$(py "$PYHELP/mount_tryread.py" "$T/mnt/datasets/$sfirst" "$PLAT_SRC/$sfirst") ||
		fail "secure $sfirst after repairing its shard: $out (want ok; was the bad ciphertext cached?)"
	run_ok py "$PYHELP/mount_read.py" "$T/mnt/datasets" "$PLAT_SRC" --jobs 4 --drop-cache
	cat "$LAST_OUT"
}
independent repaired_secure
mount_alive || fail "aidatafs died"
mount_stop "$T/mnt"

step "a wrong public key refuses to mount"
run_ok "$AIDATA" keygen --out "$T/other"
mount_expect_fail 'signature|does not verify' "file://$PLAT_REPO" "$T/mnt" "$T/wrongkey.log" \
	"pubkey=$T/other/platform.pub,cache=$T/cache-wrongkey"
grep -q 'cannot mount' "$T/wrongkey.log" || { show "$T/wrongkey.log" log; fail "no 'cannot mount' message"; }
step "wrong key: $(grep 'cannot mount' "$T/wrongkey.log")"

step "a manifest with one byte changed refuses to mount"
for what in ttl created revision signature; do
	TAM=$T/tampered-$what
	cp -a "$PLAT_REPO" "$TAM"
	# change one byte of that line
	py - "$TAM/manifest" "$what" <<'EOF'
import sys
path, what = sys.argv[1], sys.argv[2]
data = bytearray(open(path, "rb").read())
start = data.index(b"\n" + what.encode() + b" ") + 1
end = data.index(b"\n", start)
# a digit near the end of the value; in the signature a character in the
# middle (the last base64 characters may be padding bits)
i = (start + len(what) + 1 + end) // 2 if what == "signature" else end - 1
while not chr(data[i]).isalnum():
    i -= 1
c = chr(data[i])
data[i] = ord({"0": "1"}.get(c, "0" if c.isdigit() else ("B" if c == "A" else "A")))
open(path, "wb").write(data)
EOF
	cmp -s "$PLAT_REPO/manifest" "$TAM/manifest" && fail "the $what line was not changed"
	[ "$(cmp -l "$PLAT_REPO/manifest" "$TAM/manifest" | wc -l)" -eq 1 ] ||
		fail "more than one byte of the manifest changed"
	mount_expect_fail 'signature|does not verify' "file://$TAM" "$T/mnt" "$T/tampered-$what.log" \
		"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-tampered-$what"
	step "tampered $what line: $(grep 'cannot mount' "$T/tampered-$what.log" || true)"
done

step "a key file that is not a key, and a missing manifest"
echo "not a key" >"$T/bad.pub"
mount_expect_fail 'public key' "file://$PLAT_REPO" "$T/mnt" "$T/badkey.log" \
	"pubkey=$T/bad.pub,cache=$T/cache-badkey"
cp -a "$PLAT_REPO" "$T/nomanifest"
rm "$T/nomanifest/manifest"
mount_expect_fail 'manifest' "file://$T/nomanifest" "$T/mnt" "$T/nomanifest.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache-nomanifest"
independent_done
echo "test_mount_corrupt: ok"

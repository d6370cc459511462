#!/bin/bash
# The physical limits of this machine for the read and pack paths,
# measured with standard tools (dd, fio, zstd, openssl, curl + nginx),
# for docs/PERFORMANCE.md's "how close is each row to its limit". Prints
# figures; asserts nothing. Run it on an otherwise idle machine, as root
# (it drops the page cache).
#
#   tests/bench/limits.sh WORK [TEXT_FILE]
#
# WORK: a scratch directory on the disk the cache would use (1 GiB is
# written there). TEXT_FILE: compressible text to time zstd on (default:
# 256 MiB of generated JSON lines, like the bench's corpora).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || {
	echo "usage: $0 WORK [TEXT_FILE]" >&2
	exit 2
}
W=$1
mkdir -p "$W"
[ "$(id -u)" = 0 ] || {
	echo "limits.sh: run as root (drop_caches)" >&2
	exit 2
}
for t in dd fio zstd openssl curl nginx; do
	command -v "$t" >/dev/null || {
		echo "limits.sh: $t is not installed" >&2
		exit 2
	}
done
drop() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
# dd's last line, "N bytes ... copied, T s, R MB/s": the rate
rate() { tail -1 | awk '{ print $(NF-1), $NF }'; }

F=$W/limits-1g.bin
[ -f "$F" ] || head -c 1G /dev/urandom >"$F"
TXT=${2:-$W/limits-text.jsonl}
if [ ! -f "$TXT" ]; then
	python3 - "$TXT" <<'PY'
import json, random, sys
r = random.Random(7)
words = [w.strip() for w in "the a of to and in data model train token legal patient market student news record value field text image audio label score".split()]
with open(sys.argv[1], "w") as f:
    n = 0
    i = 0
    while n < 256 << 20:
        line = json.dumps({"id": i, "text": " ".join(r.choice(words) for _ in range(r.randint(20, 80))),
                           "score": round(r.random(), 4), "source": f"src-{r.randint(0, 999)}"}) + "\n"
        f.write(line)
        n += len(line)
        i += 1
PY
fi

echo "limits of $(hostname) at $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cpus"
drop
echo "disk sequential read, dd bs=1M iflag=direct: $(dd if="$F" of=/dev/null bs=1M iflag=direct 2>&1 | rate)"
drop
echo "disk sequential read, dd bs=1M after drop_caches: $(dd if="$F" of=/dev/null bs=1M 2>&1 | rate)"
echo "page-cache copy, dd bs=1M of the cached file: $(dd if="$F" of=/dev/null bs=1M 2>&1 | rate)"
echo "random 4 KiB read, fio O_DIRECT qd1 10 s: $(fio --name=r --filename="$F" --rw=randread --bs=4k \
	--direct=1 --iodepth=1 --runtime=10 --time_based --output-format=terse --terse-version=3 2>/dev/null |
	awk -F';' '{ printf "%d IOPS, p99 %.3f ms", $8, $31 / 1000 }')"
# writing new files: what the cache's store costs in the kernel
rm -f "$W/limits-w.bin"
drop
t=$( { /usr/bin/time -f '%e s, %S s system' dd if=/dev/zero of="$W/limits-w.bin" bs=4M count=128 \
	status=none; } 2>&1)
echo "write 512 MiB to a new file, buffered: $t"
rm -f "$W/limits-w.bin"
drop
t=$( { /usr/bin/time -f '%e s, %S s system' dd if=/dev/zero of="$W/limits-w.bin" bs=4M count=128 \
	oflag=direct status=none; } 2>&1)
echo "write 512 MiB to a new file, O_DIRECT: $t"
rm -f "$W/limits-w.bin"

cat "$TXT" >/dev/null
# zstd -b's last "(xRATIO), COMPRESS MB/s, DECOMPRESS MB/s"
z() {
	zstd -b"$1" -i3 "$TXT" 2>&1 | tr '\r' '\n' |
		grep -o '(x[0-9.]*), *[0-9.]* MB/s, *[0-9.]* MB/s' | tail -1
}
echo "zstd -b3, one core, $(du -m "$TXT" | cut -f1) MiB text: $(z 3)"
z 3 >"$W/z2" &
echo "zstd -b3, two at once: $(z 3); $(wait; cat "$W/z2")"
echo "SHA-256, one core (openssl speed, 16 KiB): $(openssl speed -seconds 3 -bytes 16384 -evp sha256 2>/dev/null |
	tail -1 | awk '{ printf "%.0f MB/s", $2 / 1000 }')"

# loopback HTTP: nginx serving the 1 GiB file from the page cache
. "$here/../integration/nginx.sh"
T=$W/limits-nginx
rm -rf "$T"
mkdir -p "$T/root"
ln -f "$F" "$T/root/f.bin" 2>/dev/null || cp "$F" "$T/root/f.bin"
nginx_start "$T/root" >/dev/null
trap nginx_stop EXIT
cat "$T/root/f.bin" >/dev/null
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{speed_download}\n' "$NGINX_URL/f.bin"
done | awk '{ v = v (NR > 1 ? ", " : "") sprintf("%.0f", $1 / 1e6) }
	END { print "loopback HTTP, curl of 1 GiB from nginx (page cache), MB/s: " v }'

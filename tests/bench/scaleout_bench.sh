#!/bin/bash
# Scale-out: N mounts (default 8) on this machine, each with its own
# cache, all reading the same 1 GiB dataset at once from a Ceph RGW
# bucket (tests/integration/rgw.sh: one node, memstore, tcp_nodelay=1):
#
#   1. through one caching proxy (nginx proxy_cache + slice 1m +
#      proxy_cache_lock, a forward proxy, -o proxy=), its cache empty;
#   2. the same without the proxy, straight from RGW;
#   3. cold sequential MB/s of one 256 MiB file by one fresh mount,
#      from RGW (s3://) and from nginx serving the same repository as
#      static files (http://).
#
# For 1 and 2 it prints the body bytes RGW sent (its access log: every
# GET of the bucket, manifest and catalogs included) against the dataset
# size, the wall time until the last mount has read everything and the
# aggregate throughput (N x dataset / wall time). MB is 10^6 bytes. The
# dataset is 4 incompressible files of 256 MiB (random bytes, so
# compression does not flatter anything), packed once into WORK/repo.
#
# usage: tests/bench/scaleout_bench.sh [WORK] [--mounts N]
#
# Needs root, /dev/fuse, nginx, ceph-mon, ceph-osd, radosgw. It does not
# drop the page cache (the machine is shared): every mount is new with
# an empty cache, so its reads are cold; RGW's memstore is RAM. Disk:
# about (N + 3) GiB under WORK. Figures also go to WORK/results.md.
set -euo pipefail
export LC_ALL=C

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
AIDATA=${AIDATA:-$BUILDDIR/tools/aidata}
AIDATAFS=${AIDATAFS:-$BUILDDIR/fs/aidatafs}
WORK=/var/tmp/aidata-scaleout-bench
MOUNTS=8
while (($#)); do
	case $1 in
	--mounts) MOUNTS=$2; shift 2 ;;
	-*) echo "usage: $0 [WORK] [--mounts N]" >&2; exit 2 ;;
	*) WORK=$1; shift ;;
	esac
done
. "$SRCDIR/tests/integration/nginx.sh"
. "$SRCDIR/tests/integration/rgw.sh"

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'scaleout_bench: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

declare -a MNTS=() PIDS=()
cleanup() {
	local m
	for m in "${MNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	nginx_stop
	rgw_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK"
SECRET=bench-secret-$$
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	http_proxy https_proxy no_proxy

# ------------------------------------------------------------ dataset --
if [ ! -f "$WORK/repo/manifest" ]; then
	say "dataset: 4 x 256 MiB of random bytes, packed once"
	rm -rf "$WORK/src" "$WORK/repo" "$WORK/keys"
	mkdir -p "$WORK/src/seq"
	for i in 1 2 3 4; do
		head -c $((256 << 20)) /dev/urandom >"$WORK/src/seq/part$i.bin"
	done
	printf '{"datasets":[{"name":"seq","industry":"science","modality":"text","tier":"open","license":"CC0-1.0","description":"scale-out bench"}]}\n' \
		>"$WORK/datasets.json"
	"$AIDATA" keygen --out "$WORK/keys" >/dev/null
	"$AIDATA" pack "$WORK/src" --datasets "$WORK/datasets.json" \
		--key "$WORK/keys/platform.key" --out "$WORK/repo" --quiet
fi
PUB=$WORK/keys/platform.pub
DATASET=$(du -sb "$WORK/src/seq" | cut -f1)
FILES=("$WORK"/src/seq/*.bin)

# -------------------------------------------------------------- engines --
say "rgw (memstore) and the push"
rgw_start $((3 << 30)) || die "radosgw does not start"
rgw_user bench AKBENCH "$SECRET"
rgw_s3 AKBENCH "$SECRET" PUT /data >/dev/null
rgw_public_bucket AKBENCH "$SECRET" data
env AWS_ACCESS_KEY_ID=AKBENCH AWS_SECRET_ACCESS_KEY="$SECRET" \
	AWS_ENDPOINT_URL="$RGW_URL" "$AIDATA" push "$WORK/repo" s3://data/plat \
	--pubkey "$PUB" >/dev/null

# body bytes radosgw sent for GETs of the bucket after line $1
rgw_sent_since() {
	tail -n +"$(($1 + 1))" "$RGW_LOG" | awk '/beast: .*"GET \/data\// {
		for (i = 1; i < NF; i++)
			if ($i ~ /^HTTP\/1\.[01]"$/) { s += $(i + 2); break }
	} END { printf "%.0f\n", s }'
}

mount_one() { # ORIGIN MNT CACHE [opts]
	local origin=$1 mnt=$2 cache=$3 opts=${4:-} n
	mkdir -p "$mnt"
	rm -rf "$cache"
	"$AIDATAFS" "$origin" "$mnt" -f -o "pubkey=$PUB,cache=$cache,cache_size=2G" \
		-o "audit_log=$WORK/run/audit.log,state=$WORK/run/state$opts" \
		>"$mnt.log" 2>&1 &
	PIDS+=($!)
	MNTS+=("$mnt")
	for ((n = 600; n > 0; n--)); do
		[ -e "$mnt/.aidata/revision" ] && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$mnt.log" >&2; die "mount $mnt failed"; }
		sleep 0.1
	done
	die "mount $mnt not ready"
}

unmount_all() {
	local m
	for m in "${MNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || umount "$m"
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	MNTS=()
	PIDS=()
}

# N mounts read the whole dataset at once; sets F_SECS and F_SENT
fanout() { # LABEL OPTS
	local label=$1 opts=$2 i mark t0 t1 failed=0
	local -a readers=()
	rm -rf "$WORK/run"
	mkdir -p "$WORK/run"
	for ((i = 1; i <= MOUNTS; i++)); do
		mount_one s3://data/plat "$WORK/run/m$i" "$WORK/run/c$i" \
			",endpoint=$RGW_URL$opts"
	done
	mark=$(wc -l <"$RGW_LOG")
	t0=$(now)
	for ((i = 1; i <= MOUNTS; i++)); do
		(
			for f in "${FILES[@]}"; do
				b=$(basename "$f")
				got=$(cat "$WORK/run/m$i/datasets/seq/$b" | wc -c)
				[ "$got" = "$(stat -c %s "$f")" ] ||
					{ echo "m$i $b: $got bytes" >&2; exit 1; }
			done
		) &
		readers+=($!)
	done
	for p in "${readers[@]}"; do
		wait "$p" || failed=1
	done
	t1=$(now)
	[ "$failed" = 0 ] || die "$label: a read failed"
	F_SENT=$(rgw_sent_since "$mark")
	F_SECS=$(echo "$t1 - $t0" | bc -l)
	unmount_all
}

say "1. $MOUNTS mounts through one caching proxy"
mkdir -p "$WORK/www"
rm -rf "$WORK/pcache"
mkdir -p "$WORK/pcache"
export NGINX_HTTP_CONF="proxy_cache_path $WORK/pcache levels=1:2 keys_zone=c:50m max_size=4g inactive=1h use_temp_path=off;"
nginx_start "$WORK/www" "location / {
	proxy_pass http://\$http_host;
	proxy_http_version 1.1;
	proxy_set_header Connection \"\";
	proxy_cache c;
	slice 1m;
	proxy_cache_key \$http_host\$uri\$slice_range;
	proxy_set_header Range \$slice_range;
	proxy_cache_valid 200 206 1h;
	proxy_cache_lock on;
	proxy_cache_lock_timeout 60s;
	proxy_cache_bypass \$http_pragma \$http_cache_control;
}"
fanout proxy ",proxy=http://127.0.0.1:$NGINX_PORT"
P_SECS=$F_SECS P_SENT=$F_SENT
nginx_stop
unset NGINX_HTTP_CONF

say "2. $MOUNTS mounts straight from RGW"
fanout direct ""
D_SECS=$F_SECS D_SENT=$F_SENT

say "3. cold sequential: one mount, one 256 MiB file, RGW vs nginx"
seqread() { # ORIGIN OPTS; sets S_MBS
	local t0 t1 f
	f=$(basename "${FILES[0]}")
	rm -rf "$WORK/run"
	mkdir -p "$WORK/run"
	mount_one "$1" "$WORK/run/s" "$WORK/run/cs" "$2"
	t0=$(now)
	cat "$WORK/run/s/datasets/seq/$f" >/dev/null
	t1=$(now)
	unmount_all
	S_MBS=$(echo "$(stat -c %s "${FILES[0]}") / ($t1 - $t0) / 1000000" | bc -l)
}
seqread s3://data/plat ",endpoint=$RGW_URL"
S_RGW=$S_MBS
nginx_start "$WORK/repo"
seqread "$NGINX_URL" ""
S_NGX=$S_MBS
nginx_stop

gib=$(echo "$DATASET / 1073741824" | bc -l)
{
	printf '# scale-out bench (%s mounts, dataset %.2f GiB, %s)\n\n' \
		"$MOUNTS" "$gib" "$(date -u +%FT%TZ)"
	printf '| run | origin bytes served | x dataset | wall s | aggregate MB/s |\n'
	printf '| --- | ---: | ---: | ---: | ---: |\n'
	printf '| %s mounts via nginx proxy_cache | %.0f | %.3f | %.1f | %.1f |\n' \
		"$MOUNTS" "$P_SENT" "$(echo "$P_SENT / $DATASET" | bc -l)" "$P_SECS" \
		"$(echo "$MOUNTS * $DATASET / $P_SECS / 1000000" | bc -l)"
	printf '| %s mounts straight from RGW | %.0f | %.3f | %.1f | %.1f |\n' \
		"$MOUNTS" "$D_SENT" "$(echo "$D_SENT / $DATASET" | bc -l)" "$D_SECS" \
		"$(echo "$MOUNTS * $DATASET / $D_SECS / 1000000" | bc -l)"
	printf '\ncold sequential read of one 256 MiB file, one fresh mount:\n\n'
	printf '| origin | MB/s |\n| --- | ---: |\n'
	printf '| RGW (s3://, memstore) | %.1f |\n| nginx (http://, static files) | %.1f |\n' \
		"$S_RGW" "$S_NGX"
} | tee "$WORK/results.md"

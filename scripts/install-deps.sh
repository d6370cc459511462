#!/bin/sh
# Install everything aidatafs needs to build, run and test, from Debian's
# packages. Idempotent; run as root on Debian 12.
set -eu
PKGS="meson ninja-build pkg-config gcc libfuse3-dev fuse3 liburing-dev liblmdb-dev
lmdb-utils libzstd-dev zstd libcurl4-openssl-dev libssl-dev libjansson-dev
nginx-light openssl attr python3 file xxd util-linux procps psmisc valgrind bc
time stress-ng strace ceph-mon ceph-osd radosgw"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# nginx-light and ceph enable their own services on install;
# tests run their own.
if command -v systemctl >/dev/null 2>&1; then
	for s in nginx ceph.target; do
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	done
fi
echo "install-deps: ok"

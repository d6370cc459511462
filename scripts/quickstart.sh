#!/bin/sh
# The first quick-start command: install, build, generate the sample
# platform, pack and verify it, and mount it.
# usage: scripts/quickstart.sh [MOUNTPOINT]   (default /mnt/aidata)
set -eu
cd "$(dirname "$0")/.."
MNT=${1:-/mnt/aidata}
WORK=${AIDATA_SAMPLE_DIR:-/var/lib/aidata-sample}
scripts/install-deps.sh
scripts/build.sh >/dev/null
AIDATA=build/tools/aidata
AIDATAFS=build/fs/aidatafs
mkdir -p "$WORK"
[ -f "$WORK/src/datasets.json" ] || python3 sample/make_sample.py --out "$WORK/src"
[ -f "$WORK/keys/platform.key" ] || $AIDATA keygen --out "$WORK/keys"
$AIDATA pack "$WORK/src" --datasets "$WORK/src/datasets.json" \
	--key "$WORK/keys/platform.key" --out "$WORK/repo"
$AIDATA verify "$WORK/repo" --pubkey "$WORK/keys/platform.pub"
mkdir -p "$MNT"
if mountpoint -q "$MNT"; then
	fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT"
fi
$AIDATAFS "file://$WORK/repo" "$MNT" -o "pubkey=$WORK/keys/platform.pub,allow_other"
echo
echo "mounted the sample platform at $MNT:"
ls "$MNT" "$MNT/datasets" "$MNT/by-industry" "$MNT/by-modality" \
	"$MNT/by-contributor"
echo
echo "who contributed what to the alliance pool (aidata ledger):"
$AIDATA ledger "$WORK/repo" --pubkey "$WORK/keys/platform.pub"
echo
echo "unmount with: fusermount3 -u $MNT"

#!/bin/sh
# The first quick-start command: install, build, generate the sample
# platform, pack it, verify it. Usage: scripts/quickstart.sh [WORKDIR]
set -eu
cd "$(dirname "$0")/.."
WORK=${1:-/var/lib/aidata-sample}
scripts/install-deps.sh
scripts/build.sh
AIDATA=build/tools/aidata
mkdir -p "$WORK"
[ -d "$WORK/src" ] || $AIDATA sample --out "$WORK/src"
[ -f "$WORK/keys/platform.key" ] || $AIDATA keygen --out "$WORK/keys"
$AIDATA pack "$WORK/src" --datasets "$WORK/src/datasets.json" \
	--key "$WORK/keys/platform.key" --out "$WORK/repo"
$AIDATA verify "$WORK/repo" --pubkey "$WORK/keys/platform.pub"
$AIDATA ls "$WORK/repo" --pubkey "$WORK/keys/platform.pub"
echo
echo "sample platform packed into $WORK/repo (public key $WORK/keys/platform.pub)"

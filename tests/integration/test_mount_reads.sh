#!/bin/bash
# Random-access reads through real mounts, compared byte for byte with the
# source: 2000 preads per file at random offsets and lengths (crossing
# chunk boundaries, at and past EOF), mmap of whole files, and 16
# concurrent reader processes on the same and different files. The sample
# platform over file:// (1 MiB pieces), and a tree with a 20 MiB random
# file packed with --chunk-size 64K (many boundaries) over nginx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

step "sample platform"
make_platform "$T/p"
# multi-chunk files: the biggest (the ~13.6 MB jsonl) and biggest tar of
# shared datasets, and the two biggest wav files (secure tier: encrypted)
pick() { # TIER [NAME-GLOB]: the biggest file of the datasets of TIER
	local d
	for d in $(dataset_names "$PLAT_JSON"); do
		[ "$(dataset_field "$PLAT_JSON" "$d" tier)" = "$1" ] || continue
		(cd "$PLAT_SRC" && find "$d" -type f -name "${2:-*}" -printf '%s %p\n')
	done | sort -n | tail -n "${3:-1}" | awk '{ print $2 }'
}
PLAIN_FILES=("$(pick shared)" "$(pick shared '*.tar')")
mapfile -t SECURE_FILES < <(pick secure '*.wav' 2)
[ "${#SECURE_FILES[@]}" -eq 2 ] || fail "no two secure wav files in the sample"
for f in "${PLAIN_FILES[@]}" "${SECURE_FILES[@]}"; do
	s=$(stat -c %s "$PLAT_SRC/$f")
	[ "$s" -gt $((4 << 20)) ] || fail "$f has only $s bytes (want a multi-chunk file)"
	step "sample file $f ($s bytes, $(dataset_field "$PLAT_JSON" "${f%%/*}" tier))"
done

step "random tree, --chunk-size 64K"
R=$T/r
mkdir -p "$R/src/rand/sub"
random_file "$R/src/rand/big.bin" $((20 << 20))
random_file "$R/src/rand/exact.bin" $((2 * 65536))     # a chunk multiple
random_file "$R/src/rand/odd.bin" $((65536 + 1))       # one byte over
random_file "$R/src/rand/sub/small.bin" 100
: >"$R/src/rand/empty.bin"
# half text, half random: compressible and not, in one file
py -c 'import os, sys
line = b"aidatafs chunk boundary text line\n"
text = (line * (3 * 2**20 // len(line) + 1))[:3 * 2**20]
sys.stdout.buffer.write(text + os.urandom(3 * 2**20))' >"$R/src/rand/mixed.bin"
mk_dataset_json "$R/datasets.json" rand:science:binary:open
run_ok "$AIDATA" keygen --out "$R/keys"
pack_into "$R/src" "$R/datasets.json" "$R/keys/platform.key" "$R/repo" --chunk-size 64K
RAND_FILES=(big.bin exact.bin odd.bin sub/small.bin empty.bin mixed.bin)

nginx_start "$R/repo"

start_mounts() {
	rm -rf "$T/cache-s" "$T/cache-r"
	mount_start "file://$PLAT_REPO" "$T/ms" "$T/fs-s.log" \
		"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$T/cache-s"
	mount_start "$NGINX_URL/" "$T/mr" "$T/fs-r.log" \
		"pubkey=$R/keys/platform.pub,cache=$T/cache-r"
}
stop_mounts() {
	mount_alive "$T/ms" || { show "$T/fs-s.log" "aidatafs log"; fail "aidatafs (sample) died"; }
	mount_alive "$T/mr" || { show "$T/fs-r.log" "aidatafs log"; fail "aidatafs (random) died"; }
	mount_stop "$T/ms"
	mount_stop "$T/mr"
	for log in "$T/fs-s.log" "$T/fs-r.log"; do
		if grep -Eq ': (error|warn)' "$log"; then
			show "$log" "aidatafs log"
			fail "aidatafs logged errors or warnings"
		fi
	done
}

# whole files first: sizes and contents through read(2)
start_mounts
step "preads at random offsets (cold caches)"
seed=1
for f in "${PLAIN_FILES[@]}"; do
	run_ok py "$PYHELP/mount_pread.py" random "$T/ms/datasets/$f" "$PLAT_SRC/$f" \
		--count 2000 --chunk $((4 << 20)) --seed $((seed++))
	cat "$LAST_OUT"
done
# small cold preads were answered before their chunks were decoded whole
# (cache_chunk_read_early), and every byte above matched the source
early=$(stat_value "$T/ms" aidatafs_early_reads_total)
step "cold preads answered before their chunk was decoded whole: $early"
[ "$early" -gt 0 ] || fail "no cold pread was answered early"
# secure files: each pread of another chunk decrypts it: fewer preads
step "preads of a secure file"
run_ok py "$PYHELP/mount_pread.py" random "$T/ms/datasets/${SECURE_FILES[1]}" \
	"$PLAT_SRC/${SECURE_FILES[1]}" --count 60 --chunk $((4 << 20)) --seed $((seed++))
cat "$LAST_OUT"
step "preads of the 64K-chunk files"
for f in big.bin mixed.bin odd.bin exact.bin; do
	run_ok py "$PYHELP/mount_pread.py" random "$T/mr/datasets/rand/$f" "$R/src/rand/$f" \
		--count 2000 --chunk 65536 --seed $((seed++))
	cat "$LAST_OUT"
done
for f in sub/small.bin empty.bin; do
	run_ok py "$PYHELP/mount_pread.py" random "$T/mr/datasets/rand/$f" "$R/src/rand/$f" \
		--count 200 --chunk 65536 --seed $((seed++))
	cat "$LAST_OUT"
done
# the whole random tree, sequentially, through the other views too
for view in datasets/rand by-industry/science/rand by-modality/binary/rand; do
	run_ok py "$PYHELP/mount_read.py" "$T/mr/$view" "$R/src/rand" --drop-cache
done

step "mmap of whole files"
for f in "${PLAIN_FILES[@]}"; do
	run_ok py "$PYHELP/mount_pread.py" mmap "$T/ms/datasets/$f" "$PLAT_SRC/$f"
	cat "$LAST_OUT"
done
for f in "${SECURE_FILES[@]}"; do
	run_ok py "$PYHELP/mount_pread.py" mmap "$T/ms/datasets/$f" "$PLAT_SRC/$f" --slices 10
	cat "$LAST_OUT"
done
step "mmap of the 64K-chunk files"
for f in "${RAND_FILES[@]}"; do
	run_ok py "$PYHELP/mount_pread.py" mmap "$T/mr/datasets/rand/$f" "$R/src/rand/$f"
	cat "$LAST_OUT"
done
# A secure file read sequentially should cost about one decryption per
# chunk (counted by the daemon, not timed): at most two per chunk, where
# reading one decryption per request would be dozens.
secure_sequential() {
	local f=${SECURE_FILES[1]} out before after size chunks
	before=$(stat_value "$T/ms" aidatafs_secure_decryptions_total)
	out=$(py "$PYHELP/mount_tryread.py" "$T/ms/datasets/$f" "$PLAT_SRC/$f") ||
		fail "reading $f: $out"
	after=$(stat_value "$T/ms" aidatafs_secure_decryptions_total)
	size=$(stat -c %s "$PLAT_SRC/$f")
	# the sample's datasets are cut into pieces of the default size for a
	# new dataset, 1 MiB (FORMAT.md §9.2)
	chunks=$(((size + (1 << 20) - 1) / (1 << 20)))
	step "sequential read of secure $f: $((after - before)) decryptions for $chunks chunks"
	[ $((after - before)) -ge 1 ] || fail "no decryption counted reading secure $f"
	[ $((after - before)) -le $((2 * chunks)) ] ||
		fail "a sequential read of the $size-byte secure $f decrypted $((after - before)) times ($chunks chunks)"
}
independent secure_sequential
[ "$(stat_value "$T/mr" aidatafs_errors_total '{kind="verify"}')" = 0 ] ||
	fail "verify errors reading a pristine repository"
stop_mounts

step "16 concurrent readers (cold caches again)"
start_mounts
pairs=()
for f in "${PLAIN_FILES[@]}"; do
	pairs+=("$T/ms/datasets/$f" "$PLAT_SRC/$f")
done
for f in big.bin mixed.bin odd.bin; do
	pairs+=("$T/mr/datasets/rand/$f" "$R/src/rand/$f")
done
# the same random file through another view: other inodes, same chunks
pairs+=("$T/mr/by-industry/science/rand/big.bin" "$R/src/rand/big.bin")
run_ok py "$PYHELP/mount_pread.py" concurrent --procs 16 --reads 250 \
	--chunk 65536 --seed 7 "${pairs[@]}"
cat "$LAST_OUT"
# and only the 64K-chunk file: everyone on the same chunks at once
run_ok py "$PYHELP/mount_pread.py" concurrent --procs 16 --reads 150 \
	--chunk 65536 --seed 8 "$T/mr/datasets/rand/big.bin" "$R/src/rand/big.bin"
cat "$LAST_OUT"
# 16 readers of the two secure files at once (fewer reads: see above)
pairs=()
for f in "${SECURE_FILES[@]}"; do
	pairs+=("$T/ms/datasets/$f" "$PLAT_SRC/$f")
done
run_ok py "$PYHELP/mount_pread.py" concurrent --procs 16 --reads 6 \
	--chunk $((4 << 20)) --seed 9 "${pairs[@]}"
cat "$LAST_OUT"
# 16 whole-file readers of the sample at once
run_ok py "$PYHELP/mount_read.py" "$T/ms/datasets" "$PLAT_SRC" --jobs 16 --drop-cache
cat "$LAST_OUT"
stop_mounts
nginx_stop
independent_done
echo "test_mount_reads: ok"

#!/bin/bash
# aidata prefetch and aidata status (issue #11), over nginx so that what
# reaches the origin is counted:
#  1. status of a cold mount: origin, revision, cache bound, every dataset
#     with its files and bytes, nothing cached;
#  2. the caller's credential decides: without one, a shared dataset is
#     refused per dataset with the reason, and nothing of it is fetched;
#  3. prefetching a file, then its whole dataset (an open one) and a
#     secure one: exit 0, one summary line (not a terminal), the file's
#     chunks counted as already cached the second time (an interrupted
#     prefetch resumes); status then shows the paths and datasets 100 %
#     cached; no byte served and nothing in the page cache (fincore); a
#     secure dataset's plaintext is nowhere in the cache;
#  4. reading everything prefetched afterwards costs no data request;
#     prefetching again fetches nothing;
#  5. a view (by-industry/...) prefetches the same files;
#  6. paths larger than cache_size: refused before any fetch;
#  7. on a terminal (script(1)), a progress bar; usage errors exit 2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init
command -v fincore >/dev/null || fail "fincore (util-linux) is not installed"
command -v script >/dev/null || fail "script (util-linux) is not installed"

MARKER="AIDATA-SECURE-PLAINTEXT"
make_platform "$T/p"
nginx_start "$PLAT_REPO"
OPEN_DS= SHARED_DS= SECURE_DS=
for d in $(dataset_names "$PLAT_JSON"); do
	case $(dataset_field "$PLAT_JSON" "$d" tier) in
	open) [ -n "$OPEN_DS" ] || { [ "$(find "$PLAT_SRC/$d" -type f | wc -l)" -ge 3 ] && OPEN_DS=$d; } ;;
	shared) [ -n "$SHARED_DS" ] || SHARED_DS=$d ;;
	secure) [ -n "$SECURE_DS" ] || SECURE_DS=$d ;;
	esac
done
[ -n "$OPEN_DS" ] && [ -n "$SHARED_DS" ] && [ -n "$SECURE_DS" ] ||
	fail "the sample lacks an open (3+ files), shared or secure dataset"
note "datasets: open $OPEN_DS, shared $SHARED_DS, secure $SECURE_DS"
FIRST=$(cd "$PLAT_SRC" && find "$OPEN_DS" -type f | sort | sed -n 1p)

M=$T/mnt
CACHE=$T/cache
# a node key but no default credential: root reads open data only until
# it logs in
mount_start "$NGINX_URL/" "$M" "$T/fs.log" \
	"pubkey=$PLAT_PUB,cache=$CACHE,cache_size=1G,node_key=$PLAT_NODE_KEY"

# data_requests MARK: requests for shard bytes since MARK.
data_requests() {
	nginx_log_since "$1" | awk '$5 ~ /^\/data\// { n++ } END { print n + 0 }'
}

# status_json [PATH...]: aidata status --json into $T/status.json
status_json() {
	run_ok "$AIDATA" status --mount "$M" --json "$@"
	cp "$LAST_OUT" "$T/status.json"
}

# jq_py EXPR: evaluate a python expression over the status JSON (j).
jq_py() {
	py -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$T/status.json" "$1"
}

# src_bytes DIR: bytes of the regular files under DIR in the source.
src_bytes() {
	find "$PLAT_SRC/$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

step "1. status of a cold mount"
status_json
[ "$(jq_py 'j["status"]["origin"]')" = "$NGINX_URL/" ] || fail "status: wrong origin"
[ "$(jq_py 'j["status"]["revision"]')" = 1 ] || fail "status: wrong revision"
[ "$(jq_py 'j["status"]["cache"]["max_bytes"]')" = $((1 << 30)) ] || fail "status: cache bound is not 1G"
[ "$(jq_py 'j["status"]["cache"]["dir"]')" = "$CACHE" ] || fail "status: wrong cache dir"
[ "$(jq_py 'len(j["status"]["datasets"])')" = "$(dataset_names "$PLAT_JSON" | wc -l)" ] ||
	fail "status does not list every dataset"
for d in "$OPEN_DS" "$SECURE_DS"; do
	[ "$(jq_py "[x for x in j['status']['datasets'] if x['name'] == '$d'][0]['bytes']")" = "$(src_bytes "$d")" ] ||
		fail "status: dataset $d's bytes differ from the source"
	[ "$(jq_py "[x for x in j['status']['datasets'] if x['name'] == '$d'][0]['files']")" = "$(find "$PLAT_SRC/$d" -type f | wc -l)" ] ||
		fail "status: dataset $d's files differ from the source"
done
[ "$(jq_py 'sum(1 for x in j["status"]["datasets"] if x["cached"])')" = 0 ] ||
	fail "status: something is cached on a cold mount"
run_ok "$AIDATA" status --mount "$M"
grep -Eq "^revision +1 " "$LAST_OUT" && grep -Eq "^$OPEN_DS +open " "$LAST_OUT" ||
	{ show "$LAST_OUT" status; fail "the status table lacks the revision or $OPEN_DS"; }

step "2. no credential: the shared dataset is refused, nothing fetched"
mark=$(nginx_log_mark)
expect_fail_with "dataset '$SHARED_DS': [0-9]+ files refused to you: no credential" \
	"$AIDATA" prefetch --mount "$M" "datasets/$SHARED_DS"
[ "$(data_requests "$mark")" = 0 ] || fail "a refused prefetch fetched data"
"$AIDATA" login --mount "$M" <"$PLAT_TOKEN" >"$T/login.out" 2>&1 ||
	{ show "$T/login.out" login; fail "login failed"; }

step "3. prefetch one file, then its dataset (resume) and a secure dataset"
served0=$(stat_value "$M" aidatafs_bytes_served_total)
run_ok "$AIDATA" prefetch --mount "$M" "$M/datasets/$FIRST"
grep -Eq "^prefetched 1 of 1 files .* 0 failed" "$LAST_OUT" ||
	{ show "$LAST_OUT" stdout; fail "unexpected summary for one file"; }
[ "$(wc -l <"$LAST_OUT")" = 1 ] || { show "$LAST_OUT" stdout; fail "not one summary line"; }
first_size=$(stat -c %s "$PLAT_SRC/$FIRST")
cp "$LAST_OUT" "$T/pf1.out"
run_ok "$AIDATA" prefetch --mount "$M" --jobs 4 "datasets/$OPEN_DS" "datasets/$SECURE_DS"
cp "$LAST_OUT" "$T/pf2.out"
nfiles=$(($(find "$PLAT_SRC/$OPEN_DS" "$PLAT_SRC/$SECURE_DS" -type f | wc -l)))
grep -Eq "^prefetched $nfiles of $nfiles files .* 0 failed" "$T/pf2.out" ||
	{ show "$T/pf2.out" stdout; fail "not every file prefetched"; }
# the summary's "already cached" covers at least the first file
py -c 'import re, sys
line = open(sys.argv[1]).read()
m = re.search(r"\(([0-9]+) chunks\), [0-9]+ failed", line)
sys.exit(0 if m and int(m.group(1)) >= 1 else "no chunk counted as cached: " + line)' "$T/pf2.out"
[ "$(stat_value "$M" aidatafs_bytes_served_total)" = "$served0" ] ||
	fail "prefetch served bytes (it must only fill the cache)"
resident=$(fincore --raw --noheadings --bytes -o RES "$M/datasets/$FIRST")
[ "$resident" = 0 ] || fail "prefetch put $resident bytes of $FIRST in the page cache"
if grep -rlaF "$MARKER" "$CACHE" >"$T/hits"; then
	show "$T/hits" "cache files with secure plaintext"
	fail "secure plaintext in the cache after a prefetch"
fi
status_json "datasets/$OPEN_DS" "$M/datasets/$SECURE_DS"
for i in 0 1; do
	[ "$(jq_py "j['paths'][$i]['cached'] == j['paths'][$i]['bytes'] > 0")" = True ] ||
		{ show "$T/status.json" status; fail "path $i is not wholly cached after a prefetch"; }
done
[ "$(jq_py "j['paths'][0]['bytes']")" = "$(src_bytes "$OPEN_DS")" ] || fail "status: path bytes differ from the source"
[ "$(jq_py "j['paths'][0]['files']")" = "$(find "$PLAT_SRC/$OPEN_DS" -type f | wc -l)" ] || fail "status: path files differ"
for d in "$OPEN_DS" "$SECURE_DS"; do
	[ "$(jq_py "[x for x in j['status']['datasets'] if x['name'] == '$d'][0]['cached'] == [x for x in j['status']['datasets'] if x['name'] == '$d'][0]['chunk_bytes']")" = True ] ||
		{ show "$T/status.json" status; fail "status: dataset $d is not wholly cached"; }
done
run_ok "$AIDATA" status --mount "$M" "datasets/$OPEN_DS"
grep -Eq "/datasets/$OPEN_DS +[0-9]+ .*\(100%\)$" "$LAST_OUT" ||
	{ show "$LAST_OUT" status; fail "status does not show $OPEN_DS 100% cached"; }

step "4. reading what was prefetched costs no data request; again: nothing fetched"
mark=$(nginx_log_mark)
for d in "$OPEN_DS" "$SECURE_DS"; do
	tree_digest "$PLAT_SRC/$d" >"$T/src.digest"
	tree_digest "$M/datasets/$d" >"$T/mnt.digest"
	same_text "$d read after a prefetch" "$T/src.digest" "$T/mnt.digest"
done
[ "$(data_requests "$mark")" = 0 ] || fail "reading prefetched data went to the origin"
# control: fincore sees what reading (not prefetching) put in the page
# cache (read again right before looking: anything on the machine that
# drops caches, or memory pressure, may have evicted it since)
resident=0
for ((i = 0; i < 5; i++)); do
	cat "$M/datasets/$FIRST" >/dev/null
	resident=$(fincore --raw --noheadings --bytes -o RES "$M/datasets/$FIRST")
	[ "$resident" -gt 0 ] && break
done
[ "$resident" -gt 0 ] ||
	fail "control: fincore sees nothing of $FIRST after reading it"
run_ok "$AIDATA" prefetch --mount "$M" "datasets/$OPEN_DS" "datasets/$SECURE_DS"
grep -Eq ": 0 B fetched \(0 chunks" "$LAST_OUT" || { show "$LAST_OUT" stdout; fail "a second prefetch fetched something"; }
[ "$(data_requests "$mark")" = 0 ] || fail "a second prefetch went to the origin"

step "5. a view prefetches the same files"
industry=$(dataset_field "$PLAT_JSON" "$OPEN_DS" industry)
run_ok "$AIDATA" prefetch --mount "$M" "by-industry/$industry/$OPEN_DS"
grep -Eq ": 0 B fetched \(0 chunks" "$LAST_OUT" || { show "$LAST_OUT" stdout; fail "the view's files were not the cached ones"; }

step "6. more than cache_size: refused before fetching"
mount_start "$NGINX_URL/" "$T/small" "$T/fs-small.log" \
	"pubkey=$PLAT_PUB,cache=$T/cache-small,cache_size=64K,$PLAT_AUTH"
mark=$(nginx_log_mark)
expect_fail_with "the files need .*, more than the cache of '$T/small' keeps" \
	"$AIDATA" prefetch --mount "$T/small" "datasets/$OPEN_DS"
stderr_has "Nothing fetched"
[ "$(data_requests "$mark")" = 0 ] || fail "a refused prefetch fetched data"
mount_stop "$T/small"

step "7. a progress bar on a terminal; usage errors"
run_ok script -qefc "$AIDATA prefetch --mount $M datasets/$OPEN_DS" "$T/tty.out"
grep -aq $'\r\[' "$T/tty.out" && grep -aq 'files' "$T/tty.out" ||
	{ show "$T/tty.out" "terminal output"; fail "no progress bar on a terminal"; }
expect_fail_with 'usage: aidata prefetch' "$AIDATA" prefetch --mount "$M"
rc=0
"$AIDATA" prefetch --mount "$M" --jobs 0 "datasets/$OPEN_DS" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--jobs 0 exited $rc, expected 2"
expect_fail_with "is not an aidatafs mount" "$AIDATA" status --mount "$T"
expect_fail_with "control files, not data" "$AIDATA" prefetch --mount "$M" .aidata

step "8. no thread to be had: the work is done without workers"
# A thread stack as large as RLIMIT_STACK (4 GiB) does not fit under
# RLIMIT_AS (2 GiB): every pthread_create fails, as under a pids or
# memory limit on a busy node.
rc=0
(ulimit -s 4194304 && ulimit -v 2097152 &&
	exec "$AIDATA" prefetch --mount "$M" --force "datasets/$OPEN_DS") \
	>"$T/nothread.out" 2>"$T/nothread.err" || rc=$?
n=$(find "$PLAT_SRC/$OPEN_DS" -type f | wc -l)
[ "$rc" = 0 ] && grep -q 'cannot start a thread' "$T/nothread.err" &&
	grep -q "^prefetched $n of $n files .* 0 failed" "$T/nothread.out" ||
	{ show "$T/nothread.out" stdout; show "$T/nothread.err" stderr
	  fail "prefetch without threads exited $rc or did not do the work"; }

mount_stop "$M"
note "PASS"

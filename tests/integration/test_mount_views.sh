#!/bin/bash
# The four views of a real mount, over file:// and over nginx, against
# the sample platform's source: contents (cp -r of every view), listings,
# sizes, modes, mtimes, symlinks, du, xattrs (user.aidata.contributor and
# by-contributor/ exactly as datasets.json says), .aidata/{revision,stats},
# read-only refusals; over nginx also that the mount fetches lazily
# (manifest + root catalog at mount; one dataset's catalog and data when a
# file of it is read).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mount_lib.sh
. "$here/mount_lib.sh"
mount_test_init

step "sample platform"
make_platform "$T/p"
mapfile -t DATASETS < <(dataset_names "$PLAT_JSON")
[ "${#DATASETS[@]}" -ge 5 ] || fail "sample has only ${#DATASETS[@]} datasets"
command -v getfattr >/dev/null || fail "getfattr (package attr) is not installed"

# Per-dataset expectations from the source, computed once.
tree_digest "$PLAT_SRC" >"$T/src.digest"
py "$PYHELP/mount_tree.py" meta "$PLAT_SRC" --ro >"$T/src.meta"
(cd "$PLAT_SRC" && find . -mindepth 1 -printf '%P %y\n' | sort) >"$T/src.find"
# dataset_contributor JSON NAME: its "contributor", or nothing
dataset_contributor() {
	py -c 'import json, sys
for d in json.load(open(sys.argv[1]))["datasets"]:
    if d["name"] == sys.argv[2]:
        print(d.get("contributor", ""))' "$1" "$2"
}
declare -A DS_DU=() DS_IND=() DS_MOD=() DS_ORG=()
for d in "${DATASETS[@]}"; do
	[ -d "$PLAT_SRC/$d" ] || fail "dataset $d has no source directory"
	tree_digest "$PLAT_SRC/$d" >"$T/src-$d.digest"
	py "$PYHELP/mount_tree.py" meta "$PLAT_SRC/$d" --ro >"$T/src-$d.meta"
	DS_DU[$d]=$(du -sb "$PLAT_SRC/$d" | cut -f1)
	DS_IND[$d]=$(dataset_field "$PLAT_JSON" "$d" industry)
	DS_MOD[$d]=$(dataset_field "$PLAT_JSON" "$d" modality)
	DS_ORG[$d]=$(dataset_contributor "$PLAT_JSON" "$d")
done
ORGS=$(printf '%s\n' "${DS_ORG[@]}" | sed '/^$/d' | sort -u)
[ "$(echo "$ORGS" | wc -w)" -ge 2 ] || fail "the sample has fewer than 2 contributors"
# views_of D: the paths of dataset D under every view that shows it
views_of() {
	local d=$1
	echo "datasets/$d"
	echo "by-industry/${DS_IND[$d]}/$d"
	echo "by-modality/${DS_MOD[$d]}/$d"
	[ -z "${DS_ORG[$d]}" ] || echo "by-contributor/${DS_ORG[$d]}/$d"
}
py "$PYHELP/mount_tree.py" repomap "$PLAT_REPO" >"$T/repomap"
[ "$(wc -l <"$T/repomap")" -eq "${#DATASETS[@]}" ] ||
	fail "repomap lists $(wc -l <"$T/repomap") datasets, want ${#DATASETS[@]}"

# The biggest file (multi-chunk): its dataset is the one read first.
read -r BIG_SIZE BIG_REL < <(cd "$PLAT_SRC" &&
	find . -type f -printf '%s %P\n' | sort -n | tail -n 1)
BIG_DS=${BIG_REL%%/*}
[ "$BIG_SIZE" -gt $((8 << 20)) ] || fail "largest sample file is only $BIG_SIZE bytes"
# A small file in another dataset, and a file in a third one.
OTHER_DS=
for d in "${DATASETS[@]}"; do
	[ "$d" != "$BIG_DS" ] && { OTHER_DS=$d; break; }
done
SMALL_REL=$(cd "$PLAT_SRC" && find "$OTHER_DS" -type f -size -64k | sort | sed -n 1p)
[ -n "$SMALL_REL" ] || fail "no small file in $OTHER_DS"

# expected_xattrs REL: the user.aidata.* a file lists: the stable ones
# only (cp -a copies what is listed); "cached" and "access" are answered
# to getxattr but never listed.
expected_xattrs() {
	local rel=$1 d=${1%%/*}
	{
		[ -z "${DS_ORG[$d]}" ] || echo "user.aidata.contributor=${DS_ORG[$d]}"
		echo "user.aidata.dataset=$d"
		echo "user.aidata.industry=${DS_IND[$d]}"
		echo "user.aidata.license=$(dataset_field "$PLAT_JSON" "$d" license)"
		echo "user.aidata.modality=${DS_MOD[$d]}"
		echo "user.aidata.sha256=$(sha256sum <"$PLAT_SRC/$rel" | cut -c1-64)"
		echo "user.aidata.tier=$(dataset_field "$PLAT_JSON" "$d" tier)"
	} >"$T/xattr.want"
}

# check_file_xattrs MNT REL CACHED: listxattr/getxattr (python) and
# getfattr agree with the source, through every view: exactly the
# stable attributes are listed, and "cached" (= CACHED) and "access" are
# answered when asked by name.
check_file_xattrs() {
	local mnt=$1 rel=$2 cached=$3 d=${2%%/*} path v
	expected_xattrs "$rel"
	for path in $(views_of "$d" | sed "s|^|$mnt/|; s|\$|/${rel#*/}|"); do
		py "$PYHELP/mount_tree.py" xattrs "$path" >"$T/xattr.got" ||
			fail "listxattr/getxattr failed on $path"
		same_text "xattrs of $path" "$T/xattr.want" "$T/xattr.got"
		getfattr --absolute-names -d -m - -- "$path" 2>"$T/getfattr.err" |
			sed -n 's/^\(user\.aidata\.[a-z0-9]*\)="\(.*\)"$/\1=\2/p' |
			sort >"$T/xattr.getfattr" || true
		same_text "getfattr -d of $path" "$T/xattr.want" "$T/xattr.getfattr"
		v=$(getfattr --absolute-names --only-values -n user.aidata.cached -- "$path")
		[ "$v" = "$cached" ] || fail "user.aidata.cached of $path is '$v', expected $cached"
		v=$(getfattr --absolute-names --only-values -n user.aidata.access -- "$path")
		[ -n "$v" ] || fail "user.aidata.access of $path is not answered"
	done
}

# requests_since MARK: the uris nginx served after MARK (after waiting
# for a sentinel request, so every earlier request has its log line).
requests_since() {
	local mark=$1 n
	curl -s --noproxy '*' -o /dev/null "$NGINX_URL/__sentinel_$mark" || true
	n=50
	until nginx_log_since "$mark" | grep -q " /__sentinel_$mark "; do
		((n-- > 0)) || fail "the sentinel request never reached the access log"
		sleep 0.1
	done
	nginx_log_since "$mark" | grep -v " /__sentinel_" || true
}

# check_lazy MNT: what the mount fetched, from nginx's access log.
check_lazy() {
	local mnt=$1 root cat shards got mark
	root=$(manifest_root "$PLAT_REPO")
	requests_since 0 >"$T/req.mount"
	printf 'GET /manifest\nGET /catalog/%s\n' "$root" | sort >"$T/req.want"
	awk '{ print $4, $5 }' "$T/req.mount" | sort >"$T/req.got"
	same_text "requests made by mounting" "$T/req.want" "$T/req.got"
	awk '$3 != 200 { bad = 1 } END { exit bad }' "$T/req.mount" ||
		{ show "$T/req.mount" requests; fail "mounting got a non-200 answer"; }

	step "listing the views fetches nothing"
	mark=$(nginx_log_mark)
	ls "$mnt/datasets" >"$T/ls.out"
	ls -l "$mnt/datasets" "$mnt/by-industry" "$mnt/by-modality" \
		"$mnt/by-contributor" >/dev/null
	ls -l "$mnt/by-industry/${DS_IND[$BIG_DS]}" >/dev/null
	printf '%s\n' "${DATASETS[@]}" | sort >"$T/ls.want"
	same_text "ls datasets" "$T/ls.want" "$T/ls.out"
	requests_since "$mark" >"$T/req.ls"
	if [ -s "$T/req.ls" ]; then
		show "$T/req.ls" "requests"
		fail "listing the views fetched from the origin"
	fi

	step "reading $BIG_REL fetches its dataset's catalog and data only"
	read -r _ cat shards < <(awk -v d="$BIG_DS" '$1 == d' "$T/repomap")
	mark=$(nginx_log_mark)
	cmp -- "$mnt/datasets/$BIG_REL" "$PLAT_SRC/$BIG_REL" ||
		fail "$BIG_REL differs from the source"
	requests_since "$mark" >"$T/req.cat"
	awk '$5 ~ /^\/catalog\// { print $5 }' "$T/req.cat" >"$T/req.catalogs"
	echo "/catalog/$cat" >"$T/req.catalogs.want"
	same_text "catalogs fetched for one dataset" "$T/req.catalogs.want" \
		"$T/req.catalogs"
	# a secure dataset's sealed key may be fetched too, nothing else
	awk -v k="/keys/$BIG_DS/" '$5 !~ /^\/(catalog|data)\// && index($5, k) != 1 { print }' \
		"$T/req.cat" >"$T/req.other"
	[ ! -s "$T/req.other" ] ||
		{ show "$T/req.other" requests; fail "unexpected requests while reading"; }
	awk '$5 ~ /^\/data\// { print }' "$T/req.cat" >"$T/req.data"
	[ -s "$T/req.data" ] || fail "reading $BIG_REL fetched no data"
	while read -r _ _ status method uri range _; do
		[ "$method" = GET ] || fail "data request $uri with method $method"
		[ "$status" = 206 ] || fail "data request $uri answered $status (want 206)"
		[ "$range" != '"-"' ] || fail "data request $uri without a Range header"
		[[ ,$shards, == *",${uri##*/},"* ]] ||
			fail "reading $BIG_DS/... fetched $uri, not a shard of $BIG_DS ($shards)"
	done <"$T/req.data"
	step "$(wc -l <"$T/req.data") ranged data requests, all to $BIG_DS's shards"
}

# check_mount TAG ORIGIN [nginx]: every check on one fresh mount.
check_mount() {
	local tag=$1 origin=$2 via=${3:-} mnt cache log copy d before after
	local ind mod total
	mnt=$T/mnt-$tag
	cache=$T/cache-$tag
	log=$T/fs-$tag.log
	copy=$T/copy-$tag
	step "[$tag] mount $origin"
	mount_start "$origin" "$mnt" "$log" "pubkey=$PLAT_PUB,$PLAT_AUTH,cache=$cache"
	awk -v m="$mnt" '$2 == m { print $3, $4 }' /proc/mounts >"$T/mnts"
	grep -Eq '^fuse\.aidatafs .*nosuid.*nodev' "$T/mnts" ||
		{ show "$T/mnts" "/proc/mounts"; fail "$mnt is not a nosuid,nodev fuse.aidatafs mount"; }

	[ "$via" = nginx ] && check_lazy "$mnt"

	step "[$tag] .aidata/revision and .aidata/stats"
	[ "$(cat "$mnt/.aidata/revision")" = 1 ] ||
		fail ".aidata/revision is '$(cat "$mnt/.aidata/revision")', want 1"
	[ "$(cat "$mnt/.aidata/revision" | od -An -c | tr -s ' ')" = " 1 \n" ] ||
		fail ".aidata/revision is not exactly '1\\n'"
	cat "$mnt/.aidata/stats" >"$T/stats1"
	py "$PYHELP/mount_tree.py" prom "$T/stats1" >"$T/stats1.samples" ||
		{ show "$T/stats1" stats; fail ".aidata/stats is not Prometheus text"; }
	[ "$(stat_value "$mnt" aidatafs_revision)" = 1 ] || fail "aidatafs_revision is not 1"
	[ "$(stat_value "$mnt" aidatafs_datasets)" = "${#DATASETS[@]}" ] ||
		fail "aidatafs_datasets is not ${#DATASETS[@]}"
	ls -la "$mnt/.aidata" >"$T/control.ls"
	for f in revision stats; do
		grep -Eq "^-r--r--r-- .* $f\$" "$T/control.ls" ||
			{ show "$T/control.ls" "ls -la .aidata"; fail ".aidata/$f is not listed as a read-only file"; }
	done

	step "[$tag] xattrs of an unread file: cached 0"
	check_file_xattrs "$mnt" "$SMALL_REL" 0
	[ "$(getfattr --absolute-names --only-values -n user.aidata.cached "$mnt/datasets/$OTHER_DS")" = 0 ] ||
		fail "dataset $OTHER_DS shows cached bytes before any read"
	before=$(stat_value "$mnt" aidatafs_bytes_served_total)
	cmp -- "$mnt/datasets/$SMALL_REL" "$PLAT_SRC/$SMALL_REL" ||
		fail "$SMALL_REL differs from the source"
	after=$(stat_value "$mnt" aidatafs_bytes_served_total)
	[ "$after" -ge $((before + $(stat -c %s "$PLAT_SRC/$SMALL_REL"))) ] ||
		fail "bytes_served went from $before to $after reading $SMALL_REL"
	step "[$tag] xattrs after reading: cached = size"
	check_file_xattrs "$mnt" "$SMALL_REL" "$(stat -c %s "$PLAT_SRC/$SMALL_REL")"
	# big file: read over nginx above; over file:// not yet
	if [ "$via" != nginx ]; then
		check_file_xattrs "$mnt" "$BIG_REL" 0
		before=$(stat_value "$mnt" aidatafs_bytes_served_total)
		cmp -- "$mnt/datasets/$BIG_REL" "$PLAT_SRC/$BIG_REL" ||
			fail "$BIG_REL differs from the source"
		after=$(stat_value "$mnt" aidatafs_bytes_served_total)
		[ "$after" -ge $((before + BIG_SIZE)) ] ||
			fail "bytes_served went from $before to $after reading $BIG_REL"
	fi
	check_file_xattrs "$mnt" "$BIG_REL" "$BIG_SIZE"

	step "[$tag] xattrs of directories"
	for d in "${DATASETS[@]}"; do
		py "$PYHELP/mount_tree.py" xattrs "$mnt/datasets/$d" |
			sed -n 's/^user\.aidata\.\([a-z]*\)=.*/\1/p' \
			>"$T/dirx.got" || true
		{
			[ -z "${DS_ORG[$d]}" ] || echo contributor
			printf '%s\n' dataset description industry license modality tier
		} >"$T/dirx.want"
		same_text "xattr names of dataset $d" "$T/dirx.want" "$T/dirx.got"
		if [ -n "${DS_ORG[$d]}" ]; then
			[ "$(getfattr --absolute-names --only-values -n user.aidata.contributor "$mnt/by-contributor/${DS_ORG[$d]}/$d")" = \
				"${DS_ORG[$d]}" ] ||
				fail "user.aidata.contributor of $d differs from datasets.json"
		else
			getfattr --absolute-names -n user.aidata.contributor "$mnt/datasets/$d" \
				>/dev/null 2>&1 && fail "dataset $d has no contributor but the attribute answers"
		fi
		[ "$(getfattr --absolute-names --only-values -n user.aidata.description "$mnt/by-modality/${DS_MOD[$d]}/$d")" = \
			"$(dataset_field "$PLAT_JSON" "$d" description)" ] ||
			fail "user.aidata.description of $d differs from datasets.json"
		[ "$(getfattr --absolute-names --only-values -n user.aidata.industry "$mnt/datasets/$d")" = "${DS_IND[$d]}" ] ||
			fail "user.aidata.industry of $d is wrong"
	done
	d=$(cd "$PLAT_SRC" && find "$OTHER_DS" -mindepth 1 -type d | sort | sed -n 1p)
	if [ -n "$d" ]; then
		py "$PYHELP/mount_tree.py" xattrs "$mnt/datasets/$d" |
			sed -n 's/^user\.aidata\.\([a-z]*\)=.*/\1/p' \
			>"$T/dirx.got" || true
		{
			[ -z "${DS_ORG[$OTHER_DS]}" ] || echo contributor
			printf '%s\n' dataset industry license modality tier
		} >"$T/dirx.want"
		same_text "xattr names of directory $d" "$T/dirx.want" "$T/dirx.got"
	fi
	getfattr --absolute-names -n user.aidata.nonesuch "$mnt/datasets/$SMALL_REL" >/dev/null 2>"$T/getfattr.err" &&
		fail "getfattr of an unknown attribute succeeded"
	grep -q 'No such attribute' "$T/getfattr.err" ||
		{ show "$T/getfattr.err" getfattr; fail "unknown attribute: not ENODATA"; }
	# other namespaces than user.*: "not supported", so that ls -l asks
	# once per filesystem instead of twice per file (#9)
	for name in security.selinux system.posix_acl_access trusted.x; do
		expect_fail_with 'Operation not supported' \
			getfattr --absolute-names -n "$name" "$mnt/datasets/$SMALL_REL"
	done
	expect_fail_with 'Operation not supported' \
		getfattr --absolute-names -n system.posix_acl_default "$mnt/datasets/$OTHER_DS"
	if command -v strace >/dev/null; then
		strace -qq -f -c -e trace=getxattr,lgetxattr -o "$T/ls.strace" \
			ls -l "$mnt/datasets/$OTHER_DS" >/dev/null
		calls=$(awk '$NF ~ /getxattr$/ && $4 ~ /^[0-9]+$/ { n += $4 } END { print n + 0 }' "$T/ls.strace")
		[ "$calls" -le 2 ] ||
			{ show "$T/ls.strace" strace; fail "ls -l made $calls getxattr calls, expected at most 2"; }
	fi
	# and the user.aidata.* attributes still answer after that
	getfattr --absolute-names -n user.aidata.tier "$mnt/datasets/$SMALL_REL" >/dev/null ||
		fail "user.aidata.tier after an unsupported namespace"

	step "[$tag] writes fail with EROFS"
	local f=$mnt/datasets/$SMALL_REL dir=$mnt/datasets/$OTHER_DS
	expect_fail_with 'Read-only file system' touch "$dir/new-file"
	expect_fail_with 'Read-only file system' touch "$f"
	expect_fail_with 'Read-only file system' mkdir "$dir/new-dir"
	expect_fail_with 'Read-only file system' rm -f "$f"
	expect_fail_with 'Read-only file system' rmdir "$dir"
	expect_fail_with 'Read-only file system' bash -c 'echo x >"$1"' _ "$f"
	expect_fail_with 'Read-only file system' bash -c 'echo x >>"$1"' _ "$f"
	expect_fail_with 'Read-only file system' bash -c 'echo x >"$1"' _ "$mnt/.aidata/revision"
	expect_fail_with 'Read-only file system' mv "$f" "$f.moved"
	expect_fail_with 'Read-only file system' ln -s x "$dir/new-link"
	expect_fail_with 'Read-only file system' chmod 777 "$f"
	expect_fail_with 'Read-only file system' truncate -s 0 "$f"
	expect_fail_with 'Read-only file system' setfattr -n user.aidata.tier -v x "$f"
	expect_fail_with 'Read-only file system' mkdir "$mnt/by-industry/new-industry"
	py - "$f" <<'EOF' || fail "os.open for writing did not fail with EROFS"
import errno, os, sys
for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC,
              os.O_WRONLY | os.O_APPEND):
    try:
        os.close(os.open(sys.argv[1], flags))
    except OSError as e:
        if e.errno != errno.EROFS:
            sys.exit("flags %o: %s" % (flags, e))
    else:
        sys.exit("flags %o: open succeeded" % flags)
EOF
	cmp -- "$f" "$PLAT_SRC/$SMALL_REL" || fail "$SMALL_REL changed after the write attempts"

	step "[$tag] /proc/mounts, findmnt and df tell what it is"
	local opts fstype size files want_bytes want_files
	read -r fstype opts < <(awk -v m="$mnt" '$2 == m {print $3, $4}' /proc/mounts)
	[ "$fstype" = fuse.aidatafs ] || fail "/proc/mounts type of $mnt is '$fstype'"
	case ",$opts," in *,ro,*) ;; *) fail "/proc/mounts options of $mnt: '$opts' (not ro)" ;; esac
	findmnt -n -t fuse.aidatafs -o TARGET | grep -qxF -- "$mnt" ||
		fail "findmnt -t fuse.aidatafs does not list $mnt"
	# df's status is not the question: it fails for any other mount on
	# the machine it cannot stat (a dead FUSE mount of another test)
	{ df -t fuse.aidatafs --output=target 2>/dev/null || true; } |
		grep -qxF -- "$mnt" ||
		fail "df -t fuse.aidatafs does not list $mnt"
	{ df --output=target 2>/dev/null || true; } | grep -qxF -- "$mnt" ||
		fail "a plain df hides $mnt"
	want_bytes=$(find "$PLAT_SRC" -mindepth 2 -type f -printf '%s\n' | awk '{s += $1} END {print s}')
	want_files=$(find "$PLAT_SRC" -mindepth 2 -type f | wc -l)
	read -r size files < <(stat -f -c '%b %c' "$mnt")
	[ "$size" -eq $(((want_bytes + 4095) / 4096)) ] ||
		fail "statfs blocks $size, expected the revision's $want_bytes bytes in 4 KiB blocks"
	[ "$files" -eq "$want_files" ] || fail "statfs files $files, expected $want_files"

	step "[$tag] modes: readable by everyone, the tier decides at open"
	[ "$(stat -c %a "$f")" = 444 ] || fail "mode of $f is $(stat -c %a "$f"), expected 444"
	[ "$(stat -c %a "$dir")" = 555 ] || fail "mode of $dir is $(stat -c %a "$dir"), expected 555"
	[ "$(stat -c %a "$mnt/datasets")" = 555 ] || fail "mode of datasets/ is not 555"

	step "[$tag] cp -a copies only the stable attributes"
	mkdir -p "$copy.a"
	cp -a -- "$f" "$copy.a/" || fail "cp -a of $f failed"
	getfattr --absolute-names -d -m - -- "$copy.a/${f##*/}" 2>/dev/null |
		sed -n 's/^\(user\.aidata\.[a-z0-9]*\)="\(.*\)"$/\1=\2/p' |
		sort >"$T/cpa.got" || true
	expected_xattrs "$SMALL_REL"
	same_text "user.aidata.* of a cp -a copy" "$T/xattr.want" "$T/cpa.got"
	rm -rf -- "$copy.a"

	step "[$tag] cp -r of every view equals the source"
	mkdir -p "$copy"
	cp -r "$mnt/datasets" "$mnt/by-industry" "$mnt/by-modality" \
		"$mnt/by-contributor" "$copy/" ||
		fail "cp -r of the views failed"
	tree_digest "$copy/datasets" >"$T/copy.digest"
	same_text "cp -r datasets/" "$T/src.digest" "$T/copy.digest"
	for d in "${DATASETS[@]}"; do
		ind=${DS_IND[$d]}
		mod=${DS_MOD[$d]}
		tree_digest "$copy/by-industry/$ind/$d" >"$T/copy.digest"
		same_text "cp -r by-industry/$ind/$d" "$T/src-$d.digest" "$T/copy.digest"
		tree_digest "$copy/by-modality/$mod/$d" >"$T/copy.digest"
		same_text "cp -r by-modality/$mod/$d" "$T/src-$d.digest" "$T/copy.digest"
		[ -n "${DS_ORG[$d]}" ] || continue
		tree_digest "$copy/by-contributor/${DS_ORG[$d]}/$d" >"$T/copy.digest"
		same_text "cp -r by-contributor/${DS_ORG[$d]}/$d" "$T/src-$d.digest" "$T/copy.digest"
	done
	# every dataset under its own labels and nowhere else (a dataset
	# without a contributor under no contributor)
	for view in industry modality contributor; do
		for d in "${DATASETS[@]}"; do
			case $view in
			industry) echo "${DS_IND[$d]}/$d" ;;
			modality) echo "${DS_MOD[$d]}/$d" ;;
			*) [ -z "${DS_ORG[$d]}" ] || echo "${DS_ORG[$d]}/$d" ;;
			esac
		done | sort >"$T/labels.want"
		(cd "$copy/by-$view" && find . -mindepth 2 -maxdepth 2 -printf '%P\n' | sort) >"$T/labels.got"
		same_text "datasets under by-$view/ (copy)" "$T/labels.want" "$T/labels.got"
		(cd "$mnt/by-$view" && find . -mindepth 2 -maxdepth 2 -printf '%P\n' | sort) >"$T/labels.got"
		same_text "datasets under by-$view/ (mount)" "$T/labels.want" "$T/labels.got"
		cut -d/ -f1 "$T/labels.want" | sort -u >"$T/labels.top"
		ls "$mnt/by-$view" | sort >"$T/labels.got"
		same_text "ls by-$view" "$T/labels.top" "$T/labels.got"
	done
	ls -a "$mnt" | sort >"$T/root.got"
	printf '%s\n' . .. .aidata by-contributor by-industry by-modality datasets |
		sort >"$T/root.want"
	same_text "ls -a of the mount root" "$T/root.want" "$T/root.got"

	step "[$tag] find, du -b and metadata equal the source's"
	(cd "$mnt/datasets" && find . -mindepth 1 -printf '%P %y\n' | sort) >"$T/mnt.find"
	same_text "find datasets/" "$T/src.find" "$T/mnt.find"
	py "$PYHELP/mount_tree.py" meta "$mnt/datasets" >"$T/mnt.meta"
	same_text "metadata of datasets/" "$T/src.meta" "$T/mnt.meta"
	total=0
	for d in "${DATASETS[@]}"; do
		for path in $(views_of "$d" | sed "s|^|$mnt/|"); do
			[ "$(du -sb "$path" | cut -f1)" = "${DS_DU[$d]}" ] ||
				fail "du -sb $path is $(du -sb "$path" | cut -f1), source ${DS_DU[$d]}"
		done
		py "$PYHELP/mount_tree.py" meta "$mnt/by-industry/${DS_IND[$d]}/$d" >"$T/mnt.meta"
		same_text "metadata of by-industry/${DS_IND[$d]}/$d" "$T/src-$d.meta" "$T/mnt.meta"
		py "$PYHELP/mount_tree.py" meta "$mnt/by-modality/${DS_MOD[$d]}/$d" >"$T/mnt.meta"
		same_text "metadata of by-modality/${DS_MOD[$d]}/$d" "$T/src-$d.meta" "$T/mnt.meta"
		if [ -n "${DS_ORG[$d]}" ]; then
			py "$PYHELP/mount_tree.py" meta "$mnt/by-contributor/${DS_ORG[$d]}/$d" >"$T/mnt.meta"
			same_text "metadata of by-contributor/${DS_ORG[$d]}/$d" "$T/src-$d.meta" "$T/mnt.meta"
		fi
		total=$((total + $(find "$PLAT_SRC/$d" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')))
	done

	step "[$tag] stats after reading everything"
	cat "$mnt/.aidata/stats" >"$T/stats2"
	py "$PYHELP/mount_tree.py" prom "$T/stats2" >/dev/null ||
		{ show "$T/stats2" stats; fail ".aidata/stats is not Prometheus text"; }
	after=$(stat_value "$mnt" aidatafs_bytes_served_total)
	[ "$after" -ge "$total" ] ||
		fail "bytes_served is $after after reading $total bytes of files"
	[ "$(stat_value "$mnt" aidatafs_errors_total '{kind="verify"}')" = 0 ] ||
		fail "verify errors on a pristine repository"
	[ "$(getfattr --absolute-names --only-values -n user.aidata.cached "$mnt/datasets/$BIG_DS")" -gt 0 ] ||
		fail "dataset $BIG_DS shows no cached bytes after reading it"
	mount_alive "$mnt" || fail "aidatafs died"
	mount_stop "$mnt"
	grep -Eq '(error|warn)' "$log" && { show "$log" "aidatafs log"; fail "aidatafs logged errors or warnings"; }
	rm -rf "$copy"
}

check_mount file "file://$PLAT_REPO"

step "nginx"
nginx_start "$PLAT_REPO"
check_mount http "$NGINX_URL/" nginx
nginx_stop

# A relative cache directory means relative to where aidatafs was started.
check_relative_cache() {
	step "cache=relative/path"
	mkdir -p "$T/rel"
	cd "$T/rel"
	mount_start "file://$PLAT_REPO" "$T/mnt-rel" "$T/fs-rel.log" \
		"pubkey=$PLAT_PUB,$PLAT_AUTH,cache=relcache"
	cmp -- "$T/mnt-rel/datasets/$SMALL_REL" "$PLAT_SRC/$SMALL_REL" ||
		{ show "$T/fs-rel.log" "aidatafs log"; fail "reading with cache=relcache failed"; }
	[ -d "$T/rel/relcache/chunks" ] || fail "cache=relcache did not create $T/rel/relcache"
	mount_stop "$T/mnt-rel"
}
independent check_relative_cache
independent_done
echo "test_mount_views: ok"

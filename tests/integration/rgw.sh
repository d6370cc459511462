# shellcheck shell=bash
#
# rgw.sh: a throwaway one-node Ceph cluster with a RADOS Gateway (S3) on
# 127.0.0.1 for tests and benchmarks (/work/shared/ENGINES.md has the
# facts): one mon, one OSD on memstore (RAM only), no mgr, and radosgw's
# beast frontend with tcp_nodelay=1. Everything lives in a temporary
# directory and every process is stopped by its pid. Source it:
#
#	. "$SRCDIR/tests/integration/rgw.sh"
#	trap rgw_stop EXIT          # or call rgw_stop from your own trap
#	rgw_start || exit 1         # about 20 s (tests: s3_test_init first)
#	rgw_user alice AKALICE SECRETALICE
#	rgw_s3 AKALICE SECRETALICE PUT /bucket        # create a bucket
#	rgw_s3 AKALICE SECRETALICE PUT /bucket/key -T file
#
# Functions:
#   rgw_start [MEMSTORE_BYTES]
#	Start mon, OSD and radosgw (default store 2 GiB of RAM, allocated as
#	used; with RGW_STS=1 in the environment, its STS too). Returns once
#	radosgw answers HTTP on / (bounded waits), else prints the logs'
#	tails and returns 1.
#   rgw_stop
#	TERM, then KILL, each process this shell started; removes the temp
#	dir. Safe to call any number of times.
#   rgw_user UID ACCESS_KEY SECRET_KEY
#	Create an S3 user with those keys (radosgw-admin).
#   rgw_s3 ACCESS_KEY SECRET_KEY METHOD PATH [curl args...]
#	One SigV4-signed request (curl --aws-sigv4, path-style), the body
#	to stdout; fails (curl -f) on an HTTP error.
#   rgw_s3_body ACCESS_KEY SECRET_KEY METHOD PATH FILE
#	The same with FILE as the body (signed with its SHA-256).
#   rgw_public_bucket ACCESS_KEY SECRET_KEY BUCKET
#	Make BUCKET's objects readable anonymously (a bucket policy).
#   rgw_put_tree ACCESS_KEY SECRET_KEY DIR /BUCKET/PREFIX
#	Upload every file under DIR with curl (names relative to DIR).
#   rgw_access_count
#	The number of S3 requests radosgw has logged so far (its "beast:"
#	access lines), for "how much did the origin serve" checks.
#   rgw_bytes_sent
#	The body bytes radosgw sent so far, summed over its access lines.
#   s3_credentials_file FILE ACCESS_KEY SECRET_KEY [SESSION_TOKEN]
#	Write an AWS shared credentials file (profile default), mode 0600.
#   s3_test_init
#	The start of every s3 suite test (after mount_lib.sh): $T, cleanup
#	at exit, no AWS or proxy variables, HOME=$T/home.
#   rgw_sts_credentials UID ACCESS_KEY SECRET_KEY
#	Temporary credentials from radosgw's STS (AssumeRole; rgw_start with
#	RGW_STS=1): sets STS_AK,
#	STS_SK and STS_TOKEN (the session token).
#
# Exports RGW_PORT, RGW_URL (http://127.0.0.1:PORT), RGW_DIR, RGW_LOG.

RGW_REGION=${RGW_REGION:-us-east-1}
_rgw_pids=()

_rgw_say() {
	echo "rgw.sh: $*" >&2
}

_rgw_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

_rgw_ceph() {
	ceph -c "$RGW_DIR/ceph.conf" --connect-timeout 10 "$@"
}

_rgw_tails() {
	local f
	for f in "$RGW_DIR"/log/*.log "$RGW_DIR"/*.out; do
		[[ -f $f ]] || continue
		echo "--- $f (tail) ---" >&2
		tail -n 15 "$f" >&2
	done
}

# Wait until command "$@" succeeds, at most $RGW_WAIT seconds.
_rgw_wait() {
	local n=$((${RGW_WAIT:-120} * 4))
	while ((n-- > 0)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	return 1
}

_rgw_osd_up() {
	_rgw_ceph osd dump 2>/dev/null | grep -q '^osd\.0 up'
}

_rgw_http_up() {
	curl -s --noproxy '*' -o /dev/null --max-time 2 "$RGW_URL/"
}

rgw_start() {
	local store=${1:-2147483648} fsid mon_port uuid
	rgw_stop
	for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool \
		ceph-authtool ceph; do
		command -v "$b" >/dev/null || {
			_rgw_say "$b not found (apt-get install ceph-mon ceph-osd radosgw)"
			return 1
		}
	done
	RGW_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aidata-rgw-XXXXXX") || return 1
	mkdir -p "$RGW_DIR"/{mon,osd,rgw,run,log}
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mon_port=$(_rgw_free_port)
	RGW_PORT=$(_rgw_free_port)
	RGW_URL=http://127.0.0.1:$RGW_PORT
	RGW_LOG=$RGW_DIR/log/rgw.log
	export RGW_DIR RGW_PORT RGW_URL RGW_LOG
	cat >"$RGW_DIR/ceph.conf" <<EOF
# Written by tests/integration/rgw.sh.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# Without cephx only the crc connection mode exists; radosgw would ask
# for "secure" on its monitor connection and never connect.
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon warn on pool no redundancy = false
run dir = $RGW_DIR/run
admin socket = $RGW_DIR/run/\$name.asok
log file = $RGW_DIR/log/\$name.log
mon data = $RGW_DIR/mon
osd data = $RGW_DIR/osd
osd objectstore = memstore
memstore device bytes = $store
osd max object size = 1073741824
rgw data = $RGW_DIR/rgw
keyring = $RGW_DIR/keyring

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw dns name = localhost
log file = $RGW_LOG
debug rgw = 1
rgw enable usage log = false
EOF
	# STS changes how radosgw answers a bad signature (AccessDenied,
	# not SignatureDoesNotMatch): only for the tests that ask for it
	if [[ ${RGW_STS:-0} = 1 ]]; then
		cat >>"$RGW_DIR/ceph.conf" <<EOF
# STS (AssumeRole): temporary credentials with a session token
rgw sts key = aidatatestsTSkey
rgw s3 auth use sts = true
EOF
	fi
	monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" \
		"$RGW_DIR/monmap" >"$RGW_DIR/mkfs.out" 2>&1 &&
		ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key \
			-n mon. --cap mon 'allow *' >>"$RGW_DIR/mkfs.out" 2>&1 &&
		ceph-mon -c "$RGW_DIR/ceph.conf" --mkfs -i a \
			--monmap "$RGW_DIR/monmap" \
			--keyring "$RGW_DIR/keyring" >>"$RGW_DIR/mkfs.out" 2>&1 || {
		_rgw_say "cannot make the monitor"
		_rgw_tails
		return 1
	}
	ceph-mon -c "$RGW_DIR/ceph.conf" -f -i a >"$RGW_DIR/mon.out" 2>&1 &
	_rgw_pids+=($!)
	uuid=$(cat /proc/sys/kernel/random/uuid)
	_rgw_wait _rgw_ceph osd new "$uuid" || {
		_rgw_say "the monitor does not answer"
		_rgw_tails
		return 1
	}
	ceph-osd -c "$RGW_DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" \
		>>"$RGW_DIR/mkfs.out" 2>&1 || {
		_rgw_say "cannot make the OSD"
		_rgw_tails
		return 1
	}
	ceph-osd -c "$RGW_DIR/ceph.conf" -f -i 0 >"$RGW_DIR/osd.out" 2>&1 &
	_rgw_pids+=($!)
	_rgw_wait _rgw_osd_up || {
		_rgw_say "osd.0 does not come up"
		_rgw_tails
		return 1
	}
	radosgw -c "$RGW_DIR/ceph.conf" -n client.rgw.a -f \
		>"$RGW_DIR/rgw.out" 2>&1 &
	_rgw_pids+=($!)
	_rgw_wait _rgw_http_up || {
		_rgw_say "radosgw does not answer on $RGW_URL"
		_rgw_tails
		return 1
	}
	return 0
}

rgw_stop() {
	local pid n
	((${#_rgw_pids[@]})) || {
		[[ -n ${RGW_DIR:-} && -d $RGW_DIR ]] && rm -rf "$RGW_DIR"
		return 0
	}
	# radosgw first, the OSD, then the monitor: the reverse of start.
	for ((i = ${#_rgw_pids[@]} - 1; i >= 0; i--)); do
		pid=${_rgw_pids[i]}
		kill -TERM "$pid" 2>/dev/null || continue
		n=100
		while kill -0 "$pid" 2>/dev/null && ((n-- > 0)); do
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	_rgw_pids=()
	[[ -n ${RGW_DIR:-} && -d $RGW_DIR ]] && rm -rf "$RGW_DIR"
	RGW_DIR=
	return 0
}

rgw_user() {
	radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw.a user create \
		--uid="$1" --display-name="$1" --access-key="$2" \
		--secret-key="$3" >"$RGW_DIR/user-$1.json" 2>"$RGW_DIR/user-$1.err" || {
		_rgw_say "cannot create user $1: $(cat "$RGW_DIR/user-$1.err")"
		return 1
	}
}

rgw_s3() {
	local ak=$1 sk=$2 method=$3 path=$4
	shift 4
	curl -sf --noproxy '*' --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$ak:$sk" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		-X "$method" "$@" "$RGW_URL$path"
}

rgw_public_bucket() {
	local f=$RGW_DIR/policy-$3.json
	printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}' "$3" "$3" >"$f"
	rgw_s3_body "$1" "$2" PUT "/$3?policy=" "$f" >/dev/null
}

# rgw_s3_body ACCESS_KEY SECRET_KEY METHOD PATH FILE: a request whose body
# is FILE, signed with the body's SHA-256 (UNSIGNED-PAYLOAD is only good
# for uploads curl streams).
# Debian 12's curl signs the query as written: spell "?policy=" and sort
# the parameters, as SigV4's canonical form has them.
rgw_s3_body() {
	local h
	h=$(sha256sum "$5" | cut -d' ' -f1)
	curl -sf --noproxy '*' --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$1:$2" -H "x-amz-content-sha256: $h" -X "$3" \
		--data-binary "@$5" "$RGW_URL$4"
}

rgw_access_count() {
	grep -c 'beast: .* "[A-Z]* /' "$RGW_LOG" 2>/dev/null || echo 0
}

rgw_bytes_sent() {
	# beast lines: ... "GET /b/k HTTP/1.1" 206 BYTES - "ua" ...
	awk '/beast: .* "[A-Z]+ \// {
		for (i = 1; i < NF; i++)
			if ($i ~ /^HTTP\/1\.[01]"$/) { s += $(i + 2); break }
	} END { printf "%.0f\n", s }' "$RGW_LOG" 2>/dev/null
}

# rgw_put_tree ACCESS_KEY SECRET_KEY DIR /BUCKET/PREFIX: upload every file
# under DIR (a repository) with curl, object names relative to DIR.
rgw_put_tree() {
	local ak=$1 sk=$2 dir=$3 dest=$4 f
	(cd "$dir" && find . -type f | sed 's|^\./||') | while read -r f; do
		rgw_s3 "$ak" "$sk" PUT "$dest/$f" -T "$dir/$f" >/dev/null || {
			_rgw_say "cannot upload $f to $dest"
			return 1
		}
	done
}

# rgw_sts_credentials UID AK SK: temporary credentials for user UID (who
# signs with AK/SK) from radosgw's STS, AssumeRole on a role allowing
# s3:* that UID may assume. Sets STS_AK, STS_SK and STS_TOKEN (the
# session token every request must then carry).
rgw_sts_credentials() {
	local uid=$1 role="sts-$1" xml
	radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw.a caps add \
		--uid="$uid" --caps="roles=*" >/dev/null 2>&1 &&
		radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw.a role create \
			--role-name="$role" --path=/ \
			--assume-role-policy-doc="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam:::user/$uid\"]},\"Action\":[\"sts:AssumeRole\"]}]}" \
			>/dev/null 2>&1 &&
		radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw.a role-policy put \
			--role-name="$role" --policy-name=all \
			--policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}]}' \
			>/dev/null 2>&1 || {
		_rgw_say "cannot make role $role"
		return 1
	}
	xml=$(curl -sf --noproxy '*' --aws-sigv4 "aws:amz:$RGW_REGION:sts" \
		--user "$2:$3" -X POST \
		-d "Action=AssumeRole&RoleArn=arn:aws:iam:::role/$role&RoleSessionName=tests&Version=2011-06-15&DurationSeconds=3600" \
		"$RGW_URL/") || {
		_rgw_say "AssumeRole failed"
		return 1
	}
	STS_AK=$(sed -n 's:.*<AccessKeyId>\([^<]*\)</AccessKeyId>.*:\1:p' <<<"$xml")
	STS_SK=$(sed -n 's:.*<SecretAccessKey>\([^<]*\)</SecretAccessKey>.*:\1:p' <<<"$xml")
	STS_TOKEN=$(sed -n 's:.*<SessionToken>\([^<]*\)</SessionToken>.*:\1:p' <<<"$xml")
	[[ -n $STS_AK && -n $STS_SK && -n $STS_TOKEN ]] || {
		_rgw_say "AssumeRole answered without credentials: $xml"
		return 1
	}
}

# s3_test_init: the start of every test of the s3 suite, after sourcing
# mount_lib.sh and this file: mount_test_init ($T), radosgw and the
# mounts stopped at exit, none of the caller's AWS variables or proxy
# settings (each test sets exactly what it means), HOME=$T/home.
s3_test_init() {
	mount_test_init
	trap 'rc=$?; rgw_stop; mount_cleanup; exit $rc' EXIT
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
		AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_ENDPOINT_URL_S3 \
		AWS_ENDPOINT_URL AWS_REGION http_proxy https_proxy no_proxy \
		HTTP_PROXY HTTPS_PROXY NO_PROXY all_proxy
	export HOME=$T/home
	mkdir -p "$HOME"
}

# s3_credentials_file FILE ACCESS_KEY SECRET_KEY [SESSION_TOKEN]: an AWS
# shared credentials file (profile default), mode 0600.
s3_credentials_file() {
	(
		umask 077
		printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
			"$2" "$3" >"$1"
		[ -z "${4:-}" ] || printf 'aws_session_token = %s\n' "$4" >>"$1"
	)
	chmod 600 "$1"
}

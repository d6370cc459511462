# shellcheck shell=bash
#
# nginx.sh: a throwaway nginx (Debian's /usr/sbin/nginx) for integration
# tests, on 127.0.0.1 and a free port, with its own prefix, config, pid
# file and logs in a temporary directory. Source it, never run it:
#
#	. "$SRCDIR/tests/integration/nginx.sh"
#	trap nginx_stop EXIT        # or call nginx_stop from your own trap
#	nginx_start "$root" "$(nginx_fault_conf "$root")"
#	curl "$NGINX_URL/some/file"
#	mark=$(nginx_log_mark)
#	...
#	nginx_log_since "$mark"     # access log lines written after the mark
#	nginx_stop                  # idempotent; the trap calls it again
#
# Functions:
#   nginx_start ROOT [EXTRA_SERVER_CONF]
#	Serve ROOT at / and add EXTRA_SERVER_CONF (nginx directives, e.g.
#	"location /x/ { return 503; }") inside the server block. Stops an
#	instance this shell started before. Reuses the previous NGINX_PORT
#	when it is still free, so a restarted origin has the same URL.
#	Returns once nginx answers (bounded), else prints its error log and
#	returns 1.
#   nginx_stop
#	Graceful stop (QUIT), then TERM, then KILL, each with a bounded
#	wait for the master and its workers to exit; removes the temp dir.
#	Safe to call any number of times, with or without nginx running.
#   nginx_reload [EXTRA_SERVER_CONF]
#	Rewrite the config (new extra directives if given), check it, send
#	HUP and wait until a new worker serves.
#   nginx_fault_conf ROOT
#	Print standard fault-injection locations serving ROOT:
#	  /fault/503/ /fault/500/ /fault/429/ /fault/403/  that status
#	  /fault/redirect/X  302 to /X (the same object at the root)
#	  /fault/loop/X      302 to itself, for ever
#	  /fault/to-http/X   302 to http://127.0.0.1:NGINX_PORT/X
#	  /fault/to-https/X  302 to https://127.0.0.1:NGINX_TLS_PORT/X
#	  /fault/norange/   ROOT, Range ignored (max_ranges 0: always 200)
#	  /fault/slow/      ROOT at 1 KiB/s (limit_rate 1k)
#	In EXTRA_SERVER_CONF, @NGINX_PORT@ and @NGINX_TLS_PORT@ stand for
#	the ports, which are only known once nginx starts.
#   nginx_log_mark, nginx_log_since MARK, nginx_log_wait MARK N [SECS]
#	Access log positions: lines after MARK; wait until at least N.
#
# NGINX_HTTP_CONF, if set, is added inside the http block (directives
# such as proxy_cache_path that a server block cannot hold).
#
# With NGINX_TLS=1 in the environment, nginx_start also serves https on
# a second port with a fresh self-signed certificate for 127.0.0.1, and
# exports NGINX_TLS_PORT, NGINX_TLS_URL (https://127.0.0.1:PORT) and
# NGINX_TLS_CA (the certificate, a CA bundle for clients).
#
# Exports NGINX_PORT, NGINX_URL (http://127.0.0.1:PORT), NGINX_DIR,
# NGINX_ACCESS_LOG and NGINX_ERROR_LOG. Access log lines read
#	$connection $connection_requests $status $request_method $uri
#	"$http_range" $body_bytes_sent $request_time
# so equal first fields mean one kept-alive TCP connection.

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
_nginx_pid=""   # master pid of the instance this shell started
_nginx_root=""
_nginx_extra=""

_nginx_say() {
	echo "nginx.sh: $*" >&2
}

_nginx_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Is anything listening on 127.0.0.1:$1? (A bind attempt, no traffic.)
_nginx_port_free() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

_nginx_write_conf() {
	local dir=$NGINX_DIR extra=$_nginx_extra tls=""
	extra=${extra//@NGINX_PORT@/$NGINX_PORT}
	extra=${extra//@NGINX_TLS_PORT@/${NGINX_TLS_PORT:-0}}
	if [[ ${NGINX_TLS:-} == 1 ]]; then
		tls="listen 127.0.0.1:$NGINX_TLS_PORT ssl;
		ssl_certificate $dir/tls.pem;
		ssl_certificate_key $dir/tls.key;"
	fi
	cat >"$dir/nginx.conf" <<EOF
# Written by tests/integration/nginx.sh.
daemon on;
master_process on;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log info;
worker_shutdown_timeout 5s;

events {
	worker_connections 256;
}

http {
	default_type application/octet-stream;
	types { }
	sendfile on;
	server_tokens off;
	keepalive_timeout 60s;
	keepalive_requests 10000;
	client_body_temp_path $dir/tmp/client_body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	log_format origin '\$connection \$connection_requests \$status '
			  '\$request_method \$uri "\$http_range" '
			  '\$body_bytes_sent \$request_time';
	access_log $dir/access.log origin;
${NGINX_HTTP_CONF:-}

	server {
		listen 127.0.0.1:$NGINX_PORT;
		$tls
		server_name localhost;
		root $_nginx_root;

		# The harness's own readiness probe, kept out of the log.
		location = /__nginx_ready {
			access_log off;
			return 204;
		}

$extra
	}
}
EOF
}

# A self-signed certificate for 127.0.0.1 in NGINX_DIR (NGINX_TLS=1).
_nginx_tls_cert() {
	[[ ${NGINX_TLS:-} == 1 ]] || return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 \
		-keyout "$NGINX_DIR/tls.key" -out "$NGINX_DIR/tls.pem" \
		2>"$NGINX_DIR/openssl.log" || {
		_nginx_say "cannot make a certificate: $(cat "$NGINX_DIR/openssl.log")"
		return 1
	}
	NGINX_TLS_CA=$NGINX_DIR/tls.pem
	export NGINX_TLS_CA
}

# Wait until $1 (a pid) is gone; at most $2 tenths of a second.
_nginx_wait_gone() {
	local pid=$1 n=$2
	while kill -0 "$pid" 2>/dev/null; do
		((n-- > 0)) || return 1
		sleep 0.1
	done
	return 0
}

_nginx_workers() {
	pgrep -P "$1" 2>/dev/null || true
}

# Poll the readiness location; at most $1 tenths of a second.
_nginx_wait_ready() {
	local n=$1 code
	while ((n-- > 0)); do
		code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 1 \
			"$NGINX_URL/__nginx_ready" 2>/dev/null || true)
		[[ $code == 204 ]] && return 0
		sleep 0.1
	done
	return 1
}

nginx_start() {
	local root=${1:?nginx_start ROOT [EXTRA_SERVER_CONF]}
	local extra=${2:-} attempt out

	nginx_stop
	if [[ ! -x $NGINX_BIN ]]; then
		_nginx_say "$NGINX_BIN not found"
		return 1
	fi
	_nginx_root=$(cd "$root" && pwd) || return 1
	_nginx_extra=$extra
	NGINX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aidata-nginx-XXXXXX") || return 1
	NGINX_ACCESS_LOG=$NGINX_DIR/access.log
	NGINX_ERROR_LOG=$NGINX_DIR/error.log
	export NGINX_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG
	mkdir -p "$NGINX_DIR/tmp"
	: >"$NGINX_ACCESS_LOG"
	_nginx_tls_cert || return 1

	# Picking a free port and binding it are not atomic: retry on a clash.
	for attempt in 1 2 3 4 5; do
		if [[ $attempt != 1 || -z ${NGINX_PORT:-} ]] ||
			! _nginx_port_free "$NGINX_PORT"; then
			NGINX_PORT=$(_nginx_free_port) || return 1
		fi
		NGINX_URL=http://127.0.0.1:$NGINX_PORT
		export NGINX_PORT NGINX_URL
		if [[ ${NGINX_TLS:-} == 1 ]]; then
			if [[ $attempt != 1 || -z ${NGINX_TLS_PORT:-} ]] ||
				! _nginx_port_free "$NGINX_TLS_PORT"; then
				NGINX_TLS_PORT=$(_nginx_free_port) || return 1
			fi
			NGINX_TLS_URL=https://127.0.0.1:$NGINX_TLS_PORT
			export NGINX_TLS_PORT NGINX_TLS_URL
		fi
		_nginx_write_conf
		if out=$("$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" \
			-e "$NGINX_ERROR_LOG" 2>&1); then
			break
		fi
		if [[ $out != *"Address already in use"* || $attempt == 5 ]]; then
			_nginx_say "cannot start nginx: $out"
			return 1
		fi
	done

	# daemon on: the command returned once the master wrote its pid file.
	_nginx_pid=$(cat "$NGINX_DIR/nginx.pid" 2>/dev/null || true)
	if [[ -z $_nginx_pid ]] || ! _nginx_wait_ready 100; then
		_nginx_say "nginx on $NGINX_URL does not answer; error log:"
		cat "$NGINX_ERROR_LOG" >&2 || true
		nginx_stop
		return 1
	fi
	return 0
}

nginx_stop() {
	local pid=$_nginx_pid workers w sig ok

	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		workers=$(_nginx_workers "$pid")
		# QUIT finishes requests in flight (bounded by
		# worker_shutdown_timeout); TERM and KILL if it hangs anyway.
		for sig in QUIT TERM KILL; do
			kill -"$sig" "$pid" 2>/dev/null || true
			if [[ $sig == KILL ]]; then
				for w in $workers; do
					kill -KILL "$w" 2>/dev/null || true
				done
			fi
			ok=1
			_nginx_wait_gone "$pid" 100 || ok=0
			for w in $workers; do
				_nginx_wait_gone "$w" 100 || ok=0
			done
			((ok)) && break
			_nginx_say "nginx $pid did not exit on $sig"
		done
	fi
	_nginx_pid=""
	if [[ -n ${NGINX_DIR:-} && -d $NGINX_DIR && -z ${NGINX_KEEP:-} ]]; then
		rm -rf "$NGINX_DIR"
	fi
	return 0
}

nginx_reload() {
	local old w n out fresh

	if [[ -z $_nginx_pid ]] || ! kill -0 "$_nginx_pid" 2>/dev/null; then
		_nginx_say "nginx_reload: nginx is not running"
		return 1
	fi
	(($# > 0)) && _nginx_extra=$1
	_nginx_write_conf
	if ! out=$("$NGINX_BIN" -t -q -p "$NGINX_DIR/" \
		-c "$NGINX_DIR/nginx.conf" -e "$NGINX_ERROR_LOG" 2>&1); then
		_nginx_say "nginx_reload: bad config: $out"
		return 1
	fi
	old=" $(_nginx_workers "$_nginx_pid" | tr '\n' ' ') "
	kill -HUP "$_nginx_pid"
	# Done when a worker that was not there before runs and the old ones
	# are gone (they close idle keep-alive connections and exit).
	for ((n = 100; n > 0; n--)); do
		fresh=0
		for w in $(_nginx_workers "$_nginx_pid"); do
			[[ $old == *" $w "* ]] || fresh=1
		done
		((fresh)) && break
		sleep 0.1
	done
	if ((n == 0)); then
		_nginx_say "nginx_reload: no new worker after HUP"
		return 1
	fi
	for w in $old; do
		_nginx_wait_gone "$w" 100 ||
			_nginx_say "nginx_reload: old worker $w still running"
	done
	_nginx_wait_ready 100
}

nginx_fault_conf() {
	local root
	root=$(cd "${1:?nginx_fault_conf ROOT}" && pwd) || return 1
	cat <<EOF
		location /fault/503/ { return 503; }
		location /fault/500/ { return 500; }
		location /fault/429/ { return 429; }
		location /fault/403/ { return 403; }
		location /fault/redirect/ {
			rewrite ^/fault/redirect/(.*)\$ /\$1 redirect;
		}
		location /fault/loop/ { return 302 \$uri; }
		location /fault/to-http/ {
			rewrite ^/fault/to-http/(.*)\$ http://127.0.0.1:@NGINX_PORT@/\$1 redirect;
		}
		location /fault/to-https/ {
			rewrite ^/fault/to-https/(.*)\$ https://127.0.0.1:@NGINX_TLS_PORT@/\$1 redirect;
		}
		location /fault/norange/ {
			alias $root/;
			max_ranges 0;
		}
		location /fault/slow/ {
			alias $root/;
			limit_rate 1k;
		}
EOF
}

nginx_log_mark() {
	if [[ -f ${NGINX_ACCESS_LOG:-} ]]; then
		wc -l <"$NGINX_ACCESS_LOG" | tr -d ' '
	else
		echo 0
	fi
}

nginx_log_since() {
	tail -n +"$((${1:?nginx_log_since MARK} + 1))" "$NGINX_ACCESS_LOG"
}

# nginx writes a line when it finishes a request, which can be just after
# the client has its answer: wait (bounded) for at least N new lines.
nginx_log_wait() {
	local mark=${1:?} want=${2:?} n=$((${3:-5} * 10))
	while (($(nginx_log_since "$mark" | wc -l) < want)); do
		((n-- > 0)) || return 1
		sleep 0.1
	done
	return 0
}

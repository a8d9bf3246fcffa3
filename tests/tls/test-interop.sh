#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Real TLS clients against tls-test-server (src/tls driven by a poll loop):
# openssl s_client with -sess_out/-sess_in (TLS 1.3 PSK, TLS 1.2 ticket, TLS 1.2
# session ID), ALPN, old protocol versions, a foreign session; gnutls-cli --resume;
# Python's ssl module with session= over a control connection that stays open.
set -euo pipefail

: "${TLS_SERVER:?TLS_SERVER must point at tls-test-server}"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCALE=${BERTH_TIMEOUT_SCALE:-1}
T=$(mktemp -d /tmp/berth-tls-interop.XXXXXX)
PIDS=()

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[[ -f $f ]] && { echo "---- $f" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}
ok() { echo "ok - $*"; }

# Certificates the way an admin makes them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
	-keyout "$T/ec.key" -out "$T/ec.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/rsa.key" -out "$T/rsa.crt" 2>/dev/null
chmod 600 "$T"/*.key

# start_server NAME CERT KEY [--keep-control]: sets PORT; log in $T/NAME.log
start_server() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$TLS_SERVER" "$1" "$2" "$T/$name.port" "${@:3}" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		[[ -s $T/$name.port ]] && break
		kill -0 "${PIDS[-1]}" 2>/dev/null || fail "$name server did not start"
		sleep 0.05
	done
	[[ -s $T/$name.port ]] || fail "$name server did not start"
	PORT=$(cat "$T/$name.port")
}

# client OUT ARGS...: one s_client run (stdin closed, waits for the server's close)
client() {
	local out=$1
	shift
	timeout $((20 * SCALE)) openssl s_client -connect "127.0.0.1:$PORT" -ign_eof \
		"$@" </dev/null >"$T/$out.out" 2>&1 || true
}

# wait_log NAME PATTERN: the server has logged PATTERN (it logs after each outcome)
wait_log() {
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		grep -q -- "$2" "$T/$1.log" && return 0
		sleep 0.05
	done
	fail "$1: no \"$2\" in the server log"
}

# resumption NAME VERSION-FLAG EXTRA...: control, 3 resumed data connections, a data
# connection without session, one with another server's session.
resumption() {
	local name=$1 ver=$2
	shift 2
	start_server "$name" "$T/ec.crt" "$T/ec.key"
	client "$name-control" "$ver" "$@" -sess_out "$T/$name.sess"
	grep -q "^OK control" "$T/$name-control.out" || fail "$name: control connection"
	[[ -s $T/$name.sess ]] || fail "$name: no session saved"
	for i in 1 2 3; do
		client "$name-data$i" "$ver" "$@" -sess_in "$T/$name.sess"
		grep -q "^OK data .* resumed" "$T/$name-data$i.out" ||
			fail "$name: data connection $i did not resume"
		grep -q "^Reused, " "$T/$name-data$i.out" || fail "$name: client says not reused"
	done
	wait_log "$name" "data ok .* resumed"
	[[ $(grep -c "data ok .* resumed" "$T/$name.log") -eq 3 ]] || fail "$name: 3 resumed"
	ok "$name: control + 3 data connections resumed ($(grep -m1 -o 'TLSv1\.[23] [A-Z0-9_-]*' "$T/$name.log" | head -1))"

	client "$name-nosess" "$ver" "$@"
	grep -q "^OK data" "$T/$name-nosess.out" && fail "$name: full handshake accepted"
	grep -qi "alert handshake failure" "$T/$name-nosess.out" ||
		fail "$name: no handshake_failure alert for a full handshake"
	wait_log "$name" "data refused NOT_RESUMED: client offered no TLS session"
	ok "$name: data connection without session refused (handshake_failure, NOT_RESUMED)"

	# A session issued by another server (another connection's ticket key).
	local save=$PORT
	start_server "$name-other" "$T/ec.crt" "$T/ec.key"
	client "$name-other-control" "$ver" "$@" -sess_out "$T/$name-other.sess"
	[[ -s $T/$name-other.sess ]] || fail "$name: other session not saved"
	PORT=$save
	client "$name-foreign" "$ver" "$@" -sess_in "$T/$name-other.sess"
	grep -q "^OK data" "$T/$name-foreign.out" && fail "$name: foreign session accepted"
	wait_log "$name" "data refused NOT_RESUMED: client offered a TLS session that is not"
	ok "$name: another connection's session refused"
}

resumption tls13 -tls1_3
resumption tls12-ticket -tls1_2
resumption tls12-sessionid -tls1_2 -no_ticket

# ALPN and protocol versions against a fresh server (all control connections).
start_server alpn "$T/rsa.crt" "$T/rsa.key"
client alpn-http -alpn http/1.1
grep -q "^OK" "$T/alpn-http.out" && fail "ALPN http/1.1 accepted"
grep -qi "no application protocol" "$T/alpn-http.out" || fail "no no_application_protocol alert"
wait_log alpn "control refused ALPN: client offered ALPN \"http/1.1\""
ok "ALPN http/1.1 refused with no_application_protocol (ALPACA)"
for v in -tls1 -tls1_1; do
	client "alpn$v" "$v" -cipher 'DEFAULT@SECLEVEL=0'
	grep -q "^OK" "$T/alpn$v.out" && fail "$v accepted"
	ok "$v refused"
done
wait_log alpn "control refused HANDSHAKE: unsupported protocol"
client alpn-ftp -alpn ftp -tls1_2
grep -q "^OK control TLSv1.2 alpn=ftp" "$T/alpn-ftp.out" || fail "ALPN ftp refused"
grep -q "ALPN protocol: ftp" "$T/alpn-ftp.out" || fail "client did not see ALPN ftp"
ok "ALPN ftp accepted (RSA certificate, TLS 1.2)"

# GnuTLS (what lftp and FileZilla use): gnutls-cli --resume makes a second connection
# that resumes the first one's session, here on the resumption-only context.
for prio in NORMAL NORMAL:-VERS-TLS1.3 NORMAL:-VERS-TLS1.3:%NO_TICKETS; do
	name=gnutls-${prio//[:%]/_}
	start_server "$name" "$T/ec.crt" "$T/ec.key"
	timeout $((20 * SCALE)) gnutls-cli --x509cafile "$T/ec.crt" --priority "$prio" --resume \
		-p "$PORT" 127.0.0.1 </dev/null >"$T/$name.out" 2>&1 || true
	grep -q "This is a resumed session" "$T/$name.out" || fail "gnutls $prio: not resumed"
	wait_log "$name" "data ok .* resumed"
	ok "gnutls-cli $prio: resumed on the data context ($(grep -m1 -o 'data ok TLSv1\.[23]' "$T/$name.log"))"
done

# Python's ssl module, control connection kept open.
for args in "1.3" "1.2" "1.2 --no-ticket"; do
	name=py-${args// /}
	start_server "$name" "$T/ec.crt" "$T/ec.key" --keep-control
	# shellcheck disable=SC2086
	timeout $((60 * SCALE)) $PY "$HERE/tls-client.py" "$PORT" "$T/ec.crt" $args \
		>"$T/$name.out.log" 2>&1 || {
		cat "$T/$name.out.log"
		fail "python client TLS $args"
	}
	sed 's/^/  /' "$T/$name.out.log"
	ok "python ssl TLS $args"
done
echo "all interop checks passed"

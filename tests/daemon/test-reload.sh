#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Live reload (berthd(8) RELOADING): while an SFTP upload and an FTPS download are held
# open halfway, reloads add an account, a listener, a new host key and FTPS certificate
# (berthctl reload: ok), are refused for a broken berthd.conf or accounts file (errors
# as file:line; the old configuration keeps serving), remove the listener and the
# account (SIGHUP), and lower PerSourceMaxConnections below the held connections.
# The held transfers then complete with matching SHA-256. The notify protocol is
# recorded on a test NOTIFY_SOCKET: READY, RELOADING, READY ..., STOPPING. berthctl
# reload answers clearly when berthd is not running.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"
: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"

ftps_prepare
ftps_write_config
sed -i "s|^PidFile none|PidFile $T/berthd.pid|" "$T/berthd.conf"
STATUS=$T/berthd.reload
G=$T/gate
mkdir -p "$G"
CLIENTS="$PY $(dirname "$0")/reload_clients.py"
ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }

# status_gen N: until the status file records generation N; prints its result line.
status_gen() {
	local i
	for ((i = 0; i < 400 * SCALE; i++)); do
		if [[ -f $STATUS ]] && grep -qx "generation $1" "$STATUS"; then
			sed -n 's/^result //p' "$STATUS"
			return 0
		fi
		sleep 0.05
	done
	fail "no reload status for generation $1"
}
wait_file() {
	local i
	for ((i = 0; i < 400 * SCALE; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	fail "$2"
}
# login USER [PORT]: an SFTP key login that lists /.
login() {
	echo "ls /" >"$T/ls.batch"
	PORT=${2:-$PORT} sftp_key "$T/ls.batch" "$1" >/dev/null 2>&1
}

# listen_inode PORT: the socket inode of the listener on 127.0.0.1:PORT (same inode:
# the same socket, never closed and reopened).
listen_inode() {
	awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp
}

# The service manager's end of the notify protocol.
$CLIENTS notify "$T/notify" "$T/notify.log" &
NOTIFY_PID=$!
CLEANUPS+=("kill $NOTIFY_PID")
wait_file "$T/notify" "notify recorder did not start"
NOTIFY_SOCKET=$T/notify start_berthd
[[ $(status_gen 0) == ok ]] || fail "generation 0 not recorded as ok"
wait_file "$T/notify.log" "no notification"
grep -q "^READY=1|STATUS=" "$T/notify.log" || fail "no READY=1 at startup"
ok "READY=1 sent and generation 0 recorded once listening"
INODE=$(listen_inode "$PORT")
FTPS_INODE=$(listen_inode "$FTPS_PORT")
[[ -n $INODE && -n $FTPS_INODE ]] || fail "listening sockets not found in /proc/net/tcp"

# Two transfers held open halfway.
mkdata "$T/up.bin" $((3 * 1024 * 1024))
mkdata "$JAIL/down.bin" $((16 * 1024 * 1024))
chown "$ACCT_UID:$ACCT_GID" "$JAIL/down.bin"
$CLIENTS sftp-upload "$PORT" demo "$T/client_key" "$T/up.bin" /up.bin "$G" >"$T/sftp.out" 2>&1 &
SFTP_PID=$!
$CLIENTS ftps-download "$FTPS_PORT" demo "$PASSWORD" down.bin "$(sum "$JAIL/down.bin")" "$G" \
	>"$T/ftps.out" 2>&1 &
FTPS_PID=$!
CLEANUPS+=("kill $SFTP_PID $FTPS_PID 2>/dev/null")
wait_file "$G/sftp.half" "the SFTP upload did not start: $(cat "$T/sftp.out")"
wait_file "$G/ftps.half" "the FTPS download did not start: $(cat "$T/ftps.out")"
ok "an SFTP upload and an FTPS download are held open halfway"

# Reload 1: a new account, a second SSH listener, a new host key and FTPS certificate.
login newbie && fail "newbie logs in before it exists"
jail_account newbie
PORT2=$(free_port)
OLD_FP=$($CLIENTS cert "$FTPS_PORT")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=renewed \
	-keyout "$T/ftps_key2.pem" -out "$T/ftps_cert2.pem" 2>/dev/null || fail "openssl"
chmod 600 "$T/ftps_key2.pem"
NEW_FP=$(openssl x509 -in "$T/ftps_cert2.pem" -outform DER | sha256sum | cut -d' ' -f1)
sed -i "s|ftps_cert.pem|ftps_cert2.pem|; s|ftps_key.pem|ftps_key2.pem|" "$T/berthd.conf"
host_key() { ssh-keyscan -T $((10 * SCALE)) -t ed25519 -p "$PORT" 127.0.0.1 2>/dev/null | awk '{ print $3 }'; }
[[ $(host_key) == "$(awk '{ print $2 }' "$T/host_ed25519.pub")" ]] || fail "host key before"
ssh-keygen -q -t ed25519 -N '' -f "$T/host2_ed25519" -C host2
sed -i "s|^HostKey .*|HostKey $T/host2_ed25519|" "$T/berthd.conf"
echo "ListenAddress 127.0.0.1:$PORT2" >>"$T/berthd.conf"
out=$(ctl reload) || fail "berthctl reload failed: $out"
[[ $out == "reload ok (generation 1)" ]] || fail "berthctl reload printed: $out"
ok "berthctl reload: $out"
login newbie || fail "the added account cannot log in"
login newbie "$PORT2" || fail "the added listener does not serve"
login demo || fail "demo no longer logs in"
FP=$($CLIENTS cert "$FTPS_PORT")
[[ $FP == "$NEW_FP" && $FP != "$OLD_FP" ]] || fail "FTPS presents $FP, want the new $NEW_FP"
[[ $(host_key) == "$(awk '{ print $2 }' "$T/host2_ed25519.pub")" ]] ||
	fail "the new host key is not served"
[[ $(listen_inode "$PORT") == "$INODE" && $(listen_inode "$FTPS_PORT") == "$FTPS_INODE" ]] ||
	fail "an unchanged listener was reopened"
ok "after the reload: new account, listener on $PORT2, new host key and certificate served"
ok "unchanged listeners kept their sockets (inodes $INODE, $FTPS_INODE)"
grep -q "^RELOADING=1|STATUS=.*|MONOTONIC_USEC=[0-9]*$" "$T/notify.log" ||
	fail "no RELOADING=1 with MONOTONIC_USEC"

# Reload 2: a broken berthd.conf is refused; the old configuration keeps serving.
echo "NoSuchKeyword yes" >>"$T/berthd.conf"
line=$(wc -l <"$T/berthd.conf")
rc=0
out=$(ctl reload --pid-file "$T/berthd.pid" 2>&1) || rc=$?
[[ $rc == 1 ]] || fail "berthctl reload of a broken file exited $rc: $out"
[[ $out == *"reload refused (generation 2)"* ]] || fail "berthctl reload printed: $out"
[[ $out == *"$T/berthd.conf:$line: unknown keyword \"NoSuchKeyword\""* ]] ||
	fail "the error is not given as file:line: $out"
log_has "reload: $T/berthd.conf:$line: unknown keyword" || fail "the error is not logged"
log_has "Reload refused \\(generation 2\\)" || fail "the refusal is not logged"
login newbie "$PORT2" || fail "the old configuration no longer serves"
[[ $(sed -n 's/^error //p' "$STATUS") == *"berthd.conf:$line:"* ]] ||
	fail "status file lacks the error"
ok "broken berthd.conf refused (exit 1, $T/berthd.conf:$line logged), old one serves"

# A broken accounts file refuses the reload too (its errors as file:line).
sed -i '/^NoSuchKeyword/d' "$T/berthd.conf"
cp "$T/accounts" "$T/accounts.good"
echo "	NoSuchSetting 1" >>"$T/accounts"
aline=$(wc -l <"$T/accounts")
rc=0
out=$(ctl reload 2>&1) || rc=$?
[[ $rc == 1 && $out == *"reload refused (generation 3)"* && $out == *"$T/accounts:$aline:"* ]] ||
	fail "broken accounts file: exit $rc: $out"
ok "broken accounts file refused (exit 1, $T/accounts:$aline)"
# The accounts in force stay: new connections are served from the last good copy (the
# file validated by reload 1, with newbie) while the file on disk is broken.
login newbie "$PORT2" || fail "a broken accounts file stopped new logins of newbie"
login demo || fail "a broken accounts file stopped new logins of demo"
log_has "AccountsFile $T/accounts: invalid; serving the last good copy $T/accounts.last-good" ||
	fail "no 'serving the last good copy' line"
cp "$T/accounts.good" "$T/accounts"
ok "while the file is broken, logins are served from the last good copy"

# Reload 4 (plain SIGHUP): the second listener and the demo account go.
sed -i "/^NoSuchKeyword/d; /^ListenAddress 127.0.0.1:$PORT2\$/d" "$T/berthd.conf"
$PY - "$T/accounts" <<'PYEOF'
import re, sys
p = sys.argv[1]
text = open(p).read()
open(p, "w").write(re.sub(r"(?ms)^Account demo\n(\t[^\n]*\n)*", "", text))
PYEOF
grep -q "^Account demo" "$T/accounts" && fail "demo not removed"
kill -HUP "$BERTHD_PID"
[[ $(status_gen 4) == ok ]] || fail "SIGHUP reload 4 refused: $(cat "$STATUS")"
login demo && fail "the removed account still logs in"
login newbie || fail "newbie no longer logs in"
$PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT2), 5)" 2>/dev/null &&
	fail "the removed listener still accepts"
login newbie "$PORT" || fail "the kept listener stopped serving"
log_has "Server no longer listening on 127.0.0.1 port $PORT2" || fail "listener close not logged"
[[ $(listen_inode "$PORT") == "$INODE" ]] || fail "the kept listener was reopened"
ok "SIGHUP: removed listener refuses, removed account refused, the rest serves"

# Reload 5: the master still counts the two held connections (its connection table
# survived every reload): with PerSourceMaxConnections 2 a third is dropped.
echo "PerSourceMaxConnections 2" >>"$T/berthd.conf"
out=$(ctl reload) || fail "reload 5: $out"
login newbie && fail "a third connection passed PerSourceMaxConnections 2"
wait_log "drop connection #2 from \[127.0.0.1\]:[0-9]+ past PerSourceMaxConnections" ||
	fail "no drop past PerSourceMaxConnections"
ok "after five reloads the master still counts the 2 held connections"

# The held transfers complete.
touch "$G/go"
wait "$SFTP_PID" || fail "SFTP upload: $(cat "$T/sftp.out")"
wait "$FTPS_PID" || fail "FTPS download: $(cat "$T/ftps.out")"
[[ $(sum "$JAIL/up.bin") == "$(sum "$T/up.bin")" ]] || fail "uploaded file differs"
ok "$(cat "$T/sftp.out")"
ok "$(cat "$T/ftps.out")"
log_has "killed by signal" && fail "a connection process was killed"

# Shutdown: STOPPING=1; the status and PID files go.
kill -TERM "$BERTHD_PID"
for ((i = 0; i < 100 * SCALE; i++)); do
	kill -0 "$BERTHD_PID" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$BERTHD_PID" 2>/dev/null && fail "berthd did not stop"
rc=0
wait "$BERTHD_PID" || rc=$?
BERTHD_PGID=
[[ $rc == 0 ]] || fail "berthd exited with status $rc after five reloads"
log_has "Sanitizer" && fail "sanitizer report in the log"
for ((i = 0; i < 100 * SCALE; i++)); do
	grep -q "^STOPPING=1" "$T/notify.log" && break
	sleep 0.05
done
seq=$(sed 's/|.*//' "$T/notify.log" | tr '\n' ' ')
[[ $seq == "READY=1 $(printf 'RELOADING=1 READY=1 %.0s' 1 2 3 4 5)STOPPING=1 " ]] ||
	fail "notify sequence: $seq"
ok "notify sequence: $seq"
[[ ! -e $STATUS && ! -e $T/berthd.pid ]] || fail "status or PID file left behind"

rc=0
out=$(ctl reload 2>&1) || rc=$?
[[ $rc == 1 && $out == *"berthd is not running (no PID file $T/berthd.pid)"* ]] ||
	fail "reload without berthd: exit $rc: $out"
dead=$(bash -c 'echo $$')
echo "$dead" >"$T/berthd.pid"
rc=0
out=$(ctl reload 2>&1) || rc=$?
[[ $rc == 1 && $out == *"not running (stale PID file"* ]] || fail "stale PID file: exit $rc: $out"
ok "berthctl reload without a running berthd: exit 1, clear message"

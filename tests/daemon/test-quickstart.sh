#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd --quickstart: generated state (host keys, demo account, password shown once),
# SFTP with that password and with a key, reuse on a second run; also as a non-root user.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

ssh-keygen -q -t ed25519 -N '' -f "$T/client_key" -C client
echo "ls" >"$T/b"

start_qs() { # log, args...
	local log=$1
	shift
	: >"$log"
	setsid "$@" >>"$log" 2>&1 &
	BERTHD_PID=$!
	BERTHD_PGID=$BERTHD_PID
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		grep -q "Server listening" "$log" && return 0
		kill -0 "$BERTHD_PID" 2>/dev/null || { cat "$log" >&2; fail "quickstart exited"; }
		sleep 0.05
	done
	cat "$log" >&2
	fail "quickstart did not start"
}

QS=$T/qs
FPORT=$(free_port)
FIPORT=$(free_port)
start_qs "$T/qs1.log" "$BERTHD" --quickstart "$QS" -p "$PORT" --ftps-port "$FPORT" \
	--ftps-implicit-port "$FIPORT"
PW=$(sed -n 's/.*password for demo: \([A-Za-z0-9]*\) .*shown once.*/\1/p' "$T/qs1.log")
[[ -n $PW ]] || { cat "$T/qs1.log"; fail "no password printed on the first run"; }
[[ $(cat "$QS/demo-password") == "$PW" ]] || fail "password file differs from the printed one"
[[ $(stat -c %a "$QS/demo-password") == 600 ]] || fail "password file is not 0600"
[[ $(stat -c %a "$QS/ssh_host_ed25519_key") == 600 ]] || fail "host key not 0600"
ssh-keygen -lf "$QS/ssh_host_rsa_key.pub" | grep -q '^3072 ' || fail "RSA host key is not 3072 bits"
ssh-keygen -lf "$QS/ssh_host_ed25519_key.pub" | grep -q ED25519 || fail "no ed25519 host key"
ok "state directory: host keys (ed25519, rsa 3072), password shown once and saved 0600"

mkdata "$T/up.bin" 1000003
cat >"$T/bq" <<EOF
put $T/up.bin qs.bin
get qs.bin $T/qs.down
EOF
sftp_password "$T/bq" "$PW" >/dev/null || fail "quickstart password login"
[[ $(sum "$T/qs.down") == $(sum "$T/up.bin") ]] || fail "checksum"
[[ $(sum "$QS/demo/qs.bin") == $(sum "$T/up.bin") ]] || fail "upload not in the demo jail"
ok "SFTP as demo with the printed password; file lands in the demo directory"
cat "$T/client_key.pub" >>"$QS/authorized_keys"
sftp_key "$T/b" >/dev/null || fail "quickstart key login"
ok "key from the state directory's authorized_keys"
grep -q "Accepted password for demo from 127.0.0.1" "$T/qs1.log" || fail "no readable auth log on stderr"

# FTPS with the same account: the README's curl line, explicit and implicit TLS.
grep -qF "curl --ssl-reqd -k -u demo:PASSWORD ftp://127.0.0.1:$FPORT/" "$T/qs1.log" ||
	fail "the FTPS curl line is not printed"
FP=$(openssl x509 -in "$QS/ftps_cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
grep -qF "$FP" "$T/qs1.log" || fail "the printed fingerprint is not the certificate's"
[[ $(stat -c %a "$QS/ftps_key.pem") == 600 ]] || fail "FTPS key not 0600"
curl -sS --max-time 30 --ssl-reqd -k -u "demo:$PW" "ftp://127.0.0.1:$FPORT/" >"$T/ls.out" ||
	fail "curl --ssl-reqd to the quickstart FTPS port"
grep -q " qs.bin" "$T/ls.out" || fail "FTPS listing does not show the SFTP upload"
curl -sS --max-time 30 -k -u "demo:$PW" "ftps://127.0.0.1:$FIPORT/qs.bin" -o "$T/qs.ftps" ||
	fail "curl to the quickstart implicit FTPS port"
[[ $(sum "$T/qs.ftps") == $(sum "$T/up.bin") ]] || fail "FTPS download checksum"
ok "FTPS explicit and implicit with the printed password; fingerprint printed"
stop_berthd

# Second run: same state, same password, nothing printed.
start_qs "$T/qs2.log" "$BERTHD" --quickstart "$QS" -p "$PORT" --ftps-port "$FPORT" \
	--ftps-implicit-port "$FIPORT"
grep -qF "$FP" "$T/qs2.log" || fail "second run made a new FTPS certificate"
grep -q "shown once" "$T/qs2.log" && fail "second run printed a new password"
[[ $(cat "$QS/demo-password") == "$PW" ]] || fail "password changed on the second run"
sftp_password "$T/b" "$PW" >/dev/null || fail "old password no longer works"
ok "second run reuses the state and keeps the password"
stop_berthd

# As an ordinary user: ./berth-state in the current directory, no uid switches.
if [[ $(id -u) -eq 0 ]]; then
	U=$T/user
	mkdir -p "$U"
	chown 65534:65534 "$U"
	PORT2=$(free_port)
	cd "$U"
	start_qs "$T/qs3.log" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BERTHD" --quickstart -p "$PORT2" --ftps-port "$FPORT" --ftps-implicit-port 0
	cd /
	PW2=$(cat "$U/berth-state/demo-password")
	PORT=$PORT2 sftp_password "$T/bq" "$PW2" >/dev/null || fail "non-root quickstart login"
	[[ $(stat -c %u "$U/berth-state/demo/qs.bin") == 65534 ]] || fail "file not owned by the user"
	curl -sS --max-time 30 --ssl-reqd -k -u "demo:$PW2" "ftp://127.0.0.1:$FPORT/qs.bin" \
		-o "$T/qs3.ftps" || fail "non-root quickstart FTPS"
	[[ $(sum "$T/qs3.ftps") == $(sum "$T/up.bin") ]] || fail "non-root FTPS checksum"
	ok "quickstart as an ordinary user (./berth-state), files owned by that user"
	stop_berthd
fi
echo "all quickstart tests passed"

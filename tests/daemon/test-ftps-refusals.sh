#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS refusals, each a check (tests/daemon/ftps-refusals.py), and the log lines they
# leave: failed logins with "ftps", refused data connections with their reason.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

ftps_prepare
# A second, read-only account with its own jail (and a file, a directory to refuse on).
RO_JAIL=$T/ro-jail
mkdir -p "$RO_JAIL/olddir"
echo keep >"$RO_JAIL/keep.txt"
chmod 644 "$RO_JAIL/keep.txt"
chown -R "$ACCT_UID:$ACCT_GID" "$RO_JAIL"
HASHLINE=$(grep "Password" "$T/accounts")
{
	echo "Account ro"
	echo "$HASHLINE"
	echo "	Uid $ACCT_UID"
	echo "	Gid $ACCT_GID"
	echo "	Root $RO_JAIL"
	echo "	ReadOnly yes"
} >>"$T/accounts"
ftps_write_config "MaxAuthTries 3"
start_berthd

BERTH_TIMEOUT_SCALE=$SCALE $PY "$(dirname "$0")/ftps-refusals.py" "$FTPS_PORT" "$FTPS_IPORT" \
	"$PASSWORD" "$JAIL" "$RO_JAIL" || fail "FTPS refusals"

wait_log "refused data connection from 127\.0\.0\.1: no TLS session reuse" ||
	fail "no log line for the data connection without session reuse"
log_has "refused data connection from 127\.0\.0\.1: no TLS \(plaintext" ||
	fail "no log line for the plaintext data connection"
log_has "refused data connection from 127\.0\.0\.2: not the control connection's peer" ||
	fail "no log line for the PASV connection from 127.0.0.2"
log_has "refused TLS from 127\.0\.0\.1 port [0-9]+: client offered ALPN \"http/1.1\"" ||
	fail "no log line for ALPN http/1.1"
log_has "Failed password for demo from 127\.0\.0\.1 port [0-9]+ ftps$" ||
	fail "no 'Failed password for demo ... ftps' line"
log_has "Failed password for invalid user bob from 127\.0\.0\.1 port [0-9]+ ftps$" ||
	fail "no 'Failed password for invalid user bob ... ftps' line"
ok "log lines: refused data connections with the reason, ALPN, failed logins (ftps)"

# MaxAuthTries: the third failure closes the connection.
$PY - "$FTPS_IPORT" <<'PY' || fail "MaxAuthTries over FTPS"
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30),
                    server_hostname="localhost")
f = s.makefile("rb")
f.readline()
codes = []
for i in range(3):
    s.sendall(b"USER demo\r\n"); f.readline()
    s.sendall(b"PASS nope-%d\r\n" % i); codes.append(f.readline()[:3])
assert codes == [b"530"] * 3, codes
assert f.readline() == b"", "still open after MaxAuthTries"
PY
wait_log "maximum authentication attempts exceeded for demo from 127\.0\.0\.1 port [0-9]+ ftps" ||
	fail "no MaxAuthTries log line"
ok "MaxAuthTries 3: the third failed password closes the connection, logged"
echo "all FTPS refusal tests passed"

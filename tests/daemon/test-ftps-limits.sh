#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS limits and timeouts: LoginGraceTime, IdleTimeout, FTPSDataTimeout, StallTimeout
# (a client that stops reading a download), ABOR during a transfer, a truncated TLS
# upload (426, never 226), and the per-source limits shared with SSH connections.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

ftps_prepare
ftps_write_config "LoginGraceTime 2" "IdleTimeout 3" "FTPSDataTimeout 2" \
	"StallTimeout 3" "PerSourceMaxConnections 3"
start_berthd
mkdata "$JAIL/big.bin" $((256 * 1024 * 1024))

$PY - "$FTPS_IPORT" "$PORT" "$PASSWORD" "$JAIL" "$BERTHD_PID" <<'EOF' ||
import os, re, socket, ssl, sys, time
from testlib import connections, wait_until
iport, sshport, password, jail = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
master = int(sys.argv[5])
T = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

class Ctl:
    def __init__(self, login=True):
        self.s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", iport), timeout=T),
                                 server_hostname="localhost")
        self.f = self.s.makefile("rb")
        assert self.resp()[0] == 220
        if login:
            self.cmd("USER demo")
            assert self.cmd("PASS " + password)[0] == 230
            self.cmd("PBSZ 0"); self.cmd("PROT P")
    def resp(self):
        line = self.f.readline()
        if not line:
            return 0, "EOF"
        while line[3:4] == b"-":
            line = self.f.readline()
        return int(line[:3]), line.decode().strip()
    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.resp()
    def epsv(self):
        code, text = self.cmd("EPSV")
        assert code == 229, text
        return int(re.search(r"\|\|\|(\d+)\|", text).group(1))
    def data(self, p):
        return socket.create_connection(("127.0.0.1", p), timeout=T)
    def wrap(self, d):
        return ctx.wrap_socket(d, server_hostname="localhost", session=self.s.session)

# LoginGraceTime 2: 421 before the monitor's kill.
c = Ctl(login=False)
code, text = c.resp()
assert code == 421 and "timeout" in text.lower(), text
print("ok   LoginGraceTime: 421", text)

# IdleTimeout 3 after login.
c = Ctl()
code, text = c.resp()
assert code == 421 and "Idle" in text, text
print("ok   IdleTimeout: 421", text)

# FTPSDataTimeout 2: the client never opens the data connection.
c = Ctl()
c.epsv()
assert c.cmd("RETR big.bin")[0] == 150
code, text = c.resp()
assert code == 425, text
print("ok   FTPSDataTimeout: 425", text)

# StallTimeout 3: a download the client stops reading is aborted.
p = c.epsv()
d = c.data(p)
assert c.cmd("RETR big.bin")[0] == 150
d = c.wrap(d)
d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
d.recv(1000)
code, text = c.resp()  # we read nothing more: the server gives up
assert code == 426, text
print("ok   StallTimeout: stalled download aborted with", text)
d.close()

# ABOR during a download: 426 to the transfer, 226 to ABOR, the session goes on.
p = c.epsv()
d = c.data(p)
assert c.cmd("RETR big.bin")[0] == 150
d = c.wrap(d)
d.recv(65536)
c.s.sendall(b"ABOR\r\n")
codes = [c.resp()[0], c.resp()[0]]
assert codes == [426, 226], codes
d.close()
assert c.cmd("NOOP")[0] == 200
print("ok   ABOR: 426 then 226, the session goes on")

# A TLS upload that ends without close_notify is a truncation: 426, never 226.
p = c.epsv()
d = c.data(p)
assert c.cmd("STOR trunc.bin")[0] == 150
t = c.wrap(d)
t.sendall(os.urandom(100000))
t.shutdown(socket.SHUT_RDWR)  # TCP FIN without TLS close_notify (SSLSocket.shutdown)
code, text = c.resp()
assert code == 426, text
print("ok   truncated TLS upload: 426", text)
c.cmd("QUIT")

# Per-source limits are shared with SSH: 2 SSH + 1 FTPS from one source, the 4th dropped
# (once the sessions above are gone from the master's count).
wait_until(lambda: not connections(master), 30, "the earlier sessions to end")
held = []
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", sshport), timeout=T)
    assert s.recv(64).startswith(b"SSH-2.0-")
    held.append(s)
held.append(Ctl(login=False))
extra = socket.create_connection(("127.0.0.1", iport), timeout=T)
try:
    got = extra.recv(1)
except OSError:
    got = b""
assert got == b"", "a 4th connection from the same source was served"
print("ok   PerSourceMaxConnections 3 counts SSH and FTPS together")
EOF
	fail "FTPS limits"
log_has "Timeout before authentication for 127\.0\.0\.1 port [0-9]+" || fail "no grace log line"
log_has "Idle timeout for demo from 127\.0\.0\.1" || fail "no idle log line"
log_has "no data connection within 2s" || fail "no data timeout log line"
log_has "data connection stalled for 3s" || fail "no stall log line"
log_has 'transfer download user demo .* ftps: "/big\.bin" [0-9]+ bytes in [0-9.]+s aborted \(aborted by client\)' ||
	fail "no aborted transfer line for ABOR"
log_has "upload truncated: the data connection ended without TLS close_notify" ||
	fail "no truncation log line"
log_has 'transfer upload user demo .* "/trunc\.bin" [0-9]+ bytes in [0-9.]+s aborted' ||
	fail "no aborted upload line"
log_has "drop connection #3 from \[127\.0\.0\.1\]:[0-9]+ past PerSourceMaxConnections" ||
	fail "no drop line for the shared per-source limit"
ok "timeouts, ABOR, truncation and shared limits, each with its log line"
echo "all FTPS limit tests passed"

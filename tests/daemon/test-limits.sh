#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd connection limits: a flood of unauthenticated connections from one source is
# cut while other clients still get in (defaults); PerSourceMaxConnections, MaxStartups,
# MaxConnections and IdleTimeout when configured.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
echo ls >"$T/b"

# Hold N raw TCP connections from SRC; print how many were dropped without a banner, then
# keep them open until the file RELEASE exists. A connection is judged when the server
# has decided (banner or hang-up), not after a fixed time.
hold_conns() { # src count release-file
	$PY - "$PORT" "$1" "$2" "$3" <<'EOF'
import os, socket, sys, time
from testlib import scaled, wait_until
port, src, n, release = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
socks, dropped = [], 0
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(scaled(10))
    s.connect(("127.0.0.1", port))
    socks.append(s)
for s in socks:
    try:
        d = s.recv(64)
        if not d:
            dropped += 1
    except (ConnectionResetError, socket.timeout):
        dropped += 1
print(dropped, flush=True)
wait_until(lambda: os.path.exists(release), 120, "flood never released")
EOF
}

# ---------------------------------------------------------------- flood, defaults
write_config
start_berthd
hold_conns 127.0.0.50 60 "$T/release" >"$T/flood.out" &
FLOOD=$!
# The flood is in place once every connection was judged (its count is printed).
for ((i = 0; i < 200 * SCALE; i++)); do
	[[ -s $T/flood.out ]] && break
	kill -0 $FLOOD 2>/dev/null || break
	sleep 0.05
done
[[ -s $T/flood.out ]] || fail "flood connections were not judged"
sftp_key "$T/b" >/dev/null || fail "legitimate client refused during a flood"
touch "$T/release"
wait $FLOOD || true
dropped=$(head -1 "$T/flood.out")
echo "flood: 60 unauthenticated connections from one source, $dropped dropped"
[[ $dropped -ge 40 ]] || fail "flood from one source was not cut (dropped $dropped of 60)"
log_has "drop connection #[0-9]+ from \[127\.0\.0\.50\]:[0-9]+ past PerSourceMaxStartups" ||
	fail "flood drop not logged"
ok "unauthenticated flood from one source cut (PerSourceMaxStartups), others still served"
stop_berthd

# ---------------------------------------------------------------- configured limits
write_config "PerSourceMaxConnections 3" "MaxConnections 6" "MaxStartups 5:100:5" "IdleTimeout 2"
start_berthd
$PY - "$PORT" "$T" "$BERTHD_PID" <<'EOF' || fail "configured limits"
import socket, sys, time, paramiko
from testlib import connections, scaled, transport, wait_until
port, t, master = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
def login(src):
    s = socket.socket(); s.bind((src, 0)); s.settimeout(scaled(10))
    s.connect(("127.0.0.1", port))
    tr = transport(s)
    tr.auth_publickey("demo", key)
    return tr
def no_connections(what):
    # every connection process reaped: the master's counters are back to zero
    wait_until(lambda: not connections(master), 10, what)
held = [login("127.0.0.60") for _ in range(3)]
try:
    login("127.0.0.60")
    raise AssertionError("4th session from one source accepted (PerSourceMaxConnections 3)")
except (paramiko.SSHException, EOFError, OSError):
    pass
held += [login("127.0.0.61") for _ in range(3)]
try:
    login("127.0.0.62")
    raise AssertionError("7th session accepted (MaxConnections 6)")
except (paramiko.SSHException, EOFError, OSError):
    pass
for tr in held:
    tr.close()
no_connections("closed sessions not reaped")
# MaxStartups 5:100:5: five silent connections, the sixth (other source) is dropped.
silent = []
for i in range(5):
    s = socket.socket(); s.bind(("127.0.0.%d" % (70 + i), 0)); s.connect(("127.0.0.1", port))
    silent.append(s)
wait_until(lambda: len(connections(master)) == 5, 10, "five silent connections not accepted")
s = socket.socket(); s.bind(("127.0.0.80", 0)); s.settimeout(scaled(10))
s.connect(("127.0.0.1", port))
assert s.recv(64) == b"", "6th unauthenticated connection served (MaxStartups 5:100:5)"
for x in silent + [s]:
    x.close()
no_connections("silent connections not reaped")
# IdleTimeout 2: an idle sftp session is closed by the server.
tr = login("127.0.0.63")
sftp = paramiko.SFTPClient.from_transport(tr)
sftp.listdir(".")
wait_until(lambda: not tr.is_active(), 30, "idle session not closed")
EOF
wait_log "past PerSourceMaxConnections" || fail "PerSourceMaxConnections not logged"
wait_log "past MaxConnections" || fail "MaxConnections not logged"
wait_log "past MaxStartups" || fail "MaxStartups not logged"
wait_log "Idle timeout for demo" || fail "IdleTimeout not logged"
ok "PerSourceMaxConnections, MaxConnections, MaxStartups and IdleTimeout enforced"
echo "all limits tests passed"

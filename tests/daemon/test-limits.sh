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

# Hold N raw TCP connections from SRC; print how many were dropped without a banner.
hold_conns() { # src count seconds
	$PY - "$PORT" "$1" "$2" "$3" <<'EOF'
import socket, sys, time
port, src, n, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
socks, dropped = [], 0
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    socks.append(s)
time.sleep(0.5)
for s in socks:
    try:
        d = s.recv(64)
        if not d:
            dropped += 1
    except (ConnectionResetError, socket.timeout):
        dropped += 1
print(dropped, flush=True)
time.sleep(hold)
EOF
}

# ---------------------------------------------------------------- flood, defaults
write_config
start_berthd
hold_conns 127.0.0.50 60 6 >"$T/flood.out" &
FLOOD=$!
sleep 1.5
sftp_key "$T/b" >/dev/null || fail "legitimate client refused during a flood"
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
$PY - "$PORT" "$T" <<'EOF' || fail "configured limits"
import socket, sys, time, paramiko
port, t = int(sys.argv[1]), sys.argv[2]
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
def login(src):
    s = socket.socket(); s.bind((src, 0)); s.settimeout(10)
    s.connect(("127.0.0.1", port))
    tr = paramiko.Transport(s); tr.start_client(timeout=10)
    tr.auth_publickey("demo", key)
    return tr
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
time.sleep(1.0)
# MaxStartups 5:100:5: five silent connections, the sixth (other source) is dropped.
silent = []
for i in range(5):
    s = socket.socket(); s.bind(("127.0.0.%d" % (70 + i), 0)); s.connect(("127.0.0.1", port))
    silent.append(s)
time.sleep(0.5)
s = socket.socket(); s.bind(("127.0.0.80", 0)); s.settimeout(5); s.connect(("127.0.0.1", port))
assert s.recv(64) == b"", "6th unauthenticated connection served (MaxStartups 5:100:5)"
for x in silent + [s]:
    x.close()
time.sleep(1.0)
# IdleTimeout 2: an idle sftp session is closed by the server.
tr = login("127.0.0.63")
sftp = paramiko.SFTPClient.from_transport(tr)
sftp.listdir(".")
end = time.time() + 30
while tr.is_active() and time.time() < end:
    time.sleep(0.2)
assert not tr.is_active(), "idle session not closed"
EOF
wait_log "past PerSourceMaxConnections" || fail "PerSourceMaxConnections not logged"
wait_log "past MaxConnections" || fail "MaxConnections not logged"
wait_log "past MaxStartups" || fail "MaxStartups not logged"
wait_log "Idle timeout for demo" || fail "IdleTimeout not logged"
ok "PerSourceMaxConnections, MaxConnections, MaxStartups and IdleTimeout enforced"
echo "all limits tests passed"

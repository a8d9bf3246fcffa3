#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# seccomp: the network child (from before the first byte it reads) and every worker run
# under their filter ("Seccomp: 2", one filter) while the master and the monitor do not;
# SeccompFilter no turns both off. (That every client in the suite works with the filters
# on is the rest of the daemon suite; that a forbidden call kills is tests/unit.)
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts

check() { # expected Seccomp value for the network child and the worker
	DAEMON_TESTS=$(dirname "$0") $PY - "$PORT" "$T" "$BERTHD_PID" "$1" <<'EOF'
import os, socket, sys, time, paramiko
port, t, master, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]

sys.path.insert(0, os.environ["DAEMON_TESTS"])
from proctree import status, children, connections, is_worker, spawner_of, workers_of

def expect(pid, what, value, filters):
    st = status(pid)
    got, nf = st["Seccomp"][0], st.get("Seccomp_filters", ["0"])[0]
    assert got == value, (what, pid, got)
    if filters is not None:
        assert nf == filters, (what, pid, nf)
    print("%s %d: Seccomp %s, filters %s" % (what, pid, got, nf))

on = want == "2"
# Pre-auth: the banner comes after the filter is in place.
s = socket.create_connection(("127.0.0.1", port))
assert s.recv(64).startswith(b"SSH-2.0-")
monitors = connections(master)
assert len(monitors) == 1, monitors
nets = [p for p in children(monitors[0]) if not is_worker(p)]
assert len(nets) == 1, nets
expect(master, "master", "0", None)
expect(spawner_of(master), "spawner", "0", None)
expect(monitors[0], "monitor", "0", None)
expect(nets[0], "pre-auth network child", want, "1" if on else "0")
s.close()
time.sleep(0.3)

# A session: the worker, with sftp and with scp.
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
tr = paramiko.Transport(("127.0.0.1", port)); tr.start_client(timeout=10)
tr.auth_publickey("demo", key)
sftp = paramiko.SFTPClient.from_transport(tr)
sftp.listdir(".")
ch = tr.open_session()
ch.exec_command("scp -t up.bin")
assert ch.recv(1) == b"\0"
mon = connections(master)[0]
workers = workers_of(master)
nets = [p for p in children(mon) if not is_worker(p)]
assert len(workers) == 2 and len(nets) == 1, (workers, nets)
for w in workers:
    expect(w, "worker", want, "1" if on else "0")
expect(nets[0], "authenticated network child", want, "1" if on else "0")
ch.sendall(b"C0644 3 up.bin\n")
assert ch.recv(1) == b"\0"
ch.sendall(b"abc\0")
assert ch.recv(1) == b"\0"
ch.shutdown_write()
assert ch.recv_exit_status() == 0
with sftp.open("up.bin") as f:
    assert f.read() == b"abc"
tr.close()
EOF
}

write_config
start_berthd
check 2 || fail "seccomp filters not in place"
! log_has "seccomp filter" || fail "seccomp trouble logged"
ok "network child (pre- and post-auth) and workers (sftp, scp) run under one seccomp filter; master and monitor do not"
stop_berthd

write_config "SeccompFilter no"
start_berthd
check 0 || fail "SeccompFilter no did not turn the filters off"
ok "SeccompFilter no: no filter (debugging)"
stop_berthd
echo "all sandbox tests passed"

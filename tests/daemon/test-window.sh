#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Flow control between an honest client and a slow worker: with the worker throttled
# (UploadBandwidth), libssh's buffer for the channel must stay within the window we
# granted, so the network child never mistakes the client for one that ignores the
# window. An OpenSSH sftp upload of 32 MiB at 4 MB/s completes, checksummed.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts "UploadBandwidth 4M"
write_config
start_berthd

mkdata "$T/big.bin" $((32 << 20))
printf 'put %s big.bin\n' "$T/big.bin" >"$T/batch"
sftp_key "$T/batch" >"$T/out" 2>&1 || { cat "$T/out"; fail "throttled upload"; }
! log_has "ignores the channel window" || fail "an honest client was cut off as ignoring the window"
[[ $(sum "$T/big.bin") == $(sum "$JAIL/big.bin") ]] || fail "upload checksum"
ok "32 MiB upload through a throttled worker: no false window violation, checksum equal"

# A client that ignores the window (sends far more than granted while the worker is
# throttled) is cut off with a log line; the daemon goes on serving.
$PY - "$PORT" "$T/client_key" <<'PYEOF' || fail "window-ignoring client"
import struct, sys, time
import paramiko
from testlib import transport, wait_until

port, key = int(sys.argv[1]), sys.argv[2]
tr = transport(("127.0.0.1", port))
tr.auth_publickey("demo", paramiko.Ed25519Key.from_private_key_file(key))
ch = tr.open_session()
ch.invoke_subsystem("sftp")

def frame(t, body):
    return struct.pack(">IB", len(body) + 1, t) + body

def sstr(b):
    return struct.pack(">I", len(b)) + b

buf = b""

def read_frame():
    global buf
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        data = ch.recv(65536)
        assert data, "channel closed before the reply"
        buf += data
    n = 4 + struct.unpack(">I", buf[:4])[0]
    f, buf = buf[4:n], buf[n:]
    return f

ch.sendall(frame(1, struct.pack(">I", 3)))  # INIT
assert read_frame()[0] == 2  # VERSION
# OPEN flood.bin WRITE|CREAT|TRUNC, no attributes
ch.sendall(frame(3, struct.pack(">I", 1) + sstr(b"flood.bin") + struct.pack(">II", 0x1a, 0)))
reply = read_frame()
assert reply[0] == 102, reply  # HANDLE
handle = reply[9:9 + struct.unpack(">I", reply[5:9])[0]]
chunk = b"x" * 32000
ch.out_window_size = 1 << 40  # ignore the window the server granted
sent, cut = 0, False
try:
    for i in range(2000):  # up to ~64 MB
        body = struct.pack(">I", 100 + i) + sstr(handle) + struct.pack(">Q", sent) + sstr(chunk)
        ch.sendall(frame(6, body))
        sent += len(chunk)
        if not tr.is_active() or ch.closed:
            cut = True
            break
except (EOFError, OSError, paramiko.SSHException):
    cut = True
wait_until(lambda: not tr.is_active() or ch.closed, 60, "the flooding client was not cut off")
print("cut after %d MB" % (sent >> 20))
PYEOF
wait_log "peer ignores the channel window" || fail "no log line for the window-ignoring client"
sftp_key "$T/batch" >"$T/out2" 2>&1 || { cat "$T/out2"; fail "the daemon stopped serving"; }
ok "a client that ignores the window is cut off; the next client is served"

# SPDX-License-Identifier: BSD-2-Clause
# Protocol abuse against berthd with paramiko's low-level Transport API.
# usage: abuse.py PORT TMPDIR
import os
import socket
import sys

import paramiko
import paramiko.py3compat
from paramiko.message import Message
from testlib import scaled, transport as started_transport, wait_until

port, t = int(sys.argv[1]), sys.argv[2]
KEY = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
MSG_USERAUTH_SUCCESS = 52
MSG_CHANNEL_OPEN = 90
MSG_GLOBAL_REQUEST = 80


def transport():
    return started_transport(("127.0.0.1", port))


def closed_soon(tr, what, limit=20.0):
    """The server must hang up by itself (well before LoginGraceTime = 120 s)."""
    wait_until(lambda: not tr.is_active(), limit, "%s: connection still open" % what)


def raw(tr, msgtype, *fields):
    """Send one hand-built message; the server may already have hung up."""
    m = Message()
    m.add_byte(bytes([msgtype]))
    for f in fields:
        if isinstance(f, bool):
            m.add_boolean(f)
        elif isinstance(f, int):
            m.add_int(f)
        else:
            m.add_string(f)
    try:
        tr._send_message(m)
    except (EOFError, OSError, socket.error):
        pass


def channel_closed_soon(ch, what, limit):
    """The server must close the channel by itself; the connection stays usable."""
    wait_until(lambda: ch.closed, limit, "%s: channel still open" % what)


def authed_sftp():
    tr = transport()
    tr.auth_publickey("demo", KEY)
    return tr


results = []

# 1. CVE-2018-10933 class: client sends USERAUTH_SUCCESS, then opens a channel.
tr = transport()
raw(tr, MSG_USERAUTH_SUCCESS)
try:
    ch = tr.open_session(timeout=scaled(5))
    raise AssertionError("channel opened after client-sent USERAUTH_SUCCESS")
except (paramiko.SSHException, EOFError, OSError):
    pass
closed_soon(tr, "client-sent USERAUTH_SUCCESS")
results.append("client-sent auth success: no channel, connection closed")

# 2. CVE-2025-32433 class: CHANNEL_OPEN and exec before authentication.
tr = transport()
raw(tr, MSG_CHANNEL_OPEN, "session", 0, 1 << 20, 32768)
raw(tr, 98, 0, "exec", True, "touch /tmp/berth-preauth-pwned")
closed_soon(tr, "pre-auth channel open")
assert not os.path.exists("/tmp/berth-preauth-pwned")
results.append("pre-auth channel open + exec: connection closed, nothing executed")

# 2b. GLOBAL_REQUEST before auth.
tr = transport()
raw(tr, MSG_GLOBAL_REQUEST, "tcpip-forward", True, "127.0.0.1", 0)
closed_soon(tr, "pre-auth global request")
results.append("pre-auth global request: connection closed")

# 3. After auth: exec, shell, pty, env, x11, agent, port forwarding are refused.
tr = authed_sftp()
for name, fn in (
    ("exec", lambda c: c.exec_command("id")),
    ("shell", lambda c: c.invoke_shell()),
    ("pty", lambda c: c.get_pty()),
    ("subsystem other", lambda c: c.invoke_subsystem("netconf")),
):
    ch = tr.open_session(timeout=scaled(10))
    try:
        fn(ch)
        raise AssertionError("%s request accepted" % name)
    except paramiko.SSHException:
        pass
    ch.close()
try:
    tr.request_port_forward("127.0.0.1", 0)
    raise AssertionError("tcpip-forward accepted")
except paramiko.SSHException:
    pass
try:
    tr.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 5555), timeout=scaled(5))
    raise AssertionError("direct-tcpip accepted")
except (paramiko.ChannelException, paramiko.SSHException):
    pass
assert tr.is_active()
results.append("exec/shell/pty/other subsystem/port forwarding refused, session stays up")

# 4. A second subsystem request on the sftp channel is refused; sftp keeps working.
# (paramiko closes a channel whose request failed, so send the repeat by hand.)
ch = tr.open_session(timeout=scaled(10))
ch.invoke_subsystem("sftp")
raw(tr, 98, ch.remote_chanid, "subsystem", False, "sftp")
sftp = paramiko.SFTPClient(ch)
sftp.listdir(".")
sftp.close()
tr.close()
results.append("second subsystem request refused, first sftp unaffected")

# 5. A client that stops reading: the server must not buffer without bound, and the
# stall timer must end that session (its channel); the connection and its other
# sessions go on.
with open(t + "/jail/big.bin", "wb") as f:
    f.write(os.urandom(1 << 20) * 48)
tr = authed_sftp()
ch = tr.open_session(window_size=2 << 20, max_packet_size=32768)
ch.invoke_subsystem("sftp")
sftp = paramiko.SFTPClient(ch)
fh = sftp.open("big.bin", "rb")
# Queue many reads and never consume the answers. paramiko's own window stops at 2 MiB.
handle = fh.handle
for i in range(600):
    sftp._async_request(fh, paramiko.sftp.CMD_READ, handle, paramiko.py3compat.long(i * 32768), 32768)
other = paramiko.SFTPClient.from_transport(tr)
channel_closed_soon(ch, "stalled reader", limit=30.0)
assert tr.is_active(), "the connection went down with the stalled session"
other.listdir(".")
tr.close()
results.append("client that stops reading: session closed by the stall timer, "
               "the other session on the connection unaffected")

for r in results:
    print("ok - " + r)

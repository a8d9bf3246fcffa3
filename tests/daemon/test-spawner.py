#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The session spawner's request protocol (src/priv/spawner.c), against
`berthd --internal-spawner` itself: malformed requests are refused on their exit socket
(or dropped when they have none) and the spawner keeps serving; a well-formed request
runs a worker and reports its pid, then its wait status; the spawner exits once the
last holder of its request socket has closed it. (Workers of real sessions, their
credentials, their end with the monitor and the fall-back to exec: daemon-privsep.)"""
import errno
import os
import socket
import struct
import subprocess
import sys

berthd = sys.argv[1]
SCALE = max(1.0, float(os.environ.get("BERTH_TIMEOUT_SCALE") or 1))
WAIT = 20 * SCALE

req, spawner_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def on_fd_3():
    os.dup2(spawner_end.fileno(), 3)  # dup2 clears close-on-exec


spawner = subprocess.Popen([berthd, "--internal-spawner", "3", "stderr", "4", " " * 256],
                           preexec_fn=on_fd_3, close_fds=False, env={},
                           stderr=subprocess.PIPE)
spawner_end.close()


def u32(v):
    return struct.pack(">I", v)


def string(s):
    b = s.encode()
    return u32(len(b)) + b


def request(argv, version=1, privileged=0, present=1, groups=(), tail=b""):
    body = bytes([version, privileged, present]) + u32(os.getuid()) + u32(os.getgid())
    body += u32(len(groups)) + b"".join(u32(g) for g in groups)
    body += u32(len(argv)) + b"".join(string(a) for a in argv)
    return body + tail


def exchange(msg, fds):
    """Send @msg with a fresh exit socket and @fds; the replies on the exit socket."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(req, [msg], [theirs.fileno()] + [f.fileno() for f in fds])
    theirs.close()
    mine.settimeout(WAIT)
    return mine


def reply(sock):
    data = sock.recv(16)
    assert len(data) == 5, data
    return chr(data[0]), struct.unpack(">I", data[1:])[0]


def alive():
    assert spawner.poll() is None, ("the spawner died", spawner.returncode)


# A worker argv: the mark and 16 arguments (worker_exec_main checks the count).
WORKER = ["berthd", "--internal-worker", "/nonexistent", "/", "22", "rw", "nobody",
          "127.0.0.1", "1", "3", "stderr", "4", "-", "-", "sftp", "-", "noseccomp", "-"]
session, peer = socket.socketpair()

# 1. Malformed requests: an "E" reply with EBADMSG, and the spawner serves on.
bad = {
    "unknown version": (request(WORKER, version=2), [session]),
    "fewer descriptors than announced": (request(WORKER, present=0b11), [session]),
    "no session descriptor": (request(WORKER, present=0b10), [session]),
    "not a worker": (request(["berthd", "--internal-spawner", "x"]), [session]),
    "a program": (request(["/bin/sh", "-c", "id"]), [session]),
    "trailing bytes": (request(WORKER, tail=b"\0"), [session]),
    "truncated": (request(WORKER)[:20], [session]),
    "too many groups": (request(WORKER, groups=range(5000)), [session]),
    "too many arguments": (request(WORKER + ["x"] * 100), [session]),
}
for what, (msg, fds) in bad.items():
    s = exchange(msg, fds)
    kind, value = reply(s)
    assert (kind, value) == ("E", errno.EBADMSG), (what, kind, value)
    assert s.recv(16) == b"", what  # and nothing was started
    s.close()
    alive()
    print("refused: %s" % what)

# Without any descriptor there is no one to answer: dropped. (Requests are served in
# order: the answer to the next one shows these did not stop the spawner.)
req.send(b"\x01garbage")
req.send(os.urandom(300))

# 2. A well-formed request: the pid, then the wait status. As root, a worker that is
# not asked to change its user refuses to run as uid 0 (status 1); as another user it
# finds no policy on fd 4 (status 1 as well).
s = exchange(request(WORKER), [session])
kind, pid = reply(s)
assert kind == "P" and pid > 0, (kind, pid)
kind, status = reply(s)
assert kind == "X" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, (kind, status)
assert s.recv(16) == b""
s.close()
alive()
print("worker %d ran and its status came back (exit 1, as expected here)" % pid)

# 3. The last holder closes the request socket: the spawner leaves.
req.close()
try:
    rc = spawner.wait(timeout=WAIT)
except subprocess.TimeoutExpired:
    spawner.kill()
    sys.exit("the spawner did not exit after its request socket closed")
err = spawner.stderr.read().decode(errors="replace")
assert rc == 0, (rc, err)
assert "malformed request" in err, err
print("the spawner exited (status 0) once its request socket closed")
print("ok - session spawner protocol")

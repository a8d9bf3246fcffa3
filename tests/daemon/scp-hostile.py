# SPDX-License-Identifier: BSD-2-Clause
# Hostile legacy-scp clients against berthd (paramiko exec channels speaking the scp
# protocol by hand): the CVE-2019-6111 class (file names with '/', '..', '.', empty,
# control characters, overlong), CVE-2020-15778 (shell metacharacters in the remote
# path: nothing may ever run), unparsable modes and sizes, a directory stack deeper
# than the limit, truncated uploads, and commands that are not scp.
# usage: scp-hostile.py PORT TMPDIR
import os
import socket
import sys
import time

import paramiko

port, t = int(sys.argv[1]), sys.argv[2]
jail = os.path.join(t, "jail")
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
MARK = "/tmp/berth-scp-pwned-%d" % os.getpid()

tr = paramiko.Transport(("127.0.0.1", port))
tr.start_client(timeout=10)
tr.auth_publickey("demo", key)


def snapshot(top):
    out = set()
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            out.add(os.path.join(d, n))
    return out


def outside():
    """Everything in the test directory but the jail (where nothing may appear)."""
    return {p for p in snapshot(t) if not p.startswith(jail + "/")}


class Scp:
    def __init__(self, cmd):
        self.ch = tr.open_session(timeout=10)
        self.ch.settimeout(20)
        self.ch.exec_command(cmd)
        self.buf = b""

    def read(self, n=1):
        while len(self.buf) < n:
            d = self.ch.recv(65536)
            if not d:
                break
            self.buf += d
        r, self.buf = self.buf[:n], self.buf[n:]
        return r

    def answer(self):
        """One sink answer: b"" for ok (\\0), else the error text."""
        b = self.read(1)
        if b == b"\0":
            return b""
        assert b in (b"\1", b"\2"), "unexpected answer %r" % b
        line = b""
        while not line.endswith(b"\n"):
            c = self.read(1)
            assert c, "connection ended inside an error message"
            line += c
        return line

    def send(self, data):
        """The server may already have ended the session (after a fatal record)."""
        try:
            self.ch.sendall(data)
        except OSError:
            pass

    def status(self):
        try:
            self.ch.shutdown_write()
        except OSError:
            pass
        end = time.time() + 20
        while not self.ch.exit_status_ready() and time.time() < end:
            self.read(65536)
        assert self.ch.exit_status_ready(), "no exit status"
        st = self.ch.recv_exit_status()
        self.ch.close()
        return st


results = []
os.makedirs(jail + "/target", exist_ok=True)
st = os.stat(jail)
os.chown(jail + "/target", st.st_uid, st.st_gid)
before = outside()
target_before = snapshot(jail)

# 1. CVE-2019-6111 class: names the sink must refuse.
bad_names = [b"a/b", b"../escape", b"..", b".", b"", b"bad\x1bname", b"tab\tname",
             b"x" * 300, b"/abs"]
for name in bad_names:
    s = Scp("scp -t target")
    assert s.answer() == b"", "sink did not start"
    s.send(b"C0644 5 " + name + b"\n")
    err = s.answer()
    assert err and b"unexpected filename" in err, (name, err)
    s.send(b"hello")
    assert s.status() == 1, name
assert snapshot(jail) == target_before, sorted(snapshot(jail) - target_before)
assert outside() == before, sorted(outside() - before)
results.append("sink refuses names with /, .., ., empty, control characters, overlong")

# A directory record with a bad name, inside -r.
s = Scp("scp -r -t target")
assert s.answer() == b""
s.send(b"D0755 0 ..\n")
assert b"unexpected filename" in s.answer()
assert s.status() == 1
assert not os.path.exists(os.path.join(t, "E")) and outside() == before
results.append("directory records with .. refused")

# 2. CVE-2020-15778 class: shell syntax in the remote path never runs anything.
for cmd in ("scp -t x;touch " + MARK,
            "scp -t `touch " + MARK + "`",
            "scp -t $(touch " + MARK + ")",
            "scp -t x|touch " + MARK,
            "scp -t x&&touch " + MARK,
            "scp -f x\ntouch " + MARK,
            "scp -f \"$(touch " + MARK + ")\""):
    s = Scp(cmd)
    err = s.answer()
    assert err, (cmd, "accepted")
    assert s.status() == 1, cmd
    assert not os.path.exists(MARK), cmd
# Quoted, the same characters are just a file name.
literal = "x;touch pwned-marker"
s = Scp("scp -t '%s'" % literal)
assert s.answer() == b""
s.send(b"C0644 3 ignored\nabc\0")
assert s.answer() == b""
assert s.status() == 0
with open(os.path.join(jail, literal), "rb") as f:
    assert f.read() == b"abc"
assert not os.path.exists(os.path.join(jail, "pwned-marker")) and not os.path.exists(MARK)
results.append("shell metacharacters refused unquoted, taken literally when quoted; nothing ran")

# 3. Modes, sizes and times that do not parse; lines that never end.
for rec in (b"C06a4 5 f", b"C644 5 f", b"C0644x5 f", b"C99999 5 f", b"C0844 5 f",
            b"C0644 -1 f", b"C0644 abc f", b"C0644  5 f", b"C0644 5f",
            b"C0644 99999999999999999999 f", b"C0644 9223372036854775808 f",
            b"T1 2", b"T1 0 1 1000000", b"Tx 0 1 0", b"Q what", b"\n"):
    s = Scp("scp -t target")
    assert s.answer() == b""
    s.send(rec + (b"" if rec.endswith(b"\n") else b"\n"))
    err = s.answer()
    assert err and b"protocol error" in err, (rec, err)
    assert s.status() == 1, rec
s = Scp("scp -t target")
assert s.answer() == b""
s.send(b"C0644 5 " + b"y" * 8000)
assert b"protocol error" in s.answer()
assert s.status() == 1
assert snapshot(jail) == target_before | {os.path.join(jail, literal)}
results.append("bad modes, sizes, times, record types and endless lines refused")

# 4. A directory stack deeper than the documented limit (64).
s = Scp("scp -r -t target")
assert s.answer() == b""
depth = 0
while True:
    s.send(b"D0755 0 d\n")
    err = s.answer()
    if err:
        break
    depth += 1
    assert depth <= 64, "directory stack deeper than 64 accepted"
assert b"nested deeper than 64" in err, err
assert depth == 64, depth
s.send(b"E\n" * depth)
for _ in range(depth):
    assert s.answer() == b""
assert s.status() == 1
results.append("directory nesting refused past 64 levels")

# 5. Truncated upload: what arrived is kept, the transfer is logged as aborted.
s = Scp("scp -t target/cut.bin")
assert s.answer() == b""
s.send(b"C0644 100000 cut.bin\n")
assert s.answer() == b""
s.send(b"z" * 40000)
assert s.status() == 1
with open(os.path.join(jail, "target", "cut.bin"), "rb") as f:
    assert f.read() == b"z" * 40000
results.append("truncated upload: received bytes kept, exit status 1")

# 6. -f and -t together, no path, unknown options, not scp at all.
for cmd in ("scp -f -t x", "scp -t", "scp -t a b", "scp -x -t a", "scp -t ~root/x"):
    s = Scp(cmd)
    assert s.answer(), cmd
    assert s.status() == 1, cmd
for cmd in ("ls /", "/usr/bin/scp -t x", "scpx -t y", "sh -c 'scp -t x'"):
    ch = tr.open_session(timeout=10)
    try:
        ch.exec_command(cmd)
        raise AssertionError("exec accepted: %s" % cmd)
    except paramiko.SSHException:
        pass
    ch.close()
assert tr.is_active()
results.append("option errors reported; non-scp commands refused")
assert not os.path.exists(MARK)
assert outside() == before, sorted(outside() - before)
tr.close()
for r in results:
    print("ok - " + r)

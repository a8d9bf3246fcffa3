# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the integration tests: spawn an SFTP server on a pipe, a socket-like
# shim for paramiko.SFTPClient, and a tiny raw SFTP v3 framer.
import os
import select
import struct
import subprocess
import tempfile

FXP_INIT, FXP_VERSION = 1, 2
FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE = 3, 4, 5, 6
FXP_LSTAT, FXP_FSTAT, FXP_SETSTAT, FXP_FSETSTAT = 7, 8, 9, 10
FXP_OPENDIR, FXP_READDIR, FXP_REMOVE, FXP_MKDIR, FXP_RMDIR = 11, 12, 13, 14, 15
FXP_REALPATH, FXP_STAT, FXP_RENAME, FXP_READLINK, FXP_SYMLINK = 16, 17, 18, 19, 20
FXP_STATUS, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS = 101, 102, 103, 104, 105
FXP_EXTENDED, FXP_EXTENDED_REPLY = 200, 201

FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 2, 3, 4
FX_BAD_MESSAGE, FX_NO_CONNECTION, FX_CONNECTION_LOST, FX_OP_UNSUPPORTED = 5, 6, 7, 8
STATUS_NAMES = {0: "OK", 1: "EOF", 2: "NO_SUCH_FILE", 3: "PERMISSION_DENIED", 4: "FAILURE",
                5: "BAD_MESSAGE", 6: "NO_CONNECTION", 7: "CONNECTION_LOST",
                8: "OP_UNSUPPORTED"}

FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 16, 32

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error", "LeakSanitizer",
                     "UndefinedBehaviorSanitizer")

OPENSSH_SERVER = "/usr/lib/openssh/sftp-server"

# Every wait below is stretched by BERTH_TIMEOUT_SCALE (default 1; scripts/test sets 3 for
# the sanitizer build), so a slow machine does not turn into a failure.
SCALE = max(1.0, float(os.environ.get("BERTH_TIMEOUT_SCALE") or 1))


def u32(v):
    return struct.pack(">I", v & 0xffffffff)


def u64(v):
    return struct.pack(">Q", v)


def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def frame(ptype, body):
    """One SFTP packet: uint32 length, type byte, body (body includes the id if any)."""
    return u32(len(body) + 1) + bytes([ptype]) + body


class Reader:
    """Cursor over a reply body."""

    def __init__(self, data):
        self.d = data
        self.p = 0

    def u32(self):
        v = struct.unpack(">I", self.d[self.p:self.p + 4])[0]
        self.p += 4
        return v

    def u64(self):
        v = struct.unpack(">Q", self.d[self.p:self.p + 8])[0]
        self.p += 8
        return v

    def str(self):
        n = self.u32()
        v = self.d[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("short string")
        self.p += n
        return v

    def attrs(self):
        flags = self.u32()
        a = {"flags": flags}
        if flags & 1:
            a["size"] = self.u64()
        if flags & 2:
            a["uid"] = self.u32()
            a["gid"] = self.u32()
        if flags & 4:
            a["perm"] = self.u32()
        if flags & 8:
            a["atime"] = self.u32()
            a["mtime"] = self.u32()
        if flags & 0x80000000:
            for _ in range(self.u32()):
                self.str()
                self.str()
        return a

    def rest(self):
        return self.d[self.p:]


class Server:
    """An SFTP server process on a pipe, stderr captured to a temp file."""

    def __init__(self, argv, cwd=None, preexec_fn=None, env=None):
        self.argv = list(argv)
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errf, cwd=cwd, preexec_fn=preexec_fn,
                                     env=env, bufsize=0)
        self.win = self.proc.stdin.fileno()
        self.rout = self.proc.stdout.fileno()
        self._buf = b""
        self.next_id = 1
        self.broken = False

    @property
    def pid(self):
        return self.proc.pid

    # raw byte I/O
    def write(self, data):
        """Write all of data; a server that already exited shows up later as EOF."""
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.win, view)
                view = view[n:]
        except BrokenPipeError:
            self.broken = True

    def read_exact(self, n, timeout=30):
        timeout *= SCALE
        while len(self._buf) < n:
            r, _, _ = select.select([self.rout], [], [], timeout)
            if not r:
                raise TimeoutError("server did not answer within %ss" % timeout)
            chunk = os.read(self.rout, max(65536, n - len(self._buf)))
            if not chunk:
                raise EOFError("server closed stdout")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def pending(self, timeout):
        """True if reply bytes arrive within timeout seconds (or are buffered)."""
        if self._buf:
            return True
        r, _, _ = select.select([self.rout], [], [], timeout * SCALE)
        return bool(r)

    def recv_packet(self, timeout=30):
        n = struct.unpack(">I", self.read_exact(4, timeout))[0]
        if n == 0 or n > 4 * 1024 * 1024:
            raise ValueError("bad reply length %d" % n)
        body = self.read_exact(n, timeout)
        return body[0], body[1:]

    # framed requests
    def send(self, ptype, payload, rid=None):
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        self.write(frame(ptype, u32(rid) + payload))
        return rid

    def init(self, version=3):
        self.write(frame(FXP_INIT, u32(version)))
        t, body = self.recv_packet()
        assert t == FXP_VERSION, "expected VERSION, got type %d" % t
        r = Reader(body)
        ver = r.u32()
        exts = []
        while r.p < len(body):
            exts.append((r.str().decode(), r.str().decode()))
        return ver, exts

    def call(self, ptype, payload):
        """Send one request, return (type, Reader positioned after the id)."""
        rid = self.send(ptype, payload)
        t, body = self.recv_packet()
        r = Reader(body)
        got = r.u32()
        assert got == rid, "reply id %d != request id %d" % (got, rid)
        return t, r

    def status(self, ptype, payload):
        """Send a request that must answer STATUS; return the code."""
        t, r = self.call(ptype, payload)
        assert t == FXP_STATUS, "expected STATUS, got type %d" % t
        return r.u32()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def finish(self, timeout=30):
        """Close stdin, wait, return (returncode, stderr text)."""
        timeout *= SCALE
        self.close_stdin()
        try:
            # drain stdout so a blocked writer can exit
            while True:
                r, _, _ = select.select([self.rout], [], [], timeout)
                if not r or not os.read(self.rout, 65536):
                    break
        except OSError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("server did not exit after EOF on stdin")
        self.proc.stdout.close()
        self.errf.seek(0)
        err = self.errf.read().decode(errors="replace")
        self.errf.close()
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def sanitizer_problem(stderr_text):
    for m in SANITIZER_MARKERS:
        if m in stderr_text:
            return m
    return None


class PipeSock:
    """Just enough of paramiko.Channel for paramiko.SFTPClient over a server's pipes."""

    def __init__(self, server):
        self.server = server
        self.timeout = None

    def send(self, data):
        return os.write(self.server.win, data)

    def sendall(self, data):
        self.server.write(data)

    def recv(self, n):
        if self.timeout is not None:
            r, _, _ = select.select([self.server.rout], [], [], self.timeout)
            if not r:
                raise TimeoutError("recv timed out")
        return os.read(self.server.rout, n)

    def recv_ready(self):
        r, _, _ = select.select([self.server.rout], [], [], 0)
        return bool(r)

    def settimeout(self, t):
        self.timeout = t

    def gettimeout(self):
        return self.timeout

    def setblocking(self, b):
        self.timeout = None if b else 0.0

    def get_name(self):
        return "pipe"

    def close(self):
        self.server.close_stdin()


def sftp_client(server):
    import paramiko
    return paramiko.SFTPClient(PipeSock(server))

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Devices and FIFOs (issue 9 item 6). Without -j the drop-in behaves as OpenSSH's
# sftp-server: the user's own permissions decide (/dev/zero, /dev/null, a FIFO a loader
# writes). No OPEN may wait for a FIFO's peer: a read open without a writer reads end of
# file, a write open without a reader fails at once. With -j they stay refused.
#
# usage: special-files.py SERVER [REFERENCE_SERVER]
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftptest import OPENSSH_SERVER, SCALE, Server, sftp_client, sanitizer_problem  # noqa: E402

WAIT = 10 * SCALE  # an operation that takes longer is hanging
failures = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


class Hung(Exception):
    pass


def within(fn, *args):
    """Run fn in a thread: ("ok", value) or ("err", exception); Hung after WAIT s."""
    box = []

    def run():
        try:
            box.append(("ok", fn(*args)))
        except Exception as e:  # paramiko raises IOError/OSError/SSHException
            box.append(("err", e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(WAIT)
    if not box:
        raise Hung("%s did not finish within %.0f s" % (getattr(fn, "__name__", fn), WAIT))
    return box[0]


def read_all(sftp, path, limit=None):
    with sftp.open(path, "r") as f:
        return f.read(limit) if limit else f.read()


def write_all(sftp, path, data):
    with sftp.open(path, "w") as f:
        f.write(data)
    return len(data)


def start(server, root, args=()):
    srv = Server([server] + list(args), cwd=root)
    return srv, sftp_client(srv)


def stop(srv, sftp, label):
    try:
        sftp.close()
    except Exception:
        pass
    rc, err = srv.finish(timeout=10)
    check(rc == 0, "%s: server exit status %d" % (label, rc))
    bad = sanitizer_problem(err)
    check(bad is None, "%s: no sanitizer report (%s)" % (label, bad or err[-2000:]))


def no_jail(server, root):
    srv, sftp = start(server, root)
    hung = None
    try:
        kind, v = within(read_all, sftp, "/dev/zero", 100000)
        check(kind == "ok" and v == bytes(100000), "get /dev/zero with a length")
        kind, v = within(lambda: stat.S_ISCHR(sftp.stat("/dev/zero").st_mode))
        check(kind == "ok" and v, "stat /dev/zero is a character device")
        kind, v = within(write_all, sftp, "/dev/null", b"x" * 70000)
        check(kind == "ok", "put to /dev/null (%s)" % (v,))

        fifo = os.path.join(root, "fifo")
        os.mkfifo(fifo, 0o600)
        # The loader's first 60000 bytes wait in the pipe before the server opens it
        # (a reader of our own lets the write end open, then goes); the rest is
        # written once the server is reading, then the loader closes: end of file.
        head, tail = os.urandom(60000), os.urandom(300000)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(fifo, os.O_WRONLY)
        os.write(wfd, head)
        os.close(rfd)

        def loader():
            try:
                os.write(wfd, tail)
            finally:
                os.close(wfd)

        def read_loader():
            with sftp.open("fifo", "r") as f:
                first = f.read(len(head))
                threading.Thread(target=loader, daemon=True).start()
                return first + f.read()

        kind, v = within(read_loader)
        check(kind == "ok" and v == head + tail, "read a FIFO a loader writes (%d bytes)" %
              (len(v) if kind == "ok" else -1))

        kind, v = within(read_all, sftp, "fifo")
        check(kind == "ok" and v == b"", "read open of a FIFO without a writer: EOF, no wait")
        kind, v = within(write_all, sftp, "fifo", b"nobody reads")
        check(kind == "err", "write open of a FIFO without a reader fails at once (%s)" % (v,))
        got = []

        def reader():
            with open(fifo, "rb") as r:
                got.append(r.read())

        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is present
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        kind, v = within(write_all, sftp, "fifo", tail)
        os.close(rfd)
        rt.join(WAIT)
        check(kind == "ok" and got == [tail], "write a FIFO a reader reads")
        kind, v = within(lambda: sftp.stat(".").st_mode)
        check(kind == "ok", "session still serves requests")
    except Hung as e:
        hung = e
    finally:
        if hung:
            srv.kill()
            check(False, "no jail: %s" % hung)
        else:
            stop(srv, sftp, "no jail")


def jailed(server, root):
    jail = os.path.join(root, "jail")
    os.mkdir(jail)
    os.mkfifo(os.path.join(jail, "fifo"), 0o600)
    os.symlink("/dev/zero", os.path.join(jail, "zero"))
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(jail, "sock"))
    srv, sftp = start(server, root, ["-j", jail])
    try:
        for path, how in (("fifo", "r"), ("fifo", "w"), ("sock", "r"), ("zero", "r")):
            kind, v = within(lambda: sftp.open(path, how).close())
            check(kind == "err", "-j: open %s for %s refused (%s)" % (path, how, v))
    except Hung as e:
        srv.kill()
        check(False, "jail: %s" % e)
    finally:
        s.close()
        if srv.proc.poll() is None:
            stop(srv, sftp, "jail")


def main():
    if len(sys.argv) < 2:
        print("usage: special-files.py SERVER [REFERENCE]", file=sys.stderr)
        return 2
    server = os.path.abspath(sys.argv[1])
    ref = sys.argv[2] if len(sys.argv) > 2 else OPENSSH_SERVER
    root = tempfile.mkdtemp(prefix="berth-special-")
    try:
        no_jail(server, root)
        jailed(server, root)
        # The reference for the device cases (OpenSSH waits in a FIFO open, so only
        # devices are compared): the same bytes.
        srv, sftp = start(ref, root)
        kind, v = within(read_all, sftp, "/dev/zero", 100000)
        check(kind == "ok" and v == bytes(100000), "reference: get /dev/zero")
        stop(srv, sftp, "reference")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# paramiko's SFTPClient drives an SFTP server over a pipe. The same scenario runs against the
# server under test and OpenSSH's sftp-server; every observable result (values, errors,
# listings, extension replies) must be identical, and transfers must round-trip exactly.
#
# usage: paramiko-pipe.py SERVER [REFERENCE_SERVER]
import difflib
import errno
import hashlib
import io
import os
import re
import shutil
import stat
import struct
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftptest import OPENSSH_SERVER, Server, sftp_client, sanitizer_problem  # noqa: E402

import paramiko  # noqa: E402
from paramiko.py3compat import long as u64  # noqa: E402  (paramiko packs these as uint64)
from paramiko.sftp import CMD_EXTENDED  # noqa: E402

OLD = 1000000000  # fixed timestamps so listings compare byte for byte


class Transcript:
    def __init__(self, root):
        self.root = root
        self.lines = []
        self.failures = []
        self.notes = []

    def norm(self, v):
        s = repr(v)
        s = s.replace(self.root, "<ROOT>")
        return s

    def add(self, label, value):
        self.lines.append("%s: %s" % (label, self.norm(value)))

    def do(self, label, fn, *args):
        """Run fn; record its result or its error (class, errno, text)."""
        try:
            v = fn(*args)
        except (IOError, OSError) as e:
            self.add(label, ("ERR", type(e).__name__, e.errno, e.args))
            return None
        except paramiko.SSHException as e:
            self.add(label, ("SSHERR", str(e)))
            return None
        self.add(label, v)
        return v

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            self.lines.append("CHECK FAILED: " + what)


def attr_view(a):
    """Stable view of an SFTPAttributes: drop times newer than OLD (set by the run)."""
    mt = a.st_mtime if a.st_mtime is not None and a.st_mtime <= OLD + 10 else "recent"
    at = a.st_atime if a.st_atime is not None and a.st_atime <= OLD + 10 else "recent"
    size = a.st_size if a.st_mode is None or not stat.S_ISDIR(a.st_mode) else "dir"
    return (oct(a.st_mode) if a.st_mode is not None else None, size, a.st_uid, a.st_gid,
            mt, at)


DATE_RE = re.compile(r"[A-Z][a-z]{2} [ 0-9]\d (\d\d:\d\d| \d{4})")


def longname_view(a):
    ln = getattr(a, "longname", None)
    if ln is None:
        return None
    if a.st_mtime is not None and a.st_mtime > OLD + 10:
        ln = DATE_RE.sub("<DATE>", ln)
    if a.st_mode is not None and stat.S_ISDIR(a.st_mode):
        # directory sizes depend on the file system's history, not on the server
        ln = re.sub(r"^(\S+\s+\d+\s+\S+\s+\S+\s+)\d+", r"\1<DSIZE>", ln)
    return ln


def listing(sftp, path):
    return sorted((a.filename, attr_view(a), longname_view(a)) for a in sftp.listdir_attr(path))


def ext(sftp, name, *args):
    t, msg = sftp._request(CMD_EXTENDED, name, *args)
    return (t, msg.get_remainder())


def statvfs(sftp, path):
    t, msg = sftp._request(CMD_EXTENDED, "statvfs@openssh.com", path)
    v = [msg.get_int64() for _ in range(11)]
    # bsize frsize blocks files flag namemax are stable; free counts change
    return (v[0], v[1], v[2], v[5], v[9], v[10])


def attrs(size=None, mode=None, atime=None, mtime=None):
    a = paramiko.SFTPAttributes()
    if size is not None:
        a.st_size = size
    if mode is not None:
        a.st_mode = mode
    if mtime is not None:
        a.st_atime, a.st_mtime = atime, mtime
    return a


def sha(data):
    return hashlib.sha256(data).hexdigest()


def scenario(server, root, tr):
    srv = Server([server], cwd=root)
    sftp = sftp_client(srv)
    try:
        body(sftp, root, tr)
    finally:
        sftp.close()
        rc, err = srv.finish()
        tr.add("exit status", rc)
        bad = sanitizer_problem(err)
        tr.check(bad is None, "sanitizer report on stderr: %s" % err[-3000:])
        tr.check(rc == 0, "server exit status %d" % rc)


def body(sftp, root, tr):
    tr.do("normalize .", sftp.normalize, ".")
    tr.do("normalize empty", sftp.normalize, "")
    tr.do("normalize missing leaf", sftp.normalize, "nope")
    tr.do("normalize missing dir", sftp.normalize, "nope/deeper")
    tr.do("mkdir d", sftp.mkdir, "d")
    tr.do("mkdir d/sub 0700", sftp.mkdir, "d/sub", 0o700)
    tr.do("mkdir d again", sftp.mkdir, "d")
    tr.do("stat d/sub", lambda: attr_view(sftp.stat("d/sub")))
    tr.do("normalize d/../d/sub/.", sftp.normalize, "d/../d/sub/.")

    # write / seek / read
    with sftp.open("d/f.txt", "w") as f:
        f.write(b"hello world\n")
        f.seek(6)
        f.write(b"WORLD")
        tr.add("tell", f.tell())
    with sftp.open("d/f.txt", "r") as f:
        tr.add("read all", f.read())
        f.seek(3)
        tr.add("read 4 at 3", f.read(4))
        f.seek(0, 2)
        tr.add("seek end", f.tell())
        tr.add("read at eof", f.read(10))
        tr.add("readv", list(f.readv([(0, 2), (6, 5), (100, 3)])))
        tr.add("fstat", attr_view(f.stat()))
    with sftp.open("d/f.txt", "a") as f:
        f.write(b"appended\n")
    with sftp.open("d/f.txt", "r+") as f:
        f.seek(0)
        f.write(b"J")
        f.seek(0)
        tr.add("r+ read", f.read())
    tr.do("open x existing", lambda: sftp.open("d/f.txt", "x"))
    tr.do("open missing r", lambda: sftp.open("d/missing", "r"))
    tr.do("open missing dir w", lambda: sftp.open("nodir/x", "w"))

    # attributes
    tr.do("chmod 640", sftp.chmod, "d/f.txt", 0o640)
    tr.do("utime", sftp.utime, "d/f.txt", (OLD, OLD + 1))
    tr.do("stat f", lambda: attr_view(sftp.stat("d/f.txt")))
    tr.do("truncate 5", sftp.truncate, "d/f.txt", 5)
    tr.do("utime again", sftp.utime, "d/f.txt", (OLD, OLD))
    tr.do("stat f after truncate", lambda: attr_view(sftp.stat("d/f.txt")))
    tr.do("chown own", sftp.chown, "d/f.txt", os.getuid(), os.getgid())
    tr.do("chmod missing", sftp.chmod, "d/none", 0o600)
    tr.do("truncate missing", sftp.truncate, "d/none", 0)
    with sftp.open("d/f.txt", "r+") as f:
        f.chmod(0o604)
        f.truncate(3)
        f.utime((OLD, OLD))
        tr.add("fsetstat result", attr_view(f.stat()))
        tr.do("fsync", ext, sftp, "fsync@openssh.com", f.handle)
        tr.do("fstatvfs", lambda: ext(sftp, "fstatvfs@openssh.com", f.handle)[0])

    # links
    tr.do("symlink rel", sftp.symlink, "f.txt", "d/lnk")
    tr.do("symlink abs", sftp.symlink, "/nonexistent/target", "d/dangling")
    tr.do("symlink exists", sftp.symlink, "f.txt", "d/lnk")
    tr.do("readlink", sftp.readlink, "d/lnk")
    tr.do("readlink dangling", sftp.readlink, "d/dangling")
    tr.do("readlink not link", sftp.readlink, "d/f.txt")
    tr.do("lstat lnk", lambda: stat.S_ISLNK(sftp.lstat("d/lnk").st_mode))
    tr.do("stat lnk", lambda: attr_view(sftp.stat("d/lnk")))
    tr.do("stat dangling", lambda: attr_view(sftp.stat("d/dangling")))
    tr.do("normalize lnk", sftp.normalize, "d/lnk")
    tr.do("hardlink", ext, sftp, "hardlink@openssh.com", "d/f.txt", "d/hard")
    tr.do("hardlink exists", ext, sftp, "hardlink@openssh.com", "d/f.txt", "d/hard")
    tr.do("nlink", lambda: os.stat(os.path.join(root, "d/f.txt")).st_nlink)
    tr.do("lsetstat symlink times", ext, sftp, "lsetstat@openssh.com", "d/lnk",
          attrs(atime=OLD, mtime=OLD))
    tr.do("lsetstat size", ext, sftp, "lsetstat@openssh.com", "d/lnk", attrs(size=0))
    tr.do("lsetstat mode", ext, sftp, "lsetstat@openssh.com", "d/lnk", attrs(mode=0o600))
    tr.do("link mtime", lambda: os.lstat(os.path.join(root, "d/lnk")).st_mtime == OLD)

    # rename
    with sftp.open("d/other", "w") as f:
        f.write(b"other")
    tr.do("rename", sftp.rename, "d/f.txt", "d/g.txt")
    tr.do("rename onto existing", sftp.rename, "d/g.txt", "d/other")
    tr.do("rename missing", sftp.rename, "d/nothing", "d/x")
    tr.do("posix_rename onto existing", sftp.posix_rename, "d/g.txt", "d/other")
    tr.do("read other", lambda: sftp.open("d/other").read())
    tr.do("rename dir", sftp.rename, "d/sub", "d/sub2")
    tr.do("rename dir onto file", sftp.rename, "d/sub2", "d/other")

    # copy-data
    with sftp.open("d/src", "w") as f:
        f.write(b"0123456789" * 1000)
    try:
        with sftp.open("d/src", "r") as rf, sftp.open("d/dst", "w") as wf:
            tr.do("copy-data all", ext, sftp, "copy-data", rf.handle, u64(0), u64(0), wf.handle,
                  u64(0))
            tr.do("copy-data part", ext, sftp, "copy-data", rf.handle, u64(5), u64(7), wf.handle,
                  u64(20000))
            tr.do("copy-data same handle", ext, sftp, "copy-data", rf.handle, u64(0), u64(0),
                  rf.handle, u64(0))
        tr.do("copy-data result", lambda: sha(sftp.open("d/dst").read()))
    except (IOError, OSError) as e:
        tr.add("copy-data setup", ("ERR", e.errno))

    # directories and removal
    tr.do("rmdir non-empty", sftp.rmdir, "d")
    tr.do("rmdir missing", sftp.rmdir, "d/zzz")
    tr.do("rmdir file", sftp.rmdir, "d/other")
    tr.do("remove missing", sftp.remove, "d/zzz")
    tr.do("remove dir", sftp.remove, "d/sub2")
    tr.do("stat missing", sftp.stat, "d/zzz")
    tr.do("lstat missing", sftp.lstat, "d/zzz")
    tr.do("listdir missing", sftp.listdir, "d/zzz")
    tr.do("listdir file", sftp.listdir, "d/other")
    for p in ("d", "."):
        for name in sorted(os.listdir(os.path.join(root, p))):
            full = os.path.join(root, p, name)
            if not os.path.islink(full):
                os.utime(full, (OLD, OLD))
        os.utime(os.path.join(root, p), (OLD, OLD))
    tr.do("listdir_attr d", listing, sftp, "d")
    tr.do("listdir_attr .", listing, sftp, ".")
    tr.do("statvfs", statvfs, sftp, ".")
    tr.do("statvfs missing", statvfs, sftp, "nope")
    tr.do("limits", ext, sftp, "limits@openssh.com")
    tr.do("expand-path ~", lambda: ext(sftp, "expand-path@openssh.com", "~")[1][4:].decode(
        errors="replace"))
    tr.do("expand-path ~/d", lambda: ext(sftp, "expand-path@openssh.com", "~/d")[1][4:].decode(
        errors="replace"))
    tr.do("expand-path ~nosuchuser", ext, sftp, "expand-path@openssh.com", "~nosuchuserxyz/x")
    tr.do("home-directory root", lambda: ext(sftp, "home-directory", "root")[1][4:].decode(
        errors="replace"))
    tr.do("home-directory nosuchuser", ext, sftp, "home-directory", "nosuchuserxyz")
    # OpenSSH 9.2 answers FAILURE for an empty name, newer releases the current user's
    # home: informational only
    try:
        v = ext(sftp, "home-directory", "")[1][4:].decode(errors="replace")
    except (IOError, OSError) as e:
        v = ("ERR", e.args)
    tr.notes.append("home-directory '': %r" % (v,))
    tr.do("users-groups-by-id", ext, sftp, "users-groups-by-id@openssh.com",
          struct.pack(">II", 0, 4242421), struct.pack(">II", 0, 4242421))
    tr.do("unknown extension", ext, sftp, "nope@example.org")

    # large file, both directions
    big = os.urandom(8 * 1024 * 1024)
    sftp.putfo(io.BytesIO(big), "big.bin")
    with open(os.path.join(root, "big.bin"), "rb") as f:
        tr.check(sha(f.read()) == sha(big), "8 MiB upload corrupted")
    out = io.BytesIO()
    sftp.getfo("big.bin", out)
    tr.check(sha(out.getvalue()) == sha(big), "8 MiB download corrupted")
    with sftp.open("big.bin", "r") as f:
        f.prefetch()
        tr.check(sha(f.read()) == sha(big), "8 MiB prefetch read corrupted")
    tr.add("big size", sftp.stat("big.bin").st_size)
    tr.do("remove big", sftp.remove, "big.bin")

    # many small files
    tr.do("mkdir many", sftp.mkdir, "many")
    n = 600
    for i in range(n):
        with sftp.open("many/f%04d" % i, "w") as f:
            f.write(("file %d\n" % i).encode() * (i % 7))
    names = sftp.listdir("many")
    tr.check(sorted(names) == ["f%04d" % i for i in range(n)], "listing of %d files wrong" % n)
    tr.add("many count", len(names))
    ok = all(sftp.open("many/f%04d" % i).read() == ("file %d\n" % i).encode() * (i % 7)
             for i in range(0, n, 7))
    tr.check(ok, "small file contents wrong")
    for i in range(n):
        sftp.remove("many/f%04d" % i)
    tr.do("rmdir many", sftp.rmdir, "many")
    tr.do("final listing", lambda: sorted(os.listdir(root)))


def run(server, top, name):
    root = os.path.join(top, name)
    os.mkdir(root)
    tr = Transcript(root)
    try:
        scenario(server, root, tr)
    except Exception as e:
        tr.failures.append("scenario aborted: %s: %s" % (type(e).__name__, e))
        tr.lines.append("ABORTED: %s: %s" % (type(e).__name__, e))
    return tr


def main():
    if len(sys.argv) < 2:
        print("usage: paramiko-pipe.py SERVER [REFERENCE]", file=sys.stderr)
        return 2
    server = sys.argv[1]
    ref = sys.argv[2] if len(sys.argv) > 2 else OPENSSH_SERVER
    os.umask(0o022)
    top = tempfile.mkdtemp(prefix="berth-paramiko-")
    try:
        # both roots have names of equal length so that nothing but the prefix differs
        t_ref = run(ref, top, "ref")
        t_srv = run(server, top, "srv")
    finally:
        shutil.rmtree(top, ignore_errors=True)
    failed = False
    for label, tr in (("reference", t_ref), ("server", t_srv)):
        for f in tr.failures:
            print("FAIL (%s): %s" % (label, f))
            failed = True
    if t_ref.lines != t_srv.lines:
        failed = True
        print("FAIL: observable results differ (--- %s, +++ %s)" % (ref, server))
        sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(
            t_ref.lines, t_srv.lines, "reference", "server", lineterm="", n=1))
    for n_ref, n_srv in zip(t_ref.notes, t_srv.notes):
        if n_ref != n_srv:
            print("NOTE: reference %s / server %s" % (n_ref, n_srv))
    if os.environ.get("VERBOSE"):
        print("\n".join(t_srv.lines))
    print("%d observations compared" % len(t_srv.lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

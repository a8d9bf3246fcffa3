#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Per-account policy through paramiko against berthd: every SFTP request and extension
that could bypass a rule, handle-based operations, quotas, atomic uploads, check-file.

Usage: policy.py PORT KEY SCENARIO ROOT [args...]
ROOT is the account's jail on the host (the test runs as root and inspects it)."""
import hashlib
import os
import stat
import sys
import threading
import time

import paramiko
from paramiko.py3compat import long
from paramiko.sftp import (CMD_CLOSE, CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_HANDLE,
                           CMD_OPEN, CMD_SETSTAT)
from paramiko.sftp_attr import SFTPAttributes

FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 16, 32

port, key, scenario, root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
extra = sys.argv[5:]


def connect(user):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port, user, key_filename=key, allow_agent=False,
              look_for_keys=False, timeout=20, banner_timeout=60, auth_timeout=60)
    return c, c.open_sftp()


def outcome(fn, *a):
    """'ok', 'denied', 'nosuch' or 'failure:<message>' for one request."""
    try:
        fn(*a)
        return "ok"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "nosuch"
    except IOError as e:
        return "failure:%s" % (e.args[-1] if e.args else e)


def expect(what, got, want):
    if got != want:
        raise SystemExit("FAIL: %s: got %s, expected %s" % (what, got, want))
    print("ok - %s: %s" % (what, got))


def raw_open(s, path, flags):
    t, msg = s._request(CMD_OPEN, path, flags, SFTPAttributes())
    if t != CMD_HANDLE:
        raise IOError("no handle")
    return msg.get_binary()


def raw_close(s, h):
    s._request(CMD_CLOSE, h)


def open_close(s, path, flags):
    raw_close(s, raw_open(s, path, flags))


def ext(s, name, *args):
    return s._request(CMD_EXTENDED, name, *args)


def statvfs(s, path):
    """statvfs@openssh.com: (bsize, frsize, blocks, bfree, bavail, files, ffree, ...)."""
    t, msg = ext(s, "statvfs@openssh.com", path)
    assert t == CMD_EXTENDED_REPLY, t
    return [msg.get_int64() for _ in range(11)]


def check_file(s, kind, target, alg="sha256"):
    t, msg = ext(s, "check-file-" + kind, target, alg, long(0), long(0), 0)
    assert t == CMD_EXTENDED_REPLY, t
    assert msg.get_text() == "check-file"
    assert msg.get_text() == alg
    return msg.get_remainder().hex()


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host(rel):
    return os.path.join(root, rel.lstrip("/"))


def partner():
    """Permissions / full, /in upload-only with Filter *.csv,!*.exe, /out list+download,
    /ro read-only, setstat applied."""
    c, s = connect("partner")
    W = FXF_WRITE | FXF_CREAT | FXF_TRUNC
    # open with each flag combination, in the drop box
    combos = [
        ("new file, WRITE|CREAT|TRUNC", "/in/a.csv", W, "ok"),
        ("existing file, WRITE|CREAT|TRUNC (overwrite)", "/in/a.csv", W, "denied"),
        ("existing file, WRITE", "/in/a.csv", FXF_WRITE, "denied"),
        ("existing file, WRITE|APPEND", "/in/a.csv", FXF_WRITE | FXF_APPEND, "denied"),
        ("existing file, READ", "/in/a.csv", FXF_READ, "denied"),
        ("existing file, READ|WRITE", "/in/a.csv", FXF_READ | FXF_WRITE, "denied"),
        # an upload that finds the name taken fails (EEXIST) and changes nothing
        ("existing file, CREAT|EXCL", "/in/a.csv", FXF_WRITE | FXF_CREAT | FXF_EXCL,
         "failure:Failure"),
        ("new file, READ|CREAT", "/in/b.csv", FXF_READ | FXF_CREAT, "denied"),
        ("new file, WRITE|CREAT|EXCL", "/in/c.csv", FXF_WRITE | FXF_CREAT | FXF_EXCL, "ok"),
        ("filtered name", "/in/x.exe", W, "denied"),
        ("name outside the allow list", "/in/x.txt", W, "denied"),
        ("read-only directory, READ", "/ro/fixed.txt", FXF_READ, "ok"),
        ("read-only directory, WRITE", "/ro/fixed.txt", FXF_WRITE, "denied"),
        ("read-only directory, new file", "/ro/new", W, "denied"),
    ]
    for what, path, flags, want in combos:
        expect("open " + what, outcome(open_close, s, path, flags), want)
    # core requests in the drop box
    expect("opendir /in", outcome(s.listdir, "/in"), "denied")
    expect("stat /in/secret.csv", outcome(s.stat, "/in/secret.csv"), "denied")
    expect("lstat /in/secret.csv", outcome(s.lstat, "/in/secret.csv"), "denied")
    expect("readlink in /in", outcome(s.readlink, "/in/secret.csv"), "denied")
    expect("remove /in/secret.csv", outcome(s.remove, "/in/secret.csv"), "denied")
    expect("mkdir /in/d", outcome(s.mkdir, "/in/d"), "denied")
    expect("setstat /in/secret.csv", outcome(s.chmod, "/in/secret.csv", 0o600), "denied")
    expect("setstat size /in/secret.csv", outcome(s.truncate, "/in/secret.csv", 0), "denied")
    expect("symlink into /in", outcome(s.symlink, "/in/secret.csv", "/in/l.csv"), "denied")
    # renames and links out of and into restricted directories
    expect("rename out of /in", outcome(s.rename, "/in/secret.csv", "/stolen.csv"),
           "denied")
    expect("posix-rename out of /in",
           outcome(s.posix_rename, "/in/secret.csv", "/stolen.csv"), "denied")
    expect("hardlink out of /in",
           outcome(ext, s, "hardlink@openssh.com", "/in/secret.csv", "/stolen.csv"),
           "denied")
    expect("hardlink from /ro to a writable directory",
           outcome(ext, s, "hardlink@openssh.com", "/ro/fixed.txt", "/work/f.txt"),
           "denied")
    expect("rename into /ro", outcome(s.rename, "/readme", "/ro/readme"), "denied")
    expect("rename the drop box itself", outcome(s.rename, "/in", "/open"), "denied")
    expect("posix-rename over the drop box",
           outcome(s.posix_rename, "/work", "/in"), "denied")
    with s.open("/work/w.csv", "wb") as f:
        f.write(b"w")
    expect("rename into the drop box (a new name)",
           outcome(s.rename, "/work/w.csv", "/in/w.csv"), "ok")
    # a symlink outside the drop box does not open it
    s.symlink("/in", "/work/door")
    s.symlink("/in/secret.csv", "/work/door.csv")
    expect("read through a symlink to /in", outcome(open_close, s, "/work/door.csv",
                                                     FXF_READ), "denied")
    expect("list through a symlink to /in", outcome(s.listdir, "/work/door"), "denied")
    expect("overwrite through a symlinked directory",
           outcome(open_close, s, "/work/door/secret.csv", W), "denied")
    expect("check-file-name in /in",
           outcome(check_file, s, "name", "/in/secret.csv"), "denied")
    expect("check-file-name through a symlink",
           outcome(check_file, s, "name", "/work/door.csv"), "denied")
    # lsetstat on a name in /ro (a symlink is not followed, still decided in /ro)
    a = SFTPAttributes()
    a.st_mtime, a.st_atime = 1000000000, 1000000000
    expect("lsetstat in /ro",
           outcome(ext, s, "lsetstat@openssh.com", "/ro/fixed.txt", a), "denied")
    # handle-based operations decide on the handle's file
    with s.open("/ro/fixed.txt", "r") as f:
        expect("fsetstat on a read handle in /ro", outcome(f.chmod, 0o600), "denied")
        expect("fsetstat size on a read handle in /ro", outcome(f.truncate, 0), "denied")
        expect("check-file-handle on a read handle in /ro",
               check_file(s, "handle", f.handle), sha256_file(host("/ro/fixed.txt")))
        # copy-data into the drop box's file from a readable one
        dst = raw_open(s, "/work/copy.bin", W)
        expect("copy-data from /ro into /work",
               outcome(ext, s, "copy-data", f.handle, long(0), long(0), dst, long(0)), "ok")
        raw_close(s, dst)
    expect("copy-data needs a readable source: open in /in",
           outcome(open_close, s, "/in/secret.csv", FXF_READ), "denied")
    with s.open("/work/copy.bin", "r") as f:
        expect("copied content", f.read(), open(host("/ro/fixed.txt"), "rb").read())
    # /out: list and download only
    expect("download from /out", outcome(s.open("/out/report.pdf", "r").read), "ok")
    expect("upload into /out", outcome(open_close, s, "/out/new", W), "denied")
    expect("delete in /out", outcome(s.remove, "/out/report.pdf"), "denied")
    # reserved names
    expect("create a reserved name", outcome(open_close, s, "/work/.berth-x", W), "denied")
    c.close()
    assert not os.path.exists(host("/stolen.csv"))
    assert open(host("/in/secret.csv"), "rb").read() == b"partner A's data\n"
    print("partner scenario passed")


def readonly(user):
    c, s = connect(user)
    W = FXF_WRITE | FXF_CREAT | FXF_TRUNC
    times = SFTPAttributes()
    times.st_mtime, times.st_atime = 1000000000, 1000000000
    expect(user + ": download", outcome(s.open("/readme", "r").read), "ok")
    for what, fn, args in [
        ("open for writing", open_close, (s, "/new", W)),
        ("open existing WRITE", open_close, (s, "/readme", FXF_WRITE)),
        ("open READ|CREAT", open_close, (s, "/new2", FXF_READ | FXF_CREAT)),
        ("remove", s.remove, ("/readme",)),
        ("mkdir", s.mkdir, ("/d",)),
        ("rmdir", s.rmdir, ("/sub",)),
        ("rename", s.rename, ("/readme", "/r2")),
        ("posix-rename", s.posix_rename, ("/readme", "/r2")),
        ("hardlink", ext, (s, "hardlink@openssh.com", "/readme", "/r2")),
        ("symlink", s.symlink, ("/readme", "/r2")),
        ("setstat", s.chmod, ("/readme", 0o600)),
        ("lsetstat", ext, (s, "lsetstat@openssh.com", "/readme", times)),
    ]:
        expect("%s: %s" % (user, what), outcome(fn, *args), "denied")
    with s.open("/readme", "r") as f:
        expect(user + ": fsetstat on a read handle", outcome(f.chmod, 0o600), "denied")
    c.close()
    print("read-only scenario passed for " + user)


def setstat(user, want):
    c, s = connect(user)
    before = stat.S_IMODE(os.stat(host("/readme")).st_mode)
    expect(user + ": chmod", outcome(s.chmod, "/readme", 0o600), want)
    after = stat.S_IMODE(os.stat(host("/readme")).st_mode)
    expect(user + ": mode on disk", oct(after), oct(before))
    c.close()


def quota_race():
    """Two sessions of one account upload at the same moment; together they would pass
    the quota."""
    size = int(extra[0])
    data = os.urandom(size)
    results = [None, None]
    go = threading.Barrier(2)

    def upload(i):
        c, s = connect("quota")
        try:
            # not pipelined: paramiko drops the status of pipelined writes
            with s.open("/race%d.bin" % i, "wb") as f:
                go.wait()
                for off in range(0, size, 32768):
                    f.write(data[off:off + 32768])
            results[i] = "ok"
        except IOError as e:
            results[i] = "failure:%s" % (e.args[-1] if e.args else e)
        finally:
            c.close()
    th = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    print("race results: %s" % results)
    # Interleaved, both may run into the quota; they can never both succeed.
    if "failure:Quota exceeded" not in results or \
            any(r not in ("ok", "failure:Quota exceeded") for r in results):
        raise SystemExit("FAIL: expected the quota to stop an upload: %s" % results)
    print("ok - two concurrent sessions: %s" % results)


def quota_mid():
    """A pipelined upload crosses the quota in its middle: that write fails."""
    size = int(extra[0])
    c, s = connect("quota")
    data = os.urandom(size)
    try:
        with s.open("/mid.bin", "wb") as f:
            for off in range(0, size, 32768):
                f.write(data[off:off + 32768])
        got = "ok"
    except IOError as e:
        got = "failure:%s" % (e.args[-1] if e.args else e)
    expect("upload over the quota", got, "failure:Quota exceeded")
    v = statvfs(s, "/")
    print("df after: blocks %d bavail %d frsize %d" % (v[2], v[4], v[1]))
    c.close()


def hole():
    """An upload with a deliberate hole in atomic mode is never published."""
    c, s = connect("atomic")
    with s.open("/hole.bin", "wb") as f:
        f.write(b"A" * 4096)
        f.seek(8192)
        f.write(b"B" * 4096)
    expect("file with a hole published", os.path.exists(host("/hole.bin")), False)
    expect("listed", "hole.bin" in s.listdir("/"), False)
    c.close()


def hang_upload():
    """Write part of an upload, then wait to be killed."""
    c, s = connect(extra[0])
    f = s.open("/" + extra[1], "wb")
    f.write(os.urandom(int(extra[2])))
    f.flush()
    s.stat("/")  # a round trip: the writes have been processed
    open(extra[3], "w").close()
    time.sleep(120)


def interrupted_upload():
    """Write part of an upload and drop the connection without closing the file."""
    c, s = connect(extra[0])
    data = open(extra[2], "rb").read()
    f = s.open("/" + extra[1], "wb")
    f.write(data[:int(extra[3])])
    s.stat("/")
    c.get_transport().sock.close()  # gone without a CLOSE


def checksum():
    c, s = connect(extra[0])
    with s.open(extra[1], "r") as f:
        print(check_file(s, "handle", f.handle))
    by_name = check_file(s, "name", extra[1])
    md5 = check_file(s, "name", extra[1], "md5")
    assert md5 == hashlib.md5(open(host(extra[1]), "rb").read()).hexdigest()
    print(by_name)
    c.close()


def df():
    c, s = connect(extra[0])
    v = statvfs(s, "/")
    print("%d %d %d" % (v[2] * v[1], v[4] * v[1], v[5]))
    c.close()


def hold():
    c, s = connect(extra[0])
    s.stat("/")
    open(extra[1], "w").close()
    time.sleep(120)


def login():
    try:
        c, s = connect(extra[0])
        s.stat("/")
        c.close()
        print("login ok")
    except paramiko.AuthenticationException:
        print("login refused")


def timed(direction):
    """Transfer N bytes and print the seconds it took (bandwidth, never pass/fail here)."""
    c, s = connect(extra[0])
    size = int(extra[1])
    t0 = time.monotonic()
    if direction == "up":
        with s.open("/timed.bin", "wb") as f:
            f.set_pipelined(True)
            data = os.urandom(size)
            for off in range(0, size, 32768):
                f.write(data[off:off + 32768])
    else:
        with s.open("/timed.bin", "rb") as f:
            f.prefetch()
            n = len(f.read())
            assert n == size, n
    print("%.3f" % (time.monotonic() - t0))
    c.close()


def concurrent_upload():
    """N sessions of one account upload SIZE bytes each at once; prints the wall time."""
    n, size = int(extra[1]), int(extra[2])
    conns = [connect(extra[0]) for _ in range(n)]
    data = os.urandom(size)
    go = threading.Barrier(n)
    errors = []

    def up(i):
        try:
            with conns[i][1].open("/conc%d.bin" % i, "wb") as f:
                f.set_pipelined(True)
                go.wait()
                for off in range(0, size, 32768):
                    f.write(data[off:off + 32768])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    th = [threading.Thread(target=up, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in th:
        t.start()
    for t in th:
        t.join()
    print("%.3f" % (time.monotonic() - t0))
    for c, s in conns:
        c.close()
    if errors:
        raise SystemExit("FAIL: %s" % errors)
    for i in range(n):
        assert open(host("/conc%d.bin" % i), "rb").read() == data


def slow_download():
    """A throttled download that says when it has started."""
    c, s = connect(extra[0])
    with s.open(extra[1], "rb") as f:
        f.prefetch()
        open(extra[2], "w").close()
        f.read()
    c.close()


scenarios = {
    "partner": partner,
    "readonly": lambda: readonly(extra[0]),
    "setstat-ignore": lambda: setstat("ign", "ok"),
    "setstat-refuse": lambda: setstat("ref", "denied"),
    "quota-race": quota_race,
    "quota-mid": quota_mid,
    "hole": hole,
    "hang-upload": hang_upload,
    "interrupted-upload": interrupted_upload,
    "checksum": checksum,
    "df": df,
    "hold": hold,
    "login": login,
    "upload-time": lambda: timed("up"),
    "download-time": lambda: timed("down"),
    "concurrent-upload": concurrent_upload,
    "slow-download": slow_download,
}
scenarios[scenario]()

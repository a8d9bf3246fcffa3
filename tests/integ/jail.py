#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Per-request confinement checks for `SERVER -j JAIL` via paramiko over a pipe (driven by
# jail.sh, which builds the jail and checks the sentinel tree outside it afterwards).
#
# usage: jail.py SERVER JAIL OUTSIDE SECRET MODE LOG
#   MODE basic: escapes through symlinks, "..", host paths, /proc paths; in-jail links work
#   MODE proc:  the jail has the real /proc bind-mounted at /proc (server started by the
#               caller's wrapper in a private mount namespace): magic links must not escape
#   MODE race:  a process swaps a directory with a symlink to outside while we hammer it
import ctypes
import errno
import hashlib
import os
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftptest import Server, sftp_client, sanitizer_problem  # noqa: E402

import paramiko  # noqa: E402
from paramiko.py3compat import long as u64  # noqa: E402,F401
from paramiko.sftp import CMD_EXTENDED  # noqa: E402

RENAME_EXCHANGE = 2


def swapper(a, b, seconds):
    """Exchange a and b (a directory and a symlink to outside) as fast as possible."""
    libc = ctypes.CDLL(None, use_errno=True)
    deadline = time.time() + seconds
    n = 0
    while time.time() < deadline:
        if libc.renameat2(-100, a.encode(), -100, b.encode(), RENAME_EXCHANGE) != 0:
            raise SystemExit("renameat2: %s" % os.strerror(ctypes.get_errno()))
        n += 1
    print("swapper: %d exchanges" % n, flush=True)


if len(sys.argv) > 1 and sys.argv[1] == "--swap":
    swapper(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    sys.exit(0)

SERVER, JAIL, OUTSIDE, SECRET, MODE, LOGPATH = sys.argv[1:7]
TOP = os.path.dirname(JAIL)
failures = []
log = open(LOGPATH, "a")
counts = {"requests": 0, "denied": 0}


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def record(what, result):
    log.write("%s -> %r\n" % (what, result))


def jail_inventory():
    """Names and content hashes of everything inside the jail: the only things a
    confined server may reveal."""
    names, hashes = set(["/", ".", ".."]), set()
    for dp, dns, fns in os.walk(JAIL):
        if dp.startswith(os.path.join(JAIL, "proc")):
            dns[:] = []
            continue
        for n in dns + fns:
            names.add(n)
            full = os.path.join(dp, n)
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    hashes.add(hashlib.sha256(f.read()).hexdigest())
    return names, hashes


NAMES, HASHES = jail_inventory()
# Names that exist only outside the jail: the sentinel's, the test dir's, the host's.
FORBIDDEN_NAMES = {"secret.txt", "secret-%s.txt" % SECRET, "deep", "outside-only-marker",
                   "passwd", "usr", "bin", "jail", "outside", "logs", "local",
                   os.path.basename(TOP)}
assert not FORBIDDEN_NAMES & NAMES, "jail layout uses a forbidden name"


def call(what, fn, *args):
    """Run one client operation; return (ok, value or errno)."""
    counts["requests"] += 1
    try:
        v = fn(*args)
    except (IOError, OSError) as e:
        counts["denied"] += 1
        record(what, ("ERR", e.errno, e.args))
        leak_check(what, repr(e.args))
        return False, e.errno
    except paramiko.SSHException as e:
        fail("%s: connection broke: %s" % (what, e))
        raise
    record(what, v)
    leak_check(what, repr(v))
    return True, v


def leak_check(what, text):
    # a symlink planted by the test may store a host path: readlink echoes it legitimately
    if what.startswith("readlink"):
        text = text.replace(OUTSIDE, "<planted>")
    if SECRET in text:
        fail("%s: reply contains the outside secret: %s" % (what, text[:200]))
    if TOP in text and TOP not in what:
        fail("%s: reply reveals the host path %s: %s" % (what, TOP, text[:200]))


def read_file(sftp, path):
    with sftp.open(path, "r") as f:
        return f.read()


def write_file(sftp, path, data=b"written-through-escape\n"):
    with sftp.open(path, "w") as f:
        f.write(data)
    return True


def check_read(sftp, path):
    ok, v = call("read %s" % path, read_file, sftp, path)
    if ok and hashlib.sha256(v).hexdigest() not in HASHES:
        fail("read %s returned data that is not any in-jail file: %r" % (path, v[:80]))
    return ok


def check_stat_fails(sftp, path):
    for op in (sftp.stat, sftp.lstat):
        ok, v = call("%s %s" % (op.__name__, path), op, path)
        if ok:
            fail("%s %s succeeded (target exists only outside the jail)" % (op.__name__, path))


def check_listdir(sftp, path):
    ok, v = call("listdir %s" % path, sftp.listdir, path)
    if ok:
        extra = set(v) & FORBIDDEN_NAMES
        if extra:
            fail("listdir %s shows names that are not in the jail: %s" % (path, sorted(extra)[:10]))
    return ok, v


def check_realpath(sftp, path):
    ok, v = call("realpath %s" % path, sftp.normalize, path)
    if ok and not v.startswith("/"):
        fail("realpath %s = %r is not absolute" % (path, v))
    return ok, v


def check_write_denied_or_inside(sftp, path):
    """Writes may fail, or land inside the jail; jail.sh checks that nothing changed
    outside. Here only the reply is checked."""
    call("write %s" % path, write_file, sftp, path)


def new_client(extra_args=()):
    srv = Server([SERVER, "-j", JAIL] + list(extra_args), cwd=JAIL)
    return srv, sftp_client(srv)


def end_client(srv, sftp):
    try:
        sftp.close()
    except Exception:
        pass
    rc, err = srv.finish()
    bad = sanitizer_problem(err)
    if bad:
        fail("sanitizer report: %s" % err[-3000:])
    if rc != 0:
        fail("server exit status %d (stderr %r)" % (rc, err[-500:]))
    leak_check("stderr", err)
    log.write("stderr: %s\n" % err)


# Paths that escape the jail under naive (unconfined) resolution from the jail directory.
# SAFE ones would land inside this test's temp dir, so mutating requests go only there: a
# broken server must not be able to damage the host (e.g. truncate /etc/passwd).
ESCAPE_DIRS_SAFE = [
    "rel", "/rel", "sub/rel2", "outside_abs", "d/d/d/rel", "proc_root" + OUTSIDE,
    "proc_cwd/outside", "..", "../outside", "sub/../../outside", "/../../outside",
    "./../outside", "sub/../..", "../../../../../../../../../.." + OUTSIDE, OUTSIDE,
    TOP + "/outside", "/proc/self/root" + OUTSIDE, "/proc/self/cwd/outside",
    "/proc/1/root" + OUTSIDE,
]
# read-only probes: these would reach the host's /etc, /tmp or / if unconfined
ESCAPE_DIRS_READONLY = [
    "etc_link", "/etc_link", "proc_fd/3", "../..", "/..", "/../..", "d/../../outside",
    "d/d/d/../outside",
]


def precheck(sftp):
    """Refuse to send mutating requests to a server that is visibly not confined."""
    ok, v = check_realpath(sftp, ".")
    if not ok or v != "/":
        fail("realpath . = %r, expected '/': server is not confined, skipping the "
             "mutating probes" % (v,))
        return False
    ok, _ = call("precheck read /etc_link/passwd", read_file, sftp, "/etc_link/passwd")
    ok2, _ = call("precheck read ../outside/secret.txt", read_file, sftp, "../outside/secret.txt")
    if ok or ok2:
        fail("reads escape the jail: skipping the mutating probes")
        return False
    return True


def basic():
    srv, sftp = new_client()
    try:
        ok, v = check_realpath(sftp, ".")
        if not ok or v != "/":
            fail("realpath . = %r, expected '/'" % (v,))
        for p in ("..", "/..", "../..", "/../../", "sub/../..", "d/d/d", "d/d/d/.."):
            ok, v = check_realpath(sftp, p)
            if ok and v != "/":
                fail("realpath %s = %r, expected '/'" % (p, v))
        # the host's /etc through a planted absolute link and through ".."
        for p in ("etc_link/passwd", "/etc_link/passwd", "../../../../etc/passwd",
                  "/../../../../etc/passwd", "d/d/d/d/etc/passwd", "proc_root/etc/passwd",
                  "/proc/self/root/etc/passwd", "/proc/1/root/etc/passwd", "/etc/passwd",
                  "etc_link/../../../etc/passwd"):
            check_read(sftp, p)
            check_stat_fails(sftp, p)
        for d in ESCAPE_DIRS_SAFE + ESCAPE_DIRS_READONLY:
            secret = d.rstrip("/") + "/secret.txt"
            check_stat_fails(sftp, secret)
            check_read(sftp, secret)
            check_listdir(sftp, d)
            check_realpath(sftp, d)
            call("readlink %s" % d, sftp.readlink, d)
            call("statvfs %s" % d, lambda p=d: sftp._request(
                CMD_EXTENDED, "statvfs@openssh.com", p))
        if not precheck(sftp):
            return
        for d in ESCAPE_DIRS_SAFE:
            secret = d.rstrip("/") + "/secret.txt"
            call("chmod %s" % secret, sftp.chmod, secret, 0o777)
            call("utime %s" % secret, sftp.utime, secret, (1, 1))
            call("truncate %s" % secret, sftp.truncate, secret, 0)
            call("chown %s" % secret, sftp.chown, secret, 4242, 4242)
            call("remove %s" % secret, sftp.remove, secret)
            call("rename %s" % secret, sftp.rename, secret, "stolen-" + d.replace("/", "_"))
            call("posix_rename %s" % secret, sftp.posix_rename, secret, "stolen2")
            call("hardlink %s" % secret, lambda s=secret: sftp._request(
                CMD_EXTENDED, "hardlink@openssh.com", s, "stolen-hard"))
            call("rename into %s" % d, sftp.rename, "victim", d + "/victim-moved")
            call("mkdir %s" % d, sftp.mkdir, d + "/escape-dir")
            call("rmdir %s" % d, sftp.rmdir, d + "/subdir")
            call("symlink in %s" % d, sftp.symlink, "/a", d + "/escape-link")
            check_write_denied_or_inside(sftp, d + "/escape-file")
            ok, _ = call("lsetstat %s" % secret, lambda s=secret: sftp._request(
                CMD_EXTENDED, "lsetstat@openssh.com", s, paramiko.SFTPAttributes()))
        # something moved into the jail from outside would show up here
        for name in ("stolen2", "stolen-hard"):
            if os.path.lexists(os.path.join(JAIL, name)):
                fail("an outside file was renamed/linked into the jail as %s" % name)
        for entry in os.listdir(JAIL):
            if entry.startswith("stolen"):
                fail("an outside file was moved into the jail as %s" % entry)
        # dangling links to outside: PUT through them creates nothing outside
        for p in ("dangling", "dangling_rel", "sub/dangling_rel2"):
            check_write_denied_or_inside(sftp, p)
        # expand-path and home-directory must stay inside too
        call("expand-path ~", lambda: sftp._request(CMD_EXTENDED, "expand-path@openssh.com",
                                                    "~/.."))
        # in-jail links keep working
        for p, want in (("abs_in", b"inside a\n"), ("/abs_in", b"inside a\n"),
                        ("rel_in", b"inner\n"), ("sub/abs_up", b"inside a\n"),
                        ("d/a", b"inside a\n"), ("d/d/d/sub/inner.txt", b"inner\n"),
                        ("../a", b"inside a\n"), ("/../../a", b"inside a\n"),
                        ("sub/../../../a", b"inside a\n")):
            ok, v = call("read in-jail %s" % p, read_file, sftp, p)
            if not ok or v != want:
                fail("in-jail path %s: expected %r, got %r" % (p, want, v))
        ok, v = call("readlink abs_in", sftp.readlink, "abs_in")
        if not ok or v != "/a":
            fail("readlink abs_in = %r, expected '/a'" % (v,))
        ok, v = check_realpath(sftp, "abs_in")
        if not ok or v != "/a":
            fail("realpath abs_in = %r, expected '/a'" % (v,))
        ok, v = check_realpath(sftp, "rel_in")
        if not ok or v != "/sub/inner.txt":
            fail("realpath rel_in = %r, expected '/sub/inner.txt'" % (v,))
        ok, v = check_listdir(sftp, "/")
        if not ok or "a" not in v or "sub" not in v:
            fail("listdir / does not show the jail root: %r" % (v,))
        ok, _ = call("write in-jail", write_file, sftp, "/sub/new.txt", b"new\n")
        if not ok or open(os.path.join(JAIL, "sub/new.txt"), "rb").read() != b"new\n":
            fail("writing /sub/new.txt inside the jail failed")
        ok, _ = call("symlink in-jail", sftp.symlink, "/sub/new.txt", "newlink")
        ok2, v = call("read via new abs link", read_file, sftp, "newlink")
        if not (ok and ok2 and v == b"new\n"):
            fail("a newly created absolute symlink does not resolve inside the jail")
        ok, v = call("read via dir link", read_file, sftp, "/sub/abs_up")
        if not ok or v != b"inside a\n":
            fail("sub/abs_up -> /a did not resolve inside the jail")
    finally:
        end_client(srv, sftp)
    # -d is a path inside the jail
    srv, sftp = new_client(["-d", "/sub"])
    try:
        ok, v = check_realpath(sftp, ".")
        if not ok or v != "/sub":
            fail("with -d /sub: realpath . = %r, expected '/sub'" % (v,))
        ok, v = call("read inner via -d", read_file, sftp, "inner.txt")
        if not ok or v != b"inner\n":
            fail("with -d /sub: inner.txt not readable: %r" % (v,))
    finally:
        end_client(srv, sftp)


def proc():
    """/proc inside the jail is the real procfs: magic links must not be followed out."""
    srv = Server(["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount --bind /proc "$1/proc" && exec "$0" -j "$1"', SERVER, JAIL],
                 cwd=JAIL)
    sftp = sftp_client(srv)
    try:
        if not precheck(sftp):
            return
        for base in ("/proc/self/root", "/proc/self/cwd", "/proc/thread-self/root",
                     "/proc/%d/root" % srv.pid, "/proc/1/root", "proc_root", "proc_cwd",
                     "/proc/self/fd/0/..", "/proc/self/fd/3", "/proc/self/fd/4"):
            for tail in (OUTSIDE + "/secret.txt", "/outside/secret.txt", "/secret.txt",
                         "/etc/passwd"):
                p = base + tail
                check_read(sftp, p)
                check_stat_fails(sftp, p)
                if tail.startswith(OUTSIDE):  # never mutate host paths such as /etc
                    call("chmod %s" % p, sftp.chmod, p, 0o777)
                    call("truncate %s" % p, sftp.truncate, p, 0)
            check_listdir(sftp, base)
            check_listdir(sftp, base + OUTSIDE)
            check_write_denied_or_inside(sftp, base + OUTSIDE + "/escape-file")
        # /proc itself is just a directory in the jail; its plain files are allowed
        call("read /proc/self/status", read_file, sftp, "/proc/self/status")
    finally:
        end_client(srv, sftp)


def race():
    seconds = 10
    pairs = [("race", "race_alt"), ("race2", "race2_alt")]
    srv, sftp = new_client()
    if not precheck(sftp):
        end_client(srv, sftp)
        return
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--swap",
                               os.path.join(JAIL, a), os.path.join(JAIL, b), str(seconds)])
             for a, b in pairs]
    ops = 0
    inside_ok = 0
    try:
        deadline = time.time() + seconds
        i = 0
        while time.time() < deadline and ops < 40000:
            i += 1
            d = pairs[i % 2][0]
            check_stat_fails(sftp, d + "/secret.txt")
            if check_read(sftp, d + "/f.txt"):
                inside_ok += 1
            check_read(sftp, d + "/secret.txt")
            check_write_denied_or_inside(sftp, "%s/put-%d" % (d, i))
            call("mkdir", sftp.mkdir, "%s/dir-%d" % (d, i))
            call("chmod", sftp.chmod, d + "/secret.txt", 0o777)
            call("remove", sftp.remove, d + "/secret.txt")
            if i % 10 == 0:
                check_listdir(sftp, d)
            ops += 8
    finally:
        end_client(srv, sftp)
        for p in procs:
            p.wait()
            if p.returncode != 0:
                fail("swapper process failed (%d)" % p.returncode)
    print("race: %d requests, %d reads of the in-jail file succeeded" % (ops, inside_ok))
    if ops < 1000:
        fail("race made only %d requests" % ops)


def main():
    try:
        {"basic": basic, "proc": proc, "race": race}[MODE]()
    except Exception as e:
        fail("%s aborted: %s: %s" % (MODE, type(e).__name__, e))
    print("jail %s: %d requests, %d refused, %d failure(s)" % (
        MODE, counts["requests"], counts["denied"], len(failures)), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Hostile raw SFTP frames over a pipe: every case runs in a fresh server process and must end
# in an error reply or a clean exit (never a signal, never a sanitizer report).
#
# usage: hostile.py SERVER [REFERENCE_SERVER]
# The reference (default: OpenSSH's sftp-server, if present) runs the same cases; outcomes
# that differ are printed as NOTE lines (informational), assertions apply to SERVER.
import os
import resource
import shutil
import struct
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftptest import *  # noqa: E402,F401,F403

WORK = None


class CaseFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def status_name(code):
    return STATUS_NAMES.get(code, str(code))


def reply_summary(srv, timeout=10):
    """Read one reply, or report EOF/timeout. Returns a short string."""
    try:
        t, body = srv.recv_packet(timeout)
    except EOFError:
        return "EOF"
    except TimeoutError:
        return "no-reply"
    except ValueError as e:
        return "garbage(%s)" % e
    r = Reader(body)
    if t == FXP_STATUS:
        r.u32()
        return "STATUS:" + status_name(r.u32())
    return "type%d" % t


def finish(srv, want_rc=None):
    rc, err = srv.finish()
    expect(rc >= 0, "server killed by signal %d" % -rc)
    bad = sanitizer_problem(err)
    expect(bad is None, "sanitizer report (%s) on stderr:\n%s" % (bad, err[-4000:]))
    if want_rc is not None:
        expect(rc == want_rc, "exit status %d, expected %d (stderr: %r)" % (rc, want_rc,
                                                                              err[-500:]))
    return rc


def wait_exit(srv, timeout=20):
    """The server must exit on its own (without us closing stdin)."""
    timeout *= SCALE
    try:
        srv.proc.wait(timeout)
    except Exception:
        raise CaseFailed("server still running %ds after a fatal condition" % timeout)


def spawn(server, **kw):
    return Server([server], cwd=WORK, **kw)


def started(server, **kw):
    s = spawn(server, **kw)
    s.init()
    return s


def open_file(srv, path, flags=FXF_READ):
    t, r = srv.call(FXP_OPEN, sstr(path) + u32(flags) + u32(0))
    expect(t == FXP_HANDLE, "OPEN %s: expected HANDLE, got type %d" % (path, t))
    return r.str()


# ---- cases: each returns an outcome string; raises CaseFailed on a violated expectation ----

def case_len_small(server, n):
    s = started(server)
    # a STAT with a frame length of n: the type byte plus n-1 bytes of the id
    body = bytes([FXP_STAT]) + b"\x00\x00\x00\x07"[:max(0, n - 1)]
    s.write(u32(n) + body[:n])
    s.close_stdin()
    out = reply_summary(s, 10)
    rc = finish(s)
    return "%s rc=%d" % (out, rc)


def case_len0_then_request(server):
    s = started(server)
    s.write(u32(0))
    s.write(frame(FXP_STAT, u32(9) + sstr(".")))
    out = reply_summary(s, 10)
    rc = finish(s)
    return "%s rc=%d" % (out, rc)


def case_huge(server, n):
    s = started(server)
    s.write(u32(n) + bytes([FXP_WRITE]) + u32(1))
    wait_exit(s)
    out = reply_summary(s, 2)
    rc = finish(s, want_rc=11)
    expect(out == "EOF", "oversize frame answered with %s" % out)
    return "%s rc=%d" % (out, rc)


def case_max_frame_ok(server):
    """A WRITE frame of exactly 256 KiB is legal."""
    s = started(server)
    h = open_file(s, "maxframe", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    head = u32(77) + sstr(h) + u64(0)
    data_len = 256 * 1024 - 1 - len(head) - 4
    s.write(u32(256 * 1024) + bytes([FXP_WRITE]) + head + sstr(b"x" * data_len))
    t, body = s.recv_packet()
    r = Reader(body)
    expect(t == FXP_STATUS and r.u32() == 77, "max-size WRITE: bad reply type %d" % t)
    code = r.u32()
    expect(code == FX_OK, "max-size WRITE: status %s" % status_name(code))
    rc = finish(s, want_rc=0)
    expect(os.path.getsize(os.path.join(WORK, "maxframe")) == data_len, "written size wrong")
    return "OK rc=%d" % rc


def case_truncated_eof(server):
    s = started(server)
    s.write(u32(100) + bytes([FXP_STAT]) + u32(5) + b"abc")
    s.close_stdin()
    out = reply_summary(s, 10)
    rc = finish(s)
    expect(out in ("EOF", "no-reply"), "truncated frame answered: %s" % out)
    return "%s rc=%d" % (out, rc)


def case_string_past_end(server, strlen):
    s = started(server)
    body = u32(3) + u32(strlen) + b"abcd"
    s.write(frame(FXP_STAT, body))
    # a valid request right behind it: must not be swallowed as the string's tail
    s.write(frame(FXP_STAT, u32(4) + sstr(".")))
    outs = [reply_summary(s, 5)]
    if outs[0] not in ("EOF", "no-reply"):
        outs.append(reply_summary(s, 5))
    rc = finish(s)
    expect(outs[0] != "type%d" % FXP_ATTRS or len(outs) > 1,
           "string overrunning the frame was accepted")
    return "%s rc=%d" % (",".join(outs), rc)


def case_bad_handles(server):
    s = started(server)
    with open(os.path.join(WORK, "f"), "wb") as f:
        f.write(b"hello")
    os.makedirs(os.path.join(WORK, "d"), exist_ok=True)
    results = []
    for label, h in [("empty", b""), ("1byte", b"\x00"), ("4zero", b"\0\0\0\0"),
                     ("4ff", b"\xff\xff\xff\xff"), ("8ff", b"\xff" * 8),
                     ("8rand", os.urandom(8)), ("300", b"A" * 300),
                     ("255", b"\x01" * 255)]:
        for op, payload in [("READ", u64(0) + u32(10)), ("CLOSE", b""), ("FSTAT", b""),
                            ("READDIR", b"")]:
            ptype = {"READ": FXP_READ, "CLOSE": FXP_CLOSE, "FSTAT": FXP_FSTAT,
                     "READDIR": FXP_READDIR}[op]
            code = s.status(ptype, sstr(h) + payload)
            results.append("%s/%s=%s" % (label, op, status_name(code)))
            expect(code not in (FX_OK, FX_EOF), "%s on bogus handle %s gave %s" %
                   (op, label, status_name(code)))
    # closed handle
    h = open_file(s, "f")
    expect(s.status(FXP_CLOSE, sstr(h)) == FX_OK, "close failed")
    for op, ptype, payload in [("READ", FXP_READ, u64(0) + u32(5)), ("CLOSE", FXP_CLOSE, b""),
                               ("FSTAT", FXP_FSTAT, b"")]:
        code = s.status(ptype, sstr(h) + payload)
        results.append("closed/%s=%s" % (op, status_name(code)))
        expect(code not in (FX_OK, FX_EOF), "%s on closed handle gave %s" %
               (op, status_name(code)))
    # wrong type: file handle to READDIR, dir handle to READ/WRITE
    fh = open_file(s, "f")
    code = s.status(FXP_READDIR, sstr(fh))
    results.append("file/READDIR=%s" % status_name(code))
    expect(code not in (FX_OK, FX_EOF), "READDIR on a file handle gave %s" % status_name(code))
    t, r = s.call(FXP_OPENDIR, sstr("d"))
    expect(t == FXP_HANDLE, "OPENDIR failed")
    dh = r.str()
    for op, ptype, payload in [("READ", FXP_READ, u64(0) + u32(5)),
                               ("WRITE", FXP_WRITE, u64(0) + sstr("zz"))]:
        code = s.status(ptype, sstr(dh) + payload)
        results.append("dir/%s=%s" % (op, status_name(code)))
        expect(code not in (FX_OK, FX_EOF), "%s on a dir handle gave %s" % (op, status_name(code)))
    # a real handle with its length changed is invalid
    for label, hv in [("short", fh[:-1]), ("long", fh + b"\0"), ("double", fh + fh)]:
        code = s.status(FXP_READ, sstr(hv) + u64(0) + u32(5))
        results.append("%s/READ=%s" % (label, status_name(code)))
        expect(code not in (FX_OK, FX_EOF), "READ with a %s handle gave %s" %
               (label, status_name(code)))
    # stale handle whose slot was reused: OpenSSH's 4-byte index makes it valid again,
    # a generation counter makes it invalid (recorded, not asserted)
    with open(os.path.join(WORK, "g"), "wb") as f:
        f.write(b"other")
    old = open_file(s, "f")
    expect(s.status(FXP_CLOSE, sstr(old)) == FX_OK, "close failed")
    new = open_file(s, "g")
    t, r = s.call(FXP_READ, sstr(old) + u64(0) + u32(5))
    results.append("stale-reused=%s" % ("DATA" if t == FXP_DATA else
                                         "STATUS:" + status_name(r.u32())))
    s.status(FXP_CLOSE, sstr(new))
    # the real handles still work afterwards
    t, r = s.call(FXP_READ, sstr(fh) + u64(0) + u32(5))
    expect(t == FXP_DATA and r.str() == b"hello", "valid handle broken after bogus ones")
    finish(s, want_rc=0)
    return " ".join(results)


def case_read_huge(server):
    s = started(server)
    with open(os.path.join(WORK, "big"), "wb") as f:
        f.write(os.urandom(300 * 1024))
    h = open_file(s, "big")
    t, r = s.call(FXP_READ, sstr(h) + u64(0) + u32(0xffffffff))
    expect(t == FXP_DATA, "READ 0xffffffff: got type %d" % t)
    n = len(r.str())
    expect(0 < n <= 261120, "READ 0xffffffff returned %d bytes" % n)
    finish(s, want_rc=0)
    return "DATA len=%d" % n


def case_nul_in_path(server):
    s = started(server)
    with open(os.path.join(WORK, "a"), "wb") as f:
        f.write(b"x")
    s.write(frame(FXP_STAT, u32(5) + sstr(b"a\0b")))
    out = reply_summary(s, 10)
    rc = finish(s)
    expect(out != "type%d" % FXP_ATTRS, "path with NUL was truncated and stat()ed")
    expect(out.startswith("STATUS:") or out == "EOF",
           "NUL in path: expected an error reply or exit, got %s" % out)
    return "%s rc=%d" % (out, rc)


def case_many_components(server):
    s = started(server)
    t, r = s.call(FXP_STAT, sstr("a/" * 100000))
    expect(t == FXP_STATUS, "100k components: got type %d" % t)
    code = r.u32()
    expect(code != FX_OK, "100k components: OK")
    t, r = s.call(FXP_REALPATH, sstr("a/" * 100000))
    expect(t == FXP_STATUS, "100k components REALPATH: got type %d" % t)
    code2 = r.u32()
    t, r = s.call(FXP_OPEN, sstr("a/" * 100000 + "x") + u32(FXF_WRITE | FXF_CREAT) + u32(0))
    expect(t == FXP_STATUS, "100k components OPEN: got type %d" % t)
    code3 = r.u32()
    finish(s, want_rc=0)
    return "STAT=%s REALPATH=%s OPEN=%s" % (status_name(code), status_name(code2),
                                           status_name(code3))


def case_before_init(server):
    s = spawn(server)
    s.write(frame(FXP_STAT, u32(1) + sstr(".")))
    wait_exit(s)
    out = reply_summary(s, 2)
    rc = finish(s)
    expect(rc != 0, "request before INIT: exit status 0")
    expect(out == "EOF", "request before INIT answered: %s" % out)
    return "%s rc=%d" % (out, rc)


def case_second_init(server):
    s = started(server)
    s.write(frame(FXP_INIT, u32(3)))
    s.write(frame(FXP_STAT, u32(42) + sstr(".")))
    outs = []
    for _ in range(2):
        o = reply_summary(s, 5)
        outs.append(o)
        if o in ("EOF", "no-reply"):
            break
    rc = finish(s)
    return "%s rc=%d" % (",".join(outs), rc)


def case_unknown_type(server):
    s = started(server)
    s.write(frame(99, u32(1) + sstr("junk")))
    s.write(frame(0, u32(2)))
    s.write(frame(255, u32(3)))
    rid = s.send(FXP_STAT, sstr("."), rid=4)
    # OpenSSH handles one queued message per poll() wakeup, so after a message without a
    # reply it waits for more input: nudge it with further requests until a reply shows.
    for i in range(50):
        if s.pending(0.2):
            break
        s.send(FXP_STAT, sstr("."), rid=100 + i)
    t, body = s.recv_packet()
    r = Reader(body)
    got = r.u32()
    expect(got == rid and t == FXP_ATTRS,
           "after unknown types: got type %d id %d (expected ATTRS for id 4)" % (t, got))
    finish(s, want_rc=0)
    return "no reply; next answered"


def case_unknown_extended(server):
    s = started(server)
    code = s.status(FXP_EXTENDED, sstr("nonexistent@example.org") + sstr("x"))
    expect(code == FX_OP_UNSUPPORTED, "unknown extension: %s" % status_name(code))
    code2 = s.status(FXP_EXTENDED, sstr(""))
    finish(s, want_rc=0)
    return "%s empty=%s" % (status_name(code), status_name(code2))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def case_handle_exhaustion(server):
    def lower_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
    s = started(server, preexec_fn=lower_limit)
    with open(os.path.join(WORK, "h"), "wb") as f:
        f.write(b"data")
    base = fd_count(s.pid)
    counts = []
    for rnd in range(3):
        handles = []
        refused = None
        for _ in range(100000):
            t, r = s.call(FXP_OPEN, sstr("h") + u32(FXF_READ) + u32(0))
            if t != FXP_HANDLE:
                expect(t == FXP_STATUS, "OPEN at exhaustion: type %d" % t)
                refused = r.u32()
                break
            handles.append(r.str())
        expect(refused is not None, "never refused an OPEN")
        expect(refused != FX_OK, "refused with OK")
        # dir handles are refused too, and the server still answers
        t, r = s.call(FXP_OPENDIR, sstr("."))
        if t == FXP_HANDLE:
            handles.append(r.str())
        t, r = s.call(FXP_STAT, sstr("h"))
        expect(t == FXP_ATTRS, "STAT failed while handles exhausted")
        for h in handles:
            code = s.status(FXP_CLOSE, sstr(h))
            expect(code == FX_OK, "CLOSE failed: %s" % status_name(code))
        counts.append(len(handles))
        now = fd_count(s.pid)
        expect(now == base, "round %d: %d fds open after closing all, baseline %d" %
               (rnd, now, base))
    expect(counts[0] > 10, "only %d handles before refusal" % counts[0])
    expect(len(set(counts)) == 1, "handle capacity changed between rounds: %s" % counts)
    finish(s, want_rc=0)
    return "handles per round %s, refusal %s, fds back to %d" % (counts, status_name(refused),
                                                                 base)


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def case_pipeline(server):
    n_req = 10000
    chunk = 32768
    s = started(server)
    with open(os.path.join(WORK, "p"), "wb") as f:
        f.write(os.urandom(chunk * 2))
    h = open_file(s, "p")
    base = vmrss_kib(s.pid)
    blob = b"".join(frame(FXP_READ, u32(1000 + i) + sstr(h) + u64((i % 2) * chunk) + u32(chunk))
                    for i in range(n_req))
    progress = {"written": 0, "error": None}

    def writer():
        try:
            view = memoryview(blob)
            while view:
                k = os.write(s.win, view[:65536])
                view = view[k:]
                progress["written"] += k
        except OSError as e:
            progress["error"] = e

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    # sample memory until the writer finished or stalled (server stopped reading)
    peak = base
    last, still = -1, 0
    while th.is_alive() and still < 10:
        time.sleep(0.1)
        peak = max(peak, vmrss_kib(s.pid))
        if progress["written"] == last:
            still += 1
        else:
            last, still = progress["written"], 0
    peak = max(peak, vmrss_kib(s.pid))
    growth = peak - base
    expect(growth < 64 * 1024, "VmRSS grew by %d KiB (base %d KiB) with %d unread replies" %
           (growth, base, n_req))
    ids = []
    for i in range(n_req):
        t, body = s.recv_packet()
        r = Reader(body)
        rid = r.u32()
        expect(t == FXP_DATA, "pipelined reply %d: type %d" % (i, t))
        expect(len(r.str()) == chunk, "pipelined reply %d: short read" % i)
        ids.append(rid)
    th.join(30)
    expect(progress["error"] is None, "writer error %s" % progress["error"])
    expect(ids == list(range(1000, 1000 + n_req)), "reply ids out of order or missing")
    peak = max(peak, vmrss_kib(s.pid))
    finish(s, want_rc=0)
    return "writer stalled at %d/%d bytes; VmRSS base %d KiB peak %d KiB" % (
        last, len(blob), base, peak)


def case_clean_eof(server):
    s = started(server)
    rc = finish(s, want_rc=0)
    return "rc=%d" % rc


CASES = [
    ("len0", lambda srv: case_len_small(srv, 0)),
    ("len0+request", case_len0_then_request),
    ("len1", lambda srv: case_len_small(srv, 1)),
    ("len2", lambda srv: case_len_small(srv, 2)),
    ("len3", lambda srv: case_len_small(srv, 3)),
    ("len4", lambda srv: case_len_small(srv, 4)),
    ("huge-0xffffffff", lambda srv: case_huge(srv, 0xffffffff)),
    ("huge-256KiB+1", lambda srv: case_huge(srv, 256 * 1024 + 1)),
    ("exact-256KiB-write", case_max_frame_ok),
    ("truncated-then-eof", case_truncated_eof),
    ("string-past-end", lambda srv: case_string_past_end(srv, 1000)),
    ("string-wrap-0xfffffffc", lambda srv: case_string_past_end(srv, 0xfffffffc)),
    ("bogus-handles", case_bad_handles),
    ("read-0xffffffff", case_read_huge),
    ("nul-in-path", case_nul_in_path),
    ("100k-components", case_many_components),
    ("request-before-init", case_before_init),
    ("second-init", case_second_init),
    ("unknown-type", case_unknown_type),
    ("unknown-extended", case_unknown_extended),
    ("handle-exhaustion", case_handle_exhaustion),
    ("pipeline-10000", case_pipeline),
    ("clean-eof", case_clean_eof),
]


def run_case(server, name, fn):
    global WORK
    WORK = tempfile.mkdtemp(prefix="hostile-", dir=TOP)
    try:
        return True, fn(server)
    except CaseFailed as e:
        return False, str(e)
    except Exception as e:  # protocol confusion counts as a failure, with the reason
        return False, "%s: %s" % (type(e).__name__, e)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


def main():
    global TOP
    if len(sys.argv) < 2:
        print("usage: hostile.py SERVER [REFERENCE]", file=sys.stderr)
        return 2
    server = sys.argv[1]
    ref = sys.argv[2] if len(sys.argv) > 2 else OPENSSH_SERVER
    if not os.access(ref, os.X_OK) or os.path.realpath(ref) == os.path.realpath(server):
        ref = None
    TOP = tempfile.mkdtemp(prefix="berth-hostile-")
    only = os.environ.get("HOSTILE_ONLY")
    failures = 0
    try:
        for name, fn in CASES:
            if only and name not in only.split(","):
                continue
            ok, out = run_case(server, name, fn)
            print("%-24s %s  %s" % (name, "ok  " if ok else "FAIL", out), flush=True)
            if not ok:
                failures += 1
            if ref:
                rok, rout = run_case(ref, name, fn)
                if rout != out:
                    print("%-24s NOTE reference %s: %s" % ("", "ok" if rok else "FAIL", rout),
                          flush=True)
    finally:
        shutil.rmtree(TOP, ignore_errors=True)
    print("%d case(s) failed" % failures if failures else "all cases passed")
    return 1 if failures else 0


TOP = None
if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Issue 9 item 1: stdin and stdout on one socketpair, a client that pipelines a whole
# 64 MiB download (paramiko prefetch: one thread sends every READ at once) while its reader
# lags and itself sends requests (a stat between reads, or paramiko's synchronous
# fallback reads). A server that blocks in a write, or stops reading its input while its
# replies are stuck, deadlocks with it: paramiko's reader waits for its own send to get
# through. Runs the pattern many times; a stall is reported as a failure (the server is
# killed, the test stops at the first one), never as a hang.
#
# usage: paramiko-socketpair.py SERVER [REFERENCE_SERVER (unused)]
# environment: BERTH_SOCKETPAIR_ITERATIONS (default 20), BERTH_TIMEOUT_SCALE (default 1)
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftptest import SCALE, sanitizer_problem  # noqa: E402

import paramiko  # noqa: E402

SIZE = 64 * 1024 * 1024
CHUNK = 32768
STALL = 30 * SCALE  # seconds without a byte of progress = deadlock


class PairSocket(socket.socket):
    """A socket paramiko.SFTPClient accepts in place of a channel."""

    def get_name(self):
        return "socketpair"


class Progress:
    def __init__(self):
        self.bytes = 0
        self.lock = threading.Lock()

    def add(self, n):
        with self.lock:
            self.bytes += n

    def value(self):
        with self.lock:
            return self.bytes


def watchdog(proc, sock, progress, done, verdict):
    """Kill the server and shut the socket when no byte arrives for STALL seconds."""
    last, since = -1, time.monotonic()
    while not done.wait(0.5):
        now = progress.value()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > STALL:
            verdict.append("no progress for %.0f s at %d of %d bytes: deadlock" %
                           (STALL, now, SIZE))
            proc.kill()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return


class LaggingSink:
    """getfo's writer: hashes, and pauses now and then (the lagging reader)."""

    def __init__(self, progress):
        self.h = hashlib.sha256()
        self.n = 0
        self.progress = progress

    def write(self, data):
        self.h.update(data)
        self.progress.add(len(data))
        self.n += 1
        if self.n % 16 == 0:
            time.sleep(0.002)
        return len(data)


def get_lagging(sftp, progress):
    sink = LaggingSink(progress)
    sftp.getfo("big.bin", sink)
    return sink.h.hexdigest()


def prefetch_with_stats(sftp, progress):
    """Prefetch everything, then read it while sending a STAT every 8 chunks."""
    h = hashlib.sha256()
    with sftp.open("big.bin", "r") as f:
        f.prefetch(SIZE)
        n = 0
        while True:
            data = f.read(CHUNK)
            if not data:
                break
            h.update(data)
            progress.add(len(data))
            n += 1
            if n % 8 == 0:
                sftp.stat("big.bin")
    return h.hexdigest()


def iteration(server, root, want, pattern):
    ours, theirs = socket.socketpair()
    ours = PairSocket(fileno=ours.detach())
    errf = tempfile.TemporaryFile()
    proc = subprocess.Popen([server], stdin=theirs, stdout=theirs, stderr=errf, cwd=root)
    theirs.close()
    progress, done, verdict = Progress(), threading.Event(), []
    dog = threading.Thread(target=watchdog, args=(proc, ours, progress, done, verdict),
                           daemon=True)
    dog.start()
    problems = []
    try:
        sftp = paramiko.SFTPClient(ours)
        got = pattern(sftp, progress)
        sftp.close()
        if got != want:
            problems.append("download corrupted")
    except Exception as e:  # a killed server surfaces here as EOF or reset
        problems.append("client: %s: %s" % (type(e).__name__, e))
    finally:
        done.set()
        dog.join()
        try:
            ours.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            rc = proc.wait(10 * SCALE)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            problems.append("server did not exit after EOF")
        ours.close()
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    if verdict:
        problems = verdict + problems
    elif rc != 0:
        problems.append("server exit status %d" % rc)
    bad = sanitizer_problem(err)
    if bad:
        problems.append("sanitizer report (%s): %s" % (bad, err[-3000:]))
    return problems


def main():
    if len(sys.argv) < 2:
        print("usage: paramiko-socketpair.py SERVER [REFERENCE]", file=sys.stderr)
        return 2
    server = os.path.abspath(sys.argv[1])
    # paramiko's prefetch thread dies with the connection of a failed iteration: one line
    threading.excepthook = lambda a: print("  client thread: %s: %s" %
                                           (a.exc_type.__name__, a.exc_value))
    iterations = int(os.environ.get("BERTH_SOCKETPAIR_ITERATIONS", "20"))
    root = tempfile.mkdtemp(prefix="berth-socketpair-")
    failed = 0
    try:
        data = os.urandom(SIZE)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(data)
        want = hashlib.sha256(data).hexdigest()
        del data
        patterns = [("getfo, lagging writer", get_lagging),
                    ("prefetch + stat every 8 reads", prefetch_with_stats)]
        for i in range(iterations):
            label, fn = patterns[i % len(patterns)]
            started = time.monotonic()
            problems = iteration(server, root, want, fn)
            took = time.monotonic() - started
            if problems:
                failed += 1
                print("iteration %d (%s): FAIL after %.1f s" % (i, label, took))
                for p in problems:
                    print("  " + p)
                print("stopping: one deadlock is a verdict")
                iterations = i + 1
                break
            else:
                print("iteration %d (%s): ok, %.1f s" % (i, label, took))
            sys.stdout.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("%d of %d iterations passed" % (iterations - failed, iterations))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

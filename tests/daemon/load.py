# SPDX-License-Identifier: BSD-2-Clause
# 200 SFTP sessions held open at once from 20 loopback sources (127.0.0.10-29), each
# uploading and downloading a checksummed file; all must succeed under default limits.
# usage: load.py PORT TMPDIR [SESSIONS] [SOURCES]
import hashlib
import os
import socket
import sys
import threading
import time

import paramiko
from testlib import scaled, transport

port, t = int(sys.argv[1]), sys.argv[2]
n_sessions = int(sys.argv[3]) if len(sys.argv) > 3 else 200
n_sources = int(sys.argv[4]) if len(sys.argv) > 4 else 20
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
# 200 handshakes at once on 2 cores (under ASan, with other work running) can take a
# minute: every limit is generous and scaled; a real failure fails fast anyway.
barrier = threading.Barrier(n_sessions, timeout=scaled(180))
lock = threading.Lock()
failures = []
opened = []


def session(i):
    src = "127.0.0.%d" % (10 + i % n_sources)
    tr = None
    try:
        sock = socket.socket()
        sock.bind((src, 0))
        sock.settimeout(scaled(90))
        sock.connect(("127.0.0.1", port))
        tr = transport(sock, timeout=90)
        tr.auth_publickey("demo", key)
        sftp = paramiko.SFTPClient.from_transport(tr)
        data = os.urandom(64 * 1024 + i)
        name = "load-%03d.bin" % i
        with sftp.open(name, "wb") as f:
            f.write(data)
        with sftp.open(name, "rb") as f:
            back = f.read()
        if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            raise AssertionError("checksum mismatch")
        with lock:
            opened.append(time.time())
        barrier.wait()  # all sessions are open at the same time here
        sftp.stat(name)  # and still usable
        sftp.close()
    except Exception as e:  # noqa: BLE001 - every failure counts
        with lock:
            failures.append("%d from %s: %r" % (i, src, e))
        try:
            barrier.abort()
        except Exception:
            pass
    finally:
        if tr is not None:
            tr.close()


start = time.time()
threads = [threading.Thread(target=session, args=(i,)) for i in range(n_sessions)]
for th in threads:
    th.start()
for th in threads:
    th.join()
elapsed = time.time() - start
print("sessions=%d sources=%d failures=%d all-open-after=%.1fs total=%.1fs" % (
    n_sessions, n_sources, len(failures),
    (max(opened) - start) if opened else -1, elapsed))
for f in failures[:10]:
    print("failure:", f)
sys.exit(1 if failures else 0)

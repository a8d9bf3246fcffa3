# SPDX-License-Identifier: BSD-2-Clause
# Client side of test-defender.sh: failed logins over SSH (paramiko) and FTPS (ftplib)
# from a chosen loopback source address, probes that tell an accepted connection from one
# the master refused right after accept(), and a held-open SFTP upload for
# `berthctl sessions` / `kick`.
#
#   defender.py fail-ssh SRC PORT N            N connections, one wrong password each
#   defender.py fail-ftps SRC PORT N           N FTPS (AUTH TLS) logins, wrong password
#   defender.py probe-ssh SRC PORT             prints "open" (banner) or "refused"
#   defender.py probe-ftps SRC PORT            prints "open" (220) or "refused"
#   defender.py probe-implicit SRC PORT        "open" (waits for our TLS) or "refused"
#   defender.py junk-ftps SRC PORT             invalid commands until the server closes
#   defender.py flood SRC PORT N               N connections at once, then closed
#   defender.py hold-upload PORT KEY DIR       upload /live.bin in steps (see below)
import ftplib
import os
import socket
import ssl
import sys
import time

import paramiko

from testlib import scaled, transport, wait_until


def connect(src, port):
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(20),
                                 source_address=(src, 0))
    return s


def fail_ssh(src, port, n):
    for _ in range(n):
        tr = transport(connect(src, port))
        try:
            tr.auth_password("demo", "wrong-password")
        except paramiko.AuthenticationException:
            pass
        finally:
            tr.close()


def fail_ftps(src, port, n):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(n):
        f = ftplib.FTP_TLS(context=ctx, timeout=scaled(20))
        f.connect("127.0.0.1", port, source_address=(src, 0))
        try:
            f.login("demo", "wrong-password")
            raise SystemExit("FTPS login with a wrong password succeeded")
        except ftplib.error_perm:
            pass
        finally:
            f.close()


def junk_ftps(src, port):
    """Unknown commands before login until the server hangs up (FTPSMaxInvalidCommands)."""
    s = connect(src, port)
    f = s.makefile("rb")
    if not f.readline().startswith(b"220"):
        raise SystemExit("no FTP greeting")
    for i in range(100):
        try:
            s.sendall(b"XYZZY %d\r\n" % i)
            line = f.readline()
        except OSError:
            break
        if not line or line.startswith(b"421"):
            break
    else:
        raise SystemExit("the server never closed after 100 invalid commands")
    s.close()


def probe(src, port, want):
    """open: the server greets; refused: closed (or reset) without a byte."""
    try:
        s = connect(src, port)
        s.settimeout(scaled(5) if want is None else scaled(20))
        data = s.recv(64)
        s.close()
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except TimeoutError:
        # Implicit TLS: the server waits for our ClientHello (a refused connection is
        # closed at once, never left waiting).
        data = None
    if want is None:
        print("open" if data is None else "refused")
    else:
        print("open" if data and data.startswith(want) else "refused")


def flood(src, port, n):
    """Open n connections at once and hold them (unauthenticated) until each was either
    greeted or closed by the server; prints how many were refused."""
    socks = [connect(src, port) for _ in range(n)]
    refused = 0
    for s in socks:
        s.settimeout(scaled(20))
        try:
            if not s.recv(64):
                refused += 1
        except (ConnectionResetError, BrokenPipeError):
            refused += 1
    for s in socks:
        s.close()
    print(refused)


def hold_upload(port, key, d):
    """Upload /live.bin in three steps: 64 KiB, then (after DIR/go) 64 KiB more, then
    wait for DIR/stop. Exits 3 when the connection is cut (kick), 0 after stop."""
    tr = transport(connect("127.0.0.1", port))
    tr.auth_publickey("demo", paramiko.Ed25519Key.from_private_key_file(key))
    sftp = paramiko.SFTPClient.from_transport(tr)
    chunk = os.urandom(64 * 1024)
    try:
        f = sftp.open("/live.bin", "wb")
        f.write(chunk)
        f.flush()
        open(os.path.join(d, "step1"), "w").close()
        wait_until(lambda: os.path.exists(os.path.join(d, "go")), 60, "go flag")
        f.write(chunk)
        f.flush()
        open(os.path.join(d, "step2"), "w").close()
        end = time.monotonic() + scaled(60)
        while not os.path.exists(os.path.join(d, "stop")):
            if time.monotonic() > end:
                raise SystemExit("no stop flag")
            # A request on the channel notices a cut connection.
            sftp.stat("/")
            time.sleep(0.05)
        f.close()
    except (EOFError, OSError, paramiko.SSHException):
        print("connection closed")
        sys.exit(3)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "fail-ssh":
        fail_ssh(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "fail-ftps":
        fail_ftps(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "probe-ssh":
        probe(sys.argv[2], int(sys.argv[3]), b"SSH-")
    elif cmd == "probe-ftps":
        probe(sys.argv[2], int(sys.argv[3]), b"220")
    elif cmd == "probe-implicit":
        probe(sys.argv[2], int(sys.argv[3]), None)
    elif cmd == "junk-ftps":
        junk_ftps(sys.argv[2], int(sys.argv[3]))
    elif cmd == "flood":
        flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "hold-upload":
        sys.exit(hold_upload(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()

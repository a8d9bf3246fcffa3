# SPDX-License-Identifier: BSD-2-Clause
# What berthd's FTPS side refuses, one check each, with a raw control connection (Python
# sockets and ssl) so every reply code is seen: login before TLS, PROT C, data
# connections without session reuse or without TLS, a PASV connection from another
# address, PORT/EPRT bounces, ALPN http/1.1, plaintext pipelined after AUTH TLS, overlong
# lines, junk and too many commands before login, CR/LF/NUL in names, negative and
# overflowing REST, jail escapes, a read-only account's writes, failed logins.
# usage: ftps-refusals.py EXPLICIT_PORT IMPLICIT_PORT PASSWORD JAIL RO_JAIL
import os
import re
import socket
import ssl
import sys

from ftpslib import context

PORT, IPORT, PASSWORD, JAIL, RO_JAIL = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                        sys.argv[4], sys.argv[5])
T = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


CTX = context()


class Ctl:
    """One FTP control connection that shows every reply."""

    def __init__(self, port=PORT, implicit=False, ctx=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T)
        self.ctx = ctx or CTX
        if implicit:
            self.sock = self.ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.resp()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def resp(self):
        first = self.line()
        text = [first]
        if len(first) > 3 and first[3] == "-":
            while True:
                ln = self.line()
                text.append(ln)
                if ln[:3] == first[:3] and ln[3:4] == " ":
                    break
        return int(first[:3]), "\n".join(text)

    def send(self, raw):
        self.sock.sendall(raw if isinstance(raw, bytes) else raw.encode() + b"\r\n")

    def cmd(self, line):
        self.send(line)
        return self.resp()

    def closed(self):
        """True when the server closed the connection (EOF or reset)."""
        try:
            self.sock.settimeout(T)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def starttls(self):
        code, _ = self.cmd("AUTH TLS")
        assert code == 234, code
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname="localhost")

    def login(self, user="demo", password=PASSWORD, prot="P"):
        if not isinstance(self.sock, ssl.SSLSocket):
            self.starttls()
        assert self.cmd("USER " + user)[0] == 331
        code, text = self.cmd("PASS " + password)
        assert code == 230, text
        assert self.cmd("PBSZ 0")[0] == 200
        assert self.cmd("PROT " + prot)[0] == 200
        return self

    def pasv(self):
        code, text = self.cmd("EPSV")
        assert code == 229, text
        return int(re.search(r"\|\|\|(\d+)\|", text).group(1))

    def data(self, port, reuse=True, src="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", port), timeout=T, source_address=(src, 0))
        return s, (lambda: self.ctx.wrap_socket(s, server_hostname="localhost",
                                                session=self.sock.session if reuse else None))


def recv_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


with open(os.path.join(JAIL, "file.txt"), "wb") as f:
    f.write(b"hello from the jail\n")

# ---- login before TLS (explicit listener without allow-plain)
c = Ctl()
code, text = c.cmd("USER demo")
check(code == 530 and "TLS" in text, "USER before AUTH TLS: 530 (%s)" % text)
code, _ = c.cmd("PASS " + PASSWORD)
check(code == 530, "PASS before AUTH TLS: 530")
code, _ = c.cmd("PBSZ 0")
check(code == 503, "PBSZ before AUTH TLS: 503")
c.sock.close()

# ---- PROT C refused (FTPSAllowClearData no), and transfers need PROT P
c = Ctl()
c.starttls()
c.cmd("USER demo")
c.cmd("PASS " + PASSWORD)
c.cmd("PBSZ 0")
code, text = c.cmd("PROT C")
check(code == 534, "PROT C refused: 534 (%s)" % text)
code, text = c.cmd("CCC")
check(code == 534, "CCC refused: 534 (%s)" % text)
c.pasv()
code, text = c.cmd("RETR file.txt")
check(code == 521, "RETR without PROT P: 521 (%s)" % text)
c.cmd("QUIT")

# ---- a data connection that does not resume the control connection's session
c = Ctl().login()
port = c.pasv()
s, wrap = c.data(port, reuse=False)
c.send("RETR file.txt")
code, _ = c.resp()
try:
    wrap().recv(10)
    tls_ok = True
except (ssl.SSLError, OSError):
    tls_ok = False
code, text = c.resp()
check(not tls_ok and code == 522, "data connection without session reuse: 522 (%s)" % text)
# ... and one without TLS at all under PROT P (plaintext upload)
port = c.pasv()
s, _ = c.data(port)
c.send("STOR plain.bin")
c.resp()
try:
    s.sendall(b"plaintext data that is not a TLS record\n" * 10)
    s.close()
except OSError:
    pass
code, text = c.resp()
stored = os.path.join(JAIL, "plain.bin")
check(code == 522 and (not os.path.exists(stored) or os.path.getsize(stored) == 0),
      "plaintext data connection under PROT P: 522, nothing stored (%s)" % text)
# ... and the session is still usable with reuse
port = c.pasv()
s, wrap = c.data(port)
c.send("RETR file.txt")
code1, _ = c.resp()
body = recv_all(wrap())
code, _ = c.resp()
check(code1 == 150 and code == 226 and body == b"hello from the jail\n",
      "after the refusals, a resumed data connection works")

# ---- PASV connection from another loopback address: refused, the real one accepted
port = c.pasv()
intruder = socket.create_connection(("127.0.0.1", port), timeout=T,
                                    source_address=("127.0.0.2", 0))
s, wrap = c.data(port)
c.send("RETR file.txt")
c.resp()
body = recv_all(wrap())
code, _ = c.resp()
intruder.settimeout(T)
try:
    gone = intruder.recv(1) == b""
except OSError:
    gone = True
check(gone and code == 226 and body == b"hello from the jail\n",
      "PASV data connection from 127.0.0.2 refused, the control peer's accepted")

# ---- PORT/EPRT: only to our own address, never below 1024 (no FTP bounce)
for cmd in ("PORT 127,0,0,2,19,137", "PORT 127,0,0,1,0,80", "PORT 10,0,0,1,19,137",
            "EPRT |1|127.0.0.2|5001|", "EPRT |1|127.0.0.1|21|", "EPRT |2|::1|5001|"):
    code, text = c.cmd(cmd)
    check(code in (504, 522), "%s refused (%d)" % (cmd, code))

# ---- CR, LF, NUL in names; negative and overflowing REST
c.send(b"MKD bad\x00name\r\n")
code, _ = c.resp()
check(code == 501 and not os.path.exists(os.path.join(JAIL, "bad")), "NUL in a name: 501")
c.send(b"MKD bad\rname\r\n")
code, _ = c.resp()
check(code == 501 and not any(n.startswith("bad") for n in os.listdir(JAIL)),
      "CR in a name: 501")
with open(os.path.join(JAIL, "evil\n226 forged"), "wb") as f:
    f.write(b"x")
port = c.pasv()
s, wrap = c.data(port)
c.send("LIST")
c.resp()
listing = recv_all(wrap()).decode()
c.resp()
check("forged" not in listing and "file.txt" in listing,
      "a name with LF never appears in LIST (no forged line)")
port = c.pasv()
s, wrap = c.data(port)
c.send("NLST")
c.resp()
listing = recv_all(wrap()).decode()
c.resp()
check("forged" not in listing, "... nor in NLST")
for arg in ("-1", "18446744073709551616", "9223372036854775808", "1e3"):
    code, _ = c.cmd("REST " + arg)
    check(code == 501, "REST %s refused (501)" % arg)

# ---- jail escapes: .., absolute paths, symlinks
os.symlink("/etc", os.path.join(JAIL, "etc-link"))
os.symlink("/etc/passwd", os.path.join(JAIL, "passwd-link"))
c.cmd("CWD /../../..")
code, text = c.cmd("PWD")
check('"/"' in text, "CWD /../../.. stays at the jail root (%s)" % text)
for path in ("../../../../etc/passwd", "/etc/passwd", "etc-link/passwd", "passwd-link",
             "/../etc/shadow"):
    code, _ = c.cmd("SIZE " + path)
    check(code == 550, "SIZE %s: 550 (outside the jail)" % path)
port = c.pasv()
s, wrap = c.data(port)
c.send("RETR passwd-link")
code, _ = c.resp()
check(code == 550, "RETR through a symlink to /etc/passwd: 550")
s.close()
c.cmd("QUIT")

# ---- ALPN other than ftp (ALPACA): refused on implicit and explicit TLS
try:
    Ctl(IPORT, implicit=True, ctx=context(["http/1.1"]))
    alpn_refused = False
except (ssl.SSLError, OSError, EOFError):
    alpn_refused = True
check(alpn_refused, "implicit TLS with ALPN http/1.1 refused")
c = Ctl(ctx=context(["http/1.1"]))
try:
    c.starttls()
    alpn_refused = False
except (ssl.SSLError, OSError, EOFError):
    alpn_refused = True
check(alpn_refused, "AUTH TLS with ALPN http/1.1 refused")
c = Ctl(IPORT, implicit=True, ctx=context(["ftp"]))
check(c.sock.selected_alpn_protocol() == "ftp" and c.greeting[0] == 220,
      "ALPN ftp accepted")
c.login()
c.cmd("QUIT")

# ---- plaintext pipelined after AUTH TLS is discarded, never executed
c = Ctl()
c.send(b"AUTH TLS\r\nUSER demo\r\nPASS " + PASSWORD.encode() + b"\r\n")
code, _ = c.resp()
c.sock = CTX.wrap_socket(c.sock, server_hostname="localhost")
code, text = c.cmd("PWD")
check(code == 530, "USER/PASS pipelined in plaintext after AUTH TLS not executed (%s)" % text)
c.login()
check(c.cmd("PWD")[0] == 257, "... and a login over TLS works afterwards")
c.cmd("QUIT")
c = Ctl()
c.send("AUTH TLS")
c.resp()
c.send(b"USER demo\r\n")  # plaintext injected after 234, before the handshake
try:
    CTX.wrap_socket(c.sock, server_hostname="localhost")
    injected = False
except (ssl.SSLError, OSError):
    injected = True
check(injected, "plaintext sent after 234 breaks the handshake (not executed)")

# ---- overlong lines, junk and too many commands before login
c = Ctl(IPORT, implicit=True)
code, text = c.cmd("NOOP " + "A" * 5000)
check(code == 500 and "too long" in text, "overlong line refused: 500 (%s)" % text)
check(c.cmd("NOOP")[0] == 200, "... and the connection goes on")
c.login()
code, _ = c.cmd("CWD " + "B" * 70000)
check(code == 500, "overlong line after login: 500")
check(c.cmd("NOOP")[0] == 200, "... and the session goes on")
c.cmd("QUIT")
c = Ctl(IPORT, implicit=True)
codes = [c.cmd("XYZZY")[0] for _ in range(10)]
code, text = c.resp()  # the 10th gets its own 500, then 421
check(all(x == 500 for x in codes) and code == 421 and c.closed(),
      "10th junk line before login: 500, then 421 and closed")
c = Ctl(IPORT, implicit=True)
codes = [c.cmd("NOOP")[0] for _ in range(32)]
code, _ = c.cmd("NOOP")
check(code == 421 and c.closed(), "33rd command before login: 421 and closed")

# ---- failed logins: the same answer for a wrong password and an unknown user
c = Ctl(IPORT, implicit=True)
c.cmd("USER demo")
code1, t1 = c.cmd("PASS wrong-password")
c.sock.close()
c = Ctl(IPORT, implicit=True)
c.cmd("USER bob")
code2, t2 = c.cmd("PASS wrong-password")
check(code1 == 530 and code2 == 530 and t1 == t2, "wrong password and unknown user: same 530")
c.sock.close()

# ---- a read-only account: every writing command refused, nothing changes
before = sorted(os.listdir(RO_JAIL))
c = Ctl(IPORT, implicit=True).login("ro")
for line in ("APPE keep.txt", "STOR new.txt"):
    port = c.pasv()
    s, wrap = c.data(port)
    code, text = c.cmd(line)
    if code == 150:
        try:
            d = wrap()
            d.sendall(b"data")
            d.close()
        except OSError:
            pass
        code, text = c.resp()
    s.close()
    check(code >= 500, "read-only: %s refused (%d)" % (line, code))
for line in ("DELE keep.txt", "MKD newdir", "RMD olddir", "SITE CHMOD 777 keep.txt"):
    code, text = c.cmd(line)
    check(code >= 500, "read-only: %s refused (%d)" % (line, code))
code, _ = c.cmd("RNFR keep.txt")
if code == 350:
    code, _ = c.cmd("RNTO moved.txt")
check(code >= 500, "read-only: RNFR/RNTO refused (%d)" % code)
c.cmd("QUIT")
after = sorted(os.listdir(RO_JAIL))
mode = os.stat(os.path.join(RO_JAIL, "keep.txt")).st_mode & 0o777
with open(os.path.join(RO_JAIL, "keep.txt"), "rb") as f:
    content = f.read()
check(before == after and mode == 0o644 and content == b"keep\n",
      "read-only: the jail is unchanged")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("all refusals ok")

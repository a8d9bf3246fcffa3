#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Python ssl client against tls-test-server --keep-control: a control connection
that stays open and data connections that resume its session (session=, as one must
pass it to ftplib.FTP_TLS data connections), as FTPS clients do.

usage: tls-client.py PORT CAFILE 1.2|1.3 [--no-ticket]
"""
import socket
import ssl
import sys

port, cafile, ver = int(sys.argv[1]), sys.argv[2], sys.argv[3]
no_ticket = "--no-ticket" in sys.argv[4:]
HOST = "127.0.0.1"


def context(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    v = ssl.TLSVersion.TLSv1_3 if ver == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if no_ticket:
        ctx.options |= ssl.OP_NO_TICKET
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def readline(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(256)
        if not chunk:
            break
        data += chunk
    return data.decode()


def connect(ctx, session=None):
    raw = socket.create_connection((HOST, port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname=HOST, session=session)


failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what)
    if not cond:
        failures += 1


ctx = context(["ftp"])
control = connect(ctx)
line = readline(control)
check(line.startswith("OK control TLSv" + ver) and "alpn=ftp" in line, "control: " + line.strip())
session = control.session
check(session is not None, "control session available")

for i in range(3):
    d = connect(ctx, session)
    line = readline(d)
    check(line.startswith("OK data") and "resumed" in line and d.session_reused,
          "data %d resumes the control session: %s" % (i + 1, line.strip()))
    d.close()

# The newest session a data connection received (what clients with a session cache use).
d = connect(ctx, session)
readline(d)
newest = d.session
d.close()
d = connect(ctx, newest)
line = readline(d)
check("resumed" in line and d.session_reused, "newest session resumes: " + line.strip())
d.close()

# Without the control session: refused.
try:
    d = connect(ctx)
    line = readline(d)
    check(False, "data without session must be refused, got " + line.strip())
except (ssl.SSLError, ConnectionError) as e:
    check("handshake failure" in str(e).lower().replace("_", " "),
          "data without session refused: %s" % e)

# ALPN http/1.1 on a data connection (ALPACA): refused even with the right session.
# (Python wants sessions used with the context that made them.)
ctx.set_alpn_protocols(["http/1.1"])
try:
    d = connect(ctx, session)
    line = readline(d)
    check(False, "ALPN http/1.1 must be refused, got " + line.strip())
except (ssl.SSLError, ConnectionError) as e:
    check("no application protocol" in str(e).lower().replace("_", " "), "ALPN http/1.1 refused: %s" % e)
ctx.set_alpn_protocols(["ftp"])

# Still fine afterwards, and the control connection is still up.
d = connect(ctx, session)
line = readline(d)
check("resumed" in line, "data after refusals: " + line.strip())
d.close()
control.unwrap()
control.close()
sys.exit(1 if failures else 0)

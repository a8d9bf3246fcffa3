# SPDX-License-Identifier: BSD-2-Clause
# Python ftplib.FTP_TLS against berthd, explicit (AUTH TLS) and implicit TLS. Python 3.11
# does not resume the control connection's TLS session on data connections by itself;
# berthd requires it, so ntransfercmd passes session=self.sock.session.
# usage: ftps-ftplib.py EXPLICIT_PORT IMPLICIT_PORT PASSWORD TMPDIR JAIL
import ftplib
import hashlib
import io
import os
import socket
import ssl
import sys

port, iport, password, tmp, jail = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                    sys.argv[4], sys.argv[5])
TIMEOUT = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


class ImplicitFTP_TLS(ReusingFTP_TLS):
    """Implicit TLS: the control socket is TLS from the first byte."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port, self.timeout = host, port, timeout
        sock = socket.create_connection((host, port), timeout)
        self.af = sock.family
        self.sock = self.context.wrap_socket(sock, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def sha(b):
    return hashlib.sha256(b).hexdigest()


def exercise(ftp, tag):
    blob = os.urandom(2 * 1024 * 1024 + 5)
    ftp.mkd(tag)
    ftp.cwd(tag)
    ftp.storbinary("STOR blob.bin", io.BytesIO(blob))
    got = io.BytesIO()
    ftp.retrbinary("RETR blob.bin", got.write)
    assert sha(got.getvalue()) == sha(blob), "checksum after STOR/RETR"
    with open(os.path.join(jail, tag, "blob.bin"), "rb") as f:
        assert sha(f.read()) == sha(blob), "stored file differs"
    got = io.BytesIO()
    ftp.retrbinary("RETR blob.bin", got.write, rest=1234567)
    assert got.getvalue() == blob[1234567:], "REST + RETR"
    assert ftp.size("blob.bin") == len(blob), "SIZE"
    facts = dict(ftp.mlsd())
    assert facts["blob.bin"]["type"] == "file" and int(facts["blob.bin"]["size"]) == len(blob)
    ftp.rename("blob.bin", "renamed.bin")
    assert ftp.nlst() == ["renamed.bin"], "NLST after rename"
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 1 and lines[0].endswith(" renamed.bin"), "LIST"
    ftp.delete("renamed.bin")
    ftp.cwd("/")
    ftp.rmd(tag)
    assert tag not in ftp.nlst(), "RMD"
    # Active mode: PORT to our own address.
    ftp.set_pasv(False)
    ftp.storbinary("STOR active-%s.bin" % tag, io.BytesIO(blob[:100000]))
    got = io.BytesIO()
    ftp.retrbinary("RETR active-%s.bin" % tag, got.write)
    assert got.getvalue() == blob[:100000], "active mode"
    ftp.delete("active-%s.bin" % tag)
    ftp.set_pasv(True)


ftp = ReusingFTP_TLS(context=context(), timeout=TIMEOUT)
ftp.connect("127.0.0.1", port)
ftp.auth()
ftp.login("demo", password)
ftp.prot_p()
exercise(ftp, "explicit")
ftp.quit()

ftp = ImplicitFTP_TLS(context=context(), timeout=TIMEOUT)
ftp.connect("127.0.0.1", iport, timeout=TIMEOUT)
ftp.login("demo", password)
ftp.prot_p()
exercise(ftp, "implicit")
ftp.quit()
print("ftplib ok")

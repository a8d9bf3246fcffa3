# SPDX-License-Identifier: BSD-2-Clause
# Python ftplib.FTP_TLS against berthd, explicit (AUTH TLS) and implicit TLS. Python 3.11
# does not resume the control connection's TLS session on data connections by itself;
# berthd requires it, so ntransfercmd passes session=self.sock.session.
# usage: ftps-ftplib.py EXPLICIT_PORT IMPLICIT_PORT PASSWORD TMPDIR JAIL
import hashlib
import io
import os
import sys

from ftpslib import ImplicitFTP_TLS, ReusingFTP_TLS, context

port, iport, password, tmp, jail = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                    sys.argv[4], sys.argv[5])
TIMEOUT = 90 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))


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

# SPDX-License-Identifier: BSD-2-Clause
# Clients for tests/daemon/test-reload.sh: transfers that are held open across a reload
# (each stops halfway, announces it with a file in GATE, and goes on when GATE/go
# appears), the FTPS certificate a listener presents, and a notify socket recorder.
import hashlib
import os
import socket
import sys

import paramiko

import ftpslib
from testlib import scaled, ssh_connect_args, wait_until


def gate(gdir, name):
    open(os.path.join(gdir, name), "w").close()
    wait_until(lambda: os.path.exists(os.path.join(gdir, "go")), 60, "no go from the test")


def sftp_upload(port, user, key, local, remote, gdir):
    """Upload local to remote in 32 KiB writes, pausing halfway; then read it back."""
    data = open(local, "rb").read()
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", int(port), username=user, key_filename=key,
              look_for_keys=False, allow_agent=False, **ssh_connect_args())
    s = c.open_sftp()
    half = len(data) // 2
    with s.open(remote, "wb") as f:
        f.set_pipelined(True)
        for off in range(0, half, 32768):
            f.write(data[off:min(off + 32768, half)])
        f.flush()
        gate(gdir, "sftp.half")
        for off in range(half, len(data), 32768):
            f.write(data[off:off + 32768])
    with s.open(remote, "rb") as f:
        back = f.read()
    c.close()
    want = hashlib.sha256(data).hexdigest()
    got = hashlib.sha256(back).hexdigest()
    if got != want:
        sys.exit("sftp upload across the reload: SHA-256 %s, want %s" % (got, want))
    print("sftp upload across the reload: %d bytes, SHA-256 %s" % (len(data), got))


def ftps_download(port, user, password, remote, want, gdir):
    """RETR over explicit FTPS, stalling inside the transfer after the first block."""
    ftp = ftpslib.ReusingFTP_TLS(context=ftpslib.context(), timeout=scaled(60))
    ftp.connect("127.0.0.1", int(port))
    ftp.auth()
    ftp.login(user, password)
    ftp.prot_p()
    h = hashlib.sha256()
    n = [0]

    def block(b):
        if n[0] == 0:
            gate(gdir, "ftps.half")
        n[0] += len(b)
        h.update(b)

    ftp.retrbinary("RETR " + remote, block, blocksize=65536)
    ftp.quit()
    if h.hexdigest() != want:
        sys.exit("FTPS download across the reload: SHA-256 %s, want %s" % (h.hexdigest(), want))
    print("FTPS download across the reload: %d bytes, SHA-256 %s" % (n[0], want))


def cert_sha256(port):
    """SHA-256 of the certificate the explicit FTPS listener presents (AUTH TLS)."""
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=scaled(30))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"AUTH TLS\r\n")
    if not f.readline().startswith(b"234"):
        sys.exit("AUTH TLS refused")
    t = ftpslib.context().wrap_socket(s, server_hostname="localhost")
    print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())
    t.close()


def notify_recorder(path, out):
    """Bind a datagram socket at path (as systemd's NOTIFY_SOCKET) and append every
    message to out, one per line, its newlines shown as '|'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(out, "a", buffering=1) as f:
        while True:
            m = s.recv(4096).decode()
            f.write(m.replace("\n", "|") + "\n")


if __name__ == "__main__":
    {"sftp-upload": sftp_upload, "ftps-download": ftps_download, "cert": cert_sha256,
     "notify": notify_recorder}[sys.argv[1]](*sys.argv[2:])

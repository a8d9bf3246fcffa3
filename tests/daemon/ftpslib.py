# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the Python parts of the FTPS tests (and tests/bench/bench-ftps.sh):
# FTP_TLS clients that resume the control connection's TLS session on data connections
# (berthd requires it; Python 3.11's ftplib does not do it by itself), implicit TLS, and
# the PSS of a process (the process tree comes from proctree.py).
import ftplib
import socket
import ssl

import proctree


def context(alpn=None):
    """A client TLS context that accepts the tests' self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
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


# The process tree (proctree.py), re-exported for the FTPS tests and the benchmark.
status, children, tree = proctree.status, proctree.children, proctree.descendants
connections, workers_of = proctree.connections, proctree.workers_of


def pss(pid):
    """Proportional set size of pid in KiB (0 when gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS privilege separation: the process holding a pre-login control connection is not
# root, is chrooted and runs under its seccomp filter (so does the worker); the process that reads files runs as the account (it holds the
# file open during a download); after login no process of the connection (network
# child, monitor, worker) holds the certificate's private key, while the master does
# (positive control of the memory search).
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (uid switches, /proc/PID/mem)"; exit 77; }
ftps_prepare
ftps_write_config
start_berthd
mkdata "$JAIL/big.bin" $((64 * 1024 * 1024))

$PY - "$FTPS_PORT" "$PASSWORD" "$BERTHD_PID" "$ACCT_UID" \
	"$ACCT_GID" "$ACCT_GROUPS" "$JAIL" "$T/ftps_key.pem" <<'EOF' || fail "FTPS privsep checks"
import os, re, socket, ssl, sys, time
from cryptography.hazmat.primitives import serialization
from ftpslib import children, connections, context, status, workers_of

port, password, master = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
uid, gid = int(sys.argv[4]), int(sys.argv[5])
groups = sorted(int(g) for g in sys.argv[6].split(","))
jail, keyfile = sys.argv[7], sys.argv[8]
T = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))

def wait_for(what, fn):
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        r = fn()
        if r:
            return r
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)

def one(lst):
    return lst[0] if len(lst) == 1 else None

ctx = context()

class Ctl:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=T)
        self.f = self.s.makefile("rb")
        assert self.resp().startswith(b"220")
    def resp(self):
        line = self.f.readline()
        while line[3:4] == b"-":
            line = self.f.readline()
        return line
    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.resp()
    def tls(self):
        assert self.cmd("AUTH TLS").startswith(b"234")
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")

# 1. Pre-login: the network child holds the control connection, unprivileged, chrooted.
c = Ctl()
monitor = wait_for("the monitor", lambda: one(connections(master)))
net = wait_for("the network child", lambda: one(children(monitor)))
for phase in ("plaintext", "after AUTH TLS"):
    st = status(net)
    assert all(int(x) != 0 for x in st["Uid"]), (phase, "runs as root", st["Uid"])
    assert all(int(x) != 0 for x in st["Gid"]), (phase, st["Gid"])
    assert st.get("Groups", []) == [], st.get("Groups")
    assert os.readlink("/proc/%d/root" % net) == "/run/berthd/empty", os.readlink(
        "/proc/%d/root" % net)
    assert st["NoNewPrivs"] == ["1"] and int(st["CapEff"][0], 16) == 0, st["CapEff"]
    assert st["Seccomp"] == ["2"], ("the network child runs without its seccomp filter",
                                    st["Seccomp"])
    st_m = status(monitor)
    assert st_m["Uid"][0] == "0" and st_m["Seccomp"] == ["0"]
    print("pre-login (%s): network child %d uid %s root %s" % (
        phase, net, st["Uid"][0], os.readlink("/proc/%d/root" % net)))
    if phase == "plaintext":
        c.tls()

# 2. After login: the worker runs as the account and is the one reading the file.
assert c.cmd("USER demo").startswith(b"331")
assert c.cmd("PASS " + password).startswith(b"230")
assert c.cmd("PBSZ 0").startswith(b"200") and c.cmd("PROT P").startswith(b"200")
worker = wait_for("the worker", lambda: one(workers_of(master)))
st = status(worker)
assert st["Uid"] == [str(uid)] * 4 and st["Gid"] == [str(gid)] * 4, (st["Uid"], st["Gid"])
assert sorted(int(g) for g in st.get("Groups", [])) == groups, st.get("Groups")
assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0, st["CapEff"]
assert st["NoNewPrivs"] == ["1"]
assert st["Seccomp"] == ["2"], ("the worker runs without its seccomp filter", st["Seccomp"])
cmdline = open("/proc/%d/cmdline" % worker, "rb").read().split(b"\0")
assert cmdline[1] == b"--internal-ftp-worker", cmdline[:2]
epsv = c.cmd("EPSV")
dport = int(re.search(rb"\|\|\|(\d+)\|", epsv).group(1))
d = socket.create_connection(("127.0.0.1", dport), timeout=T)
c.s.sendall(b"RETR big.bin\r\n")
assert c.resp().startswith(b"150")
d = ctx.wrap_socket(d, server_hostname="localhost", session=c.s.session)
first = d.recv(65536)
assert first
def holds_file():
    for fd in os.listdir("/proc/%d/fd" % worker):
        try:
            if os.readlink("/proc/%d/fd/%s" % (worker, fd)) == os.path.join(jail, "big.bin"):
                return True
        except OSError:
            pass
    return False
assert wait_for("the worker holding big.bin open", holds_file)
for p in (net, monitor):
    for fd in os.listdir("/proc/%d/fd" % p):
        try:
            assert "big.bin" not in os.readlink("/proc/%d/fd/%s" % (p, fd)), p
        except OSError:
            pass
print("worker %d: uid %s gid %s groups %s, reads the file; network child and monitor do not"
      % (worker, st["Uid"][0], st["Gid"][0], st.get("Groups")))

# 3. The certificate's private key: in the master only.
key = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
scalar = key.private_numbers().private_value.to_bytes(32, "big")
pem_lines = open(keyfile).read().splitlines()
needles = {"scalar (big-endian)": scalar, "scalar (little-endian)": scalar[::-1],
           "PEM line 2": pem_lines[2].encode()}

CHUNK = 1 << 20

def search(pid):
    """Needles found in @pid's readable private memory (as tests/tls/test-tls-keymem)."""
    found = set()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            f = line.split()
            if f[1][0] != "r" or f[1][3] != "p" or (len(f) > 5 and f[5] in ("[vvar]",
                                                                            "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if hi - lo > (1 << 30):
                continue  # sanitizer shadow reservations
            off = lo
            while off < hi:
                want = min(CHUNK, hi - off)
                try:
                    mem.seek(off)
                    chunk = mem.read(want)
                except (OSError, ValueError, OverflowError):
                    break
                for name, n in needles.items():
                    if n in chunk:
                        found.add(name)
                if len(chunk) < want or off + want >= hi:
                    break
                off += want - 64  # overlap: a needle across a boundary is still found
    return found

in_master = search(master)
assert in_master & {"scalar (big-endian)", "scalar (little-endian)"}, \
    "positive control failed: the key is not found in the master"
spawner = int(status(worker)["PPid"][0])
assert b"--internal-spawner" in open("/proc/%d/cmdline" % spawner, "rb").read(), spawner
for name, pid in (("network child", net), ("monitor", monitor), ("worker", worker),
                  ("session spawner", spawner)):
    found = search(pid)
    assert not found, "%s %d holds the private key: %s" % (name, pid, sorted(found))
    print("%s %d: no trace of the private key" % (name, pid))
print("master %d: holds the key (%s)" % (master, ", ".join(sorted(in_master))))
d.close()
c.s.close()
EOF
ok "pre-login network child unprivileged and chrooted; worker is the account and reads files; key only in the master"
echo "all FTPS privsep tests passed"

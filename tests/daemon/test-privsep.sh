#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd privilege separation: the pre-auth network child is not root and is chrooted;
# the worker has exactly the account's uid/gid/groups and no capabilities; jail escapes
# through the daemon fail; a crash in one connection leaves the others alone; the
# session spawner: workers end with their monitor, sessions start without it, and the
# master starts a new one.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config
start_berthd
echo "secret-outside-the-jail" >"$T/outside.txt"
ln -s /etc "$JAIL/etc-link"
ln -s ../outside.txt "$JAIL/rel-link"
mkdir -p "$JAIL/sub"

DAEMON_TESTS=$(dirname "$0") $PY - "$PORT" "$T" "$BERTHD_PID" "$(id -u)" "$ACCT_UID" "$ACCT_GID" "$ACCT_GROUPS" <<'EOF' || fail "privsep checks"
import os, socket, sys, time, paramiko

port, t, master = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
as_root = sys.argv[4] == "0"
uid, gid = int(sys.argv[5]), int(sys.argv[6])
groups = [] if sys.argv[7] == "none" else sorted(int(g) for g in sys.argv[7].split(","))

sys.path.insert(0, os.environ["DAEMON_TESTS"])
from proctree import status, children, descendants, connections, spawner_of, workers_of

from testlib import ssh_connect_args, wait_until

# 1. Pre-auth: a connection that only read the banner.
s = socket.create_connection(("127.0.0.1", port))
assert s.recv(64).startswith(b"SSH-2.0-")
# the monitor and its network child exist
wait_until(lambda: len(connections(master)) == 1 and
           len(children(connections(master)[0])) == 1,
           10, "no monitor with one network child")
monitors = connections(master)
assert len(monitors) == 1, monitors
nets = children(monitors[0])
assert len(nets) == 1, nets
st = status(nets[0])
if as_root:
    assert all(int(x) != 0 for x in st["Uid"]), ("pre-auth child runs as root", st["Uid"])
    assert all(int(x) != 0 for x in st["Gid"]), st["Gid"]
    assert st.get("Groups", []) == [], st.get("Groups")
    assert os.readlink("/proc/%d/root" % nets[0]) == "/run/berthd/empty", \
        os.readlink("/proc/%d/root" % nets[0])
assert st["NoNewPrivs"] == ["1"], st["NoNewPrivs"]
assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0, st["CapEff"]
print("pre-auth child", nets[0], "uid", st["Uid"], "root", os.readlink("/proc/%d/root" % nets[0]))
s.close()
wait_until(lambda: not connections(master), 10, "pre-auth connection processes still running")

# 2. Authenticated sessions: find the worker and check its credentials.
def connect():
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port, "demo", key_filename=t + "/client_key",
              allow_agent=False, look_for_keys=False, **ssh_connect_args())
    return c, c.open_sftp()

c1, s1 = connect()
c2, s2 = connect()
s1.listdir("."); s2.listdir(".")
def nofile(pid):
    for line in open("/proc/%d/limits" % pid):
        if line.startswith("Max open files"):
            return line.split()[3:5]
def find_workers():
    return [p for p in descendants(master) if int(status(p)["Uid"][0]) == uid]
if as_root:
    wait_until(lambda: len(find_workers()) == 2, 10, "two workers not found")
workers = find_workers()
if as_root:
    assert len(workers) == 2, workers
    for w in workers:
        st = status(w)
        assert st["Uid"] == [str(uid)] * 4, st["Uid"]
        assert st["Gid"] == [str(gid)] * 4, st["Gid"]
        assert sorted(int(g) for g in st.get("Groups", [])) == groups, st.get("Groups")
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert int(st[cap][0], 16) == 0, (cap, st[cap])
        assert st["NoNewPrivs"] == ["1"]
        # Forked by the spawner (a clean image exec'd at start): no host keys, no hashes.
        assert b"--internal-worker" in open("/proc/%d/cmdline" % w, "rb").read()
        assert int(status(w)["PPid"][0]) == spawner_of(master), (w, spawner_of(master))
        # The spawner raises its own descriptor limit; the worker gets the master's back.
        assert nofile(w) == nofile(master), (nofile(w), nofile(master))
    print("workers", workers, "uid/gid/groups exact, no capabilities, from the spawner")
    # The network children of authenticated sessions are not root either.
    for m in connections(master):
        for p in children(m):
            if p not in workers:
                assert int(status(p)["Uid"][1]) != 0, ("net child is root", p)

# 3. Jail escapes through the daemon.
secret = open(t + "/outside.txt").read()
passwd = open("/etc/passwd").read()
def must_fail(fn, *a):
    try:
        r = fn(*a)
    except (IOError, OSError):
        return
    raise AssertionError("escape succeeded: %s%r -> %r" % (fn.__name__, a, r))
def read(path):
    with s1.open(path, "r") as f:
        return f.read().decode()
for p in ("/etc/passwd", "../../../../etc/passwd", "/../../etc/passwd",
          "etc-link/passwd", "rel-link", "sub/../../outside.txt"):
    try:
        data = read(p)
    except (IOError, OSError):
        continue
    assert secret not in data and "root:x:0:0" not in data, ("escape via", p)
s1.symlink("/etc/passwd", "made-link")
must_fail(read, "made-link")
s1.symlink("../../../../" + t.lstrip("/") + "/outside.txt", "made-link2")
must_fail(read, "made-link2")
assert s1.normalize("../../..") == "/", s1.normalize("../../..")
# ".." above the jail root clamps to the root (RESOLVE_IN_ROOT), never outside it.
try:
    s1.put(t + "/outside.txt", "../escaped.txt")
except (IOError, OSError):
    pass
assert not os.path.exists(t + "/escaped.txt"), "upload escaped the jail"
assert not os.path.exists(os.path.dirname(t) + "/escaped.txt"), "upload escaped the jail"
print("jail escapes refused")

# 4. Crash isolation: kill one worker hard, the other session keeps working.
if as_root:
    os.kill(workers[0], 11)
    wait_until(lambda: workers[0] not in descendants(master), 10, "killed worker still there")
    alive = None
    for s in (s1, s2):
        try:
            s.listdir(".")
            alive = s if alive is None else alive
        except Exception:
            pass
    assert alive is not None, "both sessions died"
    with alive.open("after-crash.txt", "w") as f:
        f.write("still here")
    c3, s3 = connect()
    assert "after-crash.txt" in s3.listdir(".")
    c3.close()
    print("crash in one worker left the other session and new logins working")
c1.close(); c2.close()

# 5. The session spawner: a worker dies with its monitor; without the spawner sessions
# start by exec; the master starts a new spawner (at most every 10 s).
spawner = spawner_of(master)
assert spawner, "no session spawner under the master"
wait_until(lambda: not connections(master) and not workers_of(master), 10,
           "the earlier sessions to end")
c4, s4 = connect()
s4.listdir(".")
w4 = [p for p in workers_of(master)]
assert len(w4) == 1 and int(status(w4[0])["PPid"][0]) == spawner, (w4, spawner)
mon4 = connections(master)
assert len(mon4) == 1, mon4
os.kill(mon4[0], 9)  # what berthctl kick does
wait_until(lambda: not workers_of(master), 10, "the worker outlived its killed monitor")
c4.close()
print("worker %d ended with its monitor %d" % (w4[0], mon4[0]))
started = time.monotonic()
os.kill(spawner, 9)
wait_until(lambda: spawner_of(master) is None, 10, "the killed spawner is still there")
c5, s5 = connect()
with s5.open("by-exec.txt", "w") as f:
    f.write("no spawner")
w5 = workers_of(master)
assert len(w5) == 1 and int(status(w5[0])["PPid"][0]) in connections(master), w5
if as_root:
    assert status(w5[0])["Uid"] == [str(uid)] * 4
c5.close()
print("without the spawner the session ran in worker %d, exec'd by its monitor" % w5[0])
# The master restarts it on a connection 10 s after the last start.
def restarted():
    if spawner_of(master) is not None:
        return True
    if time.monotonic() - started > 10:
        c, s = connect()
        s.listdir(".")
        c.close()
    time.sleep(0.5)
    return spawner_of(master) is not None
wait_until(restarted, 40, "no new spawner after a connection 10 s later")
c6, s6 = connect()
assert "by-exec.txt" in s6.listdir(".")
w6 = workers_of(master)
assert len(w6) == 1 and int(status(w6[0])["PPid"][0]) == spawner_of(master), w6
c6.close()
print("the master started a new spawner %d; sessions use it again" % spawner_of(master))

# 6. Sessions outlive the master (like sshd); the spawner leaves after the last one.
spawner = spawner_of(master)
c7, s7 = connect()
s7.listdir(".")
def gone(pid):
    try:
        return status(pid)["State"][0] in ("Z", "X")
    except OSError:
        return True
os.kill(master, 15)
wait_until(lambda: gone(master), 10, "the master did not stop")
time.sleep(0.3)
assert not gone(spawner), "the spawner left with the master while a session was open"
with s7.open("after-master.txt", "w") as f:
    f.write("still served")
c7.close()
wait_until(lambda: gone(spawner), 10, "the spawner outlived its last session and holder")
print("a session outlived the master; the spawner %d left after it" % spawner)
EOF
ok "privilege separation, worker credentials, jail and crash isolation"
echo "all privsep tests passed"

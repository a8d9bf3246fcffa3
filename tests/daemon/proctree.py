# SPDX-License-Identifier: BSD-2-Clause
# /proc helpers for the daemon tests: a process's status fields and its children.
import os


def status(pid):
    """The fields of /proc/PID/status, each split into words."""
    d = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        d[k] = v.split()
    return d


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = status(int(p))
            except OSError:
                continue
            if int(st["PPid"][0]) == pid:
                out.append(int(p))
    return out


def descendants(pid):
    out = []
    for c in children(pid):
        out.append(c)
        out.extend(descendants(c))
    return out


def is_worker(pid):
    return cmdline(pid).split(b"\0")[1:2] in ([b"--internal-worker"],
                                              [b"--internal-ftp-worker"])


def cmdline(pid):
    try:
        return open("/proc/%d/cmdline" % pid, "rb").read()
    except OSError:
        return b""


def is_spawner(pid):
    """berthd's session spawner (a child of the master that forks the workers)."""
    return cmdline(pid).split(b"\0")[1:2] == [b"--internal-spawner"]


def spawner_of(master):
    s = [p for p in children(master) if is_spawner(p)]
    return s[0] if s else None


def connections(master):
    """The master's connection processes (monitors): its children but the spawner."""
    return [p for p in children(master) if not is_spawner(p)]


def workers_of(master):
    """Every session worker under the master (the spawner's children, or a monitor's)."""
    return [p for p in descendants(master) if is_worker(p)]

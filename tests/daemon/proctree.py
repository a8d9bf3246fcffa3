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
    return b"--internal-worker" in open("/proc/%d/cmdline" % pid, "rb").read()

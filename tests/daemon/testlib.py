# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the Python parts of the daemon tests (lib.sh puts this directory on
# PYTHONPATH). Tests wait for what they need (readiness), never for a fixed time, and
# every limit on such a wait is scaled by BERTH_TIMEOUT_SCALE (default 1; scripts/test
# sets 3 for the ASan+UBSan build), so a slow or busy machine does not fail a test.
import os
import time

import paramiko

from proctree import connections  # noqa: F401 (re-exported for the tests)

SCALE = max(1.0, float(os.environ.get("BERTH_TIMEOUT_SCALE") or 1))


def scaled(seconds):
    """A time limit stretched by BERTH_TIMEOUT_SCALE."""
    return seconds * SCALE


def wait_until(pred, seconds, what):
    """Poll pred() until it is true; AssertionError(what) after scaled(seconds)."""
    end = time.monotonic() + scaled(seconds)
    while True:
        if pred():
            return
        if time.monotonic() > end:
            raise AssertionError("%s (waited %.0f s)" % (what, scaled(seconds)))
        time.sleep(0.02)


def transport(target, timeout=30):
    """A started paramiko Transport on target ((host, port) or a connected socket).

    paramiko waits 15 s for the server's banner by default, whatever start_client()'s
    timeout says: with 200 connections at once under ASan that is too short ("Error
    reading SSH protocol banner"). Every paramiko limit here is scaled."""
    tr = paramiko.Transport(target)
    tr.banner_timeout = scaled(timeout)
    tr.handshake_timeout = scaled(timeout)
    tr.auth_timeout = scaled(timeout)
    tr.start_client(timeout=scaled(timeout))
    return tr


def ssh_connect_args(timeout=30):
    """Timeouts for paramiko.SSHClient.connect(), scaled."""
    return {"timeout": scaled(timeout), "banner_timeout": scaled(timeout),
            "auth_timeout": scaled(timeout)}


def children(pid):
    """Child process ids of pid (live and not yet reaped)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


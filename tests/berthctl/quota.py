#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Uploads for test-quota.sh (paramiko, one account, key authentication).

Usage: quota.py PORT KEY USER SCENARIO ARGS...
  upload PATH SIZE                   one upload
  paused PATH SIZE HALF_FILE GO_FILE write half, create HALF_FILE, wait for GO_FILE
                                     (scaled limit), write the rest, close
  stream PATH SIZE STARTED_FILE      write 32 KiB at a time, create STARTED_FILE after
                                     the first write"""
import os
import sys
import time

import paramiko

from testlib import scaled, ssh_connect_args

port, key, user, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
args = sys.argv[5:]
CHUNK = 32768


def connect():
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port, user, key_filename=key, allow_agent=False,
              look_for_keys=False, **ssh_connect_args())
    return c, c.open_sftp()


def touch(path):
    open(path, "w").close()


def write(f, data, start, end, after_first=None):
    for off in range(start, end, CHUNK):
        f.write(data[off:min(off + CHUNK, end)])
        if after_first:
            after_first()
            after_first = None


def main():
    path, size = args[0], int(args[1])
    data = os.urandom(size)
    c, s = connect()
    # Not pipelined: every write's status is checked.
    with s.open(path, "wb") as f:
        if scenario == "upload":
            write(f, data, 0, size)
        elif scenario == "paused":
            half = size // 2
            write(f, data, 0, half)
            touch(args[2])
            end = time.monotonic() + scaled(60)
            while not os.path.exists(args[3]):
                if time.monotonic() > end:
                    raise SystemExit("FAIL: no go signal")
                time.sleep(0.02)
            write(f, data, half, size)
        elif scenario == "stream":
            write(f, data, 0, size, lambda: touch(args[2]))
        else:
            raise SystemExit("unknown scenario " + scenario)
    c.close()


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: BSD-2-Clause
# Parse berthd's transfer logs the way other tools do and print one summary line per
# record for the shell tests to grep:
#   translog.py XFERLOG JSONLOG
# Every xferlog line must have exactly the 18 whitespace-separated fields of the
# wu-ftpd/ProFTPD/vsftpd format (xferlog(5)) and every JSON line must be one object
# that json.loads() accepts with the documented keys; anything else fails (exit 1).
# Output (tab-separated, paths as JSON strings so they stay on one line):
#   X service direction path bytes completion user host seconds
#   J protocol operation path target bytes status sha256 account addr port reason session
import json
import sys
import time


def parse_xferlog(line):
    f = line.split(" ")
    if len(f) != 18 or "" in f[5:]:
        raise ValueError("xferlog line has %d fields: %r" % (len(f), line))
    when = " ".join(f[0:5])
    time.strptime(when, "%a %b %d %H:%M:%S %Y")
    rec = dict(zip(["secs", "host", "bytes", "path", "type", "action", "direction",
                    "access", "user", "service", "authmethod", "authuser", "status"],
                   f[5:]))
    int(rec["secs"])
    int(rec["bytes"])
    if (rec["type"] not in "ab" or rec["action"] != "_" or rec["direction"] not in "iod"
            or rec["access"] != "r" or rec["authmethod"] != "0" or rec["authuser"] != "*"
            or rec["status"] not in "ci"):
        raise ValueError("bad xferlog field in %r" % line)
    rec["when"] = when
    return rec


KEYS = {"time", "account", "remote_addr", "remote_port", "protocol", "session",
        "operation", "path", "target", "bytes", "duration", "sha256", "status", "reason"}


def parse_json(line):
    o = json.loads(line)
    if not isinstance(o, dict) or not set(o) <= KEYS:
        raise ValueError("unexpected keys in %r" % line)
    for k in ("time", "account", "remote_addr", "remote_port", "protocol", "session",
              "operation", "path", "status"):
        if k not in o:
            raise ValueError("%s missing in %r" % (k, line))
    time.strptime(o["time"][:19], "%Y-%m-%dT%H:%M:%S")
    if not (o["time"][19] == "." and o["time"][20:23].isdigit() and o["time"][23:] == "Z"):
        raise ValueError("time %r is not RFC 3339 UTC with milliseconds" % o["time"])
    if o["status"] not in ("completed", "aborted", "failed"):
        raise ValueError("status %r" % o["status"])
    return o


def main():
    xfer, js = sys.argv[1], sys.argv[2]
    out = []
    with open(xfer, "rb") as f:
        for raw in f.read().decode("utf-8").split("\n")[:-1]:
            # ctime form: a day below 10 is space-padded ("Dec  1"); nothing else
            # may hold two spaces in a row.
            parts = raw.split(" ")
            if len(parts) == 19 and parts[2] == "":
                parts = parts[:2] + parts[3:]
            r = parse_xferlog(" ".join(parts))
            out.append("\t".join(["X", r["service"], r["direction"], json.dumps(r["path"]),
                                  r["bytes"], r["status"], r["user"], r["host"],
                                  r["secs"]]))
    with open(js, "rb") as f:
        for raw in f.read().decode("utf-8").split("\n")[:-1]:
            o = parse_json(raw)
            out.append("\t".join(["J", o["protocol"], o["operation"], json.dumps(o["path"]),
                                  json.dumps(o.get("target")), str(o.get("bytes", "-")),
                                  o["status"], o.get("sha256", "-"), o["account"],
                                  o["remote_addr"], str(o["remote_port"]),
                                  o.get("reason", "-"), str(o["session"])]))
    print("\n".join(out))


if __name__ == "__main__":
    try:
        main()
    except (ValueError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as e:
        print("translog.py: %s" % e, file=sys.stderr)
        sys.exit(1)

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# bench-dropin-report.py: medians, ratios and targets for bench-dropin.sh; strace summaries.
#
#   bench-dropin-report.py RAW.tsv SUMMARY.tsv
#       read per-run rows written by bench-dropin.sh, print the table, write the summary TSV
#   bench-dropin-report.py --strace WORKLOAD BERTH_TRACE OPENSSH_TRACE
#       compare two `strace -f -o` traces: calls, errors and bytes per call for each syscall

import re
import sys
from collections import defaultdict

WORKLOADS = [
    ("download", "1 GiB download (get to /dev/null)"),
    ("download-pipe", "1 GiB download, server on pipes"),
    ("upload", "256 MiB upload (put)"),
    ("put-small", "put -r 1000 x 4 KiB files"),
    ("get-small", "get -r 1000 x 4 KiB files"),
    ("ls-large", "ls -l of 10,000 entries"),
]

# Wall-time target of berth/OpenSSH per workload; server CPU must stay below 1.0 everywhere,
# and at most 0.35x for downloads (zero-copy READ replies, issue 9 item 7).
WALL_TARGET = {"download": 0.8, "download-pipe": 0.8, "put-small": 0.8, "get-small": 0.8,
               "upload": 1.0, "ls-large": 1.0}
CPU_TARGET = {"download": 0.35, "download-pipe": 0.35}


def median(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    if n % 2:
        return v[n // 2]
    return (v[n // 2 - 1] + v[n // 2]) / 2


def noise(*series):
    """Median absolute deviation relative to the median; the worse of the series."""
    worst = None
    for v in series:
        m = median(v)
        if not v or not m:
            continue
        r = median([abs(x - m) for x in v]) / m
        worst = r if worst is None else max(worst, r)
    return "-" if worst is None else "%.0f%%" % (100 * worst)


def judge(ratio, target, strict):
    if target is None:
        return "-", "-"
    text = ("<" if strict else "<=") + ("%.2f" % target).rstrip("0")
    if ratio is None:
        return text, "n/a"
    met = ratio < target if strict else ratio <= target
    return text, "MET" if met else "MISSED"


def report(raw_path, out_path):
    data = defaultdict(lambda: defaultdict(list))  # (workload, metric) -> server -> values
    with open(raw_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            w, s = row["workload"], row["server"]
            data[(w, "wall_s")][s].append(int(row["wall_us"]) / 1e6)
            data[(w, "cpu_s")][s].append((int(row["user_us"]) + int(row["sys_us"])) / 1e6)
            data[(w, "user_s")][s].append(int(row["user_us"]) / 1e6)
            data[(w, "sys_s")][s].append(int(row["sys_us"]) / 1e6)
            data[(w, "rss_kib")][s].append(int(row["maxrss_kib"]))

    rows = []
    for w, title in WORKLOADS:
        for metric, label in [
            ("wall_s", "wall time (s)"),
            ("cpu_s", "server CPU (s)"),
            ("user_s", "  of which user"),
            ("sys_s", "  of which sys"),
            ("rss_kib", "peak RSS (KiB)"),
        ]:
            if (w, metric) not in data:
                continue
            d = data[(w, metric)]
            b, o = median(d["berth"]), median(d["openssh"])
            ratio = b / o if b is not None and o else None
            if metric == "wall_s":
                target, verdict = judge(ratio, WALL_TARGET[w], strict=False)
            elif metric == "cpu_s" and w in CPU_TARGET:
                target, verdict = judge(ratio, CPU_TARGET[w], strict=False)
            elif metric == "cpu_s":
                target, verdict = judge(ratio, 1.0, strict=True)
            else:
                target, verdict = "-", "-"
            rows.append((w, title, metric, label, b, o, ratio, target, verdict,
                         d["berth"], d["openssh"]))

    def fmt(metric, v):
        if v is None:
            return "n/a"
        return "%d" % v if metric == "rss_kib" else "%.3f" % v

    with open(out_path, "w") as f:
        f.write("workload\tmetric\tberth_median\topenssh_median\tratio\ttarget\tverdict\t"
                "berth_runs\topenssh_runs\tberth_min\tberth_max\topenssh_min\topenssh_max\n")
        for w, _, metric, _, b, o, ratio, target, verdict, vb, vo in rows:
            f.write("\t".join([w, metric, fmt(metric, b), fmt(metric, o),
                               "n/a" if ratio is None else "%.3f" % ratio,
                               target, verdict, str(len(vb)), str(len(vo)),
                               fmt(metric, min(vb, default=None)),
                               fmt(metric, max(vb, default=None)),
                               fmt(metric, min(vo, default=None)),
                               fmt(metric, max(vo, default=None))]) + "\n")

    print("%-34s %-16s %12s %12s %7s %8s %7s %7s" %
          ("workload", "metric", "berth", "openssh", "ratio", "target", "", "noise"))
    print("-" * 109)
    last = None
    for w, title, metric, label, b, o, ratio, target, verdict, vb, vo in rows:
        if last is not None and w != last:
            print()
        print("%-34s %-16s %12s %12s %7s %8s %7s %7s" % (
            title if w != last else "", label, fmt(metric, b), fmt(metric, o),
            "n/a" if ratio is None else "%.2fx" % ratio, target, verdict,
            noise(vb, vo)))
        last = w
    judged = [r for r in rows if r[8] in ("MET", "MISSED", "n/a")]
    met = sum(1 for r in judged if r[8] == "MET")
    unknown = sum(1 for r in judged if r[8] == "n/a")
    print("-" * 109)
    print("noise: median absolute deviation / median over the runs (the larger of the two servers).")
    print("A ratio within about twice that of its target is not a clear result: try --runs 15.")
    print("targets met: %d of %d%s" % (met, len(judged),
                                       " (%d without data: failed runs)" % unknown if unknown else ""))


IO_SYSCALLS = {"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv",
               "pwritev", "preadv2", "pwritev2", "sendfile", "splice", "copy_file_range",
               "getdents64", "recvfrom", "sendto", "recvmsg", "sendmsg"}
# Calls on the client pipe (fd 0/1) are told apart from file I/O.
STDIO_SPLIT = {"read", "write", "readv", "writev"}
CALL = re.compile(r"^(?:\d+\s+)?(?:(\w+)\(|<\.\.\. (\w+) resumed>)")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+(\w+))?")


def parse_trace(path):
    calls = defaultdict(lambda: [0, 0, 0])  # name -> [calls, errors, bytes]
    pending = {}  # pid -> name of its <unfinished ...> call
    with open(path, errors="replace") as f:
        for line in f:
            m = CALL.match(line)
            if not m:
                continue
            pid = line.split(None, 1)[0]
            name = m.group(1) or m.group(2)
            if m.group(1) and name in STDIO_SPLIT:
                fd = line[m.end():].split(",", 1)[0].strip()
                name += "(fd %s)" % fd if fd in ("0", "1", "2") else "(other fd)"
            if line.rstrip().endswith("<unfinished ...>"):
                pending[pid] = name
                continue
            if m.group(2):
                name = pending.pop(pid, name)
            r = RESULT.search(line)
            if not r:
                continue
            c = calls[name]
            c[0] += 1
            if r.group(1) == "?":
                continue
            val = int(r.group(1))
            if val < 0:
                c[1] += 1
            elif name.split("(")[0] in IO_SYSCALLS:
                c[2] += val
    return calls


def strace_report(workload, berth_path, openssh_path):
    b, o = parse_trace(berth_path), parse_trace(openssh_path)
    names = sorted(set(b) | set(o), key=lambda n: -(b.get(n, [0])[0] + o.get(n, [0])[0]))
    print()
    print("-- %s: syscalls of the server process (calls, errors, bytes per successful I/O call)" % workload)
    print("%-18s %10s %10s %8s %8s %12s %12s" %
          ("syscall (top 25)", "berth", "openssh", "b.err", "o.err", "berth B/call", "ossh B/call"))
    tb = to = 0
    for i, n in enumerate(names):
        cb, co = b.get(n, [0, 0, 0]), o.get(n, [0, 0, 0])
        tb += cb[0]
        to += co[0]
        if n.split("(")[0] in IO_SYSCALLS:
            bpc_b = "%.0f" % (cb[2] / (cb[0] - cb[1])) if cb[0] > cb[1] else "-"
            bpc_o = "%.0f" % (co[2] / (co[0] - co[1])) if co[0] > co[1] else "-"
        else:
            bpc_b = bpc_o = ""
        if i < 25:
            print("%-18s %10d %10d %8d %8d %12s %12s" %
                  (n, cb[0], co[0], cb[1], co[1], bpc_b, bpc_o))
    print("%-18s %10d %10d" % ("total", tb, to))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--strace":
        strace_report(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3:
        report(sys.argv[1], sys.argv[2])
    else:
        sys.stderr.write("usage: bench-dropin-report.py RAW.tsv SUMMARY.tsv\n"
                         "       bench-dropin-report.py --strace WORKLOAD BERTH_TRACE OPENSSH_TRACE\n")
        sys.exit(2)


if __name__ == "__main__":
    main()

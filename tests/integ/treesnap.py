#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Print a normalised snapshot of a directory tree: one line per entry with type, mode,
# size, link count, sha256 (files), link target (symlinks) and mtime (kept only when it is
# the fixed seed time, so preserved times are checked; fresh times print as "new").
#
# usage: treesnap.py DIR [FIXED_MTIME] [PATH_TO_HIDE...]
import hashlib
import os
import stat
import sys


def main():
    root = sys.argv[1]
    fixed = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000000
    hide = sys.argv[3:]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            mt = st.st_mtime_ns // 1000000000
            mt = str(mt) if mt == fixed else "new"
            mode = "%04o" % stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(full)
                for h in hide:
                    target = target.replace(h, "<W>")
                line = "l %s -> %s" % (rel, target)
            elif stat.S_ISDIR(st.st_mode):
                line = "d %s %s mtime=%s" % (rel, mode, mt)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                line = "f %s %s size=%d nlink=%d sha256=%s mtime=%s uid=%d gid=%d" % (
                    rel, mode, st.st_size, st.st_nlink, h.hexdigest(), mt, st.st_uid,
                    st.st_gid)
            else:
                line = "? %s %o" % (rel, st.st_mode)
            out.append(line)
    sys.stdout.write("".join(l + "\n" for l in out))


if __name__ == "__main__":
    main()

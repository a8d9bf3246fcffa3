#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# Real FTP clients (Python ftplib, curl, lftp) against the engine through the plain-FTP test
# driver (tests/ftp/ftp-test-server.c): replies, listings, transfers, checksums.
import filecmp
import ftplib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SERVER = sys.argv[1]
SCALE = float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def sha(data):
    return hashlib.sha256(data).hexdigest()


tmp = tempfile.mkdtemp(prefix="berth-ftp-clients-")
jail = os.path.join(tmp, "jail")
os.mkdir(jail)
portfile = os.path.join(tmp, "port")
srv = subprocess.Popen([SERVER, jail, portfile])
try:
    deadline = time.monotonic() + 10 * SCALE
    while not os.path.exists(portfile):
        if srv.poll() is not None or time.monotonic() > deadline:
            sys.exit("server did not start")
        time.sleep(0.02)
    port = int(open(portfile).read())
    url = "ftp://demo:secret@127.0.0.1:%d" % port
    timeout = 30 * SCALE

    # ---- Python ftplib
    blob = os.urandom(3 * 1024 * 1024 + 17)
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=timeout)
    check(ftp.getwelcome() == "220 berth FTP server ready.", "ftplib: greeting")
    try:
        bad = ftplib.FTP()
        bad.connect("127.0.0.1", port, timeout=timeout)
        bad.login("demo", "wrong")
        check(False, "ftplib: wrong password refused")
    except ftplib.error_perm as e:
        check(str(e).startswith("530"), "ftplib: wrong password refused (530)")
    ftp.login("demo", "secret")
    check(ftp.pwd() == "/", "ftplib: PWD")
    check(ftp.mkd("sub dir") == "/sub dir", "ftplib: MKD with a space, 257 parsed")
    ftp.cwd("sub dir")
    ftp.storbinary("STOR blob.bin", io.BytesIO(blob))
    check(ftp.size("blob.bin") == len(blob), "ftplib: SIZE")
    got = io.BytesIO()
    ftp.retrbinary("RETR blob.bin", got.write)
    check(sha(got.getvalue()) == sha(blob), "ftplib: STOR/RETR 3 MiB, sha256 equal")
    got = io.BytesIO()
    ftp.retrbinary("RETR blob.bin", got.write, rest=1000000)
    check(got.getvalue() == blob[1000000:], "ftplib: REST + RETR resumes")
    facts = dict(ftp.mlsd())
    check(facts["blob.bin"]["type"] == "file" and int(facts["blob.bin"]["size"]) == len(blob)
          and facts["."]["type"] == "cdir", "ftplib: MLSD facts")
    lines = []
    ftp.retrlines("LIST", lines.append)
    check(len(lines) == 1 and lines[0].startswith("-rw-r--r--") and lines[0].endswith(" blob.bin")
          and str(len(blob)) in lines[0].split(), "ftplib: LIST line")
    check(ftp.nlst() == ["blob.bin"], "ftplib: NLST")
    ftp.rename("blob.bin", "renamed.bin")
    check(ftp.nlst() == ["renamed.bin"], "ftplib: RNFR/RNTO")
    text = "line one\nline two\n\nlast\n"
    ftp.storlines("STOR text.txt", io.BytesIO(text.replace("\n", "\r\n").encode()))
    with open(os.path.join(jail, "sub dir", "text.txt")) as f:
        check(f.read() == text, "ftplib: TYPE A upload stored with LF")
    back = []
    ftp.retrlines("RETR text.txt", back.append)
    check(back == text.split("\n")[:-1], "ftplib: TYPE A download")
    ftp.voidcmd("TYPE I")
    ftp.delete("renamed.bin")
    ftp.delete("text.txt")
    ftp.cwd("..")
    ftp.rmd("sub dir")
    check(ftp.nlst() == [], "ftplib: DELE, RMD")
    resp = ftp.sendcmd("FEAT")
    check("MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;" in resp, "ftplib: FEAT")
    # Active mode: PORT to our own address and an unprivileged port.
    ftp.set_pasv(False)
    ftp.storbinary("STOR active.bin", io.BytesIO(blob[:100000]))
    got = io.BytesIO()
    ftp.retrbinary("RETR active.bin", got.write)
    check(got.getvalue() == blob[:100000], "ftplib: active mode (PORT) transfer")
    try:
        ftp.sendcmd("PORT 10,0,0,1,4,1")
        check(False, "ftplib: PORT to another host refused")
    except ftplib.error_perm as e:
        check(str(e).startswith("504"), "ftplib: PORT to another host refused (504)")
    ftp.delete("active.bin")
    ftp.quit()

    # ---- curl
    src = os.path.join(tmp, "up.bin")
    with open(src, "wb") as f:
        f.write(blob)

    def curl(*args):
        return subprocess.run(["curl", "-sS", "--max-time", str(int(60 * SCALE))] + list(args),
                              capture_output=True, timeout=120 * SCALE)

    r = curl("-T", src, url + "/curl.bin")
    check(r.returncode == 0, "curl: upload (EPSV) %s" % r.stderr.decode().strip())
    r = curl(url + "/curl.bin")
    check(r.returncode == 0 and sha(r.stdout) == sha(blob), "curl: download, sha256 equal")
    r = curl("--disable-epsv", url + "/curl.bin")
    check(r.returncode == 0 and sha(r.stdout) == sha(blob), "curl: download over PASV")
    r = curl("-P", "127.0.0.1", url + "/curl.bin")
    check(r.returncode == 0 and sha(r.stdout) == sha(blob), "curl: download active (EPRT)")
    r = curl("-r", "100-199", url + "/curl.bin")
    check(r.returncode == 0 and r.stdout == blob[100:200], "curl: range (REST)")
    r = curl(url + "/")
    check(r.returncode == 0 and r.stdout.decode().rstrip().endswith(" curl.bin"), "curl: LIST")
    r = curl("-l", url + "/")
    check(r.returncode == 0 and r.stdout in (b"curl.bin\r\n", b"curl.bin\n"), "curl: NLST")
    r = curl("--ftp-create-dirs", "-T", src, url + "/a/b/c.bin")
    check(r.returncode == 0 and os.path.getsize(os.path.join(jail, "a/b/c.bin")) == len(blob),
          "curl: --ftp-create-dirs (MKD, CWD)")
    r = curl("-Q", "DELE curl.bin", url + "/")
    check(r.returncode == 0 and not os.path.exists(os.path.join(jail, "curl.bin")),
          "curl: -Q DELE")
    r = curl(url + "/nope.bin")
    check(r.returncode == 78, "curl: missing file is 550 (curl exit 78)")

    # ---- lftp: mirror a tree up and back down
    tree = os.path.join(tmp, "tree")
    for d in ("x", "x/y", "z"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    for i, name in enumerate(["x/one.txt", "x/y/two.bin", "z/three", "top", ".dot"]):
        with open(os.path.join(tree, name), "wb") as f:
            f.write(os.urandom(1000 * (i + 1)))
    down = os.path.join(tmp, "down")
    cmd = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout %d; "
           "mirror -R %s /mirror; mirror /mirror %s; quit" % (int(20 * SCALE), tree, down))
    r = subprocess.run(["lftp", "-u", "demo,secret", "-p", str(port), "-e", cmd, "127.0.0.1"],
                       capture_output=True, timeout=120 * SCALE)
    check(r.returncode == 0, "lftp: mirror up and down %s" % r.stderr.decode().strip()[-300:])
    same = True
    for root, dirs, files in os.walk(tree):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), tree)
            other = os.path.join(down, rel)
            same = same and os.path.exists(other) and filecmp.cmp(os.path.join(root, name),
                                                                   other, shallow=False)
    check(same, "lftp: mirrored tree identical (MLSD parsed)")
finally:
    srv.send_signal(signal.SIGTERM)
    srv.wait()
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)

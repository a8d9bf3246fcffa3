#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""berthctl explain against what a real client experiences.

For every case of a table: run `berthctl explain` (text and --json), then the real
operation through paramiko (OpenSSH scp, or Python ftplib over explicit FTPS with
PROT P for the --protocol ftps cases) against the running berthd, and check that
both say allowed or both say denied, at the same stage (login, session, path, quota), and
that the printed result names the rule that decides, with its file:line.

Usage: explain.py CASES   (main | global-readonly)
Environment: PORT, KEY, RO_KEY, BERTHCTL, CONF, ACCOUNTS, T, FTPS_PORT, PASSWORD (from
test-explain.sh)."""
import ftplib
import io
import json
import os
import stat
import subprocess
import sys
import time

import paramiko
from paramiko.sftp import CMD_EXTENDED

from ftpslib import ReusingFTP_TLS, context
from testlib import scaled, ssh_connect_args

PORT = int(os.environ["PORT"])
KEY = os.environ["KEY"]
RO_KEY = os.environ["RO_KEY"]
BERTHCTL = os.environ["BERTHCTL"]
CONF = os.environ["CONF"]
ACCOUNTS = os.environ["ACCOUNTS"]
T = os.environ["T"]
FTPS_PORT = int(os.environ["FTPS_PORT"])
PASSWORD = os.environ["PASSWORD"]


def line_of(path, text, after=None):
    """1-based number of the first line of @path containing @text (after the first line
    containing @after, when given); it must exist."""
    with open(path) as f:
        lines = f.read().split("\n")
    start = 0
    if after is not None:
        start = next(i for i, l in enumerate(lines) if after in l) + 1
    for i in range(start, len(lines)):
        if text in lines[i]:
            return i + 1
    raise AssertionError("no line with %r in %s" % (text, path))


def acct(text, account=None):
    """file:line of a rule in the accounts file (in @account's stanza if given)."""
    after = ("Account %s" % account) if account else None
    if account and text == "Account %s" % account:
        return "%s:%d" % (ACCOUNTS, line_of(ACCOUNTS, text))
    return "%s:%d" % (ACCOUNTS, line_of(ACCOUNTS, text, after))


def conf(text):
    return "%s:%d" % (CONF, line_of(CONF, text))


def root(account):
    return os.path.join(T, "root-" + account)


# ---- the real client ----

class Outcome(Exception):
    pass


def connect(user, key):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        c.connect("127.0.0.1", PORT, user, key_filename=key, allow_agent=False,
                  look_for_keys=False, **ssh_connect_args())
    except paramiko.AuthenticationException:
        c.close()
        raise Outcome("login")
    try:
        s = c.open_sftp()
    except paramiko.SSHException:
        c.close()
        raise Outcome("session")
    return c, s


ALIASES = {"ls": "list", "get": "download", "put": "upload", "rm": "delete", "mv": "rename",
           "chmod": "setstat"}


def sftp_op(s, op, path, target, size):
    op = ALIASES.get(op, op)
    if op == "list":
        s.listdir(path)
    elif op == "download":
        with s.open(path, "r") as f:
            f.read()
    elif op in ("upload", "overwrite"):
        # Not pipelined (paramiko drops the status of pipelined writes), and no stat
        # afterwards (it would need the list permission).
        data = b"u" * size
        with s.open(path, "wb") as f:
            for off in range(0, size, 32768):
                f.write(data[off:off + 32768])
    elif op == "delete":
        s.remove(path)
    elif op == "rename":
        s.rename(path, target)
    elif op == "mkdir":
        s.mkdir(path)
    elif op == "rmdir":
        s.rmdir(path)
    elif op == "symlink":
        s.symlink(target or "/", path)
    elif op == "setstat":
        s.chmod(path, 0o640)
    elif op == "link":
        s._request(CMD_EXTENDED, "hardlink@openssh.com", path, target)
    else:
        raise AssertionError("no real operation for " + op)


def ftp_op(f, op, path, target, size):
    op = ALIASES.get(op, op)
    if op == "list":
        f.retrlines("LIST " + path, lambda line: None)
    elif op == "download":
        f.retrbinary("RETR " + path, lambda data: None)
    elif op in ("upload", "overwrite"):
        f.storbinary("STOR " + path, io.BytesIO(b"u" * size))
    elif op == "delete":
        f.delete(path)
    elif op == "rename":
        f.rename(path, target)
    elif op == "mkdir":
        f.mkd(path)
    elif op == "rmdir":
        f.rmd(path)
    else:
        raise AssertionError("no FTP operation for " + op)


def real_ftps(case):
    """The operation over explicit FTPS (AUTH TLS, PROT P) with the account's password:
    530 at login is the login stage, 550 (450 for LIST, RFC 959) the path, 552 the
    quota."""
    f = ReusingFTP_TLS(context=context(), timeout=scaled(30))
    try:
        f.connect("127.0.0.1", FTPS_PORT)
        try:
            f.login(case["account"], PASSWORD)
        except ftplib.error_perm:
            return "login"
        f.prot_p()
        ftp_op(f, case["op"], case["path"], case.get("to"), case.get("size", 100))
        return "ok"
    except (ftplib.error_perm, ftplib.error_temp) as e:
        code = str(e)[:3]
        return {"450": "path", "550": "path", "552": "quota", "553": "path"}.get(
            code, "other:" + str(e))
    finally:
        f.close()


def real(case):
    """'ok', or the stage that refused: login, session, path, quota."""
    user, op, path = case["account"], case["op"], case["path"]
    if case.get("protocol") == "ftps":
        return real_ftps(case)
    if case.get("protocol") == "scp":
        dest = os.path.join(T, "scp-out")
        r = subprocess.run(
            ["scp", "-O", "-q", "-o", "StrictHostKeyChecking=no", "-o",
             "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-i", KEY, "-P", str(PORT), "%s@127.0.0.1:%s" % (user, path), dest],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=scaled(60))
        return "ok" if r.returncode == 0 else "scp:" + r.stderr.decode(errors="replace")
    try:
        c, s = connect(user, case.get("key_file", KEY))
    except Outcome as e:
        return str(e)
    try:
        sftp_op(s, op, path, case.get("to"), case.get("size", 100))
        return "ok"
    except PermissionError:
        return "path"
    except IOError as e:
        msg = str(e.args[-1] if e.args else e)
        if "Quota exceeded" in msg:
            return "quota"
        return "other:" + msg
    finally:
        c.close()


# ---- berthctl explain ----

def explain(case, json_out):
    args = [BERTHCTL, "-f", CONF, "explain", case["account"], case["op"], case["path"],
            "--from", "127.0.0.1"]
    if case.get("to"):
        args += ["--to", case["to"]]
    if case.get("size") is not None:
        args += ["--size", str(case["size"])]
    args += case.get("args", [])
    if json_out:
        args.append("--json")
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=scaled(60))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def refusing_stage(report):
    for s in report["sections"]:
        if s["allowed"] is False and not s["hypothetical"]:
            return s["name"]
    return None


def check(case):
    name = "%s %s %s%s%s" % (case["account"], case["op"], case["path"],
                             " -> " + case["to"] if case.get("to") else "",
                             " (%s)" % case["protocol"] if case.get("protocol") else "")
    rc, text, err = explain(case, False)
    jrc, jtext, jerr = explain(case, True)
    if rc not in (0, 1) or jrc != rc:
        raise SystemExit("FAIL: %s: explain exit %d / --json exit %d: %s%s" %
                         (name, rc, jrc, err, jerr))
    report = json.loads(jtext)
    if report["allowed"] != (rc == 0):
        raise SystemExit("FAIL: %s: --json says allowed=%s, exit status %d" %
                         (name, report["allowed"], rc))
    stage = refusing_stage(report)
    want = case["want"]
    got = real(case)
    if got not in ("ok", "login", "session", "path", "quota"):
        raise SystemExit("FAIL: %s: the real operation failed for another reason: %s" %
                         (name, got))
    explained = "ok" if rc == 0 else stage
    if explained != got or got != want:
        raise SystemExit("FAIL: %s: explain says %s, the client got %s (expected %s)\n%s" %
                         (name, explained, got, want, text))
    result = [l for l in text.split("\n") if l.startswith("result: ")]
    if len(result) != 1 or case["rule"] not in result[0]:
        raise SystemExit("FAIL: %s: the result does not name %s:\n%s" %
                         (name, case["rule"], text))
    if case["rule"] not in (report["decision"] or ""):
        raise SystemExit("FAIL: %s: the JSON decision does not name %s: %s" %
                         (name, case["rule"], report["decision"]))
    for more in case.get("also", []):
        if more not in text:
            raise SystemExit("FAIL: %s: the output lacks %r:\n%s" % (name, more, text))
    if case.get("after"):
        case["after"]()
    print("ok - %s: %s, %s" % (name, "allowed" if got == "ok" else "denied at " + got,
                                result[0][len("result: "):]))


def fingerprint(pub):
    out = subprocess.run(["ssh-keygen", "-lf", pub], stdout=subprocess.PIPE, check=True)
    return out.stdout.decode().split()[1]


def mode_unchanged(account, rel, want):
    def f():
        m = stat.S_IMODE(os.stat(os.path.join(root(account), rel)).st_mode)
        if m != want:
            raise SystemExit("FAIL: SetstatMode ignore changed the mode to %o" % m)
    return f


def remove(account, path):
    """Remove what a refused upload left (through the server, so the usage follows)."""
    def f():
        c, s = connect(account, KEY)
        s.remove(path)
        c.close()
    return f


def main_cases():
    ro_fp = fingerprint(RO_KEY + ".pub")
    readme_mode = stat.S_IMODE(os.stat(os.path.join(root("ign"), "readme")).st_mode)
    return [
        # Permissions and Filter (Group partners, inherited)
        dict(account="partner", op="upload", path="/in/new.csv", want="ok",
             rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="put", path="/in/evil.exe", want="path",
             rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="upload", path="/in/notes.txt", want="path",
             rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="list", path="/in", want="path",
             rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="download", path="/in/secret.csv", want="path",
             rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="get", path="/out/report.pdf", want="ok",
             rule=acct("Permissions /out list,download")),
        dict(account="partner", op="upload", path="/out/new.txt", want="path",
             rule=acct("Permissions /out list,download")),
        dict(account="partner", op="delete", path="/in/secret.csv", want="path",
             rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="rename", path="/in/secret.csv", to="/stolen.csv",
             want="path", rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="rename", path="/work/w.csv", to="/in/w.csv", want="ok",
             rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="mkdir", path="/in/sub", want="path",
             rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="mkdir", path="/work/newdir", want="ok",
             rule=acct("Permissions / full")),
        dict(account="partner", op="rmdir", path="/out/old", want="path",
             rule=acct("Permissions /out list,download")),
        dict(account="partner", op="setstat", path="/ro/fixed.txt", want="path",
             rule=acct("Permissions /ro read-only")),
        dict(account="partner", op="symlink", path="/in/l.csv", to="/in/secret.csv",
             want="path", rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="link", path="/ro/fixed.txt", to="/work/f.txt",
             want="path", rule="a hard link may not grant more"),
        # --resolve: an existing name is an overwrite; a symlink leads into /in
        dict(account="partner", op="upload", path="/in/secret.csv", want="path",
             args=["--resolve"], rule=acct("Permissions /in upload-only"),
             also=["an upload to this name replaces it"]),
        dict(account="partner", op="download", path="/work/door.csv", want="path",
             args=["--resolve"], rule=acct("Permissions /in upload-only")),
        # ReadOnly: the account's line, and a key's command="internal-sftp -R"
        dict(account="ro", op="upload", path="/x.txt", want="path",
             rule=acct("ReadOnly yes", "ro")),
        dict(account="ro", op="download", path="/readme", want="ok",
             rule="no Permissions rule"),
        dict(account="keyro", op="upload", path="/x.txt", want="path", key_file=RO_KEY,
             args=["--key", ro_fp], rule="%s:1" % os.path.join(T, "ro_keys")),
        # SetstatMode
        dict(account="ign", op="setstat", path="/readme", want="ok",
             rule=acct("SetstatMode ignore", "ign"), after=mode_unchanged("ign", "readme",
                                                                          readme_mode)),
        dict(account="ref", op="chmod", path="/readme", want="path",
             rule=acct("SetstatMode refuse", "ref")),
        # MaxFileSize and QuotaSize (usage from the state file)
        dict(account="quota", op="upload", path="/big.bin", size=50000, want="quota",
             rule=acct("MaxFileSize 40K", "quota"), after=remove("quota", "/big.bin")),
        dict(account="quota", op="upload", path="/ok.bin", size=20000, want="ok",
             rule=acct("Permissions / full", "quota"),
             also=["QuotaSize 48K (used 0 of 49152 bytes, room for 20000)"]),
        dict(account="quota", op="upload", path="/more.bin", size=35000, want="quota",
             rule=acct("QuotaSize 48K", "quota")),
        # login rules
        dict(account="expired", op="list", path="/", want="login",
             rule=acct("Expires 2020-01-01", "expired")),
        dict(account="future", op="list", path="/", want="ok", rule="no Permissions rule",
             also=["Expires 2099-01-01 at " + acct("Expires 2099-01-01", "future")]),
        dict(account="elsewhere", op="list", path="/", want="login",
             rule=acct("AllowFrom 192.0.2.0/24", "elsewhere")),
        dict(account="denied", op="list", path="/", want="login",
             rule=acct("DenyFrom 127.0.0.0/8", "denied")),
        dict(account="ftponly", op="list", path="/", want="login",
             rule=acct("Protocols ftps", "ftponly")),
        dict(account="disabled", op="list", path="/", want="login",
             rule=acct("Account disabled", "disabled")),
        dict(account="blocked", op="list", path="/", want="login", rule=conf("DenyUsers")),
        # Protocols per session
        dict(account="scponly", op="list", path="/", want="session",
             rule=acct("Protocols scp", "scponly")),
        dict(account="scponly", op="download", path="/readme", want="ok", protocol="scp",
             args=["--protocol", "scp"], rule="no Permissions rule"),
        # FTPS (ftplib, explicit TLS, PROT P): the same policy below the FTP engine
        dict(account="partner", op="list", path="/in", want="path", protocol="ftps",
             args=["--protocol", "ftps"], rule=acct("Permissions /in upload-only")),
        dict(account="partner", op="upload", path="/in/evil.exe", want="path",
             protocol="ftps", args=["--protocol", "ftps"],
             rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="upload", path="/in/ftp.csv", want="ok", protocol="ftps",
             args=["--protocol", "ftps"], rule=acct("Filter /in *.csv,!*.exe")),
        dict(account="partner", op="download", path="/out/report.pdf", want="ok",
             protocol="ftps", args=["--protocol", "ftps"],
             rule=acct("Permissions /out list,download")),
        dict(account="ro", op="upload", path="/x.txt", want="path", protocol="ftps",
             args=["--protocol", "ftps"], rule=acct("ReadOnly yes", "ro")),
        dict(account="ftponly", op="list", path="/", want="ok", protocol="ftps",
             args=["--protocol", "ftps"], rule="no Permissions rule"),
        dict(account="scponly", op="list", path="/", want="login", protocol="ftps",
             args=["--protocol", "ftps"], rule=acct("Protocols scp", "scponly")),
    ]


def global_ro_cases():
    return [
        dict(account="partner", op="upload", path="/work/g.csv", want="path",
             rule=conf("ReadOnly yes"), also=["ReadOnly yes (berthd.conf)"]),
        dict(account="partner", op="upload", path="/work/g.csv", want="path",
             protocol="ftps", args=["--protocol", "ftps"], rule=conf("ReadOnly yes")),
        dict(account="partner", op="download", path="/out/report.pdf", want="ok",
             rule=acct("Permissions /out list,download")),
    ]


def max_logins():
    """MaxLogins 1: while one session is held, explain and a second login both refuse."""
    c, s = connect("single", KEY)
    s.listdir("/")
    try:
        check(dict(account="single", op="list", path="/", want="login",
                   rule=acct("MaxLogins 1", "single"), also=["1 of 1 in use now"]))
    finally:
        c.close()
    # the slot is free once the session's processes are gone
    end = time.monotonic() + scaled(20)
    while True:
        rc, text, _ = explain(dict(account="single", op="list", path="/"), False)
        if rc == 0:
            break
        if time.monotonic() > end:
            raise SystemExit("FAIL: MaxLogins slot not free after the session ended:\n" + text)
        time.sleep(0.05)
    check(dict(account="single", op="list", path="/", want="ok", rule="no Permissions rule"))


def main():
    which = sys.argv[1]
    cases = main_cases() if which == "main" else global_ro_cases()
    for case in cases:
        check(case)
    if which == "main":
        max_logins()
        n = len(cases) + 2
    else:
        n = len(cases)
    print("%d cases: explain agrees with the client" % n)


if __name__ == "__main__":
    main()

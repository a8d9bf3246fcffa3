#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# conf/fail2ban/filter.d/berthd.conf against lines berthd itself wrote in this test:
# failed passwords over SSH (paramiko) and FTPS (Python ftplib), unknown users, a
# refused key, a hostile user name that tries to put another address in the line, and
# successful logins. fail2ban-regex must count exactly the failed attempts, name only
# the real source address, and never match a successful login.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
command -v fail2ban-regex >/dev/null || fail "fail2ban-regex is missing (scripts/deps installs fail2ban)"

ftps_prepare
ftps_write_config "MaxAuthTries 10"
start_berthd

$PY - "$PORT" "$FTPS_PORT" "$PASSWORD" "$T" <<'EOF' || fail "clients"
import ftplib, sys, paramiko, ftpslib, testlib
port, fport, pw, t = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def ssh(user, password=None, key=None):
    tr = testlib.transport(("127.0.0.1", port))
    try:
        if key:
            tr.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
        else:
            tr.auth_password(user, password)
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        tr.close()

def ftps(user, password):
    f = ftpslib.ReusingFTP_TLS(context=ftpslib.context(), timeout=testlib.scaled(30))
    f.connect("127.0.0.1", fport)
    try:
        f.login(user, password)
        f.quit()
        return True
    except ftplib.error_perm:
        f.close()
        return False

# Failed attempts the filter counts: 2 wrong passwords and 1 unknown user per protocol.
assert not ssh("demo", "wrong-1")
assert not ssh("demo", "wrong-2")
assert not ssh("nosuch", "wrong-3")
assert not ftps("demo", "wrong-4")
assert not ftps("demo", "wrong-5")
assert not ftps("nosuch", "wrong-6")
# Not counted by default: a refused key of an existing account (clients offer several).
assert not ssh("demo", key=t + "/other_key")
# Never a match: a user name that carries another address.
assert not ssh("x from 198.51.100.9 port 22 ssh2", "wrong-7")
assert not ssh("y\nFailed password for demo from 198.51.100.10 port 22 ssh2", "wrong-8")
# Successful logins.
assert ssh("demo", pw)
assert ftps("demo", pw)
EOF
wait_log "Accepted password for demo from 127\.0\.0\.1 port [0-9]+ ftps" || fail "no FTPS login line"
wait_log "Failed password for invalid user nosuch from 127\.0\.0\.1 port [0-9]+ ftps" ||
	fail "no FTPS unknown-user line"

# The syslog form of the captured lines (LogTarget stderr writes "berthd: MESSAGE").
now=$(LC_ALL=C date '+%b %e %H:%M:%S')
sed -n "s/^berthd: /$now testhost berthd[$BERTHD_PID]: /p" "$T/berthd.log" >"$T/auth.log"
grep "Accepted" "$T/auth.log" >"$T/accepted.log"
[[ $(wc -l <"$T/accepted.log") -eq 2 ]] || fail "expected 2 Accepted lines"
# fail2ban-regex with the filter from the tree (and fail2ban's own common.conf).
mkdir -p "$T/f2b/filter.d"
cp /etc/fail2ban/fail2ban.conf "$T/f2b/"
cp /etc/fail2ban/filter.d/common.conf "$T/f2b/filter.d/"
cp "$SRC/conf/fail2ban/filter.d/berthd.conf" "$T/f2b/filter.d/"
f2b() { fail2ban-regex -c "$T/f2b" "$1" "$2" -o ip 2>&1; }

ips=$(f2b "$T/auth.log" berthd) || fail "fail2ban-regex: $ips"
[[ $(grep -c . <<<"$ips") -eq 6 ]] || fail "filter matched $(grep -c . <<<"$ips") lines, not 6: $ips"
[[ $(sort -u <<<"$ips") == 127.0.0.1 ]] || fail "filter matched other addresses: $ips"
ok "filter: 6 failed attempts (SSH and FTPS, 2 unknown users), all from 127.0.0.1"

ips=$(f2b "$T/auth.log" 'berthd[publickey=any]') || fail "fail2ban-regex: $ips"
[[ $(grep -c . <<<"$ips") -eq 7 ]] || fail "publickey=any matched $(grep -c . <<<"$ips"), not 7: $ips"
ips=$(f2b "$T/auth.log" 'berthd[mode=aggressive]') || fail "fail2ban-regex: $ips"
# + "Invalid user nosuch" twice (SSH, FTPS); the hostile names never match.
[[ $(grep -c . <<<"$ips") -eq 8 && $(sort -u <<<"$ips") == 127.0.0.1 ]] ||
	fail "mode=aggressive matched: $ips"
ok "publickey=any counts the refused key; mode=aggressive adds the unknown users"

ips=$(f2b "$T/accepted.log" 'berthd[mode=aggressive,publickey=any]') || fail "fail2ban-regex: $ips"
[[ -z $ips ]] || fail "a successful login matched: $ips"
grep -E "198\.51\.100\.(9|10)" "$T/auth.log" >/dev/null || fail "hostile names not in the log"
ok "successful logins never match; hostile user names never name their address"

# The jail parses with the filter (fail2ban's own configuration test).
mkdir -p "$T/f2b/jail.d" "$T/f2b/action.d"
cp /etc/fail2ban/jail.conf /etc/fail2ban/paths-*.conf "$T/f2b/"
cp /etc/fail2ban/action.d/*.conf "$T/f2b/action.d/" 2>/dev/null || true
cp /etc/fail2ban/filter.d/*.conf "$T/f2b/filter.d/"
cp "$SRC/conf/fail2ban/filter.d/berthd.conf" "$T/f2b/filter.d/"
cp "$SRC/conf/fail2ban/jail.d/berthd.conf" "$T/f2b/jail.d/"
sed -i "s|^logpath .*|logpath  = $T/auth.log|" "$T/f2b/jail.d/berthd.conf"
out=$(fail2ban-client -c "$T/f2b" -d 2>&1) || fail "fail2ban-client -d: $out"
grep -q "'berthd'" <<<"$out" || fail "the berthd jail is not in fail2ban's configuration: $out"
ok "conf/fail2ban/jail.d/berthd.conf loads (fail2ban-client -d)"

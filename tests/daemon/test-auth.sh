#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd authentication: every method, failures and their log lines, key options,
# method chains, MaxAuthTries, LoginGraceTime, PAM with a real local user.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
echo "ls" >"$T/b"

expect_fail() { # description, command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$what unexpectedly succeeded"; fi
}

# ---------------------------------------------------------------- basic failures
write_accounts
write_config "MaxAuthTries 3"
start_berthd

expect_fail "wrong password" sftp_password "$T/b" "not-the-password"
wait_log "Failed password for demo from 127\.0\.0\.1 port [0-9]+ ssh2" || fail "no 'Failed password' line"
ok "wrong password refused and logged"

expect_fail "unknown user" sftp_password "$T/b" "$PASSWORD" bob
wait_log "Failed password for invalid user bob from 127\.0\.0\.1 port [0-9]+ ssh2" ||
	fail "no 'Failed password for invalid user' line"
ok "unknown user refused, logged like sshd"

# Same answers for an unknown user and a wrong password (no user enumeration).
$PY - "$PORT" <<'EOF' || fail "unknown user answers differ from a wrong password"
import sys, socket, paramiko
port = int(sys.argv[1])
def methods(user):
    from testlib import transport; t = transport(("127.0.0.1", port))
    try:
        t.auth_password(user, "wrong-password")
    except paramiko.BadAuthenticationType as e:
        return ("badtype", tuple(e.allowed_types))
    except paramiko.AuthenticationException as e:
        return ("fail", str(e))
    finally:
        t.close()
    return ("ok",)
a, b = methods("demo"), methods("nosuchuser")
assert a == b and a[0] == "fail", (a, b)
EOF
ok "unknown user answers exactly like a wrong password"

expect_fail "unauthorized key" sftp_key "$T/b" demo "$T/other_key"
OFP=$(ssh-keygen -lf "$T/other_key.pub" | awk '{print $2}')
wait_log "Failed publickey for demo from 127\.0\.0\.1" || fail "no 'Failed publickey' line"
grep -qF "ED25519 $OFP" "$T/berthd.log" || fail "failed key fingerprint not logged"
ok "unauthorized key refused, fingerprint logged"

# The probe must be answered truthfully and identity bound to the signed key
# (CVE-2024-45337 class): probe the authorized key, then sign with another one.
$PY - "$PORT" "$T" <<'EOF' || fail "probe/sign mix-up"
import sys, paramiko
from paramiko.message import Message
from paramiko.common import cMSG_SERVICE_REQUEST
port, t = int(sys.argv[1]), sys.argv[2]
good = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
bad = paramiko.Ed25519Key.from_private_key_file(t + "/other_key")
from testlib import transport; tr = transport(("127.0.0.1", port))
# A normal auth with the bad key must fail, then the good key must succeed on the
# same connection: proves the bad key is not remembered as the identity.
try:
    tr.auth_publickey("demo", bad)
    raise SystemExit("unauthorized key accepted")
except paramiko.AuthenticationException:
    pass
tr.auth_publickey("demo", good)
assert tr.is_authenticated()
tr.close()
EOF
ok "failed key does not become the identity; good key then succeeds"

# RFC 4252 section 7: a signed request whose signature does not verify is answered
# with FAILURE at once (libssh 0.10 drops it silently), counted toward MaxAuthTries (3
# here) and logged like any failed key; the client can then log in with the right key
# on the same connection.
$PY - "$PORT" "$T" <<'EOF' || fail "invalid signature handling"
import sys, time, paramiko
from paramiko.pkey import PublicBlob
port, t = int(sys.argv[1]), sys.argv[2]
good = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
forged = paramiko.Ed25519Key.from_private_key_file(t + "/other_key")
# Present the authorized key's blob, sign with another private key.
forged.public_blob = PublicBlob("ssh-ed25519", good.asbytes())
def connect():
    from testlib import transport; tr = transport(("127.0.0.1", port))
    tr.auth_timeout = 100  # an unanswered request ends as "Authentication timeout."
    return tr
def bad_attempt(tr):
    try:
        tr.auth_publickey("demo", forged)
        raise SystemExit("forged signature accepted")
    except paramiko.AuthenticationException as e:
        assert "timeout" not in str(e).lower(), "invalid signature not answered: %s" % e
tr = connect()
bad_attempt(tr)
tr.auth_publickey("demo", good)
assert tr.is_authenticated()
tr.close()
print("ok - invalid signature answered with FAILURE; the right key then logs in")
tr = connect()
failures = 0
for i in range(10):
    try:
        bad_attempt(tr)
        failures += 1
    except (paramiko.SSHException, EOFError, OSError):
        break
    if not tr.is_active():
        break
from testlib import wait_until
wait_until(lambda: not tr.is_active(), 10,
           "connection still open after MaxAuthTries invalid signatures")
assert failures <= 4, failures
EOF
GFP=$(ssh-keygen -lf "$T/client_key.pub" | awk '{print $2}')
wait_log "maximum authentication attempts exceeded for demo from 127\.0\.0\.1 port [0-9]+ ssh2" ||
	fail "no MaxAuthTries line after invalid signatures"
MPORT=$(sed -n 's/.*maximum authentication attempts exceeded for demo from 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/berthd.log" | tail -1)
n=$(grep "Failed publickey for demo from 127.0.0.1 port $MPORT ssh2: " "$T/berthd.log" | grep -cF "ED25519 $GFP")
[[ $n -eq 3 ]] || fail "$n invalid signatures logged on one connection with MaxAuthTries 3"
ok "invalid signatures logged as failed keys and counted toward MaxAuthTries"

# The user name is pinned by the first request: changing it ends the connection.
$PY - "$PORT" "$PASSWORD" <<'EOF' || fail "user name change not refused"
import sys, time, paramiko
port, pw = int(sys.argv[1]), sys.argv[2]
from testlib import transport; t = transport(("127.0.0.1", port))
try:
    t.auth_password("nosuchuser", "x")
except paramiko.AuthenticationException:
    pass
try:
    t.auth_password("demo", pw)
    raise SystemExit("login after a user name change was accepted")
except (paramiko.AuthenticationException, paramiko.SSHException, EOFError, OSError):
    pass
from testlib import wait_until
wait_until(lambda: not t.is_active(), 10, "connection open after a user name change")
EOF
wait_log "change of username or service not allowed" || fail "user name change not logged"
ok "user name pinned per connection"

# MaxAuthTries 3: the fourth attempt never happens.
$PY - "$PORT" <<'EOF' || fail "MaxAuthTries not enforced"
import sys, paramiko, time
port = int(sys.argv[1])
from testlib import transport; t = transport(("127.0.0.1", port))
failures = 0
for i in range(10):
    try:
        t.auth_password("demo", "wrong-%d" % i)
    except paramiko.AuthenticationException:
        failures += 1
    except (paramiko.SSHException, EOFError, OSError):
        break
    if not t.is_active():
        break
from testlib import wait_until
wait_until(lambda: not t.is_active(), 10, "connection still open after MaxAuthTries")
# The client may see one more failure (the hang-up) than the server verified.
assert failures <= 4, failures
EOF
wait_log "maximum authentication attempts exceeded for demo from 127\.0\.0\.1" ||
	fail "no MaxAuthTries log line"
MPORT=$(sed -n 's/.*maximum authentication attempts exceeded for demo from 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/berthd.log" | tail -1)
n=$(grep -c "Failed password for demo from 127.0.0.1 port $MPORT " "$T/berthd.log")
[[ $n -eq 3 ]] || fail "server verified $n passwords on one connection with MaxAuthTries 3"
ok "MaxAuthTries closes the connection"
stop_berthd

# ---------------------------------------------------------------- key options
{
	echo "expiry-time=\"20000101\" $(cat "$T/other_key.pub")"
	echo "from=\"10.0.0.0/8\" $(cat "$T/client_key.pub")"
} >"$T/authorized_keys"
write_accounts
write_config
start_berthd
expect_fail "expired key" sftp_key "$T/b" demo "$T/other_key"
wait_log "Authentication refused for demo from 127\.0\.0\.1: key .*expir" || fail "expiry not logged"
ok "expired key (expiry-time) refused"
expect_fail "from= mismatch" sftp_key "$T/b" demo "$T/client_key"
ok "from= mismatch refused"
stop_berthd
echo "from=\"127.0.0.0/8\",restrict $(cat "$T/client_key.pub")" >"$T/authorized_keys"
start_berthd
sftp_key "$T/b" >/dev/null || fail "from= match should log in"
ok "from= match with restrict logs in"
stop_berthd

# ---------------------------------------------------------------- method chains
cp "$T/client_key.pub" "$T/authorized_keys"
write_accounts "AuthenticationMethods publickey,password"
write_config
start_berthd
expect_fail "key alone under publickey,password" sftp_key "$T/b"
expect_fail "password alone under publickey,password" sftp_password "$T/b" "$PASSWORD"
printf '#!/bin/sh\necho "%s"\n' "$PASSWORD" >"$T/askpass"
chmod 700 "$T/askpass"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o BatchMode=no -o IdentitiesOnly=yes -i "$T/client_key" \
	-o PreferredAuthentications=publickey,password -P "$PORT" -b "$T/b" demo@127.0.0.1 \
	</dev/null >/dev/null || fail "publickey then password should log in"
wait_log "Partial publickey for demo from 127\.0\.0\.1 port [0-9]+ ssh2: ED25519" || fail "no Partial line"
wait_log "Accepted password for demo from 127\.0\.0\.1" || fail "no Accepted password after partial"
ok "AuthenticationMethods publickey,password: partial success then password"
stop_berthd

# ---------------------------------------------------------------- grace time
write_accounts
write_config "LoginGraceTime 2"
start_berthd
$PY - "$PORT" <<'EOF' || fail "silent client not dropped at LoginGraceTime"
import socket, sys
from testlib import scaled
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(scaled(30))
banner = s.recv(256)
assert banner.startswith(b"SSH-2.0-"), banner
# Send nothing more: the server must hang up by itself.
while True:
    d = s.recv(4096)
    if not d:
        break
EOF
wait_log "Timeout before authentication for 127\.0\.0\.1 port" || fail "no grace-time log line"
ok "LoginGraceTime drops a silent client"
stop_berthd

# ---------------------------------------------------------------- PAM, real user
if [[ $(id -u) -ne 0 ]]; then
	echo "skip - PAM tests need root"
	echo "all auth tests passed"
	exit 0
fi
PUSER=berthpam$$
PPASS="Pam-pass-$RANDOM-x"
SVC=berth-test-$$
useradd -m -s /usr/sbin/nologin "$PUSER"
CLEANUPS+=("userdel -r $PUSER 2>/dev/null" "rm -f /etc/pam.d/$SVC")
echo "$PUSER:$PPASS" | chpasswd
printf 'auth required pam_unix.so\naccount required pam_unix.so\n' >"/etc/pam.d/$SVC"
write_config "SystemAccounts yes" "UsePAM yes" "PAMServiceName $SVC"
start_berthd
cat >"$T/bp" <<EOF
put $T/host_ed25519.pub pam-upload
ls -l
EOF
sftp_password "$T/bp" "$PPASS" "$PUSER" >/dev/null || fail "PAM password login"
wait_log "Accepted password for $PUSER from 127\.0\.0\.1" || fail "no PAM accept line"
[[ $(stat -c %U "/home/$PUSER/pam-upload") == "$PUSER" ]] || fail "upload not owned by the PAM user"
ok "PAM password login as a real local user; files owned by that user"
expect_fail "PAM wrong password" sftp_password "$T/bp" "wrong-$PPASS" "$PUSER"
wait_log "Failed password for $PUSER from 127\.0\.0\.1" || fail "no PAM failure line"
ok "PAM wrong password refused"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 true
printf '#!/bin/sh\necho "%s"\n' "$PPASS" >"$T/askpass"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o BatchMode=no -o PubkeyAuthentication=no \
	-o PreferredAuthentications=keyboard-interactive -P "$PORT" -b "$T/b" "$PUSER@127.0.0.1" \
	</dev/null >/dev/null || fail "PAM keyboard-interactive login"
wait_log "Accepted keyboard-interactive/pam for $PUSER from 127\.0\.0\.1" || fail "no kbd-int/pam line"
ok "PAM keyboard-interactive (prompts relayed from PAM)"
stop_berthd

echo "all auth tests passed"

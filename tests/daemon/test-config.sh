#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd -t / -T, algorithm options, strict KEX.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config
"$BERTHD" -t -f "$T/berthd.conf" || fail "-t rejects a good configuration"
ok "-t accepts a good configuration"

cp "$T/berthd.conf" "$T/bad.conf"
{
	echo "NoSuchKeyword yes"
	echo "LoginGraceTime forever"
	echo "HostKey $T/missing_key"
} >>"$T/bad.conf"
set +e
"$BERTHD" -t -f "$T/bad.conf" >"$T/t.out" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "-t exit status $rc on a bad configuration"
base=$(wc -l <"$T/berthd.conf")
grep -q "bad.conf:$((base + 1)):" "$T/t.out" || { cat "$T/t.out"; fail "no file:line for the unknown keyword"; }
grep -q "bad.conf:$((base + 2)):" "$T/t.out" || { cat "$T/t.out"; fail "no file:line for the bad value"; }
ok "-t reports every error with file:line and exits 1"

"$BERTHD" -T -f "$T/berthd.conf" >"$T/T.out"
grep -qi "^port $PORT$" "$T/T.out" || fail "-T does not show the port"
grep -qi "^logingracetime 120" "$T/T.out" || fail "-T does not show defaults"
ok "-T prints the effective configuration"

# Connection limits have their own names; MaxSessions is sshd's (per connection) and the
# old per-source name is a deprecated alias that -T prints under the new one.
grep -qi "^maxconnections 1024$" "$T/T.out" || fail "-T: MaxConnections default"
grep -qi "^persourcemaxconnections 64$" "$T/T.out" || fail "-T: PerSourceMaxConnections default"
grep -qi "^maxsessions 10$" "$T/T.out" || fail "-T: MaxSessions default (per connection)"
cp "$T/berthd.conf" "$T/alias.conf"
printf 'PerSourceMaxSessions 7\nMaxSessions 3\nMaxConnections 99\n' >>"$T/alias.conf"
"$BERTHD" -T -f "$T/alias.conf" >"$T/T2.out" || fail "-T rejects PerSourceMaxSessions"
grep -qi "^persourcemaxconnections 7$" "$T/T2.out" || fail "PerSourceMaxSessions alias not applied"
grep -qi "^maxsessions 3$" "$T/T2.out" || fail "MaxSessions not applied"
grep -qi "^maxconnections 99$" "$T/T2.out" || fail "MaxConnections not applied"
printf 'MaxSessions 0\n' >>"$T/bad.conf"
"$BERTHD" -t -f "$T/bad.conf" >"$T/t.out" 2>&1 && fail "-t accepts MaxSessions 0"
grep -qi "MaxSessions" "$T/t.out" || fail "-t does not name MaxSessions"
ok "MaxConnections, PerSourceMaxConnections (old name accepted), MaxSessions per connection"

# Algorithm options: restrict ciphers, a client offering only others cannot connect.
write_config "Ciphers aes256-gcm@openssh.com" "MACs hmac-sha2-256-etm@openssh.com"
start_berthd
echo ls >"$T/b"
sftp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	-c aes256-gcm@openssh.com -b "$T/b" demo@127.0.0.1 >/dev/null || fail "configured cipher refused"
if sftp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	-c chacha20-poly1305@openssh.com -b "$T/b" demo@127.0.0.1 >/dev/null 2>&1; then
	fail "cipher outside Ciphers accepted"
fi
ok "Ciphers restricts the offered ciphers"
# Strict KEX (Terrapin) is advertised.
$PY - "$PORT" <<'EOF' || fail "strict kex not offered"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"SSH-2.0-probe\r\n")
buf = b""
while b"kex-strict-s-v00@openssh.com" not in buf and len(buf) < 65536:
    d = s.recv(4096)
    if not d:
        break
    buf += d
assert b"kex-strict-s-v00@openssh.com" in buf
EOF
ok "strict KEX (kex-strict-s-v00@openssh.com) offered"
stop_berthd

# Several listeners: two IPv4 addresses (served) and, if the host has it, IPv6 loopback
# (bound only: tests talk to 127.0.0.0/8 alone).
PORT2=$(free_port)
extra=("ListenAddress 127.0.0.2:$PORT2")
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
	PORT6=$(free_port)
	extra+=("ListenAddress [::1]:$PORT6")
fi
write_config "${extra[@]}"
start_berthd
wait_log "Server listening on 127\.0\.0\.2 port $PORT2" || fail "second IPv4 listener missing"
if [[ -n ${PORT6:-} ]]; then
	wait_log "Server listening on ::1 port $PORT6" || fail "IPv6 listener missing"
fi
sftp_key "$T/b" >/dev/null || fail "login on the first listener"
sftp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT2" -b "$T/b" \
	demo@127.0.0.2 >/dev/null || fail "login on the second listener"
ok "several listeners${PORT6:+ (incl. IPv6 [::1]:$PORT6 bound)}"
stop_berthd

# The accounts file is read for every connection: a new password applies to the next
# login without a restart, and a file broken meanwhile refuses logins (fail closed).
write_config
start_berthd
sftp_password "$T/b" "$PASSWORD" >/dev/null || fail "password login before the edit"
OLD_PASSWORD=$PASSWORD
PASSWORD="changed-$RANDOM-pass"
write_accounts
sftp_password "$T/b" "$PASSWORD" >/dev/null || fail "new password refused without a restart"
if sftp_password "$T/b" "$OLD_PASSWORD" >/dev/null 2>&1; then
	fail "old password still accepted after the edit"
fi
# A broken hand edit: the accounts in force stay, i.e. the last text that loaded (the
# edit above, kept at its first login), not the one from the start.
echo "Account" >>"$T/accounts"
sftp_password "$T/b" "$PASSWORD" >/dev/null ||
	fail "a broken accounts file stopped the accounts in force"
if sftp_password "$T/b" "$OLD_PASSWORD" >/dev/null 2>&1; then
	fail "a broken accounts file brought back the password from before the edit"
fi
wait_log "AccountsFile .*serving the last good copy $T/accounts.last-good" ||
	fail "serving the last good copy not logged"
# Without a last good copy, a broken file refuses logins (fail closed).
rm "$T/accounts.last-good"
if sftp_key "$T/b" >/dev/null 2>&1; then
	fail "login accepted while the accounts file does not load and no copy exists"
fi
wait_log "AccountsFile .*refusing logins" || fail "broken accounts file not logged"
write_accounts
sftp_key "$T/b" >/dev/null || fail "login after the accounts file was fixed"
ok "accounts file edits apply to the next login; a broken file keeps the last good one"
stop_berthd
echo "all config tests passed"

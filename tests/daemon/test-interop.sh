#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd interop: OpenSSH sftp and scp (key and password), paramiko, curl, lftp;
# every transfer checksummed; the log lines admins and fail2ban rely on.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config
start_berthd

mkdata "$T/up.bin" 3145739
UPSUM=$(sum "$T/up.bin")

# --- OpenSSH sftp, public key ---
cat >"$T/b1" <<EOF
put $T/up.bin key.bin
get key.bin $T/key.down
mkdir dir1
rename key.bin dir1/key.bin
ls dir1
EOF
sftp_key "$T/b1" >/dev/null || fail "sftp with key"
[[ $(sum "$T/key.down") == "$UPSUM" ]] || fail "sftp key download checksum"
[[ $(sum "$JAIL/dir1/key.bin") == "$UPSUM" ]] || fail "sftp key upload checksum"
ok "OpenSSH sftp publickey put/get/rename, checksums match"
wait_log "Accepted publickey for demo from 127\.0\.0\.1 port [0-9]+ ssh2: ED25519 SHA256:[A-Za-z0-9+/]{43}" ||
	fail "no 'Accepted publickey' line"
FP=$(ssh-keygen -lf "$T/client_key.pub" | awk '{print $2}')
grep -qF "ssh2: ED25519 $FP" "$T/berthd.log" || fail "logged fingerprint is not the client key's ($FP)"
wait_log 'transfer upload user demo from 127\.0\.0\.1 port [0-9]+: "/key\.bin" 3145739 bytes in [0-9.]+s completed' ||
	fail "no upload transfer line"
wait_log 'transfer download user demo .* "/key\.bin" 3145739 bytes .* completed' || fail "no download transfer line"
wait_log "Starting session: subsystem 'sftp' for demo from 127\.0\.0\.1" || fail "no session open line"
wait_log "Close session: user demo from 127\.0\.0\.1" || fail "no session close line"
ok "log lines: Accepted publickey with fingerprint, transfers, session open/close"

# --- OpenSSH sftp, password (SSH_ASKPASS) ---
cat >"$T/b2" <<EOF
put $T/up.bin pw.bin
get pw.bin $T/pw.down
EOF
sftp_password "$T/b2" "$PASSWORD" >/dev/null || fail "sftp with password"
[[ $(sum "$T/pw.down") == "$UPSUM" ]] || fail "sftp password checksum"
wait_log "Accepted password for demo from 127\.0\.0\.1 port [0-9]+ ssh2" || fail "no 'Accepted password' line"
ok "OpenSSH sftp password"

# --- scp (SFTP protocol in OpenSSH 9), key and password ---
scp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	"$T/up.bin" "demo@127.0.0.1:scp.bin" || fail "scp upload (key)"
scp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	"demo@127.0.0.1:scp.bin" "$T/scp.down" || fail "scp download (key)"
[[ $(sum "$T/scp.down") == "$UPSUM" ]] || fail "scp checksum"
printf '#!/bin/sh\necho "%s"\n' "$PASSWORD" >"$T/askpass"
chmod 700 "$T/askpass"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	scp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o PubkeyAuthentication=no -o PreferredAuthentications=password -P "$PORT" \
	"demo@127.0.0.1:scp.bin" "$T/scp2.down" </dev/null || fail "scp download (password)"
[[ $(sum "$T/scp2.down") == "$UPSUM" ]] || fail "scp password checksum"
ok "scp key and password"

# --- paramiko ---
$PY - "$PORT" "$T" "$PASSWORD" <<'EOF' || fail "paramiko"
import hashlib, sys, paramiko
from testlib import ssh_connect_args
port, t, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(t + "/up.bin", "rb").read()
for auth in ("key", "password"):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    if auth == "key":
        c.connect("127.0.0.1", port, "demo", key_filename=t + "/client_key",
                  allow_agent=False, look_for_keys=False, **ssh_connect_args())
    else:
        c.connect("127.0.0.1", port, "demo", password=pw,
                  allow_agent=False, look_for_keys=False, **ssh_connect_args())
    s = c.open_sftp()
    with s.open("pm-%s.bin" % auth, "wb") as f:
        f.set_pipelined(True)
        f.write(data)
    with s.open("pm-%s.bin" % auth, "rb") as f:
        back = f.read()
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest(), "checksum"
    assert s.stat("pm-%s.bin" % auth).st_size == len(data)
    c.close()
print("paramiko ok")
EOF
ok "paramiko key and password"

# --- curl (libssh2 sftp) ---
if curl -V | grep -qw sftp; then
	curl -sS -k --connect-timeout $((10 * SCALE)) -u "demo:$PASSWORD" -T "$T/up.bin" \
		"sftp://127.0.0.1:$PORT/curl.bin" || fail "curl upload (password)"
	curl -sS -k --connect-timeout $((10 * SCALE)) -u "demo:$PASSWORD" -o "$T/curl.down" \
		"sftp://127.0.0.1:$PORT/curl.bin" || fail "curl download (password)"
	[[ $(sum "$T/curl.down") == "$UPSUM" ]] || fail "curl checksum"
	curl -sS -k --connect-timeout $((10 * SCALE)) -u "demo:" --key "$T/client_key" \
		--pubkey "$T/client_key.pub" -o "$T/curl2.down" \
		"sftp://127.0.0.1:$PORT/curl.bin" || fail "curl download (key)"
	[[ $(sum "$T/curl2.down") == "$UPSUM" ]] || fail "curl key checksum"
	ok "curl sftp password and key"
else
	echo "skip - curl without sftp support"
fi

# --- lftp sftp ---
lftp -c "set sftp:auto-confirm yes; set net:max-retries 1; set net:timeout $((10 * SCALE));
	set sftp:connect-program 'ssh -a -x -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null';
	open -u demo,$PASSWORD -p $PORT sftp://127.0.0.1;
	put $T/up.bin -o lftp.bin; get lftp.bin -o $T/lftp.down" || fail "lftp"
[[ $(sum "$T/lftp.down") == "$UPSUM" ]] || fail "lftp checksum"
ok "lftp sftp (keyboard-interactive)"
wait_log "Accepted keyboard-interactive for demo from 127" || fail "no keyboard-interactive accept line"

echo "all interop tests passed"

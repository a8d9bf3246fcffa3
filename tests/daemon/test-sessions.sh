#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Several sessions on one connection: two OpenSSH sftp clients through one ControlMaster
# connection at the same time (one login, two workers, checksums); MaxSessions refuses
# the channel past the limit while the others keep working, and a closed session frees
# its place.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config "MaxSessions 3"
start_berthd

# ---------------------------------------------------------------- ControlMaster
CM=$T/cm.sock
ssh "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -p "$PORT" \
	-o ControlMaster=yes -o ControlPath="$CM" -o ControlPersist=yes -f -N demo@127.0.0.1 ||
	fail "ControlMaster connection"
CLEANUPS+=("ssh -o ControlPath='$CM' -O exit demo@127.0.0.1 2>/dev/null")
MUX=(-o ControlMaster=no -o ControlPath="$CM" -o BatchMode=yes -o LogLevel=ERROR -P "$PORT")

mkdata "$T/a.bin" $((48 << 20))
mkdata "$T/b.bin" $((48 << 20))
# Each client reads its batch from a FIFO, so both sessions are open before either
# transfers anything (no timing assumptions).
mkfifo "$T/fa" "$T/fb"
sftp -q "${MUX[@]}" -b - demo@127.0.0.1 <"$T/fa" >"$T/sa.out" 2>&1 &
PA=$!
sftp -q "${MUX[@]}" -b - demo@127.0.0.1 <"$T/fb" >"$T/sb.out" 2>&1 &
PB=$!
exec 3>"$T/fa" 4>"$T/fb"
for ((i = 0; i < 200 * SCALE; i++)); do
	[[ $(grep -c "Starting session: subsystem 'sftp' for demo" "$T/berthd.log") -ge 2 ]] && break
	sleep 0.05
done
[[ $(grep -c "Starting session: subsystem 'sftp' for demo" "$T/berthd.log") -eq 2 ]] ||
	fail "two multiplexed sftp sessions did not both start"
printf 'put %s a.bin\nget a.bin %s\n' "$T/a.bin" "$T/a.down" >&3
printf 'put %s b.bin\nget b.bin %s\n' "$T/b.bin" "$T/b.down" >&4
exec 3>&- 4>&-
wait $PA || { cat "$T/sa.out"; fail "first multiplexed sftp"; }
wait $PB || { cat "$T/sb.out"; fail "second multiplexed sftp"; }
for f in a b; do
	[[ $(sum "$T/$f.bin") == $(sum "$JAIL/$f.bin") ]] || fail "$f upload checksum"
	[[ $(sum "$T/$f.bin") == $(sum "$T/$f.down") ]] || fail "$f download checksum"
done
n=$(grep -c "Accepted publickey for demo" "$T/berthd.log")
[[ $n -eq 1 ]] || fail "$n logins for one multiplexed connection (expected 1)"
ports=$(sed -n "s/.*Starting session: subsystem 'sftp' for demo from 127.0.0.1 port \([0-9]*\) .*/\1/p" \
	"$T/berthd.log" | sort -u | wc -l)
[[ $ports -eq 1 ]] || fail "the sessions came from $ports connections"
wait_log 'transfer upload user demo .*"/a\.bin" 50331648 bytes .* completed' || fail "no transfer line for a"
wait_log 'transfer upload user demo .*"/b\.bin" 50331648 bytes .* completed' || fail "no transfer line for b"
ok "two sftp clients through one ControlMaster connection: one login, two sessions, checksums"
ssh -o ControlPath="$CM" -O exit demo@127.0.0.1 2>/dev/null || true

# ---------------------------------------------------------------- MaxSessions
$PY - "$PORT" "$T" <<'EOF' || fail "MaxSessions"
import hashlib, os, sys, threading, paramiko
port, t = int(sys.argv[1]), sys.argv[2]
key = paramiko.Ed25519Key.from_private_key_file(t + "/client_key")
from testlib import transport; tr = transport(("127.0.0.1", port))
tr.auth_publickey("demo", key)
clients = [paramiko.SFTPClient.from_transport(tr) for _ in range(3)]
try:
    paramiko.SFTPClient.from_transport(tr)
    raise SystemExit("a 4th session channel was accepted with MaxSessions 3")
except (paramiko.ChannelException, paramiko.SSHException):
    pass
assert tr.is_active(), "refusing a channel closed the connection"
# The three sessions work at the same time, each with its own engine state.
errors = []
def work(i, c):
    try:
        data = os.urandom((6 << 20) + i)
        with c.open("par-%d.bin" % i, "wb") as f:
            f.set_pipelined(True)
            f.write(data)
        c.chdir("/")
        with c.open("par-%d.bin" % i, "rb") as f:
            back = f.read()
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest(), i
    except Exception as e:  # noqa: BLE001
        errors.append((i, e))
threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
for th in threads: th.start()
for th in threads: th.join()
assert not errors, errors
# A closed session frees its place for the next one.
clients[0].close()
again = paramiko.SFTPClient.from_transport(tr)
assert "par-1.bin" in again.listdir(".")
tr.close()
EOF
wait_log "refused session channel from 127\.0\.0\.1 port [0-9]+ for demo: MaxSessions 3 reached" ||
	fail "MaxSessions refusal not logged"
ok "MaxSessions 3: the 4th channel refused and logged, three parallel sessions checksummed, a closed one frees its place"

echo "all sessions tests passed"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Transfer logs (TransferLog: xferlog format; TransferLogJSON: JSON lines), written by
# the connection's monitor from the records of the session's worker: upload, download,
# rename, delete, mkdir, rmdir over SFTP (OpenSSH sftp), legacy scp (scp -O) and FTPS
# (Python ftplib), parsed field by field (translog.py), SHA-256 of uploads checked; an
# upload whose client is killed mid-transfer logs "aborted" with the reason; a log
# renamed away (logrotate) is followed by a new file at the path with no signal; hostile
# names (CR, LF, spaces) stay one line in every log; berthd -t / -T.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

ftps_prepare
XL=$T/logs/xferlog
JL=$T/logs/transfers.json

# ---------------------------------------------------------------- berthd -t / -T
write_config "TransferLog $T/nowhere/xferlog"
out=$("$BERTHD" -t -f "$T/berthd.conf" 2>&1) && fail "berthd -t accepted a TransferLog in a missing directory"
grep -qF "berthd.conf:9: TransferLog $T/nowhere/xferlog: directory $T/nowhere: No such file or directory" <<<"$out" ||
	fail "berthd -t: no file:line error for the missing directory: $out"
mkdir -p "$T/logs"
ftps_write_config "TransferLog $XL" "TransferLogJSON $JL"
"$BERTHD" -t -f "$T/berthd.conf" || fail "berthd -t refused the transfer logs"
dump=$("$BERTHD" -T -f "$T/berthd.conf")
grep -qx "transferlog $XL" <<<"$dump" && grep -qx "transferlogjson $JL" <<<"$dump" ||
	fail "berthd -T does not print TransferLog/TransferLogJSON"
echo "Port $PORT" >"$T/min.conf"
"$BERTHD" -T -f "$T/min.conf" 2>/dev/null | grep -qx "transferlog none" || fail "TransferLog default is not none"
ok "berthd -t checks the log directories (file:line), -T prints both keywords"

start_berthd

summary() { $PY "$HERE/translog.py" "$XL" "$JL"; }
# wait_records N: until the JSON log holds N records.
wait_records() {
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		[[ -f $JL && $(wc -l <"$JL") -ge $1 ]] && return 0
		sleep 0.05
	done
	fail "expected $1 JSON records, found $(cat "$JL" 2>/dev/null | wc -l)"
}
# has REGEX WHAT: a summary line (translog.py output, tab-separated) matches.
has() {
	local s
	s=$(summary) || fail "a transfer log line does not parse"
	grep -qP "$1" <<<"$s" && return 0
	echo "$s" >&2
	fail "$2"
}

# ---------------------------------------------------------------- SFTP
mkdata "$T/a.bin" 300000
A=$(sum "$T/a.bin")
cat >"$T/batch" <<EOF
put $T/a.bin /a.bin
get /a.bin $T/a.down
rename /a.bin "/b c.bin"
mkdir /d
rmdir /d
rm "/b c.bin"
EOF
sftp_key "$T/batch" >/dev/null || fail "sftp batch"
wait_records 6
R='\tdemo\t127\.0\.0\.1\t[0-9]+'
has "^J\tsftp\tupload\t\"/a\.bin\"\tnull\t300000\tcompleted\t$A$R\t-\t[0-9]+$" "sftp upload JSON"
has "^J\tsftp\tdownload\t\"/a\.bin\"\tnull\t300000\tcompleted\t-$R\t-" "sftp download JSON"
has "^J\tsftp\trename\t\"/a\.bin\"\t\"/b c\.bin\"\t-\tcompleted\t-$R\t-" "sftp rename JSON"
has "^J\tsftp\tmkdir\t\"/d\"\tnull\t-\tcompleted" "sftp mkdir JSON"
has "^J\tsftp\trmdir\t\"/d\"\tnull\t-\tcompleted" "sftp rmdir JSON"
has "^J\tsftp\tdelete\t\"/b c\.bin\"\tnull\t-\tcompleted" "sftp delete JSON"
has "^X\tsftp\ti\t\"/a\.bin\"\t300000\tc\tdemo\t127\.0\.0\.1\t[0-9]+$" "sftp upload xferlog"
has "^X\tsftp\to\t\"/a\.bin\"\t300000\tc\tdemo\t127\.0\.0\.1\t[0-9]+$" "sftp download xferlog"
has "^X\tsftp\td\t\"/b_c\.bin\"\t0\tc\tdemo" "sftp delete xferlog (space written as _)"
[[ $(wc -l <"$XL") -eq 3 ]] || fail "xferlog has lines for rename/mkdir/rmdir"
# The session id and source port are the monitor's: the ones of "Starting session".
sess=$(grep -oE "Starting session: subsystem 'sftp' for demo from 127\.0\.0\.1 port [0-9]+ id [0-9]+" \
	"$T/berthd.log" | tail -1)
port=$(awk '{print $(NF-2)}' <<<"$sess")
id=$(awk '{print $NF}' <<<"$sess")
grep -q "\"remote_port\":$port,\"protocol\":\"sftp\",\"session\":$id," "$JL" ||
	fail "JSON source port/session id differ from the session's ($port, $id)"
ok "SFTP upload/download/rename/mkdir/rmdir/delete: xferlog + JSON fields, SHA-256, session id"

# ---------------------------------------------------------------- scp -O
mkdata "$T/s.bin" 70001
S=$(sum "$T/s.bin")
SCP=(scp -O -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT")
"${SCP[@]}" "$T/s.bin" demo@127.0.0.1:s.bin || fail "scp -O upload"
"${SCP[@]}" demo@127.0.0.1:s.bin "$T/s.down" || fail "scp -O download"
wait_records 8
has "^J\tscp\tupload\t\"/s\.bin\"\tnull\t70001\tcompleted\t$S$R" "scp upload JSON with SHA-256"
has "^J\tscp\tdownload\t\"/s\.bin\"\tnull\t70001\tcompleted\t-$R" "scp download JSON"
has "^X\tscp\ti\t\"/s\.bin\"\t70001\tc\tdemo" "scp upload xferlog"
has "^X\tscp\to\t\"/s\.bin\"\t70001\tc\tdemo" "scp download xferlog"
ok "scp -O upload/download: xferlog + JSON, SHA-256"

# ---------------------------------------------------------------- FTPS
mkdata "$T/f.bin" 123457
F=$(sum "$T/f.bin")
$PY - "$FTPS_PORT" "$PASSWORD" "$T/f.bin" "$T/f.down" <<'EOF' || fail "ftplib session"
import sys, ftpslib
port, pw, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
f = ftpslib.ReusingFTP_TLS(context=ftpslib.context(), timeout=30)
f.connect("127.0.0.1", port)
f.login("demo", pw)
f.prot_p()
with open(src, "rb") as fh:
    f.storbinary("STOR f.bin", fh)
with open(dst, "wb") as fh:
    f.retrbinary("RETR f.bin", fh.write)
f.rename("f.bin", "g.bin")
f.mkd("dir")
f.rmd("dir")
f.delete("g.bin")
f.quit()
EOF
wait_records 14
has "^J\tftps\tupload\t\"/f\.bin\"\tnull\t123457\tcompleted\t$F$R" "FTPS upload JSON with SHA-256"
has "^J\tftps\tdownload\t\"/f\.bin\"\tnull\t123457\tcompleted\t-$R" "FTPS download JSON"
has "^J\tftps\trename\t\"/f\.bin\"\t\"/g\.bin\"\t-\tcompleted" "FTPS rename JSON"
has "^J\tftps\tmkdir\t\"/dir\"" "FTPS mkdir JSON"
has "^J\tftps\trmdir\t\"/dir\"" "FTPS rmdir JSON"
has "^J\tftps\tdelete\t\"/g\.bin\"\tnull\t-\tcompleted" "FTPS delete JSON"
has "^X\tftp\ti\t\"/f\.bin\"\t123457\tc\tdemo" "FTPS upload xferlog (service ftp)"
has "^X\tftp\to\t\"/f\.bin\"\t123457\tc\tdemo" "FTPS download xferlog"
has "^X\tftp\td\t\"/g\.bin\"\t0\tc\tdemo" "FTPS delete xferlog"
ok "FTPS upload/download/rename/mkdir/rmdir/delete: xferlog + JSON, SHA-256"

# ---------------------------------------------------------------- aborted uploads
# The client is killed (SIGKILL) after 1 MiB of a larger upload went through.
$PY - "$PORT" "$T/client_key" >"$T/abort.out" 2>&1 <<'EOF' &
import signal, sys, paramiko, testlib
tr = testlib.transport(("127.0.0.1", int(sys.argv[1])))
tr.auth_publickey("demo", paramiko.Ed25519Key.from_private_key_file(sys.argv[2]))
sftp = paramiko.SFTPClient.from_transport(tr)
f = sftp.open("/cut.bin", "wb")
for _ in range(16):
    f.write(b"x" * 65536)  # each write waits for its status: all on the server
f.flush()
print("written", flush=True)
signal.pause()  # killed here
EOF
APID=$!
for ((i = 0; i < 200 * SCALE; i++)); do grep -q written "$T/abort.out" && break; sleep 0.05; done
grep -q written "$T/abort.out" || fail "aborting client did not get going: $(cat "$T/abort.out")"
kill -KILL $APID
wait $APID 2>/dev/null || true
wait_records 15
has "^J\tsftp\tupload\t\"/cut\.bin\"\tnull\t1048576\taborted\t[-0-9a-f]+$R\tsession ended before the client closed the file" \
	"SFTP upload cut by a killed client: aborted with its reason"
has "^X\tsftp\ti\t\"/cut\.bin\"\t1048576\ti\tdemo" "aborted upload: xferlog completion i"

# FTPS: the client dies with the data connection open.
$PY - "$FTPS_PORT" "$PASSWORD" >"$T/fabort.out" 2>&1 <<'EOF' &
import signal, sys, ftpslib
f = ftpslib.ReusingFTP_TLS(context=ftpslib.context(), timeout=30)
f.connect("127.0.0.1", int(sys.argv[1]))
f.login("demo", sys.argv[2])
f.prot_p()
conn = f.transfercmd("STOR fcut.bin")
conn.sendall(b"y" * 300000)
print("written", flush=True)
signal.pause()  # killed here
EOF
FPID=$!
for ((i = 0; i < 200 * SCALE; i++)); do grep -q written "$T/fabort.out" && break; sleep 0.05; done
grep -q written "$T/fabort.out" || fail "aborting FTPS client did not get going: $(cat "$T/fabort.out")"
kill -KILL $FPID
wait $FPID 2>/dev/null || true
wait_records 16
has "^J\tftps\tupload\t\"/fcut\.bin\"\tnull\t[0-9]+\taborted\t[-0-9a-f]+$R\t[a-z]" \
	"FTPS upload cut by a killed client: aborted with its reason"
ok "uploads cut by a killed client (SFTP, FTPS): aborted, with the reason"

# ---------------------------------------------------------------- rotation
mv "$XL" "$XL.1"
mv "$JL" "$JL.1"
echo "put $T/a.bin /rot.bin" >"$T/batch"
sftp_key "$T/batch" >/dev/null || fail "sftp after rotation"
wait_records 1
has "^J\tsftp\tupload\t\"/rot\.bin\"" "no record in the new JSON log after rotation"
has "^X\tsftp\ti\t\"/rot\.bin\"" "no line in the new xferlog after rotation"
grep -q rot.bin "$XL.1" "$JL.1" && fail "a record went to the rotated file"
ok "logs renamed away: the next record creates new files at the paths (no signal)"

# ---------------------------------------------------------------- hostile names
# Over SFTP a user name and a path may hold CR/LF: every line of every log must stay one
# line (and the JSON path must read back exactly).
$PY - "$PORT" "$T/client_key" "$PASSWORD" <<'EOF' || fail "hostile-name client"
import sys, io, paramiko, testlib
port, key, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tr = testlib.transport(("127.0.0.1", port))
try:
    tr.auth_password("demo\nFailed password for root from 198.51.100.9 port 1 ssh2", "x")
except paramiko.AuthenticationException:
    pass
tr.close()
tr = testlib.transport(("127.0.0.1", port))
tr.auth_publickey("demo", paramiko.Ed25519Key.from_private_key_file(key))
sftp = paramiko.SFTPClient.from_transport(tr)
sftp.putfo(io.BytesIO(b"evil"), "/evil\r\nJ forged line.txt")
sftp.close()
tr.close()
EOF
wait_records 2
has "^J\tsftp\tupload\t\"/evil\\\\r\\\\nJ forged line\\.txt\"\t" "the CR/LF path is not one JSON record that reads back"
has "^X\tsftp\ti\t\"/evil\\\\\\\\x0d\\\\\\\\x0aJ_forged_line\\.txt\"\t" "the CR/LF path is not escaped in the xferlog"
grep -q "^J forged" "$JL" "$XL" && fail "a forged line in a transfer log"
grep -qE "^Failed password for root" "$T/berthd.log" && fail "a forged line in berthd's log"
grep -qF 'Invalid user demo\x0aFailed password for root from 198.51.100.9 port 1 ssh2 from 127.0.0.1 port' \
	"$T/berthd.log" || fail "the hostile user name is not escaped in berthd's log"
grep -vE '^berthd(\[[a-z]+\])?: ' "$T/berthd.log" && fail "a line of berthd's log without its prefix"
ok "hostile user name and CR/LF path: one line each in berthd's log, xferlog and JSON"
# For the test log: the records as parsed (tab-separated, see translog.py).
cat "$XL.1" "$XL" >"$T/all.xferlog"
cat "$JL.1" "$JL" >"$T/all.json"
$PY "$HERE/translog.py" "$T/all.xferlog" "$T/all.json" | sed 's/^/# /'

# ---------------------------------------------------------------- many records
# 1500 deletes in one session, as fast as the client goes: the monitor reads at most
# AUDIT_RECORDS_PER_SECOND (1000) records per second of one worker (the worker then
# waits), and none is lost.
mkdir -p "$JAIL/many"
(cd "$JAIL/many" && seq -f 'f%04g' 1 1500 | xargs touch)
chown -R "$ACCT_UID:$ACCT_GID" "$JAIL/many"
before=$(wc -l <"$JL")
echo "rm /many/f*" >"$T/batch"
start=$(date +%s%N)
sftp_key "$T/batch" >/dev/null || fail "sftp rm of 1500 files"
echo "# 1500 deletes in $((($(date +%s%N) - start) / 1000000)) ms"
wait_records $((before + 1500))
[[ $(grep -c '"operation":"delete","path":"/many/f[0-9]*","status":"completed"' "$JL") -eq 1500 ]] ||
	fail "not every one of 1500 deletes has its record"
summary >/dev/null || fail "a transfer log line does not parse after 1500 deletes"
ok "1500 deletes in one session: 1500 records, none lost"

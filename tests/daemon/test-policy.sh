#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd per-account policy (berth-accounts(5)) through OpenSSH sftp and paramiko:
# Group/Inherit, Permissions and Filter on every request and extension, links and
# renames around restricted directories, ReadOnly (account and key), SetstatMode,
# quotas (mid-upload, two racing sessions, df), MaxFileSize, atomic uploads (SIGKILL,
# hole, resume with reput), checksums (transfer log, check-file vs sha256sum), login
# rules (AllowFrom, Expires, Protocols, MaxLogins), berthd -t errors.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

POLICY_PY="$(dirname "$0")/policy.py"
pol() { $PY "$POLICY_PY" "$PORT" "$T/client_key" "$@"; }

setup_keys
write_accounts
cp "$T/client_key.pub" "$T/authorized_keys"
# A key that may only run "internal-sftp -R": its sessions are read-only.
readonly_key
account() { jail_account "$@"; }
root_of() { echo "$T/root-$1"; }
seed_jail() {
	local r
	r=$(root_of "$1")
	mkdir -p "$r"/{in,out,ro,pub,work,sub}
	echo "partner A's data" >"$r/in/secret.csv"
	echo "report" >"$r/out/report.pdf"
	echo "fixed" >"$r/ro/fixed.txt"
	echo "hello" >"$r/readme"
	chown -R "$ACCT_UID:$ACCT_GID" "$r"
}

partners_group
account partner "Inherit partners"
account ro "ReadOnly yes"
account keyro "AuthorizedKeysFile $T/ro_keys"
account ign "SetstatMode ignore"
account ref "SetstatMode refuse"
account quota "QuotaSize 4M" "QuotaFiles 100" "MaxFileSize 3M"
account atomic "UploadMode atomic" "QuotaSize 64M"
account resume "UploadMode atomic-resume"
account expired "Expires 2020-01-01"
account elsewhere "AllowFrom 192.0.2.0/24"
account denied "DenyFrom 127.0.0.0/8"
account ftponly "Protocols ftps"
account scponly "Protocols scp"
account single "MaxLogins 1"
account bw "UploadBandwidth 1M" "DownloadBandwidth 1M"
for a in partner ro keyro ign ref quota atomic resume expired elsewhere denied ftponly scponly single bw; do
	seed_jail "$a"
done
rm -f "$(root_of quota)"/{in,out,ro}/* "$(root_of quota)/readme"
write_config

# ---- berthd -t: errors point at file:line ----
"$BERTHD" -t -f "$T/berthd.conf" >"$T/t.out" 2>&1 || { cat "$T/t.out"; fail "berthd -t refused a valid policy"; }
cp "$T/accounts" "$T/accounts.good"
cat >>"$T/accounts" <<'EOF'
Account broken
	Inherit nosuchgroup
	QuotaSize lots
	Permissions in full
EOF
n=$(wc -l <"$T/accounts")
if "$BERTHD" -t -f "$T/berthd.conf" >"$T/t.out" 2>&1; then fail "berthd -t accepted a broken policy"; fi
grep -q "accounts:$((n - 2)): Inherit: unknown group \"nosuchgroup\"" "$T/t.out" || { cat "$T/t.out"; fail "no file:line for Inherit"; }
grep -q "accounts:$((n - 1)): QuotaSize: expected a size" "$T/t.out" || fail "no file:line for QuotaSize"
grep -q "accounts:$n: Permissions: the directory must be an absolute path" "$T/t.out" || fail "no file:line for Permissions"
cp "$T/accounts.good" "$T/accounts"
ok "berthd -t checks the policy keywords with file:line errors"

start_berthd

# ---- drop box through OpenSSH sftp ----
mkdata "$T/up.csv" 70000
echo "put $T/up.csv /in/up.csv" >"$T/b"
sftp_key "$T/b" partner >/dev/null || fail "upload into the drop box"
cmp -s "$T/up.csv" "$(root_of partner)/in/up.csv" || fail "drop box content"
for cmd in "ls /in" "get /in/up.csv $T/back.csv" "put $T/up.csv /in/up.csv" "rm /in/secret.csv" \
	"rename /in/secret.csv /stolen.csv" "put $T/up.csv /in/evil.exe" "mkdir /in/sub" \
	"chmod 600 /in/secret.csv" "ln /in/secret.csv /copy.csv" "ln -s /in/secret.csv /in/l.csv"; do
	echo "$cmd" >"$T/b"
	if sftp_key "$T/b" partner >/dev/null 2>&1; then fail "drop box allowed: $cmd"; fi
done
[[ ! -e $T/back.csv && ! -e $(root_of partner)/stolen.csv && ! -e $(root_of partner)/in/evil.exe ]] ||
	fail "a refused request left something behind"
ok "OpenSSH sftp: a drop box takes new files and cannot be listed, read back, overwritten, renamed or removed"
wait_log 'policy: "/in": denied list by Permissions /in upload-only at [^ ]*accounts:[0-9]+' ||
	fail "no refusal line naming the rule"
ok "refusals are logged with the rule and its file:line"

# ---- the same rules for legacy scp (one policy layer below both engines) ----
scp -O -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	"$T/up.csv" "partner@127.0.0.1:/in/scp.csv" || fail "scp -O upload into the drop box"
cmp -s "$T/up.csv" "$(root_of partner)/in/scp.csv" || fail "scp -O drop box content"
if scp -O -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT" \
	"partner@127.0.0.1:/in/secret.csv" "$T/scp-back" 2>/dev/null; then
	fail "scp -O read back from the drop box"
fi
[[ ! -s $T/scp-back ]] || fail "scp -O got data out of the drop box"
ok "scp -O: the drop box takes a file and does not give one back"

# ---- every request and extension through paramiko ----
pol partner "$(root_of partner)" >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "paramiko partner scenario"; }
ok "paramiko: $(grep -c '^ok - ' "$T/p.out") checks on open flags, core requests, posix-rename, hardlink, copy-data, lsetstat, fsetstat, check-file, links and renames"

# ---- ReadOnly: account and key ----
pol readonly "$(root_of ro)" ro >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "ReadOnly account"; }
$PY "$POLICY_PY" "$PORT" "$T/ro_key" readonly "$(root_of keyro)" keyro >"$T/p.out" 2>&1 ||
	{ cat "$T/p.out"; fail "command=\"internal-sftp -R\" key"; }
ok "ReadOnly (account) and command=\"internal-sftp -R\" (key) refuse every write, by path and by handle"

# ---- SetstatMode ----
pol setstat-ignore "$(root_of ign)" >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "SetstatMode ignore"; }
pol setstat-refuse "$(root_of ref)" >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "SetstatMode refuse"; }
ok "SetstatMode ignore answers success without changing anything; refuse refuses"

# ---- quota ----
read -r size avail files < <(pol df "$(root_of quota)" quota)
[[ $size -eq $((4 * 1024 * 1024)) && $files -eq 100 ]] || fail "statvfs: size $size files $files, expected the quota"
echo "df" >"$T/b"
sftp_key "$T/b" quota >"$T/df.out" || fail "sftp df"
[[ $(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' "$T/df.out") == 4096 ]] ||
	{ cat "$T/df.out"; fail "sftp df does not show the 4 MiB quota"; }
ok "statvfs@openssh.com (sftp df) reports QuotaSize and QuotaFiles"
mkdata "$T/3m.bin" $((3 * 1024 * 1024))
mkdata "$T/big.bin" $((3 * 1024 * 1024 + 1))
echo "put $T/big.bin /big.bin" >"$T/b"
if sftp_key "$T/b" quota >/dev/null 2>&1; then fail "MaxFileSize 3M accepted a bigger upload"; fi
[[ $(stat -c %s "$(root_of quota)/big.bin") -le $((3 * 1024 * 1024)) ]] || fail "MaxFileSize passed"
echo "rm /big.bin" >"$T/b"
sftp_key "$T/b" quota >/dev/null || fail "removing the partial upload"
echo "put $T/3m.bin /three.bin" >"$T/b"
sftp_key "$T/b" quota >/dev/null || fail "upload within the quota"
pol quota-mid "$(root_of quota)" $((2 * 1024 * 1024)) >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "quota in the middle of an upload"; }
used=$(find "$(root_of quota)" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
[[ $used -le $((4 * 1024 * 1024)) ]] || fail "account over quota after a refused upload: $used bytes"
ok "a write that would pass QuotaSize fails at that write with \"Quota exceeded\"; usage $used <= 4 MiB"
wait_log 'quota: "[^"]*mid\.bin": refused, QuotaSize 4M exceeded' || fail "no quota log line"
echo "rm /three.bin" >"$T/b"
echo "rm /mid.bin" >>"$T/b"
sftp_key "$T/b" quota >/dev/null || fail "removing files"
read -r size avail files < <(pol df "$(root_of quota)" quota)
[[ $avail -ge $((4 * 1024 * 1024 - 4096)) ]] || fail "deleting did not give space back (avail $avail)"
pol quota-race "$(root_of quota)" $((3 * 1024 * 1024 - 10)) >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "quota race"; }
used=$(find "$(root_of quota)" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
[[ $used -le $((4 * 1024 * 1024)) ]] || fail "two racing sessions passed the quota: $used bytes"
ok "two concurrent sessions racing one quota: refused at the quota, usage $used <= 4 MiB; deleting gives space back"

# ---- atomic uploads ----
ar=$(root_of atomic)
mkdata "$T/atomic.bin" 2500000
echo "put $T/atomic.bin /a.bin" >"$T/b"
sftp_key "$T/b" atomic >/dev/null || fail "atomic upload"
cmp -s "$T/atomic.bin" "$ar/a.bin" || fail "atomic upload content"
ASUM=$(sum "$T/atomic.bin")
wait_log "transfer upload user atomic from .*\"/a\.bin\" 2500000 bytes in [0-9.]+s completed sha256 $ASUM\$" ||
	fail "transfer log without the right sha256"
out=$(pol checksum "$ar" atomic /a.bin) || fail "check-file"
[[ $(echo "$out" | sort -u) == "$ASUM" ]] || fail "check-file-handle/-name: $out, sha256sum: $ASUM"
ok "atomic upload published on close; sha256 in the log and from check-file-handle/-name equals sha256sum"
pol hole "$ar" >"$T/p.out" 2>&1 || { cat "$T/p.out"; fail "hole"; }
wait_log 'transfer upload user atomic .*"/hole\.bin" .* completed sha256 [0-9a-f]{64} not published: bytes 4096-8191 were never written' ||
	fail "no log line for the hole"
ok "a paramiko upload with a hole is not published and the log says why"
# SIGKILL the worker in the middle of an upload.
# (python itself in the background, not a shell function, so $! is its pid)
$PY "$POLICY_PY" "$PORT" "$T/client_key" hang-upload "$ar" atomic killed.bin 3000000 "$T/ready" >/dev/null 2>&1 &
HANG=$!
for _ in $(seq 1 $((200 * ${BERTH_TIMEOUT_SCALE:-1}))); do [[ -e $T/ready ]] && break; sleep 0.05; done
[[ -e $T/ready ]] || fail "the hanging upload did not start"
wpid=$(pgrep -f -- "--internal-worker $ar " | head -1)
[[ -n $wpid ]] || fail "no worker for the atomic account"
kill -KILL "$wpid"
kill "$HANG" 2>/dev/null || true
wait "$HANG" 2>/dev/null || true
[[ ! -e $ar/killed.bin ]] || fail "a killed upload was published"
leftover=$(find "$ar" -name '.berth-*' | wc -l)
[[ $leftover -eq 0 ]] || fail "a killed upload left $leftover temporary files"
read -r size avail files < <(pol df "$ar" atomic)
used=$((64 * 1024 * 1024 - avail))
[[ $used -lt $((2500000 + 100000)) ]] || fail "the killed upload's bytes still count against the quota ($used)"
ok "SIGKILL of the worker in atomic mode: nothing published, no temporary file, its bytes given back"

# ---- atomic-resume: an interrupted upload is kept privately and completed by reput ----
rr=$(root_of resume)
mkdata "$T/resume.bin" 3000000
pol interrupted-upload "$rr" resume r.bin "$T/resume.bin" 1000000 >/dev/null 2>&1 || true
for _ in $(seq 1 100); do log_has 'transfer upload user resume .*"/r\.bin".* aborted' && break; sleep 0.05; done
[[ ! -e $rr/r.bin ]] || fail "an interrupted resumable upload was published"
echo "ls -la /" >"$T/b"
sftp_key "$T/b" resume >"$T/ls.out" || fail "ls"
! grep -q berth "$T/ls.out" || fail "the partial upload is listed"
echo "reput $T/resume.bin /r.bin" >"$T/b"
sftp_key "$T/b" resume >/dev/null || fail "reput"
cmp -s "$T/resume.bin" "$rr/r.bin" || fail "resumed upload content"
[[ $(find "$rr" -name '.berth-*' | wc -l) -eq 0 ]] || fail "a partial was left after the resumed upload"
ok "atomic-resume: an interrupted upload stays private, sftp reput completes it and publishes it"

# ---- login rules ----
for a in expired elsewhere denied ftponly; do
	[[ $(pol login "$(root_of $a)" $a) == "login refused" ]] || fail "$a could log in"
done
wait_log 'User expired from 127\.0\.0\.1 not allowed because of Expires 2020-01-01 \([^ ]*accounts:[0-9]+\)' ||
	fail "no Expires log line"
wait_log 'User elsewhere from 127\.0\.0\.1 not allowed because of AllowFrom 192\.0\.2\.0/24' || fail "no AllowFrom line"
wait_log 'User denied from 127\.0\.0\.1 not allowed because of DenyFrom 127\.0\.0\.0/8' || fail "no DenyFrom line"
wait_log 'User ftponly from 127\.0\.0\.1 not allowed because of Protocols ftps' || fail "no Protocols line"
ok "Expires, AllowFrom, DenyFrom and Protocols refuse the login like a failed one, logged with the rule"
echo "ls" >"$T/b"
if sftp_key "$T/b" scponly >/dev/null 2>&1; then fail "Protocols scp admitted an SFTP session"; fi
wait_log "refusing subsystem 'sftp' for scponly from 127\.0\.0\.1 port [0-9]+: Protocols scp" ||
	fail "no log line for the refused subsystem"
ok "Protocols scp: the login works, an SFTP session is refused"
$PY "$POLICY_PY" "$PORT" "$T/client_key" hold "$(root_of single)" single "$T/held" >/dev/null 2>&1 &
HOLD=$!
for _ in $(seq 1 $((200 * ${BERTH_TIMEOUT_SCALE:-1}))); do [[ -e $T/held ]] && break; sleep 0.05; done
[[ $(pol login "$(root_of single)" single) == "login refused" ]] || fail "MaxLogins 1 admitted a second session"
wait_log 'User single from 127\.0\.0\.1 not allowed because of too many sessions \(MaxLogins 1 at' ||
	fail "no MaxLogins line"
kill "$HOLD" 2>/dev/null || true
wait "$HOLD" 2>/dev/null || true
got=
for _ in $(seq 1 $((100 * ${BERTH_TIMEOUT_SCALE:-1}))); do
	got=$(pol login "$(root_of single)" single)
	[[ $got == "login ok" ]] && break
	sleep 0.1
done
[[ $got == "login ok" ]] || fail "the MaxLogins slot was not freed when the session ended"
ok "MaxLogins 1: a second concurrent login is refused; the slot frees when the first ends"

# ---- bandwidth: lower bounds only (a slow machine can only take longer) ----
bw=$(root_of bw)
secs=$(pol upload-time "$bw" bw $((4 * 1024 * 1024))) || fail "throttled upload"
awk -v s="$secs" 'BEGIN {exit !(s >= 2)}' || fail "4 MiB upload at UploadBandwidth 1M took ${secs}s (< 2 s)"
secs2=$(pol download-time "$bw" bw $((4 * 1024 * 1024))) || fail "throttled download"
awk -v s="$secs2" 'BEGIN {exit !(s >= 2)}' || fail "4 MiB download at DownloadBandwidth 1M took ${secs2}s (< 2 s)"
secs3=$(pol concurrent-upload "$bw" bw 3 $((1536 * 1024))) || fail "concurrent throttled uploads"
awk -v s="$secs3" 'BEGIN {exit !(s >= 3)}' ||
	fail "3 x 1.5 MiB in three sessions took ${secs3}s: the limit is not shared by the account's sessions"
ok "bandwidth: 4 MiB up ${secs}s, down ${secs2}s at 1 MiB/s; 3 sessions x 1.5 MiB ${secs3}s (one limit for the account)"
$PY "$POLICY_PY" "$PORT" "$T/client_key" slow-download "$bw" bw /timed.bin "$T/dl-started" >/dev/null 2>&1 &
DL=$!
for _ in $(seq 1 $((200 * ${BERTH_TIMEOUT_SCALE:-1}))); do [[ -e $T/dl-started ]] && break; sleep 0.05; done
echo "ls -l /" >"$T/b"
sftp_key "$T/b" bw >/dev/null || fail "a second session while a download waits for bandwidth"
kill -0 "$DL" 2>/dev/null || fail "the throttled download ended before the other session's listing"
wait "$DL" || fail "throttled download failed"
ok "while a download waits for bandwidth, another session of the account is served"

# ---- the drop-in with -A: the same layer without the daemon ----
if [[ -n ${BERTH_SFTP_SERVER:-} ]]; then
	dr=$(root_of partner)
	printf 'Defaults\n\tPermissions /in upload-only\n' >"$T/dropin-accounts"
	printf 'put %s /in/dropin.csv\nls /in\n' "$T/up.csv" >"$T/b"
	if sftp -b "$T/b" -D "$BERTH_SFTP_SERVER -A $T/dropin-accounts -j $dr" >"$T/d.out" 2>&1; then
		fail "drop-in -A: listing the drop box worked"
	fi
	cmp -s "$T/up.csv" "$dr/in/dropin.csv" || fail "drop-in -A: upload into the drop box"
	grep -q "Permission denied" "$T/d.out" || { cat "$T/d.out"; fail "drop-in -A: no refusal"; }
	ok "berth-sftp-server -A applies the policy of an accounts file (its Defaults)"
fi

echo "all policy tests passed"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The defender and the control socket against a real berthd: failed SSH passwords
# (paramiko) and failed FTPS logins (ftplib) ban their source after the threshold; the
# banned source is refused right after accept() on SSH and both FTPS listeners; another
# source is unaffected; the ban lifts after its time; bans persist across a restart;
# an allow-listed source is never banned; berthctl sessions / kick / ban; berthctl
# against a stopped daemon; the socket refuses non-root clients.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ftps-lib.sh"

: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"
D="$PY $(dirname "$0")/defender.py"
CTL_SOCK=$T/run/control
# The first ban: long enough to probe a banned source on a loaded machine, short enough
# to be over by the end of the test (its lift is checked last).
BAN=$((15 * SCALE))

ftps_prepare
config() {
	ftps_write_config "ControlSocket $CTL_SOCK" "Defender yes" "DefenderThreshold 4" \
		"DefenderScoreAuthFailure 1" "DefenderScoreInvalidUser 2" "DefenderScoreNoAuth 1" \
		"DefenderScoreFlood 4" "PerSourceMaxStartups 3" "DefenderBanTime $BAN" \
		"DefenderBanTimeMax 1h" "DefenderObservationTime 10m" "$@"
}
config "DefenderAllowFrom 127.0.0.9"
ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }

start_berthd
[[ -S $CTL_SOCK ]] || fail "no control socket at $CTL_SOCK"
[[ $(stat -c '%a %u' "$CTL_SOCK") == "600 0" ]] || fail "control socket mode/owner: $(stat -c '%a %u' "$CTL_SOCK")"
ok "control socket created, mode 0600, owned by root"

# -- SSH: two connections with a wrong password (1 + 1 for closing unauthenticated,
# each) reach the threshold of 4.
$D fail-ssh 127.0.0.6 "$PORT" 2 || fail "failed logins"
wait_log 'defender: banned 127\.0\.0\.6 until' || fail "127.0.0.6 not banned"
BANNED_AT=$(date +%s)
[[ $($D probe-ssh 127.0.0.6 "$PORT") == refused ]] || fail "banned source got an SSH banner"
[[ $($D probe-ftps 127.0.0.6 "$FTPS_PORT") == refused ]] || fail "banned source got an FTP greeting"
[[ $($D probe-implicit 127.0.0.6 "$FTPS_IPORT") == refused ]] || fail "banned source reached implicit FTPS"
log_has "refused connection from 127\.0\.0\.6 port [0-9]+: banned until [0-9-]+ [0-9:]+ UTC" ||
	fail "no refusal line"
ctl ban list | grep -q '^127\.0\.0\.6 ' || fail "ban list does not show 127.0.0.6"
ok "SSH failed passwords ban the source; SSH and both FTPS listeners refuse it"

# -- Another source is unaffected.
[[ $($D probe-ssh 127.0.0.2 "$PORT") == open ]] || fail "127.0.0.2 refused"
[[ $($D probe-ftps 127.0.0.2 "$FTPS_PORT") == open ]] || fail "127.0.0.2 refused (FTPS)"
ok "another source is unaffected"

# -- FTPS failed logins count too (127.0.0.3).
$D fail-ftps 127.0.0.3 "$FTPS_PORT" 2 || fail "FTPS failed logins"
wait_log 'defender: banned 127\.0\.0\.3 until' || fail "127.0.0.3 not banned after FTPS failures"
[[ $($D probe-ssh 127.0.0.3 "$PORT") == refused ]] || fail "127.0.0.3 not refused"
ok "FTPS failed logins ban the source"

# -- A protocol violation (junk commands before login until FTPSMaxInvalidCommands closes
# the connection, seen by the unprivileged network child) scores DefenderScoreViolation.
$D junk-ftps 127.0.0.12 "$FTPS_PORT" || fail "junk commands"
wait_log 'defender: banned 127\.0\.0\.12 until .*last event: protocol violation' ||
	fail "a protocol violation did not ban 127.0.0.12"
log_has 'protocol violation from 127\.0\.0\.12 port [0-9]+: too many invalid commands' ||
	fail "no protocol-violation line for 127.0.0.12"
ok "a protocol violation seen by the FTPS network child bans its source"

# -- A connection flood: past PerSourceMaxStartups (3 unauthenticated at once), a refused
# connection scores DefenderScoreFlood (4, the threshold).
n=$($D flood 127.0.0.7 "$PORT" 5) || fail "flood"
[[ $n == 2 ]] || fail "flood: $n of 5 refused, not 2"
wait_log 'defender: banned 127\.0\.0\.7 until .*last event: connection flood' ||
	fail "a flood did not ban 127.0.0.7"
ok "a connection flood bans its source"

# -- An allow-listed source is never banned.
$D fail-ssh 127.0.0.9 "$PORT" 6 || fail "failed logins from 127.0.0.9"
$D fail-ftps 127.0.0.9 "$FTPS_PORT" 3 || fail "FTPS failed logins from 127.0.0.9"
wait_no_connections
log_has 'defender: banned 127\.0\.0\.9' && fail "allow-listed 127.0.0.9 was banned"
[[ $($D probe-ssh 127.0.0.9 "$PORT") == open ]] || fail "allow-listed 127.0.0.9 refused"
ok "an allow-listed source is never banned"

# -- berthctl ban add refuses at once; ban remove lifts.
ctl ban add 127.0.0.4 forever | grep -q 'banned 127.0.0.4 until forever' || fail "ban add"
[[ $($D probe-ssh 127.0.0.4 "$PORT") == refused ]] || fail "ban add did not refuse"
ctl ban add 127.0.0.5 1h >/dev/null || fail "ban add with a duration"
ok "berthctl ban add refuses a source immediately"
out=$(ctl explain demo list / --from 127.0.0.4) && fail "explain allows a banned source: $out"
grep -q 'banned until forever' <<<"$out" || fail "explain does not name the ban: $out"
out=$(ctl explain demo list / --from 127.0.0.2) || fail "explain refuses 127.0.0.2: $out"
grep -q 'not banned' <<<"$out" || fail "explain: no defender line for 127.0.0.2: $out"
ok "berthctl explain --from reports a ban as the deciding rule"

# -- Reloads keep the bans and the control socket: two with the same settings (the second
# frees the first reload's configuration), one that changes the defender's allow-list.
kill -HUP "$BERTHD_PID"
wait_log "Reload complete \\(generation 1\\)" 600 || fail "reload 1 did not complete"
kill -HUP "$BERTHD_PID"
wait_log "Reload complete \\(generation 2\\)" 600 || fail "reload 2 did not complete"
config "DefenderAllowFrom 127.0.0.9,127.0.0.8"
kill -HUP "$BERTHD_PID"
wait_log "Reload complete \\(generation 3\\)" 600 || fail "reload 3 did not complete"
log_has "defender: settings reloaded" || fail "changed Defender settings were not reloaded"
ctl ban list | grep -q '^127\.0\.0\.4 ' || fail "ban list after reloads lost 127.0.0.4"
[[ $($D probe-ssh 127.0.0.4 "$PORT") == refused ]] || fail "a reload lifted a ban"
ok "reloads keep the bans and the control socket; changed Defender settings apply"

# -- Bans persist across a restart.
stop_berthd
grep -q '^127\.0\.0\.4/32 forever ' "$T/defender" || fail "state file: $(cat "$T/defender")"
[[ ! -e $CTL_SOCK ]] || fail "control socket left behind after SIGTERM"
out=$(ctl sessions 2>&1) && fail "berthctl sessions succeeded without a daemon"
[[ $out == *"berthd is not running (no control socket at $CTL_SOCK)"* ]] || fail "message: $out"
start_berthd
[[ $($D probe-ssh 127.0.0.4 "$PORT") == refused ]] || fail "ban lost across a restart"
[[ $($D probe-implicit 127.0.0.5 "$FTPS_IPORT") == refused ]] || fail "timed ban lost across a restart"
ctl ban remove 127.0.0.4 | grep -q 'lifted' || fail "ban remove"
[[ $($D probe-ssh 127.0.0.4 "$PORT") == open ]] || fail "ban remove did not lift"
out=$(ctl ban remove 127.0.0.4 2>&1) && fail "removing a ban twice succeeded"
ok "bans persist across a restart; ban remove lifts; berthctl reports a stopped daemon"

# -- A stale socket (daemon killed) is refused by berthctl and replaced at start.
kill -KILL "$BERTHD_PID"
for ((i = 0; i < 100 * SCALE; i++)); do kill -0 "$BERTHD_PID" 2>/dev/null || break; sleep 0.05; done
stop_berthd
[[ -S $CTL_SOCK ]] || fail "no stale socket to test with"
out=$(ctl ban list 2>&1) && fail "berthctl succeeded on a stale socket"
[[ $out == *"berthd is not running"* ]] || fail "stale socket message: $out"
start_berthd
ctl ban list | grep -q '^127\.0\.0\.5 ' || fail "ban list after replacing a stale socket"
ok "a stale control socket is replaced"

# -- sessions: a live upload with growing bytes and its file name; kick ends it.
$D hold-upload "$PORT" "$T/client_key" "$T" >"$T/upload.out" 2>&1 &
UP=$!
CLEANUPS+=("kill $UP 2>/dev/null")
for ((i = 0; i < 200 * SCALE; i++)); do [[ -e $T/step1 ]] && break; sleep 0.05; done
[[ -e $T/step1 ]] || fail "upload did not start: $(cat "$T/upload.out")"
row=$(ctl sessions | grep ' demo ') || fail "no session row: $(ctl sessions)"
read -r sid acct src proto start bin bout file <<<"$row"
[[ $acct == demo && $proto == sftp && $src == 127.0.0.1:* && $file == /live.bin ]] ||
	fail "session row: $row"
((bin >= 65536)) || fail "bytes in $bin < 65536: $row"
touch "$T/go"
for ((i = 0; i < 200 * SCALE; i++)); do [[ -e $T/step2 ]] && break; sleep 0.05; done
row2=$(ctl sessions | grep ' demo ')
read -r _ _ _ _ _ bin2 _ _ <<<"$row2"
((bin2 >= 131072 && bin2 > bin)) || fail "bytes did not grow: $row -> $row2"
ok "berthctl sessions: $proto session $sid of $acct, $bin -> $bin2 bytes in, file $file"
ctl kick "$sid" | grep -q 'kicked 1 connection' || fail "kick $sid"
rc=0
wait "$UP" || rc=$?
[[ $rc == 3 ]] || fail "upload client did not see its connection cut (rc $rc): $(cat "$T/upload.out")"
wait_no_connections
[[ -z $(ctl sessions | grep ' demo ') ]] || fail "session still listed after kick"
out=$(ctl kick nobody 2>&1) && fail "kick of an unknown account succeeded"
ok "berthctl kick ends the session"

# -- The socket is root-only: mode 0600 (connect refused), and SO_PEERCRED when the
# mode is opened up.
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$BERTHCTL" -f "$T/berthd.conf" "$@"; }
	out=$(asnobody sessions 2>&1) && fail "non-root client got an answer"
	[[ $out == *"permission denied"* ]] || fail "non-root message: $out"
	chmod 666 "$CTL_SOCK"
	out=$(asnobody sessions 2>&1) && fail "non-root client got past SO_PEERCRED"
	[[ $out == *"root only"* ]] || fail "SO_PEERCRED message: $out"
	wait_log 'control socket: refused a client with uid 65534' || fail "no SO_PEERCRED log line"
	chmod 600 "$CTL_SOCK"
	ok "non-root clients are refused (file mode and SO_PEERCRED)"
fi

# -- The first ban lifts after its time (DefenderBanTime; poll, bounded).
lifted=
for ((i = 0; i < 10 * (BAN + 20 * SCALE); i++)); do
	if [[ $($D probe-ssh 127.0.0.6 "$PORT") == open ]]; then
		lifted=1
		break
	fi
	sleep 0.1
done
[[ -n $lifted ]] || fail "the ban of 127.0.0.6 did not lift"
(($(date +%s) - BANNED_AT >= BAN - 1)) || fail "the ban of 127.0.0.6 lifted early"
ok "the ban lifts after DefenderBanTime"

# -- berthd -t / -T know the keywords.
"$BERTHD" -T -f "$T/berthd.conf" | grep -q '^defenderthreshold 4$' || fail "-T"
printf 'DefenderAllowFrom 10.0.0.0/99\n' >>"$T/berthd.conf"
"$BERTHD" -t -f "$T/berthd.conf" 2>"$T/t.err" && fail "-t accepted a bad DefenderAllowFrom"
grep -q 'DefenderAllowFrom' "$T/t.err" || fail "-t message: $(cat "$T/t.err")"
ok "berthd -t checks and -T prints the Defender keywords"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthctl round trips against a real berthd: what berthctl writes is what a client gets.
# account add -> password login; key add -> key login (fingerprint as ssh-keygen -l);
# disable -> refused; enable -> works; key remove -> key refused; account remove ->
# refused; the password never appears in any process's arguments.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/../daemon/lib.sh"
: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"

ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }

setup_keys
write_accounts
write_config
start_berthd

echo ls >"$T/b"
ALICE_PW="alice-pass-$RANDOM-$RANDOM"
ALICE_ROOT=$T/alice-root
can_password() { sftp_password "$T/b" "$1" "${2:-alice}" >/dev/null 2>&1; }
can_key() { sftp_key "$T/b" "${2:-alice}" "$1" >/dev/null 2>&1; }

# --- account add with a password from stdin, Root created ---
mode_before=$(stat -c '%a %u %g' "$T/accounts")
printf '%s\n' "$ALICE_PW" | ctl account add alice --uid "$ACCT_UID" --gid "$ACCT_GID" \
	--root "$ALICE_ROOT" --create-root --password-stdin >"$T/out" || fail "account add"
grep -q "account alice added" "$T/out" || fail "account add did not say so"
[[ $(stat -c '%a %u %g' "$T/accounts") == "$mode_before" ]] || fail "accounts file mode/owner changed"
[[ $(stat -c '%a %u %g' "$ALICE_ROOT") == "750 $ACCT_UID $ACCT_GID" ]] || fail "--create-root: $(stat -c '%a %u %g' "$ALICE_ROOT")"
grep -q "Password \$y\\$" "$T/accounts" || fail "no yescrypt hash written"
grep -qF "$ALICE_PW" "$T/accounts" && fail "the plaintext password is in the accounts file"
"$BERTHD" -t -f "$T/berthd.conf" || fail "berthd -t refuses what berthctl wrote"
mkdata "$T/up.bin" 65536
cat >"$T/b2" <<EOF
put $T/up.bin up.bin
ls
EOF
sftp_password "$T/b2" "$ALICE_PW" alice >/dev/null || fail "password login after account add"
[[ $(sum "$ALICE_ROOT/up.bin") == $(sum "$T/up.bin") ]] || fail "upload did not land in alice's Root"
wait_log "Accepted password for alice from 127\.0\.0\.1" || fail "no Accepted password line for alice"
can_password "wrong-$ALICE_PW" && fail "wrong password accepted"
ok "account add --password-stdin --create-root: password login works, file lands in Root"

# --- key add: fingerprint as ssh-keygen -l prints it; key login works ---
ctl key add alice "$T/other_key.pub" >"$T/out" || fail "key add"
want=$(ssh-keygen -lf "$T/other_key.pub")
[[ $(cat "$T/out") == "$want" ]] || fail "key add printed '$(cat "$T/out")', ssh-keygen -l says '$want'"
ctl key add alice <"$T/other_key.pub" >"$T/out" || fail "key add from stdin (again)"
grep -q "already authorized, skipped" "$T/out" || fail "a duplicate key was not recognised"
[[ $(grep -c "AuthorizedKey " "$T/accounts") == 1 ]] || fail "duplicate key written"
can_key "$T/other_key" || fail "key login after key add"
can_key "$T/client_key" && fail "a key that was never added logs in"
ctl key list alice >"$T/out" || fail "key list"
grep -qF "$want  $T/accounts:" "$T/out" || fail "key list: $(cat "$T/out")"
ok "key add prints the ssh-keygen fingerprint ($(awk '{print $2}' <<<"$want")); key login works; duplicates skipped"

# --- disable: both methods refused; enable: both work again ---
ctl account disable alice >/dev/null || fail "account disable"
can_password "$ALICE_PW" && fail "password login of a disabled account"
can_key "$T/other_key" && fail "key login of a disabled account"
ctl account disable alice >"$T/out" || fail "second disable"
grep -q "nothing to change" "$T/out" || fail "disabling twice changed the file"
ctl account list >"$T/out"
grep -qE "^alice +disabled" "$T/out" || fail "account list does not show alice disabled"
ok "account disable: password and key refused"
ctl account enable alice >/dev/null || fail "account enable"
can_password "$ALICE_PW" || fail "password login after enable"
can_key "$T/other_key" || fail "key login after enable"
ok "account enable: password and key work again"

# --- key remove (by fingerprint): key refused, password still works ---
fp=$(awk '{print $2}' <<<"$want")
ctl key remove alice "$fp" >"$T/out" || fail "key remove"
grep -qF "removed $want" "$T/out" || fail "key remove output: $(cat "$T/out")"
can_key "$T/other_key" && fail "removed key still logs in"
can_password "$ALICE_PW" || fail "password refused after key remove"
ctl key remove alice "$fp" 2>"$T/err" && fail "removing a missing key succeeded"
ok "key remove by fingerprint: key refused, password still works"

# --- a group's settings reach a real login ---
ctl group add readers --read-only >/dev/null || fail "group add"
ctl account modify alice --inherit readers >/dev/null || fail "--inherit readers"
echo "put $T/up.bin ro.bin" >"$T/b3"
sftp_password "$T/b3" "$ALICE_PW" alice >/dev/null 2>&1 && fail "upload allowed for an account in a ReadOnly group"
[[ -e $ALICE_ROOT/ro.bin ]] && fail "ro.bin was written"
ctl account modify alice --unset Inherit >/dev/null || fail "--unset Inherit"
sftp_password "$T/b3" "$ALICE_PW" alice >/dev/null || fail "upload refused after leaving the group"
ctl group remove readers >/dev/null || fail "group remove"
ok "group: a ReadOnly group refuses the member's upload; leaving it allows it again"

# --- the password is never an argument ---
set +e
ctl account modify alice --password "secret-on-the-command-line" 2>"$T/err"
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--password with a value: exit status $rc, not 2 (usage)"
NEW_PW="new-pass-$RANDOM-$RANDOM"
# Hold the edit lock so that berthctl, having read the password, waits with it in memory.
exec 8>"$T/.accounts.lock"
flock -x 8
printf '%s\n' "$NEW_PW" | "$BERTHCTL" -f "$T/berthd.conf" account modify alice --password-stdin \
	>"$T/out" 2>&1 8>&- &
CTL_PID=$!
waited=0
until grep -qE "^[0-9]+: -> FLOCK +ADVISORY +WRITE +$CTL_PID " /proc/locks; do
	kill -0 "$CTL_PID" 2>/dev/null || { cat "$T/out"; fail "berthctl exited before waiting for the lock"; }
	((waited++ < 200 * ${BERTH_TIMEOUT_SCALE:-1})) || fail "berthctl never waited for the lock"
	sleep 0.05
done
ps -eo args >"$T/ps" || fail "ps"
grep -q "account modify alice --password-stdin" "$T/ps" || fail "berthctl not in the ps output"
grep -qF "$NEW_PW" "$T/ps" && fail "the password is visible in ps"
cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >"$T/cmdlines" || true
grep -qF "$NEW_PW" "$T/cmdlines" && fail "the password is in a process's cmdline"
exec 8>&-
wait "$CTL_PID" || { cat "$T/out"; fail "account modify --password-stdin"; }
can_password "$NEW_PW" || fail "new password refused"
can_password "$ALICE_PW" && fail "old password still accepted"
ok "the password is never an argument (--password takes none; not in ps while berthctl holds it)"

# --- account remove: refused afterwards; other accounts untouched ---
ctl account remove alice >/dev/null || fail "account remove"
can_password "$NEW_PW" && fail "password login of a removed account"
grep -q "alice" "$T/accounts" && fail "alice is still in the accounts file"
sftp_key "$T/b" >/dev/null || fail "demo stopped working"
ctl account remove alice 2>"$T/err" && fail "removing a missing account succeeded"
grep -q "there is no account alice" "$T/err" || fail "message for a missing account: $(cat "$T/err")"
ok "account remove: login refused, the other account still works"

stop_berthd
echo "all berthctl round-trip tests passed"

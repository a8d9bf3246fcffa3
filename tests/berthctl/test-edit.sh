#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthctl edits keep the file human and safe: byte-for-byte preservation (diff), refused
# edits leave the file alone, concurrent editors lose nothing, owner/mode kept, exit
# statuses, and `berthctl check` agrees with `berthd -t`.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/../daemon/lib.sh"
: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"

ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }
status() {
	set +e
	"$@" >"$T/status.out" 2>"$T/status.err"
	echo $?
	set -e
}

setup_keys
write_accounts
write_config
mkdir -p "$T/r/bob" "$T/r/carol" "$T/r/dave"
PUB=$(cat "$T/client_key.pub")
HASH=$(mkpasswd -m yescrypt "x-$RANDOM")

# A file written by a person: header comment, Defaults, aligned values, spaces and tabs,
# comments inside and between stanzas, a trailing remark, no final newline.
{
	printf '# partners of example.org -- managed by hand and by berthctl\n'
	printf '\n'
	printf 'Defaults\n'
	printf '\tUid %s\n' "$ACCT_UID"
	printf '\tGid %s\n' "$ACCT_GID"
	printf '\tRoot %s/r/%%u\n' "$T"
	printf '\n'
	printf '# Bob: ticket 4711, renewed yearly\n'
	printf 'Account bob\n'
	printf '    Password        %s\n' "$HASH"
	printf '    StartDirectory  /\n'
	printf '    # old key removed 2024-01-02\n'
	printf '\n'
	printf 'Account carol   # the auditor\n'
	printf '\tReadOnly yes\n'
	printf '\tAuthorizedKey %s\n' "$PUB"
	printf '\n'
	printf '# --- end of partners ---'
} >"$T/accounts"
chmod 640 "$T/accounts"
cp "$T/accounts" "$T/orig"
"$BERTHD" -t -f "$T/berthd.conf" || fail "the hand-written file does not pass berthd -t"

# --- modify changes only the lines it must ---
ctl account modify bob --read-only --start-directory "/in box" >/dev/null || fail "modify bob"
diff "$T/orig" "$T/accounts" >"$T/diff" && fail "modify changed nothing"
cat >"$T/want" <<'EOF'
11c11,12
<     StartDirectory  /
---
>     StartDirectory  "/in box"
>     ReadOnly        yes
EOF
diff -u "$T/want" "$T/diff" || fail "modify changed more than it must (diff above)"
[[ $(stat -c %a "$T/accounts") == 640 ]] || fail "mode not kept"
ok "account modify: only the changed lines differ; alignment, comments, mode kept"

# --- add appends a stanza in the file's style, nothing else changes ---
cp "$T/accounts" "$T/before"
ctl account add dave --key "$T/other_key.pub" >/dev/null || fail "account add dave"
diff "$T/before" "$T/accounts" >"$T/diff" || true
{
	echo "19c19,22"
	echo "< # --- end of partners ---"
	echo "\\ No newline at end of file"
	echo "---"
	echo "> # --- end of partners ---"
	echo "> "
	echo "> Account dave"
	printf '> \tAuthorizedKey %s\n' "$(cat "$T/other_key.pub")"
} >"$T/want"
diff -u "$T/want" "$T/diff" || fail "account add: unexpected diff (above)"
ok "account add: one stanza appended (blank line, indentation of the file), nothing else"

# --- remove takes the stanza and its comment, nothing else ---
cp "$T/accounts" "$T/before"
ctl account remove bob >/dev/null || fail "remove bob"
cat >"$T/want" <<'EOF'
8,14d7
< # Bob: ticket 4711, renewed yearly
< Account bob
<     Password        HASH
<     StartDirectory  "/in box"
<     ReadOnly        yes
<     # old key removed 2024-01-02
< 
EOF
sed -i "s|HASH|$HASH|" "$T/want"
diff "$T/before" "$T/accounts" >"$T/diff" || true
diff -u "$T/want" "$T/diff" || fail "account remove: unexpected diff (above)"
ok "account remove: the stanza and the comment above it go, nothing else"

# --- a broken value is refused and the file is unchanged ---
cp "$T/accounts" "$T/before"
rc=$(status ctl account modify carol --set Uid=abc)
[[ $rc == 1 ]] || fail "--set Uid=abc: exit status $rc"
grep -q "accounts:[0-9]*: Uid: invalid id \"abc\"" "$T/status.err" || fail "no parser message: $(cat "$T/status.err")"
grep -q "nothing was written" "$T/status.err" || fail "does not say that nothing was written"
cmp -s "$T/before" "$T/accounts" || fail "the file changed after a refused edit"
rc=$(status ctl account modify carol --set "NoSuchKeyword=1")
[[ $rc == 1 ]] && grep -q 'unknown keyword "NoSuchKeyword"' "$T/status.err" || fail "unknown keyword not refused by the parser"
rc=$(status ctl account modify carol --set "Root=/x
Account evil")
[[ $rc == 2 ]] || fail "a value with a newline: exit status $rc"
rc=$(status ctl account modify carol --set "Account=evil")
[[ $rc == 2 ]] || fail "a stanza keyword as --set: exit status $rc"
rc=$(status ctl account add "bad/name" --uid 5)
[[ $rc == 2 ]] || fail "an invalid name: exit status $rc"
rc=$(status ctl account add zed --root /nonexistent/zed --password-stdin </dev/null)
[[ $rc == 1 ]] || fail "empty password from stdin: exit status $rc"
rc=$(status ctl account add zed --root /nonexistent/zed --key "$T/other_key.pub")
[[ $rc == 1 ]] && grep -q "Root /nonexistent/zed: No such file" "$T/status.err" || fail "missing Root not refused ($rc)"
rc=$(status ctl account add zed)
[[ $rc == 1 ]] && grep -q "no Password and no keys" "$T/status.err" || fail "an account nobody can log in to was not refused"
rc=$(status ctl account frobnicate carol)
[[ $rc == 2 ]] || fail "unknown subcommand: exit status $rc"
rc=$(status ctl account show nobody)
[[ $rc == 1 ]] || fail "show of a missing account: exit status $rc"
cmp -s "$T/before" "$T/accounts" || fail "the file changed after refused edits"
[[ $(ls -A "$T" | grep -c '^\.accounts\.') == 1 ]] || fail "temporary files left: $(ls -A "$T")"
ok "refused edits (parser errors, injection, bad names, nobody-can-log-in) leave the file byte-for-byte alone; exit 1/2"

# --- a problem the file already had does not block unrelated edits ---
rmdir "$T/r/dave"
rc=$(status ctl account modify carol --read-write)
[[ $rc == 0 ]] || fail "an edit blocked by another account's missing Root: $(cat "$T/status.err")"
grep -q "warning: .*Root .*dave.*had this problem before" "$T/status.err" || fail "old problem not reported as a warning"
mkdir "$T/r/dave"
ok "problems the file already had are warnings, not blockers"

# --- groups: placed before the first account, inherited, protected while in use ---
cp "$T/accounts" "$T/before"
cp "$T/accounts" "$T/pre-group"
ctl group add partners --read-only --add 'Permissions=/ list,download' >/dev/null || fail "group add"
diff "$T/before" "$T/accounts" >"$T/diff" || true
grep -q '^[<]' "$T/diff" && fail "group add changed existing lines: $(cat "$T/diff")"
printf 'Group partners\n\tReadOnly yes\n\tPermissions / list,download\n' | diff -u - <(ctl group show partners) || fail "group show"
[[ $(grep -n '^Group partners$' "$T/accounts" | cut -d: -f1) -lt $(grep -n '^Account ' "$T/accounts" | head -1 | cut -d: -f1) ]] || fail "the group is not above the first account"
ctl account modify dave --inherit partners >/dev/null || fail "--inherit"
grep -qx $'\tInherit partners' "$T/accounts" || fail "no Inherit line"
ctl account show --effective dave | grep -qx "readonly yes" || fail "the group's ReadOnly does not apply to dave"
cp "$T/accounts" "$T/before"
rc=$(status ctl group remove partners)
[[ $rc == 1 ]] && grep -q 'Inherit: unknown group "partners"' "$T/status.err" || fail "a group in use was removed ($rc)"
cmp -s "$T/before" "$T/accounts" || fail "the file changed after a refused group remove"
rc=$(status ctl group add secret --set 'Password=$y$j9T$x$y')
[[ $rc == 1 ]] || fail "a Password in a group was accepted"
ctl group modify partners --read-write >/dev/null || fail "group modify"
ctl account show --effective dave | grep -qx "readonly no" || fail "group modify does not reach dave"
[[ $(ctl group list) == partners ]] || fail "group list: $(ctl group list)"
ctl account modify dave --unset Inherit >/dev/null || fail "--unset Inherit"
ctl group remove partners >/dev/null || fail "group remove"
cmp -s "$T/pre-group" "$T/accounts" || fail "group add + --inherit + --unset Inherit + group remove did not restore the file byte for byte"
[[ -z $(ctl group list) ]] || fail "group list after remove"
ok "group add/modify/remove/list/show against the parser's Group stanzas; --inherit; a group in use cannot be removed"

# --- show prints the stanza as written ---
ctl account show carol >"$T/out"
printf 'Account carol   # the auditor\n\tReadOnly no\n\tAuthorizedKey %s\n' "$PUB" | diff -u - "$T/out" || fail "account show"
ctl account show --effective carol >"$T/out"
grep -qx "uid $ACCT_UID" "$T/out" && grep -qx "root $T/r/carol" "$T/out" || fail "show --effective: $(cat "$T/out")"
ok "account show (as written) and --effective (Defaults applied)"

# --- --password asks on the terminal, twice, without echo ---
$PY - "$BERTHCTL" "$T/accounts" <<'EOF' || fail "password prompt on a terminal"
import os, pty, select, sys, termios, warnings
ctl, acc = sys.argv[1], sys.argv[2]
scale = int(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))

def run(answers):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(ctl, [ctl, "-A", acc, "account", "modify", "carol", "--password"])
    out = b""
    def until(token):
        nonlocal out
        while token not in out:
            r, _, _ = select.select([fd], [], [], 30 * scale)
            assert r, "timeout waiting for %r, got %r" % (token, out)
            try:
                d = os.read(fd, 1024)
            except OSError:
                d = b""
            assert d, "EOF waiting for %r, got %r" % (token, out)
            out += d
    for prompt, answer in zip((b"New password: ", b"Retype new password: "), answers):
        until(prompt)
        assert not termios.tcgetattr(fd)[3] & termios.ECHO, "echo is on at the prompt"
        os.write(fd, answer + b"\n")
    while True:
        try:
            d = os.read(fd, 1024)
        except OSError:
            break
        if not d:
            break
        out += d
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), out

rc, out = run([b"tty-secret-1", b"tty-secret-2"])
assert rc == 1 and b"do not match" in out, (rc, out)
rc, out = run([b"tty-secret-1", b"tty-secret-1"])
assert rc == 0, (rc, out)
assert b"tty-secret" not in out, "the password was echoed: %r" % out
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
h = [l.split()[1] for l in open(acc) if l.strip().startswith("Password")][-1]
assert h.startswith("$y$") and crypt.crypt("tty-secret-1", h) == h, h
EOF
ok "--password: asked twice on the terminal with echo off; a mismatch is refused; the yescrypt hash verifies"

# --- owner and mode are kept (root only: chown) ---
if [[ $(id -u) -eq 0 ]]; then
	chown 40011:40012 "$T/accounts"
	chmod 604 "$T/accounts"
	ctl account modify carol --read-only >/dev/null || fail "modify as root"
	[[ $(stat -c '%u %g %a' "$T/accounts") == "40011 40012 604" ]] || fail "owner/mode not kept: $(stat -c '%u %g %a' "$T/accounts")"
	chown 0:0 "$T/accounts"
	chmod 600 "$T/accounts"
	ok "owner, group and mode of the file are kept"
fi

# --- 20 concurrent editors: every account ends up in the file ---
pids=()
for i in $(seq 1 20); do
	mkdir -p "$T/r/user$i"
	ctl account add "user$i" --key "$T/other_key.pub" >"$T/par.$i" 2>&1 &
	pids+=($!)
done
for i in $(seq 1 20); do
	wait "${pids[$((i - 1))]}" || { cat "$T/par.$i"; fail "concurrent add of user$i"; }
done
for i in $(seq 1 20); do
	[[ $(grep -c "^Account user$i\$" "$T/accounts") == 1 ]] || fail "user$i is not in the file exactly once"
done
[[ $(ctl account list --names | grep -c '^user') == 20 ]] || fail "account list does not show 20 users"
"$BERTHD" -t -f "$T/berthd.conf" || fail "berthd -t after the concurrent adds"
ok "20 concurrent account adds: all 20 in the file, berthd -t passes"

# --- an accounts file that does not exist yet: created 0600 ---
rm -f "$T/new-accounts"
"$BERTHCTL" -A "$T/new-accounts" account add first --uid "$ACCT_UID" --gid "$ACCT_GID" \
	--root "$T/r/carol" --key "$T/other_key.pub" >/dev/null || fail "add to a new file"
[[ $(stat -c %a "$T/new-accounts") == 600 ]] || fail "new file mode $(stat -c %a "$T/new-accounts")"
printf 'Account first\n\tUid %s\n\tGid %s\n\tRoot %s\n\tAuthorizedKey %s\n' "$ACCT_UID" \
	"$ACCT_GID" "$T/r/carol" "$(cat "$T/other_key.pub")" | cmp -s - "$T/new-accounts" || fail "new file content"
ok "a new accounts file is created 0600 with one stanza"

# --- berthctl check agrees with berthd -t ---
compare_check() {
	local conf=$1 what=$2 rc_d rc_c
	set +e
	"$BERTHD" -t -f "$conf" >"$T/d.out" 2>&1
	rc_d=$?
	"$BERTHCTL" check -f "$conf" >"$T/c.out" 2>&1
	rc_c=$?
	set -e
	[[ $rc_d == "$rc_c" ]] || fail "$what: berthd -t exits $rc_d, berthctl check $rc_c"
	sed 's/^berthd: //' "$T/d.out" >"$T/d.norm"
	sed 's/^berthctl: //' "$T/c.out" >"$T/c.norm"
	diff -u "$T/d.norm" "$T/c.norm" || fail "$what: different messages (above)"
	echo "$rc_d"
}
[[ $(compare_check "$T/berthd.conf" "good config") == 0 ]] || fail "good config refused"
[[ ! -s $T/c.out ]] || fail "check prints on success: $(cat "$T/c.out")"
cp "$T/berthd.conf" "$T/bad.conf"
echo "NoSuchKeyword yes" >>"$T/bad.conf"
[[ $(compare_check "$T/bad.conf" "bad keyword") == 1 ]] || fail "bad keyword accepted"
grep -q "bad.conf:[0-9]*: " "$T/c.out" || fail "no file:line from check"
printf 'Account broken\n\tUid x\n' >>"$T/accounts"
[[ $(compare_check "$T/berthd.conf" "broken accounts file") == 1 ]] || fail "broken accounts accepted"
grep -q "accounts:[0-9]*: Uid: invalid id" "$T/c.out" || fail "check misses the accounts error"
sed -i '/^Account broken$/,$d' "$T/accounts"
echo "not a key" >"$T/junk_key"
chmod 600 "$T/junk_key"
sed "s|^HostKey .*|HostKey $T/junk_key|" "$T/berthd.conf" >"$T/junk.conf"
[[ $(compare_check "$T/junk.conf" "unloadable host key") == 1 ]] || fail "unloadable host key accepted"
grep -q "junk_key" "$T/c.out" || fail "check does not name the host key"
ok "berthctl check agrees with berthd -t (exit status and messages): good, bad keyword, broken accounts, unloadable host key"

echo "all berthctl edit tests passed"

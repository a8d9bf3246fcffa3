#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Legacy scp (scp -O: `scp -t` / `scp -f` through an exec request) served by the scp
# engine in the worker, never by a shell: single files and trees up and down, -p times
# and modes, overwrite, globs, errors shown to the client, the log lines; then hostile
# clients from scp's CVE history (scp-hostile.py).
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config
start_berthd
SCP=(scp -O -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -i "$T/client_key" -P "$PORT")
R=demo@127.0.0.1

# ---------------------------------------------------------------- single files
mkdata "$T/up.bin" 3145739
"${SCP[@]}" "$T/up.bin" "$R:up.bin" || fail "scp -O upload"
[[ $(sum "$JAIL/up.bin") == $(sum "$T/up.bin") ]] || fail "upload checksum"
"${SCP[@]}" "$R:up.bin" "$T/down.bin" || fail "scp -O download"
[[ $(sum "$T/down.bin") == $(sum "$T/up.bin") ]] || fail "download checksum"
wait_log "Starting session: command 'scp -t up\.bin' for demo from 127\.0\.0\.1 port [0-9]+ id" ||
	fail "no session line for scp -t"
wait_log 'transfer upload user demo from 127\.0\.0\.1 port [0-9]+: "/up\.bin" 3145739 bytes in [0-9.]+s completed' ||
	fail "no upload transfer line"
wait_log 'transfer download user demo .*: "/up\.bin" 3145739 bytes .* completed' ||
	fail "no download transfer line"
ok "scp -O single file up and down, checksums, session and transfer log lines"

# Overwrite with a shorter file: the old tail must go (scp truncates after writing).
mkdata "$T/short.bin" 1000
"${SCP[@]}" "$T/short.bin" "$R:up.bin" || fail "overwrite"
[[ $(sum "$JAIL/up.bin") == $(sum "$T/short.bin") ]] || fail "overwrite left the old tail"
# Into an existing directory, with an absolute path and with ~.
mkdir -p "$JAIL/in"
chown "$ACCT_UID:$ACCT_GID" "$JAIL/in"
"${SCP[@]}" "$T/short.bin" "$R:/in/" || fail "upload into a directory"
"${SCP[@]}" "$T/short.bin" "$R:~/in/tilde.bin" || fail "upload to ~/..."
[[ -f $JAIL/in/short.bin && -f $JAIL/in/tilde.bin ]] || fail "files not where expected"
ok "overwrite truncates; directory targets, absolute paths and ~"

# ---------------------------------------------------------------- trees and -p
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty"
mkdata "$T/tree/a.bin" 70000
mkdata "$T/tree/sub/b.bin" 1
: >"$T/tree/sub/deeper/zero"
echo "name with spaces" >"$T/tree/sub/with space.txt"
chmod 0640 "$T/tree/a.bin"
chmod 0600 "$T/tree/sub/b.bin"
chmod 0750 "$T/tree/sub"
touch -m -d '2001-02-03 04:05:06' "$T/tree/a.bin" "$T/tree/sub/b.bin"
touch -m -d '2002-03-04 05:06:07' "$T/tree/sub"
"${SCP[@]}" -rp "$T/tree" "$R:" || fail "scp -O -rp upload"
snap() { # dir: relative path, type, mode, size, mtime for files (dirs: mode + mtime)
	(cd "$1" && find . -printf '%p %y %m %s %T@\n' | sed 's/\.[0-9]*$//' |
		awk '$2=="d"{$4="-"}1' | sort)
}
diff <(snap "$T/tree") <(snap "$JAIL/tree") || fail "tree uploaded with -rp differs (modes/times/sizes)"
for f in a.bin sub/b.bin "sub/with space.txt"; do
	[[ $(sum "$T/tree/$f") == $(sum "$JAIL/tree/$f") ]] || fail "checksum of $f"
done
"${SCP[@]}" -rp "$R:tree" "$T/back" || fail "scp -O -rp download"
diff <(snap "$T/tree") <(snap "$T/back") || fail "tree downloaded with -rp differs"
ok "scp -O -rp trees up and down: contents, modes and times kept"

# Without -p the server's umask applies to new files, modes are not forced.
"${SCP[@]}" -r "$T/tree" "$R:plain" || fail "scp -O -r upload without -p"
[[ $(stat -c %a "$JAIL/plain/a.bin") == 640 ]] || fail "mode without -p: $(stat -c %a "$JAIL/plain/a.bin")"
ok "scp -O -r without -p"

# Globs in a download path (expanded over the VFS, not by a shell).
mkdir -p "$T/globbed"
"${SCP[@]}" "$R:tree/sub/*.bin" "$R:tree/*.bin" "$T/globbed/" || fail "glob download"
[[ -f $T/globbed/a.bin && -f $T/globbed/b.bin ]] || fail "glob matched: $(ls "$T/globbed")"
ok "globs in download paths"

# ---------------------------------------------------------------- errors
if "${SCP[@]}" "$R:no-such-file" "$T/x" 2>"$T/err1"; then fail "missing file downloaded"; fi
grep -q "no-such-file: No such file or directory" "$T/err1" || fail "error not shown: $(cat "$T/err1")"
if "${SCP[@]}" "$T/short.bin" "$R:no-such-dir/x" 2>"$T/err2"; then fail "upload into a missing dir"; fi
grep -q "No such file or directory" "$T/err2" || fail "error not shown: $(cat "$T/err2")"
if "${SCP[@]}" "$R:tree" "$T/x" 2>"$T/err3"; then fail "directory without -r"; fi
grep -q "tree: not a regular file" "$T/err3" || fail "error not shown: $(cat "$T/err3")"
if "${SCP[@]}" "$T/short.bin" "$R:../../../../etc/passwd-berth" 2>/dev/null; then
	[[ -f $JAIL/etc/passwd-berth ]] || fail "upload with .. escaped the jail"
fi
[[ ! -e /etc/passwd-berth ]] || fail "upload with .. escaped the jail"
ok "errors reach the client (missing file, missing directory, directory without -r); .. stays in the jail"

# ---------------------------------------------------------------- hostile clients
$PY "$(dirname "$0")/scp-hostile.py" "$PORT" "$T" || fail "hostile scp clients"
wait_log "refused exec request from demo" || fail "non-scp exec not refused"
wait_log 'transfer upload user demo .*: "/target/cut\.bin" 40000 bytes in [0-9.]+s aborted' ||
	fail "truncated upload not logged as aborted"
ok "hostile scp clients (see above)"

# ReadOnly: uploads refused with a message, downloads work.
stop_berthd
write_config "ReadOnly yes"
start_berthd
if "${SCP[@]}" "$T/short.bin" "$R:ro.bin" 2>"$T/err4"; then fail "upload on a read-only server"; fi
grep -q "Permission denied" "$T/err4" || fail "read-only refusal not shown: $(cat "$T/err4")"
[[ ! -e $JAIL/ro.bin ]] || fail "read-only server wrote a file"
"${SCP[@]}" "$R:up.bin" "$T/ro.down" || fail "download on a read-only server"
ok "ReadOnly refuses scp uploads, serves downloads"
echo "all scp tests passed"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthctl quota show|rescan against a real berthd: show reports what sessions recorded
# (read-only); rescan walks the jail as the account (a directory only root can read is not
# counted) and restores the usage after it was corrupted, reset or invalidated; an upload
# that is in progress across a rescan, or that streams while a rescan walks, ends with the
# usage equal to what is on disk.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/../daemon/lib.sh"
: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"

ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }
QPY="$(dirname "$0")/quota.py"
up() { $PY "$QPY" "$PORT" "$T/client_key" q "$@"; }

setup_keys
write_accounts
jail_account q "QuotaSize 20M" "QuotaFiles 2000" "MaxFileSize 16M"
R=$T/root-q
mkdir -p "$R/data" "$R/secret"
for i in $(seq 1 200); do head -c $((i * 37)) /dev/urandom >"$R/data/f$i"; done
chown -R "$ACCT_UID:$ACCT_GID" "$R"
# Only root can look into this directory: berthd's sessions (the account) never count it.
head -c 100000 /dev/urandom >"$R/secret/hidden"
if [[ $(id -u) -eq 0 ]]; then
	chown -R 0:0 "$R/secret"
	chmod 700 "$R/secret"
else
	rm -rf "$R/secret" # not root: the account is ourselves and could read it
fi
write_config
start_berthd
STATE=$T/quota/q

# What the account can see in its jail: bytes and regular files.
disk() {
	find "$R" -path "$R/secret" -prune -o -type f -printf '%s\n' |
		awk '{ s += $1; n++ } END { printf "%d %d\n", s, n }'
}
# "bytes files" from quota show
shown() {
	ctl quota show q >"$T/show" || fail "quota show"
	awk '$1 == "bytes" { b = $2 } $1 == "files" { f = $2 } END { printf "%d %d\n", b, f }' "$T/show"
}
# The state file's counters (struct state_file: magic, version, valid, pad, bytes, files).
poke() {
	$PY - "$STATE" "$@" <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    if sys.argv[2] == "invalid":
        f.seek(8)
        f.write(struct.pack("<I", 0))
    else:
        f.seek(16)
        f.write(struct.pack("<QQ", int(sys.argv[2]), int(sys.argv[3])))
EOF
}

# ---- before any session: nothing recorded; an account without a quota ----
ctl quota show q >"$T/show" || fail "quota show before any session"
grep -q '^usage none' "$T/show" || { cat "$T/show"; fail "usage before any session"; }
grep -q "^quota-size 20971520 (QuotaSize 20M at $T/accounts:[0-9]*)" "$T/show" || { cat "$T/show"; fail "limits"; }
grep -q "^max-file-size 16777216 " "$T/show" || fail "MaxFileSize"
[[ ! -e $STATE ]] || fail "quota show created the state file"
if ctl quota rescan nosuch >/dev/null 2>&1; then fail "rescan of an unknown account"; fi
jail_account plain
ctl quota rescan plain 2>"$T/err" && fail "rescan of an account without a quota"
grep -q "has no QuotaSize or QuotaFiles" "$T/err" || fail "no reason given for the refused rescan"
ok "quota show before any session: limits with file:line, no usage, nothing created; rescan refuses accounts without a quota"

# ---- sessions record usage; show reports it ----
up upload /up1.bin 300000 || fail "upload 1"
up upload /data/up2.bin 123457 || fail "upload 2"
echo "rm /data/f1" >"$T/b"
sftp_key "$T/b" q >/dev/null || fail "rm"
want=$(disk)
[[ $(shown) == "$want" ]] || { cat "$T/show"; fail "quota show $(shown), on disk $want"; }
grep -q '^usage valid' "$T/show" || fail "usage not valid"
grep -q '^sessions 0' "$T/show" || fail "sessions still attached"
ok "quota show matches the disk after uploads and a delete: $want (bytes files); the root-only directory is not counted"

# ---- wrong numbers in the state file: rescan restores them ----
poke 123 4
[[ $(shown) == "123 4" ]] || fail "quota show does not read the state file ($(shown))"
ctl quota rescan q >"$T/out" || fail "rescan"
read -r b n <<<"$want"
grep -q "^q: $b bytes in $n files (recorded before: 123 bytes in 4 files)" "$T/out" || { cat "$T/out"; fail "rescan output"; }
[[ $(shown) == "$want" ]] || fail "after rescan: $(shown), on disk $want"
ok "corrupted usage (123 bytes, 4 files): quota rescan restores $want"

# ---- invalidated, or reset to an empty file: rescan restores them ----
poke invalid
ctl quota show q | grep -q '^usage unknown (the next session' || fail "an invalidated usage is not shown as unknown"
ctl quota rescan q >"$T/out" || fail "rescan after invalidate"
grep -q "(recorded before: unknown)" "$T/out" || fail "rescan output after invalidate"
[[ $(shown) == "$want" ]] || fail "after invalidate + rescan: $(shown)"
: >"$STATE"
ctl quota show q | grep -q '^usage unknown (not set up yet)' || fail "an empty state file is not shown as unknown"
ctl quota rescan q >/dev/null || fail "rescan after reset"
[[ $(shown) == "$want" ]] || fail "after reset + rescan: $(shown)"
ok "invalidated and emptied state files: quota rescan restores $want"

# ---- an upload in progress across a rescan ----
poke 1 1
up paused /paused.bin 2000000 "$T/half" "$T/go" &
UP=$!
for _ in $(seq 1 $((200 * SCALE))); do [[ -e $T/half ]] && break; sleep 0.05; done
[[ -e $T/half ]] || fail "the paused upload did not start"
ctl quota show q | grep -q '^sessions 1' || fail "the uploading session is not attached"
ctl quota rescan q >"$T/out" || fail "rescan during a paused upload"
touch "$T/go"
wait "$UP" || fail "the paused upload failed"
want=$(disk)
[[ $(shown) == "$want" ]] || fail "an upload across a rescan: quota show $(shown), on disk $want"
ok "an upload half written during a rescan (usage corrupted before): ends at $want as on disk"

# ---- an upload streaming while rescan walks ----
poke 5 5
up stream /stream.bin 12000000 "$T/started" &
UP=$!
for _ in $(seq 1 $((200 * SCALE))); do [[ -e $T/started ]] && break; sleep 0.05; done
[[ -e $T/started ]] || fail "the streaming upload did not start"
ctl quota rescan q --wait $((120 * SCALE)) >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "rescan during a streaming upload"; }
wait "$UP" || fail "the streaming upload failed"
! grep -q "kept changing the usage" "$T/err" || { cat "$T/err"; fail "rescan stored an estimate"; }
want=$(disk)
[[ $(shown) == "$want" ]] || { cat "$T/out"; fail "an upload streaming during a rescan: quota show $(shown), on disk $want"; }
ok "an upload streaming while quota rescan walks: ends at $want as on disk ($(cat "$T/out"))"

# ---- the usage holds: the quota refuses at the right byte ----
read -r b n <<<"$want"
room=$((20 * 1024 * 1024 - b))
if up upload /over.bin $((room + 1)) 2>/dev/null; then fail "an upload one byte over the quota passed"; fi
echo "rm /over.bin" >"$T/b"
sftp_key "$T/b" q >/dev/null || fail "rm over.bin"
up upload /fill.bin "$room" || fail "an upload that fills the quota exactly was refused"
[[ $(shown) == "$((20 * 1024 * 1024)) $((n + 1))" ]] || fail "full quota: $(shown)"
ok "after the rescans the quota refuses one byte over and takes exactly the rest ($room bytes)"

echo "all quota tests passed"

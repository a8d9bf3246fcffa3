#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthctl explain against a real berthd: for a table of cases (Group/Inherit,
# Permissions, Filter, ReadOnly by account, by key and in berthd.conf, AllowFrom,
# DenyFrom, Expires, Protocols, SetstatMode, QuotaSize, MaxFileSize, MaxLogins,
# DenyUsers, a disabled account) explain and a real client (paramiko, OpenSSH scp, and
# Python ftplib over FTPS for --protocol ftps) must agree on allowed or denied and on the
# stage, and explain must name the deciding rule with its file:line. Also: usage errors,
# unknown accounts, --json, hypothetical stages.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/../daemon/lib.sh"
source "$(dirname "$0")/../daemon/ftps-lib.sh"
: "${BERTHCTL:?BERTHCTL must point at the berthctl binary}"

ctl() { "$BERTHCTL" -f "$T/berthd.conf" "$@"; }

setup_keys
setup_cert
write_accounts
mapfile -t FTPS_LINES < <(ftps_config)
# The accounts the FTPS cases log in to have a password too (FTP has no keys).
PWHASH=$(mkpasswd -m yescrypt "$PASSWORD")
cp "$T/client_key.pub" "$T/authorized_keys"
readonly_key
account() { jail_account "$@"; }
seed_jail() {
	local r=$T/root-$1
	mkdir -p "$r"/{in,out/old,ro,work}
	echo "partner A's data" >"$r/in/secret.csv"
	echo "report" >"$r/out/report.pdf"
	echo "fixed" >"$r/ro/fixed.txt"
	echo "hello" >"$r/readme"
	echo "w" >"$r/work/w.csv"
	ln -s /in/secret.csv "$r/work/door.csv"
	chmod 644 "$r/readme"
	chown -R "$ACCT_UID:$ACCT_GID" "$r"
}

partners_group
account partner "Inherit partners" "Password $PWHASH"
account ro "ReadOnly yes" "Password $PWHASH"
account keyro "AuthorizedKeysFile $T/ro_keys"
account ign "SetstatMode ignore"
account ref "SetstatMode refuse"
account quota "Permissions / full" "QuotaSize 48K" "QuotaFiles 20" "MaxFileSize 40K"
account expired "Expires 2020-01-01"
account future "Expires 2099-01-01"
account elsewhere "AllowFrom 192.0.2.0/24"
account denied "DenyFrom 127.0.0.0/8"
account ftponly "Protocols ftps" "Password $PWHASH"
account scponly "Protocols scp" "Password $PWHASH"
account disabled "Disabled yes"
account blocked
account single "MaxLogins 1"
for a in partner ro keyro ign ref expired future elsewhere denied ftponly scponly disabled blocked single; do
	seed_jail "$a"
done
chown "$ACCT_UID:$ACCT_GID" "$T/root-quota"
write_config "DenyUsers blocked" "${FTPS_LINES[@]}"
"$BERTHD" -t -f "$T/berthd.conf" || fail "berthd -t refuses the test configuration"
start_berthd

export PORT KEY="$T/client_key" RO_KEY="$T/ro_key" BERTHCTL CONF="$T/berthd.conf" \
	ACCOUNTS="$T/accounts" T FTPS_PORT PASSWORD
EXPLAIN_PY="$(dirname "$0")/explain.py"

# ---- usage errors and unknown accounts: exit status 2 ----
for args in "partner" "partner frobnicate /" "partner rename /a" "partner list / --protocol gopher" \
	"partner list / --from not-an-address" "partner list / --size lots" "nosuch list /" \
	"partner list / --at yesterday" "partner delete / --to /x"; do
	# shellcheck disable=SC2086
	if ctl explain $args >"$T/out" 2>"$T/err"; then fail "explain $args succeeded"; fi
	# shellcheck disable=SC2086
	ctl explain $args >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "explain $args: exit status $rc, expected 2"
	[[ -s $T/err ]] || fail "explain $args: no message"
done
ok "usage errors and an unknown account exit with status 2 and a message"

# ---- the table: explain and the client agree ----
$PY "$EXPLAIN_PY" main >"$T/x.out" 2>&1 || { cat "$T/x.out"; fail "explain table"; }
grep '^ok - ' "$T/x.out"
ok "$(tail -1 "$T/x.out")"

# ---- a refused login still shows the path verdict, marked hypothetical ----
ctl explain expired download /in/secret.csv --from 127.0.0.1 --json >"$T/j" && fail "expired account allowed"
$PY - "$T/j" <<'EOF' || fail "hypothetical stages"
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["sections"]}
assert not r["allowed"] and s["login"]["allowed"] is False and not s["login"]["hypothetical"]
assert s["path"]["hypothetical"] and s["path"]["allowed"] is True, s["path"]
assert r["decision"].startswith("login refused by Expires 2020-01-01"), r["decision"]
EOF
ctl explain expired download /in/secret.csv --from 127.0.0.1 >"$T/out" || true
grep -q "^download /in/secret.csv \[hypothetical: an earlier stage refuses\]:" "$T/out" ||
	{ cat "$T/out"; fail "the text does not mark the path verdict hypothetical"; }
# --at moves the clock: the account that expired in 2020 was fine in 2019
ctl explain expired list / --from 127.0.0.1 --at 2019-06-01 >/dev/null || fail "--at 2019-06-01"
ok "a refused login shows the path verdict as hypothetical; --at evaluates Expires at another time"

# ---- paths as written: normalised like the decorator, relative to StartDirectory ----
ctl explain partner list ../../in/./ --from 127.0.0.1 >"$T/out" && fail "list /in allowed"
grep -q '^list /in:' "$T/out" || { cat "$T/out"; fail "../../in/./ not normalised to /in"; }
ctl explain partner download /work/door.csv --from 127.0.0.1 >"$T/out" ||
	fail "the link's path as written is in /work (full)"
grep -q "resolved by the server at access time" "$T/out" || fail "no note on symlinks"
ok "paths are normalised lexically; without --resolve a symlink is evaluated as written, and the output says so"

# ---- JSON stays valid whatever the path holds ----
ctl explain partner upload "$(printf '/work/a\nb\001\"\\\xff.csv')" --from 127.0.0.1 --json >"$T/j" ||
	fail "explain with an odd name"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["path"] == "/work/a\nb\x01\"\\\ufffd.csv", r["path"]' "$T/j" ||
	fail "JSON escaping"
ctl explain partner upload "$(printf '/work/a\nb.csv')" --from 127.0.0.1 >"$T/out" || fail "odd name"
grep -q '^upload /work/a\\x0ab.csv:' "$T/out" || { cat "$T/out"; fail "text output: a newline in a path starts a line"; }
ok "--json escapes control characters and invalid UTF-8; text output keeps one item per line"

# ---- ReadOnly in berthd.conf (global), with its file:line ----
stop_berthd
write_config "DenyUsers blocked" "ReadOnly yes" "${FTPS_LINES[@]}"
start_berthd
$PY "$EXPLAIN_PY" global-readonly >"$T/x.out" 2>&1 || { cat "$T/x.out"; fail "global ReadOnly"; }
grep '^ok - ' "$T/x.out"
ok "global ReadOnly: $(tail -1 "$T/x.out")"

echo "all explain tests passed"

# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the berthd integration tests (sourced, bash).
#
# Every test starts its own berthd on 127.0.0.1 on a free port with a generated config,
# generated host and client keys, and a virtual account "demo" jailed to $JAIL. The
# daemon runs in its own process group and is killed (with all its connection
# processes) by the EXIT trap.
#
# Tests wait for readiness (a log line, a process), never for a fixed time; every limit
# on a wait is multiplied by BERTH_TIMEOUT_SCALE (default 1; scripts/test sets 3 for the
# ASan+UBSan build). The Python parts use testlib.py (on PYTHONPATH) for the same.

set -euo pipefail

# Whole number >= 1 (a fraction is rounded up).
SCALE=$(awk -v s="${BERTH_TIMEOUT_SCALE:-1}" 'BEGIN { s += 0; n = int(s); if (n < s) n++;
	print (n < 1 ? 1 : n) }')
export BERTH_TIMEOUT_SCALE=$SCALE
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"

: "${BERTHD:?BERTHD must point at the berthd binary}"
BERTHD=$(readlink -f "$BERTHD")
PY=/usr/bin/python3
T=$(mktemp -d /tmp/berthd-test.XXXXXX)
chmod 755 "$T"
BERTHD_PGID=
CLEANUPS=()

fail() {
	echo "FAIL: $*" >&2
	if [[ -f $T/berthd.log ]]; then
		echo "---- berthd log (tail) ----" >&2
		tail -n 60 "$T/berthd.log" >&2
	fi
	exit 1
}

ok() { echo "ok - $*"; }

# kill_group PGID: SIGTERM, up to 2 s (scaled) for the group to go, then SIGKILL.
kill_group() {
	kill -TERM -- "-$1" 2>/dev/null || return 0
	local i
	for ((i = 0; i < 40 * SCALE; i++)); do
		kill -0 -- "-$1" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL -- "-$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	if [[ -n $BERTHD_PGID ]]; then
		kill_group "$BERTHD_PGID"
	fi
	for c in "${CLEANUPS[@]}"; do eval "$c" || true; done
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Account ids: arbitrary unprivileged numbers (no passwd entry needed for virtual
# accounts). Outside root runs, the account must be ourselves.
if [[ $(id -u) -eq 0 ]]; then
	ACCT_UID=40001
	ACCT_GID=40001
	ACCT_GROUPS=40002,40003
else
	ACCT_UID=$(id -u)
	ACCT_GID=$(id -g)
	ACCT_GROUPS=none
fi
PASSWORD="demo-pass-$RANDOM-word"
JAIL=$T/jail
PORT=$(free_port)

setup_keys() {
	ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519" -C host
	ssh-keygen -q -t ed25519 -N '' -f "$T/client_key" -C client
	ssh-keygen -q -t ed25519 -N '' -f "$T/other_key" -C other
	chmod 600 "$T"/host_ed25519 "$T"/client_key "$T"/other_key
}

# write_accounts [extra lines for the demo stanza...]
write_accounts() {
	local hash
	hash=$(mkpasswd -m yescrypt "$PASSWORD")
	mkdir -p "$JAIL"
	chown "$ACCT_UID:$ACCT_GID" "$JAIL"
	chmod 755 "$JAIL"
	{
		echo "Account demo"
		echo "	Password $hash"
		echo "	Uid $ACCT_UID"
		echo "	Gid $ACCT_GID"
		echo "	Groups $ACCT_GROUPS"
		echo "	Root $JAIL"
		echo "	AuthorizedKeysFile $T/authorized_keys"
		for l in "$@"; do echo "	$l"; done
	} >"$T/accounts"
	chmod 600 "$T/accounts"
	[[ -f $T/authorized_keys ]] || cp "$T/client_key.pub" "$T/authorized_keys"
	chmod 644 "$T/authorized_keys"
}

# jail_account NAME [lines...]: append a virtual account with its own jail $T/root-NAME
# (created, empty) to $T/accounts, authenticated by the keys in $T/authorized_keys; the
# lines go into its stanza.
jail_account() {
	local name=$1
	shift
	mkdir -p "$T/root-$name"
	{
		echo
		echo "Account $name"
		echo "	Uid $ACCT_UID"
		echo "	Gid $ACCT_GID"
		echo "	Root $T/root-$name"
		echo "	AuthorizedKeysFile $T/authorized_keys"
		for l in "$@"; do echo "	$l"; done
	} >>"$T/accounts"
}

# readonly_key: a client key $T/ro_key whose line in $T/ro_keys carries
# command="internal-sftp -R" (its sessions are read-only).
readonly_key() {
	ssh-keygen -q -t ed25519 -N '' -f "$T/ro_key" -C ro
	chmod 600 "$T/ro_key"
	echo "command=\"internal-sftp -R\" $(cat "$T/ro_key.pub")" >"$T/ro_keys"
	chmod 644 "$T/ro_keys"
}

# partners_group: append the Group stanza the policy tests share: everything allowed, a
# drop box /in for *.csv (not *.exe), /out to list and download, /ro read-only.
partners_group() {
	printf '\nGroup partners\n'
	printf '\t%s\n' "Permissions / full" "Permissions /in upload-only" \
		"Filter /in *.csv,!*.exe" "Permissions /out list,download" \
		"Permissions /ro read-only" "SetstatMode apply"
} >>"$T/accounts"

# write_config [extra config lines...]
write_config() {
	{
		echo "ListenAddress 127.0.0.1"
		echo "Port $PORT"
		echo "HostKey $T/host_ed25519"
		echo "AccountsFile $T/accounts"
		echo "StateDirectory $T"
		echo "PidFile none"
		echo "LogLevel VERBOSE"
		echo "LogTarget stderr"
		for l in "$@"; do echo "$l"; done
	} >"$T/berthd.conf"
}

start_berthd() {
	: >"$T/berthd.log"
	setsid "$BERTHD" -D -e -f "$T/berthd.conf" "$@" >>"$T/berthd.log" 2>&1 &
	BERTHD_PID=$!
	BERTHD_PGID=$BERTHD_PID
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		if grep -q "Server listening" "$T/berthd.log"; then
			return 0
		fi
		kill -0 "$BERTHD_PID" 2>/dev/null || fail "berthd exited at startup"
		sleep 0.05
	done
	fail "berthd did not start listening"
}

stop_berthd() {
	if [[ -n $BERTHD_PGID ]]; then
		kill_group "$BERTHD_PGID"
		BERTHD_PGID=
	fi
}

# connection_pids: the master's connection processes (its children but the session
# spawner).
connection_pids() {
	local p
	for p in $(cat "/proc/$BERTHD_PID/task/$BERTHD_PID/children" 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '^[^ ]* --internal-spawner' ||
			echo "$p"
	done
}

# wait_no_connections: until the master has no connection process left (all reaped, so
# every limit counter is back to zero).
wait_no_connections() {
	local i
	for ((i = 0; i < 200 * SCALE; i++)); do
		[[ -z $(connection_pids) ]] && return 0
		sleep 0.05
	done
	fail "connection processes still running"
}

SSH_COMMON=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o BatchMode=yes -o ConnectTimeout=$((10 * SCALE)) -o ServerAliveInterval=$((5 * SCALE)))

# sftp_key BATCHFILE [user] [key]: run OpenSSH sftp with a key
sftp_key() {
	local batch=$1 user=${2:-demo} key=${3:-$T/client_key}
	sftp -q "${SSH_COMMON[@]}" -o IdentitiesOnly=yes -o PreferredAuthentications=publickey \
		-i "$key" -P "$PORT" -b "$batch" "$user@127.0.0.1"
}

# sftp_password BATCHFILE PASSWORD [user]: OpenSSH sftp, password via SSH_ASKPASS
sftp_password() {
	local batch=$1 pw=$2 user=${3:-demo}
	printf '#!/bin/sh\necho "%s"\n' "$pw" >"$T/askpass"
	chmod 700 "$T/askpass"
	SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
		sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o ConnectTimeout=$((10 * SCALE)) -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 -o BatchMode=no \
		-P "$PORT" -b "$batch" "$user@127.0.0.1" </dev/null
}

log_has() { grep -qE "$1" "$T/berthd.log"; }

# wait_log REGEX [TRIES]: until the log matches; TRIES x 0.05 s (default 5 s), scaled.
wait_log() {
	local re=$1 n=${2:-100} i
	for ((i = 0; i < n * SCALE; i++)); do
		log_has "$re" && return 0
		sleep 0.05
	done
	return 1
}

mkdata() { head -c "$2" /dev/urandom >"$1"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

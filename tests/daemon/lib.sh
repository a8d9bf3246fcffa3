# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the berthd integration tests (sourced, bash).
#
# Every test starts its own berthd on 127.0.0.1 on a free port with a generated config,
# generated host and client keys, and a virtual account "demo" jailed to $JAIL. The
# daemon runs in its own process group and is killed (with all its connection
# processes) by the EXIT trap.

set -euo pipefail

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

cleanup() {
	local rc=$?
	if [[ -n $BERTHD_PGID ]]; then
		kill -TERM -- "-$BERTHD_PGID" 2>/dev/null || true
		sleep 0.2
		kill -KILL -- "-$BERTHD_PGID" 2>/dev/null || true
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
	for _ in $(seq 1 100); do
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
		kill -TERM -- "-$BERTHD_PGID" 2>/dev/null || true
		sleep 0.2
		kill -KILL -- "-$BERTHD_PGID" 2>/dev/null || true
		BERTHD_PGID=
	fi
}

SSH_COMMON=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5)

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
		-o LogLevel=ERROR -o ConnectTimeout=10 -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 -o BatchMode=no \
		-P "$PORT" -b "$batch" "$user@127.0.0.1" </dev/null
}

log_has() { grep -qE "$1" "$T/berthd.log"; }

wait_log() {
	local re=$1 n=${2:-100}
	for _ in $(seq 1 "$n"); do
		log_has "$re" && return 0
		sleep 0.05
	done
	return 1
}

mkdata() { head -c "$2" /dev/urandom >"$1"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-policy.sh: what the policy layer costs. The same transfers with a policy of ten
# directory rules and a quota, and without any policy, side by side, for the drop-in
# (through bench-dropin.sh) and for berthd (over SSH).
#
# Not a pass/fail test and not registered in meson. Run as root on an idle machine.
#
# Usage: tests/bench/bench-policy.sh [options]
#   --runs N         timed runs per variant and workload, alternating (default 5)
#   --size MIB       size of the daemon's big-file transfers (default 1024)
#   --files N        number of 4 KiB files for the small-file workloads (default 1000)
#   --no-dropin      skip the drop-in part
#   --no-daemon      skip the daemon part
#   -h, --help       this text
#
# Variants: "nopolicy" (an account without any policy keyword), "policy" (ten Permissions
# rules and QuotaSize: every path is canonicalised and decided, every write reserves
# quota) and, for the daemon, "hash": the daemon variants run with UploadChecksum none so
# that policy/nopolicy measures the rules and the quota alone, and "hash" (no policy,
# UploadChecksum sha256, the default) shows what the upload SHA-256 costs. Output: medians
# and the ratios policy/nopolicy (target: within 3%, i.e. <= 1.03) and hash/nopolicy. A
# failed run is reported and left out of the medians.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
berthd="$repo/build/src/berthd/berthd"
dropin="$repo/build/src/sftp-server/berth-sftp-server"
runs=5
size=1024
nfiles=1000
do_dropin=1
do_daemon=1
PY=/usr/bin/python3

usage() { sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--files) nfiles=$2; shift 2 ;;
	--no-dropin) do_dropin=0; shift ;;
	--no-daemon) do_daemon=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 2; }

W=$(mktemp -d /dev/shm/bench-policy.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

# Ten directory rules (paths that exist in the benchmarks and elsewhere) and a quota.
policy_lines() {
	local base=$1
	cat <<EOF
	Permissions / full
	Permissions $base full
	Permissions /etc read-only
	Permissions /var/in upload-only
	Permissions /var/out list,download
	Permissions /srv/a full
	Permissions /srv/b read-only
	Permissions /srv/c none
	Permissions /home/x/in upload-only
	Permissions /home/x/out read-only
	QuotaSize 100G
EOF
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

# ---- drop-in: bench-dropin.sh with berth+policy as "berth" and plain berth as reference
if [ "$do_dropin" = 1 ]; then
	{
		echo "Defaults"
		policy_lines /tmp
		echo "	UploadChecksum none"
	} >"$W/dropin-accounts"
	printf 'Defaults\n\tUploadChecksum sha256\n' >"$W/dropin-hash"
	dropin_part() { # title accounts-file workloads
		echo "== drop-in: $1 =="
		"$here/bench-dropin.sh" --runs "$runs" --settle 60 --openssh "$dropin" --workloads "$3" \
			--berth-args "-A $2" --out "$W/dropin.tsv" "$dropin" >"$W/dropin.out" 2>&1 ||
			{ cat "$W/dropin.out"; echo "drop-in benchmark failed" >&2; exit 1; }
		printf '%-12s %-12s %14s %14s %8s\n' workload metric with without ratio
		awk -F'\t' 'NR > 1 && ($2 == "wall_s" || $2 == "cpu_s") {
			printf "%-12s %-12s %14s %14s %8s\n", $1, $2, $3, $4, $5 }' "$W/dropin.tsv"
		echo
	}
	dropin_part "-A (ten rules + QuotaSize, UploadChecksum none) vs no -A" "$W/dropin-accounts" \
		download,upload,put-small,get-small,ls-large
	dropin_part "-A (UploadChecksum sha256 only) vs no -A: what the upload SHA-256 costs" \
		"$W/dropin-hash" upload,put-small
fi

# ---- daemon: one berthd, three accounts, alternating
if [ "$do_daemon" = 1 ]; then
	ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
	cp "$W/client_key.pub" "$W/authorized_keys"
	chmod 644 "$W/authorized_keys"
	mkdir -p "$W/local/small"
	head -c $((size * 1024 * 1024)) /dev/urandom >"$W/local/big.bin"
	for i in $(seq 1 "$nfiles"); do head -c 4096 /dev/urandom >"$W/local/small/f$i"; done
	: >"$W/accounts"
	for v in nopolicy policy hash; do
		mkdir -p "$W/$v"
		chown 40001:40001 "$W/$v"
		{
			echo "Account $v"
			echo "	Uid 40001"
			echo "	Gid 40001"
			echo "	Root $W/$v"
			echo "	AuthorizedKeysFile $W/authorized_keys"
			[[ $v != policy ]] || policy_lines /up
			[[ $v == hash ]] || echo "	UploadChecksum none"
		} >>"$W/accounts"
	done
	port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$W/berthd.conf" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $W/host_key
AccountsFile $W/accounts
StateDirectory $W
PidFile none
LogLevel ERROR
LogTarget stderr
EOF
	"$berthd" -t -f "$W/berthd.conf"
	setsid "$berthd" -D -e -f "$W/berthd.conf" 2>"$W/berthd.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		ssh-keyscan -p "$port" 127.0.0.1 >/dev/null 2>&1 && break
		sleep 0.1
	done
	run() { # account batch
		sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
			-o BatchMode=yes -o IdentitiesOnly=yes -i "$W/client_key" \
			-c aes128-gcm@openssh.com -P "$port" -b "$2" "$1@127.0.0.1" >/dev/null
	}
	# Server CPU of finished sessions: the master's cutime+cstime (clock ticks) counts every
	# monitor and network child once reaped, the session spawner's every worker. Less
	# sensitive to a busy machine than wall time.
	tree_cpu() {
		local p
		for p in "$BPID" $(pgrep -P "$BPID" -f -- '--internal-spawner'); do
			awk '{print $16 + $17}' "/proc/$p/stat"
		done | paste -sd+ | bc
	}
	BPID=${pids[0]}
	declare -A T C
	failed=0
	for r in $(seq 1 "$runs"); do
		if ((r % 2)); then order="nopolicy policy hash"; else order="hash policy nopolicy"; fi
		for v in $order; do
			for w in put get putsmall getsmall; do
				case $w in
				put) echo "put $W/local/big.bin /up/big.bin" ;;
				get) echo "get /up/big.bin /dev/null" ;;
				putsmall) echo "put -r $W/local/small /up/small$r" ;;
				getsmall) echo "get -r /up/small$r $W/local/down-$v-$r" ;;
				esac >"$W/batch"
				[[ $w != put ]] || { mkdir -p "$W/$v/up"; chown 40001:40001 "$W/$v/up"; }
				t0=$(date +%s%N)
				c0=$(tree_cpu)
				if run "$v" "$W/batch"; then
					t1=$(date +%s%N)
					T[$v-$w]+="$(((t1 - t0) / 1000)) "
					C[$v-$w]+="$(($(tree_cpu) - c0)) "
				else
					echo "run $r: $v $w FAILED: $(grep -v '^berthd: \(open\|close\|transfer\|set\|sent\|Accepted\|Starting\|Close\)' "$W/berthd.log" | tail -n 2 | tr '\n' ' ')" >&2
					failed=$((failed + 1))
				fi
			done
			if ! cmp -s "$W/local/big.bin" "$W/$v/up/big.bin"; then
				echo "run $r: $v: the uploaded file differs (left out)" >&2
				T[$v-put]="${T[$v-put]% * } "
			fi
			rm -rf "$W/local/down-$v-$r" "$W/$v/up/big.bin"
		done
		echo "run $r/$runs done" >&2
	done
	echo "== berthd over SSH (aes128-gcm), $runs runs alternating, medians in seconds =="
	printf '%-26s %10s %10s %10s %14s %12s\n' workload nopolicy policy hash policy/nopol hash/nopol
	for w in put get putsmall getsmall; do
		a=$(echo ${T[nopolicy-$w]} | tr ' ' '\n' | median)
		b=$(echo ${T[policy-$w]} | tr ' ' '\n' | median)
		c=$(echo ${T[hash-$w]} | tr ' ' '\n' | median)
		case $w in
		put) name="put $size MiB" ;;
		get) name="get $size MiB" ;;
		putsmall) name="put $nfiles x 4 KiB" ;;
		getsmall) name="get $nfiles x 4 KiB" ;;
		esac
		printf '%-26s %10.3f %10.3f %10.3f %14s %12s\n' "$name" "$(awk -v x="$a" 'BEGIN{print x/1e6}')" \
			"$(awk -v x="$b" 'BEGIN{print x/1e6}')" "$(awk -v x="$c" 'BEGIN{print x/1e6}')" \
			"$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
	done
	echo
	echo "server CPU (master, monitors, network children, workers), medians in seconds:"
	printf '%-26s %10s %10s %10s %14s %12s\n' workload nopolicy policy hash policy/nopol hash/nopol
	hz=$(getconf CLK_TCK)
	for w in put get putsmall getsmall; do
		a=$(echo ${C[nopolicy-$w]} | tr ' ' '\n' | median)
		b=$(echo ${C[policy-$w]} | tr ' ' '\n' | median)
		c=$(echo ${C[hash-$w]} | tr ' ' '\n' | median)
		printf '%-26s %10.2f %10.2f %10.2f %14s %12s\n' "$w" "$(awk -v x="$a" -v h="$hz" 'BEGIN{print x/h}')" \
			"$(awk -v x="$b" -v h="$hz" 'BEGIN{print x/h}')" "$(awk -v x="$c" -v h="$hz" 'BEGIN{print x/h}')" \
			"$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
	done
	[[ $failed -eq 0 ]] || echo "$failed run(s) failed and are left out of the medians"
fi

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-daemon.sh: berthd vs OpenSSH sshd + sftp-server, side by side, over real SSH.
#
# Not a pass/fail test and not registered in meson. Run as root on an idle machine.
#
# Usage: tests/bench/bench-daemon.sh [options] [BERTHD]
#   BERTHD           berthd binary (default: build/src/berthd/berthd under the repository)
#   --size MIB       size of the big-file transfers (default 1024)
#   --files N        number of 4 KiB files for the small-file workloads (default 1000)
#   --seq N          sequential connect+auth+open SFTP runs (default 20)
#   --conc N         concurrent connect+auth+open SFTP runs (default 100)
#   --idle N         idle authenticated sessions for the PSS measurement (default 20)
#   --sshd PATH      OpenSSH sshd (default /usr/sbin/sshd)
#   -h, --help       this text
#
# Workloads: big get/put with aes128-gcm@openssh.com and chacha20-poly1305@openssh.com,
# put/get of N small files, connect+auth+open SFTP (sequential mean, N concurrent wall
# time), PSS per idle authenticated session (from /proc/PID/smaps_rollup, summed over the
# daemon's per-connection processes). Both servers serve from the same tmpfs directory
# tree; the same OpenSSH sftp client drives both. Output: a table with berth/OpenSSH
# ratios (lower is better for every row).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
berthd="$repo/build/src/berthd/berthd"
sshd=/usr/sbin/sshd
size=1024
nfiles=1000
nseq=20
nconc=100
nidle=20
PY=/usr/bin/python3

usage() { sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--size) size=$2; shift 2 ;;
	--files) nfiles=$2; shift 2 ;;
	--seq) nseq=$2; shift 2 ;;
	--conc) nconc=$2; shift 2 ;;
	--idle) nidle=$2; shift 2 ;;
	--sshd) sshd=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
	*) berthd=$1; shift ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root (sshd needs it)" >&2; exit 2; }
berthd=$(readlink -f "$berthd")

W=$(mktemp -d /dev/shm/bench-daemon.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
	local rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "bench failed (status $rc); server logs:" >&2
		tail -n 20 "$W/berthd.log" "$W/sshd.log" >&2 2>/dev/null || true
	fi
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# ---- keys, data, servers
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
cp "$W/client_key.pub" "$W/authorized_keys"
chmod 644 "$W/authorized_keys"
mkdir -p "$W/berth" "$W/ossh" "$W/local/small"
chown 40001:40001 "$W/berth"
echo "creating ${size} MiB test file and $nfiles small files..."
head -c $((size * 1024 * 1024)) /dev/urandom >"$W/local/big.bin"
for i in $(seq 1 "$nfiles"); do head -c 4096 /dev/urandom >"$W/local/small/f$i"; done

BPORT=$(free_port)
cat >"$W/accounts" <<EOF
Account demo
	Uid 40001
	Gid 40001
	Root $W/berth
	AuthorizedKeysFile $W/authorized_keys
EOF
cat >"$W/berthd.conf" <<EOF
ListenAddress 127.0.0.1
Port $BPORT
HostKey $W/host_key
AccountsFile $W/accounts
StateDirectory $W
PidFile none
LogLevel ERROR
LogTarget stderr
# The concurrent-login workload comes from one address: lift the per-source caps
# (OpenSSH's MaxStartups is raised below for the same reason).
PerSourceMaxStartups 1000
PerSourceMaxConnections 1000
EOF
setsid "$berthd" -D -e -f "$W/berthd.conf" 2>"$W/berthd.log" &
BPID=$!
pids+=("$BPID")

SPORT=$(free_port)
mkdir -p /run/sshd
cat >"$W/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile none
AuthorizedKeysFile $W/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
MaxStartups 400:30:800
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
setsid "$sshd" -f "$W/sshd_config" -D -p "$SPORT" -E "$W/sshd.log" &
SPID=$!
pids+=("$SPID")
wait_banner() { # port: until the server sends its SSH banner
	$PY - "$1" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
        if s.recv(8).startswith(b"SSH-"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("server on port %s did not come up" % sys.argv[1])
EOF
}
wait_banner "$BPORT"
wait_banner "$SPORT"

# run_sftp SERVER CIPHER BATCH
run_sftp() {
	local port dir
	if [[ $1 == berth ]]; then port=$BPORT; dir=/; else port=$SPORT; dir=$W/ossh; fi
	{ echo "cd $dir"; cat "$3"; } >"$W/batch.$1"
	sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o BatchMode=yes -o IdentitiesOnly=yes -i "$W/client_key" -c "$2" -P "$port" \
		-b "$W/batch.$1" "$([[ $1 == berth ]] && echo demo || echo root)@127.0.0.1" >/dev/null
}
user_for() { [[ $1 == berth ]] && echo demo || echo root; }
port_for() { [[ $1 == berth ]] && echo "$BPORT" || echo "$SPORT"; }
dir_for() { [[ $1 == berth ]] && echo "$W/berth" || echo "$W/ossh"; }

declare -A R
timeit() { # key, command...
	local key=$1 t0 t1
	shift
	t0=$(now)
	"$@"
	t1=$(now)
	R[$key]=$(echo "$t1 - $t0" | bc -l)
}

for srv in berth openssh; do
	for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
		echo "put $W/local/big.bin big.bin" >"$W/b.put"
		echo "get big.bin $W/local/big.down" >"$W/b.get"
		timeit "put-$c-$srv" run_sftp "$srv" "$c" "$W/b.put"
		timeit "get-$c-$srv" run_sftp "$srv" "$c" "$W/b.get"
		cmp -s "$W/local/big.bin" "$W/local/big.down" || echo "WARNING: $srv $c checksum mismatch"
		rm -f "$W/local/big.down" "$(dir_for "$srv")/big.bin"
	done
	echo "put -r $W/local/small small" >"$W/s.put"
	echo "get -r small $W/local/small.down" >"$W/s.get"
	timeit "putsmall-$srv" run_sftp "$srv" aes128-gcm@openssh.com "$W/s.put"
	timeit "getsmall-$srv" run_sftp "$srv" aes128-gcm@openssh.com "$W/s.get"
	rm -rf "$W/local/small.down"
	echo "ls" >"$W/ls"
	t0=$(now)
	for i in $(seq 1 "$nseq"); do run_sftp "$srv" aes128-gcm@openssh.com "$W/ls"; done
	t1=$(now)
	R[seq-$srv]=$(echo "($t1 - $t0) / $nseq" | bc -l)
	t0=$(now)
	cpids=()
	for i in $(seq 1 "$nconc"); do
		run_sftp "$srv" aes128-gcm@openssh.com "$W/ls" &
		cpids+=($!)
	done
	fails=0
	for p in "${cpids[@]}"; do wait "$p" || fails=$((fails + 1)); done
	t1=$(now)
	R[conc-$srv]=$(echo "$t1 - $t0" | bc -l)
	[[ $fails -eq 0 ]] || echo "WARNING: $srv: $fails of $nconc concurrent logins failed"
	# PSS per idle authenticated SFTP session.
	R[pss-$srv]=$($PY - "$(port_for "$srv")" "$(user_for "$srv")" "$W/client_key" "$nidle" \
		"$([[ $srv == berth ]] && echo "$BPID" || echo "$SPID")" <<'EOF'
import os, sys, time, paramiko
port, user, key, n, master = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def kids(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p))
    return out
def tree(pid):
    r = []
    for k in kids(pid):
        r.append(k); r.extend(tree(k))
    return r
def pss(pid):
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
k = paramiko.Ed25519Key.from_private_key_file(key)
before = sum(pss(p) for p in tree(master))
sess = []
for i in range(n):
    c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port, user, pkey=k, allow_agent=False, look_for_keys=False)
    s = c.open_sftp(); s.listdir(".")
    sess.append((c, s))
time.sleep(1)
after = sum(pss(p) for p in tree(master))
print("%.0f" % ((after - before) / n))
for c, s in sess:
    c.close()
EOF
)
done

ratio() { echo "scale=2; $1 / $2" | bc -l; }
row() { printf '%-50s %12.3f %12.3f %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
echo
printf '%-50s %12s %12s %8s\n' "workload" "berth" "OpenSSH" "ratio"
for c in aes128-gcm@openssh.com chacha20-poly1305@openssh.com; do
	row "put ${size} MiB $c (s)" "${R[put-$c-berth]}" "${R[put-$c-openssh]}"
	row "get ${size} MiB $c (s)" "${R[get-$c-berth]}" "${R[get-$c-openssh]}"
done
row "put $nfiles x 4 KiB (s)" "${R[putsmall-berth]}" "${R[putsmall-openssh]}"
row "get $nfiles x 4 KiB (s)" "${R[getsmall-berth]}" "${R[getsmall-openssh]}"
row "connect+auth+sftp, sequential mean (s)" "${R[seq-berth]}" "${R[seq-openssh]}"
row "connect+auth+sftp, $nconc concurrent wall (s)" "${R[conc-berth]}" "${R[conc-openssh]}"
row "PSS per idle session (KiB)" "${R[pss-berth]}" "${R[pss-openssh]}"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-ftps.sh: berthd's FTPS vs Debian's vsftpd, side by side, over real FTPS.
#
# Not a pass/fail test and not registered in meson. Run as root on an idle machine.
#
# Usage: tests/bench/bench-ftps.sh [options] [BERTHD]
#   BERTHD           berthd binary (default: build/src/berthd/berthd under the repository)
#   --runs N         timed runs per workload and server, alternating (default 5)
#   --size MIB       size of the big-file transfers (default 1024)
#   --files N        number of 4 KiB files for the mirror workloads (default 1000)
#   --logins N       connect+login+LIST runs per timed run (default 10)
#   --idle N         idle logged-in sessions for the PSS measurement (default 20)
#   --vsftpd PATH    vsftpd binary (default /usr/sbin/vsftpd)
#   --workloads LIST comma list of download,upload,mirror-up,mirror-up-same,mirror-down,
#                    login-list,pss,pss-login (default: all)
#   -h, --help       this text
#
# Both servers get a generated configuration on free ports of 127.0.0.1, the same EC P-256
# certificate, explicit FTPS with every login and data connection protected and TLS
# session reuse required (vsftpd: ssl_enable, force_local_logins_ssl,
# force_local_data_ssl, require_ssl_reuse), and the same local user (created by the bench,
# removed at the end) with its files on tmpfs. The same clients drive both, pinned to
# TLS 1.3 with AES-128-GCM: curl for the big download and upload (PROT P), lftp mirror for
# N small files up and down (mirror-up with lftp's defaults, where berthd also gets an MFMT
# per file because it lists MFMT in FEAT; mirror-up-same with ftp:use-feat off, so both
# servers receive exactly the same commands), curl for connect + login + LIST, Python
# ftplib for the idle
# sessions (pss: logged in, PROT P, one NLST done; pss-login: logged in and PROT P, no
# data connection yet) whose PSS (from /proc/PID/smaps_rollup over the server's process tree) is
# measured. Each run does berth then vsftpd or the reverse (alternating). For the small
# files the servers' CPU per file is reported as well (master plus reaped session
# processes, /proc/PID/stat): wall time there is mostly the client's CPU and scheduling.
# Output: medians, and the ratio berth/vsftpd (lower is better for every row), with the targets: wall time
# <= 0.83x on the transfer workloads (1.2x the throughput), memory per session <= 1.0x.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
berthd="$repo/build/src/berthd/berthd"
vsftpd=/usr/sbin/vsftpd
runs=5
size=1024
nfiles=1000
nlogins=10
nidle=20
wl=download,upload,mirror-up,mirror-up-same,mirror-down,login-list,pss,pss-login
PY=/usr/bin/python3
BUSER=berthbench
export PYTHONPATH="$repo/tests/daemon${PYTHONPATH:+:$PYTHONPATH}" # ftpslib.py

usage() { sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--files) nfiles=$2; shift 2 ;;
	--logins) nlogins=$2; shift 2 ;;
	--idle) nidle=$2; shift 2 ;;
	--vsftpd) vsftpd=$2; shift 2 ;;
	--workloads) wl=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
	*) berthd=$1; shift ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root (vsftpd and the bench user need it)" >&2; exit 2; }
[[ -x $vsftpd ]] || { echo "no $vsftpd: scripts/deps --bench" >&2; exit 2; }
berthd=$(readlink -f "$berthd")
id "$BUSER" >/dev/null 2>&1 && { echo "user $BUSER exists already; remove it first" >&2; exit 2; }

W=$(mktemp -d /dev/shm/bench-ftps.XXXXXX)
chmod 755 "$W"
pids=()
made_user=0
cleanup() {
	local rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "bench failed (status $rc); server logs:" >&2
		tail -n 20 "$W/berthd.log" "$W/vsftpd.log" >&2 2>/dev/null || true
	fi
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
	[[ $made_user -eq 1 ]] && userdel "$BUSER" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# ---- the local user, certificate, data
PASSWORD="bench-$RANDOM-$RANDOM-pw"
useradd --no-create-home --home-dir "$W/vs" --shell /bin/bash "$BUSER"
made_user=1
echo "$BUSER:$PASSWORD" | chpasswd
BUID=$(id -u "$BUSER")
BGID=$(id -g "$BUSER")
mkdir -p "$W/vs" "$W/berth" "$W/local/small" /var/run/vsftpd/empty
chown "$BUID:$BGID" "$W/vs" "$W/berth"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
chmod 600 "$W/key.pem"
echo "creating a ${size} MiB file and $nfiles files of 4 KiB on tmpfs..."
head -c $((size * 1024 * 1024)) /dev/urandom >"$W/local/big.bin"
for i in $(seq 1 "$nfiles"); do head -c 4096 /dev/urandom >"$W/local/small/f$i"; done
for d in vs berth; do
	cp "$W/local/big.bin" "$W/$d/big.bin"
	mkdir -p "$W/$d/list"
	for i in $(seq 1 50); do : >"$W/$d/list/entry$i"; done
	chown -R "$BUID:$BGID" "$W/$d"
done

# ---- berthd
BPORT=$(free_port)
BFPORT=$(free_port)
cat >"$W/accounts" <<EOF
Account $BUSER
	Password $(mkpasswd -m yescrypt "$PASSWORD")
	Uid $BUID
	Gid $BGID
	Root $W/berth
EOF
chmod 600 "$W/accounts"
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
cat >"$W/berthd.conf" <<EOF
ListenAddress 127.0.0.1
Port $BPORT
HostKey $W/host_key
AccountsFile $W/accounts
StateDirectory $W
PidFile none
LogLevel ERROR
LogTarget stderr
FTPSListenAddress 127.0.0.1:$BFPORT
FTPSCertificateFile $W/cert.pem
FTPSCertificateKeyFile $W/key.pem
FTPSPassivePorts 40000-44999
PerSourceMaxStartups 1000
PerSourceMaxConnections 1000
EOF
setsid "$berthd" -D -e -f "$W/berthd.conf" 2>"$W/berthd.log" &
BPID=$!
pids+=("$BPID")

# ---- vsftpd (Debian's package, the settings the issue names)
VPORT=$(free_port)
cat >"$W/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$VPORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
connect_from_port_20=NO
pasv_enable=YES
pasv_min_port=45000
pasv_max_port=49999
max_clients=2000
max_per_ip=2000
ssl_enable=YES
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=YES
rsa_cert_file=$W/cert.pem
rsa_private_key_file=$W/key.pem
EOF
setsid "$vsftpd" "$W/vsftpd.conf" 2>"$W/vsftpd.log" &
VPID=$!
pids+=("$VPID")

wait_220() { # port: until the server greets
	$PY - "$1" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
        if s.recv(4).startswith(b"220"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("server on port %s did not come up" % sys.argv[1])
EOF
}
wait_220 "$BFPORT"
wait_220 "$VPORT"
port_of() { [[ $1 == berth ]] && echo "$BFPORT" || echo "$VPORT"; }
dir_of() { [[ $1 == berth ]] && echo "$W/berth" || echo "$W/vs"; }
pid_of() { [[ $1 == berth ]] && echo "$BPID" || echo "$VPID"; }

CURL=(curl -sS --ssl-reqd -k --tls13-ciphers TLS_AES_128_GCM_SHA256 --tlsv1.3
	-u "$BUSER:$PASSWORD")
LFTP_SET="set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no;"
LFTP_SET+=" set ssl:priority NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM;"
LFTP_SET+=" set net:max-retries 1; set cmd:fail-exit true;"

# CPU time (ticks) the server's master and its reaped children used so far, once no
# session process is left. berthd's workers are children of its session spawner, whose
# own reaped-children times count them.
spawner_of() { pgrep -P "$1" -f -- '--internal-spawner' || true; }
sessions_left() { # master
	local sp
	sp=$(spawner_of "$1")
	pgrep -P "$1" | grep -qvx "${sp:-none}" || { [[ -n $sp ]] && pgrep -P "$sp" >/dev/null; }
}
server_ticks() { # server
	local pid p
	pid=$(pid_of "$1")
	for _ in $(seq 1 200); do
		sessions_left "$pid" || break
		sleep 0.05
	done
	for p in "$pid" $(spawner_of "$pid"); do
		awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat"
	done | paste -sd+ | bc
}

# One workload on one server: prints the wall time in seconds, checks the result. The
# small-file workloads also leave the server's CPU milliseconds per file in $W/cpu.
work() { # workload server
	local w=$1 s=$2 port dir t0 t1 c0
	port=$(port_of "$s")
	dir=$(dir_of "$s")
	c0=$(server_ticks "$s")
	case $w in
	download)
		t0=$(now)
		"${CURL[@]}" "ftp://127.0.0.1:$port/big.bin" -o "$W/local/big.down"
		t1=$(now)
		cmp -s "$W/local/big.bin" "$W/local/big.down" || { echo "$s: download differs" >&2; exit 1; }
		rm -f "$W/local/big.down"
		;;
	upload)
		rm -f "$dir/up.bin"
		t0=$(now)
		"${CURL[@]}" -T "$W/local/big.bin" "ftp://127.0.0.1:$port/up.bin"
		t1=$(now)
		cmp -s "$W/local/big.bin" "$dir/up.bin" || { echo "$s: upload differs" >&2; exit 1; }
		rm -f "$dir/up.bin"
		;;
	mirror-up | mirror-up-same)
		rm -rf "$dir/small"
		local same=""
		[[ $w == mirror-up-same ]] && same="set ftp:use-feat false;"
		t0=$(now)
		lftp -u "$BUSER,$PASSWORD" -p "$port" \
			-e "$LFTP_SET $same mirror -R $W/local/small small; quit" 127.0.0.1 >/dev/null
		t1=$(now)
		diff -r "$W/local/small" "$dir/small" >/dev/null || { echo "$s: mirror up differs" >&2; exit 1; }
		;;
	mirror-down)
		rm -rf "$W/local/small.down"
		t0=$(now)
		lftp -u "$BUSER,$PASSWORD" -p "$port" \
			-e "$LFTP_SET mirror small $W/local/small.down; quit" 127.0.0.1 >/dev/null
		t1=$(now)
		diff -r "$W/local/small" "$W/local/small.down" >/dev/null ||
			{ echo "$s: mirror down differs" >&2; exit 1; }
		;;
	login-list)
		t0=$(now)
		for _ in $(seq 1 "$nlogins"); do
			"${CURL[@]}" "ftp://127.0.0.1:$port/list/" | grep -q entry50 ||
				{ echo "$s: LIST incomplete" >&2; exit 1; }
		done
		t1=$(now)
		echo "($t1 - $t0) / $nlogins" | bc -l
		return
		;;
	esac
	echo "($(server_ticks "$s") - $c0) * 1000 / $(getconf CLK_TCK) / $nfiles" | bc -l >"$W/cpu"
	echo "$t1 - $t0" | bc -l
}

# Control commands per uploaded file (untimed, lftp's debug output): what each server
# is asked to do in mirror-up and mirror-up-same.
cmds_per_file() { # server same
	local dir same=""
	dir=$(dir_of "$1")
	[[ $2 == 1 ]] && same="set ftp:use-feat false;"
	rm -rf "$dir/small"
	lftp -d -u "$BUSER,$PASSWORD" -p "$(port_of "$1")" \
		-e "$LFTP_SET $same mirror -R $W/local/small small; quit" 127.0.0.1 2>&1 >/dev/null |
		grep -c -- '^---> ' | awk -v n="$nfiles" '{printf "%.2f", $1 / n}'
}

declare -A T C
IFS=, read -r -a workloads <<<"$wl"
has() { [[ ",$wl," == *",$1,"* ]]; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for w in "${workloads[@]}"; do
	[[ $w == pss || $w == pss-login ]] && continue
	work "$w" berth >/dev/null # warm-up, untimed
	work "$w" vsftpd >/dev/null
	for r in $(seq 1 "$runs"); do
		if ((r % 2)); then order=(berth vsftpd); else order=(vsftpd berth); fi
		for s in "${order[@]}"; do
			T[$w-$s]+="$(work "$w" "$s") "
			C[$w-$s]+="$(cat "$W/cpu" 2>/dev/null || echo 0) "
		done
	done
	echo "  $w: berth ${T[$w-berth]}| vsftpd ${T[$w-vsftpd]}"
done

# ---- PSS per idle logged-in session (PROT P; with one NLST done, or none)
pss() { # server list(1|0)
	$PY - "$(port_of "$1")" "$BUSER" "$PASSWORD" "$nidle" "$(pid_of "$1")" "$2" <<'EOF'
import sys, time
from ftpslib import ReusingFTP_TLS, context, pss, tree
port, user, pw, n, master = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
do_list = sys.argv[6] == "1"
before = sum(pss(p) for p in [master] + tree(master))
sess = []
for i in range(n):
    f = ReusingFTP_TLS(context=context(), timeout=60)
    f.connect("127.0.0.1", port); f.login(user, pw); f.prot_p()
    if do_list:
        f.nlst("list")
    sess.append(f)
time.sleep(1)  # let the processes settle (not a synchronisation: nothing waits on it)
procs = [master] + tree(master)
after = sum(pss(p) for p in procs)
print("%.0f %d" % ((after - before) / n, (len(procs) - 1) // n))
for f in sess:
    f.quit()
EOF
}
if has pss; then
	read -r T[pss-berth] PROCS_B < <(pss berth 1)
	read -r T[pss-vsftpd] PROCS_V < <(pss vsftpd 1)
fi
if has pss-login; then
	read -r T[pss-login-berth] PROCS_B < <(pss berth 0)
	read -r T[pss-login-vsftpd] PROCS_V < <(pss vsftpd 0)
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
printf '\n%-44s %12s %12s %7s %8s\n' "workload (median of $runs)" berth vsftpd ratio target
line() { # label berth vsftpd target
	local r
	r=$(echo "scale=3; $2 / $3" | bc -l)
	printf '%-44s %12.3f %12.3f %7.2f %8s %s\n' "$1" "$2" "$3" "$r" "<= $4" \
		"$(echo "$r <= $4" | bc -l | sed 's/1/MET/;s/0/MISSED/')"
}
has download && line "download ${size} MiB, curl PROT P (s)" "$(median "${T[download-berth]}")" \
	"$(median "${T[download-vsftpd]}")" 0.83
has upload && line "upload ${size} MiB, curl PROT P (s)" "$(median "${T[upload-berth]}")" \
	"$(median "${T[upload-vsftpd]}")" 0.83
has mirror-up && line "lftp mirror up $nfiles x 4 KiB (s)" "$(median "${T[mirror-up-berth]}")" \
	"$(median "${T[mirror-up-vsftpd]}")" 0.83
has mirror-up-same && line "lftp mirror up, same commands (s)" \
	"$(median "${T[mirror-up-same-berth]}")" "$(median "${T[mirror-up-same-vsftpd]}")" 0.83
has mirror-down && line "lftp mirror down $nfiles x 4 KiB (s)" \
	"$(median "${T[mirror-down-berth]}")" "$(median "${T[mirror-down-vsftpd]}")" 0.83
has login-list && line "connect+login+LIST, mean (s)" "$(median "${T[login-list-berth]}")" \
	"$(median "${T[login-list-vsftpd]}")" 1.00
for w in mirror-up mirror-up-same mirror-down; do
	has $w && line "  server CPU per file, $w (ms)" "$(median "${C[$w-berth]}")" \
		"$(median "${C[$w-vsftpd]}")" 0.83
done
if has mirror-up || has mirror-up-same; then
	echo "(control commands per file, mirror up: berth $(cmds_per_file berth 0), vsftpd" \
		"$(cmds_per_file vsftpd 0); same commands: berth $(cmds_per_file berth 1), vsftpd" \
		"$(cmds_per_file vsftpd 1))"
fi
has pss && line "PSS per idle session, after a LIST (KiB)" "${T[pss-berth]}" \
	"${T[pss-vsftpd]}" 1.00
has pss-login && line "PSS per idle session, no transfer (KiB)" "${T[pss-login-berth]}" \
	"${T[pss-login-vsftpd]}" 1.00
if has pss || has pss-login; then
	echo "(processes per idle session: berth $PROCS_B, vsftpd $PROCS_V)"
fi

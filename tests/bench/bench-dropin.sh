#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-dropin.sh: berth-sftp-server vs OpenSSH sftp-server, side by side, via `sftp -D`.
#
# Not a pass/fail test and not registered in meson. See tests/bench/README.md.
#
# Usage: tests/bench/bench-dropin.sh [options] [BERTH_SERVER]
#   BERTH_SERVER        berth's server binary (default: build/src/sftp-server/berth-sftp-server
#                       under the repository root)
#   --runs N            timed runs per server and workload (default 5)
#   --warmup N          untimed runs per server and workload before those (default 1)
#   --openssh PATH      OpenSSH's server (default /usr/lib/openssh/sftp-server)
#   --berth-args ARGS   extra arguments for berth's server (word-split)
#   --workloads LIST    comma-separated subset of: download,download-pipe,upload,put-small,
#                       get-small,ls-large (download-pipe: the server on two pipes, as sshd
#                       built with USE_PIPES connects it; sftp -D itself uses a socketpair)
#   --out FILE          summary TSV (default: bench-dropin-<date>.tsv in the current directory);
#                       raw per-run numbers go to FILE with .tsv replaced by .raw.tsv
#   --strace            after the timed runs, one extra untimed run per server and workload
#                       under `strace -f`, and print syscall counts and bytes per call
#   --settle SECONDS    wait up to this long (default 300) before the timed runs for file
#                       creation to be fast again (see README: ext4 recently deleted inodes)
#   --keep              keep the temporary data directory
#   -h, --help          this text
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

runs=5
warmup=1
openssh=/usr/lib/openssh/sftp-server
berth="$repo/build/src/sftp-server/berth-sftp-server"
berth_args=""
workloads="download,download-pipe,upload,put-small,get-small,ls-large"
out="bench-dropin-$(date +%Y%m%d-%H%M%S).tsv"
do_strace=0
keep=0
settle=300

usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--openssh) openssh=$2; shift 2 ;;
	--berth-args) berth_args=$2; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--strace) do_strace=1; shift ;;
	--keep) keep=1; shift ;;
	--settle) settle=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	*) berth=$1; shift ;;
	esac
done

case "$runs" in
'' | *[!0-9]*) echo "--runs needs a positive integer" >&2; exit 2 ;;
esac
[ "$runs" -ge 1 ] || { echo "--runs needs a positive integer" >&2; exit 2; }
case "$settle" in
'' | *[!0-9]*) echo "--settle needs a number of seconds" >&2; exit 2 ;;
esac
case "$warmup" in
'' | *[!0-9]*) echo "--warmup needs a non-negative integer" >&2; exit 2 ;;
esac
for w in ${workloads//,/ }; do
	case "$w" in
	download | download-pipe | upload | put-small | get-small | ls-large) ;;
	*) echo "unknown workload: $w" >&2; exit 2 ;;
	esac
done
for bin in "$berth" "$openssh"; do
	if [ ! -x "$bin" ]; then
		echo "server binary not found or not executable: $bin" >&2
		exit 2
	fi
done
for tool in sftp cc /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done
if [ "$do_strace" = 1 ] && ! command -v strace >/dev/null; then
	echo "--strace needs strace (apt-get install strace)" >&2
	exit 2
fi
berth=$(cd "$(dirname "$berth")" && pwd)/$(basename "$berth")
openssh=$(cd "$(dirname "$openssh")" && pwd)/$(basename "$openssh")
case "$out" in
*.tsv) raw="${out%.tsv}.raw.tsv" ;;
*) raw="$out.raw.tsv" ;;
esac

# sftp -D splits its argument on whitespace, so no path on the command may contain any.
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-dropin.XXXXXX")
case "$W$berth$openssh" in
*[[:space:]]*) echo "paths must not contain whitespace: $W $berth $openssh" >&2; rm -rf "$W"; exit 2 ;;
esac
cleanup() {
	if [ "$keep" = 1 ]; then
		echo "kept data in $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cc -O2 -o "$W/rusage" "$here/bench-dropin-rusage.c"

# ---- data ----------------------------------------------------------------
log "creating data in $W (same filesystem for source and destination)"
mkdir -p "$W/src/small" "$W/src/many" "$W/dst" "$W/batch" "$W/log"
need_big=0 need_up=0 need_small=0 need_many=0
for w in ${workloads//,/ }; do
	case "$w" in
	download | download-pipe) need_big=1 ;;
	upload) need_up=1 ;;
	put-small | get-small) need_small=1 ;;
	ls-large) need_many=1 ;;
	esac
done
[ "$need_big" = 0 ] || head -c $((1024 * 1024 * 1024)) /dev/urandom >"$W/src/big.bin"
[ "$need_up" = 0 ] || head -c $((256 * 1024 * 1024)) /dev/urandom >"$W/src/up.bin"
if [ "$need_small" = 1 ]; then
	head -c $((1000 * 4096)) /dev/urandom | (cd "$W/src/small" && split -b 4096 -a 4 -d - f)
	[ "$(find "$W/src/small" -type f | wc -l)" = 1000 ] || { echo "small-file setup failed" >&2; exit 1; }
fi
if [ "$need_many" = 1 ]; then
	(cd "$W/src/many" && seq -f 'entry%05g' 1 10000 | xargs touch)
	[ "$(find "$W/src/many" -type f | wc -l)" = 10000 ] || { echo "large-dir setup failed" >&2; exit 1; }
fi
sync

# Dropping the page cache is not reliably possible here, so read every input once:
# both servers then work from a warm cache.
log "pre-reading inputs (warm page cache)"
cat "$W"/src/*.bin "$W"/src/small/* >/dev/null 2>&1 || true
ls -l "$W/src/many" >/dev/null

# create_cost: microseconds per file create, from 500 empty files made in a fresh directory.
# Normally ~25 us here. ext4 skips inodes deleted in the last 1-5 minutes when it allocates,
# and after someone (an earlier run's cleanup, another process) deleted thousands of files,
# each create can cost 300-800 us for minutes: that swamps the small-file workloads.
calib=0
create_cost() {
	calib=$((calib + 1))
	local d="$W/calib/$calib" t0 t1
	mkdir -p "$d"
	t0=$(date +%s%N)
	(cd "$d" && seq -f 'c%04g' 1 500 | xargs touch)
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000 / 500))
}
slow_create_us=100
cost=$(create_cost)
if [ "$cost" -gt "$slow_create_us" ] && [ "$settle" -gt 0 ]; then
	log "file creation is slow ($cost us/file: recently deleted inodes); waiting up to $settle s"
	waited=0
	while [ "$cost" -gt "$slow_create_us" ] && [ "$waited" -lt "$settle" ]; do
		sleep 20
		waited=$((waited + 20))
		cost=$(create_cost)
		log "  after $waited s: $cost us/file"
	done
fi
create_before=$cost

# write_batch WORKLOAD DEST: the sftp batch for one run; DEST is a fresh path per run.
# Outputs are not deleted between runs: ext4 skips recently deleted inodes when it allocates
# new ones, and after a few rounds of deleting and re-creating 1000 files each create cost
# ~1 ms of kernel CPU in that search (seen with perf), for either server, hiding the server.
write_batch() {
	local w=$1 dest=$2
	case "$w" in
	download | download-pipe) printf 'get %s/src/big.bin /dev/null\n' "$W" ;;
	upload) printf 'put %s/src/up.bin %s\n' "$W" "$dest" ;;
	put-small) printf 'put -r %s/src/small %s\n' "$W" "$dest" ;;
	get-small) printf 'get -r %s/src/small %s\n' "$W" "$dest" ;;
	ls-large) printf 'ls -l %s/src/many\n' "$W" ;;
	esac >"$W/batch/$w"
}

# Check what a run left behind: a benchmark of a server that does the wrong thing is void.
verify() {
	local w=$1 dest=$2
	case "$w" in
	download | download-pipe) return 0 ;;
	upload) cmp -s "$W/src/up.bin" "$dest" ;;
	put-small | get-small) diff -r -q "$W/src/small" "$dest" >/dev/null ;;
	ls-large) [ "$(grep -c 'entry[0-9]\{5\}$' "$W/log/ls.out")" = 10000 ] ;;
	esac
}

# run_one SERVER_NAME WORKLOAD RUN [WRAP...]: one sftp session; appends a raw TSV row if RUN
# is a number and no WRAP command (for untimed diagnostic runs) is given.
run_one() {
	local name=$1 w=$2 run=$3
	shift 3
	local bin args
	if [ "$name" = berth ]; then
		bin=$berth
		args=$berth_args
	else
		bin=$openssh
		args=""
	fi
	local dest="$W/dst/$name-$w-$run"
	write_batch "$w" "$dest"
	local ru="$W/log/rusage" errf="$W/log/$name-$w-$run.err"
	rm -f "$ru"
	local stdout=/dev/null
	[ "$w" != ls-large ] || stdout="$W/log/ls.out"
	local t0 t1 rc=0
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # args is deliberately word-split
	local how=""
	[ "$w" != download-pipe ] || how=--pipes
	sftp -b "$W/batch/$w" -D "$W/rusage $how $ru $* $bin $args" >"$stdout" 2>"$errf" || rc=$?
	t1=$(date +%s%N)
	if [ "$rc" != 0 ] || [ ! -s "$ru" ]; then
		echo "FAILED: $name $w run $run (sftp exit $rc); stderr:" >&2
		sed 's/^/  /' "$errf" >&2
		return 1
	fi
	if ! verify "$w" "$dest"; then
		echo "FAILED: $name $w run $run: result differs from the source" >&2
		return 1
	fi
	local user sys rss swall code
	read -r user sys rss swall code <"$ru"
	if [ "$code" != 0 ]; then
		echo "FAILED: $name $w run $run: server exit status $code" >&2
		return 1
	fi
	if [[ "$run" =~ ^[0-9]+$ ]] && [ $# -eq 0 ]; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$name" "$run" \
			"$(((t1 - t0) / 1000))" "$user" "$sys" "$rss" "$swall" >>"$raw"
	fi
	# Flush written data now so writeback does not land in the next timed run.
	if [ "$w" = upload ]; then
		rm -f "$dest" # one inode: harmless for the allocator, and saves 256 MiB per run
	fi
	if [ "$w" = upload ] || [ "$w" = put-small ]; then
		sync
	fi
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
printf 'workload\tserver\trun\twall_us\tuser_us\tsys_us\tmaxrss_kib\tserver_wall_us\n' >"$raw"
log "berth:   $berth${berth_args:+ $berth_args}"
log "openssh: $openssh"
log "$runs runs per server and workload, order alternating; raw numbers: $raw"
start=$(date +%s)
failed=0
for run in $(seq 1 "$warmup"); do
	for w in ${workloads//,/ }; do
		for s in openssh berth; do
			run_one "$s" "$w" "warmup$run" || failed=1
		done
	done
done
[ "$warmup" = 0 ] || log "$warmup warm-up run(s) done ($(($(date +%s) - start)) s)"
for run in $(seq 1 "$runs"); do
	for w in ${workloads//,/ }; do
		if [ $((run % 2)) = 1 ]; then order="openssh berth"; else order="berth openssh"; fi
		for s in $order; do
			run_one "$s" "$w" "$run" || failed=1
		done
	done
	log "run $run/$runs done ($(($(date +%s) - start)) s)"
done

echo
echo "berth-sftp-server vs OpenSSH sftp-server through 'sftp -b batch -D server' (OpenSSH $(ssh -V 2>&1 | cut -d, -f1))"
echo "$runs runs each after $warmup warm-up run(s), alternating order; medians. Page cache NOT dropped: inputs were pre-read once so both"
echo "servers see a warm cache. Server CPU = user+sys of the server process; RSS = its peak (ru_maxrss)."
echo "Host: $(nproc) cores, $(uname -r). Load average (1 min) before/after: $load_before/$(cut -d' ' -f1 /proc/loadavg)."
echo "Data dir: $W"
create_after=$(create_cost)
echo "File create cost before/after the runs: $create_before/$create_after us (normal: ~25)."
if [ "$create_before" -gt "$slow_create_us" ] || [ "$create_after" -gt "$slow_create_us" ]; then
	echo "WARNING: file creation was slow (recently deleted inodes on this ext4), so the"
	echo "put-small/get-small numbers are dominated by the filesystem; rerun later."
fi
echo
/usr/bin/python3 "$here/bench-dropin-report.py" "$raw" "$out"
echo
echo "summary TSV: $out"
echo "raw TSV:     $raw"

if [ "$do_strace" = 1 ]; then
	echo
	echo "== syscall profile (one untimed run per server and workload under strace -f) =="
	for w in ${workloads//,/ }; do
		for s in openssh berth; do
			run_one "$s" "$w" strace /usr/bin/strace -f -qq -o "$W/log/strace-$s-$w" ||
				failed=1
		done
		/usr/bin/python3 "$here/bench-dropin-report.py" --strace "$w" \
			"$W/log/strace-berth-$w" "$W/log/strace-openssh-$w" || true
	done
fi

if [ "$failed" != 0 ]; then
	echo "some runs FAILED (see above); their numbers are missing from the medians" >&2
	exit 1
fi

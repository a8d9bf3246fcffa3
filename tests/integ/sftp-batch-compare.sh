#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Run the same OpenSSH `sftp -b` batch against OpenSSH's sftp-server and the server under
# test (sftp -D, over a pipe) in two work dirs with identical content; the resulting local
# and remote trees and the client's output must be identical. Also compares `-Q` output and
# round-trips a 20 MiB file.
#
# usage: sftp-batch-compare.sh SERVER [REFERENCE_SERVER]
set -euo pipefail

SERVER=${1:?usage: $0 SERVER [REFERENCE]}
REF=${2:-/usr/lib/openssh/sftp-server}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
OLD=1000000000

T=$(mktemp -d /tmp/berth-batch.XXXXXX)
trap '[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
umask 022
fail=0

note() { printf '%s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }

# ---- seed content, created once and copied to both work dirs ----
seed=$T/seed
mkdir -p "$seed/local/tree/a/b/c" "$seed/local/tree/empty" "$seed/remote/rtree/x/y" \
	"$seed/remote/nonempty" "$seed/remote/rtree/emptydir"
printf 'small file\n' >"$seed/local/small.txt"
printf '#!/bin/sh\necho hi\n' >"$seed/local/exec.sh"
chmod 0755 "$seed/local/exec.sh"
printf 'private\n' >"$seed/local/priv.txt"
chmod 0600 "$seed/local/priv.txt"
head -c 300000 /dev/urandom >"$seed/local/bin.dat"
for p in tree tree/a tree/a/b tree/a/b/c; do
	printf 'content of %s\n' "$p" >"$seed/local/$p/file.txt"
	head -c 70000 /dev/urandom >"$seed/local/$p/blob.bin"
done
chmod 0640 "$seed/local/tree/a/b/c/file.txt"
chmod 0700 "$seed/local/tree/a/b"
printf 'remote file\n' >"$seed/remote/rfile.txt"
printf 'x\n' >"$seed/remote/nonempty/keep"
for p in rtree rtree/x rtree/x/y; do
	printf 'remote content of %s\n' "$p" >"$seed/remote/$p/r.txt"
	head -c 50000 /dev/urandom >"$seed/remote/$p/r.bin"
done
chmod 0604 "$seed/remote/rtree/x/r.txt"
# resume sources: full file on one side, a strict prefix of it on the other
head -c 1048576 /dev/urandom >"$seed/remote/full_get.bin"
head -c 100000 "$seed/remote/full_get.bin" >"$seed/local/part_get.bin"
head -c 1048576 /dev/urandom >"$seed/local/full_put.bin"
head -c 100000 "$seed/local/full_put.bin" >"$seed/remote/part_put.bin"
find "$seed" -exec touch -h -d "@$OLD" {} +

# ---- does this client have `cp`? (OpenSSH 9.2 may lack it) ----
has_cp=0
help_text=$(printf 'help\n' | sftp -D "$REF" -b - 2>/dev/null || true)
if grep -q '^cp ' <<<"$help_text"; then
	has_cp=1
else
	note "SKIP cp: this sftp client has no 'cp' command (copy-data is covered by paramiko-pipe.py)"
fi
uid=$(id -u)
gid=$(id -g)

batch=$T/batch
{
	cat <<EOF
version
progress
progress
pwd
lpwd
cd remote
lcd local
pwd
lpwd
ls
ls -1
ls -l
ls -la
ls -n
ls -l rtree
ls -ln rtree/x
ls -la nonempty
lls
lls -la tree
put small.txt
put -p exec.sh
put -p priv.txt priv_copy.txt
put bin.dat bin_renamed.dat
put -r tree
put -rp tree tree_p
get rfile.txt
get -p rfile.txt rfile_p.txt
get -r rtree
get -rp rtree rtree_p
reget full_get.bin part_get.bin
reput full_put.bin part_put.bin
mkdir newdir
mkdir newdir/inner
rmdir newdir/inner
ln rfile.txt rfile_hard
ln -s rfile.txt rfile_sym
ln -s /nonexistent/dangling dangling_sym
symlink rfile.txt rfile_sym2
rename rfile_sym2 rfile_sym3
rename bin_renamed.dat newdir/moved.dat
chmod 600 rfile.txt
chmod 0751 newdir
chmod 644 exec.sh
chown $uid rfile.txt
chgrp $gid rfile.txt
df
df -h
df -i
df newdir
EOF
	if [ $has_cp = 1 ]; then
		printf 'cp rfile.txt rfile_cp.txt\ncp tree_p/a/file.txt cp2.txt\n-cp missing_file x\n-cp newdir x\n'
	fi
	cat <<EOF
rm small.txt
cd newdir
pwd
ls -l
cd ..
-get missing_file
-get missing_file local_name
-reget missing_file
-rmdir nonempty
-rmdir rfile.txt
-rmdir missing_dir
-rm missing_file
-rm nonempty
-mkdir newdir
-mkdir missing_dir/sub
-cd missing_dir
-cd rfile.txt
-ln missing_file hard2
-ln rfile.txt rfile_hard
-ln -s rfile.txt rfile_sym
-rename missing_file x
-chmod 600 missing_file
-chown $uid missing_file
-chgrp $gid missing_file
-put local_missing_file
-put -r local_missing_dir
-get -r missing_dir
-ls missing_dir
-ls -l missing_file
-df missing_dir
-lcd local_missing_dir
lmkdir lnew
lumask 077
lmkdir lnew077
ls -la
ls -la newdir
ls -l tree tree/a
lls -la
version
EOF
} >"$batch"

# sftp -D does not wait for the server: run it through a wrapper that records its stderr
# and exit status, so sanitizer reports and crashes are not lost.
wrap() { # $1 = name, $2 = server; prints the wrapper path
	local w=$T/wrap-$1.sh
	printf '#!/bin/sh\n"%s" "$@" 2>>"%s"\necho $? >"%s"\n' "$2" "$T/server-$1.stderr" \
		"$T/server-$1.rc" >"$w"
	chmod +x "$w"
	rm -f "$T/server-$1.rc"
	printf '%s' "$w"
}
check_server() { # $1 = name: wait for the wrapped server to finish, then judge it
	local i
	for i in $(seq $((600 * ${BERTH_TIMEOUT_SCALE:-1}))); do
		[ -s "$T/server-$1.rc" ] && break
		sleep 0.1
	done
	[ -s "$T/server-$1.rc" ] || { bad "$1: server still running after the client exited"; return; }
	[ "$(cat "$T/server-$1.rc")" = 0 ] || bad "$1: server exit status $(cat "$T/server-$1.rc")"
	if grep -E -q 'AddressSanitizer|LeakSanitizer|runtime error' "$T/server-$1.stderr"; then
		bad "$1: sanitizer report from the server:"
		head -n 30 "$T/server-$1.stderr"
	fi
}

normalize_output() { # $1 = work dir to hide
	sed -e "s#$1#<W>#g" |
		$PY -c '
import re, sys
date = re.compile(r"\b[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d\b")
mode = None
for line in sys.stdin:
    if line.startswith("sftp> "):
        cmd = line[6:].lstrip("-").split()
        mode = cmd[0] if cmd else None
    elif mode == "df":
        # free counts change between the runs; the column layout must not
        line = re.sub(r"\d+(\.\d+)?[KMGTPE]?", "N", line)
        # and the numbers widths change with them (small tmpfs /tmp in CI)
        line = re.sub(r"[ \t]+", " ", line)
    line = date.sub("<DATE>", line)
    # lls -la: the sizes of local directories depend on file system history
    line = re.sub(r"^(d\S+\s+\d+\s+\S+\s+\S+\s+)\d+", r"\1<DSIZE>", line)
    sys.stdout.write(line)
'
}

run_batch() { # $1 = name, $2 = server
	local w=$T/run-$1
	cp -a "$seed" "$w"
	set +e
	(cd "$w" && sftp -D "$(wrap "$1" "$2")" -b "$batch" >"$T/$1.out" 2>"$T/$1.err")
	echo $? >"$T/$1.rc"
	set -e
	check_server "$1"
	normalize_output "$w" <"$T/$1.out" >"$T/$1.out.norm"
	normalize_output "$w" <"$T/$1.err" >"$T/$1.err.norm"
	$PY "$HERE/treesnap.py" "$w/remote" $OLD "$w" >"$T/$1.remote.snap"
	$PY "$HERE/treesnap.py" "$w/local" $OLD "$w" >"$T/$1.local.snap"
}

run_batch ref "$REF"
run_batch srv "$SERVER"

if [ "$(cat "$T/ref.rc")" != 0 ]; then
	bad "the batch fails against the reference server (exit $(cat "$T/ref.rc")); harness bug"
	cat "$T/ref.err"
fi
for part in rc out.norm err.norm remote.snap local.snap; do
	if ! diff -u --label "reference/$part" --label "server/$part" "$T/ref.$part" \
		"$T/srv.$part"; then
		bad "$part differs between $REF and $SERVER"
	fi
done
note "batch: $(grep -c '^sftp> ' "$T/srv.out") commands, $(wc -l <"$T/srv.remote.snap") remote" \
	"and $(wc -l <"$T/srv.local.snap") local entries compared"

# sanity checks that the comparison itself saw real work (both servers)
for r in ref srv; do
	grep -q '^f tree_p/a/b/c/file.txt 0640 .*mtime=1000000000' "$T/$r.remote.snap" ||
		bad "$r: put -rp did not preserve mode/mtime"
	grep -q '^l rfile_sym -> rfile.txt' "$T/$r.remote.snap" || bad "$r: ln -s missing"
	cmp -s "$T/run-$r/local/part_get.bin" "$T/run-$r/remote/full_get.bin" ||
		bad "$r: reget did not complete the partial download"
	cmp -s "$T/run-$r/remote/part_put.bin" "$T/run-$r/local/full_put.bin" ||
		bad "$r: reput did not complete the partial upload"
done

# ---- -Q ----
for q in requests bogus; do
	for r in ref srv; do
		[ $r = ref ] && s=$REF || s=$SERVER
		set +e
		"$s" -Q $q >"$T/q-$q-$r.out" 2>"$T/q-$q-$r.err"
		echo $? >"$T/q-$q-$r.rc"
		set -e
	done
	for part in out err rc; do
		cmp -s "$T/q-$q-ref.$part" "$T/q-$q-srv.$part" || {
			bad "-Q $q: $part differs"
			diff -u "$T/q-$q-ref.$part" "$T/q-$q-srv.$part" || true
		}
	done
done
[ "$(cat "$T/q-bogus-srv.rc")" = 1 ] || bad "-Q bogus: exit status $(cat "$T/q-bogus-srv.rc"), expected 1"
[ -s "$T/q-bogus-srv.err" ] || bad "-Q bogus: no error message"
[ "$(wc -l <"$T/q-requests-srv.out")" -ge 29 ] || bad "-Q requests: too few names"

# ---- 20 MiB round trip ----
big=$T/big
mkdir -p "$big/srv"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$big/src.bin"
printf 'put src.bin srv/up.bin\nget srv/up.bin down.bin\n' >"$big/batch"
if (cd "$big" && sftp -D "$(wrap big "$SERVER")" -b batch >/dev/null 2>"$big/err"); then
	check_server big
	want=$(sha256sum <"$big/src.bin")
	[ "$(sha256sum <"$big/srv/up.bin")" = "$want" ] || bad "20 MiB upload corrupted"
	[ "$(sha256sum <"$big/down.bin")" = "$want" ] || bad "20 MiB download corrupted"
	note "20 MiB put/get: sha256 ${want%% *}"
else
	bad "20 MiB batch failed: $(cat "$big/err")"
fi

if [ $fail = 0 ]; then
	note "PASS"
fi
exit $fail

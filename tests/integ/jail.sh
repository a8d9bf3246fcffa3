#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Confinement of `SERVER -j JAIL`: escapes through planted symlinks (absolute, relative,
# dangling, intermediate, d -> ..), ".." in every position, host and /proc paths, magic
# links with the real /proc mounted in the jail, and a directory/symlink exchange race.
# A sentinel tree outside the jail must stay byte-, mode- and listing-identical, and its
# secret string must never reach the client.
#
# usage: jail.sh SERVER
set -euo pipefail

SERVER=${1:?usage: $0 SERVER}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

T=$(mktemp -d /tmp/berth-jail.XXXXXX)
cleanup() {
	# in case a broken server made the jail's proc a mount point in our namespace
	umount "$T/jail/proc" 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
umask 022
fail=0
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }

SECRET=berth-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
J=$T/jail
O=$T/outside
mkdir -p "$T/logs" "$T/local"

# ---- sentinel tree outside the jail ----
mkdir -p "$O/subdir" "$O/deep/nested" "$O/outside-only-marker"
printf '%s\n' "$SECRET" >"$O/secret.txt"
printf 'name carries the secret\n' >"$O/secret-$SECRET.txt"
printf '%s nested\n' "$SECRET" >"$O/deep/nested/file"
chmod 0600 "$O/deep/nested/file"
chmod 0640 "$O/secret.txt"
printf '%s victim\n' "$SECRET" >"$O/victim-moved"

# ---- the jail ----
mkdir -p "$J/sub" "$J/race" "$J/race2" "$J/proc"
printf 'inside a\n' >"$J/a"
printf 'victim\n' >"$J/victim"
printf 'inner\n' >"$J/sub/inner.txt"
printf 'race inside\n' >"$J/race/f.txt"
printf 'race2 inside\n' >"$J/race2/f.txt"
ln -s /etc "$J/etc_link"
ln -s ../outside "$J/rel"
ln -s ../../outside "$J/sub/rel2"
ln -s "$O" "$J/outside_abs"
ln -s "$O/dangling-abs-new" "$J/dangling"
ln -s ../outside/dangling-rel-new "$J/dangling_rel"
ln -s ../../dangling-rel2-new "$J/sub/dangling_rel2"
ln -s .. "$J/d"
ln -s /proc/self/root "$J/proc_root"
ln -s /proc/self/cwd "$J/proc_cwd"
ln -s /proc/self/fd "$J/proc_fd"
ln -s /a "$J/abs_in"
ln -s sub/inner.txt "$J/rel_in"
ln -s /a "$J/sub/abs_up"
ln -s ../outside "$J/race_alt"
ln -s "$O" "$J/race2_alt"

snapshot() {
	# content + mode + listing of the sentinel, and the listings around the jail
	(
		cd "$O" && find . -printf '%y %m %s %U:%G %p -> %l\n' | LC_ALL=C sort &&
			find . -type f -exec sha256sum {} + | LC_ALL=C sort
	)
	printf -- '--- %s\n' "$T"
	ls -A "$T" | grep -v -x -e logs -e wrap.sh | LC_ALL=C sort
	printf -- '--- /tmp /\n'
	ls -A /tmp / | grep -E 'dangling|escape|stolen' || true
}
snapshot >"$T/logs/before"

rc_py=0
$PY "$HERE/jail.py" "$SERVER" "$J" "$O" "$SECRET" basic "$T/logs/basic.log" || rc_py=1

if unshare -m --propagation private true 2>/dev/null; then
	$PY "$HERE/jail.py" "$SERVER" "$J" "$O" "$SECRET" proc "$T/logs/proc.log" || rc_py=1
else
	echo "SKIP proc: cannot create a mount namespace here (unshare -m failed)"
fi

$PY "$HERE/jail.py" "$SERVER" "$J" "$O" "$SECRET" race "$T/logs/race.log" || rc_py=1
# the swappers may have left the pair exchanged: put the directories back for the batch
for p in race race2; do
	if [ -L "$J/$p" ]; then
		mv -T "$J/$p" "$J/$p.tmp" && mv -T "$J/${p}_alt" "$J/$p" && mv -T "$J/$p.tmp" "$J/${p}_alt"
	fi
done
[ $rc_py = 0 ] || bad "per-request jail checks failed (see FAIL lines above)"

# ---- batch-level checks with OpenSSH's sftp client ----
printf 'local file\n' >"$T/local/local.txt"
# Mutating commands come first and use relative paths: the server starts in the client's
# directory, so even an unconfined server would only touch this test's temp dir.
cat >"$T/logs/batch" <<EOF
pwd
ls -la /
-put local.txt rel/put_escape
-put local.txt dangling
-put local.txt sub/dangling_rel2
-put local.txt ../put_up
-rename victim rel/victim
-rename rel/secret.txt stolen
-ln rel/secret.txt stolen_hard
-chmod 777 rel/secret.txt
-chmod 777 outside_abs
ln -s /etc evil
-get evil/passwd got_evil
put local.txt sub/uploaded.txt
-get /etc_link/passwd got_passwd
-get /etc/passwd got_passwd2
-get rel/secret.txt got_secret
-get ../outside/secret.txt got_secret2
-get /../../outside/secret.txt got_secret3
-get /proc/self/root$O/secret.txt got_secret4
-get $O/secret.txt got_secret5
-get -r rel got_rel
-get -r d/d/d/../outside got_rel2
-ls rel
-ls -la ../outside
-ls $O
-df rel
cd ../../..
pwd
-cd etc_link
-cd /rel
pwd
cd d/d/d/sub
pwd
cd /
get abs_in got_abs_in
get /d/d/d/sub/inner.txt got_inner
get rel_in got_rel_in
ls -l /sub
EOF
# sftp -D does not wait for the server: a wrapper records its stderr and exit status
printf '#!/bin/sh\n"%s" -j "%s" 2>"%s"\necho $? >"%s"\n' "$SERVER" "$J" "$T/logs/server.err" \
	"$T/logs/server.rc" >"$T/wrap.sh"
chmod +x "$T/wrap.sh"
set +e
(cd "$T/local" && sftp -D "$T/wrap.sh" -b "$T/logs/batch" >"$T/logs/batch.out" 2>"$T/logs/batch.err")
brc=$?
set -e
for i in $(seq $((600 * ${BERTH_TIMEOUT_SCALE:-1}))); do
	[ -s "$T/logs/server.rc" ] && break
	sleep 0.1
done
[ "$(cat "$T/logs/server.rc" 2>/dev/null)" = 0 ] ||
	bad "jailed batch: server exit status $(cat "$T/logs/server.rc" 2>/dev/null || echo none)"
if grep -E -q 'AddressSanitizer|LeakSanitizer|runtime error' "$T/logs/server.err"; then
	bad "jailed batch: sanitizer report:"
	head -n 30 "$T/logs/server.err"
fi
[ $brc = 0 ] || { bad "jailed batch failed (exit $brc)"; cat "$T/logs/batch.err"; }
pwds=$(grep '^Remote working directory:' "$T/logs/batch.out" | tr '\n' '|')
[ "$pwds" = "Remote working directory: /|Remote working directory: /|Remote working directory: /|Remote working directory: /sub|" ] ||
	bad "remote working directories were: $pwds"
for f in got_passwd got_passwd2 got_secret got_secret2 got_secret3 got_secret4 got_secret5 \
	got_rel got_rel2 got_evil; do
	[ ! -e "$T/local/$f" ] || bad "batch downloaded $f from outside the jail"
done
[ "$(cat "$T/local/got_abs_in" 2>/dev/null)" = "inside a" ] || bad "get abs_in (-> /a) failed"
[ "$(cat "$T/local/got_inner" 2>/dev/null)" = "inner" ] || bad "get /d/d/d/sub/inner.txt failed"
[ "$(cat "$T/local/got_rel_in" 2>/dev/null)" = "inner" ] || bad "get rel_in failed"
[ -f "$J/sub/uploaded.txt" ] || bad "put /sub/uploaded.txt did not land in the jail"

# ---- nothing outside changed, nothing leaked ----
snapshot >"$T/logs/after"
if ! diff -u "$T/logs/before" "$T/logs/after"; then
	bad "the sentinel tree or the directories around the jail changed"
fi
for f in "$T"/dangling-rel2-new "$T"/put_up /put_up /tmp/put_up; do
	[ ! -e "$f" ] || bad "a write escaped the jail: $f exists"
done
if grep -rl --exclude=before --exclude=after -- "$SECRET" "$T/logs" "$T/local" "$J" 2>/dev/null; then
	bad "the outside secret appeared in client output or was copied into the jail"
fi
echo "jail: batch $(grep -c '^sftp> ' "$T/logs/batch.out") commands; secret $SECRET"
[ $fail = 0 ] && echo PASS
exit $fail

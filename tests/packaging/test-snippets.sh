#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# conf/tmpfiles.d-berthd.conf: systemd-tmpfiles creates /run/berthd and its empty,
# root-owned, non-writable chroot (under a temporary --root). conf/logrotate-berthd:
# logrotate rotates both transfer logs and its postrotate sends SIGHUP to the PID in
# the PID file (paths rewritten into a temporary directory).
set -euo pipefail
: "${SRC:?}"
T=$(mktemp -d /tmp/berth-snippets.XXXXXX)
SLEEPER=
trap '[[ -z $SLEEPER ]] || kill "$SLEEPER" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
for p in systemd-tmpfiles logrotate; do
	command -v "$p" >/dev/null || {
		echo "SKIP: $p not installed (scripts/deps installs it)"
		exit 77
	}
done

systemd-tmpfiles --create --root="$T/root" "$SRC/conf/tmpfiles.d-berthd.conf" ||
	fail "systemd-tmpfiles rejected the snippet"
[[ $(stat -c '%a %U' "$T/root/run/berthd") == "755 root" ]] || fail "/run/berthd mode"
[[ $(stat -c '%a %U' "$T/root/run/berthd/empty") == "555 root" ]] || fail "empty chroot mode"
echo "ok - tmpfiles.d creates /run/berthd and /run/berthd/empty (0555 root)"

# A stand-in for berthd that records the SIGHUP.
mkdir -p "$T/log" "$T/run"
bash -c 'trap "echo hup >'"$T"'/hup; exit 0" HUP; while :; do sleep 0.1; done' &
SLEEPER=$!
echo "$SLEEPER" >"$T/run/berthd.pid"
sed -e "s|/var/log/berthd/|$T/log/|g" -e "s|/run/berthd/berthd.pid|$T/run/berthd.pid|g" \
	-e "s|create 0640 root adm|create 0640 root root|" \
	"$SRC/conf/logrotate-berthd" >"$T/logrotate.conf"
grep -q "$T/log/xferlog $T/log/transfers.json" "$T/logrotate.conf" || fail "paths not rewritten"
echo "line" >"$T/log/xferlog"
echo '{"x":1}' >"$T/log/transfers.json"
logrotate -f -s "$T/state" "$T/logrotate.conf" || fail "logrotate failed"
[[ -f $T/log/xferlog.1 && -f $T/log/transfers.json.1 ]] || fail "logs not rotated: $(ls "$T/log")"
[[ -f $T/log/xferlog && ! -s $T/log/xferlog ]] || fail "no new empty xferlog"
for ((i = 0; i < 100 * ${BERTH_TIMEOUT_SCALE:-1}; i++)); do
	[[ -f $T/hup ]] && break
	sleep 0.05
done
[[ -f $T/hup ]] || fail "postrotate sent no SIGHUP"
echo "ok - logrotate rotates xferlog and transfers.json, postrotate sends SIGHUP"

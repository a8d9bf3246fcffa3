#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# conf/tmpfiles.d-berthd.conf: systemd-tmpfiles creates /run/berthd and its empty,
# root-owned, non-writable chroot (under a temporary --root). conf/logrotate-berthd:
# logrotate rotates both transfer logs (paths rewritten into a temporary directory); no
# postrotate signal: berthd opens the transfer logs per record.
set -euo pipefail
: "${SRC:?}"
T=$(mktemp -d /tmp/berth-snippets.XXXXXX)
trap 'rm -rf "$T"' EXIT
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

mkdir -p "$T/log"
sed -e "s|/var/log/berthd/|$T/log/|g" \
	-e "s|create 0640 root adm|create 0640 root root|" \
	"$SRC/conf/logrotate-berthd" >"$T/logrotate.conf"
grep -q "$T/log/xferlog $T/log/transfers.json" "$T/logrotate.conf" || fail "paths not rewritten"
echo "line" >"$T/log/xferlog"
echo '{"x":1}' >"$T/log/transfers.json"
logrotate -f -s "$T/state" "$T/logrotate.conf" || fail "logrotate failed"
[[ -f $T/log/xferlog.1 && -f $T/log/transfers.json.1 ]] || fail "logs not rotated: $(ls "$T/log")"
[[ -f $T/log/xferlog && ! -s $T/log/xferlog ]] || fail "no new empty xferlog"
grep -qE "^[[:space:]]*postrotate" "$T/logrotate.conf" && fail "postrotate: berthd needs no signal"
echo "ok - logrotate rotates xferlog and transfers.json (no signal needed)"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# meson install --destdir into a temporary directory: every file lands in its Debian
# place (with --prefix=/usr: /usr/sbin, /usr/lib/berth, /usr/share/man, /lib/systemd/
# system, /usr/lib/tmpfiles.d, /etc/logrotate.d, /etc/berth), relative to this build's
# prefix and directories.
set -euo pipefail
: "${BUILD_ROOT:?}" "${PREFIX:?}" "${SYSCONFDIR:?}" "${UNITDIR:?}" "${MANDIR:?}" "${SBINDIR:?}"
D=$(mktemp -d /tmp/berth-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$D" >"$D.log" 2>&1 ||
	{ cat "$D.log" >&2; rm -f "$D.log"; fail "meson install"; }
rm -f "$D.log"

expect=(
	"$SBINDIR/berthd"
	"$SBINDIR/berthctl"
	"$PREFIX/lib/berth/berth-sftp-server"
	"$MANDIR/man8/berthd.8"
	"$MANDIR/man8/berthctl.8"
	"$MANDIR/man8/berth-sftp-server.8"
	"$MANDIR/man5/berthd.conf.5"
	"$MANDIR/man5/berth-accounts.5"
	"$UNITDIR/berthd.service"
	"$PREFIX/lib/tmpfiles.d/berthd.conf"
	"$SYSCONFDIR/logrotate.d/berthd"
	"$SYSCONFDIR/pam.d/berthd"
	"$SYSCONFDIR/berth/berthd.conf"
	"$SYSCONFDIR/berth/accounts"
	"$PREFIX/share/doc/berth/examples/berthd.conf"
)
for f in "${expect[@]}"; do
	[[ -f $D$f ]] || fail "not installed: $f"
done
for f in berthd berthctl; do
	[[ -x $D$SBINDIR/$f ]] || fail "$SBINDIR/$f not executable"
done
[[ -x $D$PREFIX/lib/berth/berth-sftp-server ]] || fail "berth-sftp-server not executable"
[[ $(stat -c %a "$D$SYSCONFDIR/berth/accounts") == 600 ]] || fail "accounts file not 0600"
# The unit names the installed binaries.
grep -q "^ExecStart=$SBINDIR/berthd -D$" "$D$UNITDIR/berthd.service" ||
	fail "the unit does not start $SBINDIR/berthd"
grep -q "^ExecReload=$SBINDIR/berthctl reload$" "$D$UNITDIR/berthd.service" ||
	fail "the unit does not reload with $SBINDIR/berthctl"
# Nothing stray: every installed file is one of the above (the list is the contract).
extra=$(cd "$D" && find . -type f | sed 's|^\.||' | sort | while read -r f; do
	ok=0
	for e in "${expect[@]}"; do [[ $f == "$e" ]] && ok=1; done
	[[ $f == "$PREFIX/share/doc/berth/examples/accounts" ]] && ok=1
	((ok)) || echo "$f"
done)
[[ -z $extra ]] || fail "unexpected installed files: $extra"
echo "ok - meson install --destdir: ${#expect[@]} files in place"
(cd "$D" && find . -type f | sed 's|^\.||' | sort)

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# conf/systemd/berthd.service: systemd-analyze verify says nothing about it (it reports
# unknown keys and bad values as warnings with exit status 0, so any output fails), a
# unit with a typo does draw a warning (the check can fail), and the exposure score of
# systemd-analyze security is printed (docs/DESIGN.md records it).
set -euo pipefail
: "${UNIT:?}" "${BERTHD:?}" "${BERTHCTL:?}" "${SBINDIR:?}"
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not installed (scripts/deps installs the systemd package)"
	exit 77
fi
T=$(mktemp -d /tmp/berth-unit.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The unit as installed, but pointing at the built programs (verify checks Exec*=).
sed -e "s|$SBINDIR/berthd |$BERTHD |g" -e "s|$SBINDIR/berthctl |$BERTHCTL |g" "$UNIT" \
	>"$T/berthd.service"
grep -q "^ExecStart=$BERTHD -D$" "$T/berthd.service" || fail "ExecStart not rewritten"
for k in Type=notify "ExecStartPre=$BERTHD -t" "ExecReload=$BERTHCTL reload" ProtectSystem=strict \
	RuntimeDirectory=berthd StateDirectory=berth LogsDirectory=berthd NoNewPrivileges=yes \
	CapabilityBoundingSet= SystemCallArchitectures=native; do
	grep -q "^$k" "$T/berthd.service" || fail "unit lacks $k"
done
# The capability set holds what the process model needs and nothing broad.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$T/berthd.service")
for c in CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_KILL; do
	[[ " $caps " == *" $c "* ]] || fail "CapabilityBoundingSet lacks $c"
done
for c in CAP_SYS_ADMIN CAP_DAC_OVERRIDE CAP_SYS_PTRACE CAP_NET_ADMIN CAP_CHOWN; do
	[[ " $caps " != *" $c "* ]] || fail "CapabilityBoundingSet holds $c"
done

out=$(cd "$T" && systemd-analyze verify --man=no ./berthd.service 2>&1) ||
	fail "systemd-analyze verify failed: $out"
[[ -z $out ]] || fail "systemd-analyze verify warns: $out"
echo "ok - systemd-analyze verify: no warnings"

# Negative control: a misspelt key is reported.
sed 's/^ProtectSystem=/ProtectSystm=/' "$T/berthd.service" >"$T/bad.service"
out=$(cd "$T" && systemd-analyze verify --man=no ./bad.service 2>&1) || true
[[ $out == *ProtectSystm* ]] || fail "systemd-analyze verify missed a misspelt key"
echo "ok - a misspelt key is reported"

score=$(cd "$T" && systemd-analyze security --offline=true ./berthd.service 2>&1 |
	sed -n 's/.*Overall exposure level for berthd.service: \([0-9.]*\).*/\1/p')
[[ -n $score ]] || fail "no exposure score from systemd-analyze security"
echo "ok - systemd-analyze security exposure level: $score"
# 10 is fully exposed; the hardening keeps it at "OK" (< 4.5) or better.
awk -v s="$score" 'BEGIN { exit !(s < 4.5) }' || fail "exposure level $score (>= 4.5)"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd under load with DEFAULT limits: 200 concurrent SFTP sessions from 20 loopback
# sources, each transferring a checksummed file; zero failures, zero refusals.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config "LogLevel INFO"
ulimit -n 8192 2>/dev/null || true
start_berthd
$PY "$(dirname "$0")/load.py" "$PORT" "$T" 200 20 || fail "load test had failures"
if log_has "drop connection"; then
	grep "drop connection" "$T/berthd.log" | head -5 >&2
	fail "connections were refused under default limits"
fi
n=$(grep -c "Accepted publickey for demo" "$T/berthd.log")
[[ $n -eq 200 ]] || fail "expected 200 accepted logins, got $n"
ok "200 sessions from 20 sources, checksums match, no refusals"
echo "all load tests passed"

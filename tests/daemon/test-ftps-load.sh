#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS under load with DEFAULT limits: 200 concurrent sessions from 20 loopback sources,
# each uploading and downloading a checksummed file; zero failures, zero corrupted
# bytes, zero refusals; one "Accepted password ... ftps" line per session.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

ftps_prepare
ftps_write_config "LogLevel INFO"
ulimit -n 8192 2>/dev/null || true
start_berthd
BERTH_TIMEOUT_SCALE=$SCALE $PY "$(dirname "$0")/ftps-load.py" "$FTPS_PORT" "$PASSWORD" \
	"$JAIL" 200 20 || fail "FTPS load test had failures"
if log_has "drop connection"; then
	grep "drop connection" "$T/berthd.log" | head -5 >&2
	fail "connections were refused under default limits"
fi
n=$(grep -c "Accepted password for demo from 127\.0\.0\.[0-9]* port [0-9]* ftps$" "$T/berthd.log")
[[ $n -eq 200 ]] || fail "expected 200 accepted FTPS logins, got $n"
n=$(grep -c "transfer upload user demo .* ftps: \"/load-[0-9]*\.bin\" [0-9]* bytes .* completed" \
	"$T/berthd.log")
[[ $n -eq 200 ]] || fail "expected 200 completed upload lines, got $n"
ok "200 FTPS sessions from 20 sources, checksums match, no refusals"
echo "all FTPS load tests passed"

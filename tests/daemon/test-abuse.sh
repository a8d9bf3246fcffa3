#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# berthd protocol abuse (paramiko low-level): client-sent auth success, pre-auth
# channel/global requests, refused channel requests, repeated subsystem, stalled reader.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"

setup_keys
write_accounts
write_config "LoginGraceTime 120" "StallTimeout 3"
start_berthd
$PY "$(dirname "$0")/abuse.py" "$PORT" "$T" || fail "protocol abuse"
wait_log "refused exec request from demo" || fail "exec refusal not logged"
wait_log "refused pty-req request from demo" || fail "pty refusal not logged"
wait_log "refused subsystem 'sftp' .*already started" || fail "second subsystem not logged"
wait_log "Stalled transfer for demo" 200 || fail "stall not logged"
# The daemon survived everything and still serves.
echo ls >"$T/b"
sftp_key "$T/b" >/dev/null || fail "daemon no longer serves after abuse"
ok "daemon still serves after abuse"
echo "all abuse tests passed"

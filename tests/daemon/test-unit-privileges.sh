#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd unit's privilege limits hold for the real process model: berthd runs with
# exactly the unit's CapabilityBoundingSet, NoNewPrivileges (setpriv) and, where the
# kernel has it (Linux >= 6.3, PR_SET_MDWE), MemoryDenyWriteExecute; an SFTP session
# (uid/gid/groups switch, chroot, worker exec, upload and download), an FTPS download
# and a reload (berthctl) all work. A capability missing from the unit fails this test.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"
: "${BERTHCTL:?}" "${UNIT:?}"
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[[ -n $caps ]] || fail "no CapabilityBoundingSet in $UNIT"
grep -q "^NoNewPrivileges=yes$" "$UNIT" || fail "the unit has no NoNewPrivileges=yes"
bset=-all
for c in $caps; do
	c=${c#CAP_}
	bset+=",+${c,,}"
done

# PR_SET_MDWE (65), PR_MDWE_REFUSE_EXEC_GAIN (1): W^X for berthd and all its children,
# kept across execve (what MemoryDenyWriteExecute=yes enforces).
MDWE=$T/mdwe-exec.py
cat >"$MDWE" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    print("MDWE unavailable: %s" % os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])
PY
use_mdwe=1
$PY "$MDWE" /bin/true 2>/dev/null || use_mdwe=0

REAL=$BERTHD
BERTHD=$T/berthd-confined
{
	echo "#!/bin/bash"
	printf 'exec setpriv --bounding-set %q --inh-caps -all --no-new-privs -- ' "$bset"
	((use_mdwe)) && printf '%q %q ' "$PY" "$MDWE"
	printf '%q "$@"\n' "$REAL"
} >"$BERTHD"
chmod 755 "$BERTHD"

ftps_prepare
ftps_write_config "LoginGraceTime 2"
sed -i "s|^PidFile none|PidFile $T/berthd.pid|" "$T/berthd.conf"
start_berthd
pid=$BERTHD_PID
for ((i = 0; i < 200 * SCALE; i++)); do
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == berthd ]] && break
	sleep 0.05
done
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$pid/status")
nnp=$(awk '/^NoNewPrivs/ { print $2 }' "/proc/$pid/status")
[[ $nnp == 1 ]] || fail "berthd runs without no_new_privs"
# CapBnd decoded (capability numbers of linux/capability.h), without capsh.
decoded=$($PY - "$bnd" <<'PY'
import sys
names = ("chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
         "linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock "
         "ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot "
         "sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write "
         "audit_control setfcap mac_override mac_admin syslog wake_alarm block_suspend "
         "audit_read perfmon bpf checkpoint_restore").split()
mask = int(sys.argv[1], 16)
print(" ".join("CAP_" + n.upper() for i, n in enumerate(names) if mask >> i & 1))
PY
)
[[ $(tr ' ' '\n' <<<"$decoded" | sort | tr '\n' ' ') == "$(tr ' ' '\n' <<<"$caps" | sort | tr '\n' ' ')" ]] ||
	fail "bounding set $decoded, want the unit's $caps"
n_caps=$(wc -w <<<"$caps")
ok "berthd runs with the unit's $n_caps capabilities ($decoded), no_new_privs$( ((use_mdwe)) && echo ", MDWE")"

mkdata "$T/up.bin" $((1024 * 1024))
cat >"$T/batch" <<EOB
put $T/up.bin /up.bin
get /up.bin $T/back.bin
EOB
sftp_key "$T/batch" >/dev/null || fail "SFTP session under the unit's limits"
[[ $(sum "$T/back.bin") == "$(sum "$T/up.bin")" ]] || fail "SFTP round trip differs"
ok "SFTP upload and download (uid switch, chroot, worker exec)"

curl_x up.bin -o "$T/ftps.bin" || fail "FTPS download under the unit's limits"
[[ $(sum "$T/ftps.bin") == "$(sum "$T/up.bin")" ]] || fail "FTPS download differs"
ok "FTPS (AUTH TLS) download"

for ((i = 0; i < 200 * SCALE; i++)); do
	[[ -f $T/berthd.reload ]] && break
	sleep 0.05
done
out=$("$BERTHCTL" -f "$T/berthd.conf" reload) || fail "reload: $out"
ok "berthctl reload: $out"
# LoginGraceTime: the monitor (root) SIGKILLs its unprivileged network child (another
# uid, hence CAP_KILL; without it the child still ends when the monitor's socket closes,
# so this step does not prove CAP_KILL); the silent client sees the connection closed.
$PY - "$PORT" <<'PY' || fail "the pre-authentication child was not ended at LoginGraceTime"
import socket, sys
from testlib import scaled
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), scaled(10))
s.settimeout(scaled(15))
s.recv(256)  # banner; then say nothing
while s.recv(4096):
    pass
PY
wait_log "Timeout before authentication" || fail "no LoginGraceTime timeout logged"
ok "LoginGraceTime ends a silent connection"

log_has "Operation not permitted|Permission denied" && fail "a permission error in the log"
true

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS interop with real clients against berthd: curl (explicit --ssl-reqd and implicit
# ftps://), Python ftplib.FTP_TLS, lftp (mirror up and down), rclone's FTP backend
# (explicit and implicit TLS); uploads and downloads checksummed, rename, delete,
# mkdir/rmdir, resume; the same account over SFTP sees the same files; the log lines.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"
HERE=$(dirname "$0")

ftps_prepare
ftps_write_config
start_berthd

mkdata "$T/up.bin" 3000017
# ---- curl, explicit TLS (AUTH TLS, PROT P)
curl_x up.bin -T "$T/up.bin" || fail "curl explicit: upload"
[[ $(sum "$JAIL/up.bin") == $(sum "$T/up.bin") ]] || fail "curl explicit: stored file differs"
curl_x up.bin -o "$T/down.bin" || fail "curl explicit: download"
[[ $(sum "$T/down.bin") == $(sum "$T/up.bin") ]] || fail "curl explicit: checksum"
ok "curl explicit FTPS (--ssl-reqd): upload and download, sha256 equal"
curl_x "" -l | tr -d '\r' | grep -qx up.bin || fail "curl explicit: NLST"
curl_x "" | grep -q " up.bin" || fail "curl explicit: LIST"
curl_x "" -Q "RNFR up.bin" -Q "RNTO moved.bin" -o /dev/null || fail "curl: rename"
[[ -f $JAIL/moved.bin && ! -e $JAIL/up.bin ]] || fail "curl: rename not done"
curl_x "" -Q "MKD newdir" -o /dev/null || fail "curl: MKD"
[[ -d $JAIL/newdir ]] || fail "curl: MKD not done"
curl_x "" -Q "RMD newdir" -o /dev/null || fail "curl: RMD"
[[ ! -e $JAIL/newdir ]] || fail "curl: RMD not done"
curl_x "" -Q "DELE moved.bin" -o /dev/null || fail "curl: DELE"
[[ ! -e $JAIL/moved.bin ]] || fail "curl: DELE not done"
ok "curl explicit: LIST, NLST, RNFR/RNTO, MKD, RMD, DELE"
# Resume: an interrupted upload continued with -C - (SIZE, then APPE), a ranged download.
head -c 1000000 "$T/up.bin" >"$T/part.bin"
curl_x resume.bin -T "$T/part.bin" || fail "curl: partial upload"
curl_x resume.bin -T "$T/up.bin" -C - || fail "curl: resumed upload"
[[ $(sum "$JAIL/resume.bin") == $(sum "$T/up.bin") ]] || fail "curl: resumed upload differs"
curl_x resume.bin -C 2000000 -o "$T/tail.bin" || fail "curl: resumed download"
tail -c +2000001 "$T/up.bin" | cmp -s - "$T/tail.bin" || fail "curl: resumed download differs"
ok "curl: resume upload (-C -, APPE) and download (REST), checksummed"
# PASV as well as EPSV. (Active mode is tested with ftplib and lftp: curl 7.87-7.88 never
# starts TLS on an active data connection, curl/curl#10666.)
curl_x resume.bin --disable-epsv -o "$T/pasv.bin" || fail "curl: PASV download"
[[ $(sum "$T/pasv.bin") == $(sum "$T/up.bin") ]] || fail "curl: PASV download differs"
ok "curl: PASV data connections"

# ---- curl, implicit TLS
curl_i imp.bin -T "$T/up.bin" || fail "curl implicit: upload"
curl_i imp.bin -o "$T/imp.down" || fail "curl implicit: download"
[[ $(sum "$T/imp.down") == $(sum "$T/up.bin") ]] || fail "curl implicit: checksum"
curl_i "" -Q "RNFR imp.bin" -Q "RNTO imp2.bin" -Q "MKD idir" -Q "RMD idir" -o /dev/null ||
	fail "curl implicit: rename/mkdir/rmdir"
curl_i "" -Q "DELE imp2.bin" -o /dev/null || fail "curl implicit: DELE"
[[ ! -e $JAIL/imp2.bin && ! -e $JAIL/imp.bin ]] || fail "curl implicit: rename/delete not done"
ok "curl implicit FTPS (ftps://): upload, download, rename, mkdir, rmdir, delete"

# ---- Python ftplib.FTP_TLS (session reuse passed explicitly)
BERTH_TIMEOUT_SCALE=$SCALE $PY "$HERE/ftps-ftplib.py" "$FTPS_PORT" "$FTPS_IPORT" "$PASSWORD" \
	"$T" "$JAIL" || fail "Python ftplib.FTP_TLS"
ok "Python ftplib.FTP_TLS (explicit and implicit): transfers, rename, mkdir, rmdir, delete, REST"

# ---- lftp: mirror a tree up and back down over FTPS
mkdir -p "$T/tree/a/b" "$T/tree/c"
for f in a/one a/b/two c/three top; do mkdata "$T/tree/$f" $((RANDOM * 7 + 1)); done
LFTP_SET="set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no;"
LFTP_SET+=" set net:max-retries 1; set net:timeout $TMO; set cmd:fail-exit true;"
lftp -u "demo,$PASSWORD" -p "$FTPS_PORT" \
	-e "$LFTP_SET mirror -R $T/tree /mirror; mirror /mirror $T/back; quit" 127.0.0.1 \
	>"$T/lftp.out" 2>&1 || { cat "$T/lftp.out" >&2; fail "lftp mirror"; }
diff -r "$T/tree" "$T/back" || fail "lftp: mirrored tree differs"
diff -r "$T/tree" "$JAIL/mirror" || fail "lftp: uploaded tree differs"
ok "lftp (ftp:ssl-force): mirror up and down, trees identical"
lftp -u "demo,$PASSWORD" -p "$FTPS_PORT" \
	-e "$LFTP_SET set ftp:passive-mode false; get /mirror/a/one -o $T/lftp-active; quit" \
	127.0.0.1 >"$T/lftp.out" 2>&1 || { cat "$T/lftp.out" >&2; fail "lftp active mode"; }
cmp -s "$T/tree/a/one" "$T/lftp-active" || fail "lftp: active-mode download differs"
ok "lftp: active mode (PORT) download under PROT P"

# ---- rclone's FTP backend, explicit and implicit TLS. rclone keeps one TLS session
# cache for all its control and data connections; berthd resumes on a data connection
# only its own control connection's session, so rclone runs with one connection.
OBSCURED=$(rclone obscure "$PASSWORD")
rcl() {
	rclone --config /dev/null --low-level-retries 1 --retries 1 --contimeout "${TMO}s" \
		--timeout "${TMO}s" --ftp-host 127.0.0.1 --ftp-user demo --ftp-pass "$OBSCURED" \
		--ftp-no-check-certificate --ftp-concurrency 1 "$@"
}
mkdir -p "$T/rc"
mkdata "$T/rc/r1.bin" 700001
mkdata "$T/rc/r2.bin" 12345
rcl --ftp-port "$FTPS_PORT" --ftp-explicit-tls copy "$T/rc" :ftp:rcx >"$T/rc.out" 2>&1 ||
	{ cat "$T/rc.out" >&2; fail "rclone explicit: copy up"; }
rcl --ftp-port "$FTPS_PORT" --ftp-explicit-tls copy :ftp:rcx "$T/rcx.back" >"$T/rc.out" 2>&1 ||
	{ cat "$T/rc.out" >&2; fail "rclone explicit: copy down"; }
diff -r "$T/rc" "$T/rcx.back" || fail "rclone explicit: trees differ"
rcl --ftp-port "$FTPS_PORT" --ftp-explicit-tls moveto :ftp:rcx/r2.bin :ftp:rcx/r3.bin \
	>"$T/rc.out" 2>&1 || { cat "$T/rc.out" >&2; fail "rclone explicit: rename"; }
[[ -f $JAIL/rcx/r3.bin && ! -e $JAIL/rcx/r2.bin ]] || fail "rclone: rename not done"
rcl --ftp-port "$FTPS_IPORT" --ftp-tls copy "$T/rc" :ftp:rci >"$T/rc.out" 2>&1 ||
	{ cat "$T/rc.out" >&2; fail "rclone implicit: copy up"; }
rcl --ftp-port "$FTPS_IPORT" --ftp-tls check "$T/rc" :ftp:rci >"$T/rc.out" 2>&1 ||
	{ cat "$T/rc.out" >&2; fail "rclone implicit: check"; }
rcl --ftp-port "$FTPS_IPORT" --ftp-tls purge :ftp:rci >"$T/rc.out" 2>&1 ||
	{ cat "$T/rc.out" >&2; fail "rclone implicit: purge"; }
[[ ! -e $JAIL/rci ]] || fail "rclone implicit: purge left files"
ok "rclone FTP backend: explicit (--ftp-explicit-tls) and implicit (--ftp-tls) TLS"

# ---- the same account over SFTP sees the same files
cat >"$T/sb" <<SB
ls /mirror/a
get /resume.bin $T/sftp.bin
put $T/rc/r1.bin /from-sftp.bin
SB
sftp_key "$T/sb" >"$T/sftp.out" || fail "SFTP as the same account"
grep -q "one" "$T/sftp.out" || fail "SFTP does not list the FTPS upload"
[[ $(sum "$T/sftp.bin") == $(sum "$T/up.bin") ]] || fail "SFTP download of an FTPS upload"
curl_x from-sftp.bin -o "$T/from-sftp.bin" || fail "FTPS download of an SFTP upload"
[[ $(sum "$T/from-sftp.bin") == $(sum "$T/rc/r1.bin") ]] || fail "SFTP upload over FTPS differs"
ok "the same account over SFTP: same jail, same files both ways"

# ---- logs
log_has "Accepted password for demo from 127\.0\.0\.1 port [0-9]+ ftps$" ||
	fail "no 'Accepted password ... ftps' line"
log_has 'transfer upload user demo from 127\.0\.0\.1 port [0-9]+ ftps: "/up\.bin" 3000017 bytes in [0-9.]+s completed' ||
	fail "no upload transfer line"
log_has 'transfer download user demo from 127\.0\.0\.1 port [0-9]+ ftps: "/resume\.bin" 3000017 bytes in [0-9.]+s completed' ||
	fail "no download transfer line"
log_has "Starting session: ftp for demo from 127\.0\.0\.1" || fail "no session start line"
ok "log: Accepted password ... ftps, one line per transfer"
echo "all FTPS interop tests passed"

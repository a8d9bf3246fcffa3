#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# FTPS configuration: berthd -t (certificate and key problems named with their files,
# file:line for bad values) and -T; the options at work: FTPSPassiveAddress and
# FTPSPassiveAddressFor in PASV replies, FTPSPassivePorts, an allow-plain listener,
# FTPSAllowClearData (PROT C), FTPSAllowCCC, FTPSMaxLineLength, an IPv6 listener.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

ftps_prepare

# ---- berthd -t / -T
ftps_write_config
"$BERTHD" -t -f "$T/berthd.conf" || fail "-t rejects a good FTPS configuration"
"$BERTHD" -T -f "$T/berthd.conf" >"$T/T.out"
grep -qx "ftpslistenaddress 127.0.0.1:$FTPS_PORT" "$T/T.out" || fail "-T: ftpslistenaddress"
grep -qx "ftpsimplicitlistenaddress 127.0.0.1:$FTPS_IPORT" "$T/T.out" || fail "-T: implicit"
grep -qx "ftpscertificatefile $T/ftps_cert.pem" "$T/T.out" || fail "-T: certificate"
grep -qx "ftpspassiveports 49152-65535" "$T/T.out" || fail "-T: passive ports default"
grep -qx "ftpsallowcleardata no" "$T/T.out" || fail "-T: FTPSAllowClearData default"
grep -qx "ftpsminprotocol TLSv1.2" "$T/T.out" || fail "-T: FTPSMinProtocol default"
"$BERTHD" -T -f "$T/berthd.conf" >"$T/T2.in"
cp "$T/T2.in" "$T/roundtrip.conf"
"$BERTHD" -T -f "$T/roundtrip.conf" | cmp -s - "$T/T2.in" || fail "-T output does not round-trip"
ok "-t accepts FTPS; -T prints every FTPS keyword and round-trips"

check_bad() { # description, expected message regex, config lines...
	local what=$1 re=$2
	shift 2
	write_config "$@"
	set +e
	"$BERTHD" -t -f "$T/berthd.conf" >"$T/t.out" 2>&1
	local rc=$?
	set -e
	[[ $rc -eq 1 ]] || { cat "$T/t.out"; fail "-t accepts $what"; }
	grep -qE "$re" "$T/t.out" || { cat "$T/t.out"; fail "-t message for $what"; }
}
BASE=$(($(wc -l <"$T/berthd.conf") - ${#FTPS_LINES[@]}))
check_bad "a listener without a certificate" "berthd.conf:$((BASE + 1)):.*FTPSCertificateFile" \
	"FTPSListenAddress 127.0.0.1:$FTPS_PORT"
check_bad "a missing certificate file" "$T/missing.pem" \
	"FTPSListenAddress 127.0.0.1:$FTPS_PORT" "FTPSCertificateFile $T/missing.pem"
openssl ecparam -genkey -name prime256v1 -noout -out "$T/other_key.pem" 2>/dev/null
chmod 600 "$T/other_key.pem"
check_bad "a key that does not match" "other_key.pem" \
	"FTPSListenAddress 127.0.0.1:$FTPS_PORT" "FTPSCertificateFile $T/ftps_cert.pem" \
	"FTPSCertificateKeyFile $T/other_key.pem"
cp "$T/ftps_key.pem" "$T/open_key.pem"
chmod 644 "$T/open_key.pem"
check_bad "a key readable by everybody" "open_key.pem" \
	"FTPSListenAddress 127.0.0.1:$FTPS_PORT" "FTPSCertificateFile $T/ftps_cert.pem" \
	"FTPSCertificateKeyFile $T/open_key.pem"
check_bad "an unknown cipher" "NO-SUCH-CIPHER" "${FTPS_LINES[@]}" "FTPSCiphers NO-SUCH-CIPHER"
check_bad "a bad passive port range" "berthd.conf:$((BASE + 5)):.*FTPSPassivePorts" \
	"${FTPS_LINES[@]}" "FTPSPassivePorts 80-90"
check_bad "allow-plain on an implicit listener" "berthd.conf:$((BASE + 1)):.*allow-plain" \
	"FTPSImplicitListenAddress 127.0.0.1:$FTPS_IPORT allow-plain"
check_bad "a malformed PASV network" "FTPSPassiveAddressFor.*10.0.0.1/8" \
	"${FTPS_LINES[@]}" "FTPSPassiveAddressFor 10.0.0.1/8 10.1.2.3"
check_bad "an IPv6 PASV address" "FTPSPassiveAddress.*IPv4" "${FTPS_LINES[@]}" \
	"FTPSPassiveAddress 2001:db8::1"
check_bad "FTPSMinProtocol TLSv1.1" "TLSv1.2 or TLSv1.3" "${FTPS_LINES[@]}" \
	"FTPSMinProtocol TLSv1.1"
check_bad "an FTPS listener on an SSH address" "also a ListenAddress" \
	"FTPSListenAddress 127.0.0.1:$PORT allow-plain"
ok "-t: certificate problems name the file; bad values have file:line"

# ---- the options at work
PLAIN_PORT=$(free_port)
V6=
if $PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	V6=$(free_port)
fi
ftps_write_config "FTPSListenAddress 127.0.0.1:$PLAIN_PORT allow-plain" \
	${V6:+"FTPSListenAddress [::1]:$V6"} \
	"FTPSPassivePorts 40100-40119" "FTPSPassiveAddress 198.51.100.7" \
	"FTPSPassiveAddressFor 10.0.0.0/8 10.9.9.9" "FTPSPassiveAddressFor 127.0.0.0/8 10.1.2.3" \
	"FTPSPassiveAddressFor 127.0.0.1 10.7.7.7" "FTPSAllowCCC yes" "FTPSMaxLineLength 600"
start_berthd
BERTH_TIMEOUT_SCALE=$SCALE $PY - "$FTPS_PORT" "$PLAIN_PORT" "$PASSWORD" "$JAIL" <<'EOF' ||
import os, re, socket, ssl, sys
port, plain_port, password, jail = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
T = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
open(os.path.join(jail, "f.txt"), "w").write("config test\n")

class Ctl:
    def __init__(self, p):
        self.s = socket.create_connection(("127.0.0.1", p), timeout=T)
        self.f = self.s.makefile("rb")
        self.resp()
    def resp(self):
        line = self.f.readline()
        while line[3:4] == b"-":
            line = self.f.readline()
        return int(line[:3]), line.decode().strip()
    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.resp()
    def tls(self):
        assert self.cmd("AUTH TLS")[0] == 234
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.f = self.s.makefile("rb")
    def retr(self, name, prot_p=True):
        code, text = self.cmd("PASV")
        assert code == 227, text
        h = [int(x) for x in re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", text).groups()]
        d = socket.create_connection(("127.0.0.1", h[4] * 256 + h[5]), timeout=T)
        self.s.sendall(b"RETR " + name.encode() + b"\r\n")
        assert self.resp()[0] == 150
        if prot_p:
            d = ctx.wrap_socket(d, server_hostname="localhost", session=self.session)
        out = b""
        while True:
            b = d.recv(65536)
            if not b:
                break
            out += b
        assert self.resp()[0] == 226
        return out, h

# PASV: the first matching FTPSPassiveAddressFor wins; the port is in the range.
c = Ctl(port); c.tls()
c.cmd("USER demo"); assert c.cmd("PASS " + password)[0] == 230
c.cmd("PBSZ 0"); c.cmd("PROT P"); c.session = c.s.session
body, h = c.retr("f.txt")
assert body == b"config test\n"
assert h[:4] == [10, 1, 2, 3], h
assert 40100 <= h[4] * 256 + h[5] <= 40119, h
code, text = c.cmd("EPSV")
assert code == 229 and 40100 <= int(re.search(r"\|\|\|(\d+)\|", text).group(1)) <= 40119, text
print("ok   PASV announces 10.1.2.3 (first matching FTPSPassiveAddressFor), ports 40100-40119")
# FTPSMaxLineLength 600
code, _ = c.cmd("NOOP " + "x" * 700)
assert code == 500, code
assert c.cmd("NOOP " + "x" * 500)[0] == 200
print("ok   FTPSMaxLineLength 600: a 705-byte line refused, 505 bytes accepted")
# CCC allowed: the control connection continues in plaintext; data stays protected.
code, _ = c.cmd("CCC")
assert code == 200, code
c.s = c.s.unwrap()
c.f = c.s.makefile("rb")
code, text = c.cmd("PWD")
assert code == 257, text
body, _ = c.retr("f.txt")
assert body == b"config test\n"
print("ok   FTPSAllowCCC yes: CCC, then plaintext commands and protected data")
c.cmd("QUIT")

# allow-plain listener: plain login and plain data; TLS sessions there still need PROT P.
c = Ctl(plain_port)
c.cmd("USER demo"); assert c.cmd("PASS " + password)[0] == 230
body, _ = c.retr("f.txt", prot_p=False)
assert body == b"config test\n"
c.cmd("QUIT")
c = Ctl(plain_port); c.tls()
c.cmd("USER demo"); c.cmd("PASS " + password); c.cmd("PBSZ 0")
assert c.cmd("PROT C")[0] == 534
code, _ = c.cmd("PASV"); s = None
assert c.cmd("RETR f.txt")[0] == 521
print("ok   allow-plain listener: plain login and data; a TLS session there needs PROT P")
EOF
	fail "FTPS options"
CURL_PLAIN=$(curl -sS --max-time "$TMO" -u "demo:$PASSWORD" "ftp://127.0.0.1:$PLAIN_PORT/f.txt")
[[ $CURL_PLAIN == "config test" ]] || fail "curl plain FTP on the allow-plain listener"
if curl -sS --max-time "$TMO" -u "demo:$PASSWORD" "ftp://127.0.0.1:$FTPS_PORT/f.txt" \
	>/dev/null 2>&1; then
	fail "plain FTP login accepted on a listener without allow-plain"
fi
ok "curl: plain FTP on the allow-plain listener only"
if [[ -n $V6 ]]; then
	curl -sS --max-time "$TMO" --ssl-reqd -k -u "demo:$PASSWORD" -g "ftp://[::1]:$V6/f.txt" \
		>"$T/v6.out" || fail "FTPS over IPv6"
	[[ $(cat "$T/v6.out") == "config test" ]] || fail "FTPS over IPv6: content"
	log_has "Accepted password for demo from ::1 port [0-9]+ ftps" || fail "IPv6 log line"
	ok "IPv6 listener [::1]: AUTH TLS, EPSV, download"
fi
stop_berthd

# ---- FTPSAllowClearData yes: PROT C on a TLS session
ftps_write_config "FTPSAllowClearData yes"
start_berthd
curl -sS --max-time "$TMO" --ssl-reqd --ftp-ssl-control -k -u "demo:$PASSWORD" \
	"ftp://127.0.0.1:$FTPS_PORT/f.txt" >"$T/c.out" || fail "curl --ftp-ssl-control (PROT C)"
[[ $(cat "$T/c.out") == "config test" ]] || fail "PROT C download content"
ok "FTPSAllowClearData yes: curl --ftp-ssl-control (PROT C) downloads"
echo "all FTPS config tests passed"

#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The account policy (berth-accounts(5)) under FTPS, the same layer as SFTP: Protocols at
# login and per session (ftps, or ftp on a plaintext control connection), a drop-box
# directory (Permissions upload-only), QuotaSize (552), atomic uploads (an aborted one is
# never published; the transfer line carries the SHA-256), HASH/XSHA256 by the VFS.
BERTHD=${1:-${BERTHD:-}}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ftps-lib.sh"

ftps_prepare
write_accounts "QuotaSize 2M" "UploadMode atomic" "Permissions /drop upload-only"
mkdir -p "$JAIL/drop"
chown "$ACCT_UID:$ACCT_GID" "$JAIL/drop"
HASHLINE=$(grep "Password" "$T/accounts")
for a in sftponly:sftp tlsonly:ftps; do
	mkdir -p "$T/${a%%:*}"
	chown "$ACCT_UID:$ACCT_GID" "$T/${a%%:*}"
	{
		echo "Account ${a%%:*}"
		echo "$HASHLINE"
		echo "	Uid $ACCT_UID"
		echo "	Gid $ACCT_GID"
		echo "	Root $T/${a%%:*}"
		echo "	Protocols ${a#*:}"
	} >>"$T/accounts"
done
PLAIN_PORT=$(free_port)
ftps_write_config "FTPSListenAddress 127.0.0.1:$PLAIN_PORT allow-plain"
start_berthd

$PY - "$FTPS_PORT" "$PLAIN_PORT" "$PASSWORD" "$JAIL" <<'EOF' || fail "FTPS under the policy layer"
import hashlib, io, os, re, socket, ssl, sys
from ftpslib import ReusingFTP_TLS, context
import ftplib
port, plain_port, password, jail = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
T = 30 * float(os.environ.get("BERTH_TIMEOUT_SCALE", "1"))

def login(user, p=port):
    f = ReusingFTP_TLS(context=context(), timeout=T)
    f.connect("127.0.0.1", p)
    f.login(user, password)
    f.prot_p()
    return f

# Protocols sftp: no FTPS login (530, like a wrong password).
try:
    login("sftponly")
    raise AssertionError("an account without ftps logged in over FTPS")
except ftplib.error_perm as e:
    assert str(e).startswith("530"), e
print("ok   Protocols sftp: FTPS login refused (530)")

# Protocols ftps on an allow-plain listener: over TLS it works; in plaintext there is no
# session (the login is answered, the session refused: 421).
f = login("tlsonly", plain_port)
f.voidcmd("NOOP")
f.quit()
p = ftplib.FTP(timeout=T)
p.connect("127.0.0.1", plain_port)
try:
    p.login("tlsonly", password)
    p.voidcmd("PWD")
    raise AssertionError("a plaintext FTP session for an ftps-only account")
except (ftplib.error_temp, ftplib.error_perm, EOFError, OSError) as e:
    assert "421" in str(e) or isinstance(e, (EOFError, OSError)), e
print("ok   Protocols ftps: TLS session yes, plaintext session refused")

f = login("demo")
# A complete upload: published, its SHA-256 logged; HASH and XSHA256 agree.
blob = os.urandom(300000)
f.storbinary("STOR good.bin", io.BytesIO(blob))
digest = hashlib.sha256(blob).hexdigest()
assert f.sendcmd("XSHA256 good.bin") == "250 " + digest
assert digest in f.sendcmd("HASH good.bin")
with open(os.path.join(jail, "good.bin"), "rb") as g:
    assert g.read() == blob
print("ok   atomic upload published; XSHA256/HASH give its SHA-256")

# An upload the client aborts (TLS ends without close_notify): never published.
conn = f.transfercmd("STOR cut.bin")
conn.sendall(os.urandom(100000))
conn.shutdown(socket.SHUT_RDWR)  # SSLSocket.shutdown: no close_notify
conn.close()
try:
    f.voidresp()
    raise AssertionError("a truncated upload answered 226")
except ftplib.error_temp as e:
    assert str(e).startswith("426"), e
assert not os.path.exists(os.path.join(jail, "cut.bin")), "a cut upload was published"
print("ok   truncated atomic upload: 426 and nothing under its name")

# Drop box: upload yes, listing and download no.
f.storbinary("STOR drop/in.bin", io.BytesIO(b"dropped"))
for cmd in ("RETR drop/in.bin", "NLST drop"):
    try:
        f.retrbinary(cmd, lambda b: None)
        raise AssertionError(cmd + " allowed in an upload-only directory")
    except ftplib.error_perm as e:
        assert str(e)[:3] in ("550", "450"), e
    except ftplib.error_temp as e:
        assert str(e)[:3] == "450", e
print("ok   Permissions upload-only: STOR yes, RETR and NLST no")

# QuotaSize 2M: an upload past it is refused with 552, nothing published.
try:
    try:
        f.storbinary("STOR big.bin", io.BytesIO(os.urandom(3 * 1024 * 1024)))
    except (ssl.SSLError, OSError):
        f.voidresp()  # the server closed the data connection: its reply says why
    raise AssertionError("an upload past the quota succeeded")
except ftplib.error_perm as e:
    assert str(e).startswith("552"), e
assert not os.path.exists(os.path.join(jail, "big.bin"))
print("ok   QuotaSize: 552 past the quota, nothing published")
f.quit()
EOF
log_has "User sftponly from 127\.0\.0\.1 not allowed because of Protocols sftp" ||
	fail "no log line for the Protocols refusal at login"
log_has "refusing ftp \(plaintext\) for tlsonly from 127\.0\.0\.1" ||
	fail "no log line for the plaintext session refusal"
log_has 'transfer upload user demo .* ftps: "/good\.bin" 300000 bytes in [0-9.]+s completed sha256 [0-9a-f]{64}' ||
	fail "no SHA-256 in the upload line"
log_has 'transfer upload user demo .* ftps: "/cut\.bin" .* aborted .*not published' ||
	fail "the cut upload is not logged as not published"
ok "policy layer under FTPS: Protocols, upload-only, quota, atomic uploads, checksums"
echo "all FTPS policy tests passed"

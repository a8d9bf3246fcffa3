# SPDX-License-Identifier: BSD-2-Clause
# FTPS helpers for the berthd tests (sourced after lib.sh): a certificate generated at
# test time, free ports for the explicit and implicit listeners, the config lines, and
# client wrappers. Timeouts scale with $SCALE (lib.sh: BERTH_TIMEOUT_SCALE, 3 in the ASan
# build).

FTPS_PORT=$(free_port)
FTPS_IPORT=$(free_port)
while [[ $FTPS_IPORT == "$FTPS_PORT" || $FTPS_PORT == "$PORT" || $FTPS_IPORT == "$PORT" ]]; do
	FTPS_PORT=$(free_port)
	FTPS_IPORT=$(free_port)
done
TMO=$((90 * SCALE))

# setup_cert: an EC P-256 self-signed certificate for localhost and 127.0.0.1.
setup_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$T/ftps_key.pem" -out "$T/ftps_cert.pem" 2>/dev/null ||
		fail "openssl could not make a certificate"
	chmod 600 "$T/ftps_key.pem"
}

# The FTPS lines for write_config (both listeners on 127.0.0.1).
ftps_config() {
	echo "FTPSListenAddress 127.0.0.1:$FTPS_PORT"
	echo "FTPSImplicitListenAddress 127.0.0.1:$FTPS_IPORT"
	echo "FTPSCertificateFile $T/ftps_cert.pem"
	echo "FTPSCertificateKeyFile $T/ftps_key.pem"
}

# curl_x ARGS... / curl_i PATH ARGS...: explicit (AUTH TLS, --ssl-reqd) and implicit.
curl_x() {
	local path=$1
	shift
	curl -sS --max-time "$TMO" --ssl-reqd -k -u "demo:$PASSWORD" "$@" \
		"ftp://127.0.0.1:$FTPS_PORT/$path"
}
curl_i() {
	local path=$1
	shift
	curl -sS --max-time "$TMO" -k -u "demo:$PASSWORD" "$@" "ftps://127.0.0.1:$FTPS_IPORT/$path"
}

# ftps_prepare: host and client keys, the certificate, the demo account, and FTPS_LINES
# (the FTPS configuration lines); ftps_write_config [extra lines...] writes berthd.conf
# with them.
ftps_prepare() {
	setup_keys
	setup_cert
	write_accounts
	mapfile -t FTPS_LINES < <(ftps_config)
}
ftps_write_config() { write_config "${FTPS_LINES[@]}" "$@"; }

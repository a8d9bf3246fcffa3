#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# pkg/sftp's own integration suite (Debian's golang-github-pkg-sftp-dev, built offline in
# GOPATH mode) against the drop-in, with OpenSSH's sftp-server as the reference: every
# integration test that passes with OpenSSH must pass with berth. The suite opens /dev/zero and
# /dev/null (issue 9 item 6: devices outside a jail).
#
# usage: pkg-sftp.sh SERVER [REFERENCE_SERVER]
# environment: BERTH_GOCACHE (go build cache; default: a temporary one),
#   BERTH_TIMEOUT_SCALE (default 1)
set -euo pipefail

SERVER=$(realpath "$1")
REF=${2:-/usr/lib/openssh/sftp-server}
SRC=/usr/share/gocode/src/github.com/pkg/sftp
SCALE=${BERTH_TIMEOUT_SCALE:-1}

if ! command -v go >/dev/null; then
	echo "SKIP: no go toolchain (golang-go)"
	exit 77
fi
[[ -f "$SRC/client_integration_test.go" ]] || {
	echo "FAIL: $SRC missing (golang-github-pkg-sftp-dev, see scripts/deps)"
	exit 1
}

T=$(mktemp -d /tmp/berth-pkgsftp-XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || { chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"; }' EXIT

# A private GOPATH holding a copy of the package (its tests read files beside them and
# glob relative to the current directory), the Debian GOPATH for its dependencies.
mkdir -p "$T/gopath/src/github.com/pkg" "$T/tmp" "$T/gotmp"
# TestClientReadDir lists $TMPDIR three ways and compares: keep it private and still,
# and not empty (an empty directory reads as an error there).
echo "listed by TestClientReadDir" >"$T/tmp/placeholder"
cp -r "$SRC" "$T/gopath/src/github.com/pkg/sftp"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$T/gopath:/usr/share/gocode"
export GOCACHE=${BERTH_GOCACHE:-$T/gocache} GOTMPDIR="$T/gotmp"
echo "building pkg/sftp's tests ($(go version | cut -d' ' -f3))"
(cd "$T" && nice go test -c -o "$T/sftp.test" github.com/pkg/sftp)

# Run one server; results go to $T/NAME.res as "TestName RESULT" lines. A Go panic
# ends the binary early: that is a failure of the run itself.
run() {
	local name=$1 server=$2 rc=0
	(cd "$T/gopath/src/github.com/pkg/sftp" &&
		TMPDIR="$T/tmp" "$T/sftp.test" -test.v -test.timeout "$((240 * SCALE))s" \
			-integration -sftp "$server") >"$T/$name.log" 2>&1 || rc=$?
	grep -E '^--- (PASS|FAIL|SKIP)' "$T/$name.log" | awk '{print $3, $2}' |
		sed 's/:$//' | sort >"$T/$name.res" || true
	if ((rc != 0)) && ! grep -qx 'FAIL' "$T/$name.log"; then
		echo "FAIL: the test binary ended abnormally with $name (status $rc):"
		tail -40 "$T/$name.log"
		return 1
	fi
}

# The names of the integration tests: the ones that skip without -integration.
(cd "$T/gopath/src/github.com/pkg/sftp" && TMPDIR="$T/tmp" "$T/sftp.test" -test.v) \
	>"$T/plain.log" 2>&1 || true
grep -E '^--- SKIP' "$T/plain.log" | awk '{print $3}' | sort >"$T/integration.names"

run openssh "$REF"
run berth "$SERVER"

count() { # count NAME: "P passed, F failed, S skipped" over the integration tests
	join "$T/integration.names" "$T/$1.res" | awk '
		$2 == "PASS" {p++} $2 == "FAIL" {f++} $2 == "SKIP" {s++}
		END {printf "%d passed, %d failed, %d skipped\n", p, f, s}'
}
echo "integration tests ($(wc -l <"$T/integration.names")): OpenSSH $(count openssh);" \
	"berth $(count berth)"

# Only the integration tests talk to the server; the package's own unit tests (some
# compare statfs numbers of a busy disk) say nothing about it and are not judged.
status=0
join "$T/integration.names" "$T/openssh.res" >"$T/openssh.integration"
while read -r test result; do
	theirs=$(awk -v t="$test" '$1 == t {print $2}' "$T/berth.res")
	if [[ "$result" == PASS && "$theirs" != PASS ]]; then
		echo "FAIL: $test passes with OpenSSH's sftp-server, ${theirs:-did not run} with berth:"
		awk -v t="$test" '$0 == "=== RUN   " t {p = 1; print; next}
			p && /^(=== |--- )/ {if ($3 == t) print; p = 0; next}
			p {print}' "$T/berth.log" | head -30
		status=1
	fi
done <"$T/openssh.integration"
awk '$2 == "FAIL" {print "note: fails with OpenSSH too: " $1}' "$T/openssh.integration"
if grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$T/berth.log"; then
	echo "FAIL: sanitizer report in the server's stderr:"
	grep -E -A20 'AddressSanitizer|runtime error|LeakSanitizer' "$T/berth.log" | head -60
	status=1
fi
exit $status

#!/bin/bash
# tests/interop/gateway_serve.sh: `trasa-gateway serve` as a server: the
# self-signed TLS pair and its printed fingerprint, TLS files reloaded on
# SIGHUP (and bad ones refused while the old ones keep serving), the 64 KiB
# body cap, and start-up errors (port taken, bad --listen, half a TLS
# configuration, no CA) that exit at once with one line.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=lib.sh
. "$top_srcdir/tests/interop/lib.sh"

need_tools
for t in curl openssl; do
	command -v "$t" >/dev/null || fail "gateway_serve.sh needs $t"
done
tmp_setup
S=$T/state
PORT=$(pick_port)
: >"$T/empty.conf"

gw()
{
	"$GW" --config "$T/empty.conf" --state-dir "$S" "$@"
}

# fp_pem FILE: the SHA-256 fingerprint of a PEM certificate, as openssl
# prints it (AA:BB:...).
fp_pem()
{
	openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/^.*=//'
}

# served_fp: the fingerprint of the certificate the gateway presents.
served_fp()
{
	openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
	    </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
	    sed 's/^.*=//'
}

info "no CA yet: serve refuses to start"
run 1 timeout 10 "$GW" --config "$T/empty.conf" --state-dir "$T/nostate" \
    --listen "127.0.0.1:$PORT" serve
has "$T/err" "ca init"

gw ca init >/dev/null || fail "ca init"

info "first start: a self-signed pair, its fingerprint printed"
start_gateway "$S" "$PORT" "$T/gw.log" "$T/empty.conf"
[ "$(stat -c %a "$S/tls/key.pem")" = 600 ] || fail "tls/key.pem is not 0600"
[ "$(stat -c %a "$S/tls")" = 700 ] || fail "tls/ is not 0700"
FP1=$(fp_pem "$S/tls/cert.pem")
has "$T/gw.log" "TLS certificate $S/tls/cert.pem (new), SHA256 fingerprint $FP1"
has "$T/gw.log" "listening on https://127.0.0.1:$PORT"
[ "$(served_fp)" = "$FP1" ] || fail "served certificate is not tls/cert.pem"
# Verified by name too (subjectAltName DNS:localhost).
curl -sf --cacert "$S/tls/cert.pem" --resolve "localhost:$PORT:127.0.0.1" \
    "https://localhost:$PORT/v1/ca/user" >/dev/null ||
    fail "the certificate does not verify for localhost"
pass "self-signed TLS pair, fingerprint $FP1"

info "the port is taken: a second server exits 1 at once"
run 1 timeout 10 "$GW" --config "$T/empty.conf" --state-dir "$S" \
    --listen "127.0.0.1:$PORT" serve
has "$T/err" "cannot listen on 127.0.0.1:$PORT"
pass "port in use refused"

info "bad --listen values are usage errors"
for l in 127.0.0.1 127.0.0.1:99999 ::1:8443 '[::1' 'x y:1'; do
	run 2 timeout 10 "$GW" --config "$T/empty.conf" --state-dir "$S" \
	    --listen "$l" serve
	has "$T/err" "bad --listen"
done
pass "bad --listen refused"

info "half a TLS configuration is refused"
printf '[server]\ntls_cert = %s\n' "$S/tls/cert.pem" >"$T/half.conf"
run 1 timeout 10 "$GW" --config "$T/half.conf" --state-dir "$S" \
    --listen "127.0.0.1:$(pick_port)" serve
has "$T/err" "tls_key"
pass "tls_cert without tls_key refused"

info "a body over 64 KiB gets 413, the server stays up"
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o "$T/big.out" -w '%{http_code}' --cacert "$S/tls/cert.pem" \
    -H 'Content-Type: application/json' --data-binary @"$T/big" \
    "$(gw_url "$PORT" /v1/certs/user)")
[ "$code" = 413 ] || fail "70000-byte body: status $code, want 413"
has "$T/big.out" "larger than 65536 bytes"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$S/tls/cert.pem" \
    "$(gw_url "$PORT" /v1/ca/user)")
[ "$code" = 200 ] || fail "after the 413: status $code"
pass "413 for a 70000-byte body"

info "SIGHUP with new TLS files: the new certificate is served"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/new.key" -out "$T/new.pem" -days 2 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null ||
    fail "openssl req"
FP2=$(fp_pem "$T/new.pem")
install -m 600 "$T/new.key" "$S/tls/key.pem"
install -m 644 "$T/new.pem" "$S/tls/cert.pem"
kill -HUP "$GW_PID"
for _ in $(seq 1 50); do
	[ "$(served_fp)" = "$FP2" ] && break
	sleep 0.1
done
[ "$(served_fp)" = "$FP2" ] || fail "after SIGHUP the old certificate is served"
has "$T/gw.log" "SIGHUP: reloaded TLS certificate"
curl -sf --cacert "$T/new.pem" "$(gw_url "$PORT" /v1/ca/user)" >/dev/null ||
    fail "curl with the new certificate"
pass "SIGHUP reloaded the TLS files ($FP2)"

info "SIGHUP with a broken certificate: the old one keeps serving"
echo "not a certificate" >"$S/tls/cert.pem"
kill -HUP "$GW_PID"
for _ in $(seq 1 50); do
	grep -q "TLS files not reloaded" "$T/gw.log" && break
	sleep 0.1
done
has "$T/gw.log" "TLS files not reloaded"
[ "$(served_fp)" = "$FP2" ] || fail "a bad reload changed the served certificate"
kill -0 "$GW_PID" 2>/dev/null || fail "the gateway died on a bad reload"
pass "bad TLS files refused, still serving $FP2"

info "SIGTERM: clean stop"
stop_gateway "$GW_PID" "$T/gw.log"
[ "$GW_STOP_STATUS" = 0 ] || fail "SIGTERM: exit $GW_STOP_STATUS, want 0"
has "$T/gw.log" "stopped"
pass "stopped with exit 0"

exit 0

#!/bin/bash
# gateway_sshd.sh: what the gateway's HTTPS API hands out, judged by a real
# sshd and a real ssh on 127.0.0.1.
#
#   - sshd trusts the body of GET /v1/ca/user (TrustedUserCAKeys) and takes
#     its RevokedKeys from GET /v1/krl;
#   - sshd presents a host certificate that POST /v1/hosts/enroll made for
#     sshd's own host key (principals 127.0.0.1 and localhost);
#   - ssh verifies it with StrictHostKeyChecking=yes against the line of
#     GET /v1/known_hosts, and logs in with a certificate from
#     POST /v1/certs/user for a key made by ssh-keygen;
#   - `trasa-gateway cert revoke --serial N`, the KRL fetched again: that
#     certificate is refused, another one still logs in.
set -euo pipefail
export LC_ALL=C

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

GW=$top_builddir/gateway/trasa-gateway
[ -x "$GW" ] || fail "$GW not built"
[ -x "$SSHD" ] || fail "sshd not found at $SSHD"
for t in curl jq; do
	command -v "$t" >/dev/null || fail "$t is needed by this test"
done

tmp_setup
ME=$(id -un)
S=$T/state
CA=$S/tls/cert.pem
GPORT=$(pick_port)

gw()
{
	"$GW" --config "$T/gw.conf" --state-dir "$S" "$@"
}

# api OUT METHOD PATH [CURL ARGS...]: the answer in OUT; fails unless 200.
api()
{
	local out=$1 method=$2 path=$3 code

	shift 3
	code=$(curl -gsS --cacert "$CA" --max-time 20 -X "$method" -o "$out" \
	    -w '%{http_code}' "$@" "$(gw_url "$GPORT" "$path")") || code=000
	if [ "$code" != 200 ]; then
		head -c 2000 "$out" >&2 2>/dev/null || true
		fail "$method $path: status $code, want 200"
	fi
}

# login KEY: ssh's exit status; stderr in $T/ssh.err.
login()
{
	"$SSH" -F /dev/null \
	    -o StrictHostKeyChecking=yes \
	    -o UserKnownHostsFile="$T/known_hosts" \
	    -o GlobalKnownHostsFile=/dev/null \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o CertificateFile="$1-cert.pub" -o ConnectTimeout=10 \
	    -i "$1" -p "$SPORT" "$ME@127.0.0.1" true </dev/null 2>"$T/ssh.err"
}

# log_since N PATTERN: PATTERN in the sshd log after line N (up to 2 s).
log_since()
{
	for _ in $(seq 1 20); do
		if tail -n "+$(($1 + 1))" "$T/sshd.log" | grep -qF -- "$2"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

expect_login()
{
	local what=$1 key=$2 id=$3 n

	n=$(wc -l <"$T/sshd.log")
	if ! login "$key"; then
		cat "$T/ssh.err" >&2
		tail -n 15 "$T/sshd.log" >&2
		fail "$what: login refused"
	fi
	log_since "$n" "Accepted certificate ID \"$id\"" ||
	    { tail -n 15 "$T/sshd.log" >&2; fail "$what: sshd did not log certificate ID $id"; }
	pass "$what"
}

expect_refused()
{
	local what=$1 key=$2 epat=$3 lpat=${4:-} n rc=0

	n=$(wc -l <"$T/sshd.log")
	login "$key" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: login succeeded, must be refused"
	grep -qF -- "$epat" "$T/ssh.err" ||
	    { cat "$T/ssh.err" >&2; fail "$what: ssh exited $rc without '$epat'"; }
	if [ -n "$lpat" ] && ! log_since "$n" "$lpat"; then
		tail -n 15 "$T/sshd.log" >&2
		fail "$what: no '$lpat' in the sshd log"
	fi
	pass "$what (refused)"
}

# usercert NAME: a key made by ssh-keygen and a certificate for it from
# POST /v1/certs/user (principal: the login user); its serial in SERIAL.
usercert()
{
	"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/$1"
	api "$T/$1.json" POST /v1/certs/user \
	    -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN" \
	    --data-binary "$(jq -nc --arg k "$(cat "$T/$1.pub")" --arg p "$ME" \
	    '{user: "alice", public_key: $k, principals: [$p], ttl: 300}')"
	jq -r .certificate "$T/$1.json" >"$T/$1-cert.pub"
	# jq 1.6 rounds 64-bit numbers: take the serial from the text.
	SERIAL=$(grep -o '"serial": *[0-9]*' "$T/$1.json" | grep -o '[0-9]*$')
	[ -n "$SERIAL" ] || fail "no serial in $(cat "$T/$1.json")"
}

# fetch_krl: GET /v1/krl into sshd's RevokedKeys file, replaced atomically
# (sshd reads it on every authentication).
fetch_krl()
{
	api "$T/krl.new" GET /v1/krl
	mv "$T/krl.new" "$T/krl"
}

# ---------------------------------------------------------------- gateway
: >"$T/gw.conf"
gw ca init --key-type ed25519 >/dev/null || fail "ca init failed"
gw user add alice >/dev/null || fail "user add alice failed"
ADMIN=$(gw admin-token create sshd-test) || fail "admin-token create failed"
TOKEN=$(gw host token localhost --principals 127.0.0.1 --ttl 10m) ||
    fail "host token failed"
start_gateway "$S" "$GPORT" "$T/gw.log" "$T/gw.conf"
info "gateway pid $GW_PID on 127.0.0.1:$GPORT"

# ---------------------------------------------------------------- sshd
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/hostkey"
api "$T/enroll.json" POST /v1/hosts/enroll -H 'Content-Type: application/json' \
    --data-binary "$(jq -nc --arg t "$TOKEN" --arg k "$(cat "$T/hostkey.pub")" \
    '{token: $t, hostname: "localhost", principals: ["127.0.0.1", "localhost"],
    public_key: $k}')"
jq -r .certificate "$T/enroll.json" >"$T/hostkey-cert.pub"
"$SSH_KEYGEN" -L -f "$T/hostkey-cert.pub" | grep -q 'host certificate' ||
    fail "/v1/hosts/enroll did not return a host certificate"
pass "enrolled sshd's host key through /v1/hosts/enroll"

api "$T/user_ca.pub" GET /v1/ca/user
fetch_krl
SPORT=$(pick_port)
{
	sshd_config_base "$SPORT" "$T/hostkey" "$T/sshd.pid"
	echo "HostCertificate $T/hostkey-cert.pub"
	echo "TrustedUserCAKeys $T/user_ca.pub"
	echo "RevokedKeys $T/krl"
} >"$T/sshd_config"
start_sshd "$T/sshd_config" "$T/sshd.log"
info "sshd pid $SSHD_PID on 127.0.0.1:$SPORT"

# ssh looks a non-standard port up as [127.0.0.1]:PORT, and checks the
# host certificate's principals against 127.0.0.1.
api "$T/known_hosts" GET /v1/known_hosts -G \
    --data-urlencode "pattern=127.0.0.1,[127.0.0.1]:$SPORT"
grep -qF "@cert-authority 127.0.0.1,[127.0.0.1]:$SPORT " "$T/known_hosts" ||
    { cat "$T/known_hosts" >&2; fail "/v1/known_hosts: unexpected line"; }

# ---------------------------------------------------------------- logins
usercert u1
SERIAL_u1=$SERIAL
usercert u2
SERIAL_u2=$SERIAL
expect_login "login with a certificate from /v1/certs/user, host verified" \
    "$T/u1" "trasa:alice:$SERIAL_u1"
expect_login "second certificate logs in" "$T/u2" "trasa:alice:$SERIAL_u2"

cp "$T/known_hosts" "$T/known_hosts.good"
api "$T/known_hosts" GET '/v1/known_hosts?pattern=other.example.org'
expect_refused "known_hosts line for another pattern" "$T/u1" \
    "Host key verification failed"
cp "$T/known_hosts.good" "$T/known_hosts"

# ---------------------------------------------------------------- revocation
gw cert revoke --serial "$SERIAL_u1" >/dev/null ||
    fail "cert revoke --serial $SERIAL_u1 failed"
fetch_krl
expect_refused "certificate revoked through /v1/krl" "$T/u1" \
    "Permission denied" "revoked by file"
expect_login "unrevoked certificate still logs in" "$T/u2" "trasa:alice:$SERIAL_u2"

stop_sshd "$SSHD_PID"
stop_gateway "$GW_PID" "$T/gw.log"
[ "$GW_STOP_STATUS" = 0 ] || fail "trasa-gateway on SIGTERM: exit $GW_STOP_STATUS, want 0"
info "gateway_sshd: all cases passed"
exit 0

#!/bin/bash
# gateway_api.sh: the HTTPS API of a real `trasa-gateway serve` on
# 127.0.0.1, driven with curl and checked with jq, ssh-keygen, sqlite3 and
# openssl (doc/PROTOCOL.md section 3):
#
#   distribution  /v1/ca/user, /v1/ca/host, /v1/known_hosts, /v1/krl (ETag,
#                 304, a revocation changes it, ssh-keygen -Q reads it)
#   hosts         enrolment (once per token, 8 concurrent uses: one wins),
#                 challenge + renewal signed with the host key (openssl
#                 pkeyutl over the exact bytes; replay and wrong key
#                 refused), /v1/hosts/tokens, the directory (ETag, 304,
#                 lookups by name and uid, 401 without a credential)
#   users         /v1/certs/user and a dozen bad requests that must all be
#                 refused with JSON naming the field, issuing nothing
#   compat        /v1/services/HOST/hostcert.zip, /auth/agent/nix (TOTP)
#   robustness    kill -9 during 200 concurrent issuances: the database is
#                 intact, every serial handed out is distinct and recorded;
#                 a read-only state directory gives 5xx JSON, not a crash
set -euo pipefail
export LC_ALL=C

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

GW=$top_builddir/gateway/trasa-gateway
[ -x "$GW" ] || fail "$GW not built"
for t in curl jq sqlite3 openssl python3 "$SSH_KEYGEN"; do
	command -v "$t" >/dev/null || fail "$t is needed by this test"
done

tmp_setup
S=$T/state
CA=$S/tls/cert.pem
PORT=$(pick_port)
START=$(date +%s)

gw()
{
	"$GW" --config "$T/gw.conf" --state-dir "$S" "$@"
}

# req METHOD PATH [CURL ARGS...]: the answer's status in $CODE, body in
# $T/body, headers in $T/hdr.
req()
{
	local method=$1 path=$2

	shift 2
	rm -f "$T/body" "$T/hdr"
	: >"$T/body"
	CODE=$(curl -gsS --cacert "$CA" --max-time 20 -X "$method" \
	    -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" \
	    "$(gw_url "$PORT" "$path")" 2>"$T/curl.err") || CODE=000
}

# post PATH JSON [BEARER]: POST a JSON body.
post()
{
	local path=$1 json=$2 auth=${3:-}

	if [ -n "$auth" ]; then
		req POST "$path" -H 'Content-Type: application/json' \
		    -H "Authorization: Bearer $auth" --data-binary "$json"
	else
		req POST "$path" -H 'Content-Type: application/json' \
		    --data-binary "$json"
	fi
}

# get PATH [BEARER] [CURL ARGS...]
get()
{
	local path=$1 auth=${2:-}

	shift 2 || shift $#
	if [ -n "$auth" ]; then
		req GET "$path" -H "Authorization: Bearer $auth" "$@"
	else
		req GET "$path" "$@"
	fi
}

# The header NAME of the last answer ("" when absent).
hdr()
{
	grep -i "^$1:" "$T/hdr" | tail -n 1 | cut -d: -f2- | tr -d '\r' |
	    sed 's/^ *//' || true
}

dump()
{
	{
		echo "  status: $CODE"
		sed 's/^/  header: /' "$T/hdr" 2>/dev/null | tr -d '\r'
		head -c 2000 "$T/body" 2>/dev/null | sed 's/^/  body: /'
		echo
		sed 's/^/  curl: /' "$T/curl.err" 2>/dev/null
	} >&2
}

# expect WANT WHAT: the last answer had status WANT.
expect()
{
	if [ "$CODE" != "$1" ]; then
		dump
		fail "$2: status $CODE, want $1"
	fi
}

# in_range LOW HIGH WHAT: the last status is within LOW..HIGH.
in_range()
{
	if [ "$CODE" -lt "$1" ] || [ "$CODE" -gt "$2" ]; then
		dump
		fail "$3: status $CODE, want $1..$2"
	fi
}

# expect_json WHAT: the body is JSON with Content-Type application/json.
expect_json()
{
	case $(hdr Content-Type) in
	application/json*) ;;
	*) dump; fail "$1: Content-Type '$(hdr Content-Type)', want application/json" ;;
	esac
	jq -e . "$T/body" >/dev/null 2>&1 || { dump; fail "$1: body is not JSON"; }
}

# expect_error WANT FIELD WHAT: status WANT, JSON {"error": non-empty,
# "field": FIELD} (field not checked when FIELD is "").
expect_error()
{
	local want=$1 field=$2 what=$3 got

	expect "$want" "$what"
	expect_json "$what"
	jq -e '.error | type == "string" and length > 0' "$T/body" >/dev/null ||
	    { dump; fail "$what: no .error string"; }
	if [ -n "$field" ]; then
		got=$(jq -r '.field // ""' "$T/body")
		[ "$got" = "$field" ] ||
		    { dump; fail "$what: .field is '$got', want '$field'"; }
	fi
	pass "$what -> $CODE $(jq -c . "$T/body")"
}

# jnum FILE KEY: a JSON number exactly (jq 1.6 rounds 64-bit integers).
jnum()
{
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
assert isinstance(v, int) and not isinstance(v, bool), repr(v)
print(v)' "$1" "$2" || { cat "$1" >&2; fail "$1: .$2 is not an integer"; }
}

# certinfo CERTFILE FIELD: a field of `ssh-keygen -L` ("Type", "Serial"...).
certinfo()
{
	"$SSH_KEYGEN" -L -f "$1" |
	    awk -v f="$2" '{ sub(/^[ \t]+/, "") }
	    index($0, f ": ") == 1 { print substr($0, length(f) + 3); exit }'
}

# principals_of CERTFILE: the principals, comma-separated.
principals_of()
{
	"$SSH_KEYGEN" -L -f "$1" | awk '
	    /^[ \t]*Principals:/ { p = 1; next }
	    p && /^[ \t]*[A-Z][A-Za-z ]*:/ { p = 0 }
	    p { gsub(/^[ \t]+/, ""); s = s (s == "" ? "" : ",") $0 }
	    END { print s }'
}

fp()
{
	"$SSH_KEYGEN" -l -f "$1" | awk '{ print $2 }'
}

# check_cert FILE KIND SERIAL PRINCIPALS KEYPUB CAPUB: ssh-keygen reads
# FILE as a KIND ("user"/"host") certificate with that serial and those
# principals, for the key in KEYPUB, signed by the key in CAPUB.
check_cert()
{
	local f=$1 kind=$2 serial=$3 princ=$4 key=$5 ca=$6 got

	"$SSH_KEYGEN" -L -f "$f" >"$T/L" 2>&1 ||
	    { cat "$T/L" >&2; fail "ssh-keygen -L cannot read $f"; }
	got=$(certinfo "$f" Type)
	case $got in
	*"$kind certificate") ;;
	*) cat "$T/L" >&2; fail "$f: type '$got', want a $kind certificate" ;;
	esac
	got=$(certinfo "$f" Serial)
	[ "$got" = "$serial" ] || fail "$f: serial $got, want $serial"
	got=$(principals_of "$f")
	[ "$got" = "$princ" ] || fail "$f: principals '$got', want '$princ'"
	got=$(certinfo "$f" "Public key" | awk '{ print $2 }')
	[ "$got" = "$(fp "$key")" ] ||
	    fail "$f: certifies $got, not the key $(fp "$key")"
	got=$(certinfo "$f" "Signing CA" | awk '{ print $2 }')
	[ "$got" = "$(fp "$ca")" ] || fail "$f: signed by $got, not $(fp "$ca")"
}

# Raw SSH wire encoding, for the renewal signature.
be32()
{
	local n=$1

	# shellcheck disable=SC2059 # the format is the escaped bytes
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n >> 24 & 255)) \
	    $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
}
sshstr()
{
	be32 "${#1}"
	printf '%s' "$1"
}
sshstr_file()
{
	be32 "$(wc -c <"$1")"
	cat "$1"
}

# ed_publine PEM: the OpenSSH line of an Ed25519 key made by openssl (the
# last 32 bytes of the SubjectPublicKeyInfo are the raw public key).
ed_publine()
{
	openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 \
	    >"$T/raw.pub"
	[ "$(wc -c <"$T/raw.pub")" -eq 32 ] || fail "ed_publine: $1"
	printf 'ssh-ed25519 %s host\n' \
	    "$({ sshstr ssh-ed25519; sshstr_file "$T/raw.pub"; } | base64 -w0)"
}

# renew_sig PEM HOST CHALLENGE: base64 of the SSH signature blob over
# string "trasa-host-renew-v1" || string HOST || string CHALLENGE.
renew_sig()
{
	{
		sshstr trasa-host-renew-v1
		sshstr "$2"
		sshstr "$3"
	} >"$T/renew.data"
	openssl pkeyutl -sign -rawin -inkey "$1" -in "$T/renew.data" \
	    -out "$T/renew.sig" || fail "openssl pkeyutl -sign failed"
	[ "$(wc -c <"$T/renew.sig")" -eq 64 ] || fail "Ed25519 signature size"
	{ sshstr ssh-ed25519; sshstr_file "$T/renew.sig"; } | base64 -w0
}

# SQL on the state database (read-only use, for checks).
db()
{
	sqlite3 -batch -noheader "$S/gateway.db" "$@"
}
n_certs()
{
	db 'SELECT count(*) FROM certs'
}

# totp SECRET [STEP_OFFSET]: RFC 6238 code (SHA-1, 30 s, 6 digits) of a
# secret printed by `user totp` (base32, hex or an otpauth:// URI).
totp()
{
	python3 - "$1" "${2:-0}" <<'EOF'
import base64, binascii, hashlib, hmac, re, struct, sys, time, urllib.parse
s = sys.argv[1].strip()
if s.startswith("otpauth://"):
    s = urllib.parse.parse_qs(urllib.parse.urlparse(s).query)["secret"][0]
s = s.replace(" ", "")
if re.fullmatch(r"[0-9a-fA-F]+", s) and re.search(r"[0189]", s) and len(s) % 2 == 0:
    key = binascii.unhexlify(s)
else:
    s = s.upper().rstrip("=")
    key = base64.b32decode(s + "=" * (-len(s) % 8))
c = int(time.time()) // 30 + int(sys.argv[2])
h = hmac.new(key, struct.pack(">Q", c), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
EOF
}

# ---------------------------------------------------------------- setup
: >"$T/gw.conf"
gw ca init --key-type ed25519 >/dev/null || fail "ca init failed"
gw group add ops >/dev/null || fail "group add ops failed"
gw user add alice --groups ops >/dev/null || fail "user add alice failed"
ADMIN=$(gw admin-token create ci) || fail "admin-token create failed"
# Expires while the test runs; used near the end.
TOK_EXP=$(gw host token expiring.example.com --ttl 1s) || fail "host token --ttl 1s failed"
[[ $ADMIN =~ ^[A-Za-z0-9_-]{43}$ ]] ||
    fail "admin-token create printed '$ADMIN', want 43 base64url characters"
USER_CA=$S/ca/user_ca.pub
HOST_CA=$S/ca/host_ca.pub
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/alice"
"$SSH_KEYGEN" -q -N '' -C '' -t rsa -b 1024 -f "$T/rsa1024"
ALICE_PUB=$(cat "$T/alice.pub")

start_gateway "$S" "$PORT" "$T/gw.log" "$T/gw.conf"
info "gateway pid $GW_PID on 127.0.0.1:$PORT"
[ "$(stat -c %a "$S/tls/key.pem")" = 600 ] ||
    fail "tls/key.pem mode $(stat -c %a "$S/tls/key.pem"), want 600"

# ---------------------------------------------------------------- distribution
get /v1/ca/user
expect 200 "GET /v1/ca/user"
case $(hdr Content-Type) in text/plain*) ;; *) fail "/v1/ca/user: Content-Type $(hdr Content-Type)" ;; esac
[ "$(head -n 1 "$T/body" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$USER_CA")" ] ||
    { dump; fail "/v1/ca/user: first line is not ca/user_ca.pub"; }
[ "$(wc -l <"$T/body")" -eq 1 ] || { dump; fail "/v1/ca/user: one key expected"; }
pass "GET /v1/ca/user is ca/user_ca.pub"

get /v1/ca/host
expect 200 "GET /v1/ca/host"
[ "$(head -n 1 "$T/body" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$HOST_CA")" ] ||
    { dump; fail "/v1/ca/host: first line is not ca/host_ca.pub"; }
pass "GET /v1/ca/host is ca/host_ca.pub"

get '/v1/known_hosts?pattern=*.example.com'
expect 200 "GET /v1/known_hosts?pattern=*.example.com"
[ "$(head -n 1 "$T/body")" = "@cert-authority *.example.com $(cut -d' ' -f1-2 "$HOST_CA")" ] ||
    { dump; fail "/v1/known_hosts: wrong line"; }
get /v1/known_hosts
expect 200 "GET /v1/known_hosts"
[ "$(head -n 1 "$T/body" | cut -d' ' -f1-2)" = "@cert-authority *" ] ||
    { dump; fail "/v1/known_hosts: default pattern is not *"; }
pass "GET /v1/known_hosts (pattern given and default)"
get '/v1/known_hosts?pattern=a%20b'
expect_error 400 pattern "known_hosts pattern with a blank"
get '/v1/known_hosts?pattern=a%01b'
expect_error 400 pattern "known_hosts pattern with a control character"
get "/v1/known_hosts?pattern=$(printf 'a%.0s' $(seq 1 256))"
expect_error 400 pattern "known_hosts pattern of 256 bytes"

get /v1/krl
expect 200 "GET /v1/krl"
case $(hdr Content-Type) in
application/octet-stream*) ;;
*) dump; fail "/v1/krl: Content-Type '$(hdr Content-Type)'" ;;
esac
cp "$T/body" "$T/krl0"
ETAG_KRL0=$(hdr ETag)
[[ $ETAG_KRL0 =~ ^\"krl-[0-9]+-[0-9a-f]{16}\"$ ]] || { dump; fail "/v1/krl: ETag '$ETAG_KRL0'"; }
[ "$(head -c 6 "$T/krl0")" = SSHKRL ] || fail "/v1/krl: no SSHKRL magic"
"$SSH_KEYGEN" -Q -f "$T/krl0" "$T/alice.pub" >/dev/null ||
    fail "ssh-keygen -Q cannot read /v1/krl or finds alice's key revoked"
get /v1/krl "" -H "If-None-Match: $ETAG_KRL0"
expect 304 "GET /v1/krl with If-None-Match"
[ ! -s "$T/body" ] || fail "304 with a body"
pass "GET /v1/krl: $ETAG_KRL0, ssh-keygen -Q reads it, then 304"

# ---------------------------------------------------------------- enrolment
openssl genpkey -algorithm ed25519 -out "$T/web1.pem" 2>/dev/null
ed_publine "$T/web1.pem" >"$T/web1.pub"
TOK1=$(gw host token web1.example.com --principals 10.0.0.5,web1 --ttl 1h) ||
    fail "host token failed"
[[ $TOK1 =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "host token printed '$TOK1'"
enroll_json()
{
	jq -nc --arg t "$1" --arg h "$2" --arg k "$3" --argjson p "$4" \
	    '{token: $t, hostname: $h, public_key: $k} +
	    (if $p == null then {} else {principals: $p} end)'
}
post /v1/hosts/enroll "$(enroll_json "$TOK1" web1.example.com \
    "$(cat "$T/web1.pub")" '["web1.example.com","10.0.0.5"]')"
expect 200 "enrol web1.example.com"
expect_json "enrol"
cp "$T/body" "$T/enroll1.json"
jq -r .certificate "$T/enroll1.json" >"$T/web1-cert.pub"
SERIAL_W1=$(jnum "$T/enroll1.json" serial)
check_cert "$T/web1-cert.pub" host "$SERIAL_W1" "web1.example.com,10.0.0.5" \
    "$T/web1.pub" "$HOST_CA"
[ "$(jq -r '.user_ca_keys[0]' "$T/enroll1.json" | cut -d' ' -f1-2)" = \
    "$(cut -d' ' -f1-2 "$USER_CA")" ] || fail "enrol: user_ca_keys[0] is not the user CA"
CRED=$(jq -r .host_credential "$T/enroll1.json")
[[ $CRED =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "enrol: host_credential '$CRED'"
vb=$(jnum "$T/enroll1.json" valid_before)
# ssh-keygen -L prints local time, as date does.
[ "$(certinfo "$T/web1-cert.pub" Valid | awk '{ print $4 }')" = \
    "$(date -d "@$vb" +%Y-%m-%dT%H:%M:%S)" ] ||
    fail "enrol: valid_before $vb does not match the certificate ($(certinfo "$T/web1-cert.pub" Valid))"
pass "enrol: host certificate for the host's own key, serial $SERIAL_W1"

post /v1/hosts/enroll "$(enroll_json "$TOK1" web1.example.com \
    "$(cat "$T/web1.pub")" null)"
expect_error 403 token "enrol again with a used token"
post /v1/hosts/enroll "$(enroll_json AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA \
    web1.example.com "$(cat "$T/web1.pub")" null)"
expect_error 403 token "enrol with an unknown token"

openssl genpkey -algorithm ed25519 -out "$T/web2.pem" 2>/dev/null
ed_publine "$T/web2.pem" >"$T/web2.pub"
TOK2=$(gw host token web2.example.com --principals web2 --ttl 1h)
post /v1/hosts/enroll "$(enroll_json "$TOK2" web1.example.com \
    "$(cat "$T/web2.pub")" null)"
in_range 400 499 "enrol for another host name"
expect_error "$CODE" "" "enrol with another host's token"
post /v1/hosts/enroll "$(enroll_json "$TOK2" web2.example.com \
    "$(cat "$T/web2.pub")" '["web2.example.com","evil.example.com"]')"
in_range 400 499 "enrol with a principal not allowed"
expect_error "$CODE" principals "enrol with a principal the token does not allow"
post /v1/hosts/enroll "$(enroll_json "$TOK2" web2.example.com \
    "$(cat "$T/rsa1024.pub")" null)"
expect_error 400 public_key "enrol an RSA-1024 host key"

# The refused attempts wrote nothing: the token is still good, and of 8
# concurrent uses exactly one succeeds.
pids=()
for i in $(seq 1 8); do
	curl -sS --cacert "$CA" --max-time 20 -o "$T/conc.$i" \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary "$(enroll_json "$TOK2" web2.example.com \
	    "$(cat "$T/web2.pub")" '["web2.example.com","web2"]')" \
	    "$(gw_url "$PORT" /v1/hosts/enroll)" >"$T/conc.$i.code" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
ok=0
for i in $(seq 1 8); do
	c=$(cat "$T/conc.$i.code")
	case $c in
	200) ok=$((ok + 1)); cp "$T/conc.$i" "$T/enroll2.json" ;;
	403) [ "$(jq -r .field "$T/conc.$i")" = token ] ||
	    fail "concurrent enrolment $i: 403 without field token: $(cat "$T/conc.$i")" ;;
	*) fail "concurrent enrolment $i: status $c: $(cat "$T/conc.$i")" ;;
	esac
done
[ "$ok" -eq 1 ] || fail "8 concurrent enrolments with one token: $ok succeeded, want 1"
jq -r .certificate "$T/enroll2.json" >"$T/web2-cert.pub"
check_cert "$T/web2-cert.pub" host "$(jnum "$T/enroll2.json" serial)" \
    "web2.example.com,web2" "$T/web2.pub" "$HOST_CA"
pass "8 concurrent enrolments with one token: exactly one 200, seven 403 token"

# ---------------------------------------------------------------- renewal
challenge()
{
	post /v1/hosts/challenge "{\"hostname\": \"$1\"}"
	expect 200 "challenge for $1"
	CHAL=$(jq -r .challenge "$T/body")
	[[ $CHAL =~ ^[A-Za-z0-9_-]{43}$ ]] || { dump; fail "challenge '$CHAL'"; }
}
renew_json()
{
	jq -nc --arg h "$1" --arg c "$2" --arg s "$3" \
	    '{hostname: $h, challenge: $c, signature: $s}'
}
challenge web1.example.com
SIG=$(renew_sig "$T/web1.pem" web1.example.com "$CHAL")
post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "$SIG")"
expect 200 "renew web1.example.com"
expect_json "renew"
cp "$T/body" "$T/renew1.json"
jq -r .certificate "$T/renew1.json" >"$T/web1-renewed-cert.pub"
SERIAL_R1=$(jnum "$T/renew1.json" serial)
[ "$SERIAL_R1" != "$SERIAL_W1" ] || fail "renewal reused serial $SERIAL_R1"
check_cert "$T/web1-renewed-cert.pub" host "$SERIAL_R1" \
    "web1.example.com,10.0.0.5" "$T/web1.pub" "$HOST_CA"
pass "renew with a signature by the host key: new certificate, serial $SERIAL_R1"

post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "$SIG")"
in_range 400 499 "replayed renewal"
expect_error "$CODE" "" "replayed challenge refused"

challenge web1.example.com
SIG=$(renew_sig "$T/web2.pem" web1.example.com "$CHAL")
post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "$SIG")"
in_range 400 499 "renewal signed by another key"
expect_error "$CODE" "" "renewal signed by another host's key refused"

challenge web1.example.com
SIG=$(renew_sig "$T/web1.pem" web1.example.com "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "$SIG")"
in_range 400 499 "renewal signing another challenge"
expect_error "$CODE" "" "renewal signature over another challenge refused"

challenge web1.example.com
post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "bm90IGEgc2lnbmF0dXJl")"
in_range 400 499 "renewal with garbage signature"
expect_error "$CODE" "" "renewal with a garbage signature refused"

# A revoked host key is not renewed, even with a good signature.
gw cert revoke --key "$T/web1.pub" >/dev/null || fail "cert revoke --key web1"
challenge web1.example.com
SIG=$(renew_sig "$T/web1.pem" web1.example.com "$CHAL")
post /v1/hosts/renew "$(renew_json web1.example.com "$CHAL" "$SIG")"
expect_error 403 hostname "renewal of a revoked host key refused"

post /v1/hosts/challenge '{"hostname": "nosuch.example.com"}'
in_range 400 499 "challenge for unknown host"
pass "challenge for an unknown host refused ($CODE)"

# ---------------------------------------------------------------- directory
get /v1/hosts/self/directory "$CRED"
expect 200 "GET /v1/hosts/self/directory"
expect_json "directory"
ETAG_D1=$(hdr ETag)
GEN1=$(jq -r .generation "$T/body")
[ "$ETAG_D1" = "\"dir-$GEN1\"" ] || { dump; fail "directory: ETag '$ETAG_D1' for generation $GEN1"; }
jq -e '.users[] | select(.name == "alice") | (.uid > 0) and (.gid > 0) and
    (.home == "/home/alice") and (.disabled == false) and (.shell | type == "string")' \
    "$T/body" >/dev/null || { dump; fail "directory: alice missing or incomplete"; }
jq -e '.groups[] | select(.name == "ops") | .members == ["alice"]' "$T/body" \
    >/dev/null || { dump; fail "directory: group ops without member alice"; }
jq -e '.login.allow_groups | type == "array"' "$T/body" >/dev/null ||
    { dump; fail "directory: no login.allow_groups"; }
ALICE_UID=$(jq -r '.users[] | select(.name == "alice") | .uid' "$T/body")
pass "directory: alice (uid $ALICE_UID), ops [alice], $ETAG_D1"

get /v1/hosts/self/directory "$CRED" -H "If-None-Match: $ETAG_D1"
expect 304 "directory with If-None-Match"
gw user add bob >/dev/null || fail "user add bob failed"
# The gateway sees a directory change within a second (PROTOCOL.md).
sleep 2
get /v1/hosts/self/directory "$CRED" -H "If-None-Match: $ETAG_D1"
expect 200 "directory after user add"
ETAG_D2=$(hdr ETag)
[ "$ETAG_D2" != "$ETAG_D1" ] || fail "directory ETag unchanged after user add"
[ "$(jq -r .generation "$T/body")" -gt "$GEN1" ] || fail "directory generation did not grow"
jq -e '.users | map(.name) | index("bob") != null' "$T/body" >/dev/null ||
    fail "directory: bob missing after user add"
pass "directory: 304, then user add -> 200 with $ETAG_D2"

get "/v1/hosts/self/directory/user?name=alice" "$CRED"
expect 200 "directory/user?name=alice"
[ "$(jq -r .uid "$T/body")" = "$ALICE_UID" ] || { dump; fail "user?name=alice: wrong uid"; }
get "/v1/hosts/self/directory/user?uid=$ALICE_UID" "$CRED"
expect 200 "directory/user?uid=$ALICE_UID"
[ "$(jq -r .name "$T/body")" = alice ] || { dump; fail "user?uid=: not alice"; }
get "/v1/hosts/self/directory/user?name=nobody" "$CRED"
expect 404 "directory/user?name=nobody"
get "/v1/hosts/self/directory/user?uid=4000000000" "$CRED"
expect 404 "directory/user?uid=4000000000"
pass "directory/user by name and uid; unknown: 404"

get /v1/hosts/self/directory
expect_error 401 "" "directory without a credential"
get /v1/hosts/self/directory "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_error 401 "" "directory with a wrong credential"
get /v1/hosts/self/directory "$ADMIN"
expect_error 401 "" "directory with an admin token as host credential"
get "/v1/hosts/self/directory/user?name=alice"
expect_error 401 "" "directory/user without a credential"

# ---------------------------------------------------------------- user certs
NC0=$(n_certs)
post /v1/certs/user "$(jq -nc --arg k "$ALICE_PUB" \
    '{user: "alice", public_key: $k, principals: ["alice", "ops"], ttl: 600}')" "$ADMIN"
expect 200 "POST /v1/certs/user"
expect_json "certs/user"
cp "$T/body" "$T/ucert.json"
jq -r .certificate "$T/ucert.json" >"$T/alice-cert.pub"
SERIAL_U=$(jnum "$T/ucert.json" serial)
check_cert "$T/alice-cert.pub" user "$SERIAL_U" "alice,ops" "$T/alice.pub" "$USER_CA"
[ "$(jq -r .key_id "$T/ucert.json")" = "trasa:alice:$SERIAL_U" ] ||
    fail "certs/user: key_id $(jq -r .key_id "$T/ucert.json")"
[ "$(certinfo "$T/alice-cert.pub" "Key ID")" = "\"trasa:alice:$SERIAL_U\"" ] ||
    fail "certificate key ID $(certinfo "$T/alice-cert.pub" "Key ID")"
va=$(jnum "$T/ucert.json" valid_after)
vb=$(jnum "$T/ucert.json" valid_before)
[ $((vb - va)) -eq 660 ] || fail "certs/user: valid_before - valid_after = $((vb - va)), want 600 + 60"
now=$(date +%s)
[ "$va" -le $((now - 55)) ] || fail "certs/user: valid_after $va, now $now"
[ "$va" -ge $((now - 70)) ] ||
    fail "certs/user: valid_after $va is not about 60 s before $now"
[ "$(n_certs)" -eq $((NC0 + 1)) ] || fail "certs table did not grow by one"
pass "user certificate: serial $SERIAL_U, key ID trasa:alice:$SERIAL_U, 600 s + 60 s back-dating"

post /v1/certs/user "$(jq -nc --arg k "$ALICE_PUB" '{user: "alice", public_key: $k}')" "$ADMIN"
expect 200 "POST /v1/certs/user (defaults)"
jq -r .certificate "$T/body" >"$T/alice2-cert.pub"
[ "$(principals_of "$T/alice2-cert.pub")" = alice ] || fail "default principals are not [user]"
[ $(($(jnum "$T/body" valid_before) - $(jnum "$T/body" valid_after))) -eq 360 ] ||
    fail "default ttl is not 300 s"
pass "user certificate with defaults: principals [alice], ttl 300"

# Bad requests: each refused with JSON naming the field; none issues.
NC1=$(n_certs)
# Refusals are audited too; an issued certificate is a cert.user "ok".
n_issued_audit()
{
	gw audit --json | jq '[.[] | select(.event == "cert.user" and .result == "ok")] | length'
}
AUD1=$(n_issued_audit)
ucert()
{
	jq -nc --arg k "${2:-$ALICE_PUB}" --arg u alice "{user: \$u, public_key: \$k} + $1"
}
post /v1/certs/user "$(ucert '{principals: ["ali\u0001ce"]}')" "$ADMIN"
expect_error 400 principals "principal with a control character"
post /v1/certs/user "$(ucert '{principals: ["a,b"]}')" "$ADMIN"
expect_error 400 principals "principal with a comma"
post /v1/certs/user "$(ucert '{principals: ["a b"]}')" "$ADMIN"
expect_error 400 principals "principal with a blank"
post /v1/certs/user "$(ucert '{principals: [""]}')" "$ADMIN"
expect_error 400 principals "empty principal"
post /v1/certs/user "$(ucert "{principals: [\"$(printf 'p%.0s' $(seq 1 256))\"]}")" "$ADMIN"
expect_error 400 principals "principal of 256 bytes"
post /v1/certs/user "$(ucert '{principals: []}')" "$ADMIN"
expect_error 400 principals "empty principal list"
post /v1/certs/user "$(ucert "{principals: $(seq 1 33 | jq -R . | jq -sc .)}")" "$ADMIN"
expect_error 400 principals "33 principals (max_principals 32)"
post /v1/certs/user "$(ucert '{ttl: 86401}')" "$ADMIN"
expect_error 400 ttl "ttl above user_max_ttl"
post /v1/certs/user "$(ucert '{ttl: 0}')" "$ADMIN"
expect_error 400 ttl "ttl 0"
post /v1/certs/user "$(ucert '{ttl: -5}')" "$ADMIN"
expect_error 400 ttl "negative ttl"
post /v1/certs/user "$(ucert '{ttl: "300"}')" "$ADMIN"
expect_error 400 ttl "ttl as a string"
post /v1/certs/user "$(ucert '{}' "$(cat "$T/rsa1024.pub")")" "$ADMIN"
expect_error 400 public_key "RSA-1024 key"
post /v1/certs/user "$(ucert '{}' "ssh-ed25519 AAAAnotbase64!!")" "$ADMIN"
expect_error 400 public_key "unparsable public key"
post /v1/certs/user "$(ucert '{}' "$(cat "$T/alice-cert.pub")")" "$ADMIN"
expect_error 400 public_key "a certificate as the public key"
post /v1/certs/user "$(jq -nc --arg k "$ALICE_PUB" '{user: "nobody", public_key: $k}')" "$ADMIN"
[ "$CODE" = 400 ] || [ "$CODE" = 404 ] || { dump; fail "unknown user: $CODE"; }
expect_error "$CODE" user "unknown user"
post /v1/certs/user "$(jq -nc --arg k "$ALICE_PUB" '{public_key: $k}')" "$ADMIN"
expect_error 400 user "missing user"
post /v1/certs/user '{"user": "alice", "public_key": ' "$ADMIN"
expect_error 400 "" "malformed JSON"
post /v1/certs/user '["alice"]' "$ADMIN"
expect_error 400 "" "JSON array instead of an object"
post /v1/certs/user "$(ucert '{bogus: 1}')" "$ADMIN"
expect_error 400 bogus "unknown field"
head -c $((64 * 1024 + 100)) /dev/zero | tr '\0' ' ' >"$T/big.json"
printf '{"user": "alice"}' >>"$T/big.json"
req POST /v1/certs/user -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $ADMIN" --data-binary "@$T/big.json"
expect_error 413 "" "body over 64 KiB"
post /v1/certs/user "$(ucert '{}')"
expect_error 401 "" "no Authorization header"
post /v1/certs/user "$(ucert '{}')" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_error 401 "" "unknown admin token"
post /v1/certs/user "$(ucert '{}')" "$CRED"
expect_error 401 "" "a host credential as admin token"
req POST /v1/certs/user -H 'Content-Type: application/json' \
    -H "Authorization: Basic $ADMIN" --data-binary "$(ucert '{}')"
expect_error 401 "" "Authorization scheme other than Bearer"
get /v1/certs/user "$ADMIN"
expect_error 405 "" "GET /v1/certs/user"
get /v1/no/such/path
expect_error 404 "" "unknown path"
[ "$(n_certs)" -eq "$NC1" ] ||
    fail "refused requests issued certificates: certs table $NC1 -> $(n_certs)"
[ "$(n_issued_audit)" -eq "$AUD1" ] ||
    fail "refused requests added cert.user ok audit events"
nref=$(gw audit --json | jq '[.[] | select(.event == "cert.user" and .result != "ok")] | length')
pass "every refused request left the certs table at $NC1 rows and $AUD1 cert.user ok events ($nref refusals audited)"

# ---------------------------------------------------------------- KRL after a revocation
gw cert revoke --serial "$SERIAL_U" >/dev/null || fail "cert revoke --serial failed"
get /v1/krl "" -H "If-None-Match: $ETAG_KRL0"
expect 200 "GET /v1/krl after a revocation"
ETAG_KRL1=$(hdr ETag)
[ "$ETAG_KRL1" != "$ETAG_KRL0" ] || fail "KRL ETag unchanged after revocation"
cp "$T/body" "$T/krl1"
if "$SSH_KEYGEN" -Q -f "$T/krl1" "$T/alice-cert.pub" >"$T/q" 2>&1; then
	cat "$T/q" >&2
	fail "ssh-keygen -Q: revoked serial $SERIAL_U not in /v1/krl"
fi
"$SSH_KEYGEN" -Q -f "$T/krl1" "$T/alice2-cert.pub" >/dev/null ||
    fail "ssh-keygen -Q: the other certificate is revoked too"
pass "KRL: revoked serial $SERIAL_U (ssh-keygen -Q), $ETAG_KRL0 -> $ETAG_KRL1"

# ---------------------------------------------------------------- host tokens (admin)
post /v1/hosts/tokens '{"hostname": "web3.example.com", "principals": ["web3"], "ttl": 3600}' "$ADMIN"
expect 200 "POST /v1/hosts/tokens"
TOK3=$(jq -r .token "$T/body")
[[ $TOK3 =~ ^[A-Za-z0-9_-]{43}$ ]] || { dump; fail "hosts/tokens: token '$TOK3'"; }
exp=$(jnum "$T/body" expires)
now=$(date +%s)
[ "$exp" -ge $((now + 3590)) ] || fail "hosts/tokens: expires $exp, now $now"
[ "$exp" -le $((now + 3610)) ] ||
    fail "hosts/tokens: expires $exp, want about now + 3600"
"$SSH_KEYGEN" -q -N '' -C '' -t ecdsa -f "$T/web3"
post /v1/hosts/enroll "$(enroll_json "$TOK3" web3.example.com \
    "$(cat "$T/web3.pub")" '["web3"]')"
expect 200 "enrol with a token from /v1/hosts/tokens"
jq -r .certificate "$T/body" >"$T/web3-cert.pub"
check_cert "$T/web3-cert.pub" host "$(jnum "$T/body" serial)" web3 \
    "$T/web3.pub" "$HOST_CA"
pass "/v1/hosts/tokens: token enrols web3 (ECDSA host key)"
post /v1/hosts/tokens '{"hostname": "web4.example.com"}'
expect_error 401 "" "hosts/tokens without admin"
post /v1/hosts/tokens '{"hostname": "web4.example.com", "ttl": 99999999}' "$ADMIN"
expect_error 400 ttl "hosts/tokens ttl above token_max_ttl"
post /v1/hosts/tokens '{"hostname": "bad host"}' "$ADMIN"
expect_error 400 hostname "hosts/tokens host name with a blank"

# ---------------------------------------------------------------- hostcert.zip
get /v1/services/web4.example.com/hostcert.zip "$ADMIN"
expect 200 "GET /v1/services/web4.example.com/hostcert.zip"
cp "$T/body" "$T/hc.zip"
python3 - "$T/hc.zip" "$T/zip" <<'EOF' || fail "hostcert.zip: not the 3 expected files"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = sorted(z.namelist())
want = sorted(["id_ed25519", "id_ed25519.pub", "id_ed25519-cert.pub"])
if names != want:
    sys.exit("zip holds %r, want %r" % (names, want))
z.extractall(sys.argv[2])
EOF
chmod 600 "$T/zip/id_ed25519"
"$SSH_KEYGEN" -y -f "$T/zip/id_ed25519" >"$T/zip/derived.pub" ||
    fail "hostcert.zip: id_ed25519 is not a readable private key"
[ "$(fp "$T/zip/derived.pub")" = "$(fp "$T/zip/id_ed25519.pub")" ] ||
    fail "hostcert.zip: id_ed25519.pub is not the private key's"
zs=$(certinfo "$T/zip/id_ed25519-cert.pub" Serial)
check_cert "$T/zip/id_ed25519-cert.pub" host "$zs" web4.example.com \
    "$T/zip/derived.pub" "$HOST_CA"
pass "hostcert.zip: key pair + host certificate for web4.example.com"
get /v1/services/web4.example.com/hostcert.zip
expect_error 401 "" "hostcert.zip without admin"

# ---------------------------------------------------------------- /auth/agent/nix
gw user totp alice >"$T/totp.out" || fail "user totp alice failed"
SECRET=$(grep -o 'otpauth://[^[:space:]]*' "$T/totp.out" | head -n 1 || true)
[ -n "$SECRET" ] || SECRET=$(head -n 1 "$T/totp.out" | awk '{ print $NF }')
CODE_NOW=$(totp "$SECRET") || fail "cannot compute a TOTP from '$(cat "$T/totp.out")'"
nix_json()
{
	jq -nc --arg id web1.example.com --arg key "$1" --arg code "$2" \
	    '{serviceID: $id, serviceKey: $key, user: "root", trasaID: "alice",
	    totpCode: $code, userIP: "10.0.0.9", hostname: "web1"}'
}
post /auth/agent/nix "$(nix_json "$CRED" "$CODE_NOW")"
expect 200 "/auth/agent/nix with the current TOTP"
[ "$(jq -r .status "$T/body")" = success ] || { dump; fail "/auth/agent/nix: not success"; }
pass "/auth/agent/nix: TOTP $CODE_NOW -> success"
post /auth/agent/nix "$(nix_json "$CRED" "$CODE_NOW")"
expect 200 "/auth/agent/nix with the same TOTP again"
[ "$(jq -r .reason "$T/body")" = "totp code already used" ] ||
    { dump; fail "/auth/agent/nix: a TOTP code was accepted twice"; }
pass "/auth/agent/nix: the same TOTP again -> failed (already used)"
bad=$CODE_NOW
window=" $(totp "$SECRET" -1) $CODE_NOW $(totp "$SECRET" 1) "
while [[ $window == *" $bad "* ]]; do
	bad=$(printf '%06d' $(((10#$bad + 123457) % 1000000)))
done
post /auth/agent/nix "$(nix_json "$CRED" "$bad")"
expect 200 "/auth/agent/nix with a wrong TOTP"
[ "$(jq -r .status "$T/body")" = failed ] || { dump; fail "/auth/agent/nix wrong code: not failed"; }
pass "/auth/agent/nix: wrong TOTP $bad -> failed ($(jq -r .reason "$T/body"))"
post /auth/agent/nix "$(nix_json "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$CODE_NOW")"
[ "$(jq -r '.status // ""' "$T/body" 2>/dev/null)" != success ] ||
    { dump; fail "/auth/agent/nix with a wrong serviceKey: success"; }
pass "/auth/agent/nix: wrong serviceKey -> $CODE $(jq -c . "$T/body" 2>/dev/null)"

gw audit >"$T/audit"
for ev in cert.user cert.host host.token host.enroll host.renew revoke auth.2fa; do
	has "$T/audit" "$ev"
done
pass "audit lists cert.user, cert.host, host.token, host.enroll, host.renew, revoke, auth.2fa"

# ---------------------------------------------------------------- more of the contract
# Plain HTTP on the TLS port gets no API answer.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://127.0.0.1:$PORT/v1/ca/user" 2>/dev/null) || true
[ "$code" != 200 ] || fail "plain HTTP answered 200 on the TLS port"
pass "plain HTTP on the TLS port: no answer (${code:-none})"

# Enrolment without principals: the host name only.
TOK5=$(gw host token web5.example.com --principals web5 --ttl 1h)
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/web5"
post /v1/hosts/enroll "$(enroll_json "$TOK5" web5.example.com \
    "$(cat "$T/web5.pub")" null)"
expect 200 "enrol without principals"
jq -r .certificate "$T/body" >"$T/web5-cert.pub"
check_cert "$T/web5-cert.pub" host "$(jnum "$T/body" serial)" \
    web5.example.com "$T/web5.pub" "$HOST_CA"
pass "enrol without principals: the host name only"

# An expired token (made with --ttl 1s at the start).
while [ "$(date +%s)" -le $((START + 2)) ]; do sleep 0.2; done
post /v1/hosts/enroll "$(enroll_json "$TOK_EXP" expiring.example.com \
    "$(cat "$T/web5.pub")" null)"
expect_error 403 token "enrol with an expired token"

# A disabled user gets no certificate and shows as disabled.
get /v1/hosts/self/directory "$CRED"
ETAG_D3=$(hdr ETag)
gw user disable bob >/dev/null || fail "user disable bob failed"
sleep 2 # seen within a second (PROTOCOL.md)
post /v1/certs/user "$(jq -nc --arg k "$ALICE_PUB" '{user: "bob", public_key: $k}')" "$ADMIN"
expect_error 403 user "certificate for a disabled user"
get /v1/hosts/self/directory "$CRED" -H "If-None-Match: $ETAG_D3"
expect 200 "directory after user disable"
jq -e '.users[] | select(.name == "bob") | .disabled == true' "$T/body" >/dev/null ||
    { dump; fail "directory: bob not disabled"; }
pass "user disable: directory changes ($ETAG_D3 -> $(hdr ETag)), bob disabled"

get /v1/services/bad%20host/hostcert.zip "$ADMIN"
in_range 400 499 "hostcert.zip for a bad host name"
expect_error "$CODE" "" "hostcert.zip for a host name with a blank"

# CA rotation takes effect without a restart (within ~1 s): both keys
# served, the new one first, and new certificates come from it.
cp "$USER_CA" "$T/user_ca.old.pub"
get /v1/krl
expect 200 "GET /v1/krl before rotation"
ETAG_KRL_OLD=$(hdr ETag)
gw ca rotate user >/dev/null || fail "ca rotate user failed"
# The gateway looks at STATE/ca at most once a second.
for _ in $(seq 1 30); do
	get /v1/ca/user
	expect 200 "GET /v1/ca/user after rotation"
	[ "$(wc -l <"$T/body")" -eq 2 ] && break
	sleep 0.1
done
[ "$(wc -l <"$T/body")" -eq 2 ] || { dump; fail "/v1/ca/user: want 2 keys during a rotation"; }
[ "$(sed -n 1p "$T/body" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$USER_CA")" ] ||
    { dump; fail "/v1/ca/user: the new key is not first"; }
[ "$(sed -n 2p "$T/body" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$T/user_ca.old.pub")" ] ||
    { dump; fail "/v1/ca/user: the previous key is not second"; }
post /v1/certs/user "$(ucert '{}')" "$ADMIN"
expect 200 "issuance after rotation"
jq -r .certificate "$T/body" >"$T/alice3-cert.pub"
check_cert "$T/alice3-cert.pub" user "$(jnum "$T/body" serial)" alice \
    "$T/alice.pub" "$USER_CA"
pass "ca rotate user: /v1/ca/user serves new + previous key, issuance uses the new one"
# The KRL covers the new key too: its tag changes, an old tag gets the
# new KRL rather than a 304.
get /v1/krl "" -H "If-None-Match: $ETAG_KRL_OLD"
expect 200 "GET /v1/krl with the pre-rotation ETag"
[ "$(hdr ETag)" != "$ETAG_KRL_OLD" ] || fail "/v1/krl: same ETag after a CA rotation"
pass "/v1/krl: new ETag after the rotation ($ETAG_KRL_OLD -> $(hdr ETag))"

# ---------------------------------------------------------------- kill -9 mid-burst
mkdir -p "$T/burst"
ucert '{ttl: 300}' >"$T/burst.json"
# shellcheck disable=SC2317 # run by xargs through bash -c
burst_one()
{
	curl -sS --cacert "$CA" --max-time 20 -o "$T/burst/$1.json" \
	    -w '%{http_code}\n' -H 'Content-Type: application/json' \
	    -H "Authorization: Bearer $ADMIN" --data-binary "@$T/burst.json" \
	    "$(gw_url "$PORT" /v1/certs/user)" >"$T/burst/$1.code" 2>/dev/null || true
}
export -f burst_one gw_url
export CA ADMIN PORT T
count_200()
{
	cat "$T"/burst/*.code 2>/dev/null | grep -c '^200$' || true
}
# shellcheck disable=SC2317 # run by lib_cleanup through CLEANUP_HOOK
stop_burst()
{
	if [ -n "${BURST:-}" ]; then
		kill -TERM "$BURST" 2>/dev/null || true
		wait "$BURST" 2>/dev/null || true
	fi
}
# shellcheck disable=SC2034 # read by lib_cleanup
CLEANUP_HOOK=stop_burst
seq 1 200 | xargs -P 32 -I{} bash -c 'burst_one {}' &
BURST=$!
done_n=0
for _ in $(seq 1 500); do
	done_n=$(count_200)
	[ "$done_n" -ge 25 ] && break
	sleep 0.02
done
kill -KILL "$GW_PID"
wait "$BURST" || true
BURST=
stop_gateway "$GW_PID" "$T/gw.log"
n200=$(count_200)
info "kill -9 after $done_n answers; $n200 of 200 requests got 200"
[ "$n200" -gt 0 ] || fail "no issuance answered before kill -9"
[ "$n200" -lt 200 ] || info "note: all 200 answered before the kill landed"
ic=$(db 'PRAGMA integrity_check')
[ "$ic" = ok ] || fail "integrity_check after kill -9: $ic"
grep -l '^200$' "$T"/burst/*.code | while read -r f; do
	jnum "${f%.code}.json" serial
done >"$T/handed"
db 'SELECT serial FROM certs' >"$T/recorded"
python3 - "$T/handed" "$T/recorded" <<'EOF' || fail "serials after kill -9"
import sys
handed = [int(x) for x in open(sys.argv[1]).read().split()]
rec = set(int(x) % (1 << 64) for x in open(sys.argv[2]).read().split())
if len(set(handed)) != len(handed):
    sys.exit("a serial was handed out twice")
missing = [s for s in handed if s not in rec]
if missing:
    sys.exit("handed out but not recorded: %r" % missing[:5])
print("ok: %d serials handed out, distinct, all recorded (%d rows)" % (len(handed), len(rec)))
EOF
PORT=$(pick_port)
start_gateway "$S" "$PORT" "$T/gw.log" "$T/gw.conf"
post /v1/certs/user "$(ucert '{}')" "$ADMIN"
expect 200 "issuance after restart"
s=$(jnum "$T/body" serial)
grep -qx "$s" "$T/handed" && fail "serial $s issued again after restart"
pass "restart after kill -9: integrity ok, issuance works (serial $s)"

# ---------------------------------------------------------------- read-only state
stop_gateway "$GW_PID" "$T/gw.log"
[ "$GW_STOP_STATUS" = 0 ] || fail "trasa-gateway on SIGTERM: exit $GW_STOP_STATUS, want 0"
pass "SIGTERM: the gateway exits 0"
if unshare -m true 2>/dev/null; then
	PORT=$(pick_port)
	: >"$T/gw-ro.log"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare -m --propagation private sh -c '
	    mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
	    exec "$2" --config "$3" --state-dir "$1" --listen "127.0.0.1:$4" serve' \
	    sh "$S" "$GW" "$T/gw.conf" "$PORT" </dev/null >>"$T/gw-ro.log" 2>&1 &
	GW_PID=$!
	LIB_PIDS+=("$GW_PID")
	up=0
	for _ in $(seq 1 100); do
		kill -0 "$GW_PID" 2>/dev/null || break
		get /v1/ca/user
		[ "$CODE" = 200 ] && { up=1; break; }
		sleep 0.1
	done
	[ "$up" -eq 1 ] || { cat "$T/gw-ro.log" >&2; fail "gateway on a read-only state directory did not start"; }
	post /v1/certs/user "$(ucert '{}')" "$ADMIN"
	in_range 500 599 "issuance on a read-only state directory"
	expect_error "$CODE" "" "issuance with a read-only state directory"
	post /v1/hosts/challenge '{"hostname": "web1.example.com"}'
	in_range 500 599 "challenge on a read-only state directory"
	expect_error "$CODE" "" "challenge with a read-only state directory"
	kill -0 "$GW_PID" 2>/dev/null || fail "gateway died on a read-only state directory"
	get /v1/ca/user
	expect 200 "GET /v1/ca/user after failed writes"
	pass "read-only state directory: writes 5xx JSON, the gateway stays up"
	stop_gateway "$GW_PID" "$T/gw-ro.log"
	[ "$GW_STOP_STATUS" = 0 ] || fail "read-only gateway on SIGTERM: exit $GW_STOP_STATUS"
else
	info "note: unshare -m not permitted here; read-only case not run"
fi

info "gateway_api: all cases passed in $(($(date +%s) - START)) s"
exit 0

#!/bin/bash
# tools.sh: the command lines of trasa-gateway and hostcert-tool: every
# command's happy path and error paths, with exact exit codes.
#
#   trasa-gateway ca init / ca show / cert sign
#   hostcert-tool inspect / verify
#
# Exit codes checked: 0 done (verify: valid), 1 failed (verify: not valid),
# 2 usage error (hostcert-tool verify: also unreadable CA/KRL inputs).
set -euo pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

need_tools
command -v jq >/dev/null || fail "jq not found (Debian package jq)"

tmp_setup
cd "$T"

# ---------------------------------------------------------------- helpers

out_has()
{
	grep -qF -- "$1" "$T/out" ||
	    { sed 's/^/  stdout: /' "$T/out" >&2; fail "stdout lacks '$1'"; }
}

err_has()
{
	grep -qF -- "$1" "$T/err" ||
	    { sed 's/^/  stderr: /' "$T/err" >&2; fail "stderr lacks '$1'"; }
}

out_empty()
{
	[ ! -s "$T/out" ] || { cat "$T/out" >&2; fail "stdout not empty"; }
}

mode_of()
{
	stat -c %a "$1"
}

# State of a directory tree (names, modes, sizes, contents).
snapshot()
{
	(cd "$1" && find . -printf '%p %m %s %T@\n' | sort &&
	    find . -type f -exec sha256sum {} + | sort)
}

# flip_last_byte CERT OUT: the certificate with the last byte of its
# blob (inside the CA signature) changed.
flip_last_byte()
{
	local type b64 comment

	read -r type b64 comment <"$1"
	printf '%s' "$b64" | base64 -d >"$T/blob"
	flip_byte "$T/blob" $(($(stat -c %s "$T/blob") - 1))
	printf '%s %s\n' "$type" "$(base64 -w0 "$T/blob")" >"$2"
}

# ---------------------------------------------------------------- both tools

for tool in "$GW" "$HCT"; do
	run 0 "$tool" --help
	out_has "usage:"
	run 0 "$tool" -h
	out_has "usage:"
	run 0 "$tool" --version
	out_has "0."
	run 2 "$tool"
	err_one_line "try '"
	run 2 "$tool" frobnicate
	err_one_line "unknown command 'frobnicate'"
	run 2 "$tool" --no-such-option
	err_one_line "unknown option '--no-such-option'"
done
run 0 "$GW" ca init --help
run 0 "$GW" cert sign --help
run 0 "$HCT" inspect --help
run 0 "$HCT" verify --help
pass "help, version and usage errors"

# ---------------------------------------------------------------- ca init

SD=$T/state
run 2 "$GW" --state-dir "$SD" ca init --key-type dsa
err_one_line "unknown --key-type 'dsa'"
[ ! -e "$SD" ] || fail "ca init with a bad key type created $SD"
run 2 "$GW" --state-dir "$SD" ca init extra
err_one_line "unexpected argument"
run 2 "$GW" --state-dir "$SD" ca
err_one_line "missing subcommand"
run 2 "$GW" --state-dir "$SD" ca init --key-type
err_one_line "needs an argument"
[ ! -e "$SD" ] || fail "usage errors created $SD"

run 0 "$GW" --state-dir "$SD" ca init
for f in user_ca user_ca.pub host_ca host_ca.pub; do
	[ -f "$SD/ca/$f" ] || fail "ca init did not create $SD/ca/$f"
	out_has "created $SD/ca/$f"
done
[ "$(mode_of "$SD")" = 700 ] || fail "$SD mode $(mode_of "$SD"), want 700"
[ "$(mode_of "$SD/ca")" = 700 ] || fail "$SD/ca mode $(mode_of "$SD/ca")"
for f in user_ca host_ca; do
	[ "$(mode_of "$SD/ca/$f")" = 600 ] || fail "$f mode $(mode_of "$SD/ca/$f")"
	[ "$(mode_of "$SD/ca/$f.pub")" = 644 ] || fail "$f.pub mode"
	head -n 1 "$SD/ca/$f" | grep -qx -- '-----BEGIN PRIVATE KEY-----' ||
	    fail "$f is not an unencrypted PKCS#8 PEM key"
done
grep -q '^ssh-ed25519 AAAA[^ ]* trasa-user-ca$' "$SD/ca/user_ca.pub" ||
    fail "user_ca.pub: $(cat "$SD/ca/user_ca.pub")"
grep -q '^ssh-ed25519 AAAA[^ ]* trasa-host-ca$' "$SD/ca/host_ca.pub" ||
    fail "host_ca.pub: $(cat "$SD/ca/host_ca.pub")"
USER_FP=$(fp_of "$SD/ca/user_ca.pub")
HOST_FP=$(fp_of "$SD/ca/host_ca.pub")
out_has "user CA: $USER_FP"
out_has "host CA: $HOST_FP"
[ "$USER_FP" != "$HOST_FP" ] || fail "user and host CA are the same key"
pass "ca init creates both CAs with the right modes and fingerprints"

before=$(snapshot "$SD")
run 1 "$GW" --state-dir "$SD" ca init
err_one_line "already exists"
err_has "nothing changed"
out_empty
run 1 "$GW" --state-dir "$SD" ca init --key-type rsa-3072
err_one_line "already exists"
[ "$(snapshot "$SD")" = "$before" ] || fail "a refused ca init changed $SD"

# One file of the four present: still refused, nothing written.
SD1=$T/state-partial
mkdir -p "$SD1/ca"
chmod 700 "$SD1" "$SD1/ca"
cp "$SD/ca/host_ca.pub" "$SD1/ca/"
before=$(snapshot "$SD1")
run 1 "$GW" --state-dir "$SD1" ca init
err_one_line "host_ca.pub already exists"
[ "$(snapshot "$SD1")" = "$before" ] || fail "partial state dir changed"
pass "ca init refuses to overwrite and changes nothing"

# TRASA_STATE_DIR sets the default; --state-dir overrides it.
run 0 env TRASA_STATE_DIR="$T/state-env" "$GW" ca init --key-type ecdsa-p256
[ -f "$T/state-env/ca/user_ca" ] || fail "TRASA_STATE_DIR not used"
grep -q '^ecdsa-sha2-nistp256 ' "$T/state-env/ca/user_ca.pub" ||
    fail "--key-type ecdsa-p256 not used"
run 0 env TRASA_STATE_DIR="$T/state-env" "$GW" --state-dir "$SD" ca show user
diff -u "$SD/ca/user_ca.pub" "$T/out" >&2 || fail "--state-dir did not win"
pass "TRASA_STATE_DIR and --state-dir"

# ---------------------------------------------------------------- ca show

run 0 "$GW" --state-dir "$SD" ca show
cat "$SD/ca/user_ca.pub" "$SD/ca/host_ca.pub" | diff -u - "$T/out" >&2 ||
    fail "ca show differs from the .pub files"
run 0 "$GW" --state-dir "$SD" ca show host
diff -u "$SD/ca/host_ca.pub" "$T/out" >&2 || fail "ca show host"
"$SSH_KEYGEN" -l -f "$T/out" >/dev/null || fail "ssh-keygen -l refused ca show output"
run 2 "$GW" --state-dir "$SD" ca show both
err_one_line "neither user nor host"
run 2 "$GW" --state-dir "$SD" ca show user host
err_one_line "unexpected argument"
run 1 "$GW" --state-dir "$T/nothing-here" ca show user
err_one_line "ca init"
pass "ca show"

# ---------------------------------------------------------------- cert sign

mkdir "$T/k"
"$SSH_KEYGEN" -q -N '' -C 'alice@laptop' -t ed25519 -f "$T/k/alice"
"$SSH_KEYGEN" -q -N '' -C '' -t ecdsa -f "$T/k/host"
"$SSH_KEYGEN" -q -N '' -C '' -t rsa -b 1024 -f "$T/k/small" 2>/dev/null
printf 'this is not a key\n' >"$T/k/garbage.pub"

t0=$(date +%s)
run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice,admin \
    "$T/k/alice.pub"
t1=$(date +%s)
CERT=$T/k/alice-cert.pub
[ -f "$CERT" ] || fail "cert sign did not write $CERT"
[ "$(mode_of "$CERT")" = 644 ] || fail "$CERT mode $(mode_of "$CERT")"
[ "$(head -n 1 "$T/out")" = "$CERT" ] || fail "cert sign did not print the path first"
grep -q ' alice@laptop$' "$CERT" || fail "the key's comment was not kept"
"$SSH_KEYGEN" -L -f "$CERT" >"$T/L" || fail "ssh-keygen -L refused our certificate"
grep -qF "Signing CA: ED25519 $USER_FP (using ssh-ed25519)" "$T/L" ||
    fail "signing CA: $(cat "$T/L")"
serial=$(awk '/Serial:/ { print $2 }' "$T/L")
[ "$serial" != 0 ] || fail "random serial is 0"
# The default key ID names the user and the serial: trasa:USER:SERIAL.
grep -qF "Key ID: \"trasa:alice:$serial\"" "$T/L" || fail "key ID: $(cat "$T/L")"
out_has "signed user certificate: key ID \"trasa:alice:$serial\""
out_has "serial $serial for alice,admin"
# Validity: now - 60 s to now + 5 min (default).
run 0 "$HCT" inspect --json "$CERT"
va=$(jq -r .valid_after "$T/out")
vb=$(jq -r .valid_before "$T/out")
[ "$va" -ge $((t0 - 61)) ] && [ "$va" -le $((t1 - 59)) ] ||
    fail "valid_after $va is not now - 60 s ($t0..$t1)"
[ $((vb - va)) -eq 360 ] || fail "default user lifetime $((vb - va)) s, want 300 + 60"
[ "$(jq -c .principals "$T/out")" = '["alice","admin"]' ] || fail "principals"
[ "$(jq -r '[.extensions[].name] | join(",")' "$T/out")" = \
    permit-X11-forwarding,permit-agent-forwarding,permit-port-forwarding,permit-pty,permit-user-rc ] ||
    fail "default extensions: $(jq -c .extensions "$T/out")"
[ "$(jq -r '.critical_options | length' "$T/out")" = 0 ] || fail "critical options"

# A second signing gets another serial.
run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice "$T/k/alice.pub"
serial2=$("$SSH_KEYGEN" -L -f "$CERT" | awk '/Serial:/ { print $2 }')
[ "$serial2" != "$serial" ] || fail "two signings got the same serial $serial"
pass "cert sign --user (defaults)"

run 0 "$GW" --state-dir "$SD" cert sign --user bob --principals bob,ops \
    --ttl 2h --key-id "ticket 42" --serial 4242 --force-command "/usr/bin/uptime" \
    --source-address 10.0.0.0/8,192.168.1.0/24 --no-pty --no-x11-forwarding \
    --no-user-rc "$T/k/alice.pub"
run 0 "$HCT" inspect --json "$CERT"
[ "$(jq -r .key_id "$T/out")" = "ticket 42" ] || fail "--key-id"
[ "$(jq -r .serial "$T/out")" = 4242 ] || fail "--serial"
[ $(($(jq -r .valid_before "$T/out") - $(jq -r .valid_after "$T/out"))) -eq 7260 ] ||
    fail "--ttl 2h"
[ "$(jq -r '[.extensions[].name] | join(",")' "$T/out")" = \
    permit-agent-forwarding,permit-port-forwarding ] || fail "--no-* extensions"
[ "$(jq -r '[.critical_options[] | .name + "=" + .value] | join(" ")' "$T/out")" = \
    "force-command=/usr/bin/uptime source-address=10.0.0.0/8,192.168.1.0/24" ] ||
    fail "critical options: $(jq -c .critical_options "$T/out")"
pass "cert sign --user with options"

run 0 "$GW" --state-dir "$SD" cert sign --host --principals host1.example,10.0.0.5 \
    "$T/k/host.pub"
HCERT=$T/k/host-cert.pub
run 0 "$HCT" inspect --json "$HCERT"
[ "$(jq -r .cert_type "$T/out")" = host ] || fail "host certificate type"
# (the serial from ssh-keygen: jq reads big numbers as doubles)
hserial=$("$SSH_KEYGEN" -L -f "$HCERT" | awk '/Serial:/ { print $2 }')
[ "$(jq -r .key_id "$T/out")" = "trasa-host:host1.example:$hserial" ] ||
    fail "host key ID"
[ "$(jq -r '.extensions | length' "$T/out")" = 0 ] || fail "host certificate has extensions"
[ $(($(jq -r .valid_before "$T/out") - $(jq -r .valid_after "$T/out"))) -eq $((30 * 86400 + 60)) ] ||
    fail "default host lifetime"
[ "$(jq -r .signing_ca.fingerprint "$T/out")" = "$HOST_FP" ] || fail "host CA used"
pass "cert sign --host"

# Usage errors: exit 2, one line, no certificate written.
rm -f "$T/k/alice-cert.pub"
S=("$GW" --state-dir "$SD" cert sign)
run 2 "${S[@]}" --principals alice "$T/k/alice.pub"
err_one_line "--user NAME or --host"
run 2 "${S[@]}" --user alice --host --principals alice "$T/k/alice.pub"
err_one_line "one of --user NAME or --host"
run 2 "${S[@]}" --user alice "$T/k/alice.pub"
err_one_line "--principals is required"
run 2 "${S[@]}" --user alice --principals alice
err_one_line "missing PUBKEY"
run 2 "${S[@]}" --user alice --principals "" "$T/k/alice.pub"
err_one_line "empty --principals"
run 2 "${S[@]}" --user alice --principals "alice,,bob" "$T/k/alice.pub"
err_one_line "empty principal"
run 2 "${S[@]}" --user alice --principals "alice bob" "$T/k/alice.pub"
err_one_line "principal 'alice bob'"
run 2 "${S[@]}" --user alice --principals "$(printf 'al\tice')" "$T/k/alice.pub"
err_one_line "control character"
run 2 "${S[@]}" --user "a,b" --principals alice "$T/k/alice.pub"
err_one_line "--user"
for ttl in 0 5x -5m 367d 1000000w ""; do
	run 2 "${S[@]}" --user alice --principals alice --ttl "$ttl" "$T/k/alice.pub"
	err_one_line "--ttl"
done
run 2 "${S[@]}" --user alice --principals alice --serial -1 "$T/k/alice.pub"
err_one_line "--serial"
run 2 "${S[@]}" --user alice --principals alice --source-address 10.0.0.1/8 "$T/k/alice.pub"
err_one_line "--source-address"
run 2 "${S[@]}" --user alice --principals alice --source-address "10.0.0.0/8, 10.1.0.0/16" "$T/k/alice.pub"
err_one_line "--source-address"
for opt in --no-pty --no-user-rc --no-port-forwarding --no-agent-forwarding \
    --no-x11-forwarding "--force-command=/bin/true" "--source-address=10.0.0.0/8"; do
	run 2 "${S[@]}" --host --principals h "$opt" "$T/k/host.pub"
	err_one_line "user certificates only"
done
[ ! -e "$T/k/alice-cert.pub" ] || fail "a usage error wrote a certificate"
pass "cert sign usage errors"

# Refused inputs: exit 1, one line, no certificate written.
run 1 "${S[@]}" --user alice --principals alice "$T/k/garbage.pub"
err_one_line "garbage.pub: not a valid public key"
: >"$T/k/empty.pub"
run 1 "${S[@]}" --user alice --principals alice "$T/k/empty.pub"
err_one_line "empty.pub"
run 1 "${S[@]}" --user alice --principals alice "$T/k/missing.pub"
err_one_line "missing.pub"
run 1 "${S[@]}" --user alice --principals alice "$T/k/small.pub"
err_one_line "2048"
run 1 "${S[@]}" --user alice --principals alice "$T/k/alice"
err_one_line "private key"
run 1 "${S[@]}" --user alice --principals alice "$HCERT"
err_one_line "is a certificate"
run 1 "$GW" --state-dir "$T/nothing-here" cert sign --user alice --principals alice "$T/k/alice.pub"
err_one_line "ca init"
[ ! -e "$T/k/alice-cert.pub" ] && [ ! -e "$T/k/garbage-cert.pub" ] &&
    [ ! -e "$T/k/small-cert.pub" ] || fail "a refused signing wrote a certificate"
pass "cert sign refuses garbage, RSA < 2048, private keys, certificates"

# Encrypted CA keys.
SDP=$T/state-pass
printf 'correct horse\n' >"$T/pass"
printf 'wrong horse\n' >"$T/wrong"
: >"$T/empty"
run 1 "$GW" --state-dir "$SDP" ca init --passphrase-file "$T/empty"
err_one_line "empty passphrase"
[ ! -e "$SDP" ] || fail "ca init with an empty passphrase created $SDP"
run 0 "$GW" --state-dir "$SDP" ca init --key-type ecdsa-p384 --passphrase-file "$T/pass"
out_has "encrypted"
head -n 1 "$SDP/ca/user_ca" | grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' ||
    fail "user_ca not encrypted"
run 1 "$GW" --state-dir "$SDP" cert sign --user alice --principals alice "$T/k/alice.pub"
err_one_line "--passphrase-file"
run 1 "$GW" --state-dir "$SDP" --passphrase-file "$T/wrong" cert sign --user alice \
    --principals alice "$T/k/alice.pub"
err_one_line "wrong passphrase"
run 0 "$GW" --state-dir "$SDP" --passphrase-file "$T/pass" cert sign --user alice \
    --principals alice "$T/k/alice.pub"
cp "$T/k/host.pub" "$T/k/host2.pub"
run 0 "$GW" --state-dir "$SDP" cert sign --passphrase-file "$T/pass" --host \
    --principals h "$T/k/host2.pub"
grep -q '^ecdsa-sha2-nistp256-cert-v01@openssh.com ' "$T/k/host2-cert.pub" ||
    fail "host certificate from the encrypted CA"
pass "encrypted CA keys"

# ---------------------------------------------------------------- inspect

# Keys and certificates, exactly as ssh-keygen -l / -L print them.
run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice,admin \
    --force-command "/bin/echo hi" --source-address 10.0.0.0/8 --no-pty "$T/k/alice.pub"
for f in "$T/k/alice.pub" "$T/k/host.pub" "$SD/ca/user_ca.pub"; do
	run 0 "$HCT" inspect "$f"
	"$SSH_KEYGEN" -l -f "$f" | diff -u - "$T/out" >&2 || fail "inspect $f differs from ssh-keygen -l"
done
for f in "$CERT" "$HCERT"; do
	run 0 "$HCT" inspect "$f"
	"$SSH_KEYGEN" -L -f "$f" | diff -u - "$T/out" >&2 || fail "inspect $f differs from ssh-keygen -L"
done
# Private keys: public information only.
run 0 "$HCT" inspect "$T/k/alice"
"$SSH_KEYGEN" -l -f "$T/k/alice.pub" | diff -u - "$T/out" >&2 || fail "inspect of a private key"
run 0 "$HCT" inspect "$SD/ca/user_ca"
out_has "$USER_FP"
out_has "(ED25519)"
run 0 "$HCT" inspect --json "$SD/ca/user_ca"
[ "$(jq -r .kind "$T/out")" = private-key ] || fail "private key kind"
[ "$(jq -r .format "$T/out")" = pkcs8 ] || fail "private key format"
[ "$(jq -r .fingerprint "$T/out")" = "$USER_FP" ] || fail "private key fingerprint"
for f in "$SD/ca/user_ca" "$T/k/alice"; do
	run 0 "$HCT" inspect --json "$f"
	while read -r l; do
		! grep -qF -- "$l" "$T/out" || fail "inspect printed private material of $f"
	done < <(grep -v -- '-----' "$f")
done
run 1 "$HCT" inspect "$SDP/ca/user_ca"
err_one_line "encrypted"
# JSON for a public key and a certificate.
run 0 "$HCT" inspect --json "$T/k/alice.pub"
[ "$(jq -r '.kind + " " + .type + " " + (.bits|tostring) + " " + .comment' "$T/out")" = \
    "public-key ssh-ed25519 256 alice@laptop" ] || fail "public key JSON: $(cat "$T/out")"
run 0 "$HCT" inspect --json "$CERT"
[ "$(jq -r '.kind + " " + .cert_type + " " + .signing_ca.signature_alg' "$T/out")" = \
    "certificate user ssh-ed25519" ] || fail "certificate JSON: $(cat "$T/out")"
# JSON string escaping: a key ID with quotes, backslashes and UTF-8.
run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice \
    --key-id 'a "quoted" \ id é' "$T/k/alice.pub"
run 0 "$HCT" inspect --json "$CERT"
[ "$(jq -r .key_id "$T/out")" = 'a "quoted" \ id é' ] || fail "JSON escaping: $(cat "$T/out")"
# Control characters in attacker-chosen fields are escaped, in text and JSON.
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/ctlca"
cp "$T/k/alice.pub" "$T/ctl.pub"
"$SSH_KEYGEN" -q -s "$T/ctlca" -I "$(printf 'evil\033[2J\001id')" \
    -n "$(printf 'ro\tot')" "$T/ctl.pub"
run 0 "$HCT" inspect "$T/ctl-cert.pub"
out_has 'Key ID: "evil\x1b[2J\x01id"'
out_has 'ro\x09ot'
! LC_ALL=C grep -q "$(printf '[\001\033\t]')" "$T/out" || fail "inspect printed a control character"
run 0 "$HCT" inspect --json "$T/ctl-cert.pub"
[ "$(jq -r .key_id "$T/out")" = "$(printf 'evil\033[2J\001id')" ] || fail "JSON control characters"
run 0 "$HCT" verify --ca "$T/ctlca.pub" "$T/ctl-cert.pub"
! LC_ALL=C grep -q "$(printf '[\001\033\t]')" "$T/out" || fail "verify printed a control character"
# A file of several lines (as ssh-keygen -L: FILE:N: for later lines).
cat "$T/k/alice.pub" "$HCERT" >"$T/two"
run 0 "$HCT" inspect "$T/two"
out_has "$T/two:2:"
run 0 "$HCT" inspect --json "$T/two"
[ "$(jq -r '.entries | length' "$T/out")" = 2 ] || fail "two-entry JSON"
# Garbage and missing files.
run 1 "$HCT" inspect "$T/k/garbage.pub"
err_one_line "invalid key or certificate"
: >"$T/empty.pub"
run 1 "$HCT" inspect "$T/empty.pub"
err_one_line "no key"
run 2 "$HCT" inspect "$T/missing"
err_one_line "No such file"
run 2 "$HCT" inspect
err_one_line "missing FILE"
run 2 "$HCT" inspect a b
err_one_line "one FILE only"
pass "inspect keys, certificates, private keys, JSON"

# ---------------------------------------------------------------- verify

run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice,admin \
    --serial 77 --ttl 1h "$T/k/alice.pub"
UCA=$SD/ca/user_ca.pub
HCA=$SD/ca/host_ca.pub
V=("$HCT" verify)

run 0 "${V[@]}" --ca "$UCA" "$CERT"
[ "$(cat "$T/out")" = "$CERT: valid: trasa:alice:77 serial 77 for alice,admin" ] ||
    fail "verify output: $(cat "$T/out")"
run 0 "${V[@]}" --ca "$UCA" --principal admin "$CERT"
[ "$(cat "$T/out")" = "$CERT: valid: trasa:alice:77 serial 77 for admin" ] ||
    fail "verify output: $(cat "$T/out")"
# Several CA files / keys (rotation), comments, @cert-authority lines.
{ echo "# old CA"; echo; cat "$HCA"; cat "$UCA"; } >"$T/cas"
run 0 "${V[@]}" --ca "$HCA" --ca "$T/cas" --principal alice "$CERT"
printf '@cert-authority *.example %s\n' "$(cat "$HCA")" >"$T/known_hosts"
run 0 "${V[@]}" --host --ca "$T/known_hosts" --principal host1.example "$HCERT"
pass "verify: valid certificates"

run 1 "${V[@]}" --ca "$HCA" "$CERT"
err_one_line "$CERT: unknown CA: signed by ED25519 $USER_FP"
out_empty
run 1 "${V[@]}" --ca "$UCA" --principal mallory "$CERT"
err_one_line "$CERT: principal not listed: \"mallory\""
run 1 "${V[@]}" --ca "$UCA" --host "$CERT"
err_one_line "$CERT: wrong type: user certificate"
run 1 "${V[@]}" --ca "$HCA" "$HCERT"
err_one_line "wrong type: host certificate"
run 1 "${V[@]}" --ca "$UCA" --at "$((t1 + 2 * 3600))" "$CERT"
err_one_line "$CERT: expired: valid before "
run 1 "${V[@]}" --ca "$UCA" --at 2001-01-01 "$CERT"
err_one_line "$CERT: not yet valid: valid from "
run 1 "${V[@]}" --ca "$UCA" --at 2001-01-01T12:30:15 "$CERT"
err_one_line "not yet valid"
# --at and --skew at the edges: valid_before is exclusive, skew widens.
run 0 "$HCT" inspect --json "$CERT"
vb=$(jq -r .valid_before "$T/out")
va=$(jq -r .valid_after "$T/out")
run 0 "${V[@]}" --ca "$UCA" --at $((vb - 1)) "$CERT"
run 1 "${V[@]}" --ca "$UCA" --at "$vb" "$CERT"
err_one_line "expired"
run 0 "${V[@]}" --ca "$UCA" --at $((vb + 29)) --skew 30 "$CERT"
run 1 "${V[@]}" --ca "$UCA" --at $((va - 1)) "$CERT"
err_one_line "not yet valid"
run 0 "${V[@]}" --ca "$UCA" --at $((va - 10)) --skew 10 "$CERT"
pass "verify: unknown CA, principal, type, expired, not yet valid, skew"

# source-address
run 0 "$GW" --state-dir "$SD" cert sign --user carol --principals carol \
    --source-address 10.0.0.0/8,fd00::/8 "$T/k/alice.pub"
run 0 "${V[@]}" --ca "$UCA" --source-address 10.9.8.7 "$CERT"
run 0 "${V[@]}" --ca "$UCA" --source-address fd00::1 "$CERT"
run 1 "${V[@]}" --ca "$UCA" --source-address 192.0.2.1 "$CERT"
err_one_line "source address 192.0.2.1 not permitted"
run 2 "${V[@]}" --ca "$UCA" --source-address not-an-address "$CERT"
err_one_line "--source-address"
pass "verify: source-address"

# Revocation with KRLs written by ssh-keygen -k.
run 0 "$GW" --state-dir "$SD" cert sign --user alice --principals alice \
    --serial 1001 --key-id revoke-me "$T/k/alice.pub"
printf 'serial: 1001\n' >"$T/spec-serial"
printf 'id: revoke-me\n' >"$T/spec-id"
printf 'serial: 5-10\n' >"$T/spec-other"
"$SSH_KEYGEN" -q -k -f "$T/krl-serial" -s "$UCA" "$T/spec-serial"
"$SSH_KEYGEN" -q -k -f "$T/krl-id" -s "$UCA" "$T/spec-id"
"$SSH_KEYGEN" -q -k -f "$T/krl-other" -s "$UCA" "$T/spec-other"
"$SSH_KEYGEN" -q -k -f "$T/krl-key" "$T/k/alice.pub"
"$SSH_KEYGEN" -q -k -f "$T/krl-ca" "$UCA"
run 1 "${V[@]}" --ca "$UCA" --krl "$T/krl-serial" "$CERT"
err_one_line "$CERT: revoked (serial 1001 / key ID \"revoke-me\")"
run 1 "${V[@]}" --ca "$UCA" --krl "$T/krl-id" "$CERT"
err_one_line "revoked (serial 1001"
run 1 "${V[@]}" --ca "$UCA" --krl "$T/krl-key" "$CERT"
err_one_line "revoked (key $(fp_of "$T/k/alice.pub"))"
run 1 "${V[@]}" --ca "$UCA" --krl "$T/krl-ca" "$CERT"
err_one_line "revoked (CA key $USER_FP)"
run 0 "${V[@]}" --ca "$UCA" --krl "$T/krl-other" "$CERT"
# ssh-keygen agrees.
if "$SSH_KEYGEN" -Q -f "$T/krl-serial" "$CERT" >/dev/null 2>&1; then
	fail "ssh-keygen -Q does not see the revocation"
fi
run 0 "$HCT" inspect "$T/krl-serial"
"$SSH_KEYGEN" -Q -l -f "$T/krl-serial" | diff -u - "$T/out" >&2 ||
    fail "inspect of a KRL differs from ssh-keygen -Q -l"
run 0 "$HCT" inspect --json "$T/krl-serial"
[ "$(jq -r .kind "$T/out")" = krl ] || fail "KRL JSON kind"
jq -r .listing "$T/out" | grep -qx 'serial: 1001' || fail "KRL JSON listing"
pass "verify: revocation by serial, key ID, key and CA (ssh-keygen -k KRLs)"

# Not certificates, bad signatures, SHA-1, unknown critical options.
run 1 "${V[@]}" --ca "$UCA" "$T/k/alice.pub"
err_one_line "$T/k/alice.pub: not a certificate"
run 1 "${V[@]}" --ca "$UCA" "$T/k/garbage.pub"
err_one_line "$T/k/garbage.pub: not a valid certificate"
head -c 300 /dev/urandom >"$T/random"
run 1 "${V[@]}" --ca "$UCA" "$T/random"
err_one_line "not a valid certificate"
run 1 "${V[@]}" --ca "$UCA" "$T/empty.pub"
err_one_line "not a valid certificate"
flip_last_byte "$CERT" "$T/badsig-cert.pub"
run 1 "${V[@]}" --ca "$UCA" "$T/badsig-cert.pub"
err_one_line "$T/badsig-cert.pub: bad signature"
"$SSH_KEYGEN" -q -N '' -C '' -t rsa -b 2048 -f "$T/rsaca"
cp "$T/k/alice.pub" "$T/sha1.pub"
"$SSH_KEYGEN" -q -s "$T/rsaca" -t ssh-rsa -I old-trasa -n alice "$T/sha1.pub"
run 1 "${V[@]}" --ca "$T/rsaca.pub" "$T/sha1-cert.pub"
err_one_line "SHA-1 signature refused"
run 0 "${V[@]}" --ca "$T/rsaca.pub" --allow-sha1 "$T/sha1-cert.pub"
cp "$T/k/alice.pub" "$T/crit.pub"
"$SSH_KEYGEN" -q -s "$T/rsaca" -I crit -n alice -O critical:frobnicate@example.com=x "$T/crit.pub"
run 1 "${V[@]}" --ca "$T/rsaca.pub" "$T/crit-cert.pub"
err_one_line "unsupported critical option frobnicate@example.com"
cp "$T/k/alice.pub" "$T/noprinc.pub"
"$SSH_KEYGEN" -q -s "$T/rsaca" -I none "$T/noprinc.pub"
run 1 "${V[@]}" --ca "$T/rsaca.pub" "$T/noprinc-cert.pub"
err_one_line "lists no principals"
pass "verify: not a certificate, garbage, bad signature, SHA-1, critical option"

# Usage and input errors: exit 2.
run 2 "${V[@]}" "$CERT"
err_one_line "--ca"
run 2 "${V[@]}" --ca "$UCA"
err_one_line "missing CERTFILE"
run 2 "${V[@]}" --ca "$UCA" "$CERT" "$CERT"
err_one_line "one CERTFILE only"
run 2 "${V[@]}" --ca "$T/missing" "$CERT"
err_one_line "$T/missing: No such file"
run 2 "${V[@]}" --ca "$UCA" "$T/missing-cert.pub"
err_one_line "$T/missing-cert.pub: No such file"
run 2 "${V[@]}" --ca "$T/k/garbage.pub" "$CERT"
err_one_line "invalid CA key"
run 2 "${V[@]}" --ca "$T/empty.pub" "$CERT"
err_one_line "no CA keys"
run 2 "${V[@]}" --ca "$HCERT" "$CERT"
err_one_line "is a certificate, not a CA key"
run 2 "${V[@]}" --ca "$UCA" --krl "$T/missing" "$CERT"
err_one_line "No such file"
run 2 "${V[@]}" --ca "$UCA" --krl "$T/k/garbage.pub" "$CERT"
err_one_line "invalid KRL"
run 2 "${V[@]}" --ca "$UCA" --krl "$T/empty.pub" "$CERT"
err_one_line "invalid KRL"
head -c 40 "$T/krl-serial" >"$T/krl-truncated"
run 2 "${V[@]}" --ca "$UCA" --krl "$T/krl-truncated" "$CERT"
err_one_line "invalid KRL"
for at in yesterday 2024-13-01 2024-01-01T25:00 2024-01-01x -5; do
	run 2 "${V[@]}" --ca "$UCA" --at "$at" "$CERT"
	err_one_line "--at"
done
for skew in -1 abc 99999999; do
	run 2 "${V[@]}" --ca "$UCA" --skew "$skew" "$CERT"
	err_one_line "--skew"
done
run 2 "${V[@]}" --ca "$UCA" --bogus "$CERT"
err_one_line "unknown option '--bogus'"
ln -s "$CERT" "$T/link-cert.pub"
run 2 "${V[@]}" --ca "$UCA" "$T/link-cert.pub"
err_one_line "symbolic links"
pass "verify: usage and input errors"

info "tools.sh: all passed"

#!/bin/bash
# cert_interop.sh: certificates in both directions with the real ssh-keygen,
# for each CA key type (ed25519, ecdsa-p256, ecdsa-p384, rsa-3072).
#
# 1. Certificates trasa-gateway signs (user and host, with options, for
#    every subject key type) are accepted by `ssh-keygen -L` (which checks
#    the CA signature while parsing) and show our serial, key ID, principals
#    and options; a KRL that ssh-keygen writes for our serial / key ID
#    revokes them in `ssh-keygen -Q`; `hostcert-tool inspect` prints exactly
#    what `ssh-keygen -L` prints.
# 2. Certificates ssh-keygen signs (-s, -h, -n, -V, -z, -O, -t) are judged
#    by `hostcert-tool verify` as sshd would: valid, expired, not yet valid,
#    wrong CA, wrong principal, wrong type, revoked, SHA-1.
set -euo pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

need_tools

tmp_setup
cd "$T"

CA_TYPES="ed25519 ecdsa-p256 ecdsa-p384 rsa-3072"
SUBJECTS="ed25519 ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048"

# keygen SPEC FILE, SPEC as ed25519, ecdsa-256, rsa-3072.
keygen()
{
	local type=${1%%-*} bits=${1#*-}

	if [ "$type" = "$1" ]; then
		"$SSH_KEYGEN" -q -N '' -C "" -t "$type" -f "$2"
	else
		"$SSH_KEYGEN" -q -N '' -C "" -t "$type" -b "$bits" -f "$2"
	fi
}

# The signature algorithm a CA of our key type uses by default.
sig_alg()
{
	case $1 in
	ed25519) echo ssh-ed25519 ;;
	ecdsa-p256) echo ecdsa-sha2-nistp256 ;;
	ecdsa-p384) echo ecdsa-sha2-nistp384 ;;
	rsa-3072) echo rsa-sha2-512 ;;
	esac
}

cert_name()
{
	case $1 in
	ed25519) echo ssh-ed25519-cert-v01@openssh.com ;;
	ecdsa-*) echo "ecdsa-sha2-nistp${1#ecdsa-}-cert-v01@openssh.com" ;;
	rsa-*) echo ssh-rsa-cert-v01@openssh.com ;;
	esac
}

mkdir "$T/keys"
for s in $SUBJECTS; do
	keygen "$s" "$T/keys/$s"
done

# ---------------------------------------------------------------- 1: we sign

serial=1000
for t in $CA_TYPES; do
	sd=$T/gw-$t
	run 0 "$GW" --state-dir "$sd" ca init --key-type "$t"
	ufp=$(fp_of "$sd/ca/user_ca.pub")
	hfp=$(fp_of "$sd/ca/host_ca.pub")
	alg=$(sig_alg "$t")
	d=$T/ours-$t
	mkdir "$d"
	: >"$d/krl-serials"
	for s in $SUBJECTS; do
		serial=$((serial + 1))
		cp "$T/keys/$s.pub" "$d/u-$s.pub"
		run 0 "$GW" --state-dir "$sd" cert sign --user alice \
		    --principals alice,bob --serial "$serial" \
		    --key-id "kid-$t-$s" --ttl 1h \
		    --force-command "/usr/bin/id -u" \
		    --source-address 10.0.0.0/8,2001:db8::/32 \
		    --no-pty --no-agent-forwarding "$d/u-$s.pub"
		c=$d/u-$s-cert.pub
		"$SSH_KEYGEN" -L -f "$c" >"$d/L" ||
		    fail "ssh-keygen -L refused our $t-signed $s user certificate"
		has "$d/L" "Type: $(cert_name "$s") user certificate"
		has "$d/L" "Signing CA: $(echo "${t%%-*}" | tr a-z A-Z) $ufp (using $alg)"
		has "$d/L" "Key ID: \"kid-$t-$s\""
		has "$d/L" "Serial: $serial"
		has "$d/L" "                alice"
		has "$d/L" "                bob"
		has "$d/L" "force-command /usr/bin/id -u"
		has "$d/L" "source-address 10.0.0.0/8,2001:db8::/32"
		has "$d/L" "permit-port-forwarding"
		has "$d/L" "permit-X11-forwarding"
		has "$d/L" "permit-user-rc"
		lacks "$d/L" "permit-pty"
		lacks "$d/L" "permit-agent-forwarding"
		run 0 "$HCT" inspect "$c"
		diff -u "$d/L" "$T/out" >&2 ||
		    fail "inspect differs from ssh-keygen -L ($t CA, $s key)"
		# And it is valid by our own verify.
		run 0 "$HCT" verify --ca "$sd/ca/user_ca.pub" --principal bob \
		    --source-address 10.1.2.3 "$c"
		echo "serial: $serial" >>"$d/krl-serials"

		cp "$T/keys/$s.pub" "$d/h-$s.pub"
		run 0 "$GW" --state-dir "$sd" cert sign --host \
		    --principals "$s.example.org,alias-$s" "$d/h-$s.pub"
		c=$d/h-$s-cert.pub
		"$SSH_KEYGEN" -L -f "$c" >"$d/L" ||
		    fail "ssh-keygen -L refused our $t-signed $s host certificate"
		has "$d/L" "Type: $(cert_name "$s") host certificate"
		has "$d/L" "Signing CA: $(echo "${t%%-*}" | tr a-z A-Z) $hfp (using $alg)"
		has "$d/L" "Key ID: \"trasa-host:$s.example.org:"
		has "$d/L" "                $s.example.org"
		has "$d/L" "                alias-$s"
		has "$d/L" "Critical Options: (none)"
		has "$d/L" "Extensions: (none)"
		run 0 "$HCT" inspect "$c"
		diff -u "$d/L" "$T/out" >&2 ||
		    fail "inspect differs from ssh-keygen -L ($t host CA, $s key)"
	done
	# ssh-keygen's KRLs, made from the CA public key and our serials or
	# key IDs, revoke our certificates in ssh-keygen -Q.
	"$SSH_KEYGEN" -q -k -f "$d/krl" -s "$sd/ca/user_ca.pub" "$d/krl-serials"
	echo "id: kid-$t-ed25519" >"$d/krl-ids"
	"$SSH_KEYGEN" -q -k -f "$d/krl-id" -s "$sd/ca/user_ca.pub" "$d/krl-ids"
	for s in $SUBJECTS; do
		if "$SSH_KEYGEN" -Q -f "$d/krl" "$d/u-$s-cert.pub" >/dev/null 2>&1; then
			fail "ssh-keygen -Q: our $t/$s certificate's serial is not revoked"
		fi
		"$SSH_KEYGEN" -Q -f "$d/krl" "$d/h-$s-cert.pub" >/dev/null 2>&1 ||
		    fail "ssh-keygen -Q: a host certificate of another CA is revoked"
		run 1 "$HCT" verify --ca "$sd/ca/user_ca.pub" --krl "$d/krl" "$d/u-$s-cert.pub"
		err_one_line "revoked"
	done
	if "$SSH_KEYGEN" -Q -f "$d/krl-id" "$d/u-ed25519-cert.pub" >/dev/null 2>&1; then
		fail "ssh-keygen -Q: our key ID is not revoked"
	fi
	"$SSH_KEYGEN" -Q -f "$d/krl-id" "$d/u-rsa-2048-cert.pub" >/dev/null 2>&1 ||
	    fail "ssh-keygen -Q: another key ID is revoked"
	pass "$t CA: our user and host certificates read by ssh-keygen -L and -Q"
done

# ---------------------------------------------------------------- 2: ssh-keygen signs

# Each CA type by ssh-keygen, with the same names as ours.
declare -A KG=([ed25519]=ed25519 [ecdsa-p256]=ecdsa-256 [ecdsa-p384]=ecdsa-384
    [rsa-3072]=rsa-3072)
mkdir "$T/kgca"
for t in $CA_TYPES; do
	keygen "${KG[$t]}" "$T/kgca/$t"
done

# sign T NAME SSH-KEYGEN-OPTIONS...: NAME-cert.pub in $d signed by CA $t.
sign()
{
	local t=$1 name=$2

	shift 2
	cp "$T/keys/ed25519.pub" "$d/$name.pub"
	"$SSH_KEYGEN" -q -s "$T/kgca/$t" "$@" "$d/$name.pub" ||
	    fail "ssh-keygen -s $* failed"
}

other_ca()
{
	case $1 in
	ed25519) echo ecdsa-p256 ;;
	*) echo ed25519 ;;
	esac
}

for t in $CA_TYPES; do
	d=$T/theirs-$t
	mkdir "$d"
	ca=$T/kgca/$t.pub
	cafp=$(fp_of "$ca")
	V=("$HCT" verify --ca "$ca")

	sign "$t" user -I "kg-$t" -n alice,bob -V -5m:+1h -z 500 \
	    -O force-command=/bin/true -O source-address=10.0.0.0/8 -O no-pty
	run 0 "${V[@]}" --principal bob --source-address 10.20.30.40 "$d/user-cert.pub"
	[ "$(cat "$T/out")" = "$d/user-cert.pub: valid: kg-$t serial 500 for bob" ] ||
	    fail "verify: $(cat "$T/out")"
	run 0 "$HCT" inspect "$d/user-cert.pub"
	"$SSH_KEYGEN" -L -f "$d/user-cert.pub" | diff -u - "$T/out" >&2 ||
	    fail "inspect differs from ssh-keygen -L (ssh-keygen $t CA)"
	run 1 "${V[@]}" --principal bob --source-address 192.0.2.7 "$d/user-cert.pub"
	err_one_line "source address 192.0.2.7 not permitted"
	run 1 "${V[@]}" --principal carol "$d/user-cert.pub"
	err_one_line "principal not listed: \"carol\""
	run 1 "$HCT" verify --ca "$T/kgca/$(other_ca "$t").pub" "$d/user-cert.pub"
	err_one_line "unknown CA: signed by"
	has "$T/err" "$cafp"
	run 1 "${V[@]}" --host --principal bob "$d/user-cert.pub"
	err_one_line "wrong type: user certificate, expected a host certificate"

	sign "$t" expired -I old -n alice -V -2h:-1h
	run 1 "${V[@]}" --principal alice "$d/expired-cert.pub"
	err_one_line "expired: valid before "
	sign "$t" future -I new -n alice -V +1h:+2h
	run 1 "${V[@]}" --principal alice "$d/future-cert.pub"
	err_one_line "not yet valid: valid from "
	# Absolute local times, as ssh-keygen -V reads them.
	sign "$t" window -I window -n alice -V 20200101:20200102
	run 0 "${V[@]}" --at 2020-01-01T12:00 "$d/window-cert.pub"
	run 0 "${V[@]}" --at 2020-01-01 "$d/window-cert.pub"
	run 1 "${V[@]}" --at 2020-01-02T00:00:00 "$d/window-cert.pub"
	err_one_line "expired: valid before 2020-01-02T00:00:00"
	run 1 "${V[@]}" --at 2019-12-31T23:59:59 "$d/window-cert.pub"
	err_one_line "not yet valid: valid from 2020-01-01T00:00:00"
	run 0 "${V[@]}" --at 2019-12-31T23:59:00 --skew 60 "$d/window-cert.pub"

	sign "$t" host -h -I "host-$t" -n host.example,10.0.0.5 -V -5m:+30d
	run 0 "${V[@]}" --host --principal host.example "$d/host-cert.pub"
	run 0 "${V[@]}" --host --principal 10.0.0.5 "$d/host-cert.pub"
	run 1 "${V[@]}" --host --principal other.example "$d/host-cert.pub"
	err_one_line "principal not listed"
	run 1 "${V[@]}" --principal host.example "$d/host-cert.pub"
	err_one_line "wrong type: host certificate, expected a user certificate"
	printf '@cert-authority *.example %s\n' "$(cat "$ca")" >"$d/known_hosts"
	run 0 "$HCT" verify --host --ca "$d/known_hosts" --principal host.example \
	    "$d/host-cert.pub"
	run 0 "$HCT" inspect "$d/host-cert.pub"
	"$SSH_KEYGEN" -L -f "$d/host-cert.pub" | diff -u - "$T/out" >&2 ||
	    fail "inspect differs from ssh-keygen -L (ssh-keygen $t host CA)"

	printf 'serial: 400-600\n' >"$d/spec"
	"$SSH_KEYGEN" -q -k -f "$d/krl" -s "$ca" "$d/spec"
	run 1 "${V[@]}" --krl "$d/krl" --principal alice "$d/user-cert.pub"
	err_one_line "revoked (serial 500"
	run 0 "${V[@]}" --krl "$d/krl" --host --principal host.example "$d/host-cert.pub"
	pass "ssh-keygen $t CA: valid, expired, not yet valid, wrong CA, principal, type, revoked"
done

# RSA signature algorithms.
t=rsa-3072
d=$T/theirs-$t
V=("$HCT" verify --ca "$T/kgca/$t.pub" --principal alice)
for a in rsa-sha2-256 rsa-sha2-512; do
	sign "$t" "alg-$a" -t "$a" -I "$a" -n alice
	run 0 "${V[@]}" "$d/alg-$a-cert.pub"
	run 0 "$HCT" inspect "$d/alg-$a-cert.pub"
	has "$T/out" "(using $a)"
done
sign "$t" alg-sha1 -t ssh-rsa -I sha1 -n alice
run 1 "${V[@]}" "$d/alg-sha1-cert.pub"
err_one_line "SHA-1 signature refused"
run 0 "${V[@]}" --allow-sha1 "$d/alg-sha1-cert.pub"
pass "RSA CA: rsa-sha2-256 and rsa-sha2-512 accepted, ssh-rsa only with --allow-sha1"

info "cert_interop.sh: all passed"

#!/bin/bash
# sshd_login.sh: certificates signed by trasa-gateway, judged by a real sshd
# on 127.0.0.1 and a real ssh client.
#
# For each CA key type (ed25519, ecdsa-p256, rsa-3072) one sshd presents a
# host certificate from that state's host CA and trusts its user CA; ssh
# logs in with ed25519, ecdsa and rsa user keys, verifying the server with
# an @cert-authority known_hosts line and StrictHostKeyChecking=yes.
# Then, refused: wrong principal, expired, another CA's certificate, a host
# certificate the client's CA did not sign, a host certificate without the
# host name, and certificates revoked by a KRL written by our mkkrl.
set -euo pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

GW=$top_builddir/gateway/trasa-gateway
MKKRL=$top_builddir/tests/interop/mkkrl
[ -x "$GW" ] || fail "$GW not built"
[ -x "$MKKRL" ] || fail "$MKKRL not built"
[ -x "$SSHD" ] || fail "sshd not found at $SSHD"

tmp_setup
ME=$(id -un)
CA_TYPES="ed25519 ecdsa-p256 rsa-3072"
USER_TYPES="ed25519 ecdsa rsa"

gw()
{
	local sd=$1

	shift
	"$GW" --state-dir "$sd" "$@"
}

# keygen TYPE FILE: a private key without passphrase, FILE.pub beside it.
keygen()
{
	"$SSH_KEYGEN" -q -N '' -C '' -t "$1" -f "$2"
}

# userkey DIR NAME TYPE: a copy of the shared user key of TYPE as DIR/NAME,
# so that each certificate gets its own "NAME-cert.pub".
userkey()
{
	cp "$T/keys/$3" "$1/$2"
	cp "$T/keys/$3.pub" "$1/$2.pub"
	chmod 600 "$1/$2"
}

# login KNOWN_HOSTS KEY PORT: ssh's exit status; stderr kept in $T/ssh.err.
login()
{
	"$SSH" -F /dev/null \
	    -o StrictHostKeyChecking=yes \
	    -o UserKnownHostsFile="$1" -o GlobalKnownHostsFile=/dev/null \
	    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
	    -o CertificateFile="$2-cert.pub" -o ConnectTimeout=10 \
	    -i "$2" -p "$3" "$ME@127.0.0.1" true </dev/null 2>"$T/ssh.err"
}

# log_since LOG N PATTERN: PATTERN (fixed string) in LOG after line N,
# waiting up to 2 s for sshd to write it.
log_since()
{
	for _ in $(seq 1 20); do
		if tail -n "+$(($2 + 1))" "$1" | grep -qF -- "$3"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# expect_ok WHAT DIR KEY [KEYID]: login must succeed and sshd must log the
# certificate it accepted (key ID KEYID, else "trasa:USER:SERIAL").
expect_ok()
{
	local what=$1 d=$2 key=$3 id=${4:+$4\"} n

	[ -n "$id" ] || id="trasa:$ME:"

	n=$(wc -l <"$d/sshd.log")
	if ! login "$d/known_hosts" "$key" "$(cat "$d/port")"; then
		cat "$T/ssh.err" >&2
		tail -n 15 "$d/sshd.log" >&2
		fail "$what: login refused"
	fi
	log_since "$d/sshd.log" "$n" "Accepted certificate ID \"$id" ||
	    fail "$what: no 'Accepted certificate ID \"$id' in sshd log"
	pass "$what"
}

# expect_refused WHAT DIR KEY [SSHD_LOG_PATTERN] [SSH_ERR_PATTERN]
expect_refused()
{
	local what=$1 d=$2 key=$3 pat=${4:-} epat=${5:-Permission denied} n rc

	n=$(wc -l <"$d/sshd.log")
	rc=0
	login "$d/known_hosts" "$key" "$(cat "$d/port")" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: login succeeded, must be refused"
	if ! grep -qF -- "$epat" "$T/ssh.err"; then
		cat "$T/ssh.err" >&2
		fail "$what: ssh exited $rc without '$epat'"
	fi
	if [ -n "$pat" ] && ! log_since "$d/sshd.log" "$n" "$pat"; then
		tail -n 15 "$d/sshd.log" >&2
		fail "$what: no '$pat' in sshd log"
	fi
	pass "$what (refused)"
}

# setup_server DIR STATE HOSTKEYTYPE [HOSTPRINCIPALS]: host key and host
# certificate from STATE's host CA, an empty KRL, sshd started, known_hosts
# trusting STATE's host CA.
setup_server()
{
	local d=$1 sd=$2 hkt=$3 hp=${4:-127.0.0.1,localhost} port

	mkdir -p "$d"
	keygen "$hkt" "$d/hostkey"
	gw "$sd" cert sign --host --principals "$hp" "$d/hostkey.pub" >/dev/null ||
	    fail "cert sign --host failed ($sd)"
	[ -s "$d/hostkey-cert.pub" ] || fail "no $d/hostkey-cert.pub"
	"$MKKRL" "$d/krl" || fail "mkkrl (empty KRL) failed"
	port=$(pick_port)
	echo "$port" >"$d/port"
	{
		sshd_config_base "$port" "$d/hostkey" "$d/sshd.pid"
		echo "HostCertificate $d/hostkey-cert.pub"
		echo "TrustedUserCAKeys $sd/ca/user_ca.pub"
		echo "RevokedKeys $d/krl"
	} >"$d/sshd_config"
	start_sshd "$d/sshd_config" "$d/sshd.log"
	known_hosts "$d/known_hosts" "$port" "$sd"
}

# known_hosts FILE PORT STATE
known_hosts()
{
	printf '@cert-authority 127.0.0.1,[127.0.0.1]:%s %s\n' "$2" \
	    "$(gw "$3" ca show host)" >"$1"
}

# ---------------------------------------------------------------- setup
mkdir -p "$T/keys"
for u in $USER_TYPES; do
	keygen "$u" "$T/keys/$u"
done

for t in $CA_TYPES; do
	gw "$T/state-$t" ca init --key-type "$t" >/dev/null ||
	    fail "ca init --key-type $t failed"
	for f in user_ca user_ca.pub host_ca host_ca.pub; do
		[ -s "$T/state-$t/ca/$f" ] || fail "ca init $t: no ca/$f"
	done
done

# The expired certificate is signed first, so its second runs out while
# the other cases run.
mkdir -p "$T/neg"
userkey "$T/neg" expired ed25519
gw "$T/state-ed25519" cert sign --user "$ME" --principals "$ME" --ttl 1s \
    "$T/neg/expired.pub" >/dev/null || fail "cert sign --ttl 1s failed"
expired_at=$(($(date +%s) + 2))

# ---------------------------------------------------------------- logins
for t in $CA_TYPES; do
	case $t in
	ed25519) hkt=ed25519 ;;
	ecdsa-p256) hkt=ecdsa ;;
	rsa-3072) hkt=rsa ;;
	esac
	d=$T/srv-$t
	setup_server "$d" "$T/state-$t" "$hkt"
	for u in $USER_TYPES; do
		userkey "$d" "user-$u" "$u"
		gw "$T/state-$t" cert sign --user "$ME" --principals "$ME" \
		    --ttl 5m "$d/user-$u.pub" >/dev/null ||
		    fail "cert sign ($t CA, $u key) failed"
		expect_ok "login: $t CA, $hkt host key, $u user key" \
		    "$d" "$d/user-$u"
	done
done

# ---------------------------------------------------------------- refusals
d=$T/srv-ed25519
sd=$T/state-ed25519

userkey "$d" wrongp ed25519
gw "$sd" cert sign --user "$ME" --principals "not-$ME,root-not" \
    "$d/wrongp.pub" >/dev/null
expect_refused "wrong principal" "$d" "$d/wrongp" \
    "name is not a listed principal"

userkey "$d" otherca ed25519
gw "$T/state-ecdsa-p256" cert sign --user "$ME" --principals "$ME" \
    "$d/otherca.pub" >/dev/null
expect_refused "certificate from another user CA" "$d" "$d/otherca" \
    "Failed publickey for $ME from 127.0.0.1"

# The client trusts another host CA than the one that signed the host cert.
cp "$d/known_hosts" "$d/known_hosts.good"
known_hosts "$d/known_hosts" "$(cat "$d/port")" "$T/state-ecdsa-p256"
expect_refused "host certificate from a host CA the client does not trust" \
    "$d" "$d/user-ed25519" "" "Host key verification failed"
cp "$d/known_hosts.good" "$d/known_hosts"

# A host certificate from the right CA that does not name the host.
d2=$T/srv-wronghost
setup_server "$d2" "$sd" ed25519 "other.example.org"
userkey "$d2" user ed25519
gw "$sd" cert sign --user "$ME" --principals "$ME" "$d2/user.pub" >/dev/null
expect_refused "host certificate without 127.0.0.1 as principal" \
    "$d2" "$d2/user" "" "Host key verification failed"
stop_sshd "$SSHD_PID"

cp "$T/neg/expired" "$T/neg/expired-cert.pub" "$d/"
while [ "$(date +%s)" -lt "$expired_at" ]; do
	sleep 0.2
done
expect_refused "expired certificate (--ttl 1s)" "$d" "$d/expired" \
    "Certificate invalid: expired"

# ---------------------------------------------------------------- KRL
for x in a b c; do
	userkey "$d" "rev-$x" ed25519
done
gw "$sd" cert sign --user "$ME" --principals "$ME" --serial 1001 \
    "$d/rev-a.pub" >/dev/null
gw "$sd" cert sign --user "$ME" --principals "$ME" --serial 1002 \
    "$d/rev-b.pub" >/dev/null
gw "$sd" cert sign --user "$ME" --principals "$ME" --serial 1003 \
    --key-id "trasa:revoke-me" "$d/rev-c.pub" >/dev/null
expect_ok "serial 1001 before revocation" "$d" "$d/rev-a"

# sshd reads RevokedKeys on every authentication: replace it atomically.
"$MKKRL" "$d/krl.new" --ca "$sd/ca/user_ca.pub" --serial 1001 \
    --key-id "trasa:revoke-me" || fail "mkkrl failed"
mv "$d/krl.new" "$d/krl"
expect_refused "serial 1001 revoked by KRL" "$d" "$d/rev-a" \
    "revoked by file"
expect_ok "serial 1002 not revoked" "$d" "$d/rev-b"
expect_refused "key ID trasa:revoke-me revoked by KRL" "$d" "$d/rev-c" \
    "revoked by file"

# A serial range.
"$MKKRL" "$d/krl.new" --ca "$sd/ca/user_ca.pub" --serial 1000-1002 ||
    fail "mkkrl (range) failed"
mv "$d/krl.new" "$d/krl"
expect_refused "serial 1002 revoked by range 1000-1002" "$d" "$d/rev-b" \
    "revoked by file"
expect_ok "serial 1003 outside the range" "$d" "$d/rev-c" "trasa:revoke-me"

info "all sshd login cases passed"
exit 0

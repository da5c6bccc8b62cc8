#!/bin/bash
# demo.sh BUILDDIR: the end-to-end demo behind `make demo` and
# `./quickstart demo`. A user CA and a host CA, a host certificate and a
# user certificate signed by trasa-gateway, a real sshd on 127.0.0.1 that
# trusts the user CA and presents the host certificate, and a real ssh
# login that verifies the host through an @cert-authority line; then the
# gateway's HTTPS API on 127.0.0.1:8443 (or a free port): a user alice,
# an admin token, a certificate fetched with curl, and a login with it.
# Everything lives in a temporary directory, removed at the end (also on
# failure); the sshd is stopped by its own pid.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILDDIR" >&2; exit 2; }
BUILDDIR=$(cd "$1" && pwd)
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$top_srcdir/tests/interop/lib.sh"

GW=$BUILDDIR/gateway/trasa-gateway
HT=$BUILDDIR/hostcert-tool/hostcert-tool
for p in "$GW" "$HT"; do
	[ -x "$p" ] || fail "$p is not built (run make first)"
done
[ -x "$SSHD" ] || SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || fail "no sshd: install the Debian package openssh-server"

STEP=0
step()
{
	STEP=$((STEP + 1))
	if [ -t 1 ]; then
		printf '\n\033[1m== %d. %s\033[0m\n' "$STEP" "$*"
	else
		printf '\n== %d. %s\n' "$STEP" "$*"
	fi
}

# show CMD...: print the command, then run it.
show()
{
	printf '$ %s\n' "$*"
	"$@"
}

tmp_setup
ME=$(id -un)
S=$T/state
printf 'demo directory: %s (removed at the end)\n' "$T"

step "Create a user CA and a host CA (ed25519)"
show "$GW" --state-dir "$S" ca init --key-type ed25519
ls -l "$S/ca"

step "Show both CA public keys"
show "$GW" --state-dir "$S" ca show

step "Generate a host key and sign a host certificate"
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/ssh_host_ed25519_key"
show "$GW" --state-dir "$S" cert sign --host --principals 127.0.0.1,localhost \
    "$T/ssh_host_ed25519_key.pub"

step "Generate a user key and sign a 5-minute certificate for $ME"
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/id_ed25519"
show "$GW" --state-dir "$S" cert sign --user "$ME" --principals "$ME" \
    --ttl 5m "$T/id_ed25519.pub"

step "Inspect both certificates"
show "$HT" inspect "$T/ssh_host_ed25519_key-cert.pub"
echo
show "$HT" inspect "$T/id_ed25519-cert.pub"

step "Verify the user certificate against the user CA"
"$GW" --state-dir "$S" ca show user >"$T/user_ca.pub"
show "$HT" verify --ca "$T/user_ca.pub" --principal "$ME" \
    "$T/id_ed25519-cert.pub"
echo "hostcert-tool verify: exit $? (valid)"

step "Start sshd on 127.0.0.1 (trusts the user CA, presents the host certificate)"
PORT=$(pick_port)
{
	sshd_config_base "$PORT" "$T/ssh_host_ed25519_key" "$T/sshd.pid"
	echo "HostCertificate $T/ssh_host_ed25519_key-cert.pub"
	echo "TrustedUserCAKeys $T/user_ca.pub"
} >"$T/sshd_config"
grep -E '^(Port|ListenAddress|HostKey|HostCertificate|TrustedUserCAKeys|AuthorizedKeysFile)' \
    "$T/sshd_config"
start_sshd "$T/sshd_config" "$T/sshd.log"
echo "sshd (pid $SSHD_PID) is listening on 127.0.0.1:$PORT"

step "Trust the host CA in known_hosts and log in with ssh"
printf '@cert-authority 127.0.0.1,[127.0.0.1]:%s %s\n' "$PORT" \
    "$("$GW" --state-dir "$S" ca show host)" >"$T/known_hosts"
cat "$T/known_hosts"
# shellcheck disable=SC2016 # expanded by the remote shell
show "$SSH" -F /dev/null -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -i "$T/id_ed25519" -p "$PORT" "$ME@127.0.0.1" \
    'echo "hello from $(hostname) as $(id -un)"' </dev/null

step "What sshd logged about the certificate"
for _ in $(seq 1 20); do
	grep -q 'Accepted certificate' "$T/sshd.log" && break
	sleep 0.1
done
grep -m 1 'Accepted certificate' "$T/sshd.log" ||
    fail "sshd did not log the accepted certificate"
grep -m 1 'Accepted publickey' "$T/sshd.log" || true

# ---------------------------------------------------------------- gateway
# The same state directory served over HTTPS: a user certificate fetched
# with curl logs in to the same sshd.
GPORT=8443
if port_in_use "$GPORT"; then
	GPORT=$(pick_port)
fi
for t in curl jq; do
	command -v "$t" >/dev/null || fail "the gateway part of the demo needs $t"
done

step "Serve the HTTPS API on 127.0.0.1:$GPORT"
printf '$ %s\n' "$GW --state-dir $S --listen 127.0.0.1:$GPORT serve &"
start_gateway "$S" "$GPORT" "$T/gateway.log"
echo "trasa-gateway (pid $GW_PID) answers https://127.0.0.1:$GPORT/ (self-signed TLS certificate $S/tls/cert.pem)"
show curl -sS --cacert "$S/tls/cert.pem" "https://127.0.0.1:$GPORT/v1/ca/user"

step "Add the user alice and create an admin token"
show "$GW" --state-dir "$S" user add alice
printf '$ %s\n' "ADMIN=\$($GW --state-dir $S admin-token create demo)"
ADMIN=$("$GW" --state-dir "$S" admin-token create demo)
echo "admin token: ${ADMIN:0:6}... (only its SHA-256 is stored)"

step "Ask the gateway for a 5-minute certificate for alice's key (curl)"
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/alice"
jq -nc --arg k "$(cut -d' ' -f1-2 "$T/alice.pub")" --arg p "$ME" \
    '{user: "alice", public_key: $k, principals: [$p], ttl: 300}' \
    >"$T/alice-req.json"
# shellcheck disable=SC2016 # $ADMIN is shown, not expanded
printf '$ curl --cacert %s -H "Authorization: Bearer $ADMIN" \\\n' "$S/tls/cert.pem"
printf '    --data-binary @alice-req.json https://127.0.0.1:%s/v1/certs/user\n' "$GPORT"
jq . "$T/alice-req.json"
code=$(curl -sS --cacert "$S/tls/cert.pem" -o "$T/alice-resp.json" \
    -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $ADMIN" --data-binary "@$T/alice-req.json" \
    "https://127.0.0.1:$GPORT/v1/certs/user") || code=000
[ "$code" = 200 ] || { cat "$T/alice-resp.json" >&2; fail "POST /v1/certs/user: status $code"; }
echo "-> HTTP $code"
# As sent (jq would round the 64-bit serial), the certificate shortened.
sed -E 's/("certificate": *"[^"]{48})[^"]*"/\1..."/' "$T/alice-resp.json"
echo
jq -r .certificate "$T/alice-resp.json" >"$T/alice-cert.pub"
show "$HT" inspect "$T/alice-cert.pub"

step "Log in to the same sshd with alice's certificate (principal $ME)"
# shellcheck disable=SC2016 # expanded by the remote shell
show "$SSH" -F /dev/null -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -o CertificateFile="$T/alice-cert.pub" \
    -i "$T/alice" -p "$PORT" "$ME@127.0.0.1" \
    'echo "hello from $(hostname) as $(id -un), certificate from the HTTPS API"' </dev/null
for _ in $(seq 1 20); do
	grep -q 'Accepted certificate ID "trasa:alice' "$T/sshd.log" && break
	sleep 0.1
done
grep -m 1 'Accepted certificate ID "trasa:alice' "$T/sshd.log" ||
    fail "sshd did not log alice's certificate"

step "Stop the gateway"
stop_gateway "$GW_PID" "$T/gateway.log"
echo "trasa-gateway stopped"

step "Clean up"
stop_sshd "$SSHD_PID"
echo "sshd stopped; $T is removed on exit"
printf '\ndemo finished: certificates signed by trasa-gateway (command line and HTTPS API), accepted by OpenSSH\n'

#!/bin/bash
# demo.sh BUILDDIR: the end-to-end demo behind `make demo` and
# `./quickstart demo`. A user CA and a host CA, a host certificate and a
# user certificate signed by trasa-gateway, a real sshd on 127.0.0.1 that
# trusts the user CA and presents the host certificate, and a real ssh
# login that verifies the host through an @cert-authority line.
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

step "Clean up"
stop_sshd "$SSHD_PID"
echo "sshd stopped; $T is removed on exit"
printf '\ndemo finished: certificates signed by trasa-gateway, accepted by OpenSSH\n'

#!/bin/bash
# gateway_admin.sh: trasa-gateway's administration commands, through the
# built binary, on a state directory under $T:
#
#   ca init / show / rotate / retire, user, group, host token / list /
#   allow, admin-token, cert sign / revoke, krl, audit, --config
#
# Revocation is checked with the real ssh-keygen -Q, rotation with
# hostcert-tool verify against the keys `ca show` prints.
set -euo pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/interop/lib.sh"

need_tools
command -v jq >/dev/null || fail "jq not found (Debian package jq)"

tmp_setup
cd "$T"

SD=$T/state
G=("$GW" --state-dir "$SD")

lines_of()
{
	wc -l <"$1" | tr -d ' '
}

out_is()
{
	[ "$(cat "$T/out")" = "$1" ] ||
	    { sed 's/^/  stdout: /' "$T/out" >&2; fail "stdout is not '$1'"; }
}

# ---------------------------------------------------------------- help

for c in "ca init" "ca show" "ca rotate" "ca retire" "cert sign" "cert revoke" \
    "user add" "user del" "user disable" "user enable" "user list" "user show" \
    "user totp" "group add" "group del" "group member" "group list" \
    "host token" "host list" "host allow" krl audit "admin-token create" \
    "admin-token revoke" "admin-token list"; do
	# shellcheck disable=SC2086
	run 0 "${G[@]}" $c --help
	has "$T/out" "usage:"
done
for c in user group host admin-token; do
	run 2 "${G[@]}" "$c"
	err_one_line "missing subcommand"
	run 2 "${G[@]}" "$c" frobnicate
	err_one_line "unknown subcommand 'frobnicate'"
done
pass "every command has --help; missing and unknown subcommands exit 2"

# ---------------------------------------------------------------- ca init

run 1 "${G[@]}" user list
err_one_line "ca init"
run 0 "${G[@]}" ca init
has "$T/out" "database $SD/gateway.db"
[ -f "$SD/gateway.db" ] || fail "ca init did not create the database"
[ "$(stat -c %a "$SD/gateway.db")" = 600 ] || fail "gateway.db mode"
run 0 "${G[@]}" ca show
[ "$(lines_of "$T/out")" = 2 ] || fail "ca show: want 2 keys"
cat "$SD/ca/user_ca.pub" "$SD/ca/host_ca.pub" | diff -u - "$T/out" >&2 ||
    fail "ca show differs from the .pub files"
run 0 "${G[@]}" audit
has "$T/out" "ca.init"
pass "ca init creates the CAs and the database; ca show"

# ---------------------------------------------------------------- users

"$SSH_KEYGEN" -q -N '' -C 'alice@laptop' -t ed25519 -f "$T/alice"
"$SSH_KEYGEN" -q -N '' -C '' -t ecdsa -f "$T/bob"
cat "$T/alice.pub" "$T/bob.pub" >"$T/keys"
printf '# comment\n\n' >>"$T/keys"

run 0 "${G[@]}" user add alice --gecos "Alice A" --key "$T/keys"
grep -qx 'user alice uid [0-9]* gid [0-9]*' "$T/out" || fail "user add: $(cat "$T/out")"
alice_uid=$(awk '{ print $4 }' "$T/out")
run 0 "${G[@]}" user add bob --shell /bin/sh --home /srv/bob
bob_uid=$(awk '{ print $4 }' "$T/out")
[ "$bob_uid" -gt "$alice_uid" ] || fail "uids not increasing"
run 0 "${G[@]}" user list
has "$T/out" "NAME"
grep -q "^alice  *$alice_uid " "$T/out" || fail "user list: $(cat "$T/out")"
grep -q "^bob  *$bob_uid " "$T/out" || fail "user list: bob"
run 0 "${G[@]}" user list --json
[ "$(jq -r '[.[].name] | join(",")' "$T/out")" = alice,bob ] || fail "user list --json"
run 0 "${G[@]}" user show alice
has "$T/out" "uid: $alice_uid"
has "$T/out" "gecos: Alice A"
has "$T/out" "home: /home/alice"
has "$T/out" "disabled: no"
[ "$(grep -c '^key: ' "$T/out")" = 2 ] || fail "user show: want 2 keys"
has "$T/out" "$(cut -d' ' -f1-2 "$T/bob.pub")"
run 0 "${G[@]}" user show bob --json
[ "$(jq -r '.shell + " " + .home' "$T/out")" = "/bin/sh /srv/bob" ] || fail "user show --json"
pass "user add (with keys), list, show"

# Duplicate: refused, one line, nothing changed.
run 0 "${G[@]}" user list --json
cp "$T/out" "$T/before"
run 0 "${G[@]}" audit
audit_before=$(lines_of "$T/out")
run 1 "${G[@]}" user add alice
err_one_line "user 'alice' already exists"
[ ! -s "$T/out" ] || fail "a refused user add printed on stdout"
run 0 "${G[@]}" user list --json
diff -u "$T/before" "$T/out" >&2 || fail "a refused user add changed the users"
run 0 "${G[@]}" audit
[ "$(lines_of "$T/out")" = "$audit_before" ] || fail "a refused user add was audited as done"
pass "duplicate user refused, nothing changed"

# uids are never reused.
run 0 "${G[@]}" user del bob
out_is "user bob deleted"
run 1 "${G[@]}" user show bob
err_one_line "no user 'bob'"
run 1 "${G[@]}" user del bob
err_one_line "no user 'bob'"
run 0 "${G[@]}" user add carol
carol_uid=$(awk '{ print $4 }' "$T/out")
[ "$carol_uid" != "$bob_uid" ] || fail "bob's uid $bob_uid was reused"
run 1 "${G[@]}" user add dave --uid "$bob_uid"
err_one_line "never reused"
run 0 "${G[@]}" user add bob
[ "$(awk '{ print $4 }' "$T/out")" != "$bob_uid" ] || fail "a re-added bob got its old uid"
run 0 "${G[@]}" user add erin --uid 250123 --gid 250123
out_is "user erin uid 250123 gid 250123"
pass "uids are never reused"

run 0 "${G[@]}" user disable carol
out_is "user carol disabled"
run 0 "${G[@]}" user show carol
has "$T/out" "disabled: yes"
run 0 "${G[@]}" user enable carol
run 0 "${G[@]}" user show carol --json
[ "$(jq -r .disabled "$T/out")" = false ] || fail "user enable"
pass "user disable / enable"

# TOTP: a 20-byte secret, base32 (oathtool is not installed: format only).
run 0 "${G[@]}" user totp alice
[ "$(lines_of "$T/out")" = 2 ] || fail "user totp: want 2 lines"
secret=$(sed -n 1p "$T/out")
[[ $secret =~ ^[A-Z2-7]{32}$ ]] || fail "user totp: '$secret' is not base32 of 20 bytes"
[ "$(sed -n 2p "$T/out")" = "otpauth://totp/TRASA:alice?secret=$secret&issuer=TRASA" ] ||
    fail "user totp URI: $(sed -n 2p "$T/out")"
run 0 "${G[@]}" user totp alice
[ "$(sed -n 1p "$T/out")" != "$secret" ] || fail "user totp gave the same secret twice"
run 0 "${G[@]}" user show alice
has "$T/out" "totp: yes"
run 1 "${G[@]}" user totp nobody
err_one_line "no user 'nobody'"
pass "user totp"

# Bad input.
run 1 "${G[@]}" user add 'bad name'
err_one_line "invalid user name 'bad name'"
run 1 "${G[@]}" user add "$(printf 'evil\033[2J')"
err_one_line 'evil\x1b[2J'
! LC_ALL=C grep -q "$(printf '\033')" "$T/err" || fail "an escape character was echoed"
run 1 "${G[@]}" user add 9lives
err_one_line "invalid user name"
run 2 "${G[@]}" user add x --uid abc
err_one_line "--uid 'abc'"
run 2 "${G[@]}" user add x --uid 0
err_one_line "--uid"
run 2 "${G[@]}" user add x --gid -5
err_one_line "--gid"
run 2 "${G[@]}" user add
err_one_line "missing NAME"
run 2 "${G[@]}" user add x y
err_one_line "unexpected argument 'y'"
run 1 "${G[@]}" user add x --home relative
err_one_line "--home"
run 1 "${G[@]}" user add x --gecos "a:b"
err_one_line "--gecos"
run 1 "${G[@]}" user add x --groups nosuchgroup
err_one_line "no group 'nosuchgroup'"
printf 'not a key\n' >"$T/garbage"
run 1 "${G[@]}" user add x --key "$T/garbage"
err_one_line "$T/garbage:1"
run 1 "${G[@]}" user add x --key "$T/alice"
err_one_line "private key"
run 1 "${G[@]}" user show x
err_one_line "no user 'x'"
pass "user add refuses bad names and values (exit 1) and bad numbers (exit 2)"

# ---------------------------------------------------------------- groups

run 0 "${G[@]}" group add ops
grep -qx 'group ops gid [0-9]*' "$T/out" || fail "group add: $(cat "$T/out")"
run 1 "${G[@]}" group add ops
err_one_line "group 'ops' already exists"
run 0 "${G[@]}" group add dev --gid 260000
out_is "group dev gid 260000"
run 0 "${G[@]}" group member ops alice
out_is "added alice to group ops"
run 0 "${G[@]}" group member ops carol
run 0 "${G[@]}" group member dev carol
run 0 "${G[@]}" group member dev carol --remove
out_is "removed carol from group dev"
run 1 "${G[@]}" group member ops nobody
err_one_line "no user 'nobody'"
run 1 "${G[@]}" group member nogroup alice
err_one_line "no group 'nogroup'"
run 0 "${G[@]}" group list
grep -q '^ops  *[0-9]* alice,carol$' "$T/out" || fail "group list: $(cat "$T/out")"
grep -q '^dev  *260000 -$' "$T/out" || fail "group list: dev"
run 0 "${G[@]}" group list --json
[ "$(jq -r '.[] | select(.name == "ops") | .members | join(",")' "$T/out")" = alice,carol ] ||
    fail "group list --json"
run 0 "${G[@]}" user show alice
has "$T/out" "groups: ops"
run 0 "${G[@]}" user add frank --groups ops,dev
run 0 "${G[@]}" user show frank --json
[ "$(jq -r '.groups | join(",")' "$T/out")" = dev,ops ] ||
    [ "$(jq -r '.groups | join(",")' "$T/out")" = ops,dev ] || fail "user add --groups"
run 1 "${G[@]}" group del alice
err_one_line "primary group"
run 0 "${G[@]}" group del dev
out_is "group dev deleted"
run 1 "${G[@]}" group del dev
err_one_line "no group 'dev'"
pass "group add, member, list, del"

# ---------------------------------------------------------------- hosts

run 0 "${G[@]}" host token web1.example --principals web1.example,10.0.0.5 --ttl 1h
[ "$(lines_of "$T/out")" = 1 ] || fail "host token printed more than one line"
tok=$(cat "$T/out")
[[ $tok =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "host token '$tok' is not 43 base64url characters"
[ ! -s "$T/err" ] || fail "host token wrote on stderr: $(cat "$T/err")"
run 0 "${G[@]}" host token web1.example
[ "$(cat "$T/out")" != "$tok" ] || fail "two host tokens are the same"
run 0 "${G[@]}" host token web2.example --ttl 365d --allow-groups ops
[ "$(lines_of "$T/out")" = 1 ] || fail "host token (capped ttl) printed more than one line"
has "$T/err" "token_max_ttl"
run 2 "${G[@]}" host token web1.example --ttl 5x
err_one_line "--ttl"
run 1 "${G[@]}" host token 'bad host'
err_one_line "invalid host name"
run 1 "${G[@]}" host token web1.example --principals 'a b'
err_one_line "--principals"
run 1 "${G[@]}" host token web1.example --allow-groups nosuch
err_one_line "no group 'nosuch'"
run 0 "${G[@]}" audit
has "$T/out" "host.token"
! grep -qF -- "$tok" "$T/out" || fail "the audit log holds a token"
run 0 "${G[@]}" host allow web1.example --groups ops
out_is "host web1.example: login allowed to groups ops"
run 0 "${G[@]}" host allow web1.example --groups ''
out_is "host web1.example: login allowed to every directory user"
run 2 "${G[@]}" host allow web1.example
err_one_line "--groups"
run 0 "${G[@]}" host list
has "$T/out" "NAME"
run 0 "${G[@]}" host list --json
jq -e 'type == "array"' "$T/out" >/dev/null || fail "host list --json"
pass "host token (one 43-character line), allow, list"

# ---------------------------------------------------------------- admin tokens

run 0 "${G[@]}" admin-token create ci
[ "$(lines_of "$T/out")" = 1 ] || fail "admin-token create printed more than one line"
[[ $(cat "$T/out") =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "admin token format"
run 1 "${G[@]}" admin-token create ci
err_one_line "exists"
run 0 "${G[@]}" admin-token list
grep -q '^ci ' "$T/out" || fail "admin-token list: $(cat "$T/out")"
run 0 "${G[@]}" admin-token revoke ci
out_is "admin token ci revoked"
run 1 "${G[@]}" admin-token revoke ci
err_one_line "ci"
run 0 "${G[@]}" admin-token list
! grep -q '^ci ' "$T/out" || fail "a revoked token is listed"
run 0 "${G[@]}" admin-token create ci
run 1 "${G[@]}" admin-token create 'a b'
err_one_line "invalid token name"
pass "admin-token create, list, revoke"

# ---------------------------------------------------------------- certificates

run 0 "${G[@]}" cert sign --user alice --principals alice "$T/alice.pub"
C1=$T/alice-cert.pub
s1=$("$SSH_KEYGEN" -L -f "$C1" | awk '/Serial:/ { print $2 }')
has "$T/out" "key ID \"trasa:alice:$s1\" serial $s1"
cp "$C1" "$T/c1-cert.pub"
C1=$T/c1-cert.pub
run 0 "${G[@]}" cert sign --user breakglass --principals root "$T/bob.pub"
C2=$T/bob-cert.pub
s2=$("$SSH_KEYGEN" -L -f "$C2" | awk '/Serial:/ { print $2 }')
run 0 "${G[@]}" audit
grep -q "	cert.user	.*	alice	ok	.*$s1" "$T/out" || fail "audit lacks cert.user for serial $s1"
grep -q "	cert.user	.*	breakglass	ok	.*$s2" "$T/out" || fail "audit lacks the offline signing"
run 0 "${G[@]}" audit --json
[ "$(jq -r '[.[] | select(.event == "cert.user")] | length' "$T/out")" = 2 ] ||
    fail "audit --json: cert.user events"
# A serial is never issued twice.
run 0 "${G[@]}" cert sign --user alice --principals alice --serial 4242 "$T/alice.pub"
run 1 "${G[@]}" cert sign --user alice --principals alice --serial 4242 "$T/alice.pub"
err_one_line "serial 4242 was already issued"
run 1 "${G[@]}" cert sign --user alice --principals alice --serial "$s1" "$T/alice.pub"
err_one_line "serial $s1 was already issued"
pass "cert sign records serials (audit cert.user), refuses a used serial"

# Revocation: ssh-keygen -Q sees it in the KRL.
run 0 "${G[@]}" cert revoke --serial "$s1"
has "$T/out" "revoked serial $s1"
run 0 "${G[@]}" krl --out "$T/krl"
gen1=$(sed -n 's/.*generation \([0-9]*\)$/\1/p' "$T/out")
[ -n "$gen1" ] || fail "krl did not print its generation: $(cat "$T/out")"
[ "$(stat -c %a "$T/krl")" = 644 ] || fail "KRL mode"
if "$SSH_KEYGEN" -Q -f "$T/krl" "$C1" >"$T/q" 2>&1; then
	fail "ssh-keygen -Q: $C1 not revoked: $(cat "$T/q")"
else
	[ $? -eq 1 ] || fail "ssh-keygen -Q failed: $(cat "$T/q")"
fi
has "$T/q" "REVOKED"
"$SSH_KEYGEN" -Q -f "$T/krl" "$C2" >"$T/q" 2>&1 || fail "ssh-keygen -Q: $C2 revoked: $(cat "$T/q")"
has "$T/q" "ok"
run 0 "${G[@]}" cert revoke --key-id "trasa:breakglass:$s2"
run 0 "${G[@]}" krl --out "$T/krl"
gen2=$(sed -n 's/.*generation \([0-9]*\)$/\1/p' "$T/out")
[ "$gen2" -gt "$gen1" ] || fail "KRL generation did not grow ($gen1 -> $gen2)"
if "$SSH_KEYGEN" -Q -f "$T/krl" "$C2" >/dev/null 2>&1; then
	fail "revocation by key ID not in the KRL"
fi
run 0 "$HCT" verify --ca "$SD/ca/user_ca.pub" "$T/alice-cert.pub"
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/lost"
run 0 "${G[@]}" cert revoke --key "$T/lost.pub"
has "$T/out" "revoked key ED25519 $(fp_of "$T/lost.pub")"
run 0 "${G[@]}" krl
[ -f "$SD/krl.bin" ] || fail "krl did not write $SD/krl.bin"
if "$SSH_KEYGEN" -Q -f "$SD/krl.bin" "$T/lost.pub" >/dev/null 2>&1; then
	fail "revoked key not in the KRL"
fi
run 0 "${G[@]}" audit
has "$T/out" "	revoke	"
run 2 "${G[@]}" cert revoke
err_one_line "--serial"
run 2 "${G[@]}" cert revoke --serial 1 --key-id x
err_one_line "one of"
run 2 "${G[@]}" cert revoke --serial abc
err_one_line "--serial 'abc'"
pass "cert revoke --serial / --key-id / --key; krl; ssh-keygen -Q agrees"

# ---------------------------------------------------------------- rotation

"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/carol"
run 0 "${G[@]}" cert sign --user carol --principals carol "$T/carol.pub"
cp "$T/carol-cert.pub" "$T/before-cert.pub"
old_fp=$(fp_of "$SD/ca/user_ca.pub")
run 0 "${G[@]}" ca rotate user
has "$T/out" "previous key $old_fp"
[ -f "$SD/ca/user_ca.prev" ] && [ -f "$SD/ca/user_ca.prev.pub" ] || fail "no .prev pair"
[ ! -e "$SD/ca/user_ca.new" ] && [ ! -e "$SD/ca/user_ca.new.pub" ] || fail ".new left behind"
[ "$(stat -c %a "$SD/ca/user_ca")" = 600 ] || fail "new user_ca mode"
[ "$(fp_of "$SD/ca/user_ca.prev.pub")" = "$old_fp" ] || fail "user_ca.prev.pub is not the old key"
[ "$(fp_of "$SD/ca/user_ca.pub")" != "$old_fp" ] || fail "rotation kept the old key"
grep -q '^ssh-ed25519 ' "$SD/ca/user_ca.pub" || fail "rotation changed the key type"
run 0 "${G[@]}" ca show user
[ "$(lines_of "$T/out")" = 2 ] || fail "ca show user after rotation: want 2 keys"
cp "$T/out" "$T/trusted"
[ "$(sed -n 1p "$T/trusted")" = "$(cat "$SD/ca/user_ca.pub")" ] || fail "current key not first"
[ "$(sed -n 2p "$T/trusted")" = "$(cat "$SD/ca/user_ca.prev.pub")" ] || fail "previous key not second"
run 0 "${G[@]}" ca show
[ "$(lines_of "$T/out")" = 3 ] || fail "ca show after a user rotation: want 3 keys"
run 0 "$HCT" verify --ca "$T/trusted" "$T/before-cert.pub"
run 0 "${G[@]}" cert sign --user carol --principals carol "$T/carol.pub"
run 0 "$HCT" verify --ca "$T/trusted" "$T/carol-cert.pub"
run 0 "$HCT" verify --ca "$SD/ca/user_ca.pub" "$T/carol-cert.pub"
run 1 "$HCT" verify --ca "$SD/ca/user_ca.pub" "$T/before-cert.pub"
err_one_line "unknown CA"
# The KRL covers certificates of both keys.
run 0 "${G[@]}" cert revoke --serial "$("$SSH_KEYGEN" -L -f "$T/before-cert.pub" | awk '/Serial:/ { print $2 }')"
run 0 "${G[@]}" krl --out "$T/krl2"
if "$SSH_KEYGEN" -Q -f "$T/krl2" "$T/before-cert.pub" >/dev/null 2>&1; then
	fail "KRL misses a revoked certificate of the previous CA key"
fi
"$SSH_KEYGEN" -Q -f "$T/krl2" "$T/carol-cert.pub" >/dev/null || fail "KRL revokes a good certificate"
run 1 "${G[@]}" ca rotate user
err_one_line "retire the previous key first"
run 0 "${G[@]}" audit
has "$T/out" "ca.rotate"
pass "ca rotate user: two trusted keys, old certificates still verify"

run 0 "${G[@]}" ca retire user
has "$T/out" "retired $old_fp"
run 0 "${G[@]}" ca show user
[ "$(lines_of "$T/out")" = 1 ] || fail "ca show user after retire: want 1 key"
diff -u "$SD/ca/user_ca.pub" "$T/out" >&2 || fail "ca show user after retire"
[ ! -e "$SD/ca/user_ca.prev" ] && [ ! -e "$SD/ca/user_ca.prev.pub" ] || fail ".prev left"
find "$SD/ca/retired" -mindepth 1 -printf '%f\n' | grep -qx 'user_ca\.[0-9]\{8\}T[0-9]\{6\}Z' || fail "no retired key: $(ls "$SD/ca/retired")"
find "$SD/ca/retired" -mindepth 1 -printf '%f\n' | grep -qx 'user_ca\.[0-9]\{8\}T[0-9]\{6\}Z\.pub' || fail "no retired .pub"
[ "$(fp_of "$SD/ca/retired/"user_ca.*.pub)" = "$old_fp" ] || fail "retired the wrong key"
run 1 "${G[@]}" ca retire user
err_one_line "no previous key"
run 0 "${G[@]}" audit
has "$T/out" "ca.retire"
run 2 "${G[@]}" ca rotate
err_one_line "user or host"
run 2 "${G[@]}" ca retire both
err_one_line "neither user nor host"
pass "ca retire user: one trusted key, the old one kept in ca/retired"

# An interrupted rotation (new pair written, old one linked as .prev,
# nothing renamed yet) is finished by running ca rotate again; no key is lost.
run 0 "$GW" --state-dir "$T/other" ca init
cp "$T/other/ca/host_ca" "$SD/ca/host_ca.new"
cp "$T/other/ca/host_ca.pub" "$SD/ca/host_ca.new.pub"
ln "$SD/ca/host_ca" "$SD/ca/host_ca.prev"
host_old=$(fp_of "$SD/ca/host_ca.pub")
host_new=$(fp_of "$T/other/ca/host_ca.pub")
run 1 "${G[@]}" ca retire host
err_one_line "interrupted"
run 0 "${G[@]}" ca rotate host
has "$T/out" "finished an interrupted rotation"
[ "$(fp_of "$SD/ca/host_ca.pub")" = "$host_new" ] || fail "resumed rotation: current key"
[ "$(fp_of "$SD/ca/host_ca.prev.pub")" = "$host_old" ] || fail "resumed rotation: previous key"
run 0 "${G[@]}" ca show host
[ "$(lines_of "$T/out")" = 2 ] || fail "ca show host after a resumed rotation"
"$SSH_KEYGEN" -q -N '' -C '' -t ed25519 -f "$T/hk"
run 0 "${G[@]}" cert sign --host --principals h.example "$T/hk.pub"
run 0 "$HCT" verify --host --ca "$T/other/ca/host_ca.pub" "$T/hk-cert.pub"
pass "an interrupted rotation is finished, no key lost"

# A state directory made before the database existed (CA only) gets one.
rm -f "$T/other/gateway.db" "$T/other/gateway.db-wal" "$T/other/gateway.db-shm"
run 0 "$GW" --state-dir "$T/other" cert sign --user alice --principals alice "$T/alice.pub"
[ -f "$T/other/gateway.db" ] || fail "no database made for an old state directory"
run 0 "$GW" --state-dir "$T/other" audit
has "$T/out" "cert.user"
run 1 "$GW" --state-dir "$T/nothing" user list
err_one_line "ca init"
[ ! -e "$T/nothing" ] || fail "user list created a state directory"
pass "an old state directory without a database gets one"

# ---------------------------------------------------------------- audit

run 0 "${G[@]}" audit --since 1h
has "$T/out" "user.add"
run 0 "${G[@]}" audit --since "$(($(date +%s) + 3600))"
[ ! -s "$T/out" ] || fail "audit --since the future printed events"
run 0 "${G[@]}" audit --since 2000-01-01T00:00:00
has "$T/out" "ca.init"
run 0 "${G[@]}" audit --since 2000-01-01T00:00:00 --json
jq -e 'length > 10 and (.[0].event == "ca.init")' "$T/out" >/dev/null || fail "audit --json"
for t in yesterday 2024-13-01T00:00:00 2024-02-30T00:00:00 1x ""; do
	run 2 "${G[@]}" audit --since "$t"
	err_one_line "--since"
done
# Fields are tab-separated; the actor is cli:LOGIN (or cli:uid N).
run 0 "${G[@]}" audit
actor=$(awk -F'\t' 'NR == 1 { print $3 }' "$T/out")
[[ $actor =~ ^cli:.+ ]] || fail "audit actor '$actor'"
pass "audit --since (unix time, duration, date) and --json"

# ---------------------------------------------------------------- configuration

printf '[users]\nuid_min = 5000\nuid_max = 5001\n' >"$T/small.conf"
run 0 "$GW" --config "$T/small.conf" --state-dir "$T/small" ca init
run 0 "$GW" --config "$T/small.conf" --state-dir "$T/small" user add u1
out_is "user u1 uid 5000 gid $(awk '{ print $6 }' "$T/out")"
run 0 "$GW" --config "$T/small.conf" --state-dir "$T/small" user add u2
has "$T/out" "uid 5001"
run 1 "$GW" --config "$T/small.conf" --state-dir "$T/small" user add u3
err_one_line "range exhausted"
run 1 "$GW" --config "$T/small.conf" --state-dir "$T/small" user show u3
pass "[users] uid_min / uid_max: the range is exhausted"

printf '[users]\nuid_min = 5000\nfrobnicate = 1\n' >"$T/bad.conf"
run 1 "$GW" --config "$T/bad.conf" --state-dir "$SD" user list
err_one_line "$T/bad.conf:3"
has "$T/err" "frobnicate"
run 1 "$GW" --config "$T/missing.conf" --state-dir "$SD" user list
err_one_line "$T/missing.conf"
pass "a configuration file with an unknown key names file:line"

# ---------------------------------------------------------------- passphrase credential

mkdir "$T/cred"
printf 'credential passphrase\n' >"$T/cred/trasa-ca-passphrase"
run 0 env CREDENTIALS_DIRECTORY="$T/cred" "$GW" --state-dir "$T/enc" ca init
has "$T/out" "encrypted"
head -n 1 "$T/enc/ca/user_ca" | grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' ||
    fail "the credential passphrase was not used"
run 1 "$GW" --state-dir "$T/enc" cert sign --user alice --principals alice "$T/alice.pub"
err_one_line "--passphrase-file"
run 0 env CREDENTIALS_DIRECTORY="$T/cred" "$GW" --state-dir "$T/enc" cert sign \
    --user alice --principals alice "$T/alice.pub"
run 0 env CREDENTIALS_DIRECTORY="$T/cred" "$GW" --state-dir "$T/enc" ca rotate user
head -n 1 "$T/enc/ca/user_ca" | grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' ||
    fail "the rotated key is not encrypted"
run 1 "$GW" --state-dir "$T/enc" ca rotate host
err_one_line "--passphrase-file"
pass "\$CREDENTIALS_DIRECTORY/trasa-ca-passphrase"

info "gateway_admin.sh: all passed"

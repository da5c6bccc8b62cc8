#!/bin/bash
# tests/interop/krl_interop.sh: KRLs written by libtrasa (through the mkkrl
# test program) against the real ssh-keygen: for the same revocations they
# are byte for byte what `ssh-keygen -k` writes, `ssh-keygen -Q` gives the
# same verdict on every key and certificate, `ssh-keygen -Q -l` lists them
# the same, and signed ones are accepted.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=lib.sh
. "$top_srcdir/tests/interop/lib.sh"

MKKRL=$top_builddir/tests/interop/mkkrl
[ -x "$MKKRL" ] || fail "$MKKRL not built (make check builds it)"
command -v "$SSH_KEYGEN" >/dev/null 2>&1 || fail "no ssh-keygen at $SSH_KEYGEN"

tmp_setup
cd "$T" || fail "cd $T"

keygen()
{
	"$SSH_KEYGEN" -q -N '' -C test -t "$1" ${3:+-b "$3"} -f "$2" ||
	    fail "ssh-keygen -t $1 $2"
}

# cert CA SUBJECT NAME KEYID SERIAL: NAME-cert.pub, a certificate of
# SUBJECT's key.
cert()
{
	cp "$2.pub" "$3.pub" || fail "cp $2.pub"
	"$SSH_KEYGEN" -q -s "$1" -I "$4" -z "$5" -n user "$3.pub" ||
	    fail "ssh-keygen -s $1 for $3"
}

# query KRL FILE: ssh-keygen -Q's exit status (0 ok, 1 revoked, else error).
query()
{
	"$SSH_KEYGEN" -Q -f "$1" "$2" >/dev/null 2>&1
	echo $?
}

# The generated_date field of a KRL (bytes 20..27, big-endian).
krl_date()
{
	od -An -tu1 -j20 -N8 "$1" |
	    awk '{ for (i = 1; i <= NF; i++) d = d * 256 + $i } END { printf "%.0f", d }'
}

info "keys and certificates"
keygen ed25519 ca
keygen ecdsa ca2
keygen ed25519 ca3
keygen rsa ca4 2048
keygen ed25519 subj
keygen ecdsa k_key
keygen rsa k_sha1 2048
keygen ed25519 k_sha256
keygen ed25519 k_ok
keygen ed25519 signer
cert ca subj c_s5 alice 5
cert ca subj c_s8 alice 8
cert ca subj c_s10 alice 10
cert ca subj c_s150 alice 150
cert ca subj c_s301 alice 301
cert ca subj c_s1002 alice 1002
cert ca subj c_s1003 alice 1003
cert ca subj c_bob bob 0
cert ca2 subj c_bob2 bob 0
cert ca subj c_s0 carol 0
cert ca2 subj c_ca2_s42 alice 42
cert ca2 subj c_ca2_s5 alice 5
cert ca4 subj c_evil evil 77
cert ca4 subj c_ca4 alice 77
cert ca3 subj c_ca3 alice 1
cert ca4 k_key c_keyrev alice 3
cert ca4 k_sha256 c_sharev alice 3

# FILE EXPECTED (1 revoked, 0 not)
CASES="
c_s5-cert.pub 1
c_s8-cert.pub 1
c_s10-cert.pub 0
c_s150-cert.pub 1
c_s301-cert.pub 0
c_s1002-cert.pub 1
c_s1003-cert.pub 0
c_bob-cert.pub 1
c_bob2-cert.pub 0
c_s0-cert.pub 0
c_ca2_s42-cert.pub 1
c_ca2_s5-cert.pub 0
c_evil-cert.pub 1
c_ca4-cert.pub 0
c_ca3-cert.pub 1
c_keyrev-cert.pub 1
c_sharev-cert.pub 1
k_key.pub 1
k_sha1.pub 1
k_sha256.pub 1
ca3.pub 1
k_ok.pub 0
subj.pub 0
"

info "ssh-keygen -k writes the reference KRL"
{
	echo "serial: 5"
	echo "serial: 7-9"
	echo "serial: 100-300"
	echo "serial: 1000"
	echo "serial: 1002"
	echo "serial: 1004"
	echo "id: bob"
	echo "key: $(cat k_key.pub)"
	echo "key: $(cat ca3.pub)"
	echo "sha1: $(cat k_sha1.pub)"
	echo "sha256: $(cat k_sha256.pub)"
} >spec1
echo "serial: 42" >spec2
echo "id: evil" >spec3
"$SSH_KEYGEN" -q -k -f theirs.krl -z 9 -C "interop test" -s ca.pub spec1 &&
    "$SSH_KEYGEN" -q -k -u -f theirs.krl -s ca2.pub spec2 &&
    "$SSH_KEYGEN" -q -k -u -f theirs.krl -s none spec3 ||
    fail "ssh-keygen -k"

info "mkkrl writes the same revocations"
date=$(krl_date theirs.krl)
[ -n "$date" ] && [ "$date" -gt 0 ] || fail "no date in theirs.krl"
ours_args=(--version 9 --date "$date" --comment "interop test"
    --ca ca.pub --serial 1004 --serial 1002 --serial 1000 --serial 100-300
    --serial 7-9 --serial 5 --key-id bob
    --key k_key.pub --key ca3.pub --sha1 k_sha1.pub --sha256 k_sha256.pub
    --ca ca2.pub --serial 42
    --ca none --key-id evil)
"$MKKRL" ours.krl "${ours_args[@]}" || fail "mkkrl ours.krl"
cmp -s ours.krl theirs.krl || fail "our KRL differs from ssh-keygen's"
pass "byte for byte the KRL ssh-keygen -k writes"

LC_ALL=C "$SSH_KEYGEN" -Q -l -f theirs.krl >theirs.list ||
    fail "ssh-keygen -Q -l theirs.krl"
LC_ALL=C "$SSH_KEYGEN" -Q -l -f ours.krl >ours.list ||
    fail "ssh-keygen -Q -l ours.krl"
cmp -s ours.list theirs.list || fail "ssh-keygen -Q -l listings differ"
grep -q '^serial: 100-300$' ours.list || fail "listing lacks 100-300"
grep -q '^# Wildcard CA$' ours.list || fail "listing lacks the wildcard CA"
pass "ssh-keygen -Q -l lists both the same"

info "signed by an Ed25519 key"
"$MKKRL" signed.krl --sign signer "${ours_args[@]}" ||
    fail "mkkrl --sign"
[ "$(stat -c %s signed.krl)" -gt "$(stat -c %s ours.krl)" ] ||
    fail "signed KRL is not longer"
cmp -s -n "$(stat -c %s ours.krl)" signed.krl ours.krl ||
    fail "signed KRL does not start with the unsigned one"

info "every verdict, three KRLs"
n=0
while read -r file want; do
	[ -n "$file" ] || continue
	for k in theirs.krl ours.krl signed.krl; do
		got=$(query "$k" "$file")
		[ "$got" = "$want" ] ||
		    fail "ssh-keygen -Q -f $k $file: exit $got, want $want"
	done
	n=$((n + 1))
done <<EOF
$CASES
EOF
[ "$n" -ge 20 ] || fail "only $n cases ran"
pass "$n keys and certificates judged alike"

info "a tampered signed KRL is refused by ssh-keygen"
size=$(stat -c %s signed.krl)
cp signed.krl tampered.krl
flip_byte tampered.krl $((size - 10))
cmp -s signed.krl tampered.krl && fail "tampering did not change the file"
[ "$(query tampered.krl k_ok.pub)" = 255 ] ||
    fail "ssh-keygen accepted a KRL with a bad signature"
pass "bad signature refused"

info "many serials: lists, ranges and bitmaps"
args=(--ca ca.pub)
: >spec-many
s=1
for i in $(seq 1 400); do
	# Small gaps (bitmaps), some long runs (ranges), lone far serials
	# (lists).
	g=$((i * 7919 % 13 + 1))
	w=$((i * 104729 % 5))
	[ $((i % 17)) -eq 0 ] && g=$((g + 3000))
	[ $((i % 23)) -eq 0 ] && w=500
	if [ $((i % 7)) -eq 0 ]; then
		g=$((g + 200))
		w=0
	fi
	s=$((s + g))
	if [ "$w" -eq 0 ]; then
		echo "serial: $s" >>spec-many
		args+=(--serial "$s")
	else
		echo "serial: $s-$((s + w))" >>spec-many
		args+=(--serial "$s-$((s + w))")
		s=$((s + w))
	fi
done
"$SSH_KEYGEN" -q -k -f many-theirs.krl -s ca.pub spec-many ||
    fail "ssh-keygen -k many"
"$MKKRL" many-ours.krl --date "$(krl_date many-theirs.krl)" "${args[@]}" ||
    fail "mkkrl many"
cmp -s many-ours.krl many-theirs.krl ||
    fail "many serials: our KRL differs from ssh-keygen's"
pass "same bytes for 400 serial entries"

info "bad arguments"
"$MKKRL" bad.krl --ca ca.pub --serial 0 2>/dev/null &&
    fail "mkkrl took serial 0"
"$MKKRL" bad.krl --ca ca.pub --serial 9-3 2>/dev/null &&
    fail "mkkrl took serial range 9-3"
[ -e bad.krl ] && fail "mkkrl left a file after an error"
pass "refused"

exit 0

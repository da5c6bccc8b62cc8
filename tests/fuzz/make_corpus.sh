#!/bin/bash
# make_corpus.sh OUTDIR: seed corpora for the fuzz harnesses, made with the
# real ssh-keygen and openssl.
#
#   OUTDIR/pubkey/   .pub / authorized_keys lines and raw key/cert blobs
#   OUTDIR/cert/     raw certificate blobs (and a few plain key blobs)
#   OUTDIR/krl/      binary KRLs: ssh-keygen -k with every section type,
#                    plus extension and signature sections built here
#   OUTDIR/api/      HTTPS API request bodies for fuzz_api.c: the first
#                    byte picks the endpoint, placeholders (@TOKEN@...)
#                    are filled in by the harness
#   OUTDIR/conf/     gateway.conf files for fuzz_conf.c
#   OUTDIR/privkey/  private keys: openssh-key-v1, PKCS#8 (plain and
#                    encrypted with passphrase "x"), traditional PEM
#
# Uses SSH_KEYGEN and OPENSSL from the environment when set.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
keygen=${SSH_KEYGEN:-ssh-keygen}
openssl=${OPENSSL:-openssl}

mkdir -p "$out/pubkey" "$out/cert" "$out/krl" "$out/privkey" "$out/api" \
    "$out/conf"
work=$(mktemp -d "${TMPDIR:-/tmp}/trasa-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# The key and CA that fuzz_krl.c checks against every KRL (keep in sync).
fixed_ca="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm1ZRcvmY5mBqpBe2POkmqHLP6kb6mo"
fixed_ca+="32quzlBmlDQt fuzz-ca"
fixed_user="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkPxNeJlSl0i/9VmHHk/el9HMAX"
fixed_user+="1C+0eRHYnufT/6+l fuzz-user"
fixed_serial=42
fixed_id=fuzz-id

# The policy fuzz_cert.c judges with (keep in sync): principal "fuzz",
# "now" inside this window, client address in 192.0.2.0/24.
validity=20200101:20400101

kg() {
	"$keygen" -q "$@" </dev/null >/dev/null
}

# blob FILE.pub: the raw wire blob of the key or certificate in FILE.pub.
blob() {
	awk '{ print $2 }' "$1" | base64 -d
}

# --------------------------------------------------------------- keys
types="ed25519 ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048 rsa-3072"
for t in $types; do
	case $t in
	*-*) kg -t "${t%-*}" -b "${t#*-}" -N '' -C "seed $t" -f "$work/$t" ;;
	*) kg -t "$t" -N '' -C "seed $t" -f "$work/$t" ;;
	esac
done
# Types libtrasa refuses, as negative seeds.
kg -t rsa -b 1024 -N '' -C small -f "$work/rsa-1024"
kg -t dsa -N '' -C dsa -f "$work/dsa" 2>/dev/null || true

for f in "$work"/*.pub; do
	n=$(basename "$f" .pub)
	cp "$f" "$out/pubkey/$n.pub"
	blob "$f" >"$out/pubkey/$n.blob"
done
blob "$work/ed25519.pub" >"$out/cert/plain-ed25519.blob"
blob "$work/rsa-2048.pub" >"$out/cert/plain-rsa-2048.blob"
# authorized_keys-style variants.
{
	printf 'restrict,command="true" '
	cat "$work/ed25519.pub"
} >"$out/pubkey/options.pub"
awk '{ printf "%s %s\n", $1, $2 }' "$work/ecdsa-256.pub" \
    >"$out/pubkey/nocomment.pub"
awk '{ printf "%s\t%s  a comment with spaces\n", $1, $2 }' \
    "$work/rsa-2048.pub" >"$out/pubkey/tabs.pub"
printf '%s\n%s\n' "$fixed_ca" "$fixed_user" >"$out/pubkey/fixed.pub"
# Encodings OpenSSH never writes, which must be refused or must round-trip:
# non-minimal mpints, a compressed EC point, a short Ed25519 key.
IN=$work/rsa-2048.pub OUT=$out/pubkey perl -e '
use strict;
use warnings;
sub str { pack("N", length $_[0]) . $_[0] }
sub fields {
	my $d = shift;
	my @f;
	while (length $d) {
		my $l = unpack("N", $d);
		push @f, substr($d, 4, $l);
		$d = substr($d, 4 + $l);
	}
	return @f;
}
sub spit {
	open(my $f, ">", $_[0]) or die "$_[0]: $!";
	binmode $f;
	print $f $_[1];
	close $f;
}
sub slurp_pub {
	open(my $f, "<", $_[0]) or die;
	my ($b64) = (split " ", scalar <$f>)[1];
	close $f;
	require MIME::Base64;
	return MIME::Base64::decode_base64($b64);
}
my ($name, $e, $n) = fields(slurp_pub($ENV{IN}));
spit("$ENV{OUT}/crafted-rsa-e-pad.blob", str($name) . str("\x00$e") . str($n));
spit("$ENV{OUT}/crafted-rsa-n-pad.blob", str($name) . str($e) . str("\x00$n"));
(my $pub = $ENV{IN}) =~ s/rsa-2048/ecdsa-256/;
my ($en, $curve, $q) = fields(slurp_pub($pub));
my $x = substr($q, 1, 32);
my $odd = ord(substr($q, 64, 1)) & 1;
spit("$ENV{OUT}/crafted-ecdsa-compressed.blob", str($en) . str($curve) .
    str(chr(2 + $odd) . $x));
spit("$ENV{OUT}/crafted-ecdsa-infinity.blob", str($en) . str($curve) .
    str("\x00"));
($pub = $ENV{IN}) =~ s/rsa-2048/ed25519/;
my ($edn, $k) = fields(slurp_pub($pub));
spit("$ENV{OUT}/crafted-ed25519-short.blob", str($edn) . str(substr($k, 1)));
'

# --------------------------------------------------------------- certificates
# cert NAME CA SUBJECT ARGS...: sign SUBJECT.pub with CA; the blob goes to
# cert/, and for a few (every key type once) text and blob to pubkey/.
in_pubkey=" u-ed25519-ed25519 u-ecdsa-256-ecdsa-384 u-ecdsa-521-ecdsa-521"
in_pubkey+=" h-ecdsa-384 u-rsa-2048-rsa-3072 u-ecdsa-256-ecdsa-256"
in_pubkey+=" alg-rsa-sha2-256 opts manyprinc "
cert() {
	local name=$1 ca=$2 subj=$3
	shift 3
	cp "$work/$subj.pub" "$work/c-$name.pub"
	kg -s "$work/$ca" -I "id-$name" -z 7 "$@" "$work/c-$name.pub"
	blob "$work/c-$name-cert.pub" >"$out/cert/$name.blob"
	case $in_pubkey in
	*" $name "*)
		cp "$work/c-$name-cert.pub" "$out/pubkey/cert-$name.pub"
		blob "$work/c-$name-cert.pub" >"$out/pubkey/cert-$name.blob"
		;;
	esac
}

# Every subject type under the common CA types; P-384 and P-521 CAs (ten
# times slower to verify) sign two subjects each.
for ca in ed25519 ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048; do
	case $ca in
	ecdsa-384 | ecdsa-521) subjects="ed25519 $ca" ;;
	*) subjects=$types ;;
	esac
	for subj in $subjects; do
		cert "u-$ca-$subj" "$ca" "$subj" -n fuzz -V "$validity"
	done
	cert "h-$ca" "$ca" ed25519 -h -n fuzz,host.example.com -V "$validity"
done
for alg in rsa-sha2-256 rsa-sha2-512 ssh-rsa; do
	cert "alg-$alg" rsa-2048 ed25519 -t "$alg" -n fuzz -V "$validity"
done
cert rsa3072-ca rsa-3072 ecdsa-256 -n fuzz -V "$validity"
cert opts ed25519 ed25519 -n fuzz,other -V "$validity" \
    -O force-command=/bin/true -O source-address=192.0.2.0/24,::1/128
cert opts-no ecdsa-256 rsa-2048 -n fuzz -V "$validity" -O clear \
    -O permit-pty -O no-touch-required
cert opts-crit ed25519 ecdsa-384 -n fuzz -V "$validity" \
    -O critical:unknown@example.com=yes -O extension:ext@example.com=v \
    -O extension:flag@example.com
cert opts-verify ed25519 ed25519 -n fuzz -V "$validity" -O verify-required
cert bad-source ed25519 ed25519 -n fuzz -V "$validity" \
    -O source-address=198.51.100.0/24
cert noprinc ed25519 ed25519 -V "$validity"
cert manyprinc ed25519 ed25519 -V "$validity" \
    -n "$(seq -s, -f 'p%g' 1 40),fuzz"
cert expired ed25519 ed25519 -n fuzz -V 20000101:20010101
cert future ed25519 ed25519 -n fuzz -V 20990101:21000101
cert forever ed25519 ed25519 -n fuzz
cert wrongname ed25519 ed25519 -n someone -V "$validity"
cert host-crit ed25519 ed25519 -h -n fuzz -V "$validity" \
    -O critical:unknown@example.com
# A certificate whose CA is itself a certificate is not something
# ssh-keygen writes; the harnesses get there by mutation.

# --------------------------------------------------------------- KRLs
printf '%s\n' "$fixed_ca" >"$work/fixed-ca.pub"
printf '%s\n' "$fixed_user" >"$work/fixed-user.pub"

# krl NAME [ssh-keygen args] SPECFILE...
krl() {
	local name=$1
	shift
	kg -k -f "$out/krl/$name.krl" "$@"
}
spec() {
	printf '%s\n' "$@" >"$work/spec"
}

spec "serial: $fixed_serial" "serial: 1000" "serial: 123456789"
krl serial-list -s "$work/fixed-ca.pub" -z 1 "$work/spec"
spec "serial: 10-2000" "serial: 5000-5001"
krl serial-range -s "$work/fixed-ca.pub" -z 2 "$work/spec"
for i in $(seq 1 2 199); do echo "serial: $i"; done >"$work/spec"
krl serial-bitmap -s "$work/fixed-ca.pub" "$work/spec"
spec "id: $fixed_id" "id: another id"
krl key-id -s "$work/fixed-ca.pub" "$work/spec"
spec "key: $fixed_user" "key: $(cat "$work/rsa-2048.pub")"
krl explicit "$work/spec"
spec "sha1: $fixed_user" "sha1: $(cat "$work/ecdsa-256.pub")"
krl sha1 "$work/spec"
spec "sha256: $fixed_user" "hash: $("$keygen" -lf "$work/ed25519.pub" | \
    awk '{ print $2 }')"
krl sha256 "$work/spec"
krl plainkeys "$work/ecdsa-384.pub" "$work/rsa-3072.pub"
krl certfile -s "$work/ed25519.pub" "$work/c-opts-cert.pub"
krl empty /dev/null
spec "serial: $fixed_serial" "serial: 300-400" "id: $fixed_id" \
    "key: $fixed_user" "sha1: $(cat "$work/ed25519.pub")" \
    "sha256: $(cat "$work/ecdsa-521.pub")"
for i in $(seq 2000 3 2300); do echo "serial: $i"; done >>"$work/spec"
krl everything -s "$work/fixed-ca.pub" -z 99 "$work/spec"
cp "$out/krl/everything.krl" "$work/upd.krl"
spec "serial: 77"
kg -k -u -f "$work/upd.krl" -s "$work/ecdsa-256.pub" "$work/spec"
cp "$work/upd.krl" "$out/krl/updated.krl"

# Sections ssh-keygen never writes (extensions, signatures), built here.
# Ed25519 signing key through openssl; ECDSA and RSA keys from ssh-keygen
# converted to PKCS#8.
"$openssl" genpkey -algorithm ed25519 -out "$work/krlsign-ed25519.pem" \
    2>/dev/null
"$openssl" pkey -in "$work/krlsign-ed25519.pem" -pubout -outform DER \
    2>/dev/null | tail -c 32 >"$work/krlsign-ed25519.raw"
for t in ecdsa-256 rsa-2048; do
	cp "$work/$t" "$work/krlsign-$t"
	kg -p -m PKCS8 -N '' -P '' -f "$work/krlsign-$t"
	blob "$work/$t.pub" >"$work/krlsign-$t.blob"
done
blob "$work/ed25519.pub" >"$work/ed25519.blob"
blob "$work/fixed-ca.pub" >"$work/fixed-ca.blob"

OPENSSL=$openssl WORK=$work OUT=$out/krl perl -e '
use strict;
use warnings;
my ($w, $o, $ossl) = ($ENV{WORK}, $ENV{OUT}, $ENV{OPENSSL});
sub u32 { pack("N", $_[0]) }
sub u64 { pack("Q>", $_[0]) }
sub str { u32(length $_[0]) . $_[0] }
sub mpint {
	my $v = shift;
	$v =~ s/^\x00+//;
	$v = "\x00" . $v if length $v && (ord($v) & 0x80);
	return str($v);
}
sub slurp {
	local $/;
	open(my $f, "<", $_[0]) or die "$_[0]: $!";
	binmode $f;
	my $d = <$f>;
	close $f;
	return $d;
}
sub spit {
	open(my $f, ">", $_[0]) or die "$_[0]: $!";
	binmode $f;
	print $f $_[1];
	close $f;
}
sub header {
	my ($ver, $comment) = @_;
	return pack("NN", 0x5353484b, 0x524c0a00) . u32(1) . u64($ver) .
	    u64(1700000000) . u64(0) . str("") . str($comment);
}
sub section { chr($_[0]) . str($_[1]) }
# A DER ECDSA-Sig-Value to (r, s).
sub der_rs {
	my $d = shift;
	my $p = 2;
	if (ord(substr($d, 1, 1)) & 0x80) { $p += ord(substr($d, 1, 1)) & 0x7f }
	my @v;
	for (1 .. 2) {
		my $l = ord(substr($d, $p + 1, 1));
		push @v, substr($d, $p + 2, $l);
		$p += 2 + $l;
	}
	return @v;
}
sub sign {
	my ($kind, $data) = @_;
	spit("$w/tbs", $data);
	if ($kind eq "ed25519") {
		system("$ossl pkeyutl -sign -rawin -inkey " .
		    "$w/krlsign-ed25519.pem -in $w/tbs -out $w/sig") == 0
		    or die "sign";
		return str(str("ssh-ed25519") . str(slurp("$w/sig")));
	} elsif ($kind eq "ecdsa-256") {
		system("$ossl dgst -sha256 -sign $w/krlsign-ecdsa-256 " .
		    "-out $w/sig $w/tbs") == 0 or die "sign";
		my ($r, $s) = der_rs(slurp("$w/sig"));
		return str(str("ecdsa-sha2-nistp256") . str(mpint($r) . mpint($s)));
	} else {
		system("$ossl dgst -sha512 -sign $w/krlsign-rsa-2048 " .
		    "-out $w/sig $w/tbs") == 0 or die "sign";
		return str(str("rsa-sha2-512") . str(slurp("$w/sig")));
	}
}
sub keyblob {
	my $kind = shift;
	return str("ssh-ed25519") . str(slurp("$w/krlsign-ed25519.raw"))
	    if $kind eq "ed25519";
	return slurp("$w/krlsign-$kind.blob");
}
# signed(body, kinds...): body followed by one signature section per key.
sub signed {
	my ($d, @kinds) = @_;
	for my $k (@kinds) {
		$d .= chr(4) . str(keyblob($k));
		$d .= sign($k, $d);
	}
	return $d;
}
my $ca = slurp("$w/fixed-ca.blob");
my $serials = section(0x20, u64(42) . u64(43));
my $certs = section(1, str($ca) . str("") . $serials .
    section(0x21, u64(100) . u64(200)) .
    section(0x22, u64(1000) . mpint("\x01\x02\x04\x08")) .
    section(0x23, str("fuzz-id") . str("other")));
my $keys = section(2, str(slurp("$w/ed25519.blob")));
my $body = header(5, "crafted") . $certs . $keys;
spit("$o/crafted-sections.krl", $body);
spit("$o/key-id-anyca.krl", header(12, "") .
    section(1, str("") . str("") . section(0x23, str("fuzz-id"))));
spit("$o/ext-noncrit.krl", header(6, "") .
    section(255, str("ext\@example.com") . "\x00" . str("data")) . $certs);
spit("$o/ext-crit.krl", header(7, "") .
    section(255, str("ext\@example.com") . "\x01" . str("")));
spit("$o/certext-noncrit.krl", header(8, "") . section(1, str($ca) . str("") .
    section(0x39, str("x\@example.com") . "\x00" . str("")) . $serials));
spit("$o/certext-crit.krl", header(9, "") . section(1, str($ca) . str("") .
    section(0x39, str("x\@example.com") . "\x01" . str("v"))));
spit("$o/signed-ed25519.krl", signed($body, "ed25519"));
spit("$o/signed-ecdsa.krl", signed($body, "ecdsa-256"));
spit("$o/signed-rsa.krl", signed(header(10, "rsa") . $keys, "rsa-2048"));
spit("$o/signed-two.krl", signed($body, "ed25519", "ecdsa-256"));
spit("$o/signed-empty.krl", signed(header(11, ""), "ed25519"));
'

# --------------------------------------------------------------- private keys
for t in $types rsa-1024 dsa; do
	[ -f "$work/$t" ] || continue
	cp "$work/$t" "$out/privkey/openssh-$t"
done
# Encrypted openssh-key-v1 (libtrasa refuses it: TRASA_ERR_ENCRYPTED).
cp "$work/ed25519" "$work/enc"
kg -p -N x -P '' -f "$work/enc"
cp "$work/enc" "$out/privkey/openssh-encrypted"
# PKCS#8 and traditional PEM of the ECDSA and RSA keys by ssh-keygen.
for t in ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048 rsa-1024; do
	cp "$work/$t" "$work/p8-$t"
	kg -p -m PKCS8 -N '' -P '' -f "$work/p8-$t"
	cp "$work/p8-$t" "$out/privkey/pkcs8-$t"
	cp "$work/$t" "$work/pem-$t"
	kg -p -m PEM -N '' -P '' -f "$work/pem-$t"
	cp "$work/pem-$t" "$out/privkey/pem-$t"
done
# Inconsistent RSA keys (q not a factor of n; e even), which must be
# refused as the openssh-key-v1 reader refuses them.
IN=$work/pem-rsa-2048 OUT=$out/privkey perl -e '
use strict;
use warnings;
use MIME::Base64;
open(my $f, "<", $ENV{IN}) or die;
my @l = grep { !/^-----/ } <$f>;
close $f;
my $der = decode_base64(join("", @l));
# SEQUENCE { INTEGER version, n, e, d, p, q, dp, dq, qinv }: offsets.
sub hdr {
	my ($d, $p) = @_;
	my $l = ord(substr($d, $p + 1, 1));
	return ($p + 2, $l) if $l < 0x80;
	my $nb = $l & 0x7f;
	my $v = 0;
	$v = $v * 256 + ord(substr($d, $p + 2 + $_, 1)) for 0 .. $nb - 1;
	return ($p + 2 + $nb, $v);
}
my ($p) = hdr($der, 0);
my @ints;
for (1 .. 9) {
	my ($c, $l) = hdr($der, $p);
	push @ints, [$c, $l];
	$p = $c + $l;
}
sub emit {
	my ($name, $d) = @_;
	open(my $o, ">", "$ENV{OUT}/$name") or die;
	print $o "-----BEGIN RSA PRIVATE KEY-----\n", encode_base64($d),
	    "-----END RSA PRIVATE KEY-----\n";
	close $o;
}
my $q = $der;
my $qend = $ints[5][0] + $ints[5][1] - 1;
substr($q, $qend, 1) = chr(ord(substr($q, $qend, 1)) ^ 0x02);
emit("crafted-rsa-bad-q", $q);
my $e = $der;
my $eend = $ints[2][0] + $ints[2][1] - 1;
substr($e, $eend, 1) = chr(ord(substr($e, $eend, 1)) ^ 0x01);
emit("crafted-rsa-even-e", $e);
'
# Ed25519 PKCS#8 through openssl, then encrypted PKCS#8 (passphrase "x").
"$openssl" genpkey -algorithm ed25519 -out "$out/privkey/pkcs8-ed25519" \
    2>/dev/null
cp "$out/privkey/pkcs8-ed25519" "$work/p8-ed25519"
for t in ed25519 ecdsa-256 rsa-2048; do
	"$openssl" pkcs8 -topk8 -v2 aes-256-cbc -iter 16 -passout pass:x \
	    -in "$work/p8-$t" -out "$out/privkey/pkcs8-enc-$t" 2>/dev/null
done
"$openssl" pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA256 -iter 8 \
    -passout pass:wrong -in "$work/p8-ecdsa-384" \
    -out "$out/privkey/pkcs8-enc-wrongpass" 2>/dev/null
"$openssl" pkcs8 -topk8 -scrypt -scrypt_N 1024 -scrypt_r 8 -scrypt_p 1 \
    -passout pass:x -in "$work/p8-ed25519" \
    -out "$out/privkey/pkcs8-enc-scrypt" 2>/dev/null


# --------------------------------------------------------------- API bodies
# fuzz_api.c (keep in sync): byte 0 bits 0-1 pick the endpoint (0 enroll,
# 1 certs/user, 2 renew, 3 auth/agent/nix), bit 2 drops the admin token.
# Users "fuzz" (TOTP secret set) and "off" (disabled); host "fuzzhost"
# enrolled with credential FUZZ_CRED; @TOKEN@ is a fresh token for
# "fuzzhost2" allowing fuzzhost2.example.com and 192.0.2.7.
fuzz_cred=fuzz-host-credential-AAAAAAAAAAAAAAAAAAAAAA
publine() {
	awk '{ printf "%s %s", $1, $2 }' "$1"
}
api() {
	local name=$1 byte=$2
	shift 2
	{
		printf "\\x$byte"
		printf '%s' "$*"
	} >"$out/api/$name"
}
ed=$(publine "$work/ed25519.pub")
ec=$(publine "$work/ecdsa-256.pub")
rsa=$(publine "$work/rsa-2048.pub")
weak=$(publine "$work/rsa-1024.pub")
certline=$(publine "$work/c-u-ed25519-ed25519-cert.pub")
api enroll-ok 00 '{"token": "@TOKEN@", "hostname": "fuzzhost2",' \
    '"principals": ["fuzzhost2", "fuzzhost2.example.com", "192.0.2.7"],' \
    "\"public_key\": \"$ed\"}"
api enroll-default 00 '{"token": "@TOKEN@", "hostname": "fuzzhost2",' \
    "\"public_key\": \"$ec root@fuzzhost2\"}"
api enroll-badprinc 00 '{"token": "@TOKEN@", "hostname": "fuzzhost2",' \
    "\"principals\": [\"other\"], \"public_key\": \"$rsa\"}"
api enroll-badhost 00 '{"token": "@TOKEN@", "hostname": "fuzzhost",' \
    "\"public_key\": \"$ed\"}"
api enroll-badtoken 00 '{"token": "nope", "hostname": "fuzzhost2",' \
    "\"public_key\": \"$ed\"}"
api enroll-weak 00 '{"token": "@TOKEN@", "hostname": "fuzzhost2",' \
    "\"public_key\": \"$weak\"}"
api user-ok 01 "{\"user\": \"fuzz\", \"public_key\": \"$ed\"," \
    '"principals": ["fuzz", "root"], "ttl": 120}'
api user-rsa 01 "{\"user\":\"fuzz\",\"public_key\":\"$rsa\"}"
api user-ecdsa 01 "{\"user\": \"fuzz\", \"public_key\": \"$ec\", \"ttl\": 1}"
api user-disabled 01 "{\"user\": \"off\", \"public_key\": \"$ed\"}"
api user-unknown 01 "{\"user\": \"nobody\", \"public_key\": \"$ed\"}"
api user-noauth 05 "{\"user\": \"fuzz\", \"public_key\": \"$ed\"}"
api user-cert 01 "{\"user\": \"fuzz\", \"public_key\": \"$certline\"}"
api user-weak 01 "{\"user\": \"fuzz\", \"public_key\": \"$weak\"}"
api user-ctrl 01 "{\"user\": \"fuzz\", \"public_key\": \"$ed\"," \
    '"principals": ["a\u0001b", "c d", "e,f", "\u00e9t\u00e9"]}'
api user-types 01 '{"user": ["fuzz"], "public_key": null, "ttl": "300",' \
    '"principals": [1, true, {}], "extra": 1.5e300}'
api user-ttl 01 "{\"user\": \"fuzz\", \"public_key\": \"$ed\"," \
    '"ttl": 99999999999999999999}'
api user-deep 01 '{"user": [[[[[[[[[[[[[[[[[[[[[[["fuzz"]]]]]]]]]]]]]]]]]]]]]]]}'
api user-trailing 01 "{\"user\": \"fuzz\", \"public_key\": \"$ed\"} {}"
api renew-ok 02 '{"hostname": "fuzzhost", "challenge": "@CHAL@",' \
    '"signature": "@SIG@"}'
api renew-badsig 02 '{"hostname": "fuzzhost", "challenge": "@CHAL@",' \
    '"signature": "AAAAC3NzaC1lZDI1NTE5AAAAQA=="}'
api renew-unknown 02 '{"hostname": "nohost", "challenge": "x",' \
    '"signature": "@SIG@"}'
api nix-ok 03 '{"serviceID": "fuzzhost",' \
    "\"serviceKey\": \"$fuzz_cred\", \"user\": \"root\"," \
    '"trasaID": "fuzz", "totpCode": "@TOTP@", "userIP": "192.0.2.9",' \
    '"hostname": "fuzzhost"}'
api nix-badcode 03 '{"serviceID": "fuzzhost",' \
    "\"serviceKey\": \"$fuzz_cred\", \"trasaID\": \"fuzz\"," \
    '"totpCode": "000000"}'
api nix-badkey 03 '{"serviceID": "fuzzhost", "serviceKey": "x",' \
    '"trasaID": "fuzz", "totpCode": "@TOTP@"}'
api nix-disabled 03 '{"serviceID": "fuzzhost",' \
    "\"serviceKey\": \"$fuzz_cred\", \"trasaID\": \"off\"," \
    '"totpCode": "@TOTP@"}'
api empty 03 ''
api notjson 00 'token=x&hostname=y'

# --------------------------------------------------------------- gateway.conf
# fuzz_conf.c: whole configuration files, good and bad.
cat >"$out/conf/full" <<'CONF'
; every key
[server]
listen = [::1]:9443
state_dir = /srv/trasa
tls_cert = /etc/trasa/tls.crt
tls_key = /etc/trasa/tls.key
threads = 4
[ca]
passphrase_file = /etc/trasa/pass
[users]
uid_min = 5000
uid_max = 5999
gid_min = 6000
gid_max = 6999
home_base = /srv/home
shell = /bin/sh
[certs]
user_ttl = 10m
user_max_ttl = 2h
host_ttl = 7d
host_max_ttl = 2w
max_principals = 8
[hosts]
token_ttl = 900
token_max_ttl = 1d
CONF
printf '[server]\nlisten = 127.0.0.1:8443\n' >"$out/conf/small"
printf '[users]\nuid_min = 9000\nuid_max = 8000\n' >"$out/conf/range"
printf '[certs]\nuser_ttl = 2h\nuser_max_ttl = 1h\n' >"$out/conf/ttl"
printf '[nope]\nx = 1\n' >"$out/conf/section"
printf 'just text\n' >"$out/conf/text"
: >"$out/conf/empty"

exit 0

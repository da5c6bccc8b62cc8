/*
 * test_mutation.c: no altered certificate or signed KRL is ever accepted.
 *
 * For every key type, a valid user certificate signed by the real
 * ssh-keygen and one signed by sshcert_sign(): each single-byte change
 * (every position, every one-bit flip and the all-bits flip) and every
 * truncation is refused by sshkey_from_blob() (see flips[] below); were
 * one ever to parse, it must still be refused by sshcert_check() against
 * the real CA, and the test fails either way. Parsed with
 * SSHKEY_PARSE_NO_VERIFY (the signature checked later, by sshcert_check),
 * every truncation and one change per position must be judged invalid. Each altered input sits in a heap buffer of its
 * exact size, so the sanitizer build catches any read past its end.
 *
 * KRLs: a KRL ends wherever a top-level section ends, so a truncation at
 * such a boundary is a shorter valid KRL (PROTOCOL.krl has no length or
 * end marker); every other truncation of an ssh-keygen KRL must be
 * refused, and each boundary cut must parse to what the kept sections
 * say. A KRL signed by krl_write() with any single byte changed must be
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "err.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"
#include "testutil.h"

static const char *const ktypes[] = {
	"ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521", "rsa-2048",
};
#define NTYPES (sizeof(ktypes) / sizeof(ktypes[0]))

/*
 * Byte changes tried at every position: each single bit and all bits.
 * P-384 and P-521 verify ten times slower than the others in OpenSSL 3.0,
 * so for them, and for the signed KRLs, only the first three.
 */
static const uint8_t flips[] = { 0x01, 0x80, 0xff, 0x02, 0x04, 0x08, 0x10,
	0x20, 0x40 };
#define NFLIPS (sizeof(flips) / sizeof(flips[0]))

static size_t
nflips(size_t ti)
{
	return strcmp(ktypes[ti], "ecdsa-384") == 0 ||
	    strcmp(ktypes[ti], "ecdsa-521") == 0 ? 3 : NFLIPS;
}

#define PRINCIPAL "alice"
#define CLIENT_ADDR "192.0.2.7"

static uint64_t now;
static struct sshkey *ca_priv[NTYPES];  /* "ca-TYPE" */
static struct sshkey *ca_pub[NTYPES];   /* its public half */
static struct sshkey *subject[NTYPES];  /* "sub-TYPE.pub" */

static int
setup(void **state)
{
	char name[64];
	size_t i;

	(void)state;
	now = (uint64_t)time(NULL);
	for (i = 0; i < NTYPES; i++) {
		snprintf(name, sizeof(name), "ca-%s", ktypes[i]);
		tu_keygen(ktypes[i], name);
		ca_priv[i] = tu_load_priv(tu_path(name));
		assert_int_equal(sshkey_dup_public(ca_priv[i], &ca_pub[i]), 0);
		snprintf(name, sizeof(name), "sub-%s", ktypes[i]);
		tu_keygen(ktypes[i], name);
		snprintf(name, sizeof(name), "sub-%s.pub", ktypes[i]);
		subject[i] = tu_load_pub(tu_path(name));
	}
	return 0;
}

static int
teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NTYPES; i++) {
		sshkey_free(ca_priv[i]);
		sshkey_free(ca_pub[i]);
		sshkey_free(subject[i]);
	}
	return 0;
}

static struct sshcert_policy
policy(void)
{
	struct sshcert_policy pol;

	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_USER;
	pol.principal = PRINCIPAL;
	pol.now = now;
	pol.source_address = CLIENT_ADDR;
	return pol;
}

/* A heap copy of exactly len bytes (at least one allocated). */
static uint8_t *
dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len > 0 ? len : 1);

	assert_non_null(c);
	if (len > 0)
		memcpy(c, p, len);
	return c;
}

/*
 * p/len (an altered certificate) must be refused by sshkey_from_blob();
 * the test fails when it parses, and says so louder when sshcert_check()
 * against the real CA would then call it valid. With deferred, it is also
 * parsed with SSHKEY_PARSE_NO_VERIFY and must be judged invalid.
 */
static void
expect_refused(const uint8_t *p, size_t len, size_t ti, const char *what,
    size_t pos, unsigned val, int deferred)
{
	struct sshkey *k = NULL;
	struct sshcert_policy pol = policy();
	const struct sshkey *cas[1] = { ca_pub[ti] };
	uint8_t *copy = dup_exact(p, len);
	int r;

	/*
	 * Parsed without the signature check, the change may well parse;
	 * sshcert_check() must then refuse it.
	 */
	if (deferred && sshkey_from_blob_flags(copy, len,
	    SSHKEY_PARSE_NO_VERIFY, &k) == 0) {
		r = sshkey_is_cert(k) ? sshcert_check(k, cas, 1, NULL, &pol) :
		    TRASA_ERR_NOT_CERT;
		sshkey_free(k);
		k = NULL;
		if (r == 0) {
			free(copy);
			fail_msg("%s: %s %zu (0x%02x): altered certificate "
			    "parsed with SSHKEY_PARSE_NO_VERIFY judged VALID",
			    ktypes[ti], what, pos, val);
		}
	}
	r = sshkey_from_blob(copy, len, &k);
	free(copy);
	if (r == 0) {
		r = sshkey_is_cert(k) ? sshcert_check(k, cas, 1, NULL, &pol) :
		    TRASA_ERR_NOT_CERT;
		sshkey_free(k);
		if (r == 0)
			fail_msg("%s: %s %zu (0x%02x): altered certificate "
			    "judged VALID", ktypes[ti], what, pos, val);
		fail_msg("%s: %s %zu (0x%02x): altered certificate parsed "
		    "(then refused by sshcert_check: %s)", ktypes[ti], what,
		    pos, val, trasa_strerror(r));
	}
	assert_true(r < 0);
}

/* The whole mutation loop over one valid certificate blob. */
static void
mutate_cert(const uint8_t *blob, size_t len, size_t ti)
{
	struct sshkey *k = NULL;
	struct sshcert_policy pol = policy();
	const struct sshkey *cas[1] = { ca_pub[ti] };
	uint8_t *buf, *longer;
	size_t pos, f;

	/* The original is valid, so every refusal below is the change's. */
	assert_int_equal(sshkey_from_blob(blob, len, &k), 0);
	assert_true(sshkey_is_cert(k));
	assert_int_equal(sshcert_check(k, cas, 1, NULL, &pol), 0);
	sshkey_free(k);

	buf = dup_exact(blob, len);
	for (pos = 0; pos < len; pos++) {
		for (f = 0; f < nflips(ti); f++) {
			buf[pos] ^= flips[f];
			expect_refused(buf, len, ti, "byte", pos, flips[f],
			    f == 0);
			buf[pos] ^= flips[f];
		}
	}
	assert_memory_equal(buf, blob, len);
	free(buf);
	for (pos = 0; pos < len; pos++)
		expect_refused(blob, pos, ti, "truncation at", pos, 0, 1);
	/* And one trailing byte. */
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, blob, len);
	longer[len] = 0;
	expect_refused(longer, len + 1, ti, "trailing byte", len, 0, 1);
	free(longer);
}

/* ssh-keygen's certificate of sub-TYPE by ca-TYPE, with options. */
static void
test_keygen_cert(void **state)
{
	size_t ti = *(const size_t *)*state, len;
	char name[64], path[600];
	uint8_t *blob;

	snprintf(name, sizeof(name), "kg-%s", ktypes[ti]);
	assert_int_equal(tu_sh("cp '%s/sub-%s.pub' '%s/%s.pub'", tu_tmpdir(),
	    ktypes[ti], tu_tmpdir(), name), 0);
	assert_int_equal(tu_sh("'%s' -q -s '%s/ca-%s' -I 'mutation %s' "
	    "-n %s,bob -z 4242 -V -5m:+1h -O force-command=/bin/true "
	    "-O source-address=192.0.2.0/24,2001:db8::/32 '%s/%s.pub'",
	    tu_ssh_keygen(), tu_tmpdir(), ktypes[ti], ktypes[ti], PRINCIPAL,
	    tu_tmpdir(), name), 0);
	snprintf(path, sizeof(path), "%s/%s-cert.pub", tu_tmpdir(), name);
	blob = tu_pub_blob(path, &len);
	mutate_cert(blob, len, ti);
	free(blob);
}

/* sshcert_sign()'s certificate of the same subject. */
static void
test_libtrasa_cert(void **state)
{
	size_t ti = *(const size_t *)*state;
	struct sshkey *c = NULL;
	struct tbuf *b;

	assert_int_equal(sshcert_new(subject[ti], SSHCERT_USER, &c), 0);
	assert_int_equal(sshcert_set_serial(c, 0x0123456789abcdefULL), 0);
	assert_int_equal(sshcert_set_key_id(c, "mutation by libtrasa"), 0);
	assert_int_equal(sshcert_add_principal(c, PRINCIPAL), 0);
	assert_int_equal(sshcert_add_principal(c, "carol"), 0);
	assert_int_equal(sshcert_set_validity(c, now - 300, now + 3600), 0);
	assert_int_equal(sshcert_add_critical(c, "source-address",
	    "192.0.2.0/24"), 0);
	assert_int_equal(sshcert_add_critical(c, "force-command",
	    "/bin/true"), 0);
	assert_int_equal(sshcert_add_default_extensions(c), 0);
	/* RSA: the other SHA-2 algorithm than ssh-keygen's default. */
	assert_int_equal(sshcert_sign(c, ca_priv[ti],
	    sshkey_type(ca_priv[ti]) == SSHKEY_RSA ? "rsa-sha2-256" : NULL), 0);
	assert_non_null(b = tbuf_new());
	assert_int_equal(sshkey_to_blob(c, b), 0);
	mutate_cert(tbuf_ptr(b), tbuf_len(b), ti);
	tbuf_free(b);
	sshkey_free(c);
}

/* ------------------------------------------------------------ KRLs */

/* Answers of a KRL for the probe keys, one bit each (bit set: revoked). */
#define NPROBES 6
static struct sshkey *probes[NPROBES];

/*
 * Offsets at which a top-level KRL section ends (the header's end first),
 * walked with the wire codec. Returns their count.
 */
static size_t
krl_boundaries(const uint8_t *p, size_t len, size_t *out, size_t max)
{
	struct tbuf *b;
	uint64_t u64;
	uint32_t u32;
	uint8_t type;
	const uint8_t *s;
	size_t slen, n = 0;

	assert_non_null(b = tbuf_from(p, len));
	assert_int_equal(tbuf_get_u64(b, &u64), 0);
	assert_int_equal(tbuf_get_u32(b, &u32), 0);
	assert_int_equal(tbuf_get_u64(b, &u64), 0);
	assert_int_equal(tbuf_get_u64(b, &u64), 0);
	assert_int_equal(tbuf_get_u64(b, &u64), 0);
	assert_int_equal(tbuf_get_string_direct(b, &s, &slen, 0), 0);
	assert_int_equal(tbuf_get_string_direct(b, &s, &slen, 0), 0);
	out[n++] = len - tbuf_len(b);
	while (tbuf_len(b) > 0) {
		assert_true(n < max);
		assert_int_equal(tbuf_get_u8(b, &type), 0);
		assert_int_equal(tbuf_get_string_direct(b, &s, &slen, 0), 0);
		if (type == 4) /* signature: key, then signature */
			assert_int_equal(tbuf_get_string_direct(b, &s, &slen,
			    0), 0);
		out[n++] = len - tbuf_len(b);
	}
	tbuf_free(b);
	return n;
}

static unsigned
krl_answers(const struct krl *krl)
{
	unsigned bits = 0;
	size_t i;
	int r;

	for (i = 0; i < NPROBES; i++) {
		r = krl_check_key(krl, probes[i]);
		if (r == TRASA_ERR_REVOKED)
			bits |= 1u << i;
		else
			assert_int_equal(r, 0);
	}
	return bits;
}

/*
 * Every truncation of a KRL: refused unless at a section boundary; there
 * it parses, and the answers only grow as sections are added, ending at
 * the full KRL's.
 */
static void
truncate_krl(const uint8_t *p, size_t len, unsigned full_answers)
{
	size_t bounds[256], nb, bi = 0, n;
	struct krl *krl;
	unsigned prev = 0, got;
	uint8_t *copy;
	int r;

	nb = krl_boundaries(p, len, bounds, 256);
	assert_true(nb >= 2);
	assert_int_equal(bounds[nb - 1], len);
	for (n = 0; n <= len; n++) {
		copy = dup_exact(p, n);
		krl = NULL;
		r = krl_parse(copy, n, &krl);
		free(copy);
		if (bi < nb && n == bounds[bi]) {
			if (r != 0)
				fail_msg("KRL cut after section %zu (%zu "
				    "bytes) refused: %s", bi, n,
				    trasa_strerror(r));
			got = krl_answers(krl);
			assert_int_equal(got & prev, prev);
			prev = got;
			krl_free(krl);
			bi++;
		} else if (r == 0) {
			krl_free(krl);
			fail_msg("KRL truncated to %zu of %zu bytes (inside a "
			    "section) was accepted", n, len);
		}
	}
	assert_int_equal(bi, nb);
	assert_int_equal(prev, full_answers);
}

static void
setup_probes(void)
{
	char name[64];
	size_t i;

	/* probes: 0..2 plain keys, 3..4 certificates by ca-ed25519, 5 CA. */
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "probe%zu", i);
		tu_keygen(i == 1 ? "ecdsa-256" : "ed25519", name);
		snprintf(name, sizeof(name), "probe%zu.pub", i);
		probes[i] = tu_load_pub(tu_path(name));
	}
	assert_int_equal(tu_sh("'%s' -q -s '%s' -I probe-id -n x -z 77 "
	    "'%s' && '%s' -q -s '%s' -I other-id -n x -z 5000 '%s'",
	    tu_ssh_keygen(), tu_path("ca-ed25519"), tu_path("probe0.pub"),
	    tu_ssh_keygen(), tu_path("ca-ed25519"), tu_path("probe1.pub")),
	    0);
	probes[3] = tu_load_pub(tu_path("probe0-cert.pub"));
	probes[4] = tu_load_pub(tu_path("probe1-cert.pub"));
	assert_int_equal(sshkey_dup_public(ca_priv[0], &probes[5]), 0);
}

static void
free_probes(void)
{
	size_t i;

	for (i = 0; i < NPROBES; i++) {
		sshkey_free(probes[i]);
		probes[i] = NULL;
	}
}

/* An ssh-keygen KRL with every section type it writes. */
static void
test_krl_truncations(void **state)
{
	uint8_t *p;
	size_t len;
	struct krl *krl = NULL;
	unsigned full;

	(void)state;
	setup_probes();
	assert_int_equal(tu_sh("{ echo 'serial: 77'; echo 'serial: 100-200'; "
	    "for i in $(seq 1000 2 1200); do echo \"serial: $i\"; done; "
	    "echo 'id: other-id'; "
	    "echo \"key: $(cat '%s')\"; echo \"sha1: $(cat '%s')\"; "
	    "echo \"sha256: $(cat '%s')\"; } >'%s'",
	    tu_path("probe2.pub"), tu_path("probe1.pub"),
	    tu_path("probe0.pub"), tu_path("krl.spec")), 0);
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -s '%s' -z 9 '%s'",
	    tu_ssh_keygen(), tu_path("kg.krl"), tu_path("ca-ed25519.pub"),
	    tu_path("krl.spec")), 0);
	assert_non_null(p = tu_read(tu_path("kg.krl"), &len));
	assert_int_equal(krl_parse(p, len, &krl), 0);
	full = krl_answers(krl);
	/* Everything but the CA itself is revoked, each in its own way. */
	assert_int_equal(full, 0x1f);
	krl_free(krl);
	truncate_krl(p, len, full);
	free(p);
	free_probes();
}

/* krl_write() signed by each key type; any byte changed is refused. */
static void
test_krl_signed_mutations(void **state)
{
	struct krl *krl = NULL, *back;
	struct tbuf *w;
	uint8_t *buf;
	size_t ti, pos, f, len;
	unsigned full;
	int r;

	(void)state;
	setup_probes();
	for (ti = 0; ti < NTYPES; ti++) {
		assert_int_equal(krl_new(&krl), 0);
		krl_set_version(krl, 1234);
		krl_set_date(krl, now);
		assert_int_equal(krl_set_comment(krl, "signed for mutation"),
		    0);
		assert_int_equal(krl_revoke_serial(krl, probes[5], 77, 77), 0);
		assert_int_equal(krl_revoke_key_id(krl, probes[5], "other-id"),
		    0);
		assert_int_equal(krl_revoke_key(krl, probes[2]), 0);
		assert_int_equal(krl_revoke_key_sha256(krl, probes[0]), 0);
		assert_int_equal(krl_revoke_key_sha1(krl, probes[1]), 0);
		assert_non_null(w = tbuf_new());
		assert_int_equal(krl_write(krl, ca_priv[ti], w), 0);
		krl_free(krl);
		krl = NULL;
		len = tbuf_len(w);

		/* The original parses, signed by the key, with its answers. */
		assert_int_equal(krl_parse(tbuf_ptr(w), len, &krl), 0);
		assert_int_equal(krl_nsigners(krl), 1);
		assert_true(sshkey_equal_public(krl_signer(krl, 0),
		    ca_priv[ti]));
		full = krl_answers(krl);
		assert_int_equal(full, 0x1f);
		krl_free(krl);
		krl = NULL;

		buf = dup_exact(tbuf_ptr(w), len);
		for (pos = 0; pos < len; pos++) {
			for (f = 0; f < 3; f++) {
				buf[pos] ^= flips[f];
				back = NULL;
				r = krl_parse(buf, len, &back);
				if (r == 0) {
					fail_msg("%s-signed KRL with byte %zu "
					    "^ 0x%02x accepted (%zu signers)",
					    ktypes[ti], pos, flips[f],
					    krl_nsigners(back));
				}
				buf[pos] ^= flips[f];
			}
		}
		free(buf);
		/* Its truncations, like any KRL's. */
		truncate_krl(tbuf_ptr(w), len, full);
		tbuf_free(w);
	}
	free_probes();
}

int
main(void)
{
	static size_t idx[NTYPES];
	static char names[2 * NTYPES][64];
	struct CMUnitTest tests[2 * NTYPES + 2];
	size_t i, n = 0;

	for (i = 0; i < NTYPES; i++) {
		idx[i] = i;
		snprintf(names[2 * i], sizeof(names[0]), "keygen_cert_%s",
		    ktypes[i]);
		snprintf(names[2 * i + 1], sizeof(names[0]), "libtrasa_cert_%s",
		    ktypes[i]);
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(
		    test_keygen_cert, &idx[i]);
		tests[n++].name = names[2 * i];
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(
		    test_libtrasa_cert, &idx[i]);
		tests[n++].name = names[2 * i + 1];
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_krl_truncations);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    test_krl_signed_mutations);
	return _cmocka_run_group_tests("test_mutation", tests, n, setup,
	    teardown);
}

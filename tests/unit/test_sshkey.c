/* test_sshkey.c: keys, fingerprints, signatures and private key files,
 * checked against the real ssh-keygen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "err.h"
#include "fileio.h"
#include "sshkey.h"
#include "tbuf.h"
#include "testutil.h"

static const struct {
	const char *keygen;   /* tu_keygen type */
	const char *name;     /* ssh name */
	const char *label;
	unsigned bits;
	enum sshkey_type type;
} kinds[] = {
	{ "ed25519", "ssh-ed25519", "ED25519", 256, SSHKEY_ED25519 },
	{ "ecdsa-256", "ecdsa-sha2-nistp256", "ECDSA", 256, SSHKEY_ECDSA_P256 },
	{ "ecdsa-384", "ecdsa-sha2-nistp384", "ECDSA", 384, SSHKEY_ECDSA_P384 },
	{ "ecdsa-521", "ecdsa-sha2-nistp521", "ECDSA", 521, SSHKEY_ECDSA_P521 },
	{ "rsa-2048", "ssh-rsa", "RSA", 2048, SSHKEY_RSA },
	{ "rsa-3072", "ssh-rsa", "RSA", 3072, SSHKEY_RSA },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static int
sha512_of(const char *msg, uint8_t *out, unsigned *len)
{
	return EVP_Digest(msg, strlen(msg), out, len, EVP_sha512(), NULL) == 1 ?
	    0 : -1;
}

static char *
first_line(const char *path)
{
	char *s = (char *)tu_read(path, NULL);

	assert_non_null(s);
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static void
test_public_matches_ssh_keygen(void **state)
{
	size_t i;

	for (i = 0; i < NKINDS; i++) {
		struct sshkey *k;
		char *fp = NULL, *text = NULL, *line, *out, *comment = NULL;
		char name[32];

		snprintf(name, sizeof(name), "pub%zu", i);
		tu_keygen(kinds[i].keygen, name);
		snprintf(name, sizeof(name), "pub%zu.pub", i);
		assert_int_equal(sshkey_load_public(tu_path(name), &k, &comment), 0);
		assert_string_equal(sshkey_ssh_name(k), kinds[i].name);
		assert_string_equal(sshkey_label(k), kinds[i].label);
		assert_int_equal(sshkey_bits(k), kinds[i].bits);
		assert_int_equal(sshkey_type(k), kinds[i].type);
		assert_false(sshkey_is_cert(k));
		assert_false(sshkey_has_private(k));
		assert_string_equal(comment, "test");

		/* Fingerprint exactly as ssh-keygen -l prints it. */
		assert_int_equal(sshkey_fingerprint(k, &fp), 0);
		out = tu_sh_out("'%s' -l -E sha256 -f '%s' | cut -d' ' -f2",
		    tu_ssh_keygen(), tu_path(name));
		assert_non_null(out);
		out[strcspn(out, "\n")] = '\0';
		assert_string_equal(fp, out);

		/* The text form round-trips byte for byte. */
		assert_int_equal(sshkey_format_public(k, comment, &text), 0);
		line = first_line(tu_path(name));
		assert_string_equal(text, line);

		free(fp);
		free(text);
		free(line);
		free(out);
		free(comment);
		sshkey_free(k);
	}
}

static void
test_blob_roundtrip_and_equality(void **state)
{
	struct sshkey *a, *b, *c, *d;
	struct tbuf *buf = tbuf_new();
	uint8_t *blob;
	size_t len;

	tu_keygen("ecdsa-256", "eq1");
	tu_keygen("ecdsa-256", "eq2");
	a = tu_load_pub(tu_path("eq1.pub"));
	b = tu_load_pub(tu_path("eq2.pub"));
	blob = tu_pub_blob(tu_path("eq1.pub"), &len);
	assert_int_equal(sshkey_from_blob(blob, len, &c), 0);
	assert_true(sshkey_equal_public(a, c));
	assert_false(sshkey_equal_public(a, b));
	assert_int_equal(sshkey_to_blob(c, buf), 0);
	assert_int_equal(tbuf_len(buf), len);
	assert_memory_equal(tbuf_ptr(buf), blob, len);
	assert_int_equal(sshkey_dup_public(a, &d), 0);
	assert_true(sshkey_equal_public(a, d));
	assert_false(sshkey_has_private(d));
	free(blob);
	tbuf_free(buf);
	sshkey_free(a);
	sshkey_free(b);
	sshkey_free(c);
	sshkey_free(d);
}

/*
 * Verify signatures that ssh-keygen -Y sign made: the SSHSIG envelope
 * (PROTOCOL.sshsig) signs "SSHSIG" || string namespace || string reserved
 * || string hash || string H(message).
 */
static void
test_verify_ssh_keygen_signatures(void **state)
{
	size_t i;

	for (i = 0; i < NKINDS; i++) {
		char name[32], *armored, *b64, *p, *q;
		struct tbuf *sig = NULL, *sigbuf, *signed_data = tbuf_new();
		const uint8_t *pub, *ns, *hashalg, *sigblob;
		size_t publen, nslen, hashlen, sigbloblen, n;
		uint8_t magic[6], digest[64];
		uint32_t version;
		unsigned dlen = 0;
		struct sshkey *k, *embedded;

		snprintf(name, sizeof(name), "sig%zu", i);
		tu_keygen(kinds[i].keygen, name);
		assert_int_equal(tu_sh("printf 'message %zu' > '%s.msg' && "
		    "'%s' -q -Y sign -n trasa-test -f '%s' '%s.msg'", i,
		    tu_path(name), tu_ssh_keygen(), tu_path(name),
		    tu_path(name)), 0);
		snprintf(name, sizeof(name), "sig%zu.msg.sig", i);
		armored = (char *)tu_read(tu_path(name), NULL);
		assert_non_null(armored);
		/* Join the base64 lines between the armour. */
		p = strchr(armored, '\n') + 1;
		b64 = calloc(1, strlen(p) + 1);
		for (n = 0; *p != '\0' && *p != '-'; p = q + 1) {
			q = strchr(p, '\n');
			memcpy(b64 + n, p, (size_t)(q - p));
			n += (size_t)(q - p);
		}
		assert_int_equal(tbuf_from_base64(b64, n, &sig), 0);
		sigbuf = sig;
		assert_int_equal(tbuf_get_bytes(sigbuf, magic, 6), 0);
		assert_memory_equal(magic, "SSHSIG", 6);
		assert_int_equal(tbuf_get_u32(sigbuf, &version), 0);
		assert_int_equal(tbuf_get_string_direct(sigbuf, &pub, &publen, 0), 0);
		assert_int_equal(tbuf_get_string_direct(sigbuf, &ns, &nslen, 0), 0);
		assert_int_equal(tbuf_get_string_direct(sigbuf, NULL, NULL, 0), 0);
		assert_int_equal(tbuf_get_string_direct(sigbuf, &hashalg, &hashlen, 0), 0);
		assert_int_equal(tbuf_get_string_direct(sigbuf, &sigblob,
		    &sigbloblen, 0), 0);
		assert_int_equal(tbuf_expect_end(sigbuf), 0);
		assert_int_equal(sshkey_from_blob(pub, publen, &embedded), 0);
		snprintf(name, sizeof(name), "sig%zu.pub", i);
		k = tu_load_pub(tu_path(name));
		assert_true(sshkey_equal_public(k, embedded));

		/* Rebuild the signed data. */
		assert_int_equal(hashlen, 6);
		assert_memory_equal(hashalg, "sha512", 6);
		snprintf(name, sizeof(name), "message %zu", i);
		assert_int_equal(sha512_of(name, digest, &dlen), 0);
		assert_int_equal(tbuf_put(signed_data, "SSHSIG", 6), 0);
		assert_int_equal(tbuf_put_string(signed_data, ns, nslen), 0);
		assert_int_equal(tbuf_put_string(signed_data, NULL, 0), 0);
		assert_int_equal(tbuf_put_string(signed_data, hashalg, hashlen), 0);
		assert_int_equal(tbuf_put_string(signed_data, digest, dlen), 0);
		assert_int_equal(sshkey_verify(k, sigblob, sigbloblen,
		    tbuf_ptr(signed_data), tbuf_len(signed_data), NULL, 0), 0);
		/* One flipped bit of the data and the signature fails. */
		{
			uint8_t *copy = malloc(tbuf_len(signed_data));

			memcpy(copy, tbuf_ptr(signed_data), tbuf_len(signed_data));
			copy[7] ^= 1;
			assert_int_equal(sshkey_verify(k, sigblob, sigbloblen, copy,
			    tbuf_len(signed_data), NULL, 0),
			    TRASA_ERR_BAD_SIGNATURE);
			free(copy);
		}

		free(armored);
		free(b64);
		tbuf_free(sig);
		tbuf_free(signed_data);
		sshkey_free(k);
		sshkey_free(embedded);
	}
}

static void
test_sign_verify_all_algorithms(void **state)
{
	static const struct {
		enum sshkey_type type;
		unsigned bits;
		const char *alg;
	} cases[] = {
		{ SSHKEY_ED25519, 0, "ssh-ed25519" },
		{ SSHKEY_ECDSA_P256, 0, "ecdsa-sha2-nistp256" },
		{ SSHKEY_ECDSA_P384, 0, "ecdsa-sha2-nistp384" },
		{ SSHKEY_ECDSA_P521, 0, "ecdsa-sha2-nistp521" },
		{ SSHKEY_RSA, 2048, "rsa-sha2-256" },
		{ SSHKEY_RSA, 2048, "rsa-sha2-512" },
	};
	static const uint8_t data[] = "data to sign";
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sshkey *k, *other;
		struct tbuf *sig = tbuf_new();
		char *alg = NULL;

		assert_int_equal(sshkey_generate(cases[i].type, cases[i].bits, &k), 0);
		assert_int_equal(sshkey_generate(cases[i].type, cases[i].bits,
		    &other), 0);
		assert_true(sshkey_alg_fits(k, cases[i].alg));
		assert_int_equal(sshkey_sign(k, cases[i].alg, data, sizeof(data),
		    sig), 0);
		assert_int_equal(sshkey_sig_alg(tbuf_ptr(sig), tbuf_len(sig), &alg), 0);
		assert_string_equal(alg, cases[i].alg);
		assert_int_equal(sshkey_verify(k, tbuf_ptr(sig), tbuf_len(sig), data,
		    sizeof(data), cases[i].alg, 0), 0);
		assert_int_equal(sshkey_verify(other, tbuf_ptr(sig), tbuf_len(sig),
		    data, sizeof(data), NULL, 0), TRASA_ERR_BAD_SIGNATURE);
		assert_int_equal(sshkey_verify(k, tbuf_ptr(sig), tbuf_len(sig), data,
		    sizeof(data) - 1, NULL, 0), TRASA_ERR_BAD_SIGNATURE);
		/* Trailing bytes after the signature are refused. */
		assert_int_equal(tbuf_put_u8(sig, 0), 0);
		assert_int_equal(sshkey_verify(k, tbuf_ptr(sig), tbuf_len(sig), data,
		    sizeof(data), NULL, 0), TRASA_ERR_BAD_SIGNATURE);
		free(alg);
		tbuf_free(sig);
		sshkey_free(k);
		sshkey_free(other);
	}
}

static void
test_sign_refuses_sha1_and_wrong_alg(void **state)
{
	struct sshkey *rsa, *ed;
	struct tbuf *sig = tbuf_new();

	assert_int_equal(sshkey_generate(SSHKEY_RSA, 2048, &rsa), 0);
	assert_int_equal(sshkey_generate(SSHKEY_ED25519, 0, &ed), 0);
	assert_int_equal(sshkey_sign(rsa, "ssh-rsa", (const uint8_t *)"x", 1, sig),
	    TRASA_ERR_SIG_ALG);
	assert_int_equal(sshkey_sign(ed, "rsa-sha2-256", (const uint8_t *)"x", 1,
	    sig), TRASA_ERR_SIG_ALG);
	assert_int_equal(tbuf_len(sig), 0);
	/* rsa-sha2-512 is the default for RSA. */
	assert_int_equal(sshkey_sign(rsa, NULL, (const uint8_t *)"x", 1, sig), 0);
	assert_int_equal(sshkey_verify(rsa, tbuf_ptr(sig), tbuf_len(sig),
	    (const uint8_t *)"x", 1, "rsa-sha2-512", 0), 0);
	assert_int_equal(sshkey_verify(rsa, tbuf_ptr(sig), tbuf_len(sig),
	    (const uint8_t *)"x", 1, "rsa-sha2-256", 0), TRASA_ERR_SIG_ALG);
	tbuf_free(sig);
	sshkey_free(rsa);
	sshkey_free(ed);
}

/* Keys we write in openssh-key-v1 are what ssh-keygen reads, and back. */
static void
test_openssh_private_roundtrip(void **state)
{
	static const enum sshkey_type types[] = { SSHKEY_ED25519,
		SSHKEY_ECDSA_P256, SSHKEY_ECDSA_P384, SSHKEY_ECDSA_P521,
		SSHKEY_RSA };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct sshkey *k, *back;
		struct tbuf *out = tbuf_new();
		char name[32], *pubtext, *derived, *comment = NULL;

		assert_int_equal(sshkey_generate(types[i], 2048, &k), 0);
		assert_int_equal(sshkey_private_to_openssh(k, "ours@test", out), 0);
		snprintf(name, sizeof(name), "ours%zu", i);
		assert_int_equal(fileio_write(tu_path(name), tbuf_ptr(out),
		    tbuf_len(out), 0600, 0), 0);
		assert_int_equal(sshkey_format_public(k, NULL, &pubtext), 0);
		derived = tu_sh_out("'%s' -y -f '%s'", tu_ssh_keygen(),
		    tu_path(name));
		assert_non_null(derived);
		assert_int_equal(strncmp(derived, pubtext, strlen(pubtext)), 0);
		assert_int_equal(sshkey_load_private(tu_path(name), NULL, &back,
		    &comment), 0);
		assert_true(sshkey_has_private(back));
		assert_true(sshkey_equal_public(k, back));
		assert_string_equal(comment, "ours@test");
		free(pubtext);
		free(derived);
		free(comment);
		sshkey_free(back);
		sshkey_free(k);
		tbuf_free(out);
	}
	/* And ssh-keygen's own files, every type, load and sign. */
	for (i = 0; i < NKINDS; i++) {
		struct sshkey *priv, *pub;
		struct tbuf *sig = tbuf_new();
		char name[32];

		snprintf(name, sizeof(name), "theirs%zu", i);
		tu_keygen(kinds[i].keygen, name);
		priv = tu_load_priv(tu_path(name));
		snprintf(name, sizeof(name), "theirs%zu.pub", i);
		pub = tu_load_pub(tu_path(name));
		assert_true(sshkey_equal_public(priv, pub));
		assert_int_equal(sshkey_sign(priv, NULL, (const uint8_t *)"m", 1,
		    sig), 0);
		assert_int_equal(sshkey_verify(pub, tbuf_ptr(sig), tbuf_len(sig),
		    (const uint8_t *)"m", 1, NULL, 0), 0);
		tbuf_free(sig);
		sshkey_free(priv);
		sshkey_free(pub);
	}
}

static void
test_pkcs8(void **state)
{
	static const enum sshkey_type types[] = { SSHKEY_ED25519,
		SSHKEY_ECDSA_P384, SSHKEY_RSA };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct sshkey *k, *back = NULL;
		struct tbuf *clear = tbuf_new(), *enc = tbuf_new();
		char name[32], *pubtext, *derived;

		assert_int_equal(sshkey_generate(types[i], 2048, &k), 0);
		assert_int_equal(sshkey_private_to_pkcs8(k, NULL, clear), 0);
		assert_int_equal(sshkey_private_to_pkcs8(k, "s3cret", enc), 0);
		assert_non_null(memmem(tbuf_ptr(enc), tbuf_len(enc),
		    "ENCRYPTED PRIVATE KEY", 21));
		/* Encrypted: no passphrase, wrong one, right one. */
		assert_int_equal(sshkey_private_parse(tbuf_ptr(enc), tbuf_len(enc),
		    NULL, &back, NULL), TRASA_ERR_ENCRYPTED);
		assert_null(back);
		assert_int_equal(sshkey_private_parse(tbuf_ptr(enc), tbuf_len(enc),
		    "wrong", &back, NULL), TRASA_ERR_PASSPHRASE);
		assert_int_equal(sshkey_private_parse(tbuf_ptr(enc), tbuf_len(enc),
		    "s3cret", &back, NULL), 0);
		assert_true(sshkey_equal_public(k, back));
		sshkey_free(back);
		/* Clear PKCS#8 is a key ssh-keygen reads (OpenSSH 9.2 reads no
		 * Ed25519 keys from PEM, so only ECDSA and RSA are compared). */
		snprintf(name, sizeof(name), "p8_%zu", i);
		assert_int_equal(fileio_write(tu_path(name), tbuf_ptr(clear),
		    tbuf_len(clear), 0600, 0), 0);
		if (types[i] != SSHKEY_ED25519) {
			derived = tu_sh_out("'%s' -y -f '%s'", tu_ssh_keygen(),
			    tu_path(name));
			assert_non_null(derived);
			assert_int_equal(sshkey_format_public(k, NULL, &pubtext), 0);
			assert_int_equal(strncmp(derived, pubtext,
			    strlen(pubtext)), 0);
			free(derived);
			free(pubtext);
		}
		assert_int_equal(sshkey_load_private(tu_path(name), NULL, &back,
		    NULL), 0);
		assert_true(sshkey_equal_public(k, back));
		sshkey_free(back);
		sshkey_free(k);
		tbuf_free(clear);
		tbuf_free(enc);
	}
	/* ssh-keygen's own PKCS#8 export reads back as the same key. */
	{
		struct sshkey *pub, *priv;

		tu_keygen("ecdsa-256", "export");
		assert_int_equal(tu_sh("'%s' -q -p -N '' -m PKCS8 -f '%s'",
		    tu_ssh_keygen(), tu_path("export")), 0);
		priv = tu_load_priv(tu_path("export"));
		pub = tu_load_pub(tu_path("export.pub"));
		assert_true(sshkey_equal_public(priv, pub));
		sshkey_free(priv);
		sshkey_free(pub);
	}
}

static void
test_bad_input(void **state)
{
	static const char *lines[] = {
		"",
		"ssh-ed25519",
		"ssh-ed25519 ",
		"ssh-ed25519 !!!!",
		"ssh-ed25519 AAAA",
		"ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIGd0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct sshkey *k = NULL;
	char *line, *sp, *tampered;
	size_t i;
	int r;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_not_equal(sshkey_parse_public(lines[i], &k, NULL), 0);
		assert_null(k);
	}
	/* A text type that is not the blob's type. */
	tu_keygen("ed25519", "bad1");
	line = first_line(tu_path("bad1.pub"));
	sp = strchr(line, ' ');
	assert_int_equal(asprintf(&tampered, "ssh-rsa%s", sp), (int)(strlen(sp) + 7));
	assert_int_equal(sshkey_parse_public(tampered, &k, NULL),
	    TRASA_ERR_KEY_TYPE);
	free(tampered);
	free(line);
	/* Small RSA keys are refused by name. */
	tu_keygen("rsa-1024", "small");
	r = sshkey_load_public(tu_path("small.pub"), &k, NULL);
	assert_int_equal(r, TRASA_ERR_KEY_TOO_SMALL);
	r = sshkey_load_private(tu_path("small"), NULL, &k, NULL);
	assert_int_equal(r, TRASA_ERR_KEY_TOO_SMALL);
	/* Passphrase-protected OpenSSH keys are reported, not misread. */
	assert_int_equal(tu_sh("'%s' -q -t ed25519 -N secret -f '%s'",
	    tu_ssh_keygen(), tu_path("locked")), 0);
	assert_int_equal(sshkey_load_private(tu_path("locked"), NULL, &k, NULL),
	    TRASA_ERR_UNSUPPORTED);
	/* A public key file is not a private key. */
	assert_int_not_equal(sshkey_load_private(tu_path("bad1.pub"), NULL, &k,
	    NULL), 0);
	assert_int_equal(sshkey_load_public("/nonexistent/key.pub", &k, NULL),
	    TRASA_ERR_IO);
	assert_null(k);
}

/* An ECDSA point off the curve is refused. */
static void
test_ecdsa_point_off_curve(void **state)
{
	uint8_t *blob;
	size_t len;
	struct sshkey *k = NULL;

	tu_keygen("ecdsa-256", "curve");
	blob = tu_pub_blob(tu_path("curve.pub"), &len);
	blob[len - 1] ^= 0x01; /* last byte of Y */
	assert_int_equal(sshkey_from_blob(blob, len, &k), TRASA_ERR_BAD_KEY);
	assert_null(k);
	free(blob);
}

/* Every truncation of every key blob is refused, as are trailing bytes. */
static void
test_truncation_and_trailing(void **state)
{
	size_t i, n, len;
	uint8_t *blob, *longer;
	struct sshkey *k = NULL;

	for (i = 0; i < NKINDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "trunc%zu", i);
		tu_keygen(kinds[i].keygen, name);
		snprintf(name, sizeof(name), "trunc%zu.pub", i);
		blob = tu_pub_blob(tu_path(name), &len);
		for (n = 0; n < len; n++) {
			assert_int_not_equal(sshkey_from_blob(blob, n, &k), 0);
			assert_null(k);
		}
		longer = malloc(len + 1);
		memcpy(longer, blob, len);
		longer[len] = 0;
		assert_int_equal(sshkey_from_blob(longer, len + 1, &k),
		    TRASA_ERR_TRAILING);
		free(longer);
		free(blob);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_matches_ssh_keygen),
		cmocka_unit_test(test_blob_roundtrip_and_equality),
		cmocka_unit_test(test_verify_ssh_keygen_signatures),
		cmocka_unit_test(test_sign_verify_all_algorithms),
		cmocka_unit_test(test_sign_refuses_sha1_and_wrong_alg),
		cmocka_unit_test(test_openssh_private_roundtrip),
		cmocka_unit_test(test_pkcs8),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_ecdsa_point_off_curve),
		cmocka_unit_test(test_truncation_and_trailing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_krl.c: key revocation lists in both directions against the real
 * ssh-keygen: KRLs `ssh-keygen -k` writes we read and judge as
 * `ssh-keygen -Q` does; KRLs we write (byte for byte the same as its own)
 * it reads with the same results; `krl_print` lists as `ssh-keygen -Q -l`;
 * signed KRLs; mutations, truncations and malformed sections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "fileio.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"
#include "testutil.h"

#define SHELL_QUIET ">/dev/null 2>&1"

/* ---------------------------------------------------------------- helpers */

static const char *
keygen(void)
{
	return tu_ssh_keygen();
}

/* ssh-keygen -Q on KRL file path for key file name: 0 ok, 1 revoked,
 * 255 KRL refused. */
static int
keygen_query(const char *krlpath, const char *name)
{
	return tu_sh("'%s' -Q -f '%s' '%s' " SHELL_QUIET, keygen(), krlpath,
	    tu_path(name));
}

/* Our verdict on key file name: 0 ok, 1 revoked, -1 anything else. */
static int
our_query(const struct krl *krl, const char *name)
{
	struct sshkey *k = tu_load_pub(tu_path(name));
	int e = krl_check_key(krl, k);

	sshkey_free(k);
	if (e == 0)
		return 0;
	return e == TRASA_ERR_REVOKED ? 1 : -1;
}

static struct krl *
parse_file(const char *path)
{
	struct krl *krl = NULL;
	uint8_t *data;
	size_t len;
	int e;

	assert_non_null(data = tu_read(path, &len));
	e = krl_parse(data, len, &krl);
	if (e != 0)
		fail_msg("parsing %s: %s", path, trasa_strerror(e));
	free(data);
	return krl;
}

/* krl_write() into a fresh buffer. */
static struct tbuf *
write_krl(const struct krl *krl, const struct sshkey *sign)
{
	struct tbuf *b = tbuf_new();

	assert_non_null(b);
	assert_int_equal(krl_write(krl, sign, b), 0);
	return b;
}

static void
save(const char *path, const struct tbuf *b)
{
	assert_int_equal(fileio_write(path, tbuf_ptr(b), tbuf_len(b), 0644, 0),
	    0);
}

static void
assert_same_bytes(const struct tbuf *b, const char *path)
{
	uint8_t *data;
	size_t len;

	assert_non_null(data = tu_read(path, &len));
	assert_int_equal(tbuf_len(b), len);
	assert_memory_equal(tbuf_ptr(b), data, len);
	free(data);
}

/* krl_print() output as a string. */
static char *
print_krl(const struct krl *krl)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	assert_int_equal(krl_print(krl, f), 0);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void
assert_listing_matches(const struct krl *krl, const char *path)
{
	char *ours = print_krl(krl);
	char *theirs = tu_sh_out("LC_ALL=C '%s' -Q -l -f '%s'", keygen(),
	    path);

	assert_non_null(theirs);
	assert_string_equal(ours, theirs);
	free(ours);
	free(theirs);
}

/* Copy of subject's .pub as name.pub, certified by ca: name-cert.pub. */
static void
make_cert(const char *ca, const char *subject, const char *name,
    const char *key_id, unsigned long long serial)
{
	assert_int_equal(tu_sh("cp '%s.pub' '%s.pub'", tu_path(subject),
	    tu_path(name)), 0);
	assert_int_equal(tu_sh("'%s' -q -s '%s' -I '%s' -z %llu -n user "
	    "'%s.pub' " SHELL_QUIET, keygen(), tu_path(ca), key_id, serial,
	    tu_path(name)), 0);
}

/* The text of a .pub file without its newline (malloc'd). */
static char *
pub_line(const char *name)
{
	char path[512];
	char *s;

	snprintf(path, sizeof(path), "%s.pub", tu_path(name));
	assert_non_null(s = (char *)tu_read(path, NULL));
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static struct sshkey *
load_pub_name(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s.pub", tu_path(name));
	return tu_load_pub(path);
}

static void
write_text(const char *path, const char *text)
{
	assert_int_equal(fileio_write(path, text, strlen(text), 0644, 0), 0);
}

/* ---------------------------------------------------------------- fixture */

/*
 * The main vector: one KRL made by ssh-keygen with a section for CA "ca"
 * (serials, a key ID, keys and hashes), one for "ca2" and a wildcard one,
 * and the certificates and keys it is judged on.
 */
struct kcase {
	const char *file;   /* under tu_path(): a .pub or -cert.pub */
	int revoked;
};

static const struct kcase cases[] = {
	{ "c_s5-cert.pub", 1 },         /* serial 5 */
	{ "c_s8-cert.pub", 1 },         /* in 7-9 */
	{ "c_s10-cert.pub", 0 },
	{ "c_s150-cert.pub", 1 },       /* in 100-300 */
	{ "c_s301-cert.pub", 0 },
	{ "c_s1002-cert.pub", 1 },      /* in a bitmap 1000, 1002, 1004 */
	{ "c_s1003-cert.pub", 0 },
	{ "c_bob-cert.pub", 1 },        /* key ID under ca */
	{ "c_bob2-cert.pub", 0 },       /* same key ID, other CA */
	{ "c_s0-cert.pub", 0 },         /* serial 0: never by serial */
	{ "c_ca2_s5-cert.pub", 0 },     /* ca2 revokes only 42 */
	{ "c_ca2_s42-cert.pub", 1 },
	{ "c_evil-cert.pub", 1 },       /* wildcard key ID */
	{ "c_ca4-cert.pub", 0 },
	{ "c_ca3-cert.pub", 1 },        /* its CA key is revoked */
	{ "c_keyrev-cert.pub", 1 },     /* its plain key is revoked */
	{ "c_sharev-cert.pub", 1 },     /* its plain key's SHA256 revoked */
	{ "k_key.pub", 1 },             /* explicit key */
	{ "k_sha1.pub", 1 },            /* SHA1 */
	{ "k_sha256.pub", 1 },          /* SHA256 from the key */
	{ "k_hash.pub", 1 },            /* SHA256 from "hash: SHA256:..." */
	{ "ca3.pub", 1 },
	{ "k_ok.pub", 0 },
	{ "subj.pub", 0 },
	{ "ca.pub", 0 },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const unsigned long long main_serials[][2] = {
	{ 5, 5 }, { 7, 9 }, { 100, 300 }, { 1000, 1000 }, { 1002, 1002 },
	{ 1004, 1004 },
};

static int
setup(void **state)
{
	char *key, *ca3, *sha1, *sha256, *fp, *spec;

	(void)state;
	tu_keygen("ed25519", "ca");
	tu_keygen("ecdsa-256", "ca2");
	tu_keygen("ed25519", "ca3");
	tu_keygen("rsa-2048", "ca4");
	tu_keygen("ed25519", "subj");
	tu_keygen("ecdsa-256", "k_key");
	tu_keygen("rsa-2048", "k_sha1");
	tu_keygen("ed25519", "k_sha256");
	tu_keygen("ecdsa-384", "k_hash");
	tu_keygen("ed25519", "k_ok");
	tu_keygen("ed25519", "sig-ed25519");
	tu_keygen("ecdsa-256", "sig-ecdsa");
	tu_keygen("rsa-2048", "sig-rsa");

	make_cert("ca", "subj", "c_s5", "alice", 5);
	make_cert("ca", "subj", "c_s8", "alice", 8);
	make_cert("ca", "subj", "c_s10", "alice", 10);
	make_cert("ca", "subj", "c_s150", "alice", 150);
	make_cert("ca", "subj", "c_s301", "alice", 301);
	make_cert("ca", "subj", "c_s1002", "alice", 1002);
	make_cert("ca", "subj", "c_s1003", "alice", 1003);
	make_cert("ca", "subj", "c_bob", "bob", 0);
	make_cert("ca2", "subj", "c_bob2", "bob", 0);
	make_cert("ca", "subj", "c_s0", "carol", 0);
	make_cert("ca2", "subj", "c_ca2_s5", "alice", 5);
	make_cert("ca2", "subj", "c_ca2_s42", "alice", 42);
	make_cert("ca4", "subj", "c_evil", "evil", 77);
	make_cert("ca4", "subj", "c_ca4", "alice", 77);
	make_cert("ca3", "subj", "c_ca3", "alice", 1);
	make_cert("ca4", "k_key", "c_keyrev", "alice", 3);
	make_cert("ca4", "k_sha256", "c_sharev", "alice", 3);

	key = pub_line("k_key");
	ca3 = pub_line("ca3");
	sha1 = pub_line("k_sha1");
	sha256 = pub_line("k_sha256");
	assert_non_null(fp = tu_sh_out("'%s' -l -f '%s.pub' | "
	    "awk '{printf \"%%s\", $2}'", keygen(), tu_path("k_hash")));
	assert_int_not_equal(asprintf(&spec,
	    "# main spec\n"
	    "serial: 5\nserial: 7-9\nserial: 100-300\n"
	    "serial: 1000\nserial: 1002\nserial: 1004\n"
	    "id: bob\n"
	    "key: %s\nkey: %s\nsha1: %s\nsha256: %s\nhash: %s\n",
	    key, ca3, sha1, sha256, fp), -1);
	write_text(tu_path("spec1"), spec);
	write_text(tu_path("spec2"), "serial: 42\n");
	write_text(tu_path("spec3"), "id: evil\n");
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -z 7 -C 'main vector' "
	    "-s '%s.pub' '%s' " SHELL_QUIET, keygen(), tu_path("main.krl"),
	    tu_path("ca"), tu_path("spec1")), 0);
	assert_int_equal(tu_sh("'%s' -q -k -u -f '%s' -s '%s.pub' '%s' "
	    SHELL_QUIET, keygen(), tu_path("main.krl"), tu_path("ca2"),
	    tu_path("spec2")), 0);
	assert_int_equal(tu_sh("'%s' -q -k -u -f '%s' -s none '%s' "
	    SHELL_QUIET, keygen(), tu_path("main.krl"), tu_path("spec3")), 0);
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' " SHELL_QUIET, keygen(),
	    tu_path("empty.krl")), 0);
	free(key);
	free(ca3);
	free(sha1);
	free(sha256);
	free(fp);
	free(spec);
	return 0;
}

/* The main vector's revocations through our API, in ssh-keygen's order. */
static struct krl *
build_main(uint64_t date)
{
	struct krl *krl = NULL;
	struct sshkey *ca = load_pub_name("ca"), *ca2 = load_pub_name("ca2");
	struct sshkey *k;
	size_t i;

	assert_int_equal(krl_new(&krl), 0);
	krl_set_version(krl, 7);
	krl_set_date(krl, date);
	assert_int_equal(krl_set_comment(krl, "main vector"), 0);
	/* Out of order on purpose: the KRL keeps them sorted. */
	for (i = sizeof(main_serials) / sizeof(main_serials[0]); i-- > 0;)
		assert_int_equal(krl_revoke_serial(krl, ca, main_serials[i][0],
		    main_serials[i][1]), 0);
	assert_int_equal(krl_revoke_key_id(krl, ca, "bob"), 0);
	k = load_pub_name("k_key");
	assert_int_equal(krl_revoke_key(krl, k), 0);
	sshkey_free(k);
	k = load_pub_name("ca3");
	assert_int_equal(krl_revoke_key(krl, k), 0);
	sshkey_free(k);
	k = load_pub_name("k_sha1");
	assert_int_equal(krl_revoke_key_sha1(krl, k), 0);
	sshkey_free(k);
	k = load_pub_name("k_sha256");
	assert_int_equal(krl_revoke_key_sha256(krl, k), 0);
	sshkey_free(k);
	k = load_pub_name("k_hash");
	assert_int_equal(krl_revoke_key_sha256(krl, k), 0);
	sshkey_free(k);
	assert_int_equal(krl_revoke_serial(krl, ca2, 42, 42), 0);
	assert_int_equal(krl_revoke_key_id(krl, NULL, "evil"), 0);
	sshkey_free(ca);
	sshkey_free(ca2);
	return krl;
}

/* ---------------------------------------------------------------- tests */

/* What ssh-keygen -k writes, we judge as ssh-keygen -Q does. */
static void
test_keygen_krl_judged(void **state)
{
	struct krl *krl;
	size_t i;

	(void)state;
	krl = parse_file(tu_path("main.krl"));
	assert_int_equal(krl_version(krl), 7);
	assert_string_equal(krl_comment(krl), "main vector");
	assert_true(krl_date(krl) > 1600000000);
	assert_int_equal(krl_nsigners(krl), 0);
	assert_null(krl_signer(krl, 0));
	for (i = 0; i < NCASES; i++) {
		/* The expectation holds for OpenSSH itself... */
		if (keygen_query(tu_path("main.krl"), cases[i].file) !=
		    cases[i].revoked)
			fail_msg("ssh-keygen -Q disagrees on %s", cases[i].file);
		/* ... and for us. */
		if (our_query(krl, cases[i].file) != cases[i].revoked)
			fail_msg("krl_check_key wrong on %s", cases[i].file);
	}
	krl_free(krl);
}

/* Our KRL for the same revocations: the same bytes, the same verdicts. */
static void
test_written_krl_judged(void **state)
{
	struct krl *theirs, *krl, *back;
	struct tbuf *b;
	size_t i;

	(void)state;
	theirs = parse_file(tu_path("main.krl"));
	krl = build_main(krl_date(theirs));
	b = write_krl(krl, NULL);
	assert_same_bytes(b, tu_path("main.krl"));
	save(tu_path("ours.krl"), b);
	back = parse_file(tu_path("ours.krl"));
	for (i = 0; i < NCASES; i++) {
		if (keygen_query(tu_path("ours.krl"), cases[i].file) !=
		    cases[i].revoked)
			fail_msg("ssh-keygen -Q on our KRL wrong on %s",
			    cases[i].file);
		if (our_query(krl, cases[i].file) != cases[i].revoked ||
		    our_query(back, cases[i].file) != cases[i].revoked)
			fail_msg("krl_check_key on our KRL wrong on %s",
			    cases[i].file);
	}
	tbuf_free(b);
	krl_free(back);
	krl_free(krl);
	krl_free(theirs);
}

/* Parse then write gives back ssh-keygen's bytes; listings match. */
static void
test_roundtrip_and_listing(void **state)
{
	struct krl *krl;
	struct tbuf *b;

	(void)state;
	krl = parse_file(tu_path("main.krl"));
	b = write_krl(krl, NULL);
	assert_same_bytes(b, tu_path("main.krl"));
	assert_listing_matches(krl, tu_path("main.krl"));
	tbuf_free(b);
	krl_free(krl);

	/* A comment with characters ssh-keygen escapes. */
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -C \"$(printf "
	    "'tab\\there\\001 \\\\ end\\377')\" -s '%s.pub' '%s' " SHELL_QUIET,
	    keygen(), tu_path("comment.krl"), tu_path("ca"),
	    tu_path("spec3")), 0);
	krl = parse_file(tu_path("comment.krl"));
	assert_listing_matches(krl, tu_path("comment.krl"));
	b = write_krl(krl, NULL);
	assert_same_bytes(b, tu_path("comment.krl"));
	tbuf_free(b);
	krl_free(krl);

	/* An empty KRL (made in setup). */
	krl = parse_file(tu_path("empty.krl"));
	assert_listing_matches(krl, tu_path("empty.krl"));
	assert_int_equal(our_query(krl, "c_s5-cert.pub"), 0);
	b = write_krl(krl, NULL);
	assert_same_bytes(b, tu_path("empty.krl"));
	tbuf_free(b);
	krl_free(krl);
}

/* A small deterministic generator for serial patterns. */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct rset {
	unsigned long long (*r)[2];
	size_t n;
};

static int
rset_has(const struct rset *s, uint64_t x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->r[i][0] <= x && x <= s->r[i][1])
			return 1;
	return 0;
}

/* A certificate with serial for subj signed by ca (in-process). */
static int
judge_serial(const struct krl *krl, const struct sshkey *subj,
    const struct sshkey *ca, uint64_t serial)
{
	struct sshkey *cert = NULL;
	int e;

	assert_int_equal(sshcert_new(subj, SSHCERT_USER, &cert), 0);
	assert_int_equal(sshcert_set_serial(cert, serial), 0);
	assert_int_equal(sshcert_set_key_id(cert, "pattern"), 0);
	assert_int_equal(sshcert_add_principal(cert, "user"), 0);
	assert_int_equal(sshcert_sign(cert, ca, NULL), 0);
	e = krl_check_key(krl, cert);
	sshkey_free(cert);
	assert_true(e == 0 || e == TRASA_ERR_REVOKED);
	return e == TRASA_ERR_REVOKED;
}

/* Bit (type - 0x20) set for each certificate subsection type present. */
static unsigned
subsection_types(const char *path)
{
	struct tbuf *b, *sect = NULL;
	uint8_t *data, type;
	size_t len;
	unsigned mask = 0;

	assert_non_null(data = tu_read(path, &len));
	assert_non_null(b = tbuf_from(data, len));
	assert_int_equal(tbuf_consume(b, 8 + 4 + 3 * 8), 0);
	assert_int_equal(tbuf_get_string_direct(b, NULL, NULL, 0), 0);
	assert_int_equal(tbuf_get_string_direct(b, NULL, NULL, 0), 0);
	while (tbuf_len(b) > 0) {
		assert_int_equal(tbuf_get_u8(b, &type), 0);
		assert_int_equal(tbuf_get_sub(b, &sect, KRL_MAX_SIZE), 0);
		if (type == 1) {
			assert_int_equal(tbuf_get_string_direct(sect, NULL,
			    NULL, 0), 0);
			assert_int_equal(tbuf_get_string_direct(sect, NULL,
			    NULL, 0), 0);
			while (tbuf_len(sect) > 0) {
				assert_int_equal(tbuf_get_u8(sect, &type), 0);
				assert_true(type >= 0x20 && type < 0x28);
				mask |= 1u << (type - 0x20);
				assert_int_equal(tbuf_get_string_direct(sect,
				    NULL, NULL, KRL_MAX_SIZE), 0);
			}
		}
		tbuf_free(sect);
		sect = NULL;
	}
	tbuf_free(b);
	free(data);
	return mask;
}

/*
 * Many serials in lists, ranges and bitmaps (ssh-keygen picks by size):
 * read as ssh-keygen reads them, judged per serial against the spec, and
 * written back to the same bytes.
 */
static void
test_serial_patterns(void **state)
{
	static const uint64_t gaps[] = { 1, 2, 2, 3, 5, 9, 17, 40, 100, 1000,
	    70000 };
	static const uint64_t widths[] = { 1, 1, 1, 1, 2, 3, 8, 50, 500 };
	unsigned long long (*r)[2];
	struct rset set;
	struct krl *krl, *built;
	struct sshkey *ca, *cap, *subj;
	struct tbuf *b;
	FILE *f;
	uint64_t cur = 1, x, probe[5];
	size_t i, j, n = 1500;

	(void)state;
	r = calloc(n + 4, sizeof(*r));
	assert_non_null(r);
	for (i = 0; i < n; i++) {
		if (i > 0 && rng() % 20 == 0) {
			/* Overlap the previous entry. */
			r[i][0] = r[i - 1][0] + rng() % (r[i - 1][1] -
			    r[i - 1][0] + 1);
			r[i][1] = r[i][0] + rng() % 4;
		} else {
			cur += gaps[rng() % (sizeof(gaps) / sizeof(gaps[0]))];
			r[i][0] = cur;
			cur += widths[rng() % (sizeof(widths) /
			    sizeof(widths[0]))] - 1;
			r[i][1] = cur;
		}
	}
	/* The top of the serial space. */
	r[n][0] = r[n][1] = UINT64_MAX - 5;
	r[n + 1][0] = UINT64_MAX - 3;
	r[n + 1][1] = UINT64_MAX;
	n += 2;
	set.r = r;
	set.n = n;

	assert_non_null(f = fopen(tu_path("spec-pattern"), "w"));
	for (i = 0; i < n; i++) {
		if (r[i][0] == r[i][1])
			fprintf(f, "serial: %llu\n", r[i][0]);
		else
			fprintf(f, "serial: %llu-%llu\n", r[i][0], r[i][1]);
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -s '%s.pub' '%s' "
	    SHELL_QUIET, keygen(), tu_path("pattern.krl"), tu_path("ca"),
	    tu_path("spec-pattern")), 0);
	/* ssh-keygen used all three: list, range, bitmap. */
	assert_int_equal(subsection_types(tu_path("pattern.krl")), 0x7);
	krl = parse_file(tu_path("pattern.krl"));
	assert_listing_matches(krl, tu_path("pattern.krl"));
	b = write_krl(krl, NULL);
	assert_same_bytes(b, tu_path("pattern.krl"));
	tbuf_free(b);

	/* The same through our API (in reverse order) writes the same. */
	ca = load_pub_name("ca");
	assert_int_equal(krl_new(&built), 0);
	krl_set_date(built, krl_date(krl));
	for (i = n; i-- > 0;)
		assert_int_equal(krl_revoke_serial(built, ca, r[i][0],
		    r[i][1]), 0);
	b = write_krl(built, NULL);
	assert_same_bytes(b, tu_path("pattern.krl"));
	tbuf_free(b);

	/* Each serial at and around every entry, judged against the spec. */
	cap = tu_load_priv(tu_path("ca"));
	subj = tu_load_priv(tu_path("subj"));
	for (i = 0; i < n; i += 3) {
		probe[0] = r[i][0] - 1;
		probe[1] = r[i][0];
		probe[2] = r[i][1];
		probe[3] = r[i][1] + 1;
		probe[4] = r[i][0] + (r[i][1] - r[i][0]) / 2;
		for (j = 0; j < 5; j++) {
			x = probe[j];
			if (x == 0)
				continue;
			if (judge_serial(krl, subj, cap, x) != rset_has(&set, x) ||
			    judge_serial(built, subj, cap, x) !=
			    rset_has(&set, x))
				fail_msg("serial %llu judged wrongly",
				    (unsigned long long)x);
		}
	}
	/* Serial 0 is never revoked by serial, even in a range from 1. */
	assert_int_equal(krl_revoke_serial(built, ca, 1, 10), 0);
	assert_int_equal(judge_serial(built, subj, cap, 0), 0);
	assert_int_equal(judge_serial(built, subj, cap, 1), 1);
	sshkey_free(cap);
	sshkey_free(subj);
	sshkey_free(ca);
	krl_free(built);
	krl_free(krl);
	free(r);
}

/*
 * ssh-keygen writes bitmaps it cannot read back (over 2048 bytes); we
 * refuse them as it does, and write the same set so that it can.
 */
static void
test_big_bitmap(void **state)
{
	struct krl *krl = NULL, *back;
	struct sshkey *ca;
	struct tbuf *b;
	uint8_t *data;
	size_t len;
	FILE *f;
	uint64_t s;

	(void)state;
	assert_non_null(f = fopen(tu_path("spec-odd"), "w"));
	for (s = 1; s <= 40001; s += 2)
		fprintf(f, "serial: %llu\n", (unsigned long long)s);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -s '%s.pub' '%s' "
	    SHELL_QUIET, keygen(), tu_path("odd.krl"), tu_path("ca"),
	    tu_path("spec-odd")), 0);
	assert_int_equal(keygen_query(tu_path("odd.krl"), "k_ok.pub"), 255);
	assert_non_null(data = tu_read(tu_path("odd.krl"), &len));
	assert_int_equal(krl_parse(data, len, &krl), TRASA_ERR_TOO_LONG);
	assert_null(krl);
	free(data);

	ca = load_pub_name("ca");
	assert_int_equal(krl_new(&krl), 0);
	for (s = 1; s <= 40001; s += 2)
		assert_int_equal(krl_revoke_serial(krl, ca, s, s), 0);
	b = write_krl(krl, NULL);
	save(tu_path("odd-ours.krl"), b);
	assert_int_equal(keygen_query(tu_path("odd-ours.krl"), "k_ok.pub"), 0);
	back = parse_file(tu_path("odd-ours.krl"));
	assert_listing_matches(back, tu_path("odd-ours.krl"));
	make_cert("ca", "subj", "c_odd_hi", "x", 39999);
	make_cert("ca", "subj", "c_even_hi", "x", 40000);
	assert_int_equal(keygen_query(tu_path("odd-ours.krl"),
	    "c_odd_hi-cert.pub"), 1);
	assert_int_equal(keygen_query(tu_path("odd-ours.krl"),
	    "c_even_hi-cert.pub"), 0);
	assert_int_equal(our_query(back, "c_odd_hi-cert.pub"), 1);
	assert_int_equal(our_query(back, "c_even_hi-cert.pub"), 0);
	tbuf_free(b);
	sshkey_free(ca);
	krl_free(back);
	krl_free(krl);
}

/* Offsets where a section of the KRL in data starts, and its end. */
static size_t
section_bounds(const uint8_t *data, size_t len, size_t *bounds, size_t max)
{
	struct tbuf *b = tbuf_from(data, len);
	size_t n = 0;
	uint8_t type;

	assert_non_null(b);
	assert_int_equal(tbuf_consume(b, 8 + 4 + 3 * 8), 0);
	assert_int_equal(tbuf_get_string_direct(b, NULL, NULL, 0), 0);
	assert_int_equal(tbuf_get_string_direct(b, NULL, NULL, 0), 0);
	while (tbuf_len(b) > 0) {
		assert_true(n < max);
		bounds[n++] = len - tbuf_len(b);
		assert_int_equal(tbuf_get_u8(b, &type), 0);
		assert_int_equal(tbuf_get_string_direct(b, NULL, NULL,
		    KRL_MAX_SIZE), 0);
		if (type == 4)
			assert_int_equal(tbuf_get_string_direct(b, NULL, NULL,
			    KRL_MAX_SIZE), 0);
	}
	tbuf_free(b);
	return n;
}

static int
is_bound(const size_t *bounds, size_t n, size_t at)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bounds[i] == at)
			return 1;
	return 0;
}

/*
 * Every truncation of ssh-keygen's KRL is refused, except a cut exactly
 * between two sections: the format has no length or count that could
 * tell (ssh-keygen reads those too).
 */
static void
test_truncation(void **state)
{
	struct krl *krl;
	uint8_t *data;
	size_t len, cut, bounds[32], nb;
	int e;

	(void)state;
	assert_non_null(data = tu_read(tu_path("main.krl"), &len));
	nb = section_bounds(data, len, bounds, 32);
	assert_true(nb >= 5);
	for (cut = 0; cut < len; cut++) {
		krl = NULL;
		e = krl_parse(data, cut, &krl);
		if (is_bound(bounds, nb, cut)) {
			assert_int_equal(e, 0);
			krl_free(krl);
		} else {
			if (e == 0)
				fail_msg("truncation at %zu accepted", cut);
			assert_null(krl);
		}
	}
	/* ssh-keygen agrees on a few. */
	for (cut = 1; cut < len; cut += len / 7) {
		if (is_bound(bounds, nb, cut))
			continue;
		assert_int_equal(fileio_write(tu_path("cut.krl"), data, cut,
		    0644, 0), 0);
		assert_int_equal(keygen_query(tu_path("cut.krl"), "k_ok.pub"),
		    255);
	}
	free(data);
}

/* Signed by each key type: verified, reported, and read by ssh-keygen. */
static void
test_signed(void **state)
{
	static const char *const signers[] = { "sig-ed25519", "sig-ecdsa",
	    "sig-rsa" };
	struct krl *krl, *back;
	struct sshkey *sign, *pub;
	struct tbuf *b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(signers) / sizeof(signers[0]); i++) {
		krl = parse_file(tu_path("main.krl"));
		sign = tu_load_priv(tu_path(signers[i]));
		pub = load_pub_name(signers[i]);
		b = write_krl(krl, sign);
		save(tu_path("signed.krl"), b);
		back = parse_file(tu_path("signed.krl"));
		assert_int_equal(krl_nsigners(back), 1);
		assert_non_null(krl_signer(back, 0));
		assert_int_equal(sshkey_equal_public(krl_signer(back, 0), pub),
		    1);
		assert_false(sshkey_has_private(krl_signer(back, 0)));
		assert_null(krl_signer(back, 1));
		/* OpenSSH 9.2 verifies KRL signatures too. */
		assert_int_equal(keygen_query(tu_path("signed.krl"),
		    "k_ok.pub"), 0);
		assert_int_equal(keygen_query(tu_path("signed.krl"),
		    "c_s5-cert.pub"), 1);
		assert_int_equal(our_query(back, "c_s5-cert.pub"), 1);
		assert_int_equal(our_query(back, "k_ok.pub"), 0);
		tbuf_free(b);
		krl_free(back);
		krl_free(krl);
		sshkey_free(sign);
		sshkey_free(pub);
	}
}

/*
 * A signed KRL with any byte changed is refused. Every truncation is
 * refused but those exactly between sections, which leave an unsigned KRL
 * (no signer reported) that a caller requiring a signature refuses.
 */
static void
test_signed_mutations(void **state)
{
	static const char *const signers[] = { "sig-ed25519", "sig-ecdsa",
	    "sig-rsa" };
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	struct krl *base, *krl;
	struct sshkey *sign;
	struct tbuf *b;
	uint8_t *m;
	size_t i, j, k, len, bounds[32], nb, sigstart;
	int e;

	(void)state;
	base = build_main(1700000000);
	for (i = 0; i < sizeof(signers) / sizeof(signers[0]); i++) {
		sign = tu_load_priv(tu_path(signers[i]));
		b = write_krl(base, sign);
		len = tbuf_len(b);
		assert_non_null(m = malloc(len));
		memcpy(m, tbuf_ptr(b), len);
		for (j = 0; j < len; j++) {
			for (k = 0; k < sizeof(flips); k++) {
				m[j] ^= flips[k];
				krl = NULL;
				e = krl_parse(m, len, &krl);
				if (e == 0)
					fail_msg("%s: byte %zu ^ %#x accepted",
					    signers[i], j, flips[k]);
				assert_null(krl);
				m[j] ^= flips[k];
			}
		}
		nb = section_bounds(m, len, bounds, 32);
		sigstart = bounds[nb - 1];
		assert_int_equal(m[sigstart], 4);
		for (j = 0; j < len; j++) {
			krl = NULL;
			e = krl_parse(m, j, &krl);
			if (is_bound(bounds, nb, j)) {
				assert_true(j <= sigstart);
				assert_int_equal(e, 0);
				assert_int_equal(krl_nsigners(krl), 0);
				krl_free(krl);
			} else if (e == 0)
				fail_msg("%s: truncation at %zu accepted",
				    signers[i], j);
		}
		/* The untouched one still parses. */
		assert_int_equal(krl_parse(m, len, &krl), 0);
		assert_int_equal(krl_nsigners(krl), 1);
		krl_free(krl);
		free(m);
		tbuf_free(b);
		sshkey_free(sign);
	}
	krl_free(base);
}

/* Append a signature section by key over everything in b. */
static void
append_signature(struct tbuf *b, const struct sshkey *key)
{
	struct tbuf *blob = tbuf_new(), *sig = tbuf_new();

	assert_non_null(blob);
	assert_non_null(sig);
	assert_int_equal(sshkey_to_blob(key, blob), 0);
	assert_int_equal(tbuf_put_u8(b, 4), 0);
	assert_int_equal(tbuf_put_stringb(b, blob), 0);
	assert_int_equal(sshkey_sign(key, NULL, tbuf_ptr(b), tbuf_len(b), sig),
	    0);
	assert_int_equal(tbuf_put_stringb(b, sig), 0);
	tbuf_free(blob);
	tbuf_free(sig);
}

/* Several signers, the same signer twice, a revoked signer: as OpenSSH. */
static void
test_signers(void **state)
{
	struct krl *base, *krl = NULL;
	struct sshkey *ed, *ec, *edpub;
	struct tbuf *b;

	(void)state;
	base = build_main(1700000000);
	ed = tu_load_priv(tu_path("sig-ed25519"));
	ec = tu_load_priv(tu_path("sig-ecdsa"));
	edpub = load_pub_name("sig-ed25519");

	/* Two signers, consecutive at the end. */
	b = write_krl(base, ed);
	append_signature(b, ec);
	save(tu_path("two.krl"), b);
	krl = parse_file(tu_path("two.krl"));
	assert_int_equal(krl_nsigners(krl), 2);
	assert_int_equal(sshkey_equal_public(krl_signer(krl, 0), edpub), 1);
	assert_int_equal(sshkey_equal_public(krl_signer(krl, 1), ec), 1);
	assert_int_equal(keygen_query(tu_path("two.krl"), "k_ok.pub"), 0);
	krl_free(krl);
	krl = NULL;

	/* The same key twice. */
	append_signature(b, ed);
	save(tu_path("twice.krl"), b);
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &krl),
	    TRASA_ERR_FORMAT);
	assert_null(krl);
	assert_int_equal(keygen_query(tu_path("twice.krl"), "k_ok.pub"), 255);
	tbuf_free(b);

	/* A revocation after a signature. */
	b = write_krl(base, ed);
	assert_int_equal(tbuf_put_u8(b, 2), 0);
	assert_int_equal(tbuf_put_u32(b, 0), 0);
	save(tu_path("after.krl"), b);
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &krl),
	    TRASA_ERR_FORMAT);
	assert_int_equal(keygen_query(tu_path("after.krl"), "k_ok.pub"), 255);
	tbuf_free(b);

	/* Signed by a key it revokes: refused; another signer saves it. */
	assert_int_equal(krl_revoke_key(base, edpub), 0);
	b = write_krl(base, ed);
	save(tu_path("selfrev.krl"), b);
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &krl),
	    TRASA_ERR_REVOKED);
	assert_null(krl);
	assert_int_equal(keygen_query(tu_path("selfrev.krl"), "k_ok.pub"),
	    255);
	append_signature(b, ec);
	save(tu_path("selfrev2.krl"), b);
	krl = parse_file(tu_path("selfrev2.krl"));
	assert_int_equal(krl_nsigners(krl), 1);
	assert_int_equal(sshkey_equal_public(krl_signer(krl, 0), ec), 1);
	assert_int_equal(keygen_query(tu_path("selfrev2.krl"), "k_ok.pub"), 0);
	krl_free(krl);
	tbuf_free(b);

	sshkey_free(ed);
	sshkey_free(ec);
	sshkey_free(edpub);
	krl_free(base);
}

/* ---------------------------------------------------------------- crafted */

/* The header of an empty KRL as ssh-keygen writes it. */
static struct tbuf *
base_header(void)
{
	uint8_t *data;
	size_t len;
	struct tbuf *b;

	assert_non_null(data = tu_read(tu_path("empty.krl"), &len));
	assert_non_null(b = tbuf_from_copy(data, len));
	free(data);
	return b;
}

/* Section type with contents sect appended to the header. */
static struct tbuf *
with_section(uint8_t type, const struct tbuf *sect)
{
	struct tbuf *b = base_header();

	assert_int_equal(tbuf_put_u8(b, type), 0);
	assert_int_equal(tbuf_put_stringb(b, sect), 0);
	return b;
}

/* A certificate section for CA blob (empty: wildcard) with one
 * subsection. */
static struct tbuf *
cert_section(const char *ca, uint8_t subtype, const struct tbuf *sub)
{
	struct tbuf *s = tbuf_new();
	struct sshkey *k;

	assert_non_null(s);
	if (ca == NULL)
		assert_int_equal(tbuf_put_string(s, NULL, 0), 0);
	else {
		struct tbuf *blob = tbuf_new();

		k = load_pub_name(ca);
		assert_int_equal(sshkey_to_blob(k, blob), 0);
		assert_int_equal(tbuf_put_stringb(s, blob), 0);
		tbuf_free(blob);
		sshkey_free(k);
	}
	assert_int_equal(tbuf_put_string(s, NULL, 0), 0);
	assert_int_equal(tbuf_put_u8(s, subtype), 0);
	assert_int_equal(tbuf_put_stringb(s, sub), 0);
	return s;
}

/* Any error will do (which one is another module's choice). */
#define ANY_ERROR 1

/*
 * Judge a crafted KRL: our parse result must be want (0, an error code or
 * ANY_ERROR); ssh-keygen must accept it (keygen_ok) or refuse it. When probe is
 * not NULL, both must say revoked (1) or not (0) on it.
 */
static void
judge_crafted(const char *what, const struct tbuf *b, int want,
    int keygen_ok, const char *probe, int probe_revoked)
{
	struct krl *krl = NULL;
	int e, q;

	e = krl_parse(tbuf_ptr(b), tbuf_len(b), &krl);
	if (want == ANY_ERROR && e < 0)
		e = want;
	if (e != want)
		fail_msg("%s: krl_parse %d (%s), want %d", what, e,
		    trasa_strerror(e), want);
	save(tu_path("crafted.krl"), b);
	q = keygen_query(tu_path("crafted.krl"), probe ? probe : "k_ok.pub");
	if (keygen_ok && q == 255)
		fail_msg("%s: ssh-keygen refuses it", what);
	if (!keygen_ok && q != 255)
		fail_msg("%s: ssh-keygen accepts it", what);
	if (probe != NULL) {
		assert_int_equal(q, probe_revoked);
		assert_int_equal(our_query(krl, probe), probe_revoked);
	}
	krl_free(krl);
}

static struct tbuf *
u64s(int n, ...)
{
	struct tbuf *b = tbuf_new();
	va_list ap;
	int i;

	assert_non_null(b);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_int_equal(tbuf_put_u64(b,
		    (uint64_t)va_arg(ap, unsigned long long)), 0);
	va_end(ap);
	return b;
}

static void
judge_subsection(const char *what, const char *ca, uint8_t subtype,
    struct tbuf *sub, int want, int keygen_ok, const char *probe,
    int probe_revoked)
{
	struct tbuf *s = cert_section(ca, subtype, sub);
	struct tbuf *b = with_section(1, s);

	judge_crafted(what, b, want, keygen_ok, probe, probe_revoked);
	tbuf_free(b);
	tbuf_free(s);
	tbuf_free(sub);
}

/* Bitmap subsection: offset and mpint bytes as given (not normalised). */
static struct tbuf *
bitmap(uint64_t offset, const uint8_t *raw, size_t n)
{
	struct tbuf *b = tbuf_new();

	assert_non_null(b);
	assert_int_equal(tbuf_put_u64(b, offset), 0);
	assert_int_equal(tbuf_put_string(b, raw, n), 0);
	return b;
}

static void
test_crafted_serials(void **state)
{
	uint8_t big[2050];
	const uint8_t seven[] = { 0x07 }, padded[] = { 0x00, 0x00, 0x01 };
	const uint8_t neg[] = { 0x80 };

	(void)state;
	judge_subsection("list", "ca", 0x20, u64s(2, 4ULL, 5ULL), 0, 1,
	    "c_s5-cert.pub", 1);
	judge_subsection("list with 0", "ca", 0x20, u64s(2, 0ULL, 5ULL),
	    TRASA_ERR_FORMAT, 0, NULL, 0);
	judge_subsection("empty list", "ca", 0x20, u64s(0), 0, 1, NULL, 0);
	{
		struct tbuf *sub = u64s(1, 5ULL);

		assert_int_equal(tbuf_put_u8(sub, 0), 0);
		judge_subsection("list + 1 byte", "ca", 0x20, sub,
		    TRASA_ERR_TRUNCATED, 0, NULL, 0);
	}
	judge_subsection("range", NULL, 0x21, u64s(2, 4ULL, 6ULL), 0, 1,
	    "c_s5-cert.pub", 1);
	judge_subsection("range lo > hi", "ca", 0x21, u64s(2, 6ULL, 4ULL),
	    TRASA_ERR_FORMAT, 0, NULL, 0);
	judge_subsection("range from 0", "ca", 0x21, u64s(2, 0ULL, 6ULL),
	    TRASA_ERR_FORMAT, 0, NULL, 0);
	judge_subsection("range + trailing", "ca", 0x21,
	    u64s(3, 4ULL, 6ULL, 7ULL), TRASA_ERR_TRAILING, 0, NULL, 0);
	judge_subsection("range truncated", "ca", 0x21, u64s(1, 4ULL),
	    TRASA_ERR_TRUNCATED, 0, NULL, 0);

	judge_subsection("bitmap 3..5", "ca", 0x22, bitmap(3, seven, 1), 0, 1,
	    "c_s5-cert.pub", 1);
	judge_subsection("bitmap 6..8", "ca", 0x22, bitmap(6, seven, 1), 0, 1,
	    "c_s5-cert.pub", 0);
	judge_subsection("bitmap, zero-padded mpint", "ca", 0x22,
	    bitmap(5, padded, 3), 0, 1, "c_s5-cert.pub", 1);
	judge_subsection("bitmap, negative", "ca", 0x22, bitmap(5, neg, 1),
	    TRASA_ERR_FORMAT, 0, NULL, 0);
	judge_subsection("bitmap, empty", "ca", 0x22, bitmap(5, NULL, 0), 0, 1,
	    "c_s5-cert.pub", 0);
	judge_subsection("bitmap with serial 0", "ca", 0x22,
	    bitmap(0, seven, 1), TRASA_ERR_FORMAT, 0, NULL, 0);
	judge_subsection("bitmap to the top", "ca", 0x22,
	    bitmap(UINT64_MAX - 2, seven, 1), 0, 1, NULL, 0);
	judge_subsection("bitmap wraps", "ca", 0x22,
	    bitmap(UINT64_MAX - 1, seven, 1), TRASA_ERR_FORMAT, 0, NULL, 0);
	/* 2048 bytes of bitmap (after a sign byte) are the limit. */
	memset(big, 0, sizeof(big));
	big[1] = 0x80;
	big[2049] = 0x01;
	judge_subsection("bitmap of 2048 bytes", "ca", 0x22,
	    bitmap(1, big, 2049), 0, 1, NULL, 0);
	big[1] = 0x01;
	judge_subsection("bitmap of 2048 bytes, padded", "ca", 0x22,
	    bitmap(1, big, 2050), TRASA_ERR_TOO_LONG, 0, NULL, 0);
	big[0] = 0x01;
	judge_subsection("bitmap of 2049 bytes", "ca", 0x22,
	    bitmap(1, big, 2049), TRASA_ERR_TOO_LONG, 0, NULL, 0);
}

static struct tbuf *
strings(int n, ...)
{
	struct tbuf *b = tbuf_new();
	va_list ap;
	const char *s;
	int i;

	assert_non_null(b);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		s = va_arg(ap, const char *);
		/* Each "\1" stands for a NUL. */
		assert_int_equal(tbuf_put_u32(b, strlen(s)), 0);
		for (; *s != '\0'; s++)
			assert_int_equal(tbuf_put_u8(b, *s == '\1' ? 0 :
			    (uint8_t)*s), 0);
	}
	va_end(ap);
	return b;
}

static struct tbuf *
extension(const char *name, int critical)
{
	struct tbuf *b = tbuf_new();

	assert_non_null(b);
	assert_int_equal(tbuf_put_cstring(b, name), 0);
	assert_int_equal(tbuf_put_u8(b, critical), 0);
	assert_int_equal(tbuf_put_cstring(b, "data"), 0);
	return b;
}

static void
judge_section(const char *what, uint8_t type, struct tbuf *sect, int want,
    int keygen_ok, const char *probe, int probe_revoked)
{
	struct tbuf *b = with_section(type, sect);

	judge_crafted(what, b, want, keygen_ok, probe, probe_revoked);
	tbuf_free(b);
	tbuf_free(sect);
}

static void
test_crafted_sections(void **state)
{
	struct tbuf *b, *s;
	struct sshkey *k;
	uint8_t h[32];

	(void)state;
	/* Key IDs: at least none (OpenSSH does not insist), a NUL only as
	 * the last byte (and dropped, as OpenSSH's sshbuf_get_cstring). */
	judge_subsection("key IDs", NULL, 0x23, strings(2, "x", "bob"), 0, 1,
	    "c_bob-cert.pub", 1);
	judge_subsection("no key IDs", NULL, 0x23, strings(0), 0, 1,
	    "c_bob-cert.pub", 0);
	judge_subsection("key ID ending in NUL", NULL, 0x23,
	    strings(1, "bob\1"), 0, 1, "c_bob-cert.pub", 1);
	judge_subsection("key ID with a NUL", NULL, 0x23,
	    strings(1, "b\1ob"), TRASA_ERR_STRING_NUL, 0, NULL, 0);
	judge_subsection("unknown subsection", NULL, 0x24, strings(0),
	    TRASA_ERR_FORMAT, 0, NULL, 0);

	/* A CA blob that is not a key. */
	s = strings(2, "ssh-ed25519", "");
	b = with_section(1, s);
	judge_crafted("bad CA key", b, ANY_ERROR, 0, NULL, 0);
	tbuf_free(b);
	tbuf_free(s);

	/* Explicit keys are not parsed (as OpenSSH): garbage never matches. */
	judge_section("explicit garbage", 2, strings(1, "abc"), 0, 1,
	    "k_ok.pub", 0);
	judge_section("no explicit keys", 2, strings(0), 0, 1, "k_ok.pub", 0);
	judge_section("explicit truncated", 2, u64s(1, 0xffULL),
	    TRASA_ERR_TRUNCATED, 0, NULL, 0);

	/* Hashes of the wrong size. */
	k = load_pub_name("k_ok");
	assert_int_equal(sshkey_hash_sha256(k, h), 0);
	s = tbuf_new();
	assert_int_equal(tbuf_put_string(s, h, 32), 0);
	judge_section("sha256", 5, s, 0, 1, "k_ok.pub", 1);
	s = tbuf_new();
	assert_int_equal(tbuf_put_string(s, h, 31), 0);
	judge_section("sha256 of 31 bytes", 5, s, TRASA_ERR_FORMAT, 0, NULL, 0);
	assert_int_equal(sshkey_hash_sha1(k, h), 0);
	s = tbuf_new();
	assert_int_equal(tbuf_put_string(s, h, 20), 0);
	judge_section("sha1", 3, s, 0, 1, "k_ok.pub", 1);
	s = tbuf_new();
	assert_int_equal(tbuf_put_string(s, h, 32), 0);
	judge_section("sha1 of 32 bytes", 3, s, TRASA_ERR_FORMAT, 0, NULL, 0);
	sshkey_free(k);

	/* Unknown section types. */
	judge_section("section 6", 6, strings(0), TRASA_ERR_FORMAT, 0, NULL,
	    0);
	judge_section("section 0", 0, strings(0), TRASA_ERR_FORMAT, 0, NULL,
	    0);

	/*
	 * Extensions (PROTOCOL.krl 1.7, OpenSSH >= 9.4): critical ones are
	 * refused, others ignored. OpenSSH 9.2 knows no extension and
	 * refuses both.
	 */
	judge_section("critical extension", 255, extension("x@example.com",
	    1), TRASA_ERR_UNSUPPORTED, 0, NULL, 0);
	judge_section("extension", 255, extension("x@example.com", 0), 0, 0,
	    NULL, 0);
	judge_subsection("critical cert extension", NULL, 0x39,
	    extension("x@example.com", 1), TRASA_ERR_UNSUPPORTED, 0, NULL, 0);
	judge_subsection("cert extension", NULL, 0x39,
	    extension("x@example.com", 0), 0, 0, NULL, 0);
	s = extension("x@example.com", 0);
	assert_int_equal(tbuf_put_u8(s, 0), 0);
	judge_section("extension + trailing", 255, s, TRASA_ERR_TRAILING, 0,
	    NULL, 0);
}

static void
test_crafted_header(void **state)
{
	struct krl *krl = NULL;
	struct tbuf *b, *h;
	uint8_t junk[1000];
	size_t i;

	(void)state;
	b = base_header();
	judge_crafted("header only", b, 0, 1, NULL, 0);
	assert_int_equal(tbuf_put_u8(b, 1), 0);
	judge_crafted("a lone type byte", b, TRASA_ERR_TRUNCATED, 0, NULL, 0);
	tbuf_free(b);

	/* Wrong magic, wrong format version. */
	b = base_header();
	h = tbuf_from_copy(tbuf_ptr(b), tbuf_len(b));
	assert_non_null(h);
	tbuf_free(b);
	b = tbuf_new();
	assert_int_equal(tbuf_put(b, "SSHKRL\n\1", 8), 0);
	assert_int_equal(tbuf_put(b, tbuf_ptr(h) + 8, tbuf_len(h) - 8), 0);
	judge_crafted("wrong magic", b, TRASA_ERR_FORMAT, 0, NULL, 0);
	tbuf_free(b);
	b = tbuf_new();
	assert_int_equal(tbuf_put(b, tbuf_ptr(h), 8), 0);
	assert_int_equal(tbuf_put_u32(b, 2), 0);
	assert_int_equal(tbuf_put(b, tbuf_ptr(h) + 12, tbuf_len(h) - 12), 0);
	judge_crafted("format version 2", b, TRASA_ERR_UNSUPPORTED, 0, NULL,
	    0);
	tbuf_free(b);

	/* A reserved field is skipped; a comment NUL only at its end. */
	b = tbuf_new();
	assert_int_equal(tbuf_put(b, tbuf_ptr(h), 36), 0);
	assert_int_equal(tbuf_put_cstring(b, "reserved"), 0);
	assert_int_equal(tbuf_put_cstring(b, "comment\1"), 0);
	judge_crafted("reserved field", b, 0, 1, NULL, 0);
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &krl), 0);
	assert_string_equal(krl_comment(krl), "comment\1");
	krl_free(krl);
	krl = NULL;
	tbuf_free(b);
	b = tbuf_new();
	assert_int_equal(tbuf_put(b, tbuf_ptr(h), 36), 0);
	assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	assert_int_equal(tbuf_put_string(b, "comm\0ent", 8), 0);
	judge_crafted("comment with a NUL", b, TRASA_ERR_STRING_NUL, 0, NULL,
	    0);
	tbuf_free(b);
	b = tbuf_new();
	assert_int_equal(tbuf_put(b, tbuf_ptr(h), 36), 0);
	assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	assert_int_equal(tbuf_put_string(b, "comment\0", 8), 0);
	judge_crafted("comment ending in NUL", b, 0, 1, NULL, 0);
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &krl), 0);
	assert_string_equal(krl_comment(krl), "comment");
	krl_free(krl);
	krl = NULL;
	tbuf_free(b);
	tbuf_free(h);

	/* Garbage, nothing, too much. */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(rng() >> 24);
	assert_int_not_equal(krl_parse(junk, sizeof(junk), &krl), 0);
	assert_null(krl);
	memcpy(junk, "SSHKRL\n\0\0\0\0\1", 12);
	assert_int_not_equal(krl_parse(junk, sizeof(junk), &krl), 0);
	assert_null(krl);
	assert_int_not_equal(krl_parse(junk, 0, &krl), 0);
	assert_int_not_equal(krl_parse(NULL, 0, &krl), 0);
	assert_int_equal(krl_parse(junk, (size_t)KRL_MAX_SIZE + 1, &krl),
	    TRASA_ERR_TOO_LONG);
	assert_null(krl);
}

/* The building API on its own. */
static void
test_builder(void **state)
{
	struct krl *krl, *back;
	struct sshkey *ca, *cert, *plain;
	struct tbuf *b;
	char *s;

	(void)state;
	ca = load_pub_name("ca");
	assert_int_equal(krl_new(&krl), 0);
	assert_string_equal(krl_comment(krl), "");
	assert_int_equal(krl_version(krl), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, 0, 5),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(krl_revoke_serial(krl, ca, 6, 5),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(krl_revoke_key_id(krl, ca, NULL),
	    TRASA_ERR_INVALID_ARG);
	/* Overlapping and adjacent ranges merge; duplicates collapse. */
	assert_int_equal(krl_revoke_serial(krl, ca, 10, 20), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, 30, 40), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, 21, 29), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, 50, 50), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, 45, 60), 0);
	assert_int_equal(krl_revoke_serial(krl, ca, UINT64_MAX, UINT64_MAX),
	    0);
	assert_int_equal(krl_revoke_serial(krl, ca, UINT64_MAX - 1,
	    UINT64_MAX), 0);
	assert_int_equal(krl_revoke_key_id(krl, NULL, "zed"), 0);
	assert_int_equal(krl_revoke_key_id(krl, NULL, "amy"), 0);
	assert_int_equal(krl_revoke_key_id(krl, NULL, "zed"), 0);
	/* A certificate revoked as a key: its plain key. */
	cert = tu_load_pub(tu_path("c_s10-cert.pub"));
	assert_int_equal(krl_revoke_key(krl, cert), 0);
	assert_int_equal(krl_revoke_key(krl, cert), 0);
	plain = load_pub_name("subj");
	assert_int_equal(krl_check_key(krl, plain), TRASA_ERR_REVOKED);
	assert_int_equal(krl_check_key(krl, cert), TRASA_ERR_REVOKED);
	assert_int_equal(our_query(krl, "k_ok.pub"), 0);
	krl_set_version(krl, 42);
	krl_set_date(krl, 1700000000);
	assert_int_equal(krl_set_comment(krl, "built"), 0);
	assert_int_equal(krl_version(krl), 42);
	assert_int_equal(krl_date(krl), 1700000000);
	assert_string_equal(krl_comment(krl), "built");

	b = write_krl(krl, NULL);
	save(tu_path("built.krl"), b);
	back = parse_file(tu_path("built.krl"));
	assert_int_equal(krl_version(back), 42);
	assert_int_equal(krl_date(back), 1700000000);
	assert_string_equal(krl_comment(back), "built");
	s = print_krl(back);
	assert_non_null(strstr(s, "serial: 10-40\nserial: 45-60\n"
	    "serial: 18446744073709551614-18446744073709551615\n"));
	assert_non_null(strstr(s, "# Wildcard CA\nid: amy\nid: zed\n"));
	free(s);
	assert_listing_matches(back, tu_path("built.krl"));
	assert_int_equal(keygen_query(tu_path("built.krl"), "subj.pub"), 1);
	assert_int_equal(keygen_query(tu_path("built.krl"), "k_ok.pub"), 0);
	assert_int_equal(our_query(back, "subj.pub"), 1);

	/* krl_write appends to what the buffer holds. */
	tbuf_free(b);
	b = tbuf_new();
	assert_non_null(b);
	assert_int_equal(tbuf_put_cstring(b, "prefix"), 0);
	assert_int_equal(krl_write(krl, NULL, b), 0);
	assert_int_equal(tbuf_consume(b, 10), 0);
	krl_free(back);
	back = NULL;
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &back), 0);
	/* A date of 0 is written as now. */
	krl_set_date(krl, 0);
	tbuf_free(b);
	b = write_krl(krl, NULL);
	krl_free(back);
	back = NULL;
	assert_int_equal(krl_parse(tbuf_ptr(b), tbuf_len(b), &back), 0);
	assert_true(krl_date(back) > 1700000000);

	tbuf_free(b);
	krl_free(back);
	krl_free(krl);
	sshkey_free(cert);
	sshkey_free(plain);
	sshkey_free(ca);
	krl_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_krl_judged),
		cmocka_unit_test(test_written_krl_judged),
		cmocka_unit_test(test_roundtrip_and_listing),
		cmocka_unit_test(test_serial_patterns),
		cmocka_unit_test(test_big_bitmap),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_signed),
		cmocka_unit_test(test_signed_mutations),
		cmocka_unit_test(test_signers),
		cmocka_unit_test(test_crafted_serials),
		cmocka_unit_test(test_crafted_sections),
		cmocka_unit_test(test_crafted_header),
		cmocka_unit_test(test_builder),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

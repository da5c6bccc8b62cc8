/*
 * test_sshcert.c: certificates in both directions against the real
 * ssh-keygen: what it signs we parse and judge as sshd does; what we sign
 * it reads back.
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

/* Key types ssh-keygen makes, and the signature algorithms of each. */
static const struct ktype {
	const char *name;      /* tu_keygen() type */
	const char *algs[2];   /* signature algorithms; NULL-padded */
} ktypes[] = {
	{ "ed25519", { "ssh-ed25519", NULL } },
	{ "ecdsa-256", { "ecdsa-sha2-nistp256", NULL } },
	{ "ecdsa-384", { "ecdsa-sha2-nistp384", NULL } },
	{ "ecdsa-521", { "ecdsa-sha2-nistp521", NULL } },
	{ "rsa-2048", { "rsa-sha2-256", "rsa-sha2-512" } },
};
#define NTYPES (sizeof(ktypes) / sizeof(ktypes[0]))

/* Fixed validity used by most vectors: [VA, VB). */
#define VA 1700000000ULL
#define VB 1700003600ULL
#define MID (VA + 1800)

static struct sshkey *cas[NTYPES];      /* CA private keys, "ca-TYPE" */
static struct sshkey *subjects[NTYPES]; /* subject private keys, "sub-TYPE" */
static struct sshkey *other_ca;         /* an untrusted CA, "ca-other" */

static int
setup_keys(void **state)
{
	char name[64];
	size_t i;

	(void)state;
	for (i = 0; i < NTYPES; i++) {
		snprintf(name, sizeof(name), "ca-%s", ktypes[i].name);
		tu_keygen(ktypes[i].name, name);
		cas[i] = tu_load_priv(tu_path(name));
		snprintf(name, sizeof(name), "sub-%s", ktypes[i].name);
		tu_keygen(ktypes[i].name, name);
		subjects[i] = tu_load_priv(tu_path(name));
	}
	tu_keygen("ed25519", "ca-other");
	other_ca = tu_load_priv(tu_path("ca-other"));
	return 0;
}

static int
teardown_keys(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NTYPES; i++) {
		sshkey_free(cas[i]);
		sshkey_free(subjects[i]);
	}
	sshkey_free(other_ca);
	return 0;
}

/*
 * ssh-keygen -s tu_path(ca) ARGS on a fresh copy of tu_path(subject).pub;
 * returns the certificate it wrote, parsed by us. Saves the copy's base
 * name in name_out when not NULL.
 */
static struct sshkey *
kg_cert(const char *ca, const char *subject, char *name_out, const char *fmt,
    ...)
{
	static unsigned counter;
	char name[64], args[1024], certpath[600];
	struct sshkey *k;
	va_list ap;

	snprintf(name, sizeof(name), "kg%u", counter++);
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	assert_int_equal(tu_sh("cp '%s.pub' '%s.pub'", tu_path(subject),
	    tu_path(name)), 0);
	assert_int_equal(tu_sh("'%s' -q -s '%s' %s '%s.pub' 2>/dev/null",
	    tu_ssh_keygen(), tu_path(ca), args, tu_path(name)), 0);
	snprintf(certpath, sizeof(certpath), "%s-cert.pub", tu_path(name));
	k = tu_load_pub(certpath);
	assert_true(sshkey_is_cert(k));
	if (name_out != NULL)
		strcpy(name_out, name);
	return k;
}

static struct sshcert_policy
user_policy(const char *principal, uint64_t now)
{
	struct sshcert_policy pol;

	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_USER;
	pol.principal = principal;
	pol.now = now;
	return pol;
}

static int
check1(const struct sshkey *cert, const struct sshkey *ca,
    const struct sshcert_policy *pol)
{
	const struct sshkey *set[1] = { ca };

	return sshcert_check(cert, set, 1, NULL, pol);
}

/* 1 when text contains s. */
static int
has_line(const char *text, const char *s)
{
	return text != NULL && strstr(text, s) != NULL;
}

/* ---------------------------------------------------- ssh-keygen -> us */

/*
 * Every CA type with every signature algorithm it makes, over every
 * subject type: parsed, fields as given, valid, and the blob round-trips.
 */
static void
test_keygen_matrix(void **state)
{
	size_t c, a, s, len;
	char name[64], path[600];
	const char *alg;
	struct sshkey *cert, *back;
	struct sshcert_policy pol = user_policy("alice", MID);
	struct tbuf *b;
	uint8_t *fileblob;

	(void)state;
	for (c = 0; c < NTYPES; c++) {
		for (a = 0; a < 2 && (alg = ktypes[c].algs[a]) != NULL; a++) {
			for (s = 0; s < NTYPES; s++) {
				char subj[64], caname[64];

				snprintf(caname, sizeof(caname), "ca-%s",
				    ktypes[c].name);
				snprintf(subj, sizeof(subj), "sub-%s",
				    ktypes[s].name);
				cert = kg_cert(caname, subj, name,
				    "%s%s -I 'id %zu/%zu/%zu' -n alice,bob "
				    "-V 0x%llx:0x%llx -z %zu",
				    strncmp(alg, "rsa", 3) == 0 ? "-t " : "",
				    strncmp(alg, "rsa", 3) == 0 ? alg : "",
				    c, a, s, (unsigned long long)VA,
				    (unsigned long long)VB, 1000 + c * 100 + s);
				assert_int_equal(sshkey_type(cert),
				    sshkey_type(subjects[s]));
				assert_true(sshkey_equal_public(cert,
				    subjects[s]));
				assert_int_equal(sshcert_type(cert),
				    SSHCERT_USER);
				assert_int_equal(sshcert_serial(cert),
				    1000 + c * 100 + s);
				assert_int_equal(sshcert_nprincipals(cert), 2);
				assert_string_equal(sshcert_principal(cert, 0),
				    "alice");
				assert_string_equal(sshcert_principal(cert, 1),
				    "bob");
				assert_null(sshcert_principal(cert, 2));
				assert_int_equal(sshcert_valid_after(cert), VA);
				assert_int_equal(sshcert_valid_before(cert),
				    VB);
				assert_string_equal(sshcert_signature_alg(cert),
				    alg);
				assert_true(sshkey_equal_public(
				    sshcert_signature_key(cert), cas[c]));
				assert_false(sshkey_is_cert(
				    sshcert_signature_key(cert)));
				/* ssh-keygen's five default extensions. */
				assert_int_equal(sshcert_nextensions(cert), 5);
				assert_int_equal(sshcert_ncritical(cert), 0);
				assert_int_equal(check1(cert, cas[c], &pol), 0);

				/* Blob: identical to the file's, re-parses. */
				snprintf(path, sizeof(path), "%s-cert.pub",
				    tu_path(name));
				fileblob = tu_pub_blob(path, &len);
				assert_non_null(b = tbuf_new());
				assert_int_equal(sshkey_to_blob(cert, b), 0);
				assert_int_equal(tbuf_len(b), len);
				assert_memory_equal(tbuf_ptr(b), fileblob, len);
				assert_int_equal(sshkey_from_blob(tbuf_ptr(b),
				    tbuf_len(b), &back), 0);
				assert_int_equal(sshcert_serial(back),
				    sshcert_serial(cert));
				assert_int_equal(check1(back, cas[c], &pol), 0);
				sshkey_free(back);
				tbuf_free(b);
				free(fileblob);
				sshkey_free(cert);
			}
		}
	}
}

/* Validity, skew, CA trust, principal and type, as sshd judges them. */
static void
test_keygen_judgement(void **state)
{
	struct sshkey *cert;
	struct sshcert_policy pol;
	const struct sshkey *set[3];

	(void)state;
	cert = kg_cert("ca-ecdsa-256", "sub-ed25519", NULL,
	    "-I judged -n alice,bob -V 0x%llx:0x%llx",
	    (unsigned long long)VA, (unsigned long long)VB);

	pol = user_policy("bob", MID);
	assert_int_equal(check1(cert, cas[1], &pol), 0);
	/* sshd: now < valid_after is not yet valid, now >= valid_before
	 * expired. */
	pol.now = VA;
	assert_int_equal(check1(cert, cas[1], &pol), 0);
	pol.now = VA - 1;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_NOT_YET_VALID);
	pol.now = VB - 1;
	assert_int_equal(check1(cert, cas[1], &pol), 0);
	pol.now = VB;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_EXPIRED);
	pol.now = VB + 86400;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_EXPIRED);
	pol.now = 0;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_NOT_YET_VALID);

	/* Skew widens both ends by exactly its amount. */
	pol.skew = 10;
	pol.now = VA - 10;
	assert_int_equal(check1(cert, cas[1], &pol), 0);
	pol.now = VA - 11;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_NOT_YET_VALID);
	pol.now = VB + 9;
	assert_int_equal(check1(cert, cas[1], &pol), 0);
	pol.now = VB + 10;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_EXPIRED);
	/* No wrap-around at the ends of the clock. */
	pol.skew = UINT32_MAX;
	pol.now = UINT64_MAX;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_EXPIRED);
	pol.skew = 100;
	pol.now = 5;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_NOT_YET_VALID);
	pol.skew = 0;
	pol.now = MID;

	/* CA trust: unknown, several (rotation), none, certificate. */
	assert_int_equal(check1(cert, other_ca, &pol), TRASA_ERR_UNKNOWN_CA);
	assert_int_equal(check1(cert, cas[2], &pol), TRASA_ERR_UNKNOWN_CA);
	set[0] = other_ca;
	set[1] = NULL;
	set[2] = cas[1];
	assert_int_equal(sshcert_check(cert, set, 3, NULL, &pol), 0);
	assert_int_equal(sshcert_check(cert, set, 2, NULL, &pol),
	    TRASA_ERR_UNKNOWN_CA);
	assert_int_equal(sshcert_check(cert, NULL, 0, NULL, &pol),
	    TRASA_ERR_UNKNOWN_CA);
	/* A certificate of the CA key in the trust set does not count. */
	{
		struct sshkey *cacert = kg_cert("ca-other", "ca-ecdsa-256",
		    NULL, "-I cacert -n x");

		assert_true(sshkey_equal_public(cacert, cas[1]));
		assert_int_equal(check1(cert, cacert, &pol),
		    TRASA_ERR_UNKNOWN_CA);
		sshkey_free(cacert);
	}

	/* Principals: exact match, no wildcards; NULL skips. */
	pol.principal = "carol";
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_PRINCIPAL);
	pol.principal = "ali*";
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_PRINCIPAL);
	pol.principal = "alice ";
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_PRINCIPAL);
	pol.principal = NULL;
	assert_int_equal(check1(cert, cas[1], &pol), 0);

	/* Type. */
	pol.principal = "alice";
	pol.type = SSHCERT_HOST;
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_CERT_TYPE);

	/* Order: an unknown CA is reported before the type and validity. */
	pol.now = VB + 100;
	assert_int_equal(check1(cert, other_ca, &pol), TRASA_ERR_UNKNOWN_CA);
	/* ... the type before validity, validity before principals. */
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_CERT_TYPE);
	pol.type = SSHCERT_USER;
	pol.principal = "nobody";
	assert_int_equal(check1(cert, cas[1], &pol), TRASA_ERR_EXPIRED);
	sshkey_free(cert);

	/* always:forever */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I forever -n alice -V always:forever");
	assert_int_equal(sshcert_valid_after(cert), 0);
	assert_int_equal(sshcert_valid_before(cert), SSHCERT_FOREVER);
	pol = user_policy("alice", 0);
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	pol.now = UINT64_MAX - 1;
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	sshkey_free(cert);
}

/* Principal lists: empty (user refused, host any), and host certs. */
static void
test_keygen_principals_and_hosts(void **state)
{
	struct sshkey *cert;
	struct sshcert_policy pol;

	(void)state;
	/* ssh-keygen signs a user certificate without -n; sshd refuses it. */
	cert = kg_cert("ca-ed25519", "sub-ecdsa-384", NULL, "-I nobody");
	assert_int_equal(sshcert_nprincipals(cert), 0);
	pol = user_policy("alice", MID);
	assert_int_equal(check1(cert, cas[0], &pol), TRASA_ERR_NO_PRINCIPALS);
	pol.principal = NULL;
	assert_int_equal(check1(cert, cas[0], &pol), TRASA_ERR_NO_PRINCIPALS);
	sshkey_free(cert);

	/* Host certificate: type 2, no extensions, exact host names. */
	cert = kg_cert("ca-rsa-2048", "sub-ecdsa-256", NULL,
	    "-t rsa-sha2-512 -h -I host1 -n host1.example.com,10.0.0.5 "
	    "-V 0x%llx:0x%llx -z 77", (unsigned long long)VA,
	    (unsigned long long)VB);
	assert_int_equal(sshcert_type(cert), SSHCERT_HOST);
	assert_int_equal(sshcert_serial(cert), 77);
	assert_int_equal(sshcert_nextensions(cert), 0);
	pol = user_policy("host1.example.com", MID);
	pol.type = SSHCERT_HOST;
	assert_int_equal(check1(cert, cas[4], &pol), 0);
	pol.principal = "10.0.0.5";
	assert_int_equal(check1(cert, cas[4], &pol), 0);
	pol.principal = "host2.example.com";
	assert_int_equal(check1(cert, cas[4], &pol), TRASA_ERR_PRINCIPAL);
	pol.principal = "host1.example.com";
	pol.type = SSHCERT_USER;
	assert_int_equal(check1(cert, cas[4], &pol), TRASA_ERR_CERT_TYPE);
	pol.type = SSHCERT_HOST;
	pol.now = VB;
	assert_int_equal(check1(cert, cas[4], &pol), TRASA_ERR_EXPIRED);
	sshkey_free(cert);

	/* ssh takes a host certificate without principals for any host. */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL, "-h -I anyhost");
	assert_int_equal(sshcert_nprincipals(cert), 0);
	pol = user_policy("whatever.example.org", 12345);
	pol.type = SSHCERT_HOST;
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	sshkey_free(cert);
}

/* Critical options and extensions as ssh-keygen -O writes them. */
static void
test_keygen_options(void **state)
{
	struct sshkey *cert;
	struct sshcert_policy pol;
	const char *name, *value;

	(void)state;
	cert = kg_cert("ca-ecdsa-521", "sub-rsa-2048", NULL,
	    "-I opts -n alice -O clear -O force-command='/usr/bin/id -a' "
	    "-O source-address=10.0.0.0/8,192.168.1.7,2001:db8::/32 "
	    "-O permit-pty -O extension:trasa@example.com=hello "
	    "-O extension:flag@example.com");
	assert_int_equal(sshcert_ncritical(cert), 2);
	assert_int_equal(sshcert_critical(cert, 0, &name, &value), 0);
	assert_string_equal(name, "force-command");
	assert_string_equal(value, "/usr/bin/id -a");
	assert_int_equal(sshcert_critical(cert, 1, &name, &value), 0);
	assert_string_equal(name, "source-address");
	assert_string_equal(value, "10.0.0.0/8,192.168.1.7,2001:db8::/32");
	assert_int_equal(sshcert_critical(cert, 2, &name, &value),
	    TRASA_ERR_INVALID_ARG);
	/* Sorted by name, as written. */
	assert_int_equal(sshcert_nextensions(cert), 3);
	assert_int_equal(sshcert_extension(cert, 0, &name, &value), 0);
	assert_string_equal(name, "flag@example.com");
	assert_null(value);
	assert_int_equal(sshcert_extension(cert, 1, &name, &value), 0);
	assert_string_equal(name, "permit-pty");
	assert_null(value);
	assert_int_equal(sshcert_extension(cert, 2, &name, &value), 0);
	assert_string_equal(name, "trasa@example.com");
	assert_string_equal(value, "hello");

	/* Unknown extensions are ignored; source-address is matched. */
	pol = user_policy("alice", 1);
	assert_int_equal(check1(cert, cas[3], &pol), 0);
	pol.source_address = "10.200.3.4";
	assert_int_equal(check1(cert, cas[3], &pol), 0);
	pol.source_address = "192.168.1.7";
	assert_int_equal(check1(cert, cas[3], &pol), 0);
	pol.source_address = "2001:db8:1234::9";
	assert_int_equal(check1(cert, cas[3], &pol), 0);
	pol.source_address = "192.168.1.8";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_SOURCE_ADDRESS);
	pol.source_address = "11.0.0.1";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_SOURCE_ADDRESS);
	pol.source_address = "2001:db9::1";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_SOURCE_ADDRESS);
	pol.source_address = "::ffff:10.0.0.1";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_SOURCE_ADDRESS);
	pol.source_address = "not-an-address";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_SOURCE_ADDRESS);
	/* Principal checks come before options. */
	pol.principal = "bob";
	assert_int_equal(check1(cert, cas[3], &pol), TRASA_ERR_PRINCIPAL);
	sshkey_free(cert);

	/* sshd's own short forms: "127.1" is 127.0.0.1 on this platform. */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I short -n alice -O source-address=127.1,::1");
	pol = user_policy("alice", 1);
	pol.source_address = "127.0.0.1";
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	pol.source_address = "::1";
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	pol.source_address = "127.0.0.2";
	assert_int_equal(check1(cert, cas[0], &pol), TRASA_ERR_SOURCE_ADDRESS);
	/* sshd compares IPv6 scopes: a scoped address is another address. */
	pol.source_address = "::1%1";
	assert_int_equal(check1(cert, cas[0], &pol), TRASA_ERR_SOURCE_ADDRESS);
	sshkey_free(cert);

	/* verify-required is known to sshd 9.2. */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I vr -n alice -O verify-required");
	assert_int_equal(sshcert_critical(cert, 0, &name, &value), 0);
	assert_string_equal(name, "verify-required");
	assert_null(value);
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	sshkey_free(cert);

	/* Unknown critical option: refused, with or without a value. */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I crit -n alice -O critical:foo=bar");
	assert_int_equal(sshcert_critical(cert, 0, &name, &value), 0);
	assert_string_equal(name, "foo");
	assert_string_equal(value, "bar");
	pol = user_policy("alice", 1);
	assert_int_equal(check1(cert, cas[0], &pol),
	    TRASA_ERR_CRITICAL_OPTION);
	sshkey_free(cert);
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I crit -n alice -O force-command=/bin/true -O critical:zzz");
	assert_int_equal(sshcert_ncritical(cert), 2);
	assert_int_equal(check1(cert, cas[0], &pol),
	    TRASA_ERR_CRITICAL_OPTION);
	sshkey_free(cert);

	/* ssh-keygen -O clear: no extensions at all. */
	cert = kg_cert("ca-ed25519", "sub-ed25519", NULL,
	    "-I clear -n alice -O clear");
	assert_int_equal(sshcert_nextensions(cert), 0);
	assert_int_equal(check1(cert, cas[0], &pol), 0);
	sshkey_free(cert);
}

/* SHA-1 "ssh-rsa" CA signatures: parsed, refused unless allowed. */
static void
test_keygen_sha1(void **state)
{
	struct sshkey *cert;
	struct sshcert_policy pol;

	(void)state;
	cert = kg_cert("ca-rsa-2048", "sub-ed25519", NULL,
	    "-t ssh-rsa -I legacy -n alice");
	assert_string_equal(sshcert_signature_alg(cert), "ssh-rsa");
	pol = user_policy("alice", MID);
	assert_int_equal(check1(cert, cas[4], &pol), TRASA_ERR_SIG_ALG);
	pol.flags = SSHKEY_ALLOW_SHA1;
	assert_int_equal(check1(cert, cas[4], &pol), 0);
	/* The algorithm check comes first, even before CA trust. */
	pol.flags = 0;
	assert_int_equal(check1(cert, other_ca, &pol), TRASA_ERR_SIG_ALG);
	pol.flags = SSHKEY_ALLOW_SHA1;
	assert_int_equal(check1(cert, other_ca, &pol), TRASA_ERR_UNKNOWN_CA);
	sshkey_free(cert);
}

/* Validity bounds print as ssh-keygen -L prints them. */
static void
test_format_time(void **state)
{
	char *out, from[64], to[64], want[200];
	char buf[64];

	(void)state;
	sshcert_format_time(0, 0, buf, sizeof(buf));
	assert_string_equal(buf, "always");
	sshcert_format_time(SSHCERT_FOREVER, 1, buf, sizeof(buf));
	assert_string_equal(buf, "forever");

	assert_int_equal(tu_sh("cp '%s.pub' '%s.pub'", tu_path("sub-ed25519"),
	    tu_path("fmt")), 0);
	assert_int_equal(tu_sh("'%s' -q -s '%s' -I t -n a -V 0x%llx:0x%llx "
	    "'%s.pub' 2>/dev/null", tu_ssh_keygen(), tu_path("ca-ed25519"),
	    (unsigned long long)VA, (unsigned long long)VB, tu_path("fmt")), 0);
	out = tu_sh_out("'%s' -L -f '%s-cert.pub'", tu_ssh_keygen(),
	    tu_path("fmt"));
	assert_non_null(out);
	sshcert_format_time(VA, 0, from, sizeof(from));
	sshcert_format_time(VB, 1, to, sizeof(to));
	snprintf(want, sizeof(want), "Valid: from %s to %s\n", from, to);
	assert_true(has_line(out, want));
	free(out);

	/* Tiny buffers are never overrun. */
	memset(buf, 'x', sizeof(buf));
	sshcert_format_time(VA, 0, buf, 5);
	assert_true(strlen(buf) < 5);
	assert_int_equal(buf[5], 'x');
}

/* ---------------------------------------------------- us -> ssh-keygen */

/* Write k as a -cert.pub file and return ssh-keygen -L's output. */
static char *
keygen_show(const struct sshkey *k, const char *name)
{
	char *line = NULL;
	FILE *f;

	assert_int_equal(sshkey_format_public(k, "made-by-trasa", &line), 0);
	assert_non_null(f = fopen(tu_path(name), "w"));
	fprintf(f, "%s\n", line);
	assert_int_equal(fclose(f), 0);
	free(line);
	return tu_sh_out("'%s' -L -f '%s'", tu_ssh_keygen(), tu_path(name));
}

static struct sshkey *
build_user(const struct sshkey *subject)
{
	struct sshkey *k = NULL;

	assert_int_equal(sshcert_new(subject, SSHCERT_USER, &k), 0);
	assert_true(sshkey_is_cert(k));
	assert_false(sshkey_has_private(k));
	assert_int_equal(sshcert_set_serial(k, 12345678901234ULL), 0);
	assert_int_equal(sshcert_set_key_id(k, "trasa alice@example.com"), 0);
	assert_int_equal(sshcert_add_principal(k, "alice"), 0);
	assert_int_equal(sshcert_add_principal(k, "admin"), 0);
	assert_int_equal(sshcert_set_validity(k, VA, VB), 0);
	/* Added out of order: sorted when signed. */
	assert_int_equal(sshcert_add_critical(k, "source-address",
	    "10.0.0.0/8,::1"), 0);
	assert_int_equal(sshcert_add_critical(k, "force-command",
	    "/usr/bin/uptime"), 0);
	assert_int_equal(sshcert_add_extension(k, "zz-trasa@example.com",
	    "v1"), 0);
	assert_int_equal(sshcert_add_default_extensions(k), 0);
	return k;
}

/* A user certificate signed by each CA type (every algorithm). */
static void
test_sign_accepted_by_keygen(void **state)
{
	size_t c, a, i;
	const char *alg;
	struct sshkey *k, *back;
	struct tbuf *b;
	char *out, want[256];
	const char *n1, *n2, *v1, *v2;
	struct sshcert_policy pol;
	static const char *const lines[] = {
		"Serial: 12345678901234\n",
		"Key ID: \"trasa alice@example.com\"\n",
		"Principals: \n                alice\n                admin\n",
		"Critical Options: \n"
		"                force-command /usr/bin/uptime\n"
		"                source-address 10.0.0.0/8,::1\n",
		"Extensions: \n"
		"                permit-X11-forwarding\n"
		"                permit-agent-forwarding\n"
		"                permit-port-forwarding\n"
		"                permit-pty\n"
		"                permit-user-rc\n"
		"                zz-trasa@example.com UNKNOWN OPTION: "
		"000000027631 (len 6)\n",
	};

	(void)state;
	for (c = 0; c < NTYPES; c++) {
		for (a = 0; a < 2 && (alg = ktypes[c].algs[a]) != NULL; a++) {
			k = build_user(subjects[(c + 1) % NTYPES]);
			assert_int_equal(sshcert_sign(k, cas[c], alg), 0);
			assert_string_equal(sshcert_signature_alg(k), alg);
			assert_true(sshkey_equal_public(
			    sshcert_signature_key(k), cas[c]));
			assert_false(sshkey_has_private(
			    sshcert_signature_key(k)));

			out = keygen_show(k, "ours-cert.pub");
			assert_non_null(out);
			snprintf(want, sizeof(want), "Type: %s user "
			    "certificate\n", sshkey_ssh_name(k));
			assert_true(has_line(out, want));
			snprintf(want, sizeof(want), "(using %s)\n", alg);
			assert_true(has_line(out, want));
			for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
				if (!has_line(out, lines[i]))
					fail_msg("missing in ssh-keygen -L:\n"
					    "%s\n--- output:\n%s", lines[i],
					    out);
			}
			free(out);

			/* Round trip through the wire blob. */
			assert_non_null(b = tbuf_new());
			assert_int_equal(sshkey_to_blob(k, b), 0);
			assert_int_equal(sshkey_from_blob(tbuf_ptr(b),
			    tbuf_len(b), &back), 0);
			assert_int_equal(sshcert_type(back), SSHCERT_USER);
			assert_int_equal(sshcert_serial(back),
			    12345678901234ULL);
			assert_string_equal(sshcert_key_id(back),
			    "trasa alice@example.com");
			assert_int_equal(sshcert_nprincipals(back), 2);
			assert_string_equal(sshcert_principal(back, 0),
			    "alice");
			assert_string_equal(sshcert_principal(back, 1),
			    "admin");
			assert_int_equal(sshcert_valid_after(back), VA);
			assert_int_equal(sshcert_valid_before(back), VB);
			assert_int_equal(sshcert_ncritical(back), 2);
			assert_int_equal(sshcert_nextensions(back), 6);
			for (i = 0; i < 2; i++) {
				assert_int_equal(sshcert_critical(k, i, &n1,
				    &v1), 0);
				assert_int_equal(sshcert_critical(back, i, &n2,
				    &v2), 0);
				assert_string_equal(n1, n2);
				assert_string_equal(v1, v2);
			}
			for (i = 0; i < 6; i++) {
				assert_int_equal(sshcert_extension(k, i, &n1,
				    &v1), 0);
				assert_int_equal(sshcert_extension(back, i,
				    &n2, &v2), 0);
				assert_string_equal(n1, n2);
				if (v1 == NULL)
					assert_null(v2);
				else
					assert_string_equal(v1, v2);
			}
			assert_string_equal(sshcert_signature_alg(back), alg);
			assert_true(sshkey_equal_public(back, k));
			assert_true(sshkey_equal_public(
			    sshcert_signature_key(back), cas[c]));
			pol = user_policy("admin", MID);
			pol.source_address = "::1";
			assert_int_equal(check1(back, cas[c], &pol), 0);
			assert_int_equal(check1(k, cas[c], &pol), 0);
			/* And re-emitted byte for byte. */
			{
				struct tbuf *b2 = tbuf_new();

				assert_non_null(b2);
				assert_int_equal(sshkey_to_blob(back, b2), 0);
				assert_int_equal(tbuf_len(b2), tbuf_len(b));
				assert_memory_equal(tbuf_ptr(b2), tbuf_ptr(b),
				    tbuf_len(b));
				tbuf_free(b2);
			}
			tbuf_free(b);
			sshkey_free(back);
			sshkey_free(k);
		}
	}
}

/* Host certificates we sign; default algorithm; ssh-keygen -L. */
static void
test_sign_host(void **state)
{
	struct sshkey *k = NULL;
	struct sshcert_policy pol;
	char *out;

	(void)state;
	assert_int_equal(sshcert_new(subjects[0], SSHCERT_HOST, &k), 0);
	assert_int_equal(sshcert_set_key_id(k, "host web1"), 0);
	assert_int_equal(sshcert_add_principal(k, "web1.example.com"), 0);
	assert_int_equal(sshcert_add_principal(k, "web1"), 0);
	assert_int_equal(sshcert_set_serial(k, 9), 0);
	/* alg NULL: the CA's default (rsa-sha2-512 for RSA). */
	assert_int_equal(sshcert_sign(k, cas[4], NULL), 0);
	assert_string_equal(sshcert_signature_alg(k), "rsa-sha2-512");
	out = keygen_show(k, "ours-host-cert.pub");
	assert_true(has_line(out, "Type: ssh-ed25519-cert-v01@openssh.com "
	    "host certificate\n"));
	assert_true(has_line(out, "Valid: forever\n"));
	assert_true(has_line(out, "Serial: 9\n"));
	assert_true(has_line(out, "Critical Options: (none)\n"));
	assert_true(has_line(out, "Extensions: (none)\n"));
	free(out);
	pol = user_policy("web1", 42);
	pol.type = SSHCERT_HOST;
	assert_int_equal(check1(k, cas[4], &pol), 0);
	sshkey_free(k);

	/* A host certificate with a critical option is refused by ssh. */
	assert_int_equal(sshcert_new(subjects[1], SSHCERT_HOST, &k), 0);
	assert_int_equal(sshcert_add_principal(k, "web1"), 0);
	assert_int_equal(sshcert_add_critical(k, "force-command", "/bin/true"),
	    0);
	assert_int_equal(sshcert_sign(k, cas[0], NULL), 0);
	assert_int_equal(check1(k, cas[0], &pol), TRASA_ERR_CRITICAL_OPTION);
	sshkey_free(k);

	/* A host certificate may be signed without principals. */
	assert_int_equal(sshcert_new(subjects[1], SSHCERT_HOST, &k), 0);
	assert_int_equal(sshcert_sign(k, cas[1], NULL), 0);
	assert_int_equal(check1(k, cas[1], &pol), 0);
	sshkey_free(k);
}

/* What sshcert_sign() and the builders refuse. */
static void
test_sign_refusals(void **state)
{
	struct sshkey *k = NULL, *pub = NULL, *cacert, *k2 = NULL;
	struct tbuf *b;
	char p[32];
	int i;

	(void)state;
	assert_int_equal(sshcert_new(subjects[0], 3, &k),
	    TRASA_ERR_INVALID_ARG);
	assert_null(k);
	assert_int_equal(sshcert_new(subjects[0], SSHCERT_USER, &k), 0);

	/* Our choice: no user certificate without principals. */
	assert_int_equal(sshcert_sign(k, cas[0], NULL),
	    TRASA_ERR_NO_PRINCIPALS);
	assert_int_equal(sshcert_add_principal(k, "alice"), 0);
	/* Not signed yet: no blob, not valid. */
	assert_non_null(b = tbuf_new());
	assert_int_not_equal(sshkey_to_blob(k, b), 0);
	{
		struct sshcert_policy pol = user_policy("alice", 1);

		assert_int_equal(check1(k, cas[0], &pol),
		    TRASA_ERR_BAD_SIGNATURE);
	}

	/* CA: a certificate, a public key, a wrong or SHA-1 algorithm. */
	cacert = kg_cert("ca-other", "ca-ed25519", NULL, "-I c -n x");
	assert_int_equal(sshcert_sign(k, cacert, NULL), TRASA_ERR_CA_IS_CERT);
	sshkey_free(cacert);
	assert_int_equal(sshkey_dup_public(cas[0], &pub), 0);
	assert_int_equal(sshcert_sign(k, pub, NULL), TRASA_ERR_INVALID_ARG);
	sshkey_free(pub);
	assert_int_equal(sshcert_sign(k, cas[4], "ssh-rsa"), TRASA_ERR_SIG_ALG);
	assert_int_equal(sshcert_sign(k, cas[0], "rsa-sha2-256"),
	    TRASA_ERR_SIG_ALG);
	assert_int_equal(sshcert_sign(k, cas[1], "ecdsa-sha2-nistp384"),
	    TRASA_ERR_SIG_ALG);
	assert_int_equal(sshcert_sign(k, cas[0], "no-such-alg"),
	    TRASA_ERR_SIG_ALG);

	/* Validity: empty intervals are refused. */
	assert_int_equal(sshcert_set_validity(k, 5, 5), TRASA_ERR_BAD_VALIDITY);
	assert_int_equal(sshcert_set_validity(k, 6, 5), TRASA_ERR_BAD_VALIDITY);
	/* Duplicate options. */
	assert_int_equal(sshcert_add_critical(k, "force-command", "a"), 0);
	assert_int_equal(sshcert_add_critical(k, "force-command", "b"),
	    TRASA_ERR_OPTION_ORDER);
	assert_int_equal(sshcert_add_extension(k, "permit-pty", NULL), 0);
	assert_int_equal(sshcert_add_extension(k, "permit-pty", NULL),
	    TRASA_ERR_OPTION_ORDER);
	/* The defaults skip what is already there. */
	assert_int_equal(sshcert_add_default_extensions(k), 0);
	assert_int_equal(sshcert_nextensions(k), 5);
	assert_int_equal(sshcert_add_critical(k, "", NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(sshcert_add_critical(k, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(sshcert_add_principal(k, NULL), TRASA_ERR_INVALID_ARG);
	assert_int_equal(sshcert_set_key_id(k, NULL), TRASA_ERR_INVALID_ARG);
	/* Caps on counts. */
	for (i = 1; i < SSHCERT_MAX_PRINCIPALS; i++) {
		snprintf(p, sizeof(p), "p%d", i);
		assert_int_equal(sshcert_add_principal(k, p), 0);
	}
	assert_int_equal(sshcert_nprincipals(k), SSHCERT_MAX_PRINCIPALS);
	assert_int_equal(sshcert_add_principal(k, "one-too-many"),
	    TRASA_ERR_TOO_MANY);
	for (i = 0; sshcert_nextensions(k) < SSHCERT_MAX_OPTIONS; i++) {
		snprintf(p, sizeof(p), "x%d@example.com", i);
		assert_int_equal(sshcert_add_extension(k, p, NULL), 0);
	}
	assert_int_equal(sshcert_add_extension(k, "y@example.com", NULL),
	    TRASA_ERR_TOO_MANY);

	/* A full certificate signs and parses back. */
	assert_int_equal(sshcert_sign(k, cas[2], NULL), 0);
	tbuf_reset(b);
	assert_int_equal(sshkey_to_blob(k, b), 0);
	assert_int_equal(sshkey_from_blob(tbuf_ptr(b), tbuf_len(b), &k2), 0);
	assert_int_equal(sshcert_nprincipals(k2), SSHCERT_MAX_PRINCIPALS);
	assert_int_equal(sshcert_nextensions(k2), SSHCERT_MAX_OPTIONS);
	sshkey_free(k2);

	/* Any change after signing drops the signature. */
	assert_int_equal(sshcert_set_serial(k, 2), 0);
	assert_null(sshcert_signature_key(k));
	assert_null(sshcert_signature_alg(k));
	tbuf_reset(b);
	assert_int_not_equal(sshkey_to_blob(k, b), 0);
	/* Re-signing with another CA works. */
	assert_int_equal(sshcert_sign(k, cas[3], NULL), 0);
	assert_string_equal(sshcert_signature_alg(k), "ecdsa-sha2-nistp521");
	tbuf_free(b);
	sshkey_free(k);
}

/* Accessors on a plain key; sshcert_check on a plain key. */
static void
test_plain_key_accessors(void **state)
{
	const char *n = "unset", *v = "unset";
	struct sshcert_policy pol = user_policy("a", 1);
	const struct sshkey *set[1] = { cas[0] };
	struct sshkey *k = NULL;

	(void)state;
	assert_int_equal(sshcert_type(subjects[0]), 0);
	assert_int_equal(sshcert_serial(subjects[0]), 0);
	assert_null(sshcert_key_id(subjects[0]));
	assert_int_equal(sshcert_nprincipals(subjects[0]), 0);
	assert_null(sshcert_principal(subjects[0], 0));
	assert_int_equal(sshcert_valid_after(subjects[0]), 0);
	assert_int_equal(sshcert_valid_before(subjects[0]), 0);
	assert_int_equal(sshcert_ncritical(subjects[0]), 0);
	assert_int_equal(sshcert_nextensions(subjects[0]), 0);
	assert_int_equal(sshcert_critical(subjects[0], 0, &n, &v),
	    TRASA_ERR_NOT_CERT);
	assert_int_equal(sshcert_extension(subjects[0], 0, &n, &v),
	    TRASA_ERR_NOT_CERT);
	assert_string_equal(n, "unset");
	assert_string_equal(v, "unset");
	assert_null(sshcert_signature_key(subjects[0]));
	assert_null(sshcert_signature_alg(subjects[0]));
	assert_int_equal(sshcert_check(subjects[0], set, 1, NULL, &pol),
	    TRASA_ERR_NOT_CERT);
	assert_int_equal(sshcert_check(subjects[0], set, 1, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(sshcert_set_serial(subjects[0], 1),
	    TRASA_ERR_NOT_CERT);
	assert_int_equal(sshcert_add_principal(subjects[0], "a"),
	    TRASA_ERR_NOT_CERT);
	assert_int_equal(sshcert_sign(subjects[0], cas[0], NULL),
	    TRASA_ERR_NOT_CERT);
	/* A new certificate starts as ssh-keygen's: always:forever. */
	assert_int_equal(sshcert_new(subjects[4], SSHCERT_USER, &k), 0);
	assert_int_equal(sshcert_valid_after(k), 0);
	assert_int_equal(sshcert_valid_before(k), SSHCERT_FOREVER);
	assert_string_equal(sshcert_key_id(k), "");
	assert_int_equal(sshcert_serial(k), 0);
	assert_int_equal(sshcert_type(k), SSHCERT_USER);
	assert_int_equal(sshkey_type(k), SSHKEY_RSA);
	assert_true(sshkey_equal_public(k, subjects[4]));
	sshkey_free(k);
}

/* ------------------------------------------------------------ crafted blobs */

/*
 * Hand-made certificates for what neither ssh-keygen nor our builder
 * writes: fields given raw, signed with ca over everything before the
 * signature. sigfield is the key put in the signature key field.
 */
struct craft {
	const struct sshkey *subject;
	const struct sshkey *ca;
	const struct sshkey *sigfield; /* NULL: ca */
	uint32_t type;
	const char *const *principals; /* NULL-terminated */
	struct tbuf *princ_raw;        /* instead of principals */
	const char *key_id;            /* NULL: "crafted" */
	size_t key_id_len;
	struct tbuf *crit;             /* NULL: empty */
	struct tbuf *exts;             /* NULL: empty */
	uint64_t valid_after, valid_before;
	int trailing;                  /* extra byte after the signature */
	int corrupt_sig;               /* flip a byte in the signed data */
};

static struct tbuf *
craft_blob(const struct craft *cf)
{
	struct tbuf *b, *t, *sig;
	const uint8_t *name;
	size_t namelen, i;
	char certname[128];
	static const uint8_t nonce[32] = { 1, 2, 3 };

	assert_non_null(b = tbuf_new());
	assert_non_null(t = tbuf_new());
	assert_non_null(sig = tbuf_new());
	snprintf(certname, sizeof(certname), "%s-cert-v01@openssh.com",
	    sshkey_plain_name(cf->subject));
	assert_int_equal(tbuf_put_cstring(b, certname), 0);
	assert_int_equal(tbuf_put_string(b, nonce, sizeof(nonce)), 0);
	/* The plain blob without its name is the public key part. */
	assert_int_equal(sshkey_plain_to_blob(cf->subject, t), 0);
	assert_int_equal(tbuf_get_string_direct(t, &name, &namelen, 0), 0);
	assert_int_equal(tbuf_put(b, tbuf_ptr(t), tbuf_len(t)), 0);
	tbuf_free(t);
	assert_int_equal(tbuf_put_u64(b, 4242), 0);
	assert_int_equal(tbuf_put_u32(b, cf->type), 0);
	if (cf->key_id != NULL)
		assert_int_equal(tbuf_put_string(b, cf->key_id,
		    cf->key_id_len), 0);
	else
		assert_int_equal(tbuf_put_cstring(b, "crafted"), 0);
	if (cf->princ_raw != NULL)
		assert_int_equal(tbuf_put_stringb(b, cf->princ_raw), 0);
	else {
		assert_non_null(t = tbuf_new());
		for (i = 0; cf->principals != NULL &&
		    cf->principals[i] != NULL; i++)
			assert_int_equal(tbuf_put_cstring(t,
			    cf->principals[i]), 0);
		assert_int_equal(tbuf_put_stringb(b, t), 0);
		tbuf_free(t);
	}
	assert_int_equal(tbuf_put_u64(b, cf->valid_after), 0);
	assert_int_equal(tbuf_put_u64(b, cf->valid_before), 0);
	if (cf->crit != NULL)
		assert_int_equal(tbuf_put_stringb(b, cf->crit), 0);
	else
		assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	if (cf->exts != NULL)
		assert_int_equal(tbuf_put_stringb(b, cf->exts), 0);
	else
		assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	assert_non_null(t = tbuf_new());
	assert_int_equal(sshkey_to_blob(cf->sigfield != NULL ? cf->sigfield :
	    cf->ca, t), 0);
	assert_int_equal(tbuf_put_stringb(b, t), 0);
	tbuf_free(t);
	assert_int_equal(sshkey_sign(cf->ca, NULL, tbuf_ptr(b), tbuf_len(b),
	    sig), 0);
	if (cf->corrupt_sig) {
		/* A good signature over other data. */
		tbuf_reset(sig);
		assert_int_equal(sshkey_sign(cf->ca, NULL,
		    (const uint8_t *)"other data", 10, sig), 0);
	}
	assert_int_equal(tbuf_put_stringb(b, sig), 0);
	if (cf->trailing)
		assert_int_equal(tbuf_put_u8(b, 0), 0);
	tbuf_free(sig);
	return b;
}

static int
craft_parse(const struct craft *cf, struct sshkey **out)
{
	struct tbuf *b = craft_blob(cf);
	int r;

	*out = NULL;
	r = sshkey_from_blob(tbuf_ptr(b), tbuf_len(b), out);
	tbuf_free(b);
	return r;
}

/* name/value pairs (value NULL: empty data), in the order given. */
static struct tbuf *
opts_section(const char *const *pairs)
{
	struct tbuf *s, *d;
	size_t i;

	assert_non_null(s = tbuf_new());
	for (i = 0; pairs[i] != NULL; i += 2) {
		assert_int_equal(tbuf_put_cstring(s, pairs[i]), 0);
		assert_non_null(d = tbuf_new());
		if (pairs[i + 1] != NULL)
			assert_int_equal(tbuf_put_cstring(d, pairs[i + 1]), 0);
		assert_int_equal(tbuf_put_stringb(s, d), 0);
		tbuf_free(d);
	}
	return s;
}

static void
test_crafted(void **state)
{
	static const char *const alice[] = { "alice", NULL };
	static const char *const dups[] = { "alice", "alice", NULL };
	struct craft cf;
	struct sshkey *k = NULL, *cacert;
	struct sshcert_policy pol = user_policy("alice", 100);
	const char *name, *value;
	char **many;
	size_t i;

	(void)state;
	memset(&cf, 0, sizeof(cf));
	cf.subject = subjects[2];
	cf.ca = cas[0];
	cf.type = SSHCERT_USER;
	cf.principals = alice;
	cf.valid_before = SSHCERT_FOREVER;

	/* The crafter makes valid certificates. */
	assert_int_equal(craft_parse(&cf, &k), 0);
	assert_int_equal(sshcert_serial(k), 4242);
	assert_string_equal(sshcert_key_id(k), "crafted");
	assert_int_equal(check1(k, cas[0], &pol), 0);
	sshkey_free(k);

	/* Wrong signature, trailing data, unknown type. */
	cf.corrupt_sig = 1;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_BAD_SIGNATURE);
	assert_null(k);
	cf.corrupt_sig = 0;
	cf.trailing = 1;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_TRAILING);
	cf.trailing = 0;
	cf.type = 3;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_CERT_TYPE);
	cf.type = 0;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_CERT_TYPE);
	cf.type = SSHCERT_USER;

	/* The signature key field holds a certificate. */
	cacert = kg_cert("ca-other", "ca-ed25519", NULL, "-I c -n x");
	cf.sigfield = cacert;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_CA_IS_CERT);
	cf.sigfield = NULL;
	sshkey_free(cacert);
	/* ... or a key other than the signer's. */
	cf.sigfield = cas[0];
	cf.ca = other_ca;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_BAD_SIGNATURE);
	cf.sigfield = NULL;
	cf.ca = cas[0];

	/* valid_after > valid_before parses (as OpenSSH), never validates. */
	cf.valid_after = 200;
	cf.valid_before = 100;
	assert_int_equal(craft_parse(&cf, &k), 0);
	pol.now = 150;
	assert_int_equal(check1(k, cas[0], &pol), TRASA_ERR_NOT_YET_VALID);
	pol.now = 250;
	assert_int_equal(check1(k, cas[0], &pol), TRASA_ERR_EXPIRED);
	sshkey_free(k);
	cf.valid_after = 0;
	cf.valid_before = SSHCERT_FOREVER;
	pol.now = 100;

	/* Duplicate principals are kept, as OpenSSH does. */
	cf.principals = dups;
	assert_int_equal(craft_parse(&cf, &k), 0);
	assert_int_equal(sshcert_nprincipals(k), 2);
	assert_int_equal(check1(k, cas[0], &pol), 0);
	sshkey_free(k);

	/* More than SSHCERT_MAX_PRINCIPALS. */
	assert_non_null(many = calloc(SSHCERT_MAX_PRINCIPALS + 2,
	    sizeof(*many)));
	for (i = 0; i <= SSHCERT_MAX_PRINCIPALS; i++) {
		assert_true(asprintf(&many[i], "p%zu", i) > 0);
	}
	cf.principals = (const char *const *)many;
	assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_TOO_MANY);
	free(many[SSHCERT_MAX_PRINCIPALS]);
	many[SSHCERT_MAX_PRINCIPALS] = NULL;
	assert_int_equal(craft_parse(&cf, &k), 0);
	assert_int_equal(sshcert_nprincipals(k), SSHCERT_MAX_PRINCIPALS);
	sshkey_free(k);
	for (i = 0; i < SSHCERT_MAX_PRINCIPALS; i++)
		free(many[i]);
	free(many);
	cf.principals = alice;

	/* Options out of order or repeated are refused. */
	{
		static const char *const unsorted[] = { "source-address",
			"10.0.0.0/8", "force-command", "/bin/true", NULL };
		static const char *const repeated[] = { "force-command", "a",
			"force-command", "b", NULL };
		static const char *const ext_unsorted[] = { "permit-pty", NULL,
			"permit-X11-forwarding", NULL, NULL };

		cf.crit = opts_section(unsorted);
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_OPTION_ORDER);
		tbuf_free(cf.crit);
		cf.crit = opts_section(repeated);
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_OPTION_ORDER);
		tbuf_free(cf.crit);
		cf.crit = NULL;
		cf.exts = opts_section(ext_unsorted);
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_OPTION_ORDER);
		tbuf_free(cf.exts);
		cf.exts = NULL;
	}

	/* Malformed source-address lists are refused, whatever the
	 * client address; so are force-command without a string and a
	 * known extension carrying data (sshd: "corrupt"). */
	{
		static const char *const bad[] = {
			"10.0.0.1/8",      /* host bits set */
			"10.0.0.0/33",
			"::1/129",
			"10.0.0.0/",
			"10.0.0.0/x",
			"",
			"10.0.0.0/8,",
			",10.0.0.0/8",
			"example.com",
			"10.0.0.*",
			"!10.0.0.1",
			"1.2.3.4 ",
			"fe80::1%lo",
			"1.2.3.256",
		};
		const char *pairs[] = { "source-address", NULL, NULL };

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			pairs[1] = bad[i];
			cf.crit = opts_section(pairs);
			assert_int_equal(craft_parse(&cf, &k), 0);
			pol.source_address = NULL;
			if (check1(k, cas[0], &pol) !=
			    TRASA_ERR_CRITICAL_OPTION)
				fail_msg("source-address \"%s\" accepted",
				    bad[i]);
			pol.source_address = "10.0.0.1";
			assert_int_equal(check1(k, cas[0], &pol),
			    TRASA_ERR_CRITICAL_OPTION);
			sshkey_free(k);
			tbuf_free(cf.crit);
			/* ssh-keygen refuses the same lists. */
			if (bad[i][0] != '\0' && strchr(bad[i], '\'') == NULL)
				assert_int_not_equal(tu_sh("'%s' -q -s '%s' "
				    "-I x -n a -O 'source-address=%s' "
				    "'%s.pub' >/dev/null 2>&1",
				    tu_ssh_keygen(), tu_path("ca-ed25519"),
				    bad[i], tu_path("sub-ed25519")), 0);
		}
		pol.source_address = NULL;
	}
	{
		struct tbuf *s, *d;

		/* force-command with empty data, and with two strings;
		 * verify-required with data. */
		static const char *const fc_empty[] = { "force-command", NULL,
			NULL };
		static const char *const vr_data[] = { "verify-required", "x",
			NULL };

		cf.crit = opts_section(vr_data);
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(check1(k, cas[0], &pol),
		    TRASA_ERR_CRITICAL_OPTION);
		sshkey_free(k);
		tbuf_free(cf.crit);

		cf.crit = opts_section(fc_empty);
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(check1(k, cas[0], &pol),
		    TRASA_ERR_CRITICAL_OPTION);
		sshkey_free(k);
		tbuf_free(cf.crit);

		assert_non_null(s = tbuf_new());
		assert_non_null(d = tbuf_new());
		assert_int_equal(tbuf_put_cstring(s, "force-command"), 0);
		assert_int_equal(tbuf_put_cstring(d, "/bin/true"), 0);
		assert_int_equal(tbuf_put_cstring(d, "extra"), 0);
		assert_int_equal(tbuf_put_stringb(s, d), 0);
		cf.crit = s;
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(sshcert_critical(k, 0, &name, &value), 0);
		assert_string_equal(name, "force-command");
		assert_null(value);
		assert_int_equal(check1(k, cas[0], &pol),
		    TRASA_ERR_CRITICAL_OPTION);
		sshkey_free(k);
		tbuf_free(cf.crit);
		tbuf_free(d);
		cf.crit = NULL;
	}
	{
		static const char *const ext_data[] = { "permit-pty", "yes",
			NULL };
		static const char *const ext_unknown[] = { "a@b", "data",
			"permit-pty", NULL, NULL };

		cf.exts = opts_section(ext_data);
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(check1(k, cas[0], &pol), TRASA_ERR_FORMAT);
		sshkey_free(k);
		tbuf_free(cf.exts);
		cf.exts = opts_section(ext_unknown);
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(check1(k, cas[0], &pol), 0);
		sshkey_free(k);
		tbuf_free(cf.exts);
		cf.exts = NULL;
	}
	/* A NUL inside a principal, the key ID or an option name. */
	{
		struct tbuf *t;

		assert_non_null(t = tbuf_new());
		assert_int_equal(tbuf_put_cstring(t, "bob"), 0);
		assert_int_equal(tbuf_put_string(t, "al\0ce", 5), 0);
		cf.princ_raw = t;
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_STRING_NUL);
		assert_null(k);
		cf.princ_raw = NULL;
		tbuf_free(t);
		cf.key_id = "id\0x";
		cf.key_id_len = 4;
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_STRING_NUL);
		cf.key_id = NULL;
		assert_non_null(t = tbuf_new());
		assert_int_equal(tbuf_put_string(t, "permit\0pty", 10), 0);
		assert_int_equal(tbuf_put_string(t, NULL, 0), 0);
		cf.exts = t;
		assert_int_equal(craft_parse(&cf, &k), TRASA_ERR_STRING_NUL);
		cf.exts = NULL;
		tbuf_free(t);
		/* A NUL in a value leaves it opaque (value NULL). */
		assert_non_null(t = tbuf_new());
		assert_int_equal(tbuf_put_cstring(t, "x@example.com"), 0);
		assert_int_equal(tbuf_put_u32(t, 7), 0);
		assert_int_equal(tbuf_put_string(t, "a\0b", 3), 0);
		cf.exts = t;
		assert_int_equal(craft_parse(&cf, &k), 0);
		assert_int_equal(sshcert_extension(k, 0, &name, &value), 0);
		assert_string_equal(name, "x@example.com");
		assert_null(value);
		assert_int_equal(check1(k, cas[0], &pol), 0);
		sshkey_free(k);
		cf.exts = NULL;
		tbuf_free(t);
	}
}

/* ------------------------------------------------------------ revocation */

static void
test_krl_serial(void **state)
{
	struct sshkey *cert;
	struct sshcert_policy pol = user_policy("alice", MID);
	struct krl *krl = NULL;
	uint8_t *data;
	size_t len;

	(void)state;
	cert = kg_cert("ca-ed25519", "sub-ecdsa-256", NULL,
	    "-I revoked -n alice -z 31337 -V 0x%llx:0x%llx",
	    (unsigned long long)VA, (unsigned long long)VB);
	assert_int_equal(check1(cert, cas[0], &pol), 0);

	/* ssh-keygen -k -s CA with a spec file revoking serial 31337. */
	assert_int_equal(tu_sh("printf 'serial: 31337\\n' > '%s'",
	    tu_path("krlspec")), 0);
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' -s '%s.pub' '%s' "
	    ">/dev/null 2>&1", tu_ssh_keygen(), tu_path("krl1"),
	    tu_path("ca-ed25519"), tu_path("krlspec")), 0);
	assert_non_null(data = tu_read(tu_path("krl1"), &len));
	assert_int_equal(krl_parse(data, len, &krl), 0);
	free(data);
	{
		const struct sshkey *set[1] = { cas[0] };

		assert_int_equal(sshcert_check(cert, set, 1, krl, &pol),
		    TRASA_ERR_REVOKED);
		/* Revocation is the last check. */
		pol.now = VB;
		assert_int_equal(sshcert_check(cert, set, 1, krl, &pol),
		    TRASA_ERR_EXPIRED);
	}
	krl_free(krl);
	krl = NULL;

	/* The CA key itself revoked. */
	pol.now = MID;
	assert_int_equal(tu_sh("'%s' -q -k -f '%s' '%s.pub' >/dev/null 2>&1",
	    tu_ssh_keygen(), tu_path("krl2"), tu_path("ca-ed25519")), 0);
	assert_non_null(data = tu_read(tu_path("krl2"), &len));
	assert_int_equal(krl_parse(data, len, &krl), 0);
	free(data);
	{
		const struct sshkey *set[1] = { cas[0] };

		assert_int_equal(sshcert_check(cert, set, 1, krl, &pol),
		    TRASA_ERR_REVOKED);
	}
	krl_free(krl);
	sshkey_free(cert);
}

/*
 * A certificate parsed with SSHKEY_PARSE_NO_VERIFY has its CA signature
 * checked by sshcert_check(); a tampered signature is caught either way.
 */
static void
test_deferred_verify(void **state)
{
	char name[64], certpath[600];
	struct sshkey *cert, *lazy = NULL;
	struct sshcert_policy pol;
	uint8_t *blob;
	size_t len;

	(void)state;
	cert = kg_cert("ca-ed25519", "sub-ecdsa-256", name, "-I lazy -n carol");
	snprintf(certpath, sizeof(certpath), "%s-cert.pub", tu_path(name));
	blob = tu_pub_blob(certpath, &len);
	pol = user_policy("carol", (uint64_t)time(NULL));

	assert_int_equal(sshkey_from_blob_flags(blob, len,
	    SSHKEY_PARSE_NO_VERIFY, &lazy), 0);
	assert_int_equal(check1(lazy, cas[0], &pol), 0);
	sshkey_free(lazy);
	lazy = NULL;

	blob[len - 1] ^= 0x01; /* last byte of the Ed25519 signature */
	assert_int_equal(sshkey_from_blob(blob, len, &lazy),
	    TRASA_ERR_BAD_SIGNATURE);
	assert_null(lazy);
	assert_int_equal(sshkey_from_blob_flags(blob, len,
	    SSHKEY_PARSE_NO_VERIFY, &lazy), 0);
	assert_int_equal(check1(lazy, cas[0], &pol), TRASA_ERR_BAD_SIGNATURE);
	sshkey_free(lazy);
	sshkey_free(cert);
	free(blob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_matrix),
		cmocka_unit_test(test_keygen_judgement),
		cmocka_unit_test(test_keygen_principals_and_hosts),
		cmocka_unit_test(test_keygen_options),
		cmocka_unit_test(test_keygen_sha1),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_sign_accepted_by_keygen),
		cmocka_unit_test(test_sign_host),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_plain_key_accessors),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_krl_serial),
		cmocka_unit_test(test_deferred_verify),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}

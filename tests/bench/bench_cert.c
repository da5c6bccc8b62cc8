/*
 * bench_cert.c: certificate verification, signing and parsing through
 * libtrasa next to the raw OpenSSL EVP calls underneath, and in-process
 * signing next to one `ssh-keygen -s` per certificate. Run by `make bench`.
 *
 * Each output line:
 *   bench: NAME value=X unit=U peer=P peer_value=Y ratio=Z
 * where ratio is how many times better we are than the peer: ours/peer for
 * ops/s, peer/ours for time per operation.
 *
 * Every figure is the best of ROUNDS rounds of ROUND_SECONDS each, after a
 * warm-up, with ours and the peer's rounds interleaved so that load from
 * elsewhere hits both alike. BENCH_SECONDS in the environment scales the
 * round length.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#ifndef SSH_KEYGEN_PATH
#define SSH_KEYGEN_PATH "ssh-keygen"
#endif

#define ROUNDS 3
#define KEYGEN_RUNS 50
#define PARSE_TARGET_NS 2000.0 /* issue 2: parsing under 2 microseconds */

static double round_seconds = 0.25;
static double warmup_seconds = 0.1;

struct alg {
	const char *name;       /* SSH signature algorithm */
	enum sshkey_type type;  /* CA key type */
	unsigned bits;
	const char *md;         /* EVP digest, NULL for Ed25519 */
};

static const struct alg algs[] = {
	{ "ssh-ed25519", SSHKEY_ED25519, 0, NULL },
	{ "ecdsa-sha2-nistp256", SSHKEY_ECDSA_P256, 0, "SHA256" },
	{ "ecdsa-sha2-nistp384", SSHKEY_ECDSA_P384, 0, "SHA384" },
	{ "rsa-sha2-256", SSHKEY_RSA, 2048, "SHA256" },
	{ "rsa-sha2-512", SSHKEY_RSA, 2048, "SHA512" },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

/* Everything one algorithm's measurements use. */
struct ctx {
	const struct alg *alg;
	struct sshkey *ca;         /* private */
	struct sshkey *ca_pub;
	struct sshkey *subject;    /* public, ed25519 */
	struct sshkey *cert;       /* signed, for re-signing */
	uint8_t *blob;             /* the signed certificate */
	size_t bloblen;
	size_t signed_len;         /* bytes the CA signature covers */
	EVP_PKEY *pkey;            /* the CA key as OpenSSL holds it */
	const EVP_MD *md;
	uint8_t *peer_sig;         /* EVP_DigestSign's signature */
	size_t peer_siglen;
	struct sshcert_policy pol;
};

static void die(const char *what, int r) __attribute__((noreturn));

static void
die(const char *what, int r)
{
	fprintf(stderr, "bench_cert: %s: %s\n", what,
	    r != 0 ? trasa_strerror(r) : "failed");
	exit(1);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef void (*op_fn)(struct ctx *);

/* Operations per second of fn over about secs seconds. */
static double
run_for(op_fn fn, struct ctx *c, double secs)
{
	double start = now_seconds(), t;
	unsigned long n = 0;

	do {
		fn(c);
		n++;
		t = now_seconds();
	} while (t - start < secs);
	return (double)n / (t - start);
}

/* Best ops/s of ours and of the peer, rounds interleaved. */
static void
compare(op_fn ours, op_fn peer, struct ctx *c, double *ours_best,
    double *peer_best)
{
	double v;
	int i;

	run_for(ours, c, warmup_seconds);
	run_for(peer, c, warmup_seconds);
	*ours_best = *peer_best = 0;
	for (i = 0; i < ROUNDS; i++) {
		if ((v = run_for(ours, c, round_seconds)) > *ours_best)
			*ours_best = v;
		if ((v = run_for(peer, c, round_seconds)) > *peer_best)
			*peer_best = v;
	}
}

static void
report(const char *name, double value, const char *unit, const char *peer,
    double peer_value, int higher_is_better)
{
	double ratio = higher_is_better ? value / peer_value :
	    peer_value / value;

	if (strcmp(unit, "ms") == 0)
		printf("bench: %s value=%.3f unit=%s peer=%s peer_value=%.3f "
		    "ratio=%.2f\n", name, value, unit, peer, peer_value, ratio);
	else
		printf("bench: %s value=%.0f unit=%s peer=%s peer_value=%.0f "
		    "ratio=%.2f\n", name, value, unit, peer, peer_value, ratio);
	fflush(stdout);
}

/* ------------------------------------------------------------ ops */

static void
op_verify_ours(struct ctx *c)
{
	struct sshkey *k = NULL;
	const struct sshkey *cas[1] = { c->ca_pub };
	int r;

	if ((r = sshkey_from_blob(c->blob, c->bloblen, &k)) != 0)
		die("sshkey_from_blob", r);
	if ((r = sshcert_check(k, cas, 1, NULL, &c->pol)) != 0)
		die("sshcert_check", r);
	sshkey_free(k);
}

/* The path a host module takes: parse without the signature, then
 * sshcert_check verifies it with the trusted CA's (already loaded) key. */
static void
op_check_ours(struct ctx *c)
{
	struct sshkey *k = NULL;
	const struct sshkey *cas[1] = { c->ca_pub };
	int r;

	if ((r = sshkey_from_blob_flags(c->blob, c->bloblen,
	    SSHKEY_PARSE_NO_VERIFY, &k)) != 0)
		die("sshkey_from_blob_flags", r);
	if ((r = sshcert_check(k, cas, 1, NULL, &c->pol)) != 0)
		die("sshcert_check", r);
	sshkey_free(k);
}

static void
op_verify_peer(struct ctx *c)
{
	EVP_MD_CTX *md;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, c->md, NULL, c->pkey) != 1 ||
	    EVP_DigestVerify(md, c->peer_sig, c->peer_siglen, c->blob,
	    c->signed_len) != 1)
		die("EVP_DigestVerify", 0);
	EVP_MD_CTX_free(md);
}

static void
op_sign_ours(struct ctx *c)
{
	int r;

	if ((r = sshcert_sign(c->cert, c->ca, c->alg->name)) != 0)
		die("sshcert_sign", r);
}

static void
op_sign_peer(struct ctx *c)
{
	EVP_MD_CTX *md;
	uint8_t sig[1024];
	size_t siglen = sizeof(sig);

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, c->md, NULL, c->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, c->blob, c->signed_len) != 1)
		die("EVP_DigestSign", 0);
	EVP_MD_CTX_free(md);
}

static void
op_parse_nosig(struct ctx *c)
{
	struct sshkey *k = NULL;
	int r;

	if ((r = sshkey_from_blob_flags(c->blob, c->bloblen,
	    SSHKEY_PARSE_NO_VERIFY, &k)) != 0)
		die("sshkey_from_blob_flags", r);
	sshkey_free(k);
}

static void
op_parse(struct ctx *c)
{
	struct sshkey *k = NULL;
	int r;

	if ((r = sshkey_from_blob(c->blob, c->bloblen, &k)) != 0)
		die("sshkey_from_blob", r);
	sshkey_free(k);
}

/* ------------------------------------------------------------ setup */

/* The length of the part of an ed25519-subject certificate blob that the
 * CA signs: everything up to the final signature string. */
static size_t
signed_length(const uint8_t *blob, size_t len)
{
	struct tbuf *b = tbuf_from(blob, len);
	const uint8_t *p;
	size_t n, i, off;
	uint64_t u64;
	uint32_t u32;

	if (b == NULL)
		die("tbuf_from", TRASA_ERR_ALLOC);
	/* name, nonce, subject key, serial, type, key id, principals,
	 * validity, critical options, extensions, reserved, signature key. */
	for (i = 0; i < 3; i++)
		if (tbuf_get_string_direct(b, &p, &n, 0) != 0)
			die("walking the certificate", 0);
	if (tbuf_get_u64(b, &u64) != 0 || tbuf_get_u32(b, &u32) != 0)
		die("walking the certificate", 0);
	for (i = 0; i < 2; i++)
		if (tbuf_get_string_direct(b, &p, &n, 0) != 0)
			die("walking the certificate", 0);
	if (tbuf_get_u64(b, &u64) != 0 || tbuf_get_u64(b, &u64) != 0)
		die("walking the certificate", 0);
	for (i = 0; i < 4; i++)
		if (tbuf_get_string_direct(b, &p, &n, 0) != 0)
			die("walking the certificate", 0);
	off = len - tbuf_len(b);
	if (tbuf_get_string_direct(b, &p, &n, 0) != 0 ||
	    tbuf_expect_end(b) != 0)
		die("walking the certificate", 0);
	tbuf_free(b);
	return off;
}

static EVP_PKEY *
evp_of(const struct sshkey *k)
{
	struct tbuf *pem;
	BIO *bio;
	EVP_PKEY *pkey = NULL;
	int r;

	if ((pem = tbuf_new()) == NULL)
		die("tbuf_new", TRASA_ERR_ALLOC);
	if ((r = sshkey_private_to_pkcs8(k, NULL, pem)) != 0)
		die("sshkey_private_to_pkcs8", r);
	if ((bio = BIO_new_mem_buf(tbuf_ptr(pem), (int)tbuf_len(pem))) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		die("PEM_read_bio_PrivateKey", 0);
	BIO_free(bio);
	tbuf_free(pem);
	return pkey;
}

static struct sshkey *
make_cert(const struct sshkey *subject, const struct sshkey *ca,
    const char *alg, uint64_t now)
{
	struct sshkey *c = NULL;
	int r;

	if ((r = sshcert_new(subject, SSHCERT_USER, &c)) != 0 ||
	    (r = sshcert_set_serial(c, 0x1122334455667788ULL)) != 0 ||
	    (r = sshcert_set_key_id(c, "bench@trasa")) != 0 ||
	    (r = sshcert_add_principal(c, "alice")) != 0 ||
	    (r = sshcert_set_validity(c, now - 60, now + 300)) != 0 ||
	    (r = sshcert_add_default_extensions(c)) != 0 ||
	    (r = sshcert_sign(c, ca, alg)) != 0)
		die("building a certificate", r);
	return c;
}

static void
ctx_init(struct ctx *c, const struct alg *alg, const struct sshkey *subject)
{
	struct tbuf *b;
	EVP_MD_CTX *md;
	int r;

	memset(c, 0, sizeof(*c));
	c->alg = alg;
	if ((r = sshkey_generate(alg->type, alg->bits, &c->ca)) != 0 ||
	    (r = sshkey_dup_public(c->ca, &c->ca_pub)) != 0 ||
	    (r = sshkey_dup_public(subject, &c->subject)) != 0)
		die("keys", r);
	c->pol.type = SSHCERT_USER;
	c->pol.principal = "alice";
	c->pol.now = (uint64_t)time(NULL);
	c->cert = make_cert(c->subject, c->ca, alg->name, c->pol.now);
	if ((b = tbuf_new()) == NULL)
		die("tbuf_new", TRASA_ERR_ALLOC);
	if ((r = sshkey_to_blob(c->cert, b)) != 0)
		die("sshkey_to_blob", r);
	c->bloblen = tbuf_len(b);
	if ((c->blob = malloc(c->bloblen)) == NULL)
		die("malloc", TRASA_ERR_ALLOC);
	memcpy(c->blob, tbuf_ptr(b), c->bloblen);
	tbuf_free(b);
	c->signed_len = signed_length(c->blob, c->bloblen);

	c->pkey = evp_of(c->ca);
	c->md = alg->md != NULL ? EVP_get_digestbyname(alg->md) : NULL;
	if (alg->md != NULL && c->md == NULL)
		die(alg->md, 0);
	/* The peer's own signature over the same bytes, with the same key. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, c->md, NULL, c->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &c->peer_siglen, c->blob,
	    c->signed_len) != 1 ||
	    (c->peer_sig = malloc(c->peer_siglen)) == NULL ||
	    EVP_DigestSign(md, c->peer_sig, &c->peer_siglen, c->blob,
	    c->signed_len) != 1)
		die("EVP_DigestSign", 0);
	EVP_MD_CTX_free(md);
	/* Both sides work before anything is timed. */
	op_verify_ours(c);
	op_verify_peer(c);
}

static void
ctx_free(struct ctx *c)
{
	sshkey_free(c->ca);
	sshkey_free(c->ca_pub);
	sshkey_free(c->subject);
	sshkey_free(c->cert);
	free(c->blob);
	free(c->peer_sig);
	EVP_PKEY_free(c->pkey);
}

/* ------------------------------------------------------- ssh-keygen */

static const char *
keygen_path(void)
{
	const char *e = getenv("SSH_KEYGEN");

	return e != NULL && *e != '\0' ? e : SSH_KEYGEN_PATH;
}

/* Run argv quietly; exit status or -1. */
static int
run_quiet(const char *const argv[])
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct kg_ctx {
	struct sshkey *ca;
	struct sshkey *subject;
	uint64_t now;
};

static struct kg_ctx kg;

/* One certificate as a gateway makes it: built, signed, as text. */
static void
op_issue_ours(struct ctx *unused)
{
	struct sshkey *c;
	char *text = NULL;
	int r;

	(void)unused;
	c = make_cert(kg.subject, kg.ca, NULL, kg.now);
	if ((r = sshkey_format_public(c, "bench", &text)) != 0)
		die("sshkey_format_public", r);
	free(text);
	sshkey_free(c);
}

static void
bench_keygen(void)
{
	char dir[] = "/tmp/trasa-bench.XXXXXX", ca[64], user[64], pub[64];
	char cert[64], capub[64];
	const char *gen_argv[] = { NULL, "-q", "-t", "ed25519", "-N", "", "-C",
		"bench", "-f", NULL, NULL };
	const char *sign_argv[] = { NULL, "-q", "-s", ca, "-I", "bench@trasa", "-n",
		"alice", "-V", "-1m:+5m", "-z", "4660", pub, NULL };
	double start, peer_ms, ours_ms;
	int i, r;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", 0);
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(user, sizeof(user), "%s/user", dir);
	snprintf(pub, sizeof(pub), "%s/user.pub", dir);
	snprintf(cert, sizeof(cert), "%s/user-cert.pub", dir);
	snprintf(capub, sizeof(capub), "%s/ca.pub", dir);
	gen_argv[0] = sign_argv[0] = keygen_path();
	gen_argv[9] = ca;
	if (run_quiet(gen_argv) != 0)
		die("ssh-keygen -t ed25519 (CA)", 0);
	gen_argv[9] = user;
	if (run_quiet(gen_argv) != 0)
		die("ssh-keygen -t ed25519 (user)", 0);

	/* Warm the page cache, then time KEYGEN_RUNS processes. */
	if (run_quiet(sign_argv) != 0)
		die("ssh-keygen -s", 0);
	start = now_seconds();
	for (i = 0; i < KEYGEN_RUNS; i++)
		if (run_quiet(sign_argv) != 0)
			die("ssh-keygen -s", 0);
	peer_ms = (now_seconds() - start) * 1000.0 / KEYGEN_RUNS;

	if ((r = sshkey_load_private(ca, NULL, &kg.ca, NULL)) != 0 ||
	    (r = sshkey_load_public(pub, &kg.subject, NULL)) != 0)
		die("loading ssh-keygen's keys", r);
	kg.now = (uint64_t)time(NULL);
	run_for(op_issue_ours, NULL, warmup_seconds);
	ours_ms = 0;
	for (i = 0; i < ROUNDS; i++) {
		double v = 1000.0 / run_for(op_issue_ours, NULL,
		    round_seconds);

		if (ours_ms == 0 || v < ours_ms)
			ours_ms = v;
	}
	report("cert_issue", ours_ms, "ms", "ssh-keygen-s",
	    peer_ms, 0);
	sshkey_free(kg.ca);
	sshkey_free(kg.subject);
	unlink(cert);
	unlink(capub);
	unlink(pub);
	unlink(user);
	unlink(ca);
	rmdir(dir);
}

/* ------------------------------------------------------------ main */

int
main(void)
{
	struct ctx c;
	struct sshkey *subject = NULL;
	double ours, peer, parse_ns = 0, verify_ed_ns = 0, nosig_ns = 0;
	const char *e;
	char name[96];
	size_t i;
	int j, r;

	if ((e = getenv("BENCH_SECONDS")) != NULL && atof(e) > 0) {
		round_seconds = atof(e) / ROUNDS;
		warmup_seconds = round_seconds / 2;
	}
	printf("# bench_cert: libtrasa vs %s, one thread; subject keys "
	    "ed25519; RSA CAs 2048 bits; best of %d x %.2fs rounds after "
	    "warm-up; ratio > 1: we are faster\n", OpenSSL_version(
	    OPENSSL_VERSION), ROUNDS, round_seconds);
	printf("# cert_verify = sshkey_from_blob (parse + CA signature) + "
	    "sshcert_check; peer = EVP_DigestVerifyInit+EVP_DigestVerify over "
	    "the same signed bytes with the same CA key\n");
	printf("# cert_check = sshkey_from_blob_flags(NO_VERIFY) + "
	    "sshcert_check, which verifies the CA signature with the trusted "
	    "CA key object (the host modules' path); same peer\n");
	printf("# cert_sign = sshcert_sign (serialise + sign); peer = "
	    "EVP_DigestSignInit+EVP_DigestSign of the same bytes\n");
	printf("# cert_parse = sshkey_from_blob of an ed25519-CA certificate "
	    "(signature verified); cert_parse_nosig = the same with "
	    "SSHKEY_PARSE_NO_VERIFY, against the 2 us target; cert_issue = "
	    "build + sign + format one certificate in process, peer one "
	    "ssh-keygen -s process per certificate\n");
	fflush(stdout);

	if ((r = sshkey_generate(SSHKEY_ED25519, 0, &subject)) != 0)
		die("sshkey_generate", r);
	for (i = 0; i < NALGS; i++) {
		ctx_init(&c, &algs[i], subject);
		compare(op_verify_ours, op_verify_peer, &c, &ours, &peer);
		snprintf(name, sizeof(name), "cert_verify_%s", algs[i].name);
		report(name, ours, "ops/s", "EVP_DigestVerify", peer, 1);
		compare(op_check_ours, op_verify_peer, &c, &ours, &peer);
		snprintf(name, sizeof(name), "cert_check_%s", algs[i].name);
		report(name, ours, "ops/s", "EVP_DigestVerify", peer, 1);
		if (algs[i].type == SSHKEY_ED25519) {
			compare(op_parse, op_verify_peer, &c, &ours, &peer);
			parse_ns = 1e9 / ours;
			verify_ed_ns = 1e9 / peer;
			run_for(op_parse_nosig, &c, warmup_seconds);
			for (j = 0; j < ROUNDS; j++) {
				ours = 1e9 / run_for(op_parse_nosig, &c,
				    round_seconds);
				if (nosig_ns == 0 || ours < nosig_ns)
					nosig_ns = ours;
			}
		}
		compare(op_sign_ours, op_sign_peer, &c, &ours, &peer);
		snprintf(name, sizeof(name), "cert_sign_%s", algs[i].name);
		report(name, ours, "ops/s", "EVP_DigestSign", peer, 1);
		if (algs[i].type == SSHKEY_ED25519) {
			report("cert_parse", parse_ns, "ns",
			    "EVP_DigestVerify", verify_ed_ns, 0);
			report("cert_parse_nosig", nosig_ns, "ns",
			    "target_2us", PARSE_TARGET_NS, 0);
		}
		ctx_free(&c);
	}
	sshkey_free(subject);
	bench_keygen();
	return 0;
}

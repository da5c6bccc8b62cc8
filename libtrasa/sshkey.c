/* sshkey.c: OpenSSH public and private keys and signatures on OpenSSL 3. */
#include "sshkey.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "err.h"
#include "fileio.h"
#include "sshkey-int.h"
#include "tbuf.h"

#define NAME_MAX_LEN 128
#define PUBKEY_FILE_MAX (64u * 1024)
#define PRIVKEY_FILE_MAX (1024u * 1024)
#define OPENSSH_MAGIC "openssh-key-v1"
#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"

static const struct keytype {
	enum sshkey_type type;
	const char *name;
	const char *cert_name;
	const char *curve;      /* ECDSA curve identifier in blobs */
	const char *group;      /* OpenSSL group name */
	const char *group_alt;  /* the name OpenSSL reports for a decoded key */
	const char *label;
	unsigned bits;          /* fixed size, 0 for RSA */
	size_t field;           /* EC field element bytes */
} keytypes[] = {
	{ SSHKEY_ED25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
	    NULL, NULL, NULL, "ED25519", 256, 0 },
	{ SSHKEY_ECDSA_P256, "ecdsa-sha2-nistp256",
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com", "nistp256", "P-256", "prime256v1",
	    "ECDSA", 256, 32 },
	{ SSHKEY_ECDSA_P384, "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp384-cert-v01@openssh.com", "nistp384", "P-384", "secp384r1",
	    "ECDSA", 384, 48 },
	{ SSHKEY_ECDSA_P521, "ecdsa-sha2-nistp521",
	    "ecdsa-sha2-nistp521-cert-v01@openssh.com", "nistp521", "P-521", "secp521r1",
	    "ECDSA", 521, 66 },
	{ SSHKEY_RSA, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", NULL, NULL,
	    NULL, "RSA", 0, 0 },
};

static const struct keytype *
keytype_of(enum sshkey_type type)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (keytypes[i].type == type)
			return &keytypes[i];
	return NULL;
}

static int
is_ecdsa(enum sshkey_type type)
{
	return type == SSHKEY_ECDSA_P256 || type == SSHKEY_ECDSA_P384 ||
	    type == SSHKEY_ECDSA_P521;
}

struct sshkey *
sshkey_alloc(void)
{
	return calloc(1, sizeof(struct sshkey));
}

void
sshkey_free(struct sshkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->pub);
	sshcert_free(k->cert);
	free(k);
}

int
sshkey_type_from_ssh_name(const char *name, size_t len,
    enum sshkey_type *type, int *is_cert)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++) {
		if (strlen(keytypes[i].name) == len &&
		    memcmp(keytypes[i].name, name, len) == 0) {
			*type = keytypes[i].type;
			*is_cert = 0;
			return 0;
		}
		if (strlen(keytypes[i].cert_name) == len &&
		    memcmp(keytypes[i].cert_name, name, len) == 0) {
			*type = keytypes[i].type;
			*is_cert = 1;
			return 0;
		}
	}
	return TRASA_ERR_KEY_TYPE;
}

int
sshkey_type_from_name(const char *name, enum sshkey_type *type)
{
	static const struct {
		const char *name;
		enum sshkey_type type;
	} names[] = {
		{ "ed25519", SSHKEY_ED25519 },
		{ "ecdsa", SSHKEY_ECDSA_P256 },
		{ "ecdsa-p256", SSHKEY_ECDSA_P256 },
		{ "ecdsa-p384", SSHKEY_ECDSA_P384 },
		{ "ecdsa-p521", SSHKEY_ECDSA_P521 },
		{ "rsa", SSHKEY_RSA },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, name) == 0) {
			*type = names[i].type;
			return 0;
		}
	}
	return TRASA_ERR_KEY_TYPE;
}

const char *
sshkey_cert_name(enum sshkey_type type)
{
	const struct keytype *kt = keytype_of(type);

	return kt != NULL ? kt->cert_name : NULL;
}

enum sshkey_type
sshkey_type(const struct sshkey *k)
{
	return k->type;
}

int
sshkey_is_cert(const struct sshkey *k)
{
	return k->cert != NULL;
}

int
sshkey_has_private(const struct sshkey *k)
{
	return k->has_private;
}

unsigned
sshkey_bits(const struct sshkey *k)
{
	const struct keytype *kt = keytype_of(k->type);

	if (kt == NULL)
		return 0;
	if (kt->bits != 0)
		return kt->bits;
	return k->bits;
}

const char *
sshkey_ssh_name(const struct sshkey *k)
{
	const struct keytype *kt = keytype_of(k->type);

	if (kt == NULL)
		return "unknown";
	return k->cert != NULL ? kt->cert_name : kt->name;
}

const char *
sshkey_plain_name(const struct sshkey *k)
{
	const struct keytype *kt = keytype_of(k->type);

	return kt != NULL ? kt->name : "unknown";
}

const char *
sshkey_label(const struct sshkey *k)
{
	static const char *cert_labels[] = { "ED25519-CERT", "ECDSA-CERT",
		"RSA-CERT" };
	const struct keytype *kt = keytype_of(k->type);

	if (kt == NULL)
		return "UNKNOWN";
	if (k->cert == NULL)
		return kt->label;
	if (k->type == SSHKEY_ED25519)
		return cert_labels[0];
	return is_ecdsa(k->type) ? cert_labels[1] : cert_labels[2];
}

int
sshkey_equal_public(const struct sshkey *a, const struct sshkey *b)
{
	/* Public parts are kept in their one canonical wire encoding. */
	if (a == NULL || b == NULL || a->type != b->type || a->pub == NULL ||
	    b->pub == NULL || a->publen != b->publen)
		return 0;
	return memcmp(a->pub, b->pub, a->publen) == 0;
}

/* ------------------------------------------------------------------ */
/* Building EVP_PKEYs from wire fields. */

/*
 * Building keys from wire fields is on every certificate check's path.
 * OpenSSL 3 fetches its key-management method on each EVP_PKEY_CTX made
 * by name, and builds the curve group on each EC import; both cost more
 * than the rest of a parse. So each thread keeps one import context per
 * algorithm and one parameters-only key per curve, made on first use.
 */
enum { CTX_ED25519, CTX_RSA, CTX_EC, NCTX };
static _Thread_local EVP_PKEY_CTX *import_ctx[NCTX];
static _Thread_local EVP_PKEY *curve_tmpl[3];

static EVP_PKEY_CTX *
import_ctx_get(int which)
{
	static const char *const names[NCTX] = { "ED25519", "RSA", "EC" };
	EVP_PKEY_CTX *ctx;

	if (import_ctx[which] != NULL)
		return import_ctx[which];
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, names[which], NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_fromdata_init(ctx) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	import_ctx[which] = ctx;
	return ctx;
}

static int
pkey_fromparams(int which, const OSSL_PARAM *params, int selection,
    EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;

	if ((ctx = import_ctx_get(which)) == NULL)
		return TRASA_ERR_CRYPTO;
	if (EVP_PKEY_fromdata(ctx, &pkey, selection,
	    (OSSL_PARAM *)(uintptr_t)params) <= 0)
		return TRASA_ERR_BAD_KEY;
	*out = pkey;
	return 0;
}

static int
pkey_fromdata(int which, OSSL_PARAM_BLD *bld, int selection, EVP_PKEY **out)
{
	OSSL_PARAM *params;
	int e;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return TRASA_ERR_ALLOC;
	e = pkey_fromparams(which, params, selection, out);
	OSSL_PARAM_free(params);
	return e;
}

static int
ed25519_from_public(const uint8_t *pk, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)(uintptr_t)pk, len);
	params[1] = OSSL_PARAM_construct_end();
	return pkey_fromparams(CTX_ED25519, params, EVP_PKEY_PUBLIC_KEY, out);
}

/*
 * Public keys seen again, most of all CA keys, reuse their OpenSSL object:
 * building one costs more than parsing a certificate, and a fresh RSA
 * object redoes its Montgomery set-up on the first verification. Each
 * thread keeps the last few, keyed by type and canonical public parts.
 */
#define PKEY_CACHE_SLOTS 8
static _Thread_local struct {
	enum sshkey_type type;
	uint8_t *pub;
	size_t publen;
	EVP_PKEY *pkey;
} pkey_cache[PKEY_CACHE_SLOTS];
static _Thread_local unsigned pkey_cache_next;

/* A new reference to the cached object for these public parts, or NULL. */
static EVP_PKEY *
pkey_cache_get(enum sshkey_type type, const uint8_t *pub, size_t publen)
{
	size_t i;

	for (i = 0; i < PKEY_CACHE_SLOTS; i++) {
		if (pkey_cache[i].pkey != NULL && pkey_cache[i].type == type &&
		    pkey_cache[i].publen == publen &&
		    memcmp(pkey_cache[i].pub, pub, publen) == 0)
			return EVP_PKEY_up_ref(pkey_cache[i].pkey) == 1 ?
			    pkey_cache[i].pkey : NULL;
	}
	return NULL;
}

/* Remember a public-only object (the cache takes its own reference). */
static void
pkey_cache_put(enum sshkey_type type, const uint8_t *pub, size_t publen,
    EVP_PKEY *pkey)
{
	unsigned slot = pkey_cache_next++ % PKEY_CACHE_SLOTS;
	uint8_t *copy;

	if ((copy = malloc(publen > 0 ? publen : 1)) == NULL)
		return;
	if (EVP_PKEY_up_ref(pkey) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, pub, publen);
	EVP_PKEY_free(pkey_cache[slot].pkey);
	free(pkey_cache[slot].pub);
	pkey_cache[slot].type = type;
	pkey_cache[slot].pub = copy;
	pkey_cache[slot].publen = publen;
	pkey_cache[slot].pkey = pkey;
}

/* The parameters-only key of kt's curve, for copying into new keys. */
static EVP_PKEY *
curve_template(const struct keytype *kt)
{
	OSSL_PARAM params[2];
	EVP_PKEY *pkey = NULL;
	size_t slot = kt->type - SSHKEY_ECDSA_P256;

	if (curve_tmpl[slot] != NULL)
		return curve_tmpl[slot];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)(uintptr_t)kt->group, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (pkey_fromparams(CTX_EC, params, EVP_PKEY_KEY_PARAMETERS, &pkey) != 0)
		return NULL;
	curve_tmpl[slot] = pkey;
	return pkey;
}

/*
 * The point must be on the curve and not at infinity; NIST curves have
 * cofactor 1, so that also proves its order (as OpenSSH checks). Setting
 * an encoded point already refuses one off the curve; a private key must
 * also match its public point.
 */
static int
ec_check_public(EVP_PKEY *pkey, int with_private)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return TRASA_ERR_CRYPTO;
	ok = with_private ? EVP_PKEY_pairwise_check(ctx) :
	    EVP_PKEY_public_check_quick(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? 0 : with_private ? TRASA_ERR_KEY_MISMATCH :
	    TRASA_ERR_BAD_KEY;
}

static int
ec_from_point(const struct keytype *kt, const uint8_t *q, size_t qlen,
    const uint8_t *priv, size_t privlen, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *d = NULL;
	EVP_PKEY *pkey = NULL, *tmpl;
	int e;

	/* Uncompressed point only, as OpenSSH writes and reads. */
	if (qlen != 1 + 2 * kt->field || q[0] != 0x04)
		return TRASA_ERR_BAD_KEY;
	if (priv == NULL) {
		/* Setting the encoded point checks that it is on the curve. */
		if ((tmpl = curve_template(kt)) == NULL)
			return TRASA_ERR_CRYPTO;
		if ((pkey = EVP_PKEY_new()) == NULL)
			return TRASA_ERR_ALLOC;
		e = TRASA_ERR_CRYPTO;
		if (EVP_PKEY_copy_parameters(pkey, tmpl) != 1)
			goto out;
		e = TRASA_ERR_BAD_KEY;
		if (EVP_PKEY_set1_encoded_public_key(pkey, q, qlen) != 1)
			goto out;
	} else {
		if ((bld = OSSL_PARAM_BLD_new()) == NULL)
			return TRASA_ERR_ALLOC;
		e = TRASA_ERR_ALLOC;
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, kt->group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
		    q, qlen) ||
		    (d = BN_bin2bn(priv, (int)privlen, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
			goto out;
		if ((e = pkey_fromdata(CTX_EC, bld, EVP_PKEY_KEYPAIR, &pkey)) != 0)
			goto out;
	}
	if (priv != NULL && (e = ec_check_public(pkey, 1)) != 0)
		goto out;
	*out = pkey;
	pkey = NULL;
	e = 0;
out:
	EVP_PKEY_free(pkey);
	BN_clear_free(d);
	OSSL_PARAM_BLD_free(bld);
	return e;
}

struct rsa_parts {
	const uint8_t *n, *e, *d, *iqmp, *p, *q;
	size_t nlen, elen, dlen, iqmplen, plen, qlen;
};

static int
rsa_from_parts(const struct rsa_parts *rp, int with_private, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld;
	BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL;
	BIGNUM *iqmp = NULL, *dmp1 = NULL, *dmq1 = NULL, *tmp = NULL;
	BN_CTX *bnctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = TRASA_ERR_ALLOC, bits;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((n = BN_bin2bn(rp->n, (int)rp->nlen, NULL)) == NULL ||
	    (e = BN_bin2bn(rp->e, (int)rp->elen, NULL)) == NULL)
		goto out;
	bits = BN_num_bits(n);
	if (bits < SSHKEY_RSA_MIN_BITS) {
		r = TRASA_ERR_KEY_TOO_SMALL;
		goto out;
	}
	if (bits > SSHKEY_RSA_MAX_BITS || BN_is_zero(e) || !BN_is_odd(e) ||
	    !BN_is_odd(n)) {
		r = TRASA_ERR_BAD_KEY;
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	if (with_private) {
		if ((d = BN_bin2bn(rp->d, (int)rp->dlen, NULL)) == NULL ||
		    (p = BN_bin2bn(rp->p, (int)rp->plen, NULL)) == NULL ||
		    (q = BN_bin2bn(rp->q, (int)rp->qlen, NULL)) == NULL ||
		    (iqmp = BN_bin2bn(rp->iqmp, (int)rp->iqmplen, NULL)) == NULL ||
		    (dmp1 = BN_new()) == NULL || (dmq1 = BN_new()) == NULL ||
		    (tmp = BN_new()) == NULL || (bnctx = BN_CTX_new()) == NULL)
			goto out;
		r = TRASA_ERR_BAD_KEY;
		if (BN_is_zero(p) || BN_is_zero(q) || BN_is_one(p) ||
		    BN_is_one(q))
			goto out;
		if (!BN_sub(tmp, p, BN_value_one()) ||
		    !BN_mod(dmp1, d, tmp, bnctx) ||
		    !BN_sub(tmp, q, BN_value_one()) ||
		    !BN_mod(dmq1, d, tmp, bnctx) ||
		    !BN_mul(tmp, p, q, bnctx))
			goto out;
		if (BN_cmp(tmp, n) != 0) {
			r = TRASA_ERR_KEY_MISMATCH;
			goto out;
		}
		r = TRASA_ERR_ALLOC;
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		    dmp1) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		    dmq1) ||
		    !OSSL_PARAM_BLD_push_BN(bld,
		    OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp))
			goto out;
	}
	if ((r = pkey_fromdata(CTX_RSA, bld, with_private ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, &pkey)) != 0)
		goto out;
	*out = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(iqmp);
	BN_clear_free(dmp1);
	BN_clear_free(dmq1);
	BN_clear_free(tmp);
	BN_CTX_free(bnctx);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static int
key_set_pub(struct sshkey *k, const uint8_t *p, size_t len)
{
	uint8_t *copy;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return TRASA_ERR_ALLOC;
	memcpy(copy, p, len);
	free(k->pub);
	k->pub = copy;
	k->publen = len;
	return 0;
}

static int pubparts_from_pkey(const struct sshkey *k, struct tbuf *b);

/* After k->pkey and k->type are set: record the public parts. */
static int
key_set_pub_from_pkey(struct sshkey *k)
{
	struct tbuf *b;
	int e;

	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = pubparts_from_pkey(k, b)) == 0)
		e = key_set_pub(k, tbuf_ptr(b), tbuf_len(b));
	tbuf_free(b);
	if (e == 0 && k->type == SSHKEY_RSA)
		k->bits = (unsigned)EVP_PKEY_get_bits(k->pkey);
	return e;
}

/* Bits of a big-endian magnitude without leading zeros. */
static unsigned
magnitude_bits(const uint8_t *p, size_t len)
{
	unsigned bits;
	uint8_t top;

	if (len == 0)
		return 0;
	bits = (unsigned)(len - 1) * 8;
	for (top = p[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/*
 * Read the public fields of a key of the given type. Ed25519 and RSA keys
 * are checked here but their OpenSSL objects are built on first use (see
 * key_pkey()): any 32 bytes are an Ed25519 key to OpenSSL, and the RSA
 * checks need no arithmetic. ECDSA points are checked to lie on the curve,
 * which needs the object, so it is built now.
 */
static int get_pubparts(struct tbuf *b, enum sshkey_type type,
    struct sshkey *k, unsigned flags);

int
sshkey_get_pubparts(struct tbuf *b, enum sshkey_type type, struct sshkey *k)
{
	return get_pubparts(b, type, k, 0);
}

/* flags: SSHKEY_PARSE_LAZY_KEY defers an ECDSA key's curve check to its
 * first use too (for a CA key that only gets compared with trusted ones). */
static int
get_pubparts(struct tbuf *b, enum sshkey_type type, struct sshkey *k,
    unsigned flags)
{
	const struct keytype *kt = keytype_of(type);
	const uint8_t *p, *q, *n, *ex;
	size_t plen, qlen, nlen, exlen;
	struct tbuf *pub = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned bits = 0;
	int e;

	if (kt == NULL)
		return TRASA_ERR_KEY_TYPE;
	if ((pub = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	switch (type) {
	case SSHKEY_ED25519:
		if ((e = tbuf_get_string_direct(b, &p, &plen, 1024)) != 0)
			goto out;
		e = TRASA_ERR_BAD_KEY;
		if (plen != 32)
			goto out;
		e = tbuf_put_string(pub, p, plen);
		break;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if ((e = tbuf_get_string_direct(b, &p, &plen, NAME_MAX_LEN)) != 0)
			goto out;
		e = TRASA_ERR_BAD_KEY;
		if (plen != strlen(kt->curve) || memcmp(p, kt->curve, plen) != 0)
			goto out;
		if ((e = tbuf_get_string_direct(b, &q, &qlen, 1024)) != 0)
			goto out;
		e = TRASA_ERR_BAD_KEY;
		if (qlen != 1 + 2 * kt->field || q[0] != 0x04)
			goto out;
		if ((e = tbuf_put_cstring(pub, kt->curve)) != 0 ||
		    (e = tbuf_put_string(pub, q, qlen)) != 0)
			goto out;
		/* A cached object was built from these very bytes, so the
		 * point was checked then. */
		if (!(flags & SSHKEY_PARSE_LAZY_KEY) && (pkey = pkey_cache_get(
		    type, tbuf_ptr(pub), tbuf_len(pub))) == NULL) {
			if ((e = ec_from_point(kt, q, qlen, NULL, 0, &pkey)) != 0)
				goto out;
			pkey_cache_put(type, tbuf_ptr(pub), tbuf_len(pub), pkey);
		}
		break;
	case SSHKEY_RSA:
		if ((e = tbuf_get_mpint_direct(b, &ex, &exlen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &n, &nlen, 0)) != 0)
			goto out;
		/* The checks rsa_from_parts() makes, on the bytes. */
		bits = magnitude_bits(n, nlen);
		e = TRASA_ERR_KEY_TOO_SMALL;
		if (bits < SSHKEY_RSA_MIN_BITS)
			goto out;
		e = TRASA_ERR_BAD_KEY;
		if (bits > SSHKEY_RSA_MAX_BITS || exlen == 0 ||
		    (ex[exlen - 1] & 1) == 0 || (n[nlen - 1] & 1) == 0)
			goto out;
		if ((e = tbuf_put_mpint(pub, ex, exlen)) == 0)
			e = tbuf_put_mpint(pub, n, nlen);
		break;
	default:
		e = TRASA_ERR_KEY_TYPE;
	}
	if (e != 0)
		goto out;
	if ((e = key_set_pub(k, tbuf_ptr(pub), tbuf_len(pub))) != 0)
		goto out;
	EVP_PKEY_free(k->pkey);
	k->pkey = pkey;
	pkey = NULL;
	k->type = type;
	k->bits = bits;
out:
	EVP_PKEY_free(pkey);
	tbuf_free(pub);
	return e;
}

/* The OpenSSL object of a key, built from its public parts on first use.
 * Safe when threads share k: the first object stored wins. */
static EVP_PKEY *
key_pkey(const struct sshkey *k)
{
	struct sshkey *mk = (struct sshkey *)(uintptr_t)k;
	EVP_PKEY *pkey = NULL, *expected = NULL;
	const uint8_t *p;
	size_t plen;
	struct rsa_parts rp;
	struct tbuf *b;
	int e = TRASA_ERR_KEY_TYPE;

	if ((pkey = __atomic_load_n(&mk->pkey, __ATOMIC_ACQUIRE)) != NULL)
		return pkey;
	if (k->pub == NULL)
		return NULL;
	if ((pkey = pkey_cache_get(k->type, k->pub, k->publen)) != NULL)
		goto store;
	if ((b = tbuf_from(k->pub, k->publen)) == NULL)
		return NULL;
	if (k->type == SSHKEY_ED25519) {
		if ((e = tbuf_get_string_direct(b, &p, &plen, 1024)) == 0)
			e = ed25519_from_public(p, plen, &pkey);
	} else if (is_ecdsa(k->type)) {
		/* The curve name, then the point, checked as it is set. */
		if ((e = tbuf_get_string_direct(b, NULL, NULL, 1024)) == 0 &&
		    (e = tbuf_get_string_direct(b, &p, &plen, 1024)) == 0)
			e = ec_from_point(keytype_of(k->type), p, plen, NULL, 0,
			    &pkey);
	} else if (k->type == SSHKEY_RSA) {
		memset(&rp, 0, sizeof(rp));
		if ((e = tbuf_get_mpint_direct(b, &rp.e, &rp.elen, 0)) == 0 &&
		    (e = tbuf_get_mpint_direct(b, &rp.n, &rp.nlen, 0)) == 0)
			e = rsa_from_parts(&rp, 0, &pkey);
	}
	tbuf_free(b);
	if (e != 0)
		return NULL;
	pkey_cache_put(k->type, k->pub, k->publen, pkey);
store:
	if (!__atomic_compare_exchange_n(&mk->pkey, &expected, pkey, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		EVP_PKEY_free(pkey);
		return expected;
	}
	return pkey;
}

/* ------------------------------------------------------------------ */
/* Writing wire fields from EVP_PKEYs. */

static int
put_bn_param(struct tbuf *b, const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t *tmp = NULL;
	int n, e = TRASA_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
		return TRASA_ERR_CRYPTO;
	n = BN_num_bytes(bn);
	if ((tmp = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (BN_bn2bin(bn, tmp) != n)
		goto out;
	e = tbuf_put_mpint(b, tmp, (size_t)n);
out:
	if (tmp != NULL) {
		OPENSSL_cleanse(tmp, n > 0 ? (size_t)n : 1);
		free(tmp);
	}
	BN_clear_free(bn);
	return e;
}

static int
put_ec_point(struct tbuf *b, const EVP_PKEY *pkey)
{
	uint8_t q[1 + 2 * 66];
	size_t qlen = 0;

	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q,
	    sizeof(q), &qlen))
		return TRASA_ERR_CRYPTO;
	return tbuf_put_string(b, q, qlen);
}

int
sshkey_put_pubparts(const struct sshkey *k, struct tbuf *b)
{
	if (k->pub == NULL)
		return TRASA_ERR_INVALID_ARG;
	return tbuf_put(b, k->pub, k->publen);
}

/* The public parts of a key held as an OpenSSL object (generated or read
 * from a private key file), in wire form. */
static int
pubparts_from_pkey(const struct sshkey *k, struct tbuf *b)
{
	const struct keytype *kt = keytype_of(k->type);
	uint8_t pk[32];
	size_t pklen = sizeof(pk);
	int e;

	if (kt == NULL || k->pkey == NULL)
		return TRASA_ERR_INVALID_ARG;
	switch (k->type) {
	case SSHKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(k->pkey, pk, &pklen) != 1 ||
		    pklen != 32)
			return TRASA_ERR_CRYPTO;
		return tbuf_put_string(b, pk, pklen);
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if ((e = tbuf_put_cstring(b, kt->curve)) != 0)
			return e;
		return put_ec_point(b, k->pkey);
	case SSHKEY_RSA:
		if ((e = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != 0)
			return e;
		return put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_N);
	default:
		return TRASA_ERR_KEY_TYPE;
	}
}

int
sshkey_plain_to_blob(const struct sshkey *k, struct tbuf *b)
{
	const struct keytype *kt = keytype_of(k->type);
	int e;

	if (kt == NULL)
		return TRASA_ERR_KEY_TYPE;
	if ((e = tbuf_put_cstring(b, kt->name)) != 0)
		return e;
	return sshkey_put_pubparts(k, b);
}

int
sshkey_to_blob(const struct sshkey *k, struct tbuf *b)
{
	if (k->cert != NULL) {
		if (k->cert->blob == NULL)
			return TRASA_ERR_INVALID_ARG; /* not signed yet */
		return tbuf_put(b, tbuf_ptr(k->cert->blob),
		    tbuf_len(k->cert->blob));
	}
	return sshkey_plain_to_blob(k, b);
}

int
sshkey_from_blob(const uint8_t *p, size_t len, struct sshkey **out)
{
	return sshkey_from_blob_flags(p, len, 0, out);
}

int
sshkey_from_blob_flags(const uint8_t *p, size_t len, unsigned flags,
    struct sshkey **out)
{
	struct tbuf *b;
	struct sshkey *k = NULL;
	const uint8_t *name;
	size_t namelen;
	enum sshkey_type type;
	int is_cert, e;

	if ((b = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_get_string_direct(b, &name, &namelen, NAME_MAX_LEN)) != 0)
		goto out;
	if ((e = sshkey_type_from_ssh_name((const char *)name, namelen, &type,
	    &is_cert)) != 0)
		goto out;
	if ((k = sshkey_alloc()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	k->type = type;
	if (is_cert) {
		if ((e = sshcert_parse(b, p, len, type, flags, k)) != 0)
			goto out;
	} else {
		if ((e = get_pubparts(b, type, k, flags)) != 0)
			goto out;
	}
	if ((e = tbuf_expect_end(b)) != 0)
		goto out;
	*out = k;
	k = NULL;
out:
	sshkey_free(k);
	tbuf_free(b);
	return e;
}

int
sshkey_ref_public(const struct sshkey *k, struct sshkey **out)
{
	struct sshkey *r;

	if (k->pkey == NULL || k->pub == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((r = sshkey_alloc()) == NULL)
		return TRASA_ERR_ALLOC;
	if (key_set_pub(r, k->pub, k->publen) != 0) {
		free(r);
		return TRASA_ERR_ALLOC;
	}
	if (EVP_PKEY_up_ref(k->pkey) != 1) {
		sshkey_free(r);
		return TRASA_ERR_CRYPTO;
	}
	r->type = k->type;
	r->bits = k->bits;
	r->pkey = k->pkey;
	*out = r;
	return 0;
}

int
sshkey_dup_public(const struct sshkey *k, struct sshkey **out)
{
	struct tbuf *b;
	int e;

	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = sshkey_plain_to_blob(k, b)) == 0)
		e = sshkey_from_blob(tbuf_ptr(b), tbuf_len(b), out);
	tbuf_free(b);
	return e;
}

/* ------------------------------------------------------------------ */
/* Text forms. */

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

int
sshkey_parse_public(const char *line, struct sshkey **out, char **comment)
{
	const char *type, *b64, *cm, *end;
	size_t typelen, b64len;
	struct tbuf *blob = NULL;
	struct sshkey *k = NULL;
	char *c = NULL;
	int e;

	while (is_space(*line))
		line++;
	type = line;
	typelen = strcspn(type, " \t\r\n");
	b64 = type + typelen;
	if (typelen == 0 || !is_space(*b64))
		return TRASA_ERR_FORMAT;
	while (is_space(*b64))
		b64++;
	b64len = strcspn(b64, " \t\r\n");
	if (b64len == 0)
		return TRASA_ERR_FORMAT;
	if ((e = tbuf_from_base64(b64, b64len, &blob)) != 0)
		return e;
	if ((e = sshkey_from_blob(tbuf_ptr(blob), tbuf_len(blob), &k)) != 0)
		goto out;
	/* The text's type must be the blob's. */
	if (strlen(sshkey_ssh_name(k)) != typelen ||
	    memcmp(sshkey_ssh_name(k), type, typelen) != 0) {
		e = TRASA_ERR_KEY_TYPE;
		goto out;
	}
	if (comment != NULL) {
		cm = b64 + b64len;
		while (is_space(*cm))
			cm++;
		end = cm + strcspn(cm, "\r\n");
		while (end > cm && is_space(end[-1]))
			end--;
		if ((c = strndup(cm, (size_t)(end - cm))) == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		*comment = c;
	}
	*out = k;
	k = NULL;
	e = 0;
out:
	sshkey_free(k);
	tbuf_free(blob);
	return e;
}

int
sshkey_format_public(const struct sshkey *k, const char *comment, char **out)
{
	struct tbuf *b;
	char *b64 = NULL, *s = NULL;
	int e;

	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = sshkey_to_blob(k, b)) != 0 || (e = tbuf_to_base64(b, &b64)) != 0)
		goto out;
	if (asprintf(&s, "%s %s%s%s", sshkey_ssh_name(k), b64,
	    comment != NULL && *comment != '\0' ? " " : "",
	    comment != NULL ? comment : "") < 0) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	*out = s;
	e = 0;
out:
	free(b64);
	tbuf_free(b);
	return e;
}

static int
hash_plain(const struct sshkey *k, const char *md, uint8_t *out, size_t want)
{
	struct tbuf *b;
	unsigned int len = 0;
	int e;

	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = sshkey_plain_to_blob(k, b)) == 0) {
		if (EVP_Digest(tbuf_ptr(b), tbuf_len(b), out, &len,
		    EVP_get_digestbyname(md), NULL) != 1 || len != want)
			e = TRASA_ERR_CRYPTO;
	}
	tbuf_free(b);
	return e;
}

int
sshkey_hash_sha256(const struct sshkey *k, uint8_t out[32])
{
	return hash_plain(k, "SHA256", out, 32);
}

int
sshkey_hash_sha1(const struct sshkey *k, uint8_t out[20])
{
	return hash_plain(k, "SHA1", out, 20);
}

int
sshkey_fingerprint(const struct sshkey *k, char **out)
{
	uint8_t h[32];
	struct tbuf *b;
	char *b64 = NULL, *s = NULL;
	size_t n;
	int e;

	if ((e = sshkey_hash_sha256(k, h)) != 0)
		return e;
	if ((b = tbuf_from(h, sizeof(h))) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_to_base64(b, &b64)) != 0)
		goto out;
	/* OpenSSH prints the SHA256 form without base64 padding. */
	n = strlen(b64);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	if (asprintf(&s, "SHA256:%s", b64) < 0) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	*out = s;
out:
	free(b64);
	tbuf_free(b);
	return e;
}

/* ------------------------------------------------------------------ */
/* Signatures. */

struct sigalg {
	const char *name;
	enum sshkey_type type; /* SSHKEY_RSA covers all three RSA names */
	const char *md;        /* NULL for Ed25519 */
	int sha1;
};

static const struct sigalg sigalgs[] = {
	{ "ssh-ed25519", SSHKEY_ED25519, NULL, 0 },
	{ "ecdsa-sha2-nistp256", SSHKEY_ECDSA_P256, "SHA256", 0 },
	{ "ecdsa-sha2-nistp384", SSHKEY_ECDSA_P384, "SHA384", 0 },
	{ "ecdsa-sha2-nistp521", SSHKEY_ECDSA_P521, "SHA512", 0 },
	{ "rsa-sha2-512", SSHKEY_RSA, "SHA512", 0 },
	{ "rsa-sha2-256", SSHKEY_RSA, "SHA256", 0 },
	{ "ssh-rsa", SSHKEY_RSA, "SHA1", 1 },
};

static const struct sigalg *
sigalg_by_name(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		if (strlen(sigalgs[i].name) == len &&
		    memcmp(sigalgs[i].name, name, len) == 0)
			return &sigalgs[i];
	return NULL;
}

static const struct sigalg *
sigalg_default(enum sshkey_type type)
{
	size_t i;

	for (i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		if (sigalgs[i].type == type)
			return &sigalgs[i];
	return NULL;
}

int
sshkey_alg_fits(const struct sshkey *k, const char *alg)
{
	const struct sigalg *sa = sigalg_by_name(alg, strlen(alg));

	return sa != NULL && sa->type == k->type;
}

/* Digests fetched once per thread (NULL name: none, for Ed25519). */
static const EVP_MD *
md_get(const char *name)
{
	static const char *const names[] = { "SHA1", "SHA256", "SHA384",
		"SHA512" };
	static _Thread_local EVP_MD *cache[4];
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < 4; i++) {
		if (strcmp(names[i], name) != 0)
			continue;
		if (cache[i] == NULL)
			cache[i] = EVP_MD_fetch(NULL, name, NULL);
		return cache[i];
	}
	return NULL;
}

static int
digest_sign(EVP_PKEY *pkey, const char *md, const uint8_t *data, size_t len,
    uint8_t **sig, size_t *siglen)
{
	EVP_MD_CTX *ctx;
	uint8_t *s = NULL;
	size_t n = 0;
	int e = TRASA_ERR_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((md != NULL && md_get(md) == NULL) ||
	    EVP_DigestSignInit(ctx, NULL, md_get(md), NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, data, len) != 1)
		goto out;
	if ((s = malloc(n)) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestSign(ctx, s, &n, data, len) != 1)
		goto out;
	*sig = s;
	*siglen = n;
	s = NULL;
	e = 0;
out:
	free(s);
	EVP_MD_CTX_free(ctx);
	return e;
}

static int
digest_verify(EVP_PKEY *pkey, const char *md, const uint8_t *sig,
    size_t siglen, const uint8_t *data, size_t len)
{
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((md != NULL && md_get(md) == NULL) ||
	    EVP_DigestVerifyInit(ctx, NULL, md_get(md), NULL, pkey) != 1) {
		EVP_MD_CTX_free(ctx);
		return TRASA_ERR_CRYPTO;
	}
	ok = EVP_DigestVerify(ctx, sig, siglen, data, len);
	EVP_MD_CTX_free(ctx);
	return ok == 1 ? 0 : TRASA_ERR_BAD_SIGNATURE;
}

/* ECDSA: DER (OpenSSL) <-> string(mpint r, mpint s) (SSH). */
static int
ecdsa_der_to_ssh(const uint8_t *der, size_t derlen, struct tbuf *inner)
{
	const unsigned char *p = der;
	ECDSA_SIG *es;
	const BIGNUM *r, *s;
	uint8_t tmp[66];
	int n, e = TRASA_ERR_CRYPTO;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		return TRASA_ERR_CRYPTO;
	ECDSA_SIG_get0(es, &r, &s);
	if ((n = BN_bn2binpad(r, tmp, sizeof(tmp))) < 0 ||
	    (e = tbuf_put_mpint(inner, tmp, (size_t)n)) != 0)
		goto out;
	e = TRASA_ERR_CRYPTO;
	if ((n = BN_bn2binpad(s, tmp, sizeof(tmp))) < 0 ||
	    (e = tbuf_put_mpint(inner, tmp, (size_t)n)) != 0)
		goto out;
out:
	ECDSA_SIG_free(es);
	return e;
}

static int
ecdsa_ssh_to_der(const uint8_t *p, size_t len, size_t field, uint8_t **der,
    size_t *derlen)
{
	struct tbuf *b;
	const uint8_t *rp, *sp;
	size_t rlen, slen;
	BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char *d = NULL;
	int n, e;

	if ((b = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_get_mpint_direct(b, &rp, &rlen, field)) != 0 ||
	    (e = tbuf_get_mpint_direct(b, &sp, &slen, field)) != 0 ||
	    (e = tbuf_expect_end(b)) != 0) {
		e = e == TRASA_ERR_TOO_LONG ? TRASA_ERR_BAD_SIGNATURE : e;
		goto out;
	}
	e = TRASA_ERR_ALLOC;
	if ((r = BN_bin2bn(rp, (int)rlen, NULL)) == NULL ||
	    (s = BN_bin2bn(sp, (int)slen, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL)
		goto out;
	if (!ECDSA_SIG_set0(es, r, s))
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, &d)) <= 0) {
		e = TRASA_ERR_CRYPTO;
		goto out;
	}
	*der = d;
	*derlen = (size_t)n;
	e = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	tbuf_free(b);
	return e;
}

int
sshkey_sign(const struct sshkey *k, const char *alg, const uint8_t *data,
    size_t len, struct tbuf *sig)
{
	const struct sigalg *sa;
	const struct keytype *kt = keytype_of(k->type);
	struct tbuf *inner = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int e;

	if (kt == NULL || k->pkey == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (!k->has_private)
		return TRASA_ERR_INVALID_ARG;
	sa = alg == NULL ? sigalg_default(k->type) :
	    sigalg_by_name(alg, strlen(alg));
	if (sa == NULL || sa->type != k->type || sa->sha1)
		return TRASA_ERR_SIG_ALG;
	if ((e = digest_sign(k->pkey, sa->md, data, len, &raw, &rawlen)) != 0)
		return e;
	if (is_ecdsa(k->type)) {
		if ((inner = tbuf_new()) == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		if ((e = ecdsa_der_to_ssh(raw, rawlen, inner)) != 0)
			goto out;
	}
	if ((e = tbuf_put_cstring(sig, sa->name)) != 0)
		goto out;
	if (inner != NULL)
		e = tbuf_put_stringb(sig, inner);
	else
		e = tbuf_put_string(sig, raw, rawlen);
out:
	free(raw);
	tbuf_free(inner);
	return e;
}

int
sshkey_sig_alg(const uint8_t *sig, size_t siglen, char **alg)
{
	struct tbuf *b;
	int e;

	if ((b = tbuf_from(sig, siglen)) == NULL)
		return TRASA_ERR_ALLOC;
	e = tbuf_get_cstring(b, alg, NAME_MAX_LEN);
	tbuf_free(b);
	return e;
}

int
sshkey_verify(const struct sshkey *k, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len, const char *require_alg, unsigned flags)
{
	const struct keytype *kt = keytype_of(k->type);
	const struct sigalg *sa;
	struct tbuf *b;
	const uint8_t *name, *raw;
	size_t namelen, rawlen, modlen;
	uint8_t *der = NULL, *padded = NULL;
	size_t derlen = 0;
	EVP_PKEY *pkey;
	int e;

	if (kt == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((b = tbuf_from(sig, siglen)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_get_string_direct(b, &name, &namelen, NAME_MAX_LEN)) != 0 ||
	    (e = tbuf_get_string_direct(b, &raw, &rawlen, 0)) != 0 ||
	    (e = tbuf_expect_end(b)) != 0) {
		e = TRASA_ERR_BAD_SIGNATURE;
		goto out;
	}
	if ((sa = sigalg_by_name((const char *)name, namelen)) == NULL ||
	    sa->type != k->type) {
		e = TRASA_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (require_alg != NULL && strcmp(require_alg, sa->name) != 0) {
		e = TRASA_ERR_SIG_ALG;
		goto out;
	}
	if (sa->sha1 && !(flags & SSHKEY_ALLOW_SHA1)) {
		e = TRASA_ERR_SIG_ALG;
		goto out;
	}
	if ((pkey = key_pkey(k)) == NULL) {
		e = TRASA_ERR_CRYPTO;
		goto out;
	}
	switch (k->type) {
	case SSHKEY_ED25519:
		if (rawlen != 64) {
			e = TRASA_ERR_BAD_SIGNATURE;
			goto out;
		}
		e = digest_verify(pkey, NULL, raw, rawlen, data, len);
		break;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if ((e = ecdsa_ssh_to_der(raw, rawlen, kt->field, &der,
		    &derlen)) != 0) {
			e = e == TRASA_ERR_ALLOC ? e : TRASA_ERR_BAD_SIGNATURE;
			goto out;
		}
		e = digest_verify(pkey, sa->md, der, derlen, data, len);
		break;
	case SSHKEY_RSA:
		/* As OpenSSH: a short signature is left-padded to the modulus. */
		modlen = (size_t)EVP_PKEY_get_size(pkey);
		if (rawlen > modlen || rawlen == 0) {
			e = TRASA_ERR_BAD_SIGNATURE;
			goto out;
		}
		if (rawlen < modlen) {
			if ((padded = calloc(1, modlen)) == NULL) {
				e = TRASA_ERR_ALLOC;
				goto out;
			}
			memcpy(padded + modlen - rawlen, raw, rawlen);
			raw = padded;
			rawlen = modlen;
		}
		e = digest_verify(pkey, sa->md, raw, rawlen, data, len);
		break;
	default:
		e = TRASA_ERR_KEY_TYPE;
	}
out:
	OPENSSL_free(der);
	free(padded);
	tbuf_free(b);
	return e;
}

/* ------------------------------------------------------------------ */
/* Key generation. */

int
sshkey_generate(enum sshkey_type type, unsigned bits, struct sshkey **out)
{
	const struct keytype *kt = keytype_of(type);
	struct sshkey *k;
	EVP_PKEY *pkey = NULL;

	if (kt == NULL)
		return TRASA_ERR_KEY_TYPE;
	if (type == SSHKEY_RSA) {
		if (bits == 0)
			bits = SSHKEY_RSA_DEFAULT_BITS;
		if (bits < SSHKEY_RSA_MIN_BITS)
			return TRASA_ERR_KEY_TOO_SMALL;
		if (bits > SSHKEY_RSA_MAX_BITS)
			return TRASA_ERR_INVALID_ARG;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (type == SSHKEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kt->group);
	}
	if (pkey == NULL)
		return TRASA_ERR_CRYPTO;
	if ((k = sshkey_alloc()) == NULL) {
		EVP_PKEY_free(pkey);
		return TRASA_ERR_ALLOC;
	}
	k->type = type;
	k->pkey = pkey;
	k->has_private = 1;
	if (key_set_pub_from_pkey(k) != 0) {
		sshkey_free(k);
		return TRASA_ERR_CRYPTO;
	}
	*out = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* openssh-key-v1 private keys (PROTOCOL.key), unencrypted. */

static int
openssh_unarmor(const uint8_t *p, size_t len, struct tbuf **out)
{
	const char *s = (const char *)p, *end = s + len, *nl;
	char *b64 = NULL;
	size_t n = 0, l;
	int e = TRASA_ERR_FORMAT, in = 0, done = 0;

	if (len > PRIVKEY_FILE_MAX)
		return TRASA_ERR_TOO_LONG;
	if ((b64 = malloc(len + 1)) == NULL)
		return TRASA_ERR_ALLOC;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		l = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (!in) {
			if (l == strlen(OPENSSH_BEGIN) &&
			    memcmp(s, OPENSSH_BEGIN, l) == 0)
				in = 1;
			else if (l > 0)
				goto out; /* text before the armour */
		} else if (l == strlen(OPENSSH_END) &&
		    memcmp(s, OPENSSH_END, l) == 0) {
			done = 1;
			s = nl != NULL ? nl + 1 : end;
			break;
		} else {
			memcpy(b64 + n, s, l);
			n += l;
		}
		s = nl != NULL ? nl + 1 : end;
	}
	if (!done)
		goto out;
	/* Only blank lines may follow the armour. */
	for (; s < end; s++)
		if (*s != '\n' && *s != '\r' && *s != ' ' && *s != '\t')
			goto out;
	e = tbuf_from_base64(b64, n, out);
out:
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, len + 1);
		free(b64);
	}
	return e;
}

static int
openssh_get_private(struct tbuf *b, struct sshkey *k)
{
	const struct keytype *kt;
	const uint8_t *name, *pk, *sk, *curve, *q, *d;
	size_t namelen, pklen, sklen, curvelen, qlen, dlen;
	struct rsa_parts rp;
	enum sshkey_type type;
	EVP_PKEY *pkey = NULL;
	uint8_t derived[32];
	size_t dl = sizeof(derived);
	int is_cert, e;

	if ((e = tbuf_get_string_direct(b, &name, &namelen, NAME_MAX_LEN)) != 0)
		return e;
	if ((e = sshkey_type_from_ssh_name((const char *)name, namelen, &type,
	    &is_cert)) != 0)
		return e;
	if (is_cert)
		return TRASA_ERR_UNSUPPORTED;
	kt = keytype_of(type);
	switch (type) {
	case SSHKEY_ED25519:
		if ((e = tbuf_get_string_direct(b, &pk, &pklen, 1024)) != 0 ||
		    (e = tbuf_get_string_direct(b, &sk, &sklen, 1024)) != 0)
			return e;
		if (pklen != 32 || sklen != 64 || memcmp(sk + 32, pk, 32) != 0)
			return TRASA_ERR_BAD_KEY;
		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk,
		    32);
		if (pkey == NULL)
			return TRASA_ERR_BAD_KEY;
		if (EVP_PKEY_get_raw_public_key(pkey, derived, &dl) != 1 ||
		    dl != 32 || memcmp(derived, pk, 32) != 0) {
			EVP_PKEY_free(pkey);
			return TRASA_ERR_KEY_MISMATCH;
		}
		break;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if ((e = tbuf_get_string_direct(b, &curve, &curvelen,
		    NAME_MAX_LEN)) != 0 ||
		    (e = tbuf_get_string_direct(b, &q, &qlen, 1024)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &d, &dlen, kt->field)) != 0)
			return e;
		if (curvelen != strlen(kt->curve) ||
		    memcmp(curve, kt->curve, curvelen) != 0)
			return TRASA_ERR_BAD_KEY;
		if ((e = ec_from_point(kt, q, qlen, d, dlen, &pkey)) != 0)
			return e;
		break;
	case SSHKEY_RSA:
		memset(&rp, 0, sizeof(rp));
		if ((e = tbuf_get_mpint_direct(b, &rp.n, &rp.nlen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &rp.e, &rp.elen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &rp.d, &rp.dlen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &rp.iqmp, &rp.iqmplen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &rp.p, &rp.plen, 0)) != 0 ||
		    (e = tbuf_get_mpint_direct(b, &rp.q, &rp.qlen, 0)) != 0)
			return e;
		if ((e = rsa_from_parts(&rp, 1, &pkey)) != 0)
			return e;
		break;
	default:
		return TRASA_ERR_KEY_TYPE;
	}
	k->type = type;
	k->pkey = pkey;
	k->has_private = 1;
	return key_set_pub_from_pkey(k);
}

static int
openssh_parse(const uint8_t *p, size_t len, struct sshkey **out,
    char **comment)
{
	struct tbuf *raw = NULL, *priv = NULL;
	const uint8_t *cipher, *kdf, *kdfopts, *pubblob;
	size_t cipherlen, kdflen, kdfoptslen, publen, i;
	struct sshkey *k = NULL, *pub = NULL;
	uint32_t nkeys, check1, check2;
	uint8_t magic[sizeof(OPENSSH_MAGIC)], pad;
	char *c = NULL;
	int e;

	if ((e = openssh_unarmor(p, len, &raw)) != 0)
		return e;
	if ((e = tbuf_get_bytes(raw, magic, sizeof(magic))) != 0)
		goto out;
	if (memcmp(magic, OPENSSH_MAGIC, sizeof(magic)) != 0) {
		e = TRASA_ERR_FORMAT;
		goto out;
	}
	if ((e = tbuf_get_string_direct(raw, &cipher, &cipherlen,
	    NAME_MAX_LEN)) != 0 ||
	    (e = tbuf_get_string_direct(raw, &kdf, &kdflen, NAME_MAX_LEN)) != 0 ||
	    (e = tbuf_get_string_direct(raw, &kdfopts, &kdfoptslen, 1024)) != 0 ||
	    (e = tbuf_get_u32(raw, &nkeys)) != 0)
		goto out;
	if (cipherlen != 4 || memcmp(cipher, "none", 4) != 0 || kdflen != 4 ||
	    memcmp(kdf, "none", 4) != 0) {
		/* Passphrase-protected OpenSSH keys are not supported. */
		e = TRASA_ERR_UNSUPPORTED;
		goto out;
	}
	if (kdfoptslen != 0 || nkeys != 1) {
		e = TRASA_ERR_FORMAT;
		goto out;
	}
	if ((e = tbuf_get_string_direct(raw, &pubblob, &publen, 0)) != 0 ||
	    (e = sshkey_from_blob(pubblob, publen, &pub)) != 0 ||
	    (e = tbuf_get_sub(raw, &priv, 0)) != 0 ||
	    (e = tbuf_expect_end(raw)) != 0)
		goto out;
	if (tbuf_len(priv) % 8 != 0) {
		e = TRASA_ERR_FORMAT;
		goto out;
	}
	if ((e = tbuf_get_u32(priv, &check1)) != 0 ||
	    (e = tbuf_get_u32(priv, &check2)) != 0)
		goto out;
	if (check1 != check2) {
		e = TRASA_ERR_PASSPHRASE;
		goto out;
	}
	if ((k = sshkey_alloc()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if ((e = openssh_get_private(priv, k)) != 0 ||
	    (e = tbuf_get_cstring(priv, &c, 4096)) != 0)
		goto out;
	/* Padding: 1, 2, 3, ... up to the block size. */
	for (i = 1; tbuf_len(priv) > 0; i++) {
		if ((e = tbuf_get_u8(priv, &pad)) != 0)
			goto out;
		if (pad != (uint8_t)i || i > 255) {
			e = TRASA_ERR_FORMAT;
			goto out;
		}
	}
	if (!sshkey_equal_public(k, pub)) {
		e = TRASA_ERR_KEY_MISMATCH;
		goto out;
	}
	if (comment != NULL) {
		*comment = c;
		c = NULL;
	}
	*out = k;
	k = NULL;
	e = 0;
out:
	free(c);
	sshkey_free(k);
	sshkey_free(pub);
	tbuf_free(priv);
	tbuf_free(raw);
	return e;
}

static int
openssh_put_private(const struct sshkey *k, struct tbuf *b)
{
	uint8_t seed[32], pk[32], sk[64];
	size_t seedlen = sizeof(seed), pklen = sizeof(pk);
	int e;

	if ((e = tbuf_put_cstring(b, sshkey_plain_name(k))) != 0)
		return e;
	switch (k->type) {
	case SSHKEY_ED25519:
		if (EVP_PKEY_get_raw_private_key(k->pkey, seed, &seedlen) != 1 ||
		    EVP_PKEY_get_raw_public_key(k->pkey, pk, &pklen) != 1 ||
		    seedlen != 32 || pklen != 32)
			return TRASA_ERR_CRYPTO;
		memcpy(sk, seed, 32);
		memcpy(sk + 32, pk, 32);
		if ((e = tbuf_put_string(b, pk, 32)) == 0)
			e = tbuf_put_string(b, sk, 64);
		OPENSSL_cleanse(seed, sizeof(seed));
		OPENSSL_cleanse(sk, sizeof(sk));
		return e;
	case SSHKEY_ECDSA_P256:
	case SSHKEY_ECDSA_P384:
	case SSHKEY_ECDSA_P521:
		if ((e = sshkey_put_pubparts(k, b)) != 0)
			return e;
		return put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_PRIV_KEY);
	case SSHKEY_RSA:
		if ((e = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_N)) != 0 ||
		    (e = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
		    (e = put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_D)) != 0 ||
		    (e = put_bn_param(b, k->pkey,
		    OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) != 0 ||
		    (e = put_bn_param(b, k->pkey,
		    OSSL_PKEY_PARAM_RSA_FACTOR1)) != 0)
			return e;
		return put_bn_param(b, k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
	default:
		return TRASA_ERR_KEY_TYPE;
	}
}

int
sshkey_private_to_openssh(const struct sshkey *k, const char *comment,
    struct tbuf *out)
{
	struct tbuf *raw = NULL, *priv = NULL, *pub = NULL, *b64 = NULL;
	char *text = NULL;
	uint32_t check;
	size_t i, n;
	int e;

	if (k->cert != NULL || !k->has_private)
		return TRASA_ERR_INVALID_ARG;
	if ((raw = tbuf_new()) == NULL || (priv = tbuf_new()) == NULL ||
	    (pub = tbuf_new()) == NULL || (b64 = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1) {
		e = TRASA_ERR_CRYPTO;
		goto out;
	}
	if ((e = tbuf_put_u32(priv, check)) != 0 ||
	    (e = tbuf_put_u32(priv, check)) != 0 ||
	    (e = openssh_put_private(k, priv)) != 0 ||
	    (e = tbuf_put_cstring(priv, comment != NULL ? comment : "")) != 0)
		goto out;
	for (i = 1; tbuf_len(priv) % 8 != 0; i++)
		if ((e = tbuf_put_u8(priv, (uint8_t)i)) != 0)
			goto out;
	if ((e = sshkey_plain_to_blob(k, pub)) != 0 ||
	    (e = tbuf_put(raw, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC))) != 0 ||
	    (e = tbuf_put_cstring(raw, "none")) != 0 ||
	    (e = tbuf_put_cstring(raw, "none")) != 0 ||
	    (e = tbuf_put_string(raw, NULL, 0)) != 0 ||
	    (e = tbuf_put_u32(raw, 1)) != 0 ||
	    (e = tbuf_put_stringb(raw, pub)) != 0 ||
	    (e = tbuf_put_stringb(raw, priv)) != 0)
		goto out;
	if ((e = tbuf_to_base64(raw, &text)) != 0)
		goto out;
	/* Armour with 70-column lines, as ssh-keygen writes. */
	if ((e = tbuf_put(out, OPENSSH_BEGIN "\n", strlen(OPENSSH_BEGIN) + 1)) != 0)
		goto out;
	n = strlen(text);
	for (i = 0; i < n; i += 70) {
		if ((e = tbuf_put(out, text + i, n - i < 70 ? n - i : 70)) != 0 ||
		    (e = tbuf_put_u8(out, '\n')) != 0)
			goto out;
	}
	e = tbuf_put(out, OPENSSH_END "\n", strlen(OPENSSH_END) + 1);
out:
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	tbuf_free(raw);
	tbuf_free(priv);
	tbuf_free(pub);
	tbuf_free(b64);
	return e;
}

/* ------------------------------------------------------------------ */
/* PKCS#8 (and traditional PEM) private keys through OpenSSL. */

struct pw_state {
	const char *passphrase;
	int asked;
};

static int
pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pw_state *st = u;
	size_t n;

	st->asked = 1;
	if (st->passphrase == NULL)
		return -1;
	n = strlen(st->passphrase);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, st->passphrase, n);
	return (int)n;
}

/* A decoded RSA private key must hold together, as one read from an
 * openssh-key-v1 file must: odd e, n = p * q. */
static int
rsa_check_private(const EVP_PKEY *pkey)
{
	BIGNUM *n = NULL, *e = NULL, *p = NULL, *q = NULL, *pq = NULL;
	BN_CTX *bnctx = NULL;
	int r = TRASA_ERR_KEY_MISMATCH;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &q))
		goto out;
	if ((pq = BN_new()) == NULL || (bnctx = BN_CTX_new()) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	if (!BN_is_odd(e) || !BN_is_odd(n) || BN_is_one(p) || BN_is_one(q) ||
	    !BN_mul(pq, p, q, bnctx) || BN_cmp(pq, n) != 0)
		goto out;
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(pq);
	BN_CTX_free(bnctx);
	return r;
}

static int
pkey_to_sshkey(EVP_PKEY *pkey, struct sshkey *k)
{
	char group[64];
	size_t glen = 0, i;
	int e;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		k->type = SSHKEY_ED25519;
		break;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pkey) < SSHKEY_RSA_MIN_BITS)
			return TRASA_ERR_KEY_TOO_SMALL;
		if (EVP_PKEY_get_bits(pkey) > SSHKEY_RSA_MAX_BITS)
			return TRASA_ERR_BAD_KEY;
		if ((e = rsa_check_private(pkey)) != 0)
			return e;
		k->type = SSHKEY_RSA;
		break;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen))
			return TRASA_ERR_KEY_TYPE;
		k->type = SSHKEY_UNSPEC;
		for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
			if (keytypes[i].group != NULL &&
			    (strcmp(keytypes[i].group, group) == 0 ||
			    strcmp(keytypes[i].group_alt, group) == 0))
				k->type = keytypes[i].type;
		if (k->type == SSHKEY_UNSPEC)
			return TRASA_ERR_KEY_TYPE;
		/* Our EC blobs carry uncompressed points. */
		if (!EVP_PKEY_set_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed"))
			return TRASA_ERR_CRYPTO;
		if ((e = ec_check_public(pkey, 1)) != 0)
			return e;
		break;
	default:
		return TRASA_ERR_KEY_TYPE;
	}
	k->pkey = pkey;
	k->has_private = 1;
	return key_set_pub_from_pkey(k);
}

static int
pem_parse(const uint8_t *p, size_t len, const char *passphrase,
    struct sshkey **out)
{
	struct pw_state st = { passphrase, 0 };
	struct sshkey *k = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	int e;

	if (len > PRIVKEY_FILE_MAX || len > INT32_MAX)
		return TRASA_ERR_TOO_LONG;
	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		return TRASA_ERR_ALLOC;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pw_cb, &st);
	BIO_free(bio);
	if (pkey == NULL) {
		if (st.asked)
			return passphrase == NULL ? TRASA_ERR_ENCRYPTED :
			    TRASA_ERR_PASSPHRASE;
		return TRASA_ERR_FORMAT;
	}
	if ((k = sshkey_alloc()) == NULL) {
		EVP_PKEY_free(pkey);
		return TRASA_ERR_ALLOC;
	}
	if ((e = pkey_to_sshkey(pkey, k)) != 0) {
		EVP_PKEY_free(pkey);
		free(k);
		return e;
	}
	*out = k;
	return 0;
}

int
sshkey_private_parse(const uint8_t *p, size_t len, const char *passphrase,
    struct sshkey **out, char **comment)
{
	char *c;
	int e;

	if (len >= strlen(OPENSSH_BEGIN) && memmem(p, len, OPENSSH_BEGIN,
	    strlen(OPENSSH_BEGIN)) != NULL)
		return openssh_parse(p, len, out, comment);
	if ((e = pem_parse(p, len, passphrase, out)) != 0)
		return e;
	if (comment != NULL) {
		if ((c = strdup("")) == NULL) {
			sshkey_free(*out);
			*out = NULL;
			return TRASA_ERR_ALLOC;
		}
		*comment = c;
	}
	return 0;
}

int
sshkey_private_to_pkcs8(const struct sshkey *k, const char *passphrase,
    struct tbuf *out)
{
	BIO *bio;
	char *data = NULL;
	long n;
	int e = TRASA_ERR_CRYPTO;

	if (k->cert != NULL || !k->has_private)
		return TRASA_ERR_INVALID_ARG;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return TRASA_ERR_ALLOC;
	if (PEM_write_bio_PKCS8PrivateKey(bio, k->pkey,
	    passphrase != NULL ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
	    (void *)(uintptr_t)passphrase) != 1)
		goto out;
	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	e = tbuf_put(out, data, (size_t)n);
	OPENSSL_cleanse(data, (size_t)n);
out:
	BIO_free(bio);
	return e;
}

/* ------------------------------------------------------------------ */
/* Files. */

int
sshkey_load_public(const char *path, struct sshkey **out, char **comment)
{
	struct tbuf *b = NULL;
	char *text = NULL, *line, *next;
	size_t n;
	int e;

	if ((e = fileio_read(path, PUBKEY_FILE_MAX, 0, &b)) != 0)
		return e;
	n = tbuf_len(b);
	if (memchr(tbuf_ptr(b), '\0', n) != NULL) {
		e = TRASA_ERR_STRING_NUL;
		goto out;
	}
	if ((text = malloc(n + 1)) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	memcpy(text, tbuf_ptr(b), n);
	text[n] = '\0';
	/* The first line that is not blank or a comment. */
	e = TRASA_ERR_FORMAT;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (is_space(*line))
			line++;
		if (*line == '\0' || *line == '#' || *line == '\r')
			continue;
		e = sshkey_parse_public(line, out, comment);
		break;
	}
out:
	free(text);
	tbuf_free(b);
	return e;
}

int
sshkey_load_private(const char *path, const char *passphrase,
    struct sshkey **out, char **comment)
{
	struct tbuf *b = NULL;
	int e;

	if ((e = fileio_read(path, PRIVKEY_FILE_MAX, 0, &b)) != 0)
		return e;
	e = sshkey_private_parse(tbuf_ptr(b), tbuf_len(b), passphrase, out,
	    comment);
	tbuf_free(b);
	return e;
}

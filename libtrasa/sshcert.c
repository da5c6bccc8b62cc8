/*
 * sshcert.c: OpenSSH certificates (PROTOCOL.certkeys): parsing, building,
 * signing and judging them as OpenSSH 9.2's sshd (and ssh, for host
 * certificates) does.
 */
#include "sshcert.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "err.h"
#include "krl.h"
#include "sshkey-int.h"
#include "sshkey.h"
#include "tbuf.h"

#define NONCE_LEN 32

/* ---------------------------------------------------------------- helpers */

static void
opt_clear(struct sshcert_opt *o)
{
	free(o->name);
	if (o->data != NULL) {
		OPENSSL_cleanse(o->data, o->len);
		free(o->data);
	}
	free(o->value);
	memset(o, 0, sizeof(*o));
}

static void
opts_free(struct sshcert_opt *opts, size_t n)
{
	size_t i;

	if (opts == NULL)
		return;
	for (i = 0; i < n; i++)
		opt_clear(&opts[i]);
	free(opts);
}

void
sshcert_free(struct sshcert *c)
{
	size_t i;

	if (c == NULL)
		return;
	tbuf_free(c->blob);
	free(c->key_id);
	if (c->principals != NULL) {
		for (i = 0; i < c->nprincipals; i++)
			free(c->principals[i]);
		free(c->principals);
	}
	opts_free(c->critical, c->ncritical);
	opts_free(c->extensions, c->nextensions);
	sshkey_free(c->signature_key);
	free(c->signature_alg);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static const struct sshcert *
cert_of(const struct sshkey *k)
{
	if (k == NULL || !sshkey_is_cert(k))
		return NULL;
	return k->cert;
}

/*
 * A certificate being built: any change drops the blob and signature of an
 * earlier signing, so nothing stale is ever emitted.
 */
static void
cert_unsign(struct sshcert *c)
{
	tbuf_free(c->blob);
	c->blob = NULL;
	sshkey_free(c->signature_key);
	c->signature_key = NULL;
	free(c->signature_alg);
	c->signature_alg = NULL;
}

/*
 * Decode option data as exactly one string without NULs; *value stays NULL
 * for empty or opaque data. Only allocation failure is an error.
 */
static int
opt_decode_value(const uint8_t *data, size_t len, char **value)
{
	struct tbuf *v;
	char *s = NULL;
	int r;

	*value = NULL;
	if (len == 0)
		return 0;
	if ((v = tbuf_from(data, len)) == NULL)
		return TRASA_ERR_ALLOC;
	r = tbuf_get_cstring(v, &s, 0);
	if (r == 0 && tbuf_expect_end(v) == 0) {
		*value = s;
		s = NULL;
	} else if (r == TRASA_ERR_ALLOC) {
		tbuf_free(v);
		return r;
	}
	free(s);
	tbuf_free(v);
	return 0;
}

/*
 * Parse a critical-options or extensions section: name/data pairs, names
 * unique and in strictly increasing (strcmp) order, as PROTOCOL.certkeys
 * requires and ssh-keygen writes.
 */
static int
opts_parse(struct tbuf *sec, struct sshcert_opt **out, size_t *nout)
{
	struct sshcert_opt *opts = NULL, *o;
	size_t n = 0;
	const uint8_t *data;
	size_t len;
	char *name = NULL;
	int r;

	while (tbuf_len(sec) > 0) {
		if (n >= SSHCERT_MAX_OPTIONS) {
			r = TRASA_ERR_TOO_MANY;
			goto out;
		}
		if ((r = tbuf_get_cstring(sec, &name, 0)) != 0 ||
		    (r = tbuf_get_string_direct(sec, &data, &len, 0)) != 0)
			goto out;
		if (n > 0 && strcmp(opts[n - 1].name, name) >= 0) {
			r = TRASA_ERR_OPTION_ORDER;
			goto out;
		}
		if ((o = reallocarray(opts, n + 1, sizeof(*opts))) == NULL) {
			r = TRASA_ERR_ALLOC;
			goto out;
		}
		opts = o;
		o = &opts[n];
		memset(o, 0, sizeof(*o));
		n++;
		o->name = name;
		name = NULL;
		if (len > 0) {
			if ((o->data = malloc(len)) == NULL) {
				r = TRASA_ERR_ALLOC;
				goto out;
			}
			memcpy(o->data, data, len);
			o->len = len;
		}
		if ((r = opt_decode_value(o->data, o->len, &o->value)) != 0)
			goto out;
	}
	*out = opts;
	*nout = n;
	opts = NULL;
	n = 0;
	r = 0;
out:
	free(name);
	opts_free(opts, n);
	return r;
}

static int
principals_parse(struct tbuf *sec, char ***out, size_t *nout)
{
	char **p = NULL, **np, *s = NULL;
	size_t n = 0, i;
	int r;

	/* Duplicates are kept, as OpenSSH does. */
	while (tbuf_len(sec) > 0) {
		if (n >= SSHCERT_MAX_PRINCIPALS) {
			r = TRASA_ERR_TOO_MANY;
			goto out;
		}
		if ((r = tbuf_get_cstring(sec, &s, 0)) != 0)
			goto out;
		if ((np = reallocarray(p, n + 1, sizeof(*p))) == NULL) {
			r = TRASA_ERR_ALLOC;
			goto out;
		}
		p = np;
		p[n++] = s;
		s = NULL;
	}
	*out = p;
	*nout = n;
	p = NULL;
	n = 0;
	r = 0;
out:
	free(s);
	for (i = 0; i < n; i++)
		free(p[i]);
	free(p);
	return r;
}

/*
 * The signature key: a plain key blob. A certificate there is refused
 * from its name alone, before it is parsed (no recursion into nested
 * certificates).
 */
static int
sigkey_parse(const uint8_t *p, size_t len, unsigned flags, struct sshkey **out)
{
	struct tbuf *v;
	const uint8_t *name;
	size_t nlen;
	enum sshkey_type t;
	int is_cert = 0, r;

	if ((v = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	r = tbuf_get_string_direct(v, &name, &nlen, 0);
	tbuf_free(v);
	if (r != 0)
		return r;
	if (sshkey_type_from_ssh_name((const char *)name, nlen, &t,
	    &is_cert) == 0 && is_cert)
		return TRASA_ERR_CA_IS_CERT;
	/* Without the signature check at parse time the CA key is only
	 * compared, by its bytes, with trusted keys: build it when used. */
	return sshkey_from_blob_flags(p, len, (flags & SSHKEY_PARSE_NO_VERIFY) ?
	    SSHKEY_PARSE_LAZY_KEY : 0, out);
}

/* ---------------------------------------------------------------- parsing */

int
sshcert_parse(struct tbuf *b, const uint8_t *blob, size_t bloblen,
    enum sshkey_type type, unsigned flags, struct sshkey *k)
{
	struct sshcert *c = NULL;
	struct tbuf *princ = NULL, *crit = NULL, *exts = NULL;
	const uint8_t *nonce, *ca, *sig;
	size_t nonce_len, ca_len, sig_len, signed_len;
	uint32_t ctype;
	int r;

	if (b == NULL || blob == NULL || k == NULL || k->cert != NULL ||
	    tbuf_len(b) > bloblen)
		return TRASA_ERR_INVALID_ARG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return TRASA_ERR_ALLOC;

	/* The nonce may be of any length; the blob keeps all of it. */
	if ((r = tbuf_get_string_direct(b, &nonce, &nonce_len, 0)) != 0)
		goto out;
	c->nonce_len = nonce_len < NONCE_LEN ? nonce_len : NONCE_LEN;
	memcpy(c->nonce, nonce, c->nonce_len);
	if ((r = sshkey_get_pubparts(b, type, k)) != 0)
		goto out;
	if ((r = tbuf_get_u64(b, &c->serial)) != 0 ||
	    (r = tbuf_get_u32(b, &ctype)) != 0)
		goto out;
	if (ctype != SSHCERT_USER && ctype != SSHCERT_HOST) {
		r = TRASA_ERR_CERT_TYPE;
		goto out;
	}
	c->type = (enum sshcert_type)ctype;
	if ((r = tbuf_get_cstring(b, &c->key_id, 0)) != 0 ||
	    (r = tbuf_get_sub(b, &princ, 0)) != 0 ||
	    (r = tbuf_get_u64(b, &c->valid_after)) != 0 ||
	    (r = tbuf_get_u64(b, &c->valid_before)) != 0 ||
	    (r = tbuf_get_sub(b, &crit, 0)) != 0 ||
	    (r = tbuf_get_sub(b, &exts, 0)) != 0 ||
	    /* reserved */
	    (r = tbuf_get_string_direct(b, NULL, NULL, 0)) != 0 ||
	    (r = tbuf_get_string_direct(b, &ca, &ca_len, 0)) != 0)
		goto out;

	/* Everything before the signature string is signed. */
	signed_len = bloblen - tbuf_len(b);
	if ((r = tbuf_get_string_direct(b, &sig, &sig_len, 0)) != 0 ||
	    (r = tbuf_expect_end(b)) != 0)
		goto out;

	/* valid_after > valid_before is not refused here, as in OpenSSH:
	 * such a certificate simply never validates. */
	if ((r = principals_parse(princ, &c->principals,
	    &c->nprincipals)) != 0 ||
	    (r = opts_parse(crit, &c->critical, &c->ncritical)) != 0 ||
	    (r = opts_parse(exts, &c->extensions, &c->nextensions)) != 0)
		goto out;

	if ((r = sigkey_parse(ca, ca_len, flags, &c->signature_key)) != 0)
		goto out;
	/* Any valid signature is accepted here, as OpenSSH's cert_parse;
	 * sshcert_check() applies the SHA-1 policy. */
	if (!(flags & SSHKEY_PARSE_NO_VERIFY)) {
		if ((r = sshkey_verify(c->signature_key, sig, sig_len, blob,
		    signed_len, NULL, SSHKEY_ALLOW_SHA1)) != 0)
			goto out;
		c->verified = 1;
	}
	c->signed_len = signed_len;
	if ((r = sshkey_sig_alg(sig, sig_len, &c->signature_alg)) != 0)
		goto out;
	if ((c->blob = tbuf_from_copy(blob, bloblen)) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	k->cert = c;
	c = NULL;
	r = 0;
out:
	tbuf_free(princ);
	tbuf_free(crit);
	tbuf_free(exts);
	sshcert_free(c);
	return r;
}

/* ---------------------------------------------------------------- reading */

enum sshcert_type
sshcert_type(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->type : (enum sshcert_type)0;
}

uint64_t
sshcert_serial(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->serial : 0;
}

const char *
sshcert_key_id(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->key_id : NULL;
}

size_t
sshcert_nprincipals(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->nprincipals : 0;
}

const char *
sshcert_principal(const struct sshkey *k, size_t i)
{
	const struct sshcert *c = cert_of(k);

	if (c == NULL || i >= c->nprincipals)
		return NULL;
	return c->principals[i];
}

uint64_t
sshcert_valid_after(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->valid_after : 0;
}

uint64_t
sshcert_valid_before(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->valid_before : 0;
}

size_t
sshcert_ncritical(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->ncritical : 0;
}

static int
opt_get(const struct sshcert_opt *opts, size_t n, size_t i, const char **name,
    const char **value)
{
	if (i >= n)
		return TRASA_ERR_INVALID_ARG;
	if (name != NULL)
		*name = opts[i].name;
	if (value != NULL)
		*value = opts[i].value;
	return 0;
}

int
sshcert_critical(const struct sshkey *k, size_t i, const char **name,
    const char **value)
{
	const struct sshcert *c = cert_of(k);

	if (c == NULL)
		return TRASA_ERR_NOT_CERT;
	return opt_get(c->critical, c->ncritical, i, name, value);
}

size_t
sshcert_nextensions(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->nextensions : 0;
}

int
sshcert_extension(const struct sshkey *k, size_t i, const char **name,
    const char **value)
{
	const struct sshcert *c = cert_of(k);

	if (c == NULL)
		return TRASA_ERR_NOT_CERT;
	return opt_get(c->extensions, c->nextensions, i, name, value);
}

const struct sshkey *
sshcert_signature_key(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->signature_key : NULL;
}

const char *
sshcert_signature_alg(const struct sshkey *k)
{
	const struct sshcert *c = cert_of(k);

	return c != NULL ? c->signature_alg : NULL;
}

/* ---------------------------------------------------------------- building */

int
sshcert_new(const struct sshkey *subject, enum sshcert_type type,
    struct sshkey **out)
{
	struct sshkey *k = NULL;
	struct sshcert *c = NULL;
	int r;

	if (subject == NULL || out == NULL ||
	    (type != SSHCERT_USER && type != SSHCERT_HOST))
		return TRASA_ERR_INVALID_ARG;
	if ((r = sshkey_dup_public(subject, &k)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->key_id = strdup("")) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	c->type = type;
	c->valid_after = 0;
	c->valid_before = SSHCERT_FOREVER;
	if (RAND_bytes(c->nonce, NONCE_LEN) != 1) {
		r = TRASA_ERR_CRYPTO;
		goto out;
	}
	c->nonce_len = NONCE_LEN;
	k->cert = c;
	c = NULL;
	*out = k;
	k = NULL;
	r = 0;
out:
	sshcert_free(c);
	sshkey_free(k);
	return r;
}

int
sshcert_set_serial(struct sshkey *k, uint64_t serial)
{
	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	cert_unsign(k->cert);
	k->cert->serial = serial;
	return 0;
}

int
sshcert_set_key_id(struct sshkey *k, const char *key_id)
{
	struct sshcert *c;
	char *s;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	if (key_id == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (strlen(key_id) > TBUF_MAX_STRING)
		return TRASA_ERR_TOO_LONG;
	if ((s = strdup(key_id)) == NULL)
		return TRASA_ERR_ALLOC;
	c = k->cert;
	cert_unsign(c);
	free(c->key_id);
	c->key_id = s;
	return 0;
}

int
sshcert_add_principal(struct sshkey *k, const char *principal)
{
	struct sshcert *c;
	char **np, *s;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	if (principal == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (strlen(principal) > TBUF_MAX_STRING)
		return TRASA_ERR_TOO_LONG;
	if (k->cert->nprincipals >= SSHCERT_MAX_PRINCIPALS)
		return TRASA_ERR_TOO_MANY;
	if ((s = strdup(principal)) == NULL)
		return TRASA_ERR_ALLOC;
	c = k->cert;
	if ((np = reallocarray(c->principals, c->nprincipals + 1,
	    sizeof(*np))) == NULL) {
		free(s);
		return TRASA_ERR_ALLOC;
	}
	c->principals = np;
	c->principals[c->nprincipals++] = s;
	cert_unsign(c);
	return 0;
}

int
sshcert_set_validity(struct sshkey *k, uint64_t after, uint64_t before)
{
	struct sshcert *c;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	/* As ssh-keygen: an empty interval is refused. */
	if (after >= before)
		return TRASA_ERR_BAD_VALIDITY;
	c = k->cert;
	cert_unsign(c);
	c->valid_after = after;
	c->valid_before = before;
	return 0;
}

static int
opts_add(struct sshcert_opt **optsp, size_t *np, const char *name,
    const char *value)
{
	struct sshcert_opt o, *no;
	struct tbuf *d = NULL;
	size_t i;
	int r;

	if (name == NULL || *name == '\0')
		return TRASA_ERR_INVALID_ARG;
	if (strlen(name) > TBUF_MAX_STRING ||
	    (value != NULL && strlen(value) > TBUF_MAX_STRING))
		return TRASA_ERR_TOO_LONG;
	for (i = 0; i < *np; i++) {
		if (strcmp((*optsp)[i].name, name) == 0)
			return TRASA_ERR_OPTION_ORDER;
	}
	if (*np >= SSHCERT_MAX_OPTIONS)
		return TRASA_ERR_TOO_MANY;
	memset(&o, 0, sizeof(o));
	if ((o.name = strdup(name)) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	/* As ssh-keygen: a value is one string inside the data. */
	if (value != NULL) {
		if ((o.value = strdup(value)) == NULL ||
		    (d = tbuf_new()) == NULL) {
			r = TRASA_ERR_ALLOC;
			goto out;
		}
		if ((r = tbuf_put_cstring(d, value)) != 0)
			goto out;
		o.len = tbuf_len(d);
		if ((o.data = malloc(o.len)) == NULL) {
			r = TRASA_ERR_ALLOC;
			goto out;
		}
		memcpy(o.data, tbuf_ptr(d), o.len);
	}
	if ((no = reallocarray(*optsp, *np + 1, sizeof(*no))) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	*optsp = no;
	no[(*np)++] = o;
	memset(&o, 0, sizeof(o));
	r = 0;
out:
	tbuf_free(d);
	opt_clear(&o);
	return r;
}

int
sshcert_add_critical(struct sshkey *k, const char *name, const char *value)
{
	int r;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	if ((r = opts_add(&k->cert->critical, &k->cert->ncritical, name,
	    value)) != 0)
		return r;
	cert_unsign(k->cert);
	return 0;
}

int
sshcert_add_extension(struct sshkey *k, const char *name, const char *value)
{
	int r;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	if ((r = opts_add(&k->cert->extensions, &k->cert->nextensions, name,
	    value)) != 0)
		return r;
	cert_unsign(k->cert);
	return 0;
}

int
sshcert_add_default_extensions(struct sshkey *k)
{
	static const char *const defaults[] = {
		"permit-X11-forwarding",
		"permit-agent-forwarding",
		"permit-port-forwarding",
		"permit-pty",
		"permit-user-rc",
	};
	size_t i, j;
	int r, have;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		/* Already present (perhaps with the same flag): keep it. */
		have = 0;
		for (j = 0; j < k->cert->nextensions; j++) {
			if (strcmp(k->cert->extensions[j].name,
			    defaults[i]) == 0)
				have = 1;
		}
		if (have)
			continue;
		if ((r = sshcert_add_extension(k, defaults[i], NULL)) != 0)
			return r;
	}
	return 0;
}

static int
opt_cmp(const void *a, const void *b)
{
	const struct sshcert_opt *oa = a, *ob = b;

	return strcmp(oa->name, ob->name);
}

static int
opts_put(struct tbuf *b, struct sshcert_opt *opts, size_t n)
{
	struct tbuf *sec;
	size_t i;
	int r = 0;

	if ((sec = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if (n > 0)
		qsort(opts, n, sizeof(*opts), opt_cmp);
	for (i = 0; i < n && r == 0; i++) {
		if ((r = tbuf_put_cstring(sec, opts[i].name)) == 0)
			r = tbuf_put_string(sec, opts[i].data, opts[i].len);
	}
	if (r == 0)
		r = tbuf_put_stringb(b, sec);
	tbuf_free(sec);
	return r;
}

int
sshcert_sign(struct sshkey *k, const struct sshkey *ca, const char *alg)
{
	struct sshcert *c;
	struct tbuf *b = NULL, *sec = NULL, *sig = NULL;
	struct sshkey *sigkey = NULL;
	char *sigalg = NULL;
	const char *name;
	size_t i, signed_len;
	int r;

	if (k == NULL || k->cert == NULL)
		return TRASA_ERR_NOT_CERT;
	if (ca == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (sshkey_is_cert(ca))
		return TRASA_ERR_CA_IS_CERT;
	if (!sshkey_has_private(ca))
		return TRASA_ERR_INVALID_ARG;
	if (alg != NULL &&
	    (strcmp(alg, "ssh-rsa") == 0 || !sshkey_alg_fits(ca, alg)))
		return TRASA_ERR_SIG_ALG;
	c = k->cert;
	/*
	 * Our choice: ssh-keygen signs a user certificate without principals,
	 * but sshd refuses every such certificate (and older sshd took it as
	 * valid for any user), so we never make one.
	 */
	if (c->type == SSHCERT_USER && c->nprincipals == 0)
		return TRASA_ERR_NO_PRINCIPALS;
	if (c->valid_after >= c->valid_before)
		return TRASA_ERR_BAD_VALIDITY;
	if ((name = sshkey_cert_name(k->type)) == NULL)
		return TRASA_ERR_KEY_TYPE;

	if ((b = tbuf_new()) == NULL || (sec = tbuf_new()) == NULL ||
	    (sig = tbuf_new()) == NULL) {
		r = TRASA_ERR_ALLOC;
		goto out;
	}
	if ((r = tbuf_put_cstring(b, name)) != 0 ||
	    (r = tbuf_put_string(b, c->nonce, c->nonce_len)) != 0 ||
	    (r = sshkey_put_pubparts(k, b)) != 0 ||
	    (r = tbuf_put_u64(b, c->serial)) != 0 ||
	    (r = tbuf_put_u32(b, (uint32_t)c->type)) != 0 ||
	    (r = tbuf_put_cstring(b, c->key_id)) != 0)
		goto out;
	for (i = 0; i < c->nprincipals; i++) {
		if ((r = tbuf_put_cstring(sec, c->principals[i])) != 0)
			goto out;
	}
	if ((r = tbuf_put_stringb(b, sec)) != 0 ||
	    (r = tbuf_put_u64(b, c->valid_after)) != 0 ||
	    (r = tbuf_put_u64(b, c->valid_before)) != 0 ||
	    (r = opts_put(b, c->critical, c->ncritical)) != 0 ||
	    (r = opts_put(b, c->extensions, c->nextensions)) != 0 ||
	    (r = tbuf_put_string(b, NULL, 0)) != 0)
		goto out;
	tbuf_reset(sec);
	if ((r = sshkey_plain_to_blob(ca, sec)) != 0 ||
	    (r = tbuf_put_stringb(b, sec)) != 0)
		goto out;
	signed_len = tbuf_len(b);
	if ((r = sshkey_sign(ca, alg, tbuf_ptr(b), tbuf_len(b), sig)) != 0 ||
	    (r = tbuf_put_stringb(b, sig)) != 0)
		goto out;
	if ((r = sshkey_sig_alg(tbuf_ptr(sig), tbuf_len(sig), &sigalg)) != 0 ||
	    (r = sshkey_ref_public(ca, &sigkey)) != 0)
		goto out;

	cert_unsign(c);
	c->blob = b;
	c->signed_len = signed_len;
	c->verified = 1;
	c->signature_key = sigkey;
	c->signature_alg = sigalg;
	b = NULL;
	sigkey = NULL;
	sigalg = NULL;
	r = 0;
out:
	tbuf_free(b);
	tbuf_free(sec);
	tbuf_free(sig);
	sshkey_free(sigkey);
	free(sigalg);
	return r;
}

/* ---------------------------------------------------------------- addresses */

/*
 * source-address lists as sshd's addr_match_cidr_list(): comma-separated
 * CIDR entries, numeric addresses read with getaddrinfo(AI_NUMERICHOST)
 * (so "127.1" is 127.0.0.1, as on this platform's sshd), host bits below
 * the mask must be zero, no wildcards or negation.
 */
struct xaddr {
	int af;
	uint8_t a[16];
	uint32_t scope_id;
};

#define CIDR_CHARS "0123456789abcdefABCDEF.:/"

static int
xaddr_parse(const char *s, struct xaddr *x)
{
	struct addrinfo hints, *ai = NULL;
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;
	int r = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(s, NULL, &hints, &ai) != 0 || ai == NULL)
		return -1;
	memset(x, 0, sizeof(*x));
	if (ai->ai_addr == NULL)
		goto out;
	if (ai->ai_family == AF_INET &&
	    ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
		in4 = (const struct sockaddr_in *)(const void *)ai->ai_addr;
		x->af = AF_INET;
		memcpy(x->a, &in4->sin_addr, 4);
		r = 0;
	} else if (ai->ai_family == AF_INET6 &&
	    ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
		in6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
		x->af = AF_INET6;
		memcpy(x->a, &in6->sin6_addr, 16);
		x->scope_id = in6->sin6_scope_id;
		r = 0;
	}
out:
	freeaddrinfo(ai);
	return r;
}

static unsigned
xaddr_bits(const struct xaddr *x)
{
	return x->af == AF_INET ? 32 : 128;
}

/* 1 when the first masklen bits of a and b agree. */
static int
xaddr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned masklen)
{
	unsigned full = masklen / 8, rest = masklen % 8;
	uint8_t m;

	if (full > 0 && memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	m = (uint8_t)(0xff << (8 - rest));
	return (a[full] & m) == (b[full] & m);
}

/* 0 and the network on success, -1 for a malformed entry. */
static int
cidr_parse(const char *entry, size_t len, struct xaddr *net, unsigned *masklen)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash, *end;
	unsigned long ml = 0;
	struct xaddr masked;

	if (len == 0 || len > INET6_ADDRSTRLEN + 3)
		return -1;
	memcpy(buf, entry, len);
	buf[len] = '\0';
	if (strspn(buf, CIDR_CHARS) != len)
		return -1;
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		if (*slash < '0' || *slash > '9')
			return -1;
		ml = strtoul(slash, &end, 10);
		if (*end != '\0' || ml > 128)
			return -1;
	}
	if (xaddr_parse(buf, net) != 0)
		return -1;
	if (slash == NULL)
		ml = xaddr_bits(net);
	if (ml > xaddr_bits(net))
		return -1;
	/* Host bits must be zero: the address is its own network. */
	memset(&masked, 0, sizeof(masked));
	masked.af = net->af;
	masked.scope_id = net->scope_id;
	memcpy(masked.a, net->a, ml / 8);
	if (ml % 8 != 0)
		masked.a[ml / 8] = net->a[ml / 8] &
		    (uint8_t)(0xff << (8 - ml % 8));
	if (memcmp(masked.a, net->a, sizeof(net->a)) != 0)
		return -1;
	*masklen = (unsigned)ml;
	return 0;
}

/*
 * addr NULL: 0 when list is well formed, -1 when not. Otherwise also
 * 1 when addr is inside one of its networks.
 */
static int
cidr_list_match(const char *addr, const char *list)
{
	struct xaddr host, net;
	const char *p = list, *comma;
	unsigned masklen;
	size_t len;
	int have_host = 0, found = 0;

	if (addr != NULL && xaddr_parse(addr, &host) == 0)
		have_host = 1;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (cidr_parse(p, len, &net, &masklen) != 0)
			return -1;
		if (have_host && host.af == net.af &&
		    host.scope_id == net.scope_id &&
		    xaddr_prefix_equal(host.a, net.a, masklen))
			found = 1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return found;
}

int
sshcert_source_address_valid(const char *list)
{
	const char *p;
	size_t n = 1;

	if (list == NULL)
		return TRASA_ERR_INVALID_ARG;
	for (p = list; *p != '\0'; p++)
		if (*p == ',' && ++n > SSHCERT_MAX_SOURCES)
			return TRASA_ERR_TOO_MANY;
	return cidr_list_match(NULL, list) == 0 ? 0 : TRASA_ERR_FORMAT;
}

/* ---------------------------------------------------------------- judging */

/* Option data that is exactly one string: its value, else NULL. */
static const char *
opt_string(const struct sshcert_opt *o)
{
	return o->len > 0 ? o->value : NULL;
}

/*
 * A user certificate's options as sshd's sshauthopt_from_cert() reads
 * them: known critical options with well-formed data, no unknown critical
 * option, known extensions without data (unknown extensions are ignored);
 * then source-address is matched against the client address.
 */
static int
check_user_options(const struct sshcert *c, const struct sshcert_policy *pol)
{
	const struct sshcert_opt *o;
	const char *source = NULL;
	size_t i;
	static const char *const flags[] = {
		"no-touch-required",
		"permit-X11-forwarding",
		"permit-agent-forwarding",
		"permit-port-forwarding",
		"permit-pty",
		"permit-user-rc",
	};
	size_t j;

	for (i = 0; i < c->ncritical; i++) {
		o = &c->critical[i];
		if (strcmp(o->name, "verify-required") == 0) {
			if (o->len != 0)
				return TRASA_ERR_CRITICAL_OPTION;
		} else if (strcmp(o->name, "force-command") == 0) {
			if (opt_string(o) == NULL)
				return TRASA_ERR_CRITICAL_OPTION;
		} else if (strcmp(o->name, "source-address") == 0) {
			if ((source = opt_string(o)) == NULL ||
			    cidr_list_match(NULL, source) != 0)
				return TRASA_ERR_CRITICAL_OPTION;
		} else
			return TRASA_ERR_CRITICAL_OPTION;
	}
	for (i = 0; i < c->nextensions; i++) {
		o = &c->extensions[i];
		for (j = 0; j < sizeof(flags) / sizeof(flags[0]); j++) {
			if (strcmp(o->name, flags[j]) == 0 && o->len != 0)
				return TRASA_ERR_FORMAT;
		}
	}
	if (source != NULL && pol->source_address != NULL &&
	    cidr_list_match(pol->source_address, source) != 1)
		return TRASA_ERR_SOURCE_ADDRESS;
	return 0;
}

/* Check the CA signature with ca, the trusted key equal to the
 * certificate's signature key (its OpenSSL object is already warm). */
static int
verify_deferred(const struct sshcert *c, const struct sshkey *ca)
{
	struct tbuf *b;
	const uint8_t *sig;
	size_t siglen;
	int r;

	if (c->blob == NULL || c->signed_len > tbuf_len(c->blob))
		return TRASA_ERR_BAD_SIGNATURE;
	if ((b = tbuf_from(tbuf_ptr(c->blob) + c->signed_len,
	    tbuf_len(c->blob) - c->signed_len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((r = tbuf_get_string_direct(b, &sig, &siglen, 0)) == 0)
		r = sshkey_verify(ca, sig, siglen, tbuf_ptr(c->blob),
		    c->signed_len, NULL, SSHKEY_ALLOW_SHA1);
	tbuf_free(b);
	return r;
}

int
sshcert_check(const struct sshkey *cert, const struct sshkey *const *cas,
    size_t ncas, const struct krl *krl, const struct sshcert_policy *pol)
{
	const struct sshcert *c;
	uint64_t early, late;
	size_t i;
	const struct sshkey *trusted;
	int r, found;

	if (pol == NULL || (cas == NULL && ncas != 0))
		return TRASA_ERR_INVALID_ARG;
	if ((c = cert_of(cert)) == NULL)
		return TRASA_ERR_NOT_CERT;
	/* An unsigned certificate being built is not valid. */
	if (c->signature_key == NULL || c->signature_alg == NULL)
		return TRASA_ERR_BAD_SIGNATURE;

	/* 1. Signature algorithm: SHA-1 only when explicitly allowed. */
	if (strcmp(c->signature_alg, "ssh-rsa") == 0 &&
	    (pol->flags & SSHKEY_ALLOW_SHA1) == 0)
		return TRASA_ERR_SIG_ALG;
	/* 2. The CA key is a plain key. */
	if (sshkey_is_cert(c->signature_key))
		return TRASA_ERR_CA_IS_CERT;
	/* 3. Trusted CA (a certificate in the trust set never matches, as
	 * sshd's strict-type key comparison). */
	trusted = NULL;
	for (i = 0; i < ncas && trusted == NULL; i++) {
		if (cas[i] != NULL && !sshkey_is_cert(cas[i]) &&
		    sshkey_equal_public(cas[i], c->signature_key))
			trusted = cas[i];
	}
	if (trusted == NULL)
		return TRASA_ERR_UNKNOWN_CA;
	/* A certificate parsed with SSHKEY_PARSE_NO_VERIFY is checked now. */
	if (!c->verified && (r = verify_deferred(c, trusted)) != 0)
		return r;
	/* 4. Type. */
	if (c->type != pol->type)
		return TRASA_ERR_CERT_TYPE;
	/*
	 * 5. Validity, as sshd: now < valid_after is not yet valid,
	 * now >= valid_before is expired; skew widens both ends.
	 */
	early = pol->now > UINT64_MAX - pol->skew ? UINT64_MAX :
	    pol->now + pol->skew;
	late = pol->now > pol->skew ? pol->now - pol->skew : 0;
	if (early < c->valid_after)
		return TRASA_ERR_NOT_YET_VALID;
	if (late >= c->valid_before)
		return TRASA_ERR_EXPIRED;
	/*
	 * 6. Principals: sshd requires a non-empty list for user
	 * certificates; ssh takes an empty list in a host certificate as
	 * valid for any host. Names match exactly (no wildcards).
	 */
	if (c->nprincipals == 0) {
		if (c->type == SSHCERT_USER)
			return TRASA_ERR_NO_PRINCIPALS;
	} else if (pol->principal != NULL) {
		found = 0;
		for (i = 0; i < c->nprincipals && !found; i++) {
			if (strcmp(c->principals[i], pol->principal) == 0)
				found = 1;
		}
		if (!found)
			return TRASA_ERR_PRINCIPAL;
	}
	/* 7. Options: ssh refuses every critical option on a host cert. */
	if (c->type == SSHCERT_HOST) {
		if (c->ncritical != 0)
			return TRASA_ERR_CRITICAL_OPTION;
	} else if ((r = check_user_options(c, pol)) != 0)
		return r;
	/* 8. Revocation of the certificate (and its key), then of its CA. */
	if (krl != NULL) {
		if ((r = krl_check_key(krl, cert)) != 0 ||
		    (r = krl_check_key(krl, c->signature_key)) != 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- display */

void
sshcert_format_time(uint64_t t, int is_before, char *buf, size_t len)
{
	struct tm tm;
	time_t tt;

	if (buf == NULL || len == 0)
		return;
	if (!is_before && t == 0) {
		snprintf(buf, len, "always");
		return;
	}
	if (is_before && t == SSHCERT_FOREVER) {
		snprintf(buf, len, "forever");
		return;
	}
	tt = t > (uint64_t)LLONG_MAX ? (time_t)LLONG_MAX : (time_t)t;
	/*
	 * Beyond what struct tm holds ssh-keygen prints garbage; we print
	 * the raw seconds instead.
	 */
	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%llu", (unsigned long long)t);
}

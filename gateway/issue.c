/*
 * issue.c: issuing certificates and building the KRL (see issue.h), shared
 * by the command line and the HTTPS API.
 *
 * A certificate is signed, then recorded with its audit event, then handed
 * out: a serial that fails to record (it was issued before) is never
 * returned, and a random one is redrawn.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "issue.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define SERIAL_TRIES 8
#define MAX_KEY_ID 1024
#define MAX_OPTION 4096 /* force-command, source-address */

/* The default extensions of user certificates, sorted by name, and the
 * flags that leave them out. */
static const struct {
	const char *name;
	unsigned off;
} user_extensions[] = {
	{ "permit-X11-forwarding", GW_NO_X11_FORWARDING },
	{ "permit-agent-forwarding", GW_NO_AGENT_FORWARDING },
	{ "permit-port-forwarding", GW_NO_PORT_FORWARDING },
	{ "permit-pty", GW_NO_PTY },
	{ "permit-user-rc", GW_NO_USER_RC },
};

int
gw_principal_valid(const char *p)
{
	const unsigned char *c;
	size_t n;

	if (p == NULL || *p == '\0' || strlen(p) > GW_MAX_PRINCIPAL_LEN)
		return 0;
	for (c = (const unsigned char *)p; *c != '\0'; c += n) {
		if ((n = cli_utf8_len(c)) == 0)
			return 0;
		if (n == 1 && (*c <= ' ' || *c == ',' || *c == 0x7f))
			return 0;
		/* C1 controls, U+0080..U+009F */
		if (n == 2 && c[0] == 0xc2 && c[1] < 0xa0)
			return 0;
	}
	return 1;
}

/* Text without control characters, 1..max bytes. */
static int
valid_text(const char *s, size_t max)
{
	const unsigned char *c;

	if (s == NULL || *s == '\0' || strlen(s) > max)
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c < ' ' || *c == 0x7f)
			return 0;
	return 1;
}

static int
random_serial(uint64_t *out)
{
	uint64_t v = 0;

	/*
	 * 53 random bits: serials stay exact as JSON numbers (doubles in
	 * most clients, jq included); uniqueness comes from the database.
	 */
	while (v == 0) {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			return TRASA_ERR_CRYPTO;
		v &= (UINT64_C(1) << 53) - 1;
	}
	*out = v;
	return 0;
}

static int
check_req(const struct gw_issue_req *r)
{
	size_t i;

	if (r->key == NULL || sshkey_is_cert(r->key) ||
	    (r->type != SSHCERT_USER && r->type != SSHCERT_HOST) ||
	    r->subject == NULL || *r->subject == '\0' ||
	    !valid_text(r->subject, MAX_KEY_ID) || r->ttl == 0 ||
	    r->principals == NULL || r->nprincipals == 0 ||
	    r->nprincipals > SSHCERT_MAX_PRINCIPALS)
		return TRASA_ERR_INVALID_ARG;
	for (i = 0; i < r->nprincipals; i++)
		if (!gw_principal_valid(r->principals[i]))
			return TRASA_ERR_PRINCIPAL;
	if (r->key_id != NULL && !valid_text(r->key_id, MAX_KEY_ID))
		return TRASA_ERR_INVALID_ARG;
	if (r->type == SSHCERT_HOST &&
	    (r->force_command != NULL || r->source_address != NULL))
		return TRASA_ERR_CRITICAL_OPTION;
	if (r->force_command != NULL &&
	    !valid_text(r->force_command, MAX_OPTION))
		return TRASA_ERR_INVALID_ARG;
	if (r->source_address != NULL &&
	    (strlen(r->source_address) > MAX_OPTION ||
		sshcert_source_address_valid(r->source_address) != 0))
		return TRASA_ERR_SOURCE_ADDRESS;
	return 0;
}

/* "a,b,c" */
static char *
join_principals(char *const *p, size_t n)
{
	size_t i, len = 0;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(p[i]) + 1;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	*s = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, p[i]);
	}
	return s;
}

/* A new signed certificate for r with this serial and key ID. */
static int
make_cert(const struct sshkey *ca, const struct gw_issue_req *r,
    uint64_t serial, const char *key_id, uint64_t after, uint64_t before,
    struct sshkey **out)
{
	struct sshkey *cert = NULL;
	size_t i;
	int e;

	if ((e = sshcert_new(r->key, r->type, &cert)) != 0 ||
	    (e = sshcert_set_serial(cert, serial)) != 0 ||
	    (e = sshcert_set_key_id(cert, key_id)) != 0 ||
	    (e = sshcert_set_validity(cert, after, before)) != 0)
		goto out;
	for (i = 0; i < r->nprincipals; i++)
		if ((e = sshcert_add_principal(cert, r->principals[i])) != 0)
			goto out;
	if (r->type == SSHCERT_USER) {
		/* Sorted by name, as sshd requires. */
		if (r->force_command != NULL &&
		    (e = sshcert_add_critical(cert, "force-command",
			 r->force_command)) != 0)
			goto out;
		if (r->source_address != NULL &&
		    (e = sshcert_add_critical(cert, "source-address",
			 r->source_address)) != 0)
			goto out;
		for (i = 0;
		     i < sizeof(user_extensions) / sizeof(user_extensions[0]);
		     i++)
			if ((r->no_ext & user_extensions[i].off) == 0 &&
			    (e = sshcert_add_extension(cert,
				 user_extensions[i].name, NULL)) != 0)
				goto out;
	}
	/* Never SHA-1: RSA CAs sign with rsa-sha2-512. */
	if ((e = sshcert_sign(cert, ca,
		 sshkey_type(ca) == SSHKEY_RSA ? "rsa-sha2-512" : NULL)) != 0)
		goto out;
	*out = cert;
	cert = NULL;
	e = 0;
out:
	sshkey_free(cert);
	return e;
}

int
gw_issue(struct gw_db *db, const struct sshkey *ca,
    const struct gw_issue_req *req, struct sshkey **cert_out)
{
	struct gw_cert_rec rec;
	struct sshkey *cert = NULL;
	char *fp = NULL, *principals = NULL, *key_id = NULL;
	uint64_t now, serial, after, before;
	int e, tries;

	if (db == NULL || ca == NULL || req == NULL || cert_out == NULL ||
	    sshkey_is_cert(ca) || !sshkey_has_private(ca))
		return TRASA_ERR_INVALID_ARG;
	if ((e = check_req(req)) != 0)
		return e;
	now = req->now != 0 ? req->now : (uint64_t)time(NULL);
	if (now < GW_BACKDATE || req->ttl > UINT64_MAX - 1 - now)
		return TRASA_ERR_BAD_VALIDITY;
	after = now - GW_BACKDATE;
	before = now + req->ttl;
	if ((e = sshkey_fingerprint(req->key, &fp)) != 0)
		goto out;
	if ((principals = join_principals(req->principals, req->nprincipals)) ==
	    NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	for (tries = 0;; tries++) {
		if (req->serial != 0)
			serial = req->serial;
		else if ((e = random_serial(&serial)) != 0)
			goto out;
		free(key_id);
		key_id = NULL;
		if (req->key_id != NULL)
			key_id = strdup(req->key_id);
		else if (asprintf(&key_id, "%s:%s:%" PRIu64,
			     req->type == SSHCERT_USER ? "trasa" : "trasa-host",
			     req->subject, serial) < 0)
			key_id = NULL;
		if (key_id == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		sshkey_free(cert);
		cert = NULL;
		if ((e = make_cert(ca, req, serial, key_id, after, before,
			 &cert)) != 0)
			goto out;
		memset(&rec, 0, sizeof(rec));
		rec.serial = serial;
		rec.kind =
		    req->type == SSHCERT_USER ? GW_CERT_USER : GW_CERT_HOST;
		rec.subject = req->subject;
		rec.key_id = key_id;
		rec.principals = principals;
		rec.key_fp = fp;
		rec.valid_after = after;
		rec.valid_before = before;
		rec.issued = now;
		e = gw_db_cert_record(db, &rec,
		    req->actor != NULL ? req->actor : "anonymous");
		if (e == 0)
			break;
		/* A random serial issued before: draw another. */
		if (e != TRASA_ERR_EXISTS || req->serial != 0 ||
		    tries + 1 >= SERIAL_TRIES)
			goto out;
	}
	*cert_out = cert;
	cert = NULL;
	e = 0;
out:
	sshkey_free(cert);
	free(key_id);
	free(principals);
	free(fp);
	return e;
}

/* The KRL entries of one revocation. */
static int
krl_add(struct krl *krl, const struct gw_revocation *r,
    const struct sshkey *const *cas, size_t n)
{
	struct sshkey *k = NULL;
	unsigned long long v;
	char *ep;
	size_t i;
	int e = 0;

	switch (r->kind) {
	case GW_REVOKE_SERIAL:
		errno = 0;
		v = strtoull(r->value, &ep, 10);
		if (errno != 0 || ep == r->value || *ep != '\0')
			return TRASA_ERR_FORMAT;
		/* No CA given: the entry applies to every CA. */
		if (n == 0)
			return krl_revoke_serial(krl, NULL, v, v);
		for (i = 0; i < n && e == 0; i++)
			e = krl_revoke_serial(krl, cas[i], v, v);
		return e;
	case GW_REVOKE_KEY_ID:
		if (n == 0)
			return krl_revoke_key_id(krl, NULL, r->value);
		for (i = 0; i < n && e == 0; i++)
			e = krl_revoke_key_id(krl, cas[i], r->value);
		return e;
	case GW_REVOKE_KEY:
		if ((e = sshkey_parse_public(r->value, &k, NULL)) != 0)
			return e;
		e = krl_revoke_key(krl, k);
		sshkey_free(k);
		return e;
	}
	return TRASA_ERR_FORMAT;
}

int
gw_krl_build(struct gw_db *db, const struct sshkey *const *cas, size_t n,
    uint64_t now, uint8_t **out, size_t *len, uint64_t *generation)
{
	struct gw_revocation *revs = NULL;
	struct krl *krl = NULL;
	struct tbuf *b = NULL;
	uint8_t *data = NULL;
	size_t nrevs = 0, i;
	uint64_t gen = 0;
	int e;

	if (db == NULL || (n > 0 && cas == NULL) || out == NULL || len == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = gw_db_revocations(db, &revs, &nrevs, &gen)) != 0)
		return e;
	if ((e = krl_new(&krl)) != 0)
		goto out;
	krl_set_version(krl, gen);
	krl_set_date(krl, now != 0 ? now : (uint64_t)time(NULL));
	if ((e = krl_set_comment(krl, "trasa-gateway")) != 0)
		goto out;
	for (i = 0; i < nrevs; i++)
		if ((e = krl_add(krl, &revs[i], cas, n)) != 0)
			goto out;
	if ((b = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if ((e = krl_write(krl, NULL, b)) != 0)
		goto out;
	if ((data = malloc(tbuf_len(b) > 0 ? tbuf_len(b) : 1)) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	memcpy(data, tbuf_ptr(b), tbuf_len(b));
	*out = data;
	*len = tbuf_len(b);
	if (generation != NULL)
		*generation = gen;
	e = 0;
out:
	tbuf_free(b);
	krl_free(krl);
	gw_revocations_free(revs, nrevs);
	return e;
}

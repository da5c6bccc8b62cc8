/*
 * fuzz_cert.c: certificate blobs.
 *
 * sshkey_from_blob() parses and verifies the CA signature; a certificate
 * that parses is then judged by sshcert_check() under fixed policies with
 * its own signature key as the only trusted CA (so the checks after the
 * signature are reached), and every accessor is read. The same input is
 * also parsed with SSHKEY_PARSE_NO_VERIFY, which reaches the structure of
 * certificates whose signature no longer matches; sshcert_check() must
 * then refuse every one of those.
 *
 * The policy matches the seeds from make_corpus.sh: principal "fuzz", a
 * time inside 2020..2040, a client address in 192.0.2.0/24.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_NOW 1700000000ULL /* 2023-11-14 */

static void
use_string(const char *s)
{
	/* Reading every byte makes ASan check the whole string. */
	if (s != NULL && strlen(s) > TBUF_MAX_STRING)
		abort();
}

static void
read_accessors(const struct sshkey *k)
{
	const struct sshkey *ca;
	const char *name, *value;
	char *fp = NULL, when[64];
	size_t i, n;

	if (sshcert_type(k) != SSHCERT_USER && sshcert_type(k) != SSHCERT_HOST)
		abort();
	(void)sshcert_serial(k);
	use_string(sshcert_key_id(k));
	n = sshcert_nprincipals(k);
	if (n > SSHCERT_MAX_PRINCIPALS)
		abort();
	for (i = 0; i < n; i++) {
		if (sshcert_principal(k, i) == NULL)
			abort();
		use_string(sshcert_principal(k, i));
	}
	sshcert_format_time(sshcert_valid_after(k), 0, when, sizeof(when));
	sshcert_format_time(sshcert_valid_before(k), 1, when, sizeof(when));
	n = sshcert_ncritical(k);
	for (i = 0; i < n; i++) {
		name = value = NULL;
		if (sshcert_critical(k, i, &name, &value) != 0 || name == NULL)
			abort();
		use_string(name);
		use_string(value);
	}
	n = sshcert_nextensions(k);
	for (i = 0; i < n; i++) {
		name = value = NULL;
		if (sshcert_extension(k, i, &name, &value) != 0 || name == NULL)
			abort();
		use_string(name);
		use_string(value);
	}
	if ((ca = sshcert_signature_key(k)) == NULL)
		abort();
	use_string(sshcert_signature_alg(k));
	if (sshkey_fingerprint(k, &fp) != 0)
		abort();
	free(fp);
	fp = NULL;
	if (sshkey_fingerprint(ca, &fp) != 0)
		abort();
	free(fp);
	use_string(sshkey_ssh_name(k));
	use_string(sshkey_label(k));
	use_string(sshkey_ssh_name(ca));
}

static void
policy_user(struct sshcert_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->type = SSHCERT_USER;
	pol->principal = "fuzz";
	pol->now = FIXED_NOW;
	pol->skew = 60;
	pol->source_address = "192.0.2.1";
}

/*
 * Judge k under fixed policies with its own signature key as the only CA.
 * Returns the first judgement.
 */
static int
judge(const struct sshkey *k)
{
	const struct sshkey *cas[1];
	struct sshcert_policy pol;
	int r, r2;

	cas[0] = sshcert_signature_key(k);
	policy_user(&pol);
	r = sshcert_check(k, cas, 1, NULL, &pol);
	if (r > 0)
		abort();
	/* A valid certificate stays valid when the checks are relaxed. */
	pol.principal = NULL;
	pol.source_address = NULL;
	r2 = sshcert_check(k, cas, 1, NULL, &pol);
	if (r2 > 0 || (r == 0 && r2 != 0))
		abort();
	pol.type = SSHCERT_HOST;
	pol.principal = "host.example.com";
	pol.source_address = "2001:db8::1";
	pol.flags = SSHKEY_ALLOW_SHA1;
	if (sshcert_check(k, cas, 1, NULL, &pol) > 0)
		abort();
	/* No trusted CA: never valid. */
	pol.type = sshcert_type(k);
	pol.principal = NULL;
	if (sshcert_check(k, cas, 0, NULL, &pol) == 0)
		abort();
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshkey *k = NULL, *nv = NULL;
	int verified, deferred, r = 0, r2;

	verified = sshkey_from_blob(data, size, &k) == 0;
	deferred = sshkey_from_blob_flags(data, size, SSHKEY_PARSE_NO_VERIFY,
		       &nv) == 0;
	/* Checking the signature at parse time only ever refuses more. */
	if (verified && !deferred)
		abort();
	if (verified && sshkey_is_cert(k)) {
		read_accessors(k);
		r = judge(k);
	}
	/*
	 * Parsed without the signature check: the structure alone, which
	 * sshcert_check() then verifies. What failed verification above must
	 * not be judged valid; what passed must be judged alike.
	 */
	if (deferred && sshkey_is_cert(nv)) {
		const struct sshkey *cas[1] = { sshcert_signature_key(nv) };
		struct sshcert_policy pol;

		read_accessors(nv);
		policy_user(&pol);
		r2 = sshcert_check(nv, cas, 1, NULL, &pol);
		if (r2 > 0 || (!verified && r2 == 0) || (verified && r2 != r))
			abort();
	}
	sshkey_free(nv);
	sshkey_free(k);
	return 0;
}

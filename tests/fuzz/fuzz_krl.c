/*
 * fuzz_krl.c: binary KRLs.
 *
 * A KRL that krl_parse() accepts is asked about a fixed key, a fixed
 * certificate and its CA (the seeds from make_corpus.sh revoke them in
 * every way a KRL can), listed with krl_print(), written back with
 * krl_write() and parsed again. The copy must give the same answers, and
 * writing it again must give the same bytes; otherwise abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keep in sync with make_corpus.sh (fixed_ca, fixed_user; the certificate
 * is fixed_user signed by fixed_ca with serial 42 and key ID "fuzz-id"). */
static const char fixed_ca_b64[] =
    "AAAAC3NzaC1lZDI1NTE5AAAAIOm1ZRcvmY5mBqpBe2POkmqHLP6kb6mo32quzlBmlDQt";
static const char fixed_user_b64[] =
    "AAAAC3NzaC1lZDI1NTE5AAAAIHkPxNeJlSl0i/9VmHHk/el9HMAX1C+0eRHYnufT/6+l";
static const char fixed_cert_b64[] =
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIKfeHa6oIxhHwcHk"
    "o2gSmgpJExAAQk3jbhnpI7e++J1UAAAAIHkPxNeJlSl0i/9VmHHk/el9HMAX1C+0eRHY"
    "nufT/6+lAAAAAAAAACoAAAABAAAAB2Z1enotaWQAAAAIAAAABGZ1enoAAAAAXgvhAAAA"
    "AACDqn6AAAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJt"
    "aXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAA"
    "AAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMA"
    "AAALc3NoLWVkMjU1MTkAAAAg6bVlFy+ZjmYGqkF7Y86Saocs/qRvqajfaq7OUGaUNC0A"
    "AABTAAAAC3NzaC1lZDI1NTE5AAAAQFZPqMtNCJkgc4XfoJkzi4sQrihibITTdVxVdJ88"
    "4BxCuBrteiZCtYaTEsBsepjb6i9qpG3peq5cOpPkBv+CBAY=";

#define NFIXED 3
static struct sshkey *fixed[NFIXED];
static FILE *devnull;

static struct sshkey *
load_b64(const char *s)
{
	struct tbuf *b = NULL;
	struct sshkey *k = NULL;

	if (tbuf_from_base64(s, strlen(s), &b) != 0 ||
	    sshkey_from_blob(tbuf_ptr(b), tbuf_len(b), &k) != 0)
		abort();
	tbuf_free(b);
	return k;
}

static void
cleanup(void)
{
	size_t i;

	for (i = 0; i < NFIXED; i++)
		sshkey_free(fixed[i]);
	if (devnull != NULL)
		fclose(devnull);
}

static void
init(void)
{
	if (fixed[0] != NULL)
		return;
	fixed[0] = load_b64(fixed_user_b64);
	fixed[1] = load_b64(fixed_cert_b64);
	fixed[2] = load_b64(fixed_ca_b64);
	if (!sshkey_is_cert(fixed[1]) ||
	    (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	atexit(cleanup);
}

/* The answers for the fixed keys, as a bit per revoked key. */
static unsigned
answers(const struct krl *krl)
{
	unsigned bits = 0;
	size_t i;
	int r;

	for (i = 0; i < NFIXED; i++) {
		r = krl_check_key(krl, fixed[i]);
		if (r == TRASA_ERR_REVOKED)
			bits |= 1u << i;
		else if (r != 0)
			abort();
	}
	return bits;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct krl *krl = NULL, *again = NULL, *third = NULL;
	struct tbuf *w1 = NULL, *w2 = NULL;
	const char *c1, *c2;
	unsigned got;
	size_t i;
	int r1, r2;

	init();
	if (krl_parse(data, size, &krl) != 0)
		return 0;
	got = answers(krl);
	for (i = 0; i < krl_nsigners(krl); i++)
		if (krl_signer(krl, i) == NULL)
			abort();
	/* It may refuse to list a key it cannot parse, but must not crash. */
	if (krl_print(krl, devnull) > 0)
		abort();

	/* Write, re-parse: same answers, same header, stable bytes. */
	if ((w1 = tbuf_new()) == NULL || (w2 = tbuf_new()) == NULL)
		abort();
	if (krl_write(krl, NULL, w1) != 0)
		abort();
	if (krl_parse(tbuf_ptr(w1), tbuf_len(w1), &again) != 0)
		abort();
	if (answers(again) != got || krl_nsigners(again) != 0 ||
	    krl_version(again) != krl_version(krl))
		abort();
	/* Date 0 is written as the time of writing. */
	if (krl_date(krl) != 0 && krl_date(again) != krl_date(krl))
		abort();
	c1 = krl_comment(krl);
	c2 = krl_comment(again);
	if ((c1 == NULL) != (c2 == NULL) || (c1 != NULL && strcmp(c1, c2) != 0))
		abort();
	if (krl_write(again, NULL, w2) != 0 || tbuf_len(w1) != tbuf_len(w2) ||
	    memcmp(tbuf_ptr(w1), tbuf_ptr(w2), tbuf_len(w1)) != 0)
		abort();
	/* A KRL that revokes the fixed keys on top still parses. */
	if (krl_parse(tbuf_ptr(w2), tbuf_len(w2), &third) != 0)
		abort();
	r1 = krl_revoke_key(third, fixed[0]);
	r2 = krl_revoke_serial(third, fixed[2], 1, 100);
	if ((r1 != 0 && r1 != TRASA_ERR_TOO_MANY) ||
	    (r2 != 0 && r2 != TRASA_ERR_TOO_MANY) ||
	    (r1 == 0 && r2 == 0 && (answers(third) & 3) != 3))
		abort();

	krl_free(third);
	krl_free(again);
	krl_free(krl);
	tbuf_free(w1);
	tbuf_free(w2);
	return 0;
}

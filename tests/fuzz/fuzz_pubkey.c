/*
 * fuzz_pubkey.c: public key wire blobs and authorized_keys / .pub text.
 *
 * The input is tried as a blob (sshkey_from_blob, and with
 * SSHKEY_PARSE_NO_VERIFY) and, NUL-terminated, as a text line
 * (sshkey_parse_public). What parses must serialise back to exactly the
 * bytes it came from (certificates), to a canonical blob of the same key
 * (plain keys), or to a line that parses to the same key (text); anything
 * else is a bug and abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sshkey.h"
#include "tbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Exercise the read-only accessors; their results must be sane. */
static void
poke(const struct sshkey *k)
{
	char *fp = NULL;
	uint8_t h256[32], h1[20];

	if (sshkey_ssh_name(k) == NULL || sshkey_plain_name(k) == NULL ||
	    sshkey_label(k) == NULL)
		abort();
	if (sshkey_type(k) == SSHKEY_UNSPEC || sshkey_has_private(k))
		abort();
	(void)sshkey_bits(k);
	if (sshkey_fingerprint(k, &fp) != 0 || strncmp(fp, "SHA256:", 7) != 0)
		abort();
	free(fp);
	if (sshkey_hash_sha256(k, h256) != 0 || sshkey_hash_sha1(k, h1) != 0)
		abort();
}

/*
 * Round trip. A certificate serialises to exactly the bytes it came from.
 * A plain key serialises canonically: mpints with needless leading zeros
 * are accepted, as OpenSSH accepts them, and written minimal, so the
 * output must parse to the same key and be a fixed point.
 */
static void
same_blob(const struct sshkey *k, const uint8_t *data, size_t size)
{
	struct tbuf *b, *b2;
	struct sshkey *again = NULL;

	if ((b = tbuf_new()) == NULL || (b2 = tbuf_new()) == NULL)
		abort();
	if (sshkey_to_blob(k, b) != 0)
		abort();
	if (sshkey_is_cert(k)) {
		if (tbuf_len(b) != size || memcmp(tbuf_ptr(b), data, size) != 0)
			abort();
	} else {
		if (tbuf_len(b) > size)
			abort();
		if (sshkey_from_blob(tbuf_ptr(b), tbuf_len(b), &again) != 0 ||
		    !sshkey_equal_public(k, again) ||
		    sshkey_to_blob(again, b2) != 0 ||
		    tbuf_len(b2) != tbuf_len(b) ||
		    memcmp(tbuf_ptr(b2), tbuf_ptr(b), tbuf_len(b)) != 0)
			abort();
	}
	sshkey_free(again);
	tbuf_free(b2);
	tbuf_free(b);
}

static void
check_blob(const uint8_t *data, size_t size)
{
	struct sshkey *k = NULL, *nv = NULL, *plain = NULL;
	int r;

	/* Without the certificate signature check first: it accepts more. */
	r = sshkey_from_blob_flags(data, size, SSHKEY_PARSE_NO_VERIFY, &nv);
	if (r == 0)
		same_blob(nv, data, size);
	if (sshkey_from_blob(data, size, &k) != 0)
		goto out;
	if (r != 0)
		abort();
	same_blob(k, data, size);
	poke(k);
	/* The plain part of a certificate is itself a valid key. */
	if (sshkey_dup_public(k, &plain) != 0 || sshkey_is_cert(plain) ||
	    !sshkey_equal_public(k, plain) || !sshkey_equal_public(nv, plain))
		abort();
out:
	sshkey_free(plain);
	sshkey_free(nv);
	sshkey_free(k);
}

static void
check_text(const uint8_t *data, size_t size)
{
	struct sshkey *k = NULL, *k2 = NULL;
	char *line, *comment = NULL, *text = NULL;

	if ((line = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(line, data, size);
	line[size] = '\0';
	if (sshkey_parse_public(line, &k, &comment) != 0)
		goto out;
	if (comment == NULL)
		abort();
	poke(k);
	/* What we print parses back to the same key. */
	if (sshkey_format_public(k, NULL, &text) != 0)
		abort();
	if (sshkey_parse_public(text, &k2, NULL) != 0 ||
	    !sshkey_equal_public(k, k2) ||
	    sshkey_is_cert(k) != sshkey_is_cert(k2))
		abort();
out:
	free(text);
	free(comment);
	sshkey_free(k2);
	sshkey_free(k);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_blob(data, size);
	check_text(data, size);
	return 0;
}

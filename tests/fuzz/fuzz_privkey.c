/*
 * fuzz_privkey.c: private key files (openssh-key-v1, PKCS#8 PEM, plain and
 * encrypted), with no passphrase and with the passphrase "x" (the one
 * make_corpus.sh encrypts with).
 *
 * A key that parses must hold its private part, and must survive being
 * written in the openssh format and read back (same public key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sshkey.h"
#include "tbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
try_parse(const uint8_t *data, size_t size, const char *passphrase)
{
	struct sshkey *k = NULL, *k2 = NULL;
	struct tbuf *b = NULL;
	char *comment = NULL, *comment2 = NULL;

	if (sshkey_private_parse(data, size, passphrase, &k, &comment) != 0)
		return;
	if (!sshkey_has_private(k) || sshkey_is_cert(k) || comment == NULL)
		abort();
	if ((b = tbuf_new()) == NULL)
		abort();
	if (sshkey_private_to_openssh(k, comment, b) != 0)
		abort();
	if (sshkey_private_parse(tbuf_ptr(b), tbuf_len(b), NULL, &k2,
		&comment2) != 0 ||
	    !sshkey_equal_public(k, k2) || strcmp(comment, comment2) != 0)
		abort();
	tbuf_free(b);
	free(comment2);
	free(comment);
	sshkey_free(k2);
	sshkey_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_parse(data, size, NULL);
	try_parse(data, size, "x");
	return 0;
}

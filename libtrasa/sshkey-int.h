/*
 * sshkey-int.h: private to libtrasa's crypto part: the layout of keys and
 * certificates, shared by sshkey.c, sshcert.c and krl.c.
 */
#ifndef TRASA_SSHKEY_INT_H
#define TRASA_SSHKEY_INT_H

#include <openssl/evp.h>

#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

struct sshcert_opt {
	char *name;
	uint8_t *data;     /* raw option data as in the certificate */
	size_t len;
	char *value;       /* data decoded as one string, or NULL */
};

struct sshcert {
	struct tbuf *blob;          /* whole certificate blob once signed/parsed */
	size_t signed_len;          /* bytes of blob the CA signature covers */
	int verified;               /* CA signature checked when parsed */
	enum sshcert_type type;
	uint8_t nonce[32];
	size_t nonce_len;
	uint64_t serial;
	char *key_id;
	char **principals;
	size_t nprincipals;
	uint64_t valid_after;
	uint64_t valid_before;
	struct sshcert_opt *critical;
	size_t ncritical;
	struct sshcert_opt *extensions;
	size_t nextensions;
	struct sshkey *signature_key;
	char *signature_alg;
};

struct sshkey {
	enum sshkey_type type;     /* the plain key type */
	uint8_t *pub;              /* public parts, canonical wire encoding */
	size_t publen;
	unsigned bits;             /* RSA modulus bits */
	EVP_PKEY *pkey;            /* built on first use for keys read from
	                              the wire (sshkey.c key_pkey()) */
	int has_private;
	struct sshcert *cert;      /* non-NULL for a certificate */
};

/* Private sshkey_from_blob_flags() flag: build even an ECDSA key's OpenSSL
 * object (and so check its point) only on first use. */
#define SSHKEY_PARSE_LAZY_KEY 0x100

/* From sshkey.c, for sshcert.c. */
struct sshkey *sshkey_alloc(void);
/* A plain public key sharing k's OpenSSL object (no copy, no re-parse);
 * the result never signs or exports private parts. */
int sshkey_ref_public(const struct sshkey *k, struct sshkey **out);
/* "ssh-ed25519" / "...-cert-v01@openssh.com" to type and cert flag. */
int sshkey_type_from_ssh_name(const char *name, size_t len,
    enum sshkey_type *type, int *is_cert);
/* Read/write the public key fields that follow the name (and, for a
 * certificate, the nonce) in a blob. */
int sshkey_get_pubparts(struct tbuf *b, enum sshkey_type type,
    struct sshkey *k);
int sshkey_put_pubparts(const struct sshkey *k, struct tbuf *b);
const char *sshkey_cert_name(enum sshkey_type type);

/* From sshcert.c, for sshkey.c: parse a certificate blob whose name (already
 * read from b) was a cert type; verifies the CA signature unless flags has
 * SSHKEY_PARSE_NO_VERIFY. */
int sshcert_parse(struct tbuf *b, const uint8_t *blob, size_t bloblen,
    enum sshkey_type type, unsigned flags, struct sshkey *k);
void sshcert_free(struct sshcert *c);

#endif

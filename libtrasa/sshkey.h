/*
 * sshkey.h: OpenSSH public and private keys on OpenSSL 3 EVP.
 *
 * Key types: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (>= 2048
 * bits), and their -cert-v01@openssh.com certificate forms (see sshcert.h).
 */
#ifndef TRASA_SSHKEY_H
#define TRASA_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

struct tbuf;

enum sshkey_type {
	SSHKEY_UNSPEC = 0,
	SSHKEY_ED25519,
	SSHKEY_ECDSA_P256,
	SSHKEY_ECDSA_P384,
	SSHKEY_ECDSA_P521,
	SSHKEY_RSA,
};

#define SSHKEY_RSA_MIN_BITS 2048
#define SSHKEY_RSA_MAX_BITS 16384
#define SSHKEY_RSA_DEFAULT_BITS 3072

/* sshkey_verify() flags. */
#define SSHKEY_ALLOW_SHA1 0x01 /* accept legacy "ssh-rsa" (SHA-1) signatures */

struct sshkey;

/* bits: RSA modulus size (0: SSHKEY_RSA_DEFAULT_BITS); ignored otherwise. */
int sshkey_generate(enum sshkey_type type, unsigned bits, struct sshkey **out);
void sshkey_free(struct sshkey *k);

/* Type by name as ssh-keygen -t / our tools take it: "ed25519",
 * "ecdsa" / "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa". */
int sshkey_type_from_name(const char *name, enum sshkey_type *type);

enum sshkey_type sshkey_type(const struct sshkey *k);
int sshkey_is_cert(const struct sshkey *k);
int sshkey_has_private(const struct sshkey *k);
unsigned sshkey_bits(const struct sshkey *k);
/* "ssh-ed25519", or "ssh-ed25519-cert-v01@openssh.com" for a certificate. */
const char *sshkey_ssh_name(const struct sshkey *k);
/* The plain key's name, also for a certificate. */
const char *sshkey_plain_name(const struct sshkey *k);
/* "ED25519", "ECDSA", "RSA" (with "-CERT" for certificates), as ssh-keygen -l. */
const char *sshkey_label(const struct sshkey *k);

/* 1 when both hold the same public key (certificates compared by their
 * plain key), 0 otherwise. */
int sshkey_equal_public(const struct sshkey *a, const struct sshkey *b);
/* A plain public copy (certificate and private parts dropped). */
int sshkey_dup_public(const struct sshkey *k, struct sshkey **out);

/*
 * Wire blobs. sshkey_from_blob() parses a plain key or a certificate; a
 * certificate's CA signature is verified while parsing (as OpenSSH does):
 * a certificate that parses is signed by its signature key. Trailing
 * bytes are refused.
 */
int sshkey_from_blob(const uint8_t *p, size_t len, struct sshkey **out);
/*
 * The same with flags: SSHKEY_PARSE_NO_VERIFY leaves a certificate's CA
 * signature unchecked at parse time (sshcert_check() then checks it), for
 * callers that measure or display the structure alone.
 */
#define SSHKEY_PARSE_NO_VERIFY 0x01
int sshkey_from_blob_flags(const uint8_t *p, size_t len, unsigned flags,
    struct sshkey **out);
/* Append the key's blob (the certificate blob for a certificate). */
int sshkey_to_blob(const struct sshkey *k, struct tbuf *b);
/* Append the plain public key blob, also for a certificate. */
int sshkey_plain_to_blob(const struct sshkey *k, struct tbuf *b);

/* authorized_keys / .pub text: "TYPE BASE64 [COMMENT]". */
int sshkey_parse_public(const char *line, struct sshkey **out, char **comment);
int sshkey_format_public(const struct sshkey *k, const char *comment,
    char **out);

/* "SHA256:..." as ssh-keygen -l prints it (of the plain key for a cert). */
int sshkey_fingerprint(const struct sshkey *k, char **out);
/* Raw SHA-256 (32 bytes) or SHA-1 (20 bytes) of the plain key blob. */
int sshkey_hash_sha256(const struct sshkey *k, uint8_t out[32]);
int sshkey_hash_sha1(const struct sshkey *k, uint8_t out[20]);

/*
 * Signatures in SSH wire form (string algorithm, string blob).
 * alg NULL picks the default: ssh-ed25519, ecdsa-sha2-nistpN, rsa-sha2-512.
 * Signing with "ssh-rsa" (SHA-1) is refused.
 */
int sshkey_sign(const struct sshkey *k, const char *alg, const uint8_t *data,
    size_t len, struct tbuf *sig);
/*
 * Verify sig over data with k's public key. require_alg, when not NULL,
 * must equal the signature's algorithm. "ssh-rsa" is accepted only with
 * SSHKEY_ALLOW_SHA1.
 */
int sshkey_verify(const struct sshkey *k, const uint8_t *sig, size_t siglen,
    const uint8_t *data, size_t len, const char *require_alg, unsigned flags);
/* The algorithm name of a signature blob, as a fresh string. */
int sshkey_sig_alg(const uint8_t *sig, size_t siglen, char **alg);
/* 1 when alg is a signature algorithm that key k's type can make. */
int sshkey_alg_fits(const struct sshkey *k, const char *alg);

/*
 * Private keys. sshkey_private_parse() reads an unencrypted
 * "-----BEGIN OPENSSH PRIVATE KEY-----" file or a PEM file through OpenSSL:
 * PKCS#8 ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with passphrase) and
 * the traditional "RSA/EC PRIVATE KEY" forms ssh-keygen -m PEM writes.
 * Keys that do not hold together (RSA n != p*q, EC point not matching the
 * scalar) are refused. comment may be NULL.
 */
int sshkey_private_parse(const uint8_t *p, size_t len, const char *passphrase,
    struct sshkey **out, char **comment);
/* PEM-armoured openssh-key-v1 text (unencrypted), appended to out. */
int sshkey_private_to_openssh(const struct sshkey *k, const char *comment,
    struct tbuf *out);
/* PKCS#8 PEM, appended to out; encrypted (PBES2: PBKDF2 with
 * HMAC-SHA256, AES-256-CBC) when passphrase is not NULL. */
int sshkey_private_to_pkcs8(const struct sshkey *k, const char *passphrase,
    struct tbuf *out);

/* Convenience: read a .pub / private key file (size-capped). */
int sshkey_load_public(const char *path, struct sshkey **out, char **comment);
int sshkey_load_private(const char *path, const char *passphrase,
    struct sshkey **out, char **comment);

#endif

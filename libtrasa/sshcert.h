/*
 * sshcert.h: OpenSSH certificates (PROTOCOL.certkeys): reading, building,
 * signing and judging them exactly as sshd does.
 *
 * A certificate is an sshkey for which sshkey_is_cert() is true; these
 * functions read and build its certificate part.
 */
#ifndef TRASA_SSHCERT_H
#define TRASA_SSHCERT_H

#include <stddef.h>
#include <stdint.h>

#include "sshkey.h"

struct krl;

enum sshcert_type {
	SSHCERT_USER = 1,
	SSHCERT_HOST = 2,
};

#define SSHCERT_MAX_PRINCIPALS 256
#define SSHCERT_MAX_OPTIONS 64
#define SSHCERT_MAX_SOURCES 256
#define SSHCERT_FOREVER UINT64_MAX

/* Reading (k must be a certificate; values are owned by k). */
enum sshcert_type sshcert_type(const struct sshkey *k);
uint64_t sshcert_serial(const struct sshkey *k);
const char *sshcert_key_id(const struct sshkey *k);
size_t sshcert_nprincipals(const struct sshkey *k);
const char *sshcert_principal(const struct sshkey *k, size_t i);
uint64_t sshcert_valid_after(const struct sshkey *k);
uint64_t sshcert_valid_before(const struct sshkey *k);
/*
 * Critical options and extensions, in the order the certificate holds them.
 * value is the option's string payload (NULL when the data is empty);
 * opaque payloads that are not one string come back with value NULL.
 */
size_t sshcert_ncritical(const struct sshkey *k);
int sshcert_critical(const struct sshkey *k, size_t i, const char **name,
    const char **value);
size_t sshcert_nextensions(const struct sshkey *k);
int sshcert_extension(const struct sshkey *k, size_t i, const char **name,
    const char **value);
/* The CA key that signed it, and the signature's algorithm. */
const struct sshkey *sshcert_signature_key(const struct sshkey *k);
const char *sshcert_signature_alg(const struct sshkey *k);

/* Building: a new unsigned certificate for subject's public key. */
int sshcert_new(const struct sshkey *subject, enum sshcert_type type,
    struct sshkey **out);
int sshcert_set_serial(struct sshkey *k, uint64_t serial);
int sshcert_set_key_id(struct sshkey *k, const char *key_id);
int sshcert_add_principal(struct sshkey *k, const char *principal);
int sshcert_set_validity(struct sshkey *k, uint64_t after, uint64_t before);
/* value NULL: empty data. Options are sorted by name when signed;
 * duplicates are refused. */
int sshcert_add_critical(struct sshkey *k, const char *name, const char *value);
int sshcert_add_extension(struct sshkey *k, const char *name, const char *value);
/* The five extensions ssh-keygen adds to user certificates by default. */
int sshcert_add_default_extensions(struct sshkey *k);
/* Sign with ca (a plain private key); alg NULL picks ca's default. */
int sshcert_sign(struct sshkey *k, const struct sshkey *ca, const char *alg);

/* Judging. */
struct sshcert_policy {
	enum sshcert_type type;    /* required certificate type */
	const char *principal;     /* must be listed; NULL skips the check */
	uint64_t now;              /* seconds since the epoch */
	uint32_t skew;             /* allowance on both ends of validity */
	const char *source_address; /* client address for source-address;
	                              NULL skips that option's check */
	unsigned flags;            /* SSHKEY_ALLOW_SHA1 */
};

/*
 * 0 when cert is valid under pol, trusted through one of the ncas CA keys,
 * and neither it nor its CA is revoked in krl (may be NULL). Otherwise the
 * first failing check's error, in sshd's order: signature algorithm, CA key
 * not a certificate, trusted CA, type, validity, principals, critical
 * options, revocation.
 */
int sshcert_check(const struct sshkey *cert, const struct sshkey *const *cas,
    size_t ncas, const struct krl *krl, const struct sshcert_policy *pol);

/* 0 when list is a source-address value sshd accepts (comma-separated
 * addresses or CIDR networks with no host bits set), TRASA_ERR_FORMAT
 * otherwise. */
int sshcert_source_address_valid(const char *list);

/* "YYYY-MM-DDTHH:MM:SS" in local time as ssh-keygen -L prints validity
 * bounds, "forever" / "always" for the open ends. */
void sshcert_format_time(uint64_t t, int is_before, char *buf, size_t len);

#endif

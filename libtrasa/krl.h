/*
 * krl.h: OpenSSH key revocation lists (PROTOCOL.krl), the format of sshd's
 * RevokedKeys and ssh-keygen -k / -Q.
 */
#ifndef TRASA_KRL_H
#define TRASA_KRL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sshkey;
struct tbuf;

#define KRL_MAX_SIZE (64u * 1024 * 1024)

struct krl;

int krl_new(struct krl **out);
void krl_free(struct krl *krl);

/*
 * Parse a binary KRL. Signature sections, when present, are verified (any
 * bad signature fails the parse); unsupported critical extensions fail it.
 * Trailing or truncated data fails it.
 */
int krl_parse(const uint8_t *p, size_t len, struct krl **out);

void krl_set_version(struct krl *krl, uint64_t version);
void krl_set_date(struct krl *krl, uint64_t date);
int krl_set_comment(struct krl *krl, const char *comment);
uint64_t krl_version(const struct krl *krl);
uint64_t krl_date(const struct krl *krl);
const char *krl_comment(const struct krl *krl);
/* Keys whose signatures were verified while parsing. */
size_t krl_nsigners(const struct krl *krl);
const struct sshkey *krl_signer(const struct krl *krl, size_t i);

/* ca NULL: the entry applies to certificates of every CA. */
int krl_revoke_serial(struct krl *krl, const struct sshkey *ca, uint64_t lo,
    uint64_t hi);
int krl_revoke_key_id(struct krl *krl, const struct sshkey *ca,
    const char *key_id);
/* A plain key (the plain part of a certificate) by blob or hash. */
int krl_revoke_key(struct krl *krl, const struct sshkey *key);
int krl_revoke_key_sha1(struct krl *krl, const struct sshkey *key);
int krl_revoke_key_sha256(struct krl *krl, const struct sshkey *key);

/* Serialise, signed by sign_key when not NULL (a private key). */
int krl_write(const struct krl *krl, const struct sshkey *sign_key,
    struct tbuf *out);

/*
 * 0 when key is not revoked, TRASA_ERR_REVOKED when it is: for a
 * certificate by its CA's serial or key-ID entries, then by its plain key;
 * for a plain key by blob, SHA-1 or SHA-256 hash. As sshd's
 * ssh_krl_check_key(). Callers also check a certificate's CA key.
 */
int krl_check_key(const struct krl *krl, const struct sshkey *key);

/* A listing as `ssh-keygen -Q -l -f` prints it. */
int krl_print(const struct krl *krl, FILE *f);

#endif

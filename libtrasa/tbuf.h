/*
 * tbuf.h: the one bounded buffer type through which all untrusted bytes pass,
 * and the SSH wire codec (RFC 4251 section 5) on top of it.
 *
 * A tbuf is either a read-only view of someone else's bytes (tbuf_from) or a
 * growable owned buffer (tbuf_new). Readers consume from the front; writers
 * append at the back. Every read checks that the bytes are there before
 * touching them; every length prefix is checked against a caller's cap and
 * against what is left. Owned contents are wiped when freed.
 */
#ifndef TRASA_TBUF_H
#define TRASA_TBUF_H

#include <stddef.h>
#include <stdint.h>

/* Largest buffer we ever grow to, and the default cap for one string. */
#define TBUF_MAX_SIZE (16u * 1024 * 1024)
#define TBUF_MAX_STRING (256u * 1024)
/* Largest mpint magnitude: 16384 bits, as OpenSSH. */
#define TBUF_MAX_MPINT (16384u / 8)

struct tbuf;

struct tbuf *tbuf_new(void);
/* A read-only view of len bytes at p; p must outlive the view. */
struct tbuf *tbuf_from(const void *p, size_t len);
/* An owned copy of len bytes at p. */
struct tbuf *tbuf_from_copy(const void *p, size_t len);
void tbuf_free(struct tbuf *b);

size_t tbuf_len(const struct tbuf *b);
const uint8_t *tbuf_ptr(const struct tbuf *b);
/* Empty an owned buffer (wiping it) for reuse. */
void tbuf_reset(struct tbuf *b);
int tbuf_consume(struct tbuf *b, size_t n);
/* TRASA_ERR_TRAILING unless everything was read. */
int tbuf_expect_end(const struct tbuf *b);

/* Reading. Outputs are touched only on success. */
int tbuf_get_u8(struct tbuf *b, uint8_t *v);
int tbuf_get_bool(struct tbuf *b, int *v);
int tbuf_get_u32(struct tbuf *b, uint32_t *v);
int tbuf_get_u64(struct tbuf *b, uint64_t *v);
int tbuf_get_bytes(struct tbuf *b, void *dst, size_t n);
/* A string, as a pointer into the buffer; cap 0 means TBUF_MAX_STRING. */
int tbuf_get_string_direct(struct tbuf *b, const uint8_t **p, size_t *len,
    size_t cap);
/* A string as a fresh NUL-terminated copy; embedded NULs are refused. */
int tbuf_get_cstring(struct tbuf *b, char **s, size_t cap);
/* A string as a read-only view into this buffer, for nested sections. */
int tbuf_get_sub(struct tbuf *b, struct tbuf **sub, size_t cap);
/*
 * A non-negative mpint: pointer to its magnitude with leading zeros
 * trimmed (as OpenSSH's sshbuf_get_bignum2_bytes_direct). Negative values
 * are refused; cap (0: TBUF_MAX_MPINT) bounds the magnitude's bytes.
 */
int tbuf_get_mpint_direct(struct tbuf *b, const uint8_t **p, size_t *len,
    size_t cap);

/* Writing (owned buffers only). */
int tbuf_reserve(struct tbuf *b, size_t n, uint8_t **dst);
int tbuf_put(struct tbuf *b, const void *p, size_t n);
int tbuf_put_u8(struct tbuf *b, uint8_t v);
int tbuf_put_bool(struct tbuf *b, int v);
int tbuf_put_u32(struct tbuf *b, uint32_t v);
int tbuf_put_u64(struct tbuf *b, uint64_t v);
int tbuf_put_string(struct tbuf *b, const void *p, size_t n);
int tbuf_put_cstring(struct tbuf *b, const char *s);
int tbuf_put_stringb(struct tbuf *b, const struct tbuf *v);
/* A non-negative big-endian magnitude as an SSH mpint. */
int tbuf_put_mpint(struct tbuf *b, const uint8_t *p, size_t n);

/* Base64 (RFC 4648, with padding) of the buffer's contents. */
int tbuf_to_base64(const struct tbuf *b, char **out);
/* Decode base64 text of length n (no whitespace) into a new owned buffer. */
int tbuf_from_base64(const char *s, size_t n, struct tbuf **out);

#endif

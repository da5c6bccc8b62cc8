/* tbuf.c: bounded buffer and SSH wire codec. */
#include "tbuf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct tbuf {
	uint8_t *d;       /* storage; const for views */
	size_t off;       /* read offset */
	size_t size;      /* end of valid data */
	size_t alloc;     /* allocated bytes (0 for a view) */
	int readonly;
};

static void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

struct tbuf *
tbuf_new(void)
{
	return calloc(1, sizeof(struct tbuf));
}

struct tbuf *
tbuf_from(const void *p, size_t len)
{
	struct tbuf *b;

	if (p == NULL && len != 0)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->d = (uint8_t *)(uintptr_t)p;
	b->size = len;
	b->readonly = 1;
	return b;
}

struct tbuf *
tbuf_from_copy(const void *p, size_t len)
{
	struct tbuf *b;

	if ((b = tbuf_new()) == NULL)
		return NULL;
	if (tbuf_put(b, p, len) != 0) {
		tbuf_free(b);
		return NULL;
	}
	return b;
}

void
tbuf_free(struct tbuf *b)
{
	if (b == NULL)
		return;
	if (!b->readonly && b->d != NULL) {
		wipe(b->d, b->alloc);
		free(b->d);
	}
	free(b);
}

size_t
tbuf_len(const struct tbuf *b)
{
	return b->size - b->off;
}

const uint8_t *
tbuf_ptr(const struct tbuf *b)
{
	static const uint8_t empty[1];

	/* An empty buffer may have no storage; NULL + 0 is undefined. */
	return b->d != NULL ? b->d + b->off : empty;
}

void
tbuf_reset(struct tbuf *b)
{
	if (b->readonly) {
		b->off = b->size;
		return;
	}
	if (b->d != NULL)
		wipe(b->d, b->size);
	b->off = b->size = 0;
}

int
tbuf_consume(struct tbuf *b, size_t n)
{
	if (n > tbuf_len(b))
		return TRASA_ERR_TRUNCATED;
	b->off += n;
	return 0;
}

int
tbuf_expect_end(const struct tbuf *b)
{
	return tbuf_len(b) == 0 ? 0 : TRASA_ERR_TRAILING;
}

int
tbuf_get_bytes(struct tbuf *b, void *dst, size_t n)
{
	if (n > tbuf_len(b))
		return TRASA_ERR_TRUNCATED;
	if (dst != NULL && n > 0)
		memcpy(dst, b->d + b->off, n);
	b->off += n;
	return 0;
}

int
tbuf_get_u8(struct tbuf *b, uint8_t *v)
{
	if (tbuf_len(b) < 1)
		return TRASA_ERR_TRUNCATED;
	*v = b->d[b->off++];
	return 0;
}

int
tbuf_get_bool(struct tbuf *b, int *v)
{
	uint8_t c;
	int r;

	if ((r = tbuf_get_u8(b, &c)) != 0)
		return r;
	*v = c != 0;
	return 0;
}

static uint32_t
peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
tbuf_get_u32(struct tbuf *b, uint32_t *v)
{
	if (tbuf_len(b) < 4)
		return TRASA_ERR_TRUNCATED;
	*v = peek_u32(b->d + b->off);
	b->off += 4;
	return 0;
}

int
tbuf_get_u64(struct tbuf *b, uint64_t *v)
{
	if (tbuf_len(b) < 8)
		return TRASA_ERR_TRUNCATED;
	*v = (uint64_t)peek_u32(b->d + b->off) << 32 |
	    peek_u32(b->d + b->off + 4);
	b->off += 8;
	return 0;
}

int
tbuf_get_string_direct(struct tbuf *b, const uint8_t **p, size_t *len,
    size_t cap)
{
	uint32_t n;

	if (cap == 0)
		cap = TBUF_MAX_STRING;
	/* The prefix is there, under its cap, and fits what is left. */
	if (tbuf_len(b) < 4)
		return TRASA_ERR_TRUNCATED;
	n = peek_u32(b->d + b->off);
	if (n > cap)
		return TRASA_ERR_TOO_LONG;
	if (n > tbuf_len(b) - 4)
		return TRASA_ERR_TRUNCATED;
	if (p != NULL)
		*p = b->d + b->off + 4;
	if (len != NULL)
		*len = n;
	b->off += 4 + (size_t)n;
	return 0;
}

int
tbuf_get_cstring(struct tbuf *b, char **s, size_t cap)
{
	const uint8_t *p;
	size_t n, save = b->off;
	char *r;
	int e;

	if ((e = tbuf_get_string_direct(b, &p, &n, cap)) != 0)
		return e;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		b->off = save;
		return TRASA_ERR_STRING_NUL;
	}
	if ((r = malloc(n + 1)) == NULL) {
		b->off = save;
		return TRASA_ERR_ALLOC;
	}
	if (n > 0)
		memcpy(r, p, n);
	r[n] = '\0';
	*s = r;
	return 0;
}

int
tbuf_get_sub(struct tbuf *b, struct tbuf **sub, size_t cap)
{
	const uint8_t *p;
	size_t n, save = b->off;
	struct tbuf *v;
	int e;

	if ((e = tbuf_get_string_direct(b, &p, &n, cap)) != 0)
		return e;
	if ((v = tbuf_from(p, n)) == NULL) {
		b->off = save;
		return TRASA_ERR_ALLOC;
	}
	*sub = v;
	return 0;
}

int
tbuf_get_mpint_direct(struct tbuf *b, const uint8_t **p, size_t *len,
    size_t cap)
{
	const uint8_t *d;
	size_t n, save = b->off;
	int e;

	if (cap == 0)
		cap = TBUF_MAX_MPINT;
	/* As OpenSSH: one extra byte for the sign pad, leading zeros trimmed. */
	if ((e = tbuf_get_string_direct(b, &d, &n, cap + 1)) != 0)
		return e;
	e = TRASA_ERR_FORMAT;
	if (n > 0 && (d[0] & 0x80) != 0)
		goto fail; /* negative */
	while (n > 0 && d[0] == 0) {
		d++;
		n--;
	}
	if (n > cap) {
		e = TRASA_ERR_TOO_LONG;
		goto fail;
	}
	*p = d;
	*len = n;
	return 0;
fail:
	b->off = save;
	return e;
}

int
tbuf_reserve(struct tbuf *b, size_t n, uint8_t **dst)
{
	size_t need, na;
	uint8_t *nd;

	if (b->readonly)
		return TRASA_ERR_INVALID_ARG;
	if (n > TBUF_MAX_SIZE || b->size > TBUF_MAX_SIZE - n)
		return TRASA_ERR_TOO_LONG;
	need = b->size + n;
	/* Allocated even for n == 0: *dst is never NULL + 0. */
	if (need > b->alloc || b->d == NULL) {
		na = b->alloc < 256 ? 256 : b->alloc;
		while (na < need)
			na *= 2;
		if (na > TBUF_MAX_SIZE)
			na = TBUF_MAX_SIZE;
		/* Grow by copy so that no secret is left in freed memory. */
		if ((nd = malloc(na)) == NULL)
			return TRASA_ERR_ALLOC;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->size);
			wipe(b->d, b->alloc);
			free(b->d);
		}
		b->d = nd;
		b->alloc = na;
	}
	*dst = b->d + b->size;
	b->size += n;
	return 0;
}

int
tbuf_put(struct tbuf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int e;

	if ((e = tbuf_reserve(b, n, &dst)) != 0)
		return e;
	if (n > 0)
		memcpy(dst, p, n);
	return 0;
}

int
tbuf_put_u8(struct tbuf *b, uint8_t v)
{
	return tbuf_put(b, &v, 1);
}

int
tbuf_put_bool(struct tbuf *b, int v)
{
	return tbuf_put_u8(b, v ? 1 : 0);
}

int
tbuf_put_u32(struct tbuf *b, uint32_t v)
{
	uint8_t p[4] = { v >> 24, v >> 16, v >> 8, v };

	return tbuf_put(b, p, 4);
}

int
tbuf_put_u64(struct tbuf *b, uint64_t v)
{
	int e;

	if ((e = tbuf_put_u32(b, (uint32_t)(v >> 32))) != 0)
		return e;
	return tbuf_put_u32(b, (uint32_t)v);
}

int
tbuf_put_string(struct tbuf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int e;

	if (n > UINT32_MAX || n > TBUF_MAX_SIZE)
		return TRASA_ERR_TOO_LONG;
	if ((e = tbuf_reserve(b, 4 + n, &dst)) != 0)
		return e;
	dst[0] = n >> 24;
	dst[1] = n >> 16;
	dst[2] = n >> 8;
	dst[3] = n;
	if (n > 0)
		memcpy(dst + 4, p, n);
	return 0;
}

int
tbuf_put_cstring(struct tbuf *b, const char *s)
{
	return tbuf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
tbuf_put_stringb(struct tbuf *b, const struct tbuf *v)
{
	return tbuf_put_string(b, tbuf_ptr(v), tbuf_len(v));
}

int
tbuf_put_mpint(struct tbuf *b, const uint8_t *p, size_t n)
{
	uint8_t *dst;
	size_t pad;
	int e;

	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	pad = (n > 0 && (p[0] & 0x80)) ? 1 : 0;
	if (n + pad > UINT32_MAX - 4)
		return TRASA_ERR_TOO_LONG;
	if ((e = tbuf_put_u32(b, (uint32_t)(n + pad))) != 0)
		return e;
	if ((e = tbuf_reserve(b, n + pad, &dst)) != 0)
		return e;
	if (pad)
		*dst++ = 0;
	if (n > 0)
		memcpy(dst, p, n);
	return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
tbuf_to_base64(const struct tbuf *b, char **out)
{
	const uint8_t *p = tbuf_ptr(b);
	size_t n = tbuf_len(b), i, o = 0;
	char *s;
	uint32_t v;

	if (n > TBUF_MAX_SIZE)
		return TRASA_ERR_TOO_LONG;
	if ((s = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return TRASA_ERR_ALLOC;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		s[o++] = b64chars[v >> 18];
		s[o++] = b64chars[(v >> 12) & 63];
		s[o++] = b64chars[(v >> 6) & 63];
		s[o++] = b64chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		s[o++] = b64chars[v >> 18];
		s[o++] = b64chars[(v >> 12) & 63];
		s[o++] = '=';
		s[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		s[o++] = b64chars[v >> 18];
		s[o++] = b64chars[(v >> 12) & 63];
		s[o++] = b64chars[(v >> 6) & 63];
		s[o++] = '=';
	}
	s[o] = '\0';
	*out = s;
	return 0;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
tbuf_from_base64(const char *s, size_t n, struct tbuf **out)
{
	struct tbuf *b = NULL;
	uint8_t *dst;
	size_t i, pad = 0, o = 0;
	uint32_t v = 0;
	int c, e;

	if (n % 4 != 0)
		return TRASA_ERR_FORMAT;
	if (n / 4 * 3 > TBUF_MAX_SIZE)
		return TRASA_ERR_TOO_LONG;
	if (n >= 1 && s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_reserve(b, n / 4 * 3, &dst)) != 0)
		goto out;
	e = TRASA_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (i >= n - pad) {
			c = 0;
		} else if ((c = b64val(s[i])) < 0) {
			goto out;
		}
		v = v << 6 | (uint32_t)c;
		if (i % 4 == 3) {
			dst[o++] = v >> 16;
			dst[o++] = v >> 8;
			dst[o++] = v;
			v = 0;
		}
	}
	/* Padding bits must be zero, as a canonical encoder writes them. */
	if (pad == 1 && (b64val(s[n - 2]) & 3) != 0)
		goto out;
	if (pad == 2 && (b64val(s[n - 3]) & 15) != 0)
		goto out;
	b->size -= pad;
	*out = b;
	b = NULL;
	e = 0;
out:
	tbuf_free(b);
	return e;
}

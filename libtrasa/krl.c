/*
 * krl.c: OpenSSH key revocation lists (PROTOCOL.krl), read and written as
 * OpenSSH 9.2's krl.c does: the same sections accepted and refused, the
 * same judgement of keys and certificates, the same bytes written for the
 * same revocations, the same `ssh-keygen -Q -l` listing.
 *
 * Revocations are kept in sorted arrays searched by bisection: serials as
 * merged [lo, hi] ranges (a bitmap of many serials costs a range per run,
 * not a node per serial), key IDs, key blobs and hashes as byte strings in
 * OpenSSH's order (memcmp, then shorter first). New entries wait in a
 * small unsorted list that is merged in geometrically, so that parsing or
 * building in any order stays O(n log n); a parse ends fully merged.
 *
 * Where PROTOCOL.krl leaves room, we do as OpenSSH 9.2: hashes need not
 * be in order, sections may be empty, explicit key blobs are not parsed,
 * serial 0 is refused, bitmaps are capped at 2048 bytes, a string may end
 * in one NUL, signers the KRL itself revokes do not count. Extension sections, which 9.2
 * refuses outright, are taken as PROTOCOL.krl 1.7 and OpenSSH >= 9.4 do:
 * critical ones refused, others ignored.
 */
#include "krl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define KRL_MAGIC "SSHKRL\n\0"
#define KRL_MAGIC_LEN 8
#define KRL_FORMAT_VERSION 1

#define KRL_SECTION_CERTIFICATES 1
#define KRL_SECTION_EXPLICIT_KEY 2
#define KRL_SECTION_FINGERPRINT_SHA1 3
#define KRL_SECTION_SIGNATURE 4
#define KRL_SECTION_FINGERPRINT_SHA256 5
#define KRL_SECTION_EXTENSION 255

#define KRL_SECTION_CERT_SERIAL_LIST 0x20
#define KRL_SECTION_CERT_SERIAL_RANGE 0x21
#define KRL_SECTION_CERT_SERIAL_BITMAP 0x22
#define KRL_SECTION_CERT_KEY_ID 0x23
#define KRL_SECTION_CERT_EXTENSION 0x39

/* OpenSSH reads a bitmap as a bignum of at most 16384 bits. */
#define KRL_MAX_BITMAP_BYTES 2048
#define KRL_MAX_BITMAP_BITS (KRL_MAX_BITMAP_BYTES * 8)
/* Caps on what one KRL may hold. */
#define KRL_MAX_RANGES (4u * 1024 * 1024)   /* disjoint serial ranges */
#define KRL_MAX_ENTRIES (1024u * 1024)      /* per list of IDs/keys/hashes */
#define KRL_MAX_CAS 4096
#define KRL_MAX_SIGNERS 16
#define KRL_MAX_BLOB TBUF_MAX_STRING        /* one key blob, key ID, ... */
/*
 * Entries added go to a pending list that is merged into the sorted one
 * once it holds KRL_PEND_MIN and 1/KRL_PEND_RATIO of the sorted count:
 * adding costs amortised O(log n) in any order, lookups stay fast.
 */
#define KRL_PEND_MIN 1024
#define KRL_PEND_RATIO 16

#define SHA1_LEN 20
#define SHA256_LEN 32

struct krl_range {
	uint64_t lo, hi;
};

/*
 * Serial ranges: sorted and merged in v, plus ranges added since in pend
 * (any order), merged into v when pend is due (pend_full()).
 */
struct krl_serials {
	struct krl_range *v;
	size_t n;
	struct krl_range *pend;
	size_t npend, palloc;
};

/* A byte string, NUL-terminated for printing key IDs. */
struct krl_blob {
	uint8_t *p;
	size_t len;
};

/* Byte strings, sorted and distinct in v, plus pend as for serials. */
struct krl_blobs {
	struct krl_blob *v;
	size_t n;
	struct krl_blob *pend;
	size_t npend, palloc;
};

/* The revocations that apply to one CA's certificates. */
struct krl_ca {
	struct sshkey *key;     /* NULL: any CA */
	uint8_t *blob;          /* key's wire blob, what entries are found by */
	size_t bloblen;
	struct krl_serials serials;
	struct krl_blobs key_ids;
};

struct krl {
	uint64_t version;
	uint64_t date;
	uint64_t flags;
	char *comment;
	struct krl_ca **cas;    /* in order of first revocation, as OpenSSH */
	size_t ncas;
	struct krl_blobs keys;
	struct krl_blobs sha1s;
	struct krl_blobs sha256s;
	struct sshkey **signers;
	size_t nsigners;
};

/* ------------------------------------------------------------------ */
/* Serial ranges. */

static int
range_cmp(const void *a, const void *b)
{
	const struct krl_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Whether range b (b->lo >= a->lo) starts inside a or right after it. */
static int
range_joins(const struct krl_range *a, const struct krl_range *b)
{
	return a->hi == UINT64_MAX || b->lo <= a->hi + 1;
}

/* Whether pending entries are due to be merged into the sorted array. */
static int
pend_full(size_t n, size_t npend)
{
	return npend >= KRL_PEND_MIN && npend >= n / KRL_PEND_RATIO;
}

/* Merge the pending ranges into the sorted array, coalescing. */
static int
serials_flush(struct krl_serials *s)
{
	struct krl_range *nv;
	size_t i, j, k, o;

	if (s->npend == 0)
		return 0;
	qsort(s->pend, s->npend, sizeof(*s->pend), range_cmp);
	if ((nv = realloc(s->v, (s->n + s->npend) * sizeof(*nv))) == NULL)
		return TRASA_ERR_ALLOC;
	s->v = nv;
	/* Both sorted: merge from the back, in place. */
	i = s->n;
	j = s->npend;
	k = s->n + s->npend;
	while (j > 0) {
		if (i > 0 && range_cmp(&s->v[i - 1], &s->pend[j - 1]) > 0)
			s->v[--k] = s->v[--i];
		else
			s->v[--k] = s->pend[--j];
	}
	s->n += s->npend;
	s->npend = 0;
	for (i = 1, o = 0; i < s->n; i++) {
		if (range_joins(&s->v[o], &s->v[i])) {
			if (s->v[i].hi > s->v[o].hi)
				s->v[o].hi = s->v[i].hi;
		} else
			s->v[++o] = s->v[i];
	}
	s->n = o + 1;
	return 0;
}

static int
serials_add(struct krl_serials *s, uint64_t lo, uint64_t hi)
{
	struct krl_range *np;
	size_t na;
	int e;

	if (s->n + s->npend >= KRL_MAX_RANGES &&
	    ((e = serials_flush(s)) != 0 || s->n >= KRL_MAX_RANGES))
		return e != 0 ? e : TRASA_ERR_TOO_MANY;
	if (s->npend == s->palloc) {
		na = s->palloc == 0 ? 16 : s->palloc * 2;
		if ((np = realloc(s->pend, na * sizeof(*np))) == NULL)
			return TRASA_ERR_ALLOC;
		s->pend = np;
		s->palloc = na;
	}
	s->pend[s->npend].lo = lo;
	s->pend[s->npend].hi = hi;
	s->npend++;
	if (pend_full(s->n, s->npend))
		return serials_flush(s);
	return 0;
}

static int
serials_contain(const struct krl_serials *s, uint64_t x)
{
	size_t lo = 0, hi = s->n, mid;

	/* The last sorted range starting at or below x, then the rest. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->v[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && x <= s->v[lo - 1].hi)
		return 1;
	for (mid = 0; mid < s->npend; mid++)
		if (s->pend[mid].lo <= x && x <= s->pend[mid].hi)
			return 1;
	return 0;
}

static void
serials_clear(struct krl_serials *s)
{
	free(s->v);
	free(s->pend);
	memset(s, 0, sizeof(*s));
}

/*
 * All of s sorted and merged, for reading through a const KRL: s itself
 * when nothing is pending, else a merged copy in tmp (serials_clear() it).
 */
static int
serials_view(const struct krl_serials *s, struct krl_serials *tmp,
    const struct krl_serials **out)
{
	int e;

	memset(tmp, 0, sizeof(*tmp));
	if (s->npend == 0) {
		*out = s;
		return 0;
	}
	if ((tmp->v = malloc(s->n * sizeof(*s->v) + 1)) == NULL ||
	    (tmp->pend = malloc(s->npend * sizeof(*s->pend))) == NULL) {
		serials_clear(tmp);
		return TRASA_ERR_ALLOC;
	}
	if (s->n > 0)
		memcpy(tmp->v, s->v, s->n * sizeof(*s->v));
	memcpy(tmp->pend, s->pend, s->npend * sizeof(*s->pend));
	tmp->n = s->n;
	tmp->npend = tmp->palloc = s->npend;
	if ((e = serials_flush(tmp)) != 0) {
		serials_clear(tmp);
		return e;
	}
	*out = tmp;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Byte strings: key IDs, key blobs, hashes. */

static int
blob_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int r;

	if ((r = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return r;
	if (alen == blen)
		return 0;
	return alen < blen ? -1 : 1;
}

static int
blob_qcmp(const void *a, const void *b)
{
	const struct krl_blob *x = a, *y = b;

	return blob_cmp(x->p, x->len, y->p, y->len);
}

/*
 * Merge the pending strings into the sorted array, dropping duplicates
 * (and freeing them when owned; a view's copy shares its strings).
 */
static int
blobs_flush(struct krl_blobs *s, int owned)
{
	struct krl_blob *nv;
	size_t i, j, k, o;

	if (s->npend == 0)
		return 0;
	qsort(s->pend, s->npend, sizeof(*s->pend), blob_qcmp);
	if ((nv = realloc(s->v, (s->n + s->npend) * sizeof(*nv))) == NULL)
		return TRASA_ERR_ALLOC;
	s->v = nv;
	i = s->n;
	j = s->npend;
	k = s->n + s->npend;
	while (j > 0) {
		if (i > 0 && blob_qcmp(&s->v[i - 1], &s->pend[j - 1]) > 0)
			s->v[--k] = s->v[--i];
		else
			s->v[--k] = s->pend[--j];
	}
	s->n += s->npend;
	s->npend = 0;
	for (i = 1, o = 0; i < s->n; i++) {
		if (blob_qcmp(&s->v[o], &s->v[i]) != 0)
			s->v[++o] = s->v[i];
		else if (owned)
			free(s->v[i].p);
	}
	s->n = o + 1;
	return 0;
}

static void
blobs_clear(struct krl_blobs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].p);
	for (i = 0; i < s->npend; i++)
		free(s->pend[i].p);
	free(s->v);
	free(s->pend);
	memset(s, 0, sizeof(*s));
}

/* Add a copy of p (NUL-terminated, for printing key IDs). */
static int
blobs_add(struct krl_blobs *s, const uint8_t *p, size_t len)
{
	struct krl_blob *np;
	uint8_t *c;
	size_t na;
	int e;

	if (s->n + s->npend >= KRL_MAX_ENTRIES &&
	    ((e = blobs_flush(s, 1)) != 0 || s->n >= KRL_MAX_ENTRIES))
		return e != 0 ? e : TRASA_ERR_TOO_MANY;
	if (s->npend == s->palloc) {
		na = s->palloc == 0 ? 16 : s->palloc * 2;
		if ((np = realloc(s->pend, na * sizeof(*np))) == NULL)
			return TRASA_ERR_ALLOC;
		s->pend = np;
		s->palloc = na;
	}
	if ((c = malloc(len + 1)) == NULL)
		return TRASA_ERR_ALLOC;
	if (len > 0)
		memcpy(c, p, len);
	c[len] = '\0';
	s->pend[s->npend].p = c;
	s->pend[s->npend].len = len;
	s->npend++;
	if (pend_full(s->n, s->npend))
		return blobs_flush(s, 1);
	return 0;
}

static int
blobs_contain(const struct krl_blobs *s, const uint8_t *p, size_t len)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = blob_cmp(s->v[mid].p, s->v[mid].len, p, len);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (mid = 0; mid < s->npend; mid++)
		if (blob_cmp(s->pend[mid].p, s->pend[mid].len, p, len) == 0)
			return 1;
	return 0;
}

/* A view's copy shares its strings: free only its arrays. */
static void
blobs_view_free(struct krl_blobs *tmp)
{
	free(tmp->v);
	free(tmp->pend);
	memset(tmp, 0, sizeof(*tmp));
}

/* As serials_view(); free tmp with blobs_view_free(). */
static int
blobs_view(const struct krl_blobs *s, struct krl_blobs *tmp,
    const struct krl_blobs **out)
{
	int e;

	memset(tmp, 0, sizeof(*tmp));
	if (s->npend == 0) {
		*out = s;
		return 0;
	}
	if ((tmp->v = malloc(s->n * sizeof(*s->v) + 1)) == NULL ||
	    (tmp->pend = malloc(s->npend * sizeof(*s->pend))) == NULL) {
		blobs_view_free(tmp);
		return TRASA_ERR_ALLOC;
	}
	if (s->n > 0)
		memcpy(tmp->v, s->v, s->n * sizeof(*s->v));
	memcpy(tmp->pend, s->pend, s->npend * sizeof(*s->pend));
	tmp->n = s->n;
	tmp->npend = tmp->palloc = s->npend;
	if ((e = blobs_flush(tmp, 0)) != 0) {
		blobs_view_free(tmp);
		return e;
	}
	*out = tmp;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The KRL object. */

static void
ca_free(struct krl_ca *ca)
{
	if (ca == NULL)
		return;
	sshkey_free(ca->key);
	free(ca->blob);
	serials_clear(&ca->serials);
	blobs_clear(&ca->key_ids);
	free(ca);
}

int
krl_new(struct krl **out)
{
	struct krl *krl;

	if ((krl = calloc(1, sizeof(*krl))) == NULL)
		return TRASA_ERR_ALLOC;
	*out = krl;
	return 0;
}

void
krl_free(struct krl *krl)
{
	size_t i;

	if (krl == NULL)
		return;
	free(krl->comment);
	for (i = 0; i < krl->ncas; i++)
		ca_free(krl->cas[i]);
	free(krl->cas);
	blobs_clear(&krl->keys);
	blobs_clear(&krl->sha1s);
	blobs_clear(&krl->sha256s);
	for (i = 0; i < krl->nsigners; i++)
		sshkey_free(krl->signers[i]);
	free(krl->signers);
	free(krl);
}

void
krl_set_version(struct krl *krl, uint64_t version)
{
	krl->version = version;
}

void
krl_set_date(struct krl *krl, uint64_t date)
{
	krl->date = date;
}

int
krl_set_comment(struct krl *krl, const char *comment)
{
	char *c = NULL;

	if (comment != NULL) {
		if (strlen(comment) > KRL_MAX_BLOB)
			return TRASA_ERR_TOO_LONG;
		if ((c = strdup(comment)) == NULL)
			return TRASA_ERR_ALLOC;
	}
	free(krl->comment);
	krl->comment = c;
	return 0;
}

uint64_t
krl_version(const struct krl *krl)
{
	return krl->version;
}

uint64_t
krl_date(const struct krl *krl)
{
	return krl->date;
}

const char *
krl_comment(const struct krl *krl)
{
	return krl->comment != NULL ? krl->comment : "";
}

size_t
krl_nsigners(const struct krl *krl)
{
	return krl->nsigners;
}

const struct sshkey *
krl_signer(const struct krl *krl, size_t i)
{
	return i < krl->nsigners ? krl->signers[i] : NULL;
}

/* The entry for CA blob (NULL: any CA), or NULL when there is none. */
static struct krl_ca *
ca_find(const struct krl *krl, const uint8_t *blob, size_t len)
{
	struct krl_ca *ca;
	size_t i;

	for (i = 0; i < krl->ncas; i++) {
		ca = krl->cas[i];
		if (blob == NULL || ca->blob == NULL) {
			if (blob == NULL && ca->blob == NULL)
				return ca;
		} else if (blob_cmp(ca->blob, ca->bloblen, blob, len) == 0)
			return ca;
	}
	return NULL;
}

/*
 * The entry for CA key (NULL: any CA), made when missing. CAs are found by
 * their canonical blob, which for the key types we parse is equality of
 * keys (a certificate, by its whole blob, matches no signature key).
 */
static int
ca_get(struct krl *krl, const struct sshkey *key, struct krl_ca **out)
{
	struct krl_ca *ca = NULL, **nv;
	struct tbuf *b = NULL;
	int e;

	if (key != NULL) {
		if ((b = tbuf_new()) == NULL)
			return TRASA_ERR_ALLOC;
		if ((e = sshkey_to_blob(key, b)) != 0)
			goto out;
	}
	if ((ca = ca_find(krl, b == NULL ? NULL : tbuf_ptr(b),
	    b == NULL ? 0 : tbuf_len(b))) != NULL) {
		*out = ca;
		ca = NULL;
		e = 0;
		goto out;
	}
	if (krl->ncas >= KRL_MAX_CAS) {
		e = TRASA_ERR_TOO_MANY;
		goto out;
	}
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (b != NULL) {
		/* Our own public copy, read back from the blob. */
		if ((e = sshkey_from_blob(tbuf_ptr(b), tbuf_len(b),
		    &ca->key)) != 0)
			goto out;
		if ((ca->blob = malloc(tbuf_len(b))) == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		memcpy(ca->blob, tbuf_ptr(b), tbuf_len(b));
		ca->bloblen = tbuf_len(b);
	}
	if ((nv = realloc(krl->cas, (krl->ncas + 1) * sizeof(*nv))) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	krl->cas = nv;
	krl->cas[krl->ncas++] = ca;
	*out = ca;
	ca = NULL;
	e = 0;
out:
	ca_free(ca);
	tbuf_free(b);
	return e;
}

/* Merge everything pending (the end of a parse). */
static int
krl_flush(struct krl *krl)
{
	size_t i;
	int e;

	for (i = 0; i < krl->ncas; i++) {
		if ((e = serials_flush(&krl->cas[i]->serials)) != 0 ||
		    (e = blobs_flush(&krl->cas[i]->key_ids, 1)) != 0)
			return e;
	}
	if ((e = blobs_flush(&krl->keys, 1)) != 0 ||
	    (e = blobs_flush(&krl->sha1s, 1)) != 0)
		return e;
	return blobs_flush(&krl->sha256s, 1);
}

/* ------------------------------------------------------------------ */
/* Revoking. */

int
krl_revoke_serial(struct krl *krl, const struct sshkey *ca, uint64_t lo,
    uint64_t hi)
{
	struct krl_ca *rc;
	int e;

	/* As OpenSSH: serial 0 means "no serial" and is never revoked. */
	if (lo == 0 || lo > hi)
		return TRASA_ERR_INVALID_ARG;
	if ((e = ca_get(krl, ca, &rc)) != 0)
		return e;
	return serials_add(&rc->serials, lo, hi);
}

int
krl_revoke_key_id(struct krl *krl, const struct sshkey *ca,
    const char *key_id)
{
	struct krl_ca *rc;
	size_t len;
	int e;

	if (key_id == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((len = strlen(key_id)) > KRL_MAX_BLOB)
		return TRASA_ERR_TOO_LONG;
	if ((e = ca_get(krl, ca, &rc)) != 0)
		return e;
	return blobs_add(&rc->key_ids, (const uint8_t *)key_id, len);
}

int
krl_revoke_key(struct krl *krl, const struct sshkey *key)
{
	struct tbuf *b;
	int e;

	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = sshkey_plain_to_blob(key, b)) == 0)
		e = blobs_add(&krl->keys, tbuf_ptr(b), tbuf_len(b));
	tbuf_free(b);
	return e;
}

int
krl_revoke_key_sha1(struct krl *krl, const struct sshkey *key)
{
	uint8_t h[SHA1_LEN];
	int e;

	if ((e = sshkey_hash_sha1(key, h)) != 0)
		return e;
	return blobs_add(&krl->sha1s, h, sizeof(h));
}

int
krl_revoke_key_sha256(struct krl *krl, const struct sshkey *key)
{
	uint8_t h[SHA256_LEN];
	int e;

	if ((e = sshkey_hash_sha256(key, h)) != 0)
		return e;
	return blobs_add(&krl->sha256s, h, sizeof(h));
}

/* ------------------------------------------------------------------ */
/* Parsing. */

/*
 * A string as OpenSSH's sshbuf_get_cstring() takes it: a NUL is allowed
 * only as the last byte (and dropped). Points into b.
 */
static int
get_cstring_direct(struct tbuf *b, const uint8_t **p, size_t *len)
{
	const uint8_t *s;
	size_t n;
	int e;

	if ((e = tbuf_get_string_direct(b, &s, &n, KRL_MAX_BLOB)) != 0)
		return e;
	if (n > 0 && s[n - 1] == '\0')
		n--;
	if (n > 0 && memchr(s, '\0', n) != NULL)
		return TRASA_ERR_STRING_NUL;
	*p = s;
	*len = n;
	return 0;
}

/* An extension (section or certificate subsection): refused if critical. */
static int
parse_extension(struct tbuf *b)
{
	const uint8_t *name;
	size_t namelen;
	uint8_t critical;
	int e;

	if ((e = get_cstring_direct(b, &name, &namelen)) != 0 ||
	    (e = tbuf_get_u8(b, &critical)) != 0 ||
	    (e = tbuf_get_string_direct(b, NULL, NULL, KRL_MAX_SIZE)) != 0 ||
	    (e = tbuf_expect_end(b)) != 0)
		return e;
	/* No extension is supported. */
	return critical ? TRASA_ERR_UNSUPPORTED : 0;
}

/* Lazily made, so that a CA with no entries gets none (as OpenSSH). */
static int
parse_ca_entry(struct krl *krl, const struct sshkey *ca, struct krl_ca **rc)
{
	if (*rc != NULL)
		return 0;
	return ca_get(krl, ca, rc);
}

static int
parse_serial(struct krl *krl, const struct sshkey *ca, struct krl_ca **rc,
    uint64_t lo, uint64_t hi)
{
	int e;

	if (lo == 0 || lo > hi)
		return TRASA_ERR_FORMAT;
	if ((e = parse_ca_entry(krl, ca, rc)) != 0)
		return e;
	return serials_add(&(*rc)->serials, lo, hi);
}

static int
parse_bitmap(struct tbuf *b, struct krl *krl, const struct sshkey *ca,
    struct krl_ca **rc)
{
	uint8_t bits[KRL_MAX_BITMAP_BYTES + 1];
	struct tbuf *m = NULL;
	uint64_t offset, nbits, i, run;
	size_t n, skip;
	uint8_t c;
	int e;

	if ((e = tbuf_get_u64(b, &offset)) != 0 ||
	    (e = tbuf_get_sub(b, &m, KRL_MAX_BITMAP_BYTES + 1)) != 0)
		return e;
	/*
	 * An mpint as OpenSSH reads it: not negative, at most 2048 bytes
	 * after an optional zero, leading zeros ignored.
	 */
	n = tbuf_len(m);
	if ((e = tbuf_get_bytes(m, bits, n)) != 0)
		goto out;
	e = TRASA_ERR_FORMAT;
	if (n > 0 && (bits[0] & 0x80) != 0)
		goto out;
	if (n == KRL_MAX_BITMAP_BYTES + 1 && bits[0] != 0) {
		e = TRASA_ERR_TOO_LONG;
		goto out;
	}
	for (skip = 0; skip < n && bits[skip] == 0; skip++)
		;
	/* Bit i is bit i % 8 of byte n - 1 - i / 8 (big-endian). */
	nbits = 0;
	if (skip < n) {
		c = bits[skip];
		nbits = (uint64_t)(n - skip - 1) * 8;
		while (c != 0) {
			nbits++;
			c >>= 1;
		}
	}
	if (nbits > 0 && nbits - 1 > UINT64_MAX - offset)
		goto out; /* wraps */
	for (i = 0; i < nbits; i = run) {
		if (!(bits[n - 1 - i / 8] & (1u << (i % 8)))) {
			run = i + 1;
			continue;
		}
		for (run = i + 1; run < nbits &&
		    (bits[n - 1 - run / 8] & (1u << (run % 8))); run++)
			;
		if ((e = parse_serial(krl, ca, rc, offset + i,
		    offset + run - 1)) != 0)
			goto out;
	}
	e = 0;
out:
	tbuf_free(m);
	return e;
}

static int
parse_certs(struct tbuf *b, struct krl *krl)
{
	struct sshkey *ca = NULL;
	struct krl_ca *rc = NULL;
	struct tbuf *sub = NULL;
	const uint8_t *blob, *id;
	size_t bloblen, idlen;
	uint64_t lo, hi;
	uint8_t type;
	int e;

	if ((e = tbuf_get_string_direct(b, &blob, &bloblen, KRL_MAX_BLOB)) != 0 ||
	    (e = tbuf_get_string_direct(b, NULL, NULL, KRL_MAX_SIZE)) != 0)
		goto out;
	if (bloblen != 0 && (e = sshkey_from_blob(blob, bloblen, &ca)) != 0)
		goto out;
	while (tbuf_len(b) > 0) {
		tbuf_free(sub);
		sub = NULL;
		if ((e = tbuf_get_u8(b, &type)) != 0 ||
		    (e = tbuf_get_sub(b, &sub, KRL_MAX_SIZE)) != 0)
			goto out;
		switch (type) {
		case KRL_SECTION_CERT_SERIAL_LIST:
			while (tbuf_len(sub) > 0) {
				if ((e = tbuf_get_u64(sub, &lo)) != 0 ||
				    (e = parse_serial(krl, ca, &rc, lo,
				    lo)) != 0)
					goto out;
			}
			break;
		case KRL_SECTION_CERT_SERIAL_RANGE:
			if ((e = tbuf_get_u64(sub, &lo)) != 0 ||
			    (e = tbuf_get_u64(sub, &hi)) != 0 ||
			    (e = parse_serial(krl, ca, &rc, lo, hi)) != 0)
				goto out;
			break;
		case KRL_SECTION_CERT_SERIAL_BITMAP:
			if ((e = parse_bitmap(sub, krl, ca, &rc)) != 0)
				goto out;
			break;
		case KRL_SECTION_CERT_KEY_ID:
			while (tbuf_len(sub) > 0) {
				if ((e = get_cstring_direct(sub, &id,
				    &idlen)) != 0 ||
				    (e = parse_ca_entry(krl, ca, &rc)) != 0 ||
				    (e = blobs_add(&rc->key_ids, id,
				    idlen)) != 0)
					goto out;
			}
			break;
		case KRL_SECTION_CERT_EXTENSION:
			if ((e = parse_extension(sub)) != 0)
				goto out;
			break;
		default:
			e = TRASA_ERR_FORMAT;
			goto out;
		}
		if ((e = tbuf_expect_end(sub)) != 0)
			goto out;
	}
	e = 0;
out:
	tbuf_free(sub);
	sshkey_free(ca);
	return e;
}

/* A list of key blobs (hashlen 0) or of hashes of exactly hashlen bytes. */
static int
parse_blobs(struct tbuf *b, struct krl_blobs *s, size_t hashlen)
{
	const uint8_t *p;
	size_t len;
	int e;

	while (tbuf_len(b) > 0) {
		if ((e = tbuf_get_string_direct(b, &p, &len, KRL_MAX_BLOB)) != 0)
			return e;
		if (hashlen != 0 && len != hashlen)
			return TRASA_ERR_FORMAT;
		if ((e = blobs_add(s, p, len)) != 0)
			return e;
	}
	return 0;
}

/*
 * First pass, as OpenSSH: verify every signature section (over all bytes
 * from the magic to the end of its key) before looking into the others.
 * Signature sections come last; each key signs once.
 */
static int
parse_signatures(const uint8_t *p, size_t len, size_t sects, struct krl *krl)
{
	struct tbuf *b;
	struct sshkey *key = NULL, **nv;
	const uint8_t *kblob, *sig;
	size_t klen, siglen, signed_len, i;
	uint8_t type;
	int e, seen = 0;

	if ((b = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_consume(b, sects)) != 0)
		goto out;
	while (tbuf_len(b) > 0) {
		if ((e = tbuf_get_u8(b, &type)) != 0 ||
		    (e = tbuf_get_string_direct(b, &kblob, &klen,
		    KRL_MAX_SIZE)) != 0)
			goto out;
		if (type != KRL_SECTION_SIGNATURE) {
			if (seen) {
				e = TRASA_ERR_FORMAT;
				goto out;
			}
			continue;
		}
		seen = 1;
		signed_len = len - tbuf_len(b);
		if ((e = tbuf_get_string_direct(b, &sig, &siglen,
		    KRL_MAX_BLOB)) != 0)
			goto out;
		if ((e = sshkey_from_blob(kblob, klen, &key)) != 0)
			goto out;
		if ((e = sshkey_verify(key, sig, siglen, p, signed_len, NULL,
		    0)) != 0) {
			if (e != TRASA_ERR_ALLOC)
				e = TRASA_ERR_BAD_SIGNATURE;
			goto out;
		}
		for (i = 0; i < krl->nsigners; i++) {
			if (sshkey_is_cert(key) == sshkey_is_cert(krl->signers[i]) &&
			    sshkey_equal_public(key, krl->signers[i])) {
				e = TRASA_ERR_FORMAT; /* signed twice */
				goto out;
			}
		}
		if (krl->nsigners >= KRL_MAX_SIGNERS) {
			e = TRASA_ERR_TOO_MANY;
			goto out;
		}
		nv = realloc(krl->signers, (krl->nsigners + 1) * sizeof(*nv));
		if (nv == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		krl->signers = nv;
		krl->signers[krl->nsigners++] = key;
		key = NULL;
	}
	e = 0;
out:
	sshkey_free(key);
	tbuf_free(b);
	return e;
}

/* Second pass: the revocations. */
static int
parse_sections(const uint8_t *p, size_t len, size_t sects, struct krl *krl)
{
	struct tbuf *b, *sect = NULL;
	uint8_t type;
	int e;

	if ((b = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = tbuf_consume(b, sects)) != 0)
		goto out;
	while (tbuf_len(b) > 0) {
		tbuf_free(sect);
		sect = NULL;
		if ((e = tbuf_get_u8(b, &type)) != 0 ||
		    (e = tbuf_get_sub(b, &sect, KRL_MAX_SIZE)) != 0)
			goto out;
		switch (type) {
		case KRL_SECTION_CERTIFICATES:
			e = parse_certs(sect, krl);
			break;
		case KRL_SECTION_EXPLICIT_KEY:
			e = parse_blobs(sect, &krl->keys, 0);
			break;
		case KRL_SECTION_FINGERPRINT_SHA1:
			e = parse_blobs(sect, &krl->sha1s, SHA1_LEN);
			break;
		case KRL_SECTION_FINGERPRINT_SHA256:
			e = parse_blobs(sect, &krl->sha256s, SHA256_LEN);
			break;
		case KRL_SECTION_EXTENSION:
			e = parse_extension(sect);
			break;
		case KRL_SECTION_SIGNATURE:
			/* Verified in the first pass; skip its signature. */
			tbuf_reset(sect);
			e = tbuf_get_string_direct(b, NULL, NULL, KRL_MAX_BLOB);
			break;
		default:
			e = TRASA_ERR_FORMAT;
			break;
		}
		if (e != 0 || (e = tbuf_expect_end(sect)) != 0)
			goto out;
	}
	e = 0;
out:
	tbuf_free(sect);
	tbuf_free(b);
	return e;
}

int
krl_parse(const uint8_t *p, size_t len, struct krl **out)
{
	struct krl *krl = NULL;
	struct tbuf *b = NULL;
	const uint8_t *comment;
	uint8_t magic[KRL_MAGIC_LEN];
	uint32_t format;
	size_t clen, sects, i, o;
	int e;

	if (p == NULL && len != 0)
		return TRASA_ERR_INVALID_ARG;
	if (len > KRL_MAX_SIZE)
		return TRASA_ERR_TOO_LONG;
	if ((b = tbuf_from(p, len)) == NULL)
		return TRASA_ERR_ALLOC;
	if ((e = krl_new(&krl)) != 0)
		goto out;
	if ((e = tbuf_get_bytes(b, magic, sizeof(magic))) != 0)
		goto out;
	if (memcmp(magic, KRL_MAGIC, KRL_MAGIC_LEN) != 0) {
		e = TRASA_ERR_FORMAT;
		goto out;
	}
	if ((e = tbuf_get_u32(b, &format)) != 0)
		goto out;
	if (format != KRL_FORMAT_VERSION) {
		e = TRASA_ERR_UNSUPPORTED;
		goto out;
	}
	if ((e = tbuf_get_u64(b, &krl->version)) != 0 ||
	    (e = tbuf_get_u64(b, &krl->date)) != 0 ||
	    (e = tbuf_get_u64(b, &krl->flags)) != 0 ||
	    (e = tbuf_get_string_direct(b, NULL, NULL, KRL_MAX_SIZE)) != 0 ||
	    (e = get_cstring_direct(b, &comment, &clen)) != 0)
		goto out;
	if ((krl->comment = malloc(clen + 1)) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (clen > 0)
		memcpy(krl->comment, comment, clen);
	krl->comment[clen] = '\0';
	sects = len - tbuf_len(b);

	if ((e = parse_signatures(p, len, sects, krl)) != 0 ||
	    (e = parse_sections(p, len, sects, krl)) != 0 ||
	    (e = krl_flush(krl)) != 0)
		goto out;

	/* As OpenSSH: signers this KRL revokes do not count. */
	if (krl->nsigners > 0) {
		for (i = o = 0; i < krl->nsigners; i++) {
			e = krl_check_key(krl, krl->signers[i]);
			if (e == TRASA_ERR_REVOKED) {
				sshkey_free(krl->signers[i]);
				continue;
			}
			if (e != 0)
				goto out;
			krl->signers[o++] = krl->signers[i];
		}
		krl->nsigners = o;
		if (o == 0) {
			e = TRASA_ERR_REVOKED;
			goto out;
		}
	}
	*out = krl;
	krl = NULL;
	e = 0;
out:
	krl_free(krl);
	tbuf_free(b);
	return e;
}

/* ------------------------------------------------------------------ */
/* Checking. */

static int
cert_revoked(const struct krl_ca *rc, const struct sshkey *cert)
{
	const char *id = sshcert_key_id(cert);
	uint64_t serial;

	if (id == NULL)
		id = "";
	if (blobs_contain(&rc->key_ids, (const uint8_t *)id, strlen(id)))
		return TRASA_ERR_REVOKED;
	/* Serial 0 is the default when the CA sets none: never revoked. */
	if ((serial = sshcert_serial(cert)) == 0)
		return 0;
	if (serials_contain(&rc->serials, serial))
		return TRASA_ERR_REVOKED;
	return 0;
}

/* As OpenSSH's is_key_revoked(): the key itself, not its CA. */
static int
key_revoked(const struct krl *krl, const struct sshkey *key)
{
	uint8_t h1[SHA1_LEN], h256[SHA256_LEN];
	const struct krl_ca *rc;
	struct tbuf *b = NULL;
	int e;

	if (sshkey_is_cert(key) && sshcert_signature_key(key) == NULL)
		return TRASA_ERR_INVALID_ARG; /* not signed yet */

	if (krl->sha1s.n + krl->sha1s.npend > 0) {
		if ((e = sshkey_hash_sha1(key, h1)) != 0)
			return e;
		if (blobs_contain(&krl->sha1s, h1, sizeof(h1)))
			return TRASA_ERR_REVOKED;
	}
	if (krl->sha256s.n + krl->sha256s.npend > 0) {
		if ((e = sshkey_hash_sha256(key, h256)) != 0)
			return e;
		if (blobs_contain(&krl->sha256s, h256, sizeof(h256)))
			return TRASA_ERR_REVOKED;
	}
	if ((b = tbuf_new()) == NULL)
		return TRASA_ERR_ALLOC;
	if (krl->keys.n + krl->keys.npend > 0) {
		if ((e = sshkey_plain_to_blob(key, b)) != 0)
			goto out;
		if (blobs_contain(&krl->keys, tbuf_ptr(b), tbuf_len(b))) {
			e = TRASA_ERR_REVOKED;
			goto out;
		}
	}
	e = 0;
	if (!sshkey_is_cert(key) || krl->ncas == 0)
		goto out;
	/* The certificate's own CA, then the wildcard one. */
	tbuf_reset(b);
	if ((e = sshkey_to_blob(sshcert_signature_key(key), b)) != 0)
		goto out;
	if ((rc = ca_find(krl, tbuf_ptr(b), tbuf_len(b))) != NULL &&
	    (e = cert_revoked(rc, key)) != 0)
		goto out;
	if ((rc = ca_find(krl, NULL, 0)) != NULL &&
	    (e = cert_revoked(rc, key)) != 0)
		goto out;
	e = 0;
out:
	tbuf_free(b);
	return e;
}

int
krl_check_key(const struct krl *krl, const struct sshkey *key)
{
	int e;

	if ((e = key_revoked(krl, key)) != 0)
		return e;
	if (sshkey_is_cert(key))
		return key_revoked(krl, sshcert_signature_key(key));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Writing, section for section as OpenSSH's ssh_krl_to_blob(). */

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * OpenSSH's choice of the next serial subsection: the estimated size in
 * bytes of a list, a range, the current bitmap grown or a new bitmap, for
 * a run of contig serials after last_gap since the previous run and before
 * next_gap to the next one. The cheapest wins; ties go to the bitmap, then
 * range, then list, as in OpenSSH, so that both write the same bytes.
 */
static int
serial_choose(int cur, uint64_t contig, int final, uint64_t last_gap,
    uint64_t next_gap, int *restart)
{
	const uint64_t lim = 1ull << 31;
	const uint64_t sect = 8 + 64; /* type byte and a u64 */
	uint64_t c_list, c_range, c_bitmap, c_new, best, tail;
	int pick;

	contig = min_u64(contig, lim);
	last_gap = min_u64(last_gap, lim);
	next_gap = min_u64(next_gap, lim);
	tail = final ? 0 : min_u64(next_gap, sect);

	c_list = (cur == KRL_SECTION_CERT_SERIAL_LIST ? 0 : 8) +
	    64 * contig + (final ? 0 : sect);
	c_range = 8 + 2 * 64 + (final ? 0 : sect);
	c_bitmap = (cur == KRL_SECTION_CERT_SERIAL_BITMAP ? 0 : sect) +
	    last_gap + contig + tail;
	c_new = sect + contig + tail;

	c_list = (c_list + 7) / 8;
	c_range = (c_range + 7) / 8;
	c_bitmap = (c_bitmap + 7) / 8;
	c_new = (c_new + 7) / 8;

	*restart = 0;
	pick = KRL_SECTION_CERT_SERIAL_BITMAP;
	best = c_bitmap;
	if (c_range < best) {
		pick = KRL_SECTION_CERT_SERIAL_RANGE;
		best = c_range;
	}
	if (c_list < best) {
		pick = KRL_SECTION_CERT_SERIAL_LIST;
		best = c_list;
	}
	if (c_new < best) {
		pick = KRL_SECTION_CERT_SERIAL_BITMAP;
		*restart = 1;
	}
	return pick;
}

/* A bitmap being built: bit i at bits[i / 8] bit i % 8. */
struct bitmap_w {
	uint8_t bits[KRL_MAX_BITMAP_BYTES];
	uint64_t start;
	uint64_t nbits;
};

static int
bitmap_flush(struct bitmap_w *bm, struct tbuf *sub)
{
	uint8_t be[KRL_MAX_BITMAP_BYTES];
	size_t n = (size_t)((bm->nbits + 7) / 8), i;

	for (i = 0; i < n; i++)
		be[i] = bm->bits[n - 1 - i];
	return tbuf_put_mpint(sub, be, n);
}

static int
put_subsection(struct tbuf *b, int type, struct tbuf *sub)
{
	int e;

	if ((e = tbuf_put_u8(b, (uint8_t)type)) != 0 ||
	    (e = tbuf_put_stringb(b, sub)) != 0)
		return e;
	tbuf_reset(sub);
	return 0;
}

static int
write_serials(const struct krl_serials *all, struct tbuf *b)
{
	struct krl_serials tmp;
	const struct krl_serials *s;
	struct bitmap_w *bm = NULL;
	struct tbuf *sub = NULL;
	const struct krl_range *r;
	uint64_t contig, gap, last = 0, x;
	size_t i;
	int state = 0, next, restart, final, e;

	if ((e = serials_view(all, &tmp, &s)) != 0)
		return e;
	if ((sub = tbuf_new()) == NULL ||
	    (bm = calloc(1, sizeof(*bm))) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < s->n; i++) {
		r = &s->v[i];
		final = i + 1 == s->n;
		gap = final ? 0 : s->v[i + 1].lo - r->hi;
		contig = r->hi - r->lo + 1; /* lo >= 1: no overflow */
		next = serial_choose(state, contig, final,
		    state == 0 ? 0 : r->lo - last, gap, &restart);
		/*
		 * OpenSSH cannot read back a bitmap over 2048 bytes: start a
		 * new one before that (OpenSSH's writer would not).
		 */
		if (next == KRL_SECTION_CERT_SERIAL_BITMAP &&
		    contig > KRL_MAX_BITMAP_BITS)
			next = KRL_SECTION_CERT_SERIAL_RANGE;
		if (next == KRL_SECTION_CERT_SERIAL_BITMAP && !restart &&
		    state == KRL_SECTION_CERT_SERIAL_BITMAP &&
		    r->hi - bm->start >= KRL_MAX_BITMAP_BITS)
			restart = 1;

		/* Close the open subsection when it ends here. */
		if (state != 0 && (restart || next != state ||
		    state == KRL_SECTION_CERT_SERIAL_RANGE)) {
			if (state == KRL_SECTION_CERT_SERIAL_BITMAP &&
			    (e = bitmap_flush(bm, sub)) != 0)
				goto out;
			if ((e = put_subsection(b, state, sub)) != 0)
				goto out;
		}
		if (next != state || restart) {
			state = next;
			tbuf_reset(sub);
			if (state == KRL_SECTION_CERT_SERIAL_BITMAP) {
				memset(bm->bits, 0, sizeof(bm->bits));
				bm->start = r->lo;
				bm->nbits = 0;
				if ((e = tbuf_put_u64(sub, r->lo)) != 0)
					goto out;
			}
		}
		switch (state) {
		case KRL_SECTION_CERT_SERIAL_LIST:
			for (x = r->lo;; x++) {
				if ((e = tbuf_put_u64(sub, x)) != 0)
					goto out;
				if (x == r->hi)
					break;
			}
			break;
		case KRL_SECTION_CERT_SERIAL_RANGE:
			if ((e = tbuf_put_u64(sub, r->lo)) != 0 ||
			    (e = tbuf_put_u64(sub, r->hi)) != 0)
				goto out;
			break;
		case KRL_SECTION_CERT_SERIAL_BITMAP:
			for (x = r->lo - bm->start; x <= r->hi - bm->start; x++)
				bm->bits[x / 8] |= (uint8_t)(1u << (x % 8));
			bm->nbits = r->hi - bm->start + 1;
			break;
		}
		last = r->hi;
	}
	if (state != 0) {
		if (state == KRL_SECTION_CERT_SERIAL_BITMAP &&
		    (e = bitmap_flush(bm, sub)) != 0)
			goto out;
		e = put_subsection(b, state, sub);
	}
out:
	free(bm);
	tbuf_free(sub);
	serials_clear(&tmp);
	return e;
}

/* A section (or subsection) of type listing the strings of all, if any. */
static int
write_blobs(const struct krl_blobs *all, int type, struct tbuf *b)
{
	struct krl_blobs tmp;
	const struct krl_blobs *s;
	struct tbuf *sect = NULL;
	size_t i;
	int e;

	if ((e = blobs_view(all, &tmp, &s)) != 0)
		return e;
	if (s->n == 0)
		goto out;
	if ((sect = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < s->n && e == 0; i++)
		e = tbuf_put_string(sect, s->v[i].p, s->v[i].len);
	if (e == 0)
		e = put_subsection(b, type, sect);
out:
	tbuf_free(sect);
	blobs_view_free(&tmp);
	return e;
}

static int
write_ca(const struct krl_ca *ca, struct tbuf *b)
{
	int e;

	if ((e = tbuf_put_string(b, ca->blob, ca->bloblen)) != 0 ||
	    (e = tbuf_put_string(b, NULL, 0)) != 0 ||
	    (e = write_serials(&ca->serials, b)) != 0)
		return e;
	return write_blobs(&ca->key_ids, KRL_SECTION_CERT_KEY_ID, b);
}

int
krl_write(const struct krl *krl, const struct sshkey *sign_key,
    struct tbuf *out)
{
	struct tbuf *b = NULL, *sect = NULL, *sig = NULL;
	uint64_t date = krl->date;
	size_t i;
	int e;

	/* Appending is all or nothing: build aside, then copy. */
	if ((b = tbuf_new()) == NULL || (sect = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if (date == 0)
		date = (uint64_t)time(NULL);
	if ((e = tbuf_put(b, KRL_MAGIC, KRL_MAGIC_LEN)) != 0 ||
	    (e = tbuf_put_u32(b, KRL_FORMAT_VERSION)) != 0 ||
	    (e = tbuf_put_u64(b, krl->version)) != 0 ||
	    (e = tbuf_put_u64(b, date)) != 0 ||
	    (e = tbuf_put_u64(b, krl->flags)) != 0 ||
	    (e = tbuf_put_string(b, NULL, 0)) != 0 ||
	    (e = tbuf_put_cstring(b, krl_comment(krl))) != 0)
		goto out;
	for (i = 0; i < krl->ncas; i++) {
		tbuf_reset(sect);
		if ((e = write_ca(krl->cas[i], sect)) != 0 ||
		    (e = put_subsection(b, KRL_SECTION_CERTIFICATES,
		    sect)) != 0)
			goto out;
	}
	if ((e = write_blobs(&krl->keys, KRL_SECTION_EXPLICIT_KEY, b)) != 0 ||
	    (e = write_blobs(&krl->sha1s, KRL_SECTION_FINGERPRINT_SHA1,
	    b)) != 0 ||
	    (e = write_blobs(&krl->sha256s, KRL_SECTION_FINGERPRINT_SHA256,
	    b)) != 0)
		goto out;
	if (sign_key != NULL) {
		/* The signature covers everything up to its own key. */
		tbuf_reset(sect);
		if ((sig = tbuf_new()) == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		if ((e = sshkey_to_blob(sign_key, sect)) != 0 ||
		    (e = tbuf_put_u8(b, KRL_SECTION_SIGNATURE)) != 0 ||
		    (e = tbuf_put_stringb(b, sect)) != 0 ||
		    (e = sshkey_sign(sign_key, NULL, tbuf_ptr(b), tbuf_len(b),
		    sig)) != 0 ||
		    (e = tbuf_put_stringb(b, sig)) != 0)
			goto out;
	}
	if (tbuf_len(b) > KRL_MAX_SIZE) {
		e = TRASA_ERR_TOO_LONG;
		goto out;
	}
	e = tbuf_put(out, tbuf_ptr(b), tbuf_len(b));
out:
	tbuf_free(sig);
	tbuf_free(sect);
	tbuf_free(b);
	return e;
}

/* ------------------------------------------------------------------ */
/* Listing, as `ssh-keygen -Q -l` (OpenSSH's krl_dump()). */

/* Text with what is not printable ASCII as \ooo, as ssh-keygen in C. */
static void
print_safe(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\%03o", p[i]);
	}
}

static void
print_hex(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
}

/*
 * An explicit key we cannot parse but OpenSSH can (DSA, security keys,
 * short RSA): its name and the SHA256 fingerprint of the blob as it is.
 */
static int
print_foreign_key(FILE *f, const struct krl_blob *kb)
{
	static const char *const names[] = {
		"ssh-dss", "ssh-rsa", "sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	uint8_t h[SHA256_LEN];
	unsigned int hlen = 0;
	char b64[64];
	struct tbuf *b;
	const uint8_t *name;
	size_t namelen, i, n;
	int e;

	if ((b = tbuf_from(kb->p, kb->len)) == NULL)
		return TRASA_ERR_ALLOC;
	e = tbuf_get_string_direct(b, &name, &namelen, 64);
	tbuf_free(b);
	if (e != 0)
		return TRASA_ERR_FORMAT;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == namelen &&
		    memcmp(names[i], name, namelen) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return TRASA_ERR_FORMAT;
	if (EVP_Digest(kb->p, kb->len, h, &hlen, EVP_sha256(), NULL) != 1 ||
	    hlen != sizeof(h))
		return TRASA_ERR_CRYPTO;
	n = (size_t)EVP_EncodeBlock((unsigned char *)b64, h, sizeof(h));
	while (n > 0 && b64[n - 1] == '=')
		n--;
	fprintf(f, "hash: SHA256:%.*s # %s\n", (int)n, b64, names[i]);
	return 0;
}

/* The explicit keys, as "hash: SHA256:... # TYPE". */
static int
print_keys(FILE *f, const struct krl_blobs *all)
{
	struct krl_blobs tmp;
	const struct krl_blobs *s;
	struct sshkey *key;
	char *fp;
	size_t i;
	int e, ret = 0;

	if ((e = blobs_view(all, &tmp, &s)) != 0)
		return e;
	for (i = 0; i < s->n; i++) {
		key = NULL;
		fp = NULL;
		if ((e = sshkey_from_blob(s->v[i].p, s->v[i].len, &key)) != 0 ||
		    (e = sshkey_fingerprint(key, &fp)) != 0) {
			/* OpenSSH skips what it cannot parse. */
			if (print_foreign_key(f, &s->v[i]) != 0)
				ret = e;
		} else
			fprintf(f, "hash: %s # %s\n", fp, sshkey_ssh_name(key));
		free(fp);
		sshkey_free(key);
	}
	blobs_view_free(&tmp);
	return ret;
}

/* Each string of all in hex after prefix. */
static int
print_hashes(FILE *f, const struct krl_blobs *all, const char *prefix)
{
	struct krl_blobs tmp;
	const struct krl_blobs *s;
	size_t i;
	int e;

	if ((e = blobs_view(all, &tmp, &s)) != 0)
		return e;
	for (i = 0; i < s->n; i++) {
		fputs(prefix, f);
		print_hex(f, s->v[i].p, s->v[i].len);
		fputc('\n', f);
	}
	blobs_view_free(&tmp);
	return 0;
}

/* One CA's revocations: serials, then key IDs. */
static int
print_ca(FILE *f, const struct krl_ca *ca)
{
	struct krl_serials stmp;
	struct krl_blobs btmp;
	const struct krl_serials *s;
	const struct krl_blobs *ids;
	const struct krl_range *r;
	char *fp;
	size_t i;
	int e;

	fputc('\n', f);
	if (ca->key == NULL)
		fputs("# Wildcard CA\n", f);
	else {
		if ((e = sshkey_fingerprint(ca->key, &fp)) != 0)
			return e;
		fprintf(f, "# CA key %s %s\n", sshkey_ssh_name(ca->key), fp);
		free(fp);
	}
	if ((e = serials_view(&ca->serials, &stmp, &s)) != 0)
		return e;
	for (i = 0; i < s->n; i++) {
		r = &s->v[i];
		if (r->lo == r->hi)
			fprintf(f, "serial: %llu\n", (unsigned long long)r->lo);
		else
			fprintf(f, "serial: %llu-%llu\n",
			    (unsigned long long)r->lo,
			    (unsigned long long)r->hi);
	}
	serials_clear(&stmp);
	if ((e = blobs_view(&ca->key_ids, &btmp, &ids)) != 0)
		return e;
	for (i = 0; i < ids->n; i++) {
		/* Key IDs hold no NUL: they are read as C strings. */
		fputs("id: ", f);
		print_safe(f, ids->v[i].p, ids->v[i].len);
		fputc('\n', f);
	}
	blobs_view_free(&btmp);
	return 0;
}

int
krl_print(const struct krl *krl, FILE *f)
{
	char ts[64];
	struct tm tm;
	time_t t;
	size_t i;
	int e, ret = 0;

	t = (time_t)krl->date;
	if ((uint64_t)t != krl->date || localtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm) == 0)
		strcpy(ts, "<INVALID>");
	fprintf(f, "# KRL version %llu\n", (unsigned long long)krl->version);
	fprintf(f, "# Generated at %s\n", ts);
	if (krl->comment != NULL && *krl->comment != '\0') {
		fputs("# Comment: ", f);
		print_safe(f, (const uint8_t *)krl->comment,
		    strlen(krl->comment));
		fputc('\n', f);
	}
	fputc('\n', f);
	/* As OpenSSH: keys, SHA256, SHA1, then the CAs; go on after errors. */
	if ((e = print_keys(f, &krl->keys)) != 0)
		ret = e;
	if ((e = print_hashes(f, &krl->sha256s, "hash: SHA256:")) != 0)
		ret = e;
	if ((e = print_hashes(f, &krl->sha1s, "# hash SHA1:")) != 0)
		ret = e;
	for (i = 0; i < krl->ncas; i++)
		if ((e = print_ca(f, krl->cas[i])) != 0)
			ret = e;
	if (ferror(f))
		return TRASA_ERR_IO;
	return ret;
}

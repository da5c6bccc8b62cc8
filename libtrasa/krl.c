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

/* A byte string, NUL-terminated for printing key IDs. */
struct krl_blob {
	uint8_t *p;
	size_t len;
};

/* What a byte string is looked up by. */
struct krl_blob_key {
	const uint8_t *p;
	size_t len;
};

/*
 * Entries of one kind (struct krl_set_ops): sorted and merged in v, plus
 * entries added since in pend (any order), merged into v when pend is due
 * (pend_full()). Serials are kept as merged ranges, byte strings distinct.
 */
struct krl_set {
	void *v;
	size_t n;
	void *pend;
	size_t npend, palloc;
};

struct krl_set_ops {
	size_t size;            /* of one entry */
	size_t max;             /* entries one set may hold */
	/* The sorted order, for qsort(). */
	int (*cmp)(const void *a, const void *b);
	/* Entry a against a key: < 0 below it, 0 holding it, > 0 above. */
	int (*find)(const void *a, const void *key);
	/* Fold b (not below a) into a when they make one entry: 1 if so. */
	int (*fold)(void *a, const void *b);
	/* Free what entry a owns; NULL when entries own nothing. */
	void (*drop)(void *a);
};

/* The revocations that apply to one CA's certificates. */
struct krl_ca {
	struct sshkey *key;     /* NULL: any CA */
	uint8_t *blob;          /* key's wire blob, what entries are found by */
	size_t bloblen;
	struct krl_set serials; /* of struct krl_range (serial_ops) */
	struct krl_set key_ids; /* of struct krl_blob (blob_ops) */
};

struct krl {
	uint64_t version;
	uint64_t date;
	uint64_t flags;
	char *comment;
	struct krl_ca **cas;    /* in order of first revocation, as OpenSSH */
	size_t ncas;
	struct krl_set keys;    /* these three of struct krl_blob (blob_ops) */
	struct krl_set sha1s;
	struct krl_set sha256s;
	struct sshkey **signers;
	size_t nsigners;
};

/* ------------------------------------------------------------------ */
/* Sets: a sorted array and a pending list. */

#define SET_AT(p, ops, i) ((uint8_t *)(p) + (i) * (ops)->size)

/* Whether pending entries are due to be merged into the sorted array. */
static int
pend_full(size_t n, size_t npend)
{
	return npend >= KRL_PEND_MIN && npend >= n / KRL_PEND_RATIO;
}

/*
 * How many of the first n entries of s->v are not above x: galloping
 * down from the end, then bisecting, so merging a few entries into many
 * costs few comparisons.
 */
static size_t
set_count_upto(const struct krl_set *s, const struct krl_set_ops *ops,
    size_t n, const void *x)
{
	size_t lo, hi = n, step = 1, mid;

	/* s->v[hi..n) are above x. */
	for (;;) {
		if (hi == 0)
			return 0;
		lo = hi > step ? hi - step : 0;
		if (ops->cmp(SET_AT(s->v, ops, lo), x) <= 0)
			break;
		hi = lo;
		step *= 2;
	}
	/* s->v[lo] is not above x: the count is in (lo, hi]. */
	lo++;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ops->cmp(SET_AT(s->v, ops, mid), x) > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Merge the pending entries into the sorted array, folding those that
 * make one entry (and dropping the folded when owned; a view's copy
 * shares what its entries point to).
 */
static int
set_flush(struct krl_set *s, const struct krl_set_ops *ops, int owned)
{
	void *nv;
	size_t sz = ops->size, i, j, k, m, o;

	if (s->npend == 0)
		return 0;
	qsort(s->pend, s->npend, sz, ops->cmp);
	if ((nv = realloc(s->v, (s->n + s->npend) * sz)) == NULL)
		return TRASA_ERR_ALLOC;
	s->v = nv;
	/*
	 * Both sorted: merge from the back, in place, each pending entry
	 * above the sorted ones equal to it.
	 */
	i = s->n;
	j = s->npend;
	k = s->n + s->npend;
	while (j > 0) {
		m = set_count_upto(s, ops, i, SET_AT(s->pend, ops, j - 1));
		k -= i - m;
		memmove(SET_AT(s->v, ops, k), SET_AT(s->v, ops, m),
		    (i - m) * sz);
		i = m;
		memcpy(SET_AT(s->v, ops, --k), SET_AT(s->pend, ops, --j), sz);
	}
	s->n += s->npend;
	s->npend = 0;
	/* v[0..i) is as the last flush left it: folded already. */
	for (o = i > 0 ? i - 1 : 0, i = o + 1; i < s->n; i++) {
		if (ops->fold(SET_AT(s->v, ops, o), SET_AT(s->v, ops, i))) {
			if (owned && ops->drop != NULL)
				ops->drop(SET_AT(s->v, ops, i));
		} else if (++o != i)
			memcpy(SET_AT(s->v, ops, o), SET_AT(s->v, ops, i), sz);
	}
	s->n = o + 1;
	return 0;
}

/* Add entry x, taking what it owns (dropped on failure). */
static int
set_add(struct krl_set *s, const struct krl_set_ops *ops, void *x)
{
	void *np;
	size_t na;
	int e = 0;

	if (s->n + s->npend >= ops->max &&
	    ((e = set_flush(s, ops, 1)) != 0 || s->n >= ops->max)) {
		if (e == 0)
			e = TRASA_ERR_TOO_MANY;
		goto out;
	}
	if (s->npend == s->palloc) {
		na = s->palloc == 0 ? 16 : s->palloc * 2;
		if ((np = realloc(s->pend, na * ops->size)) == NULL) {
			e = TRASA_ERR_ALLOC;
			goto out;
		}
		s->pend = np;
		s->palloc = na;
	}
	memcpy(SET_AT(s->pend, ops, s->npend), x, ops->size);
	s->npend++;
	if (pend_full(s->n, s->npend))
		return set_flush(s, ops, 1);
	return 0;
out:
	if (ops->drop != NULL)
		ops->drop(x);
	return e;
}

static int
set_contains(const struct krl_set *s, const struct krl_set_ops *ops,
    const void *key)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = ops->find(SET_AT(s->v, ops, mid), key)) == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (mid = 0; mid < s->npend; mid++)
		if (ops->find(SET_AT(s->pend, ops, mid), key) == 0)
			return 1;
	return 0;
}

/* Free s; ops NULL for a view's copy, whose entries own nothing. */
static void
set_clear(struct krl_set *s, const struct krl_set_ops *ops)
{
	size_t i;

	if (ops != NULL && ops->drop != NULL) {
		for (i = 0; i < s->n; i++)
			ops->drop(SET_AT(s->v, ops, i));
		for (i = 0; i < s->npend; i++)
			ops->drop(SET_AT(s->pend, ops, i));
	}
	free(s->v);
	free(s->pend);
	memset(s, 0, sizeof(*s));
}

/*
 * All of s sorted and merged, for reading through a const KRL: s itself
 * when nothing is pending, else a merged copy in tmp, sharing what the
 * entries point to (set_clear(tmp, NULL) it).
 */
static int
set_view(const struct krl_set *s, const struct krl_set_ops *ops,
    struct krl_set *tmp, const struct krl_set **out)
{
	int e;

	memset(tmp, 0, sizeof(*tmp));
	if (s->npend == 0) {
		*out = s;
		return 0;
	}
	if ((tmp->v = malloc(s->n * ops->size + 1)) == NULL ||
	    (tmp->pend = malloc(s->npend * ops->size)) == NULL) {
		set_clear(tmp, NULL);
		return TRASA_ERR_ALLOC;
	}
	if (s->n > 0)
		memcpy(tmp->v, s->v, s->n * ops->size);
	memcpy(tmp->pend, s->pend, s->npend * ops->size);
	tmp->n = s->n;
	tmp->npend = tmp->palloc = s->npend;
	if ((e = set_flush(tmp, ops, 0)) != 0) {
		set_clear(tmp, NULL);
		return e;
	}
	*out = tmp;
	return 0;
}

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

/* Merged ranges are disjoint: one holds x or lies wholly on one side. */
static int
range_find(const void *a, const void *key)
{
	const struct krl_range *r = a;
	uint64_t x = *(const uint64_t *)key;

	if (r->hi < x)
		return -1;
	return r->lo > x ? 1 : 0;
}

/* Range b (b->lo >= a->lo) joins a when it starts inside or right after. */
static int
range_fold(void *a, const void *b)
{
	struct krl_range *x = a;
	const struct krl_range *y = b;

	if (x->hi != UINT64_MAX && y->lo > x->hi + 1)
		return 0;
	if (y->hi > x->hi)
		x->hi = y->hi;
	return 1;
}

static const struct krl_set_ops serial_ops = {
	sizeof(struct krl_range), KRL_MAX_RANGES,
	range_cmp, range_find, range_fold, NULL /* own nothing */
};

static int
serials_add(struct krl_set *s, uint64_t lo, uint64_t hi)
{
	struct krl_range r = { lo, hi };

	return set_add(s, &serial_ops, &r);
}

/* ------------------------------------------------------------------ */
/* Byte strings: key IDs, key blobs, hashes, in OpenSSH's order. */

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

static int
blob_find(const void *a, const void *key)
{
	const struct krl_blob *x = a;
	const struct krl_blob_key *k = key;

	return blob_cmp(x->p, x->len, k->p, k->len);
}

/* Equal strings are one entry. */
static int
blob_fold(void *a, const void *b)
{
	return blob_qcmp(a, b) == 0;
}

static void
blob_drop(void *a)
{
	free(((struct krl_blob *)a)->p);
}

static const struct krl_set_ops blob_ops = {
	sizeof(struct krl_blob), KRL_MAX_ENTRIES,
	blob_qcmp, blob_find, blob_fold, blob_drop
};

/* Add a copy of p (NUL-terminated, for printing key IDs). */
static int
blobs_add(struct krl_set *s, const uint8_t *p, size_t len)
{
	struct krl_blob b;

	if ((b.p = malloc(len + 1)) == NULL)
		return TRASA_ERR_ALLOC;
	if (len > 0)
		memcpy(b.p, p, len);
	b.p[len] = '\0';
	b.len = len;
	return set_add(s, &blob_ops, &b);
}

static int
blobs_contain(const struct krl_set *s, const uint8_t *p, size_t len)
{
	struct krl_blob_key k = { p, len };

	return set_contains(s, &blob_ops, &k);
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
	set_clear(&ca->serials, &serial_ops);
	set_clear(&ca->key_ids, &blob_ops);
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
	set_clear(&krl->keys, &blob_ops);
	set_clear(&krl->sha1s, &blob_ops);
	set_clear(&krl->sha256s, &blob_ops);
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
		if ((e = set_flush(&krl->cas[i]->serials, &serial_ops, 1)) != 0 ||
		    (e = set_flush(&krl->cas[i]->key_ids, &blob_ops, 1)) != 0)
			return e;
	}
	if ((e = set_flush(&krl->keys, &blob_ops, 1)) != 0 ||
	    (e = set_flush(&krl->sha1s, &blob_ops, 1)) != 0)
		return e;
	return set_flush(&krl->sha256s, &blob_ops, 1);
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
parse_blobs(struct tbuf *b, struct krl_set *s, size_t hashlen)
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
	if (set_contains(&rc->serials, &serial_ops, &serial))
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
write_serials(const struct krl_set *all, struct tbuf *b)
{
	struct krl_set tmp;
	const struct krl_set *s;
	struct bitmap_w *bm = NULL;
	struct tbuf *sub = NULL;
	const struct krl_range *v, *r;
	uint64_t contig, gap, last = 0, x;
	size_t i;
	int state = 0, next, restart, final, e;

	if ((e = set_view(all, &serial_ops, &tmp, &s)) != 0)
		return e;
	v = s->v;
	if ((sub = tbuf_new()) == NULL ||
	    (bm = calloc(1, sizeof(*bm))) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < s->n; i++) {
		r = &v[i];
		final = i + 1 == s->n;
		gap = final ? 0 : v[i + 1].lo - r->hi;
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
	set_clear(&tmp, NULL);
	return e;
}

/* A section (or subsection) of type listing the strings of all, if any. */
static int
write_blobs(const struct krl_set *all, int type, struct tbuf *b)
{
	struct krl_set tmp;
	const struct krl_set *s;
	const struct krl_blob *v;
	struct tbuf *sect = NULL;
	size_t i;
	int e;

	if ((e = set_view(all, &blob_ops, &tmp, &s)) != 0)
		return e;
	v = s->v;
	if (s->n == 0)
		goto out;
	if ((sect = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < s->n && e == 0; i++)
		e = tbuf_put_string(sect, v[i].p, v[i].len);
	if (e == 0)
		e = put_subsection(b, type, sect);
out:
	tbuf_free(sect);
	set_clear(&tmp, NULL);
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
print_keys(FILE *f, const struct krl_set *all)
{
	struct krl_set tmp;
	const struct krl_set *s;
	const struct krl_blob *v;
	struct sshkey *key;
	char *fp;
	size_t i;
	int e, ret = 0;

	if ((e = set_view(all, &blob_ops, &tmp, &s)) != 0)
		return e;
	v = s->v;
	for (i = 0; i < s->n; i++) {
		key = NULL;
		fp = NULL;
		if ((e = sshkey_from_blob(v[i].p, v[i].len, &key)) != 0 ||
		    (e = sshkey_fingerprint(key, &fp)) != 0) {
			/* OpenSSH skips what it cannot parse. */
			if (print_foreign_key(f, &v[i]) != 0)
				ret = e;
		} else
			fprintf(f, "hash: %s # %s\n", fp, sshkey_ssh_name(key));
		free(fp);
		sshkey_free(key);
	}
	set_clear(&tmp, NULL);
	return ret;
}

/* Each string of all in hex after prefix. */
static int
print_hashes(FILE *f, const struct krl_set *all, const char *prefix)
{
	struct krl_set tmp;
	const struct krl_set *s;
	const struct krl_blob *v;
	size_t i;
	int e;

	if ((e = set_view(all, &blob_ops, &tmp, &s)) != 0)
		return e;
	v = s->v;
	for (i = 0; i < s->n; i++) {
		fputs(prefix, f);
		print_hex(f, v[i].p, v[i].len);
		fputc('\n', f);
	}
	set_clear(&tmp, NULL);
	return 0;
}

/* One CA's revocations: serials, then key IDs. */
static int
print_ca(FILE *f, const struct krl_ca *ca)
{
	struct krl_set stmp, btmp;
	const struct krl_set *s, *ids;
	const struct krl_range *r;
	const struct krl_blob *id;
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
	if ((e = set_view(&ca->serials, &serial_ops, &stmp, &s)) != 0)
		return e;
	for (i = 0; i < s->n; i++) {
		r = (const struct krl_range *)s->v + i;
		if (r->lo == r->hi)
			fprintf(f, "serial: %llu\n", (unsigned long long)r->lo);
		else
			fprintf(f, "serial: %llu-%llu\n",
			    (unsigned long long)r->lo,
			    (unsigned long long)r->hi);
	}
	set_clear(&stmp, NULL);
	if ((e = set_view(&ca->key_ids, &blob_ops, &btmp, &ids)) != 0)
		return e;
	for (i = 0; i < ids->n; i++) {
		/* Key IDs hold no NUL: they are read as C strings. */
		fputs("id: ", f);
		id = (const struct krl_blob *)ids->v + i;
		print_safe(f, id->p, id->len);
		fputc('\n', f);
	}
	set_clear(&btmp, NULL);
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

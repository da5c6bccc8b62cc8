/*
 * api.c: the HTTPS API's handlers (doc/PROTOCOL.md section 3), independent
 * of the HTTP server: serve.c hands each complete request over as a
 * struct gw_req and sends back the struct gw_resp filled here.
 *
 * Shared state: the CA keys, as a refcounted snapshot swapped under a
 * rwlock when the files under STATE/ca change (checked at most once a
 * second), and the last KRL built (per KRL generation and CA snapshot).
 * Per serving thread: one database connection and one JSON tokener,
 * made on first use and released by gw_api_thread_end().
 *
 * Every decision is audited, except the unauthenticated GETs and the
 * directory reads of a host (the hot path of every host's cache refresh:
 * refusals there are audited, reads are not).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api.h"
#include "cli.h"
#include "db.h"
#include "err.h"
#include "gateway.h"
#include "issue.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define JSON_DEPTH 10
#define MAX_NAME 253		  /* user and host names, bytes */
#define MAX_PUBKEY (16u * 1024)	  /* public_key, bytes */
#define MAX_SECRET 256		  /* token, credential, challenge */
#define MAX_SIGNATURE (8u * 1024) /* base64 signature, bytes */
#define MAX_PATTERN 255		  /* known_hosts pattern, bytes */
#define MAX_FIELD_SHOWN 64	  /* of an unknown field's name */
#define CHALLENGE_TTL 60	  /* seconds */
#define TOTP_STEP 30
#define TOTP_WINDOW 1
#define RENEW_CONTEXT "trasa-host-renew-v1"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_OCTET "application/octet-stream"
#define CT_ZIP "application/zip"

enum {
	CA_USER = 0,
	CA_HOST = 1
};

static const char *const ca_comment[2] = { "trasa-user-ca", "trasa-host-ca" };

/* ---------------------------------------------------------------- state */

/* The CA keys at one moment: immutable once published. */
struct ca_set {
	atomic_uint refs;
	uint64_t seq; /* grows with every reload */
	struct sshkey *sign[2];
	struct sshkey **trusted[2];
	size_t ntrusted[2];
	char **lines[2]; /* trusted keys as "TYPE B64 trasa-user-ca" */
	char *text[2];	 /* the lines joined, each ending in '\n' */
	size_t textlen[2];
	const struct sshkey **all; /* user then host trusted keys (KRL) */
	size_t nall;
};

/* What the files under STATE/ca looked like at the last (re)load. */
#define NSTAMP 7
static const char *const stamp_files[NSTAMP] = { NULL, "user_ca", "user_ca.pub",
	"user_ca.prev.pub", "host_ca", "host_ca.pub", "host_ca.prev.pub" };
struct file_stamp {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/*
 * What a thread remembers of its last admin token, user, host credential
 * and the directory's generation, for at most CACHE_SECONDS: a revoked
 * admin token or a disabled user is refused, and a directory change is
 * seen, within that time (the hot path of /v1/certs/user then reads
 * nothing but writes the certificate; a directory 304 reads nothing).
 */
#define CACHE_SECONDS 1

/* One serving thread's resources. */
struct tctx {
	struct gw_api *api;
	struct gw_db *db;
	struct json_tokener *tok;
	struct tctx *prev, *next;

	struct remembered {
		uint8_t hash[32]; /* of the admin token, host credential */
		char name[MAX_NAME + 1];
		uint64_t until; /* 0: nothing remembered */
	} known[2];		/* by enum who */
	char user_name[MAX_NAME + 1];
	int user_disabled;
	uint64_t user_until;
	uint64_t dir_gen; /* the directory's generation */
	uint64_t dir_until;
};

struct gw_api {
	const struct gw *gw;
	char *passphrase;

	pthread_rwlock_t ca_lock; /* guards cas (the pointer) */
	struct ca_set *cas;
	pthread_mutex_t reload_lock;
	struct file_stamp stamp[NSTAMP]; /* under reload_lock */
	uint64_t seq;			 /* under reload_lock */
	atomic_llong last_check;	 /* unix time of the last stat */

	pthread_key_t tkey;
	pthread_mutex_t tlock; /* guards threads */
	struct tctx *threads;

	pthread_mutex_t krl_lock;
	uint8_t *krl;
	size_t krl_len;
	uint64_t krl_gen, krl_seq;
	int have_krl;

	/* The checkpointer: copies the WAL into the database every
	 * CHECKPOINT_MS, so that no request pays for it. */
	pthread_t ckpt;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond;
	int ckpt_stop, have_ckpt;
};

#define CHECKPOINT_MS 500

/* ---------------------------------------------------------------- JSON out */

/* A growing output buffer; err is sticky and checked once at the end. */
struct jb {
	char *p;
	size_t len, cap;
	int err;
};

static void
jb_init(struct jb *jb, size_t cap)
{
	memset(jb, 0, sizeof(*jb));
	if ((jb->p = malloc(cap)) == NULL)
		jb->err = 1;
	else
		jb->cap = cap;
}

static void
jb_free(struct jb *jb)
{
	free(jb->p);
	memset(jb, 0, sizeof(*jb));
}

static int
jb_grow(struct jb *jb, size_t n)
{
	size_t ncap;
	char *np;

	if (jb->err)
		return -1;
	if (n <= jb->cap - jb->len)
		return 0;
	if (n > TBUF_MAX_SIZE || jb->len > TBUF_MAX_SIZE) {
		jb->err = 1;
		return -1;
	}
	ncap = jb->cap < 256 ? 256 : jb->cap;
	while (ncap - jb->len < n)
		ncap *= 2;
	if ((np = realloc(jb->p, ncap)) == NULL) {
		jb->err = 1;
		return -1;
	}
	jb->p = np;
	jb->cap = ncap;
	return 0;
}

static void
jb_raw(struct jb *jb, const char *s, size_t n)
{
	if (jb_grow(jb, n) != 0)
		return;
	memcpy(jb->p + jb->len, s, n);
	jb->len += n;
}

static void
jb_lit(struct jb *jb, const char *s)
{
	jb_raw(jb, s, strlen(s));
}

static void
jb_u64(struct jb *jb, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	jb_raw(jb, num, (size_t)n);
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if none. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD. */
static void
jb_str(struct jb *jb, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t left = strlen((const char *)p), n;
	char esc[8];

	jb_raw(jb, "\"", 1);
	while (left > 0 && !jb->err) {
		/* Runs of plain characters in one copy. */
		for (n = 0; n < left && p[n] >= 0x20 && p[n] < 0x80 &&
		     p[n] != '"' && p[n] != '\\';
		     n++)
			;
		if (n > 0) {
			jb_raw(jb, (const char *)p, n);
			p += n;
			left -= n;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jb_raw(jb, esc, 2);
			n = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jb_raw(jb, esc, 6);
			n = 1;
		} else if ((n = utf8_seq(p, left)) > 0) {
			jb_raw(jb, (const char *)p, n);
		} else {
			jb_lit(jb, "\\ufffd");
			n = 1;
		}
		p += n;
		left -= n;
	}
	jb_raw(jb, "\"", 1);
}

/* "name": (with a leading comma unless first) */
static void
jb_key(struct jb *jb, const char *name, int first)
{
	if (!first)
		jb_raw(jb, ", ", 2);
	jb_str(jb, name);
	jb_raw(jb, ": ", 2);
}

static void
jb_str_array(struct jb *jb, char *const *v, size_t n)
{
	size_t i;

	jb_raw(jb, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			jb_raw(jb, ", ", 2);
		jb_str(jb, v[i]);
	}
	jb_raw(jb, "]", 1);
}

/* ---------------------------------------------------------------- responses */

static void
resp_set(struct gw_resp *resp, unsigned status, const char *ctype,
    uint8_t *body, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = ctype;
	resp->body = body;
	resp->len = len;
}

/* Hand the buffer over as the body (500 when building it failed). */
static void resp_error(struct gw_resp *resp, unsigned status, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
resp_jb(struct gw_resp *resp, unsigned status, struct jb *jb)
{
	if (jb->err) {
		jb_free(jb);
		resp_error(resp, 500, NULL, "internal error: out of memory");
		return;
	}
	resp_set(resp, status, CT_JSON, (uint8_t *)jb->p, jb->len);
	jb->p = NULL;
	jb_free(jb);
}

static void
resp_error(struct gw_resp *resp, unsigned status, const char *field,
    const char *fmt, ...)
{
	static const char oom[] = "{\"error\": \"out of memory\"}";
	char msg[512];
	struct jb jb;
	va_list ap;
	uint8_t *p;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->etag[0] = '\0';
	resp->disposition[0] = '\0';
	jb_init(&jb, 128);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "error", 1);
	jb_str(&jb, msg);
	if (field != NULL) {
		jb_key(&jb, "field", 0);
		jb_str(&jb, field);
	}
	jb_raw(&jb, "}\n", 2);
	if (!jb.err) {
		resp_set(resp, status, CT_JSON, (uint8_t *)jb.p, jb.len);
		return;
	}
	jb_free(&jb);
	/* Last resort: a fixed text, or no body at all. */
	if ((p = malloc(sizeof(oom) - 1)) != NULL)
		memcpy(p, oom, sizeof(oom) - 1);
	resp_set(resp, 500, CT_JSON, p, p != NULL ? sizeof(oom) - 1 : 0);
}

static void
resp_copy(struct gw_resp *resp, unsigned status, const char *ctype,
    const void *data, size_t len)
{
	uint8_t *p;

	if ((p = malloc(len > 0 ? len : 1)) == NULL) {
		resp_error(resp, 500, NULL, "internal error: out of memory");
		return;
	}
	if (len > 0)
		memcpy(p, data, len);
	resp_set(resp, status, ctype, p, len);
}

/* ---------------------------------------------------------------- CA keys */

static void
ca_set_free(struct ca_set *cs)
{
	size_t i, w;

	if (cs == NULL)
		return;
	for (w = 0; w < 2; w++) {
		sshkey_free(cs->sign[w]);
		gw_ca_keys_free(cs->trusted[w], cs->ntrusted[w]);
		if (cs->lines[w] != NULL)
			for (i = 0; i < cs->ntrusted[w]; i++)
				free(cs->lines[w][i]);
		free(cs->lines[w]);
		free(cs->text[w]);
	}
	free(cs->all);
	free(cs);
}

static void
ca_set_release(struct ca_set *cs)
{
	if (cs != NULL && atomic_fetch_sub(&cs->refs, 1) == 1)
		ca_set_free(cs);
}

/* Read both CAs: signing keys, trusted keys, their text. */
static int
ca_set_load(const struct gw *gw, const char *passphrase, struct ca_set **out)
{
	static const enum sshcert_type types[2] = { SSHCERT_USER,
		SSHCERT_HOST };
	struct ca_set *cs;
	size_t w, i, len;
	int ret = TRASA_ERR_IO;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return TRASA_ERR_ALLOC;
	atomic_init(&cs->refs, 1);
	for (w = 0; w < 2; w++) {
		if (gw_ca_load(gw, types[w], passphrase, &cs->sign[w]) != 0 ||
		    gw_ca_trusted(gw, types[w], &cs->trusted[w],
			&cs->ntrusted[w]) != 0)
			goto out; /* printed why */
		if (cs->ntrusted[w] == 0 ||
		    (cs->lines[w] = calloc(cs->ntrusted[w],
			 sizeof(*cs->lines[w]))) == NULL) {
			ret = TRASA_ERR_ALLOC;
			goto out;
		}
		for (i = 0, len = 0; i < cs->ntrusted[w]; i++) {
			if ((ret = sshkey_format_public(cs->trusted[w][i],
				 ca_comment[w], &cs->lines[w][i])) != 0)
				goto out;
			len += strlen(cs->lines[w][i]) + 1;
		}
		if ((cs->text[w] = malloc(len + 1)) == NULL) {
			ret = TRASA_ERR_ALLOC;
			goto out;
		}
		for (i = 0, len = 0; i < cs->ntrusted[w]; i++) {
			size_t n = strlen(cs->lines[w][i]);

			memcpy(cs->text[w] + len, cs->lines[w][i], n);
			cs->text[w][len + n] = '\n';
			len += n + 1;
		}
		cs->text[w][len] = '\0';
		cs->textlen[w] = len;
	}
	cs->nall = cs->ntrusted[0] + cs->ntrusted[1];
	if ((cs->all = calloc(cs->nall, sizeof(*cs->all))) == NULL) {
		ret = TRASA_ERR_ALLOC;
		goto out;
	}
	for (w = 0, len = 0; w < 2; w++)
		for (i = 0; i < cs->ntrusted[w]; i++)
			cs->all[len++] = cs->trusted[w][i];
	*out = cs;
	cs = NULL;
	ret = 0;
out:
	ca_set_free(cs);
	return ret;
}

static void
stamp_take(const struct gw *gw, struct file_stamp st[NSTAMP])
{
	char path[PATH_MAX];
	struct stat sb;
	size_t i;

	memset(st, 0, sizeof(*st) * NSTAMP);
	for (i = 0; i < NSTAMP; i++) {
		if (gw_ca_path(gw, stamp_files[i], path, sizeof(path)) != 0 ||
		    lstat(path, &sb) != 0)
			continue;
		st[i].exists = 1;
		st[i].dev = sb.st_dev;
		st[i].ino = sb.st_ino;
		st[i].size = sb.st_size;
		st[i].mtime = sb.st_mtim;
		st[i].ctime = sb.st_ctim;
	}
}

static int
stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	size_t i;

	for (i = 0; i < NSTAMP; i++) {
		if (a[i].exists != b[i].exists)
			return 0;
		if (!a[i].exists)
			continue;
		if (a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
		    a[i].size != b[i].size ||
		    a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
		    a[i].mtime.tv_nsec != b[i].mtime.tv_nsec ||
		    a[i].ctime.tv_sec != b[i].ctime.tv_sec ||
		    a[i].ctime.tv_nsec != b[i].ctime.tv_nsec)
			return 0;
	}
	return 1;
}

/*
 * At most once a second, look at STATE/ca; when anything changed, load
 * the CAs again and publish them. A load that fails (a rotation caught
 * half-way) keeps the old keys and is retried a second later.
 */
static void
ca_maybe_reload(struct gw_api *api, time_t now)
{
	struct file_stamp st[NSTAMP];
	struct ca_set *cs = NULL, *old;
	long long last = atomic_load(&api->last_check);

	if (last == (long long)now ||
	    !atomic_compare_exchange_strong(&api->last_check, &last,
		(long long)now))
		return;
	if (pthread_mutex_trylock(&api->reload_lock) != 0)
		return;
	stamp_take(api->gw, st);
	if (!stamp_equal(st, api->stamp) &&
	    ca_set_load(api->gw, api->passphrase, &cs) == 0) {
		cs->seq = ++api->seq;
		memcpy(api->stamp, st, sizeof(st));
		pthread_rwlock_wrlock(&api->ca_lock);
		old = api->cas;
		api->cas = cs;
		pthread_rwlock_unlock(&api->ca_lock);
		ca_set_release(old);
	}
	pthread_mutex_unlock(&api->reload_lock);
}

static struct ca_set *
ca_acquire(struct gw_api *api)
{
	struct ca_set *cs;

	pthread_rwlock_rdlock(&api->ca_lock);
	cs = api->cas;
	atomic_fetch_add(&cs->refs, 1);
	pthread_rwlock_unlock(&api->ca_lock);
	return cs;
}

/* ---------------------------------------------------------------- threads */

static void
tctx_free(struct tctx *t)
{
	if (t == NULL)
		return;
	gw_db_close(t->db);
	if (t->tok != NULL)
		json_tokener_free(t->tok);
	free(t);
}

static void
tctx_unlink(struct gw_api *api, struct tctx *t)
{
	pthread_mutex_lock(&api->tlock);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		api->threads = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&api->tlock);
}

/* A thread that ends without gw_api_thread_end() still lets go. */
static void
tctx_destructor(void *p)
{
	struct tctx *t = p;

	tctx_unlink(t->api, t);
	tctx_free(t);
}

static struct tctx *
tctx_get(struct gw_api *api)
{
	struct tctx *t;

	if ((t = pthread_getspecific(api->tkey)) != NULL)
		return t;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->api = api;
	if ((t->tok = json_tokener_new_ex(JSON_DEPTH)) == NULL) {
		free(t);
		return NULL;
	}
	json_tokener_set_flags(t->tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
		JSON_TOKENER_ALLOW_TRAILING_CHARS);
	if (pthread_setspecific(api->tkey, t) != 0) {
		tctx_free(t);
		return NULL;
	}
	pthread_mutex_lock(&api->tlock);
	t->next = api->threads;
	if (t->next != NULL)
		t->next->prev = t;
	api->threads = t;
	pthread_mutex_unlock(&api->tlock);
	return t;
}

void
gw_api_thread_end(struct gw_api *api)
{
	struct tctx *t;

	if (api == NULL || (t = pthread_getspecific(api->tkey)) == NULL)
		return;
	pthread_setspecific(api->tkey, NULL);
	tctx_unlink(api, t);
	tctx_free(t);
}

/* ---------------------------------------------------------------- setup */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ok;

static void
oath_setup(void)
{
	oath_ok = oath_init() == OATH_OK;
}

static void *
checkpointer(void *arg)
{
	struct gw_api *api = arg;
	struct gw_db *db = NULL;
	struct timespec ts;
	int failed = 0;

	pthread_mutex_lock(&api->ckpt_lock);
	while (!api->ckpt_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CHECKPOINT_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&api->ckpt_cond, &api->ckpt_lock, &ts);
		if (api->ckpt_stop)
			break;
		pthread_mutex_unlock(&api->ckpt_lock);
		if (db == NULL &&
		    gw_db_open(api->gw->state_dir, GW_DB_NO_AUTOCHECKPOINT,
			&db) != 0)
			db = NULL; /* retried next time */
		if (db != NULL && gw_db_checkpoint(db) != 0 && !failed) {
			/* Said once: the WAL grows until it works again. */
			cli_error(0, 0, "%s/%s: %s", api->gw->state_dir,
			    GW_DB_FILE, gw_db_errmsg(db));
			failed = 1;
		}
		pthread_mutex_lock(&api->ckpt_lock);
	}
	pthread_mutex_unlock(&api->ckpt_lock);
	if (db != NULL)
		gw_db_checkpoint(db);
	gw_db_close(db);
	return NULL;
}

int
gw_api_new(const struct gw *gw, struct gw_api **out)
{
	struct gw_api *api;
	int e, have_key = 0, have_locks = 0;

	if ((api = calloc(1, sizeof(*api))) == NULL)
		return TRASA_ERR_ALLOC;
	api->gw = gw;
	atomic_init(&api->last_check, (long long)time(NULL));
	if (pthread_rwlock_init(&api->ca_lock, NULL) != 0 ||
	    pthread_mutex_init(&api->reload_lock, NULL) != 0 ||
	    pthread_mutex_init(&api->tlock, NULL) != 0 ||
	    pthread_mutex_init(&api->krl_lock, NULL) != 0) {
		free(api);
		return TRASA_ERR_INTERNAL;
	}
	have_locks = 1;
	if (pthread_key_create(&api->tkey, tctx_destructor) != 0) {
		e = TRASA_ERR_INTERNAL;
		goto fail;
	}
	have_key = 1;
	pthread_once(&oath_once, oath_setup);
	if (!oath_ok) {
		e = TRASA_ERR_CRYPTO;
		goto fail;
	}
	if (gw_ca_passphrase(gw->passphrase_file, &api->passphrase) != 0) {
		e = TRASA_ERR_PASSPHRASE; /* printed why */
		goto fail;
	}
	stamp_take(gw, api->stamp);
	if ((e = ca_set_load(gw, api->passphrase, &api->cas)) != 0)
		goto fail; /* printed why */
	api->cas->seq = api->seq = 1;
	if (pthread_mutex_init(&api->ckpt_lock, NULL) != 0 ||
	    pthread_cond_init(&api->ckpt_cond, NULL) != 0 ||
	    pthread_create(&api->ckpt, NULL, checkpointer, api) != 0) {
		e = TRASA_ERR_INTERNAL;
		ca_set_release(api->cas);
		goto fail;
	}
	api->have_ckpt = 1;
	*out = api;
	return 0;
fail:
	if (have_key)
		pthread_key_delete(api->tkey);
	if (have_locks) {
		pthread_rwlock_destroy(&api->ca_lock);
		pthread_mutex_destroy(&api->reload_lock);
		pthread_mutex_destroy(&api->tlock);
		pthread_mutex_destroy(&api->krl_lock);
	}
	gw_passphrase_free(api->passphrase);
	free(api);
	return e;
}

void
gw_api_free(struct gw_api *api)
{
	struct tctx *t, *next;

	if (api == NULL)
		return;
	if (api->have_ckpt) {
		pthread_mutex_lock(&api->ckpt_lock);
		api->ckpt_stop = 1;
		pthread_cond_signal(&api->ckpt_cond);
		pthread_mutex_unlock(&api->ckpt_lock);
		pthread_join(api->ckpt, NULL);
		pthread_mutex_destroy(&api->ckpt_lock);
		pthread_cond_destroy(&api->ckpt_cond);
	}
	pthread_setspecific(api->tkey, NULL);
	pthread_key_delete(api->tkey);
	for (t = api->threads; t != NULL; t = next) {
		next = t->next;
		tctx_free(t);
	}
	ca_set_release(api->cas);
	free(api->krl);
	gw_passphrase_free(api->passphrase);
	pthread_rwlock_destroy(&api->ca_lock);
	pthread_mutex_destroy(&api->reload_lock);
	pthread_mutex_destroy(&api->tlock);
	pthread_mutex_destroy(&api->krl_lock);
	free(api);
}

/* ---------------------------------------------------------------- requests */

/* One request in progress. */
struct rq {
	struct gw_api *api;
	const struct gw_config *cfg;
	const struct gw_req *req;
	struct gw_resp *resp;
	struct tctx *t;
	struct ca_set *cas; /* acquired on first use */
	struct json_object *body;
	uint64_t now;
	char actor[MAX_NAME + 16];
};

static const char *
req_header(const struct rq *r, const char *name)
{
	if (r->req->header == NULL)
		return NULL;
	return r->req->header(r->req, name);
}

static const char *
req_arg(const struct rq *r, const char *name)
{
	if (r->req->arg == NULL)
		return NULL;
	return r->req->arg(r->req, name);
}

static struct ca_set *
rq_cas(struct rq *r)
{
	if (r->cas == NULL)
		r->cas = ca_acquire(r->api);
	return r->cas;
}

/* A storage failure: 503 for SQLite I/O (disk full, read-only...), 500
 * for the rest. The client learns no path or SQLite detail; the log
 * (stderr) does. */
static void
fail_db(struct rq *r, int e, const char *what)
{
	cli_error(0, e == TRASA_ERR_IO ? 0 : e, "%s %s: %s: %s", r->req->method,
	    r->req->path, what,
	    e == TRASA_ERR_IO && r->t->db != NULL ? gw_db_errmsg(r->t->db) :
						    "failed");
	if (e == TRASA_ERR_IO)
		resp_error(r->resp, 503, NULL, "storage unavailable");
	else
		resp_error(r->resp, 500, NULL, "internal error");
}

/* The thread's database connection, opened on first use. */
static int
rq_db(struct rq *r)
{
	int e;

	if (r->t->db != NULL)
		return 0;
	e = gw_db_open(r->api->gw->state_dir, GW_DB_NO_AUTOCHECKPOINT,
	    &r->t->db);
	if (e == 0)
		return 0;
	cli_error(0, 0, "%s/%s: %s", r->api->gw->state_dir, GW_DB_FILE,
	    e == TRASA_ERR_NOT_FOUND ? "no database" : trasa_strerror(e));
	resp_error(r->resp, 503, NULL, "storage unavailable");
	return -1;
}

/* Best effort: a refusal is answered even when its audit row fails. */
static void audit(struct rq *r, const char *event, const char *subject,
    const char *result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
audit(struct rq *r, const char *event, const char *subject, const char *result,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	if (r->t->db == NULL)
		return;
	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	(void)gw_db_audit(r->t->db, event, r->actor[0] ? r->actor : "anonymous",
	    subject != NULL ? subject : "", result, detail);
}

/* "Bearer X" -> X; NULL when absent or another scheme. */
static const char *
bearer(const struct rq *r, size_t *len)
{
	const char *h = req_header(r, "Authorization");

	if (h == NULL)
		return NULL;
	h += strspn(h, " \t");
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	h += strspn(h, " \t");
	*len = strcspn(h, " \t\r\n");
	if (*len == 0 || *len > MAX_SECRET ||
	    h[*len + strspn(h + *len, " \t")] != '\0')
		return NULL;
	return h;
}

/*
 * Bearer authentication of an admin (WHO_ADMIN: an admin token) or a host
 * (WHO_HOST: its credential): fills r->actor ("admin:NAME", "host:NAME")
 * and returns the name (the thread's copy, valid until its next request).
 * NULL with the response set on failure.
 */
enum who {
	WHO_ADMIN,
	WHO_HOST
};

static const char *
authenticate(struct rq *r, const char *event, enum who who)
{
	struct remembered *m = &r->t->known[who];
	uint8_t hash[32];
	const char *tok;
	char *name = NULL;
	size_t len;
	int e;

	if ((tok = bearer(r, &len)) == NULL) {
		audit(r, event, "", "missing credentials", "peer %s",
		    r->req->peer != NULL ? r->req->peer : "?");
		resp_error(r->resp, 401, NULL,
		    "missing Authorization: Bearer token");
		return NULL;
	}
	gw_secret_hash(tok, len, hash);
	if (r->now >= m->until ||
	    CRYPTO_memcmp(hash, m->hash, sizeof(hash)) != 0) {
		if (who == WHO_ADMIN)
			e = gw_db_admin_token_check(r->t->db, hash, &name);
		else
			e = gw_db_host_by_credential(r->t->db, hash, r->now,
			    &name);
		if (e == TRASA_ERR_NOT_FOUND) {
			audit(r, event, "",
			    who == WHO_ADMIN ? "bad admin token" :
					       "bad host credential",
			    "peer %s",
			    r->req->peer != NULL ? r->req->peer : "?");
			resp_error(r->resp, 401, NULL,
			    who == WHO_ADMIN ?
				"unknown or revoked admin token" :
				"unknown host credential");
			return NULL;
		}
		if (e != 0) {
			fail_db(r, e,
			    who == WHO_ADMIN ? "admin token" :
					       "host credential");
			return NULL;
		}
		m->until = 0;
		if (strlen(name) >= sizeof(m->name)) {
			free(name);
			resp_error(r->resp, 500, NULL, "internal error");
			return NULL;
		}
		memcpy(m->hash, hash, sizeof(hash));
		strcpy(m->name, name);
		m->until = r->now + CACHE_SECONDS;
		free(name);
	}
	snprintf(r->actor, sizeof(r->actor), "%s:%s",
	    who == WHO_ADMIN ? "admin" : "host", m->name);
	return m->name;
}

static int
auth_admin(struct rq *r, const char *event)
{
	return authenticate(r, event, WHO_ADMIN) != NULL ? 0 : -1;
}

/* Host authentication by credential; *name_out is malloc'd. */
static int
auth_host(struct rq *r, const char *event, char **name_out)
{
	const char *name;

	if ((name = authenticate(r, event, WHO_HOST)) == NULL)
		return -1;
	if ((*name_out = strdup(name)) == NULL) {
		resp_error(r->resp, 500, NULL, "internal error");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- JSON in */

enum fkind {
	FK_STRING,
	FK_UINT,
	FK_PRINCIPALS
};

struct fspec {
	const char *name;
	enum fkind kind;
	int required;
	size_t max; /* string bytes; FK_PRINCIPALS: 0 = max_principals */
};

struct fval {
	int set;
	const char *s; /* FK_STRING, NUL-terminated, owned by the body */
	uint64_t u;
	char **v; /* FK_PRINCIPALS: pointers into the body (v is malloc'd) */
	size_t n;
};

static void
fvals_free(struct fval *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].v);
}

/* Why p is not a principal, or NULL when it is one. */
static const char *
principal_problem(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return "is empty";
	if (len > GW_MAX_PRINCIPAL_LEN)
		return "is longer than 255 bytes";
	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return "holds a control character";
		if (p[i] == ' ')
			return "holds a blank";
		if (p[i] == ',')
			return "holds a comma";
	}
	if (!gw_principal_valid(p))
		return "is not a valid principal";
	return NULL;
}

static unsigned
max_principals(const struct gw_config *cfg)
{
	if (cfg->max_principals == 0 ||
	    cfg->max_principals > SSHCERT_MAX_PRINCIPALS)
		return SSHCERT_MAX_PRINCIPALS;
	return cfg->max_principals;
}

static int
parse_field(struct rq *r, const struct fspec *f, struct json_object *val,
    struct fval *out)
{
	struct json_object *el;
	const char *s, *why;
	size_t len, i, n, max;
	int64_t iv;

	switch (f->kind) {
	case FK_STRING:
		if (!json_object_is_type(val, json_type_string)) {
			resp_error(r->resp, 400, f->name, "%s: not a string",
			    f->name);
			return -1;
		}
		s = json_object_get_string(val);
		len = (size_t)json_object_get_string_len(val);
		if (strlen(s) != len) {
			resp_error(r->resp, 400, f->name,
			    "%s: holds a NUL character", f->name);
			return -1;
		}
		if (len > f->max) {
			resp_error(r->resp, 400, f->name,
			    "%s: longer than %zu bytes", f->name, f->max);
			return -1;
		}
		out->s = s;
		break;
	case FK_UINT:
		if (!json_object_is_type(val, json_type_int)) {
			resp_error(r->resp, 400, f->name, "%s: not an integer",
			    f->name);
			return -1;
		}
		iv = json_object_get_int64(val);
		if (iv <= 0) {
			resp_error(r->resp, 400, f->name,
			    "%s: must be a positive number", f->name);
			return -1;
		}
		out->u = (uint64_t)iv;
		break;
	case FK_PRINCIPALS:
		if (!json_object_is_type(val, json_type_array)) {
			resp_error(r->resp, 400, f->name,
			    "%s: not a list of strings", f->name);
			return -1;
		}
		n = json_object_array_length(val);
		max = f->max != 0 ? f->max : max_principals(r->cfg);
		if (n == 0) {
			resp_error(r->resp, 400, f->name, "%s: empty list",
			    f->name);
			return -1;
		}
		if (n > max) {
			resp_error(r->resp, 400, f->name,
			    "%s: more than %zu entries", f->name, max);
			return -1;
		}
		if ((out->v = calloc(n, sizeof(*out->v))) == NULL) {
			resp_error(r->resp, 500, NULL,
			    "internal error: out of memory");
			return -1;
		}
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(val, i);
			if (!json_object_is_type(el, json_type_string)) {
				resp_error(r->resp, 400, f->name,
				    "%s[%zu]: not a string", f->name, i);
				return -1;
			}
			s = json_object_get_string(el);
			len = (size_t)json_object_get_string_len(el);
			if (strlen(s) != len)
				why = "holds a control character";
			else
				why = principal_problem(s, len);
			if (why != NULL) {
				resp_error(r->resp, 400, f->name, "%s[%zu]: %s",
				    f->name, i, why);
				return -1;
			}
			out->v[i] = (char *)(uintptr_t)s;
		}
		out->n = n;
		break;
	}
	out->set = 1;
	return 0;
}

/*
 * Parse the body as one JSON object holding only the fields of spec, of
 * their types. -1 with a 400 set on failure.
 */
static int
parse_body(struct rq *r, const struct fspec *spec, size_t nspec,
    struct fval *vals)
{
	const struct gw_req *req = r->req;
	struct json_tokener *tok = r->t->tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end, i;

	memset(vals, 0, sizeof(*vals) * nspec);
	if (req->body == NULL || req->body_len == 0) {
		resp_error(r->resp, 400, NULL, "empty request body");
		return -1;
	}
	if (req->body_len > GW_MAX_BODY || req->body_len > INT_MAX) {
		resp_error(r->resp, 413, NULL, "request body over %u bytes",
		    GW_MAX_BODY);
		return -1;
	}
	if (memchr(req->body, '\0', req->body_len) != NULL) {
		resp_error(r->resp, 400, NULL, "request body holds a NUL byte");
		return -1;
	}
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, (const char *)req->body,
	    (int)req->body_len);
	if (obj == NULL) {
		jerr = json_tokener_get_error(tok);
		resp_error(r->resp, 400, NULL, "invalid JSON: %s",
		    jerr == json_tokener_continue ?
			"truncated" :
			json_tokener_error_desc(jerr));
		json_tokener_reset(tok);
		return -1;
	}
	r->body = obj;
	end = json_tokener_get_parse_end(tok);
	for (; end < req->body_len; end++)
		if (strchr(" \t\r\n", req->body[end]) == NULL) {
			resp_error(r->resp, 400, NULL,
			    "invalid JSON: data after the object");
			return -1;
		}
	if (!json_object_is_type(obj, json_type_object)) {
		resp_error(r->resp, 400, NULL,
		    "request body is not a JSON object");
		return -1;
	}
	json_object_object_foreach(obj, key, val)
	{
		for (i = 0; i < nspec; i++)
			if (strcmp(key, spec[i].name) == 0)
				break;
		if (i == nspec) {
			char shown[MAX_FIELD_SHOWN + 1];

			snprintf(shown, sizeof(shown), "%s", key);
			resp_error(r->resp, 400, shown, "unknown field '%s'",
			    shown);
			return -1;
		}
		if (parse_field(r, &spec[i], val, &vals[i]) != 0)
			return -1;
	}
	for (i = 0; i < nspec; i++)
		if (spec[i].required && !vals[i].set) {
			resp_error(r->resp, 400, spec[i].name, "%s: missing",
			    spec[i].name);
			return -1;
		}
	return 0;
}

/* A user or host name: 1..253 bytes, no comma, blank or control. */
static int
check_name(struct rq *r, const char *field, const char *s)
{
	if (strlen(s) > MAX_NAME || !gw_valid_name(s)) {
		resp_error(r->resp, 400, field,
		    "%s: not a valid name (1..%d bytes, no comma, blank or "
		    "control character)",
		    field, MAX_NAME);
		return -1;
	}
	return 0;
}

/* The public_key field: one plain key (RSA >= 2048 bits). */
static int
parse_pubkey(struct rq *r, const char *text, struct sshkey **out)
{
	struct sshkey *k = NULL;
	int e;

	if ((e = sshkey_parse_public(text, &k, NULL)) != 0) {
		resp_error(r->resp, 400, "public_key", "public_key: %s",
		    trasa_strerror(e));
		return -1;
	}
	if (sshkey_is_cert(k)) {
		sshkey_free(k);
		resp_error(r->resp, 400, "public_key",
		    "public_key: a certificate, not a plain public key");
		return -1;
	}
	*out = k;
	return 0;
}

/* gw_issue() failed. */
static void
fail_issue(struct rq *r, int e)
{
	if (e == TRASA_ERR_IO)
		fail_db(r, e, "issuing the certificate");
	else if (e == TRASA_ERR_PRINCIPAL)
		resp_error(r->resp, 400, "principals", "principals: %s",
		    trasa_strerror(e));
	else
		resp_error(r->resp, 500, NULL,
		    "internal error: issuing the certificate: %s",
		    trasa_strerror(e));
}

/*
 * 0 when neither the key nor (serial != 0) that serial is revoked; -1
 * with a 403 naming field, audited as event, when one is.
 */
static int
check_not_revoked(struct rq *r, const struct sshkey *key, uint64_t serial,
    const char *event, const char *subject, const char *field)
{
	char *line = NULL, num[32];
	int e, revoked = 0;

	if ((e = sshkey_format_public(key, NULL, &line)) == 0)
		e = gw_db_revoked(r->t->db, GW_REVOKE_KEY, line, &revoked);
	free(line);
	if (e == 0 && !revoked && serial != 0) {
		snprintf(num, sizeof(num), "%" PRIu64, serial);
		e = gw_db_revoked(r->t->db, GW_REVOKE_SERIAL, num, &revoked);
	}
	if (e != 0) {
		fail_db(r, e, "revocations");
		return -1;
	}
	if (!revoked)
		return 0;
	resp_error(r->resp, 403, field,
	    "%s: the key or its certificate is revoked", field);
	audit(r, event, subject, "revoked", NULL);
	return -1;
}

/*
 * Issue a certificate for the request (gw_issue() with the user or host
 * CA's signing key); -1 with the response set on failure.
 */
static int
rq_issue(struct rq *r, enum sshcert_type type, const char *subject,
    const struct sshkey *key, char *const *principals, size_t n, uint64_t ttl,
    struct sshkey **cert)
{
	struct gw_issue_req ir;
	struct ca_set *cs = rq_cas(r);
	int e;

	memset(&ir, 0, sizeof(ir));
	ir.type = type;
	ir.subject = subject;
	ir.key = key;
	ir.principals = principals;
	ir.nprincipals = n;
	ir.ttl = ttl;
	ir.now = r->now;
	ir.actor = r->actor;
	e = gw_issue(r->t->db,
	    cs->sign[type == SSHCERT_USER ? CA_USER : CA_HOST], &ir, cert);
	if (e != 0) {
		fail_issue(r, e);
		return -1;
	}
	return 0;
}

/*
 * Start the JSON answer that hands out a certificate: `{"certificate":
 * LINE, "serial": N, "valid_before": T`; the caller adds its own members
 * and the closing brace. -1 with the response set on failure.
 */
static int
jb_cert(struct rq *r, const struct sshkey *cert, size_t extra, struct jb *jb)
{
	char *line = NULL;
	int e;

	if ((e = sshkey_format_public(cert, NULL, &line)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		return -1;
	}
	jb_init(jb, strlen(line) + extra + 128);
	jb_raw(jb, "{", 1);
	jb_key(jb, "certificate", 1);
	jb_str(jb, line);
	jb_key(jb, "serial", 0);
	jb_u64(jb, sshcert_serial(cert));
	jb_key(jb, "valid_before", 0);
	jb_u64(jb, sshcert_valid_before(cert));
	free(line);
	return 0;
}

/* ---------------------------------------------------------------- ETags */

/* 1 when If-None-Match names tag (quoted, e.g. "\"krl-5\"") or is "*". */
static int
etag_matches(const struct rq *r, const char *tag)
{
	const char *h = req_header(r, "If-None-Match"), *p;
	size_t tlen = strlen(tag), n;

	if (h == NULL)
		return 0;
	for (p = h; *p != '\0';) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tlen && memcmp(p, tag, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

/* ---------------------------------------------------------------- distribution */

static void
h_ca(struct rq *r, int which)
{
	struct ca_set *cs = rq_cas(r);

	resp_copy(r->resp, 200, CT_TEXT, cs->text[which], cs->textlen[which]);
}

static void
h_ca_user(struct rq *r)
{
	h_ca(r, CA_USER);
}

static void
h_ca_host(struct rq *r)
{
	h_ca(r, CA_HOST);
}

static void
h_known_hosts(struct rq *r)
{
	const char *pat = req_arg(r, "pattern");
	struct ca_set *cs;
	struct jb jb;
	char *line;
	size_t i;
	const unsigned char *c;

	if (pat == NULL)
		pat = "*";
	if (*pat == '\0' || strlen(pat) > MAX_PATTERN) {
		resp_error(r->resp, 400, "pattern",
		    "pattern: must be 1..%d bytes", MAX_PATTERN);
		return;
	}
	for (c = (const unsigned char *)pat; *c != '\0'; c++)
		if (*c <= ' ' || *c == 0x7f) {
			resp_error(r->resp, 400, "pattern",
			    "pattern: holds a blank or control character");
			return;
		}
	cs = rq_cas(r);
	jb_init(&jb, 256);
	for (i = 0; i < cs->ntrusted[CA_HOST]; i++) {
		if (sshkey_format_public(cs->trusted[CA_HOST][i], NULL,
			&line) != 0) {
			jb.err = 1;
			break;
		}
		jb_lit(&jb, "@cert-authority ");
		jb_lit(&jb, pat);
		jb_raw(&jb, " ", 1);
		jb_lit(&jb, line);
		jb_raw(&jb, "\n", 1);
		free(line);
	}
	resp_jb(r->resp, 200, &jb);
	if (r->resp->status == 200)
		r->resp->content_type = CT_TEXT;
}

/* "krl-GEN-XXXXXXXXXXXXXXXX": the revocation generation and the first
 * 8 bytes of SHA-256 over the trusted CA keys. */
static void
krl_tag(const struct ca_set *cs, uint64_t gen, char *buf, size_t len)
{
	uint8_t md[32];
	unsigned int mdlen = sizeof(md);
	EVP_MD_CTX *c;
	size_t i;
	int n;

	memset(md, 0, sizeof(md));
	if ((c = EVP_MD_CTX_new()) != NULL) {
		if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(c, cs->text[CA_USER],
			cs->textlen[CA_USER]) != 1 ||
		    EVP_DigestUpdate(c, cs->text[CA_HOST],
			cs->textlen[CA_HOST]) != 1 ||
		    EVP_DigestFinal_ex(c, md, &mdlen) != 1)
			memset(md, 0, sizeof(md));
		EVP_MD_CTX_free(c);
	}
	n = snprintf(buf, len, "\"krl-%" PRIu64 "-", gen);
	for (i = 0; i < 8 && n > 0 && (size_t)n + 3 < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", md[i]);
	if (n > 0 && (size_t)n + 2 <= len)
		snprintf(buf + n, len - (size_t)n, "\"");
}

static void
h_krl(struct rq *r)
{
	struct gw_api *api = r->api;
	struct ca_set *cs;
	uint64_t gen;
	uint8_t *krl = NULL;
	size_t len = 0;
	char tag[sizeof(r->resp->etag)];
	int e;

	if (rq_db(r) != 0)
		return;
	if ((e = gw_db_krl_generation(r->t->db, &gen)) != 0) {
		fail_db(r, e, "KRL generation");
		return;
	}
	/*
	 * The tag names the revocations and the CA keys they apply to: a
	 * rotation changes the KRL (and its tag) with no new revocation.
	 */
	cs = rq_cas(r);
	krl_tag(cs, gen, tag, sizeof(tag));
	if (etag_matches(r, tag)) {
		resp_set(r->resp, 304, CT_OCTET, NULL, 0);
		snprintf(r->resp->etag, sizeof(r->resp->etag), "%s", tag);
		return;
	}
	pthread_mutex_lock(&api->krl_lock);
	if (!api->have_krl || api->krl_gen != gen || api->krl_seq != cs->seq) {
		e = gw_krl_build(r->t->db, cs->all, cs->nall, r->now, &krl,
		    &len, &gen);
		if (e != 0) {
			pthread_mutex_unlock(&api->krl_lock);
			fail_db(r, e, "building the KRL");
			return;
		}
		free(api->krl);
		api->krl = krl;
		api->krl_len = len;
		api->krl_gen = gen;
		api->krl_seq = cs->seq;
		api->have_krl = 1;
	}
	gen = api->krl_gen;
	resp_copy(r->resp, 200, CT_OCTET, api->krl, api->krl_len);
	pthread_mutex_unlock(&api->krl_lock);
	if (r->resp->status == 200)
		krl_tag(cs, gen, r->resp->etag, sizeof(r->resp->etag));
}

/* ---------------------------------------------------------------- user certs */

/*
 * Parse the body against spec and check the name in field idx (a user or
 * host name): the name, or NULL with a 400 answered and the refusal
 * audited as event.
 */
static const char *
parse_named(struct rq *r, const char *event, const struct fspec *spec, size_t n,
    struct fval *v, size_t idx)
{
	if (parse_body(r, spec, n, v) != 0) {
		audit(r, event, "", "bad request", NULL);
		return NULL;
	}
	if (check_name(r, spec[idx].name, v[idx].s) != 0) {
		audit(r, event, "", "bad request", "bad %s", spec[idx].name);
		return NULL;
	}
	return v[idx].s;
}

/*
 * The "ttl" field f, else def; 1..max seconds, or -1 with a 400 answered
 * and the refusal audited as event about subject.
 */
static int
req_ttl(struct rq *r, const char *event, const char *subject,
    const struct fval *f, uint64_t def, uint64_t max, uint64_t *out)
{
	uint64_t ttl = f->set ? f->u : def;

	if (ttl == 0 || ttl > max) {
		resp_error(r->resp, 400, "ttl",
		    "ttl: must be 1..%" PRIu64 " seconds", max);
		audit(r, event, subject, "bad request", "ttl %" PRIu64, ttl);
		return -1;
	}
	*out = ttl;
	return 0;
}

static void
h_cert_user(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "user", FK_STRING, 1, MAX_NAME },
		{ "public_key", FK_STRING, 1, MAX_PUBKEY },
		{ "principals", FK_PRINCIPALS, 0, 0 },
		{ "ttl", FK_UINT, 0, 0 },
	};
	enum {
		F_USER,
		F_KEY,
		F_PRINC,
		F_TTL,
		NF
	};
	struct fval v[NF];
	struct gw_user *u = NULL;
	struct sshkey *key = NULL, *cert = NULL;
	char *one[1];
	const char *user;
	struct jb jb;
	uint64_t ttl;
	int e, disabled;

	memset(v, 0, sizeof(v));
	if (rq_db(r) != 0 || auth_admin(r, "cert.user") != 0)
		goto out;
	if ((user = parse_named(r, "cert.user", spec, NF, v, F_USER)) == NULL ||
	    req_ttl(r, "cert.user", user, &v[F_TTL], r->cfg->user_ttl,
		r->cfg->user_max_ttl, &ttl) != 0)
		goto out;
	if (parse_pubkey(r, v[F_KEY].s, &key) != 0) {
		audit(r, "cert.user", user, "bad request", "bad public_key");
		goto out;
	}
	if (r->now < r->t->user_until && strcmp(user, r->t->user_name) == 0) {
		disabled = r->t->user_disabled;
	} else {
		e = gw_db_user_get(r->t->db, user, 0, &u);
		if (e == TRASA_ERR_NOT_FOUND) {
			resp_error(r->resp, 404, "user",
			    "user %s: no such user", user);
			audit(r, "cert.user", user, "no such user", NULL);
			goto out;
		}
		if (e != 0) {
			fail_db(r, e, "user");
			goto out;
		}
		disabled = u->disabled;
		if (strlen(user) < sizeof(r->t->user_name)) {
			strcpy(r->t->user_name, user);
			r->t->user_disabled = disabled;
			r->t->user_until = r->now + CACHE_SECONDS;
		}
	}
	if (disabled) {
		resp_error(r->resp, 403, "user", "user %s is disabled", user);
		audit(r, "cert.user", user, "user disabled", NULL);
		goto out;
	}
	if (check_not_revoked(r, key, 0, "cert.user", user, "public_key") != 0)
		goto out;
	one[0] = (char *)(uintptr_t)user;
	if (rq_issue(r, SSHCERT_USER, user, key,
		v[F_PRINC].set ? v[F_PRINC].v : one,
		v[F_PRINC].set ? v[F_PRINC].n : 1, ttl, &cert) != 0 ||
	    jb_cert(r, cert, 128, &jb) != 0)
		goto out;
	jb_key(&jb, "key_id", 0);
	jb_str(&jb, sshcert_key_id(cert));
	jb_key(&jb, "valid_after", 0);
	jb_u64(&jb, sshcert_valid_after(cert));
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
out:
	sshkey_free(cert);
	sshkey_free(key);
	gw_user_free(u);
	fvals_free(v, NF);
}

/* ---------------------------------------------------------------- hosts */

static int
in_list(const char *s, char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return 1;
	return 0;
}

static void
h_enroll(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "token", FK_STRING, 1, MAX_SECRET },
		{ "hostname", FK_STRING, 1, MAX_NAME },
		{ "principals", FK_PRINCIPALS, 0, 0 },
		{ "public_key", FK_STRING, 1, MAX_PUBKEY },
	};
	enum {
		F_TOKEN,
		F_HOST,
		F_PRINC,
		F_KEY,
		NF
	};
	struct fval v[NF];
	uint8_t thash[32], chash[32];
	char cred[44], *thost = NULL, **tprinc = NULL;
	char *keyline = NULL, *one[1], *const * principals;
	size_t ntprinc = 0, i, nprincipals;
	struct sshkey *key = NULL, *cert = NULL;
	struct ca_set *cs;
	const char *host;
	struct jb jb;
	int e;

	memset(v, 0, sizeof(v));
	cred[0] = '\0';
	if (rq_db(r) != 0)
		goto out;
	if ((host = parse_named(r, "host.enroll", spec, NF, v, F_HOST)) == NULL)
		goto out;
	gw_secret_hash(v[F_TOKEN].s, strlen(v[F_TOKEN].s), thash);
	e = gw_db_token_peek(r->t->db, thash, r->now, &thost, &tprinc,
	    &ntprinc);
	if (e == TRASA_ERR_NOT_FOUND || e == TRASA_ERR_EXPIRED) {
		resp_error(r->resp, 403, "token", "token %s",
		    e == TRASA_ERR_EXPIRED ? "expired" :
					     "unknown or already used");
		audit(r, "host.enroll", host,
		    e == TRASA_ERR_EXPIRED ? "token expired" : "bad token",
		    "peer %s", r->req->peer != NULL ? r->req->peer : "?");
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "enrolment token");
		goto out;
	}
	snprintf(r->actor, sizeof(r->actor), "host:%s", host);
	if (strcmp(thost, host) != 0) {
		resp_error(r->resp, 403, "hostname",
		    "hostname: the token is for another host");
		audit(r, "host.enroll", host, "token for another host",
		    "token host %s", thost);
		goto out;
	}
	if (v[F_PRINC].set) {
		for (i = 0; i < v[F_PRINC].n; i++) {
			const char *p = v[F_PRINC].v[i];

			if (strcmp(p, host) == 0 || in_list(p, tprinc, ntprinc))
				continue;
			resp_error(r->resp, 403, "principals",
			    "principals[%zu]: not allowed by the token", i);
			audit(r, "host.enroll", host, "principal not allowed",
			    "%s", p);
			goto out;
		}
	}
	if (parse_pubkey(r, v[F_KEY].s, &key) != 0) {
		audit(r, "host.enroll", host, "bad request", "bad public_key");
		goto out;
	}
	if ((e = sshkey_format_public(key, NULL, &keyline)) != 0 ||
	    (e = gw_secret_new(cred, chash)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		goto out;
	}
	one[0] = (char *)(uintptr_t)host;
	principals = v[F_PRINC].set ? v[F_PRINC].v : one;
	nprincipals = v[F_PRINC].set ? v[F_PRINC].n : 1;
	if (rq_issue(r, SSHCERT_HOST, host, key, principals, nprincipals,
		r->cfg->host_ttl, &cert) != 0)
		goto out;
	/*
	 * Now the token is used, atomically. When a concurrent enrolment
	 * with the same token won, the certificate just issued has its
	 * serial recorded (and audited) but is never handed out: harmless,
	 * serials are never reused and the certificate does not leave us.
	 */
	e = gw_db_host_enroll(r->t->db, thash, r->now, host, keyline,
	    principals, nprincipals, sshcert_serial(cert),
	    sshcert_valid_before(cert), chash);
	if (e == TRASA_ERR_NOT_FOUND || e == TRASA_ERR_EXPIRED ||
	    e == TRASA_ERR_INVALID_ARG) {
		resp_error(r->resp, 403, "token", "token %s",
		    e == TRASA_ERR_EXPIRED ? "expired" :
					     "unknown or already used");
		audit(r, "host.enroll", host, "bad token",
		    "lost a race; serial %" PRIu64 " not handed out",
		    sshcert_serial(cert));
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "enrolment");
		goto out;
	}
	audit(r, "host.enroll", host, "ok", "serial %" PRIu64 " peer %s",
	    sshcert_serial(cert), r->req->peer != NULL ? r->req->peer : "?");
	cs = rq_cas(r);
	if (jb_cert(r, cert, 512, &jb) != 0)
		goto out;
	jb_key(&jb, "user_ca_keys", 0);
	jb_str_array(&jb, cs->lines[CA_USER], cs->ntrusted[CA_USER]);
	jb_key(&jb, "host_credential", 0);
	jb_str(&jb, cred);
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
out:
	OPENSSL_cleanse(cred, sizeof(cred));
	free(keyline);
	free(thost);
	if (tprinc != NULL)
		for (i = 0; i < ntprinc; i++)
			free(tprinc[i]);
	free(tprinc);
	sshkey_free(cert);
	sshkey_free(key);
	fvals_free(v, NF);
}

static void
h_challenge(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "hostname", FK_STRING, 1, MAX_NAME },
	};
	struct fval v[1];
	struct gw_host *h = NULL;
	uint8_t hash[32];
	char chal[44];
	const char *host;
	struct jb jb;
	int e;

	memset(v, 0, sizeof(v));
	if (rq_db(r) != 0)
		goto out;
	if ((host = parse_named(r, "host.challenge", spec, 1, v, 0)) == NULL)
		goto out;
	e = gw_db_host_get(r->t->db, host, &h);
	if (e == TRASA_ERR_NOT_FOUND || (e == 0 && h->public_key == NULL)) {
		resp_error(r->resp, 404, "hostname",
		    "hostname: no enrolled host of that name");
		audit(r, "host.challenge", host, "not enrolled", NULL);
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "host");
		goto out;
	}
	if ((e = gw_secret_new(chal, hash)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		goto out;
	}
	if ((e = gw_db_challenge_add(r->t->db, host, chal,
		 r->now + CHALLENGE_TTL)) != 0) {
		fail_db(r, e, "challenge");
		goto out;
	}
	audit(r, "host.challenge", host, "ok", "peer %s",
	    r->req->peer != NULL ? r->req->peer : "?");
	jb_init(&jb, 96);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "challenge", 1);
	jb_str(&jb, chal);
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
out:
	gw_host_free(h);
	fvals_free(v, 1);
}

static void
h_renew(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "hostname", FK_STRING, 1, MAX_NAME },
		{ "challenge", FK_STRING, 1, MAX_SECRET },
		{ "signature", FK_STRING, 1, MAX_SIGNATURE },
	};
	enum {
		F_HOST,
		F_CHAL,
		F_SIG,
		NF
	};
	struct fval v[NF];
	struct gw_host *h = NULL;
	struct sshkey *key = NULL, *cert = NULL;
	struct tbuf *sig = NULL, *data = NULL;
	const char *host;
	struct jb jb;
	int e;

	memset(v, 0, sizeof(v));
	if (rq_db(r) != 0)
		goto out;
	if ((host = parse_named(r, "host.renew", spec, NF, v, F_HOST)) == NULL)
		goto out;
	snprintf(r->actor, sizeof(r->actor), "host:%s", host);
	e = gw_db_host_get(r->t->db, host, &h);
	if (e == TRASA_ERR_NOT_FOUND || (e == 0 && h->public_key == NULL)) {
		resp_error(r->resp, 404, "hostname",
		    "hostname: no enrolled host of that name");
		audit(r, "host.renew", host, "not enrolled", NULL);
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "host");
		goto out;
	}
	if (h->nprincipals == 0) {
		resp_error(r->resp, 500, NULL,
		    "internal error: host %s has no principals", host);
		goto out;
	}
	/* Single use: a challenge is gone after one attempt, good or bad. */
	e = gw_db_challenge_take(r->t->db, host, v[F_CHAL].s, r->now);
	if (e == TRASA_ERR_NOT_FOUND || e == TRASA_ERR_EXPIRED) {
		resp_error(r->resp, 403, "challenge",
		    "challenge: unknown, used or expired");
		audit(r, "host.renew", host, "bad challenge", NULL);
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "challenge");
		goto out;
	}
	if (tbuf_from_base64(v[F_SIG].s, strlen(v[F_SIG].s), &sig) != 0) {
		resp_error(r->resp, 400, "signature", "signature: not base64");
		audit(r, "host.renew", host, "bad request", "bad signature");
		goto out;
	}
	if ((e = sshkey_parse_public(h->public_key, &key, NULL)) != 0) {
		resp_error(r->resp, 500, NULL,
		    "internal error: enrolled key of %s: %s", host,
		    trasa_strerror(e));
		goto out;
	}
	/* A revoked host key or certificate is not renewed. */
	if (check_not_revoked(r, key, h->cert_serial, "host.renew", host,
		"hostname") != 0)
		goto out;
	if ((data = tbuf_new()) == NULL ||
	    (e = tbuf_put_cstring(data, RENEW_CONTEXT)) != 0 ||
	    (e = tbuf_put_cstring(data, host)) != 0 ||
	    (e = tbuf_put_cstring(data, v[F_CHAL].s)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: out of memory");
		goto out;
	}
	if ((e = sshkey_verify(key, tbuf_ptr(sig), tbuf_len(sig),
		 tbuf_ptr(data), tbuf_len(data), NULL, 0)) != 0) {
		resp_error(r->resp, 403, "signature", "signature: %s",
		    trasa_strerror(e));
		audit(r, "host.renew", host, "bad signature", "%s",
		    trasa_strerror(e));
		goto out;
	}
	if (rq_issue(r, SSHCERT_HOST, host, key, h->principals, h->nprincipals,
		r->cfg->host_ttl, &cert) != 0)
		goto out;
	if ((e = gw_db_host_renewed(r->t->db, host, sshcert_serial(cert),
		 sshcert_valid_before(cert), r->now)) != 0) {
		fail_db(r, e, "renewal");
		goto out;
	}
	audit(r, "host.renew", host, "ok", "serial %" PRIu64,
	    sshcert_serial(cert));
	if (jb_cert(r, cert, 0, &jb) != 0)
		goto out;
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
out:
	tbuf_free(sig);
	tbuf_free(data);
	sshkey_free(cert);
	sshkey_free(key);
	gw_host_free(h);
	fvals_free(v, NF);
}

static void
h_tokens(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "hostname", FK_STRING, 1, MAX_NAME },
		{ "principals", FK_PRINCIPALS, 0, 0 },
		{ "ttl", FK_UINT, 0, 0 },
	};
	enum {
		F_HOST,
		F_PRINC,
		F_TTL,
		NF
	};
	struct fval v[NF];
	uint8_t hash[32];
	char tok[44];
	const char *host;
	uint64_t ttl;
	struct jb jb;
	int e;

	memset(v, 0, sizeof(v));
	tok[0] = '\0';
	if (rq_db(r) != 0 || auth_admin(r, "host.token") != 0)
		goto out;
	if ((host = parse_named(r, "host.token", spec, NF, v, F_HOST)) ==
		NULL ||
	    req_ttl(r, "host.token", host, &v[F_TTL], r->cfg->token_ttl,
		r->cfg->token_max_ttl, &ttl) != 0)
		goto out;
	if ((e = gw_secret_new(tok, hash)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		goto out;
	}
	e = gw_db_token_add(r->t->db, host, hash, v[F_PRINC].v, v[F_PRINC].n,
	    r->now + ttl);
	if (e == TRASA_ERR_INVALID_ARG) {
		resp_error(r->resp, 400, NULL, "token refused: %s",
		    trasa_strerror(e));
		audit(r, "host.token", host, "refused", "%s",
		    trasa_strerror(e));
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "token");
		goto out;
	}
	audit(r, "host.token", host, "ok", "expires %" PRIu64 "%s",
	    r->now + ttl, v[F_PRINC].set ? " (with principals)" : "");
	jb_init(&jb, 128);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "token", 1);
	jb_str(&jb, tok);
	jb_key(&jb, "expires", 0);
	jb_u64(&jb, r->now + ttl);
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
out:
	OPENSSL_cleanse(tok, sizeof(tok));
	fvals_free(v, NF);
}

/* ---------------------------------------------------------------- directory */

static void
jb_user(struct jb *jb, const struct gw_user *u)
{
	jb_raw(jb, "{", 1);
	jb_key(jb, "name", 1);
	jb_str(jb, u->name);
	jb_key(jb, "uid", 0);
	jb_u64(jb, u->uid);
	jb_key(jb, "gid", 0);
	jb_u64(jb, u->gid);
	jb_key(jb, "gecos", 0);
	jb_str(jb, u->gecos);
	jb_key(jb, "home", 0);
	jb_str(jb, u->home);
	jb_key(jb, "shell", 0);
	jb_str(jb, u->shell);
	jb_key(jb, "disabled", 0);
	jb_lit(jb, u->disabled ? "true" : "false");
	jb_raw(jb, "}", 1);
}

static void
h_directory(struct rq *r)
{
	struct gw_user **users = NULL;
	struct gw_group **groups = NULL;
	struct gw_host *h = NULL;
	size_t nusers = 0, ngroups = 0, i;
	char *name = NULL, tag[sizeof(r->resp->etag)];
	uint64_t gen;
	struct jb jb;
	int e;

	if (rq_db(r) != 0 || auth_host(r, "host.directory", &name) != 0)
		goto out;
	if (r->now < r->t->dir_until) {
		gen = r->t->dir_gen;
	} else {
		if ((e = gw_db_dir_generation(r->t->db, &gen)) != 0) {
			fail_db(r, e, "directory generation");
			goto out;
		}
		r->t->dir_gen = gen;
		r->t->dir_until = r->now + CACHE_SECONDS;
	}
	snprintf(tag, sizeof(tag), "\"dir-%" PRIu64 "\"", gen);
	if (etag_matches(r, tag)) {
		resp_set(r->resp, 304, CT_JSON, NULL, 0);
		snprintf(r->resp->etag, sizeof(r->resp->etag), "%s", tag);
		goto out;
	}
	/*
	 * Read after the generation: a change in between makes the content
	 * newer than its tag, and the host just fetches it once more.
	 */
	if ((e = gw_db_user_list(r->t->db, &users, &nusers)) != 0 ||
	    (e = gw_db_group_list(r->t->db, &groups, &ngroups)) != 0) {
		fail_db(r, e, "directory");
		goto out;
	}
	e = gw_db_host_get(r->t->db, name, &h);
	if (e != 0 && e != TRASA_ERR_NOT_FOUND) {
		fail_db(r, e, "host");
		goto out;
	}
	jb_init(&jb, 256 + 160 * nusers + 64 * ngroups);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "generation", 1);
	jb_u64(&jb, gen);
	jb_key(&jb, "users", 0);
	jb_raw(&jb, "[", 1);
	for (i = 0; i < nusers; i++) {
		if (i > 0)
			jb_raw(&jb, ", ", 2);
		jb_user(&jb, users[i]);
	}
	jb_raw(&jb, "]", 1);
	jb_key(&jb, "groups", 0);
	jb_raw(&jb, "[", 1);
	for (i = 0; i < ngroups; i++) {
		if (i > 0)
			jb_raw(&jb, ", ", 2);
		jb_raw(&jb, "{", 1);
		jb_key(&jb, "name", 1);
		jb_str(&jb, groups[i]->name);
		jb_key(&jb, "gid", 0);
		jb_u64(&jb, groups[i]->gid);
		jb_key(&jb, "members", 0);
		jb_str_array(&jb, groups[i]->members, groups[i]->nmembers);
		jb_raw(&jb, "}", 1);
	}
	jb_raw(&jb, "]", 1);
	jb_key(&jb, "login", 0);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "allow_groups", 1);
	if (h != NULL)
		jb_str_array(&jb, h->allow_groups, h->nallow_groups);
	else
		jb_lit(&jb, "[]");
	jb_raw(&jb, "}}\n", 3);
	resp_jb(r->resp, 200, &jb);
	if (r->resp->status == 200)
		snprintf(r->resp->etag, sizeof(r->resp->etag), "%s", tag);
out:
	gw_user_list_free(users, nusers);
	gw_group_list_free(groups, ngroups);
	gw_host_free(h);
	free(name);
}

/* "123" -> 123 (no sign, no blanks, at most UINT32_MAX). */
static int
parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void
h_directory_user(struct rq *r)
{
	const char *qname = req_arg(r, "name"), *quid = req_arg(r, "uid");
	struct gw_user *u = NULL;
	char *name = NULL;
	uint32_t uid = 0;
	struct jb jb;
	int e;

	if (rq_db(r) != 0 || auth_host(r, "host.directory", &name) != 0)
		goto out;
	if ((qname == NULL) == (quid == NULL)) {
		resp_error(r->resp, 400, NULL,
		    "give exactly one of ?name= and ?uid=");
		goto out;
	}
	if (qname != NULL &&
	    (strlen(qname) > MAX_NAME || !gw_valid_name(qname))) {
		resp_error(r->resp, 400, "name", "name: not a valid name");
		goto out;
	}
	if (quid != NULL && parse_u32(quid, &uid) != 0) {
		resp_error(r->resp, 400, "uid", "uid: not a number");
		goto out;
	}
	e = gw_db_user_get(r->t->db, qname, uid, &u);
	if (e == TRASA_ERR_NOT_FOUND) {
		resp_error(r->resp, 404, qname != NULL ? "name" : "uid",
		    "no such user");
		goto out;
	}
	if (e != 0) {
		fail_db(r, e, "user");
		goto out;
	}
	jb_init(&jb, 256);
	jb_user(&jb, u);
	jb_raw(&jb, "\n", 1);
	resp_jb(r->resp, 200, &jb);
out:
	gw_user_free(u);
	free(name);
}

/* ---------------------------------------------------------------- hostcert.zip */

struct zbuf {
	uint8_t *p;
	size_t len, cap;
};

/* libarchive's write callback: append, wiping what a move leaves behind. */
static la_ssize_t
zbuf_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct zbuf *z = ud;
	size_t ncap;
	uint8_t *np;

	(void)a;
	if (n > z->cap - z->len) {
		if (n > TBUF_MAX_SIZE - z->len)
			return -1;
		ncap = z->cap < 4096 ? 4096 : z->cap;
		while (ncap - z->len < n)
			ncap *= 2;
		if ((np = malloc(ncap)) == NULL)
			return -1;
		if (z->len > 0)
			memcpy(np, z->p, z->len);
		if (z->p != NULL)
			OPENSSL_cleanse(z->p, z->cap);
		free(z->p);
		z->p = np;
		z->cap = ncap;
	}
	memcpy(z->p + z->len, buf, n);
	z->len += n;
	return (la_ssize_t)n;
}

/* One file of the zip; nl: end it with a newline. */
static int
zip_add(struct archive *a, const char *name, const void *data, size_t len,
    int nl, unsigned mode, time_t now)
{
	struct archive_entry *ae;
	int ok;

	if ((ae = archive_entry_new()) == NULL)
		return -1;
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, mode);
	archive_entry_set_size(ae, (la_int64_t)(len + (nl ? 1 : 0)));
	archive_entry_set_mtime(ae, now, 0);
	ok = archive_write_header(a, ae) == ARCHIVE_OK &&
	    archive_write_data(a, data, len) == (la_ssize_t)len &&
	    (!nl || archive_write_data(a, "\n", 1) == 1);
	archive_entry_free(ae);
	return ok ? 0 : -1;
}

static void
h_hostcert_zip(struct rq *r, const char *host)
{
	struct sshkey *k = NULL, *pub = NULL, *cert = NULL;
	struct tbuf *priv = NULL;
	struct archive *a = NULL;
	struct zbuf z = { NULL, 0, 0 };
	char *publine = NULL, *certline = NULL, *one[1], comment[MAX_NAME + 8];
	const char *why;
	size_t hlen = strlen(host);
	int e;

	if (rq_db(r) != 0 || auth_admin(r, "cert.host") != 0)
		goto out;
	if (hlen > MAX_NAME || (why = principal_problem(host, hlen)) != NULL ||
	    strpbrk(host, "\"\\/") != NULL) {
		resp_error(r->resp, 400, "host", "host: not a valid host name");
		audit(r, "cert.host", "", "bad request", "bad host name");
		goto out;
	}
	snprintf(comment, sizeof(comment), "root@%s", host);
	if ((e = sshkey_generate(SSHKEY_ED25519, 0, &k)) != 0 ||
	    (e = sshkey_dup_public(k, &pub)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		goto out;
	}
	one[0] = (char *)(uintptr_t)host;
	if (rq_issue(r, SSHCERT_HOST, host, pub, one, 1, r->cfg->host_ttl,
		&cert) != 0)
		goto out;
	if ((priv = tbuf_new()) == NULL ||
	    (e = sshkey_private_to_openssh(k, comment, priv)) != 0 ||
	    (e = sshkey_format_public(pub, comment, &publine)) != 0 ||
	    (e = sshkey_format_public(cert, comment, &certline)) != 0) {
		resp_error(r->resp, 500, NULL, "internal error: %s",
		    trasa_strerror(e));
		goto out;
	}
	/* The .pub files end in a newline, as ssh-keygen writes them. */
	if ((a = archive_write_new()) == NULL ||
	    archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open(a, &z, NULL, zbuf_write, NULL) != ARCHIVE_OK ||
	    zip_add(a, "id_ed25519", tbuf_ptr(priv), tbuf_len(priv), 0, 0600,
		(time_t)r->now) != 0 ||
	    zip_add(a, "id_ed25519.pub", publine, strlen(publine), 1, 0644,
		(time_t)r->now) != 0 ||
	    zip_add(a, "id_ed25519-cert.pub", certline, strlen(certline), 1,
		0644, (time_t)r->now) != 0 ||
	    archive_write_close(a) != ARCHIVE_OK) {
		resp_error(r->resp, 500, NULL, "internal error: zip: %s",
		    a != NULL && archive_error_string(a) != NULL ?
			archive_error_string(a) :
			"failed");
		goto out;
	}
	audit(r, "cert.host", host, "ok",
	    "private key shipped in zip (serial %" PRIu64 ")",
	    sshcert_serial(cert));
	resp_set(r->resp, 200, CT_ZIP, z.p, z.len);
	z.p = NULL;
	if (hlen <= sizeof(r->resp->disposition) - 40)
		snprintf(r->resp->disposition, sizeof(r->resp->disposition),
		    "attachment; filename=\"hostcert-%.*s.zip\"",
		    (int)(sizeof(r->resp->disposition) - 40), host);
	else
		snprintf(r->resp->disposition, sizeof(r->resp->disposition),
		    "attachment; filename=\"hostcert.zip\"");
out:
	if (a != NULL)
		archive_write_free(a);
	if (z.p != NULL)
		OPENSSL_cleanse(z.p, z.cap);
	free(z.p);
	tbuf_free(priv); /* wipes */
	free(publine);
	free(certline);
	sshkey_free(cert);
	sshkey_free(pub);
	sshkey_free(k);
}

/* ---------------------------------------------------------------- 2FA */

static void
nix_answer(struct rq *r, const char *status, const char *reason)
{
	struct jb jb;

	jb_init(&jb, 96);
	jb_raw(&jb, "{", 1);
	jb_key(&jb, "status", 1);
	jb_str(&jb, status);
	jb_key(&jb, "reason", 0);
	jb_str(&jb, reason);
	jb_raw(&jb, "}\n", 2);
	resp_jb(r->resp, 200, &jb);
}

static void
h_nix(struct rq *r)
{
	static const struct fspec spec[] = {
		{ "serviceID", FK_STRING, 1, MAX_NAME },
		{ "serviceKey", FK_STRING, 1, MAX_SECRET },
		{ "user", FK_STRING, 0, MAX_NAME },
		{ "trasaID", FK_STRING, 1, MAX_NAME },
		{ "totpCode", FK_STRING, 1, 16 },
		{ "userIP", FK_STRING, 0, 64 },
		{ "hostname", FK_STRING, 0, MAX_NAME },
	};
	enum {
		F_SID,
		F_SKEY,
		F_USER,
		F_TID,
		F_TOTP,
		F_IP,
		F_HOST,
		NF
	};
	struct fval v[NF];
	struct gw_user *u = NULL;
	uint8_t hash[32], *secret = NULL;
	size_t slen = 0, i;
	char *name = NULL, detail[MAX_NAME * 2 + 128];
	const char *reason = NULL, *tid, *otp;
	int e, ok, pos = 0;

	memset(v, 0, sizeof(v));
	if (rq_db(r) != 0)
		goto out;
	if (parse_body(r, spec, NF, v) != 0) {
		audit(r, "auth.2fa", "", "bad request", NULL);
		goto out;
	}
	tid = v[F_TID].s;
	otp = v[F_TOTP].s;
	snprintf(detail, sizeof(detail), "user=%.64s ip=%.64s hostname=%.64s",
	    v[F_USER].set ? v[F_USER].s : "",
	    v[F_IP].set ? v[F_IP].s :
			  (r->req->peer != NULL ? r->req->peer : ""),
	    v[F_HOST].set ? v[F_HOST].s : "");
	/* Control characters in the audit detail would corrupt listings. */
	for (i = 0; detail[i] != '\0'; i++)
		if ((unsigned char)detail[i] < 0x20 || detail[i] == 0x7f)
			detail[i] = '?';

	gw_secret_hash(v[F_SKEY].s, strlen(v[F_SKEY].s), hash);
	e = gw_db_host_by_credential(r->t->db, hash, r->now, &name);
	if (e == 0 && strcmp(name, v[F_SID].s) != 0)
		e = TRASA_ERR_NOT_FOUND;
	if (e == TRASA_ERR_NOT_FOUND) {
		reason = "invalid service key";
		goto decided;
	}
	if (e != 0) {
		fail_db(r, e, "host credential");
		goto out;
	}
	snprintf(r->actor, sizeof(r->actor), "host:%s", name);
	if (!gw_valid_name(tid)) {
		reason = "unknown user";
		goto decided;
	}
	e = gw_db_user_get(r->t->db, tid, 0, &u);
	if (e == TRASA_ERR_NOT_FOUND) {
		reason = "unknown user";
		goto decided;
	}
	if (e != 0) {
		fail_db(r, e, "user");
		goto out;
	}
	if (u->disabled) {
		reason = "user disabled";
		goto decided;
	}
	e = gw_db_user_get_totp(r->t->db, tid, &secret, &slen);
	if (e == TRASA_ERR_NOT_FOUND) {
		reason = "no totp secret";
		goto decided;
	}
	if (e != 0) {
		fail_db(r, e, "totp secret");
		goto out;
	}
	/* Locked out after repeated failures: not even checked. */
	if ((e = gw_db_totp_locked(r->t->db, tid, r->now)) != 0) {
		if (e != TRASA_ERR_TOO_MANY) {
			fail_db(r, e, "totp state");
			goto out;
		}
		reason = "too many failed attempts, try later";
		goto decided;
	}
	ok = strlen(otp) == 6 && strspn(otp, "0123456789") == 6 &&
	    oath_totp_validate2((const char *)secret, slen, (time_t)r->now,
		TOTP_STEP, 0, TOTP_WINDOW, &pos, otp) >= 0;
	/* Each code is good once (RFC 6238 5.2); failures are counted. */
	e = gw_db_totp_result(r->t->db, tid, r->now, ok,
	    (uint64_t)((int64_t)(r->now / TOTP_STEP) + (ok ? pos : 0)));
	if (e != 0 && e != TRASA_ERR_EXISTS) {
		fail_db(r, e, "totp state");
		goto out;
	}
	if (!ok)
		reason = "invalid totp";
	else if (e == TRASA_ERR_EXISTS)
		reason = "totp code already used";
decided:
	audit(r, "auth.2fa", tid, reason == NULL ? "ok" : reason, "%s", detail);
	if (reason == NULL)
		nix_answer(r, "success", "");
	else
		nix_answer(r, "failed", reason);
out:
	if (secret != NULL) {
		OPENSSL_cleanse(secret, slen);
		free(secret);
	}
	gw_user_free(u);
	free(name);
	fvals_free(v, NF);
}

/* ---------------------------------------------------------------- dispatch */

static const struct route {
	const char *method;
	const char *path;
	void (*fn)(struct rq *);
} routes[] = {
	{ "GET", "/v1/ca/user", h_ca_user },
	{ "GET", "/v1/ca/host", h_ca_host },
	{ "GET", "/v1/known_hosts", h_known_hosts },
	{ "GET", "/v1/krl", h_krl },
	{ "POST", "/v1/hosts/enroll", h_enroll },
	{ "POST", "/v1/hosts/challenge", h_challenge },
	{ "POST", "/v1/hosts/renew", h_renew },
	{ "POST", "/v1/hosts/tokens", h_tokens },
	{ "GET", "/v1/hosts/self/directory", h_directory },
	{ "GET", "/v1/hosts/self/directory/user", h_directory_user },
	{ "POST", "/v1/certs/user", h_cert_user },
	{ "POST", "/auth/agent/nix", h_nix },
};

#define SERVICES_PREFIX "/v1/services/"
#define SERVICES_SUFFIX "/hostcert.zip"

/* "/v1/services/HOST/hostcert.zip" -> HOST in buf; -1 when not that. */
static int
services_host(const char *path, char *buf, size_t len)
{
	size_t plen = strlen(SERVICES_PREFIX), slen = strlen(SERVICES_SUFFIX);
	size_t n = strlen(path);

	if (n <= plen + slen || strncmp(path, SERVICES_PREFIX, plen) != 0 ||
	    strcmp(path + n - slen, SERVICES_SUFFIX) != 0)
		return -1;
	n -= plen + slen;
	if (n >= len || memchr(path + plen, '/', n) != NULL)
		return -1;
	memcpy(buf, path + plen, n);
	buf[n] = '\0';
	return 0;
}

void
gw_api_handle(struct gw_api *api, const struct gw_req *req,
    struct gw_resp *resp)
{
	const struct route *rt = NULL;
	char host[MAX_NAME + 2];
	struct rq r;
	size_t i;
	int path_known = 0, zip;
	time_t now = time(NULL);

	memset(resp, 0, sizeof(*resp));
	resp->content_type = CT_JSON;
	if (api == NULL || req == NULL || req->method == NULL ||
	    req->path == NULL) {
		resp_error(resp, 500, NULL, "internal error: no request");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.api = api;
	r.cfg = &api->gw->cfg;
	r.req = req;
	r.resp = resp;
	r.now = now > 0 ? (uint64_t)now : 0;

	zip = services_host(req->path, host, sizeof(host)) == 0;
	for (i = 0; !zip && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->path, routes[i].path) != 0)
			continue;
		path_known = 1;
		if (strcmp(req->method, routes[i].method) == 0 ||
		    (strcmp(routes[i].method, "GET") == 0 &&
			strcmp(req->method, "HEAD") == 0)) {
			rt = &routes[i];
			break;
		}
	}
	/* Not HEAD: it would make a key pair and a certificate for nothing. */
	if (zip && strcmp(req->method, "GET") != 0) {
		resp_error(resp, 405, NULL, "method %.16s not allowed",
		    req->method);
		return;
	}
	if (!zip && rt == NULL) {
		if (path_known)
			resp_error(resp, 405, NULL, "method %.16s not allowed",
			    req->method);
		else
			resp_error(resp, 404, NULL, "no such resource");
		return;
	}
	if ((r.t = tctx_get(api)) == NULL) {
		resp_error(resp, 500, NULL, "internal error: out of memory");
		return;
	}
	ca_maybe_reload(api, now);
	if (zip)
		h_hostcert_zip(&r, host);
	else
		rt->fn(&r);
	if (r.body != NULL)
		json_object_put(r.body);
	ca_set_release(r.cas);
	if (resp->status == 0)
		resp_error(resp, 500, NULL, "internal error: no answer");
}

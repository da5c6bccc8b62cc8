/*
 * fuzz_api.c: request bodies of the HTTPS API's POST handlers.
 *
 * The first byte picks the endpoint (bits 0-1: /v1/hosts/enroll,
 * /v1/certs/user, /v1/hosts/renew, /auth/agent/nix; bit 2: leave the
 * admin Authorization header out), the rest is the body. A state
 * directory is made once: CAs written with libtrasa, a database with the
 * users "fuzz" and "off" (disabled), an admin token and an enrolled host
 * "fuzzhost" with fixed secrets (see make_corpus.sh, keep in sync):
 *
 *   admin token      FUZZ_ADMIN    (Bearer value for /v1/certs/user)
 *   host credential  FUZZ_CRED     (serviceKey of serviceID "fuzzhost")
 *
 * So that inputs reach the paths behind single-use secrets, these
 * placeholders in the body are replaced before each call:
 *   @TOKEN@  a fresh enrolment token for host "fuzzhost2" (principals
 *            "fuzzhost2.example.com", "192.0.2.7")
 *   @CHAL@   a fresh renewal challenge of "fuzzhost"
 *   @SIG@    base64 of fuzzhost's signature over it (Ed25519)
 *   @TOTP@   the current TOTP code of user "fuzz"
 *
 * With $FUZZ_API_VERBOSE set, every answer is printed on stderr.
 *
 * Invariants: a status in 200..599; every answer is a JSON object; an
 * error (>= 400) carries a string "error"; a 200 of /v1/certs/user or
 * /v1/hosts/renew carries a certificate signed by the right CA.
 */
#include <ftw.h>
#include <json-c/json.h>
#include <liboath/oath.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ADMIN "fuzz-admin-token-AAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FUZZ_CRED "fuzz-host-credential-AAAAAAAAAAAAAAAAAAAAAA"
#define FUZZ_HOST "fuzzhost"
#define FUZZ_HOST2 "fuzzhost2"
#define MAX_OUT (GW_MAX_BODY + 4096)

static const uint8_t totp_secret[20] = "fuzz-totp-secret-20b";

static struct {
	int ready;
	char dir[512];
	struct gw gw;
	struct gw_api *api;
	struct gw_db *db; /* the harness's own connection */
	struct sshkey *user_ca, *host_ca, *host_key;
	char auth[128];
	int verbose; /* $FUZZ_API_VERBOSE: print each answer */
} S;

static void
die(const char *what, int e)
{
	fprintf(stderr, "fuzz_api: setup: %s: %s\n", what,
	    e != 0 ? trasa_strerror(e) : "failed");
	abort();
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
cleanup(void)
{
	if (S.api != NULL) {
		gw_api_thread_end(S.api);
		gw_api_free(S.api);
		S.api = NULL;
	}
	gw_db_close(S.db);
	S.db = NULL;
	if (S.dir[0] != '\0')
		nftw(S.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
write_ca(const char *name, const char *comment, struct sshkey **keep)
{
	struct sshkey *k = NULL;
	struct tbuf *b;
	char path[600], *line = NULL;
	int e;

	if ((e = sshkey_generate(SSHKEY_ED25519, 0, &k)) != 0)
		die("CA key", e);
	if ((b = tbuf_new()) == NULL ||
	    (e = sshkey_private_to_pkcs8(k, NULL, b)) != 0)
		die("CA key", e);
	snprintf(path, sizeof(path), "%s/ca/%s", S.dir, name);
	if ((e = fileio_write(path, tbuf_ptr(b), tbuf_len(b), 0600, 0)) != 0)
		die(path, e);
	tbuf_reset(b);
	if ((e = sshkey_format_public(k, comment, &line)) != 0 ||
	    (e = tbuf_put(b, line, strlen(line))) != 0 ||
	    (e = tbuf_put_u8(b, '\n')) != 0)
		die("CA .pub", e);
	snprintf(path, sizeof(path), "%s/ca/%s.pub", S.dir, name);
	if ((e = fileio_write(path, tbuf_ptr(b), tbuf_len(b), 0644, 0)) != 0)
		die(path, e);
	tbuf_free(b);
	free(line);
	*keep = k;
}

static void
setup(void)
{
	static char name_fuzz[] = "fuzz", name_off[] = "off";
	static char p1[] = "fuzzhost", p2[] = "fuzzhost.example.com";
	static char *princ[] = { p1, p2 };
	const char *tmp = getenv("TMPDIR");
	struct gw_user u;
	uint8_t hash[32], chash[32];
	char path[600], *line = NULL;
	int e;

	snprintf(S.dir, sizeof(S.dir), "%s/trasa-fuzzapi.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(S.dir) == NULL) {
		S.dir[0] = '\0';
		die("mkdtemp", TRASA_ERR_IO);
	}
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/ca", S.dir);
	if (mkdir(path, 0700) != 0)
		die(path, TRASA_ERR_IO);
	write_ca("user_ca", "trasa-user-ca", &S.user_ca);
	write_ca("host_ca", "trasa-host-ca", &S.host_ca);
	snprintf(path, sizeof(path), "%s/gateway.conf", S.dir);
	if ((e = fileio_write(path, "", 0, 0600, 0)) != 0)
		die(path, e);
	if (gw_config_load(path, &S.gw.cfg) != 0)
		die("config", 0);
	S.gw.state_dir = S.dir;

	if ((e = gw_db_open(S.dir, GW_DB_CREATE, &S.db)) != 0)
		die("database", e);
	memset(&u, 0, sizeof(u));
	u.name = name_fuzz;
	if ((e = gw_db_user_add(S.db, &S.gw.cfg, &u, NULL, NULL)) != 0)
		die("user", e);
	u.name = name_off;
	if ((e = gw_db_user_add(S.db, &S.gw.cfg, &u, NULL, NULL)) != 0 ||
	    (e = gw_db_user_set_disabled(S.db, "off", 1)) != 0 ||
	    (e = gw_db_user_set_totp(S.db, "fuzz", totp_secret,
		 sizeof(totp_secret))) != 0)
		die("user", e);
	gw_secret_hash(FUZZ_ADMIN, strlen(FUZZ_ADMIN), hash);
	if ((e = gw_db_admin_token_add(S.db, "fuzz", hash)) != 0)
		die("admin token", e);

	/* fuzzhost, enrolled with a known key and credential. */
	if ((e = sshkey_generate(SSHKEY_ED25519, 0, &S.host_key)) != 0 ||
	    (e = sshkey_format_public(S.host_key, NULL, &line)) != 0)
		die("host key", e);
	gw_secret_hash("fuzz-setup-token", 16, hash);
	gw_secret_hash(FUZZ_CRED, strlen(FUZZ_CRED), chash);
	if ((e = gw_db_token_add(S.db, FUZZ_HOST, hash, princ, 2,
		 (uint64_t)time(NULL) + 3600)) != 0 ||
	    (e = gw_db_host_enroll(S.db, hash, (uint64_t)time(NULL), FUZZ_HOST,
		 line, princ, 2, 1, (uint64_t)time(NULL) + 3600, chash)) != 0)
		die("enrolment", e);
	free(line);

	if ((e = gw_api_new(&S.gw, &S.api)) != 0)
		die("gw_api_new", e);
	snprintf(S.auth, sizeof(S.auth), "Bearer %s", FUZZ_ADMIN);
	if (oath_init() != OATH_OK)
		die("oath_init", 0);
	S.verbose = getenv("FUZZ_API_VERBOSE") != NULL;
	S.ready = 1;
}

/* ---------------------------------------------------------------- requests */

struct fake {
	const char *auth;
};

static const char *
fake_header(const struct gw_req *req, const char *name)
{
	const struct fake *f = req->impl;

	if (strcasecmp(name, "Authorization") == 0)
		return f->auth;
	return NULL;
}

static const char *
fake_arg(const struct gw_req *req, const char *name)
{
	(void)req;
	(void)name;
	return NULL;
}

/* Append n bytes to out (capped). */
static void
put(uint8_t *out, size_t *len, const void *p, size_t n)
{
	if (n > MAX_OUT - *len)
		n = MAX_OUT - *len;
	memcpy(out + *len, p, n);
	*len += n;
}

static int
has(const uint8_t *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle)) != NULL;
}

/* Fresh values for the placeholders the input uses. */
struct subst {
	char token[44], chal[44], totp[16];
	char *sig;
};

static void
make_subst(const uint8_t *p, size_t len, struct subst *s)
{
	static char p1[] = "fuzzhost2.example.com", p2[] = "192.0.2.7";
	static char *princ[] = { p1, p2 };
	struct tbuf *data = NULL, *sig = NULL;
	uint8_t hash[32];
	uint64_t now = (uint64_t)time(NULL);

	memset(s, 0, sizeof(*s));
	if (has(p, len, "@TOKEN@") && gw_secret_new(s->token, hash) == 0 &&
	    gw_db_token_add(S.db, FUZZ_HOST2, hash, princ, 2, now + 600) != 0)
		abort();
	if ((has(p, len, "@CHAL@") || has(p, len, "@SIG@")) &&
	    gw_secret_new(s->chal, hash) == 0) {
		if (gw_db_challenge_add(S.db, FUZZ_HOST, s->chal, now + 60) !=
		    0)
			abort();
		if ((data = tbuf_new()) == NULL || (sig = tbuf_new()) == NULL ||
		    tbuf_put_cstring(data, "trasa-host-renew-v1") != 0 ||
		    tbuf_put_cstring(data, FUZZ_HOST) != 0 ||
		    tbuf_put_cstring(data, s->chal) != 0 ||
		    sshkey_sign(S.host_key, NULL, tbuf_ptr(data),
			tbuf_len(data), sig) != 0 ||
		    tbuf_to_base64(sig, &s->sig) != 0)
			abort();
		tbuf_free(data);
		tbuf_free(sig);
	}
	if (has(p, len, "@TOTP@") &&
	    oath_totp_generate((const char *)totp_secret, sizeof(totp_secret),
		(time_t)now, 30, 0, 6, s->totp) != OATH_OK)
		abort();
}

/* The body with the placeholders replaced. */
static size_t
substitute(const uint8_t *p, size_t len, const struct subst *s, uint8_t *out)
{
	static const char *const names[] = { "@TOKEN@", "@CHAL@", "@SIG@",
		"@TOTP@" };
	const char *vals[4];
	size_t o = 0, i, k, n;

	vals[0] = s->token;
	vals[1] = s->chal;
	vals[2] = s->sig != NULL ? s->sig : "";
	vals[3] = s->totp;
	for (i = 0; i < len;) {
		for (k = 0; k < 4; k++) {
			n = strlen(names[k]);
			if (len - i >= n && memcmp(p + i, names[k], n) == 0)
				break;
		}
		if (k < 4) {
			put(out, &o, vals[k], strlen(vals[k]));
			i += strlen(names[k]);
		} else {
			put(out, &o, p + i, 1);
			i++;
		}
	}
	return o;
}

/* A 200 certificate answer: the certificate verifies under ca. */
static void
check_cert(struct json_object *o, const struct sshkey *ca,
    enum sshcert_type type)
{
	const struct sshkey *cas[1] = { ca };
	struct sshcert_policy pol;
	struct json_object *v;
	struct sshkey *cert = NULL;

	if (!json_object_object_get_ex(o, "certificate", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    sshkey_parse_public(json_object_get_string(v), &cert, NULL) != 0 ||
	    !sshkey_is_cert(cert))
		abort();
	memset(&pol, 0, sizeof(pol));
	pol.type = type;
	pol.now = (uint64_t)time(NULL);
	pol.skew = 120;
	if (sshcert_check(cert, cas, 1, NULL, &pol) != 0)
		abort();
	if (!json_object_object_get_ex(o, "serial", &v) ||
	    json_object_get_uint64(v) != sshcert_serial(cert))
		abort();
	sshkey_free(cert);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[4] = { "/v1/hosts/enroll",
		"/v1/certs/user", "/v1/hosts/renew", "/auth/agent/nix" };
	static uint8_t body[MAX_OUT];
	struct json_object *o, *v;
	struct gw_resp resp;
	struct gw_req req;
	struct fake f;
	struct subst s;
	unsigned which;
	size_t len;
	char *text;

	if (!S.ready)
		setup();
	if (size < 1)
		return 0;
	which = data[0] & 3;
	f.auth = (data[0] & 4) ? NULL : S.auth;
	make_subst(data + 1, size - 1, &s);
	len = substitute(data + 1, size - 1, &s, body);

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = paths[which];
	req.arg = fake_arg;
	req.header = fake_header;
	req.impl = &f;
	req.body = body;
	req.body_len = len;
	req.peer = "192.0.2.1";
	gw_api_handle(S.api, &req, &resp);
	free(s.sig);
	if (S.verbose)
		fprintf(stderr, "%s -> %u %.*s\n", req.path, resp.status,
		    (int)(resp.len < 120 ? resp.len - (resp.len > 0) : 120),
		    resp.body != NULL ? (const char *)resp.body : "");

	if (resp.status < 200 || resp.status > 599 || resp.content_type == NULL)
		abort();
	if (resp.body == NULL || resp.len == 0 ||
	    strcmp(resp.content_type, "application/json") != 0 ||
	    (text = strndup((const char *)resp.body, resp.len)) == NULL)
		abort();
	if ((o = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		abort();
	if (resp.status >= 400 &&
	    (!json_object_object_get_ex(o, "error", &v) ||
		!json_object_is_type(v, json_type_string)))
		abort();
	if (resp.status == 200 && which == 1)
		check_cert(o, S.user_ca, SSHCERT_USER);
	if (resp.status == 200 && (which == 0 || which == 2))
		check_cert(o, S.host_ca, SSHCERT_HOST);
	if (which == 3 && resp.status == 200 &&
	    (!json_object_object_get_ex(o, "status", &v) ||
		!json_object_is_type(v, json_type_string)))
		abort();
	/* Without the admin token there is no user certificate. */
	if (which == 1 && f.auth == NULL && resp.status != 401)
		abort();
	json_object_put(o);
	free(text);
	free(resp.body);
	return 0;
}

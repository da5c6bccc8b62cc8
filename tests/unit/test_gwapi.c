/*
 * test_gwapi.c: the HTTPS API's handlers (gateway/api.c), called directly
 * with fake requests against a real state directory: CAs written with
 * libtrasa in the layout of doc/PROTOCOL.md section 2, a real database.
 * Certificates are judged with sshcert_check(), KRLs read with
 * krl_parse(), the zip read back with libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "api.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"
#include "testutil.h"

static struct gw gw;
static struct gw_api *api;
static char state[512];
static struct sshkey *user_ca, *host_ca; /* private */
static char admin_tok[44];
static char *user_ca_line, *host_ca_line;
static char name_alice[] = "alice", name_bob[] = "bob", name_ops[] = "ops";

/* ---------------------------------------------------------------- fakes */

#define MAXKV 6
struct fake {
	const char *hname[MAXKV], *hval[MAXKV];
	const char *aname[MAXKV], *aval[MAXKV];
	size_t nh, na;
};

static const char *
fake_header(const struct gw_req *req, const char *name)
{
	const struct fake *f = req->impl;
	size_t i;

	for (i = 0; i < f->nh; i++)
		if (strcasecmp(f->hname[i], name) == 0)
			return f->hval[i];
	return NULL;
}

static const char *
fake_arg(const struct gw_req *req, const char *name)
{
	const struct fake *f = req->impl;
	size_t i;

	for (i = 0; i < f->na; i++)
		if (strcmp(f->aname[i], name) == 0)
			return f->aval[i];
	return NULL;
}

struct call {
	const char *method, *path, *body;
	const char *bearer;	     /* Authorization: Bearer X */
	const char *inm;	     /* If-None-Match */
	const char *args[2 * MAXKV]; /* name, value pairs, NULL-ended */
};

/* Run one request; the caller frees resp->body. */
static void
run(const struct call *c, struct gw_resp *resp)
{
	char auth[128];
	struct fake f;
	struct gw_req req;
	size_t i;

	memset(&f, 0, sizeof(f));
	memset(&req, 0, sizeof(req));
	if (c->bearer != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", c->bearer);
		f.hname[f.nh] = "Authorization";
		f.hval[f.nh++] = auth;
	}
	if (c->inm != NULL) {
		f.hname[f.nh] = "If-None-Match";
		f.hval[f.nh++] = c->inm;
	}
	for (i = 0; i < 2 * MAXKV && c->args[i] != NULL; i += 2) {
		f.aname[f.na] = c->args[i];
		f.aval[f.na++] = c->args[i + 1];
	}
	req.method = c->method;
	req.path = c->path;
	req.arg = fake_arg;
	req.header = fake_header;
	req.impl = &f;
	req.body = (const uint8_t *)c->body;
	req.body_len = c->body != NULL ? strlen(c->body) : 0;
	req.peer = "127.0.0.1";
	gw_api_handle(api, &req, resp);
	assert_true(resp->status >= 200 && resp->status <= 599);
	assert_non_null(resp->content_type);
}

/* The response body as JSON (asserting it is an object). */
static struct json_object *
body_json(const struct gw_resp *resp)
{
	struct json_object *o;
	char *s;

	assert_non_null(resp->body);
	s = strndup((const char *)resp->body, resp->len);
	assert_non_null(s);
	o = json_tokener_parse(s);
	free(s);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static uint64_t
jnum(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

/*
 * Expect an error: status, and (when not NULL) the field named and a
 * piece of the message.
 */
static void
expect_error(const struct call *c, unsigned status, const char *field,
    const char *msg_part)
{
	struct gw_resp resp;
	struct json_object *o, *v;

	run(c, &resp);
	if (resp.status != status)
		fprintf(stderr, "%s %s: got %u: %.*s\n", c->method, c->path,
		    resp.status, (int)resp.len, (const char *)resp.body);
	assert_int_equal(resp.status, status);
	assert_string_equal(resp.content_type, "application/json");
	o = body_json(&resp);
	assert_true(json_object_object_get_ex(o, "error", &v));
	if (msg_part != NULL &&
	    strstr(json_object_get_string(v), msg_part) == NULL) {
		fprintf(stderr, "message '%s' lacks '%s'\n",
		    json_object_get_string(v), msg_part);
		fail();
	}
	if (field != NULL)
		assert_string_equal(jstr(o, "field"), field);
	else
		assert_false(json_object_object_get_ex(o, "field", &v));
	json_object_put(o);
	free(resp.body);
}

/* Expect 200 and a JSON object (returned; the body is freed). */
static struct json_object *
expect_ok(const struct call *c)
{
	struct gw_resp resp;
	struct json_object *o;

	run(c, &resp);
	if (resp.status != 200)
		fprintf(stderr, "%s %s: got %u: %.*s\n", c->method, c->path,
		    resp.status, (int)resp.len, (const char *)resp.body);
	assert_int_equal(resp.status, 200);
	o = body_json(&resp);
	free(resp.body);
	return o;
}

/* ---------------------------------------------------------------- setup */

static void
write_ca(const char *name, const char *comment, struct sshkey **keep,
    char **line_out)
{
	struct sshkey *k = NULL;
	struct tbuf *b;
	char path[600], *line = NULL;

	assert_int_equal(sshkey_generate(SSHKEY_ED25519, 0, &k), 0);
	assert_non_null(b = tbuf_new());
	assert_int_equal(sshkey_private_to_pkcs8(k, NULL, b), 0);
	snprintf(path, sizeof(path), "%s/ca/%s", state, name);
	assert_int_equal(fileio_write(path, tbuf_ptr(b), tbuf_len(b), 0600, 0),
	    0);
	tbuf_free(b);
	assert_int_equal(sshkey_format_public(k, comment, &line), 0);
	snprintf(path, sizeof(path), "%s/ca/%s.pub", state, name);
	assert_non_null(b = tbuf_new());
	assert_int_equal(tbuf_put(b, line, strlen(line)), 0);
	assert_int_equal(tbuf_put_u8(b, '\n'), 0);
	assert_int_equal(fileio_write(path, tbuf_ptr(b), tbuf_len(b), 0644, 0),
	    0);
	tbuf_free(b);
	*keep = k;
	*line_out = line;
}

static struct gw_db *
db_open(void)
{
	struct gw_db *db = NULL;

	assert_int_equal(gw_db_open(state, 0, &db), 0);
	return db;
}

static int
setup(void **unused)
{
	struct gw_db *db = NULL;
	struct gw_user u;
	uint8_t hash[32];
	char path[600];

	(void)unused;
	snprintf(state, sizeof(state), "%s", tu_path("state"));
	assert_int_equal(mkdir(state, 0700), 0);
	snprintf(path, sizeof(path), "%s/ca", state);
	assert_int_equal(mkdir(path, 0700), 0);
	write_ca("user_ca", "trasa-user-ca", &user_ca, &user_ca_line);
	write_ca("host_ca", "trasa-host-ca", &host_ca, &host_ca_line);

	snprintf(path, sizeof(path), "%s", tu_path("gateway.conf"));
	assert_int_equal(fileio_write(path, "", 0, 0600, 0), 0);
	assert_int_equal(gw_config_load(path, &gw.cfg), 0);
	gw.state_dir = state;

	assert_int_equal(gw_db_open(state, GW_DB_CREATE, &db), 0);
	memset(&u, 0, sizeof(u));
	u.name = name_alice;
	assert_int_equal(gw_db_user_add(db, &gw.cfg, &u, NULL, NULL), 0);
	u.name = name_bob;
	assert_int_equal(gw_db_user_add(db, &gw.cfg, &u, NULL, NULL), 0);
	assert_int_equal(gw_db_user_set_disabled(db, "bob", 1), 0);
	assert_int_equal(gw_db_group_add(db, &gw.cfg, "ops", 0, NULL), 0);
	assert_int_equal(gw_db_group_member(db, "ops", "alice", 1), 0);
	assert_int_equal(gw_secret_new(admin_tok, hash), 0);
	assert_int_equal(gw_db_admin_token_add(db, "root", hash), 0);
	gw_db_close(db);

	assert_int_equal(gw_api_new(&gw, &api), 0);
	return 0;
}

static int
teardown(void **unused)
{
	(void)unused;
	gw_api_thread_end(api);
	gw_api_free(api);
	sshkey_free(user_ca);
	sshkey_free(host_ca);
	free(user_ca_line);
	free(host_ca_line);
	gw_config_free(&gw.cfg);
	return 0;
}

static char *
new_pubkey(struct sshkey **priv_out)
{
	struct sshkey *k = NULL;
	char *line = NULL;

	assert_int_equal(sshkey_generate(SSHKEY_ED25519, 0, &k), 0);
	assert_int_equal(sshkey_format_public(k, "test", &line), 0);
	if (priv_out != NULL)
		*priv_out = k;
	else
		sshkey_free(k);
	return line;
}

static struct sshkey *
parse_cert(const char *text)
{
	struct sshkey *c = NULL;

	assert_int_equal(sshkey_parse_public(text, &c, NULL), 0);
	assert_true(sshkey_is_cert(c));
	return c;
}

/* ---------------------------------------------------------------- distribution */

static void
test_distribution(void **unused)
{
	struct call c = { "GET", "/v1/ca/user", NULL, NULL, NULL, { NULL } };
	struct gw_resp resp;
	char want[1024];

	(void)unused;
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	snprintf(want, sizeof(want), "%s\n", user_ca_line);
	assert_int_equal(resp.len, strlen(want));
	assert_memory_equal(resp.body, want, resp.len);
	free(resp.body);

	c.path = "/v1/ca/host";
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	snprintf(want, sizeof(want), "%s\n", host_ca_line);
	assert_int_equal(resp.len, strlen(want));
	assert_memory_equal(resp.body, want, resp.len);
	free(resp.body);

	c.path = "/v1/known_hosts";
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	snprintf(want, sizeof(want), "@cert-authority * %.*s\n",
	    (int)(strrchr(host_ca_line, ' ') - host_ca_line), host_ca_line);
	assert_int_equal(resp.len, strlen(want));
	assert_memory_equal(resp.body, want, resp.len);
	free(resp.body);

	c.args[0] = "pattern";
	c.args[1] = "*.example.com,10.0.0.*";
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(resp.len > 40);
	assert_memory_equal(resp.body,
	    "@cert-authority *.example.com,10.0.0.* ssh-ed25519 ", 51);
	free(resp.body);
	c.args[1] = "a b";
	expect_error(&c, 400, "pattern", "blank");
	c.args[1] = "a\tb";
	expect_error(&c, 400, "pattern", NULL);
	c.args[1] = "";
	expect_error(&c, 400, "pattern", NULL);

	/* Unknown path, wrong method. */
	c.args[0] = NULL;
	c.path = "/v1/nothing";
	expect_error(&c, 404, NULL, NULL);
	c.path = "/v1/certs/user";
	expect_error(&c, 405, NULL, NULL);
	c.method = "POST";
	c.path = "/v1/ca/user";
	expect_error(&c, 405, NULL, NULL);
	c.method = "GET";
	c.path = "/v1/services/x/other.zip";
	expect_error(&c, 404, NULL, NULL);
}

/* ---------------------------------------------------------------- user certs */

static void
test_cert_user(void **unused)
{
	struct call c = { "POST", "/v1/certs/user", NULL, admin_tok, NULL,
		{ NULL } };
	struct json_object *o;
	struct sshkey *cert, *subj = NULL;
	const struct sshkey *cas[1] = { user_ca };
	struct sshcert_policy pol;
	char body[4096], *pub;
	uint64_t now = (uint64_t)time(NULL);

	(void)unused;
	pub = new_pubkey(&subj);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": "
	    "\"%s\"}",
	    pub);
	c.body = body;
	o = expect_ok(&c);
	cert = parse_cert(jstr(o, "certificate"));
	assert_true(sshkey_equal_public(cert, subj));
	assert_int_equal(sshcert_type(cert), SSHCERT_USER);
	assert_int_equal(jnum(o, "serial"), sshcert_serial(cert));
	assert_true(sshcert_serial(cert) != 0);
	assert_string_equal(jstr(o, "key_id"), sshcert_key_id(cert));
	assert_non_null(strstr(jstr(o, "key_id"), "alice"));
	assert_int_equal(jnum(o, "valid_after"), sshcert_valid_after(cert));
	assert_int_equal(jnum(o, "valid_before"), sshcert_valid_before(cert));
	/* Default TTL, back-dated by 60 s. */
	assert_int_equal(sshcert_valid_before(cert) - sshcert_valid_after(cert),
	    gw.cfg.user_ttl + 60);
	assert_true(sshcert_valid_after(cert) + 60 >= now &&
	    sshcert_valid_after(cert) + 60 <= now + 5);
	assert_int_equal(sshcert_nprincipals(cert), 1);
	assert_string_equal(sshcert_principal(cert, 0), "alice");
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_USER;
	pol.principal = "alice";
	pol.now = now;
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	/* The host CA does not vouch for it. */
	cas[0] = host_ca;
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol),
	    TRASA_ERR_UNKNOWN_CA);
	sshkey_free(cert);
	json_object_put(o);

	/* Principals and TTL. */
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": "
	    "\"%s\", \"principals\": [\"alice\", \"root\"], \"ttl\": 120}",
	    pub);
	o = expect_ok(&c);
	cert = parse_cert(jstr(o, "certificate"));
	assert_int_equal(sshcert_nprincipals(cert), 2);
	assert_string_equal(sshcert_principal(cert, 1), "root");
	assert_int_equal(sshcert_valid_before(cert) - sshcert_valid_after(cert),
	    180);
	sshkey_free(cert);
	json_object_put(o);
	free(pub);
	sshkey_free(subj);
}

/*
 * A revoked admin token and a disabled user are refused within the
 * threads' cache time (1 s): at the latest two seconds later.
 */
static void
test_cert_user_revocation_is_prompt(void **unused)
{
	struct call c = { "POST", "/v1/certs/user", NULL, NULL, NULL,
		{ NULL } };
	struct gw_db *db = NULL;
	struct json_object *o;
	uint8_t hash[32];
	char tok[44], body[4096], *pub;

	(void)unused;
	pub = new_pubkey(NULL);
	assert_int_equal(gw_db_open(state, 0, &db), 0);
	assert_int_equal(gw_secret_new(tok, hash), 0);
	assert_int_equal(gw_db_admin_token_add(db, "shortlived", hash), 0);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	c.body = body;
	c.bearer = tok;
	o = expect_ok(&c);
	json_object_put(o);
	assert_int_equal(gw_db_admin_token_revoke(db, "shortlived"), 0);
	sleep(2);
	expect_error(&c, 401, NULL, "revoked");

	/* The same for a user disabled after a certificate. */
	c.bearer = admin_tok;
	o = expect_ok(&c);
	json_object_put(o);
	assert_int_equal(gw_db_user_set_disabled(db, "alice", 1), 0);
	sleep(2);
	expect_error(&c, 403, "user", "disabled");
	assert_int_equal(gw_db_user_set_disabled(db, "alice", 0), 0);
	sleep(2);
	o = expect_ok(&c);
	json_object_put(o);
	gw_db_close(db);
	free(pub);
}

static void
test_cert_user_errors(void **unused)
{
	struct call c = { "POST", "/v1/certs/user", NULL, admin_tok, NULL,
		{ NULL } };
	char body[8192], *pub, *pubrsa = NULL, *cert;
	struct json_object *o;
	size_t i, n;

	(void)unused;
	pub = new_pubkey(NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	c.body = body;

	/* Authentication. */
	c.bearer = NULL;
	expect_error(&c, 401, NULL, "missing Authorization: Bearer token");
	c.bearer = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	expect_error(&c, 401, NULL, NULL);
	c.bearer = "";
	expect_error(&c, 401, NULL, NULL);
	c.bearer = admin_tok;

	/* Malformed bodies. */
	c.body = "";
	expect_error(&c, 400, NULL, NULL);
	c.body = "{\"user\": \"alice\"";
	expect_error(&c, 400, NULL, "invalid JSON");
	c.body = "{\"user\": \"alice\",}";
	expect_error(&c, 400, NULL, "invalid JSON");
	c.body = "[\"alice\"]";
	expect_error(&c, 400, NULL, "not a JSON object");
	c.body = "\"alice\"";
	expect_error(&c, 400, NULL, NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"} x", pub);
	c.body = body;
	expect_error(&c, 400, NULL, "after the object");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}{}", pub);
	expect_error(&c, 400, NULL, "after the object");
	c.body =
	    "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]}";
	expect_error(&c, 400, NULL, "invalid JSON");
	c.body = body;

	/* Wrong types, unknown and missing fields. */
	snprintf(body, sizeof(body), "{\"user\": 5, \"public_key\": \"%s\"}",
	    pub);
	expect_error(&c, 400, "user", "not a string");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"ttl\": \"300\"}",
	    pub);
	expect_error(&c, 400, "ttl", "not an integer");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"ttl\": 1.5}", pub);
	expect_error(&c, 400, "ttl", NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"ttl\": -5}", pub);
	expect_error(&c, 400, "ttl", NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "\"alice\"}",
	    pub);
	expect_error(&c, 400, "principals", NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "[\"alice\", 7]}",
	    pub);
	expect_error(&c, 400, "principals", "principals[1]: not a string");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": []}",
	    pub);
	expect_error(&c, 400, "principals", NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"admin\": true}",
	    pub);
	expect_error(&c, 400, "admin", "unknown field");
	c.body = "{\"user\": \"alice\"}";
	expect_error(&c, 400, "public_key", "missing");
	c.body = body;

	/* Principals: control characters, commas, blanks, too many. */
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "[\"alice\", \"a\\u0001b\"]}",
	    pub);
	expect_error(&c, 400, "principals",
	    "principals[1]: holds a control character");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "[\"a\\u0000b\"]}",
	    pub);
	expect_error(&c, 400, "principals", "principals[0]");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "[\"a,b\"]}",
	    pub);
	expect_error(&c, 400, "principals", "comma");
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": "
	    "[\"a b\"]}",
	    pub);
	expect_error(&c, 400, "principals", "blank");
	n = (size_t)snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"principals\": [",
	    pub);
	for (i = 0; i <= gw.cfg.max_principals; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"p%zu\"",
		    i > 0 ? ", " : "", i);
	snprintf(body + n, sizeof(body) - n, "]}");
	expect_error(&c, 400, "principals", "more than");

	/* TTL over the maximum. */
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\", \"ttl\": %llu}", pub,
	    (unsigned long long)gw.cfg.user_max_ttl + 1);
	expect_error(&c, 400, "ttl", NULL);

	/* Keys: garbage, a weak RSA key, a certificate. */
	c.body = "{\"user\": \"alice\", \"public_key\": \"ssh-ed25519 AAAA\"}";
	expect_error(&c, 400, "public_key", "public_key: ");
	tu_keygen("rsa-1024", "weak");
	assert_non_null(pubrsa = (char *)tu_read(tu_path("weak.pub"), NULL));
	pubrsa[strcspn(pubrsa, "\n")] = '\0';
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pubrsa);
	c.body = body;
	expect_error(&c, 400, "public_key",
	    trasa_strerror(TRASA_ERR_KEY_TOO_SMALL));
	free(pubrsa);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	o = expect_ok(&c);
	assert_non_null(cert = strdup(jstr(o, "certificate")));
	json_object_put(o);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", cert);
	expect_error(&c, 400, "public_key", "certificate");
	free(cert);

	/* Users: unknown, disabled, bad name. */
	snprintf(body, sizeof(body),
	    "{\"user\": \"carol\", \"public_key\": \"%s\"}", pub);
	expect_error(&c, 404, "user", NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"bob\", \"public_key\": \"%s\"}", pub);
	expect_error(&c, 403, "user", "disabled");
	snprintf(body, sizeof(body),
	    "{\"user\": \"a b\", \"public_key\": \"%s\"}", pub);
	expect_error(&c, 400, "user", NULL);
	free(pub);
}

/* ---------------------------------------------------------------- hosts */

static char host_cred[64];
static struct sshkey *host_key; /* web1's private key */

/* A fresh enrolment token from the API. */
static char *
api_token(const char *host, const char *principals_json)
{
	struct call c = { "POST", "/v1/hosts/tokens", NULL, admin_tok, NULL,
		{ NULL } };
	char body[1024], *tok;
	struct json_object *o;
	uint64_t now = (uint64_t)time(NULL);

	snprintf(body, sizeof(body), "{\"hostname\": \"%s\"%s%s, \"ttl\": 600}",
	    host, principals_json != NULL ? ", \"principals\": " : "",
	    principals_json != NULL ? principals_json : "");
	c.body = body;
	o = expect_ok(&c);
	assert_int_equal(strlen(jstr(o, "token")), 43);
	assert_true(
	    jnum(o, "expires") >= now + 600 && jnum(o, "expires") <= now + 605);
	tok = strdup(jstr(o, "token"));
	json_object_put(o);
	return tok;
}

static void
test_tokens(void **unused)
{
	struct call c = { "POST", "/v1/hosts/tokens", NULL, admin_tok, NULL,
		{ NULL } };
	char body[256];

	(void)unused;
	c.bearer = NULL;
	c.body = "{\"hostname\": \"web9\"}";
	expect_error(&c, 401, NULL, NULL);
	c.bearer = admin_tok;
	snprintf(body, sizeof(body), "{\"hostname\": \"web9\", \"ttl\": %llu}",
	    (unsigned long long)gw.cfg.token_max_ttl + 1);
	c.body = body;
	expect_error(&c, 400, "ttl", NULL);
	c.body = "{\"hostname\": \"web 9\"}";
	expect_error(&c, 400, "hostname", NULL);
	c.body = "{\"hostname\": \"web9\", \"principals\": [\"x\\ny\"]}";
	expect_error(&c, 400, "principals", "control");
	c.body = "{\"host\": \"web9\"}";
	expect_error(&c, 400, "host", "unknown field");
}

static void
test_enroll(void **unused)
{
	struct call c = { "POST", "/v1/hosts/enroll", NULL, NULL, NULL,
		{ NULL } };
	const struct sshkey *cas[1] = { host_ca };
	struct sshcert_policy pol;
	struct json_object *o, *arr;
	struct sshkey *cert;
	struct gw_db *db;
	uint8_t hash[32];
	char body[4096], *pub, *tok, exp_tok[44];
	uint64_t now = (uint64_t)time(NULL);

	(void)unused;
	pub = new_pubkey(&host_key);
	tok = api_token("web1", "[\"web1.example.com\", \"10.0.0.5\"]");

	/* Principals beyond the token's: refused, token still usable. */
	snprintf(body, sizeof(body),
	    "{\"token\": \"%s\", \"hostname\": \"web1\", \"principals\": "
	    "[\"web1\", \"evil.example.com\"], \"public_key\": \"%s\"}",
	    tok, pub);
	c.body = body;
	expect_error(&c, 403, "principals", "principals[1]");
	/* Another host's name. */
	snprintf(body, sizeof(body),
	    "{\"token\": \"%s\", \"hostname\": \"web2\", \"public_key\": "
	    "\"%s\"}",
	    tok, pub);
	expect_error(&c, 403, "hostname", NULL);
	/* A weak key. */
	snprintf(body, sizeof(body),
	    "{\"token\": \"%s\", \"hostname\": \"web1\", \"public_key\": "
	    "\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC\"}",
	    tok);
	expect_error(&c, 400, "public_key", NULL);

	snprintf(body, sizeof(body),
	    "{\"token\": \"%s\", \"hostname\": \"web1\", \"principals\": "
	    "[\"web1\", \"web1.example.com\", \"10.0.0.5\"], \"public_key\": "
	    "\"%s\"}",
	    tok, pub);
	o = expect_ok(&c);
	cert = parse_cert(jstr(o, "certificate"));
	assert_true(sshkey_equal_public(cert, host_key));
	assert_int_equal(sshcert_type(cert), SSHCERT_HOST);
	assert_int_equal(jnum(o, "serial"), sshcert_serial(cert));
	assert_int_equal(jnum(o, "valid_before"), sshcert_valid_before(cert));
	assert_int_equal(sshcert_valid_before(cert), now + gw.cfg.host_ttl);
	assert_int_equal(sshcert_nprincipals(cert), 3);
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_HOST;
	pol.principal = "10.0.0.5";
	pol.now = now;
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	assert_int_equal(sshcert_ncritical(cert), 0);
	sshkey_free(cert);
	assert_true(json_object_object_get_ex(o, "user_ca_keys", &arr));
	assert_int_equal(json_object_array_length(arr), 1);
	assert_string_equal(json_object_get_string(
				json_object_array_get_idx(arr, 0)),
	    user_ca_line);
	assert_int_equal(strlen(jstr(o, "host_credential")), 43);
	snprintf(host_cred, sizeof(host_cred), "%s",
	    jstr(o, "host_credential"));
	json_object_put(o);

	/* Used token. */
	expect_error(&c, 403, "token", "token");
	/* Unknown token. */
	snprintf(body, sizeof(body),
	    "{\"token\": \"nope\", \"hostname\": \"web1\", \"public_key\": "
	    "\"%s\"}",
	    pub);
	expect_error(&c, 403, "token", NULL);
	/* Expired token. */
	db = db_open();
	assert_int_equal(gw_secret_new(exp_tok, hash), 0);
	assert_int_equal(gw_db_token_add(db, "web3", hash, NULL, 0, now - 10),
	    0);
	gw_db_close(db);
	snprintf(body, sizeof(body),
	    "{\"token\": \"%s\", \"hostname\": \"web3\", \"public_key\": "
	    "\"%s\"}",
	    exp_tok, pub);
	expect_error(&c, 403, "token", "expired");
	/* Missing field, unknown field. */
	c.body = "{\"token\": \"x\", \"hostname\": \"web1\"}";
	expect_error(&c, 400, "public_key", NULL);
	c.body = "{\"token\": \"x\", \"hostname\": \"web1\", \"x\": 1}";
	expect_error(&c, 400, "x", NULL);
	free(tok);
	free(pub);
}

/* Sign the renewal data with key; base64. */
static char *
renew_sig(const struct sshkey *key, const char *host, const char *chal)
{
	struct tbuf *data, *sig;
	char *b64 = NULL;

	assert_non_null(data = tbuf_new());
	assert_non_null(sig = tbuf_new());
	assert_int_equal(tbuf_put_cstring(data, "trasa-host-renew-v1"), 0);
	assert_int_equal(tbuf_put_cstring(data, host), 0);
	assert_int_equal(tbuf_put_cstring(data, chal), 0);
	assert_int_equal(sshkey_sign(key, NULL, tbuf_ptr(data), tbuf_len(data),
			     sig),
	    0);
	assert_int_equal(tbuf_to_base64(sig, &b64), 0);
	tbuf_free(data);
	tbuf_free(sig);
	return b64;
}

static char *
challenge(const char *host)
{
	struct call c = { "POST", "/v1/hosts/challenge", NULL, NULL, NULL,
		{ NULL } };
	struct json_object *o;
	char body[256], *s;

	snprintf(body, sizeof(body), "{\"hostname\": \"%s\"}", host);
	c.body = body;
	o = expect_ok(&c);
	assert_int_equal(strlen(jstr(o, "challenge")), 43);
	s = strdup(jstr(o, "challenge"));
	json_object_put(o);
	return s;
}

static void
test_renew(void **unused)
{
	struct call c = { "POST", "/v1/hosts/renew", NULL, NULL, NULL,
		{ NULL } };
	const struct sshkey *cas[1] = { host_ca };
	struct sshcert_policy pol;
	struct json_object *o;
	struct sshkey *cert, *other = NULL;
	char body[4096], *chal, *sig;

	(void)unused;
	assert_non_null(host_key);
	c.path = "/v1/hosts/challenge";
	c.body = "{\"hostname\": \"nosuch\"}";
	expect_error(&c, 404, "hostname", NULL);
	c.path = "/v1/hosts/renew";

	chal = challenge("web1");
	sig = renew_sig(host_key, "web1", chal);
	snprintf(body, sizeof(body),
	    "{\"hostname\": \"web1\", \"challenge\": \"%s\", \"signature\": "
	    "\"%s\"}",
	    chal, sig);
	c.body = body;
	o = expect_ok(&c);
	cert = parse_cert(jstr(o, "certificate"));
	assert_true(sshkey_equal_public(cert, host_key));
	assert_int_equal(jnum(o, "serial"), sshcert_serial(cert));
	assert_int_equal(jnum(o, "valid_before"), sshcert_valid_before(cert));
	assert_int_equal(sshcert_nprincipals(cert), 3);
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_HOST;
	pol.principal = "web1.example.com";
	pol.now = (uint64_t)time(NULL);
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	sshkey_free(cert);
	json_object_put(o);
	/* The challenge is single use. */
	expect_error(&c, 403, "challenge", NULL);
	free(chal);
	free(sig);

	/* Signed by another key; the challenge is then gone too. */
	assert_int_equal(sshkey_generate(SSHKEY_ED25519, 0, &other), 0);
	chal = challenge("web1");
	sig = renew_sig(other, "web1", chal);
	snprintf(body, sizeof(body),
	    "{\"hostname\": \"web1\", \"challenge\": \"%s\", \"signature\": "
	    "\"%s\"}",
	    chal, sig);
	expect_error(&c, 403, "signature", NULL);
	free(sig);
	/* Signed over another host name. */
	free(chal);
	chal = challenge("web1");
	sig = renew_sig(host_key, "web2", chal);
	snprintf(body, sizeof(body),
	    "{\"hostname\": \"web1\", \"challenge\": \"%s\", \"signature\": "
	    "\"%s\"}",
	    chal, sig);
	expect_error(&c, 403, "signature", NULL);
	free(sig);
	free(chal);
	chal = challenge("web1");
	snprintf(body, sizeof(body),
	    "{\"hostname\": \"web1\", \"challenge\": \"%s\", \"signature\": "
	    "\"!!notbase64\"}",
	    chal);
	expect_error(&c, 400, "signature", NULL);
	free(chal);
	c.body = "{\"hostname\": \"web1\", \"challenge\": \"x\"}";
	expect_error(&c, 400, "signature", "missing");
	sshkey_free(other);
}

/* ---------------------------------------------------------------- directory */

static void
test_directory(void **unused)
{
	struct call c = { "GET", "/v1/hosts/self/directory", NULL, host_cred,
		NULL, { NULL } };
	struct json_object *o, *users, *groups, *login, *u, *v;
	struct gw_resp resp;
	struct gw_db *db;
	char tag[sizeof(resp.etag)], want[sizeof(resp.etag)];
	size_t i;
	int found = 0;

	(void)unused;
	assert_true(host_cred[0] != '\0');
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(strncmp(resp.etag, "\"dir-", 5) == 0);
	snprintf(tag, sizeof(tag), "%s", resp.etag);
	o = body_json(&resp);
	free(resp.body);
	snprintf(want, sizeof(want), "\"dir-%llu\"",
	    (unsigned long long)jnum(o, "generation"));
	assert_string_equal(tag, want);
	assert_true(json_object_object_get_ex(o, "users", &users));
	assert_int_equal(json_object_array_length(users), 2);
	for (i = 0; i < 2; i++) {
		u = json_object_array_get_idx(users, i);
		if (strcmp(jstr(u, "name"), "bob") == 0) {
			assert_true(
			    json_object_object_get_ex(u, "disabled", &v));
			assert_true(json_object_get_boolean(v));
			continue;
		}
		found = 1;
		assert_string_equal(jstr(u, "name"), "alice");
		assert_true(jnum(u, "uid") >= gw.cfg.uid_min);
		assert_non_null(strstr(jstr(u, "home"), "alice"));
		(void)jstr(u, "shell");
		(void)jstr(u, "gecos");
	}
	assert_true(found);
	assert_true(json_object_object_get_ex(o, "groups", &groups));
	assert_true(json_object_array_length(groups) >= 1);
	assert_true(json_object_object_get_ex(o, "login", &login));
	assert_true(json_object_object_get_ex(login, "allow_groups", &v));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(o);

	/* Not modified. */
	c.inm = tag;
	run(&c, &resp);
	assert_int_equal(resp.status, 304);
	assert_int_equal(resp.len, 0);
	assert_string_equal(resp.etag, tag);
	free(resp.body);
	c.inm = "\"dir-0\", W/\"x\"";
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	free(resp.body);

	/* A change makes a new generation and content. */
	db = db_open();
	assert_int_equal(gw_db_host_set_allow_groups(db, "web1",
			     (char *[]){ name_ops }, 1),
	    0);
	gw_db_close(db);
	c.inm = tag;
	/* Seen within the threads' cache time (1 s). */
	sleep(2);
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_not_equal(resp.etag, tag);
	o = body_json(&resp);
	free(resp.body);
	assert_true(json_object_object_get_ex(o, "login", &login));
	assert_true(json_object_object_get_ex(login, "allow_groups", &v));
	assert_int_equal(json_object_array_length(v), 1);
	json_object_put(o);
	c.inm = NULL;

	/* Authentication. */
	c.bearer = NULL;
	expect_error(&c, 401, NULL, "missing Authorization");
	c.bearer = admin_tok; /* not a host credential */
	expect_error(&c, 401, NULL, NULL);
	c.bearer = host_cred;

	/* One user. */
	c.path = "/v1/hosts/self/directory/user";
	c.args[0] = "name";
	c.args[1] = "alice";
	o = expect_ok(&c);
	assert_string_equal(jstr(o, "name"), "alice");
	snprintf(tag, sizeof(tag), "%llu", (unsigned long long)jnum(o, "uid"));
	json_object_put(o);
	c.args[0] = "uid";
	c.args[1] = tag;
	o = expect_ok(&c);
	assert_string_equal(jstr(o, "name"), "alice");
	json_object_put(o);
	c.args[1] = "4000000000";
	expect_error(&c, 404, "uid", NULL);
	c.args[1] = "12x";
	expect_error(&c, 400, "uid", NULL);
	c.args[0] = "name";
	c.args[1] = "nobody";
	expect_error(&c, 404, "name", NULL);
	c.args[0] = NULL;
	expect_error(&c, 400, NULL, NULL);
	c.bearer = NULL;
	c.args[0] = "name";
	expect_error(&c, 401, NULL, NULL);
}

/* ---------------------------------------------------------------- KRL */

static void
test_krl(void **unused)
{
	struct call c = { "GET", "/v1/krl", NULL, NULL, NULL, { NULL } };
	struct call cu = { "POST", "/v1/certs/user", NULL, admin_tok, NULL,
		{ NULL } };
	struct gw_resp resp;
	struct krl *krl = NULL;
	struct sshkey *cert;
	struct json_object *o;
	struct gw_db *db;
	char tag[72], tag2[72], body[1024], *pub, serial[32];

	(void)unused;
	pub = new_pubkey(NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	cu.body = body;
	o = expect_ok(&cu);
	cert = parse_cert(jstr(o, "certificate"));
	json_object_put(o);

	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/octet-stream");
	assert_true(strncmp(resp.etag, "\"krl-", 5) == 0);
	snprintf(tag, sizeof(tag), "%s", resp.etag);
	assert_int_equal(krl_parse(resp.body, resp.len, &krl), 0);
	assert_int_equal(krl_check_key(krl, cert), 0);
	krl_free(krl);
	krl = NULL;
	free(resp.body);

	c.inm = tag;
	run(&c, &resp);
	assert_int_equal(resp.status, 304);
	assert_int_equal(resp.len, 0);
	free(resp.body);

	/* Revoke the certificate: new tag, and the KRL names it. */
	db = db_open();
	snprintf(serial, sizeof(serial), "%llu",
	    (unsigned long long)sshcert_serial(cert));
	assert_int_equal(gw_db_revoke(db, GW_REVOKE_SERIAL, serial, "cli:test"),
	    0);
	gw_db_close(db);
	run(&c, &resp);
	assert_int_equal(resp.status, 200);
	snprintf(tag2, sizeof(tag2), "%s", resp.etag);
	assert_string_not_equal(tag, tag2);
	assert_int_equal(krl_parse(resp.body, resp.len, &krl), 0);
	assert_int_equal(krl_check_key(krl, cert), TRASA_ERR_REVOKED);
	krl_free(krl);
	free(resp.body);
	c.inm = tag2;
	run(&c, &resp);
	assert_int_equal(resp.status, 304);
	free(resp.body);
	c.inm = "*";
	run(&c, &resp);
	assert_int_equal(resp.status, 304);
	free(resp.body);
	sshkey_free(cert);
	free(pub);
}

/* ---------------------------------------------------------------- zip */

static void
test_hostcert_zip(void **unused)
{
	struct call c = { "GET", "/v1/services/web7.example.com/hostcert.zip",
		NULL, admin_tok, NULL, { NULL } };
	const struct sshkey *cas[1] = { host_ca };
	struct sshcert_policy pol;
	struct gw_resp resp;
	struct archive *a;
	struct archive_entry *ae;
	struct sshkey *priv = NULL, *pub = NULL, *cert = NULL;
	struct gw_audit_rec *recs = NULL;
	struct gw_db *db;
	size_t nrecs = 0, i;
	char data[8192];
	la_ssize_t n;
	int seen = 0;

	(void)unused;
	run(&c, &resp);
	if (resp.status != 200)
		fprintf(stderr, "%.*s\n", (int)resp.len, resp.body);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/zip");
	assert_string_equal(resp.disposition,
	    "attachment; filename=\"hostcert-web7.example.com.zip\"");
	assert_non_null(a = archive_read_new());
	assert_int_equal(archive_read_support_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open_memory(a, resp.body, resp.len),
	    ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);

		n = archive_read_data(a, data, sizeof(data) - 1);
		assert_true(n > 0);
		data[n] = '\0';
		if (strcmp(name, "id_ed25519") == 0) {
			assert_int_equal(archive_entry_perm(ae), 0600);
			assert_non_null(strstr(data,
			    "-----BEGIN OPENSSH PRIVATE KEY-----"));
			assert_int_equal(sshkey_private_parse((uint8_t *)data,
					     (size_t)n, NULL, &priv, NULL),
			    0);
			seen |= 1;
		} else if (strcmp(name, "id_ed25519.pub") == 0) {
			assert_int_equal(data[n - 1], '\n');
			data[strcspn(data, "\n")] = '\0';
			assert_int_equal(sshkey_parse_public(data, &pub, NULL),
			    0);
			seen |= 2;
		} else if (strcmp(name, "id_ed25519-cert.pub") == 0) {
			assert_int_equal(data[n - 1], '\n');
			data[strcspn(data, "\n")] = '\0';
			cert = parse_cert(data);
			seen |= 4;
		} else
			fail();
	}
	archive_read_free(a);
	OPENSSL_cleanse(data, sizeof(data));
	free(resp.body);
	assert_int_equal(seen, 7);
	assert_true(sshkey_equal_public(priv, pub));
	assert_true(sshkey_equal_public(cert, pub));
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_HOST;
	pol.principal = "web7.example.com";
	pol.now = (uint64_t)time(NULL);
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	sshkey_free(priv);
	sshkey_free(pub);
	sshkey_free(cert);

	/* Audited as shipping a private key. */
	db = db_open();
	assert_int_equal(gw_db_audit_list(db, 0, 0, &recs, &nrecs), 0);
	for (i = 0; i < nrecs; i++)
		if (strcmp(recs[i].event, "cert.host") == 0 &&
		    strstr(recs[i].detail, "private key shipped in zip") !=
			NULL &&
		    strcmp(recs[i].subject, "web7.example.com") == 0 &&
		    strcmp(recs[i].actor, "admin:root") == 0)
			seen |= 8;
	gw_audit_list_free(recs, nrecs);
	gw_db_close(db);
	assert_int_equal(seen, 15);

	c.bearer = NULL;
	expect_error(&c, 401, NULL, NULL);
	c.bearer = admin_tok;
	c.path = "/v1/services/a,b/hostcert.zip";
	expect_error(&c, 400, "host", NULL);
	c.method = "POST";
	expect_error(&c, 405, NULL, NULL);
}

/* ---------------------------------------------------------------- 2FA */

static void
nix_expect(const char *body, const char *status, const char *reason)
{
	struct call c = { "POST", "/auth/agent/nix", NULL, NULL, NULL,
		{ NULL } };
	struct json_object *o;

	c.body = body;
	o = expect_ok(&c);
	assert_string_equal(jstr(o, "status"), status);
	assert_string_equal(jstr(o, "reason"), reason);
	json_object_put(o);
}

static void
test_nix(void **unused)
{
	static const uint8_t secret[20] = "12345678901234567890";
	struct call c = { "POST", "/auth/agent/nix", NULL, NULL, NULL,
		{ NULL } };
	struct gw_db *db;
	char otp[16], bad[16], body[1024];
	time_t now = time(NULL);

	(void)unused;
	db = db_open();
	assert_int_equal(gw_db_user_set_totp(db, "alice", secret,
			     sizeof(secret)),
	    0);
	gw_db_close(db);
	assert_int_equal(oath_init(), OATH_OK);
	assert_int_equal(oath_totp_generate((const char *)secret,
			     sizeof(secret), now, 30, 0, 6, otp),
	    OATH_OK);
	snprintf(bad, sizeof(bad), "%06d", (atoi(otp) + 500000) % 1000000);

	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", \"user\": "
	    "\"root\", \"trasaID\": \"alice\", \"totpCode\": \"%s\", "
	    "\"userIP\": \"10.0.0.9\", \"hostname\": \"web1\"}",
	    host_cred, otp);
	nix_expect(body, "success", "");
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", \"user\": "
	    "\"root\", \"trasaID\": \"alice\", \"totpCode\": \"%s\", "
	    "\"userIP\": \"10.0.0.9\", \"hostname\": \"web1\"}",
	    host_cred, bad);
	nix_expect(body, "failed", "invalid totp");
	/* Wrong service key, or the key of another service. */
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"nope\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"%s\"}",
	    otp);
	nix_expect(body, "failed", "invalid service key");
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web2\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"%s\"}",
	    host_cred, otp);
	nix_expect(body, "failed", "invalid service key");
	/* Users without a secret, disabled, unknown. */
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"bob\", \"totpCode\": \"%s\"}",
	    host_cred, otp);
	nix_expect(body, "failed", "user disabled");
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"carol\", \"totpCode\": \"%s\"}",
	    host_cred, otp);
	nix_expect(body, "failed", "unknown user");
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"12345a\"}",
	    host_cred);
	nix_expect(body, "failed", "invalid totp");
	/* The code that worked is not good a second time (RFC 6238 5.2). */
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"%s\"}",
	    host_cred, otp);
	nix_expect(body, "failed", "totp code already used");
	/* Five failures in a row (the bad code, "12345a", the replay and
	 * two more) lock alice's TOTP: even the next step's good code is
	 * refused unchecked. */
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"%s\"}",
	    host_cred, bad);
	nix_expect(body, "failed", "invalid totp");
	nix_expect(body, "failed", "invalid totp");
	assert_int_equal(oath_totp_generate((const char *)secret,
			     sizeof(secret), now + 30, 30, 0, 6, otp),
	    OATH_OK);
	snprintf(body, sizeof(body),
	    "{\"serviceID\": \"web1\", \"serviceKey\": \"%s\", "
	    "\"trasaID\": \"alice\", \"totpCode\": \"%s\"}",
	    host_cred, otp);
	nix_expect(body, "failed", "too many failed attempts, try later");
	db = db_open();
	assert_int_equal(gw_db_totp_locked(db, "alice", (uint64_t)now),
	    TRASA_ERR_TOO_MANY);
	assert_int_equal(gw_db_totp_locked(db, "alice",
			     (uint64_t)now + GW_TOTP_LOCKOUT + 5),
	    0);
	gw_db_close(db);
	/* Malformed requests. */
	c.body = "{\"serviceID\": \"web1\"}";
	expect_error(&c, 400, "serviceKey", NULL);
	c.body = "{\"serviceID\": 1}";
	expect_error(&c, 400, "serviceID", NULL);
	c.body = "nope";
	expect_error(&c, 400, NULL, NULL);
}

/* ---------------------------------------------------------------- storage */

static void
test_no_database(void **unused)
{
	struct gw gw2 = gw;
	struct gw_api *api2 = NULL, *saved = api;
	char dir[600], path[700];
	struct call c = { "GET", "/v1/krl", NULL, NULL, NULL, { NULL } };

	(void)unused;
	/* The same CAs, no database. */
	snprintf(dir, sizeof(dir), "%s", tu_path("state-nodb"));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(tu_sh("cp -a '%s/ca' '%s/ca'", state, dir), 0);
	snprintf(path, sizeof(path), "%s", dir);
	gw2.state_dir = path;
	assert_int_equal(gw_api_new(&gw2, &api2), 0);
	api = api2;
	expect_error(&c, 503, NULL, "storage unavailable");
	c.path = "/v1/ca/user"; /* needs no database */
	{
		struct gw_resp resp;

		run(&c, &resp);
		assert_int_equal(resp.status, 200);
		free(resp.body);
	}
	gw_api_thread_end(api2);
	gw_api_free(api2);
	api = saved;
}

/* ---------------------------------------------------------------- threads */

#define NTHREADS 4
#define PER_THREAD 25

static char thread_body[1024];

static void *
issue_thread(void *arg)
{
	struct call c = { "POST", "/v1/certs/user", thread_body, admin_tok,
		NULL, { NULL } };
	uint64_t *serials = arg;
	struct gw_resp resp;
	struct json_object *o;
	size_t i;

	for (i = 0; i < PER_THREAD; i++) {
		run(&c, &resp);
		if (resp.status != 200) {
			free(resp.body);
			serials[i] = 0;
			continue;
		}
		o = body_json(&resp);
		serials[i] = jnum(o, "serial");
		json_object_put(o);
		free(resp.body);
	}
	gw_api_thread_end(api);
	return NULL;
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_threads(void **unused)
{
	pthread_t th[NTHREADS];
	uint64_t serials[NTHREADS * PER_THREAD];
	char *pub;
	size_t i;

	(void)unused;
	pub = new_pubkey(NULL);
	snprintf(thread_body, sizeof(thread_body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	free(pub);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, issue_thread,
				     serials + i * PER_THREAD),
		    0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	qsort(serials, NTHREADS * PER_THREAD, sizeof(serials[0]), u64cmp);
	for (i = 0; i < NTHREADS * PER_THREAD; i++) {
		assert_true(serials[i] != 0);
		if (i > 0)
			assert_true(serials[i] != serials[i - 1]);
	}
}

/* Concurrent enrolments with one token: exactly one wins, the rest 403. */
static char race_body[4096];

static void *
enroll_thread(void *arg)
{
	struct call c = { "POST", "/v1/hosts/enroll", race_body, NULL, NULL,
		{ NULL } };
	struct gw_resp resp;
	unsigned *status = arg;

	run(&c, &resp);
	*status = resp.status;
	free(resp.body);
	gw_api_thread_end(api);
	return NULL;
}

static void
test_enroll_race(void **unused)
{
	pthread_t th[NTHREADS];
	unsigned status[NTHREADS];
	char *tok, *pub;
	size_t i, ok = 0, refused = 0;

	(void)unused;
	tok = api_token("race1", NULL);
	pub = new_pubkey(NULL);
	snprintf(race_body, sizeof(race_body),
	    "{\"token\": \"%s\", \"hostname\": \"race1\", "
	    "\"public_key\": \"%s\"}",
	    tok, pub);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, enroll_thread,
				     &status[i]),
		    0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++) {
		if (status[i] == 200)
			ok++;
		else if (status[i] == 403)
			refused++;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(refused, NTHREADS - 1);
	free(tok);
	free(pub);
}

/* ---------------------------------------------------------------- rotation */

static void
test_ca_reload(void **unused)
{
	struct call c = { "GET", "/v1/ca/user", NULL, NULL, NULL, { NULL } };
	struct call cu = { "POST", "/v1/certs/user", NULL, admin_tok, NULL,
		{ NULL } };
	struct gw_resp resp;
	struct sshkey *newca = NULL, *cert;
	const struct sshkey *cas[1];
	struct sshcert_policy pol;
	struct json_object *o;
	char want[2048], body[1024], *newline = NULL, *pub, old[600], nw[600];
	int tries;

	(void)unused;
	/* Rotate by hand as `ca rotate user` does: old .pub to .prev.pub,
	 * new key pair in place. */
	snprintf(old, sizeof(old), "%s/ca/user_ca.pub", state);
	snprintf(nw, sizeof(nw), "%s/ca/user_ca.prev.pub", state);
	assert_int_equal(tu_sh("cp '%s' '%s'", old, nw), 0);
	write_ca("user_ca", "trasa-user-ca", &newca, &newline);
	snprintf(want, sizeof(want), "%s\n%s\n", newline, user_ca_line);
	for (tries = 0; tries < 30; tries++) {
		run(&c, &resp);
		assert_int_equal(resp.status, 200);
		if (resp.len == strlen(want) &&
		    memcmp(resp.body, want, resp.len) == 0) {
			free(resp.body);
			break;
		}
		free(resp.body);
		usleep(200000);
	}
	assert_true(tries < 30);

	/* New certificates come from the new key. */
	pub = new_pubkey(NULL);
	snprintf(body, sizeof(body),
	    "{\"user\": \"alice\", \"public_key\": \"%s\"}", pub);
	cu.body = body;
	o = expect_ok(&cu);
	cert = parse_cert(jstr(o, "certificate"));
	json_object_put(o);
	cas[0] = newca;
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_USER;
	pol.principal = "alice";
	pol.now = (uint64_t)time(NULL);
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	sshkey_free(cert);
	free(pub);
	sshkey_free(newca);
	free(newline);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distribution),
		cmocka_unit_test(test_cert_user),
		cmocka_unit_test(test_cert_user_revocation_is_prompt),
		cmocka_unit_test(test_cert_user_errors),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_enroll),
		cmocka_unit_test(test_renew),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_krl),
		cmocka_unit_test(test_hostcert_zip),
		cmocka_unit_test(test_nix),
		cmocka_unit_test(test_no_database),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_enroll_race),
		cmocka_unit_test(test_ca_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

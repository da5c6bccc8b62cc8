/*
 * test_gwdb.c: trasa-gateway's storage (gateway/db.c) and issuance
 * (gateway/issue.c) on a real SQLite file in a fresh state directory per
 * test: users and groups with never-reused ids, the directory generation,
 * enrolment tokens (single use, also under concurrency), host credentials,
 * challenges, certificate records, revocations and the KRL (checked by
 * libtrasa and the real ssh-keygen), admin tokens, the audit log, writers
 * on two threads, a failing disk, and the write rate.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"
#include "err.h"
#include "issue.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"
#include "testutil.h"

#define SHELL_QUIET ">/dev/null 2>&1"

/* A string literal where the API takes char * (it never writes). */
static char *
mut(const char *s)
{
	union {
		const char *c;
		char *m;
	} u = { .c = s };

	return u.m;
}

/* Keys made once by ssh-keygen for the whole run. */
static struct sshkey *user_ca, *rsa_ca, *alice_key;

struct ctx {
	char dir[512];
	struct gw_db *db;
	struct gw_config cfg;
};

static int
setup(void **state)
{
	static unsigned seq;
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->dir, sizeof(c->dir), "%s/state%u", tu_tmpdir(), seq++);
	assert_int_equal(gw_db_open(c->dir, GW_DB_CREATE, &c->db), 0);
	c->cfg.uid_min = 200000;
	c->cfg.uid_max = 299999;
	c->cfg.gid_min = 200000;
	c->cfg.gid_max = 299999;
	c->cfg.home_base = mut("/home");
	c->cfg.shell = mut("/bin/bash");
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	gw_db_close(c->db);
	free(c);
	return 0;
}

static uint64_t
dirgen(struct gw_db *db)
{
	uint64_t g = 0;

	assert_int_equal(gw_db_dir_generation(db, &g), 0);
	return g;
}

static uint64_t
krlgen(struct gw_db *db)
{
	uint64_t g = 0;

	assert_int_equal(gw_db_krl_generation(db, &g), 0);
	return g;
}

static void
hash_of(const char *s, uint8_t h[32])
{
	size_t i;

	/* Distinct fixed bytes per string are all the database needs. */
	memset(h, 0, 32);
	for (i = 0; s[i] != '\0' && i < 32; i++)
		h[i] = (uint8_t)s[i];
	h[31] ^= 0x5a;
}

static int
add_user(struct ctx *c, const char *name, uint32_t uid, uint32_t gid,
    uint32_t *uid_out, uint32_t *gid_out)
{
	struct gw_user u;

	memset(&u, 0, sizeof(u));
	u.name = mut(name);
	u.uid = uid;
	u.gid = gid;
	return gw_db_user_add(c->db, &c->cfg, &u, uid_out, gid_out);
}

static int
user_exists(struct ctx *c, const char *name)
{
	struct gw_user *u = NULL;
	int e = gw_db_user_get(c->db, name, 0, &u);

	gw_user_free(u);
	if (e == TRASA_ERR_NOT_FOUND)
		return 0;
	assert_int_equal(e, 0);
	return 1;
}

/* ---------------------------------------------------------------- open */

static void
test_open(void **state)
{
	struct ctx *c = *state;
	struct gw_db *db = NULL;
	struct stat sb;
	char path[600], missing[700];
	sqlite3 *h;
	sqlite3_stmt *s;
	uint32_t uid;

	/* No database and no CREATE: NOT_FOUND, and nothing made. */
	snprintf(missing, sizeof(missing), "%s/nothing", tu_tmpdir());
	assert_int_equal(gw_db_open(missing, 0, &db), TRASA_ERR_NOT_FOUND);
	assert_null(db);
	assert_int_equal(stat(missing, &sb), -1);

	/* Made 0600, WAL mode. */
	snprintf(path, sizeof(path), "%s/%s", c->dir, GW_DB_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(c->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(add_user(c, "alice", 0, 0, &uid, NULL), 0);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s,
			     NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(h);
	/* SQLite gives the WAL the database's mode. */
	snprintf(missing, sizeof(missing), "%s-wal", path);
	assert_int_equal(stat(missing, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* Reopened without CREATE, the data is there. */
	gw_db_close(c->db);
	c->db = NULL;
	assert_int_equal(gw_db_open(c->dir, 0, &c->db), 0);
	assert_true(user_exists(c, "alice"));
	/* A second connection at the same time sees it too. */
	assert_int_equal(gw_db_open(c->dir, GW_DB_CREATE, &db), 0);
	assert_int_equal(gw_db_user_del(db, "alice"), 0);
	assert_false(user_exists(c, "alice"));
	gw_db_close(db);
	gw_db_close(NULL);
	assert_int_equal(gw_db_open(NULL, 0, &db), TRASA_ERR_INVALID_ARG);
}

/* A newer schema is refused, an older binary never writes over it. */
static void
test_newer_schema(void **state)
{
	struct ctx *c = *state;
	struct gw_db *db = NULL;
	char path[600];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/%s", c->dir, GW_DB_FILE);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
			     "UPDATE meta SET value = 99 WHERE key = "
			     "'schema_version'",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(gw_db_open(c->dir, 0, &db), TRASA_ERR_UNSUPPORTED);
	assert_null(db);
}

/* ---------------------------------------------------------------- users */

static void
test_users(void **state)
{
	struct ctx *c = *state;
	struct gw_user u, *got = NULL, **list = NULL;
	struct gw_group *g = NULL;
	char *groups[] = { mut("ops"), mut("nosuch") };
	char *keys[] = { mut(
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA alice@a") };
	uint32_t uid = 0, gid = 0;
	uint8_t *secret = NULL;
	size_t n = 0, len = 0;
	char long_name[80];

	/* Allocated from the range; a personal group with the same id. */
	assert_int_equal(add_user(c, "alice", 0, 0, &uid, &gid), 0);
	assert_int_equal(uid, 200000);
	assert_int_equal(gid, 200000);
	assert_int_equal(gw_db_group_get(c->db, "alice", 0, &g), 0);
	assert_int_equal(g->gid, 200000);
	gw_group_free(g);
	g = NULL;
	assert_int_equal(gw_db_user_get(c->db, "alice", 0, &got), 0);
	assert_string_equal(got->name, "alice");
	assert_string_equal(got->home, "/home/alice");
	assert_string_equal(got->shell, "/bin/bash");
	assert_string_equal(got->gecos, "");
	assert_int_equal(got->ngroups, 0);
	assert_int_equal(got->nkeys, 0);
	assert_false(got->disabled);
	assert_false(got->has_totp);
	gw_user_free(got);
	got = NULL;

	/* Explicit uid; its personal group takes the same number. */
	assert_int_equal(add_user(c, "bob", 5000, 0, &uid, &gid), 0);
	assert_int_equal(uid, 5000);
	assert_int_equal(gid, 5000);
	/* Taken name, taken uid. */
	assert_int_equal(add_user(c, "bob", 0, 0, NULL, NULL),
	    TRASA_ERR_EXISTS);
	assert_int_equal(add_user(c, "carol", 5000, 0, NULL, NULL),
	    TRASA_ERR_EXISTS);
	assert_false(user_exists(c, "carol"));
	/* Deleted: its uid (and gid) are never handed out again. */
	assert_int_equal(gw_db_user_del(c->db, "bob"), 0);
	assert_int_equal(gw_db_user_del(c->db, "bob"), TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_group_get(c->db, "bob", 0, &g),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(add_user(c, "dave", 5000, 0, NULL, NULL),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_user_del(c->db, "alice"), 0);
	assert_int_equal(add_user(c, "erin", 0, 0, &uid, &gid), 0);
	assert_int_equal(uid, 200001);
	assert_int_equal(gid, 200001);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "g5000", 5000, NULL),
	    TRASA_ERR_EXISTS);

	/* Bad names. */
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_int_equal(add_user(c, "", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(add_user(c, long_name, 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	long_name[64] = '\0';
	assert_int_equal(add_user(c, long_name, 0, 0, NULL, NULL), 0);
	assert_int_equal(add_user(c, "Alice", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(add_user(c, "1abc", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(add_user(c, "a b", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(add_user(c, "a:b", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);

	/* Supplementary groups must exist; a failed add writes nothing. */
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "ops", 0, &gid), 0);
	memset(&u, 0, sizeof(u));
	u.name = mut("frank");
	u.groups = groups;
	u.ngroups = 2;
	u.gecos = mut("Frank F");
	u.shell = mut("/bin/zsh");
	u.home = mut("/srv/frank");
	u.keys = keys;
	u.nkeys = 1;
	assert_int_equal(gw_db_user_add(c->db, &c->cfg, &u, &uid, NULL),
	    TRASA_ERR_NOT_FOUND);
	assert_false(user_exists(c, "frank"));
	assert_int_equal(gw_db_group_get(c->db, "frank", 0, &g),
	    TRASA_ERR_NOT_FOUND);
	u.ngroups = 1;
	assert_int_equal(gw_db_user_add(c->db, &c->cfg, &u, &uid, NULL), 0);
	assert_int_equal(gw_db_user_add_key(c->db, "frank",
			     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB second"),
	    0);
	assert_int_equal(gw_db_user_add_key(c->db, "nobody", "ssh-ed25519 A"),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_user_set_disabled(c->db, "frank", 1), 0);
	assert_int_equal(gw_db_user_set_disabled(c->db, "nobody", 1),
	    TRASA_ERR_NOT_FOUND);
	/* By uid. */
	assert_int_equal(gw_db_user_get(c->db, NULL, uid, &got), 0);
	assert_string_equal(got->name, "frank");
	assert_string_equal(got->gecos, "Frank F");
	assert_string_equal(got->home, "/srv/frank");
	assert_string_equal(got->shell, "/bin/zsh");
	assert_true(got->disabled);
	assert_int_equal(got->ngroups, 1);
	assert_string_equal(got->groups[0], "ops");
	assert_int_equal(got->nkeys, 2);
	assert_string_equal(got->keys[0], keys[0]);
	gw_user_free(got);
	got = NULL;
	assert_int_equal(gw_db_user_get(c->db, NULL, 4242, &got),
	    TRASA_ERR_NOT_FOUND);

	/* TOTP secret. */
	assert_int_equal(gw_db_user_get_totp(c->db, "frank", &secret, &len),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_user_set_totp(c->db, "frank",
			     (const uint8_t *)"0123456789abcdefghij", 20),
	    0);
	assert_int_equal(gw_db_user_set_totp(c->db, "nobody",
			     (const uint8_t *)"x", 1),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_user_get_totp(c->db, "frank", &secret, &len), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(secret, "0123456789abcdefghij", 20);
	free(secret);
	assert_int_equal(gw_db_user_get(c->db, "frank", 0, &got), 0);
	assert_true(got->has_totp);
	gw_user_free(got);

	/* Listing, by name. */
	assert_int_equal(gw_db_user_list(c->db, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0]->name, long_name);
	assert_string_equal(list[1]->name, "erin");
	assert_string_equal(list[2]->name, "frank");
	gw_user_list_free(list, n);
}

/* The range runs out; explicit ids outside it are fine. */
static void
test_uid_range(void **state)
{
	struct ctx *c = *state;
	uint32_t uid, gid;

	c->cfg.uid_min = c->cfg.gid_min = 100;
	c->cfg.uid_max = c->cfg.gid_max = 102;
	assert_int_equal(add_user(c, "u1", 101, 0, &uid, &gid), 0);
	assert_int_equal(add_user(c, "u2", 0, 0, &uid, &gid), 0);
	assert_int_equal(uid, 102);
	/* top taken: the lowest free one */
	assert_int_equal(add_user(c, "u3", 0, 0, &uid, &gid), 0);
	assert_int_equal(uid, 100);
	assert_int_equal(gid, 100);
	assert_int_equal(gw_db_user_del(c->db, "u3"), 0);
	assert_int_equal(add_user(c, "u4", 0, 0, NULL, NULL),
	    TRASA_ERR_INVALID_ARG);
	assert_false(user_exists(c, "u4"));
	assert_int_equal(add_user(c, "u5", 7000, 0, &uid, &gid), 0);
	assert_int_equal(uid, 7000);
	/* An existing group as the primary group. */
	assert_int_equal(add_user(c, "u6", 7001, 7000, &uid, &gid), 0);
	assert_int_equal(gid, 7000);
	assert_int_equal(gw_db_user_del(c->db, "u5"), 0);
	/* still u6's primary group */
	assert_int_equal(gw_db_group_del(c->db, "u5"), TRASA_ERR_EXISTS);
}

/* ---------------------------------------------------------------- groups */

static void
test_groups(void **state)
{
	struct ctx *c = *state;
	struct gw_group *g = NULL, **list = NULL;
	struct gw_user *u = NULL;
	uint32_t gid = 0;
	size_t n = 0;

	assert_int_equal(add_user(c, "zed", 0, 0, NULL, NULL), 0);
	assert_int_equal(add_user(c, "amy", 0, 0, NULL, NULL), 0);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "ops", 0, &gid), 0);
	assert_int_equal(gid, 200002);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "ops", 0, NULL),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "dev", 3000, &gid), 0);
	assert_int_equal(gid, 3000);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "qa", 3000, NULL),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "Bad Name", 0, NULL),
	    TRASA_ERR_INVALID_ARG);

	assert_int_equal(gw_db_group_member(c->db, "ops", "zed", 1), 0);
	assert_int_equal(gw_db_group_member(c->db, "ops", "amy", 1), 0);
	assert_int_equal(gw_db_group_member(c->db, "ops", "amy", 1),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_group_member(c->db, "ops", "nobody", 1),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_group_member(c->db, "nogroup", "amy", 1),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_group_member(c->db, "dev", "amy", 1), 0);
	assert_int_equal(gw_db_group_get(c->db, "ops", 0, &g), 0);
	assert_int_equal(g->nmembers, 2);
	assert_string_equal(g->members[0], "amy");
	assert_string_equal(g->members[1], "zed");
	gw_group_free(g);
	assert_int_equal(gw_db_group_get(c->db, NULL, 3000, &g), 0);
	assert_string_equal(g->name, "dev");
	gw_group_free(g);
	assert_int_equal(gw_db_user_get(c->db, "amy", 0, &u), 0);
	assert_int_equal(u->ngroups, 2);
	assert_string_equal(u->groups[0], "dev");
	assert_string_equal(u->groups[1], "ops");
	gw_user_free(u);

	assert_int_equal(gw_db_group_member(c->db, "ops", "zed", 0), 0);
	assert_int_equal(gw_db_group_member(c->db, "ops", "zed", 0),
	    TRASA_ERR_NOT_FOUND);

	/* A user's primary group stays while the user does. */
	assert_int_equal(gw_db_group_del(c->db, "amy"), TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_group_del(c->db, "dev"), 0);
	assert_int_equal(gw_db_group_del(c->db, "dev"), TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_user_get(c->db, "amy", 0, &u), 0);
	assert_int_equal(u->ngroups, 1);
	gw_user_free(u);
	/* gids are never reused either */
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "dev2", 3000, NULL),
	    TRASA_ERR_EXISTS);

	assert_int_equal(gw_db_group_list(c->db, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0]->name, "amy");
	assert_string_equal(list[1]->name, "ops");
	assert_string_equal(list[2]->name, "zed");
	gw_group_list_free(list, n);
}

static void
test_dir_generation(void **state)
{
	struct ctx *c = *state;
	char *allow[] = { mut("ops") };
	struct gw_user *u = NULL;
	struct gw_host *h = NULL;
	uint64_t g = dirgen(c->db), g2;

	assert_int_equal(add_user(c, "amy", 0, 0, NULL, NULL), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_group_add(c->db, &c->cfg, "ops", 0, NULL), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_group_member(c->db, "ops", "amy", 1), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_user_set_disabled(c->db, "amy", 1), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_host_set_allow_groups(c->db, "web1", allow, 1),
	    0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_host_get(c->db, "web1", &h), 0);
	assert_int_equal(h->nallow_groups, 1);
	assert_string_equal(h->allow_groups[0], "ops");
	assert_null(h->public_key);
	gw_host_free(h);
	assert_int_equal(gw_db_host_set_allow_groups(c->db, "web1", NULL, 0),
	    0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	/* Reads and refused changes leave it alone. */
	assert_int_equal(gw_db_user_get(c->db, "amy", 0, &u), 0);
	gw_user_free(u);
	assert_int_equal(add_user(c, "amy", 0, 0, NULL, NULL),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_group_del(c->db, "amy"), TRASA_ERR_EXISTS);
	allow[0] = mut("nosuch");
	assert_int_equal(gw_db_host_set_allow_groups(c->db, "web1", allow, 1),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(dirgen(c->db), g);
	assert_int_equal(gw_db_group_member(c->db, "ops", "amy", 0), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_user_del(c->db, "amy"), 0);
	assert_true((g2 = dirgen(c->db)) > g);
	g = g2;
	assert_int_equal(gw_db_group_del(c->db, "ops"), 0);
	assert_true(dirgen(c->db) > g);
}

/* ---------------------------------------------------------------- hosts */

static void
test_tokens(void **state)
{
	struct ctx *c = *state;
	char *princ[] = { mut("web1.example.com"), mut("10.0.0.5") };
	char *host = NULL, **p = NULL, *name = NULL;
	uint8_t tok[32], tok2[32], tok3[32], cred[32], cred2[32];
	struct gw_host *h = NULL;
	uint64_t now = 1700000000;
	size_t n = 0;

	hash_of("token-1", tok);
	hash_of("token-2", tok2);
	hash_of("token-3", tok3);
	hash_of("cred-1", cred);
	hash_of("cred-unknown", cred2);
	assert_int_equal(gw_db_token_add(c->db, "web1.example.com", tok, princ,
			     2, now + 3600),
	    0);
	assert_int_equal(gw_db_token_add(c->db, "web1.example.com", tok, princ,
			     2, now + 3600),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_token_add(c->db, "bad host", tok2, NULL, 0,
			     now + 3600),
	    TRASA_ERR_INVALID_ARG);
	/* No principals: the host name only. */
	assert_int_equal(gw_db_token_add(c->db, "web2", tok2, NULL, 0,
			     now + 10),
	    0);

	assert_int_equal(gw_db_token_peek(c->db, tok, now, &host, &p, &n), 0);
	assert_string_equal(host, "web1.example.com");
	assert_int_equal(n, 2);
	assert_string_equal(p[0], "web1.example.com");
	assert_string_equal(p[1], "10.0.0.5");
	free(host);
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
	assert_int_equal(gw_db_token_peek(c->db, tok2, now, &host, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0], "web2");
	free(host);
	free(p[0]);
	free(p);
	assert_int_equal(gw_db_token_peek(c->db, tok3, now, &host, &p, &n),
	    TRASA_ERR_NOT_FOUND);

	/* Expired. */
	assert_int_equal(gw_db_token_peek(c->db, tok2, now + 10, NULL, NULL,
			     NULL),
	    TRASA_ERR_EXPIRED);
	assert_int_equal(gw_db_host_enroll(c->db, tok2, now + 11, "web2",
			     "ssh-ed25519 AAAA web2", NULL, 0, 1, now + 99,
			     cred2),
	    TRASA_ERR_EXPIRED);
	/* Another host's token. */
	assert_int_equal(gw_db_host_enroll(c->db, tok, now, "web9",
			     "ssh-ed25519 AAAA web9", NULL, 0, 1, now + 99,
			     cred2),
	    TRASA_ERR_INVALID_ARG);
	/* Once. */
	assert_int_equal(gw_db_host_enroll(c->db, tok, now, "web1.example.com",
			     "ssh-ed25519 AAAA web1", princ, 2, 77, now + 86400,
			     cred),
	    0);
	assert_int_equal(gw_db_host_enroll(c->db, tok, now, "web1.example.com",
			     "ssh-ed25519 AAAA web1", princ, 2, 78, now + 86400,
			     cred2),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_token_peek(c->db, tok, now, NULL, NULL, NULL),
	    TRASA_ERR_NOT_FOUND);

	assert_int_equal(gw_db_host_get(c->db, "web1.example.com", &h), 0);
	assert_string_equal(h->public_key, "ssh-ed25519 AAAA web1");
	assert_int_equal(h->cert_serial, 77);
	assert_int_equal(h->cert_expiry, now + 86400);
	assert_int_equal(h->enrolled, now);
	assert_int_equal(h->nprincipals, 2);
	assert_string_equal(h->principals[1], "10.0.0.5");
	gw_host_free(h);

	/* The credential names the host and marks it seen. */
	assert_int_equal(gw_db_host_by_credential(c->db, cred, now + 50, &name),
	    0);
	assert_string_equal(name, "web1.example.com");
	free(name);
	name = NULL;
	assert_int_equal(gw_db_host_by_credential(c->db, cred2, now, &name),
	    TRASA_ERR_NOT_FOUND);
	assert_null(name);
	assert_int_equal(gw_db_host_renewed(c->db, "web1.example.com", 79,
			     now + 2 * 86400, now + 60),
	    0);
	assert_int_equal(gw_db_host_renewed(c->db, "nohost", 79, 1, 1),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_host_get(c->db, "web1.example.com", &h), 0);
	assert_int_equal(h->cert_serial, 79);
	assert_int_equal(h->cert_expiry, now + 2 * 86400);
	assert_int_equal(h->last_seen, now + 60);
	gw_host_free(h);
	assert_int_equal(gw_db_host_get(c->db, "web2", &h),
	    TRASA_ERR_NOT_FOUND);
}

struct race {
	const char *dir;
	const uint8_t *tok;
	int n;
	int result;
};

static void *
race_enroll(void *arg)
{
	struct race *r = arg;
	struct gw_db *db = NULL;
	uint8_t cred[32];
	char name[32];

	snprintf(name, sizeof(name), "cred-%d", r->n);
	hash_of(name, cred);
	r->result = gw_db_open(r->dir, 0, &db);
	if (r->result == 0)
		r->result = gw_db_host_enroll(db, r->tok, (uint64_t)time(NULL),
		    "race", "ssh-ed25519 AAAA race", NULL, 0, 100 + r->n,
		    (uint64_t)time(NULL) + 100, cred);
	gw_db_close(db);
	return NULL;
}

/* Of concurrent enrolments with one token exactly one wins. */
static void
test_enroll_race(void **state)
{
	struct ctx *c = *state;
	struct race r[8];
	pthread_t t[8];
	uint8_t tok[32];
	int i, round, wins;

	for (round = 0; round < 5; round++) {
		char tname[32];

		snprintf(tname, sizeof(tname), "race-token-%d", round);
		hash_of(tname, tok);
		assert_int_equal(gw_db_token_add(c->db, "race", tok, NULL, 0,
				     (uint64_t)time(NULL) + 60),
		    0);
		for (i = 0; i < 8; i++) {
			r[i].dir = c->dir;
			r[i].tok = tok;
			r[i].n = round * 8 + i;
			r[i].result = -999;
			assert_int_equal(pthread_create(&t[i], NULL,
					     race_enroll, &r[i]),
			    0);
		}
		for (wins = 0, i = 0; i < 8; i++) {
			pthread_join(t[i], NULL);
			if (r[i].result == 0)
				wins++;
			else
				assert_int_equal(r[i].result,
				    TRASA_ERR_NOT_FOUND);
		}
		assert_int_equal(wins, 1);
	}
}

static void
test_challenges(void **state)
{
	struct ctx *c = *state;
	uint64_t now = (uint64_t)time(NULL);

	assert_int_equal(gw_db_challenge_add(c->db, "web1", "abc", now + 60),
	    0);
	assert_int_equal(gw_db_challenge_add(c->db, "web1", "old", now - 1), 0);
	assert_int_equal(gw_db_challenge_add(c->db, "web1", "late", now + 60),
	    0);
	assert_int_equal(gw_db_challenge_take(c->db, "web2", "abc", now),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_challenge_take(c->db, "web1", "abc", now), 0);
	assert_int_equal(gw_db_challenge_take(c->db, "web1", "abc", now),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_challenge_take(c->db, "web1", "old", now),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_challenge_take(c->db, "web1", "late", now + 60),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_challenge_take(c->db, "web1", "late", now), 0);
	assert_int_equal(gw_db_challenge_add(c->db, "web1", "bad\nx", now),
	    TRASA_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- certs */

static void
fill_rec(struct gw_cert_rec *r, uint64_t serial)
{
	memset(r, 0, sizeof(*r));
	r->serial = serial;
	r->kind = GW_CERT_USER;
	r->subject = "alice";
	r->key_id = "trasa:alice:x";
	r->principals = "alice,root";
	r->key_fp = "SHA256:abc";
	r->valid_after = 1000;
	r->valid_before = 2000;
	r->issued = 1060;
}

static void
test_cert_record(void **state)
{
	struct ctx *c = *state;
	struct gw_cert_rec r;
	struct gw_audit_rec *a = NULL;
	char *kid = NULL;
	size_t n = 0;
	int ex = -1;

	fill_rec(&r, 42);
	assert_int_equal(gw_db_cert_record(c->db, &r, "cli:root"), 0);
	r.key_id = "other";
	assert_int_equal(gw_db_cert_record(c->db, &r, "cli:root"),
	    TRASA_ERR_EXISTS);
	r.kind = GW_CERT_HOST;
	assert_int_equal(gw_db_cert_record(c->db, &r, "cli:root"),
	    TRASA_ERR_EXISTS);
	/* the whole 64-bit space */
	r.serial = UINT64_MAX;
	r.key_id = "top";
	assert_int_equal(gw_db_cert_record(c->db, &r, "admin:ops"), 0);
	assert_int_equal(gw_db_cert_exists(c->db, 42, &ex), 0);
	assert_int_equal(ex, 1);
	assert_int_equal(gw_db_cert_exists(c->db, 43, &ex), 0);
	assert_int_equal(ex, 0);
	assert_int_equal(gw_db_cert_exists(c->db, UINT64_MAX, &ex), 0);
	assert_int_equal(ex, 1);
	assert_int_equal(gw_db_cert_key_id(c->db, 42, &kid), 0);
	assert_string_equal(kid, "trasa:alice:x");
	free(kid);
	assert_int_equal(gw_db_cert_key_id(c->db, UINT64_MAX, &kid), 0);
	assert_string_equal(kid, "top");
	free(kid);
	assert_int_equal(gw_db_cert_key_id(c->db, 43, &kid),
	    TRASA_ERR_NOT_FOUND);

	/* One audit event per recorded certificate, none for refusals. */
	assert_int_equal(gw_db_audit_list(c->db, 0, 0, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].event, "cert.user");
	assert_string_equal(a[0].actor, "cli:root");
	assert_string_equal(a[0].subject, "alice");
	assert_string_equal(a[0].result, "ok");
	assert_non_null(strstr(a[0].detail, "serial=42"));
	assert_string_equal(a[1].event, "cert.host");
	assert_string_equal(a[1].actor, "admin:ops");
	gw_audit_list_free(a, n);
}

static void
test_revocations(void **state)
{
	struct ctx *c = *state;
	struct gw_revocation *r = NULL;
	char *line = NULL;
	uint64_t g0 = krlgen(c->db), gen = 0;
	size_t n = 0;

	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL, "007", "cli"),
	    0);
	assert_int_equal(krlgen(c->db), g0 + 1);
	/* idempotent, and no new generation */
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL, "7", "cli"), 0);
	assert_int_equal(krlgen(c->db), g0 + 1);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY_ID, "trasa:bob:1",
			     "cli"),
	    0);
	/* Keys are stored canonical: a comment makes no second entry. */
	assert_int_equal(sshkey_format_public(alice_key, "alice@laptop", &line),
	    0);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY, line, "admin:a"),
	    0);
	free(line);
	assert_int_equal(sshkey_format_public(alice_key, NULL, &line), 0);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY, line, "admin:a"),
	    0);
	assert_int_equal(krlgen(c->db), g0 + 3);
	/* Asked back, in canonical form. */
	{
		int rv = -1;

		assert_int_equal(gw_db_revoked(c->db, GW_REVOKE_KEY, line, &rv),
		    0);
		assert_int_equal(rv, 1);
		assert_int_equal(gw_db_revoked(c->db, GW_REVOKE_SERIAL, "7",
				     &rv),
		    0);
		assert_int_equal(rv, 1);
		assert_int_equal(gw_db_revoked(c->db, GW_REVOKE_SERIAL, "8",
				     &rv),
		    0);
		assert_int_equal(rv, 0);
		assert_int_equal(gw_db_revoked(c->db, GW_REVOKE_KEY_ID,
				     "trasa:bob:1", &rv),
		    0);
		assert_int_equal(rv, 1);
		assert_int_equal(gw_db_revoked(c->db, GW_REVOKE_KEY_ID,
				     "trasa:bob:2", &rv),
		    0);
		assert_int_equal(rv, 0);
	}
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY,
			     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA x", "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL, "0", "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL, "x1", "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL,
			     "99999999999999999999999", "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY_ID, "", "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_revoke(c->db, (enum gw_revoke_kind)9, "1",
			     "cli"),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(krlgen(c->db), g0 + 3);

	assert_int_equal(gw_db_revocations(c->db, &r, &n, &gen), 0);
	assert_int_equal(gen, g0 + 3);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].kind, GW_REVOKE_SERIAL);
	assert_string_equal(r[0].value, "7");
	assert_int_equal(r[1].kind, GW_REVOKE_KEY_ID);
	assert_string_equal(r[1].value, "trasa:bob:1");
	assert_int_equal(r[2].kind, GW_REVOKE_KEY);
	assert_string_equal(r[2].value, line);
	free(line);
	gw_revocations_free(r, n);
}

static void
test_admin_tokens(void **state)
{
	struct ctx *c = *state;
	uint8_t h1[32], h2[32], h3[32];
	char *name = NULL;

	hash_of("admin-1", h1);
	hash_of("admin-2", h2);
	hash_of("admin-3", h3);
	assert_int_equal(gw_db_admin_token_add(c->db, "ops", h1), 0);
	assert_int_equal(gw_db_admin_token_add(c->db, "ops", h2),
	    TRASA_ERR_EXISTS);
	assert_int_equal(gw_db_admin_token_add(c->db, "ci", h2), 0);
	assert_int_equal(gw_db_admin_token_check(c->db, h1, &name), 0);
	assert_string_equal(name, "ops");
	free(name);
	assert_int_equal(gw_db_admin_token_check(c->db, h3, &name),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_admin_token_revoke(c->db, "ops"), 0);
	assert_int_equal(gw_db_admin_token_revoke(c->db, "ops"),
	    TRASA_ERR_NOT_FOUND);
	assert_int_equal(gw_db_admin_token_check(c->db, h1, &name),
	    TRASA_ERR_NOT_FOUND);
	/* The name is free again once revoked. */
	assert_int_equal(gw_db_admin_token_add(c->db, "ops", h3), 0);
	assert_int_equal(gw_db_admin_token_check(c->db, h3, &name), 0);
	assert_string_equal(name, "ops");
	free(name);
	assert_int_equal(gw_db_admin_token_check(c->db, h2, &name), 0);
	assert_string_equal(name, "ci");
	free(name);
}

static void
test_audit(void **state)
{
	struct ctx *c = *state;
	struct gw_audit_rec *a = NULL;
	size_t n = 0;
	uint64_t now = (uint64_t)time(NULL);

	assert_int_equal(gw_db_audit(c->db, "user.add", "cli:root", "alice",
			     "ok", "uid=200000"),
	    0);
	assert_int_equal(gw_db_audit(c->db, "auth.2fa", "host:web1", "alice",
			     "invalid totp", NULL),
	    0);
	assert_int_equal(gw_db_audit(c->db, "", "x", "y", "ok", ""),
	    TRASA_ERR_INVALID_ARG);
	assert_int_equal(gw_db_audit_list(c->db, now - 5, 0, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].event, "user.add");
	assert_string_equal(a[0].detail, "uid=200000");
	assert_true(a[0].time >= now && a[0].time <= now + 5);
	assert_true(a[1].id > a[0].id);
	assert_string_equal(a[1].result, "invalid totp");
	assert_string_equal(a[1].detail, "");
	gw_audit_list_free(a, n);
	assert_int_equal(gw_db_audit_list(c->db, now - 5, 1, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].event, "user.add");
	gw_audit_list_free(a, n);
	assert_int_equal(gw_db_audit_list(c->db, now + 3600, 0, &a, &n), 0);
	assert_int_equal(n, 0);
	gw_audit_list_free(a, n);
}

/* ---------------------------------------------------------------- issuing */

static int
keys_setup(void **state)
{
	(void)state;
	tu_keygen("ed25519", "ca");
	tu_keygen("rsa-3072", "rsa_ca");
	tu_keygen("ed25519", "alice");
	user_ca = tu_load_priv(tu_path("ca"));
	rsa_ca = tu_load_priv(tu_path("rsa_ca"));
	alice_key = tu_load_pub(tu_path("alice.pub"));
	return 0;
}

static int
keys_teardown(void **state)
{
	(void)state;
	sshkey_free(user_ca);
	sshkey_free(rsa_ca);
	sshkey_free(alice_key);
	return 0;
}

static void
user_req(struct gw_issue_req *r, char **principals, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->type = SSHCERT_USER;
	r->subject = "alice";
	r->key = alice_key;
	r->principals = principals;
	r->nprincipals = n;
	r->ttl = 300;
	r->actor = "cli:root";
}

/* Write a certificate as a -cert.pub file for ssh-keygen. */
static void
write_cert(const struct sshkey *cert, const char *name)
{
	char *line = NULL;
	FILE *f;

	assert_int_equal(sshkey_format_public(cert, "test", &line), 0);
	assert_non_null(f = fopen(tu_path(name), "w"));
	fprintf(f, "%s\n", line);
	fclose(f);
	free(line);
}

static void
test_issue_user(void **state)
{
	struct ctx *c = *state;
	char *principals[] = { mut("alice"), mut("root") };
	const struct sshkey *cas[] = { user_ca };
	struct gw_issue_req r;
	struct sshcert_policy pol;
	struct sshkey *cert = NULL, *cert2 = NULL;
	const char *name, *value;
	char want[128], *kid = NULL, *out;
	uint64_t now = (uint64_t)time(NULL), serial;
	int ex = 0;

	assert_true(gw_principal_valid("alice"));
	assert_true(gw_principal_valid("h\xc3\xa9l\xc3\xa8ne"));
	assert_false(gw_principal_valid(""));
	assert_false(gw_principal_valid("a,b"));
	assert_false(gw_principal_valid("a b"));
	assert_false(gw_principal_valid("a\tb"));
	assert_false(gw_principal_valid("a\x7f"));
	assert_false(gw_principal_valid("a\xc2\x85"));
	assert_false(gw_principal_valid("a\xff"));
	memset(want, 'x', 127);
	want[127] = '\0';
	assert_true(gw_principal_valid(want));

	user_req(&r, principals, 2);
	r.now = now;
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert), 0);
	serial = sshcert_serial(cert);
	assert_true(serial != 0);
	snprintf(want, sizeof(want), "trasa:alice:%" PRIu64, serial);
	assert_string_equal(sshcert_key_id(cert), want);
	assert_int_equal(sshcert_valid_after(cert), now - 60);
	assert_int_equal(sshcert_valid_before(cert), now + 300);
	assert_int_equal(sshcert_nprincipals(cert), 2);
	assert_int_equal(sshcert_ncritical(cert), 0);
	assert_int_equal(sshcert_nextensions(cert), 5);
	assert_int_equal(sshcert_extension(cert, 0, &name, &value), 0);
	assert_string_equal(name, "permit-X11-forwarding");
	assert_string_equal(sshcert_signature_alg(cert), "ssh-ed25519");

	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_USER;
	pol.principal = "alice";
	pol.now = now;
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	pol.now = now - 59; /* back-dated */
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);

	/* Recorded before it was returned. */
	assert_int_equal(gw_db_cert_exists(c->db, serial, &ex), 0);
	assert_int_equal(ex, 1);
	assert_int_equal(gw_db_cert_key_id(c->db, serial, &kid), 0);
	assert_string_equal(kid, want);
	free(kid);

	/* ssh-keygen reads it as we wrote it. */
	write_cert(cert, "issued-cert.pub");
	out = tu_sh_out("'%s' -L -f '%s'", tu_ssh_keygen(),
	    tu_path("issued-cert.pub"));
	assert_non_null(out);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "permit-pty"));
	free(out);

	/* A given serial is used once. */
	r.serial = serial;
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert2),
	    TRASA_ERR_EXISTS);
	assert_null(cert2);
	r.serial = 0;

	/* Options, fewer extensions, a given key ID. */
	r.force_command = "/usr/bin/uptime";
	r.source_address = "10.0.0.0/8,192.168.1.1";
	r.no_ext = GW_NO_PTY | GW_NO_X11_FORWARDING;
	r.key_id = "custom id";
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert2), 0);
	assert_string_equal(sshcert_key_id(cert2), "custom id");
	assert_int_equal(sshcert_ncritical(cert2), 2);
	assert_int_equal(sshcert_critical(cert2, 0, &name, &value), 0);
	assert_string_equal(name, "force-command");
	assert_string_equal(value, "/usr/bin/uptime");
	assert_int_equal(sshcert_critical(cert2, 1, &name, &value), 0);
	assert_string_equal(name, "source-address");
	assert_int_equal(sshcert_nextensions(cert2), 3);
	pol.now = now;
	pol.source_address = "10.1.2.3";
	assert_int_equal(sshcert_check(cert2, cas, 1, NULL, &pol), 0);
	write_cert(cert2, "opts-cert.pub");
	assert_int_equal(tu_sh("'%s' -L -f '%s' " SHELL_QUIET, tu_ssh_keygen(),
			     tu_path("opts-cert.pub")),
	    0);
	sshkey_free(cert2);
	cert2 = NULL;

	/* Refusals. */
	r.source_address = "10.0.0.1/8";
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert2),
	    TRASA_ERR_SOURCE_ADDRESS);
	r.source_address = NULL;
	principals[1] = mut("ro ot");
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert2),
	    TRASA_ERR_PRINCIPAL);
	principals[1] = mut("root");
	r.ttl = 0;
	assert_int_equal(gw_issue(c->db, user_ca, &r, &cert2),
	    TRASA_ERR_INVALID_ARG);
	r.ttl = 300;
	assert_int_equal(gw_issue(c->db, alice_key, &r, &cert2),
	    TRASA_ERR_INVALID_ARG); /* no private key */
	assert_null(cert2);
	sshkey_free(cert);
}

static void
test_issue_host_rsa(void **state)
{
	struct ctx *c = *state;
	char *principals[] = { mut("web1.example.com"), mut("10.0.0.5") };
	const struct sshkey *cas[] = { rsa_ca };
	struct gw_issue_req r;
	struct sshcert_policy pol;
	struct sshkey *cert = NULL;
	struct gw_audit_rec *a = NULL;
	char want[128];
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	r.type = SSHCERT_HOST;
	r.subject = "web1.example.com";
	r.key = alice_key;
	r.principals = principals;
	r.nprincipals = 2;
	r.ttl = 86400;
	r.actor = "host:web1.example.com";
	r.force_command = "/bin/false";
	assert_int_equal(gw_issue(c->db, rsa_ca, &r, &cert),
	    TRASA_ERR_CRITICAL_OPTION);
	r.force_command = NULL;
	assert_int_equal(gw_issue(c->db, rsa_ca, &r, &cert), 0);
	snprintf(want, sizeof(want), "trasa-host:web1.example.com:%" PRIu64,
	    sshcert_serial(cert));
	assert_string_equal(sshcert_key_id(cert), want);
	assert_string_equal(sshcert_signature_alg(cert), "rsa-sha2-512");
	assert_int_equal(sshcert_nextensions(cert), 0);
	assert_int_equal(sshcert_ncritical(cert), 0);
	memset(&pol, 0, sizeof(pol));
	pol.type = SSHCERT_HOST;
	pol.principal = "10.0.0.5";
	pol.now = (uint64_t)time(NULL);
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol), 0);
	pol.type = SSHCERT_USER;
	assert_int_equal(sshcert_check(cert, cas, 1, NULL, &pol),
	    TRASA_ERR_CERT_TYPE);
	assert_int_equal(gw_db_audit_list(c->db, 0, 0, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].event, "cert.host");
	assert_string_equal(a[0].actor, "host:web1.example.com");
	assert_string_equal(a[0].subject, "web1.example.com");
	assert_non_null(strstr(a[0].detail, "web1.example.com,10.0.0.5"));
	gw_audit_list_free(a, n);
	sshkey_free(cert);
}

static void
test_krl_build(void **state)
{
	struct ctx *c = *state;
	char *principals[] = { mut("alice") };
	const struct sshkey *cas[] = { user_ca, rsa_ca };
	struct gw_issue_req r;
	struct sshkey *c1 = NULL, *c2 = NULL, *c3 = NULL;
	struct krl *krl = NULL;
	uint8_t *data = NULL;
	char buf[32], *line = NULL;
	uint64_t gen = 0;
	size_t len = 0;
	FILE *f;

	user_req(&r, principals, 1);
	assert_int_equal(gw_issue(c->db, user_ca, &r, &c1), 0);
	assert_int_equal(gw_issue(c->db, user_ca, &r, &c2), 0);
	r.key_id = "revoke-me";
	assert_int_equal(gw_issue(c->db, user_ca, &r, &c3), 0);

	/* Nothing revoked. */
	assert_int_equal(gw_krl_build(c->db, cas, 2, 1700000000, &data, &len,
			     &gen),
	    0);
	assert_int_equal(krl_parse(data, len, &krl), 0);
	assert_int_equal(krl_check_key(krl, c1), 0);
	assert_int_equal(krl_version(krl), gen);
	assert_int_equal(krl_date(krl), 1700000000);
	assert_string_equal(krl_comment(krl), "trasa-gateway");
	krl_free(krl);
	krl = NULL;
	free(data);

	snprintf(buf, sizeof(buf), "%" PRIu64, sshcert_serial(c1));
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_SERIAL, buf, "cli"), 0);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY_ID, "revoke-me",
			     "cli"),
	    0);
	assert_int_equal(gw_krl_build(c->db, cas, 2, 0, &data, &len, &gen), 0);
	assert_int_equal(gen, krlgen(c->db));
	assert_int_equal(krl_parse(data, len, &krl), 0);
	assert_int_equal(krl_version(krl), gen);
	assert_int_equal(krl_check_key(krl, c1), TRASA_ERR_REVOKED);
	assert_int_equal(krl_check_key(krl, c2), 0);
	assert_int_equal(krl_check_key(krl, c3), TRASA_ERR_REVOKED);
	krl_free(krl);
	krl = NULL;

	/* ssh-keygen -Q agrees. */
	assert_non_null(f = fopen(tu_path("gw.krl"), "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	free(data);
	write_cert(c1, "c1-cert.pub");
	write_cert(c2, "c2-cert.pub");
	assert_int_equal(tu_sh("'%s' -Q -f '%s' '%s' " SHELL_QUIET,
			     tu_ssh_keygen(), tu_path("gw.krl"),
			     tu_path("c1-cert.pub")),
	    1);
	assert_int_equal(tu_sh("'%s' -Q -f '%s' '%s' " SHELL_QUIET,
			     tu_ssh_keygen(), tu_path("gw.krl"),
			     tu_path("c2-cert.pub")),
	    0);

	/* A plain key revokes every certificate of it. */
	assert_int_equal(sshkey_format_public(alice_key, NULL, &line), 0);
	assert_int_equal(gw_db_revoke(c->db, GW_REVOKE_KEY, line, "cli"), 0);
	free(line);
	assert_int_equal(gw_krl_build(c->db, cas, 2, 0, &data, &len, NULL), 0);
	assert_int_equal(krl_parse(data, len, &krl), 0);
	assert_int_equal(krl_check_key(krl, c2), TRASA_ERR_REVOKED);
	assert_int_equal(krl_check_key(krl, alice_key), TRASA_ERR_REVOKED);
	krl_free(krl);
	free(data);
	sshkey_free(c1);
	sshkey_free(c2);
	sshkey_free(c3);
}

/* ---------------------------------------------------------------- load */

struct writer {
	const char *dir;
	uint64_t base;
	int count, failed, first_err;
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	struct gw_db *db = NULL;
	struct gw_cert_rec r;
	int i, e;

	if ((w->first_err = gw_db_open(w->dir, 0, &db)) != 0) {
		w->failed = w->count;
		return NULL;
	}
	for (i = 0; i < w->count; i++) {
		fill_rec(&r, w->base + (uint64_t)i);
		if ((e = gw_db_cert_record(db, &r, "bench")) != 0) {
			if (w->failed++ == 0)
				w->first_err = e;
		}
	}
	gw_db_close(db);
	return NULL;
}

/* Two threads, 500 records each: no busy errors, all recorded. */
static void
test_concurrent_records(void **state)
{
	struct ctx *c = *state;
	struct writer w[2];
	pthread_t t[2];
	struct gw_audit_rec *a = NULL;
	size_t n = 0;
	int i, ex;

	for (i = 0; i < 2; i++) {
		w[i].dir = c->dir;
		w[i].base = (uint64_t)(i + 1) << 40;
		w[i].count = 500;
		w[i].failed = 0;
		w[i].first_err = 0;
		assert_int_equal(pthread_create(&t[i], NULL, writer_run, &w[i]),
		    0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		if (w[i].failed != 0)
			fail_msg("writer %d: %d failed, first: %s", i,
			    w[i].failed, trasa_strerror(w[i].first_err));
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(gw_db_cert_exists(c->db, w[i].base, &ex), 0);
		assert_int_equal(ex, 1);
		assert_int_equal(gw_db_cert_exists(c->db, w[i].base + 499, &ex),
		    0);
		assert_int_equal(ex, 1);
	}
	assert_int_equal(gw_db_audit_list(c->db, 0, 0, &a, &n), 0);
	assert_int_equal(n, 1000);
	gw_audit_list_free(a, n);
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The hot paths' rates on one thread (printed; loose floor asserted). */
static void
test_rates(void **state)
{
	struct ctx *c = *state;
	struct gw_cert_rec r;
	struct timespec t0;
	uint8_t tok[32], cred[32];
	char *name;
	uint64_t g;
	double s;
	int i, n = 20000;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		fill_rec(&r, 1000000 + (uint64_t)i);
		assert_int_equal(gw_db_cert_record(c->db, &r, "bench"), 0);
	}
	s = elapsed(&t0);
	printf("# gw_db_cert_record: %d in %.3f s = %.0f/s\n", n, s, n / s);
	assert_true(n / s > 2000);

	hash_of("bench-token", tok);
	hash_of("bench-cred", cred);
	assert_int_equal(gw_db_token_add(c->db, "bench", tok, NULL, 0,
			     (uint64_t)time(NULL) + 60),
	    0);
	assert_int_equal(gw_db_host_enroll(c->db, tok, (uint64_t)time(NULL),
			     "bench", "ssh-ed25519 AAAA", NULL, 0, 1, 2, cred),
	    0);
	n = 50000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		assert_int_equal(gw_db_host_by_credential(c->db, cred,
				     (uint64_t)time(NULL), &name),
		    0);
		free(name);
		assert_int_equal(gw_db_dir_generation(c->db, &g), 0);
	}
	s = elapsed(&t0);
	printf("# credential + generation lookups: %d in %.3f s = %.0f/s\n", n,
	    s, n / s);
	assert_true(n / s > 2000);
}

/* A disk that fills up: writes fail with IO and SQLite's message, nothing
 * half-written stays, and the database works again afterwards. Simulated
 * with RLIMIT_FSIZE (EFBIG on the write that passes the limit). */
static void
test_disk_full(void **state)
{
	struct ctx *c = *state;
	struct gw_audit_rec *a = NULL;
	struct rlimit old, lim;
	struct gw_cert_rec r;
	void (*prev)(int);
	char *big;
	size_t n = 0;
	int e, ex = 1;

	assert_int_equal(gw_db_audit(c->db, "before", "t", "s", "ok", ""), 0);
	assert_non_null(big = malloc(1024 * 1024 + 1));
	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = '\0';
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	prev = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 256 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	e = gw_db_audit(c->db, "huge", "t", "s", "ok", big);
	fill_rec(&r, 5);
	r.principals = big;
	/* The certificate row and its audit event: both or neither. */
	assert_int_equal(gw_db_cert_record(c->db, &r, "t"), TRASA_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	free(big);
	assert_int_equal(e, TRASA_ERR_IO);
	assert_true(strlen(gw_db_errmsg(c->db)) > 0);
	printf("# disk full: %s\n", gw_db_errmsg(c->db));

	assert_int_equal(gw_db_cert_exists(c->db, 5, &ex), 0);
	assert_int_equal(ex, 0);
	assert_int_equal(gw_db_audit(c->db, "after", "t", "s", "ok", ""), 0);
	assert_int_equal(gw_db_audit_list(c->db, 0, 0, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].event, "before");
	assert_string_equal(a[1].event, "after");
	gw_audit_list_free(a, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open),
		T(test_newer_schema),
		T(test_users),
		T(test_uid_range),
		T(test_groups),
		T(test_dir_generation),
		T(test_tokens),
		T(test_enroll_race),
		T(test_challenges),
		T(test_cert_record),
		T(test_revocations),
		T(test_admin_tokens),
		T(test_audit),
		T(test_issue_user),
		T(test_issue_host_rsa),
		T(test_krl_build),
		T(test_concurrent_records),
		T(test_rates),
		T(test_disk_full),
#undef T
	};

	return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}

/*
 * db.c: trasa-gateway's storage on SQLite 3 (see db.h).
 *
 * One file STATE/gateway.db in WAL mode with synchronous=NORMAL, foreign
 * keys on and a 10 s busy timeout. Every write is one BEGIN IMMEDIATE ...
 * COMMIT transaction; a process-wide mutex orders the write transactions
 * of one process so that its threads never sleep in SQLite's busy handler
 * (between processes the busy timeout does). Readers take no lock.
 *
 * Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * and kept; every statement a call uses is reset before the call returns,
 * so no read transaction stays open between calls.
 *
 * uids and gids are never reused: used_ids holds every id ever assigned.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "sshkey.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
#define MAX_USER_NAME 64
#define MAX_HOST_NAME 253
#define MAX_TEXT (64u * 1024) /* gecos, home, shell, keys, values */

/* uids and gids live in one table, told apart by kind. */
#define ID_UID 1
#define ID_GID 2

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta("
    " key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS used_ids("
    " kind INTEGER NOT NULL, id INTEGER NOT NULL,"
    " PRIMARY KEY(kind, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS dir_groups("
    " name TEXT PRIMARY KEY, gid INTEGER NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS dir_users("
    " name TEXT PRIMARY KEY, uid INTEGER NOT NULL UNIQUE,"
    " gid INTEGER NOT NULL REFERENCES dir_groups(gid),"
    " gecos TEXT NOT NULL, home TEXT NOT NULL, shell TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0, totp BLOB);"
    "CREATE INDEX IF NOT EXISTS dir_users_gid ON dir_users(gid);"
    "CREATE TABLE IF NOT EXISTS dir_members("
    " grp TEXT NOT NULL REFERENCES dir_groups(name) ON DELETE CASCADE,"
    " usr TEXT NOT NULL REFERENCES dir_users(name) ON DELETE CASCADE,"
    " PRIMARY KEY(grp, usr)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS dir_members_usr ON dir_members(usr);"
    "CREATE TABLE IF NOT EXISTS user_keys("
    " id INTEGER PRIMARY KEY,"
    " usr TEXT NOT NULL REFERENCES dir_users(name) ON DELETE CASCADE,"
    " key TEXT NOT NULL, UNIQUE(usr, key));"
    "CREATE TABLE IF NOT EXISTS hosts("
    " name TEXT PRIMARY KEY, public_key TEXT,"
    " cert_serial INTEGER NOT NULL DEFAULT 0,"
    " cert_expiry INTEGER NOT NULL DEFAULT 0,"
    " enrolled INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL DEFAULT 0, cred_hash BLOB UNIQUE);"
    "CREATE TABLE IF NOT EXISTS host_principals("
    " id INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
    " principal TEXT NOT NULL, UNIQUE(host, principal));"
    "CREATE TABLE IF NOT EXISTS host_allow("
    " id INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
    " grp TEXT NOT NULL, UNIQUE(host, grp));"
    "CREATE TABLE IF NOT EXISTS tokens("
    " hash BLOB PRIMARY KEY, host TEXT NOT NULL,"
    " expires INTEGER NOT NULL, created INTEGER NOT NULL,"
    " used INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS token_principals("
    " id INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL REFERENCES tokens(hash) ON DELETE CASCADE,"
    " principal TEXT NOT NULL, UNIQUE(hash, principal));"
    "CREATE TABLE IF NOT EXISTS challenges("
    " host TEXT NOT NULL, challenge TEXT NOT NULL,"
    " expires INTEGER NOT NULL, PRIMARY KEY(host, challenge)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS certs("
    " serial INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " subject TEXT NOT NULL, key_id TEXT NOT NULL,"
    " principals TEXT NOT NULL, key_fp TEXT NOT NULL,"
    " valid_after INTEGER NOT NULL, valid_before INTEGER NOT NULL,"
    " issued INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS revocations("
    " id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " value TEXT NOT NULL, time INTEGER NOT NULL, actor TEXT NOT NULL,"
    " UNIQUE(kind, value));"
    "CREATE TABLE IF NOT EXISTS admin_tokens("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " hash BLOB NOT NULL UNIQUE, created INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS admin_tokens_name ON admin_tokens(name);"
    "CREATE TABLE IF NOT EXISTS audit("
    " id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " event TEXT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL,"
    " result TEXT NOT NULL, detail TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES"
    " ('schema_version', 1), ('dir_generation', 1),"
    " ('krl_generation', 1);";

/* Every statement, prepared on first use and kept. */
enum stid {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_META_GET,
	ST_META_BUMP,
	ST_AUDIT_ADD,
	ST_AUDIT_LIST,
	ST_ID_USED,
	ST_ID_MARK,
	ST_ID_MAX,
	ST_ID_GAP,
	ST_USER_BY_NAME,
	ST_USER_BY_UID,
	ST_USER_NAMES,
	ST_USER_ADD,
	ST_USER_DEL,
	ST_USER_DISABLE,
	ST_USER_GROUPS,
	ST_USER_KEYS,
	ST_USER_KEY_ADD,
	ST_USER_TOTP_SET,
	ST_USER_TOTP_GET,
	ST_USERS_WITH_GID,
	ST_GROUP_BY_NAME,
	ST_GROUP_BY_GID,
	ST_GROUP_NAMES,
	ST_GROUP_ADD,
	ST_GROUP_DEL,
	ST_GROUP_MEMBERS,
	ST_MEMBER_ADD,
	ST_MEMBER_DEL,
	ST_HOST_GET,
	ST_HOST_NAMES,
	ST_HOST_ENSURE,
	ST_HOST_PRINCIPALS,
	ST_HOST_PRINCIPALS_DEL,
	ST_HOST_PRINCIPAL_ADD,
	ST_HOST_ALLOW,
	ST_HOST_ALLOW_DEL,
	ST_HOST_ALLOW_ADD,
	ST_HOST_ENROLL,
	ST_HOST_BY_CRED,
	ST_HOST_SEEN,
	ST_HOST_RENEWED,
	ST_TOKEN_ADD,
	ST_TOKEN_PRINCIPAL_ADD,
	ST_TOKEN_GET,
	ST_TOKEN_PRINCIPALS,
	ST_TOKEN_USE,
	ST_CHALLENGE_PURGE,
	ST_CHALLENGE_ADD,
	ST_CHALLENGE_TAKE,
	ST_CERT_ADD,
	ST_CERT_EXISTS,
	ST_CERT_KEY_ID,
	ST_REVOKE_ADD,
	ST_REVOCATIONS,
	ST_ADMIN_ACTIVE,
	ST_ADMIN_ADD,
	ST_ADMIN_REVOKE,
	ST_ADMIN_CHECK,
	ST_ADMIN_LIST,
	ST_COUNT
};

static const char *const st_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = ?1",
	[ST_AUDIT_ADD] = "INSERT INTO audit(time, event, actor, subject, "
			 "result, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_AUDIT_LIST] = "SELECT id, time, event, actor, subject, result, "
			  "detail FROM audit WHERE time >= ?1 ORDER BY id "
			  "LIMIT ?2",
	[ST_ID_USED] = "SELECT 1 FROM used_ids WHERE kind = ?1 AND id = ?2",
	[ST_ID_MARK] = "INSERT INTO used_ids(kind, id) VALUES(?1, ?2)",
	[ST_ID_MAX] = "SELECT max(id) FROM used_ids WHERE kind = ?1 AND "
		      "id BETWEEN ?2 AND ?3",
	[ST_ID_GAP] = "SELECT a.id + 1 FROM used_ids a WHERE a.kind = ?1 AND "
		      "a.id BETWEEN ?2 AND ?3 - 1 AND NOT EXISTS (SELECT 1 "
		      "FROM used_ids b WHERE b.kind = ?1 AND b.id = a.id + 1) "
		      "ORDER BY a.id LIMIT 1",
	[ST_USER_BY_NAME] = "SELECT name, uid, gid, gecos, home, shell, "
			    "disabled, totp IS NOT NULL FROM dir_users "
			    "WHERE name = ?1",
	[ST_USER_BY_UID] = "SELECT name, uid, gid, gecos, home, shell, "
			   "disabled, totp IS NOT NULL FROM dir_users "
			   "WHERE uid = ?1",
	[ST_USER_NAMES] = "SELECT name FROM dir_users ORDER BY name",
	[ST_USER_ADD] = "INSERT INTO dir_users(name, uid, gid, gecos, home, "
			"shell, disabled) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_USER_DEL] = "DELETE FROM dir_users WHERE name = ?1",
	[ST_USER_DISABLE] = "UPDATE dir_users SET disabled = ?2 WHERE "
			    "name = ?1",
	[ST_USER_GROUPS] = "SELECT grp FROM dir_members WHERE usr = ?1 "
			   "ORDER BY grp",
	[ST_USER_KEYS] = "SELECT key FROM user_keys WHERE usr = ?1 ORDER BY id",
	[ST_USER_KEY_ADD] = "INSERT INTO user_keys(usr, key) VALUES(?1, ?2)",
	[ST_USER_TOTP_SET] = "UPDATE dir_users SET totp = ?2 WHERE name = ?1",
	[ST_USER_TOTP_GET] = "SELECT totp FROM dir_users WHERE name = ?1",
	[ST_USERS_WITH_GID] = "SELECT count(*) FROM dir_users WHERE gid = ?1",
	[ST_GROUP_BY_NAME] = "SELECT name, gid FROM dir_groups WHERE name = ?1",
	[ST_GROUP_BY_GID] = "SELECT name, gid FROM dir_groups WHERE gid = ?1",
	[ST_GROUP_NAMES] = "SELECT name FROM dir_groups ORDER BY name",
	[ST_GROUP_ADD] = "INSERT INTO dir_groups(name, gid) VALUES(?1, ?2)",
	[ST_GROUP_DEL] = "DELETE FROM dir_groups WHERE name = ?1",
	[ST_GROUP_MEMBERS] = "SELECT usr FROM dir_members WHERE grp = ?1 "
			     "ORDER BY usr",
	[ST_MEMBER_ADD] = "INSERT OR IGNORE INTO dir_members(grp, usr) "
			  "VALUES(?1, ?2)",
	[ST_MEMBER_DEL] = "DELETE FROM dir_members WHERE grp = ?1 AND "
			  "usr = ?2",
	[ST_HOST_GET] = "SELECT name, public_key, cert_serial, cert_expiry, "
			"enrolled, last_seen FROM hosts WHERE name = ?1",
	[ST_HOST_NAMES] = "SELECT name FROM hosts ORDER BY name",
	[ST_HOST_ENSURE] = "INSERT OR IGNORE INTO hosts(name) VALUES(?1)",
	[ST_HOST_PRINCIPALS] = "SELECT principal FROM host_principals WHERE "
			       "host = ?1 ORDER BY id",
	[ST_HOST_PRINCIPALS_DEL] = "DELETE FROM host_principals WHERE "
				   "host = ?1",
	[ST_HOST_PRINCIPAL_ADD] = "INSERT OR IGNORE INTO host_principals("
				  "host, principal) VALUES(?1, ?2)",
	[ST_HOST_ALLOW] = "SELECT grp FROM host_allow WHERE host = ?1 "
			  "ORDER BY id",
	[ST_HOST_ALLOW_DEL] = "DELETE FROM host_allow WHERE host = ?1",
	[ST_HOST_ALLOW_ADD] = "INSERT OR IGNORE INTO host_allow(host, grp) "
			      "VALUES(?1, ?2)",
	[ST_HOST_ENROLL] = "UPDATE hosts SET public_key = ?2, "
			   "cert_serial = ?3, cert_expiry = ?4, "
			   "enrolled = ?5, last_seen = max(last_seen, ?5), "
			   "cred_hash = ?6 WHERE name = ?1",
	[ST_HOST_BY_CRED] = "SELECT name, last_seen FROM hosts WHERE "
			    "cred_hash = ?1",
	[ST_HOST_SEEN] = "UPDATE hosts SET last_seen = ?2 WHERE name = ?1 "
			 "AND last_seen < ?2",
	[ST_HOST_RENEWED] = "UPDATE hosts SET cert_serial = ?2, "
			    "cert_expiry = ?3, last_seen = max(last_seen, ?4) "
			    "WHERE name = ?1",
	[ST_TOKEN_ADD] = "INSERT INTO tokens(hash, host, expires, created) "
			 "VALUES(?1, ?2, ?3, ?4)",
	[ST_TOKEN_PRINCIPAL_ADD] = "INSERT OR IGNORE INTO token_principals("
				   "hash, principal) VALUES(?1, ?2)",
	[ST_TOKEN_GET] = "SELECT host, expires, used FROM tokens WHERE "
			 "hash = ?1",
	[ST_TOKEN_PRINCIPALS] = "SELECT principal FROM token_principals "
				"WHERE hash = ?1 ORDER BY id",
	[ST_TOKEN_USE] = "UPDATE tokens SET used = 1 WHERE hash = ?1 AND "
			 "used = 0 AND expires > ?2",
	[ST_CHALLENGE_PURGE] = "DELETE FROM challenges WHERE expires <= ?1",
	[ST_CHALLENGE_ADD] = "INSERT INTO challenges(host, challenge, "
			     "expires) VALUES(?1, ?2, ?3)",
	[ST_CHALLENGE_TAKE] = "DELETE FROM challenges WHERE host = ?1 AND "
			      "challenge = ?2 AND expires > ?3",
	[ST_CERT_ADD] = "INSERT INTO certs(serial, kind, subject, key_id, "
			"principals, key_fp, valid_after, valid_before, "
			"issued) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_CERT_EXISTS] = "SELECT 1 FROM certs WHERE serial = ?1",
	[ST_CERT_KEY_ID] = "SELECT key_id FROM certs WHERE serial = ?1",
	[ST_REVOKE_ADD] = "INSERT OR IGNORE INTO revocations(kind, value, "
			  "time, actor) VALUES(?1, ?2, ?3, ?4)",
	[ST_REVOCATIONS] = "SELECT kind, value FROM revocations ORDER BY id",
	[ST_ADMIN_ACTIVE] = "SELECT 1 FROM admin_tokens WHERE name = ?1 AND "
			    "revoked = 0",
	[ST_ADMIN_ADD] = "INSERT INTO admin_tokens(name, hash, created) "
			 "VALUES(?1, ?2, ?3)",
	[ST_ADMIN_REVOKE] = "UPDATE admin_tokens SET revoked = 1 WHERE "
			    "name = ?1 AND revoked = 0",
	[ST_ADMIN_LIST] = "SELECT name, created FROM admin_tokens WHERE "
			  "revoked = 0 ORDER BY name",
	[ST_ADMIN_CHECK] = "SELECT name FROM admin_tokens WHERE hash = ?1 "
			   "AND revoked = 0",
};

struct gw_db {
	sqlite3 *h;
	sqlite3_stmt *st[ST_COUNT];
	unsigned char inuse[ST_COUNT];
	enum stid used[ST_COUNT]; /* statements to reset on release() */
	size_t nused;
	char err[256];
};

/* ---------------------------------------------------------------- helpers */

static int
set_err(struct gw_db *db, const char *what)
{
	const char *m = db->h != NULL ? sqlite3_errmsg(db->h) : "no database";

	if (what != NULL)
		snprintf(db->err, sizeof(db->err), "%s: %s", what, m);
	else
		snprintf(db->err, sizeof(db->err), "%s", m);
	return TRASA_ERR_IO;
}

/* A statement, reset and with no bindings, remembered for release(). */
static sqlite3_stmt *
st(struct gw_db *db, enum stid id)
{
	sqlite3_stmt *s = db->st[id];

	if (s == NULL) {
		if (sqlite3_prepare_v3(db->h, st_sql[id], -1,
			SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
			set_err(db, NULL);
			return NULL;
		}
		db->st[id] = s;
	} else {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	if (!db->inuse[id]) {
		db->inuse[id] = 1;
		db->used[db->nused++] = id;
	}
	return s;
}

/* Reset every statement used since the last release(). */
static void
release(struct gw_db *db)
{
	while (db->nused > 0) {
		enum stid id = db->used[--db->nused];

		sqlite3_reset(db->st[id]);
		db->inuse[id] = 0;
	}
}

/* Run a statement without results (BEGIN, COMMIT...). */
static int
exec_st(struct gw_db *db, enum stid id)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return set_err(db, NULL);
	return 0;
}

/* Begin a write transaction: the process's write lock, then SQLite's. */
static int
tx_begin(struct gw_db *db)
{
	int e;

	pthread_mutex_lock(&write_lock);
	if ((e = exec_st(db, ST_BEGIN)) != 0) {
		release(db);
		pthread_mutex_unlock(&write_lock);
	}
	return e;
}

/* Commit when ret is 0, else roll back; returns the outcome. */
static int
tx_end(struct gw_db *db, int ret)
{
	release(db);
	if (ret == 0 && exec_st(db, ST_COMMIT) != 0)
		ret = TRASA_ERR_IO;
	if (ret != 0 && !sqlite3_get_autocommit(db->h)) {
		char keep[sizeof(db->err)];

		memcpy(keep, db->err, sizeof(keep));
		(void)exec_st(db, ST_ROLLBACK);
		memcpy(db->err, keep, sizeof(keep));
	}
	release(db);
	pthread_mutex_unlock(&write_lock);
	return ret;
}

/* Read transactions make multi-statement reads consistent. */
static int
rx_begin(struct gw_db *db)
{
	int e;

	if ((e = exec_st(db, ST_BEGIN_READ)) != 0)
		release(db);
	return e;
}

static int
rx_end(struct gw_db *db, int ret)
{
	release(db);
	if (!sqlite3_get_autocommit(db->h) && exec_st(db, ST_COMMIT) != 0 &&
	    ret == 0)
		ret = TRASA_ERR_IO;
	release(db);
	return ret;
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

static int
bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static int
bind_hash(sqlite3_stmt *s, int i, const uint8_t *h)
{
	return sqlite3_bind_blob(s, i, h, 32, SQLITE_STATIC);
}

static uint64_t
col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

/* A fresh copy of a text column ("" for NULL), or NULL on ENOMEM. */
static char *
col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return strdup(t != NULL ? (const char *)t : "");
}

/* Step a statement expected to finish: DONE -> 0; a constraint -> cerr. */
static int
step_done(struct gw_db *db, sqlite3_stmt *s, int cerr)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT && cerr != 0) {
		set_err(db, NULL);
		return cerr;
	}
	return set_err(db, NULL);
}

/* Step a query for at most one row: 1 row, 0 none, or an error. */
static int
step_row(struct gw_db *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return set_err(db, NULL);
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Column 0 of every row of a bound statement, as a fresh vector (never
 * NULL on success, even when empty). */
static int
collect_strv(struct gw_db *db, sqlite3_stmt *s, char ***out, size_t *n)
{
	char **v = NULL, **nv;
	size_t len = 0, cap = 0;
	int rc, ret = TRASA_ERR_ALLOC;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return TRASA_ERR_ALLOC;
	cap = 1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len + 1 >= cap) {
			if ((nv = reallocarray(v, cap * 2, sizeof(*v))) == NULL)
				goto out;
			v = nv;
			cap *= 2;
		}
		if ((v[len] = col_dup(s, 0)) == NULL)
			goto out;
		v[++len] = NULL;
	}
	if (rc != SQLITE_DONE) {
		ret = set_err(db, NULL);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	ret = 0;
out:
	free_strv(v, len);
	return ret;
}

static int
meta_get(struct gw_db *db, const char *key, uint64_t *out)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_META_GET)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, key);
	if ((r = step_row(db, s)) < 0)
		return r;
	if (r == 0) {
		snprintf(db->err, sizeof(db->err), "meta: no %s", key);
		return TRASA_ERR_IO;
	}
	*out = col_u64(s, 0);
	sqlite3_reset(s);
	return 0;
}

static int
meta_bump(struct gw_db *db, const char *key)
{
	sqlite3_stmt *s;

	if ((s = st(db, ST_META_BUMP)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, key);
	return step_done(db, s, 0);
}

static int
dir_bump(struct gw_db *db)
{
	return meta_bump(db, "dir_generation");
}

static int
audit_add(struct gw_db *db, uint64_t now, const char *event, const char *actor,
    const char *subject, const char *result, const char *detail)
{
	sqlite3_stmt *s;

	if ((s = st(db, ST_AUDIT_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, now);
	bind_text(s, 2, event);
	bind_text(s, 3, actor);
	bind_text(s, 4, subject);
	bind_text(s, 5, result);
	bind_text(s, 6, detail);
	return step_done(db, s, 0);
}

static uint64_t
now_s(void)
{
	time_t t = time(NULL);

	return t < 0 ? 0 : (uint64_t)t;
}

/* ---------------------------------------------------------------- names */

/* [a-z_][a-z0-9_.-]*, 1..64 bytes. */
static int
valid_user_name(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) > MAX_USER_NAME)
		return 0;
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* 1..max bytes, no blank, control character or DEL. */
static int
valid_word(const char *s, size_t max)
{
	const unsigned char *c;

	if (s == NULL || *s == '\0' || strlen(s) > max)
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c <= ' ' || *c == 0x7f)
			return 0;
	return 1;
}

static int
valid_host_name(const char *s)
{
	return valid_word(s, MAX_HOST_NAME);
}

/* A directory field (gecos, home, shell): no control character, no ':'
 * (passwd(5) separates fields with it). */
static int
valid_field(const char *s)
{
	const unsigned char *c;

	if (strlen(s) > MAX_TEXT)
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c < ' ' || *c == 0x7f || *c == ':')
			return 0;
	return 1;
}

/* One line of text (keys, values): non-empty, no CR/LF or NUL. */
static int
valid_line(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= MAX_TEXT &&
	    strpbrk(s, "\r\n") == NULL;
}

/* ---------------------------------------------------------------- open */

static int
schema_version(struct gw_db *db, int *have, uint64_t *version)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = TRASA_ERR_IO;

	*have = 0;
	if (sqlite3_prepare_v2(db->h,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
		"name = 'meta'",
		-1, &s, NULL) != SQLITE_OK)
		return set_err(db, "reading the schema");
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		set_err(db, "reading the schema");
		goto out;
	}
	if (sqlite3_column_int(s, 0) == 0) {
		ret = 0;
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if ((ret = meta_get(db, "schema_version", version)) != 0) {
		if (db->err[0] == '\0')
			set_err(db, "reading the schema version");
		goto out;
	}
	*have = 1;
	ret = 0;
out:
	release(db);
	sqlite3_finalize(s);
	return ret;
}

static int
setup(struct gw_db *db, int flags)
{
	sqlite3_stmt *s = NULL;
	uint64_t version = 0;
	int have, e;
	const char *mode;

	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &s,
		NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		set_err(db, "setting WAL mode");
		sqlite3_finalize(s);
		return TRASA_ERR_IO;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(db->err, sizeof(db->err),
		    "cannot use WAL mode (journal mode is %s)",
		    mode != NULL ? mode : "unknown");
		sqlite3_finalize(s);
		return TRASA_ERR_IO;
	}
	sqlite3_finalize(s);
	if (sqlite3_exec(db->h,
		"PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
		/* Checkpoints (two fsyncs each) every 10000 pages rather
		 * than 1000: +30% commits/s; the WAL file is cut back to
		 * 64 MiB after each. */
		"PRAGMA wal_autocheckpoint = 10000;"
		"PRAGMA journal_size_limit = 67108864;",
		NULL, NULL, NULL) != SQLITE_OK)
		return set_err(db, "setting pragmas");
	if ((flags & GW_DB_NO_AUTOCHECKPOINT) &&
	    sqlite3_exec(db->h, "PRAGMA wal_autocheckpoint = 0;", NULL, NULL,
		NULL) != SQLITE_OK)
		return set_err(db, "setting pragmas");

	if ((e = schema_version(db, &have, &version)) != 0)
		return e;
	if (!have) {
		/* A new database: the schema, in one transaction. */
		if ((e = tx_begin(db)) != 0)
			return e;
		if (sqlite3_exec(db->h, schema_sql, NULL, NULL, NULL) !=
		    SQLITE_OK)
			e = set_err(db, "creating the schema");
		if ((e = tx_end(db, e)) != 0)
			return e;
		if ((e = schema_version(db, &have, &version)) != 0)
			return e;
		if (!have) {
			snprintf(db->err, sizeof(db->err), "no schema");
			return TRASA_ERR_IO;
		}
	}
	if (version > SCHEMA_VERSION) {
		snprintf(db->err, sizeof(db->err),
		    "schema version %" PRIu64 " is newer than this "
		    "trasa-gateway knows (%d); use a newer trasa-gateway",
		    version, SCHEMA_VERSION);
		return TRASA_ERR_UNSUPPORTED;
	}
	return 0;
}

int
gw_db_open(const char *state_dir, int flags, struct gw_db **out)
{
	struct gw_db *db = NULL;
	struct stat sb;
	char *path = NULL;
	int fd, e, ret = TRASA_ERR_IO, oflags;

	if (state_dir == NULL || *state_dir == '\0' || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (asprintf(&path, "%s/%s", state_dir, GW_DB_FILE) < 0)
		return TRASA_ERR_ALLOC;
	if (lstat(path, &sb) != 0) {
		if (errno != ENOENT) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		if ((flags & GW_DB_CREATE) == 0) {
			ret = TRASA_ERR_NOT_FOUND;
			goto out;
		}
		if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		/* Made here with mode 0600; SQLite gives its -wal and -shm
		 * files the same mode. An empty file is an empty database. */
		fd = open(path,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		if (fd >= 0)
			close(fd);
	} else if (!S_ISREG(sb.st_mode)) {
		ret = TRASA_ERR_FILE_PERM;
		goto out;
	}

	if ((db = calloc(1, sizeof(*db))) == NULL) {
		ret = TRASA_ERR_ALLOC;
		goto out;
	}
	oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_NOFOLLOW
	oflags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(path, &db->h, oflags, NULL) != SQLITE_OK) {
		set_err(db, "opening");
		cli_error(0, 0, "%s: %s", path, db->err);
		ret = TRASA_ERR_IO;
		goto out;
	}
	if ((e = setup(db, flags)) != 0) {
		cli_error(0, 0, "%s: %s", path, db->err);
		ret = e;
		goto out;
	}
	*out = db;
	db = NULL;
	ret = 0;
out:
	gw_db_close(db);
	free(path);
	return ret;
}

int
gw_db_checkpoint(struct gw_db *db)
{
	int rc;

	if (db == NULL)
		return TRASA_ERR_INVALID_ARG;
	/*
	 * First the bulk, while this process goes on writing; then, with
	 * this process's writers held back, the few frames written
	 * meanwhile: the WAL is then wholly copied, and the next commit
	 * starts it again from the beginning (a WAL that only grows makes
	 * every read slower).
	 */
	rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
	if (rc == SQLITE_OK) {
		pthread_mutex_lock(&write_lock);
		rc = sqlite3_wal_checkpoint_v2(db->h, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_unlock(&write_lock);
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		return set_err(db, "checkpoint");
	return 0;
}

void
gw_db_close(struct gw_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close_v2(db->h);
	free(db);
}

const char *
gw_db_errmsg(const struct gw_db *db)
{
	return db != NULL ? db->err : "";
}

/* ---------------------------------------------------------------- ids */

static int
id_used(struct gw_db *db, int kind, uint32_t id, int *used)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_ID_USED)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, kind);
	bind_u64(s, 2, id);
	if ((r = step_row(db, s)) < 0)
		return r;
	sqlite3_reset(s);
	*used = r;
	return 0;
}

static int
id_mark(struct gw_db *db, int kind, uint32_t id)
{
	sqlite3_stmt *s;

	if ((s = st(db, ST_ID_MARK)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, kind);
	bind_u64(s, 2, id);
	return step_done(db, s, TRASA_ERR_EXISTS);
}

/* A never used id in lo..hi: after the highest used one, else the first
 * gap. INVALID_ARG when the range is empty or exhausted. */
static int
id_alloc(struct gw_db *db, int kind, uint32_t lo, uint32_t hi, uint32_t *out)
{
	sqlite3_stmt *s;
	uint64_t v;
	int r, used;

	if (lo == 0 || lo > hi || hi == UINT32_MAX) {
		snprintf(db->err, sizeof(db->err), "bad %s range %u-%u",
		    kind == ID_UID ? "uid" : "gid", lo, hi);
		return TRASA_ERR_INVALID_ARG;
	}
	if ((s = st(db, ST_ID_MAX)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, kind);
	bind_u64(s, 2, lo);
	bind_u64(s, 3, hi);
	if ((r = step_row(db, s)) < 0)
		return r;
	if (r == 0 || sqlite3_column_type(s, 0) == SQLITE_NULL) {
		*out = lo;
		return 0;
	}
	v = col_u64(s, 0);
	if (v < hi) {
		*out = (uint32_t)v + 1;
		return 0;
	}
	/* The top is taken: the lowest free id. */
	if ((r = id_used(db, kind, lo, &used)) != 0)
		return r;
	if (!used) {
		*out = lo;
		return 0;
	}
	if ((s = st(db, ST_ID_GAP)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, kind);
	bind_u64(s, 2, lo);
	bind_u64(s, 3, hi);
	if ((r = step_row(db, s)) < 0)
		return r;
	if (r == 0) {
		snprintf(db->err, sizeof(db->err), "every %s in %u-%u is taken",
		    kind == ID_UID ? "uid" : "gid", lo, hi);
		return TRASA_ERR_INVALID_ARG;
	}
	*out = (uint32_t)col_u64(s, 0);
	return 0;
}

/* ---------------------------------------------------------------- users */

void
gw_user_free(struct gw_user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->gecos);
	free(u->home);
	free(u->shell);
	free_strv(u->groups, u->ngroups);
	free_strv(u->keys, u->nkeys);
	free(u);
}

void
gw_user_list_free(struct gw_user **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		gw_user_free(list[i]);
	free(list);
}

/* 1 when a row of the name-keyed statement id exists. */
static int
row_exists(struct gw_db *db, enum stid id, const char *name)
{
	sqlite3_stmt *s;

	int r;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	r = step_row(db, s);
	sqlite3_reset(s);
	return r;
}

static int
group_gid(struct gw_db *db, const char *name, uint32_t *gid)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_GROUP_BY_NAME)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_row(db, s)) <= 0)
		return r;
	*gid = (uint32_t)col_u64(s, 1);
	sqlite3_reset(s);
	return 1;
}

static int
group_insert(struct gw_db *db, const char *name, uint32_t gid)
{
	sqlite3_stmt *s;
	int e;

	if ((e = id_mark(db, ID_GID, gid)) != 0)
		return e;
	if ((s = st(db, ST_GROUP_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	bind_u64(s, 2, gid);
	return step_done(db, s, TRASA_ERR_EXISTS);
}

static int
user_add_tx(struct gw_db *db, const struct gw_config *cfg,
    const struct gw_user *u, uint32_t *uidp, uint32_t *gidp)
{
	sqlite3_stmt *s;
	char *home = NULL;
	const char *shell;
	uint32_t uid = u->uid, gid = u->gid, g;
	int r, used, new_group = 1, ret;
	size_t i;

	if ((r = row_exists(db, ST_USER_BY_NAME, u->name)) != 0)
		return r < 0 ? r : TRASA_ERR_EXISTS;
	/* uid */
	if (uid != 0) {
		if ((r = id_used(db, ID_UID, uid, &used)) != 0)
			return r;
		if (used) {
			snprintf(db->err, sizeof(db->err),
			    "uid %u is or was taken", uid);
			return TRASA_ERR_EXISTS;
		}
	} else if ((r = id_alloc(db, ID_UID, cfg->uid_min, cfg->uid_max,
			&uid)) != 0)
		return r;
	/* gid: an existing group, or a personal group named for the user */
	if (gid != 0) {
		if ((s = st(db, ST_GROUP_BY_GID)) == NULL)
			return TRASA_ERR_IO;
		bind_u64(s, 1, gid);
		if ((r = step_row(db, s)) < 0)
			return r;
		if (r == 1)
			new_group = 0;
		else {
			if ((r = id_used(db, ID_GID, gid, &used)) != 0)
				return r;
			if (used) {
				snprintf(db->err, sizeof(db->err),
				    "gid %u was taken before", gid);
				return TRASA_ERR_EXISTS;
			}
		}
	} else {
		if ((r = id_used(db, ID_GID, uid, &used)) != 0)
			return r;
		if (!used)
			gid = uid;
		else if ((r = id_alloc(db, ID_GID, cfg->gid_min, cfg->gid_max,
			      &gid)) != 0)
			return r;
	}
	if (new_group) {
		if ((r = group_gid(db, u->name, &g)) != 0) {
			if (r > 0)
				snprintf(db->err, sizeof(db->err),
				    "a group named %s exists", u->name);
			return r < 0 ? r : TRASA_ERR_EXISTS;
		}
		if ((r = group_insert(db, u->name, gid)) != 0)
			return r;
	}
	if ((r = id_mark(db, ID_UID, uid)) != 0)
		return r;

	if (u->home != NULL)
		home = strdup(u->home);
	else if (asprintf(&home, "%s/%s",
		     cfg->home_base != NULL ? cfg->home_base : "/home",
		     u->name) < 0)
		home = NULL;
	if (home == NULL)
		return TRASA_ERR_ALLOC;
	shell = u->shell != NULL ? u->shell :
	    cfg->shell != NULL	 ? cfg->shell :
				   "/bin/sh";
	if ((s = st(db, ST_USER_ADD)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(s, 1, u->name);
	bind_u64(s, 2, uid);
	bind_u64(s, 3, gid);
	bind_text(s, 4, u->gecos);
	bind_text(s, 5, home);
	bind_text(s, 6, shell);
	sqlite3_bind_int(s, 7, u->disabled ? 1 : 0);
	if ((ret = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		goto out;
	for (i = 0; i < u->ngroups; i++) {
		if ((r = row_exists(db, ST_GROUP_BY_NAME, u->groups[i])) <= 0) {
			if (r == 0)
				snprintf(db->err, sizeof(db->err),
				    "no group %s", u->groups[i]);
			ret = r < 0 ? r : TRASA_ERR_NOT_FOUND;
			goto out;
		}
		if ((s = st(db, ST_MEMBER_ADD)) == NULL) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		bind_text(s, 1, u->groups[i]);
		bind_text(s, 2, u->name);
		if ((ret = step_done(db, s, 0)) != 0)
			goto out;
	}
	for (i = 0; i < u->nkeys; i++) {
		if ((s = st(db, ST_USER_KEY_ADD)) == NULL) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		bind_text(s, 1, u->name);
		bind_text(s, 2, u->keys[i]);
		/* the same key twice is stored once */
		if ((ret = step_done(db, s, 1)) < 0)
			goto out;
	}
	if ((ret = dir_bump(db)) != 0)
		goto out;
	*uidp = uid;
	*gidp = gid;
	ret = 0;
out:
	free(home);
	return ret;
}

int
gw_db_user_add(struct gw_db *db, const struct gw_config *cfg,
    const struct gw_user *u, uint32_t *uid_out, uint32_t *gid_out)
{
	uint32_t uid = 0, gid = 0;
	size_t i;
	int e;

	if (db == NULL || cfg == NULL || u == NULL ||
	    !valid_user_name(u->name) || u->uid == UINT32_MAX ||
	    u->gid == UINT32_MAX ||
	    (u->gecos != NULL && !valid_field(u->gecos)) ||
	    (u->home != NULL && (u->home[0] != '/' || !valid_field(u->home))) ||
	    (u->shell != NULL &&
		(u->shell[0] != '/' || !valid_field(u->shell))) ||
	    (u->ngroups > 0 && u->groups == NULL) ||
	    (u->nkeys > 0 && u->keys == NULL))
		return TRASA_ERR_INVALID_ARG;
	for (i = 0; i < u->ngroups; i++)
		if (!valid_user_name(u->groups[i]))
			return TRASA_ERR_INVALID_ARG;
	for (i = 0; i < u->nkeys; i++)
		if (!valid_line(u->keys[i]))
			return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	e = tx_end(db, user_add_tx(db, cfg, u, &uid, &gid));
	if (e == 0) {
		if (uid_out != NULL)
			*uid_out = uid;
		if (gid_out != NULL)
			*gid_out = gid;
	}
	return e;
}

static int
user_del_tx(struct gw_db *db, const char *name)
{
	sqlite3_stmt *s;
	uint32_t gid, pg;
	int r;

	if ((s = st(db, ST_USER_BY_NAME)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	gid = (uint32_t)col_u64(s, 2);
	sqlite3_reset(s);
	if ((s = st(db, ST_USER_DEL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	/* Its personal group goes too, unless another user's primary. */
	if ((r = group_gid(db, name, &pg)) < 0)
		return r;
	if (r == 1 && pg == gid) {
		if ((s = st(db, ST_USERS_WITH_GID)) == NULL)
			return TRASA_ERR_IO;
		bind_u64(s, 1, gid);
		if ((r = step_row(db, s)) < 0)
			return r;
		if (r == 1 && sqlite3_column_int64(s, 0) == 0) {
			if ((s = st(db, ST_GROUP_DEL)) == NULL)
				return TRASA_ERR_IO;
			bind_text(s, 1, name);
			if ((r = step_done(db, s, 0)) != 0)
				return r;
		}
	}
	return dir_bump(db);
}

int
gw_db_user_del(struct gw_db *db, const char *name)
{
	int e;

	if (db == NULL || !valid_user_name(name))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, user_del_tx(db, name));
}

/* Run a one-statement update keyed by name; NOT_FOUND when no row
 * changed; bump the directory generation when dir is set. */
static int
update_one(struct gw_db *db, sqlite3_stmt *s, int dir)
{
	int e;

	if ((e = step_done(db, s, 0)) != 0)
		return e;
	if (sqlite3_changes(db->h) == 0)
		return TRASA_ERR_NOT_FOUND;
	return dir ? dir_bump(db) : 0;
}

int
gw_db_user_set_disabled(struct gw_db *db, const char *name, int disabled)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || !valid_user_name(name))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	if ((s = st(db, ST_USER_DISABLE)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, disabled ? 1 : 0);
	return tx_end(db, update_one(db, s, 1));
}

static int
user_add_key_tx(struct gw_db *db, const char *name, const char *key)
{
	sqlite3_stmt *s;
	int r;

	if ((r = row_exists(db, ST_USER_BY_NAME, name)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((s = st(db, ST_USER_KEY_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	bind_text(s, 2, key);
	if ((r = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		return r;
	return dir_bump(db);
}

int
gw_db_user_add_key(struct gw_db *db, const char *name, const char *key)
{
	int e;

	if (db == NULL || !valid_user_name(name) || !valid_line(key))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, user_add_key_tx(db, name, key));
}

/* The user at the current row of s (ST_USER_BY_*), with groups and keys. */
static int
user_load(struct gw_db *db, sqlite3_stmt *s, struct gw_user **out)
{
	struct gw_user *u;
	sqlite3_stmt *q;
	int ret = TRASA_ERR_ALLOC;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return TRASA_ERR_ALLOC;
	if ((u->name = col_dup(s, 0)) == NULL ||
	    (u->gecos = col_dup(s, 3)) == NULL ||
	    (u->home = col_dup(s, 4)) == NULL ||
	    (u->shell = col_dup(s, 5)) == NULL)
		goto out;
	u->uid = (uint32_t)col_u64(s, 1);
	u->gid = (uint32_t)col_u64(s, 2);
	u->disabled = sqlite3_column_int(s, 6) != 0;
	u->has_totp = sqlite3_column_int(s, 7) != 0;
	if ((q = st(db, ST_USER_GROUPS)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(q, 1, u->name);
	if ((ret = collect_strv(db, q, &u->groups, &u->ngroups)) != 0)
		goto out;
	if ((q = st(db, ST_USER_KEYS)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(q, 1, u->name);
	if ((ret = collect_strv(db, q, &u->keys, &u->nkeys)) != 0)
		goto out;
	*out = u;
	u = NULL;
	ret = 0;
out:
	gw_user_free(u);
	return ret;
}

static int
user_get_rx(struct gw_db *db, const char *name, uint32_t uid,
    struct gw_user **out)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, name != NULL ? ST_USER_BY_NAME : ST_USER_BY_UID)) ==
	    NULL)
		return TRASA_ERR_IO;
	if (name != NULL)
		bind_text(s, 1, name);
	else
		bind_u64(s, 1, uid);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	return user_load(db, s, out);
}

int
gw_db_user_get(struct gw_db *db, const char *name, uint32_t uid,
    struct gw_user **out)
{
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (name != NULL && !valid_user_name(name))
		return TRASA_ERR_NOT_FOUND;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, user_get_rx(db, name, uid, out));
}

static int
user_list_rx(struct gw_db *db, struct gw_user ***out, size_t *n)
{
	sqlite3_stmt *s;
	struct gw_user **list = NULL;
	char **names = NULL;
	size_t i, count = 0;
	int r, ret;

	if ((s = st(db, ST_USER_NAMES)) == NULL)
		return TRASA_ERR_IO;
	if ((ret = collect_strv(db, s, &names, &count)) != 0)
		return ret;
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		ret = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if ((s = st(db, ST_USER_BY_NAME)) == NULL) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		bind_text(s, 1, names[i]);
		if ((r = step_row(db, s)) <= 0) {
			ret = r < 0 ? r : TRASA_ERR_INTERNAL;
			goto out;
		}
		if ((ret = user_load(db, s, &list[i])) != 0)
			goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
	ret = 0;
out:
	gw_user_list_free(list, count);
	free_strv(names, count);
	return ret;
}

int
gw_db_user_list(struct gw_db *db, struct gw_user ***out, size_t *n)
{
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, user_list_rx(db, out, n));
}

int
gw_db_user_set_totp(struct gw_db *db, const char *name, const uint8_t *secret,
    size_t len)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || !valid_user_name(name) || secret == NULL ||
	    len == 0 || len > 1024)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	if ((s = st(db, ST_USER_TOTP_SET)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	bind_text(s, 1, name);
	sqlite3_bind_blob(s, 2, secret, (int)len, SQLITE_STATIC);
	return tx_end(db, update_one(db, s, 0));
}

static int
user_get_totp_rx(struct gw_db *db, const char *name, uint8_t **out, size_t *len)
{
	sqlite3_stmt *s;
	const void *p;
	uint8_t *v;
	int r, n;

	if ((s = st(db, ST_USER_TOTP_GET)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	p = sqlite3_column_blob(s, 0);
	n = sqlite3_column_bytes(s, 0);
	if (p == NULL || n <= 0)
		return TRASA_ERR_NOT_FOUND;
	if ((v = malloc((size_t)n)) == NULL)
		return TRASA_ERR_ALLOC;
	memcpy(v, p, (size_t)n);
	*out = v;
	*len = (size_t)n;
	return 0;
}

int
gw_db_user_get_totp(struct gw_db *db, const char *name, uint8_t **out,
    size_t *len)
{
	int e;

	if (db == NULL || out == NULL || len == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (!valid_user_name(name))
		return TRASA_ERR_NOT_FOUND;
	/* One statement: no read transaction needed. */
	e = user_get_totp_rx(db, name, out, len);
	release(db);
	return e;
}

/* ---------------------------------------------------------------- groups */

void
gw_group_free(struct gw_group *g)
{
	if (g == NULL)
		return;
	free(g->name);
	free_strv(g->members, g->nmembers);
	free(g);
}

void
gw_group_list_free(struct gw_group **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		gw_group_free(list[i]);
	free(list);
}

static int
group_add_tx(struct gw_db *db, const struct gw_config *cfg, const char *name,
    uint32_t gid, uint32_t *gidp)
{
	int r, used;

	if ((r = row_exists(db, ST_GROUP_BY_NAME, name)) != 0)
		return r < 0 ? r : TRASA_ERR_EXISTS;
	if (gid != 0) {
		if ((r = id_used(db, ID_GID, gid, &used)) != 0)
			return r;
		if (used) {
			snprintf(db->err, sizeof(db->err),
			    "gid %u is or was taken", gid);
			return TRASA_ERR_EXISTS;
		}
	} else if ((r = id_alloc(db, ID_GID, cfg->gid_min, cfg->gid_max,
			&gid)) != 0)
		return r;
	if ((r = group_insert(db, name, gid)) != 0)
		return r;
	if ((r = dir_bump(db)) != 0)
		return r;
	*gidp = gid;
	return 0;
}

int
gw_db_group_add(struct gw_db *db, const struct gw_config *cfg, const char *name,
    uint32_t gid, uint32_t *gid_out)
{
	uint32_t g = 0;
	int e;

	if (db == NULL || !valid_user_name(name) || gid == UINT32_MAX ||
	    (gid == 0 && cfg == NULL))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	e = tx_end(db, group_add_tx(db, cfg, name, gid, &g));
	if (e == 0 && gid_out != NULL)
		*gid_out = g;
	return e;
}

static int
group_del_tx(struct gw_db *db, const char *name)
{
	sqlite3_stmt *s;
	uint32_t gid;
	int r;

	if ((r = group_gid(db, name, &gid)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((s = st(db, ST_USERS_WITH_GID)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, gid);
	if ((r = step_row(db, s)) < 0)
		return r;
	if (r == 1 && sqlite3_column_int64(s, 0) > 0) {
		snprintf(db->err, sizeof(db->err),
		    "group %s is the primary group of a user", name);
		return TRASA_ERR_EXISTS;
	}
	if ((s = st(db, ST_GROUP_DEL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		return r;
	return dir_bump(db);
}

int
gw_db_group_del(struct gw_db *db, const char *name)
{
	int e;

	if (db == NULL || !valid_user_name(name))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, group_del_tx(db, name));
}

static int
group_member_tx(struct gw_db *db, const char *group, const char *user, int add)
{
	sqlite3_stmt *s;
	int r;

	if ((r = row_exists(db, ST_GROUP_BY_NAME, group)) <= 0 ||
	    (r = row_exists(db, ST_USER_BY_NAME, user)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((s = st(db, add ? ST_MEMBER_ADD : ST_MEMBER_DEL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, group);
	bind_text(s, 2, user);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	if (sqlite3_changes(db->h) == 0)
		return add ? TRASA_ERR_EXISTS : TRASA_ERR_NOT_FOUND;
	return dir_bump(db);
}

int
gw_db_group_member(struct gw_db *db, const char *group, const char *user,
    int add)
{
	int e;

	if (db == NULL || !valid_user_name(group) || !valid_user_name(user))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, group_member_tx(db, group, user, add));
}

static int
group_load(struct gw_db *db, sqlite3_stmt *s, struct gw_group **out)
{
	struct gw_group *g;
	sqlite3_stmt *q;
	int ret = TRASA_ERR_ALLOC;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return TRASA_ERR_ALLOC;
	if ((g->name = col_dup(s, 0)) == NULL)
		goto out;
	g->gid = (uint32_t)col_u64(s, 1);
	if ((q = st(db, ST_GROUP_MEMBERS)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(q, 1, g->name);
	if ((ret = collect_strv(db, q, &g->members, &g->nmembers)) != 0)
		goto out;
	*out = g;
	g = NULL;
	ret = 0;
out:
	gw_group_free(g);
	return ret;
}

static int
group_get_rx(struct gw_db *db, const char *name, uint32_t gid,
    struct gw_group **out)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, name != NULL ? ST_GROUP_BY_NAME : ST_GROUP_BY_GID)) ==
	    NULL)
		return TRASA_ERR_IO;
	if (name != NULL)
		bind_text(s, 1, name);
	else
		bind_u64(s, 1, gid);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	return group_load(db, s, out);
}

int
gw_db_group_get(struct gw_db *db, const char *name, uint32_t gid,
    struct gw_group **out)
{
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (name != NULL && !valid_user_name(name))
		return TRASA_ERR_NOT_FOUND;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, group_get_rx(db, name, gid, out));
}

static int
group_list_rx(struct gw_db *db, struct gw_group ***out, size_t *n)
{
	sqlite3_stmt *s;
	struct gw_group **list = NULL;
	char **names = NULL;
	size_t i, count = 0;
	int r, ret;

	if ((s = st(db, ST_GROUP_NAMES)) == NULL)
		return TRASA_ERR_IO;
	if ((ret = collect_strv(db, s, &names, &count)) != 0)
		return ret;
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		ret = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if ((s = st(db, ST_GROUP_BY_NAME)) == NULL) {
			ret = TRASA_ERR_IO;
			goto out;
		}
		bind_text(s, 1, names[i]);
		if ((r = step_row(db, s)) <= 0) {
			ret = r < 0 ? r : TRASA_ERR_INTERNAL;
			goto out;
		}
		if ((ret = group_load(db, s, &list[i])) != 0)
			goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
	ret = 0;
out:
	gw_group_list_free(list, count);
	free_strv(names, count);
	return ret;
}

int
gw_db_group_list(struct gw_db *db, struct gw_group ***out, size_t *n)
{
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, group_list_rx(db, out, n));
}

int
gw_db_dir_generation(struct gw_db *db, uint64_t *out)
{
	uint64_t v = 0;
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	e = meta_get(db, "dir_generation", &v);
	release(db);
	if (e == 0)
		*out = v;
	return e;
}

/* ---------------------------------------------------------------- hosts */

void
gw_host_free(struct gw_host *h)
{
	if (h == NULL)
		return;
	free(h->name);
	free_strv(h->principals, h->nprincipals);
	free(h->public_key);
	free_strv(h->allow_groups, h->nallow_groups);
	free(h);
}

void
gw_host_list_free(struct gw_host **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		gw_host_free(list[i]);
	free(list);
}

static int
host_get_rx(struct gw_db *db, const char *name, struct gw_host **out)
{
	struct gw_host *h;
	sqlite3_stmt *s;
	int r, ret = TRASA_ERR_ALLOC;

	if ((s = st(db, ST_HOST_GET)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return TRASA_ERR_ALLOC;
	if ((h->name = col_dup(s, 0)) == NULL)
		goto out;
	if (sqlite3_column_type(s, 1) != SQLITE_NULL &&
	    (h->public_key = col_dup(s, 1)) == NULL)
		goto out;
	h->cert_serial = col_u64(s, 2);
	h->cert_expiry = col_u64(s, 3);
	h->enrolled = col_u64(s, 4);
	h->last_seen = col_u64(s, 5);
	if ((s = st(db, ST_HOST_PRINCIPALS)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(s, 1, h->name);
	if ((ret = collect_strv(db, s, &h->principals, &h->nprincipals)) != 0)
		goto out;
	if ((s = st(db, ST_HOST_ALLOW)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_text(s, 1, h->name);
	if ((ret = collect_strv(db, s, &h->allow_groups, &h->nallow_groups)) !=
	    0)
		goto out;
	*out = h;
	h = NULL;
	ret = 0;
out:
	gw_host_free(h);
	return ret;
}

int
gw_db_host_get(struct gw_db *db, const char *name, struct gw_host **out)
{
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (!valid_host_name(name))
		return TRASA_ERR_NOT_FOUND;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, host_get_rx(db, name, out));
}

static int
host_list_rx(struct gw_db *db, struct gw_host ***out, size_t *n)
{
	sqlite3_stmt *s;
	struct gw_host **list = NULL;
	char **names = NULL;
	size_t i, count = 0;
	int ret;

	if ((s = st(db, ST_HOST_NAMES)) == NULL)
		return TRASA_ERR_IO;
	if ((ret = collect_strv(db, s, &names, &count)) != 0)
		return ret;
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		ret = TRASA_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < count; i++)
		if ((ret = host_get_rx(db, names[i], &list[i])) != 0)
			goto out;
	*out = list;
	*n = count;
	list = NULL;
	ret = 0;
out:
	gw_host_list_free(list, count);
	free_strv(names, count);
	return ret;
}

int
gw_db_host_list(struct gw_db *db, struct gw_host ***out, size_t *n)
{
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, host_list_rx(db, out, n));
}

static int
host_ensure(struct gw_db *db, const char *name)
{
	sqlite3_stmt *s;

	if ((s = st(db, ST_HOST_ENSURE)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	return step_done(db, s, 0);
}

static int
host_allow_tx(struct gw_db *db, const char *name, char *const *groups, size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		if ((r = row_exists(db, ST_GROUP_BY_NAME, groups[i])) <= 0) {
			if (r == 0)
				snprintf(db->err, sizeof(db->err),
				    "no group %s", groups[i]);
			return r < 0 ? r : TRASA_ERR_NOT_FOUND;
		}
	if ((r = host_ensure(db, name)) != 0)
		return r;
	if ((s = st(db, ST_HOST_ALLOW_DEL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((s = st(db, ST_HOST_ALLOW_ADD)) == NULL)
			return TRASA_ERR_IO;
		bind_text(s, 1, name);
		bind_text(s, 2, groups[i]);
		if ((r = step_done(db, s, 0)) != 0)
			return r;
	}
	return dir_bump(db);
}

int
gw_db_host_set_allow_groups(struct gw_db *db, const char *name,
    char *const *groups, size_t n)
{
	size_t i;
	int e;

	if (db == NULL || !valid_host_name(name) || (n > 0 && groups == NULL))
		return TRASA_ERR_INVALID_ARG;
	for (i = 0; i < n; i++)
		if (!valid_user_name(groups[i]))
			return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, host_allow_tx(db, name, groups, n));
}

static int
valid_principals(char *const *p, size_t n)
{
	size_t i;

	if (n > 0 && p == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!valid_word(p[i], 1024))
			return 0;
	return 1;
}

static int
token_add_tx(struct gw_db *db, const char *host, const uint8_t hash[32],
    char *const *principals, size_t n, uint64_t expires)
{
	sqlite3_stmt *s;
	size_t i;
	int r;

	if ((s = st(db, ST_TOKEN_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, hash);
	bind_text(s, 2, host);
	bind_u64(s, 3, expires);
	bind_u64(s, 4, now_s());
	if ((r = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		return r;
	/* No principals: the host name only. */
	for (i = 0; i < (n > 0 ? n : 1); i++) {
		if ((s = st(db, ST_TOKEN_PRINCIPAL_ADD)) == NULL)
			return TRASA_ERR_IO;
		bind_hash(s, 1, hash);
		bind_text(s, 2, n > 0 ? principals[i] : host);
		if ((r = step_done(db, s, 0)) != 0)
			return r;
	}
	return 0;
}

int
gw_db_token_add(struct gw_db *db, const char *host, const uint8_t hash[32],
    char *const *principals, size_t n, uint64_t expires)
{
	int e;

	if (db == NULL || !valid_host_name(host) || hash == NULL ||
	    !valid_principals(principals, n))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, token_add_tx(db, host, hash, principals, n, expires));
}

/* The token row: NOT_FOUND unknown or used, EXPIRED. */
static int
token_find(struct gw_db *db, const uint8_t hash[32], uint64_t now, char **host)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_TOKEN_GET)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, hash);
	if ((r = step_row(db, s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if (sqlite3_column_int(s, 2) != 0)
		return TRASA_ERR_NOT_FOUND;
	if (col_u64(s, 1) <= now)
		return TRASA_ERR_EXPIRED;
	if (host != NULL && (*host = col_dup(s, 0)) == NULL)
		return TRASA_ERR_ALLOC;
	sqlite3_reset(s);
	return 0;
}

static int
token_peek_rx(struct gw_db *db, const uint8_t hash[32], uint64_t now,
    char **host_out, char ***principals_out, size_t *n_out)
{
	sqlite3_stmt *s;
	char *host = NULL, **p = NULL;
	size_t n = 0;
	int ret;

	if ((ret = token_find(db, hash, now, &host)) != 0)
		goto out;
	if ((s = st(db, ST_TOKEN_PRINCIPALS)) == NULL) {
		ret = TRASA_ERR_IO;
		goto out;
	}
	bind_hash(s, 1, hash);
	if ((ret = collect_strv(db, s, &p, &n)) != 0)
		goto out;
	if (host_out != NULL) {
		*host_out = host;
		host = NULL;
	}
	if (principals_out != NULL) {
		*principals_out = p;
		p = NULL;
	}
	if (n_out != NULL)
		*n_out = n;
	ret = 0;
out:
	free(host);
	free_strv(p, n);
	return ret;
}

int
gw_db_token_peek(struct gw_db *db, const uint8_t hash[32], uint64_t now,
    char **host_out, char ***principals_out, size_t *n_out)
{
	int e;

	if (db == NULL || hash == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db,
	    token_peek_rx(db, hash, now, host_out, principals_out, n_out));
}

static int
host_enroll_tx(struct gw_db *db, const uint8_t token_hash[32], uint64_t now,
    const char *hostname, const char *public_key, char *const *principals,
    size_t n, uint64_t serial, uint64_t expiry, const uint8_t cred_hash[32])
{
	sqlite3_stmt *s;
	char *host = NULL;
	size_t i;
	int r;

	if ((r = token_find(db, token_hash, now, &host)) != 0)
		return r;
	r = strcmp(host, hostname);
	free(host);
	if (r != 0)
		return TRASA_ERR_INVALID_ARG;
	/* The single use, whatever else happens: one of concurrent callers
	 * gets the row. */
	if ((s = st(db, ST_TOKEN_USE)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, token_hash);
	bind_u64(s, 2, now);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	if (sqlite3_changes(db->h) != 1)
		return TRASA_ERR_NOT_FOUND;
	if ((r = host_ensure(db, hostname)) != 0)
		return r;
	if ((s = st(db, ST_HOST_ENROLL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, hostname);
	bind_text(s, 2, public_key);
	bind_u64(s, 3, serial);
	bind_u64(s, 4, expiry);
	bind_u64(s, 5, now);
	bind_hash(s, 6, cred_hash);
	if ((r = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		return r;
	if ((s = st(db, ST_HOST_PRINCIPALS_DEL)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, hostname);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	for (i = 0; i < (n > 0 ? n : 1); i++) {
		if ((s = st(db, ST_HOST_PRINCIPAL_ADD)) == NULL)
			return TRASA_ERR_IO;
		bind_text(s, 1, hostname);
		bind_text(s, 2, n > 0 ? principals[i] : hostname);
		if ((r = step_done(db, s, 0)) != 0)
			return r;
	}
	return 0;
}

int
gw_db_host_enroll(struct gw_db *db, const uint8_t token_hash[32], uint64_t now,
    const char *hostname, const char *public_key, char *const *principals,
    size_t n, uint64_t serial, uint64_t expiry, const uint8_t cred_hash[32])
{
	int e;

	if (db == NULL || token_hash == NULL || cred_hash == NULL ||
	    !valid_host_name(hostname) || !valid_line(public_key) ||
	    !valid_principals(principals, n))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db,
	    host_enroll_tx(db, token_hash, now, hostname, public_key,
		principals, n, serial, expiry, cred_hash));
}

int
gw_db_host_by_credential(struct gw_db *db, const uint8_t cred_hash[32],
    uint64_t now, char **name_out)
{
	sqlite3_stmt *s;
	char *name = NULL;
	uint64_t seen = 0;
	int r;

	if (db == NULL || cred_hash == NULL || name_out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_HOST_BY_CRED)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, cred_hash);
	r = step_row(db, s);
	if (r == 1) {
		seen = col_u64(s, 1);
		if ((name = col_dup(s, 0)) == NULL)
			r = TRASA_ERR_ALLOC;
	}
	release(db);
	if (r <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	/* last_seen moves at most once a second: a write only then. */
	if (seen < now) {
		if ((r = tx_begin(db)) != 0)
			goto out;
		if ((s = st(db, ST_HOST_SEEN)) == NULL)
			r = TRASA_ERR_IO;
		else {
			bind_text(s, 1, name);
			bind_u64(s, 2, now);
			r = step_done(db, s, 0);
		}
		if ((r = tx_end(db, r)) != 0)
			goto out;
	}
	*name_out = name;
	name = NULL;
	r = 0;
out:
	free(name);
	return r;
}

int
gw_db_host_renewed(struct gw_db *db, const char *name, uint64_t serial,
    uint64_t expiry, uint64_t now)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || !valid_host_name(name))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	if ((s = st(db, ST_HOST_RENEWED)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	bind_text(s, 1, name);
	bind_u64(s, 2, serial);
	bind_u64(s, 3, expiry);
	bind_u64(s, 4, now);
	return tx_end(db, update_one(db, s, 0));
}

static int
challenge_add_tx(struct gw_db *db, const char *host, const char *challenge,
    uint64_t expires)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_CHALLENGE_PURGE)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, now_s());
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	if ((s = st(db, ST_CHALLENGE_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, host);
	bind_text(s, 2, challenge);
	bind_u64(s, 3, expires);
	return step_done(db, s, TRASA_ERR_EXISTS);
}

int
gw_db_challenge_add(struct gw_db *db, const char *host, const char *challenge,
    uint64_t expires)
{
	int e;

	if (db == NULL || !valid_host_name(host) ||
	    !valid_word(challenge, 1024))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, challenge_add_tx(db, host, challenge, expires));
}

int
gw_db_challenge_take(struct gw_db *db, const char *host, const char *challenge,
    uint64_t now)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || host == NULL || challenge == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	if ((s = st(db, ST_CHALLENGE_TAKE)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	bind_text(s, 1, host);
	bind_text(s, 2, challenge);
	bind_u64(s, 3, now);
	return tx_end(db, update_one(db, s, 0));
}

/* ---------------------------------------------------------------- certs */

static int
cert_record_tx(struct gw_db *db, const struct gw_cert_rec *c, const char *actor)
{
	sqlite3_stmt *s;
	char detail[1024];
	int r;

	if ((s = st(db, ST_CERT_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, c->serial);
	sqlite3_bind_int(s, 2, (int)c->kind);
	bind_text(s, 3, c->subject);
	bind_text(s, 4, c->key_id);
	bind_text(s, 5, c->principals);
	bind_text(s, 6, c->key_fp);
	bind_u64(s, 7, c->valid_after);
	bind_u64(s, 8, c->valid_before);
	bind_u64(s, 9, c->issued);
	if ((r = step_done(db, s, TRASA_ERR_EXISTS)) != 0)
		return r;
	/* Long values are cut in the audit line; the certs row has them. */
	snprintf(detail, sizeof(detail),
	    "serial=%" PRIu64 " valid=%" PRIu64 "..%" PRIu64
	    " fp=%.100s key_id=%.300s principals=%.400s",
	    c->serial, c->valid_after, c->valid_before,
	    c->key_fp != NULL ? c->key_fp : "",
	    c->key_id != NULL ? c->key_id : "",
	    c->principals != NULL ? c->principals : "");
	return audit_add(db, c->issued != 0 ? c->issued : now_s(),
	    c->kind == GW_CERT_USER ? "cert.user" : "cert.host", actor,
	    c->subject, "ok", detail);
}

int
gw_db_cert_record(struct gw_db *db, const struct gw_cert_rec *c,
    const char *actor)
{
	int e;

	if (db == NULL || c == NULL ||
	    (c->kind != GW_CERT_USER && c->kind != GW_CERT_HOST) ||
	    c->subject == NULL || c->key_id == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, cert_record_tx(db, c, actor));
}

int
gw_db_cert_exists(struct gw_db *db, uint64_t serial, int *exists)
{
	sqlite3_stmt *s;
	int r;

	if (db == NULL || exists == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_CERT_EXISTS)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, serial);
	r = step_row(db, s);
	release(db);
	if (r < 0)
		return r;
	*exists = r;
	return 0;
}

int
gw_db_cert_key_id(struct gw_db *db, uint64_t serial, char **out)
{
	sqlite3_stmt *s;
	char *v = NULL;
	int r;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_CERT_KEY_ID)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, serial);
	if ((r = step_row(db, s)) == 1 && (v = col_dup(s, 0)) == NULL)
		r = TRASA_ERR_ALLOC;
	release(db);
	if (r <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- revocation */

static const char *
revoke_kind_name(enum gw_revoke_kind k)
{
	switch (k) {
	case GW_REVOKE_SERIAL: return "serial";
	case GW_REVOKE_KEY_ID: return "key_id";
	case GW_REVOKE_KEY: return "key";
	}
	return "?";
}

static int
revoke_tx(struct gw_db *db, enum gw_revoke_kind kind, const char *value,
    const char *actor)
{
	sqlite3_stmt *s;
	uint64_t now = now_s();
	int r, fresh;

	if ((s = st(db, ST_REVOKE_ADD)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, (int)kind);
	bind_text(s, 2, value);
	bind_u64(s, 3, now);
	bind_text(s, 4, actor);
	if ((r = step_done(db, s, 0)) != 0)
		return r;
	fresh = sqlite3_changes(db->h) == 1;
	if (fresh && (r = meta_bump(db, "krl_generation")) != 0)
		return r;
	return audit_add(db, now, "revoke", actor, value, "ok",
	    fresh ? revoke_kind_name(kind) : "already revoked");
}

int
gw_db_revoke(struct gw_db *db, enum gw_revoke_kind kind, const char *value,
    const char *actor)
{
	struct sshkey *k = NULL;
	char buf[32], *line = NULL;
	unsigned long long v;
	char *ep;
	int e;

	if (db == NULL || !valid_line(value))
		return TRASA_ERR_INVALID_ARG;
	switch (kind) {
	case GW_REVOKE_SERIAL:
		/* Canonical decimal, so "007" and "7" are one entry. */
		if (value[0] < '0' || value[0] > '9')
			return TRASA_ERR_INVALID_ARG;
		errno = 0;
		v = strtoull(value, &ep, 10);
		/* KRLs cannot hold serial 0 */
		if (errno != 0 || *ep != '\0' || v == 0)
			return TRASA_ERR_INVALID_ARG;
		snprintf(buf, sizeof(buf), "%llu", v);
		value = buf;
		break;
	case GW_REVOKE_KEY_ID: break;
	case GW_REVOKE_KEY:
		/* Canonical "TYPE BASE64", so one key is one entry, and
		 * the KRL never meets a line it cannot read. */
		if (sshkey_parse_public(value, &k, NULL) != 0)
			return TRASA_ERR_INVALID_ARG;
		e = sshkey_format_public(k, NULL, &line);
		sshkey_free(k);
		if (e != 0)
			return e;
		value = line;
		break;
	default: return TRASA_ERR_INVALID_ARG;
	}
	if ((e = tx_begin(db)) == 0)
		e = tx_end(db, revoke_tx(db, kind, value, actor));
	free(line);
	return e;
}

void
gw_revocations_free(struct gw_revocation *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		free(r[i].value);
	free(r);
}

static int
revocations_rx(struct gw_db *db, struct gw_revocation **out, size_t *n,
    uint64_t *generation)
{
	struct gw_revocation *v = NULL, *nv;
	sqlite3_stmt *s;
	size_t len = 0, cap = 0;
	uint64_t gen;
	int rc, ret;

	if ((ret = meta_get(db, "krl_generation", &gen)) != 0)
		return ret;
	if ((s = st(db, ST_REVOCATIONS)) == NULL)
		return TRASA_ERR_IO;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return TRASA_ERR_ALLOC;
	cap = 1;
	ret = TRASA_ERR_ALLOC;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			if ((nv = reallocarray(v, cap * 2, sizeof(*v))) == NULL)
				goto out;
			v = nv;
			cap *= 2;
		}
		v[len].kind = (enum gw_revoke_kind)sqlite3_column_int(s, 0);
		if ((v[len].value = col_dup(s, 1)) == NULL)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		ret = set_err(db, NULL);
		goto out;
	}
	*out = v;
	*n = len;
	if (generation != NULL)
		*generation = gen;
	v = NULL;
	ret = 0;
out:
	gw_revocations_free(v, len);
	return ret;
}

int
gw_db_revocations(struct gw_db *db, struct gw_revocation **out, size_t *n,
    uint64_t *generation)
{
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, revocations_rx(db, out, n, generation));
}

int
gw_db_krl_generation(struct gw_db *db, uint64_t *out)
{
	uint64_t v = 0;
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	e = meta_get(db, "krl_generation", &v);
	release(db);
	if (e == 0)
		*out = v;
	return e;
}

/* ---------------------------------------------------------------- admin tokens */

static int
admin_token_add_tx(struct gw_db *db, const char *name, const uint8_t hash[32])
{
	sqlite3_stmt *s;
	int r;

	if ((r = row_exists(db, ST_ADMIN_ACTIVE, name)) != 0)
		return r < 0 ? r : TRASA_ERR_EXISTS;
	if ((s = st(db, ST_ADMIN_ADD)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, name);
	bind_hash(s, 2, hash);
	bind_u64(s, 3, now_s());
	return step_done(db, s, TRASA_ERR_EXISTS);
}

int
gw_db_admin_token_add(struct gw_db *db, const char *name,
    const uint8_t hash[32])
{
	int e;

	if (db == NULL || !valid_word(name, MAX_USER_NAME) || hash == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db, admin_token_add_tx(db, name, hash));
}

int
gw_db_admin_token_revoke(struct gw_db *db, const char *name)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || name == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	if ((s = st(db, ST_ADMIN_REVOKE)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	bind_text(s, 1, name);
	return tx_end(db, update_one(db, s, 0));
}

int
gw_db_admin_token_check(struct gw_db *db, const uint8_t hash[32],
    char **name_out)
{
	sqlite3_stmt *s;
	char *v = NULL;
	int r;

	if (db == NULL || hash == NULL || name_out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_ADMIN_CHECK)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, hash);
	if ((r = step_row(db, s)) == 1 && (v = col_dup(s, 0)) == NULL)
		r = TRASA_ERR_ALLOC;
	release(db);
	if (r <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	*name_out = v;
	return 0;
}

int
gw_db_admin_token_list(struct gw_db *db, struct gw_admin_token **out, size_t *n)
{
	struct gw_admin_token *v = NULL, *nv;
	sqlite3_stmt *s;
	size_t len = 0, cap = 0;
	int rc, ret = TRASA_ERR_ALLOC;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_ADMIN_LIST)) == NULL)
		return TRASA_ERR_IO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto out;
			v = nv;
		}
		v[len].created = col_u64(s, 1);
		if ((v[len].name = col_dup(s, 0)) == NULL)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		ret = set_err(db, NULL);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	ret = 0;
out:
	release(db);
	gw_admin_token_list_free(v, len);
	return ret;
}

void
gw_admin_token_list_free(struct gw_admin_token *t, size_t n)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

/* ---------------------------------------------------------------- audit */

int
gw_db_audit(struct gw_db *db, const char *event, const char *actor,
    const char *subject, const char *result, const char *detail)
{
	int e;

	if (db == NULL || event == NULL || *event == '\0')
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	return tx_end(db,
	    audit_add(db, now_s(), event, actor, subject, result, detail));
}

void
gw_audit_list_free(struct gw_audit_rec *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(r[i].event);
		free(r[i].actor);
		free(r[i].subject);
		free(r[i].result);
		free(r[i].detail);
	}
	free(r);
}

int
gw_db_audit_list(struct gw_db *db, uint64_t since, size_t max,
    struct gw_audit_rec **out, size_t *n)
{
	struct gw_audit_rec *v = NULL, *nv, *a;
	sqlite3_stmt *s;
	size_t len = 0, cap = 0;
	int rc, ret = TRASA_ERR_ALLOC;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_AUDIT_LIST)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, since);
	sqlite3_bind_int64(s, 2,
	    max == 0 || max > INT64_MAX ? -1 : (sqlite3_int64)max);
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto out;
	cap = 1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			if ((nv = reallocarray(v, cap * 2, sizeof(*v))) == NULL)
				goto out;
			v = nv;
			cap *= 2;
		}
		a = &v[len];
		memset(a, 0, sizeof(*a));
		len++;
		a->id = col_u64(s, 0);
		a->time = col_u64(s, 1);
		if ((a->event = col_dup(s, 2)) == NULL ||
		    (a->actor = col_dup(s, 3)) == NULL ||
		    (a->subject = col_dup(s, 4)) == NULL ||
		    (a->result = col_dup(s, 5)) == NULL ||
		    (a->detail = col_dup(s, 6)) == NULL)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		ret = set_err(db, NULL);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	ret = 0;
out:
	release(db);
	gw_audit_list_free(v, len);
	return ret;
}

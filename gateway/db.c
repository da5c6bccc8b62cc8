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

/* The TOTP state of each user: the last time step accepted (a code is
 * good once) and consecutive failures (locked out for a while after
 * TOTP_MAX_FAILURES). */
static const char totp_sql[] =
    "CREATE TABLE IF NOT EXISTS totp_state("
    " user TEXT PRIMARY KEY, last_step INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0);";

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
	ST_REVOKED,
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
	[ST_REVOKED] = "SELECT 1 FROM revocations WHERE kind = ?1 AND "
		       "value = ?2",
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

/*
 * Every row of a bound statement, each read by row() into a zeroed
 * element of size bytes of a growing array that always keeps a zeroed
 * element past the last (so that a vector of pointers ends in NULL). The
 * array is not NULL on success, even when empty. On failure *out and *n
 * hold what was read (the last element perhaps half filled) for the
 * caller to free.
 */
static int
collect_rows(struct gw_db *db, sqlite3_stmt *s, size_t size,
    int (*row)(sqlite3_stmt *, void *), void **out, size_t *n)
{
	unsigned char *v, *nv;
	size_t len = 0, cap = 1;
	int rc, ret = 0;

	*out = NULL;
	*n = 0;
	if ((v = calloc(cap + 1, size)) == NULL)
		return TRASA_ERR_ALLOC;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			if ((nv = reallocarray(v, cap * 2 + 1, size)) == NULL) {
				ret = TRASA_ERR_ALLOC;
				break;
			}
			v = nv;
			memset(v + (cap + 1) * size, 0, cap * size);
			cap *= 2;
		}
		if ((ret = row(s, v + len++ * size)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = set_err(db, NULL);
	*out = v;
	*n = len;
	return ret;
}

static int
strv_row(sqlite3_stmt *s, void *elem)
{
	char **v = elem;

	return (*v = col_dup(s, 0)) == NULL ? TRASA_ERR_ALLOC : 0;
}

/* Column 0 of every row of a bound statement, as a fresh NULL-terminated
 * vector (not NULL, even when empty). */
static int
collect_strv(struct gw_db *db, sqlite3_stmt *s, char ***out, size_t *n)
{
	void *v;
	size_t len;
	int ret;

	if ((ret = collect_rows(db, s, sizeof(char *), strv_row, &v, &len)) !=
	    0) {
		free_strv(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	return 0;
}

/* collect_strv() of statement id, bound to the text key unless NULL. */
static int
key_strv(struct gw_db *db, enum stid id, const char *key, char ***out,
    size_t *n)
{
	sqlite3_stmt *s;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	if (key != NULL)
		bind_text(s, 1, key);
	return collect_strv(db, s, out, n);
}

/* Step statement id, bound to the text key, to its one row: 1, 0 when
 * there is none, or an error. */
static int
find_row(struct gw_db *db, enum stid id, const char *key, sqlite3_stmt **out)
{
	sqlite3_stmt *s;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, key);
	*out = s;
	return step_row(db, s);
}

/* The text in column 0 of the one row of a bound single-statement read
 * (no transaction); NOT_FOUND without a row. */
static int
read_text(struct gw_db *db, sqlite3_stmt *s, char **out)
{
	char *v = NULL;
	int r;

	if ((r = step_row(db, s)) == 1 && (v = col_dup(s, 0)) == NULL)
		r = TRASA_ERR_ALLOC;
	release(db);
	if (r <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	*out = v;
	return 0;
}

/* Run statement id bound to the texts a and (unless NULL) b; a
 * constraint failure is cerr (see step_done()). */
static int
run_text(struct gw_db *db, enum stid id, int cerr, const char *a, const char *b)
{
	sqlite3_stmt *s;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	bind_text(s, 1, a);
	if (b != NULL)
		bind_text(s, 2, b);
	return step_done(db, s, cerr);
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
	return run_text(db, ST_META_BUMP, 0, key, NULL);
}

/* meta_get() on its own, for the generations (no transaction). */
static int
meta_read(struct gw_db *db, const char *key, uint64_t *out)
{
	uint64_t v = 0;
	int e;

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	e = meta_get(db, key, &v);
	release(db);
	if (e == 0)
		*out = v;
	return e;
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
	/* Added after version 1's first release: made when missing. */
	if (sqlite3_exec(db->h, totp_sql, NULL, NULL, NULL) != SQLITE_OK)
		return set_err(db, "creating the TOTP table");
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

static const char *
id_kind_name(int kind)
{
	return kind == ID_UID ? "uid" : "gid";
}

/* Step the range statement id (kind, lo, hi) to its row: 1, 0 or error. */
static int
id_range_row(struct gw_db *db, enum stid id, int kind, uint32_t lo, uint32_t hi,
    sqlite3_stmt **out)
{
	sqlite3_stmt *s;

	if ((s = st(db, id)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, kind);
	bind_u64(s, 2, lo);
	bind_u64(s, 3, hi);
	*out = s;
	return step_row(db, s);
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
		    id_kind_name(kind), lo, hi);
		return TRASA_ERR_INVALID_ARG;
	}
	if ((r = id_range_row(db, ST_ID_MAX, kind, lo, hi, &s)) < 0)
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
	if ((r = id_range_row(db, ST_ID_GAP, kind, lo, hi, &s)) < 0)
		return r;
	if (r == 0) {
		snprintf(db->err, sizeof(db->err), "every %s in %u-%u is taken",
		    id_kind_name(kind), lo, hi);
		return TRASA_ERR_INVALID_ARG;
	}
	*out = (uint32_t)col_u64(s, 0);
	return 0;
}

/* *id when given (EXISTS when ever used), else a fresh one from the
 * configured range of its kind (cfg is then required). */
static int
id_choose(struct gw_db *db, const struct gw_config *cfg, int kind, uint32_t *id)
{
	int r, used;

	if (*id == 0)
		return kind == ID_UID ?
		    id_alloc(db, kind, cfg->uid_min, cfg->uid_max, id) :
		    id_alloc(db, kind, cfg->gid_min, cfg->gid_max, id);
	if ((r = id_used(db, kind, *id, &used)) != 0)
		return r;
	if (used) {
		snprintf(db->err, sizeof(db->err), "%s %u is or was taken",
		    id_kind_name(kind), *id);
		return TRASA_ERR_EXISTS;
	}
	return 0;
}

/* ---------------------------------------------------------------- records */

/*
 * Users, groups and hosts are read alike: the row of a name (or, for
 * users and groups, of an id), made into a record with its lists by
 * load(), which stores a pointer to it at out; a list reads each name
 * of the names statement in turn.
 */
struct rec_kind {
	enum stid by_name, by_id, names;
	size_t size; /* of a pointer to a record */
	int (*load)(struct gw_db *db, sqlite3_stmt *s, void *out);
	void (*free_list)(void *list, size_t n);
};

/* 1 when a row of the name-keyed statement id exists. */
static int
row_exists(struct gw_db *db, enum stid id, const char *name)
{
	sqlite3_stmt *s;
	int r;

	r = find_row(db, id, name, &s);
	if (r >= 0)
		sqlite3_reset(s);
	return r;
}

/* The record named name or, name NULL, numbered id. */
static int
rec_get_rx(struct gw_db *db, const struct rec_kind *k, const char *name,
    uint64_t id, void *out)
{
	sqlite3_stmt *s;
	int r;

	if (name != NULL)
		r = find_row(db, k->by_name, name, &s);
	else if ((s = st(db, k->by_id)) == NULL)
		return TRASA_ERR_IO;
	else {
		bind_u64(s, 1, id);
		r = step_row(db, s);
	}
	if (r <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	return k->load(db, s, out);
}

static int
rec_get(struct gw_db *db, const struct rec_kind *k, const char *name,
    uint64_t id, void *out)
{
	int e;

	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, rec_get_rx(db, k, name, id, out));
}

static int
rec_list_rx(struct gw_db *db, const struct rec_kind *k, void **out, size_t *n)
{
	char **names = NULL;
	unsigned char *list;
	size_t i, count = 0;
	int ret;

	if ((ret = key_strv(db, k->names, NULL, &names, &count)) != 0)
		return ret;
	if ((list = calloc(count + 1, k->size)) == NULL)
		ret = TRASA_ERR_ALLOC;
	for (i = 0; list != NULL && i < count && ret == 0; i++)
		ret = rec_get_rx(db, k, names[i], 0, list + i * k->size);
	if (ret == 0) {
		*out = list;
		*n = count;
		list = NULL;
	}
	k->free_list(list, count);
	free_strv(names, count);
	return ret;
}

/* Every record, by name, as a NULL-terminated array of pointers. */
static int
rec_list(struct gw_db *db, const struct rec_kind *k, void **out, size_t *n)
{
	int e;

	if ((e = rx_begin(db)) != 0)
		return e;
	return rx_end(db, rec_list_rx(db, k, out, n));
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

static int
group_gid(struct gw_db *db, const char *name, uint32_t *gid)
{
	sqlite3_stmt *s;
	int r;

	if ((r = find_row(db, ST_GROUP_BY_NAME, name, &s)) <= 0)
		return r;
	*gid = (uint32_t)col_u64(s, 1);
	sqlite3_reset(s);
	return 1;
}

/* NOT_FOUND, saying so, unless group name exists. */
static int
group_must_exist(struct gw_db *db, const char *name)
{
	int r;

	if ((r = row_exists(db, ST_GROUP_BY_NAME, name)) == 1)
		return 0;
	if (r == 0)
		snprintf(db->err, sizeof(db->err), "no group %s", name);
	return r < 0 ? r : TRASA_ERR_NOT_FOUND;
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

/* The primary group of a new user: gid when an existing group's, else a
 * new personal group NAME numbered gid (uid when 0 and free). */
static int
user_primary_group(struct gw_db *db, const struct gw_config *cfg,
    const char *name, uint32_t uid, uint32_t *gidp)
{
	sqlite3_stmt *s;
	uint32_t gid = *gidp, g;
	int r, used;

	if (gid != 0) {
		if ((s = st(db, ST_GROUP_BY_GID)) == NULL)
			return TRASA_ERR_IO;
		bind_u64(s, 1, gid);
		if ((r = step_row(db, s)) != 0)
			return r < 0 ? r : 0;
		if ((r = id_used(db, ID_GID, gid, &used)) != 0)
			return r;
		if (used) {
			snprintf(db->err, sizeof(db->err),
			    "gid %u was taken before", gid);
			return TRASA_ERR_EXISTS;
		}
	} else {
		if ((r = id_used(db, ID_GID, uid, &used)) != 0)
			return r;
		if (!used)
			gid = uid;
		else if ((r = id_choose(db, cfg, ID_GID, &gid)) != 0)
			return r;
	}
	if ((r = group_gid(db, name, &g)) != 0) {
		if (r > 0)
			snprintf(db->err, sizeof(db->err),
			    "a group named %s exists", name);
		return r < 0 ? r : TRASA_ERR_EXISTS;
	}
	if ((r = group_insert(db, name, gid)) != 0)
		return r;
	*gidp = gid;
	return 0;
}

/* The user's home and shell, with their defaults, inserted. */
static int
user_insert(struct gw_db *db, const struct gw_config *cfg,
    const struct gw_user *u, uint32_t uid, uint32_t gid)
{
	sqlite3_stmt *s;
	char *home = NULL;
	const char *shell;
	int ret;

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
	ret = step_done(db, s, TRASA_ERR_EXISTS);
out:
	free(home);
	return ret;
}

static int
user_add_tx(struct gw_db *db, const struct gw_config *cfg,
    const struct gw_user *u, uint32_t *uidp, uint32_t *gidp)
{
	uint32_t uid = u->uid, gid = u->gid;
	size_t i;
	int r;

	if ((r = row_exists(db, ST_USER_BY_NAME, u->name)) != 0)
		return r < 0 ? r : TRASA_ERR_EXISTS;
	if ((r = id_choose(db, cfg, ID_UID, &uid)) != 0)
		return r;
	if ((r = user_primary_group(db, cfg, u->name, uid, &gid)) != 0)
		return r;
	if ((r = id_mark(db, ID_UID, uid)) != 0)
		return r;
	if ((r = user_insert(db, cfg, u, uid, gid)) != 0)
		return r;
	for (i = 0; i < u->ngroups; i++)
		if ((r = group_must_exist(db, u->groups[i])) != 0 ||
		    (r = run_text(db, ST_MEMBER_ADD, 0, u->groups[i],
			 u->name)) != 0)
			return r;
	/* the same key twice is stored once */
	for (i = 0; i < u->nkeys; i++)
		if ((r = run_text(db, ST_USER_KEY_ADD, 1, u->name,
			 u->keys[i])) < 0)
			return r;
	if ((r = dir_bump(db)) != 0)
		return r;
	*uidp = uid;
	*gidp = gid;
	return 0;
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

/* Delete the group name unless gid is some user's primary group: 1 when
 * it is, else 0 (deleted) or an error (a constraint failure: cerr). */
static int
group_del_unused(struct gw_db *db, const char *name, uint32_t gid, int cerr)
{
	sqlite3_stmt *s;
	int r;

	if ((s = st(db, ST_USERS_WITH_GID)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, gid);
	if ((r = step_row(db, s)) < 0)
		return r;
	if (r == 1 && sqlite3_column_int64(s, 0) > 0)
		return 1;
	return run_text(db, ST_GROUP_DEL, cerr, name, NULL);
}

static int
user_del_tx(struct gw_db *db, const char *name)
{
	sqlite3_stmt *s;
	uint32_t gid, pg;
	int r;

	if ((r = find_row(db, ST_USER_BY_NAME, name, &s)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	gid = (uint32_t)col_u64(s, 2);
	sqlite3_reset(s);
	if ((r = run_text(db, ST_USER_DEL, 0, name, NULL)) != 0)
		return r;
	/* Its personal group goes too, unless another user's primary. */
	if ((r = group_gid(db, name, &pg)) < 0)
		return r;
	if (r == 1 && pg == gid && (r = group_del_unused(db, name, gid, 0)) < 0)
		return r;
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

/* Begin a write transaction with its one statement id. */
static int
tx_begin_st(struct gw_db *db, enum stid id, sqlite3_stmt **out)
{
	int e;

	if ((e = tx_begin(db)) != 0)
		return e;
	if ((*out = st(db, id)) == NULL)
		return tx_end(db, TRASA_ERR_IO);
	return 0;
}

/* Run the statement of tx_begin_st(), bound, as an update that must
 * change a row (else NOT_FOUND), bumping the directory generation when
 * dir is set, and end the transaction. */
static int
tx_update_one(struct gw_db *db, sqlite3_stmt *s, int dir)
{
	int e;

	if ((e = step_done(db, s, 0)) == 0 && sqlite3_changes(db->h) == 0)
		e = TRASA_ERR_NOT_FOUND;
	if (e == 0 && dir)
		e = dir_bump(db);
	return tx_end(db, e);
}

int
gw_db_user_set_disabled(struct gw_db *db, const char *name, int disabled)
{
	sqlite3_stmt *s;
	int e;

	if (db == NULL || !valid_user_name(name))
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin_st(db, ST_USER_DISABLE, &s)) != 0)
		return e;
	bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, disabled ? 1 : 0);
	return tx_update_one(db, s, 1);
}

static int
user_add_key_tx(struct gw_db *db, const char *name, const char *key)
{
	int r;

	if ((r = row_exists(db, ST_USER_BY_NAME, name)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((r = run_text(db, ST_USER_KEY_ADD, TRASA_ERR_EXISTS, name, key)) !=
	    0)
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

/* The user at the current row of s (ST_USER_BY_*), with groups and keys;
 * out is a struct gw_user **. */
static int
user_load(struct gw_db *db, sqlite3_stmt *s, void *out)
{
	struct gw_user *u;
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
	if ((ret = key_strv(db, ST_USER_GROUPS, u->name, &u->groups,
		 &u->ngroups)) != 0 ||
	    (ret = key_strv(db, ST_USER_KEYS, u->name, &u->keys, &u->nkeys)) !=
		0)
		goto out;
	*(struct gw_user **)out = u;
	u = NULL;
out:
	gw_user_free(u);
	return ret;
}

static void
user_list_free(void *list, size_t n)
{
	gw_user_list_free(list, n);
}

static const struct rec_kind user_kind = {
	.by_name = ST_USER_BY_NAME,
	.by_id = ST_USER_BY_UID,
	.names = ST_USER_NAMES,
	.size = sizeof(struct gw_user *),
	.load = user_load,
	.free_list = user_list_free,
};

int
gw_db_user_get(struct gw_db *db, const char *name, uint32_t uid,
    struct gw_user **out)
{
	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (name != NULL && !valid_user_name(name))
		return TRASA_ERR_NOT_FOUND;
	return rec_get(db, &user_kind, name, uid, out);
}

int
gw_db_user_list(struct gw_db *db, struct gw_user ***out, size_t *n)
{
	void *list;
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rec_list(db, &user_kind, &list, n)) == 0)
		*out = list;
	return e;
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
	if ((e = tx_begin_st(db, ST_USER_TOTP_SET, &s)) != 0)
		return e;
	bind_text(s, 1, name);
	sqlite3_bind_blob(s, 2, secret, (int)len, SQLITE_STATIC);
	return tx_update_one(db, s, 0);
}

static int
user_get_totp_rx(struct gw_db *db, const char *name, uint8_t **out, size_t *len)
{
	sqlite3_stmt *s;
	const void *p;
	uint8_t *v;
	int r, n;

	if ((r = find_row(db, ST_USER_TOTP_GET, name, &s)) <= 0)
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
	int r;

	if ((r = row_exists(db, ST_GROUP_BY_NAME, name)) != 0)
		return r < 0 ? r : TRASA_ERR_EXISTS;
	if ((r = id_choose(db, cfg, ID_GID, &gid)) != 0)
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
	uint32_t gid;
	int r;

	if ((r = group_gid(db, name, &gid)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((r = group_del_unused(db, name, gid, TRASA_ERR_EXISTS)) < 0)
		return r;
	if (r == 1) {
		snprintf(db->err, sizeof(db->err),
		    "group %s is the primary group of a user", name);
		return TRASA_ERR_EXISTS;
	}
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
	int r;

	if ((r = row_exists(db, ST_GROUP_BY_NAME, group)) <= 0 ||
	    (r = row_exists(db, ST_USER_BY_NAME, user)) <= 0)
		return r < 0 ? r : TRASA_ERR_NOT_FOUND;
	if ((r = run_text(db, add ? ST_MEMBER_ADD : ST_MEMBER_DEL, 0, group,
		 user)) != 0)
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

/* The group at the current row of s (ST_GROUP_BY_*), with its members;
 * out is a struct gw_group **. */
static int
group_load(struct gw_db *db, sqlite3_stmt *s, void *out)
{
	struct gw_group *g;
	int ret;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return TRASA_ERR_ALLOC;
	g->gid = (uint32_t)col_u64(s, 1);
	if ((g->name = col_dup(s, 0)) == NULL)
		ret = TRASA_ERR_ALLOC;
	else if ((ret = key_strv(db, ST_GROUP_MEMBERS, g->name, &g->members,
		      &g->nmembers)) == 0) {
		*(struct gw_group **)out = g;
		g = NULL;
	}
	gw_group_free(g);
	return ret;
}

static void
group_list_free(void *list, size_t n)
{
	gw_group_list_free(list, n);
}

static const struct rec_kind group_kind = {
	.by_name = ST_GROUP_BY_NAME,
	.by_id = ST_GROUP_BY_GID,
	.names = ST_GROUP_NAMES,
	.size = sizeof(struct gw_group *),
	.load = group_load,
	.free_list = group_list_free,
};

int
gw_db_group_get(struct gw_db *db, const char *name, uint32_t gid,
    struct gw_group **out)
{
	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (name != NULL && !valid_user_name(name))
		return TRASA_ERR_NOT_FOUND;
	return rec_get(db, &group_kind, name, gid, out);
}

int
gw_db_group_list(struct gw_db *db, struct gw_group ***out, size_t *n)
{
	void *list;
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rec_list(db, &group_kind, &list, n)) == 0)
		*out = list;
	return e;
}

int
gw_db_dir_generation(struct gw_db *db, uint64_t *out)
{
	return meta_read(db, "dir_generation", out);
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

/* The host at the current row of s (ST_HOST_GET), with its principals
 * and login rule; out is a struct gw_host **. */
static int
host_load(struct gw_db *db, sqlite3_stmt *s, void *out)
{
	struct gw_host *h;
	int ret = TRASA_ERR_ALLOC;

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
	if ((ret = key_strv(db, ST_HOST_PRINCIPALS, h->name, &h->principals,
		 &h->nprincipals)) != 0 ||
	    (ret = key_strv(db, ST_HOST_ALLOW, h->name, &h->allow_groups,
		 &h->nallow_groups)) != 0)
		goto out;
	*(struct gw_host **)out = h;
	h = NULL;
out:
	gw_host_free(h);
	return ret;
}

static void
host_list_free(void *list, size_t n)
{
	gw_host_list_free(list, n);
}

/* Hosts have names only: no by_id. */
static const struct rec_kind host_kind = {
	.by_name = ST_HOST_GET,
	.names = ST_HOST_NAMES,
	.size = sizeof(struct gw_host *),
	.load = host_load,
	.free_list = host_list_free,
};

int
gw_db_host_get(struct gw_db *db, const char *name, struct gw_host **out)
{
	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if (!valid_host_name(name))
		return TRASA_ERR_NOT_FOUND;
	return rec_get(db, &host_kind, name, 0, out);
}

int
gw_db_host_list(struct gw_db *db, struct gw_host ***out, size_t *n)
{
	void *list;
	int e;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = rec_list(db, &host_kind, &list, n)) == 0)
		*out = list;
	return e;
}

/* Replace the list of host's rows of statement del_id by (host, each of
 * v) through add_id; n 0: the host name only when self is set. */
static int
host_replace_list(struct gw_db *db, const char *host, enum stid del_id,
    enum stid add_id, char *const *v, size_t n, int self)
{
	size_t i;
	int r;

	if ((r = run_text(db, del_id, 0, host, NULL)) != 0)
		return r;
	for (i = 0; i < n || (self && i == 0); i++) {
		r = run_text(db, add_id, 0, host, n > 0 ? v[i] : host);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
host_allow_tx(struct gw_db *db, const char *name, char *const *groups, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		if ((r = group_must_exist(db, groups[i])) != 0)
			return r;
	if ((r = run_text(db, ST_HOST_ENSURE, 0, name, NULL)) != 0 ||
	    (r = host_replace_list(db, name, ST_HOST_ALLOW_DEL,
		 ST_HOST_ALLOW_ADD, groups, n, 0)) != 0)
		return r;
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
	if ((r = run_text(db, ST_HOST_ENSURE, 0, hostname, NULL)) != 0)
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
	return host_replace_list(db, hostname, ST_HOST_PRINCIPALS_DEL,
	    ST_HOST_PRINCIPAL_ADD, principals, n, 1);
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
	if ((e = tx_begin_st(db, ST_HOST_RENEWED, &s)) != 0)
		return e;
	bind_text(s, 1, name);
	bind_u64(s, 2, serial);
	bind_u64(s, 3, expiry);
	bind_u64(s, 4, now);
	return tx_update_one(db, s, 0);
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
	if ((e = tx_begin_st(db, ST_CHALLENGE_TAKE, &s)) != 0)
		return e;
	bind_text(s, 1, host);
	bind_text(s, 2, challenge);
	bind_u64(s, 3, now);
	return tx_update_one(db, s, 0);
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

	if (db == NULL || out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_CERT_KEY_ID)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, serial);
	return read_text(db, s, out);
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

int
gw_db_revoked(struct gw_db *db, enum gw_revoke_kind kind, const char *value,
    int *revoked)
{
	sqlite3_stmt *s;
	int r;

	if (db == NULL || value == NULL || revoked == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_REVOKED)) == NULL)
		return TRASA_ERR_IO;
	sqlite3_bind_int(s, 1, (int)kind);
	bind_text(s, 2, value);
	r = step_row(db, s);
	release(db);
	if (r < 0)
		return r;
	*revoked = r == 1;
	return 0;
}

/* Run one statement of the TOTP table with user and numbers bound. */
static int
totp_exec(struct gw_db *db, const char *sql, const char *user, uint64_t a,
    uint64_t b, uint64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) != SQLITE_OK)
		return set_err(db, "TOTP state");
	bind_text(s, 1, user);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, (sqlite3_int64)a);
	if (sqlite3_bind_parameter_count(s) >= 3)
		sqlite3_bind_int64(s, 3, (sqlite3_int64)b);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && out != NULL)
		*out = col_u64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return set_err(db, "TOTP state");
	return rc == SQLITE_ROW ? 1 : 0;
}

int
gw_db_totp_locked(struct gw_db *db, const char *user, uint64_t now)
{
	uint64_t until = 0;
	int r;

	if (db == NULL || user == NULL)
		return TRASA_ERR_INVALID_ARG;
	r = totp_exec(db, "SELECT locked_until FROM totp_state WHERE user = ?1",
	    user, 0, 0, &until);
	if (r < 0)
		return r;
	return r == 1 && until > now ? TRASA_ERR_TOO_MANY : 0;
}

static int
totp_result_tx(struct gw_db *db, const char *user, uint64_t now, int ok,
    uint64_t step)
{
	uint64_t last = 0, failures = 0;
	int r;

	if ((r = totp_exec(db,
		 "INSERT OR IGNORE INTO totp_state(user) VALUES (?1)", user, 0,
		 0, NULL)) < 0)
		return r;
	if ((r = totp_exec(db,
		 "SELECT last_step FROM totp_state WHERE user = ?1", user, 0, 0,
		 &last)) < 0)
		return r;
	if (ok && step > last)
		return totp_exec(db,
			   "UPDATE totp_state SET last_step = ?2, failures = ?3 "
			   "WHERE user = ?1",
			   user, step, 0, NULL) < 0 ?
		    TRASA_ERR_IO :
		    0;
	/* A failure, or a code already used: one more failure. */
	if ((r = totp_exec(db,
		 "UPDATE totp_state SET failures = failures + 1 WHERE "
		 "user = ?1 RETURNING failures",
		 user, 0, 0, &failures)) < 0)
		return r;
	if (failures >= GW_TOTP_MAX_FAILURES &&
	    totp_exec(db,
		"UPDATE totp_state SET failures = 0, locked_until = ?2 "
		"WHERE user = ?1",
		user, now + GW_TOTP_LOCKOUT, 0, NULL) < 0)
		return TRASA_ERR_IO;
	/* Commit the count; say why the code was refused. */
	return ok ? 1 : 0;
}

int
gw_db_totp_result(struct gw_db *db, const char *user, uint64_t now, int ok,
    uint64_t step)
{
	int e, r;

	if (db == NULL || user == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((e = tx_begin(db)) != 0)
		return e;
	r = totp_result_tx(db, user, now, ok, step);
	e = tx_end(db, r < 0 ? r : 0);
	if (e != 0)
		return e;
	return r == 1 ? TRASA_ERR_EXISTS : 0;
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
revocation_row(sqlite3_stmt *s, void *elem)
{
	struct gw_revocation *r = elem;

	r->kind = (enum gw_revoke_kind)sqlite3_column_int(s, 0);
	return (r->value = col_dup(s, 1)) == NULL ? TRASA_ERR_ALLOC : 0;
}

static int
revocations_rx(struct gw_db *db, struct gw_revocation **out, size_t *n,
    uint64_t *generation)
{
	sqlite3_stmt *s;
	void *v;
	size_t len;
	uint64_t gen;
	int ret;

	if ((ret = meta_get(db, "krl_generation", &gen)) != 0)
		return ret;
	if ((s = st(db, ST_REVOCATIONS)) == NULL)
		return TRASA_ERR_IO;
	if ((ret = collect_rows(db, s, sizeof(struct gw_revocation),
		 revocation_row, &v, &len)) != 0) {
		gw_revocations_free(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	if (generation != NULL)
		*generation = gen;
	return 0;
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
	return meta_read(db, "krl_generation", out);
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
	if ((e = tx_begin_st(db, ST_ADMIN_REVOKE, &s)) != 0)
		return e;
	bind_text(s, 1, name);
	return tx_update_one(db, s, 0);
}

int
gw_db_admin_token_check(struct gw_db *db, const uint8_t hash[32],
    char **name_out)
{
	sqlite3_stmt *s;

	if (db == NULL || hash == NULL || name_out == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_ADMIN_CHECK)) == NULL)
		return TRASA_ERR_IO;
	bind_hash(s, 1, hash);
	return read_text(db, s, name_out);
}

static int
admin_token_row(sqlite3_stmt *s, void *elem)
{
	struct gw_admin_token *t = elem;

	t->created = col_u64(s, 1);
	return (t->name = col_dup(s, 0)) == NULL ? TRASA_ERR_ALLOC : 0;
}

int
gw_db_admin_token_list(struct gw_db *db, struct gw_admin_token **out, size_t *n)
{
	sqlite3_stmt *s;
	void *v;
	size_t len;
	int ret;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_ADMIN_LIST)) == NULL)
		return TRASA_ERR_IO;
	ret = collect_rows(db, s, sizeof(struct gw_admin_token),
	    admin_token_row, &v, &len);
	release(db);
	if (ret != 0) {
		gw_admin_token_list_free(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	return 0;
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

static int
audit_row(sqlite3_stmt *s, void *elem)
{
	struct gw_audit_rec *a = elem;

	a->id = col_u64(s, 0);
	a->time = col_u64(s, 1);
	if ((a->event = col_dup(s, 2)) == NULL ||
	    (a->actor = col_dup(s, 3)) == NULL ||
	    (a->subject = col_dup(s, 4)) == NULL ||
	    (a->result = col_dup(s, 5)) == NULL ||
	    (a->detail = col_dup(s, 6)) == NULL)
		return TRASA_ERR_ALLOC;
	return 0;
}

int
gw_db_audit_list(struct gw_db *db, uint64_t since, size_t max,
    struct gw_audit_rec **out, size_t *n)
{
	sqlite3_stmt *s;
	void *v;
	size_t len;
	int ret;

	if (db == NULL || out == NULL || n == NULL)
		return TRASA_ERR_INVALID_ARG;
	if ((s = st(db, ST_AUDIT_LIST)) == NULL)
		return TRASA_ERR_IO;
	bind_u64(s, 1, since);
	sqlite3_bind_int64(s, 2,
	    max == 0 || max > INT64_MAX ? -1 : (sqlite3_int64)max);
	ret = collect_rows(db, s, sizeof(struct gw_audit_rec), audit_row, &v,
	    &len);
	release(db);
	if (ret != 0) {
		gw_audit_list_free(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	return 0;
}

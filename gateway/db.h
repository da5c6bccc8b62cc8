/*
 * db.h: trasa-gateway's storage, one SQLite database STATE/gateway.db in
 * WAL mode, shared safely by `serve` and the admin subcommands.
 *
 * A struct gw_db is one connection; it is used by one thread at a time
 * (serve opens one per serving thread). Every write is one transaction:
 * it happens entirely or not at all, so `kill -9` at any moment leaves a
 * consistent database. Writers wait for each other, never fail because
 * another thread or process is writing: within a process a mutex orders
 * write transactions (no sleeping in SQLite's busy handler), between
 * processes the busy timeout does. synchronous=NORMAL in WAL mode: a
 * committed transaction survives a process crash.
 *
 * Functions return 0 or a negative TRASA_ERR_*:
 *   TRASA_ERR_NOT_FOUND   no such user, group, host, token...
 *   TRASA_ERR_EXISTS      name or id already taken (or taken before:
 *                         uids and gids are never reused)
 *   TRASA_ERR_EXPIRED     token expired
 *   TRASA_ERR_INVALID_ARG bad argument (range exhausted, bad name...)
 *   TRASA_ERR_IO          SQLite failed (disk full, read-only...);
 *                         gw_db_errmsg() says why
 * Outputs are set only on success. Strings returned are fresh copies
 * owned by the caller.
 */
#ifndef TRASA_GW_DB_H
#define TRASA_GW_DB_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct gw_db;

#define GW_DB_FILE "gateway.db"

/* gw_db_open() flags. */
#define GW_DB_CREATE 0x01 /* create STATE/gateway.db when missing */
/* No checkpoint inside a commit (the WAL is copied into the database by
 * gw_db_checkpoint(), called from a background thread): no request waits
 * for a checkpoint's fsyncs. */
#define GW_DB_NO_AUTOCHECKPOINT 0x02

/*
 * Open (and with GW_DB_CREATE create, mode 0600) STATE/gateway.db, set
 * WAL, foreign keys and a busy timeout, and create or check the schema.
 * TRASA_ERR_NOT_FOUND when it does not exist and GW_DB_CREATE is not set.
 */
int gw_db_open(const char *state_dir, int flags, struct gw_db **out);
void gw_db_close(struct gw_db *db);
/* Copy what the WAL holds into the database as far as it can without
 * waiting for readers or writers (a passive checkpoint). */
int gw_db_checkpoint(struct gw_db *db);
/* SQLite's last message on this connection ("" when none). */
const char *gw_db_errmsg(const struct gw_db *db);

/* ------------------------------------------------------------- users */

struct gw_user {
	char *name;
	uint32_t uid, gid;
	char *gecos, *home, *shell;
	int disabled;
	char **groups; /* supplementary groups, by name */
	size_t ngroups;
	char **keys; /* authorized public keys, OpenSSH lines */
	size_t nkeys;
	int has_totp;
};
void gw_user_free(struct gw_user *u); /* frees u and everything in it */

/*
 * Add a user. In u: name (required); uid/gid 0 = allocate from the
 * configured range (a fresh uid; the gid of a personal group NAME made
 * with the same number when free, else allocated); gecos/home/shell NULL
 * = "" / HOME_BASE/NAME / configured shell; groups must exist; keys are
 * stored as given (callers validate them). On success *uid_out and
 * *gid_out (either may be NULL) are what was stored.
 */
int gw_db_user_add(struct gw_db *db, const struct gw_config *cfg,
    const struct gw_user *u, uint32_t *uid_out, uint32_t *gid_out);
/* Delete the user (and its memberships, keys, TOTP secret). */
int gw_db_user_del(struct gw_db *db, const char *name);
int gw_db_user_set_disabled(struct gw_db *db, const char *name, int disabled);
/* Add an authorized key line to an existing user. */
int gw_db_user_add_key(struct gw_db *db, const char *name, const char *key);
/* By name, or (name NULL) by uid. */
int gw_db_user_get(struct gw_db *db, const char *name, uint32_t uid,
    struct gw_user **out);
/* All users, ordered by name. */
int gw_db_user_list(struct gw_db *db, struct gw_user ***out, size_t *n);
void gw_user_list_free(struct gw_user **list, size_t n);

/* TOTP secret (raw bytes) of a user; set replaces. */
int gw_db_user_set_totp(struct gw_db *db, const char *name,
    const uint8_t *secret, size_t len);
/* *out is malloc'd, the caller wipes and frees it. NOT_FOUND: no secret. */
int gw_db_user_get_totp(struct gw_db *db, const char *name, uint8_t **out,
    size_t *len);

/*
 * TOTP attempts (RFC 6238 section 5.2): a code is accepted once, and
 * GW_TOTP_MAX_FAILURES failures in a row lock the user out of TOTP for
 * GW_TOTP_LOCKOUT seconds. gw_db_totp_locked(): TRASA_ERR_TOO_MANY while
 * locked out. gw_db_totp_result() records a verdict (ok: the code matched
 * time step STEP): TRASA_ERR_EXISTS when that step or a later one was
 * already used (a replay, counted as a failure).
 */
#define GW_TOTP_MAX_FAILURES 5
#define GW_TOTP_LOCKOUT 60u
int gw_db_totp_locked(struct gw_db *db, const char *user, uint64_t now);
int gw_db_totp_result(struct gw_db *db, const char *user, uint64_t now,
    int ok, uint64_t step);

/* ------------------------------------------------------------- groups */

struct gw_group {
	char *name;
	uint32_t gid;
	char **members; /* user names, sorted */
	size_t nmembers;
};
void gw_group_free(struct gw_group *g);

/* gid 0: allocate. *gid_out may be NULL. */
int gw_db_group_add(struct gw_db *db, const struct gw_config *cfg,
    const char *name, uint32_t gid, uint32_t *gid_out);
/* Refused (EXISTS) while it is some user's primary group. */
int gw_db_group_del(struct gw_db *db, const char *name);
/* add 1: add USER to GROUP; 0: remove. */
int gw_db_group_member(struct gw_db *db, const char *group, const char *user,
    int add);
int gw_db_group_get(struct gw_db *db, const char *name, uint32_t gid,
    struct gw_group **out);
int gw_db_group_list(struct gw_db *db, struct gw_group ***out, size_t *n);
void gw_group_list_free(struct gw_group **list, size_t n);

/*
 * The directory's generation: a number that grows with every change to
 * users, groups, memberships or login rules (a directory ETag).
 */
int gw_db_dir_generation(struct gw_db *db, uint64_t *out);

/* ------------------------------------------------------------- hosts */

struct gw_host {
	char *name;
	char **principals; /* allowed (token) or certified principals */
	size_t nprincipals;
	char *public_key; /* OpenSSH line of the enrolled host key, or NULL */
	uint64_t cert_serial, cert_expiry; /* 0 when none */
	uint64_t enrolled, last_seen;	   /* unix times, 0 = never */
	char **allow_groups; /* login rule: empty = every directory user */
	size_t nallow_groups;
};
void gw_host_free(struct gw_host *h);
int gw_db_host_get(struct gw_db *db, const char *name, struct gw_host **out);
int gw_db_host_list(struct gw_db *db, struct gw_host ***out, size_t *n);
void gw_host_list_free(struct gw_host **list, size_t n);
/* Replace the host's login rule (creates the host row when missing). */
int gw_db_host_set_allow_groups(struct gw_db *db, const char *name,
    char *const *groups, size_t n);

/*
 * A one-time enrolment token for host NAME allowing principals (n may be
 * 0: the host name only), valid until expires. Only the SHA-256 of the
 * token is stored; the caller makes the random token.
 */
int gw_db_token_add(struct gw_db *db, const char *host, const uint8_t hash[32],
    char *const *principals, size_t n, uint64_t expires);

/*
 * Enrolment, in one transaction: find the unused, unexpired token by its
 * hash (NOT_FOUND: unknown or already used; EXPIRED), check hostname is
 * the token's host (INVALID_ARG otherwise), mark it used, and record the
 * host's key, certificate serial and expiry, principals and the hash of
 * its new credential. Of concurrent calls with one token exactly one
 * succeeds. The token's principals are returned first through
 * *principals_out (before anything is written) by gw_db_token_peek().
 */
int gw_db_token_peek(struct gw_db *db, const uint8_t hash[32], uint64_t now,
    char **host_out, char ***principals_out, size_t *n_out);
int gw_db_host_enroll(struct gw_db *db, const uint8_t token_hash[32],
    uint64_t now, const char *hostname, const char *public_key,
    char *const *principals, size_t n, uint64_t serial, uint64_t expiry,
    const uint8_t cred_hash[32]);
/* The host whose credential hashes to cred_hash; updates last_seen. */
int gw_db_host_by_credential(struct gw_db *db, const uint8_t cred_hash[32],
    uint64_t now, char **name_out);
/* After a renewal: the new certificate's serial and expiry. */
int gw_db_host_renewed(struct gw_db *db, const char *name, uint64_t serial,
    uint64_t expiry, uint64_t now);

/* Renewal challenges: single use, expire. */
int gw_db_challenge_add(struct gw_db *db, const char *host,
    const char *challenge, uint64_t expires);
/* Delete it and return 0 when it exists for host and is unexpired. */
int gw_db_challenge_take(struct gw_db *db, const char *host,
    const char *challenge, uint64_t now);

/* ------------------------------------------------------------- certs */

enum gw_cert_kind { GW_CERT_USER = 1, GW_CERT_HOST = 2 };

struct gw_cert_rec {
	uint64_t serial;
	enum gw_cert_kind kind;
	const char *subject; /* user or host name */
	const char *key_id;
	const char *principals; /* comma-separated */
	const char *key_fp;	/* SHA256:... of the certified key */
	uint64_t valid_after, valid_before, issued;
};

/*
 * Record an issued certificate together with its audit event, in one
 * transaction. EXISTS when the serial was ever issued before (the caller
 * draws another and retries): no serial is ever issued twice.
 */
int gw_db_cert_record(struct gw_db *db, const struct gw_cert_rec *c,
    const char *actor);
/* 1 when the serial is recorded, 0 when not. */
int gw_db_cert_exists(struct gw_db *db, uint64_t serial, int *exists);
/* The key ID of a recorded certificate (NOT_FOUND otherwise). */
int gw_db_cert_key_id(struct gw_db *db, uint64_t serial, char **out);

/* ------------------------------------------------------------- revocation */

enum gw_revoke_kind {
	GW_REVOKE_SERIAL = 1, /* value: decimal serial */
	GW_REVOKE_KEY_ID = 2, /* value: key ID */
	GW_REVOKE_KEY = 3     /* value: OpenSSH public key line */
};
/* Revoke (idempotent: revoking twice is not an error); bumps the KRL
 * generation; audited. */
int gw_db_revoke(struct gw_db *db, enum gw_revoke_kind kind,
    const char *value, const char *actor);

struct gw_revocation {
	enum gw_revoke_kind kind;
	char *value;
};
/* All revocations, oldest first, and the KRL generation they make. */
int gw_db_revocations(struct gw_db *db, struct gw_revocation **out, size_t *n,
    uint64_t *generation);
void gw_revocations_free(struct gw_revocation *r, size_t n);
/* *revoked = 1 when VALUE (canonical: decimal serial, key ID, or "TYPE
 * BASE64" without comment) is revoked as KIND. */
int gw_db_revoked(struct gw_db *db, enum gw_revoke_kind kind,
    const char *value, int *revoked);
/* Grows with every revocation (KRL version and ETag). */
int gw_db_krl_generation(struct gw_db *db, uint64_t *out);

/* ------------------------------------------------------------- admin tokens */

/* EXISTS when an unrevoked token of that name exists. */
int gw_db_admin_token_add(struct gw_db *db, const char *name,
    const uint8_t hash[32]);
int gw_db_admin_token_revoke(struct gw_db *db, const char *name);
/* The name of the unrevoked admin token with this hash. */
int gw_db_admin_token_check(struct gw_db *db, const uint8_t hash[32],
    char **name_out);

struct gw_admin_token {
	char *name;
	uint64_t created;
};
/* The unrevoked admin tokens (names and creation times), by name. */
int gw_db_admin_token_list(struct gw_db *db, struct gw_admin_token **out,
    size_t *n);
void gw_admin_token_list_free(struct gw_admin_token *t, size_t n);

/* ------------------------------------------------------------- audit */

/*
 * One event: what happened ("cert.user", "cert.host", "host.enroll",
 * "host.renew", "revoke", "auth.2fa", "user.add", ...), who did it
 * ("cli:root", "admin:NAME", "host:NAME", "anonymous"), what it was about,
 * its result ("ok" or the reason refused) and free-form detail.
 */
int gw_db_audit(struct gw_db *db, const char *event, const char *actor,
    const char *subject, const char *result, const char *detail);

struct gw_audit_rec {
	uint64_t id, time;
	char *event, *actor, *subject, *result, *detail;
};
/* Events at or after since, oldest first (at most max; 0: all). */
int gw_db_audit_list(struct gw_db *db, uint64_t since, size_t max,
    struct gw_audit_rec **out, size_t *n);
void gw_audit_list_free(struct gw_audit_rec *r, size_t n);

#endif

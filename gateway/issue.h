/*
 * issue.h: issuing certificates and building the KRL, the logic that the
 * command line (`cert sign`, `krl`) and the HTTPS API share.
 *
 * Every certificate gets a fresh random non-zero serial recorded in the
 * database (with its audit event) BEFORE it is returned; a serial that
 * was ever recorded is never used again. Validity starts one minute in
 * the past (clock skew). SHA-1 is never used for CA signatures (RSA CAs
 * sign with rsa-sha2-512).
 */
#ifndef TRASA_GW_ISSUE_H
#define TRASA_GW_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"

#define GW_BACKDATE 60u		 /* seconds */
#define GW_MAX_PRINCIPAL_LEN 255 /* bytes, each */

/* Extensions of user certificates (default: all on). */
#define GW_NO_PTY 0x01
#define GW_NO_PORT_FORWARDING 0x02
#define GW_NO_AGENT_FORWARDING 0x04
#define GW_NO_X11_FORWARDING 0x08
#define GW_NO_USER_RC 0x10

struct gw_issue_req {
	enum sshcert_type type;	    /* SSHCERT_USER or SSHCERT_HOST */
	const char *subject;	    /* user name or host name */
	const struct sshkey *key;   /* the key to certify (not a cert) */
	char *const *principals;    /* at least one */
	size_t nprincipals;
	uint64_t ttl;		    /* seconds, > 0; the caller applies caps */
	uint64_t now;		    /* unix time; 0: time(NULL) */
	const char *key_id;	    /* NULL: trasa:USER:SERIAL or
				       trasa-host:HOST:SERIAL */
	uint64_t serial;	    /* 0: random */
	const char *force_command;  /* user certs: critical options or NULL */
	const char *source_address;
	unsigned no_ext;	    /* GW_NO_* */
	const char *actor;	    /* audit: "cli:root", "admin:NAME"... */
};

/*
 * Check a principal: 1..GW_MAX_PRINCIPAL_LEN bytes, valid UTF-8, no
 * control character, no comma, no blank. 1 when fine.
 */
int gw_principal_valid(const char *p);

/*
 * Sign req->key with ca (the current user or host CA), record it, and
 * return the certificate. TRASA_ERR_EXISTS only when req->serial was
 * given and was issued before; a random serial is redrawn on collision.
 * The serial and key ID used are readable from the certificate.
 */
int gw_issue(struct gw_db *db, const struct sshkey *ca,
    const struct gw_issue_req *req, struct sshkey **cert_out);

/*
 * The KRL of every revocation in the database: serials and key IDs
 * against each trusted CA key (cas, n: the user and the host CAs' keys;
 * serials are unique across both), keys as explicit keys. Version = the KRL generation, date = now, comment "trasa-gateway".
 * *out is the KRL in OpenSSH binary format (malloc'd).
 */
int gw_krl_build(struct gw_db *db, const struct sshkey *const *cas, size_t n,
    uint64_t now, uint8_t **out, size_t *len, uint64_t *generation);

#endif

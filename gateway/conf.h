/*
 * conf.h: trasa-gateway's settings, from /etc/trasa/gateway.conf (INI,
 * read with libinih) over built-in defaults. See trasa-gateway(8).
 *
 *   [server]   listen, threads, tls_cert, tls_key, state_dir
 *   [ca]       passphrase_file
 *   [users]    uid_min, uid_max, gid_min, gid_max, home_base, shell
 *   [certs]    user_ttl, user_max_ttl, host_ttl, host_max_ttl,
 *              max_principals
 *   [hosts]    token_ttl, token_max_ttl
 *
 * Durations take the `cert sign --ttl` forms (300, 5m, 1h, 30d, 2w).
 */
#ifndef TRASA_GW_CONFIG_H
#define TRASA_GW_CONFIG_H

#include <stdint.h>

#define GW_DEFAULT_CONFIG "/etc/trasa/gateway.conf"
#define GW_DEFAULT_LISTEN "127.0.0.1:8443"

struct gw_config {
	char *listen;	       /* ADDR:PORT, [v6]:PORT */
	char *state_dir;       /* NULL: the default (see gateway.h) */
	char *tls_cert;	       /* NULL: STATE/tls/cert.pem, made if missing */
	char *tls_key;	       /* NULL: STATE/tls/key.pem */
	char *passphrase_file; /* NULL: CA keys are not encrypted */
	unsigned threads;      /* serving threads; 0: one per CPU */

	uint32_t uid_min, uid_max; /* allocation ranges, inclusive */
	uint32_t gid_min, gid_max;
	char *home_base; /* home = HOME_BASE/NAME unless --home */
	char *shell;	 /* default login shell */

	uint64_t user_ttl, user_max_ttl; /* seconds */
	uint64_t host_ttl, host_max_ttl;
	unsigned max_principals;

	uint64_t token_ttl, token_max_ttl;
};

/*
 * Fill cfg with the defaults, then read path over them. When path is NULL
 * the default file is read if it exists. A missing explicit file, an
 * unknown section or key, or a bad value is an error: one line on stderr
 * naming the file, line and key, and CLI_EXIT_FAIL. 0 on success.
 */
int gw_config_load(const char *path, struct gw_config *cfg);
void gw_config_free(struct gw_config *cfg);

/* "300", "5m", "1h", "30d", "2w" -> seconds; 0 or TRASA_ERR_INVALID_ARG. */
int gw_parse_duration(const char *s, uint64_t *out);

#endif

/*
 * conf.c: /etc/trasa/gateway.conf, INI through libinih, over defaults.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "cli.h"
#include "conf.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "tbuf.h"

#define MAX_CONFIG_FILE (256u * 1024)
#define MAX_DURATION (10ull * 366 * 24 * 3600) /* ten years */

enum kind {
	K_STR,
	K_U32,
	K_UINT,
	K_DUR
};

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;
	uint64_t min, max; /* numbers and durations */
};

#define OFF(f) offsetof(struct gw_config, f)
static const struct key keys[] = {
	{ "server", "listen", K_STR, OFF(listen), 0, 0 },
	{ "server", "state_dir", K_STR, OFF(state_dir), 0, 0 },
	{ "server", "tls_cert", K_STR, OFF(tls_cert), 0, 0 },
	{ "server", "tls_key", K_STR, OFF(tls_key), 0, 0 },
	{ "server", "threads", K_UINT, OFF(threads), 0, 256 },
	{ "ca", "passphrase_file", K_STR, OFF(passphrase_file), 0, 0 },
	{ "users", "uid_min", K_U32, OFF(uid_min), 1000, 0x7fffffff },
	{ "users", "uid_max", K_U32, OFF(uid_max), 1000, 0x7fffffff },
	{ "users", "gid_min", K_U32, OFF(gid_min), 1000, 0x7fffffff },
	{ "users", "gid_max", K_U32, OFF(gid_max), 1000, 0x7fffffff },
	{ "users", "home_base", K_STR, OFF(home_base), 0, 0 },
	{ "users", "shell", K_STR, OFF(shell), 0, 0 },
	{ "certs", "user_ttl", K_DUR, OFF(user_ttl), 1, MAX_DURATION },
	{ "certs", "user_max_ttl", K_DUR, OFF(user_max_ttl), 1, MAX_DURATION },
	{ "certs", "host_ttl", K_DUR, OFF(host_ttl), 1, MAX_DURATION },
	{ "certs", "host_max_ttl", K_DUR, OFF(host_max_ttl), 1, MAX_DURATION },
	{ "certs", "max_principals", K_UINT, OFF(max_principals), 1, 256 },
	{ "hosts", "token_ttl", K_DUR, OFF(token_ttl), 1, MAX_DURATION },
	{ "hosts", "token_max_ttl", K_DUR, OFF(token_max_ttl), 1,
	    MAX_DURATION },
};

struct parse {
	struct gw_config *cfg;
	char msg[256]; /* the first error, without the line number */
};

int
gw_parse_duration(const char *s, uint64_t *out)
{
	unsigned long long v, mult = 1;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return TRASA_ERR_INVALID_ARG;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0)
		return TRASA_ERR_INVALID_ARG;
	if (*ep != '\0') {
		switch (*ep) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 24 * 3600; break;
		case 'w': mult = 7 * 24 * 3600; break;
		default: return TRASA_ERR_INVALID_ARG;
		}
		if (ep[1] != '\0')
			return TRASA_ERR_INVALID_ARG;
	}
	if (v == 0 || v > MAX_DURATION / mult)
		return TRASA_ERR_INVALID_ARG;
	*out = v * mult;
	return 0;
}

static int
set_key(struct parse *p, const struct key *k, const char *value)
{
	char *base = (char *)p->cfg + k->off;
	uint64_t v;
	char *copy;

	switch (k->kind) {
	case K_STR:
		if (*value == '\0') {
			snprintf(p->msg, sizeof(p->msg), "%s: empty value",
			    k->name);
			return 0;
		}
		if ((copy = strdup(value)) == NULL) {
			snprintf(p->msg, sizeof(p->msg), "out of memory");
			return 0;
		}
		free(*(char **)(void *)base);
		*(char **)(void *)base = copy;
		return 1;
	case K_DUR:
		if (gw_parse_duration(value, &v) != 0 || v < k->min ||
		    v > k->max) {
			snprintf(p->msg, sizeof(p->msg),
			    "%s: '%.64s' is not a duration (300, 5m, 1h, 30d, "
			    "2w)",
			    k->name, value);
			return 0;
		}
		*(uint64_t *)(void *)base = v;
		return 1;
	case K_U32:
	case K_UINT:
		if (gw_parse_u64(value, k->min, k->max, &v) != 0) {
			snprintf(p->msg, sizeof(p->msg),
			    "%s: '%.64s' is not a number from %llu to %llu",
			    k->name, value, (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return 0;
		}
		if (k->kind == K_U32)
			*(uint32_t *)(void *)base = (uint32_t)v;
		else
			*(unsigned *)(void *)base = (unsigned)v;
		return 1;
	}
	return 0;
}

/* libinih's callback: nonzero to accept the line. */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	size_t i;

	if (p->msg[0] != '\0')
		return 0; /* keep the first error */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return set_key(p, &keys[i], value);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].section, section) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		snprintf(p->msg, sizeof(p->msg), "unknown section [%.64s]",
		    section);
	else
		snprintf(p->msg, sizeof(p->msg),
		    "unknown key '%.64s' in [%.64s]", name, section);
	return 0;
}

static int
set_defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = strdup(GW_DEFAULT_LISTEN);
	cfg->home_base = strdup("/home");
	cfg->shell = strdup("/bin/bash");
	if (cfg->listen == NULL || cfg->home_base == NULL || cfg->shell == NULL)
		return TRASA_ERR_ALLOC;
	cfg->uid_min = 200000;
	cfg->uid_max = 299999;
	cfg->gid_min = 200000;
	cfg->gid_max = 299999;
	cfg->user_ttl = 5 * 60;
	cfg->user_max_ttl = 24 * 3600;
	cfg->host_ttl = 30 * 24 * 3600;
	cfg->host_max_ttl = 366 * 24 * 3600;
	cfg->max_principals = 32;
	cfg->token_ttl = 3600;
	cfg->token_max_ttl = 7 * 24 * 3600;
	return 0;
}

int
gw_config_load(const char *path, struct gw_config *cfg)
{
	struct parse p;
	struct tbuf *b = NULL;
	char *text = NULL;
	const char *file = path != NULL ? path : GW_DEFAULT_CONFIG;
	int e, line, ret = CLI_EXIT_FAIL;

	if (set_defaults(cfg) != 0) {
		gw_config_free(cfg);
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "config");
	}
	errno = 0;
	e = fileio_read(file, MAX_CONFIG_FILE, FILEIO_TRUSTED, &b);
	if (e != 0) {
		if (path == NULL && errno == ENOENT)
			return 0; /* no file: the defaults */
		cli_error(CLI_EXIT_FAIL, e, "%s", file);
		goto out;
	}
	if (memchr(tbuf_ptr(b), '\0', tbuf_len(b)) != NULL) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: holds a NUL byte", file);
		goto out;
	}
	if ((text = malloc(tbuf_len(b) + 1)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s", file);
		goto out;
	}
	memcpy(text, tbuf_ptr(b), tbuf_len(b));
	text[tbuf_len(b)] = '\0';
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	if ((line = ini_parse_string(text, on_key, &p)) != 0) {
		cli_error(CLI_EXIT_FAIL, 0, "%s:%d: %s", file, line,
		    p.msg[0] != '\0' ? p.msg : "not an INI line");
		goto out;
	}
	if (cfg->uid_min > cfg->uid_max || cfg->gid_min > cfg->gid_max) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: [users] uid_min/gid_min above uid_max/gid_max", file);
		goto out;
	}
	if (cfg->user_ttl > cfg->user_max_ttl ||
	    cfg->host_ttl > cfg->host_max_ttl ||
	    cfg->token_ttl > cfg->token_max_ttl) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: a default ttl is above its max_ttl", file);
		goto out;
	}
	ret = 0;
out:
	free(text);
	tbuf_free(b);
	if (ret != 0)
		gw_config_free(cfg);
	return ret;
}

void
gw_config_free(struct gw_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->listen);
	free(cfg->state_dir);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->passphrase_file);
	free(cfg->home_base);
	free(cfg->shell);
	memset(cfg, 0, sizeof(*cfg));
}

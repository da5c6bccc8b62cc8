/*
 * common.c: helpers trasa-gateway's commands and the API share: paths in
 * the state directory, passphrase files, names, secrets, the database,
 * subcommands and their options.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "tbuf.h"

int
gw_ca_path(const struct gw *gw, const char *name, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/ca%s%s", gw->state_dir,
	    name != NULL ? "/" : "", name != NULL ? name : "");
	if (n < 0 || (size_t)n >= len)
		return TRASA_ERR_TOO_LONG;
	return 0;
}

int
gw_passphrase_read(const char *path, char **out)
{
	struct tbuf *b = NULL;
	const uint8_t *p;
	char *s = NULL;
	size_t len;
	int e, ret = CLI_EXIT_FAIL;

	errno = 0;
	if ((e = fileio_read(path, GW_MAX_PASSPHRASE_FILE, 0, &b)) != 0) {
		if (e == TRASA_ERR_TOO_LONG)
			cli_error(CLI_EXIT_FAIL, 0,
			    "passphrase file %s: larger than %u bytes", path,
			    GW_MAX_PASSPHRASE_FILE);
		else
			cli_error(CLI_EXIT_FAIL, e, "passphrase file %s", path);
		goto out;
	}
	p = tbuf_ptr(b);
	/* The first line, without its newline (and a '\r' before it). */
	for (len = 0; len < tbuf_len(b) && p[len] != '\n'; len++)
		;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len == 0) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "passphrase file %s: empty passphrase", path);
		goto out;
	}
	if (memchr(p, '\0', len) != NULL) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "passphrase file %s: holds a NUL byte", path);
		goto out;
	}
	if ((s = malloc(len + 1)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "passphrase file %s",
		    path);
		goto out;
	}
	memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	ret = 0;
out:
	tbuf_free(b); /* wipes */
	return ret;
}

void
gw_passphrase_free(char *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, strlen(p));
	free(p);
}

int
gw_valid_name(const char *s)
{
	const unsigned char *c = (const unsigned char *)s;

	if (*c == '\0')
		return 0;
	for (; *c != '\0'; c++)
		if (*c <= ' ' || *c == ',' || *c == 0x7f)
			return 0;
	return 1;
}

int
gw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return TRASA_ERR_INVALID_ARG;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0 || *ep != '\0' || v < min || v > max)
		return TRASA_ERR_INVALID_ARG;
	*out = v;
	return 0;
}

int
gw_secret_new(char out[44], uint8_t hash[32])
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[33];
	size_t i, o = 0;
	uint32_t v;

	if (RAND_bytes(raw, 32) != 1)
		return TRASA_ERR_CRYPTO;
	raw[32] = 0;
	/* 32 bytes -> 43 characters (the last group holds 2 bytes). */
	for (i = 0; i < 33; i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		if (o < 43)
			out[o++] = b64url[v & 63];
	}
	out[43] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	gw_secret_hash(out, 43, hash);
	return 0;
}

void
gw_secret_hash(const char *secret, size_t len, uint8_t hash[32])
{
	unsigned int n = 32;

	if (EVP_Digest(secret, len, hash, &n, EVP_sha256(), NULL) != 1)
		memset(hash, 0, 32); /* matches no stored hash */
}

int
gw_open_db(const struct gw *gw, int create, struct gw_db **out)
{
	int e;

	e = gw_db_open(gw->state_dir, create ? GW_DB_CREATE : 0, out);
	if (e == TRASA_ERR_NOT_FOUND)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s/%s: no database (run 'trasa-gateway ca init' first)",
		    gw->state_dir, GW_DB_FILE);
	if (e != 0)
		return cli_error(CLI_EXIT_FAIL, e, "%s/%s", gw->state_dir,
		    GW_DB_FILE);
	return 0;
}

void
gw_sub_usage(FILE *f, const struct gw_sub *s)
{
	if (s->usage != NULL)
		s->usage(f);
	else
		fprintf(f, "usage: %s [global options] %s\n%s",
		    cli_get_progname(), s->synopsis, s->help);
}

int
gw_next_opt(const struct gw_sub *s, int argc, char **argv,
    const struct option *opts)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		if (c >= GW_OPT_FIRST)
			return c;
		if (c == 'h') {
			gw_sub_usage(stdout, s);
			return GW_HELP_DONE;
		}
		if (c != 'v')
			return cli_bad_option(s->cmd, c, argv);
		cli_set_verbose(1);
	}
	return 0;
}

int
gw_dispatch(struct gw *gw, const char *group, const struct gw_sub *subs,
    size_t n, int argc, char **argv)
{
	const char *sep;
	char names[256], *e;
	size_t i, o = 0;
	int ret;

	names[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i == 0)
			sep = "";
		else if (i + 1 == n)
			sep = " or ";
		else
			sep = ", ";
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", sep,
		    subs[i].name);
	}
	if (argc < 2)
		return cli_usage_error(group, "missing subcommand (%s)", names);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		for (i = 0; i < n; i++)
			gw_sub_usage(stdout, &subs[i]);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(gw, &subs[i], argc - 1, argv + 1);
	/* Escaped and truncated: argv[1] may hold anything. */
	e = cli_escape_string(argv[1], 128);
	ret = cli_usage_error(group, "unknown subcommand '%s' (%s)",
	    e != NULL ? e : "?", names);
	free(e);
	return ret;
}

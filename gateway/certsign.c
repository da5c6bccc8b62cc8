/*
 * certsign.c: trasa-gateway cert sign / cert revoke. sign: sign a user's
 * or host's public key with the user or host CA through gw_issue() (the
 * serial is recorded and audited) and write its -cert.pub next to it, as
 * ssh-keygen -s does. revoke: record a revocation for the KRL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "issue.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define TTL_MAX (366ull * 24 * 3600)
#define MAX_KEY_ID 1024
#define MAX_COMMAND 4096

struct sign_req {
	enum sshcert_type type;
	int have_type;
	const char *user;
	char *principals[SSHCERT_MAX_PRINCIPALS];
	size_t nprincipals;
	char *principal_copy; /* storage the principals point into */
	uint64_t ttl;
	int have_ttl;
	const char *key_id;
	uint64_t serial;
	int have_serial;
	const char *force_command;
	const char *source_address;
	unsigned no_ext;
	const char *pubkey_path;
};

/* ---------------------------------------------------------------- arguments */

/* Split "a,b" into r->principals; messages name the bad one. */
static int
parse_principals(struct sign_req *r, const char *list)
{
	char *p, *comma;

	if (r->principal_copy != NULL)
		return cli_usage_error("cert sign", "--principals given twice");
	if (*list == '\0')
		return cli_usage_error("cert sign", "empty --principals list");
	if ((r->principal_copy = strdup(list)) == NULL)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "cert sign");
	for (p = r->principal_copy;; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (*p == '\0')
			return cli_usage_error("cert sign",
			    "empty principal in "
			    "--principals '%s'",
			    list);
		if (!gw_principal_valid(p))
			return cli_usage_error("cert sign",
			    "principal '%s' holds a "
			    "blank or control character, is not UTF-8 or is "
			    "longer than %d bytes",
			    p, GW_MAX_PRINCIPAL_LEN);
		if (r->nprincipals >= SSHCERT_MAX_PRINCIPALS)
			return cli_usage_error("cert sign",
			    "more than %d principals", SSHCERT_MAX_PRINCIPALS);
		r->principals[r->nprincipals++] = p;
		if (comma == NULL)
			break;
	}
	return 0;
}

/* --key-id and --force-command: 1 to max bytes, tabs but no other
 * control character. */
static int
valid_text(const char *s, size_t max)
{
	const unsigned char *c;

	if (*s == '\0' || strlen(s) > max)
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return 0;
	return 1;
}

/* ---------------------------------------------------------------- signing */

/* "dir/id_ed25519.pub" -> "dir/id_ed25519-cert.pub", as ssh-keygen -s. */
static int
cert_path(const char *pub, char *buf, size_t len)
{
	size_t n = strlen(pub);
	int w;

	if (n > 4 && strcmp(pub + n - 4, ".pub") == 0)
		n -= 4;
	if (n > INT_MAX)
		return TRASA_ERR_TOO_LONG;
	w = snprintf(buf, len, "%.*s-cert.pub", (int)n, pub);
	if (w < 0 || (size_t)w >= len)
		return TRASA_ERR_TOO_LONG;
	return 0;
}

/* The first key of a .pub file (a public key or a certificate). */
static int
read_pubkey(const char *path, struct sshkey **out, char **comment)
{
	struct tbuf *b = NULL;
	struct sshkey *k = NULL;
	char *text = NULL, *line, *nl;
	size_t len;
	int e, ret = CLI_EXIT_FAIL;

	errno = 0;
	if ((e = fileio_read(path, GW_MAX_PUB_FILE, 0, &b)) != 0) {
		if (e == TRASA_ERR_FILE_PERM)
			return cli_error(CLI_EXIT_FAIL, 0,
			    "%s: not a regular file (symbolic "
			    "links are not followed)",
			    path);
		return cli_error(CLI_EXIT_FAIL, e, "%s", path);
	}
	if ((len = tbuf_len(b)) == 0) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: empty file, no public key",
		    path);
		goto out;
	}
	if (memchr(tbuf_ptr(b), '\0', len) != NULL) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a public key file (binary data)", path);
		goto out;
	}
	if (memmem(tbuf_ptr(b), len, "PRIVATE KEY-----", 16) != NULL) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s is a private key: give its .pub file", path);
		goto out;
	}
	if ((text = strndup((const char *)tbuf_ptr(b), len)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s", path);
		goto out;
	}
	/* The first line that is not blank or a comment. */
	for (line = text;;) {
		line += strspn(line, " \t\r\n");
		if (*line != '#')
			break;
		line += strcspn(line, "\n");
	}
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if (*line == '\0') {
		cli_error(CLI_EXIT_FAIL, 0, "%s: no public key in file", path);
		goto out;
	}
	if ((e = sshkey_parse_public(line, &k, comment)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "%s: not a valid public key", path);
		goto out;
	}
	*out = k;
	k = NULL;
	ret = 0;
out:
	if (ret != 0 && comment != NULL) {
		free(*comment);
		*comment = NULL;
	}
	sshkey_free(k);
	free(text);
	tbuf_free(b);
	return ret;
}

/* The subject key from PUBKEY: one plain public key, RSA >= 2048 bits. */
static int
load_subject(const char *path, struct sshkey **out, char **comment)
{
	struct sshkey *k = NULL;
	int ret;

	if ((ret = read_pubkey(path, &k, comment)) != 0)
		return ret;
	ret = CLI_EXIT_FAIL;
	if (sshkey_is_cert(k)) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s is a certificate: give the plain public key", path);
		goto out;
	}
	if (sshkey_type(k) == SSHKEY_RSA &&
	    sshkey_bits(k) < SSHKEY_RSA_MIN_BITS) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: RSA key of %u bits is too small (at least %u)", path,
		    sshkey_bits(k), SSHKEY_RSA_MIN_BITS);
		goto out;
	}
	*out = k;
	k = NULL;
	ret = 0;
out:
	if (ret != 0 && comment != NULL) {
		free(*comment);
		*comment = NULL;
	}
	sshkey_free(k);
	return ret;
}

/* what failed: with SQLite's reason for I/O errors. */
static int
db_error(const struct gw *gw, struct gw_db *db, int e, const char *what)
{
	if (e == TRASA_ERR_IO)
		return cli_error(CLI_EXIT_FAIL, 0, "%s: %s/%s: %s", what,
		    gw->state_dir, GW_DB_FILE, gw_db_errmsg(db));
	return cli_error(CLI_EXIT_FAIL, e, "%s", what);
}

static int
sign(struct gw *gw, const struct sign_req *r, const char *passphrase)
{
	struct sshkey *subject = NULL, *ca = NULL, *cert = NULL;
	struct gw_db *db = NULL;
	struct gw_issue_req req;
	char out[PATH_MAX], from[64], to[64], actor[128];
	char *comment = NULL, *line = NULL, *cafp = NULL, *data = NULL;
	char *key_id = NULL;
	uint64_t ttl, max;
	size_t i, len;
	time_t t;
	int e, ret;

	if (cert_path(r->pubkey_path, out, sizeof(out)) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG, "%s",
		    r->pubkey_path);
	if ((ret = load_subject(r->pubkey_path, &subject, &comment)) != 0)
		goto out;
	if ((ret = gw_ca_load(gw, r->type, passphrase, &ca)) != 0)
		goto out;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;

	if (r->type == SSHCERT_USER) {
		ttl = r->have_ttl ? r->ttl : gw->cfg.user_ttl;
		max = gw->cfg.user_max_ttl;
	} else {
		ttl = r->have_ttl ? r->ttl : gw->cfg.host_ttl;
		max = gw->cfg.host_max_ttl;
	}
	if (ttl > max) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "--ttl %" PRIu64 "s is above [certs] %s_max_ttl "
		    "(%" PRIu64 "s) of the configuration",
		    ttl, r->type == SSHCERT_USER ? "user" : "host", max);
		goto out;
	}
	if (gw->cfg.max_principals != 0 &&
	    r->nprincipals > gw->cfg.max_principals) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%zu principals: more than [certs] max_principals (%u) "
		    "of the configuration",
		    r->nprincipals, gw->cfg.max_principals);
		goto out;
	}
	if ((t = time(NULL)) < (time_t)GW_BACKDATE) {
		cli_error(CLI_EXIT_FAIL, 0, "the system clock is not set");
		goto out;
	}
	gw_cli_actor(actor, sizeof(actor));
	memset(&req, 0, sizeof(req));
	req.type = r->type;
	req.subject = r->type == SSHCERT_USER ? r->user : r->principals[0];
	req.key = subject;
	req.principals = r->principals;
	req.nprincipals = r->nprincipals;
	req.ttl = ttl;
	req.now = (uint64_t)t;
	req.key_id = r->key_id;
	req.serial = r->have_serial ? r->serial : 0;
	req.force_command = r->force_command;
	req.source_address = r->source_address;
	req.no_ext = r->no_ext;
	req.actor = actor;
	cli_debug("signing %s's %s key as a %s certificate", r->pubkey_path,
	    sshkey_label(subject), r->type == SSHCERT_USER ? "user" : "host");
	if ((e = gw_issue(db, ca, &req, &cert)) != 0) {
		if (e == TRASA_ERR_EXISTS && r->have_serial)
			cli_error(CLI_EXIT_FAIL, 0,
			    "serial %" PRIu64 " was already issued "
			    "(serials are never reused)",
			    r->serial);
		else
			db_error(gw, db, e, "signing the certificate");
		goto out;
	}
	if ((e = sshkey_format_public(cert, comment, &line)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "formatting the certificate");
		goto out;
	}
	len = strlen(line);
	if ((data = malloc(len + 2)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s", out);
		goto out;
	}
	memcpy(data, line, len);
	data[len++] = '\n';
	errno = 0;
	if ((e = fileio_write(out, data, len, 0644, 0)) != 0) {
		cli_error(CLI_EXIT_FAIL, e,
		    "writing %s (serial %" PRIu64 " is recorded as issued)",
		    out, sshcert_serial(cert));
		goto out;
	}
	if ((e = sshkey_fingerprint(ca, &cafp)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "CA fingerprint");
		goto out;
	}
	if ((key_id = cli_escape_string(sshcert_key_id(cert), 0)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "key ID");
		goto out;
	}
	sshcert_format_time(sshcert_valid_after(cert), 0, from, sizeof(from));
	sshcert_format_time(sshcert_valid_before(cert), 1, to, sizeof(to));
	printf("%s\n", out);
	printf("signed %s certificate: key ID \"%s\" serial %" PRIu64 " for ",
	    r->type == SSHCERT_USER ? "user" : "host", key_id,
	    sshcert_serial(cert));
	for (i = 0; i < r->nprincipals; i++)
		printf("%s%s", i > 0 ? "," : "", r->principals[i]);
	printf(" valid from %s to %s, %s CA %s (%s)\n", from, to,
	    r->type == SSHCERT_USER ? "user" : "host", cafp,
	    sshcert_signature_alg(cert));
	ret = CLI_EXIT_OK;
out:
	free(key_id);
	free(data);
	free(line);
	free(cafp);
	free(comment);
	sshkey_free(cert);
	sshkey_free(ca);
	sshkey_free(subject);
	gw_db_close(db);
	return ret;
}

/* ---------------------------------------------------------------- command */

static void
sign_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] [--passphrase-file FILE] "
	    "cert sign\n"
	    "         (--user NAME | --host) --principals A,B [--ttl 5m]\n"
	    "         [--key-id ID] [--serial N] [--force-command CMD]\n"
	    "         [--source-address CIDR,...] [--no-pty]\n"
	    "         [--no-port-forwarding] [--no-agent-forwarding]\n"
	    "         [--no-x11-forwarding] [--no-user-rc] PUBKEY\n"
	    "Sign PUBKEY (a .pub file) with the user CA (--user) or the host\n"
	    "CA (--host); write PUBKEY without .pub plus -cert.pub.\n"
	    "The serial is recorded in DIR/gateway.db and audited; --user\n"
	    "NAME need not be a user of the directory (offline signing).\n"
	    "  --ttl N[s|m|h|d|w]  lifetime (default [certs] user_ttl 5m, "
	    "host_ttl 30d;\n"
	    "                      at most user_max_ttl / host_max_ttl); the\n"
	    "                      certificate is back-dated by 60 s\n"
	    "  --key-id ID         default trasa:NAME:SERIAL or\n"
	    "                      trasa-host:FIRST_PRINCIPAL:SERIAL\n"
	    "  --serial N          default a random non-zero 64-bit number; "
	    "never\n"
	    "                      one issued before\n"
	    "  --passphrase-file F passphrase of an encrypted CA key\n",
	    cli_get_progname());
}

static int
sign_main(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_USER = GW_OPT_FIRST,
		O_HOST,
		O_PRINC,
		O_TTL,
		O_KEYID,
		O_SERIAL,
		O_FORCE,
		O_SOURCE,
		O_NOPTY,
		O_NOPORT,
		O_NOAGENT,
		O_NOX11,
		O_NORC,
		O_PASS
	};
	static const struct option opts[] = {
		{ "user", required_argument, NULL, O_USER },
		{ "host", no_argument, NULL, O_HOST },
		{ "principals", required_argument, NULL, O_PRINC },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "key-id", required_argument, NULL, O_KEYID },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "force-command", required_argument, NULL, O_FORCE },
		{ "source-address", required_argument, NULL, O_SOURCE },
		{ "no-pty", no_argument, NULL, O_NOPTY },
		{ "no-port-forwarding", no_argument, NULL, O_NOPORT },
		{ "no-agent-forwarding", no_argument, NULL, O_NOAGENT },
		{ "no-x11-forwarding", no_argument, NULL, O_NOX11 },
		{ "no-user-rc", no_argument, NULL, O_NORC },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	const char *passfile = gw->passphrase_file;
	struct sign_req r;
	char *pass = NULL;
	int c, ret;

	memset(&r, 0, sizeof(r));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_USER:
		case O_HOST:
			if (r.have_type) {
				ret = cli_usage_error(cmd,
				    "give one of --user NAME "
				    "or --host");
				goto out;
			}
			r.have_type = 1;
			r.type = c == O_USER ? SSHCERT_USER : SSHCERT_HOST;
			if (c == O_USER) {
				if (!gw_principal_valid(optarg)) {
					ret = cli_usage_error(cmd,
					    "--user '%s' is "
					    "empty or holds a blank, comma or "
					    "control character",
					    optarg);
					goto out;
				}
				r.user = optarg;
			}
			break;
		case O_PRINC:
			if ((ret = parse_principals(&r, optarg)) != 0)
				goto out;
			break;
		case O_TTL:
			if (gw_parse_duration(optarg, &r.ttl) != 0 ||
			    r.ttl > TTL_MAX) {
				ret = cli_usage_error(cmd,
				    "--ttl '%s': give 1s to "
				    "366d as N, Ns, Nm, Nh, Nd or Nw",
				    optarg);
				goto out;
			}
			r.have_ttl = 1;
			break;
		case O_KEYID:
			if (!valid_text(optarg, MAX_KEY_ID)) {
				ret = cli_usage_error(cmd,
				    "--key-id is empty, too "
				    "long or holds a control character");
				goto out;
			}
			r.key_id = optarg;
			break;
		case O_SERIAL:
			if (gw_parse_u64(optarg, 0, UINT64_MAX, &r.serial) !=
			    0) {
				ret = cli_usage_error(cmd,
				    "--serial '%s' is not a "
				    "number from 0 to %" PRIu64,
				    optarg, UINT64_MAX);
				goto out;
			}
			r.have_serial = 1;
			break;
		case O_FORCE:
			if (!valid_text(optarg, MAX_COMMAND)) {
				ret = cli_usage_error(cmd,
				    "--force-command is empty, "
				    "too long or holds a control character");
				goto out;
			}
			r.force_command = optarg;
			break;
		case O_SOURCE:
			if (sshcert_source_address_valid(optarg) != 0) {
				ret = cli_usage_error(cmd,
				    "--source-address '%s' is "
				    "not a list of ADDRESS[/PREFIX] networks "
				    "(host bits must be zero)",
				    optarg);
				goto out;
			}
			r.source_address = optarg;
			break;
		case O_NOPTY: r.no_ext |= GW_NO_PTY; break;
		case O_NOPORT: r.no_ext |= GW_NO_PORT_FORWARDING; break;
		case O_NOAGENT: r.no_ext |= GW_NO_AGENT_FORWARDING; break;
		case O_NOX11: r.no_ext |= GW_NO_X11_FORWARDING; break;
		case O_NORC: r.no_ext |= GW_NO_USER_RC; break;
		case O_PASS: passfile = optarg; break;
		}
	}
	if (c != 0) {
		ret = c == GW_HELP_DONE ? CLI_EXIT_OK : c;
		goto out;
	}
	ret = CLI_EXIT_USAGE;
	if (!r.have_type)
		cli_usage_error(cmd, "give --user NAME or --host");
	else if (r.nprincipals == 0)
		cli_usage_error(cmd, "--principals is required");
	else if (r.type == SSHCERT_HOST &&
	    (r.force_command != NULL || r.source_address != NULL ||
		r.no_ext != 0))
		cli_usage_error(cmd,
		    "--force-command, --source-address and --no-* "
		    "apply to user certificates only");
	else if (optind >= argc)
		cli_usage_error(cmd, "missing PUBKEY");
	else if (argc - optind > 1)
		cli_usage_error(cmd, "one PUBKEY only");
	else
		ret = 0;
	if (ret != 0)
		goto out;
	r.pubkey_path = argv[optind];
	if ((ret = gw_ca_passphrase(passfile, &pass)) != 0)
		goto out;
	ret = sign(gw, &r, pass);
out:
	gw_passphrase_free(pass);
	free(r.principal_copy);
	return ret;
}

/* ---------------------------------------------------------------- revoke */

static void
revoke_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] cert revoke "
	    "(--serial N | --key-id ID | --key FILE)\n"
	    "Revoke certificates by serial or key ID (of the user and host "
	    "CAs),\n"
	    "or a key (and every certificate of it). 'krl' writes the KRL.\n",
	    cli_get_progname());
}

static int
revoke_main(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_SERIAL = GW_OPT_FIRST,
		O_KEYID,
		O_KEY
	};
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "key-id", required_argument, NULL, O_KEYID },
		{ "key", required_argument, NULL, O_KEY },
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	enum gw_revoke_kind kind = 0;
	const char *arg = NULL;
	struct sshkey *k = NULL, *plain = NULL;
	struct gw_db *db = NULL;
	const char *value = NULL;
	char actor[128], num[32], *line = NULL, *fp = NULL;
	char *known = NULL, *esc = NULL;
	uint64_t serial = 0;
	int c, e, exists = 0, ret;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_SERIAL:
		case O_KEYID:
		case O_KEY:
			if (kind != 0)
				return cli_usage_error(cmd,
				    "give one of --serial, --key-id or --key");
			if (c == O_SERIAL)
				kind = GW_REVOKE_SERIAL;
			else if (c == O_KEYID)
				kind = GW_REVOKE_KEY_ID;
			else
				kind = GW_REVOKE_KEY;
			arg = optarg;
			break;
		}
	}
	if (c != 0)
		return c == GW_HELP_DONE ? CLI_EXIT_OK : c;
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if (kind == 0)
		return cli_usage_error(cmd,
		    "give --serial N, --key-id ID or --key FILE");
	if (kind == GW_REVOKE_SERIAL &&
	    gw_parse_u64(arg, 1, UINT64_MAX, &serial) != 0)
		return cli_usage_error(cmd,
		    "--serial '%s' is not a number from 1 to %" PRIu64, arg,
		    UINT64_MAX);
	if (kind == GW_REVOKE_KEY_ID && !valid_text(arg, MAX_KEY_ID))
		return cli_usage_error(cmd,
		    "--key-id is empty, too long or holds a control "
		    "character");

	ret = CLI_EXIT_FAIL;
	switch (kind) {
	case GW_REVOKE_SERIAL:
		snprintf(num, sizeof(num), "%" PRIu64, serial);
		value = num;
		break;
	case GW_REVOKE_KEY_ID: value = arg; break;
	case GW_REVOKE_KEY:
		if ((ret = read_pubkey(arg, &k, NULL)) != 0)
			goto out;
		ret = CLI_EXIT_FAIL;
		/* A certificate's file revokes its key. */
		if ((e = sshkey_dup_public(k, &plain)) != 0 ||
		    (e = sshkey_format_public(plain, NULL, &line)) != 0 ||
		    (e = sshkey_fingerprint(plain, &fp)) != 0) {
			cli_error(CLI_EXIT_FAIL, e, "%s", arg);
			goto out;
		}
		value = line;
		break;
	}
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (kind == GW_REVOKE_SERIAL) {
		if ((e = gw_db_cert_exists(db, serial, &exists)) != 0) {
			cli_error(CLI_EXIT_FAIL, e, "%s/%s: %s", gw->state_dir,
			    GW_DB_FILE, gw_db_errmsg(db));
			goto out;
		}
		if (exists)
			(void)gw_db_cert_key_id(db, serial, &known);
		else
			fprintf(stderr,
			    "%s: note: serial %" PRIu64 " was not issued "
			    "by this gateway; revoking it anyway\n",
			    cli_get_progname(), serial);
	}
	gw_cli_actor(actor, sizeof(actor));
	if ((e = gw_db_revoke(db, kind, value, actor)) != 0) {
		db_error(gw, db, e, "revoking");
		goto out;
	}
	switch (kind) {
	case GW_REVOKE_SERIAL:
		printf("revoked serial %" PRIu64, serial);
		if (known != NULL) {
			esc = cli_escape_string(known, 256);
			printf(" (key ID \"%s\")", esc != NULL ? esc : "?");
		}
		printf("\n");
		break;
	case GW_REVOKE_KEY_ID:
		printf("revoked key ID \"");
		cli_print_escaped(stdout, arg, 0);
		printf("\"\n");
		break;
	case GW_REVOKE_KEY:
		printf("revoked key %s %s\n", sshkey_label(plain), fp);
		break;
	}
	ret = CLI_EXIT_OK;
out:
	free(esc);
	free(known);
	free(fp);
	free(line);
	sshkey_free(plain);
	sshkey_free(k);
	gw_db_close(db);
	return ret;
}

/* ---------------------------------------------------------------- dispatch */

static const struct gw_sub subs[] = {
	{ "cert sign", "sign", sign_main, NULL, NULL, sign_usage },
	{ "cert revoke", "revoke", revoke_main, NULL, NULL, revoke_usage },
};

int
cmd_cert(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "cert", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

/*
 * certsign.c: trasa-gateway cert sign: sign a user's or host's public key
 * with the user or host CA and write its -cert.pub next to it, as
 * ssh-keygen -s does.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define BACKDATE 60 /* seconds, for clock skew */
#define TTL_USER_DEFAULT (5 * 60)
#define TTL_HOST_DEFAULT (30 * 24 * 3600)
#define TTL_MAX (366ull * 24 * 3600)
#define MAX_NAME 1024 /* principal, user name */
#define MAX_KEY_ID 1024
#define MAX_COMMAND 4096

/* Extensions ssh-keygen gives user certificates, and the flags that drop
 * them. */
enum {
	NO_X11 = 0x01,
	NO_AGENT = 0x02,
	NO_PORT = 0x04,
	NO_PTY = 0x08,
	NO_USER_RC = 0x10,
};
static const struct {
	const char *name;
	unsigned off;
} user_extensions[] = {
	{ "permit-X11-forwarding", NO_X11 },
	{ "permit-agent-forwarding", NO_AGENT },
	{ "permit-port-forwarding", NO_PORT },
	{ "permit-pty", NO_PTY },
	{ "permit-user-rc", NO_USER_RC },
};

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

/* "300", "300s", "5m", "2h", "30d", "1w"; 1 second to TTL_MAX. */
static int
parse_ttl(const char *s, uint64_t *out)
{
	unsigned long long v, mult = 1;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0)
		return -1;
	if (*ep != '\0') {
		switch (*ep) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 24 * 3600; break;
		case 'w': mult = 7 * 24 * 3600; break;
		default: return -1;
		}
		if (ep[1] != '\0')
			return -1;
	}
	if (v == 0 || v > TTL_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_serial(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0 || *ep != '\0')
		return -1;
	*out = v;
	return 0;
}

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
		if (!gw_valid_name(p) || strlen(p) > MAX_NAME)
			return cli_usage_error("cert sign",
			    "principal '%s' holds a "
			    "blank or control character, or is too long",
			    p);
		if (r->nprincipals >= SSHCERT_MAX_PRINCIPALS)
			return cli_usage_error("cert sign",
			    "more than %d principals", SSHCERT_MAX_PRINCIPALS);
		r->principals[r->nprincipals++] = p;
		if (comma == NULL)
			break;
	}
	return 0;
}

static int
has_control(const char *s)
{
	const unsigned char *c;

	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return 1;
	return 0;
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

/* The subject key from PUBKEY: one plain public key, RSA >= 2048 bits. */
static int
load_subject(const char *path, struct sshkey **out, char **comment)
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
	free(text);
	tbuf_free(b);
	return ret;
}

static int
random_serial(uint64_t *out)
{
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
			if (errno == EINTR)
				continue;
			return TRASA_ERR_IO;
		}
	}
	*out = v;
	return 0;
}

/* Fill in the certificate's fields from the request. */
static int
build_cert(const struct sign_req *r, struct sshkey *cert, const char *key_id,
    uint64_t serial, uint64_t after, uint64_t before)
{
	size_t i;
	int e;

	if ((e = sshcert_set_serial(cert, serial)) != 0 ||
	    (e = sshcert_set_key_id(cert, key_id)) != 0 ||
	    (e = sshcert_set_validity(cert, after, before)) != 0)
		return e;
	for (i = 0; i < r->nprincipals; i++)
		if ((e = sshcert_add_principal(cert, r->principals[i])) != 0)
			return e;
	if (r->type == SSHCERT_HOST)
		return 0;
	if (r->force_command != NULL &&
	    (e = sshcert_add_critical(cert, "force-command",
		 r->force_command)) != 0)
		return e;
	if (r->source_address != NULL &&
	    (e = sshcert_add_critical(cert, "source-address",
		 r->source_address)) != 0)
		return e;
	for (i = 0; i < sizeof(user_extensions) / sizeof(user_extensions[0]);
	     i++) {
		if ((r->no_ext & user_extensions[i].off) == 0 &&
		    (e = sshcert_add_extension(cert, user_extensions[i].name,
			 NULL)) != 0)
			return e;
	}
	return 0;
}

static int
sign(struct gw *gw, const struct sign_req *r, const char *passphrase)
{
	struct sshkey *subject = NULL, *ca = NULL, *cert = NULL;
	char out[PATH_MAX], from[64], to[64], *comment = NULL, *line = NULL;
	char *key_id = NULL, *cafp = NULL, *data = NULL;
	uint64_t serial, now, after, before, ttl;
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
	ret = CLI_EXIT_FAIL;

	if (r->have_serial)
		serial = r->serial;
	else if ((e = random_serial(&serial)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "no random serial");
		goto out;
	}
	if (r->key_id != NULL)
		e = (key_id = strdup(r->key_id)) == NULL ? -1 : 0;
	else if (r->type == SSHCERT_USER)
		e = asprintf(&key_id, "trasa:%s", r->user);
	else
		e = asprintf(&key_id, "trasa-host:%s", r->principals[0]);
	if (e < 0) {
		key_id = NULL;
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "key ID");
		goto out;
	}
	if ((t = time(NULL)) < BACKDATE) {
		cli_error(CLI_EXIT_FAIL, 0, "the system clock is not set");
		goto out;
	}
	now = (uint64_t)t;
	if (r->have_ttl)
		ttl = r->ttl;
	else if (r->type == SSHCERT_USER)
		ttl = TTL_USER_DEFAULT;
	else
		ttl = TTL_HOST_DEFAULT;
	after = now - BACKDATE;
	before = now + ttl;

	if ((e = sshcert_new(subject, r->type, &cert)) != 0 ||
	    (e = build_cert(r, cert, key_id, serial, after, before)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "building the certificate");
		goto out;
	}
	cli_debug("signing %s's %s key as a %s certificate, serial %" PRIu64,
	    r->pubkey_path, sshkey_label(subject),
	    r->type == SSHCERT_USER ? "user" : "host", serial);
	if ((e = sshcert_sign(cert, ca, NULL)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "signing the certificate");
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
		cli_error(CLI_EXIT_FAIL, e, "writing %s", out);
		goto out;
	}
	if ((e = sshkey_fingerprint(ca, &cafp)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "CA fingerprint");
		goto out;
	}
	sshcert_format_time(after, 0, from, sizeof(from));
	sshcert_format_time(before, 1, to, sizeof(to));
	printf("%s\n", out);
	printf("signed %s certificate: key ID \"%s\" serial %" PRIu64 " for ",
	    r->type == SSHCERT_USER ? "user" : "host", key_id, serial);
	for (i = 0; i < r->nprincipals; i++)
		printf("%s%s", i > 0 ? "," : "", r->principals[i]);
	printf(" valid from %s to %s, %s CA %s (%s)\n", from, to,
	    r->type == SSHCERT_USER ? "user" : "host", cafp,
	    sshcert_signature_alg(cert));
	ret = CLI_EXIT_OK;
out:
	free(data);
	free(line);
	free(cafp);
	free(key_id);
	free(comment);
	sshkey_free(cert);
	sshkey_free(ca);
	sshkey_free(subject);
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
	    "  --ttl N[s|m|h|d|w]  lifetime (default 5m user, 30d host; "
	    "at most 366d);\n"
	    "                      the certificate is back-dated by 60 s\n"
	    "  --key-id ID         default trasa:NAME or "
	    "trasa-host:FIRST_PRINCIPAL\n"
	    "  --serial N          default a random non-zero 64-bit number\n"
	    "  --passphrase-file F passphrase of an encrypted CA key\n",
	    cli_get_progname());
}

static int
sign_main(struct gw *gw, int argc, char **argv)
{
	enum {
		O_USER = 256,
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
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	static const char cmd[] = "cert sign";
	const char *passfile = gw->passphrase_file;
	struct sign_req r;
	char *pass = NULL;
	int c, ret;

	memset(&r, 0, sizeof(r));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
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
				if (!gw_valid_name(optarg) ||
				    strlen(optarg) > MAX_NAME) {
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
			if (parse_ttl(optarg, &r.ttl) != 0) {
				ret = cli_usage_error(cmd,
				    "--ttl '%s': give 1s to "
				    "366d as N, Ns, Nm, Nh, Nd or Nw",
				    optarg);
				goto out;
			}
			r.have_ttl = 1;
			break;
		case O_KEYID:
			if (*optarg == '\0' || has_control(optarg) ||
			    strlen(optarg) > MAX_KEY_ID) {
				ret = cli_usage_error(cmd,
				    "--key-id is empty, too "
				    "long or holds a control character");
				goto out;
			}
			r.key_id = optarg;
			break;
		case O_SERIAL:
			if (parse_serial(optarg, &r.serial) != 0) {
				ret = cli_usage_error(cmd,
				    "--serial '%s' is not a "
				    "number from 0 to %" PRIu64,
				    optarg, UINT64_MAX);
				goto out;
			}
			r.have_serial = 1;
			break;
		case O_FORCE:
			if (*optarg == '\0' || has_control(optarg) ||
			    strlen(optarg) > MAX_COMMAND) {
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
		case O_NOPTY: r.no_ext |= NO_PTY; break;
		case O_NOPORT: r.no_ext |= NO_PORT; break;
		case O_NOAGENT: r.no_ext |= NO_AGENT; break;
		case O_NOX11: r.no_ext |= NO_X11; break;
		case O_NORC: r.no_ext |= NO_USER_RC; break;
		case O_PASS: passfile = optarg; break;
		case 'h':
			sign_usage(stdout);
			ret = CLI_EXIT_OK;
			goto out;
		case 'v': cli_set_verbose(1); break;
		default: ret = cli_bad_option(cmd, c, argv); goto out;
		}
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
	if (passfile != NULL &&
	    (ret = gw_passphrase_read(passfile, &pass)) != 0)
		goto out;
	ret = sign(gw, &r, pass);
out:
	gw_passphrase_free(pass);
	free(r.principal_copy);
	return ret;
}

int
cmd_cert(struct gw *gw, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("cert", "missing subcommand (sign)");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		sign_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "sign") == 0)
		return sign_main(gw, argc - 1, argv + 1);
	return cli_usage_error("cert", "unknown subcommand '%s' (sign)",
	    argv[1]);
}

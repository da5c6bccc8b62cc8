/*
 * trasa-gateway.c: the gateway's command line: global options, dispatch to
 * a command, and the helpers the commands share (messages and exit codes:
 * libtrasa/cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "tbuf.h"

static const struct {
	const char *name;
	int (*fn)(struct gw *, int, char **);
} commands[] = {
	{ "ca", cmd_ca },
	{ "cert", cmd_cert },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] [--passphrase-file FILE] [-v] COMMAND ...\n"
	    "\n"
	    "commands:\n"
	    "  ca init [--key-type ed25519|ecdsa-p256|ecdsa-p384|rsa-3072]\n"
	    "          [--passphrase-file FILE]\n"
	    "                        create the user CA and the host CA\n"
	    "  ca show [user|host]   print the CA public key(s)\n"
	    "  cert sign (--user NAME | --host) --principals A,B [--ttl 5m]\n"
	    "          [--key-id ID] [--serial N] [--force-command CMD]\n"
	    "          [--source-address CIDR,...] [--no-pty]\n"
	    "          [--no-port-forwarding] [--no-agent-forwarding]\n"
	    "          [--no-x11-forwarding] [--no-user-rc] PUBKEY\n"
	    "                        sign PUBKEY, write its -cert.pub\n"
	    "\n"
	    "options:\n"
	    "  --state-dir DIR        state directory (default $%s or %s)\n"
	    "  --passphrase-file FILE passphrase of the CA private keys\n"
	    "  -v, --verbose          say more on stderr\n"
	    "  -h, --help             this text (COMMAND --help: that command's)\n"
	    "      --version          print the version\n"
	    "\nSee trasa-gateway(8).\n",
	    cli_get_progname(), GW_STATE_DIR_ENV, GW_DEFAULT_STATE_DIR);
}

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
main(int argc, char **argv)
{
	enum {
		O_STATE = 256,
		O_PASS,
		O_VERSION
	};
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct gw gw = { NULL, NULL };
	const char *env;
	size_t i;
	int c;

	cli_set_progname("trasa-gateway");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", opts, NULL)) != -1) {
		switch (c) {
		case O_STATE:
			if (*optarg == '\0')
				return cli_usage_error(NULL,
				    "empty --state-dir");
			gw.state_dir = optarg;
			break;
		case O_PASS: gw.passphrase_file = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		case O_VERSION:
			printf("%s (%s) %s\n", cli_get_progname(), PACKAGE_NAME,
			    PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default: return cli_bad_option(NULL, c, argv);
		}
	}
	if (gw.state_dir == NULL) {
		env = getenv(GW_STATE_DIR_ENV);
		gw.state_dir =
		    env != NULL && *env != '\0' ? env : GW_DEFAULT_STATE_DIR;
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(&gw, argc - optind,
			    argv + optind);
	}
	return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
}

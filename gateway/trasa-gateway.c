/*
 * trasa-gateway.c: the gateway's command line: global options, the
 * configuration file, dispatch to a command (messages and exit codes:
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
	{ "serve", cmd_serve },
	{ "user", cmd_user },
	{ "group", cmd_group },
	{ "host", cmd_host },
	{ "krl", cmd_krl },
	{ "audit", cmd_audit },
	{ "admin-token", cmd_admin_token },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--config FILE] [--state-dir DIR] [--listen ADDR:PORT]\n"
	    "          [--passphrase-file FILE] [-v] COMMAND ...\n"
	    "\n"
	    "certificate authority:\n"
	    "  ca init [--key-type ed25519|ecdsa-p256|ecdsa-p384|rsa-3072]\n"
	    "          [--passphrase-file FILE]\n"
	    "                        create the user and host CAs and the "
	    "database\n"
	    "  ca show [user|host]   print every trusted CA public key\n"
	    "  ca rotate user|host [--key-type TYPE]\n"
	    "                        new signing key; the old one stays "
	    "trusted\n"
	    "  ca retire user|host   stop trusting the previous key\n"
	    "  cert sign (--user NAME | --host) --principals A,B [--ttl 5m]\n"
	    "          [--key-id ID] [--serial N] [--force-command CMD]\n"
	    "          [--source-address CIDR,...] [--no-pty]\n"
	    "          [--no-port-forwarding] [--no-agent-forwarding]\n"
	    "          [--no-x11-forwarding] [--no-user-rc] PUBKEY\n"
	    "                        sign PUBKEY, write its -cert.pub\n"
	    "  cert revoke (--serial N | --key-id ID | --key FILE)\n"
	    "  krl [--out FILE]      write the KRL (default DIR/krl.bin)\n"
	    "\n"
	    "directory:\n"
	    "  user add NAME [--uid N] [--gid N] [--gecos TEXT] [--home DIR]\n"
	    "          [--shell PATH] [--groups A,B] [--key FILE]\n"
	    "  user del|disable|enable|totp NAME\n"
	    "  user list [--json]    user show NAME [--json]\n"
	    "  group add NAME [--gid N]    group del NAME\n"
	    "  group member GROUP USER [--remove]    group list [--json]\n"
	    "\n"
	    "hosts and the API:\n"
	    "  host token NAME [--principals A,B] [--ttl 1h] "
	    "[--allow-groups A,B]\n"
	    "  host list [--json]    host allow NAME --groups A,B\n"
	    "  admin-token create|revoke NAME    admin-token list\n"
	    "  audit [--since TIME] [--json]\n"
	    "  serve [--threads N]   the HTTPS API (default %s)\n"
	    "\n"
	    "options:\n"
	    "  --config FILE          configuration (default %s)\n"
	    "  --state-dir DIR        state directory (default $%s or %s)\n"
	    "  --listen ADDR:PORT     address of serve\n"
	    "  --passphrase-file FILE passphrase of the CA private keys\n"
	    "  -v, --verbose          say more on stderr\n"
	    "  -h, --help             this text (COMMAND --help: that command's)\n"
	    "      --version          print the version\n"
	    "\nSee trasa-gateway(8).\n",
	    cli_get_progname(), GW_DEFAULT_LISTEN, GW_DEFAULT_CONFIG,
	    GW_STATE_DIR_ENV, GW_DEFAULT_STATE_DIR);
}

int
main(int argc, char **argv)
{
	enum {
		O_STATE = 256,
		O_PASS,
		O_CONFIG,
		O_LISTEN,
		O_VERSION
	};
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct gw gw;
	const char *env;
	size_t i;
	int c, ret;

	memset(&gw, 0, sizeof(gw));
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
		case O_CONFIG: gw.config_path = optarg; break;
		case O_LISTEN: gw.listen = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		case O_VERSION:
			printf("%s (%s) %s\n", cli_get_progname(), PACKAGE_NAME,
			    PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default: return cli_bad_option(NULL, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		return cli_usage_error(NULL, "unknown command '%s'",
		    argv[optind]);
	if ((ret = gw_config_load(gw.config_path, &gw.cfg)) != 0)
		return ret;
	/* Command line, then environment, then config, then default. */
	if (gw.state_dir == NULL) {
		env = getenv(GW_STATE_DIR_ENV);
		if (env != NULL && *env != '\0')
			gw.state_dir = env;
		else if (gw.cfg.state_dir != NULL)
			gw.state_dir = gw.cfg.state_dir;
		else
			gw.state_dir = GW_DEFAULT_STATE_DIR;
	}
	if (gw.passphrase_file == NULL)
		gw.passphrase_file = gw.cfg.passphrase_file;
	if (gw.listen == NULL)
		gw.listen = gw.cfg.listen;
	ret = commands[i].fn(&gw, argc - optind, argv + optind);
	gw_config_free(&gw.cfg);
	return ret;
}

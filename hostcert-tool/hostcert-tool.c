/*
 * hostcert-tool.c: the host-side admin CLI. Parses the global options,
 * dispatches to a subcommand and holds the file and text helpers the
 * subcommands share (messages and exit codes: libtrasa/cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "err.h"
#include "fileio.h"
#include "tbuf.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "inspect", cmd_inspect, "show a key, certificate or KRL" },
	{ "verify", cmd_verify, "judge a certificate as sshd would" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: %s [-v] COMMAND [OPTIONS] [ARGS]\n"
	    "       %s inspect [--json] FILE\n"
	    "       %s verify --ca FILE [--ca FILE]... [--krl FILE]\n"
	    "              [--principal NAME] [--host] [--at TIME] [--skew SECONDS]\n"
	    "              [--source-address ADDR] [--allow-sha1] CERTFILE\n"
	    "\ncommands:\n",
	    cli_get_progname(), cli_get_progname(), cli_get_progname());
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f,
	    "\noptions:\n"
	    "  -v, --verbose  say more on stderr\n"
	    "  -h, --help     this text (COMMAND --help: that command's)\n"
	    "      --version  print the version\n"
	    "\nSee hostcert-tool(8).\n");
}

int
hct_read(const char *path, size_t max, struct tbuf **out)
{
	int e;

	errno = 0;
	if ((e = fileio_read(path, max, 0, out)) == 0)
		return 0;
	switch (e) {
	case TRASA_ERR_FILE_PERM:
		return cli_error(CLI_EXIT_USAGE, 0,
		    "%s: not a regular file (symbolic links are not followed)",
		    path);
	case TRASA_ERR_TOO_LONG:
		return cli_error(CLI_EXIT_USAGE, 0, "%s: larger than %zu bytes",
		    path, max);
	default: return cli_error(CLI_EXIT_USAGE, e, "%s", path);
	}
}

int
hct_text_of(const struct tbuf *b, char **out)
{
	size_t len = tbuf_len(b);
	char *s;

	if (len > 0 && memchr(tbuf_ptr(b), '\0', len) != NULL)
		return TRASA_ERR_STRING_NUL;
	if ((s = malloc(len + 1)) == NULL)
		return TRASA_ERR_ALLOC;
	if (len > 0)
		memcpy(s, tbuf_ptr(b), len);
	s[len] = '\0';
	*out = s;
	return 0;
}

char *
hct_next_line(char **cursor)
{
	char *line = *cursor, *nl;
	size_t n;

	if (line == NULL || *line == '\0')
		return NULL;
	if ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		*cursor = nl + 1;
	} else
		*cursor = line + strlen(line);
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

int
hct_skip_blank(char **line)
{
	*line += strspn(*line, " \t");
	return **line == '\0' || **line == '#';
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	cli_set_progname("hostcert-tool");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		case 'V':
			printf("%s (%s) %s\n", cli_get_progname(), PACKAGE_NAME,
			    PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default: return cli_bad_option(NULL, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(argc - optind, argv + optind);
	}
	return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
}

/*
 * hostcert-tool.c: the host-side admin CLI. Parses the global options,
 * dispatches to a subcommand and holds the helpers every subcommand uses
 * to print messages and pick exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "fileio.h"
#include "tbuf.h"

const char *hct_progname = "hostcert-tool";
int hct_verbose;

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
	    hct_progname, hct_progname, hct_progname);
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
hct_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", hct_progname);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, " (try '%s %s --help')\n", hct_progname, cmd);
	else
		fprintf(stderr, " (try '%s --help')\n", hct_progname);
	return HCT_EXIT_USAGE;
}

int
hct_fail(int code, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", hct_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err != 0)
		fprintf(stderr, ": %s", trasa_strerror(err));
	fputc('\n', stderr);
	return code;
}

int
hct_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return hct_usage(cmd, "option '%s' needs an argument",
		    argv[optind - 1]);
	if (optopt != 0)
		return hct_usage(cmd, "unknown option '-%c'", optopt);
	return hct_usage(cmd, "unknown option '%s'", argv[optind - 1]);
}

void
hct_debug(const char *fmt, ...)
{
	va_list ap;

	if (!hct_verbose)
		return;
	fprintf(stderr, "%s: ", hct_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

size_t
hct_utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static void
put_safe(FILE *f, const char *s, size_t max)
{
	const unsigned char *c = (const unsigned char *)s;
	size_t n, i, shown = 0;

	while (*c != '\0') {
		if (max != 0 && shown >= max) {
			fputs("...", f);
			return;
		}
		n = hct_utf8_len(c);
		/* C0 and C1 controls, DEL, backslash, invalid UTF-8. */
		if (n == 0 || c[0] < 0x20 || c[0] == 0x7f || c[0] == '\\' ||
		    (c[0] == 0xc2 && c[1] < 0xa0)) {
			for (i = 0; i < (n == 0 ? 1 : n); i++)
				fprintf(f, "\\x%02x", c[i]);
			c += n == 0 ? 1 : n;
		} else {
			fwrite(c, 1, n, f);
			c += n;
		}
		shown += n == 0 ? 1 : n;
	}
}

void
hct_put_safe(FILE *f, const char *s, size_t max)
{
	put_safe(f, s == NULL ? "" : s, max);
}

char *
hct_safe_dup(const char *s, size_t max)
{
	char *p = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&p, &len)) == NULL)
		return NULL;
	put_safe(f, s == NULL ? "" : s, max);
	if (fclose(f) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

int
hct_read(const char *path, size_t max, struct tbuf **out)
{
	int e;

	errno = 0;
	if ((e = fileio_read(path, max, 0, out)) == 0)
		return 0;
	switch (e) {
	case TRASA_ERR_IO:
		return hct_fail(HCT_EXIT_USAGE, 0, "%s: %s", path,
		    errno != 0 ? strerror(errno) : trasa_strerror(e));
	case TRASA_ERR_FILE_PERM:
		return hct_fail(HCT_EXIT_USAGE, 0,
		    "%s: not a regular file (symbolic links are not followed)",
		    path);
	case TRASA_ERR_TOO_LONG:
		return hct_fail(HCT_EXIT_USAGE, 0, "%s: larger than %zu bytes",
		    path, max);
	default: return hct_fail(HCT_EXIT_USAGE, e, "%s", path);
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

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return HCT_EXIT_OK;
		case 'v': hct_verbose++; break;
		case 'V':
			printf("%s (%s) %s\n", hct_progname, PACKAGE_NAME,
			    PACKAGE_VERSION);
			return HCT_EXIT_OK;
		default: return hct_bad_option(NULL, c, argv);
		}
	}
	if (optind >= argc)
		return hct_usage(NULL, "no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(argc - optind, argv + optind);
	}
	return hct_usage(NULL, "unknown command '%s'", argv[optind]);
}

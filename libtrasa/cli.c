/* cli.c: messages, exit codes and safe printing for the command-line tools. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const char *cli_progname = "trasa";
static int cli_verbose;

void
cli_set_progname(const char *name)
{
	cli_progname = name;
}

const char *
cli_get_progname(void)
{
	return cli_progname;
}

void
cli_set_verbose(int on)
{
	cli_verbose = on;
}

int
cli_get_verbose(void)
{
	return cli_verbose;
}

int
cli_error(int code, int err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err == TRASA_ERR_IO && saved != 0)
		fprintf(stderr, ": %s", strerror(saved));
	else if (err != 0)
		fprintf(stderr, ": %s", trasa_strerror(err));
	fputc('\n', stderr);
	return code;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, " (try '%s %s --help')\n", cli_progname, cmd);
	else
		fprintf(stderr, " (try '%s --help')\n", cli_progname);
	return CLI_EXIT_USAGE;
}

int
cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs an argument",
		    argv[optind - 1]);
	if (optopt != 0)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

void
cli_debug(const char *fmt, ...)
{
	va_list ap;

	if (!cli_verbose)
		return;
	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

size_t
cli_utf8_len(const unsigned char *s)
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

void
cli_print_escaped(FILE *f, const char *s, size_t max)
{
	const unsigned char *c = (const unsigned char *)(s == NULL ? "" : s);
	size_t n, i, shown = 0;

	while (*c != '\0') {
		if (max != 0 && shown >= max) {
			fputs("...", f);
			return;
		}
		n = cli_utf8_len(c);
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

char *
cli_escape_string(const char *s, size_t max)
{
	char *p = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&p, &len)) == NULL)
		return NULL;
	cli_print_escaped(f, s, max);
	if (fclose(f) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

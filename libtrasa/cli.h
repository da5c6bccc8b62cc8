/*
 * cli.h: what the command-line tools (trasa-gateway, hostcert-tool) share:
 * their one-line messages on stderr, usage errors, -v debug lines, exit
 * codes, and printing untrusted strings safely. libc only.
 *
 * Every message starts with the program's name, "PROGNAME: ", as set by
 * cli_set_progname() first thing in main().
 */
#ifndef TRASA_CLI_H
#define TRASA_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit status; each tool's man page says what they mean for it. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1	 /* the command could not be done / not valid */
#define CLI_EXIT_USAGE 2 /* bad command line (and tool-specific cases) */

/* The name messages start with (a static string; not copied). */
void cli_set_progname(const char *name);
const char *cli_get_progname(void);

/* Non-zero: cli_debug() prints. */
void cli_set_verbose(int on);
int cli_get_verbose(void);

/*
 * The places where messages are made.
 *
 * cli_error() prints "PROGNAME: MESSAGE", then, when err is not 0, ": "
 * and an error text: errno's when err is TRASA_ERR_IO and errno was set on
 * entry, else trasa_strerror(err). It returns code.
 *
 * cli_usage_error() prints "PROGNAME: CMD: MESSAGE (try 'PROGNAME CMD
 * --help')" (without "CMD: " and CMD when cmd is NULL) and returns
 * CLI_EXIT_USAGE.
 *
 * cli_bad_option() is the usage error for getopt_long()'s '?' or ':'
 * return c (opterr = 0, optstring starting with ':' or "+:").
 *
 * cli_debug() prints "PROGNAME: MESSAGE" only when verbose.
 */
int cli_error(int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cli_bad_option(const char *cmd, int c, char **argv);
void cli_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Length of the valid UTF-8 sequence at s (1 for ASCII), or 0. */
size_t cli_utf8_len(const unsigned char *s);
/*
 * Print an untrusted string: control characters (C0, DEL, C1), backslashes
 * and bytes that are not valid UTF-8 as \xNN, truncated after max bytes
 * with "...". max 0: no limit. NULL prints as "".
 */
void cli_print_escaped(FILE *f, const char *s, size_t max);
/* The same into a fresh string (malloc'd), or NULL. */
char *cli_escape_string(const char *s, size_t max);

#endif

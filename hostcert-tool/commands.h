/*
 * commands.h: hostcert-tool's subcommands and the helpers they share.
 */
#ifndef HOSTCERT_TOOL_COMMANDS_H
#define HOSTCERT_TOOL_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

struct tbuf;

/* Exit status, as documented in hostcert-tool(8). */
#define HCT_EXIT_OK 0	/* done; for verify: the certificate is valid */
#define HCT_EXIT_FAIL 1 /* verify: not valid; inspect: not recognised */
#define HCT_EXIT_USAGE \
	2 /* usage, or an input other than the judged
                              certificate could not be read or parsed */

/* Size caps for files named on the command line. */
#define HCT_MAX_TEXT_FILE (1024u * 1024)   /* .pub, -cert.pub, CA lists */
#define HCT_MAX_PRIVKEY_FILE (256u * 1024) /* private keys */

/* Longest attacker-supplied string we print on one line. */
#define HCT_MAX_SHOWN 256

extern const char *hct_progname;
extern int hct_verbose;

int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/*
 * The one place where messages and exit codes are made. hct_usage()
 * prints "hostcert-tool: CMD: MESSAGE (try 'hostcert-tool CMD --help')"
 * and returns HCT_EXIT_USAGE. hct_fail() prints "hostcert-tool: MESSAGE"
 * and, when err is not 0, ": " and the library's text for err, and
 * returns code.
 */
int hct_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int hct_fail(int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The usage message for getopt's '?' or ':' return c. */
int hct_bad_option(const char *cmd, int c, char **argv);
void hct_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Length of the valid UTF-8 sequence at s (1 for ASCII), or 0. */
size_t hct_utf8_len(const unsigned char *s);
/*
 * Print an untrusted string: control characters (C0, DEL, C1), backslashes
 * and bytes that are not valid UTF-8 as \xNN,
 * truncated after max bytes with "...". max 0: no limit.
 */
void hct_put_safe(FILE *f, const char *s, size_t max);
/* The same into a fresh string (malloc'd), or NULL. */
char *hct_safe_dup(const char *s, size_t max);

/*
 * Read a file named on the command line (not trusted: no ownership
 * check; symlinks refused; size-capped). On failure prints one line and
 * returns HCT_EXIT_USAGE.
 */
int hct_read(const char *path, size_t max, struct tbuf **out);
/*
 * A file's contents as a fresh NUL-terminated string for line parsing;
 * a file holding a NUL byte is refused with TRASA_ERR_STRING_NUL.
 */
int hct_text_of(const struct tbuf *b, char **out);
/* Next line of text at *cursor (which is advanced); NULL at the end.
 * The line's newline (and a '\r' before it) is replaced by NUL. */
char *hct_next_line(char **cursor);
/* Skip leading blanks; 1 when what is left is empty or a # comment. */
int hct_skip_blank(char **line);

#endif

/*
 * commands.h: hostcert-tool's subcommands and the helpers they share.
 */
#ifndef HOSTCERT_TOOL_COMMANDS_H
#define HOSTCERT_TOOL_COMMANDS_H

#include <stddef.h>

struct tbuf;

/*
 * Exit status (CLI_EXIT_* in cli.h), as documented in hostcert-tool(8):
 * 0 done (verify: the certificate is valid); 1 verify: not valid,
 * inspect: not recognised; 2 usage, or an input other than the judged
 * certificate could not be read or parsed.
 */

/* Size caps for files named on the command line. */
#define HCT_MAX_TEXT_FILE (1024u * 1024)   /* .pub, -cert.pub, CA lists */
#define HCT_MAX_PRIVKEY_FILE (256u * 1024) /* private keys */

/* Longest attacker-supplied string we print on one line. */
#define HCT_MAX_SHOWN 256

int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/*
 * Read a file named on the command line (not trusted: no ownership
 * check; symlinks refused; size-capped). On failure prints one line and
 * returns CLI_EXIT_USAGE.
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

/*
 * gateway.h: trasa-gateway's subcommands and the helpers they share.
 */
#ifndef TRASA_GATEWAY_H
#define TRASA_GATEWAY_H

#include <stddef.h>

#include "sshcert.h"

/*
 * Exit status (CLI_EXIT_* in cli.h), as documented in trasa-gateway(8):
 * 0 done, 1 the command could not be done, 2 bad command line.
 */

#define GW_DEFAULT_STATE_DIR "/var/lib/trasa-gateway"
#define GW_STATE_DIR_ENV "TRASA_STATE_DIR"

/* Caps on files we read. */
#define GW_MAX_PUB_FILE (64u * 1024)
#define GW_MAX_PRIV_FILE (256u * 1024)
#define GW_MAX_PASSPHRASE_FILE 4096u

/* Global options, given before the command. */
struct gw {
	const char *state_dir;
	const char *passphrase_file;
};

/* Commands: argv[0] is the command's name ("ca", "cert"). */
int cmd_ca(struct gw *gw, int argc, char **argv);
int cmd_cert(struct gw *gw, int argc, char **argv);

/* DIR/ca/NAME into buf; TRASA_ERR_TOO_LONG when it does not fit. */
int gw_ca_path(const struct gw *gw, const char *name, char *buf, size_t len);

/*
 * The first line of a passphrase file (trailing newline removed), as a
 * fresh string to be released with gw_passphrase_free(). An empty
 * passphrase is refused. On failure prints one line and returns
 * CLI_EXIT_FAIL.
 */
int gw_passphrase_read(const char *path, char **out);
void gw_passphrase_free(char *p);

/*
 * The user or host CA's private key from the state directory, checked
 * against its .pub file. On failure prints one line and returns
 * CLI_EXIT_FAIL.
 */
int gw_ca_load(const struct gw *gw, enum sshcert_type which,
    const char *passphrase, struct sshkey **out);

/* 1 when s is non-empty and holds no comma, blank or control character. */
int gw_valid_name(const char *s);

#endif

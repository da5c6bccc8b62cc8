/*
 * gateway.h: trasa-gateway's subcommands and the helpers they share.
 */
#ifndef TRASA_GATEWAY_H
#define TRASA_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
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

/*
 * Global options, given before the command, over the configuration file:
 * state_dir and passphrase_file are the effective values (command line,
 * else config, else default).
 */
struct gw {
	const char *state_dir;
	const char *passphrase_file;
	const char *config_path; /* --config, or NULL */
	const char *listen;	 /* --listen, or NULL */
	struct gw_config cfg;	 /* loaded before any command runs */
};

/* Commands: argv[0] is the command's name ("ca", "cert"). */
int cmd_ca(struct gw *gw, int argc, char **argv);	   /* ca.c */
int cmd_cert(struct gw *gw, int argc, char **argv);	   /* certsign.c */
int cmd_serve(struct gw *gw, int argc, char **argv);	   /* serve.c */
int cmd_user(struct gw *gw, int argc, char **argv);	   /* admin.c */
int cmd_group(struct gw *gw, int argc, char **argv);	   /* admin.c */
int cmd_host(struct gw *gw, int argc, char **argv);	   /* admin.c */
int cmd_krl(struct gw *gw, int argc, char **argv);	   /* admin.c */
int cmd_audit(struct gw *gw, int argc, char **argv);	   /* admin.c */
int cmd_admin_token(struct gw *gw, int argc, char **argv); /* admin.c */

/*
 * A subcommand ("user add", "ca init"): its usage is "usage: PROG [global
 * options] SYNOPSIS\nHELP", or what usage() prints when it is set.
 */
struct gw_sub {
	const char *cmd;  /* "user add": named in messages */
	const char *name; /* "add" */
	int (*fn)(struct gw *, const struct gw_sub *, int, char **);
	const char *synopsis;
	const char *help;
	void (*usage)(FILE *); /* or NULL */
};

#define GW_HELP_DONE (-1000) /* --help was printed: exit 0 */
#define GW_OPT_FIRST 256     /* the codes of a command's own options */
/* -h and -v, ending the option table of every command (<getopt.h>). */
/* clang-format off */
#define GW_COMMON_OPTIONS                          \
	{ "help", no_argument, NULL, 'h' },        \
	{ "verbose", no_argument, NULL, 'v' },     \
	{ NULL, 0, NULL, 0 }
/* clang-format on */

/* Return from the caller: CLI_EXIT_OK after GW_HELP_DONE, x when not 0. */
#define GW_PARSED(x)                        \
	do {                                \
		int r_ = (x);               \
		if (r_ == GW_HELP_DONE)     \
			return CLI_EXIT_OK; \
		if (r_ != 0)                \
			return r_;          \
	} while (0)

/* Print s's usage to f. */
void gw_sub_usage(FILE *f, const struct gw_sub *s);

/*
 * The next of a command's own options (a code from GW_OPT_FIRST on),
 * after -h (usage printed: GW_HELP_DONE) and -v: 0 at the end, or an exit
 * code. optind is set to 0 before the first call.
 */
struct option;
int gw_next_opt(const struct gw_sub *s, int argc, char **argv,
    const struct option *opts);

/*
 * Run the subcommand argv[1] of command group (argv[0]) from subs[n]:
 * -h/--help prints every usage; a missing or unknown one is a usage error
 * naming the known ones.
 */
int gw_dispatch(struct gw *gw, const char *group, const struct gw_sub *subs,
    size_t n, int argc, char **argv);

/*
 * Open the state directory's database for a command (creating it when
 * create is set); on failure prints one line and returns CLI_EXIT_FAIL.
 */
struct gw_db;
int gw_open_db(const struct gw *gw, int create, struct gw_db **out);

/*
 * The database for a command: like gw_open_db(gw, 0, out), but a state
 * directory that has a CA and no database yet (made before there was a
 * database) gets one. (ca.c)
 */
int gw_open_state_db(const struct gw *gw, struct gw_db **out);

/*
 * The passphrase of the CA keys: from file (the option or the config),
 * else the systemd credential $CREDENTIALS_DIRECTORY/trasa-ca-passphrase
 * when it exists, else none (*out NULL). Prints why on failure. (ca.c)
 */
int gw_ca_passphrase(const char *file, char **out);

/* The audit actor of a command-line user: "cli:NAME" or "cli:uid N".
 * (admin.c) */
void gw_cli_actor(char *buf, size_t len);

/*
 * A new random secret (32 bytes from the OS) as base64url text without
 * padding (43 characters), and its SHA-256. Used for enrolment tokens,
 * host credentials and admin tokens: only the hash is stored.
 */
int gw_secret_new(char out[44], uint8_t hash[32]);
/* SHA-256 of a presented secret. */
void gw_secret_hash(const char *secret, size_t len, uint8_t hash[32]);

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

/*
 * Every trusted key of the user or host CA: the current (signing) key
 * first, then the previous one while a rotation is in progress
 * (STATE/ca/user_ca.prev.pub; `ca retire` ends it). Public keys only.
 * On failure prints one line and returns CLI_EXIT_FAIL.
 */
int gw_ca_trusted(const struct gw *gw, enum sshcert_type which,
    struct sshkey ***out, size_t *n);
void gw_ca_keys_free(struct sshkey **keys, size_t n);

/*
 * A decimal number (digits only) from min to max into *out; 0 or
 * TRASA_ERR_INVALID_ARG.
 */
int gw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* 1 when s is non-empty and holds no comma, blank or control character. */
int gw_valid_name(const char *s);

#endif

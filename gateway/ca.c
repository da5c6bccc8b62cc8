/*
 * ca.c: trasa-gateway ca init / ca show, and loading a CA private key for
 * signing.
 *
 * Layout of the state directory:
 *   DIR/              0700
 *   DIR/ca/           0700
 *   DIR/ca/user_ca    user CA private key, PKCS#8 PEM, 0600
 *   DIR/ca/user_ca.pub "TYPE BASE64 trasa-user-ca", 0644
 *   DIR/ca/host_ca    host CA private key, PKCS#8 PEM, 0600
 *   DIR/ca/host_ca.pub "TYPE BASE64 trasa-host-ca", 0644
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "sshkey.h"
#include "tbuf.h"

#define NCAFILES 4

static const struct ca_kind {
	enum sshcert_type type;
	const char *what; /* "user", "host" */
	const char *priv; /* file names under DIR/ca */
	const char *pub;
	const char *comment;
} ca_kinds[] = {
	{ SSHCERT_USER, "user", "user_ca", "user_ca.pub", "trasa-user-ca" },
	{ SSHCERT_HOST, "host", "host_ca", "host_ca.pub", "trasa-host-ca" },
};

static const struct {
	const char *name;
	enum sshkey_type type;
	unsigned bits;
} key_types[] = {
	{ "ed25519", SSHKEY_ED25519, 0 },
	{ "ecdsa-p256", SSHKEY_ECDSA_P256, 0 },
	{ "ecdsa-p384", SSHKEY_ECDSA_P384, 0 },
	{ "rsa-3072", SSHKEY_RSA, 3072 },
};

static const struct ca_kind *
ca_kind_of(enum sshcert_type type)
{
	return type == SSHCERT_HOST ? &ca_kinds[1] : &ca_kinds[0];
}

/* ---------------------------------------------------------------- loading */

/* Read a file of the state directory (trusted: ours or root's, not
 * group/world writable), with clear messages. */
static int
read_state_file(const char *path, size_t max, struct tbuf **out)
{
	int e;

	errno = 0;
	if ((e = fileio_read(path, max, FILEIO_TRUSTED, out)) == 0)
		return 0;
	if (e == TRASA_ERR_IO && errno == ENOENT)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s does not exist (run '%s ca init' first, "
		    "or give --state-dir)",
		    path, cli_get_progname());
	if (e == TRASA_ERR_FILE_PERM)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a regular file, or not owned by "
		    "root or us, or writable by group or others",
		    path);
	return cli_error(CLI_EXIT_FAIL, e, "%s", path);
}

/* The first key line of a .pub file of the state directory. */
static int
read_ca_pub(const char *path, struct sshkey **out, char **comment)
{
	struct tbuf *b = NULL;
	char *text = NULL, *line, *nl;
	size_t len;
	int e, ret;

	if ((ret = read_state_file(path, GW_MAX_PUB_FILE, &b)) != 0)
		return ret;
	len = tbuf_len(b);
	if (len == 0 || memchr(tbuf_ptr(b), '\0', len) != NULL ||
	    (text = strndup((const char *)tbuf_ptr(b), len)) == NULL) {
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: not a public key file",
		    path);
		goto out;
	}
	line = text + strspn(text, " \t\r\n");
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if ((e = sshkey_parse_public(line, out, comment)) != 0) {
		ret =
		    cli_error(CLI_EXIT_FAIL, e, "%s: invalid public key", path);
		goto out;
	}
	ret = 0;
out:
	free(text);
	tbuf_free(b);
	return ret;
}

int
gw_ca_load(const struct gw *gw, enum sshcert_type which, const char *passphrase,
    struct sshkey **out)
{
	const struct ca_kind *kind = ca_kind_of(which);
	char priv[PATH_MAX], pub[PATH_MAX];
	struct sshkey *k = NULL, *pk = NULL;
	struct tbuf *b = NULL;
	int e, ret;

	if (gw_ca_path(gw, kind->priv, priv, sizeof(priv)) != 0 ||
	    gw_ca_path(gw, kind->pub, pub, sizeof(pub)) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "state directory %s", gw->state_dir);
	if ((ret = read_state_file(priv, GW_MAX_PRIV_FILE, &b)) != 0)
		goto out;
	e = sshkey_private_parse(tbuf_ptr(b), tbuf_len(b), passphrase, &k,
	    NULL);
	switch (e) {
	case 0: break;
	case TRASA_ERR_ENCRYPTED:
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s CA key %s is encrypted: give "
		    "--passphrase-file",
		    kind->what, priv);
		goto out;
	case TRASA_ERR_PASSPHRASE:
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s CA key %s: wrong passphrase", kind->what, priv);
		goto out;
	default:
		ret = cli_error(CLI_EXIT_FAIL, e, "%s CA key %s", kind->what,
		    priv);
		goto out;
	}
	if ((ret = read_ca_pub(pub, &pk, NULL)) != 0)
		goto out;
	if (!sshkey_equal_public(k, pk)) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s and %s do not hold the same key", priv, pub);
		goto out;
	}
	cli_debug("loaded %s CA key %s (%s)", kind->what, priv,
	    sshkey_label(k));
	*out = k;
	k = NULL;
	ret = 0;
out:
	sshkey_free(k);
	sshkey_free(pk);
	tbuf_free(b);
	return ret;
}

/* ---------------------------------------------------------------- ca init */

/* mkdir -p: missing parents 0755, the last one with mode. */
static int
make_dir(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;
	struct stat st;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0) {
		if (errno != EEXIST)
			return -1;
		if (stat(buf, &st) != 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return 0;
}

/* The CA directory must be ours (or root's) and closed to others. */
static int
check_ca_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return cli_error(CLI_EXIT_FAIL, 0, "%s is not a directory",
		    path);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not owned by root or us, or writable "
		    "by group or others",
		    path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		cli_debug("warning: %s is open to group or others (mode %04o)",
		    path, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int
parse_key_type(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(name, key_types[i].name) == 0) {
			*idx = i;
			return 0;
		}
	}
	return -1;
}

struct ca_out {
	char path[PATH_MAX];
	struct tbuf *data;
	mode_t mode;
	int written;
};

/* Generate one CA and serialise its two files. */
static int
make_ca(const struct gw *gw, const struct ca_kind *kind, size_t kt,
    const char *passphrase, struct ca_out *priv, struct ca_out *pub, char **fp)
{
	struct sshkey *k = NULL;
	char *line = NULL;
	int e;

	cli_debug("generating the %s CA key (%s)", kind->what,
	    key_types[kt].name);
	if ((e = sshkey_generate(key_types[kt].type, key_types[kt].bits, &k)) !=
	    0)
		return cli_error(CLI_EXIT_FAIL, e, "generating the %s CA key",
		    kind->what);
	if ((priv->data = tbuf_new()) == NULL ||
	    (pub->data = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if ((e = sshkey_private_to_pkcs8(k, passphrase, priv->data)) != 0 ||
	    (e = sshkey_format_public(k, kind->comment, &line)) != 0 ||
	    (e = tbuf_put(pub->data, line, strlen(line))) != 0 ||
	    (e = tbuf_put_u8(pub->data, '\n')) != 0 ||
	    (e = sshkey_fingerprint(k, fp)) != 0)
		goto out;
	if (gw_ca_path(gw, kind->priv, priv->path, sizeof(priv->path)) != 0 ||
	    gw_ca_path(gw, kind->pub, pub->path, sizeof(pub->path)) != 0) {
		e = TRASA_ERR_TOO_LONG;
		goto out;
	}
	priv->mode = 0600;
	pub->mode = 0644;
out:
	free(line);
	sshkey_free(k);
	if (e != 0)
		return cli_error(CLI_EXIT_FAIL, e, "creating the %s CA",
		    kind->what);
	return 0;
}

static void
ca_init_usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: %s [--state-dir DIR] ca init [--key-type TYPE] "
	    "[--passphrase-file FILE]\n"
	    "Create the user CA and the host CA in DIR/ca (never overwrites).\n"
	    "  --key-type TYPE         one of",
	    cli_get_progname());
	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		fprintf(f, " %s", key_types[i].name);
	fprintf(f,
	    " (default ed25519)\n"
	    "  --passphrase-file FILE  encrypt the private keys with the "
	    "passphrase\n"
	    "                          on the first line of FILE\n");
}

static int
ca_init(struct gw *gw, int argc, char **argv)
{
	enum {
		O_KEYTYPE = 256,
		O_PASS
	};
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, O_KEYTYPE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_out files[NCAFILES];
	char cadir[PATH_MAX], *fps[2] = { NULL, NULL }, *pass = NULL;
	const char *passfile = gw->passphrase_file;
	size_t kt = 0, i, nexist = 0, first = 0;
	struct stat st;
	int c, e, ret = CLI_EXIT_FAIL;

	memset(files, 0, sizeof(files));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_KEYTYPE:
			if (parse_key_type(optarg, &kt) != 0)
				return cli_usage_error("ca init",
				    "unknown --key-type "
				    "'%s' (ed25519, ecdsa-p256, ecdsa-p384 or "
				    "rsa-3072)",
				    optarg);
			break;
		case O_PASS: passfile = optarg; break;
		case 'h': ca_init_usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option("ca init", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("ca init", "unexpected argument '%s'",
		    argv[optind]);
	if (gw_ca_path(gw, NULL, cadir, sizeof(cadir)) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "state directory %s", gw->state_dir);

	/* Nothing is changed unless all four files are absent. */
	for (i = 0; i < NCAFILES; i++) {
		const struct ca_kind *kind = &ca_kinds[i / 2];

		if (gw_ca_path(gw, i % 2 ? kind->pub : kind->priv,
			files[i].path, sizeof(files[i].path)) != 0)
			return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
			    "state directory %s", gw->state_dir);
		if (lstat(files[i].path, &st) == 0) {
			if (nexist++ == 0)
				first = i;
		} else if (errno != ENOENT && errno != ENOTDIR)
			return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "%s",
			    files[i].path);
	}
	if (nexist > 0)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "ca init: %s already exists%s; refusing to "
		    "overwrite the CA in %s (nothing changed)",
		    files[first].path, nexist > 1 ? " (and others)" : "",
		    cadir);

	if (passfile != NULL &&
	    (ret = gw_passphrase_read(passfile, &pass)) != 0)
		goto out;
	for (i = 0; i < 2; i++)
		if ((ret = make_ca(gw, &ca_kinds[i], kt, pass, &files[2 * i],
			 &files[2 * i + 1], &fps[i])) != 0)
			goto out;

	if (make_dir(gw->state_dir, 0700) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "cannot create %s",
		    gw->state_dir);
		goto out;
	}
	if (make_dir(cadir, 0700) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "cannot create %s",
		    cadir);
		goto out;
	}
	if ((ret = check_ca_dir(cadir)) != 0)
		goto out;
	for (i = 0; i < NCAFILES; i++) {
		e = fileio_write(files[i].path, tbuf_ptr(files[i].data),
		    tbuf_len(files[i].data), files[i].mode,
		    FILEIO_NO_OVERWRITE);
		if (e != 0) {
			ret = cli_error(CLI_EXIT_FAIL, e, "writing %s",
			    files[i].path);
			goto out;
		}
		files[i].written = 1;
	}
	for (i = 0; i < NCAFILES; i++) {
		if (i % 2 == 0)
			printf("created %s (%s CA private key, %s, PKCS#8%s, "
			       "mode 0600)\n",
			    files[i].path, ca_kinds[i / 2].what,
			    key_types[kt].name,
			    pass != NULL ? ", encrypted" : "");
		else
			printf("created %s\n", files[i].path);
	}
	printf("user CA: %s\n", fps[0]);
	printf("host CA: %s\n", fps[1]);
	ret = CLI_EXIT_OK;
out:
	for (i = 0; i < NCAFILES; i++) {
		/* A failed run leaves nothing of its own behind. */
		if (ret != CLI_EXIT_OK && files[i].written &&
		    unlink(files[i].path) != 0)
			cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "removing %s",
			    files[i].path);
		tbuf_free(files[i].data); /* wipes the private keys */
	}
	free(fps[0]);
	free(fps[1]);
	gw_passphrase_free(pass);
	return ret;
}

/* ---------------------------------------------------------------- ca show */

static int
ca_show_one(const struct gw *gw, const struct ca_kind *kind)
{
	char path[PATH_MAX], *comment = NULL, *line = NULL, *fp = NULL;
	struct sshkey *k = NULL;
	int e, ret;

	if (gw_ca_path(gw, kind->pub, path, sizeof(path)) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "state directory %s", gw->state_dir);
	if ((ret = read_ca_pub(path, &k, &comment)) != 0)
		goto out;
	if (sshkey_is_cert(k)) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s holds a certificate, not a CA key", path);
		goto out;
	}
	if ((e = sshkey_format_public(k,
		 comment != NULL ? comment : kind->comment, &line)) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, e, "%s", path);
		goto out;
	}
	printf("%s\n", line);
	if (cli_get_verbose() && sshkey_fingerprint(k, &fp) == 0)
		cli_debug("%s CA (%s): %s %s", kind->what, path,
		    sshkey_label(k), fp);
	ret = 0;
out:
	free(fp);
	free(line);
	free(comment);
	sshkey_free(k);
	return ret;
}

static void
ca_show_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] ca show [user|host]\n"
	    "Print the CA public key(s) in OpenSSH format (both when none "
	    "is named).\n",
	    cli_get_progname());
}

static int
ca_show(struct gw *gw, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h': ca_show_usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option("ca show", c, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("ca show", "unexpected argument '%s'",
		    argv[optind + 1]);
	if (optind == argc) {
		if ((ret = ca_show_one(gw, &ca_kinds[0])) != 0)
			return ret;
		return ca_show_one(gw, &ca_kinds[1]);
	}
	if (strcmp(argv[optind], "user") == 0)
		return ca_show_one(gw, &ca_kinds[0]);
	if (strcmp(argv[optind], "host") == 0)
		return ca_show_one(gw, &ca_kinds[1]);
	return cli_usage_error("ca show", "'%s' is neither user nor host",
	    argv[optind]);
}

/* ---------------------------------------------------------------- dispatch */

int
cmd_ca(struct gw *gw, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("ca",
		    "missing subcommand (init or show)");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		ca_init_usage(stdout);
		ca_show_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "init") == 0)
		return ca_init(gw, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return ca_show(gw, argc - 1, argv + 1);
	return cli_usage_error("ca", "unknown subcommand '%s' (init or show)",
	    argv[1]);
}

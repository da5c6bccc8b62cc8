/*
 * ca.c: trasa-gateway ca init / show / rotate / retire, loading a CA
 * private key for signing and the list of trusted CA keys.
 *
 * Layout of the state directory:
 *   DIR/              0700
 *   DIR/ca/           0700
 *   DIR/ca/user_ca    user CA private key, PKCS#8 PEM, 0600
 *   DIR/ca/user_ca.pub "TYPE BASE64 trasa-user-ca", 0644
 *   DIR/ca/host_ca    host CA private key, PKCS#8 PEM, 0600
 *   DIR/ca/host_ca.pub "TYPE BASE64 trasa-host-ca", 0644
 *   DIR/ca/user_ca.prev(.pub), host_ca.prev(.pub)
 *                     the previous key while a rotation is in progress
 *   DIR/ca/user_ca.new(.pub), host_ca.new(.pub)
 *                     the next key, only while `ca rotate` runs
 *   DIR/ca/retired/   keys retired by `ca retire`, NAME.YYYYMMDDTHHMMSSZ
 *
 * A rotation never loses a key: the new pair is written (fsync'd) under
 * the .new names, the current pair gets a second name, .prev (hard
 * links), then the .new files are renamed over the current names. `ca
 * rotate` run again after a crash finishes what was started.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "sshkey.h"
#include "tbuf.h"

#define CRED_PASSPHRASE "trasa-ca-passphrase"

#define NCAFILES 4

static const struct ca_kind {
	enum sshcert_type type;
	const char *what; /* "user", "host" */
	const char *priv; /* file names under DIR/ca */
	const char *pub;
	const char *comment;
	const char *prev, *prev_pub, *next, *next_pub;
} ca_kinds[] = {
	{ SSHCERT_USER, "user", "user_ca", "user_ca.pub", "trasa-user-ca",
	    "user_ca.prev", "user_ca.prev.pub", "user_ca.new",
	    "user_ca.new.pub" },
	{ SSHCERT_HOST, "host", "host_ca", "host_ca.pub", "trasa-host-ca",
	    "host_ca.prev", "host_ca.prev.pub", "host_ca.new",
	    "host_ca.new.pub" },
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

/* DIR/ca/NAME into buf, or one line. */
static int
ca_path(const struct gw *gw, const char *name, char *buf, size_t len)
{
	if (gw_ca_path(gw, name, buf, len) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "state directory %s", gw->state_dir);
	return 0;
}

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

	if ((ret = ca_path(gw, kind->priv, priv, sizeof(priv))) != 0 ||
	    (ret = ca_path(gw, kind->pub, pub, sizeof(pub))) != 0)
		return ret;
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

/* ------------------------------------------------------- trusted keys */

static int
path_exists(const char *path, int *exists)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		*exists = 1;
		return 0;
	}
	if (errno == ENOENT || errno == ENOTDIR) {
		*exists = 0;
		return 0;
	}
	return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "%s", path);
}

void
gw_ca_keys_free(struct sshkey **keys, size_t n)
{
	size_t i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		sshkey_free(keys[i]);
	free(keys);
}

int
gw_ca_trusted(const struct gw *gw, enum sshcert_type which,
    struct sshkey ***out, size_t *n)
{
	const struct ca_kind *kind = ca_kind_of(which);
	const char *names[2] = { kind->pub, kind->prev_pub };
	struct sshkey **keys = NULL, *k = NULL;
	char path[PATH_MAX];
	size_t i, nkeys = 0;
	int exists, ret = CLI_EXIT_FAIL;

	if ((keys = calloc(2, sizeof(*keys))) == NULL)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "CA keys");
	for (i = 0; i < 2; i++) {
		if ((ret = ca_path(gw, names[i], path, sizeof(path))) != 0)
			goto out;
		if (i > 0) {
			if ((ret = path_exists(path, &exists)) != 0)
				goto out;
			if (!exists)
				break;
		}
		if ((ret = read_ca_pub(path, &k, NULL)) != 0)
			goto out;
		ret = CLI_EXIT_FAIL;
		if (sshkey_is_cert(k)) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s holds a certificate, not a CA key", path);
			goto out;
		}
		/* A half-done rotation may name one key twice. */
		if (nkeys > 0 && sshkey_equal_public(keys[0], k)) {
			sshkey_free(k);
			k = NULL;
			continue;
		}
		keys[nkeys++] = k;
		k = NULL;
	}
	*out = keys;
	*n = nkeys;
	keys = NULL;
	ret = 0;
out:
	sshkey_free(k);
	gw_ca_keys_free(keys, nkeys);
	return ret;
}

/*
 * The database for a command: like gw_open_db(gw, 0, out), but a state
 * directory that has a CA and no database yet (made before there was a
 * database) gets one.
 */
int
gw_open_state_db(const struct gw *gw, struct gw_db **out)
{
	char path[PATH_MAX];
	int exists = 0;

	if (gw_ca_path(gw, ca_kinds[0].pub, path, sizeof(path)) == 0 &&
	    path_exists(path, &exists) != 0)
		return CLI_EXIT_FAIL;
	return gw_open_db(gw, exists, out);
}

/* ---------------------------------------------------------- passphrase */

/*
 * The passphrase of the CA keys: from file (the option or the config),
 * else from the systemd credential $CREDENTIALS_DIRECTORY/
 * trasa-ca-passphrase when it exists, else none (*out NULL).
 */
int
gw_ca_passphrase(const char *file, char **out)
{
	char cred[PATH_MAX];
	const char *dir;
	int exists, n, ret;

	*out = NULL;
	if (file != NULL)
		return gw_passphrase_read(file, out);
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || *dir == '\0')
		return 0;
	n = snprintf(cred, sizeof(cred), "%s/%s", dir, CRED_PASSPHRASE);
	if (n < 0 || (size_t)n >= sizeof(cred))
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "$CREDENTIALS_DIRECTORY");
	if ((ret = path_exists(cred, &exists)) != 0)
		return ret;
	if (!exists)
		return 0;
	cli_debug("CA passphrase from the credential %s", cred);
	return gw_passphrase_read(cred, out);
}

/* ---------------------------------------------------------------- ca init */

/* mkdir -p: missing parents 0755, the last one with mode. */
static int
mkdir_p(const char *path, mode_t mode)
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

/* mkdir -p, with mode for path itself, or one line. */
static int
make_dir(const char *path, mode_t mode)
{
	if (mkdir_p(path, mode) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO,
		    "cannot create %s", path);
	return 0;
}

/* A directory of CA keys, made if missing, and checked. */
static int
make_ca_dir(const char *path)
{
	int ret;

	if ((ret = make_dir(path, 0700)) != 0)
		return ret;
	return check_ca_dir(path);
}

static int
parse_key_type(const char *cmd, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(name, key_types[i].name) == 0) {
			*idx = i;
			return 0;
		}
	}
	return cli_usage_error(cmd,
	    "unknown --key-type '%s' (ed25519, ecdsa-p256, ecdsa-p384 or "
	    "rsa-3072)",
	    name);
}

static int
write_file(const char *path, const struct tbuf *data, mode_t mode, int flags)
{
	int e;

	if ((e = fileio_write(path, tbuf_ptr(data), tbuf_len(data), mode,
		 flags)) != 0)
		return cli_error(CLI_EXIT_FAIL, e, "writing %s", path);
	return 0;
}

struct ca_out {
	char path[PATH_MAX];
	struct tbuf *data;
	mode_t mode;
	int written;
};

/* Generate one CA key and serialise its two files (paths: the caller's). */
static int
make_ca(const struct ca_kind *kind, enum sshkey_type type, unsigned bits,
    const char *label, const char *passphrase, struct ca_out *priv,
    struct ca_out *pub, char **fp)
{
	struct sshkey *k = NULL;
	char *line = NULL;
	int e;

	cli_debug("generating the %s CA key (%s)", kind->what, label);
	if ((e = sshkey_generate(type, bits, &k)) != 0)
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

/* Record an audit event; 0, or one line and the error. */
static int
audit_ca(const struct gw *gw, struct gw_db *db, const char *event,
    const char *subject, const char *detail)
{
	char actor[128];
	int e;

	gw_cli_actor(actor, sizeof(actor));
	if ((e = gw_db_audit(db, event, actor, subject, "ok", detail)) != 0)
		cli_error(CLI_EXIT_FAIL, e, "%s/%s: audit of %s: %s",
		    gw->state_dir, GW_DB_FILE, event, gw_db_errmsg(db));
	return e;
}

static void
ca_init_usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: %s [--state-dir DIR] ca init [--key-type TYPE] "
	    "[--passphrase-file FILE]\n"
	    "Create the user CA and the host CA in DIR/ca (never overwrites)\n"
	    "and the database DIR/gateway.db.\n"
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
ca_init(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_KEYTYPE = GW_OPT_FIRST,
		O_PASS
	};
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, O_KEYTYPE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	struct ca_out files[NCAFILES];
	struct gw_db *db = NULL;
	char cadir[PATH_MAX], *fps[2] = { NULL, NULL }, *pass = NULL;
	char detail[256];
	const char *passfile = gw->passphrase_file;
	size_t kt = 0, i, nexist = 0, first = 0;
	struct stat st;
	int c, ret = CLI_EXIT_FAIL;

	memset(files, 0, sizeof(files));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		if (c == O_KEYTYPE)
			GW_PARSED(parse_key_type(cmd, optarg, &kt));
		else
			passfile = optarg;
	}
	GW_PARSED(c);
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	GW_PARSED(ca_path(gw, NULL, cadir, sizeof(cadir)));

	/* Nothing is changed unless all four files are absent. */
	for (i = 0; i < NCAFILES; i++) {
		const struct ca_kind *kind = &ca_kinds[i / 2];

		GW_PARSED(ca_path(gw, i % 2 ? kind->pub : kind->priv,
		    files[i].path, sizeof(files[i].path)));
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

	if ((ret = gw_ca_passphrase(passfile, &pass)) != 0)
		goto out;
	for (i = 0; i < 2; i++)
		if ((ret = make_ca(&ca_kinds[i], key_types[kt].type,
			 key_types[kt].bits, key_types[kt].name, pass,
			 &files[2 * i], &files[2 * i + 1], &fps[i])) != 0)
			goto out;

	if ((ret = make_dir(gw->state_dir, 0700)) != 0 ||
	    (ret = make_ca_dir(cadir)) != 0)
		goto out;
	for (i = 0; i < NCAFILES; i++) {
		if ((ret = write_file(files[i].path, files[i].data,
			 files[i].mode, FILEIO_NO_OVERWRITE)) != 0)
			goto out;
		files[i].written = 1;
	}
	if ((ret = gw_open_db(gw, 1, &db)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "%s user %s host %s",
	    key_types[kt].name, fps[0], fps[1]);
	if (audit_ca(gw, db, "ca.init", "user,host", detail) != 0) {
		ret = CLI_EXIT_FAIL;
		goto out;
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
	printf("database %s/%s\n", gw->state_dir, GW_DB_FILE);
	printf("user CA: %s\n", fps[0]);
	printf("host CA: %s\n", fps[1]);
	ret = CLI_EXIT_OK;
out:
	gw_db_close(db);
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
	struct sshkey **keys = NULL;
	char *line = NULL, *fp = NULL;
	size_t i, n = 0;
	int e, ret;

	if ((ret = gw_ca_trusted(gw, kind->type, &keys, &n)) != 0)
		return ret;
	for (i = 0; i < n; i++) {
		if ((e = sshkey_format_public(keys[i], kind->comment, &line)) !=
		    0) {
			ret = cli_error(CLI_EXIT_FAIL, e, "%s CA key",
			    kind->what);
			goto out;
		}
		printf("%s\n", line);
		free(line);
		line = NULL;
		if (cli_get_verbose() && sshkey_fingerprint(keys[i], &fp) == 0)
			cli_debug("%s CA (%s): %s %s", kind->what,
			    i == 0 ? "current" : "previous",
			    sshkey_label(keys[i]), fp);
		free(fp);
		fp = NULL;
	}
	ret = 0;
out:
	free(line);
	gw_ca_keys_free(keys, n);
	return ret;
}

static void
ca_show_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] ca show [user|host]\n"
	    "Print every trusted CA public key in OpenSSH format: the current\n"
	    "key, then the previous one during a rotation (user then host "
	    "when\n"
	    "neither is named).\n",
	    cli_get_progname());
}

/*
 * After the options: "user" or "host", the only argument; none (*out
 * NULL) when optional.
 */
static int
want_kind(const char *cmd, int argc, char **argv, int optional,
    const struct ca_kind **out)
{
	const char *arg = argv[optind];

	if (argc - optind > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (optind == argc) {
		if (!optional)
			return cli_usage_error(cmd,
			    "say which CA: user or host");
		*out = NULL;
	} else if (strcmp(arg, "user") == 0)
		*out = &ca_kinds[0];
	else if (strcmp(arg, "host") == 0)
		*out = &ca_kinds[1];
	else
		return cli_usage_error(cmd, "'%s' is neither user nor host",
		    arg);
	return 0;
}

static int
ca_show(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	static const struct option opts[] = {
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	const struct ca_kind *kind = NULL;
	int ret;

	optind = 0;
	GW_PARSED(gw_next_opt(s, argc, argv, opts));
	GW_PARSED(want_kind(cmd, argc, argv, 1, &kind));
	if (kind != NULL)
		return ca_show_one(gw, kind);
	if ((ret = ca_show_one(gw, &ca_kinds[0])) != 0)
		return ret;
	return ca_show_one(gw, &ca_kinds[1]);
}

/* ------------------------------------------------------ rotate, retire */

static int
fsync_dir(const char *path)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* The files of one CA kind, as full paths. */
struct ca_paths {
	char dir[PATH_MAX];
	char cur[PATH_MAX], cur_pub[PATH_MAX];
	char prev[PATH_MAX], prev_pub[PATH_MAX];
	char next[PATH_MAX], next_pub[PATH_MAX];
	int has_prev, has_prev_pub, has_next, has_next_pub;
};

static int
ca_paths_get(const struct gw *gw, const struct ca_kind *kind,
    struct ca_paths *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = ca_path(gw, NULL, p->dir, sizeof(p->dir))) != 0 ||
	    (ret = ca_path(gw, kind->priv, p->cur, sizeof(p->cur))) != 0 ||
	    (ret = ca_path(gw, kind->pub, p->cur_pub, sizeof(p->cur_pub))) !=
		0 ||
	    (ret = ca_path(gw, kind->prev, p->prev, sizeof(p->prev))) != 0 ||
	    (ret = ca_path(gw, kind->prev_pub, p->prev_pub,
		 sizeof(p->prev_pub))) != 0 ||
	    (ret = ca_path(gw, kind->next, p->next, sizeof(p->next))) != 0 ||
	    (ret = ca_path(gw, kind->next_pub, p->next_pub,
		 sizeof(p->next_pub))) != 0 ||
	    (ret = check_ca_dir(p->dir)) != 0)
		return ret;
	if ((ret = path_exists(p->prev, &p->has_prev)) != 0 ||
	    (ret = path_exists(p->prev_pub, &p->has_prev_pub)) != 0 ||
	    (ret = path_exists(p->next, &p->has_next)) != 0 ||
	    (ret = path_exists(p->next_pub, &p->has_next_pub)) != 0)
		return ret;
	return 0;
}

static int
link_file(const char *from, const char *to)
{
	if (link(from, to) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "link %s to %s",
		    from, to);
	return 0;
}

/* from gets the name to (a hard link), then loses its own. */
static int
move_file(const char *from, const char *to)
{
	int ret;

	if ((ret = link_file(from, to)) != 0)
		return ret;
	if (unlink(from) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "removing %s",
		    from);
	return 0;
}

static int
rename_file(const char *from, const char *to)
{
	if (rename(from, to) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "rename %s to %s",
		    from, to);
	return 0;
}

/*
 * The second half of a rotation, from wherever it stopped: the current
 * pair also named .prev, then the .new pair renamed over the current one.
 * Every step is idempotent or checked.
 */
static int
finish_rotation(struct ca_paths *p)
{
	int ret;

	if (p->has_next) {
		/* The current names still hold the old key. */
		if (!p->has_prev) {
			if ((ret = link_file(p->cur, p->prev)) != 0)
				return ret;
			p->has_prev = 1;
		}
		if (!p->has_prev_pub) {
			if ((ret = link_file(p->cur_pub, p->prev_pub)) != 0)
				return ret;
			p->has_prev_pub = 1;
		}
		if (fsync_dir(p->dir) != 0)
			return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO,
			    "fsync %s", p->dir);
		if ((ret = rename_file(p->next, p->cur)) != 0)
			return ret;
	} else if (!p->has_prev || !p->has_prev_pub) {
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: an interrupted rotation left %s without the "
		    "previous key pair; repair by hand",
		    p->dir, p->next_pub);
	}
	if (p->has_next_pub &&
	    (ret = rename_file(p->next_pub, p->cur_pub)) != 0)
		return ret;
	if (fsync_dir(p->dir) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "fsync %s",
		    p->dir);
	return 0;
}

static void
ca_rotate_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] [--passphrase-file FILE] ca rotate "
	    "user|host\n"
	    "          [--key-type TYPE] [--passphrase-file FILE]\n"
	    "Make a new signing key; the current one becomes the previous "
	    "key,\n"
	    "still trusted until 'ca retire'. One rotation at a time.\n"
	    "  --key-type TYPE  ed25519, ecdsa-p256, ecdsa-p384 or rsa-3072\n"
	    "                   (default: the type of the current key)\n",
	    cli_get_progname());
}

static int
ca_rotate(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_KEYTYPE = GW_OPT_FIRST,
		O_PASS
	};
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, O_KEYTYPE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	const struct ca_kind *kind = NULL;
	const char *passfile = gw->passphrase_file, *label;
	struct ca_out priv, pub;
	struct ca_paths p;
	struct sshkey *cur = NULL;
	struct gw_db *db = NULL;
	char *pass = NULL, *newfp = NULL, *oldfp = NULL, detail[256];
	enum sshkey_type type;
	unsigned bits = 0;
	size_t kt = 0;
	int c, e, have_kt = 0, ret;

	memset(&priv, 0, sizeof(priv));
	memset(&pub, 0, sizeof(pub));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		if (c == O_KEYTYPE) {
			GW_PARSED(parse_key_type(cmd, optarg, &kt));
			have_kt = 1;
		} else
			passfile = optarg;
	}
	GW_PARSED(c);
	GW_PARSED(want_kind(cmd, argc, argv, 0, &kind));

	if ((ret = ca_paths_get(gw, kind, &p)) != 0)
		goto out;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (p.has_prev || p.has_prev_pub) {
		if (!p.has_next_pub) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s CA: %s exists: a rotation is in progress; "
			    "retire the previous key first ('ca retire %s')",
			    kind->what, p.has_prev_pub ? p.prev_pub : p.prev,
			    kind->what);
			goto out;
		}
		if ((ret = finish_rotation(&p)) != 0)
			goto out;
		printf("%s CA: finished an interrupted rotation\n", kind->what);
		audit_ca(gw, db, "ca.rotate", kind->what, "resumed");
		ret = CLI_EXIT_OK;
		goto out;
	}

	/* The current pair must load (and the passphrase be right). */
	if ((ret = gw_ca_passphrase(passfile, &pass)) != 0)
		goto out;
	if ((ret = gw_ca_load(gw, kind->type, pass, &cur)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (have_kt) {
		type = key_types[kt].type;
		bits = key_types[kt].bits;
		label = key_types[kt].name;
	} else {
		type = sshkey_type(cur);
		if (type == SSHKEY_RSA)
			bits = sshkey_bits(cur);
		label = sshkey_label(cur);
	}
	if ((e = sshkey_fingerprint(cur, &oldfp)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "%s CA key", kind->what);
		goto out;
	}
	if ((ret = make_ca(kind, type, bits, label, pass, &priv, &pub,
		 &newfp)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	/* 1. The new pair under the .new names (stale ones replaced). */
	if ((ret = write_file(p.next, priv.data, priv.mode, 0)) != 0)
		goto out;
	p.has_next = 1;
	if ((ret = write_file(p.next_pub, pub.data, pub.mode, 0)) != 0)
		goto out;
	p.has_next_pub = 1;
	/* 2. and 3.: .prev links, then the renames. */
	if ((ret = finish_rotation(&p)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "new %s previous %s", newfp, oldfp);
	audit_ca(gw, db, "ca.rotate", kind->what, detail);
	printf("%s CA: new signing key %s (%s)\n", kind->what, newfp, label);
	printf("%s CA: previous key %s stays trusted until 'ca retire %s'\n",
	    kind->what, oldfp, kind->what);
	ret = CLI_EXIT_OK;
out:
	if (ret != CLI_EXIT_OK && p.has_next && !p.has_prev &&
	    !p.has_prev_pub) {
		/* Nothing was linked yet: drop the unused new pair. */
		(void)unlink(p.next);
		if (p.has_next_pub)
			(void)unlink(p.next_pub);
	}
	tbuf_free(priv.data);
	tbuf_free(pub.data);
	free(newfp);
	free(oldfp);
	sshkey_free(cur);
	gw_db_close(db);
	gw_passphrase_free(pass);
	return ret;
}

static void
ca_retire_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] ca retire user|host\n"
	    "End a rotation: move the previous key pair to "
	    "DIR/ca/retired/\n"
	    "(it is no longer trusted).\n",
	    cli_get_progname());
}

static int
ca_retire(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	static const struct option opts[] = {
		GW_COMMON_OPTIONS,
	};
	const char *cmd = s->cmd;
	const struct ca_kind *kind = NULL;
	struct ca_paths p;
	struct sshkey *k = NULL;
	struct gw_db *db = NULL;
	char rdir[PATH_MAX], base[PATH_MAX], basepub[PATH_MAX], stamp[32];
	char name[64], *fp = NULL, detail[PATH_MAX + 128];
	struct tm tm;
	time_t now;
	unsigned i;
	int e, exists, ret;

	optind = 0;
	GW_PARSED(gw_next_opt(s, argc, argv, opts));
	GW_PARSED(want_kind(cmd, argc, argv, 0, &kind));

	if ((ret = ca_paths_get(gw, kind, &p)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (!p.has_prev && !p.has_prev_pub) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s CA: no previous key to retire (no rotation in "
		    "progress)",
		    kind->what);
		goto out;
	}
	if (p.has_next_pub) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s CA: a rotation was interrupted (%s exists); run "
		    "'ca rotate %s' to finish it first",
		    kind->what, p.next_pub, kind->what);
		goto out;
	}
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (p.has_prev_pub) {
		if ((ret = read_ca_pub(p.prev_pub, &k, NULL)) != 0)
			goto out;
		ret = CLI_EXIT_FAIL;
		if ((e = sshkey_fingerprint(k, &fp)) != 0) {
			cli_error(CLI_EXIT_FAIL, e, "%s", p.prev_pub);
			goto out;
		}
	}
	if ((ret = ca_path(gw, "retired", rdir, sizeof(rdir))) != 0 ||
	    (ret = make_ca_dir(rdir)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0) {
		cli_error(CLI_EXIT_FAIL, 0, "the system clock is not set");
		goto out;
	}
	/* A free name: NAME.STAMP, else NAME.STAMP-2, -3... */
	for (i = 1;; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "retired/%s.%s",
			    kind->priv, stamp);
		else
			snprintf(name, sizeof(name), "retired/%s.%s-%u",
			    kind->priv, stamp, i);
		if (gw_ca_path(gw, name, base, sizeof(base)) != 0 ||
		    snprintf(basepub, sizeof(basepub), "%s.pub", base) >=
			(int)sizeof(basepub)) {
			cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
			    "state directory %s", gw->state_dir);
			goto out;
		}
		if ((ret = path_exists(base, &exists)) != 0)
			goto out;
		if (!exists && (ret = path_exists(basepub, &exists)) != 0)
			goto out;
		ret = CLI_EXIT_FAIL;
		if (!exists)
			break;
		if (i == 100) {
			cli_error(CLI_EXIT_FAIL, 0, "%s: no free name", rdir);
			goto out;
		}
	}
	/* The public key first: from then on it is not trusted. */
	if ((p.has_prev_pub && (ret = move_file(p.prev_pub, basepub)) != 0) ||
	    (p.has_prev && (ret = move_file(p.prev, base)) != 0))
		goto out;
	ret = CLI_EXIT_FAIL;
	if (fsync_dir(rdir) != 0 || fsync_dir(p.dir) != 0) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "fsync %s", p.dir);
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s moved to %s",
	    fp != NULL ? fp : "(no public key)", base);
	audit_ca(gw, db, "ca.retire", kind->what, detail);
	printf("%s CA: retired %s to %s\n", kind->what,
	    fp != NULL ? fp : "the previous key", base);
	ret = CLI_EXIT_OK;
out:
	free(fp);
	sshkey_free(k);
	gw_db_close(db);
	return ret;
}

/* ---------------------------------------------------------------- dispatch */

static const struct gw_sub subs[] = {
	{ "ca init", "init", ca_init, NULL, NULL, ca_init_usage },
	{ "ca show", "show", ca_show, NULL, NULL, ca_show_usage },
	{ "ca rotate", "rotate", ca_rotate, NULL, NULL, ca_rotate_usage },
	{ "ca retire", "retire", ca_retire, NULL, NULL, ca_retire_usage },
};

int
cmd_ca(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "ca", subs, sizeof(subs) / sizeof(subs[0]), argc,
	    argv);
}

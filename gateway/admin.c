/*
 * admin.c: trasa-gateway's directory and administration commands: user,
 * group, host, krl, audit and admin-token. Each is a thin layer over the
 * database (db.h) and issuing (issue.h): parse and validate arguments,
 * call, map errors to one line, print results.
 *
 * Names given on the command line are validated before use and escaped
 * (cli_print_escaped) wherever they are echoed; strings read back from
 * the database are escaped too, since the HTTPS API also writes there.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <oath.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "issue.h"
#include "sshkey.h"
#include "tbuf.h"

#define MAX_USER_NAME 32
#define MAX_HOST_NAME 253
#define MAX_TOKEN_NAME 64
#define MAX_GECOS 256
#define MAX_LIST 256 /* names in a --groups / --principals list */
#define MAX_KEYS 64  /* keys in a user add --key file */
#define TOTP_SECRET_LEN 20
#define TOTP_ISSUER "TRASA"

/* ---------------------------------------------------------------- helpers */

void
gw_cli_actor(char *buf, size_t len)
{
	struct passwd *pw;
	uid_t uid = getuid();

	pw = getpwuid(uid);
	if (pw != NULL && pw->pw_name != NULL && gw_valid_name(pw->pw_name) &&
	    strlen(pw->pw_name) < 64)
		snprintf(buf, len, "cli:%s", pw->pw_name);
	else
		snprintf(buf, len, "cli:uid %lu", (unsigned long)uid);
}

/* An untrusted string, escaped and truncated, for a message (four at a
 * time: a ring of buffers). */
static const char *
esc(const char *s)
{
	static char ring[4][4 * 128 + 8];
	static unsigned next;
	char *e, *buf = ring[next++ % 4];

	if ((e = cli_escape_string(s, 128)) == NULL)
		return "?";
	snprintf(buf, sizeof(ring[0]), "%s", e);
	free(e);
	return buf;
}

/* Print an untrusted field padded to width ("-" when empty). */
static void
print_field(const char *s, int width)
{
	char *e;

	if (s == NULL || *s == '\0')
		s = "-";
	if ((e = cli_escape_string(s, 0)) == NULL) {
		printf("%-*s", width, "?");
		return;
	}
	printf("%-*s", width, e);
	free(e);
}

/* Print a list joined by commas, escaped ("-" when empty). */
static void
print_list(char *const *v, size_t n)
{
	size_t i;

	if (n == 0) {
		fputs("-", stdout);
		return;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', stdout);
		cli_print_escaped(stdout, v[i], 0);
	}
}

/* "YYYY-MM-DDTHH:MM:SSZ", or "-" for 0. */
static void
format_utc(uint64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || t > (uint64_t)INT64_MAX || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

/* A database failure: one line, with SQLite's reason for I/O errors. */
static int db_fail(const struct gw *gw, struct gw_db *db, int e,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int
db_fail(const struct gw *gw, struct gw_db *db, int e, const char *fmt, ...)
{
	char msg[512];
	const char *why;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e == TRASA_ERR_IO) {
		why = db != NULL ? gw_db_errmsg(db) : "";
		return cli_error(CLI_EXIT_FAIL, 0, "%s: %s/%s: %s", msg,
		    gw->state_dir, GW_DB_FILE,
		    why != NULL && *why != '\0' ? why : "database error");
	}
	return cli_error(CLI_EXIT_FAIL, e, "%s", msg);
}

/* Record an audit event; the change is made, so a failure only warns. */
static void
audit(const struct gw *gw, struct gw_db *db, const char *event,
    const char *subject, const char *detail)
{
	char actor[128];
	int e;

	gw_cli_actor(actor, sizeof(actor));
	if ((e = gw_db_audit(db, event, actor, subject, "ok", detail)) != 0)
		db_fail(gw, db, e, "warning: audit event %s not recorded",
		    event);
}

/*
 * The names a command takes: 1 to max letters, digits and the characters
 * of punct, the first a letter or one of first.
 */
enum name_kind {
	N_USER,
	N_GROUP,
	N_HOST,
	N_TOKEN,
	N_NONE
};

static const struct name_rule {
	const char *what;
	size_t max;
	const char *first, *punct;
	const char *rule; /* for messages */
} name_rules[] = {
	/* What useradd and NSS accept everywhere. */
	[N_USER] = { "user", MAX_USER_NAME, "_", "._-",
	    "letters, digits, '.', '_' or '-', starting with a letter or "
	    "'_'" },
	[N_GROUP] = { "group", MAX_USER_NAME, "_", "._-",
	    "letters, digits, '.', '_' or '-', starting with a letter or "
	    "'_'" },
	[N_HOST] = { "host", MAX_HOST_NAME, "0123456789", "._-",
	    "letters, digits, '.', '_' or '-', starting with a letter or "
	    "digit" },
	[N_TOKEN] = { "token", MAX_TOKEN_NAME, "0123456789", "._-@",
	    "letters, digits, '.', '_', '-' or '@'" },
};

static int
valid_name(enum name_kind kind, const char *s)
{
	const struct name_rule *r = &name_rules[kind];
	size_t i;

	if (!isalpha((unsigned char)s[0]) &&
	    (s[0] == '\0' || strchr(r->first, s[0]) == NULL))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= r->max ||
		    !(isalnum((unsigned char)s[i]) || strchr(r->punct, s[i])))
			return 0;
	return 1;
}

/* For list_parse(): group names of --groups and --allow-groups. */
static int
valid_group_name(const char *s)
{
	return valid_name(N_GROUP, s);
}

/* NAME is valid, or one line saying what a valid one is. */
static int
check_name(const char *cmd, enum name_kind kind, const char *s)
{
	const struct name_rule *r = &name_rules[kind];

	if (valid_name(kind, s))
		return 0;
	return cli_error(CLI_EXIT_FAIL, 0,
	    "%s: invalid %s name '%s' (1 to %zu %s)", cmd, r->what, esc(s),
	    r->max, r->rule);
}

/* A uid or gid: 1 to 2^31-1. */
static int
parse_id(const char *s, uint32_t *out)
{
	uint64_t v;

	if (gw_parse_u64(s, 1, 0x7fffffff, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

struct list {
	char **v;
	size_t n;
	char *copy; /* storage v points into */
};

static void
list_free(struct list *l)
{
	free(l->v);
	free(l->copy);
	memset(l, 0, sizeof(*l));
}

/*
 * Split "a,b" into l (an empty string: an empty list); valid() checks
 * each item. Messages name the option and the bad item; exit 1.
 */
static int
list_parse(const char *cmd, const char *opt, const char *s,
    int (*valid)(const char *), struct list *l)
{
	char *p, *comma;
	size_t i;

	list_free(l);
	if ((l->copy = strdup(s)) == NULL ||
	    (l->v = calloc(MAX_LIST, sizeof(*l->v))) == NULL) {
		list_free(l);
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s", cmd);
	}
	if (*s == '\0')
		return 0;
	for (p = l->copy;; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (*p == '\0' || !valid(p)) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s: invalid name '%s' in '%s'", cmd, opt,
			    esc(p), esc(s));
			list_free(l);
			return CLI_EXIT_FAIL;
		}
		for (i = 0; i < l->n; i++) {
			if (strcmp(l->v[i], p) == 0) {
				cli_error(CLI_EXIT_FAIL, 0,
				    "%s: %s: '%s' given twice", cmd, opt,
				    esc(p));
				list_free(l);
				return CLI_EXIT_FAIL;
			}
		}
		if (l->n >= MAX_LIST) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s: more than %d names", cmd, opt, MAX_LIST);
			list_free(l);
			return CLI_EXIT_FAIL;
		}
		l->v[l->n++] = p;
		if (comma == NULL)
			break;
	}
	return 0;
}

/* Every group of the list exists, or one line naming the first missing. */
static int
groups_exist(const struct gw *gw, struct gw_db *db, const char *cmd,
    const struct list *l)
{
	struct gw_group *g = NULL;
	size_t i;
	int e;

	for (i = 0; i < l->n; i++) {
		e = gw_db_group_get(db, l->v[i], 0, &g);
		gw_group_free(g);
		g = NULL;
		if (e == TRASA_ERR_NOT_FOUND)
			return cli_error(CLI_EXIT_FAIL, 0,
			    "%s: no group '%s' (create it with 'group add')",
			    cmd, esc(l->v[i]));
		if (e != 0)
			return db_fail(gw, db, e, "%s", cmd);
	}
	return 0;
}

/* Join a list into buf with commas (truncated to fit). */
static void
join(char *buf, size_t len, char *const *v, size_t n)
{
	size_t i, o = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n && o < len; i++) {
		w = snprintf(buf + o, len - o, "%s%s", i > 0 ? "," : "", v[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static int
print_json(struct json_object *o)
{
	const char *s;

	if (o == NULL)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "JSON");
	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL) {
		json_object_put(o);
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "JSON");
	}
	printf("%s\n", s);
	json_object_put(o);
	return 0;
}

/* o[key]: a string ("" for NULL), a number. */
static void
json_add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key,
	    json_object_new_string(v != NULL ? v : ""));
}

static void
json_add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *
json_list(char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* ---------------------------------------------------------------- commands */

/*
 * The options of commands without their own: -h, -v and (json not NULL)
 * --json. 0, GW_HELP_DONE or an exit code.
 */
static int
simple_args(const struct gw_sub *s, int argc, char **argv, int *json)
{
	enum {
		O_JSON = GW_OPT_FIRST
	};
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		GW_COMMON_OPTIONS,
	};
	int c;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) == O_JSON) {
		if (json == NULL)
			return cli_usage_error(s->cmd,
			    "unknown option '--json'");
		*json = 1;
	}
	return c;
}

/* After the options: exactly nargs arguments left. */
static int
want_args(const struct gw_sub *s, int argc, char **argv, int nargs,
    const char *what)
{
	if (argc - optind < nargs)
		return cli_usage_error(s->cmd, "missing %s", what);
	if (argc - optind > nargs)
		return cli_usage_error(s->cmd, "unexpected argument '%s'",
		    esc(argv[optind + nargs]));
	return 0;
}

/* After the options: one NAME of kind, checked. */
static int
want_name(const struct gw_sub *s, int argc, char **argv, enum name_kind kind,
    const char **name)
{
	int ret;

	if ((ret = want_args(s, argc, argv, 1, "NAME")) != 0 ||
	    (ret = check_name(s->cmd, kind, argv[optind])) != 0)
		return ret;
	*name = argv[optind];
	return 0;
}

/*
 * The start of a command without options of its own: simple_args(), then
 * one NAME of kind (no argument for N_NONE), then the database. 0,
 * GW_HELP_DONE or an exit code.
 */
static int
begin(struct gw *gw, const struct gw_sub *s, int argc, char **argv, int *json,
    enum name_kind kind, const char **name, struct gw_db **db)
{
	int ret;

	if ((ret = simple_args(s, argc, argv, json)) != 0)
		return ret;
	if (kind == N_NONE)
		ret = want_args(s, argc, argv, 0, "");
	else
		ret = want_name(s, argc, argv, kind, name);
	if (ret != 0)
		return ret;
	return gw_open_state_db(gw, db);
}

/* A change to NAME failed: "no WHAT 'NAME'", or the database's reason. */
static int
name_fail(const struct gw *gw, struct gw_db *db, const struct gw_sub *s, int e,
    const char *what, const char *name)
{
	if (e == TRASA_ERR_NOT_FOUND)
		return cli_error(CLI_EXIT_FAIL, 0, "%s: no %s '%s'", s->cmd,
		    what, esc(name));
	return db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
}

/* ---------------------------------------------------------------- user */

/* Free-text fields of passwd: no control character, no ':'. */
static int
valid_passwd_text(const char *s, size_t max)
{
	const unsigned char *c;

	if (strlen(s) > max)
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f || *c == ':')
			return 0;
	return 1;
}

/* The path of --home or --shell, when given. */
static int
check_path(const struct gw_sub *s, const char *opt, const char *path)
{
	if (path == NULL ||
	    (path[0] == '/' && valid_passwd_text(path, PATH_MAX - 1) &&
		strchr(path, ' ') == NULL))
		return 0;
	return cli_error(CLI_EXIT_FAIL, 0,
	    "%s: %s '%s' is not an absolute path without ':', blanks or "
	    "control characters",
	    s->cmd, opt, esc(path));
}

static int
has_control(const char *s)
{
	const unsigned char *c;

	for (c = (const unsigned char *)s; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			return 1;
	return 0;
}

/* The OpenSSH public keys of FILE (blank and # lines skipped), each
 * checked and re-formatted. */
static int
read_keys(const char *cmd, const char *path, char ***out, size_t *n)
{
	struct tbuf *b = NULL;
	struct sshkey *k = NULL;
	char *text = NULL, *line, *next, *comment = NULL, **keys = NULL;
	size_t nkeys = 0, i, lineno = 0;
	int e, ret = CLI_EXIT_FAIL;

	errno = 0;
	if ((e = fileio_read(path, GW_MAX_PUB_FILE, 0, &b)) != 0)
		return cli_error(CLI_EXIT_FAIL, e, "%s: --key %s", cmd,
		    esc(path));
	if (memchr(tbuf_ptr(b), '\0', tbuf_len(b)) != NULL ||
	    (text = strndup((const char *)tbuf_ptr(b), tbuf_len(b))) == NULL ||
	    (keys = calloc(MAX_KEYS, sizeof(*keys))) == NULL) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: %s: not a public key file",
		    cmd, esc(path));
		goto out;
	}
	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t\r");
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (strstr(line, "PRIVATE KEY") != NULL) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s is a private key: give the .pub file", cmd,
			    esc(path));
			goto out;
		}
		if ((e = sshkey_parse_public(line, &k, &comment)) != 0) {
			cli_error(CLI_EXIT_FAIL, e,
			    "%s: %s:%zu: not an OpenSSH public key", cmd,
			    esc(path), lineno);
			goto out;
		}
		if (sshkey_is_cert(k)) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s:%zu: a certificate, not a public key", cmd,
			    esc(path), lineno);
			goto out;
		}
		if (sshkey_type(k) == SSHKEY_RSA &&
		    sshkey_bits(k) < SSHKEY_RSA_MIN_BITS) {
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s:%zu: RSA key of %u bits (at least %u)", cmd,
			    esc(path), lineno, sshkey_bits(k),
			    SSHKEY_RSA_MIN_BITS);
			goto out;
		}
		if (nkeys >= MAX_KEYS) {
			cli_error(CLI_EXIT_FAIL, 0, "%s: %s: more than %d keys",
			    cmd, esc(path), MAX_KEYS);
			goto out;
		}
		if (comment != NULL && has_control(comment)) {
			free(comment);
			comment = NULL;
		}
		if ((e = sshkey_format_public(k, comment, &keys[nkeys])) != 0) {
			cli_error(CLI_EXIT_FAIL, e, "%s: %s:%zu", cmd,
			    esc(path), lineno);
			goto out;
		}
		nkeys++;
		sshkey_free(k);
		k = NULL;
		free(comment);
		comment = NULL;
	}
	if (nkeys == 0) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: %s: no public key in file",
		    cmd, esc(path));
		goto out;
	}
	*out = keys;
	*n = nkeys;
	keys = NULL;
	ret = 0;
out:
	if (keys != NULL) {
		for (i = 0; i < nkeys; i++)
			free(keys[i]);
		free(keys);
	}
	free(comment);
	sshkey_free(k);
	free(text);
	tbuf_free(b);
	return ret;
}

static int
user_add(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_UID = GW_OPT_FIRST,
		O_GID,
		O_GECOS,
		O_HOME,
		O_SHELL,
		O_GROUPS,
		O_KEY
	};
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "gecos", required_argument, NULL, O_GECOS },
		{ "home", required_argument, NULL, O_HOME },
		{ "shell", required_argument, NULL, O_SHELL },
		{ "groups", required_argument, NULL, O_GROUPS },
		{ "key", required_argument, NULL, O_KEY },
		GW_COMMON_OPTIONS,
	};
	struct gw_user u, *old = NULL;
	struct gw_db *db = NULL;
	struct list groups;
	const char *name, *keyfile = NULL, *groups_arg = NULL;
	char **keys = NULL, detail[512], gl[256];
	size_t nkeys = 0, i;
	uint32_t uid = 0, gid = 0;
	int c, e, ret;

	memset(&u, 0, sizeof(u));
	memset(&groups, 0, sizeof(groups));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_UID:
		case O_GID:
			if (parse_id(optarg, c == O_UID ? &u.uid : &u.gid) != 0)
				return cli_usage_error(s->cmd,
				    "--%s '%s' is not a number from 1 to "
				    "2147483647",
				    c == O_UID ? "uid" : "gid", esc(optarg));
			break;
		case O_GECOS: u.gecos = optarg; break;
		case O_HOME: u.home = optarg; break;
		case O_SHELL: u.shell = optarg; break;
		case O_GROUPS: groups_arg = optarg; break;
		case O_KEY: keyfile = optarg; break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_name(s, argc, argv, N_USER, &name));
	u.name = argv[optind];
	if (u.gecos != NULL && !valid_passwd_text(u.gecos, MAX_GECOS))
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: --gecos holds ':' or a control character, or is "
		    "longer than %d bytes",
		    s->cmd, MAX_GECOS);
	if ((ret = check_path(s, "--home", u.home)) != 0 ||
	    (ret = check_path(s, "--shell", u.shell)) != 0)
		return ret;
	if (groups_arg != NULL &&
	    (ret = list_parse(s->cmd, "--groups", groups_arg, valid_group_name,
		 &groups)) != 0)
		return ret;
	u.groups = groups.v;
	u.ngroups = groups.n;
	if (keyfile != NULL &&
	    (ret = read_keys(s->cmd, keyfile, &keys, &nkeys)) != 0)
		goto out;
	u.keys = keys;
	u.nkeys = nkeys;

	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	e = gw_db_user_get(db, u.name, 0, &old);
	if (e == 0) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: user '%s' already exists (uid %" PRIu32 ")", s->cmd,
		    esc(u.name), old->uid);
		goto out;
	}
	if (e != TRASA_ERR_NOT_FOUND) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if ((ret = groups_exist(gw, db, s->cmd, &groups)) != 0)
		goto out;
	e = gw_db_user_add(db, &gw->cfg, &u, &uid, &gid);
	switch (e) {
	case 0: break;
	case TRASA_ERR_EXISTS:
		if (u.uid != 0 || u.gid != 0)
			ret = cli_error(CLI_EXIT_FAIL, 0,
			    "%s: %s: the uid or gid is taken or was used "
			    "before (they are never reused)",
			    s->cmd, esc(u.name));
		else
			ret = cli_error(CLI_EXIT_FAIL, 0,
			    "%s: the name '%s' is taken (by a group?)", s->cmd,
			    esc(u.name));
		goto out;
	case TRASA_ERR_INVALID_ARG:
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: %s: uid or gid range exhausted (uid_min %" PRIu32
		    " .. uid_max %" PRIu32 ", gid_min %" PRIu32
		    " .. gid_max %" PRIu32 " in [users])",
		    s->cmd, esc(u.name), gw->cfg.uid_min, gw->cfg.uid_max,
		    gw->cfg.gid_min, gw->cfg.gid_max);
		goto out;
	case TRASA_ERR_NOT_FOUND:
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: %s: a group of --groups does not exist", s->cmd,
		    esc(u.name));
		goto out;
	default:
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(u.name));
		goto out;
	}
	join(gl, sizeof(gl), groups.v, groups.n);
	snprintf(detail, sizeof(detail),
	    "uid %" PRIu32 " gid %" PRIu32 " groups %s keys %zu", uid, gid,
	    groups.n > 0 ? gl : "-", nkeys);
	audit(gw, db, "user.add", u.name, detail);
	printf("user %s uid %" PRIu32 " gid %" PRIu32 "\n", esc(u.name), uid,
	    gid);
	ret = CLI_EXIT_OK;
out:
	if (keys != NULL) {
		for (i = 0; i < nkeys; i++)
			free(keys[i]);
		free(keys);
	}
	gw_user_free(old);
	list_free(&groups);
	gw_db_close(db);
	return ret;
}

/* The commands that take a user NAME and change one thing. */
static int
user_change(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL, *event, *done;
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_USER, &name, &db));
	if (strcmp(s->name, "del") == 0) {
		e = gw_db_user_del(db, name);
		event = "user.del";
		done = "deleted";
	} else if (strcmp(s->name, "disable") == 0) {
		e = gw_db_user_set_disabled(db, name, 1);
		event = "user.disable";
		done = "disabled";
	} else {
		e = gw_db_user_set_disabled(db, name, 0);
		event = "user.enable";
		done = "enabled";
	}
	if (e != 0)
		ret = name_fail(gw, db, s, e, "user", name);
	else {
		audit(gw, db, event, name, "");
		printf("user %s %s\n", esc(name), done);
		ret = CLI_EXIT_OK;
	}
	gw_db_close(db);
	return ret;
}

static struct json_object *
user_json(const struct gw_user *u)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_add_str(o, "name", u->name);
	json_add_u64(o, "uid", u->uid);
	json_add_u64(o, "gid", u->gid);
	json_add_str(o, "gecos", u->gecos);
	json_add_str(o, "home", u->home);
	json_add_str(o, "shell", u->shell);
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(u->disabled));
	json_object_object_add(o, "groups", json_list(u->groups, u->ngroups));
	json_object_object_add(o, "keys", json_list(u->keys, u->nkeys));
	json_object_object_add(o, "totp", json_object_new_boolean(u->has_totp));
	return o;
}

static int
user_list(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_user **list = NULL;
	struct gw_db *db = NULL;
	struct json_object *a;
	size_t i, n = 0;
	int e, json = 0, ret;

	GW_PARSED(begin(gw, s, argc, argv, &json, N_NONE, NULL, &db));
	if ((e = gw_db_user_list(db, &list, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if (json) {
		if ((a = json_object_new_array()) != NULL)
			for (i = 0; i < n; i++)
				json_object_array_add(a, user_json(list[i]));
		ret = print_json(a);
		goto out;
	}
	printf("%-20s %10s %10s %-8s %s\n", "NAME", "UID", "GID", "DISABLED",
	    "GROUPS");
	for (i = 0; i < n; i++) {
		print_field(list[i]->name, 20);
		printf(" %10" PRIu32 " %10" PRIu32 " %-8s ", list[i]->uid,
		    list[i]->gid, list[i]->disabled ? "yes" : "no");
		print_list(list[i]->groups, list[i]->ngroups);
		printf("\n");
	}
	ret = CLI_EXIT_OK;
out:
	gw_user_list_free(list, n);
	gw_db_close(db);
	return ret;
}

static int
user_show(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_user *u = NULL;
	struct gw_db *db = NULL;
	const char *name = NULL;
	size_t i;
	int e, json = 0, ret;

	GW_PARSED(begin(gw, s, argc, argv, &json, N_USER, &name, &db));
	if ((e = gw_db_user_get(db, name, 0, &u)) != 0) {
		ret = name_fail(gw, db, s, e, "user", name);
		goto out;
	}
	if (json) {
		ret = print_json(user_json(u));
		goto out;
	}
	printf("name: %s\n", esc(u->name));
	printf("uid: %" PRIu32 "\n", u->uid);
	printf("gid: %" PRIu32 "\n", u->gid);
	printf("gecos: ");
	cli_print_escaped(stdout, u->gecos, 0);
	printf("\nhome: ");
	cli_print_escaped(stdout, u->home, 0);
	printf("\nshell: ");
	cli_print_escaped(stdout, u->shell, 0);
	printf("\ndisabled: %s\n", u->disabled ? "yes" : "no");
	printf("groups: ");
	print_list(u->groups, u->ngroups);
	printf("\ntotp: %s\n", u->has_totp ? "yes" : "no");
	for (i = 0; i < u->nkeys; i++) {
		printf("key: ");
		cli_print_escaped(stdout, u->keys[i], 0);
		printf("\n");
	}
	ret = CLI_EXIT_OK;
out:
	gw_user_free(u);
	gw_db_close(db);
	return ret;
}

static int
user_totp(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	uint8_t secret[TOTP_SECRET_LEN];
	char *b32 = NULL;
	const char *name = NULL;
	size_t b32len = 0;
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_USER, &name, &db));
	ret = CLI_EXIT_FAIL;
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_CRYPTO, "%s: random secret",
		    s->cmd);
		goto out;
	}
	if (oath_base32_encode((const char *)secret, sizeof(secret), &b32,
		&b32len) != OATH_OK) {
		b32 = NULL;
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s: base32", s->cmd);
		goto out;
	}
	if ((e = gw_db_user_set_totp(db, name, secret, sizeof(secret))) != 0) {
		name_fail(gw, db, s, e, "user", name);
		goto out;
	}
	audit(gw, db, "user.totp", name, "new secret");
	/* The name is [A-Za-z0-9._-]: nothing to percent-encode. */
	printf("%s\n", b32);
	printf("otpauth://totp/%s:%s?secret=%s&issuer=%s\n", TOTP_ISSUER, name,
	    b32, TOTP_ISSUER);
	ret = CLI_EXIT_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (b32 != NULL) {
		OPENSSL_cleanse(b32, b32len);
		free(b32);
	}
	gw_db_close(db);
	return ret;
}

static const struct gw_sub user_subs[] = {
	{ "user add", "add", user_add,
	    "user add NAME [--uid N] [--gid N] [--gecos TEXT] [--home DIR]\n"
	    "          [--shell PATH] [--groups A,B] [--key FILE]",
	    "Add a user to the directory; uid and gid default to the next "
	    "free\n"
	    "ones of [users] (never reused); --key adds the OpenSSH public "
	    "keys of\nFILE. Prints 'user NAME uid U gid G'.\n",
	    NULL },
	{ "user del", "del", user_change, "user del NAME",
	    "Delete a user (its uid is not given out again).\n", NULL },
	{ "user disable", "disable", user_change, "user disable NAME",
	    "Refuse the user's logins (hosts learn it at their next "
	    "refresh).\n",
	    NULL },
	{ "user enable", "enable", user_change, "user enable NAME",
	    "Allow a disabled user again.\n", NULL },
	{ "user list", "list", user_list, "user list [--json]",
	    "List users: NAME UID GID DISABLED GROUPS (a header line "
	    "first).\n",
	    NULL },
	{ "user show", "show", user_show, "user show NAME [--json]",
	    "Show one user, one 'field: value' line each.\n", NULL },
	{ "user totp", "totp", user_totp, "user totp NAME",
	    "Make a new TOTP secret (replacing any): prints the base32 "
	    "secret,\nthen an otpauth:// URI for authenticator apps.\n",
	    NULL },
};

int
cmd_user(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "user", user_subs,
	    sizeof(user_subs) / sizeof(user_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- group */

static int
group_add(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_GID = GW_OPT_FIRST
	};
	static const struct option opts[] = {
		{ "gid", required_argument, NULL, O_GID },
		GW_COMMON_OPTIONS,
	};
	struct gw_group *old = NULL;
	struct gw_db *db = NULL;
	const char *name;
	char detail[64];
	uint32_t want = 0, gid = 0;
	int c, e, ret;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_GID:
			if (parse_id(optarg, &want) != 0)
				return cli_usage_error(s->cmd,
				    "--gid '%s' is not a number from 1 to "
				    "2147483647",
				    esc(optarg));
			break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_name(s, argc, argv, N_GROUP, &name));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	e = gw_db_group_get(db, name, 0, &old);
	if (e == 0) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: group '%s' already exists (gid %" PRIu32 ")", s->cmd,
		    esc(name), old->gid);
		goto out;
	}
	if (e != TRASA_ERR_NOT_FOUND) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	e = gw_db_group_add(db, &gw->cfg, name, want, &gid);
	if (e == TRASA_ERR_EXISTS)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: %s: the gid is taken or was used before (gids are "
		    "never reused)",
		    s->cmd, esc(name));
	else if (e == TRASA_ERR_INVALID_ARG)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: %s: gid range exhausted (gid_min %" PRIu32
		    " .. gid_max %" PRIu32 " in [users])",
		    s->cmd, esc(name), gw->cfg.gid_min, gw->cfg.gid_max);
	else if (e != 0)
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
	else {
		snprintf(detail, sizeof(detail), "gid %" PRIu32, gid);
		audit(gw, db, "group.add", name, detail);
		printf("group %s gid %" PRIu32 "\n", esc(name), gid);
		ret = CLI_EXIT_OK;
	}
out:
	gw_group_free(old);
	gw_db_close(db);
	return ret;
}

static int
group_del(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL;
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_GROUP, &name, &db));
	e = gw_db_group_del(db, name);
	if (e == TRASA_ERR_EXISTS)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: group '%s' is a user's primary group (delete the "
		    "user first)",
		    s->cmd, esc(name));
	else if (e != 0)
		ret = name_fail(gw, db, s, e, "group", name);
	else {
		audit(gw, db, "group.del", name, "");
		printf("group %s deleted\n", esc(name));
		ret = CLI_EXIT_OK;
	}
	gw_db_close(db);
	return ret;
}

static int
group_member_cmd(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_REMOVE = GW_OPT_FIRST
	};
	static const struct option opts[] = {
		{ "remove", no_argument, NULL, O_REMOVE },
		GW_COMMON_OPTIONS,
	};
	struct gw_db *db = NULL;
	struct gw_user *u = NULL;
	struct gw_group *g = NULL;
	const char *group, *user;
	char detail[64];
	int c, e, add = 1, ret;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_REMOVE: add = 0; break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_args(s, argc, argv, 2, "GROUP and USER"));
	group = argv[optind];
	user = argv[optind + 1];
	if ((ret = check_name(s->cmd, N_GROUP, group)) != 0 ||
	    (ret = check_name(s->cmd, N_USER, user)) != 0)
		return ret;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	ret = CLI_EXIT_FAIL;
	if ((e = gw_db_group_get(db, group, 0, &g)) != 0) {
		name_fail(gw, db, s, e, "group", group);
		goto out;
	}
	if ((e = gw_db_user_get(db, user, 0, &u)) != 0) {
		name_fail(gw, db, s, e, "user", user);
		goto out;
	}
	e = gw_db_group_member(db, group, user, add);
	if (e == TRASA_ERR_NOT_FOUND && !add) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: '%s' is not a member of '%s'",
		    s->cmd, esc(user), esc(group));
		goto out;
	}
	if (e == TRASA_ERR_EXISTS && add) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: '%s' is already a member of '%s'", s->cmd, esc(user),
		    esc(group));
		goto out;
	}
	if (e != 0) {
		db_fail(gw, db, e, "%s: %s %s", s->cmd, esc(group), esc(user));
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s %s", add ? "add" : "remove", user);
	audit(gw, db, "group.member", group, detail);
	printf("%s %s %s group %s\n", add ? "added" : "removed", esc(user),
	    add ? "to" : "from", esc(group));
	ret = CLI_EXIT_OK;
out:
	gw_user_free(u);
	gw_group_free(g);
	gw_db_close(db);
	return ret;
}

static int
group_list(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_group **list = NULL;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	size_t i, n = 0;
	int e, json = 0, ret;

	GW_PARSED(begin(gw, s, argc, argv, &json, N_NONE, NULL, &db));
	if ((e = gw_db_group_list(db, &list, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if (json) {
		if ((a = json_object_new_array()) != NULL) {
			for (i = 0; i < n; i++) {
				if ((o = json_object_new_object()) == NULL)
					break;
				json_add_str(o, "name", list[i]->name);
				json_add_u64(o, "gid", list[i]->gid);
				json_object_object_add(o, "members",
				    json_list(list[i]->members,
					list[i]->nmembers));
				json_object_array_add(a, o);
			}
		}
		ret = print_json(a);
		goto out;
	}
	printf("%-20s %10s %s\n", "NAME", "GID", "MEMBERS");
	for (i = 0; i < n; i++) {
		print_field(list[i]->name, 20);
		printf(" %10" PRIu32 " ", list[i]->gid);
		print_list(list[i]->members, list[i]->nmembers);
		printf("\n");
	}
	ret = CLI_EXIT_OK;
out:
	gw_group_list_free(list, n);
	gw_db_close(db);
	return ret;
}

static const struct gw_sub group_subs[] = {
	{ "group add", "add", group_add, "group add NAME [--gid N]",
	    "Add a group; the gid defaults to the next free one of [users] "
	    "gid_min..gid_max.\n",
	    NULL },
	{ "group del", "del", group_del, "group del NAME",
	    "Delete a group (not while it is a user's primary group).\n",
	    NULL },
	{ "group member", "member", group_member_cmd,
	    "group member GROUP USER [--remove]",
	    "Add USER to GROUP, or remove it.\n", NULL },
	{ "group list", "list", group_list, "group list [--json]",
	    "List groups: NAME GID MEMBERS (a header line first).\n", NULL },
};

int
cmd_group(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "group", group_subs,
	    sizeof(group_subs) / sizeof(group_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- host */

static int
valid_principal(const char *s)
{
	return gw_principal_valid(s);
}

static int
host_token(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_PRINC = GW_OPT_FIRST,
		O_TTL,
		O_ALLOW
	};
	static const struct option opts[] = {
		{ "principals", required_argument, NULL, O_PRINC },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "allow-groups", required_argument, NULL, O_ALLOW },
		GW_COMMON_OPTIONS,
	};
	struct gw_db *db = NULL;
	struct list princ, allow;
	const char *name, *princ_arg = NULL, *allow_arg = NULL;
	char token[44], detail[512], pl[400];
	uint8_t hash[32];
	uint64_t ttl = 0, expires;
	int c, e, have_ttl = 0, ret;

	memset(&princ, 0, sizeof(princ));
	memset(&allow, 0, sizeof(allow));
	memset(token, 0, sizeof(token));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_PRINC: princ_arg = optarg; break;
		case O_ALLOW: allow_arg = optarg; break;
		case O_TTL:
			if (gw_parse_duration(optarg, &ttl) != 0)
				return cli_usage_error(s->cmd,
				    "--ttl '%s': give N, Ns, Nm, Nh, Nd or Nw",
				    esc(optarg));
			have_ttl = 1;
			break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_name(s, argc, argv, N_HOST, &name));
	if (princ_arg != NULL) {
		if (*princ_arg == '\0')
			return cli_usage_error(s->cmd, "empty --principals");
		if ((ret = list_parse(s->cmd, "--principals", princ_arg,
			 valid_principal, &princ)) != 0)
			return ret;
		if (gw->cfg.max_principals != 0 &&
		    princ.n > gw->cfg.max_principals) {
			ret = cli_error(CLI_EXIT_FAIL, 0,
			    "%s: more than [certs] max_principals (%u) "
			    "principals",
			    s->cmd, gw->cfg.max_principals);
			goto out;
		}
	}
	if (allow_arg != NULL &&
	    (ret = list_parse(s->cmd, "--allow-groups", allow_arg,
		 valid_group_name, &allow)) != 0)
		goto out;
	if (!have_ttl)
		ttl = gw->cfg.token_ttl;
	if (ttl > gw->cfg.token_max_ttl) {
		fprintf(stderr,
		    "%s: %s: warning: --ttl capped at [hosts] token_max_ttl "
		    "(%" PRIu64 " s)\n",
		    cli_get_progname(), s->cmd, gw->cfg.token_max_ttl);
		ttl = gw->cfg.token_max_ttl;
	}
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	if (allow_arg != NULL) {
		if ((ret = groups_exist(gw, db, s->cmd, &allow)) != 0)
			goto out;
		if ((e = gw_db_host_set_allow_groups(db, name, allow.v,
			 allow.n)) != 0) {
			ret = db_fail(gw, db, e, "%s: %s: --allow-groups",
			    s->cmd, esc(name));
			goto out;
		}
	}
	ret = CLI_EXIT_FAIL;
	if ((e = gw_secret_new(token, hash)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "%s: random token", s->cmd);
		goto out;
	}
	expires = (uint64_t)time(NULL) + ttl;
	if ((e = gw_db_token_add(db, name, hash, princ.v, princ.n, expires)) !=
	    0) {
		db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
		goto out;
	}
	join(pl, sizeof(pl), princ.v, princ.n);
	snprintf(detail, sizeof(detail), "principals %s expires %" PRIu64,
	    princ.n > 0 ? pl : name, expires);
	audit(gw, db, "host.token", name, detail);
	printf("%s\n", token);
	ret = CLI_EXIT_OK;
out:
	OPENSSL_cleanse(token, sizeof(token));
	list_free(&princ);
	list_free(&allow);
	gw_db_close(db);
	return ret;
}

static int
host_list(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_host **list = NULL, *h;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	char exp[32], seen[32], serial[24];
	size_t i, n = 0;
	int e, json = 0, ret;

	GW_PARSED(begin(gw, s, argc, argv, &json, N_NONE, NULL, &db));
	if ((e = gw_db_host_list(db, &list, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if (json) {
		if ((a = json_object_new_array()) != NULL) {
			for (i = 0; i < n; i++) {
				h = list[i];
				if ((o = json_object_new_object()) == NULL)
					break;
				format_utc(h->cert_expiry, exp, sizeof(exp));
				json_add_str(o, "name", h->name);
				json_object_object_add(o, "principals",
				    json_list(h->principals, h->nprincipals));
				json_object_object_add(o, "public_key",
				    h->public_key != NULL ?
					json_object_new_string(h->public_key) :
					NULL);
				json_add_u64(o, "cert_serial", h->cert_serial);
				json_add_u64(o, "cert_expiry", h->cert_expiry);
				json_add_u64(o, "enrolled", h->enrolled);
				json_add_u64(o, "last_seen", h->last_seen);
				json_object_object_add(o, "allow_groups",
				    json_list(h->allow_groups,
					h->nallow_groups));
				json_object_array_add(a, o);
			}
		}
		ret = print_json(a);
		goto out;
	}
	printf("%-24s %20s %-20s %-20s %s\n", "NAME", "SERIAL", "EXPIRES",
	    "LAST_SEEN", "PRINCIPALS");
	for (i = 0; i < n; i++) {
		h = list[i];
		format_utc(h->cert_expiry, exp, sizeof(exp));
		format_utc(h->last_seen, seen, sizeof(seen));
		if (h->cert_serial != 0)
			snprintf(serial, sizeof(serial), "%" PRIu64,
			    h->cert_serial);
		else
			snprintf(serial, sizeof(serial), "-");
		print_field(h->name, 24);
		printf(" %20s %-20s %-20s ", serial, exp, seen);
		print_list(h->principals, h->nprincipals);
		printf("\n");
	}
	ret = CLI_EXIT_OK;
out:
	gw_host_list_free(list, n);
	gw_db_close(db);
	return ret;
}

static int
host_allow(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	enum {
		O_GROUPS = GW_OPT_FIRST
	};
	static const struct option opts[] = {
		{ "groups", required_argument, NULL, O_GROUPS },
		GW_COMMON_OPTIONS,
	};
	struct gw_db *db = NULL;
	struct list allow;
	const char *name, *groups_arg = NULL;
	char gl[400];
	int c, e, ret;

	memset(&allow, 0, sizeof(allow));
	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_GROUPS: groups_arg = optarg; break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_args(s, argc, argv, 1, "NAME"));
	if (groups_arg == NULL)
		return cli_usage_error(s->cmd,
		    "--groups is required ('' for every user)");
	GW_PARSED(want_name(s, argc, argv, N_HOST, &name));
	if ((ret = list_parse(s->cmd, "--groups", groups_arg, valid_group_name,
		 &allow)) != 0)
		return ret;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		goto out;
	if ((ret = groups_exist(gw, db, s->cmd, &allow)) != 0)
		goto out;
	if ((e = gw_db_host_set_allow_groups(db, name, allow.v, allow.n)) !=
	    0) {
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
		goto out;
	}
	join(gl, sizeof(gl), allow.v, allow.n);
	audit(gw, db, "host.allow", name, allow.n > 0 ? gl : "every user");
	if (allow.n > 0) {
		printf("host %s: login allowed to groups ", esc(name));
		print_list(allow.v, allow.n);
		printf("\n");
	} else
		printf("host %s: login allowed to every directory user\n",
		    esc(name));
	ret = CLI_EXIT_OK;
out:
	list_free(&allow);
	gw_db_close(db);
	return ret;
}

static const struct gw_sub host_subs[] = {
	{ "host token", "token", host_token,
	    "host token NAME [--principals A,B] [--ttl DURATION]\n"
	    "          [--allow-groups A,B]",
	    "Make a one-time enrolment token for host NAME (for "
	    "'hostcert-tool\nenroll'); prints only the token. --principals: "
	    "the names its host\ncertificate may hold besides NAME; --ttl: "
	    "default [hosts] token_ttl,\ncapped at token_max_ttl; "
	    "--allow-groups: as 'host allow'.\n",
	    NULL },
	{ "host list", "list", host_list, "host list [--json]",
	    "List hosts: NAME SERIAL EXPIRES LAST_SEEN PRINCIPALS (UTC "
	    "times, '-'\nwhen none; a header line first).\n",
	    NULL },
	{ "host allow", "allow", host_allow, "host allow NAME --groups A,B",
	    "Set who may log in on host NAME: members of the groups ('' for "
	    "every\ndirectory user).\n",
	    NULL },
};

int
cmd_host(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "host", host_subs,
	    sizeof(host_subs) / sizeof(host_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- krl */

static const struct gw_sub krl_sub = { "krl", "krl", NULL, "krl [--out FILE]",
	"Write the KRL of every revocation (for sshd's RevokedKeys) to FILE\n"
	"(default DIR/krl.bin), atomically; prints its path and "
	"generation.\n",
	NULL };

int
cmd_krl(struct gw *gw, int argc, char **argv)
{
	enum {
		O_OUT = GW_OPT_FIRST
	};
	static const struct option opts[] = {
		{ "out", required_argument, NULL, O_OUT },
		GW_COMMON_OPTIONS,
	};
	const struct gw_sub *s = &krl_sub;
	struct sshkey **ukeys = NULL, **hkeys = NULL;
	const struct sshkey *cas[4];
	struct gw_db *db = NULL;
	const char *out = NULL;
	char path[PATH_MAX];
	uint8_t *krl = NULL;
	size_t nu = 0, nh = 0, i, n = 0, len = 0;
	uint64_t gen = 0;
	int c, e, ret;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_OUT:
			if (*optarg == '\0')
				return cli_usage_error(s->cmd, "empty --out");
			out = optarg;
			break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_args(s, argc, argv, 0, ""));
	if (out == NULL) {
		e = snprintf(path, sizeof(path), "%s/krl.bin", gw->state_dir);
		if (e < 0 || (size_t)e >= sizeof(path))
			return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
			    "state directory %s", gw->state_dir);
		out = path;
	}
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	if ((ret = gw_ca_trusted(gw, SSHCERT_USER, &ukeys, &nu)) != 0 ||
	    (ret = gw_ca_trusted(gw, SSHCERT_HOST, &hkeys, &nh)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	for (i = 0; i < nu && n < 4; i++)
		cas[n++] = ukeys[i];
	for (i = 0; i < nh && n < 4; i++)
		cas[n++] = hkeys[i];
	if ((e = gw_krl_build(db, cas, n, (uint64_t)time(NULL), &krl, &len,
		 &gen)) != 0) {
		db_fail(gw, db, e, "%s: building the KRL", s->cmd);
		goto out;
	}
	errno = 0;
	if ((e = fileio_write(out, krl, len, 0644, 0)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "%s: writing %s", s->cmd, esc(out));
		goto out;
	}
	printf("%s: generation %" PRIu64 "\n", esc(out), gen);
	ret = CLI_EXIT_OK;
out:
	free(krl);
	gw_ca_keys_free(ukeys, nu);
	gw_ca_keys_free(hkeys, nh);
	gw_db_close(db);
	return ret;
}

/* ---------------------------------------------------------------- audit */

/*
 * --since: a unix time (digits), a duration ago (1h, 30m, 2d...), or
 * YYYY-MM-DDTHH:MM:SS[Z] / YYYY-MM-DD in UTC.
 */
static int
parse_since(const char *s, uint64_t now, uint64_t *out)
{
	uint64_t d;
	struct tm tm, chk;
	time_t t;
	int y, mo, da, h = 0, mi = 0, se = 0, n = 0;

	if (*s == '\0')
		return -1;
	if (strspn(s, "0123456789") == strlen(s))
		return gw_parse_u64(s, 0, UINT64_MAX, out) != 0 ? -1 : 0;
	if (gw_parse_duration(s, &d) == 0) {
		*out = d < now ? now - d : 0;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &da, &h, &mi, &se,
		&n) == 6) {
		if (s[n] == 'Z')
			n++;
	} else if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &da, &n) != 3)
		return -1;
	if (s[n] != '\0' || !isdigit((unsigned char)s[0]) || y < 1970 ||
	    mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59 ||
	    se > 60 || h < 0 || mi < 0 || se < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &chk) == NULL ||
	    chk.tm_mday != da)
		return -1; /* 2024-02-30 */
	*out = (uint64_t)t;
	return 0;
}

/* The text fields of an audit event, in their order of output. */
#define NFIELDS 5
static const char *const field[NFIELDS] = { "event", "actor", "subject",
	"result", "detail" };

static const char *
audit_field(const struct gw_audit_rec *r, size_t i)
{
	const char *const v[NFIELDS] = { r->event, r->actor, r->subject,
		r->result, r->detail };

	return v[i];
}

static const struct gw_sub audit_sub = { "audit", "audit", NULL,
	"audit [--since TIME] [--json]",
	"Print the audit log, oldest first, one event per line: TIME EVENT "
	"ACTOR\nSUBJECT RESULT DETAIL separated by tabs. TIME: a unix time, "
	"a duration\nago (1h, 2d) or YYYY-MM-DDTHH:MM:SS (UTC).\n",
	NULL };

int
cmd_audit(struct gw *gw, int argc, char **argv)
{
	enum {
		O_SINCE = GW_OPT_FIRST,
		O_JSON
	};
	static const struct option opts[] = {
		{ "since", required_argument, NULL, O_SINCE },
		{ "json", no_argument, NULL, O_JSON },
		GW_COMMON_OPTIONS,
	};
	const struct gw_sub *s = &audit_sub;
	struct gw_audit_rec *r = NULL;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	char when[32];
	uint64_t since = 0;
	size_t i, j, n = 0;
	int c, e, json = 0, ret;

	optind = 0;
	while ((c = gw_next_opt(s, argc, argv, opts)) >= GW_OPT_FIRST) {
		switch (c) {
		case O_SINCE:
			if (parse_since(optarg, (uint64_t)time(NULL), &since) !=
			    0)
				return cli_usage_error(s->cmd,
				    "--since '%s': give a unix time, a "
				    "duration (1h, 2d) or YYYY-MM-DDTHH:MM:SS",
				    esc(optarg));
			break;
		case O_JSON: json = 1; break;
		}
	}
	GW_PARSED(c);
	GW_PARSED(want_args(s, argc, argv, 0, ""));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	if ((e = gw_db_audit_list(db, since, 0, &r, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if (json) {
		if ((a = json_object_new_array()) != NULL) {
			for (i = 0; i < n; i++) {
				if ((o = json_object_new_object()) == NULL)
					break;
				json_add_u64(o, "id", r[i].id);
				json_add_u64(o, "time", r[i].time);
				for (j = 0; j < NFIELDS; j++)
					json_add_str(o, field[j],
					    audit_field(&r[i], j));
				json_object_array_add(a, o);
			}
		}
		ret = print_json(a);
		goto out;
	}
	for (i = 0; i < n; i++) {
		format_utc(r[i].time, when, sizeof(when));
		printf("%s", when);
		for (j = 0; j < NFIELDS; j++) {
			printf("\t");
			print_field(audit_field(&r[i], j), 0);
		}
		printf("\n");
	}
	ret = CLI_EXIT_OK;
out:
	gw_audit_list_free(r, n);
	gw_db_close(db);
	return ret;
}

/* ---------------------------------------------------------------- admin-token */

static int
token_create(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL;
	char token[44];
	uint8_t hash[32];
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_TOKEN, &name, &db));
	memset(token, 0, sizeof(token));
	ret = CLI_EXIT_FAIL;
	if ((e = gw_secret_new(token, hash)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "%s: random token", s->cmd);
		goto out;
	}
	e = gw_db_admin_token_add(db, name, hash);
	if (e == TRASA_ERR_EXISTS) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s: an admin token named '%s' exists (revoke it first)",
		    s->cmd, esc(name));
		goto out;
	}
	if (e != 0) {
		db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
		goto out;
	}
	audit(gw, db, "admin-token.create", name, "");
	printf("%s\n", token);
	ret = CLI_EXIT_OK;
out:
	OPENSSL_cleanse(token, sizeof(token));
	gw_db_close(db);
	return ret;
}

static int
token_revoke(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL;
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_TOKEN, &name, &db));
	e = gw_db_admin_token_revoke(db, name);
	if (e == TRASA_ERR_NOT_FOUND)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: no unrevoked admin token named '%s'", s->cmd,
		    esc(name));
	else if (e != 0)
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
	else {
		audit(gw, db, "admin-token.revoke", name, "");
		printf("admin token %s revoked\n", esc(name));
		ret = CLI_EXIT_OK;
	}
	gw_db_close(db);
	return ret;
}

static int
token_list(struct gw *gw, const struct gw_sub *s, int argc, char **argv)
{
	struct gw_admin_token *t = NULL;
	struct gw_db *db = NULL;
	char when[32];
	size_t i, n = 0;
	int e, ret;

	GW_PARSED(begin(gw, s, argc, argv, NULL, N_NONE, NULL, &db));
	if ((e = gw_db_admin_token_list(db, &t, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	printf("%-32s %s\n", "NAME", "CREATED");
	for (i = 0; i < n; i++) {
		format_utc(t[i].created, when, sizeof(when));
		print_field(t[i].name, 32);
		printf(" %s\n", when);
	}
	ret = CLI_EXIT_OK;
out:
	gw_admin_token_list_free(t, n);
	gw_db_close(db);
	return ret;
}

static const struct gw_sub token_subs[] = {
	{ "admin-token create", "create", token_create,
	    "admin-token create NAME",
	    "Make a token for the HTTPS API's admin requests (Authorization: "
	    "Bearer);\nprints only the token (just its SHA-256 is kept).\n",
	    NULL },
	{ "admin-token revoke", "revoke", token_revoke,
	    "admin-token revoke NAME", "Revoke an admin token.\n", NULL },
	{ "admin-token list", "list", token_list, "admin-token list",
	    "List unrevoked admin tokens: NAME CREATED (a header line "
	    "first).\n",
	    NULL },
};

int
cmd_admin_token(struct gw *gw, int argc, char **argv)
{
	return gw_dispatch(gw, "admin-token", token_subs,
	    sizeof(token_subs) / sizeof(token_subs[0]), argc, argv);
}

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

#define HELP_DONE (-1000) /* --help was printed: exit 0 */
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

/* User and group names: 1..32 of [A-Za-z0-9._-], starting with a letter
 * or '_' (what useradd and NSS accept everywhere). */
static int
valid_user_name(const char *s)
{
	size_t i;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= MAX_USER_NAME ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '.' ||
			s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* Host names: 1..253 of [A-Za-z0-9._-], starting with a letter or digit. */
static int
valid_host_name(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= MAX_HOST_NAME ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '.' ||
			s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* Admin token names: 1..64 of [A-Za-z0-9._@-], starting with alnum. */
static int
valid_token_name(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= MAX_TOKEN_NAME ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '.' ||
			s[i] == '_' || s[i] == '-' || s[i] == '@'))
			return 0;
	return 1;
}

static int
bad_user_name(const char *cmd, const char *what, const char *s)
{
	return cli_error(CLI_EXIT_FAIL, 0,
	    "%s: invalid %s name '%s' (1 to %d letters, digits, '.', '_' or "
	    "'-', starting with a letter or '_')",
	    cmd, what, esc(s), MAX_USER_NAME);
}

static int
bad_host_name(const char *cmd, const char *s)
{
	return cli_error(CLI_EXIT_FAIL, 0,
	    "%s: invalid host name '%s' (1 to %d letters, digits, '.', '_' "
	    "or '-', starting with a letter or digit)",
	    cmd, esc(s), MAX_HOST_NAME);
}

/* A uid or gid: 1 to 2^31-1. */
static int
parse_id(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0 || *ep != '\0' || v == 0 || v > 0x7fffffffull)
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

struct sub {
	const char *cmd;  /* "user add" */
	const char *name; /* "add" */
	int (*fn)(struct gw *, const struct sub *, int, char **);
	const char *synopsis;
	const char *help;
};

static void
sub_usage(FILE *f, const struct sub *s)
{
	fprintf(f, "usage: %s [global options] %s\n%s", cli_get_progname(),
	    s->synopsis, s->help);
}

/*
 * The options of commands without their own: -h, -v and (json not NULL)
 * --json. 0, HELP_DONE or an exit code.
 */
static int
simple_args(const struct sub *s, int argc, char **argv, int *json)
{
	enum {
		O_JSON = 256
	};
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON:
			if (json == NULL)
				return cli_usage_error(s->cmd,
				    "unknown option '--json'");
			*json = 1;
			break;
		case 'h': sub_usage(stdout, s); return HELP_DONE;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	return 0;
}

/* After the options: exactly nargs arguments left. */
static int
want_args(const struct sub *s, int argc, char **argv, int nargs,
    const char *what)
{
	if (argc - optind < nargs)
		return cli_usage_error(s->cmd, "missing %s", what);
	if (argc - optind > nargs)
		return cli_usage_error(s->cmd, "unexpected argument '%s'",
		    esc(argv[optind + nargs]));
	return 0;
}

#define PARSED(x)                           \
	do {                                \
		int r_ = (x);               \
		if (r_ == HELP_DONE)        \
			return CLI_EXIT_OK; \
		if (r_ != 0)                \
			return r_;          \
	} while (0)

static int
dispatch(struct gw *gw, const char *group, const struct sub *subs, size_t n,
    int argc, char **argv)
{
	const char *sep;
	char names[256];
	size_t i, o = 0;

	names[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i == 0)
			sep = "";
		else if (i + 1 == n)
			sep = " or ";
		else
			sep = ", ";
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", sep,
		    subs[i].name);
	}
	if (argc < 2)
		return cli_usage_error(group, "missing subcommand (%s)", names);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		for (i = 0; i < n; i++)
			sub_usage(stdout, &subs[i]);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(gw, &subs[i], argc - 1, argv + 1);
	return cli_usage_error(group, "unknown subcommand '%s' (%s)",
	    esc(argv[1]), names);
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

static int
valid_path(const char *s)
{
	return s[0] == '/' && valid_passwd_text(s, PATH_MAX - 1) &&
	    strchr(s, ' ') == NULL;
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
user_add(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	enum {
		O_UID = 256,
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
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_user u, *old = NULL;
	struct gw_db *db = NULL;
	struct list groups;
	const char *keyfile = NULL, *groups_arg = NULL;
	char **keys = NULL, detail[512], gl[256];
	size_t nkeys = 0, i;
	uint32_t uid = 0, gid = 0;
	int c, e, ret;

	memset(&u, 0, sizeof(u));
	memset(&groups, 0, sizeof(groups));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
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
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	u.name = argv[optind];
	if (!valid_user_name(u.name))
		return bad_user_name(s->cmd, "user", u.name);
	if (u.gecos != NULL && !valid_passwd_text(u.gecos, MAX_GECOS))
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: --gecos holds ':' or a control character, or is "
		    "longer than %d bytes",
		    s->cmd, MAX_GECOS);
	if (u.home != NULL && !valid_path(u.home))
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: --home '%s' is not an absolute path without ':', "
		    "blanks or control characters",
		    s->cmd, esc(u.home));
	if (u.shell != NULL && !valid_path(u.shell))
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: --shell '%s' is not an absolute path without ':', "
		    "blanks or control characters",
		    s->cmd, esc(u.shell));
	if (groups_arg != NULL &&
	    (ret = list_parse(s->cmd, "--groups", groups_arg, valid_user_name,
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
user_change(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name, *event, *done;
	int e, ret;

	PARSED(simple_args(s, argc, argv, NULL));
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_user_name(name))
		return bad_user_name(s->cmd, "user", name);
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
	if (e == TRASA_ERR_NOT_FOUND)
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: no user '%s'", s->cmd,
		    esc(name));
	else if (e != 0)
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
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
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "uid", json_object_new_int64(u->uid));
	json_object_object_add(o, "gid", json_object_new_int64(u->gid));
	json_object_object_add(o, "gecos",
	    json_object_new_string(u->gecos != NULL ? u->gecos : ""));
	json_object_object_add(o, "home",
	    json_object_new_string(u->home != NULL ? u->home : ""));
	json_object_object_add(o, "shell",
	    json_object_new_string(u->shell != NULL ? u->shell : ""));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(u->disabled));
	json_object_object_add(o, "groups", json_list(u->groups, u->ngroups));
	json_object_object_add(o, "keys", json_list(u->keys, u->nkeys));
	json_object_object_add(o, "totp", json_object_new_boolean(u->has_totp));
	return o;
}

static int
user_list(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_user **list = NULL;
	struct gw_db *db = NULL;
	struct json_object *a;
	size_t i, n = 0;
	int e, json = 0, ret;

	PARSED(simple_args(s, argc, argv, &json));
	PARSED(want_args(s, argc, argv, 0, ""));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
user_show(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_user *u = NULL;
	struct gw_db *db = NULL;
	const char *name;
	size_t i;
	int e, json = 0, ret;

	PARSED(simple_args(s, argc, argv, &json));
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_user_name(name))
		return bad_user_name(s->cmd, "user", name);
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	e = gw_db_user_get(db, name, 0, &u);
	if (e == TRASA_ERR_NOT_FOUND) {
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: no user '%s'", s->cmd,
		    esc(name));
		goto out;
	}
	if (e != 0) {
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
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
user_totp(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	uint8_t secret[TOTP_SECRET_LEN];
	char *b32 = NULL;
	const char *name;
	size_t b32len = 0;
	int e, ret;

	PARSED(simple_args(s, argc, argv, NULL));
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_user_name(name))
		return bad_user_name(s->cmd, "user", name);
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
	e = gw_db_user_set_totp(db, name, secret, sizeof(secret));
	if (e == TRASA_ERR_NOT_FOUND) {
		cli_error(CLI_EXIT_FAIL, 0, "%s: no user '%s'", s->cmd,
		    esc(name));
		goto out;
	}
	if (e != 0) {
		db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
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

static const struct sub user_subs[] = {
	{ "user add", "add", user_add,
	    "user add NAME [--uid N] [--gid N] [--gecos TEXT] [--home DIR]\n"
	    "          [--shell PATH] [--groups A,B] [--key FILE]",
	    "Add a user to the directory; uid and gid default to the next "
	    "free\n"
	    "ones of [users] (never reused); --key adds the OpenSSH public "
	    "keys of\nFILE. Prints 'user NAME uid U gid G'.\n" },
	{ "user del", "del", user_change, "user del NAME",
	    "Delete a user (its uid is not given out again).\n" },
	{ "user disable", "disable", user_change, "user disable NAME",
	    "Refuse the user's logins (hosts learn it at their next "
	    "refresh).\n" },
	{ "user enable", "enable", user_change, "user enable NAME",
	    "Allow a disabled user again.\n" },
	{ "user list", "list", user_list, "user list [--json]",
	    "List users: NAME UID GID DISABLED GROUPS (a header line "
	    "first).\n" },
	{ "user show", "show", user_show, "user show NAME [--json]",
	    "Show one user, one 'field: value' line each.\n" },
	{ "user totp", "totp", user_totp, "user totp NAME",
	    "Make a new TOTP secret (replacing any): prints the base32 "
	    "secret,\nthen an otpauth:// URI for authenticator apps.\n" },
};

int
cmd_user(struct gw *gw, int argc, char **argv)
{
	return dispatch(gw, "user", user_subs,
	    sizeof(user_subs) / sizeof(user_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- group */

static int
group_add(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	enum {
		O_GID = 256
	};
	static const struct option opts[] = {
		{ "gid", required_argument, NULL, O_GID },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_group *old = NULL;
	struct gw_db *db = NULL;
	const char *name;
	char detail[64];
	uint32_t want = 0, gid = 0;
	int c, e, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_GID:
			if (parse_id(optarg, &want) != 0)
				return cli_usage_error(s->cmd,
				    "--gid '%s' is not a number from 1 to "
				    "2147483647",
				    esc(optarg));
			break;
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_user_name(name))
		return bad_user_name(s->cmd, "group", name);
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
group_del(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name;
	int e, ret;

	PARSED(simple_args(s, argc, argv, NULL));
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_user_name(name))
		return bad_user_name(s->cmd, "group", name);
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	e = gw_db_group_del(db, name);
	if (e == TRASA_ERR_NOT_FOUND)
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: no group '%s'", s->cmd,
		    esc(name));
	else if (e == TRASA_ERR_EXISTS)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: group '%s' is a user's primary group (delete the "
		    "user first)",
		    s->cmd, esc(name));
	else if (e != 0)
		ret = db_fail(gw, db, e, "%s: %s", s->cmd, esc(name));
	else {
		audit(gw, db, "group.del", name, "");
		printf("group %s deleted\n", esc(name));
		ret = CLI_EXIT_OK;
	}
	gw_db_close(db);
	return ret;
}

static int
group_member_cmd(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	enum {
		O_REMOVE = 256
	};
	static const struct option opts[] = {
		{ "remove", no_argument, NULL, O_REMOVE },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_db *db = NULL;
	struct gw_user *u = NULL;
	struct gw_group *g = NULL;
	const char *group, *user;
	char detail[64];
	int c, e, add = 1, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_REMOVE: add = 0; break;
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 2, "GROUP and USER"));
	group = argv[optind];
	user = argv[optind + 1];
	if (!valid_user_name(group))
		return bad_user_name(s->cmd, "group", group);
	if (!valid_user_name(user))
		return bad_user_name(s->cmd, "user", user);
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	ret = CLI_EXIT_FAIL;
	if ((e = gw_db_group_get(db, group, 0, &g)) != 0) {
		if (e == TRASA_ERR_NOT_FOUND)
			cli_error(CLI_EXIT_FAIL, 0, "%s: no group '%s'", s->cmd,
			    esc(group));
		else
			db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if ((e = gw_db_user_get(db, user, 0, &u)) != 0) {
		if (e == TRASA_ERR_NOT_FOUND)
			cli_error(CLI_EXIT_FAIL, 0, "%s: no user '%s'", s->cmd,
			    esc(user));
		else
			db_fail(gw, db, e, "%s", s->cmd);
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
group_list(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_group **list = NULL;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	size_t i, n = 0;
	int e, json = 0, ret;

	PARSED(simple_args(s, argc, argv, &json));
	PARSED(want_args(s, argc, argv, 0, ""));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
	if ((e = gw_db_group_list(db, &list, &n)) != 0) {
		ret = db_fail(gw, db, e, "%s", s->cmd);
		goto out;
	}
	if (json) {
		if ((a = json_object_new_array()) != NULL) {
			for (i = 0; i < n; i++) {
				if ((o = json_object_new_object()) == NULL)
					break;
				json_object_object_add(o, "name",
				    json_object_new_string(list[i]->name));
				json_object_object_add(o, "gid",
				    json_object_new_int64(list[i]->gid));
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

static const struct sub group_subs[] = {
	{ "group add", "add", group_add, "group add NAME [--gid N]",
	    "Add a group; the gid defaults to the next free one of [users] "
	    "gid_min..gid_max.\n" },
	{ "group del", "del", group_del, "group del NAME",
	    "Delete a group (not while it is a user's primary group).\n" },
	{ "group member", "member", group_member_cmd,
	    "group member GROUP USER [--remove]",
	    "Add USER to GROUP, or remove it.\n" },
	{ "group list", "list", group_list, "group list [--json]",
	    "List groups: NAME GID MEMBERS (a header line first).\n" },
};

int
cmd_group(struct gw *gw, int argc, char **argv)
{
	return dispatch(gw, "group", group_subs,
	    sizeof(group_subs) / sizeof(group_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- host */

static int
valid_principal(const char *s)
{
	return gw_principal_valid(s);
}

static int
host_token(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	enum {
		O_PRINC = 256,
		O_TTL,
		O_ALLOW
	};
	static const struct option opts[] = {
		{ "principals", required_argument, NULL, O_PRINC },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "allow-groups", required_argument, NULL, O_ALLOW },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
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
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
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
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	name = argv[optind];
	if (!valid_host_name(name))
		return bad_host_name(s->cmd, name);
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
		 valid_user_name, &allow)) != 0)
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
host_list(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_host **list = NULL, *h;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	char exp[32], seen[32], serial[24];
	size_t i, n = 0;
	int e, json = 0, ret;

	PARSED(simple_args(s, argc, argv, &json));
	PARSED(want_args(s, argc, argv, 0, ""));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
				json_object_object_add(o, "name",
				    json_object_new_string(h->name));
				json_object_object_add(o, "principals",
				    json_list(h->principals, h->nprincipals));
				json_object_object_add(o, "public_key",
				    h->public_key != NULL ?
					json_object_new_string(h->public_key) :
					NULL);
				json_object_object_add(o, "cert_serial",
				    json_object_new_uint64(h->cert_serial));
				json_object_object_add(o, "cert_expiry",
				    json_object_new_uint64(h->cert_expiry));
				json_object_object_add(o, "enrolled",
				    json_object_new_uint64(h->enrolled));
				json_object_object_add(o, "last_seen",
				    json_object_new_uint64(h->last_seen));
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
host_allow(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	enum {
		O_GROUPS = 256
	};
	static const struct option opts[] = {
		{ "groups", required_argument, NULL, O_GROUPS },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_db *db = NULL;
	struct list allow;
	const char *name, *groups_arg = NULL;
	char gl[400];
	int c, e, ret;

	memset(&allow, 0, sizeof(allow));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_GROUPS: groups_arg = optarg; break;
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	if (groups_arg == NULL)
		return cli_usage_error(s->cmd,
		    "--groups is required ('' for every user)");
	name = argv[optind];
	if (!valid_host_name(name))
		return bad_host_name(s->cmd, name);
	if ((ret = list_parse(s->cmd, "--groups", groups_arg, valid_user_name,
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

static const struct sub host_subs[] = {
	{ "host token", "token", host_token,
	    "host token NAME [--principals A,B] [--ttl DURATION]\n"
	    "          [--allow-groups A,B]",
	    "Make a one-time enrolment token for host NAME (for "
	    "'hostcert-tool\nenroll'); prints only the token. --principals: "
	    "the names its host\ncertificate may hold besides NAME; --ttl: "
	    "default [hosts] token_ttl,\ncapped at token_max_ttl; "
	    "--allow-groups: as 'host allow'.\n" },
	{ "host list", "list", host_list, "host list [--json]",
	    "List hosts: NAME SERIAL EXPIRES LAST_SEEN PRINCIPALS (UTC "
	    "times, '-'\nwhen none; a header line first).\n" },
	{ "host allow", "allow", host_allow, "host allow NAME --groups A,B",
	    "Set who may log in on host NAME: members of the groups ('' for "
	    "every\ndirectory user).\n" },
};

int
cmd_host(struct gw *gw, int argc, char **argv)
{
	return dispatch(gw, "host", host_subs,
	    sizeof(host_subs) / sizeof(host_subs[0]), argc, argv);
}

/* ---------------------------------------------------------------- krl */

static const struct sub krl_sub = { "krl", "krl", NULL, "krl [--out FILE]",
	"Write the KRL of every revocation (for sshd's RevokedKeys) to FILE\n"
	"(default DIR/krl.bin), atomically; prints its path and "
	"generation.\n" };

int
cmd_krl(struct gw *gw, int argc, char **argv)
{
	enum {
		O_OUT = 256
	};
	static const struct option opts[] = {
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const struct sub *s = &krl_sub;
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
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_OUT:
			if (*optarg == '\0')
				return cli_usage_error(s->cmd, "empty --out");
			out = optarg;
			break;
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 0, ""));
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
	unsigned long long v;
	uint64_t d;
	struct tm tm, chk;
	time_t t;
	char *ep;
	int y, mo, da, h = 0, mi = 0, se = 0, n = 0;

	if (*s == '\0')
		return -1;
	if (strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		v = strtoull(s, &ep, 10);
		if (errno != 0 || *ep != '\0')
			return -1;
		*out = v;
		return 0;
	}
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

static const struct sub audit_sub = { "audit", "audit", NULL,
	"audit [--since TIME] [--json]",
	"Print the audit log, oldest first, one event per line: TIME EVENT "
	"ACTOR\nSUBJECT RESULT DETAIL separated by tabs. TIME: a unix time, "
	"a duration\nago (1h, 2d) or YYYY-MM-DDTHH:MM:SS (UTC).\n" };

int
cmd_audit(struct gw *gw, int argc, char **argv)
{
	enum {
		O_SINCE = 256,
		O_JSON
	};
	static const struct option opts[] = {
		{ "since", required_argument, NULL, O_SINCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const struct sub *s = &audit_sub;
	struct gw_audit_rec *r = NULL;
	struct gw_db *db = NULL;
	struct json_object *a, *o;
	char when[32];
	uint64_t since = 0;
	size_t i, n = 0;
	int c, e, json = 0, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
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
		case 'h': sub_usage(stdout, s); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option(s->cmd, c, argv);
		}
	}
	PARSED(want_args(s, argc, argv, 0, ""));
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
				json_object_object_add(o, "id",
				    json_object_new_uint64(r[i].id));
				json_object_object_add(o, "time",
				    json_object_new_uint64(r[i].time));
				json_object_object_add(o, "event",
				    json_object_new_string(
					r[i].event ? r[i].event : ""));
				json_object_object_add(o, "actor",
				    json_object_new_string(
					r[i].actor ? r[i].actor : ""));
				json_object_object_add(o, "subject",
				    json_object_new_string(
					r[i].subject ? r[i].subject : ""));
				json_object_object_add(o, "result",
				    json_object_new_string(
					r[i].result ? r[i].result : ""));
				json_object_object_add(o, "detail",
				    json_object_new_string(
					r[i].detail ? r[i].detail : ""));
				json_object_array_add(a, o);
			}
		}
		ret = print_json(a);
		goto out;
	}
	for (i = 0; i < n; i++) {
		format_utc(r[i].time, when, sizeof(when));
		printf("%s\t", when);
		print_field(r[i].event, 0);
		printf("\t");
		print_field(r[i].actor, 0);
		printf("\t");
		print_field(r[i].subject, 0);
		printf("\t");
		print_field(r[i].result, 0);
		printf("\t");
		print_field(r[i].detail, 0);
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
token_name_arg(const struct sub *s, int argc, char **argv, const char **out)
{
	PARSED(simple_args(s, argc, argv, NULL));
	PARSED(want_args(s, argc, argv, 1, "NAME"));
	if (!valid_token_name(argv[optind]))
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: invalid token name '%s' (1 to %d letters, digits, "
		    "'.', '_', '-' or '@')",
		    s->cmd, esc(argv[optind]), MAX_TOKEN_NAME);
	*out = argv[optind];
	return 0;
}

static int
token_create(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL;
	char token[44];
	uint8_t hash[32];
	int e, ret;

	if ((ret = token_name_arg(s, argc, argv, &name)) != 0 || name == NULL)
		return ret;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
token_revoke(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_db *db = NULL;
	const char *name = NULL;
	int e, ret;

	if ((ret = token_name_arg(s, argc, argv, &name)) != 0 || name == NULL)
		return ret;
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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
token_list(struct gw *gw, const struct sub *s, int argc, char **argv)
{
	struct gw_admin_token *t = NULL;
	struct gw_db *db = NULL;
	char when[32];
	size_t i, n = 0;
	int e, ret;

	PARSED(simple_args(s, argc, argv, NULL));
	PARSED(want_args(s, argc, argv, 0, ""));
	if ((ret = gw_open_state_db(gw, &db)) != 0)
		return ret;
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

static const struct sub token_subs[] = {
	{ "admin-token create", "create", token_create,
	    "admin-token create NAME",
	    "Make a token for the HTTPS API's admin requests (Authorization: "
	    "Bearer);\nprints only the token (just its SHA-256 is kept).\n" },
	{ "admin-token revoke", "revoke", token_revoke,
	    "admin-token revoke NAME", "Revoke an admin token.\n" },
	{ "admin-token list", "list", token_list, "admin-token list",
	    "List unrevoked admin tokens: NAME CREATED (a header line "
	    "first).\n" },
};

int
cmd_admin_token(struct gw *gw, int argc, char **argv)
{
	return dispatch(gw, "admin-token", token_subs,
	    sizeof(token_subs) / sizeof(token_subs[0]), argc, argv);
}

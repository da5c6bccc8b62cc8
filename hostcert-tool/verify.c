/*
 * verify.c: hostcert-tool verify: judge a certificate as sshd (user
 * certificates) or ssh (host certificates) would, against a set of CA keys
 * and optionally a KRL.
 *
 * Exit 0: valid. Exit 1: not valid, or CERTFILE is not a certificate at
 * all (one line on stderr saying why). Exit 2: usage, or a CA file or KRL
 * that cannot be read or parsed, or a CERTFILE that cannot be read.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "err.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define MAX_CA_FILES 32
#define MAX_CA_KEYS 256
#define MAX_SKEW (7u * 24 * 3600)

struct verify {
	const char *ca_files[MAX_CA_FILES];
	size_t nca_files;
	const char *krl_file;
	const char *cert_file;
	struct sshkey *cas[MAX_CA_KEYS];
	size_t ncas;
	struct krl *krl;
	struct sshkey *cert;
	struct sshcert_policy pol;
};

/* ---------------------------------------------------------------- arguments */

/*
 * "now", seconds since the epoch, or YYYY-MM-DD[THH:MM[:SS]] in local
 * time (a space may stand for the T).
 */
static int
parse_time(const char *s, uint64_t *out)
{
	unsigned long long v;
	struct tm tm;
	const char *end;
	char *ep;
	time_t t;

	if (strcmp(s, "now") == 0) {
		if ((t = time(NULL)) < 0)
			return -1;
		*out = (uint64_t)t;
		return 0;
	}
	if (*s != '\0' && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		v = strtoull(s, &ep, 10);
		if (errno != 0 || *ep != '\0')
			return -1;
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		if ((end = strptime(end + 1, "%H:%M", &tm)) == NULL)
			return -1;
		if (*end == ':' && (end = strptime(end + 1, "%S", &tm)) == NULL)
			return -1;
	}
	if (*end != '\0')
		return -1;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1 || t < 0)
		return -1;
	*out = (uint64_t)t;
	return 0;
}

static int
parse_skew(const char *s, uint32_t *out)
{
	unsigned long v;
	char *ep;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &ep, 10);
	if (errno != 0 || *ep != '\0' || v > MAX_SKEW)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
valid_address(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	    inet_pton(AF_INET6, s, addr) == 1;
}

/* ---------------------------------------------------------------- inputs */

/*
 * One CA line: "KEY", or "@cert-authority PATTERN KEY" from known_hosts
 * (the pattern is not matched). Returns 1 when the line held a key, 0 when
 * it is to be skipped, or a negative error.
 */
static int
load_ca_line(struct verify *v, char *line, const char *path, size_t lnum)
{
	struct sshkey *k = NULL;
	size_t n;
	int e;

	if (*line == '@') {
		n = strcspn(line, " \t");
		if (n != strlen("@cert-authority") ||
		    strncmp(line, "@cert-authority", n) != 0) {
			cli_debug("%s:%zu: skipping a marker line that is not "
				  "@cert-authority",
			    path, lnum);
			return 0;
		}
		line += n;
		line += strspn(line, " \t");
		line += strcspn(line, " \t"); /* host pattern */
		line += strspn(line, " \t");
	}
	if ((e = sshkey_parse_public(line, &k, NULL)) != 0) {
		cli_error(0, e, "%s:%zu: invalid CA key", path, lnum);
		return e;
	}
	if (sshkey_is_cert(k)) {
		cli_error(0, 0, "%s:%zu: is a certificate, not a CA key", path,
		    lnum);
		sshkey_free(k);
		return TRASA_ERR_CA_IS_CERT;
	}
	if (v->ncas >= MAX_CA_KEYS) {
		cli_error(0, 0, "%s:%zu: more than %d CA keys", path, lnum,
		    MAX_CA_KEYS);
		sshkey_free(k);
		return TRASA_ERR_TOO_MANY;
	}
	v->cas[v->ncas++] = k;
	return 1;
}

static int
load_ca_file(struct verify *v, const char *path)
{
	struct tbuf *b = NULL;
	char *text = NULL, *cursor, *line;
	size_t lnum = 0, found = 0;
	int e, ret;

	if ((ret = hct_read(path, HCT_MAX_TEXT_FILE, &b)) != 0)
		goto out;
	if ((e = hct_text_of(b, &text)) != 0) {
		ret = cli_error(CLI_EXIT_USAGE, 0,
		    "%s: not a CA key file (binary data)", path);
		goto out;
	}
	for (cursor = text; (line = hct_next_line(&cursor)) != NULL;) {
		lnum++;
		if (hct_skip_blank(&line))
			continue;
		if ((e = load_ca_line(v, line, path, lnum)) < 0) {
			ret = CLI_EXIT_USAGE;
			goto out;
		}
		found += (size_t)e;
	}
	if (found == 0) {
		ret =
		    cli_error(CLI_EXIT_USAGE, 0, "%s: no CA keys found", path);
		goto out;
	}
	cli_debug("%s: %zu CA key(s)", path, found);
	ret = 0;
out:
	free(text);
	tbuf_free(b);
	return ret;
}

static int
load_krl(struct verify *v)
{
	struct tbuf *b = NULL;
	int e, ret;

	if ((ret = hct_read(v->krl_file, KRL_MAX_SIZE, &b)) != 0)
		return ret;
	if (tbuf_len(b) == 0)
		ret = cli_error(CLI_EXIT_USAGE, 0,
		    "%s: invalid KRL: empty file", v->krl_file);
	else if ((e = krl_parse(tbuf_ptr(b), tbuf_len(b), &v->krl)) != 0)
		ret = cli_error(CLI_EXIT_USAGE, e, "%s: invalid KRL",
		    v->krl_file);
	else
		cli_debug("%s: KRL version %" PRIu64, v->krl_file,
		    krl_version(v->krl));
	tbuf_free(b);
	return ret;
}

/* The first key line of CERTFILE. Garbage is "not valid" (exit 1). */
static int
load_cert(struct verify *v)
{
	struct tbuf *b = NULL;
	char *text = NULL, *cursor, *line;
	const char *path = v->cert_file;
	int e, ret;

	if ((ret = hct_read(path, HCT_MAX_TEXT_FILE, &b)) != 0)
		goto out;
	if (hct_text_of(b, &text) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a valid certificate: binary data", path);
		goto out;
	}
	for (cursor = text; (line = hct_next_line(&cursor)) != NULL;)
		if (!hct_skip_blank(&line))
			break;
	if (line == NULL) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a valid certificate: no key in file", path);
		goto out;
	}
	e = sshkey_parse_public(line, &v->cert, NULL);
	switch (e) {
	case 0: break;
	case TRASA_ERR_BAD_SIGNATURE:
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: bad signature", path);
		goto out;
	case TRASA_ERR_SIG_ALG:
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: signature algorithm not allowed", path);
		goto out;
	default:
		ret = cli_error(CLI_EXIT_FAIL, e, "%s: not a valid certificate",
		    path);
		goto out;
	}
	if (!sshkey_is_cert(v->cert)) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a certificate (a plain %s key)", path,
		    sshkey_label(v->cert));
		goto out;
	}
	ret = 0;
out:
	free(text);
	tbuf_free(b);
	return ret;
}

/* ---------------------------------------------------------------- verdict */

static char *
fingerprint_of(const struct sshkey *k)
{
	char *fp = NULL;

	if (k == NULL || sshkey_fingerprint(k, &fp) != 0)
		return strdup("(no fingerprint)");
	return fp;
}

/* The first critical option that sshcert_check refused, for the message. */
static const char *
refused_option(const struct sshkey *c)
{
	const char *name, *value;
	size_t i;

	for (i = 0; i < sshcert_ncritical(c); i++) {
		if (sshcert_critical(c, i, &name, &value) != 0)
			return "(unreadable)";
		if (sshcert_type(c) == SSHCERT_HOST)
			return name;
		if (strcmp(name, "force-command") == 0 ||
		    strcmp(name, "source-address") == 0) {
			if (value == NULL)
				return name;
		} else if (strcmp(name, "verify-required") != 0 ||
		    value != NULL)
			return name;
	}
	return "(malformed option)";
}

static void
print_principals(FILE *f, const struct sshkey *c)
{
	size_t i, n = sshcert_nprincipals(c);

	if (n == 0) {
		fputs("any principal", f);
		return;
	}
	for (i = 0; i < n && i < 16; i++) {
		fputs(i > 0 ? "," : "", f);
		cli_print_escaped(f, sshcert_principal(c, i), 64);
	}
	if (n > 16)
		fprintf(f, ",... (%zu in all)", n);
}

/*
 * The one place where sshcert_check's verdict becomes a message and an
 * exit code.
 */
static int
report(const struct verify *v, int err)
{
	const struct sshkey *c = v->cert, *ca = sshcert_signature_key(c);
	const char *path = v->cert_file;
	char when[64], *fp = NULL, *s = NULL;
	struct sshkey *plain = NULL;
	FILE *f = stderr;

	if (err == 0) {
		printf("%s: valid: ", path);
		cli_print_escaped(stdout, sshcert_key_id(c), HCT_MAX_SHOWN);
		printf(" serial %" PRIu64 " for ", sshcert_serial(c));
		if (v->pol.principal != NULL)
			cli_print_escaped(stdout, v->pol.principal,
			    HCT_MAX_SHOWN);
		else
			print_principals(stdout, c);
		printf("\n");
		return CLI_EXIT_OK;
	}
	fprintf(f, "%s: %s: ", cli_get_progname(), path);
	switch (err) {
	case TRASA_ERR_SIG_ALG:
		if (strcmp(sshcert_signature_alg(c), "ssh-rsa") == 0)
			fprintf(f,
			    "SHA-1 signature refused (ssh-rsa; "
			    "--allow-sha1 accepts it)");
		else
			fprintf(f, "signature algorithm %s not allowed",
			    sshcert_signature_alg(c));
		break;
	case TRASA_ERR_CA_IS_CERT:
		fprintf(f, "signed by a CA key that is itself a certificate");
		break;
	case TRASA_ERR_UNKNOWN_CA:
		fp = fingerprint_of(ca);
		fprintf(f, "unknown CA: signed by %s %s", sshkey_label(ca), fp);
		break;
	case TRASA_ERR_CERT_TYPE:
		fprintf(f,
		    "wrong type: %s certificate, expected a %s "
		    "certificate",
		    sshcert_type(c) == SSHCERT_HOST ? "host" : "user",
		    v->pol.type == SSHCERT_HOST ? "host" : "user");
		break;
	case TRASA_ERR_EXPIRED:
		sshcert_format_time(sshcert_valid_before(c), 1, when,
		    sizeof(when));
		fprintf(f, "expired: valid before %s", when);
		break;
	case TRASA_ERR_NOT_YET_VALID:
		sshcert_format_time(sshcert_valid_after(c), 0, when,
		    sizeof(when));
		fprintf(f, "not yet valid: valid from %s", when);
		break;
	case TRASA_ERR_NO_PRINCIPALS:
		fprintf(f, "certificate lists no principals");
		break;
	case TRASA_ERR_PRINCIPAL:
		fprintf(f, "principal not listed: \"");
		cli_print_escaped(f, v->pol.principal, HCT_MAX_SHOWN);
		fprintf(f, "\" not in ");
		print_principals(f, c);
		break;
	case TRASA_ERR_CRITICAL_OPTION:
		fprintf(f, "unsupported critical option ");
		cli_print_escaped(f, refused_option(c), HCT_MAX_SHOWN);
		if (sshcert_type(c) == SSHCERT_HOST)
			fprintf(f, " (host certificates take none)");
		break;
	case TRASA_ERR_SOURCE_ADDRESS:
		fprintf(f, "source address %s not permitted",
		    v->pol.source_address);
		break;
	case TRASA_ERR_REVOKED:
		if (krl_check_key(v->krl, ca) == TRASA_ERR_REVOKED) {
			fp = fingerprint_of(ca);
			fprintf(f, "revoked (CA key %s)", fp);
		} else if (sshkey_dup_public(c, &plain) == 0 &&
		    krl_check_key(v->krl, plain) == TRASA_ERR_REVOKED) {
			fp = fingerprint_of(plain);
			fprintf(f, "revoked (key %s)", fp);
		} else {
			s = cli_escape_string(sshcert_key_id(c), HCT_MAX_SHOWN);
			fprintf(f,
			    "revoked (serial %" PRIu64 " / key ID "
			    "\"%s\")",
			    sshcert_serial(c), s ? s : "");
		}
		break;
	case TRASA_ERR_BAD_SIGNATURE: fprintf(f, "bad signature"); break;
	case TRASA_ERR_NOT_CERT: fprintf(f, "not a certificate"); break;
	default: fprintf(f, "not valid: %s", trasa_strerror(err)); break;
	}
	fputc('\n', f);
	free(fp);
	free(s);
	sshkey_free(plain);
	return CLI_EXIT_FAIL;
}

static void
verify_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s verify --ca FILE [--ca FILE]... [--krl FILE]\n"
	    "         [--principal NAME] [--host] [--at TIME] [--skew SECONDS]\n"
	    "         [--source-address ADDR] [--allow-sha1] CERTFILE\n"
	    "Judge CERTFILE as sshd (user certificates) or ssh (--host) would.\n"
	    "  --ca FILE              trusted CA keys (TrustedUserCAKeys or\n"
	    "                         @cert-authority lines); repeatable\n"
	    "  --krl FILE             a binary KRL (sshd's RevokedKeys)\n"
	    "  --principal NAME       NAME must be listed in the certificate\n"
	    "  --host                 expect a host certificate\n"
	    "  --at TIME              now, epoch seconds or\n"
	    "                         YYYY-MM-DD[THH:MM[:SS]] (local time)\n"
	    "  --skew SECONDS         clock skew allowance (default 0)\n"
	    "  --source-address ADDR  client address for source-address\n"
	    "  --allow-sha1           accept ssh-rsa (SHA-1) CA signatures\n"
	    "  -v, --verbose          say more on stderr\n"
	    "Exit 0 valid, 1 not valid, 2 usage or input error.\n",
	    cli_get_progname());
}

int
cmd_verify(int argc, char **argv)
{
	enum {
		O_CA = 256,
		O_KRL,
		O_PRINCIPAL,
		O_HOST,
		O_AT,
		O_SKEW,
		O_SOURCE,
		O_SHA1
	};
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, O_CA },
		{ "krl", required_argument, NULL, O_KRL },
		{ "principal", required_argument, NULL, O_PRINCIPAL },
		{ "host", no_argument, NULL, O_HOST },
		{ "at", required_argument, NULL, O_AT },
		{ "skew", required_argument, NULL, O_SKEW },
		{ "source-address", required_argument, NULL, O_SOURCE },
		{ "allow-sha1", no_argument, NULL, O_SHA1 },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify v;
	const char *at = "now";
	size_t i;
	int c, e, ret;

	memset(&v, 0, sizeof(v));
	v.pol.type = SSHCERT_USER;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_CA:
			if (v.nca_files >= MAX_CA_FILES)
				return cli_usage_error("verify",
				    "more than %d --ca "
				    "files",
				    MAX_CA_FILES);
			v.ca_files[v.nca_files++] = optarg;
			break;
		case O_KRL:
			if (v.krl_file != NULL)
				return cli_usage_error("verify",
				    "--krl given twice");
			v.krl_file = optarg;
			break;
		case O_PRINCIPAL:
			if (*optarg == '\0')
				return cli_usage_error("verify",
				    "empty --principal");
			v.pol.principal = optarg;
			break;
		case O_HOST: v.pol.type = SSHCERT_HOST; break;
		case O_AT: at = optarg; break;
		case O_SKEW:
			if (parse_skew(optarg, &v.pol.skew) != 0)
				return cli_usage_error("verify",
				    "--skew needs seconds "
				    "from 0 to %u, not '%s'",
				    MAX_SKEW, optarg);
			break;
		case O_SOURCE:
			if (!valid_address(optarg))
				return cli_usage_error("verify",
				    "--source-address "
				    "'%s' is not an IPv4 or IPv6 address",
				    optarg);
			v.pol.source_address = optarg;
			break;
		case O_SHA1: v.pol.flags |= SSHKEY_ALLOW_SHA1; break;
		case 'h': verify_usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option("verify", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("verify", "missing CERTFILE");
	if (argc - optind > 1)
		return cli_usage_error("verify", "one CERTFILE only");
	if (v.nca_files == 0)
		return cli_usage_error("verify",
		    "at least one --ca FILE is needed");
	if (parse_time(at, &v.pol.now) != 0)
		return cli_usage_error("verify",
		    "--at '%s' is not now, epoch seconds "
		    "or YYYY-MM-DD[THH:MM[:SS]]",
		    at);
	v.cert_file = argv[optind];

	for (i = 0; i < v.nca_files; i++)
		if ((ret = load_ca_file(&v, v.ca_files[i])) != 0)
			goto out;
	if (v.krl_file != NULL && (ret = load_krl(&v)) != 0)
		goto out;
	if ((ret = load_cert(&v)) != 0)
		goto out;
	e = sshcert_check(v.cert, (const struct sshkey *const *)v.cas, v.ncas,
	    v.krl, &v.pol);
	ret = report(&v, e);
out:
	for (i = 0; i < v.ncas; i++)
		sshkey_free(v.cas[i]);
	krl_free(v.krl);
	sshkey_free(v.cert);
	return ret;
}

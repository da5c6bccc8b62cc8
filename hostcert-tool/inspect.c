/*
 * inspect.c: hostcert-tool inspect: show a public key, certificate,
 * private key (public information only) or KRL, as ssh-keygen -l / -L /
 * -Q -l show them, or as one JSON object.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "err.h"
#include "krl.h"
#include "sshcert.h"
#include "sshkey.h"
#include "tbuf.h"

#define KRL_MAGIC "SSHKRL\n\0"
#define KRL_MAGIC_LEN 8
#define MAX_KEY_LINES 10000

struct inspect {
	const char *path;
	int json;
};

/* ---------------------------------------------------------------- JSON */

/* The two-character escape of a byte, or NULL. */
static const char *
json_short_escape(unsigned char c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	}
	return NULL;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD. NULL prints null. */
static void
json_str(FILE *f, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	const char *esc;
	size_t n;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*c != '\0') {
		if ((esc = json_short_escape(*c)) != NULL) {
			fputs(esc, f);
			c++;
		} else if (*c < 0x20 || *c == 0x7f) {
			fprintf(f, "\\u%04x", *c);
			c++;
		} else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] < 0xa0) {
			fprintf(f, "\\u%04x", c[1]); /* C1 control */
			c += 2;
		} else if ((n = cli_utf8_len(c)) == 0) {
			fputs("\\ufffd", f);
			c++;
		} else {
			fwrite(c, 1, n, f);
			c += n;
		}
	}
	fputc('"', f);
}

/* NULL for an absent or empty string (printed as null). */
static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

static void
json_member(FILE *f, int *first, const char *name)
{
	if (!*first)
		fputc(',', f);
	*first = 0;
	json_str(f, name);
	fputc(':', f);
}

static void
json_member_str(FILE *f, int *first, const char *name, const char *v)
{
	json_member(f, first, name);
	json_str(f, v);
}

static void
json_member_u64(FILE *f, int *first, const char *name, uint64_t v)
{
	json_member(f, first, name);
	fprintf(f, "%" PRIu64, v);
}

/* ---------------------------------------------------------------- text */

/* "forever", "before X", "after X" or "from X to Y", as ssh-keygen -L. */
static void
format_validity(const struct sshkey *k, char *buf, size_t len)
{
	uint64_t after = sshcert_valid_after(k),
		 before = sshcert_valid_before(k);
	char from[64], to[64];

	if (after == 0 && before == SSHCERT_FOREVER) {
		snprintf(buf, len, "forever");
		return;
	}
	sshcert_format_time(after, 0, from, sizeof(from));
	sshcert_format_time(before, 1, to, sizeof(to));
	if (after == 0)
		snprintf(buf, len, "before %s", to);
	else if (before == SSHCERT_FOREVER)
		snprintf(buf, len, "after %s", from);
	else
		snprintf(buf, len, "from %s to %s", from, to);
}

/* The known options ssh-keygen prints by name only or with their string. */
static int
option_is_flag(const char *name, int critical)
{
	static const char *const ext_flags[] = {
		"permit-X11-forwarding",
		"permit-agent-forwarding",
		"permit-port-forwarding",
		"permit-pty",
		"permit-user-rc",
		"no-touch-required",
	};
	size_t i;

	if (critical)
		return strcmp(name, "verify-required") == 0;
	for (i = 0; i < sizeof(ext_flags) / sizeof(ext_flags[0]); i++)
		if (strcmp(name, ext_flags[i]) == 0)
			return 1;
	return 0;
}

static int
option_has_string(const char *name, int critical)
{
	return critical &&
	    (strcmp(name, "force-command") == 0 ||
		strcmp(name, "source-address") == 0);
}

static int
print_options(const struct sshkey *k, int critical)
{
	size_t i, n = critical ? sshcert_ncritical(k) : sshcert_nextensions(k);
	const char *name, *value;
	int e;

	printf("        %s: ", critical ? "Critical Options" : "Extensions");
	if (n == 0) {
		printf("(none)\n");
		return 0;
	}
	printf("\n");
	for (i = 0; i < n; i++) {
		e = critical ? sshcert_critical(k, i, &name, &value) :
			       sshcert_extension(k, i, &name, &value);
		if (e != 0)
			return e;
		printf("                ");
		cli_print_escaped(stdout, name, HCT_MAX_SHOWN);
		if (option_is_flag(name, critical))
			printf("\n");
		else if (option_has_string(name, critical) && value != NULL) {
			printf(" ");
			cli_print_escaped(stdout, value, 0);
			printf("\n");
		} else if (value != NULL) {
			printf(" UNKNOWN OPTION: \"");
			cli_print_escaped(stdout, value, HCT_MAX_SHOWN);
			printf("\"\n");
		} else
			printf(" UNKNOWN FLAG OPTION\n");
	}
	return 0;
}

static int
print_cert_text(const struct inspect *in, size_t lnum, const struct sshkey *k)
{
	const struct sshkey *ca = sshcert_signature_key(k);
	char *fp = NULL, *cafp = NULL, valid[160];
	size_t i, n;
	int e;

	if ((e = sshkey_fingerprint(k, &fp)) != 0 ||
	    (e = sshkey_fingerprint(ca, &cafp)) != 0)
		goto out;
	format_validity(k, valid, sizeof(valid));
	if (lnum == 1)
		printf("%s:\n", in->path);
	else
		printf("%s:%zu:\n", in->path, lnum);
	printf("        Type: %s %s certificate\n", sshkey_ssh_name(k),
	    sshcert_type(k) == SSHCERT_HOST ? "host" : "user");
	printf("        Public key: %s %s\n", sshkey_label(k), fp);
	printf("        Signing CA: %s %s (using %s)\n", sshkey_label(ca), cafp,
	    sshcert_signature_alg(k));
	printf("        Key ID: \"");
	cli_print_escaped(stdout, sshcert_key_id(k), 0);
	printf("\"\n");
	printf("        Serial: %" PRIu64 "\n", sshcert_serial(k));
	printf("        Valid: %s\n", valid);
	printf("        Principals: ");
	if ((n = sshcert_nprincipals(k)) == 0)
		printf("(none)\n");
	else {
		for (i = 0; i < n; i++) {
			printf("\n                ");
			cli_print_escaped(stdout, sshcert_principal(k, i), 0);
		}
		printf("\n");
	}
	if ((e = print_options(k, 1)) != 0 || (e = print_options(k, 0)) != 0)
		goto out;
	e = 0;
out:
	free(fp);
	free(cafp);
	return e;
}

/* "256 SHA256:... comment (ED25519)", as ssh-keygen -l. */
static int
print_key_text(const struct sshkey *k, const char *comment)
{
	char *fp = NULL;
	int e;

	if ((e = sshkey_fingerprint(k, &fp)) != 0)
		return e;
	printf("%u %s ", sshkey_bits(k), fp);
	if (comment != NULL && *comment != '\0')
		cli_print_escaped(stdout, comment, 0);
	else
		printf("no comment");
	printf(" (%s)\n", sshkey_label(k));
	free(fp);
	return 0;
}

/* ---------------------------------------------------------------- JSON objects */

static int
json_key_fields(FILE *f, int *first, const struct sshkey *k)
{
	char *fp = NULL;
	int e;

	if ((e = sshkey_fingerprint(k, &fp)) != 0)
		return e;
	json_member_str(f, first, "type", sshkey_plain_name(k));
	json_member_str(f, first, "label", sshkey_label(k));
	json_member_u64(f, first, "bits", sshkey_bits(k));
	json_member_str(f, first, "fingerprint", fp);
	free(fp);
	return 0;
}

static int
json_options(FILE *f, int *first, const struct sshkey *k, int critical)
{
	size_t i, n = critical ? sshcert_ncritical(k) : sshcert_nextensions(k);
	const char *name, *value;
	int e;

	json_member(f, first, critical ? "critical_options" : "extensions");
	fputc('[', f);
	for (i = 0; i < n; i++) {
		int ofirst = 1;

		e = critical ? sshcert_critical(k, i, &name, &value) :
			       sshcert_extension(k, i, &name, &value);
		if (e != 0)
			return e;
		fputs(i == 0 ? "{" : ",{", f);
		json_member_str(f, &ofirst, "name", name);
		json_member_str(f, &ofirst, "value", value);
		fputc('}', f);
	}
	fputc(']', f);
	return 0;
}

static int
json_cert(FILE *f, int *first, const struct sshkey *k, const char *comment)
{
	const struct sshkey *ca = sshcert_signature_key(k);
	char valid[160];
	size_t i, n;
	int sub, e;

	format_validity(k, valid, sizeof(valid));
	json_member_str(f, first, "kind", "certificate");
	json_member_str(f, first, "type", sshkey_ssh_name(k));
	json_member_str(f, first, "cert_type",
	    sshcert_type(k) == SSHCERT_HOST ? "host" : "user");
	json_member(f, first, "public_key");
	sub = 1;
	fputc('{', f);
	if ((e = json_key_fields(f, &sub, k)) != 0)
		return e;
	fputc('}', f);
	json_member(f, first, "signing_ca");
	sub = 1;
	fputc('{', f);
	if ((e = json_key_fields(f, &sub, ca)) != 0)
		return e;
	json_member_str(f, &sub, "signature_alg", sshcert_signature_alg(k));
	fputc('}', f);
	json_member_str(f, first, "key_id", sshcert_key_id(k));
	json_member_u64(f, first, "serial", sshcert_serial(k));
	json_member_u64(f, first, "valid_after", sshcert_valid_after(k));
	json_member_u64(f, first, "valid_before", sshcert_valid_before(k));
	json_member_str(f, first, "valid", valid);
	json_member(f, first, "principals");
	fputc('[', f);
	n = sshcert_nprincipals(k);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		json_str(f, sshcert_principal(k, i));
	}
	fputc(']', f);
	if ((e = json_options(f, first, k, 1)) != 0 ||
	    (e = json_options(f, first, k, 0)) != 0)
		return e;
	json_member_str(f, first, "comment", nonempty(comment));
	return 0;
}

static int
json_pubkey(FILE *f, int *first, const struct sshkey *k, const char *comment)
{
	int e;

	json_member_str(f, first, "kind", "public-key");
	if ((e = json_key_fields(f, first, k)) != 0)
		return e;
	json_member_str(f, first, "comment", nonempty(comment));
	return 0;
}

/* ---------------------------------------------------------------- kinds */

/* One key line (or its error) as JSON. */
static void
json_line(const struct inspect *in, int *first, size_t lnum,
    const struct sshkey *k, const char *comment, int err)
{
	json_member_u64(stdout, first, "line", lnum);
	if (err != 0) {
		json_member_str(stdout, first, "kind", "invalid");
		json_member_str(stdout, first, "error", trasa_strerror(err));
		return;
	}
	if (sshkey_is_cert(k))
		err = json_cert(stdout, first, k, comment);
	else
		err = json_pubkey(stdout, first, k, comment);
	if (err != 0)
		json_member_str(stdout, first, "error", trasa_strerror(err));
}

/* Lines that are neither blank nor comments (text is not changed). */
static int
count_key_lines(const char *text, size_t *count)
{
	char *copy, *cursor, *line;
	size_t n = 0;

	if ((copy = strdup(text)) == NULL)
		return TRASA_ERR_ALLOC;
	for (cursor = copy; (line = hct_next_line(&cursor)) != NULL;)
		if (!hct_skip_blank(&line))
			n++;
	free(copy);
	*count = n;
	return 0;
}

/* Public keys and certificates, one per line (comments skipped). */
static int
inspect_text(const struct inspect *in, const struct tbuf *b)
{
	char *text = NULL, *cursor, *line, *comment;
	struct sshkey *k;
	size_t lnum = 0, nkeys = 0, nbad = 0;
	int e, first = 1, wrap, ret = CLI_EXIT_FAIL;

	if ((e = hct_text_of(b, &text)) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not a key, certificate or KRL (binary data)",
		    in->path);
		goto out;
	}
	if ((e = count_key_lines(text, &nkeys)) != 0) {
		ret = cli_error(CLI_EXIT_FAIL, e, "%s", in->path);
		goto out;
	}
	if (nkeys == 0) {
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: no key, certificate or KRL found", in->path);
		goto out;
	}
	if (nkeys > MAX_KEY_LINES) {
		ret = cli_error(CLI_EXIT_FAIL, 0, "%s: more than %d keys",
		    in->path, MAX_KEY_LINES);
		goto out;
	}
	wrap = in->json && nkeys > 1;
	if (in->json) {
		printf("{");
		json_member_str(stdout, &first, "file", in->path);
		if (wrap) {
			json_member_str(stdout, &first, "kind", "list");
			json_member(stdout, &first, "entries");
			printf("[");
		}
	}
	nkeys = 0;
	for (cursor = text; (line = hct_next_line(&cursor)) != NULL;) {
		lnum++;
		if (hct_skip_blank(&line))
			continue;
		k = NULL;
		comment = NULL;
		e = sshkey_parse_public(line, &k, &comment);
		if (e != 0)
			nbad++;
		if (in->json) {
			int efirst = 1;

			if (wrap) {
				printf(nkeys > 0 ? ",{" : "{");
				json_line(in, &efirst, lnum, k, comment, e);
				printf("}");
			} else
				json_line(in, &first, lnum, k, comment, e);
		} else if (e != 0) {
			cli_error(0, e, "%s:%zu: invalid key or certificate",
			    in->path, lnum);
		} else if (sshkey_is_cert(k)) {
			if ((e = print_cert_text(in, lnum, k)) != 0) {
				nbad++;
				cli_error(0, e, "%s:%zu", in->path, lnum);
			}
		} else if ((e = print_key_text(k, comment)) != 0) {
			nbad++;
			cli_error(0, e, "%s:%zu", in->path, lnum);
		}
		nkeys++;
		sshkey_free(k);
		free(comment);
	}
	if (in->json)
		printf(wrap ? "]}\n" : "}\n");
	ret = nbad == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	free(text);
	return ret;
}

static const char *
pem_format(const struct tbuf *b)
{
	static const struct {
		const char *armour, *name;
	} formats[] = {
		{ "-----BEGIN OPENSSH PRIVATE KEY-----", "openssh-key-v1" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----", "pkcs8-encrypted" },
		{ "-----BEGIN PRIVATE KEY-----", "pkcs8" },
	};
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (memmem(tbuf_ptr(b), tbuf_len(b), formats[i].armour,
			strlen(formats[i].armour)) != NULL)
			return formats[i].name;
	return "pem";
}

/* A private key: only its public information is shown. */
static int
inspect_private(const struct inspect *in, const struct tbuf *b)
{
	const char *format = pem_format(b);
	struct sshkey *k = NULL;
	char *comment = NULL;
	int e, first = 1, ret;

	if (tbuf_len(b) > HCT_MAX_PRIVKEY_FILE)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: private key file larger than %u bytes", in->path,
		    HCT_MAX_PRIVKEY_FILE);
	e = sshkey_private_parse(tbuf_ptr(b), tbuf_len(b), NULL, &k, &comment);
	if (e == TRASA_ERR_ENCRYPTED || e == TRASA_ERR_PASSPHRASE)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: private key (%s) is "
		    "encrypted; inspect its public key file instead",
		    in->path, format);
	if (e != 0)
		return cli_error(CLI_EXIT_FAIL, e,
		    "%s: invalid private key (%s)", in->path, format);
	cli_debug("%s: %s private key; showing its public part", in->path,
	    format);
	if (in->json) {
		printf("{");
		json_member_str(stdout, &first, "file", in->path);
		json_member_str(stdout, &first, "kind", "private-key");
		json_member_str(stdout, &first, "format", format);
		e = json_key_fields(stdout, &first, k);
		json_member_str(stdout, &first, "comment", nonempty(comment));
		printf("}\n");
	} else
		e = print_key_text(k, comment);
	ret =
	    e == 0 ? CLI_EXIT_OK : cli_error(CLI_EXIT_FAIL, e, "%s", in->path);
	sshkey_free(k);
	free(comment);
	return ret;
}

static int
inspect_krl(const struct inspect *in, const struct tbuf *b)
{
	struct krl *krl = NULL;
	char *listing = NULL, *fp;
	size_t listlen = 0, i, n;
	FILE *mem;
	int e, first = 1, ret = CLI_EXIT_FAIL;

	if ((e = krl_parse(tbuf_ptr(b), tbuf_len(b), &krl)) != 0)
		return cli_error(CLI_EXIT_FAIL, e, "%s: invalid KRL", in->path);
	if (!in->json) {
		if ((e = krl_print(krl, stdout)) != 0) {
			ret = cli_error(CLI_EXIT_FAIL, e, "%s", in->path);
			goto out;
		}
		ret = CLI_EXIT_OK;
		goto out;
	}
	if ((mem = open_memstream(&listing, &listlen)) == NULL) {
		ret = cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s", in->path);
		goto out;
	}
	e = krl_print(krl, mem);
	if (fclose(mem) != 0 && e == 0)
		e = TRASA_ERR_ALLOC;
	if (e != 0) {
		ret = cli_error(CLI_EXIT_FAIL, e, "%s", in->path);
		goto out;
	}
	printf("{");
	json_member_str(stdout, &first, "file", in->path);
	json_member_str(stdout, &first, "kind", "krl");
	json_member_u64(stdout, &first, "version", krl_version(krl));
	json_member_u64(stdout, &first, "date", krl_date(krl));
	json_member_str(stdout, &first, "comment", nonempty(krl_comment(krl)));
	json_member(stdout, &first, "signers");
	printf("[");
	n = krl_nsigners(krl);
	for (i = 0; i < n; i++) {
		if (sshkey_fingerprint(krl_signer(krl, i), &fp) != 0)
			fp = NULL;
		printf(i > 0 ? "," : "");
		json_str(stdout, fp);
		free(fp);
	}
	printf("]");
	json_member_str(stdout, &first, "listing", listing);
	printf("}\n");
	ret = CLI_EXIT_OK;
out:
	free(listing);
	krl_free(krl);
	return ret;
}

static void
inspect_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s inspect [--json] FILE\n"
	    "Show a public key, certificate, private key (public part only)\n"
	    "or binary KRL.\n"
	    "  --json         print one JSON object\n"
	    "  -v, --verbose  say more on stderr\n",
	    cli_get_progname());
}

int
cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct inspect in = { NULL, 0 };
	struct tbuf *b = NULL;
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case 'j': in.json = 1; break;
		case 'h': inspect_usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option("inspect", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("inspect", "missing FILE");
	if (argc - optind > 1)
		return cli_usage_error("inspect", "one FILE only");
	in.path = argv[optind];
	if ((ret = hct_read(in.path, KRL_MAX_SIZE, &b)) != 0)
		return ret;
	if (tbuf_len(b) >= KRL_MAGIC_LEN &&
	    memcmp(tbuf_ptr(b), KRL_MAGIC, KRL_MAGIC_LEN) == 0)
		ret = inspect_krl(&in, b);
	else if (tbuf_len(b) > 0 &&
	    memmem(tbuf_ptr(b), tbuf_len(b), "-----BEGIN ", 11) != NULL)
		ret = inspect_private(&in, b);
	else if (tbuf_len(b) > HCT_MAX_TEXT_FILE)
		ret = cli_error(CLI_EXIT_FAIL, 0,
		    "%s: larger than %u bytes and "
		    "not a KRL",
		    in.path, HCT_MAX_TEXT_FILE);
	else
		ret = inspect_text(&in, b);
	tbuf_free(b);
	return ret;
}

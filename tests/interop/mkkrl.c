/*
 * mkkrl: write a KRL through libtrasa, for the shell tests.
 *
 *   mkkrl OUT [--sign PRIVKEY] [--version N] [--date N] [--comment TEXT]
 *             [--ca CAPUB|none] [--serial N|N-M]... [--key-id ID]...
 *             [--key PUB]... [--sha1 PUB]... [--sha256 PUB]...
 *
 * --serial and --key-id apply to the CA named by the last --ca before them
 * (every CA, as `ssh-keygen -k -s none`, before any --ca or after
 * --ca none). --key revokes the plain key (also of a certificate).
 * Exit 0 on success, 1 on error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "krl.h"
#include "sshkey.h"
#include "tbuf.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mkkrl OUT [--sign PRIVKEY] [--version N] "
	    "[--date N] [--comment TEXT]\n"
	    "             [--ca CAPUB|none] [--serial N|N-M]... "
	    "[--key-id ID]...\n"
	    "             [--key PUB]... [--sha1 PUB]... [--sha256 PUB]...\n");
	exit(1);
}

static int
parse_u64(const char *s, const char **end, unsigned long long *v)
{
	char *ep;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &ep, 10);
	if (errno != 0)
		return -1;
	*end = ep;
	return 0;
}

static int
parse_serials(const char *s, unsigned long long *lo, unsigned long long *hi)
{
	const char *ep;

	if (parse_u64(s, &ep, lo) != 0)
		return -1;
	*hi = *lo;
	if (*ep == '-' && parse_u64(ep + 1, &ep, hi) != 0)
		return -1;
	return *ep == '\0' ? 0 : -1;
}

static struct sshkey *
load_pub(const char *path)
{
	struct sshkey *k = NULL;
	int e;

	if ((e = sshkey_load_public(path, &k, NULL)) != 0) {
		fprintf(stderr, "mkkrl: %s: %s\n", path, trasa_strerror(e));
		exit(1);
	}
	return k;
}

int
main(int argc, char **argv)
{
	struct krl *krl = NULL;
	struct sshkey *ca = NULL, *sign = NULL, *k;
	struct tbuf *out = NULL;
	unsigned long long lo, hi;
	const char *opt, *arg, *ep;
	int i, e;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	if ((e = krl_new(&krl)) != 0)
		goto fail;
	for (i = 2; i < argc; i += 2) {
		opt = argv[i];
		if (i + 1 >= argc)
			usage();
		arg = argv[i + 1];
		e = 0;
		if (strcmp(opt, "--sign") == 0) {
			sshkey_free(sign);
			sign = NULL;
			if ((e = sshkey_load_private(arg, NULL, &sign,
			    NULL)) != 0) {
				fprintf(stderr, "mkkrl: %s: %s\n", arg,
				    trasa_strerror(e));
				goto out;
			}
		} else if (strcmp(opt, "--version") == 0) {
			if (parse_u64(arg, &ep, &lo) != 0 || *ep != '\0')
				usage();
			krl_set_version(krl, lo);
		} else if (strcmp(opt, "--date") == 0) {
			if (parse_u64(arg, &ep, &lo) != 0 || *ep != '\0')
				usage();
			krl_set_date(krl, lo);
		} else if (strcmp(opt, "--comment") == 0) {
			e = krl_set_comment(krl, arg);
		} else if (strcmp(opt, "--ca") == 0) {
			sshkey_free(ca);
			ca = strcmp(arg, "none") == 0 ? NULL : load_pub(arg);
		} else if (strcmp(opt, "--serial") == 0) {
			if (parse_serials(arg, &lo, &hi) != 0)
				usage();
			e = krl_revoke_serial(krl, ca, lo, hi);
		} else if (strcmp(opt, "--key-id") == 0) {
			e = krl_revoke_key_id(krl, ca, arg);
		} else if (strcmp(opt, "--key") == 0 ||
		    strcmp(opt, "--sha1") == 0 || strcmp(opt, "--sha256") == 0) {
			k = load_pub(arg);
			if (strcmp(opt, "--key") == 0)
				e = krl_revoke_key(krl, k);
			else if (strcmp(opt, "--sha1") == 0)
				e = krl_revoke_key_sha1(krl, k);
			else
				e = krl_revoke_key_sha256(krl, k);
			sshkey_free(k);
		} else
			usage();
		if (e != 0) {
			fprintf(stderr, "mkkrl: %s %s: %s\n", opt, arg,
			    trasa_strerror(e));
			goto out;
		}
	}
	if ((out = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto fail;
	}
	if ((e = krl_write(krl, sign, out)) != 0 ||
	    (e = fileio_write(argv[1], tbuf_ptr(out), tbuf_len(out), 0644,
	    0)) != 0)
		goto fail;
	goto out;
fail:
	fprintf(stderr, "mkkrl: %s: %s\n", argv[1], trasa_strerror(e));
out:
	tbuf_free(out);
	sshkey_free(ca);
	sshkey_free(sign);
	krl_free(krl);
	return e == 0 ? 0 : 1;
}

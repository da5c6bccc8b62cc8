/* test_gwconfig.c: gateway.conf parsing: defaults, every key, bad files. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "conf.h"
#include "err.h"

static char dir[] = "/tmp/trasa-gwconfig.XXXXXX";
static char errfile[300];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
	cli_set_progname("test");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to DIR/gateway.conf (mode 0600) and return its path. */
static const char *
conf(const char *text)
{
	static char p[300];
	FILE *f;

	snprintf(p, sizeof(p), "%s/gateway.conf", dir);
	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, 0600), 0);
	return p;
}

/* gw_config_load() with stderr captured; returns its result and leaves
 * what it printed in msg. */
static int
load(const char *path, struct gw_config *cfg, char *msg, size_t len)
{
	int saved, fd, ret;
	FILE *f;
	size_t n;

	fflush(stderr);
	saved = dup(2);
	fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	ret = gw_config_load(path, cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(errfile, "r");
	assert_non_null(f);
	n = fread(msg, 1, len - 1, f);
	msg[n] = '\0';
	fclose(f);
	return ret;
}

static void
test_defaults(void **state)
{
	struct gw_config cfg;
	char msg[512];

	(void)state;
	assert_int_equal(load(conf(""), &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_string_equal(cfg.listen, GW_DEFAULT_LISTEN);
	assert_null(cfg.state_dir);
	assert_null(cfg.tls_cert);
	assert_null(cfg.passphrase_file);
	assert_string_equal(cfg.home_base, "/home");
	assert_string_equal(cfg.shell, "/bin/bash");
	assert_true(cfg.uid_min >= 1000 && cfg.uid_min <= cfg.uid_max);
	assert_true(cfg.gid_min >= 1000 && cfg.gid_min <= cfg.gid_max);
	assert_int_equal(cfg.user_ttl, 300);
	assert_true(cfg.user_ttl <= cfg.user_max_ttl);
	assert_true(cfg.host_ttl <= cfg.host_max_ttl);
	assert_true(cfg.token_ttl <= cfg.token_max_ttl);
	assert_true(cfg.max_principals >= 1);
	gw_config_free(&cfg);
}

static void
test_every_key(void **state)
{
	struct gw_config cfg;
	char msg[512];

	(void)state;
	assert_int_equal(load(conf("; comment\n"
				  "[server]\n"
				  "listen = [::1]:9443\n"
				  "state_dir = /srv/trasa\n"
				  "tls_cert = /etc/trasa/tls.crt\n"
				  "tls_key = /etc/trasa/tls.key\n"
				  "threads = 4\n"
				  "[ca]\n"
				  "passphrase_file = /etc/trasa/pass\n"
				  "[users]\n"
				  "uid_min = 5000\n"
				  "uid_max = 5999\n"
				  "gid_min = 6000\n"
				  "gid_max = 6999\n"
				  "home_base = /srv/home\n"
				  "shell = /bin/sh\n"
				  "[certs]\n"
				  "user_ttl = 10m\n"
				  "user_max_ttl = 2h\n"
				  "host_ttl = 7d\n"
				  "host_max_ttl = 2w\n"
				  "max_principals = 8\n"
				  "[hosts]\n"
				  "token_ttl = 900\n"
				  "token_max_ttl = 1d\n"),
			     &cfg, msg, sizeof(msg)),
	    0);
	assert_string_equal(cfg.listen, "[::1]:9443");
	assert_string_equal(cfg.state_dir, "/srv/trasa");
	assert_string_equal(cfg.tls_cert, "/etc/trasa/tls.crt");
	assert_string_equal(cfg.tls_key, "/etc/trasa/tls.key");
	assert_int_equal(cfg.threads, 4);
	assert_string_equal(cfg.passphrase_file, "/etc/trasa/pass");
	assert_int_equal(cfg.uid_min, 5000);
	assert_int_equal(cfg.uid_max, 5999);
	assert_int_equal(cfg.gid_min, 6000);
	assert_int_equal(cfg.gid_max, 6999);
	assert_string_equal(cfg.home_base, "/srv/home");
	assert_string_equal(cfg.shell, "/bin/sh");
	assert_int_equal(cfg.user_ttl, 600);
	assert_int_equal(cfg.user_max_ttl, 7200);
	assert_int_equal(cfg.host_ttl, 7 * 86400);
	assert_int_equal(cfg.host_max_ttl, 14 * 86400);
	assert_int_equal(cfg.max_principals, 8);
	assert_int_equal(cfg.token_ttl, 900);
	assert_int_equal(cfg.token_max_ttl, 86400);
	gw_config_free(&cfg);
}

/* Each bad file: refused, with a message naming the file and line. */
static void
test_bad_files(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[server]\nlisten = x:1\nbogus = 1\n",
		    ":3: unknown key 'bogus' in [server]" },
		{ "[nope]\nx = 1\n", ":2: unknown section [nope]" },
		{ "[users]\nuid_min = 12abc\n",
		    ":2: uid_min: '12abc' is not a number" },
		{ "[users]\nuid_min = 10\n", ":2: uid_min: '10' is not a number" },
		{ "[certs]\nuser_ttl = 5 minutes\n",
		    ":2: user_ttl: '5 minutes' is not a duration" },
		{ "[certs]\nuser_ttl = 0\n", ":2: user_ttl:" },
		{ "[certs]\nmax_principals = 1000\n", ":2: max_principals:" },
		{ "[server]\nlisten =\n", ":2: listen: empty value" },
		{ "just text\n", ":1: not an INI line" },
		{ "[users]\nuid_min = 9000\nuid_max = 8000\n",
		    "uid_min/gid_min above" },
		{ "[certs]\nuser_ttl = 2h\nuser_max_ttl = 1h\n",
		    "default ttl is above" },
	};
	struct gw_config cfg;
	char msg[512];
	const char *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = conf(cases[i].text);
		memset(&cfg, 0x5a, sizeof(cfg));
		assert_int_equal(load(p, &cfg, msg, sizeof(msg)),
		    CLI_EXIT_FAIL);
		if (strstr(msg, cases[i].want) == NULL || strstr(msg, p) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, msg,
			    cases[i].want);
		/* One line. */
		assert_non_null(strchr(msg, '\n'));
		assert_string_equal(strchr(msg, '\n'), "\n");
		/* Nothing left allocated. */
		assert_null(cfg.listen);
		assert_null(cfg.home_base);
	}
}

static void
test_missing_and_unsafe(void **state)
{
	struct gw_config cfg;
	char msg[512], p[300];
	const char *c;

	(void)state;
	/* An explicit file that does not exist is an error. */
	snprintf(p, sizeof(p), "%s/absent.conf", dir);
	assert_int_equal(load(p, &cfg, msg, sizeof(msg)), CLI_EXIT_FAIL);
	assert_non_null(strstr(msg, "absent.conf"));
	/* A group-writable file is not trusted. */
	c = conf("[server]\nthreads = 2\n");
	assert_int_equal(chmod(c, 0664), 0);
	assert_int_equal(load(c, &cfg, msg, sizeof(msg)), CLI_EXIT_FAIL);
	assert_non_null(strstr(msg, "gateway.conf"));
	/* A symlink is not followed. */
	snprintf(p, sizeof(p), "%s/link.conf", dir);
	assert_int_equal(chmod(c, 0600), 0);
	assert_int_equal(symlink(c, p), 0);
	assert_int_equal(load(p, &cfg, msg, sizeof(msg)), CLI_EXIT_FAIL);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = { { "1", 1 }, { "300", 300 }, { "45s", 45 },
		{ "5m", 300 }, { "1h", 3600 }, { "30d", 2592000 },
		{ "2w", 1209600 } };
	static const char *bad[] = { "", "0", "-1", "m", "5x", "5mm", " 5",
		"5 ", "99999999999999999999", "9999999w" };
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(gw_parse_duration(good[i].s, &v), 0);
		assert_int_equal(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		if (gw_parse_duration(bad[i], &v) != TRASA_ERR_INVALID_ARG)
			fail_msg("'%s' was taken", bad[i]);
		assert_int_equal(v, 77);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_missing_and_unsafe),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

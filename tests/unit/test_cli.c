/* test_cli.c: the command-line tools' shared messages and escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "err.h"

static void
test_utf8_len(void **state)
{
	assert_int_equal(cli_utf8_len((const unsigned char *)"a"), 1);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xc3\xa9"), 2);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xe2\x82\xac"), 3);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xf0\x9f\x94\x91"), 4);
	/* Truncated, overlong, surrogate and stray continuation bytes. */
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xc3"), 0);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xc0\xaf"), 0);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\xed\xa0\x80"), 0);
	assert_int_equal(cli_utf8_len((const unsigned char *)"\x80"), 0);
}

static void
test_escape(void **state)
{
	char *s;

	s = cli_escape_string("plain ascii", 0);
	assert_string_equal(s, "plain ascii");
	free(s);
	s = cli_escape_string("bell\a back\\slash \x1b[31m caf\xc3\xa9 \xff", 0);
	assert_string_equal(s, "bell\\x07 back\\x5cslash \\x1b[31m caf\xc3\xa9 \\xff");
	free(s);
	s = cli_escape_string("abcdefgh", 4);
	assert_string_equal(s, "abcd...");
	free(s);
	s = cli_escape_string(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

static void
test_messages(void **state)
{
	char buf[512];
	FILE *f;
	int saved;

	cli_set_progname("tool");
	assert_string_equal(cli_get_progname(), "tool");
	/* Capture stderr in a temporary file. */
	fflush(stderr);
	saved = dup(2);
	assert_non_null(f = tmpfile());
	assert_int_not_equal(dup2(fileno(f), 2), -1);
	assert_int_equal(cli_error(CLI_EXIT_FAIL, TRASA_ERR_EXPIRED, "%s", "x.pub"),
	    CLI_EXIT_FAIL);
	assert_int_equal(cli_usage_error("verify", "missing %s", "--ca"),
	    CLI_EXIT_USAGE);
	cli_set_verbose(0);
	cli_debug("hidden");
	cli_set_verbose(1);
	cli_debug("shown");
	fflush(stderr);
	assert_int_not_equal(dup2(saved, 2), -1);
	close(saved);
	rewind(f);
	memset(buf, 0, sizeof(buf));
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_non_null(strstr(buf,
	    "tool: x.pub: certificate has expired\n"));
	assert_non_null(strstr(buf, "tool: verify: missing --ca"));
	assert_non_null(strstr(buf, "tool: shown\n"));
	assert_null(strstr(buf, "hidden"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

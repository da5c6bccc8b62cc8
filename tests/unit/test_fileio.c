/* test_fileio.c: trusted reads and atomic writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fileio.h"
#include "tbuf.h"

static char dir[] = "/tmp/trasa-fileio.XXXXXX";

static int
setup(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *
path(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void
test_write_then_read(void **state)
{
	struct tbuf *b = NULL;
	struct stat st;
	char target[256];

	snprintf(target, sizeof(target), "%s", path("a"));
	assert_int_equal(fileio_write(target, "hello", 5, 0600, 0), 0);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fileio_read(target, 100, FILEIO_TRUSTED, &b), 0);
	assert_int_equal(tbuf_len(b), 5);
	assert_memory_equal(tbuf_ptr(b), "hello", 5);
	tbuf_free(b);
	b = NULL;
	/* Replace atomically. */
	assert_int_equal(fileio_write(target, "bye", 3, 0644, 0), 0);
	assert_int_equal(fileio_read(target, 100, 0, &b), 0);
	assert_int_equal(tbuf_len(b), 3);
	tbuf_free(b);
	b = NULL;
	/* No overwrite: refused, contents unchanged, no temp file left. */
	assert_int_equal(fileio_write(target, "xx", 2, 0644, FILEIO_NO_OVERWRITE),
	    TRASA_ERR_EXISTS);
	assert_int_equal(fileio_read(target, 100, 0, &b), 0);
	assert_int_equal(tbuf_len(b), 3);
	tbuf_free(b);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_read_refusals(void **state)
{
	struct tbuf *b = NULL;
	char target[256], link_path[256];

	snprintf(target, sizeof(target), "%s", path("big"));
	assert_int_equal(fileio_write(target, "0123456789", 10, 0644, 0), 0);
	assert_int_equal(fileio_read(target, 9, 0, &b), TRASA_ERR_TOO_LONG);
	assert_null(b);
	/* Group-writable: not trusted. */
	assert_int_equal(chmod(target, 0664), 0);
	assert_int_equal(fileio_read(target, 100, FILEIO_TRUSTED, &b),
	    TRASA_ERR_FILE_PERM);
	assert_int_equal(fileio_read(target, 100, 0, &b), 0);
	tbuf_free(b);
	b = NULL;
	/* Symlinks and directories are refused. */
	snprintf(link_path, sizeof(link_path), "%s", path("link"));
	assert_int_equal(symlink(target, link_path), 0);
	assert_int_equal(fileio_read(link_path, 100, 0, &b), TRASA_ERR_FILE_PERM);
	assert_int_equal(fileio_read(dir, 100, 0, &b), TRASA_ERR_FILE_PERM);
	assert_int_equal(fileio_read(path("missing"), 100, 0, &b), TRASA_ERR_IO);
	assert_null(b);
}

static void
test_write_failure_leaves_nothing(void **state)
{
	assert_int_equal(fileio_write("/nonexistent-dir/x", "a", 1, 0600, 0),
	    TRASA_ERR_IO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_read_refusals),
		cmocka_unit_test(test_write_failure_leaves_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

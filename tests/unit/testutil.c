/* testutil.c: helpers for the cmocka tests. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sshkey.h"
#include "tbuf.h"

#ifndef SSH_KEYGEN_PATH
#define SSH_KEYGEN_PATH "ssh-keygen"
#endif

static char tmpdir[256];
static pid_t owner;

static void
cleanup(void)
{
	char cmd[300];

	if (tmpdir[0] != '\0' && getpid() == owner) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

const char *
tu_tmpdir(void)
{
	const char *base;

	if (tmpdir[0] == '\0') {
		base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/trasa-test.XXXXXX",
		    base != NULL ? base : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			abort();
		}
		owner = getpid();
		atexit(cleanup);
	}
	return tmpdir;
}

const char *
tu_path(const char *name)
{
	static char slots[8][512];
	static int next;
	char *p = slots[next++ % 8];

	snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
	return p;
}

const char *
tu_ssh_keygen(void)
{
	const char *e = getenv("SSH_KEYGEN");

	return e != NULL && *e != '\0' ? e : SSH_KEYGEN_PATH;
}

static char *vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

int
tu_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int st;

	va_start(ap, fmt);
	cmd = vformat(fmt, ap);
	va_end(ap);
	st = system(cmd);
	free(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

char *
tu_sh_out(const char *fmt, ...)
{
	va_list ap;
	char *cmd, *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *f;

	va_start(ap, fmt);
	cmd = vformat(fmt, ap);
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL) {
		free(cmd);
		return NULL;
	}
	free(cmd);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (pclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (buf == NULL)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	return buf;
}

void
tu_keygen(const char *type, const char *name)
{
	const char *t = type, *bits = NULL;
	char tb[32];
	const char *dash;

	if ((dash = strchr(type, '-')) != NULL) {
		snprintf(tb, sizeof(tb), "%.*s", (int)(dash - type), type);
		t = tb;
		bits = dash + 1;
	}
	unlink(tu_path(name));
	assert_int_equal(tu_sh("'%s' -q -N '' -C test -t %s %s%s -f '%s'",
	    tu_ssh_keygen(), t, bits ? "-b " : "", bits ? bits : "",
	    tu_path(name)), 0);
}

uint8_t *
tu_read(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t n = 0, got;
	char chunk[4096];

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, n + got + 1);
		memcpy(buf + n, chunk, got);
		n += got;
	}
	fclose(f);
	if (buf == NULL)
		buf = calloc(1, 1);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

struct sshkey *
tu_load_pub(const char *path)
{
	struct sshkey *k = NULL;
	int r = sshkey_load_public(path, &k, NULL);

	if (r != 0)
		fail_msg("loading %s: %d", path, r);
	return k;
}

struct sshkey *
tu_load_priv(const char *path)
{
	struct sshkey *k = NULL;
	int r = sshkey_load_private(path, NULL, &k, NULL);

	if (r != 0)
		fail_msg("loading %s: %d", path, r);
	return k;
}

uint8_t *
tu_pub_blob(const char *path, size_t *len)
{
	char *text = (char *)tu_read(path, NULL);
	char *sp, *end;
	struct tbuf *b = NULL;
	uint8_t *out;

	assert_non_null(text);
	sp = strchr(text, ' ');
	assert_non_null(sp);
	sp++;
	end = sp + strcspn(sp, " \n");
	assert_int_equal(tbuf_from_base64(sp, (size_t)(end - sp), &b), 0);
	*len = tbuf_len(b);
	out = malloc(*len);
	memcpy(out, tbuf_ptr(b), *len);
	tbuf_free(b);
	free(text);
	return out;
}

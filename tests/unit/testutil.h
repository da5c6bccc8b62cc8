/*
 * testutil.h: helpers for the cmocka tests: a private temporary directory,
 * running the real ssh-keygen, reading files, loading keys.
 */
#ifndef TRASA_TESTUTIL_H
#define TRASA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

struct sshkey;

/* A fresh directory for this test process, removed at exit. */
const char *tu_tmpdir(void);
/* path inside tu_tmpdir(); returns a static buffer rotated over 8 slots. */
const char *tu_path(const char *name);
/* Run a shell command (printf-style); returns its exit status, or -1. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command and return its stdout (malloc'd), or NULL. */
char *tu_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ssh-keygen -q -N '' -t TYPE [-b BITS] -f tu_path(name); type as
 * "ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521", "rsa-2048", "rsa-3072". */
void tu_keygen(const char *type, const char *name);
/* The path of the ssh-keygen the tests drive. */
const char *tu_ssh_keygen(void);
/* Whole file (malloc'd, NUL-terminated) or NULL. */
uint8_t *tu_read(const char *path, size_t *len);
/* Load keys through libtrasa; fail the test on error. */
struct sshkey *tu_load_pub(const char *path);
struct sshkey *tu_load_priv(const char *path);
/* Wire blob of the key in a .pub/-cert.pub file (malloc'd). */
uint8_t *tu_pub_blob(const char *path, size_t *len);

#endif

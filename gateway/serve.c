/*
 * serve.c: trasa-gateway serve, the HTTPS API server.
 *
 * libmicrohttpd (GnuTLS inside) with a pool of threads, each with its own
 * epoll set, on one listening socket we bind ourselves. Each complete
 * request becomes a struct gw_req for gw_api_handle() (api.h).
 *
 * TLS: [server] tls_cert and tls_key, or else STATE/tls/cert.pem and
 * STATE/tls/key.pem, made on first start (ECDSA P-256, self-signed, ten
 * years).
 *
 * Signals, taken by sigtimedwait() in the main thread only (they are
 * blocked before any thread starts):
 *   SIGTERM, SIGINT  stop: close the daemon, exit 0
 *   SIGHUP           read the TLS files again; a new daemon takes over
 *                    the same listening socket, the old one stops
 *                    accepting and finishes its connections; bad files
 *                    leave the old certificate in service
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api.h"
#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gateway.h"
#include "tbuf.h"

#define SERVE_TIMEOUT 30u    /* seconds a connection may stay idle */
#define SERVE_DRAIN_MAX 35   /* seconds a replaced daemon may finish */
#define SERVE_MAX_DRAINING 4 /* replaced daemons still finishing */
#define SERVE_MAX_THREADS 256u
#define SERVE_MAX_CONNS 10000u
#define SERVE_MAX_DISCARD (1024u * 1024) /* then an upload is cut off */
#define SERVE_LOG_BURST 10		 /* server messages a minute (no -v) */
#define SERVE_CERT_DAYS 3650
#define SERVE_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* A certificate and its key, as NUL-terminated PEM for the daemon. */
struct tls_pair {
	char *cert;
	char *key; /* wiped on free */
	size_t key_len;
	char fp[3 * EVP_MAX_MD_SIZE + 1]; /* "AB:CD:..." SHA-256 */
};

/* One running daemon, its certificate and its copy of the socket. */
struct instance {
	struct MHD_Daemon *d;
	struct tls_pair *tls;
	int fd;		 /* dup of the listening socket, the daemon's */
	int quiesced;	 /* no longer accepting: fd is ours to close */
	time_t deadline; /* when draining: stop at the latest then */
};

struct server {
	const struct gw *gw;
	struct gw_api *api;
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	int default_tls; /* STATE/tls/, made when missing */
	char host[256];	 /* as given in listen */
	char url[INET6_ADDRSTRLEN + 32];
	struct sockaddr_storage addr;
	int lfd;
	unsigned flags, threads, conn_limit;
	struct instance cur, draining[SERVE_MAX_DRAINING];
};

/* Per request: the upload as it arrives. */
struct req_state {
	uint8_t *body; /* wiped on free */
	size_t len, cap;
	size_t discarded; /* bytes past the cap */
	int too_large;
	struct timespec start;
};

/* A response body to wipe once sent. */
struct resp_body {
	uint8_t *p;
	size_t len;
};

static pthread_key_t thread_key;
static char empty_body[1];

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_quiet;	       /* after start: rate-limit server messages */
static time_t log_window;      /* start of the current minute */
static unsigned log_count;     /* messages printed in it */
static unsigned long log_lost; /* and suppressed */

/* ---------------------------------------------------------------- logging */

/* One line "PROGNAME: MESSAGE" in one write, so threads do not mix. */
static void serve_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
serve_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", cli_get_progname(), buf);
}

/*
 * libmicrohttpd's messages: escaped (they may quote a client), on one
 * line. Once serving, a client can provoke them at will, so without -v
 * at most SERVE_LOG_BURST a minute are shown.
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512], *esc;
	unsigned long lost = 0;
	size_t n;
	time_t now;
	int show = 1;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 &&
	    (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n == 0)
		return;
	pthread_mutex_lock(&log_lock);
	if (log_quiet && !cli_get_verbose()) {
		now = time(NULL);
		if (now - log_window >= 60) {
			lost = log_lost;
			log_window = now;
			log_count = log_lost = 0;
		}
		if (log_count >= SERVE_LOG_BURST) {
			log_lost++;
			show = 0;
		} else
			log_count++;
	}
	pthread_mutex_unlock(&log_lock);
	if (lost > 0)
		serve_log("httpd: %lu more messages were not shown "
			  "(use -v to see them all)",
		    lost);
	if (!show)
		return;
	esc = cli_escape_string(buf, 300);
	serve_log("httpd: %s", esc != NULL ? esc : "(message lost)");
	free(esc);
}

static void
log_set_quiet(int on)
{
	unsigned long lost;

	pthread_mutex_lock(&log_lock);
	lost = log_lost;
	log_lost = 0;
	log_quiet = on;
	log_window = time(NULL);
	log_count = 0;
	pthread_mutex_unlock(&log_lock);
	if (lost > 0)
		serve_log("httpd: %lu more messages were not shown "
			  "(use -v to see them all)",
		    lost);
}

/* ---------------------------------------------------------------- TLS */

static void
tls_free(struct tls_pair *t)
{
	if (t == NULL)
		return;
	free(t->cert);
	if (t->key != NULL)
		OPENSSL_clear_free(t->key, t->key_len);
	free(t);
}

/* Never ask for a passphrase on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A TLS file as a NUL-terminated string; messages name the file. */
static int
tls_read_file(const char *what, const char *path, int is_key, char **out,
    size_t *outlen)
{
	struct tbuf *b = NULL;
	struct stat st;
	char *s = NULL;
	size_t len;
	int e, ret = CLI_EXIT_FAIL;

	errno = 0;
	e = fileio_read(path, GW_MAX_PRIV_FILE, is_key ? FILEIO_TRUSTED : 0,
	    &b);
	if (e != 0) {
		if (e == TRASA_ERR_IO && errno == ENOENT)
			cli_error(CLI_EXIT_FAIL, 0, "%s %s does not exist",
			    what, path);
		else if (e == TRASA_ERR_FILE_PERM)
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s %s: not a regular file, or not owned by root "
			    "or us, or writable by group or others",
			    what, path);
		else if (e == TRASA_ERR_TOO_LONG)
			cli_error(CLI_EXIT_FAIL, 0,
			    "%s %s: larger than %u bytes", what, path,
			    GW_MAX_PRIV_FILE);
		else
			cli_error(CLI_EXIT_FAIL, e, "%s %s", what, path);
		goto out;
	}
	/* A private key others can read is no longer private. */
	if (is_key && stat(path, &st) == 0 && (st.st_mode & S_IROTH) != 0) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "%s %s is readable by others (mode %04o); "
		    "chmod 600 it",
		    what, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	len = tbuf_len(b);
	if (len == 0 || memchr(tbuf_ptr(b), '\0', len) != NULL) {
		cli_error(CLI_EXIT_FAIL, 0, "%s %s: not a PEM file", what,
		    path);
		goto out;
	}
	if ((s = malloc(len + 1)) == NULL) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "%s %s", what, path);
		goto out;
	}
	memcpy(s, tbuf_ptr(b), len);
	s[len] = '\0';
	*out = s;
	*outlen = len + 1;
	ret = 0;
out:
	tbuf_free(b);
	return ret;
}

/* "AB:CD:..." */
static void
hex_fingerprint(const unsigned char *md, unsigned len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned i;

	for (i = 0; i < len; i++) {
		*out++ = hex[md[i] >> 4];
		*out++ = hex[md[i] & 15];
		if (i + 1 < len)
			*out++ = ':';
	}
	*out = '\0';
}

/*
 * Read the certificate and key, check that they parse and belong
 * together (so the daemon's start does not fail on them), and take the
 * certificate's fingerprint.
 */
static int
tls_load(const struct server *srv, struct tls_pair **out)
{
	struct tls_pair *t;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t certlen;
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	int ret = CLI_EXIT_FAIL;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "TLS");
	if (tls_read_file("TLS certificate", srv->cert_path, 0, &t->cert,
		&certlen) != 0 ||
	    tls_read_file("TLS key", srv->key_path, 1, &t->key, &t->key_len) !=
		0)
		goto out;
	if ((bio = BIO_new_mem_buf(t->cert, -1)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "TLS certificate %s: no PEM certificate in it",
		    srv->cert_path);
		goto out;
	}
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(t->key, -1)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) ==
		NULL) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "TLS key %s: not a PEM private key (encrypted keys are "
		    "not supported)",
		    srv->key_path);
		goto out;
	}
	if (X509_check_private_key(x, pkey) != 1) {
		cli_error(CLI_EXIT_FAIL, 0,
		    "TLS key %s does not belong to the certificate %s",
		    srv->key_path, srv->cert_path);
		goto out;
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1) {
		cli_error(CLI_EXIT_FAIL, TRASA_ERR_CRYPTO, "TLS certificate %s",
		    srv->cert_path);
		goto out;
	}
	hex_fingerprint(md, mdlen, t->fp);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		serve_log("warning: TLS certificate %s has expired",
		    srv->cert_path);
	*out = t;
	t = NULL;
	ret = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	X509_free(x);
	BIO_free(bio);
	tls_free(t);
	return ret;
}

/* A name fit for a DNS subjectAltName. */
static int
dns_name_ok(const char *s)
{
	size_t i;

	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '.'))
			return 0;
	return 1;
}

/* "DNS:localhost,IP:127.0.0.1,IP:::1", the host name and the listen
 * address when they add something. */
static void
make_san(const struct server *srv, const char *hostname, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss = &srv->addr;
	size_t n;

	snprintf(buf, len, "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (dns_name_ok(hostname) && strcmp(hostname, "localhost") != 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, ",DNS:%s", hostname);
	}
	if (dns_name_ok(srv->host) && strcmp(srv->host, "localhost") != 0 &&
	    strcmp(srv->host, hostname) != 0 &&
	    inet_pton(AF_INET, srv->host, ip) != 1 &&
	    inet_pton(AF_INET6, srv->host, ip) != 1) {
		n = strlen(buf);
		snprintf(buf + n, len - n, ",DNS:%s", srv->host);
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		uint32_t a = ntohl(s4->sin_addr.s_addr);

		if (a == INADDR_ANY || a == INADDR_LOOPBACK)
			return;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	}
	n = strlen(buf);
	snprintf(buf + n, len - n, ",IP:%s", ip);
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* The directory STATE/tls: made 0700, and it must be ours. */
static int
tls_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO,
		    "cannot create %s", dir);
	if (lstat(dir, &st) != 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return cli_error(CLI_EXIT_FAIL, 0, "%s is not a directory",
		    dir);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s: not owned by root or us, or writable by group or "
		    "others",
		    dir);
	return 0;
}

/*
 * A self-signed certificate for STATE/tls: ECDSA P-256, CN the host name,
 * valid from an hour ago for ten years. The key is written first and
 * neither file is ever overwritten.
 */
static int
tls_generate(const struct server *srv)
{
	char dir[PATH_MAX], hostname[256], cn[65], san[1024], *slash;
	unsigned char serial[16];
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509V3_CTX ctx;
	BIGNUM *bn = NULL;
	BIO *kb = NULL, *cb = NULL;
	char *kp, *cp;
	long klen, clen;
	size_t n;
	int e, ret = CLI_EXIT_FAIL;

	snprintf(dir, sizeof(dir), "%s", srv->cert_path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if ((ret = tls_dir(dir)) != 0)
		return ret;
	ret = CLI_EXIT_FAIL;

	if (gethostname(hostname, sizeof(hostname)) != 0 || hostname[0] == '\0')
		snprintf(hostname, sizeof(hostname), "localhost");
	hostname[sizeof(hostname) - 1] = '\0';
	/* X.509 caps a common name at 64 characters. */
	n = strnlen(hostname, sizeof(cn) - 1);
	memcpy(cn, hostname, n);
	cn[n] = '\0';
	make_san(srv, hostname, san, sizeof(san));

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		goto crypto;
	serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, 16 bytes */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), SERVE_CERT_DAYS, 0, NULL) ==
		NULL)
		goto crypto;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
		goto crypto;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, &ctx, NID_subject_alt_name, san) != 0 ||
	    X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto crypto;
	if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
	    (cb = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) !=
		1 ||
	    PEM_write_bio_X509(cb, x) != 1)
		goto crypto;
	if ((klen = BIO_get_mem_data(kb, &kp)) <= 0 ||
	    (clen = BIO_get_mem_data(cb, &cp)) <= 0)
		goto crypto;
	if ((e = fileio_write(srv->key_path, kp, (size_t)klen, 0600,
		 FILEIO_NO_OVERWRITE)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "writing %s", srv->key_path);
		goto out;
	}
	if ((e = fileio_write(srv->cert_path, cp, (size_t)clen, 0644,
		 FILEIO_NO_OVERWRITE)) != 0) {
		cli_error(CLI_EXIT_FAIL, e, "writing %s", srv->cert_path);
		unlink(srv->key_path);
		goto out;
	}
	ret = 0;
	goto out;
crypto:
	cli_error(CLI_EXIT_FAIL, TRASA_ERR_CRYPTO,
	    "cannot make a TLS certificate");
out:
	ERR_clear_error();
	BIO_free(kb); /* secure memory: cleared */
	BIO_free(cb);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

/* Which files, and make the default pair when missing. */
static int
tls_setup(struct server *srv, int *made)
{
	const struct gw_config *cfg = &srv->gw->cfg;
	struct stat st;
	int n, have_cert, have_key, ret;

	*made = 0;
	if (cfg->tls_cert != NULL || cfg->tls_key != NULL) {
		if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
			return cli_error(CLI_EXIT_FAIL, 0,
			    "[server] %s is set but %s is not: set both, or "
			    "neither to use %s/tls/",
			    cfg->tls_cert != NULL ? "tls_cert" : "tls_key",
			    cfg->tls_cert != NULL ? "tls_key" : "tls_cert",
			    srv->gw->state_dir);
		if (strlen(cfg->tls_cert) >= sizeof(srv->cert_path) ||
		    strlen(cfg->tls_key) >= sizeof(srv->key_path))
			return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
			    "[server] tls_cert or tls_key");
		snprintf(srv->cert_path, sizeof(srv->cert_path), "%s",
		    cfg->tls_cert);
		snprintf(srv->key_path, sizeof(srv->key_path), "%s",
		    cfg->tls_key);
		return 0;
	}
	srv->default_tls = 1;
	n = snprintf(srv->cert_path, sizeof(srv->cert_path), "%s/tls/cert.pem",
	    srv->gw->state_dir);
	if (n < 0 || (size_t)n >= sizeof(srv->cert_path))
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_TOO_LONG,
		    "state directory %s", srv->gw->state_dir);
	snprintf(srv->key_path, sizeof(srv->key_path), "%s/tls/key.pem",
	    srv->gw->state_dir);
	have_cert = lstat(srv->cert_path, &st) == 0;
	have_key = lstat(srv->key_path, &st) == 0;
	if (have_cert && have_key)
		return 0;
	if (have_cert || have_key)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "%s exists but %s does not; remove it to have a new "
		    "pair made, or put the missing file back",
		    have_cert ? srv->cert_path : srv->key_path,
		    have_cert ? srv->key_path : srv->cert_path);
	if ((ret = tls_generate(srv)) != 0)
		return ret;
	*made = 1;
	return 0;
}

/* ---------------------------------------------------------------- listen */

/*
 * "ADDR:PORT", "[V6ADDR]:PORT" or "NAME:PORT" into host and port.
 * 0, or -1 with a reason.
 */
static int
listen_split(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen, const char **why)
{
	const char *p, *end;
	unsigned long v;
	size_t n;
	char *ep;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -1;
		}
		p = end + 2;
		s++;
		n = (size_t)(end - s);
	} else {
		if ((end = strrchr(s, ':')) == NULL) {
			*why = "no :PORT";
			return -1;
		}
		if (memchr(s, ':', (size_t)(end - s)) != NULL) {
			*why = "an IPv6 address needs brackets: [ADDR]:PORT";
			return -1;
		}
		p = end + 1;
		n = (size_t)(end - s);
	}
	if (n == 0 || n >= hostlen) {
		*why = n == 0 ? "no address" : "address too long";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (strspn(host, "0123456789abcdefABCDEF:.-_%") != n &&
	    !dns_name_ok(host)) {
		*why = "not an address or host name";
		return -1;
	}
	errno = 0;
	if (*p < '0' || *p > '9' || strlen(p) > 5 ||
	    (v = strtoul(p, &ep, 10)) > 65535 || *ep != '\0' || errno != 0) {
		*why = "the port must be a number from 0 to 65535";
		return -1;
	}
	snprintf(port, portlen, "%lu", v);
	return 0;
}

static int
sockaddr_text(const struct sockaddr *sa, socklen_t len, char *host,
    size_t hostlen, unsigned *port)
{
	char serv[16];

	if (getnameinfo(sa, len, host, hostlen, serv, sizeof(serv),
		NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	*port = (unsigned)strtoul(serv, NULL, 10);
	return 0;
}

static int
bind_one(const struct addrinfo *ai, int *fdp)
{
	int fd, one = 1, saved;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		 ai->ai_protocol)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ai->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) !=
		    0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	*fdp = fd;
	return 0;
}

/*
 * Parse the listen address (a syntax error is a usage error when it came
 * from --listen), resolve it and bind: IPv4 addresses first.
 */
static int
listen_open(struct server *srv)
{
	const struct gw *gw = srv->gw;
	const int from_config = gw->listen == gw->cfg.listen;
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], host[INET6_ADDRSTRLEN];
	const char *why = NULL;
	socklen_t alen;
	unsigned p;
	int fd = -1, e, pass, err = 0;

	if (gw->listen == NULL ||
	    listen_split(gw->listen, srv->host, sizeof(srv->host), port,
		sizeof(port), &why) != 0) {
		if (from_config)
			return cli_error(CLI_EXIT_FAIL, 0,
			    "[server] listen '%s': %s",
			    gw->listen != NULL ? gw->listen : "",
			    why != NULL ? why : "missing");
		return cli_usage_error("serve", "bad --listen '%s': %s",
		    gw->listen, why);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = gw->listen[0] == '[' ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags =
	    AI_NUMERICSERV | (gw->listen[0] == '[' ? AI_NUMERICHOST : 0);
	if ((e = getaddrinfo(srv->host, port, &hints, &res)) != 0) {
		if (gw->listen[0] == '[' && !from_config)
			return cli_usage_error("serve",
			    "bad --listen '%s': not an IPv6 address",
			    gw->listen);
		return cli_error(CLI_EXIT_FAIL, 0, "listen address %s: %s",
		    gw->listen, gai_strerror(e));
	}
	for (pass = 0; pass < 2 && fd < 0; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (ai->ai_family != (pass == 0 ? AF_INET : AF_INET6))
				continue;
			if (bind_one(ai, &fd) == 0)
				break;
			if (err == 0)
				err = errno;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = err;
		return cli_error(CLI_EXIT_FAIL, err != 0 ? TRASA_ERR_IO : 0,
		    "cannot listen on %s%s", gw->listen,
		    err == 0 ? ": no IPv4 or IPv6 address" : "");
	}
	alen = sizeof(srv->addr);
	if (getsockname(fd, (struct sockaddr *)&srv->addr, &alen) != 0 ||
	    sockaddr_text((struct sockaddr *)&srv->addr, alen, host,
		sizeof(host), &p) != 0) {
		close(fd);
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO,
		    "cannot listen on %s", gw->listen);
	}
	if (srv->addr.ss_family == AF_INET6)
		snprintf(srv->url, sizeof(srv->url), "https://[%s]:%u", host,
		    p);
	else
		snprintf(srv->url, sizeof(srv->url), "https://%s:%u", host, p);
	srv->lfd = fd;
	return 0;
}

/* ---------------------------------------------------------------- requests
 */

static const char *
req_arg(const struct gw_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->impl, MHD_GET_ARGUMENT_KIND,
	    name);
}

static const char *
req_header(const struct gw_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->impl, MHD_HEADER_KIND, name);
}

static void
resp_body_free(void *cls)
{
	struct resp_body *rb = cls;

	if (rb->p != NULL)
		OPENSSL_clear_free(rb->p, rb->len);
	free(rb);
}

static void
req_state_free(struct req_state *st)
{
	if (st == NULL)
		return;
	if (st->body != NULL)
		OPENSSL_clear_free(st->body, st->cap);
	free(st);
}

static void
access_log(struct MHD_Connection *conn, const struct req_state *st,
    const char *peer, const char *method, const char *url, unsigned status,
    size_t len)
{
	struct timespec now;
	char *m, *u;
	double ms;

	(void)conn;
	if (!cli_get_verbose())
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - st->start.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - st->start.tv_nsec) / 1e6;
	m = cli_escape_string(method, 16);
	u = cli_escape_string(url, 200);
	serve_log("%s \"%s %s\" %u %zu %.1fms", peer, m != NULL ? m : "?",
	    u != NULL ? u : "?", status, len, ms);
	free(m);
	free(u);
}

static void
peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	unsigned port;

	snprintf(buf, len, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	if (sockaddr_text(sa,
		sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
					   sizeof(struct sockaddr_in6),
		buf, len, &port) != 0)
		snprintf(buf, len, "?");
}

/* Queue status and body (taken over: freed in every case). */
static enum MHD_Result
send_body(struct MHD_Connection *conn, const char *method, unsigned status,
    const char *content_type, uint8_t *body, size_t len, const char *etag,
    const char *disposition)
{
	struct MHD_Response *r;
	struct resp_body *rb;
	enum MHD_Result ret;

	if (status == 304 || status == 204 || body == NULL) {
		if (body != NULL)
			OPENSSL_clear_free(body, len);
		body = NULL;
		len = 0;
	}
	if ((rb = malloc(sizeof(*rb))) == NULL) {
		if (body != NULL)
			OPENSSL_clear_free(body, len);
		return MHD_NO;
	}
	rb->p = body;
	rb->len = len;
	r = MHD_create_response_from_buffer_with_free_callback_cls(len,
	    body != NULL ? (void *)body : (void *)empty_body, resp_body_free,
	    rb);
	if (r == NULL) {
		resp_body_free(rb);
		return MHD_NO;
	}
	if ((body != NULL && content_type != NULL &&
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    content_type) != MHD_YES) ||
	    (etag != NULL && etag[0] != '\0' &&
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag) !=
		    MHD_YES) ||
	    (disposition != NULL && disposition[0] != '\0' &&
		MHD_add_response_header(r, "Content-Disposition",
		    disposition) != MHD_YES) ||
	    /* Nothing is kept by caches (the zip holds a private key),
	     * except what carries an ETag, revalidated every time. */
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
		etag != NULL && etag[0] != '\0' &&
			(strcmp(method, "GET") == 0 ||
			    strcmp(method, "HEAD") == 0) ?
		    "no-cache" :
		    "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") !=
		MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_too_large(struct MHD_Connection *conn, const struct req_state *st,
    const char *method, const char *url)
{
	char peer[INET6_ADDRSTRLEN], msg[96];
	uint8_t *body;
	int n;

	n = snprintf(msg, sizeof(msg),
	    "{\"error\":\"request body larger than %u bytes\"}", GW_MAX_BODY);
	if (n < 0 || (body = malloc((size_t)n)) == NULL)
		return MHD_NO;
	memcpy(body, msg, (size_t)n);
	peer_text(conn, peer, sizeof(peer));
	access_log(conn, st, peer, method, url, 413, (size_t)n);
	return send_body(conn, method, 413, "application/json", body, (size_t)n,
	    NULL, NULL);
}

/*
 * An announced body over the cap: 0 when it is not, 1 to answer 413 once
 * the body is read, 2 to answer 413 at once. Answering before the body
 * is read means closing the connection with the body unread, and the
 * reset it causes can reach the client before the 413 does, so that is
 * only done when the client waits for "100 Continue" (it has sent
 * nothing yet) or the body is too large to be worth draining.
 */
static int
content_length_check(struct MHD_Connection *conn)
{
	const char *cl, *expect;
	unsigned long long v;
	char *ep;

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return 0;
	errno = 0;
	v = strtoull(cl, &ep, 10);
	if (ep == cl)
		return 0; /* libmicrohttpd refuses it itself */
	if (errno != ERANGE && v <= GW_MAX_BODY)
		return 0;
	expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);
	if (errno == ERANGE || v > SERVE_MAX_DISCARD ||
	    (expect != NULL && strcasecmp(expect, "100-continue") == 0))
		return 2;
	return 1;
}

/* Store a piece of the upload, up to GW_MAX_BODY; past it, count only. */
static int
body_append(struct MHD_Connection *conn, struct req_state *st, const char *data,
    size_t n)
{
	const char *cl;
	unsigned long v;

	if (!st->too_large && n > GW_MAX_BODY - st->len) {
		st->too_large = 1;
		if (st->body != NULL)
			OPENSSL_clear_free(st->body, st->cap);
		st->body = NULL;
		st->len = st->cap = 0;
	}
	if (st->too_large) {
		st->discarded += n;
		return st->discarded > SERVE_MAX_DISCARD ? -1 : 0;
	}
	if (st->body == NULL) {
		/* The announced size when known (checked), else the cap:
		 * one allocation, never a copy of a secret left behind. */
		st->cap = GW_MAX_BODY;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (v = strtoul(cl, NULL, 10)) >= n &&
		    v <= GW_MAX_BODY)
			st->cap = v;
		if ((st->body = malloc(st->cap)) == NULL)
			return -1;
	}
	if (n > st->cap - st->len)
		return -1; /* more than announced: libmicrohttpd prevents it */
	memcpy(st->body + st->len, data, n);
	st->len += n;
	return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct req_state *st = *con_cls;
	struct gw_req req;
	struct gw_resp resp;
	char peer[INET6_ADDRSTRLEN];
	size_t n;
	int c;

	(void)version;
	if (st == NULL) {
		/* Headers are in. An announced oversize body is refused,
		 * at once or once drained (see content_length_check). */
		if ((st = calloc(1, sizeof(*st))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		*con_cls = st;
		if (pthread_getspecific(thread_key) == NULL)
			pthread_setspecific(thread_key, srv->api);
		if ((c = content_length_check(conn)) != 0) {
			st->too_large = 1;
			if (c == 2)
				return send_too_large(conn, st, method, url);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		n = *upload_data_size;
		*upload_data_size = 0;
		return body_append(conn, st, upload_data, n) == 0 ? MHD_YES :
								    MHD_NO;
	}
	if (st->too_large)
		return send_too_large(conn, st, method, url);

	peer_text(conn, peer, sizeof(peer));
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.arg = req_arg;
	req.header = req_header;
	req.impl = conn;
	req.body = st->body != NULL ? st->body : (const uint8_t *)"";
	req.body_len = st->len;
	req.peer = peer;
	memset(&resp, 0, sizeof(resp));
	gw_api_handle(srv->api, &req, &resp);
	if (resp.status < 100 || resp.status > 999)
		resp.status = 500;
	access_log(conn, st, peer, method, url, resp.status,
	    resp.status == 304 ? 0 : resp.len);
	return send_body(conn, method, resp.status, resp.content_type,
	    resp.body, resp.len, resp.etag, resp.disposition);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	req_state_free(*con_cls);
	*con_cls = NULL;
}

/* A serving thread ends: the API lets go of what the thread holds. */
static void
thread_end(void *p)
{
	gw_api_thread_end(p);
}

/* ---------------------------------------------------------------- daemons */

static int
instance_start(struct server *srv, struct tls_pair *tls, struct instance *in)
{
	int fd;

	memset(in, 0, sizeof(*in));
	in->fd = -1;
	/* The daemon owns a dup: it closes it when it fails or stops, and
	 * the listening socket itself stays ours. */
	if ((fd = fcntl(srv->lfd, F_DUPFD_CLOEXEC, 3)) < 0)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_IO,
		    "cannot duplicate the listening socket");
	/* The logger first, so that every message goes to it. */
	in->d = MHD_start_daemon(srv->flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, SERVE_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, srv->conn_limit,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_HTTPS_MEM_KEY, tls->key, MHD_OPTION_HTTPS_MEM_CERT,
	    tls->cert, MHD_OPTION_HTTPS_PRIORITIES, SERVE_TLS_PRIORITIES,
	    /* One thread: no pool (a pool of one is refused). */
	    srv->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
	    srv->threads, MHD_OPTION_END);
	if (in->d == NULL)
		/* (fd was closed by libmicrohttpd) */
		return cli_error(CLI_EXIT_FAIL, 0,
		    "cannot start the HTTPS server on %s", srv->url);
	in->fd = fd;
	in->tls = tls;
	return 0;
}

static void
instance_stop(struct instance *in)
{
	if (in->d == NULL)
		return;
	MHD_stop_daemon(in->d);
	if (in->quiesced && in->fd >= 0)
		close(in->fd);
	tls_free(in->tls);
	memset(in, 0, sizeof(*in));
	in->fd = -1;
}

static unsigned
instance_connections(struct instance *in)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(in->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL ? di->num_connections : 0;
}

/* Stop replaced daemons once their connections are done or time is up. */
static void
reap_draining(struct server *srv, int all)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < SERVE_MAX_DRAINING; i++) {
		struct instance *in = &srv->draining[i];

		if (in->d == NULL)
			continue;
		if (all || now >= in->deadline || instance_connections(in) == 0)
			instance_stop(in);
	}
}

/* SIGHUP: a new daemon with the files as they are now. */
static void
reload(struct server *srv)
{
	struct tls_pair *tls = NULL;
	struct instance in, *slot = NULL;
	size_t i;

	if (tls_load(srv, &tls) != 0) {
		serve_log("SIGHUP: TLS files not reloaded; still serving "
			  "the certificate with SHA256 fingerprint %s",
		    srv->cur.tls->fp);
		return;
	}
	if (instance_start(srv, tls, &in) != 0) {
		tls_free(tls);
		serve_log("SIGHUP: TLS files not reloaded; still serving "
			  "the certificate with SHA256 fingerprint %s",
		    srv->cur.tls->fp);
		return;
	}
	/* Make room for the daemon being replaced. */
	for (i = 0; i < SERVE_MAX_DRAINING && slot == NULL; i++)
		if (srv->draining[i].d == NULL)
			slot = &srv->draining[i];
	if (slot == NULL) {
		slot = &srv->draining[0];
		for (i = 1; i < SERVE_MAX_DRAINING; i++)
			if (srv->draining[i].deadline < slot->deadline)
				slot = &srv->draining[i];
		instance_stop(slot);
	}
	*slot = srv->cur;
	srv->cur = in;
	if (MHD_quiesce_daemon(slot->d) != MHD_INVALID_SOCKET) {
		slot->quiesced = 1;
		slot->deadline = time(NULL) + SERVE_DRAIN_MAX;
	} else
		instance_stop(slot); /* cannot drain: stop it now */
	serve_log("SIGHUP: reloaded TLS certificate %s, SHA256 "
		  "fingerprint %s",
	    srv->cert_path, tls->fp);
}

/* ---------------------------------------------------------------- command */

static void
serve_usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--state-dir DIR] [--listen ADDR:PORT] serve "
	    "[--threads N] [-v]\n"
	    "Serve the HTTPS API on ADDR:PORT ([ADDR]:PORT for IPv6; "
	    "default %s)\n"
	    "until SIGTERM or SIGINT. SIGHUP reloads the TLS certificate "
	    "and key.\n"
	    "  --threads N    serving threads, 1 to %u (default: [server] "
	    "threads,\n"
	    "                 else one per CPU)\n"
	    "  -v, --verbose  log every request on stderr\n"
	    "TLS: [server] tls_cert and tls_key, else DIR/tls/cert.pem and "
	    "key.pem,\n"
	    "made (self-signed) on first start.\n",
	    cli_get_progname(), GW_DEFAULT_LISTEN, SERVE_MAX_THREADS);
}

static unsigned
default_threads(unsigned configured)
{
	long n;

	if (configured > 0)
		return configured;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > (long)SERVE_MAX_THREADS ? SERVE_MAX_THREADS : (unsigned)n;
}

/* As many connections as file descriptors allow, raising the soft limit. */
static unsigned
connection_limit(void)
{
	struct rlimit rl;
	rlim_t want = SERVE_MAX_CONNS + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 512;
	if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
		    want :
		    rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return SERVE_MAX_CONNS;
	if (rl.rlim_cur < 128 + 64)
		return 64;
	return (unsigned)(rl.rlim_cur - 128);
}

int
cmd_serve(struct gw *gw, int argc, char **argv)
{
	enum {
		O_THREADS = 256
	};
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, O_THREADS },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct server *srv = NULL;
	struct tls_pair *tls = NULL;
	sigset_t sigs, oldsigs;
	unsigned long v;
	unsigned threads = 0;
	char *ep;
	int c, sig, made = 0, ret = CLI_EXIT_FAIL;
	struct timespec tick = { 1, 0 };

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case O_THREADS:
			errno = 0;
			v = strtoul(optarg, &ep, 10);
			if (*optarg < '0' || *optarg > '9' || *ep != '\0' ||
			    errno != 0 || v < 1 || v > SERVE_MAX_THREADS)
				return cli_usage_error("serve",
				    "--threads must be a number from 1 to %u",
				    SERVE_MAX_THREADS);
			threads = (unsigned)v;
			break;
		case 'h': serve_usage(stdout); return CLI_EXIT_OK;
		case 'v': cli_set_verbose(1); break;
		default: return cli_bad_option("serve", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'",
		    argv[optind]);
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return cli_error(CLI_EXIT_FAIL, 0,
		    "libmicrohttpd was built without TLS support");

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return cli_error(CLI_EXIT_FAIL, TRASA_ERR_ALLOC, "serve");
	srv->gw = gw;
	srv->lfd = -1;
	srv->cur.fd = -1;
	srv->threads =
	    threads != 0 ? threads : default_threads(gw->cfg.threads);
	srv->conn_limit = connection_limit();

	/* Signals are taken in this thread only: block them before any
	 * thread exists, so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &oldsigs);

	if ((ret = listen_open(srv)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	srv->flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
	    MHD_USE_TLS | MHD_USE_ERROR_LOG;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		srv->flags |= MHD_USE_EPOLL;
	if (srv->addr.ss_family == AF_INET6)
		srv->flags |= MHD_USE_IPv6;

	if ((c = gw_api_new(gw, &srv->api)) != 0) {
		/* It prints why for a file it cannot use (TRASA_ERR_IO,
		 * TRASA_ERR_PASSPHRASE), not otherwise. */
		if (c != TRASA_ERR_IO && c != TRASA_ERR_PASSPHRASE)
			cli_error(CLI_EXIT_FAIL, c, "cannot start the API");
		goto out;
	}
	if ((ret = tls_setup(srv, &made)) != 0)
		goto out;
	if ((ret = tls_load(srv, &tls)) != 0)
		goto out;
	ret = CLI_EXIT_FAIL;
	serve_log("TLS certificate %s%s, SHA256 fingerprint %s", srv->cert_path,
	    made ? " (new)" : "", tls->fp);

	if (pthread_key_create(&thread_key, thread_end) != 0) {
		cli_error(CLI_EXIT_FAIL, 0, "cannot create a thread key");
		goto out;
	}
	if (instance_start(srv, tls, &srv->cur) != 0) {
		pthread_key_delete(thread_key);
		goto out;
	}
	tls = NULL;
	serve_log("listening on %s (%u thread%s)", srv->url, srv->threads,
	    srv->threads == 1 ? "" : "s");
	log_set_quiet(1);

	for (;;) {
		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(srv);
		reap_draining(srv, 0);
	}
	log_set_quiet(0);
	reap_draining(srv, 1);
	instance_stop(&srv->cur);
	/* Every serving thread has ended (and called thread_end). */
	pthread_key_delete(thread_key);
	serve_log("stopped");
	ret = CLI_EXIT_OK;
out:
	tls_free(tls);
	if (srv != NULL) {
		gw_api_free(srv->api);
		if (srv->lfd >= 0)
			close(srv->lfd);
		free(srv);
	}
	pthread_sigmask(SIG_SETMASK, &oldsigs, NULL);
	return ret;
}

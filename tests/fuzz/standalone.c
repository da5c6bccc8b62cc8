/*
 * standalone.c: a main() for the fuzz harnesses when they are not built
 * with libFuzzer. It replays files through LLVMFuzzerTestOneInput (the
 * regression corpus) and, with --mutate, a deterministic stream of
 * mutations of each of them.
 *
 *   fuzz_NAME [--mutate N] [--seed S] PATH...
 *
 * Every PATH that is a directory is walked (recursively, in sorted order).
 * Each file is run as it is, then N mutations of it: bit flips, byte
 * changes, length-field values, truncations, insertions, deletions,
 * duplicated chunks, base64-alphabet substitutions (so PEM and
 * authorized_keys text mutates underneath its armour), stacked up to four
 * deep. The mutation stream depends only on S and the file's contents.
 * A crash or abort() ends the process, after the input that caused it is
 * saved as crash-HASH in $FUZZ_ARTIFACT_DIR (default: the current
 * directory) and named on stderr; otherwise it prints "N inputs ok" and
 * exits 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Present when built with a sanitizer: called before it ends the process. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

#define FUZZ_MAX_INPUT (16u * 1024 * 1024)
#define MAX_GROW 4096

static unsigned long mutations;
static uint64_t seed = 1;
static unsigned long ninputs;

/* What is running now, for the crash handler. */
static const uint8_t *volatile cur_data;
static volatile size_t cur_len;
static const char *volatile cur_path;
static volatile long cur_mutation = -1;
static char artifact_dir[1024] = ".";

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform value in [0, n); n > 0. */
static size_t
rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

static uint64_t
fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Apply one mutation to buf (length *len, room for cap bytes). Returns 0
 * when nothing could be done (e.g. an empty input and a byte change).
 */
static int
mutate_once(uint64_t *s, uint8_t *buf, size_t *len, size_t cap)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, '\n',
		' ', '-', '=' };
	uint8_t chunk[64];
	size_t n = *len, pos, k, from;
	uint32_t v;
	const char *c;

	switch (rng_below(s, 10)) {
	case 0: /* flip one bit */
		if (n == 0)
			return 0;
		buf[rng_below(s, n)] ^= (uint8_t)(1u << rng_below(s, 8));
		return 1;
	case 1: /* one random byte */
		if (n == 0)
			return 0;
		buf[rng_below(s, n)] = (uint8_t)rng_next(s);
		return 1;
	case 2: /* one interesting byte */
		if (n == 0)
			return 0;
		buf[rng_below(s, n)] = bytes[rng_below(s, sizeof(bytes))];
		return 1;
	case 3: /* an interesting 32-bit value (length fields) */
		if (n < 4)
			return 0;
		pos = rng_below(s, n - 3);
		switch (rng_below(s, 8)) {
		case 0: v = 0; break;
		case 1: v = 0xffffffffu; break;
		case 2: v = 0x7fffffffu; break;
		case 3: v = 0x80000000u; break;
		case 4: v = (uint32_t)(n - pos - 4); break;
		case 5: v = (uint32_t)(n - pos - 3); break;
		case 6: v = (uint32_t)(n - pos - 5); break;
		default: v = (uint32_t)rng_below(s, 512); break;
		}
		put_be32(buf + pos, v);
		return 1;
	case 4: /* truncate */
		if (n == 0)
			return 0;
		*len = rng_below(s, n);
		return 1;
	case 5: /* insert 1..16 random bytes */
		k = 1 + rng_below(s, 16);
		if (n + k > cap)
			return 0;
		pos = rng_below(s, n + 1);
		memmove(buf + pos + k, buf + pos, n - pos);
		for (from = 0; from < k; from++)
			buf[pos + from] = (uint8_t)rng_next(s);
		*len = n + k;
		return 1;
	case 6: /* delete 1..16 bytes */
		if (n == 0)
			return 0;
		pos = rng_below(s, n);
		k = 1 + rng_below(s, 16);
		if (k > n - pos)
			k = n - pos;
		memmove(buf + pos, buf + pos + k, n - pos - k);
		*len = n - k;
		return 1;
	case 7: /* duplicate a chunk of up to 64 bytes somewhere */
		if (n == 0)
			return 0;
		from = rng_below(s, n);
		k = 1 + rng_below(s, sizeof(chunk));
		if (k > n - from)
			k = n - from;
		if (n + k > cap)
			return 0;
		memcpy(chunk, buf + from, k);
		pos = rng_below(s, n + 1);
		memmove(buf + pos + k, buf + pos, n - pos);
		memcpy(buf + pos, chunk, k);
		*len = n + k;
		return 1;
	case 8: /* swap two bytes */
		if (n < 2)
			return 0;
		pos = rng_below(s, n);
		from = rng_below(s, n);
		v = buf[pos];
		buf[pos] = buf[from];
		buf[from] = (uint8_t)v;
		return 1;
	default: /* base64 alphabet substitution, for armoured text */
		if (n == 0)
			return 0;
		for (k = 0; k < 16; k++) {
			pos = rng_below(s, n);
			if (buf[pos] == '\0' ||
			    (c = strchr(b64chars, buf[pos])) == NULL)
				continue;
			/* Any other character of the alphabet. */
			from = (size_t)(c - b64chars) + 1 + rng_below(s, 63);
			buf[pos] = (uint8_t)b64chars[from % 64];
			return 1;
		}
		return 0;
	}
}

static void
say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

static void
num_to_str(unsigned long long v, unsigned base, char *out, size_t len)
{
	char tmp[32];
	size_t n = 0, i;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n && i + 1 < len; i++)
		out[i] = tmp[n - 1 - i];
	out[i] = '\0';
}

/* Save the current input and say what it was; async-signal-safe. */
static void
save_crash(void)
{
	static volatile sig_atomic_t saved;
	char path[1100], num[32];
	const uint8_t *p = cur_data;
	size_t len = cur_len, off = 0;
	ssize_t w;
	int fd;

	if (saved || p == NULL)
		return;
	saved = 1;
	num_to_str(fnv1a(p, len), 16, num, sizeof(num));
	path[0] = '\0';
	strncat(path, artifact_dir, sizeof(path) - 40);
	strcat(path, "/crash-");
	strcat(path, num);
	say("fuzz: crash on ");
	say(cur_path != NULL ? cur_path : "?");
	if (cur_mutation >= 0) {
		num_to_str((unsigned long long)cur_mutation, 10, num,
		    sizeof(num));
		say(" mutation ");
		say(num);
	}
	say("; input saved as ");
	say(path);
	say("\n");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	while (off < len && (w = write(fd, p + off, len - off)) > 0)
		off += (size_t)w;
	close(fd);
}

static void
on_signal(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
crash_handlers(void)
{
	const char *d = getenv("FUZZ_ARTIFACT_DIR");

	if (d != NULL && *d != '\0' && strlen(d) < sizeof(artifact_dir))
		snprintf(artifact_dir, sizeof(artifact_dir), "%s", d);
	signal(SIGABRT, on_signal);
	if (__sanitizer_set_death_callback != NULL) {
		/* The sanitizer reports memory errors itself. */
		__sanitizer_set_death_callback(save_crash);
		return;
	}
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	signal(SIGFPE, on_signal);
	signal(SIGILL, on_signal);
}

static void
run_one(const uint8_t *p, size_t len)
{
	uint8_t *copy;

	/* An exact-size heap copy, so ASan sees reads past the end. */
	if ((copy = malloc(len > 0 ? len : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	if (len > 0)
		memcpy(copy, p, len);
	cur_data = copy;
	cur_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	cur_data = NULL;
	free(copy);
	ninputs++;
}

static void
run_mutations(const uint8_t *p, size_t len)
{
	uint64_t s = seed ^ fnv1a(p, len);
	size_t cap = len + MAX_GROW, mlen;
	uint8_t *buf;
	unsigned long i;
	int depth, d, done;

	if ((buf = malloc(cap)) == NULL) {
		perror("malloc");
		exit(2);
	}
	for (i = 0; i < mutations; i++) {
		if (len > 0)
			memcpy(buf, p, len);
		mlen = len;
		depth =
		    1 + (rng_below(&s, 4) == 0 ? (int)rng_below(&s, 3) + 1 : 0);
		for (d = 0, done = 0; d < depth; d++)
			done |= mutate_once(&s, buf, &mlen, cap);
		if (!done)
			continue;
		cur_mutation = (long)i;
		run_one(buf, mlen);
	}
	cur_mutation = -1;
	free(buf);
}

static int
read_file(const char *path, uint8_t **out, size_t *outlen)
{
	FILE *f;
	uint8_t *buf = NULL, *nb;
	size_t len = 0, alloc = 0, got;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	for (;;) {
		if (len == alloc) {
			alloc = alloc == 0 ? 4096 : alloc * 2;
			if (alloc > FUZZ_MAX_INPUT + 1 ||
			    (nb = realloc(buf, alloc)) == NULL) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, alloc - len, f);
		if (got == 0)
			break;
		len += got;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*out = buf;
	*outlen = len;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path);

static int
run_dir(const char *path)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **nn, *full;
	size_t n = 0, alloc = 0, i, len;
	int r = 0;

	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			if ((nn = realloc(names, alloc * sizeof(*names))) ==
			    NULL) {
				perror("realloc");
				exit(2);
			}
			names = nn;
		}
		len = strlen(path) + strlen(de->d_name) + 2;
		if ((full = malloc(len)) == NULL) {
			perror("malloc");
			exit(2);
		}
		snprintf(full, len, "%s/%s", path, de->d_name);
		names[n++] = full;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if (run_path(names[i]) != 0)
			r = -1;
		free(names[i]);
	}
	free(names);
	return r;
}

static int
run_path(const char *path)
{
	struct stat st;
	uint8_t *p;
	size_t len;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return run_dir(path);
	if (read_file(path, &p, &len) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	cur_path = path;
	run_one(p, len);
	if (mutations > 0)
		run_mutations(p, len);
	free(p);
	return 0;
}

static int
parse_num(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		return -1;
	return 0;
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--mutate N] [--seed S] PATH...\n", prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	unsigned long long v;
	int i, r = 0, npaths = 0;

	crash_handlers();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mutate") == 0 && i + 1 < argc) {
			if (parse_num(argv[++i], &v) != 0 || v > 100000000ULL)
				usage(argv[0]);
			mutations = (unsigned long)v;
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			if (parse_num(argv[++i], &v) != 0)
				usage(argv[0]);
			seed = v;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			usage(argv[0]);
		} else
			break;
	}
	for (; i < argc; i++) {
		npaths++;
		if (run_path(argv[i]) != 0)
			r = 1;
	}
	if (npaths == 0)
		usage(argv[0]);
	printf("%lu inputs ok\n", ninputs);
	return r;
}

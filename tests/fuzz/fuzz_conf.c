/*
 * fuzz_conf.c: gateway.conf (INI through libinih, values through conf.c).
 *
 * The input is written to a private 0600 file and read with
 * gw_config_load(). Whatever it holds, the load either fails with
 * CLI_EXIT_FAIL and leaves nothing allocated, or succeeds with every
 * invariant of the settings kept (ranges ordered, defaults within their
 * maximums, the strings set); otherwise abort().
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], dir[] = "/tmp/trasa-fuzzconf.XXXXXX";
static int devnull = -1;

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/gateway.conf", dir);
	cli_set_progname("fuzz_conf");
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_config cfg;
	FILE *f;
	int ret, saved;

	if (path[0] == '\0')
		setup();
	unlink(path);
	if ((f = fopen(path, "wx")) == NULL)
		abort();
	if (fchmod(fileno(f), 0600) != 0 ||
	    (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	memset(&cfg, 0x5a, sizeof(cfg));
	/* The message of a refused file is not the point here; stderr
	 * stays the fuzzer's. */
	fflush(stderr);
	if ((saved = dup(2)) < 0 || dup2(devnull, 2) < 0)
		abort();
	ret = gw_config_load(path, &cfg);
	fflush(stderr);
	if (dup2(saved, 2) < 0)
		abort();
	close(saved);
	if (ret != 0) {
		if (ret != CLI_EXIT_FAIL || cfg.listen != NULL ||
		    cfg.home_base != NULL || cfg.shell != NULL ||
		    cfg.state_dir != NULL)
			abort();
		return 0;
	}
	if (cfg.listen == NULL || cfg.home_base == NULL || cfg.shell == NULL ||
	    *cfg.listen == '\0' || cfg.uid_min > cfg.uid_max ||
	    cfg.gid_min > cfg.gid_max || cfg.uid_min < 1000 ||
	    cfg.user_ttl == 0 || cfg.user_ttl > cfg.user_max_ttl ||
	    cfg.host_ttl > cfg.host_max_ttl ||
	    cfg.token_ttl > cfg.token_max_ttl || cfg.max_principals == 0 ||
	    cfg.max_principals > 256 || cfg.threads > 256)
		abort();
	gw_config_free(&cfg);
	return 0;
}

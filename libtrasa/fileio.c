/* fileio.c: trusted reads and atomic writes. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "tbuf.h"

int
fileio_read(const char *path, size_t max, unsigned flags, struct tbuf **out)
{
	struct tbuf *b = NULL;
	struct stat st;
	uint8_t *dst;
	size_t got = 0;
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) < 0)
		return errno == ELOOP ? TRASA_ERR_FILE_PERM : TRASA_ERR_IO;
	if (fstat(fd, &st) != 0) {
		e = TRASA_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = TRASA_ERR_FILE_PERM;
		goto out;
	}
	if ((flags & FILEIO_TRUSTED) &&
	    ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)) {
		e = TRASA_ERR_FILE_PERM;
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		e = TRASA_ERR_TOO_LONG;
		goto out;
	}
	if ((b = tbuf_new()) == NULL) {
		e = TRASA_ERR_ALLOC;
		goto out;
	}
	if ((e = tbuf_reserve(b, (size_t)st.st_size, &dst)) != 0)
		goto out;
	/* Read what fstat promised; a file that changes size is refused. */
	while (got < (size_t)st.st_size) {
		n = read(fd, dst + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == 0 ? TRASA_ERR_TRUNCATED : TRASA_ERR_IO;
			goto out;
		}
		got += (size_t)n;
	}
	*out = b;
	b = NULL;
	e = 0;
out:
	tbuf_free(b);
	close(fd);
	return e;
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fileio_write(const char *path, const void *p, size_t len, mode_t mode,
    unsigned flags)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int fd = -1, dfd, e = TRASA_ERR_IO, saved;

	if (strlen(path) + 16 >= sizeof(tmp))
		return TRASA_ERR_TOO_LONG;
	if ((flags & FILEIO_NO_OVERWRITE) && lstat(path, &st) == 0)
		return TRASA_ERR_EXISTS;
	snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		return TRASA_ERR_IO;
	if (fchmod(fd, mode) != 0 || write_all(fd, p, len) != 0 ||
	    fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (flags & FILEIO_NO_OVERWRITE) {
		/* link() fails if path appeared meanwhile: no overwrite race. */
		if (link(tmp, path) != 0) {
			e = errno == EEXIST ? TRASA_ERR_EXISTS : TRASA_ERR_IO;
			goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return e;
}

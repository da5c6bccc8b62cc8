/*
 * fileio.h: reading files we trust and writing files atomically.
 */
#ifndef TRASA_FILEIO_H
#define TRASA_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

struct tbuf;

/* fileio_read() flags. */
#define FILEIO_TRUSTED 0x01 /* must be root-owned (or ours) and not
                               group/world writable */

/*
 * Read a regular file of at most max bytes into a new owned buffer. Opened
 * with O_NOFOLLOW|O_CLOEXEC; a symlink, directory, device, oversize file
 * or (with FILEIO_TRUSTED) an unsafely owned file is refused.
 */
int fileio_read(const char *path, size_t max, unsigned flags,
    struct tbuf **out);

/* fileio_write() flags. */
#define FILEIO_NO_OVERWRITE 0x01 /* refuse (TRASA_ERR_EXISTS) if path exists */

/*
 * Write len bytes to path with mode: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. On any
 * failure path is left as it was and the temporary file is removed.
 */
int fileio_write(const char *path, const void *p, size_t len, mode_t mode,
    unsigned flags);

#endif

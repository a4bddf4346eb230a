/*
 * readfile.h - read a whole file into memory, bounded.
 *
 * For start-up and reload paths only (configuration, keys, schemas, the
 * registry file): it blocks.
 */
#ifndef BECKND_READFILE_H
#define BECKND_READFILE_H

#include <stddef.h>

/*
 * The bytes of path, NUL-terminated (xmalloc'd; *len excludes the NUL).
 * NULL with errno set on failure; EFBIG when the file is over max bytes.
 */
char	*read_file(const char *path, size_t max, size_t *len);
/* Same from an open descriptor (not closed). */
char	*read_fd(int fd, size_t max, size_t *len);

#endif

/*
 * cli_util.c - small I/O helpers for the subcommands.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/xmalloc.h"

static char *
read_fd(int fd, size_t max, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;

	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	free(buf);
	return NULL;
}

char *
cli_read_stdin(size_t max, size_t *len)
{
	return read_fd(STDIN_FILENO, max, len);
}

char *
cli_read_file(const char *path, size_t max, size_t *len)
{
	char	*buf;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = read_fd(fd, max, len);
	saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

char *
cli_value_or_file(const char *arg, size_t *len)
{
	char	*buf;

	if (arg[0] != '@') {
		*len = strlen(arg);
		return xstrdup(arg);
	}
	if ((buf = cli_read_file(arg + 1, 1 << 20, len)) == NULL)
		fprintf(stderr, "becknd: %s: %s\n", arg + 1, strerror(errno));
	return buf;
}

int
cli_parse_int64(const char *s, long long *out)
{
	char		*end;
	long long	 v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

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
#include "util/readfile.h"
#include "util/xmalloc.h"

char *
cli_read_stdin(size_t max, size_t *len)
{
	return read_fd(STDIN_FILENO, max, len);
}

char *
cli_read_file(const char *path, size_t max, size_t *len)
{
	return read_file(path, max, len);
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

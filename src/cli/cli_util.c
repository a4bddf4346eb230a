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

#include <json-c/json.h>

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

static int
indent(FILE *f, int depth)
{
	if (putc('\n', f) == EOF)
		return -1;
	for (; depth > 0; depth--)
		if (fputs("  ", f) == EOF)
			return -1;
	return 0;
}

int
cli_json_pretty(FILE *f, const char *s, size_t len)
{
	size_t	 i, j;
	int	 depth = 0, instr = 0, esc = 0, rc = 0;
	char	 c;

	for (i = 0; i < len && rc == 0; i++) {
		c = s[i];
		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				instr = 0;
			rc = putc(c, f) == EOF ? -1 : 0;
			continue;
		}
		switch (c) {
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			break;
		case '{':
		case '[':
			rc = putc(c, f) == EOF ? -1 : 0;
			for (j = i + 1; j < len && strchr(" \t\r\n", s[j]) !=
			    NULL && s[j] != '\0'; j++)
				;
			if (j < len && s[j] == (c == '{' ? '}' : ']')) {
				rc = putc(s[j], f) == EOF ? -1 : 0;
				i = j;
			} else
				rc = indent(f, ++depth);
			break;
		case '}':
		case ']':
			if ((rc = indent(f, --depth)) == 0)
				rc = putc(c, f) == EOF ? -1 : 0;
			break;
		case ',':
			if ((rc = putc(c, f) == EOF ? -1 : 0) == 0)
				rc = indent(f, depth);
			break;
		case ':':
			rc = fputs(": ", f) == EOF ? -1 : 0;
			break;
		case '"':
			instr = 1;
			/* FALLTHROUGH */
		default:
			rc = putc(c, f) == EOF ? -1 : 0;
			break;
		}
	}
	if (rc == 0 && putc('\n', f) == EOF)
		rc = -1;
	return rc;
}

const char *
cli_json_text(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

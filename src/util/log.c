/*
 * log.c - JSON log lines on stderr.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "util/log.h"

static enum log_level	 cur_level = LOG_LVL_INFO;
static const char	*level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level l)
{
	cur_level = l;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	 i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char		 msg[1024], line[2400], ts[32];
	struct timeval	 tv;
	struct tm	 tm;
	va_list		 ap;
	size_t		 o = 0, i;
	int		 n;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\","
	    "\"msg\":\"", ts, (int)(tv.tv_usec / 1000), level_names[level]);
	o = (size_t)n;
	/* JSON-escape the message; worst case 6 bytes per input byte fits. */
	for (i = 0; msg[i] != '\0' && o < sizeof(line) - 8; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '"' || c == '\\') {
			line[o++] = '\\';
			line[o++] = (char)c;
		} else if (c == '\n') {
			line[o++] = '\\';
			line[o++] = 'n';
		} else if (c < 0x20) {
			o += (size_t)snprintf(line + o, sizeof(line) - o,
			    "\\u%04x", c);
		} else
			line[o++] = (char)c;
	}
	line[o++] = '"';
	line[o++] = '}';
	line[o++] = '\n';
	fwrite(line, 1, o, stderr);
}

/*
 * duration.c - ISO 8601 and short-form duration parsing.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"

/* Largest duration we accept: ten years, far beyond any sane timeout. */
#define DURATION_MAX_MS	(10LL * 366 * 24 * 3600 * 1000)

static int
read_number(const char **sp, double *out)
{
	const char	*s = *sp;
	char		*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	*out = strtod(s, &end);
	if (end == s || !isfinite(*out) || *out < 0)
		return -1;
	*sp = end;
	return 0;
}

static int
iso8601(const char *s, int64_t *ms)
{
	double	 total = 0, v;
	int	 in_time = 0, any = 0;
	char	 last = 0;

	s++;			/* 'P' */
	while (*s != '\0') {
		if (*s == 'T') {
			if (in_time)
				return -1;
			in_time = 1;
			last = 'T';
			s++;
			continue;
		}
		if (read_number(&s, &v) == -1)
			return -1;
		switch (*s) {
		case 'D':
			if (in_time || last == 'D')
				return -1;
			total += v * 86400e3;
			break;
		case 'H':
			if (!in_time || last == 'H' || last == 'M' ||
			    last == 'S')
				return -1;
			total += v * 3600e3;
			break;
		case 'M':
			if (!in_time || last == 'M' || last == 'S')
				return -1;
			total += v * 60e3;
			break;
		case 'S':
			if (!in_time || last == 'S')
				return -1;
			total += v * 1e3;
			break;
		default:
			return -1;
		}
		last = *s++;
		any = 1;
	}
	if (!any || last == 'T' || total > DURATION_MAX_MS)
		return -1;
	*ms = (int64_t)llround(total);
	return 0;
}

int
duration_parse(const char *s, int64_t *ms)
{
	double	 v, mult;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s == 'P')
		return iso8601(s, ms);
	if (read_number(&s, &v) == -1)
		return -1;
	if (*s == '\0' || strcmp(s, "s") == 0)
		mult = 1e3;
	else if (strcmp(s, "ms") == 0)
		mult = 1;
	else if (strcmp(s, "m") == 0)
		mult = 60e3;
	else if (strcmp(s, "h") == 0)
		mult = 3600e3;
	else if (strcmp(s, "d") == 0)
		mult = 86400e3;
	else
		return -1;
	if (v * mult > DURATION_MAX_MS)
		return -1;
	*ms = (int64_t)llround(v * mult);
	return 0;
}

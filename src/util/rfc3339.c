/*
 * rfc3339.c - RFC 3339 date-times to unix milliseconds (see rfc3339.h).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>

#include "util/rfc3339.h"

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n decimal digits at *p into *v; advances *p. */
static int
digits(const char **p, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
rfc3339_parse(const char *s, int flags, int64_t *ms)
{
	const char	*p = s;
	int		 strict = flags & RFC3339_STRICT;
	int		 y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, n;
	int64_t		 t, sign = 0;

	if (s == NULL)
		return -1;
	while (!strict && isspace((unsigned char)*p))
		p++;
	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1)
		return -1;
	if (*p != 'T' && *p != 't' && (strict || *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) == -1 || *p++ != ':' ||
	    digits(&p, 2, &mi) == -1 || *p++ != ':' ||
	    digits(&p, 2, &sec) == -1)
		return -1;
	if (*p == '.' || (!strict && *p == ',')) {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (n = 0; isdigit((unsigned char)*p); n++, p++)
			if (n < 3)
				frac = frac * 10 + (*p - '0');
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) == -1)
			return -1;
		if (*p == ':')
			p++;
		else if (strict)
			return -1;
		if (digits(&p, 2, &om) == -1)
			return -1;
	} else if (strict)
		return -1;
	/* No zone at all (lenient): registries in the wild mean UTC. */
	while (!strict && isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	if (strict && t < 0)
		return -1;
	*ms = t * 1000 + frac;
	return 0;
}

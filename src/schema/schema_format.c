/*
 * schema_format.c - the `format` checkers and the formats setting.
 *
 * date-time, date and time follow RFC 3339 section 5.6 ('T'/'Z' in either
 * case, fraction of any length, offset required on times, day checked
 * against the month and leap years, second 60 allowed only as a leap
 * second at 23:59 UTC).  uuid is the 8-4-4-4-12 hex form.  uri is an
 * RFC 3986 absolute URI (scheme ":" then URI characters), uri-reference
 * any RFC 3986 reference; both reject spaces, controls and non-ASCII.
 * email is local@domain with a dot-atom local part and an LDH domain (or
 * an IP literal).  ipv4 is dotted quad without leading zeros; ipv6 is
 * RFC 4291 text form (with an optional trailing dotted quad).  Unknown
 * names (core 1.1.0 uses "phone") map to 0 and are never asserted.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema_int.h"

static const struct {
	const char	*name;
	unsigned	 bit;
} formats[] = {
	{ "date-time", SCHEMA_FMT_DATE_TIME },
	{ "date", SCHEMA_FMT_DATE },
	{ "time", SCHEMA_FMT_TIME },
	{ "uuid", SCHEMA_FMT_UUID },
	{ "uri", SCHEMA_FMT_URI },
	{ "uri-reference", SCHEMA_FMT_URI_REF },
	{ "email", SCHEMA_FMT_EMAIL },
	{ "ipv4", SCHEMA_FMT_IPV4 },
	{ "ipv6", SCHEMA_FMT_IPV6 },
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

unsigned
sfmt_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; i < NFORMATS; i++)
		if (strcmp(name, formats[i].name) == 0)
			return formats[i].bit;
	return 0;
}

const char *
sfmt_name(unsigned bit)
{
	size_t	 i;

	for (i = 0; i < NFORMATS; i++)
		if (formats[i].bit == bit)
			return formats[i].name;
	return "?";
}

static int
digits(const char *s, size_t n, int *v)
{
	size_t	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
check_date(const char *s, size_t len)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, m, d, leap;

	if (len != 10 || s[4] != '-' || s[7] != '-' ||
	    digits(s, 4, &y) == -1 || digits(s + 5, 2, &m) == -1 ||
	    digits(s + 8, 2, &d) == -1)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return -1;
	return 0;
}

/* full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static int
check_time(const char *s, size_t len)
{
	int	 h, m, sec, oh = 0, om = 0, sign = 0;
	size_t	 i = 8;

	if (len < 9 || s[2] != ':' || s[5] != ':' ||
	    digits(s, 2, &h) == -1 || digits(s + 3, 2, &m) == -1 ||
	    digits(s + 6, 2, &sec) == -1)
		return -1;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !isdigit((unsigned char)s[i]))
			return -1;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i >= len)
		return -1;
	if (s[i] == 'Z' || s[i] == 'z') {
		if (i + 1 != len)
			return -1;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i != 6 || s[i + 3] != ':' ||
		    digits(s + i + 1, 2, &oh) == -1 ||
		    digits(s + i + 4, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (h > 23 || m > 59 || sec > 60)
		return -1;
	if (sec == 60) {
		/* leap second: 23:59:60 in UTC */
		int utc = h * 60 + m - sign * (oh * 60 + om);

		utc = ((utc % 1440) + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return -1;
	}
	return 0;
}

static int
check_date_time(const char *s, size_t len)
{
	if (len < 20 || (s[10] != 'T' && s[10] != 't'))
		return -1;
	if (check_date(s, 10) == -1)
		return -1;
	return check_time(s + 11, len - 11);
}

static int
check_uuid(const char *s, size_t len)
{
	size_t	 i;

	if (len != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
		} else if (!isxdigit((unsigned char)s[i]))
			return -1;
	}
	return 0;
}

/* RFC 3986 characters allowed in a URI outside of '%' escapes. */
static int
uri_char(int c)
{
	return isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c) != NULL;
}

static int
check_uri_chars(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1])
			    || !isxdigit((unsigned char)s[i + 2]))
				return -1;
			i += 2;
		} else if (s[i] == '\0' || !uri_char((unsigned char)s[i]))
			return -1;
	}
	return 0;
}

static int
check_uri(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || !isalpha((unsigned char)s[0]))
		return -1;
	for (i = 1; i < len && s[i] != ':'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '-' && s[i] != '.')
			return -1;
	if (i == len)
		return -1;
	return check_uri_chars(s, len);
}

static int
check_ipv4(const char *s, size_t len)
{
	int	 part, v, ndig;
	size_t	 i = 0;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			i++;
		}
		for (v = ndig = 0; i < len && isdigit((unsigned char)s[i]);
		    i++, ndig++) {
			if (ndig > 0 && v == 0)
				return -1;	/* leading zero */
			v = v * 10 + (s[i] - '0');
			if (v > 255)
				return -1;
		}
		if (ndig == 0)
			return -1;
	}
	return i == len ? 0 : -1;
}

static int
check_ipv6(const char *s, size_t len)
{
	size_t	 i = 0, start;
	int	 groups = 0, gap = 0, hex;

	if (len < 2 || len > 45)
		return -1;
	if (s[0] == ':') {
		if (s[1] != ':')
			return -1;
		gap = 1;
		i = 2;
		if (i == len)
			return 0;
	}
	while (i < len) {
		start = i;
		for (hex = 0; i < len && isxdigit((unsigned char)s[i]); i++)
			hex++;
		if (i < len && s[i] == '.') {
			/* embedded IPv4 as the last 32 bits */
			if (check_ipv4(s + start, len - start) == -1)
				return -1;
			groups += 2;
			i = len;
			break;
		}
		if (hex == 0 || hex > 4)
			return -1;
		groups++;
		if (i == len)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < len && s[i] == ':') {
			if (gap)
				return -1;
			gap = 1;
			i++;
			if (i == len)
				break;
		} else if (i == len)
			return -1;
	}
	return gap ? (groups <= 7 ? 0 : -1) : (groups == 8 ? 0 : -1);
}

static int
check_hostname(const char *s, size_t len)
{
	size_t	 i, lab = 0;

	if (len == 0 || len > 253)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return -1;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) &&
		    (s[i] != '-' || lab == 0))
			return -1;
		if (++lab > 63)
			return -1;
	}
	return lab == 0 || s[len - 1] == '-' ? -1 : 0;
}

static int
check_email(const char *s, size_t len)
{
	const char	*at = NULL;
	size_t		 i, local;

	for (i = len; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	if (at == NULL || (local = (size_t)(at - s)) == 0 || local > 64)
		return -1;
	if (s[0] == '.' || s[local - 1] == '.')
		return -1;
	for (i = 0; i < local; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return -1;
		if (!isalnum((unsigned char)s[i]) &&
		    strchr(".!#$%&'*+/=?^_`{|}~-", s[i]) == NULL)
			return -1;
	}
	at++;
	len -= local + 1;
	if (len > 2 && at[0] == '[' && at[len - 1] == ']') {
		if (len > 7 && strncmp(at + 1, "IPv6:", 5) == 0)
			return check_ipv6(at + 6, len - 7);
		return check_ipv4(at + 1, len - 2);
	}
	return check_hostname(at, len);
}

/* 0 when s is valid for fmt (or fmt is unknown). */
int
sfmt_check(unsigned fmt, const char *s, size_t len)
{
	switch (fmt) {
	case SCHEMA_FMT_DATE_TIME:
		return check_date_time(s, len);
	case SCHEMA_FMT_DATE:
		return check_date(s, len);
	case SCHEMA_FMT_TIME:
		return check_time(s, len);
	case SCHEMA_FMT_UUID:
		return check_uuid(s, len);
	case SCHEMA_FMT_URI:
		return check_uri(s, len);
	case SCHEMA_FMT_URI_REF:
		return check_uri_chars(s, len);
	case SCHEMA_FMT_EMAIL:
		return check_email(s, len);
	case SCHEMA_FMT_IPV4:
		return check_ipv4(s, len);
	case SCHEMA_FMT_IPV6:
		return check_ipv6(s, len);
	default:
		return 0;
	}
}

int
schema_formats_parse(const char *s, unsigned *mask, char *err, size_t errlen)
{
	const char	*p, *e;
	char		 item[32];
	unsigned	 m = 0, bit;
	size_t		 n;

	if (strcmp(s, "assert") == 0) {
		*mask = SCHEMA_FMT_ALL;
		return 0;
	}
	if (strcmp(s, "ignore") == 0) {
		*mask = 0;
		return 0;
	}
	for (p = s;; p = e + 1) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		while (p < e && isspace((unsigned char)*p))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0 || n >= sizeof(item)) {
			snprintf(err, errlen, "formats: %s item '%.*s' in "
			    "'%s' (expected assert, ignore or a list of %s)",
			    n == 0 ? "empty" : "unknown", (int)n, p, s,
			    "date-time,date,time,uuid,uri,uri-reference,"
			    "email,ipv4,ipv6");
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if ((bit = sfmt_lookup(item)) == 0) {
			snprintf(err, errlen, "formats: unknown format '%s' "
			    "(known: date-time,date,time,uuid,uri,"
			    "uri-reference,email,ipv4,ipv6)", item);
			return -1;
		}
		m |= bit;
		if (*e == '\0')
			break;
	}
	*mask = m;
	return 0;
}

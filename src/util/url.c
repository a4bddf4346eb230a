/*
 * url.c - endpoint comparison (see url.h).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "util/url.h"

/* Length of "scheme://authority", or of the whole string without "://". */
static size_t
origin_len(const char *s)
{
	const char	*p;

	if ((p = strstr(s, "://")) == NULL)
		return strlen(s);
	p += 3;
	return (size_t)(p - s) + strcspn(p, "/?#");
}

static size_t
trimmed_len(const char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	return n;
}

int
url_same(const char *a, const char *b)
{
	size_t	 oa, ob, la, lb;

	if (a == NULL || b == NULL)
		return 0;
	la = trimmed_len(a);
	lb = trimmed_len(b);
	oa = origin_len(a);
	ob = origin_len(b);
	if (oa > la)
		oa = la;
	if (ob > lb)
		ob = lb;
	if (oa != ob || strncasecmp(a, b, oa) != 0)
		return 0;
	return la - oa == lb - ob && memcmp(a + oa, b + ob, la - oa) == 0;
}

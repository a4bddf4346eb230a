/*
 * hostport.c - listener address parsing.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hostport.h"
#include "util/xmalloc.h"

int
hostport_split(const char *s, char **host, int *port)
{
	const char	*colon;
	char		*end;
	long		 v;

	*host = NULL;
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		*host = xstrndup(s + 1, (size_t)(colon - s - 1));
		colon++;
	} else {
		/* A second ':' is an unbracketed IPv6 address: ambiguous. */
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		*host = xstrndup(s, (size_t)(colon - s));
	}
	/* Digits only: strtol() alone would take " 5" and "+5". */
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
	    v > 65535 || **host == '\0') {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = (int)v;
	return 0;
}

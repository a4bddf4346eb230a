/*
 * http_parse.c - HTTP/1.x request head parsing (RFC 9112).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "http/http_parse.h"
#include "util/hex.h"

long
http_head_length(const char *buf, size_t len, size_t max)
{
	const char	*p = buf, *end = buf + (len < max ? len : max), *nl;

	/* The head ends with an empty line: "\n\r\n" or "\n\n". */
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl + 1 < end && nl[1] == '\n')
			return (long)(nl + 2 - buf);
		if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n')
			return (long)(nl + 3 - buf);
		p = nl + 1;
	}
	return len >= max ? -1 : 0;
}

static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Next line: returns its start, NUL-terminates it, advances *pp. */
static char *
next_line(char **pp, char *end)
{
	char	*line = *pp, *nl;

	if (line >= end || (nl = memchr(line, '\n', (size_t)(end - line))) ==
	    NULL)
		return NULL;
	*pp = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return line;
}

static int
has_token(const char *list, const char *tok)
{
	size_t		 n = strlen(tok);
	const char	*p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, tok, n) == 0 && (p[n] == '\0' ||
		    p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

int
http_parse_head(char *buf, size_t len, struct http_head *h,
    const char **why)
{
	char		*p = buf, *end = buf + len, *line, *sp, *colon, *v, *e;
	const char	*te = NULL, *conn = NULL;
	int64_t		 cl;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	*why = "malformed request";
	/* NUL is never valid in a head and would cut C strings short. */
	if (memchr(buf, '\0', len) != NULL) {
		*why = "NUL byte in the request head";
		return 400;
	}

	/* Tolerate empty lines before the request line (RFC 9112 2.2). */
	while ((line = next_line(&p, end)) != NULL && *line == '\0')
		;
	if (line == NULL)
		return 400;

	/* method SP request-target SP HTTP/1.x */
	h->method = line;
	for (sp = line; is_tchar((unsigned char)*sp); sp++)
		;
	if (sp == line || *sp != ' ')
		return 400;
	*sp++ = '\0';
	h->target = sp;
	while (*sp > ' ' && *sp != 0x7f)
		sp++;
	if (sp == h->target || *sp != ' ') {
		*why = "malformed request target";
		return 400;
	}
	*sp++ = '\0';
	if (strncmp(sp, "HTTP/1.", 7) != 0 || sp[7] < '0' || sp[7] > '9' ||
	    sp[8] != '\0') {
		*why = "not HTTP/1.x";
		return 505;
	}
	h->minor = sp[7] - '0';
	h->close = h->minor == 0;

	while ((line = next_line(&p, end)) != NULL && *line != '\0') {
		if (*line == ' ' || *line == '\t') {
			*why = "obsolete header line folding";
			return 400;
		}
		for (colon = line; is_tchar((unsigned char)*colon); colon++)
			;
		if (colon == line || *colon != ':') {
			*why = "malformed header line";
			return 400;
		}
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		for (sp = v; sp < e; sp++) {
			if (((unsigned char)*sp < 0x20 && *sp != '\t') ||
			    *sp == 0x7f) {
				*why = "control character in a header";
				return 400;
			}
		}
		if (h->nheaders >= HTTP_HEADERS_MAX) {
			*why = "too many header fields";
			return 431;
		}
		h->headers[h->nheaders].name = line;
		h->headers[h->nheaders].value = v;
		h->nheaders++;

		if (strcasecmp(line, "Content-Length") == 0) {
			if (*v == '\0')
				goto bad_cl;
			cl = 0;
			for (sp = v; *sp != '\0'; sp++) {
				if (*sp < '0' || *sp > '9' ||
				    cl > (INT64_MAX - 9) / 10)
					goto bad_cl;
				cl = cl * 10 + (*sp - '0');
			}
			if (h->content_length != -1 && h->content_length != cl)
				goto bad_cl;
			h->content_length = cl;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (te != NULL) {
				*why = "repeated Transfer-Encoding";
				return 400;
			}
			te = v;
		} else if (strcasecmp(line, "Connection") == 0)
			conn = v;
		else if (strcasecmp(line, "Expect") == 0 &&
		    strcasecmp(v, "100-continue") == 0)
			h->expect_continue = 1;
	}
	if (line == NULL)
		return 400;

	if (te != NULL) {
		if (h->content_length != -1) {
			*why = "both Content-Length and Transfer-Encoding";
			return 400;
		}
		if (strcasecmp(te, "chunked") != 0) {
			*why = "unsupported transfer coding";
			return 501;
		}
		h->chunked = 1;
	}
	if (conn != NULL) {
		if (has_token(conn, "close"))
			h->close = 1;
		else if (has_token(conn, "keep-alive"))
			h->close = 0;
	}
	return 0;
bad_cl:
	*why = "invalid Content-Length";
	return 400;
}

const char *
http_head_get(const struct http_head *h, const char *name)
{
	size_t	 i;

	for (i = 0; i < h->nheaders; i++)
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	return NULL;
}

size_t
http_head_count(const struct http_head *h, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < h->nheaders; i++)
		if (strcasecmp(h->headers[i].name, name) == 0)
			n++;
	return n;
}

static const char *
skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *
skip_token(const char *p, const char *end)
{
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	return p;
}

/* Past a quoted-string at p (which is '"'), or NULL when malformed. */
static const char *
skip_quoted(const char *p, const char *end)
{
	unsigned char	 c;

	for (p++; p < end; p++) {
		c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (++p == end)
				return NULL;
			c = (unsigned char)*p;
			if (c != '\t' && (c < 0x20 || c == 0x7f))
				return NULL;
		} else if (c != '\t' && (c < 0x20 || c == 0x7f))
			return NULL;
	}
	return NULL;
}

int64_t
http_chunk_size(const char *line, size_t len)
{
	const char	*p = line, *end = line + len, *q;
	int64_t		 v = 0;
	int		 d;

	for (; p < end; p++) {
		if ((d = hex_digit((unsigned char)*p)) == -1)
			break;
		if (v > (INT64_MAX >> 4))
			return -1;
		v = v * 16 + d;
	}
	if (p == line)
		return -1;
	/* Extensions: BWS ";" BWS name [ BWS "=" BWS value ], repeated. */
	while (p < end) {
		p = skip_ows(p, end);
		if (p == end || *p != ';')
			return -1;
		p = skip_ows(p + 1, end);
		if ((q = skip_token(p, end)) == p)
			return -1;
		p = skip_ows(q, end);
		if (p == end || *p != '=') {
			if (p > q && p == end)
				return -1;	/* trailing whitespace */
			p = q;
			continue;
		}
		p = skip_ows(p + 1, end);
		if (p < end && *p == '"')
			q = skip_quoted(p, end);
		else if ((q = skip_token(p, end)) == p)
			q = NULL;
		if (q == NULL)
			return -1;
		p = q;
	}
	return v;
}

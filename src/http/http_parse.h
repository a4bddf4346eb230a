/*
 * http_parse.h - HTTP/1.x request head parsing.
 *
 * A pure function over a byte buffer, so that it can be fuzzed on its own:
 * no I/O, no allocation.  The head is parsed in place: the parser writes
 * NUL bytes into buf to terminate the pieces it returns, so buf must be a
 * private, writable copy of exactly the head (as http_server.c makes).
 */
#ifndef BECKND_HTTP_PARSE_H
#define BECKND_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_HEADERS_MAX	100

struct http_header {
	const char	*name;
	const char	*value;
};

struct http_head {
	const char		*method;
	const char		*target;	/* as sent: path[?query] */
	int			 minor;		/* HTTP/1.<minor> */
	struct http_header	 headers[HTTP_HEADERS_MAX];
	size_t			 nheaders;
	int64_t			 content_length; /* -1 when absent */
	int			 chunked;	/* Transfer-Encoding: chunked */
	int			 close;		/* the client wants Connection: close */
	int			 expect_continue;
};

/*
 * Length of the head at the start of buf (through the blank line), 0 when
 * no complete head is there yet, or -1 when more than max bytes arrived
 * without one.  Accepts CRLF and bare LF line ends.
 */
long	http_head_length(const char *buf, size_t len, size_t max);

/*
 * Parse a complete head of len bytes (as measured by http_head_length).
 * Returns 0, or the HTTP status to answer with: 400 (malformed), 431 (too
 * many headers), 505 (not HTTP/1.x), 501 (a transfer coding other than
 * chunked).  *why gets a short reason.
 */
int	http_parse_head(char *buf, size_t len, struct http_head *,
	    const char **why);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_head_get(const struct http_head *, const char *name);
/* How many fields of that name (case-insensitive) the head has. */
size_t	http_head_count(const struct http_head *, const char *name);

/*
 * The size of a chunk from its size line (len bytes, without the line
 * end): hex digits, then nothing but chunk extensions (RFC 9112 7.1.1:
 * *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )),
 * which are ignored.  -1 when malformed (no digits, junk, a NUL, a size
 * over INT64_MAX).
 */
int64_t	http_chunk_size(const char *line, size_t len);

#endif

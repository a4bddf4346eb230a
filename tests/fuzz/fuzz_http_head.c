/*
 * fuzz_http_head.c - libFuzzer target for the HTTP/1.x request head parser.
 *
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make tests/fuzz/fuzz_http_head
 *   ./tests/fuzz/fuzz_http_head -max_total_time=60 CORPUS \
 *       $(srcdir)/tests/data/http/fuzz-seeds
 *
 * The input is copied into a private heap buffer of exactly its size, and
 * the head into another of exactly the head's size (the parser writes into
 * it), so that ASan sees any access past either.  The first input byte
 * picks the head size limit (as the server's header_max would): byte % 6
 * indexes { 16, 64, 256, 1024, 8192, 65536 }; the seeds start with '4'
 * (8192).
 *
 * Besides memory safety the target checks what the server relies on, and
 * aborts when it does not hold:
 *   - http_head_length() agrees with a naive scan for "\n\n" / "\n\r\n"
 *     within the limit (0 = incomplete, -1 = over the limit);
 *   - http_parse_head() returns 0 or one of 400, 431, 501, 505, with a
 *     non-empty reason;
 *   - on 0: method is a non-empty token, target non-empty without
 *     whitespace or CTLs, minor is 0..9, at most HTTP_HEADERS_MAX headers
 *     with token names and values free of CTLs (but HTAB) and of leading
 *     or trailing whitespace, every returned string lies in the head
 *     buffer, content_length >= -1, chunked excludes a Content-Length,
 *     and http_head_get() finds the first header of each name;
 *   - unless FUZZ_HTTP_ALLOW_NUL_TRUNCATION is set in the environment: a
 *     returned header value ends where its line ends (modulo trailing
 *     whitespace), i.e. a NUL in the input did not silently cut it short;
 *   - http_head_count() agrees with a count of http_head_get() names;
 *   - http_chunk_size() on the input's first line (without its CR LF,
 *     in a buffer of exactly that size): -1, or the value of the leading
 *     hex digits, and then only when what follows is empty or starts
 *     with ';' or whitespace, holds no CTL but HTAB, and the digits fit
 *     an int64_t.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_http_head: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

static int	 allow_nul = -1;

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static long
naive_length(const char *buf, size_t len, size_t max)
{
	size_t	 i, n = len < max ? len : max;

	for (i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < n && buf[i + 1] == '\n')
			return (long)(i + 2);
		if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return (long)(i + 3);
	}
	return len >= max ? -1 : 0;
}

static int
inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p < buf + len;
}

static void
check_ok(const struct http_head *h, const char *head, size_t len,
    const char *orig)
{
	const char	*p, *v;
	size_t		 i, j, off, vlen;

	CHECK(inside(h->method, head, len) && h->method[0] != '\0');
	for (p = h->method; *p != '\0'; p++)
		CHECK(is_tchar((unsigned char)*p));
	CHECK(inside(h->target, head, len) && h->target[0] != '\0');
	for (p = h->target; *p != '\0'; p++)
		CHECK((unsigned char)*p > ' ' && *p != 0x7f);
	CHECK(h->minor >= 0 && h->minor <= 9);
	CHECK(h->nheaders <= HTTP_HEADERS_MAX);
	CHECK(h->content_length >= -1);
	CHECK(!h->chunked || h->content_length == -1);
	CHECK(h->close == 0 || h->close == 1);
	CHECK(h->expect_continue == 0 || h->expect_continue == 1);

	for (i = 0; i < h->nheaders; i++) {
		CHECK(inside(h->headers[i].name, head, len));
		CHECK(inside(h->headers[i].value, head, len));
		CHECK(h->headers[i].name[0] != '\0');
		for (p = h->headers[i].name; *p != '\0'; p++)
			CHECK(is_tchar((unsigned char)*p));
		v = h->headers[i].value;
		vlen = strlen(v);
		CHECK(inside(v + vlen, head, len));
		for (j = 0; j < vlen; j++)
			CHECK((unsigned char)v[j] >= 0x20 || v[j] == '\t');
		if (vlen > 0) {
			CHECK(v[0] != ' ' && v[0] != '\t');
			CHECK(v[vlen - 1] != ' ' && v[vlen - 1] != '\t');
		}
		/* In the original bytes the value stops at a line end or at
		 * trailing whitespace, never at an input NUL. */
		off = (size_t)(v + vlen - head);
		if (!allow_nul)
			CHECK(orig[off] == '\r' || orig[off] == '\n' ||
			    orig[off] == ' ' || orig[off] == '\t');
		CHECK(http_head_get(h, h->headers[i].name) != NULL);
	}
	/* Lookup returns the first field of a name. */
	for (i = 0; i < h->nheaders; i++) {
		for (j = 0; j < i; j++)
			if (strcasecmp(h->headers[j].name,
			    h->headers[i].name) == 0)
				break;
		if (j == i)
			CHECK(http_head_get(h, h->headers[i].name) ==
			    h->headers[i].value);
	}
	if (h->content_length >= 0)
		CHECK(http_head_get(h, "content-length") != NULL);
	if (h->chunked)
		CHECK(http_head_get(h, "TRANSFER-ENCODING") != NULL);
	for (i = 0; i < h->nheaders; i++) {
		size_t	 n = 0;

		for (j = 0; j < h->nheaders; j++)
			n += strcasecmp(h->headers[j].name,
			    h->headers[i].name) == 0;
		CHECK(http_head_count(h, h->headers[i].name) == n);
	}
	(void)http_head_get(h, "Host");
	(void)http_head_get(h, "Connection");
	(void)http_head_get(h, "Authorization");
	(void)http_head_get(h, "");
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
check_chunk_line(const uint8_t *data, size_t size)
{
	const uint8_t	*nl = memchr(data, '\n', size);
	size_t		 len = nl != NULL ? (size_t)(nl - data) : size, i, nd;
	char		*line;
	int64_t		 v, want = 0;
	int		 over = 0;

	if (len > 0 && data[len - 1] == '\r')
		len--;
	line = malloc(len > 0 ? len : 1);
	CHECK(line != NULL);
	memcpy(line, data, len);
	v = http_chunk_size(line, len);
	CHECK(v >= -1);
	for (nd = 0; nd < len && hexval((unsigned char)line[nd]) >= 0; nd++) {
		if (want > (INT64_MAX >> 4))
			over = 1;
		else
			want = want * 16 + hexval((unsigned char)line[nd]);
	}
	if (v >= 0) {
		CHECK(nd > 0 && !over && v == want);
		CHECK(nd == len || line[nd] == ';' || line[nd] == ' ' ||
		    line[nd] == '\t');
		for (i = nd; i < len; i++)
			CHECK((unsigned char)line[i] >= 0x20 ||
			    line[i] == '\t');
		CHECK(len == nd || (line[len - 1] != ' ' &&
		    line[len - 1] != '\t' && line[len - 1] != ';'));
	} else
		CHECK(nd == 0 || over || nd < len);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxes[] = { 16, 64, 256, 1024, 8192, 65536 };
	struct http_head	 h;
	const char		*why = NULL;
	char			*in, *head;
	size_t			 max;
	long			 n;
	int			 st;

	if (allow_nul == -1)
		allow_nul = getenv("FUZZ_HTTP_ALLOW_NUL_TRUNCATION") != NULL;
	if (size < 1)
		return 0;
	max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
	data++;
	size--;
	check_chunk_line(data, size);

	in = malloc(size > 0 ? size : 1);
	CHECK(in != NULL);
	memcpy(in, data, size);
	n = http_head_length(in, size, max);
	CHECK(n == naive_length(in, size, max));
	CHECK(n >= -1 && n <= (long)size && n <= (long)max);
	if (n <= 0) {
		free(in);
		return 0;
	}
	CHECK(in[n - 1] == '\n');

	head = malloc((size_t)n);
	CHECK(head != NULL);
	memcpy(head, in, (size_t)n);
	st = http_parse_head(head, (size_t)n, &h, &why);
	CHECK(st == 0 || st == 400 || st == 431 || st == 501 || st == 505);
	CHECK(why != NULL && why[0] != '\0' && strlen(why) < 80);
	if (st == 0)
		check_ok(&h, head, (size_t)n, in);
	free(head);
	free(in);
	return 0;
}

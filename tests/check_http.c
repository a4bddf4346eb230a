/*
 * check_http.c - HTTP/1.1 request head parser and the in-process server.
 *
 * Part 1 tests http_parse.c as a pure function.  Part 2 starts the server
 * on 127.0.0.1:0 and talks to it from the same event loop with raw
 * bufferevent clients that write request bytes and keep every byte of the
 * response, so that status lines, headers, bodies and connection closes
 * are asserted exactly.  A watchdog alarm bounds every test (CK_FORK=no
 * included).
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "testutil.h"
#include "http/http_parse.h"
#include "http/http_peers.h"
#include "http/http_server.h"
#include "util/budget.h"

/* ------------------------------------------------------------------ */
/* Part 1: http_parse                                                  */
/* ------------------------------------------------------------------ */

/* Parse a head given as a string (copied: the parser writes into it). */
static char	 pbuf[65536];
static struct http_head ph;
static const char *pwhy;

static int
parse_n(const char *s, size_t n)
{
	ck_assert_uint_lt(n, sizeof(pbuf));
	memcpy(pbuf, s, n);
	pwhy = NULL;
	return http_parse_head(pbuf, n, &ph, &pwhy);
}

static int
parse(const char *s)
{
	int	 st = parse_n(s, strlen(s));

	ck_assert_ptr_nonnull(pwhy);
	return st;
}

START_TEST(head_length_crlf_and_lf)
{
	const char	*a = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	const char	*b = "GET / HTTP/1.1\nHost: a\n\n";
	const char	*c = "GET / HTTP/1.1\r\nHost: a\n\r\nBODY";
	const char	*d = "GET / HTTP/1.1\nHost: a\r\n\nXYZ";

	ck_assert_int_eq(http_head_length(a, strlen(a), 8192), 27);
	ck_assert_int_eq(http_head_length(b, strlen(b), 8192), 24);
	/* Mixed line ends; bytes after the head are not counted. */
	ck_assert_int_eq(http_head_length(c, strlen(c), 8192), 26);
	ck_assert_int_eq(http_head_length(d, strlen(d), 8192), 25);
	/* Request line only. */
	ck_assert_int_eq(http_head_length("GET / HTTP/1.1\r\n\r\n", 18, 8192),
	    18);
}
END_TEST

START_TEST(head_length_incomplete)
{
	const char	*a = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t		 i;

	/* Every strict prefix is incomplete. */
	for (i = 0; i < strlen(a); i++)
		ck_assert_int_eq(http_head_length(a, i, 8192), 0);
	ck_assert_int_eq(http_head_length("GET / HTTP/1.1\r\n\r", 17, 8192), 0);
	ck_assert_int_eq(http_head_length("\r\n", 2, 8192), 0);
	ck_assert_int_eq(http_head_length("", 0, 8192), 0);
}
END_TEST

START_TEST(head_length_max)
{
	const char	*a = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";	/* 27 */
	const char	*more = "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody-bytes";

	/* Exactly at max: accepted, also when more bytes follow. */
	ck_assert_int_eq(http_head_length(a, 27, 27), 27);
	ck_assert_int_eq(http_head_length(more, strlen(more), 27), 27);
	/* One byte over max: -1, whether or not the rest has arrived. */
	ck_assert_int_eq(http_head_length(a, 27, 26), -1);
	ck_assert_int_eq(http_head_length(more, strlen(more), 26), -1);
	/* max bytes without an end: -1; fewer: 0 (keep reading). */
	ck_assert_int_eq(http_head_length(a, 20, 20), -1);
	ck_assert_int_eq(http_head_length(a, 19, 20), 0);
}
END_TEST

START_TEST(parse_get)
{
	ck_assert_int_eq(parse("GET /search?q=1 HTTP/1.1\r\nHost: example\r\n"
	    "Accept: */*\r\n\r\n"), 0);
	ck_assert_str_eq(ph.method, "GET");
	/* The parser keeps the target whole: the server splits the query. */
	ck_assert_str_eq(ph.target, "/search?q=1");
	ck_assert_int_eq(ph.minor, 1);
	ck_assert_uint_eq(ph.nheaders, 2);
	ck_assert_str_eq(ph.headers[0].name, "Host");
	ck_assert_str_eq(ph.headers[0].value, "example");
	ck_assert_str_eq(ph.headers[1].name, "Accept");
	ck_assert_str_eq(ph.headers[1].value, "*/*");
	ck_assert_int_eq(ph.content_length, -1);
	ck_assert_int_eq(ph.chunked, 0);
	ck_assert_int_eq(ph.close, 0);
	ck_assert_int_eq(ph.expect_continue, 0);
}
END_TEST

START_TEST(parse_post_bare_lf)
{
	ck_assert_int_eq(parse("POST /on_search HTTP/1.1\nContent-Type: "
	    "application/json\nContent-Length: 42\n\n"), 0);
	ck_assert_str_eq(ph.method, "POST");
	ck_assert_str_eq(ph.target, "/on_search");
	ck_assert_int_eq(ph.content_length, 42);
	ck_assert_str_eq(http_head_get(&ph, "content-type"),
	    "application/json");
}
END_TEST

START_TEST(parse_header_lookup)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-Beckn-Id: a1\r\n"
	    "AUTHORIZATION:   Signature x  \t\r\nEmpty:\r\nx-dup: 1\r\n"
	    "X-Dup: 2\r\n\r\n"), 0);
	ck_assert_str_eq(http_head_get(&ph, "x-beckn-id"), "a1");
	ck_assert_str_eq(http_head_get(&ph, "X-BECKN-ID"), "a1");
	/* Surrounding whitespace is not part of the value. */
	ck_assert_str_eq(http_head_get(&ph, "Authorization"), "Signature x");
	ck_assert_str_eq(http_head_get(&ph, "empty"), "");
	/* The first of repeated fields. */
	ck_assert_str_eq(http_head_get(&ph, "X-Dup"), "1");
	ck_assert_ptr_null(http_head_get(&ph, "X-Beckn"));
	ck_assert_ptr_null(http_head_get(&ph, "Host"));
}
END_TEST

START_TEST(parse_leading_empty_line)
{
	ck_assert_int_eq(parse("\r\nGET /x HTTP/1.1\r\n\r\n"), 0);
	ck_assert_str_eq(ph.target, "/x");
	ck_assert_int_eq(parse("\nPOST /y HTTP/1.0\n\n"), 0);
	ck_assert_str_eq(ph.method, "POST");
	ck_assert_int_eq(ph.minor, 0);
}
END_TEST

START_TEST(parse_content_length)
{
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
	    0);
	ck_assert_int_eq(ph.content_length, 0);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\ncontent-length:  1000000000000 "
	    "\r\n\r\n"), 0);
	ck_assert_int_eq(ph.content_length, 1000000000000LL);
	/* Repeated with the same value: fine. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n"), 0);
	ck_assert_int_eq(ph.content_length, 5);
	/* Repeated with another value: request smuggling territory. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "invalid Content-Length");
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 6\r\n"
	    "Content-Length: 06x\r\n\r\n"), 400);
}
END_TEST

START_TEST(parse_content_length_invalid)
{
	static const char *const bad[] = { "", "1a", "a1", "-1", "+1", "0x10",
	    "1 2", "1,1", "1.0", "99999999999999999999",
	    "9223372036854775808", "18446744073709551616" };
	char	 head[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n"
		    "Content-Length: %s\r\n\r\n", bad[i]);
		ck_assert_msg(parse(head) == 400, "Content-Length \"%s\"",
		    bad[i]);
		ck_assert_str_eq(pwhy, "invalid Content-Length");
	}
}
END_TEST

START_TEST(parse_transfer_encoding)
{
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n"), 0);
	ck_assert_int_eq(ph.chunked, 1);
	ck_assert_int_eq(ph.content_length, -1);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\ntransfer-encoding: Chunked"
	    "\r\n\r\n"), 0);
	ck_assert_int_eq(ph.chunked, 1);

	/* TE and CL together: 400, in either order, even TE gzip. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\nContent-Length: 3\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "both Content-Length and Transfer-Encoding");
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n"), 400);

	/* Other codings: 501. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip"
	    "\r\n\r\n"), 501);
	ck_assert_str_eq(pwhy, "unsupported transfer coding");
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n"), 501);
	/* Repeated TE field: 400. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}
END_TEST

START_TEST(parse_version)
{
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(ph.minor, 0);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r\n\r\n"), 505);
	ck_assert_str_eq(pwhy, "not HTTP/1.x");
	ck_assert_int_eq(parse("GET / HTTP/1\r\n\r\n"), 505);
	ck_assert_int_eq(parse("GET / HTTP/1.\r\n\r\n"), 505);
	ck_assert_int_eq(parse("GET / HTTP/1.10\r\n\r\n"), 505);
	ck_assert_int_eq(parse("GET / HTTP/0.9\r\n\r\n"), 505);
	ck_assert_int_eq(parse("GET / FTP/1.1\r\n\r\n"), 505);
}
END_TEST

START_TEST(parse_request_line_malformed)
{
	ck_assert_int_eq(parse("GET /\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "malformed request target");
	ck_assert_int_eq(parse("GET  / HTTP/1.1\r\n\r\n"), 400);
	ck_assert_int_eq(parse(" GET / HTTP/1.1\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GE(T / HTTP/1.1\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET /a\rb HTTP/1.1\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
	ck_assert_int_eq(parse("\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "malformed request");
	/* No blank line inside len: not a complete head. */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n"), 400);
}
END_TEST

START_TEST(parse_header_malformed)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "malformed header line");
	/* Whitespace between name and colon must be rejected (RFC 9112). */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX(y): a\r\n\r\n"), 400);
}
END_TEST

START_TEST(parse_obs_fold)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"),
	    400);
	ck_assert_str_eq(pwhy, "obsolete header line folding");
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"),
	    400);
	/* A space-started first header line is folding too. */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n X-A: one\r\n\r\n"), 400);
}
END_TEST

START_TEST(parse_control_chars)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n"), 400);
	ck_assert_str_eq(pwhy, "control character in a header");
	/* A bare CR inside a value. */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: a\rz\r\n\r\n"), 400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: a\x1b[0m\r\n\r\n"), 400);
	/* Tab is allowed inside a value. */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A: a\tz\r\n\r\n"), 0);
	ck_assert_str_eq(http_head_get(&ph, "x-a"), "a\tz");
}
END_TEST

/*
 * RFC 9110 5.5: a recipient of NUL within a field value MUST reject the
 * message or replace the NUL with SP.  Truncating the value at the NUL
 * lets "Content-Length: 5\0..." or "Transfer-Encoding: chunked\0, gzip"
 * through as something other than what was sent.
 */
START_TEST(parse_nul_in_header_value)
{
	static const char h1[] = "GET / HTTP/1.1\r\nX-A: ab\0cd\r\n\r\n";
	static const char h2[] = "POST / HTTP/1.1\r\nContent-Length: 5\0"
	    "00\r\n\r\n";
	int	 st;

	st = parse_n(h1, sizeof(h1) - 1);
	ck_assert_msg(st == 400 || (st == 0 &&
	    strcmp(http_head_get(&ph, "X-A"), "ab cd") == 0),
	    "NUL in a header value: status %d, value \"%s\" (want 400)", st,
	    st == 0 ? http_head_get(&ph, "X-A") : "");
	st = parse_n(h2, sizeof(h2) - 1);
	ck_assert_msg(st == 400,
	    "Content-Length \"5\\0" "00\": status %d, content_length %lld "
	    "(want 400)", st, (long long)ph.content_length);
}
END_TEST

/* The version must be exactly HTTP/1.x then the line end. */
START_TEST(parse_nul_in_request_line)
{
	static const char h[] = "GET / HTTP/1.1\0junk\r\n\r\n";
	int	 st;

	st = parse_n(h, sizeof(h) - 1);
	ck_assert_msg(st != 0, "\"HTTP/1.1\\0junk\" accepted as HTTP/1.1");
}
END_TEST

START_TEST(parse_header_count)
{
	char	 head[8192];
	size_t	 n, i;

	n = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(head + n, sizeof(head) - n,
		    "X-H%zu: %zu\r\n", i, i);
	memcpy(head + n, "\r\n", 3);
	ck_assert_int_eq(parse(head), 0);
	ck_assert_uint_eq(ph.nheaders, HTTP_HEADERS_MAX);
	ck_assert_str_eq(http_head_get(&ph, "x-h99"), "99");

	/* One more: 431. */
	n += (size_t)snprintf(head + n, sizeof(head) - n, "X-Last: 1\r\n\r\n");
	ck_assert_int_eq(parse(head), 431);
	ck_assert_str_eq(pwhy, "too many header fields");
}
END_TEST

START_TEST(parse_connection)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
	    0);
	ck_assert_int_eq(ph.close, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, "
	    "CLOSE\r\n\r\n"), 0);
	ck_assert_int_eq(ph.close, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: upgrade,close"
	    "\r\n\r\n"), 0);
	ck_assert_int_eq(ph.close, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n"),
	    0);
	ck_assert_int_eq(ph.close, 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n"
	    "\r\n"), 0);
	ck_assert_int_eq(ph.close, 0);

	/* HTTP/1.0: close unless keep-alive is asked for. */
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(ph.close, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "\r\n"), 0);
	ck_assert_int_eq(ph.close, 0);
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: foo\r\n\r\n"), 0);
	ck_assert_int_eq(ph.close, 1);
}
END_TEST

START_TEST(parse_expect)
{
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 3\r\n\r\n"), 0);
	ck_assert_int_eq(ph.expect_continue, 1);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nexpect: 100-Continue\r\n"
	    "\r\n"), 0);
	ck_assert_int_eq(ph.expect_continue, 1);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"), 0);
	ck_assert_int_eq(ph.expect_continue, 0);
}
END_TEST

START_TEST(parse_head_count)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nAuthorization: a\r\n"
	    "X-A: 1\r\nauthorization: b\r\nAUTHORIZATION:\r\n\r\n"), 0);
	ck_assert_uint_eq(http_head_count(&ph, "Authorization"), 3);
	ck_assert_uint_eq(http_head_count(&ph, "x-a"), 1);
	ck_assert_uint_eq(http_head_count(&ph, "X-Gateway-Authorization"), 0);
	ck_assert_uint_eq(http_head_count(&ph, "Authorizatio"), 0);
}
END_TEST

static int64_t
csize(const char *s)
{
	return http_chunk_size(s, strlen(s));
}

START_TEST(parse_chunk_size)
{
	static const char *const bad[] = { "", " ", ";x", "5 junk", "5junk",
	    "5 ", "5\t", "5;", "5; ", "5;x ", "5;x=", "5;x=\"a", "5;x=\"a\" ",
	    "5;x=a b", "5;x=\"\x01\"", "5;x=\"a\\", "5;=a", "5;x;", "5,6",
	    "0x5", "+5", "-5", "5 5", "5;x=a;", "5;x==a", "5;x=(a)",
	    "8000000000000000", "10000000000000000",
	    "123456789abcdef01" };
	size_t	 i;

	ck_assert_int_eq(csize("0"), 0);
	ck_assert_int_eq(csize("5"), 5);
	ck_assert_int_eq(csize("00a"), 10);
	ck_assert_int_eq(csize("fF"), 255);
	ck_assert_int_eq(csize("7fffffffffffffff"), INT64_MAX);
	/* Extensions, with optional whitespace around ';' and '='. */
	ck_assert_int_eq(csize("5;ext"), 5);
	ck_assert_int_eq(csize("5;ext=1"), 5);
	ck_assert_int_eq(csize("5 ;ext"), 5);
	ck_assert_int_eq(csize("5\t; ext = v ;b"), 5);
	ck_assert_int_eq(csize("6;a=b;c=\"d\""), 6);
	ck_assert_int_eq(csize("1;q=\"a \\\" ;b\\\\\""), 1);
	ck_assert_int_eq(csize("1;q=\"\x80\xff\""), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(csize(bad[i]) == -1, "chunk size line \"%s\" "
		    "accepted", bad[i]);
	/* A NUL anywhere. */
	ck_assert_int_eq(http_chunk_size("5\0", 2), -1);
	ck_assert_int_eq(http_chunk_size("5;a\0", 4), -1);
	ck_assert_int_eq(http_chunk_size("5;a=\"\0\"", 7), -1);
	/* Only len bytes count. */
	ck_assert_int_eq(http_chunk_size("5 junk", 1), 5);
}
END_TEST

/* http_peers: the per-address count behind max_connections_per_client. */
START_TEST(peers_count)
{
	struct http_peers	*t = http_peers_new();
	struct http_peer	*e[600], *x;
	struct sockaddr_in	 a4, b4;
	struct sockaddr_in6	 m6, o6;
	size_t			 i;

	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
	b4 = a4;
	inet_pton(AF_INET, "192.0.2.2", &b4.sin_addr);
	memset(&m6, 0, sizeof(m6));
	m6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &m6.sin6_addr);
	o6 = m6;
	inet_pton(AF_INET6, "2001:db8::1", &o6.sin6_addr);

	ck_assert_ptr_nonnull(e[0] = http_peers_add(t,
	    (struct sockaddr *)&a4, 3));
	ck_assert_ptr_nonnull(e[1] = http_peers_add(t,
	    (struct sockaddr *)&a4, 3));
	/* The IPv4-mapped form is the same client. */
	ck_assert_ptr_nonnull(e[2] = http_peers_add(t,
	    (struct sockaddr *)&m6, 3));
	ck_assert_ptr_eq(e[0], e[2]);
	ck_assert_int_eq(http_peers_count(t, (struct sockaddr *)&a4), 3);
	ck_assert_ptr_null(http_peers_add(t, (struct sockaddr *)&a4, 3));
	ck_assert_ptr_null(http_peers_add(t, (struct sockaddr *)&m6, 3));
	ck_assert_int_eq(http_peers_count(t, (struct sockaddr *)&a4), 3);
	/* Other addresses are unaffected; no limit when max <= 0. */
	ck_assert_ptr_nonnull(e[3] = http_peers_add(t,
	    (struct sockaddr *)&b4, 3));
	ck_assert_ptr_nonnull(e[4] = http_peers_add(t,
	    (struct sockaddr *)&o6, 1));
	ck_assert_ptr_null(http_peers_add(t, (struct sockaddr *)&o6, 1));
	ck_assert_ptr_nonnull(x = http_peers_add(t, (struct sockaddr *)&a4,
	    0));
	ck_assert_int_eq(http_peers_count(t, (struct sockaddr *)&a4), 4);
	ck_assert_uint_eq(http_peers_size(t), 3);
	http_peers_remove(t, x);
	http_peers_remove(t, e[0]);
	ck_assert_ptr_nonnull(e[0] = http_peers_add(t,
	    (struct sockaddr *)&a4, 3));
	for (i = 0; i < 5; i++)
		http_peers_remove(t, e[i]);
	ck_assert_uint_eq(http_peers_size(t), 0);
	ck_assert_int_eq(http_peers_count(t, (struct sockaddr *)&a4), 0);

	/* Many addresses: the table grows and shrinks back. */
	for (i = 0; i < 600; i++) {
		o6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
		o6.sin6_addr.s6_addr[15] = (uint8_t)i;
		ck_assert_ptr_nonnull(e[i] = http_peers_add(t,
		    (struct sockaddr *)&o6, 1));
	}
	ck_assert_uint_eq(http_peers_size(t), 600);
	for (i = 0; i < 600; i++) {
		o6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
		o6.sin6_addr.s6_addr[15] = (uint8_t)i;
		ck_assert_int_eq(http_peers_count(t, (struct sockaddr *)&o6),
		    1);
	}
	for (i = 0; i < 600; i++)
		http_peers_remove(t, e[i]);
	ck_assert_uint_eq(http_peers_size(t), 0);
	http_peers_free(t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Part 2: the server, in process                                      */
/* ------------------------------------------------------------------ */

#define MAXREC		8
#define MAXHELD		8
#define MAXCLIENTS	16

enum mode {
	M_REPLY,	/* answer at once */
	M_HOLD,		/* keep the request in T.held[] */
	M_TIMER,	/* answer 50 ms later from a timer */
	M_STEAL,	/* take the body, then answer */
	M_BIG,		/* answer with a 4 MiB body */
};

struct rec {
	char		 method[16];
	char		 path[256];
	char		 query[256];
	int		 has_query;
	char		 host[64];
	char		 peer[64];
	char		*body;
	size_t		 len;
	int		 replied_before;	/* T.replied at dispatch */
};

struct client {
	struct bufferevent	*bev;
	struct evbuffer		*in;		/* every byte received */
	int			 connected;
	int			 closed;	/* EOF or error */
	int			 err;		/* errno of an error */
	int			 shut_after_write;
	double			 t_closed;
};

static struct {
	struct event_base	*base;
	struct http_server	*srv;
	struct event		*tick;
	enum mode		 mode;
	int			 nreq;
	struct rec		 recs[MAXREC];
	struct http_request	*held[MAXHELD];
	int			 nheld;
	int			 replied;
	struct client		*clients[MAXCLIENTS];
	struct budget		*budget;	/* the server's, if any */
	size_t			 used_in_handler; /* budget used at dispatch */
} T;

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Run the loop until cond holds or ms pass; the ticker bounds each turn. */
#define WAIT(cond, ms) __extension__ ({				\
	double	 dl_ = now_ms() + (ms);				\
	while (!(cond) && now_ms() < dl_)			\
		event_base_loop(T.base, EVLOOP_ONCE);		\
	(cond);							\
})
#define RUN(ms)	((void)WAIT(0, ms))

static const char *
errbody_json(int status, const char *why, struct evbuffer *out, void *arg)
{
	evbuffer_add_printf(out, "{\"error\":\"%s\",\"status\":%d}", why,
	    status);
	return "application/json";
}

static void
reply_std(struct http_request *req, int status)
{
	char		 seq[16], body[600];
	const char	*hdr[] = { "X-Test", "yes", "X-Seq", seq, NULL };
	const char	*q = http_request_query(req);
	size_t		 len;
	int		 n;

	http_request_body(req, &len);
	snprintf(seq, sizeof(seq), "%d", T.replied + 1);
	n = snprintf(body, sizeof(body), "%s %s %s %zu",
	    http_request_method(req), http_request_path(req),
	    q != NULL ? q : "-", len);
	T.replied++;
	http_reply(req, status, "text/plain", hdr, body, (size_t)n);
}

static void
timer_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	reply_std(arg, 202);
}

static void
handler(struct http_request *req, void *arg)
{
	struct rec	*r = NULL;
	const char	*b, *v;
	size_t		 len;

	if (T.nreq < MAXREC) {
		r = &T.recs[T.nreq];
		snprintf(r->method, sizeof(r->method), "%s",
		    http_request_method(req));
		snprintf(r->path, sizeof(r->path), "%s", http_request_path(req));
		v = http_request_query(req);
		r->has_query = v != NULL;
		snprintf(r->query, sizeof(r->query), "%s", v != NULL ? v : "");
		v = http_request_header(req, "host");
		snprintf(r->host, sizeof(r->host), "%s", v != NULL ? v : "");
		snprintf(r->peer, sizeof(r->peer), "%s",
		    http_request_peer(req));
		b = http_request_body(req, &len);
		/* Contiguous and NUL-terminated after len. */
		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(b[len], '\0');
		r->body = malloc(len + 1);
		ck_assert_ptr_nonnull(r->body);
		memcpy(r->body, b, len + 1);
		r->len = len;
		r->replied_before = T.replied;
	}
	T.nreq++;
	if (T.budget != NULL)
		T.used_in_handler = T.budget->used;

	switch (T.mode) {
	case M_REPLY:
		reply_std(req, 200);
		break;
	case M_HOLD:
		ck_assert_int_lt(T.nheld, MAXHELD);
		T.held[T.nheld++] = req;
		break;
	case M_TIMER: {
		struct timeval tv = { 0, 50000 };

		ck_assert_int_lt(T.nheld, MAXHELD);
		T.held[T.nheld++] = req;
		event_base_once(T.base, -1, EV_TIMEOUT, timer_reply_cb, req,
		    &tv);
		break;
	}
	case M_STEAL: {
		char	*s = http_request_steal_body(req, &len);

		ck_assert_ptr_nonnull(s);
		ck_assert_int_eq(s[len], '\0');
		if (r != NULL) {
			ck_assert_uint_eq(len, r->len);
			ck_assert(memcmp(s, r->body, len) == 0);
		}
		free(s);
		/* The charge came with the body: give it back. */
		if (T.budget != NULL) {
			ck_assert_uint_ge(T.budget->used, len);
			budget_give(T.budget, len);
		}
		b = http_request_body(req, &len);
		ck_assert_uint_eq(len, 0);
		ck_assert_str_eq(b, "");
		reply_std(req, 200);
		break;
	}
	case M_BIG: {
		struct evbuffer	*eb = evbuffer_new();
		char		 blk[4096];
		int		 i;

		for (i = 0; i < 1024; i++) {
			memset(blk, 'a' + i % 26, sizeof(blk));
			evbuffer_add(eb, blk, sizeof(blk));
		}
		T.replied++;
		http_reply_buffer(req, 200, "application/octet-stream", NULL,
		    eb);
		ck_assert_uint_eq(evbuffer_get_length(eb), 0);
		evbuffer_free(eb);
		break;
	}
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static struct http_server_conf
conf_default(void)
{
	struct http_server_conf	 c;

	memset(&c, 0, sizeof(c));
	c.header_max = 8192;
	c.body_max = 2u << 20;
	c.read_timeout_ms = 2000;
	c.idle_timeout_ms = 2000;
	c.write_timeout_ms = 2000;
	c.max_connections = 0;
	return c;
}

static void
srv_start2(const struct http_server_conf *conf, http_error_body eb)
{
	char	 err[256];

	T.srv = http_server_new(T.base, "127.0.0.1:0", conf, handler, eb,
	    NULL, err, sizeof(err));
	ck_assert_msg(T.srv != NULL, "http_server_new: %s", err);
	ck_assert_int_gt(http_server_port(T.srv), 0);
}

static void
srv_start(const struct http_server_conf *conf)
{
	srv_start2(conf, errbody_json);
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 5000 };

	alarm(60);
	memset(&T, 0, sizeof(T));
	T.base = event_base_new();
	ck_assert_ptr_nonnull(T.base);
	T.tick = event_new(T.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(T.tick, &tv);
	T.mode = M_REPLY;
}

static void client_free(struct client *);

static void
teardown(void)
{
	int	 i;

	for (i = 0; i < MAXCLIENTS; i++)
		if (T.clients[i] != NULL)
			client_free(T.clients[i]);
	for (i = 0; i < T.nheld; i++)
		if (T.held[i] != NULL)
			http_request_drop(T.held[i]);
	http_server_free(T.srv);
	for (i = 0; i < MAXREC; i++)
		free(T.recs[i].body);
	event_free(T.tick);
	event_base_free(T.base);
	memset(&T, 0, sizeof(T));
	alarm(0);
}

/* Client ------------------------------------------------------------ */

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (c->shut_after_write)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = 1;
		return;
	}
	evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
	if (what & BEV_EVENT_ERROR)
		c->err = EVUTIL_SOCKET_ERROR();
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		c->closed = 1;
		c->t_closed = now_ms();
	}
}

/* A client connecting from src (an address of lo), or NULL when the
 * system cannot bind it. */
static struct client *
client_new_from(const char *src)
{
	struct client		*c;
	struct sockaddr_in	 sin;
	evutil_socket_t		 fd = -1;
	int			 i;

	if (src != NULL) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, src, &sin.sin_addr), 1);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			close(fd);
			return NULL;
		}
		evutil_make_socket_nonblocking(fd);
	}

	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < MAXCLIENTS && T.clients[i] != NULL; i++)
		;
	ck_assert_int_lt(i, MAXCLIENTS);
	T.clients[i] = c;
	c->in = evbuffer_new();
	c->bev = bufferevent_socket_new(T.base, fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(c->bev);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)http_server_port(T.srv));
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1) {
		c->closed = 1;
		c->err = errno;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

static struct client *
client_new(void)
{
	return client_new_from(NULL);
}

static void
client_free(struct client *c)
{
	int	 i;

	for (i = 0; i < MAXCLIENTS; i++)
		if (T.clients[i] == c)
			T.clients[i] = NULL;
	bufferevent_free(c->bev);
	evbuffer_free(c->in);
	free(c);
}

static void
client_send(struct client *c, const void *p, size_t n)
{
	ck_assert_int_eq(bufferevent_write(c->bev, p, n), 0);
}

static void
client_sends(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

static size_t
client_outq(struct client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Response parsing ---------------------------------------------------- */

struct resp {
	int		 status;
	char		 line[128];	/* status line */
	const char	*head;		/* after the status line, to the end */
	size_t		 headlen;
	const char	*body;
	size_t		 bodylen;
};

/* Bytes parsed as complete responses by the last resps() call. */
static size_t	 resp_used;

/*
 * Complete responses in the client's buffer (1xx responses count as
 * responses without a body); stops at the first incomplete one.
 */
static int
resps(struct client *c, struct resp *r, int max)
{
	size_t		 len = evbuffer_get_length(c->in), off = 0;
	const char	*buf, *eoh, *eol, *p;
	int		 n = 0;
	long long	 cl;

	buf = len > 0 ? (const char *)evbuffer_pullup(c->in, -1) : "";
	resp_used = 0;
	while (n < max && off < len) {
		eoh = memmem(buf + off, len - off, "\r\n\r\n", 4);
		if (eoh == NULL)
			break;
		eol = memmem(buf + off, len - off, "\r\n", 2);
		memset(&r[n], 0, sizeof(r[n]));
		snprintf(r[n].line, sizeof(r[n].line), "%.*s",
		    (int)(eol - (buf + off)), buf + off);
		if (sscanf(r[n].line, "HTTP/1.1 %d", &r[n].status) != 1)
			r[n].status = -1;
		r[n].head = eol + 2;
		r[n].headlen = (size_t)(eoh + 2 - (eol + 2));
		cl = 0;
		for (p = r[n].head; p < eoh; p = (const char *)memmem(p,
		    (size_t)(eoh + 2 - p), "\r\n", 2) + 2)
			if (strncasecmp(p, "Content-Length:", 15) == 0)
				cl = atoll(p + 15);
		if (r[n].status >= 200) {
			if ((size_t)(eoh + 4 - buf) + (size_t)cl > len)
				break;
			r[n].body = eoh + 4;
			r[n].bodylen = (size_t)cl;
		} else
			r[n].body = eoh + 4;
		off = (size_t)(r[n].body - buf) + r[n].bodylen;
		resp_used = off;
		n++;
	}
	return n;
}

static int
nresps(struct client *c)
{
	struct resp	 r[16];

	return resps(c, r, 16);
}

/* A header's value in a response ("" when absent is not distinguished). */
static const char *
resp_header(const struct resp *r, const char *name)
{
	static char	 val[256];
	const char	*p = r->head, *end = r->head + r->headlen, *e;
	size_t		 n = strlen(name);

	while (p < end) {
		e = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			snprintf(val, sizeof(val), "%.*s", (int)(e - p), p);
			return val;
		}
		p = e + 2;
	}
	return NULL;
}

static void
assert_body(const struct resp *r, const char *want)
{
	ck_assert_msg(r->bodylen == strlen(want) &&
	    memcmp(r->body, want, r->bodylen) == 0,
	    "body \"%.*s\" want \"%s\"", (int)r->bodylen, r->body, want);
}

/* A server-generated error: status line, JSON body, close. */
static void
assert_error(const struct resp *r, int status, const char *why)
{
	char	 line[128], body[256];

	snprintf(line, sizeof(line), "HTTP/1.1 %d %s", status,
	    http_status_text(status));
	ck_assert_str_eq(r->line, line);
	ck_assert_ptr_nonnull(resp_header(r, "Content-Type"));
	ck_assert_str_eq(resp_header(r, "Content-Type"), "application/json");
	ck_assert_ptr_nonnull(resp_header(r, "Connection"));
	ck_assert_str_eq(resp_header(r, "Connection"), "close");
	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}", why,
	    status);
	assert_body(r, body);
}

/* Server tests ------------------------------------------------------- */

START_TEST(srv_exact_response)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	const char		*want = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 10\r\nContent-Type: text/plain\r\n"
	    "X-Test: yes\r\nX-Seq: 1\r\n\r\nGET /x - 0";
	size_t			 len;

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert(WAIT(nresps(c) == 1, 2000));
	RUN(50);
	len = evbuffer_get_length(c->in);
	ck_assert_msg(len == strlen(want) && memcmp(evbuffer_pullup(c->in, -1),
	    want, len) == 0, "got \"%.*s\"", (int)len,
	    (const char *)evbuffer_pullup(c->in, -1));
	/* Keep-alive: still open. */
	ck_assert_int_eq(c->closed, 0);
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_str_eq(T.recs[0].host, "h");
	ck_assert_str_eq(T.recs[0].peer, "127.0.0.1");
	ck_assert_uint_eq(http_server_pending(T.srv), 0);
}
END_TEST

START_TEST(srv_post_body_exact)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	static const char	 body[] = "{\"a\":\0\"\xff\x01\"}\r\n\r\n";
	char			 head[256], want[64];

	srv_start(&conf);
	c = client_new();
	snprintf(head, sizeof(head), "POST /bap/on_search?x=1&y=%%20 HTTP/1.1"
	    "\r\nHost: bap.example\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", sizeof(body) - 1);
	client_sends(c, head);
	client_send(c, body, sizeof(body) - 1);
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	ck_assert_str_eq(r[0].line, "HTTP/1.1 200 OK");
	snprintf(want, sizeof(want), "POST /bap/on_search x=1&y=%%20 %zu",
	    sizeof(body) - 1);
	assert_body(&r[0], want);
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_str_eq(T.recs[0].method, "POST");
	ck_assert_str_eq(T.recs[0].path, "/bap/on_search");
	ck_assert_int_eq(T.recs[0].has_query, 1);
	ck_assert_str_eq(T.recs[0].query, "x=1&y=%20");
	ck_assert_str_eq(T.recs[0].host, "bap.example");
	ck_assert_uint_eq(T.recs[0].len, sizeof(body) - 1);
	ck_assert(memcmp(T.recs[0].body, body, sizeof(body) - 1) == 0);
}
END_TEST

START_TEST(srv_query_split)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[4];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /p HTTP/1.1\r\n\r\nGET /p? HTTP/1.1\r\n\r\n"
	    "GET /a/b?c?d=e HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 4) == 3, 2000));
	ck_assert_int_eq(T.recs[0].has_query, 0);
	ck_assert_str_eq(T.recs[0].path, "/p");
	ck_assert_int_eq(T.recs[1].has_query, 1);
	ck_assert_str_eq(T.recs[1].path, "/p");
	ck_assert_str_eq(T.recs[1].query, "");
	ck_assert_str_eq(T.recs[2].path, "/a/b");
	ck_assert_str_eq(T.recs[2].query, "c?d=e");
	assert_body(&r[2], "GET /a/b c?d=e 0");
}
END_TEST

START_TEST(srv_body_1mib)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	size_t			 n = 1u << 20, i;
	unsigned char		*body;
	char			 head[128];

	body = malloc(n);
	ck_assert_ptr_nonnull(body);
	for (i = 0; i < n; i++)
		body[i] = (unsigned char)(i % 251 == 0 ? 0 : (i * 7 + (i >> 9)));
	srv_start(&conf);
	c = client_new();
	snprintf(head, sizeof(head), "PUT /big HTTP/1.1\r\nContent-Length: %zu"
	    "\r\n\r\n", n);
	client_sends(c, head);
	client_send(c, body, n);
	ck_assert(WAIT(resps(c, r, 2) == 1, 10000));
	assert_body(&r[0], "PUT /big - 1048576");
	ck_assert_uint_eq(T.recs[0].len, n);
	ck_assert(memcmp(T.recs[0].body, body, n) == 0);
	free(body);
}
END_TEST

START_TEST(srv_steal_body)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	T.mode = M_STEAL;
	srv_start(&conf);
	c = client_new();
	client_send(c, "POST /s HTTP/1.1\r\nContent-Length: 5\r\n\r\nab\0de",
	    44);
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	/* reply_std saw the emptied body. */
	assert_body(&r[0], "POST /s - 0");
	ck_assert_uint_eq(T.recs[0].len, 5);
	ck_assert(memcmp(T.recs[0].body, "ab\0de", 5) == 0);
}
END_TEST

START_TEST(srv_reply_from_timer)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	double			 t0;

	T.mode = M_TIMER;
	srv_start(&conf);
	c = client_new();
	t0 = now_ms();
	client_sends(c, "GET /later HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nreq == 1, 2000));
	ck_assert_uint_eq(http_server_pending(T.srv), 1);
	ck_assert_int_eq(nresps(c), 0);
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	ck_assert_double_ge(now_ms() - t0, 45);
	ck_assert_str_eq(r[0].line, "HTTP/1.1 202 Accepted");
	assert_body(&r[0], "GET /later - 0");
	T.nheld = 0;
	ck_assert_uint_eq(http_server_pending(T.srv), 0);
	/* And the connection serves the next one. */
	client_sends(c, "GET /again HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 2) == 2, 2000));
	assert_body(&r[1], "GET /again - 0");
	T.nheld = 0;
}
END_TEST

START_TEST(srv_keepalive_sequential)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /one HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c) == 1, 2000));
	client_sends(c, "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert(WAIT(resps(c, r, 3) == 2, 2000));
	assert_body(&r[0], "GET /one - 0");
	ck_assert_str_eq(resp_header(&r[0], "X-Seq"), "1");
	ck_assert_ptr_null(resp_header(&r[0], "Connection"));
	assert_body(&r[1], "POST /two - 3");
	ck_assert_str_eq(resp_header(&r[1], "X-Seq"), "2");
	ck_assert_int_eq(c->closed, 0);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
}
END_TEST

START_TEST(srv_pipelined_in_order)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[4];

	T.mode = M_HOLD;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
	    "GET /2 HTTP/1.1\r\n\r\n"
	    "POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1\r\nz\r\n0\r\n\r\n");
	ck_assert(WAIT(T.nreq == 1, 2000));
	/* The second is not dispatched while the first is with the handler. */
	RUN(100);
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_str_eq(T.recs[0].path, "/1");
	reply_std(T.held[0], 200);
	T.held[0] = NULL;
	ck_assert(WAIT(T.nreq == 2, 2000));
	ck_assert_str_eq(T.recs[1].path, "/2");
	ck_assert_int_eq(T.recs[1].replied_before, 1);
	RUN(50);
	ck_assert_int_eq(T.nreq, 2);
	reply_std(T.held[1], 200);
	T.held[1] = NULL;
	ck_assert(WAIT(T.nreq == 3, 2000));
	ck_assert_str_eq(T.recs[2].path, "/3");
	ck_assert_str_eq(T.recs[2].body, "z");
	reply_std(T.held[2], 200);
	T.held[2] = NULL;
	ck_assert(WAIT(resps(c, r, 4) == 3, 2000));
	assert_body(&r[0], "POST /1 - 2");
	assert_body(&r[1], "GET /2 - 0");
	assert_body(&r[2], "POST /3 - 1");
	ck_assert_str_eq(resp_header(&r[2], "X-Seq"), "3");
	ck_assert_int_eq(c->closed, 0);
}
END_TEST

START_TEST(srv_connection_close)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];

	srv_start(&conf);
	c = client_new();
	/* The second request after "close" must not be served. */
	client_sends(c, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n"
	    "GET /never HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(c->closed, 1000));
	ck_assert_int_eq(resps(c, r, 3), 1);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	ck_assert_str_eq(resp_header(&r[0], "Connection"), "close");
	assert_body(&r[0], "GET /c - 0");
	ck_assert_int_eq(T.nreq, 1);
}
END_TEST

START_TEST(srv_http10_closes)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /old HTTP/1.0\r\n\r\n");
	ck_assert(WAIT(c->closed, 1000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	ck_assert_str_eq(r[0].line, "HTTP/1.1 200 OK");
	ck_assert_str_eq(resp_header(&r[0], "Connection"), "close");
	assert_body(&r[0], "GET /old - 0");

	/* HTTP/1.0 with keep-alive stays open. */
	c = client_new();
	client_sends(c, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 2) == 1, 1000));
	ck_assert_ptr_null(resp_header(&r[0], "Connection"));
	RUN(100);
	ck_assert_int_eq(c->closed, 0);
}
END_TEST

START_TEST(srv_chunked_body)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];
	static const char	 req[] = "POST /chunk HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nhello\r\n"
	    "6;a=b;c=\"d\"\r\n world\r\n"
	    "A\r\n\0\x01\x02" "3456789\r\n"
	    "0\r\nX-Trailer: v\r\nX-Other: w\r\n\r\n"
	    "GET /after HTTP/1.1\r\n\r\n";
	static const char	 want[] = "hello world\0\x01\x02" "3456789";
	size_t			 i;

	srv_start(&conf);
	c = client_new();
	/* Dribble it out a few bytes at a time. */
	for (i = 0; i < sizeof(req) - 1; i += 7) {
		client_send(c, req + i, sizeof(req) - 1 - i < 7 ?
		    sizeof(req) - 1 - i : 7);
		RUN(1);
	}
	ck_assert(WAIT(resps(c, r, 3) == 2, 2000));
	ck_assert_int_eq(T.nreq, 2);
	ck_assert_uint_eq(T.recs[0].len, sizeof(want) - 1);
	ck_assert(memcmp(T.recs[0].body, want, sizeof(want) - 1) == 0);
	assert_body(&r[0], "POST /chunk - 21");
	/* Trailers consumed exactly: the next request parses. */
	assert_body(&r[1], "GET /after - 0");
}
END_TEST

START_TEST(srv_chunked_too_large)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	char			 data[1500];

	conf.body_max = 1024;
	srv_start(&conf);
	c = client_new();
	memset(data, 'x', sizeof(data));
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n200\r\n");
	client_send(c, data, 0x200);
	client_sends(c, "\r\n200\r\n");
	client_send(c, data, 0x200);
	client_sends(c, "\r\n1\r\nx\r\n0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 413, "request body too large");
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

START_TEST(srv_chunked_malformed)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\nzz\r\nabc\r\n0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 400, "malformed chunk size");

	/* Data longer than the chunk size. */
	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n2\r\nabc\r\n0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 400, "malformed chunk");
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

START_TEST(srv_content_length_too_large)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	size_t			 n = 1u << 20;
	char			*body, head[128];

	conf.body_max = 64 * 1024;
	srv_start(&conf);
	body = malloc(n);
	ck_assert_ptr_nonnull(body);
	memset(body, 'b', n);
	c = client_new();
	snprintf(head, sizeof(head), "POST /big HTTP/1.1\r\n"
	    "Content-Length: %zu\r\n\r\n", n);
	client_sends(c, head);
	/* The client keeps sending the whole body regardless. */
	client_send(c, body, n);
	free(body);
	/* The 413 and the server's FIN may come before the client has sent
	 * it all: the server drops the rest meanwhile (no reset). */
	ck_assert(WAIT(c->closed && client_outq(c) == 0, 5000));
	ck_assert_msg(c->err == 0, "client error %s", strerror(c->err));
	ck_assert_uint_eq(client_outq(c), 0);
	ck_assert_int_eq(resps(c, r, 2), 1);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	assert_error(&r[0], 413, "request body too large");
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

/*
 * Oversize Content-Length with the whole (small) body arriving together
 * with the head: after the 413 the connection should close at once, not
 * linger until the idle timeout.
 */
START_TEST(srv_content_length_too_large_prompt_close)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	char			 req[4096];
	size_t			 n;
	double			 t0;

	conf.body_max = 1024;
	conf.idle_timeout_ms = 1500;
	conf.read_timeout_ms = 1500;
	srv_start(&conf);
	n = (size_t)snprintf(req, sizeof(req), "POST /big HTTP/1.1\r\n"
	    "Content-Length: 2000\r\n\r\n");
	memset(req + n, 'q', 2000);
	n += 2000;
	c = client_new();
	ck_assert(WAIT(c->connected, 1000));
	t0 = now_ms();
	client_send(c, req, n);
	ck_assert(WAIT(c->closed, 3000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 413, "request body too large");
	ck_assert_msg(c->t_closed - t0 < 700, "closed after %.0f ms "
	    "(idle_timeout %lld ms)", c->t_closed - t0,
	    (long long)conf.idle_timeout_ms);
}
END_TEST

START_TEST(srv_head_too_large)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	char			 head[3000];
	size_t			 n;

	conf.header_max = 1024;
	srv_start(&conf);

	/* Exactly header_max: served. */
	n = (size_t)snprintf(head, sizeof(head), "GET /ok HTTP/1.1\r\nX-Pad: ");
	memset(head + n, 'p', 1024 - n - 4);
	memcpy(head + 1020, "\r\n\r\n", 5);
	ck_assert_uint_eq(strlen(head), 1024);
	c = client_new();
	client_sends(c, head);
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	ck_assert_str_eq(r[0].line, "HTTP/1.1 200 OK");

	/* One byte more: 431. */
	memset(head + n, 'p', 1025 - n - 4);
	memcpy(head + 1021, "\r\n\r\n", 5);
	c = client_new();
	client_sends(c, head);
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 431, "request head too large");

	/* A long head with no end at all. */
	memset(head, 'h', sizeof(head));
	c = client_new();
	client_send(c, head, sizeof(head));
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 431, "request head too large");
	ck_assert_int_eq(T.nreq, 1);
}
END_TEST

START_TEST(srv_too_many_headers)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	int			 i;

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET / HTTP/1.1\r\n");
	for (i = 0; i <= HTTP_HEADERS_MAX; i++)
		client_sends(c, "X: y\r\n");
	client_sends(c, "\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 431, "too many header fields");
}
END_TEST

START_TEST(srv_malformed_request_line)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GARBAGE\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 400, "malformed request");

	c = client_new();
	client_sends(c, "GET / HTTP/2.0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 505, "not HTTP/1.x");

	c = client_new();
	client_sends(c, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 501, "unsupported transfer coding");
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

START_TEST(srv_default_error_body)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start2(&conf, NULL);
	c = client_new();
	client_sends(c, "GARBAGE\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	ck_assert_str_eq(r[0].line, "HTTP/1.1 400 Bad Request");
	ck_assert_str_eq(resp_header(&r[0], "Content-Type"), "text/plain");
	assert_body(&r[0], "malformed request\n");
}
END_TEST

START_TEST(srv_slow_head_408)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	double			 t0;

	conf.read_timeout_ms = 200;
	conf.idle_timeout_ms = 1000;
	srv_start(&conf);
	c = client_new();
	t0 = now_ms();
	client_sends(c, "GET /slow HTTP/1.1\r\nHost: a\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_double_ge(c->t_closed - t0, 150);
	ck_assert_double_lt(c->t_closed - t0, 800);
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 408, "request timed out");

	/* The deadline covers the body too, even while bytes trickle in. */
	c = client_new();
	t0 = now_ms();
	client_sends(c, "POST /slow HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
	RUN(100);
	client_sends(c, "cd");
	RUN(100);
	client_sends(c, "ef");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_double_lt(c->t_closed - t0, 800);
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 408, "request timed out");
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

START_TEST(srv_idle_timeout)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	double			 t0;

	conf.idle_timeout_ms = 300;
	conf.read_timeout_ms = 1000;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /i HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c) == 1, 2000));
	t0 = now_ms();
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_double_ge(c->t_closed - t0, 200);
	ck_assert_double_lt(c->t_closed - t0, 1000);
	/* Closed silently: nothing after the one response. */
	ck_assert_int_eq(nresps(c), 1);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
}
END_TEST

/* Abort the connection with a reset (SO_LINGER 0), as a crashed or
 * timed-out client does, rather than a clean close. */
static void
client_reset(struct client *c)
{
	struct linger	 lg = { 1, 0 };

	setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg));
	client_free(c);
}

/*
 * The client's connection fails (reset) while the handler holds its
 * request: the request stays valid, http_request_gone() says so, and the
 * late reply is discarded safely.  (A clean close is a half-close: see
 * srv_half_close_*.)
 */
START_TEST(srv_client_gone)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct http_request	*req;
	int			 gone;

	T.mode = M_HOLD;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /g HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert(WAIT(T.nheld == 1, 2000));
	req = T.held[0];
	ck_assert_int_eq(http_request_gone(req), 0);
	client_reset(c);
	RUN(200);
	gone = http_request_gone(req);
	/* Still valid either way; answer before asserting so that the late
	 * reply path runs (and is checked by valgrind) even on failure. */
	ck_assert_str_eq(http_request_path(req), "/g");
	reply_std(req, 200);
	T.held[0] = NULL;
	RUN(100);
	ck_assert_uint_eq(http_server_pending(T.srv), 0);
	ck_assert_msg(gone == 1, "http_request_gone() is still 0 200 ms "
	    "after the client closed its connection");
}
END_TEST

START_TEST(srv_client_gone_drop)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;

	T.mode = M_HOLD;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /d HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nheld == 1, 2000));
	client_free(c);
	RUN(50);
	http_request_drop(T.held[0]);
	T.held[0] = NULL;
	ck_assert_uint_eq(http_server_pending(T.srv), 0);

	/* Dropping a live request closes the connection without an answer. */
	c = client_new();
	client_sends(c, "GET /d2 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nheld == 2, 2000));
	http_request_drop(T.held[1]);
	T.held[1] = NULL;
	ck_assert(WAIT(c->closed, 1000));
	ck_assert_uint_eq(evbuffer_get_length(c->in), 0);
}
END_TEST

/*
 * At max_connections a new connection closes the longest idle one to get
 * in; accepting pauses only when none is idle (every connection has a
 * request in progress), and resumes when one becomes idle.
 */
START_TEST(srv_max_connections)
{
	struct http_server_conf	 conf = conf_default();
	const struct http_server_stats *st;
	struct client		*a, *b, *c, *d;
	struct resp		 r[3];
	int			 i;

	conf.max_connections = 2;
	srv_start(&conf);
	st = http_server_stats(T.srv);
	a = client_new();
	client_sends(a, "GET /a HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(a) == 1, 2000));
	b = client_new();
	client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(b) == 1 && st->idle == 2, 2000));
	ck_assert_uint_eq(st->connections, 2);
	/* c gets in at once: a, idle the longest, is closed silently. */
	c = client_new();
	client_sends(c, "GET /c HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 2) == 1 && a->closed, 2000));
	assert_body(&r[0], "GET /c - 0");
	ck_assert_int_eq(nresps(a), 1);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	ck_assert_int_eq(b->closed, 0);
	ck_assert_uint_eq(st->evicted, 1);
	ck_assert_uint_eq(st->connections, 2);

	/* b and c busy: nothing idle, so d waits in the backlog. */
	T.mode = M_HOLD;
	client_sends(b, "GET /b2 HTTP/1.1\r\n\r\n");
	client_sends(c, "GET /c2 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nheld == 2, 2000));
	d = client_new();
	client_sends(d, "GET /d HTTP/1.1\r\n\r\n");
	RUN(200);
	ck_assert_int_eq(nresps(d), 0);
	ck_assert_int_eq(T.nreq, 5);
	ck_assert_uint_eq(st->connections, 2);
	/* b's answer makes b idle: d gets in, and b is closed for it. */
	T.mode = M_REPLY;
	i = strcmp(http_request_path(T.held[0]), "/b2") == 0 ? 0 : 1;
	reply_std(T.held[i], 200);
	T.held[i] = NULL;
	ck_assert(WAIT(nresps(d) == 1 && b->closed, 2000));
	ck_assert_int_eq(nresps(b), 2);
	ck_assert_int_eq(c->closed, 0);
	ck_assert_uint_eq(st->evicted, 2);
	ck_assert_uint_eq(st->connections, 2);
	/* c's held request is unaffected. */
	reply_std(T.held[1 - i], 200);
	T.held[1 - i] = NULL;
	ck_assert(WAIT(nresps(c) == 2, 2000));
}
END_TEST

/*
 * Oldest idle first, fresh connections (no byte yet) count as idle, and
 * a connection with a request being received is never closed for room.
 */
START_TEST(srv_evict_oldest_idle)
{
	struct http_server_conf	 conf = conf_default();
	const struct http_server_stats *st;
	struct client		*c[4], *slow, *n1, *n2;
	int			 i;

	conf.max_connections = 5;
	srv_start(&conf);
	st = http_server_stats(T.srv);
	/* A slow request in progress (not idle). */
	slow = client_new();
	client_sends(slow, "POST /slow HTTP/1.1\r\nContent-Length: 5\r\n"
	    "\r\nab");
	ck_assert(WAIT(st->connections == 1 && st->idle == 0, 2000));
	/* Four idle ones, c[0] idle the longest. */
	for (i = 0; i < 4; i++) {
		c[i] = client_new();
		ck_assert(WAIT(st->connections == (size_t)i + 2, 2000));
		if (i < 2) {
			client_sends(c[i], "GET /k HTTP/1.1\r\n\r\n");
			ck_assert(WAIT(nresps(c[i]) == 1, 2000));
		}
	}
	ck_assert(WAIT(st->idle == 4, 2000));
	/* c[1] is used again: now c[0], c[2], c[3], c[1] by idle age. */
	client_sends(c[1], "GET /k2 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[1]) == 2 && st->idle == 4, 2000));

	n1 = client_new();
	client_sends(n1, "GET /n1 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(n1) == 1 && c[0]->closed, 2000));
	n2 = client_new();
	client_sends(n2, "GET /n2 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(n2) == 1 && c[2]->closed, 2000));
	RUN(50);
	ck_assert_int_eq(c[1]->closed, 0);
	ck_assert_int_eq(c[3]->closed, 0);
	ck_assert_int_eq(slow->closed, 0);
	ck_assert_uint_eq(st->evicted, 2);
	ck_assert_uint_eq(st->connections, 5);
	/* The slow request completes normally. */
	client_sends(slow, "cde");
	ck_assert(WAIT(nresps(slow) == 1, 2000));
}
END_TEST

START_TEST(srv_close_listener)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*a, *idle, *late;
	struct resp		 r[2];
	double			 t0;

	T.mode = M_HOLD;
	conf.idle_timeout_ms = 1500;
	srv_start(&conf);
	idle = client_new();
	ck_assert(WAIT(idle->connected, 1000));
	a = client_new();
	client_sends(a, "GET /inflight HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nheld == 1, 2000));
	RUN(20);

	http_server_close_listener(T.srv);
	ck_assert_uint_eq(http_server_pending(T.srv), 1);
	/* The idle connection is closed, without a response. */
	ck_assert(WAIT(idle->closed, 500));
	ck_assert_uint_eq(evbuffer_get_length(idle->in), 0);
	/* New connections are refused. */
	late = client_new();
	client_sends(late, "GET /late HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(late->closed, 1000));
	ck_assert_int_eq(late->connected, 0);
	ck_assert_uint_eq(evbuffer_get_length(late->in), 0);
	ck_assert_int_eq(T.nreq, 1);

	/* The in-flight request is still answered, then the connection
	 * closes. */
	t0 = now_ms();
	reply_std(T.held[0], 200);
	T.held[0] = NULL;
	ck_assert_uint_eq(http_server_pending(T.srv), 0);
	ck_assert(WAIT(nresps(a) == 1, 1000));
	ck_assert_int_eq(resps(a, r, 2), 1);
	assert_body(&r[0], "GET /inflight - 0");
	ck_assert(WAIT(a->closed, 3000));
	ck_assert_msg(resp_header(&r[0], "Connection") != NULL &&
	    strcmp(resp_header(&r[0], "Connection"), "close") == 0 &&
	    a->t_closed - t0 < 500, "reply after http_server_close_listener(): "
	    "Connection header %s, connection closed %.0f ms after the reply "
	    "(idle timeout %lld ms); want \"close\" and an immediate close",
	    resp_header(&r[0], "Connection") != NULL ?
	    resp_header(&r[0], "Connection") : "absent", a->t_closed - t0,
	    (long long)conf.idle_timeout_ms);
}
END_TEST

START_TEST(srv_free_with_pending)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*a, *b;
	struct evbuffer		*eb;

	T.mode = M_HOLD;
	srv_start(&conf);
	a = client_new();
	b = client_new();
	client_sends(a, "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nA");
	client_sends(b, "GET /b HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(T.nheld == 2, 2000));
	ck_assert_uint_eq(http_server_pending(T.srv), 2);
	http_server_free(T.srv);
	T.srv = NULL;
	ck_assert_int_eq(http_request_gone(T.held[0]), 1);
	ck_assert_int_eq(http_request_gone(T.held[1]), 1);
	ck_assert_str_eq(http_request_path(T.held[0]), "/a");
	/* Late answers are safe and go nowhere. */
	reply_std(T.held[0], 200);
	T.held[0] = NULL;
	eb = evbuffer_new();
	evbuffer_add(eb, "late", 4);
	http_reply_buffer(T.held[1], 200, "text/plain", NULL, eb);
	T.held[1] = NULL;
	ck_assert_uint_eq(evbuffer_get_length(eb), 0);
	evbuffer_free(eb);
	ck_assert(WAIT(a->closed && b->closed, 1000));
	ck_assert_uint_eq(evbuffer_get_length(a->in), 0);
	ck_assert_uint_eq(evbuffer_get_length(b->in), 0);
}
END_TEST

START_TEST(srv_expect_continue)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 4\r\n\r\n");
	ck_assert(WAIT(evbuffer_get_length(c->in) >= sizeof(cont) - 1, 1000));
	ck_assert_uint_eq(evbuffer_get_length(c->in), sizeof(cont) - 1);
	ck_assert(memcmp(evbuffer_pullup(c->in, -1), cont,
	    sizeof(cont) - 1) == 0);
	ck_assert_int_eq(T.nreq, 0);
	client_sends(c, "data");
	ck_assert(WAIT(resps(c, r, 3) == 2, 1000));
	ck_assert_int_eq(r[0].status, 100);
	ck_assert_str_eq(r[1].line, "HTTP/1.1 200 OK");
	assert_body(&r[1], "POST /e - 4");
	ck_assert_str_eq(T.recs[0].body, "data");
}
END_TEST

/* RFC 9110 10.1.1: the server sends 100 Continue to a chunked request too. */
START_TEST(srv_expect_continue_chunked)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	RUN(200);
	ck_assert_msg(resps(c, r, 3) == 1 && r[0].status == 100,
	    "no \"100 Continue\" for a chunked request with Expect "
	    "(got %zu bytes)", evbuffer_get_length(c->in));
	client_sends(c, "4\r\ndata\r\n0\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 3) == 2, 1000));
	assert_body(&r[1], "POST /e - 4");
}
END_TEST

/*
 * RFC 9110 10.1.1 / 15.2: an HTTP/1.0 request's 100-continue expectation
 * is ignored, and no 1xx is sent to an HTTP/1.0 client.
 */
START_TEST(srv_expect_continue_http10)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /e HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 4\r\n\r\n");
	RUN(150);
	client_sends(c, "data");
	ck_assert(WAIT(c->closed, 1000));
	ck_assert_int_ge(resps(c, r, 3), 1);
	ck_assert_msg(r[0].status == 200, "first response to HTTP/1.0 is "
	    "\"%s\"", r[0].line);
}
END_TEST

/*
 * A client that half-closes (shutdown(SHUT_WR)) after its request still
 * gets the whole response: a small one, and one larger than the socket
 * buffers.
 */
START_TEST(srv_half_close_small_response)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start(&conf);
	c = client_new();
	c->shut_after_write = 1;
	client_sends(c, "GET /hc HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_msg(resps(c, r, 2) == 1, "got %zu response bytes",
	    evbuffer_get_length(c->in));
	assert_body(&r[0], "GET /hc - 0");
}
END_TEST

START_TEST(srv_half_close_full_response)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	T.mode = M_BIG;
	srv_start(&conf);
	c = client_new();
	c->shut_after_write = 1;
	client_sends(c, "GET /big HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(c->closed, 5000));
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_msg(resps(c, r, 2) == 1, "got %zu of %u response bytes",
	    evbuffer_get_length(c->in), (4u << 20) + 84);
	ck_assert_uint_eq(r[0].bodylen, 4u << 20);
}
END_TEST

/* Connection budget ------------------------------------------------- */

/* A 503 the server answered itself: Retry-After, error body, close. */
static void
assert_503(struct client *c, const char *why)
{
	struct resp	 r[2];

	ck_assert_int_eq(resps(c, r, 2), 1);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	assert_error(&r[0], 503, why);
	ck_assert_ptr_nonnull(resp_header(&r[0], "Retry-After"));
	ck_assert_str_eq(resp_header(&r[0], "Retry-After"), "1");
}

START_TEST(srv_per_client_limit)
{
	struct http_server_conf	 conf = conf_default();
	const struct http_server_stats *st;
	struct client		*c[3], *x, *o;
	struct resp		 r[2];
	int			 i;

	conf.max_connections_per_client = 3;
	srv_start(&conf);
	st = http_server_stats(T.srv);
	for (i = 0; i < 3; i++) {
		c[i] = client_new();
		ck_assert(WAIT(st->connections == (size_t)i + 1, 2000));
	}
	client_sends(c[0], "GET /0 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[0]) == 1, 2000));
	/* The fourth from 127.0.0.1: 503, closed, never queued. */
	x = client_new();
	client_sends(x, "GET /x HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(x->closed, 2000));
	assert_503(x, "too many connections from this address");
	ck_assert_int_eq(T.nreq, 1);
	ck_assert_uint_eq(st->per_client_refused, 1);
	/* It is gone from the server too, promptly. */
	ck_assert(WAIT(st->connections == 3, 1500));
	client_free(x);
	/* The first three still work. */
	for (i = 0; i < 3; i++)
		client_sends(c[i], "GET /again HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[0]) == 2 && nresps(c[1]) == 1 &&
	    nresps(c[2]) == 1, 2000));
	/* Another address is not affected (when lo has 127.0.0.2). */
	if ((o = client_new_from("127.0.0.2")) != NULL) {
		client_sends(o, "GET /other HTTP/1.1\r\n\r\n");
		ck_assert(WAIT(resps(o, r, 2) == 1, 2000));
		assert_body(&r[0], "GET /other - 0");
		ck_assert_int_le(T.nreq, MAXREC);
		ck_assert_str_eq(T.recs[T.nreq - 1].peer, "127.0.0.2");
		client_free(o);
	}
	/* One leaves: room for one more from 127.0.0.1. */
	client_free(c[1]);
	ck_assert(WAIT(st->connections == 2, 2000));
	x = client_new();
	client_sends(x, "GET /y HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(resps(x, r, 2) == 1, 2000));
	assert_body(&r[0], "GET /y - 0");
	ck_assert_uint_eq(st->per_client_refused, 1);
}
END_TEST

/* idle_timeout bounds the wait between requests, read_timeout one
 * request: each applies on its own. */
START_TEST(srv_idle_vs_read_timeout)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	static const char	 req[] = "GET /drip HTTP/1.1\r\nHost: a\r\n"
	    "X-Pad: 0123456789\r\n\r\n";
	double			 t0;
	size_t			 i;

	/* Short idle, long read: a request dripping for 4 x idle_timeout
	 * is served; the idle wait after it is cut at idle_timeout. */
	conf.idle_timeout_ms = 200;
	conf.read_timeout_ms = 3000;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "G");
	t0 = now_ms();
	for (i = 1; i < sizeof(req) - 1; i += 3) {
		RUN(60);
		client_send(c, req + i, sizeof(req) - 1 - i < 3 ?
		    sizeof(req) - 1 - i : 3);
	}
	ck_assert_double_ge(now_ms() - t0, 4 * 200);
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	assert_body(&r[0], "GET /drip - 0");
	t0 = now_ms();
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_double_ge(c->t_closed - t0, 150);
	ck_assert_double_lt(c->t_closed - t0, 700);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	http_server_free(T.srv);
	T.srv = NULL;
	client_free(c);

	/* Long idle, short read: an idle connection outlives read_timeout;
	 * a started request gets 408 at read_timeout. */
	conf.idle_timeout_ms = 3000;
	conf.read_timeout_ms = 250;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /1 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c) == 1, 2000));
	RUN(700);
	ck_assert_int_eq(c->closed, 0);
	client_sends(c, "GET /2 HTTP/1.1\r\n");
	t0 = now_ms();
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_double_ge(c->t_closed - t0, 200);
	ck_assert_double_lt(c->t_closed - t0, 700);
	ck_assert_int_eq(resps(c, r, 2), 2);
	assert_error(&r[1], 408, "request timed out");
}
END_TEST

/* Dripping after a 413 does not hold the connection: at most 1 s, or
 * read_timeout when shorter. */
START_TEST(srv_413_drip_closes)
{
	struct http_server_conf	 conf = conf_default();
	const struct http_server_stats *st;
	struct client		*c;
	struct resp		 r[2];
	double			 t0, t;
	int			 k;
	int64_t			 rt[2] = { 5000, 300 }, want;

	for (k = 0; k < 2; k++) {
		conf.body_max = 1024;
		conf.read_timeout_ms = rt[k];
		conf.idle_timeout_ms = 5000;
		srv_start(&conf);
		st = http_server_stats(T.srv);
		c = client_new();
		ck_assert(WAIT(c->connected, 1000));
		client_sends(c, "POST /big HTTP/1.1\r\nContent-Length: "
		    "1000000\r\n\r\nxxxx");
		ck_assert(WAIT(nresps(c) == 1, 2000));
		t0 = now_ms();
		/* One byte every 50 ms, until the server is gone. */
		while (st->connections > 0 && now_ms() - t0 < 4000) {
			if (!c->err)
				bufferevent_write(c->bev, "x", 1);
			RUN(50);
		}
		t = now_ms() - t0;
		want = rt[k] < 1000 ? rt[k] : 1000;
		ck_assert_msg(st->connections == 0 && t < want + 400,
		    "connection held %.0f ms after the 413 (want <= %lld)", t,
		    (long long)want);
		ck_assert_double_ge(t, want - 100);
		ck_assert_int_eq(resps(c, r, 2), 1);
		assert_error(&r[0], 413, "request body too large");
		ck_assert_int_eq(c->closed, 1);
		client_free(c);
		http_server_free(T.srv);
		T.srv = NULL;
	}
	ck_assert_int_eq(T.nreq, 0);
}
END_TEST

/* Strict bytes ------------------------------------------------------ */

START_TEST(srv_chunk_size_junk)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[3];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5 junk\r\nhello\r\n0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 2), 1);
	assert_error(&r[0], 400, "malformed chunk size");

	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5;ext\r\nhello\r\n3 ; e=\"q\"\r\n!!!\r\n0;last\r\n\r\n"
	    "POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5 \r\nhello\r\n0\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(resps(c, r, 3), 2);
	assert_body(&r[0], "POST /c - 8");
	ck_assert_str_eq(T.recs[0].body, "hello!!!");
	assert_error(&r[1], 400, "malformed chunk size");
	ck_assert_int_eq(T.nreq, 1);
}
END_TEST

static const char *const auth_headers[] = { "Authorization",
	"X-Gateway-Authorization", "Proxy-Authorization", NULL };

START_TEST(srv_duplicate_authorization)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];
	static const char *const reqs[][2] = {
		{ "Authorization: Signature a\r\nauthorization: Signature b",
		  "repeated Authorization header" },
		{ "X-Gateway-Authorization: a\r\nX-GATEWAY-AUTHORIZATION: a",
		  "repeated X-Gateway-Authorization header" },
		{ "Proxy-Authorization: a\r\nX-A: 1\r\nProxy-Authorization: ",
		  "repeated Proxy-Authorization header" },
	};
	char			 buf[512];
	size_t			 i;

	conf.unique_headers = auth_headers;
	srv_start(&conf);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		c = client_new();
		snprintf(buf, sizeof(buf), "POST /a HTTP/1.1\r\n%s\r\n"
		    "Content-Length: 2\r\n\r\n{}", reqs[i][0]);
		client_sends(c, buf);
		ck_assert(WAIT(c->closed, 2000));
		ck_assert_int_eq(resps(c, r, 2), 1);
		assert_error(&r[0], 400, reqs[i][1]);
		client_free(c);
	}
	ck_assert_int_eq(T.nreq, 0);
	/* One of each, and other repeated fields, are fine. */
	c = client_new();
	client_sends(c, "POST /a HTTP/1.1\r\nAuthorization: a\r\n"
	    "X-Gateway-Authorization: b\r\nProxy-Authorization: c\r\n"
	    "X-A: 1\r\nX-A: 2\r\nContent-Length: 2\r\n\r\n{}");
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	assert_body(&r[0], "POST /a - 2");
}
END_TEST

/* Without unique_headers nothing is refused (the first field wins). */
START_TEST(srv_duplicate_headers_allowed)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[2];

	srv_start(&conf);
	c = client_new();
	client_sends(c, "GET /a HTTP/1.1\r\nAuthorization: a\r\n"
	    "Authorization: b\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 2) == 1, 2000));
	assert_body(&r[0], "GET /a - 0");
}
END_TEST

/*
 * 200 pipelined requests, then the client's FIN: every one is answered,
 * in order, then the connection closes.
 */
START_TEST(srv_half_close_pipelined)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		*r;
	struct evbuffer		*all = evbuffer_new();
	char			 want[64], seq[16];
	int			 i, n = 200;

	r = calloc((size_t)n + 1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	srv_start(&conf);
	for (i = 0; i < n; i++) {
		if (i % 3 == 1)
			evbuffer_add_printf(all, "POST /p%d HTTP/1.1\r\n"
			    "Content-Length: 3\r\n\r\nabc", i);
		else if (i % 3 == 2)
			evbuffer_add_printf(all, "POST /p%d HTTP/1.1\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"
			    "0\r\n\r\n", i);
		else
			evbuffer_add_printf(all, "GET /p%d HTTP/1.1\r\n\r\n",
			    i);
	}
	c = client_new();
	c->shut_after_write = 1;
	ck_assert_int_eq(bufferevent_write_buffer(c->bev, all), 0);
	evbuffer_free(all);
	ck_assert(WAIT(c->closed, 5000));
	ck_assert_int_eq(T.nreq, n);
	ck_assert_msg(resps(c, r, n + 1) == n, "%d of %d answered",
	    resps(c, r, n + 1), n);
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%s /p%d - %d", i % 3 ? "POST" :
		    "GET", i, i % 3 == 1 ? 3 : i % 3 == 2 ? 2 : 0);
		assert_body(&r[i], want);
		snprintf(seq, sizeof(seq), "%d", i + 1);
		ck_assert_str_eq(resp_header(&r[i], "X-Seq"), seq);
		/* Only the last may say close (when the FIN was in by
		 * then). */
		if (i < n - 1)
			ck_assert_ptr_null(resp_header(&r[i], "Connection"));
	}
	free(r);
}
END_TEST

/* The FIN arrives while a request is with the handler: the requests
 * behind it are still answered after it. */
START_TEST(srv_half_close_during_handler)
{
	struct http_server_conf	 conf = conf_default();
	struct client		*c;
	struct resp		 r[6];
	char			 want[32];
	int			 i;

	T.mode = M_HOLD;
	srv_start(&conf);
	c = client_new();
	c->shut_after_write = 1;
	client_sends(c, "GET /h0 HTTP/1.1\r\n\r\nGET /h1 HTTP/1.1\r\n\r\n"
	    "GET /h2 HTTP/1.1\r\n\r\nGET /h3 HTTP/1.1\r\n\r\n"
	    "GET /partial HTTP/1.1\r\n");
	for (i = 0; i < 4; i++) {
		ck_assert(WAIT(T.nheld == i + 1, 2000));
		RUN(50);	/* the FIN is seen with the request held */
		ck_assert_int_eq(c->closed, 0);
		reply_std(T.held[i], 200);
		T.held[i] = NULL;
	}
	/* The incomplete fifth is not answered. */
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_int_eq(T.nreq, 4);
	ck_assert_int_eq(resps(c, r, 6), 4);
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "GET /h%d - 0", i);
		assert_body(&r[i], want);
	}
	ck_assert_ptr_null(resp_header(&r[3], "Connection"));
	ck_assert_uint_eq(resp_used, evbuffer_get_length(c->in));
}
END_TEST

/* Memory budget ----------------------------------------------------- */

START_TEST(srv_budget_refused)
{
	struct http_server_conf	 conf = conf_default();
	const struct http_server_stats *st;
	struct budget		 b;
	struct client		*a, *c;
	struct resp		 r[3];
	char			 data[400];

	budget_init(&b, 1000);
	T.budget = &b;
	conf.budget = &b;
	T.mode = M_HOLD;
	srv_start(&conf);
	st = http_server_stats(T.srv);
	memset(data, 'd', sizeof(data));

	/* 600 bytes held by the handler: charged while it holds them. */
	a = client_new();
	client_sends(a, "POST /a HTTP/1.1\r\nContent-Length: 600\r\n\r\n");
	client_send(a, data, 300);
	ck_assert(WAIT(b.used == 600, 2000));	/* charged up front */
	client_send(a, data, 300);
	ck_assert(WAIT(T.nheld == 1, 2000));
	ck_assert_uint_eq(T.used_in_handler, 600);

	/* Another 600: 503 with Retry-After, before "100 Continue". */
	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 600\r\n\r\n");
	ck_assert(WAIT(c->closed, 2000));
	assert_503(c, "request bodies over the memory budget");
	ck_assert_uint_eq(b.used, 600);
	ck_assert_uint_eq(b.refused, 1);
	ck_assert_uint_eq(st->budget_refused, 1);
	client_free(c);

	/* Chunked: charged chunk by chunk, refused at the chunk that does
	 * not fit, and the chunks taken before are given back. */
	c = client_new();
	client_sends(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n100\r\n");
	client_send(c, data, 256);
	client_sends(c, "\r\n");
	ck_assert(WAIT(b.used == 856, 2000));
	client_sends(c, "100\r\n");
	ck_assert(WAIT(c->closed, 2000));
	assert_503(c, "request bodies over the memory budget");
	ck_assert_uint_eq(b.used, 600);
	ck_assert_uint_eq(st->budget_refused, 2);
	client_free(c);

	/* Bodyless requests need no budget. */
	T.mode = M_REPLY;
	c = client_new();
	client_sends(c, "GET /g HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 3) == 1, 2000));
	assert_body(&r[0], "GET /g - 0");

	/* The held one answered: all given back, and a body fits again. */
	reply_std(T.held[0], 200);
	T.held[0] = NULL;
	ck_assert_uint_eq(b.used, 0);
	client_sends(c, "POST /g2 HTTP/1.1\r\nContent-Length: 900\r\n\r\n");
	client_send(c, data, 400);
	client_send(c, data, 400);
	client_send(c, data, 100);
	ck_assert(WAIT(resps(c, r, 3) == 2, 2000));
	assert_body(&r[1], "POST /g2 - 900");
	ck_assert_uint_eq(T.used_in_handler, 900);
	ck_assert_uint_eq(b.used, 0);
	ck_assert_uint_eq(b.peak, 900);
}
END_TEST

/* Charges come back in every way a request ends: answered, dropped,
 * stolen (the test gives the stolen bytes back), the client gone, an
 * error, a timeout, the server freed. */
START_TEST(srv_budget_returned)
{
	struct http_server_conf	 conf = conf_default();
	struct budget		 b;
	struct client		*c;
	struct resp		 r[3];

	budget_init(&b, 1u << 20);
	T.budget = &b;
	conf.budget = &b;
	conf.read_timeout_ms = 300;
	T.mode = M_STEAL;
	srv_start(&conf);
	c = client_new();
	client_sends(c, "POST /s HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
	    "POST /s2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	ck_assert(WAIT(resps(c, r, 3) == 2, 2000));
	ck_assert_uint_eq(T.recs[1].len, 5);
	ck_assert_uint_eq(b.used, 0);
	ck_assert_uint_eq(b.peak, 5);

	/* Dropped, and answered after the client went away. */
	T.mode = M_HOLD;
	client_sends(c, "POST /d HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
	ck_assert(WAIT(T.nheld == 1, 2000));
	ck_assert_uint_eq(b.used, 4);
	http_request_drop(T.held[0]);
	T.held[0] = NULL;
	ck_assert_uint_eq(b.used, 0);
	client_free(c);
	c = client_new();
	client_sends(c, "POST /g HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
	ck_assert(WAIT(T.nheld == 2, 2000));
	client_reset(c);
	RUN(100);
	ck_assert_uint_eq(b.used, 4);
	reply_std(T.held[1], 200);
	T.held[1] = NULL;
	ck_assert_uint_eq(b.used, 0);

	/* A body cut by an error, by the read timeout, by the client. */
	c = client_new();
	client_sends(c, "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n4\r\nabcd\r\n1 junk\r\n");
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_uint_eq(b.used, 0);
	client_free(c);
	c = client_new();
	client_sends(c, "POST /t HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
	ck_assert(WAIT(b.used == 100, 2000));
	ck_assert(WAIT(c->closed, 2000));
	ck_assert_uint_eq(b.used, 0);
	client_free(c);
	c = client_new();
	client_sends(c, "POST /t HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
	ck_assert(WAIT(b.used == 100, 2000));
	client_free(c);
	ck_assert(WAIT(b.used == 0, 2000));

	/* The server freed with a body held: the request keeps its charge
	 * until the handler is done with it. */
	c = client_new();
	client_sends(c, "POST /f HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
	ck_assert(WAIT(T.nheld == 3, 2000));
	http_server_free(T.srv);
	T.srv = NULL;
	ck_assert_uint_eq(b.used, 3);
	reply_std(T.held[2], 200);
	T.held[2] = NULL;
	ck_assert_uint_eq(b.used, 0);
}
END_TEST

/* SIGHUP: the new fields apply to what comes next. */
START_TEST(srv_reconfigure)
{
	struct http_server_conf	 conf = conf_default(), nc;
	const struct http_server_stats *st;
	struct budget		 b;
	struct client		*c[4], *x;
	struct resp		 r[3];
	double			 t0;
	int			 i;

	srv_start(&conf);
	st = http_server_stats(T.srv);
	for (i = 0; i < 3; i++) {
		c[i] = client_new();
		ck_assert(WAIT(st->connections == (size_t)i + 1, 2000));
	}
	/* Per-client limit: the open three stay, the next is refused. */
	nc = conf;
	nc.max_connections_per_client = 2;
	http_server_reconfigure(T.srv, &nc);
	x = client_new();
	ck_assert(WAIT(x->closed, 2000));
	assert_503(x, "too many connections from this address");
	client_free(x);
	client_sends(c[2], "GET /c2 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[2]) == 1, 2000));
	client_free(c[2]);
	client_free(c[1]);
	ck_assert(WAIT(st->connections == 1, 2000));
	c[1] = client_new();
	client_sends(c[1], "GET /c1 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[1]) == 1, 2000));

	/* unique_headers. */
	nc.unique_headers = auth_headers;
	http_server_reconfigure(T.srv, &nc);
	client_sends(c[1], "GET /dup HTTP/1.1\r\nAuthorization: a\r\n"
	    "Authorization: a\r\n\r\n");
	ck_assert(WAIT(c[1]->closed, 2000));
	ck_assert_int_eq(resps(c[1], r, 3), 2);
	assert_error(&r[1], 400, "repeated Authorization header");
	client_free(c[1]);

	/* budget. */
	budget_init(&b, 10);
	nc.budget = &b;
	http_server_reconfigure(T.srv, &nc);
	client_sends(c[0], "POST /b HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
	ck_assert(WAIT(c[0]->closed, 2000));
	assert_503(c[0], "request bodies over the memory budget");
	client_free(c[0]);
	ck_assert_uint_eq(b.used, 0);

	/* idle_timeout: from the next idle time on. */
	nc.idle_timeout_ms = 200;
	http_server_reconfigure(T.srv, &nc);
	c[0] = client_new();
	client_sends(c[0], "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
	    "0123456789");
	ck_assert(WAIT(nresps(c[0]) == 1, 2000));
	t0 = now_ms();
	ck_assert(WAIT(c[0]->closed, 2000));
	ck_assert_double_lt(c[0]->t_closed - t0, 700);
	ck_assert_uint_eq(b.used, 0);
	ck_assert_uint_eq(b.peak, 10);

	/* max_connections lowered to the count: the idle one makes room. */
	nc.idle_timeout_ms = 2000;
	nc.max_connections = 1;
	nc.max_connections_per_client = 0;
	http_server_reconfigure(T.srv, &nc);
	c[0] = client_new();
	client_sends(c[0], "GET /m0 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[0]) == 1, 2000));
	c[1] = client_new();
	client_sends(c[1], "GET /m1 HTTP/1.1\r\n\r\n");
	ck_assert(WAIT(nresps(c[1]) == 1 && c[0]->closed, 2000));
	ck_assert_uint_eq(st->connections, 1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	signal(SIGPIPE, SIG_IGN);

	tc = tcase_create("parse");
	tcase_add_test(tc, head_length_crlf_and_lf);
	tcase_add_test(tc, head_length_incomplete);
	tcase_add_test(tc, head_length_max);
	tcase_add_test(tc, parse_get);
	tcase_add_test(tc, parse_post_bare_lf);
	tcase_add_test(tc, parse_header_lookup);
	tcase_add_test(tc, parse_leading_empty_line);
	tcase_add_test(tc, parse_content_length);
	tcase_add_test(tc, parse_content_length_invalid);
	tcase_add_test(tc, parse_transfer_encoding);
	tcase_add_test(tc, parse_version);
	tcase_add_test(tc, parse_request_line_malformed);
	tcase_add_test(tc, parse_header_malformed);
	tcase_add_test(tc, parse_obs_fold);
	tcase_add_test(tc, parse_control_chars);
	tcase_add_test(tc, parse_nul_in_header_value);
	tcase_add_test(tc, parse_nul_in_request_line);
	tcase_add_test(tc, parse_header_count);
	tcase_add_test(tc, parse_connection);
	tcase_add_test(tc, parse_expect);
	tcase_add_test(tc, parse_head_count);
	tcase_add_test(tc, parse_chunk_size);
	tcase_add_test(tc, peers_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, srv_exact_response);
	tcase_add_test(tc, srv_post_body_exact);
	tcase_add_test(tc, srv_query_split);
	tcase_add_test(tc, srv_body_1mib);
	tcase_add_test(tc, srv_steal_body);
	tcase_add_test(tc, srv_reply_from_timer);
	tcase_add_test(tc, srv_keepalive_sequential);
	tcase_add_test(tc, srv_pipelined_in_order);
	tcase_add_test(tc, srv_connection_close);
	tcase_add_test(tc, srv_http10_closes);
	tcase_add_test(tc, srv_chunked_body);
	tcase_add_test(tc, srv_chunked_too_large);
	tcase_add_test(tc, srv_chunked_malformed);
	tcase_add_test(tc, srv_content_length_too_large);
	tcase_add_test(tc, srv_content_length_too_large_prompt_close);
	tcase_add_test(tc, srv_head_too_large);
	tcase_add_test(tc, srv_too_many_headers);
	tcase_add_test(tc, srv_malformed_request_line);
	tcase_add_test(tc, srv_default_error_body);
	tcase_add_test(tc, srv_slow_head_408);
	tcase_add_test(tc, srv_idle_timeout);
	tcase_add_test(tc, srv_client_gone);
	tcase_add_test(tc, srv_client_gone_drop);
	tcase_add_test(tc, srv_max_connections);
	tcase_add_test(tc, srv_evict_oldest_idle);
	tcase_add_test(tc, srv_close_listener);
	tcase_add_test(tc, srv_free_with_pending);
	tcase_add_test(tc, srv_expect_continue);
	tcase_add_test(tc, srv_expect_continue_chunked);
	tcase_add_test(tc, srv_expect_continue_http10);
	tcase_add_test(tc, srv_half_close_small_response);
	tcase_add_test(tc, srv_half_close_full_response);
	tcase_add_test(tc, srv_per_client_limit);
	tcase_add_test(tc, srv_idle_vs_read_timeout);
	tcase_add_test(tc, srv_413_drip_closes);
	tcase_add_test(tc, srv_chunk_size_junk);
	tcase_add_test(tc, srv_duplicate_authorization);
	tcase_add_test(tc, srv_duplicate_headers_allowed);
	tcase_add_test(tc, srv_half_close_pipelined);
	tcase_add_test(tc, srv_half_close_during_handler);
	tcase_add_test(tc, srv_budget_refused);
	tcase_add_test(tc, srv_budget_returned);
	tcase_add_test(tc, srv_reconfigure);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	return test_run_suite(s);
}

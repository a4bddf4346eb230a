/*
 * http_server.h - a small HTTP/1.1 server on libevent bufferevents.
 *
 * Why not evhttp: libevent 2.1 answers an over-limit body, a bad request
 * line or a disallowed method with its own HTML page before any user code
 * runs.  A Beckn peer must always get a Beckn NACK, with a status of our
 * choosing, so becknd owns the request framing (limits, timeouts,
 * keep-alive, chunked bodies) and hands complete requests to one handler.
 *
 * Contract:
 *   - The handler receives each complete request (head + whole body) and
 *     must finish it exactly once with http_reply() (or
 *     http_request_drop()), now or later from the event loop.  That call
 *     frees the request; nothing else does.  While a request is with the
 *     handler, its connection reads nothing more (no pipelined request
 *     overtakes it).
 *   - If the connection fails first (reset, write error), the request
 *     stays valid; the handler's later reply is discarded;
 *     http_request_gone() tells.  A clean end of input (the client
 *     half-closed after sending) is not "gone": the answer is still
 *     written, then the connection closes.
 *   - Errors found before the handler (malformed head, limits, timeouts)
 *     are answered by the server, with a body produced by the error
 *     callback so that the caller decides the format (Beckn NACK), and
 *     "Connection: close".  Then the connection lingers: it reads and
 *     drops what the client still sends (the rest of a 413's body) so
 *     that the client sees the answer rather than a reset, sends its FIN
 *     once the answer is out, and closes when the client closes, after
 *     at most 1 s (or read_timeout when shorter), or after 8 MiB dropped,
 *     whichever comes first.  A client dripping bytes cannot hold it.
 *   - Strict bytes: a chunk-size line is hex digits then nothing but
 *     chunk extensions (RFC 9112 7.1.1), else 400; a header named in
 *     unique_headers that appears twice is 400 before the handler.
 *   - Half-close: after a clean end of input, every complete request the
 *     client sent before it is still answered, in order (the last answer
 *     says "Connection: close" when the end was seen by then); then the
 *     connection closes.
 *   - Connections.  Each is idle while no request is in progress and
 *     nothing is unwritten (a fresh one until its first byte; one whose
 *     error answer is out, too); idle_timeout closes it.  A request
 *     starts with its first byte and has read_timeout to arrive whole.
 *     At max_connections a new connection closes the longest idle one
 *     to make room; accepting pauses (the kernel's backlog holds new
 *     ones) only when none is idle.  A client address (IPv4, or IPv6 as
 *     a whole address) with max_connections_per_client open gets 503
 *     (Retry-After: 1, error callback body) on its next one, which then
 *     closes (lingering, as above); it is never queued.
 *   - Memory: request bodies are charged to conf.budget as they are
 *     buffered: a Content-Length body whole when its head is in (before
 *     "100 Continue"), a chunked one chunk by chunk.  A refused charge is
 *     answered 503 (Retry-After: 1, error callback body) and the
 *     connection closes.  The charge is given back when the request is
 *     freed (http_reply() or http_request_drop()), or moves to the
 *     caller with http_request_steal_body().
 *   - Pipelining: a request waits until earlier answers are mostly
 *     written (64 KiB), so a client that does not read cannot pile them
 *     up; write_timeout bounds a stalled write.
 */
#ifndef BECKND_HTTP_SERVER_H
#define BECKND_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

struct event_base;
struct evbuffer;
struct sockaddr_storage;
struct budget;
struct http_server;
struct http_request;

struct http_server_conf {
	size_t		 header_max;	/* request head bytes */
	size_t		 body_max;	/* request body bytes */
	int64_t		 read_timeout_ms; /* head + body of one request */
	/* Keep-alive wait for the next request (<= 0: read_timeout_ms). */
	int64_t		 idle_timeout_ms;
	int64_t		 write_timeout_ms;
	int		 max_connections; /* <= 0: 1024 */
	int		 max_connections_per_client; /* <= 0: no limit */
	/*
	 * Header names (NULL-terminated list; NULL: none) that a request
	 * may carry at most once, compared case-insensitively; a repeat is
	 * 400.  Not copied: the list must outlive the server (static).
	 */
	const char *const *unique_headers;
	/*
	 * Charged for request bodies (NULL: none).  Not copied: it must
	 * outlive the server and every request the server handed out.
	 */
	struct budget	*budget;
};

/* Counters (tests, logs). */
struct http_server_stats {
	size_t		 connections;	/* open now */
	size_t		 idle;		/* of which idle (closable for room) */
	uint64_t	 evicted;	/* idle ones closed for a new one */
	uint64_t	 per_client_refused; /* 503: over the client's share */
	uint64_t	 limit_refused;	/* 503: over max_connections (after it
					   was lowered below the count) */
	uint64_t	 budget_refused; /* 503: body over the budget */
};

/* Complete request handler. */
typedef void	(*http_handler)(struct http_request *, void *arg);
/*
 * Body for an error the server answers itself: write it into out and
 * return its Content-Type.  status is the HTTP status (400, 408, 413,
 * 431, 501, 505; 503 for the connection and memory budgets), why a short
 * reason.
 */
typedef const char *(*http_error_body)(int status, const char *why,
		    struct evbuffer *out, void *arg);

/*
 * Listen on "host:port" (port 0: any free port; see http_server_port()).
 * Returns NULL and a reason in err.
 */
struct http_server *http_server_new(struct event_base *, const char *hostport,
		    const struct http_server_conf *, http_handler,
		    http_error_body, void *arg, char *err, size_t errlen);
/*
 * New limits (SIGHUP).  They apply to every byte read from now on (a
 * body being received is held to the new body_max; a new chunk is
 * charged to the new budget, what is held stays with the old one);
 * timeouts already armed on a connection run out as armed (idle_timeout
 * applies from a connection's next idle time); max_connections_per_client
 * applies to new connections (open ones are not closed); unique_headers
 * to new requests.  Accepting resumes or pauses at once when
 * max_connections moved across the current count.
 */
void		 http_server_reconfigure(struct http_server *,
		    const struct http_server_conf *);
/* Stop accepting; connections with no request in the handler close. */
void		 http_server_close_listener(struct http_server *);
/* Requests still with the handler (for a graceful stop). */
size_t		 http_server_pending(const struct http_server *);
const struct http_server_stats *http_server_stats(const struct http_server *);
/* Close everything. Requests still with the handler become "gone". */
void		 http_server_free(struct http_server *);
int		 http_server_port(const struct http_server *);
/* The bound address and port (a wildcard address when bound to all). */
const struct sockaddr_storage *http_server_addr(const struct http_server *);

/* Request accessors; valid until http_reply()/http_request_drop(). */
const char	*http_request_method(const struct http_request *);
const char	*http_request_path(const struct http_request *);	/* no query */
const char	*http_request_query(const struct http_request *);	/* or NULL */
const char	*http_request_header(const struct http_request *,
		    const char *name);
const struct http_head *http_request_head(const struct http_request *);
/* The body: contiguous, NUL-terminated after len bytes. */
const char	*http_request_body(const struct http_request *, size_t *len);
/*
 * Take the body out of the request (xmalloc'd, NUL-terminated; the caller
 * frees it).  Lets a message be queued for delivery without a copy.  The
 * request's body is empty afterwards.  The body's budget charge moves
 * with it: exactly *len bytes of the budget in the server's conf when the
 * request arrived, which the caller must budget_give() back when it frees
 * the body (nothing to give when that budget was NULL).
 */
char		*http_request_steal_body(struct http_request *, size_t *len);
const char	*http_request_peer(const struct http_request *);
int		 http_request_gone(const struct http_request *);

/*
 * Answer and free the request.  headers: NULL-terminated name/value pairs
 * (may be NULL).  body is copied.
 */
void		 http_reply(struct http_request *, int status,
		    const char *content_type, const char *const *headers,
		    const void *body, size_t len);
/* Same with the body taken from an evbuffer (drained). */
void		 http_reply_buffer(struct http_request *, int status,
		    const char *content_type, const char *const *headers,
		    struct evbuffer *body);
/* Free without answering; the connection is closed. */
void		 http_request_drop(struct http_request *);

const char	*http_status_text(int);

#endif

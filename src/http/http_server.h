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
 *     callback so that the caller decides the format (Beckn NACK).
 *   - Limits: head size, body size (declared or chunked), per-request
 *     read deadline, idle keep-alive timeout, write timeout, connection
 *     count (accepting pauses at the limit).
 */
#ifndef BECKND_HTTP_SERVER_H
#define BECKND_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

struct event_base;
struct evbuffer;
struct sockaddr_storage;
struct http_server;
struct http_request;

struct http_server_conf {
	size_t		 header_max;	/* request head bytes */
	size_t		 body_max;	/* request body bytes */
	int64_t		 read_timeout_ms; /* head + body of one request */
	int64_t		 idle_timeout_ms; /* keep-alive wait for the next one */
	int64_t		 write_timeout_ms;
	int		 max_connections;
};

/* Complete request handler. */
typedef void	(*http_handler)(struct http_request *, void *arg);
/*
 * Body for an error the server answers itself: write it into out and
 * return its Content-Type.  status is the HTTP status, why a short reason.
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
 * body being received is held to the new body_max); timeouts already
 * armed on a connection run out as armed.  Accepting resumes or pauses at
 * once when max_connections moved across the current count.
 */
void		 http_server_reconfigure(struct http_server *,
		    const struct http_server_conf *);
/* Stop accepting; connections with no request in the handler close. */
void		 http_server_close_listener(struct http_server *);
/* Requests still with the handler (for a graceful stop). */
size_t		 http_server_pending(const struct http_server *);
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
 * request's body is empty afterwards.
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

/*
 * http_client.h - outbound HTTP POSTs with libcurl multi on the libevent
 * loop: forwarding to peers, webhook delivery, registry lookups.
 *
 * Contract:
 *   - Nothing blocks the loop: libcurl's sockets and timer are driven by
 *     libevent, DNS is libcurl's threaded resolver.
 *   - http_client_post() never calls back from inside itself; the callback
 *     runs later from the loop, exactly once, unless http_client_cancel()
 *     was called first.  The handle is valid until the callback starts or
 *     cancel returns.
 *   - The request body is borrowed, not copied: it must stay valid and
 *     unchanged until the callback runs or cancel returns.  (Bodies are
 *     forwarded byte for byte; copying them per hop would be waste.)
 *   - At most max_inflight transfers run at once, up to max_queue more wait
 *     in FIFO order; beyond that the request fails with HTTPC_QUEUE_FULL.
 *   - The response (body, status) is valid during the callback only.
 *   - Do not call http_client_free() from a callback.
 */
#ifndef BECKND_HTTP_CLIENT_H
#define BECKND_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sockaddr_storage;

struct http_client_conf {
	int64_t		 timeout_ms;		/* default per transfer */
	int64_t		 connect_timeout_ms;
	int		 max_inflight;
	size_t		 max_queue;
	size_t		 response_max;		/* response body bytes */
	int		 tls_verify;
	const char	*ca_file;		/* copied; may be NULL */
	/*
	 * Addresses (address and port) never to connect to, checked on
	 * every address a URL resolves to: becknd's own client listener,
	 * so a registered URL cannot make it sign and post to itself.
	 * Copied.
	 */
	const struct sockaddr_storage *deny;
	size_t		 ndeny;
};

enum http_client_error {
	HTTPC_OK = 0,		/* a complete HTTP response arrived */
	HTTPC_CONNECT,		/* could not resolve, connect, send or read */
	HTTPC_TIMEOUT,		/* the transfer took longer than allowed */
	HTTPC_TOO_LARGE,	/* the response body exceeded response_max */
	HTTPC_QUEUE_FULL,	/* too many pending requests */
	HTTPC_OTHER,		/* bad URL, TLS verification, ... */
	HTTPC_DENIED,		/* resolved to a denied address */
};

struct http_client_response {
	enum http_client_error	 error;
	long			 status;	/* HTTP status when HTTPC_OK */
	const char		*body;		/* NUL-terminated; "" if none */
	size_t			 len;
	const char		*errstr;	/* reason when not HTTPC_OK */
};

typedef void	(*http_client_cb)(const struct http_client_response *,
		    void *arg);

struct http_client;
struct http_client_req;

struct http_client	*http_client_new(struct event_base *,
			    const struct http_client_conf *);
/*
 * New settings (SIGHUP) for transfers started from now on; transfers
 * running keep theirs.  A larger max_inflight starts queued requests at
 * once; a smaller one lets the running ones finish.
 */
void			 http_client_reconfigure(struct http_client *,
			    const struct http_client_conf *);
/* Drops every pending request without calling back. */
void			 http_client_free(struct http_client *);

/*
 * POST body to url.  headers: NULL-terminated "Name: value" strings
 * (copied), may be NULL.  timeout_ms 0 takes the client's default.
 * Never returns NULL.
 */
struct http_client_req	*http_client_post(struct http_client *,
			    const char *url, const char *const *headers,
			    const void *body, size_t len, int64_t timeout_ms,
			    http_client_cb, void *arg);
void			 http_client_cancel(struct http_client_req *);
/* Transfers running or queued. */
size_t			 http_client_pending(const struct http_client *);

const char		*http_client_error_name(enum http_client_error);

#endif

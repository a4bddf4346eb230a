/*
 * registry_http.h - asynchronous HTTP POST with libcurl multi on a
 * libevent loop.
 *
 * Internal to src/registry for now; nothing in it is registry-specific,
 * so the adaptor's outbound HTTP can reuse it (move to src/net/ then).
 *
 * Contract:
 *   - registry_http_post() never blocks and never calls back from inside
 *     itself: the callback always runs later from the event loop, exactly
 *     once, unless registry_http_cancel() was called first.
 *   - At most max_inflight transfers run at once; up to max_queue more
 *     wait in FIFO order; beyond that the request fails (callback with
 *     ok == 0, "too many pending requests").
 *   - The handle is valid until its callback starts or cancel returns.
 *   - The response is valid during the callback only.
 *   - Do not call registry_http_free() from a callback.
 */
#ifndef BECKND_REGISTRY_HTTP_H
#define BECKND_REGISTRY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

struct registry_http_conf {
	int64_t		 timeout_ms;		/* whole transfer */
	int64_t		 connect_timeout_ms;
	int		 max_inflight;
	size_t		 max_queue;
	size_t		 body_max;		/* response bytes */
	int		 tls_verify;
	const char	*ca_file;		/* copied; may be NULL */
};

struct registry_http_response {
	int		 ok;		/* a complete HTTP response arrived */
	long		 status;	/* HTTP status when ok */
	const char	*body;		/* NUL-terminated; "" when none */
	size_t		 len;
	const char	*error;		/* transport error when !ok */
};

typedef void	(*registry_http_cb)(const struct registry_http_response *,
		    void *arg);

struct registry_http;
struct registry_http_req;

struct registry_http	*registry_http_new(struct event_base *,
			    const struct registry_http_conf *);
/* Drops every pending request without calling back. */
void			 registry_http_free(struct registry_http *);
/* POST body (JSON) to url.  Never NULL. */
struct registry_http_req *registry_http_post(struct registry_http *,
			    const char *url, const char *body, size_t len,
			    registry_http_cb, void *arg);
void			 registry_http_cancel(struct registry_http_req *);

#endif

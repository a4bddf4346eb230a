/*
 * http_server.c - HTTP/1.1 request framing on bufferevents: heads, bodies
 * (Content-Length or chunked), keep-alive, limits and timeouts, the
 * connection budget (idle eviction, per-client counts) and the memory
 * budget of request bodies.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "http/http_peers.h"
#include "http/http_server.h"
#include "util/budget.h"
#include "util/hostport.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

/*
 * After an error answer the connection lingers: the rest of the request
 * (a body the client is still sending) is read and dropped so that the
 * client sees the answer instead of a reset, for at most LINGER_MS (or
 * read_timeout when shorter) and LINGER_BYTES, then it closes.
 */
#define LINGER_MS	1000
#define LINGER_BYTES	(8u << 20)
/* A pipelined request waits while this much of earlier answers is unsent. */
#define OUT_MAX		(64u << 10)
#define CHUNK_LINE_MAX	1024

enum conn_state {
	CS_HEAD,	/* waiting for / reading a request head */
	CS_BODY,	/* Content-Length body */
	CS_CHUNK_SIZE,
	CS_CHUNK_DATA,
	CS_CHUNK_CRLF,
	CS_TRAILER,
	CS_HANDLER,	/* request is with the handler */
	CS_LINGER,	/* answered an error; dropping input, then close */
	CS_CLOSING,	/* close once the output is written */
};

struct http_conn;

struct http_request {
	struct http_conn	*conn;		/* NULL once the client is gone */
	struct http_server	*srv;		/* NULL once the server is gone */
	struct budget		*budget;	/* charged for the body */
	size_t			 charged;
	char			*headbuf;
	struct http_head	 head;
	char			*path;
	const char		*query;
	char			*body;
	size_t			 body_len;
	size_t			 body_cap;
	int64_t			 chunk_left;
};

struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	TAILQ_ENTRY(http_conn)	 idle_entry;	/* on srv->idle */
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct event		*deadline;	/* idle, read or linger */
	struct event		*resume;	/* deferred processing */
	struct http_request	*req;
	struct http_peer	*counted;	/* per-client count, or NULL */
	enum conn_state		 state;
	int			 keepalive;	/* of the request being served */
	int			 peer_eof;	/* the client half-closed */
	int			 reading;	/* a request's bytes arrived */
	int			 out_wait;	/* next waits for the output */
	int			 idle;		/* on srv->idle */
	int			 shut;		/* CS_LINGER: our FIN is sent */
	int			 ntrailers;
	size_t			 dropped;	/* CS_LINGER: bytes dropped */
	char			 peer[INET6_ADDRSTRLEN + 8];
};

struct http_server {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct http_server_conf	 conf;
	http_handler		 handler;
	http_error_body		 errbody;
	void			*arg;
	int			 port;
	struct sockaddr_storage	 addr;		/* bound address */
	int			 nconns;
	int			 paused;
	int			 closing;
	struct event		*resume_accept;	/* after EMFILE and the like */
	size_t			 pending;
	struct http_peers	*peers;
	struct http_server_stats stats;
	TAILQ_HEAD(, http_conn)	 conns;
	/* Closable at no loss: no request in progress, nothing unwritten
	 * (and lingering ones whose answer is out); oldest first. */
	TAILQ_HEAD(, http_conn)	 idle;
};

static void	conn_process(struct http_conn *);
static void	conn_free(struct http_conn *);
static void	conn_error(struct http_conn *, int, const char *);
static void	accept_error_cb(struct evconnlistener *, void *);
static void	resume_accept_cb(evutil_socket_t, short, void *);

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static struct timeval
ms_tv(int64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

static void
arm(struct http_conn *c, int64_t ms)
{
	struct timeval	 tv = ms_tv(ms);

	evtimer_add(c->deadline, &tv);
}

static void
request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	budget_give(req->budget, req->charged);
	free(req->headbuf);
	free(req->path);
	free(req->body);
	free(req);
}

/*
 * Accepting pauses only at the connection limit with nothing idle to
 * close for room (and while an accept error's pause runs).
 */
static void
check_accept(struct http_server *srv)
{
	int	 full;

	if (srv->listener == NULL || srv->closing)
		return;
	full = srv->nconns >= srv->conf.max_connections &&
	    TAILQ_EMPTY(&srv->idle);
	if (full && !srv->paused) {
		evconnlistener_disable(srv->listener);
		srv->paused = 1;
	} else if (!full && srv->paused) {
		srv->paused = 0;
		if (!evtimer_pending(srv->resume_accept, NULL))
			evconnlistener_enable(srv->listener);
	}
}

static void
idle_add(struct http_conn *c)
{
	if (c->idle)
		return;
	TAILQ_INSERT_TAIL(&c->srv->idle, c, idle_entry);
	c->idle = 1;
	c->srv->stats.idle++;
	check_accept(c->srv);
}

static void
idle_del(struct http_conn *c)
{
	if (!c->idle)
		return;
	TAILQ_REMOVE(&c->srv->idle, c, idle_entry);
	c->idle = 0;
	c->srv->stats.idle--;
	check_accept(c->srv);
}

/* Nothing more comes from the client: close once the output is out. */
static void
conn_end(struct http_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return;
	}
	idle_del(c);
	c->state = CS_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
}

/* Write status line, headers and body to the connection's output. */
static void
write_response(struct http_conn *c, int status, const char *ctype,
    const char *const *headers, const void *body, size_t len,
    struct evbuffer *bodybuf, int close)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 i;

	if (bodybuf != NULL)
		len = evbuffer_get_length(bodybuf);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n",
	    status, http_status_text(status), len);
	if (ctype != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	for (i = 0; headers != NULL && headers[i] != NULL &&
	    headers[i + 1] != NULL; i += 2)
		evbuffer_add_printf(out, "%s: %s\r\n", headers[i],
		    headers[i + 1]);
	if (close)
		evbuffer_add(out, "Connection: close\r\n", 19);
	evbuffer_add(out, "\r\n", 2);
	if (bodybuf != NULL)
		evbuffer_add_buffer(out, bodybuf);
	else if (len > 0)
		evbuffer_add(out, body, len);
}

/* Drop input while lingering; 0, or -1 when c was freed. */
static int
linger_drop(struct http_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	size_t		 n = evbuffer_get_length(in);

	evbuffer_drain(in, n);
	c->dropped += n;
	if (c->dropped > LINGER_BYTES) {
		conn_free(c);
		return -1;
	}
	return 0;
}

/*
 * Answer an error the server found itself, then linger (see LINGER_MS):
 * the connection never serves another request.  503 answers carry
 * Retry-After.  May free c (callers return at once).
 */
static void
conn_error(struct http_conn *c, int status, const char *why)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	struct http_server	*srv = c->srv;
	struct evbuffer		*body = evbuffer_new();
	const char		*ctype = "text/plain";
	int64_t			 ms;

	if (body == NULL) {
		conn_free(c);
		return;
	}
	if (srv->errbody != NULL)
		ctype = srv->errbody(status, why, body, srv->arg);
	else
		evbuffer_add_printf(body, "%s\n", why);
	write_response(c, status, ctype, status == 503 ? retry : NULL, NULL,
	    0, body, 1);
	evbuffer_free(body);
	request_free(c->req);
	c->req = NULL;
	idle_del(c);
	c->state = CS_LINGER;
	c->reading = 0;
	c->out_wait = 0;
	ms = srv->conf.read_timeout_ms < LINGER_MS ?
	    srv->conf.read_timeout_ms : LINGER_MS;
	arm(c, ms);
	bufferevent_enable(c->bev, c->peer_eof ? EV_WRITE : EV_READ | EV_WRITE);
	(void)linger_drop(c);	/* may free c: callers return at once */
}

static void
dispatch(struct http_conn *c)
{
	struct http_server	*srv = c->srv;
	struct http_request	*req = c->req;

	evtimer_del(c->deadline);
	/*
	 * Keep reading while the handler works, so that a connection error
	 * marks the request gone; pipelined bytes wait in the input buffer
	 * (bounded by the read watermark).  No deadline meanwhile: the
	 * handler may legitimately take long (sync calls).
	 */
	c->state = CS_HANDLER;
	c->reading = 0;
	c->keepalive = !req->head.close && !srv->closing;
	if (req->body == NULL) {
		req->body = xmalloc(1);
		req->body_len = 0;
	}
	req->body[req->body_len] = '\0';
	srv->pending++;
	srv->handler(req, srv->arg);
}

static void
body_reserve(struct http_request *req, size_t need)
{
	if (need + 1 <= req->body_cap)
		return;
	req->body_cap = need + 1 > req->body_cap * 2 ? need + 1 :
	    req->body_cap * 2;
	req->body = xrealloc(req->body, req->body_cap);
}

/* Charge n more body bytes to the request's budget; -1 when refused. */
static int
charge(struct http_request *req, size_t n)
{
	if (budget_take(req->budget, n) == -1) {
		req->srv->stats.budget_refused++;
		return -1;
	}
	req->charged += n;
	return 0;
}

static void
continue_100(struct http_conn *c)
{
	if (c->req->head.expect_continue && c->req->head.minor >= 1)
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* A head is in; 0 to go on reading, -1 to stop processing for now. */
static int
start_request(struct http_conn *c, struct evbuffer *in, size_t headlen)
{
	struct http_server	*srv = c->srv;
	struct http_request	*req;
	const char		*why, *q;
	const char *const	*u;
	char			 msg[128];
	int			 status;

	req = xcalloc(1, sizeof(*req));
	req->conn = c;
	req->srv = srv;
	req->budget = srv->conf.budget;
	req->headbuf = xmalloc(headlen + 1);
	evbuffer_remove(in, req->headbuf, headlen);
	req->headbuf[headlen] = '\0';
	c->req = req;
	if ((status = http_parse_head(req->headbuf, headlen, &req->head,
	    &why)) != 0) {
		conn_error(c, status, why);
		return -1;
	}
	for (u = srv->conf.unique_headers; u != NULL && *u != NULL; u++) {
		if (http_head_count(&req->head, *u) > 1) {
			snprintf(msg, sizeof(msg), "repeated %.80s header", *u);
			conn_error(c, 400, msg);
			return -1;
		}
	}
	if ((q = strchr(req->head.target, '?')) != NULL) {
		req->path = xstrndup(req->head.target,
		    (size_t)(q - req->head.target));
		req->query = q + 1;
	} else
		req->path = xstrdup(req->head.target);

	if (req->head.chunked) {
		c->state = CS_CHUNK_SIZE;
		c->ntrailers = 0;
		continue_100(c);
		return 0;
	}
	if (req->head.content_length > (int64_t)srv->conf.body_max) {
		conn_error(c, 413, "request body too large");
		return -1;
	}
	if (req->head.content_length <= 0) {
		dispatch(c);
		return -1;	/* stop processing: with the handler now */
	}
	if (charge(req, (size_t)req->head.content_length) == -1) {
		conn_error(c, 503, "request bodies over the memory budget");
		return -1;
	}
	body_reserve(req, (size_t)req->head.content_length);
	c->state = CS_BODY;
	continue_100(c);
	return 0;
}

static void
conn_process(struct http_conn *c)
{
	struct http_server	*srv = c->srv;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct http_request	*req;
	unsigned char		*p;
	size_t			 avail, n, lim;
	long			 headlen;
	int64_t			 sz;
	char			*line;

	for (;;) {
		avail = evbuffer_get_length(in);
		req = c->req;
		switch (c->state) {
		case CS_HEAD:
			if (avail == 0)
				goto more;
			if (!c->reading) {
				/* The first byte: read_timeout from now. */
				idle_del(c);
				c->reading = 1;
				arm(c, srv->conf.read_timeout_ms);
			}
			lim = srv->conf.header_max + 1;
			p = evbuffer_pullup(in, (ev_ssize_t)(avail < lim ?
			    avail : lim));
			headlen = http_head_length((const char *)p, avail < lim ?
			    avail : lim, srv->conf.header_max);
			if (headlen == 0)
				goto more;
			if (headlen < 0) {
				conn_error(c, 431, "request head too large");
				return;
			}
			if (start_request(c, in, (size_t)headlen) == -1)
				return;
			break;
		case CS_BODY:
			n = (size_t)req->head.content_length - req->body_len;
			if (avail < n)
				n = avail;
			if (n == 0)
				goto more;
			evbuffer_remove(in, req->body + req->body_len, n);
			req->body_len += n;
			if (req->body_len == (size_t)req->head.content_length) {
				dispatch(c);
				return;
			}
			break;
		case CS_CHUNK_SIZE:
		case CS_CHUNK_CRLF:
		case CS_TRAILER:
			line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
			if (line == NULL) {
				if (avail > CHUNK_LINE_MAX) {
					conn_error(c, 400, "malformed chunk");
					return;
				}
				goto more;
			}
			if (c->state == CS_CHUNK_CRLF) {
				free(line);
				if (n != 0) {
					conn_error(c, 400, "malformed chunk");
					return;
				}
				c->state = CS_CHUNK_SIZE;
				break;
			}
			if (c->state == CS_TRAILER) {
				free(line);
				if (n == 0) {
					dispatch(c);
					return;
				}
				if (++c->ntrailers > HTTP_HEADERS_MAX) {
					conn_error(c, 431, "too many trailer "
					    "fields");
					return;
				}
				break;
			}
			sz = http_chunk_size(line, n);
			free(line);
			if (sz < 0) {
				conn_error(c, 400, "malformed chunk size");
				return;
			}
			if (sz == 0) {
				c->state = CS_TRAILER;
				break;
			}
			if ((uint64_t)sz > srv->conf.body_max - req->body_len) {
				conn_error(c, 413, "request body too large");
				return;
			}
			if (charge(req, (size_t)sz) == -1) {
				conn_error(c, 503, "request bodies over the "
				    "memory budget");
				return;
			}
			body_reserve(req, req->body_len + (size_t)sz);
			req->chunk_left = sz;
			c->state = CS_CHUNK_DATA;
			break;
		case CS_CHUNK_DATA:
			n = (size_t)req->chunk_left;
			if (avail < n)
				n = avail;
			if (n == 0)
				goto more;
			evbuffer_remove(in, req->body + req->body_len, n);
			req->body_len += n;
			req->chunk_left -= (int64_t)n;
			if (req->chunk_left == 0)
				c->state = CS_CHUNK_CRLF;
			break;
		case CS_LINGER:
			(void)linger_drop(c);
			return;
		case CS_HANDLER:
		case CS_CLOSING:
			return;
		}
	}
more:
	/* Need more bytes: after the client's FIN none come. */
	if (c->peer_eof)
		conn_end(c);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*c = arg;

	if (c->out_wait)
		return;		/* write_cb resumes */
	conn_process(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(c->bev);

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	switch (c->state) {
	case CS_CLOSING:
		conn_free(c);
		return;
	case CS_LINGER:
		/* The answer is out: say so with our FIN and keep dropping
		 * what the client still sends until it closes too. */
		if (c->shut)
			return;
		if (c->peer_eof) {
			conn_free(c);
			return;
		}
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		c->shut = 1;
		idle_add(c);
		return;
	case CS_HEAD:
		if (c->reading)
			return;
		if (c->out_wait) {
			c->out_wait = 0;
			if (evbuffer_get_length(in) > 0) {
				conn_process(c);
				return;
			}
		}
		if (evbuffer_get_length(in) > 0)
			return;		/* resume_cb is on its way */
		if (c->peer_eof || c->srv->closing) {
			conn_free(c);
			return;
		}
		/* Idle: wait idle_timeout for the next request. */
		arm(c, c->srv->conf.idle_timeout_ms);
		idle_add(c);
		return;
	default:
		return;
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/*
		 * A clean end of input: the client may be half-closed and
		 * waiting for answers.  Every complete request received
		 * before it is still answered, in order; then the connection
		 * closes.
		 */
		c->peer_eof = 1;
		switch (c->state) {
		case CS_HANDLER:
			return;		/* finish() goes on */
		case CS_LINGER:
		case CS_CLOSING:
			conn_end(c);
			return;
		default:
			if (c->out_wait)
				return;	/* write_cb goes on */
			conn_process(c);
			return;
		}
	}
	conn_free(c);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;

	switch (c->state) {
	case CS_HEAD:
		if (!c->reading) {
			conn_free(c);	/* idle_timeout */
			return;
		}
		/* FALLTHROUGH */
	case CS_BODY:
	case CS_CHUNK_SIZE:
	case CS_CHUNK_DATA:
	case CS_CHUNK_CRLF:
	case CS_TRAILER:
		conn_error(c, 408, "request timed out");
		return;
	case CS_LINGER:
		conn_free(c);
		return;
	case CS_HANDLER:
	case CS_CLOSING:
		return;
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;

	conn_process(c);
}

static void
conn_free(struct http_conn *c)
{
	struct http_server	*srv = c->srv;

	if (c->req != NULL) {
		if (c->state == CS_HANDLER)
			c->req->conn = NULL;	/* the handler still owns it */
		else
			request_free(c->req);
	}
	if (c->idle) {
		TAILQ_REMOVE(&srv->idle, c, idle_entry);
		srv->stats.idle--;
	}
	if (c->counted != NULL)
		http_peers_remove(srv->peers, c->counted);
	TAILQ_REMOVE(&srv->conns, c, entry);
	event_free(c->deadline);
	event_free(c->resume);
	bufferevent_free(c->bev);
	free(c);
	srv->nconns--;
	srv->stats.connections--;
	check_accept(srv);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct http_server	*srv = arg;
	struct http_conn	*c, *old;
	struct timeval		 wtv;
	char			 host[INET6_ADDRSTRLEN];

	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(srv->base, deadline_cb, c);
	c->resume = event_new(srv->base, -1, 0, resume_cb, c);
	if (c->bev == NULL || c->deadline == NULL || c->resume == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		if (c->resume != NULL)
			event_free(c->resume);
		free(c);
		return;
	}
	host[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host,
		    sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    host, sizeof(host));
	snprintf(c->peer, sizeof(c->peer), "%s", host);
	c->state = CS_HEAD;
	c->counted = http_peers_add(srv->peers, sa,
	    srv->conf.max_connections_per_client);
	/* At the limit, make room: close the longest idle. */
	while (srv->nconns >= srv->conf.max_connections &&
	    (old = TAILQ_FIRST(&srv->idle)) != NULL) {
		srv->stats.evicted++;
		conn_free(old);
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->stats.connections++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	wtv = ms_tv(srv->conf.write_timeout_ms);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	/* Stop reading once a request's worth of bytes waits unprocessed. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, srv->conf.header_max +
	    srv->conf.body_max + 65536);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->counted == NULL) {
		srv->stats.per_client_refused++;
		conn_error(c, 503, "too many connections from this address");
	} else if (srv->nconns > srv->conf.max_connections) {
		/* Only after max_connections was lowered below the count. */
		srv->stats.limit_refused++;
		conn_error(c, 503, "too many connections");
	} else {
		arm(c, srv->conf.idle_timeout_ms);
		idle_add(c);
	}
	check_accept(srv);
}

static void
conf_fix(struct http_server_conf *conf)
{
	if (conf->max_connections <= 0)
		conf->max_connections = 1024;
	if (conf->idle_timeout_ms <= 0)
		conf->idle_timeout_ms = conf->read_timeout_ms;
}

struct http_server *
http_server_new(struct event_base *base, const char *hostport,
    const struct http_server_conf *conf, http_handler handler,
    http_error_body errbody, void *arg, char *err, size_t errlen)
{
	struct http_server	*srv;
	struct evutil_addrinfo	 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			*host = NULL, portstr[8];
	int			 port, rc;

	if (hostport_split(hostport, &host, &port) == -1) {
		snprintf(err, errlen, "%s: not host:port", hostport);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
		free(host);
		host = xstrdup("0.0.0.0");
	}
	if ((rc = evutil_getaddrinfo(host, portstr, &hints, &res)) != 0) {
		/* Not numeric: resolve once at start-up (blocking is fine). */
		hints.ai_flags = EVUTIL_AI_PASSIVE;
		if ((rc = evutil_getaddrinfo(host, portstr, &hints, &res)) !=
		    0) {
			snprintf(err, errlen, "%s: %s", hostport,
			    evutil_gai_strerror(rc));
			free(host);
			return NULL;
		}
	}
	free(host);
	srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->conf = *conf;
	conf_fix(&srv->conf);
	srv->handler = handler;
	srv->errbody = errbody;
	srv->arg = arg;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->idle);
	srv->listener = evconnlistener_new_bind(base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, res->ai_addr, (int)res->ai_addrlen);
	evutil_freeaddrinfo(res);
	if (srv->listener == NULL) {
		snprintf(err, errlen, "%s: cannot listen: %s", hostport,
		    strerror(errno));
		free(srv);
		return NULL;
	}
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	srv->resume_accept = xevtimer_new(base, resume_accept_cb, srv);
	srv->peers = http_peers_new();
	if (getsockname(evconnlistener_get_fd(srv->listener),
	    (struct sockaddr *)&ss, &sslen) == 0) {
		srv->addr = ss;
		if (ss.ss_family == AF_INET)
			srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return srv;
}

static void
resume_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server	*srv = arg;

	if (srv->listener != NULL && !srv->paused)
		evconnlistener_enable(srv->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): pause a moment, not spin. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_server	*srv = arg;
	struct timeval		 tv = { 1, 0 };
	int			 e = EVUTIL_SOCKET_ERROR();

	fprintf(stderr, "{\"level\":\"warn\",\"msg\":\"accept: %s; pausing "
	    "1 s\"}\n", evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	evtimer_add(srv->resume_accept, &tv);
}

void
http_server_reconfigure(struct http_server *srv,
    const struct http_server_conf *conf)
{
	srv->conf = *conf;
	conf_fix(&srv->conf);
	check_accept(srv);
}

int
http_server_port(const struct http_server *srv)
{
	return srv->port;
}

const struct sockaddr_storage *
http_server_addr(const struct http_server *srv)
{
	return &srv->addr;
}

size_t
http_server_pending(const struct http_server *srv)
{
	return srv->pending;
}

const struct http_server_stats *
http_server_stats(const struct http_server *srv)
{
	return &srv->stats;
}

void
http_server_close_listener(struct http_server *srv)
{
	struct http_conn	*c;

	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	srv->closing = 1;
	evtimer_del(srv->resume_accept);
	/* Idle connections have nothing to finish. */
	while ((c = TAILQ_FIRST(&srv->idle)) != NULL)
		conn_free(c);
}

void
http_server_free(struct http_server *srv)
{
	struct http_conn	*c;

	if (srv == NULL)
		return;
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	srv->listener = NULL;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		if (c->req != NULL && c->state == CS_HANDLER)
			c->req->srv = NULL;
		conn_free(c);
	}
	if (srv->resume_accept != NULL)
		event_free(srv->resume_accept);
	http_peers_free(srv->peers);
	free(srv);
}

const char *
http_request_method(const struct http_request *req)
{
	return req->head.method;
}

const char *
http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *
http_request_query(const struct http_request *req)
{
	return req->query;
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	return http_head_get(&req->head, name);
}

const struct http_head *
http_request_head(const struct http_request *req)
{
	return &req->head;
}

const char *
http_request_body(const struct http_request *req, size_t *len)
{
	if (len != NULL)
		*len = req->body_len;
	return req->body;
}

char *
http_request_steal_body(struct http_request *req, size_t *len)
{
	char	*b = req->body;

	*len = req->body_len;
	/* The charge goes with the bytes: the caller gives *len back. */
	req->charged = 0;
	req->body = xmalloc(1);
	req->body[0] = '\0';
	req->body_len = 0;
	req->body_cap = 1;
	return b;
}

const char *
http_request_peer(const struct http_request *req)
{
	return req->conn != NULL ? req->conn->peer : "";
}

int
http_request_gone(const struct http_request *req)
{
	return req->conn == NULL;
}

/* Is the answer being written the connection's last? */
static int
last_answer(const struct http_conn *c)
{
	return !c->keepalive || c->srv->closing || (c->peer_eof &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0);
}

/* Common end of a request: account, free, and resume the connection. */
static void
finish(struct http_request *req, int answered)
{
	struct http_conn	*c = req->conn;
	struct timeval		 wtv;

	if (req->srv != NULL)
		req->srv->pending--;
	request_free(req);
	if (c == NULL)
		return;
	c->req = NULL;
	if (!answered) {
		conn_free(c);
		return;
	}
	if (last_answer(c)) {
		c->state = CS_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	wtv = ms_tv(c->srv->conf.write_timeout_ms);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	c->state = CS_HEAD;
	c->reading = 0;
	if (!c->peer_eof)
		bufferevent_enable(c->bev, EV_READ);
	/*
	 * The next request: once this answer is written (write_cb), or a
	 * pipelined one already buffered, from the loop rather than from
	 * inside the handler's reply -- unless much is still unsent, so
	 * that a client that does not read cannot pile up answers.
	 */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_MAX)
		c->out_wait = 1;
	else if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, 0, 0);
}

void
http_reply(struct http_request *req, int status, const char *ctype,
    const char *const *headers, const void *body, size_t len)
{
	if (req->conn != NULL)
		write_response(req->conn, status, ctype, headers, body, len,
		    NULL, last_answer(req->conn));
	finish(req, 1);
}

void
http_reply_buffer(struct http_request *req, int status, const char *ctype,
    const char *const *headers, struct evbuffer *body)
{
	if (req->conn != NULL)
		write_response(req->conn, status, ctype, headers, NULL, 0,
		    body, last_answer(req->conn));
	else
		evbuffer_drain(body, evbuffer_get_length(body));
	finish(req, 1);
}

void
http_request_drop(struct http_request *req)
{
	finish(req, 0);
}

/*
 * http_server.c - HTTP/1.1 request framing on bufferevents: heads, bodies
 * (Content-Length or chunked), keep-alive, limits and timeouts.
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

#include "http/http_server.h"
#include "util/hostport.h"
#include "util/xmalloc.h"

/* Bytes of an over-limit body we read and drop so the client sees the 413
 * before the connection closes; beyond this we just close. */
#define DISCARD_MAX	(64u << 20)
#define CHUNK_LINE_MAX	1024

enum conn_state {
	CS_HEAD,	/* waiting for / reading a request head */
	CS_BODY,	/* Content-Length body */
	CS_CHUNK_SIZE,
	CS_CHUNK_DATA,
	CS_CHUNK_CRLF,
	CS_TRAILER,
	CS_HANDLER,	/* request is with the handler */
	CS_DISCARD,	/* answered 413; dropping the rest of the body */
	CS_CLOSING,	/* close once the output is written */
};

struct http_conn;

struct http_request {
	struct http_conn	*conn;		/* NULL once the client is gone */
	struct http_server	*srv;		/* NULL once the server is gone */
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
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct event		*deadline;	/* read deadline of a request */
	struct event		*resume;	/* deferred processing */
	struct http_request	*req;
	enum conn_state		 state;
	int			 keepalive;	/* of the request being served */
	int			 peer_eof;	/* the client half-closed */
	int			 ntrailers;
	size_t			 discard_left;
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
	TAILQ_HEAD(, http_conn)	 conns;
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
request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	free(req->headbuf);
	free(req->path);
	free(req->body);
	free(req);
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

static void
conn_error(struct http_conn *c, int status, const char *why)
{
	struct evbuffer	*body = evbuffer_new();
	const char	*ctype = "text/plain";

	if (body == NULL) {
		conn_free(c);
		return;
	}
	if (c->srv->errbody != NULL)
		ctype = c->srv->errbody(status, why, body, c->srv->arg);
	else
		evbuffer_add_printf(body, "%s\n", why);
	write_response(c, status, ctype, NULL, NULL, 0, body, 1);
	evbuffer_free(body);
	request_free(c->req);
	c->req = NULL;
	evtimer_del(c->deadline);
	c->state = CS_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
dispatch(struct http_conn *c)
{
	struct http_server	*srv = c->srv;
	struct http_request	*req = c->req;

	struct timeval		 wtv = ms_tv(srv->conf.write_timeout_ms);

	evtimer_del(c->deadline);
	/*
	 * Keep reading while the handler works, so that a connection error
	 * marks the request gone; pipelined bytes wait in the input buffer
	 * (bounded by the read watermark).  No idle timeout meanwhile: the
	 * handler may legitimately take long (sync calls).
	 */
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	c->state = CS_HANDLER;
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

static int
start_request(struct http_conn *c, struct evbuffer *in, size_t headlen)
{
	struct http_server	*srv = c->srv;
	struct http_request	*req;
	const char		*why, *q;
	int			 status;

	req = xcalloc(1, sizeof(*req));
	req->conn = c;
	req->srv = srv;
	req->headbuf = xmalloc(headlen + 1);
	evbuffer_remove(in, req->headbuf, headlen);
	req->headbuf[headlen] = '\0';
	c->req = req;
	if ((status = http_parse_head(req->headbuf, headlen, &req->head,
	    &why)) != 0) {
		conn_error(c, status, why);
		return -1;
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
		if (req->head.expect_continue && req->head.minor >= 1)
			evbuffer_add(bufferevent_get_output(c->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n", 25);
		return 0;
	}
	if (req->head.content_length > (int64_t)srv->conf.body_max) {
		int64_t	cl = req->head.content_length;

		conn_error(c, 413, "request body too large");
		/* Read and drop the body (bounded) so that the client, still
		 * sending, gets the answer instead of a reset. */
		if (cl <= (int64_t)DISCARD_MAX) {
			c->state = CS_DISCARD;
			c->discard_left = (size_t)cl;
			bufferevent_enable(c->bev, EV_READ);
			return 0;	/* drop what is already buffered, too */
		}
		return -1;
	}
	if (req->head.content_length > 0) {
		body_reserve(req, (size_t)req->head.content_length);
		c->state = CS_BODY;
	} else {
		dispatch(c);
		return -1;	/* stop processing: with the handler now */
	}
	if (req->head.expect_continue && req->head.minor >= 1)
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 0;
}

/* Parse a chunk-size line; -1 when malformed. */
static int64_t
chunk_size(const char *line)
{
	int64_t	 v = 0;
	int	 d, any = 0;

	for (; *line != '\0' && *line != ';' && *line != ' ' &&
	    *line != '\t'; line++) {
		if (*line >= '0' && *line <= '9')
			d = *line - '0';
		else if (*line >= 'a' && *line <= 'f')
			d = *line - 'a' + 10;
		else if (*line >= 'A' && *line <= 'F')
			d = *line - 'A' + 10;
		else
			return -1;
		if (v > (INT64_MAX >> 4))
			return -1;
		v = v * 16 + d;
		any = 1;
	}
	return any ? v : -1;
}

static void
conn_process(struct http_conn *c)
{
	struct http_server	*srv = c->srv;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct http_request	*req;
	struct timeval		 tv;
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
				return;
			if (!evtimer_pending(c->deadline, NULL)) {
				tv = ms_tv(srv->conf.read_timeout_ms);
				evtimer_add(c->deadline, &tv);
			}
			lim = srv->conf.header_max + 1;
			p = evbuffer_pullup(in, (ev_ssize_t)(avail < lim ?
			    avail : lim));
			headlen = http_head_length((const char *)p, avail < lim ?
			    avail : lim, srv->conf.header_max);
			if (headlen == 0)
				return;
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
				return;
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
				if (avail > CHUNK_LINE_MAX)
					conn_error(c, 400, "malformed chunk");
				return;
			}
			if (c->state == CS_CHUNK_CRLF) {
				c->state = n == 0 ? CS_CHUNK_SIZE : CS_HEAD;
				free(line);
				if (c->state == CS_HEAD) {
					conn_error(c, 400, "malformed chunk");
					return;
				}
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
			sz = chunk_size(line);
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
			body_reserve(req, req->body_len + (size_t)sz);
			req->chunk_left = sz;
			c->state = CS_CHUNK_DATA;
			break;
		case CS_CHUNK_DATA:
			n = (size_t)req->chunk_left;
			if (avail < n)
				n = avail;
			if (n == 0)
				return;
			evbuffer_remove(in, req->body + req->body_len, n);
			req->body_len += n;
			req->chunk_left -= (int64_t)n;
			if (req->chunk_left == 0)
				c->state = CS_CHUNK_CRLF;
			break;
		case CS_DISCARD:
			n = avail < c->discard_left ? avail : c->discard_left;
			evbuffer_drain(in, n);
			c->discard_left -= n;
			if (c->discard_left == 0) {
				c->state = CS_CLOSING;
				bufferevent_disable(c->bev, EV_READ);
				if (evbuffer_get_length(
				    bufferevent_get_output(c->bev)) == 0)
					conn_free(c);
			}
			return;
		case CS_HANDLER:
		case CS_CLOSING:
			return;
		}
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*c = arg;

	if (c->state == CS_CLOSING)
		conn_free(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/*
		 * A clean end of input.  With a request at the handler, or an
		 * answer still being written, the client may be half-closed
		 * and waiting for it: finish, then close.
		 */
		if (c->state == CS_HANDLER) {
			c->peer_eof = 1;
			c->keepalive = 0;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
			/* Finish writing the answer, then close. */
			c->state = CS_CLOSING;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->state != CS_HEAD && c->state != CS_DISCARD &&
	    c->state != CS_CLOSING && c->state != CS_HANDLER) {
		conn_error(c, 408, "request timed out");
		return;
	}
	conn_free(c);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;

	if (c->state == CS_HANDLER || c->state == CS_CLOSING)
		return;
	conn_error(c, 408, "request timed out");
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
	TAILQ_REMOVE(&srv->conns, c, entry);
	event_free(c->deadline);
	event_free(c->resume);
	bufferevent_free(c->bev);
	free(c);
	srv->nconns--;
	if (srv->paused && srv->listener != NULL &&
	    srv->nconns < srv->conf.max_connections) {
		evconnlistener_enable(srv->listener);
		srv->paused = 0;
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct http_server	*srv = arg;
	struct http_conn	*c;
	struct timeval		 rtv, wtv;
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
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	rtv = ms_tv(srv->conf.idle_timeout_ms);
	wtv = ms_tv(srv->conf.write_timeout_ms);
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	/* Stop reading once a request's worth of bytes waits unprocessed. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, srv->conf.header_max +
	    srv->conf.body_max + 65536);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (srv->nconns >= srv->conf.max_connections) {
		evconnlistener_disable(l);
		srv->paused = 1;
	}
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
	if (srv->conf.max_connections <= 0)
		srv->conf.max_connections = 1024;
	srv->handler = handler;
	srv->errbody = errbody;
	srv->arg = arg;
	TAILQ_INIT(&srv->conns);
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
	if ((srv->resume_accept = evtimer_new(base, resume_accept_cb, srv)) ==
	    NULL) {
		fprintf(stderr, "becknd: cannot allocate an event\n");
		abort();
	}
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
	if (srv->conf.max_connections <= 0)
		srv->conf.max_connections = 1024;
	if (srv->listener == NULL || srv->closing)
		return;
	if (srv->paused && srv->nconns < srv->conf.max_connections) {
		evconnlistener_enable(srv->listener);
		srv->paused = 0;
	} else if (!srv->paused && srv->nconns >= srv->conf.max_connections) {
		evconnlistener_disable(srv->listener);
		srv->paused = 1;
	}
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

void
http_server_close_listener(struct http_server *srv)
{
	struct http_conn	*c, *next;

	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	srv->closing = 1;
	evtimer_del(srv->resume_accept);
	/* Idle keep-alive connections have nothing to finish. */
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CS_HEAD && evbuffer_get_length(
		    bufferevent_get_input(c->bev)) == 0 &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_free(c);
	}
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

/* Common end of a request: account, free, and resume the connection. */
static void
finish(struct http_request *req, int answered)
{
	struct http_conn	*c = req->conn;
	struct timeval		 rtv, wtv;

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
	if (!c->keepalive || c->srv->closing) {
		c->state = CS_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	rtv = ms_tv(c->srv->conf.idle_timeout_ms);
	wtv = ms_tv(c->srv->conf.write_timeout_ms);
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	c->state = CS_HEAD;
	bufferevent_enable(c->bev, EV_READ);
	/* A pipelined request may already be buffered: look later, not
	 * from inside the handler's reply. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, 0, 0);
}

void
http_reply(struct http_request *req, int status, const char *ctype,
    const char *const *headers, const void *body, size_t len)
{
	if (req->conn != NULL)
		write_response(req->conn, status, ctype, headers, body, len,
		    NULL, !req->conn->keepalive || req->conn->srv->closing);
	finish(req, 1);
}

void
http_reply_buffer(struct http_request *req, int status, const char *ctype,
    const char *const *headers, struct evbuffer *body)
{
	if (req->conn != NULL)
		write_response(req->conn, status, ctype, headers, NULL, 0,
		    body, !req->conn->keepalive || req->conn->srv->closing);
	else
		evbuffer_drain(body, evbuffer_get_length(body));
	finish(req, 1);
}

void
http_request_drop(struct http_request *req)
{
	finish(req, 0);
}

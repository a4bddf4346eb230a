/*
 * sink.c - the webhook sink of `make bench-load` (contrib/bench/load).
 *
 * A minimal HTTP/1.1 server on 127.0.0.1, one thread, epoll, keep-alive
 * and pipelining: every request is answered 200 with a Beckn ACK at once.
 * It counts the deliveries by their Idempotency-Key (a hash set of the
 * keys seen), so the load script can check that every ACKed message
 * reached the webhook exactly once:
 *
 *   GET  /_stats   {"requests":..,"deliveries":..,"distinct":..,
 *                   "duplicates":..,"no_key":..,"telemetry":..,
 *                   "connections":..,"bad":..,"body_bytes":..}
 *   POST /_reset   forgets every key and zeroes the counters
 *   POST /telemetry...   counted as telemetry, not as a delivery
 *   anything else  a delivery: counted by its Idempotency-Key
 *
 *   sink [-p PORT]   prints "port N" on stdout once it listens
 *
 * It stops on SIGTERM or SIGINT.  Written to cost a few microseconds per
 * request, so that it is never the bottleneck of the benchmark (the load
 * script reports its CPU).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HEAD_MAX	(64 * 1024)
#define BODY_MAX	(64 * 1024 * 1024)
#define KEY_MAX		256

static const char ack_reply[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 36\r\n"
    "\r\n"
    "{\"message\":{\"ack\":{\"status\":\"ACK\"}}}";

struct conn {
	int	 fd;
	char	*in;
	size_t	 inlen, incap;
	char	*out;
	size_t	 outlen, outcap, outoff;
	int	 continued;	/* "100 Continue" sent for this request */
	int	 closing;	/* close once out is written */
	int	 want_out;	/* EPOLLOUT registered */
};

static struct {
	unsigned long long requests, deliveries, distinct, duplicates;
	unsigned long long no_key, telemetry, connections, bad, body_bytes;
} st;

/* Open-addressing set of Idempotency-Keys. */
static char	**keys;
static size_t	  keycap, keyn;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		perror("sink: realloc");
		exit(1);
	}
	return p;
}

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (n-- > 0) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Adds key; returns 1 when it is new, 0 when it was seen before. */
static int
set_add(const char *k, size_t n)
{
	size_t	 i, j;
	char	**old;
	size_t	 oldcap;

	if (keyn * 2 >= keycap) {
		old = keys;
		oldcap = keycap;
		keycap = keycap ? keycap * 2 : 65536;
		keys = calloc(keycap, sizeof(*keys));
		if (keys == NULL) {
			perror("sink: calloc");
			exit(1);
		}
		for (i = 0; i < oldcap; i++) {
			if (old[i] == NULL)
				continue;
			j = hash(old[i], strlen(old[i])) & (keycap - 1);
			while (keys[j] != NULL)
				j = (j + 1) & (keycap - 1);
			keys[j] = old[i];
		}
		free(old);
	}
	i = hash(k, n) & (keycap - 1);
	while (keys[i] != NULL) {
		if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
			return 0;
		i = (i + 1) & (keycap - 1);
	}
	keys[i] = xrealloc(NULL, n + 1);
	memcpy(keys[i], k, n);
	keys[i][n] = '\0';
	keyn++;
	return 1;
}

static void
set_clear(void)
{
	size_t	 i;

	for (i = 0; i < keycap; i++)
		free(keys[i]);
	free(keys);
	keys = NULL;
	keycap = keyn = 0;
}

static void
out_add(struct conn *c, const char *s, size_t n)
{
	if (c->outlen + n > c->outcap) {
		c->outcap = (c->outlen + n) * 2;
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
reply_json(struct conn *c, const char *body)
{
	char	 head[160];
	int	 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    strlen(body));
	out_add(c, head, (size_t)n);
	out_add(c, body, strlen(body));
}

static void
reply_bad(struct conn *c, const char *why)
{
	char	 buf[256];
	int	 n;

	st.bad++;
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", strlen(why), why);
	out_add(c, buf, (size_t)n);
	c->closing = 1;
}

/* Header value of name (case-insensitive) in head [p, end). */
static const char *
header(const char *p, const char *end, const char *name, size_t *vlen)
{
	size_t		 nl = strlen(name);
	const char	*eol, *v;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen > 0 && (v[*vlen - 1] == '\r' ||
			    v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
				(*vlen)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

static void
stats(struct conn *c)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), "{\"requests\":%llu,\"deliveries\":%llu,"
	    "\"distinct\":%llu,\"duplicates\":%llu,\"no_key\":%llu,"
	    "\"telemetry\":%llu,\"connections\":%llu,\"bad\":%llu,"
	    "\"body_bytes\":%llu}", st.requests, st.deliveries, st.distinct,
	    st.duplicates, st.no_key, st.telemetry, st.connections, st.bad,
	    st.body_bytes);
	reply_json(c, buf);
}

/*
 * Handles the complete requests at the start of c->in.  Returns 0, or
 * -1 when the connection is to be closed now.
 */
static int
serve(struct conn *c)
{
	const char	*h, *eoh, *line, *sp, *v;
	size_t		 hlen, vlen, blen, used = 0;
	char		 num[32];

	for (;;) {
		h = c->in + used;
		if (c->inlen - used < 4)
			break;
		eoh = memmem(h, c->inlen - used, "\r\n\r\n", 4);
		if (eoh == NULL) {
			if (c->inlen - used > HEAD_MAX) {
				reply_bad(c, "header too long");
				return 0;
			}
			break;
		}
		hlen = (size_t)(eoh - h) + 4;
		line = memchr(h, '\n', hlen);
		blen = 0;
		if ((v = header(line + 1, eoh + 2, "transfer-encoding",
		    &vlen)) != NULL) {
			reply_bad(c, "chunked bodies are not supported");
			return 0;
		}
		if ((v = header(line + 1, eoh + 2, "content-length",
		    &vlen)) != NULL) {
			if (vlen == 0 || vlen >= sizeof(num)) {
				reply_bad(c, "bad Content-Length");
				return 0;
			}
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			blen = strtoull(num, NULL, 10);
			if (blen > BODY_MAX) {
				reply_bad(c, "body too large");
				return 0;
			}
		}
		if (c->inlen - used < hlen + blen) {
			if (!c->continued && header(line + 1, eoh + 2,
			    "expect", &vlen) != NULL) {
				out_add(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				c->continued = 1;
			}
			break;
		}
		c->continued = 0;
		sp = memchr(h, ' ', (size_t)(line - h));
		if (sp == NULL) {
			reply_bad(c, "bad request line");
			return 0;
		}
		sp++;
		if ((v = header(line + 1, eoh + 2, "connection", &vlen))
		    != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0)
			c->closing = 1;
		if (strncmp(sp, "/_stats ", 8) == 0)
			stats(c);
		else if (strncmp(sp, "/_reset ", 8) == 0) {
			set_clear();
			memset(&st, 0, sizeof(st));
			reply_json(c, "{\"reset\":true}");
		} else {
			st.requests++;
			st.body_bytes += blen;
			if (strncmp(sp, "/telemetry", 10) == 0)
				st.telemetry++;
			else if ((v = header(line + 1, eoh + 2,
			    "idempotency-key", &vlen)) != NULL && vlen > 0 &&
			    vlen < KEY_MAX) {
				st.deliveries++;
				if (set_add(v, vlen))
					st.distinct++;
				else
					st.duplicates++;
			} else {
				st.deliveries++;
				st.no_key++;
			}
			out_add(c, ack_reply, sizeof(ack_reply) - 1);
		}
		used += hlen + blen;
		if (c->closing)
			break;
	}
	if (used > 0) {
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	return 0;
}

/* Writes what it can; 0 when all is out, 1 when more is left, -1 error. */
static int
flush_out(struct conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

static void
conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
conn_event(int ep, struct conn *c, uint32_t ev)
{
	struct epoll_event	 e;
	ssize_t			 n;
	int			 r;

	if (ev & EPOLLIN) {
		for (;;) {
			if (c->incap - c->inlen < 16384) {
				c->incap = c->incap ? c->incap * 2 : 32768;
				c->in = xrealloc(c->in, c->incap);
			}
			n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen,
			    0);
			if (n > 0) {
				c->inlen += (size_t)n;
				if (c->inlen < c->incap)
					break;
				continue;
			}
			if (n == 0) {
				conn_close(ep, c);
				return;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(ep, c);
			return;
		}
		serve(c);
	} else if (ev & (EPOLLHUP | EPOLLERR)) {
		conn_close(ep, c);
		return;
	}
	r = flush_out(c);
	if (r < 0 || (r == 0 && c->closing)) {
		conn_close(ep, c);
		return;
	}
	if ((r == 1) != c->want_out) {
		c->want_out = r == 1;
		e.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0);
		e.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sa;
	struct epoll_event	 e, evs[256];
	socklen_t		 sl = sizeof(sa);
	struct sigaction	 act;
	int			 lfd, ep, fd, one = 1, port = 0, n, i;
	struct conn		*c;

	if (argc == 3 && strcmp(argv[1], "-p") == 0)
		port = atoi(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: sink [-p PORT]\n");
		return 2;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0) {
		perror("sink: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("sink: bind");
		return 1;
	}
	if ((ep = epoll_create1(0)) < 0) {
		perror("sink: epoll");
		return 1;
	}
	e.events = EPOLLIN;
	e.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);

	while (!stop) {
		n = epoll_wait(ep, evs, 256, 500);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("sink: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				conn_event(ep, evs[i].data.ptr, evs[i].events);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL,
			    SOCK_NONBLOCK)) >= 0) {
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				st.connections++;
				e.events = EPOLLIN;
				e.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
			}
		}
	}
	set_clear();
	return 0;
}

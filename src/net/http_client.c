/*
 * http_client.c - libcurl multi_socket driven by libevent.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "net/http_client.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

enum req_state { RS_QUEUED, RS_RUNNING, RS_FAILED };

struct http_client_req {
	TAILQ_ENTRY(http_client_req) entry;
	struct http_client	*cl;
	enum req_state		 state;
	CURL			*easy;
	struct curl_slist	*headers;
	char			*url;
	const void		*body;
	size_t			 len;
	int64_t			 timeout_ms;
	char			*resp;
	size_t			 resp_len;
	size_t			 resp_cap;
	int			 too_large;
	int			 denied;	/* connect refused by deny */
	enum http_client_error	 fail;		/* RS_FAILED: why */
	struct event		*defer;		/* RS_FAILED: deferred callback */
	http_client_cb		 cb;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(reqq, http_client_req);

struct http_client {
	struct event_base	*base;
	struct http_client_conf	 conf;
	char			*ca_file;
	struct sockaddr_storage	*deny;
	size_t			 ndeny;
	CURLM			*multi;
	struct event		*timer;
	struct reqq		 running;
	struct reqq		 queued;
	struct reqq		 failed;
	int			 nrunning;
	size_t			 nqueued;
};

/* Per-socket state: the event watching it. */
struct sock {
	struct event		*ev;
	struct http_client	*cl;
};

static pthread_once_t		 curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void	check_done(struct http_client *);
static void	start_queued(struct http_client *);

const char *
http_client_error_name(enum http_client_error e)
{
	switch (e) {
	case HTTPC_OK: return "ok";
	case HTTPC_CONNECT: return "unreachable";
	case HTTPC_TIMEOUT: return "timed out";
	case HTTPC_TOO_LARGE: return "response too large";
	case HTTPC_QUEUE_FULL: return "too many pending requests";
	case HTTPC_OTHER: return "failed";
	case HTTPC_DENIED: return "refused: an address of this process";
	}
	return "failed";
}

static void
req_free(struct http_client_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	if (r->defer != NULL)
		event_free(r->defer);
	free(r->url);
	free(r->resp);
	free(r);
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_client_req	*r = arg;
	size_t			 n = size * nmemb;

	if (r->resp_len + n > r->cl->conf.response_max) {
		r->too_large = 1;
		return 0;	/* aborts the transfer */
	}
	if (r->resp_len + n + 1 > r->resp_cap) {
		r->resp_cap = (r->resp_len + n + 1) * 2;
		r->resp = xrealloc(r->resp, r->resp_cap);
	}
	memcpy(r->resp + r->resp_len, data, n);
	r->resp_len += n;
	return n;
}

static void
event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client	*cl = arg;
	int			 action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(cl->multi, fd, action, &running);
	check_done(cl);
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client	*cl = arg;
	int			 running;

	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(cl);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client	*cl = userp;
	struct sock		*sk = socketp;
	short			 kind;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
			curl_multi_assign(cl->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (sk == NULL) {
		sk = xcalloc(1, sizeof(*sk));
		sk->cl = cl;
		curl_multi_assign(cl->multi, s, sk);
	} else
		event_free(sk->ev);
	sk->ev = event_new(cl->base, s, kind, event_cb, cl);
	if (sk->ev == NULL)
		return -1;
	event_add(sk->ev, NULL);
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client	*cl = userp;
	struct timeval		 tv;

	if (timeout_ms < 0) {
		evtimer_del(cl->timer);
		return 0;
	}
	/* 0 means "now": still go through the loop, never recurse. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(cl->timer, &tv);
	return 0;
}

static enum http_client_error
classify(CURLcode rc, const struct http_client_req *r)
{
	if (r->denied)
		return HTTPC_DENIED;
	switch (rc) {
	case CURLE_OK:
		return HTTPC_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPC_TIMEOUT;
	case CURLE_WRITE_ERROR:
		return r->too_large ? HTTPC_TOO_LARGE : HTTPC_OTHER;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTPC_TOO_LARGE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return HTTPC_CONNECT;
	default:
		return HTTPC_OTHER;
	}
}

static void
check_done(struct http_client *cl)
{
	struct http_client_response	 resp;
	struct http_client_req		*r;
	CURLMsg				*msg;
	int				 left;
	long				 status = 0;

	while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r);
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		memset(&resp, 0, sizeof(resp));
		resp.error = classify(msg->data.result, r);
		resp.status = resp.error == HTTPC_OK ? status : 0;
		resp.body = r->resp != NULL ? r->resp : "";
		if (r->resp != NULL)
			r->resp[r->resp_len] = '\0';
		resp.len = r->resp_len;
		resp.errstr = resp.error == HTTPC_OK ? NULL :
		    (r->errbuf[0] != '\0' ? r->errbuf :
		    curl_easy_strerror(msg->data.result));
		if (resp.error == HTTPC_TOO_LARGE)
			resp.errstr = "response too large";
		if (resp.error == HTTPC_DENIED)
			resp.errstr = "the URL leads to this process's own "
			    "listener";
		curl_multi_remove_handle(cl->multi, r->easy);
		TAILQ_REMOVE(&cl->running, r, entry);
		cl->nrunning--;
		r->cb(&resp, r->arg);
		req_free(r);
	}
	start_queued(cl);
}

static int
same_endpoint(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return 0;
}

/* libcurl asks us for each socket: refuse the denied addresses. */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_client_req	*r = arg;
	size_t			 i;

	for (i = 0; i < r->cl->ndeny; i++)
		if (same_endpoint(&a->addr, &r->cl->deny[i])) {
			r->denied = 1;
			return CURL_SOCKET_BAD;
		}
	return socket(a->family, a->socktype, a->protocol);
}

static int
start(struct http_client_req *r)
{
	struct http_client	*cl = r->cl;
	CURL			*e;

	if ((e = curl_easy_init()) == NULL)
		return -1;
	r->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "becknd/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)cl->conf.response_max);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cl->conf.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cl->conf.tls_verify ? 1L :
	    0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cl->conf.tls_verify ? 2L :
	    0L);
	if (cl->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, cl->ca_file);
	if (cl->ndeny > 0) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
	}
	if (curl_multi_add_handle(cl->multi, e) != CURLM_OK)
		return -1;
	r->state = RS_RUNNING;
	TAILQ_INSERT_TAIL(&cl->running, r, entry);
	cl->nrunning++;
	return 0;
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client_req		*r = arg;
	struct http_client_response	 resp;

	memset(&resp, 0, sizeof(resp));
	resp.error = r->fail;
	resp.body = "";
	resp.errstr = http_client_error_name(r->fail);
	TAILQ_REMOVE(&r->cl->failed, r, entry);
	r->cb(&resp, r->arg);
	req_free(r);
}

/* Fail a request from the loop, never from inside http_client_post(). */
static void
fail_later(struct http_client_req *r, enum http_client_error e)
{
	r->state = RS_FAILED;
	r->fail = e;
	TAILQ_INSERT_TAIL(&r->cl->failed, r, entry);
	r->defer = xevent_new(r->cl->base, -1, 0, defer_cb, r);
	event_active(r->defer, 0, 0);
}

static void
start_queued(struct http_client *cl)
{
	struct http_client_req	*r;

	while (cl->nrunning < cl->conf.max_inflight &&
	    (r = TAILQ_FIRST(&cl->queued)) != NULL) {
		TAILQ_REMOVE(&cl->queued, r, entry);
		cl->nqueued--;
		if (start(r) == -1)
			fail_later(r, HTTPC_OTHER);
	}
}

/* Copy conf with its defaults filled in; the CA path is our own copy. */
static void
set_conf(struct http_client *cl, const struct http_client_conf *conf)
{
	cl->conf = *conf;
	if (cl->conf.max_inflight <= 0)
		cl->conf.max_inflight = 64;
	if (cl->conf.response_max == 0)
		cl->conf.response_max = 4u << 20;
	if (cl->conf.timeout_ms <= 0)
		cl->conf.timeout_ms = 10000;
	if (cl->conf.connect_timeout_ms <= 0)
		cl->conf.connect_timeout_ms = cl->conf.timeout_ms;
	free(cl->ca_file);
	cl->ca_file = conf->ca_file != NULL ? xstrdup(conf->ca_file) : NULL;
	cl->conf.ca_file = NULL;
	free(cl->deny);
	cl->deny = NULL;
	cl->ndeny = conf->ndeny;
	if (conf->ndeny > 0) {
		cl->deny = xreallocarray(NULL, conf->ndeny, sizeof(*cl->deny));
		memcpy(cl->deny, conf->deny, conf->ndeny * sizeof(*cl->deny));
	}
	cl->conf.deny = NULL;
}

void
http_client_reconfigure(struct http_client *cl,
    const struct http_client_conf *conf)
{
	set_conf(cl, conf);
	curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS,
	    (long)cl->conf.max_inflight);
	start_queued(cl);
}

struct http_client *
http_client_new(struct event_base *base, const struct http_client_conf *conf)
{
	struct http_client	*cl;

	pthread_once(&curl_once, curl_init_once);
	cl = xcalloc(1, sizeof(*cl));
	cl->base = base;
	set_conf(cl, conf);
	TAILQ_INIT(&cl->running);
	TAILQ_INIT(&cl->queued);
	TAILQ_INIT(&cl->failed);
	if ((cl->multi = curl_multi_init()) == NULL ||
	    (cl->timer = evtimer_new(base, timer_event_cb, cl)) == NULL) {
		fprintf(stderr, "becknd: cannot initialise libcurl\n");
		abort();
	}
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	/* Keep connections to peers and webhooks alive between messages. */
	curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS,
	    (long)cl->conf.max_inflight);
	return cl;
}

void
http_client_free(struct http_client *cl)
{
	struct http_client_req	*r;

	if (cl == NULL)
		return;
	while ((r = TAILQ_FIRST(&cl->running)) != NULL)
		http_client_cancel(r);
	while ((r = TAILQ_FIRST(&cl->queued)) != NULL)
		http_client_cancel(r);
	while ((r = TAILQ_FIRST(&cl->failed)) != NULL)
		http_client_cancel(r);
	curl_multi_cleanup(cl->multi);
	event_free(cl->timer);
	free(cl->ca_file);
	free(cl->deny);
	free(cl);
}

struct http_client_req *
http_client_post(struct http_client *cl, const char *url,
    const char *const *headers, const void *body, size_t len,
    int64_t timeout_ms, http_client_cb cb, void *arg)
{
	struct http_client_req	*r;
	size_t			 i;

	r = xcalloc(1, sizeof(*r));
	r->cl = cl;
	r->url = xstrdup(url);
	r->body = body;
	r->len = len;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : cl->conf.timeout_ms;
	r->cb = cb;
	r->arg = arg;
	/* No "Expect: 100-continue" round trip before a body. */
	r->headers = curl_slist_append(NULL, "Expect:");
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		r->headers = curl_slist_append(r->headers, headers[i]);
	if (r->headers == NULL) {
		fprintf(stderr, "becknd: out of memory\n");
		abort();
	}
	if (cl->nrunning < cl->conf.max_inflight) {
		if (start(r) == -1)
			fail_later(r, HTTPC_OTHER);
	} else if (cl->nqueued < cl->conf.max_queue) {
		r->state = RS_QUEUED;
		TAILQ_INSERT_TAIL(&cl->queued, r, entry);
		cl->nqueued++;
	} else
		fail_later(r, HTTPC_QUEUE_FULL);
	return r;
}

void
http_client_cancel(struct http_client_req *r)
{
	struct http_client	*cl = r->cl;

	switch (r->state) {
	case RS_RUNNING:
		curl_multi_remove_handle(cl->multi, r->easy);
		TAILQ_REMOVE(&cl->running, r, entry);
		cl->nrunning--;
		break;
	case RS_QUEUED:
		TAILQ_REMOVE(&cl->queued, r, entry);
		cl->nqueued--;
		break;
	case RS_FAILED:
		TAILQ_REMOVE(&cl->failed, r, entry);
		break;
	}
	req_free(r);
}

size_t
http_client_pending(const struct http_client *cl)
{
	return (size_t)cl->nrunning + cl->nqueued;
}

/*
 * registry_http.c - libcurl multi_socket driven by libevent.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and
 * when to wake it up (CURLMOPT_TIMERFUNCTION); libevent calls
 * curl_multi_socket_action() back on activity or timeout; completed
 * transfers are collected with curl_multi_info_read().  DNS is
 * asynchronous with the threaded resolver of Debian's libcurl.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "registry/registry_http.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum hreq_state {
	HREQ_QUEUED,
	HREQ_RUNNING,
	HREQ_FAILED,	/* failed before starting; callback deferred */
};

struct registry_http_req {
	struct registry_http		*h;
	enum hreq_state			 state;
	CURL				*easy;
	struct curl_slist		*hdrs;
	char				*url;
	char				*body;
	size_t				 bodylen;
	char				*resp;
	size_t				 resplen;
	size_t				 respcap;
	int				 too_large;
	const char			*fail;
	struct event			 fail_ev;
	char				 errbuf[CURL_ERROR_SIZE];
	registry_http_cb		 cb;
	void				*arg;
	TAILQ_ENTRY(registry_http_req)	 entry;
};

TAILQ_HEAD(hreq_list, registry_http_req);

struct hsock {
	struct registry_http	*h;
	curl_socket_t		 fd;
	struct event		 ev;
	TAILQ_ENTRY(hsock)	 entry;
};

TAILQ_HEAD(hsock_list, hsock);

struct registry_http {
	struct event_base	*base;
	CURLM			*multi;
	struct event		 timer;
	struct registry_http_conf conf;
	char			*ca_file;
	struct hreq_list	 running;
	struct hreq_list	 queued;
	struct hreq_list	 failed;
	struct hsock_list	 socks;
	int			 nrunning;
	size_t			 nqueued;
};

static void	check_done(struct registry_http *);
static void	start_queued(struct registry_http *);

static void
hreq_free(struct registry_http_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->url);
	free(r->body);
	free(r->resp);
	free(r);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct registry_http_req	*r = arg;
	size_t				 n = size * nmemb;

	if (n > r->h->conf.body_max - r->resplen) {
		r->too_large = 1;
		return 0;		/* CURLE_WRITE_ERROR */
	}
	if (r->resplen + n + 1 > r->respcap) {
		r->respcap = r->respcap == 0 ? 4096 : r->respcap;
		while (r->resplen + n + 1 > r->respcap)
			r->respcap *= 2;
		r->resp = xrealloc(r->resp, r->respcap);
	}
	memcpy(r->resp + r->resplen, ptr, n);
	r->resplen += n;
	r->resp[r->resplen] = '\0';
	return n;
}

static void
sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct registry_http	*h = arg;
	int			 flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
}

static void
timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct registry_http	*h = arg;
	int			 running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or forget a socket. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct registry_http	*h = arg;
	struct hsock		*hs = sockp;
	short			 ev = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_del(&hs->ev);
			TAILQ_REMOVE(&h->socks, hs, entry);
			free(hs);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		hs->h = h;
		hs->fd = fd;
		TAILQ_INSERT_TAIL(&h->socks, hs, entry);
		curl_multi_assign(h->multi, fd, hs);
	} else
		event_del(&hs->ev);
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (event_assign(&hs->ev, h->base, fd, ev, sock_event, h) == -1 ||
	    event_add(&hs->ev, NULL) == -1) {
		log_error("registry: cannot watch a socket");
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one non-repeating timer. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct registry_http	*h = arg;
	struct timeval		 tv;

	if (timeout_ms < 0) {
		evtimer_del(&h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(&h->timer, &tv) == -1 ? -1 : 0;
}

struct registry_http *
registry_http_new(struct event_base *base, const struct registry_http_conf *c)
{
	struct registry_http	*h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->conf = *c;
	if (h->conf.max_inflight < 1)
		h->conf.max_inflight = 1;
	if (h->conf.body_max == 0)
		h->conf.body_max = 4 << 20;
	if (c->ca_file != NULL)
		h->ca_file = xstrdup(c->ca_file);
	h->conf.ca_file = h->ca_file;
	TAILQ_INIT(&h->running);
	TAILQ_INIT(&h->queued);
	TAILQ_INIT(&h->failed);
	TAILQ_INIT(&h->socks);
	evtimer_assign(&h->timer, base, timer_event, h);
	if ((h->multi = curl_multi_init()) == NULL) {
		free(h->ca_file);
		free(h);
		curl_global_cleanup();
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

void
registry_http_free(struct registry_http *h)
{
	struct registry_http_req	*r;
	struct hsock			*hs;

	if (h == NULL)
		return;
	while ((r = TAILQ_FIRST(&h->running)) != NULL) {
		TAILQ_REMOVE(&h->running, r, entry);
		curl_multi_remove_handle(h->multi, r->easy);
		hreq_free(r);
	}
	while ((r = TAILQ_FIRST(&h->queued)) != NULL) {
		TAILQ_REMOVE(&h->queued, r, entry);
		hreq_free(r);
	}
	while ((r = TAILQ_FIRST(&h->failed)) != NULL) {
		TAILQ_REMOVE(&h->failed, r, entry);
		event_del(&r->fail_ev);
		hreq_free(r);
	}
	curl_multi_cleanup(h->multi);
	while ((hs = TAILQ_FIRST(&h->socks)) != NULL) {
		event_del(&hs->ev);
		TAILQ_REMOVE(&h->socks, hs, entry);
		free(hs);
	}
	evtimer_del(&h->timer);
	free(h->ca_file);
	free(h);
	curl_global_cleanup();
}

static void
fail_event(evutil_socket_t fd, short what, void *arg)
{
	struct registry_http_req	*r = arg;
	struct registry_http_response	 resp;

	TAILQ_REMOVE(&r->h->failed, r, entry);
	memset(&resp, 0, sizeof(resp));
	resp.body = "";
	resp.error = r->fail;
	r->cb(&resp, r->arg);
	hreq_free(r);
}

/* Fail r later from the loop. */
static void
defer_fail(struct registry_http_req *r, const char *why)
{
	struct timeval	 tv = { 0, 0 };

	r->state = HREQ_FAILED;
	r->fail = why;
	TAILQ_INSERT_TAIL(&r->h->failed, r, entry);
	evtimer_assign(&r->fail_ev, r->h->base, fail_event, r);
	evtimer_add(&r->fail_ev, &tv);
}

/* Build the easy handle and hand it to the multi handle; 0 or -1. */
static int
start(struct registry_http_req *r)
{
	struct registry_http	*h = r->h;
	CURL			*e;
	struct curl_slist	*l;
	int			 rc = -1;

	if ((e = r->easy = curl_easy_init()) == NULL)
		goto done;
	if ((l = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL)
		goto done;
	r->hdrs = l;
	if ((l = curl_slist_append(r->hdrs, "Accept: application/json")) ==
	    NULL)
		goto done;
	r->hdrs = l;
	if (curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)r->bodylen) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)h->conf.timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)h->conf.connect_timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)h->conf.body_max) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT,
	    PACKAGE_NAME "/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
	    h->conf.tls_verify ? 1L : 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST,
	    h->conf.tls_verify ? 2L : 0L) != CURLE_OK)
		goto done;
	if (h->conf.ca_file != NULL &&
	    curl_easy_setopt(e, CURLOPT_CAINFO, h->conf.ca_file) != CURLE_OK)
		goto done;
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		goto done;
	r->state = HREQ_RUNNING;
	TAILQ_INSERT_TAIL(&h->running, r, entry);
	h->nrunning++;
	rc = 0;
done:
	return rc;
}

static void
start_queued(struct registry_http *h)
{
	struct registry_http_req	*r;

	while (h->nrunning < h->conf.max_inflight &&
	    (r = TAILQ_FIRST(&h->queued)) != NULL) {
		TAILQ_REMOVE(&h->queued, r, entry);
		h->nqueued--;
		if (start(r) == -1)
			defer_fail(r, "cannot start the HTTP transfer");
	}
}

struct registry_http_req *
registry_http_post(struct registry_http *h, const char *url, const char *body,
    size_t len, registry_http_cb cb, void *arg)
{
	struct registry_http_req	*r;

	r = xcalloc(1, sizeof(*r));
	r->h = h;
	r->url = xstrdup(url);
	r->body = xmemdup(body, len + 1);
	r->body[len] = '\0';
	r->bodylen = len;
	r->cb = cb;
	r->arg = arg;
	if (h->nrunning < h->conf.max_inflight) {
		if (start(r) == -1)
			defer_fail(r, "cannot start the HTTP transfer");
	} else if (h->nqueued < h->conf.max_queue) {
		r->state = HREQ_QUEUED;
		TAILQ_INSERT_TAIL(&h->queued, r, entry);
		h->nqueued++;
	} else
		defer_fail(r, "too many pending requests");
	return r;
}

void
registry_http_cancel(struct registry_http_req *r)
{
	struct registry_http	*h;

	if (r == NULL)
		return;
	h = r->h;
	switch (r->state) {
	case HREQ_QUEUED:
		TAILQ_REMOVE(&h->queued, r, entry);
		h->nqueued--;
		break;
	case HREQ_RUNNING:
		TAILQ_REMOVE(&h->running, r, entry);
		h->nrunning--;
		curl_multi_remove_handle(h->multi, r->easy);
		break;
	case HREQ_FAILED:
		TAILQ_REMOVE(&h->failed, r, entry);
		event_del(&r->fail_ev);
		break;
	}
	hreq_free(r);
	start_queued(h);
}

/* Collect finished transfers and call back. */
static void
check_done(struct registry_http *h)
{
	struct registry_http_response	 resp;
	struct registry_http_req	*r;
	CURLMsg				*m;
	char				*priv;
	char				 err[CURL_ERROR_SIZE + 64];
	int				 left;
	long				 status;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct registry_http_req *)(void *)priv;
		memset(&resp, 0, sizeof(resp));
		if (m->data.result == CURLE_OK) {
			status = 0;
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
			    &status);
			resp.ok = 1;
			resp.status = status;
		} else if (r->too_large ||
		    m->data.result == CURLE_FILESIZE_EXCEEDED) {
			snprintf(err, sizeof(err), "response larger than %zu "
			    "bytes", h->conf.body_max);
			resp.error = err;
		} else {
			snprintf(err, sizeof(err), "%s",
			    r->errbuf[0] != '\0' ? r->errbuf :
			    curl_easy_strerror(m->data.result));
			resp.error = err;
		}
		resp.body = r->resp != NULL ? r->resp : "";
		resp.len = r->resplen;
		/* m is invalid after remove_handle. */
		TAILQ_REMOVE(&h->running, r, entry);
		h->nrunning--;
		curl_multi_remove_handle(h->multi, r->easy);
		start_queued(h);
		r->cb(&resp, r->arg);
		hreq_free(r);
	}
}

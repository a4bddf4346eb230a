/*
 * deliver.c - the webhook delivery queue (see deliver.h).
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "deliver/deliver.h"
#include "net/http_client.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum dl_state {
	DL_PREPARED,	/* place reserved, no body yet */
	DL_SENDING,	/* an attempt is in flight */
	DL_WAITING,	/* retry timer armed */
};

struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	struct deliver		*d;
	enum dl_state		 state;
	char			*participant;
	char			*url;
	char			*body;
	size_t			 len;
	char			*sender_hdr;	/* "X-Beckn-Sender: id" */
	char			*action;
	char			*message_id;
	char			*transaction_id;
	int			 attempts;
	struct event		*retry;
	struct http_client_req	*hreq;
};

struct deliver {
	struct event_base	*base;
	struct http_client	*http;
	struct deliver_conf	 conf;
	struct deliver_stats	*stats;
	TAILQ_HEAD(, delivery)	 q;
	size_t			 n;
};

struct deliver *
deliver_new(struct event_base *base, struct http_client *http,
    const struct deliver_conf *conf, struct deliver_stats *stats)
{
	struct deliver	*d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->http = http;
	d->conf = *conf;
	d->stats = stats;
	TAILQ_INIT(&d->q);
	return d;
}

void
deliver_reconfigure(struct deliver *d, const struct deliver_conf *conf)
{
	d->conf = *conf;
}

static void
delivery_free(struct delivery *dl)
{
	struct deliver	*d = dl->d;

	if (dl->hreq != NULL)
		http_client_cancel(dl->hreq);
	event_free(dl->retry);
	TAILQ_REMOVE(&d->q, dl, entry);
	d->n--;
	free(dl->participant);
	free(dl->url);
	free(dl->body);
	free(dl->sender_hdr);
	free(dl->action);
	free(dl->message_id);
	free(dl->transaction_id);
	free(dl);
}

void
deliver_free(struct deliver *d)
{
	struct delivery	*dl;

	if (d == NULL)
		return;
	while ((dl = TAILQ_FIRST(&d->q)) != NULL) {
		if (dl->state != DL_PREPARED)
			log_warn("delivery: %s %s for %s (message_id %s) not "
			    "delivered at exit", dl->action, dl->url,
			    dl->participant, dl->message_id);
		delivery_free(dl);
	}
	free(d);
}

size_t
deliver_pending(const struct deliver *d)
{
	return d != NULL ? d->n : 0;
}

/* The webhook URL with {action} replaced. */
static char *
webhook_url(const char *tmpl, const char *action)
{
	const char	*at;
	char		*url;

	if ((at = strstr(tmpl, "{action}")) == NULL)
		return xstrdup(tmpl);
	xasprintf(&url, "%.*s%s%s", (int)(at - tmpl), tmpl, action, at + 8);
	return url;
}

static void	attempt(struct delivery *);

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	attempt(arg);
}

static void
schedule_retry(struct delivery *dl, const char *why)
{
	struct deliver	*d = dl->d;
	struct timeval	 tv;
	int64_t		 delay = d->conf.backoff_ms;
	uint32_t	 r = 0;
	int		 i;

	if (d->conf.retries > 0 && dl->attempts > d->conf.retries) {
		log_error("delivery: %s to %s for %s (message_id %s, "
		    "transaction_id %s) dropped after %d attempts: %s",
		    dl->action, dl->url, dl->participant, dl->message_id,
		    dl->transaction_id, dl->attempts, why);
		d->stats->dropped++;
		delivery_free(dl);
		return;
	}
	for (i = 1; i < dl->attempts && delay < d->conf.backoff_max_ms; i++)
		delay *= 2;
	if (delay > d->conf.backoff_max_ms)
		delay = d->conf.backoff_max_ms;
	/* Jitter on the upper half: between delay/2 and delay. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)dl->attempts;
	delay = delay / 2 + (int64_t)(r % (uint32_t)(delay / 2 + 1));
	log_warn("delivery: %s to %s (message_id %s) failed: %s; retry %d "
	    "in %lld ms", dl->action, dl->url, dl->message_id, why,
	    dl->attempts, (long long)delay);
	d->stats->retries++;
	dl->state = DL_WAITING;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	evtimer_add(dl->retry, &tv);
}

static void
done_cb(const struct http_client_response *resp, void *arg)
{
	struct delivery	*dl = arg;
	char		 why[300];

	dl->hreq = NULL;
	if (resp->error != HTTPC_OK) {
		snprintf(why, sizeof(why), "%s (%s)",
		    http_client_error_name(resp->error),
		    resp->errstr != NULL ? resp->errstr : "");
		schedule_retry(dl, why);
		return;
	}
	if (resp->status >= 500 || resp->status == 408 ||
	    resp->status == 429) {
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
		schedule_retry(dl, why);
		return;
	}
	if (resp->status >= 400 || resp->status < 200) {
		/* The app refused it: final. */
		log_warn("delivery: %s for %s (message_id %s, transaction_id "
		    "%s) refused by the app at %s: HTTP %ld", dl->action,
		    dl->participant, dl->message_id, dl->transaction_id,
		    dl->url, resp->status);
		dl->d->stats->refused++;
		delivery_free(dl);
		return;
	}
	log_info("delivery: %s (message_id %s) delivered to %s after %d "
	    "attempt%s (for %s)", dl->action, dl->message_id, dl->url,
	    dl->attempts, dl->attempts == 1 ? "" : "s", dl->participant);
	dl->d->stats->delivered++;
	delivery_free(dl);
}

static void
attempt(struct delivery *dl)
{
	const char	*hdrs[3];

	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = dl->sender_hdr;
	hdrs[2] = NULL;
	dl->attempts++;
	dl->state = DL_SENDING;
	dl->hreq = http_client_post(dl->d->http, dl->url, hdrs, dl->body,
	    dl->len, dl->d->conf.timeout_ms, done_cb, dl);
}

struct delivery *
deliver_prepare(struct deliver *d, const struct deliver_msg *m)
{
	struct delivery	*dl;

	if (d->n >= d->conf.queue_size)
		return NULL;
	dl = xcalloc(1, sizeof(*dl));
	dl->d = d;
	dl->state = DL_PREPARED;
	dl->participant = xstrdup(m->participant);
	dl->url = webhook_url(m->webhook, m->action);
	xasprintf(&dl->sender_hdr, "X-Beckn-Sender: %s", m->sender);
	dl->action = xstrdup(m->action);
	dl->message_id = xstrdup(m->message_id != NULL ? m->message_id : "-");
	dl->transaction_id = xstrdup(m->transaction_id != NULL ?
	    m->transaction_id : "-");
	if ((dl->retry = evtimer_new(d->base, retry_cb, dl)) == NULL) {
		fprintf(stderr, "becknd: cannot allocate an event\n");
		abort();
	}
	TAILQ_INSERT_TAIL(&d->q, dl, entry);
	d->n++;
	return dl;
}

void
deliver_start(struct delivery *dl, char *body, size_t len)
{
	dl->body = body;
	dl->len = len;
	attempt(dl);
}

void
deliver_cancel(struct delivery *dl)
{
	if (dl != NULL)
		delivery_free(dl);
}

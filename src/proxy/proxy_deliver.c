/*
 * proxy_deliver.c - delivery of verified messages to the participant's
 * webhook.
 *
 * The network got its ACK when the message was queued here, so from then
 * on the message is ours to deliver: connection errors, timeouts and 5xx
 * answers are retried with exponential backoff and jitter, for as long as
 * the process runs (delivery.retries 0, the default) or up to that many
 * attempts.  A 4xx answer is the app refusing the message: final, logged
 * with the message ids.  The queue is bounded (delivery.queue_size): when
 * it is full the network listener answers 503 NACK instead of queueing,
 * so nothing is dropped silently.
 *
 * The body is the exact bytes received from the network; it is never
 * re-serialised, and it is sent from the queue's own buffer (no copy).
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "net/http_client.h"
#include "proxy/proxy.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	struct deliver		*d;
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
	struct proxy		*px;
	TAILQ_HEAD(, delivery)	 q;
	size_t			 n;
};

struct deliver *
deliver_new(struct proxy *px)
{
	struct deliver	*d = xcalloc(1, sizeof(*d));

	d->px = px;
	TAILQ_INIT(&d->q);
	return d;
}

static void
delivery_free(struct delivery *dl)
{
	struct deliver	*d = dl->d;

	if (dl->hreq != NULL)
		http_client_cancel(dl->hreq);
	if (dl->retry != NULL)
		event_free(dl->retry);
	TAILQ_REMOVE(&d->q, dl, entry);
	d->n--;
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
		log_warn("delivery: %s %s (message_id %s) not delivered at "
		    "exit", dl->action, dl->url, dl->message_id);
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
	struct conf	*c = dl->d->px->conf;
	struct timeval	 tv;
	int64_t		 delay = c->webhook_backoff_ms;
	uint32_t	 r = 0;
	int		 i;

	if (c->webhook_retries > 0 && dl->attempts > c->webhook_retries) {
		log_error("delivery: %s %s (message_id %s, transaction_id %s) "
		    "dropped after %d attempts: %s", dl->action, dl->url,
		    dl->message_id, dl->transaction_id, dl->attempts, why);
		delivery_free(dl);
		return;
	}
	for (i = 1; i < dl->attempts && delay < c->webhook_backoff_max_ms; i++)
		delay *= 2;
	if (delay > c->webhook_backoff_max_ms)
		delay = c->webhook_backoff_max_ms;
	/* Full jitter on the upper half: between delay/2 and delay. */
	RAND_bytes((unsigned char *)&r, sizeof(r));
	delay = delay / 2 + (int64_t)(r % (uint32_t)(delay / 2 + 1));
	log_warn("delivery: %s to %s (message_id %s) failed: %s; retry %d "
	    "in %lld ms", dl->action, dl->url, dl->message_id, why,
	    dl->attempts, (long long)delay);
	dl->d->px->stats.delivery_retries++;
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
		/* The app refused it: final. The journal will keep these. */
		log_warn("delivery: %s (message_id %s, transaction_id %s) "
		    "refused by the app at %s: HTTP %ld", dl->action,
		    dl->message_id, dl->transaction_id, dl->url, resp->status);
		dl->d->px->stats.delivery_refused++;
		delivery_free(dl);
		return;
	}
	log_info("delivery: %s (message_id %s) delivered to %s after %d "
	    "attempt%s", dl->action, dl->message_id, dl->url, dl->attempts,
	    dl->attempts == 1 ? "" : "s");
	dl->d->px->stats.delivered++;
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
	dl->hreq = http_client_post(dl->d->px->http, dl->url, hdrs, dl->body,
	    dl->len, dl->d->px->conf->webhook_timeout_ms, done_cb, dl);
}

int
deliver_enqueue(struct deliver *d, const struct conf_participant *p,
    const char *action, const char *sender, const char *message_id,
    const char *transaction_id, char *body, size_t len)
{
	struct delivery	*dl;

	if (d->n >= d->px->conf->queue_size)
		return -1;
	dl = xcalloc(1, sizeof(*dl));
	dl->d = d;
	dl->url = webhook_url(p->webhook, action);
	dl->body = body;
	dl->len = len;
	xasprintf(&dl->sender_hdr, "X-Beckn-Sender: %s", sender);
	dl->action = xstrdup(action);
	dl->message_id = xstrdup(message_id != NULL ? message_id : "-");
	dl->transaction_id = xstrdup(transaction_id != NULL ?
	    transaction_id : "-");
	dl->retry = evtimer_new(d->px->base, retry_cb, dl);
	if (dl->retry == NULL) {
		fprintf(stderr, "becknd: cannot allocate an event\n");
		abort();
	}
	TAILQ_INSERT_TAIL(&d->q, dl, entry);
	d->n++;
	attempt(dl);
	return 0;
}

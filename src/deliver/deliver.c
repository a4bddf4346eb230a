/*
 * deliver.c - the participants' queues and the attempts (see deliver.h);
 * dead letters are in deliver_dead.c.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "deliver/deliver_int.h"
#include "net/http_client.h"
#include "util/budget.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

/* Defaults of the 0 settings (deliver.h). */
#define DELIVER_INFLIGHT	16
#define DELIVER_IDLE_MS		60000

static void
set_conf(struct deliver *d, const struct deliver_conf *conf)
{
	char	*ca = conf->http.ca_file != NULL ?
		    xstrdup(conf->http.ca_file) : NULL;

	free(d->ca_file);
	d->ca_file = ca;
	d->conf = *conf;
	d->conf.http.ca_file = d->ca_file;
	if (d->conf.max_inflight <= 0)
		d->conf.max_inflight = DELIVER_INFLIGHT;
	if (d->conf.idle_ms <= 0)
		d->conf.idle_ms = DELIVER_IDLE_MS;
}

/* A participant's HTTP client settings. */
static void
slice_conf(const struct deliver *d, struct http_client_conf *hc)
{
	*hc = d->conf.http;
	hc->timeout_ms = d->conf.timeout_ms;
	hc->max_inflight = d->conf.max_inflight;
	/* The queue limits bound what waits; the client never refuses. */
	hc->max_queue = SIZE_MAX;
}

struct deliver *
deliver_new(struct event_base *base, const struct deliver_conf *conf,
    struct deliver_stats *stats, struct budget *budget,
    const struct clock *clock)
{
	struct deliver	*d = xcalloc(1, sizeof(*d));

	d->base = base;
	set_conf(d, conf);
	d->stats = stats;
	d->budget = budget;
	d->clock = clock;
	d->keep_dead = 1;
	TAILQ_INIT(&d->parts);
	TAILQ_INIT(&d->dead);
	return d;
}

void
deliver_reconfigure(struct deliver *d, const struct deliver_conf *conf)
{
	struct http_client_conf	 hc;
	struct dpart		*p;

	set_conf(d, conf);
	slice_conf(d, &hc);
	TAILQ_FOREACH(p, &d->parts, entry)
		if (p->http != NULL)
			http_client_reconfigure(p->http, &hc);
	dead_trim(d);
}

static void	idle_cb(evutil_socket_t, short, void *);

struct dpart *
dpart_get(struct deliver *d, const char *id)
{
	struct dpart	*p;

	TAILQ_FOREACH(p, &d->parts, entry)
		if (strcmp(p->id, id) == 0)
			return p;
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->id = xstrdup(id);
	TAILQ_INIT(&p->q);
	p->idle = xevtimer_new(d->base, idle_cb, p);
	TAILQ_INSERT_TAIL(&d->parts, p, entry);
	d->nparts++;
	return p;
}

static void
dpart_free(struct dpart *p)
{
	struct deliver	*d = p->d;

	if (p->http != NULL) {
		http_client_free(p->http);
		d->nslices--;
	}
	event_free(p->idle);
	TAILQ_REMOVE(&d->parts, p, entry);
	d->nparts--;
	free(p->id);
	free(p);
}

/* Empty for idle_ms: the slice and its connections go. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dpart	*p = arg;

	if (p->n == 0)
		dpart_free(p);
}

static struct http_client *
dpart_http(struct dpart *p)
{
	struct http_client_conf	 hc;

	if (p->http == NULL) {
		slice_conf(p->d, &hc);
		p->http = http_client_new(p->d->base, &hc);
		p->d->nslices++;
	}
	return p->http;
}

void
delivery_enqueue(struct dpart *p, struct delivery *dl)
{
	dl->part = p;
	TAILQ_INSERT_TAIL(&p->q, dl, entry);
	p->n++;
	p->bytes += dl->held;
	p->d->n++;
	evtimer_del(p->idle);
	if (dl->state != DL_PREPARED)
		delivery_attempt(dl);
}

void
delivery_unlink(struct delivery *dl)
{
	struct deliver	*d = dl->d;
	struct dpart	*p = dl->part;
	struct timeval	 tv;

	if (dl->hreq != NULL) {
		http_client_cancel(dl->hreq);
		dl->hreq = NULL;
	}
	evtimer_del(dl->retry);
	if (dl->state == DL_LOOSE)
		return;
	dl->state = DL_LOOSE;
	if (p == NULL) {
		TAILQ_REMOVE(&d->dead, dl, entry);
		d->ndead--;
		d->dead_bytes -= dl->len;
		return;
	}
	TAILQ_REMOVE(&p->q, dl, entry);
	p->n--;
	p->bytes -= dl->held;
	d->n--;
	dl->part = NULL;
	if (p->n == 0) {
		tv.tv_sec = (time_t)(d->conf.idle_ms / 1000);
		tv.tv_usec = (suseconds_t)((d->conf.idle_ms % 1000) * 1000);
		evtimer_add(p->idle, &tv);
	}
}

void
delivery_free(struct delivery *dl)
{
	size_t	 i;

	delivery_unlink(dl);
	event_free(dl->retry);
	budget_give(dl->d->budget, dl->len);	/* 0 before deliver_start() */
	free(dl->body);
	for (i = 0; i < HDR_MAX; i++)
		free(dl->hdr[i]);
	free(dl->key);
	free(dl->participant);
	free(dl->url);
	free(dl->action);
	free(dl->sender);
	free(dl->message_id);
	free(dl->transaction_id);
	free(dl);
}

void
deliver_free(struct deliver *d)
{
	struct dpart	*p;
	struct delivery	*dl;

	if (d == NULL)
		return;
	while ((p = TAILQ_FIRST(&d->parts)) != NULL) {
		while ((dl = TAILQ_FIRST(&p->q)) != NULL) {
			if (dl->state == DL_PREPARED)
				;	/* no body: nothing was ACKed */
			else if (d->report != NULL && !d->keep_dead)
				log_info("delivery: %s to %s for %s "
				    "(message_id %s, transaction_id %s, "
				    "Idempotency-Key %s) not delivered yet; "
				    "kept in the journal, delivered at the "
				    "next start", dl->action, dl->url,
				    dl->participant, DL_S(dl->message_id),
				    DL_S(dl->transaction_id), dl->key);
			else
				log_warn("delivery: %s to %s for %s "
				    "(message_id %s, transaction_id %s, "
				    "Idempotency-Key %s) not delivered at "
				    "exit", dl->action, dl->url,
				    dl->participant, DL_S(dl->message_id),
				    DL_S(dl->transaction_id), dl->key);
			delivery_free(dl);
		}
		dpart_free(p);
	}
	dead_free_all(d);
	free(d->ca_file);
	free(d);
}

size_t
deliver_pending(const struct deliver *d)
{
	return d != NULL ? d->n : 0;
}

size_t
deliver_pending_of(const struct deliver *d, const char *id, size_t *bytes)
{
	const struct dpart	*p;

	if (bytes != NULL)
		*bytes = 0;
	TAILQ_FOREACH(p, &d->parts, entry)
		if (strcmp(p->id, id) == 0) {
			if (bytes != NULL)
				*bytes = p->bytes;
			return p->n;
		}
	return 0;
}

size_t
deliver_slices(const struct deliver *d)
{
	return d->nslices;
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

/* A header value may not hold CR, LF or another control byte but TAB. */
static int
header_safe(const char *v)
{
	const unsigned char	*s;

	for (s = (const unsigned char *)v; *s != '\0'; s++)
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

static void
set_header(struct delivery *dl, int i, const char *name, const char *v)
{
	if (v == NULL)
		return;
	if (!header_safe(v)) {
		log_warn("delivery: %s for %s (Idempotency-Key %s): %s left "
		    "out, its value holds a control byte", dl->action,
		    dl->participant, dl->key, name);
		return;
	}
	xasprintf(&dl->hdr[i], "%s: %s", name, v);
}

static void
make_headers(struct delivery *dl)
{
	size_t	 i, n = 0;

	dl->hdr[HDR_TYPE] = xstrdup("Content-Type: application/json");
	set_header(dl, HDR_SENDER, "X-Beckn-Sender", dl->sender);
	set_header(dl, HDR_ACTION, "X-Beckn-Action", dl->action);
	set_header(dl, HDR_MID, "X-Beckn-Message-Id", dl->message_id);
	set_header(dl, HDR_TID, "X-Beckn-Transaction-Id",
	    dl->transaction_id);
	set_header(dl, HDR_KEY, "Idempotency-Key", dl->key);
	for (i = 0; i < HDR_MAX; i++)
		if (dl->hdr[i] != NULL)
			dl->hdrv[n++] = dl->hdr[i];
	dl->hdrv[n] = NULL;
}

/*
 * A new key, malloc'd: a UUID, or one unique in this process when the
 * CSPRNG fails (it should not).
 */
static char *
make_key(void)
{
	static uint64_t	 seq;
	struct timespec	 ts;
	char		*key = xmalloc(BECKN_UUID_SIZE);

	if (beckn_uuid4(key) == 0)
		return key;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(key, BECKN_UUID_SIZE, "%016llx-%08llx-%05x",
	    (unsigned long long)ts.tv_sec * 1000000000ULL +
	    (unsigned long long)ts.tv_nsec, (unsigned long long)++seq,
	    (unsigned)getpid() & 0xfffff);
	return key;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	delivery_attempt(arg);
}

/* The most attempts allowed, 0: no limit (deliver.h). */
static int
attempts_max(const struct deliver_conf *c)
{
	int	 a = c->max_attempts;

	if (c->retries > 0 && (a == 0 || c->retries + 1 < a))
		a = c->retries + 1;
	return a;
}

void
delivery_report(const struct delivery *dl, enum deliver_outcome outcome,
    int status, const char *reason)
{
	struct deliver		*d = dl->d;
	struct deliver_report	 r;

	if (d->report == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.id = dl->key;
	r.participant = dl->participant;
	r.action = dl->action;
	r.outcome = outcome;
	r.attempts = dl->attempts;
	r.status = status;
	r.reason = reason;
	r.elapsed_ns = dl->elapsed_ns;
	d->report(&r, d->report_arg);
}

/* An attempt failed (status: its HTTP status, 0 none): retry or park. */
static void
failed(struct delivery *dl, int status, const char *why)
{
	struct deliver	*d = dl->d;
	struct timeval	 tv;
	int64_t		 delay = d->conf.backoff_ms;
	uint32_t	 r = 0;
	int		 i, max = attempts_max(&d->conf);

	snprintf(dl->why, sizeof(dl->why), "%s", why);
	if ((max > 0 && dl->attempts >= max) || (d->conf.max_age_ms > 0 &&
	    clock_now_ms(d->clock) - dl->first_ms >= d->conf.max_age_ms)) {
		delivery_unlink(dl);
		dead_park(dl, status, why);
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
	    "in %lld ms (for %s, Idempotency-Key %s)", dl->action, dl->url,
	    DL_S(dl->message_id), why, dl->attempts, (long long)delay,
	    dl->participant, dl->key);
	d->stats->retries++;
	delivery_report(dl, DELIVER_RETRY, status, why);
	dl->state = DL_WAITING;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	evtimer_add(dl->retry, &tv);
}

static void
done_cb(const struct http_client_response *resp, void *arg)
{
	struct delivery	*dl = arg;
	struct deliver	*d = dl->d;
	char		 why[300];
	long		 st = resp->status;

	dl->hreq = NULL;
	/* Reported with this attempt's outcome (a message given up unsent
	 * reports none). */
	dl->elapsed_ns = clock_mono_ns() - dl->sent_ns;
	if (resp->error != HTTPC_OK) {
		snprintf(why, sizeof(why), "%s (%s)",
		    http_client_error_name(resp->error),
		    resp->errstr != NULL ? resp->errstr : "");
		failed(dl, 0, why);
		return;
	}
	if (st >= 200 && st <= 299) {
		log_info("delivery: %s (message_id %s) delivered to %s after "
		    "%d attempt%s (for %s)", dl->action, DL_S(dl->message_id),
		    dl->url, dl->attempts, dl->attempts == 1 ? "" : "s",
		    dl->participant);
		d->stats->delivered++;
		delivery_report(dl, DELIVER_DELIVERED, (int)st, NULL);
		delivery_free(dl);
		return;
	}
	if (st >= 400 && st <= 499 && st != 408 && st != 429) {
		/* The app refused it: final. */
		log_warn("delivery: %s for %s (message_id %s, transaction_id "
		    "%s, Idempotency-Key %s) refused by the app at %s: HTTP "
		    "%ld", dl->action, dl->participant, DL_S(dl->message_id),
		    DL_S(dl->transaction_id), dl->key, dl->url, st);
		d->stats->refused++;
		snprintf(why, sizeof(why), "HTTP %ld", st);
		delivery_report(dl, DELIVER_REFUSED, (int)st, why);
		delivery_free(dl);
		return;
	}
	if (st >= 300 && st <= 399)
		snprintf(why, sizeof(why), "HTTP %ld (a redirect: not "
		    "followed, not delivered)", st);
	else
		snprintf(why, sizeof(why), "HTTP %ld", st);
	failed(dl, (int)st, why);
}

void
delivery_attempt(struct delivery *dl)
{
	if (!dl->aged) {
		dl->first_ms = clock_now_ms(dl->d->clock);
		dl->aged = 1;
	}
	dl->attempts++;
	dl->state = DL_SENDING;
	dl->sent_ns = clock_mono_ns();
	dl->hreq = http_client_post(dpart_http(dl->part), dl->url, dl->hdrv,
	    dl->body, dl->len, dl->d->conf.timeout_ms, done_cb, dl);
}

/* A message for m's participant, in no list yet; key taken. */
static struct delivery *
delivery_new(struct deliver *d, const struct deliver_msg *m, char *key)
{
	struct delivery	*dl = xcalloc(1, sizeof(*dl));

	dl->d = d;
	dl->state = DL_PREPARED;
	dl->participant = xstrdup(m->participant);
	dl->url = webhook_url(m->webhook, m->action);
	dl->action = xstrdup(m->action);
	dl->sender = xstrdup(m->sender);
	dl->message_id = m->message_id != NULL ? xstrdup(m->message_id) :
	    NULL;
	dl->transaction_id = m->transaction_id != NULL ?
	    xstrdup(m->transaction_id) : NULL;
	dl->key = key;
	make_headers(dl);
	dl->retry = xevtimer_new(d->base, retry_cb, dl);
	return dl;
}

struct delivery *
deliver_prepare(struct deliver *d, const struct deliver_msg *m)
{
	struct delivery	*dl;
	struct dpart	*p;
	size_t		 max = d->conf.queue_bytes;

	p = dpart_get(d, m->participant);
	if (p->n >= d->conf.queue_size || (p->n > 0 &&
	    (m->len > max || p->bytes > max - m->len))) {
		d->stats->full++;
		return NULL;
	}
	dl = delivery_new(d, m, make_key());
	dl->held = m->len;
	delivery_enqueue(p, dl);
	return dl;
}

const char *
deliver_id(const struct delivery *dl)
{
	return dl->key;
}

void
deliver_restore(struct deliver *d, const struct deliver_msg *m,
    const char *id, int attempts, char *body, size_t len)
{
	struct delivery	*dl;

	dl = delivery_new(d, m, id != NULL ? xstrdup(id) : make_key());
	/* Already ACKed: held whatever the limits (deliver.h). */
	budget_force(d->budget, len);
	dl->body = body != NULL ? body : xstrdup("");
	dl->len = len;
	dl->held = len;
	dl->attempts = attempts > 0 ? attempts : 0;
	dl->state = DL_SENDING;
	log_debug("delivery: %s to %s for %s (message_id %s, Idempotency-Key "
	    "%s) restored after %d attempt%s", dl->action, dl->url,
	    dl->participant, DL_S(dl->message_id), dl->key, dl->attempts,
	    dl->attempts == 1 ? "" : "s");
	delivery_enqueue(dpart_get(d, m->participant), dl);
}

void
deliver_set_reporter(struct deliver *d,
    void (*cb)(const struct deliver_report *, void *), void *arg,
    int keep_dead)
{
	d->report = cb;
	d->report_arg = arg;
	d->keep_dead = cb == NULL || keep_dead;
}

void
deliver_start(struct delivery *dl, char *body, size_t len)
{
	struct dpart	*p = dl->part;

	/* libcurl reads stdin for a NULL body: never hand it one. */
	if (body == NULL)
		body = xstrdup("");	/* len is 0 (deliver.h) */
	/* The queue counts what it really holds. */
	p->bytes = p->bytes - dl->held + len;
	dl->held = len;
	dl->body = body;
	dl->len = len;
	delivery_attempt(dl);
}

void
deliver_cancel(struct delivery *dl)
{
	if (dl != NULL)
		delivery_free(dl);
}

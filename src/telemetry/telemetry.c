/*
 * telemetry.c - the batcher, the spool and the sender (telemetry.h).
 *
 * The open batch takes the events; sealed batches wait in a FIFO, the
 * oldest one being sent (one POST at a time, retried with backoff until
 * a 2xx).  A batch keeps its events' texts, not its body: the body and
 * its id are rebuilt from them for every attempt, byte for byte the
 * same, also after a restart that loaded them from the store.
 *
 * The store sees an event only when it waits: the persist timer writes
 * every event not yet written TELEMETRY_PERSIST_MS after the first of
 * them came; a failing sink writes everything at once (and each new
 * event as it comes); telemetry_free() writes the rest.  A batch with
 * any event written is written whole, with its seal, when sealed, so
 * that a restart resends it as the same batch.  A sink that keeps up
 * takes most batches before they were ever written: the spool costs
 * the disk nothing then.
 */
#include "config.h"

#include <sys/queue.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "net/http_client.h"
#include "store/store.h"
#include "telemetry/telemetry.h"
#include "telemetry/telemetry_int.h"
#include "util/log.h"
#include "util/clock.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

#define BODY_HEAD	"{\"data\":{\"id\":\""
#define BODY_MID	"\",\"events\":"
#define BODY_TAIL	"}}"
/* The body's bytes besides the events and their commas ("[" and "]"
 * included). */
#define BODY_OVERHEAD	(sizeof(BODY_HEAD) - 1 + TEL_ID_HEX + \
			    sizeof(BODY_MID) - 1 + 2 + sizeof(BODY_TAIL) - 1)

#define TEL_RESPONSE_MAX	(64u << 10)
#define TEL_LOG_EVERY_MS	60000

struct tev {
	int64_t	 seq;
	char	*text;
	size_t	 len;
};

struct tbatch {
	TAILQ_ENTRY(tbatch)	 entry;
	struct tev		*ev;
	size_t			 nev;
	size_t			 cap;
	size_t			 bytes;		/* the body's length */
	int64_t			 first;		/* seq range, when sealed */
	int64_t			 last;
	size_t			 nwritten;	/* events in the store (the
						   first nwritten) */
	int			 seal_written;
};
TAILQ_HEAD(tbatchq, tbatch);

struct telemetry {
	struct event_base	*base;
	struct store		*store;		/* NULL: memory only */
	struct telemetry_conf	 conf;		/* strings: ours */
	struct http_client	*http;
	struct tbatch		*open;		/* never NULL */
	struct tbatchq		 sealed;	/* oldest first */
	size_t			 nsealed;
	size_t			 nspooled;	/* events, sealed and open */
	struct http_client_req	*req;		/* the POST in flight */
	struct tbatch		*sending;	/* its batch (the head) */
	char			*body;		/* its body (borrowed by req) */
	struct event		*tick;		/* seals the open batch */
	struct event		*retry;		/* the backoff */
	struct event		*persist;	/* writes what waits */
	int64_t			 delay;		/* the next backoff, ms */
	int64_t			 next_seq;
	uint64_t		 failures;	/* in a row */
	uint64_t		 unlogged;	/* not in a log line yet */
	int64_t			 logged_ms;	/* the last warning, mono */
	struct tbatch		*load_cur;	/* the load's batch cursor */
	int			 draining;	/* stopping: seal every event */
	struct telemetry_stats	 st;
};

static void	send_next(struct telemetry *);

static int64_t
mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

static void
timer_add_ms(struct event *ev, int64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(ev, &tv);
}

static int
is_on(const struct telemetry *t)
{
	return t->conf.url != NULL && t->conf.url[0] != '\0';
}

/* ---- the conf -------------------------------------------------------- */

static void
conf_clear(struct telemetry_conf *c)
{
	struct telemetry_prop	*p = (struct telemetry_prop *)c->props;
	size_t			 i;

	for (i = 0; i < c->nprops; i++) {
		free((char *)p[i].key);
		free((char *)p[i].path);
	}
	free(p);
	free((char *)c->url);
	memset(c, 0, sizeof(*c));
}

/* A copy of conf with its strings, 0 settings made workable. */
static void
conf_copy(struct telemetry_conf *dst, const struct telemetry_conf *src)
{
	struct telemetry_prop	*p = NULL;
	size_t			 i;

	*dst = *src;
	dst->url = src->url != NULL ? xstrdup(src->url) : NULL;
	if (src->nprops > 0) {
		p = xcalloc(src->nprops, sizeof(*p));
		for (i = 0; i < src->nprops; i++) {
			p[i].key = src->props[i].key != NULL ?
			    xstrdup(src->props[i].key) : NULL;
			p[i].path = src->props[i].path != NULL ?
			    xstrdup(src->props[i].path) : NULL;
		}
	}
	dst->props = p;
	if (dst->batch_size == 0)
		dst->batch_size = 1;
	if (dst->retry_max_ms <= 0)
		dst->retry_max_ms = TELEMETRY_RETRY_MIN_MS;
}

static void
http_conf(const struct telemetry *t, struct http_client_conf *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->timeout_ms = t->conf.timeout_ms;
	hc->max_inflight = 1;
	hc->max_queue = 1;
	hc->response_max = TEL_RESPONSE_MAX;
	hc->tls_verify = 1;
}

/* ---- batches --------------------------------------------------------- */

static struct tbatch *
batch_new(void)
{
	struct tbatch	*b = xcalloc(1, sizeof(*b));

	b->bytes = BODY_OVERHEAD;
	return b;
}

static void
batch_free(struct tbatch *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nev; i++)
		free(b->ev[i].text);
	free(b->ev);
	free(b);
}

/* Take text (malloc'd, NUL-terminated) into b. */
static void
batch_add(struct telemetry *t, struct tbatch *b, int64_t seq, char *text,
    size_t len)
{
	if (b->nev == b->cap) {
		b->cap = b->cap != 0 ? b->cap * 2 : 16;
		b->ev = xreallocarray(b->ev, b->cap, sizeof(*b->ev));
	}
	b->ev[b->nev].seq = seq;
	b->ev[b->nev].text = text;
	b->ev[b->nev].len = len;
	b->bytes += len + (b->nev > 0 ? 1 : 0);
	b->nev++;
	t->nspooled++;
}

/* Remove sealed b from the spool, and from the store. */
static void
batch_done(struct telemetry *t, struct tbatch *b)
{
	TAILQ_REMOVE(&t->sealed, b, entry);
	t->nsealed--;
	t->nspooled -= b->nev;
	if (t->store != NULL && (b->nwritten > 0 || b->seal_written))
		store_tel_done(t->store, b->first, b->last);
	batch_free(b);
}

/* Write b's events not in the store yet, and its seal once sealed. */
static void
persist_batch(struct telemetry *t, struct tbatch *b)
{
	size_t	 i;

	if (t->store == NULL)
		return;
	for (i = b->nwritten; i < b->nev; i++)
		store_tel_event(t->store, b->ev[i].seq, b->ev[i].text,
		    b->ev[i].len);
	b->nwritten = b->nev;
	if (b != t->open && b->nev > 0 && !b->seal_written) {
		store_tel_seal(t->store, b->first, b->last);
		b->seal_written = 1;
	}
}

/* Everything held goes to the store (oldest first). */
static void
persist_all(struct telemetry *t)
{
	struct tbatch	*b;

	evtimer_del(t->persist);
	TAILQ_FOREACH(b, &t->sealed, entry)
		persist_batch(t, b);
	persist_batch(t, t->open);
}

static void
persist_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	persist_all(arg);
}

/* An event not written yet: written within TELEMETRY_PERSIST_MS, or at
 * once while the sink fails. */
static void
persist_soon(struct telemetry *t)
{
	if (t->store == NULL)
		return;
	if (t->failures > 0)
		persist_all(t);
	else if (!evtimer_pending(t->persist, NULL))
		timer_add_ms(t->persist, TELEMETRY_PERSIST_MS);
}

/* The open batch becomes the newest sealed one (when not empty). */
static void
seal(struct telemetry *t)
{
	struct tbatch	*b = t->open;

	evtimer_del(t->tick);
	if (b->nev == 0)
		return;
	b->first = b->ev[0].seq;
	b->last = b->ev[b->nev - 1].seq;
	TAILQ_INSERT_TAIL(&t->sealed, b, entry);
	t->nsealed++;
	t->open = batch_new();
	/* Partly written: whole, so that a restart sends the same batch. */
	if (b->nwritten > 0 || t->failures > 0)
		persist_batch(t, b);
}

/* The interval runs from the open batch's first event. */
static void
tick_arm(struct telemetry *t)
{
	evtimer_del(t->tick);
	if (is_on(t) && t->open->nev > 0 && t->conf.interval_ms > 0)
		timer_add_ms(t->tick, t->conf.interval_ms);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct telemetry	*t = arg;

	seal(t);
	send_next(t);
}

/*
 * Hold at most spool_max events: drop the oldest sealed batches not
 * being sent; when the open batch is all there is to drop, it goes too
 * (sealed first, so that the store's records stay whole batches).
 */
static void
spool_bound(struct telemetry *t)
{
	struct tbatch	*b;
	uint64_t	 dropped = 0;
	size_t		 nb = 0;

	while (t->conf.spool_max > 0 && t->nspooled > t->conf.spool_max) {
		TAILQ_FOREACH(b, &t->sealed, entry)
			if (b != t->sending || t->req == NULL)
				break;
		if (b == NULL) {
			if (t->open->nev == 0)
				break;
			seal(t);
			continue;
		}
		if (b == t->sending)
			t->sending = NULL;
		dropped += b->nev;
		nb++;
		batch_done(t, b);
	}
	if (dropped == 0)
		return;
	t->st.dropped += dropped;
	log_warn("telemetry: spool full (spool_max %zu events): dropped the "
	    "oldest %zu batch(es), %" PRIu64 " events not sent",
	    t->conf.spool_max, nb, dropped);
}

/* ---- sending --------------------------------------------------------- */

/*
 * The body of b: {"data":{"id":ID,"events":[E1,E2,...]}}, ID the SHA-256
 * prefix of the array's text as it stands in the body.
 */
static char *
batch_body(const struct tbatch *b, size_t *lenp)
{
	EVP_MD_CTX	*ctx;
	char		*body, *p, *arr, id[TEL_ID_HEX + 1];
	size_t		 i;

	p = body = xmalloc(b->bytes + 1);
	memcpy(p, BODY_HEAD, sizeof(BODY_HEAD) - 1);
	p += sizeof(BODY_HEAD) - 1 + TEL_ID_HEX;
	memcpy(p, BODY_MID, sizeof(BODY_MID) - 1);
	p += sizeof(BODY_MID) - 1;
	arr = p;
	*p++ = '[';
	for (i = 0; i < b->nev; i++) {
		if (i > 0)
			*p++ = ',';
		memcpy(p, b->ev[i].text, b->ev[i].len);
		p += b->ev[i].len;
	}
	*p++ = ']';
	ctx = tel_sha_new();
	tel_sha_add(ctx, arr, (size_t)(p - arr));
	tel_sha_id(ctx, id);
	memcpy(body + sizeof(BODY_HEAD) - 1, id, TEL_ID_HEX);
	memcpy(p, BODY_TAIL, sizeof(BODY_TAIL) - 1);
	p += sizeof(BODY_TAIL) - 1;
	*p = '\0';
	*lenp = (size_t)(p - body);
	return body;
}

static void
backoff(struct telemetry *t, const char *why)
{
	int64_t		 delay, wait;
	uint32_t	 r;
	int64_t		 now = mono_ms();

	if ((delay = t->delay) <= 0 || delay > t->conf.retry_max_ms)
		delay = t->conf.retry_max_ms;
	/* Jitter on the upper half, so that restarted senders spread. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)now;
	wait = delay / 2 + (int64_t)(r % (uint64_t)(delay / 2 + 1));
	t->delay = delay > t->conf.retry_max_ms / 2 ?
	    t->conf.retry_max_ms : delay * 2;
	timer_add_ms(t->retry, wait);

	t->failures++;
	t->unlogged++;
	/* A sink down for hours: a line a minute, not one per retry. */
	if (t->failures == 1 || now - t->logged_ms >= TEL_LOG_EVERY_MS) {
		log_warn("telemetry: POST to %s failed: %s (%" PRIu64 " "
		    "failure(s) since the last line); retry in %" PRId64
		    " ms, %zu events in %zu batch(es) waiting", t->conf.url,
		    why, t->unlogged, wait, t->nspooled, t->nsealed);
		t->unlogged = 0;
		t->logged_ms = now;
	} else
		log_debug("telemetry: POST to %s failed: %s; retry in %"
		    PRId64 " ms", t->conf.url, why, wait);
}

static void
post_cb(const struct http_client_response *resp, void *arg)
{
	struct telemetry	*t = arg;
	struct tbatch		*b = t->sending;
	char			 why[160];

	t->req = NULL;
	t->sending = NULL;
	free(t->body);
	t->body = NULL;
	if (resp->error == HTTPC_OK && resp->status >= 200 &&
	    resp->status <= 299) {
		if (b != NULL) {
			t->st.events_sent += b->nev;
			t->st.batches_sent++;
			log_debug("telemetry: batch %" PRId64 "..%" PRId64
			    " (%zu events) accepted", b->first, b->last,
			    b->nev);
			batch_done(t, b);
		}
		if (t->failures > 0)
			log_info("telemetry: POST to %s works again after "
			    "%" PRIu64 " failure(s)", t->conf.url,
			    t->failures);
		t->failures = 0;
		t->unlogged = 0;
		t->delay = TELEMETRY_RETRY_MIN_MS;
		send_next(t);
		return;
	}
	t->st.send_failures++;
	/* The sink fails: nothing it holds may wait in memory only (and,
	 * failures counted by backoff(), nothing that comes). */
	persist_all(t);
	if (resp->error != HTTPC_OK)
		snprintf(why, sizeof(why), "%s%s%s",
		    http_client_error_name(resp->error),
		    resp->errstr != NULL ? ": " : "",
		    resp->errstr != NULL ? resp->errstr : "");
	else
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	backoff(t, why);
}

/* POST the oldest sealed batch, unless one is in flight or backing off. */
static void
send_next(struct telemetry *t)
{
	static const char *const hdrs[] = {
		"Content-Type: application/json", NULL
	};
	struct tbatch	*b;
	size_t		 len;

	if (!is_on(t) || t->req != NULL || evtimer_pending(t->retry, NULL))
		return;
	if ((b = TAILQ_FIRST(&t->sealed)) == NULL)
		return;
	t->body = batch_body(b, &len);
	t->sending = b;
	t->req = http_client_post(t->http, t->conf.url, hdrs, t->body, len,
	    t->conf.timeout_ms, post_cb, t);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	send_next(arg);
}

static void
cancel_post(struct telemetry *t)
{
	if (t->req != NULL)
		http_client_cancel(t->req);
	t->req = NULL;
	t->sending = NULL;
	free(t->body);
	t->body = NULL;
}

/* ---- the store ------------------------------------------------------- */

static int
load_batch(int64_t first, int64_t last, void *arg)
{
	struct telemetry	*t = arg;
	struct tbatch		*b = batch_new();

	b->first = first;
	b->last = last;
	b->seal_written = 1;
	TAILQ_INSERT_TAIL(&t->sealed, b, entry);
	t->nsealed++;
	t->load_cur = TAILQ_FIRST(&t->sealed);
	if (last >= t->next_seq)
		t->next_seq = last + 1;
	return 0;
}

/* Events come in seq order, batches by first: one walk places them. */
static int
load_event(int64_t seq, const char *event, size_t len, void *arg)
{
	struct telemetry	*t = arg;
	struct tbatch		*b;
	char			*text;

	while (t->load_cur != NULL && seq > t->load_cur->last)
		t->load_cur = TAILQ_NEXT(t->load_cur, entry);
	b = t->load_cur != NULL && seq >= t->load_cur->first ?
	    t->load_cur : t->open;
	text = xmalloc(len + 1);
	memcpy(text, event, len);
	text[len] = '\0';
	batch_add(t, b, seq, text, len);
	b->nwritten = b->nev;		/* it came from the store */
	if (seq >= t->next_seq)
		t->next_seq = seq + 1;
	return 0;
}

static int
load(struct telemetry *t, char *err, size_t errlen)
{
	struct tbatch	*b, *next;

	if (store_tel_load(t->store, load_batch, load_event, t, err,
	    errlen) == -1)
		return -1;
	t->load_cur = NULL;
	/* A seal whose events are gone (no event survived): nothing to
	 * send, only its record to delete. */
	for (b = TAILQ_FIRST(&t->sealed); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (b->nev == 0)
			batch_done(t, b);
	}
	if (t->nspooled > 0)
		log_info("telemetry: %zu events in %zu batch(es) and the "
		    "open one loaded from the store", t->nspooled,
		    t->nsealed);
	return 0;
}

/* ---- the API --------------------------------------------------------- */

/* Everything in memory, nothing told to the store. */
static void
destroy(struct telemetry *t)
{
	struct tbatch	*b;

	cancel_post(t);
	http_client_free(t->http);
	while ((b = TAILQ_FIRST(&t->sealed)) != NULL) {
		TAILQ_REMOVE(&t->sealed, b, entry);
		batch_free(b);
	}
	batch_free(t->open);
	event_free(t->tick);
	event_free(t->retry);
	event_free(t->persist);
	conf_clear(&t->conf);
	free(t);
}

struct telemetry *
telemetry_new(struct event_base *base, const struct telemetry_conf *conf,
    struct store *store, char *err, size_t errlen)
{
	struct telemetry	*t = xcalloc(1, sizeof(*t));
	struct http_client_conf	 hc;

	t->base = base;
	t->store = store;
	conf_copy(&t->conf, conf);
	http_conf(t, &hc);
	t->http = http_client_new(base, &hc);
	t->open = batch_new();
	TAILQ_INIT(&t->sealed);
	t->tick = xevtimer_new(base, tick_cb, t);
	t->retry = xevtimer_new(base, retry_cb, t);
	t->persist = xevtimer_new(base, persist_cb, t);
	t->delay = TELEMETRY_RETRY_MIN_MS;
	t->next_seq = 1;
	if (store != NULL && load(t, err, errlen) == -1)
		goto fail;
	tick_arm(t);
	send_next(t);
	return t;
fail:
	destroy(t);
	return NULL;
}

void
telemetry_reconfigure(struct telemetry *t, const struct telemetry_conf *conf)
{
	struct http_client_conf	 hc;

	if (t == NULL)
		return;
	conf_clear(&t->conf);
	conf_copy(&t->conf, conf);
	http_conf(t, &hc);
	http_client_reconfigure(t->http, &hc);
	if (t->delay > t->conf.retry_max_ms)
		t->delay = t->conf.retry_max_ms;
	if (!is_on(t)) {
		/* Off sends nothing, not even the POST under way; the
		 * batch stays the head, sent once a url is back. */
		cancel_post(t);
		evtimer_del(t->retry);
	}
	tick_arm(t);
	spool_bound(t);
	send_next(t);
}

void
telemetry_emit(struct telemetry *t, const struct telemetry_span *sp)
{
	struct tbatch	*b;
	char		*text;
	size_t		 len;
	int64_t		 seq;

	if (t == NULL || !is_on(t))
		return;
	text = telemetry_event_json(sp, &t->conf, &len);
	seq = t->next_seq++;
	t->st.events++;
	b = t->open;
	if (t->conf.max_batch_bytes > 0 && b->nev > 0 &&
	    b->bytes + 1 + len > t->conf.max_batch_bytes)
		seal(t);
	batch_add(t, t->open, seq, text, len);
	b = t->open;
	if (t->draining || b->nev >= t->conf.batch_size ||
	    (t->conf.max_batch_bytes > 0 &&
	    b->bytes >= t->conf.max_batch_bytes))
		seal(t);
	else if (b->nev == 1)
		tick_arm(t);
	persist_soon(t);
	spool_bound(t);
	send_next(t);
}

void
telemetry_flush(struct telemetry *t)
{
	if (t == NULL)
		return;
	seal(t);
	if (!is_on(t))
		return;
	/* Now means now: the backoff is not waited for. */
	evtimer_del(t->retry);
	send_next(t);
}

void
telemetry_drain(struct telemetry *t)
{
	if (t == NULL)
		return;
	t->draining = 1;
	telemetry_flush(t);
}

int
telemetry_idle(const struct telemetry *t)
{
	/* A failing sink is not waited for: the spool keeps its batches
	 * for the next start. */
	return t == NULL || !is_on(t) || t->failures > 0 ||
	    (t->nspooled == 0 && t->req == NULL);
}

void
telemetry_free(struct telemetry *t)
{
	if (t == NULL)
		return;
	/* Sealed and written: the next start sends it as it is. */
	seal(t);
	persist_all(t);
	if (t->req != NULL)
		log_debug("telemetry: stopping with a POST in flight; it is "
		    "sent again at the next start");
	destroy(t);
}

void
telemetry_stats(const struct telemetry *t, struct telemetry_stats *st)
{
	*st = t->st;
	st->spooled = t->nspooled;
	st->batches = t->nsealed;
}

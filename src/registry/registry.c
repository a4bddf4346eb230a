/*
 * registry.c - the lookup API: cache policy, single-flight, stale-if-error,
 * forced refresh, deferred callbacks.
 *
 * A lookup is turned into a query (a filter, a cache key and, in URL mode,
 * a JSON body).  Fresh cache entries answer at once; otherwise the request
 * joins the flight for its cache key, starting one when there is none.  A
 * flight is one HTTP request; when it lands, its answer is cached and
 * every waiter is completed from it.  Completion never calls back
 * directly: it fills the request's result and arms a zero timer, so
 * callbacks always run from the loop and registry_cancel() can always
 * stop them.
 *
 * Two tables: positive answers (records usable when fetched) in `cache`,
 * everything else in `negative`, so that "not found" floods never evict a
 * known key.  A key lookup that neither table answers is a miss: it is
 * admitted by registry_limit.c (buckets per peer address and per
 * subscriber id), and its request waits in that file's fair queue until
 * pump() finds a miss slot free.  Every other flight (refreshes of known
 * keys, list lookups) is posted at once on slots of its own: the HTTP
 * client runs 2 * max_inflight transfers, misses never more than
 * max_inflight, and a miss is only posted when a transfer slot is free,
 * so misses never wait in the client's FIFO in front of known keys.
 */
#include "config.h"

#include <sys/queue.h>

#include <netinet/in.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <json-c/json.h>

#include "net/http_client.h"
#include "registry/registry.h"
#include "registry/registry_cache.h"
#include "registry/registry_file.h"
#include "registry/registry_limit.h"
#include "registry/registry_record.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define RESPONSE_MAX	(4 << 20)
#define QUEUE_MIN	1024

enum query_kind {
	Q_KEY,		/* one record to verify with */
	Q_LIST,		/* gateways, participants */
};

/* A cached (or file) answer to one query; refcounted, immutable but for
 * forced_ms. */
struct answer {
	int			 refcnt;
	struct registry_recset	*recs;		/* records matching the query */
	int			 positive;	/* had a usable record */
	int64_t			 fetched_ms;
	int64_t			 expires_ms;	/* fresh until */
	int64_t			 stale_until_ms; /* usable on outage until */
	int64_t			 forced_ms;	/* last forced refresh */
	/* Outage: serve stale without asking until retry_ms. */
	int64_t			 retry_ms;
	char			 down_why[200];
};

struct query {
	enum query_kind		 kind;
	char			*subscriber_id;
	char			*key_id;
	char			*type;
	char			*domain;
	char			*ckey;		/* cache / flight key */
};

TAILQ_HEAD(req_list, registry_req);

struct flight {
	struct registry		*reg;
	struct query		 q;
	struct http_client_req	*hreq;
	char			*body;	/* the lookup filter: the client borrows it */
	struct req_list		 waiters;
	int			 started;	/* posted; else misses queued */
	struct miss_peer	*charged;	/* whose miss slot, or NULL */
	TAILQ_ENTRY(flight)	 entry;
};

TAILQ_HEAD(flight_list, flight);

enum req_state {
	REQ_WAITING,	/* on a flight */
	REQ_DONE,	/* result filled, timer armed */
};

struct registry_req {
	struct registry		*reg;
	enum req_state		 state;
	enum query_kind		 kind;
	struct flight		*flight;
	registry_cb		 cb;
	void			*arg;
	struct event		 ev;
	struct registry_result	 res;
	struct answer		*ans;		/* keeps res.record alive */
	struct registry_recset	*list;		/* keeps res.records alive */
	struct miss_item	 mi;		/* in the fair queue */
	char			 reason[256];
	TAILQ_ENTRY(registry_req) entry;
};

struct registry {
	struct event_base	*base;
	struct registry_conf	 conf;
	const struct clock	*clock;
	char			*lookup_url;
	struct http_client	*http;
	size_t			 http_slots;	/* the client's max_inflight */
	struct registry_cache	*cache;		/* positive answers */
	struct registry_cache	*negative;	/* every other answer */
	struct misses		*misses;
	struct event		*pump_ev;
	uint64_t		 limited;
	uint64_t		 n_hits, n_misses, n_stale, n_answered;
	struct registry_recset	*file;
	struct flight_list	 flights;
	struct registry_cache	*flight_idx;	/* ckey -> flight, no bound */
	struct req_list		 done;
};

void
registry_conf_defaults(struct registry_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->cache_ttl_ms = REGISTRY_CACHE_TTL_MS;
	c->negative_ttl_ms = REGISTRY_NEGATIVE_TTL_MS;
	c->stale_ttl_ms = REGISTRY_STALE_TTL_MS;
	c->timeout_ms = REGISTRY_TIMEOUT_MS;
	c->connect_timeout_ms = REGISTRY_CONNECT_TIMEOUT_MS;
	c->cache_size = REGISTRY_CACHE_SIZE;
	c->max_inflight = REGISTRY_MAX_INFLIGHT;
	c->tls_verify = 1;
	c->refresh_interval_ms = REGISTRY_REFRESH_INTERVAL_MS;
	c->negative_cache_size = REGISTRY_NEGATIVE_CACHE_SIZE;
	c->miss_rate = REGISTRY_MISS_RATE;
	c->miss_burst = REGISTRY_MISS_BURST;
	c->miss_queue = REGISTRY_MISS_QUEUE;
	c->miss_table_size = REGISTRY_MISS_TABLE_SIZE;
}

void
registry_conf_clear(struct registry_conf *c)
{
	free(c->url);
	free(c->file);
	free(c->ca_file);
	c->url = c->file = c->ca_file = NULL;
}

const char *
registry_status_name(enum registry_status s)
{
	switch (s) {
	case REGISTRY_OK:
		return "ok";
	case REGISTRY_NOT_FOUND:
		return "not_found";
	case REGISTRY_NOT_USABLE:
		return "not_usable";
	case REGISTRY_UNAVAILABLE:
		return "unavailable";
	case REGISTRY_LIMITED:
		return "limited";
	}
	return "?";
}

const char *
registry_source_name(enum registry_source s)
{
	switch (s) {
	case REGISTRY_SRC_CACHE:
		return "cache";
	case REGISTRY_SRC_REGISTRY:
		return "registry";
	case REGISTRY_SRC_FILE:
		return "file";
	}
	return "?";
}

static struct answer *
answer_ref(struct answer *a)
{
	a->refcnt++;
	return a;
}

static void
answer_unref(struct answer *a)
{
	if (a == NULL || --a->refcnt > 0)
		return;
	registry_recset_unref(a->recs);
	free(a);
}

static void
answer_release(void *a)
{
	answer_unref(a);
}

static void
query_clear(struct query *q)
{
	free(q->subscriber_id);
	free(q->key_id);
	free(q->type);
	free(q->domain);
	free(q->ckey);
	memset(q, 0, sizeof(*q));
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
query_copy(struct query *dst, const struct query *src)
{
	dst->kind = src->kind;
	dst->subscriber_id = dupnull(src->subscriber_id);
	dst->key_id = dupnull(src->key_id);
	dst->type = dupnull(src->type);
	dst->domain = dupnull(src->domain);
	dst->ckey = dupnull(src->ckey);
}

/* What the query asks of a record at now: a key lookup needs the key. */
static void
query_match(const struct query *q, int64_t now, struct registry_match *m)
{
	memset(m, 0, sizeof(*m));
	m->subscriber_id = q->subscriber_id;
	m->key_id = q->key_id;
	m->type = q->type;
	m->domain = q->domain;
	m->now_ms = now;
	m->need_key = q->kind == Q_KEY;
}

/* Unambiguous cache key: kind, then each field length-prefixed. */
static void
query_key(struct query *q)
{
	const char	*f[4] = { q->subscriber_id, q->key_id, q->type,
	    q->domain };
	char		*s, *t;
	int		 i;

	s = xstrdup(q->kind == Q_KEY ? "k" : "l");
	for (i = 0; i < 4; i++) {
		if (f[i] == NULL)
			xasprintf(&t, "%s|-", s);
		else
			xasprintf(&t, "%s|%zu:%s", s, strlen(f[i]), f[i]);
		free(s);
		s = t;
	}
	q->ckey = s;
}

/* The /lookup request body. */
static char *
query_body(const struct query *q)
{
	struct json_object	*o;
	char			*s;

	o = json_object_new_object();
	if (q->type != NULL)
		json_object_object_add(o, "type",
		    json_object_new_string(q->type));
	if (q->domain != NULL)
		json_object_object_add(o, "domain",
		    json_object_new_string(q->domain));
	if (q->subscriber_id != NULL)
		json_object_object_add(o, "subscriber_id",
		    json_object_new_string(q->subscriber_id));
	if (q->key_id != NULL) {
		/* Deployed registries read one or the other. */
		json_object_object_add(o, "ukId",
		    json_object_new_string(q->key_id));
		json_object_object_add(o, "unique_key_id",
		    json_object_new_string(q->key_id));
	}
	s = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static const char *
query_what(const struct query *q, char *buf, size_t len)
{
	if (q->kind == Q_KEY)
		snprintf(buf, len, "subscriber %.100s key %.100s",
		    q->subscriber_id, q->key_id);
	else
		snprintf(buf, len, "%.8s participants of domain %.100s%s%.100s",
		    q->type != NULL ? q->type : "all",
		    q->domain != NULL ? q->domain : "*",
		    q->subscriber_id != NULL ? " subscriber " : "",
		    q->subscriber_id != NULL ? q->subscriber_id : "");
	return buf;
}

/* An answer from the records matching q in set, judged at now. */
static struct answer *
answer_new(struct registry *reg, const struct query *q,
    const struct registry_recset *set, int64_t now)
{
	struct registry_match	 m;
	struct answer		*a;
	struct registry_record	*r;
	int64_t			 exp;
	size_t			 i;

	/* Keep the unusable ones too: they explain a NOT_USABLE. */
	query_match(q, now, &m);
	m.any_status = 1;
	a = xcalloc(1, sizeof(*a));
	a->refcnt = 1;
	a->recs = registry_recset_filter(set, &m);
	m.any_status = 0;
	a->fetched_ms = now;
	a->forced_ms = INT64_MIN;
	a->retry_ms = INT64_MIN;
	exp = now + reg->conf.cache_ttl_ms;
	for (i = 0; i < a->recs->n; i++) {
		r = a->recs->recs[i];
		if (registry_record_check(r, &m, NULL, 0) != REGISTRY_MATCH)
			continue;
		a->positive = 1;
		/* Never cache a record past its validity. */
		if (r->valid_until_ms < exp)
			exp = r->valid_until_ms;
	}
	if (a->positive) {
		a->expires_ms = exp;
		a->stale_until_ms = exp + reg->conf.stale_ttl_ms;
	} else {
		a->expires_ms = now + reg->conf.negative_ttl_ms;
		a->stale_until_ms = a->expires_ms;
	}
	return a;
}

static void
req_event(evutil_socket_t fd, short what, void *arg)
{
	struct registry_req	*req = arg;

	TAILQ_REMOVE(&req->reg->done, req, entry);
	req->cb(&req->res, req->arg);
	answer_unref(req->ans);
	registry_recset_unref(req->list);
	free(req);
}

/* Fill the result from a (or an error) and arm the callback. */
static void
req_finish(struct registry_req *req, struct answer *a,
    enum registry_source src, int stale, enum registry_status err,
    const char *errwhy, const struct query *q)
{
	struct registry		*reg = req->reg;
	struct registry_result	*res = &req->res;
	struct registry_record	*r, *first_bad = NULL;
	struct registry_match	 m;
	struct timeval		 tv = { 0, 0 };
	size_t			 i;
	char			 why[160], what[256];

	memset(res, 0, sizeof(*res));
	res->source = src;
	res->stale = stale;
	if (src == REGISTRY_SRC_CACHE && stale)
		reg->n_stale++;
	else if (src == REGISTRY_SRC_CACHE)
		reg->n_hits++;
	else if (src == REGISTRY_SRC_REGISTRY)
		reg->n_misses++;
	res->reason = req->reason;
	why[0] = '\0';
	if (a == NULL) {
		res->status = err;
		snprintf(req->reason, sizeof(req->reason), "%s", errwhy);
		goto arm;
	}
	/* Usability is judged now, not when the answer was cached. */
	query_match(q, clock_now_ms(reg->clock), &m);
	req->ans = answer_ref(a);
	req->list = xcalloc(1, sizeof(*req->list));
	req->list->refcnt = 1;
	req->list->recs = xcalloc(a->recs->n + 1, sizeof(*req->list->recs));
	for (i = 0; i < a->recs->n; i++) {
		r = a->recs->recs[i];
		if (registry_record_check(r, &m, first_bad == NULL ? why : NULL,
		    sizeof(why)) != REGISTRY_MATCH) {
			if (first_bad == NULL)
				first_bad = r;
			continue;
		}
		req->list->recs[req->list->n++] = registry_record_ref(r);
	}
	if (req->list->n > 0) {
		res->status = REGISTRY_OK;
		res->records = req->list->recs;
		res->nrecords = req->list->n;
		if (req->kind == Q_KEY)
			res->record = req->list->recs[0];
		snprintf(req->reason, sizeof(req->reason), "%s", stale ?
		    errwhy : "ok");
	} else if (first_bad != NULL) {
		res->status = REGISTRY_NOT_USABLE;
		if (req->kind == Q_KEY)
			res->record = first_bad;
		snprintf(req->reason, sizeof(req->reason), "%s: %s",
		    query_what(q, what, sizeof(what)), why);
	} else {
		res->status = REGISTRY_NOT_FOUND;
		snprintf(req->reason, sizeof(req->reason), "%s: not found in "
		    "the %s", query_what(q, what, sizeof(what)),
		    src == REGISTRY_SRC_FILE ? "registry file" : "registry");
	}
arm:
	req->state = REQ_DONE;
	req->flight = NULL;
	TAILQ_INSERT_TAIL(&reg->done, req, entry);
	evtimer_assign(&req->ev, reg->base, req_event, req);
	evtimer_add(&req->ev, &tv);
}

/* Out of the list and the index (waiting lookups find it no more). */
static void
flight_unlink(struct registry *reg, struct flight *fl)
{
	TAILQ_REMOVE(&reg->flights, fl, entry);
	registry_cache_del(reg->flight_idx, fl->q.ckey);
}

static void
flight_free(struct flight *fl)
{
	query_clear(&fl->q);
	free(fl->body);
	free(fl);
}

static void	pump(struct registry *);

/* Run pump() from the loop (not from inside an HTTP client callback). */
static void
pump_soon(struct registry *reg)
{
	struct timeval	 tv = { 0, 0 };

	if (reg->misses != NULL)
		evtimer_add(reg->pump_ev, &tv);
}

static void
pump_event(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/* Cache a fetched answer in its table; the other table forgets the key. */
static void
answer_store(struct registry *reg, const char *ckey, struct answer *a)
{
	if (a->positive) {
		registry_cache_del(reg->negative, ckey);
		registry_cache_put(reg->cache, ckey, answer_ref(a));
	} else {
		registry_cache_del(reg->cache, ckey);
		registry_cache_put(reg->negative, ckey, answer_ref(a));
	}
}

/* The registry answered (or failed): cache, then complete every waiter. */
static void
flight_done(const struct http_client_response *resp, void *arg)
{
	struct flight		*fl = arg;
	struct registry		*reg = fl->reg;
	struct registry_req	*req;
	struct registry_recset	*set = NULL;
	struct answer		*a = NULL, *old;
	enum registry_source	 src = REGISTRY_SRC_REGISTRY;
	int64_t			 now = clock_now_ms(reg->clock);
	int			 down = 0, stale = 0;
	char			 why[200], err[160], what[256];

	why[0] = '\0';
	fl->hreq = NULL;
	flight_unlink(reg, fl);
	misses_finished(reg->misses, fl->charged);
	pump_soon(reg);
	/* Reachable and not failing: it answers (readiness). */
	if (resp->error == HTTPC_OK && resp->status < 500)
		reg->n_answered++;
	if (resp->error != HTTPC_OK) {
		down = 1;
		snprintf(why, sizeof(why), "registry unreachable: %s",
		    resp->errstr != NULL ? resp->errstr :
		    http_client_error_name(resp->error));
	} else if (resp->status >= 500) {
		down = 1;
		snprintf(why, sizeof(why), "registry answered HTTP %ld",
		    resp->status);
	} else if (resp->status < 200 || resp->status > 299) {
		snprintf(why, sizeof(why), "registry answered HTTP %ld",
		    resp->status);
	} else if ((set = registry_recset_parse(resp->body, resp->len,
	    "lookup response", err, sizeof(err))) == NULL) {
		snprintf(why, sizeof(why), "registry response: %s", err);
	} else {
		a = answer_new(reg, &fl->q, set, now);
		registry_recset_unref(set);
		old = registry_cache_get(reg->cache, fl->q.ckey);
		if (old != NULL)
			a->forced_ms = old->forced_ms;
		answer_store(reg, fl->q.ckey, a);
	}
	if (a == NULL) {
		/* Fall back on what we have, if anything: positives only. */
		query_what(&fl->q, what, sizeof(what));
		old = registry_cache_get(reg->cache, fl->q.ckey);
		if (old != NULL && now < old->expires_ms) {
			a = answer_ref(old);
			src = REGISTRY_SRC_CACHE;
			log_warn("registry: refresh of %s failed (%s); keeping "
			    "the cached answer", what, why);
		} else if (old != NULL && down && now < old->stale_until_ms) {
			a = answer_ref(old);
			src = REGISTRY_SRC_CACHE;
			stale = 1;
			/* Do not make every lookup wait for a dead registry. */
			old->retry_ms = now + reg->conf.negative_ttl_ms;
			snprintf(old->down_why, sizeof(old->down_why), "%s",
			    why);
			log_warn("registry: %s; using a stale answer for %s, "
			    "expired %lld s ago", why, what,
			    (long long)((now - old->expires_ms) / 1000));
		} else
			log_warn("registry: lookup of %s failed: %s", what,
			    why);
	}
	while ((req = TAILQ_FIRST(&fl->waiters)) != NULL) {
		TAILQ_REMOVE(&fl->waiters, req, entry);
		req_finish(req, a, src, stale, REGISTRY_UNAVAILABLE, why,
		    &fl->q);
	}
	answer_unref(a);
	flight_free(fl);
}

static struct flight *
flight_find(struct registry *reg, const char *ckey)
{
	return registry_cache_get(reg->flight_idx, ckey);
}

/* A flight for q, not posted yet. */
static struct flight *
flight_new(struct registry *reg, const struct query *q)
{
	struct flight	*fl;

	fl = xcalloc(1, sizeof(*fl));
	fl->reg = reg;
	query_copy(&fl->q, q);
	TAILQ_INIT(&fl->waiters);
	TAILQ_INSERT_TAIL(&reg->flights, fl, entry);
	registry_cache_put(reg->flight_idx, fl->q.ckey, fl);
	return fl;
}

/* Post the flight; none of its waiters waits in the fair queue any more. */
static void
flight_post(struct registry *reg, struct flight *fl)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
	    "Accept: application/json", NULL };
	struct registry_req	*req;

	TAILQ_FOREACH(req, &fl->waiters, entry)
		misses_unqueue(reg->misses, &req->mi);
	fl->started = 1;
	fl->body = query_body(&fl->q);
	fl->hreq = http_client_post(reg->http, reg->lookup_url, hdrs, fl->body,
	    strlen(fl->body), 0, flight_done, fl);
}

static void
flight_add(struct flight *fl, struct registry_req *req)
{
	req->state = REQ_WAITING;
	req->flight = fl;
	TAILQ_INSERT_TAIL(&fl->waiters, req, entry);
}

/*
 * Start misses while a miss slot (registry_limit.c) and a transfer slot
 * are free: a miss never waits in the HTTP client's own queue.
 */
static void
pump(struct registry *reg)
{
	struct miss_item	*mi;
	struct miss_peer	*charged;
	struct registry_req	*req;

	while (http_client_pending(reg->http) < reg->http_slots &&
	    (mi = misses_next(reg->misses, &charged)) != NULL) {
		req = (struct registry_req *)(void *)((char *)mi -
		    offsetof(struct registry_req, mi));
		req->flight->charged = charged;
		flight_post(reg, req->flight);
	}
}

/* Answer REGISTRY_LIMITED at once (from the loop, like every answer). */
static void
req_limited(struct registry_req *req, enum miss_verdict v, int64_t retry_ms,
    const char *peer, const struct query *q)
{
	struct registry	*reg = req->reg;
	char		 why[256], key[INET6_ADDRSTRLEN + 8];

	if (peer != NULL)
		misses_peer_key(peer, key, sizeof(key));
	else
		key[0] = '\0';
	switch (v) {
	case MISS_ADDRESS_RATE:
		snprintf(why, sizeof(why), "too many unknown keys from %s; "
		    "retry later", key);
		break;
	case MISS_SUBSCRIBER_RATE:
		snprintf(why, sizeof(why), "too many unknown keys for "
		    "subscriber %.100s; retry later", q->subscriber_id);
		break;
	case MISS_QUEUE_FULL:
		snprintf(why, sizeof(why), "too many registry lookups waiting "
		    "from %s; retry later", key);
		break;
	default:
		snprintf(why, sizeof(why), "too many addresses waiting for "
		    "the registry; retry later");
		break;
	}
	reg->limited++;
	log_debug("registry: %s (subscriber %.100s key %.100s)", why,
	    q->subscriber_id, q->key_id);
	req_finish(req, NULL, REGISTRY_SRC_REGISTRY, 0, REGISTRY_LIMITED, why,
	    q);
	req->res.retry_after_s = (int)((retry_ms + 999) / 1000);
	if (req->res.retry_after_s < 1)
		req->res.retry_after_s = 1;
}

/* Longer than any id the signature parser passes on. */
static int
query_too_long(const struct query *q)
{
	const char	*f[4] = { q->subscriber_id, q->key_id, q->type,
	    q->domain };
	int		 i;

	for (i = 0; i < 4; i++)
		if (f[i] != NULL && strlen(f[i]) > REGISTRY_ID_MAX)
			return 1;
	return 0;
}

static struct registry_req *
lookup(struct registry *reg, struct query *q, int flags, const char *peer,
    registry_cb cb, void *arg)
{
	struct registry_req	*req;
	struct answer		*a;
	struct flight		*fl;
	enum miss_verdict	 v;
	int64_t			 now, last, retry;
	int			 known = 0;
	char			 what[256];

	req = xcalloc(1, sizeof(*req));
	req->reg = reg;
	req->kind = q->kind;
	req->cb = cb;
	req->arg = arg;
	now = clock_now_ms(reg->clock);

	if (query_too_long(q)) {
		/* Never asked for, never cached: no memory for junk. */
		req_finish(req, NULL, REGISTRY_SRC_REGISTRY, 0,
		    REGISTRY_NOT_FOUND, "an id or filter longer than 255 "
		    "bytes", q);
		goto done;
	}
	query_key(q);
	if (reg->file != NULL) {
		a = answer_new(reg, q, reg->file, now);
		req_finish(req, a, REGISTRY_SRC_FILE, 0, REGISTRY_OK, "", q);
		answer_unref(a);
		goto done;
	}
	if ((a = registry_cache_get(reg->cache, q->ckey)) != NULL &&
	    now >= a->stale_until_ms) {
		registry_cache_del(reg->cache, q->ckey);
		a = NULL;
	}
	if (a != NULL && now < a->expires_ms) {
		last = a->forced_ms > a->fetched_ms ? a->forced_ms :
		    a->fetched_ms;
		if (!(flags & REGISTRY_FORCE_REFRESH) ||
		    now - last < reg->conf.refresh_interval_ms) {
			req_finish(req, a, REGISTRY_SRC_CACHE, 0, REGISTRY_OK,
			    "", q);
			goto done;
		}
		a->forced_ms = now;
		log_info("registry: refreshing %s (verification failed with "
		    "the cached key)", query_what(q, what, sizeof(what)));
		known = 1;
	} else if (a != NULL && now < a->retry_ms) {
		/* The registry just failed: stale answer without asking. */
		req_finish(req, a, REGISTRY_SRC_CACHE, 1, REGISTRY_OK,
		    a->down_why, q);
		goto done;
	} else if (a != NULL)
		known = 1;	/* expired: refresh a known key */
	else if ((a = registry_cache_get(reg->negative, q->ckey)) != NULL) {
		if (now < a->expires_ms) {
			/* A forced refresh has no cached key to refresh. */
			req_finish(req, a, REGISTRY_SRC_CACHE, 0, REGISTRY_OK,
			    "", q);
			goto done;
		}
		registry_cache_del(reg->negative, q->ckey);
	}
	fl = flight_find(reg, q->ckey);
	if (known || q->kind == Q_LIST) {
		/* Known keys and lists: posted at once, never limited. */
		if (fl == NULL)
			fl = flight_new(reg, q);
		flight_add(fl, req);
		if (!fl->started)
			flight_post(reg, fl);
		goto done;
	}
	/* A miss: admitted, then queued (or joined to a flight under way). */
	v = misses_admit(reg->misses, peer, q->subscriber_id,
	    fl != NULL && fl->started ? NULL : &req->mi, &retry);
	if (v != MISS_OK) {
		req_limited(req, v, retry, peer, q);
		goto done;
	}
	if (fl == NULL)
		fl = flight_new(reg, q);
	flight_add(fl, req);
	pump(reg);
done:
	query_clear(q);
	return req;
}

struct registry_req *
registry_lookup_key(struct registry *reg, const char *subscriber_id,
    const char *key_id, int flags, const char *peer, registry_cb cb,
    void *arg)
{
	struct query	 q;

	if (reg == NULL || subscriber_id == NULL || key_id == NULL ||
	    cb == NULL)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.kind = Q_KEY;
	q.subscriber_id = xstrdup(subscriber_id);
	q.key_id = xstrdup(key_id);
	return lookup(reg, &q, flags, peer, cb, arg);
}

struct registry_req *
registry_lookup_gateways(struct registry *reg, const char *domain,
    registry_cb cb, void *arg)
{
	return registry_lookup_participants(reg, "BG", domain, NULL, cb, arg);
}

struct registry_req *
registry_lookup_participants(struct registry *reg, const char *type,
    const char *domain, const char *subscriber_id, registry_cb cb, void *arg)
{
	struct query	 q;
	char		*p;

	if (reg == NULL || cb == NULL)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.kind = Q_LIST;
	q.type = dupnull(type);
	/* One spelling for the cache key and the registry's filter. */
	for (p = q.type; p != NULL && *p != '\0'; p++)
		*p = toupper((unsigned char)*p);
	q.domain = dupnull(domain);
	q.subscriber_id = dupnull(subscriber_id);
	return lookup(reg, &q, 0, NULL, cb, arg);
}

void
registry_cancel(struct registry_req *req)
{
	struct flight	*fl;

	if (req == NULL)
		return;
	if (req->state == REQ_WAITING) {
		/* A flight under way goes on: its answer still fills the
		 * cache.  One nobody waits for any more is never asked. */
		fl = req->flight;
		misses_unqueue(req->reg->misses, &req->mi);
		TAILQ_REMOVE(&fl->waiters, req, entry);
		if (!fl->started && TAILQ_EMPTY(&fl->waiters)) {
			flight_unlink(req->reg, fl);
			flight_free(fl);
		}
	} else {
		event_del(&req->ev);
		TAILQ_REMOVE(&req->reg->done, req, entry);
	}
	answer_unref(req->ans);
	registry_recset_unref(req->list);
	free(req);
}

void
registry_stats(const struct registry *reg, struct registry_stats *st)
{
	const struct flight	*fl;
	struct miss_stats	 ms;

	memset(st, 0, sizeof(*st));
	st->limited = reg->limited;
	st->hits = reg->n_hits;
	st->misses = reg->n_misses;
	st->stale = reg->n_stale;
	st->answered = reg->n_answered;
	st->file = reg->file != NULL;
	TAILQ_FOREACH(fl, &reg->flights, entry)
		st->flights++;
	if (reg->misses == NULL)
		return;		/* file mode */
	st->positive = registry_cache_count(reg->cache);
	st->negative = registry_cache_count(reg->negative);
	misses_stats(reg->misses, &ms);
	st->peers = ms.peers;
	st->subscribers = ms.subscribers;
	st->queued = ms.queued;
	st->inflight_misses = ms.inflight;
}

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

struct registry *
registry_new(struct event_base *base, const struct registry_conf *conf,
    const struct clock *clock, char *err, size_t errlen)
{
	struct registry			*reg;
	struct http_client_conf		 hc;
	struct miss_conf		 mc;
	size_t				 n;

	if ((conf->url == NULL) == (conf->file == NULL)) {
		snprintf(err, errlen, "registry: set exactly one of url and "
		    "file");
		return NULL;
	}
	if (conf->url != NULL && !has_prefix(conf->url, "http://") &&
	    !has_prefix(conf->url, "https://")) {
		snprintf(err, errlen, "registry: url must start with http:// "
		    "or https://");
		return NULL;
	}
	reg = xcalloc(1, sizeof(*reg));
	reg->base = base;
	reg->clock = clock;
	reg->conf = *conf;
	reg->conf.url = dupnull(conf->url);
	reg->conf.file = dupnull(conf->file);
	reg->conf.ca_file = dupnull(conf->ca_file);
	if (reg->conf.cache_size == 0)
		reg->conf.cache_size = 1;
	if (reg->conf.negative_cache_size == 0)
		reg->conf.negative_cache_size = 1;
	if (reg->conf.max_inflight < 1)
		reg->conf.max_inflight = 1;
	TAILQ_INIT(&reg->flights);
	/* Bounded by what may wait: no eviction, no release. */
	reg->flight_idx = registry_cache_new(SIZE_MAX, NULL);
	TAILQ_INIT(&reg->done);

	if (reg->conf.file != NULL) {
		if ((reg->file = registry_records_load(reg->conf.file, err,
		    errlen)) == NULL)
			goto fail;
		return reg;
	}
	n = strlen(reg->conf.url);
	while (n > 0 && reg->conf.url[n - 1] == '/')
		n--;
	xasprintf(&reg->lookup_url, "%.*s/lookup", (int)n, reg->conf.url);
	memset(&hc, 0, sizeof(hc));
	hc.timeout_ms = reg->conf.timeout_ms;
	hc.connect_timeout_ms = reg->conf.connect_timeout_ms;
	/* max_inflight for misses, as many again for everything else. */
	hc.max_inflight = reg->conf.max_inflight * 2;
	hc.max_queue = (size_t)reg->conf.max_inflight * 16 < QUEUE_MIN ?
	    QUEUE_MIN : (size_t)reg->conf.max_inflight * 16;
	hc.response_max = RESPONSE_MAX;
	hc.tls_verify = reg->conf.tls_verify;
	hc.ca_file = reg->conf.ca_file;
	reg->http = http_client_new(base, &hc);
	reg->http_slots = (size_t)hc.max_inflight;
	reg->cache = registry_cache_new(reg->conf.cache_size, answer_release);
	reg->negative = registry_cache_new(reg->conf.negative_cache_size,
	    answer_release);
	memset(&mc, 0, sizeof(mc));
	mc.rate = reg->conf.miss_rate;
	mc.burst = reg->conf.miss_burst;
	mc.queue_max = reg->conf.miss_queue > 0 ?
	    (size_t)reg->conf.miss_queue : 1;
	mc.table_max = reg->conf.miss_table_size;
	mc.slots = reg->conf.max_inflight;
	reg->misses = misses_new(&mc, clock);
	if ((reg->pump_ev = evtimer_new(base, pump_event, reg)) == NULL) {
		snprintf(err, errlen, "registry: cannot allocate an event");
		goto fail;
	}
	return reg;
fail:
	registry_free(reg);
	return NULL;
}

void
registry_free(struct registry *reg)
{
	struct flight		*fl;
	struct registry_req	*req;

	if (reg == NULL)
		return;
	/* Drops every transfer without calling back: no flight_done(). */
	http_client_free(reg->http);
	while ((fl = TAILQ_FIRST(&reg->flights)) != NULL) {
		flight_unlink(reg, fl);
		while ((req = TAILQ_FIRST(&fl->waiters)) != NULL) {
			TAILQ_REMOVE(&fl->waiters, req, entry);
			free(req);
		}
		flight_free(fl);
	}
	while ((req = TAILQ_FIRST(&reg->done)) != NULL)
		registry_cancel(req);
	/* The fair queue's items went with their requests. */
	misses_free(reg->misses);
	if (reg->pump_ev != NULL)
		event_free(reg->pump_ev);
	registry_cache_free(reg->cache);
	registry_cache_free(reg->negative);
	registry_cache_free(reg->flight_idx);
	registry_recset_unref(reg->file);
	free(reg->lookup_url);
	registry_conf_clear(&reg->conf);
	free(reg);
}

struct registry_recset *
registry_records(const struct registry *reg)
{
	return reg->file;
}

int
registry_reload(struct registry *reg)
{
	struct registry_recset	*set;
	char			 err[512];

	if (reg->file == NULL)
		return 0;
	if ((set = registry_records_load(reg->conf.file, err, sizeof(err))) ==
	    NULL) {
		log_error("registry: reload failed, keeping %zu records: %s",
		    reg->file->n, err);
		return -1;
	}
	registry_recset_unref(reg->file);
	reg->file = set;
	log_info("registry: reloaded %s (%zu records)", reg->conf.file,
	    set->n);
	return 0;
}

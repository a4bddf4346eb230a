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
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
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
	char			 reason[256];
	TAILQ_ENTRY(registry_req) entry;
};

struct registry {
	struct event_base	*base;
	struct registry_conf	 conf;
	const struct clock	*clock;
	char			*lookup_url;
	struct http_client	*http;
	struct registry_cache	*cache;
	struct registry_recset	*file;
	struct flight_list	 flights;
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

static void
flight_free(struct flight *fl)
{
	query_clear(&fl->q);
	free(fl->body);
	free(fl);
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
	TAILQ_REMOVE(&reg->flights, fl, entry);
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
		registry_cache_put(reg->cache, fl->q.ckey, answer_ref(a));
	}
	if (a == NULL) {
		/* Fall back on what we have, if anything. */
		query_what(&fl->q, what, sizeof(what));
		old = registry_cache_get(reg->cache, fl->q.ckey);
		if (old != NULL && now < old->expires_ms) {
			a = answer_ref(old);
			src = REGISTRY_SRC_CACHE;
			log_warn("registry: refresh of %s failed (%s); keeping "
			    "the cached answer", what, why);
		} else if (old != NULL && down && old->positive &&
		    now < old->stale_until_ms) {
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
	struct flight	*fl;

	TAILQ_FOREACH(fl, &reg->flights, entry)
		if (strcmp(fl->q.ckey, ckey) == 0)
			return fl;
	return NULL;
}

static struct flight *
flight_start(struct registry *reg, const struct query *q)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
	    "Accept: application/json", NULL };
	struct flight	*fl;

	fl = xcalloc(1, sizeof(*fl));
	fl->reg = reg;
	query_copy(&fl->q, q);
	TAILQ_INIT(&fl->waiters);
	TAILQ_INSERT_TAIL(&reg->flights, fl, entry);
	fl->body = query_body(q);
	fl->hreq = http_client_post(reg->http, reg->lookup_url, hdrs, fl->body,
	    strlen(fl->body), 0, flight_done, fl);
	return fl;
}

static struct registry_req *
lookup(struct registry *reg, struct query *q, int flags, registry_cb cb,
    void *arg)
{
	struct registry_req	*req;
	struct answer		*a;
	struct flight		*fl;
	int64_t			 now, last;
	char			 what[256];

	query_key(q);
	req = xcalloc(1, sizeof(*req));
	req->reg = reg;
	req->kind = q->kind;
	req->cb = cb;
	req->arg = arg;
	now = clock_now_ms(reg->clock);

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
	} else if (a != NULL && now < a->retry_ms) {
		/* The registry just failed: stale answer without asking. */
		req_finish(req, a, REGISTRY_SRC_CACHE, 1, REGISTRY_OK,
		    a->down_why, q);
		goto done;
	}
	if ((fl = flight_find(reg, q->ckey)) == NULL)
		fl = flight_start(reg, q);
	req->state = REQ_WAITING;
	req->flight = fl;
	TAILQ_INSERT_TAIL(&fl->waiters, req, entry);
done:
	query_clear(q);
	return req;
}

struct registry_req *
registry_lookup_key(struct registry *reg, const char *subscriber_id,
    const char *key_id, int flags, registry_cb cb, void *arg)
{
	struct query	 q;

	if (reg == NULL || subscriber_id == NULL || key_id == NULL ||
	    cb == NULL)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.kind = Q_KEY;
	q.subscriber_id = xstrdup(subscriber_id);
	q.key_id = xstrdup(key_id);
	return lookup(reg, &q, flags, cb, arg);
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
	return lookup(reg, &q, 0, cb, arg);
}

void
registry_cancel(struct registry_req *req)
{
	if (req == NULL)
		return;
	if (req->state == REQ_WAITING) {
		/* The flight goes on: its answer still fills the cache. */
		TAILQ_REMOVE(&req->flight->waiters, req, entry);
	} else {
		event_del(&req->ev);
		TAILQ_REMOVE(&req->reg->done, req, entry);
	}
	answer_unref(req->ans);
	registry_recset_unref(req->list);
	free(req);
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
	if (reg->conf.max_inflight < 1)
		reg->conf.max_inflight = 1;
	TAILQ_INIT(&reg->flights);
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
	hc.max_inflight = reg->conf.max_inflight;
	hc.max_queue = (size_t)reg->conf.max_inflight * 16 < QUEUE_MIN ?
	    QUEUE_MIN : (size_t)reg->conf.max_inflight * 16;
	hc.response_max = RESPONSE_MAX;
	hc.tls_verify = reg->conf.tls_verify;
	hc.ca_file = reg->conf.ca_file;
	reg->http = http_client_new(base, &hc);
	reg->cache = registry_cache_new(reg->conf.cache_size, answer_release);
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
		TAILQ_REMOVE(&reg->flights, fl, entry);
		while ((req = TAILQ_FIRST(&fl->waiters)) != NULL) {
			TAILQ_REMOVE(&fl->waiters, req, entry);
			free(req);
		}
		flight_free(fl);
	}
	while ((req = TAILQ_FIRST(&reg->done)) != NULL)
		registry_cancel(req);
	registry_cache_free(reg->cache);
	registry_recset_unref(reg->file);
	free(reg->lookup_url);
	registry_conf_clear(&reg->conf);
	free(reg);
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

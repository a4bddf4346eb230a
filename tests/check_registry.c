/*
 * check_registry.c - registry lookups, cache policy, file registry.
 *
 * A stub registry is served with evhttp on 127.0.0.1:0 in the same event
 * loop as the registry client; it filters its records like a deployed
 * registry, counts requests and can be told to fail in each interesting
 * way.  Time is a manual clock: ttls, validity windows and the miss
 * buckets are crossed by moving it, never by sleeping.  Real time passes
 * only where the network is the point: the timeout test (300 ms), the
 * flood test against a 2 s registry, the fair-queue order (a few 200 ms
 * answers).  Each test has a watchdog alarm.
 *
 * The behavioural cases that apply to both sources run twice (loop tests,
 * _i == BE_HTTP or BE_FILE) through a small "backend" layer: set the
 * records (stub database, or file + reload) and look up.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "testutil.h"
#include "registry/registry.h"
#include "registry/registry_cache.h"
#include "registry/registry_limit.h"
#include "registry/registry_record.h"
#include "sig/sig_key.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define T0_MS		1735689600000LL		/* 2025-01-01T00:00:00Z */
#define SUB		"bpp.example.org"
#define KID		"k1"
#define DOMAIN		"ONDC:RET10"

enum backend { BE_HTTP = 0, BE_FILE = 1 };

enum stub_mode {
	STUB_RECORDS,
	STUB_5XX,
	STUB_4XX,
	STUB_MALFORMED,
	STUB_NONARRAY,
	STUB_SLOW,
};

struct slow {
	struct evhttp_request	*req;
	char			*body;
	struct event		*ev;
	TAILQ_ENTRY(slow)	 entry;
};

struct stub {
	struct evhttp		*http;
	int			 port;
	int			 requests;
	enum stub_mode		 mode;
	int			 slow_ms;
	int			 holding;	/* slow requests in progress */
	int			 max_holding;
	char			*db;		/* JSON array text */
	char			*last_body;
	TAILQ_HEAD(, slow)	 slows;
	char			 order[64][32];	/* ukId asked, in order */
	int			 norder;
};

struct got {
	int			 n;
	enum registry_status	 status;
	enum registry_source	 source;
	int			 stale;
	int			 has_key;
	char			 key_b64[64];
	char			 key_id[64];
	char			 reason[256];
	char			 url[128];
	size_t			 nrecords;
	char			 subs[8][64];
	int			 retry_after;
};

static struct event_base	*base;
static struct stub		 stub;
static struct registry		*reg;
static struct registry_conf	 rconf;
static int64_t			 now_ms;
static struct clock		 mclock = { clock_manual_now_ms, &now_ms };
static enum backend		 be;
static char			 file_path[64];
static char			 pub_a[45], pub_b[45];

/* ---- the stub registry ------------------------------------------------ */

static const char *
jstr(struct json_object *o, const char *name)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * A deployed registry's filter: every field in the request must match;
 * types in either case, as becknd's own /lookup; a record without a
 * domain serves every domain.
 */
static char *
stub_filter(const char *body)
{
	static const char *const kid_names[] = { "ukId", "unique_key_id",
	    "key_id", "pub_key_id" };
	struct json_object	*req, *db, *out, *rec;
	const char		*want, *have;
	char			*s;
	size_t			 i, j;
	int			 ok;

	req = json_tokener_parse(body);
	db = json_tokener_parse(stub.db);
	out = json_object_new_array();
	for (i = 0; db != NULL && i < json_object_array_length(db); i++) {
		rec = json_object_array_get_idx(db, i);
		ok = 1;
		if (req != NULL && (want = jstr(req, "subscriber_id")) !=
		    NULL && ((have = jstr(rec, "subscriber_id")) == NULL ||
		    strcmp(want, have) != 0))
			ok = 0;
		if (req != NULL && (want = jstr(req, "type")) != NULL &&
		    ((have = jstr(rec, "type")) == NULL ||
		    strcasecmp(want, have) != 0))
			ok = 0;
		if (req != NULL && (want = jstr(req, "domain")) != NULL &&
		    (have = jstr(rec, "domain")) != NULL &&
		    strcmp(want, have) != 0)
			ok = 0;
		if (req != NULL && (want = jstr(req, "ukId")) != NULL) {
			for (j = 0; j < 4; j++)
				if ((have = jstr(rec, kid_names[j])) != NULL)
					break;
			if (have == NULL || strcmp(want, have) != 0)
				ok = 0;
		}
		if (ok)
			json_object_array_add(out, json_object_get(rec));
	}
	s = xstrdup(json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	json_object_put(db);
	json_object_put(req);
	return s;
}

/* Remember which key id each request asked for. */
static void
stub_record_order(const char *body)
{
	struct json_object	*o = json_tokener_parse(body);
	const char		*kid;

	if (o != NULL && (kid = jstr(o, "ukId")) != NULL &&
	    stub.norder < 64)
		snprintf(stub.order[stub.norder++], sizeof(stub.order[0]),
		    "%s", kid);
	json_object_put(o);
}

/* The position of kid in the stub's order, -1 when never asked. */
static int
order_of(const char *kid)
{
	int	 i;

	for (i = 0; i < stub.norder; i++)
		if (strcmp(stub.order[i], kid) == 0)
			return i;
	return -1;
}

static void
stub_reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

static void
stub_slow_fire(evutil_socket_t fd, short what, void *arg)
{
	struct slow	*s = arg;
	char		*out;

	out = stub_filter(s->body);
	stub_reply(s->req, 200, out);
	free(out);
	stub.holding--;
	TAILQ_REMOVE(&stub.slows, s, entry);
	event_free(s->ev);
	free(s->body);
	free(s);
}

static void
stub_handler(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(in);
	struct slow	*s;
	struct timeval	 tv;
	char		*out;

	stub.requests++;
	free(stub.last_body);
	stub.last_body = xmalloc(len + 1);
	evbuffer_copyout(in, stub.last_body, len);
	stub.last_body[len] = '\0';
	stub_record_order(stub.last_body);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST ||
	    strcmp(evhttp_request_get_uri(req), "/lookup") != 0) {
		stub_reply(req, 404, "{}");
		return;
	}
	switch (stub.mode) {
	case STUB_RECORDS:
		out = stub_filter(stub.last_body);
		stub_reply(req, 200, out);
		free(out);
		break;
	case STUB_5XX:
		stub_reply(req, 503, "{\"error\":\"down\"}");
		break;
	case STUB_4XX:
		stub_reply(req, 400, "{\"error\":\"bad request\"}");
		break;
	case STUB_MALFORMED:
		stub_reply(req, 200, "[{\"subscriber_id\": \"x\", ");
		break;
	case STUB_NONARRAY:
		stub_reply(req, 200, "{\"message\":{\"ack\":{\"status\":"
		    "\"NACK\"}}}");
		break;
	case STUB_SLOW:
		s = xcalloc(1, sizeof(*s));
		s->req = req;
		s->body = xstrdup(stub.last_body);
		s->ev = evtimer_new(base, stub_slow_fire, s);
		tv.tv_sec = stub.slow_ms / 1000;
		tv.tv_usec = (stub.slow_ms % 1000) * 1000;
		evtimer_add(s->ev, &tv);
		TAILQ_INSERT_TAIL(&stub.slows, s, entry);
		if (++stub.holding > stub.max_holding)
			stub.max_holding = stub.holding;
		break;
	}
}

static void
stub_start(void)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof(sin);

	stub.http = evhttp_new(base);
	ck_assert_ptr_nonnull(stub.http);
	evhttp_set_gencb(stub.http, stub_handler, NULL);
	bs = evhttp_bind_socket_with_handle(stub.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &slen), 0);
	stub.port = ntohs(sin.sin_port);
}

/* The registry goes away: listener and connections closed. */
static void
stub_stop(void)
{
	struct slow	*s;

	while ((s = TAILQ_FIRST(&stub.slows)) != NULL) {
		TAILQ_REMOVE(&stub.slows, s, entry);
		event_free(s->ev);
		free(s->body);
		free(s);
	}
	if (stub.http != NULL)
		evhttp_free(stub.http);
	stub.http = NULL;
}

/* ---- records ----------------------------------------------------------- */

static struct json_object *
rec(const char *sub, const char *kid, const char *type, const char *domain,
    const char *key, const char *status, const char *from, const char *until)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "subscriber_id", json_object_new_string(sub));
	if (kid != NULL)
		json_object_object_add(o, "ukId", json_object_new_string(kid));
	json_object_object_add(o, "subscriber_url",
	    json_object_new_string("https://bpp.example.org/beckn"));
	if (type != NULL)
		json_object_object_add(o, "type",
		    json_object_new_string(type));
	if (domain != NULL)
		json_object_object_add(o, "domain",
		    json_object_new_string(domain));
	if (key != NULL)
		json_object_object_add(o, "signing_public_key",
		    json_object_new_string(key));
	json_object_object_add(o, "encr_public_key",
	    json_object_new_string("MCowBQYDK2VuAyEAencrkeyplaceholder"));
	if (status != NULL)
		json_object_object_add(o, "status",
		    json_object_new_string(status));
	if (from != NULL)
		json_object_object_add(o, "valid_from",
		    json_object_new_string(from));
	if (until != NULL)
		json_object_object_add(o, "valid_until",
		    json_object_new_string(until));
	return o;
}

/* The usual good record of SUB/KID with key k. */
static struct json_object *
rec_ok(const char *key)
{
	return rec(SUB, KID, "BPP", DOMAIN, key, "SUBSCRIBED",
	    "2024-01-01T00:00:00.000Z", "2030-01-01T00:00:00.000Z");
}

static void
write_file(const char *text)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(file_path, "w"));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* Replace the backend's records (array of json objects, NULL-ended). */
static void
set_raw(const char *text)
{
	if (be == BE_HTTP) {
		free(stub.db);
		stub.db = xstrdup(text);
	} else {
		write_file(text);
		if (reg != NULL)
			ck_assert_int_eq(registry_reload(reg), 0);
	}
}

static void
set_records(struct json_object *first, ...)
{
	struct json_object	*arr = json_object_new_array(), *o;
	va_list			 ap;

	va_start(ap, first);
	for (o = first; o != NULL; o = va_arg(ap, struct json_object *))
		json_object_array_add(arr, o);
	va_end(ap);
	set_raw(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
}

/* ---- the loop ------------------------------------------------------- */

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *n >= want or ms of real time passed. */
static void
run_until(const int *n, int want, int ms)
{
	struct event	*dl;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	int		 expired = 0;

	dl = evtimer_new(base, deadline_cb, &expired);
	evtimer_add(dl, &tv);
	while (*n < want && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(dl);
}

/* Run the loop for about ms (to show nothing more happens). */
static void
run_for(int ms)
{
	int	 never = 0;

	run_until(&never, 1, ms);
}

static void
got_cb(const struct registry_result *res, void *arg)
{
	struct got	*g = arg;
	size_t		 i;

	g->n++;
	g->status = res->status;
	g->source = res->source;
	g->stale = res->stale;
	g->retry_after = res->retry_after_s;
	ck_assert_int_eq(res->retry_after_s > 0,
	    res->status == REGISTRY_LIMITED);
	ck_assert_ptr_nonnull(res->reason);
	snprintf(g->reason, sizeof(g->reason), "%s", res->reason);
	g->has_key = 0;
	g->key_id[0] = g->url[0] = '\0';
	if (res->record != NULL) {
		if (res->record->key != NULL) {
			g->has_key = 1;
			sig_key_public_b64(res->record->key, g->key_b64);
		}
		snprintf(g->key_id, sizeof(g->key_id), "%s",
		    res->record->key_id != NULL ? res->record->key_id : "");
		snprintf(g->url, sizeof(g->url), "%s",
		    res->record->url != NULL ? res->record->url : "");
	}
	if (res->status == REGISTRY_OK && res->record == NULL)
		ck_assert_uint_gt(res->nrecords, 0);
	g->nrecords = res->nrecords;
	for (i = 0; i < res->nrecords && i < 8; i++)
		snprintf(g->subs[i], sizeof(g->subs[i]), "%s",
		    res->records[i]->subscriber_id);
}

/* Start a key lookup from peer (NULL: internal) into g. */
static struct registry_req *
ask(const char *peer, const char *sub, const char *kid, int flags,
    struct got *g)
{
	struct registry_req	*r;

	memset(g, 0, sizeof(*g));
	r = registry_lookup_key(reg, sub, kid, flags, peer, got_cb, g);
	ck_assert_ptr_nonnull(r);
	/* Never called back from inside the lookup. */
	ck_assert_int_eq(g->n, 0);
	return r;
}

/* One key lookup from peer, waited for. */
static struct got
lookup_from(const char *peer, const char *sub, const char *kid, int flags)
{
	struct got	 g;

	ask(peer, sub, kid, flags, &g);
	run_until(&g.n, 1, 5000);
	ck_assert_int_eq(g.n, 1);
	return g;
}

/* One key lookup of an internal caller, waited for. */
static struct got
lookup_key(const char *sub, const char *kid, int flags)
{
	return lookup_from(NULL, sub, kid, flags);
}

static struct registry_stats
stats(void)
{
	struct registry_stats	 st;

	registry_stats(reg, &st);
	return st;
}

/* A lookup's records, referenced past the callback. */
struct kept {
	int			 n;
	enum registry_status	 status;
	enum registry_source	 source;
	size_t			 nrecords;
	struct registry_record	*record;
	struct registry_record	*recs[8];
};

static void
kept_cb(const struct registry_result *res, void *arg)
{
	struct kept	*k = arg;
	size_t		 i;

	k->n++;
	k->status = res->status;
	k->source = res->source;
	k->nrecords = res->nrecords;
	if (res->record != NULL)
		k->record = registry_record_ref(res->record);
	for (i = 0; i < res->nrecords && i < 8; i++)
		k->recs[i] = registry_record_ref(res->records[i]);
}

static void
kept_clear(struct kept *k)
{
	size_t	 i;

	registry_record_unref(k->record);
	for (i = 0; i < 8; i++)
		registry_record_unref(k->recs[i]);
	memset(k, 0, sizeof(*k));
}

static void
kept_wait(struct kept *k, struct registry_req *r)
{
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(k->n, 0);
	run_until(&k->n, 1, 5000);
	ck_assert_int_eq(k->n, 1);
}

/* Key lookup into k (cleared first). */
static void
keep_key(struct kept *k, const char *sub, const char *kid)
{
	kept_clear(k);
	kept_wait(k, registry_lookup_key(reg, sub, kid, 0, NULL, kept_cb, k));
}

static void
keep_participants(struct kept *k, const char *type, const char *domain,
    const char *sub)
{
	kept_clear(k);
	kept_wait(k, registry_lookup_participants(reg, type, domain, sub,
	    kept_cb, k));
}

static void
keep_gateways(struct kept *k, const char *domain)
{
	kept_clear(k);
	kept_wait(k, registry_lookup_gateways(reg, domain, kept_cb, k));
}

/* ---- fixtures -------------------------------------------------------- */

static void
registry_start(void)
{
	char	 err[256];

	ck_assert_ptr_nonnull(reg = registry_new(base, &rconf, &mclock, err,
	    sizeof(err)));
}

static void
gen_key(char out[45])
{
	struct sig_key	*k = sig_key_generate();

	ck_assert_ptr_nonnull(k);
	sig_key_public_b64(k, out);
	sig_key_free(k);
}

static void
setup(void)
{
	char	*url;
	int	 fd;

	alarm(getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ? 120 : 20);
	if (getenv("BECKND_TEST_VERBOSE") == NULL)
		log_set_level(LOG_LVL_ERROR);
	now_ms = T0_MS;
	gen_key(pub_a);
	gen_key(pub_b);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&stub, 0, sizeof(stub));
	TAILQ_INIT(&stub.slows);
	stub.db = xstrdup("[]");
	stub_start();
	registry_conf_defaults(&rconf);
	rconf.timeout_ms = 3000;
	rconf.connect_timeout_ms = 1000;
	xasprintf(&url, "http://127.0.0.1:%d", stub.port);
	rconf.url = url;
	strcpy(file_path, "/tmp/becknd-registry-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(file_path), 0);
	close(fd);
	write_file("[]");
	reg = NULL;
	be = BE_HTTP;
}

/* Start the registry in the loop test's mode. */
static void
start_backend(int i)
{
	be = (enum backend)i;
	if (be == BE_FILE) {
		free(rconf.url);
		rconf.url = NULL;
		rconf.file = xstrdup(file_path);
	}
	registry_start();
}

static void
teardown(void)
{
	registry_free(reg);
	reg = NULL;
	stub_stop();
	free(stub.db);
	free(stub.last_body);
	registry_conf_clear(&rconf);
	event_base_free(base);
	base = NULL;
	unlink(file_path);
	alarm(0);
}

static enum registry_source
fresh_source(void)
{
	return be == BE_HTTP ? REGISTRY_SRC_REGISTRY : REGISTRY_SRC_FILE;
}

static int
requests(void)
{
	return stub.requests;
}

/* ---- behaviour on both backends -------------------------------------- */

START_TEST(hit)
{
	struct got	 g;
	struct json_object *body;

	start_backend(_i);
	set_records(rec_ok(pub_a), rec(SUB, "k2", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.source, fresh_source());
	ck_assert_int_eq(g.stale, 0);
	ck_assert_int_eq(g.has_key, 1);
	ck_assert_str_eq(g.key_b64, pub_a);
	ck_assert_str_eq(g.key_id, KID);
	ck_assert_str_eq(g.url, "https://bpp.example.org/beckn");
	ck_assert_str_eq(g.reason, "ok");
	g = lookup_key(SUB, "k2", 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_b);
	/* Second lookup of k1: from the cache, no request. */
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_a);
	if (be == BE_HTTP) {
		ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
		ck_assert_int_eq(requests(), 2);
		/* The filter names the key both ways registries read it. */
		body = json_tokener_parse(stub.last_body);
		ck_assert_ptr_nonnull(body);
		ck_assert_str_eq(jstr(body, "subscriber_id"), SUB);
		ck_assert_str_eq(jstr(body, "ukId"), "k2");
		ck_assert_str_eq(jstr(body, "unique_key_id"), "k2");
		json_object_put(body);
	} else {
		ck_assert_int_eq(g.source, REGISTRY_SRC_FILE);
		ck_assert_int_eq(requests(), 0);
	}
}
END_TEST

START_TEST(miss)
{
	struct got	 g;

	start_backend(_i);
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, "nope", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(g.has_key, 0);
	ck_assert_ptr_nonnull(strstr(g.reason, "not found"));
	g = lookup_key("other.example.org", KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(requests(), be == BE_HTTP ? 2 : 0);
}
END_TEST

/* Records answer with the key id under any of its four names. */
START_TEST(key_id_names)
{
	static const char *const names[] = { "ukId", "unique_key_id",
	    "key_id", "pub_key_id" };
	struct json_object	*o;
	struct got		 g;
	char			 kid[16];
	size_t			 i;

	start_backend(_i);
	for (i = 0; i < 4; i++) {
		snprintf(kid, sizeof(kid), "kid%zu", i);
		o = rec(SUB, NULL, "BPP", DOMAIN, pub_b, "SUBSCRIBED", NULL,
		    NULL);
		json_object_object_add(o, names[i], json_object_new_string(kid));
		set_records(o, NULL);
		g = lookup_key(SUB, kid, 0);
		ck_assert_int_eq(g.status, REGISTRY_OK);
		ck_assert_str_eq(g.key_id, kid);
		ck_assert_str_eq(g.key_b64, pub_b);
	}
}
END_TEST

START_TEST(expiry_valid_until)
{
	struct got	 g;

	start_backend(_i);
	/* Valid until T0 + 60 s, well inside cache_ttl (300 s). */
	set_records(rec(SUB, KID, "BPP", DOMAIN, pub_a, "SUBSCRIBED",
	    "2024-01-01T00:00:00Z", "2025-01-01T05:31:00+05:30"), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	now_ms = T0_MS + 59999;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(requests(), be == BE_HTTP ? 1 : 0);
	/* At valid_until the cached key dies with it: asked again, and
	 * the record the registry still serves is no longer usable. */
	now_ms = T0_MS + 60000;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_int_eq(g.source, fresh_source());
	ck_assert_ptr_nonnull(strstr(g.reason, "expired"));
	ck_assert_int_eq(requests(), be == BE_HTTP ? 2 : 0);
}
END_TEST

START_TEST(not_subscribed)
{
	struct got	 g;

	start_backend(_i);
	set_records(rec(SUB, KID, "BPP", DOMAIN, pub_a, "INITIATED", NULL,
	    NULL), rec(SUB, "k2", "BPP", DOMAIN, pub_a, "SUBSCRIBED",
	    "2025-06-01T00:00:00Z", NULL), rec(SUB, "k3", "BPP", DOMAIN,
	    "not-a-key", "SUBSCRIBED", NULL, NULL), rec(SUB, "k4", "BPP",
	    DOMAIN, pub_b, NULL, NULL, NULL), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_str_eq(g.key_id, KID);	/* the rejected record */
	ck_assert_ptr_nonnull(strstr(g.reason, "INITIATED"));
	g = lookup_key(SUB, "k2", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "not valid before"));
	g = lookup_key(SUB, "k3", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "signing_public_key"));
	/* No status at all: usable. */
	g = lookup_key(SUB, "k4", 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_b);
}
END_TEST

/* A verification failure with a cached key refreshes it once. */
START_TEST(rotation)
{
	struct got	 g;

	start_backend(_i);
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_str_eq(g.key_b64, pub_a);
	now_ms += 10000;
	/* The participant rotates its key under the same key id. */
	set_records(rec_ok(pub_b), NULL);
	if (be == BE_HTTP) {
		g = lookup_key(SUB, KID, 0);
		ck_assert_str_eq(g.key_b64, pub_a);	/* still cached */
		ck_assert_int_eq(requests(), 1);
	}
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_b);
	ck_assert_int_eq(g.source, fresh_source());
	ck_assert_int_eq(requests(), be == BE_HTTP ? 2 : 0);
	g = lookup_key(SUB, KID, 0);
	ck_assert_str_eq(g.key_b64, pub_b);
	ck_assert_int_eq(requests(), be == BE_HTTP ? 2 : 0);
}
END_TEST

START_TEST(gateways_and_participants)
{
	struct got	 g;

	start_backend(_i);
	set_records(rec("bg1.example.org", "g1", "BG", DOMAIN, pub_a,
	    "SUBSCRIBED", NULL, NULL), rec("bg2.example.org", "g2", "BG",
	    "ONDC:RET11", pub_a, "SUBSCRIBED", NULL, NULL),
	    rec("bg3.example.org", "g3", "BG", DOMAIN, pub_a, "EXPIRED",
	    NULL, NULL), rec(SUB, KID, "BPP", DOMAIN, pub_a, "SUBSCRIBED",
	    NULL, NULL), rec("bap.example.org", "b1", "BAP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	memset(&g, 0, sizeof(g));
	registry_lookup_gateways(reg, DOMAIN, got_cb, &g);
	ck_assert_int_eq(g.n, 0);
	run_until(&g.n, 1, 5000);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(g.nrecords, 1);
	ck_assert_str_eq(g.subs[0], "bg1.example.org");
	if (be == BE_HTTP) {
		struct json_object *body = json_tokener_parse(stub.last_body);

		ck_assert_str_eq(jstr(body, "type"), "BG");
		ck_assert_str_eq(jstr(body, "domain"), DOMAIN);
		ck_assert_ptr_null(jstr(body, "subscriber_id"));
		json_object_put(body);
	}
	memset(&g, 0, sizeof(g));
	registry_lookup_participants(reg, "BPP", DOMAIN, SUB, got_cb, &g);
	run_until(&g.n, 1, 5000);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(g.nrecords, 1);
	ck_assert_str_eq(g.subs[0], SUB);
	memset(&g, 0, sizeof(g));
	registry_lookup_participants(reg, "BAP", DOMAIN, NULL, got_cb, &g);
	run_until(&g.n, 1, 5000);
	ck_assert_uint_eq(g.nrecords, 1);
	ck_assert_str_eq(g.subs[0], "bap.example.org");
	/* No gateway in that domain, and only an expired one in another. */
	memset(&g, 0, sizeof(g));
	registry_lookup_gateways(reg, "nowhere", got_cb, &g);
	run_until(&g.n, 1, 5000);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_uint_eq(g.nrecords, 0);
	set_records(rec("bg3.example.org", "g3", "BG", "D9", pub_a,
	    "EXPIRED", NULL, NULL), NULL);
	memset(&g, 0, sizeof(g));
	registry_lookup_gateways(reg, "D9", got_cb, &g);
	run_until(&g.n, 1, 5000);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "EXPIRED"));
}
END_TEST

/* Types in either case: key, participant and gateway lookups alike. */
START_TEST(lower_case_types)
{
	struct registry_match	 m;
	struct kept		 k;
	struct json_object	*body;
	struct got		 g;
	int			 n;

	memset(&k, 0, sizeof(k));
	start_backend(_i);
	set_records(rec(SUB, KID, "bpp", DOMAIN, pub_a, "SUBSCRIBED", NULL,
	    NULL), rec("bg.example.org", "g1", "bg", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), rec("bap.example.org", "b1", "Bap",
	    DOMAIN, pub_b, "SUBSCRIBED", NULL, NULL), rec("bg2.example.org",
	    "g2", "BG", NULL, pub_b, "SUBSCRIBED", NULL, NULL), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_a);

	keep_participants(&k, "BPP", DOMAIN, NULL);
	ck_assert_int_eq(k.status, REGISTRY_OK);
	ck_assert_uint_eq(k.nrecords, 1);
	ck_assert_str_eq(k.recs[0]->subscriber_id, SUB);
	ck_assert_str_eq(k.recs[0]->type, "bpp");	/* as registered */
	n = requests();
	if (be == BE_HTTP) {
		/* Asked in the registries' spelling. */
		body = json_tokener_parse(stub.last_body);
		ck_assert_str_eq(jstr(body, "type"), "BPP");
		json_object_put(body);
	}
	/* Another spelling is the same question: one cache entry. */
	keep_participants(&k, "bpp", DOMAIN, NULL);
	ck_assert_int_eq(k.status, REGISTRY_OK);
	ck_assert_uint_eq(k.nrecords, 1);
	ck_assert_int_eq(requests(), n);
	if (be == BE_HTTP)
		ck_assert_int_eq(k.source, REGISTRY_SRC_CACHE);
	keep_participants(&k, "BAP", DOMAIN, NULL);
	ck_assert_uint_eq(k.nrecords, 1);
	ck_assert_str_eq(k.recs[0]->subscriber_id, "bap.example.org");

	/* A gateway without a domain serves every domain. */
	keep_gateways(&k, DOMAIN);
	ck_assert_int_eq(k.status, REGISTRY_OK);
	ck_assert_uint_eq(k.nrecords, 2);
	ck_assert_str_eq(k.recs[0]->subscriber_id, "bg.example.org");
	ck_assert_str_eq(k.recs[1]->subscriber_id, "bg2.example.org");
	keep_gateways(&k, "ONDC:RET11");
	ck_assert_uint_eq(k.nrecords, 1);
	ck_assert_str_eq(k.recs[0]->subscriber_id, "bg2.example.org");

	/* The proxy's gateway check: the key's record is a BG. */
	keep_key(&k, "bg.example.org", "g1");
	ck_assert_int_eq(k.status, REGISTRY_OK);
	memset(&m, 0, sizeof(m));
	m.type = "BG";
	m.now_ms = now_ms;
	m.need_key = 1;
	ck_assert_int_eq(registry_record_check(k.record, &m, NULL, 0),
	    REGISTRY_MATCH);
	keep_key(&k, SUB, KID);
	ck_assert_int_eq(registry_record_check(k.record, &m, NULL, 0),
	    REGISTRY_OTHER);
	kept_clear(&k);
}
END_TEST

/* A record without a type is no gateway (nor BPP, nor BAP). */
START_TEST(untyped_not_gateway)
{
	struct registry_match	 m;
	struct kept		 k;
	char			 why[128];

	memset(&k, 0, sizeof(k));
	start_backend(_i);
	set_records(rec("bg.example.org", "g1", NULL, DOMAIN, pub_a,
	    "SUBSCRIBED", NULL, NULL), NULL);
	keep_gateways(&k, DOMAIN);
	ck_assert_int_eq(k.status, REGISTRY_NOT_FOUND);
	ck_assert_uint_eq(k.nrecords, 0);
	keep_participants(&k, "BPP", DOMAIN, NULL);
	ck_assert_int_eq(k.status, REGISTRY_NOT_FOUND);
	keep_participants(&k, NULL, DOMAIN, NULL);
	ck_assert_int_eq(k.status, REGISTRY_OK);
	ck_assert_uint_eq(k.nrecords, 1);
	/* Its key is found (any type), and the gateway check refuses it. */
	keep_key(&k, "bg.example.org", "g1");
	ck_assert_int_eq(k.status, REGISTRY_OK);
	memset(&m, 0, sizeof(m));
	m.type = "BG";
	m.now_ms = now_ms;
	ck_assert_int_eq(registry_record_check(k.record, &m, why,
	    sizeof(why)), REGISTRY_OTHER);
	ck_assert_str_eq(why, "registered without a type, not as BG");
	kept_clear(&k);
}
END_TEST

/* One key id, two domains: both records come back, told apart by domain. */
START_TEST(one_key_two_domains)
{
	struct registry_match	 m;
	struct kept		 k;
	char			 why[128];

	memset(&k, 0, sizeof(k));
	start_backend(_i);
	set_records(rec(SUB, KID, "BPP", DOMAIN, pub_a, "SUBSCRIBED", NULL,
	    NULL), rec(SUB, "k2", "BPP", DOMAIN, pub_a, "SUBSCRIBED", NULL,
	    NULL), rec(SUB, KID, "BAP", DOMAIN, pub_b, "EXPIRED", NULL, NULL),
	    rec(SUB, KID, "bpp", "ONDC:RET11", pub_b, "SUBSCRIBED", NULL,
	    NULL), NULL);
	keep_key(&k, SUB, KID);
	ck_assert_int_eq(k.status, REGISTRY_OK);
	/* Every usable record of the key, in order; record is the first. */
	ck_assert_uint_eq(k.nrecords, 2);
	ck_assert_ptr_eq(k.record, k.recs[0]);
	ck_assert_str_eq(k.recs[0]->domain, DOMAIN);
	ck_assert_str_eq(k.recs[1]->domain, "ONDC:RET11");
	ck_assert_ptr_nonnull(k.recs[0]->key);
	ck_assert_ptr_nonnull(k.recs[1]->key);

	memset(&m, 0, sizeof(m));
	m.type = "BPP";
	m.domain = "ONDC:RET11";
	m.now_ms = now_ms;
	m.need_key = 1;
	ck_assert_int_eq(registry_record_check(k.recs[0], &m, why,
	    sizeof(why)), REGISTRY_OTHER);
	ck_assert_str_eq(why, "registered for domain ONDC:RET10, not "
	    "ONDC:RET11");
	ck_assert_int_eq(registry_record_check(k.recs[1], &m, why,
	    sizeof(why)), REGISTRY_MATCH);
	m.domain = DOMAIN;
	ck_assert_int_eq(registry_record_check(k.recs[0], &m, NULL, 0),
	    REGISTRY_MATCH);
	ck_assert_int_eq(registry_record_check(k.recs[1], &m, NULL, 0),
	    REGISTRY_OTHER);
	m.domain = "ONDC:RET12";
	ck_assert_int_eq(registry_record_check(k.recs[0], &m, NULL, 0),
	    REGISTRY_OTHER);
	ck_assert_int_eq(registry_record_check(k.recs[1], &m, NULL, 0),
	    REGISTRY_OTHER);
	kept_clear(&k);
}
END_TEST

/* Bad records are skipped, good ones still served. */
START_TEST(malformed_records_skipped)
{
	struct got	 g;
	char		*text;

	start_backend(_i);
	xasprintf(&text, "[1, \"x\", null, {\"ukId\":\"k1\"},"
	    "{\"subscriber_id\":5,\"ukId\":\"k1\"},"
	    "{\"subscriber_id\":\"%s\",\"ukId\":\"k1\",\"valid_until\":"
	    "\"someday\"},"
	    "{\"subscriber_id\":\"%s\",\"ukId\":\"k1\",\"status\":[]},"
	    "{\"subscriber_id\":\"%s\",\"ukId\":\"k1\",\"status\":"
	    "\"SUBSCRIBED\",\"signing_public_key\":\"%s\","
	    "\"valid_from\":\"2024-01-01T00:00:00Z\","
	    "\"valid_until\":\"2030-01-01T00:00:00.123456Z\"}]",
	    SUB, SUB, SUB, pub_a);
	set_raw(text);
	free(text);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_str_eq(g.key_b64, pub_a);
}
END_TEST

/* ---- HTTP only ------------------------------------------------------- */

START_TEST(negative_cache)
{
	struct got	 g[50];
	int		 i, n = 0;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	memset(g, 0, sizeof(g));
	g[0] = lookup_key(SUB, "unknown", 0);
	ck_assert_int_eq(g[0].status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(requests(), 1);
	/* A flood of the same unknown key id within negative_ttl. */
	memset(g, 0, sizeof(g));
	for (i = 0; i < 50; i++)
		registry_lookup_key(reg, SUB, "unknown", 0, NULL, got_cb,
		    &g[i]);
	for (i = 0; i < 50; i++) {
		run_until(&g[i].n, 1, 5000);
		ck_assert_int_eq(g[i].status, REGISTRY_NOT_FOUND);
		ck_assert_int_eq(g[i].source, REGISTRY_SRC_CACHE);
		n += g[i].n;
	}
	ck_assert_int_eq(n, 50);
	ck_assert_int_eq(requests(), 1);
	now_ms += rconf.negative_ttl_ms - 1;
	g[0] = lookup_key(SUB, "unknown", 0);
	ck_assert_int_eq(requests(), 1);
	/* Once negative_ttl passed, the key is asked for again and found. */
	now_ms += 1;
	set_records(rec_ok(pub_a), rec(SUB, "unknown", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	g[0] = lookup_key(SUB, "unknown", 0);
	ck_assert_int_eq(requests(), 2);
	ck_assert_int_eq(g[0].status, REGISTRY_OK);
	ck_assert_str_eq(g[0].key_b64, pub_b);
}
END_TEST

START_TEST(expiry_ttl)
{
	struct got	 g;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.source, REGISTRY_SRC_REGISTRY);
	now_ms = T0_MS + 300000 - 1;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	ck_assert_int_eq(requests(), 1);
	now_ms = T0_MS + 300000;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.source, REGISTRY_SRC_REGISTRY);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(requests(), 2);
}
END_TEST

START_TEST(single_flight)
{
	struct got	*g;
	int		 i, done = 0;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = xcalloc(100, sizeof(*g));
	for (i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(registry_lookup_key(reg, SUB, KID, 0,
		    NULL, got_cb, &g[i]));
	for (i = 0; i < 100; i++) {
		run_until(&g[i].n, 1, 5000);
		ck_assert_int_eq(g[i].n, 1);
		ck_assert_int_eq(g[i].status, REGISTRY_OK);
		ck_assert_int_eq(g[i].source, REGISTRY_SRC_REGISTRY);
		ck_assert_str_eq(g[i].key_b64, pub_a);
		done += g[i].n;
	}
	ck_assert_int_eq(done, 100);
	ck_assert_int_eq(requests(), 1);
	/* And nobody is called twice. */
	run_for(50);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(g[i].n, 1);
	free(g);
}
END_TEST

static void
stale_case(int stop)
{
	struct got	 g;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	if (stop)
		stub_stop();
	else
		stub.mode = STUB_5XX;
	/* Expired by ttl, inside stale_ttl: served stale. */
	now_ms = T0_MS + 300000 + 3600000 - rconf.negative_ttl_ms - 1;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.stale, 1);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	ck_assert_str_eq(g.key_b64, pub_a);
	ck_assert_ptr_nonnull(strstr(g.reason, stop ? "unreachable" : "503"));
	ck_assert_int_eq(requests(), stop ? 1 : 2);
	/* For negative_ttl the next lookups do not wait for the registry. */
	now_ms += rconf.negative_ttl_ms - 1;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.stale, 1);
	ck_assert_ptr_nonnull(strstr(g.reason, stop ? "unreachable" : "503"));
	ck_assert_int_eq(requests(), stop ? 1 : 2);
	now_ms += 1;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.stale, 1);
	ck_assert_int_eq(requests(), stop ? 1 : 3);
	/* Past stale_ttl: a clear failure. */
	now_ms = T0_MS + 300000 + 3600000;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_UNAVAILABLE);
	ck_assert_int_eq(g.has_key, 0);
	/* Nothing cached for another key: a clear failure too. */
	g = lookup_key(SUB, "k9", 0);
	ck_assert_int_eq(g.status, REGISTRY_UNAVAILABLE);
	ck_assert_int_eq(requests(), stop ? 1 : 5);
}

START_TEST(stale_if_error_stopped)
{
	stale_case(1);
}
END_TEST

START_TEST(stale_if_error_5xx)
{
	stale_case(0);
}
END_TEST

/* A 4xx is not an outage: no stale answer. */
START_TEST(http_4xx)
{
	struct got	 g;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	stub.mode = STUB_4XX;
	now_ms += 300000;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_UNAVAILABLE);
	ck_assert_int_eq(g.stale, 0);
	ck_assert_ptr_nonnull(strstr(g.reason, "HTTP 400"));
}
END_TEST

/* Forced refresh: rate limited per key; registry down keeps the cache. */
START_TEST(force_refresh_rate_limit)
{
	struct got	 g;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	/* Right after a fetch the key is as fresh as it gets. */
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(requests(), 1);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	now_ms += 5000;
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(requests(), 2);
	ck_assert_int_eq(g.source, REGISTRY_SRC_REGISTRY);
	now_ms += 4999;
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(requests(), 2);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	/* A forced refresh that meets an outage keeps the fresh entry. */
	now_ms += 1;
	stub.mode = STUB_5XX;
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(requests(), 3);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.stale, 0);
	ck_assert_str_eq(g.key_b64, pub_a);
	/* ... and the failed attempt counts for the rate limit. */
	g = lookup_key(SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(requests(), 3);
}
END_TEST

START_TEST(malformed_json)
{
	struct got	 g;

	registry_start();
	stub.mode = STUB_MALFORMED;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "malformed JSON"));
	/* Errors are not cached as answers. */
	stub.mode = STUB_RECORDS;
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(requests(), 2);
}
END_TEST

START_TEST(non_array)
{
	struct got	 g;

	registry_start();
	stub.mode = STUB_NONARRAY;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "not a JSON array"));
}
END_TEST

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(*(int *)arg)++;
}

START_TEST(slow_registry)
{
	struct got	 slow, fast;
	struct event	*tick;
	struct timeval	 t0, t1, tv = { 0, 20000 };
	int		 ticks = 0;
	long		 ms;

	rconf.timeout_ms = 300;
	registry_start();
	set_records(rec_ok(pub_a), rec(SUB, "k2", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	fast = lookup_key(SUB, "k2", 0);
	ck_assert_int_eq(fast.status, REGISTRY_OK);
	stub.mode = STUB_SLOW;
	stub.slow_ms = 10000;
	memset(&slow, 0, sizeof(slow));
	memset(&fast, 0, sizeof(fast));
	gettimeofday(&t0, NULL);
	registry_lookup_key(reg, SUB, KID, 0, NULL, got_cb, &slow);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, &ticks);
	event_add(tick, &tv);
	/* While the registry stalls, the loop keeps serving. */
	run_until(&stub.requests, 2, 2000);
	registry_lookup_key(reg, SUB, "k2", 0, NULL, got_cb, &fast);
	run_until(&fast.n, 1, 2000);
	ck_assert_int_eq(fast.n, 1);
	ck_assert_int_eq(slow.n, 0);
	ck_assert_int_eq(fast.status, REGISTRY_OK);
	run_until(&slow.n, 1, 3000);
	gettimeofday(&t1, NULL);
	event_free(tick);
	ck_assert_int_eq(slow.n, 1);
	ck_assert_int_eq(slow.status, REGISTRY_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(slow.reason, "unreachable"));
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	ck_assert_int_ge(ms, 250);
	ck_assert_int_lt(ms, 2500);
	ck_assert_int_ge(ticks, 5);
}
END_TEST

/* max_inflight bounds concurrent requests; the rest wait their turn. */
START_TEST(bounded_concurrency)
{
	struct got	 g[6];
	char		 kid[8];
	int		 i;

	rconf.max_inflight = 2;
	registry_start();
	set_records(rec_ok(pub_a), NULL);
	stub.mode = STUB_SLOW;
	stub.slow_ms = 30;
	memset(g, 0, sizeof(g));
	for (i = 0; i < 6; i++) {
		snprintf(kid, sizeof(kid), "x%d", i);
		registry_lookup_key(reg, SUB, kid, 0, NULL, got_cb, &g[i]);
	}
	for (i = 0; i < 6; i++) {
		run_until(&g[i].n, 1, 5000);
		ck_assert_int_eq(g[i].status, REGISTRY_NOT_FOUND);
	}
	ck_assert_int_eq(requests(), 6);
	ck_assert_int_eq(stub.max_holding, 2);
}
END_TEST

START_TEST(cancel)
{
	struct got		 g1, g2, g3;
	struct registry_req	*r1, *r2;

	registry_start();
	set_records(rec_ok(pub_a), NULL);
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	r1 = registry_lookup_key(reg, SUB, KID, 0, NULL, got_cb, &g1);
	r2 = registry_lookup_key(reg, SUB, KID, 0, NULL, got_cb, &g2);
	registry_cancel(r1);
	run_until(&g2.n, 1, 5000);
	ck_assert_int_eq(g2.n, 1);
	run_for(30);
	ck_assert_int_eq(g1.n, 0);
	/* The flight still filled the cache; cancel a cache hit too. */
	memset(&g3, 0, sizeof(g3));
	r2 = registry_lookup_key(reg, SUB, KID, 0, NULL, got_cb, &g3);
	registry_cancel(r2);
	run_for(30);
	ck_assert_int_eq(g3.n, 0);
	ck_assert_int_eq(requests(), 1);
	/* Pending at free time: no callback, no leak. */
	ck_assert_ptr_nonnull(registry_lookup_key(reg, SUB, "k7", 0, NULL,
	    got_cb, &g3));
	ck_assert_ptr_nonnull(registry_lookup_key(reg, SUB, KID, 0, NULL,
	    got_cb, &g3));
	registry_free(reg);
	reg = NULL;
	run_for(30);
	ck_assert_int_eq(g3.n, 0);
}
END_TEST

/* A callback may start new lookups and cancel others. */
static struct registry_req	*victim;
static struct got		 reent;

static void
reentrant_cb(const struct registry_result *res, void *arg)
{
	got_cb(res, arg);
	registry_cancel(victim);
	registry_lookup_key(reg, SUB, "k2", 0, NULL, got_cb, &reent);
}

START_TEST(reentrant_callback)
{
	struct got	 g1, g2;

	registry_start();
	set_records(rec_ok(pub_a), rec(SUB, "k2", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	memset(&reent, 0, sizeof(reent));
	registry_lookup_key(reg, SUB, KID, 0, NULL, reentrant_cb, &g1);
	victim = registry_lookup_key(reg, SUB, KID, 0, NULL, got_cb, &g2);
	run_until(&reent.n, 1, 5000);
	run_for(30);
	ck_assert_int_eq(g1.n, 1);
	ck_assert_int_eq(g2.n, 0);
	ck_assert_int_eq(reent.n, 1);
	ck_assert_str_eq(reent.key_b64, pub_b);
}
END_TEST

/* Each table is bounded on its own, least recently used out first. */
START_TEST(lru_bound)
{
	struct got	 g;

	rconf.cache_size = 2;
	rconf.negative_cache_size = 2;
	registry_start();
	set_records(rec_ok(pub_a), rec(SUB, "k2", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), rec(SUB, "k3", "BPP", DOMAIN, pub_b,
	    "SUBSCRIBED", NULL, NULL), NULL);
	g = lookup_key(SUB, "a", 0);
	g = lookup_key(SUB, "b", 0);
	g = lookup_key(SUB, "a", 0);		/* a is now most recent */
	ck_assert_int_eq(requests(), 2);
	g = lookup_key(SUB, "c", 0);		/* evicts b */
	g = lookup_key(SUB, "a", 0);
	ck_assert_int_eq(requests(), 3);
	g = lookup_key(SUB, "b", 0);
	ck_assert_int_eq(requests(), 4);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	/* Positive answers, likewise, in their own table. */
	g = lookup_key(SUB, KID, 0);
	g = lookup_key(SUB, "k2", 0);
	g = lookup_key(SUB, KID, 0);		/* KID is now most recent */
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	ck_assert_int_eq(requests(), 6);
	g = lookup_key(SUB, "k3", 0);		/* evicts k2 */
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(requests(), 7);
	g = lookup_key(SUB, "k2", 0);
	ck_assert_int_eq(requests(), 8);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(stats().positive, 2);
	ck_assert_uint_eq(stats().negative, 2);
}
END_TEST

/* ---- flood resistance -------------------------------------------------- */

static long
ms_since(const struct timeval *t0)
{
	struct timeval	 t1;

	gettimeofday(&t1, NULL);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_usec - t0->tv_usec) / 1000;
}

/*
 * The scenario: 2,000 random key ids from one address against a
 * registry that takes 2 s, then a new legitimate peer from another
 * address.  The flood gets REGISTRY_LIMITED beyond its budget, at once;
 * the new peer's lookup is sent at once and answered with the registry's
 * 2 s; a cached key stays a cache hit and its forced refresh is sent at
 * once too.
 */
START_TEST(flood_fair)
{
	struct registry_stats	 st;
	struct got		*flood, legit, known, refresh;
	struct timeval		 t0;
	char			 sub[64], kid[64];
	long			 ms;
	int			 i, limited = 0, others = 0, before;

	rconf.max_inflight = 4;
	rconf.timeout_ms = 5000;
	registry_start();
	set_records(rec_ok(pub_a), rec("new.example.org", "n1", "BAP", DOMAIN,
	    pub_b, "SUBSCRIBED", NULL, NULL), NULL);
	known = lookup_from("192.0.2.9", SUB, KID, 0);
	ck_assert_int_eq(known.status, REGISTRY_OK);
	stub.mode = STUB_SLOW;
	stub.slow_ms = 2000;

	flood = xcalloc(2000, sizeof(*flood));
	srandom(10);
	gettimeofday(&t0, NULL);
	for (i = 0; i < 2000; i++) {
		snprintf(sub, sizeof(sub), "s%08lx.junk.example", random());
		snprintf(kid, sizeof(kid), "k%08lx", random());
		ask("198.51.100.7", sub, kid, 0, &flood[i]);
	}
	ms = ms_since(&t0);
	/* Beyond its budget the flood is answered at once. */
	run_for(100);
	run_until(&stub.requests, 1 + 2, 1000);
	for (i = 0; i < 2000; i++) {
		if (flood[i].n == 1 && flood[i].status == REGISTRY_LIMITED) {
			limited++;
			ck_assert_ptr_nonnull(strstr(flood[i].reason,
			    "198.51.100.7"));
			ck_assert_ptr_nonnull(strstr(flood[i].reason,
			    "retry later"));
		} else
			ck_assert_int_eq(flood[i].n, 0);
	}
	printf("flood: 2000 lookups from one address asked in %ld ms: %d "
	    "limited at once, %d sent, %zu waiting\n", ms, limited,
	    stub.requests - 1, stats().queued);
	/* Half the miss slots in flight, a queue of miss_queue waiting. */
	st = stats();
	ck_assert_int_eq(st.inflight_misses, 2);
	ck_assert_uint_eq(st.queued, 16);
	ck_assert_int_eq(limited, 2000 - 2 - 16);
	ck_assert_uint_eq(st.limited, (uint64_t)limited);
	ck_assert_int_eq(stub.requests, 1 + 2);

	/* A known key: a cache hit, not delayed at all. */
	known = lookup_from("198.51.100.7", SUB, KID, 0);
	ck_assert_int_eq(known.status, REGISTRY_OK);
	ck_assert_int_eq(known.source, REGISTRY_SRC_CACHE);

	/* The new peer: sent at once, answered in the registry's time. */
	before = stub.requests;
	gettimeofday(&t0, NULL);
	ask("203.0.113.5", "new.example.org", "n1", 0, &legit);
	run_until(&stub.requests, before + 1, 500);
	ck_assert_int_eq(stub.requests, before + 1);
	printf("flood: the new peer's lookup reached the registry after "
	    "%ld ms\n", ms_since(&t0));
	/* A forced refresh of the known key is not queued behind misses. */
	now_ms += rconf.refresh_interval_ms;
	ask("198.51.100.7", SUB, KID, REGISTRY_FORCE_REFRESH, &refresh);
	run_until(&stub.requests, before + 2, 500);
	ck_assert_int_eq(stub.requests, before + 2);
	run_until(&legit.n, 1, 2900);
	ms = ms_since(&t0);
	printf("flood: the new peer was answered in %ld ms (registry: "
	    "2000 ms; bound 2800 ms)\n", ms);
	ck_assert_int_eq(legit.n, 1);
	ck_assert_int_eq(legit.status, REGISTRY_OK);
	ck_assert_int_eq(legit.source, REGISTRY_SRC_REGISTRY);
	ck_assert_str_eq(legit.key_b64, pub_b);
	ck_assert_int_lt(ms, 2800);
	run_until(&refresh.n, 1, 1000);
	ck_assert_int_eq(refresh.status, REGISTRY_OK);
	ck_assert_int_eq(refresh.source, REGISTRY_SRC_REGISTRY);
	/* Misses never took more than max_inflight transfers. */
	ck_assert_int_le(stub.max_holding, 2 + 1 + 1);
	for (i = 0; i < 2000; i++)
		if (flood[i].n == 1 && flood[i].status != REGISTRY_LIMITED)
			others++;
	ck_assert_int_eq(others, 2);	/* the first two, NOT_FOUND */
	/* Waiting lookups are cancelled without a callback. */
	registry_free(reg);
	reg = NULL;
	free(flood);
}
END_TEST

/* "Not found" floods never evict a known key nor its stale fallback. */
START_TEST(negative_flood_keeps_positive)
{
	struct registry_stats	 st;
	struct got		 g;
	char			 kid[32];
	int			 i;

	rconf.cache_size = 4;
	rconf.negative_cache_size = 8;
	registry_start();
	set_records(rec_ok(pub_a), NULL);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	for (i = 0; i < 200; i++) {
		snprintf(kid, sizeof(kid), "junk%d", i);
		g = lookup_key(SUB, kid, 0);
		ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	}
	st = stats();
	ck_assert_uint_eq(st.positive, 1);
	ck_assert_uint_eq(st.negative, 8);
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	ck_assert_int_eq(requests(), 201);
	/* The registry goes down: the known key is served stale. */
	stub_stop();
	now_ms += rconf.cache_ttl_ms + 1;
	g = lookup_key(SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.stale, 1);
	ck_assert_str_eq(g.key_b64, pub_a);
	/* A key found later leaves the negative table. */
	stub_start();
	free(rconf.url);
	registry_free(reg);
	xasprintf(&rconf.url, "http://127.0.0.1:%d", stub.port);
	registry_start();
	g = lookup_key(SUB, "later", 0);
	ck_assert_int_eq(stats().negative, 1);
	now_ms += rconf.negative_ttl_ms;
	set_records(rec(SUB, "later", "BPP", DOMAIN, pub_b, "SUBSCRIBED",
	    NULL, NULL), NULL);
	g = lookup_key(SUB, "later", 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(stats().negative, 0);
	ck_assert_uint_eq(stats().positive, 1);
}
END_TEST

/* Per address: a bucket of miss_burst refilled at miss_rate per second. */
START_TEST(limit_per_address)
{
	struct got	 g;
	char		 sub[32];
	int		 i, n;

	rconf.miss_rate = 2;
	rconf.miss_burst = 3;
	registry_start();
	set_records(rec_ok(pub_a), NULL);
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "s%d", i);
		g = lookup_from("192.0.2.1", sub, "k", 0);
		ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	}
	g = lookup_from("192.0.2.1", "s3", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	ck_assert_int_eq(g.retry_after, 1);
	ck_assert_ptr_nonnull(strstr(g.reason, "too many unknown keys from "
	    "192.0.2.1"));
	ck_assert_int_eq(requests(), 3);
	/* Answers from either table cost nothing and are never limited. */
	g = lookup_from("192.0.2.1", "s0", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(g.source, REGISTRY_SRC_CACHE);
	g = lookup_key(SUB, KID, 0);
	g = lookup_from("192.0.2.1", SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	g = lookup_from("192.0.2.1", SUB, KID, REGISTRY_FORCE_REFRESH);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	/* Another address has a bucket of its own. */
	g = lookup_from("192.0.2.2", "s4", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	/* Tokens come back with time: 2 per second. */
	now_ms += 499;
	g = lookup_from("192.0.2.1", "s5", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	now_ms += 1;
	g = lookup_from("192.0.2.1", "s5", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	g = lookup_from("192.0.2.1", "s6", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	/* Internal callers are never limited. */
	g = lookup_key("s7", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	/* One IPv6 /64 is one address. */
	n = requests();
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "v6-%d", i);
		g = lookup_from(i == 0 ? "2001:db8:1:2::1" :
		    "2001:db8:1:2:ffff::9", sub, "k", 0);
		ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	}
	g = lookup_from("2001:db8:1:2::77", "v6-3", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	ck_assert_ptr_nonnull(strstr(g.reason, "2001:db8:1:2::/64"));
	g = lookup_from("2001:db8:1:3::1", "v6-3", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(requests(), n + 4);
	ck_assert_uint_eq(stats().limited, 4);
}
END_TEST

/* Per subscriber id: the same bucket size, whoever asks. */
START_TEST(limit_per_subscriber)
{
	struct got	 g;
	char		 peer[32], kid[32];
	int		 i;

	rconf.miss_rate = 1;
	rconf.miss_burst = 2;
	registry_start();
	for (i = 0; i < 2; i++) {
		snprintf(peer, sizeof(peer), "192.0.2.%d", 10 + i);
		snprintf(kid, sizeof(kid), "x%d", i);
		g = lookup_from(peer, SUB, kid, 0);
		ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	}
	g = lookup_from("192.0.2.12", SUB, "x2", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	ck_assert_int_eq(g.retry_after, 1);
	ck_assert_ptr_nonnull(strstr(g.reason, "too many unknown keys for "
	    "subscriber " SUB));
	ck_assert_int_eq(requests(), 2);
	/* The refusal cost the address nothing. */
	g = lookup_from("192.0.2.12", "other.example.org", "x", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	g = lookup_from("192.0.2.12", "third.example.org", "x", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	now_ms += 1000;
	g = lookup_from("192.0.2.13", SUB, "x3", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	g = lookup_from("192.0.2.14", SUB, "x4", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
}
END_TEST

/*
 * The fair queue: one address holds max_inflight / 2 slots and waits in
 * a queue of miss_queue; another address's first miss is sent at once,
 * and a third's goes before the first address's next but one.
 */
START_TEST(fair_queue)
{
	struct got	 a[10], b, c;
	char		 kid[16];
	int		 i, limited = 0;

	rconf.max_inflight = 2;
	rconf.miss_queue = 3;
	registry_start();
	stub.mode = STUB_SLOW;
	stub.slow_ms = 200;
	for (i = 0; i < 10; i++) {
		snprintf(kid, sizeof(kid), "a%d", i);
		ask("192.0.2.1", SUB, kid, 0, &a[i]);
	}
	run_for(50);
	for (i = 4; i < 10; i++) {
		ck_assert_int_eq(a[i].n, 1);
		ck_assert_int_eq(a[i].status, REGISTRY_LIMITED);
		ck_assert_int_ge(a[i].retry_after, 1);
		ck_assert_ptr_nonnull(strstr(a[i].reason, "waiting"));
		limited++;
	}
	ck_assert_int_eq(limited, 6);
	ck_assert_int_eq(stub.requests, 1);
	ck_assert_uint_eq(stats().queued, 3);
	ask("192.0.2.2", SUB, "b1", 0, &b);
	run_until(&stub.requests, 2, 150);
	ck_assert_int_eq(stub.requests, 2);
	ask("192.0.2.3", SUB, "c1", 0, &c);
	for (i = 0; i < 4; i++)
		run_until(&a[i].n, 1, 3000);
	run_until(&b.n, 1, 3000);
	run_until(&c.n, 1, 3000);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(a[i].status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(b.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(c.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(order_of("a0"), 0);
	ck_assert_int_eq(order_of("b1"), 1);
	ck_assert_int_le(order_of("c1"), 3);
	ck_assert_int_lt(order_of("c1"), order_of("a3"));
	ck_assert_int_eq(stub.max_holding, 2);
	ck_assert_int_eq(stub.requests, 6);
}
END_TEST

/*
 * Cancelled waiting lookups are never sent; a miss queued by one address
 * and asked by another goes at whichever turn comes first.
 */
START_TEST(fair_queue_cancel)
{
	struct registry_req	*r[4];
	struct got		 g[4], x, y;
	char			 kid[16];
	int			 i;

	rconf.max_inflight = 1;
	registry_start();
	stub.mode = STUB_SLOW;
	stub.slow_ms = 300;
	for (i = 0; i < 4; i++) {
		snprintf(kid, sizeof(kid), "q%d", i);
		r[i] = ask("192.0.2.1", SUB, kid, 0, &g[i]);
	}
	ck_assert_uint_eq(stats().queued, 3);
	ck_assert_uint_eq(stats().flights, 4);
	registry_cancel(r[1]);
	registry_cancel(r[2]);
	ck_assert_uint_eq(stats().queued, 1);
	ck_assert_uint_eq(stats().flights, 2);
	/* q3 waits in 192.0.2.1's queue; 192.0.2.2 asks it too. */
	ask("192.0.2.2", SUB, "q3", 0, &x);
	ask("192.0.2.2", SUB, "q9", 0, &y);
	ck_assert_uint_eq(stats().queued, 3);
	ck_assert_uint_eq(stats().flights, 3);
	registry_cancel(r[3]);		/* x still waits for q3 */
	ck_assert_uint_eq(stats().flights, 3);
	run_until(&g[0].n, 1, 3000);
	run_until(&x.n, 1, 3000);
	run_until(&y.n, 1, 3000);
	ck_assert_int_eq(x.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(y.status, REGISTRY_NOT_FOUND);
	run_for(30);
	ck_assert_int_eq(g[1].n + g[2].n + g[3].n, 0);
	ck_assert_int_eq(order_of("q1"), -1);
	ck_assert_int_eq(order_of("q2"), -1);
	ck_assert_int_eq(stub.requests, 3);
	ck_assert_uint_eq(stats().queued, 0);
	ck_assert_int_eq(stats().inflight_misses, 0);
	/* Waiting at free time: no callback, no leak. */
	ask("192.0.2.1", SUB, "z1", 0, &x);
	ask("192.0.2.1", SUB, "z2", 0, &y);
	registry_free(reg);
	reg = NULL;
	run_for(30);
	ck_assert_int_eq(x.n + y.n, 0);
}
END_TEST

/* Address state is bounded: idle addresses are evicted, busy ones not. */
START_TEST(idle_addresses_evicted)
{
	struct got	 g, busy[3];
	char		 peer[32], sub[32];
	int		 i;

	rconf.miss_table_size = 3;
	rconf.miss_rate = 1;
	rconf.miss_burst = 1;
	registry_start();
	g = lookup_from("192.0.2.1", "s1", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	g = lookup_from("192.0.2.1", "s1b", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	g = lookup_from("192.0.2.2", "s2", "k", 0);
	g = lookup_from("192.0.2.3", "s3", "k", 0);
	ck_assert_uint_eq(stats().peers, 3);
	/* A fourth address evicts the least recently used, .1 ... */
	g = lookup_from("192.0.2.4", "s4", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_uint_eq(stats().peers, 3);
	ck_assert_uint_eq(stats().subscribers, 3);
	/* ... whose empty bucket is forgotten with it. */
	g = lookup_from("192.0.2.1", "s1b", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	/* Addresses with lookups under way are never evicted. */
	stub.mode = STUB_SLOW;
	stub.slow_ms = 5000;
	for (i = 0; i < 3; i++) {
		snprintf(peer, sizeof(peer), "192.0.2.%d", 5 + i);
		snprintf(sub, sizeof(sub), "busy%d", i);
		ask(peer, sub, "k", 0, &busy[i]);
	}
	ck_assert_uint_eq(stats().peers, 3);
	g = lookup_from("192.0.2.8", "s8", "k", 0);
	ck_assert_int_eq(g.status, REGISTRY_LIMITED);
	ck_assert_ptr_nonnull(strstr(g.reason, "too many addresses"));
	ck_assert_uint_eq(stats().peers, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(busy[i].n, 0);
	registry_free(reg);
	reg = NULL;
}
END_TEST

/* Ids longer than any signature carries: not found, never asked. */
START_TEST(overlong_ids)
{
	struct got	 g;
	char		 kid[300];

	registry_start();
	memset(kid, 'k', sizeof(kid) - 1);
	kid[sizeof(kid) - 1] = '\0';
	g = lookup_from("192.0.2.1", SUB, kid, 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(g.reason, "longer than 255"));
	kid[REGISTRY_ID_MAX] = '\0';
	g = lookup_from("192.0.2.1", SUB, kid, 0);
	ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
	ck_assert_int_eq(requests(), 1);
	ck_assert_uint_eq(stats().negative, 1);
}
END_TEST

/* The fair queue's policy, without a network: fewest in flight first. */
START_TEST(misses_unit)
{
	struct miss_conf	 mc = { .rate = 1, .burst = 100, .queue_max = 4,
	    .table_max = 8, .slots = 4 };
	struct miss_item	 a[6], b[2], c[2], in[3];
	struct miss_peer	*pa, *pb, *pc, *p;
	struct miss_stats	 ms;
	struct misses		*m;
	int64_t			 retry;
	int			 i;

	m = misses_new(&mc, &mclock);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	memset(in, 0, sizeof(in));
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(misses_admit(m, "a", "sa", &a[i], &retry),
		    MISS_OK);
	ck_assert_int_eq(misses_admit(m, "a", "sa", &a[4], &retry),
	    MISS_QUEUE_FULL);
	ck_assert_int_eq(retry, 1000);
	/* Joining a request under way costs a token, no queue place. */
	ck_assert_int_eq(misses_admit(m, "a", "sa", NULL, &retry), MISS_OK);
	ck_assert_ptr_eq(misses_next(m, &pa), &a[0]);
	ck_assert_ptr_eq(misses_next(m, &p), &a[1]);
	ck_assert_ptr_eq(p, pa);
	/* a holds slots / 2: its third waits while b goes. */
	ck_assert_int_eq(misses_admit(m, "b", "sb", &b[0], &retry), MISS_OK);
	ck_assert_ptr_eq(misses_next(m, &pb), &b[0]);
	ck_assert_ptr_null(misses_next(m, &p));
	ck_assert_int_eq(misses_admit(m, "c", "sc", &c[0], &retry), MISS_OK);
	ck_assert_int_eq(misses_admit(m, "c", "sc", &c[1], &retry), MISS_OK);
	ck_assert_ptr_eq(misses_next(m, &pc), &c[0]);
	ck_assert_ptr_null(misses_next(m, &p));		/* 4 slots busy */
	/* A slot frees: a and c have one in flight each; a's turn. */
	misses_finished(m, pa);
	ck_assert_ptr_eq(misses_next(m, &p), &a[2]);
	ck_assert_ptr_eq(p, pa);
	misses_finished(m, pb);
	ck_assert_ptr_eq(misses_next(m, &p), &c[1]);	/* a at its share */
	ck_assert_ptr_eq(p, pc);
	/* Internal callers: no bucket, no queue bound, no share. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(misses_admit(m, NULL, NULL, &in[i], &retry),
		    MISS_OK);
	misses_unqueue(m, &in[1]);
	misses_unqueue(m, &in[1]);	/* no-op */
	misses_stats(m, &ms);
	ck_assert_uint_eq(ms.queued, 1 + 2);
	ck_assert_int_eq(ms.inflight, 4);
	ck_assert_uint_eq(ms.peers, 3);
	ck_assert_uint_eq(ms.subscribers, 3);
	/* Buckets: the joins and queued ones of "sa" took 5 of 100. */
	for (i = 0; i < 95; i++)
		ck_assert_int_eq(misses_admit(m, "a2", "sa", NULL, &retry),
		    MISS_OK);
	ck_assert_int_eq(misses_admit(m, "a3", "sa", NULL, &retry),
	    MISS_SUBSCRIBER_RATE);
	ck_assert_int_eq(retry, 1000);
	now_ms += 400;
	ck_assert_int_eq(misses_admit(m, "a3", "sa", NULL, &retry),
	    MISS_SUBSCRIBER_RATE);
	ck_assert_int_eq(retry, 600);
	now_ms += 600;
	ck_assert_int_eq(misses_admit(m, "a3", "sa", NULL, &retry), MISS_OK);
	/* A clock set back refills nothing. */
	now_ms -= 10000;
	ck_assert_int_eq(misses_admit(m, "a3", "sa", NULL, &retry),
	    MISS_SUBSCRIBER_RATE);
	misses_free(m);
}
END_TEST

START_TEST(peer_keys)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
		{ "2001:DB8:1:2::1", "2001:db8:1:2::/64" },
		{ "::1", "::/64" },
		{ "::ffff:192.0.2.1", "192.0.2.1" },
		{ "", "" },
		{ "not:an address", "not:an address" },
	};
	char	 buf[64];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		misses_peer_key(cases[i].in, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].out);
	}
}
END_TEST

/* ---- file only --------------------------------------------------------- */

START_TEST(file_reload)
{
	struct got	 g;
	char		 err[512];

	be = BE_FILE;
	set_records(rec_ok(pub_a), NULL);	/* before start: no reload */
	start_backend(BE_FILE);
	g = lookup_key(SUB, KID, 0);
	ck_assert_str_eq(g.key_b64, pub_a);
	/* A broken file on SIGHUP keeps the previous records. */
	write_file("[{\"subscriber_id\":");
	ck_assert_int_eq(registry_reload(reg), -1);
	g = lookup_key(SUB, KID, 0);
	ck_assert_str_eq(g.key_b64, pub_a);
	write_file("{\"subscriber_id\":\"x\"}");
	ck_assert_int_eq(registry_reload(reg), -1);
	set_records(rec_ok(pub_b), NULL);	/* reloads */
	g = lookup_key(SUB, KID, 0);
	ck_assert_str_eq(g.key_b64, pub_b);
	ck_assert_int_eq(requests(), 0);
	registry_free(reg);
	reg = NULL;
	/* At start-up the same errors are fatal, with the reason. */
	write_file("[{\"subscriber_id\":");
	ck_assert_ptr_null(registry_new(base, &rconf, &mclock, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "malformed JSON"));
	write_file("{}");
	ck_assert_ptr_null(registry_new(base, &rconf, &mclock, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a JSON array"));
	unlink(file_path);
	ck_assert_ptr_null(registry_new(base, &rconf, &mclock, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, file_path));
}
END_TEST

/* File mode answers from memory: nothing to limit. */
START_TEST(file_no_limits)
{
	struct got	 g;
	char		 kid[16];
	int		 i;

	rconf.miss_rate = 1;
	rconf.miss_burst = 1;
	be = BE_FILE;
	set_records(rec_ok(pub_a), NULL);
	start_backend(BE_FILE);
	for (i = 0; i < 100; i++) {
		snprintf(kid, sizeof(kid), "f%d", i);
		g = lookup_from("192.0.2.1", SUB, kid, 0);
		ck_assert_int_eq(g.status, REGISTRY_NOT_FOUND);
		ck_assert_int_eq(g.source, REGISTRY_SRC_FILE);
	}
	g = lookup_from("192.0.2.1", SUB, KID, 0);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(stats().limited, 0);
	ck_assert_uint_eq(stats().peers, 0);
	ck_assert_int_eq(requests(), 0);
}
END_TEST

/* ---- units -------------------------------------------------------------- */

START_TEST(conf_checks)
{
	struct registry_conf	 c;
	char			 err[256];

	registry_conf_defaults(&c);
	ck_assert_int_eq(c.cache_ttl_ms, 300000);
	ck_assert_int_eq(c.negative_ttl_ms, 10000);
	ck_assert_int_eq(c.stale_ttl_ms, 3600000);
	ck_assert_int_eq(c.timeout_ms, 5000);
	ck_assert_int_eq(c.connect_timeout_ms, 2000);
	ck_assert_uint_eq(c.cache_size, 10000);
	ck_assert_int_eq(c.max_inflight, 64);
	ck_assert_int_eq(c.tls_verify, 1);
	ck_assert_int_eq(c.refresh_interval_ms, 5000);
	ck_assert_uint_eq(c.negative_cache_size, 10000);
	ck_assert_int_eq(c.miss_rate, 20);
	ck_assert_int_eq(c.miss_burst, 100);
	ck_assert_int_eq(c.miss_queue, 16);
	ck_assert_uint_eq(c.miss_table_size, 4096);
	ck_assert_str_eq(registry_status_name(REGISTRY_LIMITED), "limited");
	ck_assert_ptr_null(registry_new(base, &c, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "url"));
	c.url = xstrdup("ftp://registry.example.org");
	ck_assert_ptr_null(registry_new(base, &c, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "http"));
	c.file = xstrdup(file_path);
	ck_assert_ptr_null(registry_new(base, &c, NULL, err, sizeof(err)));
	registry_conf_clear(&c);
	ck_assert_ptr_null(c.url);
}
END_TEST

START_TEST(time_parse)
{
	static const struct {
		const char	*in;
		int64_t		 ms;
	} ok[] = {
		{ "2025-01-01T00:00:00Z", T0_MS },
		{ "2025-01-01T00:00:00.000Z", T0_MS },
		{ "2025-01-01T00:00:00.5Z", T0_MS + 500 },
		{ "2025-01-01T00:00:00.123456789Z", T0_MS + 123 },
		{ "2025-01-01T05:30:00+05:30", T0_MS },
		{ "2024-12-31T19:00:00-05:00", T0_MS },
		{ "2025-01-01T05:30:00+0530", T0_MS },
		{ "2025-01-01t00:00:00z", T0_MS },
		{ "2025-01-01 00:00:00Z", T0_MS },
		{ "2025-01-01T00:00:00", T0_MS },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },
		{ "1969-12-31T23:59:59Z", -1000 },
	};
	static const char *const bad[] = { "", "2025", "2025-01-01",
	    "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
	    "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z",
	    "2025-01-01T00:00:00.Z", "2025-01-01T00:00:00+5:30",
	    "2025-01-01T00:00:00Zjunk", "25-01-01T00:00:00Z",
	    "2025-01-01T00:00Z", "yesterday" };
	int64_t	 ms;
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(registry_time_parse(ok[i].in, &ms) == 0, "%s",
		    ok[i].in);
		ck_assert_msg(ms == ok[i].ms, "%s: %lld", ok[i].in,
		    (long long)ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(registry_time_parse(bad[i], &ms) == -1, "%s",
		    bad[i]);
}
END_TEST

START_TEST(record_check)
{
	static const char text[] = "["
	    "{\"subscriber_id\":\"s\",\"ukId\":\"k1\",\"type\":\"BPP\","
	    "\"domain\":\"d1\",\"signing_public_key\":\"%s\","
	    "\"status\":\"SUBSCRIBED\","
	    "\"valid_from\":\"2024-01-01T00:00:00Z\","
	    "\"valid_until\":\"2026-01-01T00:00:00Z\"},"
	    "{\"subscriber_id\":\"s\"},"
	    "{\"subscriber_id\":\"s\",\"ukId\":\"k1\",\"status\":"
	    "\"EXPIRED\"},"
	    "{\"subscriber_id\":\"s\",\"signing_public_key\":\"junk\"}]";
	static const int64_t until = 1767225600000LL;	/* 2026-01-01 */
	static const struct {
		int			 rec;
		struct registry_match	 m;
		enum registry_verdict	 v;
		const char		*why;
	} cases[] = {
		{ 0, { .now_ms = T0_MS }, REGISTRY_MATCH, "" },
		{ 0, { .subscriber_id = "s", .key_id = "k1", .type = "BPP",
		    .domain = "d1", .now_ms = T0_MS, .need_key = 1 },
		    REGISTRY_MATCH, "" },
		{ 0, { .subscriber_id = "t", .type = "BAP", .now_ms = T0_MS },
		    REGISTRY_OTHER, "subscriber s, not t" },
		{ 0, { .key_id = "k2", .now_ms = T0_MS }, REGISTRY_OTHER,
		    "key id k1, not k2" },
		{ 1, { .key_id = "k2", .now_ms = T0_MS }, REGISTRY_MATCH, "" },
		{ 0, { .type = "bap", .domain = "d2", .now_ms = T0_MS },
		    REGISTRY_OTHER, "registered as BPP, not bap" },
		{ 0, { .type = "bpp", .now_ms = T0_MS }, REGISTRY_MATCH, "" },
		{ 0, { .type = "Bpp", .now_ms = T0_MS }, REGISTRY_MATCH, "" },
		{ 1, { .type = "BG", .now_ms = T0_MS }, REGISTRY_OTHER,
		    "registered without a type, not as BG" },
		{ 0, { .domain = "d2", .now_ms = T0_MS }, REGISTRY_OTHER,
		    "registered for domain d1, not d2" },
		{ 0, { .domain = "D1", .now_ms = T0_MS }, REGISTRY_OTHER,
		    "registered for domain d1, not D1" },
		{ 1, { .domain = "d2", .now_ms = T0_MS }, REGISTRY_MATCH, "" },
		{ 0, { .domain = "d2", .now_ms = 0, .any_status = 1 },
		    REGISTRY_OTHER, "registered for domain d1, not d2" },
		{ 0, { .now_ms = 0 }, REGISTRY_UNUSABLE,
		    "not valid before 2024-01-01T00:00:00Z" },
		{ 0, { .now_ms = until - 1 }, REGISTRY_MATCH, "" },
		{ 0, { .now_ms = until }, REGISTRY_UNUSABLE,
		    "expired at 2026-01-01T00:00:00Z (valid_until)" },
		{ 0, { .now_ms = until, .any_status = 1 }, REGISTRY_MATCH, "" },
		{ 2, { .key_id = "k1", .now_ms = T0_MS }, REGISTRY_UNUSABLE,
		    "status is EXPIRED, not SUBSCRIBED" },
		{ 2, { .now_ms = T0_MS, .need_key = 1, .any_status = 1 },
		    REGISTRY_MATCH, "" },
		{ 1, { .now_ms = T0_MS, .need_key = 1 }, REGISTRY_UNUSABLE,
		    "record has no signing_public_key" },
		{ 3, { .now_ms = T0_MS, .need_key = 1 }, REGISTRY_UNUSABLE,
		    "signing_public_key is not a valid ed25519 public key" },
		{ 3, { .now_ms = T0_MS }, REGISTRY_MATCH, "" },
	};
	struct registry_recset	*s;
	char			*t, why[128], tiny[8];
	size_t			 i;

	xasprintf(&t, text, pub_a);
	s = registry_recset_parse(t, strlen(t), "t", why, sizeof(why));
	free(t);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 4);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(why, 'x', sizeof(why));
		ck_assert_msg(registry_record_check(s->recs[cases[i].rec],
		    &cases[i].m, why, sizeof(why)) == cases[i].v,
		    "case %zu: verdict", i);
		ck_assert_msg(strcmp(why, cases[i].why) == 0,
		    "case %zu: why \"%s\", want \"%s\"", i, why, cases[i].why);
		/* why is optional and never overrun. */
		ck_assert_int_eq(registry_record_check(s->recs[cases[i].rec],
		    &cases[i].m, NULL, 0), cases[i].v);
		ck_assert_int_eq(registry_record_check(s->recs[cases[i].rec],
		    &cases[i].m, tiny, sizeof(tiny)), cases[i].v);
		ck_assert_uint_lt(strlen(tiny), sizeof(tiny));
	}
	registry_recset_unref(s);
}
END_TEST

/* Each record keeps its JSON text; the file loader is public. */
START_TEST(record_json)
{
	static const char text[] = "[{\"subscriber_id\":\"a\","
	    "\"subscriber_url\":\"https://a.example/beckn/\",\"type\":\"bpp\","
	    "\"extra\":{\"n\":[1,2.50,true,null],\"s\":\"caf\u00e9\"},"
	    "\"signing_public_key\":null},"
	    "7,"
	    "{\"subscriber_id\":\"b\"}]";
	struct registry_recset	*s;
	char			 err[256];

	write_file(text);
	s = registry_records_load(file_path, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 2);
	ck_assert_str_eq(s->recs[0]->json, "{\"subscriber_id\":\"a\","
	    "\"subscriber_url\":\"https://a.example/beckn/\",\"type\":\"bpp\","
	    "\"extra\":{\"n\":[1,2.50,true,null],\"s\":\"caf\u00e9\"},"
	    "\"signing_public_key\":null}");
	ck_assert_str_eq(s->recs[1]->json, "{\"subscriber_id\":\"b\"}");
	ck_assert_ptr_eq(registry_recset_ref(s), s);
	registry_recset_unref(s);
	registry_recset_unref(s);
	write_file("[{\"subscriber_id\":");
	ck_assert_ptr_null(registry_records_load(file_path, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, file_path));
	ck_assert_ptr_nonnull(strstr(err, "malformed JSON"));
}
END_TEST

static int	 released;

static void
count_release(void *p)
{
	released++;
	free(p);
}

START_TEST(cache_lru)
{
	struct registry_cache	*c;
	char			 key[16];
	int			 i;

	released = 0;
	c = registry_cache_new(100, count_release);
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		registry_cache_put(c, key, xstrdup(key));
		if (i % 10 == 0)	/* keep k0 hot */
			ck_assert_ptr_nonnull(registry_cache_get(c, "k0"));
	}
	ck_assert_uint_eq(registry_cache_count(c), 100);
	ck_assert_int_eq(released, 900);
	ck_assert_str_eq(registry_cache_get(c, "k0"), "k0");
	ck_assert_str_eq(registry_cache_get(c, "k999"), "k999");
	ck_assert_ptr_null(registry_cache_get(c, "k500"));
	registry_cache_put(c, "k999", xstrdup("new"));
	ck_assert_int_eq(released, 901);
	ck_assert_str_eq(registry_cache_get(c, "k999"), "new");
	registry_cache_del(c, "k999");
	ck_assert_ptr_null(registry_cache_get(c, "k999"));
	ck_assert_uint_eq(registry_cache_count(c), 99);
	registry_cache_free(c);
	ck_assert_int_eq(released, 1001);
}
END_TEST

START_TEST(records_parse)
{
	struct registry_recset	*s;
	const char		*text;
	char			 err[128];

	ck_assert_ptr_null(registry_recset_parse("", 0, "t", err,
	    sizeof(err)));
	ck_assert_ptr_null(registry_recset_parse("[] x", 4, "t", err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "trailing"));
	ck_assert_ptr_null(registry_recset_parse("\"[]\"", 4, "t", err,
	    sizeof(err)));
	/* Deep nesting is refused, not recursed into. */
	{
		char	 deep[401];

		memset(deep, '[', 400);
		deep[400] = '\0';
		ck_assert_ptr_null(registry_recset_parse(deep, 400, "t", err,
		    sizeof(err)));
	}
	s = registry_recset_parse(" [ ] \n", 6, "t", err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	registry_recset_unref(s);
	/* url falls back from subscriber_url to url. */
	text = "[{\"subscriber_id\":\"a\",\"url\":\"u\","
	    "\"pub_key_id\":\"p\",\"signing_public_key\":null}]";
	s = registry_recset_parse(text, strlen(text), "t", err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_str_eq(s->recs[0]->url, "u");
	ck_assert_str_eq(s->recs[0]->key_id, "p");
	ck_assert_ptr_null(s->recs[0]->key);
	registry_recset_unref(s);
}
END_TEST

/* ---- the CLI -------------------------------------------------------------- */

static char *
run_cli(const char *args, int *status)
{
	const char	*bin = getenv("BECKND_BIN");
	char		*cmd, *out;
	size_t		 len = 0, n;
	FILE		*p;

	xasprintf(&cmd, "%s lookup %s 2>/dev/null", bin, args);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	out = xmalloc(65536);
	while ((n = fread(out + len, 1, 65535 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	*status = pclose(p);
	free(cmd);
	return out;
}

START_TEST(cli_lookup_file)
{
	const char	*bin = getenv("BECKND_BIN");
	char		*args, *out;
	int		 st;

	if (bin == NULL || access(bin, X_OK) != 0)
		return;		/* run by `make check` only */
	xasprintf(&args, "-c %s/tests/data/registry/becknd.yaml "
	    "registry.becknd.example k1", test_srcdir());
	out = run_cli(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_ptr_nonnull(strstr(out,
	    "subscriber_id: registry.becknd.example\n"));
	ck_assert_ptr_nonnull(strstr(out, "key_id: k1\n"));
	ck_assert_ptr_nonnull(strstr(out, "status: SUBSCRIBED\n"));
	ck_assert_ptr_nonnull(strstr(out, "source: file\n"));
	free(out);
	free(args);
	xasprintf(&args, "-c %s/tests/data/registry/becknd.yaml "
	    "registry.becknd.example k-old", test_srcdir());
	out = run_cli(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_ptr_nonnull(strstr(out, "no usable record: "));
	ck_assert_ptr_nonnull(strstr(out, "UNSUBSCRIBED"));
	free(out);
	free(args);
	xasprintf(&args, "-c %s/tests/data/registry/becknd.yaml "
	    "nobody.example k1", test_srcdir());
	out = run_cli(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_ptr_nonnull(strstr(out, "not found"));
	free(out);
	free(args);
	out = run_cli("", &st);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	free(out);
}
END_TEST

static Suite *
registry_suite(void)
{
	Suite	*s = suite_create("registry");
	TCase	*tc;

	tc = tcase_create("both");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, hit, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, miss, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, key_id_names, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, expiry_valid_until, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, not_subscribed, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, rotation, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, gateways_and_participants, BE_HTTP,
	    BE_FILE + 1);
	tcase_add_loop_test(tc, malformed_records_skipped, BE_HTTP,
	    BE_FILE + 1);
	tcase_add_loop_test(tc, lower_case_types, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, untyped_not_gateway, BE_HTTP, BE_FILE + 1);
	tcase_add_loop_test(tc, one_key_two_domains, BE_HTTP, BE_FILE + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, negative_cache);
	tcase_add_test(tc, expiry_ttl);
	tcase_add_test(tc, single_flight);
	tcase_add_test(tc, stale_if_error_stopped);
	tcase_add_test(tc, stale_if_error_5xx);
	tcase_add_test(tc, http_4xx);
	tcase_add_test(tc, force_refresh_rate_limit);
	tcase_add_test(tc, malformed_json);
	tcase_add_test(tc, non_array);
	tcase_add_test(tc, slow_registry);
	tcase_add_test(tc, bounded_concurrency);
	tcase_add_test(tc, cancel);
	tcase_add_test(tc, reentrant_callback);
	tcase_add_test(tc, lru_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("flood");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, flood_fair);
	tcase_add_test(tc, negative_flood_keeps_positive);
	tcase_add_test(tc, limit_per_address);
	tcase_add_test(tc, limit_per_subscriber);
	tcase_add_test(tc, fair_queue);
	tcase_add_test(tc, fair_queue_cancel);
	tcase_add_test(tc, idle_addresses_evicted);
	tcase_add_test(tc, overlong_ids);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, file_reload);
	tcase_add_test(tc, file_no_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, conf_checks);
	tcase_add_test(tc, time_parse);
	tcase_add_test(tc, cache_lru);
	tcase_add_test(tc, misses_unit);
	tcase_add_test(tc, peer_keys);
	tcase_add_test(tc, records_parse);
	tcase_add_test(tc, record_check);
	tcase_add_test(tc, record_json);
	tcase_add_test(tc, cli_lookup_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* The stub is on 127.0.0.1: never go through a proxy. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(registry_suite());
}

/*
 * check_telemetry.c - ONEST telemetry (src/telemetry), in process.
 *
 * The event's text is parsed back with json-c and held against
 * onest-telemetry.md 1.7 key by key.  The batcher POSTs to an evhttp
 * stub sink on 127.0.0.1:0 in the test's own event loop, which answers
 * each request as the test decides (a status, or hold it).  Waits are
 * real time and bounded (run_until(); scaled under valgrind).
 *
 *   event       every key of 1.7 with its type; the error event; domain
 *               left out when unknown; escaping; message_properties with
 *               array expansion and value types; span_uuid per event
 *   context     on_* is sent by the BPP (provider), the rest by the BAP
 *   batches     sealed by batch_size, by max_batch_bytes (a larger event
 *               alone), by the interval; flush
 *   body        data.id is the SHA-256 prefix of the events array text;
 *               a retry (500 then 200) sends the very same bytes
 *   backoff     capped by retry_max_ms; a refused connection fails too
 *   spool       spool_max drops the oldest batch not in flight (sealing
 *               the open one when it is all there is), counted
 *   off         no url: nothing built, nothing sent; a spool waits for
 *               a url
 *   store       events survive a restart and go as the same batches
 *               with the same ids; free seals the open batch; events
 *               never sealed (a crash) come back as the open batch
 *   log         one warning for a run of failed POSTs, one line when
 *               the sink is back, a drop names its count
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "testutil.h"
#include "util/clock.h"
#include "store/store.h"
#include "telemetry/telemetry.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define START_NS	1735030800123000000LL
#define END_NS		1735030800456000000LL

struct rec {
	char	*body;
	size_t	 len;
	char	*ctype;
	double	 at_ms;
};

struct stub;
/* The status to answer the n-th request, 0: hold it. */
typedef int	(*decide_fn)(struct stub *, int n);

struct stub {
	struct evhttp		*http;
	char			 url[96];
	decide_fn		 decide;	/* NULL: status */
	int			 status;
	struct rec		 reqs[64];
	int			 n;
	struct evhttp_request	*held[8];
	int			 nheld;
};

static struct {
	struct event_base	*base;
	struct stub		*stub;
	struct telemetry	*t;
	struct telemetry_conf	 conf;
	char			 dir[64];
	struct store		*store;
} T;

#define under_valgrind()	test_under_valgrind()
#define tms(ms)			test_ms(ms)

#define mono_ms()		((double)clock_mono_ns() / 1e6)

/* Run the loop until cond(arg) or ms (real time, scaled); cond's value. */
static int
run_until(int (*cond)(void *), void *arg, int ms)
{
	return test_loop_until(T.base, cond, arg, tms(ms), 0);
}

static void
run_for(int ms)
{
	run_until(NULL, NULL, ms);
}

/* ---- the stub sink --------------------------------------------------- */

static void
reply(struct evhttp_request *req, int status)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add(b, "{}", 2);
	evhttp_send_reply(req, status, status < 300 ? "OK" : "No", b);
	evbuffer_free(b);
}

static void
stub_handler(struct evhttp_request *req, void *arg)
{
	struct stub	*s = arg;
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct rec	*r;
	const char	*ct;
	int		 status;

	ck_assert_int_lt(s->n, 64);
	r = &s->reqs[s->n++];
	r->len = evbuffer_get_length(in);
	r->body = xmalloc(r->len + 1);
	evbuffer_copyout(in, r->body, r->len);
	r->body[r->len] = '\0';
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	r->ctype = xstrdup(ct != NULL ? ct : "");
	r->at_ms = mono_ms();
	status = s->decide != NULL ? s->decide(s, s->n - 1) : s->status;
	if (status == 0) {
		ck_assert_int_lt(s->nheld, 8);
		s->held[s->nheld++] = req;
		return;
	}
	reply(req, status);
}

static struct stub *
stub_new(decide_fn decide, int status)
{
	struct stub			*s = xcalloc(1, sizeof(*s));
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof(sin);

	s->decide = decide;
	s->status = status;
	ck_assert_ptr_nonnull(s->http = evhttp_new(T.base));
	evhttp_set_gencb(s->http, stub_handler, s);
	bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &slen), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/data/v1/in/t",
	    ntohs(sin.sin_port));
	T.stub = s;
	return s;
}

static void
stub_free(struct stub *s)
{
	int	 i;

	if (s == NULL)
		return;
	while (s->nheld > 0)
		reply(s->held[--s->nheld], 503);
	evhttp_free(s->http);
	for (i = 0; i < s->n; i++) {
		free(s->reqs[i].body);
		free(s->reqs[i].ctype);
	}
	free(s);
}

struct want {
	struct stub	*s;
	int		 n;
};

static int
stub_has(void *arg)
{
	struct want	*w = arg;

	return w->s->n >= w->n;
}

/* Run until s has n requests (or ms); its count. */
static int
stub_wait(struct stub *s, int n, int ms)
{
	struct want	 w = { s, n };

	run_until(stub_has, &w, ms);
	return s->n;
}

/* ---- fixtures -------------------------------------------------------- */

static void
setup(void)
{
	memset(&T, 0, sizeof(T));
	ck_assert_ptr_nonnull(T.base = event_base_new());
	T.conf.batch_size = 100;
	T.conf.max_batch_bytes = 1 << 20;
	T.conf.interval_ms = 60000;
	T.conf.timeout_ms = 2000;
	T.conf.retry_max_ms = 50;
	T.conf.spool_max = 10000;
}

static void
teardown(void)
{
	telemetry_free(T.t);
	store_close(T.store);
	stub_free(T.stub);
	event_base_free(T.base);
	if (T.dir[0] != '\0')
		test_rmtree(T.dir);
}

static void
start(void)
{
	char	 err[256];

	T.t = telemetry_new(T.base, &T.conf, T.store, err, sizeof(err));
	ck_assert_msg(T.t != NULL, "telemetry_new: %s", err);
}

/* A span as the proxy fills it: message n (mid "m<n>"). */
static void
span_fill(struct telemetry_span *sp, char *mid, size_t midlen, int n)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(mid, midlen, "m%d", n);
	sp->producer = "bap.jobs.example.in";
	sp->domain = "onest:work-opportunities";
	sp->action = "select";
	sp->transaction_id = "3c9d7e21-5b8a-4f06-9e13-7a2b4c6d8e0f";
	sp->message_id = mid;
	sp->observed = "2024-12-24T09:00:00.100Z";
	sp->sender_id = "bap.jobs.example.in";
	sp->sender_uri = "https://bap.jobs.example.in/beckn";
	sp->sender_type = "seeker";
	sp->recipient_id = "bpp.employer.example.in";
	sp->recipient_uri = "https://bpp.employer.example.in/beckn";
	sp->recipient_type = "provider";
	sp->direction = "out";
	sp->start_ns = START_NS + n;
	sp->end_ns = END_NS + n;
	sp->ok = 1;
	sp->http_status = 200;
	sp->http_route = "/select";
	sp->http_host = "bpp.employer.example.in";
	sp->http_scheme = "https";
}

static void
emit(int n)
{
	struct telemetry_span	 sp;
	char			 mid[32];

	span_fill(&sp, mid, sizeof(mid), n);
	telemetry_emit(T.t, &sp);
}

static struct telemetry_stats
stats(void)
{
	struct telemetry_stats	 st;

	telemetry_stats(T.t, &st);
	return st;
}

/* ---- JSON checks ----------------------------------------------------- */

static json_object *
parse(const char *text)
{
	json_object	*o = json_tokener_parse(text);

	ck_assert_msg(o != NULL, "not JSON: %s", text);
	return o;
}

static json_object *
get(json_object *o, const char *key, json_type type)
{
	json_object	*v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in "
	    "%s", key, json_object_to_json_string(o));
	ck_assert_msg(json_object_is_type(v, type), "\"%s\" of type %s",
	    key, json_type_to_name(json_object_get_type(v)));
	return v;
}

static json_object *
idx(json_object *a, size_t i)
{
	ck_assert_msg(json_object_is_type(a, json_type_array) &&
	    json_object_array_length(a) > i, "no element %zu", i);
	return json_object_array_get_idx(a, i);
}

static void
nkeys(json_object *o, int n)
{
	ck_assert_msg(json_object_object_length(o) == n, "%d keys, not %d: "
	    "%s", json_object_object_length(o), n,
	    json_object_to_json_string(o));
}

static void
str_eq(json_object *o, const char *key, const char *want)
{
	ck_assert_str_eq(json_object_get_string(get(o, key,
	    json_type_string)), want);
}

static int
is_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
is_hex32(const char *s)
{
	size_t	 i;

	for (i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)
		    s[i]))
			return 0;
	return s[32] == '\0';
}

/*
 * Attribute i of list a: {"key":key,"value":{type:...}}, exactly; the
 * value object.
 */
static json_object *
attr(json_object *a, size_t i, const char *key, const char *type)
{
	json_object	*at = idx(a, i), *v;

	nkeys(at, 2);
	str_eq(at, "key", key);
	v = get(at, "value", json_type_object);
	nkeys(v, 1);
	ck_assert_msg(json_object_object_get_ex(v, type, NULL), "%s: not %s: "
	    "%s", key, type, json_object_to_json_string(v));
	return v;
}

static void
attr_s(json_object *a, size_t i, const char *key, const char *want)
{
	str_eq(attr(a, i, key, "stringValue"), "stringValue", want);
}

static void
attr_i(json_object *a, size_t i, const char *key, int64_t want)
{
	json_object	*v = attr(a, i, key, "intValue");

	ck_assert_int_eq(json_object_get_int64(get(v, "intValue",
	    json_type_int)), want);
}

/* The span of a parsed event, with the shape above it checked. */
static json_object *
event_span(json_object *ev, json_object **resattrs, json_object **scope)
{
	json_object	*rs, *r, *ss, *s, *spans;

	nkeys(ev, 1);
	rs = get(ev, "resourceSpans", json_type_array);
	ck_assert_int_eq(json_object_array_length(rs), 1);
	r = idx(rs, 0);
	nkeys(r, 2);
	*resattrs = get(get(r, "resource", json_type_object), "attributes",
	    json_type_array);
	nkeys(get(r, "resource", json_type_object), 1);
	ss = get(r, "scopeSpans", json_type_array);
	ck_assert_int_eq(json_object_array_length(ss), 1);
	s = idx(ss, 0);
	nkeys(s, 2);
	*scope = get(s, "scope", json_type_object);
	spans = get(s, "spans", json_type_array);
	ck_assert_int_eq(json_object_array_length(spans), 1);
	return idx(spans, 0);
}

/* ---- events ---------------------------------------------------------- */

START_TEST(event_structure)
{
	struct telemetry_span	 sp;
	json_object		*ev, *ra, *scope, *span, *a, *sa;
	char			*text, mid[32], uuid[33];
	size_t			 len;

	span_fill(&sp, mid, sizeof(mid), 0);
	sp.message_id = "b1e2c3d4-a5f6-4789-8abc-def012345678";
	text = telemetry_event_json(&sp, &T.conf, &len);
	ck_assert_uint_eq(len, strlen(text));
	ev = parse(text);
	span = event_span(ev, &ra, &scope);

	ck_assert_int_eq(json_object_array_length(ra), 3);
	attr_s(ra, 0, "eid", "API");
	attr_s(ra, 1, "producer", "bap.jobs.example.in");
	attr_s(ra, 2, "domain", "onest:work-opportunities");

	nkeys(scope, 3);
	str_eq(scope, "name", "network_service");
	str_eq(scope, "version", "1.0.0");
	sa = get(scope, "attributes", json_type_array);
	ck_assert_int_eq(json_object_array_length(sa), 2);
	ck_assert(is_hex32(json_object_get_string(get(attr(sa, 0,
	    "scope_uuid", "stringValue"), "stringValue", json_type_string))));
	attr_i(sa, 1, "count", 1);

	nkeys(span, 9);
	str_eq(span, "name", "select");
	str_eq(span, "traceId", "3c9d7e21-5b8a-4f06-9e13-7a2b4c6d8e0f");
	str_eq(span, "spanId", "b1e2c3d4-a5f6-4789-8abc-def012345678");
	snprintf(uuid, sizeof(uuid), "%s", json_object_get_string(get(span,
	    "span_uuid", json_type_string)));
	ck_assert(is_hex32(uuid));
	ck_assert(is_digits(json_object_get_string(get(span,
	    "startTimeUnixNano", json_type_string))));
	ck_assert(is_digits(json_object_get_string(get(span,
	    "endTimeUnixNano", json_type_string))));
	str_eq(span, "startTimeUnixNano", "1735030800123000000");
	str_eq(span, "endTimeUnixNano", "1735030800456000000");
	str_eq(span, "status", "Ok");
	ck_assert_int_eq(json_object_array_length(get(span, "events",
	    json_type_array)), 0);

	a = get(span, "attributes", json_type_array);
	ck_assert_int_eq(json_object_array_length(a), 13);
	attr_s(a, 0, "sender.id", "bap.jobs.example.in");
	attr_s(a, 1, "sender.uri", "https://bap.jobs.example.in/beckn");
	attr_s(a, 2, "sender.type", "seeker");
	attr_s(a, 3, "recipient.id", "bpp.employer.example.in");
	attr_s(a, 4, "recipient.uri",
	    "https://bpp.employer.example.in/beckn");
	attr_s(a, 5, "recipient.type", "provider");
	attr_s(a, 6, "span_uuid", uuid);
	attr_s(a, 7, "observedTimeUnixNano", "2024-12-24T09:00:00.100Z");
	attr_s(a, 8, "http.method", "POST");
	attr_s(a, 9, "http.route", "/select");
	attr_s(a, 10, "http.host", "bpp.employer.example.in");
	attr_s(a, 11, "http.scheme", "https");
	attr_i(a, 12, "http.status.code", 200);
	json_object_put(ev);
	free(text);
}
END_TEST

/* !ok: "Error" and the error event; NULLs: defaults, no domain. */
START_TEST(event_error_defaults)
{
	struct telemetry_span	 sp;
	json_object		*ev, *ra, *scope, *span, *a, *e, *ea;
	char			*text;

	memset(&sp, 0, sizeof(sp));
	sp.producer = "bpp.example";
	sp.action = "on_init";
	sp.direction = "in";
	sp.start_ns = 1735030800123456789LL;
	sp.end_ns = 1735030800460999999LL;
	sp.err_type = "JSON-SCHEMA-ERROR";
	sp.err_code = "30000";
	sp.err_msg = "bad";
	text = telemetry_event_json(&sp, NULL, NULL);
	ev = parse(text);
	span = event_span(ev, &ra, &scope);
	ck_assert_int_eq(json_object_array_length(ra), 2);
	attr_s(ra, 0, "eid", "API");
	attr_s(ra, 1, "producer", "bpp.example");
	str_eq(span, "status", "Error");
	str_eq(span, "traceId", "");
	str_eq(span, "spanId", "");
	str_eq(span, "startTimeUnixNano", "1735030800123456789");
	str_eq(span, "endTimeUnixNano", "1735030800460999999");
	a = get(span, "attributes", json_type_array);
	ck_assert_int_eq(json_object_array_length(a), 13);
	attr_s(a, 0, "sender.id", "");
	attr_s(a, 7, "observedTimeUnixNano", "2024-12-24T09:00:00.460Z");
	attr_s(a, 8, "http.method", "POST");
	attr_s(a, 9, "http.route", "");
	attr_s(a, 11, "http.scheme", "http");
	attr_i(a, 12, "http.status.code", 0);

	e = get(span, "events", json_type_array);
	ck_assert_int_eq(json_object_array_length(e), 1);
	e = idx(e, 0);
	nkeys(e, 3);
	str_eq(e, "name", "error");
	str_eq(e, "time", "2024-12-24T09:00:00.460Z");
	ea = get(e, "attributes", json_type_array);
	ck_assert_int_eq(json_object_array_length(ea), 3);
	attr_s(ea, 0, "type", "JSON-SCHEMA-ERROR");
	attr_s(ea, 1, "code", "30000");
	attr_s(ea, 2, "msg", "bad");
	json_object_put(ev);
	free(text);
}
END_TEST

START_TEST(event_escaping)
{
	static const char	 id[] = "a\"b\\c\nd\x01" "e\x1f\xc3\xa9/";
	struct telemetry_span	 sp;
	json_object		*ev, *ra, *scope, *span;
	char			*text, mid[32];

	span_fill(&sp, mid, sizeof(mid), 0);
	sp.message_id = id;
	sp.domain = "tab\there";
	text = telemetry_event_json(&sp, &T.conf, NULL);
	ck_assert_ptr_nonnull(strstr(text,
	    "\"spanId\":\"a\\\"b\\\\c\\u000ad\\u0001e\\u001f\xc3\xa9/\""));
	ck_assert_ptr_nonnull(strstr(text, "tab\\u0009here"));
	ev = parse(text);
	span = event_span(ev, &ra, &scope);
	str_eq(span, "spanId", id);
	attr_s(ra, 2, "domain", "tab\there");
	json_object_put(ev);
	free(text);
}
END_TEST

START_TEST(event_properties)
{
	static const struct telemetry_prop props[] = {
		{ "order.id", "message.order.id" },
		{ "item", "message.order.items[].id" },
		{ "qty", "message.order.items[].qty" },
		{ "price", "message.order.price" },
		{ "paid", "message.order.paid" },
		{ "tag", "message.order.fulfillments[].tags[]" },
		{ "missing", "message.order.nope" },
		{ "null", "message.order.none" },
		{ "object", "message.order" },
		{ "array", "message.order.items" },
		{ "notarray", "message.order.id[]" },
		{ "through", "message.order.items.id" },
	};
	static const char body[] = "{\"context\":{},\"message\":{\"order\":"
	    "{\"id\":\"o-1\",\"items\":[{\"id\":\"i-1\",\"qty\":2},{\"id\":"
	    "\"i-2\",\"qty\":1.5},{\"qty\":null}],\"price\":12.25,"
	    "\"paid\":false,\"none\":null,\"fulfillments\":[{\"tags\":"
	    "[\"x\",true]},{\"tags\":[]},{\"tags\":[\"y\"]}]}}}";
	struct telemetry_span	 sp;
	json_object		*ev, *ra, *scope, *span, *a, *v, *b;
	char			*text, mid[32];

	span_fill(&sp, mid, sizeof(mid), 0);
	sp.body = b = parse(body);
	T.conf.props = props;
	T.conf.nprops = sizeof(props) / sizeof(props[0]);
	text = telemetry_event_json(&sp, &T.conf, NULL);
	ev = parse(text);
	span = event_span(ev, &ra, &scope);
	a = get(span, "attributes", json_type_array);
	ck_assert_int_eq(json_object_array_length(a), 13 + 10);
	attr_s(a, 13, "order.id", "o-1");
	attr_s(a, 14, "item.0", "i-1");
	attr_s(a, 15, "item.1", "i-2");
	attr_i(a, 16, "qty.0", 2);
	v = attr(a, 17, "qty.1", "doubleValue");
	ck_assert(json_object_get_double(get(v, "doubleValue",
	    json_type_double)) == 1.5);
	v = attr(a, 18, "price", "doubleValue");
	ck_assert(json_object_get_double(get(v, "doubleValue",
	    json_type_double)) == 12.25);
	v = attr(a, 19, "paid", "boolValue");
	ck_assert(!json_object_get_boolean(get(v, "boolValue",
	    json_type_boolean)));
	attr_s(a, 20, "tag.0.0", "x");
	v = attr(a, 21, "tag.0.1", "boolValue");
	ck_assert(json_object_get_boolean(get(v, "boolValue",
	    json_type_boolean)));
	attr_s(a, 22, "tag.2.0", "y");
	json_object_put(ev);
	free(text);

	/* No body: no properties. */
	sp.body = NULL;
	text = telemetry_event_json(&sp, &T.conf, NULL);
	ev = parse(text);
	span = event_span(ev, &ra, &scope);
	ck_assert_int_eq(json_object_array_length(get(span, "attributes",
	    json_type_array)), 13);
	json_object_put(ev);
	free(text);
	json_object_put(b);
}
END_TEST

static char *
uuid_of(const struct telemetry_span *sp, char out[33])
{
	json_object	*ev, *ra, *scope;
	char		*text = telemetry_event_json(sp, NULL, NULL);

	ev = parse(text);
	snprintf(out, 33, "%s", json_object_get_string(get(event_span(ev, &ra,
	    &scope), "span_uuid", json_type_string)));
	json_object_put(ev);
	free(text);
	return out;
}

/* One id per event: producer, direction and start tell them apart. */
START_TEST(event_span_uuid)
{
	struct telemetry_span	 sp;
	char			 mid[32], a[33], b[33];

	span_fill(&sp, mid, sizeof(mid), 0);
	uuid_of(&sp, a);
	ck_assert_str_eq(uuid_of(&sp, b), a);
	sp.direction = "in";
	ck_assert_str_ne(uuid_of(&sp, b), a);
	sp.direction = "out";
	sp.start_ns++;
	ck_assert_str_ne(uuid_of(&sp, b), a);
	sp.start_ns--;
	sp.producer = "bpp.employer.example.in";
	ck_assert_str_ne(uuid_of(&sp, b), a);
}
END_TEST

START_TEST(span_context)
{
	static const char body[] = "{\"context\":{\"domain\":\"d\","
	    "\"action\":\"on_select\",\"transaction_id\":\"t\","
	    "\"message_id\":\"m\",\"timestamp\":\"2024-12-24T09:00:00.100Z\","
	    "\"bap_id\":\"bap\",\"bap_uri\":\"https://bap\","
	    "\"bpp_id\":\"bpp\",\"bpp_uri\":\"https://bpp\"}}";
	struct telemetry_span	 sp;
	json_object		*o = parse(body);

	memset(&sp, 0, sizeof(sp));
	sp.action = "on_select";
	sp.producer = "me";
	telemetry_span_context(&sp, o);
	ck_assert_str_eq(sp.domain, "d");
	ck_assert_str_eq(sp.transaction_id, "t");
	ck_assert_str_eq(sp.message_id, "m");
	ck_assert_str_eq(sp.observed, "2024-12-24T09:00:00.100Z");
	ck_assert_str_eq(sp.sender_id, "bpp");
	ck_assert_str_eq(sp.sender_uri, "https://bpp");
	ck_assert_str_eq(sp.sender_type, "provider");
	ck_assert_str_eq(sp.recipient_id, "bap");
	ck_assert_str_eq(sp.recipient_uri, "https://bap");
	ck_assert_str_eq(sp.recipient_type, "seeker");
	ck_assert_str_eq(sp.producer, "me");

	sp.action = "select";
	telemetry_span_context(&sp, o);
	ck_assert_str_eq(sp.sender_id, "bap");
	ck_assert_str_eq(sp.sender_type, "seeker");
	ck_assert_str_eq(sp.recipient_id, "bpp");
	ck_assert_str_eq(sp.recipient_type, "provider");

	/* No action of its own: the context's. */
	sp.action = NULL;
	telemetry_span_context(&sp, o);
	ck_assert_str_eq(sp.sender_id, "bpp");
	ck_assert_ptr_null(sp.action);

	memset(&sp, 0, sizeof(sp));
	telemetry_span_context(&sp, NULL);
	ck_assert_ptr_null(sp.domain);
	json_object_put(o);
	o = parse("{\"message\":{}}");
	telemetry_span_context(&sp, o);
	ck_assert_ptr_null(sp.sender_id);
	json_object_put(o);
}
END_TEST

/* ---- batch bodies ---------------------------------------------------- */

/*
 * Check r's body against 1.4/1.7: {"data":{"id":ID,"events":[...]}}, ID
 * the SHA-256 prefix of the array's text; the message numbers of its
 * events (their spanIds "m<n>") into ns; their count.
 */
static int
batch_check(const struct rec *r, int *ns, int max)
{
	static const char	 head[] = "{\"data\":{\"id\":\"";
	static const char	 mid[] = "\",\"events\":";
	static const char	 digits[] = "0123456789abcdef";
	json_object		*o, *data, *evs, *ra, *scope, *span;
	EVP_MD_CTX		*ctx;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	char			 id[33];
	size_t			 i, n, arrlen;
	const char		*arr;

	ck_assert_str_eq(r->ctype, "application/json");
	ck_assert_msg(strncmp(r->body, head, sizeof(head) - 1) == 0,
	    "body: %.80s", r->body);
	arr = r->body + sizeof(head) - 1 + 32;
	ck_assert(strncmp(arr, mid, sizeof(mid) - 1) == 0);
	arr += sizeof(mid) - 1;
	ck_assert(r->len > 2 && strcmp(r->body + r->len - 2, "}}") == 0);
	arrlen = (size_t)(r->body + r->len - 2 - arr);
	ck_assert_ptr_nonnull(ctx = EVP_MD_CTX_new());
	ck_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, arr, arrlen) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < 16; i++) {
		id[2 * i] = digits[md[i] >> 4];
		id[2 * i + 1] = digits[md[i] & 0xf];
	}
	id[32] = '\0';

	o = parse(r->body);
	nkeys(o, 1);
	data = get(o, "data", json_type_object);
	nkeys(data, 2);
	str_eq(data, "id", id);
	evs = get(data, "events", json_type_array);
	n = json_object_array_length(evs);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_le((int)n, max);
	for (i = 0; i < n; i++) {
		span = event_span(idx(evs, i), &ra, &scope);
		ns[i] = atoi(json_object_get_string(get(span, "spanId",
		    json_type_string)) + 1);
	}
	json_object_put(o);
	return (int)n;
}

/* Check r holds exactly messages from..to, in order. */
static void
batch_is(const struct rec *r, int from, int to)
{
	int	 ns[64], n, i;

	n = batch_check(r, ns, 64);
	ck_assert_int_eq(n, to - from + 1);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ns[i], from + i);
}

START_TEST(batch_by_size)
{
	struct stub		*s = stub_new(NULL, 200);
	struct telemetry_stats	 st;
	int			 i;

	T.conf.url = s->url;
	T.conf.batch_size = 3;
	start();
	for (i = 0; i < 7; i++)
		emit(i);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	run_for(100);
	ck_assert_int_eq(s->n, 2);
	batch_is(&s->reqs[0], 0, 2);
	batch_is(&s->reqs[1], 3, 5);
	st = stats();
	ck_assert_uint_eq(st.events, 7);
	ck_assert_uint_eq(st.events_sent, 6);
	ck_assert_uint_eq(st.batches_sent, 2);
	ck_assert_uint_eq(st.spooled, 1);
	ck_assert_uint_eq(st.batches, 0);
	telemetry_flush(T.t);
	ck_assert_int_eq(stub_wait(s, 3, 2000), 3);
	batch_is(&s->reqs[2], 6, 6);
	run_for(20);
	st = stats();
	ck_assert_uint_eq(st.events_sent, 7);
	ck_assert_uint_eq(st.batches_sent, 3);
	ck_assert_uint_eq(st.send_failures, 0);
	ck_assert_uint_eq(st.spooled, 0);
	/* Different batches, different ids. */
	ck_assert(strncmp(s->reqs[0].body, s->reqs[1].body, 47) != 0);
}
END_TEST

START_TEST(batch_by_bytes)
{
	struct stub		*s = stub_new(NULL, 200);
	struct telemetry_span	 sp;
	char			*text, mid[32], big[8192];
	size_t			 len;
	int			 i;

	span_fill(&sp, mid, sizeof(mid), 0);
	text = telemetry_event_json(&sp, &T.conf, &len);
	free(text);
	/* Two events (and the envelope) fit, a third does not. */
	T.conf.url = s->url;
	T.conf.max_batch_bytes = 2 * len + 1 + 62 + len / 2;
	ck_assert_uint_lt(T.conf.max_batch_bytes, sizeof(big));
	start();
	for (i = 0; i < 5; i++)
		emit(i);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	batch_is(&s->reqs[0], 0, 1);
	batch_is(&s->reqs[1], 2, 3);
	ck_assert_uint_le(s->reqs[0].len, T.conf.max_batch_bytes);

	/* Larger than max_batch_bytes: sealed alone, and sent. */
	span_fill(&sp, mid, sizeof(mid), 5);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sp.http_host = big;
	telemetry_emit(T.t, &sp);
	ck_assert_int_eq(stub_wait(s, 4, 2000), 4);
	batch_is(&s->reqs[2], 4, 4);
	batch_is(&s->reqs[3], 5, 5);
	ck_assert_uint_gt(s->reqs[3].len, T.conf.max_batch_bytes);
}
END_TEST

START_TEST(batch_by_interval)
{
	struct stub	*s = stub_new(NULL, 200);
	double		 t0;

	T.conf.url = s->url;
	T.conf.interval_ms = tms(200);
	start();
	t0 = mono_ms();
	emit(0);
	emit(1);
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	ck_assert_msg(s->reqs[0].at_ms - t0 >= tms(150), "sealed after %.0f "
	    "ms", s->reqs[0].at_ms - t0);
	batch_is(&s->reqs[0], 0, 1);
	/* Nothing open: the timer does not send empty batches. */
	run_for(500);
	ck_assert_int_eq(s->n, 1);
	emit(2);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	batch_is(&s->reqs[1], 2, 2);
}
END_TEST

static int
fail_first(struct stub *s, int n)
{
	return n == 0 ? 500 : 200;
}

/* The retry is the same batch: the same bytes, the same id. */
START_TEST(retry_same_body)
{
	struct stub		*s = stub_new(fail_first, 0);
	struct telemetry_stats	 st;
	int			 i;

	T.conf.url = s->url;
	T.conf.batch_size = 2;
	start();
	for (i = 0; i < 2; i++)
		emit(i);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	ck_assert_uint_eq(s->reqs[0].len, s->reqs[1].len);
	ck_assert(memcmp(s->reqs[0].body, s->reqs[1].body,
	    s->reqs[0].len) == 0);
	batch_is(&s->reqs[1], 0, 1);
	run_for(50);
	st = stats();
	ck_assert_uint_eq(st.send_failures, 1);
	ck_assert_uint_eq(st.batches_sent, 1);
	ck_assert_uint_eq(st.events_sent, 2);
	ck_assert_uint_eq(st.spooled, 0);
}
END_TEST

static int
fail_four(struct stub *s, int n)
{
	return n < 4 ? 503 : 200;
}

/* retry_max_ms under TELEMETRY_RETRY_MIN_MS caps every wait. */
START_TEST(backoff_retry_max)
{
	struct stub		*s = stub_new(fail_four, 0);
	struct telemetry_stats	 st;
	int			 i;

	T.conf.url = s->url;
	T.conf.batch_size = 1;
	T.conf.retry_max_ms = 100;
	start();
	emit(0);
	ck_assert_int_eq(stub_wait(s, 5, 3000), 5);
	for (i = 1; i < 5; i++)
		ck_assert_msg(s->reqs[i].at_ms - s->reqs[i - 1].at_ms <
		    tms(100) + 150, "retry %d after %.0f ms", i,
		    s->reqs[i].at_ms - s->reqs[i - 1].at_ms);
	run_for(50);
	st = stats();
	ck_assert_uint_eq(st.send_failures, 4);
	ck_assert_uint_eq(st.batches_sent, 1);

	/* Nobody listening: failures too, retried. */
	telemetry_free(T.t);
	T.conf.url = "http://127.0.0.1:9/sink";
	start();
	emit(1);
	run_for(400);
	st = stats();
	ck_assert_uint_ge(st.send_failures, 2);
	ck_assert_uint_eq(st.batches_sent, 0);
	ck_assert_uint_eq(st.spooled, 1);
	ck_assert_uint_eq(st.batches, 1);
}
END_TEST

/* The first backoff is TELEMETRY_RETRY_MIN_MS with jitter: [min/2, min];
 * flush does not wait for it. */
START_TEST(backoff_min_flush)
{
	struct stub	*s = stub_new(fail_first, 0);
	double		 t0;

	T.conf.url = s->url;
	T.conf.batch_size = 1;
	T.conf.retry_max_ms = 60000;
	start();
	emit(0);
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	t0 = mono_ms();
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	ck_assert_msg(s->reqs[1].at_ms - t0 >= TELEMETRY_RETRY_MIN_MS / 2 -
	    50, "retry after %.0f ms", s->reqs[1].at_ms - t0);
	s->decide = NULL;
	s->status = 500;
	emit(1);
	ck_assert_int_eq(stub_wait(s, 3, 2000), 3);
	/* Backing off for 1..2 s now; flush sends at once. */
	run_for(50);
	t0 = mono_ms();
	telemetry_flush(T.t);
	ck_assert_int_eq(stub_wait(s, 4, 500), 4);
	ck_assert_double_lt(s->reqs[3].at_ms - t0, tms(400));
}
END_TEST

static int
hold_first(struct stub *s, int n)
{
	return n == 0 ? 0 : 200;
}

START_TEST(spool_drops_oldest)
{
	struct stub		*s = stub_new(hold_first, 0);
	struct telemetry_stats	 st;

	T.conf.url = s->url;
	T.conf.batch_size = 2;
	T.conf.spool_max = 4;
	start();
	emit(0);
	emit(1);		/* A: sent, held by the sink */
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	emit(2);
	emit(3);		/* B */
	emit(4);
	emit(5);		/* C: 6 > 4, B goes, not A (in flight) */
	st = stats();
	ck_assert_uint_eq(st.dropped, 2);
	ck_assert_uint_eq(st.spooled, 4);
	ck_assert_uint_eq(st.batches, 2);
	ck_assert_uint_eq(st.events, 6);

	reply(s->held[--s->nheld], 200);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	batch_is(&s->reqs[0], 0, 1);
	batch_is(&s->reqs[1], 4, 5);
	run_for(50);
	st = stats();
	ck_assert_uint_eq(st.events_sent, 4);
	ck_assert_uint_eq(st.spooled, 0);
	ck_assert_uint_eq(st.dropped, 2);
}
END_TEST

/* Only the open batch to drop: sealed, then dropped. */
START_TEST(spool_drops_open)
{
	struct stub		*s = stub_new(hold_first, 0);
	struct telemetry_stats	 st;

	T.conf.url = s->url;
	T.conf.batch_size = 3;
	T.conf.spool_max = 3;
	start();
	emit(0);
	emit(1);
	emit(2);		/* A: held */
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	emit(3);		/* 4 > 3: the open batch goes */
	st = stats();
	ck_assert_uint_eq(st.dropped, 1);
	ck_assert_uint_eq(st.spooled, 3);
	emit(4);
	emit(5);
	st = stats();
	ck_assert_uint_eq(st.dropped, 3);
	reply(s->held[--s->nheld], 200);
	run_for(100);
	telemetry_flush(T.t);
	run_for(100);
	ck_assert_int_eq(s->n, 1);
	ck_assert_uint_eq(stats().spooled, 0);
}
END_TEST

START_TEST(off_sends_nothing)
{
	struct stub		*s = stub_new(NULL, 200);
	struct telemetry_stats	 st;

	T.conf.url = NULL;
	T.conf.batch_size = 1;
	T.conf.interval_ms = tms(50);
	start();
	emit(0);
	telemetry_flush(T.t);
	run_for(200);
	ck_assert_int_eq(s->n, 0);
	st = stats();
	ck_assert_uint_eq(st.events, 0);
	ck_assert_uint_eq(st.spooled, 0);
	T.conf.url = "";
	telemetry_reconfigure(T.t, &T.conf);
	emit(1);
	run_for(100);
	ck_assert_int_eq(s->n, 0);

	/* On: events go; a spool made while failing waits while off and
	 * goes once on again. */
	T.conf.url = s->url;
	telemetry_reconfigure(T.t, &T.conf);
	emit(2);
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	batch_is(&s->reqs[0], 2, 2);
	s->status = 500;
	T.conf.retry_max_ms = 5000;
	telemetry_reconfigure(T.t, &T.conf);
	emit(3);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	T.conf.url = NULL;
	telemetry_reconfigure(T.t, &T.conf);
	emit(4);
	telemetry_flush(T.t);
	run_for(200);
	ck_assert_int_eq(s->n, 2);
	st = stats();
	ck_assert_uint_eq(st.spooled, 1);
	ck_assert_uint_eq(st.events, 2);
	s->status = 200;
	T.conf.url = s->url;
	telemetry_reconfigure(T.t, &T.conf);
	ck_assert_int_eq(stub_wait(s, 3, 2000), 3);
	batch_is(&s->reqs[2], 3, 3);
	ck_assert_str_eq(s->reqs[1].body, s->reqs[2].body);
}
END_TEST

/* stderr into a file at level INFO, until capture_end(). */
static int
capture_start(FILE **tmp)
{
	int	 saved;

	ck_assert_ptr_nonnull(*tmp = tmpfile());
	fflush(stderr);
	ck_assert_int_ge(saved = dup(STDERR_FILENO), 0);
	ck_assert_int_eq(dup2(fileno(*tmp), STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_LVL_INFO);
	return saved;
}

/* What was written since capture_start(). */
static char *
capture_end(FILE *tmp, int saved)
{
	char	*out;
	long	 n;

	fflush(stderr);
	log_set_level(LOG_LVL_ERROR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = ftell(tmp);
	ck_assert_int_ge(n, 0);
	out = xmalloc((size_t)n + 1);
	rewind(tmp);
	ck_assert_uint_eq(fread(out, 1, (size_t)n, tmp), (size_t)n);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static int
count_str(const char *hay, const char *needle)
{
	int	 n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* A sink down: one warning for many failed POSTs, one line when it is
 * back; a drop names its count. */
START_TEST(log_lines)
{
	struct stub	*s = stub_new(NULL, 503);
	FILE		*tmp;
	char		*log;
	int		 saved;

	T.conf.url = s->url;
	T.conf.batch_size = 1;
	T.conf.retry_max_ms = 10;
	T.conf.spool_max = 2;
	saved = capture_start(&tmp);
	start();
	emit(0);
	stub_wait(s, 6, 2000);
	s->status = 200;
	stub_wait(s, 7, 2000);
	run_for(50);
	s->status = 503;
	emit(1);
	emit(2);
	emit(3);
	stub_wait(s, 9, 2000);
	log = capture_end(tmp, saved);
	ck_assert_int_ge(s->n, 7);
	ck_assert_uint_ge(stats().send_failures, 6);
	/* Restarted by the success: the next failure is logged. */
	ck_assert_msg(count_str(log, "telemetry: POST to") == 3 &&
	    count_str(log, "\"warn\"") == 3 &&
	    count_str(log, "failed: HTTP 503") == 2 &&
	    count_str(log, "works again after 6 failure(s)") == 1 &&
	    count_str(log, "spool full (spool_max 2 events): dropped the "
	    "oldest 1 batch(es), 1 events not sent") == 1, "log: %s", log);
	free(log);
}
END_TEST

/* ---- the store ------------------------------------------------------- */

static void
store_up(void)
{
	struct store_conf	 sc;
	char			 path[128], err[256];

	if (T.dir[0] == '\0') {
		snprintf(T.dir, sizeof(T.dir), "/tmp/check_telemetry.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(T.dir));
	}
	memset(&sc, 0, sizeof(sc));
	snprintf(path, sizeof(path), "%s/becknd.db", T.dir);
	sc.path = path;
	T.store = store_open(&sc, err, sizeof(err));
	ck_assert_msg(T.store != NULL, "store_open: %s", err);
}

/* After telemetry_new (which loads), as the daemon does. */
static void
store_go(void)
{
	char	 err[256];

	ck_assert_msg(store_start(T.store, T.base, err, sizeof(err)) == 0,
	    "store_start: %s", err);
}

static void
restart(void)
{
	telemetry_free(T.t);
	T.t = NULL;
	store_close(T.store);
	T.store = NULL;
	store_up();
	start();
	store_go();
}

/* Sent batches are resent after a restart as the same bytes. */
START_TEST(store_resend_same_ids)
{
	struct stub		*s = stub_new(NULL, 500);
	struct telemetry_stats	 st;
	int			 i;

	T.conf.url = s->url;
	T.conf.batch_size = 2;
	T.conf.retry_max_ms = 60000;
	store_up();
	start();
	store_go();
	for (i = 0; i < 5; i++)
		emit(i);	/* A 0-1 (failing), B 2-3, open 4 */
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	restart();
	st = stats();
	ck_assert_uint_eq(st.spooled, 5);
	ck_assert_uint_eq(st.batches, 3);	/* the open one sealed */
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	ck_assert_str_eq(s->reqs[0].body, s->reqs[1].body);

	s->status = 200;
	telemetry_flush(T.t);
	ck_assert_int_eq(stub_wait(s, 5, 2000), 5);
	ck_assert_str_eq(s->reqs[0].body, s->reqs[2].body);
	batch_is(&s->reqs[2], 0, 1);
	batch_is(&s->reqs[3], 2, 3);
	batch_is(&s->reqs[4], 4, 4);
	run_for(50);
	st = stats();
	ck_assert_uint_eq(st.spooled, 0);
	ck_assert_uint_eq(st.batches, 0);

	/* Accepted is gone from the store; numbering goes on. */
	restart();
	ck_assert_uint_eq(stats().spooled, 0);
	emit(5);
	telemetry_flush(T.t);
	ck_assert_int_eq(stub_wait(s, 6, 2000), 6);
	batch_is(&s->reqs[5], 5, 5);
	run_for(50);
	restart();
	ck_assert_uint_eq(stats().spooled, 0);
	run_for(100);
	ck_assert_int_eq(s->n, 6);
}
END_TEST

/* Off: a spool loaded from the store is kept, sent once on. */
START_TEST(store_off_keeps)
{
	struct stub	*s = stub_new(NULL, 200);
	const char	*url = s->url;

	T.conf.url = "http://127.0.0.1:9/sink";
	T.conf.retry_max_ms = 60000;
	store_up();
	start();
	store_go();
	emit(0);
	emit(1);
	T.conf.url = NULL;
	restart();
	ck_assert_uint_eq(stats().spooled, 2);
	ck_assert_uint_eq(stats().batches, 1);	/* sealed by free */
	restart();
	ck_assert_uint_eq(stats().spooled, 2);
	T.conf.url = url;
	telemetry_reconfigure(T.t, &T.conf);
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	batch_is(&s->reqs[0], 0, 1);
}
END_TEST


/* Put message n's event into the store as seq. */
static void
put_event(int64_t seq, int n)
{
	struct telemetry_span	 sp;
	char			*text, mid[32];
	size_t			 len;

	span_fill(&sp, mid, sizeof(mid), n);
	text = telemetry_event_json(&sp, &T.conf, &len);
	store_tel_event(T.store, seq, text, len);
	free(text);
}

/*
 * A crash leaves events not sealed: they come back as the open batch,
 * after the sealed ones, and numbering goes on past them.
 */
START_TEST(store_open_batch_loaded)
{
	struct stub	*s = stub_new(NULL, 200);

	T.conf.url = s->url;
	T.conf.batch_size = 2;
	store_up();
	put_event(1, 1);
	put_event(2, 2);
	store_tel_seal(T.store, 1, 2);
	put_event(3, 3);
	store_close(T.store);
	T.store = NULL;
	store_up();
	start();
	store_go();
	ck_assert_uint_eq(stats().spooled, 3);
	ck_assert_uint_eq(stats().batches, 1);
	ck_assert_int_eq(stub_wait(s, 1, 2000), 1);
	batch_is(&s->reqs[0], 1, 2);
	emit(4);		/* seq 4, with 3 in the open batch */
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	batch_is(&s->reqs[1], 3, 4);
	run_for(100);
	ck_assert_uint_eq(stats().batches_sent, 2);
	emit(5);
	restart();
	ck_assert_uint_eq(stats().spooled, 1);
	ck_assert_int_eq(stub_wait(s, 3, 2000), 3);
	batch_is(&s->reqs[2], 5, 5);
	run_for(50);
	restart();
	ck_assert_uint_eq(stats().spooled, 0);
}
END_TEST

/* Records the store committed so far. */
static uint64_t
store_records(void)
{
	struct store_stats	 ss;

	store_stats(T.store, &ss);
	return ss.records;
}

static int
records_at_least(void *arg)
{
	return store_records() >= *(uint64_t *)arg;
}

/*
 * What the sink takes at once never touches the disk; what waits
 * TELEMETRY_PERSIST_MS is written; a failing sink has everything
 * written at once, each new event too.
 */
START_TEST(store_writes_what_waits)
{
	struct stub	*s = stub_new(NULL, 200);
	uint64_t	 r0, want;
	int		 i;

	T.conf.url = s->url;
	T.conf.batch_size = 2;
	T.conf.interval_ms = 60000;
	T.conf.retry_max_ms = 60000;
	store_up();
	start();
	store_go();
	r0 = store_records();
	for (i = 0; i < 4; i++)
		emit(i);
	ck_assert_int_eq(stub_wait(s, 2, 2000), 2);
	run_for(TELEMETRY_PERSIST_MS + 300);
	ck_assert_uint_eq(stats().batches_sent, 2);
	ck_assert_msg(store_records() == r0, "batches taken at once were "
	    "written: %llu records", (unsigned long long)(store_records() -
	    r0));

	/* One event waits in the open batch: written within the bound. */
	emit(4);
	want = r0 + 1;
	ck_assert_msg(run_until(records_at_least, &want,
	    TELEMETRY_PERSIST_MS + 1000), "the waiting event was not "
	    "written");
	run_for(100);
	ck_assert_uint_eq(store_records(), r0 + 1);

	/* The sink fails: the sealed batch (event 4 and 5) is written whole
	 * (event 5 and the seal), and so is every event after it. */
	s->status = 503;
	emit(5);		/* seals 4-5 and sends it */
	want = r0 + 3;
	ck_assert_msg(run_until(records_at_least, &want, 2000), "the "
	    "failed batch was not written: %llu records",
	    (unsigned long long)(store_records() - r0));
	emit(6);
	want = r0 + 4;
	ck_assert_msg(run_until(records_at_least, &want, 1000), "an event "
	    "while the sink fails was not written at once");
	/* A restart finds all of it. */
	restart();
	ck_assert_uint_eq(stats().spooled, 2 + 1);
}
END_TEST

static TCase *
tc(Suite *s, const char *name)
{
	TCase	*t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, under_valgrind() ? 300 : 30);
	suite_add_tcase(s, t);
	return t;
}

int
main(void)
{
	Suite	*s = suite_create("telemetry");
	TCase	*t;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_LVL_ERROR);

	t = tc(s, "event");
	tcase_add_test(t, event_structure);
	tcase_add_test(t, event_error_defaults);
	tcase_add_test(t, event_escaping);
	tcase_add_test(t, event_properties);
	tcase_add_test(t, event_span_uuid);
	tcase_add_test(t, span_context);

	t = tc(s, "batches");
	tcase_add_test(t, batch_by_size);
	tcase_add_test(t, batch_by_bytes);
	tcase_add_test(t, batch_by_interval);
	tcase_add_test(t, retry_same_body);
	tcase_add_test(t, backoff_retry_max);
	tcase_add_test(t, backoff_min_flush);
	tcase_add_test(t, spool_drops_oldest);
	tcase_add_test(t, spool_drops_open);
	tcase_add_test(t, off_sends_nothing);
	tcase_add_test(t, log_lines);

	t = tc(s, "store");
	tcase_add_test(t, store_resend_same_ids);
	tcase_add_test(t, store_off_keeps);
	tcase_add_test(t, store_open_batch_loaded);
	tcase_add_test(t, store_writes_what_waits);
	return test_run_suite(s);
}

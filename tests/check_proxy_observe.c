/*
 * check_proxy_observe.c - what the adaptor tells the outside about
 * itself (src/proxy/proxy_observe.c): ONEST telemetry of each message,
 * /metrics, /healthz and /readyz on the admin listener.
 *
 * The in-process world of check_proxy_store.c (tests/proxy_harness.h):
 * a real struct proxy on 127.0.0.1 with its store and admin listener,
 * stub webhooks, a stub telemetry sink, a registry file (or the stub
 * registry).  The store's writer and the telemetry timers run on real
 * time: waits poll with bounded loop runs.
 *
 *   telemetry      one event per message the participant answered after
 *                  its signature verified: the ACK Ok, the NACK Error
 *                  with its code; nothing for bytes that did not verify
 *   metrics        becknd_messages_total counts every answer by
 *                  participant, action, outcome and code; refusals by
 *                  stage; verify and validate timed
 *   token          /metrics needs admin.token, the probes never do
 *   readiness      503 naming the registry until it answered; then 200
 *   reload         telemetry.url set by SIGHUP is used from then on
 *   edges          message_properties in the event; client failures by
 *                  stage; GET only; a stop cancels the readiness probe
 *   stop           what telemetry holds is sent before the stop ends
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "testutil.h"
#include "proxy_harness.h"
#include "proxy/proxy.h"
#include "util/xmalloc.h"

#define SLOW_MS		3000	/* "it arrives": a generous real-time bound */

static struct {
	struct ph_stub	*w_bpp, *sink;
	struct ph_party	*bpp, *sbap;
	struct ph_proxy	*px;
} S;

static void
setup(void)
{
	ph_setup();
	memset(&S, 0, sizeof(S));
}

static void
teardown(void)
{
	ph_teardown();
	memset(&S, 0, sizeof(S));
}

/* bpp.test hosted with a store and listen.admin; telemetry to the sink. */
static void
world(int telemetry)
{
	S.w_bpp = ph_stub("bpp-webhook");
	S.sink = ph_stub("telemetry-sink");
	S.bpp = ph_party("bpp.test", "/bpp");
	S.sbap = ph_party("sender.bap.test", "/sbap");
	ph_register(S.bpp, "BPP", PH_DOMAIN);
	ph_register(S.sbap, "BAP", PH_DOMAIN);
	ph_registry_write();
	S.px = ph_proxy("main");
	ph_host(S.px, S.bpp, "bpp", S.w_bpp, NULL);
	ph_store(S.px, NULL);
	ph_admin(S.px);
	if (telemetry)
		ph_set(S.px, "telemetry.url", ph_fmt("\"%s/data/v1/in/test\"",
		    ph_stub_url(S.sink)));
	ph_set(S.px, "telemetry.interval", "100ms");
}

/* An init the schemas refuse (400 30000), verified all the same. */
static json_object *
init_invalid(void)
{
	json_object	*m = ph_msg("init", S.sbap, S.bpp), *msg, *order;

	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	json_object_object_add(order, "items",
	    json_object_new_string("course-ml-101"));
	return m;
}

static struct ph_call *
admin_get(const char *path, const char *token)
{
	const char	*hdr[3] = { NULL, NULL, NULL };

	if (token != NULL) {
		hdr[0] = "Authorization";
		hdr[1] = ph_fmt("Bearer %s", token);
	}
	return ph_call(ph_admin_port(S.px), "GET", path, NULL, 0,
	    token != NULL ? hdr : NULL);
}

/* The value of the exposition line starting with series, or -1. */
static double
sample(const char *text, const char *series)
{
	const char	*p = text;
	size_t		 len = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return strtod(p + len + 1, NULL);
		p += len;
	}
	return -1;
}

/* Every event the sink accepted so far, in order (kept). */
static json_object *
sink_events(void)
{
	json_object	*all = ph_keep_json(json_object_new_array()), *d, *ev;
	struct ph_req	*r;
	int		 i;
	size_t		 j;

	for (i = 0; i < ph_stub_count(S.sink); i++) {
		r = ph_stub_req(S.sink, i);
		if (r->json == NULL ||
		    !json_object_object_get_ex(r->json, "data", &d) ||
		    !json_object_object_get_ex(d, "events", &ev))
			PH_FAIL("a telemetry POST without data.events: %.300s",
			    r->body);
		for (j = 0; j < json_object_array_length(ev); j++)
			json_object_array_add(all, json_object_get(
			    json_object_array_get_idx(ev, j)));
	}
	return all;
}

/* Run the loop until the sink holds n events or SLOW_MS passed. */
static json_object *
wait_events(size_t n)
{
	json_object	*ev;
	int		 t;

	for (t = 0; t < SLOW_MS; t += 50) {
		ev = sink_events();
		if (json_object_array_length(ev) >= n)
			return ev;
		ph_run_for(50);
	}
	return sink_events();
}

/* The span of an event, and a string at a path below it. */
static json_object *
span_of(json_object *e)
{
	json_object	*o;

	o = json_object_array_get_idx(json_object_object_get(e,
	    "resourceSpans"), 0);
	o = json_object_array_get_idx(json_object_object_get(o,
	    "scopeSpans"), 0);
	return json_object_array_get_idx(json_object_object_get(o, "spans"),
	    0);
}

static const char *
sstr(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* The value of attribute key in an attributes array, as text. */
static const char *
attr(json_object *attrs, const char *key)
{
	json_object	*a, *v, *x;
	size_t		 i;

	for (i = 0; i < json_object_array_length(attrs); i++) {
		a = json_object_array_get_idx(attrs, i);
		if (strcmp(sstr(a, "key"), key) != 0)
			continue;
		v = json_object_object_get(a, "value");
		json_object_object_foreach(v, k, val) {
			(void)k;
			x = val;
			return json_object_get_string(x);
		}
	}
	return NULL;
}

START_TEST(ob_telemetry_and_metrics)
{
	json_object	*ack, *nack, *ev, *sp, *err;
	struct ph_party	*forger;
	struct ph_call	*c;
	const char	*text;
	int		 i;

	world(1);
	ph_start(S.px);
	ack = ph_msg("select", S.sbap, S.bpp);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(ack), S.sbap),
	    "select");
	nack = init_invalid();
	EXPECT_NACK(ph_send(S.px, "/bpp/init", ph_wire(nack), S.sbap), 400,
	    "30000", NULL, "init refused");
	/* Bytes that do not verify (another key under the sender's name):
	 * counted, never reported. */
	forger = ph_party("sender.bap.test", "/sbap");
	c = ph_send(S.px, "/bpp/select", ph_wire(ph_msg("select", S.sbap,
	    S.bpp)), forger);
	if (c->status != 401)
		PH_FAIL("a forged signature: %s", ph_describe(c));

	ev = wait_events(2);
	ph_run_for(300);	/* and nothing more comes */
	ev = sink_events();
	if (json_object_array_length(ev) != 2)
		PH_FAIL("want 2 events (the ACK, the NACK), got %zu: %.600s",
		    json_object_array_length(ev),
		    json_object_to_json_string(ev));
	for (i = 0; i < 2; i++) {
		json_object *m = i == 0 ? ack : nack;

		sp = span_of(json_object_array_get_idx(ev, (size_t)i));
		if (sp == NULL || strcmp(sstr(sp, "name"), i == 0 ? "select" :
		    "init") != 0 ||
		    strcmp(sstr(sp, "traceId"), ph_ctx(m, "transaction_id")) !=
		    0 || strcmp(sstr(sp, "spanId"), ph_ctx(m, "message_id")) !=
		    0)
			PH_FAIL("event %d: %.600s", i,
			    json_object_to_json_string(sp));
		if (strcmp(sstr(sp, "status"), i == 0 ? "Ok" : "Error") != 0)
			PH_FAIL("event %d: status %s", i, sstr(sp, "status"));
		if (strcmp(attr(json_object_object_get(sp, "attributes"),
		    "http.status.code"), i == 0 ? "200" : "400") != 0 ||
		    strcmp(attr(json_object_object_get(sp, "attributes"),
		    "sender.id"), "sender.bap.test") != 0 ||
		    strcmp(attr(json_object_object_get(sp, "attributes"),
		    "http.route"), i == 0 ? "/bpp/select" : "/bpp/init") != 0)
			PH_FAIL("event %d attributes: %.600s", i,
			    json_object_to_json_string(sp));
		if (strtoll(sstr(sp, "endTimeUnixNano"), NULL, 10) <
		    strtoll(sstr(sp, "startTimeUnixNano"), NULL, 10))
			PH_FAIL("event %d ends before it starts", i);
	}
	err = json_object_array_get_idx(json_object_object_get(sp, "events"),
	    0);
	if (err == NULL || strcmp(sstr(err, "name"), "error") != 0 ||
	    strcmp(attr(json_object_object_get(err, "attributes"), "code"),
	    "30000") != 0 || strcmp(attr(json_object_object_get(err,
	    "attributes"), "type"), "JSON-SCHEMA-ERROR") != 0)
		PH_FAIL("the NACK's error event: %.600s",
		    json_object_to_json_string(sp));

	c = admin_get("/metrics", NULL);
	if (c->status != 200 || strncmp(ph_call_header(c, "Content-Type"),
	    "text/plain; version=0.0.4", 25) != 0)
		PH_FAIL("/metrics: %s", ph_describe(c));
	text = c->body;
	if (sample(text, "becknd_messages_total{participant=\"bpp.test\","
	    "direction=\"in\",action=\"select\",outcome=\"ACK\",code=\"\"}")
	    != 1 ||
	    sample(text, "becknd_messages_total{participant=\"bpp.test\","
	    "direction=\"in\",action=\"init\",outcome=\"NACK\",code="
	    "\"30000\"}") != 1 ||
	    sample(text, "becknd_messages_total{participant=\"bpp.test\","
	    "direction=\"in\",action=\"select\",outcome=\"NACK\",code="
	    "\"30000\"}") != 1)
		PH_FAIL("message counters:\n%s", text);
	if (sample(text, "becknd_network_nacks_total{stage=\"validate\"}")
	    != 1 ||
	    sample(text, "becknd_network_nacks_total{stage=\"verify\"}") != 1)
		PH_FAIL("refusals by stage:\n%s", text);
	if (sample(text, "becknd_stage_duration_seconds_count{stage="
	    "\"verify\"}") < 3 ||
	    sample(text, "becknd_stage_duration_seconds_count{stage="
	    "\"validate\"}") != 2 ||
	    sample(text, "becknd_stage_duration_seconds_count{stage="
	    "\"store_commit\"}") != 1)
		PH_FAIL("stage timings:\n%s", text);
	if (sample(text, "becknd_telemetry_events_total") != 2 ||
	    sample(text, "becknd_telemetry_events_sent_total") != 2 ||
	    sample(text, "becknd_telemetry_spool_events") != 0)
		PH_FAIL("telemetry figures:\n%s", text);
	if (ph_stub_wait(S.w_bpp, 1, SLOW_MS) != 1)
		PH_FAIL("the select was not delivered");
	c = admin_get("/metrics", NULL);
	if (sample(c->body, "becknd_deliveries_total{outcome=\"delivered\"}")
	    != 1 ||
	    sample(c->body, "becknd_stage_duration_seconds_count{stage="
	    "\"delivery\"}") != 1)
		PH_FAIL("delivery figures:\n%s", c->body);
}
END_TEST

START_TEST(ob_token)
{
	static const char	 tok[] = "0123456789abcdef0123";
	struct ph_call		*c;

	world(0);
	ph_set(S.px, "admin.token", ph_fmt("\"%s\"", tok));
	ph_start(S.px);
	c = admin_get("/metrics", NULL);
	if (c->status != 401)
		PH_FAIL("/metrics without the token: %s", ph_describe(c));
	c = admin_get("/metrics", tok);
	if (c->status != 200 || strstr(c->body, "becknd_build_info{") ==
	    NULL)
		PH_FAIL("/metrics with the token: %s", ph_describe(c));
	c = admin_get("/healthz", NULL);
	if (c->status != 200)
		PH_FAIL("/healthz without the token: %s", ph_describe(c));
	c = admin_get("/readyz", NULL);
	if (c->status != 200 || c->json == NULL ||
	    !json_object_get_boolean(json_object_object_get(c->json,
	    "ready")))
		PH_FAIL("/readyz with a registry file: %s", ph_describe(c));
	c = ph_call(ph_admin_port(S.px), "POST", "/metrics", "", 0, NULL);
	if (c->status != 401)
		PH_FAIL("POST /metrics without the token: %s",
		    ph_describe(c));
}
END_TEST

/* The registry check of /readyz: ok and reason. */
static int
registry_ok(struct ph_call *c, const char **reason)
{
	json_object	*checks, *o;
	size_t		 i;

	*reason = NULL;
	if (c->json == NULL || !json_object_object_get_ex(c->json, "checks",
	    &checks))
		return -1;
	for (i = 0; i < json_object_array_length(checks); i++) {
		o = json_object_array_get_idx(checks, i);
		if (strcmp(sstr(o, "check"), "registry") != 0)
			continue;
		*reason = sstr(o, "reason");
		return json_object_get_boolean(json_object_object_get(o,
		    "ok"));
	}
	return -1;
}

START_TEST(ob_readyz_registry)
{
	struct ph_call	*c;
	const char	*why;
	int		 t;

	world(0);
	ph_set(S.px, "registry.file", NULL);
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_registry_mode(PH_REG_500);
	ph_start(S.px);
	ph_run_for(300);
	c = admin_get("/readyz", NULL);
	if (c->status != 503 || registry_ok(c, &why) != 0 || why == NULL ||
	    strstr(why, "registry") == NULL)
		PH_FAIL("/readyz while the registry fails: %s",
		    ph_describe(c));
	if (ph_registry_requests() < 1)
		PH_FAIL("the readiness probe did not ask the registry");
	c = admin_get("/healthz", NULL);
	if (c->status != 200)
		PH_FAIL("/healthz: %s", ph_describe(c));
	/* The registry comes back: the next probe (2 s) sees it. */
	ph_registry_mode(PH_REG_RECORDS);
	for (t = 0; t < 4000; t += 100) {
		ph_run_for(100);
		c = admin_get("/readyz", NULL);
		if (c->status == 200)
			break;
	}
	if (c->status != 200 || registry_ok(c, &why) != 1)
		PH_FAIL("/readyz once the registry answers: %s",
		    ph_describe(c));
}
END_TEST

START_TEST(ob_reload_telemetry)
{
	json_object	*m, *ev;
	char		 err[1024];

	world(0);
	ph_start(S.px);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(ph_msg("select",
	    S.sbap, S.bpp)), S.sbap), "select, telemetry off");
	ph_run_for(300);
	if (ph_stub_count(S.sink) != 0)
		PH_FAIL("telemetry off, yet the sink got %d POSTs",
		    ph_stub_count(S.sink));
	ph_set(S.px, "telemetry.url", ph_fmt("\"%s/data/v1/in/test\"",
	    ph_stub_url(S.sink)));
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload setting telemetry.url: %s", err);
	m = ph_msg("select", S.sbap, S.bpp);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "select, telemetry on");
	ev = wait_events(1);
	ph_run_for(300);
	ev = sink_events();
	if (json_object_array_length(ev) != 1 ||
	    strcmp(sstr(span_of(json_object_array_get_idx(ev, 0)), "spanId"),
	    ph_ctx(m, "message_id")) != 0)
		PH_FAIL("after the reload: want the second select only, got "
		    "%.600s", json_object_to_json_string(ev));
}
END_TEST

/*
 * message_properties reach the event; a refused client request is
 * counted by stage; GET only on /metrics; a stop with the readiness
 * probe in flight cancels it.
 */
START_TEST(ob_edges)
{
	json_object	*m, *ev, *sp;
	struct ph_call	*c;
	const char	*v;

	world(1);
	ph_set(S.px, "telemetry.message_properties",
	    "{ item_ids: \"message.order.items[].id\", none: message.nope }");
	ph_start(S.px);
	m = ph_msg("select", S.sbap, S.bpp);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "select");
	ev = wait_events(1);
	if (json_object_array_length(ev) != 1)
		PH_FAIL("want 1 event, got %zu",
		    json_object_array_length(ev));
	sp = span_of(json_object_array_get_idx(ev, 0));
	v = attr(json_object_object_get(sp, "attributes"), "item_ids.0");
	if (v == NULL || *v == '\0' || attr(json_object_object_get(sp,
	    "attributes"), "none") != NULL)
		PH_FAIL("message_properties: %.800s",
		    json_object_to_json_string(sp));

	c = ph_app(S.px, "/bpp/on_select", "{\"context\":{}}");
	if (c->status < 400)
		PH_FAIL("a broken client request: %s", ph_describe(c));
	c = admin_get("/metrics", NULL);
	if (strstr(c->body, "\nbecknd_client_failures_total{stage=\"") ==
	    NULL)
		PH_FAIL("no client failure counted:\n%s", c->body);
	c = ph_call(ph_admin_port(S.px), "POST", "/metrics", "", 0, NULL);
	if (c->status != 405 || ph_call_header(c, "Allow") == NULL ||
	    strcmp(ph_call_header(c, "Allow"), "GET") != 0)
		PH_FAIL("POST /metrics: %s", ph_describe(c));
}
END_TEST

/*
 * SIGTERM: what telemetry holds is sent while the requests finish; the
 * stop waits for the sink's answer (within shutdown_timeout).
 */
START_TEST(ob_stop_drains_telemetry)
{
	json_object	*m, *ev;

	world(1);
	ph_set(S.px, "telemetry.interval", "1h");
	ph_start(S.px);
	m = ph_msg("select", S.sbap, S.bpp);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "select");
	if (ph_stub_wait(S.w_bpp, 1, SLOW_MS) != 1)
		PH_FAIL("the select was not delivered");
	ph_run_for(200);
	if (ph_stub_count(S.sink) != 0)
		PH_FAIL("the batch left before the interval");
	proxy_stop_accepting(ph_px(S.px));
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("the stop did not finish");
	ev = sink_events();
	if (json_object_array_length(ev) != 1 ||
	    strcmp(sstr(span_of(json_object_array_get_idx(ev, 0)), "spanId"),
	    ph_ctx(m, "message_id")) != 0)
		PH_FAIL("at the stop the sink got %.400s",
		    json_object_to_json_string(ev));
}
END_TEST

START_TEST(ob_stop_while_probing)
{
	world(0);
	ph_set(S.px, "registry.file", NULL);
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_registry_mode(PH_REG_HOLD);
	ph_start(S.px);
	ph_run_until(NULL, NULL, ph_ms(300));
	if (ph_registry_held() < 1)
		PH_FAIL("the readiness probe did not ask the registry");
	ph_stop(S.px);		/* the probe is cancelled, nothing leaks */
	ph_registry_release();
}
END_TEST

static Suite *
proxy_observe_suite(void)
{
	Suite	*s = suite_create("proxy_observe");
	TCase	*tc = tcase_create("observe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ob_telemetry_and_metrics);
	tcase_add_test(tc, ob_token);
	tcase_add_test(tc, ob_readyz_registry);
	tcase_add_test(tc, ob_reload_telemetry);
	tcase_add_test(tc, ob_edges);
	tcase_add_test(tc, ob_stop_drains_telemetry);
	tcase_add_test(tc, ob_stop_while_probing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* Everything is on 127.0.0.1: never go through a proxy. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(proxy_observe_suite());
}

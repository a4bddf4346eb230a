/*
 * proxy_observe.c - what the adaptor tells the outside about itself:
 * ONEST telemetry for every message (src/telemetry), Prometheus metrics
 * (GET /metrics), health and readiness (GET /healthz, /readyz), all on
 * listen.admin.
 *
 * The pipelines call observe_message() once per message a participant
 * sent or received, at the moment its answer is known (our ACK or NACK
 * written; the peer's answer, or its failure, read).  That one call
 * counts it and reports it, so the counters and the telemetry cannot
 * disagree.  Everything else is read from the modules' own stats when
 * /metrics is scraped (a collector): nothing is counted twice.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "admin/admin_server.h"
#include "beckn/beckn_action.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "replay/replay.h"
#include "store/store.h"
#include "telemetry/telemetry.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

/* Readiness: how often the registry is asked until it answered. */
#define PROBE_INTERVAL_MS	2000

static const char *const stage_names[OBS_NSTAGES] = {
	"verify", "validate", "store_commit", "delivery",
};

const char *
observe_err_type(enum beckn_err e)
{
	switch (e) {
	case BECKN_ERR_INVALID_JSON:
	case BECKN_ERR_SCHEMA:
		return "JSON-SCHEMA-ERROR";
	case BECKN_ERR_ACTION_MISMATCH:
	case BECKN_ERR_CONTEXT:
		return "CONTEXT-ERROR";
	case BECKN_ERR_AUTH:
		return "POLICY-ERROR";
	default:
		return "CORE-ERROR";
	}
}

/*
 * A NACK's code as a label: the error codes are numbers; anything else a
 * peer sends is "other", so a peer cannot grow the label set.
 */
static const char *
code_label(const char *code)
{
	size_t	 len;

	if (code == NULL)
		return "";
	len = strlen(code);
	if (len == 0 || len > 6 || strspn(code, "0123456789") != len)
		return "other";
	return code;
}

/* The telemetry settings of c; props (c->ntelemetry_props entries) gets
 * the message_properties, which telemetry_conf_free() gives back. */
static void
telemetry_conf_of(const struct conf *c, struct telemetry_conf *tc,
    struct telemetry_prop *props)
{
	const char	*e, *eq;
	size_t		 i;

	memset(tc, 0, sizeof(*tc));
	tc->url = c->telemetry_url;
	tc->batch_size = c->telemetry_batch_size;
	tc->max_batch_bytes = c->telemetry_max_batch_bytes;
	tc->interval_ms = c->telemetry_interval_ms;
	tc->timeout_ms = c->telemetry_timeout_ms;
	tc->retry_max_ms = c->telemetry_retry_max_ms;
	tc->spool_max = c->telemetry_spool_max;
	/* "key=path" entries (conf.c): the key has no '='. */
	for (i = 0; i < c->ntelemetry_props; i++) {
		e = c->telemetry_props[i];
		eq = strchr(e, '=');
		props[i].key = xstrndup(e, (size_t)(eq - e));
		props[i].path = eq + 1;
	}
	tc->props = props;
	tc->nprops = c->ntelemetry_props;
}

static void
telemetry_conf_free(struct telemetry_prop *props, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free((char *)props[i].key);
	free(props);
}

int
observe_telemetry_open(struct proxy *px, const struct conf *c, char *err,
    size_t errlen)
{
	struct telemetry_conf	 tc;
	struct telemetry_prop	*props;

	props = xcalloc(c->ntelemetry_props + 1, sizeof(*props));
	telemetry_conf_of(c, &tc, props);
	px->telemetry = telemetry_new(px->base, &tc, px->store, err, errlen);
	telemetry_conf_free(props, c->ntelemetry_props);
	return px->telemetry != NULL ? 0 : -1;
}

/* The host of a URL ("" when it has none), into buf. */
static const char *
url_host(const char *url, const char **route, const char **scheme,
    char *buf, size_t len)
{
	const char	*p, *end;

	*route = "/";
	*scheme = "http";
	if (url == NULL || (p = strstr(url, "://")) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	*scheme = strncmp(url, "https", 5) == 0 ? "https" : "http";
	p += 3;
	end = p + strcspn(p, "/?#");
	snprintf(buf, len, "%.*s", (int)(end - p), p);
	if (*end == '/')
		*route = end;
	return buf;
}

void
observe_message(struct proxy *px, const struct observed *o)
{
	const struct store_msg	*m = o->m;
	struct telemetry_span	 sp;
	const char		*outcome, *code, *lv[5];
	char			 host[256];
	int			 ok;

	ok = m->ack != NULL && strcmp(m->ack, "ACK") == 0 &&
	    m->http_status >= 200 && m->http_status <= 299;
	outcome = m->ack != NULL ? m->ack : "error";
	code = ok ? "" : m->ack != NULL ? code_label(m->error_code) : "";
	lv[0] = m->participant != NULL ? m->participant : "";
	lv[1] = m->direction;
	lv[2] = m->action != NULL ? m->action : "unknown";
	lv[3] = outcome;
	lv[4] = code;
	metrics_inc(px->obs.messages, lv, 1);
	if (strcmp(m->direction, "out") == 0)
		metrics_observe(px->obs.peer_calls, (const char *[]){ lv[0],
		    lv[2], outcome }, (double)(o->end_ns - o->start_ns) / 1e9);
	/* Telemetry needs the message's context: a parsed body. */
	if (px->telemetry == NULL || o->body == NULL || m->action == NULL)
		return;
	memset(&sp, 0, sizeof(sp));
	telemetry_span_context(&sp, o->body);
	sp.producer = m->participant;
	sp.action = m->action;
	sp.direction = m->direction;
	/* The gateway forwards a search to a BPP the context cannot name. */
	if (o->recipient != NULL &&
	    (sp.recipient_id == NULL || *sp.recipient_id == '\0')) {
		sp.recipient_id = o->recipient;
		sp.recipient_uri = o->recipient_uri;
	}
	sp.start_ns = o->start_ns;
	sp.end_ns = o->end_ns > o->start_ns ? o->end_ns : o->start_ns;
	sp.ok = ok;
	sp.http_status = m->http_status;
	if (!ok) {
		sp.err_type = o->err_type != NULL ? o->err_type : "CORE-ERROR";
		sp.err_code = m->error_code != NULL ? m->error_code :
		    m->http_status > 0 ? "" : "0";
		sp.err_msg = m->error_message;
	}
	sp.http_method = "POST";
	if (o->url != NULL)
		sp.http_host = url_host(o->url, &sp.http_route,
		    &sp.http_scheme, host, sizeof(host));
	else {
		sp.http_route = o->route;
		sp.http_host = o->host;
		sp.http_scheme = "http";
	}
	sp.body = o->body;
	telemetry_emit(px->telemetry, &sp);
}

void
observe_stage(struct proxy *px, enum obs_stage s, int64_t ns)
{
	if (px->obs.metrics == NULL)
		return;
	metrics_observe(px->obs.stages, (const char *[]){ stage_names[s] },
	    (double)ns / 1e9);
}

/* Every figure kept by another module, read at scrape time. */
static void
collect(struct metrics *mx, void *arg)
{
	struct proxy		*px = arg;
	struct observe		*ob = &px->obs;
	const struct http_server_stats *hs;
	struct registry		*reg = snapshot_registry(px->snap);
	struct registry_stats	 rs;
	struct telemetry_stats	 ts;
	struct store_stats	 ss;
	const struct deliver_stats *d = &px->stats.deliver;
	size_t			 i;

	(void)mx;
	for (i = 0; i < IN_NSTAGES; i++)
		if (px->stats.inbound_nacked[i] > 0)
			metrics_set(ob->in_refused, (const char *[]){
			    proxy_inbound_stage_name(i) },
			    (double)px->stats.inbound_nacked[i]);
	for (i = 0; i < OUT_NSTAGES; i++)
		if (px->stats.outbound_failed[i] > 0)
			metrics_set(ob->out_refused, (const char *[]){
			    proxy_outbound_stage_name(i) },
			    (double)px->stats.outbound_failed[i]);
	metrics_set(ob->deliveries, (const char *[]){ "delivered" },
	    (double)d->delivered);
	metrics_set(ob->deliveries, (const char *[]){ "refused" },
	    (double)d->refused);
	metrics_set(ob->deliveries, (const char *[]){ "dead" },
	    (double)d->dead);
	metrics_set(ob->delivery_retries, NULL, (double)d->retries);
	metrics_set(ob->dead_dropped, NULL, (double)d->dropped);
	metrics_set(ob->redelivered, NULL, (double)d->redelivered);
	metrics_set(ob->queue_full, NULL, (double)d->full);
	metrics_set(ob->queue_depth, NULL,
	    (double)deliver_pending(px->deliver));
	if (reg != NULL) {
		registry_stats(reg, &rs);
		metrics_set(ob->reg_lookups, (const char *[]){ "hit" },
		    (double)rs.hits);
		metrics_set(ob->reg_lookups, (const char *[]){ "miss" },
		    (double)rs.misses);
		metrics_set(ob->reg_lookups, (const char *[]){ "stale" },
		    (double)rs.stale);
		metrics_set(ob->reg_inflight, NULL, (double)rs.flights);
		metrics_set(ob->reg_entries, NULL, (double)rs.positive);
		metrics_set(ob->reg_limited, NULL, (double)rs.limited);
	}
	metrics_set(ob->replay_entries, NULL,
	    (double)replay_count(px->replay));
	metrics_set(ob->replay_bytes, NULL, (double)replay_bytes(px->replay));
	if (px->net_srv != NULL) {
		hs = http_server_stats(px->net_srv);
		metrics_set(ob->connections, (const char *[]){ "network" },
		    (double)hs->connections);
	}
	if (px->client_srv != NULL) {
		hs = http_server_stats(px->client_srv);
		metrics_set(ob->connections, (const char *[]){ "client" },
		    (double)hs->connections);
	}
	if (px->telemetry != NULL) {
		telemetry_stats(px->telemetry, &ts);
		metrics_set(ob->tel_spool, NULL, (double)ts.spooled);
		metrics_set(ob->tel_batches, NULL, (double)ts.batches);
		metrics_set(ob->tel_events, NULL, (double)ts.events);
		metrics_set(ob->tel_sent, NULL, (double)ts.events_sent);
		metrics_set(ob->tel_failures, NULL, (double)ts.send_failures);
		metrics_set(ob->tel_dropped, NULL, (double)ts.dropped);
	}
	if (px->store != NULL) {
		store_stats(px->store, &ss);
		metrics_set(ob->store_queue, NULL, (double)ss.queued);
		metrics_set(ob->store_commits, NULL, (double)ss.commits);
		metrics_set(ob->store_failures, NULL, (double)ss.failures);
	}
}

#define L(...)	((const char *const []){ __VA_ARGS__, NULL })

void
observe_init(struct proxy *px)
{
	struct observe	*ob = &px->obs;
	struct metrics	*m;

	m = ob->metrics = metrics_new();
	ob->build = metrics_gauge(m, "becknd_build_info",
	    "The running becknd's version (always 1).", L("version"));
	metrics_set(ob->build, (const char *[]){ PACKAGE_VERSION }, 1);
	ob->messages = metrics_counter(m, "becknd_messages_total",
	    "Beckn messages sent and received, by outcome: ACK, NACK (with "
	    "its error code) or error (no Beckn answer).",
	    L("participant", "direction", "action", "outcome", "code"));
	ob->in_refused = metrics_counter(m, "becknd_network_nacks_total",
	    "Messages refused on the network listener, by the pipeline "
	    "stage that refused them.", L("stage"));
	ob->out_refused = metrics_counter(m, "becknd_client_failures_total",
	    "Client requests that failed, by the pipeline stage.",
	    L("stage"));
	ob->stages = metrics_histogram(m, "becknd_stage_duration_seconds",
	    "Time spent in a pipeline stage: signature verification, "
	    "schema validation, the store's commit, one webhook delivery "
	    "attempt.", L("stage"), metrics_latency_bounds,
	    metrics_latency_nbounds);
	ob->peer_calls = metrics_histogram(m,
	    "becknd_peer_call_duration_seconds",
	    "Calls to peers and gateways: from sending to the answer.",
	    L("participant", "action", "outcome"), metrics_latency_bounds,
	    metrics_latency_nbounds);
	ob->deliveries = metrics_counter(m, "becknd_deliveries_total",
	    "Webhook deliveries finished, by outcome.", L("outcome"));
	ob->delivery_retries = metrics_counter(m,
	    "becknd_delivery_retries_total",
	    "Webhook delivery attempts that failed and were retried.", NULL);
	ob->dead_dropped = metrics_counter(m,
	    "becknd_dead_letters_dropped_total",
	    "Dead letters dropped over delivery.dead_letters or "
	    "dead_letter_bytes.", NULL);
	ob->redelivered = metrics_counter(m, "becknd_redeliveries_total",
	    "Dead letters queued again by an operator.", NULL);
	ob->queue_full = metrics_counter(m, "becknd_delivery_refused_total",
	    "Messages refused because a delivery queue was full.", NULL);
	ob->queue_depth = metrics_gauge(m, "becknd_delivery_queue_depth",
	    "Messages waiting for or in webhook delivery.", NULL);
	ob->reg_lookups = metrics_counter(m, "becknd_registry_lookups_total",
	    "Registry lookups: answered from the cache (hit), asked of the "
	    "registry (miss), or answered stale while it was down.",
	    L("result"));
	ob->reg_inflight = metrics_gauge(m,
	    "becknd_registry_lookups_in_flight",
	    "Distinct registry lookups queued or sent.", NULL);
	ob->reg_entries = metrics_gauge(m, "becknd_registry_cache_entries",
	    "Answers in the registry cache.", NULL);
	ob->reg_limited = metrics_counter(m,
	    "becknd_registry_limited_total",
	    "Lookups refused by the registry miss limits.", NULL);
	ob->replay_entries = metrics_gauge(m, "becknd_replay_cache_entries",
	    "Signatures remembered against replay.", NULL);
	ob->replay_bytes = metrics_gauge(m, "becknd_replay_cache_bytes",
	    "Memory held by the replay cache.", NULL);
	ob->connections = metrics_gauge(m, "becknd_connections",
	    "Open connections, by listener.", L("listener"));
	ob->tel_spool = metrics_gauge(m, "becknd_telemetry_spool_events",
	    "Telemetry events held until the sink accepts them.", NULL);
	ob->tel_batches = metrics_gauge(m, "becknd_telemetry_spool_batches",
	    "Sealed telemetry batches waiting to be sent.", NULL);
	ob->tel_events = metrics_counter(m, "becknd_telemetry_events_total",
	    "Telemetry events made.", NULL);
	ob->tel_sent = metrics_counter(m,
	    "becknd_telemetry_events_sent_total",
	    "Telemetry events in batches the sink accepted.", NULL);
	ob->tel_failures = metrics_counter(m,
	    "becknd_telemetry_send_failures_total",
	    "Telemetry POSTs that failed (retried).", NULL);
	ob->tel_dropped = metrics_counter(m,
	    "becknd_telemetry_dropped_events_total",
	    "Telemetry events dropped over telemetry.spool_max.", NULL);
	ob->store_queue = metrics_gauge(m, "becknd_store_queue_depth",
	    "Records waiting for the store's writer.", NULL);
	ob->store_commits = metrics_counter(m, "becknd_store_commits_total",
	    "Store transactions committed.", NULL);
	ob->store_failures = metrics_counter(m,
	    "becknd_store_failures_total",
	    "Store records that could not be written.", NULL);
	metrics_collector(m, collect, px);
}

/* GET /metrics */
static void
metrics_handler(struct http_request *req, void *arg)
{
	struct proxy	*px = arg;
	char		*text;
	size_t		 len;

	if (strcmp(http_request_method(req), "GET") != 0) {
		http_reply(req, 405, "application/json",
		    (const char *[]){ "Allow", "GET", NULL },
		    "{\"error\":\"use GET\"}", 18);
		return;
	}
	text = metrics_render(px->obs.metrics, &len);
	http_reply(req, 200, METRICS_CONTENT_TYPE,
	    (const char *[]){ "Cache-Control", "no-store", NULL }, text, len);
	free(text);
}

/* GET /healthz: answered by the loop, so the loop is alive. */
static void
healthz_handler(struct http_request *req, void *arg)
{
	static const char	 ok[] = "{\"status\":\"ok\"}";

	(void)arg;
	http_reply(req, 200, "application/json",
	    (const char *[]){ "Cache-Control", "no-store", NULL }, ok,
	    sizeof(ok) - 1);
}

/* One readiness check: name, ok, reason; appended to the array. */
static void
check_add(json_object *arr, const char *name, int ok, const char *reason)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "check", json_object_new_string(name));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (!ok)
		json_object_object_add(o, "reason",
		    json_object_new_string(reason));
	json_object_array_add(arr, o);
}

int
observe_ready(struct proxy *px, json_object **checks)
{
	const struct conf	*c = px->snap->conf;
	struct registry		*reg = snapshot_registry(px->snap);
	struct registry_stats	 rs;
	json_object		*arr = json_object_new_array();
	int			 ready = 1, ok;
	char			 why[160];

	ok = (c->listen_network == NULL || px->net_srv != NULL) &&
	    (c->listen_client == NULL || px->client_srv != NULL) &&
	    !px->stopping;
	ready &= ok;
	check_add(arr, "listeners", ok, px->stopping ? "stopping" :
	    "a listener is not bound");
	if (c->store_path != NULL) {
		ok = px->store != NULL && !px->obs.store_failing;
		ready &= ok;
		snprintf(why, sizeof(why), "%s: %s", c->store_path,
		    px->store == NULL ? "not open" : px->obs.store_reason);
		check_add(arr, "store", ok, why);
	}
	ok = c->nparticipants == 0 || px->snap->schemas != NULL;
	ready &= ok;
	check_add(arr, "schemas", ok, "no schemas loaded");
	if (reg != NULL) {
		registry_stats(reg, &rs);
		ok = rs.file || rs.answered > 0 || rs.positive > 0;
		ready &= ok;
		snprintf(why, sizeof(why), "the registry (%s) has not "
		    "answered yet", c->registry.url != NULL ? c->registry.url :
		    "-");
		check_add(arr, "registry", ok, why);
	}
	*checks = arr;
	return ready;
}

/* GET /readyz: 200 when ready, else 503; the body names every check. */
static void
readyz_handler(struct http_request *req, void *arg)
{
	struct proxy	*px = arg;
	json_object	*o, *checks;
	const char	*text;
	size_t		 len;
	int		 ready;

	ready = observe_ready(px, &checks);
	o = json_object_new_object();
	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	json_object_object_add(o, "checks", checks);
	text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
	    &len);
	http_reply(req, ready ? 200 : 503, "application/json",
	    (const char *[]){ "Cache-Control", "no-store", NULL }, text, len);
	json_object_put(o);
}

/* The readiness probe: ask the registry for our own entry until it
 * answers once (any answer: it is up). */
static void	probe_arm(struct proxy *);

static void
probe_done(const struct registry_result *res, void *arg)
{
	struct proxy	*px = arg;

	(void)res;
	px->obs.probe = NULL;
	snapshot_unref(px->obs.probe_snap);
	px->obs.probe_snap = NULL;
	probe_arm(px);
}

static void
probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy		*px = arg;
	struct registry		*reg = snapshot_registry(px->snap);
	struct registry_stats	 rs;
	const struct conf	*c = px->snap->conf;

	(void)fd;
	(void)what;
	if (reg == NULL || c->nparticipants == 0)
		return;
	registry_stats(reg, &rs);
	if (rs.file || rs.answered > 0)
		return;		/* answered: nothing more to probe */
	px->obs.probe_snap = snapshot_ref(px->snap);
	px->obs.probe = registry_lookup_participants(reg, NULL, NULL,
	    c->participants[0].subscriber_id, probe_done, px);
	if (px->obs.probe == NULL) {
		snapshot_unref(px->obs.probe_snap);
		px->obs.probe_snap = NULL;
		probe_arm(px);
	}
}

static void
probe_arm(struct proxy *px)
{
	struct timeval	 tv = { PROBE_INTERVAL_MS / 1000,
			    (PROBE_INTERVAL_MS % 1000) * 1000 };

	if (px->obs.probe_ev == NULL)
		return;
	if (!px->obs.probed) {
		/* The first probe at once. */
		px->obs.probed = 1;
		tv.tv_sec = tv.tv_usec = 0;
	}
	evtimer_add(px->obs.probe_ev, &tv);
}

int
observe_routes(struct proxy *px)
{
	if (px->admin_srv == NULL)
		return 0;
	if (admin_server_route(px->admin_srv, "/metrics", 0,
	    metrics_handler, px) == -1 ||
	    admin_server_route(px->admin_srv, "/healthz", ADMIN_ROUTE_OPEN,
	    healthz_handler, px) == -1 ||
	    admin_server_route(px->admin_srv, "/readyz", ADMIN_ROUTE_OPEN,
	    readyz_handler, px) == -1)
		return -1;
	return 0;
}

/* Only /readyz reads the probe's answer: without listen.admin, no
 * lookups of our own. */
void
observe_start(struct proxy *px)
{
	if (px->admin_srv == NULL)
		return;
	px->obs.probe_ev = xevtimer_new(px->base, probe_cb, px);
	probe_arm(px);
}

void
observe_reconfigure(struct proxy *px, const struct conf *c)
{
	struct telemetry_conf	 tc;
	struct telemetry_prop	*props;

	if (px->telemetry == NULL)
		return;
	props = xcalloc(c->ntelemetry_props + 1, sizeof(*props));
	telemetry_conf_of(c, &tc, props);
	telemetry_reconfigure(px->telemetry, &tc);
	telemetry_conf_free(props, c->ntelemetry_props);
}

/* Before the store closes: the telemetry spool's open batch is sealed
 * into it. */
void
observe_telemetry_close(struct proxy *px)
{
	telemetry_free(px->telemetry);
	px->telemetry = NULL;
}

void
observe_free(struct proxy *px)
{
	if (px->obs.probe != NULL)
		registry_cancel(px->obs.probe);
	px->obs.probe = NULL;
	snapshot_unref(px->obs.probe_snap);
	px->obs.probe_snap = NULL;
	if (px->obs.probe_ev != NULL)
		event_free(px->obs.probe_ev);
	px->obs.probe_ev = NULL;
	metrics_free(px->obs.metrics);
	px->obs.metrics = NULL;
}

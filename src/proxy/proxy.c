/*
 * proxy.c - the adaptor's set-up and shared helpers: listeners, routing
 * by path, NACK answers, schema loading, reload and stop.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "http/http_server.h"
#include "net/http_client.h"
#include "proxy/proxy.h"
#include "registry/registry.h"
#include "registry/registry_server.h"
#include "replay/replay.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Longest action name we look at in a path. */
#define ACTION_MAX	64
/* JSON nesting we accept; Beckn messages are ~10 deep. */
#define JSON_DEPTH_MAX	64
/* Replay entries: at 11k msgs/s and a 10 min window, two keys each. */
#define REPLAY_ENTRIES_MIN	(1u << 16)
#define REPLAY_ENTRIES_MAX	(16u << 20)

json_object *
proxy_parse_json(const char *buf, size_t len, char *err, size_t errlen)
{
	struct json_tokener	*tok;
	json_object		*obj;
	enum json_tokener_error	 jerr;
	size_t			 off;

	if ((tok = json_tokener_new_ex(JSON_DEPTH_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			snprintf(err, errlen, "invalid JSON: unexpected end of "
			    "input");
		else
			snprintf(err, errlen, "invalid JSON at byte %zu: %s",
			    off, json_tokener_error_desc(jerr));
		json_object_put(obj);
		return NULL;
	}
	/* Only white space may follow the value. */
	for (; off < len; off++) {
		if (buf[off] != ' ' && buf[off] != '\t' && buf[off] != '\r' &&
		    buf[off] != '\n') {
			snprintf(err, errlen, "invalid JSON at byte %zu: data "
			    "after the value", off);
			json_object_put(obj);
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object");
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

void
proxy_reply_error(struct http_request *req, enum beckn_err e,
    const char *paths, const char *message, const char *const *extra)
{
	const struct beckn_error	*be = beckn_error_get(e);
	struct evbuffer			*buf;

	if ((buf = evbuffer_new()) == NULL ||
	    beckn_error_write(buf, e, paths, message) == -1) {
		if (buf != NULL)
			evbuffer_free(buf);
		http_reply(req, 500, "application/json", NULL,
		    "{\"message\":{\"ack\":{\"status\":\"NACK\"}}}", 38);
		return;
	}
	http_reply_buffer(req, be->http_status, "application/json", extra, buf);
	evbuffer_free(buf);
}

/* Errors the HTTP layer answers itself (limits, framing) as NACKs. */
/* Errors the HTTP layer answers itself (limits, framing) as NACKs. */
static const char *
error_body(int status, const char *why, struct evbuffer *out, void *arg)
{
	if (status == 413)
		beckn_error_write(out, BECKN_ERR_TOO_LARGE, NULL, why);
	else
		beckn_nack_write(out, BECKN_CODE_INVALID_REQUEST, NULL, why);
	return "application/json";
}

const struct conf_participant *
proxy_route(const struct proxy *px, const char *path,
    const struct beckn_action **action_out, const char **action_name)
{
	const struct conf_participant	*p;
	const char			*rest;
	size_t				 i, plen;

	*action_out = NULL;
	*action_name = NULL;
	for (i = 0; i < px->conf->nparticipants; i++) {
		p = &px->conf->participants[i];
		plen = strlen(p->path);
		if (strncmp(path, p->path, plen) != 0 || path[plen] != '/')
			continue;
		rest = path + plen + 1;
		if (*rest == '\0' || strchr(rest, '/') != NULL ||
		    strlen(rest) > ACTION_MAX)
			continue;
		*action_name = rest;
		*action_out = beckn_action_find(rest);
		return p;
	}
	return NULL;
}

struct schema_set *
proxy_load_schemas(const struct conf *c, char *err, size_t errlen)
{
	/* Without a schemas key: the project's schemas as installed. */
	static const char *const defaults[] = {
		BECKND_DATADIR "/schemas/core/transaction.yaml",
		BECKND_DATADIR "/schemas/core/meta.yaml",
		BECKND_DATADIR "/schemas/onest/onest-policy.yaml",
	};

	if (c->nschemas > 0)
		return schema_set_load((const char *const *)c->schemas,
		    c->nschemas, SCHEMA_LOAD_OPENAPI, err, errlen);
	return schema_set_load(defaults, sizeof(defaults) / sizeof(defaults[0]),
	    SCHEMA_LOAD_OPENAPI, err, errlen);
}

static void
server_conf(const struct conf *c, struct http_server_conf *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->header_max = c->header_max;
	hc->body_max = c->body_max;
	hc->read_timeout_ms = c->read_timeout_ms;
	hc->idle_timeout_ms = c->read_timeout_ms * 2;
	hc->write_timeout_ms = c->read_timeout_ms;
	hc->max_connections = c->max_connections;
}

static struct http_server *
listen_on(struct proxy *px, const char *what, const char *addr,
    http_handler handler, char *err, size_t errlen)
{
	struct http_server_conf	 hc;
	struct http_server	*srv;
	char			 why[256];

	server_conf(px->conf, &hc);
	srv = http_server_new(px->base, addr, &hc, handler, error_body, px,
	    why, sizeof(why));
	if (srv == NULL) {
		snprintf(err, errlen, "%s: listen.%s: %s", px->conf->file, what,
		    why);
		return NULL;
	}
	log_info("listening: %s %s (port %d)", what, addr,
	    http_server_port(srv));
	return srv;
}

struct proxy *
proxy_new(struct event_base *base, struct conf *conf,
    const struct clock *clock, char *err, size_t errlen)
{
	struct proxy		*px;
	struct http_client_conf	 hcc;
	char			 why[512];
	struct replay_limits	 rl;
	size_t			 nreplay;

	px = xcalloc(1, sizeof(*px));
	px->base = base;
	px->conf = conf;
	px->clock = clock;
	TAILQ_INIT(&px->inbound);
	TAILQ_INIT(&px->outbound);
	TAILQ_INIT(&px->fanouts);
	if (schema_formats_parse(conf->schema_formats,
	    &px->schema_opts.formats, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: validation.formats: %s", conf->file,
		    why);
		goto fail;
	}
	/* A registry-only process validates nothing. */
	if (conf->nparticipants > 0 &&
	    (px->schemas = proxy_load_schemas(conf, err, errlen)) == NULL)
		goto fail;
	if (conf->registry.url != NULL || conf->registry.file != NULL) {
		px->registry = registry_new(base, &conf->registry, clock, why,
		    sizeof(why));
		if (px->registry == NULL) {
			snprintf(err, errlen, "%s: registry: %s", conf->file,
			    why);
			goto fail;
		}
	}
	nreplay = (size_t)(conf->replay_window_ms / 1000) * 4096;
	if (nreplay < REPLAY_ENTRIES_MIN)
		nreplay = REPLAY_ENTRIES_MIN;
	if (nreplay > REPLAY_ENTRIES_MAX)
		nreplay = REPLAY_ENTRIES_MAX;
	rl.max_entries = nreplay;
	rl.owner_quota = nreplay;
	px->replay = replay_new(&rl, clock);

	memset(&hcc, 0, sizeof(hcc));
	hcc.timeout_ms = conf->upstream_timeout_ms;
	hcc.connect_timeout_ms = conf->registry.connect_timeout_ms;
	hcc.max_inflight = 256;
	hcc.max_queue = conf->queue_size;
	hcc.response_max = 1u << 20;
	hcc.tls_verify = conf->registry.tls_verify;
	hcc.ca_file = conf->registry.ca_file;
	px->http = http_client_new(base, &hcc);
	px->deliver = deliver_new(px);
	px->sync = sync_table_new(base);

	if (conf->listen_registry != NULL) {
		struct http_server_conf	 hc;

		server_conf(conf, &hc);
		if ((px->reg_srv = registry_server_new(base,
		    conf->listen_registry, conf->registry.file, &hc, why,
		    sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s: listen.registry: %s",
			    conf->file, why);
			goto fail;
		}
		log_info("listening: registry %s (port %d)",
		    conf->listen_registry, registry_server_port(px->reg_srv));
	}
	if (conf->listen_network != NULL && (px->net_srv = listen_on(px,
	    "network", conf->listen_network, proxy_inbound, err, errlen)) ==
	    NULL)
		goto fail;
	if (conf->listen_client != NULL && (px->client_srv = listen_on(px,
	    "client", conf->listen_client, proxy_outbound, err, errlen)) ==
	    NULL)
		goto fail;
	return px;
fail:
	px->conf = NULL;	/* the caller still owns conf on failure */
	proxy_free(px);
	return NULL;
}

void
proxy_free(struct proxy *px)
{
	if (px == NULL)
		return;
	proxy_inbound_abort_all(px);
	proxy_outbound_abort_all(px);
	proxy_gateway_abort_all(px);
	registry_server_free(px->reg_srv);
	http_server_free(px->net_srv);
	http_server_free(px->client_srv);
	sync_table_free(px->sync);
	deliver_free(px->deliver);
	http_client_free(px->http);
	registry_free(px->registry);
	replay_free(px->replay);
	schema_set_free(px->schemas);
	conf_free(px->conf);
	while (px->nretired > 0)
		conf_free(px->retired[--px->nretired]);
	free(px->retired);
	free(px);
}

int
proxy_reload(struct proxy *px, struct conf *nc, char *err, size_t errlen)
{
	struct conf		*oc = px->conf;
	struct schema_set	*ns;
	unsigned		 formats;
	char			 why[512];

#define SAME(a, b) (((a) == NULL && (b) == NULL) || \
	((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0))
	if (!SAME(oc->listen_network, nc->listen_network) ||
	    !SAME(oc->listen_client, nc->listen_client) ||
	    !SAME(oc->listen_registry, nc->listen_registry) ||
	    !SAME(oc->registry.url, nc->registry.url) ||
	    !SAME(oc->registry.file, nc->registry.file)) {
		snprintf(err, errlen, "%s: listen and registry addresses "
		    "cannot change on reload; restart instead", nc->file);
		return -1;
	}
#undef SAME
	if (schema_formats_parse(nc->schema_formats, &formats, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: validation.formats: %s", nc->file,
		    why);
		return -1;
	}
	if ((ns = proxy_load_schemas(nc, err, errlen)) == NULL)
		return -1;
	/*
	 * Requests in flight point into the old participants and schemas:
	 * keep the old configuration alive until proxy_free() rather than
	 * free it under them.  Reloads are rare; the cost is a few KiB each.
	 * Schemas are only used synchronously (no request keeps the set
	 * across a loop turn), so the old set can go now.
	 */
	schema_set_free(px->schemas);
	px->schemas = ns;
	px->schema_opts.formats = formats;
	px->retired = xreallocarray(px->retired, px->nretired + 1,
	    sizeof(*px->retired));
	px->retired[px->nretired++] = oc;
	px->conf = nc;
	if (px->registry != NULL && registry_reload(px->registry) == -1)
		log_warn("reload: registry file could not be re-read; keeping "
		    "the previous records");
	if (px->reg_srv != NULL && registry_server_reload(px->reg_srv, why,
	    sizeof(why)) == -1)
		log_warn("reload: registry endpoint keeps its records: %s",
		    why);
	return 0;
}

void
proxy_stop_accepting(struct proxy *px)
{
	px->stopping = 1;
	if (px->net_srv != NULL)
		http_server_close_listener(px->net_srv);
	if (px->client_srv != NULL)
		http_server_close_listener(px->client_srv);
}

int
proxy_idle(const struct proxy *px)
{
	return px->ninbound == 0 && px->noutbound == 0 &&
	    px->nfanouts == 0 && deliver_pending(px->deliver) == 0;
}

int
proxy_network_port(const struct proxy *px)
{
	return px->net_srv != NULL ? http_server_port(px->net_srv) : -1;
}

int
proxy_client_port(const struct proxy *px)
{
	return px->client_srv != NULL ? http_server_port(px->client_srv) : -1;
}

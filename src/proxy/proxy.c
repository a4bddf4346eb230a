/*
 * proxy.c - the adaptor's set-up, reload and stop.
 *
 * A reload is all or nothing.  Everything that can fail is done first,
 * without touching what runs: the restart-only keys are compared, the new
 * snapshot is built (schemas compiled, registry client made or shared;
 * a file registry re-reads its file, once, for lookups and /lookup).
 * Only then is the snapshot swapped in and the long-lived parts are given
 * their new settings and records, which cannot fail.  Requests in
 * flight keep the snapshot they started with.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "admin/admin_server.h"
#include "http/http_server.h"
#include "lookup/lookup_server.h"
#include "net/http_client.h"
#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "replay/replay.h"
#include "telemetry/telemetry.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Errors the HTTP layer answers itself (limits, framing) as NACKs. */
static const char *
error_body(int status, const char *why, struct evbuffer *out, void *arg)
{
	if (status == 413)
		beckn_error_write(out, BECKN_ERR_TOO_LARGE, NULL, why);
	else if (status == 503)		/* connection or memory budget */
		beckn_error_write(out, BECKN_ERR_BUSY, NULL, why);
	else
		beckn_nack_write(out, BECKN_CODE_INVALID_REQUEST, NULL, why);
	return "application/json";
}

/* Each at most once: two would leave which one was verified ambiguous. */
static const char *const unique_headers[] = { "Authorization",
	"X-Gateway-Authorization", "Proxy-Authorization", NULL };

static void
server_conf(struct proxy *px, const struct conf *c,
    struct http_server_conf *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->header_max = c->header_max;
	hc->body_max = c->body_max;
	hc->read_timeout_ms = c->read_timeout_ms;
	hc->idle_timeout_ms = c->idle_timeout_ms;
	hc->write_timeout_ms = c->read_timeout_ms;
	hc->max_connections = c->max_connections;
	hc->max_connections_per_client = c->max_connections_per_client;
	hc->unique_headers = unique_headers;
	/* Request bodies count against limits.memory_max. */
	hc->budget = &px->budget;
}

/* Concurrent transfers to peers, per participant. */
#define HTTP_INFLIGHT		64
/* A peer's synchronous answer is an ACK or a NACK: small. */
#define HTTP_RESPONSE_MAX	(1u << 20)

static void
client_conf(const struct proxy *px, const struct conf *c,
    struct http_client_conf *hcc)
{
	memset(hcc, 0, sizeof(*hcc));
	hcc->timeout_ms = c->upstream_timeout_ms;
	hcc->connect_timeout_ms = c->registry.connect_timeout_ms;
	hcc->max_inflight = HTTP_INFLIGHT;
	hcc->max_queue = c->queue_size;
	hcc->response_max = HTTP_RESPONSE_MAX;
	hcc->tls_verify = c->registry.tls_verify;
	hcc->ca_file = c->registry.ca_file;
	hcc->deny = px->own;
	hcc->ndeny = px->nown;
}

static void
own_add(struct proxy *px, const struct sockaddr *sa, in_port_t port)
{
	struct sockaddr_storage	*ss;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	px->own = xreallocarray(px->own, px->nown + 1, sizeof(*px->own));
	ss = &px->own[px->nown++];
	memset(ss, 0, sizeof(*ss));
	if (sa->sa_family == AF_INET) {
		memcpy(ss, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)ss)->sin_port = port;
	} else {
		memcpy(ss, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)ss)->sin6_port = port;
	}
}

/*
 * The addresses of the client listener, which signs whatever it gets: no
 * registered URL may lead there, or becknd would sign and post to itself.
 * A wildcard listener is every local address.
 */
static void
own_addresses(struct proxy *px)
{
	const struct sockaddr_storage	*ss;
	struct sockaddr_in		 lo4;
	struct sockaddr_in6		 lo6;
	struct ifaddrs			*ifa, *i;
	in_port_t			 port;
	int				 wild;

	if (px->client_srv == NULL)
		return;
	ss = http_server_addr(px->client_srv);
	if (ss->ss_family == AF_INET) {
		port = ((const struct sockaddr_in *)ss)->sin_port;
		wild = ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	} else {
		port = ((const struct sockaddr_in6 *)ss)->sin6_port;
		wild = memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
		    &in6addr_any, sizeof(in6addr_any)) == 0;
	}
	if (!wild) {
		own_add(px, (const struct sockaddr *)ss, port);
		return;
	}
	memset(&lo4, 0, sizeof(lo4));
	lo4.sin_family = AF_INET;
	lo4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	own_add(px, (struct sockaddr *)&lo4, port);
	memset(&lo6, 0, sizeof(lo6));
	lo6.sin6_family = AF_INET6;
	lo6.sin6_addr = in6addr_loopback;
	own_add(px, (struct sockaddr *)&lo6, port);
	if (getifaddrs(&ifa) == -1) {
		log_warn("listing local addresses: %s", strerror(errno));
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL)
			own_add(px, i->ifa_addr, port);
	freeifaddrs(ifa);
}

static void
deliver_conf(const struct proxy *px, const struct conf *c,
    struct deliver_conf *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->timeout_ms = c->webhook_timeout_ms;
	dc->retries = c->webhook_retries;
	dc->backoff_ms = c->webhook_backoff_ms;
	dc->backoff_max_ms = c->webhook_backoff_max_ms;
	dc->queue_size = c->queue_size;
	dc->queue_bytes = c->queue_bytes;
	dc->max_attempts = c->webhook_max_attempts;
	dc->max_age_ms = c->webhook_max_age_ms;
	dc->max_inflight = c->webhook_max_inflight;
	dc->dead_max = c->dead_letters;
	dc->dead_bytes = c->dead_letter_bytes;
	/* Webhooks: the peers' TLS and connect settings, our own deny. */
	client_conf(px, c, &dc->http);
}

static void
replay_limits(const struct conf *c, struct replay_limits *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->max_entries = c->replay_cache_size;
	rl->owner_quota = c->replay_sender_quota;
}

static struct http_server *
listen_on(struct proxy *px, const struct conf *c, const char *what,
    const char *addr, http_handler handler, char *err, size_t errlen)
{
	struct http_server_conf	 hc;
	struct http_server	*srv;
	char			 why[256];

	server_conf(px, c, &hc);
	srv = http_server_new(px->base, addr, &hc, handler, error_body, px,
	    why, sizeof(why));
	if (srv == NULL) {
		snprintf(err, errlen, "%s: listen.%s: %s", c->file, what, why);
		return NULL;
	}
	log_info("listening: %s %s (port %d)", what, addr,
	    http_server_port(srv));
	return srv;
}

struct proxy *
proxy_new(struct event_base *base, struct conf *c, const struct clock *clock,
    char *err, size_t errlen)
{
	struct proxy		*px;
	struct http_server_conf	 hc;
	struct deliver_conf	 dc;
	struct replay_limits	 rl;
	char			 why[512];

	px = xcalloc(1, sizeof(*px));
	px->base = base;
	px->clock = clock;
	TAILQ_INIT(&px->inbound);
	TAILQ_INIT(&px->outbound);
	TAILQ_INIT(&px->fanouts);
	observe_init(px);
	if ((px->snap = snapshot_new(base, c, NULL, clock, &px->nsnapshots,
	    err, errlen)) == NULL) {
		observe_free(px);
		free(px);
		return NULL;
	}
	replay_limits(c, &rl);
	if ((px->replay = replay_new(&rl, clock)) == NULL) {
		snprintf(err, errlen, "%s: the replay cache cannot be created",
		    c->file);
		goto fail;
	}
	budget_init(&px->budget, c->memory_max);
	client_conf(px, c, &px->peer_conf);
	deliver_conf(px, c, &dc);
	px->deliver = deliver_new(base, &dc, &px->stats.deliver, &px->budget,
	    clock);
	px->sync = sync_table_new(base);

	if (c->listen_registry != NULL) {
		server_conf(px, c, &hc);
		/* listen.registry implies registry.file: the snapshot's
		 * file registry holds the records, read once. */
		if ((px->lookup_srv = lookup_server_new(base,
		    c->listen_registry, registry_records(snapshot_registry(
		    px->snap)), &hc, why, sizeof(why))) == NULL) {
			snprintf(err, errlen, "%s: listen.registry: %s",
			    c->file, why);
			goto fail;
		}
		log_info("listening: registry %s (port %d)",
		    c->listen_registry, lookup_server_port(px->lookup_srv));
	}
	if (c->listen_admin != NULL) {
		if ((px->admin_srv = admin_server_new(base, c->listen_admin,
		    c->admin_token, c->store_path, why, sizeof(why))) ==
		    NULL) {
			snprintf(err, errlen, "%s: listen.admin: %s", c->file,
			    why);
			goto fail;
		}
		if (observe_routes(px) == -1) {
			snprintf(err, errlen, "%s: listen.admin: cannot route "
			    "/metrics", c->file);
			goto fail;
		}
		log_info("listening: admin %s (port %d)%s", c->listen_admin,
		    admin_server_port(px->admin_srv), c->store_path == NULL ?
		    "; store: off, so the journal API has nothing to show" :
		    "");
	}
	if (c->listen_network != NULL && (px->net_srv = listen_on(px, c,
	    "network", c->listen_network, proxy_inbound, err, errlen)) ==
	    NULL)
		goto fail;
	if (c->listen_client != NULL && (px->client_srv = listen_on(px, c,
	    "client", c->listen_client, proxy_outbound, err, errlen)) ==
	    NULL)
		goto fail;
	own_addresses(px);
	client_conf(px, c, &px->peer_conf);
	deliver_conf(px, c, &dc);
	deliver_reconfigure(px->deliver, &dc);
	/* Last: the outbox it reloads is sent with the settings above. */
	if (journal_open(px, c, err, errlen) == -1)
		goto fail;
	observe_start(px);
	return px;
fail:
	/* The caller still owns c on failure. */
	snapshot_release_conf(px->snap);
	px->snap = NULL;
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
	gateway_abort_all(px);
	lookup_server_free(px->lookup_srv);
	admin_server_free(px->admin_srv);
	http_server_free(px->net_srv);
	http_server_free(px->client_srv);
	sync_table_free(px->sync);
	deliver_free(px->deliver);
	observe_free(px);
	/* After the queue: what it still held stays queued on disk. */
	journal_close(px);
	proxy_peers_free(px);
	replay_free(px->replay);
	snapshot_unref(px->snap);
	free(px->own);
	free(px);
}

int
proxy_reload(struct proxy *px, struct conf *nc, char *err, size_t errlen)
{
	struct snapshot		*ns, *old = px->snap;
	struct http_server_conf	 hc;
	struct deliver_conf	 dc;
	struct replay_limits	 rl;
	const char		*key;
	int			 line;

	if ((key = conf_restart_key(old->conf, nc, &line)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s changed: it needs a restart; "
		    "nothing was reloaded", nc->file, line, key);
		return -1;
	}
	if ((ns = snapshot_new(px->base, nc, old, px->clock,
	    &px->nsnapshots, err, errlen)) == NULL)
		return -1;

	/* Nothing below fails: the new configuration is in. */
	px->snap = ns;
	if (px->lookup_srv != NULL)
		lookup_server_set_records(px->lookup_srv,
		    registry_records(snapshot_registry(ns)));
	server_conf(px, nc, &hc);
	if (px->net_srv != NULL)
		http_server_reconfigure(px->net_srv, &hc);
	if (px->client_srv != NULL)
		http_server_reconfigure(px->client_srv, &hc);
	if (px->lookup_srv != NULL)
		lookup_server_reconfigure(px->lookup_srv, &hc);
	if (px->admin_srv != NULL)
		admin_server_set_token(px->admin_srv, nc->admin_token);
	client_conf(px, nc, &px->peer_conf);
	proxy_peers_reconfigure(px);
	budget_set_max(&px->budget, nc->memory_max);
	deliver_conf(px, nc, &dc);
	deliver_reconfigure(px->deliver, &dc);
	replay_limits(nc, &rl);
	replay_set_limits(px->replay, &rl);
	journal_reconfigure(px, nc);
	snapshot_unref(old);
	if (px->nsnapshots > 1)
		log_info("reload: %zu older configuration(s) kept until their "
		    "requests finish", px->nsnapshots - 1);
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
	/* What telemetry holds goes out while the requests finish. */
	telemetry_drain(px->telemetry);
}

int
proxy_idle(const struct proxy *px)
{
	return px->ninbound == 0 && px->noutbound == 0 &&
	    px->nfanouts == 0 && deliver_pending(px->deliver) == 0 &&
	    telemetry_idle(px->telemetry);
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

int
proxy_admin_port(const struct proxy *px)
{
	return px->admin_srv != NULL ? admin_server_port(px->admin_srv) : -1;
}

int
proxy_registry_port(const struct proxy *px)
{
	return px->lookup_srv != NULL ? lookup_server_port(px->lookup_srv) :
	    -1;
}

const struct conf *
proxy_conf(const struct proxy *px)
{
	return px->snap->conf;
}

size_t
proxy_snapshots(const struct proxy *px)
{
	return px->nsnapshots;
}

void
proxy_counters(const struct proxy *px, struct proxy_counters *pc)
{
	size_t	 i;

	memset(pc, 0, sizeof(*pc));
	pc->inbound_acked = px->stats.inbound_acked;
	for (i = 0; i < IN_NSTAGES; i++)
		pc->inbound_nacked += px->stats.inbound_nacked[i];
	pc->outbound_sent = px->stats.outbound_sent;
	for (i = 0; i < OUT_NSTAGES; i++)
		pc->outbound_failed += px->stats.outbound_failed[i];
	pc->gateway_forwarded = px->stats.gateway_forwarded;
	pc->gateway_failed = px->stats.gateway_failed;
	pc->delivered = px->stats.deliver.delivered;
	pc->delivery_retries = px->stats.deliver.retries;
	pc->delivery_refused = px->stats.deliver.refused;
	pc->delivery_dropped = px->stats.deliver.dropped;
	pc->delivery_dead = px->stats.deliver.dead;
	pc->delivery_full = px->stats.deliver.full;
	pc->delivery_redelivered = px->stats.deliver.redelivered;
}

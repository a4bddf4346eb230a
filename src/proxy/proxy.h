/*
 * proxy.h - the adaptor: listeners, pipelines, delivery (internal).
 *
 * One struct proxy per event loop.  It owns the configuration, the
 * listeners, the outbound HTTP client, the registry client, the compiled
 * schemas, the replay cache, the delivery queue and the sync waiters.
 *
 *   network listener  signed Beckn traffic from peers: proxy_inbound.c
 *                     (verify, replay check, validate, queue for the app)
 *   client listener   the participant's own app: proxy_outbound.c
 *                     (complete context, validate, sign, route, relay)
 *   delivery          the app's webhook, retried until it takes the
 *                     message: proxy_deliver.c
 *   sync waiters      ?sync=true client calls waiting for callbacks:
 *                     proxy_sync.c
 *
 * Every request in a pipeline is one struct (inbound / outbound) with one
 * function that answers and frees it, called from every completion path.
 */
#ifndef BECKND_PROXY_H
#define BECKND_PROXY_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "beckn/beckn_ack.h"
#include "beckn/beckn_action.h"
#include "conf/conf.h"
#include "schema/schema.h"
#include "util/clock.h"
#include "util/json.h"

struct event_base;
struct evbuffer;
struct http_client;
struct http_request;
struct http_server;
struct registry;
struct replay;
struct deliver;
struct sync_wait;
struct sync_table;
struct inbound;
struct outbound;
struct fanout;
struct registry_result;
struct lookup_server;

struct proxy_stats {
	uint64_t	 inbound_acked;
	uint64_t	 inbound_nacked;
	uint64_t	 outbound_sent;
	uint64_t	 outbound_failed;
	uint64_t	 delivered;
	uint64_t	 delivery_retries;
	uint64_t	 delivery_refused;
	uint64_t	 gateway_forwarded;
	uint64_t	 gateway_failed;
};

struct proxy {
	struct event_base	*base;
	struct conf		*conf;
	const struct clock	*clock;
	struct registry		*registry;
	struct schema_set	*schemas;
	struct schema_opts	 schema_opts;
	struct replay		*replay;
	struct http_client	*http;
	struct http_server	*net_srv;
	struct http_server	*client_srv;
	struct deliver		*deliver;
	struct sync_table	*sync;
	struct proxy_stats	 stats;
	int			 stopping;
	/* Requests in the pipelines (for shutdown and -t/idle checks). */
	TAILQ_HEAD(, inbound)	 inbound;
	size_t			 ninbound;
	TAILQ_HEAD(, outbound)	 outbound;
	size_t			 noutbound;
	TAILQ_HEAD(, fanout)	 fanouts;	/* gateway searches in flight */
	size_t			 nfanouts;
	struct lookup_server	*reg_srv;	/* listen.registry */
	/* Configurations replaced by reloads: requests in flight may still
	 * point into them, so they live until proxy_free(). */
	struct conf		**retired;
	size_t			 nretired;
};

/* proxy.c */
struct proxy	*proxy_new(struct event_base *, struct conf *,
		    const struct clock *, char *err, size_t errlen);
void		 proxy_free(struct proxy *);
/* Swap in a new configuration (SIGHUP). Listener addresses must not
 * change; on error the old configuration stays. Takes conf on success. */
int		 proxy_reload(struct proxy *, struct conf *, char *err,
		    size_t errlen);
/* Stop accepting; true when nothing is in flight any more. */
void		 proxy_stop_accepting(struct proxy *);
int		 proxy_idle(const struct proxy *);
int		 proxy_network_port(const struct proxy *);
int		 proxy_client_port(const struct proxy *);
/* Load and compile the configured schemas (used by -t as well). */
struct schema_set *proxy_load_schemas(const struct conf *, char *err,
		    size_t errlen);

/*
 * The participant addressed by path and the action after it:
 * "<path of subscriber_url>/<action>".  NULL when no participant matches;
 * *action_out is NULL when the path names no known action.
 */
const struct conf_participant *proxy_route(const struct proxy *,
		    const char *path, const struct beckn_action **action_out,
		    const char **action_name);

/* Answer req with a Beckn NACK for e (message NULL: the default text);
 * extra: NULL-terminated header name/value pairs or NULL. */
void		 proxy_reply_error(struct http_request *, enum beckn_err,
		    const char *paths, const char *message,
		    const char *const *extra);
/* Parse a message body once. NULL and a reason on failure. */
json_object	*proxy_parse_json(const char *, size_t, char *err,
		    size_t errlen);

/* proxy_inbound.c: the network listener's handler. */
void		 proxy_inbound(struct http_request *, void *proxy);
/* proxy_outbound.c: the client listener's handler. */
void		 proxy_outbound(struct http_request *, void *proxy);
/* Abandon every request in the pipeline (connections are dropped). */
void		 proxy_inbound_abort_all(struct proxy *);
void		 proxy_outbound_abort_all(struct proxy *);

/* proxy_gateway.c: fan a verified search out to the domain's BPPs.
 * body is taken (freed by the fan-out, also on error). */
int		 proxy_gateway_forward(struct proxy *,
		    const struct conf_participant *gw,
		    const struct registry_result *bpps, const char *auth_value,
		    char *body, size_t len, const char *digest,
		    const char *message_id);
void		 proxy_gateway_abort_all(struct proxy *);

/* proxy_deliver.c: the participant's webhook. */
struct deliver	*deliver_new(struct proxy *);
void		 deliver_free(struct deliver *);
/*
 * Queue body (taken: freed by the queue) for p's webhook. -1 when the
 * queue is full; then body is not taken.
 */
int		 deliver_enqueue(struct deliver *,
		    const struct conf_participant *, const char *action,
		    const char *sender, const char *message_id,
		    const char *transaction_id, char *body, size_t len);
size_t		 deliver_pending(const struct deliver *);

/* proxy_sync.c: client calls held until callbacks arrive. */
typedef void	(*sync_done_cb)(json_object *responses, void *arg);
struct sync_table *sync_table_new(struct event_base *);
void		 sync_table_free(struct sync_table *);
/*
 * Wait up to wait_ms for callbacks of message_id with action expect; all
 * of them (collect_all) or the first.  done runs once, from the loop,
 * with an array of the callback bodies (borrowed for the call).
 */
struct sync_wait *sync_wait_start(struct sync_table *, const char *message_id,
		    const struct beckn_action *expect, int collect_all,
		    int64_t wait_ms, sync_done_cb, void *arg);
void		 sync_wait_cancel(struct sync_wait *);
/* A callback arrived: hand it to matching waiters (body is referenced). */
void		 sync_offer(struct sync_table *, const char *message_id,
		    const struct beckn_action *, json_object *body);

#endif

/*
 * proxy_int.h - what the adaptor's files share (internal to src/proxy).
 *
 *   proxy.c           set-up, reload, stop: builds and swaps snapshots,
 *                     reconfigures the long-lived parts
 *   proxy_snapshot.c  refcounted configuration snapshots
 *   proxy_common.c    leaf helpers both pipelines use: routing by path,
 *                     NACK answers, JSON parsing, schema error paths
 *   proxy_inbound.c   the network listener's staged pipeline
 *   proxy_outbound.c  the client listener's staged pipeline
 *   proxy_gateway.c   the gateway's fan-out of a search to BPPs
 *   proxy_sync.c      client calls held until their callbacks arrive
 *   proxy_peers.c     one outbound HTTP client per participant
 *   proxy_journal.c   the durable store: records, and what a start
 *                     rebuilds from it
 *   proxy_observe.c   telemetry, metrics, health and readiness
 *
 * Calls go one way: proxy.c -> pipelines -> gateway, sync, snapshot,
 * peers -> common.  No file calls back into one above it.
 *
 * Ownership: the struct proxy owns the long-lived parts; each request
 * (struct inbound / struct outbound) owns its state and one snapshot
 * reference, and one function per pipeline frees all of it, from every
 * completion path.
 */
#ifndef BECKND_PROXY_INT_H
#define BECKND_PROXY_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "beckn/beckn_ack.h"
#include "beckn/beckn_action.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "net/http_client.h"
#include "proxy/proxy.h"
#include "schema/schema.h"
#include "util/budget.h"
#include "util/clock.h"

struct event_base;
struct sockaddr_storage;
struct http_client;
struct http_request;
struct http_server;
struct lookup_server;
struct admin_server;
struct registry;
struct registry_record;
struct replay;
struct inbound;
struct outbound;
struct peer_slice;
struct fanout;
struct sync_table;
struct sync_wait;
struct store;
struct store_msg;
struct telemetry;
struct metrics;
struct metric;
struct registry_req;
struct event;

/* Longest id (message_id, transaction_id, bap_id, bpp_id) accepted. */
#define PROXY_ID_MAX	255

/*
 * A configuration as requests see it.  Immutable once built; refcounted.
 * The registry client is shared between snapshots while the registry.*
 * settings stay the same (so its cache survives a reload) and replaced
 * when they change (URL mode) or on every reload (file mode: the file is
 * re-read into a new client, so a broken file refuses the reload).
 */
struct snapshot {
	int			 refs;
	struct conf		*conf;		/* owns the private keys */
	struct schema_set	*schemas;	/* NULL: no participants */
	struct schema_opts	 schema_opts;
	struct regshare		*reg;		/* NULL: no registry */
	size_t			*live;		/* the proxy's count */
};

struct regshare {
	int			 refs;
	struct registry		*registry;
};

/* Counters; the metrics issue will export them. */
enum inbound_stage {
	IN_ROUTE,
	IN_AUTH_HEADER,
	IN_KEY,
	IN_VERIFY,
	IN_PARSE,
	IN_BIND,
	IN_GATEWAY_KEY,
	IN_GATEWAY_VERIFY,
	IN_REPLAY_CHECK,
	IN_VALIDATE,
	IN_DECIDE,
	IN_REPLAY_COMMIT,
	IN_STORE,
	IN_REPLY,
	IN_NSTAGES
};

enum outbound_stage {
	OUT_ROUTE,
	OUT_QUERY,
	OUT_PARSE,
	OUT_COMPLETE,
	OUT_VALIDATE,
	OUT_SIGN,
	OUT_TARGETS,
	OUT_FORWARD,
	OUT_REPLY,
	OUT_NSTAGES
};

struct proxy_stats {
	uint64_t		 inbound_acked;
	uint64_t		 inbound_nacked[IN_NSTAGES];
	uint64_t		 outbound_sent;
	uint64_t		 outbound_failed[OUT_NSTAGES];
	uint64_t		 gateway_forwarded;
	uint64_t		 gateway_failed;
	struct deliver_stats	 deliver;
};

/* Latency histograms of the pipeline (becknd_stage_duration_seconds). */
enum obs_stage {
	OBS_VERIFY,
	OBS_VALIDATE,
	OBS_STORE_COMMIT,
	OBS_DELIVERY,
	OBS_NSTAGES
};

/* proxy_observe.c's state: metric families, the readiness probe. */
struct observe {
	struct metrics		*metrics;
	struct metric		*build, *messages, *in_refused, *out_refused;
	struct metric		*stages, *peer_calls;
	struct metric		*deliveries, *delivery_retries, *dead_dropped;
	struct metric		*redelivered, *queue_full, *queue_depth;
	struct metric		*reg_lookups, *reg_inflight, *reg_entries;
	struct metric		*reg_limited;
	struct metric		*replay_entries, *replay_bytes, *connections;
	struct metric		*tel_spool, *tel_batches, *tel_events;
	struct metric		*tel_sent, *tel_failures, *tel_dropped;
	struct metric		*store_queue, *store_commits, *store_failures;
	/* The store's last commit failed (readiness), and why. */
	int			 store_failing;
	char			 store_reason[160];
	struct event		*probe_ev;
	struct registry_req	*probe;
	struct snapshot		*probe_snap;	/* the probe's registry */
	int			 probed;
};

/* One message a participant sent or received, with its answer. */
struct observed {
	const struct store_msg	*m;	/* as journalled (store on or off) */
	json_object		*body;	/* parsed; NULL: counted only */
	int64_t			 start_ns, end_ns;	/* real time */
	const char		*err_type;	/* NACK's type; NULL: derived */
	/* Inbound: the path and Host we were called on. */
	const char		*route, *host;
	/* Outbound: the URL called; its recipient when the context has
	 * none (a search forwarded by the gateway). */
	const char		*url, *recipient, *recipient_uri;
};

struct proxy {
	struct event_base	*base;
	const struct clock	*clock;
	struct snapshot		*snap;		/* current */
	size_t			 nsnapshots;	/* alive, current included */
	struct replay		*replay;
	/* Calls to peers and gateways: one client per participant. */
	struct http_client_conf	 peer_conf;	/* deny points at own */
	struct peer_slice	*peers;
	size_t			 npeers;
	struct http_server	*net_srv;
	struct http_server	*client_srv;
	struct lookup_server	*lookup_srv;	/* listen.registry */
	struct admin_server	*admin_srv;	/* listen.admin */
	struct deliver		*deliver;
	struct store		*store;		/* NULL: store: off */
	struct telemetry	*telemetry;	/* ONEST telemetry */
	struct observe		 obs;
	size_t			 journal_replay_loaded;	/* at start */
	size_t			 journal_replay_lost;
	size_t			 journal_outbox_loaded;
	struct sync_table	*sync;
	struct proxy_stats	 stats;
	struct budget		 budget;	/* limits.memory_max */
	/* Own client listener addresses: never a destination. */
	struct sockaddr_storage	*own;
	size_t			 nown;
	int			 stopping;
	TAILQ_HEAD(, inbound)	 inbound;
	size_t			 ninbound;
	TAILQ_HEAD(, outbound)	 outbound;
	size_t			 noutbound;
	TAILQ_HEAD(, fanout)	 fanouts;
	size_t			 nfanouts;
};

/* proxy_snapshot.c */
struct snapshot	*snapshot_new(struct event_base *, struct conf *,
		    const struct snapshot *prev, const struct clock *,
		    size_t *live, char *err, size_t errlen);
struct snapshot	*snapshot_ref(struct snapshot *);
/* The last reference wipes and frees it (conf_free wipes the keys). */
void		 snapshot_unref(struct snapshot *);
/* The snapshot's registry client, or NULL. */
struct registry	*snapshot_registry(const struct snapshot *);
/* Take the configuration back out of a snapshot that failed to start. */
struct conf	*snapshot_release_conf(struct snapshot *);

/* proxy_common.c */
/*
 * The participant whose path prefixes path, and the action after it
 * ("<path of subscriber_url>/<action>").  NULL when no participant
 * matches; *action is NULL when the rest names no core action and *name
 * then points at it (for the answer).
 */
const struct conf_participant *proxy_route(const struct conf *,
		    const char *path, const struct beckn_action **action,
		    const char **name);
/* Answer with the Beckn NACK of e; extra: NULL-terminated name/value
 * header pairs or NULL. */
void		 proxy_reply_error(struct http_request *, enum beckn_err,
		    const char *paths, const char *message,
		    const char *const *extra);
/*
 * Parse a body once: strictly checked (RFC 8259, UTF-8, no duplicate
 * names, at most max_nodes values: util/jsoncheck.h), then a JSON object
 * with nothing after it.  NULL on failure, a reason naming the byte
 * offset in err and the JSON pointer at fault in path ("" for none).
 */
json_object	*proxy_parse_json(const char *, size_t, size_t max_nodes,
		    char *path, size_t pathlen, char *err, size_t errlen);
/* Schema errors as NACK paths and a one-line message. */
void		 proxy_schema_nack(const struct schema_errors *, char *paths,
		    size_t pathslen, char *msg, size_t msglen);
/*
 * A context id checked as bytes: absent or not a string -> 0 and *out
 * NULL (the schema judges types); a string with a NUL inside or longer
 * than PROXY_ID_MAX -> -1 and a reason; else 0 and *out (borrowed).
 */
int		 proxy_context_id(json_object *ctx, const char *key,
		    const char **out, char *err, size_t errlen);

/* proxy_peers.c: participant p's client for peers (made on first use). */
struct http_client *proxy_peer_http(struct proxy *,
		    const struct conf_participant *);
void		 proxy_peers_reconfigure(struct proxy *);
void		 proxy_peers_free(struct proxy *);

/* proxy_journal.c (nothing happens when px->store is NULL) */
/* Open the store, rebuild replay keys and the outbox, start the writer. */
int		 journal_open(struct proxy *, const struct conf *, char *err,
		    size_t errlen);
void		 journal_reconfigure(struct proxy *, const struct conf *);
/* Commits every record queued, then closes. */
void		 journal_close(struct proxy *);
/* domain, transaction_id, message_id, order id and fulfillment state
 * code from a body (borrowed from it). */
void		 journal_ids(struct store_msg *, json_object *body);

/* proxy_observe.c */
/* Metric families; before anything is observed. */
void		 observe_init(struct proxy *);
/* /metrics, /healthz, /readyz on listen.admin (when set). */
int		 observe_routes(struct proxy *);
/* Telemetry with px->store (NULL: memory spool); with a store, between
 * store_open() and store_start() (it loads the spool). */
int		 observe_telemetry_open(struct proxy *, const struct conf *,
		    char *err, size_t errlen);
/* Seals the telemetry spool's open batch: before the store closes. */
void		 observe_telemetry_close(struct proxy *);
/* The readiness probe (asks the registry until it answered once). */
void		 observe_start(struct proxy *);
void		 observe_reconfigure(struct proxy *, const struct conf *);
void		 observe_free(struct proxy *);
/* Count and report one message (see struct observed). */
void		 observe_message(struct proxy *, const struct observed *);
void		 observe_stage(struct proxy *, enum obs_stage, int64_t ns);
/* 1 when ready; *checks (the caller's) names each check's verdict. */
int		 observe_ready(struct proxy *, json_object **checks);
/* A NACK's error type for the telemetry's error event. */
const char	*observe_err_type(enum beckn_err);

/* proxy_inbound.c */
void		 proxy_inbound(struct http_request *, void *proxy);
const char	*proxy_inbound_stage_name(int);
void		 proxy_inbound_abort_all(struct proxy *);

/* proxy_outbound.c */
void		 proxy_outbound(struct http_request *, void *proxy);
const char	*proxy_outbound_stage_name(int);
void		 proxy_outbound_abort_all(struct proxy *);

/* proxy_gateway.c: a verified search fanned out to the domain's BPPs. */
/*
 * Prepare the fan-out: the gateway's X-Gateway-Authorization is signed
 * over digest now; nothing is sent.  bpps are borrowed (urls copied).
 * NULL when signing fails.
 */
struct fanout	*gateway_prepare(struct proxy *,
		    const struct conf_participant *gw,
		    struct registry_record *const *bpps, size_t nbpps,
		    const char *auth_value, const char *digest,
		    const char *message_id, const char *transaction_id,
		    const char *domain, const struct conf *);
/*
 * Send body (taken, with the len bytes it holds on the proxy's memory
 * budget, which the fan-out gives back) to every BPP; the fan-out frees
 * itself when done.  parsed: the body as parsed (a reference is kept,
 * for the telemetry of each forward).
 */
void		 gateway_dispatch(struct fanout *, char *body, size_t len,
		    json_object *parsed);
void		 gateway_cancel(struct fanout *);
void		 gateway_abort_all(struct proxy *);

/* proxy_sync.c: client calls held until callbacks arrive. */
typedef void	(*sync_done_cb)(json_object *responses, void *arg);
struct sync_table *sync_table_new(struct event_base *);
void		 sync_table_free(struct sync_table *);
/*
 * Wait up to wait_ms for callbacks with action expect of message_id
 * addressed to participant (its subscriber id): every one (collect_all)
 * or the first.  done runs once, from the loop, with an array of the
 * callback bodies (borrowed for the call).  A waiter never sees another
 * participant's callbacks, whatever their message_id.
 */
struct sync_wait *sync_wait_start(struct sync_table *,
		    const char *participant, const char *message_id,
		    const struct beckn_action *expect, int collect_all,
		    int64_t wait_ms, sync_done_cb, void *arg);
void		 sync_wait_cancel(struct sync_wait *);
/* A verified callback reached participant: hand it to its waiters. */
void		 sync_offer(struct sync_table *, const char *participant,
		    const char *message_id, const struct beckn_action *,
		    json_object *body);

#endif

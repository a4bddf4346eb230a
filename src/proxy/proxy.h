/*
 * proxy.h - the adaptor: one struct proxy per event loop serving every
 * configured participant on the network and client listeners.
 *
 * This header is what the daemon (src/cli) sees; the pipelines' shared
 * internals are in proxy_int.h.
 *
 * Configuration lives in refcounted snapshots (configuration with its
 * keys, compiled schemas, registry client).  Each request takes the
 * current snapshot when it arrives and keeps it until it is answered, so
 * a reload never changes the rules under a request in flight; the old
 * snapshot is wiped (private keys) and freed when its last request lets
 * go.  Long-lived parts -- listeners, HTTP clients, the delivery queue,
 * the replay cache, sync waiters -- are reconfigured in place.
 */
#ifndef BECKND_PROXY_H
#define BECKND_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct clock;
struct conf;
struct event_base;
struct proxy;
struct schema_set;

/*
 * Start listening as conf says.  Takes conf on success (the caller keeps
 * it on failure).  clock NULL: real time.  NULL and "file: reason" in err
 * on failure.
 */
struct proxy	*proxy_new(struct event_base *, struct conf *,
		    const struct clock *, char *err, size_t errlen);
/*
 * -t: the store (store.path) can be opened or created, is becknd's, and
 * can be written.  0 when it can or the store is off; -1 and "path:
 * reason" in err.
 */
int		 proxy_check_store(const struct conf *, char *err,
		    size_t errlen);
/* Drops what is in flight (connections closed, deliveries logged). */
void		 proxy_free(struct proxy *);
/*
 * SIGHUP: apply nc, or refuse it whole.  Everything but the keys that
 * need a restart (listen.*, store.path, store.sync) is applied: a change
 * to one of those refuses the reload with err naming the key and its
 * line.  On success nc is taken; on failure
 * the running configuration is untouched and the caller keeps nc.
 */
int		 proxy_reload(struct proxy *, struct conf *nc, char *err,
		    size_t errlen);
/*
 * Stop accepting; proxy_idle() tells when nothing is in flight (requests,
 * deliveries, and telemetry the sink is taking: what it holds is sent
 * now, see telemetry_drain()).
 */
void		 proxy_stop_accepting(struct proxy *);
int		 proxy_idle(const struct proxy *);
/* Bound ports (-1 when not listening), for tests and start-up logs. */
int		 proxy_network_port(const struct proxy *);
int		 proxy_client_port(const struct proxy *);
int		 proxy_registry_port(const struct proxy *);
int		 proxy_admin_port(const struct proxy *);
/* Counters since start, for tests and the metrics to come. */
struct proxy_counters {
	uint64_t	 inbound_acked;
	uint64_t	 inbound_nacked;	/* every stage, 404/405 too */
	uint64_t	 outbound_sent;	/* answered with the peer's word */
	uint64_t	 outbound_failed;
	uint64_t	 gateway_forwarded;	/* a BPP answered ACK */
	uint64_t	 gateway_failed;	/* a BPP did not */
	uint64_t	 delivered;
	uint64_t	 delivery_retries;
	uint64_t	 delivery_refused;	/* 4xx: final */
	uint64_t	 delivery_dead;		/* parked as dead letters */
	uint64_t	 delivery_dropped;	/* dead letters over the cap */
	uint64_t	 delivery_full;		/* refused: queue full */
	uint64_t	 delivery_redelivered;
};
void		 proxy_counters(const struct proxy *, struct proxy_counters *);
/* The running configuration (owned by the current snapshot). */
const struct conf *proxy_conf(const struct proxy *);
/* Configuration snapshots alive: 1 when no request holds an older one. */
size_t		 proxy_snapshots(const struct proxy *);
/*
 * The schemas a configuration validates with: its `schemas` files, else
 * the built-in core 1.1.0 + ONEST set.  *used gets a text naming them,
 * for -t.
 */
struct schema_set *proxy_load_schemas(const struct conf *, const char **used,
		    char *err, size_t errlen);

#endif

/*
 * telemetry.h - ONEST network telemetry: one API event for every Beckn
 * message a participant sends or receives, batched and POSTed to
 * telemetry.url (the network's observability platform), spooled in the
 * durable store until the sink accepted it.
 *
 * Format: the ONEST/Sunbird-Obsrv "network telemetry" API event (an
 * OTLP-shaped document, not valid OTLP): one {"resourceSpans":[...]}
 * per message with one span; see becknd(8) TELEMETRY for every field.
 * Never a message body: only ids, times, status and the configured
 * message_properties.
 *
 * Batches.  Events are appended to the open batch; it is sealed when it
 * holds batch_size events, when the next event would take it over
 * max_batch_bytes (the POST body's bytes, envelope included; an event
 * larger than that goes alone; 0: no limit), or interval_ms after its
 * first event (so never empty).  A sealed batch never changes: its body is
 *   {"data":{"id":"ID","events":[EVENT,EVENT,...]}}
 * where ID is the first 16 bytes of SHA-256 over the events array text,
 * in hex (32 characters): the same batch always has the same id (a sink
 * that saw it drops the retry) and different batches different ids.
 *
 * Sending.  One batch at a time, oldest first, POST with Content-Type:
 * application/json and timeout_ms.  A 2xx answer accepts the batch
 * (deleted from the spool); anything else (no answer, timeout, any other
 * status) is a failure: the same batch is sent again after a backoff
 * that doubles from TELEMETRY_RETRY_MIN_MS up to retry_max_ms, with
 * jitter (uniform in [delay/2, delay]), reset by a success (a
 * retry_max_ms below TELEMETRY_RETRY_MIN_MS caps the first delay too).
 * Logged: the first failure, then at most a line a minute; the recovery.
 *
 * The spool.  With a store (store.h), an event the sink has not taken
 * within TELEMETRY_PERSIST_MS is written to it (store_tel_*), and so is
 * every event while the sink fails, and everything at telemetry_free():
 * a restart resends what the sink had not accepted, as the same batches
 * with the same ids, and the events of the open batch come back as the
 * open batch.  A crash (kill -9) loses at most the events of the last
 * TELEMETRY_PERSIST_MS while the sink works (and what the store had not
 * committed).  A sink that keeps up takes most batches before they
 * were written: telemetry then costs the disk almost nothing.  Without a store
 * the spool is memory only.  Either way it holds at most spool_max events
 * (sealed and open); past that the oldest sealed batch not being sent is
 * dropped, counted in stats.dropped and logged (when that is the open
 * batch, it is sealed first: the store only ever holds whole batches).
 *
 * Off: url NULL or "" -- telemetry_emit() does nothing, nothing is sent,
 * but what a previous run spooled is kept (and sent once a reload sets
 * a url).
 *
 * Threads: everything on the loop thread.  Ownership: the conf and every
 * string in a span are copied (or used) before the call returns.
 */
#ifndef BECKND_TELEMETRY_H
#define BECKND_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct event_base;
struct store;
struct telemetry;

#define TELEMETRY_RETRY_MIN_MS	1000
#define TELEMETRY_PERSIST_MS	1000	/* an event waits unwritten, at most */
#define TELEMETRY_SCOPE_NAME	"network_service"
#define TELEMETRY_SCOPE_VERSION	"1.0.0"

/* telemetry.message_properties: an extra span attribute read from the
 * body.  path: dot-separated member names from the body's root, where
 * "name[]" expands an array: "message.order.items[].id" gives key.0,
 * key.1, ...  Strings, numbers and booleans become attributes; missing
 * members, nulls, objects and arrays (not expanded) give none. */
struct telemetry_prop {
	const char	*key;
	const char	*path;
};

struct telemetry_conf {
	const char	*url;		/* NULL or "": off */
	size_t		 batch_size;	/* events; >= 1 */
	size_t		 max_batch_bytes;
	int64_t		 interval_ms;	/* > 0 */
	int64_t		 timeout_ms;	/* per POST */
	int64_t		 retry_max_ms;
	size_t		 spool_max;	/* events; >= batch_size */
	const struct telemetry_prop *props;
	size_t		 nprops;
};

/*
 * One message as seen by one participant.  Strings may be NULL (then ""
 * in the event, or as said).  Times are unix nanoseconds.
 */
struct telemetry_span {
	const char	*producer;	/* our subscriber id */
	const char	*domain;	/* context.domain; NULL: key omitted */
	const char	*action;	/* the span's name */
	const char	*transaction_id;	/* traceId */
	const char	*message_id;		/* spanId */
	const char	*observed;	/* context.timestamp; NULL: end time */
	/* sender/recipient: from context by telemetry_span_context(). */
	const char	*sender_id, *sender_uri, *sender_type;
	const char	*recipient_id, *recipient_uri, *recipient_type;
	const char	*direction;	/* "in" | "out": for span_uuid */
	int64_t		 start_ns;	/* received / sent */
	int64_t		 end_ns;	/* answered / peer answered */
	int		 ok;		/* 2xx and ACK: status "Ok" */
	int		 http_status;	/* 0: no answer */
	/* When !ok, the "error" event's attributes. */
	const char	*err_type, *err_code, *err_msg;
	const char	*http_method;	/* NULL: "POST" */
	const char	*http_route;	/* the path posted to */
	const char	*http_host;
	const char	*http_scheme;	/* NULL: "http" */
	json_object	*body;		/* message_properties; may be NULL */
};

/*
 * Fill domain, transaction_id, message_id, observed and sender/recipient
 * from body's context (borrowed from body): for an action (the span's,
 * or context.action when that is NULL) starting with "on_" the sender
 * is the BPP (bpp_id, bpp_uri, "provider") and the recipient the BAP
 * (bap_id, bap_uri, "seeker"); else the reverse.
 * Leaves the other fields alone.  body NULL or without a context:
 * nothing.
 */
void		 telemetry_span_context(struct telemetry_span *,
		    json_object *body);

/*
 * The event's JSON text (NUL-terminated, malloc'd, *len without the NUL)
 * for span under conf's message_properties.  Never fails (aborts on OOM
 * as xmalloc does).
 */
char		*telemetry_event_json(const struct telemetry_span *,
		    const struct telemetry_conf *, size_t *len);

/*
 * Start (the loop's thread).  store NULL: memory spool.  With a store,
 * called after store_open() and before store_start(): the spool is loaded
 * from it (store_tel_load()).  NULL and err on failure (the load).
 */
struct telemetry *telemetry_new(struct event_base *,
		    const struct telemetry_conf *, struct store *,
		    char *err, size_t errlen);
/* SIGHUP: the next event, seal and POST use conf. */
void		 telemetry_reconfigure(struct telemetry *,
		    const struct telemetry_conf *);
/* Build the span's event and append it (nothing when off). */
void		 telemetry_emit(struct telemetry *,
		    const struct telemetry_span *);
/* Seal the open batch (when not empty) and send now (tests, stop). */
void		 telemetry_flush(struct telemetry *);
/*
 * Stopping: seal the open batch and send now, and from now on seal and
 * send every event as it comes (no interval waited for).
 */
void		 telemetry_drain(struct telemetry *);
/*
 * 1 when there is nothing more to wait for before stopping: off, nothing
 * held, or the sink's last answer was a failure (what is held stays
 * spooled for the next start).
 */
int		 telemetry_idle(const struct telemetry *);
/*
 * Seal the open batch into the store (before store_close(), which
 * writes it), cancel a POST in flight (resent at the next start), free.
 * NULL: nothing.
 */
void		 telemetry_free(struct telemetry *);

struct telemetry_stats {
	uint64_t	 events;	/* emitted */
	uint64_t	 events_sent;	/* in accepted batches */
	uint64_t	 batches_sent;	/* accepted */
	uint64_t	 send_failures;	/* POSTs that failed */
	uint64_t	 dropped;	/* events dropped over spool_max */
	size_t		 spooled;	/* events held, sealed and open */
	size_t		 batches;	/* sealed batches waiting */
};
void		 telemetry_stats(const struct telemetry *,
		    struct telemetry_stats *);

#endif

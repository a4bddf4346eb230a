/*
 * store.h - the durable store, writer side: every message sent and
 * received (the journal), the webhook outbox, the replay-cache keys and
 * the telemetry spool, kept in one SQLite file (store_db.h: the file,
 * its schema).
 *
 * The event loop never waits on the disk.  One writer thread owns the
 * connection once store_start() ran; the loop hands it records
 * (store_put(), store_delivery(), store_tel_*()) through a bounded queue
 * and hears back through a pipe watched on its event_base: callbacks run
 * on the loop thread only, never on the writer.  Only store_close() waits
 * for the thread.
 *
 * What a callback's ok 1 guarantees: the record and its replay keys were
 * committed together, in one transaction (PRAGMA synchronous NORMAL: it
 * survives a crash of the process; FULL: also a power loss).  ok 0: none
 * of it was written, and reason says why (SQLite's message, e.g.
 * "database or disk is full", or "store queue full").  A record is never
 * half written.
 *
 * Group commit.  The writer takes every record waiting (at most
 * STORE_BATCH) and commits them in one transaction, with no added delay:
 * a batch is what accumulated during the previous commit.  When the
 * batch fails, it is rolled back and each record is written in its own
 * transaction, so one failing record (the file reached max_size, a
 * duplicate delivery_id) fails alone.  Records are written in the order
 * they were queued; callbacks run in that order.
 *
 * The queue holds at most STORE_QUEUE_MAX records not yet written; past
 * it store_put() fails the record ("store queue full", callback on a
 * later loop turn), store_tel_*() log and drop theirs (below) and
 * store_delivery() logs and drops the update (the row stays 'queued':
 * delivered again after a restart; the Idempotency-Key lets the app drop
 * the duplicate).
 *
 * Bodies.  A message's body is stored when bodies is ALL, or while it has
 * a delivery (delivery_id set: the outbox needs it until it is
 * delivered).  Under NONE, store_delivery() of "delivered" clears it; a
 * dead or refused letter keeps it, so that it can be sent again.  A body
 * of 0 bytes is stored as such; body NULL (no delivery) as NULL.
 *
 * Also on the writer thread:
 *   - requeue: every STORE_POLL_MS, rows another process set to
 *     'requeue' (becknd journal redeliver, the admin API) become 'queued'
 *     with attempts 0 and are handed to the requeue callback on the loop.
 *     A requeued row without a body (cleared under bodies: none) cannot
 *     be delivered: it is set back to 'dead' with that reason, and logged.
 *   - retention: when no record came for STORE_IDLE_MS (or, on a store
 *     never idle, after STORE_STARVE_MS), at most every STORE_RETAIN_MS,
 *     deletes up to STORE_RETAIN_ROWS expired replay keys and (when
 *     retention_ms > 0) as many messages that started before now -
 *     retention_ms and are not in the outbox ('queued', 'requeue': never
 *     deleted).  A pass that found a full batch runs again
 *     at the next idle tick (STORE_POLL_MS) instead.  Real time
 *     (CLOCK_REALTIME, unix ms as in start_ms).
 *
 * Ownership.  Everything a struct store_msg points to, and the strings
 * given to store_delivery(), are copied before the call returns.  The
 * handle store_put() returns belongs to the store: valid until its
 * callback ran or store_op_cancel() returned, not after.  struct
 * store_pending is valid during its callback only.
 *
 * Threads.  Every function is called on the loop thread (the one running
 * base), which is also the thread store_open(), the loaders and
 * store_start() ran on.  A callback may call store_put(),
 * store_delivery(), store_op_cancel() and store_stats(), never
 * store_close().
 *
 * store_close() writes every record still queued (each committed, as
 * above), then joins the thread and closes the file.  Callbacks not yet
 * run are not run then (the loop is stopping): failures among them are
 * logged.  Rows found for requeue but not yet handed over are 'queued'
 * and come back through store_outbox_load() at the next start.
 */
#ifndef BECKND_STORE_H
#define BECKND_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct store_op;

#define STORE_QUEUE_MAX		65536	/* records queued, not yet written */
#define STORE_BATCH		1024	/* records per transaction, at most */
#define STORE_POLL_MS		1000	/* requeue poll; idle tick */
#define STORE_IDLE_MS		1000	/* no record for: idle */
#define STORE_RETAIN_MS		10000	/* retention passes, at most every */
#define STORE_STARVE_MS		60000	/* a pass even when never idle */
#define STORE_RETAIN_ROWS	500	/* rows deleted per pass and table */

enum store_sync { STORE_SYNC_NORMAL, STORE_SYNC_FULL };
enum store_bodies { STORE_BODIES_ALL, STORE_BODIES_NONE };

struct store_conf {
	const char		*path;
	enum store_sync		 sync;		/* read at store_open() only */
	enum store_bodies	 bodies;
	int64_t			 retention_ms;	/* 0: keep forever */
	uint64_t		 max_size;	/* bytes (PRAGMA max_page_count:
						   at least the file's size);
						   0: unlimited */
};

/*
 * Start-up, caller's thread: create or open path (WAL, synchronous
 * NORMAL or FULL, busy timeout, foreign keys off), refused when it is not
 * SQLite, corrupt, another application's or newer (store_db.h); older
 * schemas migrated forward.  The opener holds an exclusive flock() on
 * the file until store_close() (the kernel drops it when the process
 * dies): a second store_open() of the same file, in this process or
 * another, fails "PATH: in use by another becknd" -- two daemons would
 * both deliver its outbox.  NULL and err "PATH: reason" on failure.  The
 * conf is copied.
 */
struct store	*store_open(const struct store_conf *, char *err,
		    size_t errlen);
/*
 * becknd -t: an existing file is opened as store_open() does, then a
 * write transaction on it is rolled back; a missing file is not created,
 * its folder must exist and be writable.  0, or -1 and err "PATH:
 * reason" (cannot create or write it, foreign, corrupt, newer).
 */
int		 store_check(const struct store_conf *, char *err,
		    size_t errlen);

/*
 * Synchronous loaders, on the caller's thread, before store_start()
 * (-1 after it).  cb returns 0 to go on; non-zero stops the load, which
 * returns -1 with err "PATH: loading stopped".  Other failures: -1 and
 * err "PATH: reason".
 */

/* The replay keys with expires_ms > now_ms; a key written twice (it was
 * re-armed) comes twice, each row with its own expiry and owner. */
int		 store_replay_load(struct store *, int64_t now_ms,
		    int (*cb)(const void *key, size_t len, const char *owner,
		    int64_t expires_ms, void *arg), void *arg, char *err,
		    size_t errlen);

/* A delivery to make (valid during the callback only). */
struct store_pending {
	const char	*delivery_id;	/* its Idempotency-Key */
	const char	*participant;
	const char	*webhook;
	const char	*action;
	const char	*sender;
	const char	*message_id;	/* may be NULL */
	const char	*transaction_id; /* may be NULL */
	const char	*body;		/* never NULL */
	size_t		 len;
	int		 attempts;
};

/*
 * The outbox, in journal order: 'queued' rows with their attempts, and
 * 'requeue' rows, which become 'queued' with attempts 0 (one transaction:
 * when cb stops the load, the requeue rows stay as they were).
 */
int		 store_outbox_load(struct store *,
		    int (*cb)(const struct store_pending *, void *),
		    void *arg, char *err, size_t errlen);

/*
 * Start the writer thread; completions come back on base.  0, or -1 and
 * err.  Records queued before it (store_put() may be called before) are
 * written then.
 */
int		 store_start(struct store *, struct event_base *, char *err,
		    size_t errlen);
/*
 * cb gets each row requeued by another process (see above), on the loop.
 * NULL, or none set: such rows are 'queued' and wait for the next
 * start's store_outbox_load() (logged).
 */
void		 store_set_requeue_cb(struct store *,
		    void (*cb)(const struct store_pending *, void *),
		    void *arg);
/*
 * SIGHUP: bodies (the next store_put() and store_delivery()), retention
 * and max_size (before the writer's next batch).  path and sync are
 * ignored.
 */
void		 store_reconfigure(struct store *, const struct store_conf *);
/* Writes every queued record, joins the thread, closes.  NULL: nothing. */
void		 store_close(struct store *);

struct store_replay_key {
	const void	*key;
	size_t		 len;
	int64_t		 expires_ms;
};

/* One row of the journal; everything is copied by store_put(). */
struct store_msg {
	const char	*direction;	/* "in" | "out" */
	const char	*participant;	/* our subscriber id */
	const char	*role;		/* BAP, BPP, BG; NULL: unknown */
	const char	*peer;		/* NULL: unknown */
	const char	*action;
	const char	*domain;	/* the ids below: NULL when unknown */
	const char	*transaction_id;
	const char	*message_id;
	const char	*order_id;
	const char	*state_code;
	int		 http_status;	/* the answer's; 0: none (NULL) */
	const char	*ack;		/* "ACK", "NACK"; NULL: no answer */
	const char	*error_code;
	const char	*error_message;
	int64_t		 start_ms;	/* unix ms */
	int64_t		 end_ms;	/* 0: none (NULL) */
	const char	*delivery_id;	/* NULL: no delivery; else the row
					   is 'queued' in the outbox */
	const char	*webhook;
	const char	*sender;
	const char	*body;		/* see Bodies above */
	size_t		 len;
	const char	*replay_owner;	/* the keys' owner; may be NULL */
	const struct store_replay_key *keys;	/* into replay, in the
						   same transaction */
	size_t		 nkeys;
};

/*
 * ok 1: committed; 0: not written, reason says why (valid during the
 * call only).  Runs on the loop.
 */
typedef void	(*store_done_cb)(int ok, const char *reason, void *arg);

/*
 * Queue the record.  cb (NULL: fire and forget, a failure is logged)
 * runs on the loop once its transaction committed or failed, never
 * within store_put().  Returns the handle for store_op_cancel(), NULL
 * when cb is NULL.  Never blocks.
 */
struct store_op	*store_put(struct store *, const struct store_msg *,
		    store_done_cb cb, void *arg);
/* cb will not run; the write still happens.  NULL: nothing. */
void		 store_op_cancel(struct store_op *);
/*
 * Delivery progress of the row with delivery_id, fire and forget (a
 * failure is logged; no row with that id: nothing).  state "queued" (a
 * failed attempt, retried: attempts and last_error only), "delivered",
 * "refused" or "dead" (also the state, and at_ms as delivered_ms; under
 * bodies: none the body is cleared).  Another state is logged and
 * ignored.  last_error may be NULL.
 */
void		 store_delivery(struct store *, const char *delivery_id,
		    const char *state, int attempts, const char *last_error,
		    int64_t at_ms);

/*
 * The telemetry spool (src/telemetry/telemetry.h): events built for
 * telemetry.url and not yet accepted by it, so that a restart or a long
 * outage of the sink loses none.  Two tables (schema version 2):
 * tel_event(seq INTEGER PRIMARY KEY, event TEXT) and tel_batch(first
 * INTEGER PRIMARY KEY, last INTEGER).  seq is the caller's, strictly
 * increasing.  All three calls are fire and forget, queued in order with
 * the records (written by the writer thread in queue order, in its group
 * commits; a failure, or a full queue, is logged and counted in
 * store_stats().failures: the event is then only in the caller's memory).
 * Retention never touches these tables.
 */
/* One event (a JSON text of len bytes, copied). */
void		 store_tel_event(struct store *, int64_t seq,
		    const char *event, size_t len);
/* Events first..last (both included) form one batch from now on. */
void		 store_tel_seal(struct store *, int64_t first, int64_t last);
/* Batch first..last was accepted (or dropped): its events and its seal
 * are deleted (one transaction). */
void		 store_tel_done(struct store *, int64_t first, int64_t last);
/*
 * Loader, before store_start() (as the loaders above): batch_cb gets every
 * sealed batch in order of first, then event_cb every event in order of
 * seq (those of the batches included).  Either callback returning
 * non-zero stops the load (-1, "PATH: loading stopped").
 */
int		 store_tel_load(struct store *,
		    int (*batch_cb)(int64_t first, int64_t last, void *),
		    int (*event_cb)(int64_t seq, const char *event,
		    size_t len, void *), void *arg, char *err, size_t errlen);

struct store_stats {
	uint64_t	 commits;	/* transactions of records committed */
	uint64_t	 records;	/* records committed */
	uint64_t	 failures;	/* records that failed */
	size_t		 queued;	/* records not yet written */
};
void		 store_stats(const struct store *, struct store_stats *);

#endif

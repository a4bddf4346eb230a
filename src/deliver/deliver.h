/*
 * deliver.h - the participants' webhooks: verified messages handed to the
 * app, retried until it takes them, parked as dead letters when it never
 * does.
 *
 * The network got its ACK once a message was handed over here, so from
 * then on the message is ours to deliver.  Nothing is dropped silently.
 *
 * Every attempt is one POST of the exact bytes received from the network
 * (never re-serialised, sent from the queue's own buffer) with
 *
 *   Content-Type: application/json
 *   X-Beckn-Sender: <the verified sender>
 *   X-Beckn-Action: <the action>
 *   X-Beckn-Message-Id: <context.message_id>		(when known)
 *   X-Beckn-Transaction-Id: <context.transaction_id>	(when known)
 *   Idempotency-Key: <a UUID made by deliver_prepare(), or the id
 *                     given to deliver_restore()>
 *
 * The Idempotency-Key is the same on every attempt of one message, a
 * re-delivery of a dead letter and a restore after a restart included
 * (deliver_id() tells it, for the journal), and differs between messages:
 * an app that sees a key it already took (it answered after the timeout,
 * or its answer was lost) drops the duplicate.  A value holding a control
 * byte (CR, LF, ...) is never sent: that header is left out and logged.
 *
 * Answers (redirects are never followed):
 *   2xx                      delivered -- the only success
 *   4xx but 408 and 429      refused by the app: final, logged with the
 *                            ids, counted in refused; not a dead letter
 *   3xx, 408, 429, 5xx,      a failure: retried after a delay, doubled
 *   connection error,        from backoff_ms up to backoff_max_ms, drawn
 *   timeout, anything else   between half and all of it (jitter)
 *
 * Dead letters.  A failed attempt that is the max_attempts-th (0: no
 * limit; retries N, the older setting, means N + 1 attempts and the lower
 * limit applies when both are set), or that ends max_age_ms or more after
 * the message's first attempt (0: no limit), parks the message as a dead
 * letter: logged once (error, with participant, action, message_id,
 * transaction_id, Idempotency-Key, attempts and the last failure),
 * counted in dead, and kept in memory with its body for inspection
 * (deliver_dead_foreach()) and re-delivery (deliver_redeliver()).  It
 * leaves its participant's queue at once, so a poison message never holds
 * a place.  At most dead_max dead letters and dead_bytes of their bodies
 * are kept, every participant together; past either the oldest are dropped
 * (logged, counted in dropped).  Dead letters live in memory only:
 * deliver_free() logs each one it frees.  With a journal (below,
 * keep_dead 0) none is kept in memory: the journal keeps them.
 *
 * Per participant (struct deliver_msg.participant, compared byte-wise):
 *   - a queue of at most queue_size messages and queue_bytes body bytes
 *     (prepared, waiting or being sent, restored ones included; dead
 *     letters do not count).  Past either, deliver_prepare() returns NULL
 *     -- the caller answers 503 -- and no other participant is affected.
 *     A message larger than queue_bytes is still taken when its
 *     participant holds nothing, so that it is not refused forever.
 *     deliver_restore() is never refused: it may take a queue past its
 *     limits, and new messages are refused until it is back under.
 *   - a slice of connections: its own HTTP client (own libcurl multi and
 *     connection cache) running at most max_inflight attempts at once,
 *     the others waiting in its FIFO.  A slow webhook holds its own
 *     participant's attempts only, never another participant's nor the
 *     HTTP client the caller uses for peers.  The client is made at the
 *     participant's first attempt and freed, with its connections, once
 *     the participant has held nothing for idle_ms.
 * The messages of one participant are sent in parallel: their order is
 * not kept (Beckn callbacks are asynchronous and carry their own ids).
 *
 * Two steps, so that a message the pipeline may still refuse takes a
 * place in its participant's queue without leaving a trace if it is
 * refused:
 *
 *   deliver_prepare()  reserve a place (NULL when the participant's queue
 *                      is full: the caller answers 503); nothing is sent
 *   deliver_start()    hand over the body and send it (after the ACK was
 *                      decided)
 *   deliver_cancel()   give the place back (the message was refused)
 *
 * The memory budget (util/budget.h; the one given to deliver_new(), NULL:
 * none).  deliver_start() takes over a charge of exactly len bytes that
 * the caller already holds on that budget: the HTTP server charged the
 * request body as it buffered it, and the charge moves with the body.  The
 * queue gives those len bytes back (budget_give()) when it frees the body:
 * the message delivered or refused, a dead letter dropped, or
 * deliver_free().  A dead letter keeps its charge (its body is still
 * held), and so does its re-delivery.  deliver_prepare() and
 * deliver_cancel() neither take nor give: no body was handed over.
 * deliver_restore() charges len bytes itself, whatever the budget's max
 * (budget_force(): the budget may go over it, and new takes are refused
 * until it is back under), and the queue gives them back the same way.
 *
 * The journal (the durable store; see store/store.h).  A message is ACKed
 * once the journal holds it, so a restart must not lose it:
 *
 *   deliver_id()       the Idempotency-Key of a prepared message, to be
 *                      recorded with it
 *   deliver_restore()  at start-up, each message the journal holds as
 *                      not delivered yet (and later each dead letter an
 *                      operator queued again): queued at once and sent,
 *                      with its own Idempotency-Key, whatever the queue
 *                      limits -- it was ACKed already.  Its attempts so
 *                      far count toward max_attempts (a message restored
 *                      at or past the limit is still tried once); max_age
 *                      counts from its first attempt after the restore.
 *   deliver_set_reporter()  the outcome of every attempt, for the
 *                      journal: RETRY (failed, tried again later),
 *                      DELIVERED (2xx), REFUSED (final 4xx), DEAD (given
 *                      up: max_attempts or max_age).  With keep_dead 0 a
 *                      dead letter is reported, logged ("kept in the
 *                      journal") and counted in dead, then freed with its
 *                      budget charge: deliver_dead_count() stays 0 and
 *                      deliver_redeliver() has nothing to find -- the
 *                      operator requeues it in the journal, which hands it
 *                      to deliver_restore().  deliver_free() then logs the
 *                      messages not delivered yet as kept in the journal,
 *                      to be delivered at the next start.
 *
 * No report is made for a message cancelled, freed by deliver_free(), or
 * a dead letter dropped over the caps or queued again by
 * deliver_redeliver() (keep_dead 1).
 *
 * Time: max_age is measured on the clock given to deliver_new() (NULL:
 * the real one); backoff delays and attempt timeouts on the event loop.
 *
 * Ownership: the queue owns each message from deliver_prepare() (or
 * deliver_restore()) until it ends (delivered, refused, a dead letter
 * dropped or freed, cancelled or deliver_free()); the caller's pointer is
 * valid until deliver_start() or deliver_cancel() returns and must not be
 * used after, nor the string deliver_id() returned: copy it.  The stats,
 * budget and clock are borrowed and must outlive the queue.  Strings in a
 * struct deliver_msg and struct deliver_conf, and restore's id, are
 * copied.
 */
#ifndef BECKND_DELIVER_H
#define BECKND_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "net/http_client.h"

struct budget;
struct clock;
struct event_base;
struct deliver;
struct delivery;

struct deliver_conf {
	int64_t		 timeout_ms;	/* one attempt */
	int		 retries;	/* old limit: N means N + 1 attempts */
	int		 max_attempts;	/* then a dead letter; 0: no limit */
	int64_t		 max_age_ms;	/* since the first attempt; 0: none */
	int64_t		 backoff_ms;	/* first retry delay, then doubled */
	int64_t		 backoff_max_ms;
	size_t		 queue_size;	/* messages held, per participant */
	size_t		 queue_bytes;	/* body bytes held, per participant */
	int		 max_inflight;	/* attempts at once, per participant;
					   0: 16 */
	size_t		 dead_max;	/* dead letters kept (0: none) */
	size_t		 dead_bytes;	/* their body bytes */
	int64_t		 idle_ms;	/* a slice freed after; 0: 60 s */
	/*
	 * Each participant's HTTP client: TLS, CA file (copied), connect
	 * timeout, response_max.  timeout_ms, max_inflight and max_queue
	 * are set from the fields above.
	 */
	struct http_client_conf http;
};

struct deliver_stats {
	uint64_t	 delivered;
	uint64_t	 retries;	/* failed attempts tried again */
	uint64_t	 refused;	/* 4xx: the app said no */
	uint64_t	 dead;		/* parked as dead letters */
	uint64_t	 dropped;	/* dead letters dropped over the caps */
	uint64_t	 redelivered;	/* dead letters queued again */
	uint64_t	 full;		/* deliver_prepare() refused */
};

struct deliver_msg {
	const char	*participant;	/* receiving subscriber id: the queue */
	const char	*webhook;	/* URL; "{action}" is replaced */
	const char	*action;
	const char	*sender;	/* verified sender: X-Beckn-Sender */
	const char	*message_id;	/* may be NULL */
	const char	*transaction_id; /* may be NULL */
	size_t		 len;		/* the body deliver_start() will get */
};

struct deliver	*deliver_new(struct event_base *, const struct deliver_conf *,
		    struct deliver_stats *, struct budget *,
		    const struct clock *);
/*
 * New settings (SIGHUP): the next attempt and the next check of every
 * message use them; smaller queue limits refuse new messages until the
 * queue is below them, smaller dead-letter caps drop the oldest at once.
 */
void		 deliver_reconfigure(struct deliver *,
		    const struct deliver_conf *);
/* Logs every message not delivered and every dead letter, frees them. */
void		 deliver_free(struct deliver *);

struct delivery	*deliver_prepare(struct deliver *, const struct deliver_msg *);
/*
 * The Idempotency-Key every attempt of a prepared message carries.  Valid
 * until deliver_start() or deliver_cancel() is called: copy it.
 */
const char	*deliver_id(const struct delivery *);
/* body: malloc'd, now the queue's; NULL only when len is 0. */
void		 deliver_start(struct delivery *, char *body, size_t len);
void		 deliver_cancel(struct delivery *);	/* NULL: nothing */

/*
 * A message the journal kept (see above): queued and sent at once with
 * Idempotency-Key id (copied; NULL: a new one, as deliver_prepare()
 * makes), whatever the queue limits.  m->len is ignored: body is len
 * bytes, malloc'd, now the queue's (NULL only when len is 0), and len
 * bytes are charged to the budget here, unconditionally.  attempts: the
 * attempts made before (0 for a dead letter queued again; < 0 is 0).
 */
void		 deliver_restore(struct deliver *, const struct deliver_msg *,
		    const char *id, int attempts, char *body, size_t len);

enum deliver_outcome {
	DELIVER_RETRY,		/* the attempt failed; tried again later */
	DELIVER_DELIVERED,	/* 2xx */
	DELIVER_REFUSED,	/* final 4xx: the app said no */
	DELIVER_DEAD,		/* given up: a dead letter */
};

/* One attempt's outcome; every pointer valid during the callback only. */
struct deliver_report {
	const char		*id;		/* the Idempotency-Key */
	const char		*participant;
	const char		*action;
	enum deliver_outcome	 outcome;
	int			 attempts;	/* so far, restored included */
	int			 status;	/* the HTTP status; 0: none */
	const char		*reason;	/* failure; NULL: DELIVERED */
	int64_t			 elapsed_ns;	/* the attempt's time; 0: none */
};

/*
 * cb (NULL: no reports, dead letters kept) is called on the loop after
 * each attempt's outcome, before the message is retried, freed or parked
 * (see above).  cb must not call back into this queue: no
 * deliver_prepare(), _start(), _cancel(), _restore(), _redeliver() nor
 * deliver_free() -- record the outcome, and act on it later.  keep_dead 0:
 * a dead letter is reported and freed, not kept in memory.  Call it once,
 * before the first message.
 */
void		 deliver_set_reporter(struct deliver *,
		    void (*cb)(const struct deliver_report *, void *),
		    void *arg, int keep_dead);

/* Messages held by every participant: prepared, waiting or being sent
 * (dead letters are not pending). */
size_t		 deliver_pending(const struct deliver *);
/* The same for one participant; *bytes (may be NULL) its body bytes. */
size_t		 deliver_pending_of(const struct deliver *,
		    const char *participant, size_t *bytes);
/* Participants' HTTP clients alive (the slices). */
size_t		 deliver_slices(const struct deliver *);

/* ---- dead letters --------------------------------------------------- */

/* What deliver_dead_foreach() shows; valid during the callback only. */
struct deliver_letter {
	const char	*id;		/* its Idempotency-Key */
	const char	*participant;
	const char	*url;
	const char	*action;
	const char	*sender;
	const char	*message_id;	/* NULL when unknown */
	const char	*transaction_id; /* NULL when unknown */
	const char	*body;		/* the exact bytes received */
	size_t		 len;
	int		 attempts;
	int64_t		 first_ms;	/* first attempt (clock ms) */
	int64_t		 dead_ms;	/* parked (clock ms) */
	const char	*reason;	/* the last failure */
};

/*
 * Calls cb for each dead letter, oldest first, until cb returns non-zero
 * (which is returned; else 0).  cb must not change the queue: collect
 * ids, then call deliver_redeliver().
 */
int		 deliver_dead_foreach(const struct deliver *,
		    int (*cb)(const struct deliver_letter *, void *),
		    void *arg);
/* Dead letters kept; *bytes (may be NULL) their body bytes. */
size_t		 deliver_dead_count(const struct deliver *, size_t *bytes);

enum deliver_redo {
	DELIVER_REQUEUED,	/* back in its participant's queue, sending */
	DELIVER_UNKNOWN,	/* no dead letter has that id */
	DELIVER_FULL,		/* its participant's queue is full: later */
};

/*
 * Queue the dead letter whose Idempotency-Key is id again, to the URL it
 * had, with the same Idempotency-Key, its attempts and age starting from
 * zero; the queue limits apply as for a new message.
 */
enum deliver_redo deliver_redeliver(struct deliver *, const char *id);

#endif

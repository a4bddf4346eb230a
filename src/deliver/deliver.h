/*
 * deliver.h - the participant's webhook: verified messages handed to the
 * app, retried until it takes them.
 *
 * The network got its ACK once a message was handed over here, so from
 * then on the message is ours to deliver: connection errors, timeouts,
 * 408, 429 and 5xx answers are retried with exponential backoff and
 * jitter, for as long as the process runs (retries 0) or up to that many
 * retries.  A 4xx answer is the app refusing the message: final, logged
 * with the message ids.  Nothing is dropped silently.
 *
 * Two steps, so that a message the pipeline may still refuse takes a
 * place in the queue without leaving a trace if it is refused:
 *
 *   deliver_prepare()  reserve a place (NULL when the queue is full: the
 *                      caller answers 503); nothing is sent
 *   deliver_start()    hand over the body and send it (after the ACK was
 *                      decided)
 *   deliver_cancel()   give the place back (the message was refused)
 *
 * The body is the exact bytes received from the network: never
 * re-serialised, and sent from the queue's own buffer (no copy).
 *
 * Ownership: the queue owns each delivery from deliver_prepare() until it
 * ends (delivered, refused, dropped after its retries, cancelled or
 * deliver_free()); the caller's pointer is valid until deliver_start() or
 * deliver_cancel() returns and must not be used after.  The HTTP client
 * and the stats are borrowed and must outlive the queue.  Strings in a
 * struct deliver_msg are copied.
 */
#ifndef BECKND_DELIVER_H
#define BECKND_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct http_client;
struct deliver;
struct delivery;

struct deliver_conf {
	int64_t		 timeout_ms;	/* one attempt */
	int		 retries;	/* after the first; 0: forever */
	int64_t		 backoff_ms;	/* first retry delay, then doubled */
	int64_t		 backoff_max_ms;
	size_t		 queue_size;	/* messages held, every participant */
};

struct deliver_stats {
	uint64_t	 delivered;
	uint64_t	 retries;
	uint64_t	 refused;	/* 4xx: the app said no */
	uint64_t	 dropped;	/* retries used up */
};

struct deliver_msg {
	const char	*participant;	/* receiving subscriber id, for logs */
	const char	*webhook;	/* URL; "{action}" is replaced */
	const char	*action;
	const char	*sender;	/* verified sender: X-Beckn-Sender */
	const char	*message_id;	/* may be NULL */
	const char	*transaction_id; /* may be NULL */
};

struct deliver	*deliver_new(struct event_base *, struct http_client *,
		    const struct deliver_conf *, struct deliver_stats *);
/* New settings (SIGHUP): the next attempt of every message uses them. */
void		 deliver_reconfigure(struct deliver *,
		    const struct deliver_conf *);
/* Logs every message not delivered, then frees them. */
void		 deliver_free(struct deliver *);

struct delivery	*deliver_prepare(struct deliver *, const struct deliver_msg *);
void		 deliver_start(struct delivery *, char *body, size_t len);
void		 deliver_cancel(struct delivery *);
/* Messages held: prepared, waiting or being sent. */
size_t		 deliver_pending(const struct deliver *);

#endif

/*
 * deliver_int.h - the delivery queue's insides, shared by deliver.c (the
 * participants' queues and the attempts) and deliver_dead.c (dead
 * letters).  Not for use outside src/deliver.
 *
 * A message (struct delivery) is in exactly one list: its participant's
 * queue (part != NULL; counted in part->n and part->bytes) or the dead
 * letters (part == NULL, state DL_DEAD; counted in d->ndead and
 * d->dead_bytes) -- or, between delivery_unlink() and its next home or
 * delivery_free(), in none (state DL_LOOSE).  Its body, once handed over
 * (or restored), holds a charge of len bytes on d->budget until
 * delivery_free().
 */
#ifndef BECKND_DELIVER_INT_H
#define BECKND_DELIVER_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "beckn/beckn_context.h"
#include "deliver/deliver.h"

enum dl_state {
	DL_PREPARED,	/* place reserved, no body yet */
	DL_SENDING,	/* an attempt is in flight (or in the slice's FIFO) */
	DL_WAITING,	/* retry timer armed */
	DL_DEAD,	/* a dead letter */
	DL_LOOSE,	/* in no list: unlinked, not yet parked or freed */
};

/* Header lines of one message, built once: see deliver.h. */
enum {
	HDR_TYPE, HDR_SENDER, HDR_ACTION, HDR_MID, HDR_TID, HDR_KEY,
	HDR_MAX
};

struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	struct deliver		*d;
	struct dpart		*part;		/* NULL: a dead letter */
	enum dl_state		 state;
	char			*participant;
	char			*url;
	char			*action;
	char			*sender;
	char			*message_id;	/* NULL: unknown */
	char			*transaction_id; /* NULL: unknown */
	char			*key;		/* Idempotency-Key */
	char			*hdr[HDR_MAX];	/* owned; NULL: left out */
	const char		*hdrv[HDR_MAX + 1];	/* the set ones */
	char			*body;		/* NULL until deliver_start() */
	size_t			 len;		/* charged on d->budget */
	size_t			 held;		/* counted in part->bytes */
	int			 attempts;	/* restored ones included */
	int			 aged;		/* first_ms is set */
	int64_t			 first_ms;	/* clock: first attempt */
	int64_t			 sent_ns;	/* monotonic: this attempt */
	int64_t			 elapsed_ns;	/* the last attempt's time */
	int64_t			 dead_ms;
	char			 why[256];	/* the last failure */
	struct event		*retry;
	struct http_client_req	*hreq;
};

TAILQ_HEAD(dlq, delivery);

/* One participant: its queue and its slice of connections. */
struct dpart {
	TAILQ_ENTRY(dpart)	 entry;
	struct deliver		*d;
	char			*id;
	struct dlq		 q;
	size_t			 n;
	size_t			 bytes;
	struct http_client	*http;	/* NULL until its first attempt */
	struct event		*idle;	/* frees it after idle_ms empty */
};

struct deliver {
	struct event_base	*base;
	struct deliver_conf	 conf;
	char			*ca_file;	/* conf.http.ca_file's copy */
	struct deliver_stats	*stats;
	struct budget		*budget;
	const struct clock	*clock;
	TAILQ_HEAD(, dpart)	 parts;
	size_t			 nparts;
	size_t			 n;		/* every participant's */
	size_t			 nslices;
	struct dlq		 dead;		/* oldest first */
	size_t			 ndead;
	size_t			 dead_bytes;
	/* deliver_set_reporter(); report NULL: none */
	void			(*report)(const struct deliver_report *,
				    void *);
	void			*report_arg;
	int			 keep_dead;	/* 0 only with report */
};

/* "-" for a NULL id, in logs. */
#define DL_S(s)		((s) != NULL ? (s) : "-")

/* Participant p's queue, made when absent. */
struct dpart	*dpart_get(struct deliver *, const char *p);
/* Into part's queue (counted) and, unless prepared, an attempt at once. */
void		 delivery_enqueue(struct dpart *, struct delivery *);
/* Out of its queue or the dead letters, uncounted; keeps the body. */
void		 delivery_unlink(struct delivery *);
/* Unlinked, cancelled, the body's charge given back, freed. */
void		 delivery_free(struct delivery *);
void		 delivery_attempt(struct delivery *);
/* To the reporter, if any; status 0: no answer, reason NULL: success. */
void		 delivery_report(const struct delivery *, enum deliver_outcome,
		    int status, const char *reason);

/*
 * deliver_dead.c: dl (unlinked) failed for good (status: HTTP, 0 none):
 * reported, then parked as a dead letter and the caps applied, or freed
 * when the journal keeps dead letters (keep_dead 0).
 */
void		 dead_park(struct delivery *, int status, const char *why);
/* Drop the oldest dead letters while over the caps. */
void		 dead_trim(struct deliver *);
void		 dead_free_all(struct deliver *);

#endif

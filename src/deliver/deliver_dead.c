/*
 * deliver_dead.c - dead letters: messages given up, parked with their
 * bodies for inspection and re-delivery (see deliver.h).
 *
 * One list for every participant, oldest first, bounded by count and by
 * body bytes (conf.dead_max, conf.dead_bytes); a dead letter keeps its
 * body's budget charge until it is dropped, freed or delivered again.
 */
#include "config.h"

#include <sys/queue.h>

#include <string.h>

#include "deliver/deliver_int.h"
#include "util/clock.h"
#include "util/log.h"

void
dead_trim(struct deliver *d)
{
	struct delivery	*dl;

	while ((d->ndead > d->conf.dead_max ||
	    d->dead_bytes > d->conf.dead_bytes) &&
	    (dl = TAILQ_FIRST(&d->dead)) != NULL) {
		log_error("delivery: dead letter %s to %s for %s (message_id "
		    "%s, transaction_id %s, Idempotency-Key %s) dropped: "
		    "more than %zu dead letters or %zu bytes of them",
		    dl->action, dl->url, dl->participant, DL_S(dl->message_id),
		    DL_S(dl->transaction_id), dl->key, d->conf.dead_max,
		    d->conf.dead_bytes);
		d->stats->dropped++;
		delivery_free(dl);
	}
}

void
dead_park(struct delivery *dl, int status, const char *why)
{
	struct deliver	*d = dl->d;

	dl->dead_ms = clock_now_ms(d->clock);
	log_error("delivery: %s to %s for %s (message_id %s, transaction_id "
	    "%s, Idempotency-Key %s) dead-lettered%s after %d attempt%s in "
	    "%lld s: %s", dl->action, dl->url, dl->participant,
	    DL_S(dl->message_id), DL_S(dl->transaction_id), dl->key,
	    d->keep_dead ? "" : " (kept in the journal)",
	    dl->attempts, dl->attempts == 1 ? "" : "s",
	    (long long)((dl->dead_ms - dl->first_ms) / 1000), why);
	d->stats->dead++;
	delivery_report(dl, DELIVER_DEAD, status, why);
	if (!d->keep_dead) {
		delivery_free(dl);	/* DL_LOOSE: in no list */
		return;
	}
	dl->state = DL_DEAD;
	TAILQ_INSERT_TAIL(&d->dead, dl, entry);
	d->ndead++;
	d->dead_bytes += dl->len;
	dead_trim(d);
}

void
dead_free_all(struct deliver *d)
{
	struct delivery	*dl;

	while ((dl = TAILQ_FIRST(&d->dead)) != NULL) {
		/* Reported dead: the journal has it (deliver.h). */
		if (d->report != NULL)
			log_info("delivery: dead letter %s to %s for %s "
			    "(message_id %s, transaction_id %s, "
			    "Idempotency-Key %s) freed at exit; kept in the "
			    "journal", dl->action, dl->url, dl->participant,
			    DL_S(dl->message_id), DL_S(dl->transaction_id),
			    dl->key);
		else
			log_warn("delivery: dead letter %s to %s for %s "
			    "(message_id %s, transaction_id %s, "
			    "Idempotency-Key %s) lost at exit", dl->action,
			    dl->url, dl->participant, DL_S(dl->message_id),
			    DL_S(dl->transaction_id), dl->key);
		delivery_free(dl);
	}
}

int
deliver_dead_foreach(const struct deliver *d,
    int (*cb)(const struct deliver_letter *, void *), void *arg)
{
	const struct delivery	*dl;
	struct deliver_letter	 l;
	int			 rc;

	TAILQ_FOREACH(dl, &d->dead, entry) {
		memset(&l, 0, sizeof(l));
		l.id = dl->key;
		l.participant = dl->participant;
		l.url = dl->url;
		l.action = dl->action;
		l.sender = dl->sender;
		l.message_id = dl->message_id;
		l.transaction_id = dl->transaction_id;
		l.body = dl->body != NULL ? dl->body : "";
		l.len = dl->len;
		l.attempts = dl->attempts;
		l.first_ms = dl->first_ms;
		l.dead_ms = dl->dead_ms;
		l.reason = dl->why;
		if ((rc = cb(&l, arg)) != 0)
			return rc;
	}
	return 0;
}

size_t
deliver_dead_count(const struct deliver *d, size_t *bytes)
{
	if (bytes != NULL)
		*bytes = d->dead_bytes;
	return d->ndead;
}

enum deliver_redo
deliver_redeliver(struct deliver *d, const char *id)
{
	struct delivery	*dl;
	struct dpart	*p;
	size_t		 max = d->conf.queue_bytes;

	TAILQ_FOREACH(dl, &d->dead, entry)
		if (strcmp(dl->key, id) == 0)
			break;
	if (dl == NULL)
		return DELIVER_UNKNOWN;
	p = dpart_get(d, dl->participant);
	if (p->n >= d->conf.queue_size || (p->n > 0 &&
	    (dl->len > max || p->bytes > max - dl->len)))
		return DELIVER_FULL;
	delivery_unlink(dl);
	log_info("delivery: dead letter %s to %s for %s (message_id %s, "
	    "Idempotency-Key %s) queued again after %d attempt%s",
	    dl->action, dl->url, dl->participant, DL_S(dl->message_id),
	    dl->key, dl->attempts, dl->attempts == 1 ? "" : "s");
	d->stats->redelivered++;
	dl->attempts = 0;
	dl->aged = 0;
	dl->first_ms = 0;
	dl->dead_ms = 0;
	dl->why[0] = '\0';
	dl->held = dl->len;
	dl->state = DL_SENDING;
	delivery_enqueue(p, dl);
	return DELIVER_REQUEUED;
}

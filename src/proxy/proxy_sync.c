/*
 * proxy_sync.c - client calls held open (?sync=true) until the callbacks
 * of their message arrive on the network listener.
 *
 * Waiters are few (one per held client call) and short-lived, so they
 * sit in one list; a callback is matched by the participant it was
 * addressed to, its message_id and its action -- message ids are chosen
 * by apps, so two tenants of one process may well use the same one.
 * Callbacks are still delivered to the webhook as usual: a waiter only
 * gets a reference to the parsed body.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "proxy/proxy_int.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

struct sync_wait {
	TAILQ_ENTRY(sync_wait)		 entry;
	struct sync_table		*t;
	char				*participant;
	char				*message_id;
	const struct beckn_action	*expect;
	int				 collect_all;
	int				 answered;	/* first callback in */
	json_object			*responses;
	struct event			*timer;
	sync_done_cb			 done;
	void				*arg;
};

struct sync_table {
	struct event_base		*base;
	TAILQ_HEAD(, sync_wait)		 waits;
};

struct sync_table *
sync_table_new(struct event_base *base)
{
	struct sync_table	*t = xcalloc(1, sizeof(*t));

	t->base = base;
	TAILQ_INIT(&t->waits);
	return t;
}

static void
wait_free(struct sync_wait *w)
{
	TAILQ_REMOVE(&w->t->waits, w, entry);
	event_free(w->timer);
	json_object_put(w->responses);
	free(w->participant);
	free(w->message_id);
	free(w);
}

void
sync_table_free(struct sync_table *t)
{
	struct sync_wait	*w;

	if (t == NULL)
		return;
	while ((w = TAILQ_FIRST(&t->waits)) != NULL)
		wait_free(w);
	free(t);
}

static void
finish(struct sync_wait *w)
{
	sync_done_cb	 done = w->done;
	void		*arg = w->arg;
	json_object	*r = json_object_get(w->responses);

	wait_free(w);
	done(r, arg);
	json_object_put(r);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

struct sync_wait *
sync_wait_start(struct sync_table *t, const char *participant,
    const char *message_id, const struct beckn_action *expect,
    int collect_all, int64_t wait_ms, sync_done_cb done, void *arg)
{
	struct sync_wait	*w;
	struct timeval		 tv;

	w = xcalloc(1, sizeof(*w));
	w->t = t;
	w->participant = xstrdup(participant);
	w->message_id = xstrdup(message_id);
	w->expect = expect;
	w->collect_all = collect_all;
	w->responses = json_object_new_array();
	w->done = done;
	w->arg = arg;
	if ((w->timer = evtimer_new(t->base, timer_cb, w)) == NULL ||
	    w->responses == NULL) {
		fprintf(stderr, "becknd: out of memory\n");
		abort();
	}
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)((wait_ms % 1000) * 1000);
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&t->waits, w, entry);
	return w;
}

void
sync_wait_cancel(struct sync_wait *w)
{
	if (w != NULL)
		wait_free(w);
}

static void
first_cb(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

void
sync_offer(struct sync_table *t, const char *participant,
    const char *message_id, const struct beckn_action *action,
    json_object *body)
{
	struct sync_wait	*w;
	struct timeval		 now = { 0, 0 };

	TAILQ_FOREACH(w, &t->waits, entry) {
		if (w->answered || w->expect != action ||
		    strcmp(w->message_id, message_id) != 0 ||
		    strcmp(w->participant, participant) != 0)
			continue;
		json_object_array_add(w->responses, json_object_get(body));
		if (!w->collect_all) {
			w->answered = 1;
			/* Answer from the loop, not from inside the caller. */
			event_free(w->timer);
			w->timer = xevtimer_new(t->base, first_cb, w);
			evtimer_add(w->timer, &now);
		}
	}
}

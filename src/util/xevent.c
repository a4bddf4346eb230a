/*
 * xevent.c - libevent events that abort on out of memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/xevent.h"

struct event *
xevent_new(struct event_base *base, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	struct event	*ev;

	if ((ev = event_new(base, fd, what, cb, arg)) == NULL) {
		fprintf(stderr, "becknd: cannot allocate an event\n");
		abort();
	}
	return ev;
}

struct event *
xevtimer_new(struct event_base *base, event_callback_fn cb, void *arg)
{
	return xevent_new(base, -1, 0, cb, arg);
}

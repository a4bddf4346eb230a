/*
 * xevent.h - libevent events that cannot fail: like the xmalloc.h
 * wrappers, out of memory aborts (event_new() fails only then), so that
 * no caller carries an error path that can never be tested.
 */
#ifndef BECKND_XEVENT_H
#define BECKND_XEVENT_H

#include <event2/event.h>

struct event	*xevent_new(struct event_base *, evutil_socket_t, short,
		    event_callback_fn, void *);
struct event	*xevtimer_new(struct event_base *, event_callback_fn,
		    void *);

#endif

/*
 * clock.h - an injectable wall clock.
 *
 * Everything that compares against "now" (signature windows, cache ttls,
 * replay windows) takes a struct clock so that tests can move time instead
 * of sleeping.  A NULL clock, or one with a NULL now_ms, is the real
 * CLOCK_REALTIME.
 */
#ifndef BECKND_CLOCK_H
#define BECKND_CLOCK_H

#include <stdint.h>

struct clock {
	int64_t	(*now_ms)(void *arg);
	void	 *arg;
};

int64_t	clock_now_ms(const struct clock *);
int64_t	clock_now_s(const struct clock *);

/* A settable clock for tests: now_ms returns *(int64_t *)arg. */
int64_t	clock_manual_now_ms(void *);

#endif

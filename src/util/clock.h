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

/*
 * The system's clocks in nanoseconds, whatever struct clock a caller
 * uses: real time (CLOCK_REALTIME) for times reported outside (telemetry),
 * monotonic time (CLOCK_MONOTONIC) for durations (latency histograms,
 * backoffs).
 */
int64_t	clock_real_ns(void);
int64_t	clock_mono_ns(void);

#endif

/*
 * clock.c - real and manual clocks.
 */
#include "config.h"

#include <time.h>

#include "util/clock.h"

int64_t
clock_now_ms(const struct clock *c)
{
	struct timespec	 ts;

	if (c != NULL && c->now_ms != NULL)
		return c->now_ms(c->arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_now_s(const struct clock *c)
{
	int64_t	 ms = clock_now_ms(c);

	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int64_t
clock_real_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
clock_mono_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
clock_manual_now_ms(void *arg)
{
	return *(const int64_t *)arg;
}

/*
 * duration.h - durations as written in config files and query strings.
 *
 * Accepted: ISO 8601 durations limited to days and time ("PT30S", "PT1H30M",
 * "P1D", "PT0.5S") and the short form "<number><unit>" with unit ms, s, m,
 * h or d ("10s", "250ms", "5m").  A bare number is seconds.
 */
#ifndef BECKND_DURATION_H
#define BECKND_DURATION_H

#include <stdint.h>

/* Returns 0 and sets *ms, or -1 when s is not a valid non-negative duration. */
int	duration_parse(const char *s, int64_t *ms);

#endif

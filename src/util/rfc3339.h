/*
 * rfc3339.h - RFC 3339 date-times to unix milliseconds.
 *
 * One parser for the two readers that need one: registry records
 * (valid_from, valid_until: lenient, since registries in the wild write
 * "2024-05-01 10:00:00", "…,5" or no zone) and the journal's filters
 * (--since, ?since=: strict, so that a typo is an error, not a guess).
 *
 *   lenient (flags 0): white space around; 'T', 't' or ' ' between date
 *       and time; a fraction after '.' or ','; a zone 'Z', '±hh:mm' or
 *       '±hhmm', or none (UTC)
 *   RFC3339_STRICT: 'T' or 't' only, '.' only, a zone required ('Z' or
 *       '±hh:mm'), nothing around, and no time before 1970
 *
 * Fractions are cut to milliseconds; a leap second (:60) is accepted as
 * the second after :59.  0 and *ms, or -1 (*ms untouched).
 */
#ifndef BECKND_RFC3339_H
#define BECKND_RFC3339_H

#include <stdint.h>

#define RFC3339_STRICT	0x01

int	rfc3339_parse(const char *s, int flags, int64_t *ms);

#endif

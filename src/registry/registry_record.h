/*
 * registry_record.h - subscriber records: parsing, filtering.
 *
 * Internal to src/registry (matching, registry_record_check(), and the
 * record set are public in registry.h).  Parsing never fails because of
 * one bad record: malformed elements are skipped with a log line.  It
 * fails (-1) only when the text is not JSON or not an array.
 */
#ifndef BECKND_REGISTRY_RECORD_H
#define BECKND_REGISTRY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/*
 * Parse a JSON array of subscriber records from buf (len bytes; need not
 * be NUL-terminated).  what names the source in log lines.  Returns a set
 * (refcnt 1), or NULL with a reason in err.
 */
struct registry_recset	*registry_recset_parse(const char *buf, size_t len,
			    const char *what, char *err, size_t errlen);
/*
 * The records of set that m matches (registry_record_check() says
 * REGISTRY_MATCH), in order; a new set, refcnt 1.
 */
struct registry_recset	*registry_recset_filter(const struct registry_recset *,
			    const struct registry_match *m);

/* RFC 3339 date-time to Unix milliseconds. 0 or -1. */
int	registry_time_parse(const char *, int64_t *ms);

#endif

/*
 * registry_record.h - subscriber records: parsing, filtering, usability.
 *
 * Internal to src/registry.  Parsing never fails because of one bad
 * record: malformed elements are skipped with a log line.  It fails (-1)
 * only when the text is not JSON or not an array.
 */
#ifndef BECKND_REGISTRY_RECORD_H
#define BECKND_REGISTRY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* A lookup filter; NULL fields do not constrain. */
struct registry_filter {
	const char	*subscriber_id;
	const char	*key_id;	/* a record without a key id matches */
	const char	*type;
	const char	*domain;
};

/* A refcounted, immutable array of records. */
struct registry_recset {
	int			 refcnt;
	struct registry_record	**recs;
	size_t			 n;
};

/*
 * Parse a JSON array of subscriber records from buf (len bytes; need not
 * be NUL-terminated).  what names the source in log lines.  Returns a set
 * (refcnt 1), or NULL with a reason in err.
 */
struct registry_recset	*registry_recset_parse(const char *buf, size_t len,
			    const char *what, char *err, size_t errlen);
/* The records of set matching f, in order (a new set, refcnt 1). */
struct registry_recset	*registry_recset_filter(const struct registry_recset *,
			    const struct registry_filter *);
struct registry_recset	*registry_recset_ref(struct registry_recset *);
void			 registry_recset_unref(struct registry_recset *);

int	registry_record_match(const struct registry_record *,
	    const struct registry_filter *);
/*
 * 1 when the record may be used at now_ms (status SUBSCRIBED or absent,
 * now inside [valid_from, valid_until), and a parsed signing key when
 * need_key); else 0 and a reason in why.
 */
int	registry_record_usable(const struct registry_record *, int64_t now_ms,
	    int need_key, char *why, size_t whylen);

/* RFC 3339 date-time to Unix milliseconds. 0 or -1. */
int	registry_time_parse(const char *, int64_t *ms);

#endif

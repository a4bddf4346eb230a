/*
 * registry.h - network registry lookups on the event loop.
 *
 * Answers "which public key does subscriber S use under key id K" and
 * "which gateways / participants serve domain D" from either a Beckn
 * registry (POST {url}/lookup, libcurl multi driven by the libevent loop)
 * or a JSON file holding the same subscriber array.
 *
 * Contract:
 *   - Nothing here blocks the event loop once registry_new() returned
 *     (registry_new() and registry_reload() read the file in file mode;
 *     call them at start-up and from the SIGHUP handler, not per message).
 *   - Callbacks ALWAYS run later from the event loop, never from inside
 *     the registry_lookup_*() call, even for cache hits.  A callback runs
 *     exactly once unless registry_cancel() was called first.
 *   - The struct registry_req returned by a lookup is valid until its
 *     callback starts or registry_cancel() returns; do not touch it after.
 *     registry_cancel() guarantees the callback will not run.
 *   - Do not call registry_free() from a callback; lookups and cancels of
 *     other requests from a callback are fine.
 *   - URL mode keeps an in-process LRU cache (registry_cache.h):
 *     positive answers live min(cache_ttl, time left to valid_until),
 *     negative ones negative_ttl; concurrent lookups of one key share one
 *     HTTP request; when the registry is unreachable, times out or answers
 *     5xx, an answer expired less than stale_ttl ago is used (stale = 1,
 *     a warning is logged); after such a failure, stale answers are served
 *     for negative_ttl without asking again, so that lookups do not each
 *     wait for a dead registry's timeout.  File mode answers from the
 *     loaded file; there is nothing to cache and nothing to go stale.
 *   - Records are refcounted and immutable.  Pointers in a result are
 *     valid during the callback only; take registry_record_ref() to keep
 *     a record (and its parsed key) longer, registry_record_unref() after.
 *   - Matching: one function, registry_record_check() below, decides
 *     for the key lookups, the list lookups, the /lookup server
 *     (src/lookup) and the proxy's type and domain checks.  A key lookup
 *     asks by subscriber_id and key id only and answers every usable
 *     record of that pair, whatever its type and domain: one key id may
 *     be registered for several domains or types, and only the caller
 *     knows which one the message needs.  List lookups match type
 *     (case-insensitively), domain and subscriber_id when given.
 *   - Every "now" comes from the struct clock given to registry_new()
 *     (validity windows, ttls, the forced-refresh rate limit, the miss
 *     buckets), so tests move time instead of sleeping.  Network timeouts
 *     are real time.
 *
 * Flood resistance (URL mode; file mode answers everything from memory
 * and limits nothing):
 *   - Two tables.  Positive answers (a usable record when fetched) live in
 *     the cache (cache_size entries, LRU); every other answer (not found,
 *     not usable) in the negative table (negative_cache_size entries,
 *     LRU).  A negative answer never evicts a positive one, so a flood of
 *     unknown key ids leaves the known keys and their stale-if-error
 *     fallback in place.  A fetched answer replaces the key's entry in
 *     the other table.
 *   - Known and unknown.  A key lookup the cache answers, or that
 *     refreshes a key in the cache (expired, or REGISTRY_FORCE_REFRESH),
 *     is "known": it is never limited and never waits behind a miss.
 *     List lookups (gateways, participants) count as known: their
 *     callers are our own or authenticated.  A key lookup that neither
 *     table answers is a "miss".
 *   - Limits on misses, by who asked: peer is the address of the network
 *     request (http_request_peer()), NULL for internal callers, which are
 *     never limited.  Each peer address (an IPv6 address counts as its
 *     /64) and each subscriber id has a bucket of miss_burst tokens,
 *     refilled at miss_rate per second; a miss takes one token from each.
 *     An empty bucket, miss_queue misses of the address already waiting,
 *     or miss_table_size addresses all busy: REGISTRY_LIMITED at once,
 *     with retry_after_s, never queued.  A miss that joins a request
 *     already sent for the same key costs a token but no queue place.
 *   - Fair queue.  At most max_inflight misses are sent at once, and one
 *     address holds at most max_inflight / 2 of them (at least 1).  The
 *     next miss sent is the oldest of the waiting address with the fewest
 *     misses in flight, ties in round-robin order (an address served, or
 *     new, goes to the back).  A miss queued by one address and asked by
 *     another waits in both queues and goes at the first turn.
 *     Bound: a miss of an address with nothing in flight goes before
 *     every miss of the addresses with misses in flight, so a new peer's
 *     first miss waits for at most W other misses, W the number of other
 *     addresses waiting with nothing in flight, i.e. for at most
 *     ceil((W + 1) / max_inflight) lookup times (each at most
 *     timeout_ms).  With one flooding address and max_inflight >= 2,
 *     W = 0 and a slot is free: it is sent at once, whatever the flood
 *     has queued.
 *   - Known lookups have max_inflight transfer slots of their own (the
 *     HTTP client runs 2 * max_inflight), and a miss is only sent when a
 *     transfer slot is free, so misses never queue in front of them: a
 *     known lookup waits only when max_inflight known lookups already
 *     run.
 *   - Memory: cache_size + negative_cache_size answers; at most
 *     miss_table_size address entries, each with at most miss_queue
 *     waiting lookups, and miss_table_size subscriber entries (idle
 *     entries evicted least recently used first); ids and filters longer
 *     than REGISTRY_ID_MAX bytes are answered NOT_FOUND without asking or
 *     caching.
 */
#ifndef BECKND_REGISTRY_H
#define BECKND_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct clock;
struct sig_key;

struct registry_conf {
	char		*url;		/* registry base URL; lookups POST {url}/lookup */
	char		*file;		/* or: JSON file holding the subscriber array */
	int64_t		 cache_ttl_ms;	/* default 300 s */
	int64_t		 negative_ttl_ms; /* default 10 s */
	int64_t		 stale_ttl_ms;	/* default 1 h */
	int64_t		 timeout_ms;	/* whole lookup, default 5 s */
	int64_t		 connect_timeout_ms; /* default 2 s */
	size_t		 cache_size;	/* entries, default 10000 */
	int		 max_inflight;	/* concurrent misses, default 64 */
	int		 tls_verify;	/* default 1 */
	char		*ca_file;	/* optional CA bundle */
	/* Added by the registry module: */
	int64_t		 refresh_interval_ms; /* forced refresh, per key, default 5 s */
	/* Flood resistance (see the contract above): */
	size_t		 negative_cache_size; /* default 10000 */
	int		 miss_rate;	/* misses per second, per address and
					 * per subscriber id; default 20 */
	int		 miss_burst;	/* default 100 */
	int		 miss_queue;	/* waiting misses per address; 16 */
	size_t		 miss_table_size; /* addresses / subscribers tracked;
					 * 4096 (no configuration key) */
};

#define REGISTRY_CACHE_TTL_MS		(300 * 1000)
#define REGISTRY_NEGATIVE_TTL_MS	(10 * 1000)
#define REGISTRY_STALE_TTL_MS		(3600 * 1000)
#define REGISTRY_TIMEOUT_MS		(5 * 1000)
#define REGISTRY_CONNECT_TIMEOUT_MS	(2 * 1000)
#define REGISTRY_CACHE_SIZE		10000
#define REGISTRY_MAX_INFLIGHT		64
#define REGISTRY_REFRESH_INTERVAL_MS	(5 * 1000)
#define REGISTRY_NEGATIVE_CACHE_SIZE	10000
#define REGISTRY_MISS_RATE		20
#define REGISTRY_MISS_BURST		100
#define REGISTRY_MISS_QUEUE		16
#define REGISTRY_MISS_TABLE_SIZE	4096

/* Longest id or filter looked up (the signature parser's SIG_ID_MAX - 1). */
#define REGISTRY_ID_MAX			255

void	registry_conf_defaults(struct registry_conf *);
void	registry_conf_clear(struct registry_conf *);	/* frees strings */

/*
 * One subscriber record as the registry (or file) gave it.  Absent string
 * fields are NULL.  valid_from_ms / valid_until_ms are INT64_MIN /
 * INT64_MAX when absent.  key is the parsed signing_public_key, NULL when
 * absent or unparseable.  json is the whole record as a JSON object, every
 * member kept (json-c plain serialisation, '/' not escaped), made once at
 * parse time so that the /lookup server answers without serialising.
 * Immutable once published.
 */
struct registry_record {
	int		 refcnt;
	char		*subscriber_id;
	char		*url;		/* subscriber_url or url */
	char		*type;		/* BAP, BPP, BG, ... */
	char		*domain;
	char		*key_id;	/* ukId, unique_key_id, key_id, pub_key_id */
	char		*signing_public_key;
	char		*encr_public_key;
	char		*status;
	char		*valid_from;	/* as written */
	char		*valid_until;
	int64_t		 valid_from_ms;
	int64_t		 valid_until_ms;
	struct sig_key	*key;
	char		*json;
};

struct registry_record	*registry_record_ref(struct registry_record *);
void			 registry_record_unref(struct registry_record *);

/*
 * What a record must be.  NULL strings match anything.
 *   subscriber_id	compared byte for byte.
 *   key_id		compared byte for byte; a record without a key id
 *			matches any (registries that filter server-side
 *			omit it).
 *   type		compared case-insensitively ("bpp" is "BPP"); a
 *			record without a type matches no type.
 *   domain		compared byte for byte; a record without a domain
 *			covers every domain.
 * Unless any_status, a matching record must also be usable at now_ms:
 * status SUBSCRIBED (or absent), valid_from <= now_ms < valid_until, and
 * a parsed signing key when need_key.
 */
struct registry_match {
	const char	*subscriber_id;
	const char	*key_id;
	const char	*type;
	const char	*domain;
	int64_t		 now_ms;
	int		 need_key;
	int		 any_status;
};

enum registry_verdict {
	REGISTRY_MATCH = 0,
	REGISTRY_OTHER,		/* a field differs: another record */
	REGISTRY_UNUSABLE,	/* the record asked for, but not usable now */
};

/*
 * The verdict on r, and unless REGISTRY_MATCH a reason in why (may be
 * NULL), e.g. "registered as BPP, not BAP", "registered for domain
 * onest:x, not onest:y", "key id k2, not k1", "status is EXPIRED, not
 * SUBSCRIBED".  Fields are checked in the order subscriber_id, key_id,
 * type, domain, then usability; why names the first that fails.
 */
enum registry_verdict registry_record_check(const struct registry_record *,
		    const struct registry_match *, char *why, size_t whylen);

/* A refcounted, immutable array of records. */
struct registry_recset {
	int			 refcnt;
	struct registry_record	**recs;
	size_t			 n;
};

/*
 * The records of a registry file, through the same parser and checks as
 * registry.file (malformed records are skipped with a log line).  Blocking
 * I/O: start-up and SIGHUP only.  A set (refcnt 1), or NULL and
 * "path: reason" in err.
 */
struct registry_recset	*registry_records_load(const char *path, char *err,
			    size_t errlen);
struct registry_recset	*registry_recset_ref(struct registry_recset *);
void			 registry_recset_unref(struct registry_recset *);

enum registry_status {
	REGISTRY_OK = 0,
	REGISTRY_NOT_FOUND,	/* no such subscriber / key / gateway */
	REGISTRY_NOT_USABLE,	/* found, but status or validity excludes it */
	REGISTRY_UNAVAILABLE,	/* registry failed and nothing usable cached */
	/*
	 * A miss over its limits (see above): "too many unknown keys from
	 * this address; retry later".  Nothing was asked or cached; the
	 * caller answers 503 with Retry-After: retry_after_s.
	 */
	REGISTRY_LIMITED,
};

enum registry_source {
	REGISTRY_SRC_CACHE = 0,
	REGISTRY_SRC_REGISTRY,	/* fetched for this lookup */
	REGISTRY_SRC_FILE,
};

struct registry_result {
	enum registry_status	 status;
	enum registry_source	 source;
	int			 stale;	/* served past its ttl (registry down) */
	/* Why not OK (and for OK with stale set, why stale); never NULL. */
	const char		*reason;
	/*
	 * Key lookups: the first usable record (OK), or the first record
	 * that was rejected (NOT_USABLE), else NULL.  When OK, record->key is
	 * non-NULL.  Callers that care about type or domain pick from
	 * records instead.
	 */
	struct registry_record	*record;
	/*
	 * OK only: the usable records, in registry order.  Key lookups: every
	 * usable record of the subscriber and key id (any type, any domain;
	 * records[0] == record; each has a key).  Gateway / participant
	 * lookups: the usable records matching the query.
	 */
	struct registry_record	*const *records;
	size_t			 nrecords;
	/* LIMITED only: seconds until a retry may pass (>= 1); else 0. */
	int			 retry_after_s;
};

typedef void	(*registry_cb)(const struct registry_result *, void *arg);

struct registry;
struct registry_req;

/* Flags for registry_lookup_key(). */
#define REGISTRY_FORCE_REFRESH	0x01	/* bypass a cached key (rate limited) */

/*
 * conf and clock are copied/borrowed: conf is copied, clock (may be NULL:
 * real time) must outlive the registry.  Returns NULL and a reason in err
 * when conf names neither url nor file, or the file cannot be loaded.
 */
struct registry	*registry_new(struct event_base *, const struct registry_conf *,
		    const struct clock *, char *err, size_t errlen);
/* Cancels every pending request without calling back. */
void		 registry_free(struct registry *);
/*
 * SIGHUP.  File mode: re-read the file; on error keep the previous
 * records and return -1.  URL mode: nothing to do (entries expire on
 * their own; the forced refresh handles key rotation); returns 0.
 */
int		 registry_reload(struct registry *);
/* File mode: the loaded records (borrowed; take a reference to keep
 * them).  URL mode: NULL. */
struct registry_recset *registry_records(const struct registry *);

/*
 * The record holding subscriber_id's key key_id.  REGISTRY_FORCE_REFRESH:
 * the caller's verification with a cached key failed; ask the registry
 * again unless this key was force-refreshed less than refresh_interval
 * ago (then answer from the cache); a cached negative answer is served as
 * it is.  File mode ignores the flag: the loaded file is the truth until
 * registry_reload().  peer: the address the request came from
 * (http_request_peer()), whose misses are limited; NULL for internal
 * callers (not limited).  Returns NULL only on bad arguments (then there
 * is no callback).
 */
struct registry_req *registry_lookup_key(struct registry *,
		    const char *subscriber_id, const char *key_id, int flags,
		    const char *peer, registry_cb, void *arg);
/* Usable gateways (type BG) of domain (or of every domain). */
struct registry_req *registry_lookup_gateways(struct registry *,
		    const char *domain, registry_cb, void *arg);
/*
 * Usable participants; type, domain and subscriber_id may each be NULL.
 * type is asked for upper-case (the registries' spelling) and matched
 * case-insensitively, so "bpp" and "BPP" share one cache entry.
 */
struct registry_req *registry_lookup_participants(struct registry *,
		    const char *type, const char *domain,
		    const char *subscriber_id, registry_cb, void *arg);
void		 registry_cancel(struct registry_req *);

/* Counters and table sizes, for tests and the proxy's counters. */
struct registry_stats {
	size_t		 positive;	/* cache entries */
	size_t		 negative;	/* negative table entries */
	size_t		 peers;		/* address entries */
	size_t		 subscribers;	/* subscriber entries */
	size_t		 queued;	/* misses waiting in the fair queue */
	int		 inflight_misses;
	size_t		 flights;	/* distinct lookups queued or sent */
	uint64_t	 limited;	/* lookups answered REGISTRY_LIMITED */
	/* Lookups answered from the cache (fresh), fetched from the
	 * registry (or failed there), and answered stale (registry down). */
	uint64_t	 hits, misses, stale;
	/* Registry answers with a status below 500 (it is up). */
	uint64_t	 answered;
	int		 file;		/* file mode: never asks */
};
void		 registry_stats(const struct registry *,
		    struct registry_stats *);

const char	*registry_status_name(enum registry_status);
const char	*registry_source_name(enum registry_source);

#endif

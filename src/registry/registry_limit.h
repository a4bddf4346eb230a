/*
 * registry_limit.h - admission of lookups of keys the cache does not know
 * ("misses"): token buckets per peer address and per subscriber id, and
 * the fair queue in front of the registry.
 *
 * Internal to src/registry (registry.c is the only user); the policy is
 * described for callers in registry.h.  This file knows nothing about
 * flights or HTTP: it admits items, queues them per peer and says which
 * item may start next.
 *
 * Contract:
 *   - A peer is an address string as http_request_peer() gives it.  IPv4
 *     addresses count one by one; an IPv6 address counts as its /64 (one
 *     host's usual share) and an IPv4-mapped IPv6 address as the IPv4
 *     address.  Anything else counts as the string itself.  NULL is an
 *     internal caller: never limited, queued in a peer of its own.
 *   - Buckets: each peer and each subscriber id has a bucket of `burst`
 *     tokens refilled at `rate` per second (the clock given to
 *     misses_new(): tests move time).  An admitted miss takes one token
 *     from both; a refused one takes none.
 *   - Queue: at most queue_max items wait per peer.  misses_next() picks
 *     among the peers with waiting items the one with the fewest misses
 *     in flight, ties in round-robin order (the peer served goes to the
 *     back), skipping peers that already hold slots / 2 (at least 1) in
 *     flight; at most `slots` run at once.  So one peer never holds every
 *     slot (when slots >= 2), and a peer with nothing in flight is served
 *     at the next free slot, whatever the others have queued.
 *   - Memory: each table (peers, subscribers) holds at most table_max
 *     entries.  A new entry evicts the least recently used idle entry of
 *     its table (a subscriber entry is always idle; a peer is idle with
 *     nothing queued and nothing in flight).  When every peer entry is
 *     busy, a new peer is refused (MISS_TABLE_FULL).  Keys are the
 *     caller's strings: callers bound their length.
 *   - Items are embedded in the caller's requests; the caller keeps them
 *     alive while queued and removes them (misses_unqueue()) before
 *     freeing.  misses_free() drops the queues without touching items.
 */
#ifndef BECKND_REGISTRY_LIMIT_H
#define BECKND_REGISTRY_LIMIT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

struct clock;

struct miss_conf {
	int64_t		 rate;		/* tokens per second, >= 1 */
	int64_t		 burst;		/* bucket size, >= 1 */
	size_t		 queue_max;	/* waiting items per peer, >= 1 */
	size_t		 table_max;	/* entries per table, >= 1 */
	int		 slots;		/* misses in flight, >= 1 */
};

struct miss_peer;

struct miss_item {
	TAILQ_ENTRY(miss_item)	 entry;
	struct miss_peer	*peer;		/* queued under, or NULL */
};

enum miss_verdict {
	MISS_OK = 0,
	MISS_ADDRESS_RATE,	/* the peer's bucket is empty */
	MISS_SUBSCRIBER_RATE,	/* the subscriber id's bucket is empty */
	MISS_QUEUE_FULL,	/* queue_max items of the peer wait */
	MISS_TABLE_FULL,	/* table_max peers are busy */
};

struct miss_stats {
	size_t		 peers;		/* entries of the peer table */
	size_t		 subscribers;	/* entries of the subscriber table */
	size_t		 queued;	/* items waiting, all peers */
	int		 inflight;	/* misses in flight, all peers */
};

struct misses	*misses_new(const struct miss_conf *, const struct clock *);
void		 misses_free(struct misses *);

/*
 * Admit one miss of peer for subscriber_id.  item NULL: the lookup joins
 * a request already under way (charged, not queued); otherwise item is
 * queued under the peer on MISS_OK.  Refused: nothing is charged, and
 * *retry_ms is how long until a retry may pass (>= 1).
 */
enum miss_verdict misses_admit(struct misses *, const char *peer,
		    const char *subscriber_id, struct miss_item *item,
		    int64_t *retry_ms);
/* Take a waiting item out of its queue; no-op when it is not queued. */
void		 misses_unqueue(struct misses *, struct miss_item *);
/*
 * The next item to start, taken out of its queue and counted in flight
 * for its peer (*charged), or NULL when no slot is free or nothing may
 * start.  Give the slot back with misses_finished(*charged).
 */
struct miss_item *misses_next(struct misses *, struct miss_peer **charged);
void		 misses_finished(struct misses *, struct miss_peer *);
void		 misses_stats(const struct misses *, struct miss_stats *);

/* The table key of a peer address (see above) into buf. */
void		 misses_peer_key(const char *peer, char *buf, size_t len);

#endif

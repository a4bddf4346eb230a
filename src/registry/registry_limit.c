/*
 * registry_limit.c - token buckets per peer and per subscriber id, and the
 * fair queue of misses (see registry_limit.h).
 *
 * Both tables are the same structure: a chained hash table with a keyed
 * hash (the keys are chosen by whoever sends us requests) and a list of
 * the idle entries in least recently used order, from which a new entry
 * evicts.  Peers with waiting items are also on a ring, the round-robin
 * order of the fair queue.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry_limit.h"
#include "util/clock.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

#define MILLI		1000	/* a token, in thousandths */
#define BUCKETS_MAX	((size_t)1 << 20)

struct miss_peer {
	char			*key;
	uint64_t		 hash;
	struct miss_peer	*next;		/* bucket chain */
	int64_t			 mtokens;	/* thousandths of a token */
	int64_t			 last_ms;	/* of the last refill */
	TAILQ_HEAD(, miss_item)	 queue;
	size_t			 nqueued;
	int			 inflight;
	int			 idle;		/* on the table's idle list */
	int			 ringed;	/* on the fair queue's ring */
	TAILQ_ENTRY(miss_peer)	 lru;		/* idle list, head: recent */
	TAILQ_ENTRY(miss_peer)	 ring;
};

TAILQ_HEAD(peer_list, miss_peer);

struct table {
	struct miss_peer	**buckets;
	size_t			 nbuckets;	/* power of two */
	size_t			 count;
	size_t			 max;
	struct siphash_key	 key;
	struct peer_list	 idle;
};

struct misses {
	struct miss_conf	 conf;
	const struct clock	*clock;
	struct table		 peers;
	struct table		 subs;
	struct miss_peer	 internal;	/* the NULL peer */
	struct peer_list	 ring;
	size_t			 queued;
	int			 inflight;
	int			 peer_cap;	/* in flight per peer */
};

static void
table_init(struct table *t, size_t max)
{
	t->max = max;
	t->nbuckets = 16;
	while (t->nbuckets < max && t->nbuckets < BUCKETS_MAX)
		t->nbuckets *= 2;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	if (siphash_key_random(&t->key) != 0) {
		t->key.k[0] = (uint64_t)time(NULL);
		t->key.k[1] = (uint64_t)(uintptr_t)t;
	}
	TAILQ_INIT(&t->idle);
}

static struct miss_peer **
table_find(struct table *t, const char *key, uint64_t h)
{
	struct miss_peer	**pp;

	for (pp = &t->buckets[h & (t->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

static void
entry_free(struct table *t, struct miss_peer **pp)
{
	struct miss_peer	*p = *pp;

	*pp = p->next;
	if (p->idle)
		TAILQ_REMOVE(&t->idle, p, lru);
	t->count--;
	free(p->key);
	free(p);
}

/*
 * The entry of key, made (with a full bucket) when absent.  NULL when the
 * table is full and no entry is idle.  A found idle entry becomes the most
 * recently used.
 */
static struct miss_peer *
table_get(struct table *t, const char *key, int64_t now, int64_t burst)
{
	uint64_t		 h = siphash24(&t->key, key, strlen(key));
	struct miss_peer	**pp = table_find(t, key, h), *p, *old;

	if ((p = *pp) != NULL) {
		if (p->idle) {
			TAILQ_REMOVE(&t->idle, p, lru);
			TAILQ_INSERT_HEAD(&t->idle, p, lru);
		}
		return p;
	}
	if (t->count >= t->max) {
		if ((old = TAILQ_LAST(&t->idle, peer_list)) == NULL)
			return NULL;
		entry_free(t, table_find(t, old->key, old->hash));
		pp = table_find(t, key, h);
	}
	p = xcalloc(1, sizeof(*p));
	p->key = xstrdup(key);
	p->hash = h;
	p->mtokens = burst * MILLI;
	p->last_ms = now;
	TAILQ_INIT(&p->queue);
	p->next = *pp;
	*pp = p;
	p->idle = 1;
	TAILQ_INSERT_HEAD(&t->idle, p, lru);
	t->count++;
	return p;
}

static void
table_clear(struct table *t)
{
	size_t	 i;

	for (i = 0; i < t->nbuckets; i++)
		while (t->buckets[i] != NULL)
			entry_free(t, &t->buckets[i]);
	free(t->buckets);
}

/* The peer's table (NULL for the internal peer). */
static struct table *
table_of(struct misses *m, struct miss_peer *p)
{
	return p == &m->internal ? NULL : &m->peers;
}

/* On or off the idle list as the peer's work says. */
static void
peer_settle(struct misses *m, struct miss_peer *p)
{
	struct table	*t = table_of(m, p);
	int		 busy = p->nqueued > 0 || p->inflight > 0;

	if (t == NULL)
		return;
	if (busy && p->idle) {
		TAILQ_REMOVE(&t->idle, p, lru);
		p->idle = 0;
	} else if (!busy && !p->idle) {
		TAILQ_INSERT_HEAD(&t->idle, p, lru);
		p->idle = 1;
	}
}

static void
refill(const struct misses *m, struct miss_peer *p, int64_t now)
{
	int64_t	 cap = m->conf.burst * MILLI, el;

	if (now > p->last_ms) {
		el = now - p->last_ms;
		if (el > cap / m->conf.rate + 1)
			p->mtokens = cap;
		else
			p->mtokens += el * m->conf.rate;
		if (p->mtokens > cap)
			p->mtokens = cap;
	}
	/* A clock set back refills nothing until it passes last_ms again. */
	p->last_ms = now;
}

/* Milliseconds until the bucket holds a whole token. */
static int64_t
token_wait(const struct misses *m, const struct miss_peer *p)
{
	int64_t	 need = MILLI - p->mtokens;

	if (need <= 0)
		return 1;
	return (need + m->conf.rate - 1) / m->conf.rate;
}

struct misses *
misses_new(const struct miss_conf *conf, const struct clock *clock)
{
	struct misses	*m;

	m = xcalloc(1, sizeof(*m));
	m->conf = *conf;
	if (m->conf.rate < 1)
		m->conf.rate = 1;
	if (m->conf.burst < 1)
		m->conf.burst = 1;
	if (m->conf.queue_max < 1)
		m->conf.queue_max = 1;
	if (m->conf.table_max < 1)
		m->conf.table_max = 1;
	if (m->conf.slots < 1)
		m->conf.slots = 1;
	m->peer_cap = m->conf.slots / 2 > 0 ? m->conf.slots / 2 : 1;
	m->clock = clock;
	table_init(&m->peers, m->conf.table_max);
	table_init(&m->subs, m->conf.table_max);
	TAILQ_INIT(&m->internal.queue);
	TAILQ_INIT(&m->ring);
	return m;
}

void
misses_free(struct misses *m)
{
	if (m == NULL)
		return;
	table_clear(&m->peers);
	table_clear(&m->subs);
	free(m);
}

static void
enqueue(struct misses *m, struct miss_peer *p, struct miss_item *item)
{
	TAILQ_INSERT_TAIL(&p->queue, item, entry);
	item->peer = p;
	p->nqueued++;
	m->queued++;
	if (!p->ringed) {
		TAILQ_INSERT_TAIL(&m->ring, p, ring);
		p->ringed = 1;
	}
	peer_settle(m, p);
}

/* Out of its queue; the caller settles the peer. */
static struct miss_peer *
dequeue(struct misses *m, struct miss_item *item)
{
	struct miss_peer	*p = item->peer;

	TAILQ_REMOVE(&p->queue, item, entry);
	item->peer = NULL;
	p->nqueued--;
	m->queued--;
	if (p->nqueued == 0 && p->ringed) {
		TAILQ_REMOVE(&m->ring, p, ring);
		p->ringed = 0;
	}
	return p;
}

enum miss_verdict
misses_admit(struct misses *m, const char *peer, const char *subscriber_id,
    struct miss_item *item, int64_t *retry_ms)
{
	struct miss_peer	*p, *s = NULL;
	int64_t			 now;
	char			 key[INET6_ADDRSTRLEN + 8];

	*retry_ms = 0;
	if (peer == NULL) {
		if (item != NULL)
			enqueue(m, &m->internal, item);
		return MISS_OK;
	}
	now = clock_now_ms(m->clock);
	misses_peer_key(peer, key, sizeof(key));
	if ((p = table_get(&m->peers, key, now, m->conf.burst)) == NULL) {
		*retry_ms = 1000;
		return MISS_TABLE_FULL;
	}
	refill(m, p, now);
	if (p->mtokens < MILLI) {
		*retry_ms = token_wait(m, p);
		return MISS_ADDRESS_RATE;
	}
	if (item != NULL && p->nqueued >= m->conf.queue_max) {
		*retry_ms = 1000;
		return MISS_QUEUE_FULL;
	}
	if (subscriber_id != NULL) {
		/* Never NULL: subscriber entries are always idle. */
		s = table_get(&m->subs, subscriber_id, now, m->conf.burst);
		refill(m, s, now);
		if (s->mtokens < MILLI) {
			*retry_ms = token_wait(m, s);
			return MISS_SUBSCRIBER_RATE;
		}
		s->mtokens -= MILLI;
	}
	p->mtokens -= MILLI;
	if (item != NULL)
		enqueue(m, p, item);
	return MISS_OK;
}

void
misses_unqueue(struct misses *m, struct miss_item *item)
{
	if (item->peer != NULL)
		peer_settle(m, dequeue(m, item));
}

struct miss_item *
misses_next(struct misses *m, struct miss_peer **charged)
{
	struct miss_peer	*p, *best = NULL;
	struct miss_item	*item;

	*charged = NULL;
	if (m->inflight >= m->conf.slots)
		return NULL;
	TAILQ_FOREACH(p, &m->ring, ring) {
		if (p != &m->internal && p->inflight >= m->peer_cap)
			continue;
		if (best == NULL || p->inflight < best->inflight)
			best = p;
		if (best->inflight == 0)
			break;
	}
	if (best == NULL)
		return NULL;
	item = TAILQ_FIRST(&best->queue);
	dequeue(m, item);
	best->inflight++;
	m->inflight++;
	/* Round-robin: the peer just served goes to the back. */
	if (best->ringed) {
		TAILQ_REMOVE(&m->ring, best, ring);
		TAILQ_INSERT_TAIL(&m->ring, best, ring);
	}
	peer_settle(m, best);
	*charged = best;
	return item;
}

void
misses_finished(struct misses *m, struct miss_peer *p)
{
	if (p == NULL)
		return;
	p->inflight--;
	m->inflight--;
	peer_settle(m, p);
}

void
misses_stats(const struct misses *m, struct miss_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->peers = m->peers.count;
	st->subscribers = m->subs.count;
	st->queued = m->queued;
	st->inflight = m->inflight;
}

void
misses_peer_key(const char *peer, char *buf, size_t len)
{
	struct in6_addr	 a6;
	char		 s[INET6_ADDRSTRLEN];

	if (strchr(peer, ':') != NULL && inet_pton(AF_INET6, peer, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			if (inet_ntop(AF_INET, &a6.s6_addr[12], s,
			    sizeof(s)) != NULL) {
				snprintf(buf, len, "%s", s);
				return;
			}
		} else {
			memset(&a6.s6_addr[8], 0, 8);
			if (inet_ntop(AF_INET6, &a6, s, sizeof(s)) != NULL) {
				snprintf(buf, len, "%s/64", s);
				return;
			}
		}
	}
	snprintf(buf, len, "%s", peer);
}

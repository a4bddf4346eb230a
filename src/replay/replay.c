/*
 * replay.c - fixed-size replay cache: linear-probing index over a slab of
 * entries, plus a binary min-heap of expiries for reclamation.
 *
 * Entries never move in the slab, so the heap and the index can both
 * point at them by number: the index shifts slots on delete (backward
 * shift, no tombstones, so probes stay short), the heap swaps nodes, and
 * each entry remembers its heap position for the re-arm case.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "replay/replay.h"
#include "replay/replay_hash.h"
#include "util/clock.h"
#include "util/xmalloc.h"

/*
 * Expired entries freed per call.  Any value >= 2 keeps up with one insert
 * per call; a few more drain a backlog after a quiet spell faster without
 * making any single call expensive.
 */
#define RECLAIM_BATCH	4

struct slot {
	uint32_t	 idx1;		/* entry number + 1; 0 = empty */
	uint32_t	 tag;		/* low 32 bits of h[0]: home slot */
};

struct entry {
	uint64_t	 h[2];
	int64_t		 expires;
	uint32_t	 hpos;		/* heap position; free-list link */
};

struct hnode {
	int64_t		 expires;	/* copy: compares stay in the heap */
	uint32_t	 idx;
};

struct replay {
	struct clock	 clock;
	const struct clock *clockp;	/* &clock, or NULL for real time */
	unsigned char	 key[REPLAY_HASH_KEY_LEN];
	size_t		 max;
	size_t		 count;		/* entries in use = heap size */
	size_t		 fresh;		/* slab entries never used */
	uint32_t	 free1;		/* recycled entry + 1; 0 = none */
	struct slot	*tab;
	size_t		 mask;
	struct entry	*ent;
	struct hnode	*heap;
};

struct replay *
replay_new(size_t max_entries, const struct clock *clock)
{
	struct replay	*r;
	size_t		 cap;

	if (max_entries == 0 || max_entries > REPLAY_MAX_ENTRIES)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	if (RAND_bytes(r->key, sizeof(r->key)) != 1) {
		ERR_clear_error();
		free(r);
		return NULL;
	}
	if (clock != NULL) {
		r->clock = *clock;
		r->clockp = &r->clock;
	}
	/* Load factor <= 1/2: linear probing stays near one probe. */
	for (cap = 16; cap < max_entries * 2; cap *= 2)
		;
	r->max = max_entries;
	r->fresh = max_entries;
	r->mask = cap - 1;
	r->tab = xcalloc(cap, sizeof(*r->tab));
	/* Not zeroed: entries are written before first use. */
	r->ent = xreallocarray(NULL, max_entries, sizeof(*r->ent));
	r->heap = xreallocarray(NULL, max_entries, sizeof(*r->heap));
	return r;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->tab);
	free(r->ent);
	free(r->heap);
	explicit_wipe(r->key, sizeof(r->key));
	free(r);
}

size_t
replay_count(const struct replay *r)
{
	return r->count;
}

const char *
replay_result_name(enum replay_result res)
{
	switch (res) {
	case REPLAY_NEW:
		return "new";
	case REPLAY_SEEN:
		return "seen";
	case REPLAY_FULL:
		return "full";
	}
	return "unknown";
}

/* Heap. */

static void
heap_put(struct replay *r, size_t pos, struct hnode n)
{
	r->heap[pos] = n;
	r->ent[n.idx].hpos = (uint32_t)pos;
}

static void
heap_up(struct replay *r, size_t pos)
{
	struct hnode	 n = r->heap[pos];
	size_t		 parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (r->heap[parent].expires <= n.expires)
			break;
		heap_put(r, pos, r->heap[parent]);
		pos = parent;
	}
	heap_put(r, pos, n);
}

static void
heap_down(struct replay *r, size_t pos)
{
	struct hnode	 n = r->heap[pos];
	size_t		 c;

	for (;;) {
		c = 2 * pos + 1;
		if (c >= r->count)
			break;
		if (c + 1 < r->count &&
		    r->heap[c + 1].expires < r->heap[c].expires)
			c++;
		if (r->heap[c].expires >= n.expires)
			break;
		heap_put(r, pos, r->heap[c]);
		pos = c;
	}
	heap_put(r, pos, n);
}

/* Index. */

static void
tab_delete(struct replay *r, uint32_t idx)
{
	struct slot	*tab = r->tab;
	size_t		 i, j, home;

	for (i = (size_t)(uint32_t)r->ent[idx].h[0] & r->mask;
	    tab[i].idx1 != idx + 1; i = (i + 1) & r->mask)
		;
	/*
	 * Backward shift: pull later members of the probe run into the hole
	 * unless that would put one before its home slot.
	 */
	for (j = i;;) {
		j = (j + 1) & r->mask;
		if (tab[j].idx1 == 0)
			break;
		home = tab[j].tag & r->mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		tab[i] = tab[j];
		i = j;
	}
	tab[i].idx1 = 0;
}

/* Free up to RECLAIM_BATCH expired entries, earliest first. */
static void
reclaim(struct replay *r, int64_t now)
{
	uint32_t	 idx;
	int		 n;

	for (n = 0; n < RECLAIM_BATCH && r->count > 0 &&
	    r->heap[0].expires <= now; n++) {
		idx = r->heap[0].idx;
		tab_delete(r, idx);
		if (--r->count > 0) {
			r->heap[0] = r->heap[r->count];
			heap_down(r, 0);
		}
		r->ent[idx].hpos = r->free1;
		r->free1 = idx + 1;
	}
}

enum replay_result
replay_check_add(struct replay *r, const void *key, size_t keylen,
    int64_t expires_at_ms)
{
	struct entry	*e;
	uint64_t	 h[2];
	uint32_t	 tag, idx;
	size_t		 i;
	int64_t		 now;

	now = clock_now_ms(r->clockp);
	reclaim(r, now);

	replay_siphash128(r->key, key, keylen, h);
	tag = (uint32_t)h[0];
	for (i = tag & r->mask; r->tab[i].idx1 != 0; i = (i + 1) & r->mask) {
		if (r->tab[i].tag != tag)
			continue;
		e = &r->ent[r->tab[i].idx1 - 1];
		if (e->h[0] != h[0] || e->h[1] != h[1])
			continue;
		if (e->expires > now)
			return REPLAY_SEEN;
		/* Expired, not yet reclaimed: re-arm it in place. */
		if (expires_at_ms > now) {
			e->expires = expires_at_ms;
			r->heap[e->hpos].expires = expires_at_ms;
			heap_down(r, e->hpos);
		}
		return REPLAY_NEW;
	}
	if (expires_at_ms <= now)
		return REPLAY_NEW;
	/* reclaim() ran: a full table here holds live entries only. */
	if (r->count == r->max)
		return REPLAY_FULL;

	if (r->free1 != 0) {
		idx = r->free1 - 1;
		r->free1 = r->ent[idx].hpos;
	} else
		idx = (uint32_t)(r->max - r->fresh--);
	e = &r->ent[idx];
	e->h[0] = h[0];
	e->h[1] = h[1];
	e->expires = expires_at_ms;
	r->tab[i].idx1 = idx + 1;
	r->tab[i].tag = tag;
	r->heap[r->count] = (struct hnode){ expires_at_ms, idx };
	heap_up(r, r->count++);
	return REPLAY_NEW;
}

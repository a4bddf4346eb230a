/*
 * replay.c - growable replay cache: linear-probing index over a slab of
 * entries, a binary min-heap of expiries for reclamation, and a small
 * owner table for per-sender quotas.
 *
 * Entries never move in the slab, so the heap and the index both point
 * at them by number, and growth is a realloc of the slab and the heap
 * plus a rehash of the index.  The index shifts slots on delete (backward
 * shift, no tombstones, so probes stay short), the heap swaps nodes, and
 * each entry remembers its heap position for the re-arm case.  Owners
 * live in a second slab with its own index, referenced by number from
 * their entries the same way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "util/clock.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

/*
 * Expired entries freed per call.  Any value >= 2 keeps up with one
 * two-key commit per call; a few more drain a backlog after a quiet
 * spell faster without making any single call expensive.
 */
#define RECLAIM_BATCH	4
/*
 * More expired entries freed by a commit that would otherwise answer
 * FULL or QUOTA, so that those answers are (nearly always) exact.  Bounds
 * the work of one call to well under a millisecond.
 */
#define RECLAIM_MORE	1024
/* First capacities: small enough that an idle daemon costs little. */
#define ENTRIES_MIN	4096
#define OWNERS_MIN	16
/* Keys of one commit planned on the stack; more are allocated. */
#define PLAN_STACK	4

/* Both entries and owners start with their digest (see struct index). */
struct digest {
	uint64_t	 h[2];
};

struct slot {
	uint32_t	 idx1;		/* item number + 1; 0 = empty */
	uint32_t	 tag;		/* low 32 bits of h[0]: home slot */
};

/* An open-addressing index over a slab of items that begin with a digest. */
struct index {
	struct slot	*tab;
	size_t		 mask;
	const void	*base;		/* the slab, after every realloc */
	size_t		 stride;	/* sizeof one item */
};

struct entry {
	struct digest	 d;
	int64_t		 expires;
	uint32_t	 hpos;		/* heap position; free-list link */
	uint32_t	 owner1;	/* owner number + 1; 0 = none */
};

struct owner {
	struct digest	 d;
	uint32_t	 count;		/* entries held */
	uint32_t	 next1;		/* free-list link (number + 1) */
};

struct hnode {
	int64_t		 expires;	/* copy: compares stay in the heap */
	uint32_t	 idx;
};

struct replay {
	struct clock	 clock;
	const struct clock *clockp;	/* &clock, or NULL for real time */
	struct siphash_key key;
	struct replay_limits lim;

	size_t		 cap;		/* entries allocated */
	size_t		 count;		/* entries in use = heap size */
	size_t		 hiwater;	/* entries ever handed out */
	uint32_t	 free1;		/* recycled entry + 1; 0 = none */
	struct entry	*ent;
	struct hnode	*heap;
	struct index	 ix;

	size_t		 ocap;		/* owner slots allocated */
	size_t		 ohiwater;	/* owner slots ever handed out */
	uint32_t	 ofree1;	/* recycled owner + 1; 0 = none */
	struct owner	*own;
	struct index	 oix;
};

/* What a commit found for one of its keys. */
struct plan {
	struct digest	 d;
	int64_t		 expires;	/* latest of its duplicates' */
	uint32_t	 idx1;		/* expired entry to re-arm; 0 = none */
	int		 dup;		/* repeats an earlier key: ignore */
	int		 record;	/* 0: expired on arrival, lookup only */
};

static int
limits_ok(const struct replay_limits *lim)
{
	return lim != NULL && lim->max_entries >= 1 &&
	    lim->max_entries <= REPLAY_MAX_ENTRIES && lim->owner_quota >= 1;
}

/* Index. */

/* Load factor <= 1/2: linear probing stays near one probe. */
static size_t
index_size(size_t items)
{
	size_t	 n;

	for (n = 16; n < items * 2; n *= 2)
		;
	return n;
}

static void
ix_init(struct index *ix, size_t items, const void *base, size_t stride)
{
	size_t	 n = index_size(items);

	ix->tab = xcalloc(n, sizeof(*ix->tab));
	ix->mask = n - 1;
	ix->base = base;
	ix->stride = stride;
}

static const struct digest *
ix_item(const struct index *ix, uint32_t idx)
{
	return (const struct digest *)(const void *)
	    ((const char *)ix->base + (size_t)idx * ix->stride);
}

/* Item number + 1 of the item with digest d, or 0. */
static uint32_t
ix_find(const struct index *ix, const struct digest *d)
{
	const struct digest	*it;
	uint32_t		 tag = (uint32_t)d->h[0];
	size_t			 i;

	for (i = tag & ix->mask; ix->tab[i].idx1 != 0;
	    i = (i + 1) & ix->mask) {
		if (ix->tab[i].tag != tag)
			continue;
		it = ix_item(ix, ix->tab[i].idx1 - 1);
		if (it->h[0] == d->h[0] && it->h[1] == d->h[1])
			return ix->tab[i].idx1;
	}
	return 0;
}

/* The caller knows the digest is absent and that there is room. */
static void
ix_insert(struct index *ix, uint32_t tag, uint32_t idx)
{
	size_t	 i;

	for (i = tag & ix->mask; ix->tab[i].idx1 != 0; i = (i + 1) & ix->mask)
		;
	ix->tab[i].idx1 = idx + 1;
	ix->tab[i].tag = tag;
}

static void
ix_delete(struct index *ix, uint32_t idx)
{
	struct slot	*tab = ix->tab;
	size_t		 i, j, home;

	for (i = (uint32_t)ix_item(ix, idx)->h[0] & ix->mask;
	    tab[i].idx1 != idx + 1; i = (i + 1) & ix->mask)
		;
	/*
	 * Backward shift: pull later members of the probe run into the hole
	 * unless that would put one before its home slot.
	 */
	for (j = i;;) {
		j = (j + 1) & ix->mask;
		if (tab[j].idx1 == 0)
			break;
		home = tab[j].tag & ix->mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		tab[i] = tab[j];
		i = j;
	}
	tab[i].idx1 = 0;
}

/* Rehash for items (no-op when the index is big enough already). */
static void
ix_grow(struct index *ix, size_t items, const void *base)
{
	struct index	 old = *ix;
	size_t		 i;

	ix->base = base;
	if (index_size(items) <= ix->mask + 1)
		return;
	ix_init(ix, items, base, old.stride);
	/* The tags carry the home slots: no item is touched. */
	for (i = 0; i <= old.mask; i++)
		if (old.tab[i].idx1 != 0)
			ix_insert(ix, old.tab[i].tag, old.tab[i].idx1 - 1);
	free(old.tab);
}

/* Owners. */

static void
owner_digest(const struct replay *r, const void *owner, size_t len,
    struct digest *d)
{
	siphash24_128(&r->key, owner, len, d->h);
}

/* Owner number + 1 of an existing owner, or 0. */
static uint32_t
owner_find(const struct replay *r, const struct digest *d)
{
	return ix_find(&r->oix, d);
}

/*
 * Make the owner of d, which has none.  Room is certain: the caller grew
 * the entries first and detached the entries it re-arms, so every owner
 * left holds an entry outside this commit, the new one holds one more,
 * and there are fewer owners than the entry capacity.
 */
static uint32_t
owner_new(struct replay *r, const struct digest *d)
{
	struct owner	*o;
	uint32_t	 oidx;
	size_t		 ncap;

	if (r->ofree1 != 0) {
		oidx = r->ofree1 - 1;
		r->ofree1 = r->own[oidx].next1;
	} else {
		if (r->ohiwater == r->ocap) {
			ncap = r->ocap * 2;
			if (ncap > r->cap)
				ncap = r->cap;
			r->own = xreallocarray(r->own, ncap, sizeof(*r->own));
			r->ocap = ncap;
			ix_grow(&r->oix, ncap, r->own);
		}
		oidx = (uint32_t)r->ohiwater++;
	}
	o = &r->own[oidx];
	o->d = *d;
	o->count = 0;
	ix_insert(&r->oix, (uint32_t)d->h[0], oidx);
	return oidx + 1;
}

static void
owner_drop(struct replay *r, uint32_t o1)
{
	struct owner	*o;

	if (o1 == 0)
		return;
	o = &r->own[o1 - 1];
	if (--o->count > 0)
		return;
	ix_delete(&r->oix, o1 - 1);
	o->next1 = r->ofree1;
	r->ofree1 = o1;
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

/* Take the node at pos out of the heap (count is one less after). */
static void
heap_remove(struct replay *r, size_t pos)
{
	if (--r->count == pos)
		return;
	heap_put(r, pos, r->heap[r->count]);
	if (pos > 0 && r->heap[(pos - 1) / 2].expires > r->heap[pos].expires)
		heap_up(r, pos);
	else
		heap_down(r, pos);
}

/* Entries. */

/* Forget entry idx: out of the index, the heap and its owner's count. */
static void
entry_del(struct replay *r, uint32_t idx)
{
	struct entry	*e = &r->ent[idx];

	ix_delete(&r->ix, idx);
	owner_drop(r, e->owner1);
	heap_remove(r, e->hpos);
	e->hpos = r->free1;
	r->free1 = idx + 1;
}

/*
 * Free up to max expired entries, earliest first; stop early once owner
 * (when not 0) holds at most target entries.  Returns how many.
 */
static size_t
reclaim(struct replay *r, int64_t now, size_t max, uint32_t owner1,
    size_t target)
{
	size_t		 n;

	for (n = 0; n < max && r->count > 0 && r->heap[0].expires <= now;
	    n++) {
		if (owner1 != 0 && r->own[owner1 - 1].count <= target)
			break;
		entry_del(r, r->heap[0].idx);
	}
	return n;
}

/* Make room for need more entries; the caller checked max_entries. */
static void
grow(struct replay *r, size_t need)
{
	size_t	 ncap;

	if (r->count + need <= r->cap)
		return;
	for (ncap = r->cap * 2; ncap < r->count + need; ncap *= 2)
		;
	if (ncap > r->lim.max_entries)
		ncap = r->lim.max_entries;
	r->ent = xreallocarray(r->ent, ncap, sizeof(*r->ent));
	r->heap = xreallocarray(r->heap, ncap, sizeof(*r->heap));
	r->cap = ncap;
	ix_grow(&r->ix, ncap, r->ent);
}

static void
entry_add(struct replay *r, const struct digest *d, int64_t expires,
    uint32_t owner1)
{
	struct entry	*e;
	uint32_t	 idx;

	if (r->free1 != 0) {
		idx = r->free1 - 1;
		r->free1 = r->ent[idx].hpos;
	} else
		idx = (uint32_t)r->hiwater++;
	e = &r->ent[idx];
	e->d = *d;
	e->expires = expires;
	e->owner1 = owner1;
	if (owner1 != 0)
		r->own[owner1 - 1].count++;
	ix_insert(&r->ix, (uint32_t)d->h[0], idx);
	r->heap[r->count] = (struct hnode){ expires, idx };
	heap_up(r, r->count++);
}

/*
 * An expired entry gets a later expiry and, maybe, another owner; the
 * caller detached it from any other owner already.
 */
static void
entry_rearm(struct replay *r, uint32_t idx, int64_t expires,
    uint32_t owner1)
{
	struct entry	*e = &r->ent[idx];

	if (e->owner1 != owner1) {
		e->owner1 = owner1;
		if (owner1 != 0)
			r->own[owner1 - 1].count++;
	}
	e->expires = expires;
	r->heap[e->hpos].expires = expires;
	heap_down(r, e->hpos);
}

/* API. */

struct replay *
replay_new(const struct replay_limits *lim, const struct clock *clock)
{
	struct replay	*r;

	if (!limits_ok(lim))
		return NULL;
	r = xcalloc(1, sizeof(*r));
	if (siphash_key_random(&r->key) != 0) {
		free(r);
		return NULL;
	}
	if (clock != NULL) {
		r->clock = *clock;
		r->clockp = &r->clock;
	}
	r->lim = *lim;
	r->cap = lim->max_entries < ENTRIES_MIN ? lim->max_entries :
	    ENTRIES_MIN;
	/* Not zeroed: entries are written before first use. */
	r->ent = xreallocarray(NULL, r->cap, sizeof(*r->ent));
	r->heap = xreallocarray(NULL, r->cap, sizeof(*r->heap));
	ix_init(&r->ix, r->cap, r->ent, sizeof(*r->ent));
	r->ocap = r->cap < OWNERS_MIN ? r->cap : OWNERS_MIN;
	r->own = xreallocarray(NULL, r->ocap, sizeof(*r->own));
	ix_init(&r->oix, r->ocap, r->own, sizeof(*r->own));
	return r;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->ix.tab);
	free(r->ent);
	free(r->heap);
	free(r->oix.tab);
	free(r->own);
	explicit_wipe(&r->key, sizeof(r->key));
	free(r);
}

void
replay_set_limits(struct replay *r, const struct replay_limits *lim)
{
	if (limits_ok(lim))
		r->lim = *lim;
}

size_t
replay_count(const struct replay *r)
{
	return r->count;
}

size_t
replay_owner_count(const struct replay *r, const void *owner,
    size_t ownerlen)
{
	struct digest	 d;
	uint32_t	 o1;

	if (owner == NULL || ownerlen == 0)
		return 0;
	owner_digest(r, owner, ownerlen, &d);
	if ((o1 = owner_find(r, &d)) == 0)
		return 0;
	return r->own[o1 - 1].count;
}

size_t
replay_bytes(const struct replay *r)
{
	return sizeof(*r) +
	    r->cap * (sizeof(*r->ent) + sizeof(*r->heap)) +
	    (r->ix.mask + 1) * sizeof(*r->ix.tab) +
	    r->ocap * sizeof(*r->own) +
	    (r->oix.mask + 1) * sizeof(*r->oix.tab);
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
	case REPLAY_QUOTA:
		return "quota";
	}
	return "unknown";
}

enum replay_result
replay_check(struct replay *r, const void *key, size_t len)
{
	struct digest	 d;
	uint32_t	 e1;
	int64_t		 now;

	now = clock_now_ms(r->clockp);
	reclaim(r, now, RECLAIM_BATCH, 0, 0);
	siphash24_128(&r->key, key, len, d.h);
	if ((e1 = ix_find(&r->ix, &d)) != 0 && r->ent[e1 - 1].expires > now)
		return REPLAY_SEEN;
	return REPLAY_NEW;
}

/*
 * Look every key up.  SEEN when one is live; else *need is the number of
 * new entries, *moved the number of expired entries to re-arm that owner1
 * does not hold (all of them when owner1 is 0).
 */
static enum replay_result
plan_keys(struct replay *r, struct plan *pl, size_t n, int64_t now,
    uint32_t owner1, size_t *need, size_t *moved)
{
	struct entry	*e;
	size_t		 i;

	*need = *moved = 0;
	for (i = 0; i < n; i++) {
		pl[i].idx1 = 0;
		if (pl[i].dup)
			continue;
		if ((pl[i].idx1 = ix_find(&r->ix, &pl[i].d)) != 0) {
			e = &r->ent[pl[i].idx1 - 1];
			if (e->expires > now)
				return REPLAY_SEEN;
			if (pl[i].record &&
			    (owner1 == 0 || e->owner1 != owner1))
				(*moved)++;
		} else if (pl[i].record)
			(*need)++;
	}
	return REPLAY_NEW;
}

/* Decide, then record every key or none. */
static enum replay_result
commit_plan(struct replay *r, const struct digest *od, struct plan *pl,
    size_t n, int64_t now)
{
	enum replay_result	 res;
	struct entry		*e;
	size_t			 need, moved, quota, more, budget, got, i;
	uint32_t		 owner1 = 0;
	int			 records = 0;

	for (i = 0; i < n; i++)
		if (!pl[i].dup && pl[i].record)
			records = 1;
	reclaim(r, now, RECLAIM_BATCH, 0, 0);
	if (od != NULL)
		owner1 = owner_find(r, od);

	/*
	 * Decide from what lazy reclamation left; when that says QUOTA or
	 * FULL while expired entries wait, free some more and look again.
	 * Freeing an entry planned for re-arm turns it into a new one (no
	 * gain), hence a loop rather than one computed batch; every turn
	 * frees at least one entry of the budget.
	 */
	budget = RECLAIM_MORE;
	for (;;) {
		if ((res = plan_keys(r, pl, n, now, owner1, &need,
		    &moved)) != REPLAY_NEW)
			return res;
		/* A commit that records nothing needs no room. */
		if (!records)
			break;
		quota = r->lim.owner_quota;
		if (od != NULL && need + moved > quota)
			return REPLAY_QUOTA;
		if (owner1 != 0 &&
		    r->own[owner1 - 1].count > quota - need - moved) {
			res = REPLAY_QUOTA;
			got = reclaim(r, now, budget, owner1,
			    quota - need - moved);
		} else if (r->count + need > r->lim.max_entries) {
			res = REPLAY_FULL;
			more = r->count + need - r->lim.max_entries;
			got = reclaim(r, now, more < budget ? more : budget,
			    0, 0);
		} else
			break;
		if (got == 0)
			return res;
		budget -= got;
		/* The owner's last entry may have gone. */
		if (od != NULL)
			owner1 = owner_find(r, od);
	}

	grow(r, need);
	/*
	 * Detach re-armed entries from their old owners before making a new
	 * owner: then every owner left holds an entry outside this commit,
	 * so the owner table (bounded by the entry capacity) has room.
	 */
	for (i = 0; i < n; i++) {
		if (pl[i].dup || !pl[i].record || pl[i].idx1 == 0)
			continue;
		e = &r->ent[pl[i].idx1 - 1];
		if (e->owner1 != owner1 || owner1 == 0) {
			owner_drop(r, e->owner1);
			e->owner1 = 0;
		}
	}
	if (od != NULL && owner1 == 0 && need + moved > 0)
		owner1 = owner_new(r, od);
	for (i = 0; i < n; i++) {
		if (pl[i].dup || !pl[i].record)
			continue;
		if (pl[i].idx1 != 0)
			entry_rearm(r, pl[i].idx1 - 1, pl[i].expires, owner1);
		else
			entry_add(r, &pl[i].d, pl[i].expires, owner1);
	}
	return REPLAY_NEW;
}

enum replay_result
replay_commit(struct replay *r, const void *owner, size_t ownerlen,
    const struct replay_key *keys, size_t n)
{
	enum replay_result	 res;
	struct plan		 stack[PLAN_STACK], *pl;
	struct digest		 od;
	size_t			 i, j;
	int64_t			 now;

	if (n == 0)
		return REPLAY_NEW;
	pl = n <= PLAN_STACK ? stack : xreallocarray(NULL, n, sizeof(*pl));
	now = clock_now_ms(r->clockp);
	for (i = 0; i < n; i++) {
		siphash24_128(&r->key, keys[i].key, keys[i].len, pl[i].d.h);
		pl[i].expires = keys[i].expires_at_ms;
		pl[i].dup = 0;
		/* A repeated key is one key, with the latest expiry. */
		for (j = 0; j < i; j++) {
			if (pl[j].dup || pl[j].d.h[0] != pl[i].d.h[0] ||
			    pl[j].d.h[1] != pl[i].d.h[1])
				continue;
			if (pl[i].expires > pl[j].expires)
				pl[j].expires = pl[i].expires;
			pl[i].dup = 1;
			break;
		}
	}
	/* Expired on arrival: nothing to record, but it may still be SEEN. */
	for (i = 0; i < n; i++)
		pl[i].record = pl[i].expires > now;
	if (owner != NULL && ownerlen > 0) {
		owner_digest(r, owner, ownerlen, &od);
		res = commit_plan(r, &od, pl, n, now);
	} else
		res = commit_plan(r, NULL, pl, n, now);
	if (pl != stack)
		free(pl);
	return res;
}

void
replay_release(struct replay *r, const void *owner, size_t ownerlen,
    const struct replay_key *keys, size_t n)
{
	struct digest	 d;
	uint32_t	 e1, owner1 = 0;
	size_t		 i;

	if (owner != NULL && ownerlen > 0) {
		owner_digest(r, owner, ownerlen, &d);
		/* An owner unknown holds no entry: nothing of it to undo. */
		if ((owner1 = owner_find(r, &d)) == 0)
			return;
	}
	for (i = 0; i < n; i++) {
		siphash24_128(&r->key, keys[i].key, keys[i].len, d.h);
		if ((e1 = ix_find(&r->ix, &d)) != 0 &&
		    r->ent[e1 - 1].owner1 == owner1)
			entry_del(r, e1 - 1);
	}
}

/*
 * replay.h - replay cache: reject a message that was already accepted.
 *
 * Two steps, so that a refused message leaves no trace:
 *
 *   replay_check()   early in the pipeline, once per key: SEEN refuses
 *                    the message (401, BECKN_ERR_AUTH); nothing is
 *                    recorded, whatever the answer;
 *   replay_commit()  after the daemon decided to ACK, once per message,
 *                    with all of its keys: ALL OR NOTHING.  Any answer but
 *                    NEW means nothing was recorded, and the message must
 *                    be refused (the keys may have become live between
 *                    check and commit, e.g. a concurrent copy that was
 *                    ACKed while this one waited on the registry).
 *                    Commit after every other reason to refuse and before
 *                    the message is handed on for delivery;
 *   replay_release() undoes a commit that answered NEW, for one reason
 *                    only: the durable store failed to record the
 *                    message, so it is refused after all (503) and its
 *                    sender's retry must get in.  With exactly the owner
 *                    and keys of that commit; it is no general "forget".
 *
 * What the daemon records per accepted message (the keys include the
 * receiving participant, so one gateway search reaches two participants
 * of one process):
 *
 *   1. the raw signature, until the header's expires + clock skew (a
 *      lifetime security.max_signature_ttl bounds): a captured request
 *      cannot be resent while its signature is accepted;
 *   2. (receiver, sender, message_id, action), for the replay window: a
 *      sender cannot re-sign and resend one message.
 *
 * The owner of both is the verified sender's subscriber id.
 *
 * replay_commit() answers, checked in this order:
 *   REPLAY_SEEN   one of the keys has a live entry: 401;
 *   REPLAY_QUOTA  the owner would hold more than owner_quota entries: 503
 *                 (BECKN_ERR_BUSY), so that one sender cannot fill the
 *                 table for everyone.  Checked before FULL so the log
 *                 names the sender that is over its share;
 *   REPLAY_FULL   the table cannot hold every new key: 503.  Live entries
 *                 are never evicted to make room, since forgetting one
 *                 would let its replay in;
 *   REPLAY_NEW    every key recorded.
 *
 * Entries: an entry is live while now < expires_at_ms.  A key whose
 * expires_at_ms <= now is not recorded and needs no room (it could not
 * be seen later anyway), though it is still looked up for SEEN; a commit
 * that records nothing is never FULL or QUOTA.  A key that matches an
 * expired entry not yet reclaimed re-arms that entry (new expiry, new
 * owner) instead of taking a new one.  A key repeated within one commit
 * is recorded once, with the latest of its expiries.  An entry counts
 * against its owner's quota and the table's max_entries from commit until
 * it is reclaimed (or released: replay_release()).
 *
 * Reclamation is lazy: each check or commit frees a few expired entries,
 * earliest expiry first, so there is never an O(n) sweep.  A commit that
 * would answer FULL or QUOTA first frees up to 1024 more expired entries
 * (RECLAIM_MORE), then decides, so both answers count live entries only,
 * unless more expired entries than that must go first: a backlog after a
 * quiet spell (for QUOTA), or after max_entries was lowered below the
 * count.  Each refused commit then drains another 1024, so a retry gets
 * in soon; no single call does more.
 *
 * Limits: max_entries in 1..REPLAY_MAX_ENTRIES, owner_quota >= 1 (one
 * above max_entries never binds).  replay_set_limits() applies new limits
 * to the next commit: raising lets the table grow further; lowering below
 * the entries held only refuses new entries (FULL, QUOTA) until expiries
 * bring the count down.  It never forgets a live entry and never frees
 * memory.
 *
 * Memory follows use: the table starts at min(max_entries, 4096) entries
 * and doubles, up to max_entries, when a commit needs room; it never
 * shrinks.  Per entry of capacity: 32 bytes of entry (digest, expiry,
 * heap position, owner), 16 of expiry heap, 16 of index (two 8-byte
 * slots: load <= 1/2): 64 bytes, so 64-128 per entry held once past the
 * first 4096.  Per owner slot: 24 + 16 bytes; the owner table grows the
 * same way, from 16 slots up to the entry capacity (an owner holds at
 * least one entry), and an owner whose last entry is reclaimed frees its
 * slot.  With max_entries 2,000,000: ~260 KB idle, ~8.4 MB at 100,000
 * entries, ~130 MB full (bench_replay prints these).
 *
 * Keys and owners are hashed with SipHash-2-4-128 (util/siphash) under a
 * random per-table key; only the 16-byte digest is stored, never caller
 * memory, and both may be any bytes of any length (length is part of the
 * hash; an empty key is a key; key may be NULL when len is 0).
 *
 * Costs: O(1) average per key lookup (open addressing), O(log n) per
 * entry added or reclaimed (expiry heap; up to 4 reclaimed per call, so
 * in steady state the first calls after entries expire pay for them),
 * O(n) for the rehash of a doubling (amortised O(1) per entry), O(k^2)
 * comparisons over one commit's k keys (k is small, e.g. 2).
 *
 * Threads: a struct replay belongs to one event loop and is not locked.
 * A cache shared by several loops or processes would put a mutex (or a
 * Redis script) behind these same functions.
 */
#ifndef BECKND_REPLAY_H
#define BECKND_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct clock;
struct replay;

#define REPLAY_MAX_ENTRIES	((size_t)1 << 30)

struct replay_limits {
	size_t		 max_entries;	/* 1..REPLAY_MAX_ENTRIES */
	size_t		 owner_quota;	/* >= 1: entries one owner may hold */
};

enum replay_result {
	REPLAY_NEW = 0,
	REPLAY_SEEN,
	REPLAY_FULL,
	REPLAY_QUOTA,
};

/* One key of a commit. */
struct replay_key {
	const void	*key;
	size_t		 len;
	int64_t		 expires_at_ms;	/* live while now < expires_at_ms */
};

/*
 * The limits are copied.  The clock is copied (NULL: the real clock); its
 * arg must outlive the table.  NULL when the limits are out of range or
 * the CSPRNG fails; allocation failure aborts (xmalloc).
 */
struct replay		*replay_new(const struct replay_limits *,
			    const struct clock *);
void			 replay_free(struct replay *);
/*
 * SIGHUP.  Out-of-range limits are ignored (the old ones stay); the
 * configuration's own bounds keep them in range.
 */
void			 replay_set_limits(struct replay *,
			    const struct replay_limits *);

/* REPLAY_SEEN when key has a live entry, else REPLAY_NEW.  Records nothing. */
enum replay_result	 replay_check(struct replay *, const void *key,
			    size_t len);
/*
 * Record keys[0..n-1] for owner, all or nothing (see above).  owner NULL
 * or ownerlen 0: no owner, no quota.  n 0 answers NEW.
 */
enum replay_result	 replay_commit(struct replay *, const void *owner,
			    size_t ownerlen, const struct replay_key *keys,
			    size_t n);

/*
 * Undo replay_commit(r, owner, ownerlen, keys, n) that answered NEW: each
 * key's entry held by that owner (owner NULL or ownerlen 0: by no owner)
 * is forgotten at once, live or not: out of the table, its owner's count
 * and quota given back, so that the same message committed again is NEW.
 * A key with no entry, or whose entry another owner holds, is ignored;
 * no other entry is touched.  Call it when the store's failure comes
 * back, before the keys expire: an entry that expired meanwhile and was
 * re-armed for the same owner by a later commit would be forgotten too.
 * O(log n) per key.
 */
void			 replay_release(struct replay *, const void *owner,
			    size_t ownerlen, const struct replay_key *keys,
			    size_t n);

/* Entries held, live or expired but not yet reclaimed. */
size_t			 replay_count(const struct replay *);
/* The same, for one owner (0 for an unknown owner or no owner). */
size_t			 replay_owner_count(const struct replay *,
			    const void *owner, size_t ownerlen);
/* Bytes allocated by the table (for stats and the benchmark). */
size_t			 replay_bytes(const struct replay *);
/* "new", "seen", "full", "quota" (for logs). */
const char		*replay_result_name(enum replay_result);

#endif

/*
 * replay.h - replay cache: reject a message that was already accepted.
 *
 * What the caller records, per verified inbound message (two keys, two
 * replay_check_add() calls, reject on the first non-NEW answer):
 *
 *   1. the raw 64-byte ed25519 signature, expiring at the header's
 *      expires + allowed skew, capped at now + replay_window: a captured
 *      request cannot be resent while its signature is still accepted;
 *   2. "sender|message_id|action" (subscriber id of the signer,
 *      context.message_id, context.action), expiring at now +
 *      replay_window: a sender cannot re-sign and resend one message.
 *
 * Answers:
 *   REPLAY_NEW   recorded (or, when expires_at_ms <= now, nothing to
 *                record because it could not be seen later anyway);
 *   REPLAY_SEEN  a live entry with this key exists: reject with 401
 *                (BECKN_ERR_AUTH);
 *   REPLAY_FULL  every slot holds a live entry: reject with 503
 *                (BECKN_ERR_BUSY).  Live entries are never evicted to
 *                make room, since forgetting one would let its replay in.
 *
 * An entry is live while now < expires_at_ms.  A SEEN answer does not
 * change the stored expiry.
 *
 * Keys are hashed with SipHash-2-4-128 under a random per-table key;
 * only the 16-byte digest is stored, never caller memory, and keys may be
 * any bytes of any length (length is part of the hash).
 *
 * Costs: O(1) average per call (open addressing) plus O(log n) for the
 * expiry min-heap.  Expired entries are reclaimed lazily: each call frees
 * at most a few expired entries in expiry order, so there is never an
 * O(n) sweep, and a table that is full of entries some of which expired
 * still accepts (the earliest expiry is always reclaimable first).
 * Memory is allocated once in replay_new(): about 64-80 bytes per entry
 * of max_entries, and never grows.
 *
 * Threads: a struct replay belongs to one event loop and is not locked.
 * A cache shared by several loops or processes would put a mutex (or a
 * Redis SET NX PX) behind these same three functions.
 */
#ifndef BECKND_REPLAY_H
#define BECKND_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct clock;
struct replay;

enum replay_result {
	REPLAY_NEW = 0,
	REPLAY_SEEN,
	REPLAY_FULL,
};

#define REPLAY_MAX_ENTRIES	((size_t)1 << 30)

/*
 * max_entries in 1..REPLAY_MAX_ENTRIES.  The clock is copied (NULL: the
 * real clock); its arg must outlive the table.  NULL when max_entries is
 * out of range or the CSPRNG fails; allocation failure aborts (xmalloc).
 */
struct replay		*replay_new(size_t max_entries, const struct clock *);
void			 replay_free(struct replay *);

enum replay_result	 replay_check_add(struct replay *, const void *key,
			    size_t keylen, int64_t expires_at_ms);

/* Entries held, live or expired but not yet reclaimed. */
size_t			 replay_count(const struct replay *);
/* "new", "seen", "full" (for logs). */
const char		*replay_result_name(enum replay_result);

#endif

/*
 * check_replay.c - replay cache on a manual clock.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "replay/replay.h"
#include "util/clock.h"

/*
 * ck_assert_*() reports every pass to the Check runner (one write each);
 * loops of a million checks use this, which says nothing until it fails.
 */
#define EXPECT_EQ(a, b) do {						\
	long long	 got_ = (long long)(a), want_ = (long long)(b);	\
									\
	if (got_ != want_)						\
		ck_abort_msg("%s == %lld, %s == %lld", #a, got_, #b,	\
		    want_);						\
} while (0)
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("%s", #cond);				\
} while (0)

static int64_t		 now_ms;
static struct clock	 mclock = { clock_manual_now_ms, &now_ms };

static struct replay *
new_table_quota(size_t max, size_t quota)
{
	struct replay_limits	 lim = { max, quota };
	struct replay		*r;

	now_ms = 1700000000000LL;
	r = replay_new(&lim, &mclock);
	ck_assert_ptr_nonnull(r);
	return r;
}

static struct replay *
new_table(size_t max)
{
	return new_table_quota(max, max);
}

/*
 * What the old one-call API did: check, then commit one key with no
 * owner.  Most properties of the table show through it.
 */
static enum replay_result
check_add(struct replay *r, const void *key, size_t len, int64_t expires)
{
	struct replay_key	 k = { key, len, expires };

	if (replay_check(r, key, len) == REPLAY_SEEN)
		return REPLAY_SEEN;
	return replay_commit(r, NULL, 0, &k, 1);
}

static enum replay_result
add_str(struct replay *r, const char *key, int64_t expires)
{
	return check_add(r, key, strlen(key), expires);
}

static enum replay_result
add_u64(struct replay *r, uint64_t key, int64_t expires)
{
	return check_add(r, &key, sizeof(key), expires);
}

static enum replay_result
check_u64(struct replay *r, uint64_t key)
{
	return replay_check(r, &key, sizeof(key));
}

/* Commit two u64 keys for an owner (NULL: none). */
static enum replay_result
commit2(struct replay *r, const char *owner, uint64_t a, uint64_t b,
    int64_t expires)
{
	struct replay_key	 k[2] = {
		{ &a, sizeof(a), expires },
		{ &b, sizeof(b), expires },
	};

	return replay_commit(r, owner, owner != NULL ? strlen(owner) : 0, k,
	    2);
}

static enum replay_result
commit1(struct replay *r, const char *owner, uint64_t a, int64_t expires)
{
	struct replay_key	 k = { &a, sizeof(a), expires };

	return replay_commit(r, owner, owner != NULL ? strlen(owner) : 0, &k,
	    1);
}

static size_t
owner_count(struct replay *r, const char *owner)
{
	return replay_owner_count(r, owner, strlen(owner));
}

START_TEST(new_then_seen)
{
	struct replay	*r = new_table(100);
	int64_t		 exp = now_ms + 1000;

	ck_assert_int_eq(add_str(r, "sig-1", exp), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "sig-1", exp), REPLAY_SEEN);
	ck_assert_int_eq(add_str(r, "sig-1", exp + 5000), REPLAY_SEEN);
	ck_assert_int_eq(add_str(r, "sig-2", exp), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "sig-2", exp), REPLAY_SEEN);
	ck_assert_int_eq(add_str(r, "sig-1", exp), REPLAY_SEEN);
	ck_assert_uint_eq(replay_count(r), 2);
	ck_assert_str_eq(replay_result_name(REPLAY_NEW), "new");
	ck_assert_str_eq(replay_result_name(REPLAY_SEEN), "seen");
	ck_assert_str_eq(replay_result_name(REPLAY_FULL), "full");
	ck_assert_str_eq(replay_result_name(REPLAY_QUOTA), "quota");
	replay_free(r);
}
END_TEST

START_TEST(expiry)
{
	struct replay	*r = new_table(100);
	int64_t		 exp = now_ms + 1000;

	ck_assert_int_eq(add_str(r, "k", exp), REPLAY_NEW);
	now_ms = exp - 1;
	ck_assert_int_eq(add_str(r, "k", exp + 10), REPLAY_SEEN);
	/* A SEEN answer did not extend the entry. */
	now_ms = exp;
	ck_assert_int_eq(add_str(r, "k", exp + 500), REPLAY_NEW);
	/* Recorded again with the new expiry. */
	ck_assert_int_eq(add_str(r, "k", exp + 500), REPLAY_SEEN);
	now_ms = exp + 499;
	ck_assert_int_eq(add_str(r, "k", exp + 500), REPLAY_SEEN);
	now_ms = exp + 500;
	ck_assert_int_eq(add_str(r, "k", now_ms + 1), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(already_expired_not_stored)
{
	struct replay	*r = new_table(2);

	ck_assert_int_eq(add_str(r, "old", now_ms), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "old", now_ms - 10), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 0);
	/* Nor does it need room: a full table still answers NEW. */
	ck_assert_int_eq(add_str(r, "a", now_ms + 10), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "b", now_ms + 10), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "old", now_ms), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "c", now_ms + 10), REPLAY_FULL);
	replay_free(r);
}
END_TEST

START_TEST(full_with_live_entries)
{
	struct replay	*r = new_table(4);
	int64_t		 t0 = now_ms;

	ck_assert_int_eq(add_u64(r, 1, t0 + 100), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 2, t0 + 200), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 3, t0 + 300), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 4, t0 + 400), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 5, t0 + 500), REPLAY_FULL);
	/* Full is never a reason to forget: replays are still caught. */
	ck_assert_int_eq(add_u64(r, 1, t0 + 500), REPLAY_SEEN);
	ck_assert_int_eq(add_u64(r, 4, t0 + 500), REPLAY_SEEN);
	ck_assert_int_eq(add_u64(r, 5, t0 + 500), REPLAY_FULL);
	ck_assert_uint_eq(replay_count(r), 4);

	/* Entry 1 expires: exactly one slot comes back. */
	now_ms = t0 + 100;
	ck_assert_int_eq(add_u64(r, 5, t0 + 500), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 6, t0 + 500), REPLAY_FULL);
	ck_assert_int_eq(add_u64(r, 5, t0 + 500), REPLAY_SEEN);
	ck_assert_int_eq(add_u64(r, 2, t0 + 500), REPLAY_SEEN);
	now_ms = t0 + 1000;
	ck_assert_int_eq(add_u64(r, 6, t0 + 2000), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 7, t0 + 2000), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 8, t0 + 2000), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 9, t0 + 2000), REPLAY_NEW);
	ck_assert_int_eq(add_u64(r, 10, t0 + 2000), REPLAY_FULL);
	ck_assert_uint_eq(replay_count(r), 4);
	replay_free(r);
}
END_TEST

START_TEST(full_reclaims_earliest_expiry_not_oldest)
{
	struct replay	*r = new_table(3);
	int64_t		 t0 = now_ms;

	/* Insertion order differs from expiry order. */
	ck_assert_int_eq(add_str(r, "long", t0 + 10000), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "mid", t0 + 5000), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "short", t0 + 10), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "x", t0 + 10), REPLAY_FULL);
	now_ms = t0 + 10;
	ck_assert_int_eq(add_str(r, "x", t0 + 20000), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "long", t0 + 20000), REPLAY_SEEN);
	ck_assert_int_eq(add_str(r, "mid", t0 + 20000), REPLAY_SEEN);
	ck_assert_int_eq(add_str(r, "short", t0 + 20000), REPLAY_FULL);
	now_ms = t0 + 5000;
	ck_assert_int_eq(add_str(r, "short", t0 + 20000), REPLAY_NEW);
	ck_assert_int_eq(add_str(r, "mid", t0 + 20000), REPLAY_FULL);
	replay_free(r);
}
END_TEST

START_TEST(reclaim_is_incremental)
{
	struct replay	*r = new_table(10000);
	uint64_t	 i;
	size_t		 before;

	for (i = 0; i < 10000; i++)
		EXPECT_EQ(add_u64(r, i, now_ms + 1000), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 10000);
	now_ms += 1000;
	/* One call after mass expiry does a few entries' work, not all. */
	before = replay_count(r);
	ck_assert_int_eq(add_u64(r, 20000, now_ms + 1000), REPLAY_NEW);
	ck_assert_uint_ge(replay_count(r), before - 16);
	/* Yet calls drain the backlog faster than they add. */
	for (i = 0; i < 5000; i++)
		EXPECT_EQ(add_u64(r, 30000 + i, now_ms + 1000),
		    REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 5001);
	/* Expired keys read as new, whether reclaimed yet or not. */
	for (i = 0; i < 10000; i++)
		EXPECT_EQ(add_u64(r, i, now_ms), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(million_keys_advancing_time)
{
	struct replay	*r = new_table(100000);
	int64_t		 t0 = now_ms, ttl;
	uint64_t	 i, n = 1000000;

	/* Under valgrind a fifth of the run covers the same cases. */
	if (getenv("BECKND_TEST_UNDER_VALGRIND") != NULL)
		n = 200000;
	for (i = 0; i < n; i++) {
		now_ms = t0 + (int64_t)i;
		/* Varying ttls: expiry order differs from insertion order. */
		ttl = 20000 + (int64_t)(i * 7919 % 30000);
		EXPECT_EQ(add_u64(r, i, now_ms + ttl), REPLAY_NEW);
		EXPECT(replay_count(r) <= 100000);
		if (i % 997 != 0 || i < 20000)
			continue;
		EXPECT_EQ(add_u64(r, i, now_ms + 1), REPLAY_SEEN);
		EXPECT_EQ(add_u64(r, i - 1, now_ms + 1), REPLAY_SEEN);
		/* Every ttl is >= 20 s: this one is live. */
		EXPECT_EQ(add_u64(r, i - 19999, now_ms + 1),
		    REPLAY_SEEN);
		/* Every ttl is < 50 s: this one expired (and is re-armed
		 * for 1 ms, harmlessly). */
		if (i >= 50000)
			EXPECT_EQ(add_u64(r, i - 50000, now_ms + 1),
			    REPLAY_NEW);
	}
	replay_free(r);
}
END_TEST

/* Naive model: an array of (key, expires). */
struct model {
	uint64_t	 key[64];
	int64_t		 exp[64];
	size_t		 n, max;
};

static enum replay_result
model_add(struct model *m, uint64_t key, int64_t exp, int64_t now)
{
	size_t	 i, live = 0, at = m->n;

	for (i = 0; i < m->n; i++) {
		if (m->exp[i] > now) {
			live++;
			if (m->key[i] == key)
				return REPLAY_SEEN;
		}
		if (m->key[i] == key)
			at = i;
	}
	if (exp <= now)
		return REPLAY_NEW;
	if (at == m->n) {
		if (live == m->max)
			return REPLAY_FULL;
		/* Reuse an expired slot, or append. */
		for (at = 0; at < m->n && m->exp[at] > now; at++)
			;
		if (at == m->n)
			m->n++;
	}
	m->key[at] = key;
	m->exp[at] = exp;
	return REPLAY_NEW;
}

START_TEST(matches_model)
{
	struct model	 m;
	struct replay	*r;
	unsigned	 seed = 4242;
	uint64_t	 key;
	int64_t		 exp;
	int		 i, round;
	size_t		 max;

	for (round = 0; round < 20; round++) {
		max = 1 + (size_t)round % 16;
		r = new_table(max);
		memset(&m, 0, sizeof(m));
		m.max = max;
		for (i = 0; i < 20000; i++) {
			now_ms += rand_r(&seed) % 4;
			key = (uint64_t)(rand_r(&seed) % 40);
			exp = now_ms + rand_r(&seed) % 60 - 5;
			EXPECT_EQ(check_add(r, &key, sizeof(key),
			    exp), model_add(&m, key, exp, now_ms));
		}
		replay_free(r);
	}
}
END_TEST

START_TEST(keys_of_any_length)
{
	struct replay	*r = new_table(1000);
	unsigned char	 buf[300];
	int64_t		 exp = now_ms + 1000;
	size_t		 len;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = 'a';
	/* "", "a", "aa", ...: prefixes of one another, all distinct. */
	for (len = 0; len < sizeof(buf); len++)
		ck_assert_int_eq(check_add(r, buf, len, exp),
		    REPLAY_NEW);
	for (len = 0; len < sizeof(buf); len++)
		ck_assert_int_eq(check_add(r, buf, len, exp),
		    REPLAY_SEEN);
	/* An empty key needs no memory behind it. */
	ck_assert_int_eq(check_add(r, NULL, 0, exp), REPLAY_SEEN);
	ck_assert_int_eq(check_add(r, "ab", 2, exp), REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "ab\0", 3, exp), REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "ab", 2, exp), REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(binary_keys)
{
	struct replay	*r = new_table(20000);
	unsigned char	 sig[64], copy[64];
	int64_t		 exp = now_ms + 1000;
	size_t		 i, bit;

	memset(sig, 0, sizeof(sig));
	ck_assert_int_eq(check_add(r, sig, sizeof(sig), exp),
	    REPLAY_NEW);
	/* Every single-bit neighbour of a signature is another key. */
	for (bit = 0; bit < 512; bit++) {
		memcpy(copy, sig, sizeof(sig));
		copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_int_eq(check_add(r, copy, sizeof(copy), exp),
		    REPLAY_NEW);
	}
	for (bit = 0; bit < 512; bit++) {
		memcpy(copy, sig, sizeof(sig));
		copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_int_eq(check_add(r, copy, sizeof(copy), exp),
		    REPLAY_SEEN);
	}
	/* The table keeps no pointer to caller memory. */
	memset(copy, 0xff, sizeof(copy));
	ck_assert_int_eq(check_add(r, sig, sizeof(sig), exp),
	    REPLAY_SEEN);
	for (i = 0; i < sizeof(sig); i++)
		sig[i] = (unsigned char)(i * 37);
	ck_assert_int_eq(check_add(r, sig, sizeof(sig), exp),
	    REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "sender|msg-1|search", 19, exp),
	    REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "sender|msg-1|select", 19, exp),
	    REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "sender|msg-1|search", 19, exp),
	    REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(bad_limits)
{
	struct replay_limits	 lim;
	struct replay		*r;

	lim = (struct replay_limits){ 0, 1 };
	ck_assert_ptr_null(replay_new(&lim, &mclock));
	lim = (struct replay_limits){ REPLAY_MAX_ENTRIES + 1, 1 };
	ck_assert_ptr_null(replay_new(&lim, &mclock));
	lim = (struct replay_limits){ 10, 0 };
	ck_assert_ptr_null(replay_new(&lim, &mclock));
	ck_assert_ptr_null(replay_new(NULL, &mclock));
	replay_free(NULL);
	/* A quota above the table's size is allowed: it never binds. */
	lim = (struct replay_limits){ 1, 1000 };
	/* The real clock works too. */
	r = replay_new(&lim, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(check_add(r, "k", 1, clock_now_ms(NULL) +
	    60000), REPLAY_NEW);
	ck_assert_int_eq(check_add(r, "k", 1, clock_now_ms(NULL) +
	    60000), REPLAY_SEEN);
	ck_assert_int_eq(check_add(r, "j", 1, clock_now_ms(NULL) +
	    60000), REPLAY_FULL);
	/* Out-of-range limits on reload change nothing. */
	lim = (struct replay_limits){ 0, 1 };
	replay_set_limits(r, &lim);
	lim = (struct replay_limits){ 5, 0 };
	replay_set_limits(r, &lim);
	replay_set_limits(r, NULL);
	ck_assert_int_eq(check_add(r, "j", 1, clock_now_ms(NULL) +
	    60000), REPLAY_FULL);
	ck_assert_int_eq(check_add(r, "k", 1, clock_now_ms(NULL) +
	    60000), REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(check_does_not_record)
{
	struct replay	*r = new_table(2);
	int		 i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(check_u64(r, 1), REPLAY_NEW);
		ck_assert_int_eq(check_u64(r, 2), REPLAY_NEW);
		ck_assert_int_eq(check_u64(r, 3), REPLAY_NEW);
	}
	ck_assert_uint_eq(replay_count(r), 0);
	/* Nor did the checks take room. */
	ck_assert_int_eq(commit2(r, "bap", 1, 2, now_ms + 100), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 3), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 2);
	now_ms += 100;
	ck_assert_int_eq(check_u64(r, 1), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(commit_all_or_nothing_seen)
{
	struct replay	*r = new_table(100);
	int64_t		 exp = now_ms + 1000;

	ck_assert_int_eq(commit1(r, "bap", 1, exp), REPLAY_NEW);
	/* Key 1 is live: key 2 must not be recorded either. */
	ck_assert_int_eq(commit2(r, "bap", 2, 1, exp), REPLAY_SEEN);
	ck_assert_int_eq(commit2(r, "bap", 1, 2, exp), REPLAY_SEEN);
	ck_assert_int_eq(commit2(r, NULL, 2, 1, exp), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 1);
	ck_assert_uint_eq(owner_count(r, "bap"), 1);
	ck_assert_int_eq(commit2(r, "bap", 2, 3, exp), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "bap"), 3);
	/* A key expired on arrival is not recorded but still looked up. */
	ck_assert_int_eq(commit2(r, "bap", 4, 3, now_ms), REPLAY_SEEN);
	ck_assert_int_eq(commit2(r, "bap", 4, 5, now_ms), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 4), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 3);
	ck_assert_uint_eq(owner_count(r, "bap"), 3);
	ck_assert_int_eq(replay_commit(r, "bap", 3, NULL, 0), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(commit_repeated_key)
{
	struct replay		*r = new_table(1);
	uint64_t		 k = 7;
	struct replay_key	 keys[3] = {
		{ &k, sizeof(k), 0 },
		{ &k, sizeof(k), 0 },
		{ &k, sizeof(k), 0 },
	};

	keys[0].expires_at_ms = now_ms + 10;
	keys[1].expires_at_ms = now_ms + 500;
	keys[2].expires_at_ms = now_ms - 5;
	/* One key, one entry (the table holds one), the latest expiry. */
	ck_assert_int_eq(replay_commit(r, "bap", 3, keys, 3), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 1);
	ck_assert_uint_eq(owner_count(r, "bap"), 1);
	now_ms += 499;
	ck_assert_int_eq(check_u64(r, 7), REPLAY_SEEN);
	now_ms += 1;
	ck_assert_int_eq(check_u64(r, 7), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(commit_many_keys)
{
	struct replay		*r = new_table(100);
	struct replay_key	 keys[10];
	uint64_t		 k[10];
	size_t			 i;

	for (i = 0; i < 10; i++) {
		k[i] = 100 + i;
		keys[i] = (struct replay_key){ &k[i], sizeof(k[i]),
		    now_ms + 10 };
	}
	ck_assert_int_eq(commit1(r, NULL, 109, now_ms + 10), REPLAY_NEW);
	ck_assert_int_eq(replay_commit(r, "bap", 3, keys, 10), REPLAY_SEEN);
	ck_assert_uint_eq(replay_count(r), 1);
	ck_assert_int_eq(replay_commit(r, "bap", 3, keys, 9), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 10);
	ck_assert_uint_eq(owner_count(r, "bap"), 9);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(check_u64(r, k[i]), REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(full_leaves_nothing)
{
	struct replay	*r = new_table_quota(3, 100);
	int64_t		 exp = now_ms + 1000;

	ck_assert_int_eq(commit2(r, "a", 1, 2, exp), REPLAY_NEW);
	/* Room for one of two: neither is recorded. */
	ck_assert_int_eq(commit2(r, "a", 3, 4, exp), REPLAY_FULL);
	ck_assert_int_eq(commit2(r, NULL, 3, 4, exp), REPLAY_FULL);
	ck_assert_int_eq(check_u64(r, 3), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 4), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 2);
	ck_assert_uint_eq(owner_count(r, "a"), 2);
	/* A new owner that is refused leaves no owner behind. */
	ck_assert_int_eq(commit2(r, "b", 3, 4, exp), REPLAY_FULL);
	ck_assert_uint_eq(owner_count(r, "b"), 0);
	ck_assert_int_eq(commit1(r, "b", 3, exp), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "b"), 1);
	ck_assert_int_eq(commit1(r, "b", 4, exp), REPLAY_FULL);
	replay_free(r);
}
END_TEST

START_TEST(quota_per_owner)
{
	struct replay	*r = new_table_quota(100, 10);
	int64_t		 t0 = now_ms;
	uint64_t	 i, k;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(commit2(r, "greedy", 2 * i, 2 * i + 1,
		    t0 + 1000), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "greedy"), 10);
	ck_assert_int_eq(commit2(r, "greedy", 100, 101, t0 + 1000),
	    REPLAY_QUOTA);
	ck_assert_int_eq(commit1(r, "greedy", 100, t0 + 1000), REPLAY_QUOTA);
	/* Refused: nothing recorded. */
	ck_assert_int_eq(check_u64(r, 100), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 101), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "greedy"), 10);
	ck_assert_uint_eq(replay_count(r), 10);
	/* A replay is still a replay, quota or not. */
	ck_assert_int_eq(commit2(r, "greedy", 100, 0, t0 + 1000),
	    REPLAY_SEEN);
	/* Another owner is not affected... */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(commit2(r, "modest", 200 + 2 * i,
		    201 + 2 * i, t0 + 2000), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "modest"), 10);
	ck_assert_int_eq(commit1(r, "modest", 300, t0 + 2000), REPLAY_QUOTA);
	/* ...nor are messages without an owner. */
	ck_assert_int_eq(commit2(r, NULL, 400, 401, t0 + 2000), REPLAY_NEW);
	/* Owners are byte strings with lengths. */
	k = 402;
	ck_assert_int_eq(replay_commit(r, "greedy\0", 7,
	    &(struct replay_key){ &k, sizeof(k), t0 + 2000 }, 1), REPLAY_NEW);
	ck_assert_uint_eq(replay_owner_count(r, "greedy\0", 7), 1);
	ck_assert_uint_eq(replay_owner_count(r, "greedy", 6), 10);

	/* The greedy owner's entries expire: it may commit again. */
	now_ms = t0 + 1000;
	ck_assert_int_eq(commit2(r, "greedy", 100, 101, t0 + 3000),
	    REPLAY_NEW);
	ck_assert_uint_le(owner_count(r, "greedy"), 10);
	ck_assert_int_eq(check_u64(r, 100), REPLAY_SEEN);
	ck_assert_int_eq(commit1(r, "modest", 300, t0 + 2000), REPLAY_QUOTA);
	/* One key more than the quota can never fit. */
	replay_set_limits(r, &(struct replay_limits){ 100, 1 });
	ck_assert_int_eq(commit2(r, "fresh", 500, 501, t0 + 3000),
	    REPLAY_QUOTA);
	ck_assert_uint_eq(owner_count(r, "fresh"), 0);
	ck_assert_int_eq(commit1(r, "fresh", 500, t0 + 3000), REPLAY_NEW);
	replay_free(r);
}
END_TEST

START_TEST(quota_before_full)
{
	struct replay	*r = new_table_quota(4, 2);
	int64_t		 exp = now_ms + 1000;

	ck_assert_int_eq(commit2(r, "a", 1, 2, exp), REPLAY_NEW);
	ck_assert_int_eq(commit2(r, "b", 3, 4, exp), REPLAY_NEW);
	/* Both full and over quota: the answer names the sender's share. */
	ck_assert_int_eq(commit1(r, "a", 5, exp), REPLAY_QUOTA);
	ck_assert_int_eq(commit1(r, "c", 5, exp), REPLAY_FULL);
	replay_free(r);
}
END_TEST

START_TEST(quota_sees_through_backlog)
{
	struct replay	*r = new_table_quota(10000, 10);
	int64_t		 t0 = now_ms;
	uint64_t	 i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(commit2(r, "a", 2 * i, 2 * i + 1, t0 + 100),
		    REPLAY_NEW);
	/* Entries of others that expire earlier, then a quiet spell. */
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(commit1(r, NULL, 1000 + i, t0 + 50),
		    REPLAY_NEW);
	now_ms = t0 + 100;
	/*
	 * Lazy reclamation alone would still count a's expired entries;
	 * the would-be QUOTA frees the backlog ahead of them first.
	 */
	ck_assert_uint_eq(owner_count(r, "a"), 10);
	ck_assert_int_eq(commit2(r, "a", 100, 101, t0 + 200), REPLAY_NEW);
	ck_assert_uint_le(owner_count(r, "a"), 10);
	replay_free(r);
}
END_TEST

START_TEST(no_owner_no_quota)
{
	struct replay	*r = new_table_quota(1000, 1);
	uint64_t	 i;
	uint64_t	 k;

	for (i = 0; i < 100; i++)
		ck_assert_int_eq(commit2(r, NULL, 2 * i, 2 * i + 1,
		    now_ms + 10), REPLAY_NEW);
	/* Length 0 is no owner too, whatever the pointer. */
	for (i = 0; i < 100; i++) {
		k = 1000 + i;
		ck_assert_int_eq(replay_commit(r, "ignored", 0,
		    &(struct replay_key){ &k, sizeof(k), now_ms + 10 }, 1),
		    REPLAY_NEW);
	}
	ck_assert_uint_eq(replay_count(r), 300);
	ck_assert_uint_eq(replay_owner_count(r, NULL, 0), 0);
	ck_assert_uint_eq(replay_owner_count(r, "ignored", 0), 0);
	ck_assert_uint_eq(replay_owner_count(r, "nobody", 6), 0);
	ck_assert_int_eq(commit1(r, "one", 5000, now_ms + 10), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, "one", 5001, now_ms + 10), REPLAY_QUOTA);
	replay_free(r);
}
END_TEST

START_TEST(owner_count_drops_on_reclaim)
{
	struct replay	*r = new_table(64);
	size_t		 bytes;
	uint64_t	 i;
	char		 owner[32];

	ck_assert_int_eq(commit2(r, "a", 1, 2, now_ms + 10), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, "a", 3, now_ms + 20), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "a"), 3);
	now_ms += 10;
	/* Any call reclaims a few expired entries. */
	ck_assert_int_eq(check_u64(r, 99), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "a"), 1);
	now_ms += 10;
	ck_assert_int_eq(check_u64(r, 99), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "a"), 0);
	ck_assert_uint_eq(replay_count(r), 0);

	/*
	 * Owners come and go: an owner with no entries frees its slot, so
	 * a stream of distinct senders never grows the owner table past
	 * the entries the table holds.
	 */
	bytes = replay_bytes(r);
	for (i = 0; i < 100000; i++) {
		now_ms++;
		snprintf(owner, sizeof(owner), "bap-%llu",
		    (unsigned long long)i);
		EXPECT_EQ(commit1(r, owner, i, now_ms + 5), REPLAY_NEW);
		EXPECT(replay_count(r) <= 64);
	}
	ck_assert_uint_eq(owner_count(r, owner), 1);
	ck_assert_uint_eq(owner_count(r, "bap-0"), 0);
	ck_assert_uint_le(replay_bytes(r), bytes + 64 * 40);
	replay_free(r);
}
END_TEST

START_TEST(rearm_moves_owner)
{
	struct replay	*r = new_table(100);
	int64_t		 t0 = now_ms;
	uint64_t	 i;

	/* Earlier-expiring fillers keep k's entry unreclaimed for a while. */
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(commit1(r, NULL, 1000 + i, t0 + 5),
		    REPLAY_NEW);
	ck_assert_int_eq(commit1(r, "a", 7, t0 + 10), REPLAY_NEW);
	now_ms = t0 + 10;
	ck_assert_int_eq(commit1(r, "b", 7, t0 + 100), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "a"), 0);
	ck_assert_uint_eq(owner_count(r, "b"), 1);
	ck_assert_int_eq(check_u64(r, 7), REPLAY_SEEN);
	now_ms = t0 + 99;
	ck_assert_int_eq(check_u64(r, 7), REPLAY_SEEN);
	ck_assert_int_eq(commit1(r, NULL, 7, t0 + 200), REPLAY_SEEN);
	now_ms = t0 + 100;
	ck_assert_int_eq(commit1(r, NULL, 7, t0 + 200), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "b"), 0);
	ck_assert_uint_eq(replay_count(r), 1);

	/* One slot, held by an expired entry of another owner. */
	replay_free(r);
	r = new_table(1);
	ck_assert_int_eq(commit1(r, "a", 1, now_ms + 10), REPLAY_NEW);
	now_ms += 10;
	ck_assert_int_eq(commit1(r, "b", 1, now_ms + 10), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "b"), 1);
	ck_assert_uint_eq(owner_count(r, "a"), 0);
	replay_free(r);
}
END_TEST

START_TEST(growth_keeps_every_entry)
{
	struct replay	*r;
	size_t		 idle, bytes;
	uint64_t	 i, n = 100000;
	int64_t		 exp;
	char		 owner[32];

	r = new_table_quota(2000000, 100000);
	/* Memory follows use: an idle table costs well under a megabyte. */
	idle = replay_bytes(r);
	ck_assert_uint_lt(idle, 1 << 20);
	exp = now_ms + 60000;
	for (i = 0; i < n; i += 2) {
		snprintf(owner, sizeof(owner), "bap-%llu",
		    (unsigned long long)(i % 1000));
		EXPECT_EQ(commit2(r, owner, i, i + 1, exp + (int64_t)i),
		    REPLAY_NEW);
	}
	ck_assert_uint_eq(replay_count(r), n);
	ck_assert_uint_eq(owner_count(r, "bap-0"), 200);
	bytes = replay_bytes(r);
	ck_assert_uint_gt(bytes, idle);
	/* 64 bytes per entry of capacity, a power of two above n. */
	ck_assert_uint_le(bytes, n * 100);
	for (i = 0; i < n; i++)
		EXPECT_EQ(check_u64(r, i), REPLAY_SEEN);
	ck_assert_int_eq(commit1(r, NULL, n - 1, exp + 500000), REPLAY_SEEN);
	now_ms = exp + (int64_t)n;
	for (i = 0; i < n; i++)
		EXPECT_EQ(check_u64(r, i), REPLAY_NEW);
	/* Never shrinks. */
	ck_assert_uint_eq(replay_bytes(r), bytes);
	replay_free(r);
}
END_TEST

START_TEST(set_limits)
{
	struct replay	*r = new_table_quota(10, 10);
	int64_t		 t0 = now_ms;
	uint64_t	 i;
	size_t		 bytes;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(commit1(r, "a", i, t0 + 100 + (int64_t)i),
		    REPLAY_NEW);
	/* Lowering below the count refuses, but forgets nothing. */
	replay_set_limits(r, &(struct replay_limits){ 5, 10 });
	ck_assert_int_eq(commit1(r, NULL, 50, t0 + 1000), REPLAY_FULL);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(check_u64(r, i), REPLAY_SEEN);
	ck_assert_uint_eq(replay_count(r), 8);
	/* Three expire: 5 held, still no room. */
	now_ms = t0 + 102;
	ck_assert_int_eq(commit1(r, NULL, 50, t0 + 1000), REPLAY_FULL);
	ck_assert_uint_eq(replay_count(r), 5);
	now_ms = t0 + 103;
	ck_assert_int_eq(commit1(r, NULL, 50, t0 + 1000), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, NULL, 51, t0 + 1000), REPLAY_FULL);
	for (i = 4; i < 8; i++)
		ck_assert_int_eq(check_u64(r, i), REPLAY_SEEN);
	/* A lowered quota likewise. */
	replay_set_limits(r, &(struct replay_limits){ 10, 2 });
	ck_assert_int_eq(commit1(r, "a", 51, t0 + 1000), REPLAY_QUOTA);
	ck_assert_int_eq(commit1(r, "b", 51, t0 + 1000), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "a"), 4);
	/* A commit that records nothing needs neither room nor quota. */
	replay_set_limits(r, &(struct replay_limits){ 1, 1 });
	ck_assert_int_eq(commit2(r, "a", 60, 61, now_ms), REPLAY_NEW);
	ck_assert_int_eq(commit2(r, "a", 60, 7, now_ms), REPLAY_SEEN);
	ck_assert_int_eq(commit2(r, "a", 60, 61, now_ms + 1), REPLAY_QUOTA);
	ck_assert_int_eq(commit2(r, NULL, 60, 61, now_ms + 1), REPLAY_FULL);
	ck_assert_uint_eq(replay_count(r), 6);

	/* Raising lets the table grow past its first capacity. */
	replay_free(r);
	r = new_table_quota(5000, 5000);
	for (i = 0; i < 5000; i++)
		EXPECT_EQ(commit1(r, NULL, i, t0 + 100), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, NULL, 5000, t0 + 100), REPLAY_FULL);
	bytes = replay_bytes(r);
	/*
	 * Growth stops at max_entries, not the next power of two: 48 bytes
	 * of entry and heap each, the index a power of two (replay.h).
	 */
	ck_assert_uint_le(bytes, 5000 * 48 + 16384 * 8 + 4096);
	replay_set_limits(r, &(struct replay_limits){ 20000, 20000 });
	for (i = 5000; i < 20000; i++)
		EXPECT_EQ(commit1(r, NULL, i, t0 + 100), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, NULL, 20000, t0 + 100), REPLAY_FULL);
	ck_assert_uint_gt(replay_bytes(r), bytes);
	/* Lowering again: nothing forgotten, nothing freed. */
	bytes = replay_bytes(r);
	replay_set_limits(r, &(struct replay_limits){ 1000, 1000 });
	for (i = 0; i < 20000; i++)
		EXPECT_EQ(check_u64(r, i), REPLAY_SEEN);
	ck_assert_int_eq(commit1(r, NULL, 20000, t0 + 100), REPLAY_FULL);
	ck_assert_uint_eq(replay_bytes(r), bytes);
	/*
	 * Once everything expired, commits get in again as soon as
	 * reclamation caught up: a refused commit frees over a thousand
	 * expired entries, so a backlog of 19,000 takes under 20.
	 */
	now_ms = t0 + 100;
	for (i = 0; commit1(r, NULL, 30000, t0 + 200) == REPLAY_FULL; i++)
		ck_assert_uint_lt(i, 20);
	ck_assert_uint_gt(i, 0);
	ck_assert_uint_le(replay_count(r), 1000);
	for (i = 1; i < 1000; i++)
		EXPECT_EQ(commit1(r, NULL, 30000 + i, t0 + 200),
		    REPLAY_NEW);
	ck_assert_int_eq(commit1(r, NULL, 40000, t0 + 200), REPLAY_FULL);
	replay_free(r);
}
END_TEST

/*
 * Naive model with owners: live entries only, every answer exact.  The
 * table may hold expired entries a while longer, but must answer the
 * same (its backlog here is far below what a refused commit reclaims).
 */
struct omodel {
	uint64_t	 key[64];
	int64_t		 exp[64];
	int		 owner[64];
	size_t		 n, max, quota;
};

static void
omodel_expire(struct omodel *m, int64_t now)
{
	size_t	 i;

	for (i = 0; i < m->n;)
		if (m->exp[i] <= now) {
			m->n--;
			m->key[i] = m->key[m->n];
			m->exp[i] = m->exp[m->n];
			m->owner[i] = m->owner[m->n];
		} else
			i++;
}

static int
omodel_live(const struct omodel *m, uint64_t key)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		if (m->key[i] == key)
			return 1;
	return 0;
}

static size_t
omodel_owned(const struct omodel *m, int owner)
{
	size_t	 i, c = 0;

	for (i = 0; i < m->n; i++)
		c += m->owner[i] == owner;
	return c;
}

/* replay_release(): the owner's entries of these keys go. */
static void
omodel_release(struct omodel *m, int owner, const uint64_t *k, size_t nk)
{
	size_t	 i, j;

	for (i = 0; i < m->n;) {
		for (j = 0; j < nk && m->key[i] != k[j]; j++)
			;
		if (j < nk && m->owner[i] == owner) {
			m->n--;
			m->key[i] = m->key[m->n];
			m->exp[i] = m->exp[m->n];
			m->owner[i] = m->owner[m->n];
		} else
			i++;
	}
}

static enum replay_result
omodel_commit(struct omodel *m, int owner, const uint64_t *k,
    const int64_t *e, size_t nk, int64_t now)
{
	uint64_t	 rk[2];
	int64_t		 re[2];
	size_t		 i, j, nr = 0;

	omodel_expire(m, now);
	for (i = 0; i < nk; i++)
		if (omodel_live(m, k[i]))
			return REPLAY_SEEN;
	for (i = 0; i < nk; i++) {
		for (j = 0; j < nr && rk[j] != k[i]; j++)
			;
		if (j < nr) {
			if (e[i] > re[j])
				re[j] = e[i];
			continue;
		}
		rk[nr] = k[i];
		re[nr++] = e[i];
	}
	for (i = 0; i < nr;)
		if (re[i] <= now) {
			nr--;
			rk[i] = rk[nr];
			re[i] = re[nr];
		} else
			i++;
	if (nr > 0 && owner >= 0 && omodel_owned(m, owner) + nr > m->quota)
		return REPLAY_QUOTA;
	if (nr > 0 && m->n + nr > m->max)
		return REPLAY_FULL;
	for (i = 0; i < nr; i++) {
		m->key[m->n] = rk[i];
		m->exp[m->n] = re[i];
		m->owner[m->n++] = owner;
	}
	return REPLAY_NEW;
}

/*
 * Random commits and checks against the model, with (loop 1) a NEW commit
 * released now and then, as the proxy does when the store fails: the
 * heap, index and owner counts stay right through removals anywhere.
 */
START_TEST(matches_owner_model)
{
	static const char *const owners[] = { "a", "b", "c", "a\0" };
	struct omodel		 m;
	struct replay		*r;
	struct replay_key	 keys[2];
	struct replay_limits	 lim;
	unsigned		 seed = 777;
	uint64_t		 k[2];
	int64_t			 e[2];
	enum replay_result	 res;
	const char		*on;
	int			 i, round, owner;
	size_t			 nk, j, olen;

	for (round = 0; round < 30; round++) {
		lim.max_entries = 1 + (size_t)round % 16;
		lim.owner_quota = 1 + (size_t)rand_r(&seed) % 8;
		r = new_table_quota(lim.max_entries, lim.owner_quota);
		memset(&m, 0, sizeof(m));
		m.max = lim.max_entries;
		m.quota = lim.owner_quota;
		for (i = 0; i < 20000; i++) {
			now_ms += rand_r(&seed) % 3;
			if (rand_r(&seed) % 1000 == 0) {
				lim.max_entries = 1 + (size_t)rand_r(&seed) %
				    24;
				lim.owner_quota = 1 + (size_t)rand_r(&seed) %
				    8;
				replay_set_limits(r, &lim);
				m.max = lim.max_entries;
				m.quota = lim.owner_quota;
			}
			if (rand_r(&seed) % 4 == 0) {
				k[0] = (uint64_t)(rand_r(&seed) % 30);
				omodel_expire(&m, now_ms);
				EXPECT_EQ(check_u64(r, k[0]),
				    omodel_live(&m, k[0]) ? REPLAY_SEEN :
				    REPLAY_NEW);
				continue;
			}
			nk = 1 + (size_t)rand_r(&seed) % 2;
			for (j = 0; j < nk; j++) {
				k[j] = (uint64_t)(rand_r(&seed) % 30);
				e[j] = now_ms + rand_r(&seed) % 40 - 5;
				keys[j] = (struct replay_key){ &k[j],
				    sizeof(k[j]), e[j] };
			}
			owner = rand_r(&seed) % 5 - 1;
			on = owner >= 0 ? owners[owner] : NULL;
			olen = owner >= 0 ? strlen(on) + (owner == 3) : 0;
			res = replay_commit(r, on, olen, keys, nk);
			EXPECT_EQ(res, omodel_commit(&m, owner, k, e, nk,
			    now_ms));
			if (_i == 1 && res == REPLAY_NEW &&
			    rand_r(&seed) % 3 == 0) {
				replay_release(r, on, olen, keys, nk);
				omodel_release(&m, owner, k, nk);
				for (j = 0; j < nk; j++)
					EXPECT_EQ(check_u64(r, k[j]),
					    omodel_live(&m, k[j]) ?
					    REPLAY_SEEN : REPLAY_NEW);
			}
			/* The table holds at least the live entries. */
			EXPECT(replay_count(r) >= m.n);
			if (owner >= 0)
				EXPECT(replay_owner_count(r, on, olen) >=
				    omodel_owned(&m, owner));
		}
		replay_free(r);
	}
}
END_TEST

/* A released commit is undone: the same message gets in again. */
START_TEST(release_undoes_commit)
{
	struct replay		*r = new_table_quota(100, 2);
	uint64_t		 a = 1, b = 2;
	int64_t			 exp = now_ms + 1000;
	struct replay_key	 k[2] = {
		{ &a, sizeof(a), exp },
		{ &b, sizeof(b), exp },
	};

	ck_assert_int_eq(replay_commit(r, "bap", 3, k, 2), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_SEEN);
	ck_assert_uint_eq(owner_count(r, "bap"), 2);
	/* At its quota: another message of bap is refused. */
	ck_assert_int_eq(commit1(r, "bap", 3, exp), REPLAY_QUOTA);

	replay_release(r, "bap", 3, k, 2);
	ck_assert_uint_eq(owner_count(r, "bap"), 0);
	ck_assert_uint_eq(replay_count(r), 0);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_NEW);
	/* The retry is NEW, and the quota is back at once. */
	ck_assert_int_eq(replay_commit(r, "bap", 3, k, 2), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "bap"), 2);
	ck_assert_int_eq(replay_commit(r, "bap", 3, k, 2), REPLAY_SEEN);
	replay_release(r, "bap", 3, k, 2);
	ck_assert_int_eq(commit1(r, "bap", 3, exp), REPLAY_NEW);
	ck_assert_uint_eq(owner_count(r, "bap"), 1);

	/* No owner: the entries held by no owner. */
	ck_assert_int_eq(replay_commit(r, NULL, 0, k, 2), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 3);
	replay_release(r, NULL, 0, k, 2);
	ck_assert_uint_eq(replay_count(r), 1);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 3), REPLAY_SEEN);
	replay_free(r);
}
END_TEST

/* Unknown keys and owners are ignored; no other entry is touched. */
START_TEST(release_touches_only_its_keys)
{
	struct replay		*r = new_table(100);
	uint64_t		 x = 1, y = 2, z = 99;
	int64_t			 exp = now_ms + 1000;
	struct replay_key	 kx = { &x, sizeof(x), exp };
	struct replay_key	 ky = { &y, sizeof(y), exp };
	struct replay_key	 kz = { &z, sizeof(z), exp };
	struct replay_key	 kxz[2] = { kx, kz };
	uint64_t		 i;

	ck_assert_int_eq(commit1(r, "a", 1, exp), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, "b", 2, exp), REPLAY_NEW);
	ck_assert_int_eq(commit1(r, NULL, 3, exp), REPLAY_NEW);
	/* Nothing there, n 0, an unknown owner, another owner's key. */
	replay_release(r, "a", 1, &kz, 1);
	replay_release(r, "a", 1, NULL, 0);
	replay_release(r, "nobody", 6, &kx, 1);
	replay_release(r, "a", 1, &ky, 1);
	replay_release(r, NULL, 0, &kx, 1);
	replay_release(r, "a\0", 2, &kx, 1);
	ck_assert_uint_eq(replay_count(r), 3);
	ck_assert_uint_eq(owner_count(r, "a"), 1);
	ck_assert_uint_eq(owner_count(r, "b"), 1);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 3), REPLAY_SEEN);
	/* a's key goes, the unknown one next to it is ignored. */
	replay_release(r, "a", 1, kxz, 2);
	ck_assert_int_eq(check_u64(r, 1), REPLAY_NEW);
	ck_assert_int_eq(check_u64(r, 2), REPLAY_SEEN);
	ck_assert_int_eq(check_u64(r, 3), REPLAY_SEEN);
	ck_assert_uint_eq(owner_count(r, "a"), 0);
	ck_assert_uint_eq(owner_count(r, "b"), 1);
	/* Twice: harmless. */
	replay_release(r, "a", 1, kxz, 2);
	ck_assert_uint_eq(replay_count(r), 2);

	/*
	 * Released from the middle of the expiry heap: the others still
	 * expire in order and are reclaimed, the slots reused.
	 */
	for (i = 100; i < 164; i++)
		ck_assert_int_eq(commit1(r, "c", i, now_ms + 2000 -
		    (int64_t)i), REPLAY_NEW);
	for (i = 100; i < 164; i += 3) {
		kx.key = &i;
		kx.expires_at_ms = now_ms + 2000 - (int64_t)i;
		replay_release(r, "c", 1, &kx, 1);
	}
	ck_assert_uint_eq(owner_count(r, "c"), 64 - 22);
	for (i = 100; i < 164; i++)
		ck_assert_int_eq(check_u64(r, i),
		    (i - 100) % 3 == 0 ? REPLAY_NEW : REPLAY_SEEN);
	now_ms += 2000 - 130;
	for (i = 0; i < 40; i++)
		check_u64(r, 1000);
	for (i = 100; i < 164; i++)
		ck_assert_int_eq(check_u64(r, i), i >= 130 ||
		    (i - 100) % 3 == 0 ? REPLAY_NEW : REPLAY_SEEN);
	/* Every expired one reclaimed: c holds its 20 live keys only. */
	ck_assert_uint_eq(owner_count(r, "c"), 20);
	ck_assert_uint_eq(replay_count(r), 20);
	replay_free(r);
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite	*s = suite_create("replay");
	TCase	*tc;

	tc = tcase_create("cache");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, new_then_seen);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, already_expired_not_stored);
	tcase_add_test(tc, full_with_live_entries);
	tcase_add_test(tc, full_reclaims_earliest_expiry_not_oldest);
	tcase_add_test(tc, reclaim_is_incremental);
	tcase_add_test(tc, million_keys_advancing_time);
	tcase_add_test(tc, matches_model);
	tcase_add_test(tc, keys_of_any_length);
	tcase_add_test(tc, binary_keys);
	tcase_add_test(tc, bad_limits);
	tcase_add_test(tc, check_does_not_record);
	tcase_add_test(tc, commit_all_or_nothing_seen);
	tcase_add_test(tc, commit_repeated_key);
	tcase_add_test(tc, commit_many_keys);
	tcase_add_test(tc, full_leaves_nothing);
	tcase_add_test(tc, quota_per_owner);
	tcase_add_test(tc, quota_before_full);
	tcase_add_test(tc, quota_sees_through_backlog);
	tcase_add_test(tc, no_owner_no_quota);
	tcase_add_test(tc, owner_count_drops_on_reclaim);
	tcase_add_test(tc, rearm_moves_owner);
	tcase_add_test(tc, growth_keeps_every_entry);
	tcase_add_test(tc, set_limits);
	tcase_add_loop_test(tc, matches_owner_model, 0, 2);
	tcase_add_test(tc, release_undoes_commit);
	tcase_add_test(tc, release_touches_only_its_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(replay_suite());
}

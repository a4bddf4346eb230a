/*
 * check_replay.c - replay cache on a manual clock, and its keyed hash.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "testutil.h"
#include "replay/replay.h"
#include "replay/replay_hash.h"
#include "util/clock.h"

static int64_t		 now_ms;
static struct clock	 mclock = { clock_manual_now_ms, &now_ms };

static struct replay *
new_table(size_t max)
{
	struct replay	*r;

	now_ms = 1700000000000LL;
	r = replay_new(max, &mclock);
	ck_assert_ptr_nonnull(r);
	return r;
}

static enum replay_result
add_str(struct replay *r, const char *key, int64_t expires)
{
	return replay_check_add(r, key, strlen(key), expires);
}

static enum replay_result
add_u64(struct replay *r, uint64_t key, int64_t expires)
{
	return replay_check_add(r, &key, sizeof(key), expires);
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
		ck_assert_int_eq(add_u64(r, i, now_ms + 1000), REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 10000);
	now_ms += 1000;
	/* One call after mass expiry does a few entries' work, not all. */
	before = replay_count(r);
	ck_assert_int_eq(add_u64(r, 20000, now_ms + 1000), REPLAY_NEW);
	ck_assert_uint_ge(replay_count(r), before - 16);
	/* Yet calls drain the backlog faster than they add. */
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(add_u64(r, 30000 + i, now_ms + 1000),
		    REPLAY_NEW);
	ck_assert_uint_eq(replay_count(r), 5001);
	/* Expired keys read as new, whether reclaimed yet or not. */
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(add_u64(r, i, now_ms), REPLAY_NEW);
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
		ck_assert_int_eq(add_u64(r, i, now_ms + ttl), REPLAY_NEW);
		ck_assert_uint_le(replay_count(r), 100000);
		if (i % 997 != 0 || i < 20000)
			continue;
		ck_assert_int_eq(add_u64(r, i, now_ms + 1), REPLAY_SEEN);
		ck_assert_int_eq(add_u64(r, i - 1, now_ms + 1), REPLAY_SEEN);
		/* Every ttl is >= 20 s: this one is live. */
		ck_assert_int_eq(add_u64(r, i - 19999, now_ms + 1),
		    REPLAY_SEEN);
		/* Every ttl is < 50 s: this one expired (and is re-armed
		 * for 1 ms, harmlessly). */
		if (i >= 50000)
			ck_assert_int_eq(add_u64(r, i - 50000, now_ms + 1),
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
			ck_assert_int_eq(replay_check_add(r, &key, sizeof(key),
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
		ck_assert_int_eq(replay_check_add(r, buf, len, exp),
		    REPLAY_NEW);
	for (len = 0; len < sizeof(buf); len++)
		ck_assert_int_eq(replay_check_add(r, buf, len, exp),
		    REPLAY_SEEN);
	/* An empty key needs no memory behind it. */
	ck_assert_int_eq(replay_check_add(r, NULL, 0, exp), REPLAY_SEEN);
	ck_assert_int_eq(replay_check_add(r, "ab", 2, exp), REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "ab\0", 3, exp), REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "ab", 2, exp), REPLAY_SEEN);
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
	ck_assert_int_eq(replay_check_add(r, sig, sizeof(sig), exp),
	    REPLAY_NEW);
	/* Every single-bit neighbour of a signature is another key. */
	for (bit = 0; bit < 512; bit++) {
		memcpy(copy, sig, sizeof(sig));
		copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_int_eq(replay_check_add(r, copy, sizeof(copy), exp),
		    REPLAY_NEW);
	}
	for (bit = 0; bit < 512; bit++) {
		memcpy(copy, sig, sizeof(sig));
		copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_int_eq(replay_check_add(r, copy, sizeof(copy), exp),
		    REPLAY_SEEN);
	}
	/* The table keeps no pointer to caller memory. */
	memset(copy, 0xff, sizeof(copy));
	ck_assert_int_eq(replay_check_add(r, sig, sizeof(sig), exp),
	    REPLAY_SEEN);
	for (i = 0; i < sizeof(sig); i++)
		sig[i] = (unsigned char)(i * 37);
	ck_assert_int_eq(replay_check_add(r, sig, sizeof(sig), exp),
	    REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "sender|msg-1|search", 19, exp),
	    REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "sender|msg-1|select", 19, exp),
	    REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "sender|msg-1|search", 19, exp),
	    REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(bad_sizes)
{
	struct replay	*r;

	ck_assert_ptr_null(replay_new(0, &mclock));
	ck_assert_ptr_null(replay_new(REPLAY_MAX_ENTRIES + 1, &mclock));
	replay_free(NULL);
	/* The real clock works too. */
	r = replay_new(1, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(replay_check_add(r, "k", 1, clock_now_ms(NULL) +
	    60000), REPLAY_NEW);
	ck_assert_int_eq(replay_check_add(r, "k", 1, clock_now_ms(NULL) +
	    60000), REPLAY_SEEN);
	ck_assert_int_eq(replay_check_add(r, "j", 1, clock_now_ms(NULL) +
	    60000), REPLAY_FULL);
	replay_free(r);
}
END_TEST

/* SipHash-2-4-128 against OpenSSL's implementation. */
static void
openssl_siphash128(const unsigned char key[16], const unsigned char *in,
    size_t len, unsigned char out[16])
{
	EVP_MAC		*mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	size_t		 size = 16, outlen = 0;

	ck_assert_ptr_nonnull(mac);
	ctx = EVP_MAC_CTX_new(mac);
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	ck_assert_int_eq(EVP_MAC_init(ctx, key, 16, params), 1);
	ck_assert_int_eq(EVP_MAC_update(ctx, in, len), 1);
	ck_assert_int_eq(EVP_MAC_final(ctx, out, &outlen, 16), 1);
	ck_assert_uint_eq(outlen, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

static void
u64_le(uint64_t v, unsigned char *p)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

START_TEST(siphash_vectors)
{
	/* Reference vector: key 00..0f, empty message. */
	static const unsigned char empty[16] = {
		0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
		0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93,
	};
	unsigned char	 key[16], in[256], want[16], got[16];
	uint64_t	 h[2];
	size_t		 i, len;

	for (i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	replay_siphash128(key, in, 0, h);
	u64_le(h[0], got);
	u64_le(h[1], got + 8);
	ck_assert(memcmp(got, empty, 16) == 0);
	for (len = 0; len <= sizeof(in); len++) {
		openssl_siphash128(key, in, len, want);
		replay_siphash128(key, in, len, h);
		u64_le(h[0], got);
		u64_le(h[1], got + 8);
		ck_assert_msg(memcmp(got, want, 16) == 0, "length %zu", len);
	}
	/* Unaligned input. */
	openssl_siphash128(key, in + 1, 63, want);
	replay_siphash128(key, in + 1, 63, h);
	u64_le(h[0], got);
	u64_le(h[1], got + 8);
	ck_assert(memcmp(got, want, 16) == 0);
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
	tcase_add_test(tc, bad_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_test(tc, siphash_vectors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(replay_suite());
}

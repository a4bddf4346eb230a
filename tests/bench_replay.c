/*
 * bench_replay.c - replay cache figures: ns per replay_check() and per
 * two-key replay_commit() as the daemon calls them (the 64-byte signature
 * and "receiver|sender|message_id|action", 100 senders with a quota), on
 * tables kept about half full by advancing a manual clock; then the bytes
 * a table costs per entry held as it grows.  Prints figures; fails only
 * when the cache answers wrongly, never on speed.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replay/replay.h"
#include "util/clock.h"

#define SENDERS		100
#define WINDOW_MS	30000

struct msg {
	unsigned char	 sig[64];
	char		 id[128];
	char		 sender[32];
	size_t		 idlen, senderlen;
};

static double
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
make_msg(struct msg *m, uint64_t *x)
{
	uint64_t	 v = 0;
	int		 j, n;

	for (j = 0; j < 64; j += 8) {
		v = xorshift(x);
		memcpy(m->sig + j, &v, 8);
	}
	n = snprintf(m->sender, sizeof(m->sender), "bap%02u.example.com",
	    (unsigned)(v % SENDERS));
	m->senderlen = (size_t)n;
	n = snprintf(m->id, sizeof(m->id), "bpp.example.com|%s|%016" PRIx64
	    "-0000-4000-8000-000000000000|search", m->sender, v);
	m->idlen = (size_t)n;
}

/*
 * Messages arrive at a rate that keeps about table/2 keys live over the
 * window.  In batches (so that reading the clock costs little): check
 * both keys of every message, plus a replay of an earlier one every 16
 * (a SEEN answer), then commit them all.
 */
#define BATCH	256

static int
bench_flow(size_t table)
{
	static struct msg	 m[BATCH];
	/* Signatures committed in the batch before: replays. */
	static unsigned char	 prev[BATCH / 16][64];
	int64_t			 now = 1700000000000LL, t0 = now;
	int64_t			 at[BATCH];
	struct clock		 c = { clock_manual_now_ms, &now };
	struct replay_limits	 lim = { table, table / 4 };
	struct replay		*r;
	struct replay_key	 k[2];
	uint64_t		 i, j, x = 88172645463325252ULL, bad = 0;
	uint64_t		 nmsg, nchecks = 0, ncommits = 0;
	double			 tc = 0, tm = 0, t;
	/*
	 * Messages per ms for ~table/2 live keys: each holds a signature
	 * for WINDOW_MS / 6 and an id for WINDOW_MS (7/6 of a window).
	 */
	double			 rate = (double)table * 3 / 7 / WINDOW_MS;

	if ((r = replay_new(&lim, &c)) == NULL)
		return -1;
	/* Reach steady state first, then measure as long again. */
	nmsg = (uint64_t)(rate * WINDOW_MS * 4);
	if (nmsg < 1000000)
		nmsg = 1000000;
	for (i = 0; i < 2 * nmsg; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			make_msg(&m[j], &x);
			at[j] = t0 + (int64_t)((double)(i + j) / rate);
		}
		t = mono_s();
		for (j = 0; j < BATCH; j++) {
			now = at[j];
			if (replay_check(r, m[j].sig, sizeof(m[j].sig)) !=
			    REPLAY_NEW ||
			    replay_check(r, m[j].id, m[j].idlen) != REPLAY_NEW)
				bad++;
			if (j % 16 == 15 && i > 0 && replay_check(r,
			    prev[j / 16], sizeof(prev[0])) != REPLAY_SEEN)
				bad++;
		}
		if (i >= nmsg) {
			tc += mono_s() - t;
			nchecks += BATCH * 2 + BATCH / 16;
		}
		t = mono_s();
		for (j = 0; j < BATCH; j++) {
			now = at[j];
			k[0] = (struct replay_key){ m[j].sig, sizeof(m[j].sig),
			    now + WINDOW_MS / 6 };
			k[1] = (struct replay_key){ m[j].id, m[j].idlen,
			    now + WINDOW_MS };
			if (replay_commit(r, m[j].sender, m[j].senderlen, k,
			    2) != REPLAY_NEW)
				bad++;
		}
		if (i >= nmsg) {
			tm += mono_s() - t;
			ncommits += BATCH;
		}
		for (j = 0; j < BATCH / 16; j++)
			memcpy(prev[j], m[j * 16].sig, sizeof(prev[j]));
	}
	printf("replay: table %7zu, %7zu held, %9zu bytes: check %3.0f ns, "
	    "commit (2 keys) %3.0f ns, %.2f M msg/s\n", table,
	    replay_count(r), replay_bytes(r), tc * 1e9 / (double)nchecks,
	    tm * 1e9 / (double)ncommits,
	    (double)ncommits / (tc + tm) / 1e6);
	replay_free(r);
	return bad == 0 ? 0 : -1;
}

/* Bytes per entry held as a table of 2,000,000 fills. */
static int
bench_memory(void)
{
	static const size_t	 sizes[] = { 0, 1000, 10000, 100000, 1000000,
				    2000000 };
	int64_t			 now = 1700000000000LL;
	struct clock		 c = { clock_manual_now_ms, &now };
	struct replay_limits	 lim = { 2000000, 2000000 };
	struct replay		*r;
	struct replay_key	 k;
	uint64_t		 key = 0;
	size_t			 i;
	int			 bad = 0;

	if ((r = replay_new(&lim, &c)) == NULL)
		return -1;
	k.len = sizeof(key);
	k.key = &key;
	k.expires_at_ms = now + 60000;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (; key < sizes[i]; key++)
			if (replay_commit(r, "bap.example.com", 15, &k, 1) !=
			    REPLAY_NEW)
				bad++;
		if (sizes[i] == 0)
			printf("replay: max 2000000, idle: %zu bytes\n",
			    replay_bytes(r));
		else
			printf("replay: max 2000000, %7zu held: %10zu "
			    "bytes, %5.1f bytes/entry\n", sizes[i],
			    replay_bytes(r),
			    (double)replay_bytes(r) / (double)sizes[i]);
	}
	replay_free(r);
	return bad == 0 ? 0 : -1;
}

int
main(void)
{
	static const size_t	 tables[] = { 20000, 200000, 2000000 };
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (bench_flow(tables[i]) == -1)
			rc = 1;
	if (bench_memory() == -1)
		rc = 1;
	if (rc != 0)
		printf("replay: wrong answers\n");
	return rc;
}

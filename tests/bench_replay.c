/*
 * bench_replay.c - replay cache throughput: two keys per message (the
 * 64-byte signature and "sender|message_id|action") on a table kept
 * about half full by advancing a manual clock.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replay/replay.h"
#include "util/clock.h"

#define MESSAGES	2000000
#define TABLE		200000
#define WINDOW_MS	30000

static double
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(void)
{
	int64_t		 now = 1700000000000LL;
	struct clock	 c = { clock_manual_now_ms, &now };
	struct replay	*r;
	unsigned char	 sig[64];
	char		 id[96];
	uint64_t	 i, x = 88172645463325252ULL, seen = 0;
	double		 t0, dt;
	int		 n, j;

	if ((r = replay_new(TABLE, &c)) == NULL)
		return 1;
	t0 = mono_s();
	for (i = 0; i < MESSAGES; i++) {
		/* 3.3 messages per ms: ~100k live keys of 200k. */
		now = 1700000000000LL + (int64_t)(i * 3 / 10);
		for (j = 0; j < 64; j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(sig + j, &x, 8);
		}
		n = snprintf(id, sizeof(id), "bap.example.com|%016" PRIx64
		    "-0000-4000-8000-000000000000|search", x);
		if (replay_check_add(r, sig, sizeof(sig), now + 5000) !=
		    REPLAY_NEW ||
		    replay_check_add(r, id, (size_t)n, now + WINDOW_MS) !=
		    REPLAY_NEW)
			seen++;
	}
	dt = mono_s() - t0;
	printf("replay: %d messages (2 keys each), table %d: %.0f msg/s, "
	    "%.0f ns/key, %" PRIu64 " rejected, %zu held\n", MESSAGES, TABLE,
	    MESSAGES / dt, dt * 1e9 / (2.0 * MESSAGES), seen,
	    replay_count(r));
	replay_free(r);
	return seen == 0 ? 0 : 1;
}

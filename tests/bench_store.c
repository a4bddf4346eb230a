/*
 * bench_store.c - what the durable store costs per message as the daemon
 * uses it: one record with a 5 KB body, two replay keys and a delivery,
 * then its "delivered" update, with W records in flight at once (W = 1,
 * 16, 64: the loop hands the writer whatever arrived meanwhile, so W is
 * the largest group a commit can hold).  Prints µs of CPU (both threads)
 * and of wall time per message, commits per message and the file's size;
 * fails only when a record is not committed, never on speed.
 */
#include "config.h"

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "store/store.h"

#define BODY	5120

struct run {
	struct event_base	*base;
	struct store		*s;
	char			 body[BODY];
	int			 total, sent, done, failed, window;
};

static double
cpu_s(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void	send_one(struct run *);

static void
done_cb(int ok, const char *reason, void *arg)
{
	struct run	*r = arg;
	char		 id[64];

	if (!ok) {
		r->failed++;
		fprintf(stderr, "bench_store: not committed: %s\n", reason);
	}
	snprintf(id, sizeof(id), "d-%d", r->done);
	store_delivery(r->s, id, "delivered", 1, NULL, 1);
	if (++r->done == r->total)
		event_base_loopbreak(r->base);
	else if (r->sent < r->total)
		send_one(r);
}

static void
send_one(struct run *r)
{
	struct store_msg	 m;
	struct store_replay_key	 k[2];
	char			 mid[64], did[64], sig[80], key[160];
	int			 i, n = r->sent++;

	/* Random ids, as UUIDs are: index inserts land anywhere. */
	snprintf(mid, sizeof(mid), "%08x-%04x-4%03x-a%03x-%012llx",
	    (unsigned)random(), (unsigned)random() & 0xffff,
	    (unsigned)random() & 0xfff, (unsigned)random() & 0xfff,
	    (unsigned long long)random() << 16 ^ (unsigned)n);
	snprintf(did, sizeof(did), "d-%d", n);
	for (i = 0; i < 64; i++)
		sig[i] = (char)random();
	snprintf(key, sizeof(key), "M|bpp|bpp.test|bap.test|search|%s", mid);
	k[0].key = sig;
	k[0].len = 64;
	k[0].expires_ms = 4102444800000LL;
	k[1].key = key;
	k[1].len = strlen(key);
	k[1].expires_ms = 4102444800000LL;
	memset(&m, 0, sizeof(m));
	m.direction = "in";
	m.participant = "bpp.test";
	m.role = "BPP";
	m.peer = "bap.test";
	m.action = "search";
	m.domain = "onest:learning-experiences";
	m.transaction_id = mid;
	m.message_id = mid;
	m.http_status = 200;
	m.ack = "ACK";
	m.start_ms = 1780000000000LL + n;
	m.end_ms = m.start_ms + 1;
	m.delivery_id = did;
	m.webhook = "http://127.0.0.1:9/hook/{action}";
	m.sender = "bap.test";
	m.body = r->body;
	m.len = sizeof(r->body);
	m.replay_owner = "bap.test";
	m.keys = k;
	m.nkeys = 2;
	store_put(r->s, &m, done_cb, r);
}

static int
point(const char *dir, int window, int total)
{
	struct store_conf	 sc;
	struct store_stats	 st;
	struct run		 r;
	char			 path[512], err[512];
	double			 c0, t0, c1, t1;
	long			 size;
	FILE			*f;
	int			 i;

	snprintf(path, sizeof(path), "%s/bench-%d.db", dir, window);
	memset(&sc, 0, sizeof(sc));
	sc.path = path;
	sc.sync = STORE_SYNC_NORMAL;
	sc.bodies = STORE_BODIES_ALL;
	memset(&r, 0, sizeof(r));
	memset(r.body, 'x', sizeof(r.body));
	r.total = total;
	r.window = window;
	r.base = event_base_new();
	if ((r.s = store_open(&sc, err, sizeof(err))) == NULL ||
	    store_start(r.s, r.base, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench_store: %s\n", err);
		return -1;
	}
	c0 = cpu_s();
	t0 = mono_s();
	for (i = 0; i < window && r.sent < total; i++)
		send_one(&r);
	event_base_dispatch(r.base);
	store_stats(r.s, &st);
	store_close(r.s);
	c1 = cpu_s();
	t1 = mono_s();
	size = 0;
	if ((f = fopen(path, "rb")) != NULL) {
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
	}
	printf("in flight %3d: %7.1f us CPU, %7.1f us wall per message, "
	    "%.3f commits per message, %.1f KB of file per message\n",
	    window, (c1 - c0) * 1e6 / total, (t1 - t0) * 1e6 / total,
	    (double)st.commits / total, size / 1024.0 / total);
	event_base_free(r.base);
	unlink(path);
	return r.failed > 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	char	 dir[] = "/tmp/becknd-bench-store-XXXXXX";
	int	 total = argc > 1 ? atoi(argv[1]) : 5000, rc = 0;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	printf("store: %d messages of %d bytes, each then marked delivered "
	    "(synchronous NORMAL, WAL)\n", total, BODY);
	if (point(dir, 1, total) == -1 || point(dir, 16, total) == -1 ||
	    point(dir, 64, total) == -1)
		rc = 1;
	rmdir(dir);
	return rc;
}

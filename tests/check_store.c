/*
 * check_store.c - the store's writer (src/store/store.h) on a real file
 * in a temp folder (removed by each test's teardown), what it wrote read
 * back through a second SQLite connection ("peek"), which also plays the
 * other process (the CLI, the admin API) where a test needs one.
 * Completions come back on the test's own event loop; waits are real
 * time and bounded (run_until(); scaled under valgrind).
 *
 *   open        a new file is created in WAL mode, ours, STORE_VERSION
 *   migrate     a version 1 file is brought to version 2 by the writer,
 *               its rows kept; a reader refuses it before that
 *   refused     another application's database, random bytes and a
 *               newer version are refused naming the path, untouched
 *   put         every column as given, callback after the commit; bodies
 *               kept under all, and under none while a delivery needs it
 *   group       1000 records in far fewer transactions
 *   replay      keys written with their record, loaded back unexpired
 *   outbox      queued and requeue rows loaded, requeue made queued
 *   delivery    progress recorded; a final state clears the body under
 *               bodies: none only
 *   max_size    a record over the limit fails alone ("full"), nothing of
 *               it written; the others of its batch are; raising the
 *               limit (reconfigure) lets it in
 *   cancel      the callback does not run, the row is written
 *   requeue     a row set to 'requeue' by another connection comes back
 *               through the requeue callback
 *   retention   old rows deleted, outbox rows and new rows kept
 *   close       every queued record committed by store_close()
 *   queue full  past STORE_QUEUE_MAX records: "store queue full"
 *   check       store_check() fails naming the path, passes on a good one
 *   tel         the telemetry spool: events written (copied, a duplicate
 *               fails alone), seal and done delete exactly their batch,
 *               in queue order with each other; loaded back batches
 *               first, then events, in order; never after the start;
 *               kept by retention, written by store_close(), dropped and
 *               counted past a full queue
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "testutil.h"
#include "store/store.h"
#include "store/store_db.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define HOUR_MS		(3600LL * 1000)

static struct {
	struct event_base	*base;
	char			 dir[64];
	char			 path[128];
	struct store_conf	 conf;
	struct store		*s;
	sqlite3			*peek;
	char			 err[512];
} T;

#define under_valgrind()	test_under_valgrind()
#define tms(ms)			test_ms(ms)

/*
 * Run the loop until cond(arg) or ms (real time, scaled when scale);
 * cond's value.  cond is also checked every 20 ms: the writer's work
 * shows in the file without a completion to wake the loop.
 */
static int
run_loop(int (*cond)(void *), void *arg, int ms, int scale)
{
	return test_loop_until(T.base, cond, arg, scale ? tms(ms) : ms, 20);
}

static int
run_until(int (*cond)(void *), void *arg, int ms)
{
	return run_loop(cond, arg, ms, 1);
}

static void
run_for(int ms)
{
	run_loop(NULL, NULL, ms, 1);
}

/* ---- the store --------------------------------------------------------- */

static void
open_store(void)
{
	T.s = store_open(&T.conf, T.err, sizeof(T.err));
	ck_assert_msg(T.s != NULL, "store_open: %s", T.err);
}

static void
start_store(void)
{
	open_store();
	ck_assert_msg(store_start(T.s, T.base, T.err, sizeof(T.err)) == 0,
	    "store_start: %s", T.err);
}

static void
close_store(void)
{
	store_close(T.s);
	T.s = NULL;
}

struct res {
	int	 n;
	int	 ok;
	char	 reason[256];
};

static void
done_cb(int ok, const char *reason, void *arg)
{
	struct res	*r = arg;

	r->n++;
	r->ok = ok;
	snprintf(r->reason, sizeof(r->reason), "%s",
	    reason != NULL ? reason : "");
}

static int
res_has(void *arg)
{
	return ((struct res *)arg)->n > 0;
}

/* Run until r's callback ran (or 5 s); aborts when it did not. */
static void
wait_res(struct res *r)
{
	ck_assert_msg(run_until(res_has, r, 5000), "no completion");
	ck_assert_int_eq(r->n, 1);
}

static int
records_at_least(void *arg)
{
	struct store_stats	 st;

	store_stats(T.s, &st);
	return st.records >= *(uint64_t *)arg;
}

/* Run until n records were committed (or 5 s). */
static void
wait_records(uint64_t n)
{
	ck_assert_msg(run_until(records_at_least, &n, 5000),
	    "%llu records never committed", (unsigned long long)n);
}

static int64_t
now_ms(void)
{
	return clock_now_ms(NULL);
}

static void
msg_init(struct store_msg *m, const char *mid, const char *body)
{
	memset(m, 0, sizeof(*m));
	m->direction = "in";
	m->participant = "bpp.example.org";
	m->role = "BPP";
	m->peer = "bap.example.org";
	m->action = "search";
	m->domain = "ONDC:RET10";
	m->transaction_id = "t-1";
	m->message_id = mid;
	m->http_status = 200;
	m->ack = "ACK";
	m->start_ms = now_ms();
	m->end_ms = m->start_ms + 5;
	m->body = body;
	m->len = body != NULL ? strlen(body) : 0;
}

/* Queue a record with a delivery; the callback (r may be NULL: none). */
static void
put_delivery(const char *id, const char *body, int64_t start,
    struct res *r)
{
	struct store_msg	 m;

	msg_init(&m, id, body);
	m.delivery_id = id;
	m.webhook = "http://127.0.0.1:9/hook/{action}";
	m.sender = "bap.example.org";
	if (start != 0)
		m.start_ms = start;
	store_put(T.s, &m, r != NULL ? done_cb : NULL, r);
}

/* ---- peek: a second connection ----------------------------------------- */

static sqlite3 *
peek(void)
{
	if (T.peek == NULL) {
		ck_assert_int_eq(sqlite3_open_v2(T.path, &T.peek,
		    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
		    SQLITE_OK);
		sqlite3_busy_timeout(T.peek, 5000);
	}
	return T.peek;
}

static void
peek_close(void)
{
	sqlite3_close(T.peek);
	T.peek = NULL;
}

static void
peek_exec(const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(peek(), sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(T.err, sizeof(T.err), "%s", msg);
		sqlite3_free(msg);
		ck_abort_msg("%s: %s", sql, T.err);
	}
}

static sqlite3_stmt *
peek_row(const char *sql)
{
	sqlite3_stmt	*st;

	ck_assert_msg(sqlite3_prepare_v2(peek(), sql, -1, &st, NULL) ==
	    SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(peek()));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	return st;
}

static long long
peek_int(const char *sql)
{
	sqlite3_stmt	*st = peek_row(sql);
	long long	 v = sqlite3_column_int64(st, 0);

	sqlite3_finalize(st);
	return v;
}

/* The text of a one-value query, "(null)" for NULL; static buffer. */
static const char *
peek_text(const char *sql)
{
	static char	 buf[512];
	sqlite3_stmt	*st = peek_row(sql);
	const char	*v = (const char *)sqlite3_column_text(st, 0);

	snprintf(buf, sizeof(buf), "%s", v != NULL ? v : "(null)");
	sqlite3_finalize(st);
	return buf;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int	 fd;

	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* ---- fixture ----------------------------------------------------------- */

static void
setup(void)
{
	alarm(under_valgrind() ? 600 : 60);
	if (getenv("BECKND_TEST_VERBOSE") == NULL)
		log_set_level(LOG_LVL_ERROR);
	memset(&T, 0, sizeof(T));
	snprintf(T.dir, sizeof(T.dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(T.dir));
	snprintf(T.path, sizeof(T.path), "%s/store.db", T.dir);
	T.conf.path = T.path;
	T.conf.sync = STORE_SYNC_NORMAL;
	T.conf.bodies = STORE_BODIES_ALL;
	ck_assert_ptr_nonnull(T.base = event_base_new());
}

static void
teardown(void)
{
	store_close(T.s);
	sqlite3_close(T.peek);
	event_base_free(T.base);
	chmod(T.dir, 0700);
	test_rmtree(T.dir);
	alarm(0);
}

/* ---- opening ----------------------------------------------------------- */

START_TEST(open_new)
{
	struct stat	 sb;

	ck_assert_int_eq(stat(T.path, &sb), -1);
	open_store();
	ck_assert_int_eq(stat(T.path, &sb), 0);
	ck_assert_str_eq(peek_text("PRAGMA journal_mode"), "wal");
	ck_assert_int_eq(peek_int("PRAGMA application_id"), STORE_APP_ID);
	ck_assert_int_eq(peek_int("PRAGMA user_version"), STORE_VERSION);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 0);
	close_store();
	store_close(NULL);
	/* Open again: the same file, as it was. */
	open_store();
	ck_assert_int_eq(peek_int("PRAGMA user_version"), STORE_VERSION);
}
END_TEST

START_TEST(refuse_foreign)
{
	peek_exec("CREATE TABLE notes(x); INSERT INTO notes VALUES (1)");
	peek_close();
	ck_assert_ptr_null(store_open(&T.conf, T.err, sizeof(T.err)));
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "another application") != NULL, "%s", T.err);
	ck_assert_int_eq(store_check(&T.conf, T.err, sizeof(T.err)), -1);
	ck_assert_msg(strstr(T.err, T.path) != NULL, "%s", T.err);
	/* Untouched. */
	ck_assert_int_eq(peek_int("SELECT count(*) FROM notes"), 1);
	ck_assert_int_eq(peek_int("PRAGMA user_version"), 0);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM sqlite_schema"), 1);
}
END_TEST

START_TEST(refuse_garbage)
{
	unsigned char	 junk[8192];
	char		*back;
	size_t		 i, len;
	uint32_t	 x = 2463534242u;

	for (i = 0; i < sizeof(junk); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		junk[i] = (unsigned char)x;
	}
	write_file(T.path, junk, sizeof(junk));
	ck_assert_ptr_null(store_open(&T.conf, T.err, sizeof(T.err)));
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0,
	    "%s", T.err);
	ck_assert_int_eq(store_check(&T.conf, T.err, sizeof(T.err)), -1);
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0,
	    "%s", T.err);
	back = test_read_file(T.path, &len);
	ck_assert_msg(len == sizeof(junk) && memcmp(back, junk, len) == 0,
	    "the file was changed");
	free(back);
}
END_TEST

START_TEST(refuse_newer)
{
	open_store();
	close_store();
	peek_exec("PRAGMA user_version = 99");
	peek_close();
	ck_assert_ptr_null(store_open(&T.conf, T.err, sizeof(T.err)));
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "newer") != NULL, "%s", T.err);
	ck_assert_int_eq(store_check(&T.conf, T.err, sizeof(T.err)), -1);
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "newer") != NULL, "%s", T.err);
	ck_assert_int_eq(peek_int("PRAGMA user_version"), 99);
}
END_TEST

/* One owner per file; a check beside it is fine; the lock goes with it. */
START_TEST(one_owner)
{
	struct store	*other;

	open_store();
	ck_assert_ptr_null(other = store_open(&T.conf, T.err, sizeof(T.err)));
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "in use by another becknd") != NULL, "%s", T.err);
	ck_assert_msg(store_check(&T.conf, T.err, sizeof(T.err)) == 0, "%s",
	    T.err);
	close_store();
	other = store_open(&T.conf, T.err, sizeof(T.err));
	ck_assert_msg(other != NULL, "%s", T.err);
	store_close(other);
}
END_TEST

START_TEST(check_paths)
{
	char	 bad[256];

	/* A good path: not created by the check, its folder writable. */
	ck_assert_msg(store_check(&T.conf, T.err, sizeof(T.err)) == 0, "%s",
	    T.err);
	ck_assert_int_eq(access(T.path, F_OK), -1);
	/* An existing store: opened and written (rolled back). */
	open_store();
	close_store();
	ck_assert_msg(store_check(&T.conf, T.err, sizeof(T.err)) == 0, "%s",
	    T.err);
	ck_assert_int_eq(peek_int("PRAGMA user_version"), STORE_VERSION);
	peek_close();
	/* A folder that cannot be made (its parent is a file). */
	snprintf(bad, sizeof(bad), "%s/file/store.db", T.dir);
	snprintf(T.err, sizeof(T.err), "%s/file", T.dir);
	write_file(T.err, "x", 1);
	T.conf.path = bad;
	ck_assert_int_eq(store_check(&T.conf, T.err, sizeof(T.err)), -1);
	ck_assert_msg(strncmp(T.err, bad, strlen(bad)) == 0, "%s", T.err);
	/* A folder we may not write (root may: only as another user). */
	if (geteuid() != 0) {
		snprintf(bad, sizeof(bad), "%s/ro.db", T.dir);
		ck_assert_int_eq(chmod(T.dir, 0500), 0);
		ck_assert_int_eq(store_check(&T.conf, T.err, sizeof(T.err)),
		    -1);
		ck_assert_msg(strncmp(T.err, bad, strlen(bad)) == 0, "%s",
		    T.err);
		ck_assert_int_eq(chmod(T.dir, 0700), 0);
	}
	T.conf.path = T.path;
}
END_TEST

/* ---- writing ----------------------------------------------------------- */

START_TEST(put_columns)
{
	struct store_msg	 m;
	struct res		 r;
	sqlite3_stmt		*st;
	char			 mid[32], body[] = "{\"context\":{\"a\":1}}";

	start_store();
	snprintf(mid, sizeof(mid), "m-1");
	msg_init(&m, mid, body);
	m.order_id = "o-1";
	m.state_code = "PENDING";
	m.error_code = "30001";
	m.error_message = "nope";
	m.start_ms = 1772442900000LL;
	m.end_ms = 1772442900042LL;
	memset(&r, 0, sizeof(r));
	ck_assert_ptr_nonnull(store_put(T.s, &m, done_cb, &r));
	/* Copied: the caller's memory may change at once. */
	memset(body, 'x', sizeof(body) - 1);
	mid[0] = 'X';
	ck_assert_int_eq(r.n, 0);	/* never within store_put() */
	wait_res(&r);
	ck_assert_msg(r.ok == 1, "%s", r.reason);
	st = peek_row("SELECT direction, participant, role, peer, action, "
	    "domain, transaction_id, message_id, order_id, state_code, "
	    "http_status, ack, error_code, error_message, start_ms, end_ms, "
	    "delivery_id, delivery_state, attempts, body FROM messages");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "in");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 1),
	    "bpp.example.org");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 2), "BPP");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 3),
	    "bap.example.org");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 4), "search");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 5),
	    "ONDC:RET10");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 6), "t-1");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 7), "m-1");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 8), "o-1");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 9), "PENDING");
	ck_assert_int_eq(sqlite3_column_int(st, 10), 200);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 11), "ACK");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 12), "30001");
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 13), "nope");
	ck_assert_int_eq(sqlite3_column_int64(st, 14), 1772442900000LL);
	ck_assert_int_eq(sqlite3_column_int64(st, 15), 1772442900042LL);
	ck_assert_int_eq(sqlite3_column_type(st, 16), SQLITE_NULL);
	ck_assert_int_eq(sqlite3_column_type(st, 17), SQLITE_NULL);
	ck_assert_int_eq(sqlite3_column_int(st, 18), 0);
	ck_assert_int_eq(sqlite3_column_bytes(st, 19), 19);
	ck_assert_int_eq(memcmp(sqlite3_column_blob(st, 19),
	    "{\"context\":{\"a\":1}}", 19), 0);
	sqlite3_finalize(st);

	/* No answer: NULL status, ack and end. */
	msg_init(&m, "m-2", NULL);
	m.http_status = 0;
	m.ack = NULL;
	m.end_ms = 0;
	store_put(T.s, &m, NULL, NULL);
	wait_records(2);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "message_id = 'm-2' AND http_status IS NULL AND ack IS NULL AND "
	    "end_ms IS NULL AND body IS NULL"), 1);
}
END_TEST

START_TEST(put_bodies)
{
	struct store_msg	 m;

	T.conf.bodies = STORE_BODIES_NONE;
	start_store();
	msg_init(&m, "plain", "{\"a\":1}");
	store_put(T.s, &m, NULL, NULL);
	put_delivery("d-1", "{\"b\":2}", 0, NULL);
	put_delivery("d-empty", "", 0, NULL);
	wait_records(3);
	ck_assert_str_eq(peek_text("SELECT ifnull(body, 'none') FROM messages "
	    "WHERE message_id = 'plain'"), "none");
	ck_assert_str_eq(peek_text("SELECT body || ' ' || delivery_state || "
	    "' ' || webhook || ' ' || sender FROM messages WHERE "
	    "delivery_id = 'd-1'"), "{\"b\":2} queued "
	    "http://127.0.0.1:9/hook/{action} bap.example.org");
	/* An empty body is a body (zero bytes), not a missing one. */
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "delivery_id = 'd-empty' AND body IS NOT NULL AND "
	    "length(body) = 0"), 1);
	/* SIGHUP to all: the next record keeps its body. */
	T.conf.bodies = STORE_BODIES_ALL;
	store_reconfigure(T.s, &T.conf);
	msg_init(&m, "plain2", "{\"c\":3}");
	store_put(T.s, &m, NULL, NULL);
	wait_records(4);
	ck_assert_str_eq(peek_text("SELECT body FROM messages WHERE "
	    "message_id = 'plain2'"), "{\"c\":3}");
}
END_TEST

START_TEST(group_commit)
{
	struct store_stats	 st;
	struct store_msg	 m;
	struct res		 r[1000];
	char			 mid[32];
	int			 i, all;

	start_store();
	memset(r, 0, sizeof(r));
	for (i = 0; i < 1000; i++) {
		snprintf(mid, sizeof(mid), "m-%d", i);
		msg_init(&m, mid, "{}");
		store_put(T.s, &m, done_cb, &r[i]);
	}
	wait_records(1000);
	run_for(50);
	for (all = 1, i = 0; i < 1000; i++)
		all &= r[i].n == 1 && r[i].ok == 1;
	ck_assert_msg(all, "every callback once, ok");
	store_stats(T.s, &st);
	printf("group commit: %llu records in %llu transactions\n",
	    (unsigned long long)st.records, (unsigned long long)st.commits);
	ck_assert_int_eq(st.records, 1000);
	ck_assert_int_eq(st.failures, 0);
	ck_assert_int_eq(st.queued, 0);
	ck_assert_msg(st.commits * 2 <= st.records, "%llu commits",
	    (unsigned long long)st.commits);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 1000);
	/* In the order queued. */
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "message_id <> 'm-' || (id - 1)"), 0);
}
END_TEST

struct keys_seen {
	int		 n;
	char		 key[4][32];
	size_t		 len[4];
	char		 owner[4][32];
	int64_t		 exp[4];
};

static int
key_cb(const void *key, size_t len, const char *owner, int64_t exp,
    void *arg)
{
	struct keys_seen	*k = arg;

	ck_assert_int_lt(k->n, 4);
	ck_assert_uint_lt(len, sizeof(k->key[0]));
	memcpy(k->key[k->n], key, len);
	k->len[k->n] = len;
	snprintf(k->owner[k->n], sizeof(k->owner[0]), "%s",
	    owner != NULL ? owner : "(null)");
	k->exp[k->n++] = exp;
	return 0;
}

static int
key_stop(const void *key, size_t len, const char *owner, int64_t exp,
    void *arg)
{
	return 1;
}

START_TEST(replay_keys)
{
	struct store_replay_key	 keys[3];
	struct store_msg	 m;
	struct keys_seen	 k;
	int64_t			 now = now_ms();
	char			 kb[3][8] = { "sig\0\001", "mid-1", "old" };
	int			 i;

	start_store();
	keys[0] = (struct store_replay_key){ kb[0], 5, now + HOUR_MS };
	keys[1] = (struct store_replay_key){ kb[1], 5, now + 2 * HOUR_MS };
	keys[2] = (struct store_replay_key){ kb[2], 3, now - 1000 };
	msg_init(&m, "m-1", "{}");
	m.replay_owner = "bap.example.org";
	m.keys = keys;
	m.nkeys = 3;
	store_put(T.s, &m, NULL, NULL);
	/* The same key again, later (re-armed): a row of its own. */
	keys[1].expires_ms = now + 3 * HOUR_MS;
	m.nkeys = 2;
	m.replay_owner = "other.example.org";
	store_put(T.s, &m, NULL, NULL);
	wait_records(2);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM replay"), 5);
	close_store();

	open_store();
	memset(&k, 0, sizeof(k));
	ck_assert_msg(store_replay_load(T.s, now, key_cb, &k, T.err,
	    sizeof(T.err)) == 0, "%s", T.err);
	/* Every live row, the expired one not; each with its owner. */
	ck_assert_int_eq(k.n, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(k.len[i], 5);
		if (memcmp(k.key[i], "sig\0\001", 5) == 0)
			ck_assert_int_eq(k.exp[i], now + HOUR_MS);
		else {
			ck_assert_int_eq(memcmp(k.key[i], "mid-1", 5), 0);
			ck_assert_int_eq(k.exp[i], now + (strcmp(k.owner[i],
			    "other.example.org") == 0 ? 3 : 2) * HOUR_MS);
		}
	}
	ck_assert_int_eq(store_replay_load(T.s, now, key_stop, NULL, T.err,
	    sizeof(T.err)), -1);
	ck_assert_msg(strstr(T.err, "stopped") != NULL, "%s", T.err);
	/* Not once started. */
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	ck_assert_int_eq(store_replay_load(T.s, now, key_cb, &k, T.err,
	    sizeof(T.err)), -1);
}
END_TEST

struct outbox_seen {
	int	 n;
	char	 ids[8][32];
	char	 body[8][32];
	int	 attempts[8];
	int	 stop_at;	/* 0: never */
};

static int
outbox_cb(const struct store_pending *p, void *arg)
{
	struct outbox_seen	*o = arg;

	if (o->stop_at != 0 && o->n + 1 == o->stop_at)
		return 1;
	ck_assert_int_lt(o->n, 8);
	ck_assert_str_eq(p->participant, "bpp.example.org");
	ck_assert_str_eq(p->webhook, "http://127.0.0.1:9/hook/{action}");
	ck_assert_str_eq(p->action, "search");
	ck_assert_str_eq(p->sender, "bap.example.org");
	ck_assert_str_eq(p->message_id, p->delivery_id);
	ck_assert_str_eq(p->transaction_id, "t-1");
	snprintf(o->ids[o->n], sizeof(o->ids[0]), "%s", p->delivery_id);
	snprintf(o->body[o->n], sizeof(o->body[0]), "%.*s", (int)p->len,
	    p->body);
	o->attempts[o->n++] = p->attempts;
	return 0;
}

START_TEST(outbox_load)
{
	struct outbox_seen	 o;
	struct store_msg	 m;

	start_store();
	put_delivery("a", "{\"a\":1}", 0, NULL);
	put_delivery("b", "{\"b\":2}", 0, NULL);
	put_delivery("c", "{\"c\":3}", 0, NULL);
	msg_init(&m, "d", "{}");
	store_put(T.s, &m, NULL, NULL);
	put_delivery("e", "{\"e\":5}", 0, NULL);
	store_delivery(T.s, "a", "queued", 3, "HTTP 500", 0);
	store_delivery(T.s, "c", "delivered", 1, NULL, now_ms());
	store_delivery(T.s, "e", "dead", 9, "HTTP 503", now_ms());
	wait_records(8);
	close_store();
	peek_exec("UPDATE messages SET delivery_state = 'requeue', "
	    "attempts = 5 WHERE delivery_id = 'b'");
	peek_exec("UPDATE messages SET delivery_state = 'requeue' "
	    "WHERE delivery_id = 'e'");

	/* Stopped by the caller: nothing changes. */
	open_store();
	memset(&o, 0, sizeof(o));
	o.stop_at = 2;
	ck_assert_int_eq(store_outbox_load(T.s, outbox_cb, &o, T.err,
	    sizeof(T.err)), -1);
	ck_assert_msg(strstr(T.err, "stopped") != NULL, "%s", T.err);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "delivery_state = 'requeue'"), 2);

	memset(&o, 0, sizeof(o));
	ck_assert_msg(store_outbox_load(T.s, outbox_cb, &o, T.err,
	    sizeof(T.err)) == 0, "%s", T.err);
	ck_assert_int_eq(o.n, 3);
	ck_assert_str_eq(o.ids[0], "a");
	ck_assert_str_eq(o.body[0], "{\"a\":1}");
	ck_assert_int_eq(o.attempts[0], 3);
	ck_assert_str_eq(o.ids[1], "b");
	ck_assert_str_eq(o.body[1], "{\"b\":2}");
	ck_assert_int_eq(o.attempts[1], 0);
	ck_assert_str_eq(o.ids[2], "e");
	ck_assert_int_eq(o.attempts[2], 0);
	ck_assert_str_eq(peek_text("SELECT group_concat(delivery_id || '=' || "
	    "delivery_state, ' ') FROM (SELECT * FROM messages WHERE "
	    "delivery_id IS NOT NULL ORDER BY id)"),
	    "a=queued b=queued c=delivered e=queued");
	ck_assert_str_eq(peek_text("SELECT last_error FROM messages WHERE "
	    "delivery_id = 'a'"), "HTTP 500");
}
END_TEST

START_TEST(delivery_bodies)
{
	int	 none = _i == 0;

	T.conf.bodies = none ? STORE_BODIES_NONE : STORE_BODIES_ALL;
	start_store();
	put_delivery("ok", "{\"ok\":1}", 0, NULL);
	put_delivery("no", "{\"no\":1}", 0, NULL);
	put_delivery("rip", "{\"rip\":1}", 0, NULL);
	put_delivery("retry", "{\"retry\":1}", 0, NULL);
	store_delivery(T.s, "retry", "queued", 2, "timeout", 0);
	store_delivery(T.s, "ok", "delivered", 3, NULL, 1772442900123LL);
	store_delivery(T.s, "no", "refused", 1, "HTTP 400", 1772442900124LL);
	store_delivery(T.s, "rip", "dead", 8, "HTTP 502", 1772442900125LL);
	store_delivery(T.s, "unknown", "delivered", 1, NULL, 1);
	store_delivery(T.s, "ok", "bogus", 1, NULL, 1);	/* ignored */
	wait_records(9);
	ck_assert_str_eq(peek_text("SELECT delivery_state || ' ' || attempts "
	    "|| ' ' || delivered_ms || ' ' || ifnull(last_error, '-') FROM "
	    "messages WHERE delivery_id = 'ok'"),
	    "delivered 3 1772442900123 -");
	ck_assert_str_eq(peek_text("SELECT delivery_state || ' ' || attempts "
	    "|| ' ' || delivered_ms || ' ' || last_error FROM messages WHERE "
	    "delivery_id = 'no'"), "refused 1 1772442900124 HTTP 400");
	ck_assert_str_eq(peek_text("SELECT delivery_state || ' ' || attempts "
	    "|| ' ' || delivered_ms || ' ' || last_error FROM messages WHERE "
	    "delivery_id = 'rip'"), "dead 8 1772442900125 HTTP 502");
	ck_assert_str_eq(peek_text("SELECT delivery_state || ' ' || attempts "
	    "|| ' ' || ifnull(delivered_ms, '-') || ' ' || last_error || ' ' "
	    "|| body FROM messages WHERE delivery_id = 'retry'"),
	    "queued 2 - timeout {\"retry\":1}");
	/* Under none only the delivered body goes: a dead or refused
	 * letter may be sent again. */
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "body IS NULL"), none ? 1 : 0);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "body IS NULL AND delivery_id = 'ok'"), none ? 1 : 0);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 4);
}
END_TEST

START_TEST(max_size)
{
	struct store_replay_key	 kbig = { "big-key", 7, 0 };
	struct store_replay_key	 ksmall = { "small-key", 9, 0 };
	struct store_msg	 m;
	struct res		 big, small, again;
	char			*body;
	size_t			 blen = 256 * 1024;

	kbig.expires_ms = ksmall.expires_ms = now_ms() + HOUR_MS;
	body = xmalloc(blen + 1);
	memset(body, 'b', blen);
	body[blen] = '\0';
	T.conf.max_size = 1;	/* the file's size: no page more */
	open_store();
	memset(&big, 0, sizeof(big));
	memset(&small, 0, sizeof(small));
	memset(&again, 0, sizeof(again));
	/* Both queued before the start: one batch. */
	msg_init(&m, "big", body);
	m.replay_owner = "bap";
	m.keys = &kbig;
	m.nkeys = 1;
	store_put(T.s, &m, done_cb, &big);
	msg_init(&m, "small", NULL);
	m.replay_owner = "bap";
	m.keys = &ksmall;
	m.nkeys = 1;
	store_put(T.s, &m, done_cb, &small);
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	wait_res(&big);
	wait_res(&small);
	ck_assert_int_eq(big.ok, 0);
	ck_assert_msg(strstr(big.reason, "full") != NULL, "%s", big.reason);
	ck_assert_msg(small.ok == 1, "%s", small.reason);
	/* Nothing of the big one, all of the small one. */
	ck_assert_str_eq(peek_text("SELECT group_concat(message_id) FROM "
	    "messages"), "small");
	ck_assert_str_eq(peek_text("SELECT group_concat(key) FROM replay"),
	    "small-key");
	ck_assert_str_eq(peek_text("PRAGMA integrity_check"), "ok");

	/* Unlimited again: it fits. */
	T.conf.max_size = 0;
	store_reconfigure(T.s, &T.conf);
	msg_init(&m, "big", body);
	store_put(T.s, &m, done_cb, &again);
	wait_res(&again);
	ck_assert_msg(again.ok == 1, "%s", again.reason);
	ck_assert_int_eq(peek_int("SELECT length(body) FROM messages WHERE "
	    "message_id = 'big'"), (long long)blen);
	free(body);
}
END_TEST

START_TEST(cancel)
{
	struct store_msg	 m;
	struct store_op		*op;
	struct res		 r, other;

	start_store();
	memset(&r, 0, sizeof(r));
	memset(&other, 0, sizeof(other));
	msg_init(&m, "cancelled", "{}");
	ck_assert_ptr_nonnull(op = store_put(T.s, &m, done_cb, &r));
	msg_init(&m, "kept", "{}");
	ck_assert_ptr_null(store_put(T.s, &m, NULL, NULL));
	store_op_cancel(op);
	store_op_cancel(NULL);
	msg_init(&m, "after", "{}");
	store_put(T.s, &m, done_cb, &other);
	wait_res(&other);
	run_for(50);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 3);
}
END_TEST

struct requeued {
	int	 n;
	char	 id[32];
	char	 body[32];
	int	 attempts;
};

static void
requeue_cb(const struct store_pending *p, void *arg)
{
	struct requeued	*q = arg;

	q->n++;
	snprintf(q->id, sizeof(q->id), "%s", p->delivery_id);
	snprintf(q->body, sizeof(q->body), "%.*s", (int)p->len, p->body);
	q->attempts = p->attempts;
}

static int
requeued_has(void *arg)
{
	return ((struct requeued *)arg)->n > 0;
}

START_TEST(requeue_poll)
{
	struct requeued	 q;

	T.conf.bodies = STORE_BODIES_NONE;
	start_store();
	memset(&q, 0, sizeof(q));
	store_set_requeue_cb(T.s, requeue_cb, &q);
	put_delivery("d-1", "{\"x\":1}", 0, NULL);
	put_delivery("d-2", "{\"y\":2}", 0, NULL);
	store_delivery(T.s, "d-1", "dead", 7, "HTTP 500", now_ms());
	store_delivery(T.s, "d-2", "dead", 7, "HTTP 500", now_ms());
	wait_records(4);
	/* A dead letter keeps its body under bodies: none; one that lost
	 * it anyway (an older becknd cleared it) cannot be sent again. */
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages WHERE "
	    "body IS NULL"), 0);
	peek_exec("UPDATE messages SET body = NULL WHERE delivery_id = "
	    "'d-2'");
	/* As becknd journal redeliver does. */
	peek_exec("UPDATE messages SET delivery_state = 'requeue' WHERE "
	    "delivery_id IN ('d-1', 'd-2')");
	ck_assert_msg(run_until(requeued_has, &q, 3000), "not requeued");
	run_for(20);
	ck_assert_int_eq(q.n, 1);
	ck_assert_str_eq(q.id, "d-1");
	ck_assert_str_eq(q.body, "{\"x\":1}");
	ck_assert_int_eq(q.attempts, 0);
	ck_assert_str_eq(peek_text("SELECT delivery_state || ' ' || attempts "
	    "FROM messages WHERE delivery_id = 'd-1'"), "queued 0");
	/* Without a body it cannot be delivered: dead, with the reason. */
	ck_assert_str_eq(peek_text("SELECT delivery_state FROM messages "
	    "WHERE delivery_id = 'd-2'"), "dead");
	ck_assert_msg(strstr(peek_text("SELECT last_error FROM messages "
	    "WHERE delivery_id = 'd-2'"), "body not kept") != NULL,
	    "last_error");
}
END_TEST

static int
pruned(void *arg)
{
	return peek_int("SELECT count(*) FROM messages") == 3 &&
	    peek_int("SELECT count(*) FROM replay") == 1;
}

START_TEST(retention)
{
	struct store_replay_key	 keys[2];
	struct store_msg	 m;
	int64_t			 now = now_ms(), old = now - 2 * HOUR_MS;

	T.conf.retention_ms = HOUR_MS;
	start_store();
	keys[0] = (struct store_replay_key){ "live", 4, now + HOUR_MS };
	keys[1] = (struct store_replay_key){ "gone", 4, now - 1 };
	msg_init(&m, "old-plain", "{}");
	m.start_ms = old;
	m.keys = keys;
	m.nkeys = 2;
	store_put(T.s, &m, NULL, NULL);
	msg_init(&m, "new-plain", "{}");
	store_put(T.s, &m, NULL, NULL);
	put_delivery("old-delivered", "{}", old, NULL);
	put_delivery("old-dead", "{}", old, NULL);
	put_delivery("old-queued", "{}", old, NULL);
	put_delivery("old-requeue", "{}", old, NULL);
	store_delivery(T.s, "old-delivered", "delivered", 1, NULL, old);
	store_delivery(T.s, "old-dead", "dead", 1, NULL, old);
	wait_records(8);
	peek_exec("UPDATE messages SET delivery_state = 'requeue' WHERE "
	    "delivery_id = 'old-requeue'");
	ck_assert_msg(run_until(pruned, NULL, 5000), "not pruned: %lld "
	    "messages", peek_int("SELECT count(*) FROM messages"));
	ck_assert_str_eq(peek_text("SELECT group_concat(message_id, ' ') FROM "
	    "(SELECT * FROM messages ORDER BY id)"),
	    "new-plain old-queued old-requeue");
	ck_assert_str_eq(peek_text("SELECT key FROM replay"), "live");
}
END_TEST

static int
replay_pruned(void *arg)
{
	return peek_int("SELECT count(*) FROM replay") == 1;
}

/* Retention off keeps every message, but expired replay keys still go. */
START_TEST(retention_off)
{
	struct store_replay_key	 keys[2];
	struct store_msg	 m;
	int64_t			 now = now_ms();

	start_store();
	keys[0] = (struct store_replay_key){ "live", 4, now + HOUR_MS };
	keys[1] = (struct store_replay_key){ "gone", 4, now - 1 };
	msg_init(&m, "ancient", "{}");
	m.start_ms = 1;
	m.keys = keys;
	m.nkeys = 2;
	store_put(T.s, &m, NULL, NULL);
	wait_records(1);
	/* Past an idle tick; the writer's clock is not scaled. */
	ck_assert_msg(run_until(replay_pruned, NULL, 5000), "expired replay "
	    "key not pruned");
	ck_assert_str_eq(peek_text("SELECT key FROM replay"), "live");
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 1);
}
END_TEST

START_TEST(close_drains)
{
	struct store_msg	 m;
	char			 mid[32];
	int			 i;

	start_store();
	for (i = 0; i < 500; i++) {
		snprintf(mid, sizeof(mid), "m-%d", i);
		msg_init(&m, mid, "{\"drain\":true}");
		store_put(T.s, &m, NULL, NULL);
	}
	close_store();
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 500);
	/* Never started: store_close() writes them too. */
	open_store();
	for (i = 0; i < 10; i++) {
		msg_init(&m, "late", "{}");
		store_put(T.s, &m, NULL, NULL);
	}
	close_store();
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 510);
}
END_TEST

START_TEST(queue_full)
{
	struct store_stats	 st;
	struct store_msg	 m;
	struct res		 r;
	size_t			 i;

	open_store();
	memset(&r, 0, sizeof(r));
	msg_init(&m, "m", NULL);
	for (i = 0; i < STORE_QUEUE_MAX; i++)
		store_put(T.s, &m, NULL, NULL);
	store_put(T.s, &m, done_cb, &r);
	store_stats(T.s, &st);
	ck_assert_uint_eq(st.queued, STORE_QUEUE_MAX);
	ck_assert_uint_eq(st.failures, 1);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	wait_res(&r);
	ck_assert_int_eq(r.ok, 0);
	ck_assert_str_eq(r.reason, "store queue full");
	close_store();
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"),
	    STORE_QUEUE_MAX);
}
END_TEST

/* ---- the telemetry spool ------------------------------------------------ */

/* What store_tel_load() gave, as text: "b1-3 b7-9 e1:{..} ...". */
struct tel_seen {
	char	 log[1024];
	int	 n;
	int	 stop_at;	/* the stop_at-th callback says stop; 0 never */
};

/* The callback that says stop, or room for the next entry; NULL: stop. */
static char *
tel_next(struct tel_seen *t, size_t *room)
{
	size_t	 used = strlen(t->log);

	if (t->stop_at != 0 && ++t->n == t->stop_at)
		return NULL;
	*room = sizeof(t->log) - used;
	return t->log + used;
}

static int
tel_batch_cb(int64_t first, int64_t last, void *arg)
{
	char	*p;
	size_t	 room;

	if ((p = tel_next(arg, &room)) == NULL)
		return 1;
	snprintf(p, room, " b%lld-%lld", (long long)first, (long long)last);
	return 0;
}

static int
tel_event_cb(int64_t seq, const char *event, size_t len, void *arg)
{
	char	*p;
	size_t	 room;

	ck_assert_uint_eq(strlen(event), len);	/* NUL-terminated */
	if ((p = tel_next(arg, &room)) == NULL)
		return 1;
	snprintf(p, room, " e%lld:%.*s", (long long)seq, (int)len, event);
	return 0;
}

/* The spool as a second connection sees it: "e1 e2 | b1-2". */
static const char *
tel_rows(void)
{
	return peek_text("SELECT ifnull((SELECT group_concat('e' || seq, ' ') "
	    "FROM (SELECT seq FROM tel_event ORDER BY seq)), '') || ' | ' || "
	    "ifnull((SELECT group_concat('b' || first || '-' || last, ' ') "
	    "FROM (SELECT * FROM tel_batch ORDER BY first)), '')");
}

static void
tel_event(int64_t seq, const char *event)
{
	store_tel_event(T.s, seq, event, strlen(event));
}

static uint64_t
failures(void)
{
	struct store_stats	 st;

	store_stats(T.s, &st);
	return st.failures;
}

START_TEST(tel_write)
{
	char	 ev[] = "{\"resourceSpans\":[1]}";

	start_store();
	store_tel_event(T.s, 1, ev, strlen(ev));
	memset(ev, 'x', sizeof(ev) - 1);	/* copied */
	tel_event(2, "{\"resourceSpans\":[2]}");
	tel_event(3, "");
	wait_records(3);
	ck_assert_str_eq(tel_rows(), "e1 e2 e3 | ");
	ck_assert_str_eq(peek_text("SELECT event FROM tel_event WHERE "
	    "seq = 1"), "{\"resourceSpans\":[1]}");
	ck_assert_str_eq(peek_text("SELECT typeof(event) || length(event) "
	    "FROM tel_event WHERE seq = 3"), "text0");
	ck_assert_uint_eq(failures(), 0);
	/* A seq written twice fails alone, counted; its batch goes on. */
	tel_event(2, "{\"dup\":1}");
	tel_event(4, "{\"n\":4}");
	wait_records(4);
	ck_assert_uint_eq(failures(), 1);
	ck_assert_str_eq(tel_rows(), "e1 e2 e3 e4 | ");
	ck_assert_str_eq(peek_text("SELECT event FROM tel_event WHERE "
	    "seq = 2"), "{\"resourceSpans\":[2]}");
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 0);
}
END_TEST

START_TEST(tel_seal_done)
{
	struct store_msg	 m;
	int			 i;

	/* Queued before the start: one batch, written in queue order (a
	 * done after its events and seal finds them). */
	open_store();
	for (i = 1; i <= 9; i++)
		tel_event(i, "{}");
	store_tel_seal(T.s, 1, 3);
	store_tel_seal(T.s, 4, 6);
	msg_init(&m, "m-1", "{}");
	store_put(T.s, &m, NULL, NULL);
	store_tel_done(T.s, 1, 3);
	tel_event(10, "{}");
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	wait_records(14);
	ck_assert_str_eq(tel_rows(), "e4 e5 e6 e7 e8 e9 e10 | b4-6");
	ck_assert_int_eq(peek_int("SELECT count(*) FROM messages"), 1);
	/* One at a time, after the start. */
	store_tel_seal(T.s, 7, 8);
	wait_records(15);
	ck_assert_str_eq(tel_rows(), "e4 e5 e6 e7 e8 e9 e10 | b4-6 b7-8");
	store_tel_done(T.s, 7, 8);
	wait_records(16);
	ck_assert_str_eq(tel_rows(), "e4 e5 e6 e9 e10 | b4-6");
	/* Dropped unsealed (the spool was full): events only, no seal. */
	store_tel_done(T.s, 9, 9);
	store_tel_done(T.s, 4, 6);
	wait_records(18);
	ck_assert_str_eq(tel_rows(), "e10 | ");
	ck_assert_uint_eq(failures(), 0);
}
END_TEST

START_TEST(tel_load)
{
	struct tel_seen	 t;

	open_store();
	/* Rows in another order than their keys'. */
	peek_exec("INSERT INTO tel_batch VALUES (7, 9), (1, 3);"
	    "INSERT INTO tel_event VALUES (9, '{\"i\":9}'), (1, '{\"i\":1}'),"
	    " (4, '{}'), (3, '{\"i\":3}'), (7, '{\"i\":7}'), (2, '')");
	memset(&t, 0, sizeof(t));
	ck_assert_msg(store_tel_load(T.s, tel_batch_cb, tel_event_cb, &t,
	    T.err, sizeof(T.err)) == 0, "%s", T.err);
	ck_assert_str_eq(t.log, " b1-3 b7-9 e1:{\"i\":1} e2: e3:{\"i\":3} "
	    "e4:{} e7:{\"i\":7} e9:{\"i\":9}");
	/* Stopped by either callback. */
	memset(&t, 0, sizeof(t));
	t.stop_at = 2;
	ck_assert_int_eq(store_tel_load(T.s, tel_batch_cb, tel_event_cb, &t,
	    T.err, sizeof(T.err)), -1);
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "loading stopped") != NULL, "%s", T.err);
	ck_assert_str_eq(t.log, " b1-3");
	memset(&t, 0, sizeof(t));
	t.stop_at = 4;
	ck_assert_int_eq(store_tel_load(T.s, tel_batch_cb, tel_event_cb, &t,
	    T.err, sizeof(T.err)), -1);
	ck_assert_msg(strstr(T.err, "loading stopped") != NULL, "%s", T.err);
	ck_assert_str_eq(t.log, " b1-3 b7-9 e1:{\"i\":1}");
	/* Nothing was changed by loading. */
	ck_assert_str_eq(tel_rows(), "e1 e2 e3 e4 e7 e9 | b1-3 b7-9");
	/* Not once started. */
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(store_tel_load(T.s, tel_batch_cb, tel_event_cb, &t,
	    T.err, sizeof(T.err)), -1);
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0, "%s",
	    T.err);
	ck_assert_str_eq(t.log, "");
}
END_TEST

/* An empty spool: no callback, 0. */
START_TEST(tel_load_empty)
{
	struct tel_seen	 t;

	open_store();
	memset(&t, 0, sizeof(t));
	t.stop_at = 1;
	ck_assert_msg(store_tel_load(T.s, tel_batch_cb, tel_event_cb, &t,
	    T.err, sizeof(T.err)) == 0, "%s", T.err);
	ck_assert_int_eq(t.n, 0);
}
END_TEST

/* Schema version 1 as becknd 1 created it (src/store/store_db.c). */
static const char schema_v1[] =
	"CREATE TABLE messages(id INTEGER PRIMARY KEY, direction TEXT NOT "
	"NULL, participant TEXT NOT NULL, role TEXT, peer TEXT, action TEXT "
	"NOT NULL, domain TEXT, transaction_id TEXT, message_id TEXT, "
	"order_id TEXT, state_code TEXT, http_status INTEGER, ack TEXT, "
	"error_code TEXT, error_message TEXT, start_ms INTEGER NOT NULL, "
	"end_ms INTEGER, delivery_id TEXT UNIQUE, webhook TEXT, sender TEXT, "
	"delivery_state TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
	"last_error TEXT, delivered_ms INTEGER, body BLOB);"
	"CREATE INDEX messages_txn ON messages(transaction_id);"
	"CREATE INDEX messages_msg ON messages(message_id);"
	"CREATE INDEX messages_order ON messages(order_id);"
	"CREATE INDEX messages_start ON messages(start_ms);"
	"CREATE INDEX messages_outbox ON messages(delivery_state)"
	" WHERE delivery_state IN ('queued','requeue');"
	"CREATE TABLE replay(id INTEGER PRIMARY KEY, key BLOB NOT NULL, "
	"owner TEXT, expires_ms INTEGER NOT NULL);"
	"CREATE INDEX replay_expires ON replay(expires_ms);"
	"PRAGMA application_id = 1111706436;"	/* STORE_APP_ID */
	"PRAGMA user_version = 1;";

START_TEST(migrate_v1)
{
	struct outbox_seen	 o;
	sqlite3			*db;
	char			 sql[512];

	ck_assert_int_eq(STORE_APP_ID, 1111706436);
	peek_exec("PRAGMA journal_mode = WAL");
	peek_exec(schema_v1);
	snprintf(sql, sizeof(sql), "INSERT INTO messages(direction, "
	    "participant, action, message_id, transaction_id, start_ms, "
	    "delivery_id, webhook, sender, delivery_state, body) VALUES ('in', "
	    "'bpp.example.org', 'search', 'q-1', 't-1', %lld, 'q-1', "
	    "'http://127.0.0.1:9/hook/{action}', 'bap.example.org', 'queued', "
	    "'{\"v\":1}')", (long long)now_ms());
	peek_exec(sql);
	peek_exec("INSERT INTO replay(key, owner, expires_ms) VALUES "
	    "('k', 'bap', 1)");
	peek_close();

	/* A reader refuses it: only the daemon migrates. */
	ck_assert_ptr_null(db = store_db_open(T.path, STORE_DB_READ, NULL,
	    T.err, sizeof(T.err)));
	ck_assert_msg(strncmp(T.err, T.path, strlen(T.path)) == 0 &&
	    strstr(T.err, "older store") != NULL &&
	    strstr(T.err, "version 1") != NULL, "%s", T.err);
	ck_assert_int_eq(peek_int("PRAGMA user_version"), 1);
	peek_close();

	open_store();
	ck_assert_int_eq(peek_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(peek_int("PRAGMA application_id"), STORE_APP_ID);
	ck_assert_int_eq(peek_int("SELECT count(*) FROM replay"), 1);
	ck_assert_str_eq(tel_rows(), " | ");
	memset(&o, 0, sizeof(o));
	ck_assert_msg(store_outbox_load(T.s, outbox_cb, &o, T.err,
	    sizeof(T.err)) == 0, "%s", T.err);
	ck_assert_int_eq(o.n, 1);
	ck_assert_str_eq(o.ids[0], "q-1");
	ck_assert_str_eq(o.body[0], "{\"v\":1}");
	tel_event(1, "{}");
	store_tel_seal(T.s, 1, 1);
	close_store();
	ck_assert_str_eq(tel_rows(), "e1 | b1-1");
	ck_assert_str_eq(peek_text("PRAGMA integrity_check"), "ok");
	/* Now a reader takes it. */
	ck_assert_ptr_nonnull(db = store_db_open(T.path, STORE_DB_READ, NULL,
	    T.err, sizeof(T.err)));
	store_db_close(db);
}
END_TEST

static int
tel_retention_ran(void *arg)
{
	return peek_int("SELECT count(*) FROM messages") == 1 &&
	    peek_int("SELECT count(*) FROM replay") == 0;
}

START_TEST(tel_retention)
{
	struct store_replay_key	 key;
	struct store_msg	 m;
	int64_t			 old = now_ms() - 2 * HOUR_MS;

	T.conf.retention_ms = HOUR_MS;
	start_store();
	/* seq and first small, like old start_ms and expires_ms. */
	tel_event(1, "{}");
	tel_event(2, "{}");
	tel_event(3, "{}");
	store_tel_seal(T.s, 1, 2);
	key = (struct store_replay_key){ "gone", 4, 1 };
	msg_init(&m, "old", "{}");
	m.start_ms = old;
	m.keys = &key;
	m.nkeys = 1;
	store_put(T.s, &m, NULL, NULL);
	msg_init(&m, "new", "{}");
	store_put(T.s, &m, NULL, NULL);
	wait_records(6);
	ck_assert_msg(run_until(tel_retention_ran, NULL, 5000), "no "
	    "retention pass: %lld messages",
	    peek_int("SELECT count(*) FROM messages"));
	ck_assert_str_eq(tel_rows(), "e1 e2 e3 | b1-2");
}
END_TEST

START_TEST(tel_close)
{
	char	 ev[32];
	int	 i;

	start_store();
	for (i = 1; i <= 300; i++) {
		snprintf(ev, sizeof(ev), "{\"i\":%d}", i);
		tel_event(i, ev);
	}
	store_tel_seal(T.s, 1, 100);
	store_tel_done(T.s, 1, 100);
	store_tel_seal(T.s, 101, 200);
	close_store();
	ck_assert_int_eq(peek_int("SELECT count(*) FROM tel_event"), 200);
	ck_assert_str_eq(peek_text("SELECT min(seq) || ' ' || max(seq) || ' ' "
	    "|| (SELECT event FROM tel_event WHERE seq = 300) FROM "
	    "tel_event"), "101 300 {\"i\":300}");
	ck_assert_str_eq(peek_text("SELECT group_concat(first || '-' || last) "
	    "FROM tel_batch"), "101-200");
	/* Never started: store_close() writes them too. */
	open_store();
	store_tel_done(T.s, 101, 200);
	tel_event(301, "{}");
	close_store();
	ck_assert_str_eq(peek_text("SELECT count(*) || ' ' || min(seq) || ' ' "
	    "|| max(seq) FROM tel_event"), "101 201 301");
	ck_assert_int_eq(peek_int("SELECT count(*) FROM tel_batch"), 0);
}
END_TEST

START_TEST(tel_queue_full)
{
	struct store_stats	 st;
	int64_t			 i;

	open_store();
	for (i = 1; i <= STORE_QUEUE_MAX; i++)
		store_tel_event(T.s, i, "{}", 2);
	/* Past the limit: each dropped and counted, never blocking. */
	store_tel_event(T.s, i, "{}", 2);
	store_tel_seal(T.s, 1, 2);
	store_tel_done(T.s, 1, 2);
	store_stats(T.s, &st);
	ck_assert_uint_eq(st.queued, STORE_QUEUE_MAX);
	ck_assert_uint_eq(st.failures, 3);
	ck_assert_int_eq(store_start(T.s, T.base, T.err, sizeof(T.err)), 0);
	wait_records(STORE_QUEUE_MAX);
	run_for(20);	/* the drops' completions: logged, freed */
	close_store();
	ck_assert_str_eq(peek_text("SELECT count(*) || ' ' || min(seq) || ' ' "
	    "|| max(seq) FROM tel_event"), "65536 1 65536");
	ck_assert_int_eq(peek_int("SELECT count(*) FROM tel_batch"), 0);
}
END_TEST

static TCase *
tc(Suite *s, const char *name)
{
	TCase	*t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, under_valgrind() ? 600 : 60);
	suite_add_tcase(s, t);
	return t;
}

int
main(void)
{
	Suite	*s = suite_create("store");
	TCase	*t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t = tc(s, "file");
	tcase_add_test(t, open_new);
	tcase_add_test(t, refuse_foreign);
	tcase_add_test(t, refuse_garbage);
	tcase_add_test(t, refuse_newer);
	tcase_add_test(t, check_paths);
	tcase_add_test(t, one_owner);
	tcase_add_test(t, migrate_v1);

	t = tc(s, "writer");
	tcase_add_test(t, put_columns);
	tcase_add_test(t, put_bodies);
	tcase_add_test(t, group_commit);
	tcase_add_test(t, replay_keys);
	tcase_add_loop_test(t, delivery_bodies, 0, 2);
	tcase_add_test(t, cancel);
	tcase_add_test(t, close_drains);

	t = tc(s, "limits");
	tcase_add_test(t, max_size);
	tcase_add_test(t, queue_full);

	t = tc(s, "outbox");
	tcase_add_test(t, outbox_load);
	tcase_add_test(t, requeue_poll);

	t = tc(s, "retention");
	tcase_add_test(t, retention);
	tcase_add_test(t, retention_off);

	t = tc(s, "telemetry");
	tcase_add_test(t, tel_write);
	tcase_add_test(t, tel_seal_done);
	tcase_add_test(t, tel_load);
	tcase_add_test(t, tel_load_empty);
	tcase_add_test(t, tel_retention);
	tcase_add_test(t, tel_close);
	tcase_add_test(t, tel_queue_full);
	return test_run_suite(s);
}

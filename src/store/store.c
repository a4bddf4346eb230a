/*
 * store.c - the store's writer (see store.h): records queued by the
 * event loop, written by one thread that owns the SQLite connection in
 * group commits, handed back to the loop through a pipe.
 *
 * A record is a struct store_op: one allocation holding the record and
 * copies of everything it points to.  It moves from queue (the loop puts
 * it there) to the writer's batch, then to done (the writer, once
 * written) and back to the loop, which runs its callback and frees it.
 * Rows found by the requeue poll travel to the loop the same way.  The
 * telemetry spool's records (an event, a seal, an acceptance) are ops
 * too, without a callback: one queue keeps them in order with the rest.
 *
 * mu guards queue, nqueued, done, woken, st, closing and the settings
 * the writer has yet to apply (reconf, want_*).  The loop alone uses
 * bodies, the requeue callback and ev; the writer alone, once started,
 * uses the connection, its statements, retention_ms, max_size and its
 * timers.  Before store_start() and after the join, the caller's thread
 * is the writer.
 *
 * One wake-up byte at most is in the pipe: the writer writes one when it
 * hands over to an empty done list and woken is 0; the loop reads the
 * pipe dry before it takes the list, so no hand-over is missed.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_db.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum op_kind {
	OP_PUT,
	OP_DELIVERY,
	OP_REQUEUE,		/* writer to loop: a row to deliver again */
	OP_TEL_EVENT,		/* the telemetry spool: an event, */
	OP_TEL_SEAL,		/* a batch sealed, */
	OP_TEL_DONE,		/* a batch accepted */
};

/* The text columns of a put, in the order of the INSERT's ?1..?16. */
enum {
	T_DIRECTION, T_PARTICIPANT, T_ROLE, T_PEER, T_ACTION, T_DOMAIN,
	T_TXN, T_MSG, T_ORDER, T_STATE, T_ACK, T_ERRCODE, T_ERRMSG,
	T_DELIVERY, T_WEBHOOK, T_SENDER, NTEXT
};

struct put {
	const char		*text[NTEXT];
	int			 http_status;
	int64_t			 start_ms;
	int64_t			 end_ms;
	const char		*body;		/* NULL: not stored */
	size_t			 len;
	const char		*owner;
	struct store_replay_key	*keys;
	size_t			 nkeys;
};

struct upd {
	const char		*delivery_id;
	const char		*state;		/* NULL: a retry */
	const char		*last_error;
	int			 attempts;
	int64_t			 at_ms;
	int			 clear_body;
};

/* A telemetry spool record: an event (seq first) or a batch. */
struct tel {
	int64_t			 first;
	int64_t			 last;
	const char		*event;		/* OP_TEL_EVENT */
	size_t			 len;
};

struct store_op {
	TAILQ_ENTRY(store_op)	 entry;
	enum op_kind		 kind;
	int			 ok;
	char			*reason;	/* failed: why */
	int			 cancelled;	/* the loop's */
	store_done_cb		 cb;
	void			*arg;
	union {
		struct put		 put;
		struct upd		 upd;
		struct store_pending	 pend;
		struct tel		 tel;
	} u;
	/* Then a put's keys, then the strings and bytes. */
};
TAILQ_HEAD(opq, store_op);

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_INSERT, S_REPLAY, S_DELIVERY,
	S_ANY_REQUEUE, S_NOBODY, S_REQUEUE, S_PRUNE_MSG, S_PRUNE_REPLAY,
	S_TEL_EVENT, S_TEL_SEAL, S_TEL_DONE_EVENTS, S_TEL_DONE_BATCH,
	NSTMT
};

#define PENDING_COLUMNS	"delivery_id, participant, webhook, action, " \
	"sender, message_id, transaction_id, body, attempts"

static const char *const stmt_sql[NSTMT] = {
	"BEGIN IMMEDIATE",
	"COMMIT",
	"ROLLBACK",
	"INSERT INTO messages(direction, participant, role, peer, action,"
	" domain, transaction_id, message_id, order_id, state_code, ack,"
	" error_code, error_message, delivery_id, webhook, sender,"
	" http_status, start_ms, end_ms, body, delivery_state)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	" ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
	" CASE WHEN ?14 IS NULL THEN NULL ELSE 'queued' END)",
	"INSERT INTO replay(key, owner, expires_ms)"
	" VALUES(?1, ?2, ?3)",
	"UPDATE messages SET attempts = ?2, last_error = ?3,"
	" delivery_state = coalesce(?4, delivery_state),"
	" delivered_ms = CASE WHEN ?4 IS NULL THEN delivered_ms ELSE ?5 END,"
	" body = CASE WHEN ?6 THEN NULL ELSE body END"
	" WHERE delivery_id = ?1",
	"SELECT 1 FROM messages WHERE delivery_state = 'requeue' LIMIT 1",
	"UPDATE messages SET delivery_state = 'dead', last_error ="
	" 'cannot deliver again: body not kept (store.bodies: none)'"
	" WHERE delivery_state IN ('queued', 'requeue') AND body IS NULL"
	" RETURNING delivery_id",
	"UPDATE messages SET delivery_state = 'queued', attempts = 0"
	" WHERE delivery_state = 'requeue' AND body IS NOT NULL"
	" RETURNING " PENDING_COLUMNS,
	"DELETE FROM messages WHERE id IN (SELECT id FROM messages"
	" WHERE start_ms < ?1 AND (delivery_state IS NULL OR"
	" delivery_state NOT IN ('queued', 'requeue')) LIMIT ?2)",
	"DELETE FROM replay WHERE id IN (SELECT id FROM replay"
	" WHERE expires_ms <= ?1 LIMIT ?2)",
	"INSERT INTO tel_event(seq, event) VALUES(?1, ?2)",
	"INSERT INTO tel_batch(first, last) VALUES(?1, ?2)",
	"DELETE FROM tel_event WHERE seq BETWEEN ?1 AND ?2",
	"DELETE FROM tel_batch WHERE first = ?1",
};

/* What a batch did, added to the stats under the lock. */
struct tally {
	uint64_t	 commits;
	uint64_t	 records;
	uint64_t	 failures;
};

struct store {
	char			*path;
	sqlite3			*db;
	sqlite3_stmt		*stmt[NSTMT];
	long long		 page_size;
	long long		 default_pages;	/* max_page_count at open */
	int			 wake[2];	/* the pipe */
	int			 lockfd;	/* flock()ed: the owner */

	/* The loop's. */
	enum store_bodies	 bodies;
	void			(*requeue_cb)(const struct store_pending *,
				    void *);
	void			*requeue_arg;
	struct event		*ev;		/* on wake[0] */
	int			 started;
	pthread_t		 thread;

	/* Under mu. */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* queue no longer empty */
	struct opq		 queue;
	struct opq		 done;
	size_t			 nqueued;	/* queued or being written */
	int			 woken;		/* a byte is in the pipe */
	int			 closing;
	int			 reconf;
	int64_t			 want_retention;
	uint64_t		 want_max_size;
	struct store_stats	 st;

	/* The writer's. */
	int64_t			 retention_ms;
	uint64_t		 max_size;
	int64_t			 last_op;	/* monotonic ms */
	int64_t			 last_poll;
	int64_t			 retain_next;
};

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
db_fail(struct store *s, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
	return -1;
}

/* A PRAGMA answering one integer; SQLite's code. */
static int
int_query(sqlite3 *db, const char *sql, long long *out)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Step a statement to its end, reset it; SQLITE_OK or the failure. */
static int
run(sqlite3_stmt *st)
{
	int	 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
begin(struct store *s)
{
	return run(s->stmt[S_BEGIN]);
}

static int
commit(struct store *s)
{
	return run(s->stmt[S_COMMIT]);
}

static void
rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		run(s->stmt[S_ROLLBACK]);
}

static int
set_max_size(struct store *s, uint64_t bytes)
{
	char		 sql[64];
	long long	 pages = s->default_pages;

	if (bytes > 0) {
		pages = (long long)(bytes / (uint64_t)s->page_size);
		if (pages < 1)
			pages = 1;
		if (pages > s->default_pages)
			pages = s->default_pages;
	}
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", pages);
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

/* ---- records ---------------------------------------------------------- */

static size_t
str_size(const char *str)
{
	return str != NULL ? strlen(str) + 1 : 0;
}

/* Copy len bytes of src to *p, NUL-terminated; the copy. */
static char *
pack(char **p, const void *src, size_t len)
{
	char	*d = *p;

	if (len > 0)
		memcpy(d, src, len);
	d[len] = '\0';
	*p += len + 1;
	return d;
}

static const char *
pack_str(char **p, const char *str)
{
	return str != NULL ? pack(p, str, strlen(str)) : NULL;
}

static struct store_op *
op_new(enum op_kind kind, size_t extra, char **p)
{
	struct store_op	*op;

	op = xmalloc(sizeof(*op) + extra);
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	*p = (char *)(op + 1);
	return op;
}

static struct store_op *
put_op(const struct store_msg *m, int keep_body)
{
	const char		*in[NTEXT] = {
		m->direction, m->participant, m->role, m->peer, m->action,
		m->domain, m->transaction_id, m->message_id, m->order_id,
		m->state_code, m->ack, m->error_code, m->error_message,
		m->delivery_id, m->webhook, m->sender,
	};
	struct store_op		*op;
	struct put		*put;
	size_t			 size, i;
	char			*p;

	size = m->nkeys * sizeof(*put->keys) + str_size(m->replay_owner);
	for (i = 0; i < NTEXT; i++)
		size += str_size(in[i]);
	for (i = 0; i < m->nkeys; i++)
		size += m->keys[i].len + 1;
	if (keep_body)
		size += m->len + 1;
	op = op_new(OP_PUT, size, &p);
	put = &op->u.put;
	put->keys = (struct store_replay_key *)(void *)p;
	put->nkeys = m->nkeys;
	p += m->nkeys * sizeof(*put->keys);
	for (i = 0; i < NTEXT; i++)
		put->text[i] = pack_str(&p, in[i]);
	put->owner = pack_str(&p, m->replay_owner);
	for (i = 0; i < m->nkeys; i++) {
		put->keys[i].key = pack(&p, m->keys[i].key, m->keys[i].len);
		put->keys[i].len = m->keys[i].len;
		put->keys[i].expires_ms = m->keys[i].expires_ms;
	}
	if (keep_body) {
		put->body = pack(&p, m->body, m->len);
		put->len = m->len;
	}
	put->http_status = m->http_status;
	put->start_ms = m->start_ms;
	put->end_ms = m->end_ms;
	return op;
}

static struct store_op *
pending_op(const struct store_pending *src)
{
	struct store_op		*op;
	struct store_pending	*d;
	char			*p;

	op = op_new(OP_REQUEUE, str_size(src->delivery_id) +
	    str_size(src->participant) + str_size(src->webhook) +
	    str_size(src->action) + str_size(src->sender) +
	    str_size(src->message_id) + str_size(src->transaction_id) +
	    src->len + 1, &p);
	d = &op->u.pend;
	d->delivery_id = pack_str(&p, src->delivery_id);
	d->participant = pack_str(&p, src->participant);
	d->webhook = pack_str(&p, src->webhook);
	d->action = pack_str(&p, src->action);
	d->sender = pack_str(&p, src->sender);
	d->message_id = pack_str(&p, src->message_id);
	d->transaction_id = pack_str(&p, src->transaction_id);
	d->body = pack(&p, src->body, src->len);
	d->len = src->len;
	d->attempts = src->attempts;
	return op;
}

/* A row of PENDING_COLUMNS; valid until the statement steps again. */
static void
row_pending(sqlite3_stmt *st, struct store_pending *p)
{
	p->delivery_id = (const char *)sqlite3_column_text(st, 0);
	p->participant = (const char *)sqlite3_column_text(st, 1);
	p->webhook = (const char *)sqlite3_column_text(st, 2);
	p->action = (const char *)sqlite3_column_text(st, 3);
	p->sender = (const char *)sqlite3_column_text(st, 4);
	p->message_id = (const char *)sqlite3_column_text(st, 5);
	p->transaction_id = (const char *)sqlite3_column_text(st, 6);
	if ((p->body = sqlite3_column_blob(st, 7)) == NULL)
		p->body = "";		/* a zero-length blob */
	p->len = (size_t)sqlite3_column_bytes(st, 7);
	p->attempts = sqlite3_column_int(st, 8);
}

static void
op_fail(struct store_op *op, const char *why)
{
	free(op->reason);
	op->reason = xstrdup(why);
	op->ok = 0;
}

/* For logs: "-" for NULL. */
static const char *
nz(const char *str)
{
	return str != NULL ? str : "-";
}

/* A record nobody will hear about failed. */
static void
op_log_failure(const struct store_op *op)
{
	const struct put	*p = &op->u.put;

	if (op->kind == OP_PUT)
		log_error("store: message not recorded (direction %s, "
		    "participant %s, action %s, message_id %s, "
		    "transaction_id %s): %s", nz(p->text[T_DIRECTION]),
		    nz(p->text[T_PARTICIPANT]), nz(p->text[T_ACTION]),
		    nz(p->text[T_MSG]), nz(p->text[T_TXN]), op->reason);
	else if (op->kind == OP_DELIVERY)
		log_error("store: delivery %s: state %s not recorded: %s",
		    op->u.upd.delivery_id, nz(op->u.upd.state), op->reason);
	else if (op->kind == OP_TEL_EVENT)
		log_error("store: telemetry event %lld not spooled: %s",
		    (long long)op->u.tel.first, op->reason);
	else if (op->kind == OP_TEL_SEAL || op->kind == OP_TEL_DONE)
		log_error("store: telemetry batch %lld..%lld not %s: %s",
		    (long long)op->u.tel.first, (long long)op->u.tel.last,
		    op->kind == OP_TEL_SEAL ? "sealed" : "deleted",
		    op->reason);
}

/* ---- the writer --------------------------------------------------------- */

static int
put_exec(struct store *s, const struct put *p)
{
	sqlite3_stmt	*st = s->stmt[S_INSERT];
	size_t		 i;
	int		 rc;

	for (i = 0; i < NTEXT; i++)
		sqlite3_bind_text(st, (int)i + 1, p->text[i], -1,
		    SQLITE_STATIC);
	if (p->http_status != 0)
		sqlite3_bind_int(st, 17, p->http_status);
	else
		sqlite3_bind_null(st, 17);
	sqlite3_bind_int64(st, 18, p->start_ms);
	if (p->end_ms != 0)
		sqlite3_bind_int64(st, 19, p->end_ms);
	else
		sqlite3_bind_null(st, 19);
	sqlite3_bind_blob64(st, 20, p->body, p->len, SQLITE_STATIC);
	if ((rc = run(st)) != SQLITE_OK)
		return rc;
	st = s->stmt[S_REPLAY];
	for (i = 0; i < p->nkeys; i++) {
		sqlite3_bind_blob64(st, 1, p->keys[i].key, p->keys[i].len,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 2, p->owner, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, p->keys[i].expires_ms);
		if ((rc = run(st)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int
delivery_exec(struct store *s, const struct upd *u)
{
	sqlite3_stmt	*st = s->stmt[S_DELIVERY];

	sqlite3_bind_text(st, 1, u->delivery_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, u->attempts);
	sqlite3_bind_text(st, 3, u->last_error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, u->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, u->at_ms);
	sqlite3_bind_int(st, 6, u->clear_body);
	return run(st);
}

static int
tel_exec(struct store *s, enum op_kind kind, const struct tel *t)
{
	sqlite3_stmt	*st;
	int		 rc;

	switch (kind) {
	case OP_TEL_EVENT:
		st = s->stmt[S_TEL_EVENT];
		sqlite3_bind_int64(st, 1, t->first);
		sqlite3_bind_text64(st, 2, t->event, t->len, SQLITE_STATIC,
		    SQLITE_UTF8);
		return run(st);
	case OP_TEL_SEAL:
		st = s->stmt[S_TEL_SEAL];
		sqlite3_bind_int64(st, 1, t->first);
		sqlite3_bind_int64(st, 2, t->last);
		return run(st);
	default:
		/* Events and seal in one transaction: a crash between the
		 * two never leaves a seal over missing events. */
		st = s->stmt[S_TEL_DONE_EVENTS];
		sqlite3_bind_int64(st, 1, t->first);
		sqlite3_bind_int64(st, 2, t->last);
		if ((rc = run(st)) != SQLITE_OK)
			return rc;
		st = s->stmt[S_TEL_DONE_BATCH];
		sqlite3_bind_int64(st, 1, t->first);
		return run(st);
	}
}

/* The op's statements, in the open transaction; on failure its reason. */
static int
op_exec(struct store *s, struct store_op *op)
{
	int	 rc;

	switch (op->kind) {
	case OP_PUT:
		rc = put_exec(s, &op->u.put);
		break;
	case OP_DELIVERY:
		rc = delivery_exec(s, &op->u.upd);
		break;
	default:
		rc = tel_exec(s, op->kind, &op->u.tel);
		break;
	}
	if (rc != SQLITE_OK)
		op_fail(op, sqlite3_errmsg(s->db));
	return rc;
}

/* Fail op and every op after it with why. */
static void
fail_from(struct store_op *op, const char *why, struct tally *t)
{
	for (; op != NULL; op = TAILQ_NEXT(op, entry)) {
		op_fail(op, why);
		t->failures++;
	}
}

/*
 * One transaction for the whole batch; when it fails, one per op, so
 * that the failure stays with the op that caused it.  A BEGIN that fails
 * (another process holds the lock past the busy timeout) fails the ops
 * not yet written rather than waiting again for each.
 */
static void
write_batch(struct store *s, struct opq *batch, size_t n, struct tally *t)
{
	struct store_op	*op;

	if (n > 1) {
		if (begin(s) != SQLITE_OK) {
			fail_from(TAILQ_FIRST(batch), sqlite3_errmsg(s->db), t);
			return;
		}
		TAILQ_FOREACH(op, batch, entry)
			if (op_exec(s, op) != SQLITE_OK)
				break;
		if (op == NULL && commit(s) == SQLITE_OK) {
			TAILQ_FOREACH(op, batch, entry)
				op->ok = 1;
			t->commits++;
			t->records += n;
			return;
		}
		log_warn("store: %s: a batch of %zu records failed (%s); "
		    "writing them one at a time", s->path, n,
		    sqlite3_errmsg(s->db));
		rollback(s);
	}
	TAILQ_FOREACH(op, batch, entry) {
		free(op->reason);
		op->reason = NULL;
		if (begin(s) != SQLITE_OK) {
			fail_from(op, sqlite3_errmsg(s->db), t);
			return;
		}
		if (op_exec(s, op) == SQLITE_OK) {
			if (commit(s) == SQLITE_OK) {
				op->ok = 1;
				t->commits++;
				t->records++;
				continue;
			}
			op_fail(op, sqlite3_errmsg(s->db));
		}
		rollback(s);
		t->failures++;
	}
}

/*
 * Outbox rows that cannot be delivered, having no body (cleared under
 * bodies: none when they reached a final state, then requeued): dead,
 * with the reason.  In the caller's transaction.
 */
static int
bury_bodiless(struct store *s)
{
	sqlite3_stmt	*st = s->stmt[S_NOBODY];
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		log_warn("store: delivery %s cannot be requeued: its body "
		    "was not kept (store.bodies: none); dead",
		    nz((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Rows another process set to 'requeue': 'queued', copies to out. */
static void
requeue_poll(struct store *s, struct opq *out)
{
	struct store_pending	 p;
	struct opq		 found;
	struct store_op		*op;
	sqlite3_stmt		*st = s->stmt[S_ANY_REQUEUE];
	int			 rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return;
	TAILQ_INIT(&found);
	if (rc != SQLITE_ROW || begin(s) != SQLITE_OK ||
	    bury_bodiless(s) != SQLITE_OK)
		goto bad;
	st = s->stmt[S_REQUEUE];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_pending(st, &p);
		op = pending_op(&p);
		TAILQ_INSERT_TAIL(&found, op, entry);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || commit(s) != SQLITE_OK)
		goto bad;
	TAILQ_CONCAT(out, &found, entry);
	return;
bad:
	log_error("store: %s: requeue poll: %s", s->path,
	    sqlite3_errmsg(s->db));
	rollback(s);
	while ((op = TAILQ_FIRST(&found)) != NULL) {
		TAILQ_REMOVE(&found, op, entry);
		free(op);
	}
}

/* One retention pass; 1 when a table had more to delete. */
static int
retain(struct store *s)
{
	sqlite3_stmt	*st;
	int64_t		 now = clock_now_ms(NULL);
	int		 nmsg = 0, nkey = 0;

	if (begin(s) != SQLITE_OK)
		goto bad;
	if (s->retention_ms > 0) {
		st = s->stmt[S_PRUNE_MSG];
		sqlite3_bind_int64(st, 1, now - s->retention_ms);
		sqlite3_bind_int(st, 2, STORE_RETAIN_ROWS);
		if (run(st) != SQLITE_OK)
			goto bad;
		nmsg = sqlite3_changes(s->db);
	}
	st = s->stmt[S_PRUNE_REPLAY];
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, STORE_RETAIN_ROWS);
	if (run(st) != SQLITE_OK)
		goto bad;
	nkey = sqlite3_changes(s->db);
	if (commit(s) != SQLITE_OK)
		goto bad;
	if (nmsg > 0 || nkey > 0)
		log_debug("store: retention deleted %d messages and %d "
		    "replay keys", nmsg, nkey);
	return nmsg == STORE_RETAIN_ROWS || nkey == STORE_RETAIN_ROWS;
bad:
	log_error("store: %s: retention: %s", s->path, sqlite3_errmsg(s->db));
	rollback(s);
	return 0;
}

/* The requeue poll and retention, when due. */
static void
timed(struct store *s, struct opq *out)
{
	int64_t	 now = mono_ms();

	if (now - s->last_poll < STORE_POLL_MS)
		return;
	s->last_poll = now;
	requeue_poll(s, out);
	/* Expired replay keys go even when the journal is kept forever. */
	if (now >= s->retain_next &&
	    (now - s->last_op >= STORE_IDLE_MS ||
	    now - s->retain_next >= STORE_STARVE_MS))
		s->retain_next = now + (retain(s) ? STORE_POLL_MS :
		    STORE_RETAIN_MS);
}

/* Under mu: ops to the loop. */
static void
hand_over(struct store *s, struct opq *ops)
{
	if (TAILQ_EMPTY(ops))
		return;
	TAILQ_CONCAT(&s->done, ops, entry);
	if (!s->woken) {
		s->woken = 1;
		if (write(s->wake[1], "", 1) == -1 && errno != EAGAIN)
			log_error("store: waking the loop: %s",
			    strerror(errno));
	}
}

/* Under mu: until work, closing or the next tick. */
static void
wait_work(struct store *s)
{
	struct timespec	 ts;
	int64_t		 until;

	while (TAILQ_EMPTY(&s->queue) && !s->closing &&
	    mono_ms() < (until = s->last_poll + STORE_POLL_MS)) {
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
}

/*
 * The writer thread; also run on the caller's thread by store_close()
 * when the store never started (closing set: it writes the queue and
 * returns).
 */
static void *
writer(void *arg)
{
	struct store	*s = arg;
	struct store_op	*op;
	struct opq	 batch, out;
	struct tally	 t;
	int64_t		 retention = 0;
	uint64_t	 max_size = 0;
	size_t		 n;
	int		 closing, reconf;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		wait_work(s);
		TAILQ_INIT(&batch);
		for (n = 0; n < STORE_BATCH &&
		    (op = TAILQ_FIRST(&s->queue)) != NULL; n++) {
			TAILQ_REMOVE(&s->queue, op, entry);
			TAILQ_INSERT_TAIL(&batch, op, entry);
		}
		closing = s->closing;
		if ((reconf = s->reconf)) {
			retention = s->want_retention;
			max_size = s->want_max_size;
			s->reconf = 0;
		}
		pthread_mutex_unlock(&s->mu);

		if (reconf) {
			s->retention_ms = retention;
			if (max_size != s->max_size) {
				if (set_max_size(s, max_size) == SQLITE_OK)
					s->max_size = max_size;
				else
					log_error("store: %s: max_size: %s",
					    s->path, sqlite3_errmsg(s->db));
			}
		}
		memset(&t, 0, sizeof(t));
		TAILQ_INIT(&out);
		if (n > 0) {
			write_batch(s, &batch, n, &t);
			s->last_op = mono_ms();
		}
		if (!closing)
			timed(s, &out);

		pthread_mutex_lock(&s->mu);
		s->nqueued -= n;
		s->st.commits += t.commits;
		s->st.records += t.records;
		s->st.failures += t.failures;
		hand_over(s, &batch);
		hand_over(s, &out);
		if (closing && TAILQ_EMPTY(&s->queue))
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the loop ----------------------------------------------------------- */

static void
complete(struct store *s, struct store_op *op)
{
	if (op->kind == OP_REQUEUE) {
		if (s->requeue_cb != NULL)
			s->requeue_cb(&op->u.pend, s->requeue_arg);
		else
			log_warn("store: delivery %s requeued; no one to "
			    "deliver it before the next start",
			    nz(op->u.pend.delivery_id));
	} else if (op->cb != NULL && !op->cancelled)
		op->cb(op->ok, op->reason, op->arg);
	else if (!op->ok)
		op_log_failure(op);
	free(op->reason);
	free(op);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store	*s = arg;
	struct store_op	*op;
	struct opq	 done;
	char		 buf[64];

	/* Dry first: a byte written after this is for ops taken later. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&s->mu);
	TAILQ_CONCAT(&done, &s->done, entry);
	s->woken = 0;
	pthread_mutex_unlock(&s->mu);
	while ((op = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, op, entry);
		complete(s, op);
	}
}

static void
enqueue(struct store *s, struct store_op *op)
{
	pthread_mutex_lock(&s->mu);
	if (s->nqueued >= STORE_QUEUE_MAX) {
		op_fail(op, "store queue full");
		s->st.failures++;
		TAILQ_INSERT_TAIL(&s->done, op, entry);
		if (!s->woken) {
			s->woken = 1;
			if (write(s->wake[1], "", 1) == -1 && errno != EAGAIN)
				log_error("store: waking the loop: %s",
				    strerror(errno));
		}
	} else {
		if (TAILQ_EMPTY(&s->queue))
			pthread_cond_signal(&s->cv);
		TAILQ_INSERT_TAIL(&s->queue, op, entry);
		s->nqueued++;
	}
	pthread_mutex_unlock(&s->mu);
}

struct store_op *
store_put(struct store *s, const struct store_msg *m, store_done_cb cb,
    void *arg)
{
	struct store_op	*op;

	op = put_op(m, m->delivery_id != NULL ||
	    (s->bodies == STORE_BODIES_ALL && m->body != NULL));
	op->cb = cb;
	op->arg = arg;
	enqueue(s, op);
	return cb != NULL ? op : NULL;
}

void
store_op_cancel(struct store_op *op)
{
	if (op != NULL)
		op->cancelled = 1;
}

void
store_delivery(struct store *s, const char *delivery_id, const char *state,
    int attempts, const char *last_error, int64_t at_ms)
{
	struct store_op	*op;
	struct upd	*u;
	char		*p;
	int		 final;

	if (strcmp(state, "queued") == 0)
		final = 0;
	else if (strcmp(state, "delivered") == 0 ||
	    strcmp(state, "refused") == 0 || strcmp(state, "dead") == 0)
		final = 1;
	else {
		log_error("store: delivery %s: unknown state \"%s\" ignored",
		    delivery_id, state);
		return;
	}
	op = op_new(OP_DELIVERY, str_size(delivery_id) + str_size(state) +
	    str_size(last_error), &p);
	u = &op->u.upd;
	u->delivery_id = pack_str(&p, delivery_id);
	u->state = final ? pack_str(&p, state) : NULL;
	u->last_error = pack_str(&p, last_error);
	u->attempts = attempts;
	u->at_ms = at_ms;
	/* A dead or refused letter keeps its body: it may be sent again. */
	u->clear_body = s->bodies == STORE_BODIES_NONE &&
	    strcmp(state, "delivered") == 0;
	enqueue(s, op);
}

/*
 * The telemetry spool: records of their own in the same queue, so that
 * an event, its seal and its acceptance are written in the order the
 * loop made them, interleaved with the journal's records.  No callback:
 * a failure is logged by complete() (op_log_failure()), and the caller
 * still has the event in memory.
 */
static void
tel_queue(struct store *s, enum op_kind kind, int64_t first, int64_t last,
    const char *event, size_t len)
{
	struct store_op	*op;
	char		*p;

	op = op_new(kind, kind == OP_TEL_EVENT ? len + 1 : 0, &p);
	op->u.tel.first = first;
	op->u.tel.last = last;
	if (kind == OP_TEL_EVENT) {
		op->u.tel.event = pack(&p, event, len);
		op->u.tel.len = len;
	}
	enqueue(s, op);
}

void
store_tel_event(struct store *s, int64_t seq, const char *event,
    size_t len)
{
	tel_queue(s, OP_TEL_EVENT, seq, seq, event, len);
}

void
store_tel_seal(struct store *s, int64_t first, int64_t last)
{
	tel_queue(s, OP_TEL_SEAL, first, last, NULL, 0);
}

void
store_tel_done(struct store *s, int64_t first, int64_t last)
{
	tel_queue(s, OP_TEL_DONE, first, last, NULL, 0);
}

void
store_stats(const struct store *cs, struct store_stats *out)
{
	struct store	*s = (struct store *)(uintptr_t)cs;	/* the lock */

	pthread_mutex_lock(&s->mu);
	*out = s->st;
	out->queued = s->nqueued;
	pthread_mutex_unlock(&s->mu);
}

void
store_set_requeue_cb(struct store *s,
    void (*cb)(const struct store_pending *, void *), void *arg)
{
	s->requeue_cb = cb;
	s->requeue_arg = arg;
}

void
store_reconfigure(struct store *s, const struct store_conf *conf)
{
	s->bodies = conf->bodies;
	pthread_mutex_lock(&s->mu);
	s->want_retention = conf->retention_ms;
	s->want_max_size = conf->max_size;
	s->reconf = 1;
	pthread_mutex_unlock(&s->mu);
}

/* ---- start and end ------------------------------------------------------ */

static void
free_ops(struct opq *q)
{
	struct store_op	*op;

	while ((op = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, op, entry);
		if (op->kind != OP_REQUEUE && !op->ok)
			op_log_failure(op);
		free(op->reason);
		free(op);
	}
}

static void
store_free(struct store *s)
{
	int	 i;

	free_ops(&s->done);
	free_ops(&s->queue);
	if (s->ev != NULL)
		event_free(s->ev);
	for (i = 0; i < 2; i++)
		if (s->wake[i] != -1)
			close(s->wake[i]);
	for (i = 0; i < NSTMT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* Only the owner folds the WAL back (not a -t beside it). */
	if (s->db != NULL && s->lockfd != -1 &&
	    sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL,
	    NULL) != SQLITE_OK)
		log_warn("store: %s: checkpoint at close: %s", s->path,
		    sqlite3_errmsg(s->db));
	store_db_close(s->db);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	if (s->lockfd != -1)
		close(s->lockfd);	/* and with it the lock */
	free(s->path);
	free(s);
}

/*
 * One daemon per store: two would both load the outbox (every message
 * delivered twice) and keep replay caches the other cannot see.  An
 * exclusive flock() on the file itself, held until store_close() (and
 * dropped by the kernel when the process dies, so a kill -9 never leaves
 * a stale lock).  SQLite's own locks are fcntl() locks on other
 * descriptors: the two do not interact.  Readers (becknd journal, the
 * admin API, -t) do not take it.
 */
static int
lock_file(const char *path, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: %s", path, errno == EWOULDBLOCK ?
		    "in use by another becknd (one process per store)" :
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
nonblocking_pipe(int fd[2])
{
	int	 i, fl;

	if (pipe(fd) == -1)
		return -1;
	for (i = 0; i < 2; i++)
		if ((fl = fcntl(fd[i], F_GETFL)) == -1 ||
		    fcntl(fd[i], F_SETFL, fl | O_NONBLOCK) == -1 ||
		    fcntl(fd[i], F_SETFD, FD_CLOEXEC) == -1)
			return -1;
	return 0;
}

static struct store *
open_store(const struct store_conf *conf, int lock, char *err,
    size_t errlen)
{
	struct store		*s;
	pthread_condattr_t	 ca;
	sqlite3			*db;
	int			 i, lockfd = -1;

	if (lock && (lockfd = lock_file(conf->path, err, errlen)) == -1)
		return NULL;
	db = store_db_open(conf->path, STORE_DB_WRITE,
	    conf->sync == STORE_SYNC_FULL ? "FULL" : "NORMAL", err, errlen);
	if (db == NULL) {
		if (lockfd != -1)
			close(lockfd);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->lockfd = lockfd;
	s->db = db;
	s->path = xstrdup(conf->path);
	s->wake[0] = s->wake[1] = -1;
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->done);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->bodies = conf->bodies;
	s->retention_ms = conf->retention_ms;
	s->max_size = conf->max_size;

	if (sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL) !=
	    SQLITE_OK ||
	    int_query(db, "PRAGMA page_size", &s->page_size) != SQLITE_OK ||
	    int_query(db, "PRAGMA max_page_count", &s->default_pages) !=
	    SQLITE_OK || s->page_size <= 0 ||
	    set_max_size(s, conf->max_size) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto bad;
	}
	for (i = 0; i < NSTMT; i++)
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) !=
		    SQLITE_OK) {
			db_fail(s, err, errlen);
			goto bad;
		}
	if (nonblocking_pipe(s->wake) == -1) {
		snprintf(err, errlen, "%s: pipe: %s", s->path,
		    strerror(errno));
		goto bad;
	}
	return s;
bad:
	store_free(s);
	return NULL;
}

/* The folder of path exists and this process may create files in it. */
static int
folder_writable(const char *path, char *err, size_t errlen)
{
	char		*dir;
	const char	*slash = strrchr(path, '/');
	int		 rc = 0;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "%s: cannot be created: %s: %s", path,
		    dir, strerror(errno));
		rc = -1;
	}
	free(dir);
	return rc;
}

struct store *
store_open(const struct store_conf *conf, char *err, size_t errlen)
{
	return open_store(conf, 1, err, errlen);
}

int
store_check(const struct store_conf *conf, char *err, size_t errlen)
{
	struct store	*s;
	long long	 v;
	int		 rc = -1;

	/* A missing file is not created by a check: its folder must be
	 * there and writable. */
	if (access(conf->path, F_OK) == -1) {
		if (errno == ENOENT)
			return folder_writable(conf->path, err, errlen);
		snprintf(err, errlen, "%s: %s", conf->path, strerror(errno));
		return -1;
	}
	if ((s = open_store(conf, 0, err, errlen)) == NULL)
		return -1;
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		snprintf(err, errlen, "%s: read-only", s->path);
		goto out;
	}
	if (begin(s) != SQLITE_OK ||
	    int_query(s->db, "PRAGMA user_version", &v) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	rc = 0;
out:
	rollback(s);
	store_free(s);
	return rc;
}

int
store_start(struct store *s, struct event_base *base, char *err,
    size_t errlen)
{
	sigset_t	 all, old;
	int		 rc;

	if (s->started || sqlite3_threadsafe() == 0) {
		snprintf(err, errlen, "%s: %s", s->path, s->started ?
		    "already started" : "SQLite built without threads");
		return -1;
	}
	s->ev = event_new(base, s->wake[0], EV_READ | EV_PERSIST, wake_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1) {
		snprintf(err, errlen, "%s: cannot watch the writer's pipe",
		    s->path);
		goto bad;
	}
	s->last_op = s->last_poll = s->retain_next = mono_ms();
	/* Signals are the loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, writer, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot start the writer: %s",
		    s->path, strerror(rc));
		goto bad;
	}
	s->started = 1;
	return 0;
bad:
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		writer(s);
	store_free(s);
}

/* ---- loaders ------------------------------------------------------------ */

static int
not_started(struct store *s, char *err, size_t errlen)
{
	if (!s->started)
		return 0;
	snprintf(err, errlen, "%s: loading after the writer started",
	    s->path);
	return -1;
}

int
store_replay_load(struct store *s, int64_t now_ms,
    int (*cb)(const void *, size_t, const char *, int64_t, void *),
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	const void	*key;
	int		 rc, ret = -1;

	if (not_started(s, err, errlen) == -1)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT key, owner, expires_ms FROM "
	    "replay WHERE expires_ms > ?1", -1, &st, NULL) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((key = sqlite3_column_blob(st, 0)) == NULL)
			key = "";
		if (cb(key, (size_t)sqlite3_column_bytes(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), arg) != 0) {
			snprintf(err, errlen, "%s: loading stopped", s->path);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(s, err, errlen);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
store_outbox_load(struct store *s,
    int (*cb)(const struct store_pending *, void *), void *arg, char *err,
    size_t errlen)
{
	struct store_pending	 p;
	sqlite3_stmt		*st = NULL;
	int			 rc, ret = -1;

	if (not_started(s, err, errlen) == -1)
		return -1;
	if (begin(s) != SQLITE_OK || bury_bodiless(s) != SQLITE_OK ||
	    run(s->stmt[S_REQUEUE]) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT " PENDING_COLUMNS " FROM "
	    "messages WHERE delivery_state = 'queued' ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_pending(st, &p);
		if (cb(&p, arg) != 0) {
			snprintf(err, errlen, "%s: loading stopped", s->path);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(s, err, errlen);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (commit(s) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	if (ret == -1)
		rollback(s);
	return ret;
}

int
store_tel_load(struct store *s,
    int (*batch_cb)(int64_t, int64_t, void *),
    int (*event_cb)(int64_t, const char *, size_t, void *), void *arg,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	const char	*event;
	int		 rc, ret = -1;

	if (not_started(s, err, errlen) == -1)
		return -1;
	/* The batches first: the caller knows them when their events
	 * come. */
	if (sqlite3_prepare_v2(s->db, "SELECT first, last FROM tel_batch "
	    "ORDER BY first", -1, &st, NULL) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (batch_cb(sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1), arg) != 0) {
			snprintf(err, errlen, "%s: loading stopped", s->path);
			goto out;
		}
	if (rc != SQLITE_DONE) {
		db_fail(s, err, errlen);
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "SELECT seq, event FROM tel_event "
	    "ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		db_fail(s, err, errlen);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((event = (const char *)sqlite3_column_text(st, 1)) == NULL)
			event = "";
		if (event_cb(sqlite3_column_int64(st, 0), event,
		    (size_t)sqlite3_column_bytes(st, 1), arg) != 0) {
			snprintf(err, errlen, "%s: loading stopped", s->path);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(s, err, errlen);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

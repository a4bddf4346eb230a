/*
 * store_query.c - queries, exports and re-queueing on the journal (see
 * store_query.h).
 *
 * Every value reaches SQLite as a bound parameter: the SQL texts are put
 * together from constant pieces only (struct where).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store_db.h"
#include "store/store_query.h"
#include "util/hex.h"
#include "util/rfc3339.h"
#include "util/xmalloc.h"

struct store_reader {
	sqlite3	*db;
	char	*path;
};

/* The columns of a row, in the order of ROW_COLUMNS. */
enum {
	C_ID, C_DIRECTION, C_PARTICIPANT, C_ROLE, C_PEER, C_ACTION, C_DOMAIN,
	C_TRANSACTION, C_MESSAGE, C_ORDER, C_STATE, C_HTTP, C_ACK,
	C_ERROR_CODE, C_ERROR_MESSAGE, C_START, C_END, C_DELIVERY,
	C_DELIVERY_STATE, C_ATTEMPTS, C_LAST_ERROR, C_DELIVERED, C_BODY
};
#define ROW_COLUMNS							\
	"id, direction, participant, role, peer, action, domain, "	\
	"transaction_id, message_id, order_id, state_code, http_status, " \
	"ack, error_code, error_message, start_ms, end_ms, delivery_id, " \
	"delivery_state, attempts, last_error, delivered_ms"

/* Year 9999's last millisecond: the latest time the format can show. */
#define TIME_MAX_MS	253402300799999LL

#define STORE_STR_(x)	#x
#define STORE_STR(x)	STORE_STR_(x)

static const char *const statuses[] = {
	"ACK", "NACK", "queued", "delivered", "refused", "dead", NULL
};

/* --- time ------------------------------------------------------------ */

void
store_time_format(int64_t ms, char buf[STORE_TIME_SIZE])
{
	struct tm	 tm;
	time_t		 t;

	if (ms < 0)
		ms = 0;
	if (ms > TIME_MAX_MS)
		ms = TIME_MAX_MS;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, STORE_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
	    tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, (int)(ms % 1000));
}

int
store_time_parse(const char *s, int64_t *ms)
{
	if (*s != '\0' && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		*ms = strtoll(s, NULL, 10);
		return 0;
	}
	return rfc3339_parse(s, RFC3339_STRICT, ms);
}

/* --- JSON of a row ---------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* A JSON string of the bytes; ill-formed UTF-8 bytes become U+FFFD. */
static json_object *
json_bytes(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	json_object		*o;
	char			*buf;
	size_t			 i, k, o_len = 0;

	for (i = 0; i < len; i += k)
		if ((k = utf8_seq(p + i, len - i)) == 0)
			break;
	if (i == len)
		return json_object_new_string_len(s, (int)len);
	buf = xmalloc(len * 3);
	for (i = 0; i < len; i += k) {
		if ((k = utf8_seq(p + i, len - i)) == 0) {
			memcpy(buf + o_len, "\xef\xbf\xbd", 3);
			o_len += 3;
			k = 1;
		} else {
			memcpy(buf + o_len, s + i, k);
			o_len += k;
		}
	}
	o = json_object_new_string_len(buf, (int)o_len);
	free(buf);
	return o;
}

static json_object *
col_str(sqlite3_stmt *st, int i)
{
	const char	*s;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	if (sqlite3_column_type(st, i) == SQLITE_BLOB)
		s = sqlite3_column_blob(st, i);
	else
		s = (const char *)sqlite3_column_text(st, i);
	return json_bytes(s != NULL ? s : "",
	    (size_t)sqlite3_column_bytes(st, i));
}

static json_object *
col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	return json_object_new_int64(sqlite3_column_int64(st, i));
}

static json_object *
col_time(sqlite3_stmt *st, int i)
{
	char	 buf[STORE_TIME_SIZE];

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	store_time_format(sqlite3_column_int64(st, i), buf);
	return json_object_new_string(buf);
}

/*
 * The row JSON (store_query.h), from a statement selecting ROW_COLUMNS
 * and then the body (or NULL); bodies: add "body".
 */
static json_object *
row_json(sqlite3_stmt *st, int bodies)
{
	static const struct {
		const char	*name;
		int		 col;
	} strs[] = {
		{ "direction", C_DIRECTION }, { "participant", C_PARTICIPANT },
		{ "role", C_ROLE }, { "peer", C_PEER }, { "action", C_ACTION },
		{ "domain", C_DOMAIN }, { "transaction_id", C_TRANSACTION },
		{ "message_id", C_MESSAGE }, { "order_id", C_ORDER },
		{ "state_code", C_STATE },
	};
	json_object	*o, *d = NULL;
	size_t		 i;

	o = json_object_new_object();
	json_object_object_add(o, "id", col_int(st, C_ID));
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		json_object_object_add(o, strs[i].name,
		    col_str(st, strs[i].col));
	json_object_object_add(o, "http_status", col_int(st, C_HTTP));
	json_object_object_add(o, "ack", col_str(st, C_ACK));
	json_object_object_add(o, "error_code", col_str(st, C_ERROR_CODE));
	json_object_object_add(o, "error_message",
	    col_str(st, C_ERROR_MESSAGE));
	json_object_object_add(o, "start", col_time(st, C_START));
	json_object_object_add(o, "end", col_time(st, C_END));
	json_object_object_add(o, "latency_ms",
	    sqlite3_column_type(st, C_END) == SQLITE_NULL ? NULL :
	    json_object_new_int64(sqlite3_column_int64(st, C_END) -
	    sqlite3_column_int64(st, C_START)));
	if (sqlite3_column_type(st, C_DELIVERY) != SQLITE_NULL) {
		d = json_object_new_object();
		json_object_object_add(d, "id", col_str(st, C_DELIVERY));
		json_object_object_add(d, "state",
		    col_str(st, C_DELIVERY_STATE));
		json_object_object_add(d, "attempts", json_object_new_int64(
		    sqlite3_column_int64(st, C_ATTEMPTS)));
		json_object_object_add(d, "last_error",
		    col_str(st, C_LAST_ERROR));
		json_object_object_add(d, "at", col_time(st, C_DELIVERED));
	}
	json_object_object_add(o, "delivery", d);
	if (bodies)
		json_object_object_add(o, "body", col_str(st, C_BODY));
	return o;
}

/* --- filters ---------------------------------------------------------- */

#define WHERE_MAX	16

/* A WHERE clause of constant pieces and its parameters, in order. */
struct where {
	char		 sql[1024];
	size_t		 len;
	int		 n;
	const char	*text[WHERE_MAX];
	int64_t		 num[WHERE_MAX];
};

static void
where_add(struct where *w, const char *clause, const char *text,
    int64_t num)
{
	w->len += (size_t)snprintf(w->sql + w->len, sizeof(w->sql) - w->len,
	    "%s%s", w->len == 0 ? " WHERE " : " AND ", clause);
	if (strchr(clause, '?') != NULL) {
		w->text[w->n] = text;
		w->num[w->n] = num;
		w->n++;
	}
}

static int
is_status(const char *s)
{
	size_t	 i;

	for (i = 0; statuses[i] != NULL; i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

/*
 * What is wrong with f's values, or NULL; *name the filter at fault.
 * *limit gets the page size (export: 0 is every row).
 */
static const char *
filter_bad(const struct store_filter *f, int export, int *limit,
    const char **name)
{
	*name = NULL;
	if (f->status != NULL && !is_status(f->status)) {
		*name = "status";
		return "must be ACK, NACK, queued, delivered, refused or dead";
	}
	if (f->direction != NULL && strcmp(f->direction, "in") != 0 &&
	    strcmp(f->direction, "out") != 0) {
		*name = "direction";
		return "must be in or out";
	}
	if (f->since_ms < 0 || f->until_ms < 0) {
		*name = f->since_ms < 0 ? "since" : "until";
		return "must not be negative";
	}
	if (f->after < 0) {
		*name = "after";
		return "must not be negative";
	}
	if (f->limit < 0 || (!export && f->limit > STORE_LIMIT_MAX)) {
		*name = "limit";
		return export ? "must not be negative" : "must be 1 to "
		    STORE_STR(STORE_LIMIT_MAX);
	}
	*limit = f->limit != 0 || export ? f->limit : STORE_LIMIT_DEFAULT;
	return NULL;
}

static int
filter_check(const struct store_filter *f, int export, int *limit,
    char *err, size_t errlen)
{
	const char	*why, *name;

	if ((why = filter_bad(f, export, limit, &name)) == NULL)
		return 0;
	snprintf(err, errlen, "%s %s", name, why);
	return -1;
}

/* The clause of f; after: the cursor is "id > after" (messages). */
static void
where_build(struct where *w, const struct store_filter *f, int after)
{
	static const struct {
		size_t		 off;
		const char	*clause;
	} eq[] = {
		{ offsetof(struct store_filter, transaction_id),
		  "transaction_id = ?" },
		{ offsetof(struct store_filter, message_id), "message_id = ?" },
		{ offsetof(struct store_filter, order_id), "order_id = ?" },
		{ offsetof(struct store_filter, action), "action = ?" },
		{ offsetof(struct store_filter, participant),
		  "participant = ?" },
		{ offsetof(struct store_filter, domain), "domain = ?" },
		{ offsetof(struct store_filter, peer), "peer = ?" },
		{ offsetof(struct store_filter, direction), "direction = ?" },
	};
	const char	*v;
	size_t		 i;

	memset(w, 0, sizeof(*w));
	for (i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		memcpy(&v, (const char *)f + eq[i].off, sizeof(v));
		if (v != NULL)
			where_add(w, eq[i].clause, v, 0);
	}
	/* ACK, NACK: the answer; the others: the delivery. */
	if (f->status != NULL && (strcmp(f->status, "ACK") == 0 ||
	    strcmp(f->status, "NACK") == 0))
		where_add(w, "ack = ?", f->status, 0);
	else if (f->status != NULL && strcmp(f->status, "queued") == 0)
		where_add(w, "delivery_state IN ('queued', 'requeue')", NULL,
		    0);
	else if (f->status != NULL)
		where_add(w, "delivery_state = ?", f->status, 0);
	if (f->since_ms > 0)
		where_add(w, "start_ms >= ?", NULL, f->since_ms);
	if (f->until_ms > 0)
		where_add(w, "start_ms < ?", NULL, f->until_ms);
	if (after && f->after > 0)
		where_add(w, "id > ?", NULL, f->after);
}

/* Bind w's parameters as 1..n; the next free index is n + 1. */
static int
where_bind(const struct where *w, sqlite3_stmt *st)
{
	int	 i, rc;

	for (i = 0; i < w->n; i++) {
		rc = w->text[i] != NULL ?
		    sqlite3_bind_text(st, i + 1, w->text[i], -1,
		    SQLITE_STATIC) : sqlite3_bind_int64(st, i + 1, w->num[i]);
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* --- reader ----------------------------------------------------------- */

struct store_reader *
store_reader_open(const char *path, char *err, size_t errlen)
{
	struct store_reader	*r;
	sqlite3			*db;

	if ((db = store_db_open(path, STORE_DB_READ, NULL, err, errlen)) ==
	    NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->db = db;
	r->path = xstrdup(path);
	return r;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	store_db_close(r->db);
	free(r->path);
	free(r);
}

static void
db_error(struct store_reader *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: query failed: %s", r->path,
	    sqlite3_errmsg(r->db));
}

static sqlite3_stmt *
prepare(struct store_reader *r, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(r, err, errlen);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/*
 * Rows of st (bound) into a new array under key of a new object, at most
 * limit (-1: all); *more when a further row exists, *last the last id.
 */
static json_object *
collect(struct store_reader *r, sqlite3_stmt *st, const char *key,
    int limit, int bodies, int *more, int64_t *last, char *err,
    size_t errlen)
{
	json_object	*o, *rows;
	int		 rc, n = 0;

	*more = 0;
	o = json_object_new_object();
	rows = json_object_new_array();
	json_object_object_add(o, key, rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit >= 0 && n == limit) {
			*more = 1;
			break;
		}
		json_object_array_add(rows, row_json(st, bodies));
		*last = sqlite3_column_int64(st, C_ID);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(r, err, errlen);
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
store_query_messages(struct store_reader *r, const struct store_filter *f,
    int bodies, char *err, size_t errlen)
{
	struct where	 w;
	sqlite3_stmt	*st;
	json_object	*o = NULL;
	char		 sql[1536];
	int64_t		 last = 0;
	int		 limit, more;

	if (filter_check(f, 0, &limit, err, errlen) == -1)
		return NULL;
	where_build(&w, f, 1);
	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS ", %s FROM messages"
	    "%s ORDER BY id LIMIT ?", bodies ? "body" : "NULL", w.sql);
	if ((st = prepare(r, sql, err, errlen)) == NULL)
		return NULL;
	if (where_bind(&w, st) == -1 ||
	    sqlite3_bind_int(st, w.n + 1, limit + 1) != SQLITE_OK)
		db_error(r, err, errlen);
	else if ((o = collect(r, st, "messages", limit, bodies, &more, &last,
	    err, errlen)) != NULL)
		json_object_object_add(o, "next", more ?
		    json_object_new_int64(last) : NULL);
	sqlite3_finalize(st);
	return o;
}

/* One transaction's summary (store_query_transactions) from det, bound. */
static int
txn_details(struct store_reader *r, sqlite3_stmt *det, json_object *t,
    char *err, size_t errlen)
{
	json_object	*actions, *order = NULL, *state = NULL, *domain = NULL;
	json_object	*participant = NULL, *action = NULL;
	int		 rc;

	actions = json_object_new_array();
	json_object_object_add(t, "actions", actions);
	while ((rc = sqlite3_step(det)) == SQLITE_ROW) {
		action = col_str(det, 0);
		json_object_array_add(actions, action);
		if (sqlite3_column_type(det, 1) != SQLITE_NULL) {
			json_object_put(order);
			order = col_str(det, 1);
		}
		if (sqlite3_column_type(det, 2) != SQLITE_NULL) {
			json_object_put(state);
			state = col_str(det, 2);
		}
		if (participant == NULL)
			participant = col_str(det, 3);
		if (domain == NULL)
			domain = col_str(det, 4);
	}
	json_object_object_add(t, "domain", domain);
	json_object_object_add(t, "participant", participant);
	json_object_object_add(t, "order_id", order);
	json_object_object_add(t, "state_code", state);
	json_object_object_add(t, "last_action", json_object_get(action));
	if (rc != SQLITE_DONE) {
		db_error(r, err, errlen);
		return -1;
	}
	return 0;
}

json_object *
store_query_transactions(struct store_reader *r,
    const struct store_filter *f, char *err, size_t errlen)
{
	struct store_filter	 g;
	struct where		 w, wd;
	sqlite3_stmt		*st = NULL, *det = NULL;
	json_object		*o = NULL, *list, *t;
	char			 sql[1536], ts[STORE_TIME_SIZE];
	const char		*id;
	int64_t			 last = 0;
	int			 limit, n = 0, rc, more = 0;
	size_t			 i;

	if (filter_check(f, 0, &limit, err, errlen) == -1)
		return NULL;
	where_build(&w, f, 0);
	where_add(&w, "transaction_id IS NOT NULL", NULL, 0);
	snprintf(sql, sizeof(sql), "SELECT transaction_id, max(id), count(*),"
	    " min(start_ms), max(start_ms), count(CASE WHEN ack = 'NACK' "
	    "THEN 1 END) FROM messages%s GROUP BY transaction_id%s "
	    "ORDER BY max(id) DESC LIMIT ?", w.sql,
	    f->after > 0 ? " HAVING max(id) < ?" : "");
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(r, err, errlen);
		return NULL;
	}
	if ((st = prepare(r, sql, err, errlen)) == NULL)
		goto done;
	if (where_bind(&w, st) == -1 || (f->after > 0 &&
	    sqlite3_bind_int64(st, ++w.n, f->after) != SQLITE_OK) ||
	    sqlite3_bind_int(st, w.n + 1, limit + 1) != SQLITE_OK) {
		db_error(r, err, errlen);
		goto done;
	}
	o = json_object_new_object();
	list = json_object_new_array();
	json_object_object_add(o, "transactions", list);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == limit) {
			more = 1;
			break;
		}
		/* Every key in its place; txn_details() fills the nulls. */
		t = json_object_new_object();
		json_object_object_add(t, "transaction_id", col_str(st, 0));
		json_object_object_add(t, "domain", NULL);
		json_object_object_add(t, "participant", NULL);
		store_time_format(sqlite3_column_int64(st, 3), ts);
		json_object_object_add(t, "first", json_object_new_string(ts));
		store_time_format(sqlite3_column_int64(st, 4), ts);
		json_object_object_add(t, "last", json_object_new_string(ts));
		json_object_object_add(t, "messages", col_int(st, 2));
		json_object_object_add(t, "actions", NULL);
		json_object_object_add(t, "order_id", NULL);
		json_object_object_add(t, "state_code", NULL);
		json_object_object_add(t, "last_action", NULL);
		json_object_object_add(t, "nacks", col_int(st, 5));
		json_object_array_add(list, t);
		last = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(r, err, errlen);
		goto fail;
	}
	json_object_object_add(o, "next", more ? json_object_new_int64(last) :
	    NULL);

	/* The details of each, under the same filter. */
	g = *f;
	g.transaction_id = "";
	where_build(&wd, &g, 0);
	snprintf(sql, sizeof(sql), "SELECT action, order_id, state_code, "
	    "participant, domain FROM messages%s ORDER BY id", wd.sql);
	if ((det = prepare(r, sql, err, errlen)) == NULL)
		goto fail;
	for (i = 0; i < json_object_array_length(list); i++) {
		t = json_object_array_get_idx(list, i);
		id = json_object_get_string(json_object_object_get(t,
		    "transaction_id"));
		wd.text[0] = id;	/* transaction_id comes first */
		sqlite3_reset(det);
		if (where_bind(&wd, det) == -1) {
			db_error(r, err, errlen);
			goto fail;
		}
		if (txn_details(r, det, t, err, errlen) == -1)
			goto fail;
	}
	goto done;
fail:
	json_object_put(o);
	o = NULL;
done:
	sqlite3_finalize(st);
	sqlite3_finalize(det);
	sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	return o;
}

/* Every row whose column (a constant name) is id, with bodies. */
static json_object *
query_by(struct store_reader *r, const char *column, const char *key,
    const char *what, const char *id, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	json_object	*o = NULL;
	char		 sql[512];
	int64_t		 last = 0;
	int		 more;

	errno = EIO;
	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS ", body FROM "
	    "messages WHERE %s = ? ORDER BY id", column);
	if ((st = prepare(r, sql, err, errlen)) == NULL)
		return NULL;
	if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
		db_error(r, err, errlen);
	else
		o = collect(r, st, "messages", -1, 1, &more, &last, err,
		    errlen);
	sqlite3_finalize(st);
	if (o == NULL)
		return NULL;
	if (json_object_array_length(json_object_object_get(o,
	    "messages")) == 0) {
		json_object_put(o);
		snprintf(err, errlen, "%s %s not found", what, id);
		errno = ENOENT;
		return NULL;
	}
	json_object_object_add(o, key, json_object_new_string(id));
	return o;
}

json_object *
store_query_transaction(struct store_reader *r, const char *id, char *err,
    size_t errlen)
{
	return query_by(r, "transaction_id", "transaction_id", "transaction",
	    id, err, errlen);
}

json_object *
store_query_message(struct store_reader *r, const char *id, char *err,
    size_t errlen)
{
	return query_by(r, "message_id", "message_id", "message", id, err,
	    errlen);
}

/* --- export ----------------------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len, size;
};

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->len + len > b->size) {
		b->size = b->size * 2 + len + 256;
		b->p = xrealloc(b->p, b->size);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
}

/*
 * One CSV field (RFC 4180), with a separator before all but the first.
 * text: a string, which gets a ' in front when a spreadsheet would take
 * it for a formula.
 */
static void
csv_field(struct buf *b, int first, const char *s, size_t len, int text)
{
	size_t	 i, from;
	int	 quote = 0;

	if (!first)
		buf_add(b, ",", 1);
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' ||
		    s[i] == '\n')
			quote = 1;
	if (quote)
		buf_add(b, "\"", 1);
	if (text && len > 0 && s[0] != '\0' &&
	    strchr("=+-@\t\r", s[0]) != NULL)
		buf_add(b, "'", 1);
	for (i = from = 0; i < len; i++)
		if (s[i] == '"') {
			buf_add(b, s + from, i + 1 - from);
			buf_add(b, "\"", 1);
			from = i + 1;
		}
	buf_add(b, s + from, len - from);
	if (quote)
		buf_add(b, "\"", 1);
}

static void
csv_col(struct buf *b, sqlite3_stmt *st, int col, int first)
{
	char		 num[32];
	const char	*s;
	int		 n;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		csv_field(b, first, "", 0, 0);
		break;
	case SQLITE_INTEGER:
		n = snprintf(num, sizeof(num), "%lld",
		    (long long)sqlite3_column_int64(st, col));
		csv_field(b, first, num, (size_t)n, 0);
		break;
	default:
		s = (const char *)sqlite3_column_text(st, col);
		csv_field(b, first, s != NULL ? s : "",
		    (size_t)sqlite3_column_bytes(st, col), 1);
		break;
	}
}

static void
csv_time(struct buf *b, sqlite3_stmt *st, int col)
{
	char	 ts[STORE_TIME_SIZE];

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		csv_field(b, 0, "", 0, 0);
		return;
	}
	store_time_format(sqlite3_column_int64(st, col), ts);
	csv_field(b, 0, ts, strlen(ts), 0);
}

static void
csv_row(struct buf *b, sqlite3_stmt *st)
{
	char	 num[32];
	int	 col, n;

	for (col = C_ID; col <= C_ERROR_MESSAGE; col++)
		csv_col(b, st, col, col == C_ID);
	csv_time(b, st, C_START);
	csv_time(b, st, C_END);
	if (sqlite3_column_type(st, C_END) == SQLITE_NULL)
		csv_field(b, 0, "", 0, 0);
	else {
		n = snprintf(num, sizeof(num), "%lld", (long long)
		    (sqlite3_column_int64(st, C_END) -
		    sqlite3_column_int64(st, C_START)));
		csv_field(b, 0, num, (size_t)n, 0);
	}
	csv_col(b, st, C_DELIVERY, 0);
	csv_col(b, st, C_DELIVERY_STATE, 0);
	if (sqlite3_column_type(st, C_DELIVERY) == SQLITE_NULL)
		csv_field(b, 0, "", 0, 0);
	else
		csv_col(b, st, C_ATTEMPTS, 0);
	csv_col(b, st, C_LAST_ERROR, 0);
	buf_add(b, "\r\n", 2);
}

int
store_export(struct store_reader *r, const struct store_filter *f,
    const char *format, int (*write)(const char *, size_t, void *),
    void *arg, char *err, size_t errlen)
{
	static const char header[] = "id,direction,participant,role,peer,"
	    "action,domain,transaction_id,message_id,order_id,state_code,"
	    "http_status,ack,error_code,error_message,start,end,latency_ms,"
	    "delivery_id,delivery_state,attempts,last_error\r\n";
	struct where	 w;
	struct buf	 b = { NULL, 0, 0 };
	sqlite3_stmt	*st;
	json_object	*o;
	const char	*s;
	char		 sql[1536];
	int		 csv, limit, rc, ret = -1;

	if (format == NULL || (strcmp(format, "csv") != 0 &&
	    strcmp(format, "jsonl") != 0)) {
		snprintf(err, errlen, "format must be csv or jsonl");
		return -1;
	}
	csv = strcmp(format, "csv") == 0;
	if (filter_check(f, 1, &limit, err, errlen) == -1)
		return -1;
	where_build(&w, f, 1);
	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS ", %s FROM messages"
	    "%s ORDER BY id LIMIT ?", csv ? "NULL" : "body", w.sql);
	if ((st = prepare(r, sql, err, errlen)) == NULL)
		return -1;
	if (where_bind(&w, st) == -1 || sqlite3_bind_int64(st, w.n + 1,
	    limit > 0 ? limit : -1) != SQLITE_OK) {
		db_error(r, err, errlen);
		goto done;
	}
	if (csv && write(header, sizeof(header) - 1, arg) == -1)
		goto wfail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		b.len = 0;
		if (csv)
			csv_row(&b, st);
		else {
			o = row_json(st, 1);
			s = json_object_to_json_string_ext(o, STORE_JSON_FLAGS);
			buf_add(&b, s, strlen(s));
			buf_add(&b, "\n", 1);
			json_object_put(o);
		}
		if (write(b.p, b.len, arg) == -1)
			goto wfail;
	}
	if (rc != SQLITE_DONE) {
		db_error(r, err, errlen);
		goto done;
	}
	ret = 0;
	goto done;
wfail:
	snprintf(err, errlen, "write failed");
done:
	sqlite3_finalize(st);
	free(b.p);
	return ret;
}

/* --- query strings ---------------------------------------------------- */

/* %-decode s in place ('+' is a space); -1 on a bad escape or a NUL. */
static int
url_decode(char *s)
{
	char	*o = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*o++ = ' ';
		else if (*s != '%')
			*o++ = *s;
		else {
			if ((hi = hex_digit((unsigned char)s[1])) == -1 ||
			    (lo = hex_digit((unsigned char)s[2])) == -1 ||
			    (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		}
	}
	*o = '\0';
	return 0;
}

/* A non-negative decimal number of at most 15 digits; -1 when not. */
static int
parse_count(const char *s, int64_t *out)
{
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 15)
		return -1;
	*out = strtoll(s, NULL, 10);
	return 0;
}

enum param_kind { P_STR, P_TIME, P_AFTER, P_LIMIT };

/* One parameter of a query string into f; -1 and err. */
static int
param_set(struct store_filter *f, enum param_kind kind, size_t off,
    const char *name, const char *value, char *err, size_t errlen)
{
	int64_t	 v;

	switch (kind) {
	case P_STR:
		memcpy((char *)f + off, &value, sizeof(value));
		return 0;
	case P_TIME:
		if (store_time_parse(value, &v) == -1) {
			snprintf(err, errlen, "parameter \"%s\": not an RFC "
			    "3339 time or unix milliseconds", name);
			return -1;
		}
		memcpy((char *)f + off, &v, sizeof(v));
		return 0;
	case P_AFTER:
		if (parse_count(value, &f->after) == -1) {
			snprintf(err, errlen, "parameter \"after\": not a "
			    "message id");
			return -1;
		}
		return 0;
	case P_LIMIT:
		if (parse_count(value, &v) == -1 || v < 1 ||
		    v > STORE_LIMIT_MAX) {
			snprintf(err, errlen, "parameter \"limit\": must be 1 "
			    "to %d", STORE_LIMIT_MAX);
			return -1;
		}
		f->limit = (int)v;
		return 0;
	}
	return -1;
}

int
store_filter_parse_query(struct store_filter *f, char *buf, char *err,
    size_t errlen)
{
#define P(name, kind, field) \
	{ name, kind, offsetof(struct store_filter, field) }
	static const struct {
		const char	*name;
		enum param_kind	 kind;
		size_t		 off;
	} params[] = {
		P("transaction", P_STR, transaction_id),
		P("message", P_STR, message_id),
		P("order", P_STR, order_id),
		P("action", P_STR, action),
		P("status", P_STR, status),
		P("participant", P_STR, participant),
		P("domain", P_STR, domain),
		P("peer", P_STR, peer),
		P("direction", P_STR, direction),
		P("format", P_STR, format),
		P("since", P_TIME, since_ms),
		P("until", P_TIME, until_ms),
		P("after", P_AFTER, after),
		P("limit", P_LIMIT, limit),
	};
#undef P
	const char	*why, *bad;
	char		*p, *next, *name, *value;
	unsigned	 seen = 0;
	int		 limit;
	size_t		 i, n = sizeof(params) / sizeof(params[0]);

	memset(f, 0, sizeof(*f));
	for (p = buf; p != NULL; p = next) {
		if ((next = strchr(p, '&')) != NULL)
			*next++ = '\0';
		if (*p == '\0')
			continue;
		name = p;
		if ((value = strchr(p, '=')) != NULL)
			*value++ = '\0';
		if (url_decode(name) == -1) {
			snprintf(err, errlen, "a parameter name has a bad "
			    "%%-escape");
			return -1;
		}
		for (i = 0; i < n; i++)
			if (strcmp(name, params[i].name) == 0)
				break;
		if (i == n) {
			snprintf(err, errlen, "unknown parameter \"%.64s\"",
			    name);
			return -1;
		}
		if (seen & 1u << i) {
			snprintf(err, errlen, "parameter \"%s\" given twice",
			    name);
			return -1;
		}
		seen |= 1u << i;
		if (value == NULL || *value == '\0') {
			snprintf(err, errlen, "parameter \"%s\" has no value",
			    name);
			return -1;
		}
		if (url_decode(value) == -1) {
			snprintf(err, errlen, "parameter \"%s\": bad "
			    "%%-escape", name);
			return -1;
		}
		if (param_set(f, params[i].kind, params[i].off, name, value,
		    err, errlen) == -1)
			return -1;
	}
	if ((why = filter_bad(f, 0, &limit, &bad)) != NULL) {
		snprintf(err, errlen, "parameter \"%s\": %s", bad, why);
		return -1;
	}
	return 0;
}

/* --- requeue ---------------------------------------------------------- */

static int
requeue_row(sqlite3 *db, const char *sql, const char *id, int64_t rowid)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = id != NULL ? sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) :
	    sqlite3_bind_int64(st, 1, rowid);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

/*
 * The requeue proper, in a transaction: 1 requeued, 0 not (err says
 * why), -1 database error.
 */
static int
requeue(sqlite3 *db, const char *id, char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	char		 ids[256];
	int64_t		 rowid = 0;
	int		 n, rc, found = 0;
	size_t		 len = 0;

	n = requeue_row(db, "UPDATE messages SET delivery_state = 'requeue' "
	    "WHERE delivery_id = ? AND delivery_state IN ('dead', 'refused')",
	    id, 0);
	if (n != 0)
		return n;
	/* Not a dead letter's delivery id: one in another state? */
	if (sqlite3_prepare_v2(db, "SELECT delivery_state FROM messages "
	    "WHERE delivery_id = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
		goto bad;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(err, errlen, "delivery %s is %s, not dead or refused",
		    id, sqlite3_column_type(st, 0) == SQLITE_NULL ? "not "
		    "tracked" : (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return 0;
	}
	if (rc != SQLITE_DONE)
		goto bad;
	sqlite3_finalize(st);
	/* A message id with exactly one dead letter. */
	if (sqlite3_prepare_v2(db, "SELECT id, delivery_id FROM messages "
	    "WHERE message_id = ? AND delivery_id IS NOT NULL AND "
	    "delivery_state IN ('dead', 'refused') ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
		goto bad;
	ids[0] = '\0';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rowid = sqlite3_column_int64(st, 0);
		if (len < sizeof(ids))
			len += (size_t)snprintf(ids + len, sizeof(ids) - len,
			    "%s%s", found > 0 ? ", " : "",
			    (const char *)sqlite3_column_text(st, 1));
		found++;
	}
	if (rc != SQLITE_DONE)
		goto bad;
	sqlite3_finalize(st);
	if (found == 0) {
		snprintf(err, errlen, "no dead or refused delivery with id %s",
		    id);
		return 0;
	}
	if (found > 1) {
		snprintf(err, errlen, "message %s has %d dead or refused "
		    "deliveries: name one by its delivery id (%s)", id, found,
		    ids);
		return 0;
	}
	return requeue_row(db, "UPDATE messages SET delivery_state = "
	    "'requeue' WHERE id = ?", NULL, rowid);
bad:
	sqlite3_finalize(st);
	return -1;
}

int
store_requeue(const char *path, const char *id, char *err, size_t errlen)
{
	sqlite3	*db;
	int	 n;

	/* A reader first: a missing file is an error, never created. */
	if ((db = store_db_open(path, STORE_DB_READ, NULL, err, errlen)) ==
	    NULL)
		return -1;
	store_db_close(db);
	if ((db = store_db_open(path, STORE_DB_WRITE, NULL, err, errlen)) ==
	    NULL)
		return -1;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		store_db_close(db);
		return -1;
	}
	n = requeue(db, id, err, errlen);
	if (n == 1 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) ==
	    SQLITE_OK) {
		store_db_close(db);
		return 0;
	}
	if (n != 0)
		snprintf(err, errlen, "%s: cannot requeue %s: %s", path, id,
		    sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	store_db_close(db);
	return -1;
}

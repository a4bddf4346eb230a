/*
 * store_query.c - STAND-IN for the read side of the journal (see
 * store_query.h): enough of the plan's API for the admin API's tests.
 * Replaced at merge by the store engineer's version.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_db.h"
#include "store/store_query.h"
#include "util/hex.h"
#include "util/xmalloc.h"

struct store_reader {
	sqlite3	*db;
};

#define COLS	"id, direction, participant, role, peer, action, domain, " \
	"transaction_id, message_id, order_id, state_code, http_status, " \
	"ack, error_code, error_message, start_ms, end_ms, delivery_id, " \
	"delivery_state, attempts, last_error, delivered_ms, body"

enum {
	C_ID, C_DIR, C_PART, C_ROLE, C_PEER, C_ACTION, C_DOMAIN, C_TXN, C_MSG,
	C_ORDER, C_STATE, C_HTTP, C_ACK, C_ECODE, C_EMSG, C_START, C_END,
	C_DID, C_DSTATE, C_ATTEMPTS, C_LASTERR, C_DMS, C_BODY
};

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
	return r;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	store_db_close(r->db);
	free(r);
}

static json_object *
col_str(sqlite3_stmt *st, int c)
{
	if (sqlite3_column_type(st, c) == SQLITE_NULL)
		return NULL;
	return json_object_new_string((const char *)
	    sqlite3_column_text(st, c));
}

static json_object *
col_int(sqlite3_stmt *st, int c)
{
	if (sqlite3_column_type(st, c) == SQLITE_NULL)
		return NULL;
	return json_object_new_int64(sqlite3_column_int64(st, c));
}

static json_object *
ts(int64_t ms)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);
	char		 buf[40];

	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_object_new_string(buf);
}

static json_object *
col_ts(sqlite3_stmt *st, int c)
{
	if (sqlite3_column_type(st, c) == SQLITE_NULL)
		return NULL;
	return ts(sqlite3_column_int64(st, c));
}

static json_object *
row_json(sqlite3_stmt *st, int bodies)
{
	json_object	*o = json_object_new_object(), *d;
	static const struct { const char *name; int col; } s[] = {
		{ "direction", C_DIR }, { "participant", C_PART },
		{ "role", C_ROLE }, { "peer", C_PEER },
		{ "action", C_ACTION }, { "domain", C_DOMAIN },
		{ "transaction_id", C_TXN }, { "message_id", C_MSG },
		{ "order_id", C_ORDER }, { "state_code", C_STATE },
	};
	size_t		 i;

	json_object_object_add(o, "id", col_int(st, C_ID));
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		json_object_object_add(o, s[i].name, col_str(st, s[i].col));
	json_object_object_add(o, "http_status", col_int(st, C_HTTP));
	json_object_object_add(o, "ack", col_str(st, C_ACK));
	json_object_object_add(o, "error_code", col_str(st, C_ECODE));
	json_object_object_add(o, "error_message", col_str(st, C_EMSG));
	json_object_object_add(o, "start", col_ts(st, C_START));
	json_object_object_add(o, "end", col_ts(st, C_END));
	json_object_object_add(o, "latency_ms",
	    sqlite3_column_type(st, C_END) == SQLITE_NULL ? NULL :
	    json_object_new_int64(sqlite3_column_int64(st, C_END) -
	    sqlite3_column_int64(st, C_START)));
	d = NULL;
	if (sqlite3_column_type(st, C_DID) != SQLITE_NULL) {
		d = json_object_new_object();
		json_object_object_add(d, "id", col_str(st, C_DID));
		json_object_object_add(d, "state", col_str(st, C_DSTATE));
		json_object_object_add(d, "attempts", col_int(st,
		    C_ATTEMPTS));
		json_object_object_add(d, "last_error", col_str(st,
		    C_LASTERR));
		json_object_object_add(d, "at", col_ts(st, C_DMS));
	}
	json_object_object_add(o, "delivery", d);
	if (bodies)
		json_object_object_add(o, "body",
		    sqlite3_column_type(st, C_BODY) == SQLITE_NULL ? NULL :
		    json_object_new_string_len(sqlite3_column_blob(st,
		    C_BODY), sqlite3_column_bytes(st, C_BODY)));
	return o;
}

/* "SELECT COLS FROM messages WHERE <filter> ORDER BY id LIMIT ?" */
static sqlite3_stmt *
filter_stmt(struct store_reader *r, const struct store_filter *f,
    int limit, char *err, size_t errlen)
{
	static const struct { size_t off; const char *col; } eq[] = {
	{ offsetof(struct store_filter, transaction_id), "transaction_id" },
	{ offsetof(struct store_filter, message_id), "message_id" },
	{ offsetof(struct store_filter, order_id), "order_id" },
	{ offsetof(struct store_filter, action), "action" },
	{ offsetof(struct store_filter, participant), "participant" },
	{ offsetof(struct store_filter, domain), "domain" },
	{ offsetof(struct store_filter, peer), "peer" },
	{ offsetof(struct store_filter, direction), "direction" },
	};
	sqlite3_stmt	*st = NULL;
	const char	*v, *binds[16];
	char		 sql[2048];
	size_t		 i, n = 0, len;
	int		 b;

	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " COLS
	    " FROM messages WHERE id > ?1");
	for (i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		v = *(const char *const *)((const char *)f + eq[i].off);
		if (v == NULL)
			continue;
		binds[n++] = v;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
		    " AND %s = ?%zu", eq[i].col, n + 4);
	}
	if (f->status != NULL) {
		if (strcmp(f->status, "ACK") == 0 ||
		    strcmp(f->status, "NACK") == 0)
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    " AND ack = '%s'", f->status);
		else if (strcmp(f->status, "queued") == 0)
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    " AND delivery_state IN ('queued','requeue')");
		else
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    " AND delivery_state = '%s'", f->status);
	}
	snprintf(sql + len, sizeof(sql) - len, "%s%s ORDER BY id LIMIT ?4",
	    f->since_ms != 0 ? " AND start_ms >= ?2" : "",
	    f->until_ms != 0 ? " AND start_ms < ?3" : "");
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(r->db));
		return NULL;
	}
	sqlite3_bind_int64(st, 1, f->after);
	sqlite3_bind_int64(st, 2, f->since_ms);
	sqlite3_bind_int64(st, 3, f->until_ms);
	sqlite3_bind_int(st, 4, limit);
	for (i = 0; i < n; i++) {
		b = (int)i + 5;
		sqlite3_bind_text(st, b, binds[i], -1, SQLITE_STATIC);
	}
	return st;
}

static int
limit_of(const struct store_filter *f)
{
	return f->limit >= 1 && f->limit <= 1000 ? f->limit : 100;
}

json_object *
store_query_messages(struct store_reader *r, const struct store_filter *f,
    int bodies, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	json_object	*o, *a;
	int		 limit = limit_of(f), n = 0, rc;
	int64_t		 last = 0;

	if ((st = filter_stmt(r, f, limit + 1, err, errlen)) == NULL)
		return NULL;
	a = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		json_object_array_add(a, row_json(st, bodies));
		last = sqlite3_column_int64(st, C_ID);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(r->db));
		sqlite3_finalize(st);
		json_object_put(a);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "messages", a);
	json_object_object_add(o, "next", rc == SQLITE_ROW ?
	    json_object_new_int64(last) : NULL);
	sqlite3_finalize(st);
	return o;
}

/* Stand-in: one transaction per distinct transaction_id of the page. */
json_object *
store_query_transactions(struct store_reader *r,
    const struct store_filter *f, char *err, size_t errlen)
{
	json_object	*page, *msgs, *m, *out, *t, *v;
	const char	*id;
	size_t		 i, j;

	if ((page = store_query_messages(r, f, 0, err, errlen)) == NULL)
		return NULL;
	msgs = json_object_object_get(page, "messages");
	out = json_object_new_array();
	for (i = json_object_array_length(msgs); i-- > 0;) {
		m = json_object_array_get_idx(msgs, i);
		if ((id = json_object_get_string(json_object_object_get(m,
		    "transaction_id"))) == NULL)
			continue;
		for (j = 0; j < json_object_array_length(out); j++)
			if (strcmp(json_object_get_string(
			    json_object_object_get(json_object_array_get_idx(
			    out, j), "transaction_id")), id) == 0)
				break;
		if (j < json_object_array_length(out)) {
			t = json_object_array_get_idx(out, j);
			v = json_object_object_get(t, "messages");
			json_object_set_int(v, json_object_get_int(v) + 1);
			continue;
		}
		t = json_object_new_object();
		json_object_object_add(t, "transaction_id",
		    json_object_new_string(id));
		json_object_object_add(t, "messages", json_object_new_int(1));
		json_object_object_add(t, "last_action", json_object_get(
		    json_object_object_get(m, "action")));
		json_object_array_add(out, t);
	}
	t = json_object_new_object();
	json_object_object_add(t, "transactions", out);
	json_object_object_add(t, "next", json_object_get(
	    json_object_object_get(page, "next")));
	json_object_put(page);
	return t;
}

static json_object *
rows_by(struct store_reader *r, const char *col, const char *id, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	json_object	*a, *o;
	char		 sql[512];
	int		 rc;

	snprintf(sql, sizeof(sql), "SELECT " COLS " FROM messages WHERE %s = ?"
	    " ORDER BY id", col);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(r->db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	a = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_array_add(a, row_json(st, 1));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || json_object_array_length(a) == 0) {
		snprintf(err, errlen, "%s", rc != SQLITE_DONE ?
		    sqlite3_errmsg(r->db) : "not found");
		json_object_put(a);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, col, json_object_new_string(id));
	json_object_object_add(o, "messages", a);
	return o;
}

json_object *
store_query_transaction(struct store_reader *r, const char *id, char *err,
    size_t errlen)
{
	return rows_by(r, "transaction_id", id, err, errlen);
}

json_object *
store_query_message(struct store_reader *r, const char *id, char *err,
    size_t errlen)
{
	return rows_by(r, "message_id", id, err, errlen);
}

static int
csv_field(json_object *v, int (*write)(const char *, size_t, void *),
    void *arg, int first)
{
	const char	*s, *p;

	if (!first && write(",", 1, arg) < 0)
		return -1;
	if (v == NULL)
		return 0;
	s = json_object_get_string(v);
	if (strpbrk(s, ",\"\r\n") == NULL)
		return write(s, strlen(s), arg);
	if (write("\"", 1, arg) < 0)
		return -1;
	for (; (p = strchr(s, '"')) != NULL; s = p + 1)
		if (write(s, (size_t)(p - s) + 1, arg) < 0 ||
		    write("\"", 1, arg) < 0)
			return -1;
	return write(s, strlen(s), arg) < 0 || write("\"", 1, arg) < 0 ?
	    -1 : 0;
}

int
store_export(struct store_reader *r, const struct store_filter *f,
    const char *format, int (*write)(const char *, size_t, void *),
    void *arg, char *err, size_t errlen)
{
	static const char *const cols[] = { "id", "direction", "participant",
		"role", "peer", "action", "domain", "transaction_id",
		"message_id", "order_id", "state_code", "http_status", "ack",
		"error_code", "error_message", "start", "end", "latency_ms" };
	struct store_filter	 page = *f;
	json_object		*o, *a, *row, *next;
	const char		*s;
	size_t			 i, c;
	int			 csv, rc = 0;

	if (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) {
		snprintf(err, errlen, "format: csv or jsonl");
		return -1;
	}
	csv = format[0] == 'c';
	for (c = 0; csv && c < sizeof(cols) / sizeof(cols[0]); c++)
		if (write(cols[c], strlen(cols[c]), arg) < 0 ||
		    write(c + 1 < sizeof(cols) / sizeof(cols[0]) ? "," :
		    "\r\n", c + 1 < sizeof(cols) / sizeof(cols[0]) ? 1 : 2,
		    arg) < 0)
			goto wfail;
	page.limit = 1000;
	for (;;) {
		if ((o = store_query_messages(r, &page, !csv, err, errlen)) ==
		    NULL)
			return -1;
		a = json_object_object_get(o, "messages");
		for (i = 0; rc == 0 && i < json_object_array_length(a); i++) {
			row = json_object_array_get_idx(a, i);
			if (!csv) {
				s = json_object_to_json_string_ext(row,
				    STORE_JSON_FLAGS);
				rc = write(s, strlen(s), arg) < 0 ||
				    write("\n", 1, arg) < 0 ? -1 : 0;
				continue;
			}
			for (c = 0; rc == 0 && c < sizeof(cols) /
			    sizeof(cols[0]); c++)
				rc = csv_field(json_object_object_get(row,
				    cols[c]), write, arg, c == 0);
			if (rc == 0)
				rc = write("\r\n", 2, arg);
		}
		next = json_object_object_get(o, "next");
		page.after = next != NULL ? json_object_get_int64(next) : 0;
		json_object_put(o);
		if (rc < 0)
			goto wfail;
		if (page.after == 0)
			return 0;
	}
wfail:
	snprintf(err, errlen, "write failed");
	return -1;
}

/* %XX and '+' decoded in place; -1 on a bad escape or %00. */
static int
unescape(char *s)
{
	char	*w = s;
	int	 h, l;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*w++ = ' ';
		else if (*s != '%')
			*w++ = *s;
		else {
			if ((h = hex_digit(s[1])) < 0 ||
			    (l = hex_digit(s[2])) < 0 || h + l == 0)
				return -1;
			*w++ = (char)(h << 4 | l);
			s += 2;
		}
	}
	*w = '\0';
	return 0;
}

static int
parse_ms(const char *v, int64_t *out)
{
	struct tm	 tm;
	char		*end;
	long long	 n;
	int		 frac = 0;
	const char	*p;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v != '\0' && *end == '\0' && errno == 0 && n > 0) {
		*out = n;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		frac = (int)strtol(p + 1, &end, 10);
		p = end;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	*out = (int64_t)timegm(&tm) * 1000 + frac % 1000;
	return 0;
}

int
store_filter_parse_query(struct store_filter *f, char *buf, char *err,
    size_t errlen)
{
	static const struct { const char *name; size_t off; } s[] = {
	{ "transaction", offsetof(struct store_filter, transaction_id) },
	{ "message", offsetof(struct store_filter, message_id) },
	{ "order", offsetof(struct store_filter, order_id) },
	{ "action", offsetof(struct store_filter, action) },
	{ "status", offsetof(struct store_filter, status) },
	{ "participant", offsetof(struct store_filter, participant) },
	{ "domain", offsetof(struct store_filter, domain) },
	{ "peer", offsetof(struct store_filter, peer) },
	{ "direction", offsetof(struct store_filter, direction) },
	};
	char		*p, *next, *v, *end;
	long long	 n;
	size_t		 i;

	memset(f, 0, sizeof(*f));
	f->limit = 100;
	for (p = buf; p != NULL && *p != '\0'; p = next) {
		if ((next = strchr(p, '&')) != NULL)
			*next++ = '\0';
		if (*p == '\0')
			continue;
		if ((v = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s: a value is needed", p);
			return -1;
		}
		*v++ = '\0';
		if (unescape(v) < 0) {
			snprintf(err, errlen, "%s: bad %%-escape", p);
			return -1;
		}
		for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
			if (strcmp(p, s[i].name) == 0)
				break;
		if (i < sizeof(s) / sizeof(s[0])) {
			*(const char **)((char *)f + s[i].off) = v;
			continue;
		}
		if (strcmp(p, "since") == 0 || strcmp(p, "until") == 0) {
			if (parse_ms(v, p[0] == 's' ? &f->since_ms :
			    &f->until_ms) < 0) {
				snprintf(err, errlen, "%s: an RFC 3339 time or "
				    "unix ms is needed", p);
				return -1;
			}
			continue;
		}
		if (strcmp(p, "limit") != 0 && strcmp(p, "after") != 0) {
			snprintf(err, errlen, "%s: unknown parameter", p);
			return -1;
		}
		errno = 0;
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || n < 0 ||
		    (p[0] == 'l' && (n < 1 || n > 1000))) {
			snprintf(err, errlen, "%s: %s", p, p[0] == 'l' ?
			    "1 to 1000" : "a message id");
			return -1;
		}
		if (p[0] == 'l')
			f->limit = (int)n;
		else
			f->after = n;
	}
	if (f->status != NULL && strcmp(f->status, "ACK") != 0 &&
	    strcmp(f->status, "NACK") != 0 && strcmp(f->status, "queued") &&
	    strcmp(f->status, "delivered") != 0 &&
	    strcmp(f->status, "refused") != 0 &&
	    strcmp(f->status, "dead") != 0) {
		snprintf(err, errlen, "status: ACK, NACK, queued, delivered, "
		    "refused or dead");
		return -1;
	}
	return 0;
}

/* The number of rows sql (?1 = id) counts; -1 on failure. */
static int
count(sqlite3 *db, const char *sql, const char *id, char *state,
    size_t statelen)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ == 0 && state != NULL)
			snprintf(state, statelen, "%s",
			    sqlite3_column_type(st, 0) == SQLITE_NULL ?
			    "not tracked" : (const char *)
			    sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return n;
}

int
store_requeue(const char *path, const char *id, char *err, size_t errlen)
{
	static const char *const sql[] = {
		"UPDATE messages SET delivery_state = 'requeue' WHERE "
		"delivery_id = ?1 AND delivery_state IN ('dead','refused')",
		"UPDATE messages SET delivery_state = 'requeue' WHERE "
		"message_id = ?1 AND delivery_state IN ('dead','refused')",
	};
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 state[32];
	int		 rc, n;

	if (access(path, F_OK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((db = store_db_open(path, STORE_DB_WRITE, NULL, err, errlen)) ==
	    NULL)
		return -1;
	if ((n = count(db, "SELECT delivery_state FROM messages WHERE "
	    "delivery_id = ?1", id, state, sizeof(state))) == 1 &&
	    strcmp(state, "dead") != 0 && strcmp(state, "refused") != 0) {
		snprintf(err, errlen, "delivery %s is %s, not dead or refused",
		    id, state);
		goto out;
	}
	if (n == 0 && (n = count(db, "SELECT id FROM messages WHERE "
	    "message_id = ?1 AND delivery_state IN ('dead','refused')", id,
	    NULL, 0)) != 1) {
		if (n > 1)
			snprintf(err, errlen, "message %s has %d dead or "
			    "refused deliveries", id, n);
		else if (n == 0)
			snprintf(err, errlen, "no dead or refused delivery "
			    "with id %s", id);
		if (n >= 0)
			goto out;
	}
	if (n < 0 || sqlite3_prepare_v2(db, sql[n == 1 && count(db,
	    "SELECT id FROM messages WHERE delivery_id = ?1", id, NULL, 0) ==
	    1 ? 0 : 1], -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	store_db_close(db);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
out:
	store_db_close(db);
	return -1;
}

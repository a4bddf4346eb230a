/*
 * check_store_query.c - the read side of the journal (store_query.h) on
 * databases built here: store_db_open() for the schema, plain INSERTs
 * for the rows.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "testutil.h"
#include "store/store_db.h"
#include "store/store_query.h"
#include "util/xmalloc.h"

/* 2026-11-30T01:02:03.456Z */
#define T0	1796000523456LL

static char	 dir[] = "/tmp/check_store_query.XXXXXX";

/* A row to insert; NULL strings and 0 numbers are SQL NULL (not ids). */
struct trow {
	const char	*direction, *participant, *role, *peer, *action;
	const char	*domain, *transaction_id, *message_id, *order_id;
	const char	*state_code;
	int		 http_status;
	const char	*ack, *error_code, *error_message;
	int64_t		 start_ms, end_ms;
	const char	*delivery_id, *webhook, *sender, *delivery_state;
	int		 attempts;
	const char	*last_error;
	int64_t		 delivered_ms;
	const char	*body;
	size_t		 len;		/* 0: strlen(body) */
};

static char *
db_path(const char *name)
{
	char	*p;

	xasprintf(&p, "%s/%s.db", dir, name);
	return p;
}

/* A new, empty store file at dir/name.db, open for writing. */
static sqlite3 *
new_db(const char *name)
{
	char	 err[512], *path = db_path(name);
	sqlite3	*db;

	unlink(path);
	db = store_db_open(path, STORE_DB_WRITE, "NORMAL", err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	free(path);
	return db;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		ck_assert_int_eq(sqlite3_bind_null(st, i), SQLITE_OK);
	else
		ck_assert_int_eq(sqlite3_bind_text(st, i, s, -1,
		    SQLITE_TRANSIENT), SQLITE_OK);
}

static void
bind_num(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == 0)
		ck_assert_int_eq(sqlite3_bind_null(st, i), SQLITE_OK);
	else
		ck_assert_int_eq(sqlite3_bind_int64(st, i, v), SQLITE_OK);
}

static int64_t
insert(sqlite3 *db, const struct trow *r)
{
	sqlite3_stmt	*st;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO messages("
	    "direction, participant, role, peer, action, domain, "
	    "transaction_id, message_id, order_id, state_code, http_status, "
	    "ack, error_code, error_message, start_ms, end_ms, delivery_id, "
	    "webhook, sender, delivery_state, attempts, last_error, "
	    "delivered_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL), SQLITE_OK);
	bind_text(st, 1, r->direction != NULL ? r->direction : "in");
	bind_text(st, 2, r->participant != NULL ? r->participant :
	    "bap.example");
	bind_text(st, 3, r->role);
	bind_text(st, 4, r->peer);
	bind_text(st, 5, r->action != NULL ? r->action : "search");
	bind_text(st, 6, r->domain);
	bind_text(st, 7, r->transaction_id);
	bind_text(st, 8, r->message_id);
	bind_text(st, 9, r->order_id);
	bind_text(st, 10, r->state_code);
	bind_num(st, 11, r->http_status);
	bind_text(st, 12, r->ack);
	bind_text(st, 13, r->error_code);
	bind_text(st, 14, r->error_message);
	ck_assert_int_eq(sqlite3_bind_int64(st, 15, r->start_ms != 0 ?
	    r->start_ms : T0), SQLITE_OK);
	bind_num(st, 16, r->end_ms);
	bind_text(st, 17, r->delivery_id);
	bind_text(st, 18, r->webhook);
	bind_text(st, 19, r->sender);
	bind_text(st, 20, r->delivery_state);
	ck_assert_int_eq(sqlite3_bind_int(st, 21, r->attempts), SQLITE_OK);
	bind_text(st, 22, r->last_error);
	bind_num(st, 23, r->delivered_ms);
	if (r->body == NULL)
		ck_assert_int_eq(sqlite3_bind_null(st, 24), SQLITE_OK);
	else
		ck_assert_int_eq(sqlite3_bind_blob(st, 24, r->body,
		    (int)(r->len != 0 ? r->len : strlen(r->body)),
		    SQLITE_TRANSIENT), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	return sqlite3_last_insert_rowid(db);
}

static struct store_reader *
reader(const char *name)
{
	struct store_reader	*r;
	char			 err[512], *path = db_path(name);

	r = store_reader_open(path, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	free(path);
	return r;
}

static const char *
js(json_object *o)
{
	return json_object_to_json_string_ext(o, STORE_JSON_FLAGS);
}

/* The ids of a store_query_messages() page, "1,2,3", and its next. */
static void
page(struct store_reader *r, const struct store_filter *f, char *out,
    size_t len, long long *next)
{
	json_object	*o, *rows, *n;
	char		 err[256];
	size_t		 i, k = 0;

	o = store_query_messages(r, f, 0, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	rows = json_object_object_get(o, "messages");
	out[0] = '\0';
	for (i = 0; i < json_object_array_length(rows); i++)
		k += (size_t)snprintf(out + k, len - k, "%s%lld",
		    i > 0 ? "," : "", (long long)json_object_get_int64(
		    json_object_object_get(json_object_array_get_idx(rows, i),
		    "id")));
	ck_assert_msg(json_object_object_get_ex(o, "next", &n), "no next");
	*next = n == NULL ? -1 : json_object_get_int64(n);
	json_object_put(o);
}

static void
expect_ids(struct store_reader *r, const struct store_filter *f,
    const char *want)
{
	char		 got[4096];
	long long	 next;

	page(r, f, got, sizeof(got), &next);
	ck_assert_str_eq(got, want);
}

/* --- the reader ------------------------------------------------------- */

START_TEST(reader_refuses_missing_and_foreign)
{
	struct store_reader	*r;
	sqlite3			*db;
	char			 err[512], *path;
	FILE			*f;
	struct stat		 sb;

	path = db_path("missing");
	unlink(path);
	ck_assert_ptr_null(store_reader_open(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(stat(path, &sb), -1);	/* not created */
	ck_assert_int_eq(store_requeue(path, "x", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(stat(path, &sb), -1);
	free(path);

	path = db_path("text");
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("this is not a database, it is a text file of some length "
	    "that SQLite reads as a header and refuses\n", f);
	fclose(f);
	ck_assert_ptr_null(store_reader_open(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) != NULL &&
	    strstr(err, "not a becknd store") != NULL, "%s", err);
	free(path);

	path = db_path("foreign");
	unlink(path);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_null(store_reader_open(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "another application") != NULL, "%s", err);
	free(path);

	/* Ours: opens, and reads while a writer holds the file. */
	db = new_db("ours");
	r = reader("ours");
	store_reader_close(r);
	store_db_close(db);
	store_reader_close(NULL);
}
END_TEST

START_TEST(time_format_and_parse)
{
	char	 buf[STORE_TIME_SIZE];
	int64_t	 ms;

	store_time_format(T0, buf);
	ck_assert_str_eq(buf, "2026-11-30T01:02:03.456Z");
	store_time_format(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	store_time_format(951782400007LL, buf);
	ck_assert_str_eq(buf, "2000-02-29T00:00:00.007Z");

	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03.456Z", &ms), 0);
	ck_assert_int_eq(ms, T0);
	ck_assert_int_eq(store_time_parse("2026-11-30T06:32:03.456+05:30",
	    &ms), 0);
	ck_assert_int_eq(ms, T0);
	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03.4567891z",
	    &ms), 0);
	ck_assert_int_eq(ms, T0);
	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03Z", &ms), 0);
	ck_assert_int_eq(ms, T0 - 456);
	ck_assert_int_eq(store_time_parse("1796000523456", &ms), 0);
	ck_assert_int_eq(ms, T0);
	ck_assert_int_eq(store_time_parse("2000-02-29T00:00:00Z", &ms), 0);

	ck_assert_int_eq(store_time_parse("", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-11-30 01:02:03Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-02-29T00:00:00Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2100-02-29T00:00:00Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-04-31T00:00:00Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-11-30T24:00:00Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03.Z", &ms), -1);
	ck_assert_int_eq(store_time_parse("2026-11-30T01:02:03+0530", &ms),
	    -1);
	ck_assert_int_eq(store_time_parse("-5", &ms), -1);
	ck_assert_int_eq(store_time_parse("12ms", &ms), -1);
	ck_assert_int_eq(store_time_parse("1234567890123456", &ms), -1);
}
END_TEST

/* --- the row JSON contract -------------------------------------------- */

START_TEST(row_json_contract)
{
	struct store_reader	*r;
	json_object		*o;
	sqlite3			*db;
	char			 err[256];
	struct store_filter	 f = { 0 };

	db = new_db("row");
	insert(db, &(struct trow){ .direction = "in", .participant = "bap.x",
	    .role = "BAP", .peer = "bpp.y", .action = "on_confirm",
	    .domain = "onest:courses", .transaction_id = "t1",
	    .message_id = "m1", .order_id = "o1", .state_code = "ENROLLED",
	    .http_status = 200, .ack = "ACK", .start_ms = T0,
	    .end_ms = T0 + 12, .delivery_id = "d1",
	    .webhook = "http://app/hook", .sender = "bpp.y",
	    .delivery_state = "delivered", .attempts = 2,
	    .last_error = "HTTP 503", .delivered_ms = T0 + 1000,
	    .body = "{\"a\":\"\xc3\xa9/\\u0001\"}" });
	insert(db, &(struct trow){ .direction = "out", .action = "select",
	    .http_status = 401, .ack = "NACK", .error_code = "10001",
	    .error_message = "bad \"sig\"", .start_ms = T0 + 1 });
	insert(db, &(struct trow){ .action = "search",
	    .body = "{\"x\":\"\xff\xc3\"}", .start_ms = T0 + 2 });
	r = reader("row");

	o = store_query_messages(r, &f, 0, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(js(o), "{\"messages\":["
	    "{\"id\":1,\"direction\":\"in\",\"participant\":\"bap.x\","
	    "\"role\":\"BAP\",\"peer\":\"bpp.y\",\"action\":\"on_confirm\","
	    "\"domain\":\"onest:courses\",\"transaction_id\":\"t1\","
	    "\"message_id\":\"m1\",\"order_id\":\"o1\","
	    "\"state_code\":\"ENROLLED\",\"http_status\":200,\"ack\":\"ACK\","
	    "\"error_code\":null,\"error_message\":null,"
	    "\"start\":\"2026-11-30T01:02:03.456Z\","
	    "\"end\":\"2026-11-30T01:02:03.468Z\",\"latency_ms\":12,"
	    "\"delivery\":{\"id\":\"d1\",\"state\":\"delivered\","
	    "\"attempts\":2,\"last_error\":\"HTTP 503\","
	    "\"at\":\"2026-11-30T01:02:04.456Z\"}},"
	    "{\"id\":2,\"direction\":\"out\",\"participant\":\"bap.example\","
	    "\"role\":null,\"peer\":null,\"action\":\"select\","
	    "\"domain\":null,\"transaction_id\":null,\"message_id\":null,"
	    "\"order_id\":null,\"state_code\":null,\"http_status\":401,"
	    "\"ack\":\"NACK\",\"error_code\":\"10001\","
	    "\"error_message\":\"bad \\\"sig\\\"\","
	    "\"start\":\"2026-11-30T01:02:03.457Z\",\"end\":null,"
	    "\"latency_ms\":null,\"delivery\":null},"
	    "{\"id\":3,\"direction\":\"in\",\"participant\":\"bap.example\","
	    "\"role\":null,\"peer\":null,\"action\":\"search\","
	    "\"domain\":null,\"transaction_id\":null,\"message_id\":null,"
	    "\"order_id\":null,\"state_code\":null,\"http_status\":null,"
	    "\"ack\":null,\"error_code\":null,\"error_message\":null,"
	    "\"start\":\"2026-11-30T01:02:03.458Z\",\"end\":null,"
	    "\"latency_ms\":null,\"delivery\":null}],\"next\":null}");
	json_object_put(o);

	/* Bodies: the bytes as a JSON string; ill-formed UTF-8 replaced. */
	o = store_query_messages(r, &f, 1, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	{
		json_object	*rows = json_object_object_get(o, "messages");
		json_object	*b;
		const char	*want = "{\"a\":\"\xc3\xa9/\\u0001\"}";

		b = json_object_object_get(json_object_array_get_idx(rows, 0),
		    "body");
		ck_assert_int_eq(json_object_get_string_len(b), strlen(want));
		ck_assert_str_eq(json_object_get_string(b), want);
		ck_assert_msg(json_object_object_get_ex(
		    json_object_array_get_idx(rows, 1), "body", &b) &&
		    b == NULL, "a missing body is null");
		b = json_object_object_get(json_object_array_get_idx(rows, 2),
		    "body");
		ck_assert_str_eq(json_object_get_string(b),
		    "{\"x\":\"\xef\xbf\xbd\xef\xbf\xbd\"}");
		ck_assert_msg(strstr(js(json_object_array_get_idx(rows, 0)),
		    ",\"body\":\"{\\\"a\\\":\\\"\xc3\xa9/\\\\u0001\\\"}\"}") !=
		    NULL, "%s", js(json_object_array_get_idx(rows, 0)));
	}
	json_object_put(o);
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

/* --- filters and pages ------------------------------------------------ */

/*
 * Ten rows over two participants and three transactions:
 *  1 out bap search t1 m1 ACK            peer gw
 *  2 in  bap on_search t1 m1 ACK delivered peer bpp1
 *  3 in  bap on_search t1 m1 ACK queued    peer bpp2
 *  4 out bap select t1 m2 NACK             peer bpp1
 *  5 in  bpp search t2 m3 ACK dead         peer gw   (domain d2)
 *  6 out bpp on_search t2 m3 (no answer)   peer bap
 *  7 in  bap on_init t1 m4 NACK            peer bpp1 order o1
 *  8 in  bap on_status t3 m5 ACK requeue   peer bpp1 order o1
 *  9 in  bap on_status (no txn) ACK refused
 * 10 in  bpp status t2 m6 ACK delivered    (domain d2)
 * start times T0 + id * 1000.
 */
static sqlite3 *
fill(const char *name)
{
	static const struct trow rows[] = {
		{ "out", "bap", "BAP", "gw", "search", "d1", "t1", "m1",
		  .ack = "ACK" },
		{ "in", "bap", "BAP", "bpp1", "on_search", "d1", "t1", "m1",
		  .ack = "ACK", .delivery_id = "k2",
		  .delivery_state = "delivered" },
		{ "in", "bap", "BAP", "bpp2", "on_search", "d1", "t1", "m1",
		  .ack = "ACK", .delivery_id = "k3",
		  .delivery_state = "queued" },
		{ "out", "bap", "BAP", "bpp1", "select", "d1", "t1", "m2",
		  .ack = "NACK" },
		{ "in", "bpp", "BPP", "gw", "search", "d2", "t2", "m3",
		  .ack = "ACK", .delivery_id = "k5", .delivery_state = "dead" },
		{ "out", "bpp", "BPP", "bap", "on_search", "d2", "t2", "m3",
		  .ack = NULL },
		{ "in", "bap", "BAP", "bpp1", "on_init", "d1", "t1", "m4",
		  "o1", .ack = "NACK" },
		{ "in", "bap", "BAP", "bpp1", "on_status", "d1", "t3", "m5",
		  "o1", "ACTIVE", .ack = "ACK", .delivery_id = "k8",
		  .delivery_state = "requeue" },
		{ "in", "bap", "BAP", NULL, "on_status", "d1", NULL, NULL,
		  .ack = "ACK", .delivery_id = "k9",
		  .delivery_state = "refused" },
		{ "in", "bpp", "BPP", "bap", "status", "d2", "t2", "m6",
		  .ack = "ACK", .delivery_id = "k10",
		  .delivery_state = "delivered" },
	};
	struct trow	 t;
	sqlite3		*db;
	size_t		 i;

	db = new_db(name);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = rows[i];
		t.start_ms = T0 + (int64_t)(i + 1) * 1000;
		ck_assert_int_eq(insert(db, &t), (int64_t)i + 1);
	}
	return db;
}

START_TEST(each_filter)
{
	struct store_reader	*r;
	struct store_filter	 f;
	json_object		*o;
	sqlite3			*db;
	char			 err[256];

	db = fill("filters");
	r = reader("filters");
#define F(...) (f = (struct store_filter){ __VA_ARGS__ }, &f)
	expect_ids(r, F(0), "1,2,3,4,5,6,7,8,9,10");
	expect_ids(r, F(.transaction_id = "t1"), "1,2,3,4,7");
	expect_ids(r, F(.message_id = "m1"), "1,2,3");
	expect_ids(r, F(.order_id = "o1"), "7,8");
	expect_ids(r, F(.action = "on_search"), "2,3,6");
	expect_ids(r, F(.status = "ACK"), "1,2,3,5,8,9,10");
	expect_ids(r, F(.status = "NACK"), "4,7");
	expect_ids(r, F(.status = "queued"), "3,8");
	expect_ids(r, F(.status = "delivered"), "2,10");
	expect_ids(r, F(.status = "refused"), "9");
	expect_ids(r, F(.status = "dead"), "5");
	expect_ids(r, F(.participant = "bpp"), "5,6,10");
	expect_ids(r, F(.domain = "d2"), "5,6,10");
	expect_ids(r, F(.peer = "bpp1"), "2,4,7,8");
	expect_ids(r, F(.direction = "out"), "1,4,6");
	expect_ids(r, F(.direction = "in"), "2,3,5,7,8,9,10");
	expect_ids(r, F(.since_ms = T0 + 8000), "8,9,10");
	expect_ids(r, F(.until_ms = T0 + 3000), "1,2");
	expect_ids(r, F(.since_ms = T0 + 3000, .until_ms = T0 + 5000), "3,4");
	expect_ids(r, F(.after = 7), "8,9,10");
	/* Together: AND. */
	expect_ids(r, F(.transaction_id = "t1", .status = "ACK",
	    .direction = "in"), "2,3");
	expect_ids(r, F(.transaction_id = "t1", .participant = "bpp"), "");
	/* A value is a value, not SQL. */
	expect_ids(r, F(.transaction_id = "t1' OR '1'='1"), "");
	expect_ids(r, F(.action = "%"), "");

	o = store_query_messages(r, F(.status = "ack"), 0, err, sizeof(err));
	ck_assert_ptr_null(o);
	ck_assert_msg(strncmp(err, "status ", 7) == 0, "%s", err);
	ck_assert_ptr_null(store_query_messages(r, F(.direction = "both"), 0,
	    err, sizeof(err)));
	ck_assert_msg(strncmp(err, "direction ", 10) == 0, "%s", err);
	ck_assert_ptr_null(store_query_messages(r, F(.limit = 1001), 0,
	    err, sizeof(err)));
	ck_assert_msg(strncmp(err, "limit ", 6) == 0, "%s", err);
	ck_assert_ptr_null(store_query_messages(r, F(.limit = -1), 0,
	    err, sizeof(err)));
	ck_assert_ptr_null(store_query_messages(r, F(.after = -1), 0,
	    err, sizeof(err)));
	ck_assert_msg(strncmp(err, "after ", 6) == 0, "%s", err);
	ck_assert_ptr_null(store_query_transactions(r, F(.status = "x"),
	    err, sizeof(err)));
	ck_assert_msg(strncmp(err, "status ", 7) == 0, "%s", err);
#undef F
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

START_TEST(pagination_cursor)
{
	struct store_reader	*r;
	struct store_filter	 f = { 0 };
	sqlite3			*db;
	char			 got[8192];
	long long		 next;
	int			 i;

	db = new_db("pages");
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < 250; i++)
		insert(db, &(struct trow){ .action = i % 2 ? "on_search" :
		    "search", .start_ms = T0 + i });
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	r = reader("pages");

	page(r, &f, got, sizeof(got), &next);		/* default 100 */
	ck_assert_int_eq(next, 100);
	ck_assert_msg(strncmp(got, "1,2,3,", 6) == 0, "%s", got);
	ck_assert_msg(strcmp(got + strlen(got) - 4, ",100") == 0, "%s", got);
	f.after = next;
	page(r, &f, got, sizeof(got), &next);
	ck_assert_int_eq(next, 200);
	ck_assert_msg(strncmp(got, "101,", 4) == 0, "%s", got);
	f.after = next;
	page(r, &f, got, sizeof(got), &next);
	ck_assert_int_eq(next, -1);
	ck_assert_msg(strncmp(got, "201,", 4) == 0 &&
	    strcmp(got + strlen(got) - 4, ",250") == 0, "%s", got);

	/* A page that ends exactly at the last row has no next. */
	f = (struct store_filter){ .after = 150, .limit = 100 };
	page(r, &f, got, sizeof(got), &next);
	ck_assert_int_eq(next, -1);
	f = (struct store_filter){ .after = 149, .limit = 100 };
	page(r, &f, got, sizeof(got), &next);
	ck_assert_int_eq(next, 249);
	/* Limits with a filter: every other row. */
	f = (struct store_filter){ .action = "on_search", .limit = 3 };
	page(r, &f, got, sizeof(got), &next);
	ck_assert_str_eq(got, "2,4,6");
	ck_assert_int_eq(next, 6);
	f.after = next;
	page(r, &f, got, sizeof(got), &next);
	ck_assert_str_eq(got, "8,10,12");
	f = (struct store_filter){ .limit = 1000 };
	page(r, &f, got, sizeof(got), &next);
	ck_assert_int_eq(next, -1);
	f = (struct store_filter){ .limit = 1 };
	page(r, &f, got, sizeof(got), &next);
	ck_assert_str_eq(got, "1");
	ck_assert_int_eq(next, 1);
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

START_TEST(transactions_grouped)
{
	struct store_reader	*r;
	struct store_filter	 f = { 0 };
	json_object		*o;
	sqlite3			*db;
	char			 err[256];

	db = fill("txns");
	r = reader("txns");
	o = store_query_transactions(r, &f, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	/* Newest first by the last row: t2 (10), t3 (8), t1 (7); row 9
	 * has no transaction. */
	ck_assert_str_eq(js(o), "{\"transactions\":["
	    "{\"transaction_id\":\"t2\",\"domain\":\"d2\","
	    "\"participant\":\"bpp\",\"first\":\"2026-11-30T01:02:08.456Z\","
	    "\"last\":\"2026-11-30T01:02:13.456Z\",\"messages\":3,"
	    "\"actions\":[\"search\",\"on_search\",\"status\"],"
	    "\"order_id\":null,\"state_code\":null,\"last_action\":\"status\","
	    "\"nacks\":0},"
	    "{\"transaction_id\":\"t3\",\"domain\":\"d1\","
	    "\"participant\":\"bap\",\"first\":\"2026-11-30T01:02:11.456Z\","
	    "\"last\":\"2026-11-30T01:02:11.456Z\",\"messages\":1,"
	    "\"actions\":[\"on_status\"],\"order_id\":\"o1\","
	    "\"state_code\":\"ACTIVE\",\"last_action\":\"on_status\","
	    "\"nacks\":0},"
	    "{\"transaction_id\":\"t1\",\"domain\":\"d1\","
	    "\"participant\":\"bap\",\"first\":\"2026-11-30T01:02:04.456Z\","
	    "\"last\":\"2026-11-30T01:02:10.456Z\",\"messages\":5,"
	    "\"actions\":[\"search\",\"on_search\",\"on_search\",\"select\","
	    "\"on_init\"],\"order_id\":\"o1\",\"state_code\":null,"
	    "\"last_action\":\"on_init\",\"nacks\":2}],\"next\":null}");
	json_object_put(o);

	/* Pages: the cursor is the last row id of the last one shown. */
	f.limit = 2;
	o = store_query_transactions(r, &f, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o,
	    "transactions")), 2);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o,
	    "next")), 8);
	json_object_put(o);
	f.after = 8;
	o = store_query_transactions(r, &f, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(json_object_object_get(o,
	    "transactions"), 0), "transaction_id")), "t1");
	ck_assert_ptr_null(json_object_object_get(o, "next"));
	json_object_put(o);

	/* Filters apply to the rows: the summary covers those that match. */
	f = (struct store_filter){ .status = "NACK" };
	o = store_query_transactions(r, &f, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(js(json_object_object_get(o, "transactions")),
	    "[{\"transaction_id\":\"t1\",\"domain\":\"d1\","
	    "\"participant\":\"bap\",\"first\":\"2026-11-30T01:02:07.456Z\","
	    "\"last\":\"2026-11-30T01:02:10.456Z\",\"messages\":2,"
	    "\"actions\":[\"select\",\"on_init\"],\"order_id\":\"o1\","
	    "\"state_code\":null,\"last_action\":\"on_init\",\"nacks\":2}]");
	json_object_put(o);
	f = (struct store_filter){ .transaction_id = "nope" };
	o = store_query_transactions(r, &f, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(js(o), "{\"transactions\":[],\"next\":null}");
	json_object_put(o);
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

START_TEST(transaction_and_message_by_id)
{
	struct store_reader	*r;
	json_object		*o, *rows;
	sqlite3			*db;
	char			 err[256];

	db = fill("byid");
	sqlite3_exec(db, "UPDATE messages SET body = '{\"n\":' || id || '}'",
	    NULL, NULL, NULL);
	r = reader("byid");
	o = store_query_transaction(r, "t2", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "transaction_id")), "t2");
	rows = json_object_object_get(o, "messages");
	ck_assert_int_eq(json_object_array_length(rows), 3);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(rows, 2), "body")), "{\"n\":10}");
	json_object_put(o);

	o = store_query_message(r, "m1", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "message_id")), "m1");
	rows = json_object_object_get(o, "messages");
	ck_assert_int_eq(json_object_array_length(rows), 3);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(rows, 0), "body")), "{\"n\":1}");
	json_object_put(o);

	errno = 0;
	ck_assert_ptr_null(store_query_transaction(r, "m1", err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(err, "transaction m1 not found");
	errno = 0;
	ck_assert_ptr_null(store_query_message(r, "t1", err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(err, "message t1 not found");
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

/* --- export ----------------------------------------------------------- */

struct sink {
	char	*p;
	size_t	 len;
	int	 calls;
	int	 fail_at;	/* fail this call (1-based), 0: never */
};

static int
sink_write(const char *s, size_t len, void *arg)
{
	struct sink	*k = arg;

	if (++k->calls == k->fail_at)
		return -1;
	k->p = xrealloc(k->p, k->len + len + 1);
	memcpy(k->p + k->len, s, len);
	k->len += len;
	k->p[k->len] = '\0';
	return 0;
}

START_TEST(export_csv_quoting)
{
	struct store_reader	*r;
	struct store_filter	 f = { 0 };
	struct sink		 k = { NULL, 0, 0, 0 };
	sqlite3			*db;
	char			 err[256];

	db = new_db("csv");
	insert(db, &(struct trow){ .direction = "in", .participant = "bap.x",
	    .role = "BAP", .peer = "=cmd|' /C calc'!A0", .action = "on_init",
	    .domain = "onest:courses", .transaction_id = "t,1",
	    .message_id = "say \"hi\"", .order_id = "line1\nline2",
	    .state_code = "+1", .http_status = 200, .ack = "ACK",
	    .error_code = "-2", .error_message = "@SUM(A1)",
	    .start_ms = T0, .end_ms = T0 + 5, .delivery_id = "d1",
	    .delivery_state = "dead", .attempts = 7,
	    .last_error = "=\"x\",y", .delivered_ms = T0 + 9,
	    .body = "{\"not\":\"exported\"}" });
	insert(db, &(struct trow){ .direction = "out", .action = "search",
	    .start_ms = T0 + 1 });
	r = reader("csv");
	ck_assert_int_eq(store_export(r, &f, "csv", sink_write, &k, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(k.p,
	    "id,direction,participant,role,peer,action,domain,transaction_id,"
	    "message_id,order_id,state_code,http_status,ack,error_code,"
	    "error_message,start,end,latency_ms,delivery_id,delivery_state,"
	    "attempts,last_error\r\n"
	    "1,in,bap.x,BAP,'=cmd|' /C calc'!A0,on_init,onest:courses,"
	    "\"t,1\",\"say \"\"hi\"\"\",\"line1\nline2\",'+1,200,ACK,'-2,"
	    "'@SUM(A1),2026-11-30T01:02:03.456Z,2026-11-30T01:02:03.461Z,5,"
	    "d1,dead,7,\"'=\"\"x\"\",y\"\r\n"
	    "2,out,bap.example,,,search,,,,,,,,,,"
	    "2026-11-30T01:02:03.457Z,,,,,,\r\n");
	ck_assert_int_eq(k.calls, 3);		/* header, then one per row */

	/* A writer that fails stops the export. */
	free(k.p);
	k = (struct sink){ NULL, 0, 0, 2 };
	ck_assert_int_eq(store_export(r, &f, "csv", sink_write, &k, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "write failed");
	ck_assert_int_eq(k.calls, 2);
	free(k.p);
	k = (struct sink){ NULL, 0, 0, 0 };
	ck_assert_int_eq(store_export(r, &f, "xml", sink_write, &k, err,
	    sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "format ", 7) == 0, "%s", err);
	ck_assert_int_eq(k.calls, 0);
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

START_TEST(export_jsonl_equals_rows)
{
	struct store_reader	*r;
	struct store_filter	 f = { 0 };
	struct sink		 k = { NULL, 0, 0, 0 };
	json_object		*o, *rows, *line;
	sqlite3			*db;
	char			 err[256], *p, *nl;
	size_t			 i;
	int			 n;

	db = fill("jsonl");
	sqlite3_exec(db, "UPDATE messages SET body = '{\"n\":' || id || '}' "
	    "WHERE id % 2 = 0", NULL, NULL, NULL);
	r = reader("jsonl");
	ck_assert_int_eq(store_export(r, &f, "jsonl", sink_write, &k, err,
	    sizeof(err)), 0);
	o = store_query_messages(r, &f, 1, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	rows = json_object_object_get(o, "messages");
	ck_assert_int_eq(json_object_array_length(rows), 10);
	for (i = 0, p = k.p; i < 10; i++, p = nl + 1) {
		ck_assert_ptr_nonnull(nl = strchr(p, '\n'));
		*nl = '\0';
		/* The same bytes as the query's row. */
		ck_assert_str_eq(p, js(json_object_array_get_idx(rows, i)));
		ck_assert_ptr_nonnull(line = json_tokener_parse(p));
		ck_assert(json_object_equal(line,
		    json_object_array_get_idx(rows, i)));
		json_object_put(line);
	}
	ck_assert_str_eq(p, "");
	json_object_put(o);
	free(k.p);

	/* Filters and limit apply; no limit is every row. */
	k = (struct sink){ NULL, 0, 0, 0 };
	f = (struct store_filter){ .participant = "bap", .limit = 2,
	    .after = 2 };
	ck_assert_int_eq(store_export(r, &f, "jsonl", sink_write, &k, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(k.calls, 2);
	ck_assert_msg(strncmp(k.p, "{\"id\":3,", 8) == 0, "%s", k.p);
	ck_assert_msg(strstr(k.p, "\n{\"id\":4,") != NULL, "%s", k.p);
	free(k.p);
	store_reader_close(r);

	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (n = 0; n < 1500; n++)
		insert(db, &(struct trow){ .action = "on_status" });
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	r = reader("jsonl");
	k = (struct sink){ NULL, 0, 0, 0 };
	f = (struct store_filter){ .action = "on_status" };
	ck_assert_int_eq(store_export(r, &f, "csv", sink_write, &k, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(k.calls, 1 + 1502);
	free(k.p);
	k = (struct sink){ NULL, 0, 0, 0 };
	f.limit = 1200;		/* past the page maximum: honoured */
	ck_assert_int_eq(store_export(r, &f, "jsonl", sink_write, &k, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(k.calls, 1200);
	free(k.p);
	f.limit = -1;
	ck_assert_int_eq(store_export(r, &f, "jsonl", sink_write, &k, err,
	    sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "limit ", 6) == 0, "%s", err);
	store_reader_close(r);
	store_db_close(db);
}
END_TEST

/* --- requeue ---------------------------------------------------------- */

static const char *
state_of(sqlite3 *db, const char *delivery_id)
{
	static char	 state[32];
	sqlite3_stmt	*st;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT delivery_state FROM "
	    "messages WHERE delivery_id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, delivery_id, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(state, sizeof(state), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return state;
}

START_TEST(requeue_states)
{
	sqlite3	*db;
	char	 err[512], *path;

	db = fill("requeue");
	insert(db, &(struct trow){ .message_id = "mx", .delivery_id = "kx1",
	    .delivery_state = "dead" });
	insert(db, &(struct trow){ .message_id = "mx", .delivery_id = "kx2",
	    .delivery_state = "refused" });
	insert(db, &(struct trow){ .message_id = "my", .delivery_id = "ky1",
	    .delivery_state = "delivered" });
	insert(db, &(struct trow){ .message_id = "my", .delivery_id = "ky2",
	    .delivery_state = "dead" });
	path = db_path("requeue");

	/* By delivery id: dead and refused only. */
	ck_assert_msg(store_requeue(path, "k5", err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(state_of(db, "k5"), "requeue");
	ck_assert_msg(store_requeue(path, "k9", err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(state_of(db, "k9"), "requeue");
	ck_assert_int_eq(store_requeue(path, "k5", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "delivery k5 is requeue, not dead or refused");
	ck_assert_int_eq(store_requeue(path, "k2", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "delivery k2 is delivered, not dead or "
	    "refused");
	ck_assert_str_eq(state_of(db, "k2"), "delivered");
	ck_assert_int_eq(store_requeue(path, "k3", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "delivery k3 is queued, not dead or refused");
	ck_assert_int_eq(store_requeue(path, "nope", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no dead or refused delivery with id nope");
	/* m3 is a message id whose row's delivery is dead... was: now
	 * requeue, so nothing is left to redeliver under it. */
	ck_assert_int_eq(store_requeue(path, "m3", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no dead or refused delivery with id m3");

	/* By message id: exactly one dead or refused row. */
	ck_assert_int_eq(store_requeue(path, "mx", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "message mx has 2 dead or refused deliveries: "
	    "name one by its delivery id (kx1, kx2)");
	ck_assert_str_eq(state_of(db, "kx1"), "dead");
	ck_assert_msg(store_requeue(path, "my", err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(state_of(db, "ky2"), "requeue");
	ck_assert_str_eq(state_of(db, "ky1"), "delivered");
	ck_assert_msg(store_requeue(path, "kx2", err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_msg(store_requeue(path, "mx", err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(state_of(db, "kx1"), "requeue");
	free(path);
	store_db_close(db);
}
END_TEST

/* --- query strings ---------------------------------------------------- */

static void
parse_fails(const char *query, const char *want)
{
	struct store_filter	 f;
	char			 buf[512], err[256];

	snprintf(buf, sizeof(buf), "%s", query);
	ck_assert_msg(store_filter_parse_query(&f, buf, err, sizeof(err)) ==
	    -1, "%s parsed", query);
	ck_assert_msg(strcmp(err, want) == 0, "%s: \"%s\", want \"%s\"",
	    query, err, want);
}

START_TEST(parse_query)
{
	struct store_filter	 f;
	char			 buf[1024], err[256];

	snprintf(buf, sizeof(buf), "%s", "transaction=t%201&message=m+1&"
	    "order=o1&action=on_search&status=NACK&participant=bap.x&"
	    "domain=onest%3Acourses&peer=bpp.y&direction=in&"
	    "since=2026-11-30T01:02:03.456Z&until=1796000524000&after=42&"
	    "limit=7&format=csv&");
	ck_assert_msg(store_filter_parse_query(&f, buf, err, sizeof(err)) ==
	    0, "%s", err);
	ck_assert_str_eq(f.transaction_id, "t 1");
	ck_assert_str_eq(f.message_id, "m 1");
	ck_assert_str_eq(f.order_id, "o1");
	ck_assert_str_eq(f.action, "on_search");
	ck_assert_str_eq(f.status, "NACK");
	ck_assert_str_eq(f.participant, "bap.x");
	ck_assert_str_eq(f.domain, "onest:courses");
	ck_assert_str_eq(f.peer, "bpp.y");
	ck_assert_str_eq(f.direction, "in");
	ck_assert_str_eq(f.format, "csv");
	ck_assert_int_eq(f.since_ms, T0);
	ck_assert_int_eq(f.until_ms, 1796000524000LL);
	ck_assert_int_eq(f.after, 42);
	ck_assert_int_eq(f.limit, 7);

	buf[0] = '\0';
	memset(&f, 0xff, sizeof(f));
	ck_assert_int_eq(store_filter_parse_query(&f, buf, err, sizeof(err)),
	    0);
	ck_assert_ptr_null(f.transaction_id);
	ck_assert_int_eq(f.limit, 0);

	parse_fails("transaction_id=x", "unknown parameter \"transaction_id\"");
	parse_fails("status=ack", "parameter \"status\": must be ACK, NACK, "
	    "queued, delivered, refused or dead");
	parse_fails("direction=up", "parameter \"direction\": must be in or "
	    "out");
	parse_fails("limit=0", "parameter \"limit\": must be 1 to 1000");
	parse_fails("limit=1001", "parameter \"limit\": must be 1 to 1000");
	parse_fails("limit=ten", "parameter \"limit\": must be 1 to 1000");
	parse_fails("after=-1", "parameter \"after\": not a message id");
	parse_fails("since=yesterday", "parameter \"since\": not an RFC 3339 "
	    "time or unix milliseconds");
	parse_fails("until=2026-11-30", "parameter \"until\": not an RFC "
	    "3339 time or unix milliseconds");
	parse_fails("action=a&action=b", "parameter \"action\" given twice");
	parse_fails("order=", "parameter \"order\" has no value");
	parse_fails("peer", "parameter \"peer\" has no value");
	parse_fails("peer=%zz", "parameter \"peer\": bad %-escape");
	parse_fails("peer=a%00b", "parameter \"peer\": bad %-escape");
	parse_fails("peer=%4", "parameter \"peer\": bad %-escape");
	parse_fails("p%zz=1", "a parameter name has a bad %-escape");
}
END_TEST

static Suite *
store_query_suite(void)
{
	Suite	*s = suite_create("store_query");
	TCase	*tc;

	tc = tcase_create("read");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reader_refuses_missing_and_foreign);
	tcase_add_test(tc, time_format_and_parse);
	tcase_add_test(tc, row_json_contract);
	tcase_add_test(tc, each_filter);
	tcase_add_test(tc, pagination_cursor);
	tcase_add_test(tc, transactions_grouped);
	tcase_add_test(tc, transaction_and_message_by_id);
	tcase_add_test(tc, export_csv_quoting);
	tcase_add_test(tc, export_jsonl_equals_rows);
	tcase_add_test(tc, requeue_states);
	tcase_add_test(tc, parse_query);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int	 rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	rc = test_run_suite(store_query_suite());
	test_rmtree(dir);
	return rc;
}

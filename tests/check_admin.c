/*
 * check_admin.c - the admin API (listen.admin).
 *
 * A journal database is made in a temp dir (store_db_open in write mode,
 * rows INSERTed with sqlite3); the admin server runs on 127.0.0.1:0 in
 * the test's event loop; requests are raw HTTP/1.1 over bufferevents
 * ("Connection: close", read to EOF).  Every JSON answer is compared
 * byte for byte with what store_query_* gives for the same filter, so
 * that the API is exactly the store's contract.  The test's own
 * connection holds the write lock to keep the reader thread busy (a
 * redeliver waits for it) when a test needs a query in flight.  A
 * watchdog alarm bounds every test.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "testutil.h"
#include "admin/admin_server.h"
#include "http/http_server.h"
#include "store/store_db.h"
#include "store/store_query.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define NROWS	7

static struct event_base	*base;
static struct admin_server	*as;
static sqlite3			*db;	/* the test's writer connection */
static char			 dir[64], db_path[128];

/*
 * Two transactions and a third whose id needs escaping in a path; a
 * delivered, a dead and a refused delivery; a NACK; bodies with quotes
 * and UTF-8.
 */
static const char rows_sql[] =
	"INSERT INTO messages(id, direction, participant, role, peer, action,"
	" domain, transaction_id, message_id, order_id, state_code,"
	" http_status, ack, error_code, error_message, start_ms, end_ms,"
	" delivery_id, webhook, sender, delivery_state, attempts, last_error,"
	" delivered_ms, body) VALUES"
	"(1, 'out', 'bap.example.org', 'BAP', 'bg.example.org', 'search',"
	" 'onest:work-opportunities', 'T1', 'M1', NULL, NULL, 200, 'ACK',"
	" NULL, NULL, 1764460923456, 1764460923500, NULL, NULL, NULL, NULL,"
	" 0, NULL, NULL, '{\"context\":{\"action\":\"search\"}}'),"
	"(2, 'in', 'bap.example.org', 'BAP', 'bpp.example.org', 'on_search',"
	" 'onest:work-opportunities', 'T1', 'M1', NULL, NULL, 200, 'ACK',"
	" NULL, NULL, 1764460924000, 1764460924010, 'D1',"
	" 'http://127.0.0.1:9/hook', 'bpp.example.org', 'delivered', 1, NULL,"
	" 1764460924100, '{\"name\":\"caf\xc3\xa9 \\\"q\\\"\"}'),"
	"(3, 'out', 'bap.example.org', 'BAP', 'bpp.example.org', 'select',"
	" 'onest:work-opportunities', 'T1', 'M2', 'O1', NULL, 200, 'ACK',"
	" NULL, NULL, 1764460925000, 1764460925020, NULL, NULL, NULL, NULL,"
	" 0, NULL, NULL, '{}'),"
	"(4, 'in', 'bap.example.org', 'BAP', 'bpp.example.org', 'on_select',"
	" 'onest:work-opportunities', 'T1', 'M2', 'O1', 'QUOTED', 200, 'ACK',"
	" NULL, NULL, 1764460926000, 1764460926005, 'D2',"
	" 'http://127.0.0.1:9/hook', 'bpp.example.org', 'dead', 5,"
	" 'connection refused', 1764460990000, 'a,b\n\"c\"'),"
	"(5, 'out', 'bap.example.org', 'BAP', 'bpp2.example.org', 'init',"
	" 'onest:courses', 'T2', 'M3', NULL, NULL, 400, 'NACK', '30001',"
	" 'bad, \"quoted\" request', 1764460930000, 1764460930040, NULL, NULL,"
	" NULL, NULL, 0, NULL, NULL, NULL),"
	"(6, 'in', 'bap.example.org', 'BAP', 'bpp2.example.org', 'on_status',"
	" 'onest:courses', 'T 3/x', 'M4', 'O2', 'SHIPPED', 200, 'ACK', NULL,"
	" NULL, 1764460940000, 1764460940001, 'D3', 'http://127.0.0.1:9/hook',"
	" 'bpp2.example.org', 'dead', 3, 'HTTP 500', 1764460950000, '{}'),"
	"(7, 'in', 'bap.example.org', 'BAP', 'bpp2.example.org', 'on_status',"
	" 'onest:courses', 'T 3/x', 'M5', 'O2', 'SHIPPED', 200, 'ACK', NULL,"
	" NULL, 1764460941000, NULL, 'D4', 'http://127.0.0.1:9/hook',"
	" 'bpp2.example.org', 'refused', 1, 'HTTP 400', 1764460951000, '{}')";

/* ---- the client -------------------------------------------------------- */

struct resp {
	int	 done;
	int	 status;	/* -1: no answer */
	char	*head;
	char	*body;
	size_t	 bodylen;
};

struct client {
	struct bufferevent	*bev;
	struct evbuffer		*in;
	struct resp		*r;
};

static void
client_done(struct client *c)
{
	struct resp	*r = c->r;
	size_t		 len = evbuffer_get_length(c->in);
	char		*raw, *p;

	raw = xmalloc(len + 1);
	evbuffer_remove(c->in, raw, len);
	raw[len] = '\0';
	if (sscanf(raw, "HTTP/1.1 %d", &r->status) != 1)
		r->status = -1;
	if ((p = strstr(raw, "\r\n\r\n")) != NULL) {
		r->head = xstrndup(raw, (size_t)(p - raw) + 2);
		r->bodylen = len - (size_t)(p + 4 - raw);
		r->body = xmemdup(p + 4, r->bodylen + 1);
	} else {
		r->head = xstrdup("");
		r->body = xstrdup("");
	}
	free(raw);
	r->done = 1;
	bufferevent_free(c->bev);
	evbuffer_free(c->in);
	free(c);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
		client_done(c);
	}
}

/* Send a request to the server on port; the answer lands in *r. */
static struct client *
client_start_port(int port, const char *method, const char *path,
    const char *headers, struct resp *r)
{
	struct client		*c;
	struct sockaddr_in	 sin;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	c = xcalloc(1, sizeof(*c));
	c->r = r;
	c->in = evbuffer_new();
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(c->bev);
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(bufferevent_socket_connect(c->bev,
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n%sConnection: close\r\n\r\n", method, path,
	    headers != NULL ? headers : "");
	return c;
}

static struct client *
client_start(const char *method, const char *path, const char *headers,
    struct resp *r)
{
	return client_start_port(admin_server_port(as), method, path, headers,
	    r);
}

/* Close before the answer: with a reset (rst) or a plain close. */
static void
client_abort(struct client *c, int rst)
{
	struct linger	 l = { 1, 0 };

	if (rst)
		ck_assert_int_eq(setsockopt(bufferevent_getfd(c->bev),
		    SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	bufferevent_free(c->bev);
	evbuffer_free(c->in);
	free(c);
}

static void
resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Header name's value in r (copied into buf), or NULL. */
static const char *
resp_header(const struct resp *r, const char *name, char *buf, size_t size)
{
	const char	*p;
	size_t		 n = strlen(name), len;

	for (p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		for (p += n + 1; *p == ' '; p++)
			;
		len = strcspn(p, "\r");
		snprintf(buf, size, "%.*s", (int)len, p);
		return buf;
	}
	return NULL;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *flag or ms passed. */
static void
run_until(const int *flag, int ms)
{
	struct event	*dl;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	int		 expired = 0;

	dl = evtimer_new(base, deadline_cb, &expired);
	evtimer_add(dl, &tv);
	while (!*flag && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(dl);
}

static void
run_for(int ms)
{
	int	 never = 0;

	run_until(&never, ms);
}

static int
wait_ms(void)
{
	return getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ? 30000 : 5000;
}

static void
wait_resp(struct resp *r)
{
	run_until(&r->done, wait_ms());
	ck_assert_msg(r->done, "no answer in time");
}

/* One request, its whole answer. */
static struct resp
request(const char *method, const char *path, const char *headers)
{
	struct resp	 r;

	client_start(method, path, headers, &r);
	wait_resp(&r);
	return r;
}

/* ---- what the store says ------------------------------------------------ */

static struct store_reader *
reader(void)
{
	struct store_reader	*rd;
	char			 err[256];

	rd = store_reader_open(db_path, err, sizeof(err));
	ck_assert_msg(rd != NULL, "store_reader_open: %s", err);
	return rd;
}

static char *
json_take(json_object *o)
{
	char	*s;

	ck_assert_ptr_nonnull(o);
	s = xstrdup(json_object_to_json_string_ext(o, STORE_JSON_FLAGS));
	json_object_put(o);
	return s;
}

enum want { W_MESSAGES, W_BODIES, W_TRANSACTIONS };

/* The store's answer for the URL query q (xmalloc'd). */
static char *
store_says(enum want w, const char *q)
{
	struct store_reader	*rd = reader();
	struct store_filter	 f;
	json_object		*o;
	char			*buf = xstrdup(q), err[256];

	ck_assert_msg(store_filter_parse_query(&f, buf, err, sizeof(err)) ==
	    0, "%s: %s", q, err);
	if (w == W_TRANSACTIONS)
		o = store_query_transactions(rd, &f, err, sizeof(err));
	else
		o = store_query_messages(rd, &f, w == W_BODIES, err,
		    sizeof(err));
	ck_assert_msg(o != NULL, "%s: %s", q, err);
	free(buf);
	store_reader_close(rd);
	return json_take(o);
}

static char *
store_says_one(int txn, const char *id)
{
	struct store_reader	*rd = reader();
	json_object		*o;
	char			 err[256];

	o = txn ? store_query_transaction(rd, id, err, sizeof(err)) :
	    store_query_message(rd, id, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s: %s", id, err);
	store_reader_close(rd);
	return json_take(o);
}

static int
export_write(const char *s, size_t n, void *arg)
{
	evbuffer_add(arg, s, n);
	return 0;
}

static char *
store_export_says(const char *q, const char *format, size_t *len)
{
	struct store_reader	*rd = reader();
	struct store_filter	 f;
	struct evbuffer		*b = evbuffer_new();
	char			*buf = xstrdup(q), err[256], *out;

	ck_assert_int_eq(store_filter_parse_query(&f, buf, err, sizeof(err)),
	    0);
	ck_assert_msg(store_export(rd, &f, format, export_write, b, err,
	    sizeof(err)) == 0, "%s", err);
	*len = evbuffer_get_length(b);
	out = xmalloc(*len + 1);
	evbuffer_remove(b, out, *len);
	out[*len] = '\0';
	evbuffer_free(b);
	free(buf);
	store_reader_close(rd);
	return out;
}

static char *
delivery_state(const char *id)
{
	sqlite3_stmt	*st;
	char		*s = NULL;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT delivery_state FROM "
	    "messages WHERE delivery_id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		s = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void
state_is(const char *id, const char *want)
{
	char	*s = delivery_state(id);

	ck_assert_msg(strcmp(s, want) == 0, "%s: %s, want %s", id, s, want);
	free(s);
}

static void
exec(const char *sql)
{
	char	*msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg != NULL ? msg : "");
}

/* ---- assertions --------------------------------------------------------- */

/* GET path: 200, JSON, exactly want (freed). */
static void
json_is(const char *path, char *want)
{
	struct resp	 r;
	char		 b[128];

	r = request("GET", path, NULL);
	ck_assert_msg(r.status == 200, "%s: status %d %s", path, r.status,
	    r.body);
	ck_assert_str_eq(resp_header(&r, "Content-Type", b, sizeof(b)),
	    "application/json");
	ck_assert_str_eq(resp_header(&r, "Cache-Control", b, sizeof(b)),
	    "no-store");
	ck_assert_msg(strcmp(r.body, want) == 0, "%s:\n got %s\nwant %s",
	    path, r.body, want);
	resp_free(&r);
	free(want);
}

/* An error: status, {"error": "...why..."}. */
static void
error_is(const char *method, const char *path, const char *headers,
    int status, const char *why)
{
	struct resp	 r;
	json_object	*o;
	const char	*e;
	char		 b[128];

	r = request(method, path, headers);
	ck_assert_msg(r.status == status, "%s %s: status %d, want %d (%s)",
	    method, path, r.status, status, r.body);
	ck_assert_str_eq(resp_header(&r, "Content-Type", b, sizeof(b)),
	    "application/json");
	o = json_tokener_parse(r.body);
	ck_assert_msg(o != NULL && json_object_object_length(o) == 1 &&
	    (e = json_object_get_string(json_object_object_get(o, "error"))) !=
	    NULL && strstr(e, why) != NULL, "%s %s: body %s, want %s", method,
	    path, r.body, why);
	json_object_put(o);
	resp_free(&r);
}

/* ---- fixtures ----------------------------------------------------------- */

static void
setup(void)
{
	char	 err[256];

	alarm(getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ? 240 : 30);
	log_set_level(getenv("BECKND_TEST_VERBOSE") == NULL ? LOG_LVL_ERROR :
	    LOG_LVL_DEBUG);
	strcpy(dir, "/tmp/becknd-admin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/journal.db", dir);
	db = store_db_open(db_path, STORE_DB_WRITE, "NORMAL", err,
	    sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	exec(rows_sql);
	ck_assert_ptr_nonnull(base = event_base_new());
	as = admin_server_new(base, "127.0.0.1:0", NULL, db_path, err,
	    sizeof(err));
	ck_assert_msg(as != NULL, "admin_server_new: %s", err);
	ck_assert_int_gt(admin_server_port(as), 0);
}

static void
teardown(void)
{
	admin_server_free(as);
	as = NULL;
	event_base_free(base);
	base = NULL;
	store_db_close(db);
	db = NULL;
	test_rmtree(dir);
	alarm(0);
}

/* ---- tests -------------------------------------------------------------- */

/* How many rows a messages answer holds. */
static int
rows_in(const char *s)
{
	json_object	*o;
	int		 n;

	ck_assert_ptr_nonnull(o = json_tokener_parse(s));
	n = (int)json_object_array_length(json_object_object_get(o,
	    "messages"));
	json_object_put(o);
	return n;
}

/* GET /api/messages?q: the store's answer, which has n rows. */
static void
messages_are(const char *q, int bodies, int n)
{
	char	*want, path[256];

	want = store_says(bodies ? W_BODIES : W_MESSAGES, q);
	ck_assert_msg(rows_in(want) == n, "%s: %d rows, want %d", q,
	    rows_in(want), n);
	snprintf(path, sizeof(path), "/api/messages%s%s%s", *q != '\0' ?
	    "?" : "", q, bodies ? "&bodies=1" : "");
	json_is(path, want);
}

START_TEST(messages)
{
	messages_are("", 0, NROWS);
	messages_are("transaction=T1", 0, 4);
	messages_are("status=dead", 0, 2);
	messages_are("status=NACK", 0, 1);
	messages_are("action=on_status&direction=in", 0, 2);
	messages_are("since=1764460930000&peer=bpp2.example.org", 0, 3);
	messages_are("since=2025-11-30T00:02:10Z&until=1764460940500", 0, 2);
	messages_are("transaction=T%203%2Fx", 0, 2);
	messages_are("transaction=nothing", 0, 0);
	/* bodies is the API's: taken out before the filter. */
	messages_are("order=O1&direction=in", 1, 1);
	json_is("/api/messages?bodies=1", store_says(W_BODIES, ""));
	json_is("/api/messages?bodies=0&order=O1", store_says(W_MESSAGES,
	    "order=O1"));
}
END_TEST

/* Pages of 3 by the "next" cursor cover every row once, in order. */
START_TEST(pagination)
{
	struct resp	 r;
	json_object	*o, *a, *next;
	char		 path[128], q[64], *want;
	int64_t		 after = 0, last = 0, id;
	size_t		 i;
	int		 rows = 0, pages = 0;

	for (;;) {
		snprintf(q, sizeof(q), "limit=3&after=%lld", (long long)after);
		snprintf(path, sizeof(path), "/api/messages?%s", q);
		r = request("GET", path, NULL);
		ck_assert_int_eq(r.status, 200);
		want = store_says(W_MESSAGES, q);
		ck_assert_str_eq(r.body, want);
		free(want);
		ck_assert_ptr_nonnull(o = json_tokener_parse(r.body));
		a = json_object_object_get(o, "messages");
		ck_assert_int_le(json_object_array_length(a), 3);
		for (i = 0; i < json_object_array_length(a); i++) {
			id = json_object_get_int64(json_object_object_get(
			    json_object_array_get_idx(a, i), "id"));
			ck_assert_int_gt(id, last);
			last = id;
			rows++;
		}
		ck_assert(json_object_object_get_ex(o, "next", &next));
		pages++;
		resp_free(&r);
		if (next == NULL) {
			json_object_put(o);
			break;
		}
		after = json_object_get_int64(next);
		json_object_put(o);
		ck_assert_int_lt(pages, 10);
	}
	ck_assert_int_eq(rows, NROWS);
	ck_assert_int_eq(pages, 3);
}
END_TEST

START_TEST(transactions)
{
	json_is("/api/transactions", store_says(W_TRANSACTIONS, ""));
	json_is("/api/transactions?limit=1", store_says(W_TRANSACTIONS,
	    "limit=1"));
	json_is("/api/transactions?status=NACK", store_says(W_TRANSACTIONS,
	    "status=NACK"));
	json_is("/api/transactions/T1", store_says_one(1, "T1"));
	json_is("/api/transactions/T2?ignored=1", store_says_one(1, "T2"));
	/* One path segment, %-decoded. */
	json_is("/api/transactions/T%203%2Fx", store_says_one(1, "T 3/x"));
	json_is("/api/messages/M1", store_says_one(0, "M1"));
	json_is("/api/messages/%4d5", store_says_one(0, "M5"));
	error_is("GET", "/api/transactions/nope", NULL, 404, "nope");
	error_is("GET", "/api/messages/nope", NULL, 404, "nope");
}
END_TEST

START_TEST(export)
{
	struct resp	 r;
	char		*want, b[128];
	size_t		 len;

	r = request("GET", "/api/export?format=csv", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Type", b, sizeof(b)),
	    "text/csv; charset=utf-8");
	ck_assert_str_eq(resp_header(&r, "Content-Disposition", b, sizeof(b)),
	    "attachment; filename=\"becknd-export.csv\"");
	want = store_export_says("", "csv", &len);
	ck_assert_uint_eq(r.bodylen, len);
	ck_assert(memcmp(r.body, want, len) == 0);
	free(want);
	resp_free(&r);

	r = request("GET", "/api/export?transaction=T1&format=jsonl"
	    "&direction=in", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Type", b, sizeof(b)),
	    "application/x-ndjson");
	ck_assert_str_eq(resp_header(&r, "Content-Disposition", b, sizeof(b)),
	    "attachment; filename=\"becknd-export.jsonl\"");
	ck_assert_str_eq(resp_header(&r, "Cache-Control", b, sizeof(b)),
	    "no-store");
	want = store_export_says("transaction=T1&direction=in", "jsonl", &len);
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(r.bodylen, len);
	ck_assert(memcmp(r.body, want, len) == 0);
	free(want);
	resp_free(&r);

	/* Over the cap: say how to get it. */
	admin_server_set_limits(as, 0, 100);
	error_is("GET", "/api/export?format=jsonl", NULL, 413,
	    "becknd journal export");
	error_is("GET", "/api/export?format=csv", NULL, 413, "narrow");
	admin_server_set_limits(as, 0, 1 << 20);
	r = request("GET", "/api/export?format=csv", NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
}
END_TEST

START_TEST(bad_requests)
{
	struct resp	 r;
	char		 b[128];

	error_is("GET", "/api/messages?limit=0", NULL, 400, "limit");
	error_is("GET", "/api/messages?limit=x", NULL, 400, "limit");
	error_is("GET", "/api/messages?status=maybe", NULL, 400, "status");
	error_is("GET", "/api/transactions?since=yesterday", NULL, 400,
	    "since");
	error_is("GET", "/api/messages?bodies=2", NULL, 400, "bodies");
	error_is("GET", "/api/export", NULL, 400, "format");
	error_is("GET", "/api/export?format=xml", NULL, 400, "format");
	error_is("GET", "/api/export?format=csv&format=jsonl", NULL, 400,
	    "format");
	error_is("GET", "/api/export?format=c%2", NULL, 400, "format");
	error_is("GET", "/api/messages?bodies=1&bodies=1", NULL, 400,
	    "bodies");
	error_is("GET", "/api/export?format=csv&limit=-1", NULL, 400,
	    "limit");
	/* Path escapes. */
	error_is("GET", "/api/transactions/T%2", NULL, 400, "escape");
	error_is("GET", "/api/transactions/abc%", NULL, 400, "escape");
	error_is("GET", "/api/transactions/%zz", NULL, 400, "escape");
	error_is("GET", "/api/messages/M%001", NULL, 400, "escape");
	error_is("POST", "/api/deliveries/D%00/redeliver", NULL, 400,
	    "escape");
	/* Routes. */
	error_is("GET", "/", NULL, 404, "/api/");
	error_is("GET", "/api", NULL, 404, "route");
	error_is("GET", "/api/transactions/", NULL, 404, "route");
	error_is("GET", "/api/transactions/T1/more", NULL, 404, "route");
	error_is("GET", "/api/messagesx", NULL, 404, "route");
	error_is("GET", "/api/deliveries/D2", NULL, 404, "route");
	/* Methods. */
	r = request("POST", "/api/messages", NULL);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(resp_header(&r, "Allow", b, sizeof(b)), "GET");
	resp_free(&r);
	r = request("DELETE", "/api/transactions/T1", NULL);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(resp_header(&r, "Allow", b, sizeof(b)), "GET");
	resp_free(&r);
	r = request("GET", "/api/deliveries/D2/redeliver", NULL);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(resp_header(&r, "Allow", b, sizeof(b)), "POST");
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	resp_free(&r);
	state_is("D2", "dead");
}
END_TEST

START_TEST(token)
{
	struct resp	 r;
	char		 b[128], *want;

	admin_server_set_token(as, "s3cret-token");
	r = request("GET", "/api/messages", NULL);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(resp_header(&r, "WWW-Authenticate", b, sizeof(b)),
	    "Bearer realm=\"becknd\"");
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	resp_free(&r);
	error_is("GET", "/api/messages", "Authorization: Bearer wrong\r\n",
	    401, "token");
	error_is("GET", "/api/messages",
	    "Authorization: Bearer s3cret-toke\r\n", 401, "token");
	error_is("GET", "/api/messages",
	    "Authorization: Bearer s3cret-token2\r\n", 401, "token");
	error_is("GET", "/api/messages",
	    "Authorization: Basic s3cret-token\r\n", 401, "token");
	error_is("GET", "/api/messages", "Authorization: Bearer\r\n", 401,
	    "token");
	error_is("GET", "/api/messages", "Authorization: s3cret-token\r\n",
	    401, "token");
	/* Routes are not told before the token. */
	error_is("GET", "/nothing", NULL, 401, "token");
	error_is("POST", "/api/deliveries/D2/redeliver", NULL, 401, "token");
	state_is("D2", "dead");
	r = request("GET", "/api/messages?limit=2", "Authorization: Bearer "
	    "s3cret-token\r\n");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, want = store_says(W_MESSAGES, "limit=2"));
	free(want);
	resp_free(&r);
	r = request("GET", "/api/transactions/T1", "authorization: bearer  "
	    "s3cret-token\r\n");
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	/* Two are ambiguous. */
	r = request("GET", "/api/messages", "Authorization: Bearer "
	    "s3cret-token\r\nAuthorization: Bearer s3cret-token\r\n");
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	/* A new token (SIGHUP); then none. */
	admin_server_set_token(as, "other");
	error_is("GET", "/api/messages", "Authorization: Bearer "
	    "s3cret-token\r\n", 401, "token");
	r = request("GET", "/api/messages", "Authorization: Bearer other\r\n");
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	admin_server_set_token(as, NULL);
	json_is("/api/messages", store_says(W_MESSAGES, ""));
}
END_TEST

/* The token passed to admin_server_new, and start-up errors. */
START_TEST(start)
{
	struct admin_server	*as2;
	struct resp		 r;
	char			 err[256], hp[64];

	as2 = admin_server_new(base, "127.0.0.1:0", "tok", db_path, err,
	    sizeof(err));
	ck_assert_msg(as2 != NULL, "%s", err);
	client_start_port(admin_server_port(as2), "GET", "/api/messages",
	    NULL, &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	client_start_port(admin_server_port(as2), "GET", "/api/messages",
	    "Authorization: Bearer tok\r\n", &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	admin_server_free(as2);
	admin_server_free(NULL);

	err[0] = '\0';
	ck_assert_ptr_null(admin_server_new(base, "no-port", NULL, db_path,
	    err, sizeof(err)));
	ck_assert_str_ne(err, "");
	/* The port is taken. */
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", admin_server_port(as));
	ck_assert_ptr_null(admin_server_new(base, hp, NULL, db_path, err,
	    sizeof(err)));
}
END_TEST

static void
hello(struct http_request *req, void *arg)
{
	const char	*s = arg;

	http_reply(req, 200, "text/plain", NULL, s, strlen(s));
}

START_TEST(extra_routes)
{
	struct resp	 r;

	ck_assert_int_eq(admin_server_route(as, "/healthz", ADMIN_ROUTE_OPEN,
	    hello, "ok"), 0);
	ck_assert_int_eq(admin_server_route(as, "/", 0, hello, "dashboard"),
	    0);
	ck_assert_int_eq(admin_server_route(as, "/api/messages", 0, hello,
	    "mine"), 0);
	ck_assert_int_eq(admin_server_route(as, "/healthz", 0, hello, "x"),
	    -1);
	ck_assert_int_eq(admin_server_route(as, "metrics", 0, hello, "x"),
	    -1);
	admin_server_set_token(as, "t");
	r = request("GET", "/healthz", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok");
	resp_free(&r);
	error_is("GET", "/", NULL, 401, "token");
	r = request("GET", "/", "Authorization: Bearer t\r\n");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "dashboard");
	resp_free(&r);
	/* Added routes come first; exact paths only. */
	r = request("GET", "/api/messages?limit=1", "Authorization: Bearer "
	    "t\r\n");
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "mine");
	resp_free(&r);
	error_is("GET", "/healthz/x", NULL, 401, "token");
	error_is("GET", "/healthz/x", "Authorization: Bearer t\r\n", 404,
	    "route");
}
END_TEST

START_TEST(redeliver)
{
	struct resp	 r;
	char		 b[128];

	state_is("D2", "dead");
	r = request("POST", "/api/deliveries/D2/redeliver", NULL);
	ck_assert_int_eq(r.status, 202);
	ck_assert_str_eq(resp_header(&r, "Content-Type", b, sizeof(b)),
	    "application/json");
	ck_assert_str_eq(r.body, "{\"requeued\":\"D2\"}");
	resp_free(&r);
	state_is("D2", "requeue");
	state_is("D3", "dead");
	/* Not dead any more; never was; a delivered one. */
	error_is("POST", "/api/deliveries/D2/redeliver", NULL, 409, "D2");
	error_is("POST", "/api/deliveries/nope/redeliver", NULL, 404, "nope");
	error_is("POST", "/api/deliveries/D1/redeliver", NULL, 409,
	    "delivered");
	state_is("D1", "delivered");
	/* By its message id, when it has one dead letter only. */
	exec("INSERT INTO messages(id, direction, participant, action,"
	    " message_id, start_ms, delivery_id, delivery_state) VALUES"
	    " (8, 'in', 'bap.example.org', 'on_status', 'M4', 1764460942000,"
	    " 'D5', 'dead')");
	error_is("POST", "/api/deliveries/M4/redeliver", NULL, 409, "M4");
	state_is("D3", "dead");
	exec("UPDATE messages SET delivery_state = 'delivered' WHERE id = 8");
	r = request("POST", "/api/deliveries/M4/redeliver", NULL);
	ck_assert_int_eq(r.status, 202);
	ck_assert_str_eq(r.body, "{\"requeued\":\"M4\"}");
	resp_free(&r);
	state_is("D3", "requeue");
	/* A refused one, its id %-escaped. */
	r = request("POST", "/api/deliveries/%444/redeliver", NULL);
	ck_assert_int_eq(r.status, 202);
	ck_assert_str_eq(r.body, "{\"requeued\":\"D4\"}");
	resp_free(&r);
	state_is("D4", "requeue");
}
END_TEST

/* A store that is missing or broken is 500 with the reason; once it is
 * fixed, the next query reads it. */
START_TEST(store_unreadable)
{
	struct admin_server	*as2;
	struct resp		 r;
	sqlite3			*db2;
	char			 path[160], err[256];
	FILE			*f;

	snprintf(path, sizeof(path), "%s/later.db", dir);
	as2 = admin_server_new(base, "127.0.0.1:0", NULL, path, err,
	    sizeof(err));
	ck_assert_msg(as2 != NULL, "%s", err);
	client_start_port(admin_server_port(as2), "GET", "/api/messages",
	    NULL, &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_msg(strstr(r.body, "later.db") != NULL &&
	    strstr(r.body, "\"error\"") != NULL, "%s", r.body);
	resp_free(&r);
	client_start_port(admin_server_port(as2), "POST",
	    "/api/deliveries/D2/redeliver", NULL, &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body, "later.db"));
	resp_free(&r);
	/* Not a database. */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("this is not a database, just some text that is long enough to "
	    "fill a header page of sixteen bytes and more\n", f);
	fclose(f);
	client_start_port(admin_server_port(as2), "GET",
	    "/api/transactions/T1", NULL, &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body, "later.db"));
	resp_free(&r);
	/* Made a store: read on the next query. */
	unlink(path);
	db2 = store_db_open(path, STORE_DB_WRITE, NULL, err, sizeof(err));
	ck_assert_msg(db2 != NULL, "%s", err);
	store_db_close(db2);
	client_start_port(admin_server_port(as2), "GET", "/api/messages",
	    NULL, &r);
	wait_resp(&r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"messages\":[],\"next\":null}");
	resp_free(&r);
	admin_server_free(as2);
}
END_TEST

/* Count answers by status among n. */
static int
count_status(struct resp *r, int n, int status)
{
	int	 i, k = 0;

	for (i = 0; i < n; i++)
		k += r[i].done && r[i].status == status;
	return k;
}

static int
count_done(struct resp *r, int n)
{
	int	 i, k = 0;

	for (i = 0; i < n; i++)
		k += r[i].done;
	return k;
}

/*
 * The reader thread is held (a redeliver waits for the test's write
 * lock): the loop still answers, and the bounded queue says 503.
 */
START_TEST(busy)
{
	struct resp	 r0, r[3], x;
	char		 b[128];
	int		 i;

	admin_server_set_limits(as, 3, 0);
	exec("BEGIN IMMEDIATE");
	client_start("POST", "/api/deliveries/D2/redeliver", NULL, &r0);
	run_for(200);
	ck_assert_int_eq(r0.done, 0);
	for (i = 0; i < 3; i++)
		client_start("GET", "/api/messages", NULL, &r[i]);
	/* One of the three is over the bound, answered at once. */
	for (i = 0; i < wait_ms() / 20 && count_done(r, 3) == 0; i++)
		run_for(20);
	run_for(200);
	ck_assert_int_eq(count_done(r, 3), 1);
	ck_assert_int_eq(count_status(r, 3, 503), 1);
	for (i = 0; i < 3; i++)
		if (r[i].done)
			ck_assert_str_eq(resp_header(&r[i], "Retry-After", b,
			    sizeof(b)), "1");
	/* Not a query: answered while the thread waits. */
	x = request("GET", "/nothing", NULL);
	ck_assert_int_eq(x.status, 404);
	resp_free(&x);
	ck_assert_int_eq(r0.done, 0);
	exec("COMMIT");
	wait_resp(&r0);
	ck_assert_int_eq(r0.status, 202);
	for (i = 0; i < 3; i++)
		wait_resp(&r[i]);
	ck_assert_int_eq(count_status(r, 3, 200), 2);
	state_is("D2", "requeue");
	resp_free(&r0);
	for (i = 0; i < 3; i++)
		resp_free(&r[i]);
}
END_TEST

/* Clients that leave while their query waits: nothing breaks. */
START_TEST(client_gone)
{
	struct client	*c1, *c2;
	struct resp	 r0, r1, r2, x;

	exec("BEGIN IMMEDIATE");
	client_start("POST", "/api/deliveries/D2/redeliver", NULL, &r0);
	run_for(200);
	c1 = client_start("GET", "/api/messages?bodies=1", NULL, &r1);
	c2 = client_start("GET", "/api/export?format=jsonl", NULL, &r2);
	run_for(200);
	client_abort(c1, 1);
	client_abort(c2, 0);
	run_for(200);
	exec("COMMIT");
	wait_resp(&r0);
	ck_assert_int_eq(r0.status, 202);
	resp_free(&r0);
	/* One thread, in order: the two left before this one is answered. */
	x = request("GET", "/api/messages?limit=1", NULL);
	ck_assert_int_eq(x.status, 200);
	resp_free(&x);
	run_for(100);
}
END_TEST

static void *
commit_later(void *arg)
{
	usleep(300 * 1000);
	exec("COMMIT");
	return NULL;
}

/* Freed with a query running and one queued: clean, both clients closed. */
START_TEST(free_in_flight)
{
	struct resp	 r0, r1;
	pthread_t	 t;

	exec("BEGIN IMMEDIATE");
	client_start("POST", "/api/deliveries/D2/redeliver", NULL, &r0);
	run_for(200);
	client_start("GET", "/api/messages", NULL, &r1);
	run_for(200);
	ck_assert_int_eq(r0.done + r1.done, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, commit_later, NULL), 0);
	admin_server_free(as);
	as = NULL;
	pthread_join(t, NULL);
	wait_resp(&r0);
	wait_resp(&r1);
	ck_assert_int_eq(r0.status, -1);
	ck_assert_int_eq(r1.status, -1);
	/* The running one finished. */
	state_is("D2", "requeue");
	resp_free(&r0);
	resp_free(&r1);
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite	*s = suite_create("admin");
	TCase	*tc;

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, messages);
	tcase_add_test(tc, pagination);
	tcase_add_test(tc, transactions);
	tcase_add_test(tc, export);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, token);
	tcase_add_test(tc, start);
	tcase_add_test(tc, extra_routes);
	tcase_add_test(tc, redeliver);
	tcase_add_test(tc, store_unreadable);
	tcase_add_test(tc, busy);
	tcase_add_test(tc, client_gone);
	tcase_add_test(tc, free_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(admin_suite());
}

/*
 * check_proxy_store.c - the adaptor with its durable store (store.path):
 * what the wiring in src/proxy (proxy_journal.c, the `store` stage of the
 * network listener, journal_sent() of the client listener, the admin
 * listener) shows peers, apps and operators.
 *
 * The same in-process world as check_proxy.c (tests/proxy_harness.h):
 * real struct proxy instances on 127.0.0.1, stub webhooks and peers, a
 * registry file, a manual clock.  The journal is read back as `becknd
 * journal` and the admin API read it (store_query_messages() on a
 * read-only reader: ph_journal()), and with plain SQLite where a column
 * is not in the row JSON.  The store's writer runs on real time: waits
 * poll with bounded loop runs, never sleep.
 *
 *   ACK after commit   no answer while the record cannot be committed;
 *                      the row (ids, peer, status, body) exists when the
 *                      ACK arrives; delivery_id is the Idempotency-Key
 *   store full         503 40000 + Retry-After, nothing delivered; after
 *                      a reload that makes room, the same signed bytes
 *                      are ACKed (the replay keys were given back)
 *   restart            the outbox and the replay state come back
 *   NACKs              a verified message refused later is journalled
 *                      with its NACK and its verified signer as peer;
 *                      bytes that did not verify are not
 *   delivery           refused, retried, delivered: the row follows
 *   sent messages      'out' rows with the peer's answer, or none
 *   dead letters       kept in the store, the queue holds nothing;
 *                      requeued by store_requeue(), delivered with the
 *                      same key
 *   admin API          /api/messages answers the journal's rows
 *   -t                 proxy_check_store()
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "testutil.h"
#include "proxy_harness.h"
#include "conf/conf.h"
#include "proxy/proxy.h"
#include "store/store_query.h"
#include "util/xmalloc.h"

#define SLOW_MS		3000	/* "it arrives": a generous real-time bound */

/* The world: one process hosting bap.test and bpp.test. */
static struct {
	struct ph_stub	*w_bap, *w_bpp;		/* their webhooks */
	struct ph_party	*bap, *bpp;		/* hosted */
	struct ph_party	*sbap, *sbpp, *obap;	/* registered peers */
	struct ph_proxy	*px;
	/* A stub peer answering as peer.bpp.test and peer.bap.test
	 * (out_world()). */
	struct ph_stub	*peer;
	struct ph_party	*pbpp, *pbap;
} S;

static void
setup(void)
{
	ph_setup();
	memset(&S, 0, sizeof(S));
}

static void
teardown(void)
{
	ph_teardown();
	memset(&S, 0, sizeof(S));
}

/* Parties and registry; the proxy with its store, not started. */
static void
world(void)
{
	S.w_bap = ph_stub("bap-webhook");
	S.w_bpp = ph_stub("bpp-webhook");
	S.bap = ph_party("bap.test", "/bap");
	S.bpp = ph_party("bpp.test", "/bpp");
	S.sbap = ph_party("sender.bap.test", "/sbap");
	S.sbpp = ph_party("sender.bpp.test", "/sbpp");
	S.obap = ph_party("other.bap.test", "/obap");
	ph_register(S.bap, "BAP", PH_DOMAIN);
	ph_register(S.bpp, "BPP", PH_DOMAIN);
	ph_register(S.sbap, "BAP", PH_DOMAIN);
	ph_register(S.sbpp, "BPP", PH_DOMAIN);
	ph_register(S.obap, "BAP", PH_DOMAIN);
	ph_registry_write();
	S.px = ph_proxy("main");
	ph_host(S.px, S.bap, "bap", S.w_bap, NULL);
	ph_host(S.px, S.bpp, "bpp", S.w_bpp, NULL);
	ph_store(S.px, NULL);
}

static void
world_start(void)
{
	world();
	ph_start(S.px);
}

/* The world plus a stub peer registered as peer.bpp.test and
 * peer.bap.test. */
static void
out_world(void)
{
	world();
	S.peer = ph_stub("peer");
	S.pbpp = ph_party("peer.bpp.test", "/pbpp");
	S.pbap = ph_party("peer.bap.test", "/pbap");
	snprintf(S.pbpp->url, sizeof(S.pbpp->url), "%s/pbpp",
	    ph_stub_url(S.peer));
	snprintf(S.pbap->url, sizeof(S.pbap->url), "%s/pbap",
	    ph_stub_url(S.peer));
	ph_register(S.pbpp, "BPP", PH_DOMAIN);
	ph_register(S.pbap, "BAP", PH_DOMAIN);
	ph_registry_write();
}

/* A request from sender.bap.test to bpp.test. */
static json_object *
req_msg(const char *action)
{
	return ph_msg(action, S.sbap, S.bpp);
}

/* POST the exact bytes with their Authorization to the network port. */
static struct ph_call *
post_signed(const char *path, const char *body, const char *auth)
{
	return ph_call(ph_net(S.px), "POST", path, body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
}

/* A select of some KB: a row that needs pages of its own. */
static const char *
big_select(json_object **mp)
{
	json_object	*m = req_msg("select"), *msg, *order, *items, *d;
	char		 pad[6001];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	ck_assert(json_object_object_get_ex(order, "items", &items));
	d = json_object_new_object();
	json_object_object_add(d, "long_desc", json_object_new_string(pad));
	json_object_object_add(json_object_array_get_idx(items, 0),
	    "descriptor", d);
	*mp = m;
	return ph_wire(m);
}

/* An init the schemas refuse (400 30000), verified all the same. */
static json_object *
init_invalid(void)
{
	json_object	*m = req_msg("init"), *msg, *order;

	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	json_object_object_add(order, "items",
	    json_object_new_string("course-ml-101"));
	return m;
}

/* ---- reading rows ------------------------------------------------- */

/*
 * A row's field as text: a string as it is, a number in decimal, NULL
 * for null or absent.  "delivery.state" reaches into the delivery.
 */
static const char *
field(json_object *row, const char *key)
{
	json_object	*v = row;
	char		*k = ph_fmt("%s", key), *tok, *save;

	for (tok = strtok_r(k, ".", &save); tok != NULL;
	    tok = strtok_r(NULL, ".", &save))
		if (v == NULL || !json_object_object_get_ex(v, tok, &v))
			return NULL;
	if (v == NULL || json_object_is_type(v, json_type_null))
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return ph_fmt("%s", json_object_to_json_string(v));
}

/*
 * Each "key", want pair (want NULL: null) holds in row; the list ends
 * with a NULL key (the macro adds it).
 */
#define expect_row(row, what, ...) \
	expect_row_at(__FILE__, __LINE__, row, what, __VA_ARGS__, \
	    (const char *)NULL)
static void
expect_row_at(const char *file, int line, json_object *row,
    const char *what, ...)
{
	va_list		 ap;
	const char	*key, *want, *got;

	va_start(ap, what);
	while ((key = va_arg(ap, const char *)) != NULL) {
		want = va_arg(ap, const char *);
		got = field(row, key);
		if (want == NULL ? got == NULL : got != NULL &&
		    strcmp(want, got) == 0)
			continue;
		va_end(ap);
		ph_fail_at(file, line, "%s: journal %s: want %s, got %s "
		    "(row %.600s)", what, key, want != NULL ? want : "null",
		    got != NULL ? got : "null",
		    json_object_to_json_string(row));
	}
	va_end(ap);
}

/* The one row matching query, once it is there. */
#define one_row(query, what) one_row_at(__FILE__, __LINE__, query, what)
static json_object *
one_row_at(const char *file, int line, const char *query, const char *what)
{
	json_object	*rows;

	rows = ph_journal_wait(S.px, query, 1, SLOW_MS);
	if (json_object_array_length(rows) != 1)
		ph_fail_at(file, line, "%s: want one journal row for \"%s\", "
		    "got %zu: %.600s", what, query,
		    json_object_array_length(rows),
		    json_object_to_json_string(rows));
	return json_object_array_get_idx(rows, 0);
}

static sqlite3 *
db_open(const char *path)
{
	sqlite3	*db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		ck_abort_msg("%s: cannot open", path);
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;
	int	 rc;

	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err != NULL ? err :
	    "?");
}

/*
 * Column col of the received ('in') row of message_id mid as bytes
 * (world-owned, NUL-terminated), *len its length; NULL for NULL.
 */
static const char *
db_column(const char *col, const char *mid, size_t *len)
{
	sqlite3		*db = db_open(ph_store_path(S.px));
	sqlite3_stmt	*st;
	const char	*sql, *v = NULL;
	char		*copy;
	int		 rc;

	sql = ph_fmt("SELECT %s FROM messages WHERE message_id = ?1 AND "
	    "direction = 'in'", col);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, mid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*len = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		copy = ph_keep(xcalloc(1, *len + 1));
		memcpy(copy, sqlite3_column_blob(st, 0), *len);
		v = copy;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	ck_assert_msg(rc == SQLITE_ROW, "no received row with message_id %s",
	    mid);
	return v;
}

/* The webhook's request i is the exact message, from sender. */
#define expect_delivered(hook, i, uri, body, sender, what) \
	expect_delivered_at(__FILE__, __LINE__, hook, i, uri, body, sender, \
	    what)
static struct ph_req *
expect_delivered_at(const char *file, int line, struct ph_stub *hook, int i,
    const char *uri, const char *body, const struct ph_party *sender,
    const char *what)
{
	struct ph_req	*r;
	const char	*v;

	if (ph_stub_wait(hook, i + 1, SLOW_MS) < i + 1)
		ph_fail_at(file, line, "%s: want the message at the webhook, "
		    "it got %d request(s)", what, ph_stub_count(hook));
	r = ph_stub_req(hook, i);
	if (strcmp(r->uri, uri) != 0 || r->len != strlen(body) ||
	    memcmp(r->body, body, r->len) != 0)
		ph_fail_at(file, line, "%s: want the exact %zu bytes at %s, "
		    "got %zu at %s", what, strlen(body), uri, r->len, r->uri);
	v = ph_req_header(r, "X-Beckn-Sender");
	if (v == NULL || strcmp(v, sender->sid) != 0)
		ph_fail_at(file, line, "%s: want X-Beckn-Sender %s, got %s",
		    what, sender->sid, v != NULL ? v : "none");
	if (ph_req_header(r, "Idempotency-Key") == NULL)
		ph_fail_at(file, line, "%s: no Idempotency-Key", what);
	return r;
}

static const char *
idem_key(const struct ph_req *r)
{
	return ph_req_header(r, "Idempotency-Key");
}

/* ==== ACK after commit ============================================= */

/*
 * Another connection holds the file's write lock: the record cannot be
 * committed, and the sender gets no answer and the app nothing.  Once
 * the lock goes, the ACK comes, and the row is there when it does.
 */
START_TEST(st_ack_after_commit)
{
	struct ph_call	*c;
	struct ph_req	*r;
	sqlite3		*db;
	json_object	*m, *rows, *row;
	const char	*body, *auth, *mid, *v;
	size_t		 len;

	world_start();
	m = req_msg("select");
	body = ph_wire(m);
	mid = ph_ctx(m, "message_id");
	auth = ph_sign(S.sbap, body, 0, 300);
	db = db_open(ph_store_path(S.px));
	db_exec(db, "BEGIN IMMEDIATE");
	c = ph_call_async(ph_net(S.px), "POST", "/bpp/select", body,
	    strlen(body), (const char *const[]){ "Authorization", auth,
	    NULL });
	ph_run_for(ph_ms(300));
	if (c->done || c->failed || ph_stub_count(S.w_bpp) != 0) {
		sqlite3_close(db);
		PH_FAIL("the store could not commit, yet the sender got %s "
		    "and the webhook %d request(s)", c->failed ? "a closed "
		    "connection" : c->done ? ph_describe(c) : "no answer",
		    ph_stub_count(S.w_bpp));
	}
	db_exec(db, "COMMIT");
	sqlite3_close(db);
	if (!ph_call_wait(c, SLOW_MS))
		PH_FAIL("no answer once the store could commit: %s",
		    ph_describe(c));
	rows = ph_journal(S.px, ph_fmt("message=%s", mid));
	if (json_object_array_length(rows) != 1)
		PH_FAIL("the ACK arrived before the record: %zu rows for "
		    "message_id %s", json_object_array_length(rows), mid);
	EXPECT_ACK(c, "select, once committed");

	row = json_object_array_get_idx(rows, 0);
	expect_row(row, "the ACKed select", "direction", "in", "participant",
	    "bpp.test", "role", "BPP", "peer", "sender.bap.test", "action",
	    "select", "domain", PH_DOMAIN, "transaction_id",
	    ph_ctx(m, "transaction_id"), "message_id", mid, "http_status",
	    "200", "ack", "ACK", "error_code", NULL, "error_message", NULL,
	    "body", body);
	r = expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "the ACKed select");
	expect_row(row, "the ACKed select", "delivery.id", idem_key(r));
	/* Columns the row JSON does not show. */
	v = db_column("body", mid, &len);
	if (v == NULL || len != strlen(body) || memcmp(v, body, len) != 0)
		PH_FAIL("the stored body is not the %zu bytes received (%zu)",
		    strlen(body), len);
	v = db_column("sender", mid, &len);
	if (v == NULL || strcmp(v, S.sbap->sid) != 0)
		PH_FAIL("stored sender %s, want %s", v != NULL ? v : "NULL",
		    S.sbap->sid);
	v = db_column("webhook", mid, &len);
	if (v == NULL || strcmp(v, ph_fmt("%s/hook/bpp/{action}",
	    ph_stub_url(S.w_bpp))) != 0)
		PH_FAIL("stored webhook %s", v != NULL ? v : "NULL");

	row = one_row(ph_fmt("message=%s&status=delivered", mid),
	    "the select, delivered");
	expect_row(row, "the delivered select", "delivery.id", idem_key(r),
	    "delivery.state", "delivered", "delivery.attempts", "1",
	    "delivery.last_error", NULL);
	if (field(row, "delivery.at") == NULL)
		PH_FAIL("a delivered row without its time: %s",
		    json_object_to_json_string(row));
	EXPECT_COUNT(S.w_bpp, 1, "one ACKed select");
}
END_TEST

/* A callback to the BAP: its order id and fulfillment state are kept;
 * under store.bodies: none the body goes once it is delivered. */
START_TEST(st_callback_bodies_none)
{
	json_object	*m, *row;
	const char	*body, *mid;

	world();
	ph_set(S.px, "store.bodies", "none");
	ph_set(S.px, "store.sync", "full");
	ph_start(S.px);
	m = ph_msg("on_status", S.bap, S.sbpp);
	body = ph_wire(m);
	mid = ph_ctx(m, "message_id");
	EXPECT_ACK(ph_send(S.px, "/bap/on_status", body, S.sbpp),
	    "on_status from a registered BPP");
	expect_delivered(S.w_bap, 0, "/hook/bap/on_status", body, S.sbpp,
	    "on_status");
	row = one_row(ph_fmt("message=%s&status=delivered", mid),
	    "on_status, delivered");
	expect_row(row, "on_status under store.bodies: none", "participant",
	    "bap.test", "role", "BAP", "peer", "sender.bpp.test", "action",
	    "on_status", "order_id", "ord-osa-20260302-0001", "state_code",
	    "IN-PROGRESS", "ack", "ACK", "body", NULL);
}
END_TEST

/*
 * The state code is the first fulfillment's state.descriptor.code: a
 * callback whose fulfillments have no such thing (the schemas may refuse
 * it) is journalled with its order id and no state code.
 */
START_TEST(st_callback_odd_fulfillments)
{
	static const char *const fs[] = { "\"none\"", "[]", "[7]",
	    "[{}]", "[{\"state\":{}}]" };
	json_object	*m, *msg, *order;
	const char	*mid;

	world_start();
	m = ph_msg("on_status", S.bap, S.sbpp);
	mid = ph_ctx(m, "message_id");
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	json_object_object_add(order, "fulfillments",
	    json_tokener_parse(fs[_i]));
	ph_send(S.px, "/bap/on_status", ph_wire(m), S.sbpp);
	expect_row(one_row(ph_fmt("message=%s", mid), fs[_i]), fs[_i],
	    "order_id", "ord-osa-20260302-0001", "state_code", NULL);
}
END_TEST

/* ==== the store cannot commit ====================================== */

/*
 * store.max_size no larger than the new file: a select of 6 KB does not
 * fit.  503 and nothing delivered or recorded; a reload with room, and
 * the same signed bytes are ACKed (not 401: the replay keys were given
 * back) and delivered once.
 */
START_TEST(st_full_then_reload)
{
	struct ph_call	*c;
	json_object	*m;
	const char	*body, *auth, *v;
	char		 err[1024];

	world();
	ph_set(S.px, "store.max_size", "1K");
	ph_start(S.px);
	body = big_select(&m);
	auth = ph_sign(S.sbap, body, 0, 300);
	c = post_signed("/bpp/select", body, auth);
	EXPECT_NACK(c, 503, "40000", NULL, "a select the full store cannot "
	    "record");
	v = ph_call_header(c, "Retry-After");
	if (v == NULL || strcmp(v, "1") != 0)
		PH_FAIL("503 NACK without Retry-After: 1: %s", c->head);
	v = ph_err(c, "message");
	if (v == NULL || strstr(v, "store") == NULL)
		PH_FAIL("the NACK does not say the store is at fault: %s",
		    ph_describe(c));
	EXPECT_COUNT(S.w_bpp, 0, "a select the store could not record");
	if (json_object_array_length(ph_journal(S.px, NULL)) != 0)
		PH_FAIL("a full store shows rows: %s",
		    json_object_to_json_string(ph_journal(S.px, NULL)));

	ph_set(S.px, "store.max_size", "64M");
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload with a larger store.max_size: %s", err);
	c = post_signed("/bpp/select", body, auth);
	EXPECT_ACK(c, "the same signed select once the store has room");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "the select after the reload");
	one_row(ph_fmt("message=%s&status=ACK", ph_ctx(m, "message_id")),
	    "the select after the reload");
	EXPECT_COUNT(S.w_bpp, 1, "the select NACKed 503, then ACKed");
}
END_TEST

/* ==== restart ====================================================== */

#define NRESTART	3

struct tried {
	struct ph_stub	*hook;
	const char	*mid[NRESTART];
};

/* Each message reached the webhook at least once. */
static int
all_tried(void *arg)
{
	struct tried	*t = arg;
	const char	*v;
	int		 i, j, seen;

	for (i = 0; i < NRESTART; i++) {
		seen = 0;
		for (j = 0; j < ph_stub_count(t->hook) && !seen; j++) {
			v = ph_req_header(ph_stub_req(t->hook, j),
			    "X-Beckn-Message-Id");
			seen = v != NULL && strcmp(v, t->mid[i]) == 0;
		}
		if (!seen)
			return 0;
	}
	return 1;
}

static int
mid_index(const struct tried *t, const struct ph_req *r)
{
	const char	*v = ph_req_header(r, "X-Beckn-Message-Id");
	int		 i;

	for (i = 0; v != NULL && i < NRESTART; i++)
		if (strcmp(v, t->mid[i]) == 0)
			return i;
	return -1;
}

/*
 * Messages ACKed while the webhook fails are delivered after a restart,
 * each once, with the Idempotency-Key it had; the replay state comes
 * back: a message ACKed before the restart is refused after it.
 */
START_TEST(st_restart)
{
	struct tried	 t;
	struct ph_req	*r;
	const char	*body[NRESTART], *auth[NRESTART], *key[NRESTART];
	json_object	*m, *rows;
	int		 i, k, n0, seen[NRESTART] = { 0 };

	world_start();
	ph_stub_answer(S.w_bpp, 503, "{}");
	t.hook = S.w_bpp;
	for (i = 0; i < NRESTART; i++) {
		m = req_msg("select");
		body[i] = ph_wire(m);
		t.mid[i] = ph_ctx(m, "message_id");
		auth[i] = ph_sign(S.sbap, body[i], 0, 300);
		EXPECT_ACK(post_signed("/bpp/select", body[i], auth[i]),
		    ph_fmt("select %d, webhook failing", i));
	}
	if (!ph_run_until(all_tried, &t, ph_ms(SLOW_MS)))
		PH_FAIL("not every select reached the failing webhook");
	for (i = 0; i < NRESTART; i++)
		key[i] = NULL;
	for (i = 0; i < ph_stub_count(S.w_bpp); i++) {
		r = ph_stub_req(S.w_bpp, i);
		ck_assert_int_ge(k = mid_index(&t, r), 0);
		if (key[k] == NULL)
			key[k] = idem_key(r);
		else if (strcmp(key[k], idem_key(r)) != 0)
			PH_FAIL("select %d retried with Idempotency-Key %s, "
			    "first %s", k, idem_key(r), key[k]);
	}
	for (i = 0; i < NRESTART; i++)
		expect_row(one_row(ph_fmt("message=%s&status=queued",
		    t.mid[i]), "queued before the restart"), "before the "
		    "restart", "delivery.id", key[i]);

	ph_stop(S.px);
	ph_settle();		/* what was on its way arrives */
	n0 = ph_stub_count(S.w_bpp);
	ph_stub_answer(S.w_bpp, 200, "{}");
	ph_start(S.px);
	rows = ph_journal_wait(S.px, "status=delivered", NRESTART, SLOW_MS);
	if (json_object_array_length(rows) != NRESTART)
		PH_FAIL("after the restart, %zu of %d selects delivered",
		    json_object_array_length(rows), NRESTART);
	ph_run_for(ph_ms(300));
	EXPECT_COUNT(S.w_bpp, n0 + NRESTART, "the restart's deliveries");
	for (i = n0; i < n0 + NRESTART; i++) {
		r = ph_stub_req(S.w_bpp, i);
		ck_assert_int_ge(k = mid_index(&t, r), 0);
		seen[k]++;
		if (strcmp(idem_key(r), key[k]) != 0)
			PH_FAIL("select %d delivered after the restart with "
			    "Idempotency-Key %s, before it was %s", k,
			    idem_key(r), key[k]);
		if (r->len != strlen(body[k]) || memcmp(r->body, body[k],
		    r->len) != 0)
			PH_FAIL("select %d: other bytes after the restart", k);
	}
	for (i = 0; i < NRESTART; i++)
		if (seen[i] != 1)
			PH_FAIL("select %d delivered %d times after the "
			    "restart", i, seen[i]);
	EXPECT_NACK(post_signed("/bpp/select", body[0], auth[0]), 401,
	    "30000", NULL, "a select ACKed before the restart, replayed "
	    "after it");
	EXPECT_COUNT(S.w_bpp, n0 + NRESTART, "a replay after the restart");
}
END_TEST

/*
 * A restart with security.replay_sender_quota lowered under what the
 * store holds for a sender (two messages, two keys each): the keys over
 * it are forgotten, the proxy starts, and no replayed message is ACKed
 * again -- refused as seen, or as over the sender's quota.
 */
START_TEST(st_restart_lower_quota)
{
	const char	*body[2], *auth[2];
	struct ph_call	*c;
	int		 i;

	world_start();
	for (i = 0; i < 2; i++) {
		body[i] = ph_wire(req_msg("select"));
		auth[i] = ph_sign(S.sbap, body[i], 0, 300);
		EXPECT_ACK(post_signed("/bpp/select", body[i], auth[i]),
		    ph_fmt("select %d", i));
	}
	EXPECT_COUNT(S.w_bpp, 2, "two selects");
	ph_stop(S.px);
	ph_set(S.px, "security.replay_sender_quota", "2");
	ph_start(S.px);
	for (i = 0; i < 2; i++) {
		c = post_signed("/bpp/select", body[i], auth[i]);
		if (!c->done || c->status == 200)
			PH_FAIL("select %d replayed after a restart with a "
			    "lower quota: %s", i, ph_describe(c));
	}
	EXPECT_COUNT(S.w_bpp, 2, "replays after a restart with a lower "
	    "quota");
}
END_TEST

/* ==== refusals in the journal ====================================== */

/*
 * Bytes whose signature does not verify leave no row; a verified message
 * refused later is journalled with its NACK: at validate (400), at bind
 * (401: its peer is the verified signer, not the id its context claims)
 * and at replay-check (401).
 */
START_TEST(st_nack_journalled)
{
	json_object	*m, *rows, *row;
	const char	*body, *auth, *bad, *mid;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	bad = ph_replace(body, "course-ml-101", "course-ml-102");
	EXPECT_NACK(post_signed("/bpp/select", bad, auth), 401, "30000",
	    NULL, "body changed after signing");

	m = init_invalid();
	mid = ph_ctx(m, "message_id");
	EXPECT_NACK(ph_send(S.px, "/bpp/init", ph_wire(m), S.sbap), 400,
	    "30000", "/message/order/items", "init with items a string");
	/* Written in order: a row for the tampered select would be first. */
	rows = ph_journal_wait(S.px, NULL, 1, SLOW_MS);
	if (json_object_array_length(rows) != 1)
		PH_FAIL("want only the refused init's row, got %zu: %.600s",
		    json_object_array_length(rows),
		    json_object_to_json_string(rows));
	row = json_object_array_get_idx(rows, 0);
	expect_row(row, "the init refused by the schemas", "direction", "in",
	    "participant", "bpp.test", "peer", "sender.bap.test", "action",
	    "init", "message_id", mid, "http_status", "400", "ack", "NACK",
	    "error_code", "30000", "delivery", NULL, "body", ph_wire(m));
	if (field(row, "error_message") == NULL)
		PH_FAIL("a NACK row without its message: %s",
		    json_object_to_json_string(row));

	/* Signed by other.bap.test, claiming to be sender.bap.test. */
	m = req_msg("select");
	mid = ph_ctx(m, "message_id");
	EXPECT_NACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.obap), 401,
	    "30000", NULL, "a select signed by another BAP than its bap_id");
	row = one_row(ph_fmt("message=%s", mid), "select of another signer");
	expect_row(row, "a select signed by another BAP", "peer",
	    "other.bap.test", "http_status", "401", "ack", "NACK",
	    "error_code", "30000");

	m = req_msg("select");
	mid = ph_ctx(m, "message_id");
	body = ph_wire(m);
	auth = ph_sign(S.sbap, body, 0, 300);
	EXPECT_ACK(post_signed("/bpp/select", body, auth), "a select");
	EXPECT_NACK(post_signed("/bpp/select", body, auth), 401, "30000",
	    NULL, "the same select replayed");
	rows = ph_journal_wait(S.px, ph_fmt("message=%s", mid), 2, SLOW_MS);
	if (json_object_array_length(rows) != 2)
		PH_FAIL("a select and its replay: want 2 rows, got %zu",
		    json_object_array_length(rows));
	expect_row(json_object_array_get_idx(rows, 0), "the select", "ack",
	    "ACK");
	expect_row(json_object_array_get_idx(rows, 1), "its replay", "ack",
	    "NACK", "http_status", "401", "delivery", NULL);
	EXPECT_COUNT(S.w_bpp, 1, "refusals and one select");
}
END_TEST

/* Signed bytes that are no Beckn message: a row without ids. */
START_TEST(st_nack_no_context)
{
	json_object	*row;

	world_start();
	EXPECT_NACK(ph_send(S.px, "/bpp/select", "{\"message\":{}}", S.sbap),
	    400, "30000", "/context", "a signed body without context");
	row = one_row("action=select", "a signed body without context");
	expect_row(row, "a body without context", "peer", "sender.bap.test",
	    "message_id", NULL, "transaction_id", NULL, "domain", NULL,
	    "http_status", "400", "ack", "NACK");
}
END_TEST

/* ==== delivery outcomes ============================================ */

/* The webhook's 400 is final (refused); a 500 is retried (attempts). */
START_TEST(st_delivery_outcomes)
{
	json_object	*m;
	const char	*body, *mid;

	world_start();
	ph_stub_answer(S.w_bpp, 400, "{}");
	m = req_msg("select");
	mid = ph_ctx(m, "message_id");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "select the app refuses");
	expect_row(one_row(ph_fmt("message=%s&status=refused", mid),
	    "refused by the app"), "refused by the app", "delivery.state",
	    "refused", "delivery.attempts", "1");
	if (field(one_row(ph_fmt("message=%s", mid), "refused"),
	    "delivery.last_error") == NULL)
		PH_FAIL("a refused delivery without its reason");

	ph_stub_answer(S.w_bpp, 500, "{}");
	m = req_msg("select");
	mid = ph_ctx(m, "message_id");
	body = ph_wire(m);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap),
	    "select, webhook failing once");
	ck_assert_int_eq(ph_stub_wait(S.w_bpp, 2, SLOW_MS), 2);
	ph_stub_answer(S.w_bpp, 200, "{}");
	expect_delivered(S.w_bpp, 2, "/hook/bpp/select", body, S.sbap,
	    "the retry");
	expect_row(one_row(ph_fmt("message=%s&status=delivered", mid),
	    "delivered on the retry"), "delivered on the retry",
	    "delivery.attempts", "2");
}
END_TEST

/* ==== dead letters ================================================= */

/*
 * delivery.max_attempts 1 and a webhook answering 500: a dead letter, in
 * the store and not in memory.  store_requeue() (becknd journal
 * redeliver): the store finds it within a second, the webhook gets it
 * again with the same Idempotency-Key, and the row ends delivered.
 */
START_TEST(st_dead_redeliver)
{
	struct proxy_counters	 pc;
	struct ph_req		*r;
	json_object		*m;
	const char		*body, *mid, *key;
	char			 err[512];

	world();
	ph_set(S.px, "delivery.max_attempts", "1");
	ph_start(S.px);
	ph_stub_answer(S.w_bpp, 500, "{}");
	m = req_msg("select");
	body = ph_wire(m);
	mid = ph_ctx(m, "message_id");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap), "select");
	key = idem_key(expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body,
	    S.sbap, "the only attempt"));
	expect_row(one_row(ph_fmt("message=%s&status=dead", mid),
	    "a dead letter"), "a dead letter", "delivery.id", key,
	    "delivery.state", "dead", "delivery.attempts", "1");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("a dead letter is still held by the delivery queue");
	proxy_counters(ph_px(S.px), &pc);
	ck_assert_uint_eq(pc.delivery_dead, 1);
	EXPECT_COUNT(S.w_bpp, 1, "max_attempts 1");

	ph_stub_answer(S.w_bpp, 200, "{}");
	if (store_requeue(ph_store_path(S.px), key, err, sizeof(err)) == -1)
		PH_FAIL("store_requeue %s: %s", key, err);
	r = expect_delivered(S.w_bpp, 1, "/hook/bpp/select", body, S.sbap,
	    "the requeued dead letter");
	if (strcmp(idem_key(r), key) != 0)
		PH_FAIL("requeued with Idempotency-Key %s, it was %s",
		    idem_key(r), key);
	expect_row(one_row(ph_fmt("message=%s&status=delivered", mid),
	    "the requeued letter, delivered"), "the requeued letter",
	    "delivery.id", key, "delivery.attempts", "1");
	proxy_counters(ph_px(S.px), &pc);
	ck_assert_uint_eq(pc.delivery_redelivered, 1);
	EXPECT_COUNT(S.w_bpp, 2, "a dead letter delivered again");
}
END_TEST

/* ==== sent messages ================================================ */

/*
 * A select from the BAP app to peer.bpp.test: _i 0 the peer ACKs, 1 it
 * NACKs, 2 it does not listen.  An 'out' row with the peer and its
 * answer (none when unreachable).
 */
START_TEST(st_out_rows)
{
	static const char *const nack = "{\"message\":{\"ack\":{\"status\":"
	    "\"NACK\"}},\"error\":{\"code\":\"30004\",\"message\":\"no "
	    "such course\"}}";
	static const char *const what[] = { "a peer that ACKs",
	    "a peer that NACKs", "an unreachable peer" };
	json_object	*m, *ctx, *row;
	const char	*mid, *v;
	struct ph_call	*c;
	struct ph_req	*r;

	out_world();
	if (_i == 2) {
		snprintf(S.pbpp->url, sizeof(S.pbpp->url),
		    "http://127.0.0.1:%d/pbpp", ph_dead_port());
		ph_registry_write();
	}
	ph_start(S.px);
	if (_i == 1)
		ph_stub_answer(S.peer, 400, nack);
	m = ph_msg("select", S.bap, S.pbpp);
	mid = ph_ctx(m, "message_id");
	ck_assert(json_object_object_get_ex(m, "context", &ctx));
	json_object_object_del(ctx, "bap_id");
	json_object_object_del(ctx, "bap_uri");
	c = ph_app(S.px, "/bap/select", ph_wire(m));
	row = one_row(ph_fmt("message=%s&direction=out", mid), what[_i]);
	expect_row(row, what[_i], "participant", "bap.test", "role", "BAP",
	    "peer", "peer.bpp.test", "action", "select", "domain", PH_DOMAIN,
	    "transaction_id", ph_ctx(m, "transaction_id"), "delivery", NULL);
	switch (_i) {
	case 0:
		EXPECT_ACK(c, what[_i]);
		expect_row(row, what[_i], "http_status", "200", "ack", "ACK",
		    "error_code", NULL);
		r = ph_stub_req(S.peer, 0);
		if (field(row, "body") == NULL || r->len !=
		    strlen(field(row, "body")) || memcmp(r->body,
		    field(row, "body"), r->len) != 0)
			PH_FAIL("the journal's body is not the bytes sent");
		break;
	case 1:
		if ((v = ph_err(c, "code")) == NULL || strcmp(v, "30004") != 0)
			PH_FAIL("%s: want its NACK 30004 relayed, got %s",
			    what[_i], ph_describe(c));
		expect_row(row, what[_i], "http_status", "400", "ack", "NACK",
		    "error_code", "30004");
		break;
	default:
		EXPECT_NACK(c, 502, "40000", NULL, what[_i]);
		expect_row(row, what[_i], "http_status", NULL, "ack", NULL,
		    "error_code", NULL);
		if (field(row, "error_message") == NULL)
			PH_FAIL("no reason for an unreachable peer: %s",
			    json_object_to_json_string(row));
		break;
	}
	if (json_object_array_length(ph_journal(S.px, "direction=in")) != 0)
		PH_FAIL("a message sent shows as received");
}
END_TEST

/*
 * A BPP app's callback: the peer is bap_id.  A BAP app's search without
 * bpp_uri: one row per gateway it went to, its peer the gateway's
 * subscriber id.
 */
START_TEST(st_out_callback_and_search)
{
	struct ph_stub	*gws;
	struct ph_party	*g;
	json_object	*m, *row;
	const char	*peer;

	out_world();
	gws = ph_stub("gateway");
	g = ph_party("remote.gw.test", "/rgw");
	snprintf(g->url, sizeof(g->url), "%s/rgw", ph_stub_url(gws));
	ph_register(g, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);

	m = ph_msg("on_select", S.pbap, S.bpp);
	EXPECT_ACK(ph_app(S.px, "/bpp/on_select", ph_wire(m)), "client: "
	    "on_select from the BPP app");
	row = one_row(ph_fmt("message=%s", ph_ctx(m, "message_id")),
	    "on_select sent");
	expect_row(row, "on_select sent", "direction", "out", "participant",
	    "bpp.test", "role", "BPP", "peer", "peer.bap.test", "action",
	    "on_select", "http_status", "200", "ack", "ACK");

	m = ph_msg("search", S.bap, NULL);
	EXPECT_ACK(ph_app(S.px, "/bap/search", ph_wire(m)), "client: search "
	    "without bpp_uri");
	row = one_row(ph_fmt("message=%s", ph_ctx(m, "message_id")),
	    "search sent to the gateway");
	expect_row(row, "search sent to the gateway", "direction", "out",
	    "participant", "bap.test", "role", "BAP", "action", "search",
	    "http_status", "200", "ack", "ACK");
	peer = field(row, "peer");
	if (peer == NULL || strcmp(peer, g->sid) != 0)
		PH_FAIL("a search sent to %s: the journal's peer is %s",
		    g->sid, peer != NULL ? peer : "null");
}
END_TEST

/*
 * A gateway's search: an 'in' row as BG, without a delivery, and an 'out'
 * row per BPP it was forwarded to, with the BPP's answer.
 */
START_TEST(st_gateway_in)
{
	struct ph_party	*gw, *bap, *bpp;
	struct ph_stub	*s;
	json_object	*m;
	const char	*body;

	s = ph_stub("bpp");
	gw = ph_party("gw.local.test", "/gw");
	bap = ph_party("sender.bap.test", "/sbap");
	bpp = ph_party("a.bpp.test", "/a");
	snprintf(bpp->url, sizeof(bpp->url), "%s/a", ph_stub_url(s));
	ph_register(gw, "BG", PH_DOMAIN);
	ph_register(bap, "BAP", PH_DOMAIN);
	ph_register(bpp, "BPP", PH_DOMAIN);
	ph_registry_write();
	S.px = ph_proxy("gateway");
	ph_host(S.px, gw, "gateway", NULL, NULL);
	ph_store(S.px, NULL);
	ph_start(S.px);
	m = ph_msg("search", bap, NULL);
	body = ph_wire(m);
	EXPECT_ACK(ph_send(S.px, "/gw/search", body, bap), "search at the "
	    "gateway");
	ck_assert_int_eq(ph_stub_wait(s, 1, SLOW_MS), 1);
	expect_row(one_row(ph_fmt("message=%s&direction=in", ph_ctx(m,
	    "message_id")), "the gateway's search"), "the gateway's search",
	    "direction", "in", "participant", "gw.local.test", "role", "BG",
	    "peer", "sender.bap.test", "action", "search", "ack", "ACK",
	    "http_status", "200", "delivery", NULL, "body", body);
	expect_row(one_row(ph_fmt("message=%s&direction=out",
	    ph_ctx(m, "message_id")), "the gateway's forward"),
	    "the gateway's forward", "participant", "gw.local.test", "role",
	    "BG", "peer", "a.bpp.test", "action", "search", "ack", "ACK",
	    "http_status", "200", "body", body);
}
END_TEST

/* ==== the admin API ================================================ */

/* store_query_messages() on the file, as the API's filter reads query. */
static json_object *
direct_messages(const char *query)
{
	struct store_reader	*rd;
	struct store_filter	 f;
	json_object		*res;
	char			 err[512], *q = ph_fmt("%s", query);

	memset(&f, 0, sizeof(f));
	if (*q != '\0')
		ck_assert_int_eq(store_filter_parse_query(&f, q, err,
		    sizeof(err)), 0);
	rd = store_reader_open(ph_store_path(S.px), err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	res = store_query_messages(rd, &f, 0, err, sizeof(err));
	store_reader_close(rd);
	ck_assert_msg(res != NULL, "%s", err);
	return ph_keep_json(res);
}

START_TEST(st_admin_messages)
{
	static const char *const q[] = { "", "status=NACK",
	    "direction=in&action=select" };
	struct ph_proxy	*off;
	struct ph_call	*c;
	json_object	*m, *want;
	int		 port, i;

	world();
	ph_admin(S.px);
	ph_start(S.px);
	if ((port = ph_admin_port(S.px)) <= 0)
		PH_FAIL("listen.admin 127.0.0.1:0: port %d", port);
	m = req_msg("select");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "select");
	EXPECT_NACK(ph_send(S.px, "/bpp/init", ph_wire(init_invalid()),
	    S.sbap), 400, "30000", NULL, "init refused");
	one_row(ph_fmt("message=%s&status=delivered",
	    ph_ctx(m, "message_id")), "the select, delivered");
	one_row("status=NACK", "the refused init");
	for (i = 0; i < 3; i++) {
		c = ph_call(port, "GET", ph_fmt("/api/messages%s%s",
		    *q[i] != '\0' ? "?" : "", q[i]), NULL, 0, NULL);
		want = direct_messages(q[i]);
		if (c->status != 200 || c->json == NULL ||
		    !json_object_equal(c->json, want))
			PH_FAIL("GET /api/messages?%s: want %.400s, got %s",
			    q[i], json_object_to_json_string_ext(want,
			    STORE_JSON_FLAGS), ph_describe(c));
	}
	if (json_object_array_length(json_object_object_get(want,
	    "messages")) != 1)
		PH_FAIL("the API's filter shows %s",
		    json_object_to_json_string(want));

	/* store off: the API says so. */
	off = ph_proxy("off");
	ph_set(off, "listen.network", NULL);
	ph_set(off, "listen.client", NULL);
	ph_admin(off);
	ph_start(off);
	c = ph_call(ph_admin_port(off), "GET", "/api/messages", NULL, 0,
	    NULL);
	if (c->status != 404 || c->json == NULL || field(c->json, "error") ==
	    NULL || strstr(field(c->json, "error"), "store") == NULL)
		PH_FAIL("the admin API with store off: want 404 naming the "
		    "store, got %s", ph_describe(c));
}
END_TEST

/* ==== -t =========================================================== */

START_TEST(st_check_store)
{
	struct conf	*c;
	struct proxy	*px;
	sqlite3		*db;
	const char	*path;
	char		 err[1024];

	world();
	/* store off: nothing to check. */
	ph_set(S.px, "store.path", NULL);
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	ck_assert_int_eq(proxy_check_store(c, err, sizeof(err)), 0);
	conf_free(c);

	/* A file not yet there, in a writable folder: fine, not made. */
	path = ph_store(S.px, "new.db");
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	if (proxy_check_store(c, err, sizeof(err)) != 0)
		PH_FAIL("-t on a store to be created: %s", err);
	conf_free(c);
	if (access(path, F_OK) == 0 || errno != ENOENT)
		PH_FAIL("-t created %s", path);

	/* Another application's SQLite file: -t and the start refuse it. */
	path = ph_store(S.px, "foreign.db");
	db = db_open(path);
	db_exec(db, "CREATE TABLE notes(x TEXT)");
	sqlite3_close(db);
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	err[0] = '\0';
	if (proxy_check_store(c, err, sizeof(err)) != -1 ||
	    strstr(err, path) == NULL)
		PH_FAIL("-t on a foreign SQLite file: want -1 naming %s, got "
		    "\"%s\"", path, err);
	err[0] = '\0';
	if ((px = proxy_new(ph_base(), c, NULL, err, sizeof(err))) != NULL) {
		proxy_free(px);
		PH_FAIL("proxy_new on a foreign SQLite file started");
	}
	conf_free(c);
	if (strstr(err, path) == NULL)
		PH_FAIL("proxy_new on a foreign SQLite file: want the path in "
		    "\"%s\"", err);
}
END_TEST

/* ==== the suite ==================================================== */

static Suite *
proxy_store_suite(void)
{
	Suite	*s = suite_create("proxy-store");
	TCase	*t = tcase_create("store");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ?
	    300 : 30);
	suite_add_tcase(s, t);
	tcase_add_test(t, st_ack_after_commit);
	tcase_add_test(t, st_callback_bodies_none);
	tcase_add_loop_test(t, st_callback_odd_fulfillments, 0, 5);
	tcase_add_test(t, st_full_then_reload);
	tcase_add_test(t, st_restart);
	tcase_add_test(t, st_restart_lower_quota);
	tcase_add_test(t, st_nack_journalled);
	tcase_add_test(t, st_nack_no_context);
	tcase_add_test(t, st_delivery_outcomes);
	tcase_add_test(t, st_dead_redeliver);
	tcase_add_loop_test(t, st_out_rows, 0, 3);
	tcase_add_test(t, st_out_callback_and_search);
	tcase_add_test(t, st_gateway_in);
	tcase_add_test(t, st_admin_messages);
	tcase_add_test(t, st_check_store);
	return s;
}

int
main(void)
{
	/* Everything is on 127.0.0.1: never go through a proxy. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(proxy_store_suite());
}

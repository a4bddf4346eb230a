/*
 * check_deliver.c - the webhook delivery queues (src/deliver), in process.
 *
 * One event loop on 127.0.0.1: the queue under test and evhttp stub
 * webhooks on port 0, each deciding per request what to answer (a status,
 * or hold the request until the test ends).  Waits are real time and
 * bounded (run_until(); scaled under valgrind); max_age runs on a manual
 * clock the test moves.  Every test ends with end_all(): deliver_free()
 * and the memory budget back to 0 bytes, whatever the messages became.
 *
 *   headers      the X-Beckn-* headers and the Idempotency-Key; ids left
 *                out when unknown or unsafe (CR LF)
 *   idempotency  the same key on every retry (5xx, and an answer later
 *                than the timeout), a new key for every message
 *   statuses     2xx delivered; 3xx retried, never delivered; 4xx final;
 *                408 and 429 retried
 *   poison       a message answered 500 forever is a dead letter after
 *                max_attempts while the participant's other messages
 *                flow; redelivered with the same key
 *   max_age      a dead letter once an attempt fails max_age after the
 *                first (manual clock)
 *   limits       per-participant count and byte limits refuse only that
 *                participant; cancel gives the place back
 *   dead cap     the oldest dead letters dropped past the caps
 *   slow tenant  A's webhook holds every request; B's messages are
 *                delivered at once (the time is printed)
 *   budget       the bytes handed over come back on delivery, refusal,
 *                dead-letter drop, cancel and free
 *   journal      deliver_id() is the key sent; deliver_restore() sends
 *                the given key and body whatever the queue limits and
 *                charges the budget past its max; its attempts count
 *                toward max_attempts; the reporter sees every outcome;
 *                keep_dead 0 keeps no dead letter; the log lines say
 *                the journal keeps what is not delivered
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "testutil.h"
#include "deliver/deliver.h"
#include "util/budget.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define T0_MS		1772442900000LL
#define MAX_STUBS	4

struct rec {
	char	 uri[256];
	char	**hdr;		/* name, value, ... */
	size_t	 nhdr;
	char	*body;
	size_t	 len;
};

struct stub;
/* The status to answer rec (the stub's n-th request), 0: hold it. */
typedef int	(*decide_fn)(struct stub *, const struct rec *, int n);

struct stub {
	struct evhttp		*http;
	int			 port;
	char			 url[96];	/* webhook: .../hook/{action} */
	decide_fn		 decide;	/* NULL: status */
	int			 status;
	struct rec		**reqs;
	int			 n;
	struct evhttp_request	**held;
	int			 nheld;
};

static struct {
	struct event_base	*base;
	int64_t			 now_ms;
	struct clock		 clock;
	struct budget		 budget;
	struct deliver_stats	 st;
	struct deliver_conf	 conf;
	struct deliver		*d;
	struct stub		*stubs[MAX_STUBS];
	int			 nstubs;
} T;

#define under_valgrind()	test_under_valgrind()
#define tms(ms)			test_ms(ms)

#define mono_ms()		((double)clock_mono_ns() / 1e6)

/* Run the loop until cond(arg) or ms (real time, scaled); cond's value. */
static int
run_until(int (*cond)(void *), void *arg, int ms)
{
	return test_loop_until(T.base, cond, arg, tms(ms), 0);
}

static void
run_for(int ms)
{
	run_until(NULL, NULL, ms);
}

/* ---- stubs ----------------------------------------------------------- */

static void
reply(struct evhttp_request *req, int status)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add(b, "{}", 2);
	if (status >= 300 && status <= 399)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", "http://127.0.0.1:9/elsewhere");
	evhttp_send_reply(req, status, status < 300 ? "OK" : "No", b);
	evbuffer_free(b);
}

static void
stub_closecb(struct evhttp_connection *con, void *arg)
{
	struct stub	*s = arg;
	int		 i;

	for (i = 0; i < s->nheld; i++)
		if (evhttp_request_get_connection(s->held[i]) == con)
			s->held[i--] = s->held[--s->nheld];
}

static void
stub_handler(struct evhttp_request *req, void *arg)
{
	struct stub		*s = arg;
	struct rec		*r = xcalloc(1, sizeof(*r));
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evkeyval		*kv;
	int			 status;

	snprintf(r->uri, sizeof(r->uri), "%s", evhttp_request_get_uri(req));
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		r->hdr = xreallocarray(r->hdr, r->nhdr + 2, sizeof(*r->hdr));
		r->hdr[r->nhdr++] = xstrdup(kv->key);
		r->hdr[r->nhdr++] = xstrdup(kv->value);
	}
	r->len = evbuffer_get_length(in);
	r->body = xmalloc(r->len + 1);
	evbuffer_copyout(in, r->body, r->len);
	r->body[r->len] = '\0';
	s->reqs = xreallocarray(s->reqs, (size_t)s->n + 1, sizeof(*s->reqs));
	s->reqs[s->n++] = r;
	status = s->decide != NULL ? s->decide(s, r, s->n - 1) : s->status;
	if (status == 0) {
		s->held = xreallocarray(s->held, (size_t)s->nheld + 1,
		    sizeof(*s->held));
		s->held[s->nheld++] = req;
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(req), stub_closecb, s);
		return;
	}
	reply(req, status);
}

static struct stub *
stub_new(decide_fn decide, int status)
{
	struct stub			*s = xcalloc(1, sizeof(*s));
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 slen = sizeof(sin);

	ck_assert_int_lt(T.nstubs, MAX_STUBS);
	s->decide = decide;
	s->status = status;
	ck_assert_ptr_nonnull(s->http = evhttp_new(T.base));
	evhttp_set_gencb(s->http, stub_handler, s);
	bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &slen), 0);
	s->port = ntohs(sin.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/hook/{action}",
	    s->port);
	T.stubs[T.nstubs++] = s;
	return s;
}

static void
stub_free(struct stub *s)
{
	int	 i;
	size_t	 j;

	/* A held request whose client left is freed only by its reply. */
	while (s->nheld > 0)
		reply(s->held[--s->nheld], 503);
	evhttp_free(s->http);
	for (i = 0; i < s->n; i++) {
		for (j = 0; j < s->reqs[i]->nhdr; j++)
			free(s->reqs[i]->hdr[j]);
		free(s->reqs[i]->hdr);
		free(s->reqs[i]->body);
		free(s->reqs[i]);
	}
	free(s->reqs);
	free(s->held);
	free(s);
}

static const char *
hdr(const struct rec *r, const char *name)
{
	size_t	 i;

	for (i = 0; i + 1 < r->nhdr; i += 2)
		if (strcasecmp(r->hdr[i], name) == 0)
			return r->hdr[i + 1];
	return NULL;
}

struct want {
	struct stub	*s;
	int		 n;
};

static int
stub_has(void *arg)
{
	struct want	*w = arg;

	return w->s->n >= w->n;
}

/* Run until s has n requests (or ms); its count. */
static int
stub_wait(struct stub *s, int n, int ms)
{
	struct want	 w = { s, n };

	run_until(stub_has, &w, ms);
	return s->n;
}

/* Requests to s whose body is body. */
static int
stub_count_body(const struct stub *s, const char *body)
{
	int	 i, c = 0;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->reqs[i]->body, body) == 0)
			c++;
	return c;
}

/* ---- the queue ------------------------------------------------------- */

static void
conf_default(struct deliver_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 2000;
	c->backoff_ms = 10;
	c->backoff_max_ms = 40;
	c->queue_size = 100;
	c->queue_bytes = 1 << 20;
	c->max_inflight = 8;
	c->dead_max = 100;
	c->dead_bytes = 1 << 20;
	c->max_age_ms = 24LL * 3600 * 1000;
	c->http.connect_timeout_ms = 2000;
}

static void
start_queue(void)
{
	T.d = deliver_new(T.base, &T.conf, &T.st, &T.budget, &T.clock);
}

/*
 * Queue body for participant p at stub s, as the proxy does: the HTTP
 * server charged the body on the budget, deliver_start() takes the
 * charge over.  0, or -1 when the participant's queue refused it.
 */
static int
send_msg(const char *p, struct stub *s, const char *action, const char *mid,
    const char *body)
{
	struct deliver_msg	 m;
	struct delivery		*dl;
	char			 tid[64];
	size_t			 len = strlen(body);

	snprintf(tid, sizeof(tid), "t-%s", mid != NULL ? mid : "none");
	memset(&m, 0, sizeof(m));
	m.participant = p;
	m.webhook = s->url;
	m.action = action;
	m.sender = "bap.example.org";
	m.message_id = mid;
	m.transaction_id = mid != NULL ? tid : NULL;
	m.len = len;
	if ((dl = deliver_prepare(T.d, &m)) == NULL)
		return -1;
	ck_assert_int_eq(budget_take(&T.budget, len), 0);
	deliver_start(dl, xstrdup(body), len);
	return 0;
}

struct stat_want {
	const uint64_t	*v;
	uint64_t	 n;
};

static int
stat_has(void *arg)
{
	struct stat_want	*w = arg;

	return *w->v >= w->n;
}

/* Run until the counter reaches n (or ms); 1 when it did. */
static int
wait_stat(const uint64_t *v, uint64_t n, int ms)
{
	struct stat_want	 w = { v, n };

	return run_until(stat_has, &w, ms);
}

static int
queue_idle(void *arg)
{
	return deliver_pending(T.d) == 0;
}

/* Free the queue: every byte handed over must be back. */
static void
end_all(void)
{
	deliver_free(T.d);
	T.d = NULL;
	ck_assert_msg(T.budget.used == 0, "%zu budget bytes still held after "
	    "deliver_free()", T.budget.used);
}

static void
setup(void)
{
	alarm(under_valgrind() ? 300 : 30);
	if (getenv("BECKND_TEST_VERBOSE") == NULL)
		log_set_level(LOG_LVL_ERROR);
	memset(&T, 0, sizeof(T));
	T.now_ms = T0_MS;
	T.clock.now_ms = clock_manual_now_ms;
	T.clock.arg = &T.now_ms;
	budget_init(&T.budget, 1 << 30);
	conf_default(&T.conf);
	ck_assert_ptr_nonnull(T.base = event_base_new());
}

static void
teardown(void)
{
	int	 i;

	deliver_free(T.d);	/* first: it cancels its transfers */
	for (i = 0; i < T.nstubs; i++)
		stub_free(T.stubs[i]);
	event_base_free(T.base);
	alarm(0);
}

/* ---- decisions ------------------------------------------------------- */

/* 500 to a body holding "poison", 200 to the rest. */
static int
poison_500(struct stub *s, const struct rec *r, int n)
{
	return strstr(r->body, "poison") != NULL ? 500 : 200;
}

/* 500, 500, then 200. */
static int
fail_twice(struct stub *s, const struct rec *r, int n)
{
	return n < 2 ? 500 : 200;
}

/* Hold the first request (answered after the timeout), then 200. */
static int
late_first(struct stub *s, const struct rec *r, int n)
{
	return n == 0 ? 0 : 200;
}

/* 302 twice, then 200. */
static int
redirect_twice(struct stub *s, const struct rec *r, int n)
{
	return n < 2 ? 302 : 200;
}

/* ---- tests ----------------------------------------------------------- */

static int
is_uuid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

START_TEST(headers)
{
	struct stub	*s = stub_new(NULL, 200);
	const char	*b1 = "{\"context\":{\"action\":\"on_search\"},"
			    "\"n\":1}";
	const struct rec *r;
	const char	*k1;
	int		 i;

	start_queue();
	ck_assert_int_eq(send_msg("bap.example.org", s, "on_search", "m-1",
	    b1), 0);
	ck_assert_int_eq(send_msg("bap.example.org", s, "on_select", NULL,
	    "{\"n\":2}"), 0);
	ck_assert_int_eq(send_msg("bap.example.org", s, "on_init",
	    "m-3\r\nX-Evil: 1", "{\"n\":3}"), 0);
	ck_assert_msg(wait_stat(&T.st.delivered, 3, 3000), "delivered %llu "
	    "of 3", (unsigned long long)T.st.delivered);
	ck_assert_int_eq(s->n, 3);

	r = NULL;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->reqs[i]->body, b1) == 0)
			r = s->reqs[i];
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->uri, "/hook/on_search");
	ck_assert_str_eq(hdr(r, "Content-Type"), "application/json");
	ck_assert_str_eq(hdr(r, "X-Beckn-Sender"), "bap.example.org");
	ck_assert_str_eq(hdr(r, "X-Beckn-Action"), "on_search");
	ck_assert_str_eq(hdr(r, "X-Beckn-Message-Id"), "m-1");
	ck_assert_str_eq(hdr(r, "X-Beckn-Transaction-Id"), "t-m-1");
	k1 = hdr(r, "Idempotency-Key");
	ck_assert_msg(is_uuid(k1), "Idempotency-Key %s is not a UUID",
	    k1 != NULL ? k1 : "(none)");

	for (i = 0; i < s->n; i++) {
		r = s->reqs[i];
		ck_assert_msg(is_uuid(hdr(r, "Idempotency-Key")), "no key");
		ck_assert_ptr_nonnull(hdr(r, "X-Beckn-Action"));
		ck_assert_ptr_null(hdr(r, "X-Evil"));
		if (strcmp(r->body, b1) != 0) {
			/* Unknown or unsafe ids are left out. */
			ck_assert_ptr_null(hdr(r, "X-Beckn-Message-Id"));
			ck_assert_ptr_null(hdr(r, "X-Beckn-Transaction-Id"));
			ck_assert_str_ne(hdr(r, "Idempotency-Key"), k1);
		}
	}
	ck_assert_str_ne(hdr(s->reqs[1], "Idempotency-Key"),
	    hdr(s->reqs[2], "Idempotency-Key"));
	end_all();
}
END_TEST

/* Every attempt of one message carries the same key: 5xx, then late. */
static const decide_fn retry_kinds[] = { fail_twice, late_first };

START_TEST(idempotency_retries)
{
	struct stub	*s = stub_new(retry_kinds[_i], 0);
	int		 want = _i == 0 ? 3 : 2, i;

	T.conf.timeout_ms = 300;	/* late_first answers after it */
	start_queue();
	ck_assert_int_eq(send_msg("bpp.example.org", s, "select", "m-1",
	    "{\"a\":1}"), 0);
	ck_assert_msg(wait_stat(&T.st.delivered, 1, 5000), "not delivered "
	    "after %d requests", s->n);
	ck_assert_int_eq(s->n, want);
	for (i = 1; i < s->n; i++)
		ck_assert_str_eq(hdr(s->reqs[i], "Idempotency-Key"),
		    hdr(s->reqs[0], "Idempotency-Key"));
	printf("idempotency: %s: %d attempts, one Idempotency-Key %s\n",
	    _i == 0 ? "500, 500, 200" : "answer after the timeout, 200",
	    s->n, hdr(s->reqs[0], "Idempotency-Key"));
	ck_assert_uint_eq(T.st.retries, (uint64_t)want - 1);
	/* A second message: a different key. */
	ck_assert_int_eq(send_msg("bpp.example.org", s, "select", "m-2",
	    "{\"a\":2}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 2, 3000));
	ck_assert_str_ne(hdr(s->reqs[s->n - 1], "Idempotency-Key"),
	    hdr(s->reqs[0], "Idempotency-Key"));
	end_all();
}
END_TEST

/* 302 is a failure to retry, never a delivery. */
START_TEST(redirect_retried)
{
	struct stub	*s = stub_new(redirect_twice, 0);
	struct stub	*s2 = stub_new(NULL, 302);

	T.conf.max_attempts = 3;
	start_queue();
	ck_assert_int_eq(send_msg("p", s, "on_status", "m-1", "{}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 1, 3000));
	ck_assert_int_eq(s->n, 3);
	ck_assert_uint_eq(T.st.retries, 2);
	/* Always 302: dead after max_attempts, never delivered. */
	ck_assert_int_eq(send_msg("q", s2, "on_status", "m-2", "{}"), 0);
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	ck_assert_int_eq(s2->n, 3);
	ck_assert_uint_eq(T.st.delivered, 1);
	ck_assert_uint_eq(T.st.refused, 0);
	end_all();
}
END_TEST

/* 4xx is final; 408 and 429 are retried. */
static const int statuses[][2] = {
	{ 400, 1 }, { 404, 1 }, { 422, 1 }, { 408, 3 }, { 429, 3 },
	{ 500, 3 }, { 503, 3 }, { 301, 3 }, { 204, 1 },
};

START_TEST(status_classes)
{
	struct stub	*s = stub_new(NULL, statuses[_i][0]);
	int		 st = statuses[_i][0], want = statuses[_i][1];

	T.conf.max_attempts = 3;
	start_queue();
	ck_assert_int_eq(send_msg("p", s, "search", "m-1", "{}"), 0);
	ck_assert(run_until(queue_idle, NULL, 3000));
	run_for(60);
	ck_assert_msg(s->n == want, "HTTP %d: %d attempts, want %d", st,
	    s->n, want);
	ck_assert_uint_eq(T.st.delivered, st < 300 ? 1 : 0);
	ck_assert_uint_eq(T.st.refused, want == 1 && st >= 400 ? 1 : 0);
	ck_assert_uint_eq(T.st.dead, want == 3 ? 1 : 0);
	end_all();
}
END_TEST

struct found {
	const char	*body;
	char		 id[64];
	char		 reason[128];
	int		 attempts;
	int		 n;
	int64_t		 first_ms, dead_ms;
};

static int
find_letter(const struct deliver_letter *l, void *arg)
{
	struct found	*f = arg;

	f->n++;
	if (f->body != NULL && (l->len != strlen(f->body) ||
	    memcmp(l->body, f->body, l->len) != 0))
		return 0;
	snprintf(f->id, sizeof(f->id), "%s", l->id);
	snprintf(f->reason, sizeof(f->reason), "%s", l->reason);
	f->attempts = l->attempts;
	f->first_ms = l->first_ms;
	f->dead_ms = l->dead_ms;
	return 0;
}

/*
 * A poison message (500 forever) is a dead letter after max_attempts;
 * the participant's other messages flow meanwhile, through a queue of 4
 * that the poison message would otherwise have held a place of.
 */
START_TEST(poison)
{
	struct stub	*s = stub_new(poison_500, 0);
	const char	*pb = "{\"poison\":true}";
	char		 body[64];
	struct found	 f;
	int		 sent = 0, i;
	size_t		 bytes;

	T.conf.max_attempts = 4;
	T.conf.queue_size = 4;
	T.conf.backoff_ms = 30;
	T.conf.backoff_max_ms = 60;
	start_queue();
	ck_assert_int_eq(send_msg("bpp", s, "confirm", "poison-1", pb), 0);
	while (sent < 30) {
		snprintf(body, sizeof(body), "{\"n\":%d}", sent);
		if (send_msg("bpp", s, "confirm", NULL, body) == 0)
			sent++;
		else
			event_base_loop(T.base, EVLOOP_ONCE);
	}
	ck_assert_msg(wait_stat(&T.st.delivered, 30, 5000), "delivered %llu "
	    "of 30 next to the poison message",
	    (unsigned long long)T.st.delivered);
	ck_assert_msg(wait_stat(&T.st.dead, 1, 5000), "no dead letter");
	ck_assert_int_eq(stub_count_body(s, pb), 4);
	printf("poison: 30 messages delivered next to a message answered 500, "
	    "dead-lettered after %d attempts; %llu refused prepares\n",
	    stub_count_body(s, pb), (unsigned long long)T.st.full);
	ck_assert_uint_eq(deliver_dead_count(T.d, &bytes), 1);
	ck_assert_uint_eq(bytes, strlen(pb));
	ck_assert_uint_eq(deliver_pending(T.d), 0);
	/* Its charge is still held: the body is kept. */
	ck_assert_uint_eq(T.budget.used, strlen(pb));

	memset(&f, 0, sizeof(f));
	f.body = pb;
	ck_assert_int_eq(deliver_dead_foreach(T.d, find_letter, &f), 0);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.attempts, 4);
	ck_assert_str_eq(f.reason, "HTTP 500");
	for (i = 0; i < s->n; i++)
		if (strcmp(s->reqs[i]->body, pb) == 0)
			ck_assert_str_eq(hdr(s->reqs[i], "Idempotency-Key"),
			    f.id);

	/* Redelivered once the app is fixed: the same key, delivered. */
	ck_assert_int_eq(deliver_redeliver(T.d, "no-such-id"),
	    DELIVER_UNKNOWN);
	s->decide = NULL;
	s->status = 200;
	ck_assert_int_eq(deliver_redeliver(T.d, f.id), DELIVER_REQUEUED);
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 0);
	ck_assert(wait_stat(&T.st.delivered, 31, 3000));
	ck_assert_str_eq(hdr(s->reqs[s->n - 1], "Idempotency-Key"), f.id);
	ck_assert_str_eq(s->reqs[s->n - 1]->body, pb);
	ck_assert_uint_eq(T.st.redelivered, 1);
	ck_assert_int_eq(deliver_redeliver(T.d, f.id), DELIVER_UNKNOWN);
	ck_assert_uint_eq(T.budget.used, 0);
	end_all();
}
END_TEST

/* delivery.retries N (the older key): N + 1 attempts, then dead. */
START_TEST(retries_compat)
{
	struct stub	*s = stub_new(NULL, 503);

	T.conf.retries = 1;
	T.conf.max_attempts = 5;	/* the lower limit applies */
	start_queue();
	ck_assert_int_eq(send_msg("p", s, "search", "m", "{}"), 0);
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	run_for(60);
	ck_assert_int_eq(s->n, 2);
	end_all();
}
END_TEST

/* An attempt failing max_age after the first one makes a dead letter. */
START_TEST(max_age)
{
	struct stub	*s = stub_new(NULL, 500);
	struct found	 f;

	T.conf.max_age_ms = 60000;
	start_queue();
	ck_assert_int_eq(send_msg("p", s, "search", "m", "{\"x\":1}"), 0);
	ck_assert_int_eq(stub_wait(s, 4, 3000), 4);
	ck_assert_uint_eq(T.st.dead, 0);
	T.now_ms += 60000;
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	run_for(60);
	memset(&f, 0, sizeof(f));
	deliver_dead_foreach(T.d, find_letter, &f);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.attempts, s->n);
	ck_assert_int_eq(f.first_ms, T0_MS);
	ck_assert_int_eq(f.dead_ms, T0_MS + 60000);
	printf("max_age: dead letter after %d attempts, 60 s (manual clock) "
	    "after the first\n", f.attempts);
	end_all();
}
END_TEST

/* Count and byte limits are per participant; cancel frees the place. */
START_TEST(limits_isolate)
{
	struct stub		*a = stub_new(NULL, 0);	/* holds */
	struct stub		*b = stub_new(NULL, 200);
	struct deliver_msg	 m;
	struct delivery		*dl;
	char			 big[700];
	size_t			 bytes;
	int			 i;

	T.conf.queue_size = 3;
	T.conf.queue_bytes = 1000;
	start_queue();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("A", a, "search", NULL, "{}"), 0);
	ck_assert_int_eq(send_msg("A", a, "search", NULL, "{}"), -1);
	ck_assert_uint_eq(T.st.full, 1);
	/* B is not affected. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("B", b, "search", NULL, "{}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 3, 3000));
	ck_assert_uint_eq(deliver_pending_of(T.d, "A", &bytes), 3);
	ck_assert_uint_eq(bytes, 6);

	/* Bytes: 700 fits next to 6 held; another 700 does not. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	ck_assert_int_eq(send_msg("C", a, "search", NULL, big), 0);
	ck_assert_int_eq(send_msg("C", a, "search", NULL, big), -1);
	ck_assert_int_eq(send_msg("B", b, "search", NULL, big), 0);

	/* A prepared place given back lets the next one in. */
	memset(&m, 0, sizeof(m));
	m.participant = "C";
	m.webhook = a->url;
	m.action = "search";
	m.sender = "s";
	m.len = 200;
	ck_assert_ptr_nonnull(dl = deliver_prepare(T.d, &m));
	m.len = 200;
	ck_assert_ptr_null(deliver_prepare(T.d, &m));
	deliver_cancel(dl);
	ck_assert_ptr_nonnull(dl = deliver_prepare(T.d, &m));
	deliver_cancel(dl);
	deliver_cancel(NULL);

	/* Larger than queue_bytes: taken when the participant is empty. */
	{
		char	*huge = xmalloc(3000);

		memset(huge, ' ', 2999);
		huge[2999] = '\0';
		ck_assert_int_eq(send_msg("D", b, "search", NULL, huge), 0);
		ck_assert_int_eq(send_msg("D", b, "search", NULL, "{}"), -1);
		free(huge);
	}
	ck_assert(wait_stat(&T.st.delivered, 5, 3000));
	ck_assert_uint_eq(deliver_pending_of(T.d, "D", NULL), 0);
	ck_assert_uint_eq(deliver_pending_of(T.d, "A", NULL), 3);
	/* Messages held at A, in flight, are given back by free. */
	end_all();
}
END_TEST

/* Past the caps the oldest dead letters are dropped (and given back). */
START_TEST(dead_cap)
{
	struct stub	*s = stub_new(NULL, 500);
	struct found	 f;
	char		 body[32];
	int		 i;

	T.conf.max_attempts = 1;
	T.conf.dead_max = 2;
	T.conf.dead_bytes = 100;
	start_queue();
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"dead\":%d}", i);
		ck_assert_int_eq(send_msg("p", s, "search", NULL, body), 0);
		ck_assert(wait_stat(&T.st.dead, (uint64_t)i + 1, 3000));
	}
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 2);
	ck_assert_uint_eq(T.st.dropped, 1);
	memset(&f, 0, sizeof(f));
	f.body = "{\"dead\":0}";
	deliver_dead_foreach(T.d, find_letter, &f);
	ck_assert_str_eq(f.id, "");	/* the oldest went */
	ck_assert_uint_eq(T.budget.used, 2 * strlen("{\"dead\":0}"));

	/* The byte cap: one large dead letter pushes both out. */
	{
		char	big[96];

		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_int_eq(send_msg("p", s, "search", NULL, big), 0);
		ck_assert(wait_stat(&T.st.dead, 4, 3000));
		ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 1);
		ck_assert_uint_eq(T.st.dropped, 3);
		ck_assert_uint_eq(T.budget.used, strlen(big));
	}
	/* A smaller cap on reload drops at once; 0 keeps none. */
	T.conf.dead_max = 0;
	deliver_reconfigure(T.d, &T.conf);
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 0);
	ck_assert_uint_eq(T.budget.used, 0);
	end_all();
}
END_TEST

static int
b_done(void *arg)
{
	return T.st.delivered >= 20;
}

/*
 * A's webhook holds every request; B's 20 messages are delivered at
 * once: A's slice of connections is full, B's is its own.
 */
START_TEST(slow_tenant)
{
	struct stub	*a = stub_new(NULL, 0);
	struct stub	*b = stub_new(NULL, 200);
	double		 t0, ms;
	int		 i;

	T.conf.timeout_ms = 20000;
	T.conf.max_inflight = 4;
	start_queue();
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(send_msg("A", a, "on_search", NULL, "{}"), 0);
	ck_assert_int_eq(stub_wait(a, 4, 3000), 4);
	run_for(50);
	ck_assert_int_eq(a->n, 4);	/* max_inflight: the rest wait */
	t0 = mono_ms();
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(send_msg("B", b, "on_search", NULL, "{}"), 0);
	ck_assert(run_until(b_done, NULL, 3000));
	ms = mono_ms() - t0;
	printf("slow tenant: A's webhook holds %d requests, %zu of A's "
	    "messages queued; B's 20 messages delivered in %.1f ms; %zu "
	    "slices\n", a->nheld, deliver_pending_of(T.d, "A", NULL), ms,
	    deliver_slices(T.d));
	ck_assert_msg(ms < tms(1000), "B took %.1f ms behind A", ms);
	ck_assert_uint_eq(deliver_slices(T.d), 2);
	ck_assert_uint_eq(deliver_pending_of(T.d, "A", NULL), 40);
	end_all();
}
END_TEST

/* A participant's slice is freed once it held nothing for idle_ms. */
START_TEST(idle_slice)
{
	struct stub	*s = stub_new(NULL, 200);

	T.conf.idle_ms = 50;
	start_queue();
	ck_assert_uint_eq(deliver_slices(T.d), 0);
	ck_assert_int_eq(send_msg("p", s, "search", NULL, "{}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 1, 3000));
	ck_assert_uint_eq(deliver_slices(T.d), 1);
	run_for(200);
	ck_assert_uint_eq(deliver_slices(T.d), 0);
	ck_assert_int_eq(send_msg("p", s, "search", NULL, "{}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 2, 3000));
	end_all();
}
END_TEST

/*
 * The budget: every state a body can be in when deliver_free() runs --
 * in flight, waiting for a retry, a dead letter -- and a prepared place
 * cancelled: all bytes come back (end_all()).
 */
START_TEST(budget_free)
{
	struct stub		*hold = stub_new(NULL, 0);
	struct stub		*fail = stub_new(NULL, 500);
	struct deliver_msg	 m;
	struct delivery		*dl;

	T.conf.backoff_ms = 10000;
	T.conf.backoff_max_ms = 10000;
	start_queue();
	ck_assert_int_eq(send_msg("a", hold, "search", NULL, "{\"h\":1}"), 0);
	ck_assert_int_eq(send_msg("b", fail, "search", NULL, "{\"w\":1}"), 0);
	ck_assert(wait_stat(&T.st.retries, 1, 3000));
	T.conf.max_attempts = 1;
	deliver_reconfigure(T.d, &T.conf);
	ck_assert_int_eq(send_msg("c", fail, "search", NULL, "{\"d\":1}"), 0);
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	ck_assert_int_eq(stub_wait(hold, 1, 3000), 1);
	memset(&m, 0, sizeof(m));
	m.participant = "d";
	m.webhook = hold->url;
	m.action = "search";
	m.sender = "s";
	m.len = 10;
	ck_assert_ptr_nonnull(dl = deliver_prepare(T.d, &m));
	ck_assert_uint_eq(T.budget.used, 21);
	ck_assert_uint_eq(deliver_pending(T.d), 3);
	(void)dl;	/* freed by deliver_free() */
	end_all();
}
END_TEST

/* ---- the journal: ids, restore, reports ------------------------------ */

#define MAX_REPORTS	16

struct seen {
	char			 id[128];
	char			 participant[64];
	char			 action[32];
	enum deliver_outcome	 outcome;
	int			 attempts;
	int			 status;
	char			 reason[128];	/* "" for NULL */
	int			 null_reason;
};

static struct {
	struct seen	 r[MAX_REPORTS];
	int		 n;
} R;

static void
reporter(const struct deliver_report *rep, void *arg)
{
	struct seen	*s;

	ck_assert_ptr_eq(arg, &R);
	ck_assert_int_lt(R.n, MAX_REPORTS);
	s = &R.r[R.n++];
	snprintf(s->id, sizeof(s->id), "%s", rep->id);
	snprintf(s->participant, sizeof(s->participant), "%s",
	    rep->participant);
	snprintf(s->action, sizeof(s->action), "%s", rep->action);
	s->outcome = rep->outcome;
	s->attempts = rep->attempts;
	s->status = rep->status;
	s->null_reason = rep->reason == NULL;
	snprintf(s->reason, sizeof(s->reason), "%s",
	    rep->reason != NULL ? rep->reason : "");
}

static void
msg_for(struct deliver_msg *m, const char *p, struct stub *s,
    const char *action, const char *mid)
{
	memset(m, 0, sizeof(*m));
	m->participant = p;
	m->webhook = s->url;
	m->action = action;
	m->sender = "bap.example.org";
	m->message_id = mid;
	m->transaction_id = mid != NULL ? "t-1" : NULL;
	m->len = 12345;		/* ignored by deliver_restore() */
}

/* What the journal gives back: a malloc'd copy of body. */
static void
restore(const char *p, struct stub *s, const char *id, int attempts,
    const char *body)
{
	struct deliver_msg	 m;

	msg_for(&m, p, s, "on_confirm", "m-r");
	deliver_restore(T.d, &m, id, attempts, xstrdup(body), strlen(body));
}

/* A port on 127.0.0.1 nothing listens on: connection refused. */
static int
closed_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	int			 fd, port;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* deliver_id(): stable, and the Idempotency-Key every attempt carries. */
START_TEST(id_is_the_key)
{
	struct stub		*s = stub_new(fail_twice, 0);
	struct deliver_msg	 m;
	struct delivery		*dl, *dl2;
	char			 id[64], id2[64];
	int			 i;

	start_queue();
	msg_for(&m, "bpp", s, "select", "m-1");
	m.len = 7;
	ck_assert_ptr_nonnull(dl = deliver_prepare(T.d, &m));
	ck_assert_ptr_eq(deliver_id(dl), deliver_id(dl));
	ck_assert_msg(is_uuid(deliver_id(dl)), "id %s", deliver_id(dl));
	snprintf(id, sizeof(id), "%s", deliver_id(dl));
	ck_assert_ptr_nonnull(dl2 = deliver_prepare(T.d, &m));
	snprintf(id2, sizeof(id2), "%s", deliver_id(dl2));
	ck_assert_str_ne(id, id2);
	deliver_cancel(dl2);
	ck_assert_int_eq(budget_take(&T.budget, 7), 0);
	deliver_start(dl, xstrdup("{\"a\":1}"), 7);
	ck_assert(wait_stat(&T.st.delivered, 1, 3000));
	ck_assert_int_eq(s->n, 3);
	for (i = 0; i < s->n; i++)
		ck_assert_str_eq(hdr(s->reqs[i], "Idempotency-Key"), id);
	end_all();
}
END_TEST

/*
 * deliver_restore(): the given key and the exact body, whatever the
 * participant's limits (count and bytes) and the budget's max.
 */
START_TEST(restore_sends_key)
{
	struct stub	*hold = stub_new(NULL, 0);
	struct stub	*ok = stub_new(NULL, 200);
	const char	*id = "journal-key-longer-than-a-uuid-0123456789abcdef";
	const char	*body = "{\"context\":{\"action\":\"on_confirm\"}}";
	const struct rec *r;
	size_t		 bytes;
	int		 i;

	T.conf.queue_size = 2;
	T.conf.queue_bytes = 10;
	start_queue();
	ck_assert_int_eq(send_msg("A", hold, "search", NULL, "{}"), 0);
	ck_assert_int_eq(send_msg("A", hold, "search", NULL, "{}"), 0);
	ck_assert_int_eq(send_msg("A", hold, "search", NULL, "{}"), -1);
	/* Full: restored all the same, and sent. */
	restore("A", ok, id, 0, body);
	ck_assert_uint_eq(deliver_pending_of(T.d, "A", &bytes), 3);
	ck_assert_uint_eq(bytes, 4 + strlen(body));
	ck_assert_uint_eq(T.budget.used, 4 + strlen(body));
	ck_assert(wait_stat(&T.st.delivered, 1, 3000));
	ck_assert_int_eq(ok->n, 1);
	r = ok->reqs[0];
	ck_assert_str_eq(r->body, body);
	ck_assert_uint_eq(r->len, strlen(body));
	ck_assert_str_eq(r->uri, "/hook/on_confirm");
	ck_assert_str_eq(hdr(r, "Idempotency-Key"), id);
	ck_assert_str_eq(hdr(r, "X-Beckn-Message-Id"), "m-r");
	ck_assert_str_eq(hdr(r, "X-Beckn-Sender"), "bap.example.org");
	ck_assert_uint_eq(T.budget.used, 4);

	/* Over the limits while held: new messages are refused. */
	for (i = 0; i < 3; i++)
		restore("A", hold, "k", 0, body);
	ck_assert_uint_eq(deliver_pending_of(T.d, "A", NULL), 5);
	ck_assert_int_eq(stub_wait(hold, 5, 3000), 5);
	ck_assert_int_eq(send_msg("A", hold, "search", NULL, "{}"), -1);
	ck_assert_int_eq(send_msg("B", ok, "search", NULL, "{}"), 0);

	/* The budget goes past its max; takes are refused meanwhile. */
	budget_set_max(&T.budget, 10);
	restore("C", hold, NULL, 0, body);
	ck_assert_uint_ge(T.budget.used, 4 + 4 * strlen(body));
	ck_assert_int_eq(budget_take(&T.budget, 1), -1);
	ck_assert_int_eq(stub_wait(hold, 6, 3000), 6);
	/* No id: a new one. */
	ck_assert(is_uuid(hdr(hold->reqs[5], "Idempotency-Key")));
	/* An empty body: NULL with len 0. */
	{
		struct deliver_msg	 m;

		msg_for(&m, "D", ok, "on_status", NULL);
		deliver_restore(T.d, &m, "empty", 0, NULL, 0);
	}
	ck_assert(wait_stat(&T.st.delivered, 3, 3000));
	ck_assert_str_eq(ok->reqs[ok->n - 1]->body, "");
	ck_assert_str_eq(hdr(ok->reqs[ok->n - 1], "Idempotency-Key"),
	    "empty");
	end_all();	/* every forced byte given back */
}
END_TEST

/* A failure, then 2xx: RETRY then DELIVERED. */
static int
fail_once_503(struct stub *s, const struct rec *r, int n)
{
	return n == 0 ? 503 : 200;
}

START_TEST(report_retry_delivered)
{
	struct stub	*s = stub_new(fail_once_503, 0);

	memset(&R, 0, sizeof(R));
	start_queue();
	deliver_set_reporter(T.d, reporter, &R, 0);
	ck_assert_int_eq(send_msg("bap", s, "on_search", "m-1", "{}"), 0);
	ck_assert(wait_stat(&T.st.delivered, 1, 3000));
	ck_assert_int_eq(R.n, 2);
	ck_assert_int_eq(R.r[0].outcome, DELIVER_RETRY);
	ck_assert_int_eq(R.r[0].attempts, 1);
	ck_assert_int_eq(R.r[0].status, 503);
	ck_assert_str_eq(R.r[0].reason, "HTTP 503");
	ck_assert_int_eq(R.r[1].outcome, DELIVER_DELIVERED);
	ck_assert_int_eq(R.r[1].attempts, 2);
	ck_assert_int_eq(R.r[1].status, 200);
	ck_assert(R.r[1].null_reason);
	ck_assert_str_eq(R.r[0].id, hdr(s->reqs[0], "Idempotency-Key"));
	ck_assert_str_eq(R.r[1].id, R.r[0].id);
	ck_assert_str_eq(R.r[1].participant, "bap");
	ck_assert_str_eq(R.r[1].action, "on_search");
	end_all();
}
END_TEST

/* A final 4xx: REFUSED, once. */
START_TEST(report_refused)
{
	struct stub	*s = stub_new(NULL, 400);

	memset(&R, 0, sizeof(R));
	start_queue();
	deliver_set_reporter(T.d, reporter, &R, 0);
	ck_assert_int_eq(send_msg("bap", s, "on_init", "m-1", "{}"), 0);
	ck_assert(wait_stat(&T.st.refused, 1, 3000));
	run_for(30);
	ck_assert_int_eq(R.n, 1);
	ck_assert_int_eq(R.r[0].outcome, DELIVER_REFUSED);
	ck_assert_int_eq(R.r[0].attempts, 1);
	ck_assert_int_eq(R.r[0].status, 400);
	ck_assert_str_eq(R.r[0].reason, "HTTP 400");
	ck_assert_uint_eq(T.budget.used, 0);
	end_all();
}
END_TEST

/*
 * keep_dead 0: a dead letter is reported and freed -- none kept, the
 * budget back at 0, still counted -- for an HTTP failure and for a
 * connection refused (status 0).
 */
START_TEST(report_dead_not_kept)
{
	struct stub	*s = stub_new(NULL, 500);
	struct stub	 gone;

	memset(&R, 0, sizeof(R));
	T.conf.max_attempts = 2;
	start_queue();
	deliver_set_reporter(T.d, reporter, &R, 0);
	ck_assert_int_eq(send_msg("bap", s, "on_init", "m-1", "{\"d\":1}"),
	    0);
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	ck_assert_int_eq(R.n, 2);
	ck_assert_int_eq(R.r[0].outcome, DELIVER_RETRY);
	ck_assert_int_eq(R.r[1].outcome, DELIVER_DEAD);
	ck_assert_int_eq(R.r[1].attempts, 2);
	ck_assert_int_eq(R.r[1].status, 500);
	ck_assert_str_eq(R.r[1].reason, "HTTP 500");
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 0);
	ck_assert_uint_eq(deliver_pending(T.d), 0);
	ck_assert_uint_eq(T.budget.used, 0);
	ck_assert_int_eq(deliver_redeliver(T.d, R.r[1].id), DELIVER_UNKNOWN);

	/* No answer at all: status 0, the reason says why. */
	memset(&gone, 0, sizeof(gone));
	snprintf(gone.url, sizeof(gone.url), "http://127.0.0.1:%d/hook",
	    closed_port());
	T.conf.max_attempts = 1;
	deliver_reconfigure(T.d, &T.conf);
	restore("bap", &gone, "gone-1", 0, "{\"g\":1}");
	ck_assert(wait_stat(&T.st.dead, 2, 3000));
	ck_assert_int_eq(R.n, 3);
	ck_assert_int_eq(R.r[2].outcome, DELIVER_DEAD);
	ck_assert_str_eq(R.r[2].id, "gone-1");
	ck_assert_int_eq(R.r[2].status, 0);
	ck_assert_msg(R.r[2].reason[0] != '\0' && !R.r[2].null_reason,
	    "no reason");
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 0);
	ck_assert_uint_eq(T.budget.used, 0);
	ck_assert_uint_eq(T.st.dead, 2);
	end_all();
}
END_TEST

/*
 * Restored attempts count toward max_attempts (one more failure and it
 * is dead; past the limit it is still tried once); max_age counts from
 * the first attempt after the restore.  keep_dead 1: kept and reported.
 */
START_TEST(restore_attempts)
{
	struct stub	*s = stub_new(NULL, 500);
	struct found	 f;

	memset(&R, 0, sizeof(R));
	T.conf.max_attempts = 4;
	T.conf.max_age_ms = 60000;
	T.now_ms += 3600000;		/* long after its first attempt */
	start_queue();
	deliver_set_reporter(T.d, reporter, &R, 1);
	restore("bap", s, "r-3", 3, "{\"r\":3}");
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
	run_for(60);
	ck_assert_int_eq(s->n, 1);
	ck_assert_int_eq(R.n, 1);
	ck_assert_int_eq(R.r[0].outcome, DELIVER_DEAD);
	ck_assert_int_eq(R.r[0].attempts, 4);
	ck_assert_str_eq(R.r[0].id, "r-3");
	memset(&f, 0, sizeof(f));
	deliver_dead_foreach(T.d, find_letter, &f);
	ck_assert_int_eq(f.n, 1);
	ck_assert_str_eq(f.id, "r-3");
	ck_assert_int_eq(f.attempts, 4);
	ck_assert_int_eq(f.first_ms, T0_MS + 3600000);
	ck_assert_uint_eq(T.budget.used, strlen("{\"r\":3}"));

	/* At the limit already: tried once more, then dead. */
	restore("bap", s, "r-9", 9, "{\"r\":9}");
	ck_assert(wait_stat(&T.st.dead, 2, 3000));
	ck_assert_int_eq(s->n, 2);
	ck_assert_int_eq(R.r[1].attempts, 10);

	/* 0 attempts: retried up to max_attempts. */
	restore("bap", s, "r-0", 0, "{\"r\":0}");
	ck_assert(wait_stat(&T.st.dead, 3, 3000));
	ck_assert_int_eq(s->n, 6);
	ck_assert_int_eq(R.n, 2 + 4);
	ck_assert_uint_eq(deliver_dead_count(T.d, NULL), 3);

	/* Redelivered: attempts and age from zero again, all 4 made. */
	T.now_ms += 3600000;
	ck_assert_int_eq(deliver_redeliver(T.d, "r-3"), DELIVER_REQUEUED);
	ck_assert(wait_stat(&T.st.dead, 4, 3000));
	ck_assert_int_eq(s->n, 10);
	ck_assert_int_eq(R.r[R.n - 1].attempts, 4);
	memset(&f, 0, sizeof(f));
	f.body = "{\"r\":3}";
	deliver_dead_foreach(T.d, find_letter, &f);
	ck_assert_int_eq(f.first_ms, T0_MS + 2 * 3600000);
	end_all();
}
END_TEST

/* stderr into a file while fn runs at level INFO; what was written. */
static char *
capture_log(void (*fn)(void))
{
	FILE	*tmp;
	char	*out;
	long	 n;
	int	 saved;

	ck_assert_ptr_nonnull(tmp = tmpfile());
	fflush(stderr);
	ck_assert_int_ge(saved = dup(STDERR_FILENO), 0);
	ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_LVL_INFO);
	fn();
	fflush(stderr);
	log_set_level(LOG_LVL_ERROR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = ftell(tmp);
	ck_assert_int_ge(n, 0);
	out = xmalloc((size_t)n + 1);
	rewind(tmp);
	ck_assert_uint_eq(fread(out, 1, (size_t)n, tmp), (size_t)n);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void
free_queue(void)
{
	deliver_free(T.d);
	T.d = NULL;
}

static void
one_dead(void)
{
	ck_assert(wait_stat(&T.st.dead, 1, 3000));
}

/* With the journal, the log says it keeps what was not delivered. */
START_TEST(journal_log_lines)
{
	struct stub	*hold = stub_new(NULL, 0);
	struct stub	*fail = stub_new(NULL, 500);
	char		*log;

	memset(&R, 0, sizeof(R));
	T.conf.max_attempts = 1;
	start_queue();
	deliver_set_reporter(T.d, reporter, &R, 0);
	ck_assert_int_eq(send_msg("bap", fail, "on_init", "m-d", "{}"), 0);
	log = capture_log(one_dead);
	ck_assert_msg(strstr(log, "dead-lettered (kept in the journal)") !=
	    NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(send_msg("bap", hold, "on_init", "m-h", "{}"), 0);
	ck_assert_int_eq(stub_wait(hold, 1, 3000), 1);
	log = capture_log(free_queue);
	ck_assert_msg(strstr(log, "not delivered yet; kept in the journal, "
	    "delivered at the next start") != NULL, "log: %s", log);
	ck_assert_msg(strstr(log, "m-h") != NULL, "log: %s", log);
	ck_assert_ptr_null(strstr(log, "at exit"));
	free(log);
	ck_assert_uint_eq(T.budget.used, 0);

	/* Without a reporter: as before. */
	start_queue();
	ck_assert_int_eq(send_msg("bap", hold, "on_init", "m-x", "{}"), 0);
	ck_assert_int_eq(stub_wait(hold, 2, 3000), 2);
	log = capture_log(free_queue);
	ck_assert_msg(strstr(log, "not delivered at exit") != NULL, "log: %s",
	    log);
	free(log);
	ck_assert_uint_eq(T.budget.used, 0);
}
END_TEST

static TCase *
tc(Suite *s, const char *name)
{
	TCase	*t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, under_valgrind() ? 300 : 30);
	suite_add_tcase(s, t);
	return t;
}

int
main(void)
{
	Suite	*s = suite_create("deliver");
	TCase	*t;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	t = tc(s, "semantics");
	tcase_add_test(t, headers);
	tcase_add_loop_test(t, idempotency_retries, 0, 2);
	tcase_add_test(t, redirect_retried);
	tcase_add_loop_test(t, status_classes, 0,
	    (int)(sizeof(statuses) / sizeof(statuses[0])));

	t = tc(s, "dead letters");
	tcase_add_test(t, poison);
	tcase_add_test(t, retries_compat);
	tcase_add_test(t, max_age);
	tcase_add_test(t, dead_cap);

	t = tc(s, "participants");
	tcase_add_test(t, limits_isolate);
	tcase_add_test(t, slow_tenant);
	tcase_add_test(t, idle_slice);
	tcase_add_test(t, budget_free);

	t = tc(s, "journal");
	tcase_add_test(t, id_is_the_key);
	tcase_add_test(t, restore_sends_key);
	tcase_add_test(t, report_retry_delivered);
	tcase_add_test(t, report_refused);
	tcase_add_test(t, report_dead_not_kept);
	tcase_add_test(t, restore_attempts);
	tcase_add_test(t, journal_log_lines);
	return test_run_suite(s);
}

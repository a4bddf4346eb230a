/*
 * check_proxy.c - the adaptor's two pipelines, in process.
 *
 * The network listener (signed traffic from peers) and the client
 * listener (the participant's own app) of real struct proxy instances,
 * driven over 127.0.0.1 in one event loop with stub webhooks, stub peers,
 * a registry file or a stub URL registry, and a manual clock shared by
 * the proxies and the test's signing (tests/proxy_harness.h).
 *
 * Network listener stages, in order, and what each refuses (issue 9):
 *   route+method  404 40001 unknown path/action; 405 30000 + Allow: POST
 *   auth header   401 30000 + WWW-Authenticate: missing, malformed,
 *                 created ahead, expired, expires <= created, lifetime
 *                 over security.max_signature_ttl (default 1 h + skew);
 *                 before any JSON parsing
 *   registry key  401 unknown/unusable; 503 40000 registry down
 *   verify        401 tampered body or wrong key
 *   parse         400 30000 validly signed garbage
 *   bind          400 /context/action; 400 40001 role; 401 keyId vs
 *                 bap_id/bpp_id, sender's registered type and domain;
 *                 400 /context/domain, /context/bpp_id, /context/bap_id;
 *                 400 ids with NUL or over 255 bytes
 *   gateway hdr   401 + Proxy-Authenticate
 *   replay check  401 same signature, same sender+message_id+action
 *   validate      400 30000 paths = failing pointers
 *   decide        503 40000 delivery queue full
 *   commit, ACK   200; the webhook gets the exact bytes + X-Beckn-Sender
 * A refused message leaves no trace: corrected or re-sent, it is ACKed.
 *
 * Tests named c_* are the contract points issue 9 names one by one.
 * Failure messages say what the peer or app saw ("want 200 ACK, got 401
 * NACK 30000 'replayed: ...'").
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "testutil.h"
#include "proxy_harness.h"
#include "conf/conf.h"
#include "proxy/proxy.h"
#include "sig/sig.h"
#include "sig/sig_key.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define SLOW_MS		3000	/* "it arrives": a generous real-time bound */
#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* The standard world: one process hosting bap.test and bpp.test. */
static struct {
	struct ph_stub	*w_bap, *w_bpp;		/* their webhooks */
	struct ph_party	*bap, *bpp;		/* hosted */
	struct ph_party	*sbap, *sbpp, *gw;	/* registered peers */
	struct ph_party	*obap, *obpp, *xdom;
	struct ph_rec	*gw_rec;
	struct ph_proxy	*px;
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

/* Parties and registry of the standard world; the proxy not started. */
static void
world(void)
{
	S.w_bap = ph_stub("bap-webhook");
	S.w_bpp = ph_stub("bpp-webhook");
	S.bap = ph_party("bap.test", "/bap");
	S.bpp = ph_party("bpp.test", "/bpp");
	S.sbap = ph_party("sender.bap.test", "/sbap");
	S.sbpp = ph_party("sender.bpp.test", "/sbpp");
	S.gw = ph_party("gw.test", "/gw");
	S.obap = ph_party("other.bap.test", "/obap");
	S.obpp = ph_party("other.bpp.test", "/obpp");
	S.xdom = ph_party("xdom.bap.test", "/xdom");
	ph_register(S.bap, "BAP", PH_DOMAIN);
	ph_register(S.bpp, "BPP", PH_DOMAIN);
	ph_register(S.sbap, "BAP", PH_DOMAIN);
	ph_register(S.sbpp, "BPP", PH_DOMAIN);
	S.gw_rec = ph_register(S.gw, "BG", PH_DOMAIN);
	ph_register(S.obap, "BAP", PH_DOMAIN);
	ph_register(S.obpp, "BPP", PH_DOMAIN);
	ph_register(S.xdom, "BAP", "other:domain");
	ph_registry_write();
	S.px = ph_proxy("main");
	ph_host(S.px, S.bap, "bap", S.w_bap, NULL);
	ph_host(S.px, S.bpp, "bpp", S.w_bpp, NULL);
}

static void
world_start(void)
{
	world();
	ph_start(S.px);
}

/* A request from sender.bap.test to bpp.test. */
static json_object *
req_msg(const char *action)
{
	return ph_msg(action, S.sbap, S.bpp);
}

/* A callback from sender.bpp.test to bap.test. */
static json_object *
cb_msg(const char *action)
{
	return ph_msg(action, S.bap, S.sbpp);
}

/* The webhook's request i is the exact message, from sender. */
#define expect_delivered(hook, i, uri, body, sender, what) \
	expect_delivered_at(__FILE__, __LINE__, hook, i, uri, body, sender, \
	    what)
static void
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
	if (strcmp(r->method, "POST") != 0 || strcmp(r->uri, uri) != 0)
		ph_fail_at(file, line, "%s: want POST %s at the webhook, got "
		    "%s %s", what, uri, r->method, r->uri);
	if (r->len != strlen(body) || memcmp(r->body, body, r->len) != 0)
		ph_fail_at(file, line, "%s: the webhook got other bytes than "
		    "were sent (%zu vs %zu bytes)", what, r->len, strlen(body));
	v = ph_req_header(r, "X-Beckn-Sender");
	if (v == NULL || strcmp(v, sender->sid) != 0)
		ph_fail_at(file, line, "%s: want X-Beckn-Sender %s at the "
		    "webhook, got %s", what, sender->sid, v != NULL ? v :
		    "none");
	v = ph_req_header(r, "Content-Type");
	if (v == NULL || strncmp(v, "application/json", 16) != 0)
		ph_fail_at(file, line, "%s: webhook Content-Type %s", what,
		    v != NULL ? v : "none");
}

/* A refusal on the network listener: status/code/paths, the challenge
 * for 401s, nothing delivered to either webhook. */
#define expect_refused(c, st, code, paths, what) \
	expect_refused_at(__FILE__, __LINE__, c, st, code, paths, what)
static void
expect_refused_at(const char *file, int line, const struct ph_call *c,
    int status, const char *code, const char *paths, const char *what)
{
	ph_expect_nack_at(file, line, c, status, code, paths, what);
	if (status == 401)
		ph_expect_challenge_at(file, line, c, "WWW-Authenticate",
		    S.bpp->sid, what);
	ph_settle();
	if (ph_stub_count(S.w_bpp) != 0 || ph_stub_count(S.w_bap) != 0)
		ph_fail_at(file, line, "%s: refused, yet delivered: %d at "
		    "bpp.test's webhook, %d at bap.test's", what,
		    ph_stub_count(S.w_bpp), ph_stub_count(S.w_bap));
}

/* ==== network listener: route, method ================================ */

START_TEST(in_ack_delivered)
{
	json_object	*m;
	const char	*body;
	struct ph_call	*c;

	world_start();
	m = req_msg("select");
	body = ph_wire(m);
	c = ph_send(S.px, "/bpp/select", body, S.sbap);
	EXPECT_ACK(c, "signed select from a registered BAP");
	ck_assert_str_eq(c->body, PH_ACK_BODY);
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "select");

	m = cb_msg("on_select");
	body = ph_wire(m);
	c = ph_send(S.px, "/bap/on_select", body, S.sbpp);
	EXPECT_ACK(c, "signed on_select from a registered BPP");
	expect_delivered(S.w_bap, 0, "/hook/bap/on_select", body, S.sbpp,
	    "on_select");
	EXPECT_COUNT(S.w_bpp, 1, "the BPP's webhook after one select");
}
END_TEST

START_TEST(in_route_404)
{
	const char	*body;

	world_start();
	body = ph_wire(req_msg("select"));
	expect_refused(ph_send(S.px, "/nobody/select", body, S.sbap), 404,
	    "40001", NULL, "unknown participant path");
	expect_refused(ph_send(S.px, "/bpp/frobnicate", body, S.sbap), 404,
	    "40001", NULL, "unknown action");
	expect_refused(ph_send(S.px, "/bpp", body, S.sbap), 404, "40001",
	    NULL, "participant path without an action");
}
END_TEST

START_TEST(in_get_405)
{
	struct ph_call	*c;
	const char	*allow;

	world_start();
	c = ph_call(ph_net(S.px), "GET", "/bpp/select", NULL, 0, NULL);
	EXPECT_NACK(c, 405, "30000", NULL, "GET on the network listener");
	allow = ph_call_header(c, "Allow");
	if (allow == NULL || strcmp(allow, "POST") != 0)
		PH_FAIL("GET: want Allow: POST, got %s", allow != NULL ?
		    allow : "no Allow header");
}
END_TEST

/* Limits and framing are answered by the HTTP layer, as Beckn NACKs. */
START_TEST(in_oversize_413)
{
	json_object	*m, *msg, *order, *items, *d;
	char		 pad[3001];
	struct ph_call	*c;

	world();
	ph_set(S.px, "limits.body_max", "2K");
	ph_start(S.px);
	m = req_msg("select");
	memset(pad, 'x', 3000);
	pad[3000] = '\0';
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	ck_assert(json_object_object_get_ex(order, "items", &items));
	d = json_object_new_object();
	json_object_object_add(d, "long_desc", json_object_new_string(pad));
	json_object_object_add(json_object_array_get_idx(items, 0),
	    "descriptor", d);
	c = ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap);
	expect_refused(c, 413, "30000", NULL, "a 3 KiB body over body_max 2K");
}
END_TEST

START_TEST(in_http_malformed)
{
	struct ph_call	*c;

	world_start();
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", "{}", 2,
	    (const char *const[]){ "Bad Header", "x", NULL });
	expect_refused(c, 400, "30000", NULL, "a header name with a space");
}
END_TEST

/* ==== stage 2: the Authorization header ============================== */

START_TEST(in_auth_missing)
{
	const char	*body;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    NULL);
	expect_refused(c, 401, "30000", NULL, "no Authorization header");
}
END_TEST

START_TEST(in_auth_malformed)
{
	static const char *const bad[] = {
		"Bearer abc",
		"Signature keyId=\"sender.bap.test|k1|ed25519\"",
		"Signature keyId=\"sender.bap.test\",algorithm=\"ed25519\","
		    "created=\"1\",expires=\"2\",headers=\"(created) "
		    "(expires) digest\",signature=\"AAAA\"",
		"Signature garbage",
	};
	const char	*body;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", bad[_i], NULL });
	expect_refused(c, 401, "30000", NULL, ph_fmt("malformed "
	    "Authorization '%s'", bad[_i]));
}
END_TEST

/* created / ttl (seconds from now) that no receiver may accept. */
static const struct {
	const char	*what;
	int64_t		 created, ttl;
} bad_times[] = {
	{ "created 10 min ahead", 600, 300 },
	{ "expired 10 min ago", -900, 300 },
	{ "expires == created", 0, 0 },
	{ "expires before created", 0, -60 },
	{ "created 6 s ahead (clock_skew 5 s)", 6, 300 },
	{ "expired 6 s ago (clock_skew 5 s)", -306, 300 },
};

START_TEST(in_auth_time)
{
	const char	*body, *auth;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, bad_times[_i].created, bad_times[_i].ttl);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	expect_refused(c, 401, "30000", NULL, bad_times[_i].what);
}
END_TEST

/* security.max_signature_ttl defaults to 1 h + clock_skew: _i == 0 is
 * a 2 h lifetime, _i == 1 one second over the default. */
START_TEST(in_auth_lifetime_over_max)
{
	const char	*body, *auth;
	struct ph_call	*c;
	int64_t		 ttl = _i == 0 ? 2 * 3600 : 3600 + 5 + 1;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, ttl);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	expect_refused(c, 401, "30000", NULL, ph_fmt("a signature valid for "
	    "%lld s (over max_signature_ttl, 1 h + clock_skew)",
	    (long long)ttl));
}
END_TEST

/* The edges that pass: within clock_skew either way, and the reference
 * server's one-hour signatures (up to 1 h + clock_skew). */
static const struct {
	const char	*what;
	int64_t		 created, ttl;
} good_times[] = {
	{ "created 5 s ahead (clock_skew 5 s)", 5, 300 },
	{ "expired 5 s ago (clock_skew 5 s)", -305, 300 },
	{ "valid for 1 h (the reference server's)", 0, 3600 },
	{ "valid for 1 h + clock_skew", 0, 3605 },
};

START_TEST(in_auth_time_ok)
{
	const char	*body, *auth;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, good_times[_i].created,
	    good_times[_i].ttl);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, ph_fmt("a signature %s", good_times[_i].what));
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    good_times[_i].what);
}
END_TEST

/* Unauthenticated bytes are never parsed: garbage is 401, not 400. */
START_TEST(in_auth_before_parse)
{
	static const char garbage[] = "{\"context\": {not json at all";
	const char	*auth;
	struct ph_call	*c;

	world_start();
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", garbage,
	    strlen(garbage), NULL);
	expect_refused(c, 401, "30000", NULL, "invalid JSON without "
	    "Authorization");
	auth = ph_sign(S.sbap, garbage, -900, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", garbage,
	    strlen(garbage), (const char *const[]){ "Authorization", auth,
	    NULL });
	expect_refused(c, 401, "30000", NULL, "invalid JSON with an expired "
	    "signature");
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", garbage,
	    strlen(garbage), (const char *const[]){ "Authorization",
	    "Signature nonsense", NULL });
	expect_refused(c, 401, "30000", NULL, "invalid JSON with a malformed "
	    "Authorization");
}
END_TEST

/* ==== stage 3: the registry key ====================================== */

START_TEST(in_key_unknown)
{
	struct ph_party	*ghost;
	json_object	*m;

	world_start();
	ghost = ph_party("ghost.bap.test", "/ghost");	/* not registered */
	m = ph_msg("select", ghost, S.bpp);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), ghost), 401,
	    "30000", NULL, "a sender the registry does not know");
}
END_TEST

/*
 * Unknown keyIds from one address are limited (registry.miss_rate and
 * miss_burst): past the burst the answer is 503 with Retry-After, at
 * once, and a registered sender's message is still ACKed.
 */
START_TEST(in_key_misses_limited)
{
	struct ph_party	*ghost;
	struct ph_call	*c;
	json_object	*m;
	int		 i, before;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_set(S.px, "registry.miss_rate", "1");
	ph_set(S.px, "registry.miss_burst", "2");
	ph_start(S.px);
	/* A known sender: its key is cached once. */
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "a registered sender before the flood");
	for (i = 0; i < 1; i++) {
		ghost = ph_party(ph_fmt("ghost%d.bap.test", i), "/ghost");
		m = ph_msg("select", ghost, S.bpp);
		EXPECT_NACK(ph_send(S.px, "/bpp/select", ph_wire(m), ghost),
		    401, "30000", NULL, "an unknown sender within the burst");
	}
	before = ph_registry_requests();
	ghost = ph_party("ghost9.bap.test", "/ghost");
	m = ph_msg("select", ghost, S.bpp);
	c = ph_send(S.px, "/bpp/select", ph_wire(m), ghost);
	EXPECT_NACK(c, 503, "40000", NULL, "an unknown sender past the burst");
	if (ph_call_header(c, "Retry-After") == NULL ||
	    atoi(ph_call_header(c, "Retry-After")) < 1)
		PH_FAIL("503 without a Retry-After of a second or more: %s",
		    c->head);
	if (ph_registry_requests() != before)
		PH_FAIL("the limited lookup still asked the registry");
	/* A known sender is not held up by the misses of its address. */
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "a registered sender after the flood");
	if (ph_registry_requests() != before)
		PH_FAIL("the known sender's key was fetched again");
}
END_TEST

START_TEST(in_key_unusable)
{
	struct ph_party	*p1, *p2;
	struct ph_rec	*r;

	world();
	p1 = ph_party("pending.bap.test", "/pending");
	r = ph_register(p1, "BAP", PH_DOMAIN);
	snprintf(r->status, sizeof(r->status), "INITIATED");
	p2 = ph_party("expired.bap.test", "/expired");
	r = ph_register(p2, "BAP", PH_DOMAIN);
	snprintf(r->valid_until, sizeof(r->valid_until),
	    "2025-06-01T00:00:00.000Z");
	ph_registry_write();
	ph_start(S.px);
	expect_refused(ph_send(S.px, "/bpp/select",
	    ph_wire(ph_msg("select", p1, S.bpp)), p1), 401, "30000", NULL,
	    "a sender whose record is INITIATED, not SUBSCRIBED");
	expect_refused(ph_send(S.px, "/bpp/select",
	    ph_wire(ph_msg("select", p2, S.bpp)), p2), 401, "30000", NULL,
	    "a sender whose record expired (valid_until)");
}
END_TEST

/* Registry unreachable and nothing cached: 503, the peer may retry. */
START_TEST(in_registry_down)
{
	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_registry_mode(_i == 0 ? PH_REG_500 : PH_REG_CLOSED);
	ph_start(S.px);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), 503, "40000", NULL, _i == 0 ? "registry answering 500" :
	    "registry not listening");
}
END_TEST

/* A sender rotates its key under the same key id: the cached key
 * fails, the registry is asked again, the message is accepted. */
START_TEST(in_key_rotated_same_kid)
{
	int	 before;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select with the sender's first key (now cached)");
	ph_party_rotate(S.sbap, 0);
	/* registry.refresh_interval (5 s) bounds re-fetches per key. */
	ph_advance(6000);
	before = ph_registry_requests();
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select with the sender's new key, same key id");
	ck_assert_msg(ph_registry_requests() > before, "the rotated key was "
	    "not fetched again");
	EXPECT_COUNT(S.w_bpp, 2, "selects around a key rotation");
}
END_TEST

/* ==== stage 4: verification over the raw bytes ======================= */

START_TEST(in_verify_tampered)
{
	const char	*body, *auth, *bad;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	bad = ph_replace(body, "course-ml-101", "course-ml-102");
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", bad, strlen(bad),
	    (const char *const[]){ "Authorization", auth, NULL });
	expect_refused(c, 401, "30000", NULL, "body changed after signing");
}
END_TEST

START_TEST(in_verify_wrong_key)
{
	struct sig_key	*k;
	const char	*body, *auth;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	ck_assert_ptr_nonnull(k = sig_key_generate());
	auth = ph_sign_key(k, S.sbap->sid, S.sbap->kid, body, 0, 300);
	sig_key_free(k);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	expect_refused(c, 401, "30000", NULL, "signed with a key the "
	    "registry does not hold");
}
END_TEST

/* ==== stage 5: parse (authenticated bytes only) ====================== */

START_TEST(in_signed_garbage)
{
	static const char *const bodies[] = {
		"{\"context\": {not json", "[1,2,3]", "{} trailing",
	};

	world_start();
	expect_refused(ph_send(S.px, "/bpp/select", bodies[_i], S.sbap), 400,
	    "30000", NULL, ph_fmt("validly signed body '%s'", bodies[_i]));
}
END_TEST

/* s n times (freed at teardown). */
static const char *
repeat(const char *s, int n)
{
	size_t	 len = strlen(s);
	char	*out = ph_keep(xmalloc(len * (size_t)n + 1));
	int	 i;

	for (i = 0; i < n; i++)
		memcpy(out + len * (size_t)i, s, len);
	out[len * (size_t)n] = '\0';
	return out;
}

/*
 * Bytes other parsers read differently are refused before any parse,
 * with the JSON pointer at fault: a second bap_id (json-c keeps the last,
 * an app may keep the first), ill-formed UTF-8, NaN, too many values.
 */
START_TEST(in_strict_json)
{
	static const struct {
		const char	*from, *to, *path;
	} edits[] = {
		{ "\"bap_id\":", "\"bap_id\":\"evil.bap.test\",\"bap_id\":",
		    "/context" },
		{ "\"action\":\"select\"", "\"action\":\"select\",\"ttl\":"
		    "\"PT30S\\u0000\"", NULL },
		{ "\"items\":[", "\"items\":[NaN,", "/message/order/items/0" },
	};
	const char	*body, *good;

	world();
	ph_set(S.px, "limits.json_max_nodes", "1000");
	ph_start(S.px);
	good = ph_wire(req_msg("select"));
	if (_i < 3) {
		body = ph_replace(good, edits[_i].from, edits[_i].to);
		if (_i == 1)	/* a raw 0xC0 0xAF: an overlong "/" */
			body = ph_replace(good, "\"ttl\":\"PT30S\"",
			    "\"ttl\":\"PT30S\xc0\xaf\"");
		ck_assert_str_ne(body, good);
		expect_refused(ph_send(S.px, "/bpp/select", body, S.sbap), 400,
		    "30000", _i == 1 ? "/context/ttl" : edits[_i].path,
		    ph_fmt("strict JSON case %d", _i));
		return;
	}
	/* 1,001 values: over limits.json_max_nodes. */
	body = ph_replace(good, "\"items\":[", ph_fmt("\"items\":[%s",
	    repeat("0,", 1000)));
	expect_refused(ph_send(S.px, "/bpp/select", body, S.sbap), 400,
	    "30000", NULL, "a body of more than json_max_nodes values");
}
END_TEST

START_TEST(in_no_context)
{
	world_start();
	expect_refused(ph_send(S.px, "/bpp/select", "{\"message\":{}}",
	    S.sbap), 400, "30000", NULL, "a signed body without context");
}
END_TEST

/* ==== stage 6: bind the signature to the message and the receiver ==== */

START_TEST(in_bind_action_mismatch)
{
	world_start();
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(req_msg("init")),
	    S.sbap), 400, "30000", "/context/action", "init posted to "
	    "/bpp/select");
}
END_TEST

START_TEST(in_bind_role)
{
	world_start();
	expect_refused(ph_send(S.px, "/bap/search", ph_wire(ph_msg("search",
	    S.sbap, NULL)), S.sbap), 400, "40001", NULL, "search at a BAP");
	expect_refused(ph_send(S.px, "/bpp/on_select",
	    ph_wire(ph_msg("on_select", S.bap, S.sbpp)), S.sbpp), 400,
	    "40001", NULL, "on_select at a BPP");
}
END_TEST

START_TEST(in_bind_keyid_request)
{
	world_start();
	/* other.bap.test signs correctly, the body says sender.bap.test. */
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.obap), 401, "30000", NULL, "keyId subscriber is not "
	    "context.bap_id");
}
END_TEST

START_TEST(in_bind_keyid_callback)
{
	struct ph_call	*c;

	world_start();
	c = ph_send(S.px, "/bap/on_select", ph_wire(cb_msg("on_select")),
	    S.obpp);
	EXPECT_NACK(c, 401, "30000", NULL, "keyId subscriber is not "
	    "context.bpp_id");
	EXPECT_CHALLENGE(c, "WWW-Authenticate", S.bap->sid, "callback keyId");
	EXPECT_COUNT(S.w_bap, 0, "callback keyId");
}
END_TEST

/* A sender of select must be registered as a BAP of the domain. */
#define expect_sender_refused(sender, what) \
	expect_sender_refused_at(__FILE__, __LINE__, sender, what)
static void
expect_sender_refused_at(const char *file, int line, struct ph_party *sender,
    const char *what)
{
	json_object	*m;

	m = ph_msg("select", sender, S.bpp);
	expect_refused_at(file, line, ph_send(S.px, "/bpp/select", ph_wire(m),
	    sender), 401, "30000", NULL, what);
}

START_TEST(c_sender_bpp_only)
{
	world_start();
	expect_sender_refused(S.sbpp, "select from a subscriber registered "
	    "only as BPP");
}
END_TEST

START_TEST(c_sender_bg_only)
{
	world_start();
	expect_sender_refused(S.gw, "select from a subscriber registered only "
	    "as BG");
}
END_TEST

START_TEST(c_sender_other_domain)
{
	world_start();
	expect_sender_refused(S.xdom, "select from a BAP registered only for "
	    "other:domain");
}
END_TEST

/* Callbacks come from BPPs only. */
START_TEST(in_bind_callback_from_bap)
{
	json_object	*m;
	struct ph_call	*c;

	world_start();
	m = ph_msg("on_select", S.bap, S.sbap);	/* bpp_id = a BAP */
	c = ph_send(S.px, "/bap/on_select", ph_wire(m), S.sbap);
	EXPECT_NACK(c, 401, "30000", NULL, "on_select from a subscriber "
	    "registered only as BAP");
	EXPECT_COUNT(S.w_bap, 0, "on_select from a BAP");
}
END_TEST

/* A record without type matches no type. */
START_TEST(in_bind_record_without_type)
{
	struct ph_party	*p;

	world();
	p = ph_party("notype.bap.test", "/notype");
	ph_register(p, NULL, PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	expect_refused(ph_send(S.px, "/bpp/select",
	    ph_wire(ph_msg("select", p, S.bpp)), p), 401, "30000", NULL,
	    "select from a record without type");
}
END_TEST

/* type compares case-insensitively; a record without domain covers
 * every domain. */
START_TEST(in_bind_type_case_and_any_domain)
{
	struct ph_party	*lower, *anyd;
	const char	*body;

	world();
	lower = ph_party("lower.bap.test", "/lower");
	ph_register(lower, "bap", PH_DOMAIN);
	anyd = ph_party("anydomain.bap.test", "/anyd");
	ph_register(anyd, "BAP", NULL);
	ph_registry_write();
	ph_start(S.px);
	body = ph_wire(ph_msg("select", lower, S.bpp));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, lower), "select from "
	    "a sender registered as type \"bap\"");
	body = ph_wire(ph_msg("select", anyd, S.bpp));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, anyd), "select from "
	    "a BAP whose record names no domain");
}
END_TEST

START_TEST(in_bind_no_domain)
{
	json_object	*m;

	world_start();
	m = req_msg("select");
	ph_ctx_set(m, "domain", NULL);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 400,
	    "30000", "/context/domain", "select without context.domain at a "
	    "BPP that lists domains");
}
END_TEST

START_TEST(c_select_other_bpp)
{
	world_start();
	expect_refused(ph_send(S.px, "/bpp/select",
	    ph_wire(ph_msg("select", S.sbap, S.obpp)), S.sbap), 400, "30000",
	    "/context/bpp_id", "select for other.bpp.test posted to bpp.test");
}
END_TEST

START_TEST(in_bind_callback_other_bap)
{
	struct ph_call	*c;

	world_start();
	c = ph_send(S.px, "/bap/on_select",
	    ph_wire(ph_msg("on_select", S.obap, S.sbpp)), S.sbpp);
	EXPECT_NACK(c, 400, "30000", "/context/bap_id", "on_select for "
	    "other.bap.test posted to bap.test");
	EXPECT_COUNT(S.w_bap, 0, "on_select for another BAP");
}
END_TEST

/* Ids are byte strings with lengths: NUL inside or over 255 is 400. */
static const struct {
	const char	*field;
	int		 nul;
} bad_ids[] = {
	{ "message_id", 1 }, { "message_id", 0 },
	{ "transaction_id", 1 }, { "transaction_id", 0 },
	{ "bpp_id", 1 }, { "bpp_id", 0 },
};

START_TEST(in_bind_bad_ids)
{
	json_object	*m;
	const char	*body, *f = bad_ids[_i].field;
	char		 longid[257];

	world_start();
	m = req_msg("select");
	if (bad_ids[_i].nul) {
		ph_ctx_set(m, f, "@@ID@@");
		body = ph_replace(ph_wire(m), "@@ID@@",
		    strcmp(f, "bpp_id") == 0 ? "bpp.test\\u0000x" :
		    "c0ffee\\u0000tail");
	} else {
		memset(longid, 'a', 256);
		longid[256] = '\0';
		if (strcmp(f, "bpp_id") == 0)
			memcpy(longid, "bpp.test", 8);
		ph_ctx_set(m, f, longid);
		body = ph_wire(m);
	}
	expect_refused(ph_send(S.px, "/bpp/select", body, S.sbap), 400,
	    "30000", ph_fmt("/context/%s", f), ph_fmt("context.%s %s", f,
	    bad_ids[_i].nul ? "with a NUL inside" : "of 256 bytes"));
}
END_TEST

START_TEST(in_bind_id_255_ok)
{
	json_object	*m;
	char		 id[256];

	world_start();
	m = req_msg("select");
	memset(id, 'b', 255);
	id[255] = '\0';
	ph_ctx_set(m, "message_id", id);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap),
	    "message_id of exactly 255 bytes");
}
END_TEST

/* ==== stage 7: the gateway header ==================================== */

START_TEST(in_gw_header_refused)
{
	static const char *const what[] = {
		"X-Gateway-Authorization signed with a key not registered",
		"X-Gateway-Authorization of an unknown gateway",
		"X-Gateway-Authorization by a subscriber registered as BAP",
		"X-Gateway-Authorization malformed",
		"Proxy-Authorization signed with a key not registered",
	};
	struct ph_party	*ghost;
	struct sig_key	*k;
	const char	*body, *auth, *gwa = NULL, *name;
	struct ph_call	*c;

	world_start();
	body = ph_wire(ph_msg("search", S.sbap, NULL));
	auth = ph_sign(S.sbap, body, 0, 300);
	name = _i == 4 ? "Proxy-Authorization" : "X-Gateway-Authorization";
	switch (_i) {
	case 0:
	case 4:
		ck_assert_ptr_nonnull(k = sig_key_generate());
		gwa = ph_sign_key(k, S.gw->sid, S.gw->kid, body, 0, 300);
		sig_key_free(k);
		break;
	case 1:
		ghost = ph_party("ghost.gw.test", "/ghostgw");
		gwa = ph_sign(ghost, body, 0, 300);
		break;
	case 2:
		gwa = ph_sign(S.obap, body, 0, 300);
		break;
	case 3:
		gwa = "Signature keyId=\"gw.test|k1|ed25519\"";
		break;
	}
	c = ph_call(ph_net(S.px), "POST", "/bpp/search", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, name, gwa, NULL });
	EXPECT_NACK(c, 401, "30000", NULL, what[_i]);
	EXPECT_CHALLENGE(c, "Proxy-Authenticate", S.bpp->sid, what[_i]);
	EXPECT_COUNT(S.w_bpp, 0, what[_i]);
}
END_TEST

START_TEST(in_gw_header_ok)
{
	const char	*body, *auth, *gwa, *name;
	struct ph_call	*c;

	world_start();
	name = _i == 0 ? "X-Gateway-Authorization" : "Proxy-Authorization";
	body = ph_wire(ph_msg("search", S.sbap, NULL));
	auth = ph_sign(S.sbap, body, 0, 300);
	gwa = ph_sign(S.gw, body, 0, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/search", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, name, gwa, NULL });
	EXPECT_ACK(c, ph_fmt("search with a good %s", name));
	expect_delivered(S.w_bpp, 0, "/hook/bpp/search", body, S.sbap,
	    "search through a gateway");
}
END_TEST

/* ==== stage 8: replay ================================================ */

START_TEST(in_replay_signature)
{
	const char	*body, *auth;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, "first copy");
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_NACK(c, 401, "30000", NULL, "the same signed bytes again");
	EXPECT_CHALLENGE(c, "WWW-Authenticate", S.bpp->sid, "replay");
	EXPECT_COUNT(S.w_bpp, 1, "a replayed message");
}
END_TEST

START_TEST(in_replay_message_id)
{
	const char	*body;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap), "first copy");
	ph_advance(1000);	/* a new created: a new signature */
	c = ph_send(S.px, "/bpp/select", body, S.sbap);
	EXPECT_NACK(c, 401, "30000", NULL, "same sender, message_id and "
	    "action under a new signature");
	EXPECT_COUNT(S.w_bpp, 1, "a re-signed replay");
}
END_TEST

/* ==== stage 9: schema validation ===================================== */

static json_object *
init_invalid(void)
{
	json_object	*m = req_msg("init"), *msg, *order, *billing;

	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	json_object_object_add(order, "items",
	    json_object_new_string("course-ml-101"));
	ck_assert(json_object_object_get_ex(order, "billing", &billing));
	json_object_object_add(billing, "email",
	    json_object_new_string("not-an-email"));
	return m;
}

START_TEST(in_schema_invalid)
{
	world_start();
	expect_refused(ph_send(S.px, "/bpp/init", ph_wire(init_invalid()),
	    S.sbap), 400, "30000",
	    "/message/order/items,/message/order/billing/email",
	    "init with items a string and a bad email");
}
END_TEST

/* ==== stage 10: decide (delivery queue) ============================== */

START_TEST(in_queue_full)
{
	struct ph_call	*c;

	world();
	ph_set(S.px, "delivery.queue_size", "1");
	ph_start(S.px);
	ph_stub_answer(S.w_bpp, 0, NULL);	/* the app holds deliveries */
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "first select (queue of 1)");
	c = ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")), S.sbap);
	EXPECT_NACK(c, 503, "40000", NULL, "second select, queue full");
	if (ph_call_header(c, "Retry-After") == NULL ||
	    strcmp(ph_call_header(c, "Retry-After"), "1") != 0)
		PH_FAIL("503 NACK without Retry-After: 1: %s", c->head);
	EXPECT_COUNT(S.w_bpp, 1, "queue full");
}
END_TEST

/* ==== delivery to the webhook ======================================== */

START_TEST(in_webhook_retry)
{
	const char	*body;

	world_start();
	ph_stub_answer(S.w_bpp, 500, "{}");
	body = ph_wire(req_msg("select"));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap), "select");
	ck_assert_int_eq(ph_stub_wait(S.w_bpp, 1, SLOW_MS), 1);
	ph_stub_answer(S.w_bpp, 200, "{}");
	expect_delivered(S.w_bpp, 1, "/hook/bpp/select", body, S.sbap,
	    "the retry after the webhook's 500");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("a delivered message is still pending");
}
END_TEST

START_TEST(in_webhook_4xx_final)
{
	world_start();
	ph_stub_answer(S.w_bpp, 400, "{}");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select");
	ck_assert_int_eq(ph_stub_wait(S.w_bpp, 1, SLOW_MS), 1);
	ph_run_for(ph_ms(400));		/* backoff is 100 ms */
	EXPECT_COUNT(S.w_bpp, 1, "a message the app refused with 400");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("a refused delivery is still pending");
}
END_TEST

/* delivery.retries N: N + 1 attempts, then the message is a dead letter. */
START_TEST(in_webhook_retries_limit)
{
	struct proxy_counters	 pc;

	world();
	ph_set(S.px, "delivery.retries", "1");
	ph_start(S.px);
	ph_stub_answer(S.w_bpp, 503, "{}");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("delivery.retries 1: the message was not given up");
	ph_run_for(ph_ms(300));
	EXPECT_COUNT(S.w_bpp, 2, "delivery.retries 1 against a webhook "
	    "answering 503");
	proxy_counters(ph_px(S.px), &pc);
	ck_assert_uint_eq(pc.delivery_dead, 1);
	ck_assert_uint_eq(pc.delivery_dropped, 0);
}
END_TEST

/* ==== contract: refused messages leave no trace ====================== */

START_TEST(c_retry_after_schema_400)
{
	json_object	*bad, *good;
	const char	*mid;

	world_start();
	bad = init_invalid();
	EXPECT_NACK(ph_send(S.px, "/bpp/init", ph_wire(bad), S.sbap), 400,
	    "30000", NULL, "schema-invalid init");
	good = req_msg("init");
	mid = ph_ctx(bad, "message_id");
	ph_ctx_set(good, "message_id", mid);
	ph_ctx_set(good, "transaction_id", ph_ctx(bad, "transaction_id"));
	ph_advance(1000);
	EXPECT_ACK(ph_send(S.px, "/bpp/init", ph_wire(good), S.sbap),
	    "the corrected init with the same message_id");
	EXPECT_COUNT(S.w_bpp, 1, "corrected init");
}
END_TEST

START_TEST(c_retry_after_queue_full)
{
	const char	*b1, *b2, *auth2;
	struct ph_call	*c;

	world();
	ph_set(S.px, "delivery.queue_size", "1");
	ph_start(S.px);
	ph_stub_answer(S.w_bpp, 0, NULL);
	b1 = ph_wire(req_msg("select"));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", b1, S.sbap), "first select");
	b2 = ph_wire(req_msg("select"));
	auth2 = ph_sign(S.sbap, b2, 0, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", b2, strlen(b2),
	    (const char *const[]){ "Authorization", auth2, NULL });
	EXPECT_NACK(c, 503, "40000", NULL, "second select, queue full");
	ck_assert_int_eq(ph_stub_wait(S.w_bpp, 1, SLOW_MS), 1);
	ph_stub_release(S.w_bpp, 200, "{}");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("the queue did not drain after the webhook answered");
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", b2, strlen(b2),
	    (const char *const[]){ "Authorization", auth2, NULL });
	EXPECT_ACK(c, "the same signed select re-sent after the queue "
	    "drained");
	expect_delivered(S.w_bpp, 1, "/hook/bpp/select", b2, S.sbap,
	    "re-sent select");
}
END_TEST

START_TEST(c_retry_after_registry_down)
{
	const char	*body, *auth;
	struct ph_call	*c;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	ph_registry_mode(PH_REG_500);
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_NACK(c, 503, "40000", NULL, "select while the registry "
	    "answers 500");
	ph_registry_mode(PH_REG_RECORDS);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, "the same signed select once the registry is back");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "select after the registry came back");
}
END_TEST

/* Replay entries live until expires + clock_skew, not replay_window. */
START_TEST(c_long_lived_replay)
{
	const char	*body, *auth;
	struct ph_call	*c;

	world();
	ph_set(S.px, "security.replay_window", "10m");	/* the default */
	ph_start(S.px);
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 50 * 60);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, "select signed for 50 min");
	ph_advance(11 * 60 * 1000);	/* past replay_window (10 min) */
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_NACK(c, 401, "30000", NULL, "the same signed select replayed "
	    "11 min later (signature still valid)");
	EXPECT_COUNT(S.w_bpp, 1, "a replay after replay_window");
}
END_TEST

/* ==== gateway ======================================================== */

struct two {
	struct ph_stub	*a, *b;
};

static int
both_have_one(void *arg)
{
	struct two	*t = arg;

	return ph_stub_count(t->a) >= 1 && ph_stub_count(t->b) >= 1;
}

/*
 * One search reaches two BPPs hosted in one process: _i == 0, the
 * gateway's own process; _i == 1, a second process.  The registry points
 * at the real listener once it has a port.
 */
START_TEST(c_fanout_two_bpps)
{
	struct ph_party	*gwl, *bpa, *bpb, *bap;
	struct ph_proxy	*f, *g;
	struct two	 t;
	const char	*body;

	t.a = ph_stub("bpp-a-webhook");
	t.b = ph_stub("bpp-b-webhook");
	gwl = ph_party("gw.local.test", "/gw");
	bpa = ph_party("a.bpp.test", "/bpa");
	bpb = ph_party("b.bpp.test", "/bpb");
	bap = ph_party("sender.bap.test", "/sbap");
	ph_register(gwl, "BG", PH_DOMAIN);
	ph_register(bpa, "BPP", PH_DOMAIN);
	ph_register(bpb, "BPP", PH_DOMAIN);
	ph_register(bap, "BAP", PH_DOMAIN);
	ph_registry_write();
	f = ph_proxy("bpps");
	if (_i == 0)
		ph_host(f, gwl, "gateway", NULL, NULL);
	ph_host(f, bpa, "bpp", t.a, NULL);
	ph_host(f, bpb, "bpp", t.b, NULL);
	ph_start(f);
	ph_fix_urls(f);		/* the registry now points at f's listener */
	g = f;
	if (_i == 1) {
		g = ph_proxy("gateway");
		ph_host(g, gwl, "gateway", NULL, NULL);
		ph_start(g);
	}

	body = ph_wire(ph_msg("search", bap, NULL));
	EXPECT_ACK(ph_send(g, "/gw/search", body, bap), "search at the "
	    "gateway");
	ph_run_until(both_have_one, &t, ph_ms(SLOW_MS));
	if (ph_stub_count(t.a) != 1 || ph_stub_count(t.b) != 1)
		PH_FAIL("one search, two BPPs in one process (%s): want it at "
		    "both webhooks once, a.bpp.test got %d, b.bpp.test got %d",
		    _i == 0 ? "the gateway's" : "not the gateway's",
		    ph_stub_count(t.a), ph_stub_count(t.b));
	expect_delivered(t.a, 0, "/hook/bpa/search", body, bap, "a.bpp.test");
	expect_delivered(t.b, 0, "/hook/bpb/search", body, bap, "b.bpp.test");
}
END_TEST

/* A gateway never fans out without a domain. */
START_TEST(gw_search_without_domain)
{
	struct ph_party	*gwl, *bap;
	struct ph_proxy	*f;
	json_object	*m;

	gwl = ph_party("gw.local.test", "/gw");
	bap = ph_party("sender.bap.test", "/sbap");
	ph_register(gwl, "BG", PH_DOMAIN);
	ph_register(bap, "BAP", PH_DOMAIN);
	ph_registry_write();
	f = ph_proxy("gateway");
	ph_host(f, gwl, "gateway", NULL, NULL);
	ph_start(f);
	m = ph_msg("search", bap, NULL);
	ph_ctx_set(m, "domain", NULL);
	EXPECT_NACK(ph_send(f, "/gw/search", ph_wire(m), bap), 400, "30000",
	    "/context/domain", "search without context.domain at a gateway");
}
END_TEST

/* ==== client listener (outbound) ===================================== */

/* The standard world plus a BPP and a BAP that are stubs. */
static struct {
	struct ph_stub	*stub;		/* answers as both peers */
	struct ph_party	*bpp, *bap;	/* registered at the stub */
} P;

static void
out_world(void)
{
	world();
	P.stub = ph_stub("peer");
	P.bpp = ph_party("peer.bpp.test", "/pbpp");
	P.bap = ph_party("peer.bap.test", "/pbap");
	snprintf(P.bpp->url, sizeof(P.bpp->url), "%s/pbpp",
	    ph_stub_url(P.stub));
	snprintf(P.bap->url, sizeof(P.bap->url), "%s/pbap",
	    ph_stub_url(P.stub));
	ph_register(P.bpp, "BPP", PH_DOMAIN);
	ph_register(P.bap, "BAP", PH_DOMAIN);
	ph_registry_write();
}

/* What a BAP app posts: context with the peer only, the fixture message. */
static const char *
app_select(const char *action)
{
	json_object	*m = ph_msg(action, S.bap, P.bpp), *ctx;

	ck_assert(json_object_object_get_ex(m, "context", &ctx));
	json_object_object_del(ctx, "bap_id");
	json_object_object_del(ctx, "bap_uri");
	json_object_object_del(ctx, "timestamp");
	json_object_object_del(ctx, "domain");
	return ph_wire(m);
}

START_TEST(out_select_ack)
{
	struct ph_call	*c;
	struct ph_req	*r;
	json_object	*ctx;
	const char	*v;

	out_world();
	ph_start(S.px);
	c = ph_app(S.px, "/bap/select", app_select("select"));
	EXPECT_ACK(c, "select from the BAP app");
	ck_assert(json_object_object_get_ex(c->json, "context", &ctx));
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	r = ph_stub_req(P.stub, 0);
	ck_assert_str_eq(r->uri, "/pbpp/select");
	if (!ph_verify(S.bap, ph_req_header(r, "Authorization"), r->body,
	    r->len))
		PH_FAIL("the select on the wire does not verify with "
		    "bap.test's key: Authorization %s",
		    ph_req_header(r, "Authorization"));
	ck_assert_ptr_nonnull(r->json);
	v = ph_ctx(r->json, "bap_id");
	ck_assert_msg(v != NULL && strcmp(v, S.bap->sid) == 0, "bap_id %s", v);
	v = ph_ctx(r->json, "bap_uri");
	ck_assert_msg(v != NULL && strcmp(v, S.bap->url) == 0, "bap_uri %s",
	    v);
	v = ph_ctx(r->json, "domain");
	ck_assert_msg(v != NULL && strcmp(v, PH_DOMAIN) == 0, "domain %s", v);
	ck_assert_str_eq(ph_ctx(r->json, "message_id"),
	    json_object_get_string(json_object_object_get(ctx, "message_id")));
}
END_TEST

START_TEST(out_404_405)
{
	struct ph_call	*c;
	const char	*body, *allow;

	out_world();
	ph_start(S.px);
	body = app_select("select");
	EXPECT_NACK(ph_app(S.px, "/nobody/select", body), 404, "40001", NULL,
	    "client: unknown participant path");
	EXPECT_NACK(ph_app(S.px, "/bap/frobnicate", body), 404, "40001", NULL,
	    "client: unknown action");
	c = ph_call(ph_client(S.px), "GET", "/bap/select", NULL, 0, NULL);
	EXPECT_NACK(c, 405, "30000", NULL, "client: GET");
	allow = ph_call_header(c, "Allow");
	if (allow == NULL || strcmp(allow, "POST") != 0)
		PH_FAIL("client GET: want Allow: POST, got %s", allow != NULL ?
		    allow : "no Allow header");
	EXPECT_COUNT(P.stub, 0, "client 404/405");
}
END_TEST

START_TEST(out_bad_json)
{
	out_world();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bap/select", "{\"context\":{"), 400,
	    "30000", NULL, "client: invalid JSON");
	EXPECT_COUNT(P.stub, 0, "client invalid JSON");
}
END_TEST

START_TEST(out_action_mismatch)
{
	out_world();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("init")), 400,
	    "30000", "/context/action", "client: init posted to /bap/select");
	EXPECT_COUNT(P.stub, 0, "client action mismatch");
}
END_TEST

/* A body naming another participant as its sender is refused. */
static const struct {
	const char	*path, *action, *field, *value;
} not_own[] = {
	{ "/bap/select", "select", "bap_id", "other.bap.test" },
	{ "/bap/select", "select", "bap_uri", "http://127.0.0.1:9/obap" },
	{ "/bpp/on_select", "on_select", "bpp_id", "other.bpp.test" },
	{ "/bpp/on_select", "on_select", "bpp_uri", "http://127.0.0.1:9/obpp" },
};

START_TEST(out_not_own_sender)
{
	json_object	*m;

	out_world();
	ph_start(S.px);
	if (not_own[_i].action[0] == 'o')
		m = ph_msg(not_own[_i].action, P.bap, S.bpp);
	else
		m = ph_msg(not_own[_i].action, S.bap, P.bpp);
	ph_ctx_set(m, not_own[_i].field, not_own[_i].value);
	EXPECT_NACK(ph_app(S.px, not_own[_i].path, ph_wire(m)), 400, "30000",
	    NULL, ph_fmt("client: %s with context.%s \"%s\", not the "
	    "participant's own", not_own[_i].action, not_own[_i].field,
	    not_own[_i].value));
	EXPECT_COUNT(P.stub, 0, "a body naming another sender");
}
END_TEST

START_TEST(out_schema_invalid)
{
	json_object	*m, *msg, *order;

	out_world();
	ph_start(S.px);
	m = ph_msg("init", S.bap, P.bpp);
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	json_object_object_add(order, "items", json_object_new_string("x"));
	EXPECT_NACK(ph_app(S.px, "/bap/init", ph_wire(m)), 400, "30000",
	    "/message/order/items", "client: schema-invalid init");
	EXPECT_COUNT(P.stub, 0, "client schema failure");
}
END_TEST

START_TEST(out_unregistered_bpp_uri)
{
	struct ph_stub	*evil;
	json_object	*m;

	out_world();
	ph_start(S.px);
	evil = ph_stub("evil");
	m = ph_msg("select", S.bap, P.bpp);
	ph_ctx_set(m, "bpp_uri", ph_fmt("%s/pbpp", ph_stub_url(evil)));
	EXPECT_NACK(ph_app(S.px, "/bap/select", ph_wire(m)), 400, "30000",
	    "/context/bpp_uri", "client: bpp_uri not the registered "
	    "subscriber_url of bpp_id");
	EXPECT_COUNT(evil, 0, "the unregistered URL");
	EXPECT_COUNT(P.stub, 0, "the registered peer");
}
END_TEST

/* listen.client_token: the client listener wants the bearer token. */
START_TEST(out_client_token)
{
	static const char	 tok[] = "0123456789abcdef0123";
	struct proxy_counters	 pc;
	struct ph_call		*c;
	const char		*body;
	const char		*bad[] = { "Authorization", "Bearer 0123456789"
				    "abcdef0124", NULL };
	const char		*good[] = { "Authorization", "Bearer "
				    "0123456789abcdef0123", NULL };

	out_world();
	ph_set(S.px, "listen.client_token", ph_fmt("\"%s\"", tok));
	ph_start(S.px);
	body = app_select("select");
	c = ph_app(S.px, "/bap/select", body);
	EXPECT_NACK(c, 401, "30000", NULL, "client call without the token");
	if (ph_call_header(c, "WWW-Authenticate") == NULL ||
	    strncmp(ph_call_header(c, "WWW-Authenticate"), "Bearer ", 7) != 0)
		PH_FAIL("401 without WWW-Authenticate: Bearer: %s", c->head);
	EXPECT_NACK(ph_call(ph_client(S.px), "POST", "/bap/select", body,
	    strlen(body), bad), 401, "30000", NULL, "a wrong token");
	/* Unknown paths are not told apart before the token either. */
	EXPECT_NACK(ph_app(S.px, "/nobody/select", body), 401, "30000", NULL,
	    "an unknown path without the token");
	EXPECT_COUNT(P.stub, 0, "calls without the token");
	EXPECT_ACK(ph_call(ph_client(S.px), "POST", "/bap/select", body,
	    strlen(body), good), "client call with the token");
	EXPECT_COUNT(P.stub, 1, "the call with the token");
	/* The network listener is not the client listener's business. */
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "network select, no token needed");
	proxy_counters(ph_px(S.px), &pc);
	ck_assert_uint_eq(pc.outbound_failed, 3);
}
END_TEST

/*
 * A registered subscriber_url that leads into becknd's own client
 * listener: refused with 400, and nothing is posted back into it (one
 * failed client call, not a loop of them).
 */
START_TEST(out_own_client_listener)
{
	struct proxy_counters	 pc;
	struct ph_call		*c;
	json_object		*m;
	char			 err[1024];

	out_world();
	ph_start(S.px);
	snprintf(P.bpp->url, sizeof(P.bpp->url), "http://127.0.0.1:%d/bap",
	    ph_client(S.px));
	ph_registry_write();
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload: %s", err);
	m = ph_msg("select", S.bap, P.bpp);
	c = ph_app(S.px, "/bap/select", ph_wire(m));
	EXPECT_NACK(c, 400, "30000", NULL, "select to a BPP whose "
	    "subscriber_url is our own client listener");
	if (strstr(ph_err(c, "message"), "own client listener") == NULL)
		PH_FAIL("the NACK does not say why: %s", c->body);
	ph_settle();
	proxy_counters(ph_px(S.px), &pc);
	ck_assert_uint_eq(pc.outbound_failed, 1);
	ck_assert_uint_eq(pc.outbound_sent, 0);
	EXPECT_COUNT(P.stub, 0, "the stub peer");
}
END_TEST

/* The same through a wildcard client listener: every local address. */
START_TEST(out_own_client_listener_wildcard)
{
	const char	*tok[] = { "Authorization", "Bearer "
			    "0123456789abcdef0123", NULL };
	struct ph_call	*c;
	const char	*body;
	char		 err[1024];

	out_world();
	ph_set(S.px, "listen.client", "\"0.0.0.0:0\"");
	ph_set(S.px, "listen.client_allow_remote", "true");
	ph_set(S.px, "listen.client_token", "\"0123456789abcdef0123\"");
	ph_start(S.px);
	snprintf(P.bpp->url, sizeof(P.bpp->url), "http://localhost:%d/bap",
	    ph_client(S.px));
	ph_registry_write();
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload: %s", err);
	body = ph_wire(ph_msg("select", S.bap, P.bpp));
	c = ph_call(ph_client(S.px), "POST", "/bap/select", body,
	    strlen(body), tok);
	EXPECT_NACK(c, 400, "30000", NULL, "select to a BPP at localhost on "
	    "the wildcard client listener's port");
	EXPECT_COUNT(P.stub, 0, "the stub peer");
}
END_TEST

START_TEST(out_registry_down)
{
	out_world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_registry_mode(PH_REG_500);
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("select")), 503,
	    "40000", NULL, "client: select while the registry answers 500");
	EXPECT_COUNT(P.stub, 0, "client registry down");
}
END_TEST

START_TEST(out_peer_unreachable)
{
	out_world();
	snprintf(P.bpp->url, sizeof(P.bpp->url), "http://127.0.0.1:%d/pbpp",
	    ph_dead_port());
	ph_registry_write();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("select")), 502,
	    "40000", NULL, "client: the BPP does not listen");
}
END_TEST

START_TEST(out_peer_timeout)
{
	out_world();
	ph_set(S.px, "delivery.upstream_timeout", "300ms");
	ph_start(S.px);
	ph_stub_answer(P.stub, 0, NULL);
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("select")), 504,
	    "40000", NULL, "client: the BPP does not answer within "
	    "upstream_timeout");
}
END_TEST

START_TEST(out_peer_nack_relayed)
{
	struct ph_call	*c;
	const char	*v;

	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 400, "{\"message\":{\"ack\":{\"status\":"
	    "\"NACK\"}},\"error\":{\"code\":\"30004\",\"paths\":"
	    "\"/message/order/items\",\"message\":\"no such course\"}}");
	c = ph_app(S.px, "/bap/select", app_select("select"));
	if (!c->done || c->json == NULL || (v = ph_err(c, "code")) == NULL ||
	    strcmp(v, "30004") != 0 || (v = ph_err(c, "message")) == NULL ||
	    strcmp(v, "no such course") != 0)
		PH_FAIL("client: want the BPP's NACK 30004 'no such course' "
		    "relayed, got %s", ph_describe(c));
	v = json_object_get_string(json_object_object_get(
	    json_object_object_get(json_object_object_get(c->json, "message"),
	    "ack"), "status"));
	ck_assert_msg(v != NULL && strcmp(v, "NACK") == 0, "ack status %s", v);
}
END_TEST

START_TEST(out_sync_bad_wait)
{
	static const char *const q[] = { "?sync=true&wait=forever",
	    "?sync=true&wait=PT10M", "?sync=true&wait=0s" };

	out_world();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, ph_fmt("/bap/select%s", q[_i]),
	    app_select("select")), 400, "30000", NULL, ph_fmt("client: %s",
	    q[_i]));
	EXPECT_COUNT(P.stub, 0, "a sync call with a bad wait");
}
END_TEST

/* A BAP search without bpp_uri goes to the domain's gateways. */
START_TEST(out_search_to_gateway)
{
	struct ph_stub	*gws;
	struct ph_party	*g;
	struct ph_req	*r;
	json_object	*m;

	out_world();
	gws = ph_stub("gateway");
	g = ph_party("remote.gw.test", "/rgw");
	snprintf(g->url, sizeof(g->url), "%s/rgw", ph_stub_url(gws));
	ph_register(g, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	m = ph_msg("search", S.bap, NULL);
	EXPECT_ACK(ph_app(S.px, "/bap/search", ph_wire(m)), "client: search "
	    "without bpp_uri");
	ck_assert_int_eq(ph_stub_wait(gws, 1, SLOW_MS), 1);
	r = ph_stub_req(gws, 0);
	ck_assert_str_eq(r->uri, "/rgw/search");
	ck_assert(ph_verify(S.bap, ph_req_header(r, "Authorization"), r->body,
	    r->len));
	EXPECT_COUNT(P.stub, 0, "a search for the gateway");
}
END_TEST

/* A BPP app's callback goes to bap_uri, signed by the BPP. */
START_TEST(out_callback)
{
	struct ph_req	*r;
	json_object	*m;

	out_world();
	ph_start(S.px);
	m = ph_msg("on_select", P.bap, S.bpp);
	EXPECT_ACK(ph_app(S.px, "/bpp/on_select", ph_wire(m)), "client: "
	    "on_select from the BPP app");
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	r = ph_stub_req(P.stub, 0);
	ck_assert_str_eq(r->uri, "/pbap/on_select");
	if (!ph_verify(S.bpp, ph_req_header(r, "Authorization"), r->body,
	    r->len))
		PH_FAIL("on_select on the wire does not verify with "
		    "bpp.test's key");
}
END_TEST

/* The held call's responses: exactly one, from bap_id. */
#define expect_sync_answer(c, bap_id, mark, what) \
	expect_sync_answer_at(__FILE__, __LINE__, c, bap_id, mark, what)
static void
expect_sync_answer_at(const char *file, int line, struct ph_call *c,
    const char *bap_id, const char *mark, const char *what)
{
	json_object	*resp, *one;
	const char	*got;

	if (!ph_call_wait(c, SLOW_MS) || c->status != 200 || c->json == NULL ||
	    !json_object_object_get_ex(c->json, "responses", &resp) ||
	    !json_object_is_type(resp, json_type_array))
		ph_fail_at(file, line, "%s: want 200 with responses, got %s",
		    what, ph_describe(c));
	if (json_object_array_length(resp) != 1)
		ph_fail_at(file, line, "%s: want exactly its own callback, got "
		    "%zu responses: %.300s", what,
		    json_object_array_length(resp), c->body);
	one = json_object_array_get_idx(resp, 0);
	got = ph_ctx(one, "bap_id");
	if (got == NULL || strcmp(got, bap_id) != 0 ||
	    strstr(json_object_to_json_string(one), mark) == NULL)
		ph_fail_at(file, line, "%s: the held call was answered with "
		    "the callback for %s, not its own (%s)", what,
		    got != NULL ? got : "?", bap_id);
}

static json_object *
callback_for(struct ph_party *bap, struct ph_party *bpp, const char *mid,
    const char *tid, const char *mark)
{
	json_object	*m = ph_msg("on_select", bap, bpp), *msg, *order, *prov;

	ph_ctx_set(m, "message_id", mid);
	ph_ctx_set(m, "transaction_id", tid);
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	ck_assert(json_object_object_get_ex(order, "provider", &prov));
	json_object_object_add(prov, "id", json_object_new_string(mark));
	return m;
}

START_TEST(out_sync_select)
{
	struct ph_call	*c;
	json_object	*cb;
	const char	*tid, *mid;

	out_world();
	ph_start(S.px);
	c = ph_call_async(ph_client(S.px), "POST",
	    "/bap/select?sync=true&wait=PT3S", app_select("select"),
	    strlen(app_select("select")), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	mid = ph_ctx(ph_stub_req(P.stub, 0)->json, "message_id");
	tid = ph_ctx(ph_stub_req(P.stub, 0)->json, "transaction_id");
	cb = callback_for(S.bap, P.bpp, mid, tid, "provider-for-bap.test");
	EXPECT_ACK(ph_send(S.px, "/bap/on_select", ph_wire(cb), P.bpp),
	    "the BPP's on_select");
	expect_sync_answer(c, S.bap->sid, "provider-for-bap.test",
	    "select?sync=true");
	EXPECT_COUNT(S.w_bap, 1, "the callback also goes to the webhook");
}
END_TEST

START_TEST(out_role_not_sender)
{
	out_world();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bap/on_select",
	    ph_wire(ph_msg("on_select", S.bap, P.bpp))), 400, "40001", NULL,
	    "client: a BAP app posting on_select");
	EXPECT_NACK(ph_app(S.px, "/bpp/select",
	    ph_wire(ph_msg("on_select", P.bap, S.bpp))), 400, "40001", NULL,
	    "client: a BPP app posting select");
	EXPECT_COUNT(P.stub, 0, "actions the role does not send");
}
END_TEST

START_TEST(out_sync_not_bap)
{
	out_world();
	ph_start(S.px);
	EXPECT_NACK(ph_app(S.px, "/bpp/on_select?sync=true",
	    ph_wire(ph_msg("on_select", P.bap, S.bpp))), 400, "30000", NULL,
	    "client: sync=true on a BPP callback");
	EXPECT_COUNT(P.stub, 0, "sync on a BPP");
}
END_TEST

START_TEST(out_missing_peer)
{
	json_object	*m;

	out_world();
	ph_start(S.px);
	m = ph_msg("select", S.bap, NULL);
	EXPECT_NACK(ph_app(S.px, "/bap/select", ph_wire(m)), 400, "30000",
	    NULL, "client: select without bpp_id and bpp_uri");
	EXPECT_COUNT(P.stub, 0, "a select without a BPP");
}
END_TEST

START_TEST(out_no_gateway)
{
	struct ph_call	*c;
	const char	*msg;

	out_world();
	snprintf(S.gw_rec->domain, sizeof(S.gw_rec->domain), "other:domain");
	ph_registry_write();
	ph_start(S.px);
	c = ph_app(S.px, "/bap/search", ph_wire(ph_msg("search", S.bap,
	    NULL)));
	EXPECT_NACK(c, 502, "40000", NULL, "client: search without bpp_uri, "
	    "no gateway in the domain");
	msg = ph_err(c, "message");
	if (msg == NULL || strstr(msg, PH_DOMAIN) == NULL)
		PH_FAIL("the NACK should name the domain: %s", ph_describe(c));
}
END_TEST

START_TEST(out_peer_not_beckn)
{
	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 200, "<html>hello</html>");
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("select")), 502,
	    "40000", NULL, "client: the BPP answers 200 without a Beckn ACK");
}
END_TEST

/* No callback within the wait (from context.ttl): an empty answer. */
START_TEST(out_sync_no_callback)
{
	json_object	*m, *resp;
	struct ph_call	*c;
	const char	*body;

	out_world();
	ph_start(S.px);
	m = ph_msg("select", S.bap, P.bpp);
	ph_ctx_set(m, "ttl", "PT1S");
	body = ph_wire(m);
	c = ph_call_async(ph_client(S.px), "POST", "/bap/select?sync=true",
	    body, strlen(body), NULL);
	if (!ph_call_wait(c, SLOW_MS) || c->status != 200 || c->json == NULL ||
	    !json_object_object_get_ex(c->json, "responses", &resp) ||
	    json_object_array_length(resp) != 0)
		PH_FAIL("select?sync=true (ttl PT1S), no callback: want 200 "
		    "with responses [], got %s", ph_describe(c));
}
END_TEST

/* A peer's NACK answers a sync call at once. */
START_TEST(out_sync_peer_nack)
{
	struct ph_call	*c;
	const char	*v;

	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 400, "{\"message\":{\"ack\":{\"status\":"
	    "\"NACK\"}},\"error\":{\"code\":\"30004\",\"message\":"
	    "\"no such course\"}}");
	c = ph_call_async(ph_client(S.px), "POST",
	    "/bap/select?sync=true&wait=PT30S", app_select("select"),
	    strlen(app_select("select")), NULL);
	if (!ph_call_wait(c, SLOW_MS) || (v = ph_err(c, "code")) == NULL ||
	    strcmp(v, "30004") != 0)
		PH_FAIL("select?sync=true NACKed by the BPP: want the NACK at "
		    "once, got %s", ph_describe(c));
}
END_TEST

/* A sync search collects every on_search within the wait. */
START_TEST(out_sync_search_all)
{
	struct ph_stub	*gws;
	struct ph_party	*g;
	struct ph_call	*c;
	json_object	*resp, *cb;
	const char	*body, *mid, *tid;

	out_world();
	gws = ph_stub("gateway");
	g = ph_party("remote.gw.test", "/rgw");
	snprintf(g->url, sizeof(g->url), "%s/rgw", ph_stub_url(gws));
	ph_register(g, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	body = ph_wire(ph_msg("search", S.bap, NULL));
	c = ph_call_async(ph_client(S.px), "POST",
	    "/bap/search?sync=true&wait=PT1S", body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(gws, 1, SLOW_MS), 1);
	mid = ph_ctx(ph_stub_req(gws, 0)->json, "message_id");
	tid = ph_ctx(ph_stub_req(gws, 0)->json, "transaction_id");
	cb = ph_msg("on_search", S.bap, P.bpp);
	ph_ctx_set(cb, "message_id", mid);
	ph_ctx_set(cb, "transaction_id", tid);
	EXPECT_ACK(ph_send(S.px, "/bap/on_search", ph_wire(cb), P.bpp),
	    "on_search from peer.bpp.test");
	cb = ph_msg("on_search", S.bap, S.sbpp);
	ph_ctx_set(cb, "message_id", mid);
	ph_ctx_set(cb, "transaction_id", tid);
	EXPECT_ACK(ph_send(S.px, "/bap/on_search", ph_wire(cb), S.sbpp),
	    "on_search from sender.bpp.test");
	if (!ph_call_wait(c, SLOW_MS) || c->status != 200 || c->json == NULL ||
	    !json_object_object_get_ex(c->json, "responses", &resp) ||
	    json_object_array_length(resp) != 2)
		PH_FAIL("search?sync=true&wait=PT1S with two on_search: want "
		    "both in responses, got %s %.300s", ph_describe(c),
		    c->body != NULL ? c->body : "");
}
END_TEST

/* Two tenants, colliding message_ids: each held call gets its own. */
/*
 * Two tenants, one slow peer: tenant A's BPP holds every request, A's app
 * fills A's connections and queue to it; tenant B's select to another BPP
 * is still answered at once (each participant has its own connections).
 */
START_TEST(c_tenant_slow_peer)
{
	struct ph_party	*a, *b, *slow, *fast;
	struct ph_stub	*wa, *wb, *ss, *fs;
	struct ph_proxy	*t;
	struct ph_call	*c;
	const char	*body;
	int64_t		 t0;
	int		 i;

	wa = ph_stub("a-webhook");
	wb = ph_stub("b-webhook");
	ss = ph_stub("slow-bpp");
	fs = ph_stub("fast-bpp");
	a = ph_party("a.bap.test", "/bapa");
	b = ph_party("b.bap.test", "/bapb");
	slow = ph_party("slow.bpp.test", "/sbpp");
	fast = ph_party("fast.bpp.test", "/fbpp");
	snprintf(slow->url, sizeof(slow->url), "%s/sbpp", ph_stub_url(ss));
	snprintf(fast->url, sizeof(fast->url), "%s/fbpp", ph_stub_url(fs));
	ph_register(a, "BAP", PH_DOMAIN);
	ph_register(b, "BAP", PH_DOMAIN);
	ph_register(slow, "BPP", PH_DOMAIN);
	ph_register(fast, "BPP", PH_DOMAIN);
	ph_registry_write();
	t = ph_proxy("tenants");
	ph_host(t, a, "bap", wa, NULL);
	ph_host(t, b, "bap", wb, NULL);
	ph_set(t, "delivery.upstream_timeout", "30s");
	ph_start(t);
	ph_stub_answer(ss, 0, NULL);		/* holds every request */
	for (i = 0; i < 80; i++) {
		body = ph_wire(ph_msg("select", a, slow));
		(void)ph_call_async(ph_client(t), "POST", "/bapa/select", body,
		    strlen(body), NULL);
	}
	/* A's connections to its peer are all taken (64), the rest wait. */
	if (ph_stub_wait(ss, 64, SLOW_MS) < 64)
		PH_FAIL("the slow BPP got %d of A's selects", ph_stub_count(ss));
	ph_run_for(ph_ms(200));
	body = ph_wire(ph_msg("select", b, fast));
	t0 = clock_now_ms(NULL);
	c = ph_call(ph_client(t), "POST", "/bapb/select", body, strlen(body),
	    NULL);
	EXPECT_ACK(c, "tenant B's select while tenant A's peer holds 80");
	if (clock_now_ms(NULL) - t0 > ph_ms(1000))
		PH_FAIL("tenant B waited %lld ms behind tenant A's slow peer",
		    (long long)(clock_now_ms(NULL) - t0));
	EXPECT_COUNT(fs, 1, "tenant B's BPP");
	ph_stub_release(ss, 200, PH_ACK_BODY);
}
END_TEST

START_TEST(c_two_tenants_sync)
{
	struct ph_party	*a, *b, *peer;
	struct ph_stub	*wa, *wb, *ps;
	struct ph_proxy	*t;
	struct ph_call	*ca, *cb, *ra, *rb;
	struct ph_req	*r;
	const char	*mid = "5e1a7c3e-0000-4000-8000-00000000c011";
	const char	*tid_a = NULL, *tid_b = NULL, *body_a, *body_b;
	json_object	*m;
	int		 i;

	wa = ph_stub("a-webhook");
	wb = ph_stub("b-webhook");
	ps = ph_stub("peer");
	a = ph_party("a.bap.test", "/bapa");
	b = ph_party("b.bap.test", "/bapb");
	peer = ph_party("peer.bpp.test", "/pbpp");
	snprintf(peer->url, sizeof(peer->url), "%s/pbpp", ph_stub_url(ps));
	ph_register(a, "BAP", PH_DOMAIN);
	ph_register(b, "BAP", PH_DOMAIN);
	ph_register(peer, "BPP", PH_DOMAIN);
	ph_registry_write();
	t = ph_proxy("tenants");
	ph_host(t, a, "bap", wa, NULL);
	ph_host(t, b, "bap", wb, NULL);
	ph_start(t);

	m = ph_msg("select", a, peer);
	ph_ctx_set(m, "message_id", mid);
	body_a = ph_wire(m);
	m = ph_msg("select", b, peer);
	ph_ctx_set(m, "message_id", mid);
	body_b = ph_wire(m);
	ca = ph_call_async(ph_client(t), "POST",
	    "/bapa/select?sync=true&wait=PT2S", body_a, strlen(body_a), NULL);
	cb = ph_call_async(ph_client(t), "POST",
	    "/bapb/select?sync=true&wait=PT2S", body_b, strlen(body_b), NULL);
	if (ph_stub_wait(ps, 2, SLOW_MS) != 2)
		PH_FAIL("both tenants' selects should reach the BPP; it got %d "
		    "(a: %s, b: %s)", ph_stub_count(ps), ph_describe(ca),
		    ph_describe(cb));
	for (i = 0; i < 2; i++) {
		r = ph_stub_req(ps, i);
		if (strcmp(ph_ctx(r->json, "bap_id"), a->sid) == 0)
			tid_a = ph_ctx(r->json, "transaction_id");
		else
			tid_b = ph_ctx(r->json, "transaction_id");
	}
	ck_assert_ptr_nonnull(tid_a);
	ck_assert_ptr_nonnull(tid_b);

	ra = ph_send(t, "/bapa/on_select", ph_wire(callback_for(a, peer, mid,
	    tid_a, "provider-for-a")), peer);
	rb = ph_send(t, "/bapb/on_select", ph_wire(callback_for(b, peer, mid,
	    tid_b, "provider-for-b")), peer);
	expect_sync_answer(ca, a->sid, "provider-for-a", "tenant a.bap.test's "
	    "held select");
	expect_sync_answer(cb, b->sid, "provider-for-b", "tenant b.bap.test's "
	    "held select");
	EXPECT_ACK(ra, "on_select to a.bap.test");
	EXPECT_ACK(rb, "on_select to b.bap.test (same BPP, same message_id)");
	EXPECT_COUNT(wa, 1, "a.bap.test's webhook");
	EXPECT_COUNT(wb, 1, "b.bap.test's webhook");
}
END_TEST

/* {"context":...,"error":...} without "message": both listeners. */
START_TEST(c_error_only_callback)
{
	struct ph_stub	*wbap, *wbpp;
	struct ph_party	*bap, *bpp;
	struct ph_proxy	*pbap, *pbpp;
	struct ph_req	*r;
	json_object	*m, *e;
	const char	*body, *v;

	wbap = ph_stub("bap-webhook");
	wbpp = ph_stub("bpp-webhook");
	bap = ph_party("bap.test", "/bap");
	bpp = ph_party("bpp.test", "/bpp");
	ph_register(bap, "BAP", PH_DOMAIN);
	ph_register(bpp, "BPP", PH_DOMAIN);
	ph_registry_write();
	pbap = ph_proxy("bap");
	ph_host(pbap, bap, "bap", wbap, NULL);
	ph_start(pbap);
	ph_fix_urls(pbap);	/* bap.test's subscriber_url is reachable */
	pbpp = ph_proxy("bpp");
	ph_host(pbpp, bpp, "bpp", wbpp, NULL);
	ph_start(pbpp);

	/* 1: the BPP app posts it on its client listener. */
	body = ph_fmt("{\"context\":{\"domain\":\"%s\","
	    "\"action\":\"on_select\",\"version\":\"1.1.0\","
	    "\"bap_id\":\"%s\",\"bap_uri\":\"%s\","
	    "\"transaction_id\":\"7d4c2a8e-1b3f-4e6a-9c0d-5f2e8a1b3c4d\","
	    "\"message_id\":\"8e5d3b9f-2c4a-4f7b-8d1e-6a3f9b2c4d5e\"},"
	    "\"error\":{\"code\":\"30004\",\"message\":\"Item not found\"}}",
	    PH_DOMAIN, bap->sid, bap->url);
	EXPECT_ACK(ph_app(pbpp, "/bpp/on_select", body), "error-only on_select "
	    "from the BPP app (client listener)");
	if (ph_stub_wait(wbap, 1, SLOW_MS) != 1)
		PH_FAIL("the error-only on_select never reached the BAP's "
		    "webhook");
	r = ph_stub_req(wbap, 0);
	ck_assert_ptr_nonnull(r->json);
	ck_assert_msg(!json_object_object_get_ex(r->json, "message", NULL),
	    "a message appeared in an error-only callback: %s", r->body);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    json_object_object_get(r->json, "error"), "code")), "30004");
	v = ph_req_header(r, "X-Beckn-Sender");
	ck_assert_msg(v != NULL && strcmp(v, bpp->sid) == 0, "sender %s", v);

	/* 2: the same shape, signed, on the BAP's network listener. */
	m = ph_msg("on_select", bap, bpp);
	json_object_object_del(m, "message");
	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string("30004"));
	json_object_object_add(e, "message",
	    json_object_new_string("Item not found"));
	json_object_object_add(m, "error", e);
	body = ph_wire(m);
	EXPECT_ACK(ph_send(pbap, "/bap/on_select", body, bpp), "signed "
	    "error-only on_select on the BAP's network listener");
	expect_delivered(wbap, 1, "/hook/bap/on_select", body, bpp,
	    "error-only on_select");
}
END_TEST

/* ==== reload ========================================================= */

static const char *
big_select(void)
{
	json_object	*m = req_msg("select"), *msg, *order, *items, *d;
	char		 pad[3001];

	memset(pad, 'x', 3000);
	pad[3000] = '\0';
	ck_assert(json_object_object_get_ex(m, "message", &msg));
	ck_assert(json_object_object_get_ex(msg, "order", &order));
	ck_assert(json_object_object_get_ex(order, "items", &items));
	d = json_object_new_object();
	json_object_object_add(d, "long_desc", json_object_new_string(pad));
	json_object_object_add(json_object_array_get_idx(items, 0),
	    "descriptor", d);
	return ph_wire(m);
}

START_TEST(r_body_max)
{
	char	 err[1024];

	world_start();
	EXPECT_ACK(ph_send(S.px, "/bpp/select", big_select(), S.sbap),
	    "a 3 KiB select under the default body_max");
	ph_set(S.px, "limits.body_max", "2K");
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload lowering limits.body_max: %s", err);
	EXPECT_NACK(ph_send(S.px, "/bpp/select", big_select(), S.sbap), 413,
	    "30000", NULL, "a 3 KiB select after a reload to body_max 2K");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "a small select after the reload");
}
END_TEST

START_TEST(r_listen_refused)
{
	char	 err[1024];

	world_start();
	ph_set(S.px, "listen.network", "\"127.0.0.1:1\"");
	ph_set(S.px, "limits.body_max", "2K");
	err[0] = '\0';
	if (ph_reload(S.px, err, sizeof(err)) != -1)
		PH_FAIL("a reload changing listen.network was accepted");
	if (strstr(err, "listen.network") == NULL)
		PH_FAIL("a refused reload should name listen.network, it said: "
		    "%s", err);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", big_select(), S.sbap),
	    "a 3 KiB select: the old configuration keeps serving");
}
END_TEST

START_TEST(r_add_participant)
{
	struct ph_party	*n;
	struct ph_stub	*wn;
	char		 err[1024];
	const char	*body;

	world_start();
	wn = ph_stub("new-webhook");
	n = ph_party("new.bpp.test", "/nbpp");
	ph_register(n, "BPP", PH_DOMAIN);
	ph_registry_write();
	ph_host(S.px, n, "bpp", wn, NULL);
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload adding a participant: %s", err);
	body = ph_wire(ph_msg("select", S.sbap, n));
	EXPECT_ACK(ph_send(S.px, "/nbpp/select", body, S.sbap), "select to "
	    "a participant added by reload");
	expect_delivered(wn, 0, "/hook/nbpp/select", body, S.sbap,
	    "the added participant");
}
END_TEST

/* A key rotation by reload: the old snapshot goes once nothing holds it. */
START_TEST(r_key_rotation_snapshots)
{
	struct ph_call	*c;
	struct ph_req	*r;
	char		 err[1024];
	size_t		 n;

	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 0, NULL);
	c = ph_call_async(ph_client(S.px), "POST", "/bap/select",
	    app_select("select"), strlen(app_select("select")), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	ck_assert_ptr_nonnull(strstr(ph_req_header(ph_stub_req(P.stub, 0),
	    "Authorization"), "bap.test|k1|"));

	ph_party_rotate(S.bap, 1);		/* k2, a new key pair */
	ph_registry_write();
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload rotating bap.test's key: %s", err);
	if ((n = proxy_snapshots(ph_px(S.px))) != 2)
		PH_FAIL("with a request in flight across the rotation, want 2 "
		    "snapshots (old held by it, new), got %zu", n);
	ph_stub_release(P.stub, 200, PH_ACK_BODY);
	if (!ph_call_wait(c, SLOW_MS))
		PH_FAIL("the select held across the reload got no answer: %s",
		    ph_describe(c));
	EXPECT_ACK(c, "select in flight across the reload");

	EXPECT_ACK(ph_app(S.px, "/bap/select", app_select("select")),
	    "select after the rotation");
	ck_assert_int_eq(ph_stub_wait(P.stub, 2, SLOW_MS), 2);
	r = ph_stub_req(P.stub, 1);
	if (!ph_verify(S.bap, ph_req_header(r, "Authorization"), r->body,
	    r->len))
		PH_FAIL("after the rotation the select is not signed with the "
		    "new key k2: %s", ph_req_header(r, "Authorization"));
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("requests still in flight");
	if ((n = proxy_snapshots(ph_px(S.px))) != 1)
		PH_FAIL("after a key rotation with nothing in flight, want 1 "
		    "configuration snapshot, got %zu (old keys kept alive)",
		    n);
}
END_TEST

/* A reload the proxy refuses leaves the running configuration. */
START_TEST(r_refused_keeps_serving)
{
	char	 err[1024];

	world_start();
	ph_set(S.px, "validation.formats", "no-such-format");
	ph_set(S.px, "limits.body_max", "2K");
	if (ph_reload(S.px, err, sizeof(err)) != -1)
		PH_FAIL("a reload with validation.formats no-such-format was "
		    "accepted");
	if (strstr(err, "validation.formats") == NULL)
		PH_FAIL("the refused reload should name validation.formats: %s",
		    err);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", big_select(), S.sbap),
	    "a 3 KiB select after the refused reload (old body_max)");
}
END_TEST

START_TEST(px_new_listen_busy)
{
	struct ph_stub	*busy;
	struct conf	*c;
	struct proxy	*px;
	char		 err[1024];

	world();
	busy = ph_stub("busy");
	ph_set(S.px, "listen.network", ph_fmt("\"127.0.0.1:%d\"",
	    ph_stub_port(busy)));
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	px = proxy_new(ph_base(), c, NULL, err, sizeof(err));
	if (px != NULL) {
		proxy_free(px);
		PH_FAIL("proxy_new listened on a port already in use");
	}
	conf_free(c);
	if (strstr(err, "listen.network") == NULL)
		PH_FAIL("proxy_new on a busy port should name listen.network: "
		    "%s", err);
}
END_TEST

START_TEST(px_new_registry_missing)
{
	struct conf	*c;
	struct proxy	*px;
	char		 err[1024];

	world();
	ph_set(S.px, "registry.file", ph_fmt("\"%s\"",
	    ph_path("no-such-registry.json")));
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	px = proxy_new(ph_base(), c, NULL, err, sizeof(err));
	if (px != NULL) {
		proxy_free(px);
		PH_FAIL("proxy_new started without its registry file");
	}
	conf_free(c);
	if (strstr(err, "registry") == NULL)
		PH_FAIL("proxy_new without the registry file should say so: %s",
		    err);
}
END_TEST

/* listen.registry serves registry.file as POST /lookup; type matches
 * case-insensitively. */
START_TEST(lookup_endpoint)
{
	struct ph_party	*lower;
	struct ph_call	*c;
	const char	*q;
	int		 port;

	world();
	lower = ph_party("lower.bpp.test", "/lower");
	ph_register(lower, "bpp", PH_DOMAIN);
	ph_registry_write();
	ph_set(S.px, "listen.registry", "\"127.0.0.1:0\"");
	ph_start(S.px);
	port = proxy_registry_port(ph_px(S.px));
	q = "{\"subscriber_id\":\"sender.bap.test\"}";
	c = ph_call(port, "POST", "/lookup", q, strlen(q), NULL);
	if (!c->done || c->status != 200 || c->json == NULL ||
	    !json_object_is_type(c->json, json_type_array) ||
	    json_object_array_length(c->json) != 1)
		PH_FAIL("POST /lookup for sender.bap.test: want its record, "
		    "got %d %.300s", c->status, c->body != NULL ? c->body : "");
	q = "{\"type\":\"BPP\",\"subscriber_id\":\"lower.bpp.test\"}";
	c = ph_call(port, "POST", "/lookup", q, strlen(q), NULL);
	if (!c->done || c->status != 200 || c->json == NULL ||
	    !json_object_is_type(c->json, json_type_array) ||
	    json_object_array_length(c->json) != 1)
		PH_FAIL("POST /lookup type BPP for a record typed \"bpp\": "
		    "want it, got %d %.300s", c->status,
		    c->body != NULL ? c->body : "");
}
END_TEST

/* ==== counters, routing edges, parsing edges ========================= */

static struct proxy_counters
counters(const struct ph_proxy *pp)
{
	struct proxy_counters	 pc;

	proxy_counters(ph_px(pp), &pc);
	return pc;
}

#define expect_counter(got, want, what) do {				\
	if ((uint64_t)(got) != (uint64_t)(want))			\
		PH_FAIL("%s: want %llu, got %llu", what,		\
		    (unsigned long long)(want),				\
		    (unsigned long long)(got));				\
} while (0)

/* proxy_counters(): what each listener did, exactly. */
START_TEST(px_counters)
{
	struct proxy_counters	 pc;
	struct ph_call		*c;

	out_world();
	ph_start(S.px);
	pc = counters(S.px);
	expect_counter(pc.inbound_acked + pc.inbound_nacked +
	    pc.outbound_sent + pc.outbound_failed + pc.delivered, 0,
	    "counters of a fresh proxy");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select");
	EXPECT_NACK(ph_send(S.px, "/bpp/frobnicate", "{}", S.sbap), 404,
	    "40001", NULL, "unknown action");
	c = ph_call(ph_net(S.px), "GET", "/bpp/select", NULL, 0, NULL);
	EXPECT_NACK(c, 405, "30000", NULL, "GET");
	EXPECT_ACK(ph_app(S.px, "/bap/select", app_select("select")),
	    "client select");
	EXPECT_NACK(ph_app(S.px, "/bap/select", "[]"), 400, "30000", NULL,
	    "client: a JSON array");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("the delivery did not finish");
	pc = counters(S.px);
	expect_counter(pc.inbound_acked, 1, "inbound_acked");
	expect_counter(pc.inbound_nacked, 2, "inbound_nacked (404 + 405)");
	expect_counter(pc.outbound_sent, 1, "outbound_sent");
	expect_counter(pc.outbound_failed, 1, "outbound_failed");
	expect_counter(pc.delivered, 1, "delivered");
	expect_counter(pc.delivery_retries + pc.delivery_refused +
	    pc.delivery_dropped, 0, "delivery retries/refused/dropped");
	expect_counter(pc.gateway_forwarded + pc.gateway_failed, 0,
	    "gateway counters of a process without a gateway");
}
END_TEST

/* The action is one non-empty path segment of at most 64 bytes. */
START_TEST(route_action_shape_404)
{
	char		 longname[80];
	const char	*body;

	out_world();
	ph_start(S.px);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	body = ph_wire(req_msg("select"));
	expect_refused(ph_send(S.px, "/bpp/", body, S.sbap), 404, "40001",
	    NULL, "an empty action");
	expect_refused(ph_send(S.px, "/bpp/select/more", body, S.sbap), 404,
	    "40001", NULL, "an action with a '/' in it");
	expect_refused(ph_send(S.px, ph_fmt("/bpp/%s", longname), body,
	    S.sbap), 404, "40001", NULL, "an action of 65 bytes");
	EXPECT_NACK(ph_app(S.px, "/bap/select/more", app_select("select")),
	    404, "40001", NULL, "client: an action with a '/' in it");
	EXPECT_NACK(ph_app(S.px, ph_fmt("/bap/%s", longname),
	    app_select("select")), 404, "40001", NULL, "client: an action of "
	    "65 bytes");
	EXPECT_COUNT(P.stub, 0, "refused paths");
}
END_TEST

/* error.message of c contains want. */
#define expect_message(c, want, what) do {				\
	const char *m_ = ph_err(c, "message");				\
	if (m_ == NULL || strstr(m_, want) == NULL)			\
		PH_FAIL("%s: want error.message naming \"%s\", got %s",	\
		    what, want, ph_describe(c));			\
} while (0)

/* Only white space may follow the JSON value: a NUL does not end it. */
START_TEST(in_json_trailing)
{
	const char	*body, *auth, *sp;
	char		*buf;
	size_t		 n;
	struct ph_call	*c;

	world_start();
	body = ph_wire(req_msg("select"));
	n = strlen(body);
	buf = ph_keep(xmalloc(n + 2));
	memcpy(buf, body, n);
	memcpy(buf + n, "\0x", 2);
	auth = ph_sign_bytes(S.sbap, buf, n + 2, 0, 300);
	c = ph_call(ph_net(S.px), "POST", "/bpp/select", buf, n + 2,
	    (const char *const[]){ "Authorization", auth, NULL });
	expect_refused(c, 400, "30000", NULL, "a signed select followed by "
	    "a NUL and one more byte");
	expect_message(c, ph_fmt("byte %zu", n), "a NUL after the value");

	sp = ph_fmt("%s x", body);
	expect_refused(ph_send(S.px, "/bpp/select", sp, S.sbap), 400,
	    "30000", NULL, "a signed select followed by \" x\"");

	sp = ph_fmt("%s \t\r\n", body);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", sp, S.sbap), "a signed "
	    "select followed by white space");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", sp, S.sbap,
	    "trailing white space is part of the signed bytes");
}
END_TEST

START_TEST(out_json_trailing)
{
	const char	*body;
	char		*buf;
	size_t		 n;
	struct ph_call	*c;

	out_world();
	ph_start(S.px);
	body = app_select("select");
	n = strlen(body);
	buf = ph_keep(xmalloc(n + 3));
	memcpy(buf, body, n);
	memcpy(buf + n, "\0{}", 3);
	c = ph_call(ph_client(S.px), "POST", "/bap/select", buf, n + 3, NULL);
	EXPECT_NACK(c, 400, "30000", NULL, "client: a select followed by a "
	    "NUL and {}");
	expect_message(c, ph_fmt("byte %zu", n), "client: NUL after the "
	    "value");
	EXPECT_COUNT(P.stub, 0, "a client body with data after the value");
}
END_TEST

/* context must be an object; context.action must be there. */
START_TEST(in_context_shape)
{
	json_object	*m;

	world_start();
	expect_refused(ph_send(S.px, "/bpp/select",
	    "{\"context\":\"select\",\"message\":{}}", S.sbap), 400, "30000",
	    "/context", "context a string");
	m = req_msg("select");
	ph_ctx_set(m, "action", NULL);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 400,
	    "30000", "/context/action", "context without action");
}
END_TEST

/* A context id of another type than string is the schema's to judge. */
START_TEST(in_message_id_not_string)
{
	json_object	*m, *ctx;

	world_start();
	m = req_msg("select");
	ck_assert(json_object_object_get_ex(m, "context", &ctx));
	json_object_object_add(ctx, "message_id", json_object_new_int(42));
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 400,
	    "30000", "/context/message_id", "message_id a number");
}
END_TEST

/* A request without its message: the schema error is at the root. */
START_TEST(in_schema_root_error)
{
	json_object	*m;

	world_start();
	m = req_msg("select");
	json_object_object_del(m, "message");
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 400,
	    "30000", "/", "select without message");
}
END_TEST

/* No `schemas:` key: the compiled-in core 1.1.0 + ONEST set. */
START_TEST(in_builtin_schemas)
{
	json_object	*m;
	const char	*body;

	world();
	ph_schemas(S.px, NULL);
	ph_start(S.px);
	expect_refused(ph_send(S.px, "/bpp/init", ph_wire(init_invalid()),
	    S.sbap), 400, "30000",
	    "/message/order/items,/message/order/billing/email",
	    "built-in schemas: init with items a string and a bad email");
	m = req_msg("select");
	ph_ctx_set(m, "transaction_id", "");
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 400,
	    "30000", "/context/transaction_id", "built-in schemas: an empty "
	    "transaction_id (the ONEST layer)");
	body = ph_wire(req_msg("select"));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap), "built-in "
	    "schemas: a valid select");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "built-in schemas");
}
END_TEST

START_TEST(px_new_schemas_missing)
{
	struct conf	*c;
	struct proxy	*px;
	char		 err[1024];

	world();
	ph_schemas(S.px, ph_path("no-such-schema.yaml"));
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	px = proxy_new(ph_base(), c, NULL, err, sizeof(err));
	if (px != NULL) {
		proxy_free(px);
		PH_FAIL("proxy_new started without its schema file");
	}
	conf_free(c);
	if (strstr(err, "no-such-schema.yaml") == NULL)
		PH_FAIL("proxy_new without the schema file should name it: %s",
		    err);
}
END_TEST

/* ==== inbound odds and ends ========================================== */

/* security.replay_window: off -- the same bytes are taken twice. */
START_TEST(in_replay_off)
{
	const char	*body, *auth;
	struct ph_call	*c;
	int		 i;

	world();
	ph_set(S.px, "security.replay_window", "off");
	ph_start(S.px);
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	for (i = 0; i < 2; i++) {
		c = ph_call(ph_net(S.px), "POST", "/bpp/select", body,
		    strlen(body), (const char *const[]){ "Authorization", auth,
		    NULL });
		EXPECT_ACK(c, ph_fmt("copy %d with replay_window off", i + 1));
		expect_delivered(S.w_bpp, i, "/hook/bpp/select", body, S.sbap,
		    ph_fmt("copy %d with replay_window off", i + 1));
	}
}
END_TEST

/*
 * A domain without the ONEST policy: core 1.1.0 does not require
 * message_id.  Without one, the signature alone is remembered.
 */
#define PLAIN_DOMAIN	"plain:domain"

START_TEST(in_no_message_id)
{
	struct ph_party	*bpp, *bap, *snd, *sbpp;
	struct ph_stub	*wbpp, *wbap;
	struct ph_proxy	*pp;
	json_object	*m;
	const char	*body, *auth;
	struct ph_call	*c;

	wbpp = ph_stub("plain-bpp-webhook");
	wbap = ph_stub("plain-bap-webhook");
	bpp = ph_party("plain.bpp.test", "/pbpp");
	bap = ph_party("plain.bap.test", "/pbap");
	snd = ph_party("sender.bap.test", "/sbap");
	sbpp = ph_party("sender.bpp.test", "/sbpp");
	ph_register(snd, "BAP", PLAIN_DOMAIN);
	ph_register(sbpp, "BPP", PLAIN_DOMAIN);
	ph_registry_write();
	pp = ph_proxy("plain");
	ph_host(pp, bpp, "bpp", wbpp, "\"" PLAIN_DOMAIN "\"");
	ph_host(pp, bap, "bap", wbap, "\"" PLAIN_DOMAIN "\"");
	ph_start(pp);

	m = ph_msg("select", snd, bpp);
	ph_ctx_set(m, "domain", PLAIN_DOMAIN);
	ph_ctx_set(m, "message_id", NULL);
	body = ph_wire(m);
	auth = ph_sign(snd, body, 0, 300);
	c = ph_call(ph_net(pp), "POST", "/pbpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, "select without message_id (plain domain)");
	expect_delivered(wbpp, 0, "/hook/pbpp/select", body, snd,
	    "select without message_id");
	c = ph_call(ph_net(pp), "POST", "/pbpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_NACK(c, 401, "30000", NULL, "the same signed bytes again");
	ph_advance(1000);
	EXPECT_ACK(ph_send(pp, "/pbpp/select", body, snd), "the same select "
	    "under a new signature: no message_id to match");
	expect_delivered(wbpp, 1, "/hook/pbpp/select", body, snd,
	    "re-signed select without message_id");

	m = ph_msg("on_select", bap, sbpp);
	ph_ctx_set(m, "domain", PLAIN_DOMAIN);
	ph_ctx_set(m, "message_id", NULL);
	body = ph_wire(m);
	EXPECT_ACK(ph_send(pp, "/pbap/on_select", body, sbpp), "on_select "
	    "without message_id at a BAP");
	expect_delivered(wbap, 0, "/hook/pbap/on_select", body, sbpp,
	    "on_select without message_id");
	EXPECT_COUNT(wbpp, 2, "the BPP's webhook");
}
END_TEST

/* The signer must be named in the context. */
START_TEST(in_bind_sender_missing)
{
	json_object	*m;

	world_start();
	m = req_msg("select");
	ph_ctx_set(m, "bap_id", NULL);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(m), S.sbap), 401,
	    "30000", NULL, "a select signed by sender.bap.test without "
	    "context.bap_id");
}
END_TEST

/* A callback to a BAP must say which BAP. */
START_TEST(in_bind_callback_no_bap_id)
{
	json_object	*m;
	struct ph_call	*c;

	world_start();
	m = cb_msg("on_select");
	ph_ctx_set(m, "bap_id", NULL);
	c = ph_send(S.px, "/bap/on_select", ph_wire(m), S.sbpp);
	EXPECT_NACK(c, 400, "30000", "/context/bap_id", "on_select without "
	    "context.bap_id");
	EXPECT_COUNT(S.w_bap, 0, "on_select without bap_id");
}
END_TEST

/* One key, two records (BPP and BG): neither may send select; the
 * refusal names the first record's type. */
START_TEST(in_bind_two_records_neither)
{
	struct ph_party	*p;
	struct ph_call	*c;

	world();
	p = ph_party("twice.test", "/twice");
	ph_register(p, "BPP", PH_DOMAIN);
	ph_register(p, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	c = ph_send(S.px, "/bpp/select", ph_wire(ph_msg("select", p, S.bpp)),
	    p);
	expect_refused(c, 401, "30000", NULL, "select from a key registered "
	    "as BPP and as BG");
	expect_message(c, "BPP", "the first record's type");
}
END_TEST

/* A participant listing no domains takes any domain its senders are
 * registered for; one listing several takes each of them. */
START_TEST(in_participant_domains)
{
	struct ph_party	*any, *two;
	struct ph_stub	*wany, *wtwo;
	json_object	*m;
	const char	*body;

	world();
	wany = ph_stub("any-webhook");
	wtwo = ph_stub("two-webhook");
	any = ph_party("any.bpp.test", "/anyd");
	two = ph_party("two.bpp.test", "/twod");
	ph_register(any, "BPP", NULL);
	ph_register(two, "BPP", NULL);
	ph_registry_write();
	ph_host(S.px, any, "bpp", wany, "");
	ph_host(S.px, two, "bpp", wtwo, "\"first:domain\", \"other:domain\"");
	ph_start(S.px);
	m = ph_msg("select", S.xdom, any);
	ph_ctx_set(m, "domain", "other:domain");
	body = ph_wire(m);
	EXPECT_ACK(ph_send(S.px, "/anyd/select", body, S.xdom), "select in "
	    "other:domain at a BPP listing no domains");
	expect_delivered(wany, 0, "/hook/anyd/select", body, S.xdom,
	    "a BPP without domains");
	m = ph_msg("select", S.xdom, two);
	ph_ctx_set(m, "domain", "other:domain");
	body = ph_wire(m);
	EXPECT_ACK(ph_send(S.px, "/twod/select", body, S.xdom), "select in "
	    "the second of a BPP's two domains");
	expect_delivered(wtwo, 0, "/hook/twod/select", body, S.xdom,
	    "the second domain");
	m = ph_msg("select", S.sbap, two);
	EXPECT_NACK(ph_send(S.px, "/twod/select", ph_wire(m), S.sbap), 400,
	    "30000", "/context/domain", "select in a domain the BPP does not "
	    "list");
	EXPECT_COUNT(wtwo, 1, "a domain the BPP does not serve");
}
END_TEST

/*
 * A wrong signature under a cached key: the registry is asked once more
 * (the key may have rotated), then refused; a second one within
 * registry.refresh_interval of that is refused without asking.
 */
START_TEST(in_cached_key_wrong_signature)
{
	struct sig_key	*k;
	const char	*body, *auth;
	struct ph_call	*c;
	int		 before, i;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select (its key now cached)");
	ph_advance(6000);	/* past refresh_interval (5 s) */
	ck_assert_ptr_nonnull(k = sig_key_generate());
	for (i = 0; i < 2; i++) {
		before = ph_registry_requests();
		body = ph_wire(req_msg("select"));
		auth = ph_sign_key(k, S.sbap->sid, S.sbap->kid, body, 0, 300);
		c = ph_call(ph_net(S.px), "POST", "/bpp/select", body,
		    strlen(body), (const char *const[]){ "Authorization", auth,
		    NULL });
		if (ph_registry_requests() - before != (i == 0 ? 1 : 0)) {
			sig_key_free(k);
			PH_FAIL("wrong signature %d under a cached key: want %d "
			    "registry request(s), got %d", i + 1, i == 0 ? 1 : 0,
			    ph_registry_requests() - before);
		}
		ph_expect_nack_at(__FILE__, __LINE__, c, 401, "30000", NULL,
		    "a wrong signature under a cached key");
	}
	sig_key_free(k);
	EXPECT_COUNT(S.w_bpp, 1, "wrong signatures");
}
END_TEST

/* The gateway rotates its key under the same key id: the cached one
 * fails, the registry is asked again, the search is accepted. */
START_TEST(in_gw_key_rotated)
{
	const char	*body, *auth, *gwa;
	struct ph_call	*c;
	int		 i, before = 0;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	for (i = 0; i < 2; i++) {
		if (i == 1) {
			ph_party_rotate(S.gw, 0);
			ph_advance(6000);	/* past refresh_interval */
			before = ph_registry_requests();
		}
		body = ph_wire(ph_msg("search", S.sbap, NULL));
		auth = ph_sign(S.sbap, body, 0, 300);
		gwa = ph_sign(S.gw, body, 0, 300);
		c = ph_call(ph_net(S.px), "POST", "/bpp/search", body,
		    strlen(body), (const char *const[]){ "Authorization", auth,
		    "X-Gateway-Authorization", gwa, NULL });
		EXPECT_ACK(c, i == 0 ? "search through the gateway" :
		    "search through the gateway after its key rotated");
	}
	if (ph_registry_requests() - before != 1)
		PH_FAIL("the gateway's rotated key: want 1 registry request "
		    "(its key refreshed), got %d", ph_registry_requests() -
		    before);
	EXPECT_COUNT(S.w_bpp, 2, "searches around a gateway key rotation");
}
END_TEST

/*
 * security.replay_sender_quota: one sender cannot fill the replay cache
 * for everyone.  A message takes two entries (signature, message id).
 */
START_TEST(in_replay_quota)
{
	struct ph_call	*c;

	world();
	ph_set(S.px, "security.replay_sender_quota", "2");
	ph_start(S.px);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "sender.bap.test's first select (2 entries of 2)");
	c = ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")), S.sbap);
	EXPECT_NACK(c, 503, "40000", NULL, "sender.bap.test's second select "
	    "over its quota");
	expect_message(c, "sender.bap.test", "the sender over its quota");
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(ph_msg("select",
	    S.obap, S.bpp)), S.obap), "another sender's select");
	ph_advance(11 * 60 * 1000);	/* past replay_window and expires */
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "sender.bap.test once its entries expired");
	EXPECT_COUNT(S.w_bpp, 3, "selects around the quota");
}
END_TEST

/* ==== gateway ======================================================== */

/* A gateway process hosting gw.local.test, and a BAP of any domain. */
static struct {
	struct ph_party	*gw, *bap;
	struct ph_proxy	*g;
} G;

static void
gw_world(const char *domains)
{
	memset(&G, 0, sizeof(G));
	G.gw = ph_party("gw.local.test", "/gw");
	G.bap = ph_party("sender.bap.test", "/sbap");
	ph_register(G.gw, "BG", PH_DOMAIN);
	ph_register(G.bap, "BAP", NULL);
	G.g = ph_proxy("gateway");
	ph_host(G.g, G.gw, "gateway", NULL, domains);
}

/* A BPP of domain at url ("" = no subscriber_url in its record). */
static struct ph_party *
gw_bpp(const char *sid, const char *url, const char *domain)
{
	struct ph_party	*p = ph_party(sid, NULL);

	snprintf(p->url, sizeof(p->url), "%s", url);
	ph_register(p, "BPP", domain);
	return p;
}

/* The stub got the BAP's exact search, signed by the BAP and the
 * gateway, at uri. */
#define expect_forwarded(s, uri, body, what) \
	expect_forwarded_at(__FILE__, __LINE__, s, uri, body, what)
static void
expect_forwarded_at(const char *file, int line, struct ph_stub *s,
    const char *uri, const char *body, const char *what)
{
	struct ph_req	*r;

	if (ph_stub_wait(s, 1, SLOW_MS) < 1)
		ph_fail_at(file, line, "%s: the search never arrived", what);
	r = ph_stub_req(s, 0);
	if (strcmp(r->uri, uri) != 0 || r->len != strlen(body) ||
	    memcmp(r->body, body, r->len) != 0)
		ph_fail_at(file, line, "%s: want the exact search at %s, got "
		    "%zu bytes at %s", what, uri, r->len, r->uri);
	if (!ph_verify(G.bap, ph_req_header(r, "Authorization"), r->body,
	    r->len))
		ph_fail_at(file, line, "%s: the BAP's Authorization does not "
		    "verify: %s", what, ph_req_header(r, "Authorization"));
	if (!ph_verify(G.gw, ph_req_header(r, "X-Gateway-Authorization"),
	    r->body, r->len))
		ph_fail_at(file, line, "%s: X-Gateway-Authorization does not "
		    "verify with the gateway's key: %s", what,
		    ph_req_header(r, "X-Gateway-Authorization"));
}

/*
 * Each BPP's answer counts on its own: ACK (forwarded), NACK, a 2xx that
 * is not a Beckn ACK, ACK with HTTP 500, unreachable (failed).  A record
 * without subscriber_url is no target; a trailing '/' is not doubled.
 * The BAP gets its ACK whatever the BPPs say.
 */
START_TEST(gw_bpp_outcomes)
{
	struct ph_stub		*ack, *nack, *ok, *e500;
	struct proxy_counters	 pc;
	const char		*body;

	ack = ph_stub("bpp-ack");
	nack = ph_stub("bpp-nack");
	ok = ph_stub("bpp-ok");
	e500 = ph_stub("bpp-500");
	ph_stub_answer(nack, 200, "{\"message\":{\"ack\":{\"status\":"
	    "\"NACK\"}},\"error\":{\"code\":\"30004\",\"message\":"
	    "\"not today\"}}");
	ph_stub_answer(ok, 200, "OK");
	ph_stub_answer(e500, 500, PH_ACK_BODY);
	gw_world(NULL);
	gw_bpp("ack.bpp.test", ph_fmt("%s/a/", ph_stub_url(ack)), PH_DOMAIN);
	gw_bpp("nack.bpp.test", ph_fmt("%s/n", ph_stub_url(nack)), PH_DOMAIN);
	gw_bpp("ok.bpp.test", ph_fmt("%s/o", ph_stub_url(ok)), PH_DOMAIN);
	gw_bpp("e500.bpp.test", ph_fmt("%s/e", ph_stub_url(e500)), PH_DOMAIN);
	gw_bpp("dead.bpp.test", ph_fmt("http://127.0.0.1:%d/d",
	    ph_dead_port()), PH_DOMAIN);
	gw_bpp("nourl.bpp.test", "", PH_DOMAIN);
	gw_bpp("elsewhere.bpp.test", ph_fmt("%s/x", ph_stub_url(ack)),
	    "other:domain");
	ph_registry_write();
	ph_start(G.g);

	body = ph_wire(ph_msg("search", G.bap, NULL));
	EXPECT_ACK(ph_send(G.g, "/gw/search", body, G.bap), "search at the "
	    "gateway, whatever its BPPs answer");
	if (!ph_idle(G.g, SLOW_MS))
		PH_FAIL("the fan-out did not finish");
	expect_forwarded(ack, "/a/search", body, "the ACKing BPP (url with "
	    "a trailing '/')");
	expect_forwarded(nack, "/n/search", body, "the NACKing BPP");
	expect_forwarded(ok, "/o/search", body, "the BPP answering \"OK\"");
	expect_forwarded(e500, "/e/search", body, "the BPP answering ACK with "
	    "HTTP 500");
	EXPECT_COUNT(ack, 1, "the other domain's BPP shares the stub");
	pc = counters(G.g);
	expect_counter(pc.gateway_forwarded, 1, "gateway_forwarded (the "
	    "ACKing BPP)");
	expect_counter(pc.gateway_failed, 4, "gateway_failed (NACK, \"OK\", "
	    "ACK with 500, unreachable)");
	expect_counter(pc.inbound_acked, 1, "inbound_acked");
}
END_TEST

/* No BPP in the domain: the search is ACKed and goes nowhere; a BPP of
 * the gateway's other domain gets nothing. */
START_TEST(gw_no_bpp_in_domain)
{
	struct ph_stub		*s;
	struct proxy_counters	 pc;
	json_object		*m;

	s = ph_stub("bpp");
	gw_world("\"" PH_DOMAIN "\", \"empty:domain\"");
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), PH_DOMAIN);
	ph_registry_write();
	ph_start(G.g);
	m = ph_msg("search", G.bap, NULL);
	ph_ctx_set(m, "domain", "empty:domain");
	EXPECT_ACK(ph_send(G.g, "/gw/search", ph_wire(m), G.bap), "search "
	    "in a domain without BPPs");
	if (!ph_idle(G.g, SLOW_MS))
		PH_FAIL("a fan-out to nobody is still pending");
	EXPECT_COUNT(s, 0, "a BPP of another domain");
	pc = counters(G.g);
	expect_counter(pc.gateway_forwarded + pc.gateway_failed, 0,
	    "gateway counters of a search to nobody");
}
END_TEST

/* Where the schema allows it (no ONEST policy), a search without
 * message_id is forwarded like any other. */
START_TEST(gw_search_without_message_id)
{
	struct ph_stub		*s;
	json_object		*m;
	const char		*body;

	s = ph_stub("bpp");
	gw_world("\"" PLAIN_DOMAIN "\"");
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), PLAIN_DOMAIN);
	ph_registry_write();
	ph_start(G.g);
	m = ph_msg("search", G.bap, NULL);
	ph_ctx_set(m, "domain", PLAIN_DOMAIN);
	ph_ctx_set(m, "message_id", NULL);
	body = ph_wire(m);
	EXPECT_ACK(ph_send(G.g, "/gw/search", body, G.bap), "search without "
	    "message_id at the gateway");
	expect_forwarded(s, "/a/search", body, "search without message_id");
	if (!ph_idle(G.g, SLOW_MS))
		PH_FAIL("the fan-out did not finish");
	expect_counter(counters(G.g).gateway_forwarded, 1,
	    "gateway_forwarded");
}
END_TEST

/* A gateway listing no domains still never fans out without one. */
START_TEST(gw_no_domains_search_without_domain)
{
	struct ph_stub	*s;
	json_object	*m;
	struct ph_call	*c;

	s = ph_stub("bpp");
	gw_world("");
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), NULL);
	ph_registry_write();
	ph_start(G.g);
	m = ph_msg("search", G.bap, NULL);
	ph_ctx_set(m, "domain", NULL);
	c = ph_send(G.g, "/gw/search", ph_wire(m), G.bap);
	EXPECT_NACK(c, 400, "30000", "/context/domain", "search without "
	    "context.domain at a gateway listing no domains");
	EXPECT_COUNT(s, 0, "a search without domain");
}
END_TEST

/* The registry fails the BPP list: 503, and the same signed search is
 * ACKed once it is back. */
START_TEST(gw_registry_down_for_bpps)
{
	struct ph_stub	*s;
	const char	*body, *auth;
	struct ph_call	*c;

	s = ph_stub("bpp");
	gw_world(NULL);
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), PH_DOMAIN);
	ph_registry_write();
	ph_set(G.g, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(G.g);
	ph_registry_mode(PH_REG_LISTS_500);
	body = ph_wire(ph_msg("search", G.bap, NULL));
	auth = ph_sign(G.bap, body, 0, 300);
	c = ph_call(ph_net(G.g), "POST", "/gw/search", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_NACK(c, 503, "40000", NULL, "search while the registry fails "
	    "the BPP list");
	EXPECT_COUNT(s, 0, "a search the gateway refused");
	ph_registry_mode(PH_REG_RECORDS);
	c = ph_call(ph_net(G.g), "POST", "/gw/search", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	EXPECT_ACK(c, "the same signed search once the registry is back");
	expect_forwarded(s, "/a/search", body, "the retried search");
}
END_TEST

static int
registry_holds(void *arg)
{
	return ph_registry_held() >= *(int *)arg;
}

/*
 * Two copies of one signed search race through the gateway: both pass
 * the replay check while the BPP list is looked up; the first to commit
 * is ACKed, the other refused as replayed.  The BPP gets it once.
 */
START_TEST(gw_replay_race)
{
	struct ph_stub	*s;
	const char	*body, *auth, *hdrs[3];
	struct ph_call	*c[2];
	int		 one = 1, i, acked = 0;

	s = ph_stub("bpp");
	gw_world(NULL);
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), PH_DOMAIN);
	ph_registry_write();
	ph_set(G.g, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(G.g);
	ph_registry_mode(PH_REG_HOLD);
	body = ph_wire(ph_msg("search", G.bap, NULL));
	auth = ph_sign(G.bap, body, 0, 300);
	hdrs[0] = "Authorization";
	hdrs[1] = auth;
	hdrs[2] = NULL;
	for (i = 0; i < 2; i++)
		c[i] = ph_call_async(ph_net(G.g), "POST", "/gw/search", body,
		    strlen(body), hdrs);
	if (!ph_run_until(registry_holds, &one, ph_ms(SLOW_MS)))
		PH_FAIL("the key lookup never reached the registry");
	ph_run_for(ph_ms(100));		/* both copies wait for the key */
	ph_registry_release();
	if (!ph_run_until(registry_holds, &one, ph_ms(SLOW_MS)))
		PH_FAIL("the BPP list lookup never reached the registry");
	ph_run_for(ph_ms(100));		/* both copies wait for the list */
	ph_registry_mode(PH_REG_RECORDS);
	ph_registry_release();
	for (i = 0; i < 2; i++) {
		if (!ph_call_wait(c[i], SLOW_MS))
			PH_FAIL("copy %d: %s", i + 1, ph_describe(c[i]));
		if (c[i]->status == 200)
			acked++;
		else {
			EXPECT_NACK(c[i], 401, "30000", NULL, "the copy that "
			    "lost the race");
			expect_message(c[i], "meanwhile", "the copy that lost "
			    "the race");
		}
	}
	if (acked != 1)
		PH_FAIL("two racing copies of one search: want one ACK, got "
		    "%d (%s / %s)", acked, ph_describe(c[0]),
		    ph_describe(c[1]));
	EXPECT_COUNT(s, 1, "two racing copies of one search");
}
END_TEST

/* A fan-out in flight keeps the gateway busy; freeing the gateway drops
 * its transfers to the BPPs, so a late answer finds nothing (run under
 * valgrind: no invalid access, no leak). */
START_TEST(gw_fanout_in_flight)
{
	struct ph_stub	*s;

	s = ph_stub("bpp");
	gw_world(NULL);
	gw_bpp("a.bpp.test", ph_fmt("%s/a", ph_stub_url(s)), PH_DOMAIN);
	ph_registry_write();
	ph_start(G.g);
	ph_stub_answer(s, 0, NULL);
	EXPECT_ACK(ph_send(G.g, "/gw/search", ph_wire(ph_msg("search", G.bap,
	    NULL)), G.bap), "search 1");
	ck_assert_int_eq(ph_stub_wait(s, 1, SLOW_MS), 1);
	ph_settle();
	if (proxy_idle(ph_px(G.g)))
		PH_FAIL("idle while a BPP has not answered the fan-out");
	ph_stub_release(s, 200, PH_ACK_BODY);
	if (!ph_idle(G.g, SLOW_MS))
		PH_FAIL("not idle once the BPP answered");
	expect_counter(counters(G.g).gateway_forwarded, 1,
	    "gateway_forwarded");

	/* Two fan-outs in flight when the gateway is freed. */
	ph_stub_answer(s, 0, NULL);
	EXPECT_ACK(ph_send(G.g, "/gw/search", ph_wire(ph_msg("search", G.bap,
	    NULL)), G.bap), "search 2");
	EXPECT_ACK(ph_send(G.g, "/gw/search", ph_wire(ph_msg("search", G.bap,
	    NULL)), G.bap), "search 3");
	ck_assert_int_eq(ph_stub_wait(s, 3, SLOW_MS), 3);
	ck_assert_int_eq(ph_stub_held(s), 2);
	if (proxy_idle(ph_px(G.g)))
		PH_FAIL("idle while a BPP has not answered the fan-outs");
	ph_stop(G.g);
	ph_stub_release(s, 200, PH_ACK_BODY);	/* too late */
	ph_settle();
	EXPECT_COUNT(s, 3, "searches at the BPP");
}
END_TEST

/* ==== client listener odds and ends ================================== */

/* The BPP's callback for the held call's select, from the peer stub. */
static json_object *
held_callback(int i)
{
	struct ph_req	*r = ph_stub_req(P.stub, i);

	return callback_for(S.bap, P.bpp, ph_ctx(r->json, "message_id"),
	    ph_ctx(r->json, "transaction_id"), "provider-for-bap.test");
}

/* ?sync=1 holds the call; sync=false or 0 does not; other query items
 * are ignored; any other sync value is a 400, not a silent plain call. */
START_TEST(out_sync_query_forms)
{
	static const char *const plain[] = { "?sync=0", "?foo=bar&sync=false",
	    "?sync=true&sync=false" };
	static const char *const bad[] = { "?sync", "?sync=yes", "?sync=" };
	struct ph_call	*c;
	const char	*body;
	int		 i;

	out_world();
	ph_start(S.px);
	body = app_select("select");
	c = ph_call_async(ph_client(S.px), "POST", "/bap/select?sync=1&wait="
	    "PT2S", body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	ph_settle();
	if (c->done)
		PH_FAIL("select?sync=1: answered before any callback: %s",
		    ph_describe(c));
	EXPECT_ACK(ph_send(S.px, "/bap/on_select",
	    ph_wire(held_callback(0)), P.bpp), "on_select");
	expect_sync_answer(c, S.bap->sid, "provider-for-bap.test",
	    "select?sync=1");
	for (i = 0; i < NELEM(plain); i++) {
		c = ph_app(S.px, ph_fmt("/bap/select%s", plain[i]), body);
		EXPECT_ACK(c, ph_fmt("select%s: not a sync call", plain[i]));
		if (json_object_object_get_ex(c->json, "responses", NULL))
			PH_FAIL("select%s was answered as a sync call: %s",
			    plain[i], c->body);
	}
	for (i = 0; i < NELEM(bad); i++)
		EXPECT_NACK(ph_app(S.px, ph_fmt("/bap/select%s", bad[i]), body),
		    400, "30000", NULL, ph_fmt("select%s", bad[i]));
	EXPECT_COUNT(P.stub, 1 + NELEM(plain), "selects at the BPP");
}
END_TEST

/* sync=true without wait: context.ttl when it is a duration within 5
 * minutes, else (over, zero, not a duration) 30 s; absent, the ttl the
 * context is completed with.  A callback answers the call either way. */
START_TEST(out_sync_ttl_fallback)
{
	static const char *const ttl[] = { "PT10M", "PT0S", "soon", NULL };
	json_object	*m;
	struct ph_call	*c;
	const char	*body;

	out_world();
	ph_start(S.px);
	m = ph_msg("select", S.bap, P.bpp);
	ph_ctx_set(m, "ttl", ttl[_i]);
	body = ph_wire(m);
	c = ph_call_async(ph_client(S.px), "POST", "/bap/select?sync=true",
	    body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	ph_settle();
	if (c->done)
		PH_FAIL("select?sync=true with ttl %s: answered before the "
		    "callback: %s", ttl[_i] != NULL ? ttl[_i] : "(none)",
		    ph_describe(c));
	EXPECT_ACK(ph_send(S.px, "/bap/on_select",
	    ph_wire(held_callback(0)), P.bpp), "on_select");
	expect_sync_answer(c, S.bap->sid, "provider-for-bap.test",
	    ph_fmt("select?sync=true with ttl %s", ttl[_i] != NULL ? ttl[_i] :
	    "(none)"));
}
END_TEST

/* The BPP calls back before its ACK reached us: the held call answers
 * with that callback once the ACK is in. */
START_TEST(out_sync_callback_before_ack)
{
	struct ph_call	*c;
	const char	*body;

	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 0, NULL);
	body = app_select("select");
	c = ph_call_async(ph_client(S.px), "POST",
	    "/bap/select?sync=true&wait=PT5S", body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	EXPECT_ACK(ph_send(S.px, "/bap/on_select",
	    ph_wire(held_callback(0)), P.bpp), "on_select "
	    "before the BPP's ACK");
	ph_settle();
	if (c->done)
		PH_FAIL("answered before the BPP's ACK: %s", ph_describe(c));
	ph_stub_release(P.stub, 200, PH_ACK_BODY);
	expect_sync_answer(c, S.bap->sid, "provider-for-bap.test",
	    "select?sync=true, callback before the ACK");
}
END_TEST

/* A held call takes only its own message's callback of the paired
 * action. */
START_TEST(out_sync_only_own_callback)
{
	struct ph_call	*c;
	json_object	*cb;
	const char	*body, *mid, *tid;

	out_world();
	ph_start(S.px);
	body = app_select("select");
	c = ph_call_async(ph_client(S.px), "POST",
	    "/bap/select?sync=true&wait=PT5S", body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	mid = ph_ctx(ph_stub_req(P.stub, 0)->json, "message_id");
	tid = ph_ctx(ph_stub_req(P.stub, 0)->json, "transaction_id");
	cb = callback_for(S.bap, P.bpp, "5e1a7c3e-0000-4000-8000-0000000000aa",
	    tid, "provider-other-message");
	EXPECT_ACK(ph_send(S.px, "/bap/on_select", ph_wire(cb), P.bpp),
	    "on_select of another message");
	cb = ph_msg("on_init", S.bap, P.bpp);
	ph_ctx_set(cb, "message_id", mid);
	ph_ctx_set(cb, "transaction_id", tid);
	EXPECT_ACK(ph_send(S.px, "/bap/on_init", ph_wire(cb), P.bpp),
	    "on_init with the held select's message_id");
	ph_settle();
	if (c->done)
		PH_FAIL("the held select took another callback: %s", c->body);
	cb = callback_for(S.bap, P.bpp, mid, tid, "provider-own");
	EXPECT_ACK(ph_send(S.px, "/bap/on_select", ph_wire(cb), P.bpp),
	    "the select's own on_select");
	expect_sync_answer(c, S.bap->sid, "provider-own", "held select");
	EXPECT_COUNT(S.w_bap, 3, "every callback still goes to the webhook");
}
END_TEST

/* A gateway has nothing to send on a client listener. */
START_TEST(out_gateway_app_400)
{
	gw_world(NULL);
	ph_start(G.g);
	EXPECT_NACK(ph_app(G.g, "/gw/search", ph_wire(ph_msg("search", G.bap,
	    NULL))), 400, "40001", NULL, "client: a gateway's app posting "
	    "search");
}
END_TEST

/* Where the schema does not ask for them (no ONEST policy), a select
 * still needs bpp_id and bpp_uri to be routed. */
START_TEST(out_select_route_fields)
{
	json_object	*m;

	out_world();
	ph_start(S.px);
	m = ph_msg("select", S.bap, P.bpp);
	ph_ctx_set(m, "domain", PLAIN_DOMAIN);
	ph_ctx_set(m, "bpp_uri", NULL);
	EXPECT_NACK(ph_app(S.px, "/bap/select", ph_wire(m)), 400, "30000",
	    "/context/bpp_uri", "client: select with bpp_id, without "
	    "bpp_uri");
	ph_ctx_set(m, "bpp_id", NULL);
	EXPECT_NACK(ph_app(S.px, "/bap/select", ph_wire(m)), 400, "30000",
	    "/context/bpp_id", "client: select without bpp_id and bpp_uri");
	EXPECT_COUNT(P.stub, 0, "selects that cannot be routed");
}
END_TEST

/* The peer's word, read strictly: a bare NACK gets default code and
 * message; an ACK with HTTP 500 is no ACK. */
START_TEST(out_peer_answers)
{
	struct ph_call	*c;

	out_world();
	ph_start(S.px);
	ph_stub_answer(P.stub, 200, "{\"message\":{\"ack\":{\"status\":"
	    "\"NACK\"}}}");
	c = ph_app(S.px, "/bap/select", app_select("select"));
	EXPECT_NACK(c, 200, "30000", NULL, "client: the BPP NACKs without "
	    "error");
	expect_message(c, "NACK (HTTP 200)", "a bare NACK");
	ph_stub_answer(P.stub, 500, PH_ACK_BODY);
	c = ph_app(S.px, "/bap/select", app_select("select"));
	EXPECT_NACK(c, 200, "30000", NULL, "client: the BPP answers ACK with "
	    "HTTP 500");
	expect_message(c, "HTTP 500", "ACK with HTTP 500");
	expect_counter(counters(S.px).outbound_sent, 2, "outbound_sent (the "
	    "peer's word relayed)");
}
END_TEST

/* Gateways of the domain: a record without url is none; a url with a
 * trailing '/' is not doubled; when every gateway NACKs, the first
 * NACK is relayed. */
START_TEST(out_search_gateways)
{
	struct ph_stub	*g1, *g2;
	struct ph_party	*a, *b, *n;
	struct ph_call	*c;

	out_world();
	g1 = ph_stub("gateway-1");
	g2 = ph_stub("gateway-2");
	a = ph_party("a.gw.test", "/ga");
	b = ph_party("b.gw.test", "/gb");
	n = ph_party("nourl.gw.test", "/gn");
	snprintf(a->url, sizeof(a->url), "%s/ga/", ph_stub_url(g1));
	snprintf(b->url, sizeof(b->url), "%s/gb", ph_stub_url(g2));
	n->url[0] = '\0';
	snprintf(S.gw_rec->domain, sizeof(S.gw_rec->domain), "other:domain");
	ph_register(a, "BG", PH_DOMAIN);
	ph_register(n, "BG", PH_DOMAIN);
	ph_register(b, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	EXPECT_ACK(ph_app(S.px, "/bap/search", ph_wire(ph_msg("search", S.bap,
	    NULL))), "client: search to two gateways");
	EXPECT_COUNT(g1, 1, "gateway a");
	EXPECT_COUNT(g2, 1, "gateway b");
	ck_assert_str_eq(ph_stub_req(g1, 0)->uri, "/ga/search");
	ck_assert_str_eq(ph_stub_req(g2, 0)->uri, "/gb/search");

	ph_stub_answer(g1, 400, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30001\",\"message\":\"gateway a says no\"}}");
	ph_stub_answer(g2, 400, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30002\",\"message\":\"gateway b says no\"}}");
	c = ph_app(S.px, "/bap/search", ph_wire(ph_msg("search", S.bap,
	    NULL)));
	EXPECT_NACK(c, 200, "30001", NULL, "client: search both gateways "
	    "NACK");
	expect_message(c, "gateway a says no", "the first gateway's NACK");
}
END_TEST

/* A search naming its BPP goes to that BPP, not to the gateways. */
START_TEST(out_search_to_bpp)
{
	struct ph_stub	*gws;
	struct ph_party	*g;

	out_world();
	gws = ph_stub("gateway");
	g = ph_party("remote.gw.test", "/rgw");
	snprintf(g->url, sizeof(g->url), "%s/rgw", ph_stub_url(gws));
	ph_register(g, "BG", PH_DOMAIN);
	ph_registry_write();
	ph_start(S.px);
	EXPECT_ACK(ph_app(S.px, "/bap/search", ph_wire(ph_msg("search", S.bap,
	    P.bpp))), "client: search with bpp_id and bpp_uri");
	EXPECT_COUNT(P.stub, 1, "the named BPP");
	ck_assert_str_eq(ph_stub_req(P.stub, 0)->uri, "/pbpp/search");
	EXPECT_COUNT(gws, 0, "the gateway, for a search naming its BPP");
}
END_TEST

/* bpp_uri as registered but with a trailing '/': the same endpoint. */
START_TEST(out_bpp_uri_trailing_slash)
{
	json_object	*m;

	out_world();
	ph_start(S.px);
	m = ph_msg("select", S.bap, P.bpp);
	ph_ctx_set(m, "bpp_uri", ph_fmt("%s/", P.bpp->url));
	EXPECT_ACK(ph_app(S.px, "/bap/select", ph_wire(m)), "client: "
	    "bpp_uri with a trailing '/'");
	EXPECT_COUNT(P.stub, 1, "the BPP");
	ck_assert_str_eq(ph_stub_req(P.stub, 0)->uri, "/pbpp/select");
}
END_TEST

/* A BAP listing no domains: the app's context.domain goes as written,
 * none is invented. */
START_TEST(out_bap_without_domains)
{
	struct ph_party	*nb;
	struct ph_proxy	*pp;
	struct ph_stub	*w;
	json_object	*m;
	const char	*v;

	out_world();
	w = ph_stub("nodomain-webhook");
	nb = ph_party("nodomain.bap.test", "/nbap");
	ph_register(nb, "BAP", NULL);
	ph_registry_write();
	pp = ph_proxy("nodomain");
	ph_host(pp, nb, "bap", w, "");
	ph_start(pp);
	m = ph_msg("select", nb, P.bpp);
	ph_ctx_set(m, "domain", PLAIN_DOMAIN);
	EXPECT_ACK(ph_app(pp, "/nbap/select", ph_wire(m)), "client: select "
	    "in plain:domain from a BAP without domains");
	ph_ctx_set(m, "domain", NULL);
	ph_ctx_set(m, "message_id", "5e1a7c3e-0000-4000-8000-0000000000bb");
	EXPECT_ACK(ph_app(pp, "/nbap/select", ph_wire(m)), "client: select "
	    "without domain from a BAP without domains");
	ck_assert_int_eq(ph_stub_wait(P.stub, 2, SLOW_MS), 2);
	v = ph_ctx(ph_stub_req(P.stub, 0)->json, "domain");
	ck_assert_msg(v != NULL && strcmp(v, PLAIN_DOMAIN) == 0, "domain %s",
	    v != NULL ? v : "(none)");
	v = ph_ctx(ph_stub_req(P.stub, 1)->json, "domain");
	ck_assert_msg(v == NULL, "a domain was invented: %s", v);
}
END_TEST

/* ==== registry, lifecycle ============================================ */

/* No registry at all: nothing can be verified or routed -- 503; a
 * reload that adds one puts it to work. */
START_TEST(no_registry_503)
{
	const char	*body;
	char		 err[1024];

	out_world();
	ph_set(S.px, "registry.file", NULL);
	ph_start(S.px);
	expect_refused(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), 503, "40000", NULL, "select without a registry");
	EXPECT_NACK(ph_app(S.px, "/bap/select", app_select("select")), 503,
	    "40000", NULL, "client: select without a registry");
	EXPECT_COUNT(P.stub, 0, "no registry");
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload adding registry.url: %s", err);
	body = ph_wire(req_msg("select"));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", body, S.sbap), "select after "
	    "a reload added the registry");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "select after the registry was added");
	EXPECT_ACK(ph_app(S.px, "/bap/select", app_select("select")),
	    "client: select after the registry was added");
	EXPECT_COUNT(P.stub, 1, "the BPP after the registry was added");
}
END_TEST

/* URL registry across reloads: unchanged registry.* keep the client and
 * its cache; a changed one makes a new client. */
START_TEST(r_registry_client_kept)
{
	char	 err[1024];
	int	 n;

	world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select (the sender's key fetched)");
	/* The sender's key (no listen.admin: no readiness probe). */
	n = ph_registry_requests();
	ck_assert_int_eq(n, 1);
	ph_set(S.px, "limits.body_max", "64K");
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload changing limits.body_max: %s", err);
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select after a reload keeping registry.*");
	if (ph_registry_requests() != n)
		PH_FAIL("a reload that kept registry.* lost the cached key: %d "
		    "registry requests, want %d", ph_registry_requests(), n);
	ph_set(S.px, "registry.timeout", "3s");
	if (ph_reload(S.px, err, sizeof(err)) == -1)
		PH_FAIL("reload changing registry.timeout: %s", err);
	if (proxy_snapshots(ph_px(S.px)) != 1)
		PH_FAIL("%zu snapshots after two reloads with nothing in "
		    "flight", proxy_snapshots(ph_px(S.px)));
	EXPECT_ACK(ph_send(S.px, "/bpp/select", ph_wire(req_msg("select")),
	    S.sbap), "select after a reload changing registry.timeout");
	if (ph_registry_requests() != n + 1)
		PH_FAIL("a reload changing registry.timeout kept the old "
		    "client: %d registry requests, want %d",
		    ph_registry_requests(), n + 1);
	EXPECT_COUNT(S.w_bpp, 3, "selects around the reloads");
}
END_TEST

static int
call_finished(void *arg)
{
	struct ph_call	*c = arg;

	return c->done || c->failed;
}

/*
 * proxy_stop_accepting(): the listeners close (new connections are
 * refused); what is in flight is answered; idle once it is.
 */
START_TEST(px_stop_accepting)
{
	struct ph_call	*co, *ci, *c;
	const char	*body, *auth;
	int		 net, cli, one = 1;

	out_world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	if (proxy_registry_port(ph_px(S.px)) != -1)
		PH_FAIL("a registry port without listen.registry");
	net = ph_net(S.px);
	cli = ph_client(S.px);
	ph_stub_answer(P.stub, 0, NULL);
	body = app_select("select");
	co = ph_call_async(cli, "POST", "/bap/select", body, strlen(body),
	    NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	ph_registry_mode(PH_REG_HOLD);
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	ci = ph_call_async(net, "POST", "/bpp/select", body, strlen(body),
	    (const char *const[]){ "Authorization", auth, NULL });
	if (!ph_run_until(registry_holds, &one, ph_ms(SLOW_MS)))
		PH_FAIL("the key lookup never reached the registry");

	proxy_stop_accepting(ph_px(S.px));
	c = ph_call(net, "POST", "/bpp/select", "{}", 2, NULL);
	if (!c->failed)
		PH_FAIL("network listener after stop_accepting: want the "
		    "connection refused, got %s", ph_describe(c));
	c = ph_call(cli, "POST", "/bap/select", "{}", 2, NULL);
	if (!c->failed)
		PH_FAIL("client listener after stop_accepting: want the "
		    "connection refused, got %s", ph_describe(c));
	if (proxy_idle(ph_px(S.px)))
		PH_FAIL("idle with two requests in flight");

	ph_stub_release(P.stub, 200, PH_ACK_BODY);
	if (!ph_call_wait(co, SLOW_MS))
		PH_FAIL("the select in flight: %s", ph_describe(co));
	EXPECT_ACK(co, "the client select in flight at stop_accepting");
	if (proxy_idle(ph_px(S.px)))
		PH_FAIL("idle with a message waiting for the registry");
	ph_registry_mode(PH_REG_RECORDS);
	ph_registry_release();
	if (!ph_call_wait(ci, SLOW_MS))
		PH_FAIL("the select in flight: %s", ph_describe(ci));
	EXPECT_ACK(ci, "the network select in flight at stop_accepting");
	expect_delivered(S.w_bpp, 0, "/hook/bpp/select", body, S.sbap,
	    "the select in flight at stop_accepting");
	if (!ph_idle(S.px, SLOW_MS))
		PH_FAIL("not idle once everything in flight was answered");
}
END_TEST

/* proxy_free() with requests waiting for the registry and a peer: their
 * connections close unanswered; nothing is delivered; the registry's and
 * the peer's late answers find nothing (valgrind: no invalid access). */
START_TEST(px_free_in_flight)
{
	struct ph_call	*cs, *ci, *co;
	const char	*body, *auth;
	int		 two = 2;

	out_world();
	ph_set(S.px, "registry.url", ph_fmt("\"%s\"", ph_registry_serve()));
	ph_start(S.px);
	ph_stub_answer(P.stub, 0, NULL);
	body = app_select("select");
	cs = ph_call_async(ph_client(S.px), "POST",
	    "/bap/select?sync=true&wait=PT30S", body, strlen(body), NULL);
	ck_assert_int_eq(ph_stub_wait(P.stub, 1, SLOW_MS), 1);
	ph_registry_mode(PH_REG_HOLD);
	body = ph_wire(req_msg("select"));
	auth = ph_sign(S.sbap, body, 0, 300);
	ci = ph_call_async(ph_net(S.px), "POST", "/bpp/select", body,
	    strlen(body), (const char *const[]){ "Authorization", auth, NULL });
	body = ph_wire(ph_msg("select", S.bap, S.obpp));
	co = ph_call_async(ph_client(S.px), "POST", "/bap/select", body,
	    strlen(body), NULL);
	if (!ph_run_until(registry_holds, &two, ph_ms(SLOW_MS)))
		PH_FAIL("want 2 lookups held at the registry, got %d",
		    ph_registry_held());
	ph_stop(S.px);
	ph_run_until(call_finished, cs, ph_ms(SLOW_MS));
	ph_run_until(call_finished, ci, ph_ms(SLOW_MS));
	ph_run_until(call_finished, co, ph_ms(SLOW_MS));
	if (!cs->failed || !ci->failed || !co->failed)
		PH_FAIL("freed with requests in flight: want their connections "
		    "closed unanswered, got sync select: %s; network select: "
		    "%s; client select: %s", cs->failed ? "closed" :
		    ph_describe(cs), ci->failed ? "closed" : ph_describe(ci),
		    co->failed ? "closed" : ph_describe(co));
	/* Late answers find nothing (valgrind: no invalid access). */
	ph_stub_release(P.stub, 200, PH_ACK_BODY);
	ph_registry_mode(PH_REG_RECORDS);
	ph_registry_release();
	ph_settle();
	EXPECT_COUNT(S.w_bpp, 0, "a message freed before its key came");
}
END_TEST

/* A process serving only the registry (/lookup from registry.file). */
START_TEST(px_registry_only)
{
	struct ph_proxy	*pp;
	struct ph_party	*a, *b;
	struct ph_call	*c;
	char		 err[1024];
	const char	*q;
	int		 port;

	a = ph_party("a.bpp.test", "/a");
	b = ph_party("b.bpp.test", "/b");
	ph_register(a, "BPP", PH_DOMAIN);
	ph_registry_write();
	pp = ph_proxy("registry");
	ph_set(pp, "listen.network", NULL);
	ph_set(pp, "listen.client", NULL);
	ph_set(pp, "listen.registry", "\"127.0.0.1:0\"");
	ph_start(pp);
	if (ph_net(pp) != -1 || ph_client(pp) != -1)
		PH_FAIL("a registry-only process reports ports %d/%d, want "
		    "-1/-1", ph_net(pp), ph_client(pp));
	port = proxy_registry_port(ph_px(pp));
	q = "{\"type\":\"BPP\"}";
	c = ph_call(port, "POST", "/lookup", q, strlen(q), NULL);
	if (!c->done || c->json == NULL ||
	    !json_object_is_type(c->json, json_type_array) ||
	    json_object_array_length(c->json) != 1)
		PH_FAIL("POST /lookup: want a.bpp.test's record, got %s",
		    ph_describe(c));
	ph_register(b, "BPP", PH_DOMAIN);
	ph_registry_write();
	ph_set(pp, "limits.body_max", "64K");
	if (ph_reload(pp, err, sizeof(err)) == -1)
		PH_FAIL("reload of a registry-only process: %s", err);
	c = ph_call(port, "POST", "/lookup", q, strlen(q), NULL);
	if (!c->done || c->json == NULL ||
	    !json_object_is_type(c->json, json_type_array) ||
	    json_object_array_length(c->json) != 2)
		PH_FAIL("POST /lookup after a reload adding b.bpp.test: want "
		    "2 records, got %s", ph_describe(c));
	/* A broken registry file refuses the whole reload: the file is
	 * named, and /lookup still answers with the records it had. */
	ph_set(pp, "limits.body_max", "32K");
	{
		FILE	*f = fopen(ph_registry_file(), "w");

		ck_assert_ptr_nonnull(f);
		fputs("[{\"subscriber_id\":", f);
		fclose(f);
	}
	if (ph_reload(pp, err, sizeof(err)) != -1)
		PH_FAIL("a reload with a broken registry file was applied");
	if (strstr(err, ph_registry_file()) == NULL)
		PH_FAIL("the refused reload does not name the file: %s", err);
	c = ph_call(port, "POST", "/lookup", q, strlen(q), NULL);
	if (!c->done || c->json == NULL ||
	    json_object_array_length(c->json) != 2)
		PH_FAIL("POST /lookup after a refused reload: want the 2 "
		    "records it had, got %s", ph_describe(c));
	if (proxy_conf(ph_px(pp))->body_max != 64u << 10)
		PH_FAIL("the refused reload changed limits.body_max to %zu",
		    proxy_conf(ph_px(pp))->body_max);
	proxy_stop_accepting(ph_px(pp));
	if (!proxy_idle(ph_px(pp)))
		PH_FAIL("a registry-only process is not idle");
}
END_TEST

/* proxy_new on a busy client or registry port names the key. */
START_TEST(px_new_port_busy)
{
	static const char *const key[] = { "listen.client",
	    "listen.registry" };
	struct ph_stub	*busy;
	struct conf	*c;
	struct proxy	*px;
	char		 err[1024];

	world();
	busy = ph_stub("busy");
	ph_set(S.px, key[_i], ph_fmt("\"127.0.0.1:%d\"", ph_stub_port(busy)));
	ph_write_conf(S.px);
	ck_assert_ptr_nonnull(c = conf_load(ph_conf_path(S.px), err,
	    sizeof(err)));
	px = proxy_new(ph_base(), c, NULL, err, sizeof(err));
	if (px != NULL) {
		proxy_free(px);
		PH_FAIL("proxy_new listened on a port already in use (%s)",
		    key[_i]);
	}
	conf_free(c);
	if (strstr(err, key[_i]) == NULL)
		PH_FAIL("proxy_new on a busy port should name %s: %s",
		    key[_i], err);
}
END_TEST

/* ==== the suite ======================================================= */

static TCase *
tc(Suite *s, const char *name)
{
	TCase	*t = tcase_create(name);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ?
	    300 : 30);
	suite_add_tcase(s, t);
	return t;
}

static Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*t;

	t = tc(s, "network");
	tcase_add_test(t, in_ack_delivered);
	tcase_add_test(t, in_route_404);
	tcase_add_test(t, in_get_405);
	tcase_add_test(t, in_oversize_413);
	tcase_add_test(t, in_http_malformed);
	tcase_add_test(t, in_auth_missing);
	tcase_add_loop_test(t, in_auth_malformed, 0, 4);
	tcase_add_loop_test(t, in_auth_time, 0, NELEM(bad_times));
	tcase_add_loop_test(t, in_auth_lifetime_over_max, 0, 2);
	tcase_add_loop_test(t, in_auth_time_ok, 0, NELEM(good_times));
	tcase_add_test(t, in_auth_before_parse);
	tcase_add_test(t, in_key_unknown);
	tcase_add_test(t, in_key_misses_limited);
	tcase_add_test(t, in_key_unusable);
	tcase_add_loop_test(t, in_registry_down, 0, 2);
	tcase_add_test(t, in_key_rotated_same_kid);
	tcase_add_test(t, in_verify_tampered);
	tcase_add_test(t, in_verify_wrong_key);
	tcase_add_loop_test(t, in_signed_garbage, 0, 3);
	tcase_add_loop_test(t, in_strict_json, 0, 4);
	tcase_add_test(t, in_no_context);
	tcase_add_test(t, in_bind_action_mismatch);
	tcase_add_test(t, in_bind_role);
	tcase_add_test(t, in_bind_keyid_request);
	tcase_add_test(t, in_bind_keyid_callback);
	tcase_add_test(t, in_bind_callback_from_bap);
	tcase_add_test(t, in_bind_record_without_type);
	tcase_add_test(t, in_bind_type_case_and_any_domain);
	tcase_add_test(t, in_bind_no_domain);
	tcase_add_test(t, in_bind_callback_other_bap);
	tcase_add_loop_test(t, in_bind_bad_ids, 0, NELEM(bad_ids));
	tcase_add_test(t, in_bind_id_255_ok);
	tcase_add_loop_test(t, in_gw_header_refused, 0, 5);
	tcase_add_loop_test(t, in_gw_header_ok, 0, 2);
	tcase_add_test(t, in_replay_signature);
	tcase_add_test(t, in_replay_message_id);
	tcase_add_test(t, in_schema_invalid);
	tcase_add_test(t, in_queue_full);
	tcase_add_test(t, in_webhook_retry);
	tcase_add_test(t, in_webhook_4xx_final);
	tcase_add_test(t, in_webhook_retries_limit);

	t = tc(s, "contract");
	tcase_add_test(t, c_retry_after_schema_400);
	tcase_add_test(t, c_retry_after_queue_full);
	tcase_add_test(t, c_retry_after_registry_down);
	tcase_add_test(t, c_long_lived_replay);
	tcase_add_loop_test(t, c_fanout_two_bpps, 0, 2);
	tcase_add_test(t, c_select_other_bpp);
	tcase_add_test(t, c_sender_bpp_only);
	tcase_add_test(t, c_sender_bg_only);
	tcase_add_test(t, c_sender_other_domain);
	tcase_add_test(t, c_error_only_callback);
	tcase_add_test(t, c_two_tenants_sync);
	tcase_add_test(t, c_tenant_slow_peer);

	t = tc(s, "gateway");
	tcase_add_test(t, gw_search_without_domain);

	t = tc(s, "client");
	tcase_add_test(t, out_select_ack);
	tcase_add_test(t, out_404_405);
	tcase_add_test(t, out_bad_json);
	tcase_add_test(t, out_action_mismatch);
	tcase_add_loop_test(t, out_not_own_sender, 0, NELEM(not_own));
	tcase_add_test(t, out_schema_invalid);
	tcase_add_test(t, out_unregistered_bpp_uri);
	tcase_add_test(t, out_client_token);
	tcase_add_test(t, out_own_client_listener);
	tcase_add_test(t, out_own_client_listener_wildcard);
	tcase_add_test(t, out_registry_down);
	tcase_add_test(t, out_peer_unreachable);
	tcase_add_test(t, out_peer_timeout);
	tcase_add_test(t, out_peer_nack_relayed);
	tcase_add_loop_test(t, out_sync_bad_wait, 0, 3);
	tcase_add_test(t, out_search_to_gateway);
	tcase_add_test(t, out_callback);
	tcase_add_test(t, out_sync_select);
	tcase_add_test(t, out_role_not_sender);
	tcase_add_test(t, out_sync_not_bap);
	tcase_add_test(t, out_missing_peer);
	tcase_add_test(t, out_no_gateway);
	tcase_add_test(t, out_peer_not_beckn);
	tcase_add_test(t, out_sync_no_callback);
	tcase_add_test(t, out_sync_peer_nack);
	tcase_add_test(t, out_sync_search_all);

	t = tc(s, "reload");
	tcase_add_test(t, r_body_max);
	tcase_add_test(t, r_listen_refused);
	tcase_add_test(t, r_add_participant);
	tcase_add_test(t, r_key_rotation_snapshots);
	tcase_add_test(t, r_refused_keeps_serving);

	t = tc(s, "lifecycle");
	tcase_add_test(t, px_new_listen_busy);
	tcase_add_test(t, px_new_registry_missing);
	tcase_add_test(t, lookup_endpoint);

	/* Issue 9's coverage: behaviour the tests above leave out. */
	t = tc(s, "edges");
	tcase_add_test(t, px_counters);
	tcase_add_test(t, route_action_shape_404);
	tcase_add_test(t, in_json_trailing);
	tcase_add_test(t, out_json_trailing);
	tcase_add_test(t, in_context_shape);
	tcase_add_test(t, in_message_id_not_string);
	tcase_add_test(t, in_schema_root_error);
	tcase_add_test(t, in_builtin_schemas);
	tcase_add_test(t, px_new_schemas_missing);
	tcase_add_test(t, in_replay_off);
	tcase_add_test(t, in_no_message_id);
	tcase_add_test(t, in_bind_sender_missing);
	tcase_add_test(t, in_bind_callback_no_bap_id);
	tcase_add_test(t, in_bind_two_records_neither);
	tcase_add_test(t, in_participant_domains);
	tcase_add_test(t, in_cached_key_wrong_signature);
	tcase_add_test(t, in_gw_key_rotated);
	tcase_add_test(t, in_replay_quota);

	t = tc(s, "gateway-edges");
	tcase_add_test(t, gw_bpp_outcomes);
	tcase_add_test(t, gw_no_bpp_in_domain);
	tcase_add_test(t, gw_search_without_message_id);
	tcase_add_test(t, gw_no_domains_search_without_domain);
	tcase_add_test(t, gw_registry_down_for_bpps);
	tcase_add_test(t, gw_replay_race);
	tcase_add_test(t, gw_fanout_in_flight);

	t = tc(s, "client-edges");
	tcase_add_test(t, out_sync_query_forms);
	tcase_add_loop_test(t, out_sync_ttl_fallback, 0, 4);
	tcase_add_test(t, out_sync_callback_before_ack);
	tcase_add_test(t, out_sync_only_own_callback);
	tcase_add_test(t, out_gateway_app_400);
	tcase_add_test(t, out_select_route_fields);
	tcase_add_test(t, out_peer_answers);
	tcase_add_test(t, out_search_gateways);
	tcase_add_test(t, out_search_to_bpp);
	tcase_add_test(t, out_bpp_uri_trailing_slash);
	tcase_add_test(t, out_bap_without_domains);

	t = tc(s, "lifecycle-edges");
	tcase_add_test(t, no_registry_503);
	tcase_add_test(t, r_registry_client_kept);
	tcase_add_test(t, px_stop_accepting);
	tcase_add_test(t, px_free_in_flight);
	tcase_add_test(t, px_registry_only);
	tcase_add_loop_test(t, px_new_port_busy, 0, 2);
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
	return test_run_suite(proxy_suite());
}

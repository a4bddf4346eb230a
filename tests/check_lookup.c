/*
 * check_lookup.c - the /lookup server (listen.registry).
 *
 * The server runs on 127.0.0.1:0 in the test's event loop; requests are
 * raw HTTP/1.1 over a bufferevent ("Connection: close", read to EOF), so
 * that the answer's bytes are compared exactly with the file's records.
 * The last tests point becknd's own registry client (URL mode) at the
 * server: what one serves, the other keeps.  A watchdog alarm bounds
 * every test.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "testutil.h"
#include "http/http_server.h"
#include "lookup/lookup_server.h"
#include "registry/registry.h"
#include "sig/sig_key.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define NREC	5

static struct event_base	*base;
static struct lookup_server	*ls;
static struct http_server_conf	 hconf;
static char			 file_path[64], file2_path[64];
static char			 pub[45];
/* The file's records, each exactly as written in the file. */
static char			*R[NREC];

/*
 * Compact records, as json-c writes them, so that an answer can be
 * compared byte for byte: lower- and mixed-case types, a gateway without
 * a domain, an expired BAP, a record without a type, the key id under
 * three of its names, members becknd does not know.  @KEY@ is the
 * test's public key.  (Parentheses: one concatenated literal per record.)
 */
static const char *const rec_fmt[NREC] = {
	("{\"subscriber_id\":\"bpp.example.org\","
	"\"subscriber_url\":\"https://bpp.example.org/beckn\",\"type\":\"bpp\","
	"\"domain\":\"onest:work-opportunities\",\"ukId\":\"k1\","
	"\"signing_public_key\":\"@KEY@\",\"status\":\"SUBSCRIBED\","
	"\"valid_until\":\"2099-01-01T00:00:00.000Z\","
	"\"x-note\":{\"n\":[1,2.50,null],\"s\":\"caf\303\251\"}}"),
	("{\"subscriber_id\":\"bpp.example.org\","
	"\"subscriber_url\":\"https://bpp.example.org/beckn\",\"type\":\"BPP\","
	"\"domain\":\"onest:courses\",\"ukId\":\"k2\","
	"\"signing_public_key\":\"@KEY@\",\"status\":\"SUBSCRIBED\"}"),
	("{\"subscriber_id\":\"bg.example.org\","
	"\"subscriber_url\":\"https://bg.example.org/\",\"type\":\"bg\","
	"\"ukId\":\"g1\",\"signing_public_key\":\"@KEY@\"}"),
	("{\"subscriber_id\":\"bap.example.org\",\"type\":\"BAP\","
	"\"domain\":\"onest:courses\",\"unique_key_id\":\"b1\","
	"\"signing_public_key\":\"@KEY@\",\"status\":\"EXPIRED\"}"),
	("{\"subscriber_id\":\"nobody.example.org\","
	"\"domain\":\"onest:courses\",\"key_id\":\"n1\","
	"\"signing_public_key\":\"@KEY@\"}"),
};

struct resp {
	int	 done;
	int	 status;
	char	*body;
};

struct client {
	struct bufferevent	*bev;
	struct evbuffer		*in;
	struct resp		*r;
};

static void
write_text(const char *path, const char *text)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* fmt with its @KEY@ replaced by key (xmalloc'd). */
static char *
with_key(const char *fmt, const char *key)
{
	const char	*p = strstr(fmt, "@KEY@");
	char		*s;

	ck_assert_ptr_nonnull(p);
	xasprintf(&s, "%.*s%s%s", (int)(p - fmt), fmt, key, p + 5);
	return s;
}

/* "[" the records idx (ends with -1), joined, "]": the expected answer. */
static char *
array_of(const int *idx, const char *sep)
{
	char	*s, *t;
	int	 i;

	s = xstrdup("[");
	for (i = 0; idx[i] >= 0; i++) {
		xasprintf(&t, "%s%s%s", s, i > 0 ? sep : "", R[idx[i]]);
		free(s);
		s = t;
	}
	xasprintf(&t, "%s]", s);
	free(s);
	return t;
}

#define ARRAY(...)	array_of((const int[]){ __VA_ARGS__, -1 }, ",")
#define NONE		xstrdup("[]")

/* ---- the client -------------------------------------------------------- */

static void
client_done(struct client *c)
{
	struct resp	*r = c->r;
	size_t		 len = evbuffer_get_length(c->in);
	char		*raw, *p;

	raw = xmalloc(len + 1);
	evbuffer_remove(c->in, raw, len);
	raw[len] = '\0';
	r->status = -1;
	if (sscanf(raw, "HTTP/1.1 %d", &r->status) != 1)
		r->status = -1;
	p = strstr(raw, "\r\n\r\n");
	r->body = xstrdup(p != NULL ? p + 4 : "");
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

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

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

/* One request; the answer's status and body (caller frees body). */
static struct resp
request(const char *method, const char *path, const char *body)
{
	struct client		*c;
	struct sockaddr_in	 sin;
	struct resp		 r;

	memset(&r, 0, sizeof(r));
	c = xcalloc(1, sizeof(*c));
	c->r = &r;
	c->in = evbuffer_new();
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(c->bev);
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)lookup_server_port(ls));
	ck_assert_int_eq(bufferevent_socket_connect(c->bev,
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", method, path,
	    strlen(body), body);
	run_until(&r.done, 5000);
	ck_assert_int_eq(r.done, 1);
	return r;
}

/* POST /lookup filter: 200 and exactly want (freed). */
static void
lookup_is(const char *filter, char *want)
{
	struct resp	 r;

	r = request("POST", "/lookup", filter);
	ck_assert_msg(r.status == 200, "%s: status %d", filter, r.status);
	ck_assert_msg(strcmp(r.body, want) == 0, "%s:\n got %s\nwant %s",
	    filter, r.body, want);
	free(r.body);
	free(want);
}

/* An error answer: status and a JSON error naming why. */
static void
error_is(const char *method, const char *path, const char *body, int status,
    const char *why)
{
	struct resp	 r;

	r = request(method, path, body);
	ck_assert_msg(r.status == status, "%s %s %s: status %d", method, path,
	    body, r.status);
	ck_assert_msg(strstr(r.body, "\"error\"") != NULL &&
	    strstr(r.body, why) != NULL, "%s: body %s", body, r.body);
	free(r.body);
}

/* ---- fixtures ---------------------------------------------------------- */

/* A file's records through the registry's loader, as the daemon does. */
static struct registry_recset *
records(const char *path, char *err, size_t errlen)
{
	return registry_records_load(path, err, errlen);
}

/* Serve path's records instead (the SIGHUP path); -1 and err if broken. */
static int
set_file(const char *path, char *err, size_t errlen)
{
	struct registry_recset	*set;

	if ((set = records(path, err, errlen)) == NULL)
		return -1;
	lookup_server_set_records(ls, set);
	registry_recset_unref(set);
	return 0;
}

static void
server_start(void)
{
	struct registry_recset	*set;
	char			 err[256];

	set = records(file_path, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	ls = lookup_server_new(base, "127.0.0.1:0", set, &hconf, err,
	    sizeof(err));
	registry_recset_unref(set);
	ck_assert_msg(ls != NULL, "lookup_server_new: %s", err);
	ck_assert_int_gt(lookup_server_port(ls), 0);
}

static void
setup(void)
{
	struct sig_key	*k;
	char		*text, *t;
	int		 fd, i;

	alarm(getenv("BECKND_TEST_UNDER_VALGRIND") != NULL ? 120 : 20);
	if (getenv("BECKND_TEST_VERBOSE") == NULL)
		log_set_level(LOG_LVL_ERROR);
	ck_assert_ptr_nonnull(k = sig_key_generate());
	sig_key_public_b64(k, pub);
	sig_key_free(k);
	text = xstrdup("[\n");
	for (i = 0; i < NREC; i++) {
		R[i] = with_key(rec_fmt[i], pub);
		xasprintf(&t, "%s  %s%s\n", text, R[i],
		    i + 1 < NREC ? "," : "");
		free(text);
		text = t;
	}
	xasprintf(&t, "%s]\n", text);
	free(text);
	strcpy(file_path, "/tmp/becknd-lookup-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(file_path), 0);
	close(fd);
	write_text(file_path, t);
	free(t);
	strcpy(file2_path, "/tmp/becknd-lookup2-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(file2_path), 0);
	close(fd);
	memset(&hconf, 0, sizeof(hconf));
	hconf.header_max = 8192;
	hconf.body_max = 65536;
	hconf.read_timeout_ms = 2000;
	hconf.idle_timeout_ms = 2000;
	hconf.write_timeout_ms = 2000;
	ck_assert_ptr_nonnull(base = event_base_new());
	server_start();
}

static void
teardown(void)
{
	int	 i;

	lookup_server_free(ls);
	ls = NULL;
	event_base_free(base);
	base = NULL;
	for (i = 0; i < NREC; i++) {
		free(R[i]);
		R[i] = NULL;
	}
	unlink(file_path);
	unlink(file2_path);
	alarm(0);
}

/* ---- the server -------------------------------------------------------- */

/* Types in any case; records exactly as in the file, in its order. */
START_TEST(types_any_case)
{
	lookup_is("{\"type\":\"BPP\"}", ARRAY(0, 1));
	lookup_is("{\"type\":\"bpp\"}", ARRAY(0, 1));
	lookup_is("{\"type\":\"BG\"}", ARRAY(2));
	/* Status is the client's call: an expired record is answered. */
	lookup_is("{\"type\":\"bap\"}", ARRAY(3));
	lookup_is("{\"type\":\"XYZ\"}", NONE);
	lookup_is("{}", ARRAY(0, 1, 2, 3, 4));
	/* null is no filter; unknown members are ignored. */
	lookup_is("{\"type\":null,\"country\":\"IND\",\"city\":{\"x\":1}}",
	    ARRAY(0, 1, 2, 3, 4));
	lookup_is(" {\"subscriber_id\":\"bpp.example.org\"}\r\n", ARRAY(0, 1));
	lookup_is("{\"subscriber_id\":\"BPP.example.org\"}", NONE);
}
END_TEST

/* A record without a domain covers every domain. */
START_TEST(by_domain)
{
	lookup_is("{\"domain\":\"onest:courses\"}", ARRAY(1, 2, 3, 4));
	lookup_is("{\"domain\":\"onest:work-opportunities\"}", ARRAY(0, 2));
	lookup_is("{\"type\":\"BPP\",\"domain\":\"onest:courses\"}",
	    ARRAY(1));
	lookup_is("{\"type\":\"bg\",\"domain\":\"anything\"}", ARRAY(2));
	lookup_is("{\"type\":\"bpp\",\"domain\":\"anything\"}", NONE);
}
END_TEST

/* The key id under each of its names, in the filter and in the records. */
START_TEST(by_key_id)
{
	lookup_is("{\"subscriber_id\":\"bpp.example.org\",\"ukId\":\"k2\"}",
	    ARRAY(1));
	lookup_is("{\"unique_key_id\":\"k1\"}", ARRAY(0));
	lookup_is("{\"key_id\":\"b1\"}", ARRAY(3));
	lookup_is("{\"pub_key_id\":\"n1\"}", ARRAY(4));
	/* The client sends ukId and unique_key_id; ukId wins. */
	lookup_is("{\"ukId\":\"g1\",\"unique_key_id\":\"g1\"}", ARRAY(2));
	lookup_is("{\"ukId\":\"g1\",\"unique_key_id\":\"k1\"}", ARRAY(2));
	lookup_is("{\"ukId\":\"zz\"}", NONE);
}
END_TEST

START_TEST(bad_requests)
{
	error_is("GET", "/lookup", "", 405, "POST");
	error_is("POST", "/subscribe", "{}", 404, "/lookup");
	error_is("POST", "/lookup", "", 400, "JSON object");
	error_is("POST", "/lookup", "[]", 400, "JSON object");
	error_is("POST", "/lookup", "{} {}", 400, "JSON object");
	error_is("POST", "/lookup", "{\"type\":", 400, "JSON object");
	error_is("POST", "/lookup", "{\"type\":5}", 400,
	    "type must be a string");
	error_is("POST", "/lookup", "{\"ukId\":[\"k1\"]}", 400,
	    "ukId must be a string");
	error_is("POST", "/lookup", "{\"domain\":{}}", 400,
	    "domain must be a string");
}
END_TEST

/* SIGHUP: new records are served; a broken file leaves the old ones. */
START_TEST(reload)
{
	char	 err[256], *t;

	xasprintf(&t, "[%s]", R[2]);
	write_text(file2_path, t);
	free(t);
	ck_assert_int_eq(set_file(file2_path, err, sizeof(err)), 0);
	lookup_is("{}", ARRAY(2));
	/* Broken, missing, not an array: refused, the old records stay. */
	write_text(file_path, "[{\"subscriber_id\":");
	ck_assert_int_eq(set_file(file_path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, file_path));
	ck_assert_ptr_nonnull(strstr(err, "malformed JSON"));
	lookup_is("{}", ARRAY(2));
	ck_assert_int_eq(set_file("/nonexistent/registry.json", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/registry.json"));
	write_text(file2_path, "{}");
	ck_assert_int_eq(set_file(file2_path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, file2_path));
	ck_assert_ptr_nonnull(strstr(err, "not a JSON array"));
	lookup_is("{}", ARRAY(2));
	xasprintf(&t, "[%s,%s]", R[3], R[0]);
	write_text(file2_path, t);
	free(t);
	ck_assert_int_eq(set_file(file2_path, err, sizeof(err)), 0);
	lookup_is("{}", ARRAY(3, 0));
}
END_TEST

/* New limits apply to the next request. */
START_TEST(reconfigure)
{
	struct http_server_conf	 c = hconf;
	struct resp		 r;
	const char		*big =
	    "{\"subscriber_id\":\"bpp.example.org\"}";

	c.body_max = 16;
	lookup_server_reconfigure(ls, &c);
	r = request("POST", "/lookup", big);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	free(r.body);
	lookup_is("{}", ARRAY(0, 1, 2, 3, 4));
	lookup_server_reconfigure(ls, &hconf);
	lookup_is(big, ARRAY(0, 1));
}
END_TEST

START_TEST(start_errors)
{
	struct lookup_server	*l;
	struct registry_recset	*set;
	char			 err[256];


	ck_assert_ptr_null(records("/nonexistent/r.json", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/r.json"));
	ck_assert_ptr_nonnull(set = records(file_path, err, sizeof(err)));
	l = lookup_server_new(base, "not an address", set, &hconf, err,
	    sizeof(err));
	registry_recset_unref(set);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(strstr(err, "not an address"));
}
END_TEST

/* ---- becknd's own client against it ------------------------------------ */

struct got {
	int			 n;
	enum registry_status	 status;
	size_t			 nrecords;
	char			 subs[8][64];
	char			 types[8][8];
	int			 has_key;
	char			 reason[256];
};

static void
got_cb(const struct registry_result *res, void *arg)
{
	struct got	*g = arg;
	size_t		 i;

	g->n++;
	g->status = res->status;
	g->nrecords = res->nrecords;
	g->has_key = res->record != NULL && res->record->key != NULL;
	snprintf(g->reason, sizeof(g->reason), "%s", res->reason);
	for (i = 0; i < res->nrecords && i < 8; i++) {
		snprintf(g->subs[i], sizeof(g->subs[i]), "%s",
		    res->records[i]->subscriber_id);
		snprintf(g->types[i], sizeof(g->types[i]), "%s",
		    res->records[i]->type != NULL ? res->records[i]->type :
		    "-");
	}
}

static struct registry *
client_new(void)
{
	struct registry_conf	 rc;
	struct registry		*reg;
	char			 err[256];

	registry_conf_defaults(&rc);
	xasprintf(&rc.url, "http://127.0.0.1:%d", lookup_server_port(ls));
	reg = registry_new(base, &rc, NULL, err, sizeof(err));
	ck_assert_msg(reg != NULL, "registry_new: %s", err);
	registry_conf_clear(&rc);
	return reg;
}

static void
wait_got(struct got *g)
{
	run_until(&g->n, 5000);
	ck_assert_int_eq(g->n, 1);
}

/* A file with lower-case types: served, and kept by the client. */
START_TEST(client_lower_case)
{
	struct registry	*reg = client_new();
	struct got	 g;

	memset(&g, 0, sizeof(g));
	registry_lookup_participants(reg, "BPP", "onest:courses", NULL,
	    got_cb, &g);
	wait_got(&g);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(g.nrecords, 1);
	ck_assert_str_eq(g.subs[0], "bpp.example.org");
	memset(&g, 0, sizeof(g));
	registry_lookup_participants(reg, "bpp", NULL, NULL, got_cb, &g);
	wait_got(&g);
	ck_assert_uint_eq(g.nrecords, 2);
	ck_assert_str_eq(g.types[0], "bpp");
	ck_assert_str_eq(g.types[1], "BPP");
	memset(&g, 0, sizeof(g));
	registry_lookup_gateways(reg, "onest:courses", got_cb, &g);
	wait_got(&g);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_uint_eq(g.nrecords, 1);
	ck_assert_str_eq(g.subs[0], "bg.example.org");
	ck_assert_str_eq(g.types[0], "bg");
	memset(&g, 0, sizeof(g));
	registry_lookup_key(reg, "bg.example.org", "g1", 0, NULL, got_cb, &g);
	wait_got(&g);
	ck_assert_int_eq(g.status, REGISTRY_OK);
	ck_assert_int_eq(g.has_key, 1);
	/* Served whatever its status; the client judges. */
	memset(&g, 0, sizeof(g));
	registry_lookup_key(reg, "bap.example.org", "b1", 0, NULL, got_cb, &g);
	wait_got(&g);
	ck_assert_int_eq(g.status, REGISTRY_NOT_USABLE);
	ck_assert_ptr_nonnull(strstr(g.reason, "EXPIRED"));
	registry_free(reg);
}
END_TEST

static Suite *
lookup_suite(void)
{
	Suite	*s = suite_create("lookup");
	TCase	*tc;

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, types_any_case);
	tcase_add_test(tc, by_domain);
	tcase_add_test(tc, by_key_id);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, reload);
	tcase_add_test(tc, reconfigure);
	tcase_add_test(tc, start_errors);
	tcase_add_test(tc, client_lower_case);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* The server is on 127.0.0.1: never go through a proxy. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(lookup_suite());
}

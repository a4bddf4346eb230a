/*
 * check_beckn.c - action table, ACK/NACK bytes, context completion.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "testutil.h"
#include "beckn/beckn_ack.h"
#include "beckn/beckn_action.h"
#include "beckn/beckn_context.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* json-c escapes "/" by default; the adaptor serialises without. */
#define JFLAGS		(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *const requests[] = {
	"search", "select", "init", "confirm", "status", "track", "cancel",
	"update", "rating", "support", "get_cancellation_reasons",
	"get_return_reasons", "get_rating_categories",
};
static const char *const callbacks[] = {
	"on_search", "on_select", "on_init", "on_confirm", "on_status",
	"on_track", "on_cancel", "on_update", "on_rating", "on_support",
	"cancellation_reasons", "return_reasons", "rating_categories",
};

/* Drain an evbuffer into a NUL-terminated string (caller frees). */
static char *
evb_str(struct evbuffer *evb)
{
	size_t	 n = evbuffer_get_length(evb);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(evb, s, n);
	s[n] = '\0';
	return s;
}

static char *
nack_str(const char *code, const char *paths, const char *message)
{
	struct evbuffer	*evb = evbuffer_new();
	char		*s;

	ck_assert_ptr_nonnull(evb);
	ck_assert_int_eq(beckn_nack_write(evb, code, paths, message), 0);
	s = evb_str(evb);
	evbuffer_free(evb);
	return s;
}

/* Strict parse with UTF-8 validation: proves the bytes are valid JSON. */
static json_object *
parse_strict(const char *s)
{
	struct json_tokener	*tok = json_tokener_new();
	json_object		*o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s) + 1);
	ck_assert_msg(o != NULL, "not valid JSON (%s): %s",
	    json_tokener_error_desc(json_tokener_get_error(tok)), s);
	json_tokener_free(tok);
	return o;
}

static const char *
jget(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* The error.message of a NACK body, as decoded by json-c (caller frees). */
static char *
nack_message_decoded(const char *body)
{
	json_object	*o = parse_strict(body), *err;
	char		*m;

	ck_assert(json_object_object_get_ex(o, "error", &err));
	m = xstrdup(jget(err, "message"));
	json_object_put(o);
	return m;
}

/* Action table. */

START_TEST(action_every_core_action)
{
	const struct beckn_action	*a;
	size_t				 i;

	for (i = 0; i < NELEM(requests); i++) {
		a = beckn_action_find(requests[i]);
		ck_assert_msg(a != NULL, "%s not found", requests[i]);
		ck_assert_str_eq(a->name, requests[i]);
		ck_assert_uint_eq(a->namelen, strlen(requests[i]));
		ck_assert_int_eq(a->kind, BECKN_REQUEST);
		ck_assert_ptr_eq(beckn_action_get(a->id), a);
	}
	for (i = 0; i < NELEM(callbacks); i++) {
		a = beckn_action_find(callbacks[i]);
		ck_assert_msg(a != NULL, "%s not found", callbacks[i]);
		ck_assert_str_eq(a->name, callbacks[i]);
		ck_assert_int_eq(a->kind, BECKN_CALLBACK);
		ck_assert_int_eq(a->has_message, 1);
		/* Pair of the i-th request is the i-th callback, and back. */
		ck_assert_ptr_eq(a->pair, beckn_action_find(requests[i]));
		ck_assert_ptr_eq(a->pair->pair, a);
	}
	ck_assert_uint_eq(NELEM(requests) + NELEM(callbacks),
	    BECKN_ACTION_COUNT);
	ck_assert_ptr_null(beckn_action_get(BECKN_ACTION_COUNT));
}
END_TEST

START_TEST(action_pairs_named)
{
	static const char *const pairs[][2] = {
		{ "search", "on_search" }, { "support", "on_support" },
		{ "get_cancellation_reasons", "cancellation_reasons" },
		{ "get_return_reasons", "return_reasons" },
		{ "get_rating_categories", "rating_categories" },
	};
	const struct beckn_action	*a;
	size_t				 i;

	for (i = 0; i < NELEM(pairs); i++) {
		ck_assert_str_eq(beckn_action_find(pairs[i][0])->pair->name,
		    pairs[i][1]);
		ck_assert_str_eq(beckn_action_find(pairs[i][1])->pair->name,
		    pairs[i][0]);
	}
	/* Meta requests (get_*) carry no message in the core schema. */
	for (i = 0; i < BECKN_ACTION_COUNT; i++) {
		a = beckn_action_get((enum beckn_action_id)i);
		ck_assert_msg(a->has_message ==
		    (strncmp(a->name, "get_", 4) != 0), "%s", a->name);
	}
}
END_TEST

START_TEST(action_lookup_exact)
{
	static const char *const bad[] = { "", "Search", "SEARCH", "searc",
	    "searchx", " search", "search ", "on_", "on", "get_", "onsearch",
	    "on_search/", "cancellation", "reasons" };
	size_t	 i;

	for (i = 0; i < NELEM(bad); i++)
		ck_assert_msg(beckn_action_find(bad[i]) == NULL, "\"%s\" found",
		    bad[i]);
	ck_assert_ptr_null(beckn_action_find(NULL));
	ck_assert_ptr_null(beckn_action_findn(NULL, 3));
	/* A path segment is not NUL-terminated. */
	ck_assert_str_eq(beckn_action_findn("on_search/x", 9)->name,
	    "on_search");
	ck_assert_str_eq(beckn_action_findn("init?x=1", 4)->name, "init");
	ck_assert_ptr_null(beckn_action_findn("on_search", 8));
	ck_assert_ptr_null(beckn_action_findn("search", 0));
}
END_TEST

START_TEST(action_roles)
{
	const struct beckn_action	*a, *search, *on_search;
	int				 i;

	for (i = 0; i < BECKN_ACTION_COUNT; i++) {
		a = beckn_action_get((enum beckn_action_id)i);
		ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BAP, a),
		    a->kind == BECKN_CALLBACK);
		ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BPP, a),
		    a->kind == BECKN_REQUEST);
		ck_assert_int_eq(beckn_role_sends(BECKN_ROLE_BAP, a),
		    a->kind == BECKN_REQUEST);
		ck_assert_int_eq(beckn_role_sends(BECKN_ROLE_BPP, a),
		    a->kind == BECKN_CALLBACK);
		ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_GATEWAY, a),
		    a->id == BECKN_A_SEARCH);
		ck_assert_int_eq(beckn_role_sends(BECKN_ROLE_GATEWAY, a),
		    a->id == BECKN_A_SEARCH);
	}
	search = beckn_action_find("search");
	on_search = beckn_action_find("on_search");
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_GATEWAY, search), 1);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_GATEWAY, on_search),
	    0);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BAP, on_search), 1);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BAP, search), 0);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BPP, search), 1);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BPP,
	    beckn_action_find("cancellation_reasons")), 0);
	ck_assert_int_eq(beckn_role_receives(BECKN_ROLE_BPP, NULL), 0);
	ck_assert_int_eq(beckn_role_sends(BECKN_ROLE_BAP, NULL), 0);
	ck_assert_str_eq(beckn_role_name(BECKN_ROLE_GATEWAY), "gateway");
}
END_TEST

/* ACK / NACK. */

START_TEST(ack_exact)
{
	struct evbuffer	*evb = evbuffer_new();
	char		*s;

	ck_assert_int_eq(beckn_ack_write(evb), 0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"ACK\"}}}");
	free(s);
	/* Appends: what was in the buffer stays in front. */
	evbuffer_add(evb, "x", 1);
	ck_assert_int_eq(beckn_ack_write(evb), 0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "x{\"message\":{\"ack\":{\"status\":\"ACK\"}}}");
	free(s);
	evbuffer_free(evb);
	ck_assert_int_eq(beckn_ack_write(NULL), -1);
}
END_TEST

START_TEST(nack_exact)
{
	char	*s;

	s = nack_str("30000", "/context/action", "action mismatch");
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"paths\":\"/context/action\","
	    "\"message\":\"action mismatch\"}}");
	free(s);
	s = nack_str("40001", NULL, "not applicable");
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"40001\",\"message\":\"not applicable\"}}");
	free(s);
	s = nack_str("30000", NULL, NULL);
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\"}}");
	free(s);
	s = nack_str("30000", "", "");
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"paths\":\"\",\"message\":\"\"}}");
	free(s);
}
END_TEST

START_TEST(nack_escapes)
{
	char	*s, *m;

	s = nack_str("30000", "/a\"b", "say \"hi\" \\ back\\slash");
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"paths\":\"/a\\\"b\","
	    "\"message\":\"say \\\"hi\\\" \\\\ back\\\\slash\"}}");
	m = nack_message_decoded(s);
	ck_assert_str_eq(m, "say \"hi\" \\ back\\slash");
	free(m);
	free(s);

	s = nack_str("30000", NULL, "\b\f\n\r\t\x01\x1f\x7f/end");
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"message\":"
	    "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/end\"}}");
	m = nack_message_decoded(s);
	ck_assert_str_eq(m, "\b\f\n\r\t\x01\x1f\x7f/end");
	free(m);
	free(s);
}
END_TEST

START_TEST(nack_invalid_utf8)
{
	static const struct {
		const char	*in;
		const char	*out;	/* as emitted; FFFD is EF BF BD */
	} v[] = {
		/* Valid multi-byte text passes through untouched. */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "\x80", "\xef\xbf\xbd" },
		/* Overlong "/": two invalid leads, two replacements. */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
		/* Surrogate U+D800: ED is cut off by A0, then A0, 80. */
		{ "\xed\xa0\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* Above U+10FFFF. */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xef\xbf\xbd" },
		/* Truncated sequences: one replacement per maximal subpart. */
		{ "\xe2\x82", "\xef\xbf\xbd" },
		{ "\xe2\x82" "A", "\xef\xbf\xbd" "A" },
		{ "\xf0\x9f\x98", "\xef\xbf\xbd" },
		{ "\xf0\x9f\x98\"", "\xef\xbf\xbd\\\"" },
		{ "\xc3", "\xef\xbf\xbd" },
		{ "\xf5\x80", "\xef\xbf\xbd\xef\xbf\xbd" },
	};
	char	*s, *m, want[256];
	size_t	 i;

	for (i = 0; i < NELEM(v); i++) {
		s = nack_str("30000", NULL, v[i].in);
		snprintf(want, sizeof(want), "{\"message\":{\"ack\":{\"status\":"
		    "\"NACK\"}},\"error\":{\"code\":\"30000\",\"message\":"
		    "\"%s\"}}", v[i].out);
		ck_assert_msg(strcmp(s, want) == 0, "case %zu: %s", i, s);
		m = nack_message_decoded(s);
		free(m);
		free(s);
	}
}
END_TEST

START_TEST(nack_random_bytes_valid_json)
{
	char		 msg[80], paths[40], *s;
	json_object	*o;
	unsigned	 seed = 12345;
	size_t		 i, j, n;

	for (i = 0; i < 5000; i++) {
		n = (size_t)rand_r(&seed) % (sizeof(msg) - 1);
		for (j = 0; j < n; j++)
			msg[j] = (char)(1 + rand_r(&seed) % 255);
		msg[n] = '\0';
		n = (size_t)rand_r(&seed) % (sizeof(paths) - 1);
		for (j = 0; j < n; j++)
			paths[j] = (char)(1 + rand_r(&seed) % 255);
		paths[n] = '\0';
		s = nack_str("30000", paths, msg);
		o = parse_strict(s);
		json_object_put(o);
		free(s);
	}
}
END_TEST

START_TEST(nack_truncated_on_char_boundary)
{
	char	 in[2100], *s, *m;
	size_t	 i;

	memset(in, 'a', 2000);
	in[2000] = '\0';
	s = nack_str("30000", NULL, in);
	m = nack_message_decoded(s);
	ck_assert_uint_eq(strlen(m), BECKN_ERR_TEXT_MAX);
	free(m);
	free(s);

	/* The cut falls inside a 3-byte character: drop it whole. */
	memset(in, 'a', BECKN_ERR_TEXT_MAX - 1);
	memcpy(in + BECKN_ERR_TEXT_MAX - 1, "\xe2\x82\xac" "bbb", 7);
	s = nack_str("30000", NULL, in);
	ck_assert_ptr_null(strstr(s, "\xef\xbf\xbd"));
	m = nack_message_decoded(s);
	ck_assert_uint_eq(strlen(m), BECKN_ERR_TEXT_MAX - 1);
	for (i = 0; i < strlen(m); i++)
		ck_assert_int_eq(m[i], 'a');
	free(m);
	free(s);
}
END_TEST

START_TEST(ack_with_context)
{
	static const char	 ctx[] = "{\"action\":\"search\","
	    "\"message_id\":\"m\\\"1\"}";
	struct beckn_nack	 nack = { BECKN_CODE_INVALID_REQUEST,
	    "/message", "bad" };
	struct evbuffer		*evb = evbuffer_new();
	json_object		*o;
	char			*s, *t;
	size_t			 len;

	ck_assert_int_eq(beckn_ack_write_ctx(evb, ctx, strlen(ctx), NULL), 0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "{\"context\":{\"action\":\"search\","
	    "\"message_id\":\"m\\\"1\"},"
	    "\"message\":{\"ack\":{\"status\":\"ACK\"}}}");
	t = beckn_ack_string(ctx, strlen(ctx), NULL, &len);
	ck_assert_str_eq(t, s);
	ck_assert_uint_eq(len, strlen(s));
	free(t);
	free(s);

	ck_assert_int_eq(beckn_ack_write_ctx(evb, ctx, strlen(ctx), &nack),
	    0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "{\"context\":{\"action\":\"search\","
	    "\"message_id\":\"m\\\"1\"},"
	    "\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"paths\":\"/message\","
	    "\"message\":\"bad\"}}");
	o = parse_strict(s);
	json_object_put(o);
	t = beckn_ack_string(ctx, strlen(ctx), &nack, NULL);
	ck_assert_str_eq(t, s);
	free(t);
	free(s);

	/* No context: same bytes as the plain writers. */
	t = beckn_ack_string(NULL, 0, NULL, NULL);
	ck_assert_str_eq(t, "{\"message\":{\"ack\":{\"status\":\"ACK\"}}}");
	free(t);

	/* Refused: not an object, empty, missing code. */
	ck_assert_int_eq(beckn_ack_write_ctx(evb, "[1]", 3, NULL), -1);
	ck_assert_int_eq(beckn_ack_write_ctx(evb, "{", 1, NULL), -1);
	ck_assert_int_eq(beckn_ack_write_ctx(evb, "", 0, NULL), -1);
	nack.code = NULL;
	ck_assert_int_eq(beckn_ack_write_ctx(evb, NULL, 0, &nack), -1);
	ck_assert_ptr_null(beckn_ack_string(NULL, 0, &nack, NULL));
	ck_assert_ptr_null(beckn_ack_string("x", 1, NULL, NULL));
	ck_assert_int_eq(beckn_ack_write_ctx(NULL, NULL, 0, NULL), -1);
	evbuffer_free(evb);
}
END_TEST

START_TEST(error_table)
{
	static const struct {
		enum beckn_err	 e;
		int		 status;
		const char	*code;
	} want[] = {
		{ BECKN_ERR_INVALID_JSON, 400, "30000" },
		{ BECKN_ERR_SCHEMA, 400, "30000" },
		{ BECKN_ERR_ACTION_MISMATCH, 400, "30000" },
		{ BECKN_ERR_CONTEXT, 400, "30000" },
		{ BECKN_ERR_NOT_APPLICABLE, 400, "40001" },
		{ BECKN_ERR_AUTH, 401, "30000" },
		{ BECKN_ERR_NOT_FOUND, 404, "40001" },
		{ BECKN_ERR_METHOD, 405, "30000" },
		{ BECKN_ERR_TOO_LARGE, 413, "30000" },
		{ BECKN_ERR_MEDIA_TYPE, 415, "30000" },
		{ BECKN_ERR_INTERNAL, 500, "40000" },
		{ BECKN_ERR_UPSTREAM, 502, "40000" },
		{ BECKN_ERR_BUSY, 503, "40000" },
		{ BECKN_ERR_UPSTREAM_TIMEOUT, 504, "40000" },
	};
	const struct beckn_error	*be;
	struct evbuffer			*evb = evbuffer_new();
	char				*s;
	size_t				 i;

	ck_assert_uint_eq(NELEM(want), BECKN_ERR_COUNT);
	for (i = 0; i < NELEM(want); i++) {
		be = beckn_error_get(want[i].e);
		ck_assert_int_eq(be->http_status, want[i].status);
		ck_assert_str_eq(be->code, want[i].code);
		ck_assert_ptr_nonnull(be->message);
	}
	ck_assert_ptr_eq(beckn_error_get(BECKN_ERR_COUNT),
	    beckn_error_get(BECKN_ERR_INTERNAL));

	ck_assert_int_eq(beckn_error_write(evb, BECKN_ERR_BUSY, NULL, NULL),
	    0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"40000\",\"message\":\"busy, retry later\"}}");
	free(s);
	ck_assert_int_eq(beckn_error_write(evb, BECKN_ERR_AUTH, NULL,
	    "replayed"), 0);
	s = evb_str(evb);
	ck_assert_str_eq(s, "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
	    "\"error\":{\"code\":\"30000\",\"message\":\"replayed\"}}");
	free(s);
	evbuffer_free(evb);
}
END_TEST

START_TEST(reply_parse)
{
	static const struct {
		const char	*body;
		int		 status;
		const char	*code;
	} cases[] = {
		{ "{\"message\":{\"ack\":{\"status\":\"ACK\"}}}",
		    BECKN_REPLY_ACK, NULL },
		{ "{\"message\":{\"ack\":{\"status\":\"NACK\"}},"
		  "\"error\":{\"code\":\"30001\",\"message\":\"no\","
		  "\"paths\":\"/a\"}}", BECKN_REPLY_NACK, "30001" },
		/* Naming "ACK" somewhere else is not an ACK. */
		{ "{\"message\":{\"text\":\"ACK\"}}", BECKN_REPLY_NONE, NULL },
		{ "{\"message\":{\"ack\":{\"status\":\"ack\"}}}",
		    BECKN_REPLY_NONE, NULL },
		{ "{\"message\":{\"ack\":{\"status\":1}}}", BECKN_REPLY_NONE,
		    NULL },
		{ "\"ACK\"", BECKN_REPLY_NONE, NULL },
		{ "OK", BECKN_REPLY_NONE, NULL },
		{ "", BECKN_REPLY_NONE, NULL },
		{ "{\"message\":{\"ack\":{\"status\":\"ACK\"}}", /* cut */
		    BECKN_REPLY_NONE, NULL },
		{ "{\"message\":{\"ack\":{\"status\":\"NACK\"}},\"error\":7}",
		    BECKN_REPLY_NACK, NULL },
	};
	struct beckn_reply	 r;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(beckn_reply_parse(cases[i].body,
		    strlen(cases[i].body), &r), cases[i].status);
		ck_assert_int_eq(r.status, cases[i].status);
		if (cases[i].code != NULL) {
			ck_assert_str_eq(r.code, cases[i].code);
			ck_assert_str_eq(r.message, "no");
			ck_assert_str_eq(r.paths, "/a");
		} else
			ck_assert_ptr_null(r.code);
		beckn_reply_clear(&r);
		ck_assert_ptr_null(r.root);
	}
	/* Deeply nested junk is refused without recursion trouble. */
	{
		char	 deep[4096];

		memset(deep, '[', sizeof(deep));
		ck_assert_int_eq(beckn_reply_parse(deep, sizeof(deep), &r),
		    BECKN_REPLY_NONE);
		beckn_reply_clear(&r);
	}
}
END_TEST

START_TEST(paths_join)
{
	struct beckn_paths	 pb;
	char			 buf[40];

	beckn_paths_init(&pb, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(beckn_paths_add(&pb, "/context/action"), 0);
	ck_assert_int_eq(beckn_paths_add(&pb, "/message"), 0);
	ck_assert_int_eq(beckn_paths_add(&pb, "/context/action"), 0);
	ck_assert_int_eq(beckn_paths_add(&pb, "/message"), 0);
	ck_assert_str_eq(buf, "/context/action,/message");
	ck_assert_uint_eq(pb.n, 2);
	ck_assert_uint_eq(pb.len, strlen(buf));
	/* A prefix of a joined pointer is a different pointer. */
	ck_assert_int_eq(beckn_paths_add(&pb, "/context"), 0);
	ck_assert_str_eq(buf, "/context/action,/message,/context");
	/* 33 used, 7 left: ",/abcdef" needs 8 + NUL. */
	ck_assert_int_eq(beckn_paths_add(&pb, "/abcdef"), -1);
	ck_assert_uint_eq(pb.dropped, 1);
	ck_assert_int_eq(beckn_paths_add(&pb, "/abcd"), 0);
	ck_assert_str_eq(buf, "/context/action,/message,/context,/abcd");
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
	ck_assert_int_eq(beckn_paths_add(&pb, "/"), -1);
	ck_assert_uint_eq(pb.dropped, 2);
	ck_assert_uint_eq(pb.n, 4);

	/* Exactly fitting first pointer; root pointer "" listed once. */
	beckn_paths_init(&pb, buf, 4);
	ck_assert_int_eq(beckn_paths_add(&pb, "/abc"), -1);
	ck_assert_int_eq(beckn_paths_add(&pb, "/ab"), 0);
	ck_assert_str_eq(buf, "/ab");
	beckn_paths_init(&pb, buf, sizeof(buf));
	ck_assert_int_eq(beckn_paths_add(&pb, ""), 0);
	ck_assert_int_eq(beckn_paths_add(&pb, ""), 0);
	ck_assert_uint_eq(pb.n, 1);
	ck_assert_int_eq(beckn_paths_add(&pb, "/x"), 0);
	ck_assert_str_eq(buf, ",/x");
	ck_assert_int_eq(beckn_paths_add(&pb, ""), 0);
	ck_assert_uint_eq(pb.n, 2);
	beckn_paths_init(&pb, NULL, 0);
	ck_assert_int_eq(beckn_paths_add(&pb, "/x"), -1);
}
END_TEST

/* UUIDs and timestamps. */

static void
assert_uuid4(const char *u)
{
	size_t	 i;

	ck_assert_uint_eq(strlen(u), 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_msg(u[i] == '-', "%s: no dash at %zu", u, i);
		else
			ck_assert_msg((u[i] >= '0' && u[i] <= '9') ||
			    (u[i] >= 'a' && u[i] <= 'f'), "%s: bad char at %zu",
			    u, i);
	}
	ck_assert_msg(u[14] == '4', "%s: version", u);
	ck_assert_msg(strchr("89ab", u[19]) != NULL, "%s: variant", u);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(uuid4_format_unique)
{
	static const char variants[] = "89ab";
	static char	 ids[1000][BECKN_UUID_SIZE];
	int		 seen_variant[4] = { 0 };
	size_t		 i;

	for (i = 0; i < NELEM(ids); i++) {
		ck_assert_int_eq(beckn_uuid4(ids[i]), 0);
		assert_uuid4(ids[i]);
		seen_variant[strchr(variants, ids[i][19]) - variants]++;
	}
	/* Two random variant bits: all four spellings show up. */
	for (i = 0; i < 4; i++)
		ck_assert_int_gt(seen_variant[i], 0);
	qsort(ids, NELEM(ids), sizeof(ids[0]), cmp_str);
	for (i = 1; i < NELEM(ids); i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);
}
END_TEST

START_TEST(timestamp_known)
{
	static const struct {
		int64_t		 ms;
		const char	*s;
	} v[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ 1795341600123LL, "2026-11-22T10:00:00.123Z" },
		{ 1795341600000LL, "2026-11-22T10:00:00.000Z" },
		{ 1709210096789LL, "2024-02-29T12:34:56.789Z" },
		{ 1704067199999LL, "2023-12-31T23:59:59.999Z" },
		{ 1704067200000LL, "2024-01-01T00:00:00.000Z" },
		{ 951782400000LL, "2000-02-29T00:00:00.000Z" },
		{ 4107542399000LL, "2100-02-28T23:59:59.000Z" },
		{ 4107542400000LL, "2100-03-01T00:00:00.000Z" },
		{ 253402300799999LL, "9999-12-31T23:59:59.999Z" },
	};
	char	 out[BECKN_TIMESTAMP_SIZE];
	size_t	 i;

	for (i = 0; i < NELEM(v); i++) {
		ck_assert_int_eq(beckn_timestamp(v[i].ms, out), 0);
		ck_assert_str_eq(out, v[i].s);
	}
	ck_assert_int_eq(beckn_timestamp(253402300800000LL, out), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(beckn_timestamp(-62167219200001LL, out), -1);
	ck_assert_int_eq(beckn_timestamp(-62167219200000LL, out), 0);
	ck_assert_str_eq(out, "0000-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(timestamp_matches_gmtime)
{
	char		 out[BECKN_TIMESTAMP_SIZE], want[64];
	struct tm	 tm;
	time_t		 t;
	unsigned	 seed = 7;
	int64_t		 ms;
	int		 i;

	for (i = 0; i < 20000; i++) {
		/* 0 .. ~year 2500, in ms. */
		ms = ((int64_t)rand_r(&seed) << 20 ^ rand_r(&seed)) %
		    16725225600000LL;
		t = (time_t)(ms / 1000);
		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)(ms % 1000));
		ck_assert_int_eq(beckn_timestamp(ms, out), 0);
		ck_assert_str_eq(out, want);
	}
}
END_TEST

/* Context completion. */

static int64_t		 now_ms = 1795341600123LL;
static struct clock	 mclock = { clock_manual_now_ms, &now_ms };

static const struct beckn_ctx_fill bap_fill = {
	.action = "search",
	.domain = "retail:1.1.0",
	.version = "1.1.0",
	.role = BECKN_ROLE_BAP,
	.subscriber_id = "bap.example.com",
	.subscriber_uri = "https://bap.example.com/beckn",
	.ttl = NULL,
};

static json_object *
complete_ok(const char *in, const struct beckn_ctx_fill *f)
{
	json_object	*body = json_tokener_parse(in);
	const char	*path;
	char		 err[256] = "";

	ck_assert_ptr_nonnull(body);
	ck_assert_msg(beckn_context_complete(body, f, &mclock, err,
	    sizeof(err), &path) == 0, "refused: %s", err);
	return body;
}

/*
 * Refused with an error naming want at JSON pointer want_path; body left
 * exactly as it was.
 */
static void
complete_refused_at(const char *in, const struct beckn_ctx_fill *f,
    const char *want, const char *want_path)
{
	json_object	*body = json_tokener_parse(in);
	const char	*path = NULL;
	char		 err[256] = "", *before;

	ck_assert_ptr_nonnull(body);
	before = xstrdup(json_object_to_json_string_ext(body,
	    JFLAGS));
	ck_assert_int_eq(beckn_context_complete(body, f, &mclock, err,
	    sizeof(err), &path), -1);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"",
	    err, want);
	if (want_path != NULL)
		ck_assert_str_eq(path, want_path);
	ck_assert_str_eq(json_object_to_json_string_ext(body,
	    JFLAGS), before);
	free(before);
	json_object_put(body);
}

static void
complete_refused(const char *in, const struct beckn_ctx_fill *f,
    const char *want)
{
	complete_refused_at(in, f, want, NULL);
}

static json_object *
ctx_of(json_object *body)
{
	json_object	*ctx;

	ck_assert(json_object_object_get_ex(body, "context", &ctx));
	ck_assert(json_object_is_type(ctx, json_type_object));
	return ctx;
}

START_TEST(context_empty_filled)
{
	static const char *const order[] = { "domain", "action", "version",
	    "bap_id", "bap_uri", "transaction_id", "message_id", "timestamp",
	    "ttl" };
	json_object	*body, *ctx;
	size_t		 i;

	body = complete_ok("{\"context\":{},\"message\":{\"intent\":{}}}",
	    &bap_fill);
	ctx = ctx_of(body);
	ck_assert_str_eq(jget(ctx, "domain"), "retail:1.1.0");
	ck_assert_str_eq(jget(ctx, "action"), "search");
	ck_assert_str_eq(jget(ctx, "version"), "1.1.0");
	ck_assert_str_eq(jget(ctx, "bap_id"), "bap.example.com");
	ck_assert_str_eq(jget(ctx, "bap_uri"), "https://bap.example.com/beckn");
	assert_uuid4(jget(ctx, "transaction_id"));
	assert_uuid4(jget(ctx, "message_id"));
	ck_assert_str_ne(jget(ctx, "transaction_id"), jget(ctx, "message_id"));
	ck_assert_str_eq(jget(ctx, "timestamp"), "2026-11-22T10:00:00.123Z");
	ck_assert_str_eq(jget(ctx, "ttl"), "PT30S");
	ck_assert_ptr_null(jget(ctx, "bpp_id"));
	ck_assert_ptr_null(jget(ctx, "bpp_uri"));
	ck_assert_int_eq(json_object_object_length(ctx), NELEM(order));
	/* Deterministic key order. */
	i = 0;
	{
		json_object_object_foreach(ctx, k, val) {
			(void)val;
			ck_assert_str_eq(k, order[i]);
			i++;
		}
	}
	json_object_put(body);
}
END_TEST

START_TEST(context_absent_created_first)
{
	struct beckn_ctx_fill	 f = bap_fill;
	json_object		*body, *ctx;
	const char		*s, *want;

	f.domain = NULL;
	f.ttl = "PT10S";
	f.version = NULL;
	body = complete_ok("{\"message\":{\"intent\":{}},\"x\":1}", &f);
	ctx = ctx_of(body);
	ck_assert_ptr_null(jget(ctx, "domain"));
	ck_assert_str_eq(jget(ctx, "ttl"), "PT10S");
	ck_assert_str_eq(jget(ctx, "version"), BECKN_CORE_VERSION);
	s = json_object_to_json_string_ext(body, JFLAGS);
	ck_assert_msg(strncmp(s, "{\"context\":{", 12) == 0, "%s", s);
	ck_assert_ptr_nonnull(strstr(s, "},\"message\":{\"intent\":{}},\"x\":1}"));
	json_object_put(body);

	/* "context": null is absent too, and keeps its place. */
	body = complete_ok("{\"message\":{},\"context\":null}", &f);
	s = json_object_to_json_string_ext(body, JFLAGS);
	want = "{\"message\":{},\"context\":{\"action\":\"search\",";
	ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "%s", s);
	json_object_put(body);
}
END_TEST

START_TEST(context_app_fields_kept)
{
	static const char in[] = "{\"context\":{\"domain\":\"mobility\","
	    "\"location\":{\"city\":{\"code\":\"std:080\"}},"
	    "\"action\":\"search\",\"version\":\"1.1.0\","
	    "\"bap_id\":\"bap.example.com\","
	    "\"bap_uri\":\"https://bap.example.com/beckn/\","
	    "\"bpp_id\":\"bpp.example\",\"bpp_uri\":\"https://bpp.example\","
	    "\"transaction_id\":\"t1\",\"message_id\":\"m1\","
	    "\"timestamp\":\"2020-01-01T00:00:00Z\",\"ttl\":\"PT5S\","
	    "\"key\":\"k\"},\"message\":{}}";
	json_object	*body;
	const char	*s;

	body = complete_ok(in, &bap_fill);
	s = json_object_to_json_string_ext(body, JFLAGS);
	ck_assert_str_eq(s, in);
	json_object_put(body);

	/* Partly filled: sent fields kept, JSON null treated as missing. */
	body = complete_ok("{\"context\":{\"transaction_id\":\"t1\","
	    "\"ttl\":null,\"domain\":\"d\"},\"message\":{}}", &bap_fill);
	s = json_object_to_json_string_ext(body, JFLAGS);
	ck_assert_ptr_nonnull(strstr(s, "{\"context\":{\"transaction_id\":"
	    "\"t1\",\"ttl\":\"PT30S\",\"domain\":\"d\",\"action\":\"search\","));
	assert_uuid4(jget(ctx_of(body), "message_id"));
	json_object_put(body);
}
END_TEST

START_TEST(context_refusals)
{
	struct beckn_ctx_fill	 f = bap_fill;

	complete_refused("{\"context\":{\"action\":\"select\"},\"message\":{}}",
	    &bap_fill, "context.action");
	complete_refused("{\"context\":{\"action\":7},\"message\":{}}",
	    &bap_fill, "context.action");
	complete_refused("{\"context\":{\"action\":\"search\\u0000x\"},"
	    "\"message\":{}}", &bap_fill, "context.action");
	complete_refused("{\"context\":{\"action\":\"search\","
	    "\"bap_id\":\"evil.example\"},\"message\":{}}", &bap_fill,
	    "context.bap_id");
	complete_refused("{\"context\":{\"bap_id\":[]},\"message\":{}}",
	    &bap_fill, "context.bap_id");
	complete_refused("[]", &bap_fill, "not a JSON object");
	complete_refused("\"search\"", &bap_fill, "not a JSON object");
	complete_refused("{\"context\":{}}", &bap_fill, "message is required");
	complete_refused("{\"context\":{},\"message\":null}", &bap_fill,
	    "message is required");
	complete_refused("{\"context\":{},\"message\":[]}", &bap_fill,
	    "message is not an object");
	complete_refused("{\"context\":\"x\",\"message\":{}}", &bap_fill,
	    "context is not an object");
	complete_refused("{\"context\":[],\"message\":{}}", &bap_fill,
	    "context is not an object");
	f.role = BECKN_ROLE_GATEWAY;
	complete_refused("{\"message\":{}}", &f, "role");
	f = bap_fill;
	f.action = "find";
	complete_refused("{\"message\":{}}", &f, "unknown action");
	f = bap_fill;
	f.subscriber_id = NULL;
	complete_refused("{\"message\":{}}", &f, "subscriber");
	{
		const char	*path;
		char		 err[64];

		ck_assert_int_eq(beckn_context_complete(NULL, &bap_fill,
		    &mclock, err, sizeof(err), &path), -1);
		ck_assert_str_eq(path, "");
		ck_assert_str_eq(err, "body is not a JSON object");
	}
}
END_TEST

START_TEST(context_bpp_role)
{
	struct beckn_ctx_fill	 f = bap_fill;
	json_object		*body, *ctx;

	f.role = BECKN_ROLE_BPP;
	f.action = "on_search";
	f.subscriber_id = "bpp.example.com";
	f.subscriber_uri = "https://bpp.example.com/beckn";
	/* A callback: the app copies the request's BAP fields and ids. */
	body = complete_ok("{\"context\":{\"bap_id\":\"bap.x\","
	    "\"bap_uri\":\"https://bap.x/cb\",\"transaction_id\":\"t\","
	    "\"message_id\":\"m\"},\"message\":{\"catalog\":{}}}", &f);
	ctx = ctx_of(body);
	ck_assert_str_eq(jget(ctx, "bpp_id"), "bpp.example.com");
	ck_assert_str_eq(jget(ctx, "bpp_uri"), "https://bpp.example.com/beckn");
	ck_assert_str_eq(jget(ctx, "bap_id"), "bap.x");
	ck_assert_str_eq(jget(ctx, "bap_uri"), "https://bap.x/cb");
	ck_assert_str_eq(jget(ctx, "transaction_id"), "t");
	ck_assert_str_eq(jget(ctx, "message_id"), "m");
	ck_assert_str_eq(jget(ctx, "action"), "on_search");
	json_object_put(body);

	/* BPP fills no bap_*; its own id must match when sent. */
	body = complete_ok("{\"message\":{}}", &f);
	ck_assert_ptr_null(jget(ctx_of(body), "bap_id"));
	ck_assert_ptr_null(jget(ctx_of(body), "bap_uri"));
	json_object_put(body);
	complete_refused("{\"context\":{\"bpp_id\":\"other\"},\"message\":{}}",
	    &f, "context.bpp_id");
	/* A foreign bap_id is none of the BPP's business. */
	body = complete_ok("{\"context\":{\"bap_id\":\"whoever\"},"
	    "\"message\":{}}", &f);
	json_object_put(body);
}
END_TEST

START_TEST(context_meta_request_without_message)
{
	struct beckn_ctx_fill	 f = bap_fill;
	json_object		*body;

	f.action = "get_cancellation_reasons";
	body = complete_ok("{\"context\":{}}", &f);
	ck_assert_str_eq(jget(ctx_of(body), "action"),
	    "get_cancellation_reasons");
	json_object_put(body);
	body = complete_ok("{}", &f);
	ck_assert_str_eq(jget(ctx_of(body), "action"),
	    "get_cancellation_reasons");
	json_object_put(body);
}
END_TEST

/* A callback may carry only an error: the schema decides, not us. */
START_TEST(context_error_only_callback)
{
	struct beckn_ctx_fill	 f = bap_fill;
	json_object		*body, *e;

	f.role = BECKN_ROLE_BPP;
	f.subscriber_id = "bpp.example.com";
	f.subscriber_uri = "https://bpp.example.com/beckn";
	f.action = "on_select";
	body = complete_ok("{\"context\":{\"bap_id\":\"bap.x\"},"
	    "\"error\":{\"code\":\"30004\",\"message\":\"gone\"}}", &f);
	ck_assert_str_eq(jget(ctx_of(body), "action"), "on_select");
	ck_assert(json_object_object_get_ex(body, "error", &e));
	ck_assert(!json_object_object_get_ex(body, "message", NULL));
	json_object_put(body);
	f.action = "cancellation_reasons";
	body = complete_ok("{\"context\":{}}", &f);
	json_object_put(body);
	/* A request still says something. */
	complete_refused_at("{\"context\":{},\"error\":{}}", &bap_fill,
	    "message is required", "/message");
	/* A message that is there must be an object. */
	complete_refused_at("{\"context\":{},\"message\":\"x\"}", &f,
	    "message is not an object", "/message");
}
END_TEST

/* One tenant cannot speak as another: own id and own URL only. */
START_TEST(context_own_endpoint)
{
	struct beckn_ctx_fill	 f = bap_fill;
	json_object		*body;

	complete_refused_at("{\"context\":{\"bap_id\":\"bap.other\"},"
	    "\"message\":{}}", &bap_fill, "context.bap_id", "/context/bap_id");
	complete_refused_at("{\"context\":{\"bap_uri\":"
	    "\"https://bap.other/beckn\"},\"message\":{}}", &bap_fill,
	    "context.bap_uri", "/context/bap_uri");
	/* Paths are case-sensitive; scheme and host are not. */
	complete_refused_at("{\"context\":{\"bap_uri\":"
	    "\"https://bap.example.com/BECKN\"},\"message\":{}}", &bap_fill,
	    "context.bap_uri", "/context/bap_uri");
	complete_refused_at("{\"context\":{\"bap_uri\":7},\"message\":{}}",
	    &bap_fill, "context.bap_uri", "/context/bap_uri");
	complete_refused_at("{\"context\":{\"bap_uri\":"
	    "\"https://bap.example.com/beckn\\u0000x\"},\"message\":{}}",
	    &bap_fill, "context.bap_uri", "/context/bap_uri");
	body = complete_ok("{\"context\":{\"bap_uri\":"
	    "\"HTTPS://BAP.example.com/beckn/\"},\"message\":{}}", &bap_fill);
	/* Kept as the app sent it: becknd signs what it was given. */
	ck_assert_str_eq(jget(ctx_of(body), "bap_uri"),
	    "HTTPS://BAP.example.com/beckn/");
	json_object_put(body);
	f.role = BECKN_ROLE_BPP;
	f.action = "on_search";
	f.subscriber_id = "bpp.example.com";
	f.subscriber_uri = "https://bpp.example.com/beckn";
	complete_refused_at("{\"context\":{\"bpp_uri\":"
	    "\"https://bpp.example.com/other\"},\"message\":{}}", &f,
	    "context.bpp_uri", "/context/bpp_uri");
	complete_refused_at("{\"context\":{\"action\":\"on_select\"},"
	    "\"message\":{}}", &f, "context.action", "/context/action");
}
END_TEST

static Suite *
beckn_suite(void)
{
	Suite	*s = suite_create("beckn");
	TCase	*tc;

	tc = tcase_create("action");
	tcase_add_test(tc, action_every_core_action);
	tcase_add_test(tc, action_pairs_named);
	tcase_add_test(tc, action_lookup_exact);
	tcase_add_test(tc, action_roles);
	suite_add_tcase(s, tc);

	tc = tcase_create("ack");
	tcase_add_test(tc, ack_exact);
	tcase_add_test(tc, nack_exact);
	tcase_add_test(tc, nack_escapes);
	tcase_add_test(tc, nack_invalid_utf8);
	tcase_add_test(tc, nack_random_bytes_valid_json);
	tcase_add_test(tc, nack_truncated_on_char_boundary);
	tcase_add_test(tc, ack_with_context);
	tcase_add_test(tc, error_table);
	tcase_add_test(tc, paths_join);
	suite_add_tcase(s, tc);

	tc = tcase_create("context");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, uuid4_format_unique);
	tcase_add_test(tc, timestamp_known);
	tcase_add_test(tc, timestamp_matches_gmtime);
	tcase_add_test(tc, context_empty_filled);
	tcase_add_test(tc, context_absent_created_first);
	tcase_add_test(tc, context_app_fields_kept);
	tcase_add_test(tc, context_refusals);
	tcase_add_test(tc, context_bpp_role);
	tcase_add_test(tc, context_meta_request_without_message);
	tcase_add_test(tc, context_error_only_callback);
	tcase_add_test(tc, reply_parse);
	tcase_add_test(tc, context_own_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(beckn_suite());
}

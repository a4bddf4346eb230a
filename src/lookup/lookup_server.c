/*
 * lookup_server.c - POST /lookup over the records of a registry file.
 *
 * The records come from registry_records_load(), so that the server and
 * the client agree on what a valid record is, and are matched with
 * registry_record_check(), so that they agree on what a filter means.
 * Each record carries its JSON text from load time: an answer is the
 * matching texts joined, without building or serialising JSON per
 * request.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "http/http_server.h"
#include "lookup/lookup_server.h"
#include "registry/registry.h"
#include "util/xmalloc.h"

/* A filter is one flat object; nothing deeper is read. */
#define FILTER_DEPTH_MAX	16

struct lookup_server {
	struct http_server	*srv;
	struct registry_recset	*recs;
};

/* The filter's names for the key id, as registries read them. */
static const char *const key_names[] = {
	"ukId", "unique_key_id", "key_id", "pub_key_id",
};

static void
reply_error(struct http_request *req, int status, const char *msg)
{
	json_object	*o = json_object_new_object();
	const char	*s;

	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	http_reply(req, status, "application/json", NULL, s, strlen(s));
	json_object_put(o);
}

/* The body as one JSON value with nothing after it, or NULL. */
static json_object *
body_parse(const char *body, size_t len)
{
	struct json_tokener	*tok;
	json_object		*o = NULL;
	size_t			 off;

	if (len > INT_MAX || (tok = json_tokener_new_ex(FILTER_DEPTH_MAX)) ==
	    NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success)
		goto fail;
	for (off = json_tokener_get_parse_end(tok); off < len; off++)
		if (strchr(" \t\r\n", body[off]) == NULL)
			goto fail;
	json_tokener_free(tok);
	return o;
fail:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

/*
 * Filter member name: 0 and *out (borrowed; NULL when absent or null), or
 * -1 when it has another type: a number where an id was meant should not
 * quietly widen the answer to every record.
 */
static int
filter_str(json_object *f, const char *name, const char **out)
{
	json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(f, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	return 0;
}

/* The filter as a match; 0, or -1 and the offending member's name. */
static int
filter_match(json_object *f, struct registry_match *m, const char **bad)
{
	const char	*v;
	size_t		 i;

	memset(m, 0, sizeof(*m));
	m->any_status = 1;
	if (filter_str(f, *bad = "subscriber_id", &m->subscriber_id) == -1 ||
	    filter_str(f, *bad = "type", &m->type) == -1 ||
	    filter_str(f, *bad = "domain", &m->domain) == -1)
		return -1;
	/* The first name present wins, as in the record parser. */
	for (i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (filter_str(f, *bad = key_names[i], &v) == -1)
			return -1;
		if (m->key_id == NULL)
			m->key_id = v;
	}
	*bad = NULL;
	return 0;
}

static void
handle(struct http_request *req, void *arg)
{
	struct lookup_server	*ls = arg;
	struct registry_match	 m;
	struct registry_record	*r;
	struct evbuffer		*out = NULL;
	json_object		*filter = NULL;
	const char		*body, *bad;
	size_t			 len, i, n = 0;
	char			 msg[128];

	if (strcmp(http_request_path(req), "/lookup") != 0) {
		reply_error(req, 404, "only /lookup is served here");
		goto done;
	}
	if (strcmp(http_request_method(req), "POST") != 0) {
		reply_error(req, 405, "use POST");
		goto done;
	}
	body = http_request_body(req, &len);
	if ((filter = body_parse(body, len)) == NULL ||
	    !json_object_is_type(filter, json_type_object)) {
		reply_error(req, 400, "the body must be a JSON object filter");
		goto done;
	}
	if (filter_match(filter, &m, &bad) == -1) {
		snprintf(msg, sizeof(msg), "%s must be a string", bad);
		reply_error(req, 400, msg);
		goto done;
	}
	if ((out = evbuffer_new()) == NULL) {
		reply_error(req, 500, "out of memory");
		goto done;
	}
	evbuffer_add(out, "[", 1);
	for (i = 0; i < ls->recs->n; i++) {
		r = ls->recs->recs[i];
		if (registry_record_check(r, &m, NULL, 0) != REGISTRY_MATCH)
			continue;
		if (n++ > 0)
			evbuffer_add(out, ",", 1);
		evbuffer_add(out, r->json, strlen(r->json));
	}
	evbuffer_add(out, "]", 1);
	http_reply_buffer(req, 200, "application/json", NULL, out);
done:
	if (out != NULL)
		evbuffer_free(out);
	json_object_put(filter);
}

static const char *
error_body(int status, const char *why, struct evbuffer *out, void *arg)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(why));
	evbuffer_add_printf(out, "%s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return "application/json";
}

struct lookup_server *
lookup_server_new(struct event_base *base, const char *hostport,
    struct registry_recset *recs, const struct http_server_conf *hc,
    char *err, size_t errlen)
{
	struct lookup_server	*ls;

	ls = xcalloc(1, sizeof(*ls));
	ls->recs = registry_recset_ref(recs);
	if ((ls->srv = http_server_new(base, hostport, hc, handle, error_body,
	    ls, err, errlen)) == NULL) {
		lookup_server_free(ls);
		return NULL;
	}
	return ls;
}

void
lookup_server_set_records(struct lookup_server *ls,
    struct registry_recset *recs)
{
	registry_recset_ref(recs);
	registry_recset_unref(ls->recs);
	ls->recs = recs;
}

void
lookup_server_reconfigure(struct lookup_server *ls,
    const struct http_server_conf *hc)
{
	http_server_reconfigure(ls->srv, hc);
}

int
lookup_server_port(const struct lookup_server *ls)
{
	return http_server_port(ls->srv);
}

void
lookup_server_free(struct lookup_server *ls)
{
	if (ls == NULL)
		return;
	http_server_free(ls->srv);
	registry_recset_unref(ls->recs);
	free(ls);
}

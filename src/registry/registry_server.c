/*
 * registry_server.c - POST /lookup over the records of registry.file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "http/http_server.h"
#include "registry/registry_file.h"
#include "registry/registry_server.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct registry_server {
	struct http_server	*srv;
	char			*file;
	json_object		*records;	/* the file's array */
};

static const char *const key_names[] = {
	"ukId", "unique_key_id", "key_id", "pub_key_id", NULL
};

static json_object *
load(const char *file, char *err, size_t errlen)
{
	struct registry_recset	*set;
	json_object		*arr;

	/* Same parser and checks as the lookup client, for the messages. */
	if ((set = registry_file_load(file, err, errlen)) == NULL)
		return NULL;
	registry_recset_unref(set);
	if ((arr = json_object_from_file(file)) == NULL ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		snprintf(err, errlen, "%s: not a JSON array", file);
		return NULL;
	}
	return arr;
}

static const char *
key_id(json_object *o)
{
	const char	*v;
	size_t		 i;

	for (i = 0; key_names[i] != NULL; i++)
		if ((v = json_str(o, key_names[i])) != NULL)
			return v;
	return NULL;
}

static int
match(json_object *rec, json_object *filter)
{
	const char	*want, *have;

	if ((want = json_str(filter, "subscriber_id")) != NULL &&
	    ((have = json_str(rec, "subscriber_id")) == NULL ||
	    strcmp(want, have) != 0))
		return 0;
	if ((want = json_str(filter, "type")) != NULL &&
	    ((have = json_str(rec, "type")) == NULL || strcasecmp(want, have) != 0))
		return 0;
	if ((want = json_str(filter, "domain")) != NULL &&
	    ((have = json_str(rec, "domain")) == NULL || strcmp(want, have) != 0))
		return 0;
	if ((want = key_id(filter)) != NULL && (have = key_id(rec)) != NULL &&
	    strcmp(want, have) != 0)
		return 0;
	return 1;
}

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

static void
handle(struct http_request *req, void *arg)
{
	struct registry_server	*rs = arg;
	json_object		*filter, *out, *rec;
	const char		*body, *s;
	size_t			 len, i, n;

	if (strcmp(http_request_path(req), "/lookup") != 0) {
		reply_error(req, 404, "only /lookup is served here");
		return;
	}
	if (strcmp(http_request_method(req), "POST") != 0) {
		reply_error(req, 405, "use POST");
		return;
	}
	body = http_request_body(req, &len);
	if ((filter = json_tokener_parse(body)) == NULL ||
	    !json_object_is_type(filter, json_type_object)) {
		json_object_put(filter);
		reply_error(req, 400, "the body must be a JSON object filter");
		return;
	}
	out = json_object_new_array();
	n = json_object_array_length(rs->records);
	for (i = 0; i < n; i++) {
		rec = json_object_array_get_idx(rs->records, i);
		if (json_object_is_type(rec, json_type_object) &&
		    match(rec, filter))
			json_object_array_add(out, json_object_get(rec));
	}
	s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	http_reply(req, 200, "application/json", NULL, s, strlen(s));
	json_object_put(out);
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

struct registry_server *
registry_server_new(struct event_base *base, const char *hostport,
    const char *file, const struct http_server_conf *hc, char *err,
    size_t errlen)
{
	struct registry_server	*rs;

	rs = xcalloc(1, sizeof(*rs));
	rs->file = xstrdup(file);
	if ((rs->records = load(file, err, errlen)) == NULL)
		goto fail;
	if ((rs->srv = http_server_new(base, hostport, hc, handle, error_body,
	    rs, err, errlen)) == NULL)
		goto fail;
	return rs;
fail:
	registry_server_free(rs);
	return NULL;
}

int
registry_server_reload(struct registry_server *rs, char *err, size_t errlen)
{
	json_object	*arr;

	if ((arr = load(rs->file, err, errlen)) == NULL)
		return -1;
	json_object_put(rs->records);
	rs->records = arr;
	return 0;
}

int
registry_server_port(const struct registry_server *rs)
{
	return http_server_port(rs->srv);
}

void
registry_server_free(struct registry_server *rs)
{
	if (rs == NULL)
		return;
	http_server_free(rs->srv);
	json_object_put(rs->records);
	free(rs->file);
	free(rs);
}

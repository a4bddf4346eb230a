/*
 * proxy_common.c - helpers both pipelines use.  A leaf: it calls nothing
 * else in src/proxy.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "http/http_server.h"
#include "proxy/proxy_int.h"
#include "util/jsoncheck.h"

/* Longest action name looked at in a path. */
#define ACTION_MAX	64
/* JSON nesting accepted; Beckn messages are ~10 deep. */
#define JSON_DEPTH_MAX	64

const struct conf_participant *
proxy_route(const struct conf *c, const char *path,
    const struct beckn_action **action, const char **name)
{
	const struct conf_participant	*p;
	const char			*rest;
	size_t				 i, plen;

	*action = NULL;
	*name = NULL;
	for (i = 0; i < c->nparticipants; i++) {
		p = &c->participants[i];
		plen = strlen(p->path);
		if (strncmp(path, p->path, plen) != 0 || path[plen] != '/')
			continue;
		rest = path + plen + 1;
		if (*rest == '\0' || strchr(rest, '/') != NULL ||
		    strlen(rest) > ACTION_MAX)
			continue;
		*name = rest;
		*action = beckn_action_find(rest);
		return p;
	}
	return NULL;
}

void
proxy_reply_error(struct http_request *req, enum beckn_err e,
    const char *paths, const char *message, const char *const *extra)
{
	const struct beckn_error	*be = beckn_error_get(e);
	struct evbuffer			*buf;
	const char			*hdrs[8];
	size_t				 n = 0;
	int				 after = 0;

	for (; extra != NULL && *extra != NULL && n + 2 < 8; extra += 2) {
		hdrs[n++] = extra[0];
		hdrs[n++] = extra[1];
		if (strcasecmp(hdrs[n - 2], "Retry-After") == 0)
			after = 1;
	}
	/* Every 503 is "busy, come back": say when, 1 s unless told. */
	if (be->http_status == 503 && !after) {
		hdrs[n++] = "Retry-After";
		hdrs[n++] = "1";
	}
	hdrs[n] = NULL;
	extra = n > 0 ? hdrs : NULL;

	if ((buf = evbuffer_new()) == NULL ||
	    beckn_error_write(buf, e, paths, message) == -1) {
		if (buf != NULL)
			evbuffer_free(buf);
		http_reply(req, 500, "application/json", NULL,
		    "{\"message\":{\"ack\":{\"status\":\"NACK\"}}}", 38);
		return;
	}
	http_reply_buffer(req, be->http_status, "application/json", extra, buf);
	evbuffer_free(buf);
}

json_object *
proxy_parse_json(const char *buf, size_t len, size_t max_nodes,
    char *path, size_t pathlen, char *err, size_t errlen)
{
	struct jsoncheck_limits	 lim;
	struct jsoncheck_error	 je;
	struct json_tokener	*tok;
	json_object		*obj;
	enum json_tokener_error	 jerr;
	size_t			 off;

	/*
	 * Strict first, over the bytes: what json-c would read differently
	 * from the app (duplicate names, bad UTF-8, NaN...) and bodies that
	 * would grow into a huge tree never reach it.
	 */
	lim.max_nodes = max_nodes;
	lim.max_depth = JSON_DEPTH_MAX;
	path[0] = '\0';
	if (jsoncheck(buf, len, &lim, &je) == -1) {
		snprintf(path, pathlen, "%s", je.path);
		snprintf(err, errlen, "invalid JSON at byte %zu%s%s: %s",
		    je.offset, je.path[0] != '\0' ? " in " : "", je.path,
		    je.reason);
		return NULL;
	}

	/* One well-formed value, checked; a Beckn body is an object. */
	for (off = 0; off < len && (buf[off] == ' ' || buf[off] == '\t' ||
	    buf[off] == '\r' || buf[off] == '\n'); off++)
		;
	if (off == len || buf[off] != '{') {
		snprintf(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	/* limits.body_max (at most 1 GiB) keeps len within an int. */
	if ((tok = json_tokener_new_ex(JSON_DEPTH_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		/* jsoncheck is stricter than json-c: a bug if we get here. */
		snprintf(err, errlen, "invalid JSON: %s",
		    json_tokener_error_desc(jerr));
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

void
proxy_schema_nack(const struct schema_errors *errs, char *paths,
    size_t pathslen, char *msg, size_t msglen)
{
	struct beckn_paths	 bp;
	size_t			 i;

	beckn_paths_init(&bp, paths, pathslen);
	for (i = 0; i < errs->n; i++)
		beckn_paths_add(&bp, errs->e[i].path[0] != '\0' ?
		    errs->e[i].path : "/");
	snprintf(msg, msglen, "%s: %s", errs->e[0].path[0] != '\0' ?
	    errs->e[0].path : "/", errs->e[0].message);
}

int
proxy_context_id(json_object *ctx, const char *key, const char **out,
    char *err, size_t errlen)
{
	json_object	*v;
	const char	*s;
	size_t		 len;

	*out = NULL;
	if (!json_object_object_get_ex(ctx, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	/* Ids are compared as C strings from here on: no NUL inside. */
	if (strlen(s) != len) {
		snprintf(err, errlen, "context.%s holds a NUL character", key);
		return -1;
	}
	if (len > PROXY_ID_MAX) {
		snprintf(err, errlen, "context.%s is longer than %d bytes",
		    key, PROXY_ID_MAX);
		return -1;
	}
	*out = s;
	return 0;
}

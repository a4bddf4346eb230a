/*
 * proxy_outbound.c - the client listener: the participant's own app sends
 * unsigned, possibly partial Beckn messages; becknd completes the context,
 * validates, signs the exact bytes it sends, routes and relays the peer's
 * ACK/NACK.
 *
 * Routing:
 *   BAP search without bpp_uri   every gateway of the domain (type BG)
 *   other BAP requests           <bpp_uri>/<action>, once bpp_uri is the
 *                                registered subscriber_url of bpp_id
 *   BPP callbacks                <bap_uri>/<action>, same check on bap_id
 * No message is signed for a URL the registry does not vouch for.
 *
 * ?sync=true[&wait=PT5S] holds the call and answers with the callbacks of
 * the message (all on_search within the wait; the first callback
 * otherwise), which are still delivered to the webhook as well.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "beckn/beckn_context.h"
#include "http/http_server.h"
#include "net/http_client.h"
#include "proxy/proxy.h"
#include "registry/registry.h"
#include "sig/sig.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* How becknd serialises what it signs and sends: compact, "/" as is. */
#define WIRE_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define SYNC_WAIT_MAX_MS	(5 * 60 * 1000)
#define SYNC_WAIT_DEFAULT_MS	(30 * 1000)

enum outcome {
	OUT_PENDING,
	OUT_ACK,
	OUT_NACK,
	OUT_CONNECT,
	OUT_TIMEOUT,
	OUT_FAILED,
};

struct target {
	struct outbound		*ob;
	char			*url;
	struct http_client_req	*hreq;
	enum outcome		 outcome;
	long			 status;
	json_object		*error;		/* the peer's NACK error */
	char			*why;
};

struct outbound {
	TAILQ_ENTRY(outbound)		 entry;
	struct proxy			*px;
	struct http_request		*req;
	const struct conf_participant	*p;
	const struct beckn_action	*action;
	json_object			*body;
	json_object			*ctx;
	const char			*wire;	/* owned by body */
	size_t				 wirelen;
	char				*auth_hdr;
	struct registry_req		*rreq;
	struct target			*targets;
	size_t				 ntargets;
	size_t				 npending;
	int				 sync;
	int64_t				 wait_ms;
	struct sync_wait		*sw;
	json_object			*responses;	/* sync answer */
	int				 wait_done;
};

static void
outbound_free(struct outbound *ob)
{
	size_t	 i;

	if (ob->rreq != NULL)
		registry_cancel(ob->rreq);
	if (ob->sw != NULL)
		sync_wait_cancel(ob->sw);
	for (i = 0; i < ob->ntargets; i++) {
		if (ob->targets[i].hreq != NULL)
			http_client_cancel(ob->targets[i].hreq);
		json_object_put(ob->targets[i].error);
		free(ob->targets[i].url);
		free(ob->targets[i].why);
	}
	free(ob->targets);
	json_object_put(ob->responses);
	json_object_put(ob->body);
	free(ob->auth_hdr);
	TAILQ_REMOVE(&ob->px->outbound, ob, entry);
	ob->px->noutbound--;
	free(ob);
}

void
proxy_outbound_abort_all(struct proxy *px)
{
	struct outbound	*ob;

	while ((ob = TAILQ_FIRST(&px->outbound)) != NULL) {
		http_request_drop(ob->req);
		outbound_free(ob);
	}
}

static void
outbound_fail(struct outbound *ob, enum beckn_err e, const char *paths,
    const char *msg)
{
	log_info("client: NACK %s %s (message_id %s): %s",
	    ob->p != NULL ? ob->p->subscriber_id : "-",
	    ob->action != NULL ? ob->action->name : "-",
	    ob->ctx != NULL && json_str(ob->ctx, "message_id") != NULL ?
	    json_str(ob->ctx, "message_id") : "-",
	    msg != NULL ? msg : beckn_error_get(e)->message);
	ob->px->stats.outbound_failed++;
	proxy_reply_error(ob->req, e, paths, msg, NULL);
	outbound_free(ob);
}

/* The answer to the app once every target has answered. */
static void
outbound_answer(struct outbound *ob)
{
	struct evbuffer		*buf;
	struct beckn_nack	 nack;
	struct target		*t, *nacked = NULL;
	const char		*ctxjson, *code, *msg;
	json_object		*o;
	size_t			 i, ctxlen;
	int			 acked = 0, timeouts = 0;
	char			 why[512];

	for (i = 0; i < ob->ntargets; i++) {
		t = &ob->targets[i];
		if (t->outcome == OUT_ACK)
			acked++;
		else if (t->outcome == OUT_NACK && nacked == NULL)
			nacked = t;
		else if (t->outcome == OUT_TIMEOUT)
			timeouts++;
	}
	if (!acked && nacked == NULL) {
		t = &ob->targets[0];
		snprintf(why, sizeof(why), "%s: %s", t->url, t->why != NULL ?
		    t->why : "failed");
		outbound_fail(ob, timeouts > 0 ? BECKN_ERR_UPSTREAM_TIMEOUT :
		    BECKN_ERR_UPSTREAM, NULL, why);
		return;
	}
	if (ob->sync && acked && !ob->wait_done)
		return;		/* the sync wait answers later */

	ctxjson = json_object_to_json_string_length(ob->ctx,
	    WIRE_FLAGS, &ctxlen);
	if ((buf = evbuffer_new()) == NULL) {
		outbound_fail(ob, BECKN_ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	if (ob->sync && acked) {
		evbuffer_add_printf(buf, "{\"context\":%s,\"responses\":%s}",
		    ctxjson, json_object_to_json_string_ext(ob->responses,
		    WIRE_FLAGS));
	} else if (acked) {
		beckn_ack_write_ctx(buf, ctxjson, ctxlen, NULL);
	} else {
		code = BECKN_CODE_INVALID_REQUEST;
		msg = NULL;
		if (nacked->error != NULL) {
			if ((o = json_object_object_get(nacked->error,
			    "code")) != NULL)
				code = json_object_get_string(o);
			if ((o = json_object_object_get(nacked->error,
			    "message")) != NULL)
				msg = json_object_get_string(o);
		}
		memset(&nack, 0, sizeof(nack));
		nack.code = code;
		nack.message = msg != NULL ? msg : nacked->why;
		nack.paths = nacked->error != NULL &&
		    (o = json_object_object_get(nacked->error, "paths")) !=
		    NULL ? json_object_get_string(o) : NULL;
		beckn_ack_write_ctx(buf, ctxjson, ctxlen, &nack);
	}
	log_info("client: %s %s (message_id %s) %s by %zu of %zu peers",
	    ob->p->subscriber_id, ob->action->name,
	    json_str(ob->ctx, "message_id"), acked ? "ACKed" : "NACKed",
	    acked ? (size_t)acked : (size_t)1, ob->ntargets);
	ob->px->stats.outbound_sent++;
	http_reply_buffer(ob->req, 200, "application/json", NULL, buf);
	evbuffer_free(buf);
	outbound_free(ob);
}

static void
sync_done(json_object *responses, void *arg)
{
	struct outbound	*ob = arg;

	ob->sw = NULL;
	ob->wait_done = 1;
	ob->responses = json_object_get(responses);
	if (ob->npending == 0)
		outbound_answer(ob);
}

static void
forward_cb(const struct http_client_response *resp, void *arg)
{
	struct target	*t = arg;
	struct outbound	*ob = t->ob;
	json_object	*o = NULL, *msg, *ack, *st, *err;
	char		 why[256];
	size_t		 i;

	t->hreq = NULL;
	t->status = resp->status;
	if (resp->error != HTTPC_OK) {
		t->outcome = resp->error == HTTPC_TIMEOUT ? OUT_TIMEOUT :
		    resp->error == HTTPC_CONNECT ? OUT_CONNECT : OUT_FAILED;
		snprintf(why, sizeof(why), "%s (%s)",
		    http_client_error_name(resp->error),
		    resp->errstr != NULL ? resp->errstr : "");
		t->why = xstrdup(why);
	} else {
		o = json_tokener_parse(resp->body);
		if (o != NULL && json_object_object_get_ex(o, "message", &msg) &&
		    json_object_object_get_ex(msg, "ack", &ack) &&
		    json_object_object_get_ex(ack, "status", &st) &&
		    json_object_is_type(st, json_type_string)) {
			if (strcmp(json_object_get_string(st), "ACK") == 0 &&
			    resp->status >= 200 && resp->status < 300)
				t->outcome = OUT_ACK;
			else {
				t->outcome = OUT_NACK;
				if (json_object_object_get_ex(o, "error", &err))
					t->error = json_object_get(err);
				snprintf(why, sizeof(why), "the peer answered "
				    "NACK (HTTP %ld)", resp->status);
				t->why = xstrdup(why);
			}
		} else {
			t->outcome = OUT_FAILED;
			snprintf(why, sizeof(why), "the peer answered HTTP %ld "
			    "without a Beckn ACK", resp->status);
			t->why = xstrdup(why);
		}
		json_object_put(o);
	}
	if (t->outcome != OUT_ACK)
		log_warn("client: %s to %s: %s", ob->action->name, t->url,
		    t->why);
	if (--ob->npending > 0)
		return;
	/* A sync call whose message no peer took has nothing to wait for. */
	for (i = 0; i < ob->ntargets; i++)
		if (ob->targets[i].outcome == OUT_ACK)
			break;
	if (i == ob->ntargets && ob->sw != NULL) {
		sync_wait_cancel(ob->sw);
		ob->sw = NULL;
	}
	outbound_answer(ob);
}

static void
add_target(struct outbound *ob, const char *base)
{
	struct target	*t;
	size_t		 len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	ob->targets = xreallocarray(ob->targets, ob->ntargets + 1,
	    sizeof(*ob->targets));
	t = &ob->targets[ob->ntargets++];
	memset(t, 0, sizeof(*t));
	t->ob = ob;
	xasprintf(&t->url, "%.*s/%s", (int)len, base, ob->action->name);
}

static void
forward(struct outbound *ob)
{
	const char	*hdrs[3];
	const char	*mid;
	size_t		 i;

	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = ob->auth_hdr;
	hdrs[2] = NULL;
	if (ob->sync) {
		mid = json_str(ob->ctx, "message_id");
		ob->sw = sync_wait_start(ob->px->sync, mid, ob->action->pair,
		    ob->action->id == BECKN_A_SEARCH, ob->wait_ms, sync_done,
		    ob);
	}
	ob->npending = ob->ntargets;
	for (i = 0; i < ob->ntargets; i++)
		ob->targets[i].hreq = http_client_post(ob->px->http,
		    ob->targets[i].url, hdrs, ob->wire, ob->wirelen, 0,
		    forward_cb, &ob->targets[i]);
}

/* Compare URLs ignoring trailing slashes. */
static int
same_url(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* The registry could not answer: 503, the app may retry. 1 if answered. */
static int
registry_down(struct outbound *ob, const struct registry_result *res)
{
	char	 msg[300];

	if (res->status != REGISTRY_UNAVAILABLE)
		return 0;
	snprintf(msg, sizeof(msg), "registry unavailable: %s", res->reason);
	outbound_fail(ob, BECKN_ERR_BUSY, NULL, msg);
	return 1;
}

static void
gateways_cb(const struct registry_result *res, void *arg)
{
	struct outbound	*ob = arg;
	char		 msg[300];
	size_t		 i;

	ob->rreq = NULL;
	if (registry_down(ob, res))
		return;
	for (i = 0; i < res->nrecords; i++)
		if (res->records[i]->url != NULL)
			add_target(ob, res->records[i]->url);
	if (ob->ntargets == 0) {
		snprintf(msg, sizeof(msg), "no gateway is registered for "
		    "domain \"%s\"", json_str(ob->ctx, "domain") != NULL ?
		    json_str(ob->ctx, "domain") : "");
		outbound_fail(ob, BECKN_ERR_UPSTREAM, NULL, msg);
		return;
	}
	forward(ob);
}

static void
peer_cb(const struct registry_result *res, void *arg)
{
	struct outbound	*ob = arg;
	const char	*idkey, *urikey, *id, *uri;
	char		 msg[512], paths[64];
	size_t		 i;

	ob->rreq = NULL;
	idkey = ob->action->kind == BECKN_REQUEST ? "bpp_id" : "bap_id";
	urikey = ob->action->kind == BECKN_REQUEST ? "bpp_uri" : "bap_uri";
	id = json_str(ob->ctx, idkey);
	uri = json_str(ob->ctx, urikey);
	if (registry_down(ob, res))
		return;
	for (i = 0; i < res->nrecords; i++)
		if (res->records[i]->url != NULL &&
		    same_url(res->records[i]->url, uri))
			break;
	if (i == res->nrecords) {
		snprintf(msg, sizeof(msg), "context.%s \"%s\" is not the "
		    "registered subscriber_url of %s \"%s\"", urikey, uri,
		    idkey, id);
		snprintf(paths, sizeof(paths), "/context/%s", urikey);
		outbound_fail(ob, BECKN_ERR_CONTEXT, paths, msg);
		return;
	}
	add_target(ob, uri);
	forward(ob);
}

/* Requests go to bpp_uri, callbacks to bap_uri, once the registry
 * confirms the URI belongs to the named participant. */
static void
route_to_peer(struct outbound *ob)
{
	const char	*idkey, *urikey;
	char		 err[300], paths[64];

	idkey = ob->action->kind == BECKN_REQUEST ? "bpp_id" : "bap_id";
	urikey = ob->action->kind == BECKN_REQUEST ? "bpp_uri" : "bap_uri";
	if (json_str(ob->ctx, idkey) == NULL ||
	    json_str(ob->ctx, urikey) == NULL) {
		snprintf(err, sizeof(err), "context.%s and context.%s are "
		    "required for %s", idkey, urikey, ob->action->name);
		snprintf(paths, sizeof(paths), "/context/%s", idkey);
		outbound_fail(ob, BECKN_ERR_CONTEXT, paths, err);
		return;
	}
	ob->rreq = registry_lookup_participants(ob->px->registry,
	    ob->action->kind == BECKN_REQUEST ? "BPP" : "BAP", NULL,
	    json_str(ob->ctx, idkey), peer_cb, ob);
}

/* "sync=true&wait=PT5S" */
static int
parse_query(struct outbound *ob, const char *q, char *err, size_t errlen)
{
	char	*copy, *tok, *save, *eq;
	int	 rc = 0;

	if (q == NULL)
		return 0;
	copy = xstrdup(q);
	for (tok = strtok_r(copy, "&", &save); tok != NULL;
	    tok = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(tok, '=')) != NULL)
			*eq++ = '\0';
		if (strcmp(tok, "sync") == 0)
			ob->sync = eq != NULL && (strcmp(eq, "true") == 0 ||
			    strcmp(eq, "1") == 0);
		else if (strcmp(tok, "wait") == 0) {
			if (eq == NULL || duration_parse(eq, &ob->wait_ms) ==
			    -1 || ob->wait_ms <= 0 ||
			    ob->wait_ms > SYNC_WAIT_MAX_MS) {
				snprintf(err, errlen, "wait must be a duration "
				    "up to 5 minutes (e.g. PT5S)");
				rc = -1;
				break;
			}
		}
	}
	free(copy);
	return rc;
}

void
proxy_outbound(struct http_request *req, void *arg)
{
	struct proxy			*px = arg;
	struct outbound			*ob;
	struct beckn_ctx_fill		 fill;
	struct schema_errors		 errs;
	struct beckn_paths		 bp;
	const struct beckn_action	*action;
	const char			*name, *raw, *ttl;
	char				 err[300], paths[512], *hdr;
	char				 msg[SCHEMA_PATH_LEN + SCHEMA_MESSAGE_LEN + 8];
	int64_t				 now, ttl_ms;
	size_t				 len, i;

	ob = xcalloc(1, sizeof(*ob));
	ob->px = px;
	ob->req = req;
	TAILQ_INSERT_TAIL(&px->outbound, ob, entry);
	px->noutbound++;

	if ((ob->p = proxy_route(px, http_request_path(req), &action, &name)) ==
	    NULL) {
		outbound_fail(ob, BECKN_ERR_NOT_FOUND, NULL,
		    "no participant or action at this path");
		return;
	}
	if (strcmp(http_request_method(req), "POST") != 0) {
		proxy_reply_error(req, BECKN_ERR_METHOD, NULL,
		    "only POST is accepted", (const char *const[]){ "Allow",
		    "POST", NULL });
		outbound_free(ob);
		return;
	}
	if (action == NULL) {
		snprintf(err, sizeof(err), "\"%s\" is not a Beckn action", name);
		outbound_fail(ob, BECKN_ERR_NOT_FOUND, NULL, err);
		return;
	}
	ob->action = action;
	if (!beckn_role_sends(ob->p->role, action) ||
	    ob->p->role == BECKN_ROLE_GATEWAY) {
		snprintf(err, sizeof(err), "a %s does not send %s",
		    beckn_role_name(ob->p->role), action->name);
		outbound_fail(ob, BECKN_ERR_NOT_APPLICABLE, NULL, err);
		return;
	}
	if (parse_query(ob, http_request_query(req), err, sizeof(err)) == -1) {
		outbound_fail(ob, BECKN_ERR_CONTEXT, NULL, err);
		return;
	}
	if (ob->sync && (ob->p->role != BECKN_ROLE_BAP)) {
		outbound_fail(ob, BECKN_ERR_CONTEXT, NULL,
		    "sync=true is for BAP requests");
		return;
	}
	raw = http_request_body(req, &len);
	if ((ob->body = proxy_parse_json(raw, len, err, sizeof(err))) == NULL) {
		outbound_fail(ob, BECKN_ERR_INVALID_JSON, NULL, err);
		return;
	}
	memset(&fill, 0, sizeof(fill));
	fill.action = action->name;
	fill.domain = ob->p->ndomains > 0 ? ob->p->domains[0] : NULL;
	fill.role = ob->p->role;
	fill.subscriber_id = ob->p->subscriber_id;
	fill.subscriber_uri = ob->p->subscriber_url;
	if (beckn_context_complete(ob->body, &fill, px->clock, err,
	    sizeof(err)) == -1) {
		if (strstr(err, "context.action") != NULL)
			outbound_fail(ob, BECKN_ERR_ACTION_MISMATCH,
			    "/context/action", err);
		else
			outbound_fail(ob, BECKN_ERR_CONTEXT, NULL, err);
		return;
	}
	ob->ctx = json_object_object_get(ob->body, "context");
	if (ob->sync && ob->wait_ms == 0) {
		ttl = json_str(ob->ctx, "ttl");
		if (ttl == NULL || duration_parse(ttl, &ttl_ms) == -1 ||
		    ttl_ms <= 0 || ttl_ms > SYNC_WAIT_MAX_MS)
			ttl_ms = SYNC_WAIT_DEFAULT_MS;
		ob->wait_ms = ttl_ms;
	}
	if (schema_validate_action(px->schemas, action->name, ob->body,
	    &px->schema_opts, &errs) == -1) {
		beckn_paths_init(&bp, paths, sizeof(paths));
		for (i = 0; i < errs.n; i++)
			beckn_paths_add(&bp, errs.e[i].path[0] != '\0' ?
			    errs.e[i].path : "/");
		snprintf(msg, sizeof(msg), "%s: %s", errs.e[0].path[0] != '\0' ?
		    errs.e[0].path : "/", errs.e[0].message);
		outbound_fail(ob, BECKN_ERR_SCHEMA, paths, msg);
		return;
	}

	/* The bytes we sign are the bytes we send: serialise once. */
	ob->wire = json_object_to_json_string_length(ob->body, WIRE_FLAGS,
	    &ob->wirelen);
	now = clock_now_s(px->clock);
	hdr = sig_sign_header(ob->p->key, ob->p->subscriber_id, ob->p->key_id,
	    now, now + px->conf->signature_ttl_ms / 1000, ob->wire,
	    ob->wirelen, NULL);
	if (hdr == NULL) {
		outbound_fail(ob, BECKN_ERR_INTERNAL, NULL, "signing failed");
		return;
	}
	xasprintf(&ob->auth_hdr, "Authorization: %s", hdr);
	free(hdr);

	if (px->registry == NULL) {
		outbound_fail(ob, BECKN_ERR_BUSY, NULL,
		    "no registry configured");
		return;
	}
	if (action->id == BECKN_A_SEARCH &&
	    json_str(ob->ctx, "bpp_uri") == NULL) {
		ob->rreq = registry_lookup_gateways(px->registry,
		    json_str(ob->ctx, "domain"), gateways_cb, ob);
		return;
	}
	route_to_peer(ob);
}

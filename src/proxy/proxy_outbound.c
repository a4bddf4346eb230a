/*
 * proxy_outbound.c - the client listener: the participant's own app sends
 * unsigned, possibly partial Beckn messages; becknd completes the context,
 * validates, signs the exact bytes it sends, routes them and relays the
 * peer's ACK/NACK.  One table of stages, like the network listener:
 *
 *   route     participant and action from the path; POST only; the
 *             participant's role sends the action
 *   query     ?sync=true[&wait=PT5S]
 *   parse     the JSON, once
 *   complete  fill the context; the app's own ids and URLs must be the
 *             participant's (one tenant cannot speak as another)
 *   validate  the schemas
 *   sign      serialise once and sign those bytes
 *   targets   where it goes, vouched for by the registry (may suspend):
 *               BAP search without bpp_uri  every gateway of the domain
 *               other BAP requests          bpp_uri, once it is the
 *                                           registered subscriber_url of
 *                                           bpp_id (a BPP)
 *               BPP callbacks               bap_uri, same check on bap_id
 *   forward   POST to every target (suspends until all answered) and,
 *             with sync, hold the call for the callbacks
 *   reply     the peer's ACK or NACK, or the callbacks (sync)
 *
 * Every failure leaves through outbound_nack(): one log line, one counter,
 * one NACK, one free.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "beckn/beckn_context.h"
#include "http/http_server.h"
#include "net/http_client.h"
#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "sig/sig.h"
#include "store/store.h"
#include "util/duration.h"
#include "util/json.h"
#include "util/log.h"
#include "util/url.h"
#include "util/xmalloc.h"

/* How becknd serialises what it signs and sends: compact, "/" as is. */
#define WIRE_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define SYNC_WAIT_MAX_MS	(5 * 60 * 1000)
#define SYNC_WAIT_DEFAULT_MS	(30 * 1000)

enum st { ST_NEXT, ST_WAIT, ST_FAIL, ST_DONE };

enum outcome {
	OC_PENDING,
	OC_ACK,
	OC_NACK,
	OC_TIMEOUT,
	OC_DENIED,
	OC_FAILED,
};

struct target {
	struct outbound		*ob;
	char			*url;
	struct http_client_req	*hreq;
	char			*peer;		/* registry's subscriber id */
	enum outcome		 outcome;
	struct beckn_reply	 reply;		/* the peer's NACK */
	char			*why;
};

struct outbound {
	TAILQ_ENTRY(outbound)		 entry;
	struct proxy			*px;
	struct snapshot			*snap;
	struct http_request		*req;
	enum outbound_stage		 stage;
	const struct conf_participant	*p;
	const struct beckn_action	*action;
	json_object			*body;
	json_object			*ctx;
	const char			*wire;		/* owned by body */
	size_t				 wirelen;
	size_t				 charged;	/* memory budget */
	char				*auth_hdr;
	struct registry_req		*rreq;
	int				 looked_up;
	enum registry_status		 reg_status;
	char				 reg_reason[256];
	int				 sent;
	int64_t				 sent_ms;
	int64_t				 sent_ns;	/* real time */
	struct target			*targets;
	size_t				 ntargets;
	size_t				 npending;
	int				 sync;
	int64_t				 wait_ms;
	struct sync_wait		*sw;
	json_object			*responses;	/* sync answer */
	/* The failure, for outbound_nack(). */
	enum beckn_err			 err;
	char				 paths[512];
	const char			*err_allow;
	int				 err_bearer;
	char				 msg[512];
};

static enum st	st_route(struct outbound *);
static enum st	st_query(struct outbound *);
static enum st	st_parse(struct outbound *);
static enum st	st_complete(struct outbound *);
static enum st	st_validate(struct outbound *);
static enum st	st_sign(struct outbound *);
static enum st	st_targets(struct outbound *);
static enum st	st_forward(struct outbound *);
static enum st	st_reply(struct outbound *);

static const struct {
	const char	*name;
	enum st		(*run)(struct outbound *);
} stages[OUT_NSTAGES] = {
	[OUT_ROUTE] =		{ "route", st_route },
	[OUT_QUERY] =		{ "query", st_query },
	[OUT_PARSE] =		{ "parse", st_parse },
	[OUT_COMPLETE] =	{ "complete", st_complete },
	[OUT_VALIDATE] =	{ "validate", st_validate },
	[OUT_SIGN] =		{ "sign", st_sign },
	[OUT_TARGETS] =		{ "targets", st_targets },
	[OUT_FORWARD] =		{ "forward", st_forward },
	[OUT_REPLY] =		{ "reply", st_reply },
};

static void
outbound_free(struct outbound *ob)
{
	size_t	 i;

	if (ob->rreq != NULL)
		registry_cancel(ob->rreq);
	sync_wait_cancel(ob->sw);
	for (i = 0; i < ob->ntargets; i++) {
		if (ob->targets[i].hreq != NULL)
			http_client_cancel(ob->targets[i].hreq);
		beckn_reply_clear(&ob->targets[i].reply);
		free(ob->targets[i].url);
		free(ob->targets[i].peer);
		free(ob->targets[i].why);
	}
	free(ob->targets);
	json_object_put(ob->responses);
	json_object_put(ob->body);
	free(ob->auth_hdr);
	budget_give(&ob->px->budget, ob->charged);
	snapshot_unref(ob->snap);
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

static enum st __attribute__((format(printf, 4, 5)))
fail(struct outbound *ob, enum beckn_err e, const char *paths,
    const char *fmt, ...)
{
	va_list	 ap;

	ob->err = e;
	snprintf(ob->paths, sizeof(ob->paths), "%s", paths != NULL ? paths :
	    "");
	va_start(ap, fmt);
	vsnprintf(ob->msg, sizeof(ob->msg), fmt, ap);
	va_end(ap);
	return ST_FAIL;
}

static const char *
message_id(const struct outbound *ob)
{
	const char	*mid = json_str(ob->ctx, "message_id");

	return mid != NULL ? mid : "-";
}

/* The one exit for every refusal. */
static void
outbound_nack(struct outbound *ob)
{
	const char	*hdrs[3] = { NULL, NULL, NULL };

	log_info("client: NACK %d at %s: %s %s (message_id %s): %s",
	    beckn_error_get(ob->err)->http_status, stages[ob->stage].name,
	    ob->p != NULL ? ob->p->subscriber_id : "-",
	    ob->action != NULL ? ob->action->name : http_request_path(ob->req),
	    message_id(ob), ob->msg);
	ob->px->stats.outbound_failed[ob->stage]++;
	if (ob->err_allow != NULL) {
		hdrs[0] = "Allow";
		hdrs[1] = ob->err_allow;
	} else if (ob->err_bearer) {
		hdrs[0] = "WWW-Authenticate";
		hdrs[1] = "Bearer realm=\"becknd client listener\"";
	}
	proxy_reply_error(ob->req, ob->err, ob->paths[0] != '\0' ? ob->paths :
	    NULL, ob->msg, hdrs[0] != NULL ? hdrs : NULL);
	outbound_free(ob);
}

static void
outbound_run(struct outbound *ob)
{
	for (;;) {
		switch (stages[ob->stage].run(ob)) {
		case ST_NEXT:
			ob->stage++;
			break;
		case ST_WAIT:
		case ST_DONE:
			return;
		case ST_FAIL:
			outbound_nack(ob);
			return;
		}
	}
}

/* Compare without an early exit: the token is a secret. */
static int
token_matches(const char *hdr, const char *token)
{
	static const char	 scheme[] = "Bearer ";
	size_t			 i, n = strlen(token);
	unsigned char		 diff = 0;

	if (hdr == NULL || strncmp(hdr, scheme, sizeof(scheme) - 1) != 0)
		return 0;
	hdr += sizeof(scheme) - 1;
	if (strlen(hdr) != n)
		return 0;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(hdr[i] ^ token[i]);
	return diff == 0;
}

static enum st
st_route(struct outbound *ob)
{
	const char	*name, *token = ob->snap->conf->client_token;

	if (token != NULL && !token_matches(http_request_header(ob->req,
	    "Authorization"), token)) {
		ob->err_bearer = 1;
		return fail(ob, BECKN_ERR_AUTH, NULL, "the client listener "
		    "needs Authorization: Bearer (listen.client_token)");
	}
	if ((ob->p = proxy_route(ob->snap->conf, http_request_path(ob->req),
	    &ob->action, &name)) == NULL)
		return fail(ob, BECKN_ERR_NOT_FOUND, NULL, "no participant or "
		    "action at this path");
	if (strcmp(http_request_method(ob->req), "POST") != 0) {
		ob->err_allow = "POST";
		return fail(ob, BECKN_ERR_METHOD, NULL, "only POST is "
		    "accepted");
	}
	if (ob->action == NULL)
		return fail(ob, BECKN_ERR_NOT_FOUND, NULL, "\"%s\" is not a "
		    "Beckn action", name);
	if (ob->p->role == BECKN_ROLE_GATEWAY ||
	    !beckn_role_sends(ob->p->role, ob->action))
		return fail(ob, BECKN_ERR_NOT_APPLICABLE, NULL, "a %s does not "
		    "send %s", beckn_role_name(ob->p->role), ob->action->name);
	return ST_NEXT;
}

/* "sync=true&wait=PT5S" */
static enum st
st_query(struct outbound *ob)
{
	const char	*q = http_request_query(ob->req);
	char		*copy, *tok, *save, *eq;
	int		 bad = 0, badsync = 0;

	if (q == NULL)
		return ST_NEXT;
	copy = xstrdup(q);
	for (tok = strtok_r(copy, "&", &save); tok != NULL && !bad &&
	    !badsync;
	    tok = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(tok, '=')) != NULL)
			*eq++ = '\0';
		if (strcmp(tok, "sync") == 0) {
			if (eq != NULL && (strcmp(eq, "true") == 0 ||
			    strcmp(eq, "1") == 0))
				ob->sync = 1;
			else if (eq != NULL && (strcmp(eq, "false") == 0 ||
			    strcmp(eq, "0") == 0))
				ob->sync = 0;
			else
				badsync = 1;
		}
		else if (strcmp(tok, "wait") == 0)
			bad = eq == NULL || duration_parse(eq, &ob->wait_ms) ==
			    -1 || ob->wait_ms <= 0 ||
			    ob->wait_ms > SYNC_WAIT_MAX_MS;
	}
	free(copy);
	if (badsync)
		return fail(ob, BECKN_ERR_CONTEXT, NULL, "sync must be true, "
		    "1, false or 0");
	if (bad)
		return fail(ob, BECKN_ERR_CONTEXT, NULL, "wait must be a "
		    "duration up to 5 minutes (e.g. PT5S)");
	if (ob->sync && ob->p->role != BECKN_ROLE_BAP)
		return fail(ob, BECKN_ERR_CONTEXT, NULL, "sync=true is for BAP "
		    "requests");
	return ST_NEXT;
}

static enum st
st_parse(struct outbound *ob)
{
	const char	*raw;
	size_t		 len;
	char		 err[512], path[256];

	raw = http_request_body(ob->req, &len);
	if ((ob->body = proxy_parse_json(raw, len,
	    ob->snap->conf->json_max_nodes, path, sizeof(path), err,
	    sizeof(err))) == NULL)
		return fail(ob, BECKN_ERR_INVALID_JSON, path[0] != '\0' ?
		    path : NULL, "%s", err);
	return ST_NEXT;
}

static enum st
st_complete(struct outbound *ob)
{
	struct beckn_ctx_fill	 fill;
	const char		*path, *ttl;
	char			 err[300];
	int64_t			 ttl_ms;

	memset(&fill, 0, sizeof(fill));
	fill.action = ob->action->name;
	fill.domain = ob->p->ndomains > 0 ? ob->p->domains[0] : NULL;
	fill.role = ob->p->role;
	fill.subscriber_id = ob->p->subscriber_id;
	fill.subscriber_uri = ob->p->subscriber_url;
	if (beckn_context_complete(ob->body, &fill, ob->px->clock, err,
	    sizeof(err), &path) == -1)
		return fail(ob, strcmp(path, "/context/action") == 0 ?
		    BECKN_ERR_ACTION_MISMATCH : BECKN_ERR_CONTEXT,
		    path[0] != '\0' ? path : NULL, "%s", err);
	ob->ctx = json_object_object_get(ob->body, "context");
	if (ob->sync && ob->wait_ms == 0) {
		ttl = json_str(ob->ctx, "ttl");
		if (ttl == NULL || duration_parse(ttl, &ttl_ms) == -1 ||
		    ttl_ms <= 0 || ttl_ms > SYNC_WAIT_MAX_MS)
			ttl_ms = SYNC_WAIT_DEFAULT_MS;
		ob->wait_ms = ttl_ms;
	}
	return ST_NEXT;
}

static enum st
st_validate(struct outbound *ob)
{
	struct schema_errors	 errs;
	char			 paths[512];
	char			 msg[SCHEMA_PATH_LEN + SCHEMA_MESSAGE_LEN + 8];
	int64_t			 t0 = clock_mono_ns();
	int			 rc;

	rc = schema_validate_action(ob->snap->schemas, ob->action->name,
	    ob->body, &ob->snap->schema_opts, &errs);
	observe_stage(ob->px, OBS_VALIDATE, clock_mono_ns() - t0);
	if (rc == 0)
		return ST_NEXT;
	proxy_schema_nack(&errs, paths, sizeof(paths), msg, sizeof(msg));
	return fail(ob, BECKN_ERR_SCHEMA, paths, "%s", msg);
}

/* The bytes we sign are the bytes we send: serialise once. */
static enum st
st_sign(struct outbound *ob)
{
	const struct conf	*c = ob->snap->conf;
	char			*hdr;
	int64_t			 now = clock_now_s(ob->px->clock);

	ob->wire = json_object_to_json_string_length(ob->body, WIRE_FLAGS,
	    &ob->wirelen);
	if (budget_take(&ob->px->budget, ob->wirelen) == -1)
		return fail(ob, BECKN_ERR_BUSY, NULL, "memory budget "
		    "(limits.memory_max) full; retry later");
	ob->charged = ob->wirelen;
	hdr = sig_sign_header(ob->p->key, ob->p->subscriber_id, ob->p->key_id,
	    now, now + c->signature_ttl_ms / 1000, ob->wire, ob->wirelen,
	    NULL);
	if (hdr == NULL)
		return fail(ob, BECKN_ERR_INTERNAL, NULL, "signing failed");
	xasprintf(&ob->auth_hdr, "Authorization: %s", hdr);
	free(hdr);
	return ST_NEXT;
}

static void
add_target(struct outbound *ob, const char *base, const char *peer)
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
	if (peer != NULL)
		t->peer = xstrdup(peer);
}

/* The registry answered: keep what routing needs, re-enter targets. */
static void
targets_cb(const struct registry_result *res, void *arg)
{
	struct outbound	*ob = arg;
	const char	*uri;
	size_t		 i;

	ob->rreq = NULL;
	ob->looked_up = 1;
	ob->reg_status = res->status;
	snprintf(ob->reg_reason, sizeof(ob->reg_reason), "%s", res->reason);
	uri = json_str(ob->ctx, ob->action->kind == BECKN_REQUEST ?
	    "bpp_uri" : "bap_uri");
	for (i = 0; i < res->nrecords; i++) {
		if (res->records[i]->url == NULL)
			continue;
		if (uri == NULL)		/* search: every gateway */
			add_target(ob, res->records[i]->url,
			    res->records[i]->subscriber_id);
		else if (url_same(res->records[i]->url, uri)) {
			add_target(ob, uri, res->records[i]->subscriber_id);
			break;
		}
	}
	outbound_run(ob);
}

/* targets: where the message goes, as the registry says. */
static enum st
st_targets(struct outbound *ob)
{
	struct registry	*reg = snapshot_registry(ob->snap);
	const char	*idkey, *urikey, *id, *uri;
	int		 request = ob->action->kind == BECKN_REQUEST;
	char		 paths[32];

	idkey = request ? "bpp_id" : "bap_id";
	urikey = request ? "bpp_uri" : "bap_uri";
	id = json_str(ob->ctx, idkey);
	uri = json_str(ob->ctx, urikey);
	if (ob->looked_up) {
		if (ob->ntargets > 0)
			return ST_NEXT;
		if (ob->reg_status == REGISTRY_UNAVAILABLE)
			return fail(ob, BECKN_ERR_BUSY, NULL, "registry "
			    "unavailable: %s", ob->reg_reason);
		if (uri == NULL)
			return fail(ob, BECKN_ERR_UPSTREAM, NULL, "no gateway "
			    "is registered for domain \"%s\"",
			    json_str(ob->ctx, "domain") != NULL ?
			    json_str(ob->ctx, "domain") : "");
		snprintf(paths, sizeof(paths), "/context/%s", urikey);
		return fail(ob, BECKN_ERR_CONTEXT, paths, "context.%s \"%s\" "
		    "is not the registered subscriber_url of %s \"%s\"",
		    urikey, uri, idkey, id);
	}
	if (reg == NULL)
		return fail(ob, BECKN_ERR_BUSY, NULL, "no registry configured");
	if (ob->action->id == BECKN_A_SEARCH && uri == NULL) {
		ob->rreq = registry_lookup_gateways(reg,
		    json_str(ob->ctx, "domain"), targets_cb, ob);
		return ST_WAIT;
	}
	if (id == NULL || uri == NULL) {
		snprintf(paths, sizeof(paths), "/context/%s", id == NULL ?
		    idkey : urikey);
		return fail(ob, BECKN_ERR_CONTEXT, paths, "context.%s and "
		    "context.%s are required for %s", idkey, urikey,
		    ob->action->name);
	}
	ob->rreq = registry_lookup_participants(reg, request ? "BPP" : "BAP",
	    NULL, id, targets_cb, ob);
	return ST_WAIT;
}

static void
sync_done(json_object *responses, void *arg)
{
	struct outbound	*ob = arg;

	ob->sw = NULL;
	ob->responses = json_object_get(responses);
	outbound_run(ob);	/* forward waits on if peers still answer */
}

/*
 * One message sent to one peer, with its answer: into the journal,
 * counted and reported.
 */
static void
journal_sent(const struct target *t, const struct http_client_response *resp)
{
	const struct outbound	*ob = t->ob;
	struct store_msg	 m;
	struct observed		 o;

	memset(&m, 0, sizeof(m));
	m.direction = "out";
	m.participant = ob->p->subscriber_id;
	m.role = beckn_role_type(ob->p->role);
	m.peer = json_str(ob->ctx, ob->action->kind == BECKN_REQUEST ?
	    "bpp_id" : "bap_id");
	if (m.peer == NULL)		/* a search to a gateway */
		m.peer = t->peer != NULL ? t->peer : t->url;
	m.action = ob->action->name;
	journal_ids(&m, ob->body);
	if (resp->error == HTTPC_OK)
		m.http_status = (int)resp->status;
	if (t->outcome == OC_ACK || t->outcome == OC_NACK)
		m.ack = t->outcome == OC_ACK ? "ACK" : "NACK";
	if (t->outcome != OC_ACK) {
		m.error_code = t->reply.code;
		/* The peer's own words when it gave any. */
		m.error_message = t->reply.message != NULL ? t->reply.message :
		    t->why;
	}
	m.start_ms = ob->sent_ms;
	m.end_ms = clock_now_ms(ob->px->clock);
	m.body = ob->wire;
	m.len = ob->wirelen;
	if (ob->px->store != NULL)
		store_put(ob->px->store, &m, NULL, NULL);
	memset(&o, 0, sizeof(o));
	o.m = &m;
	o.body = ob->body;
	o.start_ns = ob->sent_ns;
	o.end_ns = clock_real_ns();
	if (t->outcome == OC_NACK)
		o.err_type = t->reply.type != NULL ? t->reply.type :
		    "CORE-ERROR";
	else if (t->outcome != OC_ACK)
		o.err_type = "NETWORK-ERROR";
	o.url = t->url;
	o.recipient = t->peer;
	o.recipient_uri = t->url;
	observe_message(ob->px, &o);
}

static void
forward_cb(const struct http_client_response *resp, void *arg)
{
	struct target	*t = arg;
	struct outbound	*ob = t->ob;
	char		 why[256];

	t->hreq = NULL;
	if (resp->error != HTTPC_OK) {
		t->outcome = resp->error == HTTPC_TIMEOUT ? OC_TIMEOUT :
		    resp->error == HTTPC_DENIED ? OC_DENIED : OC_FAILED;
		snprintf(why, sizeof(why), "%s (%s)",
		    http_client_error_name(resp->error),
		    resp->errstr != NULL ? resp->errstr : "");
	} else if (beckn_reply_parse(resp->body, resp->len, &t->reply) ==
	    BECKN_REPLY_NONE) {
		t->outcome = OC_FAILED;
		snprintf(why, sizeof(why), "the peer answered HTTP %ld "
		    "without a Beckn ACK", resp->status);
	} else if (t->reply.status == BECKN_REPLY_ACK &&
	    resp->status >= 200 && resp->status < 300) {
		t->outcome = OC_ACK;
		snprintf(why, sizeof(why), "ACK");
	} else {
		t->outcome = OC_NACK;
		snprintf(why, sizeof(why), "the peer answered NACK (HTTP %ld)",
		    resp->status);
	}
	t->why = xstrdup(why);
	journal_sent(t, resp);
	if (t->outcome != OC_ACK)
		log_warn("client: %s to %s: %s", ob->action->name, t->url,
		    t->why);
	if (--ob->npending == 0)
		outbound_run(ob);
}

static enum st
st_forward(struct outbound *ob)
{
	struct http_client	*http;
	const char		*hdrs[3];
	size_t			 i;

	if (ob->npending > 0)
		return ST_WAIT;
	if (ob->sent) {
		/* Every peer answered.  A sync call waits for callbacks
		 * only when some peer took the message. */
		for (i = 0; i < ob->ntargets; i++)
			if (ob->targets[i].outcome == OC_ACK)
				break;
		if (i == ob->ntargets) {
			sync_wait_cancel(ob->sw);
			ob->sw = NULL;
		}
		return ob->sw != NULL ? ST_WAIT : ST_NEXT;
	}
	ob->sent = 1;
	ob->sent_ms = clock_now_ms(ob->px->clock);
	ob->sent_ns = clock_real_ns();
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = ob->auth_hdr;
	hdrs[2] = NULL;
	if (ob->sync)
		ob->sw = sync_wait_start(ob->px->sync, ob->p->subscriber_id,
		    message_id(ob), ob->action->pair,
		    ob->action->id == BECKN_A_SEARCH, ob->wait_ms, sync_done,
		    ob);
	ob->npending = ob->ntargets;
	http = proxy_peer_http(ob->px, ob->p);
	for (i = 0; i < ob->ntargets; i++)
		ob->targets[i].hreq = http_client_post(http,
		    ob->targets[i].url, hdrs, ob->wire, ob->wirelen, 0,
		    forward_cb, &ob->targets[i]);
	return ST_WAIT;
}

/* reply: the peers' verdict (or the callbacks) to the app. */
static enum st
st_reply(struct outbound *ob)
{
	struct evbuffer		*buf;
	struct beckn_nack	 nack;
	struct target		*t, *nacked = NULL, *denied = NULL;
	const char		*ctxjson;
	size_t			 i, ctxlen, acked = 0, timeouts = 0;

	for (i = 0; i < ob->ntargets; i++) {
		t = &ob->targets[i];
		if (t->outcome == OC_ACK)
			acked++;
		else if (t->outcome == OC_NACK && nacked == NULL)
			nacked = t;
		else if (t->outcome == OC_TIMEOUT)
			timeouts++;
		else if (t->outcome == OC_DENIED)
			denied = t;
	}
	/* A registered URL that leads back into our own client listener. */
	if (acked == 0 && nacked == NULL && denied != NULL)
		return fail(ob, BECKN_ERR_CONTEXT, NULL, "%s leads to this "
		    "process's own client listener; not sent", denied->url);
	if (acked == 0 && nacked == NULL)
		return fail(ob, timeouts > 0 ? BECKN_ERR_UPSTREAM_TIMEOUT :
		    BECKN_ERR_UPSTREAM, NULL, "%s: %s", ob->targets[0].url,
		    ob->targets[0].why);
	ctxjson = json_object_to_json_string_length(ob->ctx, WIRE_FLAGS,
	    &ctxlen);
	if ((buf = evbuffer_new()) == NULL)
		abort();	/* out of memory: as the x* allocators */
	if (ob->sync && acked > 0) {
		evbuffer_add_printf(buf, "{\"context\":%s,\"responses\":%s}",
		    ctxjson, json_object_to_json_string_ext(ob->responses,
		    WIRE_FLAGS));
	} else if (acked > 0) {
		beckn_ack_write_ctx(buf, ctxjson, ctxlen, NULL);
	} else {
		memset(&nack, 0, sizeof(nack));
		nack.code = nacked->reply.code != NULL ? nacked->reply.code :
		    BECKN_CODE_INVALID_REQUEST;
		nack.message = nacked->reply.message != NULL ?
		    nacked->reply.message : nacked->why;
		nack.paths = nacked->reply.paths;
		beckn_ack_write_ctx(buf, ctxjson, ctxlen, &nack);
	}
	log_info("client: %s %s (message_id %s) %s by %zu of %zu peers",
	    ob->p->subscriber_id, ob->action->name, message_id(ob),
	    acked > 0 ? "ACKed" : "NACKed", acked > 0 ? acked : 1,
	    ob->ntargets);
	ob->px->stats.outbound_sent++;
	http_reply_buffer(ob->req, 200, "application/json", NULL, buf);
	evbuffer_free(buf);
	outbound_free(ob);
	return ST_DONE;
}

void
proxy_outbound(struct http_request *req, void *arg)
{
	struct proxy	*px = arg;
	struct outbound	*ob;

	ob = xcalloc(1, sizeof(*ob));
	ob->px = px;
	ob->req = req;
	ob->snap = snapshot_ref(px->snap);
	ob->stage = OUT_ROUTE;
	TAILQ_INSERT_TAIL(&px->outbound, ob, entry);
	px->noutbound++;
	outbound_run(ob);
}

const char *
proxy_outbound_stage_name(int stage)
{
	return stage >= 0 && stage < OUT_NSTAGES ? stages[stage].name : "-";
}

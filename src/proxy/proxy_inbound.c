/*
 * proxy_inbound.c - the network listener: signed Beckn messages from peers.
 *
 * Pipeline, each step once, in this order: route and method -> size (the
 * HTTP layer) -> parse JSON once -> URL action = context.action -> role
 * receives the action -> Authorization verified with the registry key of
 * the sender (keyId subscriber = context.bap_id for requests, bpp_id for
 * callbacks) -> X-Gateway-Authorization (or Proxy-Authorization) verified
 * with the gateway's key, when present -> replay check -> schema
 * validation -> queued for the participant's webhook -> ACK.
 *
 * A key that fails verification is looked up again with
 * REGISTRY_FORCE_REFRESH once per message; the registry rate-limits those
 * refreshes per key, so bad signatures cannot make us hammer it.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "http/http_server.h"
#include "proxy/proxy.h"
#include "registry/registry.h"
#include "replay/replay.h"
#include "sig/sig.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum stage { STAGE_AUTH, STAGE_GATEWAY };

struct inbound {
	TAILQ_ENTRY(inbound)		 entry;
	struct proxy			*px;
	struct http_request		*req;
	const struct conf_participant	*p;
	const struct beckn_action	*action;
	json_object			*body;
	const char			*raw;
	size_t				 rawlen;
	const char			*sender;	/* context.bap_id/bpp_id */
	const char			*message_id;
	const char			*transaction_id;
	const char			*domain;
	struct sig_header		 auth;
	struct sig_header		 gw;
	int				 has_gw;
	enum stage			 stage;
	int				 refreshed;
	char				 digest[SIG_DIGEST_B64_LEN];
	struct registry_req		*rreq;
};

static void
inbound_free(struct inbound *in)
{
	if (in->rreq != NULL)
		registry_cancel(in->rreq);
	json_object_put(in->body);
	TAILQ_REMOVE(&in->px->inbound, in, entry);
	in->px->ninbound--;
	free(in);
}

void
proxy_inbound_abort_all(struct proxy *px)
{
	struct inbound	*in;

	while ((in = TAILQ_FIRST(&px->inbound)) != NULL) {
		http_request_drop(in->req);
		inbound_free(in);
	}
}

/* Answer with a NACK and free: the one exit for every failure. */
static void
inbound_fail(struct inbound *in, enum beckn_err e, const char *paths,
    const char *msg, int gateway_header)
{
	const char	*hdrs[3] = { NULL, NULL, NULL };
	char		 challenge[SIG_ID_MAX + 64];

	if (e == BECKN_ERR_AUTH) {
		snprintf(challenge, sizeof(challenge), "Signature realm=\"%s\","
		    "headers=\"(created) (expires) digest\"",
		    in->p->subscriber_id);
		hdrs[0] = gateway_header ? "Proxy-Authenticate" :
		    "WWW-Authenticate";
		hdrs[1] = challenge;
	}
	log_info("network: NACK %s %s from %s (message_id %s): %s",
	    in->p->subscriber_id, in->action != NULL ? in->action->name : "?",
	    in->sender != NULL ? in->sender : http_request_peer(in->req),
	    in->message_id != NULL ? in->message_id : "-",
	    msg != NULL ? msg : beckn_error_get(e)->message);
	in->px->stats.inbound_nacked++;
	proxy_reply_error(in->req, e, paths, msg, hdrs[0] != NULL ? hdrs :
	    NULL);
	inbound_free(in);
}

static void	lookup_cb(const struct registry_result *, void *);

static void
ack(struct inbound *in)
{
	struct evbuffer	*buf;

	in->px->stats.inbound_acked++;
	log_info("network: ACK %s %s from %s (message_id %s)",
	    in->p->subscriber_id, in->action->name, in->sender,
	    in->message_id != NULL ? in->message_id : "-");
	if ((buf = evbuffer_new()) != NULL && beckn_ack_write(buf) == 0)
		http_reply_buffer(in->req, 200, "application/json", NULL, buf);
	else
		http_reply(in->req, 200, "application/json", NULL,
		    "{\"message\":{\"ack\":{\"status\":\"ACK\"}}}", 36);
	if (buf != NULL)
		evbuffer_free(buf);
	inbound_free(in);
}

/* Gateway role: the BPPs of the domain are known; fan the search out. */
static void
bpps_cb(const struct registry_result *res, void *arg)
{
	struct inbound	*in = arg;
	char		*body, msg[300];
	size_t		 len;

	in->rreq = NULL;
	if (res->status == REGISTRY_UNAVAILABLE) {
		snprintf(msg, sizeof(msg), "registry unavailable: %s",
		    res->reason);
		inbound_fail(in, BECKN_ERR_BUSY, NULL, msg, 0);
		return;
	}
	body = http_request_steal_body(in->req, &len);
	if (proxy_gateway_forward(in->px, in->p, res,
	    http_request_header(in->req, "Authorization"), body, len,
	    in->digest, in->message_id) == -1) {
		inbound_fail(in, BECKN_ERR_INTERNAL, NULL,
		    "gateway signing failed", 0);
		return;
	}
	ack(in);
}

static void
lookup(struct inbound *in, const struct sig_header *h, int flags)
{
	in->rreq = registry_lookup_key(in->px->registry, h->subscriber_id,
	    h->key_id, flags, lookup_cb, in);
}

/* Replay check, schema validation, queue, ACK. */
static void
accept_message(struct inbound *in)
{
	struct proxy		*px = in->px;
	struct schema_errors	 errs;
	struct beckn_paths	 bp;
	char			 key[SIG_ID_MAX * 2 + 160], paths[512];
	char			 msg[SCHEMA_PATH_LEN + SCHEMA_MESSAGE_LEN + 8];
	char			*body;
	int64_t			 now = clock_now_ms(px->clock);
	int64_t			 window = px->conf->replay_window_ms;
	int64_t			 exp;
	struct replay_key	 rk[2];
	size_t			 i, len, nrk;
	int			 n;

	/*
	 * Replay: the signature itself (until it expires, within the
	 * window), and (sender, message_id, action) for the window.
	 */
	exp = (in->auth.expires * 1000) + px->conf->clock_skew_ms;
	if (exp > now + window)
		exp = now + window;
	rk[0].key = in->auth.signature;
	rk[0].len = sizeof(in->auth.signature);
	rk[0].expires_at_ms = exp;
	nrk = 1;
	if (in->message_id != NULL) {
		n = snprintf(key, sizeof(key), "%s|%s|%s", in->sender,
		    in->message_id, in->action->name);
		if (n > 0 && (size_t)n < sizeof(key)) {
			rk[1].key = key;
			rk[1].len = (size_t)n;
			rk[1].expires_at_ms = now + window;
			nrk = 2;
		}
	}
	if (replay_check(px->replay, rk[0].key, rk[0].len) == REPLAY_SEEN) {
		inbound_fail(in, BECKN_ERR_AUTH, NULL, "replayed: this "
		    "signature was already accepted", 0);
		return;
	}
	if (nrk == 2 && replay_check(px->replay, rk[1].key, rk[1].len) ==
	    REPLAY_SEEN) {
		inbound_fail(in, BECKN_ERR_AUTH, NULL, "replayed: message_id "
		    "already received for this action", 0);
		return;
	}
	switch (replay_commit(px->replay, in->sender, strlen(in->sender), rk,
	    nrk)) {
	case REPLAY_NEW:
		break;
	case REPLAY_SEEN:
		inbound_fail(in, BECKN_ERR_AUTH, NULL, "replayed", 0);
		return;
	case REPLAY_FULL:
	case REPLAY_QUOTA:
		inbound_fail(in, BECKN_ERR_BUSY, NULL, "replay cache full; "
		    "retry later", 0);
		return;
	}

	if (schema_validate_action(px->schemas, in->action->name, in->body,
	    &px->schema_opts, &errs) == -1) {
		beckn_paths_init(&bp, paths, sizeof(paths));
		for (i = 0; i < errs.n; i++)
			beckn_paths_add(&bp, errs.e[i].path[0] != '\0' ?
			    errs.e[i].path : "/");
		snprintf(msg, sizeof(msg), "%s: %s", errs.e[0].path[0] != '\0' ?
		    errs.e[0].path : "/", errs.e[0].message);
		inbound_fail(in, BECKN_ERR_SCHEMA, paths, msg, 0);
		return;
	}

	if (in->p->role == BECKN_ROLE_GATEWAY) {
		in->rreq = registry_lookup_participants(px->registry, "BPP",
		    in->domain, NULL, bpps_cb, in);
		return;
	}

	/* Hand the body to the delivery queue without copying it. */
	body = http_request_steal_body(in->req, &len);
	if (deliver_enqueue(px->deliver, in->p, in->action->name, in->sender,
	    in->message_id, in->transaction_id, body, len) == -1) {
		free(body);
		inbound_fail(in, BECKN_ERR_BUSY, NULL, "delivery queue full; "
		    "retry later", 0);
		return;
	}
	if (in->p->role == BECKN_ROLE_BAP && in->message_id != NULL)
		sync_offer(px->sync, in->message_id, in->action, in->body);

	ack(in);
}

static void
lookup_cb(const struct registry_result *res, void *arg)
{
	struct inbound		*in = arg;
	const struct sig_header	*h = in->stage == STAGE_AUTH ? &in->auth :
				    &in->gw;
	int			 gwh = in->stage == STAGE_GATEWAY;
	char			 msg[512];

	in->rreq = NULL;
	switch (res->status) {
	case REGISTRY_OK:
		break;
	case REGISTRY_UNAVAILABLE:
		snprintf(msg, sizeof(msg), "registry unavailable: %s",
		    res->reason);
		inbound_fail(in, BECKN_ERR_BUSY, NULL, msg, 0);
		return;
	case REGISTRY_NOT_FOUND:
	case REGISTRY_NOT_USABLE:
	default:
		snprintf(msg, sizeof(msg), "%s key %s of %s: %s",
		    gwh ? "gateway" : "signing", h->key_id, h->subscriber_id,
		    res->reason);
		inbound_fail(in, BECKN_ERR_AUTH, NULL, msg, gwh);
		return;
	}
	if (gwh && res->record->type != NULL &&
	    strcasecmp(res->record->type, "BG") != 0) {
		snprintf(msg, sizeof(msg), "%s is registered as %s, not as a "
		    "gateway (BG)", h->subscriber_id, res->record->type);
		inbound_fail(in, BECKN_ERR_AUTH, NULL, msg, 1);
		return;
	}
	if (sig_verify_digest(h, res->record->key, in->digest) != SIG_OK) {
		if (!in->refreshed && res->source == REGISTRY_SRC_CACHE) {
			/* Maybe the key rotated: ask the registry once. */
			in->refreshed = 1;
			lookup(in, h, REGISTRY_FORCE_REFRESH);
			return;
		}
		snprintf(msg, sizeof(msg), "%s: %s", gwh ?
		    "X-Gateway-Authorization" : "Authorization",
		    sig_strerror(SIG_E_BAD_SIGNATURE));
		inbound_fail(in, BECKN_ERR_AUTH, NULL, msg, gwh);
		return;
	}
	if (in->stage == STAGE_AUTH && in->has_gw) {
		in->stage = STAGE_GATEWAY;
		in->refreshed = 0;
		lookup(in, &in->gw, 0);
		return;
	}
	accept_message(in);
}

/* Parse and time-check one signature header; 0 or -1 (answered). */
static int
check_header(struct inbound *in, const char *name, const char *value,
    struct sig_header *h, int gwh)
{
	enum sig_err	 e;
	char		 why[200], msg[300];
	int64_t		 now = clock_now_s(in->px->clock);

	if ((e = sig_header_parse(value, strlen(value), h)) != SIG_OK ||
	    (e = sig_check_time(h, now, in->px->conf->clock_skew_ms / 1000)) !=
	    SIG_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", name,
		    sig_describe(e, h, why, sizeof(why)));
		inbound_fail(in, BECKN_ERR_AUTH, NULL, msg, gwh);
		return -1;
	}
	return 0;
}

void
proxy_inbound(struct http_request *req, void *arg)
{
	struct proxy			*px = arg;
	struct inbound			*in;
	const struct beckn_action	*action;
	const char			*name, *hv, *gwname, *ctxaction;
	json_object			*ctx;
	char				 err[256], msg[512];

	in = xcalloc(1, sizeof(*in));
	in->px = px;
	in->req = req;
	TAILQ_INSERT_TAIL(&px->inbound, in, entry);
	px->ninbound++;

	if ((in->p = proxy_route(px, http_request_path(req), &action, &name)) ==
	    NULL) {
		proxy_reply_error(req, BECKN_ERR_NOT_FOUND, NULL,
		    "no participant or action at this path", NULL);
		inbound_free(in);
		return;
	}
	if (strcmp(http_request_method(req), "POST") != 0) {
		proxy_reply_error(req, BECKN_ERR_METHOD, NULL,
		    "only POST is accepted", (const char *const[]){ "Allow",
		    "POST", NULL });
		inbound_free(in);
		return;
	}
	if (action == NULL) {
		snprintf(msg, sizeof(msg), "\"%s\" is not a Beckn action", name);
		proxy_reply_error(req, BECKN_ERR_NOT_FOUND, NULL, msg, NULL);
		inbound_free(in);
		return;
	}
	in->action = action;
	if (!beckn_role_receives(in->p->role, action)) {
		snprintf(msg, sizeof(msg), "a %s does not receive %s",
		    beckn_role_name(in->p->role), action->name);
		inbound_fail(in, BECKN_ERR_NOT_APPLICABLE, NULL, msg, 0);
		return;
	}
	in->raw = http_request_body(req, &in->rawlen);
	if ((in->body = proxy_parse_json(in->raw, in->rawlen, err,
	    sizeof(err))) == NULL) {
		inbound_fail(in, BECKN_ERR_INVALID_JSON, NULL, err, 0);
		return;
	}
	if (!json_object_object_get_ex(in->body, "context", &ctx) ||
	    !json_object_is_type(ctx, json_type_object)) {
		inbound_fail(in, BECKN_ERR_SCHEMA, "/context",
		    "context is required", 0);
		return;
	}
	in->message_id = json_str(ctx, "message_id");
	in->transaction_id = json_str(ctx, "transaction_id");
	in->domain = json_str(ctx, "domain");
	ctxaction = json_str(ctx, "action");
	if (ctxaction == NULL || strcmp(ctxaction, action->name) != 0) {
		snprintf(msg, sizeof(msg), "context.action \"%s\" does not "
		    "match the URL action \"%s\"", ctxaction != NULL ?
		    ctxaction : "", action->name);
		inbound_fail(in, BECKN_ERR_ACTION_MISMATCH, "/context/action",
		    msg, 0);
		return;
	}
	in->sender = json_str(ctx, action->kind == BECKN_REQUEST ?
	    "bap_id" : "bpp_id");

	if ((hv = http_request_header(req, "Authorization")) == NULL) {
		inbound_fail(in, BECKN_ERR_AUTH, NULL,
		    "Authorization header is missing", 0);
		return;
	}
	if (check_header(in, "Authorization", hv, &in->auth, 0) == -1)
		return;
	if (in->sender == NULL || strcmp(in->sender,
	    in->auth.subscriber_id) != 0) {
		snprintf(msg, sizeof(msg), "Authorization keyId subscriber "
		    "\"%s\" is not context.%s \"%s\"", in->auth.subscriber_id,
		    action->kind == BECKN_REQUEST ? "bap_id" : "bpp_id",
		    in->sender != NULL ? in->sender : "");
		inbound_fail(in, BECKN_ERR_AUTH, NULL, msg, 0);
		return;
	}
	gwname = "X-Gateway-Authorization";
	if ((hv = http_request_header(req, gwname)) == NULL) {
		gwname = "Proxy-Authorization";
		hv = http_request_header(req, gwname);
	}
	if (hv != NULL) {
		if (check_header(in, gwname, hv, &in->gw, 1) == -1)
			return;
		in->has_gw = 1;
	}
	if (sig_digest(in->raw, in->rawlen, in->digest) == -1) {
		inbound_fail(in, BECKN_ERR_INTERNAL, NULL, "digest failed", 0);
		return;
	}
	if (px->registry == NULL) {
		inbound_fail(in, BECKN_ERR_BUSY, NULL, "no registry configured",
		    0);
		return;
	}
	in->stage = STAGE_AUTH;
	lookup(in, &in->auth, 0);
}

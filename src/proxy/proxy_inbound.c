/*
 * proxy_inbound.c - the network listener: signed Beckn messages from peers,
 * checked by one table of stages (see stages[] below), in this order:
 *
 *   route          participant and action from the path; POST only
 *   auth-header    parse the Authorization header (and a gateway's
 *                  X-Gateway-Authorization / Proxy-Authorization): time
 *                  window, lifetime <= security.max_signature_ttl;
 *                  BLAKE2b-512 of the raw bytes
 *   key            the sender's records for the keyId (may suspend)
 *   verify         the signature over the raw bytes, with each candidate
 *                  key; none verifies and the key came from the cache:
 *                  back to `key` once with a forced refresh (rotation)
 *   parse          the JSON, once -- never before the bytes are
 *                  authenticated
 *   bind           URL action = context.action; the participant's role
 *                  receives it; ids are plain strings; keyId subscriber =
 *                  context.bap_id (requests) / bpp_id (callbacks); the
 *                  sender's verified record has the type that sends the
 *                  action (BAP / BPP) and covers context.domain; the
 *                  domain is one the participant serves; the message is
 *                  addressed to this participant (bpp_id / bap_id)
 *   gateway-key,   the gateway header, when present: key (may suspend),
 *   gateway-verify signature, record of type BG covering the domain
 *   replay-check   signature and (sender, message_id, action) not seen
 *                  by this participant; records nothing
 *   validate       the schemas
 *   decide         reserve a place in the delivery queue, or (gateway)
 *                  look the domain's BPPs up (may suspend) and prepare
 *                  the fan-out
 *   replay-commit  record the signature and message id (all or nothing,
 *                  within the sender's quota); only now
 *   store          (store.path) the message's record -- raw bytes,
 *                  verified sender, ids, replay keys, outbox state -- is
 *                  committed to disk (suspends); a store that cannot
 *                  commit gives the replay keys back and answers 503:
 *                  never an ACK without a record
 *   reply          ACK; the delivery or fan-out starts
 *
 * A stage returns NEXT, WAIT (a callback re-enters the same stage, which
 * then finds its result), BACK (the previous stage again) or FAIL.  Every
 * failure, 404 and 405 included, leaves through inbound_nack(): one log
 * line, one counter, one NACK, one free.  A refused message leaves no
 * trace: nothing is remembered in the replay cache and nothing is queued
 * before the ACK is decided.  A refused message whose signature verified
 * is journalled with its NACK (without waiting); one that did not verify
 * is not, so that unauthenticated bytes never reach the disk.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "http/http_server.h"
#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "replay/replay.h"
#include "sig/sig.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum st { ST_NEXT, ST_WAIT, ST_BACK, ST_FAIL, ST_DONE };

/*
 * A replay key: six length-prefixed fields at most -- tag, role, receiver
 * and sender ids (< SIG_ID_MAX: conf and sig bound them), action, and a
 * message_id (<= PROXY_ID_MAX) or the 64 signature bytes.
 */
#define RKEY_MAX	(6 * 4 + 1 + 16 + 2 * SIG_ID_MAX + 32 + \
			 PROXY_ID_MAX + 1)

/* One signature header through lookup and verification. */
struct sigcheck {
	const char		*name;		/* header, for answers */
	struct sig_header	 h;
	int			 present;
	int			 looked_up;	/* the lookup answered */
	int			 refreshed;	/* forced refresh asked */
	int			 from_cache;
	enum registry_status	 status;
	int			 retry_after_s;	/* REGISTRY_LIMITED */
	char			 reason[256];
	/* Candidate records for the key id, then those that verified. */
	struct registry_record	**recs;
	size_t			 nrecs;
	size_t			 nverified;	/* recs[0..n) verified */
};

struct inbound {
	TAILQ_ENTRY(inbound)		 entry;
	struct proxy			*px;
	struct snapshot			*snap;
	struct http_request		*req;
	enum inbound_stage		 stage;
	const struct conf_participant	*p;
	const struct beckn_action	*action;
	const char			*raw;
	size_t				 rawlen;
	char				 digest[SIG_DIGEST_B64_LEN];
	struct sigcheck			 auth;
	struct sigcheck			 gw;
	struct registry_req		*rreq;
	json_object			*body;
	json_object			*ctx;
	const char			*sender;
	const char			*message_id;
	const char			*transaction_id;
	const char			*domain;
	/* Replay keys, built at replay-check, recorded at replay-commit. */
	unsigned char			 rkey[2][RKEY_MAX];
	size_t				 rkeylen[2];
	int64_t				 rexp[2];
	size_t				 nrkeys;
	int64_t				 start_ms;	/* received */
	int64_t				 start_ns;	/* real time */
	int64_t				 store_ns;	/* monotonic */
	/* The store's commit of the record (IN_STORE). */
	struct store_op			*sop;
	int				 stored;	/* 1 ok, -1 failed */
	char				 store_reason[128];
	/* What decide prepared. */
	struct delivery			*dl;
	struct fanout			*fo;
	int				 bpps_looked_up;
	enum registry_status		 bpps_status;
	struct registry_record		**bpps;
	size_t				 nbpps;
	char				 bpps_reason[256];
	/* The failure, for inbound_nack(). */
	enum beckn_err			 err;
	char				 paths[512];
	int				 err_gateway;	/* Proxy-Authenticate */
	const char			*err_allow;	/* 405 */
	int				 retry_after_s;	/* 503, when not 1 */
	char				 msg[512];
};

static enum st	st_route(struct inbound *);
static enum st	st_auth_header(struct inbound *);
static enum st	st_key(struct inbound *);
static enum st	st_verify(struct inbound *);
static enum st	st_parse(struct inbound *);
static enum st	st_bind(struct inbound *);
static enum st	st_gateway_key(struct inbound *);
static enum st	st_gateway_verify(struct inbound *);
static enum st	st_replay_check(struct inbound *);
static enum st	st_validate(struct inbound *);
static enum st	st_decide(struct inbound *);
static enum st	st_replay_commit(struct inbound *);
static enum st	st_store(struct inbound *);
static enum st	st_reply(struct inbound *);

static const struct {
	const char	*name;
	enum st		(*run)(struct inbound *);
} stages[IN_NSTAGES] = {
	[IN_ROUTE] =		{ "route", st_route },
	[IN_AUTH_HEADER] =	{ "auth-header", st_auth_header },
	[IN_KEY] =		{ "key", st_key },
	[IN_VERIFY] =		{ "verify", st_verify },
	[IN_PARSE] =		{ "parse", st_parse },
	[IN_BIND] =		{ "bind", st_bind },
	[IN_GATEWAY_KEY] =	{ "gateway-key", st_gateway_key },
	[IN_GATEWAY_VERIFY] =	{ "gateway-verify", st_gateway_verify },
	[IN_REPLAY_CHECK] =	{ "replay-check", st_replay_check },
	[IN_VALIDATE] =		{ "validate", st_validate },
	[IN_DECIDE] =		{ "decide", st_decide },
	[IN_REPLAY_COMMIT] =	{ "replay-commit", st_replay_commit },
	[IN_STORE] =		{ "store", st_store },
	[IN_REPLY] =		{ "reply", st_reply },
};

static void
records_release(struct registry_record ***recs, size_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		registry_record_unref((*recs)[i]);
	free(*recs);
	*recs = NULL;
	*n = 0;
}

/* Keep the records of a result past its callback. */
static void
records_take(const struct registry_result *res,
    struct registry_record ***recs, size_t *n)
{
	size_t	 i;

	*recs = xcalloc(res->nrecords > 0 ? res->nrecords : 1,
	    sizeof(**recs));
	for (i = 0; i < res->nrecords; i++)
		(*recs)[i] = registry_record_ref(res->records[i]);
	*n = res->nrecords;
}

static void
inbound_free(struct inbound *in)
{
	if (in->rreq != NULL)
		registry_cancel(in->rreq);
	/* The record is still written: the next start delivers it. */
	store_op_cancel(in->sop);
	deliver_cancel(in->dl);
	gateway_cancel(in->fo);
	records_release(&in->auth.recs, &in->auth.nrecs);
	records_release(&in->gw.recs, &in->gw.nrecs);
	records_release(&in->bpps, &in->nbpps);
	json_object_put(in->body);
	snapshot_unref(in->snap);
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

/*
 * Record a failure (paths: the NACK's JSON pointers, or NULL); the stage
 * then returns ST_FAIL.
 */
static enum st __attribute__((format(printf, 4, 5)))
fail(struct inbound *in, enum beckn_err e, const char *paths,
    const char *fmt, ...)
{
	va_list	 ap;

	in->err = e;
	snprintf(in->paths, sizeof(in->paths), "%s", paths != NULL ? paths :
	    "");
	va_start(ap, fmt);
	vsnprintf(in->msg, sizeof(in->msg), fmt, ap);
	va_end(ap);
	return ST_FAIL;
}

/* The message's record, as the store keeps it (borrowed strings). */
static void
record(struct inbound *in, struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->direction = "in";
	/* A message refused at route has neither participant nor action. */
	if (in->p != NULL) {
		m->participant = in->p->subscriber_id;
		m->role = beckn_role_type(in->p->role);
	}
	/*
	 * The verified signer: a record is made only once the signature
	 * verified.  Not in->sender, which a message refused at bind (or
	 * before) may claim for someone else, or not have.
	 */
	m->peer = in->auth.h.subscriber_id;
	m->action = in->action != NULL ? in->action->name : NULL;
	journal_ids(m, in->body);
	m->start_ms = in->start_ms;
	m->end_ms = clock_now_ms(in->px->clock);
	m->body = in->raw;
	m->len = in->rawlen;
}

/* Counted and reported: the message and our answer to it. */
static void
observed(struct inbound *in, const struct store_msg *m, json_object *body)
{
	struct observed	 o;

	memset(&o, 0, sizeof(o));
	o.m = m;
	o.body = body;
	o.start_ns = in->start_ns;
	o.end_ns = clock_real_ns();
	if (m->ack != NULL && strcmp(m->ack, "NACK") == 0)
		o.err_type = observe_err_type(in->err);
	o.route = http_request_path(in->req);
	o.host = http_request_header(in->req, "Host");
	observe_message(in->px, &o);
}

/*
 * Every refusal is counted; a verified sender's message (past verify the
 * bytes are the signer's) is also journalled and reported, nobody waits.
 */
static void
nack_observed(struct inbound *in)
{
	const struct beckn_error	*be = beckn_error_get(in->err);
	struct store_msg		 m;

	record(in, &m);
	m.http_status = be->http_status;
	m.ack = "NACK";
	m.error_code = be->code;
	m.error_message = in->msg;
	/* Bytes not the signer's: counted, never reported (no body). */
	observed(in, &m, in->stage > IN_VERIFY ? in->body : NULL);
	if (in->stage <= IN_VERIFY)
		return;
	if (in->px->store != NULL && in->action != NULL &&
	    in->stage != IN_STORE)
		store_put(in->px->store, &m, NULL, NULL);
}

/* The one exit for every refusal. */
static void
inbound_nack(struct inbound *in)
{
	const char	*hdrs[3] = { NULL, NULL, NULL };
	char		 challenge[SIG_ID_MAX + 64], after[16];

	if (in->err == BECKN_ERR_AUTH) {
		snprintf(challenge, sizeof(challenge), "Signature realm=\"%s\","
		    "headers=\"(created) (expires) digest\"",
		    in->p->subscriber_id);
		hdrs[0] = in->err_gateway ? "Proxy-Authenticate" :
		    "WWW-Authenticate";
		hdrs[1] = challenge;
	} else if (in->err_allow != NULL) {
		hdrs[0] = "Allow";
		hdrs[1] = in->err_allow;
	} else if (in->retry_after_s > 0) {
		snprintf(after, sizeof(after), "%d", in->retry_after_s);
		hdrs[0] = "Retry-After";
		hdrs[1] = after;
	}
	log_info("network: NACK %d at %s: %s %s from %s (message_id %s): %s",
	    beckn_error_get(in->err)->http_status, stages[in->stage].name,
	    in->p != NULL ? in->p->subscriber_id : "-",
	    in->action != NULL ? in->action->name : http_request_path(in->req),
	    in->sender != NULL ? in->sender : in->auth.present ?
	    in->auth.h.subscriber_id : http_request_peer(in->req),
	    in->message_id != NULL ? in->message_id : "-", in->msg);
	in->px->stats.inbound_nacked[in->stage]++;
	nack_observed(in);
	proxy_reply_error(in->req, in->err, in->paths[0] != '\0' ? in->paths :
	    NULL, in->msg, hdrs[0] != NULL ? hdrs : NULL);
	inbound_free(in);
}

static void
inbound_run(struct inbound *in)
{
	for (;;) {
		switch (stages[in->stage].run(in)) {
		case ST_NEXT:
			in->stage++;
			break;
		case ST_BACK:
			in->stage--;
			break;
		case ST_WAIT:
		case ST_DONE:
			return;
		case ST_FAIL:
			inbound_nack(in);
			return;
		}
	}
}

/* route: participant and action from the path, POST only. */
static enum st
st_route(struct inbound *in)
{
	const char	*name;

	if ((in->p = proxy_route(in->snap->conf, http_request_path(in->req),
	    &in->action, &name)) == NULL)
		return fail(in, BECKN_ERR_NOT_FOUND, NULL,
		    "no participant or action "
		    "at this path");
	if (strcmp(http_request_method(in->req), "POST") != 0) {
		in->err_allow = "POST";
		return fail(in, BECKN_ERR_METHOD, NULL,
		    "only POST is accepted");
	}
	if (in->action == NULL)
		return fail(in, BECKN_ERR_NOT_FOUND, NULL,
		    "\"%s\" is not a Beckn "
		    "action", name);
	return ST_NEXT;
}

/* Parse one signature header and judge its times; 0 or -1 (failed). */
static int
parse_header(struct inbound *in, struct sigcheck *sc, const char *value,
    int gateway)
{
	const struct conf	*c = in->snap->conf;
	enum sig_err		 e;
	int64_t			 now = clock_now_s(in->px->clock);
	char			 why[200];

	sc->present = 1;
	in->err_gateway = gateway;
	if ((e = sig_header_parse(value, strlen(value), &sc->h)) != SIG_OK ||
	    (e = sig_check_time(&sc->h, now, c->clock_skew_ms / 1000)) !=
	    SIG_OK) {
		fail(in, BECKN_ERR_AUTH, NULL, "%s: %s", sc->name,
		    sig_describe(e, &sc->h, why, sizeof(why)));
		return -1;
	}
	/*
	 * A signature is remembered until it expires: one that lives longer
	 * than we are willing to remember could be replayed after we forgot.
	 */
	if ((sc->h.expires - sc->h.created) * 1000 > c->max_signature_ttl_ms) {
		fail(in, BECKN_ERR_AUTH, NULL,
		    "%s: the signature is valid for %lld "
		    "s, longer than security.max_signature_ttl (%lld s)",
		    sc->name, (long long)(sc->h.expires - sc->h.created),
		    (long long)(c->max_signature_ttl_ms / 1000));
		return -1;
	}
	in->err_gateway = 0;
	return 0;
}

/* auth-header: the signature headers, parsed; the body's digest. */
static enum st
st_auth_header(struct inbound *in)
{
	const char	*v;

	in->auth.name = "Authorization";
	if ((v = http_request_header(in->req, "Authorization")) == NULL)
		return fail(in, BECKN_ERR_AUTH, NULL, "Authorization header is "
		    "missing");
	if (parse_header(in, &in->auth, v, 0) == -1)
		return ST_FAIL;
	in->gw.name = "X-Gateway-Authorization";
	if ((v = http_request_header(in->req, in->gw.name)) == NULL) {
		in->gw.name = "Proxy-Authorization";
		v = http_request_header(in->req, in->gw.name);
	}
	if (v != NULL && parse_header(in, &in->gw, v, 1) == -1)
		return ST_FAIL;
	in->raw = http_request_body(in->req, &in->rawlen);
	if (sig_digest(in->raw, in->rawlen, in->digest) == -1)
		return fail(in, BECKN_ERR_INTERNAL, NULL, "digest failed");
	return ST_NEXT;
}

static void
key_cb(const struct registry_result *res, void *arg)
{
	struct inbound	*in = arg;
	struct sigcheck	*sc = in->stage == IN_KEY ? &in->auth : &in->gw;

	in->rreq = NULL;
	sc->looked_up = 1;
	sc->status = res->status;
	sc->from_cache = res->source == REGISTRY_SRC_CACHE;
	sc->retry_after_s = res->retry_after_s;
	snprintf(sc->reason, sizeof(sc->reason), "%s", res->reason);
	if (res->status == REGISTRY_OK)
		records_take(res, &sc->recs, &sc->nrecs);
	inbound_run(in);
}

/* key, gateway-key: the records of the header's key id. */
static enum st
key_stage(struct inbound *in, struct sigcheck *sc, int gateway)
{
	struct registry	*reg = snapshot_registry(in->snap);

	if (!sc->looked_up) {
		if (reg == NULL)
			return fail(in, BECKN_ERR_BUSY, NULL, "no registry "
			    "configured");
		in->rreq = registry_lookup_key(reg, sc->h.subscriber_id,
		    sc->h.key_id, sc->refreshed ? REGISTRY_FORCE_REFRESH : 0,
		    http_request_peer(in->req), key_cb, in);
		return ST_WAIT;
	}
	switch (sc->status) {
	case REGISTRY_OK:
		return ST_NEXT;
	case REGISTRY_UNAVAILABLE:
		return fail(in, BECKN_ERR_BUSY, NULL,
		    "registry unavailable: %s",
		    sc->reason);
	case REGISTRY_LIMITED:
		/* Too many unknown keys from this address: not a verdict on
		 * the signature, a "come back later". */
		in->retry_after_s = sc->retry_after_s;
		return fail(in, BECKN_ERR_BUSY, NULL, "%s", sc->reason);
	default:
		in->err_gateway = gateway;
		return fail(in, BECKN_ERR_AUTH, NULL, "%s key %s of %s: %s",
		    gateway ? "gateway" : "signing", sc->h.key_id,
		    sc->h.subscriber_id, sc->reason);
	}
}

/*
 * verify, gateway-verify: keep the records whose key verifies (in front).
 * None: a cached key may have rotated, so ask the registry once more.
 */
static enum st
verify_stage(struct inbound *in, struct sigcheck *sc, int gateway)
{
	struct registry_record	*r;
	int64_t			 t0;
	size_t			 i;
	int			 rc;

	sc->nverified = 0;
	for (i = 0; i < sc->nrecs; i++) {
		t0 = clock_mono_ns();
		rc = sig_verify_digest(&sc->h, sc->recs[i]->key, in->digest);
		observe_stage(in->px, OBS_VERIFY, clock_mono_ns() - t0);
		if (rc != SIG_OK)
			continue;
		r = sc->recs[sc->nverified];
		sc->recs[sc->nverified++] = sc->recs[i];
		sc->recs[i] = r;
	}
	if (sc->nverified > 0)
		return ST_NEXT;
	if (!sc->refreshed && sc->from_cache) {
		sc->refreshed = 1;
		sc->looked_up = 0;
		records_release(&sc->recs, &sc->nrecs);
		return ST_BACK;
	}
	in->err_gateway = gateway;
	return fail(in, BECKN_ERR_AUTH, NULL, "%s: %s", sc->name,
	    sig_strerror(SIG_E_BAD_SIGNATURE));
}

static enum st
st_key(struct inbound *in)
{
	return key_stage(in, &in->auth, 0);
}

static enum st
st_verify(struct inbound *in)
{
	return verify_stage(in, &in->auth, 0);
}

/* parse: the authenticated bytes as JSON, once. */
static enum st
st_parse(struct inbound *in)
{
	char	 err[512], path[256];

	if ((in->body = proxy_parse_json(in->raw, in->rawlen,
	    in->snap->conf->json_max_nodes, path, sizeof(path), err,
	    sizeof(err))) == NULL)
		return fail(in, BECKN_ERR_INVALID_JSON, path[0] != '\0' ?
		    path : NULL, "%s", err);
	if (!json_object_object_get_ex(in->body, "context", &in->ctx) ||
	    !json_object_is_type(in->ctx, json_type_object))
		return fail(in, BECKN_ERR_SCHEMA, "/context", "context is "
		    "required and must be an object");
	return ST_NEXT;
}

/*
 * The first verified record of the signer that may send this: type and
 * domain through the registry's one matching function.  -1 and the
 * reason of the first mismatch when none.
 */
static int
pick_record(struct inbound *in, struct sigcheck *sc, const char *type,
    char *why, size_t whylen)
{
	struct registry_match	 m;
	size_t			 i;
	char			 w[200];

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.domain = in->domain;
	m.now_ms = clock_now_ms(in->px->clock);
	m.need_key = 1;
	why[0] = '\0';
	for (i = 0; i < sc->nverified; i++) {
		if (registry_record_check(sc->recs[i], &m, w, sizeof(w)) ==
		    REGISTRY_MATCH)
			return 0;
		if (why[0] == '\0')
			snprintf(why, whylen, "%s", w);
	}
	return -1;
}

static int
served_domain(const struct conf_participant *p, const char *domain)
{
	size_t	 i;

	for (i = 0; i < p->ndomains; i++)
		if (strcmp(p->domains[i], domain) == 0)
			return 1;
	return 0;
}

/* bind: the message to its signer, its action and its addressee. */
static enum st
st_bind(struct inbound *in)
{
	static const struct {
		const char	*key;
		const char	*path;
	} ids[] = {
		{ "message_id", "/context/message_id" },
		{ "transaction_id", "/context/transaction_id" },
		{ "bap_id", "/context/bap_id" },
		{ "bpp_id", "/context/bpp_id" },
		{ "domain", "/context/domain" },
	};
	const struct conf_participant	*p = in->p;
	const char			*v[5], *action, *sender_key;
	int				 request;
	size_t				 i;
	char				 why[256];

	action = json_str(in->ctx, "action");
	if (action == NULL || strcmp(action, in->action->name) != 0)
		return fail(in, BECKN_ERR_ACTION_MISMATCH, "/context/action",
		    "context.action \"%.64s\" does not match the URL action "
		    "\"%s\"", action != NULL ? action : "", in->action->name);
	if (!beckn_role_receives(p->role, in->action))
		return fail(in, BECKN_ERR_NOT_APPLICABLE, NULL, "a %s does not "
		    "receive %s", beckn_role_name(p->role), in->action->name);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (proxy_context_id(in->ctx, ids[i].key, &v[i], why,
		    sizeof(why)) == -1)
			return fail(in, BECKN_ERR_CONTEXT, ids[i].path, "%s",
			    why);
	in->message_id = v[0];
	in->transaction_id = v[1];
	in->domain = v[4];

	request = in->action->kind == BECKN_REQUEST;
	sender_key = request ? "bap_id" : "bpp_id";
	in->sender = request ? v[2] : v[3];
	if (in->sender == NULL ||
	    strcmp(in->sender, in->auth.h.subscriber_id) != 0)
		return fail(in, BECKN_ERR_AUTH, NULL, "Authorization keyId "
		    "subscriber \"%s\" is not context.%s \"%s\"",
		    in->auth.h.subscriber_id, sender_key,
		    in->sender != NULL ? in->sender : "");
	if (pick_record(in, &in->auth, request ? "BAP" : "BPP", why,
	    sizeof(why)) == -1)
		return fail(in, BECKN_ERR_AUTH, NULL,
		    "sender %s may not send %s: %s",
		    in->sender, in->action->name, why);

	if (p->ndomains > 0 && in->domain == NULL)
		return fail(in, BECKN_ERR_CONTEXT, "/context/domain",
		    "context.domain is required");
	if (p->ndomains > 0 && !served_domain(p, in->domain))
		return fail(in, BECKN_ERR_CONTEXT, "/context/domain", "%s does "
		    "not serve domain \"%s\"", p->subscriber_id, in->domain);
	/* A message captured on its way to one participant is not ours. */
	if (p->role == BECKN_ROLE_BPP && v[3] != NULL &&
	    strcmp(v[3], p->subscriber_id) != 0)
		return fail(in, BECKN_ERR_CONTEXT, "/context/bpp_id",
		    "context.bpp_id \"%s\" is not this BPP (%s)", v[3],
		    p->subscriber_id);
	if (p->role == BECKN_ROLE_BAP &&
	    (v[2] == NULL || strcmp(v[2], p->subscriber_id) != 0))
		return fail(in, BECKN_ERR_CONTEXT, "/context/bap_id",
		    "context.bap_id \"%s\" is not this BAP (%s)",
		    v[2] != NULL ? v[2] : "", p->subscriber_id);
	return ST_NEXT;
}

static enum st
st_gateway_key(struct inbound *in)
{
	if (!in->gw.present)
		return ST_NEXT;
	return key_stage(in, &in->gw, 1);
}

static enum st
st_gateway_verify(struct inbound *in)
{
	enum st	 rc;
	char	 why[256];

	if (!in->gw.present)
		return ST_NEXT;
	if ((rc = verify_stage(in, &in->gw, 1)) != ST_NEXT)
		return rc;
	if (pick_record(in, &in->gw, "BG", why, sizeof(why)) == -1) {
		in->err_gateway = 1;
		return fail(in, BECKN_ERR_AUTH, NULL,
		    "%s: %s is not a gateway of "
		    "this domain: %s", in->gw.name, in->gw.h.subscriber_id,
		    why);
	}
	return ST_NEXT;
}

/* Append a length-prefixed field to a replay key (RKEY_MAX bounds it). */
static void
rkey_add(unsigned char *k, size_t *len, const void *v, size_t vlen)
{
	uint32_t	 n = (uint32_t)vlen;

	memcpy(k + *len, &n, sizeof(n));
	memcpy(k + *len + sizeof(n), v, vlen);
	*len += sizeof(n) + vlen;
}

/*
 * replay-check.  Two keys, both scoped to the receiving participant (a
 * search fanned out to two BPPs of one process is two messages):
 *   "S" + receiver + signature bytes, until the signature expires;
 *   "M" + receiver + sender + action + message_id, for the replay window
 *   or until the signature expires, whichever is later.
 */
static enum st
st_replay_check(struct inbound *in)
{
	const struct conf	*c = in->snap->conf;
	const char		*role = beckn_role_name(in->p->role);
	int64_t			 now = clock_now_ms(in->px->clock);
	size_t			 i;

	if (c->replay_window_ms == 0)
		return ST_NEXT;		/* security.replay_window: off */
	in->nrkeys = in->message_id != NULL ? 2 : 1;
	for (i = 0; i < in->nrkeys; i++) {
		rkey_add(in->rkey[i], &in->rkeylen[i], i == 0 ? "S" : "M", 1);
		rkey_add(in->rkey[i], &in->rkeylen[i], role, strlen(role));
		rkey_add(in->rkey[i], &in->rkeylen[i], in->p->subscriber_id,
		    strlen(in->p->subscriber_id));
	}
	rkey_add(in->rkey[0], &in->rkeylen[0], in->auth.h.signature,
	    sizeof(in->auth.h.signature));
	in->rexp[0] = in->auth.h.expires * 1000 + c->clock_skew_ms;
	if (in->nrkeys == 2) {
		rkey_add(in->rkey[1], &in->rkeylen[1], in->sender,
		    strlen(in->sender));
		rkey_add(in->rkey[1], &in->rkeylen[1], in->action->name,
		    in->action->namelen);
		rkey_add(in->rkey[1], &in->rkeylen[1], in->message_id,
		    strlen(in->message_id));
		in->rexp[1] = now + c->replay_window_ms;
		if (in->rexp[1] < in->rexp[0])
			in->rexp[1] = in->rexp[0];
	}
	if (replay_check(in->px->replay, in->rkey[0], in->rkeylen[0]) ==
	    REPLAY_SEEN)
		return fail(in, BECKN_ERR_AUTH, NULL,
		    "replayed: this signature was "
		    "already accepted");
	if (in->nrkeys == 2 && replay_check(in->px->replay, in->rkey[1],
	    in->rkeylen[1]) == REPLAY_SEEN)
		return fail(in, BECKN_ERR_AUTH, NULL,
		    "replayed: message_id %s was "
		    "already received for %s", in->message_id,
		    in->action->name);
	return ST_NEXT;
}

static enum st
st_validate(struct inbound *in)
{
	struct schema_errors	 errs;
	char			 paths[512];
	char			 msg[SCHEMA_PATH_LEN + SCHEMA_MESSAGE_LEN + 8];
	int64_t			 t0 = clock_mono_ns();
	int			 rc;

	rc = schema_validate_action(in->snap->schemas, in->action->name,
	    in->body, &in->snap->schema_opts, &errs);
	observe_stage(in->px, OBS_VALIDATE, clock_mono_ns() - t0);
	if (rc == 0)
		return ST_NEXT;
	proxy_schema_nack(&errs, paths, sizeof(paths), msg, sizeof(msg));
	return fail(in, BECKN_ERR_SCHEMA, paths, "%s", msg);
}

static void
bpps_cb(const struct registry_result *res, void *arg)
{
	struct inbound	*in = arg;

	in->rreq = NULL;
	in->bpps_looked_up = 1;
	in->bpps_status = res->status;
	snprintf(in->bpps_reason, sizeof(in->bpps_reason), "%s", res->reason);
	if (res->status == REGISTRY_OK)
		records_take(res, &in->bpps, &in->nbpps);
	inbound_run(in);
}

/* decide, gateway role: the domain's BPPs, and the fan-out prepared. */
static enum st
decide_gateway(struct inbound *in)
{
	if (in->domain == NULL)
		return fail(in, BECKN_ERR_CONTEXT, "/context/domain",
		    "a gateway forwards a search only within its "
		    "context.domain");
	if (!in->bpps_looked_up) {
		in->rreq = registry_lookup_participants(
		    snapshot_registry(in->snap), "BPP", in->domain, NULL,
		    bpps_cb, in);
		return ST_WAIT;
	}
	if (in->bpps_status == REGISTRY_UNAVAILABLE)
		return fail(in, BECKN_ERR_BUSY, NULL,
		    "registry unavailable: %s",
		    in->bpps_reason);
	if ((in->fo = gateway_prepare(in->px, in->p, in->bpps, in->nbpps,
	    http_request_header(in->req, "Authorization"), in->digest,
	    in->message_id, in->transaction_id, in->domain, in->snap->conf)) ==
	    NULL)
		return fail(in, BECKN_ERR_INTERNAL, NULL,
		    "gateway signing failed");
	return ST_NEXT;
}

static enum st
st_decide(struct inbound *in)
{
	struct deliver_msg	 m;

	if (in->p->role == BECKN_ROLE_GATEWAY)
		return decide_gateway(in);
	memset(&m, 0, sizeof(m));
	m.participant = in->p->subscriber_id;
	m.webhook = in->p->webhook;
	m.action = in->action->name;
	m.sender = in->sender;
	m.message_id = in->message_id;
	m.transaction_id = in->transaction_id;
	m.len = in->rawlen;
	if ((in->dl = deliver_prepare(in->px->deliver, &m)) == NULL)
		return fail(in, BECKN_ERR_BUSY, NULL, "the delivery queue of "
		    "%s is full (delivery.queue_size, queue_bytes); retry "
		    "later", in->p->subscriber_id);
	return ST_NEXT;
}

static enum st
st_replay_commit(struct inbound *in)
{
	struct replay_key	 k[2];
	size_t			 i;

	if (in->nrkeys == 0)
		return ST_NEXT;
	for (i = 0; i < in->nrkeys; i++) {
		k[i].key = in->rkey[i];
		k[i].len = in->rkeylen[i];
		k[i].expires_at_ms = in->rexp[i];
	}
	switch (replay_commit(in->px->replay, in->sender, strlen(in->sender),
	    k, in->nrkeys)) {
	case REPLAY_NEW:
		return ST_NEXT;
	case REPLAY_SEEN:
		/* The same message won a race while we waited. */
		return fail(in, BECKN_ERR_AUTH, NULL,
		    "replayed: this message was "
		    "accepted meanwhile");
	case REPLAY_QUOTA:
		return fail(in, BECKN_ERR_BUSY, NULL,
		    "replay cache: %s holds its "
		    "share (security.replay_sender_quota); retry later",
		    in->sender);
	case REPLAY_FULL:
	default:
		return fail(in, BECKN_ERR_BUSY, NULL,
		    "replay cache full; retry "
		    "later");
	}
}

static void
store_cb(int ok, const char *reason, void *arg)
{
	struct inbound	*in = arg;

	in->sop = NULL;
	in->stored = ok ? 1 : -1;
	observe_stage(in->px, OBS_STORE_COMMIT, clock_mono_ns() -
	    in->store_ns);
	in->px->obs.store_failing = !ok;
	if (!ok)
		snprintf(in->px->obs.store_reason,
		    sizeof(in->px->obs.store_reason), "%s", reason != NULL ?
		    reason : "unknown error");
	snprintf(in->store_reason, sizeof(in->store_reason), "%s",
	    reason != NULL ? reason : "unknown error");
	inbound_run(in);
}

/* store: the record committed before the ACK (store.path). */
static enum st
st_store(struct inbound *in)
{
	struct store_replay_key	 k[2];
	struct replay_key	 rk[2];
	struct store_msg	 m;
	size_t			 i;

	if (in->px->store == NULL || in->stored == 1)
		return ST_NEXT;
	if (in->stored == -1) {
		for (i = 0; i < in->nrkeys; i++) {
			rk[i].key = in->rkey[i];
			rk[i].len = in->rkeylen[i];
			rk[i].expires_at_ms = in->rexp[i];
		}
		replay_release(in->px->replay, in->sender, strlen(in->sender),
		    rk, in->nrkeys);
		return fail(in, BECKN_ERR_BUSY, NULL, "the store cannot record "
		    "the message (%s); retry later", in->store_reason);
	}
	record(in, &m);
	m.http_status = 200;
	m.ack = "ACK";
	if (in->dl != NULL) {
		m.delivery_id = deliver_id(in->dl);
		m.webhook = in->p->webhook;
		m.sender = in->sender;
	}
	for (i = 0; i < in->nrkeys; i++) {
		k[i].key = in->rkey[i];
		k[i].len = in->rkeylen[i];
		k[i].expires_ms = in->rexp[i];
	}
	m.replay_owner = in->sender;
	m.keys = k;
	m.nkeys = in->nrkeys;
	in->store_ns = clock_mono_ns();
	in->sop = store_put(in->px->store, &m, store_cb, in);
	return ST_WAIT;
}

static enum st
st_reply(struct inbound *in)
{
	struct proxy	*px = in->px;
	struct store_msg m;
	char		*body;
	size_t		 len;

	px->stats.inbound_acked++;
	record(in, &m);
	m.http_status = 200;
	m.ack = "ACK";
	observed(in, &m, in->body);
	log_info("network: ACK %s %s from %s (message_id %s)",
	    in->p->subscriber_id, in->action->name, in->sender,
	    in->message_id != NULL ? in->message_id : "-");
	if (in->p->role == BECKN_ROLE_BAP && in->message_id != NULL)
		sync_offer(px->sync, in->p->subscriber_id, in->message_id,
		    in->action, in->body);
	/* Hand the exact bytes over without copying them. */
	body = http_request_steal_body(in->req, &len);
	if (in->fo != NULL) {
		gateway_dispatch(in->fo, body, len, in->body);
		in->fo = NULL;
	} else {
		deliver_start(in->dl, body, len);
		in->dl = NULL;
	}
	http_reply(in->req, 200, "application/json", NULL, BECKN_ACK_BODY,
	    sizeof(BECKN_ACK_BODY) - 1);
	inbound_free(in);
	return ST_DONE;
}

void
proxy_inbound(struct http_request *req, void *arg)
{
	struct proxy	*px = arg;
	struct inbound	*in;

	in = xcalloc(1, sizeof(*in));
	in->px = px;
	in->req = req;
	in->snap = snapshot_ref(px->snap);
	in->start_ms = clock_now_ms(px->clock);
	in->start_ns = clock_real_ns();
	in->stage = IN_ROUTE;
	TAILQ_INSERT_TAIL(&px->inbound, in, entry);
	px->ninbound++;
	inbound_run(in);
}

const char *
proxy_inbound_stage_name(int stage)
{
	return stage >= 0 && stage < IN_NSTAGES ? stages[stage].name : "-";
}

/*
 * proxy_gateway.c - the gateway role: a verified search from a BAP goes to
 * every BPP the registry lists for its domain.
 *
 * The exact body is forwarded with the BAP's Authorization kept and the
 * gateway's own X-Gateway-Authorization added (signed over the same
 * digest).  The fan-out is prepared (targets listed, header signed)
 * before the BAP's message is accepted and sent only after the ACK was
 * decided, so a refused search leaves nothing behind.  A BPP counts as
 * reached only when it answers 2xx with message.ack.status "ACK"; a NACK,
 * another status or a body that is not a Beckn ACK is a failure, logged
 * and counted, and never holds up the others.  The fan-out owns the body
 * until the last BPP has answered.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_client.h"
#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "sig/sig.h"
#include "store/store.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct fanout_target {
	struct fanout		*fo;
	char			*url;
	char			*bpp;		/* its subscriber id */
	struct http_client_req	*hreq;
};

struct fanout {
	TAILQ_ENTRY(fanout)	 entry;
	struct proxy		*px;
	struct http_client	*http;		/* the gateway's slice */
	char			*body;
	size_t			 len;
	char			*auth_hdr;
	char			*gw_hdr;
	char			*message_id;
	/* For the journal: */
	char			*gw_id_copy;
	char			*transaction_id;
	char			*domain;
	int64_t			 sent_ms;
	int64_t			 sent_ns;	/* real time */
	json_object		*parsed;	/* the search: telemetry */
	struct fanout_target	*t;
	size_t			 nt;
	size_t			 npending;
	size_t			 nfailed;
};

static void
fanout_free(struct fanout *fo)
{
	size_t	 i;

	for (i = 0; i < fo->nt; i++) {
		if (fo->t[i].hreq != NULL)
			http_client_cancel(fo->t[i].hreq);
		free(fo->t[i].url);
		free(fo->t[i].bpp);
	}
	free(fo->t);
	/* The body came with its memory-budget charge (see dispatch). */
	if (fo->body != NULL)
		budget_give(&fo->px->budget, fo->len);
	free(fo->body);
	free(fo->auth_hdr);
	free(fo->gw_hdr);
	free(fo->message_id);
	free(fo->transaction_id);
	free(fo->domain);
	free(fo->gw_id_copy);
	json_object_put(fo->parsed);
	TAILQ_REMOVE(&fo->px->fanouts, fo, entry);
	fo->px->nfanouts--;
	free(fo);
}

void
gateway_abort_all(struct proxy *px)
{
	struct fanout	*fo;

	while ((fo = TAILQ_FIRST(&px->fanouts)) != NULL)
		fanout_free(fo);
}

void
gateway_cancel(struct fanout *fo)
{
	if (fo != NULL)
		fanout_free(fo);
}

/*
 * The search as sent to one BPP, with its answer: into the journal,
 * counted and reported.
 */
static void
journal_forward(const struct fanout_target *t,
    const struct http_client_response *resp, const struct beckn_reply *r)
{
	const struct fanout	*fo = t->fo;
	struct store_msg	 m;
	struct observed		 o;

	memset(&m, 0, sizeof(m));
	m.direction = "out";
	m.participant = fo->gw_id_copy;
	m.role = beckn_role_type(BECKN_ROLE_GATEWAY);
	m.peer = t->bpp;
	m.action = "search";
	m.domain = fo->domain;
	m.transaction_id = fo->transaction_id;
	m.message_id = strcmp(fo->message_id, "-") != 0 ? fo->message_id :
	    NULL;
	if (resp->error == HTTPC_OK) {
		m.http_status = (int)resp->status;
		if (r->status == BECKN_REPLY_ACK && resp->status >= 200 &&
		    resp->status <= 299)
			m.ack = "ACK";
		else if (r->status != BECKN_REPLY_NONE) {
			m.ack = "NACK";
			m.error_code = r->code;
			m.error_message = r->message;
		} else
			m.error_message = "no Beckn ACK";
	} else
		m.error_message = resp->errstr != NULL ? resp->errstr :
		    http_client_error_name(resp->error);
	m.start_ms = fo->sent_ms;
	m.end_ms = clock_now_ms(fo->px->clock);
	m.body = fo->body;
	m.len = fo->len;
	if (fo->px->store != NULL)
		store_put(fo->px->store, &m, NULL, NULL);
	memset(&o, 0, sizeof(o));
	o.m = &m;
	o.body = fo->parsed;
	o.start_ns = fo->sent_ns;
	o.end_ns = clock_real_ns();
	if (m.ack != NULL && strcmp(m.ack, "NACK") == 0)
		o.err_type = r->type != NULL ? r->type : "CORE-ERROR";
	else if (m.ack == NULL)
		o.err_type = "NETWORK-ERROR";
	o.url = t->url;
	o.recipient = t->bpp;
	o.recipient_uri = t->url;
	observe_message(fo->px, &o);
}

static void
forwarded(const struct http_client_response *resp, void *arg)
{
	struct fanout_target	*t = arg;
	struct fanout		*fo = t->fo;
	struct beckn_reply	 r;

	t->hreq = NULL;
	memset(&r, 0, sizeof(r));
	if (resp->error == HTTPC_OK)
		beckn_reply_parse(resp->body, resp->len, &r);
	journal_forward(t, resp, &r);
	if (resp->error != HTTPC_OK) {
		fo->nfailed++;
		fo->px->stats.gateway_failed++;
		log_warn("gateway: search %s to %s: %s (%s)", fo->message_id,
		    t->url, http_client_error_name(resp->error),
		    resp->errstr != NULL ? resp->errstr : "");
	} else if (r.status != BECKN_REPLY_ACK || resp->status < 200 ||
	    resp->status > 299) {
		fo->nfailed++;
		fo->px->stats.gateway_failed++;
		log_warn("gateway: search %s to %s: HTTP %ld, %s%s%s",
		    fo->message_id, t->url, resp->status,
		    r.status == BECKN_REPLY_NACK ? "NACK" :
		    r.status == BECKN_REPLY_ACK ? "ACK with a non-2xx status" :
		    "no Beckn ACK", r.message != NULL ? ": " : "",
		    r.message != NULL ? r.message : "");
	} else
		fo->px->stats.gateway_forwarded++;
	beckn_reply_clear(&r);
	if (--fo->npending > 0)
		return;
	log_info("gateway: search %s forwarded to %zu BPP%s, %zu failed",
	    fo->message_id, fo->nt, fo->nt == 1 ? "" : "s", fo->nfailed);
	fanout_free(fo);
}

struct fanout *
gateway_prepare(struct proxy *px, const struct conf_participant *gw,
    struct registry_record *const *bpps, size_t nbpps,
    const char *auth_value, const char *digest, const char *message_id,
    const char *transaction_id, const char *domain, const struct conf *c)
{
	struct fanout		*fo;
	struct fanout_target	*t;
	char			*sig;
	int64_t			 now = clock_now_s(px->clock);
	size_t			 i, n;

	/* The body is signed through its digest: no bytes needed yet. */
	sig = sig_sign_header(gw->key, gw->subscriber_id, gw->key_id, now,
	    now + c->signature_ttl_ms / 1000, "", 0, digest);
	if (sig == NULL)
		return NULL;
	fo = xcalloc(1, sizeof(*fo));
	fo->px = px;
	fo->http = proxy_peer_http(px, gw);
	xasprintf(&fo->auth_hdr, "Authorization: %s", auth_value);
	xasprintf(&fo->gw_hdr, "X-Gateway-Authorization: %s", sig);
	free(sig);
	fo->message_id = xstrdup(message_id != NULL ? message_id : "-");
	fo->gw_id_copy = xstrdup(gw->subscriber_id);
	if (transaction_id != NULL)
		fo->transaction_id = xstrdup(transaction_id);
	if (domain != NULL)
		fo->domain = xstrdup(domain);
	fo->t = xcalloc(nbpps > 0 ? nbpps : 1, sizeof(*fo->t));
	for (i = 0; i < nbpps; i++) {
		if (bpps[i]->url == NULL)
			continue;
		t = &fo->t[fo->nt++];
		t->fo = fo;
		n = strlen(bpps[i]->url);
		while (n > 0 && bpps[i]->url[n - 1] == '/')
			n--;
		xasprintf(&t->url, "%.*s/search", (int)n, bpps[i]->url);
		t->bpp = xstrdup(bpps[i]->subscriber_id);
	}
	TAILQ_INSERT_TAIL(&px->fanouts, fo, entry);
	px->nfanouts++;
	return fo;
}

void
gateway_dispatch(struct fanout *fo, char *body, size_t len,
    json_object *parsed)
{
	const char	*hdrs[4];
	size_t		 i;

	fo->body = body;
	fo->len = len;
	fo->parsed = json_object_get(parsed);
	if (fo->nt == 0) {
		log_warn("gateway: search %s: no BPP is registered for the "
		    "domain", fo->message_id);
		fanout_free(fo);
		return;
	}
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = fo->auth_hdr;
	hdrs[2] = fo->gw_hdr;
	hdrs[3] = NULL;
	fo->npending = fo->nt;
	fo->sent_ms = clock_now_ms(fo->px->clock);
	fo->sent_ns = clock_real_ns();
	for (i = 0; i < fo->nt; i++)
		fo->t[i].hreq = http_client_post(fo->http, fo->t[i].url,
		    hdrs, fo->body, fo->len, 0, forwarded, &fo->t[i]);
}

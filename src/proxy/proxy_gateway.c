/*
 * proxy_gateway.c - the gateway role: a verified search from a BAP goes to
 * every BPP the registry lists for its domain.
 *
 * The exact body is forwarded with the BAP's Authorization kept and the
 * gateway's own X-Gateway-Authorization added (signed over the same
 * digest).  The BAP is ACKed once the requests are dispatched; a BPP that
 * fails is logged and counted and never holds up the others.  The fan-out
 * owns the body until the last BPP has answered.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_client.h"
#include "proxy/proxy.h"
#include "registry/registry.h"
#include "sig/sig.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct fanout_target {
	struct fanout		*fo;
	char			*url;
	struct http_client_req	*hreq;
};

struct fanout {
	TAILQ_ENTRY(fanout)	 entry;
	struct proxy		*px;
	char			*body;
	size_t			 len;
	char			*auth_hdr;
	char			*gw_hdr;
	char			*message_id;
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
	}
	free(fo->t);
	free(fo->body);
	free(fo->auth_hdr);
	free(fo->gw_hdr);
	free(fo->message_id);
	TAILQ_REMOVE(&fo->px->fanouts, fo, entry);
	fo->px->nfanouts--;
	free(fo);
}

void
proxy_gateway_abort_all(struct proxy *px)
{
	struct fanout	*fo;

	while ((fo = TAILQ_FIRST(&px->fanouts)) != NULL)
		fanout_free(fo);
}

static void
forwarded(const struct http_client_response *resp, void *arg)
{
	struct fanout_target	*t = arg;
	struct fanout		*fo = t->fo;
	const char		*ack;

	t->hreq = NULL;
	ack = resp->error == HTTPC_OK && resp->status >= 200 &&
	    resp->status < 300 && strstr(resp->body, "\"ACK\"") != NULL ?
	    "ACK" : NULL;
	if (ack == NULL) {
		fo->nfailed++;
		fo->px->stats.gateway_failed++;
		if (resp->error != HTTPC_OK)
			log_warn("gateway: search %s to %s: %s (%s)",
			    fo->message_id, t->url,
			    http_client_error_name(resp->error),
			    resp->errstr != NULL ? resp->errstr : "");
		else
			log_warn("gateway: search %s to %s: HTTP %ld, no ACK",
			    fo->message_id, t->url, resp->status);
	} else
		fo->px->stats.gateway_forwarded++;
	if (--fo->npending > 0)
		return;
	log_info("gateway: search %s forwarded to %zu BPP%s, %zu failed",
	    fo->message_id, fo->nt, fo->nt == 1 ? "" : "s", fo->nfailed);
	fanout_free(fo);
}

int
proxy_gateway_forward(struct proxy *px, const struct conf_participant *gw,
    const struct registry_result *bpps, const char *auth_value,
    char *body, size_t len, const char *digest, const char *message_id)
{
	struct fanout		*fo;
	struct fanout_target	*t;
	const char		*hdrs[4];
	char			*sig;
	int64_t			 now = clock_now_s(px->clock);
	size_t			 i, n;

	sig = sig_sign_header(gw->key, gw->subscriber_id, gw->key_id, now,
	    now + px->conf->signature_ttl_ms / 1000, body, len, digest);
	if (sig == NULL) {
		free(body);
		return -1;
	}
	fo = xcalloc(1, sizeof(*fo));
	fo->px = px;
	fo->body = body;
	fo->len = len;
	xasprintf(&fo->auth_hdr, "Authorization: %s", auth_value);
	xasprintf(&fo->gw_hdr, "X-Gateway-Authorization: %s", sig);
	free(sig);
	fo->message_id = xstrdup(message_id != NULL ? message_id : "-");
	fo->t = xcalloc(bpps->nrecords > 0 ? bpps->nrecords : 1,
	    sizeof(*fo->t));
	for (i = 0; i < bpps->nrecords; i++) {
		if (bpps->records[i]->url == NULL)
			continue;
		t = &fo->t[fo->nt++];
		t->fo = fo;
		n = strlen(bpps->records[i]->url);
		while (n > 0 && bpps->records[i]->url[n - 1] == '/')
			n--;
		xasprintf(&t->url, "%.*s/search", (int)n,
		    bpps->records[i]->url);
	}
	TAILQ_INSERT_TAIL(&px->fanouts, fo, entry);
	px->nfanouts++;
	if (fo->nt == 0) {
		log_warn("gateway: search %s: no BPP is registered for the "
		    "domain", fo->message_id);
		fanout_free(fo);
		return 0;
	}
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = fo->auth_hdr;
	hdrs[2] = fo->gw_hdr;
	hdrs[3] = NULL;
	fo->npending = fo->nt;
	for (i = 0; i < fo->nt; i++)
		fo->t[i].hreq = http_client_post(px->http, fo->t[i].url, hdrs,
		    fo->body, fo->len, 0, forwarded, &fo->t[i]);
	return 0;
}

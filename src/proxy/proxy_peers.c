/*
 * proxy_peers.c - one outbound HTTP client per participant for its calls
 * to peers and gateways, so that one tenant's slow or flooded peers use up
 * only that tenant's connections and queue, never another's.  (Webhook
 * deliveries have their own per-participant slices in src/deliver.)
 *
 * Clients are made on a participant's first call and live until
 * proxy_free(); a reload gives every one the new settings.  A leaf: it
 * calls nothing else in src/proxy.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "net/http_client.h"
#include "proxy/proxy_int.h"
#include "util/xmalloc.h"

struct peer_slice {
	enum beckn_role		 role;
	char			*subscriber_id;
	struct http_client	*http;
};

struct http_client *
proxy_peer_http(struct proxy *px, const struct conf_participant *p)
{
	struct peer_slice	*ps;
	size_t			 i;

	/* A few participants at most: a scan, no allocation per call. */
	for (i = 0; i < px->npeers; i++)
		if (px->peers[i].role == p->role &&
		    strcmp(px->peers[i].subscriber_id, p->subscriber_id) == 0)
			return px->peers[i].http;
	px->peers = xreallocarray(px->peers, px->npeers + 1,
	    sizeof(*px->peers));
	ps = &px->peers[px->npeers++];
	ps->role = p->role;
	ps->subscriber_id = xstrdup(p->subscriber_id);
	ps->http = http_client_new(px->base, &px->peer_conf);
	return ps->http;
}

void
proxy_peers_reconfigure(struct proxy *px)
{
	size_t	 i;

	for (i = 0; i < px->npeers; i++)
		http_client_reconfigure(px->peers[i].http, &px->peer_conf);
}

void
proxy_peers_free(struct proxy *px)
{
	size_t	 i;

	for (i = 0; i < px->npeers; i++) {
		http_client_free(px->peers[i].http);
		free(px->peers[i].subscriber_id);
	}
	free(px->peers);
	px->peers = NULL;
	px->npeers = 0;
}

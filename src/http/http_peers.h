/*
 * http_peers.h - open connections counted per client address, for the
 * server's per-client connection limit.
 *
 * Addresses are compared as 16 bytes: IPv4 and IPv4-mapped IPv6 (as a
 * dual-stack listener sees IPv4 clients) count as the same client; other
 * IPv6 addresses count one by one.  The table is a hash keyed with a
 * per-table random SipHash key, so that clients choosing their addresses
 * (an IPv6 prefix holds many) cannot make it degrade; it grows and
 * shrinks with the number of distinct addresses.
 *
 * Threads: one event loop; not locked.
 */
#ifndef BECKND_HTTP_PEERS_H
#define BECKND_HTTP_PEERS_H

#include <stddef.h>

struct sockaddr;
struct http_peers;
struct http_peer;

struct http_peers *http_peers_new(void);
/* Every entry must have been removed. */
void		 http_peers_free(struct http_peers *);
/*
 * Count one more connection from sa, unless max > 0 and that address
 * already has max: then NULL.  The entry is what http_peers_remove()
 * takes back when the connection closes.
 */
struct http_peer *http_peers_add(struct http_peers *, const struct sockaddr *,
		    int max);
void		 http_peers_remove(struct http_peers *, struct http_peer *);
/* Connections counted for sa (tests). */
int		 http_peers_count(const struct http_peers *,
		    const struct sockaddr *);
/* Distinct addresses with a connection (tests). */
size_t		 http_peers_size(const struct http_peers *);

#endif

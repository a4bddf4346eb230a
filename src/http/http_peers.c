/*
 * http_peers.c - connection counts per client address (see http_peers.h).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "http/http_peers.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

#define NB_MIN	64

struct http_peer {
	struct http_peer	*next;
	uint64_t		 hash;
	uint8_t			 addr[16];
	int			 n;
};

struct http_peers {
	struct http_peer	**b;
	size_t			 nb;	/* a power of two */
	size_t			 n;	/* entries */
	struct siphash_key	 key;
};

/* The 16-byte key of an address: IPv4 as ::ffff:a.b.c.d. */
static void
addr_key(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr,
		    4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

struct http_peers *
http_peers_new(void)
{
	struct http_peers	*t;

	t = xcalloc(1, sizeof(*t));
	t->nb = NB_MIN;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	evutil_secure_rng_get_bytes(&t->key, sizeof(t->key));
	return t;
}

void
http_peers_free(struct http_peers *t)
{
	struct http_peer	*p;
	size_t			 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nb; i++)
		while ((p = t->b[i]) != NULL) {
			t->b[i] = p->next;
			free(p);
		}
	free(t->b);
	free(t);
}

static void
rehash(struct http_peers *t, size_t nb)
{
	struct http_peer	**b, *p;
	size_t			 i;

	b = xcalloc(nb, sizeof(*b));
	for (i = 0; i < t->nb; i++)
		while ((p = t->b[i]) != NULL) {
			t->b[i] = p->next;
			p->next = b[p->hash & (nb - 1)];
			b[p->hash & (nb - 1)] = p;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static struct http_peer *
lookup(const struct http_peers *t, const uint8_t key[16], uint64_t h)
{
	struct http_peer	*p;

	for (p = t->b[h & (t->nb - 1)]; p != NULL; p = p->next)
		if (p->hash == h && memcmp(p->addr, key, 16) == 0)
			return p;
	return NULL;
}

struct http_peer *
http_peers_add(struct http_peers *t, const struct sockaddr *sa, int max)
{
	struct http_peer	*p;
	uint8_t			 key[16];
	uint64_t		 h;

	addr_key(sa, key);
	h = siphash24(&t->key, key, 16);
	if ((p = lookup(t, key, h)) == NULL) {
		if (t->n >= t->nb)
			rehash(t, t->nb * 2);
		p = xcalloc(1, sizeof(*p));
		p->hash = h;
		memcpy(p->addr, key, 16);
		p->next = t->b[h & (t->nb - 1)];
		t->b[h & (t->nb - 1)] = p;
		t->n++;
	} else if (max > 0 && p->n >= max)
		return NULL;
	p->n++;
	return p;
}

void
http_peers_remove(struct http_peers *t, struct http_peer *p)
{
	struct http_peer	**pp;

	if (--p->n > 0)
		return;
	for (pp = &t->b[p->hash & (t->nb - 1)]; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	free(p);
	t->n--;
	if (t->nb > NB_MIN && t->n < t->nb / 8)
		rehash(t, t->nb / 2);
}

int
http_peers_count(const struct http_peers *t, const struct sockaddr *sa)
{
	struct http_peer	*p;
	uint8_t			 key[16];

	addr_key(sa, key);
	p = lookup(t, key, siphash24(&t->key, key, 16));
	return p != NULL ? p->n : 0;
}

size_t
http_peers_size(const struct http_peers *t)
{
	return t->n;
}

/*
 * registry_cache.c - chained hash table plus an LRU list.
 *
 * The keys name subscribers and key ids that anyone may send us, so the
 * hash is SipHash under a random per-table key: nobody outside the
 * process can aim keys at one bucket.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry_cache.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

struct centry {
	char			*key;
	uint64_t		 hash;
	void			*val;
	struct centry		*next;		/* bucket chain */
	TAILQ_ENTRY(centry)	 lru;		/* head: most recent */
};

TAILQ_HEAD(centry_list, centry);

struct registry_cache {
	struct centry		**buckets;
	size_t			 nbuckets;	/* power of two */
	size_t			 count;
	size_t			 max;
	struct centry_list	 lru;
	void			(*release)(void *);
	struct siphash_key	 key;
};

static uint64_t
hash_str(const struct registry_cache *c, const char *s)
{
	return siphash24(&c->key, s, strlen(s));
}

struct registry_cache *
registry_cache_new(size_t max, void (*release)(void *))
{
	struct registry_cache	*c;

	c = xcalloc(1, sizeof(*c));
	c->max = max == 0 ? 1 : max;
	c->nbuckets = 64;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	c->release = release;
	if (siphash_key_random(&c->key) != 0) {
		c->key.k[0] = (uint64_t)time(NULL);
		c->key.k[1] = (uint64_t)(uintptr_t)c;
	}
	TAILQ_INIT(&c->lru);
	return c;
}

static struct centry **
find(struct registry_cache *c, const char *key, uint64_t h)
{
	struct centry	**pp;

	for (pp = &c->buckets[h & (c->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

static void
unlink_free(struct registry_cache *c, struct centry **pp)
{
	struct centry	*e = *pp;

	*pp = e->next;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->count--;
	if (c->release != NULL)
		c->release(e->val);
	free(e->key);
	free(e);
}

static void
grow(struct registry_cache *c)
{
	struct centry	**nb, *e, *next;
	size_t		 n = c->nbuckets * 2, i;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < c->nbuckets; i++)
		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

void *
registry_cache_get(struct registry_cache *c, const char *key)
{
	struct centry	*e = *find(c, key, hash_str(c, key));

	if (e == NULL)
		return NULL;
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	return e->val;
}

void
registry_cache_put(struct registry_cache *c, const char *key, void *val)
{
	uint64_t	 h = hash_str(c, key);
	struct centry	**pp = find(c, key, h), *e;

	if ((e = *pp) != NULL) {
		if (c->release != NULL && e->val != val)
			c->release(e->val);
		e->val = val;
		TAILQ_REMOVE(&c->lru, e, lru);
		TAILQ_INSERT_HEAD(&c->lru, e, lru);
		return;
	}
	while (c->count >= c->max) {
		e = TAILQ_LAST(&c->lru, centry_list);
		unlink_free(c, find(c, e->key, e->hash));
	}
	if (c->count >= c->nbuckets && c->nbuckets < ((size_t)1 << 30))
		grow(c);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->hash = h;
	e->val = val;
	pp = &c->buckets[h & (c->nbuckets - 1)];
	e->next = *pp;
	*pp = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->count++;
}

void
registry_cache_del(struct registry_cache *c, const char *key)
{
	struct centry	**pp = find(c, key, hash_str(c, key));

	if (*pp != NULL)
		unlink_free(c, pp);
}

size_t
registry_cache_count(const struct registry_cache *c)
{
	return c->count;
}

void
registry_cache_free(struct registry_cache *c)
{
	struct centry	*e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL)
		unlink_free(c, find(c, e->key, e->hash));
	free(c->buckets);
	free(c);
}

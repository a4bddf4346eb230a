/*
 * registry_cache.h - a bounded LRU map from string keys to refcounted
 * answers.
 *
 * Internal to src/registry.  Kept behind this small interface so that a
 * future multi-loop daemon can put a lock around it or move it to a shared
 * store.  The cache knows nothing about time: the caller stores expiry in
 * the value and decides; the cache only bounds memory (least recently
 * used entries are evicted beyond max entries).
 *
 * Ownership: put() takes over the caller's reference to val; the cache
 * calls release(val) on replacement, deletion, eviction and free.  get()
 * returns a borrowed pointer valid until the next put/del/free.
 */
#ifndef BECKND_REGISTRY_CACHE_H
#define BECKND_REGISTRY_CACHE_H

#include <stddef.h>

struct registry_cache;

struct registry_cache	*registry_cache_new(size_t max, void (*release)(void *));
void			 registry_cache_free(struct registry_cache *);
/* NULL when absent; a hit becomes the most recently used entry. */
void			*registry_cache_get(struct registry_cache *,
			    const char *key);
void			 registry_cache_put(struct registry_cache *,
			    const char *key, void *val);
void			 registry_cache_del(struct registry_cache *,
			    const char *key);
size_t			 registry_cache_count(const struct registry_cache *);

#endif

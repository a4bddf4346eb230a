/*
 * registry_server.h - serve a file registry as a Beckn registry's
 * POST /lookup, so that a private or local network needs no external
 * registry (listen.registry).
 *
 * The answer is the JSON array of the file's records matching the filter
 * (subscriber_id, type, domain, and the key id under any of the names
 * ukId, unique_key_id, key_id, pub_key_id), each record exactly as the
 * file has it.  Unknown filter keys are ignored.  Usability (status,
 * validity) is the client's call, as with any registry.
 *
 * Ownership: the server owns its copy of the records; registry_server_
 * reload() swaps them (SIGHUP) and keeps the old ones on error.
 */
#ifndef BECKND_REGISTRY_SERVER_H
#define BECKND_REGISTRY_SERVER_H

#include <stddef.h>

struct event_base;
struct http_server_conf;
struct registry_server;

struct registry_server	*registry_server_new(struct event_base *,
			    const char *hostport, const char *file,
			    const struct http_server_conf *, char *err,
			    size_t errlen);
int			 registry_server_reload(struct registry_server *,
			    char *err, size_t errlen);
int			 registry_server_port(const struct registry_server *);
void			 registry_server_free(struct registry_server *);

#endif

/*
 * lookup_server.h - serve a file registry as a Beckn registry's
 * POST /lookup, so that a private or local network needs no external
 * registry (listen.registry).
 *
 * The answer is the JSON array of the file's records that the filter
 * matches, by the rule becknd's own registry client applies
 * (registry_record_check() in registry.h): subscriber_id, type
 * (case-insensitively), domain (a record without one covers every
 * domain), and the key id under any of the names ukId, unique_key_id,
 * key_id, pub_key_id (a record without one matches any).  Each record is
 * sent with every member the file gives it, in the file's order.  Unknown
 * filter keys are ignored; a filter value that is neither a string nor
 * null is 400.  Usability (status, validity) is the client's call, as
 * with any registry: matching records are answered whatever their status.
 *
 * Ownership: the server holds a reference to its records (parsed once by
 * the registry client's file loader, registry_records(), so a reload reads
 * the file once); lookup_server_set_records() swaps them (SIGHUP).
 */
#ifndef BECKND_LOOKUP_SERVER_H
#define BECKND_LOOKUP_SERVER_H

#include <stddef.h>

struct event_base;
struct http_server_conf;
struct lookup_server;
struct registry_recset;

/*
 * Listen on hostport ("host:port"; port 0: any free port) and serve recs
 * (a reference is taken).  The HTTP limits are copied.  NULL and a reason
 * in err.
 */
struct lookup_server	*lookup_server_new(struct event_base *,
			    const char *hostport, struct registry_recset *recs,
			    const struct http_server_conf *, char *err,
			    size_t errlen);
/* Serve recs (a reference is taken) from the next request on. */
void			 lookup_server_set_records(struct lookup_server *,
			    struct registry_recset *recs);
/* New HTTP limits for the next request read. */
void			 lookup_server_reconfigure(struct lookup_server *,
			    const struct http_server_conf *);
int			 lookup_server_port(const struct lookup_server *);
void			 lookup_server_free(struct lookup_server *);

#endif

/*
 * admin_server.h - the admin API (listen.admin): the journal database
 * read over HTTP by operators and dashboards, and dead letters sent again.
 *
 * Routes (answers JSON, exactly the store_query_* objects written with
 * STORE_JSON_FLAGS as the CLI writes them, unless said):
 *   GET  /api/transactions?FILTER          store_query_transactions()
 *   GET  /api/transactions/ID              store_query_transaction()
 *   GET  /api/messages?FILTER[&bodies=1]   store_query_messages()
 *   GET  /api/messages/ID                  store_query_message()
 *   GET  /api/export?format=csv|jsonl&FILTER
 *        store_export(): text/csv; charset=utf-8 or application/x-ndjson,
 *        as an attachment (becknd-export.csv, becknd-export.jsonl)
 *   POST /api/deliveries/ID/redeliver      store_requeue(): 202
 *        {"requeued":"ID"}; the daemon's store writer picks the row up
 *        within about a second
 * FILTER is read by store_filter_parse_query() (transaction, order,
 * action, status, since, until, limit, after, ...); "format" and
 * "bodies" (0 or 1) are the API's own and are taken out first.  ID is one
 * path segment, %-decoded (a bad escape or %00 is 400).
 *
 * Errors are {"error":"..."}: 400 (a bad filter names the parameter),
 * 401 (token; WWW-Authenticate: Bearer realm="becknd"), 404 (no such
 * route, id or dead letter), 405 (Allow names the method), 409 (a
 * delivery that is not dead or refused, a message id with several), 413
 * (an export over the cap: narrow the filter or use `becknd journal
 * export`), 500 (the store cannot be read: the reason), 503 (Retry-After:
 * 1; too many queries waiting).  Every answer says Cache-Control:
 * no-store.
 *
 * Token: when one is set, every request (but the routes added with
 * ADMIN_ROUTE_OPEN) needs "Authorization: Bearer TOKEN", compared in
 * constant time (SHA-256 digests, CRYPTO_memcmp); only the digest is
 * kept.  Whether a token is required is the configuration's call.
 *
 * Threads: the event loop never touches the database.  Queries run one at
 * a time on one reader thread, which opens its own store_reader on its
 * first query and again after any failure (so a store that appears or is
 * repaired later is read); the queue is bounded (64 queries accepted and
 * not yet answered).  An answer comes back to the loop through a pipe;
 * the request stays with this module until then (http_server.h: it is
 * never freed under us), and is dropped unanswered when its client has
 * gone.  An export is built whole on the thread, up to 64 MiB.
 */
#ifndef BECKND_ADMIN_SERVER_H
#define BECKND_ADMIN_SERVER_H

#include <stddef.h>

#include "http/http_server.h"

struct event_base;
struct admin_server;

/*
 * Listen on hostport ("host:port"; port 0: any free port), serving the
 * store at store_path (read by path: the file need not exist yet, its
 * queries are 500 until it does; NULL: store off, every /api/ route is
 * 404 saying so).  token NULL: none.  NULL and a reason
 * in err.
 */
struct admin_server	*admin_server_new(struct event_base *,
			    const char *hostport, const char *token,
			    const char *store_path, char *err, size_t errlen);
/* From the next request on (SIGHUP); NULL or "": no token. */
void			 admin_server_set_token(struct admin_server *,
			    const char *token);

/* A route that needs no token (health probes). */
#define ADMIN_ROUTE_OPEN	0x1

/*
 * Serve the exact path (no query; "/" included) with handler, on the
 * loop, whatever the method: the handler answers as http_server.h says
 * (http_reply() exactly once) and checks the method itself.  Added
 * routes are matched before the API's and need the token unless flags
 * has ADMIN_ROUTE_OPEN.  0, or -1 when path does not start with '/' or is
 * already routed.
 */
int			 admin_server_route(struct admin_server *,
			    const char *path, int flags, http_handler,
			    void *arg);

int			 admin_server_port(const struct admin_server *);
/*
 * Stop: the reader thread finishes the query it runs (a query cannot be
 * interrupted) and is joined; requests not answered yet are dropped
 * (their connections close); everything is freed.  NULL: nothing.
 */
void			 admin_server_free(struct admin_server *);

/*
 * Tests: the queue bound (default 64) and the export cap in bytes
 * (default 64 MiB) for the next queries; 0 leaves one as it is.
 */
void			 admin_server_set_limits(struct admin_server *,
			    size_t queries, size_t export_max);

#endif

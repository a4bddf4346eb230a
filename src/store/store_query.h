/*
 * store_query.h - the read side of the journal: queries for the CLI
 * (`becknd journal`) and the admin API, exports, and re-queueing a dead
 * letter.
 *
 * A reader is a read-only connection to the store file; it reads while
 * the daemon writes (WAL) and never blocks it.  One thread at a time may
 * use a reader.
 *
 * The row JSON is a contract shared by `becknd journal --json`, the admin
 * API and `export --format jsonl`; it is built by one function, and the
 * texts are serialised with STORE_JSON_FLAGS:
 *
 *   {"id":N, "direction":"in"|"out", "participant":S, "role":S|null,
 *    "peer":S|null, "action":S, "domain":S|null, "transaction_id":S|null,
 *    "message_id":S|null, "order_id":S|null, "state_code":S|null,
 *    "http_status":N|null, "ack":"ACK"|"NACK"|null, "error_code":S|null,
 *    "error_message":S|null, "start":T, "end":T|null, "latency_ms":N|null,
 *    "delivery":{"id":S, "state":S|null, "attempts":N, "last_error":S|null,
 *                "at":T|null} | null,
 *    "body":S|null}
 *
 * T is RFC 3339 UTC with milliseconds ("2026-11-30T01:02:03.456Z").
 * "delivery" is null for a row without a webhook delivery (every 'out'
 * row).  "body" is present only when bodies are asked for: the raw bytes
 * as a JSON string, or null when they were not kept (store.bodies: none).
 * A body that is not valid UTF-8 (never the case for a message becknd
 * accepted) has each ill-formed byte replaced by U+FFFD.
 */
#ifndef BECKND_STORE_QUERY_H
#define BECKND_STORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* How every store_query_* object is written out (CLI, API, jsonl). */
#define STORE_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#define STORE_LIMIT_DEFAULT	100
#define STORE_LIMIT_MAX		1000

/* "2026-11-30T01:02:03.456Z" and its NUL. */
#define STORE_TIME_SIZE		25

struct store_reader;

/*
 * Open the store at path read-only (busy timeout 5 s).  A missing file,
 * one that is not becknd's, corrupt, newer or older than this becknd's
 * schema: NULL and err "PATH: reason".
 */
struct store_reader *store_reader_open(const char *path, char *err,
		    size_t errlen);
void		 store_reader_close(struct store_reader *);	/* NULL: none */

/*
 * Which rows.  Zero everywhere (`struct store_filter f = { 0 };`) is every
 * row, first page.  Strings are matched exactly; NULL: any.
 *   status: ACK or NACK (the answer: ours to a received message, the
 *       peer's to a sent one), queued (also 'requeue'), delivered,
 *       refused or dead (the webhook delivery of a received message).
 *   direction: in or out.
 *   since_ms <= start < until_ms (unix ms, 0: no bound).
 *   after: a cursor, the "next" of the previous page (0: the first page).
 *       Messages and exports: rows with id > after.  Transactions (newest
 *       first): those whose last matching message id is < after.
 *   limit: rows (transactions) per page, 1 to STORE_LIMIT_MAX, 0: the
 *       default STORE_LIMIT_DEFAULT.  Exports: 0 is every row, any
 *       positive number is honoured.
 *   format: set by store_filter_parse_query() from "format=" (the export
 *       endpoint's own parameter); the queries ignore it.
 */
struct store_filter {
	const char	*transaction_id, *message_id, *order_id, *action,
			*status, *participant, *domain, *peer, *direction;
	int64_t		 since_ms, until_ms;
	int64_t		 after;
	int		 limit;
	const char	*format;
};

/*
 * {"messages":[row...], "next":N|null}: matching rows by id, "next" the
 * last id shown when more rows match (pass it as after), else null.
 * bodies: 1 to include "body".  NULL and err on failure (an invalid
 * filter value names the filter: "status must be ...").
 */
json_object	*store_query_messages(struct store_reader *,
		    const struct store_filter *, int bodies, char *err,
		    size_t errlen);

/*
 * {"transactions":[{"transaction_id":S, "domain":S|null,
 *   "participant":S, "first":T, "last":T, "messages":N,
 *   "actions":[S...], "order_id":S|null, "state_code":S|null,
 *   "last_action":S, "nacks":N}...], "next":N|null}
 * Rows with a transaction_id that match the filter, grouped by
 * transaction_id, newest first (by the last matching row).  The summary
 * covers the matching rows: first and last their start times, actions
 * every row's action in journal order (repeats kept), domain and
 * participant those of the first row, order_id and state_code the latest
 * non-null ones, nacks the rows answered NACK.  "next" as for messages.
 */
json_object	*store_query_transactions(struct store_reader *,
		    const struct store_filter *, char *err, size_t errlen);

/*
 * {"transaction_id":ID, "messages":[row with body...]} every row of the
 * transaction, by id; {"message_id":ID, "messages":[...]} every row with
 * that message_id (a request and its callback share one).  NULL and err
 * on failure; when there is no such row errno is ENOENT and err
 * "transaction ID not found" ("message ID not found"), else errno is EIO.
 */
json_object	*store_query_transaction(struct store_reader *, const char *id,
		    char *err, size_t errlen);
json_object	*store_query_message(struct store_reader *, const char *id,
		    char *err, size_t errlen);

/*
 * Stream the matching rows by id, one at a time (never the whole result
 * in memory), through write (0, or -1 to stop: store_export then fails
 * with err "write failed").  format:
 *   "csv": a header line, then one line per row, RFC 4180 (CRLF line
 *       ends; a field holding , " CR or LF is quoted, " doubled), no
 *       bodies.  Columns: id, direction, participant, role, peer, action,
 *       domain, transaction_id, message_id, order_id, state_code,
 *       http_status, ack, error_code, error_message, start, end,
 *       latency_ms, delivery_id, delivery_state, attempts, last_error
 *       (null: empty).  A text field starting with = + - @ TAB or CR gets
 *       a ' in front, so that a spreadsheet does not run it as a formula
 *       (the OWASP "CSV injection" advice).
 *   "jsonl": one row JSON with its body per line (LF).
 * -1 and err on failure (an unknown format, an invalid filter).
 */
int		 store_export(struct store_reader *,
		    const struct store_filter *, const char *format,
		    int (*write)(const char *, size_t, void *), void *arg,
		    char *err, size_t errlen);

/*
 * Fill f from a URL query string (no '?'), e.g.
 * "transaction=T&status=NACK&since=2026-11-30T00:00:00Z&limit=50".
 * Parameters: transaction, message, order, action, status, participant,
 * domain, peer, direction, since, until (RFC 3339 or unix ms), after,
 * limit, format.  Values are %-decoded ('+' is a space) in place in buf,
 * which f then points into.  f is cleared first.  -1 and err naming the
 * parameter for an unknown or repeated parameter, an empty, undecodable
 * or invalid value.
 */
int		 store_filter_parse_query(struct store_filter *f, char *buf,
		    char *err, size_t errlen);

/*
 * Time as the rows show it: RFC 3339 UTC with milliseconds.
 * store_time_parse() takes RFC 3339 (a 'Z' or an offset required,
 * fraction optional) or unix milliseconds (digits only): 0 or -1.
 */
void		 store_time_format(int64_t ms, char buf[STORE_TIME_SIZE]);
int		 store_time_parse(const char *s, int64_t *ms);

/*
 * Ask the daemon to deliver a dead (or refused) letter again: opens path
 * read-write and sets delivery_state 'requeue' on the row whose
 * delivery_id is id, or else on the one dead or refused row whose
 * message_id is id.  The daemon picks it up within a second (or at its
 * next start).  0, or -1 and err naming id ("no dead or refused delivery
 * with id X", "delivery X is delivered, not dead or refused", "message
 * X has 2 dead or refused deliveries: ...").
 */
int		 store_requeue(const char *path, const char *id, char *err,
		    size_t errlen);

#endif

/*
 * store_query.h - the read side of the journal database (the CLI and the
 * admin API).
 *
 * STAND-IN (wip/admin): the declarations below are the plan's
 * (plan/issue11.md, "src/store/store_query.h"); this file and
 * store_query.c are replaced at merge by the store engineer's version.
 */
#ifndef BECKND_STORE_QUERY_H
#define BECKND_STORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* How every store_query_* object is written out (CLI, API, jsonl); as
 * in the store engineer's header. */
#define STORE_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct store_reader;

/*
 * Read-only (SQLITE_OPEN_READONLY), busy_timeout 5 s; same foreign,
 * newer and corrupt checks as store_open, no migration.
 */
struct store_reader	*store_reader_open(const char *path, char *err,
			    size_t errlen);
void			 store_reader_close(struct store_reader *);

struct store_filter {
	const char	*transaction_id, *message_id, *order_id, *action,
			*status, *participant, *domain, *peer, *direction;
	int64_t		 since_ms, until_ms;	/* 0: none */
	int64_t		 after;		/* cursor: rows with id > after */
	int		 limit;		/* 1..1000, default 100 */
};

/*
 * {"messages":[row...], "next": id-or-null}; row JSON (the contract
 * shared by CLI --json, the API and export jsonl):
 * {"id":N,"direction":"in","participant":..,"role":..,"peer":..,
 *  "action":..,"domain":..,"transaction_id":..,"message_id":..,
 *  "order_id":..,"state_code":..,"http_status":200,"ack":"ACK",
 *  "error_code":null,"error_message":null,
 *  "start":"2026-11-30T01:02:03.456Z","end":..,"latency_ms":N|null,
 *  "delivery":{"id":..,"state":..,"attempts":N,"last_error":..,
 *  "at":ts|null}|null,
 *  "body":"<raw body as a JSON string>" (only when bodies asked, null
 *  when not kept)}
 */
json_object	*store_query_messages(struct store_reader *,
		    const struct store_filter *, int bodies, char *err,
		    size_t errlen);
/*
 * {"transactions":[{"transaction_id","domain","participant","first",
 * "last","messages":N,"actions":[in order],"order_id","state_code"
 * (latest non-null),"last_action","nacks":N}], "next":...}; newest
 * first; filters apply to the messages.
 */
json_object	*store_query_transactions(struct store_reader *,
		    const struct store_filter *, char *err, size_t errlen);
/* {"transaction_id":ID,"messages":[rows with bodies, by id]}; NULL + err
 * "not found" */
json_object	*store_query_transaction(struct store_reader *, const char *id,
		    char *err, size_t errlen);
/* {"message_id":ID,"messages":[...]} every row with that message_id */
json_object	*store_query_message(struct store_reader *, const char *id,
		    char *err, size_t errlen);
/*
 * csv (header line, RFC 4180 quoting, no bodies) or jsonl (one row JSON
 * per line, with bodies): calls write for each chunk; -1 on failure.
 */
int		 store_export(struct store_reader *,
		    const struct store_filter *, const char *format,
		    int (*write)(const char *, size_t, void *), void *arg,
		    char *err, size_t errlen);
/*
 * Parse filter from URL query "transaction=..&order=..&action=..
 * &status=..&since=..&limit=..&after=..&participant=..&domain=..&peer=..
 * &direction=.." (since/until: RFC 3339 or unix ms).  -1 + err naming
 * the parameter.  Strings point into buf (caller's copy).
 */
int		 store_filter_parse_query(struct store_filter *, char *buf,
		    char *err, size_t errlen);
/*
 * Ask the daemon to deliver a dead (or refused) letter again: opens path
 * read-write, sets delivery_state='requeue' for delivery_id = id, or
 * message_id = id when exactly one dead row has it.  0, or -1 and err
 * ("no dead letter with id X", ...).
 */
int		 store_requeue(const char *path, const char *id, char *err,
		    size_t errlen);

#endif

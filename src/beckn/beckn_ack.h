/*
 * beckn_ack.h - synchronous ACK / NACK response bodies (core 1.1.0).
 *
 *   ACK   {"message":{"ack":{"status":"ACK"}}}
 *   NACK  {"message":{"ack":{"status":"NACK"}},
 *          "error":{"code":"30000","paths":"/context/action","message":"..."}}
 *
 * "code" is a string; "paths" and "message" are omitted when NULL.  The
 * client listener answers with the request's context first:
 *   {"context":{...},"message":{"ack":{"status":"ACK"}}}
 *
 * Every string we emit is escaped here, whatever bytes it holds: quotes,
 * backslashes and control characters are escaped, bytes that are not
 * well-formed UTF-8 become U+FFFD (one per maximal ill-formed subpart, as
 * Unicode recommends), so the body is always valid JSON even when a
 * message quotes attacker-controlled input.  message and paths are cut at
 * BECKN_ERR_TEXT_MAX input bytes (on a character boundary) to bound the
 * size of an error answer.
 *
 * Error codes (BECKN-005 "Error Codes" draft 01, beckn/protocol-
 * specifications docs/BECKN-005-Error-Codes-Draft-01.md):
 *   30000  Invalid request error - generic invalid request
 *   40000  Business Error        - generic business error
 *   40001  Action not applicable - endpoint not implemented by the
 *                                  receiver for its use case
 * BECKN-005 has no code for overload, upstream or internal failures; we
 * answer those with 40000 (the generic receiver-side error) and let the
 * HTTP status (5xx) carry "retry later".  ONDC's list (ONDC-RFC-001) has
 * role-specific "Invalid Signature" codes (10001/20001/30016) that a
 * network profile may prefer; core Beckn has none, so 30000 it is.
 *
 * Ownership: callers own every string and buffer passed in; nothing is
 * retained.  The *_write functions append to the caller's evbuffer and
 * return 0, or -1 on bad arguments or a libevent allocation failure, in
 * which case the buffer may hold a partial body and must be discarded.
 */
#ifndef BECKND_BECKN_ACK_H
#define BECKND_BECKN_ACK_H

#include <stddef.h>

struct evbuffer;
struct json_object;

#define BECKN_CODE_INVALID_REQUEST	"30000"
#define BECKN_CODE_BUSINESS		"40000"
#define BECKN_CODE_ACTION_NOT_APPLICABLE "40001"

/* Longest message or paths text taken from the caller, in input bytes. */
#define BECKN_ERR_TEXT_MAX	1024

/*
 * Every error the adaptor answers itself, with its HTTP status and code:
 *
 *   error                    HTTP code   when
 *   BECKN_ERR_INVALID_JSON    400  30000  body is not JSON / not an object
 *   BECKN_ERR_SCHEMA          400  30000  schema validation failed
 *   BECKN_ERR_ACTION_MISMATCH 400  30000  URL action != context.action
 *   BECKN_ERR_CONTEXT         400  30000  context unusable (completion refused)
 *   BECKN_ERR_NOT_APPLICABLE  400  40001  our role does not receive it
 *   BECKN_ERR_AUTH            401  30000  signature, key or replay failure
 *   BECKN_ERR_NOT_FOUND       404  40001  path names no action
 *   BECKN_ERR_METHOD          405  30000  not POST
 *   BECKN_ERR_TOO_LARGE       413  30000  body over the configured limit
 *   BECKN_ERR_MEDIA_TYPE      415  30000  Content-Type not application/json
 *   BECKN_ERR_INTERNAL        500  40000  bug or resource failure on our side
 *   BECKN_ERR_UPSTREAM        502  40000  forwarding target failed
 *   BECKN_ERR_BUSY            503  40000  queue or replay cache full
 *   BECKN_ERR_UPSTREAM_TIMEOUT 504 40000  forwarding target timed out
 */
enum beckn_err {
	BECKN_ERR_INVALID_JSON,
	BECKN_ERR_SCHEMA,
	BECKN_ERR_ACTION_MISMATCH,
	BECKN_ERR_CONTEXT,
	BECKN_ERR_NOT_APPLICABLE,
	BECKN_ERR_AUTH,
	BECKN_ERR_NOT_FOUND,
	BECKN_ERR_METHOD,
	BECKN_ERR_TOO_LARGE,
	BECKN_ERR_MEDIA_TYPE,
	BECKN_ERR_INTERNAL,
	BECKN_ERR_UPSTREAM,
	BECKN_ERR_BUSY,
	BECKN_ERR_UPSTREAM_TIMEOUT,
	BECKN_ERR_COUNT
};

struct beckn_error {
	int		 http_status;
	const char	*code;
	const char	*message;	/* default text */
};

/* Table entry for e; an out-of-range e gives BECKN_ERR_INTERNAL's. */
const struct beckn_error *beckn_error_get(enum beckn_err e);

/* The error object of a NACK.  code is required. */
struct beckn_nack {
	const char	*code;
	const char	*paths;		/* NULL: key omitted */
	const char	*message;	/* NULL: key omitted */
};

/* {"message":{"ack":{"status":"ACK"}}} */
#define BECKN_ACK_BODY	"{\"message\":{\"ack\":{\"status\":\"ACK\"}}}"
int	 beckn_ack_write(struct evbuffer *);
/* A NACK without context. */
int	 beckn_nack_write(struct evbuffer *, const char *code,
	    const char *paths, const char *message);
/* A NACK from the table; message NULL takes the table's default text. */
int	 beckn_error_write(struct evbuffer *, enum beckn_err,
	    const char *paths, const char *message);
/*
 * ACK (nack == NULL) or NACK, preceded by "context" when context_json is
 * not NULL.  context_json is copied verbatim: it must be a serialised JSON
 * object (e.g. from json_object_to_json_string_length() of the parsed
 * request's context); anything not starting with '{' and ending with '}'
 * is refused (-1).
 */
int	 beckn_ack_write_ctx(struct evbuffer *, const char *context_json,
	    size_t context_len, const struct beckn_nack *nack);
/* Same body as a NUL-terminated xmalloc'd string; *lenp (may be NULL)
 * gets its length.  NULL on bad arguments. */
char	*beckn_ack_string(const char *context_json, size_t context_len,
	    const struct beckn_nack *nack, size_t *lenp);

/*
 * Reading a peer's synchronous answer (what a BPP, BAP or gateway said to
 * a message becknd sent).  ACK only when message.ack.status is exactly
 * "ACK", NACK when it is "NACK", NONE for anything else: not JSON, not an
 * object, no ack, another status.  The HTTP status is the caller's to
 * judge (an ACK counts only with a 2xx).  code/message/paths are the
 * NACK's error members when they are strings, else NULL; they point into
 * root and live until beckn_reply_clear().  Never more than
 * ACK_DEPTH_MAX (16) levels of JSON are parsed.
 */
enum beckn_reply_status {
	BECKN_REPLY_NONE = 0,
	BECKN_REPLY_ACK,
	BECKN_REPLY_NACK,
};

struct beckn_reply {
	enum beckn_reply_status	 status;
	struct json_object	*root;
	const char		*code;
	const char		*message;
	const char		*paths;
	const char		*type;		/* error.type, when given */
};

/* Fills r (always; clear it afterwards) and returns r->status. */
int	 beckn_reply_parse(const char *body, size_t len, struct beckn_reply *);
void	 beckn_reply_clear(struct beckn_reply *);

/*
 * Building "paths" from schema error locations: JSON pointers joined with
 * ',' into a caller buffer, each pointer whole or not at all, duplicates
 * skipped.  Pointers holding ',' are taken as they are (the core schema
 * has no keys with commas).  Allocates nothing.
 */
struct beckn_paths {
	char	*buf;
	size_t	 size;
	size_t	 len;		/* bytes used, excluding the NUL */
	size_t	 n;		/* pointers joined */
	size_t	 dropped;	/* pointers that did not fit */
};

void	 beckn_paths_init(struct beckn_paths *, char *buf, size_t size);
/* 0 when added or already present, -1 when it did not fit (dropped). */
int	 beckn_paths_add(struct beckn_paths *, const char *pointer);

#endif

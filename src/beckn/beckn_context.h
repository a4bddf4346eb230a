/*
 * beckn_context.h - completing the context of an outbound Beckn message.
 *
 * The app behind the adaptor may post a message with a partial context
 * (or none); before signing, the adaptor fills what is missing so that
 * every message on the network carries a full core 1.1.0 context.
 *
 * Contract for beckn_context_complete():
 *   - Only missing fields are added (a key holding JSON null counts as
 *     missing and its value is replaced in place); every field the app
 *     sent is kept as sent.
 *   - Fields, in this order when added: domain (only when fill->domain is
 *     set), action, version, bap_id + bap_uri (role BAP) or bpp_id +
 *     bpp_uri (role BPP), transaction_id, message_id (UUID v4 each),
 *     timestamp (now, RFC 3339 UTC with milliseconds), ttl.
 *   - A context that is created goes first in the body, so the output is
 *     deterministic and reads like the spec's examples.
 *   - Refusals (-1, err names the field and *path its JSON pointer, ""
 *     for the whole body; the caller answers 400 with BECKN_ERR_CONTEXT /
 *     BECKN_ERR_ACTION_MISMATCH): body not an object; message not an
 *     object, or missing on a request (but the meta get_* requests, whose
 *     schema has no message) -- a callback may carry only an error, and
 *     the schema decides the rest; context not an object; context.action
 *     not a string or not the URL action; context.bap_id + bap_uri (role
 *     BAP) / bpp_id + bpp_uri (role BPP), when given, not our own
 *     subscriber id and subscriber_url (URLs compared with url_same(), so
 *     one tenant cannot speak as another).  A refusal leaves body
 *     unmodified.
 *   - Role GATEWAY never originates messages and is refused.
 *
 * Ownership: body belongs to the caller and is modified in place; fill's
 * strings are copied into new json-c strings, never retained.
 */
#ifndef BECKND_BECKN_CONTEXT_H
#define BECKND_BECKN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "beckn/beckn_action.h"

struct clock;

#define BECKN_CORE_VERSION	"1.1.0"
#define BECKN_DEFAULT_TTL	"PT30S"
#define BECKN_UUID_SIZE		37	/* 36 chars + NUL */
#define BECKN_TIMESTAMP_SIZE	32	/* "2026-11-22T10:00:00.123Z" + NUL */

struct beckn_ctx_fill {
	const char	*action;	/* from the URL path; required */
	const char	*domain;	/* NULL: not filled */
	const char	*version;	/* NULL: BECKN_CORE_VERSION */
	enum beckn_role	 role;		/* BAP or BPP */
	const char	*subscriber_id;	/* our own id; required */
	const char	*subscriber_uri; /* our own receiving URI; required */
	const char	*ttl;		/* NULL: BECKN_DEFAULT_TTL */
};

/*
 * Random UUID (RFC 4122 version 4, variant 10xx), lowercase, from the
 * OpenSSL CSPRNG.  0, or -1 when the CSPRNG fails (out is then "").
 */
int	beckn_uuid4(char out[BECKN_UUID_SIZE]);
/*
 * now_ms (Unix ms) as "YYYY-MM-DDTHH:MM:SS.mmmZ".  0, or -1 when the year
 * is outside 0000..9999 (out is then "").
 */
int	beckn_timestamp(int64_t now_ms, char out[BECKN_TIMESTAMP_SIZE]);

int	beckn_context_complete(json_object *body,
	    const struct beckn_ctx_fill *fill, const struct clock *clock,
	    char *err, size_t errlen, const char **path);

#endif

/*
 * beckn_context.c - context completion, UUIDs and timestamps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "beckn/beckn_context.h"
#include "util/clock.h"
#include "util/url.h"
#include "util/xmalloc.h"

static const char hexdigits[] = "0123456789abcdef";

int
beckn_uuid4(char out[BECKN_UUID_SIZE])
{
	unsigned char	 b[16];
	size_t		 i, o;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		ERR_clear_error();
		out[0] = '\0';
		return -1;
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* variant 10xx */
	for (i = o = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hexdigits[b[i] >> 4];
		out[o++] = hexdigits[b[i] & 0xf];
	}
	out[o] = '\0';
	return 0;
}

static char *
put_digits(char *p, unsigned v, int width)
{
	int	 i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

int
beckn_timestamp(int64_t now_ms, char out[BECKN_TIMESTAMP_SIZE])
{
	int64_t		 days, msod, z, era, doe, yoe, doy, mp, y, m, d;
	char		*p = out;

	/* Floor division, so times before 1970 land on the right day. */
	days = now_ms / 86400000;
	msod = now_ms % 86400000;
	if (msod < 0) {
		msod += 86400000;
		days--;
	}
	/* Days since 1970-01-01 to a proleptic Gregorian date. */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	if (y < 0 || y > 9999) {
		out[0] = '\0';
		return -1;
	}
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)m, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)d, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(msod / 3600000), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(msod / 60000 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(msod / 1000 % 60), 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(msod % 1000), 3);
	*p++ = 'Z';
	*p = '\0';
	return 0;
}

/*
 * 1 when ctx has key with a non-null value (*vp set), 0 when the key is
 * absent or null (*present tells which).
 */
static int
ctx_get(json_object *ctx, const char *key, json_object **vp, int *present)
{
	*vp = NULL;
	*present = ctx != NULL && json_object_object_get_ex(ctx, key, vp);
	return *present && *vp != NULL;
}

/* A field the app may send but that must then equal want. */
static int
ctx_check_eq(json_object *ctx, const char *key, const char *want,
    const char *what, char *err, size_t errlen)
{
	json_object	*v;
	int		 present;

	if (!ctx_get(ctx, key, &v, &present))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "context.%s is not a string", key);
		return -1;
	}
	/* Length first: an embedded \u0000 must not pass as a prefix. */
	if ((size_t)json_object_get_string_len(v) != strlen(want) ||
	    strcmp(json_object_get_string(v), want) != 0) {
		snprintf(err, errlen, "context.%s does not match %s \"%s\"",
		    key, what, want);
		return -1;
	}
	return 0;
}

static int
ctx_fill(json_object *ctx, const char *key, const char *value, char *err,
    size_t errlen)
{
	json_object	*v, *s;
	int		 present;
	unsigned	 flags = JSON_C_OBJECT_ADD_CONSTANT_KEY;

	if (ctx_get(ctx, key, &v, &present))
		return 0;
	if (!present)
		flags |= JSON_C_OBJECT_ADD_KEY_IS_NEW;
	/* Keys are our string literals: json-c need not copy them. */
	if ((s = json_object_new_string(value)) == NULL ||
	    json_object_object_add_ex(ctx, key, s, flags) != 0) {
		json_object_put(s);
		snprintf(err, errlen, "out of memory filling context.%s", key);
		return -1;
	}
	return 0;
}

/*
 * Move "context" to the front of body: every key before it is taken out
 * and appended again, in order.  Bodies have two or three keys.
 */
static void
context_to_front(json_object *body)
{
	struct lh_entry	*e;
	json_object	*v;
	char		*k;
	int		 n, i;

	n = json_object_object_length(body);
	for (i = 0; i < n; i++) {
		e = lh_table_head(json_object_get_object(body));
		if (e == NULL || strcmp(lh_entry_k(e), "context") == 0)
			break;
		k = xstrdup(lh_entry_k(e));
		v = json_object_get((json_object *)lh_entry_v(e));
		json_object_object_del(body, k);
		json_object_object_add(body, k, v);
		free(k);
	}
}

/* Our own endpoint, when the app gave one: the same URL or a refusal. */
static int
ctx_check_uri(json_object *ctx, const char *key, const char *want,
    char *err, size_t errlen)
{
	json_object	*v;
	int		 present;

	if (!ctx_get(ctx, key, &v, &present))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) !=
	    strlen(json_object_get_string(v)) ||
	    !url_same(json_object_get_string(v), want)) {
		snprintf(err, errlen, "context.%s is not this participant's "
		    "subscriber_url \"%s\"", key, want);
		return -1;
	}
	return 0;
}

int
beckn_context_complete(json_object *body, const struct beckn_ctx_fill *f,
    const struct clock *clock, char *err, size_t errlen, const char **path)
{
	const struct beckn_action	*a;
	json_object			*ctx, *msg, *v;
	const char			*id_key, *uri_key, *id_path, *uri_path;
	char				 uuid[BECKN_UUID_SIZE];
	char				 ts[BECKN_TIMESTAMP_SIZE];
	int				 present;

	*path = "";
	if (f == NULL || f->action == NULL || f->subscriber_id == NULL ||
	    f->subscriber_uri == NULL) {
		snprintf(err, errlen, "context completion: action and "
		    "subscriber id/uri are required");
		return -1;
	}
	if ((a = beckn_action_find(f->action)) == NULL) {
		snprintf(err, errlen, "unknown action \"%.64s\"", f->action);
		return -1;
	}
	switch (f->role) {
	case BECKN_ROLE_BAP:
		id_key = "bap_id";
		uri_key = "bap_uri";
		id_path = "/context/bap_id";
		uri_path = "/context/bap_uri";
		break;
	case BECKN_ROLE_BPP:
		id_key = "bpp_id";
		uri_key = "bpp_uri";
		id_path = "/context/bpp_id";
		uri_path = "/context/bpp_uri";
		break;
	default:
		snprintf(err, errlen, "context completion needs role bap or "
		    "bpp");
		return -1;
	}

	/* Every refusal comes before the first change to body. */
	*path = "";
	if (!json_object_is_type(body, json_type_object)) {
		snprintf(err, errlen, "body is not a JSON object");
		return -1;
	}
	*path = "/message";
	if (!ctx_get(body, "message", &msg, &present)) {
		/*
		 * A callback may carry only an error (core 1.1.0 requires
		 * just context on every callback but on_rating, whose
		 * schema then says so); a request must say something.
		 */
		if (a->has_message && a->kind == BECKN_REQUEST) {
			snprintf(err, errlen, "message is required");
			return -1;
		}
	} else if (!json_object_is_type(msg, json_type_object)) {
		snprintf(err, errlen, "message is not an object");
		return -1;
	}
	*path = "/context";
	if (ctx_get(body, "context", &ctx, &present) &&
	    !json_object_is_type(ctx, json_type_object)) {
		snprintf(err, errlen, "context is not an object");
		return -1;
	}
	*path = "/context/action";
	if (ctx_check_eq(ctx, "action", f->action, "the URL action", err,
	    errlen) == -1)
		return -1;
	*path = id_path;
	if (ctx_check_eq(ctx, id_key, f->subscriber_id,
	    "this participant's subscriber id", err, errlen) == -1)
		return -1;
	*path = uri_path;
	if (ctx_check_uri(ctx, uri_key, f->subscriber_uri, err, errlen) == -1)
		return -1;
	*path = "";

	if (ctx == NULL) {
		ctx = json_object_new_object();
		if (ctx == NULL || json_object_object_add(body, "context",
		    ctx) != 0) {
			json_object_put(ctx);
			snprintf(err, errlen, "out of memory creating context");
			return -1;
		}
		if (!present)
			context_to_front(body);
	}

	if (f->domain != NULL &&
	    ctx_fill(ctx, "domain", f->domain, err, errlen) == -1)
		return -1;
	if (ctx_fill(ctx, "action", f->action, err, errlen) == -1 ||
	    ctx_fill(ctx, "version", f->version != NULL ? f->version :
	    BECKN_CORE_VERSION, err, errlen) == -1 ||
	    ctx_fill(ctx, id_key, f->subscriber_id, err, errlen) == -1 ||
	    ctx_fill(ctx, uri_key, f->subscriber_uri, err, errlen) == -1)
		return -1;
	/* Generate only what is missing: RAND_bytes is not free. */
	if (!ctx_get(ctx, "transaction_id", &v, &present)) {
		if (beckn_uuid4(uuid) == -1) {
			snprintf(err, errlen, "random generator failed");
			return -1;
		}
		if (ctx_fill(ctx, "transaction_id", uuid, err, errlen) == -1)
			return -1;
	}
	if (!ctx_get(ctx, "message_id", &v, &present)) {
		if (beckn_uuid4(uuid) == -1) {
			snprintf(err, errlen, "random generator failed");
			return -1;
		}
		if (ctx_fill(ctx, "message_id", uuid, err, errlen) == -1)
			return -1;
	}
	if (!ctx_get(ctx, "timestamp", &v, &present)) {
		if (beckn_timestamp(clock_now_ms(clock), ts) == -1) {
			snprintf(err, errlen, "clock out of range");
			return -1;
		}
		if (ctx_fill(ctx, "timestamp", ts, err, errlen) == -1)
			return -1;
	}
	return ctx_fill(ctx, "ttl", f->ttl != NULL ? f->ttl :
	    BECKN_DEFAULT_TTL, err, errlen);
}

/*
 * telemetry_event.c - one API event's JSON text (telemetry.h), written
 * straight into a growing buffer: this runs for every message, and a
 * json-c tree would cost an allocation per node to be thrown away.
 *
 * The shape is onest-telemetry.md 1.7: SDK attribute names, ns times as
 * digit strings, span_uuid both as a span key and a span attribute.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "telemetry/telemetry.h"
#include "telemetry/telemetry_int.h"
#include "util/json.h"
#include "util/xmalloc.h"

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

EVP_MD_CTX *
tel_sha_new(void)
{
	EVP_MD_CTX	*ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "becknd: telemetry: SHA-256 unavailable\n");
		abort();
	}
	return ctx;
}

void
tel_sha_add(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	if (EVP_DigestUpdate(ctx, p, len) != 1) {
		fprintf(stderr, "becknd: telemetry: SHA-256 failed\n");
		abort();
	}
}

void
tel_sha_id(EVP_MD_CTX *ctx, char hex[TEL_ID_HEX + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	size_t			 i;

	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen < TEL_ID_BYTES) {
		fprintf(stderr, "becknd: telemetry: SHA-256 failed\n");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < TEL_ID_BYTES; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[TEL_ID_HEX] = '\0';
}

static void
buf_grow(struct buf *b, size_t n)
{
	size_t	 cap;

	if (b->cap - b->len > n)
		return;
	cap = b->cap != 0 ? b->cap : 1024;
	while (cap - b->len <= n)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
buf_lit(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * s as a JSON string (NULL: "").  Bytes >= 0x80 pass as they are: the
 * inputs come from bodies json-c parsed, hence valid UTF-8.
 */
static void
buf_str(struct buf *b, const char *s)
{
	static const char	 digits[] = "0123456789abcdef";
	const unsigned char	*p, *run;
	char			 esc[6];

	p = (const unsigned char *)(s != NULL ? s : "");
	buf_add(b, "\"", 1);
	for (run = p; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		buf_add(b, (const char *)run, (size_t)(p - run));
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			buf_add(b, esc, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = digits[*p >> 4];
			esc[5] = digits[*p & 0x0f];
			buf_add(b, esc, 6);
		}
		run = p + 1;
	}
	buf_add(b, (const char *)run, (size_t)(p - run));
	buf_add(b, "\"", 1);
}

static void
buf_i64(struct buf *b, int64_t v)
{
	char	 num[24];
	int	 n;

	n = snprintf(num, sizeof(num), "%" PRId64, v);
	buf_add(b, num, (size_t)n);
}

/* "key":"value" */
static void
buf_kv(struct buf *b, const char *key, const char *value)
{
	buf_str(b, key);
	buf_add(b, ":", 1);
	buf_str(b, value);
}

/*
 * Attributes of one list: the first has no comma before it.  *first is
 * the list's state, 1 before its first attribute.
 */
static void
attr_key(struct buf *b, int *first, const char *key, const char *type)
{
	if (!*first)
		buf_add(b, ",", 1);
	*first = 0;
	buf_lit(b, "{\"key\":");
	buf_str(b, key);
	buf_lit(b, ",\"value\":{\"");
	buf_lit(b, type);
	buf_lit(b, "\":");
}

static void
attr_str(struct buf *b, int *first, const char *key, const char *v)
{
	attr_key(b, first, key, "stringValue");
	buf_str(b, v);
	buf_lit(b, "}}");
}

static void
attr_int(struct buf *b, int *first, const char *key, int64_t v)
{
	attr_key(b, first, key, "intValue");
	buf_i64(b, v);
	buf_lit(b, "}}");
}

/* The shortest %g text that reads back as v (JSON has no NaN or Inf). */
static void
attr_double(struct buf *b, int *first, const char *key, double v)
{
	char	 num[32];
	int	 prec;

	if (!isfinite(v))
		return;
	for (prec = 15; prec < 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, v);
		if (strtod(num, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(num, sizeof(num), "%.17g", v);
	attr_key(b, first, key, "doubleValue");
	buf_lit(b, num);
	buf_lit(b, "}}");
}

static void
attr_bool(struct buf *b, int *first, const char *key, int v)
{
	attr_key(b, first, key, "boolValue");
	buf_lit(b, v ? "true" : "false");
	buf_lit(b, "}}");
}

/* RFC 3339 UTC with milliseconds, as context.timestamp is written. */
static void
fmt_time(int64_t ns, char out[32])
{
	int64_t		 ms, s;
	time_t		 t;
	struct tm	 tm;

	ms = ns / 1000000;
	if (ns % 1000000 < 0)
		ms--;
	s = ms / 1000;
	if (ms % 1000 < 0)
		s--;
	t = (time_t)s;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms - s * 1000));
}

static void
sha_str(EVP_MD_CTX *ctx, const char *s)
{
	s = s != NULL ? s : "";
	tel_sha_add(ctx, s, strlen(s) + 1);
}

/*
 * span_uuid: the same message seen by two participants, or sent twice
 * (a retry has its own start), gets two ids; one event always the same.
 */
static void
span_uuid(const struct telemetry_span *sp, char hex[TEL_ID_HEX + 1])
{
	EVP_MD_CTX	*ctx = tel_sha_new();
	char		 num[24];

	sha_str(ctx, sp->producer);
	sha_str(ctx, sp->direction);
	sha_str(ctx, sp->message_id);
	sha_str(ctx, sp->transaction_id);
	sha_str(ctx, sp->action);
	snprintf(num, sizeof(num), "%" PRId64, sp->start_ns);
	tel_sha_add(ctx, num, strlen(num));
	tel_sha_id(ctx, hex);
}

static void
scope_uuid(const char *span, const char *producer, char hex[TEL_ID_HEX + 1])
{
	EVP_MD_CTX	*ctx = tel_sha_new();

	sha_str(ctx, span);
	tel_sha_add(ctx, producer != NULL ? producer : "",
	    producer != NULL ? strlen(producer) : 0);
	tel_sha_id(ctx, hex);
}

/* One value found at the end of a property path. */
static void
prop_value(struct buf *b, int *first, const char *key, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		attr_str(b, first, key, json_object_get_string(v));
		break;
	case json_type_int:
		attr_int(b, first, key, json_object_get_int64(v));
		break;
	case json_type_double:
		attr_double(b, first, key, json_object_get_double(v));
		break;
	case json_type_boolean:
		attr_bool(b, first, key, json_object_get_boolean(v));
		break;
	default:	/* null, object, array not expanded */
		break;
	}
}

/*
 * Walk path (the rest of a property's path, at v) and add what it names
 * under key; "name[]" goes on with every element, key.0, key.1, ...
 * (one suffix per expanded array, so "a[].b[]" gives key.I.J).
 */
static void
prop_walk(struct buf *b, int *first, const char *key, json_object *v,
    const char *path)
{
	const char	*dot, *end;
	char		 name[256], *sub;
	json_object	*m;
	size_t		 n, i, len;
	int		 expand;

	if (v == NULL)
		return;
	if (*path == '\0') {
		prop_value(b, first, key, v);
		return;
	}
	if ((dot = strchr(path, '.')) == NULL)
		dot = path + strlen(path);
	end = dot;
	expand = end - path >= 2 && end[-2] == '[' && end[-1] == ']';
	if (expand)
		end -= 2;
	n = (size_t)(end - path);
	if (n >= sizeof(name) || !json_object_is_type(v, json_type_object))
		return;
	memcpy(name, path, n);
	name[n] = '\0';
	if (!json_object_object_get_ex(v, name, &m) || m == NULL)
		return;
	path = *dot == '.' ? dot + 1 : dot;
	if (!expand) {
		prop_walk(b, first, key, m, path);
		return;
	}
	if (!json_object_is_type(m, json_type_array))
		return;
	len = json_object_array_length(m);
	for (i = 0; i < len; i++) {
		xasprintf(&sub, "%s.%zu", key, i);
		prop_walk(b, first, sub, json_object_array_get_idx(m, i),
		    path);
		free(sub);
	}
}

void
telemetry_span_context(struct telemetry_span *sp, json_object *body)
{
	json_object	*ctx;
	const char	*action, *bap_id, *bap_uri, *bpp_id, *bpp_uri;

	if (body == NULL || !json_object_object_get_ex(body, "context",
	    &ctx) || !json_object_is_type(ctx, json_type_object))
		return;
	sp->domain = json_str(ctx, "domain");
	sp->transaction_id = json_str(ctx, "transaction_id");
	sp->message_id = json_str(ctx, "message_id");
	sp->observed = json_str(ctx, "timestamp");
	bap_id = json_str(ctx, "bap_id");
	bap_uri = json_str(ctx, "bap_uri");
	bpp_id = json_str(ctx, "bpp_id");
	bpp_uri = json_str(ctx, "bpp_uri");
	if ((action = sp->action) == NULL)
		action = json_str(ctx, "action");
	if (action != NULL && strncmp(action, "on_", 3) == 0) {
		sp->sender_id = bpp_id;
		sp->sender_uri = bpp_uri;
		sp->sender_type = "provider";
		sp->recipient_id = bap_id;
		sp->recipient_uri = bap_uri;
		sp->recipient_type = "seeker";
	} else {
		sp->sender_id = bap_id;
		sp->sender_uri = bap_uri;
		sp->sender_type = "seeker";
		sp->recipient_id = bpp_id;
		sp->recipient_uri = bpp_uri;
		sp->recipient_type = "provider";
	}
}

static void
resource(struct buf *b, const struct telemetry_span *sp)
{
	int	 first = 1;

	buf_lit(b, "{\"resource\":{\"attributes\":[");
	attr_str(b, &first, "eid", "API");
	attr_str(b, &first, "producer", sp->producer);
	if (sp->domain != NULL)
		attr_str(b, &first, "domain", sp->domain);
	buf_lit(b, "]}");
}

static void
span_attributes(struct buf *b, const struct telemetry_span *sp,
    const struct telemetry_conf *conf, const char *uuid)
{
	char	 when[32];
	size_t	 i;
	int	 first = 1;

	buf_lit(b, "\"attributes\":[");
	attr_str(b, &first, "sender.id", sp->sender_id);
	attr_str(b, &first, "sender.uri", sp->sender_uri);
	attr_str(b, &first, "sender.type", sp->sender_type);
	attr_str(b, &first, "recipient.id", sp->recipient_id);
	attr_str(b, &first, "recipient.uri", sp->recipient_uri);
	attr_str(b, &first, "recipient.type", sp->recipient_type);
	attr_str(b, &first, "span_uuid", uuid);
	if (sp->observed == NULL)
		fmt_time(sp->end_ns, when);
	attr_str(b, &first, "observedTimeUnixNano",
	    sp->observed != NULL ? sp->observed : when);
	attr_str(b, &first, "http.method",
	    sp->http_method != NULL ? sp->http_method : "POST");
	attr_str(b, &first, "http.route", sp->http_route);
	attr_str(b, &first, "http.host", sp->http_host);
	attr_str(b, &first, "http.scheme",
	    sp->http_scheme != NULL ? sp->http_scheme : "http");
	attr_int(b, &first, "http.status.code", sp->http_status);
	for (i = 0; conf != NULL && sp->body != NULL && i < conf->nprops;
	    i++)
		if (conf->props[i].key != NULL && conf->props[i].path != NULL)
			prop_walk(b, &first, conf->props[i].key, sp->body,
			    conf->props[i].path);
	buf_lit(b, "]");
}

static void
span_events(struct buf *b, const struct telemetry_span *sp)
{
	char	 when[32];
	int	 first = 1;

	if (sp->ok) {
		buf_lit(b, "\"events\":[]");
		return;
	}
	fmt_time(sp->end_ns, when);
	buf_lit(b, "\"events\":[{\"name\":\"error\",\"time\":");
	buf_str(b, when);
	buf_lit(b, ",\"attributes\":[");
	attr_str(b, &first, "type", sp->err_type);
	attr_str(b, &first, "code", sp->err_code);
	attr_str(b, &first, "msg", sp->err_msg);
	buf_lit(b, "]}]");
}

char *
telemetry_event_json(const struct telemetry_span *sp,
    const struct telemetry_conf *conf, size_t *len)
{
	struct buf	 b = { NULL, 0, 0 };
	char		 suuid[TEL_ID_HEX + 1], cuuid[TEL_ID_HEX + 1];
	int64_t		 start, end;
	int		 first = 1;

	/* Digit strings, end >= start (1.7), whatever the clocks did. */
	start = sp->start_ns > 0 ? sp->start_ns : 0;
	end = sp->end_ns > start ? sp->end_ns : start;

	span_uuid(sp, suuid);
	scope_uuid(suuid, sp->producer, cuuid);

	buf_lit(&b, "{\"resourceSpans\":[");
	resource(&b, sp);
	buf_lit(&b, ",\"scopeSpans\":[{\"scope\":{");
	buf_kv(&b, "name", TELEMETRY_SCOPE_NAME);
	buf_add(&b, ",", 1);
	buf_kv(&b, "version", TELEMETRY_SCOPE_VERSION);
	buf_lit(&b, ",\"attributes\":[");
	attr_str(&b, &first, "scope_uuid", cuuid);
	attr_int(&b, &first, "count", 1);
	buf_lit(&b, "]},\"spans\":[{");
	buf_kv(&b, "name", sp->action);
	buf_add(&b, ",", 1);
	buf_kv(&b, "traceId", sp->transaction_id);
	buf_add(&b, ",", 1);
	buf_kv(&b, "spanId", sp->message_id);
	buf_add(&b, ",", 1);
	buf_kv(&b, "span_uuid", suuid);
	buf_lit(&b, ",\"startTimeUnixNano\":\"");
	buf_i64(&b, start);
	buf_lit(&b, "\",\"endTimeUnixNano\":\"");
	buf_i64(&b, end);
	buf_lit(&b, "\",");
	buf_kv(&b, "status", sp->ok ? "Ok" : "Error");
	buf_add(&b, ",", 1);
	span_attributes(&b, sp, conf, suuid);
	buf_add(&b, ",", 1);
	span_events(&b, sp);
	buf_lit(&b, "}]}]}]}");

	buf_grow(&b, 1);
	b.p[b.len] = '\0';
	if (len != NULL)
		*len = b.len;
	return b.p;
}

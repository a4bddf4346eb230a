/*
 * beckn_ack.c - ACK / NACK bodies and the error table.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "beckn/beckn_ack.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define ACK_BODY	"{\"message\":{\"ack\":{\"status\":\"ACK\"}}}"
#define ACK_TAIL	"\"message\":{\"ack\":{\"status\":\"ACK\"}}}"
#define NACK_HEAD	"\"message\":{\"ack\":{\"status\":\"NACK\"}}," \
			"\"error\":{\"code\":"

static const struct beckn_error errors[BECKN_ERR_COUNT] = {
	[BECKN_ERR_INVALID_JSON] = { 400, BECKN_CODE_INVALID_REQUEST,
	    "invalid JSON" },
	[BECKN_ERR_SCHEMA] = { 400, BECKN_CODE_INVALID_REQUEST,
	    "schema validation failed" },
	[BECKN_ERR_ACTION_MISMATCH] = { 400, BECKN_CODE_INVALID_REQUEST,
	    "context.action does not match the URL action" },
	[BECKN_ERR_CONTEXT] = { 400, BECKN_CODE_INVALID_REQUEST,
	    "invalid context" },
	[BECKN_ERR_NOT_APPLICABLE] = { 400, BECKN_CODE_ACTION_NOT_APPLICABLE,
	    "action not applicable to this participant" },
	[BECKN_ERR_AUTH] = { 401, BECKN_CODE_INVALID_REQUEST,
	    "authentication failed" },
	[BECKN_ERR_NOT_FOUND] = { 404, BECKN_CODE_ACTION_NOT_APPLICABLE,
	    "unknown path" },
	[BECKN_ERR_METHOD] = { 405, BECKN_CODE_INVALID_REQUEST,
	    "method not allowed: use POST" },
	[BECKN_ERR_TOO_LARGE] = { 413, BECKN_CODE_INVALID_REQUEST,
	    "request body too large" },
	[BECKN_ERR_MEDIA_TYPE] = { 415, BECKN_CODE_INVALID_REQUEST,
	    "Content-Type must be application/json" },
	[BECKN_ERR_INTERNAL] = { 500, BECKN_CODE_BUSINESS,
	    "internal error" },
	[BECKN_ERR_UPSTREAM] = { 502, BECKN_CODE_BUSINESS,
	    "upstream failed" },
	[BECKN_ERR_BUSY] = { 503, BECKN_CODE_BUSINESS,
	    "busy, retry later" },
	[BECKN_ERR_UPSTREAM_TIMEOUT] = { 504, BECKN_CODE_BUSINESS,
	    "upstream timed out" },
};

/*
 * One writer for both destinations: an evbuffer (the hot path, no
 * intermediate copy) or a growing heap string.
 */
struct out {
	struct evbuffer	*evb;
	char		*s;
	size_t		 len;
	size_t		 cap;
	int		 failed;
};

static void
out_add(struct out *o, const void *p, size_t n)
{
	size_t	 cap;

	if (o->failed || n == 0)
		return;
	if (o->evb != NULL) {
		if (evbuffer_add(o->evb, p, n) == -1)
			o->failed = 1;
		return;
	}
	if (o->cap - o->len <= n) {
		cap = o->cap == 0 ? 128 : o->cap;
		while (cap - o->len <= n)
			cap *= 2;
		o->s = xrealloc(o->s, cap);
		o->cap = cap;
	}
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

#define out_lit(o, lit)	out_add((o), (lit), sizeof(lit) - 1)

/*
 * Length of the UTF-8 sequence at p (Unicode table 3-7: no overlongs, no
 * surrogates, nothing above U+10FFFF).  On an ill-formed sequence, sets
 * *ok = 0 and returns the length of its maximal subpart, the unit that
 * one U+FFFD replaces.
 */
static size_t
utf8_seq(const unsigned char *p, size_t n, int *ok)
{
	unsigned char	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*ok = 0;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*ok = 0;
			return i;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*ok = 1;
	return need + 1;
}

/* A JSON string literal holding str (cut at max input bytes). */
static void
out_json_string(struct out *o, const char *str, size_t max)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[6];
	size_t			 n, i, start, seq, back;
	int			 ok;

	n = strnlen(str, max + 1);
	if (n > max) {
		/* Do not cut a character in two: that would add a U+FFFD. */
		n = max;
		for (back = 0; back < 3 && n > 0 && (s[n] & 0xc0) == 0x80;
		    back++)
			n--;
	}
	out_lit(o, "\"");
	for (i = start = 0; i < n;) {
		if (s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
		    s[i] != '\\') {
			i++;
			continue;
		}
		seq = 1;
		if (s[i] >= 0x80) {
			seq = utf8_seq(s + i, n - i, &ok);
			if (ok) {
				i += seq;
				continue;
			}
		}
		out_add(o, s + start, i - start);
		switch (s[i]) {
		case '"':
			out_lit(o, "\\\"");
			break;
		case '\\':
			out_lit(o, "\\\\");
			break;
		case '\b':
			out_lit(o, "\\b");
			break;
		case '\f':
			out_lit(o, "\\f");
			break;
		case '\n':
			out_lit(o, "\\n");
			break;
		case '\r':
			out_lit(o, "\\r");
			break;
		case '\t':
			out_lit(o, "\\t");
			break;
		default:
			if (s[i] >= 0x80) {
				out_lit(o, "\xef\xbf\xbd");	/* U+FFFD */
				break;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 0xf];
			out_add(o, esc, sizeof(esc));
			break;
		}
		i += seq;
		start = i;
	}
	out_add(o, s + start, i - start);
	out_lit(o, "\"");
}

static int
out_body(struct out *o, const char *ctx, size_t ctxlen,
    const struct beckn_nack *nack)
{
	if (nack != NULL && nack->code == NULL)
		return -1;
	if (ctx != NULL) {
		if (ctxlen < 2 || ctx[0] != '{' || ctx[ctxlen - 1] != '}')
			return -1;
		out_lit(o, "{\"context\":");
		out_add(o, ctx, ctxlen);
		out_lit(o, ",");
	} else
		out_lit(o, "{");
	if (nack == NULL) {
		out_lit(o, ACK_TAIL);
		return o->failed ? -1 : 0;
	}
	out_lit(o, NACK_HEAD);
	out_json_string(o, nack->code, BECKN_ERR_TEXT_MAX);
	if (nack->paths != NULL) {
		out_lit(o, ",\"paths\":");
		out_json_string(o, nack->paths, BECKN_ERR_TEXT_MAX);
	}
	if (nack->message != NULL) {
		out_lit(o, ",\"message\":");
		out_json_string(o, nack->message, BECKN_ERR_TEXT_MAX);
	}
	out_lit(o, "}}");
	return o->failed ? -1 : 0;
}

const struct beckn_error *
beckn_error_get(enum beckn_err e)
{
	if ((unsigned)e >= BECKN_ERR_COUNT)
		e = BECKN_ERR_INTERNAL;
	return &errors[e];
}

int
beckn_ack_write(struct evbuffer *evb)
{
	if (evb == NULL)
		return -1;
	return evbuffer_add(evb, ACK_BODY, sizeof(ACK_BODY) - 1);
}

int
beckn_ack_write_ctx(struct evbuffer *evb, const char *ctx, size_t ctxlen,
    const struct beckn_nack *nack)
{
	struct out	 o = { .evb = evb };

	if (evb == NULL)
		return -1;
	return out_body(&o, ctx, ctxlen, nack);
}

int
beckn_nack_write(struct evbuffer *evb, const char *code, const char *paths,
    const char *message)
{
	struct beckn_nack	 nack = { code, paths, message };

	return beckn_ack_write_ctx(evb, NULL, 0, &nack);
}

int
beckn_error_write(struct evbuffer *evb, enum beckn_err e, const char *paths,
    const char *message)
{
	const struct beckn_error	*be = beckn_error_get(e);

	return beckn_nack_write(evb, be->code, paths,
	    message != NULL ? message : be->message);
}

char *
beckn_ack_string(const char *ctx, size_t ctxlen,
    const struct beckn_nack *nack, size_t *lenp)
{
	struct out	 o = { .evb = NULL };

	if (out_body(&o, ctx, ctxlen, nack) == -1) {
		free(o.s);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = o.len;
	return o.s;
}

void
beckn_paths_init(struct beckn_paths *pb, char *buf, size_t size)
{
	pb->buf = buf;
	pb->size = size;
	pb->len = 0;
	pb->n = 0;
	pb->dropped = 0;
	if (buf != NULL && size > 0)
		buf[0] = '\0';
}

int
beckn_paths_add(struct beckn_paths *pb, const char *ptr)
{
	const char	*p, *q, *end;
	size_t		 plen, need;

	plen = strlen(ptr);
	if (pb->n > 0) {
		/* Several keywords often fail at one location: list it once. */
		p = pb->buf;
		end = pb->buf + pb->len;
		for (;;) {
			q = memchr(p, ',', (size_t)(end - p));
			if ((size_t)((q != NULL ? q : end) - p) == plen &&
			    memcmp(p, ptr, plen) == 0)
				return 0;
			if (q == NULL)
				break;
			p = q + 1;
		}
	}
	need = plen + (pb->n > 0 ? 1 : 0);
	if (pb->buf == NULL || pb->size - pb->len <= need) {
		pb->dropped++;
		return -1;
	}
	if (pb->n > 0)
		pb->buf[pb->len++] = ',';
	memcpy(pb->buf + pb->len, ptr, plen);
	pb->len += plen;
	pb->buf[pb->len] = '\0';
	pb->n++;
	return 0;
}

/* A peer's answer is small; anything deeper is not an ACK body. */
#define ACK_DEPTH_MAX	16

int
beckn_reply_parse(const char *body, size_t len, struct beckn_reply *r)
{
	struct json_tokener	*tok;
	json_object		*msg, *ack, *err;
	const char		*st;

	memset(r, 0, sizeof(*r));
	r->status = BECKN_REPLY_NONE;
	if (body == NULL || len > (size_t)0x7fffffff ||
	    (tok = json_tokener_new_ex(ACK_DEPTH_MAX)) == NULL)
		return r->status;
	r->root = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(r->root, json_type_object)) {
		json_tokener_free(tok);
		beckn_reply_clear(r);
		return r->status;
	}
	json_tokener_free(tok);
	if (!json_object_object_get_ex(r->root, "message", &msg) ||
	    !json_object_object_get_ex(msg, "ack", &ack) ||
	    (st = json_str(ack, "status")) == NULL)
		return r->status;
	if (strcmp(st, "ACK") == 0)
		r->status = BECKN_REPLY_ACK;
	else if (strcmp(st, "NACK") == 0)
		r->status = BECKN_REPLY_NACK;
	if (json_object_object_get_ex(r->root, "error", &err) &&
	    json_object_is_type(err, json_type_object)) {
		r->code = json_str(err, "code");
		r->message = json_str(err, "message");
		r->paths = json_str(err, "paths");
		r->type = json_str(err, "type");
	}
	return r->status;
}

void
beckn_reply_clear(struct beckn_reply *r)
{
	json_object_put(r->root);
	memset(r, 0, sizeof(*r));
}

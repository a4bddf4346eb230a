/*
 * registry_record.c - parse subscriber records; registry_record_check(),
 * the one matching rule of the registry client, the /lookup server and
 * the proxy.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "registry/registry_record.h"
#include "sig/sig_key.h"
#include "util/log.h"
#include "util/rfc3339.h"
#include "util/xmalloc.h"

#define JSON_DEPTH_MAX	32

/* Response field names for the key id, in order of preference. */
static const char *const key_id_names[] = {
	"ukId", "unique_key_id", "key_id", "pub_key_id",
};

struct registry_record *
registry_record_ref(struct registry_record *r)
{
	r->refcnt++;
	return r;
}

void
registry_record_unref(struct registry_record *r)
{
	if (r == NULL || --r->refcnt > 0)
		return;
	free(r->subscriber_id);
	free(r->url);
	free(r->type);
	free(r->domain);
	free(r->key_id);
	free(r->signing_public_key);
	free(r->encr_public_key);
	free(r->status);
	free(r->valid_from);
	free(r->valid_until);
	sig_key_free(r->key);
	free(r->json);
	free(r);
}

struct registry_recset *
registry_recset_ref(struct registry_recset *s)
{
	s->refcnt++;
	return s;
}

void
registry_recset_unref(struct registry_recset *s)
{
	size_t	 i;

	if (s == NULL || --s->refcnt > 0)
		return;
	for (i = 0; i < s->n; i++)
		registry_record_unref(s->recs[i]);
	free(s->recs);
	free(s);
}

static struct registry_recset *
recset_new(size_t cap)
{
	struct registry_recset	*s;

	s = xcalloc(1, sizeof(*s));
	s->refcnt = 1;
	s->recs = xcalloc(cap == 0 ? 1 : cap, sizeof(*s->recs));
	return s;
}

int
registry_time_parse(const char *s, int64_t *ms)
{
	return rfc3339_parse(s, 0, ms);
}

/*
 * A string member: 0 and *out (xstrdup'd, NULL if absent or null), or -1
 * when present with another type.
 */
static int
get_str(struct json_object *o, const char *name, char **out)
{
	struct json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = xstrndup(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
	return 0;
}

/* First present of several names. */
static int
get_str_any(struct json_object *o, const char *const *names, size_t n,
    char **out, const char **bad)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (get_str(o, names[i], out) == -1) {
			*bad = names[i];
			return -1;
		}
		if (*out != NULL)
			return 0;
	}
	return 0;
}

static struct registry_record *
record_parse(struct json_object *o, const char *what, size_t idx)
{
	static const char *const url_names[] = { "subscriber_url", "url" };
	struct registry_record	*r;
	const char		*bad = NULL;
	char			 err[128];

	if (!json_object_is_type(o, json_type_object)) {
		log_warn("registry: %s: record %zu is not an object, skipped",
		    what, idx);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->refcnt = 1;
	r->valid_from_ms = INT64_MIN;
	r->valid_until_ms = INT64_MAX;
	if (get_str(o, bad = "subscriber_id", &r->subscriber_id) == -1 ||
	    get_str(o, bad = "type", &r->type) == -1 ||
	    get_str(o, bad = "domain", &r->domain) == -1 ||
	    get_str(o, bad = "signing_public_key",
	    &r->signing_public_key) == -1 ||
	    get_str(o, bad = "encr_public_key", &r->encr_public_key) == -1 ||
	    get_str(o, bad = "status", &r->status) == -1 ||
	    get_str(o, bad = "valid_from", &r->valid_from) == -1 ||
	    get_str(o, bad = "valid_until", &r->valid_until) == -1 ||
	    get_str_any(o, url_names, 2, &r->url, &bad) == -1 ||
	    get_str_any(o, key_id_names, sizeof(key_id_names) /
	    sizeof(key_id_names[0]), &r->key_id, &bad) == -1) {
		log_warn("registry: %s: record %zu: \"%s\" is not a string, "
		    "skipped", what, idx, bad);
		goto fail;
	}
	if (r->subscriber_id == NULL || *r->subscriber_id == '\0') {
		log_warn("registry: %s: record %zu has no subscriber_id, "
		    "skipped", what, idx);
		goto fail;
	}
	if (r->valid_from != NULL &&
	    registry_time_parse(r->valid_from, &r->valid_from_ms) == -1) {
		log_warn("registry: %s: record %zu (%s): bad valid_from, "
		    "skipped", what, idx, r->subscriber_id);
		goto fail;
	}
	if (r->valid_until != NULL &&
	    registry_time_parse(r->valid_until, &r->valid_until_ms) == -1) {
		log_warn("registry: %s: record %zu (%s): bad valid_until, "
		    "skipped", what, idx, r->subscriber_id);
		goto fail;
	}
	/* Parse the key once here so that verification costs no parsing. */
	if (r->signing_public_key != NULL &&
	    (r->key = sig_key_public_parse(r->signing_public_key,
	    strlen(r->signing_public_key), err, sizeof(err))) == NULL)
		log_warn("registry: %s: record %zu (%s, key %s): "
		    "signing_public_key: %s", what, idx, r->subscriber_id,
		    r->key_id != NULL ? r->key_id : "-", err);
	r->json = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return r;
fail:
	registry_record_unref(r);
	return NULL;
}

struct registry_recset *
registry_recset_parse(const char *buf, size_t len, const char *what,
    char *err, size_t errlen)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*root = NULL;
	struct registry_recset	*s = NULL;
	struct registry_record	*r;
	enum json_tokener_error	 jerr;
	size_t			 i, n, off;

	if ((tok = json_tokener_new_ex(JSON_DEPTH_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (len > (size_t)0x7fffffff ||
	    json_tokener_get_error(tok) != json_tokener_success) {
		jerr = json_tokener_get_error(tok);
		snprintf(err, errlen, "malformed JSON: %s",
		    len > (size_t)0x7fffffff ? "too large" :
		    jerr == json_tokener_continue ? "unexpected end of input" :
		    json_tokener_error_desc(jerr));
		goto done;
	}
	for (off = json_tokener_get_parse_end(tok); off < len; off++)
		if (!isspace((unsigned char)buf[off])) {
			snprintf(err, errlen, "malformed JSON: trailing data");
			goto done;
		}
	if (!json_object_is_type(root, json_type_array)) {
		snprintf(err, errlen, "not a JSON array");
		goto done;
	}
	n = json_object_array_length(root);
	s = recset_new(n);
	for (i = 0; i < n; i++)
		if ((r = record_parse(json_object_array_get_idx(root, i), what,
		    i)) != NULL)
			s->recs[s->n++] = r;
done:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return s;
}

/* Usability at m->now_ms; 0, or -1 and a reason. */
static int
usable(const struct registry_record *r, const struct registry_match *m,
    char *why, size_t whylen)
{
	if (r->status != NULL && strcmp(r->status, "SUBSCRIBED") != 0) {
		snprintf(why, whylen, "status is %.64s, not SUBSCRIBED",
		    r->status);
		return -1;
	}
	if (m->now_ms < r->valid_from_ms) {
		snprintf(why, whylen, "not valid before %.40s", r->valid_from);
		return -1;
	}
	if (m->now_ms >= r->valid_until_ms) {
		snprintf(why, whylen, "expired at %.40s (valid_until)",
		    r->valid_until);
		return -1;
	}
	if (m->need_key && r->key == NULL) {
		snprintf(why, whylen, r->signing_public_key == NULL ?
		    "record has no signing_public_key" :
		    "signing_public_key is not a valid ed25519 public key");
		return -1;
	}
	return 0;
}

enum registry_verdict
registry_record_check(const struct registry_record *r,
    const struct registry_match *m, char *why, size_t whylen)
{
	char	 none[1];

	if (why == NULL || whylen == 0) {
		why = none;
		whylen = sizeof(none);
	}
	why[0] = '\0';
	if (m->subscriber_id != NULL &&
	    strcmp(m->subscriber_id, r->subscriber_id) != 0) {
		snprintf(why, whylen, "subscriber %.100s, not %.100s",
		    r->subscriber_id, m->subscriber_id);
		return REGISTRY_OTHER;
	}
	if (m->key_id != NULL && r->key_id != NULL &&
	    strcmp(m->key_id, r->key_id) != 0) {
		snprintf(why, whylen, "key id %.64s, not %.64s", r->key_id,
		    m->key_id);
		return REGISTRY_OTHER;
	}
	/* Registries and hand-written files spell types either way. */
	if (m->type != NULL && r->type == NULL) {
		snprintf(why, whylen, "registered without a type, not as "
		    "%.32s", m->type);
		return REGISTRY_OTHER;
	}
	if (m->type != NULL && strcasecmp(m->type, r->type) != 0) {
		snprintf(why, whylen, "registered as %.32s, not %.32s",
		    r->type, m->type);
		return REGISTRY_OTHER;
	}
	if (m->domain != NULL && r->domain != NULL &&
	    strcmp(m->domain, r->domain) != 0) {
		snprintf(why, whylen, "registered for domain %.100s, not "
		    "%.100s", r->domain, m->domain);
		return REGISTRY_OTHER;
	}
	if (!m->any_status && usable(r, m, why, whylen) == -1)
		return REGISTRY_UNUSABLE;
	return REGISTRY_MATCH;
}

struct registry_recset *
registry_recset_filter(const struct registry_recset *s,
    const struct registry_match *m)
{
	struct registry_recset	*out;
	size_t			 i;

	out = recset_new(s->n);
	for (i = 0; i < s->n; i++)
		if (registry_record_check(s->recs[i], m, NULL, 0) ==
		    REGISTRY_MATCH)
			out->recs[out->n++] = registry_record_ref(s->recs[i]);
	return out;
}

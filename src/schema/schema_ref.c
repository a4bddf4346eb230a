/*
 * schema_ref.c - $ref resolution: JSON pointers and relative files.
 *
 * A pointer is walked segment by segment (RFC 6901: ~1 is '/', ~0 is '~',
 * after URI percent-decoding of the fragment).  Unlike a strict RFC 6901
 * resolver, when a segment is missing from an object that is itself a
 * {"$ref": ...}, the ref is followed and the walk continues in its target:
 * published specs point "through" refs (core 1.1.0 meta.yaml has
 * #/paths/.../allOf/0/properties/location where allOf/0 is a $ref).  Refs
 * followed this way are bounded (REF_MAX_DEPTH), which is how a cycle of
 * pointers is reported instead of looped on.
 *
 * "file.yaml#/ptr" is read relative to the directory of the referring
 * document and loaded once per set (relative to a built-in document it
 * names another built-in one, never a file).  The draft-04 meta-schema's
 * URI maps to its built-in copy.  Anything else (other http: or urn: URIs,
 * plain "#anchor" names) is refused with a clear error.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"
#include "util/hex.h"
#include "util/xmalloc.h"

#define REF_MAX_DEPTH	32

/* Decode one segment [s, e) into buf. -1 on a bad escape. */
static int
segment(const char *s, const char *e, char *buf, size_t len)
{
	size_t	 n = 0;
	int	 hi, lo, c;

	while (s < e) {
		c = (unsigned char)*s++;
		if (c == '%' && e - s >= 2 && (hi = hex_digit(s[0])) >= 0 &&
		    (lo = hex_digit(s[1])) >= 0) {
			c = hi * 16 + lo;
			s += 2;
		}
		if (c == '~') {
			if (s < e && *s == '0')
				c = '~';
			else if (s < e && *s == '1')
				c = '/';
			else
				return -1;
			s++;
		}
		if (n + 1 >= len)
			return -1;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return 0;
}

static int
array_index(const char *s, size_t *idx)
{
	size_t	 v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || v > 100000000)
			return -1;
		v = v * 10 + (size_t)(*s - '0');
	}
	*idx = v;
	return 0;
}

json_object *
sref_pointer(struct schema_set *set, struct sdoc *doc, const char *ptr,
    struct sdoc **outdoc, int depth, char *err, size_t errlen)
{
	json_object	*cur = doc->root, *next, *r;
	struct sdoc	*curdoc = doc;
	const char	*s, *e;
	char		 seg[512];
	size_t		 idx;

	if (depth > REF_MAX_DEPTH) {
		snprintf(err, errlen, "%s:%d: $ref cycle (or chain deeper "
		    "than %d) resolving '#%s'", doc->path,
		    sdoc_line(doc, NULL, ptr), REF_MAX_DEPTH, ptr);
		return NULL;
	}
	if (*ptr != '\0' && *ptr != '/') {
		snprintf(err, errlen, "%s:%d: unsupported $ref fragment '#%s' "
		    "(only JSON pointers)", doc->path,
		    sdoc_line(doc, NULL, ptr), ptr);
		return NULL;
	}
	for (s = ptr; *s == '/'; s = e) {
		s++;
		if ((e = strchr(s, '/')) == NULL)
			e = s + strlen(s);
		if (segment(s, e, seg, sizeof(seg)) == -1) {
			snprintf(err, errlen, "%s:%d: bad escape in $ref "
			    "'#%s'", doc->path, sdoc_line(doc, NULL, ptr),
			    ptr);
			return NULL;
		}
		for (;;) {
			next = NULL;
			if (json_object_is_type(cur, json_type_object))
				json_object_object_get_ex(cur, seg, &next);
			else if (json_object_is_type(cur, json_type_array) &&
			    array_index(seg, &idx) == 0 &&
			    idx < json_object_array_length(cur))
				next = json_object_array_get_idx(cur, idx);
			if (next != NULL)
				break;
			/* pass through an intermediate $ref */
			if (json_object_is_type(cur, json_type_object) &&
			    json_object_object_get_ex(cur, "$ref", &r) &&
			    json_object_is_type(r, json_type_string)) {
				if (++depth > REF_MAX_DEPTH) {
					snprintf(err, errlen, "%s:%d: $ref cycle "
					    "(or chain deeper than %d) "
					    "resolving '#%s'", doc->path,
					    sdoc_line(doc, NULL, ptr),
					    REF_MAX_DEPTH, ptr);
					return NULL;
				}
				cur = sref_resolve_depth(set, curdoc,
				    json_object_get_string(r), &curdoc,
				    depth, err, errlen);
				if (cur == NULL)
					return NULL;
				continue;
			}
			snprintf(err, errlen, "%s:%d: $ref '#%s' does not "
			    "resolve: no '%s'", doc->path,
			    sdoc_line(doc, NULL, ptr), ptr, seg);
			return NULL;
		}
		cur = next;
	}
	*outdoc = curdoc;
	return cur;
}

json_object *
sref_resolve_depth(struct schema_set *set, struct sdoc *doc, const char *ref,
    struct sdoc **outdoc, int depth, char *err, size_t errlen)
{
	const char	*hash, *builtin;
	struct sdoc	*target = doc;
	char		*file, *path, *slash;
	size_t		 flen;

	if (ref == NULL) {
		snprintf(err, errlen, "%s:0: $ref is not a string", doc->path);
		return NULL;
	}
	hash = strchr(ref, '#');
	flen = hash != NULL ? (size_t)(hash - ref) : strlen(ref);
	if (flen > 0) {
		file = xstrndup(ref, flen);
		builtin = sbuiltin_uri(file);
		if (builtin == NULL && (strchr(file, ':') != NULL ||
		    file[0] == '/' || strncmp(file, "//", 2) == 0)) {
			snprintf(err, errlen, "%s:%d: unsupported $ref '%s' "
			    "(only local and relative file refs and the "
			    "draft-04 meta-schema)", doc->path,
			    sdoc_line(doc, NULL, ref), ref);
			free(file);
			return NULL;
		}
		if (builtin != NULL)
			path = xstrdup(builtin);
		else if ((slash = strrchr(doc->path, '/')) != NULL)
			xasprintf(&path, "%.*s/%s",
			    (int)(slash - doc->path), doc->path, file);
		else if (strncmp(doc->path, SBUILTIN_PREFIX,
		    strlen(SBUILTIN_PREFIX)) == 0)
			xasprintf(&path, "%s%s", SBUILTIN_PREFIX, file);
		else
			path = xstrdup(file);
		free(file);
		target = sdoc_load(set, path, err, errlen);
		if (target == NULL) {
			char	inner[512];

			snprintf(inner, sizeof(inner), "%s", err);
			snprintf(err, errlen, "%s:%d: $ref '%s': %s", doc->path,
			    sdoc_line(doc, NULL, ref), ref, inner);
			free(path);
			return NULL;
		}
		free(path);
		/* The meta-schema is draft-04 whoever refers to it. */
		target->dialect = builtin != NULL ? DIALECT_JSONSCHEMA :
		    doc->dialect;
	}
	return sref_pointer(set, target, hash != NULL ? hash + 1 : "",
	    outdoc, depth, err, errlen);
}

json_object *
sref_resolve(struct schema_set *set, struct sdoc *doc, const char *ref,
    struct sdoc **outdoc, char *err, size_t errlen)
{
	return sref_resolve_depth(set, doc, ref, outdoc, 0, err, errlen);
}

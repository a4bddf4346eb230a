/*
 * schema_error.c - the bounded, document-ordered error list.
 *
 * Each error carries the position of its instance in the document (the
 * index of every object member and array element on the way down).  When
 * the list is full, a new error replaces the last one in document order
 * if it comes earlier, so the list always holds the first
 * SCHEMA_ERRORS_MAX errors of the document; serr_sort() orders them
 * (stable: errors at the same place keep their emission order).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema_int.h"

static int
pos_cmp(const struct schema_error *a, const struct schema_error *b)
{
	unsigned	 i;

	for (i = 0; i < a->npos && i < b->npos; i++)
		if (a->pos[i] != b->pos[i])
			return a->pos[i] < b->pos[i] ? -1 : 1;
	if (a->npos != b->npos)
		return a->npos < b->npos ? -1 : 1;
	return 0;
}

void
serr_add(struct schema_errors *errs, const char *path, const unsigned *pos,
    unsigned npos, const char *keyword, const char *fmt, ...)
{
	struct schema_error	*e, tmp;
	va_list			 ap;
	size_t			 i, last;

	if (errs == NULL)
		return;
	memset(&tmp, 0, sizeof(tmp));
	tmp.npos = npos > 16 ? 16 : npos;
	memcpy(tmp.pos, pos, tmp.npos * sizeof(*pos));
	if (errs->n == SCHEMA_ERRORS_MAX) {
		errs->truncated = 1;
		for (last = 0, i = 1; i < errs->n; i++)
			if (pos_cmp(&errs->e[i], &errs->e[last]) >= 0)
				last = i;
		if (pos_cmp(&tmp, &errs->e[last]) >= 0)
			return;
		/* drop `last`, keep emission order of the rest */
		memmove(&errs->e[last], &errs->e[last + 1],
		    (errs->n - last - 1) * sizeof(errs->e[0]));
		errs->n--;
	}
	e = &errs->e[errs->n++];
	*e = tmp;
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->keyword, sizeof(e->keyword), "%s", keyword);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void
serr_sort(struct schema_errors *errs)
{
	struct schema_error	tmp;
	size_t			i, j;

	for (i = 1; i < errs->n; i++) {
		if (pos_cmp(&errs->e[i - 1], &errs->e[i]) <= 0)
			continue;
		tmp = errs->e[i];
		for (j = i; j > 0 && pos_cmp(&errs->e[j - 1], &tmp) > 0; j--)
			errs->e[j] = errs->e[j - 1];
		errs->e[j] = tmp;
	}
}

/* A short rendering of a value for messages: strings quoted, cut at 60. */
void
serr_value(char *buf, size_t len, json_object *v)
{
	const char	*s;
	size_t		 n, i, o;

	switch (json_object_get_type(v)) {
	case json_type_null:
		snprintf(buf, len, "null");
		break;
	case json_type_boolean:
		snprintf(buf, len, "%s", json_object_get_boolean(v) ?
		    "true" : "false");
		break;
	case json_type_int:
		snprintf(buf, len, "%lld", (long long)json_object_get_int64(v));
		break;
	case json_type_double:
		snprintf(buf, len, "%.17g", json_object_get_double(v));
		break;
	case json_type_string:
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (len < 8) {
			snprintf(buf, len, "\"\"");
			break;
		}
		i = n;
		if (i > 60)
			i = 60;
		if (i > len - 6)
			i = len - 6;
		/* do not cut a UTF-8 sequence in half */
		while (i > 0 && i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i--;
		o = 0;
		buf[o++] = '"';
		for (size_t k = 0; k < i; k++)
			buf[o++] = (unsigned char)s[k] < 0x20 ? '?' : s[k];
		if (i < n) {
			buf[o++] = '.';
			buf[o++] = '.';
			buf[o++] = '.';
		}
		buf[o++] = '"';
		buf[o] = '\0';
		break;
	case json_type_array:
		snprintf(buf, len, "an array");
		break;
	case json_type_object:
		snprintf(buf, len, "an object");
		break;
	}
}

json_object *
schema_errors_json(const struct schema_errors *errs)
{
	json_object	*arr = json_object_new_array(), *o;
	size_t		 i;

	for (i = 0; i < errs->n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "path",
		    json_object_new_string(errs->e[i].path));
		json_object_object_add(o, "keyword",
		    json_object_new_string(errs->e[i].keyword));
		json_object_object_add(o, "message",
		    json_object_new_string(errs->e[i].message));
		json_object_array_add(arr, o);
	}
	return arr;
}

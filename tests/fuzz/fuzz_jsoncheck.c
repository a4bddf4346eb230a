/*
 * fuzz_jsoncheck.c - libFuzzer target for util/jsoncheck, with json-c as
 * the oracle.  The input is the text.  For every input:
 *
 *   - jsoncheck() never crashes, and answers the same with and without
 *     an error record; a refusal has offset <= len, a non-empty reason
 *     and a path that is a JSON pointer in valid UTF-8 (json-c escapes
 *     it into a string that jsoncheck passes);
 *   - with tight limits derived from the length it refuses no later
 *     than with the defaults, only for a limit unless it refuses exactly
 *     as with the defaults, and never passes what the defaults refuse;
 *   - when it passes: json-c's strict tokener (depth 64, as the proxy
 *     runs it) parses the text; json-c's tree holds as many members as
 *     the text has ':' outside strings (no member name was merged with
 *     another: duplicates, names cut at U+0000); and json-c's
 *     serialisation of the tree, in one of five styles, passes too.
 *
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make fuzz && tests/fuzz/fuzz_jsoncheck -max_total_time=60 \
 *       corpus-jsoncheck tests/data/jsoncheck/fuzz-seeds
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/jsoncheck.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_jsoncheck: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* ':' outside strings: the members of a text jsoncheck passed. */
static size_t
text_members(const char *s, size_t len)
{
	size_t	 i, n = 0;
	int	 in = 0;

	for (i = 0; i < len; i++) {
		if (in) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in = 0;
		} else if (s[i] == '"')
			in = 1;
		else if (s[i] == ':')
			n++;
	}
	return n;
}

static size_t
tree_members(json_object *o)
{
	size_t	 n = 0, i, len;

	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			n += 1 + tree_members(v);
		}
		return n;
	}
	case json_type_array:
		len = json_object_array_length(o);
		for (i = 0; i < len; i++)
			n += tree_members(json_object_array_get_idx(o, i));
		return n;
	default:
		return 0;
	}
}

static int
is_limit(const struct jsoncheck_error *e)
{
	return strncmp(e->reason, "more than ", 10) == 0 ||
	    strncmp(e->reason, "nested deeper than ", 19) == 0;
}

static void
check_error(const struct jsoncheck_error *e, size_t len)
{
	json_object	*s;
	const char	*js;
	size_t		 jl;

	CHECK(e->offset <= len);
	CHECK(memchr(e->path, '\0', sizeof(e->path)) != NULL);
	CHECK(memchr(e->reason, '\0', sizeof(e->reason)) != NULL);
	CHECK(e->reason[0] != '\0');
	CHECK(e->path[0] == '\0' || e->path[0] == '/');
	s = json_object_new_string(e->path);
	js = json_object_to_json_string_length(s, JSON_C_TO_STRING_PLAIN, &jl);
	CHECK(jsoncheck(js, jl, NULL, NULL) == 0);
	json_object_put(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 styles[] = { JSON_C_TO_STRING_PLAIN,
	    JSON_C_TO_STRING_SPACED, JSON_C_TO_STRING_PRETTY,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB,
	    JSON_C_TO_STRING_NOSLASHESCAPE };
	struct jsoncheck_limits	 tight;
	struct jsoncheck_error	 e, te;
	const char		*text = (const char *)data, *out;
	json_tokener		*tok;
	json_object		*o;
	char			*z;
	size_t			 outlen;
	int			 rc, trc;

	if (size > 1 << 20)
		return 0;
	rc = jsoncheck(text, size, NULL, &e);
	CHECK(jsoncheck(text, size, NULL, NULL) == rc);
	if (rc != 0)
		check_error(&e, size);

	tight.max_nodes = size % 23;
	tight.max_depth = (unsigned)(size % 7);
	trc = jsoncheck(text, size, &tight, &te);
	if (trc == 0)
		CHECK(rc == 0);
	else {
		check_error(&te, size);
		if (rc != 0)
			CHECK(te.offset <= e.offset);
		if (!is_limit(&te)) {
			CHECK(rc != 0);
			CHECK(te.offset == e.offset);
			CHECK(strcmp(te.path, e.path) == 0);
			CHECK(strcmp(te.reason, e.reason) == 0);
		}
	}
	if (rc != 0)
		return 0;

	/* Passed: json-c must agree, NUL-terminated as it likes numbers. */
	if ((z = malloc(size + 1)) == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	tok = json_tokener_new_ex(JSONCHECK_MAX_DEPTH_DEFAULT);
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, z, (int)size + 1);
	CHECK(json_tokener_get_error(tok) == json_tokener_success);
	json_tokener_free(tok);
	CHECK(tree_members(o) == text_members(text, size));
	out = json_object_to_json_string_length(o,
	    styles[size % (sizeof(styles) / sizeof(styles[0]))], &outlen);
	CHECK(out != NULL);
	if (jsoncheck(out, outlen, NULL, &e) != 0) {
		fprintf(stderr, "fuzz_jsoncheck: json-c wrote %s: at %zu "
		    "'%s': %s\n", out, e.offset, e.path, e.reason);
		abort();
	}
	json_object_put(o);
	free(z);
	return 0;
}

/*
 * fuzz_schema.c - libFuzzer target for the schema module.
 *
 * Input byte 0 picks the mode:
 *   even: the rest is a JSON message; it is parsed and validated against
 *         the project's core + ONEST schemas (all formats asserted, and
 *         once more by URL action "on_search" with any version);
 *   odd:  the rest is a spec document (YAML or JSON) loaded as an OpenAPI
 *         spec and as a plain JSON Schema; a loaded schema then validates
 *         the document's own JSON parse, when it has one.
 *
 * Specs are read from $BECKND_SRCDIR/schemas (default: ./schemas).
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make fuzz && tests/fuzz/fuzz_schema -max_total_time=60 \
 *       tests/data/schema/fuzz-seeds
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "schema/schema.h"
#include "util/xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct schema_set	*core;
static struct schema_errors	 errs;

static void
load_core(void)
{
	const char	*src = getenv("BECKND_SRCDIR");
	char		*f[3], err[512];
	size_t		 i;

	if (src == NULL)
		src = ".";
	xasprintf(&f[0], "%s/schemas/core/transaction.yaml", src);
	xasprintf(&f[1], "%s/schemas/core/meta.yaml", src);
	xasprintf(&f[2], "%s/schemas/onest/onest-policy.yaml", src);
	core = schema_set_load((const char *const *)f, 3, SCHEMA_LOAD_OPENAPI,
	    err, sizeof(err));
	if (core == NULL) {
		fprintf(stderr, "fuzz_schema: %s\n", err);
		abort();
	}
	for (i = 0; i < 3; i++)
		free(f[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schema_opts	 all = { SCHEMA_FMT_ALL, 0 };
	struct schema_opts	 any = { SCHEMA_FMT_ALL, SCHEMA_OPT_ANY_VERSION };
	struct schema_set	*set;
	json_tokener		*tok;
	json_object		*v;
	char			 err[512];
	int			 mode;

	if (size < 1 || size > 1 << 20)
		return 0;
	if (core == NULL)
		load_core();
	mode = data[0] & 1;
	data++;
	size--;

	tok = json_tokener_new_ex(64);
	v = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);

	if (mode == 0) {
		if (v != NULL) {
			(void)schema_validate_action(core, NULL, v, &all,
			    &errs);
			(void)schema_validate_action(core, "on_search", v, &any,
			    &errs);
			json_object_put(schema_errors_json(&errs));
		}
	} else {
		set = schema_set_load_mem("fuzz.yaml", (const char *)data,
		    size, SCHEMA_LOAD_OPENAPI, err, sizeof(err));
		schema_set_free(set);
		set = schema_set_load_mem("fuzz.json", (const char *)data,
		    size, SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err));
		if (set != NULL && v != NULL)
			(void)schema_validate_json(set, v, &all, &errs);
		schema_set_free(set);
	}
	json_object_put(v);
	return 0;
}

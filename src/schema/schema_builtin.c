/*
 * schema_builtin.c - the documents compiled into the binary.
 *
 * The default schemas (core 1.1.0 transaction and meta, the ONEST layer)
 * are built in so that an uninstalled build or a bare container validates
 * without a `schemas:` key, and the JSON Schema draft-04 meta-schema is
 * built in so that schemas may "$ref" it by its well-known URI without
 * becknd ever fetching anything.  The bytes come from schemas/ at build
 * time (contrib/gen-builtin.sh); sdoc_load() looks "builtin:" names up
 * here instead of on disk, so the relative refs between the built-in
 * files resolve exactly as between the installed ones.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "schema/schema_int.h"

/* The set schema_set_load_builtin() loads, in this order. */
static const char *const builtin_set[] = {
	SBUILTIN_PREFIX "core/transaction.yaml",
	SBUILTIN_PREFIX "core/meta.yaml",
	SBUILTIN_PREFIX "onest/onest-policy.yaml",
};

#define META_DRAFT04	SBUILTIN_PREFIX "jsonschema/draft-04.json"

const struct sbuiltin *
sbuiltin_find(const char *name)
{
	const struct sbuiltin	*b;

	for (b = sbuiltin_docs; b->name != NULL; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/*
 * The built-in document standing for an absolute URI (a $ref without its
 * fragment), or NULL.  Scheme and host compare case-insensitively as URI
 * rules say; http and https name the same meta-schema in practice.
 */
const char *
sbuiltin_uri(const char *uri)
{
	static const char	 host[] = "json-schema.org";
	const char		*p;

	if (strncasecmp(uri, "http://", 7) == 0)
		p = uri + 7;
	else if (strncasecmp(uri, "https://", 8) == 0)
		p = uri + 8;
	else
		return NULL;
	if (strncasecmp(p, host, sizeof(host) - 1) != 0)
		return NULL;
	p += sizeof(host) - 1;
	if (strcmp(p, "/draft-04/schema") == 0)
		return META_DRAFT04;
	return NULL;
}

struct schema_set *
schema_set_load_builtin(char *err, size_t errlen)
{
	return schema_set_load(builtin_set,
	    sizeof(builtin_set) / sizeof(builtin_set[0]), SCHEMA_LOAD_OPENAPI,
	    err, errlen);
}

const char *
schema_builtin_name(void)
{
	return "built-in core 1.1.0 + ONEST layer (transaction.yaml, "
	    "meta.yaml, onest-policy.yaml)";
}

/*
 * check_schema_builtin.c - the documents compiled into becknd.
 *
 * The built-in bytes equal the files in schemas/ (so the binary cannot
 * drift from the tree), the built-in set gives the same verdicts and
 * errors as the same files loaded from disk on the project's own
 * fixtures, `becknd validate` without --spec uses it, and the draft-04
 * meta-schema resolves by its URI (http, https, with and without '#')
 * from JSON Schema and OpenAPI documents alike.  The DSEP examples and
 * the ONEST Postman collection are compared in check_schema_dsep.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "schema/schema.h"
#include "schema/schema_int.h"	/* sbuiltin_docs: the bytes themselves */
#include "testutil.h"
#include "util/xmalloc.h"

#define META_URI	"http://json-schema.org/draft-04/schema"

static const char *const own_files[] = {
	"schemas/core/transaction.yaml",
	"schemas/core/meta.yaml",
	"schemas/onest/onest-policy.yaml",
};
#define NOWN	(sizeof(own_files) / sizeof(own_files[0]))

static struct schema_set *
load_disk(void)
{
	char			*f[NOWN], err[512];
	struct schema_set	*set;
	size_t			 i;

	for (i = 0; i < NOWN; i++)
		xasprintf(&f[i], "%s/%s", test_srcdir(), own_files[i]);
	set = schema_set_load((const char *const *)f, NOWN,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	for (i = 0; i < NOWN; i++)
		free(f[i]);
	return set;
}

static struct schema_set *
load_builtin(void)
{
	struct schema_set	*set;
	char			 err[512];

	set = schema_set_load_builtin(err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	return set;
}

START_TEST(test_bytes_equal_files)
{
	static const char *const want[] = {
		"core/transaction.yaml", "core/meta.yaml",
		"onest/onest-policy.yaml", "jsonschema/draft-04.json",
	};
	const struct sbuiltin	*b;
	char			*path, *text;
	size_t			 i, len, n = 0;

	for (b = sbuiltin_docs; b->name != NULL; b++) {
		ck_assert_msg(strncmp(b->name, "builtin:", 8) == 0, "%s",
		    b->name);
		xasprintf(&path, "%s/schemas/%s", test_srcdir(), b->name + 8);
		text = test_read_file(path, &len);
		ck_assert_msg(len == b->len && memcmp(text, b->data, len) == 0,
		    "built-in %s differs from %s (%zu vs %zu bytes): rebuild",
		    b->name, path, b->len, len);
		ck_assert_ptr_eq(sbuiltin_find(b->name), b);
		free(text);
		free(path);
		n++;
	}
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		xasprintf(&path, "builtin:%s", want[i]);
		ck_assert_msg(sbuiltin_find(path) != NULL, "no %s", path);
		free(path);
	}
	ck_assert_ptr_null(sbuiltin_find("builtin:core/nope.yaml"));
	ck_assert_ptr_null(sbuiltin_find("core/meta.yaml"));
}
END_TEST

/* Both sets must say the same thing about body, error for error. */
static int
same_verdict(const struct schema_set *a, const struct schema_set *b,
    json_object *body, const struct schema_opts *o, const char *what)
{
	struct schema_errors	*ea = xcalloc(1, sizeof(*ea));
	struct schema_errors	*eb = xcalloc(1, sizeof(*eb));
	size_t			 i;
	int			 ra, rb;

	ra = schema_validate_action(a, NULL, body, o, ea);
	rb = schema_validate_action(b, NULL, body, o, eb);
	ck_assert_msg(ra == rb, "%s: disk %d, built-in %d", what, ra, rb);
	ck_assert_msg(ea->n == eb->n && ea->truncated == eb->truncated,
	    "%s: %zu vs %zu errors", what, ea->n, eb->n);
	for (i = 0; i < ea->n; i++) {
		ck_assert_str_eq(ea->e[i].path, eb->e[i].path);
		ck_assert_str_eq(ea->e[i].keyword, eb->e[i].keyword);
		ck_assert_str_eq(ea->e[i].message, eb->e[i].message);
	}
	free(ea);
	free(eb);
	return ra;
}

static void
ctx_set(json_object *msg, const char *key, const char *val)
{
	json_object	*ctx;

	ck_assert(json_object_object_get_ex(msg, "context", &ctx));
	if (val == NULL)
		json_object_object_del(ctx, key);
	else
		json_object_object_add(ctx, key, json_object_new_string(val));
}

/*
 * One fixture and a few broken variants of it: the fixture is valid, and
 * disk and built-in agree on every variant.  Returns the variants that
 * were refused.
 */
static size_t
compare_fixture(const struct schema_set *disk, const struct schema_set *bi,
    const char *path)
{
	static const struct schema_opts	 def = { SCHEMA_FMT_DEFAULT, 0 };
	static const struct schema_opts	 any = { SCHEMA_FMT_DEFAULT,
	    SCHEMA_OPT_ANY_VERSION };
	json_object			*m;
	char				*text;
	size_t				 refused = 0;

	text = test_read_file(path, NULL);
	ck_assert_msg((m = json_tokener_parse(text)) != NULL, "%s", path);
	free(text);
	ck_assert_msg(same_verdict(disk, bi, m, &def, path) == 0,
	    "%s is not valid", path);

	ctx_set(m, "version", "1.0.0");
	refused += same_verdict(disk, bi, m, &def, path) == -1;
	ck_assert_int_eq(same_verdict(disk, bi, m, &any, path), 0);
	ctx_set(m, "version", "1.1.0");
	ctx_set(m, "bap_id", NULL);
	ctx_set(m, "timestamp", "yesterday");
	refused += same_verdict(disk, bi, m, &def, path) == -1;
	ctx_set(m, "domain", "dsep:courses");
	same_verdict(disk, bi, m, &def, path);
	json_object_object_del(m, "message");
	json_object_object_add(m, "extra", json_object_new_int(1));
	refused += same_verdict(disk, bi, m, &any, path) == -1;
	json_object_put(m);
	return refused;
}

START_TEST(test_builtin_verdicts)
{
	struct schema_set	*disk = load_disk(), *bi = load_builtin();
	struct dirent		*de;
	DIR			*d;
	char			*dir, *path;
	size_t			 n = 0, refused = 0;

	ck_assert_ptr_nonnull(strstr(schema_builtin_name(), "built-in"));
	ck_assert_ptr_nonnull(strstr(schema_builtin_name(), "ONEST"));
	ck_assert(schema_set_has_action(bi, "search"));
	ck_assert(schema_set_has_action(bi, "rating_categories"));

	xasprintf(&path, "%s/tests/data/schema/onest-search.json",
	    test_srcdir());
	refused += compare_fixture(disk, bi, path);
	n++;
	free(path);
	xasprintf(&dir, "%s/tests/blackbox/fixtures", test_srcdir());
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".json") == NULL)
			continue;
		xasprintf(&path, "%s/%s", dir, de->d_name);
		refused += compare_fixture(disk, bi, path);
		n++;
		free(path);
	}
	closedir(d);
	free(dir);
	printf("built-in vs schemas/ on disk: %zu fixtures, %zu refused "
	    "variants, same errors\n", n, refused);
	ck_assert_uint_ge(n, 25);
	/* the version 1.0.0 and the broken-context variants at least */
	ck_assert_uint_ge(refused, 2 * n);
	schema_set_free(disk);
	schema_set_free(bi);
}
END_TEST

START_TEST(test_builtin_names)
{
	static const char	 spec[] = "openapi: 3.0.3\n"
	    "info: {title: t, version: 1.1.0}\npaths:\n  /x:\n    post:\n"
	    "      requestBody:\n        content:\n"
	    "          application/json:\n"
	    "            schema: {$ref: '../core/transaction.yaml#/components/"
	    "schemas/Context'}\n";
	const char		*files[1];
	struct schema_set	*set;
	char			 err[512];

	/* a built-in name never falls back to a file */
	files[0] = "builtin:core/nope.yaml";
	ck_assert_ptr_null(set = schema_set_load(files, 1,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err)));
	ck_assert_str_eq(err, "builtin:core/nope.yaml:0: no such built-in "
	    "document");
	/* relative refs from a built-in document stay built in */
	set = schema_set_load_mem("builtin:x/t.yaml", spec, sizeof(spec) - 1,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_ptr_null(set);
	ck_assert_ptr_nonnull(strstr(err, "builtin:x/../core/transaction.yaml"
	    ":0: no such built-in document"));
	set = schema_set_load_mem("builtin:t.yaml", spec, sizeof(spec) - 1,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_ptr_null(set);
	ck_assert_ptr_nonnull(strstr(err, "builtin:../core/transaction.yaml"
	    ":0: no such built-in document"));
}
END_TEST

/* Validate inst against a JSON Schema given as text. */
static int
vj(const char *schema, const char *inst)
{
	struct schema_set	*set;
	struct schema_errors	*e = xcalloc(1, sizeof(*e));
	json_object		*v;
	char			 err[512];
	int			 rc;

	set = schema_set_load_mem("meta.json", schema, strlen(schema),
	    SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err));
	ck_assert_msg(set != NULL, "load %s: %s", schema, err);
	ck_assert_msg((v = json_tokener_parse(inst)) != NULL, "%s", inst);
	rc = schema_validate_json(set, v, NULL, e);
	json_object_put(v);
	schema_set_free(set);
	free(e);
	return rc;
}

START_TEST(test_meta_schema)
{
	static const char *const refs[] = {
		"{\"$ref\":\"" META_URI "#\"}",
		"{\"$ref\":\"" META_URI "\"}",
		"{\"$ref\":\"https://json-schema.org/draft-04/schema#\"}",
		"{\"$ref\":\"HTTP://JSON-Schema.org/draft-04/schema#\"}",
		"{\"properties\":{\"s\":{\"$ref\":\"" META_URI "#\"}}}",
	};
	static const char *const good[] = {
		"{}", "{\"type\":\"object\"}",
		"{\"type\":[\"string\",\"null\"]}",
		"{\"minLength\":1}",
		"{\"definitions\":{\"foo\":{\"type\":\"integer\"}}}",
		"{\"items\":[{},{\"enum\":[1]}]}",
		"{\"maximum\":3,\"exclusiveMaximum\":true}",
		("{\"dependencies\":{\"a\":[\"b\"],"
		    "\"c\":{\"required\":[\"d\"]}}}"),
		"{\"additionalProperties\":false,\"not\":{\"multipleOf\":2}}",
	};
	static const char *const bad[] = {
		"{\"type\":5}", "{\"type\":\"text\"}",
		"{\"type\":[\"string\",\"string\"]}", "{\"minLength\":-1}",
		"{\"definitions\":{\"foo\":{\"type\":1}}}", "{\"required\":[]}",
		"{\"enum\":[]}", "{\"multipleOf\":0}", "{\"allOf\":[]}",
		"{\"exclusiveMinimum\":true}", "{\"properties\":{\"a\":3}}",
		"{\"additionalItems\":\"no\"}", "[]",
	};
	char		*wrap, *path, *text;
	size_t		 r, i;

	for (r = 0; r < sizeof(refs) / sizeof(refs[0]); r++) {
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			if (r == 4)
				xasprintf(&wrap, "{\"s\":%s}", good[i]);
			else
				wrap = xstrdup(good[i]);
			ck_assert_msg(vj(refs[r], wrap) == 0,
			    "%s should accept %s", refs[r], wrap);
			free(wrap);
		}
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (r == 4)
				xasprintf(&wrap, "{\"s\":%s}", bad[i]);
			else
				wrap = xstrdup(bad[i]);
			ck_assert_msg(vj(refs[r], wrap) == -1,
			    "%s should refuse %s", refs[r], wrap);
			free(wrap);
		}
	}
	/* a fragment into the meta-schema */
	ck_assert_int_eq(vj("{\"$ref\":\"" META_URI "#/definitions/count\"}",
	    "3"), 0);
	ck_assert_int_eq(vj("{\"$ref\":\"" META_URI "#/definitions/count\"}",
	    "-3"), -1);
	/* the meta-schema is a valid schema by its own rules */
	xasprintf(&path, "%s/schemas/jsonschema/draft-04.json", test_srcdir());
	text = test_read_file(path, NULL);
	ck_assert_int_eq(vj(refs[0], text), 0);
	free(text);
	free(path);
}
END_TEST

START_TEST(test_meta_schema_from_openapi)
{
	/* an OpenAPI 3.0 document refers to it: it still applies draft-04 */
	static const char spec[] = "openapi: 3.0.3\n"
	    "info: {title: t, version: 1.1.0}\npaths:\n  /x:\n    post:\n"
	    "      requestBody:\n        content:\n"
	    "          application/json:\n"
	    "            schema:\n              properties:\n"
	    "                schema: {$ref: '" META_URI "#'}\n";
	static const char	 other[] =
	    "{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}";
	struct schema_set	*set;
	struct schema_errors	*e = xcalloc(1, sizeof(*e));
	json_object		*v;
	char			 err[512];

	set = schema_set_load_mem("t.yaml", spec, sizeof(spec) - 1,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"schema\":{\"type\":\"object\"}}");
	ck_assert_int_eq(schema_validate_action(set, "x", v, NULL, e), 0);
	json_object_put(v);
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"schema\":{\"type\":5}}");
	ck_assert_int_eq(schema_validate_action(set, "x", v, NULL, e), -1);
	ck_assert_str_eq(e->e[0].path, "/schema/type");
	json_object_put(v);
	schema_set_free(set);

	/* other absolute URIs are still refused, naming the ref */
	ck_assert_ptr_null(schema_set_load_mem("u.json", other,
	    sizeof(other) - 1, SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "u.json:1: unsupported $ref "
	    "'http://json-schema.org/draft-07/schema#'"));
	free(e);
}
END_TEST

START_TEST(test_cli_without_spec)
{
	struct test_run	 a, b;
	char		*path, *text, *t, *spec[NOWN];
	size_t		 len, i;

	xasprintf(&path, "%s/tests/blackbox/fixtures/on_status.json",
	    test_srcdir());
	text = test_read_file(path, &len);
	TEST_RUN(&a, text, len, "validate");
	ck_assert_msg(a.status == 0, "%s%s", a.out, a.err);
	ck_assert_str_eq(a.out, "{\"valid\":true}\n");
	test_run_free(&a);

	/* broken: the same errors as with the files named */
	ck_assert_ptr_nonnull(t = strstr(text, "\"bpp_id\""));
	memcpy(t, "\"bpp_xx\"", 8);
	for (i = 0; i < NOWN; i++)
		xasprintf(&spec[i], "%s/%s", test_srcdir(), own_files[i]);
	TEST_RUN(&a, text, len, "validate");
	TEST_RUN(&b, text, len, "validate", "--spec", spec[0], "--spec",
	    spec[1], "--spec", spec[2]);
	ck_assert_int_eq(a.status, 1);
	ck_assert_int_eq(b.status, 1);
	ck_assert_ptr_nonnull(strstr(a.out, "bpp_id"));
	ck_assert_str_eq(a.out, b.out);
	test_run_free(&a);
	test_run_free(&b);

	/* --action and --formats apply to the built-in set too */
	TEST_RUN(&a, text, len, "validate", "--action", "on_search");
	ck_assert_int_eq(a.status, 1);
	ck_assert_ptr_nonnull(strstr(a.out, "\"path\":\"/context/action\""));
	test_run_free(&a);
	for (i = 0; i < NOWN; i++)
		free(spec[i]);
	free(text);
	free(path);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("schema_builtin");
	TCase	*tc = tcase_create("builtin");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bytes_equal_files);
	tcase_add_test(tc, test_builtin_verdicts);
	tcase_add_test(tc, test_builtin_names);
	tcase_add_test(tc, test_meta_schema);
	tcase_add_test(tc, test_meta_schema_from_openapi);
	tcase_add_test(tc, test_cli_without_spec);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

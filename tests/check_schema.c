/*
 * check_schema.c - unit tests for the schema module (no shared data).
 *
 * Keywords one by one, $ref resolution (deep pointers, ~0/~1, pointers
 * through an intermediate $ref, external files, cycles), formats, error
 * paths/order/bound, selection by action/domain/version, broken spec
 * files (file:line errors) and the `becknd validate` CLI contract
 * (including bare scalars at the end of input and --any-version).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "schema/schema.h"
#include "testutil.h"
#include "util/xmalloc.h"

static struct schema_errors	 E;
static char			 tmpdir[] = "/tmp/check_schema.XXXXXX";

/* Validate inst against a JSON Schema given as text; returns rc. */
static int
vj_fmt(const char *schema, const char *inst, unsigned formats)
{
	struct schema_set	*set;
	struct schema_opts	 o = { formats, 0 };
	json_object		*v;
	char			 err[512];
	int			 rc;

	set = schema_set_load_mem("test.json", schema, strlen(schema),
	    SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err));
	ck_assert_msg(set != NULL, "load %s: %s", schema, err);
	v = json_tokener_parse(inst);
	ck_assert_msg(v != NULL || strcmp(inst, "null") == 0, "bad json %s",
	    inst);
	rc = schema_validate_json(set, v, &o, &E);
	json_object_put(v);
	schema_set_free(set);
	ck_assert(rc == 0 ? E.n == 0 : E.n > 0);
	return rc;
}

static int
vj(const char *schema, const char *inst)
{
	return vj_fmt(schema, inst, SCHEMA_FMT_ALL);
}

#define OK(s, i)	ck_assert_msg(vj(s, i) == 0, "%s should accept %s", s, i)
#define BAD(s, i, kw, p) do {						\
	ck_assert_msg(vj(s, i) == -1, "%s should reject %s", s, i);	\
	ck_assert_str_eq(E.e[0].keyword, kw);				\
	ck_assert_str_eq(E.e[0].path, p);				\
} while (0)

START_TEST(test_type)
{
	OK("{\"type\":\"integer\"}", "3");
	OK("{\"type\":\"integer\"}", "3.0");
	BAD("{\"type\":\"integer\"}", "3.5", "type", "");
	BAD("{\"type\":\"integer\"}", "\"3\"", "type", "");
	OK("{\"type\":\"number\"}", "3");
	OK("{\"type\":[\"string\",\"null\"]}", "null");
	BAD("{\"type\":[\"string\",\"null\"]}", "true", "type", "");
	OK("{\"type\":\"boolean\"}", "false");
	BAD("{\"type\":\"object\"}", "[]", "type", "");
	OK("{\"type\":\"array\"}", "[]");
	ck_assert_ptr_nonnull(strstr(
	    (vj("{\"type\":\"string\"}", "12"), E.e[0].message),
	    "expected string, got integer"));
}
END_TEST

START_TEST(test_object_keywords)
{
	const char *s = "{\"properties\":{\"a\":{\"type\":\"string\"}},"
	    "\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
	    "\"additionalProperties\":false,\"required\":[\"a\"],"
	    "\"minProperties\":1,\"maxProperties\":3}";

	OK(s, "{\"a\":\"v\",\"x-1\":1}");
	BAD(s, "{\"a\":\"v\",\"x-1\":\"s\"}", "type", "/x-1");
	BAD(s, "{\"a\":\"v\",\"b\":1}", "additionalProperties", "/b");
	BAD(s, "{\"x-1\":1}", "required", "");
	BAD(s, "{\"a\":\"v\",\"x-1\":1,\"x-2\":2,\"x-3\":3}",
	    "maxProperties", "");
	BAD("{\"minProperties\":1}", "{}", "minProperties", "");
	OK("{\"additionalProperties\":{\"type\":\"string\"}}", "{\"q\":\"r\"}");
	BAD("{\"additionalProperties\":{\"type\":\"string\"}}", "{\"q\":1}",
	    "type", "/q");
	OK("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1,\"b\":2}");
	BAD("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1}", "dependencies",
	    "");
	BAD("{\"dependencies\":{\"a\":{\"required\":[\"c\"]}}}", "{\"a\":1}",
	    "required", "");
	OK("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"b\":1}");
}
END_TEST

START_TEST(test_array_keywords)
{
	OK("{\"items\":{\"type\":\"integer\"}}", "[1,2]");
	BAD("{\"items\":{\"type\":\"integer\"}}", "[1,\"x\"]", "type", "/1");
	OK("{\"items\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}",
	    "[1,\"a\",null]");
	BAD("{\"items\":[{\"type\":\"integer\"}],\"additionalItems\":false}",
	    "[1,2]", "additionalItems", "");
	BAD("{\"items\":[{}],\"additionalItems\":{\"type\":\"string\"}}",
	    "[1,2]", "type", "/1");
	BAD("{\"minItems\":2}", "[1]", "minItems", "");
	BAD("{\"maxItems\":1}", "[1,2]", "maxItems", "");
	OK("{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1},{\"a\":2}]");
	BAD("{\"uniqueItems\":true}", "[1,1.0]", "uniqueItems", "");
	BAD("{\"uniqueItems\":true}", "[{\"a\":[1],\"b\":2},{\"b\":2,"
	    "\"a\":[1]}]", "uniqueItems", "");
}
END_TEST

START_TEST(test_number_keywords)
{
	OK("{\"minimum\":1,\"maximum\":3}", "1");
	OK("{\"minimum\":1,\"maximum\":3}", "3");
	BAD("{\"minimum\":1}", "0.5", "minimum", "");
	BAD("{\"minimum\":1,\"exclusiveMinimum\":true}", "1", "minimum", "");
	BAD("{\"maximum\":3,\"exclusiveMaximum\":true}", "3", "maximum", "");
	OK("{\"exclusiveMinimum\":1}", "1.5");
	BAD("{\"exclusiveMinimum\":1}", "1", "exclusiveMinimum", "");
	BAD("{\"exclusiveMaximum\":1}", "1", "exclusiveMaximum", "");
	OK("{\"multipleOf\":0.01}", "19.99");
	OK("{\"multipleOf\":3}", "9");
	BAD("{\"multipleOf\":3}", "10", "multipleOf", "");
	OK("{\"minimum\":1}", "\"not a number\"");
}
END_TEST

START_TEST(test_string_keywords)
{
	/* lengths count code points: "₹°" is 2 characters, 5 bytes */
	OK("{\"maxLength\":2}", "\"\\u20b9\\u00b0\"");
	OK("{\"maxLength\":2}", "\"₹°\"");
	BAD("{\"maxLength\":2}", "\"₹°x\"", "maxLength", "");
	BAD("{\"minLength\":3}", "\"₹°\"", "minLength", "");
	/* unanchored ECMA-262 search, as core's DecimalValue relies on */
	OK("{\"pattern\":\"[+-]?([0-9]*[.])?[0-9]+\"}", "\"100\"");
	OK("{\"pattern\":\"[+-]?([0-9]*[.])?[0-9]+\"}", "\"INR 100.50 only\"");
	BAD("{\"pattern\":\"[+-]?([0-9]*[.])?[0-9]+\"}", "\"free\"",
	    "pattern", "");
	BAD("{\"pattern\":\"^a$\"}", "\"a\\n\"", "pattern", "");
	OK("{\"pattern\":\"^\\\\p{L}+$\"}", "\"Bengalur\\u00fc\"");
}
END_TEST

START_TEST(test_combinators)
{
	const char *one = "{\"oneOf\":[{\"type\":\"integer\"},"
	    "{\"minimum\":2}]}";

	OK("{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":2}]}", "\"ab\"");
	BAD("{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":2}]}", "\"abc\"",
	    "maxLength", "");
	OK("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "null");
	BAD("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "1",
	    "anyOf", "");
	OK(one, "1");
	OK(one, "2.5");
	BAD(one, "3", "oneOf", "");
	BAD(one, "1.5", "oneOf", "");
	OK("{\"not\":{\"type\":\"string\"}}", "1");
	BAD("{\"not\":{\"type\":\"string\"}}", "\"s\"", "not", "");
	OK("{\"enum\":[1,\"a\",{\"b\":[null]}]}", "{\"b\":[null]}");
	OK("{\"enum\":[1,\"a\"]}", "1.0");
	BAD("{\"enum\":[1,\"a\"]}", "\"b\"", "enum", "");
	OK("{\"const\":{\"a\":1}}", "{\"a\":1}");
	BAD("{\"const\":\"x\"}", "\"y\"", "const", "");
	/* annotations are ignored */
	OK("{\"description\":\"d\",\"example\":5,\"default\":1,\"title\":\"t\","
	    "\"type\":\"string\"}", "\"s\"");
}
END_TEST

START_TEST(test_formats)
{
	static const struct {
		const char	*fmt, *good, *bad;
	} f[] = {
		{ "date-time", "2024-02-29T23:59:60.5Z",
		  "2023-12-04 14:00" },
		{ "date-time", "2024-03-04T10:15:30+05:30",
		  "2023-02-29T10:00:00Z" },
		{ "date-time", "2024-03-04t10:15:30z", "2024-03-04T10:15:30" },
		{ "date", "2024-02-29", "2023-02-29" },
		{ "date", "1999-12-31", "2023-11-11T00:00:00Z" },
		{ "time", "10:15:30Z", "10:00" },
		{ "uuid", "4f7c1d2e-8a9b-4c3d-9e1f-0a1b2c3d4e5f",
		  "$bb579fb8-cb82-4824-be12-fcbc405b6608" },
		{ "uuid", "4F7C1D2E-8A9B-4C3D-9E1F-0A1B2C3D4E5F",
		  "4f7c1d2e8a9b4c3d9e1f0a1b2c3d4e5f" },
		{ "uri", "https://example.org/a?b=c#d",
		  "url of the image of the provider" },
		{ "uri", "urn:isbn:0451450523", "/relative/path" },
		{ "uri-reference", "/relative/path?x=1", "has space" },
		{ "email", "a.b+c@example.org", "a@@b" },
		{ "email", "x@[192.168.0.1]", "@example.org" },
		{ "ipv4", "192.168.0.1", "192.168.0.256" },
		{ "ipv4", "0.0.0.0", "01.2.3.4" },
		{ "ipv6", "::1", "1:2:3:4:5:6:7:8:9" },
		{ "ipv6", "fe80::1:2", "1::2::3" },
		{ "ipv6", "::ffff:192.168.0.1", "12345::" },
	};
	char	 schema[128];
	size_t	 i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char g[128], b[128];

		snprintf(schema, sizeof(schema), "{\"format\":\"%s\"}",
		    f[i].fmt);
		snprintf(g, sizeof(g), "\"%s\"", f[i].good);
		snprintf(b, sizeof(b), "\"%s\"", f[i].bad);
		ck_assert_msg(vj(schema, g) == 0, "%s: %s", f[i].fmt, g);
		ck_assert_msg(vj(schema, b) == -1, "%s: %s", f[i].fmt, b);
		ck_assert_str_eq(E.e[0].keyword, "format");
		/* not asserted when the format is not selected */
		ck_assert(vj_fmt(schema, b, 0) == 0);
	}
	/* unknown formats are ignored; formats apply to strings only */
	OK("{\"format\":\"phone\"}", "\"not a phone\"");
	OK("{\"format\":\"uuid\"}", "12");
}
END_TEST

START_TEST(test_formats_parse)
{
	unsigned	 m;
	char		 err[256];

	ck_assert_int_eq(schema_formats_parse("assert", &m, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(m, SCHEMA_FMT_ALL);
	ck_assert_int_eq(schema_formats_parse("ignore", &m, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(schema_formats_parse("uuid,date-time, date,email",
	    &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m, SCHEMA_FMT_DEFAULT);
	ck_assert_int_eq(schema_formats_parse("uuid,phone", &m, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'phone'"));
	ck_assert_int_eq(schema_formats_parse("uuid,,date", &m, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
}
END_TEST

START_TEST(test_nullable)
{
	const char	*spec =
	    "openapi: 3.0.3\n"
	    "info: {title: t, version: 1.1.0}\n"
	    "paths:\n"
	    "  /x:\n"
	    "    post:\n"
	    "      requestBody:\n"
	    "        content:\n"
	    "          application/json:\n"
	    "            schema:\n"
	    "              properties:\n"
	    "                n: {type: string, nullable: true}\n"
	    "                m: {type: string}\n";
	struct schema_set	*set;
	json_object		*v;
	char			 err[256];

	set = schema_set_load_mem("n.yaml", spec, strlen(spec),
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"n\":null}");
	ck_assert_int_eq(schema_validate_action(set, "x", v, NULL, &E), 0);
	json_object_put(v);
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"m\":null}");
	ck_assert_int_eq(schema_validate_action(set, "x", v, NULL, &E), -1);
	ck_assert_str_eq(E.e[0].path, "/m");
	ck_assert_str_eq(E.e[0].keyword, "type");
	json_object_put(v);
	schema_set_free(set);
}
END_TEST

/*
 * A repeated YAML mapping key is an error naming its line and key: it
 * would otherwise drop the first value, and with it an anchor a later
 * alias still points at (a double free the schema fuzzer found).
 */
START_TEST(test_yaml_duplicate_key)
{
	static const char spec[] =
	    "openapi: 3.1.0\n"				/* 1 */
	    "info: {title: t, version: 1.1.0}\n"
	    "paths:\n"
	    "  /x:\n"
	    "    post:\n"					/* 5 */
	    "      B: &a {type: string}\n"
	    "paths: {}\n"					/* 7 */
	    "components:\n"
	    "  schemas:\n"
	    "    B: *a\n";
	static const char js[] = "type: object\nproperties:\n"
	    "  a: {type: string}\n  a: {type: number}\n";
	struct schema_set	*set;
	char			 err[256];

	set = schema_set_load_mem("dup.yaml", spec, strlen(spec),
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_ptr_null(set);
	ck_assert_str_eq(err, "dup.yaml:7: duplicate mapping key \"paths\"");
	/* The same in a JSON Schema file, nested. */
	set = schema_set_load_mem("dup2.yaml", js, strlen(js),
	    SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err));
	ck_assert_ptr_null(set);
	ck_assert_str_eq(err, "dup2.yaml:4: duplicate mapping key \"a\"");
}
END_TEST

static const char *
datafile(const char *name)
{
	static char	 buf[1024];

	snprintf(buf, sizeof(buf), "%s/tests/data/schema/%s", test_srcdir(),
	    name);
	return buf;
}

START_TEST(test_refs)
{
	char			*file = xstrdup(datafile("refs.yaml"));
	const char		*files[1] = { file };
	struct schema_set	*set;
	json_object		*v;
	char			 err[512];

	set = schema_set_load(files, 1, SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	ck_assert(schema_set_has_action(set, "deep"));
	ck_assert(!schema_set_has_action(set, "nopost"));
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"id\":\"ab\",\"first\":3,\"via_allof\":\"A\",\"through\":\"xy\","
	    "\"tilde\":true,\"slash\":null,\"ext\":9}");
	ck_assert_int_eq(schema_validate_action(set, "deep", v, NULL, &E), 0);
	json_object_put(v);
	v = json_tokener_parse("{\"context\":{\"version\":\"1.1.0\"},"
	    "\"id\":\"a\",\"first\":\"3\",\"via_allof\":\"C\",\"through\":\"x\","
	    "\"tilde\":1,\"slash\":0,\"ext\":11}");
	ck_assert_int_eq(schema_validate_action(set, "deep", v, NULL, &E), -1);
	ck_assert_uint_eq(E.n, 7);
	ck_assert_str_eq(E.e[0].path, "/id");
	ck_assert_str_eq(E.e[0].keyword, "minLength");
	ck_assert_str_eq(E.e[1].path, "/first");
	ck_assert_str_eq(E.e[1].keyword, "type");
	ck_assert_str_eq(E.e[2].path, "/via_allof");
	ck_assert_str_eq(E.e[2].keyword, "enum");
	ck_assert_str_eq(E.e[3].path, "/through");
	ck_assert_str_eq(E.e[4].path, "/tilde");
	ck_assert_str_eq(E.e[5].path, "/slash");
	ck_assert_str_eq(E.e[6].path, "/ext");
	ck_assert_str_eq(E.e[6].keyword, "maximum");
	json_object_put(v);
	schema_set_free(set);
	free(file);
}
END_TEST

START_TEST(test_error_order_and_bound)
{
	const char	*s = "{\"properties\":{\"a\":{\"type\":\"string\"},"
	    "\"b\":{\"items\":{\"type\":\"integer\"}},"
	    "\"c~/\":{\"type\":\"string\"}},"
	    "\"allOf\":[{\"properties\":{\"a\":{\"maxLength\":1}}}]}";
	char		 inst[4096];
	size_t		 o, i;

	/* errors come in document order, whatever the schema order */
	ck_assert_int_eq(vj(s, "{\"c~/\":1,\"b\":[1,\"x\"],\"a\":\"long\"}"),
	    -1);
	ck_assert_uint_eq(E.n, 3);
	ck_assert_str_eq(E.e[0].path, "/c~0~1");
	ck_assert_str_eq(E.e[1].path, "/b/1");
	ck_assert_str_eq(E.e[2].path, "/a");
	ck_assert_str_eq(E.e[2].keyword, "maxLength");

	/* bounded: the first 20 of 50, in document order */
	o = (size_t)snprintf(inst, sizeof(inst), "{\"b\":[");
	for (i = 0; i < 50; i++)
		o += (size_t)snprintf(inst + o, sizeof(inst) - o, "%s\"%zu\"",
		    i ? "," : "", i);
	snprintf(inst + o, sizeof(inst) - o, "]}");
	ck_assert_int_eq(vj(s, inst), -1);
	ck_assert_uint_eq(E.n, SCHEMA_ERRORS_MAX);
	ck_assert_int_eq(E.truncated, 1);
	ck_assert_str_eq(E.e[0].path, "/b/0");
	ck_assert_str_eq(E.e[19].path, "/b/19");
}
END_TEST

/* Write a file in tmpdir; returns its path (static buffer). */
static const char *
tmpfile_write(const char *name, const char *text, size_t len)
{
	static char	 path[512];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

static void
load_fails(const char *name, const char *text, size_t len, const char *want)
{
	const char		*path = tmpfile_write(name, text, len);
	const char		*files[1] = { path };
	char			 err[512], prefix[600];
	struct schema_set	*set;

	set = schema_set_load(files, 1, SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set == NULL, "%s loaded", name);
	snprintf(prefix, sizeof(prefix), "%s:%s", path, want);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "%s: got '%s', want prefix '%s'", name, err, prefix);
}

#define HDR "openapi: 3.0.3\ninfo: {title: t, version: 1.1.0}\n"
#define OP(s) "paths:\n  /x:\n    post:\n      requestBody:\n" \
	"        content:\n          application/json:\n" \
	"            schema: " s "\n"

START_TEST(test_broken_specs)
{
	static const char trunc[] = HDR "paths:\n  /x:\n    post: {requestB";
	static const char indent[] = HDR "paths:\n  /x:\n    post:\n"
	    "   bad: 1\n";
	static const char tabs[] = HDR "paths:\n\t/x: {}\n";
	static const char dangling[] = HDR OP("{$ref: '#/components/schemas/"
	    "Nope'}") "components: {schemas: {}}\n";
	static const char cycle[] = HDR OP("{$ref: '#/components/schemas/A'}")
	    "components:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n"
	    "    B: {$ref: '#/components/schemas/A'}\n";
	static const char acycle[] = HDR OP("{$ref: '#/components/schemas/A'}")
	    "components:\n  schemas:\n    A:\n      allOf:\n"
	    "        - $ref: '#/components/schemas/A'\n";
	static const char ptrcycle[] = HDR OP("{$ref: '#/components/schemas/"
	    "A/properties/x'}") "components:\n  schemas:\n"
	    "    A: {$ref: '#/components/schemas/A'}\n";
	static const char badre[] = HDR OP("{type: string, pattern: '(['}");
	static const char notoas[] = "swagger: '2.0'\n";
	static const char json_trunc[] = "{\n\"openapi\": \"3.0.3\",\n"
	    "\"info\": {";
	static const char ext[] = HDR OP("{$ref: 'missing.yaml#/X'}");
	static const char alias[] = HDR "paths: &a\n  /x: *a\n";
	char	 nonutf8[sizeof(HDR) + 16];

	load_fails("trunc.yaml", trunc, sizeof(trunc) - 1, "6:");
	load_fails("indent.yaml", indent, sizeof(indent) - 1, "6:");
	load_fails("tabs.yaml", tabs, sizeof(tabs) - 1, "4:");
	load_fails("dangling.yaml", dangling, sizeof(dangling) - 1, "9:");
	load_fails("cycle.yaml", cycle, sizeof(cycle) - 1, "");
	load_fails("acycle.yaml", acycle, sizeof(acycle) - 1, "13: schema cycle");
	load_fails("ptrcycle.yaml", ptrcycle, sizeof(ptrcycle) - 1, "");
	load_fails("badre.yaml", badre, sizeof(badre) - 1, "9: pattern");
	load_fails("notoas.yaml", notoas, sizeof(notoas) - 1, "1:");
	load_fails("trunc.json", json_trunc, sizeof(json_trunc) - 1, "3:");
	load_fails("ext.yaml", ext, sizeof(ext) - 1, "9:");
	load_fails("alias.yaml", alias, sizeof(alias) - 1, "");
	snprintf(nonutf8, sizeof(nonutf8), "%sx: \"\xff\xfe\"\n", HDR);
	load_fails("nonutf8.yaml", nonutf8, strlen(nonutf8), "3:");
	/* the error names the ref */
	{
		const char *files[1] = { tmpfile_write("d2.yaml", dangling,
		    sizeof(dangling) - 1) };
		char err[512];

		ck_assert_ptr_null(schema_set_load(files, 1,
		    SCHEMA_LOAD_OPENAPI, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "#/components/schemas/Nope"));
		ck_assert_ptr_null(schema_set_load(NULL, 0,
		    SCHEMA_LOAD_OPENAPI, err, sizeof(err)));
	}
}
END_TEST

static struct schema_set *
load_own(int with_onest)
{
	char			*f[3], err[512];
	struct schema_set	*set;
	size_t			 i;

	xasprintf(&f[0], "%s/schemas/core/transaction.yaml", test_srcdir());
	xasprintf(&f[1], "%s/schemas/core/meta.yaml", test_srcdir());
	xasprintf(&f[2], "%s/schemas/onest/onest-policy.yaml", test_srcdir());
	set = schema_set_load((const char *const *)f, with_onest ? 3 : 2,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "%s", err);
	for (i = 0; i < 3; i++)
		free(f[i]);
	return set;
}

static json_object *
example(void)
{
	char		*text = test_read_file(datafile("onest-search.json"),
	    NULL);
	json_object	*v = json_tokener_parse(text);

	free(text);
	ck_assert_ptr_nonnull(v);
	return v;
}

static void
ctx_set(json_object *msg, const char *key, const char *val)
{
	json_object	*ctx;

	json_object_object_get_ex(msg, "context", &ctx);
	if (val == NULL)
		json_object_object_del(ctx, key);
	else
		json_object_object_add(ctx, key, json_object_new_string(val));
}

START_TEST(test_selection)
{
	struct schema_set	*core = load_own(0), *all = load_own(1);
	struct schema_opts	 any = { SCHEMA_FMT_DEFAULT,
	    SCHEMA_OPT_ANY_VERSION };
	json_object		*m = example();

	ck_assert_int_eq(schema_validate_action(core, NULL, m, NULL, &E), 0);
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), 0);
	ck_assert_int_eq(schema_validate_action(all, "search", m, NULL, &E),
	    0);
	/* the URL's action wins over context.action */
	ck_assert_int_eq(schema_validate_action(all, "select", m, NULL, &E),
	    -1);

	/* ONEST layer: bpp_id/bpp_uri on everything but search */
	ctx_set(m, "action", "status");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_str_eq(E.e[0].path, "/context");
	ck_assert_str_eq(E.e[0].keyword, "required");
	ck_assert_ptr_nonnull(strstr(E.e[0].message, "bpp_id"));
	ctx_set(m, "action", "search");

	/* the layer covers onest:* only */
	ctx_set(m, "bap_id", NULL);
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_ptr_nonnull(strstr(E.e[0].message, "bap_id"));
	ck_assert_int_eq(schema_validate_action(core, NULL, m, NULL, &E), 0);
	ctx_set(m, "domain", "dsep:courses");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), 0);

	/* versions: core covers 1.1.x only */
	ctx_set(m, "version", "1.1.7");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), 0);
	ctx_set(m, "version", "0.9.0");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_uint_eq(E.n, 1);
	ck_assert_str_eq(E.e[0].keyword, "spec");
	ck_assert_str_eq(E.e[0].path, "/context/version");
	ck_assert_ptr_nonnull(strstr(E.e[0].message, "0.9.0"));
	ck_assert_int_eq(schema_validate_action(core, NULL, m, &any, &E), 0);
	ctx_set(m, "version", NULL);
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_str_eq(E.e[0].keyword, "spec");
	ctx_set(m, "version", "1.1.0");

	/* unknown action, missing action */
	ck_assert_int_eq(schema_validate_action(all, "on_comfirm", m, NULL,
	    &E), -1);
	ck_assert_str_eq(E.e[0].keyword, "action");
	ctx_set(m, "action", NULL);
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_str_eq(E.e[0].keyword, "action");
	ck_assert_int_eq(schema_validate_action(all, "search", m, NULL, &E),
	    0);

	/* meta: rating_categories requires rating_categories */
	json_object_put(m);
	m = json_tokener_parse("{\"context\":{\"action\":\"rating_categories\","
	    "\"version\":\"1.1.0\",\"domain\":\"dsep:courses\"},"
	    "\"message\":{\"rating_categories\":[\"Item\",\"Provider\"]}}");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), 0);
	json_object_put(m);
	m = json_tokener_parse("{\"context\":{\"action\":\"rating_categories\","
	    "\"version\":\"1.1.0\"},\"message\":{\"return_reasons\":[]}}");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_str_eq(E.e[0].path, "/message");
	ck_assert_ptr_nonnull(strstr(E.e[0].message, "rating_categories"));
	json_object_put(m);

	/* formats in our core: message_id is not a uuid there (deviation) */
	m = example();
	ctx_set(m, "message_id", "$bb579fb8-cb82-4824-be12-fcbc405b6608");
	ctx_set(m, "timestamp", "2023-12-04 14:00");
	ck_assert_int_eq(schema_validate_action(all, NULL, m, NULL, &E), -1);
	ck_assert_uint_eq(E.n, 1);
	ck_assert_str_eq(E.e[0].path, "/context/timestamp");
	ck_assert_str_eq(E.e[0].keyword, "format");
	json_object_put(m);
	schema_set_free(core);
	schema_set_free(all);
}
END_TEST

/* Run the CLI with stdin from a file; returns exit status, output in out. */
static int
run_cli(const char *args, const char *input, char *out, size_t outlen)
{
	const char	*bin = getenv("BECKND_BIN");
	char		*cmd;
	const char	*in = tmpfile_write("stdin.json", input, strlen(input));
	FILE		*p;
	size_t		 n;
	int		 st;

	if (bin == NULL)
		bin = "./becknd";
	xasprintf(&cmd, "'%s' validate %s < '%s' 2>&1", bin, args, in);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_cli)
{
	char	 out[4096], *args, *js;
	char	*core, *onest;
	const char *bad;

	xasprintf(&core, "%s/schemas/core/transaction.yaml", test_srcdir());
	xasprintf(&onest, "%s/schemas/onest/onest-policy.yaml",
	    test_srcdir());
	xasprintf(&args, "--spec '%s' --spec '%s'", core, onest);
	js = test_read_file(datafile("onest-search.json"), NULL);
	ck_assert_int_eq(run_cli(args, js, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"valid\":true}\n");
	free(args);

	xasprintf(&args, "--spec '%s' --action select", core);
	ck_assert_int_eq(run_cli(args, js, out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "{\"valid\":false,\"errors\":[{"
	    "\"path\":\"/context/action\",\"keyword\":\"enum\""));
	free(args);

	xasprintf(&args, "--spec '%s' --formats ignore", core);
	ck_assert_int_eq(run_cli(args, "{\"context\":{\"version\":\"1.1.0\","
	    "\"action\":\"search\",\"timestamp\":\"yesterday\"},"
	    "\"message\":{}}", out, sizeof(out)), 0);
	free(args);
	xasprintf(&args, "--spec '%s' --formats date-time", core);
	ck_assert_int_eq(run_cli(args, "{\"context\":{\"version\":\"1.1.0\","
	    "\"action\":\"search\",\"timestamp\":\"yesterday\"},"
	    "\"message\":{}}", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "\"path\":\"/context/timestamp\","
	    "\"keyword\":\"format\""));
	ck_assert_int_eq(run_cli(args, "{\"context\":", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "\"keyword\":\"json\""));
	free(args);

	/* exit 2: unusable spec (file:line), bad formats, usage */
	bad = tmpfile_write("bad.yaml", HDR "paths:\n\t/x: {}\n",
	    sizeof(HDR "paths:\n\t/x: {}\n") - 1);
	xasprintf(&args, "--spec '%s'", bad);
	ck_assert_int_eq(run_cli(args, js, out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "bad.yaml:4: "));
	free(args);
	xasprintf(&args, "--spec '%s' --formats uuid,bogus", core);
	ck_assert_int_eq(run_cli(args, js, out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "'bogus'"));
	free(args);
	ck_assert_int_eq(run_cli("--bogus", js, out, sizeof(out)), 2);
	xasprintf(&args, "--spec '%s' --json-schema '%s'", core, core);
	ck_assert_int_eq(run_cli(args, js, out, sizeof(out)), 2);
	free(args);
	/* no --spec: the built-in schemas */
	ck_assert_int_eq(run_cli("", js, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"valid\":true}\n");

	/* --json-schema */
	tmpfile_write("s.json", "{\"type\":\"object\",\"required\":[\"a\"]}",
	    strlen("{\"type\":\"object\",\"required\":[\"a\"]}"));
	xasprintf(&args, "--json-schema '%s/s.json'", tmpdir);
	ck_assert_int_eq(run_cli(args, "{\"a\":1}", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"valid\":true}\n");
	ck_assert_int_eq(run_cli(args, "{}", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "{\"valid\":false,\"errors\":[{\"path\":\"\","
	    "\"keyword\":\"required\",\"message\":\"required property 'a' is "
	    "missing\"}]}\n");
	free(args);
	free(js);
	free(core);
	free(onest);
}
END_TEST

/* stdin holds exactly in (inlen bytes); the JSON Schema is s.json. */
static void
scalar_run(struct test_run *r, const char *in, size_t inlen)
{
	char	*schema;

	xasprintf(&schema, "%s/s.json", tmpdir);
	TEST_RUN(r, in, inlen, "validate", "--json-schema", schema);
	free(schema);
}

START_TEST(test_cli_scalars)
{
	/* each value ends the input: json-c must be told the input ended */
	static const char *const ok[] = {
		"25", "-1.5e3", "0", "true", "false", "null", "\"x\"",
	};
	static const char *const trail[] = { "", " ", "\n", " \t\r\n" };
	static const char *const cut[] = {
		"", " ", "-", "1e", "1e+", "tru", "nul", "fals", "\"x",
		"\"\\", "[25", "{\"a\":25", "[1,",
	};
	static const char *const junk[] = { "25x", "2 5", "truex", "25 25",
	    "null,", "-a" };
	static const char s[] = "{\"enum\":[25,-1500,0,true,false,null,\"x\"]}";
	struct test_run	 r;
	char		 in[64];
	size_t		 i, j;

	tmpfile_write("s.json", s, sizeof(s) - 1);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		for (j = 0; j < sizeof(trail) / sizeof(trail[0]); j++) {
			snprintf(in, sizeof(in), "%s%s", ok[i], trail[j]);
			scalar_run(&r, in, strlen(in));
			ck_assert_msg(r.status == 0, "'%s': %d %s%s", in,
			    r.status, r.out, r.err);
			ck_assert_str_eq(r.out, "{\"valid\":true}\n");
			test_run_free(&r);
			/* leading blanks too */
			snprintf(in, sizeof(in), "%s%s", trail[j], ok[i]);
			scalar_run(&r, in, strlen(in));
			ck_assert_msg(r.status == 0, "'%s': %s", in, r.out);
			test_run_free(&r);
		}
	/* the value itself was read: 26 and 2 are not in the enum */
	scalar_run(&r, "26", 2);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "{\"valid\":false,\"errors\":[{\"path\":\"\","
	    "\"keyword\":\"enum\",\"message\":\"26 is not one of [25, -1500, "
	    "0, true, false, null, \\\"x\\\"]\"}]}\n");
	test_run_free(&r);
	scalar_run(&r, "2\n", 2);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"keyword\":\"enum\""));
	test_run_free(&r);

	/* truly truncated input still is not JSON */
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		scalar_run(&r, cut[i], strlen(cut[i]));
		ck_assert_msg(r.status == 1, "'%s': %d", cut[i], r.status);
		ck_assert_msg(strstr(r.out, "\"keyword\":\"json\",\"message\":"
		    "\"input is not JSON: unexpected end at byte ") != NULL,
		    "'%s': %s", cut[i], r.out);
		test_run_free(&r);
	}
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		scalar_run(&r, junk[i], strlen(junk[i]));
		ck_assert_msg(r.status == 1, "'%s': %d", junk[i], r.status);
		ck_assert_msg(strstr(r.out, "\"keyword\":\"json\"") != NULL &&
		    strstr(r.out, "unexpected end") == NULL, "'%s': %s",
		    junk[i], r.out);
		test_run_free(&r);
	}
	/* json-c calls a leading zero at the end "unexpected end": not JSON */
	scalar_run(&r, "01", 2);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"keyword\":\"json\""));
	test_run_free(&r);
	/* a NUL is no end of input, whatever json-c makes of it */
	scalar_run(&r, "25\0", 3);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "input is not JSON: NUL at byte "
	    "2"));
	test_run_free(&r);
	scalar_run(&r, "{\"a\":1}\0 ", 9);
	ck_assert_int_eq(r.status, 1);
	test_run_free(&r);
}
END_TEST

START_TEST(test_cli_any_version)
{
	struct test_run	 r;
	json_object	*m = example();
	const char	*js;
	char		*core, *layer;

	xasprintf(&core, "%s/schemas/core/transaction.yaml", test_srcdir());
	xasprintf(&layer, "%s/schemas/onest/onest-policy.yaml",
	    test_srcdir());
	ctx_set(m, "version", "1.0.0");
	js = json_object_to_json_string(m);

	/* by domain and version: nothing covers 1.0.0 */
	TEST_RUN(&r, js, strlen(js), "validate", "--spec", core);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"path\":\"/context/version\","
	    "\"keyword\":\"spec\""));
	test_run_free(&r);
	TEST_RUN(&r, js, strlen(js), "validate");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"keyword\":\"spec\""));
	test_run_free(&r);

	/* by action alone */
	TEST_RUN(&r, js, strlen(js), "validate", "--spec", core,
	    "--any-version");
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	ck_assert_str_eq(r.out, "{\"valid\":true}\n");
	test_run_free(&r);
	TEST_RUN(&r, js, strlen(js), "validate", "--any-version");
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	test_run_free(&r);
	TEST_RUN(&r, js, strlen(js), "validate", "--any-version", "--action",
	    "select");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"path\":\"/context/action\""));
	test_run_free(&r);

	/* the layer still applies to its domains only, at any version */
	ctx_set(m, "bap_id", NULL);
	js = json_object_to_json_string(m);
	TEST_RUN(&r, js, strlen(js), "validate", "--any-version");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "bap_id"));
	test_run_free(&r);
	ctx_set(m, "domain", "dsep:courses");
	js = json_object_to_json_string(m);
	TEST_RUN(&r, js, strlen(js), "validate", "--any-version");
	ck_assert_msg(r.status == 0, "%s", r.out);
	test_run_free(&r);
	/* a layer alone covers no other domain, whatever the version */
	TEST_RUN(&r, js, strlen(js), "validate", "--spec", layer,
	    "--any-version");
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out, "\"path\":\"/context/domain\","
	    "\"keyword\":\"spec\""));
	test_run_free(&r);

	/* meaningless with --json-schema: usage */
	tmpfile_write("any.json", "{}", 2);
	free(core);
	xasprintf(&core, "%s/any.json", tmpdir);
	TEST_RUN(&r, "1", 1, "validate", "--json-schema", core,
	    "--any-version");
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--any-version"));
	test_run_free(&r);
	json_object_put(m);
	free(core);
	free(layer);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("schema");
	TCase	*tc = tcase_create("schema");
	int	 rc;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_type);
	tcase_add_test(tc, test_yaml_duplicate_key);
	tcase_add_test(tc, test_object_keywords);
	tcase_add_test(tc, test_array_keywords);
	tcase_add_test(tc, test_number_keywords);
	tcase_add_test(tc, test_string_keywords);
	tcase_add_test(tc, test_combinators);
	tcase_add_test(tc, test_formats);
	tcase_add_test(tc, test_formats_parse);
	tcase_add_test(tc, test_nullable);
	tcase_add_test(tc, test_refs);
	tcase_add_test(tc, test_error_order_and_bound);
	tcase_add_test(tc, test_broken_specs);
	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_cli);
	tcase_add_test(tc, test_cli_scalars);
	tcase_add_test(tc, test_cli_any_version);
	suite_add_tcase(s, tc);
	rc = test_run_suite(s);
	test_rmtree(tmpdir);
	return rc;
}

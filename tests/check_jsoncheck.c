/*
 * check_jsoncheck.c - the strict one-pass JSON checker (util/jsoncheck.h).
 *
 * Tables of texts that pass and texts refused with the offset, path and
 * reason expected: grammar, numbers, literals, strings and escapes, every
 * UTF-8 edge, member names, limits.  Then property tests against json-c:
 * random trees serialised by json-c pass; random texts written with every
 * kind of escape and white space pass, and with one member name repeated
 * (escaped another way) are refused at that object; random byte
 * mutations that pass are parsed by json-c's strict tokener too.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "testutil.h"
#include "util/jsoncheck.h"
#include "util/xmalloc.h"

struct bad {
	const char	*doc;
	size_t		 len;		/* 0: strlen(doc) */
	size_t		 offset;
	const char	*path;
	const char	*reason;	/* a part of the reason */
};

/* A text given with its length (may hold NUL bytes). */
#define B(s)	s, sizeof(s) - 1

static size_t
doclen(const char *doc, size_t len)
{
	return len != 0 ? len : strlen(doc);
}

static void
expect_ok(const char *doc, size_t len, const struct jsoncheck_limits *lim)
{
	struct jsoncheck_error	 e;

	len = doclen(doc, len);
	memset(&e, 0, sizeof(e));
	ck_assert_msg(jsoncheck(doc, len, lim, &e) == 0,
	    "refused %.*s: at %zu, path '%s': %s", (int)len, doc, e.offset,
	    e.path, e.reason);
	ck_assert_int_eq(jsoncheck(doc, len, lim, NULL), 0);
}

static void
expect_bad(const struct bad *b, const struct jsoncheck_limits *lim)
{
	struct jsoncheck_error	 e;
	size_t			 len = doclen(b->doc, b->len);

	memset(&e, 0x55, sizeof(e));
	ck_assert_msg(jsoncheck(b->doc, len, lim, &e) == -1,
	    "accepted %.*s", (int)len, b->doc);
	ck_assert_msg(e.offset == b->offset && strcmp(e.path, b->path) == 0 &&
	    strstr(e.reason, b->reason) != NULL,
	    "%.*s: got at %zu, path '%s': %s; want at %zu, path '%s': %s",
	    (int)len, b->doc, e.offset, e.path, e.reason, b->offset, b->path,
	    b->reason);
	ck_assert(memchr(e.path, '\0', sizeof(e.path)) != NULL);
	ck_assert(memchr(e.reason, '\0', sizeof(e.reason)) != NULL);
	ck_assert_int_eq(jsoncheck(b->doc, len, lim, NULL), -1);
}

/* ---- valid texts -------------------------------------------------------- */

static const struct {
	const char	*doc;
	size_t		 len;
} good[] = {
	/* Every kind of value at the root, with white space around. */
	{ "{}", 0 }, { "[]", 0 }, { "[\n]", 0 }, { "0", 0 }, { "-0", 0 },
	{ "\"\"", 0 },
	{ "true", 0 }, { "false", 0 }, { "null", 0 }, { " \t\r\n[ ] \n", 0 },
	{ "{ \"a\" : [ 1 , { } , \"x\" , null ] }", 0 },
	/* Numbers as the grammar spells them. */
	{ "[0, -0, 1, -1, 10, 1234567890, 0.0, -0.5, 1.25, 10.01]", 0 },
	{ "[0e0, 0E0, 0e+1, 0e-1, 1E22, 1e-2, 1E+2, 123.456e78, -1.5E-7]", 0 },
	{ "[123e65, 20e1, -0.000000000000000000000000000001, 1e999]", 0 },
	{ "[99999999999999999999999999999, -9223372036854775809]", 0 },
	/* Strings: every escape, control characters escaped. */
	{ "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 0 },
	{ "[\"\\u0000\", \"\\u001f\", \"\\u0020\", \"\\u007F\", \"\\uabCD\"]",
	    0 },
	{ "[\"\\u0060\\u012a\\u12AB\", \"\\uFFFF\", \"\\uFFFE\", \"\\uFDD0\"]",
	    0 },
	{ "[\"\\uD800\\uDC00\", \"\\uDBFF\\uDFFF\", \"\\ud83d\\ude39\"]", 0 },
	{ "[\"a/*b*/c/*d//e\", \"\\\\a\", \"\\\\u0000\", \"asd \"]", 0 },
	{ "\"\x7f\"", 0 },				/* DEL is not < 0x20 */
	{ "\"\\u0022\\u005C\"", 0 },
	/* UTF-8 at every boundary of table 3-7. */
	{ "\"\x7f \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf\"", 0 },
	{ "\"\xe1\x80\x80 \xec\xbf\xbf \xed\x80\x80 \xed\x9f\xbf\"", 0 },
	{ "\"\xee\x80\x80 \xef\xbf\xbd\"", 0 },
	{ "\"\xf0\x90\x80\x80 \xf1\x80\x80\x80 \xf3\xbf\xbf\xbf\"", 0 },
	{ "\"\xf4\x80\x80\x80 \xf4\x8f\xbf\xbf\"", 0 },
	/* {"π":"€𝄞"} */
	{ "{\"\xcf\x80\":\"\xe2\x82\xac\xf0\x9d\x84\x9e\"}", 0 },
	/* Member names: equal only when equal once unescaped. */
	{ "{\"a\":1, \"A\":2, \"a \":3, \"ab\":4, \"\":5, \" \":6}", 0 },
	{ "{\"\\u00e9\":1, \"e\\u0301\":2}", 0 },	/* é, e + combining */
	{ "[{\"a\":1},{\"a\":2},{\"a\":{\"a\":{\"a\":3}}}]", 0 },
	{ "{\"a\":{\"b\":1,\"c\":2},\"b\":1,\"c\":{\"a\":1}}", 0 },
	{ "{\"\\u0061\":{\"\\u0061\":1},\"b\":{\"\\u0061\":2}}", 0 },
};

START_TEST(valid_texts)
{
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_ok(good[i].doc, good[i].len, NULL);
	/* A NULL buffer is an empty text. */
	ck_assert_int_eq(jsoncheck(NULL, 0, NULL, NULL), -1);
	/* 4 GiB or more: refused before a byte is read. */
	if (sizeof(size_t) > 4) {
		struct jsoncheck_error	 e;

		ck_assert_int_eq(jsoncheck("[]", (size_t)UINT32_MAX + 1, NULL,
		    &e), -1);
		ck_assert_uint_eq(e.offset, 0);
		ck_assert_str_eq(e.path, "");
		ck_assert_str_eq(e.reason, "text of 4 GiB or more");
	}
}
END_TEST

/* ---- refused texts ------------------------------------------------------ */

static const struct bad grammar[] = {
	{ "", 0, 0, "", "empty text" },
	{ " \n", 0, 2, "", "unexpected end of input" },
	{ "[1 true]", 0, 3, "", "expected ',' or ']'" },
	{ "[1,,2]", 0, 3, "/1", "expected a value" },
	{ "[,1]", 0, 1, "/0", "expected a value" },
	{ "[1,]", 0, 3, "/1", "expected a value" },
	{ "[\"x\",,]", 0, 5, "/1", "expected a value" },
	{ "[\"x\"]]", 0, 5, "", "data after the value" },
	{ "[\"x\"", 0, 4, "", "unexpected end of input" },
	{ "[x", 0, 1, "/0", "expected a value" },
	{ "[3[4]]", 0, 2, "", "expected ',' or ']'" },
	{ "[1:2]", 0, 2, "", "expected ',' or ']'" },
	{ "[\"\": 1]", 0, 3, "", "expected ',' or ']'" },
	{ "[\"a\" \"b\"]", 0, 5, "", "expected ',' or ']'" },
	{ "[{}", 0, 3, "", "unexpected end of input" },
	{ "[*]", 0, 1, "/0", "expected a value" },
	{ "[][]", 0, 2, "", "data after the value" },
	{ "]", 0, 0, "", "expected a value" },
	{ "{}}", 0, 2, "", "data after the value" },
	{ "\"a\" \"b\"", 0, 4, "", "data after the value" },
	{ "1]", 0, 1, "", "data after the value" },
	{ "{\"a\":\"b\"}/**/", 0, 9, "", "data after the value" },
	{ "{\"a\":\"b\"}//", 0, 9, "", "data after the value" },
	{ "{\"a\":\"b\"}#", 0, 9, "", "data after the value" },
	{ "<.>", 0, 0, "", "expected a value" },
	{ "{\"x\": true,", 0, 11, "", "unexpected end of input" },
	{ "{[: \"x\"}", 0, 1, "", "expected a member name" },
	{ "{\"x\", null}", 0, 4, "", "expected ':'" },
	{ "{\"x\"::\"b\"}", 0, 5, "/x", "expected a value" },
	{ "{\"a\":\"a\" 123}", 0, 9, "", "expected ',' or '}'" },
	{ "{key: 'value'}", 0, 1, "", "expected a member name" },
	{ "{'a':0}", 0, 1, "", "expected a member name" },
	{ "{\"a\" b}", 0, 5, "", "expected ':'" },
	{ "{:\"b\"}", 0, 1, "", "expected a member name" },
	{ "{\"a\":", 0, 5, "/a", "unexpected end of input" },
	{ "{\"a\"", 0, 4, "", "unexpected end of input" },
	{ "{", 0, 1, "", "unexpected end of input" },
	{ "{1:1}", 0, 1, "", "expected a member name" },
	{ "{null:null}", 0, 1, "", "expected a member name" },
	{ "{\"id\":0,,,,,}", 0, 8, "", "expected a member name" },
	{ "{\"id\":0,}", 0, 8, "", "expected a member name" },
	{ "{\"a\":\"b\",,\"c\":\"d\"}", 0, 9, "", "expected a member name" },
	{ "{ \"foo\" : \"bar\", \"a\" }", 0, 21, "", "expected ':'" },
	{ "{\"a\":[1,{\"b\" 2}]}", 0, 13, "/a/1", "expected ':'" },
	{ "{\"a\":[1,{\"b\":2]}", 0, 14, "/a/1", "expected ',' or '}'" },
	{ "{\"a\":[1,{\"b\":2}}", 0, 15, "/a", "expected ',' or ']'" },
	/* Only space, tab, CR and LF are white space. */
	{ "[\x0c]", 0, 1, "/0", "expected a value" },
	{ "[\x0b" "1]", 0, 1, "/0", "expected a value" },
	{ "\xc2\xa0[]", 0, 0, "", "expected a value" },	/* NBSP */
	{ "\xef\xbb\xbf{}", 0, 0, "", "expected a value" },	/* BOM */
	{ B("[\0]"), 1, "/0", "expected a value" },
	{ B("[]\0"), 2, "", "data after the value" },
	{ "[\xe5]", 0, 1, "/0", "expected a value" },
	{ "\\u00e9", 0, 0, "", "expected a value" },
	/* Literals: exact and lower case. */
	{ "[True]", 0, 1, "/0", "expected a value" },
	{ "[tru]", 0, 1, "/0", "invalid literal" },
	{ "nul", 0, 0, "", "invalid literal" },
	{ "fals", 0, 0, "", "invalid literal" },
	{ "[nulll]", 0, 5, "", "expected ',' or ']'" },
	{ "truefalse", 0, 4, "", "data after the value" },
	{ "[NaN]", 0, 1, "/0", "expected a value" },
	{ "[nan]", 0, 1, "/0", "invalid literal" },
	{ "NaN", 0, 0, "", "expected a value" },
	{ "[Infinity]", 0, 1, "/0", "expected a value" },
	{ "[-Infinity]", 0, 2, "/0", "digit expected after '-'" },
	{ "[undefined]", 0, 1, "/0", "expected a value" },
};

static const struct bad numbers[] = {
	{ "00", 0, 1, "", "leading zero" },
	{ "[-01]", 0, 3, "/0", "leading zero" },
	{ "[012]", 0, 2, "/0", "leading zero" },
	{ "[-012]", 0, 3, "/0", "leading zero" },
	{ "1.", 0, 2, "", "digit expected after '.'" },
	{ "[-2.]", 0, 4, "/0", "digit expected after '.'" },
	{ "[2.e3]", 0, 3, "/0", "digit expected after '.'" },
	{ "[0.e1]", 0, 3, "/0", "digit expected after '.'" },
	{ "[.5]", 0, 1, "/0", "expected a value" },
	{ "[.2e-3]", 0, 1, "/0", "expected a value" },
	{ "[-.123]", 0, 2, "/0", "digit expected after '-'" },
	{ "[+1]", 0, 1, "/0", "expected a value" },
	{ "[++1234]", 0, 1, "/0", "expected a value" },
	{ "[-]", 0, 2, "/0", "digit expected after '-'" },
	{ "-", 0, 1, "", "digit expected after '-'" },
	{ "[- 1]", 0, 2, "/0", "digit expected after '-'" },
	{ "[-foo]", 0, 2, "/0", "digit expected after '-'" },
	{ "[-NaN]", 0, 2, "/0", "digit expected after '-'" },
	{ "[1e]", 0, 3, "/0", "digit expected in the exponent" },
	{ "[0E]", 0, 3, "/0", "digit expected in the exponent" },
	{ "[0e+]", 0, 4, "/0", "digit expected in the exponent" },
	{ "[1.0e-]", 0, 6, "/0", "digit expected in the exponent" },
	{ "[1eE2]", 0, 3, "/0", "digit expected in the exponent" },
	{ "[1ea]", 0, 3, "/0", "digit expected in the exponent" },
	{ "1e", 0, 2, "", "digit expected in the exponent" },
	{ "[1e+-2]", 0, 4, "/0", "digit expected in the exponent" },
	{ "[0.1.2]", 0, 4, "", "expected ',' or ']'" },
	{ "[-1.0.]", 0, 5, "", "expected ',' or ']'" },
	{ "[1e1.5]", 0, 4, "", "expected ',' or ']'" },
	{ "[1 000.0]", 0, 3, "", "expected ',' or ']'" },
	{ "[0x1]", 0, 2, "", "expected ',' or ']'" },
	{ "[1.2a-3]", 0, 4, "", "expected ',' or ']'" },
	{ "[-1x]", 0, 3, "", "expected ',' or ']'" },
	/* A fullwidth digit one. */
	{ "[\xef\xbc\x91]", 0, 1, "/0", "expected a value" },
	{ "{\"n\":[1,2,3.]}", 0, 12, "/n/2", "digit expected after '.'" },
};

static const struct bad strings[] = {
	{ "\"abc", 0, 4, "", "unterminated string" },
	{ "[\"\\\"]", 0, 5, "/0", "unterminated string" },
	{ "\"\\", 0, 2, "", "unterminated string" },
	{ B("[\"\0\"]"), 2, "/0", "raw control character" },
	{ "[\"\x01\"]", 0, 2, "/0", "raw control character" },
	{ "[\"\x1f\"]", 0, 2, "/0", "raw control character" },
	{ "[\"\t\"]", 0, 2, "/0", "raw control character" },
	{ "[\"new\nline\"]", 0, 5, "/0", "raw control character" },
	{ "[\"\\x00\"]", 0, 2, "/0", "invalid escape" },
	{ "[\"\\a\"]", 0, 2, "/0", "invalid escape" },
	{ "[\"\\'\"]", 0, 2, "/0", "invalid escape" },
	{ "[\"\\U0041\"]", 0, 2, "/0", "invalid escape" },
	{ "[\"\\\t\"]", 0, 2, "/0", "invalid escape" },
	{ "[\"\\\xf0\x9f\x8c\x80\"]", 0, 2, "/0", "invalid escape" },
	{ B("[\"\\\0\"]"), 2, "/0", "invalid escape" },
	{ "[\"\\u00A\"]", 0, 2, "/0", "invalid \\u escape" },
	{ "[\"\\uqqqq\"]", 0, 2, "/0", "invalid \\u escape" },
	{ "[\"\\u000\"]", 0, 2, "/0", "invalid \\u escape" },
	{ "\"\\u12", 0, 1, "", "invalid \\u escape" },
	{ "[\"\\u-123\"]", 0, 2, "/0", "invalid \\u escape" },
	/* Surrogates only as high-low pairs. */
	{ "[\"\\ud800\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\uDBFF\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\udc00\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\udfff\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\udc00\\ud800\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"x\\ud800\\ud800\"]", 0, 3, "/0", "lone surrogate" },
	{ "[\"\\ud800a\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800\\n\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800\\u\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800\\u1\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800\\u1x\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\uD834\\uDd\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\uD800\\uE000\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\ud800\\\"]", 0, 2, "/0", "lone surrogate" },
	{ "[\"\\uD800\\uDC00\\uDC00\"]", 0, 14, "/0", "lone surrogate" },
};

static const struct bad utf8[] = {
	/* Overlong: C0 C1, E0 80..9F, F0 80..8F. */
	{ "\"\xc0\x80\"", 0, 1, "", "overlong" },
	{ "\"\xc0\xaf\"", 0, 1, "", "overlong" },
	{ "\"\xc1\xbf\"", 0, 1, "", "overlong" },
	{ "\"\xe0\x80\x80\"", 0, 1, "", "overlong" },
	{ "\"\xe0\x9f\xbf\"", 0, 1, "", "overlong" },
	{ "\"\xf0\x80\x80\x80\"", 0, 1, "", "overlong" },
	{ "\"\xf0\x8f\xbf\xbf\"", 0, 1, "", "overlong" },
	/* Surrogates encoded: ED A0..BF. */
	{ "\"\xed\xa0\x80\"", 0, 1, "", "encoded surrogate" },
	{ "\"\xed\xbf\xbf\"", 0, 1, "", "encoded surrogate" },
	{ "\"\xed\xa0\xbd\xed\xb8\x80\"", 0, 1, "", "encoded surrogate" },
	/* Above U+10FFFF: F4 90.., F5..FF. */
	{ "\"\xf4\x90\x80\x80\"", 0, 1, "", "above U+10FFFF" },
	{ "\"\xf4\xbf\xbf\xbf\"", 0, 1, "", "above U+10FFFF" },
	{ "\"\xf5\x80\x80\x80\"", 0, 1, "", "0xf5 to 0xff" },
	{ "\"\xf7\xbf\xbf\xbf\"", 0, 1, "", "0xf5 to 0xff" },
	{ "\"\xf8\x88\x80\x80\x80\"", 0, 1, "", "0xf5 to 0xff" },
	{ "\"\xfc\x84\x80\x80\x80\x80\"", 0, 1, "", "0xf5 to 0xff" },
	{ "\"\xfe\"", 0, 1, "", "0xf5 to 0xff" },
	{ "\"\xff\"", 0, 1, "", "0xf5 to 0xff" },
	/* Stray continuation bytes. */
	{ "\"\x80\"", 0, 1, "", "stray continuation" },
	{ "\"\xbf\"", 0, 1, "", "stray continuation" },
	{ "\"a\xc3\xa9\xa9\"", 0, 4, "", "stray continuation" },
	{ "\"\xf0\x9f\x98\x80\x80\"", 0, 5, "", "stray continuation" },
	/* Truncated: at the closing quote, before ASCII, at the end. */
	{ "\"\xc2\"", 0, 1, "", "truncated" },
	{ "\"\xdf" "a\"", 0, 1, "", "truncated" },
	{ "\"\xe0\xa0\"", 0, 1, "", "truncated" },
	{ "\"\xe2\x82\"", 0, 1, "", "truncated" },
	{ "\"\xe2\"", 0, 1, "", "truncated" },
	{ "\"\xf0\x90\x80\"", 0, 1, "", "truncated" },
	{ "\"\xf0\x90\"", 0, 1, "", "truncated" },
	{ "\"\xf4\x8f\xbf" "a\"", 0, 1, "", "truncated" },
	{ "\"\xe2\x82", 0, 1, "", "truncated" },
	{ "\"\xf0\x9f\x98", 0, 1, "", "truncated" },
	{ "\"\xc3", 0, 1, "", "truncated" },
	/* Truncated wins over overlong / surrogate when byte 2 is no trail. */
	{ "\"\xe0" "A\"", 0, 1, "", "truncated" },
	{ "\"\xed\"", 0, 1, "", "truncated" },
	/* Where they sit: paths, and member names (the object's path). */
	{ "{\"message\":{\"order\":{\"items\":[{},{},{},{\"descriptor\":"
	    "{\"name\":\"caf\xe9\"}}]}}}", 0, 65,
	    "/message/order/items/3/descriptor/name", "truncated" },
	{ "{\"a\":[\"ok\",\"\xc0\x80\"]}", 0, 12, "/a/1", "overlong" },
	{ "{\"a\":{\"\xed\xa0\x80\":1}}", 0, 7, "/a",
	    "member name: invalid UTF-8 (encoded surrogate)" },
	{ "{\"a\":{\"ok\":1,\"b\xff\":1}}", 0, 15, "/a", "member name" },
	{ "{\"\\ud800\":1}", 0, 2, "", "member name: lone surrogate" },
	{ "{\"a\\q\":1}", 0, 3, "", "member name: invalid escape" },
	{ "{\"a\n\":1}", 0, 3, "", "member name: raw control" },
	{ "{\"abc", 0, 5, "", "member name: unterminated" },
	/* Outside strings only ASCII syntax. */
	{ "[1,\xc3\xa9]", 0, 3, "/1", "expected a value" },
	{ "{\xc3\xa9:1}", 0, 1, "", "expected a member name" },
	{ "[1]\xff", 0, 3, "", "data after the value" },
};

static const struct bad dupnames[] = {
	{ "{\"a\":1,\"a\":2}", 0, 7, "", "duplicate member name \"a\"" },
	{ "{\"a\":\"b\",\"a\":\"b\"}", 0, 9, "", "duplicate member name" },
	{ "{\"a\":1,\"\\u0061\":2}", 0, 7, "", "\"a\"" },
	{ "{\"\\u0061\":1,\"a\":2}", 0, 12, "", "\"a\"" },
	{ "{\"\\u0061\":1,\"\\u0061\":2}", 0, 12, "", "\"a\"" },
	{ "{\"/\":1,\"\\/\":2}", 0, 7, "", "\"/\"" },
	{ "{\"\":1,\"\":2}", 0, 6, "", "\"\"" },
	{ "{\"\xc3\xa9\":1,\"\\u00e9\":2}", 0, 8, "", "\"\xc3\xa9\"" },
	{ "{\"\xc3\xa9\":1,\"\\u00E9\":2}", 0, 8, "", "\"\xc3\xa9\"" },
	{ "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", 0, 10, "",
	    "\"\xf0\x9f\x98\x80\"" },
	{ "{\"\\n\":1,\"\\u000a\":2}", 0, 8, "", "\"\\u000a\"" },
	{ "{\"x\\\"y\":1,\"x\\u0022y\":2}", 0, 10, "", "\"x\"y\"" },
	/* Nested, and the object's path. */
	{ "{\"x\":{\"y\":[{\"k\":1,\"k\":2}]}}", 0, 18, "/x/y/0", "\"k\"" },
	{ "{\"a\":1,\"b\":{\"a\":1,\"b\":2},\"a\":3}", 0, 25, "", "\"a\"" },
	{ "{\"a\":{\"b\":1},\"a\":2}", 0, 13, "", "\"a\"" },
	{ "{\"\\u0061\":{\"\\u0062\":1},\"\\u0061\":2}", 0, 23, "", "\"a\"" },
	{ "[{\"a\":1},{\"b\":1,\"b\":2}]", 0, 16, "/1", "\"b\"" },
	{ "{\"a/b\":{\"c~d\":{\"e\":0,\"e\":0}}}", 0, 21, "/a~1b/c~0d",
	    "\"e\"" },
	/* U+0000 in a member name: json-c would cut "a\u0000b" to "a". */
	{ "{\"a\":1,\"a\\u0000b\":2}", 0, 9, "", "\\u0000 is not allowed" },
	{ "{\"\\u0000\":1}", 0, 2, "", "\\u0000 is not allowed" },
	{ "{\"x\":{\"k\\u0000\":1}}", 0, 8, "/x", "member name" },
	/* Several members (big_objects goes past the linear phase). */
	{ "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
	    "\"a\":9}", 0, 49, "", "\"a\"" },
	{ "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
	    "\"i\":9,\"h\":10}", 0, 55, "", "\"h\"" },
	{ "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
	    "\"i\":9,\"j\":10,\"\\u0069\":11}", 0, 62, "", "\"i\"" },
	/* Shown printable and cut in a reason. */
	{ "{\"\\u001f\\u007f\":0,\"\\u001f\x7f\":1}", 0, 18, "",
	    "\"\\u001f\\u007f\"" },
};

static void
run_bad(const struct bad *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		expect_bad(&t[i], NULL);
}

START_TEST(refused_grammar)
{
	run_bad(grammar, sizeof(grammar) / sizeof(grammar[0]));
}
END_TEST

START_TEST(refused_numbers)
{
	run_bad(numbers, sizeof(numbers) / sizeof(numbers[0]));
}
END_TEST

START_TEST(refused_strings)
{
	run_bad(strings, sizeof(strings) / sizeof(strings[0]));
}
END_TEST

START_TEST(refused_utf8)
{
	run_bad(utf8, sizeof(utf8) / sizeof(utf8[0]));
}
END_TEST

START_TEST(refused_names)
{
	run_bad(dupnames, sizeof(dupnames) / sizeof(dupnames[0]));
}
END_TEST

/* Every byte value after a valid lead, and every lone byte. */
START_TEST(utf8_exhaustive)
{
	unsigned char	 doc[8];
	unsigned	 a, b, c, d, cp;
	size_t		 len;
	int		 want;

	/* Every 1- and 2-byte string, and every 3-byte one from E0..EF. */
	for (a = 0x80; a < 0x100; a++) {
		doc[0] = '"';
		doc[1] = (unsigned char)a;
		doc[2] = '"';
		ck_assert_int_eq(jsoncheck((char *)doc, 3, NULL, NULL), -1);
		for (b = 0; b < 0x100; b++) {
			doc[2] = (unsigned char)b;
			doc[3] = '"';
			want = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
			ck_assert_msg((jsoncheck((char *)doc, 4, NULL, NULL) ==
			    0) == want, "%02x %02x", a, b);
		}
	}
	for (a = 0xe0; a < 0xf0; a++)
		for (b = 0x80; b < 0xc0; b++)
			for (c = 0; c < 0x100; c++) {
				doc[1] = (unsigned char)a;
				doc[2] = (unsigned char)b;
				doc[3] = (unsigned char)c;
				doc[4] = '"';
				cp = (a & 0x0f) << 12 | (b & 0x3f) << 6 |
				    (c & 0x3f);
				want = c >= 0x80 && c <= 0xbf &&
				    cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
				ck_assert_msg((jsoncheck((char *)doc, 5, NULL,
				    NULL) == 0) == want, "%02x %02x %02x",
				    a, b, c);
			}
	/* 4-byte: every lead and second byte, the rest a trail. */
	for (a = 0xf0; a < 0x100; a++)
		for (b = 0; b < 0x100; b++) {
			doc[1] = (unsigned char)a;
			doc[2] = (unsigned char)b;
			doc[3] = 0x80;
			doc[4] = 0xbf;
			doc[5] = '"';
			len = 6;
			cp = (a & 0x07) << 18 | (b & 0x3f) << 12 | 0x3f;
			want = a <= 0xf4 && b >= 0x80 && b <= 0xbf &&
			    cp >= 0x10000 && cp <= 0x10ffff;
			ck_assert_msg((jsoncheck((char *)doc, len, NULL,
			    NULL) == 0) == want, "%02x %02x", a, b);
		}
	/* And every trail position of a valid 4-byte sequence. */
	for (d = 0; d < 0x100; d++) {
		memcpy(doc, "\"\xf0\x9f\x98\x80\"", 6);
		doc[4] = (unsigned char)d;
		want = d >= 0x80 && d <= 0xbf;
		ck_assert_int_eq(jsoncheck((char *)doc, 6, NULL, NULL) == 0,
		    want);
		doc[4] = 0x80;
		doc[3] = (unsigned char)d;
		ck_assert_int_eq(jsoncheck((char *)doc, 6, NULL, NULL) == 0,
		    want);
	}
}
END_TEST

/* ---- paths -------------------------------------------------------------- */

START_TEST(path_escapes_and_cut)
{
	static const struct bad t[] = {
		{ "{\"a~/b\":{\"c\":[tru]}}", 0, 14, "/a~0~1b/c/0",
		    "invalid literal" },
		{ "{\"a\\/b\":{\"\\u007e1\":\"\\q\"}}", 0, 20, "/a~1b/~01",
		    "invalid escape" },
		{ "{\"\xc3\xa9\":[true,\"\xff\"]}", 0, 13, "/\xc3\xa9/1",
		    "0xf5 to 0xff" },
		{ "{\"\\ud83d\\ude00\":[0,0,0,0,0,0,0,0,0,0,0,0x]}", 0, 40,
		    "/\xf0\x9f\x98\x80", "expected ',' or ']'" },
		{ "{\"\":{\"\":[\"\\z\"]}}", 0, 10, "///0", "invalid escape" },
		{ "{\"\\\\\":\"\\z\"}", 0, 7, "/\\", "invalid escape" },
		{ "{\"\\t\":\"\\z\"}", 0, 7, "/\t", "invalid escape" },
	};
	struct jsoncheck_error	 e;
	char			 doc[1024], want[512];
	size_t			 i, n;

	run_bad(t, sizeof(t) / sizeof(t[0]));

	/*
	 * {"a":{"b...":{"c":"\xff"}}}: tokens "/a", "/b..." and "/c".  With
	 * 250 b's the path is 255 bytes and fits; with 251 the last token is
	 * left out, with 253 the last two.
	 */
	for (n = 250; n <= 253; n++) {
		i = (size_t)snprintf(doc, sizeof(doc), "{\"a\":{\"");
		memset(doc + i, 'b', n);
		i += n;
		i += (size_t)snprintf(doc + i, sizeof(doc) - i,
		    "\":{\"c\":\"\xff\"}}}");
		ck_assert_int_eq(jsoncheck(doc, i, NULL, &e), -1);
		ck_assert_uint_eq(e.offset, i - 5);
		if (n == 250)
			snprintf(want, sizeof(want), "/a/%.*s/c", (int)n,
			    doc + 7);
		else if (n <= 252)
			snprintf(want, sizeof(want), "/a/%.*s", (int)n,
			    doc + 7);
		else
			snprintf(want, sizeof(want), "/a");
		ck_assert_str_eq(e.path, want);
		ck_assert_uint_le(strlen(e.path), JSONCHECK_PATH_MAX - 1);
	}
	/* A "~0" is never cut in two: 252 x's and "~" fit, 253 do not. */
	for (n = 252; n <= 253; n++) {
		i = (size_t)snprintf(doc, sizeof(doc), "{\"");
		memset(doc + i, 'x', n);
		i += n;
		i += (size_t)snprintf(doc + i, sizeof(doc) - i,
		    "~\":\"\xff\"}");
		ck_assert_int_eq(jsoncheck(doc, i, NULL, &e), -1);
		if (n == 252) {
			snprintf(want, sizeof(want), "/%.*s~0", (int)n,
			    doc + 2);
			ck_assert_str_eq(e.path, want);
		} else
			ck_assert_str_eq(e.path, "");
	}
	/* 63 nested objects: 63 tokens of 5 bytes, the first 51 fit. */
	n = 0;
	for (i = 0; i < 63; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"k%03zu\":",
		    i);
	doc[n++] = 'x';
	ck_assert_int_eq(jsoncheck(doc, n, NULL, &e), -1);
	ck_assert_uint_eq(e.offset, n - 1);
	ck_assert_str_eq(e.reason, "expected a value");
	ck_assert_uint_eq(strlen(e.path), 255);
	ck_assert(strncmp(e.path, "/k000/k001/k002", 15) == 0);
	ck_assert_str_eq(e.path + 250, "/k050");
}
END_TEST

/* Long names: quoted cut on a character; escaped ones past the arena. */
START_TEST(long_names)
{
	struct jsoncheck_error	 e;
	char			 doc[8192], want[128];
	size_t			 n = 0, i;

	/* 47 x's, an e-acute, more x's: cut after the whole character. */
	n += (size_t)sprintf(doc + n, "{\"");
	for (i = 0; i < 2; i++) {
		memset(doc + n, 'x', 47);
		n += 47;
		n += (size_t)sprintf(doc + n, "\xc3\xa9xxxxxxxxxx\":%zu%s", i,
		    i == 0 ? ",\"" : "}");
	}
	ck_assert_int_eq(jsoncheck(doc, n, NULL, &e), -1);
	snprintf(want, sizeof(want), "duplicate member name \"%.47s"
	    "\xc3\xa9...\"", doc + 2);
	ck_assert_str_eq(e.reason, want);

	/* 400 escaped x's (2400 bytes), then 400 raw ones. */
	n = (size_t)sprintf(doc, "{\"a\":{},\"");
	for (i = 0; i < 400; i++)
		n += (size_t)sprintf(doc + n, "\\u0078");
	n += (size_t)sprintf(doc + n, "\":1,\"");
	i = n - 1;
	memset(doc + n, 'x', 400);
	n += 400;
	n += (size_t)sprintf(doc + n, "\":2}");
	ck_assert_int_eq(jsoncheck(doc, n, NULL, &e), -1);
	ck_assert_uint_eq(e.offset, i);
	ck_assert(strncmp(e.reason, "duplicate member name \"xxxx", 27) ==
	    0);
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

static char *
nested(unsigned depth, size_t *len)
{
	char	*s = xmalloc(2 * (size_t)depth + 1);

	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	*len = 2 * (size_t)depth;
	return s;
}

static int	jc_strict(const char *, size_t);

/* n arrays (objects: {"a": ...}) around inner. */
static char *
wrapped(unsigned n, int obj, const char *inner, size_t *len)
{
	size_t	 il = strlen(inner), at = 0, i;
	char	*s = xmalloc(6 * (size_t)n + il + 1);

	for (i = 0; i < n; i++)
		at += (size_t)sprintf(s + at, "%s", obj ? "{\"a\":" : "[");
	memcpy(s + at, inner, il);
	at += il;
	for (i = 0; i < n; i++)
		s[at++] = obj ? '}' : ']';
	s[at] = '\0';
	*len = at;
	return s;
}

START_TEST(limits_edges)
{
	struct jsoncheck_limits	 l3 = { 3, 64 }, d2 = { 100, 2 };
	struct jsoncheck_limits	 d1 = { 100, 1 }, d0 = { 100, 0 };
	struct jsoncheck_limits	 n0 = { 0, 64 };
	struct jsoncheck_limits	 deep = { 1000000, 100000 };
	static const struct bad	 over3[] = {
		{ "[1,2,3]", 0, 5, "/2", "more than 3 values" },
		{ "{\"a\":{\"b\":{\"c\":1}}}", 0, 15, "/a/b/c",
		    "more than 3 values" },
		{ "[[[[]]]]", 0, 3, "/0/0/0", "more than 3 values" },
		{ "[\"a\",\"b\",\"c\",\"d\"]", 0, 9, "/2", "more than 3" },
	};
	static const struct bad	 over_d2[] = {
		{ "[[1]]", 0, 2, "/0/0", "nested deeper than 2 levels" },
		{ "[[[1]]]", 0, 2, "/0/0", "nested deeper than 2 levels" },
		{ "{\"a\":{\"b\":1}}", 0, 10, "/a/b", "deeper than 2" },
		{ "{\"a\":{\"b\":{}}}", 0, 10, "/a/b", "deeper than 2" },
		{ "[{},[],[{}]]", 0, 8, "/2/0", "nested deeper than 2" },
		{ "[1,[\"x\"]]", 0, 4, "/1/0", "nested deeper than 2" },
	};
	static const struct bad	 over_d1 = { "[1]", 0, 1, "/0",
				    "deeper than 1 level" };
	static const struct bad	 over_d0 = { "1", 0, 0, "", "deeper than 0" };
	static const struct bad	 n0bad = { "1", 0, 0, "", "more than 0" };
	static const char *const inner[] = { "", "6", "\"x\"", "{}", "[]",
	    "true", "{\"a\":1}", "[1]", "[[]]", "{\"a\":{}}" };
	struct jsoncheck_error	 e;
	json_tokener		*tok;
	json_object		*o;
	char			*s;
	size_t			 len, i;
	unsigned		 n;
	int			 obj, ours, theirs;

	expect_ok("[1,2]", 0, &l3);
	expect_ok("{\"a\":[]}", 0, &l3);
	expect_ok("{\"a\":1,\"b\":2}", 0, &l3);	/* names are not values */
	for (i = 0; i < sizeof(over3) / sizeof(over3[0]); i++)
		expect_bad(&over3[i], &l3);
	expect_ok("[1]", 0, &d2);
	expect_ok("[[]]", 0, &d2);
	expect_ok("{\"a\":{},\"b\":[],\"c\":1}", 0, &d2);
	for (i = 0; i < sizeof(over_d2) / sizeof(over_d2[0]); i++)
		expect_bad(&over_d2[i], &d2);
	expect_ok("1", 0, &d1);
	expect_ok("[]", 0, &d1);
	expect_ok("{}", 0, &d1);
	expect_bad(&over_d1, &d1);
	expect_bad(&over_d0, &d0);
	expect_bad(&n0bad, &n0);

	/*
	 * The default depth refuses exactly what json_tokener_new_ex(64)
	 * refuses: 64 empty arrays pass, 64 around a value do not.
	 */
	for (obj = 0; obj < 2; obj++)
		for (n = 61; n <= 65; n++)
			for (i = 0; i < sizeof(inner) / sizeof(inner[0]);
			    i++) {
				s = wrapped(n, obj, inner[i], &len);
				ours = jsoncheck(s, len, NULL, &e) == 0;
				theirs = jc_strict(s, len);
				ck_assert_msg(ours == theirs, "%s: jsoncheck "
				    "%d, json-c %d", s, ours, theirs);
				free(s);
			}
	s = nested(64, &len);
	expect_ok(s, len, NULL);
	free(s);
	s = wrapped(64, 0, "6", &len);
	ck_assert_int_eq(jsoncheck(s, len, NULL, &e), -1);
	ck_assert_uint_eq(e.offset, 64);
	ck_assert_str_eq(e.reason, "nested deeper than 64 levels");
	ck_assert_uint_eq(strlen(e.path), 64 * 2);	/* "/0" x 64 */
	free(s);
	s = nested(65, &len);
	ck_assert_int_eq(jsoncheck(s, len, NULL, &e), -1);
	ck_assert_uint_eq(e.offset, 64);
	tok = json_tokener_new_ex(64);
	o = json_tokener_parse_ex(tok, s, (int)len);
	ck_assert_ptr_null(o);
	json_tokener_free(tok);
	free(s);

	/* Much deeper than the local frames: no recursion, heap frames. */
	s = nested(100000, &len);
	expect_ok(s, len, &deep);
	s[99999] = '}';
	ck_assert_int_eq(jsoncheck(s, len, &deep, &e), -1);
	ck_assert_uint_eq(e.offset, 99999);
	ck_assert_str_eq(e.reason, "expected a value");
	ck_assert_uint_eq(strlen(e.path), 254);		/* "/0" x 127 */
	free(s);

	/* The default budget: 200000 values, not one more. */
	s = xmalloc(2 * 200000 + 2);
	s[0] = '[';
	for (i = 0; i < 199999; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = ',';
	}
	s[2 * 199999] = ']';
	len = 2 * 199999 + 1;
	expect_ok(s, len, NULL);		/* [ + 199,999 zeros */
	s[len - 1] = ',';
	s[len] = '0';
	s[len + 1] = ']';
	ck_assert_int_eq(jsoncheck(s, len + 2, NULL, &e), -1);
	ck_assert_uint_eq(e.offset, len);
	ck_assert_str_eq(e.path, "/199999");
	ck_assert_str_eq(e.reason, "more than 200000 values");
	free(s);
}
END_TEST

/* ---- big objects: the hash tables --------------------------------------- */

/*
 * {"<pre>0":<val>,"<pre>1":<val>,...} with n members, not closed; *len
 * set; room for 64 more bytes.
 */
static char *
big_object(size_t n, size_t *len, const char *pre, const char *val)
{
	char	*s = xmalloc((24 + strlen(pre) + strlen(val)) * n + 64);
	size_t	 i, at = 0;

	s[at++] = '{';
	for (i = 0; i < n; i++)
		at += (size_t)sprintf(s + at, "%s\"%s%zu\":%s",
		    i > 0 ? "," : "", pre, i, val);
	*len = at;
	return s;
}

/*
 * An object of 40 members whose "p20" is an array of objects: one of
 * 1000 members, then 300 of 20 members using some of the same names (a
 * stale table entry would make a false duplicate); the outer object's
 * table lives throughout.  dup 1: "p3" again at the end of the outer
 * object; dup 2: a last object of 21 members in the array, its last a
 * duplicate.  Returns the length; *at: the duplicate's offset.
 */
static size_t
two_depths(char *s, int dup, size_t *at)
{
	size_t	 n, i, j, k;

	n = (size_t)sprintf(s, "{");
	for (i = 0; i < 40; i++) {
		n += (size_t)sprintf(s + n, "%s\"p%zu\":", i ? "," : "", i);
		if (i != 20) {
			n += (size_t)sprintf(s + n, "%zu", i);
			continue;
		}
		n += (size_t)sprintf(s + n, "[{");
		for (k = 0; k < 1000; k++)
			n += (size_t)sprintf(s + n, "\"q%zu\":0,", k);
		n += (size_t)sprintf(s + n, "\"p5\":0}");
		for (k = 0; k < 300; k++) {
			n += (size_t)sprintf(s + n, ",{\"p%zu\":0", k % 3);
			for (j = 0; j < 19; j++)
				n += (size_t)sprintf(s + n, ",\"q%zu\":0",
				    (k + j * 37) % 1000);
			n += (size_t)sprintf(s + n, "}");
		}
		if (dup == 2) {
			n += (size_t)sprintf(s + n, ",{");
			for (k = 0; k < 20; k++)
				n += (size_t)sprintf(s + n, "%s\"q%zu\":0",
				    k ? "," : "", k * 7);
			*at = n + 1;
			n += (size_t)sprintf(s + n, ",\"q70\":0}");
		}
		n += (size_t)sprintf(s + n, "]");
	}
	if (dup == 1) {
		*at = n + 1;
		n += (size_t)sprintf(s + n, ",\"p3\":0");
	}
	n += (size_t)sprintf(s + n, "}");
	return n;
}

START_TEST(big_objects)
{
	struct jsoncheck_limits	 lim = { 10000000, 64 };
	struct jsoncheck_error	 e;
	static const size_t	 sizes[] = { 1, 2, 15, 16, 17, 18, 31, 32, 33,
				    34, 64, 65, 1000, 100000 };
	char			*s;
	size_t			 len, i, at, k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s = big_object(sizes[i], &len, "k", "0");
		s[len] = '}';
		expect_ok(s, len + 1, &lim);
		/* Earlier names again, escaped: always found. */
		for (k = 0; k < sizes[i]; k++) {
			if (k % (sizes[i] / 7 + 1) != 0 && k != sizes[i] - 1)
				continue;
			at = len + (size_t)sprintf(s + len,
			    ",\"\\u006b%zu\":1}", k);
			ck_assert_int_eq(jsoncheck(s, at, &lim, &e), -1);
			ck_assert_uint_eq(e.offset, len + 1);
			ck_assert_str_eq(e.path, "");
			ck_assert(strstr(e.reason, "duplicate") != NULL);
		}
		free(s);
	}
	/* Escaped names all along (the arena), and a duplicate of the 1st. */
	s = big_object(5000, &len, "\\u006b\\u00e9", "{\"x\":[]}");
	sprintf(s + len, "}");
	expect_ok(s, len + 1, &lim);
	at = len + (size_t)sprintf(s + len, ",\"k\xc3\xa9" "0\":1}");
	ck_assert_int_eq(jsoncheck(s, at, &lim, &e), -1);
	ck_assert_str_eq(e.reason, "duplicate member name \"k\xc3\xa9" "0\"");
	free(s);

	/* Tables at two depths at once (two_depths()). */
	s = xmalloc(1 << 20);
	len = two_depths(s, 0, &at);
	expect_ok(s, len, &lim);
	len = two_depths(s, 1, &at);
	ck_assert_int_eq(jsoncheck(s, len, &lim, &e), -1);
	ck_assert_uint_eq(e.offset, at);
	ck_assert_str_eq(e.path, "");
	ck_assert_str_eq(e.reason, "duplicate member name \"p3\"");
	len = two_depths(s, 2, &at);
	ck_assert_int_eq(jsoncheck(s, len, &lim, &e), -1);
	ck_assert_uint_eq(e.offset, at);
	ck_assert_str_eq(e.path, "/p20/301");
	ck_assert_str_eq(e.reason, "duplicate member name \"q70\"");
	free(s);
}
END_TEST

/* ---- property tests ----------------------------------------------------- */

static uint64_t	 rng_state;

static uint64_t
rng(void)
{
	uint64_t	 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* A random code point, weighted to the edges; no surrogates. */
static unsigned long
rnd_cp(int name)
{
	static const unsigned long edges[] = { 0x7f, 0x80, 0x7ff, 0x800,
	    0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x2f, 0x7e,
	    0x22, 0x5c, 0x1f, 0x20, 0x00 };
	unsigned long	 cp;

	switch (rnd(8)) {
	case 0:
		cp = edges[rnd(sizeof(edges) / sizeof(edges[0]))];
		break;
	case 1:
		cp = rnd(0x20);
		break;
	case 2:
		cp = 0x80 + rnd(0x780);
		break;
	case 3:
		cp = 0x800 + rnd(0xf800);
		break;
	case 4:
		cp = 0x10000 + rnd(0x100000);
		break;
	default:
		cp = 0x20 + rnd(0x5f);
		break;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 'S';
	if (cp == 0 && name)
		cp = 'Z';
	return cp;
}

static size_t
put_utf8(unsigned long cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random UTF-8 text of up to max code points. */
static size_t
rnd_text(unsigned char *o, unsigned max, int name)
{
	size_t		 n = 0;
	unsigned	 i, k = rnd(max + 1);

	for (i = 0; i < k; i++)
		n += put_utf8(rnd_cp(name), o + n);
	return n;
}

static json_object *
rnd_tree(int depth)
{
	json_object	*o;
	unsigned char	 s[256];
	char		 key[256];
	unsigned	 i, n;
	size_t		 len;

	switch (depth <= 0 ? 2 + rnd(5) : rnd(7)) {
	case 0:
		o = json_object_new_object();
		n = rnd(4) == 0 ? rnd(40) : rnd(6);
		for (i = 0; i < n; i++) {
			len = rnd_text((unsigned char *)key, 8, 1);
			key[len] = '\0';
			json_object_object_add(o, key, rnd_tree(depth - 1));
		}
		return o;
	case 1:
		o = json_object_new_array();
		n = rnd(6);
		for (i = 0; i < n; i++)
			json_object_array_add(o, rnd_tree(depth - 1));
		return o;
	case 2:
		len = rnd_text(s, 20, 0);
		return json_object_new_string_len((char *)s, (int)len);
	case 3:
		return json_object_new_int64((int64_t)rng());
	case 4:
		return json_object_new_double((double)(int64_t)rng() /
		    (double)(1ULL << rnd(64)) * (rnd(2) ? 1e-300 : 1e10));
	case 5:
		return json_object_new_boolean((int)rnd(2));
	default:
		return NULL;	/* null */
	}
}

/*
 * json-c's strict tokener, as the proxy runs it (NUL-terminated: a NUL
 * ends a number at the root): 1 when it parses doc.
 */
static int
jc_strict(const char *doc, size_t len)
{
	json_tokener	*tok;
	json_object	*o;
	char		*z;
	int		 ok;

	z = xmalloc(len + 1);
	memcpy(z, doc, len);
	z[len] = '\0';
	tok = json_tokener_new_ex(JSONCHECK_MAX_DEPTH_DEFAULT);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, z, (int)len + 1);
	ok = json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	free(z);
	return ok;
}

/* Flip, replace, insert or delete a few bytes at random. */
static size_t
mutate(const char *in, size_t len, char *out)
{
	static const char interesting[] = "\"\\{}[],:-+.eE0123456789 \t\n"
	    "tfnu\x80\xbf\xc0\xc2\xe0\xed\xf0\xf4\xff\x00";
	unsigned	 k, n = 1 + rnd(3);
	size_t		 at;

	memcpy(out, in, len);
	for (k = 0; k < n; k++) {
		at = len > 0 ? rnd((unsigned)len) : 0;
		switch (rnd(4)) {
		case 0:
			if (len > 0)
				out[at] ^= (char)(1 << rnd(8));
			break;
		case 1:
			if (len > 0)
				out[at] = interesting[rnd(sizeof(interesting))];
			break;
		case 2:
			memmove(out + at + 1, out + at, len - at);
			out[at] = interesting[rnd(sizeof(interesting))];
			len++;
			break;
		default:
			if (len > 0) {
				memmove(out + at, out + at + 1, len - at - 1);
				len--;
			}
			break;
		}
	}
	return len;
}

START_TEST(property_jsonc_trees)
{
	static const int	 flags[] = { JSON_C_TO_STRING_PLAIN,
	    JSON_C_TO_STRING_SPACED, JSON_C_TO_STRING_PRETTY,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE };
	struct jsoncheck_error	 e;
	json_object		*o;
	const char		*s;
	char			*m;
	size_t			 len, mlen;
	unsigned		 i, k, accepted = 0, mutants = 0;

	rng_state = 0x9e3779b97f4a7c15ULL;
	m = xmalloc(1 << 20);
	for (i = 0; i < 10000; i++) {
		o = rnd_tree(1 + (int)rnd(6));
		s = json_object_to_json_string_length(o,
		    flags[rnd(sizeof(flags) / sizeof(flags[0]))], &len);
		ck_assert_msg(jsoncheck(s, len, NULL, &e) == 0,
		    "#%u refused %s: at %zu '%s': %s", i, s, e.offset, e.path,
		    e.reason);
		ck_assert_uint_lt(len + 8, 1 << 20);
		/* Mutants that pass are strict JSON to json-c as well. */
		for (k = 0; k < 8; k++) {
			mlen = mutate(s, len, m);
			mutants++;
			if (jsoncheck(m, mlen, NULL, NULL) != 0)
				continue;
			accepted++;
			ck_assert_msg(jc_strict(m, mlen), "json-c refused a "
			    "text jsoncheck passed: %.*s", (int)mlen, m);
		}
		json_object_put(o);
	}
	free(m);
	printf("jsoncheck: 10000 json-c trees passed; %u of %u mutants "
	    "passed, all parsed by json-c\n", accepted, mutants);
}
END_TEST

/*
 * Texts written by hand with every escape and white space, unique member
 * names (compared unescaped); with inject, one object gets a member
 * whose name repeats an earlier one, escaped another way, and the test
 * knows where.
 */
struct gen {
	char		*s;
	size_t		 n, cap;
	int		 inject;	/* 1: pending, 2: done */
	size_t		 dup_off;
	char		 dup_path[4096];
	char		 path[4096];
	unsigned	 nodes;
};

static void
gput(struct gen *g, const void *p, size_t n)
{
	if (g->n + n > g->cap) {
		g->cap = (g->n + n) * 2;
		g->s = xrealloc(g->s, g->cap);
	}
	memcpy(g->s + g->n, p, n);
	g->n += n;
}

static void
gws(struct gen *g)
{
	static const char *const ws[] = { "", "", "", " ", "\n", "\t",
	    "\r\n  ", " \t" };

	const char	*w = ws[rnd(8)];

	gput(g, w, strlen(w));
}

/* Write the UTF-8 text t as a JSON string, escaping at random. */
static void
gstring(struct gen *g, const unsigned char *t, size_t len)
{
	static const char	 hex[] = "0123456789abcdef0123456789ABCDEF";
	unsigned long		 cp, hi, lo;
	size_t			 i = 0, j, k;
	char			 buf[16];
	int			 up;

	gput(g, "\"", 1);
	while (i < len) {
		k = t[i] < 0x80 ? 1 : t[i] < 0xe0 ? 2 : t[i] < 0xf0 ? 3 : 4;
		cp = k == 1 ? t[i] : k == 2 ? t[i] & 0x1fUL : k == 3 ?
		    t[i] & 0x0fUL : t[i] & 0x07UL;
		for (j = 1; j < k; j++)
			cp = cp << 6 | (t[i + j] & 0x3fUL);
		up = rnd(2) ? 16 : 0;
		if (cp == '"' || cp == '\\' || cp < 0x20 || rnd(4) == 0) {
			if (cp == '"' && rnd(2))
				gput(g, "\\\"", 2);
			else if (cp == '\\' && rnd(2))
				gput(g, "\\\\", 2);
			else if (cp == '/' && rnd(2))
				gput(g, "\\/", 2);
			else if (cp == '\n' && rnd(2))
				gput(g, "\\n", 2);
			else if (cp == '\t' && rnd(2))
				gput(g, "\\t", 2);
			else if (cp == '\b' && rnd(2))
				gput(g, "\\b", 2);
			else if (cp == '\f' && rnd(2))
				gput(g, "\\f", 2);
			else if (cp == '\r' && rnd(2))
				gput(g, "\\r", 2);
			else if (cp < 0x10000) {
				snprintf(buf, sizeof(buf), "\\u%c%c%c%c",
				    hex[up + (cp >> 12)],
				    hex[up + ((cp >> 8) & 15)],
				    hex[up + ((cp >> 4) & 15)],
				    hex[up + (cp & 15)]);
				gput(g, buf, 6);
			} else {
				hi = 0xd800 + ((cp - 0x10000) >> 10);
				lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				snprintf(buf, sizeof(buf),
				    "\\u%c%c%c%c\\u%c%c%c%c",
				    hex[up + (hi >> 12)],
				    hex[up + ((hi >> 8) & 15)],
				    hex[up + ((hi >> 4) & 15)],
				    hex[up + (hi & 15)], hex[up + (lo >> 12)],
				    hex[up + ((lo >> 8) & 15)],
				    hex[up + ((lo >> 4) & 15)],
				    hex[up + (lo & 15)]);
				gput(g, buf, 12);
			}
		} else
			gput(g, t + i, k);
		i += k;
	}
	gput(g, "\"", 1);
}

static void
gnumber(struct gen *g)
{
	char		 buf[64];
	size_t		 n = 0;
	unsigned	 i, k;

	if (rnd(2))
		buf[n++] = '-';
	if (rnd(3) == 0)
		buf[n++] = '0';
	else {
		buf[n++] = (char)('1' + rnd(9));
		for (i = 0, k = rnd(12); i < k; i++)
			buf[n++] = (char)('0' + rnd(10));
	}
	if (rnd(2)) {
		buf[n++] = '.';
		for (i = 0, k = 1 + rnd(10); i < k; i++)
			buf[n++] = (char)('0' + rnd(10));
	}
	if (rnd(3) == 0) {
		buf[n++] = rnd(2) ? 'e' : 'E';
		if (rnd(2))
			buf[n++] = rnd(2) ? '+' : '-';
		for (i = 0, k = 1 + rnd(3); i < k; i++)
			buf[n++] = (char)('0' + rnd(10));
	}
	gput(g, buf, n);
}

/* Append the JSON pointer token of name t to path. */
static void
path_add(char *path, const unsigned char *t, size_t len)
{
	size_t	 n = strlen(path), i;

	path[n++] = '/';
	for (i = 0; i < len && n < 4000; i++) {
		if (t[i] == '~' || t[i] == '/') {
			path[n++] = '~';
			path[n++] = t[i] == '~' ? '0' : '1';
		} else
			path[n++] = (char)t[i];
	}
	path[n] = '\0';
}

static void
gvalue(struct gen *g, int depth)
{
	unsigned char	 names[48][64];
	size_t		 nlen[48], plen = strlen(g->path);
	unsigned	 i, j, n, at;
	const char	*lit[] = { "true", "false", "null" };

	g->nodes++;
	switch (depth <= 0 ? 2 + rnd(3) : rnd(5)) {
	case 0:
		n = rnd(4) == 0 ? 9 + rnd(39) : rnd(9);
		at = g->inject == 1 && n > 0 && rnd(3) == 0 ? 1 + rnd(n) : 0;
		gput(g, "{", 1);
		gws(g);
		for (i = 0; i < n; i++) {
			/* A name not equal to any earlier one. */
			do {
				nlen[i] = rnd_text(names[i], 5, 1);
				for (j = 0; j < i; j++)
					if (nlen[j] == nlen[i] && memcmp(
					    names[j], names[i], nlen[i]) == 0)
						break;
			} while (j < i);
			if (i > 0) {
				gput(g, ",", 1);
				gws(g);
			}
			gstring(g, names[i], nlen[i]);
			gws(g);
			gput(g, ":", 1);
			gws(g);
			path_add(g->path, names[i], nlen[i]);
			gvalue(g, depth - 1);
			g->path[plen] = '\0';
			gws(g);
			if (i + 1 == at && g->inject == 1) {
				j = rnd(i + 1);
				gput(g, ",", 1);
				gws(g);
				g->dup_off = g->n;
				snprintf(g->dup_path, sizeof(g->dup_path),
				    "%s", g->path);
				gstring(g, names[j], nlen[j]);
				gput(g, ":0", 2);
				g->nodes++;
				g->inject = 2;
			}
		}
		gput(g, "}", 1);
		return;
	case 1:
		n = rnd(7);
		gput(g, "[", 1);
		gws(g);
		for (i = 0; i < n; i++) {
			if (i > 0) {
				gput(g, ",", 1);
				gws(g);
			}
			snprintf(g->path + plen, sizeof(g->path) - plen, "/%u",
			    i);
			gvalue(g, depth - 1);
			g->path[plen] = '\0';
			gws(g);
		}
		gput(g, "]", 1);
		return;
	case 2: {
		unsigned char	 t[256];
		size_t		 tl = rnd_text(t, 12, 0);

		gstring(g, t, tl);
		return;
	}
	case 3:
		gnumber(g);
		return;
	default:
		j = rnd(3);
		gput(g, lit[j], strlen(lit[j]));
		return;
	}
}

START_TEST(property_written_texts)
{
	struct jsoncheck_error	 e;
	struct gen		 g;
	unsigned		 i, dups = 0;

	rng_state = 0x2545f4914f6cdd1dULL;
	memset(&g, 0, sizeof(g));
	for (i = 0; i < 10000; i++) {
		g.n = 0;
		g.path[0] = '\0';
		g.nodes = 0;
		g.inject = (i & 1) ? 1 : 0;
		gws(&g);
		gvalue(&g, 1 + (int)rnd(5));
		gws(&g);
		if (g.inject != 2) {
			ck_assert_msg(jsoncheck(g.s, g.n, NULL, &e) == 0,
			    "#%u refused %.*s: at %zu '%s': %s", i, (int)g.n,
			    g.s, e.offset, e.path, e.reason);
			ck_assert_msg(jc_strict(g.s, g.n), "json-c refused "
			    "%.*s", (int)g.n, g.s);
			continue;
		}
		dups++;
		ck_assert_msg(jsoncheck(g.s, g.n, NULL, &e) == -1,
		    "#%u duplicate passed: %.*s", i, (int)g.n, g.s);
		ck_assert_msg(e.offset == g.dup_off &&
		    strcmp(e.path, g.dup_path) == 0 &&
		    strstr(e.reason, "duplicate member name") != NULL,
		    "#%u %.*s: at %zu '%s' %s; want %zu '%s'", i, (int)g.n,
		    g.s, e.offset, e.path, e.reason, g.dup_off, g.dup_path);
	}
	free(g.s);
	printf("jsoncheck: 10000 written texts, %u with a duplicate name\n",
	    dups);
	ck_assert_uint_gt(dups, 500);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("jsoncheck");
	TCase	*tc = tcase_create("jsoncheck");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, valid_texts);
	tcase_add_test(tc, refused_grammar);
	tcase_add_test(tc, refused_numbers);
	tcase_add_test(tc, refused_strings);
	tcase_add_test(tc, refused_utf8);
	tcase_add_test(tc, refused_names);
	tcase_add_test(tc, utf8_exhaustive);
	tcase_add_test(tc, path_escapes_and_cut);
	tcase_add_test(tc, long_names);
	tcase_add_test(tc, limits_edges);
	tcase_add_test(tc, big_objects);
	tcase_add_test(tc, property_jsonc_trees);
	tcase_add_test(tc, property_written_texts);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

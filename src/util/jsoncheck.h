/*
 * jsoncheck.h - one strict pass over the raw bytes of a JSON text, before
 * any parser builds a tree from them.
 *
 * json-c (and most parsers) are lenient where an attacker can use it:
 * json-c keeps the LAST of two equal member names while other parsers
 * keep the first, cuts member names at U+0000, accepts invalid and
 * overlong UTF-8, accepts NaN, 1., 00 and -01 even in strict mode, and
 * builds a tree a hundred times the size of `[{},{},...]`.  jsoncheck()
 * refuses all of that in one pass, so that every parser that reads a
 * checked text sees the same document:
 *
 *   - RFC 8259 grammar exactly: one value with optional white space
 *     (space, tab, CR, LF) around it; numbers as the grammar spells them
 *     (no NaN, Infinity, 1., .5, +1, 00, -01); true, false, null in lower
 *     case; in strings no raw control character (< 0x20), only the
 *     escapes \" \\ \/ \b \f \n \r \t \uXXXX, and a \u escape of a
 *     surrogate only as a high-low pair.
 *   - UTF-8: every string and member name is well-formed UTF-8 (Unicode
 *     table 3-7: no overlong forms, no encoded surrogates U+D800..DFFF,
 *     nothing above U+10FFFF, no truncated sequence, no stray
 *     continuation byte).  Outside strings only ASCII syntax is valid.
 *   - Member names: two members of one object whose names are equal once
 *     unescaped ("a" and "\u0061") are an error, and so is a name holding
 *     U+0000 (json-c would cut it and see a third name).
 *   - Limits: more than max_nodes values (objects, arrays, strings,
 *     numbers, literals; member names are not values), or a value more
 *     than max_depth levels deep (the root is at level 1, the values in
 *     it at level 2: `[]` and `1` have 1 level, `[1]` and `[[]]` 2), are
 *     errors.  That is json-c's count: json_tokener_new_ex(64) refuses
 *     exactly the texts max_depth 64 refuses for depth.
 *
 * Cost: one pass, O(len) expected time (member names of one object are
 * compared directly up to 16 members, then through a hash table keyed with
 * a per-process secret).  No recursion.  Memory: nothing for a text
 * nested up to 64 levels with up to 128 member names open and 512 bytes
 * of escaped names open at once; beyond that, heap memory proportional to
 * the depth and to the member names of the objects open at once, freed
 * before returning.  Allocation failure aborts (util/xmalloc.h).
 *
 * Threads: reentrant; the hash secret is drawn once per process.
 */
#ifndef BECKND_JSONCHECK_H
#define BECKND_JSONCHECK_H

#include <stddef.h>

#define JSONCHECK_MAX_NODES_DEFAULT	200000
#define JSONCHECK_MAX_DEPTH_DEFAULT	64

struct jsoncheck_limits {
	size_t		 max_nodes;	/* values allowed in the text */
	unsigned	 max_depth;	/* levels allowed, the root's is 1 */
};

#define JSONCHECK_PATH_MAX	256
#define JSONCHECK_REASON_MAX	128

/*
 * Where and why a text was refused.
 *
 * offset: the byte at fault: the first byte of an ill-formed UTF-8
 * sequence, the backslash of a bad escape, the quote of a duplicate
 * member name, the first byte of a value over a limit or of a bad number
 * or literal part, len when the text ends early.
 *
 * path: RFC 6901 JSON pointer ("~" written "~0", "/" written "~1") of
 *   - the value at fault, for an error in a string, number or literal
 *     value, or a value over a limit ("/message/order/items/3/id");
 *   - the object, for an error in a member name (bad UTF-8 or escape,
 *     U+0000, a duplicate);
 *   - the innermost object or array, for a missing ',' ':' ']' or '}';
 *   - "" for the root value and for anything after it.
 * A pointer longer than JSONCHECK_PATH_MAX - 1 bytes is cut to its
 * longest prefix of whole reference tokens that fits (an ancestor of the
 * place at fault).  path never holds a NUL byte; it is UTF-8 but may hold
 * control characters that were escaped in a member name.
 *
 * reason: English, one line, printable: "invalid UTF-8 (overlong
 * encoding)", "duplicate member name \"bap_id\"", ...
 */
struct jsoncheck_error {
	size_t		 offset;
	char		 path[JSONCHECK_PATH_MAX];
	char		 reason[JSONCHECK_REASON_MAX];
};

/*
 * Check the len bytes at buf (no NUL terminator needed; a NUL byte is an
 * error outside and inside strings alike; a text of 4 GiB or more is
 * refused).  limits NULL: the defaults above.  err may be NULL.  Returns
 * 0 when the text passes, -1 with *err filled when it does not.
 */
int	jsoncheck(const char *buf, size_t len, const struct jsoncheck_limits *,
	    struct jsoncheck_error *err);

#endif

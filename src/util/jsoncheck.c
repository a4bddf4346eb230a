/*
 * jsoncheck.c - strict one-pass JSON checker (see jsoncheck.h).
 *
 * A loop over the bytes with an explicit stack of open objects and
 * arrays (struct frame), never the C stack.  A frame remembers what the
 * error path needs (the index of the current element, or where the
 * current member name lies in buf) so that the path is only built when
 * the text is refused.
 *
 * Member names: every name of every open object is on one stack (struct
 * name); an object's names are the top of it and are dropped when the
 * object closes.  A name without escapes points into buf; an escaped one
 * is unescaped into the arena, a byte stack that shrinks the same way.  A
 * new name is compared with the object's earlier names one by one up to
 * LINEAR_MAX of them; past that the object gets an open-addressing table
 * of indices (hashed with SipHash-2-4 under a per-process secret, so that
 * colliding names cannot be chosen), at most half full.  Each depth keeps
 * its table's memory for the next object at that depth, but clears only
 * the part the object uses, so a big object followed by many small ones
 * costs nothing extra.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/hex.h"
#include "util/jsoncheck.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

#define LOCAL_DEPTH	64	/* frames before the heap */
#define LOCAL_NAMES	128	/* names before the heap */
#define LOCAL_ARENA	512	/* bytes of unescaped names before the heap */
#define LINEAR_MAX	16	/* names compared one by one */
#define TABLE_MIN	64	/* first table: slots */
#define TABLE_MAX	(1U << 31)
#define NAME_SHOW	48	/* bytes of a name quoted in a reason */
#define TEXT_MAX	UINT32_MAX	/* longest text, in bytes */

struct frame {
	size_t		 n;	  /* array: current element; object: members */
	size_t		 key_off; /* object: current member name, raw, in */
	size_t		 key_len; /*   buf, inside the quotes */
	size_t		 names;	  /* object: its first entry on name stack */
	size_t		 arena;	  /* object: arena length when it opened */
	uint32_t	*tab;	  /* this depth's table, kept for reuse */
	uint32_t	 tabcap;  /* slots allocated */
	uint32_t	 tabsize; /* slots used by the open object; 0: linear */
	unsigned char	 obj;
	unsigned char	 key_esc;
};

/* 16 bytes: texts are shorter than 4 GiB (TEXT_MAX). */
struct name {
	uint32_t	 off;	/* in buf, or in the arena */
	uint32_t	 len;
	uint32_t	 hash;	/* set once the object has a table */
	uint32_t	 arena;
};

struct ctx {
	const unsigned char	*buf;
	struct jsoncheck_error	*err;
	struct frame		*fr;
	unsigned		 depth;	/* open frames */
	unsigned		 inited; /* frames whose tab fields are set */
	unsigned		 capfr;
	struct name		*names;
	size_t			 nnames, capnames;
	unsigned char		*arena;
	size_t			 narena, caparena;
	struct frame		 lfr[LOCAL_DEPTH];
	struct name		 lnames[LOCAL_NAMES];
	unsigned char		 larena[LOCAL_ARENA];
};

/* Errors found inside a string or member name. */
enum serr {
	S_OK,
	S_UNTERMINATED,
	S_CONTROL,
	S_ESCAPE,
	S_UESCAPE,
	S_SURROGATE,
	S_NAME_NUL,
	S_UTF8_STRAY,
	S_UTF8_OVERLONG,
	S_UTF8_SURROGATE,
	S_UTF8_RANGE,
	S_UTF8_TRUNCATED,
	S_UTF8_BYTE,
};

static const char *const serr_text[] = {
	[S_OK] = "",
	[S_UNTERMINATED] = "unterminated string",
	[S_CONTROL] = "raw control character in a string",
	[S_ESCAPE] = "invalid escape",
	[S_UESCAPE] = "invalid \\u escape",
	[S_SURROGATE] = "lone surrogate in a \\u escape",
	[S_NAME_NUL] = "\\u0000 is not allowed",
	[S_UTF8_STRAY] = "invalid UTF-8 (stray continuation byte)",
	[S_UTF8_OVERLONG] = "invalid UTF-8 (overlong encoding)",
	[S_UTF8_SURROGATE] = "invalid UTF-8 (encoded surrogate)",
	[S_UTF8_RANGE] = "invalid UTF-8 (above U+10FFFF)",
	[S_UTF8_TRUNCATED] = "invalid UTF-8 (truncated sequence)",
	[S_UTF8_BYTE] = "invalid UTF-8 (byte 0xf5 to 0xff)",
};

/*
 * 1 for the bytes a string holds as they are: 0x20..0x7f but '"' and
 * '\\'.  Bytes from 0x80 take the UTF-8 path.
 */
static const unsigned char plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/* Nonzero when one of 8 bytes is not plain (exact, as a whole). */
static inline uint64_t
special8(uint64_t w)
{
	uint64_t	 q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

	return (w | ((q - ONES) & ~q) | ((b - ONES) & ~b) |
	    ((w - ONES * 0x20) & ~w)) & HIGHS;
}

static inline int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int
is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static long
hex4(const unsigned char *p)
{
	int	 a = hex_digit(p[0]), b = hex_digit(p[1]), c = hex_digit(p[2]),
		 d = hex_digit(p[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)a << 12 | b << 8 | c << 4 | d;
}

/*
 * One UTF-8 sequence at p (p[0] >= 0x80): its length, or 0 with *e set.
 * Unicode 15, table 3-7 (well-formed byte sequences).
 */
static inline size_t
utf8_seq(const unsigned char *p, const unsigned char *end, enum serr *e)
{
	size_t		 room = (size_t)(end - p);
	unsigned char	 c = p[0];

	if (c < 0xc2) {
		*e = c < 0xc0 ? S_UTF8_STRAY : S_UTF8_OVERLONG;
		return 0;
	}
	if (c >= 0xf5) {
		*e = S_UTF8_BYTE;
		return 0;
	}
	if (room < 2 || !is_cont(p[1])) {
		*e = S_UTF8_TRUNCATED;
		return 0;
	}
	if (c < 0xe0)
		return 2;
	if (c == 0xe0 && p[1] < 0xa0) {
		*e = S_UTF8_OVERLONG;
		return 0;
	}
	if (c == 0xed && p[1] >= 0xa0) {
		*e = S_UTF8_SURROGATE;
		return 0;
	}
	if (c == 0xf0 && p[1] < 0x90) {
		*e = S_UTF8_OVERLONG;
		return 0;
	}
	if (c == 0xf4 && p[1] >= 0x90) {
		*e = S_UTF8_RANGE;
		return 0;
	}
	if (room < 3 || !is_cont(p[2])) {
		*e = S_UTF8_TRUNCATED;
		return 0;
	}
	if (c < 0xf0)
		return 3;
	if (room < 4 || !is_cont(p[3])) {
		*e = S_UTF8_TRUNCATED;
		return 0;
	}
	return 4;
}

/*
 * Scan a string from just after its opening quote at *pp.  S_OK with *pp
 * just after the closing quote (and *esc set when it holds an escape), or
 * the error with *pp at the byte at fault.  name: a member name, where
 * \u0000 is refused.
 */
static inline __attribute__((always_inline)) enum serr
scan_string(const unsigned char **pp, const unsigned char *end, int *esc,
    int name)
{
	const unsigned char	*p = *pp;
	uint64_t		 w;
	long			 cp, lo;
	size_t			 n;
	enum serr		 e = S_OK;

	for (;;) {
		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (special8(w))
				break;
			p += 8;
		}
		while (p < end && plain[*p])
			p++;
		if (p == end) {
			e = S_UNTERMINATED;
			break;
		}
		if (*p == '"') {
			p++;
			break;
		}
		if (*p >= 0x80) {
			if ((n = utf8_seq(p, end, &e)) == 0)
				break;
			p += n;
			continue;
		}
		if (*p != '\\') {
			e = S_CONTROL;
			break;
		}
		*esc = 1;
		if (end - p < 2) {
			p = end;
			e = S_UNTERMINATED;
			break;
		}
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			e = S_ESCAPE;
			goto out;
		}
		if (end - p < 6 || (cp = hex4(p + 2)) == -1) {
			e = S_UESCAPE;
			break;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			e = S_SURROGATE;
			break;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
			    (lo = hex4(p + 8)) < 0xdc00 || lo > 0xdfff) {
				e = S_SURROGATE;
				break;
			}
			p += 12;
			continue;
		}
		if (cp == 0 && name) {
			e = S_NAME_NUL;
			break;
		}
		p += 6;
	}
 out:
	*pp = p;
	return e;
}

/*
 * Decode one unit of a checked string body (a raw byte or one escape,
 * a surrogate pair being one) at s[*i], s[len] past the end: its bytes
 * in out, their count as the result.
 */
static size_t
decode_unit(const unsigned char *s, size_t *i, unsigned char out[4])
{
	const unsigned char	*p = s + *i;
	unsigned long		 cp;

	if (p[0] != '\\') {
		out[0] = p[0];
		*i += 1;
		return 1;
	}
	*i += 2;
	switch (p[1]) {
	case 'b':
		out[0] = '\b';
		return 1;
	case 'f':
		out[0] = '\f';
		return 1;
	case 'n':
		out[0] = '\n';
		return 1;
	case 'r':
		out[0] = '\r';
		return 1;
	case 't':
		out[0] = '\t';
		return 1;
	case 'u':
		break;
	default:
		out[0] = p[1];
		return 1;
	}
	cp = (unsigned long)hex4(p + 2);
	*i += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) +
		    ((unsigned long)hex4(p + 8) - 0xdc00);
		*i += 6;
	}
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- hashing ------------------------------------------------------------ */

static pthread_once_t	 secret_once = PTHREAD_ONCE_INIT;
static struct siphash_key secret;

static void
secret_init(void)
{
	struct timespec	 ts;

	if (siphash_key_random(&secret) == 0)
		return;
	/* No entropy source: still differs per process and per run. */
	clock_gettime(CLOCK_REALTIME, &ts);
	secret.k[0] = (uint64_t)ts.tv_sec * 1000000007ULL ^
	    (uint64_t)(uintptr_t)&ts;
	secret.k[1] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)getpid();
}

/* SipHash-2-4 of m under the process secret, folded to 32 bits. */
static uint32_t
name_hash(const unsigned char *m, size_t len)
{
	uint64_t	 h = siphash24(&secret, m, len);

	return (uint32_t)(h ^ h >> 32);
}

/* ---- errors ------------------------------------------------------------- */

/* Append the reference token of frame f (its current slot) to path. */
static int
path_token(const struct ctx *c, const struct frame *f, char *path,
    size_t *n)
{
	const unsigned char	*s;
	unsigned char		 u[4];
	size_t			 at = *n, i, k, room = JSONCHECK_PATH_MAX - 1;
	int			 w;

	if (!f->obj) {
		w = snprintf(path + at, JSONCHECK_PATH_MAX - at, "/%zu", f->n);
		if (w < 0 || (size_t)w > room - at)
			return -1;
		*n = at + (size_t)w;
		return 0;
	}
	if (at + 1 > room)
		return -1;
	path[at++] = '/';
	s = c->buf + f->key_off;
	for (i = 0; i < f->key_len;) {
		k = f->key_esc ? decode_unit(s, &i, u) : (u[0] = s[i++], 1);
		if (k == 1 && (u[0] == '~' || u[0] == '/')) {
			if (at + 2 > room)
				return -1;
			path[at++] = '~';
			path[at++] = u[0] == '~' ? '0' : '1';
			continue;
		}
		if (at + k > room)
			return -1;
		memcpy(path + at, u, k);
		at += k;
	}
	*n = at;
	return 0;
}

/*
 * Refuse the text: at is the byte at fault; slot: the path names the
 * current slot of the innermost frame (a value), else the innermost
 * frame itself (an object or array).
 */
static int __attribute__((format(printf, 4, 5)))
fail(struct ctx *c, const unsigned char *at, int slot, const char *fmt, ...)
{
	struct jsoncheck_error	*err = c->err;
	va_list			 ap;
	unsigned		 i, upto;
	size_t			 n = 0;

	if (err == NULL)
		return -1;
	err->offset = (size_t)(at - c->buf);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	upto = c->depth;
	if (!slot && upto > 0)
		upto--;
	for (i = 0; i < upto; i++)
		if (path_token(c, &c->fr[i], err->path, &n) == -1)
			break;
	err->path[n] = '\0';
	return -1;
}

/* A member name as a reason quotes it: printable, cut on a character. */
static void
show_name(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t	 i, n = 0;

	for (i = 0; i < len && n + 8 < outlen; i++) {
		if (i >= NAME_SHOW && !is_cont(s[i])) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (s[i] < 0x20 || s[i] == 0x7f)
			n += (size_t)snprintf(out + n, outlen - n, "\\u%04x",
			    s[i]);
		else
			out[n++] = (char)s[i];
	}
	out[n] = '\0';
}

/* ---- member names ------------------------------------------------------- */

static const unsigned char *
name_bytes(const struct ctx *c, const struct name *nm)
{
	return nm->arena ? c->arena + nm->off : c->buf + nm->off;
}

static void
frame_grow(struct ctx *c)
{
	struct frame	*fr;
	unsigned	 cap = c->capfr * 2;

	if (c->fr == c->lfr) {
		fr = xreallocarray(NULL, cap, sizeof(*fr));
		memcpy(fr, c->lfr, sizeof(c->lfr));
	} else
		fr = xreallocarray(c->fr, cap, sizeof(*fr));
	c->fr = fr;
	c->capfr = cap;
}

static void
names_grow(struct ctx *c)
{
	struct name	*nm;
	size_t		 cap = c->capnames * 2;

	if (c->names == c->lnames) {
		nm = xreallocarray(NULL, cap, sizeof(*nm));
		memcpy(nm, c->lnames, sizeof(c->lnames));
	} else
		nm = xreallocarray(c->names, cap, sizeof(*nm));
	c->names = nm;
	c->capnames = cap;
}

/* Room for n more arena bytes. */
static void
arena_reserve(struct ctx *c, size_t n)
{
	unsigned char	*a;
	size_t		 cap = c->caparena * 2;

	if (c->caparena - c->narena >= n)
		return;
	if (cap < c->narena + n)
		cap = c->narena + n;
	if (c->arena == c->larena) {
		a = xmalloc(cap);
		memcpy(a, c->larena, c->narena);
	} else
		a = xrealloc(c->arena, cap);
	c->arena = a;
	c->caparena = cap;
}

/* Put entry idx (1-based in the object) into f's table. */
static void
table_put(struct frame *f, uint32_t hash, uint32_t idx)
{
	uint32_t	 mask = f->tabsize - 1, i = hash & mask;

	while (f->tab[i] != 0)
		i = (i + 1) & mask;
	f->tab[i] = idx;
}

/* Give f a table of size slots holding its names (size a power of 2). */
static void
table_build(struct ctx *c, struct frame *f, uint32_t size)
{
	struct name	*nm;
	size_t		 i;

	if (f->tabsize == 0)
		pthread_once(&secret_once, secret_init);
	if (size > f->tabcap) {
		free(f->tab);
		f->tab = xreallocarray(NULL, size, sizeof(*f->tab));
		f->tabcap = size;
	}
	memset(f->tab, 0, (size_t)size * sizeof(*f->tab));
	for (i = f->names; i < c->nnames; i++) {
		nm = &c->names[i];
		if (f->tabsize == 0)
			nm->hash = name_hash(name_bytes(c, nm), nm->len);
	}
	f->tabsize = size;
	for (i = f->names; i < c->nnames; i++)
		table_put(f, c->names[i].hash, (uint32_t)(i - f->names + 1));
}

/*
 * Add the current member name of object f (at f->key_off) to its names:
 * 0, or -1 when one of them is equal (*dup: that one), or -2 when the
 * object has too many members for a table.
 */
static int
name_add(struct ctx *c, struct frame *f, const struct name **dup)
{
	struct name		*nm, *o;
	const unsigned char	*s, *os;
	size_t			 i, have, k;
	uint32_t		 mask, slot;

	if (c->nnames == c->capnames)
		names_grow(c);
	nm = &c->names[c->nnames];
	if (f->key_esc) {
		arena_reserve(c, f->key_len);
		nm->off = (uint32_t)c->narena;
		nm->arena = 1;
		s = c->buf + f->key_off;
		for (i = 0, k = 0; i < f->key_len;)
			k += decode_unit(s, &i, c->arena + c->narena + k);
		nm->len = (uint32_t)k;
		c->narena += k;
	} else {
		nm->off = (uint32_t)f->key_off;
		nm->len = (uint32_t)f->key_len;
		nm->arena = 0;
	}
	s = name_bytes(c, nm);
	have = c->nnames - f->names;
	if (f->tabsize == 0 && have < LINEAR_MAX) {
		for (i = f->names; i < c->nnames; i++) {
			o = &c->names[i];
			if (o->len == nm->len &&
			    memcmp(name_bytes(c, o), s, nm->len) == 0) {
				*dup = o;
				return -1;
			}
		}
		c->nnames++;
		return 0;
	}
	if (f->tabsize == 0)
		table_build(c, f, TABLE_MIN);
	else if ((have + 1) * 2 > f->tabsize) {
		if (f->tabsize >= TABLE_MAX)
			return -2;
		table_build(c, f, f->tabsize * 2);
	}
	nm->hash = name_hash(s, nm->len);
	mask = f->tabsize - 1;
	for (slot = nm->hash & mask; f->tab[slot] != 0;
	    slot = (slot + 1) & mask) {
		o = &c->names[f->names + f->tab[slot] - 1];
		if (o->hash != nm->hash || o->len != nm->len)
			continue;
		os = name_bytes(c, o);
		if (memcmp(os, s, nm->len) == 0) {
			*dup = o;
			return -1;
		}
	}
	f->tab[slot] = (uint32_t)(have + 1);
	c->nnames++;
	return 0;
}

/* ---- the pass ----------------------------------------------------------- */

/*
 * White space: pretty-printed messages are mostly indentation, so runs
 * of spaces go 8 bytes at a time.
 */
static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
	uint64_t	 w;

	while (p < end && is_ws(*p)) {
		p++;
		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (w != ONES * ' ')
				break;
			p += 8;
		}
	}
	return p;
}

#define SKIP_WS()	(p = skip_ws(p, end))

static int
check(struct ctx *c, size_t len, size_t max_nodes, unsigned max_depth)
{
	const unsigned char	*p = c->buf, *end = c->buf + len, *q;
	const struct name	*dup;
	struct frame		*f = NULL;
	size_t			 nodes = 0;
	enum serr		 e;
	char			 shown[NAME_SHOW * 2];
	int			 esc, r;

 value:
	SKIP_WS();
	if (p == end)
		return fail(c, p, 1, c->depth == 0 && len == 0 ?
		    "empty text" : "unexpected end of input");
	if (++nodes > max_nodes)
		return fail(c, p, 1, "more than %zu values", max_nodes);
	/* This value's level is depth + 1 (the root's is 1). */
	if (c->depth >= max_depth)
		return fail(c, p, 1, "nested deeper than %u level%s",
		    max_depth, max_depth == 1 ? "" : "s");
	switch (*p) {
	case '{':
	case '[':
		if (c->depth == c->capfr)
			frame_grow(c);
		f = &c->fr[c->depth];
		if (c->depth == c->inited) {
			f->tab = NULL;
			f->tabcap = 0;
			c->inited++;
		}
		c->depth++;
		f->n = 0;
		f->obj = *p == '{';
		p++;
		SKIP_WS();
		if (f->obj) {
			f->names = c->nnames;
			f->arena = c->narena;
			f->tabsize = 0;
			if (p < end && *p == '}') {
				p++;
				goto pop;
			}
			goto member;
		}
		if (p < end && *p == ']') {
			p++;
			goto pop;
		}
		goto value;
	case '"':
		p++;
		esc = 0;
		if ((e = scan_string(&p, end, &esc, 0)) != S_OK)
			return fail(c, p, 1, "%s", serr_text[e]);
		goto after;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			return fail(c, p, 1, "invalid literal");
		p += 4;
		goto after;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			return fail(c, p, 1, "invalid literal");
		p += 5;
		goto after;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return fail(c, p, 1, "invalid literal");
		p += 4;
		goto after;
	case '-':
		if (++p == end || *p < '0' || *p > '9')
			return fail(c, p, 1, "digit expected after '-'");
		goto digits;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6':
	case '7': case '8': case '9':
		goto digits;
	default:
		return fail(c, p, 1, "expected a value");
	}

 digits:
	if (*p++ == '0') {
		if (p < end && *p >= '0' && *p <= '9')
			return fail(c, p, 1, "leading zero in a number");
	} else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p < end && *p == '.') {
		if (++p == end || *p < '0' || *p > '9')
			return fail(c, p, 1, "digit expected after '.'");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return fail(c, p, 1, "digit expected in the exponent");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	goto after;

 member:
	/* In object f, white space skipped, a member name expected. */
	if (p == end)
		return fail(c, p, 0, "unexpected end of input");
	if (*p != '"')
		return fail(c, p, 0, "expected a member name");
	q = ++p;
	esc = 0;
	if ((e = scan_string(&p, end, &esc, 1)) != S_OK)
		return fail(c, p, 0, "member name: %s", serr_text[e]);
	f->key_off = (size_t)(q - c->buf);
	f->key_len = (size_t)(p - 1 - q);
	f->key_esc = (unsigned char)esc;
	if ((r = name_add(c, f, &dup)) != 0) {
		if (r == -2)
			return fail(c, q - 1, 0, "too many members");
		show_name(name_bytes(c, dup), dup->len, shown, sizeof(shown));
		return fail(c, q - 1, 0, "duplicate member name \"%s\"",
		    shown);
	}
	f->n++;
	SKIP_WS();
	if (p == end)
		return fail(c, p, 0, "unexpected end of input");
	if (*p != ':')
		return fail(c, p, 0, "expected ':'");
	p++;
	goto value;

 pop:
	c->depth--;
	if (f->obj) {
		c->nnames = f->names;
		c->narena = f->arena;
		f->tabsize = 0;
	}
	f = c->depth > 0 ? &c->fr[c->depth - 1] : NULL;
	/* and on to after the value that closed */

 after:
	SKIP_WS();
	if (f == NULL) {
		if (p != end)
			return fail(c, p, 0, "data after the value");
		return 0;
	}
	if (p == end)
		return fail(c, p, 0, "unexpected end of input");
	if (*p == ',') {
		p++;
		if (f->obj) {
			SKIP_WS();
			goto member;
		}
		f->n++;
		goto value;
	}
	if (*p == (f->obj ? '}' : ']')) {
		p++;
		goto pop;
	}
	return fail(c, p, 0, f->obj ? "expected ',' or '}'" :
	    "expected ',' or ']'");
}

int
jsoncheck(const char *buf, size_t len, const struct jsoncheck_limits *lim,
    struct jsoncheck_error *err)
{
	struct ctx	 c;
	size_t		 max_nodes = JSONCHECK_MAX_NODES_DEFAULT;
	unsigned	 i, max_depth = JSONCHECK_MAX_DEPTH_DEFAULT;
	int		 rc;

	if (lim != NULL) {
		max_nodes = lim->max_nodes;
		max_depth = lim->max_depth;
	}
	c.buf = (const unsigned char *)(buf != NULL ? buf : "");
	if (buf == NULL)
		len = 0;
	c.err = err;
	if ((uint64_t)len > TEXT_MAX) {
		c.depth = 0;
		return fail(&c, c.buf, 0, "text of 4 GiB or more");
	}
	c.fr = c.lfr;
	c.depth = c.inited = 0;
	c.capfr = LOCAL_DEPTH;
	c.names = c.lnames;
	c.nnames = 0;
	c.capnames = LOCAL_NAMES;
	c.arena = c.larena;
	c.narena = 0;
	c.caparena = LOCAL_ARENA;
	rc = check(&c, len, max_nodes, max_depth);
	for (i = 0; i < c.inited; i++)
		free(c.fr[i].tab);
	if (c.fr != c.lfr)
		free(c.fr);
	if (c.names != c.lnames)
		free(c.names);
	if (c.arena != c.larena)
		free(c.arena);
	return rc;
}

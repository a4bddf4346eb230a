/*
 * schema_validate.c - walk a json-c value against compiled nodes.
 *
 * One pass, no allocation: the instance path is a stack of (key, index)
 * segments on the C stack, rendered to a JSON pointer only when an error
 * is recorded.  In collect mode (errs != NULL) every failing keyword is
 * recorded; anyOf/oneOf/not and the like run their branches in probe mode
 * (errs == NULL), which stops at the first failure.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"
#include "util/xmalloc.h"

#define PATH_MAX_DEPTH	64

struct vseg {
	const char	*key;		/* NULL: array index */
	size_t		 idx;
};

struct vctx {
	const struct schema_opts	*opts;
	struct schema_errors		*errs;	/* NULL: probe mode */
	struct vseg			*path;
	unsigned			*pos;
	unsigned			 depth;
	const char			*base;	/* path prefix ("" normally) */
};

static int v_node(struct vctx *, const struct snode *, json_object *);

static __thread pcre2_match_data *tl_md;

int
sre_match(const pcre2_code *re, const char *s, size_t len)
{
	int	 rc;

	if (tl_md == NULL && (tl_md = pcre2_match_data_create(1, NULL))
	    == NULL) {
		/* same contract as xmalloc: out of memory is fatal */
		abort();
	}
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, tl_md, NULL);
	return rc >= 0;
}

void
schema_thread_done(void)
{
	pcre2_match_data_free(tl_md);
	tl_md = NULL;
}

static void
render_path(const struct vctx *c, char *buf, size_t len)
{
	size_t		 o, i;
	unsigned	 d;
	const char	*k;
	char		 num[24];

	o = (size_t)snprintf(buf, len, "%s", c->base);
	if (o >= len)
		o = len - 1;
	for (d = 0; d < c->depth && o + 1 < len; d++) {
		buf[o++] = '/';
		if ((k = c->path[d].key) == NULL) {
			snprintf(num, sizeof(num), "%zu", c->path[d].idx);
			k = num;
		}
		for (i = 0; k[i] != '\0' && o + 2 < len; i++) {
			if (k[i] == '~' || k[i] == '/') {
				buf[o++] = '~';
				buf[o++] = k[i] == '~' ? '0' : '1';
			} else
				buf[o++] = k[i];
		}
	}
	buf[o] = '\0';
}

static void verr(struct vctx *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
verr(struct vctx *c, const char *keyword, const char *fmt, ...)
{
	char	 path[SCHEMA_PATH_LEN], msg[SCHEMA_MESSAGE_LEN];
	va_list	 ap;

	if (c->errs == NULL)
		return;
	render_path(c, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	serr_add(c->errs, path, c->pos, c->depth, keyword, "%s", msg);
}

#define FAIL(...) do {						\
	verr(c, __VA_ARGS__);					\
	if (c->errs == NULL)					\
		return -1;					\
	rc = -1;						\
} while (0)

static unsigned
itype(json_object *v)
{
	double	 d;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return ST_NULL;
	case json_type_boolean:
		return ST_BOOLEAN;
	case json_type_int:
		return ST_NUMBER | ST_INTEGER;
	case json_type_double:
		d = json_object_get_double(v);
		return isfinite(d) && floor(d) == d ? ST_NUMBER | ST_INTEGER :
		    ST_NUMBER;
	case json_type_string:
		return ST_STRING;
	case json_type_array:
		return ST_ARRAY;
	case json_type_object:
		return ST_OBJECT;
	}
	return 0;
}

static const char *
itype_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_int:
		return "integer";
	case json_type_double:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	}
	return "?";
}

static void
types_name(unsigned t, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } tn[] = {
		{ ST_OBJECT, "object" }, { ST_ARRAY, "array" },
		{ ST_STRING, "string" }, { ST_NUMBER, "number" },
		{ ST_INTEGER, "integer" }, { ST_BOOLEAN, "boolean" },
		{ ST_NULL, "null" },
	};
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(tn) / sizeof(tn[0]); i++)
		if (t & tn[i].bit) {
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o > 0 ? " or " : "", tn[i].name);
			if (o >= len)
				return;
		}
}

int
sval_json_equal(json_object *a, json_object *b)
{
	enum json_type	 ta = json_object_get_type(a);
	enum json_type	 tb = json_object_get_type(b);
	size_t		 i, n;
	json_object	*bv;

	if ((ta == json_type_int || ta == json_type_double) &&
	    (tb == json_type_int || tb == json_type_double)) {
		if (ta == json_type_int && tb == json_type_int)
			return json_object_get_int64(a) ==
			    json_object_get_int64(b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	if (ta != tb)
		return 0;
	switch (ta) {
	case json_type_null:
		return 1;
	case json_type_boolean:
		return !json_object_get_boolean(a) ==
		    !json_object_get_boolean(b);
	case json_type_string:
		return json_object_get_string_len(a) ==
		    json_object_get_string_len(b) &&
		    memcmp(json_object_get_string(a),
		    json_object_get_string(b),
		    (size_t)json_object_get_string_len(a)) == 0;
	case json_type_array:
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!sval_json_equal(json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i)))
				return 0;
		return 1;
	case json_type_object:
		if (json_object_object_length(a) !=
		    json_object_object_length(b))
			return 0;
		{
			json_object_object_foreach(a, key, av) {
				if (!json_object_object_get_ex(b, key, &bv) ||
				    !sval_json_equal(av, bv))
					return 0;
			}
		}
		return 1;
	default:
		return 0;
	}
}

static size_t
utf8_len(const char *s, size_t n)
{
	size_t	 i, cp = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			cp++;
	return cp;
}

/* Probe n against v without recording anything. */
static int
v_probe(struct vctx *c, const struct snode *n, json_object *v)
{
	struct vctx	 p = *c;

	p.errs = NULL;
	return v_node(&p, n, v);
}

static int
v_child(struct vctx *c, const struct snode *n, json_object *v,
    const char *key, size_t idx)
{
	int	 rc;

	if (c->depth >= PATH_MAX_DEPTH) {
		verr(c, "depth", "value nested deeper than %d levels",
		    PATH_MAX_DEPTH);
		return -1;
	}
	c->path[c->depth].key = key;
	c->path[c->depth].idx = idx;
	c->pos[c->depth] = (unsigned)idx;
	c->depth++;
	rc = v_node(c, n, v);
	c->depth--;
	return rc;
}

static int
v_number(struct vctx *c, const struct snode *n, json_object *v)
{
	double	 x = json_object_get_double(v), q;
	int	 rc = 0;
	char	 val[64];

	if (!(n->flags & (SN_MIN | SN_MAX | SN_XMIN | SN_XMAX | SN_MULT)))
		return 0;
	serr_value(val, sizeof(val), v);
	if ((n->flags & SN_MIN) &&
	    ((n->flags & SN_MIN_EXCL) ? x <= n->min : x < n->min))
		FAIL("minimum", "expected a number %s %.17g, got %s",
		    (n->flags & SN_MIN_EXCL) ? ">" : ">=", n->min, val);
	if ((n->flags & SN_MAX) &&
	    ((n->flags & SN_MAX_EXCL) ? x >= n->max : x > n->max))
		FAIL("maximum", "expected a number %s %.17g, got %s",
		    (n->flags & SN_MAX_EXCL) ? "<" : "<=", n->max, val);
	if ((n->flags & SN_XMIN) && x <= n->xmin)
		FAIL("exclusiveMinimum", "expected a number > %.17g, got %s",
		    n->xmin, val);
	if ((n->flags & SN_XMAX) && x >= n->xmax)
		FAIL("exclusiveMaximum", "expected a number < %.17g, got %s",
		    n->xmax, val);
	if (n->flags & SN_MULT) {
		int bad;

		if (json_object_is_type(v, json_type_int) &&
		    floor(n->mult) == n->mult && n->mult < 9e18)
			bad = json_object_get_int64(v) %
			    (int64_t)n->mult != 0;
		else {
			/*
			 * Binary floating point cannot hold 0.01 exactly:
			 * accept a quotient within a relative 1e-9 of an
			 * integer (19.99 / 0.01 = 1998.9999999999998).
			 */
			q = x / n->mult;
			bad = !isfinite(q) ||
			    fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q));
		}
		if (bad)
			FAIL("multipleOf", "expected a multiple of %.17g, "
			    "got %s", n->mult, val);
	}
	return rc;
}

static int
v_string(struct vctx *c, const struct snode *n, json_object *v)
{
	const char	*s = json_object_get_string(v);
	size_t		 len = (size_t)json_object_get_string_len(v), cp;
	int		 rc = 0;
	char		 val[80];

	if (n->minlen >= 0 || n->maxlen >= 0) {
		cp = utf8_len(s, len);
		if (n->minlen >= 0 && cp < (size_t)n->minlen)
			FAIL("minLength", "expected at least %lld characters, "
			    "got %zu", (long long)n->minlen, cp);
		if (n->maxlen >= 0 && cp > (size_t)n->maxlen)
			FAIL("maxLength", "expected at most %lld characters, "
			    "got %zu", (long long)n->maxlen, cp);
	}
	if (n->pattern != NULL && !sre_match(n->pattern, s, len)) {
		serr_value(val, sizeof(val), v);
		FAIL("pattern", "%s does not match '%.80s'", val,
		    n->pattern_src);
	}
	if (n->format != 0 && c->opts != NULL &&
	    (c->opts->formats & n->format) &&
	    sfmt_check(n->format, s, len) != 0) {
		serr_value(val, sizeof(val), v);
		FAIL("format", "%s is not a valid %s", val,
		    sfmt_name(n->format));
	}
	return rc;
}

static int
v_array(struct vctx *c, const struct snode *n, json_object *v)
{
	size_t	 len = json_object_array_length(v), i, j;
	int	 rc = 0;

	if (n->minitems >= 0 && len < (size_t)n->minitems)
		FAIL("minItems", "expected at least %lld items, got %zu",
		    (long long)n->minitems, len);
	if (n->maxitems >= 0 && len > (size_t)n->maxitems)
		FAIL("maxItems", "expected at most %lld items, got %zu",
		    (long long)n->maxitems, len);
	if (n->flags & SN_UNIQUE) {
		for (i = 1; i < len; i++)
			for (j = 0; j < i; j++)
				if (sval_json_equal(
				    json_object_array_get_idx(v, i),
				    json_object_array_get_idx(v, j))) {
					FAIL("uniqueItems", "items %zu and %zu "
					    "are equal", j, i);
					i = len;
					break;
				}
	}
	for (i = 0; i < len; i++) {
		const struct snode *s = NULL;

		if (n->items != NULL)
			s = n->items;
		else if (i < n->ntuple)
			s = n->tuple[i];
		else if (n->flags & SN_TUPLE) {
			if (n->flags & SN_ADDI_FALSE) {
				FAIL("additionalItems", "expected at most %zu "
				    "items, got %zu", n->ntuple, len);
				break;
			}
			s = n->additems;
		}
		if (s != NULL && v_child(c, s, json_object_array_get_idx(v, i),
		    NULL, i) == -1) {
			rc = -1;
			if (c->errs == NULL)
				return -1;
		}
	}
	return rc;
}

static const struct snode *
find_prop(const struct snode *n, const char *key)
{
	size_t	 lo = 0, hi = n->nprops, mid;
	int	 cmp;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		cmp = strcmp(key, n->props[mid].name);
		if (cmp == 0)
			return n->props[mid].node;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
v_object(struct vctx *c, const struct snode *n, json_object *v)
{
	const struct snode	*s;
	size_t			 i, j, idx = 0, cnt;
	int			 rc = 0, matched;

	if (n->minprops >= 0 || n->maxprops >= 0) {
		cnt = (size_t)json_object_object_length(v);
		if (n->minprops >= 0 && cnt < (size_t)n->minprops)
			FAIL("minProperties", "expected at least %lld "
			    "properties, got %zu", (long long)n->minprops, cnt);
		if (n->maxprops >= 0 && cnt > (size_t)n->maxprops)
			FAIL("maxProperties", "expected at most %lld "
			    "properties, got %zu", (long long)n->maxprops, cnt);
	}
	for (i = 0; i < n->nrequired; i++)
		if (!json_object_object_get_ex(v, n->required[i], NULL))
			FAIL("required", "required property '%s' is missing",
			    n->required[i]);
	for (i = 0; i < n->ndeps; i++) {
		if (!json_object_object_get_ex(v, n->deps[i].name, NULL))
			continue;
		for (j = 0; j < n->deps[i].nreq; j++)
			if (!json_object_object_get_ex(v, n->deps[i].req[j],
			    NULL))
				FAIL("dependencies", "property '%s' requires "
				    "property '%s'", n->deps[i].name,
				    n->deps[i].req[j]);
		if (n->deps[i].schema != NULL &&
		    v_node(c, n->deps[i].schema, v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	}
	if (n->nprops == 0 && n->npatprops == 0 && n->addprops == NULL &&
	    !(n->flags & SN_ADDP_FALSE))
		return rc;

	json_object_object_foreach(v, key, val) {
		matched = 0;
		if ((s = find_prop(n, key)) != NULL) {
			matched = 1;
			if (v_child(c, s, val, key, idx) == -1) {
				if (c->errs == NULL)
					return -1;
				rc = -1;
			}
		}
		for (i = 0; i < n->npatprops; i++) {
			if (!sre_match(n->patprops[i].re, key, strlen(key)))
				continue;
			matched = 1;
			if (v_child(c, n->patprops[i].node, val, key, idx)
			    == -1) {
				if (c->errs == NULL)
					return -1;
				rc = -1;
			}
		}
		if (!matched) {
			if (n->flags & SN_ADDP_FALSE) {
				if (c->depth < PATH_MAX_DEPTH) {
					c->path[c->depth].key = key;
					c->pos[c->depth] = (unsigned)idx;
					c->depth++;
					verr(c, "additionalProperties",
					    "property '%s' is not allowed",
					    key);
					c->depth--;
				}
				if (c->errs == NULL)
					return -1;
				rc = -1;
			} else if (n->addprops != NULL &&
			    v_child(c, n->addprops, val, key, idx) == -1) {
				if (c->errs == NULL)
					return -1;
				rc = -1;
			}
		}
		idx++;
	}
	return rc;
}

static int
v_node(struct vctx *c, const struct snode *n, json_object *v)
{
	unsigned	 it;
	size_t		 i, ok;
	int		 rc = 0;
	char		 want[80], val[80];

	if (n->flags & SN_FALSE) {
		verr(c, "false", "no value is allowed here");
		return -1;
	}
	it = itype(v);
	if (n->types != 0 && !(n->types & it)) {
		types_name(n->types, want, sizeof(want));
		verr(c, "type", "expected %s, got %s", want, itype_name(v));
		return -1;
	}
	if (it == ST_NULL && (n->flags & SN_NULLABLE) && n->types != 0)
		return 0;
	if (n->nenum > 0) {
		for (i = 0; i < n->nenum; i++)
			if (sval_json_equal(v, n->enumv[i]))
				break;
		if (i == n->nenum) {
			size_t o;

			serr_value(val, sizeof(val), v);
			want[0] = '\0';
			for (i = 0, o = 0; i < n->nenum && o < sizeof(want);
			    i++) {
				char one[40];

				serr_value(one, sizeof(one), n->enumv[i]);
				o += (size_t)snprintf(want + o,
				    sizeof(want) - o, "%s%s", i ? ", " : "",
				    one);
			}
			FAIL("enum", "%s is not one of [%s]", val, want);
		}
	}
	if ((n->flags & SN_CONST) && !sval_json_equal(v, n->constv)) {
		serr_value(val, sizeof(val), v);
		serr_value(want, sizeof(want), n->constv);
		FAIL("const", "expected %s, got %s", want, val);
	}

	if (it & ST_NUMBER) {
		if (v_number(c, n, v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	} else if (it == ST_STRING) {
		if (v_string(c, n, v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	} else if (it == ST_ARRAY) {
		if (v_array(c, n, v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	} else if (it == ST_OBJECT) {
		if (v_object(c, n, v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	}

	if (n->ref != NULL && v_node(c, n->ref, v) == -1) {
		if (c->errs == NULL)
			return -1;
		rc = -1;
	}
	for (i = 0; i < n->nallof; i++)
		if (v_node(c, n->allof[i], v) == -1) {
			if (c->errs == NULL)
				return -1;
			rc = -1;
		}
	if (n->nanyof > 0) {
		for (i = 0; i < n->nanyof; i++)
			if (v_probe(c, n->anyof[i], v) == 0)
				break;
		if (i == n->nanyof)
			FAIL("anyOf", "value matches none of the %zu anyOf "
			    "schemas", n->nanyof);
	}
	if (n->noneof > 0) {
		for (i = ok = 0; i < n->noneof && ok < 2; i++)
			if (v_probe(c, n->oneof[i], v) == 0)
				ok++;
		if (ok != 1)
			FAIL("oneOf", "value matches %s of the %zu oneOf "
			    "schemas, expected exactly one",
			    ok == 0 ? "none" : "more than one", n->noneof);
	}
	if (n->not != NULL && v_probe(c, n->not, v) == 0)
		FAIL("not", "value matches a schema it must not match");
	return rc;
}

int
sval_run(const struct snode *root, json_object *v,
    const struct schema_opts *opts, struct schema_errors *errs,
    const char *base)
{
	struct vseg	 path[PATH_MAX_DEPTH];
	unsigned	 pos[PATH_MAX_DEPTH];
	struct vctx	 c;

	c.opts = opts;
	c.errs = errs;
	c.path = path;
	c.pos = pos;
	c.depth = 0;
	c.base = base != NULL ? base : "";
	return v_node(&c, root, v);
}

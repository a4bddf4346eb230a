/*
 * schema_compile.c - turn schema objects into validator nodes, once.
 *
 * Each schema object compiles to exactly one node (memoised by the json-c
 * pointer), so recursive schemas become graphs and shared components are
 * compiled once.  In the draft-4 and OpenAPI 3.0 dialects a $ref replaces
 * its object: the chain of refs is followed at compile time (a loop of
 * refs is an error) and the object maps to its final target's node.  In
 * OpenAPI 3.1 a $ref is one more keyword (snode.ref).
 *
 * After compilation scomp_check_cycles() rejects loops made only of
 * in-place applicators ($ref, allOf, anyOf, oneOf, not, dependencies):
 * such a loop would never consume the instance and never terminate.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "schema/schema_int.h"
#include "util/xmalloc.h"

struct memo_ent {
	json_object	*key;
	struct snode	*node;
};

struct scomp {
	struct schema_set	*set;
	struct memo_ent		*tab;
	size_t			 cap, n;
};

static struct snode *compile_obj(struct scomp *, struct sdoc *,
    json_object *, char *, size_t);

static size_t
memo_hash(const json_object *o, size_t cap)
{
	uintptr_t	 h = (uintptr_t)o;

	h ^= h >> 17;
	h *= (uintptr_t)0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 7) & (cap - 1);
}

static struct snode *
memo_get(struct scomp *c, const json_object *o)
{
	size_t	 i;

	for (i = memo_hash(o, c->cap); c->tab[i].key != NULL;
	    i = (i + 1) & (c->cap - 1))
		if (c->tab[i].key == o)
			return c->tab[i].node;
	return NULL;
}

static void
memo_put(struct scomp *c, json_object *o, struct snode *n)
{
	struct memo_ent	*old;
	size_t		 i, oldcap;

	if ((c->n + 1) * 2 > c->cap) {
		old = c->tab;
		oldcap = c->cap;
		c->cap *= 2;
		c->tab = xcalloc(c->cap, sizeof(*c->tab));
		c->n = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				memo_put(c, old[i].key, old[i].node);
		free(old);
	}
	for (i = memo_hash(o, c->cap); c->tab[i].key != NULL;
	    i = (i + 1) & (c->cap - 1))
		if (c->tab[i].key == o) {
			c->tab[i].node = n;
			return;
		}
	c->tab[i].key = o;
	c->tab[i].node = n;
	c->n++;
}

struct scomp *
scomp_new(struct schema_set *set)
{
	struct scomp	*c = xcalloc(1, sizeof(*c));

	c->set = set;
	c->cap = 256;
	c->tab = xcalloc(c->cap, sizeof(*c->tab));
	return c;
}

void
scomp_free(struct scomp *c)
{
	if (c == NULL)
		return;
	free(c->tab);
	free(c);
}

static struct snode *
node_new(struct scomp *c, struct sdoc *doc, json_object *o)
{
	struct snode	*n = xcalloc(1, sizeof(*n));

	n->minlen = n->maxlen = n->minitems = n->maxitems = -1;
	n->minprops = n->maxprops = -1;
	n->doc = doc;
	n->line = sdoc_line(doc, o, NULL);
	n->all_next = c->set->nodes;
	c->set->nodes = n;
	return n;
}

static int
fail(struct sdoc *doc, json_object *o, char *err, size_t errlen,
    const char *kw, const char *what)
{
	snprintf(err, errlen, "%s:%d: %s: %s", doc->path,
	    sdoc_line(doc, o, NULL), kw, what);
	return -1;
}

static int
is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double);
}

static int
get_count(json_object *v, int64_t *out)
{
	double	 d;

	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return *out >= 0 ? 0 : -1;
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (d >= 0 && d < 9e18 && floor(d) == d) {
			*out = (int64_t)d;
			return 0;
		}
	}
	return -1;
}

static unsigned
type_bit(const char *s)
{
	static const struct { const char *name; unsigned bit; } types[] = {
		{ "null", ST_NULL }, { "boolean", ST_BOOLEAN },
		{ "object", ST_OBJECT }, { "array", ST_ARRAY },
		{ "number", ST_NUMBER }, { "string", ST_STRING },
		{ "integer", ST_INTEGER },
	};
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i].name) == 0)
			return types[i].bit;
	return 0;
}

static pcre2_code *
regex_compile(const char *src, char *why, size_t whylen)
{
	pcre2_code	*re;
	int		 ecode;
	PCRE2_SIZE	 eoff;
	PCRE2_UCHAR	 msg[128];

	re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF,
	    &ecode, &eoff, NULL);
	if (re == NULL) {
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		snprintf(why, whylen, "bad regex '%.80s' at offset %zu: %s",
		    src, (size_t)eoff, (char *)msg);
		return NULL;
	}
#ifdef HAVE_VALGRIND_VALGRIND_H
	/* JIT code is opaque to memcheck (false "uninitialised" reports);
	 * under valgrind the interpreter gives the same answers. */
	if (RUNNING_ON_VALGRIND)
		return re;
#endif
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

static int
schema_list(struct scomp *c, struct sdoc *doc, json_object *o,
    const char *kw, json_object *v, struct snode ***out, size_t *nout,
    char *err, size_t errlen)
{
	size_t	 i, n;

	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0)
		return fail(doc, o, err, errlen, kw,
		    "must be a non-empty array");
	*out = xcalloc(n, sizeof(**out));
	*nout = n;
	for (i = 0; i < n; i++)
		if (((*out)[i] = compile_obj(c, doc,
		    json_object_array_get_idx(v, i), err, errlen)) == NULL)
			return -1;
	return 0;
}

static int
prop_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sprop *)a)->name,
	    ((const struct sprop *)b)->name);
}

static int
string_list(struct sdoc *doc, json_object *o, const char *kw,
    json_object *v, const char ***out, size_t *nout, char *err,
    size_t errlen)
{
	size_t		 i, n;
	json_object	*e;

	if (!json_object_is_type(v, json_type_array))
		return fail(doc, o, err, errlen, kw, "must be an array");
	n = json_object_array_length(v);
	*out = xcalloc(n > 0 ? n : 1, sizeof(**out));
	*nout = n;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return fail(doc, o, err, errlen, kw,
			    "must list strings");
		(*out)[i] = json_object_get_string(e);
	}
	return 0;
}

static int
compile_deps(struct scomp *c, struct sdoc *doc, json_object *o,
    const char *kw, json_object *v, struct snode *n, char *err,
    size_t errlen)
{
	struct sdep	*d;

	if (!json_object_is_type(v, json_type_object))
		return fail(doc, o, err, errlen, kw, "must be an object");
	n->deps = xreallocarray(n->deps, n->ndeps +
	    (size_t)json_object_object_length(v) + 1, sizeof(*n->deps));
	json_object_object_foreach(v, key, val) {
		d = &n->deps[n->ndeps++];
		memset(d, 0, sizeof(*d));
		d->name = key;
		if (json_object_is_type(val, json_type_array)) {
			if (string_list(doc, o, kw, val, &d->req, &d->nreq,
			    err, errlen) == -1)
				return -1;
		} else if ((d->schema = compile_obj(c, doc, val, err,
		    errlen)) == NULL)
			return -1;
	}
	return 0;
}

static int
compile_keywords(struct scomp *c, struct sdoc *doc, json_object *o,
    struct snode *n, char *err, size_t errlen)
{
	json_object	*v, *e;
	size_t		 i, len;
	unsigned	 bit;
	char		 why[256];

	if (json_object_object_get_ex(o, "type", &v)) {
		if (json_object_is_type(v, json_type_string)) {
			if ((n->types = type_bit(json_object_get_string(v)))
			    == 0)
				return fail(doc, o, err, errlen, "type",
				    "unknown type");
		} else if (json_object_is_type(v, json_type_array)) {
			len = json_object_array_length(v);
			for (i = 0; i < len; i++) {
				e = json_object_array_get_idx(v, i);
				if (!json_object_is_type(e, json_type_string) ||
				    (bit = type_bit(json_object_get_string(e)))
				    == 0)
					return fail(doc, o, err, errlen, "type",
					    "unknown type");
				n->types |= bit;
			}
		} else
			return fail(doc, o, err, errlen, "type",
			    "must be a string or an array");
	}
	if (doc->dialect != DIALECT_OAS31 &&
	    json_object_object_get_ex(o, "nullable", &v) &&
	    json_object_get_boolean(v))
		n->flags |= SN_NULLABLE;
	if (n->types != 0 && (n->flags & SN_NULLABLE))
		n->types |= ST_NULL;

	if (json_object_object_get_ex(o, "properties", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return fail(doc, o, err, errlen, "properties",
			    "must be an object");
		n->props = xcalloc((size_t)json_object_object_length(v) + 1,
		    sizeof(*n->props));
		json_object_object_foreach(v, key, val) {
			n->props[n->nprops].name = key;
			if ((n->props[n->nprops].node = compile_obj(c, doc,
			    val, err, errlen)) == NULL)
				return -1;
			n->nprops++;
		}
		qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
	}
	if (json_object_object_get_ex(o, "required", &v) &&
	    string_list(doc, o, "required", v, &n->required, &n->nrequired,
	    err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "additionalProperties", &v)) {
		if (json_object_is_type(v, json_type_boolean)) {
			if (!json_object_get_boolean(v))
				n->flags |= SN_ADDP_FALSE;
		} else if ((n->addprops = compile_obj(c, doc, v, err,
		    errlen)) == NULL)
			return -1;
	}
	if (json_object_object_get_ex(o, "patternProperties", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return fail(doc, o, err, errlen, "patternProperties",
			    "must be an object");
		n->patprops = xcalloc((size_t)json_object_object_length(v) + 1,
		    sizeof(*n->patprops));
		json_object_object_foreach(v, key, val) {
			struct spat *p = &n->patprops[n->npatprops];

			if ((p->re = regex_compile(key, why, sizeof(why)))
			    == NULL)
				return fail(doc, o, err, errlen,
				    "patternProperties", why);
			n->npatprops++;
			p->src = key;
			if ((p->node = compile_obj(c, doc, val, err, errlen))
			    == NULL)
				return -1;
		}
	}
	if (json_object_object_get_ex(o, "items", &v)) {
		if (json_object_is_type(v, json_type_array)) {
			n->flags |= SN_TUPLE;
			len = json_object_array_length(v);
			n->tuple = xcalloc(len + 1, sizeof(*n->tuple));
			for (i = 0; i < len; i++, n->ntuple++)
				if ((n->tuple[i] = compile_obj(c, doc,
				    json_object_array_get_idx(v, i), err,
				    errlen)) == NULL)
					return -1;
		} else if ((n->items = compile_obj(c, doc, v, err, errlen))
		    == NULL)
			return -1;
	}
	if ((n->flags & SN_TUPLE) &&
	    json_object_object_get_ex(o, "additionalItems", &v)) {
		if (json_object_is_type(v, json_type_boolean)) {
			if (!json_object_get_boolean(v))
				n->flags |= SN_ADDI_FALSE;
		} else if ((n->additems = compile_obj(c, doc, v, err,
		    errlen)) == NULL)
			return -1;
	}
	if (json_object_object_get_ex(o, "enum", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return fail(doc, o, err, errlen, "enum",
			    "must be an array");
		len = json_object_array_length(v);
		n->enumv = xcalloc(len + 1, sizeof(*n->enumv));
		for (i = 0; i < len; i++)
			n->enumv[i] = json_object_array_get_idx(v, i);
		n->nenum = len;
	}
	if (json_object_object_get_ex(o, "const", &v)) {
		n->flags |= SN_CONST;
		n->constv = v;
	}
	if (json_object_object_get_ex(o, "allOf", &v) &&
	    schema_list(c, doc, o, "allOf", v, &n->allof, &n->nallof, err,
	    errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "anyOf", &v) &&
	    schema_list(c, doc, o, "anyOf", v, &n->anyof, &n->nanyof, err,
	    errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "oneOf", &v) &&
	    schema_list(c, doc, o, "oneOf", v, &n->oneof, &n->noneof, err,
	    errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "not", &v) &&
	    (n->not = compile_obj(c, doc, v, err, errlen)) == NULL)
		return -1;

	if (json_object_object_get_ex(o, "minimum", &v)) {
		if (!is_number(v))
			return fail(doc, o, err, errlen, "minimum",
			    "must be a number");
		n->flags |= SN_MIN;
		n->min = json_object_get_double(v);
	}
	if (json_object_object_get_ex(o, "maximum", &v)) {
		if (!is_number(v))
			return fail(doc, o, err, errlen, "maximum",
			    "must be a number");
		n->flags |= SN_MAX;
		n->max = json_object_get_double(v);
	}
	if (json_object_object_get_ex(o, "exclusiveMinimum", &v)) {
		if (json_object_is_type(v, json_type_boolean)) {
			if (json_object_get_boolean(v))
				n->flags |= SN_MIN_EXCL;
		} else if (is_number(v)) {
			n->flags |= SN_XMIN;
			n->xmin = json_object_get_double(v);
		} else
			return fail(doc, o, err, errlen, "exclusiveMinimum",
			    "must be a boolean or a number");
	}
	if (json_object_object_get_ex(o, "exclusiveMaximum", &v)) {
		if (json_object_is_type(v, json_type_boolean)) {
			if (json_object_get_boolean(v))
				n->flags |= SN_MAX_EXCL;
		} else if (is_number(v)) {
			n->flags |= SN_XMAX;
			n->xmax = json_object_get_double(v);
		} else
			return fail(doc, o, err, errlen, "exclusiveMaximum",
			    "must be a boolean or a number");
	}
	if (json_object_object_get_ex(o, "multipleOf", &v)) {
		if (!is_number(v) || !(json_object_get_double(v) > 0))
			return fail(doc, o, err, errlen, "multipleOf",
			    "must be a number > 0");
		n->flags |= SN_MULT;
		n->mult = json_object_get_double(v);
	}
#define COUNT(kw, field) \
	if (json_object_object_get_ex(o, kw, &v) && \
	    get_count(v, &n->field) == -1) \
		return fail(doc, o, err, errlen, kw, \
		    "must be a non-negative integer");
	COUNT("minLength", minlen)
	COUNT("maxLength", maxlen)
	COUNT("minItems", minitems)
	COUNT("maxItems", maxitems)
	COUNT("minProperties", minprops)
	COUNT("maxProperties", maxprops)
#undef COUNT
	if (json_object_object_get_ex(o, "uniqueItems", &v) &&
	    json_object_get_boolean(v))
		n->flags |= SN_UNIQUE;
	if (json_object_object_get_ex(o, "pattern", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(doc, o, err, errlen, "pattern",
			    "must be a string");
		n->pattern_src = json_object_get_string(v);
		if ((n->pattern = regex_compile(n->pattern_src, why,
		    sizeof(why))) == NULL)
			return fail(doc, o, err, errlen, "pattern", why);
	}
	if (json_object_object_get_ex(o, "format", &v) &&
	    json_object_is_type(v, json_type_string))
		n->format = sfmt_lookup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "dependencies", &v) &&
	    compile_deps(c, doc, o, "dependencies", v, n, err, errlen) == -1)
		return -1;
	if (doc->dialect == DIALECT_OAS31) {
		if (json_object_object_get_ex(o, "dependentRequired", &v) &&
		    compile_deps(c, doc, o, "dependentRequired", v, n, err,
		    errlen) == -1)
			return -1;
		if (json_object_object_get_ex(o, "dependentSchemas", &v) &&
		    compile_deps(c, doc, o, "dependentSchemas", v, n, err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

static struct snode *
compile_obj(struct scomp *c, struct sdoc *doc, json_object *o, char *err,
    size_t errlen)
{
	struct snode	*n;
	json_object	*r, *chain[34];
	struct sdoc	*tdoc;
	size_t		 nchain = 0, i;
	const char	*ref;

	if ((n = memo_get(c, o)) != NULL)
		return n;
	if (json_object_is_type(o, json_type_boolean)) {
		n = node_new(c, doc, o);
		if (!json_object_get_boolean(o))
			n->flags |= SN_FALSE;
		memo_put(c, o, n);
		return n;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s:%d: schema is not an object",
		    doc->path, sdoc_line(doc, o, NULL));
		return NULL;
	}

	if (doc->dialect != DIALECT_OAS31 &&
	    json_object_object_get_ex(o, "$ref", &r) &&
	    json_object_is_type(r, json_type_string)) {
		/* The object is its ref: follow the chain to a real schema. */
		json_object *cur = o;
		struct sdoc *cdoc = doc;

		while (json_object_object_get_ex(cur, "$ref", &r) &&
		    json_object_is_type(r, json_type_string)) {
			ref = json_object_get_string(r);
			for (i = 0; i < nchain; i++)
				if (chain[i] == cur)
					break;
			if (i < nchain || nchain == sizeof(chain) /
			    sizeof(chain[0])) {
				snprintf(err, errlen, "%s:%d: $ref cycle: '%s' "
				    "refers back to itself", cdoc->path,
				    sdoc_line(cdoc, cur, ref), ref);
				return NULL;
			}
			chain[nchain++] = cur;
			if ((n = memo_get(c, cur)) != NULL)
				break;
			if ((cur = sref_resolve(c->set, cdoc, ref, &tdoc, err,
			    errlen)) == NULL)
				return NULL;
			cdoc = tdoc;
			if (!json_object_is_type(cur, json_type_object) &&
			    !json_object_is_type(cur, json_type_boolean)) {
				snprintf(err, errlen, "%s:%d: $ref '%s' does "
				    "not point to a schema", doc->path,
				    sdoc_line(doc, o, ref), ref);
				return NULL;
			}
			if (json_object_is_type(cur, json_type_boolean))
				break;
		}
		if (n == NULL && (n = compile_obj(c, cdoc, cur, err, errlen))
		    == NULL)
			return NULL;
		for (i = 0; i < nchain; i++)
			memo_put(c, chain[i], n);
		return n;
	}

	n = node_new(c, doc, o);
	memo_put(c, o, n);
	if (compile_keywords(c, doc, o, n, err, errlen) == -1)
		return NULL;
	if (doc->dialect == DIALECT_OAS31 &&
	    json_object_object_get_ex(o, "$ref", &r) &&
	    json_object_is_type(r, json_type_string)) {
		json_object	*t;

		if ((t = sref_resolve(c->set, doc, json_object_get_string(r),
		    &tdoc, err, errlen)) == NULL)
			return NULL;
		if ((n->ref = compile_obj(c, tdoc, t, err, errlen)) == NULL)
			return NULL;
	}
	return n;
}

struct snode *
scomp_node(struct scomp *c, struct sdoc *doc, json_object *o, char *err,
    size_t errlen)
{
	return compile_obj(c, doc, o, err, errlen);
}

/* Depth-first search over in-place edges; mark 1 = on stack, 2 = done. */
static int
cycle_visit(struct snode *n, char *err, size_t errlen)
{
	size_t	 i;

	if (n == NULL || n->mark == 2)
		return 0;
	if (n->mark == 1) {
		snprintf(err, errlen, "%s:%d: schema cycle: $ref/allOf/anyOf/"
		    "oneOf/not loops back to this schema without consuming "
		    "the value", n->doc != NULL ? n->doc->path : "?", n->line);
		return -1;
	}
	n->mark = 1;
#define VISIT(x) if (cycle_visit((x), err, errlen) == -1) return -1
	VISIT(n->ref);
	VISIT(n->not);
	for (i = 0; i < n->nallof; i++)
		VISIT(n->allof[i]);
	for (i = 0; i < n->nanyof; i++)
		VISIT(n->anyof[i]);
	for (i = 0; i < n->noneof; i++)
		VISIT(n->oneof[i]);
	for (i = 0; i < n->ndeps; i++)
		VISIT(n->deps[i].schema);
#undef VISIT
	n->mark = 2;
	return 0;
}

int
scomp_check_cycles(struct scomp *c, char *err, size_t errlen)
{
	struct snode	*n;

	for (n = c->set->nodes; n != NULL; n = n->all_next)
		if (cycle_visit(n, err, errlen) == -1)
			return -1;
	return 0;
}

void
snode_free_all(struct snode *n)
{
	struct snode	*next;
	size_t		 i;

	for (; n != NULL; n = next) {
		next = n->all_next;
		free(n->props);
		free(n->required);
		for (i = 0; i < n->npatprops; i++)
			pcre2_code_free(n->patprops[i].re);
		free(n->patprops);
		free(n->tuple);
		free(n->enumv);
		free(n->allof);
		free(n->anyof);
		free(n->oneof);
		if (n->pattern != NULL)
			pcre2_code_free(n->pattern);
		for (i = 0; i < n->ndeps; i++)
			free(n->deps[i].req);
		free(n->deps);
		free(n);
	}
}

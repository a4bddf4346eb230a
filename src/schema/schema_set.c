/*
 * schema_set.c - load spec files into a set; pick the schema for a message.
 *
 * See schema.h for the selection rules.  Everything here runs at load
 * time except schema_validate_action()/schema_validate_json(), which only
 * look things up and hand over to schema_validate.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_int.h"
#include "util/json.h"
#include "util/xmalloc.h"

static const struct schema_opts default_opts = { SCHEMA_FMT_DEFAULT, 0 };

/* "1.1.0" -> "1.1" (at most len-1 bytes). */
static void
major_minor(const char *v, char *buf, size_t len)
{
	const char	*d = strchr(v, '.');
	size_t		 n;

	if (d != NULL && (d = strchr(d + 1, '.')) != NULL)
		n = (size_t)(d - v);
	else
		n = strlen(v);
	if (n >= len)
		n = len - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
}

static int
version_cmp(const char *a, const char *b)
{
	long	 x, y;
	char	*ea, *eb;

	for (;;) {
		x = strtol(a, &ea, 10);
		y = strtol(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (*ea != '.' || *eb != '.')
			return (*ea == '.') - (*eb == '.');
		a = ea + 1;
		b = eb + 1;
	}
}

static int
op_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sop *)a)->action,
	    ((const struct sop *)b)->action);
}

static int
string_array(json_object *info, const char *key, char ***out, size_t *n,
    struct sdoc *doc, char *err, size_t errlen)
{
	json_object	*v, *e;
	size_t		 i, len;

	if (!json_object_object_get_ex(info, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		*out = xcalloc(1, sizeof(**out));
		(*out)[0] = xstrdup(json_object_get_string(v));
		*n = 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		goto bad;
	len = json_object_array_length(v);
	*out = xcalloc(len + 1, sizeof(**out));
	for (i = 0; i < len; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			goto bad;
		(*out)[(*n)++] = xstrdup(json_object_get_string(e));
	}
	return 0;
bad:
	snprintf(err, errlen, "%s:%d: info.%s must be a string or a list of "
	    "strings", doc->path, sdoc_line(doc, info, key), key);
	return -1;
}

static int
load_openapi(struct schema_set *set, struct scomp *c, struct sdoc *doc,
    char *err, size_t errlen)
{
	json_object	*v, *info, *paths, *item, *post, *body, *content;
	json_object	*media, *schema, *r, *comps, *schemas;
	struct sspec	*sp;
	const char	*ver;

	if (!json_object_object_get_ex(doc->root, "openapi", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "%s:1: not an OpenAPI document (no "
		    "'openapi' version string)", doc->path);
		return -1;
	}
	ver = json_object_get_string(v);
	if (strncmp(ver, "3.0", 3) == 0)
		doc->dialect = DIALECT_OAS30;
	else if (strncmp(ver, "3.1", 3) == 0)
		doc->dialect = DIALECT_OAS31;
	else {
		snprintf(err, errlen, "%s:%d: unsupported OpenAPI version "
		    "'%s' (3.0 or 3.1)", doc->path, sdoc_line(doc, NULL,
		    "openapi"), ver);
		return -1;
	}

	set->specs = xreallocarray(set->specs, set->nspecs + 1,
	    sizeof(*set->specs));
	sp = &set->specs[set->nspecs++];
	memset(sp, 0, sizeof(*sp));
	sp->file = xstrdup(doc->path);
	if (!json_object_object_get_ex(doc->root, "info", &info) ||
	    !json_object_is_type(info, json_type_object) ||
	    !json_object_object_get_ex(info, "version", &v) ||
	    json_object_get_string(v) == NULL) {
		snprintf(err, errlen, "%s:1: info.version is missing",
		    doc->path);
		return -1;
	}
	sp->info_version = xstrdup(json_object_get_string(v));
	if (string_array(info, "x-beckn-domains", &sp->domains,
	    &sp->ndomains, doc, err, errlen) == -1 ||
	    string_array(info, "x-beckn-versions", &sp->versions,
	    &sp->nversions, doc, err, errlen) == -1)
		return -1;
	sp->core = sp->ndomains == 0;
	if (!sp->core && sp->nversions == 0) {
		char mm[32];

		major_minor(sp->info_version, mm, sizeof(mm));
		sp->versions = xcalloc(1, sizeof(*sp->versions));
		sp->versions[0] = xstrdup(mm);
		sp->nversions = 1;
	}

	if (!json_object_object_get_ex(doc->root, "paths", &paths) ||
	    !json_object_is_type(paths, json_type_object)) {
		snprintf(err, errlen, "%s:1: no 'paths' object", doc->path);
		return -1;
	}
	sp->ops = xcalloc((size_t)json_object_object_length(paths) + 1,
	    sizeof(*sp->ops));
	json_object_object_foreach(paths, key, pitem) {
		struct sdoc *bdoc = doc;

		item = pitem;
		if (key[0] != '/' || key[1] == '\0' ||
		    strchr(key + 1, '/') != NULL)
			continue;
		if (json_object_object_get_ex(item, "$ref", &r) &&
		    json_object_is_type(r, json_type_string) &&
		    (item = sref_resolve(set, doc, json_object_get_string(r),
		    &bdoc, err, errlen)) == NULL)
			return -1;
		if (!json_object_object_get_ex(item, "post", &post) ||
		    !json_object_object_get_ex(post, "requestBody", &body))
			continue;
		if (json_object_object_get_ex(body, "$ref", &r) &&
		    json_object_is_type(r, json_type_string) &&
		    (body = sref_resolve(set, bdoc, json_object_get_string(r),
		    &bdoc, err, errlen)) == NULL)
			return -1;
		if (!json_object_object_get_ex(body, "content", &content) ||
		    !json_object_object_get_ex(content, "application/json",
		    &media) ||
		    !json_object_object_get_ex(media, "schema", &schema))
			continue;
		sp->ops[sp->nops].action = key + 1;
		if ((sp->ops[sp->nops].root = scomp_node(c, bdoc, schema,
		    err, errlen)) == NULL)
			return -1;
		sp->nops++;
	}
	qsort(sp->ops, sp->nops, sizeof(*sp->ops), op_cmp);

	/* Compile every component too: a dangling $ref anywhere is an error. */
	if (json_object_object_get_ex(doc->root, "components", &comps) &&
	    json_object_object_get_ex(comps, "schemas", &schemas) &&
	    json_object_is_type(schemas, json_type_object)) {
		json_object_object_foreach(schemas, name, s) {
			(void)name;
			if (scomp_node(c, doc, s, err, errlen) == NULL)
				return -1;
		}
	}
	return 0;
}

static struct schema_set *
finish(struct schema_set *set, struct scomp *c, char *err, size_t errlen)
{
	struct sdoc	*d;
	size_t		 i;
	int		 rc;

	rc = scomp_check_cycles(c, err, errlen);
	scomp_free(c);
	if (rc == -1) {
		schema_set_free(set);
		return NULL;
	}
	for (d = set->docs; d != NULL; d = d->next) {
		free(d->text);
		d->text = NULL;
	}
	for (i = 0; i < set->nspecs; i++) {
		char mm[32];

		if (!set->specs[i].core)
			continue;
		major_minor(set->specs[i].info_version, mm, sizeof(mm));
		if (set->core_mm[0] == '\0' ||
		    version_cmp(mm, set->core_mm) > 0)
			snprintf(set->core_mm, sizeof(set->core_mm), "%s", mm);
	}
	return set;
}

static int
load_doc(struct schema_set *set, struct scomp *c, struct sdoc *doc, int kind,
    char *err, size_t errlen)
{
	if (kind == SCHEMA_LOAD_JSON_SCHEMA) {
		doc->dialect = DIALECT_JSONSCHEMA;
		if (set->root != NULL) {
			snprintf(err, errlen, "%s:0: only one JSON Schema file",
			    doc->path);
			return -1;
		}
		set->root = scomp_node(c, doc, doc->root, err, errlen);
		return set->root != NULL ? 0 : -1;
	}
	return load_openapi(set, c, doc, err, errlen);
}

struct schema_set *
schema_set_load(const char *const *files, size_t nfiles, int kind, char *err,
    size_t errlen)
{
	struct schema_set	*set = xcalloc(1, sizeof(*set));
	struct scomp		*c = scomp_new(set);
	struct sdoc		*doc;
	size_t			 i;

	if (nfiles == 0) {
		snprintf(err, errlen, "-:0: no spec file given");
		goto fail;
	}
	for (i = 0; i < nfiles; i++) {
		if ((doc = sdoc_load(set, files[i], err, errlen)) == NULL)
			goto fail;
		if (load_doc(set, c, doc, kind, err, errlen) == -1)
			goto fail;
	}
	return finish(set, c, err, errlen);
fail:
	scomp_free(c);
	schema_set_free(set);
	return NULL;
}

struct schema_set *
schema_set_load_mem(const char *name, const char *buf, size_t len, int kind,
    char *err, size_t errlen)
{
	struct schema_set	*set = xcalloc(1, sizeof(*set));
	struct scomp		*c = scomp_new(set);
	struct sdoc		*doc;

	if ((doc = sdoc_parse(name, buf, len, err, errlen)) == NULL)
		goto fail;
	doc->next = set->docs;
	set->docs = doc;
	if (load_doc(set, c, doc, kind, err, errlen) == -1)
		goto fail;
	return finish(set, c, err, errlen);
fail:
	scomp_free(c);
	schema_set_free(set);
	return NULL;
}

void
schema_set_free(struct schema_set *set)
{
	struct sdoc	*d, *next;
	size_t		 i, j;

	if (set == NULL)
		return;
	snode_free_all(set->nodes);
	for (d = set->docs; d != NULL; d = next) {
		next = d->next;
		sdoc_free(d);
	}
	for (i = 0; i < set->nspecs; i++) {
		struct sspec *sp = &set->specs[i];

		for (j = 0; j < sp->ndomains; j++)
			free(sp->domains[j]);
		for (j = 0; j < sp->nversions; j++)
			free(sp->versions[j]);
		free(sp->domains);
		free(sp->versions);
		free(sp->info_version);
		free(sp->file);
		free(sp->ops);
	}
	free(set->specs);
	free(set);
	schema_thread_done();
}

static const struct sop *
find_op(const struct sspec *sp, const char *action)
{
	struct sop	 key;

	key.action = action;
	key.root = NULL;
	return bsearch(&key, sp->ops, sp->nops, sizeof(*sp->ops), op_cmp);
}

int
schema_set_has_action(const struct schema_set *set, const char *action)
{
	size_t	 i;

	for (i = 0; i < set->nspecs; i++)
		if (find_op(&set->specs[i], action) != NULL)
			return 1;
	return 0;
}

/*
 * Whether sp applies to a message of domain and version.  any: the
 * version does not matter (SCHEMA_OPT_ANY_VERSION), the domain still does
 * for layers, which only add their network's rules to their domains.
 */
static int
covers(const struct schema_set *set, const struct sspec *sp,
    const char *domain, const char *version, int any)
{
	char	 mm[32];
	size_t	 i, n;
	int	 ok = any;

	if (!any) {
		if (version == NULL)
			return 0;
		major_minor(version, mm, sizeof(mm));
		if (sp->core)
			return strcmp(mm, set->core_mm) == 0;
		for (i = 0; i < sp->nversions && !ok; i++)
			ok = strcmp(sp->versions[i], version) == 0 ||
			    strcmp(sp->versions[i], mm) == 0;
	} else if (sp->core)
		return 1;
	if (!ok || domain == NULL)
		return 0;
	for (i = 0; i < sp->ndomains; i++) {
		n = strlen(sp->domains[i]);
		if (n > 0 && sp->domains[i][n - 1] == '*') {
			if (strncmp(domain, sp->domains[i], n - 1) == 0)
				return 1;
		} else if (strcmp(domain, sp->domains[i]) == 0)
			return 1;
	}
	return 0;
}

int
schema_validate_action(const struct schema_set *set, const char *action,
    const json_object *cbody, const struct schema_opts *opts,
    struct schema_errors *errs)
{
	json_object		*body = (json_object *)cbody, *ctx = NULL;
	const char		*domain, *version;
	const struct sop	*op;
	size_t			 i, covered = 0, applied = 0, ncore = 0;
	int			 rc = 0, any;
	static const unsigned	 zero[1] = { 0 };

	errs->n = 0;
	errs->truncated = 0;
	if (opts == NULL)
		opts = &default_opts;
	any = (opts->flags & SCHEMA_OPT_ANY_VERSION) != 0;
	if (json_object_is_type(body, json_type_object))
		json_object_object_get_ex(body, "context", &ctx);
	if (!json_object_is_type(ctx, json_type_object))
		ctx = NULL;
	if (action == NULL && (action = json_str(ctx, "action")) ==
	    NULL) {
		serr_add(errs, "/context/action", zero, 0, "action",
		    "context.action is missing: cannot select a schema");
		return -1;
	}
	domain = json_str(ctx, "domain");
	version = json_str(ctx, "version");

	for (i = 0; i < set->nspecs; i++) {
		const struct sspec *sp = &set->specs[i];

		if (!covers(set, sp, domain, version, any))
			continue;
		covered++;
		if ((op = find_op(sp, action)) == NULL)
			continue;
		if (sp->core && ncore++ > 0)
			continue;	/* first core spec with the action */
		applied++;
		if (sval_run(op->root, body, opts, errs, "") == -1)
			rc = -1;
	}
	if (covered == 0 && any) {
		/* only layers loaded, none for this domain */
		serr_add(errs, "/context/domain", zero, 0, "spec",
		    "no loaded spec covers domain '%s' (no core spec)",
		    domain != NULL ? domain : "(missing)");
		return -1;
	}
	if (covered == 0) {
		serr_add(errs, "/context/version", zero, 0, "spec",
		    "no loaded spec covers domain '%s' version '%s' "
		    "(core specs cover %s.x)", domain != NULL ? domain : "",
		    version != NULL ? version : "(missing)",
		    set->core_mm[0] != '\0' ? set->core_mm : "none");
		return -1;
	}
	if (applied == 0) {
		serr_add(errs, "/context/action", zero, 0, "action",
		    "no schema for action '%.60s' in the specs covering "
		    "domain '%s' version '%s'", action,
		    domain != NULL ? domain : "",
		    version != NULL ? version : "");
		return -1;
	}
	if (rc == -1)
		serr_sort(errs);
	return rc;
}

int
schema_validate_json(const struct schema_set *set, const json_object *value,
    const struct schema_opts *opts, struct schema_errors *errs)
{
	static const unsigned	 zero[1] = { 0 };
	int			 rc;

	errs->n = 0;
	errs->truncated = 0;
	if (set->root == NULL) {
		serr_add(errs, "", zero, 0, "spec", "no JSON Schema loaded");
		return -1;
	}
	rc = sval_run(set->root, (json_object *)value,
	    opts != NULL ? opts : &default_opts, errs, "");
	if (rc == -1)
		serr_sort(errs);
	return rc;
}

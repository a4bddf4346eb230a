/*
 * check_schema_dsep.c - verdicts on published examples (needs ../shared).
 *
 * 1. With the unmodified official core 1.1.0 transaction.yaml and
 *    meta.yaml loaded, every DSEP example recorded as a beckn-message in
 *    test-vectors/dsep-examples-core-v1.1.0-validation.json gets exactly
 *    the recorded verdict, with formats uuid,date-time,date,email
 *    (valid_with_formats) and with formats ignored (valid_structural).
 *    The vectors select the schema by context.action only, whatever the
 *    message's version, hence SCHEMA_OPT_ANY_VERSION.  Entries with
 *    "result": "no-such-action-in-core-1.1.0" must fail with keyword
 *    "action".
 * 2. Every request body of the ONEST sandbox Postman collection validates
 *    against the project's own schemas/ (core + ONEST layer), selected by
 *    domain and version, with the default formats, both as files and as
 *    built into the binary.  Collection variables are substituted from
 *    the collection; {{$guid}}-style and unknown placeholders get
 *    plausible values at test time.
 * 3. On every DSEP example the built-in schemas give the same verdict and
 *    the same errors as schemas/ loaded from disk, selected by domain and
 *    version, by action alone, and with formats ignored.
 *
 * Exits 77 (skip) when the shared data is absent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "schema/schema.h"
#include "testutil.h"
#include "util/xmalloc.h"

static char *
spec_path(const char *rel)
{
	char	*p = test_shared_path(rel);

	ck_assert_msg(p != NULL, "missing %s in shared data", rel);
	return p;
}

static void
print_errors(const char *file, const char *mode,
    const struct schema_errors *e)
{
	size_t	 i;

	fprintf(stderr, "  %s [%s]: %zu error(s)\n", file, mode, e->n);
	for (i = 0; i < e->n; i++)
		fprintf(stderr, "    %s %s: %s\n", e->e[i].path,
		    e->e[i].keyword, e->e[i].message);
}

/*
 * The i-th validation vector, when it names an example message (kind
 * "beckn-message"): *r the vector, *rel its path under shared/ (the
 * caller frees it), and the parsed body.  NULL for other kinds.
 */
static json_object *
example_at(json_object *results, size_t i, json_object **r, char **rel)
{
	json_object	*v, *body;
	char		*path;

	*r = json_object_array_get_idx(results, i);
	json_object_object_get_ex(*r, "kind", &v);
	if (strcmp(json_object_get_string(v), "beckn-message") != 0)
		return NULL;
	json_object_object_get_ex(*r, "file", &v);
	xasprintf(rel, "spec/dsep-examples/%s", json_object_get_string(v));
	path = spec_path(*rel);
	body = json_object_from_file(path);
	ck_assert_msg(body != NULL, "cannot parse %s", path);
	free(path);
	return body;
}

START_TEST(test_dsep_verdicts)
{
	char			*tx = spec_path(
	    "spec/core-v1.1.0/api/transaction/build/transaction.yaml");
	char			*meta = spec_path(
	    "spec/core-v1.1.0/api/meta/build/meta.yaml");
	char			*vec = spec_path("spec/test-vectors/"
	    "dsep-examples-core-v1.1.0-validation.json");
	const char		*files[2] = { tx, meta };
	struct schema_set	*set;
	struct schema_errors	*errs = xcalloc(1, sizeof(*errs));
	struct schema_opts	 fmt = { SCHEMA_FMT_UUID | SCHEMA_FMT_DATE_TIME |
	    SCHEMA_FMT_DATE | SCHEMA_FMT_EMAIL, SCHEMA_OPT_ANY_VERSION };
	struct schema_opts	 structural = { 0, SCHEMA_OPT_ANY_VERSION };
	json_object		*vectors, *results, *r, *v, *body;
	char			 err[512], *rel;
	size_t			 i, n, checked = 0, mismatches = 0;
	int			 rc, want;

	set = schema_set_load(files, 2, SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "load: %s", err);
	vectors = json_object_from_file(vec);
	ck_assert_ptr_nonnull(vectors);
	ck_assert(json_object_object_get_ex(vectors, "results", &results));
	n = json_object_array_length(results);
	for (i = 0; i < n; i++) {
		if ((body = example_at(results, i, &r, &rel)) == NULL)
			continue;
		checked++;

		if (json_object_object_get_ex(r, "result", &v)) {
			/* no schema for this action in core 1.1.0 */
			rc = schema_validate_action(set, NULL, body, &fmt, errs);
			if (rc != -1 || errs->n != 1 ||
			    strcmp(errs->e[0].keyword, "action") != 0) {
				fprintf(stderr, "MISMATCH %s: expected an "
				    "'action' error\n", rel);
				print_errors(rel, "formats", errs);
				mismatches++;
			}
		} else {
			json_object_object_get_ex(r, "valid_with_formats", &v);
			want = json_object_get_boolean(v);
			rc = schema_validate_action(set, NULL, body, &fmt, errs);
			if ((rc == 0) != want) {
				fprintf(stderr, "MISMATCH %s: formats verdict "
				    "%d, expected %d\n", rel, rc == 0, want);
				print_errors(rel, "formats", errs);
				mismatches++;
			}
			json_object_object_get_ex(r, "valid_structural", &v);
			want = json_object_get_boolean(v);
			rc = schema_validate_action(set, NULL, body,
			    &structural, errs);
			if ((rc == 0) != want) {
				fprintf(stderr, "MISMATCH %s: structural "
				    "verdict %d, expected %d\n", rel, rc == 0,
				    want);
				print_errors(rel, "ignore", errs);
				mismatches++;
			}
		}
		json_object_put(body);
		free(rel);
	}
	printf("DSEP examples vs core 1.1.0: %zu messages checked (x2 format "
	    "modes), %zu mismatches\n", checked, mismatches);
	ck_assert_uint_eq(checked, 152);
	ck_assert_uint_eq(mismatches, 0);
	json_object_put(vectors);
	schema_set_free(set);
	free(errs);
	free(tx);
	free(meta);
	free(vec);
}
END_TEST

/* Replace {{name}} placeholders: collection variables, then made-up values. */
static char *
substitute(const char *raw, json_object *vars, unsigned *counter)
{
	size_t		 cap = strlen(raw) * 2 + 256, o = 0, i, n, vl;
	char		*out = xmalloc(cap), name[128], made[64];
	const char	*p = raw, *e, *val;
	json_object	*v, *k;

	while (*p != '\0') {
		if (p[0] == '{' && p[1] == '{' &&
		    (e = strstr(p + 2, "}}")) != NULL &&
		    (size_t)(e - p - 2) < sizeof(name)) {
			n = (size_t)(e - p - 2);
			memcpy(name, p + 2, n);
			name[n] = '\0';
			val = NULL;
			for (i = 0; vars != NULL &&
			    i < json_object_array_length(vars); i++) {
				v = json_object_array_get_idx(vars, i);
				if (json_object_object_get_ex(v, "key", &k) &&
				    strcmp(json_object_get_string(k), name)
				    == 0 &&
				    json_object_object_get_ex(v, "value", &k)) {
					val = json_object_get_string(k);
					break;
				}
			}
			if (val == NULL) {
				(*counter)++;
				if (strstr(name, "time") != NULL ||
				    strstr(name, "Time") != NULL)
					snprintf(made, sizeof(made),
					    "2024-03-04T10:%02u:00.000Z",
					    *counter % 60);
				else
					snprintf(made, sizeof(made),
					    "6f1a2b3c-4d5e-4f60-8a7b-%012u",
					    *counter);
				val = made;
			}
			vl = strlen(val);
			if (o + vl + 1 >= cap) {
				cap = (o + vl) * 2 + 256;
				out = xrealloc(out, cap);
			}
			memcpy(out + o, val, vl);
			o += vl;
			p = e + 2;
			continue;
		}
		if (o + 2 >= cap) {
			cap *= 2;
			out = xrealloc(out, cap);
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

static size_t
walk_items(json_object *items, struct schema_set *set, json_object *vars,
    struct schema_errors *errs, size_t *bad, unsigned *counter)
{
	json_object	*it, *sub, *req, *body, *raw, *name, *msg;
	size_t		 i, n = 0;
	char		*text;

	for (i = 0; i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		if (json_object_object_get_ex(it, "item", &sub)) {
			n += walk_items(sub, set, vars, errs, bad, counter);
			continue;
		}
		if (!json_object_object_get_ex(it, "request", &req) ||
		    !json_object_object_get_ex(req, "body", &body) ||
		    !json_object_object_get_ex(body, "raw", &raw))
			continue;
		json_object_object_get_ex(it, "name", &name);
		text = substitute(json_object_get_string(raw), vars, counter);
		msg = json_tokener_parse(text);
		n++;
		if (msg == NULL) {
			fprintf(stderr, "postman: '%s' does not parse\n",
			    json_object_get_string(name));
			(*bad)++;
		} else if (schema_validate_action(set, NULL, msg, NULL, errs)
		    != 0) {
			fprintf(stderr, "postman: '%s' invalid\n",
			    json_object_get_string(name));
			print_errors(json_object_get_string(name), "default",
			    errs);
			(*bad)++;
		}
		json_object_put(msg);
		free(text);
	}
	return n;
}

/* The project's schemas/ (core + ONEST layer) as files. */
static struct schema_set *
load_own(void)
{
	char			*files[3], err[512];
	struct schema_set	*set;
	size_t			 i;

	xasprintf(&files[0], "%s/schemas/core/transaction.yaml",
	    test_srcdir());
	xasprintf(&files[1], "%s/schemas/core/meta.yaml", test_srcdir());
	xasprintf(&files[2], "%s/schemas/onest/onest-policy.yaml",
	    test_srcdir());
	set = schema_set_load((const char *const *)files, 3,
	    SCHEMA_LOAD_OPENAPI, err, sizeof(err));
	ck_assert_msg(set != NULL, "load: %s", err);
	for (i = 0; i < 3; i++)
		free(files[i]);
	return set;
}

static struct schema_set *
load_builtin(void)
{
	struct schema_set	*set;
	char			 err[512];

	set = schema_set_load_builtin(err, sizeof(err));
	ck_assert_msg(set != NULL, "load: %s", err);
	return set;
}

static void
postman(struct schema_set *set, const char *what)
{
	char			*coll = spec_path("spec/dsep-examples/"
	    "postman-collection/sandbox-sample-collection.json");
	struct schema_errors	*errs = xcalloc(1, sizeof(*errs));
	json_object		*c, *items, *vars = NULL;
	size_t			 n, bad = 0;
	unsigned		 counter = 0;

	c = json_object_from_file(coll);
	ck_assert_ptr_nonnull(c);
	ck_assert(json_object_object_get_ex(c, "item", &items));
	json_object_object_get_ex(c, "variable", &vars);
	n = walk_items(items, set, vars, errs, &bad, &counter);
	printf("ONEST sandbox Postman collection vs %s: %zu bodies, "
	    "%zu invalid\n", what, n, bad);
	ck_assert_uint_eq(n, 59);
	ck_assert_uint_eq(bad, 0);
	json_object_put(c);
	free(errs);
	free(coll);
}

START_TEST(test_postman_own_schemas)
{
	struct schema_set	*set = load_own();

	postman(set, "schemas/");
	schema_set_free(set);
	set = load_builtin();
	postman(set, "the built-in schemas");
	schema_set_free(set);
}
END_TEST

/* rc and every error of a and b must be equal; returns 1 when not. */
static int
differ(int ra, const struct schema_errors *a, int rb,
    const struct schema_errors *b)
{
	size_t	 i;

	if (ra != rb || a->n != b->n || a->truncated != b->truncated)
		return 1;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->e[i].path, b->e[i].path) != 0 ||
		    strcmp(a->e[i].keyword, b->e[i].keyword) != 0 ||
		    strcmp(a->e[i].message, b->e[i].message) != 0)
			return 1;
	return 0;
}

/*
 * Every DSEP example, in the three ways the daemon and the CLI select and
 * assert: the built-in set says exactly what schemas/ on disk says.
 */
START_TEST(test_dsep_builtin_same_as_files)
{
	static const struct schema_opts	 modes[] = {
		{ SCHEMA_FMT_DEFAULT, 0 },
		{ SCHEMA_FMT_DEFAULT, SCHEMA_OPT_ANY_VERSION },
		{ 0, SCHEMA_OPT_ANY_VERSION },
	};
	char			*vec = spec_path("spec/test-vectors/"
	    "dsep-examples-core-v1.1.0-validation.json");
	struct schema_set	*disk = load_own(), *bi = load_builtin();
	struct schema_errors	*ea = xcalloc(1, sizeof(*ea));
	struct schema_errors	*eb = xcalloc(1, sizeof(*eb));
	json_object		*vectors, *results, *r, *body;
	char			*rel;
	size_t			 i, m, n, checked = 0, invalid = 0, diffs = 0;
	int			 ra, rb;

	vectors = json_object_from_file(vec);
	ck_assert_ptr_nonnull(vectors);
	ck_assert(json_object_object_get_ex(vectors, "results", &results));
	n = json_object_array_length(results);
	for (i = 0; i < n; i++) {
		if ((body = example_at(results, i, &r, &rel)) == NULL)
			continue;
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			ra = schema_validate_action(disk, NULL, body,
			    &modes[m], ea);
			rb = schema_validate_action(bi, NULL, body, &modes[m],
			    eb);
			invalid += ra != 0;
			if (differ(ra, ea, rb, eb)) {
				fprintf(stderr, "DIFFER %s (mode %zu)\n", rel,
				    m);
				print_errors(rel, "schemas/", ea);
				print_errors(rel, "built-in", eb);
				diffs++;
			}
		}
		checked++;
		json_object_put(body);
		free(rel);
	}
	printf("DSEP examples, built-in vs schemas/: %zu messages x %zu "
	    "modes, %zu refusals, %zu differences\n", checked,
	    sizeof(modes) / sizeof(modes[0]), invalid, diffs);
	ck_assert_uint_eq(checked, 152);
	ck_assert_uint_gt(invalid, 0);
	ck_assert_uint_eq(diffs, 0);
	json_object_put(vectors);
	schema_set_free(disk);
	schema_set_free(bi);
	free(ea);
	free(eb);
	free(vec);
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;

	if (test_shared_dir() == NULL) {
		fprintf(stderr, "SKIP: check_schema_dsep needs the shared "
		    "spec data (BECKND_SHARED)\n");
		return TEST_SKIP;
	}
	s = suite_create("schema_dsep");
	tc = tcase_create("examples");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dsep_verdicts);
	tcase_add_test(tc, test_postman_own_schemas);
	tcase_add_test(tc, test_dsep_builtin_same_as_files);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

/*
 * check_schema_jsts.c - the official JSON-Schema-Test-Suite, draft4.
 *
 * Runs every test of every required (non-optional) draft4 file from the
 * Debian package json-schema-test-suite, except the groups listed with a
 * reason in tests/data/schema/jsts-skip.txt.  Each schema goes through
 * schema_set_load_mem(SCHEMA_LOAD_JSON_SCHEMA) and each instance through
 * schema_validate_json(); the verdict must equal the suite's "valid".
 *
 * JSTS_DIR overrides the suite location; exits 77 (skip) when absent.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "schema/schema.h"
#include "testutil.h"
#include "util/xmalloc.h"

#define JSTS_DEFAULT	"/usr/share/json-schema-test-suite/tests/draft4"

struct skip {
	char	*file;
	char	*group;
	int	 used;
};

static struct skip	*skips;
static size_t		 nskips;

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void
load_skips(void)
{
	char	*path, *buf, *line, *save = NULL, *a, *b;

	xasprintf(&path, "%s/tests/data/schema/jsts-skip.txt", test_srcdir());
	buf = test_read_file(path, NULL);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || (a = strchr(line, '|')) == NULL)
			continue;
		*a++ = '\0';
		if ((b = strchr(a, '|')) == NULL)
			continue;
		*b = '\0';
		skips = xreallocarray(skips, nskips + 1, sizeof(*skips));
		skips[nskips].file = xstrdup(trim(line));
		skips[nskips].group = xstrdup(trim(a));
		skips[nskips].used = 0;
		nskips++;
	}
	free(buf);
	free(path);
}

static int
skipped(const char *file, const char *group)
{
	size_t	 i;

	for (i = 0; i < nskips; i++)
		if (strcmp(skips[i].file, file) == 0 &&
		    strcmp(skips[i].group, group) == 0) {
			skips[i].used = 1;
			return 1;
		}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_draft4)
{
	const char		*dir = getenv("JSTS_DIR");
	DIR			*d;
	struct dirent		*de;
	char			**names = NULL, *path, err[512];
	size_t			 nnames = 0, f, g, t, len;
	size_t			 passed = 0, nskipped = 0, failed = 0;
	json_object		*groups, *grp, *schema, *tests, *test, *v;
	struct schema_set	*set;
	struct schema_errors	*errs = xcalloc(1, sizeof(*errs));
	struct schema_opts	 opts = { 0, 0 };
	const char		*gdesc, *text;
	int			 want, rc;

	if (dir == NULL)
		dir = JSTS_DEFAULT;
	load_skips();
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			names = xreallocarray(names, nnames + 1,
			    sizeof(*names));
			names[nnames++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	qsort(names, nnames, sizeof(*names), name_cmp);

	for (f = 0; f < nnames; f++) {
		xasprintf(&path, "%s/%s", dir, names[f]);
		groups = json_object_from_file(path);
		ck_assert_msg(groups != NULL, "cannot parse %s", path);
		for (g = 0; g < json_object_array_length(groups); g++) {
			grp = json_object_array_get_idx(groups, g);
			json_object_object_get_ex(grp, "description", &v);
			gdesc = json_object_get_string(v);
			json_object_object_get_ex(grp, "schema", &schema);
			json_object_object_get_ex(grp, "tests", &tests);
			if (skipped(names[f], gdesc)) {
				nskipped += json_object_array_length(tests);
				continue;
			}
			text = json_object_to_json_string_ext(schema,
			    JSON_C_TO_STRING_PLAIN);
			set = schema_set_load_mem(path, text, strlen(text),
			    SCHEMA_LOAD_JSON_SCHEMA, err, sizeof(err));
			for (t = 0; t < json_object_array_length(tests); t++) {
				test = json_object_array_get_idx(tests, t);
				json_object_object_get_ex(test, "valid", &v);
				want = json_object_get_boolean(v);
				json_object_object_get_ex(test, "data", &v);
				rc = set == NULL ? -2 :
				    schema_validate_json(set, v, &opts, errs);
				if (rc != -2 && (rc == 0) == want) {
					passed++;
					continue;
				}
				failed++;
				json_object_object_get_ex(test, "description",
				    &v);
				fprintf(stderr, "FAIL %s | %s | %s: %s\n",
				    names[f], gdesc, json_object_get_string(v),
				    set == NULL ? err : want ?
				    "rejected a valid instance" :
				    "accepted an invalid instance");
				if (set != NULL && errs->n > 0)
					fprintf(stderr, "  first error: %s %s: "
					    "%s\n", errs->e[0].path,
					    errs->e[0].keyword,
					    errs->e[0].message);
			}
			schema_set_free(set);
		}
		json_object_put(groups);
		free(path);
	}
	printf("JSON-Schema-Test-Suite draft4: %zu passed, %zu skipped "
	    "(listed), %zu failed\n", passed, nskipped, failed);
	for (f = 0; f < nskips; f++) {
		if (!skips[f].used)
			fprintf(stderr, "skip list entry not found in the "
			    "suite: %s | %s\n", skips[f].file, skips[f].group);
		ck_assert_msg(skips[f].used, "stale skip entry");
		free(skips[f].file);
		free(skips[f].group);
	}
	free(skips);
	for (f = 0; f < nnames; f++)
		free(names[f]);
	free(names);
	free(errs);
	ck_assert_uint_eq(failed, 0);
	ck_assert_uint_gt(passed, 250);
}
END_TEST

int
main(void)
{
	const char	*dir = getenv("JSTS_DIR");
	DIR		*d;
	Suite		*s;
	TCase		*tc;

	if (dir == NULL)
		dir = JSTS_DEFAULT;
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "SKIP: JSON-Schema-Test-Suite not found at %s "
		    "(apt-get install json-schema-test-suite)\n", dir);
		return TEST_SKIP;
	}
	closedir(d);
	s = suite_create("schema_jsts");
	tc = tcase_create("draft4");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_draft4);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

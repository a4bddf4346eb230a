/*
 * bench_schema.c - schema load/compile time and validation cost.
 *
 * Prints (never a pass/fail test; run with `make bench`):
 *   - load + compile of the official core 1.1.0 transaction.yaml and
 *     meta.yaml (when ../shared is present) and of the project's schemas/;
 *   - microseconds per validation, after parsing, of a ~5 KB on_search and
 *     a ~20 KB catalog, built here by repeating the item of our own
 *     tests/data/schema/on_search-seed.json.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "schema/schema.h"
#include "util/xmalloc.h"

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct schema_set *
load_timed(const char *label, const char *const *files, size_t n)
{
	struct schema_set	*set = NULL;
	char			 err[512];
	double			 t0, best = 1e30;
	int			 i;

	for (i = 0; i < 5; i++) {
		schema_set_free(set);
		t0 = now_us();
		set = schema_set_load(files, n, SCHEMA_LOAD_OPENAPI, err,
		    sizeof(err));
		if (set == NULL) {
			fprintf(stderr, "bench_schema: %s\n", err);
			exit(1);
		}
		if (now_us() - t0 < best)
			best = now_us() - t0;
	}
	printf("load+compile %-34s %8.2f ms (best of 5; target < 100 ms)\n",
	    label, best / 1e3);
	return set;
}

/* Grow the seed's item list until the body is at least target bytes. */
static char *
grow(json_object *seed, size_t target, size_t *len)
{
	json_object	*v = NULL, *items, *item, *copy;
	const char	*s;
	char		 id[32];
	int		 n = 1;

	json_object_deep_copy(seed, &v, NULL);
	items = json_object_object_get(json_object_array_get_idx(
	    json_object_object_get(json_object_object_get(
	    json_object_object_get(v, "message"), "catalog"), "providers"), 0),
	    "items");
	item = json_object_array_get_idx(items, 0);
	for (;;) {
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if (strlen(s) >= target)
			break;
		copy = NULL;
		json_object_deep_copy(item, &copy, NULL);
		snprintf(id, sizeof(id), "item-%d", ++n);
		json_object_object_add(copy, "id", json_object_new_string(id));
		json_object_array_add(items, copy);
	}
	*len = strlen(s);
	s = xstrdup(s);
	json_object_put(v);
	return (char *)s;
}

static void
bench_body(const char *label, const struct schema_set *set, const char *text,
    size_t len)
{
	json_object		*v = json_tokener_parse(text);
	struct schema_errors	*errs = xcalloc(1, sizeof(*errs));
	struct schema_opts	 opts = { SCHEMA_FMT_DEFAULT, 0 };
	double			 t0, us, parse_us;
	int			 i, n = 20000;

	if (v == NULL || schema_validate_action(set, NULL, v, &opts, errs)
	    != 0) {
		fprintf(stderr, "bench_schema: %s body is not valid: %s %s\n",
		    label, errs->n ? errs->e[0].path : "",
		    errs->n ? errs->e[0].message : "parse");
		exit(1);
	}
	t0 = now_us();
	for (i = 0; i < n; i++)
		(void)schema_validate_action(set, NULL, v, &opts, errs);
	us = (now_us() - t0) / n;
	t0 = now_us();
	for (i = 0; i < 2000; i++)
		json_object_put(json_tokener_parse(text));
	parse_us = (now_us() - t0) / 2000;
	printf("validate %-12s %6zu bytes %8.2f us/validation (parse alone "
	    "%.1f us)\n", label, len, us, parse_us);
	json_object_put(v);
	free(errs);
}

int
main(void)
{
	const char		*src = getenv("BECKND_SRCDIR");
	const char		*shared = getenv("BECKND_SHARED");
	char			*own[3], *off[2], *seedpath, *b5, *b20;
	struct schema_set	*set;
	json_object		*seed;
	size_t			 l5, l20, i;

	if (src == NULL)
		src = ".";
	if (shared != NULL) {
		xasprintf(&off[0], "%s/spec/core-v1.1.0/api/transaction/build/"
		    "transaction.yaml", shared);
		xasprintf(&off[1], "%s/spec/core-v1.1.0/api/meta/build/"
		    "meta.yaml", shared);
		if (access(off[0], R_OK) == 0 && access(off[1], R_OK) == 0)
			schema_set_free(load_timed("official core 1.1.0 (2 files)",
			    (const char *const *)off, 2));
		else
			printf("official core 1.1.0: not found under %s\n",
			    shared);
		free(off[0]);
		free(off[1]);
	}
	xasprintf(&own[0], "%s/schemas/core/transaction.yaml", src);
	xasprintf(&own[1], "%s/schemas/core/meta.yaml", src);
	xasprintf(&own[2], "%s/schemas/onest/onest-policy.yaml", src);
	set = load_timed("schemas/ core + ONEST (3 files)",
	    (const char *const *)own, 3);

	xasprintf(&seedpath, "%s/tests/data/schema/on_search-seed.json", src);
	if ((seed = json_object_from_file(seedpath)) == NULL) {
		fprintf(stderr, "bench_schema: cannot read %s\n", seedpath);
		return 1;
	}
	b5 = grow(seed, 5 * 1024, &l5);
	b20 = grow(seed, 20 * 1024, &l20);
	bench_body("on_search", set, b5, l5);
	bench_body("catalog", set, b20, l20);
	printf("targets: < 20 us (5 KB), < 80 us (20 KB)\n");

	json_object_put(seed);
	free(b5);
	free(b20);
	free(seedpath);
	for (i = 0; i < 3; i++)
		free(own[i]);
	schema_set_free(set);
	return 0;
}

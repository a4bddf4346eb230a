/*
 * check_layers.c - the module order, declared once and enforced.
 *
 * Every folder under src/ is a module with a rank; a file may include
 * headers of its own module and of modules of a LOWER rank only, never of
 * its own rank or above.  So the framing (http) cannot pull in the
 * configuration and its private keys, the registry cannot serve HTTP, and
 * adding a module means placing it here.
 *
 *   util < sig, schema, beckn, replay, metrics < net, http
 *        < registry, deliver, store < conf, lookup, admin, telemetry
 *        < proxy < cli < becknd.c
 *
 * The test reads every `#include "module/..."` of every .c and .h under
 * src/ (includes without a '/', such as "config.h", are the build's own).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "util/xmalloc.h"

static const struct {
	const char	*module;
	int		 rank;
} layers[] = {
	{ "util", 0 },
	{ "sig", 1 }, { "schema", 1 }, { "beckn", 1 }, { "replay", 1 },
	{ "metrics", 1 },
	{ "net", 2 }, { "http", 2 },
	{ "registry", 3 }, { "deliver", 3 }, { "store", 3 },
	{ "conf", 4 }, { "lookup", 4 }, { "admin", 4 }, { "telemetry", 4 },
	{ "proxy", 5 },
	{ "cli", 6 },
	{ "", 7 },		/* src/becknd.c, the entry point */
};

/* -1 when the module is not declared. */
static int
rank_of(const char *module)
{
	size_t	 i;

	for (i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (strcmp(layers[i].module, module) == 0)
			return layers[i].rank;
	return -1;
}

struct scan {
	int	 violations;
	int	 files;
	char	 first[512];	/* the first violation, for the message */
};

static void
violation(struct scan *sc, const char *msg)
{
	if (sc->violations++ == 0)
		snprintf(sc->first, sizeof(sc->first), "%s", msg);
	fprintf(stderr, "%s\n", msg);
}

/* Check one file of module (rank r); rel is its path under src/. */
static void
scan_file(struct scan *sc, const char *path, const char *rel,
    const char *module, int r)
{
	FILE	*f;
	char	 line[1024], target[128], msg[512];
	int	 n = 0, tr;
	char	*p, *q;

	if ((f = fopen(path, "r")) == NULL)
		ck_abort_msg("%s: %s", path, strerror(errno));
	sc->files++;
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		p = line + strspn(line, " \t");
		if (*p != '#')
			continue;
		p += 1 + strspn(p + 1, " \t");
		if (strncmp(p, "include", 7) != 0)
			continue;
		p += 7 + strspn(p + 7, " \t");
		if (*p != '"' || (q = strchr(p + 1, '/')) == NULL ||
		    (size_t)(q - p - 1) >= sizeof(target) ||
		    memchr(p + 1, '"', (size_t)(q - p - 1)) != NULL)
			continue;
		memcpy(target, p + 1, (size_t)(q - p - 1));
		target[q - p - 1] = '\0';
		if (strcmp(target, module) == 0)
			continue;
		if ((tr = rank_of(target)) == -1)
			snprintf(msg, sizeof(msg), "%s includes undeclared "
			    "module \"%s\" (line %d)", rel, target, n);
		else if (tr >= r)
			snprintf(msg, sizeof(msg), "%s includes \"%s\", not "
			    "below its layer (line %d)", rel, target, n);
		else
			continue;
		violation(sc, msg);
	}
	fclose(f);
}

static int
is_source(const char *name)
{
	size_t	 len = strlen(name);

	return len > 2 && name[len - 2] == '.' &&
	    (name[len - 1] == 'c' || name[len - 1] == 'h');
}

/* Walk src/: top-level files are the entry point, folders modules. */
static void
scan_tree(struct scan *sc, const char *src)
{
	DIR		*top, *d;
	struct dirent	*e, *f;
	struct stat	 st;
	char		 path[4096], file[4096], rel[512], msg[512];
	int		 r;

	if ((top = opendir(src)) == NULL)
		ck_abort_msg("%s: %s", src, strerror(errno));
	while ((e = readdir(top)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", src, e->d_name);
		if (stat(path, &st) == -1)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			if (is_source(e->d_name))
				scan_file(sc, path, e->d_name, "", rank_of(""));
			continue;
		}
		if ((r = rank_of(e->d_name)) == -1) {
			snprintf(msg, sizeof(msg), "src/%s is a module without "
			    "a layer: declare it in tests/check_layers.c",
			    e->d_name);
			violation(sc, msg);
			continue;
		}
		if ((d = opendir(path)) == NULL)
			ck_abort_msg("%s: %s", path, strerror(errno));
		while ((f = readdir(d)) != NULL) {
			if (!is_source(f->d_name))
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, f->d_name);
			snprintf(rel, sizeof(rel), "%s/%s", e->d_name,
			    f->d_name);
			scan_file(sc, file, rel, e->d_name, r);
		}
		closedir(d);
	}
	closedir(top);
}

START_TEST(tree_respects_layers)
{
	struct scan	 sc;
	char		 src[4096];

	memset(&sc, 0, sizeof(sc));
	snprintf(src, sizeof(src), "%s/src", test_srcdir());
	scan_tree(&sc, src);
	ck_assert_msg(sc.files > 50, "only %d files under %s", sc.files, src);
	ck_assert_msg(sc.violations == 0, "%d upward include(s); first: %s",
	    sc.violations, sc.first);
}
END_TEST

static void
write_file(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0)
		ck_abort_msg("%s: %s", path, strerror(errno));
}

/* A tree with one planted upward include: exactly it is found. */
START_TEST(planted_upward_include_fails)
{
	static const struct {
		const char	*file;
		const char	*text;
	} tree[] = {
		{ "util/ok.c",
		    "#include \"config.h\"\n#include \"util/a.h\"\n" },
		{ "proxy/ok.c", "#include \"util/log.h\"\n"
		    "  #  include \"registry/registry.h\"\n" },
		{ "http/planted.c", "#include <stdio.h>\n\n"
		    "#include \"conf/conf.h\"\n" },
	};
	struct scan	 sc;
	char		 dir[] = "/tmp/check_layers.XXXXXX", path[512];
	size_t		 i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
		snprintf(path, sizeof(path), "%s/%.*s", dir,
		    (int)(strchr(tree[i].file, '/') - tree[i].file),
		    tree[i].file);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/%s", dir, tree[i].file);
		write_file(path, tree[i].text);
	}
	memset(&sc, 0, sizeof(sc));
	scan_tree(&sc, dir);
	ck_assert_int_eq(sc.files, 3);
	ck_assert_int_eq(sc.violations, 1);
	ck_assert_str_eq(sc.first, "http/planted.c includes \"conf\", not "
	    "below its layer (line 3)");

	/* Same rank is refused too, and so is an undeclared module. */
	snprintf(path, sizeof(path), "%s/http/planted.c", dir);
	write_file(path, "#include \"net/http_client.h\"\n");
	snprintf(path, sizeof(path), "%s/util/ok.c", dir);
	write_file(path, "#include \"shiny/new.h\"\n");
	memset(&sc, 0, sizeof(sc));
	scan_tree(&sc, dir);
	ck_assert_int_eq(sc.violations, 2);

	/* A module folder nobody placed is refused. */
	snprintf(path, sizeof(path), "%s/util/ok.c", dir);
	write_file(path, "#include \"util/b64.h\"\n");
	snprintf(path, sizeof(path), "%s/http/planted.c", dir);
	write_file(path, "#include \"util/b64.h\"\n");
	snprintf(path, sizeof(path), "%s/shiny", dir);
	mkdir(path, 0700);
	memset(&sc, 0, sizeof(sc));
	scan_tree(&sc, dir);
	ck_assert_int_eq(sc.violations, 1);
	ck_assert_ptr_nonnull(strstr(sc.first, "src/shiny is a module "
	    "without a layer"));
	test_rmtree(dir);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("layers");
	TCase	*tc = tcase_create("layers");

	tcase_add_test(tc, tree_respects_layers);
	tcase_add_test(tc, planted_upward_include_fails);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

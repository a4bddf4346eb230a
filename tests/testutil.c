/*
 * testutil.c - helpers shared by the Check suites.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include "testutil.h"
#include "util/xmalloc.h"

const char *
test_srcdir(void)
{
	const char	*s = getenv("BECKND_SRCDIR");

	return s != NULL && *s != '\0' ? s : ".";
}

const char *
test_shared_dir(void)
{
	static int	 warned;
	const char	*s = getenv("BECKND_SHARED");
	struct stat	 st;

	if (s != NULL && *s != '\0' && stat(s, &st) == 0 && S_ISDIR(st.st_mode))
		return s;
	if (!warned) {
		fprintf(stderr, "SKIP: shared spec data not found (set "
		    "BECKND_SHARED or place ../shared beside the source tree)\n");
		warned = 1;
	}
	return NULL;
}

char *
test_shared_path(const char *rel)
{
	const char	*dir = test_shared_dir();
	char		*p;
	struct stat	 st;

	if (dir == NULL)
		return NULL;
	xasprintf(&p, "%s/%s", dir, rel);
	if (stat(p, &st) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

char *
test_read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		ck_abort_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
		ck_abort_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

int
test_run_suite(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *fb)
{
	return remove(path);
}

void
test_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

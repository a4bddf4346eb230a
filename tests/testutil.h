/*
 * testutil.h - helpers shared by the Check suites.
 *
 * Paths come from the environment set by `make check` (Makefile.am:
 * AM_TESTS_ENVIRONMENT): BECKND_SRCDIR (source tree), BECKND_BIN (the built
 * binary) and BECKND_SHARED (the optional ../shared spec data).
 */
#ifndef BECKND_TESTUTIL_H
#define BECKND_TESTUTIL_H

#include <stddef.h>
#include <check.h>

/* Exit status automake's harness reports as SKIP. */
#define TEST_SKIP	77

/* $BECKND_SRCDIR or "." */
const char	*test_srcdir(void);
/*
 * Absolute path of BECKND_SHARED/rel when that file or folder exists, else
 * NULL (xmalloc'd; caller frees).
 */
char		*test_shared_path(const char *rel);
/* The shared/ folder, or NULL when absent (prints a SKIP reason once). */
const char	*test_shared_dir(void);
/* Read a whole file; aborts the test on failure. *len may be NULL. */
char		*test_read_file(const char *path, size_t *len);
/* Remove a folder and everything below it (temp dirs made by tests). */
void		 test_rmtree(const char *dir);
/*
 * Run a suite and return the process exit status. Prints Check's summary
 * line ("NN%: Checks: N, Failures: F, Errors: E") that .ci/run adds up.
 */
int		 test_run_suite(Suite *);

#endif

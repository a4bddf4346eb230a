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

/* A run of the real becknd binary ($BECKND_BIN). */
struct test_run {
	char	*out;
	char	*err;
	size_t	 outlen;
	size_t	 errlen;
	int	 status;	/* exit status, or 128 + signal */
};

/* $BECKND_BIN; aborts the test when unset. */
const char	*test_becknd_bin(void);
/*
 * Run becknd with args (NULL-terminated, without argv[0]), feeding in on
 * stdin; collect stdout, stderr and the exit status.  No shell; bounded
 * to 30 s.
 */
void		 test_run_cli(struct test_run *, const void *in, size_t inlen,
		    const char *const *args);
void		 test_run_free(struct test_run *);
/* BECKND_TEST_UNDER_VALGRIND is set: everything runs ~8 times slower. */
int		 test_under_valgrind(void);
/* ms, times 8 under valgrind: a real-time wait that must hold there too. */
int		 test_ms(int ms);
/*
 * Run base's loop until cond(arg) holds (cond NULL: never) or ms of real
 * time passed, whichever is first; cond is checked after every pass of
 * the loop and, when tick_ms > 0, at least every tick_ms (for work done
 * by another thread that wakes no event).  Returns cond's last value.
 */
struct event_base;
int		 test_loop_until(struct event_base *, int (*cond)(void *),
		    void *arg, int ms, int tick_ms);
#define TEST_RUN(r, in, inlen, ...) \
	test_run_cli((r), (in), (inlen), (const char *const[]){ __VA_ARGS__, NULL })

#endif

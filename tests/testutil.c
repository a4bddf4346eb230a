/*
 * testutil.c - helpers shared by the Check suites.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ftw.h>
#include <unistd.h>

#include <event2/event.h>

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

/* Running the real binary. */

#define RUN_TIMEOUT_S	30

const char *
test_becknd_bin(void)
{
	const char	*b = getenv("BECKND_BIN");

	if (b == NULL || *b == '\0')
		ck_abort_msg("BECKND_BIN is not set (run the tests with "
		    "make check)");
	return b;
}

static void
run_drain(int *fd, char **buf, size_t *len)
{
	char	 chunk[16384];
	ssize_t	 n;

	n = read(*fd, chunk, sizeof(chunk));
	if (n > 0) {
		*buf = xrealloc(*buf, *len + (size_t)n + 1);
		memcpy(*buf + *len, chunk, (size_t)n);
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Run becknd with args (NULL-terminated, without argv[0]), feeding in on
 * stdin; collect stdout, stderr and the exit status.  No shell involved.
 */
void
test_run_cli(struct test_run *r, const void *in, size_t inlen, const char *const *args)
{
	const char	*argv[32];
	struct pollfd	 pfd[3];
	int		 pin[2], pout[2], perr[2], st;
	size_t		 i, off = 0;
	ssize_t		 n;
	pid_t		 pid;
	time_t		 deadline;

	memset(r, 0, sizeof(*r));
	r->out = xstrdup("");
	r->err = xstrdup("");
	argv[0] = test_becknd_bin();
	for (i = 0; args[i] != NULL; i++) {
		ck_assert_uint_lt(i + 2, sizeof(argv) / sizeof(argv[0]));
		argv[i + 1] = args[i];
	}
	argv[i + 1] = NULL;
	ck_assert(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 &&
	    pipe2(perr, O_CLOEXEC) == 0);
	fflush(NULL);
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(pin[0], 0) == -1 || dup2(pout[1], 1) == -1 ||
		    dup2(perr[1], 2) == -1)
			_exit(126);
		alarm(RUN_TIMEOUT_S);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	(void)fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	deadline = time(NULL) + RUN_TIMEOUT_S + 5;
	while (pout[0] != -1 || perr[0] != -1) {
		pfd[0].fd = pout[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = perr[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = pin[1];
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, 1000) == -1) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		ck_assert_msg(time(NULL) < deadline, "becknd %s: no end after "
		    "%d s", args[0], RUN_TIMEOUT_S);
		if (pin[1] != -1 && pfd[2].revents != 0) {
			n = write(pin[1], (const char *)in + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if (off == inlen || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				close(pin[1]);	/* done, or EPIPE */
				pin[1] = -1;
			}
		}
		if (pout[0] != -1 && pfd[0].revents != 0)
			run_drain(&pout[0], &r->out, &r->outlen);
		if (perr[0] != -1 && pfd[1].revents != 0)
			run_drain(&perr[0], &r->err, &r->errlen);
	}
	if (pin[1] != -1)
		close(pin[1]);
	while (waitpid(pid, &st, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void
test_run_free(struct test_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

int
test_under_valgrind(void)
{
	return getenv("BECKND_TEST_UNDER_VALGRIND") != NULL;
}

int
test_ms(int ms)
{
	return test_under_valgrind() ? ms * 8 : ms;
}

static void
expired_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int
test_loop_until(struct event_base *base, int (*cond)(void *), void *arg,
    int ms, int tick_ms)
{
	struct event	*dl, *tick = NULL;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct timeval	 every = { tick_ms / 1000, (tick_ms % 1000) * 1000 };
	int		 expired = 0, ok;

	ck_assert_ptr_nonnull(dl = evtimer_new(base, expired_cb, &expired));
	evtimer_add(dl, &tv);
	if (tick_ms > 0) {
		ck_assert_ptr_nonnull(tick = event_new(base, -1, EV_PERSIST,
		    tick_cb, NULL));
		evtimer_add(tick, &every);
	}
	while (!(ok = cond != NULL && cond(arg)) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	if (tick != NULL)
		event_free(tick);
	event_free(dl);
	return ok;
}

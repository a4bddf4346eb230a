/*
 * check_metrics.c - the metrics registry and its exposition text: exact
 * output for each kind, escaping, number formatting, the series cap,
 * collectors, declaration order, wrong kinds; and the text read back by
 * the real Prometheus parser (python3-prometheus-client) when present.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "metrics/metrics.h"
#include "util/xmalloc.h"

#define DROPPED(n)							\
	"# HELP becknd_metrics_series_dropped_total Observations lost "	\
	"because their family already held its maximum number of "	\
	"series.\n"							\
	"# TYPE becknd_metrics_series_dropped_total counter\n"		\
	"becknd_metrics_series_dropped_total " #n "\n"

#define L(...)	((const char *const []){ __VA_ARGS__, NULL })
#define V(...)	((const char *const []){ __VA_ARGS__ })

/* Render, check *len against strlen, and compare with want. */
static void
render_eq(struct metrics *m, const char *want)
{
	char	*text;
	size_t	 len;

	text = metrics_render(m, &len);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_str_eq(text, want);
	free(text);
}

START_TEST(counter_with_labels)
{
	struct metrics	*m = metrics_new();
	struct metric	*c;

	c = metrics_counter(m, "becknd_requests_total", "Requests served.",
	    L("action", "code"));
	metrics_inc(c, V("search", "200"), 1);
	metrics_inc(c, V("select", "200"), 1);
	metrics_inc(c, V("search", "200"), 2);
	metrics_inc(c, V("search", NULL), 1);
	metrics_inc(c, V("search", ""), 1);	/* the same series as NULL */
	render_eq(m,
	    "# HELP becknd_requests_total Requests served.\n"
	    "# TYPE becknd_requests_total counter\n"
	    "becknd_requests_total{action=\"search\",code=\"200\"} 3\n"
	    "becknd_requests_total{action=\"select\",code=\"200\"} 1\n"
	    "becknd_requests_total{action=\"search\",code=\"\"} 2\n"
	    DROPPED(0));

	/* A total kept elsewhere. */
	metrics_set(c, V("select", "200"), 41);
	metrics_inc(c, V("select", "200"), 1);
	render_eq(m,
	    "# HELP becknd_requests_total Requests served.\n"
	    "# TYPE becknd_requests_total counter\n"
	    "becknd_requests_total{action=\"search\",code=\"200\"} 3\n"
	    "becknd_requests_total{action=\"select\",code=\"200\"} 42\n"
	    "becknd_requests_total{action=\"search\",code=\"\"} 2\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

START_TEST(gauge)
{
	struct metrics	*m = metrics_new();
	struct metric	*g, *q;

	g = metrics_gauge(m, "becknd_inflight", "Messages in flight.", NULL);
	q = metrics_gauge(m, "becknd_queue_bytes", "Bytes queued.",
	    L("peer"));
	metrics_inc(g, NULL, 5);
	metrics_inc(g, NULL, -2);
	metrics_set(q, V("a"), 1024);
	metrics_set(q, V("b"), 0.5);
	metrics_set(q, V("a"), 2048);
	render_eq(m,
	    "# HELP becknd_inflight Messages in flight.\n"
	    "# TYPE becknd_inflight gauge\n"
	    "becknd_inflight 3\n"
	    "# HELP becknd_queue_bytes Bytes queued.\n"
	    "# TYPE becknd_queue_bytes gauge\n"
	    "becknd_queue_bytes{peer=\"a\"} 2048\n"
	    "becknd_queue_bytes{peer=\"b\"} 0.5\n"
	    DROPPED(0));
	metrics_set(g, NULL, -7);
	metrics_inc(q, V("b"), -1);
	render_eq(m,
	    "# HELP becknd_inflight Messages in flight.\n"
	    "# TYPE becknd_inflight gauge\n"
	    "becknd_inflight -7\n"
	    "# HELP becknd_queue_bytes Bytes queued.\n"
	    "# TYPE becknd_queue_bytes gauge\n"
	    "becknd_queue_bytes{peer=\"a\"} 2048\n"
	    "becknd_queue_bytes{peer=\"b\"} -0.5\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

START_TEST(histogram)
{
	static const double	 bounds[] = { 0.1, 0.5, 1 };
	struct metrics		*m = metrics_new();
	struct metric		*h, *u;

	h = metrics_histogram(m, "becknd_latency_seconds", "Latency.",
	    L("action"), bounds, 3);
	u = metrics_histogram(m, "becknd_size_bytes", "Sizes.", NULL,
	    bounds, 0);
	metrics_observe(h, V("search"), 0.05);
	metrics_observe(h, V("search"), 0.1);	/* le is inclusive */
	metrics_observe(h, V("search"), 0.7);
	metrics_observe(h, V("search"), 3);
	metrics_observe(h, V("on_search"), 0.25);
	metrics_observe(u, NULL, 100);
	render_eq(m,
	    "# HELP becknd_latency_seconds Latency.\n"
	    "# TYPE becknd_latency_seconds histogram\n"
	    "becknd_latency_seconds_bucket{action=\"search\",le=\"0.1\"} 2\n"
	    "becknd_latency_seconds_bucket{action=\"search\",le=\"0.5\"} 2\n"
	    "becknd_latency_seconds_bucket{action=\"search\",le=\"1\"} 3\n"
	    "becknd_latency_seconds_bucket{action=\"search\",le=\"+Inf\"} 4\n"
	    "becknd_latency_seconds_sum{action=\"search\"} 3.85\n"
	    "becknd_latency_seconds_count{action=\"search\"} 4\n"
	    "becknd_latency_seconds_bucket{action=\"on_search\",le=\"0.1\"} 0\n"
	    "becknd_latency_seconds_bucket{action=\"on_search\",le=\"0.5\"} 1\n"
	    "becknd_latency_seconds_bucket{action=\"on_search\",le=\"1\"} 1\n"
	    "becknd_latency_seconds_bucket{action=\"on_search\",le=\"+Inf\"} "
	    "1\n"
	    "becknd_latency_seconds_sum{action=\"on_search\"} 0.25\n"
	    "becknd_latency_seconds_count{action=\"on_search\"} 1\n"
	    "# HELP becknd_size_bytes Sizes.\n"
	    "# TYPE becknd_size_bytes histogram\n"
	    "becknd_size_bytes_bucket{le=\"+Inf\"} 1\n"
	    "becknd_size_bytes_sum 100\n"
	    "becknd_size_bytes_count 1\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

START_TEST(latency_bounds)
{
	static const char *const le[] = { "0.0001", "0.00025", "0.0005",
	    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf" };
	struct metrics	*m = metrics_new();
	char		*text, *p, want[64];
	size_t		 i;

	ck_assert_uint_eq(metrics_latency_nbounds, 16);
	ck_assert(metrics_latency_nbounds <= METRICS_BUCKETS_MAX);
	ck_assert(metrics_latency_bounds[0] == 0.0001);
	ck_assert(metrics_latency_bounds[15] == 10);
	metrics_histogram(m, "x_seconds", "X.", NULL, metrics_latency_bounds,
	    metrics_latency_nbounds);
	text = metrics_render(m, NULL);
	/* Every bound, in order, each once. */
	p = text;
	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(want, sizeof(want), "x_seconds_bucket{le=\"%s\"} 0\n",
		    le[i]);
		ck_assert_msg((p = strstr(p, want)) != NULL, "%s", want);
		ck_assert_ptr_null(strstr(p + 1, want));
	}
	ck_assert_ptr_nonnull(strstr(p, "x_seconds_sum 0\n"
	    "x_seconds_count 0\n"));
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(escaping)
{
	struct metrics	*m = metrics_new();
	struct metric	*c;

	c = metrics_counter(m, "esc_total",
	    "Help with \\ back\"slash\nand a newline.", L("v"));
	metrics_inc(c, V("a\"b\\c\nd"), 1);
	metrics_inc(c, V("\xc3\xa9t\xc3\xa9"), 1);	/* UTF-8 as is */
	render_eq(m,
	    "# HELP esc_total Help with \\\\ back\"slash\\nand a newline.\n"
	    "# TYPE esc_total counter\n"
	    "esc_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"
	    "esc_total{v=\"\xc3\xa9t\xc3\xa9\"} 1\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

/* One gauge value rendered; without labels, its one line's value. */
static void
value_eq(double v, const char *want)
{
	struct metrics	*m = metrics_new();
	struct metric	*g;
	char		*text, *p, *nl;

	g = metrics_gauge(m, "g", "G.", NULL);
	metrics_set(g, NULL, v);
	text = metrics_render(m, NULL);
	ck_assert_ptr_nonnull(p = strstr(text, "\ng "));
	p += 3;
	ck_assert_ptr_nonnull(nl = strchr(p, '\n'));
	*nl = '\0';
	ck_assert_msg(strcmp(p, want) == 0, "%.17g: \"%s\", not \"%s\"", v,
	    p, want);
	free(text);
	metrics_free(m);
}

START_TEST(number_formats)
{
	value_eq(0, "0");
	value_eq(-0.0, "0");
	value_eq(1, "1");
	value_eq(-3, "-3");
	value_eq(1e15, "1000000000000000");
	value_eq(9007199254740991.0, "9007199254740991");
	/* From 2^53 doubles are not every integer: %g form. */
	value_eq(9007199254740992.0, "9007199254740992");
	value_eq(1e20, "1e+20");
	value_eq(1.5, "1.5");
	value_eq(0.1, "0.1");
	value_eq(-2.5, "-2.5");
	value_eq(0.00025, "0.00025");
	value_eq(1e-7, "1e-07");
	value_eq(1.0 / 3, "0.3333333333333333");
	value_eq(0.1 + 0.2, "0.30000000000000004");
	value_eq(123456.789, "123456.789");
	value_eq(INFINITY, "+Inf");
	value_eq(-INFINITY, "-Inf");
	value_eq(NAN, "NaN");
}
END_TEST

START_TEST(histogram_inf_nan)
{
	static const double	 bounds[] = { 1 };
	struct metrics		*m = metrics_new();
	struct metric		*h;

	h = metrics_histogram(m, "h", "H.", NULL, bounds, 1);
	metrics_observe(h, NULL, -INFINITY);
	metrics_observe(h, NULL, INFINITY);
	render_eq(m,
	    "# HELP h H.\n"
	    "# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 1\n"
	    "h_bucket{le=\"+Inf\"} 2\n"
	    "h_sum NaN\n"
	    "h_count 2\n"
	    DROPPED(0));
	metrics_free(m);

	/* NaN is below no bound: counted in +Inf only. */
	m = metrics_new();
	h = metrics_histogram(m, "h", "H.", NULL, bounds, 1);
	metrics_observe(h, NULL, NAN);
	metrics_observe(h, NULL, 0.5);
	render_eq(m,
	    "# HELP h H.\n"
	    "# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 1\n"
	    "h_bucket{le=\"+Inf\"} 2\n"
	    "h_sum NaN\n"
	    "h_count 2\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

static size_t
count_lines(const char *text, const char *prefix)
{
	const char	*p;
	size_t		 n = 0, plen = strlen(prefix);

	for (p = text; *p != '\0'; p = strchr(p, '\n') + 1)
		if (strncmp(p, prefix, plen) == 0)
			n++;
	return n;
}

START_TEST(series_cap)
{
	struct metrics	*m = metrics_new();
	struct metric	*c, *h, *other;
	char		 v[16], *text;
	int		 i;

	c = metrics_counter(m, "c_total", "C.", L("id"));
	h = metrics_histogram(m, "h_seconds", "H.", L("id"),
	    metrics_latency_bounds, metrics_latency_nbounds);
	other = metrics_counter(m, "other_total", "O.", L("k"));
	for (i = 0; i <= METRICS_SERIES_MAX; i++) {
		snprintf(v, sizeof(v), "s%d", i);
		metrics_inc(c, V(v), 1);
	}
	text = metrics_render(m, NULL);
	ck_assert_uint_eq(count_lines(text, "c_total{"), METRICS_SERIES_MAX);
	ck_assert_ptr_nonnull(strstr(text, "c_total{id=\"s1999\"} 1\n"));
	ck_assert_ptr_null(strstr(text, "\"s2000\""));
	ck_assert_ptr_nonnull(strstr(text, DROPPED(1)));
	free(text);

	/* Full: existing series still count; each lost value is counted. */
	metrics_inc(c, V("s0"), 1);
	metrics_inc(c, V("s1999"), 1);
	metrics_inc(c, V("s2000"), 1);
	metrics_inc(c, V("new"), 1);
	/* Other families are not affected. */
	metrics_inc(other, V("x"), 1);
	for (i = 0; i < 10; i++)
		metrics_observe(h, V("a"), 0.001);
	text = metrics_render(m, NULL);
	ck_assert_ptr_nonnull(strstr(text, "c_total{id=\"s0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "c_total{id=\"s1999\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "other_total{k=\"x\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "h_seconds_bucket{id=\"a\",le=\"0.001\"} 10\n"));
	ck_assert_ptr_nonnull(strstr(text, DROPPED(3)));
	ck_assert_uint_eq(count_lines(text, "c_total{"), METRICS_SERIES_MAX);
	free(text);

	/* A histogram's cap too. */
	for (i = 1; i <= METRICS_SERIES_MAX; i++) {
		snprintf(v, sizeof(v), "h%d", i);
		metrics_observe(h, V(v), 1);
	}
	text = metrics_render(m, NULL);
	ck_assert_uint_eq(count_lines(text, "h_seconds_count{"),
	    METRICS_SERIES_MAX);
	ck_assert_ptr_nonnull(strstr(text, DROPPED(4)));
	free(text);
	metrics_free(m);
}
END_TEST

struct calls {
	char		 log[64];
	struct metric	*g;
	double		 v;
};

static void
collect_a(struct metrics *m, void *arg)
{
	struct calls	*c = arg;

	(void)m;
	c->log[strlen(c->log)] = 'a';
	metrics_set(c->g, V("a"), ++c->v);
}

static void
collect_b(struct metrics *m, void *arg)
{
	struct calls	*c = arg;

	(void)m;
	c->log[strlen(c->log)] = 'b';
	/* Runs after collect_a: reads what it set. */
	metrics_set(c->g, V("b"), c->v * 10);
}

START_TEST(collectors_in_order)
{
	struct metrics	*m = metrics_new();
	struct calls	 c;

	memset(&c, 0, sizeof(c));
	c.g = metrics_gauge(m, "stat", "A stat.", L("src"));
	metrics_collector(m, collect_a, &c);
	metrics_collector(m, collect_b, &c);
	metrics_collector(m, collect_a, &c);
	ck_assert_str_eq(c.log, "");
	render_eq(m,
	    "# HELP stat A stat.\n"
	    "# TYPE stat gauge\n"
	    "stat{src=\"a\"} 2\n"
	    "stat{src=\"b\"} 10\n"
	    DROPPED(0));
	ck_assert_str_eq(c.log, "aba");
	render_eq(m,
	    "# HELP stat A stat.\n"
	    "# TYPE stat gauge\n"
	    "stat{src=\"a\"} 4\n"
	    "stat{src=\"b\"} 30\n"
	    DROPPED(0));
	ck_assert_str_eq(c.log, "abaaba");
	metrics_free(m);
}
END_TEST

START_TEST(declaration_order)
{
	static const double	 bounds[] = { 1 };
	struct metrics		*m = metrics_new();
	struct metric		*z, *a;

	/* Series made late still render in their family, in made order. */
	z = metrics_counter(m, "z_total", "Z.", L("k"));
	metrics_histogram(m, "m_seconds", "", L("k"), bounds, 1);
	a = metrics_gauge(m, "a", "A.", NULL);
	metrics_set(a, NULL, 1);
	metrics_inc(z, V("2"), 1);
	metrics_inc(z, V("1"), 1);
	/* A family without series keeps its HELP and TYPE lines. */
	render_eq(m,
	    "# HELP z_total Z.\n"
	    "# TYPE z_total counter\n"
	    "z_total{k=\"2\"} 1\n"
	    "z_total{k=\"1\"} 1\n"
	    "# HELP m_seconds\n"
	    "# TYPE m_seconds histogram\n"
	    "# HELP a A.\n"
	    "# TYPE a gauge\n"
	    "a 1\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

START_TEST(unlabelled_from_start)
{
	static const double	 bounds[] = { 0.5 };
	struct metrics		*m = metrics_new();

	metrics_counter(m, "started_total", "Starts.", NULL);
	metrics_gauge(m, "up", "Up.", L(NULL));	/* no labels either */
	metrics_histogram(m, "wait_seconds", "Wait.", NULL, bounds, 1);
	render_eq(m,
	    "# HELP started_total Starts.\n"
	    "# TYPE started_total counter\n"
	    "started_total 0\n"
	    "# HELP up Up.\n"
	    "# TYPE up gauge\n"
	    "up 0\n"
	    "# HELP wait_seconds Wait.\n"
	    "# TYPE wait_seconds histogram\n"
	    "wait_seconds_bucket{le=\"0.5\"} 0\n"
	    "wait_seconds_bucket{le=\"+Inf\"} 0\n"
	    "wait_seconds_sum 0\n"
	    "wait_seconds_count 0\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

START_TEST(wrong_kinds_ignored)
{
	static const double	 bounds[] = { 1 };
	struct metrics		*m = metrics_new();
	struct metric		*c, *g, *h;

	c = metrics_counter(m, "c_total", "C.", NULL);
	g = metrics_gauge(m, "g", "G.", L("k"));
	h = metrics_histogram(m, "h", "H.", NULL, bounds, 1);
	metrics_observe(c, NULL, 5);
	metrics_observe(g, V("x"), 5);	/* makes no series either */
	metrics_inc(h, NULL, 5);
	metrics_set(h, NULL, 5);
	/* A counter never goes down. */
	metrics_inc(c, NULL, 2);
	metrics_inc(c, NULL, -1);
	metrics_inc(c, NULL, NAN);
	metrics_inc(NULL, NULL, 1);
	metrics_set(NULL, NULL, 1);
	metrics_observe(NULL, NULL, 1);
	render_eq(m,
	    "# HELP c_total C.\n"
	    "# TYPE c_total counter\n"
	    "c_total 2\n"
	    "# HELP g G.\n"
	    "# TYPE g gauge\n"
	    "# HELP h H.\n"
	    "# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 0\n"
	    "h_bucket{le=\"+Inf\"} 0\n"
	    "h_sum 0\n"
	    "h_count 0\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

/* A NULL tuple on a labelled family is all "". */
START_TEST(null_values)
{
	struct metrics	*m = metrics_new();
	struct metric	*c;

	c = metrics_counter(m, "c_total", "C.", L("a", "b"));
	metrics_inc(c, NULL, 1);
	metrics_inc(c, V(NULL, NULL), 1);
	metrics_inc(c, V("", ""), 1);
	render_eq(m,
	    "# HELP c_total C.\n"
	    "# TYPE c_total counter\n"
	    "c_total{a=\"\",b=\"\"} 3\n"
	    DROPPED(0));
	metrics_free(m);
}
END_TEST

/* Many series, labels of every length, re-rendered: nothing leaks. */
START_TEST(free_all)
{
	struct metrics	*m = metrics_new();
	struct metric	*c, *h;
	char		 a[32], b[300], *text;
	int		 i;

	c = metrics_counter(m, "c_total", "C.", L("a", "b", "c", "d"));
	h = metrics_histogram(m, "h_seconds", "H.", L("a", "b"),
	    metrics_latency_bounds, metrics_latency_nbounds);
	metrics_gauge(m, "g", "G.", NULL);
	metrics_collector(m, collect_a, &(struct calls){ .g = NULL });
	for (i = 0; i < 500; i++) {
		snprintf(a, sizeof(a), "%d", i % 37);
		memset(b, 'x', (size_t)i % sizeof(b));
		b[(size_t)i % sizeof(b)] = '\0';
		metrics_inc(c, V(a, b, "", NULL), 1);
		metrics_observe(h, V(b, a), i / 100.0);
	}
	text = metrics_render(m, NULL);
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

/* Run argv (no shell); stdout and stderr together in *out. Exit status. */
static int
run(const char *const *argv, char **out)
{
	int	 fds[2], st, devnull;
	pid_t	 pid;
	size_t	 len = 0, cap = 4096;
	ssize_t	 n;
	char	*buf;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 == cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fds[0], buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Prints "F name type" per family and "S name labels value" per sample
 * (labels as sorted JSON, the value as Python's repr); 77 without the
 * module.  A pyenv python3 does not see Debian's dist-packages: added.
 */
static const char parse_py[] =
    "import json, sys\n"
    "sys.path.append('/usr/lib/python3/dist-packages')\n"
    "try:\n"
    "    from prometheus_client.parser import "
    "text_string_to_metric_families\n"
    "except ImportError as e:\n"
    "    print(e)\n"
    "    sys.exit(77)\n"
    "text = open(sys.argv[1], encoding='utf-8').read()\n"
    "for f in text_string_to_metric_families(text):\n"
    "    print('F %s %s' % (f.name, f.type))\n"
    "    for s in f.samples:\n"
    "        print('S %s %s %r' % (s.name, json.dumps(s.labels,\n"
    "            sort_keys=True), s.value))\n";

static void
has_line(const char *out, const char *line)
{
	const char	*p;
	size_t		 len = strlen(line);

	for (p = out; (p = strstr(p, line)) != NULL; p++)
		if ((p == out || p[-1] == '\n') && p[len] == '\n')
			return;
	ck_abort_msg("no line \"%s\" in:\n%s", line, out);
}

START_TEST(prometheus_parser)
{
	static const double	 bounds[] = { 0.1, 0.5 };
	struct metrics		*m = metrics_new();
	struct metric		*c, *g, *h;
	char			 dir[] = "/tmp/check_metrics.XXXXXX", path[64];
	char			*text, *out;
	size_t			 len;
	FILE			*f;
	int			 st;

	c = metrics_counter(m, "req_total", "Requests \\ \"all\"\nof them.",
	    L("action", "v"));
	g = metrics_gauge(m, "temp", "T.", L("k"));
	h = metrics_histogram(m, "lat_seconds", "L.", L("action"), bounds, 2);
	metrics_counter(m, "empty_total", "No series yet.", L("k"));
	metrics_gauge(m, "up", "Up.", NULL);
	metrics_inc(c, V("search", "a\"b\\c\nd"), 3);
	metrics_inc(c, V("select", NULL), 1);
	metrics_set(g, V("sum"), 0.1 + 0.2);
	metrics_set(g, V("inf"), INFINITY);
	metrics_set(g, V("ninf"), -INFINITY);
	metrics_set(g, V("nan"), NAN);
	metrics_set(g, V("big"), 1e20);
	metrics_observe(h, V("search"), 0.05);
	metrics_observe(h, V("search"), 0.3);
	metrics_observe(h, V("search"), 7);
	text = metrics_render(m, &len);
	metrics_free(m);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics.txt", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	st = run((const char *const []){ "python3", "-c", parse_py, path,
	    NULL }, &out);
	test_rmtree(dir);
	if (st == 127 || st == 77) {
		fprintf(stderr, "SKIP: prometheus_parser: %s\n", st == 127 ?
		    "no python3 on PATH" : "python3 has no prometheus_client "
		    "(Debian: python3-prometheus-client)");
		free(out);
		free(text);
		return;
	}
	ck_assert_msg(st == 0, "the parser failed (%d):\n%s\n--- text:\n%s",
	    st, out, text);

	/* Every family and every sample read back. */
	ck_assert_uint_eq(count_lines(out, "F "), count_lines(text, "# TYPE "));
	ck_assert_uint_eq(count_lines(out, "S "),
	    count_lines(text, "") - count_lines(text, "#"));
	has_line(out, "F req counter");
	has_line(out, "F temp gauge");
	has_line(out, "F lat_seconds histogram");
	has_line(out, "F empty counter");
	has_line(out, "F up gauge");
	has_line(out, "F becknd_metrics_series_dropped counter");
	has_line(out, "S req_total {\"action\": \"search\", "
	    "\"v\": \"a\\\"b\\\\c\\nd\"} 3.0");
	has_line(out, "S req_total {\"action\": \"select\", \"v\": \"\"} 1.0");
	has_line(out, "S temp {\"k\": \"sum\"} 0.30000000000000004");
	has_line(out, "S temp {\"k\": \"inf\"} inf");
	has_line(out, "S temp {\"k\": \"ninf\"} -inf");
	has_line(out, "S temp {\"k\": \"nan\"} nan");
	has_line(out, "S temp {\"k\": \"big\"} 1e+20");
	has_line(out, "S lat_seconds_bucket {\"action\": \"search\", "
	    "\"le\": \"0.1\"} 1.0");
	has_line(out, "S lat_seconds_bucket {\"action\": \"search\", "
	    "\"le\": \"0.5\"} 2.0");
	has_line(out, "S lat_seconds_bucket {\"action\": \"search\", "
	    "\"le\": \"+Inf\"} 3.0");
	has_line(out, "S lat_seconds_sum {\"action\": \"search\"} 7.35");
	has_line(out, "S lat_seconds_count {\"action\": \"search\"} 3.0");
	has_line(out, "S up {} 0.0");
	has_line(out, "S becknd_metrics_series_dropped_total {} 0.0");
	free(out);
	free(text);
}
END_TEST

/*
 * Declaration errors abort (programming errors, caught at start-up).  In
 * a child of our own, so that CK_FORK=no (valgrind) runs it too.
 */
static void
declare_dup(struct metrics *m)
{
	metrics_counter(m, "x_total", "X.", NULL);
	metrics_gauge(m, "x_total", "X.", NULL);
}

static void
declare_reserved(struct metrics *m)
{
	metrics_counter(m, "becknd_metrics_series_dropped_total", "D.", NULL);
}

static void
declare_bad_bounds(struct metrics *m)
{
	static const double	 bounds[] = { 1, 1 };

	metrics_histogram(m, "h", "H.", NULL, bounds, 2);
}

static void
declare_inf_bound(struct metrics *m)
{
	const double	 bounds[] = { 1, INFINITY };

	metrics_histogram(m, "h", "H.", NULL, bounds, 2);
}

static void
declare_many_labels(struct metrics *m)
{
	metrics_counter(m, "c", "C.", L("a", "b", "c", "d", "e", "f"));
}

static void
declare_bad_name(struct metrics *m)
{
	metrics_counter(m, "1abc", "C.", NULL);
}

static void
declare_le_label(struct metrics *m)
{
	metrics_histogram(m, "h", "H.", L("le"), NULL, 0);
}

START_TEST(declaration_errors_abort)
{
	static void (*const cases[])(struct metrics *) = { declare_dup,
	    declare_reserved, declare_bad_bounds, declare_inf_bound,
	    declare_many_labels, declare_bad_name, declare_le_label };
	struct metrics	*m;
	pid_t		 pid;
	size_t		 i;
	int		 st, devnull;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_ne(pid = fork(), -1);
		if (pid == 0) {
			if ((devnull = open("/dev/null", O_WRONLY)) != -1)
				dup2(devnull, 2);
			m = metrics_new();
			cases[i](m);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		    "case %zu: status %d", i, st);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, counter_with_labels);
	tcase_add_test(tc, gauge);
	tcase_add_test(tc, histogram);
	tcase_add_test(tc, latency_bounds);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, number_formats);
	tcase_add_test(tc, histogram_inf_nan);
	tcase_add_test(tc, series_cap);
	tcase_add_test(tc, collectors_in_order);
	tcase_add_test(tc, declaration_order);
	tcase_add_test(tc, unlabelled_from_start);
	tcase_add_test(tc, wrong_kinds_ignored);
	tcase_add_test(tc, null_values);
	tcase_add_test(tc, free_all);
	tcase_add_test(tc, prometheus_parser);
	tcase_add_test(tc, declaration_errors_abort);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

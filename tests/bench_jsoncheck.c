/*
 * bench_jsoncheck.c - jsoncheck() against json-c's parse of the same
 * bytes: a 5 KB DSEP on_search message (tests/blackbox/fixtures), then
 * bodies that stress one part each: long UTF-8 strings, an object with
 * 100,000 members (the hash tables), escaped member names, and the 2 MiB
 * `[{},{},...]` that json-c turns into a 200+ MiB tree (jsoncheck stops
 * at the node budget).  json-c runs as the proxy runs it: strict, depth
 * 64, the tree freed.  Prints figures; fails only when jsoncheck answers
 * wrongly, never on speed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "util/jsoncheck.h"
#include "util/readfile.h"
#include "util/xmalloc.h"

static double
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
jc_parse(const char *buf, size_t len)
{
	json_tokener	*tok;
	json_object	*o;
	int		 ok;

	tok = json_tokener_new_ex(JSONCHECK_MAX_DEPTH_DEFAULT);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	ok = json_tokener_get_error(tok) == json_tokener_success;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

/* Seconds per call of f over buf, running for about 0.3 s. */
static double
per_call(int (*f)(const char *, size_t), const char *buf, size_t len)
{
	double		 t0, t;
	unsigned long	 n = 0, batch = 1;

	t0 = mono_s();
	do {
		unsigned long	 i;

		for (i = 0; i < batch; i++)
			(void)f(buf, len);
		n += batch;
		batch *= 2;
		t = mono_s() - t0;
	} while (t < 0.3);
	return t / (double)n;
}

static int
check(const char *buf, size_t len)
{
	return jsoncheck(buf, len, NULL, NULL);
}

static int	bad;

static void
row(const char *what, const char *buf, size_t len, int want)
{
	struct jsoncheck_error	 e;
	double			 tc, tj;

	if ((jsoncheck(buf, len, NULL, &e) == 0) != want) {
		printf("jsoncheck: %s: wrong answer (%s at %zu '%s')\n", what,
		    want ? "refused" : "passed", e.offset, e.reason);
		bad = 1;
	}
	tc = per_call(check, buf, len);
	tj = per_call(jc_parse, buf, len);
	printf("jsoncheck: %-34s %8zu B: check %9.2f us %5.2f ns/B | "
	    "json-c %9.2f us %5.2f ns/B | %4.1f%%\n", what, len, tc * 1e6,
	    tc * 1e9 / (double)len, tj * 1e6, tj * 1e9 / (double)len,
	    100 * tc / tj);
	if (!want)
		printf("jsoncheck:   refused at byte %zu: %s\n", e.offset,
		    e.reason);
}

int
main(void)
{
	const char	*src = getenv("BECKND_SRCDIR");
	char		*path, *buf;
	size_t		 len, i, at;

	if (src == NULL)
		src = ".";
	xasprintf(&path, "%s/tests/blackbox/fixtures/on_search.json", src);
	if ((buf = read_file(path, 1 << 20, &len)) == NULL) {
		printf("jsoncheck: %s: %s\n", path, strerror(errno));
		return 1;
	}
	row("on_search.json (DSEP)", buf, len, 1);
	free(buf);
	free(path);

	/* 1 MiB of strings: 3/4 ASCII, 1/4 two- to four-byte characters. */
	buf = xmalloc(4 << 20);
	at = 0;
	buf[at++] = '[';
	for (i = 0; at < (1 << 20); i++)
		at += (size_t)sprintf(buf + at, "%s\"Open Skills Academy "
		    "catalogue, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x93 "
		    "course %zu\"", i ? "," : "", i);
	buf[at++] = ']';
	row("1 MiB of UTF-8 strings", buf, at, 1);

	/* 100,000 members in one object. */
	at = 0;
	buf[at++] = '{';
	for (i = 0; i < 100000; i++)
		at += (size_t)sprintf(buf + at, "%s\"item_%zu\":%zu",
		    i ? "," : "", i, i);
	buf[at++] = '}';
	row("{} of 100,000 members", buf, at, 1);

	/* 15,000 objects of 12 escaped names. */
	at = 0;
	buf[at++] = '[';
	for (i = 0; i < 15000; i++)
		at += (size_t)sprintf(buf + at, "%s{\"\\u0061\":1,\"\\u0062\":"
		    "2,\"c\\/\":3,\"d\\n\":4,\"\\u00e9\":5,\"f\":6,\"g\":7,"
		    "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"\\ud83c\\udf93\":12}",
		    i ? "," : "");
	buf[at++] = ']';
	row("15,000 {} of 12 escaped names", buf, at, 1);

	/* The 2 MiB [{},{},...]: refused past 200,000 values. */
	at = 0;
	buf[at++] = '[';
	while (at < (2 << 20) - 4) {
		memcpy(buf + at, "{},", 3);
		at += 3;
	}
	memcpy(buf + at - 1, "{}]", 3);
	at += 2;
	row("2 MiB [{},{},...]", buf, at, 0);
	free(buf);
	if (bad)
		printf("jsoncheck: wrong answers\n");
	return bad;
}

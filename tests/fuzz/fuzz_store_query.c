/*
 * fuzz_store_query.c - libFuzzer target for the journal's URL filters
 * (store_filter_parse_query(), what the admin API parses from every
 * request) and its time parser.  For every input:
 *
 *   - the query parser never crashes and never reads past the string;
 *     a refusal names a parameter or the query ("parameter" or "query"
 *     in a non-empty reason); an acceptance points every string of the
 *     filter into the buffer, holding no NUL before its end, with limit
 *     in 0..STORE_LIMIT_MAX and a direction "in" or "out";
 *   - store_time_parse() never crashes; a time it accepts formats to a
 *     text it accepts again as the same instant (milliseconds).
 *
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make fuzz && tests/fuzz/fuzz_store_query -max_total_time=60 corpus
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_query.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_store_query: %s:%d: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

static void
inside(const char *p, const char *buf, size_t len)
{
	if (p == NULL)
		return;
	CHECK(p >= buf && p + strlen(p) <= buf + len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_filter	 f;
	char			*buf, err[256], t[STORE_TIME_SIZE];
	int64_t			 ms, again;

	buf = malloc(size + 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = '\0';
	err[0] = '\0';
	if (store_filter_parse_query(&f, buf, err, sizeof(err)) == -1) {
		CHECK(err[0] != '\0');
		CHECK(strstr(err, "parameter") != NULL ||
		    strstr(err, "query") != NULL);
	} else {
		inside(f.transaction_id, buf, size);
		inside(f.message_id, buf, size);
		inside(f.order_id, buf, size);
		inside(f.action, buf, size);
		inside(f.status, buf, size);
		inside(f.participant, buf, size);
		inside(f.domain, buf, size);
		inside(f.peer, buf, size);
		inside(f.format, buf, size);
		CHECK(f.limit >= 0 && f.limit <= STORE_LIMIT_MAX);
		CHECK(f.direction == NULL || strcmp(f.direction, "in") == 0 ||
		    strcmp(f.direction, "out") == 0);
	}
	/* The same bytes as a time. */
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (strlen(buf) == size && store_time_parse(buf, &ms) == 0 &&
	    ms >= 0 && ms < 253402300800000LL) {	/* to year 9999 */
		store_time_format(ms, t);
		CHECK(store_time_parse(t, &again) == 0 && again == ms);
	}
	free(buf);
	return 0;
}

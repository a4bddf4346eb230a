/*
 * check_util.c - base64, durations, clock, host:port.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/b64.h"
#include "util/budget.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/url.h"
#include "util/hostport.h"

START_TEST(b64_rfc4648_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v",
	    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char		 enc[32];
	unsigned char	 dec[32];
	size_t		 i;
	long		 n;

	for (i = 0; i < 7; i++) {
		b64_encode((const unsigned char *)in[i], strlen(in[i]), enc);
		ck_assert_str_eq(enc, out[i]);
		n = b64_decode(out[i], strlen(out[i]), dec, sizeof(dec));
		ck_assert_int_eq(n, (long)strlen(in[i]));
		ck_assert(memcmp(dec, in[i], (size_t)n) == 0);
	}
}
END_TEST

START_TEST(b64_unpadded_accepted)
{
	unsigned char	 dec[8];

	ck_assert_int_eq(b64_decode("Zg", 2, dec, sizeof(dec)), 1);
	ck_assert_int_eq(dec[0], 'f');
	ck_assert_int_eq(b64_decode("Zm9vYmE", 7, dec, sizeof(dec)), 5);
	ck_assert(memcmp(dec, "fooba", 5) == 0);
}
END_TEST

START_TEST(b64_malformed_rejected)
{
	unsigned char	 dec[8];

	ck_assert_int_eq(b64_decode("Z", 1, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zg===", 5, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zg=", 3, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zm 9v", 5, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zm9v\n", 5, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zh==", 4, dec, sizeof(dec)), -1);
	ck_assert_int_eq(b64_decode("Zm-_", 4, dec, sizeof(dec)), -1);
	/* Output buffer too small. */
	ck_assert_int_eq(b64_decode("Zm9vYmFy", 8, dec, 5), -1);
}
END_TEST

START_TEST(duration_forms)
{
	static const struct {
		const char	*in;
		int64_t		 ms;
	} ok[] = {
		{ "PT30S", 30000 }, { "PT10S", 10000 }, { "PT1H30M", 5400000 },
		{ "P1D", 86400000 }, { "P1DT1S", 86401000 },
		{ "PT0.5S", 500 }, { "10s", 10000 }, { "250ms", 250 },
		{ "5m", 300000 }, { "1h", 3600000 }, { "2d", 172800000 },
		{ "7", 7000 }, { "0s", 0 },
	};
	static const char *const bad[] = { "", "P", "PT", "PT5", "5x",
	    "-5s", "PT1S1M", "P1H", "s", "PT1M1M", "1e400s", "10 s",
	    "P1DT", "PT99999999999H" };
	size_t	 i;
	int64_t	 ms;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(duration_parse(ok[i].in, &ms) == 0, "%s",
		    ok[i].in);
		ck_assert_msg(ms == ok[i].ms, "%s -> %lld", ok[i].in,
		    (long long)ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(duration_parse(bad[i], &ms) == -1,
		    "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(clock_manual)
{
	int64_t		 t = 1700000000123LL;
	struct clock	 c = { clock_manual_now_ms, &t };

	ck_assert_int_eq(clock_now_ms(&c), 1700000000123LL);
	ck_assert_int_eq(clock_now_s(&c), 1700000000LL);
	t += 5000;
	ck_assert_int_eq(clock_now_s(&c), 1700000005LL);
	/* The real clock is after 2020. */
	ck_assert(clock_now_s(NULL) > 1577836800LL);
}
END_TEST

START_TEST(url_same_endpoint)
{
	/* Scheme and host ignore case; trailing slashes do not count. */
	ck_assert(url_same("http://H.example:80/bpp",
	    "HTTP://h.example:80/bpp/"));
	ck_assert(url_same("https://h/", "https://h"));
	ck_assert(url_same("https://h/a?x=1", "https://H/a?x=1"));
	/* Paths and queries are case-sensitive, byte for byte. */
	ck_assert(!url_same("http://h/BPP", "http://h/bpp"));
	ck_assert(!url_same("http://h/a?x=1", "http://h/a?X=1"));
	ck_assert(!url_same("http://h/bpp", "http://h/bpp2"));
	ck_assert(!url_same("http://h:81/bpp", "http://h/bpp"));
	ck_assert(!url_same("http://h/bpp", "https://h/bpp"));
	/* A host that only differs beyond the other's end. */
	ck_assert(!url_same("http://h", "http://hh"));
	ck_assert(!url_same(NULL, "http://h"));
	ck_assert(!url_same("http://h", NULL));
	/* Not URLs: compared whole, case-insensitively as one origin. */
	ck_assert(url_same("abc", "ABC/"));
}
END_TEST

START_TEST(hostport_forms)
{
	static const struct {
		const char	*in, *host;
		int		 port;
	} ok[] = {
		{ "127.0.0.1:5001", "127.0.0.1", 5001 },
		{ "0.0.0.0:0", "0.0.0.0", 0 },
		{ "localhost:65535", "localhost", 65535 },
		{ "*:80", "*", 80 },
		{ "[::1]:5000", "::1", 5000 },
		{ "[fe80::1%eth0]:8080", "fe80::1%eth0", 8080 },
	};
	static const char *const bad[] = { "", "nohostport", ":5000",
	    "host:", "host:65536", "host:-1", "host:5x", "host: 5", "host:+5",
	    "::1:5000", "[::1]5000", "[::1]", "[]:5000", "a:b:c",
	    "host:99999999999999999999" };
	size_t	 i;
	char	*host;
	int	 port;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		port = -1;
		ck_assert_msg(hostport_split(ok[i].in, &host, &port) == 0,
		    "refused \"%s\"", ok[i].in);
		ck_assert_str_eq(host, ok[i].host);
		ck_assert_int_eq(port, ok[i].port);
		free(host);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		host = (char *)"untouched";
		ck_assert_msg(hostport_split(bad[i], &host, &port) == -1,
		    "accepted \"%s\"", bad[i]);
		/* Nothing to free on failure. */
		ck_assert_ptr_null(host);
	}
}
END_TEST

START_TEST(budget_take_give)
{
	struct budget	 b;

	budget_init(&b, 100);
	ck_assert_int_eq(budget_take(&b, 60), 0);
	ck_assert_int_eq(budget_take(&b, 41), -1);	/* would pass max */
	ck_assert_int_eq(budget_take(&b, 40), 0);	/* exactly max */
	ck_assert_uint_eq(b.used, 100);
	ck_assert_int_eq(budget_take(&b, 1), -1);
	budget_give(&b, 60);
	ck_assert_uint_eq(b.used, 40);
	ck_assert_uint_eq(b.peak, 100);
	ck_assert_uint_eq(b.refused, 2);
	/* A lower max refuses new takes; what is held stays. */
	budget_set_max(&b, 10);
	ck_assert_int_eq(budget_take(&b, 1), -1);
	budget_give(&b, 40);
	ck_assert_int_eq(budget_take(&b, 10), 0);
	/* Overflow-safe, and a NULL budget never refuses. */
	ck_assert_int_eq(budget_take(&b, (size_t)-1), -1);
	ck_assert_int_eq(budget_take(NULL, (size_t)-1), 0);
	budget_give(NULL, 5);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("util");

	tcase_add_test(tc, b64_rfc4648_vectors);
	tcase_add_test(tc, b64_unpadded_accepted);
	tcase_add_test(tc, b64_malformed_rejected);
	tcase_add_test(tc, duration_forms);
	tcase_add_test(tc, clock_manual);
	tcase_add_test(tc, url_same_endpoint);
	tcase_add_test(tc, hostport_forms);
	tcase_add_test(tc, budget_take_give);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

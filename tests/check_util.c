/*
 * check_util.c - base64, durations, clock, host:port, URLs, byte budget,
 * SipHash.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "testutil.h"
#include "util/b64.h"
#include "util/budget.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/url.h"
#include "util/hostport.h"
#include "util/siphash.h"
#include "util/rfc3339.h"

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

/* A forced charge passes max; takes are refused until it is back. */
START_TEST(budget_force_over)
{
	struct budget	 b;

	budget_init(&b, 100);
	ck_assert_int_eq(budget_take(&b, 60), 0);
	budget_force(&b, 70);
	ck_assert_uint_eq(b.used, 130);
	ck_assert_uint_eq(b.peak, 130);
	ck_assert_uint_eq(b.refused, 0);
	ck_assert_int_eq(budget_take(&b, 1), -1);
	ck_assert_int_eq(budget_take(&b, 0), -1);	/* over max */
	budget_give(&b, 60);
	ck_assert_uint_eq(b.used, 70);
	ck_assert_int_eq(budget_take(&b, 30), 0);	/* exactly max */
	ck_assert_int_eq(budget_take(&b, 1), -1);
	budget_give(&b, 100);
	ck_assert_uint_eq(b.used, 0);
	ck_assert_uint_eq(b.peak, 130);
	ck_assert_uint_eq(b.refused, 3);
	budget_force(&b, 0);
	ck_assert_uint_eq(b.used, 0);
	budget_force(NULL, 5);
}
END_TEST

/*
 * SipHash-2-4: the reference vectors (github.com/veorq/SipHash, vectors.h)
 * for key 00 01 .. 0f and the messages 00 01 .. len-1, len 0 to 63; each
 * the output bytes in hex.
 */
static const char *const sip24_64[64] = {
	"310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d",
	"2d7efbd796666785", "b7877127e09427cf", "8da699cd64557618",
	"cee3fe586e46c9cb", "37d1018bf50002ab", "6224939a79f5f593",
	"b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
	"fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7",
	"e545be4961ca29a1", "db9bc2577fcc2a3f", "9447be2cf5e99a69",
	"9cd38d96f0b3c14b", "bd6179a71dc96dbb", "98eea21af25cd6be",
	"c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
	"94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817",
	"adcf6b0763612e2f", "a5c91da7acaa4dde", "716595876650a2a6",
	"28ef495c53a387ad", "42c341d8fa92d832", "ce7cf2722f512771",
	"e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
	"b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca",
	"5c73336a76d8bf9a", "d0a704536ba93e0e", "925958fcd6420cad",
	"a915c29bc8067318", "952b79f3bc0aa6d4", "f21df2e41d4535f9",
	"87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
	"51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee",
	"5a1645b276d592a1", "b274cb8ebf87870a", "6f9bb4203de7b381",
	"eaecb2a30b22a87f", "9924a43cc1315724", "bd838d3aafbf8db7",
	"0b1a2a3265d51aea", "135079a3231ce660", "932b2846e4d70666",
	"e1915f5cb1eca46c", "f325965ca16d629f", "575ff28e60381be5",
	"724506eb4c328a95",
};

static const char *const sip24_128[64] = {
	"a3817f04ba25a8e66df67214c7550293", "da87c1d86b99af44347659119b22fc45",
	"8177228da4a45dc7fca38bdef60affe4", "9c70b60c5267a94e5f33b6b02985ed51",
	"f88164c12d9c8faf7d0f6e7c7bcd5579", "1368875980776f8854527a07690e9627",
	"14eeca338b208613485ea0308fd7a15e", "a1f1ebbed8dbc153c0b84aa61ff08239",
	"3b62a9ba6258f5610f83e264f31497b4", "264499060ad9baabc47f8b02bb6d71ed",
	"00110dc378146956c95447d3f3d0fbba", "0151c568386b6677a2b4dc6f81e5dc18",
	"d626b266905ef35882634df68532c125", "9869e247e9c08b10d029934fc4b952f7",
	"31fcefac66d7de9c7ec7485fe4494902", "5493e99933b0a8117e08ec0f97cfc3d9",
	"6ee2a4ca67b054bbfd3315bf85230577", "473d06e8738db89854c066c47ae47740",
	"a426e5e423bf4885294da481feaef723", "78017731cf65fab074d5208952512eb1",
	"9e25fc833f2290733e9344a5e83839eb", "568e495abe525a218a2214cd3e071d12",
	"4a29b54552d16b9a469c10528eff0aae", "c9d184ddd5a9f5e0cf8ce29a9abf691c",
	"2db479ae78bd50d8882a8a178a6132ad", "8ece5f042d5e447b5051b9eacb8d8f6f",
	"9c0b53b4b3c307e87eaee08678141f66", "abf248af69a6eae4bfd3eb2f129eeb94",
	"0664da1668574b88b935f3027358aef4", "aa4b9dc4bf337de90cd4fd3c467c6ab7",
	"ea5c7f471faf6bde2b1ad7d4686d2287", "2939b0183223fafc1723de4f52c43d35",
	"7c3956ca5eeafc3e363e9d556546eb68", "77c6077146f01c32b6b69d5f4ea9ffcf",
	"37a6986cb8847edf0925f0f1309b54de", "a705f0e69da9a8f907241a2e923c8cc8",
	"3dc47d1f29c448461e9e76ed904f6711", "0d62bf01e6fc0e1a0d3c4751c5d3692b",
	"8c03468bca7c669ee4fd5e084bbee7b5", "528a5bb93baf2c9c4473cce5d0d22bd9",
	"df6a301e95c95dad97ae0cc8c6913bd8", "801189902c857f39e73591285e70b6db",
	"e617346ac9c231bb3650ae34ccca0c5b", "27d93437efb721aa401821dcec5adf89",
	"89237d9ded9c5e78d8b1c9b166cc7342", "4a6d8091bf5e7d651189fa94a250b14c",
	"0e33f96055e7ae893ffc0e3dcf492902", "e61c432b720b19d18ec8d84bdc63151b",
	"f7e5aef549f782cf379055a608269b16", "438d030fd0b7a54fa837f2ad201a6403",
	"a590d3ee4fbf04e3247e0d27f286423f", "5fe2c1a172fe93c4b15cd37caef9f538",
	"2c97325cbd06b36eb2133dd08b3a017c", "92c814227a6bca949ff0659f002ad39e",
	"dce850110bd8328cfbd50841d6911d87", "67f14984c7da791248e32bb5922583da",
	"1938f2cf72d54ee97e94166fa91d2a36", "74481e9646ed49fe0f6224301604698e",
	"57fca5de98a9d6d8006438d0583d8a1d", "9fecde1cefdc1cbed4763674d9575359",
	"e3040c00eb28f15366ca73cbd872e740", "7697009a6a831dfecca91c5993670f7a",
	"5853542321f567a005d547a4f04759bd", "5150d1772f50834a503e069a973fbd7c",
};

/* The key 00 01 .. 0f: its two halves read little-endian. */
static const struct siphash_key ref_key = { {
	0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL,
} };

/* Words w[0..n-1] as their little-endian bytes, in hex. */
static void
hex_le(const uint64_t *w, size_t n, char *out)
{
	size_t	 i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < 8; j++)
			out += sprintf(out, "%02x",
			    (unsigned)(w[i] >> (8 * j)) & 0xff);
}

START_TEST(siphash_reference_vectors)
{
	unsigned char	 in[64];
	uint64_t	 h[2];
	char		 hex[33];
	size_t		 len;

	for (len = 0; len < sizeof(in); len++)
		in[len] = (unsigned char)len;
	/* The paper's worked example (appendix A): 15 bytes. */
	ck_assert_uint_eq(siphash24(&ref_key, in, 15), 0xa129ca6149be45e5ULL);
	for (len = 0; len < 64; len++) {
		h[0] = siphash24(&ref_key, in, len);
		hex_le(h, 1, hex);
		ck_assert_msg(strcmp(hex, sip24_64[len]) == 0,
		    "64-bit, length %zu: %s", len, hex);
		siphash24_128(&ref_key, in, len, h);
		hex_le(h, 2, hex);
		ck_assert_msg(strcmp(hex, sip24_128[len]) == 0,
		    "128-bit, length %zu: %s", len, hex);
	}
	/* The empty message may be NULL. */
	h[0] = siphash24(&ref_key, NULL, 0);
	hex_le(h, 1, hex);
	ck_assert_str_eq(hex, sip24_64[0]);
}
END_TEST

/* OpenSSL's SipHash-2-4 of in under key, size 8 or 16, in hex. */
static void
openssl_siphash(const struct siphash_key *key, const unsigned char *in,
    size_t len, size_t size, char *hex)
{
	EVP_MAC		*mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	unsigned char	 kb[16], out[16];
	size_t		 outlen = 0, i;

	for (i = 0; i < 16; i++)
		kb[i] = (unsigned char)(key->k[i / 8] >> (8 * (i % 8)));
	ck_assert_ptr_nonnull(mac);
	ctx = EVP_MAC_CTX_new(mac);
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	ck_assert_int_eq(EVP_MAC_init(ctx, kb, 16, params), 1);
	ck_assert_int_eq(EVP_MAC_update(ctx, in, len), 1);
	ck_assert_int_eq(EVP_MAC_final(ctx, out, &outlen, sizeof(out)), 1);
	ck_assert_uint_eq(outlen, size);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	for (i = 0; i < size; i++)
		sprintf(hex + 2 * i, "%02x", out[i]);
}

/*
 * Random keys, every length to 256 and every alignment, against OpenSSL;
 * siphash_key_random gives a different key each time.
 */
START_TEST(siphash_matches_openssl)
{
	struct siphash_key	 key, key2;
	unsigned char		 buf[256 + 8];
	uint64_t		 h[2];
	char			 want[33], got[33];
	size_t			 len, off, i;

	ck_assert_int_eq(siphash_key_random(&key), 0);
	ck_assert_int_eq(siphash_key_random(&key2), 0);
	ck_assert(key.k[0] != key2.k[0] || key.k[1] != key2.k[1]);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (len = 0; len <= 256; len++) {
		off = len % 8;
		openssl_siphash(&key, buf + off, len, 8, want);
		h[0] = siphash24(&key, buf + off, len);
		hex_le(h, 1, got);
		ck_assert_msg(strcmp(got, want) == 0, "64-bit, length %zu",
		    len);
		openssl_siphash(&key2, buf + off, len, 16, want);
		siphash24_128(&key2, buf + off, len, h);
		hex_le(h, 2, got);
		ck_assert_msg(strcmp(got, want) == 0, "128-bit, length %zu",
		    len);
	}
}
END_TEST

/* One parser, two strictnesses: registries' records and the journal's
 * filters. */
START_TEST(rfc3339_modes)
{
	static const struct {
		const char	*s;
		int64_t		 ms;	/* -1: refused */
		int64_t		 strict;
	} v[] = {
		{ "2026-11-30T01:02:03Z", 1796000523000LL, 1796000523000LL },
		{ "2026-11-30T01:02:03.4567Z", 1796000523456LL,
		    1796000523456LL },
		{ "2026-11-30t06:32:03+05:30", 1796000523000LL,
		    1796000523000LL },
		{ "2026-11-30T01:02:03-0100", 1796004123000LL, -1 },
		{ "2026-11-30 01:02:03", 1796000523000LL, -1 },
		{ " 2026-11-30T01:02:03,5Z ", 1796000523500LL, -1 },
		{ "2024-02-29T00:00:00Z", 1709164800000LL, 1709164800000LL },
		{ "2023-02-29T00:00:00Z", -1, -1 },
		{ "1969-12-31T23:59:59Z", -1000, -1 },
		{ "2026-13-01T00:00:00Z", -1, -1 },
		{ "2026-11-30T24:00:00Z", -1, -1 },
		{ "2026-11-30", -1, -1 },
		{ "2026-11-30T01:02:03Zjunk", -1, -1 },
	};
	size_t	 i;
	int64_t	 ms;
	int	 rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ms = -7;
		rc = rfc3339_parse(v[i].s, 0, &ms);
		ck_assert_msg(v[i].ms == -1 ? rc == -1 && ms == -7 :
		    rc == 0 && ms == v[i].ms, "lenient \"%s\": rc %d, %lld",
		    v[i].s, rc, (long long)ms);
		ms = -7;
		rc = rfc3339_parse(v[i].s, RFC3339_STRICT, &ms);
		ck_assert_msg(v[i].strict == -1 ? rc == -1 && ms == -7 :
		    rc == 0 && ms == v[i].strict, "strict \"%s\": rc %d, %lld",
		    v[i].s, rc, (long long)ms);
	}
	ck_assert_int_eq(rfc3339_parse(NULL, 0, &ms), -1);
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
	tcase_add_test(tc, budget_force_over);
	tcase_add_test(tc, siphash_reference_vectors);
	tcase_add_test(tc, siphash_matches_openssl);
	tcase_add_test(tc, rfc3339_modes);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}

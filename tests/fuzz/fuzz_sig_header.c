/*
 * fuzz_sig_header.c - libFuzzer target for the Signature header parser.
 *
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make tests/fuzz/fuzz_sig_header
 *   ./tests/fuzz/fuzz_sig_header -max_total_time=60 CORPUS \
 *       $(srcdir)/tests/data/sig/fuzz-seeds
 *
 * The input is the header value, not NUL-terminated, so ASan sees any read
 * past its end.  Besides memory safety the target checks what a caller of
 * sig_header_parse() relies on, and aborts when it does not hold:
 *   - the reason text from sig_describe() is a short non-empty string, and
 *     DUPLICATE/MISSING name the attribute;
 *   - on SIG_OK: the ids are non-empty NUL-terminated strings without '|',
 *     created/expires are in [0, 10^15);
 *   - on SIG_OK: re-serialising the fields the canonical way (as
 *     sig_sign_header() writes them) parses back to the same fields;
 *   - sig_check_time() agrees with the policy computed independently,
 *     around the window edges.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig/sig.h"
#include "util/b64.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_sig_header: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

static enum sig_err
policy(const struct sig_header *h, int64_t now, int64_t skew)
{
	__int128	 n = now, s = skew;

	if (h->expires <= h->created)
		return SIG_E_WINDOW;
	if ((__int128)h->created > n + s)
		return SIG_E_NOT_YET_VALID;
	if ((__int128)h->expires < n - s)
		return SIG_E_EXPIRED;
	return SIG_OK;
}

static void
check_time(const struct sig_header *h)
{
	static const int64_t	 skews[] = { 0, 1, SIG_DEFAULT_SKEW_S, 300 };
	int64_t			 nows[10];
	size_t			 i, j;

	for (j = 0; j < sizeof(skews) / sizeof(skews[0]); j++) {
		nows[0] = 0;
		nows[1] = h->created - skews[j] - 1;
		nows[2] = h->created - skews[j];
		nows[3] = h->created;
		nows[4] = h->expires;
		nows[5] = h->expires + skews[j];
		nows[6] = h->expires + skews[j] + 1;
		nows[7] = h->created / 2 + h->expires / 2;
		nows[8] = 999999999999999LL;
		nows[9] = 1700000000;
		for (i = 0; i < 10; i++)
			CHECK(sig_check_time(h, nows[i], skews[j]) ==
			    policy(h, nows[i], skews[j]));
	}
}

static void
check_ok(const struct sig_header *h)
{
	struct sig_header	 h2;
	char			 sig[B64_ENCODED_SIZE(SIG_SIGNATURE_LEN)];
	char			 buf[SIG_HEADER_MAX + 1];
	int			 n;

	CHECK(memchr(h->subscriber_id, '\0', SIG_ID_MAX) != NULL);
	CHECK(memchr(h->key_id, '\0', SIG_ID_MAX) != NULL);
	CHECK(h->subscriber_id[0] != '\0');
	CHECK(h->key_id[0] != '\0');
	CHECK(strchr(h->subscriber_id, '|') == NULL);
	CHECK(strchr(h->key_id, '|') == NULL);
	CHECK(h->created >= 0 && h->created < 1000000000000000LL);
	CHECK(h->expires >= 0 && h->expires < 1000000000000000LL);
	CHECK(h->attr == NULL);

	b64_encode(h->signature, SIG_SIGNATURE_LEN, sig);
	n = snprintf(buf, sizeof(buf), "Signature keyId=\"%s|%s|ed25519\","
	    "algorithm=\"ed25519\",created=\"%lld\",expires=\"%lld\","
	    "headers=\"(created) (expires) digest\",signature=\"%s\"",
	    h->subscriber_id, h->key_id, (long long)h->created,
	    (long long)h->expires, sig);
	CHECK(n > 0 && (size_t)n < sizeof(buf));
	CHECK(sig_header_parse(buf, (size_t)n, &h2) == SIG_OK);
	CHECK(strcmp(h2.subscriber_id, h->subscriber_id) == 0);
	CHECK(strcmp(h2.key_id, h->key_id) == 0);
	CHECK(h2.created == h->created && h2.expires == h->expires);
	CHECK(memcmp(h2.signature, h->signature, SIG_SIGNATURE_LEN) == 0);

	check_time(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sig_header	 h;
	enum sig_err		 e;
	char			 why[256];
	size_t			 n;

	e = sig_header_parse((const char *)data, size, &h);
	CHECK((int)e >= SIG_OK && e <= SIG_E_KEY);
	CHECK(size <= SIG_HEADER_MAX || e == SIG_E_OVERSIZE);
	sig_describe(e, &h, why, sizeof(why));
	n = strlen(why);
	CHECK(n > 0 && n < sizeof(why));
	if (e == SIG_E_DUPLICATE || e == SIG_E_MISSING) {
		CHECK(h.attr != NULL);
		CHECK(strstr(why, h.attr) != NULL);
	}
	if (e == SIG_OK)
		check_ok(&h);
	return 0;
}

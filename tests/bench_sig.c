/*
 * bench_sig.c - cost of signing and verifying a 5 KB Beckn body (`make
 * bench`).  One line per figure, microseconds per operation:
 *
 *   sign    full: BLAKE2b-512 digest + signing string + ed25519 + header
 *   verify  full: header parse + time check + digest + ed25519 verify
 *   parse   header parse alone
 *   digest  BLAKE2b-512 + base64 alone
 *
 * Each figure runs for about BENCH_SLICE_S seconds (~2 s in all).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sig/sig.h"
#include "util/xmalloc.h"

#define BODY_LEN	5120
#define BENCH_SLICE_S	0.45

static unsigned char	 body[BODY_LEN];
static struct sig_key	*priv, *pub;
static char		*header;
static volatile int	 sink;	/* keeps results alive */

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
op_sign(void)
{
	char	*h;

	h = sig_sign_header(priv, "bench.example.com", "k1", 1700000000,
	    1700000300, body, sizeof(body), NULL);
	if (h == NULL) {
		fprintf(stderr, "bench_sig: signing failed\n");
		exit(1);
	}
	sink += h[0];
	free(h);
}

static void
op_verify(void)
{
	struct sig_header	 h;
	char			 d[SIG_DIGEST_B64_LEN];

	if (sig_header_parse(header, strlen(header), &h) != SIG_OK ||
	    sig_check_time(&h, 1700000000, SIG_DEFAULT_SKEW_S) != SIG_OK ||
	    sig_digest(body, sizeof(body), d) != 0 ||
	    sig_verify_digest(&h, pub, d) != SIG_OK) {
		fprintf(stderr, "bench_sig: verification failed\n");
		exit(1);
	}
	sink += d[0];
}

static void
op_parse(void)
{
	struct sig_header	 h;

	if (sig_header_parse(header, strlen(header), &h) != SIG_OK) {
		fprintf(stderr, "bench_sig: header does not parse\n");
		exit(1);
	}
	sink += h.signature[0];
}

static void
op_digest(void)
{
	char	 d[SIG_DIGEST_B64_LEN];

	if (sig_digest(body, sizeof(body), d) != 0) {
		fprintf(stderr, "bench_sig: digest failed\n");
		exit(1);
	}
	sink += d[0];
}

/* Run op in doubling batches until a slice has passed; print us/op. */
static void
bench(const char *label, void (*op)(void))
{
	double		 t0, el;
	uint64_t	 n = 0, batch = 1, i;

	op();	/* warm up: OpenSSL fetches, caches */
	t0 = now_s();
	do {
		for (i = 0; i < batch; i++)
			op();
		n += batch;
		if (batch < 1024)
			batch *= 2;
		el = now_s() - t0;
	} while (el < BENCH_SLICE_S);
	printf("%-58s %9.3f us/op  (%llu ops)\n", label, el * 1e6 / (double)n,
	    (unsigned long long)n);
	fflush(stdout);
}

int
main(void)
{
	static const char tmpl[] = "{\"context\":{\"domain\":\"onest\","
	    "\"action\":\"search\"},\"message\":{\"intent\":{}}}";
	char		 pb[45];
	size_t		 i;

	/* A JSON-looking ASCII body, exactly BODY_LEN bytes. */
	for (i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)tmpl[i % (sizeof(tmpl) - 1)];
	if ((priv = sig_key_generate()) == NULL) {
		fprintf(stderr, "bench_sig: key generation failed\n");
		return 1;
	}
	sig_key_public_b64(priv, pb);
	if ((pub = sig_key_public_parse(pb, strlen(pb), NULL, 0)) == NULL)
		return 1;
	header = sig_sign_header(priv, "bench.example.com", "k1", 1700000000,
	    1700000300, body, sizeof(body), NULL);
	if (header == NULL)
		return 1;

	printf("bench_sig: %d-byte body, ed25519 + BLAKE2b-512 (OpenSSL)\n",
	    BODY_LEN);
	bench("sign   (digest + signing string + ed25519 + header)", op_sign);
	bench("verify (parse + time + digest + ed25519 verify)", op_verify);
	bench("parse  (Signature header only)", op_parse);
	bench("digest (BLAKE2b-512 + base64 only)", op_digest);

	free(header);
	sig_key_free(priv);
	sig_key_free(pub);
	return 0;
}

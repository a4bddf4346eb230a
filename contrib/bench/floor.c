/*
 * floor.c - the crypto floor of `make bench-load`: the least CPU work a
 * BPP must do for one signed message, measured on one core.
 *
 *   floor SIGNED_FILE PUBLIC_KEY [SECONDS] [MESSAGES]
 *
 * SIGNED_FILE holds "AUTHORIZATION<TAB>BODY" lines (as contrib/bench/signer
 * writes them: the very requests the load run replays); PUBLIC_KEY is the
 * signer's base64 public key.  Up to MESSAGES (default 2000) distinct
 * messages are cycled through for about SECONDS (default 2) of CPU time
 * in all; each figure is the best of five slices.
 * Per message, the floor is:
 *
 *   digest    BLAKE2b-512 of the raw body + base64 (EVP_MD fetched once)
 *   verify    the signing string and one OpenSSL ed25519 verify, with the
 *             key and the EVP_MD_CTX kept from message to message
 *   parse     one json-c parse (strict, tokener kept) and its free
 *   validate  the built-in schemas (core 1.1.0 + ONEST), default formats
 *
 * Times are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID), so other
 * work on the machine changes them little.  The last line is
 * "floor_us=X" for the load script.  Also printed, not in the floor: the
 * strict JSON check becknd runs before parsing, and a verify that makes
 * a new EVP_MD_CTX and init per message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "schema/schema.h"
#include "sig/sig.h"
#include "util/jsoncheck.h"

struct msg {
	char			*body;
	size_t			 len;
	struct sig_header	 h;
};

static struct msg	*msgs;
static size_t		 nmsgs;
static EVP_PKEY		*pkey;
static EVP_MD		*blake;
static EVP_MD_CTX	*vctx;
static int		 reinit;	/* ctx reuse refused: init each time */
static struct json_tokener *tok;
static struct schema_set *schemas;
static struct schema_errors errs;
static volatile size_t	 sink;

static double
cpu_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what, size_t i)
{
	fprintf(stderr, "floor: %s failed on message %zu\n", what, i + 1);
	exit(1);
}

static void
op_digest(const struct msg *m, char d[SIG_DIGEST_B64_LEN])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;

	if (EVP_Digest(m->body, m->len, md, &mdlen, blake, NULL) != 1 ||
	    mdlen != 64)
		die("BLAKE2b-512", (size_t)(m - msgs));
	EVP_EncodeBlock((unsigned char *)d, md, 64);
}

static void
op_verify(const struct msg *m, const char *d)
{
	char	 ss[256];
	int	 n;

	n = snprintf(ss, sizeof(ss), "(created): %lld\n(expires): %lld\n"
	    "digest: BLAKE-512=%s", (long long)m->h.created,
	    (long long)m->h.expires, d);
	if (reinit && EVP_DigestVerifyInit(vctx, NULL, NULL, NULL, pkey) != 1)
		die("EVP_DigestVerifyInit", (size_t)(m - msgs));
	if (EVP_DigestVerify(vctx, m->h.signature, SIG_SIGNATURE_LEN,
	    (const unsigned char *)ss, (size_t)n) != 1)
		die("ed25519 verify", (size_t)(m - msgs));
}

/* What becknd does today: a new context and an init per message. */
static void
op_verify_fresh(const struct msg *m, const char *d)
{
	EVP_MD_CTX	*c;
	char		 ss[256];
	int		 n;

	n = snprintf(ss, sizeof(ss), "(created): %lld\n(expires): %lld\n"
	    "digest: BLAKE-512=%s", (long long)m->h.created,
	    (long long)m->h.expires, d);
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(c, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestVerify(c, m->h.signature, SIG_SIGNATURE_LEN,
	    (const unsigned char *)ss, (size_t)n) != 1)
		die("ed25519 verify (fresh context)", (size_t)(m - msgs));
	EVP_MD_CTX_free(c);
}

static json_object *
op_parse(const struct msg *m)
{
	json_object	*o;

	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, m->body, (int)m->len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success)
		die("json-c parse", (size_t)(m - msgs));
	return o;
}

static void
op_validate(const struct msg *m, json_object *o)
{
	if (schema_validate_action(schemas, NULL, o, NULL, &errs) != 0) {
		fprintf(stderr, "floor: message %zu is not valid: %s: %s\n",
		    (size_t)(m - msgs) + 1, errs.n ? errs.e[0].path : "",
		    errs.n ? errs.e[0].message : "");
		exit(1);
	}
}

/* The parts, in the loop a message goes through. */
enum { P_ALL, P_DIGEST, P_VERIFY, P_PARSE, P_VALIDATE, P_CHECK, P_FRESH };

static void
one(int part, const struct msg *m, json_object *pre)
{
	char		 d[SIG_DIGEST_B64_LEN];
	json_object	*o;

	switch (part) {
	case P_ALL:
		op_digest(m, d);
		op_verify(m, d);
		o = op_parse(m);
		op_validate(m, o);
		json_object_put(o);
		break;
	case P_DIGEST:
		op_digest(m, d);
		sink += (size_t)d[0];
		break;
	case P_VERIFY:
		op_digest(m, d);	/* subtracted below */
		op_verify(m, d);
		break;
	case P_FRESH:
		op_digest(m, d);	/* subtracted below */
		op_verify_fresh(m, d);
		break;
	case P_PARSE:
		json_object_put(op_parse(m));
		break;
	case P_VALIDATE:
		op_validate(m, pre);
		break;
	case P_CHECK:
		if (jsoncheck(m->body, m->len, NULL, NULL) != 0)
			die("strict JSON check", (size_t)(m - msgs));
		break;
	}
}

/*
 * CPU microseconds per message of part: the best of SLICES slices of
 * about secs / SLICES each, cycling through the messages (the best: the
 * slice least disturbed by the rest of the machine).
 */
#define SLICES	5
static double
measure(int part, double secs)
{
	json_object	**pre = NULL;
	double		  t0, el, best = 0;
	size_t		  i, n;
	int		  s;

	if (part == P_VALIDATE) {
		pre = calloc(nmsgs, sizeof(*pre));
		for (i = 0; i < nmsgs; i++)
			pre[i] = op_parse(&msgs[i]);
	}
	for (i = 0; i < nmsgs && i < 50; i++)	/* warm up */
		one(part, &msgs[i], pre ? pre[i] : NULL);
	for (s = 0; s < SLICES; s++) {
		n = 0;
		t0 = cpu_us();
		do {
			for (i = 0; i < nmsgs && i < 500; i++)
				one(part, &msgs[(n + i) % nmsgs],
				    pre ? pre[(n + i) % nmsgs] : NULL);
			n += i;
			el = cpu_us() - t0;
		} while (el < secs * 1e6 / SLICES);
		if (s == 0 || el / (double)n < best)
			best = el / (double)n;
	}
	if (pre != NULL) {
		for (i = 0; i < nmsgs; i++)
			json_object_put(pre[i]);
		free(pre);
	}
	return best;
}

static void
load(const char *path, size_t max)
{
	FILE		*f;
	char		*line = NULL, *tab;
	size_t		 cap = 0;
	ssize_t		 len;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	msgs = calloc(max, sizeof(*msgs));
	while (nmsgs < max && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		if (sig_header_parse(line, (size_t)(tab - line),
		    &msgs[nmsgs].h) != SIG_OK) {
			fprintf(stderr, "floor: %s:%zu: Authorization does "
			    "not parse\n", path, nmsgs + 1);
			exit(2);
		}
		msgs[nmsgs].len = (size_t)(len - (tab + 1 - line));
		msgs[nmsgs].body = strndup(tab + 1, msgs[nmsgs].len);
		nmsgs++;
	}
	free(line);
	fclose(f);
	if (nmsgs == 0) {
		fprintf(stderr, "floor: no signed messages in %s\n", path);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct sig_key	*pub;
	char		 err[512], d[SIG_DIGEST_B64_LEN];
	double		 secs = 2.0, all, dg, vf, fr, ps, va, ck;
	size_t		 max = 2000;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: floor SIGNED_FILE PUBLIC_KEY [SECONDS] "
		    "[MESSAGES]\n");
		return 2;
	}
	if (argc > 3)
		secs = atof(argv[3]);
	if (argc > 4)
		max = strtoul(argv[4], NULL, 10);
	if (secs <= 0 || max == 0) {
		fprintf(stderr, "floor: SECONDS and MESSAGES must be > 0\n");
		return 2;
	}
	load(argv[1], max);
	pub = sig_key_public_parse(argv[2], strlen(argv[2]), err, sizeof(err));
	if (pub == NULL) {
		fprintf(stderr, "floor: public key: %s\n", err);
		return 2;
	}
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
	    sig_key_public_raw(pub), SIG_PUBKEY_LEN);
	blake = EVP_MD_fetch(NULL, "BLAKE2B-512", NULL);
	vctx = EVP_MD_CTX_new();
	tok = json_tokener_new_ex(64);
	if (pkey == NULL || blake == NULL || vctx == NULL || tok == NULL ||
	    EVP_DigestVerifyInit(vctx, NULL, NULL, NULL, pkey) != 1) {
		fprintf(stderr, "floor: OpenSSL set-up failed\n");
		return 1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	if ((schemas = schema_set_load_builtin(err, sizeof(err))) == NULL) {
		fprintf(stderr, "floor: built-in schemas: %s\n", err);
		return 1;
	}
	/*
	 * Does this OpenSSL verify again on one initialised context (3.0
	 * does)?  A wrong message must fail and the right one then pass;
	 * otherwise init before every verify.
	 */
	op_digest(&msgs[0], d);
	if (EVP_DigestVerify(vctx, msgs[0].h.signature, SIG_SIGNATURE_LEN,
	    (const unsigned char *)"x", 1) == 1)
		reinit = 1;
	ERR_clear_error();
	if (!reinit && EVP_DigestVerify(vctx, msgs[0].h.signature,
	    SIG_SIGNATURE_LEN, (const unsigned char *)"x", 1) == 1)
		reinit = 1;
	ERR_clear_error();
	if (!reinit) {
		char	 ss[256];
		int	 n;

		n = snprintf(ss, sizeof(ss), "(created): %lld\n(expires): "
		    "%lld\ndigest: BLAKE-512=%s", (long long)msgs[0].h.created,
		    (long long)msgs[0].h.expires, d);
		if (EVP_DigestVerify(vctx, msgs[0].h.signature,
		    SIG_SIGNATURE_LEN, (const unsigned char *)ss, (size_t)n)
		    != 1)
			reinit = 1;
		ERR_clear_error();
	}
	op_verify(&msgs[0], d);

	dg = measure(P_DIGEST, secs / 4);
	vf = measure(P_VERIFY, secs / 2) - dg;
	fr = measure(P_FRESH, secs / 4) - dg;
	ps = measure(P_PARSE, secs / 4);
	va = measure(P_VALIDATE, secs / 4);
	ck = measure(P_CHECK, secs / 4);
	all = measure(P_ALL, secs);

	printf("floor: %zu distinct signed messages of %zu bytes, %s, "
	    "CPU time of one thread\n", nmsgs, msgs[0].len,
	    OpenSSL_version(OPENSSL_VERSION));
	printf("  digest    BLAKE2b-512 + base64                 %8.1f us\n",
	    dg);
	printf("  verify    ed25519, context kept%s            %8.1f us\n",
	    reinit ? " (init each)" : "            ", vf);
	printf("  parse     json-c, strict, tokener kept         %8.1f us\n",
	    ps);
	printf("  validate  built-in core 1.1.0 + ONEST          %8.1f us\n",
	    va);
	printf("  floor     the four in one pass per message     %8.1f us "
	    "(parts add up to %.1f)\n", all, dg + vf + ps + va);
	printf("  not in the floor: strict JSON check %.1f us; a new "
	    "EVP_MD_CTX + init per verify +%.1f us\n", ck, fr - vf);
	printf("floor_us=%.2f\n", all);

	schema_set_free(schemas);
	json_tokener_free(tok);
	EVP_MD_CTX_free(vctx);
	EVP_MD_free(blake);
	EVP_PKEY_free(pkey);
	sig_key_free(pub);
	return sink == 42 ? 3 : 0;
}
